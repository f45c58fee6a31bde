"""Scale of the bucket function: run ``features.engine.build_bucket`` over every bucket of an
ingested book, ``--rounds`` times (10 rounds of a 1M-debtor book = the work of 10M debtors),
and report the time per round (linear?) and the peak RSS per worker (bounded?).

Measures only: each task reads one bucket (``pipelines.engine.Book``), calls ``build_bucket`` (the
product function, with the in-default flags and the oldest open invoice; ``--labels`` adds the
labels) and returns its row count, wall time and the peak RSS of the process that ran it; the
frames are dropped (a real run keeps them: that is the driver's memory, reported separately by
``benchmarks/nightly.py``).

    nice .venv/bin/python benchmarks/engine_scale.py --data data/bench/gen_1m_ingested --as-of 2023-12-29 --rounds 10
    nice .venv/bin/python benchmarks/engine_scale.py --data DIR --as-of DATE --engine dask --workers 2 --memory-limit 3GiB

Prints one line per round, then one JSON object (final line).
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


def measure_bucket(book, k, dates, definition, labels, until):  # noqa: ANN001, ANN201 - runs on a worker
    """One bucket through the product function; only figures come back."""
    import os
    import resource
    import time

    from features.engine import build_bucket
    from pipelines.engine import has_ledger

    t = time.perf_counter()
    part = book.read(k)
    t_read = time.perf_counter() - t
    rows = 0
    if has_ledger(part):
        built = build_bucket(part, dates, definition, labels=labels, observed_until=until)
        rows = len(built.features)
    return {
        "bucket": k,
        "rows": rows,
        "read_s": t_read,
        "seconds": time.perf_counter() - t,
        "pid": os.getpid(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    from features.params import DefaultDefinition
    from pipelines.cluster import EngineSettings, open_engine
    from pipelines.engine import Book, map_buckets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an `ews ingest --out` folder")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--labels", action="store_true")
    parser.add_argument("--engine", choices=["local", "dask"], default="local")
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB")
    args = parser.parse_args()
    book = Book.ingested(args.data)
    dates = [pd.Timestamp(args.as_of)]
    until = book.last_observed()
    settings = EngineSettings(
        kind=args.engine, scheduler=args.scheduler, workers=args.workers, memory_limit=args.memory_limit
    )
    rounds = []
    t0 = time.perf_counter()
    with open_engine(settings) as engine:
        started = time.perf_counter() - t0
        for r in range(args.rounds):
            t = time.perf_counter()
            got = map_buckets(
                measure_bucket, book, dates, DefaultDefinition(), args.labels, until, engine=engine
            )
            wall = time.perf_counter() - t
            per_worker: dict[int, float] = {}
            for g in got:
                per_worker[g["pid"]] = max(per_worker.get(g["pid"], 0.0), g["peak_rss_mib"])
            rounds.append(
                {
                    "round": r + 1,
                    "wall_s": round(wall, 1),
                    "cumulative_s": round(time.perf_counter() - t0 - started, 1),
                    "rows": sum(g["rows"] for g in got),
                    "bucket_seconds_sum": round(sum(g["seconds"] for g in got), 1),
                    "bucket_seconds_max": round(max(g["seconds"] for g in got), 2),
                    "read_seconds_sum": round(sum(g["read_s"] for g in got), 1),
                    "peak_rss_per_worker_mib": {str(p): round(v) for p, v in sorted(per_worker.items())},
                }
            )
            print(
                f"round {r + 1}: {rounds[-1]['rows']:,} debtor rows in {wall:.1f} s (cumulative "
                f"{rounds[-1]['cumulative_s']:.0f} s); peak RSS per worker (MiB): "
                f"{rounds[-1]['peak_rss_per_worker_mib']}",
                flush=True,
            )
    out = {
        "benchmark": "engine_scale",
        "data": str(args.data),
        "buckets": book.buckets,
        "engine": args.engine,
        "workers": args.workers if args.engine == "dask" else 1,
        "memory_limit": args.memory_limit if args.engine == "dask" else None,
        "cluster_start_s": round(started, 1),
        "rounds": rounds,
        "driver_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
