"""`make pdf`: the book as PDF, printed from the built site by Debian chromium (no LaTeX, no browser download).

    .venv/bin/python tools/book_pdf.py [--site _build/html]

Writes into the built site, so the site's link to it works: `pdf/<book>.pdf` (every page of _toc.yml in order, a
table of contents with page numbers, PDF bookmarks, page numbers in the footer) and `pdf/<page>.pdf` for each page.
What is printed is the page as the site shows it (math prerendered by KaTeX, figures, code and outputs), with
lean_pages.css's print rules: no navigation, code and outputs wrapped to the page, no page break inside a code cell,
an output, a figure or an equation; dropdowns (solutions, folded code) are printed open.
"""
import argparse
import base64
import html
import io
import pathlib
import re
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (tests/browser.py: the chromium flags and driver)

PDF_DIR = "pdf"
BOOK_PDF = "gradient-descent-by-hand.pdf"
ARTICLE = re.compile(r'<article class="bd-article">(.*?)</article>', re.S)
TITLE = re.compile(r"<h1>(.*?)<a class=\"headerlink\"", re.S)
PRINT_CSS = """<style>
/* One book: the theme's per-page print title and contents go, and each chapter's own title shows. */
#jb-print-docs-body { display: none !important; }
.bd-main .bd-content .bd-article .lean-print-chapter h1:first-of-type { display: block; }
.lean-print-chapter { break-before: page; }
/* The first page's own break would leave a blank sheet before it (and the footer's book title on that sheet
   passed for the landing page's title in the contents). */
#lean-print-0 { break-before: auto; }
.lean-print-toc ol { list-style: none; padding-left: 0; font-size: 1.1rem; }
.lean-print-toc li { display: flex; gap: .5rem; margin: .35rem 0; }
.lean-print-toc li .dots { flex: 1; border-bottom: 1px dotted #888; margin-bottom: .3rem; }
.lean-print-cover { text-align: center; padding-top: 30vh; }
.lean-print-title { font-size: 2.6rem; font-weight: 500; line-height: 1.25; margin-bottom: 2rem; }
</style>"""
# The printed area of an A4 page with print_pdf's margins, in CSS px (96 per inch).
PRINTED_WIDTH = round((8.27 - 0.6 - 0.6) * 96)
PRINTED_HEIGHT = round((11.69 - 0.6 - 0.7) * 96)
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555;">'
          '{title} &middot; <span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def toc_pages():
    """The book's pages in reading order, as paths of the built site (book/intro.html, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = toc.get("parts", [toc])  # a toc with parts (numbered chapters) or a plain list of chapters
    files = [toc["root"]] + [c["file"] for part in parts for c in part.get("chapters", [])]
    return [f"{pathlib.PurePosixPath(f).with_suffix('')}.html" for f in files]


def strip_tags(text):
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def print_pdf(driver, url, title, numbered=True):
    """Open `url` with every dropdown open and print it (A4, backgrounds, bookmarks from headings)."""
    driver.get(url)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          while (document.readyState !== 'complete') await new Promise(r => setTimeout(r, 20));
          document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
          // Chromium prints nothing of a <details> opened by script (myst-nb's folded code came out as an empty
          // box): every one becomes a <div> with its content; folded code loses its "Hide code cell source" label,
          // a solution keeps its title.
          document.querySelectorAll('details').forEach(d => {
            const div = document.createElement('div');
            div.className = d.className + ' lean-print-details';
            if (d.id) div.id = d.id;
            const summary = d.querySelector(':scope > summary');
            if (summary && d.matches('.hide')) summary.remove();
            else if (summary) {
              const title = document.createElement('div');
              title.className = summary.className + ' lean-print-summary';
              while (summary.firstChild) title.appendChild(summary.firstChild);
              summary.replaceWith(title);
            }
            while (d.firstChild) div.appendChild(d.firstChild);
            d.replaceWith(div);
          });
          await document.fonts.ready;
          document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; });
          await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
          done();
        })();""")
    # "No page break inside" only for what fits on a page: a code cell taller than a page, kept whole, was pushed
    # to the next sheet inside its own pushed box, leaving an empty box on a page of its own. Measured with the
    # print styles at the printed width (A4 less the margins, in CSS px).
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PRINTED_WIDTH, "height": PRINTED_HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_script("""
        document.querySelectorAll('div.cell, div.cell_input, div.cell_output, div.highlight, div[class*="highlight-"], '
                                  + 'figure, table, div.math, div.admonition, div.lean-print-details').forEach(e => {
          if (e.getBoundingClientRect().height > arguments[0]) e.style.breakInside = 'auto';
        });""", 0.9 * PRINTED_HEIGHT)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        "paperWidth": 8.27, "paperHeight": 11.69,  # A4
        "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6,
        "printBackground": True, "displayHeaderFooter": numbered, "headerTemplate": "<span></span>",
        "footerTemplate": FOOTER.format(title=html.escape(title)),
        "generateTaggedPDF": True,
    })
    return base64.b64decode(result["data"])


