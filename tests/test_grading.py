"""Class grading (`make grade`, assignments/grade.py): statuses, the sandbox, and the tricks that beat `otter run`.

A made-up class (tests/grading_class.py: solutions, blanks, mistakes, correct answers written differently, an
infinite loop, tampering, a detached process, a notebook of another assignment, a broken file, a notebook that
phones home) is graded in one command, and each submission must end with the right status and score; no hidden test
may reach any feedback; nothing it started may outlive the grading; and it can reach neither the network nor the
instructor's files.
"""
import csv
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

from conftest import IN_CI, ROOT, module_from_file

sys.path.insert(0, str(ROOT / "assignments" / "grading"))
sys.path.insert(0, str(ROOT / "tests"))

import grading_class  # noqa: E402
import remote  # noqa: E402


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    module = module_from_file(ROOT / "assignments" / "build.py", "assignments_build")
    out = tmp_path_factory.mktemp("assignments")
    errors = module.build_all([ROOT / "assignments" / "ch1-by-hand.ipynb", ROOT / "assignments" / "ch2-autograd.ipynb"],
                              out, run_tests=False)
    assert not errors, "\n".join(errors)
    return out


class Listener:
    """A TCP server on the host's loopback: a sandboxed notebook must not be able to reach it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.received = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.received.append(connection.recv(100))
            connection.close()

    def stop(self):
        self.running = False
        self.thread.join()
        self.server.close()


def sleepers():
    """The detached processes the trick starts (sleep 4242.5 / 4243.5), if any is still alive."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"424" in (entry / "cmdline").read_bytes() and \
                    (entry / "cmdline").read_bytes().startswith(b"sleep"):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded(build, tmp_path_factory):
    if IN_CI:
        available, why = remote.isolation()
        assert available, f"CI must grade in the full sandbox, but: {why}"
    folder = tmp_path_factory.mktemp("class")
    out = tmp_path_factory.mktemp("graded")
    listener = Listener()
    try:
        expected = grading_class.make_class(build, folder, port=listener.port)
        result = subprocess.run([sys.executable, str(ROOT / "assignments" / "grade.py"), str(folder),
                                 "--assignment", "ch1-by-hand", "--out", str(out), "--quiet", "--jobs", "2",
                                 "--autograders", str(build / "autograder"), "--solutions", str(build / "solutions")],
                                capture_output=True, text=True, timeout=600)
    finally:
        listener.stop()
    assert result.returncode == 0, f"grade.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    rows = list(csv.DictReader(open(out / "ch1-by-hand" / "final_grades.csv", encoding="utf-8")))
    return {"expected": expected, "rows": {r["file"]: r for r in rows}, "out": out / "ch1-by-hand",
            "stdout": result.stdout, "stderr": result.stderr, "received": listener.received, "build": build}


def test_the_class_has_thirty_submissions(graded):
    assert len(graded["expected"]) == 30, sorted(graded["expected"])
    assert set(graded["rows"]) == set(graded["expected"]) | {"points-per-question"}


def test_every_submission_ends_with_its_status_and_score(graded):
    wrong = {}
    for name, (status, total) in graded["expected"].items():
        row = graded["rows"][name]
        got_status = row["grading_status"].split(":")[0]
        got_total = float(row["total_points_earned"]) if row["total_points_earned"] else None
        ok = got_status == status and (
            total is None and got_total is None or total == "<8" and got_total is not None and got_total < 8
            or total == got_total)
        if not ok:
            wrong[name] = f"expected {status} {total}, got {row['grading_status']!r} {got_total}"
    assert not wrong, json.dumps(wrong, indent=1)


def test_no_status_is_silent(graded):
    """A row that is not graded says why, and has no points (not a 0 that looks like a grade)."""
    for name, row in graded["rows"].items():
        if name == "points-per-question" or row["grading_status"] == "graded":
            continue
        status, _, why = row["grading_status"].partition(": ")
        assert why.strip(), f"{name}: status {status} without a reason"
        if status not in ("TAMPERED",):
            assert row["total_points_earned"] == "" and row["q1"] == "", f"{name}: {status} but has points: {row}"
    assert "in cell" in graded["rows"]["stall-while-true.ipynb"]["grading_status"], (
        "a TIMEOUT should name the cell that was running")
    assert "gd-ch2-autograd" in graded["rows"]["other-assignment.ipynb"]["grading_status"]


def test_tampering_is_reported_and_raises_no_score(graded):
    rows = graded["rows"]
    assert "numpy.allclose" in rows["trick-patch-allclose.ipynb"]["grading_status"]
    assert rows["trick-patch-allclose.ipynb"]["q2"] == "0", "a patched np.allclose still passed a wrong loss history"
    assert "ExceptionTestFile.run" in rows["trick-patch-otter-runner.ipynb"]["grading_status"]
    assert rows["trick-patch-otter-runner.ipynb"]["total_points_earned"] == "0"
    assert rows["trick-neuter-test-files.ipynb"]["total_points_earned"] == "0"
    assert rows["trick-remove-tests-blank.ipynb"]["total_points_earned"] == "0"
    assert rows["trick-remove-tests-solved.ipynb"]["total_points_earned"] == "8"


