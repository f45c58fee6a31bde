"""Cost of the dated master data's as-of join at scale (s32-master; issue 9, ``features.master``).

A synthetic ``debtor_history`` of ``--debtors`` debtors x ``--rows`` rows each (an opening row, then
changes at random days over 3 years; limits and one of 8 segments), the debtors table beside it. Timed:
``prepare_ledger`` of the debtors alone without and with the history (the sort and codes, once per
bucket), and ``attributes_at`` at ``--months`` month-ends (once per as-of date, what every feature
building pays per date); wall and CPU seconds (the CPU seconds hold on a shared box); peak RSS. Prints the figures, then one JSON line.

    nice -n 10 .venv/bin/python benchmarks/master_scale.py --debtors 1000000 --rows 4 --months 36
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.ledger import day_number, prepare_ledger  # noqa: E402
from features.master import attributes_at  # noqa: E402
from features.tables import Portfolio  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debtors", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=4, help="history rows per debtor")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n, k = args.debtors, args.rows
    ids = pd.array([f"D{i:07d}" for i in range(n)], dtype="string")
    segs = np.array([f"seg{i}" for i in range(8)], dtype=object)
    debtors = pd.DataFrame(
        {
            "debtor_id": ids,
            "segment": pd.array(segs[rng.integers(0, 8, n)], dtype="string"),
            "country": pd.array(["DE"] * n, dtype="string"),
            "credit_limit": rng.uniform(1_000, 50_000, n).round(2),
        }
    )
    start = pd.Timestamp("2022-01-01")
    days = np.sort(rng.integers(0, 3 * 365, (n, k)), axis=1)
    days[:, 0] = -30  # the opening row, before the first month-end
    history = pd.DataFrame(
        {
            "debtor_id": pd.array(np.repeat(np.asarray(ids, dtype=object), k), dtype="string"),
            "valid_from": (start + pd.to_timedelta(days.ravel(), unit="D")).astype("datetime64[ns]"),
            "credit_limit": rng.uniform(0, 50_000, n * k).round(2),
            "segment": pd.array(segs[rng.integers(0, 8, n * k)], dtype="string"),
            "country": pd.array([None] * (n * k), dtype="string"),
        }
    )
    out: dict = {"debtors": n, "history_rows": len(history), "month_ends": args.months}
    t, c = time.perf_counter(), time.process_time()
    prepare_ledger(Portfolio(debtors=debtors))
    out["prepare_snapshot_s"] = round(time.perf_counter() - t, 2)
    out["prepare_snapshot_cpu_s"] = round(time.process_time() - c, 2)
    t, c = time.perf_counter(), time.process_time()
    ledger = prepare_ledger(Portfolio(debtors=debtors, debtor_history=history))
    out["prepare_with_history_s"] = round(time.perf_counter() - t, 2)
    out["prepare_with_history_cpu_s"] = round(time.process_time() - c, 2)
    ends = pd.date_range(start, periods=args.months, freq="ME")
    t, c = time.perf_counter(), time.process_time()
    for T in ends:
        attributes_at(ledger, int(day_number(T)))
    total, cpu = time.perf_counter() - t, time.process_time() - c
    out["as_of_join_total_s"] = round(total, 2)
    out["as_of_join_per_month_end_s"] = round(total / args.months, 3)
    out["as_of_join_per_month_end_cpu_s"] = round(cpu / args.months, 3)
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    for key, value in out.items():
        print(f"{key}: {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
