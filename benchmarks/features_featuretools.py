"""Side-by-side: ews point-in-time features vs featuretools Deep Feature Synthesis, same subset.

Subset: the first debtors of a benchmark ledger (``benchmarks/features_data.py``) whose invoices
add up to ``--invoices`` (default 100,000), with their payments; one as-of date T.

- ``ews``: ``features.build.build_features`` (all families, ~55 columns, including the oldest-first
  cash allocation, aging buckets, DPD windows, weighted quantiles).
- ``featuretools``: DFS over debtors <- invoices, debtors <- payments with cutoff time T (rows
  after T excluded, so also point-in-time), aggregation primitives sum, mean, max, min, count,
  std (max_depth 1) over invoice amount / terms / disputed and payment amount / days late (days
  late joined from the named invoice beforehand), once per window (90 and 365 days via
  ``training_window``). DFS cannot express allocation of unallocated cash or open balances, so it
  computes simpler aggregations; the comparison is of time for a comparable feature count.

featuretools lives in its own venv (never in .venv). Run both and get the ratio:

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/features_featuretools.py \
        --data data/bench/feat_100k --ft-python /work/ft-venv/bin/python

(``--engine ews`` / ``--engine featuretools`` run one side only; the driver calls the other venv.)
Prints the figures, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

AS_OF = "2024-12-31"


def subset(folder: Path, n_invoices: int) -> dict[str, pd.DataFrame]:
    """The first debtors (in id order) whose invoices reach ``n_invoices``, with their payments."""
    inv = pq.read_table(folder / "invoices.parquet")
    counts = inv.group_by("debtor_id").aggregate([("invoice_id", "count")]).sort_by("debtor_id")
    cum = np.cumsum(counts["invoice_id_count"].to_numpy())
    keep = counts["debtor_id"].slice(0, int(np.searchsorted(cum, n_invoices)) + 1)
    inv = inv.filter(pc.is_in(inv["debtor_id"], value_set=keep)).to_pandas()
    inv = inv.iloc[:n_invoices]
    keep_ids = pd.unique(inv["debtor_id"])
    pay = pq.read_table(folder / "payments.parquet")
    pay = pay.filter(pc.is_in(pay["debtor_id"], value_set=keep.combine_chunks())).to_pandas()
    pay = pay[pay["debtor_id"].isin(keep_ids)].reset_index(drop=True)
    deb = pq.read_table(folder / "debtors.parquet").to_pandas()
    deb = deb[deb["debtor_id"].isin(keep_ids)].reset_index(drop=True)
    return {"invoices": inv.reset_index(drop=True), "payments": pay, "debtors": deb}


def run_ews(frames: dict[str, pd.DataFrame]) -> dict:
    from features.build import build_features
    from features.tables import Portfolio

    t0 = time.perf_counter()
    out = build_features(Portfolio(**frames), [pd.Timestamp(AS_OF)])
    seconds = time.perf_counter() - t0
    return {"engine": "ews", "seconds": round(seconds, 3), "rows": len(out), "features": out.shape[1] - 2}


def run_featuretools(frames: dict[str, pd.DataFrame]) -> dict:
    import featuretools as ft

    inv, pay, deb = (frames[k].copy() for k in ("invoices", "payments", "debtors"))
    for df in (inv, pay, deb):
        for col in df.columns:
            if str(df[col].dtype) in ("string", "str") or df[col].dtype == object:
                df[col] = df[col].astype(object)
    inv["terms_days"] = (inv["due_date"] - inv["issue_date"]).dt.days.astype(float)
    inv["disputed"] = inv["disputed"].astype(float)
    due = pay["invoice_id"].map(inv.set_index("invoice_id")["due_date"])
    pay["days_late"] = (pay["paid_on"] - due).dt.days.astype(float)
    pay = pay.drop(columns=["invoice_id"])
    t0 = time.perf_counter()
    es = ft.EntitySet("ledger")
    es = es.add_dataframe(dataframe_name="debtors", dataframe=deb[["debtor_id"]], index="debtor_id")
    es = es.add_dataframe(
        dataframe_name="invoices",
        dataframe=inv[["invoice_id", "debtor_id", "issue_date", "amount", "terms_days", "disputed"]],
        index="invoice_id",
        time_index="issue_date",
    )
    es = es.add_dataframe(
        dataframe_name="payments",
        dataframe=pay[["payment_id", "debtor_id", "paid_on", "amount", "days_late"]],
        index="payment_id",
        time_index="paid_on",
    )
    es = es.add_relationship("debtors", "debtor_id", "invoices", "debtor_id")
    es = es.add_relationship("debtors", "debtor_id", "payments", "debtor_id")
    cutoff = pd.DataFrame({"debtor_id": deb["debtor_id"], "time": pd.Timestamp(AS_OF)})
    n_features = 0
    rows = 0
    for window in ("90 days", "365 days"):
        fm, defs = ft.dfs(
            entityset=es,
            target_dataframe_name="debtors",
            cutoff_time=cutoff,
            training_window=window,
            agg_primitives=["sum", "mean", "max", "min", "count", "std"],
            trans_primitives=[],
            max_depth=1,
            verbose=False,
        )
        n_features += len(defs)
        rows = len(fm)
    seconds = time.perf_counter() - t0
    return {
        "engine": "featuretools",
        "version": ft.__version__,
        "seconds": round(seconds, 3),
        "rows": rows,
        "features": n_features,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--engine", choices=["ews", "featuretools", "both"], default="both")
    parser.add_argument(
        "--ft-python", default="/work/ft-venv/bin/python", help="interpreter with featuretools"
    )
    args = parser.parse_args()
    if args.engine == "both":
        results = []
        for engine, python in (("ews", sys.executable), ("featuretools", args.ft_python)):
            cmd = [
                python,
                __file__,
                "--data",
                str(args.data),
                "--invoices",
                str(args.invoices),
                "--engine",
                engine,
            ]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
            )
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        ews, ftr = results
        for r in results:
            print(
                f"{r['engine']:13s} {r['seconds']:8.2f} s  {r['rows']:,} debtors x {r['features']} features"
            )
        out = {
            "benchmark": "features_vs_featuretools",
            "invoices": args.invoices,
            "as_of": AS_OF,
            "ews": ews,
            "featuretools": ftr,
            "time_ratio_featuretools_over_ews": round(ftr["seconds"] / ews["seconds"], 2),
        }
        print(json.dumps(out))
        return
    frames = subset(args.data, args.invoices)
    result = run_ews(frames) if args.engine == "ews" else run_featuretools(frames)
    result["invoices"] = len(frames["invoices"])
    result["payments"] = len(frames["payments"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
