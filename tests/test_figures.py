"""Figures stay legible on a phone: at most 6 inches wide, no text under 12 pt.

A page 390 CSS px wide shows an image about 358 px wide. The notebooks draw at 100 dpi, so a 6-inch figure (600 px)
is shown at 0.6 of its size and 12-pt text (16.7 px) at about 10 CSS px; a 9-inch figure with 10-pt text would show
its text at 5-6 px.
"""
import ast
import base64
import struct

import pytest

from conftest import book_notebooks, read_notebook

NOTEBOOKS = book_notebooks()
MAX_WIDTH_IN = 6.0
MIN_POINTS = 12
DPI = 100
# A tight bounding box adds a little to the figure's own width (labels outside the axes); more than this means
# the figure itself is too wide.
MAX_WIDTH_PX = int(MAX_WIDTH_IN * DPI * 1.1)
SIZE_KEYWORDS = {"fontsize", "size", "labelsize", "titlesize", "title_fontsize"}
NAMED_SIZES = {"xx-small", "x-small", "small", "smaller"}


def source_of(cell):
    return "".join(cell["source"])


def numbered_code_cells(path):
    """(index among all the notebook's cells, as Jupyter counts them from 0, cell) for every code cell."""
    return [(index, cell) for index, cell in enumerate(read_notebook(path)["cells"]) if cell["cell_type"] == "code"]


def parsed_cells(path):
    for index, cell in numbered_code_cells(path):
        source = source_of(cell)
        if "plt" not in source and "matplotlib" not in source:
            continue
        yield index, ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))


def number(node):
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def rc_font_settings(tree):
    """(key, value) for every rcParams["…size"] = value and rcParams.update({"…size": value}) in a cell."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and "rcParams" in ast.unparse(target.value):
                    key = number_or_text(target.slice)
                    if isinstance(key, str):
                        yield key, node.value
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("rcParams.update") and node.args:
            if isinstance(node.args[0], ast.Dict):
                for key, value in zip(node.args[0].keys, node.args[0].values):
                    key = number_or_text(key)
                    if isinstance(key, str):
                        yield key, value


def number_or_text(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_figure_is_at_most_six_inches_wide(path):
    too_wide = []
    for index, tree in parsed_cells(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "figsize":
                width = number(node.value.elts[0]) if isinstance(node.value, ast.Tuple) else None
                if width is None or width > MAX_WIDTH_IN:
                    too_wide.append(f"cell {index}: figsize={ast.unparse(node.value)}")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("set_size_inches"):
                width = number(node.args[0]) if node.args else None
                if width is None or width > MAX_WIDTH_IN:
                    too_wide.append(f"cell {index}: {ast.unparse(node)}")
    assert not too_wide, (
        f"{path}: figures wider than {MAX_WIDTH_IN:g} in (written as a literal), unreadable at a phone's width; "
        f"stack the panels (plt.subplots(2, 1, figsize=(6, 7))) or draw fewer: {too_wide}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_no_text_in_a_figure_is_under_12_points(path):
    small, base_sizes = [], []
    for index, tree in parsed_cells(path):
        for key, value in rc_font_settings(tree):
            if key.endswith("size") and key != "figure.figsize":
                size = number(value)
                if key == "font.size":
                    base_sizes.append(size)
                if size is None or size < MIN_POINTS:
                    if not (isinstance(number_or_text(value), str) and number_or_text(value) not in NAMED_SIZES):
                        small.append(f"cell {index}: rcParams[{key!r}] = {ast.unparse(value)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in SIZE_KEYWORDS:
                size = number_or_text(node.value)
                if (isinstance(size, (int, float)) and size < MIN_POINTS) or size in NAMED_SIZES:
                    small.append(f"cell {index}: {node.arg}={ast.unparse(node.value)}")
    uses_matplotlib = any(True for _ in parsed_cells(path))
    assert not uses_matplotlib or any(size is not None and size >= MIN_POINTS for size in base_sizes), (
        f'{path}: draws figures but never sets plt.rcParams["font.size"] to {MIN_POINTS} or more (matplotlib\'s '
        f"default, 10 pt, shows at 6 CSS px on a phone); set it in the notebook's first matplotlib cell")
    assert not small, f"{path}: text under {MIN_POINTS} pt in a figure, unreadable on a phone: {small}"


def png_width(data):
    raw = base64.b64decode(data)
    return struct.unpack(">I", raw[16:20])[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_stored_figure_is_at_most_six_inches_wide(path):
    wide = [(index, png_width(output["data"]["image/png"]))
            for index, cell in numbered_code_cells(path)
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
            and png_width(output["data"]["image/png"]) > MAX_WIDTH_PX]
    assert not wide, (f"{path}: stored figures (cell, width in px) wider than {MAX_WIDTH_PX} px, i.e. more than "
                      f"{MAX_WIDTH_IN:g} in at {DPI} dpi: {wide}")
