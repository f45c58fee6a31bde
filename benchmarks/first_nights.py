"""s36-walk: honest nights and hostile exports judged as FIRST nights (no previous run), shipped rule
(feed_checks.first_night false) vs the candidate (true). Reuses benchmarks/feed_nights.py.

    python benchmarks/first_nights.py OUT BOOK... [--months-after 3,4,5,6,7,8] [--attacks]
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, "benchmarks")
import feed_nights as fn  # noqa: E402

from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.feed_checks import FAILED, evaluate_feed  # noqa: E402

ON = NightlyConfig()
OFF = ON.model_copy(update={"feed_checks": ON.feed_checks.model_copy(update={"first_night": False})})
MINE = ("ledger_silence_days", "invoices_hole_days", "payments_hole_days")


def first(fig, day, train, extra):
    out = {}
    for name, cfg in (("shipped", OFF), ("candidate", ON)):
        kw = (
            {
                "invoice_days": extra["book"].day_counts("invoices", "issue_date"),
                "snapshot": extra["snapshot"],
            }
            if extra.get("book") is not None
            else {}
        )
        feed = evaluate_feed(
            fig,
            cfg,
            previous=None,
            training=train,
            accept=True,
            same_ids=None,
            as_of=day.date(),
            stated=fn.stated_ratios(extra.get("debtors"), None, None),
            **kw,
        )
        out[name] = [
            (c["check"], c["against"], c["value"], c["reference"])
            for c in feed["checks"]
            if c["status"] == FAILED
        ]
        if name == "candidate":
            out["mine"] = [c for c in feed["checks"] if c["check"] in MINE]
    return out


def run_book(folder: Path, months_after, attacks):
    t0 = time.time()
    project = fn.ProjectConfig()
    res = fn.ingest_dir(folder, None)
    full = res.portfolio
    if full.invoices is None or not len(full.invoices):
        print(f"# {folder.name}: statements, skipped")
        return []
    last = full.invoices["issue_date"].max()
    last_me = (last + fn.D1).to_period("M").to_timestamp(how="start") - fn.D1
    firstd = full.invoices["issue_date"].min()
    span = (last_me.year - firstd.year) * 12 + last_me.month - firstd.month
    back = 9 if span > 26 else 7
    cut_day = (last_me - pd.DateOffset(months=back)) + pd.offsets.MonthEnd(0)
    train_p = fn.cut(full, cut_day)
    train_book = fn.Book.in_memory(train_p, fn.BUCKET_ROWS)
    snaps = fn.snapshot_dates(train_book, fn.TrainConfig())
    nights = []
    for k in months_after:
        m = cut_day + pd.offsets.MonthEnd(k)
        if m > last_me:
            continue
        nights.append((k, [m, m + fn.D1, m + 2 * fn.D1, m + 5 * fn.D1]))
    dates = sorted(set(snaps) | {d for _, ds in nights for d in ds})
    ds = fn.build_dataset(full, dates, project)
    ref = fn.training_reference(fn.tables_of(train_p), train_book, ds.loc[ds["as_of"].isin(snaps)])
    out = []
    for k, days in nights:
        for i, day in enumerate(days):
            p = fn.cut(full, day)
            book = fn.Book.in_memory(p, fn.BUCKET_ROWS)
            rows = fn.scores_at(ds, day)
            fig = fn.figures_of(fn.tables_of(p), book, rows, day, p.debtors)
            tf, snap = fn.training_figures(ref, day.date())
            train = (f"the training data (snapshot {snap})", tf)
            extra = {
                "debtors": p.debtors,
                "scores": rows,
                "book": book,
                "snapshot": fn.dt.date.fromisoformat(snap),
            }
            got = first(fig, day, train, extra)
            out.append(
                {
                    "book": folder.name,
                    "kind": "honest",
                    "months_after": k,
                    "day": day.date().isoformat(),
                    **got,
                    "lags": fig.get("lags"),
                }
            )
            if (
                attacks
                and i == 0
                and k in (months_after[1], months_after[3] if len(months_after) > 3 else months_after[-1])
            ):
                for j, name in enumerate(
                    ("month_last", "stale30", "month_mid", "inv_month_mid", "inv_trunc", "pay_trunc")
                ):
                    bad = fn.attacked(p, day, name, fn.np.random.default_rng(1000 + j))
                    with fn.tempfile.TemporaryDirectory() as tmp:
                        fn._write(bad, Path(tmp) / "raw")
                        try:
                            r2 = fn.ingest_dir(Path(tmp) / "raw", None, as_of=day.date())
                        except Exception as exc:  # noqa: BLE001
                            out.append(
                                {
                                    "book": folder.name,
                                    "kind": "attack",
                                    "attack": name,
                                    "day": day.date().isoformat(),
                                    "ingest_error": str(exc)[:200],
                                }
                            )
                            continue
                    b2 = fn.Book.in_memory(r2.portfolio, fn.BUCKET_ROWS)
                    ds2 = fn.build_dataset(r2.portfolio, [day], project)
                    rows2 = fn.scores_at(ds2, day)
                    fig2 = fn.figures_of(r2.manifest["tables"], b2, rows2, day, r2.portfolio.debtors)
                    got2 = first(
                        fig2,
                        day,
                        train,
                        {
                            "debtors": r2.portfolio.debtors,
                            "book": b2,
                            "snapshot": fn.dt.date.fromisoformat(snap),
                        },
                    )
                    out.append(
                        {
                            "book": folder.name,
                            "kind": "attack",
                            "attack": name,
                            "day": day.date().isoformat(),
                            **got2,
                            "lags": fig2.get("lags"),
                        }
                    )
    print(f"# {folder.name}: cut {cut_day.date()}, total {time.time() - t0:.0f} s", flush=True)
    return out


def names(f):
    return ", ".join(sorted({c for c, *_ in f})) or "PASSED"


def report(rows):
    df = pd.DataFrame(rows)
    for book, g in df.loc[df["kind"] == "honest"].groupby("book", sort=False):
        ship = g.loc[g["shipped"].map(len) > 0]
        cand = g.loc[g["candidate"].map(len) > 0]
        mine = g.loc[g["mine"].map(lambda cs: any(c["status"] == FAILED for c in cs))]
        print(
            f"{book:28s} honest first nights {len(g)}: shipped refused {len(ship)} ({names(sum(ship['shipped'], []))}); "
            f"candidate {len(cand)}; by the new checks {len(mine)}"
        )
        for _, r in g.iterrows():
            v = {c["check"]: (c["value"], c["reference"]) for c in r["mine"]}
            print(f"    {r['day']} {v}")
    if "attack" in df:
        for _, r in df.loc[df["kind"] == "attack"].iterrows():
            if isinstance(r.get("ingest_error"), str):
                print(f"{r['book']:28s} {r['attack']:14s} {r['day']} ingest refused")
                continue
            print(
                f"{r['book']:28s} {r['attack']:14s} {r['day']} shipped {names(r['shipped'])} | candidate {names(r['candidate'])}"
            )


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help") or len(args) < 2:
        print(__doc__)
        sys.exit(0 if args[:1] in (["-h"], ["--help"]) else 2)
    attacks = "--attacks" in args
    months = [3, 4, 5, 6, 7, 8]
    if "--months-after" in args:
        months = [int(x) for x in args[args.index("--months-after") + 1].split(",")]
        args = [a for a in args if a not in ("--months-after", args[args.index("--months-after") + 1])]
    args = [a for a in args if a != "--attacks"]
    out, books = Path(args[0]), [Path(b) for b in args[1:]]
    rows = []
    for b in books:
        rows += run_book(b, months, attacks)
        out.write_bytes(pickle.dumps(rows))
    report(rows)
