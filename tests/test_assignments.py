"""The graded assignments (assignments/ch*.ipynb, built by `make assignments` with otter-grader).

Under the autograder (`otter run`) the masters' solutions score full marks, a blank student notebook scores zero, and
a typical wrong answer to each question scores less than full. In the student notebook, alone in an empty folder as
on Colab, `grader.check` passes the solutions and answers odd answers (wrong type or shape, nan, an exception) with a
plain-words assertion message. No student notebook holds a solution or a hidden test.

Everything is built once per run into a temporary folder; the otter runs go two at a time.
"""
import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, module_from_file

sys.path.insert(0, str(ROOT / "tests"))
import grading_catalogue  # noqa: E402

MASTERS = sorted((ROOT / "assignments").glob("ch*.ipynb"))
NAMES = [path.stem for path in MASTERS]
OTTER = pathlib.Path(sys.executable).with_name("otter")
WORKERS = min(2, os.cpu_count() or 1)

# One typical wrong answer per question, taken from the mistake catalogue (tests/grading_catalogue.py, one source):
# (question, the catalogue's label, whether its phrase is checked here too). All of a chapter's wrong answers go into
# one submission, graded by `otter run`; where a wrong answer's code calls another question's answer (ch1's loop calls
# the gradient of q1, ch6's step the engine of q1 and q2), the other wrong answer changes what the test sees, so only
# the loss of points is checked there, not the phrase (the catalogue checks it, each mistake alone).
TYPICAL_MISTAKES = {
    "ch1-by-hand": [("q1", "the sum instead of the mean", True), ("q2", "the update goes up the gradient", False),
                    ("q3", "the two rates swapped", True)],
    "ch2-autograd": [("q1", "w made without requires_grad", True), ("q2", "w = w - ..., which rebinds w", True),
                     ("q3", "a missing w.grad.zero_()", True)],
    "ch3-loss-and-optimizer": [("q1", "reduction='sum'", True), ("q2", "a missing optimizer.zero_grad()", True),
                               ("q3", "the rate multiplied by N instead of divided", True)],
    "ch4-model": [("q1", "nn.Linear(4, 1)", True), ("q2", "a target of shape (4,)", True), ("q3", "a 1-D input", True)],
    "ch5-loss-curves": [("q1", "blind to nan", True), ("q2", "a loss threshold", True), ("q3", "the largest rate", True)],
    "ch6-your-own-autograd": [("q1", "= instead of +=", True), ("q2", "the order walked forwards", False),
                              ("q3", "a missing w.zero_grad()", False)],
    "ch7-minibatches": [("q1", "the whole data set's statistics", True), ("q2", "rounding down", True),
                        ("q3", "a missing optimizer.zero_grad()", True)],
}


def typical_wrong_answers():
    """{assignment: {question: (label, answer cell, phrase or nothing)}}, from the catalogue's entries named above."""
    found = {}
    for name, picks in TYPICAL_MISTAKES.items():
        for question, label, check_phrase in picks:
            (entry,) = [e for e in grading_catalogue.MISTAKES[name][question] if e[0] == label]
            found.setdefault(name, {})[question] = entry if check_phrase else entry[:2]
    return found


WRONG_ANSWERS = typical_wrong_answers()

