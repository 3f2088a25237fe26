"""Write the learner notebooks: each chapter with its MyST turned into plain Markdown that Colab, Binder and a
downloaded copy render as the site does (`make notebooks`, after the chapters are re-run).

The chapters (book/0N-*.ipynb) are written for the site: glued numbers, {eq}/{ref}/{numref} references, labelled
equations, exercise and solution directives, admonitions. Jupyter and Colab show those as raw MyST. This tool writes
notebooks/0N-*.ipynb with the same cells and stored outputs and the Markdown resolved:

* ``{glue:text}`name` `` becomes the glued text, read from the chapter's own glue cell outputs;
* ``{eq}`label` `` becomes "(1.2)", ``{numref}`` "Fig. 2.1" or "Section 2.4.1", ``{ref}`` the target's title ("Exercise 4.3" for an
  exercise); a target in another chapter gets the chapter ("chapter 2, ...") and a link to that page on the site;
* headings get the site's section numbers ("## 2.4. ...");
* a labelled equation ``$$ ... $$ (label)`` gets ``\\tag{1.2}``; ``(label)=`` targets go;
* an exercise becomes "**Exercise 1.2**" and its text; a solution is folded: its Markdown in
  ``<details><summary>Solution to Exercise 1.2</summary> ... </details>`` (HTML cannot span cells, so each of its
  Markdown cells gets its own), its code cells collapsed: ``jupyter.source_hidden``/``outputs_hidden`` (JupyterLab,
  Notebook 7), ``cellView: form`` (Colab: code behind "Show code"), ``collapsed`` (classic notebook: outputs);
  ``hide-input`` code (plotting) is folded the same way, its outputs shown;
* an admonition becomes a blockquote with a bold title; a captioned figure gets its "**Fig. 1.1** caption" below it.

Numbers are computed as Sphinx numbers them (numbered chapters in _toc.yml order, then the order of appearance in the
chapter); tests/test_learner_notebooks.py checks them against the built site. A MyST role or directive this tool does
not know stops it with an error, so nothing unresolved reaches a learner.

Usage: python tools/learner_notebooks.py [--check]   (--check: exit 1 if a committed learner notebook differs)
"""
import ast
import copy
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks"
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w:-]+)\}\s*(.*?)\s*$")
CODE_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
LABELLED_EQ_END = re.compile(r"\$\$[ \t]*\(([\w-]+)\)[ \t]*$", re.M)
TARGET = re.compile(r"^\(([\w-]+)\)=[ \t]*\n", re.M)
ADMONITIONS = {"note", "warning", "tip", "important", "caution", "attention", "danger", "error", "hint", "seealso",
               "admonition"}


class MystError(ValueError):
    pass


def config():
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def site_url():
    return config()["html"]["baseurl"].rstrip("/") + "/"


def chapters():
    """(number, docname) of every numbered chapter, in _toc.yml order, as Sphinx numbers them."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    found, number = [], 0
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            docname = entry["file"].removesuffix(".ipynb").removesuffix(".md")
            if part.get("numbered") and (ROOT / f"{docname}.ipynb").exists():
                number += 1
                found.append((number, docname))
    return found


def source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def directive_options(lines):
    """Split a directive body's leading ':key: value' lines from its content."""
    options = {}
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        key, _, value = lines.pop(0)[1:].partition(":")
        options[key.strip()] = value.strip()
    while lines and not lines[0].strip():
        lines.pop(0)
    return options, lines


