"""Chapter 6's `Value` class gives the same gradients as PyTorch's autograd.

The class is taken from the chapter's cell tagged `value-class`, so the test checks the code the reader sees.
"""
import ast
import random
import sys

import pytest
import torch

from conftest import cells_tagged, read_notebook

CHAPTER = "book/06-your-own-autograd.ipynb"
TAG = "value-class"
RTOL = 1e-10


def value_class_source():
    cells = cells_tagged(read_notebook(CHAPTER), TAG)
    assert len(cells) == 1, f"{CHAPTER}: expected one cell tagged {TAG!r}, found {len(cells)}"
    return "".join(cells[0]["source"])


@pytest.fixture(scope="module")
def Value():
    namespace = {"__name__": "value_class"}
    exec(compile(value_class_source(), f"{CHAPTER}[{TAG}]", "exec"), namespace)
    assert "Value" in namespace, f"the cell tagged {TAG!r} in {CHAPTER} does not define a class `Value`"
    return namespace["Value"]


def test_value_cell_needs_only_the_standard_library():
    imported = set()
    for node in ast.walk(ast.parse(value_class_source())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    outside = sorted(imported - set(sys.stdlib_module_names))
    assert not outside, f"the cell tagged {TAG!r} imports {outside}; the Value class must need only the standard library"


def gradients(build, numbers, Value):
    """Gradients of build(*inputs) with respect to its inputs: (by Value, by torch float64)."""
    values = [Value(x) for x in numbers]
    build(*values).backward()
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in numbers]
    build(*tensors).backward()
    by_torch = [0.0 if t.grad is None else t.grad.item() for t in tensors]
    return [v.grad for v in values], by_torch


def assert_same_gradients(by_value, by_torch, what):
    for i, (mine, theirs) in enumerate(zip(by_value, by_torch)):
        assert mine == pytest.approx(theirs, rel=RTOL, abs=1e-300), (
            f"{what}: gradient of input {i} is {mine!r} by Value but {theirs!r} by torch")


# Hand-written expressions; each reuses a node, so a `=` where `+=` belongs shows.
REUSE = {
    "a * a": lambda a, b: a * a,
    "b used twice: a * b + b": lambda a, b: a * b + b,
    "(a + b) * (a + b) + a": lambda a, b: (a + b) * (a + b) + a,
    "d = a * b; d ** 3 - d / 2 + 2 * d": lambda a, b: (lambda d: d ** 3 - d / 2 + 2 * d)(a * b),
    "3 - a, -b, radd, rmul": lambda a, b: (3 - a) * (-b) + 2 * a + 1 + a * 0.5,
    "a ** 2 * a ** 3 - a": lambda a, b: a ** 2 * a ** 3 - a,
}


@pytest.mark.parametrize("name", REUSE)
def test_reused_nodes_get_every_contribution(Value, name):
    rng = random.Random(name)
    numbers = [rng.uniform(-2, 2) for _ in range(2)]
    assert_same_gradients(*gradients(REUSE[name], numbers, Value), name)


def random_expression(seed, n_steps=10):
    """A function of three inputs: n_steps random operations on earlier nodes, then the sum of all nodes.

    The operations are drawn from the seed alone, so Values and tensors get the same expression. Returns the
    function and how many times the most used node was used.
    """
    rng = random.Random(seed)
    program = []
    uses = [0, 0, 0]
    for step in range(n_steps):
        i, j = rng.randrange(3 + step), rng.randrange(3 + step)
        op = rng.choice(["+", "*", "-", "**", "neg", "rconst"])
        exponent = rng.choice([2, 3])
        program.append((op, i, j, exponent))
        uses[i] += 1
        if op in ("+", "*", "-"):
            uses[j] += 1
        uses.append(1)  # every node is also used once in the final sum

    def build(a, b, c):
        nodes = [a, b, c]
        for op, i, j, exponent in program:
            x, y = nodes[i], nodes[j]
            nodes.append({"+": lambda: x + y, "*": lambda: x * y, "-": lambda: x - y,
                          "**": lambda: x ** exponent, "neg": lambda: -x,
                          "rconst": lambda: 1.5 - 0.5 * x}[op]())
        total = nodes[0]
        for node in nodes[1:]:
            total = total + node
        return total

    return build, max(uses)


SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_expressions_match_torch(Value, seed):
    build, most_uses = random_expression(seed)
    rng = random.Random(1000 + seed)
    numbers = [rng.uniform(-2, 2) for _ in range(3)]
    assert_same_gradients(*gradients(build, numbers, Value), f"random expression, seed {seed}")


def test_random_expressions_reuse_nodes():
    """Guard for the test above: it only tests accumulation if some node feeds more than one operation."""
    reused = [seed for seed in SEEDS if random_expression(seed)[1] >= 2]
    assert len(reused) >= len(SEEDS) // 2, f"only seeds {reused} reuse a node; change the generator"


def test_gradients_accumulate_across_backward_calls_and_zero_grad_resets(Value):
    w = Value(3.0)
    (w * w).backward()
    (w * w).backward()
    assert w.grad == pytest.approx(12.0, rel=RTOL), f"two backward() of w*w at w=3 should leave 2*6=12, got {w.grad}"
    w.zero_grad()
    assert w.grad == 0.0, f"zero_grad() should set grad to 0, got {w.grad}"
