"""The collections queue's order in runs without a PD model, measured on past month-ends (s42-pdless).

A book too small to train (``ews score`` without a PD model, ``pipelines.scoring.nomodel``) ranks its live
collections queue by days past due, then the overdue amount. This replays the nightly's queue at each
month-end of ingested books (``pipelines.backtest.replay``: features as of T, live = not in default,
queue = overdue > ``queue.min_overdue``, the nightly's days past due) and measures, per order, the share of
the open balance at T of the queue's debtors that defaulted within the horizon (the nightly's label: a
first default in (T, T + 90]) held by the top 20 % of the queue (``ews backtest``'s ``*_capture_top20``),
pooled over the month-ends with an observed horizon. No PD is read: the replay's scorer returns 0.

Orders (ties by debtor_id; the rule is in /work/notes/s42-pdless.md, written before any figure):

- ``T``: days past due desc, then overdue amount desc (today's PD-less order, ``dpd_capture_top20``);
- ``O``: overdue amount desc;
- ``DO``: days past due x overdue amount desc;
- ``P``: overdue amount x (1 + dpd / ``queue.dpd_weight_days``) desc;
- ``B``: days-past-due bucket (0-29, 30-59, 60-89, 90+) desc, then overdue amount desc.

Paired intervals: debtor bootstrap within each book (every month-end of a drawn debtor), ``--boot`` draws.

    nice .venv/bin/python benchmarks/pdless_queue.py panel --data ING --start 2023-07-31 --end 2025-12-31 --out P
    nice .venv/bin/python benchmarks/pdless_queue.py table P1.parquet P2.parquet ... [--boot 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

ORDERS = ("T", "O", "DO", "P", "B")
TOP_SHARE = 0.2
BUCKETS = (30, 60, 90)


def build_panel(args: argparse.Namespace) -> None:
    from pipelines.adapters.files import read_portfolio
    from pipelines.backtest import month_end_dates, replay
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig

    t0 = time.perf_counter()
    cfg = load_config(args.config, expect=NightlyConfig)
    project = load_config(cfg.project, expect=ProjectConfig)
    definition = project.default_definition.to_params()
    dates = month_end_dates(dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end))
    portfolio = read_portfolio(args.data)

    def no_pd(live: pd.DataFrame) -> pd.Series:
        return pd.Series(0.0, index=live["debtor_id"].astype("string").to_numpy())

    panel = replay(portfolio, dates, no_pd, cfg, definition, cfg.partition_rows)
    panel.attrs = {}
    out = Path(args.out)
    panel.to_parquet(out, index=False)
    print(f"{out}: {len(panel):,} rows, {len(dates)} month-ends, {time.perf_counter() - t0:.1f} s")


def queue_rows(panel: pd.DataFrame, min_overdue: float = 0.0) -> pd.DataFrame:
    """The live collections queue at each month-end with an observed horizon, with ``bad_balance``."""
    p = panel.loc[panel["horizon_observed"] & ~panel["in_default"]].copy()
    p = p.loc[p["overdue_amount"].fillna(0.0) > min_overdue]
    p["dpd"] = p["dpd"].fillna(0.0).astype("float64")
    p["overdue_amount"] = p["overdue_amount"].astype("float64")
    p["bad_balance"] = np.where(p["label"].fillna(0).astype(int) == 1, p["open_balance"].clip(lower=0), 0.0)
    return p


def order_key(q: pd.DataFrame, order: str, weight_days: float = 90.0) -> tuple[list[str], pd.DataFrame]:
    """Sort columns (all descending) for ``order``; the frame gets the helper columns it needs."""
    if order == "T":
        return ["dpd", "overdue_amount"], q
    if order == "O":
        return ["overdue_amount"], q
    if order == "DO":
        return ["_k"], q.assign(_k=q["dpd"] * q["overdue_amount"])
    if order == "P":
        return ["_k"], q.assign(_k=q["overdue_amount"] * (1.0 + q["dpd"] / weight_days))
    if order == "B":
        bucket = np.searchsorted(np.array(BUCKETS, dtype="float64"), q["dpd"].to_numpy(), side="right")
        return ["_b", "overdue_amount"], q.assign(_b=bucket)
    raise ValueError(order)


def top_flags(q: pd.DataFrame, order: str) -> pd.Series:
    """True for the rows in the top 20 % (ceil) of each month-end's queue in ``order``."""
    key, frame = order_key(q, order)
    ranked = frame.sort_values(
        ["as_of", *key, "debtor_id"], ascending=[True] + [False] * len(key) + [True], kind="stable"
    )
    pos = ranked.groupby("as_of").cumcount()
    size = ranked.groupby("as_of")["debtor_id"].transform("size")
    top = pos < np.ceil(TOP_SHARE * size - 1e-9)
    return top.reindex(q.index)