# Odd answers: the wrong type, the wrong shape, nan, an exception, the `...` placeholder left in. grader.check must
# answer each with an assertion message of ours (plain words), not an exception from inside a test. An entry may be
# (code, phrase): then the message must also contain the phrase.
ODD_ANSWERS = {
    "ch1-by-hand": {
        "q1": ['gradient = "not written yet"',
               "def gradient(x, y, y_pred):\n    return 2 * x * (y_pred - y)",
               'def gradient(x, y, y_pred):\n    return float("nan")',
               'def gradient(x, y, y_pred):\n    raise ValueError("not finished")',
               ("def gradient(x, y, y_pred):\n    ...", "gradient returned None")],
        "q2": ['w_history = "0.3"',
               "w_history = [[0.3]] * 10\nloss_history = [[30.0]] * 10",
               'w_history = [float("nan")] * 10\nloss_history = [float("nan")] * 10',
               "w_history = None"],
        "q3": ['lr_one_step = "1/15"\nlr_limit = lambda x: 2 / 15',
               "lr_one_step = lambda x: 1 / 15\nlr_limit = lambda x: np.array([0.1, 0.2])",
               'lr_one_step = lambda x: float("nan")\nlr_limit = lambda x: 2 / 15',
               'def lr_one_step(x):\n    raise ValueError("not finished")\nlr_limit = lambda x: 2 / 15',
               ("lr_one_step = 1 / 15\nlr_limit = 2 / 15", "a number typed in fits the course data only"),
               ("lr_one_step = ...\nlr_limit = ...", "lr_one_step is not defined yet"),
               ("def lr_one_step(x):\n    ...\ndef lr_limit(x):\n    ...", "lr_one_step(X) returned None")],
    },
    "ch2-autograd": {
        "q1": ["autograd_gradient = 3",
               "def autograd_gradient(w_value):\n    return torch.tensor([-30.0, 0.0])",
               'def autograd_gradient(w_value):\n    return float("nan")',
               'def autograd_gradient(w_value):\n    raise RuntimeError("not finished")',
               ("def autograd_gradient(w_value):\n    ...", "autograd_gradient returned None")],
        "q2": ["update = None",
               'def update(w, learning_rate):\n    with torch.no_grad():\n        w.fill_(float("nan"))',
               'def update(w, learning_rate):\n    raise ValueError("not finished")',
               # the natural wrong answer: rebinding w, then zeroing the gradient the new tensor does not have
               ("def update(w, learning_rate):\n    with torch.no_grad():\n        w = w - learning_rate * w.grad\n"
                "    w.grad.zero_()", "makes a new tensor"),
               # torch.no_grad() left out: PyTorch refuses an in-place change of a leaf it tracks
               ("def update(w, learning_rate):\n    w -= learning_rate * w.grad\n    w.grad.zero_()",
                "inside with torch.no_grad():, so PyTorch does not record it")],
        "q3": ['train = "train"',
               "def train(learning_rate, n_epochs):\n    return torch.zeros(n_epochs)",
               'def train(learning_rate, n_epochs):\n    return [float("nan")] * n_epochs',
               'def train(learning_rate, n_epochs):\n    raise KeyError("not finished")',
               ("def train(learning_rate, n_epochs):\n    ...", "train returned None"),
               # the tensor w appended instead of the number w.item(): every entry is the same, changing tensor
               ("def train(learning_rate, n_epochs):\n    w = torch.tensor(0.0, requires_grad=True)\n"
                "    w_history = []\n    for epoch in range(n_epochs):\n        l = loss(forward(X, w), Y)\n"
                "        l.backward()\n        with torch.no_grad():\n            w -= learning_rate * w.grad\n"
                "        w.grad.zero_()\n        w_history.append(w)\n    return w_history",
                "append w.item(), the number, not the tensor w")],
    },
    "ch3-loss-and-optimizer": {
        "q1": ['loss = "mse"',
               "class Broken(nn.MSELoss):\n    def forward(self, a, b):\n        raise RuntimeError('broken')\n"
               "loss = Broken()",
               "class NotANumber(nn.MSELoss):\n    def forward(self, a, b):\n        return torch.tensor(float('nan'))\n"
               "loss = NotANumber()"],
        "q2": ["train = 0",
               "def train(learning_rate, n_epochs):\n    return [[0.3]] * n_epochs",
               'def train(learning_rate, n_epochs):\n    return [float("nan")] * n_epochs',
               'def train(learning_rate, n_epochs):\n    raise RuntimeError("not finished")'],
        "q3": ['lr_for_sum = "0.0025"\nlimit_for_sum = lambda x: 1 / 30',
               "lr_for_sum = lambda rate, x: [0.0025]\nlimit_for_sum = lambda x: 1 / 30",
               'lr_for_sum = lambda rate, x: rate / 4\nlimit_for_sum = lambda x: float("nan")',
               'lr_for_sum = lambda rate, x: rate / 4\nlimit_for_sum = lambda x: x / 30',
               ("lr_for_sum = 0.0025\nlimit_for_sum = 1 / 30", "a number typed in fits the course data only")],
    },
    "ch4-model": {
        "q1": ["X2 = X.tolist()",
               "X2 = X.reshape(2, 2)",
               'X2 = torch.full((4, 1), float("nan"))\nY2 = 2 * X.reshape(-1, 1)',
               'model = "linear"',
               ("X2 = ...", "X2 is not defined yet")],
        "q2": ["loss_history = 7",
               "loss_history = torch.zeros(500)",
               'loss_history = [float("nan")] * 500'],
        "q3": ["predict = [1.0]",
               "def predict(model, x_values):\n    return torch.zeros(len(x_values), 1).tolist()",
               'def predict(model, x_values):\n    return [float("nan")] * len(x_values)',
               'def predict(model, x_values):\n    raise IndexError("not finished")'],
    },
    "ch5-loss-curves": {
        "q1": ["diverged = True",
               "def diverged(loss_history):\n    return np.asarray(loss_history) > 0",
               'def diverged(loss_history):\n    return float("nan")',
               'def diverged(loss_history):\n    raise ZeroDivisionError("not finished")'],
        "q2": ["sweep = [1, 2]",
               'def sweep(rates, n_epochs):\n    return {rate: float("nan") for rate in rates}, []',
               'def sweep(rates, n_epochs):\n    return {rate: train(rate, n_epochs)[-1] for rate in rates}, "all"',
               'def sweep(rates, n_epochs):\n    raise KeyError("not finished")'],
        "q3": ['best_rate = "0.05"', "best_rate = lambda rates: [0.05]", 'best_rate = lambda rates: float("nan")',
               'def best_rate(rates):\n    raise IndexError("not finished")',
               ("best_rate = 0.05", "a number typed in fits the course's list only"),
               ("def best_rate(rates):\n    ...", "best_rate(rates) returned None"),
               ("best_rate = ...", "best_rate is not defined yet")],
    },
    "ch6-your-own-autograd": {
        "q1": ['Value = "not written yet"',
               "class Value:\n    def __init__(self, data):\n        self.data = data\n        self.grad = 0.0",
               "class Value:\n    def __init__(self, data, children=(), op=''):\n        self.data = data\n"
               "        self.grad = float('nan')\n        self._backward = lambda: None\n"
               "    def __mul__(self, other):\n        return Value(self.data * other.data)"],
        "q2": ["backward = None",
               "def backward(output):\n    backward(output)",
               'def backward(output):\n    output.grad = float("nan")',
               'def backward(output):\n    raise RuntimeError("not finished")'],
        "q3": ["train_step = 3",
               "def train_step(w, learning_rate):\n    return w",
               'def train_step(w, learning_rate):\n    return float("nan"), float("nan")',
               'def train_step(w, learning_rate):\n    raise ValueError("not finished")'],
    },
    "ch7-minibatches": {
        "q1": ["X_train = X_train_raw.numpy()",
               "X_train = X_train_raw.mean(dim=0)",
               "X_train = X_train_raw.int()",
               'X_val = torch.full((200, 3), float("nan"))'],
        "q2": ["iterations_per_epoch = 13",
               "def iterations_per_epoch(n_examples, batch_size):\n    return n_examples / batch_size",
               'def iterations_per_epoch(n_examples, batch_size):\n    return float("nan")',
               'def iterations_per_epoch(n_examples, batch_size):\n    raise ZeroDivisionError("not finished")',
               ("def iterations_per_epoch(n_examples, batch_size):\n    ...", "iterations_per_epoch returned None")],
        "q3": ['train = "train"',
               "def train(*args, **kwargs):\n    return None",
               'def train(*args, **kwargs):\n    return nn.Linear(3, 1), [float("nan")] * 130, [float("nan")] * 10',
               'def train(*args, **kwargs):\n    raise RuntimeError("not finished")'],
    },
}

