"""Benchmark: ingest + Great Expectations validation of a 10-million-invoice file.

Generates (numpy + pyarrow, seeded) ``data/bench/invoices_<N>.csv`` and ``payments_<N>.csv`` with a
small share of defective rows, then runs ``pipelines.ingest.ingest_files`` on them and reports
rows/s, the time per step (read, parse, GX, cross-table, write) and the peak RSS of the ingest
process. The generator runs in a child process so that its memory does not count.

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/ingest.py --invoices 10000000

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(n_invoices: int, folder: Path, seed: int = 7) -> dict[str, Path]:
    """Write canonical invoices (n rows) and payments (~0.8 n rows) CSVs; ~0.1% defective rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    inv_path, pay_path = folder / f"invoices_{n_invoices}.csv", folder / f"payments_{n_invoices}.csv"
    if inv_path.exists() and pay_path.exists():
        return {"invoices": inv_path, "payments": pay_path}
    n_debtors = max(n_invoices // 100, 10)
    ids = np.char.add("INV", np.char.zfill(np.arange(n_invoices).astype(str), 9))
    debtor = np.char.add("D", np.char.zfill(rng.integers(0, n_debtors, n_invoices).astype(str), 7))
    start = np.datetime64("2020-01-01")
    issue = start + rng.integers(0, 1600, n_invoices).astype("timedelta64[D]")
    due = issue + rng.choice([14, 30, 45, 60], n_invoices).astype("timedelta64[D]")
    amount = np.round(rng.lognormal(7, 1.2, n_invoices), 2)
    bad = rng.random(n_invoices) < 0.001  # defects: negative amount or due before issue
    amount[bad & (rng.random(n_invoices) < 0.5)] *= -1
    due[bad & (amount > 0)] = issue[bad & (amount > 0)] - np.timedelta64(3, "D")
    invoices = pa.table(
        {
            "invoice_id": ids,
            "debtor_id": debtor,
            "issue_date": issue.astype("datetime64[D]"),
            "due_date": due.astype("datetime64[D]"),
            "amount": amount,
            "currency": np.where(rng.random(n_invoices) < 0.9, "EUR", "USD"),
            "disputed": rng.random(n_invoices) < 0.02,
        }
    )
    pacsv.write_csv(invoices, inv_path)
    paid = np.flatnonzero(rng.random(n_invoices) < 0.8)
    delay = rng.integers(-10, 120, len(paid)).astype("timedelta64[D]")
    paid_on = np.minimum(due[paid] + delay, np.datetime64("2024-06-30"))
    paid_on = np.maximum(paid_on, issue[paid])
    payments = pa.table(
        {
            "payment_id": np.char.add("PAY", np.char.zfill(np.arange(len(paid)).astype(str), 9)),
            "debtor_id": debtor[paid],
            "invoice_id": ids[paid],
            "paid_on": paid_on.astype("datetime64[D]"),
            "amount": np.abs(amount[paid]),
        }
    )
    pacsv.write_csv(payments, pay_path)
    return {"invoices": inv_path, "payments": pay_path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000, help="GX validation chunk size")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench" / "ingest_out")
    parser.add_argument("--no-docs", action="store_true", help="skip Data Docs rendering")
    args = parser.parse_args()

    folder = ROOT / "data" / "bench"
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(1) as pool:
        files = pool.apply(generate, (args.invoices, folder))
    gen_s = time.perf_counter() - t0
    sizes = {k: os.path.getsize(v) for k, v in files.items()}
    print(f"inputs: {files} ({sizes}); generated/reused in {gen_s:.1f}s", flush=True)

    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    settings = RulesConfig(gx_chunk_rows=args.chunk_rows, data_docs=not args.no_docs)
    t0 = time.perf_counter()
    result = ingest_files(files, args.out, as_of=dt.date(2024, 6, 30), settings=settings, progress=print)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tables = result.manifest["tables"]
    rows = sum(t["rows_in"] for t in tables.values())
    gx_s = sum(v for k, v in result.timings.items() if k.startswith("gx:"))
    figures = {
        "benchmark": "ingest",
        "invoices": tables["invoices"]["rows_in"],
        "payments": tables["payments"]["rows_in"],
        "rows_total": rows,
        "quarantined": {k: t["rows_quarantined"] for k, t in tables.items()},
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "invoice_rows_per_s": round(tables["invoices"]["rows_in"] / wall),
        "gx_s": round(gx_s, 1),
        "gx_share": round(gx_s / wall, 3),
        "steps_s": {k: round(v, 1) for k, v in result.timings.items()},
        "gx_chunk_rows": args.chunk_rows,
        "peak_rss_mib": round(peak_mib),
        "input_mib": {k: round(v / 2**20) for k, v in sizes.items()},
        "machine": f"{os.cpu_count()} cores, {platform.python_version()}",
    }
    for k, t in tables.items():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"], k
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
