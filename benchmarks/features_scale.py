"""Feature building at scale: the product engine (``pipelines.engine.build_book``) over a book.

Measures only: it reads a folder with ``pipelines.engine.Book`` and runs
``features.engine.build_bucket`` bucket by bucket, exactly as ``ews features`` / the train flow /
the nightly do, and reports wall time and the peak RSS of the process.

- an ``ews ingest --out`` folder (hive-style debtor buckets) is read one bucket at a time, so the
  working memory is that of one bucket;
- a flat folder of canonical Parquet tables (``benchmarks/features_data.py`` or ``ews generate``
  output) is read whole, then cut into in-memory buckets of ``--bucket-rows`` ledger rows.

    nice .venv/bin/python benchmarks/features_scale.py --data data/bench/gen_1m_ingested --as-of 2023-12-31
    nice .venv/bin/python benchmarks/features_scale.py --data DIR --months 12 --end 2024-12-31 --labels

``--engine dask [--scheduler ADDRESS | --workers N --memory-limit 3GiB]`` maps the buckets on a
Dask cluster instead. Prints the figures, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.engine import last_observed_date  # noqa: E402
from features.params import DefaultDefinition  # noqa: E402
from features.snapshots import month_ends  # noqa: E402
from pipelines.engine import Book, build_book  # noqa: E402


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (GiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", help="one as-of date (YYYY-MM-DD)")
    parser.add_argument("--months", type=int, help="number of month-end snapshots ending at --end")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--labels", action="store_true", help="also build the default labels")
    parser.add_argument(
        "--bucket-rows", type=int, default=2_000_000, help="flat folders: ledger rows per bucket"
    )
    parser.add_argument("--engine", choices=["local", "dask"], default="local")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB")
    args = parser.parse_args()
    if args.months:
        end = pd.Timestamp(args.end)
        dates = month_ends(end - pd.DateOffset(months=args.months) + pd.Timedelta(days=1), end)
    else:
        dates = [pd.Timestamp(args.as_of)]

    from pipelines.adapters.files import bucket_count, last_observed, read_portfolio
    from pipelines.cluster import EngineSettings, open_engine

    t0 = time.perf_counter()
    bucketed = (args.data / "invoices").is_dir()
    if bucketed:
        book = Book.ingested(args.data)
        until = last_observed(args.data)
    else:
        portfolio = read_portfolio(args.data)
        book = Book.in_memory(portfolio, args.bucket_rows)
        until = last_observed_date(portfolio)
    t_read = time.perf_counter() - t0
    settings = EngineSettings(
        kind=args.engine, scheduler=args.scheduler, workers=args.workers, memory_limit=args.memory_limit
    )
    t0 = time.perf_counter()
    with open_engine(settings) as engine:
        built = build_book(
            book, dates, DefaultDefinition(), labels=args.labels, observed_until=until, engine=engine
        )
    t_build = time.perf_counter() - t0
    feats = built.features
    print(
        f"{'bucketed folder' if bucketed else 'flat folder read whole'} ({book.buckets} buckets, read "
        f"{t_read:.1f} s); build_book on {args.engine}: {len(dates)} as-of date(s), {len(feats):,} rows x "
        f"{feats.shape[1] - 2} columns in {t_build:.1f} s; peak RSS of this process {peak_rss_gib():.2f} GiB"
    )
    out = {
        "benchmark": "features_scale",
        "data": str(args.data),
        "layout": "bucketed" if bucketed else "flat",
        "buckets": book.buckets if bucketed else bucket_count(args.data),
        "engine": args.engine,
        "as_of_dates": [str(d.date()) for d in dates],
        "rows": len(feats),
        "columns": int(feats.shape[1] - 2),
        "labels": args.labels,
        "read_seconds": round(t_read, 2),
        "build_seconds": round(t_build, 2),
        "peak_rss_gib": round(peak_rss_gib(), 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
