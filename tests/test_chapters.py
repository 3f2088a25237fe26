"""Chapters 1-3 agree: chapter 1's hand-written gradient is autograd's, and the three training loops print one path of w.

Each chapter hands one more piece to PyTorch and promises that nothing else changes. These tests hold them to it.
"""
import ast
import difflib
import pathlib

import numpy as np
import pytest
import torch
from nbclient.exceptions import CellExecutionError

from conftest import cells_tagged, fresh_run, read_notebook, stdout_of

CHAPTER_1 = "book/01-by-hand.ipynb"
SAME_TRAJECTORY = ["book/02-autograd.ipynb", "book/03-loss-and-optimizer.ipynb", "book/04-model.ipynb"]
# Each chapter shows its training loop as a diff against the previous chapter's (a ```diff block in its Markdown).
LOOP_DIFFS = list(zip([CHAPTER_1] + SAME_TRAJECTORY[:-1], SAME_TRAJECTORY))
FIRST_EPOCH = "epoch  1: w = 0.300"


def only_cell_tagged(nb, tag, path):
    cells = cells_tagged(nb, tag)
    assert len(cells) == 1, (
        f"{path}: expected exactly one cell tagged {tag!r}, found {len(cells)}; "
        f"tag the cell in the notebook's metadata (jupytext: `# %% tags=[\"{tag}\"]`)")
    return cells[0]


def function_from_cell(source, name, where):
    """Run only the `def` statements of a notebook cell, so that its prints and other names are not needed."""
    definitions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    namespace = {"np": np}
    exec(compile(ast.Module(body=definitions, type_ignores=[]), where, "exec"), namespace)
    assert name in namespace, f"{where}: the cell defines no function {name!r}"
    return namespace[name]


@pytest.fixture(scope="module")
def hand_gradient():
    cell = only_cell_tagged(read_notebook(CHAPTER_1), "gradient", CHAPTER_1)
    return function_from_cell("".join(cell["source"]), "gradient", f"{CHAPTER_1} (cell tagged 'gradient')")


def autograd_gradient(x, y, w):
    """dL/dw of the mean squared error of w * x against y, by torch autograd in float64."""
    w_tensor = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    loss = ((w_tensor * torch.from_numpy(x) - torch.from_numpy(y)) ** 2).mean()
    loss.backward()
    return w_tensor.grad.item()


DATA = {
    "book data": (np.array([1, 2, 3, 4], dtype=np.float64), np.array([2, 4, 6, 8], dtype=np.float64)),
    "other data": (np.array([0.5, -1.0, 2.0, 3.5, 7.0], dtype=np.float64),
                   np.array([1.0, 3.0, -2.0, 0.25, 6.0], dtype=np.float64)),
}


@pytest.mark.parametrize("data", DATA, ids=str)
@pytest.mark.parametrize("w", [-1.0, 0.0, 0.5, 1.606, 2.0, 3.0])
def test_chapter_1_gradient_equals_autograd(hand_gradient, data, w):
    x, y = DATA[data]
    by_hand = float(hand_gradient(x, y, w * x))
    by_autograd = autograd_gradient(x, y, w)
    assert np.isclose(by_hand, by_autograd, rtol=1e-12, atol=1e-12), (
        f"{CHAPTER_1}: at w = {w} on the {data}, gradient() gives {by_hand!r} but autograd of the mean squared error "
        f"gives {by_autograd!r} (ratio {by_hand / by_autograd if by_autograd else float('nan'):.6g}); "
        f"fix `gradient` in the cell tagged 'gradient' (a ratio equal to N means a sum where the mean belongs)")


@pytest.fixture(scope="session")
def training_output(tmp_path_factory):
    """stdout of a chapter's `training-loop` cell in a fresh run alone; each notebook runs at most once per session."""
    outputs = {}

    def run(path):
        if path not in outputs:
            nb, raised = None, None
            try:
                nb = fresh_run(path, tmp_path_factory.mktemp(pathlib.Path(path).stem))
            except CellExecutionError as error:
                raised = f"{error.ename}: {error.evalue}"
            if raised:
                pytest.fail(f"{path}: a cell raised in a fresh run, so its training loop could not be compared: "
                            f"{raised}", pytrace=False)
            outputs[path] = stdout_of(only_cell_tagged(nb, "training-loop", path))
        return outputs[path]

    return run


def test_chapter_1_training_loop_prints_the_known_trajectory(training_output):
    printed = training_output(CHAPTER_1)
    epoch_lines = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert FIRST_EPOCH in printed, (
        f"{CHAPTER_1}: the training-loop cell no longer prints {FIRST_EPOCH!r} (lr 0.01, w from 0); it printed:\n"
        f"{printed}")
    assert len(epoch_lines) == 10, f"{CHAPTER_1}: the training-loop cell printed {len(epoch_lines)} epoch lines, not 10"


@pytest.mark.parametrize("path", SAME_TRAJECTORY)
def test_training_loop_prints_chapter_1_lines(training_output, path):
    expected = training_output(CHAPTER_1)
    printed = training_output(path)
    diff = "\n".join(difflib.unified_diff(expected.splitlines(), printed.splitlines(),
                                          fromfile=CHAPTER_1, tofile=path, lineterm=""))
    assert printed == expected, (
        f"{path}: its training-loop cell must print exactly chapter 1's lines (same w, same loss, same format), "
        f"since only who computes one piece changed; differences:\n{diff}")
    assert FIRST_EPOCH in printed


def loop_diff(old, new):
    """The whole new loop, each line marked: '  ' unchanged, '- ' gone, '+ ' new (difflib.ndiff without its hints)."""
    return [line for line in difflib.ndiff(old.splitlines(), new.splitlines()) if not line.startswith("? ")]


def diff_blocks(nb):
    blocks = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            for block in text.split("```diff\n")[1:]:
                blocks.append(block.split("\n```")[0].splitlines())
    return blocks


@pytest.mark.parametrize("old, new", LOOP_DIFFS, ids=lambda path: pathlib.Path(path).stem)
def test_diff_of_the_training_loop_is_the_loops_own(old, new):
    """The diff a chapter shows must be the diff of the two chapters' cells tagged 'training-loop', so it cannot drift."""
    source = {path: "".join(only_cell_tagged(read_notebook(path), "training-loop", path)["source"]) for path in (old, new)}
    expected = loop_diff(source[old], source[new])
    blocks = diff_blocks(read_notebook(new))
    block = "\n".join(expected)
    assert len(blocks) == 1, (f"{new}: expected one ```diff block showing its training loop against {old}'s, found "
                              f"{len(blocks)}; it should read:\n```diff\n{block}\n```")
    assert blocks[0] == expected, (f"{new}: the ```diff block is not the diff of the training-loop cells of {old} and "
                                   f"{new} (a loop changed since); replace it by:\n```diff\n{block}\n```")
