"""Make the graded assignments from the masters (`make assignments`): student notebooks and autograders.

Usage: python assignments/build.py [--out DIR] [--no-run-tests] [MASTER ...]   (default: every assignments/ch*.ipynb)

For each master this runs `otter assign`, which also runs the master's tests against its solutions and fails if one
does not pass, and writes under _build/assignments/:

    student/NAME.ipynb                the notebook to hand out: no solutions, no hidden tests, no outputs
    public/downloads/NAME.ipynb       the same, where the site's build picks it up (html_extra_path)
    autograder/NAME-autograder.zip    for `otter run` and Gradescope: holds the hidden tests, never publish it
    solutions/NAME.ipynb              the master's solutions with its check cells, for instructors only

The student notebook carries its public tests in its first code cell, which writes them to a temporary folder for
`grader.check`. Otter 7 can also read tests from the notebook's metadata, but only when it can open the .ipynb file by
name, which Colab never can (and a renamed download cannot): a test in the cell works in Jupyter, Binder and Colab.
"""
import argparse
import concurrent.futures
import os
import pathlib
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


def build(master, out=OUT, run_tests=True):
    """Run otter assign on one master; returns an error message, or None if it worked."""
    name = master.stem
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(pathlib.Path(sys.executable).with_name("otter")), "assign", "--no-pdfs", str(master), tmp]
        if not run_tests:
            command.insert(2, "--no-run-tests")
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            return f"otter assign failed on {master.name}:\n{result.stdout}\n{result.stderr}"
        tmp = pathlib.Path(tmp)
        for folder in ("student", "autograder", "solutions"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(tmp / "student" / f"{name}.ipynb"), out / "student" / f"{name}.ipynb")
        # The site publishes public/ (html_extra_path in _config.yml): the student notebook, nothing else.
        (out / "public" / "downloads").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "student" / f"{name}.ipynb", out / "public" / "downloads" / f"{name}.ipynb")
        (zip_file,) = (tmp / "autograder").glob(f"{name}-autograder_*.zip")
        shutil.copyfile(zip_file, out / "autograder" / f"{name}-autograder.zip")
        shutil.copyfile(tmp / "autograder" / f"{name}.ipynb", out / "solutions" / f"{name}.ipynb")
    print(f"{master.name} -> {out}/{{student,autograder,solutions}}/{name}*", flush=True)
    return None


def build_all(paths, out=OUT, run_tests=True):
    """Build masters two at a time (otter assign mostly waits on a kernel); returns the error messages."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        errors = pool.map(lambda path: build(path, out, run_tests), paths)
        return [error for error in errors if error]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masters", nargs="*", help="master notebooks (default: every assignments/ch*.ipynb)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="output folder (default: _build/assignments)")
    parser.add_argument("--no-run-tests", action="store_true",
                        help="skip otter's check that the solutions pass their own tests")
    args = parser.parse_args()
    failures = build_all(masters(args.masters), args.out.resolve(), run_tests=not args.no_run_tests)
    if failures:
        sys.exit("\n".join(failures))
