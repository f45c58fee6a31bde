"""Runtime and memory of the credit-limit policy and the limit_breach trigger at scale.

    python benchmarks/credit_limits.py [--debtors 1000000] [--repeat 3] [--json benchmarks/results/credit_limits.json]

A synthetic scores frame (the nightly's columns that the policy reads: band, in_default, invoiced
volume, payment terms, open balance) and a debtors table (credit_limit, annual_turnover and net_worth,
each known for part of the debtors, in shuffled order) stand in for the nightly's. Figures (best of
``--repeat``, seconds): ``add_credit_limits`` (join of the debtors table + the policy),
``recommend_limits`` alone, the watchlist ``triggers`` (all five, limit_breach included), and the
``credit_limits.csv`` table and its CSV write, and the nightly's writer (CSV + XLSX of the top
``queue.xlsx_max_rows``); the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.adapters.exports import write_csv
from pipelines.config.credit import CreditPolicyConfig
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.limits import (
    add_credit_limits,
    credit_limits_table,
    recommend_limits,
    write_credit_limits,
)
from pipelines.scoring.watchlist import assign_bands, compare_with_previous, triggers


def synthetic(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = pd.array([f"D{i:08d}" for i in range(n)], dtype="string")
    pd_ = np.clip(rng.beta(0.6, 25, n), 0, 1)
    in_default = rng.random(n) < 0.03
    pd_[in_default] = 1.0
    cfg = NightlyConfig()
    band = assign_bands(pd.Series(pd_), cfg).where(~pd.Series(in_default), "default").astype("string")
    invoiced = np.where(rng.random(n) < 0.08, 0.0, np.round(rng.lognormal(8.5, 1.0, n), 2))
    scores = pd.DataFrame(
        {
            "debtor_id": ids,
            "as_of": pd.Timestamp("2025-12-31"),
            "name": ids,
            "segment": pd.array(rng.choice(["retail", "wholesale", "construction"], n), dtype="string"),
            "in_default": in_default,
            "pd": pd_,
            "band": band,
            # what is open: about the invoicing of the terms, more for late payers
            "open_balance": np.round(invoiced / 90 * 30 * rng.lognormal(0.0, 0.5, n), 2),
            "overdue_amount": 0.0,
            "invoice_amount_90d": invoiced,
            "invoice_amount_365d": invoiced * 4,
            "payment_terms_mean_365d": np.where(
                invoiced > 0, rng.choice([14.0, 30.0, 45.0, 60.0], n), np.nan
            ),
        }
    )
    order = rng.permutation(n)
    debtors = pd.DataFrame(
        {
            "debtor_id": ids[order],
            "credit_limit": np.where(rng.random(n) < 0.7, np.round(rng.uniform(1e3, 5e4, n), -2), np.nan),
            "annual_turnover": np.where(rng.random(n) < 0.5, rng.lognormal(13, 1.5, n), np.nan),
            "net_worth": np.where(rng.random(n) < 0.4, rng.normal(2e5, 3e5, n), np.nan),
        }
    )
    return scores, debtors


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return round(min(times), 3), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    policy, cfg = CreditPolicyConfig(), NightlyConfig()
    t = time.perf_counter()
    scores, debtors = synthetic(args.debtors)
    build_s = round(time.perf_counter() - t, 1)
    add_s, scored = best(lambda: add_credit_limits(scores, debtors, policy), args.repeat)
    inputs = pd.DataFrame(
        {
            "band": scores["band"],
            "in_default": scores["in_default"],
            "invoiced": scores["invoice_amount_90d"],
            "terms_days": scores["payment_terms_mean_365d"],
            "credit_limit": np.nan,
            "annual_turnover": np.nan,
            "net_worth": np.nan,
        }
    )
    policy_s, _ = best(lambda: recommend_limits(inputs, policy), args.repeat)
    deltas = compare_with_previous(scored, None)
    trig_s, flags = best(lambda: triggers(deltas, cfg, has_previous=False), args.repeat)
    table_s, table = best(lambda: credit_limits_table(scored, "EUR"), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        write_csv(table, Path(tmp) / "credit_limits.csv")
        csv_s = round(time.perf_counter() - t, 3)
        csv_mib = round((Path(tmp) / "credit_limits.csv").stat().st_size / 2**20, 1)
        t = time.perf_counter()
        rows = min(len(table), NightlyConfig().queue.xlsx_max_rows)
        write_credit_limits(scored, Path(tmp), datetime(2025, 12, 31), "EUR", rows)
        both_s = round(time.perf_counter() - t, 3)
    rules = scored["credit_limit_rule"].value_counts()
    figures = {
        "debtors": args.debtors,
        "synthetic_frame_s": build_s,
        "add_credit_limits_s": add_s,
        "recommend_limits_s": policy_s,
        "triggers_s": trig_s,
        "credit_limits_table_s": table_s,
        "credit_limits_csv_write_s": csv_s,
        "credit_limits_csv_mib": csv_mib,
        "xlsx_rows": rows,
        "write_credit_limits_csv_and_xlsx_s": both_s,
        "limit_breach_fired": int(flags["trigger_limit_breach"].sum()),
        "capped_share": round(float(rules[rules.index.str.contains("capped")].sum()) / args.debtors, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