def blocks(text):
    """Split Markdown into ("text", str), ("code", str) and ("directive", name, argument, options, body) pieces."""
    lines, pieces, plain = text.split("\n"), [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = FENCE.match(line)
        code = CODE_FENCE.match(line) if not directive else None
        if directive:
            fence, name, argument = directive.groups()
            body, i = [], i + 1
            while i < len(lines) and not re.fullmatch(re.escape(fence[0]) + "{%d,}\\s*" % len(fence), lines[i]):
                body.append(lines[i])
                i += 1
            if plain:
                pieces.append(("text", "\n".join(plain)))
                plain = []
            options, body = directive_options(body)
            pieces.append(("directive", name, argument, options, "\n".join(body)))
            i += 1
            continue
        if code:
            fence = code.group(1)
            block, i = [line], i + 1
            while i < len(lines) and not re.fullmatch(re.escape(fence[0]) + "{%d,}\\s*" % len(fence), lines[i]):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])
            if plain:
                pieces.append(("text", "\n".join(plain)))
                plain = []
            pieces.append(("code", "\n".join(block)))
            i += 1
            continue
        plain.append(line)
        i += 1
    if plain:
        pieces.append(("text", "\n".join(plain)))
    return pieces


def headings(text):
    """(line index, level, title) of every ATX heading of a Markdown cell outside code blocks and directives."""
    found, fence = [], None
    for index, line in enumerate(text.split("\n")):
        if fence:
            if re.fullmatch(re.escape(fence[0]) + "{%d,}\\s*" % len(fence), line):
                fence = None
            continue
        opening = re.match(r"^(`{3,}|~{3,}|:{3,})", line)
        if opening and (opening.group(1)[0] != ":" or FENCE.match(line)):
            fence = opening.group(1)
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading:
            found.append((index, len(heading.group(1)), heading.group(2)))
    return found


class SectionNumbers:
    """Numbers headings as the site does in a numbered chapter: the title "2.", then "2.1.", "2.4.1." ..."""

    def __init__(self, chapter):
        self.chapter, self.counts = chapter, []

    def next(self, level):
        if level == 1:
            self.counts = []
            return f"{self.chapter}"
        depth = level - 1
        self.counts = (self.counts + [0] * depth)[:depth]
        self.counts[-1] += 1
        return ".".join([str(self.chapter)] + [str(c) for c in self.counts])


def smartquotes(text):
    """Straight quotes in a title as the site shows them (Sphinx's smartquotes): "x" -> “x”, it's -> it’s."""
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)
    return re.sub(r"(\w)'", "\\1\u2019", text)


# ---------------------------------------------------------------------------------------------------------------
# What the site numbers and names: collected from every chapter before any is written.

def collect(number, docname, nb):
    """Labels of one chapter: {label: {"kind", "number", "title", "docname", "chapter", "anchor"}}; and its glue."""
    targets, glue = {}, {}
    counts = {"equation": 0, "figure": 0, "exercise": 0}

    def add(label, kind, title=None, anchor=None):
        if label in targets:
            raise MystError(f"{docname}: label {label!r} defined twice")
        numbered = kind in counts
        if numbered:
            counts[kind] += 1
        targets[label] = {"kind": kind, "number": f"{number}.{counts[kind]}" if numbered else None, "title": title,
                          "docname": docname, "chapter": number, "anchor": anchor or label}

    sections = SectionNumbers(number)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            figure = cell["metadata"].get("mystnb", {}).get("figure", {})
            if figure.get("caption"):
                add(figure.get("name") or f"_figure{counts['figure'] + 1}", "figure", figure["caption"])
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name:
                    data = output["data"]
                    text = data.get("application/papermill.record/text/plain", data.get("text/plain", ""))
                    try:
                        value = ast.literal_eval(text)
                        glue[name] = value if isinstance(value, str) else text
                    except (ValueError, SyntaxError):
                        glue[name] = text
            continue
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        numbered = {line_starts[index]: (sections.next(level), title) for index, level, title in headings(text)}
        # Targets and labelled equations, in the order they appear.
        events = [(m.start(), "target", m) for m in TARGET.finditer(text)]
        events += [(m.start(), "equation", m) for m in LABELLED_EQ_END.finditer(text)]
        events += [(m.start(), "exercise", m) for m in re.finditer(r"^(`{3,}|:{3,})\{exercise\}.*$", text, re.M)]
        for position, kind, match in sorted(events, key=lambda e: e[0]):
            if kind == "equation":
                add(match.group(1), "equation", anchor=f"equation-{match.group(1)}")
            elif kind == "target":
                start = match.end() + len(text[match.end():]) - len(text[match.end():].lstrip("\n"))
                if start not in numbered:
                    raise MystError(f"{docname}: target ({match.group(1)})= is not followed by a heading")
                section_number, title = numbered[start]
                add(match.group(1), "section", title)
                targets[match.group(1)]["number"] = section_number
            else:
                piece = blocks(text[position:])[0]
                options = piece[3]
                if "nonumber" in options:
                    add(options.get("label") or f"_ex{position}", "exercise-unnumbered", piece[2] or "Exercise")
                else:
                    add(options.get("label") or f"_exercise{counts['exercise'] + 1}", "exercise")
    return targets, glue


