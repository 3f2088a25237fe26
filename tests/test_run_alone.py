"""Every chapter notebook runs alone, as in Colab or a download: an empty folder, no network, and no stall.

The learner notebooks (notebooks/, what the site's Colab, Binder and download buttons give) too. The time limit is a
guard against a notebook that stalls or grows far beyond what a learner waits for, not a speed figure: the chapters
take 1-12 s beyond their imports here, more when `make test` runs the portability matrix beside them (a 10 s limit
failed chapter 7 in CI that way)."""
import datetime

import pytest

from conftest import book_notebooks, code_cells, fresh_run, learner_notebooks

SECONDS_BEYOND_IMPORTS = 60


def seconds(cell, key):
    return datetime.datetime.fromisoformat(cell["metadata"]["execution"][key].replace("Z", "+00:00"))


@pytest.mark.parametrize("path", book_notebooks() + learner_notebooks(), ids=str)
def test_notebook_runs_alone_offline_and_in_time(path, tmp_path):
    nb = fresh_run(path, tmp_path)
    cells = code_cells(nb)
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path}: a cell raised when run alone: {errors[0]['ename']}: {errors[0]['evalue']}"
    # The first code cell holds the imports; time the rest.
    after_imports = seconds(cells[0], "shell.execute_reply")
    end = seconds(cells[-1], "shell.execute_reply")
    elapsed = (end - after_imports).total_seconds()
    assert elapsed < SECONDS_BEYOND_IMPORTS, (
        f"{path}: took {elapsed:.1f} s beyond its imports, over the {SECONDS_BEYOND_IMPORTS} s a learner "
        f"should wait for a chapter")
