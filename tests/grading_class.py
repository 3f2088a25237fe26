"""A made-up class for the grading tests and `make bench`: solutions, blanks, mistakes, tricks, a stall, strays.

`make_class(build, folder)` writes 30 notebooks of assignment 1 (and one of assignment 2) into `folder` and returns
{file name: (expected status, expected total or None)}. The tricks are the ones an issue reported against `otter run`:
each must leave the score where the notebook's real answers put it.

Also usable as a script: python tests/grading_class.py BUILD_DIR OUT_DIR
"""
import json
import pathlib
import re
import sys

import nbformat

SOLUTIONS_CH1 = {
    "q1": "def gradient(x, y, y_pred):\n    return np.mean(2 * x * (y_pred - y))\n",
    "q2": """def train(learning_rate, n_epochs):
    w = 0.0
    w_history = []
    loss_history = []
    for epoch in range(n_epochs):
        y_pred = forward(X, w)
        l = loss(y_pred, Y)
        dw = gradient(X, Y, y_pred)
        w -= learning_rate * dw
        w_history.append(w)
        loss_history.append(l)
    return w_history, loss_history


w_history, loss_history = train(0.01, 10)
""",
    "q3": "def lr_one_step(x):\n    return 1 / (2 * np.mean(x ** 2))\n\n\n"
          "def lr_limit(x):\n    return 1 / np.mean(x ** 2)\n",
}

# Tricks: each is a cell put first in an otherwise blank (or solved) notebook.
TRICKS = {
    # replaces the method otter runs every test file with, so that every test "passes"
    "patch-otter-runner": '''
import otter.test_files.exception_test as _e
from otter.test_files.abstract_test import TestCaseResult as _R
def _run(self, env):
    self.test_case_results = [_R(test_case=tc, message="passed", passed=True) for tc in self.test_cases]
_e.ExceptionTestFile.run = _run
''',
    # inserts `return` at the top of every test function in tests/*.py
    "neuter-test-files": '''
import glob, re
for _path in glob.glob("tests/*.py") + glob.glob("/autograder/source/tests/*.py"):
    _text = open(_path).read()
    open(_path, "w").write(re.sub(r"(def test_\\w+\\(.*\\):\\n)", r"\\1    return\\n", _text))
''',
    # every comparison says "close enough"
    "patch-allclose": "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n",
    # the tests folder removed
    "remove-tests": 'import shutil\nshutil.rmtree("tests", ignore_errors=True)\n',
    # a detached process that should outlive the grading
    "detached-process": '''
import subprocess
subprocess.Popen(["sleep", "4242.5"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
import os
if os.fork() == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "4243.5"])
''',
}

# A gradient that raises on the hidden test's data with whatever it can find of the tests and solutions in its
# message, which otter would copy into the published feedback.
LEAK_TESTS = '''
import glob, os
def _look():
    found = []
    for pattern in ["tests/*.py", "/autograder/source/tests/*.py", "../tests/*.py", "/tmp/*/tests/*.py"]:
        for path in glob.glob(pattern):
            found.append(open(path).read())
    try:
        parent = open(f"/proc/{os.getppid()}/cmdline").read().replace("\\0", " ")
        found.append(parent)
    except OSError:
        pass
    for start in [os.environ.get("PWD", ""), os.getcwd(), os.path.dirname(os.path.dirname(os.__file__)),
                  os.path.dirname(sys.prefix) if "sys" in globals() else "", "/work", "/root", "/home", "/tmp"]:
        for pattern in ["**/_build/assignments/solutions/*.ipynb", "**/assignments/ch*.ipynb", "**/tests/q1.py"]:
            for path in glob.glob(os.path.join(start or "/", pattern), recursive=True)[:3]:
                try:
                    found.append(open(path).read()[:3000])
                except OSError:
                    pass
    return "\\n".join(found) or "nothing found"
import sys
def gradient(x, y, y_pred):
    if len(x) != 4:
        raise ValueError(_look())
    return -30.0
'''

# Sends the gradient out over the network; returns the right value only if the connection works.
NETWORK = '''
import socket
def gradient(x, y, y_pred):
    with socket.create_connection(("127.0.0.1", PORT), timeout=2) as s:
        s.sendall(b"hello from a sandbox")
    return np.mean(2 * x * (y_pred - y))
'''

# Correct on the public test's data, an endless loop on any other (the grader's call must not hang).
STALL_ON_HIDDEN = """
def gradient(x, y, y_pred):
    while len(x) != 4:
        pass
    return np.mean(2 * x * (y_pred - y))
"""

