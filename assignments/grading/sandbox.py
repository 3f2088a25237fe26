"""Runs inside the sandbox: executes one student notebook, then answers the trusted grader's requests about it.

This file is copied next to the submission in the sandbox and run as an unprivileged user with no network. It never
sees a test. It speaks newline-delimited JSON on the file descriptors it inherits as stdin/stdout (the student's own
prints go to a file): first one `cell` message per code cell it starts and a `ready` message, then one reply per
request (`get` a global, `call`, `getattr`, `setattr`, `op` on an object it holds). Objects that are not plain
values stay here and are sent as handles. The student's code shares this process and can make it lie; that is why
nothing here judges: the grader compares every value on its own side, on inputs the student's code has not seen.
"""
import builtins
import json
import math
import os
import sys
import traceback

MAX_TEXT = 2000      # characters of a student-made string (repr, exception message) sent back
MAX_ITEMS = 200_000  # elements of an array or list sent by value

PROTOCOL_IN = os.fdopen(os.dup(0), "r", encoding="utf-8")
PROTOCOL_OUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
_log = os.open("student-output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.dup2(_log, 1)
os.dup2(_log, 2)
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)
sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
sys.stdin = open(0, "r", closefd=False)

# The functions the grader's canaries look at, captured before any student code runs (see `integrity`).
WATCHED = {}


def _watch():
    import numpy
    WATCHED.update({"numpy.allclose": numpy.allclose, "numpy.isclose": numpy.isclose,
                    "numpy.array_equal": numpy.array_equal, "math.isclose": math.isclose,
                    "builtins.isinstance": builtins.isinstance, "builtins.abs": builtins.abs,
                    "builtins.float": builtins.float, "builtins.AssertionError": builtins.AssertionError})
    try:
        import torch
        WATCHED.update({"torch.allclose": torch.allclose, "torch.isclose": torch.isclose, "torch.equal": torch.equal,
                        "torch.Tensor.item": torch.Tensor.item, "torch.Tensor.backward": torch.Tensor.backward})
    except ImportError:
        pass


def _lookup(dotted):
    module, _, attribute = dotted.rpartition(".")
    parts = module.split(".")
    obj = sys.modules.get(parts[0]) if parts[0] != "builtins" else builtins
    for part in parts[1:] + [attribute]:
        obj = getattr(obj, part, None)
    return obj


def integrity():
    """What the student's code changed that a test could depend on (the grader reports it as tampering)."""
    changed = [name for name, original in WATCHED.items() if _lookup(name) is not original]
    if sys.gettrace() is not None or sys.getprofile() is not None:
        changed.append("sys.settrace/sys.setprofile (a tracer was installed)")
    changed += _replaced_in_otter()
    # canaries: comparisons that must fail on wrong values, whatever the functions above now are
    try:
        import numpy
        if numpy.allclose([0.0], [1.0]) or numpy.isclose(0.0, 1.0):
            changed.append("numpy comparisons say 0 == 1")
    except Exception as error:  # noqa: BLE001 - a broken numpy is itself a finding
        changed.append(f"numpy comparisons raise {type(error).__name__}")
    return changed


LIBRARIES = tuple({os.path.dirname(os.__file__), sys.prefix, sys.base_prefix})


def _replaced_in_otter():
    """Methods of otter's classes (the library `otter run` grades with) whose code no longer comes from otter."""
    otter = sys.modules.get("otter")
    if otter is None or not getattr(otter, "__file__", None):
        return []
    home = os.path.dirname(otter.__file__)
    found = []
    for name, module in list(sys.modules.items()):
        if not (name == "otter" or name.startswith("otter.")) or module is None:
            continue
        for attribute, cls in list(vars(module).items()):
            if not isinstance(cls, type) or getattr(cls, "__module__", "") != name:
                continue
            for method, function in list(vars(cls).items()):
                code = getattr(getattr(function, "__func__", function), "__code__", None)
                if code is None or code.co_filename.startswith(LIBRARIES):
                    continue  # otter's own code, or the standard library's (dataclasses, enum, reprlib)
                if code.co_filename == "<string>" and method.startswith("__"):
                    continue  # written by dataclasses, not by the notebook
                if not code.co_filename.startswith(home):
                    found.append(f"{name}.{attribute}.{method} (otter's grading code) was replaced")
    for name, module in list(sys.modules.items()):
        if name.startswith("otter.") and module is not None and callable(getattr(module, "grade_submission", None)):
            code = getattr(module.grade_submission, "__code__", None)
            if code is not None and not code.co_filename.startswith(home):
                found.append(f"{name}.grade_submission was replaced")
    return found


