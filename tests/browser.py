"""Serve the built site as a static host does (Debian nginx, gzip on) and visit it in headless Debian chromium.

Used by tests/test_browser.py and tests/bench/bench.py. Nothing here is a test.
"""
import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

# Headless flags for a machine without network: no background traffic, every outside host unresolvable.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-features=NetworkTimeServiceQuerying,MediaRouter",
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
]

NGINX_CONF = """\
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    types {{ application/x-ipynb+json ipynb; }}
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    sendfile on;
    # As a static host (GitHub Pages) serves it: compressed.
    gzip on;
    gzip_comp_level 6;
    gzip_min_length 256;
    gzip_vary on;
    gzip_types text/css application/javascript text/javascript image/svg+xml application/json
               application/x-ipynb+json text/plain application/xml;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        index index.html;
    }}
}}
"""


def missing_tools():
    """The programs the browser checks need that are not installed."""
    return [p for p in (CHROMIUM, CHROMEDRIVER, NGINX) if not (os.path.exists(p) and os.access(p, os.X_OK))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def nginx(root):
    """Serve the folder `root` on 127.0.0.1 with gzip; yields the base URL (ending in /)."""
    root = pathlib.Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="site-nginx-") as prefix:
        (pathlib.Path(prefix) / "tmp").mkdir()
        port = free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = pathlib.Path(prefix) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, port=port, root=root))
        proc = subprocess.Popen([NGINX, "-p", prefix, "-c", str(conf), "-g", "daemon off;"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited ({proc.returncode}): {proc.stdout.read().decode()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")
                    time.sleep(0.05)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chromium(width=1280, height=900):
    """A selenium driver for headless Debian chromium that records console messages and network events."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='site-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Generous: under `make test` the notebooks run on both cores beside the browser, and axe-core or a layout pass on a
    # 7,000-element chapter took over 30 s on a loaded 2-core machine.
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(180)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return driver


def site_pages(site):
    """Every HTML page of the built site, as paths relative to it (not the theme's or sources' folders)."""
    site = pathlib.Path(site)
    skip = ("_static", "_sources", "_images", ".pytest_cache")
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if not p.relative_to(site).parts[0] in skip)


# Runs in the page once it has loaded, and reads what the tests check.
COLLECT_JS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  while (document.readyState !== 'complete') { await new Promise(r => setTimeout(r, 20)); }
  await document.fonts.ready;
  // Figures load lazily (as the reader scrolls near them): load them all now, to check every one.
  document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; });
  await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  const textOutside = (root, skip) => {
    const clone = root.cloneNode(true);
    clone.querySelectorAll(skip).forEach(e => e.remove());
    return clone.textContent;
  };
  const main = document.querySelector('main') || document.body || document.documentElement;
  const mathNodes = [...document.querySelectorAll('.math')];
  const scripts = [...document.scripts].map(s => s.src).filter(Boolean);
  done({
    url: location.href,
    title: document.title,
    math_scripts: scripts.filter(src => /mathjax|katex|tex-(chtml|svg|mml)|auto-render/i.test(src)),
    math_globals: ['MathJax', 'katex', 'renderMathInElement'].filter(name => name in window),
    math: mathNodes.length,
    split_streams: [...document.querySelectorAll('.cell_output')].filter(c => [...c.children].some((e, i, a) =>
        i > 0 && ['stream', 'stderr'].some(k => e.classList.contains(k) && a[i - 1].classList.contains(k))))
        .map(c => (c.textContent || '').trim().slice(0, 40)),
    math_unrendered: mathNodes.filter(e => !e.querySelector('.katex')).map(e => e.textContent.slice(0, 80)),
    katex: document.querySelectorAll('.katex').length,
    katex_mathml: document.querySelectorAll('.katex .katex-mathml math').length,
    math_errors: [...document.querySelectorAll('.katex-error')].map(e => e.getAttribute('title') || e.textContent),
    text_outside_code_and_math: textOutside(main, 'pre, code, .katex, script, style, .highlight, .output'),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, alt: i.getAttribute('alt'),
                                             complete: i.complete, naturalWidth: i.naturalWidth})),
    links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, raw: a.getAttribute('href'),
                                                               text: (a.textContent || a.title || '').trim().slice(0, 60)})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
         [...document.querySelectorAll('a[name]')].map(e => e.getAttribute('name'))),
  });
})().catch(e => done({error: String(e)}));
"""

# Runs in the page at a given width, with every dropdown and toggle opened: what a reader sees of the layout.
LAYOUT_JS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  while (document.readyState !== 'complete') { await new Promise(r => setTimeout(r, 20)); }
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(e => { e.open = true; });
  // Lay out everything, also what content-visibility would skip until the reader scrolls near it.
  const all_visible = document.createElement('style');
  all_visible.textContent = '* { content-visibility: visible !important; }';
  document.head.appendChild(all_visible);
  document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; });
  await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const W = document.documentElement.clientWidth;
  const describe = e => {
    const cls = (e.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 3).join('.');
    const section = e.closest('section[id]');
    return `${e.tagName.toLowerCase()}${cls ? '.' + cls : ''} in #${section ? section.id : '?'}: ` +
           JSON.stringify((e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50));
  };
  const shown = e => {
    const cs = getComputedStyle(e);
    if (cs.visibility !== 'visible' || e.closest('[hidden], dialog:not([open])')) return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.getClientRects().length > 0;
  };
  // Offscreen drawers (the sidebars on a phone) are fixed and out of view: not part of the page's layout.
  const inDrawer = e => { for (let a = e; a; a = a.parentElement) { const cs = getComputedStyle(a);
      if (cs.position === 'fixed') { const r = a.getBoundingClientRect(); return r.right <= 0 || r.left >= W || cs.visibility !== 'visible'; } }
    return false; };
  const all = [...document.body.querySelectorAll('*')].filter(e => shown(e) && !inDrawer(e));
  const scroller = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return a; } return null; };
  const pageOverflow = document.documentElement.scrollWidth - W;
  const culprits = pageOverflow > 0 ? all.filter(e => e.getBoundingClientRect().right > W + 1 && !scroller(e) &&
      getComputedStyle(e).position !== 'fixed' && !e.querySelector('*:not(span)')).map(describe).slice(0, 8) : [];
  // Boxes whose content is wider than the box: they must scroll (not clip), with a visible cue.
  const overflowing = [];
  for (const e of all) {
    const cs = getComputedStyle(e);
    if (cs.overflowX === 'visible') continue;
    // Visually hidden text for screen readers (KaTeX's MathML, skip links): 1 px boxes, clipped on purpose.
    if (e.clientWidth <= 1 || e.clientHeight <= 1 || cs.clip !== 'auto' || cs.clipPath !== 'none') continue;
    if (e.scrollWidth <= e.clientWidth + 2) continue;
    const cue = /gradient/.test(cs.backgroundImage) && /local/.test(cs.backgroundAttachment);
    overflowing.push({what: describe(e), overflow: cs.overflowX, width: e.clientWidth, content: e.scrollWidth, cue});
  }
  // Glyphs drawn by CSS (::before / ::after): font, weight and characters.
  const glyphs = [];
  for (const e of all) {
    for (const pseudo of ['::before', '::after']) {
      const cs = getComputedStyle(e, pseudo);
      const content = cs.content;
      if (!content || content === 'none' || content === 'normal' || cs.display === 'none') continue;
      const text = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1].replace(/\\(.)/g, '$1')).join('');
      if (!text.trim()) continue;
      glyphs.push({what: describe(e) + pseudo, family: cs.fontFamily, weight: cs.fontWeight, style: cs.fontStyle,
                   text: text, codepoints: [...text].map(c => c.codePointAt(0))});
    }
  }
  const faces = [];
  for (const sheet of document.styleSheets) {
    let rules; try { rules = sheet.cssRules; } catch (err) { continue; }
    for (const rule of rules) {
      if (!(rule instanceof CSSFontFaceRule)) continue;
      const st = rule.style;
      const urls = [...st.getPropertyValue('src').matchAll(/url\(["']?([^"')]+)["']?\)/g)].map(m => new URL(m[1], sheet.href || location.href).href);
      faces.push({family: st.getPropertyValue('font-family').replace(/["']/g, '').trim(),
                  weight: st.getPropertyValue('font-weight') || '400', style: st.getPropertyValue('font-style') || 'normal',
                  urls});
    }
  }
  const searchBoxes = all.filter(e => e.matches('.search-button-field, input[type=search], form.bd-search')
                                      && !e.parentElement.closest('.search-button-field, form.bd-search')).map(describe);
  const glued = [...document.querySelectorAll('.pasted-text, .pasted-inline')].filter(shown).map(e => {
      const cs = getComputedStyle(e), ps = getComputedStyle(e.parentElement);
      return {what: describe(e.parentElement), weight: cs.fontWeight, parentWeight: ps.fontWeight,
              family: cs.fontFamily, parentFamily: ps.fontFamily}; });
  const figures = [...document.querySelectorAll('main img')].filter(shown).map(i => ({
      src: i.currentSrc || i.src, shown: i.getBoundingClientRect().width, natural: i.naturalWidth,
      link: i.closest('a[href]') ? i.closest('a[href]').href : null}));
  done({width: W, page_overflow: pageOverflow, culprits, overflowing, glyphs, faces, search_boxes: searchBoxes,
        glued, figures});
})().catch(e => done({error: String(e)}));
"""

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]


def axe_script():
    import axe_selenium_python
    return (pathlib.Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js").read_text()


def run_axe(driver, script):
    driver.execute_script(script)
    options = json.dumps({"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run(document, {options}).then(r => done(r.violations)).catch(e => done([{{id: 'axe-error', help: String(e), nodes: []}}]));")
    return [{"id": v["id"], "impact": v.get("impact"), "help": v["help"],
             "nodes": [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]} for v in result]


def network_events(driver):
    """Requests made since the last call, from chromium's performance log: url, status, bytes on the wire, failure."""
    requests = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            requests.setdefault(rid, {})["url"] = params["request"]["url"]
        elif method == "Network.responseReceived":
            requests.setdefault(rid, {})["status"] = params["response"]["status"]
        elif method == "Network.loadingFinished":
            requests.setdefault(rid, {})["bytes"] = params.get("encodedDataLength", 0)
        elif method == "Network.loadingFailed":
            requests.setdefault(rid, {})["failed"] = params.get("errorText", "failed")
    return [r for r in requests.values() if "url" in r]


def is_off_machine(url):
    parts = urllib.parse.urlsplit(url)
    return parts.scheme not in ("data", "blob", "about", "chrome", "devtools") and parts.hostname not in LOCAL_HOSTS


def visit(driver, url, axe=None):
    """Load one page and return what the tests check about it."""
    driver.get_log("browser"), driver.get_log("performance")  # drop what earlier pages left
    driver.get(url)
    # A redirect stub (the site's index.html) moves on by itself: read the page it leads to.
    deadline = time.monotonic() + 10
    while driver.execute_script("return !!document.querySelector('meta[http-equiv=refresh i]')"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} is a redirect that did not move on within 10 s")
        time.sleep(0.05)
    report = driver.execute_async_script(COLLECT_JS)
    report["axe"] = run_axe(driver, axe) if axe else []
    report["console"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    report["requests"] = network_events(driver)
    return report


def layout(driver, url, width):
    """Load one page at `width` CSS px (a phone below 600 px: touch, mobile viewport) and read its layout."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    try:
        driver.get(url)
        return driver.execute_async_script(LAYOUT_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def status_of(url):
    """HTTP status of a GET of `url` (an internal link)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
