"""Where the roll-rate PD's live queue loses its top-20 % capture: the state bands' order in the PD or the
priority's days-past-due factor (session 29, issue 11).

    nice python benchmarks/rank_order.py BT [BT ...] [--json out.json]

Each ``BT`` is an ``ews backtest --model 1 --rows --out BT`` folder (``backtest.json``, ``backtest_rows.parquet``
with ``pay_pd``; the truth file named in its settings gives ``oracle_pd``). On the live queue rows (overdue above
``queue.min_overdue``, not in default) of the month-ends with an observed horizon, the state is the row's DPD
bucket (1-30, 31-60, 61-89; the roll-rate model's, without its silent state). The shipped key is the backtest's
``settings.queue_key``: K = PD or (PD + pay_pd) / 2. Per book, the pooled ``queue_capture_top20``
(``models.queue_key.weighted_capture``) of these orders of the same rows:

- ``shipped``: K x open balance x LGD x (1 + DPD / 90), ties by the expected loss (equals backtest.json's);
- ``no_dpd``: K x open balance x LGD (the priority without the DPD factor);
- ``w180`` / ``w45``: the DPD factor at 180 / 45 days;
- ``within_oracle``: per month-end and state the model's K values given to the rows in the true PD's order
  (each state keeps its own values: the bands' order stays, the order inside a state is perfect), with the DPD
  factor; ``within_oracle_nodpd`` the same without it;
- ``level_oracle``: K x (true PD's mean / K's mean in that month-end and state): the states' levels the true
  ones, the model's order inside a state kept; with the DPD factor;
- ``oracle_dpd``: true PD x open balance x LGD x (1 + DPD / 90); ``oracle``: true PD x open balance (the
  backtest's ceiling).

And who the shipped top 20 % misses: the defaulted rows outside it (by state), the non-defaulted rows in it (by
state), and for the missed 1-30 defaulters the median percentile of their priority (1 = top) with and without
the DPD factor, the share whose K lies below the lowest K of that month-end's 31-60 rows (the band keeps them
under every 31-60 debtor), and the share that would enter the top 20 % without the DPD factor.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

STATES = ((1, 30, "1-30"), (31, 60, "31-60"), (61, 89, "61-89"))
ORDERS = (
    "shipped",
    "no_dpd",
    "w180",
    "w45",
    "within_oracle",
    "within_oracle_nodpd",
    "level_oracle",
    "oracle_dpd",
    "oracle",
)


def model_kind(bt: Path) -> str:
    """The PD model's kind from ``train.log`` beside or above ``bt`` ('' when not found)."""
    for log in (bt.parent / "train.log", bt.parent.parent / "train.log"):
        if log.exists():
            m = re.search(r"registered ews-pd v1, (\w+)", log.read_text(errors="replace"))
            return m.group(1) if m else ""
    return ""


def state_of(dpd: np.ndarray) -> np.ndarray:
    """0 (not past due), 1 (1-30), 2 (31-60), 3 (61-89) per row."""
    return np.searchsorted(np.array([0.0, 30.0, 60.0]), dpd, side="left")


