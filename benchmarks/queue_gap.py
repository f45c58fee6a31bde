"""The live queue against its oracle, per book, and where the gap is (session 26, issue 11).

    nice python benchmarks/queue_gap.py BT1 BT2 ... [--reps 400] [--seed 0] [--json out.json]

Each ``BT`` is an ``ews backtest --rows --out BT`` folder (``backtest.json``, ``backtest_rows.parquet``;
with ``--compare-keys`` its ``pay_pd`` gives the other key too); the truth file named in its settings
(``oracle_pd`` per debtor and month-end: ``ews generate``'s or ``benchmarks/unseen_book.py``'s). The
book's name is the folder above ``BT`` (above ``main/BT`` when that folder is named ``main``); when that folder holds ``train.log`` (the console of ``ews
train``) the PD model's kind and the queue key's reason are read from it.

Per book, on the live queue rows of the month-ends with an observed horizon (overdue, not in
default; default queue settings: LGD by segment, days-past-due weight 90), ``queue_capture_top20``
of the shipped priority (the key the version chose, ``settings.queue_key``: PD x open balance x LGD x
(1 + DPD / 90), the PD being (PD + pay_pd) / 2 with the blend), of the oracle (true PD x open
balance), of days-past-due order and of balance order, and the backtest's lead times. Then the gap
to the oracle piece by piece, each piece of the shipped priority swapped for the oracle's, one at a
time, with paired 95 % intervals (Poisson bootstrap of debtors, one weight per debtor for every
month-end and both orders):

- ``pd``: the true PD in place of the key's PD (the PD's ranking of the live debtors);
- ``lgd``: no LGD (the oracle has none; the segment LGDs reorder debtors of different segments);
- ``dpd``: no days-past-due factor (the oracle has none);
- ``key``: the other key of the pair (PD / blend), when the rows carry ``pay_pd``;
- ``pd_D`` / ``pd_S`` (session 37, a truth file with the simulator's latent ``state``, as
  ``benchmarks/unseen_book.py``'s: H healthy, D distressed, S stopped): the true PD on the rows in
  state D (S) only, the key's PD elsewhere: what knowing that one state is worth. With a state, also
  the gap split by the state of the defaulting rows (the bad balance in the oracle's top 20 % minus
  that in the shipped top 20 %, per state, as shares of the bad balance: they add up to oracle -
  queue) and the share of the bad balance per state;
- the EAD is the open balance in both (nothing to swap); the live filter is the same queue for both
  (it moves neither capture): what it leaves out is given as the share of the live bad balance held
  by live debtors outside the queue (not overdue), and how many of those rows default on an
  insolvency event's date (read from the events table beside the truth file, ``events.parquet`` or an ingested ``events``
  folder, when there is one).

How concentrated the bad balance is: the queue's defaulted rows and debtors, defaulted rows per
month-end (mean, least, most), the top 20 % cut (rows a month-end) and the share of the bad balance
held by the 5 largest defaulting debtors. With several books, the mean of each swap's difference
over the books with its interval (the replicate-wise mean of the books' bootstraps, each book's drawn
with ``--seed``: different debtors, so independent draws).

The captures are checked against ``backtest.json`` (``queue_capture_top20``, ``oracle_capture_top20``,
``dpd_capture_top20``). Ends with one JSON line.
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

SWAPS = ("pd", "lgd", "dpd", "key", "pd_D", "pd_S")
STATES = ("H", "D", "S")


def book_name(folder: Path) -> str:
    """The book's name: the folder above ``BT``, or above ``main/BT`` (a variant folder ``main``)."""
    up = folder.resolve().parent
    return up.parent.name if up.name == "main" else up.name


def train_notes(book: Path) -> dict[str, str]:
    """The PD model's kind and the queue key's reason from ``book/train.log``, when present."""
    log = book / "train.log"
    if not log.exists():
        return {}
    text = log.read_text(errors="replace")
    out = {}
    kind = re.search(r"challenger is the (\S+) model", text) or re.search(r"ews-pd v\d+ \(([^)]+)\)", text)
    if kind:
        out["model"] = kind.group(1)
    key = re.search(
        r"collections queue key: (.*?)(?:\n(?:gate |\S+ v\d|payment-date model)|\s\d\d:\d\d:\d\d\.\d+ \|)",
        text,
        re.S,
    )
    if key:
        out["key_reason"] = " ".join(key.group(1).split())
    return out


