"""Make the graded assignments from the masters (`make assignments`): student notebooks and autograders.

Usage: python assignments/build.py [--out DIR] [--no-run-tests] [MASTER ...]   (default: every assignments/ch*.ipynb)

For each master this first checks its points (see check_points: a question's `# BEGIN QUESTION` points must equal
the sum of its test cells' points, which is what otter really grades out of, and the "(N points)" of its text), then
runs `otter assign`, which also runs the master's tests against its solutions and fails if one does not pass, and
writes under _build/assignments/:

    student/NAME.ipynb                the notebook to hand out: no solutions, no hidden tests, no outputs
    public/downloads/NAME.ipynb       the same, where the site's build picks it up (html_extra_path)
    autograder/NAME-autograder.zip    for `otter run` and Gradescope: holds the hidden tests, never publish it
    solutions/NAME.ipynb              the master's solutions with its check cells, for instructors only
    catalogue.md                      the guide's table of questions and points, made from every master

The student notebook carries its public tests in its first code cell, which writes them to a temporary folder for
`grader.check`. Otter 7 can also read tests from the notebook's metadata, but only when it can open the .ipynb file by
name, which Colab never can (and a renamed download cannot): a test in the cell works in Jupyter, Binder and Colab.

Everything is built into a fresh temporary folder first; the output folder is changed only when every master built:
a build of every master replaces it whole (no stale files from an earlier build stay), a build of some masters
replaces their files only. If one master fails, nothing is changed and the errors are printed at the end.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assignments"
OUT = ROOT / "_build" / "assignments"
OTTER_VERSION = "7.0.0"

SETUP_CELL = '''\
#@title Setup: run this cell first, and do not change it
# It makes grader.check("q1") work. It installs the checker, otter-grader, where it
# is missing (as on Colab; this takes about a minute) and stores the public tests
# of every question. Your instructor grades with further, hidden tests.
try:
    import otter
except ImportError:
    %pip install -q otter-grader=={version}
    import otter  # works at once: no need to restart, whatever pip says
import os as _os
import tempfile as _tempfile

_public_tests = {{
{tests}}}
_tests_dir = _tempfile.mkdtemp(prefix="otter-tests-")
for _name, _source in _public_tests.items():
    with open(_os.path.join(_tests_dir, _name + ".py"), "w") as _file:
        _file.write(_source)
grader = otter.Notebook(tests_dir=_tests_dir)
'''


def masters(args):
    if args:
        return [pathlib.Path(a).resolve() for a in args]
    return sorted(MASTERS.glob("ch*.ipynb"))


def _config_value(source, key):
    match = re.search(rf"^{key}:\s*(\S+)\s*$", source, flags=re.M)
    return match.group(1) if match else None


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def check_points(master):
    """The points of each question of a master must agree; returns an error message, or None.

    otter grades a question out of the SUM of its test cells' `points:`, and silently ignores a `# BEGIN QUESTION`
    `points:` that disagrees. So for every question: BEGIN QUESTION points == sum of its tests' points == the
    "(N points)" its text states, if it states one.
    """
    nb = nbformat.read(master, as_version=4)
    problems, question, in_tests = [], None, False
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "raw" and source.startswith("# BEGIN QUESTION"):
            question = {"name": _config_value(source, "name") or "?", "points": _number(_config_value(source, "points")),
                        "tests": [], "text": None}
        elif cell.cell_type == "raw" and source.startswith("# END QUESTION") and question:
            name, declared, tests = question["name"], question["points"], question["tests"]
            if declared is None:
                problems.append(f"{name}: its # BEGIN QUESTION cell has no number after 'points:'")
            elif tests and None in tests:
                problems.append(f"{name}: a test cell has no 'points:' in its TEST CONFIG; give every test its points")
            elif tests and abs(sum(tests) - declared) > 1e-9:
                problems.append(f"{name}: # BEGIN QUESTION says points: {declared:g}, but its test cells' points add up "
                                f"to {sum(tests):g} ({' + '.join(f'{t:g}' for t in tests)}), and otter grades out of "
                                f"that sum")
            if declared is not None and question["text"] is not None and abs(question["text"] - declared) > 1e-9:
                problems.append(f"{name}: the question's text says ({question['text']:g} points), but # BEGIN QUESTION "
                                f"says points: {declared:g}")
            question = None
        elif cell.cell_type == "raw" and source in ("# BEGIN TESTS", "# END TESTS"):
            in_tests = source == "# BEGIN TESTS"
        elif question and in_tests and cell.cell_type == "code":
            config = re.search(r'"""\s*# BEGIN TEST CONFIG(.*?)"""\s*# END TEST CONFIG', source, flags=re.S)
            question["tests"].append(_number(_config_value(config.group(1), "points")) if config else None)
        elif question and cell.cell_type == "markdown" and question["text"] is None:
            stated = re.search(r"\((\d+(?:\.\d+)?) points?\)", source)
            if stated:
                question["text"] = float(stated.group(1))
    if problems:
        return (f"{master.name}: the points do not add up, so it was not built:\n  " + "\n  ".join(problems) +
                "\n  Make them agree: each test cell's 'points:', the # BEGIN QUESTION 'points:', the \"(N points)\" "
                "in the question's text, and the table in book/instructors.md.")
    return None


