"""Every page of the built site, as readers meet it: served by nginx (gzip) on 127.0.0.1, read in headless Debian
chromium with every other host unresolvable. Offline, no console errors, math rendered at build time (no math
script), images with alt text, links that resolve, launch buttons to the right notebook, no axe-core violations, a
working search page; and the layout at a phone's 390 and a desktop's 1280 CSS px: no page wider than the screen,
every box wider than its content scrolls with a visible cue, every icon CSS draws has its glyph, one search box,
glued numbers like the text around them, figures that open full-size.

The pages are visited once (fixture `visits`) and laid out once per width (fixture `layouts`); each test then checks
one thing on all of them.
"""
import functools
import io
import pathlib
import re
import urllib.parse
import urllib.request

import pytest
import yaml

import browser
from conftest import IN_CI, ROOT, book_notebooks

TEX_COMMAND = re.compile(r"\\[a-zA-Z]+|\\[()\[\]]|\$\$")
FILE_NAME_ALT = re.compile(r"(^|/)[^/\s]+\.(png|jpe?g|gif|svg|webp)$|^_images/|^\.\./_images/", re.I)
CHAPTER_KB_LIMIT = 350  # transferred (gzip) per chapter page, the site's budget
WIDTHS = (390, 1280)  # a phone, a desktop (CSS px)


