"""Grade one submission: run it in the sandbox, then run the autograder's tests here, against stand-ins for its objects.

The tests are the autograder zip's `tests/*.py` (otter's exception-based format, the same files `otter run` and
Gradescope use). They run in this trusted process; the student's notebook runs in the sandbox and never sees them.
`grade(...)` returns a plain dict: status (graded, TIMEOUT, ERROR, WRONG-ASSIGNMENT, TAMPERED), why, points per
question, the messages a student may see (assertion messages only, never a test's source), and otter's results.
"""
import hashlib
import json
import pathlib
import time
import zipfile

from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

try:
    from . import remote
except ImportError:  # run as a script from this folder
    import remote

MAX_MESSAGE = 600  # characters of one message in the feedback (a student's text inside it is cut too)


class Autograder:
    """An autograder zip: its assignment name, its tests by question, and their digest."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        try:
            with zipfile.ZipFile(self.path) as archive:
                config = json.loads(archive.read("otter_config.json"))
                sources = {pathlib.PurePosixPath(n).stem: archive.read(n).decode("utf-8")
                           for n in sorted(archive.namelist()) if n.startswith("tests/") and n.endswith(".py")}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"{self.path} is not an otter autograder zip ({error})") from None
        self.name = config.get("assignment_name")
        if not sources:
            raise ValueError(f"{self.path} holds no tests/*.py")
        self.sources = sources
        self.digest = hashlib.sha256("".join(f"{k}\n{v}" for k, v in sorted(sources.items())).encode()).hexdigest()

    def test_files(self):
        """Fresh test files (otter keeps results on them), in question order."""
        files = [TrustedTestFile.from_string(source, path=f"tests/{name}.py") for name, source in self.sources.items()]
        return sorted(files, key=lambda f: (len(f.name), f.name))

    def points(self):
        return {f.name: sum(tc.points or 0 for tc in f.test_cases) for f in self.test_files()}


class Environment:
    """What otter's test cases look the student's globals up in: each name fetched from the sandbox when asked."""

    def __init__(self, session):
        self.session = session

    def get(self, name, default=None):
        value = self.session.get(name)
        return default if value is None else value

    def define(self, source):
        """Run a test's own helper code (say, a class of graph nodes) in the sandbox; returns stand-ins for its names.

        For a test whose objects the student's code must call back into: under `otter run` the test runs the same
        source in its own process (tests check `hasattr(env, "define")`)."""
        return self.session.decode(self.session.ask(do="define", source=source)["value"])

    def __getitem__(self, name):
        return self.session.get(name)

    def __setitem__(self, name, value):
        """Set one of the student's globals (a test giving their functions other data, as `env[...] =` does under
        otter run, where env is the notebook's own namespace)."""
        self.session.ask(do="set", name=name, value=self.session.encode(value))


def _short(text, limit=MAX_MESSAGE):
    text = str(text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


class TrustedTestFile(ExceptionTestFile):
    """otter's exception-based test file, run with messages that never quote the test's source."""

    def run(self, global_environment):
        self.test_case_results = []
        for tc in self.test_cases:
            passed, message = True, "✅ Test case passed"
            try:
                tc.body.call_func(global_environment)
            except AssertionError as error:
                passed = False
                message = "❌ Test case failed\n" + (_short(error) or "(this test gives no message)")
            except remote.RemoteError as error:
                passed = False
                message = ("❌ Test case failed\nYour code raised " +
                           _short(f"{type(error).__name__}: {error}") + " when the test called it.")
            except Exception as error:  # noqa: BLE001 - a value the test did not expect
                passed = False
                message = (f"❌ Test case failed\nThe test could not use your answer ({type(error).__name__}); "
                           "check its type and shape against the question.")
            self.test_case_results.append(TestCaseResult(test_case=tc, message=message, passed=passed))


def assignment_of(notebook):
    return (notebook.get("metadata", {}).get("otter") or {}).get("assignment_name")


def grade(path, autograder, uid=61000, timeout=60.0, memory_mb=4096, isolated=True):
    """Grade the notebook at `path` with `autograder` (an Autograder); returns the result dict (see module doc)."""
    path = pathlib.Path(path)
    start = time.monotonic()
    result = {"file": path.name, "student": path.stem, "assignment": autograder.name, "status": "graded", "why": "",
              "scores": {}, "messages": {}, "cell_errors": [], "seconds": 0.0, "strays": 0, "results": None,
              "uid": None}

    def finish(status=None, why=""):
        if status:
            result["status"], result["why"] = status, why
        result["seconds"] = round(time.monotonic() - start, 2)
        return result

    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return finish("ERROR", f"not a readable notebook ({_short(error, 120)})")
    name = assignment_of(notebook)
    if name != autograder.name:
        found = f"a notebook of {name!r}" if name else "a notebook with no assignment name in its metadata"
        return finish("WRONG-ASSIGNMENT", f"{found}, not of {autograder.name!r}")

    sandbox = remote.Sandbox(path, uid=uid, timeout=timeout, memory_mb=memory_mb, isolated=isolated)
    result["uid"] = uid
    try:
        try:
            result["cell_errors"] = sandbox.run_notebook()
        except remote.GradingTimeout:
            line = getattr(sandbox, "current_line", "")
            return finish("TIMEOUT", f"still running after {timeout:g} s, in cell {sandbox.current_cell}"
                                     f"{' (' + _short(line, 60) + ')' if line else ''}")
        session = remote.Session(sandbox)
        environment = Environment(session)
        files = autograder.test_files()
        try:
            for test_file in files:
                test_file.run(environment)
            findings = session.integrity()
        except remote.GradingTimeout:
            return finish("TIMEOUT", f"a test's call into the notebook's code was still running after {timeout:g} s "
                                     "in all")
        tests = []
        for test_file in files:
            result["scores"][test_file.name] = (float(test_file.score), float(test_file.possible))
            result["messages"][test_file.name] = [r.message for r in test_file.test_case_results if not r.passed]
            tests.append({"name": test_file.name, "score": float(test_file.score),
                          "max_score": float(test_file.possible),
                          "output": "\n".join(r.message for r in test_file.test_case_results)})
        # otter's results.json layout (as Gradescope reads it): a score and one entry per question
        result["results"] = {"score": sum(t["score"] for t in tests), "tests": tests}
        if findings:
            shown = [_short(f, 200) for f in findings[:5]] if isinstance(findings, list) else ["(unreadable report)"]
            return finish("TAMPERED", "the notebook changed what tests rely on: " + "; ".join(shown))
        return finish()
    except remote.SandboxBroken as error:
        return finish("ERROR", _short(error, 300))
    finally:
        result["strays"] = sandbox.close()