def queue_rows(folder: Path) -> tuple[pd.DataFrame, dict]:
    """The live queue rows of the observed month-ends with ``oracle_pd``, ``key_pd`` and ``lgd``."""
    from models.queue_key import blended_pd
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    meta = json.loads((folder / "backtest.json").read_text())
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    live = rows.loc[rows["horizon_observed"].astype(bool) & ~rows["in_default"].astype(bool)]
    qc = QueueConfig()
    q = live.loc[live["overdue_amount"].fillna(0.0) > qc.min_overdue].copy()
    t = pd.read_parquet(meta["settings"]["truth"], columns=["debtor_id", "month_end", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    q = q.merge(t, on=["debtor_id", "as_of"], how="left")
    q = q.sort_values(["as_of", "debtor_id"]).reset_index(drop=True)
    key = meta["settings"].get("queue_key", "pd")
    q["key_pd"] = blended_pd(q["pd"], q["pay_pd"]) if key == "blend" else q["pd"].astype("float64")
    q["lgd"] = lgd_for(q["segment"], qc).to_numpy()
    q["state"] = state_of(q["dpd"].fillna(0.0).clip(lower=0).to_numpy(dtype="float64"))
    return q, meta


def within_permuted(q: pd.DataFrame, values: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``values`` re-given inside each (month-end, state): the highest value to the row highest in ``by``."""
    out = np.empty(len(q))
    for _, idx in q.groupby(["as_of", "state"]).indices.items():
        out[idx[np.argsort(-by[idx], kind="stable")]] = np.sort(values[idx])[::-1]
    return out


def arrays(q: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(open balance, LGD, DPD, K, true PD, expected loss, defaulted, bad balance, state) of ``queue_rows``'s rows."""
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = q["lgd"].to_numpy()
    dpd = q["dpd"].fillna(0.0).clip(lower=0).to_numpy(dtype="float64")
    k = q["key_pd"].to_numpy(dtype="float64")
    tpd = q["oracle_pd"].fillna(0.0).to_numpy(dtype="float64")
    el = q["pd"].to_numpy(dtype="float64") * ob * lgd
    y = q["label"].fillna(0).astype(int).to_numpy() == 1
    return ob, lgd, dpd, k, tpd, el, y, np.where(y, ob, 0.0), q["state"].to_numpy()


def book_order(folder: Path) -> dict:
    from models.queue_key import queue_orders, weighted_capture

    q, meta = queue_rows(folder)
    ob, lgd, dpd, k, tpd, el, y, bad, st = arrays(q)
    factor = {w: 1.0 + dpd / w for w in (45.0, 90.0, 180.0)}
    kw = within_permuted(q, k, tpd)
    g = q.assign(k=k, t=tpd).groupby(["as_of", "state"])
    ratio = (g["t"].transform("mean") / g["k"].transform("mean")).to_numpy()
    keys = {
        "shipped": (k * ob * lgd * factor[90.0], el),
        "no_dpd": (k * ob * lgd, el),
        "w180": (k * ob * lgd * factor[180.0], el),
        "w45": (k * ob * lgd * factor[45.0], el),
        "within_oracle": (kw * ob * lgd * factor[90.0], None),
        "within_oracle_nodpd": (kw * ob * lgd, None),
        "level_oracle": (k * ratio * ob * lgd * factor[90.0], None),
        "oracle_dpd": (tpd * ob * lgd * factor[90.0], None),
        "oracle": (tpd * ob, None),
    }
    orders = {name: queue_orders(q, key_, tie) for name, (key_, tie) in keys.items()}
    ones = np.ones(len(q))
    cap = {name: weighted_capture(o, bad, ones) for name, o in orders.items()}

    def top(o: list[np.ndarray]) -> np.ndarray:
        m = np.zeros(len(q), dtype=bool)
        for idx in o:
            m[idx[: int(np.ceil(0.2 * len(idx)))]] = True
        return m

    def pct(o: list[np.ndarray]) -> np.ndarray:
        p = np.empty(len(q))
        for idx in o:
            p[idx] = np.arange(1, len(idx) + 1) / len(idx)
        return p

    shipped_top, nodpd_top = top(orders["shipped"]), top(orders["no_dpd"])
    p_ship, p_nodpd = pct(orders["shipped"]), pct(orders["no_dpd"])
    floor31 = q.assign(k=np.where(st == 2, k, np.inf)).groupby("as_of")["k"].transform("min").to_numpy()
    tb = bad.sum()
    by_state = {}
    for code, name in ((1, "1-30"), (2, "31-60"), (3, "61-89"), (0, "0")):
        s = st == code
        missed = s & y & ~shipped_top
        held = s & ~y & shipped_top
        by_state[name] = {
            "rows": int(s.sum()),
            "defaulted": int((s & y).sum()),
            "in_top": int((s & shipped_top).sum()),
            "missed_defaulted": int(missed.sum()),
            "missed_bad_share": float(bad[missed].sum() / tb) if tb else float("nan"),
            "held_nondefaulted": int(held.sum()),
            "missed_pct_shipped": float(np.median(p_ship[missed])) if missed.any() else float("nan"),
            "missed_pct_nodpd": float(np.median(p_nodpd[missed])) if missed.any() else float("nan"),
            "missed_below_31_60_floor": float(np.mean(k[missed] < floor31[missed]))
            if missed.any()
            else float("nan"),
            "missed_in_top_nodpd": float(np.mean(nodpd_top[missed])) if missed.any() else float("nan"),
            "mean_key_pd": float(k[s].mean()) if s.any() else float("nan"),
            "mean_true_pd": float(tpd[s].mean()) if s.any() else float("nan"),
            "default_rate": float(y[s].mean()) if s.any() else float("nan"),
        }
    return {
        "book": folder.parent.name if folder.parent.name not in ("main",) else folder.parent.parent.name,
        "folder": str(folder),
        "kind": model_kind(folder),
        "key": meta["settings"].get("queue_key", "pd"),
        "queue_rows": int(len(q)),
        "queue_defaulted": int(y.sum()),
        "capture": cap,
        "check_shipped": meta["figures"].get("queue_capture_top20"),
        "dpd_order": meta["figures"].get("dpd_capture_top20"),
        "states": by_state,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bts", nargs="+", type=Path, help="ews backtest --rows folders")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    books = [book_order(b) for b in args.bts]
    print("book kind key rows bad | " + " ".join(ORDERS) + " | dpd_order")
    for b in books:
        c = b["capture"]
        print(
            f"{b['book']} {b['kind']} {b['key']} {b['queue_rows']} {b['queue_defaulted']} | "
            + " ".join(f"{c[o]:.4f}" for o in ORDERS)
            + f" | {b['dpd_order']:.4f} (check {b['check_shipped']:.4f})"
        )
        for name, s in b["states"].items():
            print(
                f"   {name:>5}: rows {s['rows']} def {s['defaulted']} in top {s['in_top']}; missed def "
                f"{s['missed_defaulted']} ({s['missed_bad_share']:.3f} of bad bal), held non-def {s['held_nondefaulted']}; "
                f"missed pct shipped {s['missed_pct_shipped']:.2f} no-dpd {s['missed_pct_nodpd']:.2f}; below 31-60 "
                f"floor {s['missed_below_31_60_floor']:.2f}; in top w/o dpd {s['missed_in_top_nodpd']:.2f}; mean K "
                f"{s['mean_key_pd']:.4f} true {s['mean_true_pd']:.4f} rate {s['default_rate']:.4f}"
            )
    if books:
        mean = {o: float(np.nanmean([b["capture"][o] for b in books])) for o in ORDERS}
        print("mean:", " ".join(f"{o} {v:.4f}" for o, v in mean.items()))
        print(
            "mean minus shipped:",
            " ".join(f"{o} {v - mean['shipped']:+.4f}" for o, v in mean.items() if o != "shipped"),
        )
    text = json.dumps({"books": books}, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text[:0])


if __name__ == "__main__":
    main()
