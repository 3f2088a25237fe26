"""Shared helpers for the tests: where things are, the built site, and no skipping in CI."""
import fcntl
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD_LOG = ROOT / "_build" / "strict-build.log"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def book_notebooks():
    """Every notebook under book/, as paths relative to the repo root."""
    return sorted(p.relative_to(ROOT) for p in ROOT.glob("book/**/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def learner_notebooks():
    """Every learner notebook (notebooks/, made by tools/learner_notebooks.py), relative to the repo root."""
    return sorted(p.relative_to(ROOT) for p in ROOT.glob("notebooks/*.ipynb"))


def module_from_file(path, name=None):
    """Import a script of the repo that is not a package (assignments/build.py, assignments/student_folder.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name or pathlib.Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_notebook(path):
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def strict_build():
    """Build the site once per test run with warnings as errors; every worker shares the result.

    Returns (exit code, build output). The lock keeps two xdist workers from building into _build at once.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"single-{os.getpid()}")
    (ROOT / "_build").mkdir(exist_ok=True)
    with open(ROOT / "_build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = ROOT / "_build" / ".strict-build.json"
        if stamp.exists():
            done = json.loads(stamp.read_text())
            if done["run_id"] == run_id:
                return done["returncode"], BUILD_LOG.read_text()
        # The site publishes the student notebooks (html_extra_path): make them first, as `make book` does.
        # (tests/test_assignments.py checks that the solutions pass; here only the notebooks are needed.)
        assignments = subprocess.run([sys.executable, str(ROOT / "assignments" / "build.py"), "--no-run-tests"],
                                     cwd=ROOT, capture_output=True, text=True)
        if assignments.returncode != 0:
            BUILD_LOG.write_text(assignments.stdout + assignments.stderr)
            stamp.write_text(json.dumps({"run_id": run_id, "returncode": assignments.returncode}))
            return assignments.returncode, BUILD_LOG.read_text()
        jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
        result = subprocess.run([str(jupyter_book), "build", ".", "--all", "-W", "-n", "--keep-going"], cwd=ROOT,
                                capture_output=True, text=True)
        log, returncode = result.stdout + result.stderr, result.returncode
        # The site links to its PDF (`make pdf`): print it too where chromium is (in CI it must be), so the link and
        # the PDF are tested (tests/test_pdf.py).
        if returncode == 0 and (IN_CI or os.path.exists("/usr/bin/chromium")):
            pdf = subprocess.run([sys.executable, str(ROOT / "tools" / "book_pdf.py")], cwd=ROOT,
                                 capture_output=True, text=True)
            log += "\n== tools/book_pdf.py\n" + pdf.stdout + pdf.stderr
            returncode = pdf.returncode
        BUILD_LOG.write_text(log)
        stamp.write_text(json.dumps({"run_id": run_id, "returncode": returncode}))
        return returncode, BUILD_LOG.read_text()


@pytest.fixture(scope="session")
def built_site():
    """Path of the strictly built site (_build/html); fails the test if the build failed."""
    returncode, log = strict_build()
    problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line or "Exception" in line]
    assert returncode == 0, (f"building the site (assignments/build.py, then jupyter-book build -W) failed "
                             f"(exit {returncode}); see {BUILD_LOG}: {problems[:10] or log[-2000:]}")
    return ROOT / "_build" / "html"


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test means a missing tool, and that is a failure, not a pass."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; in CI every tool must be present.", red=True)


NO_NETWORK = '''
import socket as _socket
_connect = _socket.socket.connect
def _loopback_only(self, address, *args):
    host = address[0] if isinstance(address, tuple) else ""
    if self.family in (_socket.AF_INET, _socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"network access to {host!r} attempted; the notebook must run offline")
    return _connect(self, address, *args)
_socket.socket.connect = _loopback_only
del _socket
'''


def fresh_run(path, workdir):
    """Run a notebook alone: a copy in an empty folder, no network, a new kernel. Returns the executed notebook.

    Nothing from the repo is reachable from workdir, so a notebook that reads a repo file fails here, as in Colab.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(ROOT / path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NO_NETWORK))
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(workdir)}}).execute()
    nb.cells.pop(0)
    return nb


def stdout_of(cell):
    return "".join("".join(o["text"]) for o in cell.get("outputs", []) if o.get("name") == "stdout")


def cells_tagged(nb, tag):
    return [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
