"""Feature building at scale: one as-of date over a large ledger, or a stack of monthly snapshots.

Reads a folder of canonical Parquet tables (``benchmarks/features_data.py`` output, or a generator
/ ingest output dir), builds ``features.build.build_features`` and reports wall time per step
(read, prepare + state + features inside build_features, labels optional) and the peak RSS of the
process (which includes the loaded tables).

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/features_scale.py --data data/bench/feat_1m \
        --as-of 2024-12-31
    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/features_scale.py --data data/bench/feat_100k \
        --months 12 --end 2024-12-31 --labels

Prints the figures, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features.build import build_features
from features.labels import build_labels
from features.snapshots import month_ends
from features.tables import Portfolio


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (GiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def read(folder: Path) -> Portfolio:
    frames = {}
    for name in ("invoices", "payments", "debtors", "events"):
        path = folder / f"{name}.parquet"
        if path.is_file():
            frames[name] = pq.read_table(path).to_pandas()
    return Portfolio(**frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", help="one as-of date (YYYY-MM-DD)")
    parser.add_argument("--months", type=int, help="number of month-end snapshots ending at --end")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--labels", action="store_true", help="also time build_labels")
    args = parser.parse_args()
    if args.months:
        end = pd.Timestamp(args.end)
        dates = month_ends(end - pd.DateOffset(months=args.months) + pd.Timedelta(days=1), end)
    else:
        dates = [pd.Timestamp(args.as_of)]

    t0 = time.perf_counter()
    portfolio = read(args.data)
    t_read = time.perf_counter() - t0
    rss_loaded = peak_rss_gib()
    n_inv = len(portfolio.invoices)
    n_pay = len(portfolio.payments) if portfolio.payments is not None else 0
    print(f"read {n_inv:,} invoices, {n_pay:,} payments in {t_read:.1f} s (peak RSS {rss_loaded:.2f} GiB)")

    t0 = time.perf_counter()
    feats = build_features(portfolio, dates)
    t_feat = time.perf_counter() - t0
    print(
        f"build_features: {len(dates)} as-of date(s), {len(feats):,} rows x {feats.shape[1] - 2} columns "
        f"in {t_feat:.1f} s; peak RSS {peak_rss_gib():.2f} GiB"
    )
    out = {
        "benchmark": "features_scale",
        "data": str(args.data),
        "invoices": n_inv,
        "payments": n_pay,
        "debtors_rows": int(feats["debtor_id"].nunique()),
        "as_of_dates": [str(d.date()) for d in dates],
        "rows": len(feats),
        "columns": int(feats.shape[1] - 2),
        "read_seconds": round(t_read, 2),
        "peak_rss_gib_after_read": round(rss_loaded, 2),
        "build_features_seconds": round(t_feat, 2),
    }
    if args.labels:
        t0 = time.perf_counter()
        labels = build_labels(portfolio, dates)
        out["build_labels_seconds"] = round(time.perf_counter() - t0, 2)
        out["label_rate"] = float(labels["label"].astype("Float64").mean())
        print(f"build_labels in {out['build_labels_seconds']} s")
    out["peak_rss_gib"] = round(peak_rss_gib(), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