def setup_cell(public_tests):
    """The first code cell of a student notebook: install otter if missing, write the public tests, make `grader`."""
    entries = []
    for name, source in sorted(public_tests.items()):
        if "'''" in source or source.endswith("\\"):
            raise ValueError(f"test {name} cannot be stored in a r'''...''' string; rephrase it")
        entries.append(f"    {name!r}: r'''{source}''',\n")
    cell = nbformat.v4.new_code_cell(SETUP_CELL.format(version=OTTER_VERSION, tests="".join(entries)))
    # Folded away in Colab (cellView form) and JupyterLab (source_hidden); locked against edits.
    cell.metadata = {"cellView": "form", "jupyter": {"source_hidden": True}, "editable": False, "deletable": False,
                     "tags": ["otter-setup"]}
    return cell


def student_notebook(path):
    """Turn otter's student notebook into a self-contained one: tests in the setup cell, no outputs."""
    nb = nbformat.read(path, as_version=4)
    otter_meta = nb.metadata.get("otter", {})
    public_tests = otter_meta.pop("tests", {})
    otter_meta.pop("OK_FORMAT", None)  # otter rejects one without the other
    if not public_tests:
        raise ValueError(f"{path}: otter wrote no tests into the student notebook's metadata")
    first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(first_code, setup_cell(public_tests))
    for cell in nb.cells:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.nbformat_minor = 4  # no cell ids: otter's cells have none, and 4.5 would require them
    return nb


def question_table(master):
    """[(question, points, its title)] of a master, from its # BEGIN QUESTION cells and the "(N points): title" text."""
    nb = nbformat.read(master, as_version=4)
    rows, current = [], None
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "raw" and source.startswith("# BEGIN QUESTION"):
            current = [_config_value(source, "name"), _number(_config_value(source, "points")), ""]
            rows.append(current)
        elif current and cell.cell_type == "markdown" and not current[2]:
            title = re.search(r"\(\d+(?:\.\d+)? points?\):\s*(.*?)\.?\*\*", source)
            current[2] = title.group(1) if title else ""
    return rows