def _sudden(truth_path: Path, rows: pd.DataFrame) -> np.ndarray:
    """True where the row's first default date is an insolvency event's date of that debtor."""
    found = [p for p in (truth_path.parent / "events.parquet", truth_path.parent / "events") if p.exists()]
    if not found or "first_default_date" not in rows.columns:
        return np.zeros(len(rows), dtype=bool)
    events = found[0]
    ev = pd.read_parquet(events, columns=["debtor_id", "event_date", "kind"])
    ins = ev.loc[ev["kind"] == "insolvency", ["debtor_id", "event_date"]].drop_duplicates()
    keys = set(zip(ins["debtor_id"].astype(str), pd.to_datetime(ins["event_date"]).dt.date, strict=True))
    fdd = pd.to_datetime(rows["first_default_date"])
    return np.array(
        [
            (str(d), t.date()) in keys if pd.notna(t) else False
            for d, t in zip(rows["debtor_id"], fdd, strict=True)
        ],
        dtype=bool,
    )


def book_gap(folder: Path, reps: int, seed: int, key: str | None = None) -> dict:
    """The panel line and the piece-by-piece gap of one backtest folder (module docstring); ``key``:
    the key to measure as shipped instead of the one the backtest recorded."""
    from models.queue_key import blended_pd, queue_orders, weighted_capture
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    meta = json.loads((folder / "backtest.json").read_text())
    fig, settings = meta["figures"], meta["settings"]
    key = key or settings.get("queue_key", "pd")
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    qc = QueueConfig()
    live = rows.loc[rows["horizon_observed"] & ~rows["in_default"].astype(bool)].reset_index(drop=True)
    truth_path = Path(settings["truth"])
    t = pd.read_parquet(truth_path)
    t = t[[c for c in ("debtor_id", "month_end", "oracle_pd", "state") if c in t.columns]]
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    live = live.merge(t, on=["debtor_id", "as_of"], how="left")
    in_queue = live["overdue_amount"].fillna(0.0).to_numpy() > qc.min_overdue
    q = live.loc[in_queue].reset_index(drop=True)
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    has_pay = "pay_pd" in q.columns and q["pay_pd"].notna().any()
    pds = {"pd": q["pd"].to_numpy(dtype="float64")}
    if has_pay:
        pds["blend"] = blended_pd(q["pd"], q["pay_pd"])
    kpd = pds[key]
    opd = q["oracle_pd"].fillna(0.0).to_numpy()
    el = q["pd"].to_numpy(dtype="float64") * ob * lgd
    prio = {
        "shipped": kpd * ob * lgd * w,
        "pd": opd * ob * lgd * w,
        "lgd": kpd * ob * w,
        "dpd": kpd * ob * lgd,
        "oracle": opd * ob * 100,
        "dpd_order": q["dpd"].fillna(0.0).to_numpy() * 100,
        "balance_order": ob.copy(),
    }
    other = "blend" if key == "pd" else "pd"
    if other in pds:
        prio["key"] = pds[other] * ob * lgd * w
    state = q["state"].astype("string").fillna("").to_numpy() if "state" in q.columns else None
    if state is not None:
        for s in ("D", "S"):
            prio[f"pd_{s}"] = np.where(state == s, opd, kpd) * ob * lgd * w
    ties = {"shipped": el, "key": el, "pd_D": el, "pd_S": el}
    orders = {k: queue_orders(q, v, ties.get(k)) for k, v in prio.items()}
    bad = np.where(q["label"].fillna(0).astype(int).to_numpy() == 1, ob, 0.0)
    ones = np.ones(len(q))
    cap = {k: weighted_capture(o, bad, ones) for k, o in orders.items()}
    codes, uniq = pd.factorize(q["debtor_id"])
    rng = np.random.default_rng(seed)
    swaps = [s for s in SWAPS if s in orders]
    diffs: dict[str, list[float]] = {s: [] for s in (*swaps, "oracle", "dpd_order")}
    for _ in range(reps):
        wb = rng.poisson(1.0, len(uniq)).astype("float64")[codes]
        base = weighted_capture(orders["shipped"], bad, wb)
        for s in diffs:
            diffs[s].append(weighted_capture(orders[s], bad, wb) - base)
    gap, reps_out = {}, {}
    for s, v in diffs.items():
        reps_out[s] = np.asarray(v)
        arr = np.asarray(v)
        arr = arr[np.isfinite(arr)]
        lo, hi = (float(x) for x in np.quantile(arr, [0.025, 0.975])) if len(arr) else (np.nan, np.nan)
        gap[s] = [cap[s] - cap["shipped"], lo, hi]
    # the live filter: live defaulters outside the queue (nothing overdue at T)
    lob = live["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lbad = live["label"].fillna(0).astype(int).to_numpy() == 1
    out_rows = live.loc[lbad & ~in_queue]
    sudden = _sudden(truth_path, out_rows)
    total_bad = float(lob[lbad].sum())
    return {
        "_reps": reps_out,
        "book": book_name(folder),
        **train_notes(folder.parent),
        "key": key,
        "key_why": settings.get("queue_key_why", ""),
        "queue_rows": int(len(q)),
        "defaults": int((bad > 0).sum()),
        "months": int(fig.get("months_with_observed_horizon", 0)),
        "queue": cap["shipped"],
        "oracle": cap["oracle"],
        "ratio": cap["shipped"] / cap["oracle"] if cap["oracle"] else float("nan"),
        "dpd_order": cap["dpd_order"],
        "balance_order": cap["balance_order"],
        "pd_key": cap["shipped"] if key == "pd" else cap.get("key"),
        "blend_key": cap["shipped"] if key == "blend" else cap.get("key"),
        "lead_strict_days": fig.get("lead_time_median_days"),
        "lead_flagged_share": fig.get("lead_time_flagged_share"),
        "lead_first_flag_days": fig.get("lead_time_first_flag_median_days"),
        "precision": fig.get("watchlist_precision"),
        "recall": fig.get("watchlist_recall"),
        "gap": gap,
        "filter_out_rows": int(len(out_rows)),
        "filter_out_share": float(out_rows["open_balance"].clip(lower=0).fillna(0.0).sum()) / total_bad
        if total_bad
        else float("nan"),
        "filter_out_insolvency_rows": int(sudden.sum()),
        **concentration(q, bad),
        **({"by_state": by_state(orders, bad, state)} if state is not None else {}),
        "check": {
            "queue": [cap["shipped"], fig.get("queue_capture_top20")],
            "oracle": [cap["oracle"], fig.get("oracle_capture_top20")],
            "dpd": [cap["dpd_order"], fig.get("dpd_capture_top20")],
        },
    }


def _top(orders: list[np.ndarray], n: int) -> np.ndarray:
    """True on the rows in the top 20 % (ceil) of their month-end's queue."""
    top = np.zeros(n, dtype=bool)
    for idx in orders:
        top[idx[: int(np.ceil(0.2 * len(idx)))]] = True
    return top


def by_state(orders: dict[str, list[np.ndarray]], bad: np.ndarray, state: np.ndarray) -> dict:
    """Per latent state: the queue rows, the share of the bad balance, and the gap (bad balance in
    the oracle's top 20 % minus in the shipped top 20 %, as a share of the bad balance)."""
    total = float(bad.sum())
    top = {k: _top(orders[k], len(bad)) for k in ("shipped", "oracle")}
    out = {}
    for s in STATES:
        m = state == s
        caught = {k: float(bad[m & t].sum()) / total if total else float("nan") for k, t in top.items()}
        out[s] = {
            "queue_rows": int(m.sum()),
            "bad_share": float(bad[m].sum()) / total if total else float("nan"),
            "gap": caught["oracle"] - caught["shipped"],
        }
    return out


def concentration(q: pd.DataFrame, bad: np.ndarray) -> dict:
    """The defaulted rows and debtors of the queue, per month-end, and the 5 largest debtors' share."""
    months = q.groupby("as_of").size()
    hit = q.loc[bad > 0, ["as_of", "debtor_id"]].assign(bad=bad[bad > 0])
    per = hit.groupby("as_of").size().reindex(months.index, fill_value=0)
    debt = hit.groupby("debtor_id")["bad"].sum().sort_values(ascending=False)
    return {
        "defaulted_debtors": int(hit["debtor_id"].nunique()),
        "defaulted_per_month": [float(per.mean()), int(per.min()), int(per.max())] if len(per) else [],
        "top20_rows_per_month": float(np.ceil(0.2 * months).mean()) if len(months) else float("nan"),
        "top5_debtors_share": float(debt.head(5).sum() / debt.sum()) if len(debt) else float("nan"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "folders", nargs="+", type=Path, help="ews backtest --rows [--compare-keys] output folders"
    )
    ap.add_argument("--reps", type=int, default=400, help="bootstrap replicates (400)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="JSON book -> key (pd / blend) measured as shipped instead of the recorded one "
        "(e.g. queue_window.py's base.json: main's key on a candidate's backtest rows)",
    )
    args = ap.parse_args(argv)
    keys = json.loads(args.keys.read_text()) if args.keys else {}
    books = [book_gap(f, args.reps, args.seed, keys.get(book_name(f))) for f in args.folders]

    def cell(v: list[float]) -> str:
        return f"{v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]"

    for b in books:
        print(
            f"{b['book']}: {b.get('model', '?')}, key {b['key']}, queue {b['queue']:.4f} (/ oracle "
            f"{b['ratio']:.3f}), oracle {b['oracle']:.4f}, DPD order {b['dpd_order']:.4f}, balance order "
            f"{b['balance_order']:.4f}; {b['queue_rows']:,} queue rows, {b['defaults']} defaulted, "
            f"{b['months']} month-ends; lead {b['lead_strict_days']} d ({b['lead_flagged_share']:.2f}), "
            f"first flag {b['lead_first_flag_days']} d"
        )
        print("  swap for the oracle's piece: " + "; ".join(f"{s} {cell(v)}" for s, v in b["gap"].items()))
        print(
            f"  live filter: {b['filter_out_rows']} live defaulted rows outside the queue, "
            f"{b['filter_out_share']:.3f} of the live bad balance, {b['filter_out_insolvency_rows']} on an "
            "insolvency date"
        )
        m = b["defaulted_per_month"]
        if m:
            print(
                f"  concentration: {b['defaults']} defaulted rows of {b['defaulted_debtors']} debtors, "
                f"{m[0]:.1f} a month-end ({m[1]}-{m[2]}) against a top 20 % of {b['top20_rows_per_month']:.0f} "
                f"rows; the 5 largest defaulting debtors hold {b['top5_debtors_share']:.2f} of the bad balance"
            )
        if "by_state" in b:
            print(
                "  by latent state (bad balance share / gap): "
                + "; ".join(f"{s} {v['bad_share']:.2f} / {v['gap']:+.4f}" for s, v in b["by_state"].items())
            )
        if "key_reason" in b:
            print(f"  key reason: {b['key_reason']}")
    reps = [b.pop("_reps") for b in books]
    summary = {}
    for s in ("oracle", *SWAPS, "dpd_order"):
        have = [(b, r[s]) for b, r in zip(books, reps, strict=True) if s in r]
        if len(have) < 2:
            continue
        n = min(len(r) for _, r in have)
        mean_reps = np.nanmean(np.vstack([r[:n] for _, r in have]), axis=0)
        lo, hi = np.nanquantile(mean_reps, [0.025, 0.975])
        point = float(np.mean([b["gap"][s][0] for b, _ in have]))
        summary[s] = {"books": len(have), "mean": point, "mean_ci": [float(lo), float(hi)]}
    if summary:
        print(
            "mean over the books (swap - shipped): "
            + "; ".join(f"{s} ({v['books']}) {cell([v['mean'], *v['mean_ci']])}" for s, v in summary.items())
        )
    result = {"books": books, "summary": summary}
    text = json.dumps(result, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
