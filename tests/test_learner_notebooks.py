"""The learner notebooks (notebooks/, from tools/learner_notebooks.py) read right in Colab, Binder and a download.

They are committed and must be what the generator gives from the current chapters; they hold no MyST; every number
and reference is the one the built site shows; the site's launch and download buttons give them. That they run alone
is checked in tests/test_run_alone.py.
"""
import html
import json
import re
import sys
import urllib.parse

import pytest
import yaml

from conftest import ROOT, book_notebooks, code_cells, read_notebook

sys.path.insert(0, str(ROOT / "tools"))
import learner_notebooks as generator  # noqa: E402

CHAPTERS = generator.all_chapters()
LEFTOVER_MYST = ["{glue", "{eq}", "{ref}", "{numref}", "{doc}", "{math}", "{exercise", "{solution", "```{", ":::{",
                 "````{", "$$ (", ":label:", ":class: dropdown"]


def learner_cells(docname):
    return read_notebook(generator.learner_path(docname).relative_to(ROOT))["cells"]


def markdown_of(cells):
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def test_every_chapter_has_a_learner_notebook():
    chapters = {str(p.with_suffix("")) for p in book_notebooks()}
    missing = sorted(d for d in chapters if not generator.learner_path(d).exists())
    assert not missing, f"chapters without a learner notebook in notebooks/ (run tools/learner_notebooks.py): {missing}"
    assert set(CHAPTERS) == chapters, (f"chapters under book/ that are not numbered chapters in _toc.yml, or the "
                                       f"reverse: {sorted(set(CHAPTERS) ^ chapters)}")


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_committed_learner_notebook_is_up_to_date(docname):
    path = generator.learner_path(docname)
    expected = generator.dumps(CHAPTERS[docname].learner())
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} is not what tools/learner_notebooks.py makes of {docname}.ipynb now: "
        f"run `.venv/bin/python tools/learner_notebooks.py` (part of `make notebooks`) and commit it")


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_learner_notebook_is_a_valid_notebook(docname):
    import nbformat

    nbformat.validate(nbformat.read(generator.learner_path(docname), as_version=4))


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_learner_notebook_has_the_chapters_code_and_outputs(docname):
    chapter = code_cells(read_notebook(f"{docname}.ipynb"))
    learner = code_cells({"cells": learner_cells(docname)})
    assert [c["source"] for c in learner] == [c["source"] for c in chapter], f"{docname}: code cells differ"
    for mine, theirs in zip(learner, chapter):
        if all("scrapbook" in o.get("metadata", {}) for o in theirs["outputs"]):
            continue  # the glue records, which only the site reads
        assert mine["outputs"] == theirs["outputs"], f"{docname}: outputs of cell {theirs.get('id')} differ"


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_no_myst_left_in_learner_notebook(docname):
    left = {}
    for text in markdown_of(learner_cells(docname)):
        found = [m for m in LEFTOVER_MYST if m in text]
        found += re.findall(r"\{[\w:-]+\}`", text) + re.findall(r"^\([\w-]+\)=", text, re.M)
        if found:
            left[text[:80]] = found
    assert not left, f"{docname}: MyST left in the learner notebook's Markdown (cell start: what): {left}"


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_solutions_are_folded_and_exercises_numbered(docname):
    cells = learner_cells(docname)
    texts = markdown_of(cells)
    chapter_text = "\n".join("".join(c["source"]) for c in read_notebook(f"{docname}.ipynb")["cells"])
    exercises = len(re.findall(r"^(?:`{3,}|:{3,})\{exercise\}", chapter_text, re.M))
    solutions = len(re.findall(r"^(?:`{3,}|:{3,})\{solution-start\}", chapter_text, re.M))
    number = CHAPTERS[docname].number
    shown = [m for t in texts for m in re.findall(rf"^\*\*Exercise ({number}\.\d+)\*\*", t, re.M)]
    assert len(shown) == exercises, f"{docname}: {exercises} exercises, {len(shown)} shown as **Exercise {number}.k**"
    folded = {m for t in texts for m in re.findall(r"<details><summary><b>Solution to Exercise ([\d.]+)</b>", t)}
    assert len(folded) == solutions, f"{docname}: {solutions} solutions, folded ones for {sorted(folded)}"
    assert all(t.count("<details>") == t.count("</details>") for t in texts), f"{docname}: unbalanced <details>"


