"""The defaults behind ``ews backtest``'s lead times: how many fall after the book's last observed day.

Reads a backtest's ``backtest_rows.parquet`` (``ews backtest ... --rows``) and the ingested folder the
backtest replayed; counts the distinct (debtor, first default day) pairs seen from a live month-end, those
after the book's last observed day (``pipelines.engine.Book.last_observed``: open invoices projected past
the data's end, no payment can be seen there), and per month-end the live rows with such a default.
Prints one JSON line. Before session 27 the lead times counted them all.

Session 27 (s27-ux), BENCHMARKS.md, hostile-inputs section (the README walk's 300-debtor book):

    python benchmarks/backtest_defaults.py data/backtest/backtest_rows.parquet --data data/ingested
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", type=Path, help="backtest_rows.parquet of ews backtest --rows")
    parser.add_argument("--data", type=Path, required=True, help="the ingested folder the backtest replayed")
    args = parser.parse_args()

    from pipelines.engine import Book

    until = Book.ingested(args.data).last_observed()
    rows = pd.read_parquet(args.rows)
    live = rows.loc[~rows["in_default"].astype(bool) & rows["first_default_date"].notna()]
    pairs = live.drop_duplicates(["debtor_id", "first_default_date"])
    after = pairs["first_default_date"] > pd.Timestamp(until)
    per_month = live.assign(after=live["first_default_date"] > pd.Timestamp(until)).groupby("as_of")["after"]
    print(
        json.dumps(
            {
                "last_observed": str(pd.Timestamp(until).date()),
                "defaults": int(len(pairs)),
                "after_last_observed": int(after.sum()),
                "live_rows_with_a_default": int(len(live)),
                "per_month_end_after": {str(k.date()): int(v) for k, v in per_month.sum().items()},
            }
        )
    )


if __name__ == "__main__":
    main()
