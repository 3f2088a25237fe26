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
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return driver


def site_pages(site):
    """Every HTML page of the built site, as paths relative to it (not the theme's or sources' folders)."""
    site = pathlib.Path(site)
    skip = ("_static", "_sources", "_images", ".pytest_cache")
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if not p.relative_to(site).parts[0] in skip)


# Runs in the page once it has loaded: waits for MathJax, then reads what the tests check.
COLLECT_JS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  while (document.readyState !== 'complete') { await new Promise(r => setTimeout(r, 20)); }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    // MathJax typesets what is near the screen first, and everything at the reader's first key press.
    document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Shift'}));
    const unrendered = () => [...document.querySelectorAll('.math')].some(e => !e.querySelector('mjx-container'));
    for (let waited = 0; unrendered() && waited < 15000; waited += 50) { await new Promise(r => setTimeout(r, 50)); }
  }
  const textOutside = (root, skip) => {
    const clone = root.cloneNode(true);
    clone.querySelectorAll(skip).forEach(e => e.remove());
    return clone.textContent;
  };
  const main = document.querySelector('main') || document.body || document.documentElement;
  const mathNodes = [...document.querySelectorAll('.math')];
  done({
    url: location.href,
    title: document.title,
    mathjax_loaded: !!(window.MathJax && MathJax.version),
    math: mathNodes.length,
    math_unrendered: mathNodes.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
    mjx_containers: document.querySelectorAll('mjx-container').length,
    mjx_errors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
    text_outside_code_and_math: textOutside(main, 'pre, code, mjx-container, script, style, .highlight, .output'),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, alt: i.getAttribute('alt'),
                                             complete: i.complete, naturalWidth: i.naturalWidth})),
    links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, raw: a.getAttribute('href'),
                                                               text: (a.textContent || a.title || '').trim().slice(0, 60)})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
         [...document.querySelectorAll('a[name]')].map(e => e.getAttribute('name'))),
  });
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


def status_of(url):
    """HTTP status of a GET of `url` (an internal link)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
