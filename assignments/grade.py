"""Grade a whole class in one command (`make grade`): every notebook of a folder, sandboxed, in parallel.

Usage: python assignments/grade.py SUBMISSIONS [--assignment ch1-by-hand] [--out graded] [--jobs N]
                                   [--timeout SECONDS] [--memory MB] [--autograders DIR]

Each notebook runs alone in a sandbox (grading/remote.py: its own namespaces, no network, a new root holding only the
system, Python and the notebook, an unprivileged user, memory and CPU limits, a wall-clock limit) and the
autograder's tests run in this trusted process against stand-ins for its objects (grading/judge.py). Before the class,
the assignment's own solutions are graded the same way: they must score full marks (or nothing is graded), and their
time sets the default time limit (5 times it, at least 30 s).

Writes, for each assignment, into OUT/NAME/:
    final_grades.csv     otter grade's layout: file, one column per question, total_points_earned, percent_correct,
                         grading_status (graded, TIMEOUT, ERROR, WRONG-ASSIGNMENT or TAMPERED, with why)
    feedback/STUDENT.txt what the student may see: points per question and the tests' messages (never their source)
    results/STUDENT.json otter's results (per test: name, score, max_score, output), with the status
    summary.txt, summary.png   per-question means and a histogram of the totals (also printed)
Every submission ends with a status; none is a silent 0.
"""
import argparse
import concurrent.futures
import csv
import json
import multiprocessing
import os
import pathlib
import re
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "assignments" / "grading"))

import judge  # noqa: E402
import remote  # noqa: E402

BUILD = ROOT / "_build" / "assignments"
STATUSES = ("graded", "TAMPERED", "TIMEOUT", "ERROR", "WRONG-ASSIGNMENT")

_worker = {}


def _init_worker(isolated, memory_mb):
    # each worker's sandboxes run as a user of its own, which no other grading on this machine uses meanwhile
    _worker.update(uid=remote.claim_uid(), isolated=isolated, memory_mb=memory_mb, autograders={})


def _grade_in_worker(path, autograder_path, timeout):
    autograders = _worker["autograders"]
    if autograder_path not in autograders:
        autograders[autograder_path] = judge.Autograder(autograder_path)
    return judge.grade(path, autograders[autograder_path], uid=_worker["uid"], timeout=timeout,
                       memory_mb=_worker["memory_mb"], isolated=_worker["isolated"])


def load_autograders(folder):
    """{assignment name and short name: Autograder} for every *-autograder.zip in `folder`."""
    found = {}
    for path in sorted(pathlib.Path(folder).glob("*-autograder.zip")):
        autograder = judge.Autograder(path)
        autograder.short = path.name[: -len("-autograder.zip")]
        found[autograder.name] = found[autograder.short] = autograder
    return found


def student_name(path, folder, taken):
    name = re.sub(r"[^\w.-]+", "_", str(path.relative_to(folder).with_suffix("")))
    base, n = name, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def feedback_text(result, points):
    lines = [f"Assignment {result['assignment']}, notebook {result['file']}", ""]
    if result["status"] not in ("graded", "TAMPERED"):
        lines += [f"Not graded: {result['status']}: {result['why']}", ""]
        if result["status"] == "TIMEOUT":
            lines.append("Check that every loop ends: run your notebook from the top (Restart and run all).")
        return "\n".join(lines) + "\n"
    total = sum(s for s, _ in result["scores"].values())
    lines.append(f"Total: {total:g} / {sum(points.values()):g}")
    for question, (score, possible) in result["scores"].items():
        lines += ["", f"{question}: {score:g} / {possible:g}"]
        for message in result["messages"].get(question, []):
            text = message.replace("❌ Test case failed\n", "").strip()
            lines.append("  - " + text.replace("\n", "\n    "))
    if result["cell_errors"]:
        lines += ["", "Cells that raised an error when your notebook ran from the top:"]
        lines += [f"  - cell {e['index']}: {e['error']}: {e['message']}" for e in result["cell_errors"][:10]]
    return "\n".join(lines) + "\n"


def write_gradebook(folder, results, points):
    """final_grades.csv in otter grade's layout (its first row: points-per-question)."""
    questions = sorted(points, key=lambda q: (len(q), q))
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "final_grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", *questions, "total_points_earned", "percent_correct", "grading_status"])
        possible = sum(points.values())
        writer.writerow(["points-per-question", *[f"{points[q]:g}" for q in questions], f"{possible:g}", "", ""])
        for result in results:
            status = result["status"] + (f": {result['why']}" if result["why"] else "")
            if result["status"] in ("graded", "TAMPERED"):
                total = sum(s for s, _ in result["scores"].values())
                writer.writerow([result["file"], *[f"{result['scores'].get(q, (0, 0))[0]:g}" for q in questions],
                                 f"{total:g}", f"{100 * total / possible:.1f}" if possible else "", status])
            else:
                writer.writerow([result["file"], *["" for _ in questions], "", "", status])