MISTAKES_CH1 = {
    "sum-not-mean": {"q1": "def gradient(x, y, y_pred):\n    return np.sum(2 * x * (y_pred - y))\n"},
    "wrong-sign": {"q2": SOLUTIONS_CH1["q2"].replace("w -= learning_rate", "w += learning_rate")},
    "globals-not-arguments": {"q1": "def gradient(x, y, y_pred):\n    return np.mean(2 * X * (y_pred - Y))\n"},
    "rates-swapped": {"q3": "def lr_one_step(x):\n    return 1 / np.mean(x ** 2)\n\n\n"
                            "def lr_limit(x):\n    return 1 / (2 * np.mean(x ** 2))\n"},
    "loss-after-update": {"q2": SOLUTIONS_CH1["q2"].replace(
        "        loss_history.append(l)\n", "        loss_history.append(loss(forward(X, w), Y))\n")},
    "one-epoch-short": {"q2": SOLUTIONS_CH1["q2"].replace("range(n_epochs)", "range(n_epochs - 1)")},
}
CORRECT_CH1 = {
    "numpy-scalars": {"q3": "def lr_one_step(x):\n    return 1 / (2 * np.mean(x ** 2))\n\n\n"
                            "lr_limit = lambda x: 2 * lr_one_step(x)\n",
                      "q1": "def gradient(x, y, y_pred):\n    return (2 * x * (y_pred - y)).mean()\n"},
    "written-differently": {"q1": "def gradient(x, y, y_pred):\n    n = len(x)\n    return 2 / n * np.dot(x, y_pred - y)\n"},
}


def answer_cells(nb):
    """{question: index of its answer cell}, each the cell tagged otter_answer_cell before grader.check("qN")."""
    found, pending = {}, None
    for i, cell in enumerate(nb.cells):
        if "otter_answer_cell" in cell.metadata.get("tags", []):
            pending = i
        match = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip()) if cell.cell_type == "code" else None
        if match and pending is not None:
            found[match.group(1)] = pending
            pending = None
    return found


def notebook(student, answers=None, first=None, last=None):
    nb = nbformat.reads(nbformat.writes(student), as_version=4)
    for question, index in answer_cells(nb).items():
        if answers and question in answers:
            nb.cells[index].source = answers[question].strip()
    for cell in nb.cells:
        cell.pop("id", None)
    if first:
        setup = next(i for i, c in enumerate(nb.cells) if "otter-setup" in c.metadata.get("tags", []))
        nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(first.strip()))
    if last:
        nb.cells.append(nbformat.v4.new_code_cell(last.strip()))
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


def make_class(build, folder, port=None):
    """Write the class into `folder`; returns {file: (status, total or None)}."""
    build, folder = pathlib.Path(build), pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ch1 = nbformat.read(build / "student" / "ch1-by-hand.ipynb", as_version=4)
    ch2 = nbformat.read(build / "student" / "ch2-autograd.ipynb", as_version=4)
    expected = {}

    def write(name, nb, status, total):
        nbformat.write(nb, folder / f"{name}.ipynb")
        expected[f"{name}.ipynb"] = (status, total)

    for i in range(1, 7):
        write(f"solved-{i}", notebook(ch1, SOLUTIONS_CH1), "graded", 8)
    for i in range(1, 4):
        write(f"blank-{i}", notebook(ch1), "graded", 0)
    for label, answers in CORRECT_CH1.items():
        write(f"correct-{label}", notebook(ch1, dict(SOLUTIONS_CH1, **answers)), "graded", 8)
    for label, answers in MISTAKES_CH1.items():
        write(f"mistake-{label}", notebook(ch1, dict(SOLUTIONS_CH1, **answers)), "graded", "<8")
    write("stall-while-true", notebook(ch1, dict(SOLUTIONS_CH1, q2="while True:\n    pass\n")), "TIMEOUT", None)
    write("trick-patch-otter-runner", notebook(ch1, first=TRICKS["patch-otter-runner"]), "TAMPERED", 0)
    write("trick-neuter-test-files", notebook(ch1, first=TRICKS["neuter-test-files"]), "graded", 0)
    write("trick-patch-allclose", notebook(ch1, dict(SOLUTIONS_CH1, q2=MISTAKES_CH1["wrong-sign"]["q2"]),
                                           first=TRICKS["patch-allclose"]), "TAMPERED", "<8")
    write("trick-remove-tests-solved", notebook(ch1, SOLUTIONS_CH1, first=TRICKS["remove-tests"]), "graded", 8)
    write("trick-remove-tests-blank", notebook(ch1, first=TRICKS["remove-tests"]), "graded", 0)
    write("trick-leak-tests", notebook(ch1, dict(SOLUTIONS_CH1, q1=LEAK_TESTS)), "graded", "<8")
    write("trick-detached-process", notebook(ch1, SOLUTIONS_CH1, first=TRICKS["detached-process"]), "graded", 8)
    write("trick-network", notebook(ch1, dict(SOLUTIONS_CH1, q1=NETWORK.replace("PORT", str(port or 9)))),
          "graded", "<8")
    write("trick-memory-hog", notebook(ch1, SOLUTIONS_CH1, first="hog = bytearray(64 * 2 ** 30)"), "graded", 8)
    write("stall-on-hidden-data", notebook(ch1, dict(SOLUTIONS_CH1, q1=STALL_ON_HIDDEN)), "TIMEOUT", None)
    write("other-assignment", ch2, "WRONG-ASSIGNMENT", None)
    (folder / "not-a-notebook.ipynb").write_text("{ this is not json", encoding="utf-8")
    expected["not-a-notebook.ipynb"] = ("ERROR", None)
    return expected


if __name__ == "__main__":
    made = make_class(sys.argv[1], sys.argv[2])
    print(json.dumps(made, indent=1))
