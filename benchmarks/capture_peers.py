"""Candidate (issue 9, not shipped): segment-level peer features added to ews's modelling frame.

Per segment and as-of date, over the debtors in the frame at that date (what a nightly run would
see; point in time): the share 30+ days past due, the mean days past due (capped at 180), the mean
overdue share, the mean paid-to-invoiced ratio over 90 days, and the 3-month change of the first and
third. Forward test as ``benchmarks/regimes.py`` (books cached there, the product's
``train_pd_model`` with conf/train.yaml on the rows a user had at the cut, the shipped model scoring
the ``--forward`` snapshots after it), with and without the peer columns; paired debtor bootstrap
(200 draws) of the AUC and capture@5 % differences.

    nice .venv/bin/python benchmarks/capture_peers.py --work /tmp/ews-peers --regimes contagion stress --seeds 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import regimes as R  # noqa
from train_forward import as_of_cut  # noqa
from models.evaluate import classification_metrics  # noqa
from pipelines.config import load_config  # noqa
from pipelines.config.train import TrainConfig  # noqa


def peers(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.copy()
    g = (
        f.assign(
            _d30=(f["dpd_current_max"].fillna(0) >= 30).astype(float),
            _dpd=f["dpd_current_max"].fillna(0).clip(0, 180),
            _ov=f["overdue_share"].fillna(0),
            _pt=f["paid_to_invoiced_90d"].clip(0, 2),
        )
        .groupby(["segment", "as_of"], observed=True)[["_d30", "_dpd", "_ov", "_pt"]]
        .mean()
    )
    g.columns = ["peer_dpd30_share", "peer_dpd_mean", "peer_overdue_share", "peer_paid_to_invoiced_90d"]
    g = g.sort_index()
    # change over 3 month-ends within each segment
    for c in ["peer_dpd30_share", "peer_overdue_share"]:
        g[c + "_chg3"] = g[c] - g.groupby(level=0)[c].shift(3)
    f = f.merge(g.reset_index(), on=["segment", "as_of"], how="left")
    return f


def run(regime, seed, work, cfg, params, forward):
    data, gen = R.book(regime, seed, work, None, None)
    _, frame = R.modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))[
        ["debtor_id", "as_of", "oracle_pd"]
    ]
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-forward - 1])
    out = {"regime": regime, "seed": seed}
    fr = {"ews": frame, "ews+peers": peers(frame)}
    res = {}
    for name, f in fr.items():
        past = as_of_cut(f, cut, R.HORIZON_DAYS)
        oc = R.train_pd_model(past, params)
        test_rows = f[f["as_of"].isin(observed[-forward:]) & f["label"].notna()]
        p = oc.final_estimator.predict_proba(test_rows)[:, 1]
        y = test_rows["label"].astype(int).to_numpy()
        t = test_rows[["debtor_id", "as_of"]].merge(truth, on=["debtor_id", "as_of"], how="left")
        res[name] = (p, oc.kind)
        res["oracle"] = (t["oracle_pd"].to_numpy(), "oracle")
        res["_y"] = y
        res["_ids"] = test_rows["debtor_id"].to_numpy()
    y = res.pop("_y")
    ids = res.pop("_ids")
    ok = ~np.isnan(res["oracle"][0])
    for k, (p, kind) in res.items():
        m = classification_metrics(y[ok], p[ok])
        out[k] = {"auc": round(m["auc"], 4), "cap5": round(m["capture_5pct"], 4), "kind": kind}
    # paired debtor bootstrap of AUC and capture difference
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    u, inv = np.unique(ids[ok], return_inverse=True)
    a, b, yy = res["ews+peers"][0][ok], res["ews"][0][ok], y[ok]

    def cap(yv, pv):
        k = max(1, int(round(0.05 * len(pv))))
        top = np.argsort(-pv, kind="stable")[:k]
        return yv[top].sum() / max(1, yv.sum())

    d_auc, d_cap = [], []
    for _ in range(200):
        pick = rng.integers(0, len(u), len(u))
        cnt = np.bincount(pick, minlength=len(u))
        rw = cnt[inv]
        sel = np.repeat(np.arange(len(yy)), rw)
        if yy[sel].min() == yy[sel].max():
            continue
        d_auc.append(roc_auc_score(yy[sel], a[sel]) - roc_auc_score(yy[sel], b[sel]))
        d_cap.append(cap(yy[sel], a[sel]) - cap(yy[sel], b[sel]))
    out["d_auc"] = [
        round(float(np.mean(d_auc)), 4),
        round(float(np.percentile(d_auc, 2.5)), 4),
        round(float(np.percentile(d_auc, 97.5)), 4),
    ]
    out["d_cap"] = [
        round(float(np.mean(d_cap)), 4),
        round(float(np.percentile(d_cap, 2.5)), 4),
        round(float(np.percentile(d_cap, 97.5)), 4),
    ]
    out["rows"] = int(ok.sum())
    out["defaults"] = int(y[ok].sum())
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--regimes", nargs="+", default=["contagion", "stress", "quiet", "base"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-peers"))
    ap.add_argument("--forward", type=int, default=6)
    a = ap.parse_args()
    cfg = load_config(ROOT / "conf/train.yaml", expect=TrainConfig)
    params = cfg.to_params()
    for s in a.seeds:
        for r in a.regimes:
            t0 = time.time()
            o = run(r, s, a.work, cfg, params, a.forward)
            o["s"] = round(time.time() - t0)
            print(json.dumps(o), flush=True)
