"""Figures, not a test: class grading throughput (`make bench` calls this after the site's figures).

Prints submissions graded per minute by `assignments/grade.py` with one job per core, beside its floor: cores ÷ the
time one submission takes alone (sandbox start, imports, the notebook, the tests), measured here first.

Usage: python tests/bench/grading_bench.py [--submissions 24] [--jobs CORES]
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "assignments" / "grading"))
sys.path.insert(0, str(ROOT / "tests"))

import grading_class  # noqa: E402
import judge  # noqa: E402
import nbformat  # noqa: E402
import remote  # noqa: E402

BUILD = ROOT / "_build" / "assignments"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not (BUILD / "autograder" / "ch1-by-hand-autograder.zip").is_file():
        sys.exit("Run `make assignments` first.")
    isolated, why = remote.isolation()
    autograder = judge.Autograder(BUILD / "autograder" / "ch1-by-hand-autograder.zip")
    student = nbformat.read(BUILD / "student" / "ch1-by-hand.ipynb", as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        kinds = [grading_class.SOLUTIONS_CH1, None, dict(grading_class.SOLUTIONS_CH1,
                                                         **grading_class.MISTAKES_CH1["sum-not-mean"])]
        for i in range(args.submissions):
            nbformat.write(grading_class.notebook(student, kinds[i % 3]), folder / f"student-{i:02d}.ipynb")
        # One submission alone, three times: the time a core needs per submission.
        alone, uid = [], remote.claim_uid()
        for _ in range(3):
            result = judge.grade(folder / "student-00.ipynb", autograder, uid=uid, timeout=300, isolated=isolated)
            alone.append(result["seconds"])
        single = statistics.median(alone)
        floor = args.jobs * 60 / single
        out = folder / "graded"
        start = time.monotonic()
        run = subprocess.run([sys.executable, str(ROOT / "assignments" / "grade.py"), str(folder / "."),
                              "--assignment", "ch1-by-hand", "--out", str(out), "--jobs", str(args.jobs), "--quiet",
                              "--timeout", "120"], capture_output=True, text=True)
        elapsed = time.monotonic() - start
        if run.returncode != 0:
            sys.exit(f"grade.py failed:\n{run.stderr[-2000:]}")
        # grade.py first grades the solutions once (its check); count the class only, from its own figure.
        line = [l for l in run.stdout.splitlines() if l.startswith("Graded ")][-1]
        class_seconds = float(line.split(" in ")[1].split(" s")[0])
    rate = 60 * args.submissions / class_seconds
    print("\n== Class grading (assignments/grade.py, ch1-by-hand)")
    print(f"sandbox: {'full (namespaces, new root, own user, limits)' if isolated else 'limited: ' + why}")
    print(f"one submission alone: {single:.2f} s (median of {', '.join(f'{a:.2f}' for a in alone)})")
    print(f"{args.submissions} submissions with {args.jobs} jobs: {class_seconds:.1f} s of grading "
          f"({elapsed:.1f} s with the start-up and the solutions' check)")
    print(f"throughput: {rate:.0f} submissions per minute; floor {floor:.0f} per minute "
          f"({args.jobs} cores / {single:.2f} s): {100 * rate / floor:.0f} % of the floor")


if __name__ == "__main__":
    main()