class Handles:
    def __init__(self):
        self.objects, self.ids = {}, {}

    def add(self, obj):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = len(self.objects) + 1
            self.objects[self.ids[key]] = obj
        return self.ids[key]


HANDLES = Handles()
SHELL = []


def _text(value):
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a student's __str__ may raise
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _qualname(kind):
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"


def _number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return {"$": "float", "v": repr(value)}
    return value


def encode(value, depth=0):
    """A JSON-able form of `value`: plain values by value, tensors by value and handle, anything else by handle."""
    numpy = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value if kind is not str else value[:100_000]
    if kind is float:
        return _number(value)
    if value is Ellipsis:
        return {"$": "ellipsis"}
    if depth > 20:
        return handle(value)
    if kind in (list, tuple) or (torch is not None and kind is torch.Size):
        if len(value) > MAX_ITEMS:
            return handle(value)
        items = [encode(v, depth + 1) for v in value]
        return items if kind is list else {"$": "tuple", "v": items}
    if kind is dict:
        return {"$": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in list(value.items())[:MAX_ITEMS]]}
    if numpy is not None and isinstance(value, numpy.generic) and value.dtype.kind in "biuf":
        return {"$": "npscalar", "dtype": str(value.dtype), "v": _number(value.item())}
    if numpy is not None and kind is numpy.ndarray and value.dtype.kind in "biuf" and value.size <= MAX_ITEMS:
        return {"$": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "v": [_number(v) for v in value.reshape(-1).tolist()]}
    if torch is not None and isinstance(value, torch.Tensor) and kind in (torch.Tensor, torch.nn.Parameter) \
            and not value.is_complex() and value.numel() <= MAX_ITEMS:
        data = value.detach().cpu()
        return {"$": "tensor", "id": HANDLES.add(value), "dtype": str(data.dtype).replace("torch.", ""),
                "shape": list(data.shape), "v": [_number(v) for v in data.reshape(-1).tolist()],
                "requires_grad": bool(value.requires_grad), "parameter": kind is torch.nn.Parameter,
                "grad": encode(value.grad, depth + 1) if value.is_leaf else None,
                "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None}
    return handle(value)


def handle(value):
    return {"$": "handle", "id": HANDLES.add(value), "type": _qualname(type(value)), "repr": _text(repr_of(value)),
            "callable": callable(value)}


def repr_of(value):
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__}>"


