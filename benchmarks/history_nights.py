"""Rolling exports of a generated book night after night, as an ERP sends them, for `ews ingest
--keep-history` (BENCHMARKS.md, "Session 25 (s25-history)").

    feeds RAW OUT --months N --nights D1,D2,...
        for each night D: the ledger as the ERP knew it on D (nothing dated after D), exported as a
        rolling window of N months: the invoices issued from the first day of the month N months
        before D's month ends, plus the invoices issued before it still open on D (their allocated
        payments by D below the amount: the open items), every payment paid in the window (of any
        invoice), the events dated in the window, the debtors file whole. OUT/D/{invoices,
        payments, events, debtors}.csv, the raw cells copied as they are.
    union OUT/D... WHOLE
        rows of the exports together (by id) against the whole book cut at the last night: the rows
        missing from the union and the rows whose cells differ

    python benchmarks/history_nights.py feeds book/raw nights12 --months 12 --nights 2024-12-31,2025-12-31
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

KEYS = {"invoices": ["invoice_id"], "payments": ["payment_id"], "events": ["debtor_id", "event_date", "kind"]}


def _read(raw: Path) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_csv(raw / f"{t}.csv", dtype=str, keep_default_na=False)
        for t in ("invoices", "payments", "debtors", "events")
    }


def export(book: dict[str, pd.DataFrame], night: str, months: int) -> dict[str, pd.DataFrame]:
    """The rolling export of ``night`` (see the module docstring)."""
    end = pd.Timestamp(night)
    start = (end.to_period("M") - (months - 1)).to_timestamp().date().isoformat()
    inv = book["invoices"][book["invoices"].issue_date <= night]
    pay = book["payments"][book["payments"].paid_on <= night]
    paid = pay.amount.astype("float64").groupby(pay.invoice_id.astype(object)).sum().to_dict()
    old = inv[inv.issue_date < start]
    got = old.invoice_id.astype(object).map(paid).astype("float64").fillna(0.0).to_numpy()
    still_open = old.amount.astype("float64").to_numpy() - got > 0.005
    ev = book["events"]
    return {
        "invoices": pd.concat([old[still_open], inv[inv.issue_date >= start]]),
        "payments": pay[pay.paid_on >= start],
        "events": ev[(ev.event_date >= start) & (ev.event_date <= night)],
        "debtors": book["debtors"],
    }


def feeds(raw: Path, out: Path, months: int, nights: list[str]) -> None:
    book = _read(raw)
    for night in nights:
        tables = export(book, night, months)
        folder = out / night
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False)
        print(night, {t: len(f) for t, f in tables.items()})


def union(folders: list[Path], whole: Path) -> None:
    last = max(f.name for f in folders)
    book = _read(whole)
    for table, key in KEYS.items():
        parts = [pd.read_csv(f / f"{table}.csv", dtype=str, keep_default_na=False) for f in sorted(folders)]
        seen = pd.concat(parts).drop_duplicates(key, keep="last").set_index(key).sort_index()
        date = {"invoices": "issue_date", "payments": "paid_on", "events": "event_date"}[table]
        want = book[table][book[table][date] <= last].set_index(key).sort_index()
        missing = want.index.difference(seen.index)
        common = want.index.intersection(seen.index)
        differ = (want.loc[common] != seen.loc[common, want.columns]).any(axis=1).sum()
        print(
            f"{table}: whole {len(want):,}, union {len(seen):,}, missing {len(missing):,}, cells differ {differ:,}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("feeds", help="write the nightly rolling exports")
    f.add_argument("raw", type=Path)
    f.add_argument("out", type=Path)
    f.add_argument("--months", type=int, required=True)
    f.add_argument("--nights", required=True, help="comma-separated YYYY-MM-DD")
    u = sub.add_parser("union", help="the exports together against the whole book")
    u.add_argument("folders", type=Path, nargs="+")
    u.add_argument("whole", type=Path)
    args = ap.parse_args()
    if args.cmd == "feeds":
        feeds(args.raw, args.out, args.months, args.nights.split(","))
    else:
        union(args.folders, args.whole)


if __name__ == "__main__":
    main()
