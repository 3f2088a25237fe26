"""The site builds with warnings as errors and serves MathJax itself (tests/test_browser.py reads the pages)."""
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
        missing = [s for s in mathjax if not (page.parent / s.split("?")[0]).resolve().exists()]
        assert not missing, f"{page.name}: MathJax scripts that the site does not hold: {missing}"



def test_every_icon_has_a_glyph(built_site):
    """The icon fonts are cut down to the glyphs the pages use (book/_ext/lean_pages.py); none may go missing."""
    import sys

    from fontTools.ttLib import TTFont

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lean_pages

    css = "".join(p.read_text(encoding="utf-8") for p in (built_site / "_static").rglob("*.css"))
    codepoints = lean_pages.icon_codepoints(css)
    glyphs = set()
    for font in (built_site / "_static" / "vendor" / "fontawesome" / "webfonts").glob("*.woff2"):
        glyphs |= set(TTFont(font).getBestCmap())
    missing = set()
    for page in built_site.rglob("*.html"):
        for classes in re.findall(r'class="([^"]*\bfa-[^"]*)"', page.read_text(encoding="utf-8")):
            names = [c[3:] for c in classes.split() if c.startswith("fa-") and c[3:] in codepoints]
            missing.update(f"{page.relative_to(built_site)}: fa-{n}" for n in names if codepoints[n] not in glyphs)
    assert codepoints and glyphs, "found no icon rules or no icon fonts in the built site"
    assert not missing, f"icons whose glyph the cut-down fonts lack (they show as empty boxes): {sorted(missing)[:10]}"
