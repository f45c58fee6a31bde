"""Benchmark: the XLSX of a published queue, rows prepared column by column vs xlsxwriter's write_row.

Reads ``collections_queue.parquet`` of a nightly run folder (``--run``), writes its workbook the way
the nightly does (``pipelines.adapters.exports.write_queue``: the top ``--rows`` rows on the sheet
"all" and again one sheet per owner, totals, an about sheet) both ways, and prints the CPU seconds
of each, the cells written and whether the two files are byte-identical::

    nice .venv/bin/python benchmarks/xlsx_rows.py --run data/bench/nightly_runs/2023-12-29
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a published nightly run folder")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="rows in the workbook (nightly: queue.xlsx_max_rows)"
    )
    args = parser.parse_args()

    import pandas as pd

    from pipelines.adapters.exports import AMOUNTS, QUEUE_TITLES, headers, write_xlsx

    queue = pd.read_parquet(args.run / "collections_queue.parquet").head(args.rows)
    stamp = dt.datetime.combine(dt.date.fromisoformat(args.run.name), dt.time())
    split = "owner" if "owner" in queue.columns else None
    sheets_rows = len(queue) + (int(queue[split].notna().sum()) if split else 0)
    figures = {"rows": len(queue), "columns": queue.shape[1], "cells": sheets_rows * queue.shape[1]}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fast in (("columnar", True), ("write_row", False)):
            folder = Path(tmp) / name
            folder.mkdir()
            t, cpu = time.perf_counter(), time.process_time()
            path = write_xlsx(
                queue,
                folder / "collections_queue.xlsx",
                "all",
                stamp,
                note=QUEUE_TITLES["collections_queue"],
                labels=headers(list(queue.columns), "EUR"),
                totals=tuple(c for c in queue.columns if c in AMOUNTS),
                split_by=split,
                fast=fast,
            )
            figures[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
            figures[f"{name}_wall_s"] = round(time.perf_counter() - t, 2)
            out[name] = path.read_bytes()
    figures["byte_identical"] = out["columnar"] == out["write_row"]
    figures["bytes"] = len(out["columnar"])
    for key in ("columnar", "write_row"):
        us = figures[f"{key}_cpu_s"] / figures["cells"] * 1e6
        print(f"{key:>10}: {figures[f'{key}_cpu_s']:7.2f} s CPU ({us:.2f} us per cell)")
    print(f"{figures['cells']:,} cells, byte-identical: {figures['byte_identical']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
