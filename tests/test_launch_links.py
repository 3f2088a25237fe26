"""The JupyterHub launch (nbgitpuller) on the chapter pages, and the student folder's links, made the same way.

There is no public hub for this book, so `_config.yml` leaves `launch_buttons: jupyterhub_url` unset (commented) and
an instructor sets it to their hub. A small Jupyter Book, built with the book's own `repository` and `launch_buttons`
settings, a notebook at chapter 1's path and its learner copy in notebooks/, shows what the site does either way: with
a hub's address, the chapter page carries a JupyterHub link that nbgitpuller turns into the book's repository, branch
and notebook; without one, no JupyterHub button at all (not a broken one). `make student-folder` writes its
nbgitpuller links with the same function shape, so the two open the same way.
"""
import html
import pathlib
import re
import subprocess
import sys
import urllib.parse

import nbformat
import pytest
import yaml

from conftest import ROOT, module_from_file

HUB = "https://hub.example.edu"
CHAPTER = "book/01-by-hand.ipynb"
LEARNER = "notebooks/01-by-hand.ipynb"  # what the site's launch buttons open (book/_ext/learner_notebooks.py)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _student_folder():
    return module_from_file(ROOT / "assignments" / "student_folder.py")


def build_small_book(folder, hub):
    """Build a one-page book with the real launch settings (and `hub`, if any); returns the chapter page's HTML."""
    launch = {k: v for k, v in CONFIG["launch_buttons"].items() if k != "jupyterhub_url"}
    if hub:
        launch["jupyterhub_url"] = hub
    config = {"title": "launch links", "only_build_toc_files": True, "execute": {"execute_notebooks": "off"},
              "repository": CONFIG["repository"], "html": {"use_repository_button": True},
              "launch_buttons": launch,
              "sphinx": {"local_extensions": {"learner_notebooks": str(ROOT / "book" / "_ext")}}}
    (folder / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: {CHAPTER.removesuffix('.ipynb')}\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Chapter 1"),
                                         nbformat.v4.new_code_cell("print(1)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (folder / CHAPTER).parent.mkdir(parents=True)
    nbformat.write(nb, folder / CHAPTER)
    (folder / LEARNER).parent.mkdir(parents=True)
    nbformat.write(nb, folder / LEARNER)
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(jupyter_book), "build", str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the small book did not build:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return (folder / "_build" / "html" / CHAPTER.replace(".ipynb", ".html")).read_text(encoding="utf-8")


def hub_links(page):
    return [html.unescape(href) for href in re.findall(r'href="([^"]*/hub/user-redirect/git-pull\?[^"]*)"', page)]


def test_the_published_config_sets_no_placeholder_hub():
    hub = CONFIG["launch_buttons"].get("jupyterhub_url")
    assert not hub or "your-university" not in hub, f"_config.yml points the JupyterHub button at {hub!r}"


def test_a_hub_address_gives_chapter_pages_a_correct_nbgitpuller_link(tmp_path):
    page = build_small_book(tmp_path, HUB)
    links = hub_links(page)
    assert len(links) == 1, f"expected one JupyterHub link on the chapter page, found {links}"
    (link,) = links
    base, query = link.split("?", 1)
    assert base == f"{HUB}/hub/user-redirect/git-pull", link
    fields = dict(urllib.parse.parse_qsl(query))
    repo_url, branch = CONFIG["repository"]["url"], CONFIG["repository"]["branch"]
    folder = repo_url.rstrip("/").rsplit("/", 1)[-1]
    student_folder = _student_folder()
    prefix = student_folder.INTERFACES[CONFIG["launch_buttons"]["notebook_interface"]]
    # nbgitpuller clones `repo` at `branch` into a folder named after the repository, then opens `urlpath`.
    # It opens the learner notebook (plain Markdown), not the chapter's MyST source.
    assert fields == {"repo": repo_url, "branch": branch, "urlpath": f"{prefix}/{folder}/{LEARNER}"}, fields
    assert ">JupyterHub<" in page.replace("\n", "").replace(" ", ""), "the link has no JupyterHub label"
    # The student folder writes its links the same way (same parameters, order and encoding).
    assert student_folder.nbgitpuller_link(HUB, repo_url, branch, LEARNER) == link


def test_without_a_hub_address_there_is_no_jupyterhub_button(tmp_path):
    page = build_small_book(tmp_path, None)
    assert not hub_links(page) and "JupyterHub" not in page, "a JupyterHub button without a hub to open"
    assert "mybinder.org/v2/gh/" in page, "the other launch buttons are missing too: the small build is wrong"
