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
    tables A B
        two ingested folders (`ews ingest --out`) table by table: rows, rows by key missing on
        either side, rows whose values differ, and whether the bucket files are the same bytes
    outputs WHOLE RUN...
        published `ews score` runs against the whole feed's run of the same date: feed status and
        the short-history warning, live mean PD, the PDs that differ, the top 10 of the collections
        queue and of the watchlist (same debtors in the same order?), and the files byte-identical

    writeoff RAW RUN OUT
        a year-end clean-up of the whole book (RAW) on the as-of date of the published run RUN: every
        invoice RUN reads as open (invoice_forecast's open_amount) of a debtor in default there.
        OUT/memos: written off by a credit memo each (payments gain `kind`: cash, credit) and a
        write_off event per debtor for the sum; OUT/memos_only: the memos without the events;
        OUT/deleted: the same invoices deleted, nothing else (a fall the feed does not explain)

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


def writeoff(raw: Path, run: Path, out: Path) -> None:
    book = _read(raw)
    day = run.name
    scores = pd.read_parquet(run / "scores.parquet")
    gone = set(scores.loc[scores["in_default"], "debtor_id"])
    fc = pd.read_parquet(run / "invoice_forecast.parquet")
    fc = fc[fc["debtor_id"].isin(gone) & (fc["open_amount"] > 0)]
    memos = pd.DataFrame(
        {
            "payment_id": "WO-" + fc["invoice_id"],
            "debtor_id": fc["debtor_id"],
            "invoice_id": fc["invoice_id"],
            "paid_on": day,
            "amount": fc["open_amount"].map(lambda x: f"{x:.2f}"),
            "kind": "credit",
        }
    )
    per = fc.groupby("debtor_id")["open_amount"].sum().round(2)
    events = pd.DataFrame(
        {
            "debtor_id": per.index,
            "event_date": day,
            "kind": "write_off",
            "amount": per.map(lambda x: f"{x:.2f}"),
        }
    )
    pay = book["payments"].assign(kind="cash")
    tables = {
        "memos": {**book, "payments": pd.concat([pay, memos]), "events": pd.concat([book["events"], events])},
        "memos_only": {**book, "payments": pd.concat([pay, memos])},
        "deleted": {
            **book,
            "invoices": book["invoices"][~book["invoices"].invoice_id.isin(set(fc["invoice_id"]))],
        },
    }
    for name, t in tables.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for table, frame in t.items():
            frame.to_csv(out / name / f"{table}.csv", index=False)
    print(
        f"{len(fc):,} open invoices of {len(per):,} debtors in default, {fc['open_amount'].sum():,.2f} written off"
    )


def tables(a: Path, b: Path) -> None:
    import hashlib
    import json

    import pyarrow.parquet as pq

    keys = {**KEYS, "debtors": ["debtor_id"]}
    for table, key in keys.items():
        fa = sorted((a / table).glob("bucket=*/part-0.parquet"))
        fb = sorted((b / table).glob("bucket=*/part-0.parquet"))
        if not fa or not fb:
            print(f"{table}: files {len(fa)} vs {len(fb)}")
            continue
        ta = pd.concat([pq.read_table(f).to_pandas() for f in fa]).set_index(key).sort_index()
        tb = pd.concat([pq.read_table(f).to_pandas() for f in fb]).set_index(key).sort_index()
        common = ta.index.intersection(tb.index)
        cols = [c for c in ta.columns if c in tb.columns]
        x, y = ta.loc[common, cols], tb.loc[common, cols]
        differ = int(((x != y) & ~(x.isna() & y.isna())).any(axis=1).sum())
        same = [hashlib.sha256(p.read_bytes()).digest() for p in fa] == [
            hashlib.sha256(p.read_bytes()).digest() for p in fb
        ]
        print(
            f"{table}: rows {len(ta):,} vs {len(tb):,}, only in A {len(ta.index.difference(tb.index)):,}, "
            f"only in B {len(tb.index.difference(ta.index)):,}, values differ {differ:,}, files same bytes {same}"
        )
    for name in (a, b):
        m = json.loads((name / "manifest.json").read_text())
        print(name, "history:", json.dumps(m.get("history", {}).get("tables")))


def outputs(whole: Path, runs: list[Path]) -> None:
    import hashlib
    import json

    s0 = pd.read_parquet(whole / "scores.parquet").set_index("debtor_id")
    q0 = list(pd.read_parquet(whole / "collections_queue.parquet")["debtor_id"][:10])
    w0 = pd.read_parquet(whole / "watchlist.parquet")
    top0 = list(w0.sort_values("pd", ascending=False, kind="stable")["debtor_id"][:10])
    for run in [whole, *runs]:
        m = json.loads((run / "manifest.json").read_text())
        feed = m.get("feed", {})
        s = pd.read_parquet(run / "scores.parquet").set_index("debtor_id")
        live = s[~s["in_default"]]
        both = s.index.intersection(s0.index)
        pd_differ = int((s.loc[both, "pd"] != s0.loc[both, "pd"]).sum())
        q = list(pd.read_parquet(run / "collections_queue.parquet")["debtor_id"][:10])
        w = pd.read_parquet(run / "watchlist.parquet")
        top = list(w.sort_values("pd", ascending=False, kind="stable")["debtor_id"][:10])
        files = sorted(p.name for p in whole.iterdir() if p.is_file())
        same = [
            n
            for n in files
            if (run / n).is_file()
            and hashlib.sha256((run / n).read_bytes()).digest()
            == hashlib.sha256((whole / n).read_bytes()).digest()
        ]
        warn = (feed.get("history") or {}).get("note", "")[:70]
        print(
            f"| {run.parent.name}/{run.name} | {feed.get('status')} | {warn or '-'} | {live['pd'].mean():.4f} | "
            f"{pd_differ:,} of {len(both):,} | queue top 10 {'same' if q == q0 else f'{len(set(q) & set(q0))} of 10'} | "
            f"watchlist {len(w)} top 10 {'same' if top == top0 else f'{len(set(top) & set(top0))} of 10'} | "
            f"{len(same)} of {len(files)} files identical | differ: {', '.join(sorted(set(files) - set(same)))[:200]} |"
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
    t = sub.add_parser("tables", help="two ingested folders table by table")
    t.add_argument("a", type=Path)
    t.add_argument("b", type=Path)
    w = sub.add_parser("writeoff", help="a year-end clean-up of the whole book")
    w.add_argument("raw", type=Path)
    w.add_argument("run", type=Path)
    w.add_argument("out", type=Path)
    o = sub.add_parser("outputs", help="published runs against the whole feed's run")
    o.add_argument("whole", type=Path)
    o.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args()
    if args.cmd == "feeds":
        feeds(args.raw, args.out, args.months, args.nights.split(","))
    elif args.cmd == "union":
        union(args.folders, args.whole)
    elif args.cmd == "tables":
        tables(args.a, args.b)
    elif args.cmd == "writeoff":
        writeoff(args.raw, args.run, args.out)
    else:
        outputs(args.whole, args.runs)


if __name__ == "__main__":
    main()