# ---------------------------------------------------------------------------------------------------------------
# Rewriting one chapter.

class Chapter:
    def __init__(self, number, docname, nb, targets, glue):
        self.number, self.docname, self.nb, self.targets, self.glue = number, docname, nb, targets, glue
        self.page = site_url() + docname + ".html"

    def link(self, target):
        return f"{site_url()}{target['docname']}.html#{target['anchor']}"

    def shown(self, target):
        """What the site shows for a {ref} without text."""
        if target["kind"] == "exercise":
            return f"Exercise {target['number']}"
        if target["kind"] == "figure":
            return smartquotes(target["title"])
        if target["kind"] == "equation":
            raise MystError(f"{self.docname}: {{ref}} to equation {target['anchor']}: use {{eq}}")
        return smartquotes(target["title"])

    def reference(self, role, content):
        explicit = re.fullmatch(r"(.*\S)\s*<([\w-]+)>", content, re.S)
        text, label = (explicit.group(1), explicit.group(2)) if explicit else (None, content.strip())
        if label not in self.targets:
            raise MystError(f"{self.docname}: {{{role}}}`{content}`: no label {label!r} in any chapter")
        target = self.targets[label]
        here = target["docname"] == self.docname
        if role == "eq":
            if target["kind"] != "equation":
                raise MystError(f"{self.docname}: {{eq}} to {label!r}, which is not an equation")
            shown = f"({target['number']})"
        elif role == "numref":
            if target["number"] is None:
                raise MystError(f"{self.docname}: {{numref}} to unnumbered {label!r}")
            prefix = {"figure": "Fig.", "exercise": "Exercise", "equation": "Eq.", "section": "Section"}[
                target["kind"]]
            shown = (text.replace("%s", target["number"]).replace("{number}", target["number"]) if text
                     else f"{prefix} {target['number']}")
        else:
            shown = text or self.shown(target)
        shown = " ".join(shown.split())
        if here:
            return shown
        # "(1.5)", "Fig. 2.1" and "Exercise 3.2" carry their chapter; a title does not.
        if role == "ref" and not text and target["kind"] in ("section", "figure"):
            shown = f"chapter {target['chapter']}, {shown}"
        return f"[{shown}]({self.link(target)})"

    def document(self, content):
        """{doc}`path` or {doc}`text <path>`: the page's title (or the text), linked to the page on the site."""
        explicit = re.fullmatch(r"(.*\S)\s*<([^<>]+)>", content, re.S)
        text, path = (explicit.group(1), explicit.group(2)) if explicit else (None, content.strip())
        docname = str(pathlib.PurePosixPath(self.docname).parent / path) if not path.startswith("/") else path[1:]
        docname = re.sub(r"\.(ipynb|md)$", "", docname)
        if text is None:
            for suffix in (".ipynb", ".md"):
                page = ROOT / (docname + suffix)
                if page.exists():
                    raw = page.read_text(encoding="utf-8")
                    cells = json.loads(raw)["cells"] if suffix == ".ipynb" else [{"source": raw}]
                    text = next((line[2:].strip() for cell in cells for line in source(cell).split("\n")
                                 if line.startswith("# ")), None)
                    break
            if text is None:
                raise MystError(f"{self.docname}: {{doc}}`{content}`: no page {docname}")
        return f"[{smartquotes(text)}]({site_url()}{docname}.html)"

    def inline(self, text):
        def replace(match):
            role, content = match.groups()
            if role in ("glue:text", "glue", "glue:md"):
                if content not in self.glue:
                    raise MystError(f"{self.docname}: {{glue:text}}`{content}` has no glued value in the notebook")
                return self.glue[content]
            if role in ("eq", "ref", "numref"):
                return self.reference(role, content)
            if role == "doc":
                return self.document(content)
            if role == "math":
                return f"${content}$"
            raise MystError(f"{self.docname}: role {{{role}}} is not handled by tools/learner_notebooks.py")

        text = ROLE.sub(replace, text)
        text = TARGET.sub("", text)

        def tag(match):
            return f"\\tag{{{self.targets[match.group(1)]['number']}}}\n$$"

        return LABELLED_EQ_END.sub(tag, text)

    def markdown(self, text):
        """Markdown of one piece outside directives, and every directive turned into plain Markdown."""
        return self.joined(blocks(text))

    def joined(self, pieces):
        """Text pieces with their roles resolved, code as it is, directives as plain Markdown, one after the other."""
        out = []
        for piece in pieces:
            if piece[0] == "text":
                out.append(self.inline(piece[1]))
            elif piece[0] == "code":
                out.append(piece[1])
            else:
                out.append(self.directive(*piece[1:]))
        return "\n".join(out)

    def directive(self, name, argument, options, body):
        if name == "exercise":
            label = options.get("label")
            target = self.targets.get(label) if label else None
            title = f"Exercise {target['number']}" if target and target["number"] else (argument or "Exercise")
            if argument and target and target["number"]:
                title += f" ({argument})"
            return f"**{title}**\n\n" + self.markdown(body)
        if name in ADMONITIONS:
            title = argument if (name == "admonition" or argument) else name.capitalize()
            content = self.markdown(body)
            quoted = "\n".join(("> " + line).rstrip() for line in content.split("\n"))
            return f"> **{self.inline(title)}**\n>\n{quoted}"
        if name == "math":
            label = options.get("label")
            tag = f"\n\\tag{{{self.targets[label]['number']}}}" if label in self.targets else ""
            return f"$$\n{body}{tag}\n$$"
        if name == "solution":  # a solution in one cell (no code cells in it)
            target = self.targets.get(argument.strip(), {"number": None})
            if target["number"] is None:
                raise MystError(f"{self.docname}: solution to unknown exercise {argument!r}")
            return (f"<details><summary><b>Solution to Exercise {target['number']}</b></summary>\n\n"
                    f"{self.markdown(body)}\n\n</details>")
        raise MystError(f"{self.docname}: directive {{{name}}} is not handled by tools/learner_notebooks.py")

    def split_solutions(self, text, inside):
        """Pieces (in_solution, markdown) of one cell, and whether the cell ends inside a solution."""
        pieces, current = [], []
        for piece in blocks(text):
            if piece[0] == "directive" and piece[1] in ("solution-start", "solution-end"):
                if current:
                    pieces.append((inside, current))
                    current = []
                if piece[1] == "solution-start":
                    inside = self.targets.get(piece[2].strip(), {"number": None})
                    if inside["number"] is None:
                        raise MystError(f"{self.docname}: solution to unknown exercise {piece[2]!r}")
                else:
                    inside = None
                continue
            current.append(piece)
        if current:
            pieces.append((inside, current))
        return pieces, inside

    def render(self, pieces):
        return self.joined(pieces).strip("\n")

    def learner(self):
        nb = copy.deepcopy(self.nb)
        cells, inside = [], None
        title = next((line.lstrip("# ").strip() for cell in nb["cells"] if cell["cell_type"] == "markdown"
                      for line in source(cell).split("\n") if line.startswith("# ")), self.docname)
        cells.append({"cell_type": "markdown", "id": "learner-notebook-about", "metadata": {}, "source": (
            f"*Chapter {self.number} of [{config()['title']}]({site_url()}), as a notebook to run (Colab, Binder "
            f"or a download). The site shows [the same chapter]({self.page}) with its figures, numbered "
            f"equations and exercises; here solutions are folded: open them once you have tried.*")})
        sections = SectionNumbers(self.number)
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                lines = source(cell).split("\n")
                for index, level, title in headings(source(cell)):
                    lines[index] = f"{'#' * level} {sections.next(level)}. {title}"  # as the site numbers it
                pieces, ends_inside = self.split_solutions("\n".join(lines), inside)
                parts = []
                for solution, chunk in pieces:
                    text = self.render(chunk)
                    if not text.strip():
                        continue
                    if solution:
                        continued = " (continued)" if solution is inside else ""
                        text = (f"<details><summary><b>Solution to Exercise {solution['number']}</b>{continued}"
                                f"</summary>\n\n{text}\n\n</details>")
                    parts.append(text)
                if not parts and ends_inside and ends_inside is not inside:
                    # A cell that only opens a solution whose first part is code: say so where it starts.
                    parts.append(f"**Solution to Exercise {ends_inside['number']}** (the cells below are folded: "
                                 f"open them once you have tried)")
                inside = ends_inside
                if not parts:
                    continue
                cell["source"] = "\n\n".join(parts)
                cell["metadata"] = {k: v for k, v in cell["metadata"].items() if k != "tags"}
                cells.append(cell)
                continue
            if cell["cell_type"] == "code":
                tags = cell["metadata"].get("tags", [])
                outputs = cell.get("outputs", [])
                if outputs and all("scrapbook" in o.get("metadata", {}) for o in outputs):
                    cell["outputs"] = []  # glue records: the site reads them, Jupyter would show "no renderer"
                hidden = {}
                if inside or "hide-input" in tags or "remove-input" in tags or "remove-cell" in tags:
                    hidden["source_hidden"] = True
                if inside:
                    hidden["outputs_hidden"] = True
                if hidden:
                    cell["metadata"].setdefault("jupyter", {}).update(hidden)
                    cell["metadata"]["cellView"] = "form"  # Colab: the code folded behind "Show code"
                if inside:
                    cell["metadata"]["collapsed"] = True  # the classic notebook: outputs folded
                cells.append(cell)
                figure = cell["metadata"].get("mystnb", {}).get("figure", {})
                if figure.get("caption"):
                    target = self.targets[figure.get("name") or next(
                        k for k, t in self.targets.items() if t["kind"] == "figure" and t["title"] == figure["caption"])]
                    cells.append({"cell_type": "markdown", "id": f"{cell.get('id', 'figure')}-caption"[:64],
                                  "metadata": {}, "source": f"**Fig. {target['number']}** {figure['caption']}"})
                continue
            cells.append(cell)
        if inside:
            raise MystError(f"{self.docname}: a solution-start without its solution-end")
        nb["cells"] = cells
        # Only what the notebook format allows at the top (a chapter may carry an editing script's stray key).
        return {key: nb[key] for key in ("cells", "metadata", "nbformat", "nbformat_minor")}


def all_chapters():
    """{docname: Chapter} for every numbered chapter, with the labels of the whole book."""
    loaded, targets = [], {}
    for number, docname in chapters():
        nb = json.loads((ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))
        found, glue = collect(number, docname, nb)
        clash = set(found) & set(targets)
        if clash:
            raise MystError(f"{docname}: labels also defined in another chapter: {sorted(clash)}")
        targets.update(found)
        loaded.append((number, docname, nb, glue))
    return {docname: Chapter(number, docname, nb, targets, glue) for number, docname, nb, glue in loaded}


def learner_path(docname):
    return OUT / (pathlib.PurePosixPath(docname).name + ".ipynb")


def dumps(nb):
    """As nbformat writes a notebook (one space indent, sorted keys, a final newline)."""
    def lines(value):
        return value if isinstance(value, list) else value.splitlines(keepends=True)

    for cell in nb["cells"]:
        cell["source"] = lines(cell["source"])
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    OUT.mkdir(exist_ok=True)
    stale = []
    for docname, chapter in all_chapters().items():
        path = learner_path(docname)
        text = dumps(chapter.learner())
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run `make notebooks` or `python tools/learner_notebooks.py`): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
