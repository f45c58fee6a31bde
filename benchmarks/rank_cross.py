"""The roll-rate model refitted at a book's cut with variants of its within-state adjustment (the states'
bands, the scale) and scored on the book's backtest queue (session 29, issue 11; exploration, no product code).

    nice python benchmarks/rank_cross.py ING:BT:CUT_YAML [...] [--variants nobands,gain1,nobands+gain1]
        [--reps 200] [--seed 0] [--json out.json]

``ING`` is an ``ews ingest`` folder, ``BT`` the ``ews backtest --compare-keys --rows`` folder of the roll-rate
version trained with ``CUT_YAML``. As ``benchmarks/rank_within.py``: the modelling frame is rebuilt from ``ING``,
the model refitted on the month-ends up to the cut (``shipped``: ``CUT_YAML``'s settings; its PDs are checked
against the backtest's, ``fidelity`` = the largest absolute difference), and each variant beside it:

- ``nobands``: the within-state adjustment fitted and applied without the states' bands (``state_bands``
  replaced by open bands: a debtor's PD may pass a neighbouring state's), always used when its usual
  out-of-time check against one PD per state passes;
- ``gainS``: ``within_gain_sd`` = S (the scale on the adjustment fitted on the labels, e.g. ``gain1``);
- ``cross``: ``rollrate.within_cross`` (only on a checkout that has it: branch ``s29-rank-cross``), the
  unbanded adjustment used only when its hold-out log-loss beats the banded one's by ``CROSS_MARGIN``.

Per variant, paired with ``shipped`` (Poisson debtor bootstrap, ``--reps``, ``--seed``): the queue's
``queue_capture_top20`` with the backtest's key, the PD's AUC, Brier and log-loss on the live rows; then the
mean over the books with its replicate-wise interval and the books significantly worse.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import models.rollrate as rr  # noqa: E402

ORIG_BANDS = rr.state_bands


def no_bands(level):
    return np.full(len(level), -np.inf), np.full(len(level), np.inf)


def fit_variant(past, params, name):
    if name == "shipped":
        return rr.RollRateModel(params).fit(past)
    p = params
    if "gain" in name:
        p = replace(p, within_gain_sd=float(name.split("gain")[1].split("+")[0] or 1.0))
    if "cross" in name:
        p = replace(p, within_cross=True)
    if "nobands" in name:
        rr.state_bands = no_bands
    try:
        return rr.RollRateModel(p).fit(past)
    finally:
        rr.state_bands = ORIG_BANDS


def book(ing: Path, bt: Path, cut_yaml: Path, variants, reps, seed):
    from rank_decide import METRICS, _pd_metrics, _queue

    from features.statements import with_statement_dpd
    from models.queue_key import queue_orders, weighted_capture
    from pipelines.adapters.files import read_portfolio
    from pipelines.config import load_config
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.train import build_dataset, snapshot_dates

    cfg = load_config(cut_yaml, expect=TrainConfig)
    project = ProjectConfig()
    cut = pd.Timestamp(cfg.snapshots.end)
    portfolio = read_portfolio(ing)
    every = cfg.model_copy(update={"snapshots": cfg.snapshots.model_copy(update={"end": None})})
    frame = with_statement_dpd(build_dataset(portfolio, snapshot_dates(portfolio, every), project))
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    horizon = pd.Timedelta(days=project.default_definition.horizon_days)
    past = frame[frame["as_of"] <= cut].copy()
    past.loc[past["as_of"] + horizon > cut, "label"] = pd.NA
    params = cfg.rollrate.to_params(project.default_definition.to_params(), cfg)
    meta = json.loads((bt / "backtest.json").read_text())
    key = meta["settings"].get("queue_key", "pd")
    rows = pd.read_parquet(bt / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    live = rows.loc[rows["horizon_observed"].astype(bool) & ~rows["in_default"].astype(bool)]
    live = live.sort_values(["as_of", "debtor_id"]).reset_index(drop=True)
    X = live[["debtor_id", "as_of"]].merge(frame, on=["debtor_id", "as_of"], how="left")
    shipped = fit_variant(past, params, "shipped")
    p_ship = shipped.predict_proba(X)[:, 1]
    fidelity = float(np.max(np.abs(p_ship - live["pd"].to_numpy(dtype="float64"))))
    y = live["label"].fillna(0).astype(int).to_numpy()
    base = live.assign(pd=p_ship)
    inq, prio_b, tie_b = _queue(base, key)
    q = base.loc[inq].reset_index(drop=True)
    ob_ = queue_orders(q, prio_b, tie_b)
    obal = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    bad = np.where(q["label"].fillna(0).astype(int).to_numpy() == 1, obal, 0.0)
    codes, uniq = pd.factorize(live["debtor_id"])
    out = {
        "book": bt.parent.name if bt.parent.name != "main" else bt.parent.parent.name,
        "key": key,
        "fidelity": fidelity,
        "note_shipped": shipped.within_.note if shipped.within_ is not None else "",
    }
    for v in variants:
        m = fit_variant(past, params, v)
        p_new = m.predict_proba(X)[:, 1]
        _, prio_c, tie_c = _queue(live.assign(pd=p_new), key)
        oc_ = queue_orders(q, prio_c, tie_c)

        def figures(w, p_new=p_new, oc_=oc_):
            mb, mc = _pd_metrics(y, p_ship, w), _pd_metrics(y, p_new, w)
            o = {k: (mb[k], mc[k]) for k in mb}
            o["capture"] = (weighted_capture(ob_, bad, w[inq]), weighted_capture(oc_, bad, w[inq]))
            return o

        point = figures(np.ones(len(live)))
        rng = np.random.default_rng(seed)
        draws = {k: [] for k in METRICS}
        for _ in range(reps):
            f = figures(rng.poisson(1.0, len(uniq)).astype("float64")[codes])
            for k in METRICS:
                draws[k].append(f[k][1] - f[k][0])
        res = {}
        for k in METRICS:
            arr = np.asarray(draws[k])
            arr = arr[np.isfinite(arr)]
            lo, hi = (float(x) for x in np.quantile(arr, [0.025, 0.975]))
            res[k] = {
                "base": point[k][0],
                "cand": point[k][1],
                "diff": point[k][1] - point[k][0],
                "lo": lo,
                "hi": hi,
                "reps": arr.tolist(),
            }
        w = m.within_
        res["note"] = w.note if w is not None else ""
        res["differ"] = int((~np.isclose(p_ship, p_new, rtol=0, atol=1e-12)).sum())
        out[v] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="+")
    ap.add_argument("--variants", default="nobands,gain1,nobands+gain1")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    variants = a.variants.split(",")
    books = []
    for spec in a.books:
        ing, bt, yml = spec.split(":")
        b = book(Path(ing), Path(bt), Path(yml), variants, a.reps, a.seed)
        books.append(b)
        print(
            f"{b['book']} key {b['key']} fidelity {b['fidelity']:.1e}; shipped: {b['note_shipped'][:90]}",
            flush=True,
        )
        for v in variants:
            r = b[v]
            print(
                f"  {v}: differ {r['differ']}; capture {r['capture']['base']:.4f} -> {r['capture']['cand']:.4f} "
                f"{r['capture']['diff']:+.4f} [{r['capture']['lo']:+.4f}, {r['capture']['hi']:+.4f}]; AUC {r['auc']['diff']:+.4f} "
                f"[{r['auc']['lo']:+.4f}, {r['auc']['hi']:+.4f}]; log-loss {r['logloss']['diff']:+.5f} [{r['logloss']['lo']:+.5f}, "
                f"{r['logloss']['hi']:+.5f}]; Brier {r['brier']['diff']:+.6f}; {r['note'][:160]}",
                flush=True,
            )
    for v in variants:
        for k in ("capture", "auc", "brier", "logloss"):
            mat = np.array([b[v][k]["reps"] for b in books])
            mr = np.nanmean(mat, axis=0)
            print(
                f"POOLED {v} {k}: {np.mean([b[v][k]['diff'] for b in books]):+.5f} [{np.quantile(mr, 0.025):+.5f}, {np.quantile(mr, 0.975):+.5f}]"
                f"; worse on {[b['book'] for b in books if (b[v][k]['hi'] < 0 if k in ('capture', 'auc') else b[v][k]['lo'] > 0)]}"
            )
    if a.json:
        for b in books:
            for v in variants:
                for k in ("capture", "auc", "brier", "logloss"):
                    b[v][k].pop("reps")
        a.json.write_text(json.dumps(books, default=float))


if __name__ == "__main__":
    main()
