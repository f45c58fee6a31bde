"""Ingest cost of the number checks of issue 10 (currency conversion, amount ceilings, payments
dated before their invoice) on K copies of the committed sample, single-currency and with a third
of the invoices in USD.

    PYTHONPATH=$PWD nice .venv/bin/python benchmarks/ingest_numbers.py [K] [WORK_DIR]

Prints one Markdown row per case: wall seconds of ``ingest_files`` (in memory, no Data Docs), the
``currency`` and ``cross_table`` steps, and the converted row counts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config.project import CurrencyConfig
from pipelines.config.source import RulesConfig
from pipelines.ingest import ingest_files

SAMPLE = Path("data/sample")


def _tile(table: str, ids: list[str], k: int) -> pd.DataFrame:
    frame = pd.read_parquet(SAMPLE / f"{table}.parquet")
    parts = []
    for i in range(k):
        part = frame.copy()
        for c in ids:
            if c in part:
                part[c] = part[c].astype("string") + f"-{i}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def main(k: int, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    frames = {
        "debtors": _tile("debtors", ["debtor_id"], k),
        "invoices": _tile("invoices", ["invoice_id", "debtor_id"], k),
        "payments": _tile("payments", ["payment_id", "debtor_id", "invoice_id"], k),
    }
    files = {}
    for table, frame in frames.items():
        files[table] = work / f"{table}.parquet"
        frame.to_parquet(files[table])
    usd = frames["invoices"].copy()
    usd.loc[np.arange(len(usd)) % 3 == 0, "currency"] = "USD"
    usd.to_parquet(work / "invoices_usd.parquet")
    n = {t: f"{len(f):,}" for t, f in frames.items()}
    print(f"rows: debtors {n['debtors']}, invoices {n['invoices']}, payments {n['payments']}")
    print("| case | wall s | currency s | cross_table s | converted rows |")
    print("|---|---|---|---|---|")
    cases = (
        ("single currency", None, files),
        (
            "1/3 of invoices in USD, converted",
            CurrencyConfig(reporting="EUR", rates={"USD": 0.92}),
            {**files, "invoices": work / "invoices_usd.parquet"},
        ),
    )
    for label, fx, inputs in cases:
        t0 = time.perf_counter()
        result = ingest_files(inputs, None, settings=RulesConfig(data_docs=False), currency=fx)
        wall = time.perf_counter() - t0
        t = result.timings
        converted = result.manifest["currency"]["converted_rows"]
        print(f"| {label} | {wall:.1f} | {t.get('currency', 0):.2f} | {t['cross_table']:.2f} | {converted} |")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10,
        Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/ews-ingest-numbers"),
    )
