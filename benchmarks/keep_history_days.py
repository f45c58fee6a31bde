"""`ews ingest --keep-history` fed a rolling export of the last N days (the window moves every night), as an
ERP's "last 365 days" export is (BENCHMARKS.md, hostile inputs, "Session 25 (s25-review)").

    keep_history_days.py BOOK OUT FIRST_NIGHT LAST_NIGHT [--days 365]

BOOK: a folder of canonical CSVs (`ews generate --format csv`: invoices, payments, debtors, events). Night 0
(FIRST_NIGHT - 1 day) ingests the whole ledger up to it into OUT/hist; then one export a night (OUT/feeds/DATE):
the invoices issued in the last N days plus older ones still open, the payments paid in the window, the events
in it, the debtors whole, each ingested with --keep-history. At the end: the kept history against the book cut
at the last night (rows missing, by month and day).

    python benchmarks/keep_history_days.py book out 2024-04-05 2024-04-18
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

TABLES = ("invoices", "payments", "debtors", "events")


def export(book: dict[str, pd.DataFrame], night: str, start: str | None) -> dict[str, pd.DataFrame]:
    """The ledger as known on ``night``: whole (``start`` None) or the rolling window from ``start``."""
    inv = book["invoices"][book["invoices"].issue_date <= night]
    pay = book["payments"][book["payments"].paid_on <= night]
    ev = book["events"][book["events"].event_date <= night]
    if start is None:
        return {"invoices": inv, "payments": pay, "events": ev, "debtors": book["debtors"]}
    paid = pay.amount.astype("float64").groupby(pay.invoice_id.astype(object)).sum().to_dict()
    old = inv[inv.issue_date < start]
    got = old.invoice_id.astype(object).map(paid).astype("float64").fillna(0.0).to_numpy()
    still_open = old.amount.astype("float64").to_numpy() - got > 0.005
    return {
        "invoices": pd.concat([old[still_open], inv[inv.issue_date >= start]]),
        "payments": pay[pay.paid_on >= start],
        "events": ev[ev.event_date >= start],
        "debtors": book["debtors"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("book", type=Path, help="folder of canonical CSVs")
    ap.add_argument("out", type=Path, help="work folder (feeds/ and hist/)")
    ap.add_argument("first", help="first night of the rolling exports (YYYY-MM-DD)")
    ap.add_argument("last", help="last night (YYYY-MM-DD)")
    ap.add_argument("--days", type=int, default=365, help="the window's length in days (default 365)")
    a = ap.parse_args()
    from pipelines.adapters.files import read_portfolio
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    book = {t: pd.read_csv(a.book / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}
    first, last = pd.Timestamp(a.first), pd.Timestamp(a.last)
    nights = [first - pd.Timedelta(days=1), *pd.date_range(first, last)]
    for i, n in enumerate(nights):
        night = n.date().isoformat()
        start = None if i == 0 else (n - pd.Timedelta(days=a.days - 1)).date().isoformat()
        folder = a.out / "feeds" / night
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for t, f in export(book, night, start).items():
            if t == "events" and not len(f):
                continue
            f.to_csv(folder / f"{t}.csv", index=False)
            files[t] = folder / f"{t}.csv"
        t0 = time.time()
        try:
            res = ingest_files(
                files,
                a.out / "hist",
                as_of=n.date(),
                settings=RulesConfig(data_docs=False),
                keep_history=True,
            )
            kept = res.manifest.get("history", {}).get("tables", {})
            counts = {t: (c["removed"], c["rows"]) for t, c in kept.items()}
            print(
                night,
                f"window from {start}",
                "(removed, rows):",
                counts,
                f"{time.time() - t0:.0f}s",
                flush=True,
            )
        except Exception as exc:  # a refusal is a finding: print it and go on
            print(night, "REFUSED/ERROR", type(exc).__name__, str(exc)[:300], flush=True)
    p = read_portfolio(a.out / "hist")
    cut = last.date().isoformat()
    for t, key, date in (("invoices", "invoice_id", "issue_date"), ("payments", "payment_id", "paid_on")):
        want = book[t][book[t][date] <= cut]
        got = set(getattr(p, t)[key].astype(str))
        miss = want[~want[key].isin(got)]
        print(
            f"{t}: book {len(want):,}, history {len(got):,}, missing {len(miss):,}",
            "by month:",
            miss[date].str[:7].value_counts().sort_index().to_dict(),
            "by day:",
            miss[date].value_counts().sort_index().head(20).to_dict(),
        )


if __name__ == "__main__":
    main()