def decode(data):
    """The grader's arguments: plain values, arrays and tensors by value, handles of objects held here."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    tag = data.get("$")
    if tag == "float":
        return float(data["v"])
    if tag == "ellipsis":
        return Ellipsis
    if tag == "tuple":
        return tuple(decode(v) for v in data["v"])
    if tag == "dict":
        return {decode(k): decode(v) for k, v in data["v"]}
    if tag == "ref":
        obj = HANDLES.objects[data["id"]]
        if "sync" in data:
            _sync(obj, decode(data["sync"]))
        return obj
    if tag == "pickle":
        import base64
        import pickle
        return pickle.loads(base64.b64decode(data["b64"]))
    if tag in ("npscalar", "ndarray"):
        import numpy
        values = [decode(v) for v in data["v"]] if tag == "ndarray" else decode(data["v"])
        array = numpy.array(values, dtype=data["dtype"])
        return array.reshape(data["shape"]) if tag == "ndarray" else array[()]
    if tag == "tensor":
        import torch
        tensor = torch.tensor([decode(v) for v in data["v"]], dtype=getattr(torch, data["dtype"]))
        tensor = tensor.reshape(data["shape"])
        if data.get("parameter"):
            tensor = torch.nn.Parameter(tensor, requires_grad=data["requires_grad"])
        elif data["requires_grad"]:
            tensor.requires_grad_(True)
        if data.get("grad") is not None:
            tensor.grad = decode(data["grad"])
        return tensor
    raise ValueError(f"unknown value tag {tag!r}")


def _sync(tensor, state):
    """Make the student's tensor what the grader's copy of it now is (a test may have set its data or grad)."""
    import torch
    with torch.no_grad():
        if tensor.shape != state.shape or tensor.dtype != state.dtype or not torch.equal(tensor.detach(), state.detach()):
            tensor.data = state.detach().clone()
    if tensor.is_leaf:
        if tensor.requires_grad != state.requires_grad and tensor.is_floating_point():
            tensor.requires_grad_(state.requires_grad)
        tensor.grad = state.grad


def send(message):
    PROTOCOL_OUT.write(json.dumps(message) + "\n")
    PROTOCOL_OUT.flush()


def error_message(error):
    return {"ok": False, "error": type(error).__name__[:80], "message": _text(error)}


def answer(request, namespace):
    what = request["do"]
    if what == "get":
        if request["name"] not in namespace:
            return {"ok": True, "missing": True}
        return {"ok": True, "value": encode(namespace[request["name"]])}
    if what == "set":
        # a test that gives the student's functions other data (say, other X and Y) puts it in their globals
        namespace[request["name"]] = decode(request["value"])
        return {"ok": True, "value": None}
    if what == "define":
        # a helper class of a test's own that the student's code must call into (a graph of nodes, say)
        scope = {"__name__": "grader_defined"}
        exec(compile(request["source"], "<the grader's test>", "exec"), scope)
        return {"ok": True, "value": encode({k: v for k, v in scope.items() if not k.startswith("__")})}
    if what == "exec":
        # for the grader's own tests of its questions: run another answer in the same session
        result = SHELL[0].run_cell(request["source"], store_history=False)
        error = result.error_before_exec or result.error_in_exec
        return {"ok": True, "value": None if error is None else f"{type(error).__name__}: {_text(error)[:300]}"}
    if what == "integrity":
        return {"ok": True, "value": integrity()}
    target = HANDLES.objects[request["id"]]
    if what == "call":
        args = [decode(a) for a in request["args"]]
        kwargs = {k: decode(v) for k, v in request["kwargs"].items()}
        result = target(*args, **kwargs)
        # Tensors given as arguments may have been changed in place: send their state back.
        after = {str(i): encode(a) for i, a in enumerate(args) if type(a).__name__ in ("Tensor", "Parameter")}
        return {"ok": True, "value": encode(result), "after": after}
    if what == "getattr":
        return {"ok": True, "value": encode(getattr(target, request["name"]))}
    if what == "setattr":
        setattr(target, request["name"], decode(request["value"]))
        return {"ok": True, "value": None}
    if what == "op":
        import operator
        name, args = request["name"], [decode(a) for a in request["args"]]
        functions = {"len": len, "iter": list, "float": float, "int": int, "bool": bool, "index": operator.index,
                     "str": str, "repr": repr, "getitem": operator.getitem, "setitem": operator.setitem,
                     "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
                     "pow": operator.pow, "matmul": operator.matmul, "neg": operator.neg, "eq": operator.eq,
                     "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "ne": operator.ne,
                     "radd": lambda a, b: b + a, "rsub": lambda a, b: b - a, "rmul": lambda a, b: b * a,
                     "rtruediv": lambda a, b: b / a, "rpow": lambda a, b: b ** a, "contains": operator.contains}
        result = functions[name](target, *args)
        if name in ("str", "repr"):
            return {"ok": True, "value": _text(result)}
        return {"ok": True, "value": encode(result)}
    raise ValueError(f"unknown request {what!r}")


def skip(cell):
    """The setup cell (it only serves grader.check) and grader.check cells are not run for grading."""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    stripped = source.strip()
    return ("otter-setup" in cell.get("metadata", {}).get("tags", []) or stripped.startswith("#@title Setup")
            or (stripped.startswith("grader.") and "\n" not in stripped))


def main():
    notebook = json.load(open(sys.argv[1], encoding="utf-8"))
    _watch()
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    SHELL.append(shell)
    shell.showtraceback = lambda *args, **kwargs: None  # errors are reported as messages, not printed
    errors = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or skip(cell):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        send({"event": "cell", "index": index, "first_line": source.strip().splitlines()[0][:80] if source.strip() else ""})
        result = shell.run_cell(source, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            errors.append({"index": index, "error": type(error).__name__[:80], "message": _text(error)[:300]})
    namespace = shell.user_ns
    send({"event": "ready", "errors": errors})
    for line in PROTOCOL_IN:
        try:
            request = json.loads(line)
        except ValueError:
            break
        if request.get("do") == "quit":
            break
        try:
            reply = answer(request, namespace)
        except BaseException as error:  # noqa: BLE001 - the student's code raised: that is the answer
            if isinstance(error, (KeyboardInterrupt, SystemExit)) and not isinstance(error, SystemExit):
                raise
            reply = error_message(error)
        try:
            send(reply)
        except (TypeError, ValueError) as error:
            send({"ok": False, "error": "GradingError", "message": f"the answer could not be sent: {error}"})
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - anything that ends the runner is reported, then the sandbox ends
        try:
            send({"event": "crash", "message": traceback.format_exc()[-1500:]})
        finally:
            os._exit(1)
