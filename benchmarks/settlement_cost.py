"""Benchmark: what the kept history's settlement state costs a merged night of ``ews ingest --keep-history``
(in memory). Since session 41 (s41-rolling) the merge reads, every night, which kept invoices are paid
(``history.paid_days`` over the whole kept history: ``settled`` by the kept and today's payments), where
today's export stops being open items alone (``open_items_end``) and whether it lacks a month
(``refuse_missing_month``); the invoices aged out are ``settled`` again inside ``merge_part``. This script
ingests one export into a copy of a kept history, as ``ews ingest --keep-history --no-docs`` does for files
(``pipelines.ingest.ingest_files``), with those functions timed (CPU seconds of this process), and prints
them beside the merge's and the whole ingest's.

    python benchmarks/settlement_cost.py --history HIST --export FEED --as-of 2024-12-31 --work SCRATCH

HIST: a folder ``ews ingest --keep-history`` wrote (copied to SCRATCH/out first, never changed); FEED: a
folder with invoices / payments / debtors / events files (CSV or Parquet). The streamed ingest (above
5,000,000 rows) runs the same steps per debtor partition in its workers: measure it whole with
``benchmarks/ingest_workers.py --keep-history`` against an older commit. ``PYTHONPATH=TREE`` runs the code of
TREE (a ``git archive`` of another commit: its ``merge`` is timed, and any of the other functions it has).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# PYTHONPATH=TREE: another commit's code (an older one has no such script)
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))

TIMED = ("paid_days", "settled", "open_items_end", "refuse_missing_month", "merge")


def timed(module: Any, name: str, spent: dict[str, float], calls: dict[str, int], depth: list[int]) -> None:
    """Wrap ``module.name`` so its CPU seconds add to ``spent[name]``; a ``settled`` inside ``paid_days``
    adds to ``settled_in_paid_days`` too (so the two are not counted twice)."""
    inner: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        depth.append(name)
        try:
            return inner(*args, **kwargs)
        finally:
            depth.pop()
            used = time.process_time() - start
            spent[name] = spent.get(name, 0.0) + used
            calls[name] = calls.get(name, 0) + 1
            if name == "settled" and "paid_days" in depth:
                spent["settled_in_paid_days"] = spent.get("settled_in_paid_days", 0.0) + used

    setattr(module, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=Path, required=True, help="a kept history (ews ingest --keep-history)")
    ap.add_argument("--export", type=Path, required=True, help="today's export: invoices, payments, ...")
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (its out/ is replaced)")
    args = ap.parse_args(argv)

    from pipelines.adapters.files import find_table_files
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import history, ingest_files

    out = args.work / "out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(args.history, out, symlinks=True)
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    depth: list[str] = []
    for name in TIMED:
        if hasattr(history, name):
            timed(history, name, spent, calls, depth)
    files = {
        t: p
        for t, p in find_table_files(args.export).items()
        if t in ("invoices", "payments", "debtors", "events")
    }
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    result = ingest_files(
        files,
        out,
        as_of=dt.date.fromisoformat(args.as_of),
        settings=RulesConfig(data_docs=False),
        keep_history=True,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tables = result.manifest["history"]["tables"]
    state = (
        spent.get("paid_days", 0.0)
        + spent.get("settled", 0.0)
        - spent.get("settled_in_paid_days", 0.0)
        + spent.get("open_items_end", 0.0)
        + spent.get("refuse_missing_month", 0.0)
    )
    figures = {
        "benchmark": "settlement_cost",
        "history": str(args.history),
        "export": str(args.export),
        "as_of": args.as_of,
        "kept_invoices": tables["invoices"]["kept"],
        "kept_payments": tables.get("payments", {}).get("kept"),
        "today_invoices": result.manifest["tables"]["invoices"]["rows_accepted"],
        "ingest_cpu_s": round(cpu, 3),
        "ingest_wall_s": round(wall, 3),
        "merge_cpu_s": round(spent.get("merge", 0.0), 3),
        "settlement_state_cpu_s": round(state, 3),
        "cpu_s": {k: round(v, 3) for k, v in sorted(spent.items())},
        "calls": calls,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "load": [round(load, 1), round(os.getloadavg()[0], 1)],
        "aged_out": tables["invoices"].get("aged_out", 0),
    }
    print(
        f"ingest {cpu:.2f} CPU-s ({wall:.1f} s wall), merge {figures['merge_cpu_s']:.2f} CPU-s, of it the "
        f"settlement state {state:.2f} CPU-s ({figures['kept_invoices']:,} kept invoices)"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