# Makes otter 7 believe it runs on Colab (it looks for "google.colab" in the IPython shell's name), where it reads no
# tests from the notebook's metadata and needs its tests folder to exist.
PRETEND_COLAB = '''\
import otter.check.utils as _otter_utils
_otter_utils.IPythonInterpreter.COLAB.value.check_strs.append("ipykernel")
'''


def _load_build_module():
    return module_from_file(ROOT / "assignments" / "build.py", "assignments_build")


def question_of_cells(nb, tag):
    """{question: [index of each cell tagged `tag`]}, a cell belonging to the next grader.check("qN") after it."""
    found, pending = {}, []
    for i, cell in enumerate(nb.cells):
        if tag in cell.metadata.get("tags", []):
            pending.append(i)
        match = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip()) if cell.cell_type == "code" else None
        if match:
            found[match.group(1)] = pending
            pending = []
    return found


def answer_cells(student):
    cells = question_of_cells(student, "otter_answer_cell")
    for question, indices in cells.items():
        assert len(indices) == 1, f"{question} has {len(indices)} answer cells; these tests expect exactly one"
    return {question: indices[0] for question, indices in cells.items()}


def solutions_by_question(solutions):
    return {question: solutions.cells[indices[0]].source
            for question, indices in question_of_cells(solutions, "otter_assign_solution_cell").items()}


