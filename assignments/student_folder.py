"""Export what students may see, as a folder to push to a course repository (`make student-folder`).

Usage: python assignments/student_folder.py [--out DIR] [--repo ORG/NAME] [--hub URL] [--branch main]

Writes DIR (default _build/student-folder/): the student notebooks (no solutions, no hidden tests, no outputs), the
readers' environment for Binder (binder/), and a README with one-click links for each notebook: nbgitpuller on a
JupyterHub, Colab, Binder. It refuses to write if a file there holds a hidden test or a solution marker, and it never
copies the autograders or the solutions.
"""
import argparse
import pathlib
import shutil
import sys
import urllib.parse

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build" / "assignments"
FORBIDDEN = ("# BEGIN SOLUTION", "# END SOLUTION", "hidden: true", "hidden=True", "BEGIN TEST CONFIG")


# The same interfaces, with the same URL prefixes, as the book's launch buttons (sphinx-book-theme's launch.py).
INTERFACES = {"classic": "tree", "jupyterlab": "lab/tree"}


def book_interface():
    """The URL prefix of the interface the book's own launch buttons open (`launch_buttons: notebook_interface`)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return INTERFACES[(config.get("launch_buttons") or {}).get("notebook_interface", "classic")]


def nbgitpuller_link(hub, repo_url, branch, path, prefix=None):
    """A JupyterHub link that clones (or updates) the repository for the student and opens `path` in it.

    Written as Jupyter Book 1 writes its JupyterHub launch button (the same parameters, order and encoding), so that
    the chapter pages' button and the student folder's links open the same way."""
    prefix = book_interface() if prefix is None else prefix
    folder = repo_url.rstrip("/").rsplit("/", 1)[-1]
    query = urllib.parse.urlencode({"repo": repo_url, "urlpath": f"{prefix}/{folder}/{path}", "branch": branch},
                                   safe="/")
    return f"{hub.strip('/')}/hub/user-redirect/git-pull?{query}"


def export(out, repo, hub, branch):
    notebooks = sorted((BUILD / "student").glob("ch*.ipynb"))
    if not notebooks:
        sys.exit(f"No student notebooks in {BUILD / 'student'}: run `make assignments` first.")
    for path in notebooks:
        text = path.read_text(encoding="utf-8")
        leaks = [marker for marker in FORBIDDEN if marker in text]
        if leaks:
            sys.exit(f"{path} holds {leaks}: not exported. Rebuild with `make assignments`.")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in notebooks:
        shutil.copyfile(path, out / path.name)
    shutil.copytree(ROOT / "binder", out / "binder")
    repo_url = f"https://github.com/{repo}"
    rows, prefix = [], book_interface()
    for path in notebooks:
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path.name}"
        binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath={prefix}/{path.name}"
        hub_link = nbgitpuller_link(hub, repo_url, branch, path.name, prefix)
        rows.append(f"| {path.stem} | [JupyterHub]({hub_link}) | [Colab]({colab}) | [Binder]({binder}) |")
    (out / "README.md").write_text(
        "# Assignments: Gradient descent, by hand and then with PyTorch\n\n"
        "Open your assignment with one click, do it, and hand in the `.ipynb` file.\n\n"
        "| Assignment | JupyterHub | Colab | Binder |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "Run the first cell (Setup) first; `grader.check(\"q1\")` checks your answer to question 1.\n",
        encoding="utf-8")
    return notebooks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "_build" / "student-folder")
    parser.add_argument("--repo", default="YOUR-ORG/YOUR-COURSE-REPO", help="the course repository, ORG/NAME")
    parser.add_argument("--hub", default="https://YOUR-JUPYTERHUB", help="your JupyterHub's address")
    parser.add_argument("--branch", default="main")
    args = parser.parse_args()
    notebooks = export(args.out, args.repo, args.hub, args.branch)
    print(f"Wrote {len(notebooks)} student notebooks, binder/ and README.md (links) into {args.out}. "
          f"Push that folder to {args.repo}; it holds no solution and no hidden test.")


if __name__ == "__main__":
    main()
