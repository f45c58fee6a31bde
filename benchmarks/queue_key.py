"""The collections queue's key chosen at training time (``queue.priority: auto``), measured per book
from ``ews backtest --compare-keys --rows`` outputs (session 12, issue 11 part 5).

    nice python benchmarks/queue_key.py BT1 BT2 ... [--reps 400] [--seed 0] [--json out.json]

Each ``BT`` is an ``ews backtest --compare-keys --rows --out BT`` folder (``backtest.json``,
``backtest_rows.parquet`` with ``pay_pd``; the book's name is the folder above it). Per book, on the
live queue rows of the month-ends with an observed horizon (overdue, not in default), with the
default queue settings (LGD 0.45, days-past-due weight 90): ``queue_capture_top20`` of the PD key
("before", the key shipped until session 12), of the blend ((PD + pay_pd) / 2), of the key the
version chose at training (``settings.queue_key``: "after", ``auto``), of days-past-due order and of
the oracle (true PD x exposure, the data's ``truth.parquet``), and the differences after - before,
blend - before and after - DPD order with 95 % intervals from a Poisson bootstrap of debtors (one
weight per debtor for every month-end and key: paired), and for their mean over the books (the
books' bootstraps are independent: the replicate-wise mean). The PD and blend captures are checked
against ``backtest.json``'s ``pd_key_capture_top20`` / ``blend_key_capture_top20``. Ends with one
JSON line.

``--chosen FILE`` (session 14): a JSON object book -> key (``pd`` / ``blend``), the key another rule
chose for the same version (e.g. ``ews train`` choosing on pooled rolling-origin folds): its capture
("new") and the differences new - after (the key the version recorded: today's rule), new - before
(the PD key) and new - DPD order, with the same paired intervals. ``--today FILE``: the same kind of
object, the key of today's rule where it is not the recorded one ("after").
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


def book_table(
    folder: Path, reps: int, rng: np.random.Generator, new: str | None = None, today: str | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    from models.queue_key import blended_pd, queue_orders, weighted_capture
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    meta = json.loads((folder / "backtest.json").read_text())
    chosen = today or meta["settings"].get("queue_key", "pd")
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    qc = QueueConfig()
    live = rows["horizon_observed"] & ~rows["in_default"].astype(bool)
    q = rows.loc[live & (rows["overdue_amount"].fillna(0.0) > qc.min_overdue)].reset_index(drop=True)
    truth_path = meta["settings"].get("truth")
    t = pd.read_parquet(truth_path, columns=["debtor_id", "month_end", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    q = q.assign(debtor_id=q["debtor_id"].astype("string")).merge(t, on=["debtor_id", "as_of"], how="left")
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    el = q["pd"].to_numpy() * ob * lgd
    bad = np.where(q["label"].fillna(0).astype(int) == 1, ob, 0.0)
    blend = blended_pd(q["pd"], q["pay_pd"]) * ob * lgd * w
    orders = {
        "pd": queue_orders(q, el * w, el),
        "blend": queue_orders(q, blend, el),
        "dpd": queue_orders(
            q.assign(overdue_amount=q["overdue_amount"]), q["dpd"].fillna(0.0).to_numpy() * 100
        ),
        "oracle": queue_orders(q, q["oracle_pd"].fillna(0.0).to_numpy() * ob * 100),
    }
    orders["after"] = orders[chosen]
    if new is not None:
        orders["new"] = orders[new]
    ones = np.ones(len(q))
    cap = {k: weighted_capture(o, bad, ones) for k, o in orders.items()}
    fig = meta["figures"]
    codes, uniq = pd.factorize(q["debtor_id"])
    boots: dict[str, list[float]] = {"after-pd": [], "blend-pd": [], "after-dpd": [], "pd-dpd": []}
    if new is not None:
        boots.update({"new-after": [], "new-pd": [], "new-dpd": []})
    for _ in range(reps):
        wb = rng.poisson(1.0, len(uniq)).astype("float64")[codes]
        c = {k: weighted_capture(orders[k], bad, wb) for k in ("pd", "blend", "dpd")}
        c["after"] = c[chosen]
        if new is not None:
            c["new"] = c[new]
        for name in boots:
            a, b = name.split("-")
            boots[name].append(c[a] - c[b])
    out = {
        "book": folder.parent.name,
        "key": chosen,
        **({"new_key": new, "new": cap["new"]} if new is not None else {}),
        "queue_rows": int(len(q)),
        "defaults": int((bad > 0).sum()),
        "oracle": cap["oracle"],
        "pd": cap["pd"],
        "blend": cap["blend"],
        "after": cap["after"],
        "dpd": cap["dpd"],
        "check_pd_vs_backtest": fig.get("pd_key_capture_top20"),
        "check_blend_vs_backtest": fig.get("blend_key_capture_top20"),
        "check_dpd_vs_backtest": fig.get("dpd_capture_top20"),
        "check_oracle_vs_backtest": fig.get("oracle_capture_top20"),
    }
    arrays = {k: np.asarray(v) for k, v in boots.items()}
    for k, v in arrays.items():
        lo, hi = np.nanquantile(v, [0.025, 0.975]) if len(v) else (np.nan, np.nan)
        a, b = k.split("-")
        out[k] = [cap[a] - cap[b], float(lo), float(hi)]
    return out, arrays


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--chosen", type=Path, help="JSON book -> key chosen by another rule (the 'new' columns)")
    ap.add_argument(
        "--today", type=Path, help="JSON book -> key of today's rule ('after'), instead of the recorded one"
    )
    args = ap.parse_args(argv)
    chosen = json.loads(args.chosen.read_text()) if args.chosen else {}
    today = json.loads(args.today.read_text()) if args.today else {}
    rng = np.random.default_rng(args.seed)
    books, reps = [], {}
    for folder in args.folders:
        name = folder.parent.name
        row, arrays = book_table(
            folder, args.reps, rng, chosen.get(name) if chosen else None, today.get(name)
        )
        books.append(row)
        for k, v in arrays.items():
            reps.setdefault(k, []).append(v)
        print(json.dumps(row), flush=True)

    def cell(v: list[float]) -> str:
        return f"{v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]"

    print("| book | key chosen | queue rows / defaulted | oracle | before: PD key (/ oracle) | blend (/ oracle) "
          "| after: auto (/ oracle) | DPD order | after - before [95 %] | blend - before [95 %] | after - DPD [95 %] |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for b in books:
        o = b["oracle"]
        print(
            f"| {b['book']} | {b['key']} | {b['queue_rows']:,} / {b['defaults']} | {o:.4f} | {b['pd']:.4f} ({b['pd'] / o:.3f}) "
            f"| {b['blend']:.4f} ({b['blend'] / o:.3f}) | {b['after']:.4f} ({b['after'] / o:.3f}) | {b['dpd']:.4f} "
            f"| {cell(b['after-pd'])} | {cell(b['blend-pd'])} | {cell(b['after-dpd'])} |"
        )
    if chosen:
        print("\n| book | today's key | new key | today (/ oracle) | new (/ oracle) | new - today [95 %] | new - PD key [95 %] | new - DPD [95 %] |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for b in books:
            o = b["oracle"]
            print(
                f"| {b['book']} | {b['key']} | {b['new_key']} | {b['after']:.4f} ({b['after'] / o:.3f}) "
                f"| {b['new']:.4f} ({b['new'] / o:.3f}) | {cell(b['new-after'])} | {cell(b['new-pd'])} | {cell(b['new-dpd'])} |"
            )
    summary = {}
    for k in [
        *("after-pd", "blend-pd", "after-dpd", "pd-dpd"),
        *(("new-after", "new-pd", "new-dpd") if chosen else ()),
    ]:
        d = np.array([b[k][0] for b in books])
        mean_reps = np.nanmean(np.vstack(reps[k]), axis=0)
        lo, hi = np.nanquantile(mean_reps, [0.025, 0.975])
        summary[k] = {
            "ahead": int((d > 5e-5).sum()),
            "equal": int((np.abs(d) <= 5e-5).sum()),
            "behind": int((d < -5e-5).sum()),
            "sig_ahead": int(sum(b[k][1] > 0 for b in books)),
            "sig_behind": int(sum(b[k][2] < 0 for b in books)),
            "mean": float(d.mean()),
            "mean_ci": [float(lo), float(hi)],
        }
    for name in ("pd", "blend", "after", *(("new",) if chosen else ())):
        summary[f"{name}_ge_095_oracle"] = int(sum(b[name] >= 0.95 * b["oracle"] for b in books))
        summary[f"{name}_ahead_of_dpd"] = int(sum(b[name] > b["dpd"] for b in books))
    summary["blend_chosen"] = int(sum(b["key"] == "blend" for b in books))
    if chosen:
        summary["new_blend_chosen"] = int(sum(b["new_key"] == "blend" for b in books))
    if args.json:
        args.json.write_text(json.dumps({"books": books, "summary": summary}, indent=1) + "\n")
    print(json.dumps({"books": len(books), "summary": summary}))


if __name__ == "__main__":
    main()
