"""`make pdf` (tools/book_pdf.py): the book as one PDF with contents and bookmarks, and one PDF per page, printed by
chromium from the built site (conftest's strict build prints them where chromium is installed; in CI it must be)."""
import pathlib
import re

import pytest

from conftest import IN_CI, ROOT, book_notebooks

BOOK_PDF = "gradient-descent-by-hand.pdf"


@pytest.fixture(scope="session")
def pdf_dir(built_site):
    folder = built_site / "pdf"
    if not (folder / BOOK_PDF).exists():
        message = "no PDF was printed: apt-get install chromium chromium-driver (.ci/run does), then make pdf"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return folder


def read(path):
    from pypdf import PdfReader
    return PdfReader(path)


def test_every_page_has_its_pdf(pdf_dir):
    pages = ["intro", *(nb.stem for nb in book_notebooks()), "instructors"]
    missing = [p for p in pages if not (pdf_dir / f"{p}.pdf").exists()]
    assert not missing, f"pages printed to no PDF in {pdf_dir}: {missing}"


def page_titles():
    """(PDF name, title) of every page in the book's order."""
    pages = ["book/intro", *(str(nb.with_suffix("")) for nb in book_notebooks()), "book/instructors"]
    titles = []
    for page in pages:
        html = (ROOT / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8")
        article = re.search(r'<article class="bd-article">(.*?)</article>', html, re.S).group(1)
        heading = re.search(r"<h1>(.*?)<a class=\"headerlink\"", article, re.S).group(1)
        titles.append((pathlib.PurePosixPath(page).name, " ".join(re.sub(r"<[^>]+>", "", heading).split())))
    return titles


def text_of(page):
    return " ".join((page.extract_text() or "").split())


def test_book_pdf_has_contents_and_a_bookmark_per_chapter(pdf_dir):
    book = read(pdf_dir / BOOK_PDF)
    bookmarks = [item.title for item in book.outline if not isinstance(item, list)]
    contents = text_of(book.pages[1])
    chapters = page_titles()
    # The page numbers (in the footers and the contents) count from the first chapter, after the cover and contents.
    front = len(book.pages) - sum(len(read(pdf_dir / f"{name}.pdf").pages) for name, _ in chapters)
    previous = 0
    for name, title in chapters:
        assert title in bookmarks, f"no PDF bookmark for {title!r}: {bookmarks}"
        found = re.search(re.escape(title) + r"\s*(\d+)", contents)
        assert found, f"{title!r} with its page number missing from the PDF's contents page: {contents[:300]}"
        number = int(found.group(1))
        assert number > previous, f"contents page numbers do not increase at {title!r}: {contents[:300]}"
        previous = number
        opening = text_of(book.pages[front + number - 1])
        assert opening.startswith(title), f"the contents send {title!r} to page {number}, which opens {opening[:60]!r}"
        alone = text_of(read(pdf_dir / f"{name}.pdf").pages[0])
        assert alone.startswith(title), f"{name}.pdf opens with {alone[:60]!r}, not its title {title!r}"


def test_math_is_typeset_in_the_pdf(pdf_dir):
    """KaTeX output, not TeX source: the first chapter's sums are glyphs, and no TeX command is left."""
    text = "".join(page.extract_text() or "" for page in read(pdf_dir / "01-by-hand.pdf").pages)
    assert "∑" in text, "no summation sign in chapter 1's PDF: math not rendered?"
    assert not re.search(r"\\(frac|sum|left)\b", text), "raw TeX in chapter 1's PDF"


def squeezed(text):
    return re.sub(r"\s+", "", text)


def test_folded_code_is_printed(pdf_dir):
    """Plotting code folded on the site (hide-input) is printed open: chromium printed nothing of a <details> opened
    by script, so these cells came out as empty boxes."""
    from conftest import read_notebook

    missing = {}
    for nb in book_notebooks():
        pdf_text = squeezed("".join(page.extract_text() or "" for page in read(pdf_dir / f"{nb.stem}.pdf").pages))
        for i, cell in enumerate(read_notebook(nb)["cells"]):
            if cell["cell_type"] != "code" or "hide-input" not in cell.get("metadata", {}).get("tags", []):
                continue
            lines = [line.strip() for line in "".join(cell["source"]).splitlines()]
            line = next((l for l in lines if 12 <= len(l) <= 60 and not l.startswith("#")), None)
            if line and squeezed(line) not in pdf_text:
                missing.setdefault(nb.stem, []).append(f"cell {i}: {line!r}")
    assert not missing, f"folded code missing from the PDFs: {missing}"


def test_no_blank_page(pdf_dir):
    """Every printed page holds more than its footer: a forced break at the start once left a blank sheet, and a code
    box too tall for the rest of a page once printed empty there (with its code on the next page)."""
    book = read(pdf_dir / BOOK_PDF)
    footer = re.compile(r"[^·]{0,80}·\s*\d+\s*/\s*\d+")  # the book's title · N / M
    blank = [n + 1 for n, page in enumerate(book.pages[2:], start=2)
             if not footer.sub("", text_of(page)).strip() and not page.images]
    assert not blank, f"blank pages in the book PDF: {blank}"