@pytest.fixture(scope="session")
def served_site(built_site):
    """Base URL of the built site served by nginx with gzip, as a static host serves it."""
    missing = browser.missing_tools()
    if missing:
        message = (f"browser checks need {', '.join(missing)}: "
                   "apt-get install chromium chromium-driver nginx (.ci/run does)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with browser.nginx(built_site) as base:
        yield base


@pytest.fixture(scope="session")
def visits(built_site, served_site):
    """{page: report} for every HTML page of the built site, each loaded once in chromium (with axe-core run)."""
    pages = browser.site_pages(built_site)
    assert "book/intro.html" in pages, f"no landing page book/intro.html in {built_site}: {pages}"
    driver = browser.chromium()
    axe = browser.axe_script()
    try:
        reports = {page: browser.visit(driver, served_site + page, axe=axe) for page in pages}
    finally:
        driver.quit()
    broken = {page: r["error"] for page, r in reports.items() if "error" in r}
    assert not broken, f"could not read pages in the browser: {broken}"
    return reports


def chapter_pages(visits):
    """{page: notebook} for every notebook with a built page (a notebook without one fails tests/test_site.py)."""
    pages = {str(nb.with_suffix(".html")): nb for nb in book_notebooks()}
    return {page: nb for page, nb in pages.items() if page in visits}


def test_no_request_leaves_the_machine(visits):
    outside = {page: sorted({r["url"] for r in report["requests"] if browser.is_off_machine(r["url"])})
               for page, report in visits.items()}
    outside = {page: urls for page, urls in outside.items() if urls}
    assert not outside, f"pages request hosts off the machine (serve these files from the site instead): {outside}"


def test_every_request_succeeds(visits):
    failed = {page: [(r["url"], r.get("status"), r.get("failed")) for r in report["requests"]
                     if not browser.is_off_machine(r["url"]) and (r.get("failed") or r.get("status", 200) >= 400)]
              for page, report in visits.items()}
    failed = {page: reqs for page, reqs in failed.items() if reqs}
    assert not failed, f"pages load files that fail (missing from _build/html?): {failed}"


def test_no_console_errors(visits):
    errors = {page: report["console"] for page, report in visits.items() if report["console"]}
    assert not errors, f"the browser console shows errors: {errors}"


def test_math_is_rendered_at_build_time(visits):
    problems = {}
    for page, report in visits.items():
        if report["math_scripts"] or report["math_globals"]:
            problems[page] = f"math JavaScript loaded: {report['math_scripts'] or report['math_globals']}"
        elif report["math_unrendered"]:
            problems[page] = f"math left unrendered: {report['math_unrendered'][:3]}"
        elif report["math_errors"]:
            problems[page] = f"KaTeX errors: {report['math_errors'][:3]}"
        elif report["katex"] != report["katex_mathml"]:
            problems[page] = f"{report['katex'] - report['katex_mathml']} formulas without MathML for screen readers"
    assert not problems, f"math is not rendered at build time: {problems}"


def test_no_raw_tex_in_the_text(visits):
    raw = {}
    for page, report in visits.items():
        found = sorted(set(TEX_COMMAND.findall(report["text_outside_code_and_math"])))
        if found:
            raw[page] = found[:10]
    assert not raw, (f"raw TeX in the page text (outside code and rendered math); is it inside $...$ with the "
                     f"dollarmath extension on? {raw}")


def test_landing_and_chapter_pages_show_math(visits):
    """The intro and every chapter have formulas: KaTeX output must be there (not just no raw TeX)."""
    pages = ["book/intro.html", *chapter_pages(visits)]
    without = [page for page in pages if visits.get(page, {}).get("katex", 0) == 0]
    assert not without, f"no rendered math (KaTeX) on: {without}"


def test_every_image_loads(visits):
    broken = {page: [i["src"] for i in report["images"] if not (i["complete"] and i["naturalWidth"] > 0)]
              for page, report in visits.items()}
    broken = {page: srcs for page, srcs in broken.items() if srcs}
    assert not broken, f"images that do not load (naturalWidth 0): {broken}"


def test_every_image_has_real_alt_text(visits):
    bad = {}
    for page, report in visits.items():
        for image in report["images"]:
            alt = (image["alt"] or "").strip()
            if not alt or FILE_NAME_ALT.search(alt) or alt == pathlib.PurePosixPath(image["src"]).name:
                bad.setdefault(page, []).append(f"{pathlib.PurePosixPath(image['src']).name}: alt={image['alt']!r}")
    assert not bad, ('images without a real alt text (set {"mystnb": {"image": {"alt": "..."}}} in the cell metadata): '
                     f"{bad}")


def internal_links(visits, base):
    """{url without fragment: {fragment, ...}} of every link to the site itself, with the pages linking to it."""
    targets = {}
    for page, report in visits.items():
        for link in report["links"]:
            if not link["href"].startswith(base):
                continue
            url, _, fragment = link["href"].partition("#")
            targets.setdefault(url, {}).setdefault(fragment, set()).add(page)
    return targets


def test_every_internal_link_resolves(visits, served_site):
    broken = {}
    for url, fragments in internal_links(visits, served_site).items():
        status = browser.status_of(url)
        if status != 200:
            pages = sorted(set().union(*fragments.values()))
            broken[url[len(served_site):]] = f"HTTP {status}, linked from {pages}"
    assert not broken, f"internal links that do not resolve: {broken}"


def test_every_internal_anchor_exists(visits, served_site):
    missing = {}
    for url, fragments in internal_links(visits, served_site).items():
        page = url[len(served_site):]
        if page == "" or page.endswith("/"):
            page += "index.html"
        if page not in visits:
            continue  # not an HTML page (a notebook, an image); its existence is checked above
        ids = set(visits[page]["ids"])
        for fragment, sources in fragments.items():
            fragment = urllib.parse.unquote(fragment)
            if fragment and fragment not in ids:
                missing[f"{page}#{fragment}"] = sorted(sources)
    assert not missing, f"links to anchors that do not exist (target: linked from): {missing}"


def repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    org_repo = urllib.parse.urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    return org_repo, repo.get("branch", "main")


def test_launch_buttons_open_this_chapters_notebook(visits):
    """Binder and Colab open the chapter's learner notebook (notebooks/, plain Markdown), not its MyST source."""
    org_repo, branch = repository()
    problems = {}
    for page, source in chapter_pages(visits).items():
        notebook = f"notebooks/{source.name}"
        hrefs = {link["href"] for link in visits[page]["links"]}
        binder = f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=tree/{notebook}"
        colab = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{notebook}"
        missing = [url for url in (binder, colab) if url not in hrefs]
        if missing:
            found = sorted(h for h in hrefs if "mybinder" in h or "colab" in h)
            problems[page] = f"missing {missing}; launch links on the page: {found}"
    assert not problems, f"chapter pages without Binder/Colab buttons to their own notebook: {problems}"


def test_chapter_pages_offer_their_notebook_for_download(visits, served_site):
    missing = {}
    for page, notebook in chapter_pages(visits).items():
        hrefs = {link["href"] for link in visits[page]["links"]}
        if f"{served_site}_sources/{notebook}" not in hrefs:
            missing[page] = sorted(h for h in hrefs if h.endswith(".ipynb"))
    assert not missing, f"chapter pages without a download link to their .ipynb (found instead): {missing}"


def test_no_accessibility_violations(visits):
    violations = {page: report["axe"] for page, report in visits.items() if report["axe"]}
    assert not violations, (f"axe-core ({', '.join(browser.AXE_TAGS)}) violations: {violations}")


def test_chapter_pages_stay_within_the_transfer_budget(visits):
    """Bytes on the wire (gzip), cache disabled: the same budget `make bench` reports with Lighthouse."""
    heavy = {}
    for page in chapter_pages(visits):
        kb = sum(r.get("bytes", 0) for r in visits[page]["requests"]) / 1024
        if kb > CHAPTER_KB_LIMIT:
            biggest = sorted(visits[page]["requests"], key=lambda r: -r.get("bytes", 0))[:5]
            heavy[page] = f"{kb:.0f} KB; biggest: {[(r['url'].rsplit('/', 1)[-1], r.get('bytes')) for r in biggest]}"
    assert not heavy, f"chapter pages over {CHAPTER_KB_LIMIT} KB transferred: {heavy}"


def test_search_finds_the_first_chapter(served_site):
    """The search page (the only page that loads the search index) finds a chapter by a word of its title."""
    driver = browser.chromium()
    try:
        driver.get(served_site + "search.html?q=gradient")
        found = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const start = Date.now();
            (function poll() {
              const hits = [...document.querySelectorAll('#search-results li a')].map(a => a.getAttribute('href'));
              if (hits.length || Date.now() - start > 10000) { done(hits); } else { setTimeout(poll, 50); }
            })();""")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    assert found, f"search.html?q=gradient shows no result (console errors: {errors})"
    assert any("book/01-by-hand.html" in href for href in found), f"no hit on chapter 1 for 'gradient': {found}"


# ---------------------------------------------------------------------------------------------------------------
# Layout at a phone's and a desktop's width.

@pytest.fixture(scope="session")
def layouts(built_site, served_site):
    """{(page, width): layout report} for every page at every width in WIDTHS, with every dropdown opened."""
    pages = browser.site_pages(built_site)
    driver = browser.chromium()
    try:
        reports = {(page, width): browser.layout(driver, served_site + page, width)
                   for width in WIDTHS for page in pages}
    finally:
        driver.quit()
    broken = {key: r["error"] for key, r in reports.items() if "error" in r}
    assert not broken, f"could not lay out pages in the browser: {broken}"
    return reports


def test_no_page_is_wider_than_the_screen(layouts):
    wide = {f"{page} at {width} px": f"{r['page_overflow']} px too wide; sticking out: {r['culprits']}"
            for (page, width), r in layouts.items() if r["page_overflow"] > 0}
    assert not wide, f"pages that scroll sideways as a whole: {wide}"


def test_wide_content_scrolls_in_its_own_box_with_a_cue(layouts):
    """A box whose content is wider than it must scroll (not clip) and show that it does (lean_pages.css's shadows)."""
    bad = {}
    for (page, width), r in layouts.items():
        for box in r["overflowing"]:
            if box["overflow"] in ("hidden", "clip"):
                problem = "cut silently (overflow hidden)"
            elif not box["cue"]:
                problem = "scrolls without a visible cue"
            else:
                continue
            bad.setdefault(f"{page} at {width} px", []).append(
                f"{box['what']}: {box['content']} px in {box['width']} px, {problem}")
    assert not bad, f"content wider than its box: {bad}"


@functools.lru_cache(maxsize=None)
def font_codepoints(url):
    from fontTools.ttLib import TTFont

    with urllib.request.urlopen(url, timeout=10) as response:
        return frozenset(TTFont(io.BytesIO(response.read())).getBestCmap())


def numeric_weight(weight):
    first = str(weight).split()[0]
    return int(first) if first.isdigit() else {"bold": 700}.get(first, 400)


def drawn_by(faces, family, weight, style, codepoint):
    """Which font draws `codepoint` in a font stack, as chromium picks it: the first family whose nearest-weight
    @font-face has the character. None when no web font in the stack has it (a system font may still draw it)."""
    for name in (f.strip().strip("\"'") for f in family.split(",")):
        candidates = [f for f in faces if f["family"] == name and f["urls"]]
        if not candidates:
            continue
        same_style = [f for f in candidates if f["style"] == style] or candidates
        face = min(same_style, key=lambda f: abs(numeric_weight(f["weight"]) - numeric_weight(weight)))
        if codepoint in font_codepoints(face["urls"][0]):
            return face
    return None


def is_private_use(codepoint):
    return 0xE000 <= codepoint <= 0xF8FF or codepoint >= 0xF0000


def test_every_glyph_css_draws_is_in_its_font(layouts):
    """Icons drawn with ::before/::after (admonitions, buttons, navigation) must be in the font that draws them;
    an icon-font character drawn by no icon font is an empty box too."""
    missing = {}
    for (page, width), r in layouts.items():
        for glyph in r["glyphs"]:
            declared = [f for f in r["faces"] if f["family"] in glyph["family"]]
            for c in glyph["codepoints"]:
                if c <= 0x20 or drawn_by(r["faces"], glyph["family"], glyph["weight"], glyph["style"], c):
                    continue
                # Not in any web font of its stack: ordinary text falls back to a system font, an icon
                # (private-use) character to nothing.
                if is_private_use(c):
                    fonts = sorted({f["urls"][0].rsplit("/", 1)[-1] for f in declared}) or ["no web font"]
                    missing.setdefault(f"U+{c:04X} ({glyph['family']}, weight {glyph['weight']}: {fonts})",
                                       set()).add(f"{page} {glyph['what']}")
    missing = {k: sorted(v)[:3] for k, v in missing.items()}
    assert not missing, f"glyphs CSS draws that their font lacks (they show as empty boxes): {missing}"


def test_one_search_box(layouts):
    many = {f"{page} at {width} px": r["search_boxes"] for (page, width), r in layouts.items()
            if len(r["search_boxes"]) > 1}
    assert not many, f"pages that show more than one search box: {many}"


def test_glued_numbers_look_like_the_text_around_them(layouts):
    odd = {}
    for (page, width), r in layouts.items():
        for g in r["glued"]:
            if g["weight"] != g["parentWeight"] or g["family"] != g["parentFamily"]:
                odd.setdefault(page, []).append(f"{g['what']}: weight {g['weight']} in {g['parentWeight']}")
    assert not odd, f"glued values drawn unlike the text around them: {({k: v[:3] for k, v in odd.items()})}"


def test_shrunk_figures_open_full_size(layouts):
    """A figure drawn narrower than its pixels at a phone's width is a link to the full-size image."""
    small = {}
    for (page, width), r in layouts.items():
        if width != min(WIDTHS):
            continue
        for f in r["figures"]:
            if f["natural"] > f["shown"] + 1 and f["link"] != f["src"]:
                small.setdefault(page, []).append(f"{f['src'].rsplit('/', 1)[-1]} ({f['natural']} px shown at "
                                                  f"{f['shown']:.0f}) links to {f['link']}")
    assert not small, f"shrunk figures that do not open full-size on tap: {small}"


def test_output_streams_are_merged(visits):
    """One box per cell for consecutive writes to the same stream (myst-nb's nb_merge_streams)."""
    split = {page: r["split_streams"] for page, r in visits.items() if r["split_streams"]}
    assert not split, f"cells whose output is split over several boxes of the same stream: {split}"
