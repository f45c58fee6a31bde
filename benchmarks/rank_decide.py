"""Two trainings of one book compared forward: the shipped queue's capture and the PD's AUC, Brier and
log-loss, paired by debtor (session 27, issues 9 and 11: a roll-rate candidate against main; session 30: the
key's order inside the days-past-due states, ``settings.queue_within``).

    nice python benchmarks/rank_decide.py BASE_BT:CAND_BT [BASE_BT:CAND_BT ...] [--reps 400] [--seed 0]
        [--json out.json]

Each ``BASE_BT`` / ``CAND_BT`` is an ``ews backtest --model 1 --compare-keys --rows --out BT`` folder
(``backtest.json``, ``backtest_rows.parquet`` with ``pay_pd``) of one book, the two versions trained with
the baseline's and the candidate's settings (own MLflow registries). The book's name is the folder two
levels above ``CAND_BT`` (``books/NAME/VARIANT/bt``).

Per book, on the rows both backtests hold (joined on debtor and month-end; both must hold the same rows):

- ``capture``: forward ``queue_capture_top20`` of each version's shipped queue: its own key
  (``settings.queue_key``: the PD, or (PD + pay_pd) / 2; re-ordered inside the DPD states by pay_pd when
  ``settings.queue_within`` > 0) x open balance x LGD x (1 + DPD / 90), ties by the
  expected loss, on the live queue rows (overdue, not in default) of the month-ends with an observed
  horizon; pooled over the month-ends (``models.queue_key.weighted_capture``);
- ``auc``, ``brier``, ``logloss`` (and ``ece``, 10 equal-frequency bins, reported only) of each version's
  ``pd`` on the live rows (not in default, horizon observed).

Differences are candidate - baseline with 95 % intervals from a Poisson bootstrap of debtors (one weight
per debtor for all its month-ends, the same weights for both versions and every metric; 400 replicates,
seed 0). Then the mean over the books of each difference, its interval replicate-wise. The rule
pre-registered in session 27 (``/work/bench/s27-rank/prereg.txt``): ship when no book is significantly
worse in capture or AUC (upper end < 0) or log-loss (lower end > 0), the mean capture difference is above
0 in point, and the PD differs on at least one book. Ends with one JSON line.
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

METRICS = ("capture", "auc", "brier", "logloss")


def _load(folder: Path) -> tuple[pd.DataFrame, dict]:
    meta = json.loads((folder / "backtest.json").read_text())
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    live = rows.loc[rows["horizon_observed"].astype(bool) & ~rows["in_default"].astype(bool)]
    return live.sort_values(["as_of", "debtor_id"]).reset_index(drop=True), meta


def _weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    m = w > 0
    if len(np.unique(y[m])) < 2:
        return float("nan")
    return float(roc_auc_score(y[m], p[m], sample_weight=w[m]))


def _pd_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    tw = w.sum()
    return {
        "auc": _weighted_auc(y, p, w),
        "brier": float((w * (p - y) ** 2).sum() / tw),
        "logloss": float(-(w * (y * np.log(pc) + (1 - y) * np.log(1 - pc))).sum() / tw),
    }


def _queue(live: pd.DataFrame, key: str, within: float = 0.0):
    """(queue rows mask, priority, tie) of one version's live rows; ``within`` > 0 (``settings.queue_within``,
    session 30): the key re-ordered inside each month-end's days-past-due states by ``pay_pd``
    (``models.queue_key.within_paydate``, as ``ews backtest``)."""
    from models.queue_key import blended_pd
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    qc = QueueConfig()
    inq = live["overdue_amount"].fillna(0.0).to_numpy() > qc.min_overdue
    q = live.loc[inq]
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    kpd = blended_pd(q["pd"], q["pay_pd"]) if key == "blend" else q["pd"].to_numpy(dtype="float64")
    if within > 0:
        from models.queue_key import within_paydate

        kpd = within_paydate(kpd, q["dpd"], q["pay_pd"], within, q["as_of"].to_numpy())
    el = q["pd"].to_numpy(dtype="float64") * ob * lgd
    return inq, kpd * ob * lgd * w, el


def book_pair(base_bt: Path, cand_bt: Path, reps: int, seed: int) -> dict:
    from models.evaluate import classification_metrics
    from models.queue_key import queue_orders, weighted_capture

    base, bmeta = _load(base_bt)
    cand, cmeta = _load(cand_bt)
    keys = ["debtor_id", "as_of"]
    same = len(base) == len(cand) and all(
        np.array_equal(base[k].astype(str).to_numpy(), cand[k].astype(str).to_numpy()) for k in keys
    )
    if not same:
        raise SystemExit(
            f"{cand_bt}: the two backtests hold different live rows ({len(base)} vs {len(cand)})"
        )
    y = base["label"].fillna(0).astype(int).to_numpy()
    if not np.array_equal(y, cand["label"].fillna(0).astype(int).to_numpy()):
        raise SystemExit(f"{cand_bt}: the two backtests' labels differ")
    kb, kc = bmeta["settings"].get("queue_key", "pd"), cmeta["settings"].get("queue_key", "pd")
    wb, wc = (float(m["settings"].get("queue_within") or 0.0) for m in (bmeta, cmeta))
    inq, prio_b, tie_b = _queue(base, kb, wb)
    inq_c, prio_c, tie_c = _queue(cand, kc, wc)
    assert np.array_equal(inq, inq_c)
    q = base.loc[inq].reset_index(drop=True)
    orders_b = queue_orders(q, prio_b, tie_b)
    orders_c = queue_orders(q, prio_c, tie_c)
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    bad = np.where(q["label"].fillna(0).astype(int).to_numpy() == 1, ob, 0.0)
    pb, pc = base["pd"].to_numpy(dtype="float64"), cand["pd"].to_numpy(dtype="float64")
    codes, uniq = pd.factorize(base["debtor_id"])

    def figures(w: np.ndarray) -> dict[str, tuple[float, float]]:
        mb, mc = _pd_metrics(y, pb, w), _pd_metrics(y, pc, w)
        out = {m: (mb[m], mc[m]) for m in mb}
        out["capture"] = (weighted_capture(orders_b, bad, w[inq]), weighted_capture(orders_c, bad, w[inq]))
        return out

    point = figures(np.ones(len(base)))
    rng = np.random.default_rng(seed)
    reps_d: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(reps):
        wd = rng.poisson(1.0, len(uniq)).astype("float64")
        f = figures(wd[codes])
        for m in METRICS:
            reps_d[m].append(f[m][1] - f[m][0])
    res = {}
    for m in METRICS:
        arr = np.asarray(reps_d[m])
        ok = arr[np.isfinite(arr)]
        lo, hi = (float(x) for x in np.quantile(ok, [0.025, 0.975])) if len(ok) else (np.nan, np.nan)
        res[m] = {
            "base": point[m][0],
            "cand": point[m][1],
            "diff": point[m][1] - point[m][0],
            "lo": lo,
            "hi": hi,
            "reps": arr.tolist(),
        }
    ece = (classification_metrics(y, pb)["ece"], classification_metrics(y, pc)["ece"])
    fig_b, fig_c = bmeta["figures"], cmeta["figures"]
    return {
        "book": cand_bt.parent.parent.name,
        "key_base": kb,
        "key_cand": kc,
        "live_rows": int(len(base)),
        "live_defaults": int(y.sum()),
        "queue_rows": int(inq.sum()),
        "queue_defaults": int((bad > 0).sum()),
        "within_base": wb,
        "within_cand": wc,
        "pd_rows_differ": int((~np.isclose(pb, pc, rtol=0, atol=1e-12)).sum()),
        "priority_rows_differ": int((~np.isclose(prio_b, prio_c, rtol=0, atol=1e-9)).sum()),
        "ece": list(ece),
        "oracle": fig_b.get("oracle_capture_top20"),
        "check": {
            "base_capture": [point["capture"][0], fig_b.get("queue_capture_top20")],
            "cand_capture": [point["capture"][1], fig_c.get("queue_capture_top20")],
        },
        **res,
    }


def rule(books: list[dict]) -> dict:
    """The pre-registered rule (module docstring) over ``books``."""
    worse = {
        "capture": [b["book"] for b in books if b["capture"]["hi"] < 0],
        "auc": [b["book"] for b in books if b["auc"]["hi"] < 0],
        "logloss": [b["book"] for b in books if b["logloss"]["lo"] > 0],
    }
    pooled = {}
    for m in METRICS:
        mat = np.array([b[m]["reps"] for b in books], dtype="float64")
        mean_reps = np.nanmean(mat, axis=0)
        pooled[m] = {
            "mean": float(np.nanmean([b[m]["diff"] for b in books])),
            "lo": float(np.nanquantile(mean_reps, 0.025)),
            "hi": float(np.nanquantile(mean_reps, 0.975)),
        }
    differ = sum(b["pd_rows_differ"] > 0 for b in books)
    met = not any(worse.values()) and pooled["capture"]["mean"] > 0 and differ > 0
    return {"worse": worse, "pooled": pooled, "books_pd_differs": differ, "met": bool(met)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", help="BASE_BT:CAND_BT backtest folders of one book")
    ap.add_argument("--reps", type=int, default=400, help="bootstrap replicates (400)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    books = []
    for pair in args.pairs:
        a, b = pair.split(":")
        books.append(book_pair(Path(a), Path(b), args.reps, args.seed))

    def cell(d: dict, f: str = "+.4f") -> str:
        return f"{d['diff']:{f}} [{d['lo']:{f}}, {d['hi']:{f}}]"

    for b in books:
        print(
            f"{b['book']}: keys {b['key_base']} -> {b['key_cand']}, within {b['within_base']:g} -> "
            f"{b['within_cand']:g} (priority differs on {b['priority_rows_differ']:,} queue rows); "
            f"PD differs on {b['pd_rows_differ']:,} of "
            f"{b['live_rows']:,} live rows ({b['live_defaults']} defaults; queue {b['queue_rows']:,} rows, "
            f"{b['queue_defaults']} defaulted); capture {b['capture']['base']:.4f} -> {b['capture']['cand']:.4f} "
            f"(oracle {b['oracle']:.4f}) {cell(b['capture'])}; AUC {b['auc']['base']:.4f} -> {b['auc']['cand']:.4f} "
            f"{cell(b['auc'])}; Brier {cell(b['brier'], '+.6f')}; log-loss {cell(b['logloss'], '+.5f')}; "
            f"ECE {b['ece'][0]:.5f} -> {b['ece'][1]:.5f}"
        )
    r = rule(books) if books else {}
    if r:
        p = r["pooled"]
        print(
            "mean over {} books: capture {:+.4f} [{:+.4f}, {:+.4f}], AUC {:+.4f} [{:+.4f}, {:+.4f}], Brier {:+.6f} "
            "[{:+.6f}, {:+.6f}], log-loss {:+.5f} [{:+.5f}, {:+.5f}]".format(
                len(books), *(p[m][k] for m in METRICS for k in ("mean", "lo", "hi"))
            )
        )
        print(
            f"significantly worse: capture {r['worse']['capture']}, AUC {r['worse']['auc']}, log-loss "
            f"{r['worse']['logloss']}; PD differs on {r['books_pd_differs']} books; rule met: {r['met']}"
        )
    slim = [
        {
            k: (
                {kk: vv for kk, vv in v.items() if kk != "reps"} if isinstance(v, dict) and "reps" in v else v
            )
            for k, v in b.items()
        }
        for b in books
    ]
    text = json.dumps({"books": slim, "rule": r}, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
