"""The mistake catalogue (tests/grading_catalogue.py), graded as `make grade` grades: in the sandbox, tests here.

For each assignment one sandbox runs the solutions; then each catalogued answer replaces its question's answer, the
question's tests (public and hidden, from the autograder zip) run against it, and the solutions' answers are put
back. Every mistake must lose points on its question with a message naming its cause; every correct variant must
keep full marks; every question has at least five mistakes and at least one correct variant.
"""
import re
import sys

import nbformat
import pytest

from conftest import ROOT, module_from_file

sys.path.insert(0, str(ROOT / "assignments" / "grading"))
sys.path.insert(0, str(ROOT / "tests"))

import grading_catalogue  # noqa: E402
import judge  # noqa: E402
import remote  # noqa: E402

NAMES = sorted(path.stem for path in (ROOT / "assignments").glob("ch*.ipynb"))


def solution_answers(path):
    """[(question, answer cell source)] of a solutions notebook, in order."""
    nb = nbformat.read(path, as_version=4)
    found, pending = [], []
    for cell in nb.cells:
        if "otter_assign_solution_cell" in cell.metadata.get("tags", []):
            pending.append(cell.source)
        match = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip()) if cell.cell_type == "code" else None
        if match:
            found += [(match.group(1), source) for source in pending]
            pending = []
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    build = module_from_file(ROOT / "assignments" / "build.py", "assignments_build")
    out = tmp_path_factory.mktemp("assignments")
    errors = build.build_all(sorted((ROOT / "assignments").glob("ch*.ipynb")), out, run_tests=False)
    assert not errors, "\n".join(errors)
    isolated, _ = remote.isolation()
    uid = remote.claim_uid()  # a user of its own: other tests grade at the same time
    found = {}
    for name in NAMES:
        autograder = judge.Autograder(out / "autograder" / f"{name}-autograder.zip")
        solutions = out / "solutions" / f"{name}.ipynb"
        answers = solution_answers(solutions)
        questions = [q for q, _ in answers]
        sandbox = remote.Sandbox(solutions, uid=uid, timeout=900, isolated=isolated)
        try:
            assert sandbox.run_notebook() == [], f"{name}: the solutions raised an error in the sandbox"
            session = remote.Session(sandbox)
            environment = judge.Environment(session)

            def grade(question):
                (test_file,) = [f for f in autograder.test_files() if f.name == question]
                test_file.run(environment)
                messages = "\n".join(r.message for r in test_file.test_case_results if not r.passed)
                return test_file.score, test_file.possible, messages

            def restore(question):
                later = questions[questions.index(question):]
                for q, source in answers:
                    if q in later:
                        session.ask(do="exec", source=source)

            entries = [("mistake", q, label, code, phrase)
                       for q, items in grading_catalogue.MISTAKES[name].items() for label, code, phrase in items]
            entries += [("correct", q, label, code, None)
                        for q, items in grading_catalogue.CORRECT.get(name, {}).items() for label, code in items]
            for kind, question, label, code, phrase in entries:
                error = session.ask(do="exec", source=code)["value"]
                found[name, kind, question, label] = grade(question) + (phrase, error)
                restore(question)
        finally:
            sandbox.close()
    return found


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_five_mistakes(name):
    questions = grading_catalogue.MISTAKES[name]
    assert len(questions) >= 3 and all(len(items) >= 5 for items in questions.values()), (
        f"{name}: mistakes per question {({q: len(v) for q, v in questions.items()})}")


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_a_correct_variant(name):
    questions = sorted(grading_catalogue.MISTAKES[name])
    missing = [q for q in questions if not grading_catalogue.CORRECT.get(name, {}).get(q)]
    assert not missing, f"{name}: no correct answer written differently for {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_each_mistake_loses_points_and_says_why(graded, name):
    problems = []
    for (assignment, kind, question, label), (score, possible, messages, phrase, _) in graded.items():
        if assignment != name or kind != "mistake":
            continue
        if score >= possible:
            problems.append(f"{question} '{label}': keeps full marks ({score:g}/{possible:g})")
        elif phrase and phrase.lower() not in messages.lower():
            problems.append(f"{question} '{label}': {score:g}/{possible:g}, but the feedback does not say "
                            f"{phrase!r}:\n      {messages[:400]}")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_correct_variants_keep_full_marks(graded, name):
    problems = [f"{question} '{label}': {score:g}/{possible:g}: {messages[:300]} {error or ''}"
                for (assignment, kind, question, label), (score, possible, messages, _, error) in graded.items()
                if assignment == name and kind == "correct" and score < possible]
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)
