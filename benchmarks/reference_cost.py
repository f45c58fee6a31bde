"""The cost of ``invoice_reference`` (``pipelines.ingest.sources._by_reference``) on an export whose every
payment carries a free-text reference (session 44, s44-scale).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/reference_cost.py --rows 1000000 [--known 0.0] [--seed 3739]

Builds ``--rows`` payments and as many invoices (``INV-0000001`` ...). A share ``--known`` of the payments name
their invoice in their own invoice_id cell (those are not read); the others name none, and their reference
cells are, in turn: ``Payment for INV-x thanks`` (one number among words), ``re: INV-x.`` (trailing dot),
``INV-x`` (the cell itself), ``INV-x and INV-y`` (two: not taken), ``BACS 2024-01-05`` (none). Times the call
(wall and CPU seconds of this process) and prints one JSON line: rows, rows taken, the CPU seconds and a sha256
of the result (the same on every version that matches the same invoices).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np
import pandas as pd

from pipelines.ingest.sources import _by_reference


def book(rows: int, known: float, seed: int) -> tuple[pd.Series, pd.Series, set[str]]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"INV-{k:07d}" for k in range(1, rows + 1)], dtype=object)
    pick = ids[rng.integers(0, rows, rows)]
    other = ids[rng.integers(0, rows, rows)]
    kind = np.arange(rows) % 5
    ref = np.where(
        kind == 0,
        "Payment for " + pick + " thanks",
        np.where(
            kind == 1,
            "re: " + pick + ".",
            np.where(kind == 2, pick, np.where(kind == 3, pick + " and " + other, "BACS 2024-01-05")),
        ),
    )
    own = np.where(rng.random(rows) < known, pick, None)
    return pd.Series(own, dtype="string"), pd.Series(ref, dtype="string"), set(ids.tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--known", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=3739)
    args = ap.parse_args()
    own, ref, numbers = book(args.rows, args.known, args.seed)
    wall, cpu = time.perf_counter(), time.process_time()
    out, taken = _by_reference(own, ref, numbers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    digest = hashlib.sha256("\x1e".join(out.fillna("\x00").tolist()).encode()).hexdigest()
    print(
        json.dumps(
            {
                "benchmark": "reference_cost",
                "rows": args.rows,
                "known": args.known,
                "taken": taken,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "sha256": digest[:16],
            }
        )
    )


if __name__ == "__main__":
    main()
