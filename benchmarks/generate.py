"""Benchmark ``ews generate`` at scale: wall time, peak RSS and rows per table.

Usage (heavy: wrap it in the shared lock):
    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/generate.py --debtors 1000000 --months 12 \
        --out data/bench/gen_1m
Final line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import psutil

from pipelines.synthetic import GeneratorParams, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", default="parquet")
    ap.add_argument("--defects", type=float, default=0.0)
    ap.add_argument("--annual-default-rate", type=float, default=0.03)
    ap.add_argument("--out", type=Path, default=Path("data/bench/gen_1m"))
    args = ap.parse_args()
    params = GeneratorParams(
        debtors=args.debtors, months=args.months, seed=args.seed, annual_default_rate=args.annual_default_rate
    )
    t0 = time.perf_counter()
    summary = generate(
        params,
        args.out,
        fmt=args.format,
        defects=args.defects,
        progress=lambda done, total: print(
            f"  {done:,}/{total:,} debtors  {time.perf_counter() - t0:6.1f} s"
        ),
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir()) if p.is_file()}
    print(
        json.dumps(
            {
                "benchmark": "generate",
                "debtors": args.debtors,
                "months": args.months,
                "format": args.format,
                "seconds": round(seconds, 1),
                "peak_rss_gib": round(peak, 2),
                "rows": summary["rows"],
                "bytes": sizes,
                "oracle_auc": summary["oracle"]["auc"],
                "realised_annual_rate": round(summary["defaults"]["realised_annual_rate"], 4),
                "cpus": os.cpu_count(),
                "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
