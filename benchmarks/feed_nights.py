"""The feed checks night by night on honest books and on hostile feeds (BENCHMARKS.md, "Session 35
(s35-feed)").

    python benchmarks/feed_nights.py OUT BOOK [BOOK ...] [--attacks] [--months-after 3,4,5,6]

BOOK: a folder of canonical tables (``ews generate --out``, ``benchmarks/unseen_book.py``,
``benchmarks/third_book.py``). The whole book is ingested once (``ingest_dir``, in memory); the
training export is the ledger cut at C, 9 months before the last month-end of the book (7 for a
book of 24 months or less): its feed reference is ``training_reference`` over the training flow's
snapshot dates (``snapshot_dates``). Each night D's export is the ledger cut at D (rows dated after D
left out; the debtors file whole), its figures ``feed_figures`` as the nightly computes them, the
features of D the training dataset's (``build_dataset``: point in time, so one build over the whole
book serves every date). Nights: the month-ends C + 3..6 months as a first night into a new output
folder (the training data the only reference), then D + 1 and D + 2 days each with the night before as
the previous run (as if it had been published). ``evaluate_feed`` with ``accept=True``: the failed
checks are read, nothing raised. An honest export's rows are all accepted here (the whole book's
ingest quarantine is printed: 0 rows on these simulators).

``--attacks``: on the first night of C + 4 months, hostile exports (:data:`ATTACKS`) written as
Parquet and ingested for real (``ingest_dir`` with the night's as-of date), their features built,
judged as a first night and as a second night after the honest night before.

Writes OUT (a pickle: one row per night or attack) and prints the refused nights per check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.tables import Portfolio
from pipelines.adapters.files import DATE_COLUMNS
from pipelines.config.nightly import NightlyConfig
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.engine import BUCKET_ROWS, Book
from pipelines.feed_checks import (
    FAILED,
    evaluate_feed,
    feed_figures,
    recent_amounts,
    recent_invoices,
    recent_ratios,
    same_ids,
    stated_ratios,
    table_lags,
    table_spans,
    training_figures,
    training_reference,
)
from pipelines.flows.train import build_dataset, snapshot_dates
from pipelines.ingest import ingest_dir

OWN = "invoice_days" in inspect.signature(evaluate_feed).parameters

D1 = pd.Timedelta(days=1)


def cut(p: Portfolio, day: pd.Timestamp) -> Portfolio:
    """The ledger as an export on ``day`` holds it: rows dated after it left out."""
    out = {}
    for name, frame in p.present().items():
        col = DATE_COLUMNS.get(name)
        out[name] = frame.loc[frame[col] <= day].reset_index(drop=True) if col and col in frame else frame
    return Portfolio(**out)


def tables_of(p: Portfolio) -> dict:
    """An ingest manifest's ``tables`` for an export whose rows are all accepted."""
    return {
        n: {
            "rows_in": len(f),
            "rows_accepted": len(f),
            "rows_quarantined": 0,
            "reasons": {},
            "input": f"{n}.parquet",
        }
        for n, f in p.present().items()
    }


