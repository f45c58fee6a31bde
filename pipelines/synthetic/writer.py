"""Chunked writer: simulate debtors chunk by chunk and append each chunk to the output files.

Parquet (zstd) through one ``pyarrow.parquet.ParquetWriter`` per table, or CSV (dates as
YYYY-MM-DD). Files are written under temporary names and moved into place at the end, together
with ``generate-summary.json`` (sizes, realised default rate, oracle AUC, defects injected).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

from pipelines.synthetic.core import Economy, simulate_chunk
from pipelines.synthetic.defects import DEFECT_KINDS, inject_defects
from pipelines.synthetic.dynamics import downturn_drift, sudden_hazard, systematic_shocks
from pipelines.synthetic.memos import add_credit_memos
from pipelines.synthetic.oracle import build_oracle_table, calibrate_alpha
from pipelines.synthetic.params import GeneratorParams, month_grid

__all__ = ["LEDGER_TABLES", "TABLES", "build_economy", "generate"]

LEDGER_TABLES: tuple[str, ...] = ("debtors", "invoices", "payments", "events")
TABLES: tuple[str, ...] = (*LEDGER_TABLES, "truth")
SUMMARY_FILE = "generate-summary.json"


def build_economy(params: GeneratorParams) -> Economy:
    """Shared state of all chunks (calendar, hazard intercept, shocks, oracle table)."""
    firsts, lasts = month_grid(params.start, params.months)
    macro, sector = systematic_shocks(params)
    alpha = calibrate_alpha(params)
    return Economy(
        firsts=firsts,
        lasts=lasts,
        alpha=alpha,
        lam_sudden=sudden_hazard(params),
        drift=downturn_drift(params, params.months),
        macro=macro,
        sector=sector,
        oracle=build_oracle_table(params, alpha),
    )


class _Sink:
    """Appends Arrow tables to one output file (parquet or csv) under a temporary name."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.writer: Any = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv":
            table = _csv_ready(table)
        if self.writer is None:
            if self.fmt == "parquet":
                self.writer = pq.ParquetWriter(
                    self.tmp, table.schema, compression="zstd", compression_level=6
                )
            else:
                self.writer = pacsv.CSVWriter(self.tmp, table.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as date32 (CSV shows YYYY-MM-DD); string columns untouched."""
    cols = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            cols.append(col.cast(pa.date32()))
        else:
            cols.append(col)
    return pa.table(dict(zip(table.column_names, cols, strict=True)))


def generate(
    params: GeneratorParams,
    out_dir: str | Path,
    *,
    fmt: str = "parquet",
    defects: float = 0.0,
    credit_memos: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write debtors/invoices/payments/events (+ truth.parquet) for ``params`` into ``out_dir``.

    ``fmt`` chooses parquet or csv for the ledger tables (truth is always parquet). ``defects`` is the
    share of extra corrupted rows appended to invoices and payments (see ``defects.py``).
    ``credit_memos``: the share of fully paid invoices that get a credit memo (``memos.py``; 0: none,
    the book as before). ``progress(done_debtors, total_debtors)`` is called after each chunk. Returns the summary that is
    also written to ``generate-summary.json`` (AUC and rates are ``null`` when undefined, e.g. a
    history shorter than the seasoning period has no defaults).
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, got {fmt!r}")
    if not 0.0 <= defects < 0.5:
        raise ValueError(f"defects must be in [0, 0.5), got {defects}")
    if not 0.0 <= credit_memos <= 0.5:
        raise ValueError(f"credit_memos must be in [0, 0.5], got {credit_memos}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eco = build_economy(params)
    sinks = {t: _Sink(out / f"{t}.{fmt}", fmt) for t in LEDGER_TABLES}
    sinks["truth"] = _Sink(out / "truth.parquet", "parquet")
    stops = exposure = 0
    labels, oracles = [], []
    injected: dict[str, dict[str, int]] = {}
    memo_counts: dict[str, int] = {}
    n_chunks = -(-params.debtors // params.chunk_debtors)
    for chunk in range(n_chunks):
        lo = chunk * params.chunk_debtors
        hi = min(params.debtors, lo + params.chunk_debtors)
        res = simulate_chunk(params, chunk, lo, hi, eco)
        tables = res.tables
        if credit_memos > 0:
            tables, made = add_credit_memos(tables, credit_memos, params.seed, chunk)
            for k, v in made.items():
                memo_counts[k] = memo_counts.get(k, 0) + v
        if defects > 0:
            tables, counts = inject_defects(tables, defects, params.seed, chunk, csv=fmt == "csv")
            for table, by_kind in counts.items():
                for kind, k in by_kind.items():
                    injected.setdefault(table, {}).setdefault(kind, 0)
                    injected[table][kind] += k
        for name, table in tables.items():
            sinks[name].write(table)
        stops += res.stops
        exposure += res.stop_exposure_months
        labels.append(res.label)
        oracles.append(res.oracle)
        if progress is not None:
            progress(hi, params.debtors)
    for sink in sinks.values():
        sink.close()
    y = np.concatenate(labels)
    p = np.concatenate(oracles)
    auc = round(float(roc_auc_score(y, p)), 6) if 0 < y.sum() < len(y) else None
    monthly = stops / exposure if exposure else 0.0
    summary: dict[str, Any] = {
        "params": {
            "debtors": params.debtors,
            "months": params.months,
            "seed": params.seed,
            "start": params.start.isoformat(),
            "annual_default_rate": params.annual_default_rate,
            "volume_scale": params.volume_scale,
            "horizon_days": params.horizon_days,
            "chunk_debtors": params.chunk_debtors,
            "format": fmt,
            "defects": defects,
        },
        "rows": {name: sink.rows for name, sink in sinks.items()},
        "defaults": {
            "stops": stops,
            "seasoned_debtor_months": exposure,
            "realised_annual_rate": 1.0 - (1.0 - monthly) ** 12 if exposure else None,
            "configured_annual_rate": params.annual_default_rate,
        },
        "oracle": {
            "horizon_days": params.horizon_days,
            "rows_scored": len(y),
            "positives": int(y.sum()),
            "auc": auc,
            "mean_pd": round(float(p.mean()), 6) if len(p) else None,
            "positive_rate": round(float(y.mean()), 6) if len(y) else None,
        },
        "defects_injected": {t: dict(sorted(k.items())) for t, k in sorted(injected.items())},
        "defect_kinds": list(DEFECT_KINDS),
    }
    if credit_memos > 0:  # absent without memos: every book generated before stays byte-identical
        summary["params"]["credit_memos"] = credit_memos
        summary["credit_memos"] = dict(sorted(memo_counts.items()))
    if params.regime != "base":  # absent for base: the committed sample stays byte-identical
        summary["params"]["regime"] = params.regime
    tmp = out / f".{SUMMARY_FILE}.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / SUMMARY_FILE)
    return summary
