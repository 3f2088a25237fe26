"""The trusted side of a sandboxed run: start the sandbox, talk to it, and stand in for the student's objects.

`Sandbox` starts `sandbox.py` on one submission in a fresh process tree that cannot reach the instructor's files or
the network (see `sandbox_command`), with a wall-clock deadline over the whole run. `Session.get(name)` gives one of
the student's globals: plain values (numbers, strings, lists, dicts, numpy arrays and scalars) arrive as real local
values, tensors as real local tensors linked to the student's, and every other object (functions, classes, modules,
optimizers) as a `Remote` stand-in whose calls, attributes and operators run in the sandbox. The tests run here, in
the grader's own Python, with its own numpy and torch: the student's code can change what its functions return, but
not how the answer is judged.
"""
import base64
import builtins
import json
import os
import pathlib
import pickle
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
MAX_LINE = 64 * 2 ** 20  # bytes of one message from the sandbox


class GradingTimeout(BaseException):
    """The submission ran past its time limit (a BaseException, so that a test's `except Exception` cannot eat it)."""


class SandboxBroken(BaseException):
    """The sandbox ended or spoke nonsense: the submission cannot be graded further."""


class RemoteError(Exception):
    """Base of the exceptions raised by the student's code, re-raised here by name."""


_REMOTE_ERRORS = {}


def remote_exception(name, message):
    """An exception of a class named like the student's, a subclass of the builtin of that name if there is one."""
    name = name if name.isidentifier() else "Error"
    if name not in _REMOTE_ERRORS:
        base = getattr(builtins, name, None)
        bases = (base, RemoteError) if isinstance(base, type) and issubclass(base, Exception) else (RemoteError,)
        try:
            _REMOTE_ERRORS[name] = type(name, bases, {})
        except TypeError:
            _REMOTE_ERRORS[name] = type(name, (RemoteError,), {})
    return _REMOTE_ERRORS[name](message)


def isolation():
    """(True, '') when the full sandbox is available here (root, unshare, chroot, setpriv), else (False, why not)."""
    if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False, "not running as root (namespaces, chroot and a separate user need root)"
    for tool in ("unshare", "setpriv", "prlimit", "chroot", "mount"):
        if shutil.which(tool) is None:
            return False, f"the command {tool!r} is missing (util-linux / coreutils)"
    probe = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"unshare cannot make namespaces here: {probe.stderr.strip()}"
    return True, ""


# Run as root inside new mount, network and PID namespaces: build a new root holding only the system, Python and the
# submission, then become an unprivileged user with limits. $1 root, $2 stage, $3 uid, then the limits.
SANDBOX_SCRIPT = r'''
set -eu
root=$1 stage=$2 uid=$3 memory=$4 cpu=$5 python=$6; shift 6
mount -t tmpfs -o size=256m,mode=755 sandbox "$root"
for dir in /usr /bin /sbin /lib /lib32 /lib64 /libx32 /etc "$@"; do
  [ -e "$dir" ] || continue
  if [ -L "$dir" ] && [ "${dir%/*}" = "" ]; then ln -s "$(readlink "$dir")" "$root$dir"; continue; fi
  mkdir -p "$root$dir"
  mount --rbind "$dir" "$root$dir"
  mount -o remount,bind,ro "$root$dir" 2>/dev/null || true
done
mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/home/student"
mount -t proc proc "$root/proc"
for node in null zero random urandom; do touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"; done
chmod 1777 "$root/tmp"
cp "$stage"/* "$root/home/student/"
chown -R "$uid:$uid" "$root/home/student"
chmod 700 "$root/home/student"
cd "$root/home/student"
exec chroot "$root" /usr/bin/setpriv --no-new-privs --clear-groups --reuid="$uid" --regid="$uid" \
  --inh-caps=-all --bounding-set=-all \
  /usr/bin/env -i HOME=/home/student PATH=/usr/bin:/bin MPLBACKEND=Agg MPLCONFIGDIR=/tmp OMP_NUM_THREADS=1 \
  MKL_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/prlimit --as="$memory" --cpu="$cpu" --nproc=64 --fsize=67108864 --nofile=256 --core=0 -- \
  /bin/sh -c 'cd /home/student && exec "$0" -I sandbox.py submission.ipynb' "$python"
'''


def python_paths():
    """The folders the sandbox's Python needs: its venv and its base installation (bound read-only)."""
    paths = {pathlib.Path(sys.prefix).resolve(), pathlib.Path(sys.base_prefix).resolve()}
    return sorted(str(p) for p in paths if not str(p).startswith(("/usr", "/bin", "/lib", "/etc")))


