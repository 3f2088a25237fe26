"""`make bench`: print the site's figures. Not a test: nothing here passes or fails on a number.

* the site build time (a clean `jupyter-book build . --all` into a temporary folder);
* Lighthouse 12 (pinned in tests/bench/package.json, installed by `npm ci`), mobile and desktop, on the landing page
  and every chapter page, served as a static host serves it (Debian nginx, gzip) on 127.0.0.1, in Debian chromium
  with every other host unresolvable: the four category scores, bytes transferred, total blocking time;
* the baseline, in the same run: the same book built as a default Jupyter Book 1 site (the default `_config.yml`
  settings, no lean_pages, MathJax 3 as Jupyter Book loads it but served from the site, since its CDN is out of
  reach here), measured the same way on its landing page and chapter 1, with the ratios site / baseline;
* the `make test` time beside its floor: notebooks x (kernel start + the notebook's imports) / 2 cores.

    .venv/bin/python tests/bench/bench.py [--site DIR] [--runs N] [--skip-make-test] [--skip-baseline]
                                          [--markdown FILE]

--site benchmarks an already built site (e.g. a build of another version) instead of building one.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

import browser  # noqa: E402  (tests/browser.py: nginx with gzip, chromium flags)

LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
CORES = 2


def build_site(out):
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    start = time.monotonic()
    result = subprocess.run([str(jupyter_book), "build", ".", "--all", "--path-output", str(out)], cwd=ROOT,
                            capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode:
        sys.exit(f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return out / "_build" / "html", seconds


BASELINE_CONFIG = """\
# A default Jupyter Book 1 configuration for the same book (what `jupyter-book create` gives, plus what the pages
# need to build: execution off, the MyST extensions and directives they use).
title: "Baseline"
only_build_toc_files: true
exclude_patterns: [_build]
execute:
  execute_notebooks: "off"
parse:
  myst_enable_extensions: [amsmath, colon_fence, dollarmath, deflist, substitution]
sphinx:
  extra_extensions: [sphinx_exercise, sphinx_togglebutton]
  config:
    numfig: true
    math_numfig: true
    # MathJax 3 as Jupyter Book 1 loads it (tex-mml-chtml.js), from the site instead of its CDN.
    mathjax_path: mathjax/tex-mml-chtml.js
    html_static_path: [_mathjax]
