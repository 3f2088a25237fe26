"""The notebooks' stored outputs are what one fresh top-to-bottom run gives, and nothing in them varies by machine."""
import re

import pytest
import yaml

from conftest import ROOT, book_notebooks, code_cells, read_notebook

NOTEBOOKS = book_notebooks()
UNSTABLE = {
    "a machine path": re.compile(r"(/tmp/|/root/|/home/|/work/|/Users/|[A-Z]:\\\\|site-packages)"),
    "a memory address": re.compile(r"\bat 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{8,}"),
    "a timing": re.compile(r"(\d+(\.\d+)? ?(ms|µs|us|ns|s) ?(per loop|±)|Wall time|CPU times|[Ee]lapsed)"),
    "a kernel temp file": re.compile(r"ipykernel_\d+"),
}


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebook found under book/"


def test_every_notebook_is_in_the_toc():
    listed = {f.split(".")[0] for f in toc_files()}
    missing = [str(p) for p in NOTEBOOKS if str(p.with_suffix("")) not in listed]
    assert not missing, f"notebooks under book/ that _toc.yml does not list (add them): {missing}"


def test_every_toc_entry_exists():
    missing = [f for f in toc_files()
               if not any((ROOT / f"{f.split('.')[0]}{ext}").exists() for ext in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_outputs_come_from_one_top_to_bottom_run(path):
    counts = [c["execution_count"] for c in code_cells(read_notebook(path)) if "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path}: execution counts {counts} are not 1..{len(counts)}; re-run it top to bottom with `make notebooks`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_no_output_varies_by_machine_or_run(path):
    found = []
    for i, cell in enumerate(read_notebook(path)["cells"]):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if not k.startswith("image/")]
            text = "".join("".join(t) if isinstance(t, list) else str(t) for t in texts)
            text += "".join(output.get("traceback", []))
            for what, pattern in UNSTABLE.items():
                match = pattern.search(text)
                if match:
                    found.append(f"cell {i}: {what} ({match.group(0)!r})")
            if output.get("name") == "stderr":
                found.append(f"cell {i}: output on stderr (a warning?): {text[:80]!r}")
    assert not found, f"{path}: outputs that differ between runs or machines: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_figure_has_alt_text(path):
    missing = []
    for i, cell in enumerate(read_notebook(path)["cells"]):
        has_image = any(k.startswith("image/") for o in cell.get("outputs", []) for k in o.get("data", {}))
        alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
        if has_image and len(alt.split()) < 5:
            missing.append(i)
    assert not missing, f"{path}: figures without a real alt text (cell metadata mystnb.image.alt) in cells {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_glued_numbers_are_the_text_the_page_shows(path):
    """A glued float carries all its digits into the page's source and nbval's comparison, including those that
    another CPU kernel changes; glue_shown glues the rounded text instead."""
    raw = []
    for i, cell in enumerate(read_notebook(path)["cells"]):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if not name:
                continue
            texts = [v for k, v in output.get("data", {}).items() if k.endswith("text/plain")]
            text = "".join(texts[0]) if texts and isinstance(texts[0], list) else (texts or [""])[0]
            if not (len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]):
                raw.append(f"cell {i}: {name} = {text or '(no text/plain)'}")
            elif text[1] == "-":
                raw.append(f"cell {i}: {name} = {text} (a hyphen where the math around it writes a minus sign)")
    assert not raw, (f"{path}: glued values that are not text (glue them with glue_shown(name, value, spec), "
                     f"rounded as the page shows them): {raw}")


def glued_names(path):
    return [output["metadata"]["scrapbook"]["name"]
            for cell in read_notebook(path)["cells"] for output in cell.get("outputs", [])
            if output.get("metadata", {}).get("scrapbook", {}).get("name")]


def prose_of_the_book():
    pages = [ROOT / p for p in NOTEBOOKS] + sorted((ROOT / "book").glob("**/*.md"))
    return "\n".join("".join(c["source"]) for p in pages if p.suffix == ".ipynb"
                     for c in read_notebook(p.relative_to(ROOT))["cells"] if c["cell_type"] == "markdown") + \
        "\n".join(p.read_text(encoding="utf-8") for p in pages if p.suffix == ".md")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_glued_number_is_shown_somewhere(path):
    """A glued number that no page shows is a number the prose stopped using: drop it, or the glue cell grows stale."""
    shown = set(re.findall(r"\{glue(?::\w+)?\}`([\w-]+)`", prose_of_the_book()))
    unused = [name for name in glued_names(path) if name not in shown]
    assert not unused, f"{path}: glued but shown on no page (remove from the glue cell): {unused}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_notebook_is_a_valid_notebook(path):
    """Jupyter and Colab warn about (or refuse) a file that breaks the notebook format, and a download carries it."""
    import nbformat

    try:
        nbformat.validate(nbformat.reads((ROOT / path).read_text(encoding="utf-8"), as_version=nbformat.NO_CONVERT))
    except nbformat.ValidationError as error:
        pytest.fail(f"{path} is not a valid notebook: {error.message}")
