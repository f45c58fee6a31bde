"""Where ews's gap to the oracle is on a ``benchmarks/third_book.py`` book, after ``benchmarks/third.py`` ran it.

On the same forward rows as ``benchmarks/third.py`` (the train flow's labelled rows at the forward
month-ends, models fitted on the rows a user had at the cut):

- the forward rows by the simulator's latent state at T (slow route H / S1 / S2 / S3 / X, retail R):
  rows, defaults, and how many of those defaults the shipped ews (its backtest PDs), the baseline
  (``benchmarks/baseline.py``) and the oracle put in their top 5 %;
- ablations with plain LightGBM (``baseline.plain_lgbm``, no calibration): ews's features
  (``feats_plain``); the same plus the industry's order volume (``+peers``: the segment's invoice count
  in the 3 months to T over the 3 months before, and over the same 3 months a year earlier, from
  invoices issued by T: the only place the hidden industry cycle shows); the same with an as-of month
  index (``+peers+time``: the upward drift of the default rate, as a trend); ews's features without
  the two per-debtor constants ``credit_limit`` and ``tenure_days`` (``-static``: a tree can pick out a
  debtor by them); the segment alone (``segment_only``).
  AUC, capture@5 %, Brier, mean PD / realised, with the paired debtor-bootstrap interval of each
  variant minus ``feats_plain``; the mean PD of each model per latent state, and the AUC of each
  model inside each route (the ranking apart from the routes' levels).

    nice -n 19 .venv/bin/python benchmarks/third_why.py --book /work/bench/s30-third/books/third-2000x36-s1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline, plain_lgbm  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from features.catalog import CATALOG  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]


def peer_features(invoices: pd.DataFrame, debtors: pd.DataFrame, dates) -> pd.DataFrame:
    """Per segment and as-of T: invoice count in (T-3m, T] over (T-6m, T-3m] and over (T-15m, T-12m]."""
    seg = debtors.set_index(debtors["debtor_id"].astype(str))["segment"].astype(str)
    inv = invoices.assign(segment=invoices["debtor_id"].astype(str).map(seg))
    issue = pd.to_datetime(inv["issue_date"])
    rows = []
    for t in dates:
        t = pd.Timestamp(t)

        def count(a, b, t=t):
            m = (issue > t - pd.DateOffset(months=a)) & (issue <= t - pd.DateOffset(months=b))
            return inv.loc[m].groupby("segment").size()

        now, prev, year = count(3, 0), count(6, 3), count(15, 12)
        for s in seg.unique():
            n, p, y = now.get(s, 0), prev.get(s, 0), year.get(s, np.nan)
            rows.append((t, s, np.log((n + 1) / (p + 1)), np.log((n + 1) / (y + 1)) if y == y else np.nan))
    return pd.DataFrame(rows, columns=["as_of", "segment", "peer_cnt_q_trend", "peer_cnt_yoy"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=Path, required=True)
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    portfolio, frame = regimes.modelling_frame(args.book, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(args.book / "truth.parquet")
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    fwd = [pd.Timestamp(t) for t in observed[-args.forward :]]
    dates = sorted(frame["as_of"].unique())
    peers = peer_features(portfolio.invoices, portfolio.debtors, dates)
    frame = frame.merge(peers, on=["as_of", "segment"], how="left")
    first = pd.Timestamp(dates[0])
    frame["month_index"] = (frame["as_of"].dt.year - first.year) * 12 + frame["as_of"].dt.month - first.month
    past = as_of_cut(frame, cut, 90)
    train = past[past["label"].notna()]
    test = frame[frame["as_of"].isin(fwd) & frame["label"].notna()].copy()
    test = test.merge(truth[[*KEYS, "oracle_pd", "route", "state"]], on=KEYS, how="left")
    rows = pd.read_parquet(args.book / "proj" / "bt" / "backtest_rows.parquet")
    rows = rows.assign(debtor_id=rows["debtor_id"].astype(str), as_of=pd.to_datetime(rows["as_of"]))
    test = test.merge(rows[[*KEYS, "pd"]].rename(columns={"pd": "ews"}), on=KEYS, how="left")
    feats = [c for c in frame.columns if c in CATALOG] + [c for c in ("segment", "country") if c in frame]
    cats = {c: sorted(frame[c].dropna().astype(str).unique()) for c in ("segment", "country") if c in frame}
    y_tr = train["label"].astype(int).to_numpy()
    scores = {"ews": test["ews"].to_numpy(float), "oracle": test["oracle_pd"].to_numpy(float)}
    base = baseline_features(portfolio, dates)
    bcats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_tr = train[KEYS].merge(base, on=KEYS, how="left")
    b_te = test[KEYS].merge(base, on=KEYS, how="left")
    bl = fit_baseline(prepare_matrix(b_tr, list(BASELINE_FEATURES), bcats), y_tr)
    scores["baseline"] = bl.predict_proba(prepare_matrix(b_te, list(BASELINE_FEATURES), bcats))[:, 1]
    variants = {
        "feats_plain": feats,
        "+peers": [*feats, "peer_cnt_q_trend", "peer_cnt_yoy"],
        "+peers+time": [*feats, "peer_cnt_q_trend", "peer_cnt_yoy", "month_index"],
        "-static": [f for f in feats if f not in ("credit_limit", "tenure_days")],
        "segment_only": ["segment"],
    }
    for name, cols in variants.items():
        m = plain_lgbm().fit(prepare_matrix(train, cols, cats), y_tr)
        scores[name] = m.predict_proba(prepare_matrix(test, cols, cats))[:, 1]
    ok = ~np.isnan(scores["ews"]) & ~np.isnan(scores["oracle"])
    y = test["label"].astype(int).to_numpy()[ok]
    sc = {k: v[ok] for k, v in scores.items()}
    out = {"book": args.book.name, "cut": str(cut.date()), "rows": int(ok.sum()), "defaults": int(y.sum())}
    out["train"] = {"rows": len(train), "defaults": int(y_tr.sum())}
    out["metrics"] = {}
    for k, p in sc.items():
        m = classification_metrics(y, p)
        out["metrics"][k] = {x: round(float(m[x]), 5) for x in ("auc", "capture_5pct", "brier", "ece")}
        out["metrics"][k]["mean_over_realised"] = round(float(p.mean() / y.mean()), 3)
    ci = bootstrap_intervals(
        y,
        sc,
        test["debtor_id"].to_numpy()[ok],
        pairs=[
            ("+peers", "feats_plain"),
            ("+peers+time", "feats_plain"),
            ("-static", "feats_plain"),
            ("ews", "feats_plain"),
        ],
        n_boot=args.n_boot,
        seed=0,
    )
    out["paired"] = {
        k: {m: [round(x, 4) for x in v[m]] for m in ("auc", "capture_5pct", "brier") if m in v}
        for k, v in ci.items()
        if "-" in k
    }
    t = test[ok].reset_index(drop=True)
    group = np.where(t["route"] == "sudden", t["state"], "slow_" + t["state"].astype(str))
    table = {}
    tops = {
        k: sc[k] >= np.quantile(sc[k], 0.95) for k in ("ews", "baseline", "feats_plain", "+peers", "oracle")
    }
    for g in sorted(set(group)):
        idx = group == g
        table[g] = {"rows": int(idx.sum()), "defaults": int(y[idx].sum())}
        for k, top in tops.items():
            table[g][f"top5_{k}"] = int((top & idx & (y == 1)).sum())
        for k in ("ews", "baseline", "feats_plain", "-static", "segment_only", "oracle"):
            table[g][f"mean_{k}"] = round(float(sc[k][idx].mean()), 4)
    out["by_state"] = table
    # AUC inside each route: the ranking within a route, apart from the routes' levels
    out["auc_within_route"] = {}
    for route in sorted(t["route"].unique()):
        idx = (t["route"] == route).to_numpy()
        if 0 < y[idx].sum() < idx.sum():
            out["auc_within_route"][route] = {
                k: round(float(classification_metrics(y[idx], sc[k][idx])["auc"]), 4) for k in sc
            }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