"""
BASELINE_PAGES = ["book/intro.html", "book/01-by-hand.html"]


def build_baseline(out):
    """The same book as a default Jupyter Book 1 site, in `out`; returns its _build/html."""
    mathjax = HERE / "node_modules" / "mathjax" / "es5"
    if not mathjax.exists():
        sys.exit(f"{mathjax} missing: cd tests/bench && npm ci")
    shutil.copytree(ROOT / "book", out / "book", ignore=shutil.ignore_patterns("_ext"))
    shutil.copy(ROOT / "_toc.yml", out / "_toc.yml")
    (out / "_config.yml").write_text(BASELINE_CONFIG)
    shutil.copytree(mathjax, out / "_mathjax" / "mathjax")
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", ".", "--all"], cwd=out, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"baseline build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return out / "_build" / "html"


def pages_of(site):
    """The landing page and every chapter page that was built."""
    chapters = sorted(str(p.relative_to(ROOT).with_suffix(".html")) for p in (ROOT / "book").glob("*.ipynb"))
    return ["book/intro.html"] + [p for p in chapters if (site / p).exists()]


def lighthouse(url, preset):
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as tmp:
        out = pathlib.Path(tmp) / "report.json"
        flags = " ".join(f'"{f}"' if " " in f else f for f in browser.CHROMIUM_FLAGS)
        command = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
                   f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags} --user-data-dir={tmp}/profile"]
        if preset == "desktop":
            command.append("--preset=desktop")
        env = dict(os.environ, CHROME_PATH=browser.CHROMIUM)
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        if result.returncode or not out.exists():
            return {"error": (result.stderr or result.stdout)[-500:]}
        report = json.loads(out.read_text())
    audits = report["audits"]
    rb = audits.get("render-blocking-resources", {})
    blocking = (rb.get("details") or {}).get("overallSavingsMs", rb.get("numericValue"))  # None: not measured
    return {
        **{c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES},
        "kb": audits["total-byte-weight"]["numericValue"] / 1024,
        "tbt": audits["total-blocking-time"]["numericValue"],
        "fcp": audits["first-contentful-paint"]["numericValue"],
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "blocking": blocking or 0,
        "failing": sorted(a for a, v in audits.items()
                          if v.get("score") is not None and v["score"] < 0.9 and v.get("scoreDisplayMode") in
                          ("binary", "numeric", "metricSavings")),
    }


MEDIAN_OF = ("performance", "accessibility", "best-practices", "seo", "kb", "tbt", "fcp", "lcp", "blocking")


def median_run(url, preset, runs):
    """Lighthouse `runs` times; the median of each figure (scores, bytes, times) over the runs, and every run's
    performance score and TBT (`runs_perf`, `runs_tbt`) to show the spread."""
    results = [lighthouse(url, preset) for _ in range(runs)]
    good = [r for r in results if "error" not in r]
    if not good:
        return results[0]
    median = {key: statistics.median(r[key] for r in good) for key in MEDIAN_OF}
    median["failing"] = sorted({a for r in good for a in r["failing"]})
    median["runs_perf"] = [r["performance"] for r in good]
    median["runs_tbt"] = [round(r["tbt"]) for r in good]
    return median


def blocking_text(ms):
    return "n/a" if ms is None else f"{ms:.0f} ms"


def lighthouse_rows(site, runs, pages=None):
    rows = []
    with browser.nginx(site) as base:
        for page in pages or pages_of(site):
            for preset in ("mobile", "desktop"):
                result = median_run(base + page, preset, runs)
                rows.append((page, preset, result))
                print(f"  {page} {preset}: {result}", file=sys.stderr, flush=True)
    return rows


def lighthouse_table(rows):
    lines = ["| page | form | perf (runs) | a11y | best pr. | SEO | transferred | TBT (runs) | FCP | LCP | render-blocking |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for page, preset, r in rows:
        if "error" in r:
            lines.append(f"| {page} | {preset} | lighthouse failed: {r['error'][:80]!r} |||||||||")
            continue
        lines.append(f"| {page} | {preset} | {r['performance']:g} {r['runs_perf']} | {r['accessibility']:g} | "
                     f"{r['best-practices']:g} | {r['seo']:g} | {r['kb']:.0f} KB | {r['tbt']:.0f} ms {r['runs_tbt']} | "
                     f"{r['fcp'] / 1000:.1f} s | {r['lcp'] / 1000:.1f} s | {blocking_text(r['blocking'])} |")
    failing = sorted({a for _, _, r in rows for a in r.get("failing", [])})
    return lines, failing


def ratio_lines(site_rows, baseline_rows):
    """Site / baseline for the pages both have: bytes, TBT, FCP, LCP (lower is better), and the scores."""
    base = {(page, preset): r for page, preset, r in baseline_rows if "error" not in r}
    lines = ["| page | form | transferred | TBT | FCP | LCP | performance |", "|---|---|---|---|---|---|---|"]
    for page, preset, r in site_rows:
        b = base.get((page, preset))
        if not b or "error" in r:
            continue
        ratio = lambda key: f"{r[key] / b[key]:.2f}x" if b[key] else (f"{r[key]:.0f} vs 0")
        lines.append(f"| {page} | {preset} | {r['kb']:.0f} / {b['kb']:.0f} KB = {ratio('kb')} | "
                     f"{r['tbt']:.0f} / {b['tbt']:.0f} ms = {ratio('tbt')} | {ratio('fcp')} | {ratio('lcp')} | "
                     f"{r['performance']:g} vs {b['performance']:g} |")
    return lines


def import_seconds(modules):
    """Wall time to import `modules` in a fresh Python, less the time of a bare Python."""
    def run(code):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.monotonic() - start
    bare = min(run("pass") for _ in range(3))
    code = "; ".join(f"import {m}" for m in sorted(modules)) or "pass"
    return max(0.0, min(run(code) for _ in range(2)) - bare)


def kernel_start_seconds():
    from jupyter_client.manager import start_new_kernel

    times = []
    for _ in range(3):
        start = time.monotonic()
        manager, client = start_new_kernel(kernel_name="python3")
        times.append(time.monotonic() - start)
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return min(times)


def notebook_imports(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    modules = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            modules.update(m.split(".")[0] for m in re.findall(r"^\s*import\s+([\w.]+)", source, re.M))
            modules.update(m.split(".")[0] for m in re.findall(r"^\s*from\s+([\w.]+)\s+import", source, re.M))
    return modules


def test_time_and_floor(run_make_test):
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    kernel = kernel_start_seconds()
    per_notebook = {nb.name: kernel + import_seconds(notebook_imports(nb)) for nb in notebooks}
    floor = sum(per_notebook.values()) / CORES
    lines = [f"- notebooks: {len(notebooks)}; kernel start {kernel:.2f} s; "
             + ", ".join(f"{name} {s:.2f} s" for name, s in per_notebook.items()),
             f"- `make test` floor: {len(notebooks)} notebooks x (kernel start + imports) / {CORES} cores = {floor:.1f} s"]
    if run_make_test:
        start = time.monotonic()
        result = subprocess.run(["make", "test"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.monotonic() - start
        summaries = [l for l in result.stdout.splitlines() if re.search(r"\d+ (passed|failed)", l)]
        summary = (summaries or ["no pytest summary"])[-1].strip("= ")
        lines.append(f"- `make test`: {seconds:.1f} s ({seconds / floor:.1f}x the floor), exit {result.returncode}: "
                     f"{summary}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=pathlib.Path, help="an already built site (its _build/html) to measure")
    parser.add_argument("--skip-make-test", action="store_true", help="do not run and time `make test`")
    parser.add_argument("--skip-baseline", action="store_true", help="do not build and measure the default JB1 site")
    parser.add_argument("--markdown", type=pathlib.Path, help="also write the figures to this file")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page and form; the median is shown")
    args = parser.parse_args()
    missing = browser.missing_tools() + ([] if LIGHTHOUSE.exists() else [f"{LIGHTHOUSE} (cd tests/bench && npm ci)"])
    if missing:
        sys.exit(f"bench needs: {', '.join(missing)}")

    lines = [f"# Site figures ({time.strftime('%Y-%m-%d %H:%M')})", ""]
    with tempfile.TemporaryDirectory(prefix="site-bench-") as tmp:
        if args.site:
            site = args.site.resolve()
            lines.append(f"Site: {site} (built elsewhere)")
        else:
            site, seconds = build_site(pathlib.Path(tmp))
            lines.append(f"- site build (`jupyter-book build . --all`, clean): {seconds:.1f} s")
        load = os.getloadavg()[0]
        lines += ["", f"Lighthouse 12 (tests/bench/package.json), Debian chromium, site served by nginx with gzip "
                      f"on 127.0.0.1; median of {args.runs} run(s) by performance score; transferred = Lighthouse "
                      f"total-byte-weight; load average at start {load:.1f} on {os.cpu_count()} cores (mobile TBT "
                      "grows with the machine's load):", ""]
        rows = lighthouse_rows(site, args.runs)
        table, failing = lighthouse_table(rows)
        lines += table
        lines += ["", f"Lighthouse audits under 0.9 on some page: {', '.join(failing) or 'none'}", ""]
        if not args.skip_baseline:
            baseline_dir = pathlib.Path(tmp) / "baseline"
            baseline_dir.mkdir()
            start = time.monotonic()
            baseline = build_baseline(baseline_dir)
            baseline_rows = lighthouse_rows(baseline, args.runs, BASELINE_PAGES)
            table, _ = lighthouse_table(baseline_rows)
            lines += [f"Baseline: the same book as a default Jupyter Book 1 site (built in {time.monotonic() - start:.0f} "
                      "s), same measurement:", ""] + table + ["", "This site / the baseline (median of each):", ""]
            lines += ratio_lines(rows, baseline_rows) + [""]
    lines += test_time_and_floor(not args.skip_make_test)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
