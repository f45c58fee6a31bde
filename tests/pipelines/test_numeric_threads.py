"""``ews`` runs BLAS on one thread, in its own process and in the processes it starts, whatever the
caller's environment says (s23-determinism): on the same book, ``ews train`` under
``OPENBLAS_NUM_THREADS`` 1 and 2 gave 267 of 4,408 roll-rate fold PDs other last bits (up to 4e-17),
a matrix product summed in another order. Real processes and the real BLAS of numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLAS = (
    "import numpy, threadpoolctl; "
    "print(max(p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'))"
)

EWS = f"""
import json, subprocess, sys
sys.argv = ["ews", "config", "--help"]
from pipelines.cli import main
try:
    main()
except SystemExit:
    pass
from pipelines.runtime import blas_threads
child = subprocess.run([sys.executable, "-c", {BLAS!r}], capture_output=True, text=True, check=True)
print(json.dumps({{"ews": blas_threads(), "child": int(child.stdout)}}))
"""


def test_ews_pins_blas_to_one_thread_whatever_the_environment() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env |= {"OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    plain = subprocess.run([sys.executable, "-c", BLAS], env=env, capture_output=True, text=True, check=True)
    if int(plain.stdout) < 2 and (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: BLAS runs 1 thread whatever the environment asks")
    assert int(plain.stdout) == 2, "this environment must ask for 2 BLAS threads, else nothing is tested"

    done = subprocess.run([sys.executable, "-c", EWS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"ews": 1, "child": 1}


CHILD = f"""
import json, os, subprocess, sys
import numpy  # noqa: F401  (loads the BLAS)
from threadpoolctl import threadpool_limits
from pipelines.runtime import blas_threads, one_blas_thread
os.environ["OPENBLAS_NUM_THREADS"] = "2"
os.environ.pop("MKL_NUM_THREADS", None)
with threadpool_limits(limits=2, user_api="blas"):
    with one_blas_thread() as inside:
        child = subprocess.run([sys.executable, "-c", {BLAS!r}], capture_output=True, text=True, check=True)
        seen = {{"inside": inside, "now": blas_threads(), "child": int(child.stdout), "mkl": os.environ.get("MKL_NUM_THREADS")}}
    seen |= {{"after": blas_threads(), "openblas_after": os.environ.get("OPENBLAS_NUM_THREADS"),
              "mkl_after": os.environ.get("MKL_NUM_THREADS", "unset")}}
print(json.dumps(seen))
"""


def test_one_blas_thread_for_a_block_then_the_callers_threads_and_environment_back() -> None:
    """The Python entry points (``run_train``, ``run_train_paydate``, the nightly) run under
    ``one_blas_thread``: one BLAS thread in the process and in the workers it starts, then the caller's
    two threads and its variables (one set, one unset) as they were."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = subprocess.run(
        [sys.executable, "-c", BLAS],
        env=env | {"OPENBLAS_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        check=True,
    )
    if int(plain.stdout) < 2 and (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: BLAS runs 1 thread whatever the environment asks")
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "inside": 1,
        "now": 1,
        "child": 1,
        "mkl": "1",
        "after": 2,
        "openblas_after": "2",
        "mkl_after": "unset",
    }
