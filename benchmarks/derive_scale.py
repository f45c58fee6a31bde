"""Cost of dating the master data at ingest (s33-history): ``pipelines.ingest.history.with_derived``
as ``ews ingest --keep-history`` runs it on one night's debtors table, at scale.

Synthetic canonical tables (seeded): ``--debtors`` debtors (limit, one of 6 segments, one of 8
countries). ``first``: the first night (no history: one row per debtor). ``later``: a later night,
the kept history holding ``--rows`` rows per debtor (dated on earlier nights) and today's table with
``--changed`` of the debtors' limits changed; the merged table sorted by (debtor_id, valid_from) as
``merge_part`` does. Prints CPU seconds of the derivation (and of the sort), rows derived, and the
process's peak RSS before and after the derivation (``ru_maxrss``). One night per process:

    nice -n 10 .venv/bin/python benchmarks/derive_scale.py --debtors 1000000 --night first
    nice -n 10 .venv/bin/python benchmarks/derive_scale.py --debtors 1000000 --night later --rows 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pipelines.adapters.files import conform  # noqa: E402
from pipelines.ingest.history import KEYS, with_derived  # noqa: E402

NIGHT = dt.date(2026, 6, 30)


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def debtors(n: int, rng: np.random.Generator) -> pd.DataFrame:
    ids = pd.array([f"D{i:08d}" for i in range(n)], dtype="string")
    return conform(
        pd.DataFrame(
            {
                "debtor_id": ids,
                "credit_limit": np.round(rng.lognormal(9, 1, n), 2),
                "segment": pd.array(rng.choice(["a", "b", "c", "d", "e", "f"], n), dtype="string"),
                "country": pd.array(
                    rng.choice(["DE", "FR", "NL", "BE", "IT", "ES", "AT", "PL"], n), dtype="string"
                ),
            }
        ),
        "debtors",
    )


def kept(table: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` history rows per debtor on earlier nights, the last one stating today's values."""
    parts = []
    for k in range(rows):
        when = pd.Timestamp(NIGHT) - pd.Timedelta(days=30 * (rows - k))
        limit = table["credit_limit"].to_numpy() * (
            1.0 if k == rows - 1 else rng.uniform(0.5, 1.5, len(table))
        )
        parts.append(table[["debtor_id", "segment", "country"]].assign(valid_from=when, credit_limit=limit))
    hist = pd.concat(parts, ignore_index=True)
    return conform(
        hist.sort_values(list(KEYS["debtor_history"]), kind="stable", ignore_index=True), "debtor_history"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debtors", type=int, default=1_000_000)
    ap.add_argument("--night", choices=["first", "later"], default="first")
    ap.add_argument("--rows", type=int, default=4, help="kept history rows per debtor (later night)")
    ap.add_argument(
        "--changed", type=float, default=0.01, help="share of limits changed tonight (later night)"
    )
    ap.add_argument("--seed", type=int, default=3220)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    today = debtors(args.debtors, rng)
    hist = None
    if args.night == "later":
        hist = kept(today, args.rows, rng)
        moved = rng.random(len(today)) < args.changed
        today = today.assign(credit_limit=np.where(moved, today["credit_limit"] * 0.5, today["credit_limit"]))
    before = _rss_gib()
    c0, w0 = time.process_time(), time.perf_counter()
    merged, derived = with_derived(hist, today, NIGHT)
    cpu = time.process_time() - c0
    c1 = time.process_time()
    merged = merged.sort_values(list(KEYS["debtor_history"]), kind="stable").reset_index(drop=True)
    sort_cpu = time.process_time() - c1
    out = {
        "debtors": args.debtors,
        "night": args.night,
        "kept_rows": 0 if hist is None else len(hist),
        "derived": derived,
        "rows": len(merged),
        "derive_cpu_s": round(cpu, 2),
        "sort_cpu_s": round(sort_cpu, 2),
        "wall_s": round(time.perf_counter() - w0, 2),
        "peak_rss_gib_before": round(before, 2),
        "peak_rss_gib": round(_rss_gib(), 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
