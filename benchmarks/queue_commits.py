"""The same book's queue and watchlist under two commits, paired (session 19, issue 11 part 5).

    nice python benchmarks/queue_commits.py NEW_BT OLD_BT [NEW_BT OLD_BT ...] [--reps 400] [--json out.json]

Each argument pair is two ``ews backtest --compare-keys --rows --out BT`` folders of one book (the same
generated data, ingested, trained and replayed by each commit). Per pair, on the month-ends with an
observed horizon: ``queue_capture_top20`` with the key each version chose (``settings.queue_key``),
computed as ``benchmarks/queue_key.py`` does (checked against ``backtest.json``), the watchlist's
precision and recall (flagged live debtor-months, as ``pipelines.backtest``), and new - old with 95 %
intervals from a Poisson bootstrap of debtors: one weight per debtor shared by both commits and every
month-end (paired). Lead times are not bootstrapped (read them from ``backtest.json``). Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _side(folder: Path) -> dict:
    from models.queue_key import blended_pd, queue_orders
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    meta = json.loads((folder / "backtest.json").read_text())
    key = meta["settings"].get("queue_key", "pd")
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows = rows.assign(debtor_id=rows["debtor_id"].astype("string"))
    qc = QueueConfig()
    live = rows.loc[rows["horizon_observed"] & ~rows["in_default"].astype(bool)].reset_index(drop=True)
    q = live.loc[live["overdue_amount"].fillna(0.0) > qc.min_overdue].reset_index(drop=True)
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    el = q["pd"].to_numpy() * ob * lgd
    pd_ = blended_pd(q["pd"], q["pay_pd"]) if key == "blend" else q["pd"].to_numpy()
    order = queue_orders(q, pd_ * ob * lgd * w, el)
    return {
        "key": key,
        "figures": meta["figures"],
        "q": q,
        "order": order,
        "bad": np.where(q["label"].fillna(0).astype(int) == 1, ob, 0.0),
        "live": live,
    }


def _figures(s: dict, wq: np.ndarray, wl: np.ndarray) -> dict[str, float]:
    from models.queue_key import weighted_capture

    flag = s["live"]["flagged"].astype(bool).to_numpy()
    bad = (s["live"]["label"].fillna(0).astype(int) == 1).to_numpy()
    return {
        "queue": weighted_capture(s["order"], s["bad"], wq),
        "precision": float((wl * (flag & bad)).sum() / (wl * flag).sum()),
        "recall": float((wl * (flag & bad)).sum() / (wl * bad).sum()),
    }


def compare(new: Path, old: Path, reps: int, rng: np.random.Generator) -> dict:
    a, b = _side(new), _side(old)
    ids = pd.Index(
        pd.concat([a["live"]["debtor_id"], b["live"]["debtor_id"]]).drop_duplicates().astype("string")
    )

    def codes(frame: pd.DataFrame) -> np.ndarray:
        return ids.get_indexer(frame["debtor_id"])

    ca = {k: codes(a[k]) for k in ("q", "live")}
    cb = {k: codes(b[k]) for k in ("q", "live")}
    fa = _figures(a, np.ones(len(a["q"])), np.ones(len(a["live"])))
    fb = _figures(b, np.ones(len(b["q"])), np.ones(len(b["live"])))
    diffs: dict[str, list[float]] = {k: [] for k in fa}
    for _ in range(reps):
        wd = rng.poisson(1.0, len(ids)).astype("float64")
        ra = _figures(a, wd[ca["q"]], wd[ca["live"]])
        rb = _figures(b, wd[cb["q"]], wd[cb["live"]])
        for k in diffs:
            diffs[k].append(ra[k] - rb[k])
    out = {
        "book": new.parent.name,
        "key_new": a["key"],
        "key_old": b["key"],
        "queue_rows_new": len(a["q"]),
        "queue_rows_old": len(b["q"]),
        "check_new": a["figures"].get("queue_capture_top20"),
        "check_old": b["figures"].get("queue_capture_top20"),
    }
    for k in fa:
        lo, hi = np.nanquantile(np.asarray(diffs[k]), [0.025, 0.975])
        out[k] = {"new": fa[k], "old": fb[k], "diff": [fa[k] - fb[k], float(lo), float(hi)]}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="NEW_BT OLD_BT pairs")
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if len(args.folders) % 2:
        ap.error("give the backtest folders in pairs: NEW_BT OLD_BT")
    rng = np.random.default_rng(args.seed)
    books = [
        compare(n, o, args.reps, rng) for n, o in zip(args.folders[::2], args.folders[1::2], strict=True)
    ]

    def cell(v: dict) -> str:
        d = v["diff"]
        return f"{v['new']:.4f} vs {v['old']:.4f}: {d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"

    print("| book | key new / old | queue capture new vs old [95 %] | precision | recall |")
    print("|---|---|---|---|---|")
    for b in books:
        print(
            f"| {b['book']} | {b['key_new']} / {b['key_old']} | {cell(b['queue'])} | {cell(b['precision'])} "
            f"| {cell(b['recall'])} |"
        )
    summary = {
        k: {
            "sig_worse": [b["book"] for b in books if b[k]["diff"][2] < 0],
            "sig_better": [b["book"] for b in books if b[k]["diff"][1] > 0],
        }
        for k in ("queue", "precision", "recall")
    }
    if args.json:
        args.json.write_text(json.dumps({"books": books, "summary": summary}, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