def summarise(name, results, points):
    """The instructor's summary, as text: statuses, per-question means and a histogram of the totals."""
    graded = [r for r in results if r["status"] in ("graded", "TAMPERED")]
    possible = sum(points.values())
    lines = [f"{name}: {len(results)} submissions, " +
             ", ".join(f"{sum(r['status'] == s for r in results)} {s}" for s in STATUSES
                       if any(r["status"] == s for r in results))]
    if graded:
        totals = [sum(s for s, _ in r["scores"].values()) for r in graded]
        lines.append(f"  mean total {sum(totals) / len(totals):.2f} / {possible:g}")
        for question in sorted(points, key=lambda q: (len(q), q)):
            mean = sum(r["scores"][question][0] for r in graded) / len(graded)
            lines.append(f"  {question:>4}: mean {mean:.2f} / {points[question]:g}  " +
                         "▇" * round(20 * mean / points[question] if points[question] else 0))
        lines.append("  totals (submissions per total):")
        for value in range(int(possible) + 1):
            count = sum(int(t) == value for t in totals)
            lines.append(f"  {value:>4g} | {'█' * count} {count if count else ''}".rstrip())
    for result in results:
        if result["status"] != "graded":
            lines.append(f"  {result['status']:<16} {result['file']}: {result['why']}")
    return "\n".join(lines)


