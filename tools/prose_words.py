"""Count the words of prose per chapter: markdown cells, without code blocks and display math.

    python tools/prose_words.py            # the working tree
    python tools/prose_words.py --rev REV  # the chapters as committed at REV (e.g. a tag or a commit)
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(`{3,}|:{3,}).*?^\1\s*$", re.S | re.M)
MATH = re.compile(r"\$\$.*?\$\$", re.S)
WORD = re.compile(r"[A-Za-z0-9][\w'’\-.]*")


def prose_words(notebook: dict) -> int:
    count = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        # Keep the prose inside admonitions (:::{note}) but drop code and math.
        text = re.sub(r"^(`{3,})\{?(?:code|code-cell|diff|python|text|bash|console)?.*?^\1\s*$", " ", text, flags=re.S | re.M)
        text = MATH.sub(" ", text)
        text = re.sub(r"^[:`]{3,}.*$", " ", text, flags=re.M)      # admonition fences themselves
        text = re.sub(r"^:\w+:.*$", " ", text, flags=re.M)          # directive options
        text = re.sub(r"\(\w[\w-]*\)=", " ", text)                  # labels
        count += len(WORD.findall(text))
    return count


def chapters(rev):
    if rev is None:
        for path in sorted((ROOT / "book").glob("*.ipynb")):
            yield path.name, json.loads(path.read_text())
        return
    names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", rev, "book/"],
                           check=True, capture_output=True, text=True).stdout.split()
    for name in sorted(n for n in names if n.endswith(".ipynb")):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{name}"],
                              check=True, capture_output=True, text=True).stdout
        yield Path(name).name, json.loads(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", help="a git revision instead of the working tree")
    args = parser.parse_args(argv)
    total = 0
    for name, notebook in chapters(args.rev):
        words = prose_words(notebook)
        total += words
        print(f"{name:45s} {words:6d}")
    print(f"{'total':45s} {total:6d}")


if __name__ == "__main__":
    sys.exit(main())