def with_answers(student, answers):
    """A copy of the student notebook with the answer cells of the given questions replaced."""
    nb = nbformat.reads(nbformat.writes(student), as_version=4)
    for question, index in answer_cells(nb).items():
        if question in answers:
            nb.cells[index].source = answers[question].strip()
    return nb


def otter_run(autograder, submission, workdir):
    """Grade one notebook with `otter run`; returns {question: (score, max_score)} from its results JSON."""
    workdir.mkdir(parents=True)
    path = workdir / "submission.ipynb"
    nbformat.write(submission, path)
    result = subprocess.run([str(OTTER), "run", "--no-logo", "-a", str(autograder), "-o", str(workdir), str(path)],
                            capture_output=True, text=True, cwd=workdir, timeout=300)
    results_file = workdir / "results.json"
    assert results_file.exists(), f"otter run wrote no results.json:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    tests = json.loads(results_file.read_text())["tests"]
    return {t["name"]: (t["score"], t["max_score"], t.get("output", "")) for t in tests if "max_score" in t
            and t["name"] != "Public Tests"}


def run_in_empty_folder(nb, workdir):
    """Execute a notebook from an empty folder (its .ipynb is not on disk, as on Colab); errors do not stop it."""
    import nbclient

    workdir.mkdir(parents=True)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def output_text(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def odd_answer(entry):
    """(code, phrase the message must contain, or None) of an ODD_ANSWERS entry."""
    return entry if isinstance(entry, tuple) else (entry, None)


def self_check_notebook(student, solutions, name):
    """The student notebook, on "Colab", answered with the solutions, then every odd answer checked in turn."""
    nb = with_answers(student, solutions)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PRETEND_COLAB))
    for question, odd_answers in ODD_ANSWERS[name].items():
        for odd in odd_answers:
            odd, _ = odd_answer(odd)
            nb.cells.append(nbformat.v4.new_code_cell(odd))
            nb.cells.append(nbformat.v4.new_code_cell(f'grader.check("{question}")'))
            nb.cells[-1].metadata["odd_answer"] = [question, odd]
            nb.cells.append(nbformat.v4.new_code_cell(solutions[question]))  # back to a sane state
    return nb