def scores_at(ds: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    rows = ds.loc[ds["as_of"] == day]
    return rows.rename(columns={"in_default_at_asof": "in_default"}).reset_index(drop=True)


def figures_of(tables: dict, book: Book, rows: pd.DataFrame, day: pd.Timestamp, debtors: pd.DataFrame | None):
    return feed_figures(
        tables,
        book,
        rows,
        recent_invoices(rows),
        table_spans(book, day.date()),
        None,
        recent_amounts(rows),
        table_lags(book, day.date()),
        debtors,
        recent_ratios(rows),
    )


def judge(fig, cfg, day, train, prev=None, extra=None):
    """Failed checks of one night: [(check, against, value, reference)] and the feed section."""
    previous, same, stated = None, None, stated_ratios(extra.get("debtors") if extra else None, None, None)
    if prev is not None:
        previous = (f"the previous run {prev['day'].date()}", prev["figures"])
        same = same_ids(prev["scores"], extra["scores"])
        stated = stated_ratios(extra.get("debtors"), prev["scores"], prev["figures"])
    kw = {}
    if OWN and extra and extra.get("book") is not None and train is not None:  # the candidate of s35-feed
        kw = {
            "invoice_days": extra["book"].day_counts("invoices", "issue_date"),
            "snapshot": extra["snapshot"],
        }

    def run(**more):
        feed = evaluate_feed(
            fig,
            cfg,
            previous=previous,
            training=train,
            accept=True,
            same_ids=same,
            as_of=day.date(),
            stated=stated,
            **more,
        )
        return feed, [
            (c["check"], c["against"], c["value"], c["reference"])
            for c in feed["checks"]
            if c["status"] == FAILED
        ]

    feed, failed = run(**kw)
    if kw:  # the shipped rule on the same night: the candidate without today's export's own months
        feed["shipped_failed"] = run()[1]
    return failed, feed


def _write(p: Portfolio, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, f in p.present().items():
        f.to_parquet(folder / f"{n}.parquet", index=False)


def attacked(p: Portfolio, day: pd.Timestamp, name: str, rng: np.random.Generator) -> Portfolio:
    """The night's honest export ``p`` attacked (see :data:`ATTACKS`)."""
    inv, pay = p.invoices, p.payments
    tabs = p.present()
    if name == "inv_trunc":  # the invoices file cut off half-way (rows in date order)
        tabs["invoices"] = inv.sort_values("issue_date", kind="stable").iloc[: len(inv) // 2]
    elif name == "pay_trunc":
        tabs["payments"] = pay.sort_values("paid_on", kind="stable").iloc[: len(pay) // 2]
    elif name == "month_last":  # the last 30 days' invoices and payments missing
        tabs["invoices"] = inv.loc[inv["issue_date"] <= day - 30 * D1]
        tabs["payments"] = pay.loc[pay["paid_on"] <= day - 30 * D1]
    elif name == "month_mid":  # the invoices and payments of (D-60, D-30] missing
        lo, hi = day - 60 * D1, day - 30 * D1
        tabs["invoices"] = inv.loc[~((inv["issue_date"] > lo) & (inv["issue_date"] <= hi))]
        tabs["payments"] = pay.loc[~((pay["paid_on"] > lo) & (pay["paid_on"] <= hi))]
    elif name == "inv_month_mid":  # the invoices alone of (D-60, D-30] missing
        lo, hi = day - 60 * D1, day - 30 * D1
        tabs["invoices"] = inv.loc[~((inv["issue_date"] > lo) & (inv["issue_date"] <= hi))]
    elif name == "inv_half":  # a random half of the invoices missing
        tabs["invoices"] = inv.loc[rng.random(len(inv)) < 0.5]
    elif name == "inv_half_recent":  # half of the last 90 days' invoices missing
        recent = (inv["issue_date"] > day - 90 * D1).to_numpy()
        tabs["invoices"] = inv.loc[~recent | (rng.random(len(inv)) < 0.5)]
    elif name == "debtors_half":  # half the debtors gone from every table
        ids = p.debtors["debtor_id"] if p.debtors is not None else inv["debtor_id"].drop_duplicates()
        keep = set(ids[rng.random(len(ids)) < 0.5])
        tabs = {n: f.loc[f["debtor_id"].isin(keep)] if "debtor_id" in f else f for n, f in tabs.items()}
    elif name == "pay_noref":  # payments without their invoice reference
        tabs["payments"] = pay.assign(invoice_id=pd.Series(pd.NA, index=pay.index, dtype="string"))
    elif name == "pay_empty":
        tabs["payments"] = pay.iloc[:0]
    elif name == "inv_dup":  # the invoices file sent twice (appended to itself)
        tabs["invoices"] = pd.concat([inv, inv], ignore_index=True)
    elif name == "pay_dup":
        tabs["payments"] = pd.concat([pay, pay], ignore_index=True)
    elif name == "stale30":  # last month's export sent again
        tabs = cut(p, day - 30 * D1).present()
    elif name == "inv_cents":
        tabs["invoices"] = inv.assign(amount=inv["amount"] * 100)
    else:
        raise ValueError(name)
    return Portfolio(**{n: f.reset_index(drop=True) for n, f in tabs.items()})


ATTACKS = (
    "inv_trunc",
    "pay_trunc",
    "month_last",
    "month_mid",
    "inv_month_mid",
    "inv_half",
    "inv_half_recent",
    "debtors_half",
    "pay_noref",
    "pay_empty",
    "inv_dup",
    "pay_dup",
    "stale30",
    "inv_cents",
)
STATEMENT_ATTACKS = ("debtors_half", "stale30")


def attack_night(p, day, name, cfg, train, prev, project, seed, snap):
    """A hostile export of ``day`` ingested for real; failed checks as a first and a second night."""
    bad = attacked(p, day, name, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        _write(bad, Path(tmp) / "raw")
        try:
            res = ingest_dir(Path(tmp) / "raw", None, as_of=day.date())
        except Exception as exc:  # noqa: BLE001 - an ingest refusal is a catch too
            return {"ingest_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    book = Book.in_memory(res.portfolio, BUCKET_ROWS)
    tables = res.manifest["tables"]
    if not any(tables.get(t, {}).get("rows_accepted") for t in ("invoices", "statements")):
        return {"ingest_error": "validate: no accepted invoices or statements"}
    ds = build_dataset(res.portfolio, [day], project)
    rows = scores_at(ds, day)
    fig = figures_of(tables, book, rows, day, res.portfolio.debtors)
    extra = {"debtors": res.portfolio.debtors, "scores": rows, "book": book, "snapshot": snap}
    first, f1 = judge(fig, cfg, day, train, None, extra)
    second, f2 = judge(fig, cfg, day, train, prev, extra)
    return {
        "first": first,
        "second": second,
        "first_shipped": f1.get("shipped_failed", first),
        "second_shipped": f2.get("shipped_failed", second),
        "first_checks": f1["checks"],
    }


def run_book(folder: Path, months_after: list[int], attacks: bool) -> list[dict]:
    t0 = time.time()
    project, cfg = ProjectConfig(), NightlyConfig()
    res = ingest_dir(folder, None)
    quarantined = {n: int(t["rows_quarantined"]) for n, t in res.manifest["tables"].items()}
    full = res.portfolio
    ledger = "invoices" if full.invoices is not None and len(full.invoices) else "statements"
    last = getattr(full, ledger)[DATE_COLUMNS[ledger]].max()
    last_me = (last + D1).to_period("M").to_timestamp(how="start") - D1  # last whole month-end
    first = getattr(full, ledger)[DATE_COLUMNS[ledger]].min()
    span_months = (last_me.year - first.year) * 12 + last_me.month - first.month
    back = 9 if span_months > 26 else 7
    cut_day = (last_me - pd.DateOffset(months=back)) + pd.offsets.MonthEnd(0)
    train_p = cut(full, cut_day)
    train_book = Book.in_memory(train_p, BUCKET_ROWS)
    snaps = snapshot_dates(train_book, TrainConfig())
    nights = []
    for k in months_after:
        m = cut_day + pd.offsets.MonthEnd(k)
        if m > last_me:
            continue
        nights.append((k, [m, m + D1, m + 2 * D1]))
    dates = sorted(set(snaps) | {d for _, ds in nights for d in ds})
    ds = build_dataset(full, dates, project)
    ref = training_reference(tables_of(train_p), train_book, ds.loc[ds["as_of"].isin(snaps)])
    t_build = time.time() - t0
    out = []
    for k, days in nights:
        prev = None
        for i, day in enumerate(days):
            p = cut(full, day)
            book = Book.in_memory(p, BUCKET_ROWS)
            rows = scores_at(ds, day)
            fig = figures_of(tables_of(p), book, rows, day, p.debtors)
            tf, snap = training_figures(ref, day.date())
            train = (f"the training data (snapshot {snap})", tf)
            extra = {
                "debtors": p.debtors,
                "scores": rows,
                "book": book,
                "snapshot": dt.date.fromisoformat(snap),
            }
            failed, feed = judge(fig, cfg, day, train, prev, extra)
            out.append(
                {
                    "book": folder.name,
                    "kind": "honest",
                    "months_after": k,
                    "night": i + 1,
                    "day": day.date().isoformat(),
                    "failed": failed,
                    "figures": fig,
                    "train": tf,
                    "snapshot": snap,
                    "notes": feed.get("note", ""),
                    "judged": feed.get("judged"),
                    "shipped_failed": feed.get("shipped_failed", failed),
                    "checks": feed["checks"],
                }
            )
            prev = {"day": day, "figures": feed["figures"], "scores": rows}
            if attacks and k == months_after[1] and i == 0:
                honest_prev = {
                    "day": day - D1,
                    "figures": figures_of(
                        tables_of(cut(full, day - D1)),
                        Book.in_memory(cut(full, day - D1), BUCKET_ROWS),
                        scores_at(build_dataset(full, [day - D1], project), day - D1),
                        day - D1,
                        full.debtors,
                    ),
                    "scores": scores_at(build_dataset(full, [day - D1], project), day - D1),
                }
                for j, name in enumerate(ATTACKS if ledger == "invoices" else STATEMENT_ATTACKS):
                    got = attack_night(
                        p, day, name, cfg, train, honest_prev, project, 1000 + j, dt.date.fromisoformat(snap)
                    )
                    out.append(
                        {
                            "book": folder.name,
                            "kind": "attack",
                            "attack": name,
                            "day": day.date().isoformat(),
                            **got,
                        }
                    )
    print(
        f"# {folder.name}: ledger {ledger}, cut {cut_day.date()}, {len(snaps)} training snapshots, "
        f"whole-book quarantine {quarantined}, build {t_build:.0f} s, total {time.time() - t0:.0f} s",
        flush=True,
    )
    return out


def _names(failed: list, marks: bool = False) -> str:
    if not marks:
        return ", ".join(sorted({c for c, *_ in failed})) or "PASSED"
    return (
        ", ".join(sorted({f"{c}({'p' if a.startswith('the previous') else 't'})" for c, a, *_ in failed}))
        or "PASSED"
    )


def report(rows: list[dict]) -> None:
    """Per book and night kind: nights refused by the shipped rule and by the candidate, with the checks
    that refused; per attack: the checks that refused it (first night / second night)."""
    df = pd.DataFrame(rows)
    honest = df.loc[df["kind"] == "honest"]
    for book, g in honest.groupby("book", sort=False):
        for night in (1, 2, 3):
            n = g.loc[g["night"] == night]
            ship = n.loc[n["shipped_failed"].map(len) > 0]
            cand = n.loc[n["failed"].map(len) > 0]
            print(
                f"{book:28s} night {night}: shipped {len(ship)} of {len(n)} refused ({_names(sum(ship['shipped_failed'], []), True)}); "
                f"candidate {len(cand)} ({_names(sum(cand['failed'], []), True)}); judged by own months {int(n['judged'].notna().sum())}"
            )
    att = df.loc[df["kind"] == "attack"] if "attack" in df else df.iloc[:0]
    for _, r in att.iterrows():
        if isinstance(r.get("ingest_error"), str):
            print(f"{r['book']:28s} {r['attack']:16s} ingest/validate refused: {r['ingest_error'][:100]}")
            continue
        print(
            f"{r['book']:28s} {r['attack']:16s} first: shipped {_names(r['first_shipped'])} / candidate {_names(r['first'])} | "
            f"second: shipped {_names(r['second_shipped'], True)} / candidate {_names(r['second'], True)}"
        )


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("books", type=Path, nargs="+")
    ap.add_argument("--attacks", action="store_true")
    ap.add_argument("--months-after", default="3,4,5,6")
    a = ap.parse_args(argv)
    months = [int(x) for x in a.months_after.split(",")]
    rows: list[dict] = []
    for book in a.books:
        rows += run_book(book, months, a.attacks)
        a.out.write_bytes(pickle.dumps(rows))
    report(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
