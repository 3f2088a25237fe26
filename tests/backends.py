"""Strict nbval of every notebook under numeric backends this machine can simulate.

A stored output that depends on the CPU kernel, the BLAS, the thread count fails here, as it would on a reader's
laptop or in Colab. Run alone it prints a table: `.venv/bin/python tests/backends.py`.
"""
import os
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
UNSET = None

# Four switches, each set as a reader's machine might have it:
# - ATEN_CPU_CAPABILITY, PyTorch's kernels: the machine's own (unset: AVX-512 or AVX2, whatever the CPU has), AVX2,
#   and the plain ones that a CPU without AVX2 runs (close to what an ARM laptop does);
# - OPENBLAS_CORETYPE, the kernel of numpy's OpenBLAS (matrix products): its own pick (unset) or a forced core;
# - NPY_DISABLE_CPU_FEATURES, numpy's own vectorised loops: the machine's or only the x86-64-v2 baseline;
# - OMP_NUM_THREADS (and OpenBLAS's and MKL's thread counts): one thread or two.
NUMPY_BASELINE = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
#          ATen       OpenBLAS    threads  numpy loops
MATRIX = [(UNSET,     UNSET,      "2",     UNSET),
          (UNSET,     "Haswell",  "1",     NUMPY_BASELINE),
          (UNSET,     "Prescott", "2",     UNSET),
          ("avx2",    UNSET,      "1",     UNSET),
          ("avx2",    "Haswell",  "2",     NUMPY_BASELINE),
          ("avx2",    "Prescott", "1",     UNSET),
          ("default", UNSET,      "2",     NUMPY_BASELINE),
          ("default", "Haswell",  "1",     UNSET),
          ("default", "Prescott", "2",     NUMPY_BASELINE)]


def matrix():
    """Nine runs: every ATen kernel with every OpenBLAS core, and each of them with both thread counts and both kinds
    of numpy loops."""
    return [{"ATEN_CPU_CAPABILITY": aten, "OPENBLAS_CORETYPE": blas, "OMP_NUM_THREADS": threads,
             "NPY_DISABLE_CPU_FEATURES": numpy_loops} for aten, blas, threads, numpy_loops in MATRIX]


def label(row):
    short = {NUMPY_BASELINE: "baseline", None: "unset"}
    return " ".join(f"{k}={short.get(v, v)}" for k, v in row.items())


def environment(row):
    env = dict(os.environ)
    for key, value in row.items():
        env.pop(key, None)
        if value is not None:
            env[key] = value
    if row.get("OPENBLAS_CORETYPE") is None:
        env.pop("OPENBLAS_L2_SIZE", None)  # set together with the core type on some machines: unset both
    env["OPENBLAS_NUM_THREADS"] = row["OMP_NUM_THREADS"]
    env["MKL_NUM_THREADS"] = row["OMP_NUM_THREADS"]
    return env


def run_nbval(row, paths=("book",)):
    """Strict nbval in a fresh pytest under `row`'s backend. Returns (return code, failed cell ids, output)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly",
               "--nbval", "--nbval-current-env", *paths]
    result = subprocess.run(command, cwd=ROOT, env=environment(row), capture_output=True, text=True)
    failed = re.findall(r"^FAILED (\S+::Cell \d+)", result.stdout, flags=re.M)
    return result.returncode, failed, result.stdout + result.stderr


def main():
    log_dir = ROOT / "_build" / "backends"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'backend':104s} {'failed':>6s} {'s':>5s}  failed cells (nbval's output in {log_dir.relative_to(ROOT)})")
    worst = 0
    for i, row in enumerate(matrix()):
        start = time.perf_counter()
        returncode, failed, output = run_nbval(row, sys.argv[1:] or ("book",))
        (log_dir / f"run-{i}.log").write_text(label(row) + "\n" + output)
        print(f"{label(row):104s} {len(failed):6d} {time.perf_counter() - start:5.0f}  {', '.join(failed)}", flush=True)
        worst = max(worst, returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