@pytest.fixture(scope="session")
def assignments(tmp_path_factory):
    """Build every master, then grade and self-check them all: {name: everything the tests below look at}."""
    out = tmp_path_factory.mktemp("assignments")
    # otter assign's own check that the solutions pass is skipped here: test_solutions_score_full_marks does it.
    errors = _load_build_module().build_all(MASTERS, out, run_tests=False)
    assert not errors, "\n".join(errors)
    work = tmp_path_factory.mktemp("graded")
    jobs, found = {}, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for name in NAMES:
            student = nbformat.read(out / "student" / f"{name}.ipynb", as_version=4)
            solutions = solutions_by_question(nbformat.read(out / "solutions" / f"{name}.ipynb", as_version=4))
            autograder = out / "autograder" / f"{name}-autograder.zip"
            wrong = {question: entry[1] for question, entry in WRONG_ANSWERS[name].items()}
            found[name] = {"student": student,
                           "solutions": solutions, "autograder": autograder}
            for kind, submission in [("reference", with_answers(student, solutions)), ("blank", student),
                                     ("wrong", with_answers(student, wrong))]:
                jobs[name, kind] = pool.submit(otter_run, autograder, submission, work / name / kind)
            jobs[name, "self-check"] = pool.submit(run_in_empty_folder, self_check_notebook(student, solutions, name),
                                                   work / name / "self-check")
        for (name, kind), job in jobs.items():
            found[name][kind] = job.result()
    return found


def test_every_chapter_has_a_master_with_three_questions():
    assert NAMES == ["ch1-by-hand", "ch2-autograd", "ch3-loss-and-optimizer", "ch4-model", "ch5-loss-curves",
                     "ch6-your-own-autograd", "ch7-minibatches"], (
        f"expected one master per chapter 1-7 in assignments/, found {NAMES}")
    for name in NAMES:
        assert len(WRONG_ANSWERS[name]) >= 3, f"{name}: fewer than 3 questions have a wrong answer to catch"


@pytest.mark.parametrize("name", NAMES)
def test_solutions_score_full_marks(assignments, name):
    scores = assignments[name]["reference"]
    assert set(scores) == set(WRONG_ANSWERS[name]), f"{name}: graded questions {sorted(scores)}"
    short = {q: f"{s}/{m}: {out[-600:]}" for q, (s, m, out) in scores.items() if s != m}
    assert not short, f"{name}: the master's solutions lose points under otter run: {short}"


@pytest.mark.parametrize("name", NAMES)
def test_blank_notebook_scores_zero(assignments, name):
    scores = assignments[name]["blank"]
    assert scores and all(m > 0 for _, m, _ in scores.values()), f"{name}: no question carries points: {scores}"
    scored = {q: s for q, (s, m, _) in scores.items() if s != 0}
    assert not scored, f"{name}: the blank student notebook scores points: {scored}"
    # An answer still `...` must read "is not defined yet" or "returned None", not a type name such as NoneType.
    jargon = {q: out for q, (_, _, out) in scores.items() if "NoneType" in out or "ellipsis" in out}
    assert not jargon, f"{name}: the blank notebook's messages name NoneType or ellipsis: {jargon}"


@pytest.mark.parametrize("name", NAMES)
def test_each_typical_wrong_answer_loses_points(assignments, name):
    scores = assignments[name]["wrong"]
    for question, (mistake, _, *phrase) in WRONG_ANSWERS[name].items():
        score, max_score, output = scores[question]
        assert not phrase or phrase[0].lower() in output.lower(), (
            f"{name} {question}: '{mistake}' is not diagnosed as such; expected {phrase[0]!r} in:\n{output}")
        assert score < max_score, f"{name} {question}: '{mistake}' still scores full marks ({score}/{max_score})"
        errors = set(re.findall(r"^\s*(\w+): ", output, flags=re.M)) - {"AssertionError"}
        assert not {e for e in errors if e.endswith(("Error", "Exception"))}, (
            f"{name} {question}: '{mistake}' made a test crash instead of failing with a message:\n{output}")


@pytest.mark.parametrize("name", NAMES)
def test_self_checks_pass_the_solutions_on_colab(assignments, name):
    nb = assignments[name]["self-check"]
    errors = [output_text(c) for c in nb.cells[:3] if c.cell_type == "code" and "error" in output_text(c).lower()]
    assert not errors, f"{name}: the setup cell failed on (pretend) Colab: {errors}"
    checks = [c for c in nb.cells if re.fullmatch(r'grader\.check\("\w+"\)', c.source.strip())
              and "odd_answer" not in c.metadata]
    assert len(checks) == len(WRONG_ANSWERS[name])
    for cell in checks:
        text = output_text(cell)
        assert "passed" in text and "failed" not in text, f"{name}: {cell.source} on the solutions said:\n{text}"