def page_with(site, template_page, body):
    """A page of the site (its head, CSS and layout) whose article holds `body` instead, with the print CSS."""
    template = (site / template_page).read_text(encoding="utf-8")
    start, end = ARTICLE.search(template).span(1)
    return (template[:start] + body + template[end:]).replace("</head>", PRINT_CSS + "</head>", 1)


def chapters_of(site, pages):
    """(id, title, article HTML) of every page."""
    chapters = []
    for i, page in enumerate(pages):
        article = ARTICLE.search((site / page).read_text(encoding="utf-8")).group(1)
        heading = TITLE.search(article)
        chapters.append((f"lean-print-{i}", strip_tags(heading.group(1)) if heading else page, article))
    return chapters


def body_page(site, pages, chapters):
    """Every page's article, one after the other, each starting a new sheet."""
    return page_with(site, pages[0], "".join(f'<section class="lean-print-chapter" id="{cid}">{article}</section>'
                                            for cid, _, article in chapters))


def front_page(site, pages, title, author, chapters, numbers):
    """Cover and contents, with the page on which each chapter starts."""
    rows = "".join(f'<li><span>{html.escape(name)}</span><span class="dots"></span><span>{number}</span></li>'
                   for (_, name, _), number in zip(chapters, numbers))
    return page_with(site, pages[0], f'<div class="lean-print-cover"><p class="lean-print-title">{html.escape(title)}</p>'
                                     f'<p>{html.escape(author)}</p></div>'
                                     f'<section class="lean-print-chapter lean-print-toc"><h2>Contents</h2>'
                                     f'<ol>{rows}</ol></section>')


def chapter_start_pages(pdf_bytes, names, after):
    """1-based page that each chapter's title opens (each chapter starts a page), searching forward from `after`."""
    from pypdf import PdfReader

    texts = [" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf_bytes)).pages]
    found, page = [], after
    for name in names:
        wanted = " ".join(name.split())
        while page < len(texts) and wanted not in texts[page][:len(wanted) + 20]:
            page += 1
        if page == len(texts):
            raise RuntimeError(f"chapter {name!r} not found in the printed book")
        found.append(page + 1)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=pathlib.Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    site = args.site.resolve()
    missing = [p for p in (browser.CHROMIUM, browser.CHROMEDRIVER) if not pathlib.Path(p).exists()]
    if missing:
        sys.exit(f"make pdf needs {', '.join(missing)}: apt-get install chromium chromium-driver")
    pages = toc_pages()
    absent = [p for p in pages if not (site / p).exists()]
    if absent:
        sys.exit(f"{site} lacks {absent}: build the site first (make book)")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    title = config["title"]
    out = site / PDF_DIR
    out.mkdir(exist_ok=True)
    start = time.monotonic()
    driver = browser.chromium()
    chapters = chapters_of(site, pages)
    printing = site / pathlib.PurePosixPath(pages[0]).with_name("_print-book.html")
    try:
        # The chapters in one print (page numbers run through the book), then the cover and the contents, which
        # give the page each chapter starts on; each chapter's PDF is its pages of the book.
        printing.write_text(body_page(site, pages, chapters), encoding="utf-8")
        body = print_pdf(driver, printing.as_uri(), title)
        numbers = chapter_start_pages(body, [name for _, name, _ in chapters], after=0)
        printing.write_text(front_page(site, pages, title, config["author"], chapters, numbers), encoding="utf-8")
        front = print_pdf(driver, printing.as_uri(), title, numbered=False)
    finally:
        printing.unlink(missing_ok=True)
        driver.quit()
    from pypdf import PdfReader, PdfWriter

    body_reader = PdfReader(io.BytesIO(body))
    front_reader = PdfReader(io.BytesIO(front))
    book = PdfWriter()
    book.append(front_reader, import_outline=False)
    book.append(body_reader, import_outline=False)
    # Bookmarks: one per chapter, with its title as the contents give it (chromium's own outline runs the words of
    # a title that wraps together).
    book.add_outline_item(title="Contents", page_number=1)
    for (_, name, _), number in zip(chapters, numbers):
        book.add_outline_item(title=name, page_number=len(front_reader.pages) + number - 1)
    with open(out / BOOK_PDF, "wb") as f:
        book.write(f)
    ends = numbers[1:] + [len(body_reader.pages) + 1]
    for page, first, end in zip(pages, numbers, ends):
        chapter = PdfWriter()
        chapter.append(body_reader, pages=(first - 1, end - 1), import_outline=False)
        with open(out / pathlib.PurePosixPath(page).with_suffix(".pdf").name, "wb") as f:
            chapter.write(f)
    count = len(PdfReader(out / BOOK_PDF).pages)
    print(f"{out / BOOK_PDF}: {count} pages, {(out / BOOK_PDF).stat().st_size // 1024} KB; one PDF per page in "
          f"{out}; {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
