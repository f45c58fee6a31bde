"""Simple large invoice ledgers for the feature benchmarks (numpy, seeded; cached as Parquet).

Each debtor gets ~``invoices_per_debtor`` invoices (Poisson) issued over two years (2023-2024),
30/45/60-day terms, log-normal amounts. 93% of invoices are paid (in one or, for 5%, two
payments) after a debtor-specific typical delay; 10% of payments carry no invoice id (unallocated
cash); 3% of invoices are disputed. ``debtors`` has segment, country, credit limit, onboarding.

    .venv/bin/python benchmarks/features_data.py --debtors 100000 --invoices-per-debtor 50 --out data/bench/feat_100k
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START = np.datetime64("2023-01-01")
DAYS = 730


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    nums = pa.array(np.arange(n, dtype=np.int64)).cast(pa.large_string())
    padded = pa.compute.utf8_lpad(nums, width=width, padding="0")
    joined = pa.compute.binary_join_element_wise(
        pa.scalar(prefix, pa.large_string()), padded, pa.scalar("", pa.large_string())
    )
    return joined.cast(pa.string())


def generate(debtors: int, invoices_per_debtor: float, seed: int = 7) -> dict[str, pa.Table]:
    """Arrow tables invoices, payments, debtors (canonical columns and dtypes)."""
    rng = np.random.default_rng(seed)
    per = rng.poisson(invoices_per_debtor, debtors)
    n = int(per.sum())
    code = np.repeat(np.arange(debtors, dtype=np.int64), per)
    issue = rng.integers(0, DAYS, n)
    terms = rng.choice(np.array([30, 45, 60]), n)
    amount = np.round(np.exp(rng.normal(7.0, 1.0, n)), 2) + 1.0
    disputed = rng.random(n) < 0.03
    typical = rng.gamma(2.0, 6.0, debtors)  # debtor's typical delay (days after due)
    paid = rng.random(n) < 0.93
    delay = np.round(rng.exponential(typical[code]) - 5).astype(np.int64)
    pay_day = issue + terms + delay
    split = paid & (rng.random(n) < 0.05)
    inv_idx = np.concatenate([np.flatnonzero(paid), np.flatnonzero(split)])
    first = np.arange(len(inv_idx)) < paid.sum()
    amt = amount[inv_idx].copy()
    halves = np.round(amount[np.flatnonzero(split)] / 2, 2)
    # split invoices: first payment pays half, second (7 days later) the rest
    is_split_first = np.isin(inv_idx, np.flatnonzero(split)) & first
    amt[is_split_first] = np.round(amt[is_split_first] / 2, 2)
    amt[~first] = amount[np.flatnonzero(split)] - halves
    day = pay_day[inv_idx] + np.where(first, 0, 7)
    m = len(inv_idx)
    unalloc = rng.random(m) < 0.10
    inv_ids = _ids("I", n, 9)
    target = pa.compute.take(inv_ids, pa.array(inv_idx))
    target = pa.compute.if_else(pa.array(unalloc), pa.scalar(None, pa.string()), target)
    deb_ids = _ids("D", debtors, 7)
    as_date = lambda d: pa.array((START + d.astype("timedelta64[D]")).astype("datetime64[ns]"))  # noqa: E731
    invoices = pa.table(
        {
            "invoice_id": inv_ids,
            "debtor_id": pa.compute.take(deb_ids, pa.array(code)),
            "issue_date": as_date(issue),
            "due_date": as_date(issue + terms),
            "amount": pa.array(amount),
            "currency": pa.array(np.full(n, "EUR", dtype=object), pa.string()),
            "disputed": pa.array(disputed),
        }
    )
    payments = pa.table(
        {
            "payment_id": _ids("P", m, 9),
            "debtor_id": pa.compute.take(deb_ids, pa.array(code[inv_idx])),
            "invoice_id": target,
            "paid_on": as_date(day),
            "amount": pa.array(amt),
        }
    )
    seg = np.array(["retail", "wholesale", "manufacturing", "services", "public"], dtype=object)
    ctry = np.array(["NL", "DE", "FR", "BE", "ES", "IT", "PL"], dtype=object)
    debtors_t = pa.table(
        {
            "debtor_id": deb_ids,
            "name": deb_ids,
            "segment": pa.array(seg[rng.integers(0, len(seg), debtors)], pa.string()),
            "country": pa.array(ctry[rng.integers(0, len(ctry), debtors)], pa.string()),
            "credit_limit": pa.array(np.round(np.exp(rng.normal(10, 1, debtors)), -2)),
            "onboarded_on": as_date(rng.integers(-1000, 0, debtors)),
        }
    )
    return {"invoices": invoices, "payments": payments, "debtors": debtors_t}


def write(out: Path, debtors: int, invoices_per_debtor: float, seed: int = 7) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in generate(debtors, invoices_per_debtor, seed).items():
        pq.write_table(table, out / f"{name}.parquet")


def read(folder: Path) -> dict[str, pd.DataFrame]:
    """The cached tables as canonical pandas frames (Arrow-backed strings)."""
    frames = {}
    for name in ("invoices", "payments", "debtors"):
        df = pq.read_table(folder / f"{name}.parquet").to_pandas()
        frames[name] = df
    return frames


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, required=True)
    parser.add_argument("--invoices-per-debtor", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write(args.out, args.debtors, args.invoices_per_debtor, args.seed)
    print(f"wrote {args.out}")