def test_a_solution_code_cell_is_collapsed():
    cells = learner_cells("book/01-by-hand")
    after = [i for i, c in enumerate(cells) if "<summary><b>Solution to Exercise 1.1</b></summary>" in
             "".join(c["source"])]
    assert after, "chapter 1's first solution is not folded"
    following = cells[after[0] + 1]
    meta = following["metadata"]
    assert following["cell_type"] == "code" and meta["jupyter"] == {"source_hidden": True, "outputs_hidden": True} \
        and meta["cellView"] == "form" and meta["collapsed"], f"the code cell of a solution is not collapsed: {meta}"


# ---------------------------------------------------------------------------------------------------------------
# Against the built site (tests/conftest.py's strict build).

def page_numbers(page_html):
    """{anchor: what the site shows}: equation numbers, figure and exercise numbers, section titles."""
    shown = {}
    for anchor, number in re.findall(r'id="(equation-[\w-]+)".*?<span class="eqno">\(([\d.]+)\)', page_html, re.S):
        shown.setdefault(anchor, number)
    for match in re.finditer(r'<(?:figure|div)[^>]*\bid="([\w-]+)"[^>]*>', page_html):
        end = page_html.find("</figure>", match.end()) if match.group(0).startswith("<figure") else -1
        caption = re.search(r'<span class="caption-number">(?:Fig\.|Exercise) ([\d.]+) </span>',
                            page_html[match.end():end if end > 0 else match.end() + 3000])
        if caption and match.group(1) not in shown:
            shown[match.group(1)] = caption.group(1)
    # A `(label)=` target before a heading: <span id="label"></span><h3><span class="section-number">2.4.1. </span>
    # Title<a class="headerlink" ...>; a reference to it shows the title without the section number.
    heading = r'<span id="([\w-]+)"></span>\s*<h\d>(?:<span class="section-number">[^<]*</span>)?(.*?)<a class="headerlink"'
    for anchor, title in re.findall(heading, page_html, re.S):
        shown[anchor] = html.unescape(re.sub(r"<[^>]+>", "", title)).strip()
    return shown


def page_section_numbers(page_html):
    """The section numbers of a page's headings, in order: ["2", "2.1", "2.2", ..., "2.4.1", ...]."""
    return re.findall(r'<h\d><span class="section-number">([\d.]+)\. </span>', page_html)


def site_reference_texts(built_site):
    """{anchor: {texts}} of every {ref} link the site shows (std-ref), over all chapter pages."""
    texts = {}
    for page in built_site.glob("book/*.html"):
        for anchor, text in re.findall(r'<a class="reference internal" href="[^"#]*#([\w-]+)"><span class="std '
                                       r'std-ref">(.*?)</span>', page.read_text(encoding="utf-8"), re.S):
            texts.setdefault(anchor, set()).add(" ".join(html.unescape(text).split()))
    return texts


def test_numbers_and_titles_are_what_the_site_shows(built_site):
    wrong = {}
    for docname, chapter in CHAPTERS.items():
        shown = page_numbers((built_site / f"{docname}.html").read_text(encoding="utf-8"))
        for label, target in chapter.targets.items():
            if target["docname"] != docname or label.startswith("_"):
                continue
            if target["kind"] == "section":
                expected = generator.smartquotes(target["title"])
            else:
                expected = target["number"] if target["number"] else generator.smartquotes(target["title"])
            expected = re.sub(r"`([^`]*)`", r"\1", expected)
            site = shown.get(target["anchor"])
            if site != expected:
                wrong[f"{docname}#{target['anchor']}"] = f"site shows {site!r}, learner notebook says {expected!r}"
    assert not wrong, f"numbers or titles that differ between the site and the learner notebooks: {wrong}"


def test_eq_and_numref_links_read_as_on_the_site(built_site):
    """Every {eq} and {numref} link of the site shows what the learner notebooks write for that label."""
    any_chapter = next(iter(CHAPTERS.values()))
    wrong, seen = {}, 0
    for page in built_site.glob("book/*.html"):
        text = page.read_text(encoding="utf-8")
        links = re.findall(r'<a class="reference internal" href="[^"#]*#(equation-[\w-]+)">(\([\d.]+\))</a>', text)
        links += re.findall(r'<a class="reference internal" href="[^"#]*#([\w-]+)"><span class="std std-numref">'
                            r'(.*?)</span>', text)
        for anchor, shown in links:
            label, role = (anchor[len("equation-"):], "eq") if anchor.startswith("equation-") else (anchor, "numref")
            ours = re.sub(r"^\[(.*)\]\(.*\)$", r"\1", any_chapter.reference(role, label))
            seen += 1
            if " ".join(html.unescape(shown).split()) != ours:
                wrong[f"{page.name}#{anchor}"] = f"site {shown!r}, learner notebook {ours!r}"
    assert seen, "found no {eq} or {numref} link on the site: the page layout changed, fix this test"
    assert not wrong, f"references that read differently on the site and in the learner notebooks: {wrong}"