class Sandbox:
    """One submission's run: `events()` while its notebook runs, then requests until `close()`."""

    def __init__(self, notebook_path, uid=61000, timeout=60.0, memory_mb=3072, isolated=True):
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.uid = uid
        self.stage = pathlib.Path(tempfile.mkdtemp(prefix="gd-grade-stage-"))
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="gd-grade-root-"))
        shutil.copyfile(notebook_path, self.stage / "submission.ipynb")
        shutil.copyfile(HERE / "sandbox.py", self.stage / "sandbox.py")
        # The venv's own bin folder, resolved (a venv reached through a symlinked folder is bound under its real
        # path), but not the python link in it, which leads out of the venv.
        python = str(pathlib.Path(sys.executable).parent.resolve() / pathlib.Path(sys.executable).name)
        memory = memory_mb * 2 ** 20
        cpu = max(1, int(timeout * 2) + 5)
        if isolated:
            paths = python_paths()
            command = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private",
                       "/bin/sh", "-c", SANDBOX_SCRIPT, "sandbox", str(self.root), str(self.stage), str(uid),
                       str(memory), str(cpu), python, *paths]
            cwd, env, limits = "/", {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}, None
        else:
            # Fallback (not root): a private folder, a clean environment and limits, but no namespaces.
            for name in ("submission.ipynb", "sandbox.py"):
                shutil.copyfile(self.stage / name, self.root / name)
            command = [python, "-I", "sandbox.py", "submission.ipynb"]
            cwd = str(self.root)
            env = {"HOME": str(self.root), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.root),
                   "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}

            def limits():
                import resource
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        cwd=cwd, env=env, start_new_session=True, preexec_fn=limits)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.current_cell = None

    def _line(self):
        while b"\n" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise GradingTimeout()
            if not self.selector.select(timeout=left):
                continue
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise SandboxBroken(self._ended())
            self.buffer += chunk
            if len(self.buffer) > MAX_LINE:
                raise SandboxBroken("the submission sent more than 64 MB in one answer")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise SandboxBroken("the sandbox's answer was not readable (the submission wrote into the grader's "
                                "channel)") from None

    def _ended(self):
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        code = self.process.returncode
        stderr = self.process.stderr.read().decode(errors="replace")[-500:] if self.process.stderr else ""
        where = f" while running cell {self.current_cell}" if self.current_cell is not None else ""
        if code is not None and code in (-signal.SIGKILL, 128 + signal.SIGKILL, 137):
            return f"the notebook's Python was killed{where} (the memory limit, or it used too many resources)"
        return f"the notebook's Python ended{where} (exit status {code}){': ' + stderr.strip() if stderr.strip() else ''}"

    def run_notebook(self):
        """Wait for the notebook to run; returns the cells' errors [{index, error, message}]."""
        while True:
            message = self._line()
            event = message.get("event") if isinstance(message, dict) else None
            if event == "cell":
                self.current_cell = message.get("index")
                self.current_line = message.get("first_line", "")
            elif event == "ready":
                self.current_cell = None
                return message.get("errors", [])
            elif event == "crash":
                raise SandboxBroken("the grading runner crashed: " + str(message.get("message"))[-300:])
            else:
                raise SandboxBroken("the sandbox sent an unexpected message before the notebook finished")

    def request(self, **request):
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise SandboxBroken(self._ended()) from None
        reply = self._line()
        if not isinstance(reply, dict) or "ok" not in reply:
            raise SandboxBroken("the sandbox's answer was not an answer")
        return reply

    def close(self):
        """End the run and everything it started; returns how many stray processes had to be killed."""
        try:
            self.process.stdin.write(b'{"do": "quit"}\n')
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        strays = kill_user_processes(self.uid) if os.geteuid() == 0 else 0
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.selector.close()
        shutil.rmtree(self.stage, ignore_errors=True)
        try:
            self.root.rmdir()
        except OSError:
            shutil.rmtree(self.root, ignore_errors=True)
        return strays


UIDS = range(61000, 65000)  # the sandboxes' users: no account has them; each run claims its own
_claimed = []


