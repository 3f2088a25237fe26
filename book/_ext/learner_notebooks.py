"""Sphinx extension: a chapter page's Colab, Binder and download buttons give the learner notebook, not the MyST source.

Listed in _config.yml under `sphinx: local_extensions`. The chapters (book/0N-*.ipynb) are written in MyST for the
site; opened in Colab or Binder, or downloaded, they would show raw roles and directives. tools/learner_notebooks.py
(`make notebooks`) writes plain-Markdown copies into notebooks/, committed so that Colab and Binder can open them from
the repository. sphinx-book-theme builds its launch links in `add_launch_buttons` (html-page-context, priority 501)
from the page's source path; this extension runs right after it and rewrites every launch URL from
`book/0N-name.ipynb` to `notebooks/0N-name.ipynb`:

* Binder:     {binderhub}/v2/gh/{org}/{repo}/{branch}?urlpath=tree/notebooks/0N-name.ipynb
* Colab:      {colab}/github/{org}/{repo}/blob/{branch}/notebooks/0N-name.ipynb
* JupyterHub: {hub}/hub/user-redirect/git-pull?repo=...&urlpath=tree/{repo}/notebooks/0N-name.ipynb&branch={branch}

The download button keeps its address (`_sources/book/0N-name.ipynb`); once the site is written, that file is
replaced by the learner notebook. A chapter without a learner notebook is a build warning (so `-W` fails).
"""
import pathlib
import shutil

from sphinx.util import logging

logger = logging.getLogger(__name__)
LEARNER_DIR = "notebooks"


def learner_notebook(app, pagename):
    """notebooks/<name>.ipynb for a chapter page book/<name>, or None where the page is not a book notebook."""
    source = pathlib.Path(app.srcdir, pagename + ".ipynb")
    if not pagename.startswith("book/") or not source.exists():
        return None
    return pathlib.PurePosixPath(LEARNER_DIR, pathlib.PurePosixPath(pagename).name + ".ipynb")


def rewrite_buttons(buttons, old, new):
    for button in buttons:
        if button.get("type") == "group":
            rewrite_buttons(button.get("buttons", []), old, new)
        elif button.get("url") and button.get("label") != "download-source-button":
            url = button["url"]
            if "?urlpath=" in url or "git-pull?" in url or "/blob/" in url:
                button["url"] = url.replace(old, new)


def launch_learner_notebook(app, pagename, templatename, context, doctree):
    learner = learner_notebook(app, pagename)
    if learner is None:
        return
    if not pathlib.Path(app.srcdir, learner).exists():
        logger.warning(f"{pagename}: no learner notebook {learner}: run `python tools/learner_notebooks.py` "
                       f"(`make notebooks`); the launch buttons would open the MyST source", location=pagename)
        return
    rewrite_buttons(context.get("header_buttons", []), f"{pagename}.ipynb", str(learner))


def download_learner_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        learner = learner_notebook(app, docname)
        if learner is None or not pathlib.Path(app.srcdir, learner).exists():
            continue
        target = pathlib.Path(app.outdir, "_sources", docname + ".ipynb")
        if target.parent.exists():
            shutil.copyfile(pathlib.Path(app.srcdir, learner), target)


def setup(app):
    app.connect("html-page-context", launch_learner_notebook, priority=502)
    app.connect("build-finished", download_learner_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
