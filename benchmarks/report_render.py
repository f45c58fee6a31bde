"""Time the portfolio figures and the rendering of report.html on a published nightly run.

Re-renders the report of ``--runs/<as-of>`` from its own outputs (scores, watchlist, drift,
manifest) and the ingested book (``--data``), without the SHAP waterfalls (those need the model):
prints the seconds (wall and CPU) of ``build_portfolio`` (DSO and aging per debtor bucket, PD trends from the
earlier runs) and of ``render_report``, and the page size, and writes the page to ``--out``.

    python benchmarks/report_render.py --data data/demo/ingest --runs data/demo/runs --as-of 2025-12-31
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import pandas as pd

from pipelines.adapters.exports import internal
from pipelines.config import load_config
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.report import render_report
from pipelines.report.portfolio import build_portfolio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the ews ingest output the run scored")
    ap.add_argument("--runs", type=Path, required=True, help="the nightly output folder")
    ap.add_argument("--as-of", required=True, help="YYYY-MM-DD of a published run in --runs")
    ap.add_argument("--config", type=Path, default=Path("conf/nightly.yaml"))
    ap.add_argument("--out", type=Path, default=Path("report-bench.html"))
    args = ap.parse_args()
    cfg = load_config(args.config, expect=NightlyConfig)
    run = args.runs / args.as_of
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    scored = internal(pd.read_parquet(run / "scores.parquet"))  # the pipeline's column names
    wl = internal(pd.read_parquet(run / "watchlist.parquet"))
    reason_cols = sorted(c for c in wl.columns if c.startswith("reason_"))
    currency = (manifest.get("currency") or {}).get("reporting") or "EUR"

    t0, c0 = time.perf_counter(), time.process_time()
    view = build_portfolio(
        Book.ingested(args.data),
        dt.date.fromisoformat(args.as_of),
        scored,
        wl["debtor_id"].head(cfg.report.debtor_details),
        cfg,
        currency,
        args.runs,
        run,
    )
    t1, c1 = time.perf_counter(), time.process_time()
    html = render_report(
        as_of=args.as_of,
        model={**manifest["model"], "metrics": {}},
        config_hash=manifest["config"]["hash"],
        scored=scored.assign(in_previous=False, pd_change=float("nan")),
        previous=None,
        previous_as_of=manifest.get("previous_run"),
        watchlist=wl,
        reason_columns=reason_cols,
        counts=manifest["counts"],
        drift=pd.read_csv(run / "drift.csv"),
        calibration=None,
        waterfalls=[],
        cfg=cfg,
        feed=manifest.get("feed"),
        inputs=manifest.get("inputs"),
        portfolio=view,
        currency=currency,
    )
    t2, c2 = time.perf_counter(), time.process_time()
    args.out.write_text(html, encoding="utf-8")
    print(
        f"debtors {len(scored):,}, watchlist rows in page {min(len(wl), cfg.report.max_watchlist_rows):,}, "
        f"debtor pages {min(len(wl), cfg.report.debtor_details):,}, buckets {Book.ingested(args.data).buckets}, "
        f"earlier runs read {len(view.pd_trend) - 1}"
    )
    print(
        f"build_portfolio {t1 - t0:.2f} s wall / {c1 - c0:.2f} s CPU, render_report {t2 - t1:.2f} s wall / "
        f"{c2 - c1:.2f} s CPU, page {len(html.encode()) / 1e6:.2f} MB; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