def book_table(q: pd.DataFrame) -> dict[str, object]:
    flags = {o: top_flags(q, o).to_numpy() for o in ORDERS}
    bad = q["bad_balance"].to_numpy()
    total = float(bad.sum())
    row: dict[str, object] = {
        "month_ends": int(q["as_of"].nunique()),
        "queue_rows": len(q),
        "bad_debtors": int(q.loc[q["bad_balance"] > 0, "debtor_id"].nunique()),
        "bad_rows": int((bad > 0).sum()),
        "bad_balance": total,
    }
    for o in ORDERS:
        row[f"{o}_caught"] = float(bad[flags[o]].sum())
        row[o] = row[f"{o}_caught"] / total if total else None
    return row


def boot_parts(q: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, 1 + len(ORDERS)): bad balance, then caught per order, of each debtor-bootstrap draw."""
    flags = {o: top_flags(q, o).to_numpy() for o in ORDERS}
    bad = q["bad_balance"].to_numpy()
    codes, ids = pd.factorize(q["debtor_id"])
    per = np.zeros((len(ids), 1 + len(ORDERS)))
    np.add.at(per[:, 0], codes, bad)
    for j, o in enumerate(ORDERS):
        np.add.at(per[:, 1 + j], codes, np.where(flags[o], bad, 0.0))
    out = np.zeros((n_boot, per.shape[1]))
    for b in range(n_boot):
        draw = rng.integers(0, len(ids), len(ids))
        out[b] = per[draw].sum(axis=0)
    return out


def table(args: argparse.Namespace) -> None:
    rows, boots = [], []
    rng = np.random.default_rng(args.seed)
    for path in args.panels:
        panel = pd.read_parquet(path)
        q = queue_rows(panel)
        row = {"book": Path(path).stem, **book_table(q)}
        rows.append(row)
        if args.boot:
            boots.append(boot_parts(q, args.boot, rng))
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    show = frame[["book", "month_ends", "queue_rows", "bad_debtors", "bad_rows", "bad_balance", *ORDERS]]
    print(show.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    total = frame["bad_balance"].sum()
    pooled = {o: float(frame[f"{o}_caught"].sum() / total) for o in ORDERS}
    judged = frame.loc[frame["bad_debtors"] >= 3]
    result: dict[str, object] = {"books": len(frame), "judged_books": len(judged), "pooled": pooled}
    print(
        f"\npooled over {len(frame)} books (bad balance {total:,.0f}): "
        + ", ".join(f"{o} {pooled[o]:.3f}" for o in ORDERS)
    )
    print(f"books with >= 3 defaulted queue debtors: {len(judged)} ({', '.join(judged['book'])})")
    both = np.sum(boots, axis=0) if boots else None
    verdicts = {}
    for j, o in enumerate(ORDERS):
        if o == "T":
            continue
        diffs = (judged[o] - judged["T"]).astype("float64")
        entry: dict[str, object] = {
            "pooled_diff": pooled[o] - pooled["T"],
            "mean_book_diff": float(diffs.mean()) if len(diffs) else None,
            "books_better": int((diffs > 0).sum()),
            "books_worse_by_0.05": int((diffs < -0.05).sum()),
        }
        if both is not None:
            d = (both[:, 1 + j] - both[:, 1]) / both[:, 0]
            entry["pooled_diff_ci95"] = [float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))]
        q1 = entry["pooled_diff"] >= 0.05 and (
            "pooled_diff_ci95" not in entry or entry["pooled_diff_ci95"][0] > 0
        )
        q2 = entry["mean_book_diff"] is not None and entry["mean_book_diff"] > 0
        q3 = entry["books_worse_by_0.05"] <= 2
        entry.update(Q1=bool(q1), Q2=bool(q2), Q3=bool(q3), met=bool(q1 and q2 and q3))
        verdicts[o] = entry
        ci = entry.get("pooled_diff_ci95")
        print(
            f"{o} - T: pooled {entry['pooled_diff']:+.3f}"
            + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
            + f", mean per book {entry['mean_book_diff']:+.3f}, better on {entry['books_better']} of "
            f"{len(judged)}, worse by > 0.05 on {entry['books_worse_by_0.05']}: Q1 {q1} Q2 {q2} Q3 {q3}"
        )
    result["candidates"] = verdicts
    result["per_book"] = frame.drop(columns=[f"{o}_caught" for o in ORDERS]).to_dict(orient="records")
    print(json.dumps(result, default=float))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("panel")
    p.add_argument("--data", required=True)
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=str(ROOT / "conf" / "nightly.yaml"))
    t = sub.add_parser("table")
    t.add_argument("panels", nargs="+")
    t.add_argument("--boot", type=int, default=1000)
    t.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    build_panel(args) if args.cmd == "panel" else table(args)


if __name__ == "__main__":
    main()
