"""The cost of ingest's short-paid count (``pipelines.ingest.staged.short_paid_rests``) on a large ingested book
(session 37; s36-minopen measured 2.1 s for 654,000 invoices at load 12).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/short_paid_cost.py ING --as-of 2026-12-06 --out OUT.jsonl [--all]

``ING`` is an ``ews ingest --out`` folder (``<table>/bucket=<k>/part-0.parquet``, the stage's layout). Runs the
count as ingest does (it reads the debtor buckets in order until :data:`SHORT_PAID_MAX_ROWS` invoices are read)
and, with ``--all``, once more with no cap (every bucket: what the cap saves). Prints and appends one JSON line
per run: wall and CPU seconds, the peak resident memory of the process so far (MiB), the buckets read of all,
the invoices in the buckets read, and the count's result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.ingest import staged


def _run(stage: Path, as_of: dt.date, cap: int) -> dict:
    staged.SHORT_PAID_MAX_ROWS = cap  # read by short_paid_rests at each call
    wall, cpu = time.perf_counter(), time.process_time()
    rests = staged.short_paid_rests(stage, as_of)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    files = sorted((stage / "invoices").glob("bucket=*/part-0.parquet"))
    read = rests["buckets_read"] if rests else None
    if read is None:  # None: fewer than 5 debtors; the buckets read follow from the cap
        rows, read = 0, 0
        for path in files:
            if rows >= cap:
                break
            rows, read = rows + pq.read_metadata(path).num_rows, read + 1
    invoices = sum(pq.read_metadata(p).num_rows for p in files[:read])
    return {
        "stage": str(stage),
        "cap": cap,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "buckets_read": read,
        "buckets": len(files),
        "invoices_read": invoices,
        "result": rests,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", type=Path)
    ap.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--all", action="store_true", help="also count every bucket (no cap)")
    args = ap.parse_args()
    caps = [staged.SHORT_PAID_MAX_ROWS] + ([10**12] if args.all else [])
    for cap in caps:
        row = _run(args.stage, args.as_of, cap)
        print(json.dumps(row), flush=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