@pytest.mark.parametrize("name", NAMES)
def test_odd_answers_get_a_plain_message(assignments, name):
    nb = assignments[name]["self-check"]
    checked = [c for c in nb.cells if "odd_answer" in c.metadata]
    assert len(checked) == sum(len(v) for v in ODD_ANSWERS[name].values())
    for cell in checked:
        question, odd = cell.metadata["odd_answer"]
        text = output_text(cell)
        where = f"{name} {question}, answer {odd!r}"
        assert not any(o.get("output_type") == "error" for o in cell.outputs), f"{where}: grader.check crashed: {text}"
        assert "Test case failed" in text, f"{where}: grader.check did not fail it:\n{text}"
        errors = set(re.findall(r"^\s*(\w+): ", text, flags=re.M))
        assert "AssertionError" in errors and not {e for e in errors - {"AssertionError"}
                                                   if e.endswith(("Error", "Exception"))}, (
            f"{where}: the message is not one of the tests' plain-words messages:\n{text}")
        phrase = dict(map(odd_answer, ODD_ANSWERS[name][question])).get(odd)
        assert phrase is None or phrase in text, f"{where}: the message should say {phrase!r}:\n{text}"


def master_parts(path):
    """(solution lines, hidden-test lines, lines students may see) of a master, each stripped."""
    nb = nbformat.read(path, as_version=4)
    solution, hidden, visible = set(), set(), set()
    in_solution_block = in_tests = False
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "raw":
            in_solution_block = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(source, in_solution_block)
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(source, in_tests)
            continue
        lines = [line.strip() for line in source.splitlines()]
        if in_tests:
            (hidden if re.search(r"^hidden:\s*true", source, flags=re.M) else visible).update(lines)
        elif in_solution_block:
            inside = False
            for line in lines:
                if line.startswith("# BEGIN SOLUTION") or line.startswith("# END SOLUTION"):
                    inside = line.startswith("# BEGIN")
                elif inside:
                    solution.add(line)
                else:
                    visible.add(line)
        else:
            visible.update(lines)
    return solution, hidden, visible


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_holds_no_solution_or_hidden_test(assignments, name):
    solution, hidden, visible = master_parts(ROOT / "assignments" / f"{name}.ipynb")
    nb = assignments[name]["student"]
    text = "\n".join(cell.source for cell in nb.cells)
    student_lines = {line.strip() for line in text.splitlines()}
    leaked = sorted(line for line in solution - visible if len(line) > 6 and line in student_lines)
    assert not leaked, f"{name}: solution lines in the student notebook: {leaked}"
    leaked = sorted(line for line in hidden - visible if len(line) > 20 and line in text)
    assert not leaked, f"{name}: hidden-test lines in the student notebook: {leaked}"
    assert "hidden=True" not in text and "BEGIN SOLUTION" not in text
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        f"{name}: the student notebook carries outputs")
    assert "tests" not in nb.metadata.get("otter", {}), f"{name}: tests left in the notebook's metadata"


def test_instructor_guide_offers_student_notebooks_only():
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8") + _load_build_module().catalogue()
    for name in NAMES:
        assert f"{name}.ipynb" in page, f"book/instructors.md does not link the student notebook {name}.ipynb"
        solution, hidden, visible = master_parts(ROOT / "assignments" / f"{name}.ipynb")
        # Short solution lines such as optimizer.zero_grad() are the chapters' vocabulary, fine to name on the page.
        leaked = sorted(line for line in (solution - visible) if len(line) > 30 and line in page)
        leaked += sorted(line for line in hidden - visible if len(line) > 20 and line in page)
        assert not leaked, f"book/instructors.md quotes solution or hidden-test lines of {name}: {leaked}"
    assert not re.search(r"href=\"[^\"]*autograder[^\"]*\.zip", page), (
        "book/instructors.md links an autograder zip: it holds the hidden tests and must not be published")
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    files = re.findall(r"^\s*-\s*file:\s*(\S+)", toc, flags=re.M)
    assert files and files[-1] == "book/instructors", f"book/instructors should be the last entry of _toc.yml: {files}"


