"""Rolling and partial feeds of a generated book, and what they do to the feed checks and the outputs
(BENCHMARKS.md, "Session 24 (s24-hostile)").

    feeds RAW OUT        write the feeds (canonical CSVs of `ews generate --format csv` in RAW): rolling
                         N months (invoices issued from the first day of the month N months before the
                         last, their payments, unallocated cash paid from then; debtors and events whole),
                         one with 1 / 3 mistyped issue years, one with half its debtors (--seed), and the
                         book cut at --cut (every row dated after it gone)
    checks RUN_DIR...    one line per `ews score --out` folder: published or refused, the failed checks
    shift WHOLE RUN...   each run's outputs against the whole feed's run of the same date: debtors in
                         default, live mean PD, rank correlation, watchlist, queues, expected loss
    compare A B          two published run folders file by file (bytes; frames for Parquet / CSV)

    nice python benchmarks/rolling_feeds.py feeds book/raw feeds --last 2025-12-31 --cut 2025-06-30
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd


def _read(raw: Path) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_csv(raw / f"{t}.csv", dtype=str, keep_default_na=False)
        for t in ("invoices", "payments", "debtors", "events")
    }


def _write(out: Path, tables: dict[str, pd.DataFrame]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    print(out.name, {t: len(f) for t, f in tables.items()})


def feeds(raw: Path, out: Path, last: str, months: list[int], cut: str, seed: int) -> None:
    book = _read(raw)
    inv, pay = book["invoices"], book["payments"]
    for n in months:
        start = (pd.Timestamp(last) - pd.DateOffset(months=n) + pd.Timedelta(days=1)).date().isoformat()
        i = inv[inv.issue_date >= start]
        p = pay[pay.invoice_id.isin(set(i.invoice_id)) | ((pay.invoice_id == "") & (pay.paid_on >= start))]
        _write(out / f"rolling{n}", {**book, "invoices": i, "payments": p})
        # mistyped issue years of the first invoices (by id) issued in the window's first month, days 15-31
        first = i[(i.issue_date >= start) & (i.issue_date < start[:8] + "32")].sort_values("invoice_id")
        picks = list(first[first.issue_date.str[8:] >= "15"].index[:3])
        s = i.copy()
        s.loc[picks[0], "issue_date"] = "2001" + s.loc[picks[0], "issue_date"][4:]
        _write(out / f"rolling{n}_stray1", {**book, "invoices": s, "payments": p})
        s.loc[picks[1], "issue_date"] = "2019" + s.loc[picks[1], "issue_date"][4:]
        before = (pd.Timestamp(start) - pd.DateOffset(months=8)).strftime("%Y-%m")
        s.loc[picks[2], "issue_date"] = before + s.loc[picks[2], "issue_date"][7:]
        _write(out / f"rolling{n}_stray3", {**book, "invoices": s, "payments": p})
        ids = np.sort(book["debtors"].debtor_id.unique())
        keep = set(np.random.default_rng(seed).choice(ids, size=len(ids) // 2, replace=False))
        _write(
            out / f"rolling{n}_half_debtors",
            {**book, "invoices": i[i.debtor_id.isin(keep)], "payments": p[p.debtor_id.isin(keep)]},
        )
    deb = book["debtors"]
    i = inv[inv.issue_date <= cut]
    _write(
        out / f"cut_{cut}",
        {
            "invoices": i,
            "payments": pay[pay.paid_on <= cut],
            "debtors": deb[(deb.onboarded_on <= cut) | deb.debtor_id.isin(set(i.debtor_id))],
            "events": book["events"][book["events"].event_date <= cut],
        },
    )


def checks(runs: list[Path]) -> None:
    for run in runs:
        published = sorted(p for p in run.glob("20*") if (p / "manifest.json").exists())
        rejected = sorted(run.glob(".rejected/*.feed_checks.json"))
        if rejected:
            feed, head = json.loads(rejected[-1].read_text()), "refused"
        elif published:
            feed, head = json.loads((published[-1] / "manifest.json").read_text())["feed"], "published"
        else:
            print(f"| {run} | no run |")
            continue
        failed = [
            f"{c['check']} {c['value']:,.3f} vs {c['reference']:,.3f} ({c['against'][:16]})"
            if c["reference"] is not None
            else f"{c['check']} {c['value']:.3f}"
            for c in feed["checks"]
            if c["status"] == "failed"
        ]
        fig = feed["figures"]
        print(
            f"| {run.name} | {head} | {'; '.join(failed) or '-'} | days {fig.get('days')} | span rows {fig.get('span_rows')} |"
        )


def _outputs(run: Path) -> tuple[pd.DataFrame, set, pd.DataFrame, pd.DataFrame]:
    s = pd.read_parquet(run / "scores.parquet").set_index("debtor_id")
    w = set(pd.read_parquet(run / "watchlist.parquet")["debtor_id"])
    return (
        s,
        w,
        pd.read_parquet(run / "collections_queue.parquet"),
        pd.read_parquet(run / "recovery_queue.parquet"),
    )


def shift(whole: Path, runs: list[Path]) -> None:
    s0, w0, _, _ = _outputs(whole)
    print(
        "| run | in default | their open balance | live mean PD | live PD rank corr. vs whole | watchlist (in whole's) | queue rows | queue expected loss | recovery rows |"
    )
    for run in [whole, *runs]:
        s, w, q, r = _outputs(run)
        live = s[~s["in_default"]]
        both = live.index.intersection(s0[~s0["in_default"]].index)
        rho = live.loc[both, "pd"].rank().corr(s0.loc[both, "pd"].rank())
        owed = s.loc[s["in_default"], "exposure"].sum()
        print(
            f"| {run.parent.name}/{run.name} | {int(s['in_default'].sum())} | {owed:,.0f} | {live['pd'].mean():.4f} | "
            f"{rho:.3f} | {len(w)} ({len(w & w0)}) | {len(q):,} | {q['expected_loss'].sum():,.0f} | {len(r)} |"
        )


def compare(a: Path, b: Path) -> None:
    names = sorted(
        {p.name for p in a.iterdir() if p.is_file()} | {p.name for p in b.iterdir() if p.is_file()}
    )
    for n in names:
        if not (a / n).exists() or not (b / n).exists():
            print(f"{n}: only in {'A' if (a / n).exists() else 'B'}")
            continue
        same = hashlib.sha256((a / n).read_bytes()).digest() == hashlib.sha256((b / n).read_bytes()).digest()
        print(f"{n}: {'identical' if same else 'DIFFERS'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("feeds", help="write the feeds")
    f.add_argument("raw", type=Path)
    f.add_argument("out", type=Path)
    f.add_argument("--last", required=True, help="the book's last day, e.g. 2025-12-31")
    f.add_argument("--months", default="3,6,12")
    f.add_argument("--cut", required=True, help="the date of the cut feed, e.g. 2025-06-30")
    f.add_argument("--seed", type=int, default=2401)
    c = sub.add_parser("checks", help="feed check outcome per run folder")
    c.add_argument("runs", type=Path, nargs="+")
    s = sub.add_parser("shift", help="outputs against the whole feed's run")
    s.add_argument("whole", type=Path)
    s.add_argument("runs", type=Path, nargs="+")
    m = sub.add_parser("compare", help="two run folders file by file")
    m.add_argument("a", type=Path)
    m.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "feeds":
        feeds(args.raw, args.out, args.last, [int(x) for x in args.months.split(",")], args.cut, args.seed)
    elif args.cmd == "checks":
        checks(args.runs)
    elif args.cmd == "shift":
        shift(args.whole, args.runs)
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()
