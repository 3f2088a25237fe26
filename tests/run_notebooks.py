"""Re-run notebooks top to bottom and save their outputs in place, as nbval expects them (`make notebooks`).

Usage: python tests/run_notebooks.py [NOTEBOOK ...]   (default: every notebook under book/ and assignments/)
"""
import pathlib
import sys

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def notebooks(args):
    if args:
        return [pathlib.Path(a) for a in args]
    found = list(ROOT.glob("book/**/*.ipynb")) + list(ROOT.glob("assignments/**/*.ipynb"))
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def run(path):
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = KERNEL
    # Run in the notebook's own folder, as Jupyter, Colab and nbval do.
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


if __name__ == "__main__":
    for path in notebooks(sys.argv[1:]):
        print(f"running {path}", flush=True)
        run(path)