def question_points(path):
    """{question: points} from a master's `# BEGIN QUESTION` cells."""
    points = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            name = re.search(r"^name:\s*(\w+)", cell.source, flags=re.M).group(1)
            points[name] = float(re.search(r"^points:\s*([\d.]+)", cell.source, flags=re.M).group(1))
    return points


def test_instructor_guide_catalogue_matches_the_masters():
    """The guide's table of questions and points is made from the masters (build.py's catalogue), not typed."""
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    assert "```{include} ../_build/assignments/catalogue.md" in page, (
        "book/instructors.md should include the table that build.py makes, _build/assignments/catalogue.md")
    assert not re.search(r"^\|[^|\n]*\|\s*q\d+\s*\|", page, flags=re.M), (
        "book/instructors.md has a typed table of questions: include the generated one instead")
    table = _load_build_module().catalogue()
    listed, current = {}, None
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or not re.fullmatch(r"q\d+", cells[1]):
            continue
        found = re.search(r"(ch\d[\w-]*)\.ipynb", cells[0])
        current = found.group(1) if found else current
        listed.setdefault(current, {})[cells[1]] = float(cells[2])
    masters = {name: question_points(ROOT / "assignments" / f"{name}.ipynb") for name in NAMES}
    assert listed == masters, f"the generated table lists {listed}, the masters give {masters}"
    totals = ", ".join(f"{sum(p.values()):g}" for p in masters.values())
    assert totals.rsplit(", ", 1)[0] in table.splitlines()[-1], table.splitlines()[-1]


def _with_points(master, out, question, begin=None, test=None, text=None):
    """A copy of `master` in `out` with one question's BEGIN QUESTION points, first test's points or text changed."""
    nb = nbformat.read(master, as_version=4)
    current = None
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            current = re.search(r"^name:\s*(\w+)", cell.source, flags=re.M).group(1)
            if current == question and begin is not None:
                cell.source = re.sub(r"^points:.*$", f"points: {begin}", cell.source, flags=re.M)
        elif current == question and cell.cell_type == "markdown" and text is not None:
            cell.source, count = re.subn(r"\(\d+ points?\)", f"({text} points)", cell.source, count=1)
            text = None if count else text
        elif current == question and cell.cell_type == "code" and "BEGIN TEST CONFIG" in cell.source and test is not None:
            cell.source = re.sub(r"^points:.*$", f"points: {test}", cell.source, count=1, flags=re.M)
            test = None
    path = out / master.name
    nbformat.write(nb, path)
    return path


def test_build_refuses_a_master_whose_points_disagree(tmp_path):
    """otter grades out of the sum of a question's test points and ignores BEGIN QUESTION's: build.py must refuse."""
    build = _load_build_module()
    for master in MASTERS:
        assert build.check_points(master) is None, f"{master.name}: {build.check_points(master)}"
    master = ROOT / "assignments" / "ch1-by-hand.ipynb"
    cases = [("begin", dict(begin=4), "add up to 3"),           # q2: BEGIN QUESTION 4, tests 1 + 2
             ("test", dict(test=5), "add up to 7"),            # q2: tests 5 + 2, BEGIN QUESTION 3
             ("text", dict(text=4), "text says (4 points)")]   # q2: "(4 points)" in its text
    for label, change, expected in cases:
        folder = tmp_path / label
        folder.mkdir()
        path = _with_points(master, folder, "q2", **change)
        out = folder / "out"
        (out / "student").mkdir(parents=True)
        (out / "student" / "earlier.ipynb").write_text("{}")
        errors = build.build_all([path], out)
        assert errors and "q2" in errors[0] and expected in errors[0], (
            f"build.py built ch1 with q2's points changed ({label}): {errors}")
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["student", "student/earlier.ipynb"], (
            f"a refused build changed the output folder ({label})")