def hidden_test_lines(build):
    """Lines of the hidden test cases of assignment 1, as the autograder holds them."""
    lines = set()
    with zipfile.ZipFile(build / "autograder" / "ch1-by-hand-autograder.zip") as archive:
        for name in archive.namelist():
            if name.startswith("tests/"):
                source = archive.read(name).decode()
                for block in re.split(r"\n(?=@test_case)", source):
                    if "hidden=True" in block:
                        lines.update(line.strip() for line in block.splitlines() if len(line.strip()) > 25)
    assert lines, "found no hidden test in the autograder"
    return lines


def test_no_feedback_quotes_a_hidden_test_or_a_path(graded):
    hidden = hidden_test_lines(graded["build"])
    for folder in ("feedback", "results"):
        for path in (graded["out"] / folder).iterdir():
            text = path.read_text(encoding="utf-8")
            if folder == "results":
                text = json.dumps(json.loads(text))
            quoted = [line for line in hidden if line in text and not line.startswith(("assert", "f'", 'f"'))]
            assert not quoted, f"{path.name} quotes hidden test lines: {quoted[:3]}"
            assert "Error at line" not in text, f"{path.name} quotes a test's source line"
            assert str(ROOT) not in text and str(graded["build"]) not in text, f"{path.name} names the grader's paths"


def test_the_sandbox_finds_no_test_no_solution_no_parent(graded):
    """The leaking notebook searched for tests/*.py, the solutions, the masters and its parent's command line."""
    text = (graded["out"] / "feedback" / "trick-leak-tests.txt").read_text(encoding="utf-8")
    assert "nothing found" in text, f"the sandboxed notebook found something:\n{text[:3000]}"


def test_the_sandbox_has_no_network(graded):
    assert graded["received"] == [], f"a sandboxed notebook reached the host's network: {graded['received']}"
    assert graded["rows"]["trick-network.ipynb"]["q1"] != "3"


def test_nothing_outlives_the_grading(graded):
    assert sleepers() == [], "processes started by a notebook outlived the grading"
    uids = {json.loads(path.read_text())["sandbox_uid"] for path in (graded["out"] / "results").glob("*.json")}
    uids.discard(None)
    assert uids, "the results do not say which users the sandboxes ran as"
    assert all(not remote.user_processes(uid) for uid in uids), "a sandbox's user still runs processes"


def test_gradebook_has_otters_layout(graded):
    """The columns of otter grade's final_grades.csv (otter.grade.utils.merge_scores_to_df), first row the points."""
    from otter.test_files import GradingResults
    from otter.grade.utils import merge_scores_to_df
    from otter.test_files.exception_test import ExceptionTestFile

    files = []
    for name in ("q1", "q2", "q3"):
        with zipfile.ZipFile(graded["build"] / "autograder" / "ch1-by-hand-autograder.zip") as archive:
            test_file = ExceptionTestFile.from_string(archive.read(f"tests/{name}.py").decode(), path=f"{name}.py")
        test_file.run({})
        files.append(test_file)
    results = GradingResults(files)
    results.file = "x.ipynb"
    otter_columns = list(merge_scores_to_df([results]).columns)
    header = open(graded["out"] / "final_grades.csv", encoding="utf-8").readline().strip().split(",")
    assert header == otter_columns, f"our columns {header}, otter's {otter_columns}"
    first = graded["rows"]["points-per-question"]
    assert (first["q1"], first["q2"], first["q3"], first["total_points_earned"]) == ("3", "3", "2", "8")


def test_summary_is_printed_and_drawn(graded):
    out = graded["stdout"]
    assert "mean total" in out and "q1: mean" in out and "totals (submissions per total)" in out, out
    assert (graded["out"] / "summary.png").stat().st_size > 5000
    assert len(list((graded["out"] / "feedback").glob("*.txt"))) == 30
    assert "the solutions score 8/8" in graded["stderr"]


def test_bad_input_gets_a_clear_message(tmp_path, build):
    run = [sys.executable, str(ROOT / "assignments" / "grade.py")]
    missing = subprocess.run(run + [str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a folder of submissions" in missing.stderr, missing.stderr
    empty = subprocess.run(run + [str(tmp_path), "--autograders", str(build / "autograder")], capture_output=True,
                           text=True)
    assert empty.returncode == 2 and "no .ipynb file" in empty.stderr, empty.stderr
    (tmp_path / "a.ipynb").write_text("{}")
    unknown = subprocess.run(run + [str(tmp_path), "--assignment", "ch9", "--autograders", str(build / "autograder")],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "no autograder for 'ch9'" in unknown.stderr, unknown.stderr
    assert "Traceback" not in missing.stderr + empty.stderr + unknown.stderr