def catalogue(paths=None):
    """The instructor guide's table of assignments, questions and points, made from the masters (one source).

    The mistakes column comes from tests/grading_catalogue.py, the wrong answers the tests check each question
    against; book/instructors.md includes the result, _build/assignments/catalogue.md."""
    paths = sorted(paths or MASTERS.glob("ch*.ipynb"))
    mistakes = {}
    spec_path = ROOT / "tests" / "grading_catalogue.py"
    if spec_path.is_file():
        import importlib.util
        spec = importlib.util.spec_from_file_location("grading_catalogue", spec_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        mistakes = module.MISTAKES
    lines = ["| Assignment (student notebook) | Question | Points | The question | Mistakes its tests catch, among "
             "others |", "|---|---|---|---|---|"]
    totals = []
    for number, path in enumerate(paths, start=1):
        rows = question_table(path)
        totals.append(sum(points or 0 for _, points, _ in rows))
        for i, (question, points, title) in enumerate(rows):
            first = (f"{number} · <a href=\"../downloads/{path.stem}.ipynb\" download>{path.stem}.ipynb</a>"
                     if i == 0 else "")
            caught = [label for label, *_ in mistakes.get(path.stem, {}).get(question, [])]
            shown = "; ".join(caught[:3]) + (f" ({len(caught)} in all)" if caught else "")
            lines.append(f"| {first} | {question} | {points:g} | {title} | {shown} |")
    lines += ["", "Totals: " + ", ".join(f"{t:g}" for t in totals[:-1]) + f" and {totals[-1]:g} points."]
    return "\n".join(lines) + "\n"


def build(master, out=OUT, run_tests=True):
    """Check the points of one master and run otter assign on it, writing into `out`; returns an error message or None."""
    name = master.stem
    problem = check_points(master)
    if problem:
        return problem
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(pathlib.Path(sys.executable).with_name("otter")), "assign", "--no-pdfs", str(master), tmp]
        if not run_tests:
            command.insert(2, "--no-run-tests")
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            return f"otter assign failed on {master.name}:\n{result.stdout}\n{result.stderr}"
        tmp = pathlib.Path(tmp)
        for folder in ("student", "autograder", "solutions", "public/downloads"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(tmp / "student" / f"{name}.ipynb"), out / "student" / f"{name}.ipynb")
        # The site publishes public/ (html_extra_path in _config.yml): the student notebook, nothing else.
        shutil.copyfile(out / "student" / f"{name}.ipynb", out / "public" / "downloads" / f"{name}.ipynb")
        (zip_file,) = (tmp / "autograder").glob(f"{name}-autograder_*.zip")
        shutil.copyfile(zip_file, out / "autograder" / f"{name}-autograder.zip")
        shutil.copyfile(tmp / "autograder" / f"{name}.ipynb", out / "solutions" / f"{name}.ipynb")
    print(f"built {master.name}", flush=True)
    return None


def build_all(paths, out=OUT, run_tests=True):
    """Build masters two at a time (otter assign mostly waits on a kernel); returns the error messages.

    Builds into a fresh temporary folder next to `out` and changes `out` only if every master built: when `paths` are
    all the masters, `out` is replaced whole; otherwise only the files of `paths` are replaced in it.
    """
    paths = [pathlib.Path(path).resolve() for path in paths]
    out = pathlib.Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            errors = [error for error in pool.map(lambda path: build(path, staging, run_tests), paths) if error]
        if errors:
            return errors
        (staging / "catalogue.md").write_text(catalogue(), encoding="utf-8")
        everything = sorted(paths) == sorted(path.resolve() for path in MASTERS.glob("ch*.ipynb"))
        if everything or not out.exists():
            old = out.with_name(f".{out.name}-old-{os.getpid()}")
            if out.exists():
                out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            for file in staging.rglob("*"):
                if file.is_file():
                    target = out / file.relative_to(staging)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(file, target)
        return []
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masters", nargs="*", help="master notebooks (default: every assignments/ch*.ipynb)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="output folder (default: _build/assignments)")
    parser.add_argument("--no-run-tests", action="store_true",
                        help="skip otter's check that the solutions pass their own tests")
    args = parser.parse_args()
    paths = masters(args.masters)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        sys.exit(f"No such master notebook: {', '.join(missing)}")
    out = args.out.resolve()
    failures = build_all(paths, out, run_tests=not args.no_run_tests)
    if failures:
        print("\n" + "\n\n".join(failures), file=sys.stderr)
        sys.exit(f"\nBUILD FAILED: {len(failures)} of {len(paths)} assignments did not build (errors above). "
                 f"Nothing was changed in {out}.")
    print(f"Built {len(paths)} assignment{'s' if len(paths) != 1 else ''} into {out}/{{student,autograder,solutions}}.")
