"""The site builds with warnings as errors, serves MathJax itself, and links each chapter to Binder and Colab."""
import re

from conftest import ROOT, book_notebooks


def test_site_builds_without_warnings(built_site):
    log = (ROOT / "_build" / "strict-build.log").read_text()
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, f"the build printed warnings: {warnings[:10]}"
    assert (built_site / "index.html").exists()


def test_every_notebook_has_a_page(built_site):
    missing = [str(p) for p in book_notebooks() if not (built_site / p.with_suffix(".html")).exists()]
    assert not missing, f"notebooks without a built page: {missing}"


def test_mathjax_is_served_from_the_site(built_site):
    for page in built_site.glob("book/*.html"):
        html = page.read_text()
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
        mathjax = [s for s in scripts if "mathjax" in s.lower() or "tex-" in s]
        assert mathjax, f"{page.name}: no MathJax script"
        assert all(not s.startswith(("http:", "https:", "//")) for s in scripts), (
            f"{page.name}: loads scripts from off the site: {[s for s in scripts if '//' in s]}")
    assert (built_site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_chapter_pages_have_binder_and_colab_links(built_site):
    for notebook in book_notebooks():
        html = (built_site / notebook.with_suffix(".html")).read_text()
        assert re.search(rf'href="https://mybinder\.org/v2/gh/[^"]+/main\?urlpath=tree/{notebook}"', html), (
            f"{notebook}: no Binder link to this notebook")
        assert re.search(rf'href="https://colab\.research\.google\.com/github/[^"]+/blob/main/{notebook}"', html), (
            f"{notebook}: no Colab link to this notebook")