def plot_summary(path, name, results, points):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in results if r["status"] in ("graded", "TAMPERED")]
    possible = sum(points.values())
    questions = sorted(points, key=lambda q: (len(q), q))
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    totals = [sum(s for s, _ in r["scores"].values()) for r in graded]
    left.hist(totals, bins=[b - 0.5 for b in range(int(possible) + 2)], color="#0072B2", edgecolor="white")
    left.set(title=f"{name}: totals of {len(graded)} graded", xlabel=f"points (of {possible:g})", ylabel="submissions")
    means = [sum(r["scores"][q][0] for r in graded) / len(graded) / points[q] if graded and points[q] else 0
             for q in questions]
    right.bar(questions, [100 * m for m in means], color="#E69F00")
    right.set(title="mean per question", ylabel="% of the question's points", ylim=(0, 100))
    others = len(results) - len(graded)
    if others:
        figure.text(0.5, 0.01, f"not graded: {others} (see final_grades.csv)", ha="center", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=pathlib.Path, help="folder of .ipynb files (searched recursively)")
    parser.add_argument("--assignment", help="grade every notebook against this assignment (e.g. ch1-by-hand); "
                                             "by default each notebook's own assignment, from its metadata")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("graded"), help="output folder (graded)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions at once (cores)")
    parser.add_argument("--timeout", type=float, help="seconds per submission (default: 5 x the solutions', >= 30)")
    parser.add_argument("--memory", type=int, default=4096, help="memory limit per submission, MB (4096)")
    parser.add_argument("--autograders", type=pathlib.Path, default=BUILD / "autograder",
                        help="folder of *-autograder.zip (default _build/assignments/autograder)")
    parser.add_argument("--solutions", type=pathlib.Path, default=BUILD / "solutions",
                        help="folder of the solution notebooks, graded first as a check (_build/assignments/solutions)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of submissions")
    autograders = load_autograders(args.autograders)
    if not autograders:
        parser.error(f"no *-autograder.zip in {args.autograders}: run `make assignments` first")
    if args.assignment and args.assignment not in autograders:
        parser.error(f"no autograder for {args.assignment!r}; there are: "
                     f"{', '.join(sorted({a.short for a in autograders.values()}))}")
    notebooks = sorted(p for p in args.submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        parser.error(f"no .ipynb file in {args.submissions}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    isolated, why_not = remote.isolation()
    if not isolated:
        print(f"WARNING: no full sandbox here: {why_not}. Each notebook still runs in its own process, folder and "
              "session with time and memory limits, but it can reach the network and read your files. Grade as "
              "root on Linux for the full sandbox.", file=sys.stderr)

    # Which autograder grades which notebook.
    jobs, taken = [], set()
    for path in notebooks:
        if args.assignment:
            autograder = autograders[args.assignment]
        else:
            try:
                name = judge.assignment_of(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError):
                name = None
            autograder = autograders.get(name)
        jobs.append((path, autograder, student_name(path, args.submissions, taken)))
    used = sorted({a.short: a for _, a, _ in jobs if a is not None}.values(), key=lambda a: a.short)

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, initializer=_init_worker,
                                                initargs=(isolated, args.memory)) as pool:
        # 1. The solutions of each assignment: they must score full marks; their time sets the time limit.
        timeouts, checks = {}, {}
        for autograder in used:
            solution = args.solutions / f"{autograder.short}.ipynb"
            if not solution.is_file():
                sys.exit(f"{solution} is missing: run `make assignments` (the solutions are graded first as a check)")
            checks[autograder.short] = pool.submit(_grade_in_worker, str(solution), str(autograder.path), 300.0)
        for autograder in used:
            check = checks[autograder.short].result()
            points = autograder.points()
            full = sum(points.values())
            earned = sum(s for s, _ in check["scores"].values())
            if check["status"] != "graded" or earned != full:
                sys.exit(f"The solutions of {autograder.short} score {earned:g}/{full:g} ({check['status']} "
                         f"{check['why']}) in the sandbox: the grading is broken here, so nothing was graded.")
            timeouts[autograder.short] = args.timeout or max(30.0, 5 * check["seconds"])
            print(f"{autograder.short}: the solutions score {earned:g}/{full:g} in {check['seconds']:.1f} s; "
                  f"time limit {timeouts[autograder.short]:.0f} s per submission", file=sys.stderr)

        # 2. The class.
        started = time.monotonic()
        futures = {}
        results = {}
        for path, autograder, student in jobs:
            if autograder is None:
                results[student] = wrong_assignment(path, student, args.assignment)
                continue
            futures[pool.submit(_grade_in_worker, str(path), str(autograder.path), timeouts[autograder.short])] = (
                student, autograder)
        progress = None
        if not args.quiet:
            from tqdm import tqdm
            progress = tqdm(total=len(jobs), unit="notebook", desc="grading", file=sys.stderr, dynamic_ncols=True)
            progress.update(len(results))
        for future in concurrent.futures.as_completed(futures):
            student, autograder = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - a grader failure is reported, not a traceback
                result = {"file": student, "status": "ERROR", "why": f"the grader failed: {error!r}"[:300],
                          "scores": {}, "messages": {}, "cell_errors": [], "seconds": 0, "strays": 0, "results": None}
            result["student"], result["short"] = student, autograder.short
            results[student] = result
            if progress:
                progress.update(1)
                progress.set_postfix_str(f"{student}: {result['status']}", refresh=False)
        if progress:
            progress.close()
    elapsed = time.monotonic() - started

    # 3. Gradebooks, feedback, summaries, one folder per assignment.
    groups = {}
    for path, autograder, student in jobs:
        result = results[student]
        groups.setdefault(result.get("short") or "unknown-assignment", []).append(result)
    for short, group in sorted(groups.items()):
        autograder = autograders.get(short)
        points = autograder.points() if autograder else {}
        folder = args.out / short
        (folder / "feedback").mkdir(parents=True, exist_ok=True)
        (folder / "results").mkdir(parents=True, exist_ok=True)
        write_gradebook(folder, group, points)
        for result in group:
            (folder / "feedback" / f"{result['student']}.txt").write_text(feedback_text(result, points),
                                                                          encoding="utf-8")
            record = dict(result.get("results") or {}, grading_status=result["status"], why=result["why"],
                          seconds=result["seconds"], sandbox_uid=result.get("uid"),
                          tests_sha256=autograder.digest if autograder else None)
            (folder / "results" / f"{result['student']}.json").write_text(json.dumps(record, indent=1),
                                                                          encoding="utf-8")
        text = summarise(short, group, points)
        (folder / "summary.txt").write_text(text + "\n", encoding="utf-8")
        if points:
            plot_summary(folder / "summary.png", short, group, points)
        print(text)
        print(f"  -> {folder}/final_grades.csv, feedback/, results/, summary.png")
    rate = 60 * len(jobs) / elapsed if elapsed else 0
    print(f"Graded {len(jobs)} notebooks in {elapsed:.1f} s with {args.jobs} jobs ({rate:.0f} per minute).")
    return results


def wrong_assignment(path, student, wanted):
    try:
        name = judge.assignment_of(json.loads(path.read_text(encoding="utf-8")))
        why = (f"a notebook of {name!r}, for which there is no autograder" if name and not wanted
               else "a notebook with no assignment name in its metadata" if not name else f"not of {wanted!r}")
        status = "WRONG-ASSIGNMENT"
    except (OSError, UnicodeDecodeError, ValueError) as error:
        why, status = f"not a readable notebook ({str(error)[:120]})", "ERROR"
    return {"file": path.name, "student": student, "status": status, "why": why, "scores": {}, "messages": {},
            "cell_errors": [], "seconds": 0, "strays": 0, "results": None}


if __name__ == "__main__":
    main()