def test_headings_are_numbered_as_on_the_site(built_site):
    wrong = {}
    for docname in CHAPTERS:
        site = page_section_numbers((built_site / f"{docname}.html").read_text(encoding="utf-8"))
        ours = [m for text in markdown_of(learner_cells(docname))
                for m in re.findall(r"^#{1,6} ([\d.]+)\. ", text, re.M)]
        if site != ours:
            wrong[docname] = f"site {site}, learner notebook {ours}"
    assert not wrong, f"section numbers that differ between the site and the learner notebooks: {wrong}"


def test_section_references_read_as_on_the_site(built_site):
    """A {ref} without text to a section shows its title on the site; the learner notebook shows the same title."""
    on_site = site_reference_texts(built_site)
    prose = "\n".join("".join(c["source"]) for chapter in CHAPTERS.values() for c in chapter.nb["cells"]
                      if c["cell_type"] == "markdown")
    untitled = set(re.findall(r"\{ref\}`([\w-]+)`", prose))  # {ref}`text <label>` shows its own text on both
    wrong = {}
    for docname, chapter in CHAPTERS.items():
        for label, target in chapter.targets.items():
            if (target["docname"] != docname or target["kind"] != "section" or label not in on_site
                    or label not in untitled):
                continue
            # The site's link text is the title as plain text; the notebook keeps its `code` (the same words).
            ours = generator.smartquotes(target["title"]).replace("`", "")
            # The site also shows a {ref}'s own text where one is given: the title must be among what it shows.
            if ours not in on_site[label]:
                wrong[label] = f"site {sorted(on_site[label])}, learner notebook {ours!r}"
    assert not wrong, f"section references that read differently on the site: {wrong}"


def test_glued_numbers_are_what_the_site_shows(built_site):
    wrong = {}
    for docname, chapter in CHAPTERS.items():
        page = (built_site / f"{docname}.html").read_text(encoding="utf-8")
        on_page = [html.unescape(t) for t in re.findall(r'<span class="pasted-text">(.*?)</span>', page)]
        text = "\n".join("".join(c["source"]) for c in chapter.nb["cells"] if c["cell_type"] == "markdown")
        in_notebook = [chapter.glue[name] for name in re.findall(r"\{glue(?::text)?\}`([^`]+)`", text)]
        if on_page != in_notebook:
            wrong[docname] = f"site {on_page[:8]}..., learner notebook {in_notebook[:8]}..."
    assert not wrong, f"glued numbers that differ between the site and the learner notebooks: {wrong}"


def test_cross_chapter_links_lead_to_an_anchor_of_the_site(built_site):
    site = generator.site_url()
    broken = {}
    for docname in CHAPTERS:
        for text in markdown_of(learner_cells(docname)):
            for url in re.findall(r"\]\((" + re.escape(site) + r"[^)\s]*)\)", text):
                page, _, anchor = url[len(site):].partition("#")
                path = built_site / page
                if not path.exists() or (anchor and f'id="{anchor}"' not in path.read_text(encoding="utf-8")):
                    broken.setdefault(docname, []).append(url)
    assert not broken, f"learner notebooks link to pages or anchors the site does not have: {broken}"


def repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    org_repo = urllib.parse.urlsplit(config["repository"]["url"]).path.strip("/").removesuffix(".git")
    return org_repo, config["repository"].get("branch", "main")


def test_launch_and_download_buttons_give_the_learner_notebook(built_site):
    org_repo, branch = repository()
    problems = {}
    for docname in CHAPTERS:
        page = (built_site / f"{docname}.html").read_text(encoding="utf-8")
        hrefs = set(map(html.unescape, re.findall(r'href="([^"]+)"', page)))
        learner = generator.learner_path(docname).relative_to(ROOT).as_posix()
        expected = [f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=tree/{learner}",
                    f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{learner}"]
        missing = [url for url in expected if url not in hrefs]
        source_links = sorted(h for h in hrefs if f"{docname}.ipynb" in h and "_sources" not in h)
        download = built_site / "_sources" / f"{docname}.ipynb"
        same = download.exists() and download.read_bytes() == generator.learner_path(docname).read_bytes()
        if missing or source_links or not same:
            problems[docname] = {"missing": missing, "links to the MyST source": source_links,
                                 "download is the learner notebook": same}
    assert not problems, f"chapter pages whose buttons do not give the learner notebook: {problems}"


def test_learner_notebooks_are_not_pages_of_the_site(built_site):
    assert not (built_site / "notebooks").exists(), "notebooks/ was built into the site as pages"