def claim_uid(start=None):
    """A user id no other sandbox on this machine is using now, held until this process ends.

    Two gradings at once (say, an instructor's and the book's tests) must not share a user, or ending one sandbox
    would kill the other's processes: a lock file per uid, in the temporary folder, says which are taken."""
    import fcntl
    first = start if start is not None else UIDS.start + os.getpid() % len(UIDS)
    for offset in range(len(UIDS)):
        uid = UIDS.start + (first - UIDS.start + offset) % len(UIDS)
        handle = open(os.path.join(tempfile.gettempdir(), f"gd-grade-uid-{uid}.lock"), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if user_processes(uid):  # someone else's processes run as this uid: not ours to use (or to kill)
            handle.close()
            continue
        _claimed.append(handle)
        return uid
    raise RuntimeError("no free user id for a sandbox")


def user_processes(uid):
    """Process ids owned by `uid` (the sandbox's user), from /proc."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def kill_user_processes(uid):
    pids = user_processes(uid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


# ---------------------------------------------------------------------------------------------------------------
# Values across the boundary


def _float(data):
    return float(data["v"]) if isinstance(data, dict) and data.get("$") == "float" else data


class Session:
    """The grader's view of one running sandbox: the student's globals, as local values or stand-ins."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.tensors = {}  # handle -> the local tensor that mirrors it

    # -- sandbox -> here
    def decode(self, data):
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            return data
        tag = data.get("$")
        if tag == "float":
            return float(data["v"])
        if tag == "ellipsis":
            return Ellipsis
        if tag == "tuple":
            return tuple(self.decode(v) for v in data["v"])
        if tag == "dict":
            result = {}
            for key, value in data["v"]:
                key = self.decode(key)
                try:
                    result[key] = self.decode(value)
                except TypeError:
                    pass  # an unhashable key: skipped
            return result
        if tag in ("npscalar", "ndarray"):
            import numpy as np
            dtype = np.dtype(data["dtype"])
            if tag == "npscalar":
                return np.array(_float(data["v"]), dtype=dtype)[()]
            return np.array([_float(v) for v in data["v"]], dtype=dtype).reshape(data["shape"])
        if tag == "tensor":
            return self._tensor(data)
        if tag == "handle":
            kind = RemoteCallable if data.get("callable") else Remote
            return kind(self, data["id"], str(data.get("type", "?")), str(data.get("repr", ""))[:300])
        raise SandboxBroken(f"the sandbox sent a value of unknown kind {tag!r}")

    def _tensor(self, data):
        import torch
        dtype = getattr(torch, str(data["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise SandboxBroken("the sandbox sent a tensor of unknown dtype")
        values = torch.tensor([_float(v) for v in data["v"]], dtype=dtype).reshape(data["shape"])
        tensor = self.tensors.get(data["id"])
        if tensor is None:
            tensor = torch.nn.Parameter(values) if data.get("parameter") else values
            tensor._remote_handle = data["id"]
            self.tensors[data["id"]] = tensor
        else:
            with torch.no_grad():
                tensor.data = values
        if tensor.is_floating_point():
            tensor.requires_grad_(bool(data["requires_grad"]))
        grad = data.get("grad")
        tensor.grad = self._tensor(grad).detach().clone() if isinstance(grad, dict) and grad.get("$") == "tensor" \
            and tuple(grad["shape"]) == tuple(values.shape) else None
        tensor._remote_grad_fn = data.get("grad_fn")
        return tensor

    # -- here -> sandbox
    def encode(self, value, depth=0, linked=False):
        """The grader's value as the sandbox reads it: plain values and tensors by value, stand-ins by reference."""
        import numpy as np
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if np.isfinite(value) else {"$": "float", "v": repr(value)}
        if value is Ellipsis:
            return {"$": "ellipsis"}
        if isinstance(value, Remote):
            return {"$": "ref", "id": object.__getattribute__(value, "_id")}
        if depth > 20:
            raise TypeError("a value nested too deep for the sandbox")
        if kind in (list, tuple):
            items = [self.encode(v, depth + 1) for v in value]
            return items if kind is list else {"$": "tuple", "v": items}
        if kind is dict:
            return {"$": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, np.generic):
            return {"$": "npscalar", "dtype": str(value.dtype), "v": self.encode(value.item())}
        if kind is np.ndarray:
            return {"$": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                    "v": [self.encode(v) for v in value.reshape(-1).tolist()]}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            handle = getattr(value, "_remote_handle", None)
            if handle is not None and self.tensors.get(handle) is value and not linked:
                # the student's tensor: sent by reference, with what the test may have changed in it here
                return {"$": "ref", "id": handle, "sync": self.encode(value, depth + 1, linked=True)}
            data = value.detach().cpu()
            grad = value.grad if value.is_leaf else None
            return {"$": "tensor", "dtype": str(data.dtype).replace("torch.", ""), "shape": list(data.shape),
                    "v": [self.encode(float(v)) if data.is_floating_point() else v for v in data.reshape(-1).tolist()],
                    "requires_grad": bool(value.requires_grad), "parameter": isinstance(value, torch.nn.Parameter),
                    "grad": self.encode(grad) if grad is not None else None}
        if torch is not None and isinstance(value, (torch.nn.Module, torch.optim.Optimizer)):
            # a model of the test's own (say, to call the student's predict on): a pickled copy (the sandbox
            # unpickles what the grader sends; the grader never unpickles anything from the sandbox)
            return {"$": "pickle", "b64": base64.b64encode(pickle.dumps(value)).decode()}
        raise TypeError(f"a {kind.__name__} cannot be sent to the student's code")

    def ask(self, **request):
        reply = self.sandbox.request(**request)
        if not reply["ok"]:
            raise remote_exception(str(reply.get("error", "Error")), str(reply.get("message", ""))[:2000])
        return reply

    def get(self, name):
        reply = self.ask(do="get", name=name)
        return None if reply.get("missing") else self.decode(reply["value"])

    def call(self, handle, args, kwargs):
        local_args = list(args)
        reply = self.ask(do="call", id=handle, args=[self.encode(a) for a in local_args],
                         kwargs={str(k): self.encode(v) for k, v in kwargs.items()})
        # a tensor passed by value may have been changed in place there: mirror it here, and link the two
        for index, state in (reply.get("after") or {}).items():
            local = local_args[int(index)]
            if isinstance(state, dict) and state.get("$") == "tensor" and hasattr(local, "requires_grad"):
                if state["id"] not in self.tensors:
                    local._remote_handle = state["id"]
                    self.tensors[state["id"]] = local
                self._tensor(state)
        return self.decode(reply["value"])

    def integrity(self):
        return self.ask(do="integrity")["value"]


def _local_class(qualified):
    """The grader's own class of that name, for isinstance on stand-ins of torch and numpy objects."""
    if qualified in ("builtins.type", "abc.ABCMeta"):
        return type
    module, _, name = qualified.rpartition(".")
    if not module.startswith(("torch", "numpy")) or module not in sys.modules:
        return None
    obj = sys.modules[module]
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None


class Remote:
    """Stands in for one of the student's objects held in the sandbox."""

    __slots__ = ("_session", "_id", "_type", "_repr")

    def __init__(self, session, handle, kind, text):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_repr", text)

    @property
    def __class__(self):
        return _local_class(object.__getattribute__(self, "_type")) or Remote

    def _op(self, name, *args):
        session = object.__getattribute__(self, "_session")
        reply = session.ask(do="op", id=object.__getattribute__(self, "_id"), name=name,
                            args=[session.encode(a) for a in args])
        return session.decode(reply["value"])

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        session = object.__getattribute__(self, "_session")
        return session.decode(session.ask(do="getattr", id=object.__getattribute__(self, "_id"), name=name)["value"])

    def __setattr__(self, name, value):
        session = object.__getattribute__(self, "_session")
        session.ask(do="setattr", id=object.__getattribute__(self, "_id"), name=name, value=session.encode(value))

    def __repr__(self):
        return object.__getattribute__(self, "_repr")

    def __str__(self):
        return str(self._op("str"))[:2000]

    def __hash__(self):
        return hash((Remote, object.__getattribute__(self, "_id")))

    def __len__(self):
        return self._op("len")

    def __iter__(self):
        return iter(self._op("iter"))

    def __contains__(self, item):
        return bool(self._op("contains", item))

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __setitem__(self, key, value):
        self._op("setitem", key, value)

    def __float__(self):
        return float(self._op("float"))

    def __int__(self):
        return int(self._op("int"))

    def __index__(self):
        return int(self._op("index"))

    def __bool__(self):
        return bool(self._op("bool"))

    def __array__(self, dtype=None, copy=None):
        import numpy as np
        return np.asarray(list(self), dtype=dtype)

    def __eq__(self, other):
        if isinstance(other, Remote):
            return object.__getattribute__(self, "_id") == object.__getattribute__(other, "_id")
        return self._op("eq", other)


def _binary(name):
    def method(self, other):
        return self._op(name, other)
    method.__name__ = f"__{name}__"
    return method


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "pow", "rpow", "matmul", "lt",
              "le", "gt", "ge", "ne"):
    setattr(Remote, f"__{_name}__", _binary(_name))
Remote.__neg__ = lambda self: self._op("neg")


class RemoteCallable(Remote):
    """A stand-in for a function, class or other callable of the student's: calling it runs it in the sandbox."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_session").call(object.__getattribute__(self, "_id"), args, kwargs)
