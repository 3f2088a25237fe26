"""The site builds with warnings as errors, with math rendered at build time (tests/test_browser.py reads the pages)."""
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


MATH_SCRIPT = re.compile(r"mathjax|katex|tex-(chtml|svg|mml)|auto-render", re.I)


def test_math_is_rendered_at_build_time(built_site):
    """Every formula is KaTeX HTML in the page itself: no math script, no raw TeX delimiters left for a script."""
    for page in [*built_site.glob("book/*.html"), built_site / "search.html"]:
        html = page.read_text()
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
        math_scripts = [s for s in scripts if MATH_SCRIPT.search(s)]
        assert not math_scripts, f"{page.name}: loads math JavaScript {math_scripts}; math is rendered at build time"
        assert all(not s.startswith(("http:", "https:", "//")) for s in scripts), (
            f"{page.name}: loads scripts from off the site: {[s for s in scripts if '//' in s]}")
        unrendered = re.findall(r'<(?:span|div) class="math[^"]*">(?!\s*<span class="(?:katex|eqno))', html)
        assert not unrendered, f"{page.name}: {len(unrendered)} math elements without KaTeX output"
    for page in built_site.glob("book/*.html"):
        html = page.read_text()
        if 'class="katex"' in html:
            css = re.findall(r'<link[^>]*href="([^"]*katex[^"]*\.css)[^"]*"', html)
            assert css and all(not c.startswith(("http:", "https:", "//")) for c in css), (
                f"{page.name}: KaTeX CSS not served from the site: {css}")


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
