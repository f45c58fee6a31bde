"""Why ews's capture@5 % trails the oracle's: who is missed, what the ledger could show, what helps.

Same books, cut and forward rows as ``benchmarks/regimes.py`` (the generated book and its modelling
frame are read from ``--work``, as cached there; run ``regimes.py`` first). Per regime:

1. **ews**: ``models.train.train_pd_model`` with ``conf/train.yaml`` on what a user had at the cut,
   scored on the ``--forward`` observed snapshots after it; **oracle**: the generator's exact PD.
2. **Who is missed.** The forward defaulters are split by whether they sit in ews's and the oracle's
   top 5 % (of all forward rows). For those in the oracle's top 5 % only, their state at T: already
   stopped paying (oracle PD >= 0.99: the generator has decided the default, the ledger shows it only
   when the next payment is missed), already past due >= 30 days, or no ledger signal at all (nothing
   overdue, paid in the last 45 days).
3. **Ledger-observable ceilings** on the forward rows themselves (so they use labels no user has;
   upper bounds, not models): ``ceiling_labels_cv``: LightGBM with ews's features and settings fitted
   on the forward labels, 5-fold by debtor (out of fold); ``ceiling_labels_insample``: the same fitted
   and scored on all forward rows; ``ceiling_oracle_cv``: LightGBM with ews's features fitted to the
   oracle PD itself (cross-entropy on a probability target), 5-fold by debtor: the part of the oracle
   that ews's features can express.
4. **Candidates** (``--candidates``), each fitted on the same labelled rows before the cut and scored on
   the same forward rows: ``shipped`` (ews's LightGBM settings and tree count, all labelled rows),
   ``recent12`` (rows weighted 0.5 ** (snapshots before the cut / 12)), ``posweight3`` (defaults
   weighted 3x), ``state_now`` (five ratios of the current ledger state to the debtor's own history,
   computed from frame columns), ``ens_scorecard`` (mean of the LightGBM and scorecard log-odds ranks).

    nice .venv/bin/python benchmarks/capture_gap.py --work /tmp/ews-regimes --seed 1 --candidates --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import rankdata

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from regimes import HORIZON_DAYS, KEYS, book  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import classification_metrics  # noqa: E402
from models.scorecard import fit_scorecard, scorecard_predict  # noqa: E402
from models.train import _lgbm, prepare_matrix, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.synthetic import REGIMES  # noqa: E402


def cached_frame(data: Path) -> pd.DataFrame:
    """The newest modelling frame ``regimes.py`` cached for this book."""
    frames = sorted(data.glob("frame-*.parquet"), key=lambda p: p.stat().st_mtime)
    if not frames:
        raise SystemExit(f"no cached modelling frame in {data}: run benchmarks/regimes.py --work first")
    frame = pd.read_parquet(frames[-1])
    return frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))


def state_now(frame: pd.DataFrame) -> pd.DataFrame:
    """Five ratios of the ledger state now to the debtor's own history (NaN when undefined)."""

    def ratio(a: pd.Series, b: pd.Series) -> pd.Series:
        a, b = a.astype(float), b.astype(float)
        return (a / b).where(b > 0)

    pace = ratio(frame["payment_count_365d"], pd.Series(365.0, index=frame.index))
    return pd.DataFrame(
        {
            "pay_amount_90_vs_365": ratio(frame["payment_amount_90d"], frame["payment_amount_365d"] / 4),
            "pay_count_90_vs_365": ratio(frame["payment_count_90d"], frame["payment_count_365d"] / 4),
            "overdue_to_monthly_paid": ratio(frame["overdue_amount"], frame["payment_amount_365d"] / 12),
            "open_to_monthly_invoiced": ratio(frame["open_balance"], frame["invoice_amount_365d"] / 12),
            "payments_due_since_last": frame["days_since_last_payment"].astype(float) * pace,
        },
        index=frame.index,
    )


def _m(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = classification_metrics(y, rankdata(p) / (len(p) + 1))  # rank-based figures only
    return {"auc": round(m["auc"], 4), "capture_5pct": round(m["capture_5pct"], 4)}


def _top(p: np.ndarray, share: float = 0.05) -> np.ndarray:
    k = max(int(np.ceil(share * len(p))), 1)
    order = np.argsort(-p, kind="stable")
    out = np.zeros(len(p), dtype=bool)
    out[order[:k]] = True
    return out


def _folds(debtors: np.ndarray, k: int, seed: int) -> np.ndarray:
    keys, inv = np.unique(debtors, return_inverse=True)
    return (np.random.default_rng(seed).permutation(len(keys)) % k)[inv]


def _cv(make, X: pd.DataFrame, target: np.ndarray, debtors: np.ndarray, seed: int) -> np.ndarray:
    fold = _folds(debtors, 5, seed)
    out = np.empty(len(X))
    for k in range(5):
        fit = fold != k
        model = make().fit(X[fit], target[fit])
        out[~fit] = model.predict(X[~fit], raw_score=True)
    return out


def run(regime: str, args: argparse.Namespace, params) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, gen = book(regime, args.seed, args.work, None, None)
    frame = cached_frame(data)
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    outcome = train_pd_model(past, params)
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    fwd = fwd.merge(truth[[*KEYS, "oracle_pd"]], on=KEYS, how="left")
    fwd = fwd[fwd["oracle_pd"].notna()].reset_index(drop=True)
    y = fwd["label"].astype(int).to_numpy()
    oracle = fwd["oracle_pd"].clip(0, 1).to_numpy(float)
    ews = outcome.final_estimator.predict_proba(fwd)[:, 1]
    feats, cats = outcome.feature_names, outcome.categories
    Xf = prepare_matrix(fwd, feats, cats)
    res: dict[str, Any] = {
        "regime": regime,
        "book": f"{gen.debtors}x{gen.months}",
        "seed": args.seed,
        "cut": str(cut.date()),
        "rows": len(fwd),
        "defaults": int(y.sum()),
        "kind": outcome.kind,
        "trees": outcome.best_iteration,
        "calibration": outcome.calibration.method,
        "calibration_rule": outcome.calibration.rule,
        "calibration_selection_logloss": outcome.calibration.oot_logloss,
        "calibration_test_logloss": outcome.calibration.test_logloss,
    }
    scores: dict[str, np.ndarray] = {"ews": ews, "oracle": oracle}

    # who is missed
    te, to = _top(ews), _top(oracle)
    d = y == 1
    stopped = oracle >= 0.99
    dpd = fwd["dpd_current_max"].fillna(0).to_numpy(float)
    overdue = fwd["overdue_amount"].fillna(0).to_numpy(float)
    since_pay = fwd["days_since_last_payment"].to_numpy(float)
    silent = (overdue <= 0) & (since_pay <= 45)
    miss = d & to & ~te
    pct = rankdata(ews) / len(ews)
    res["defaulters"] = {
        "both_top5": int((d & te & to).sum()),
        "oracle_top5_only": int(miss.sum()),
        "ews_top5_only": int((d & te & ~to).sum()),
        "neither": int((d & ~te & ~to).sum()),
        "stopped_share_all": round(float(stopped[d].mean()), 3),
        "missed_stopped": int((miss & stopped).sum()),
        "missed_dpd30": int((miss & (dpd >= 30)).sum()),
        "missed_silent": int((miss & silent).sum()),
        "missed_median_ews_percentile": round(float(np.median(pct[miss])), 3) if miss.any() else None,
        "missed_median_dpd": float(np.median(dpd[miss])) if miss.any() else None,
        "caught_stopped": int((d & te & stopped).sum()),
        "stopped_in_oracle_top5": int((d & to & stopped).sum()),
    }
    # ceilings on the forward rows (they use forward labels / the oracle: bounds, not models)
    tree = max(outcome.best_iteration, 50)

    def clf():
        return _lgbm(params.lgbm, tree, params.seed)

    def reg():
        m = _lgbm(params.lgbm, tree, params.seed)
        return lgb.LGBMRegressor(
            objective="cross_entropy", **{k: v for k, v in m.get_params().items() if k != "objective"}
        )

    debtors = fwd["debtor_id"].to_numpy()
    scores["ceiling_labels_cv"] = _cv(clf, Xf, y, debtors, params.seed)
    scores["ceiling_labels_insample"] = clf().fit(Xf, y).predict(Xf, raw_score=True)
    scores["ceiling_oracle_cv"] = _cv(reg, Xf, oracle, debtors, params.seed)

    if args.candidates:
        before = past[past["label"].notna()].reset_index(drop=True)
        yb = before["label"].astype(int).to_numpy()
        Xb = prepare_matrix(before, feats, cats)
        dates = pd.DatetimeIndex(sorted(before["as_of"].unique()))
        age = len(dates) - 1 - dates.get_indexer(pd.DatetimeIndex(before["as_of"]))
        fits = {
            "shipped": None,
            "recent12": 0.5 ** (age / 12.0),
            "posweight3": np.where(yb == 1, 3.0, 1.0),
        }
        for name, w in fits.items():
            scores[name] = clf().fit(Xb, yb, sample_weight=w).predict(Xf, raw_score=True)
        extra_b, extra_f = state_now(before), state_now(fwd)
        Xb2 = pd.concat([Xb, extra_b], axis=1)
        Xf2 = pd.concat([Xf, extra_f], axis=1)
        scores["state_now"] = clf().fit(Xb2, yb).predict(Xf2, raw_score=True)
        cat_cols = list(cats)
        sc = fit_scorecard(Xb, yb, cat_cols, params.scorecard)
        p_sc = scorecard_predict(sc, Xf, cat_cols)
        scores["scorecard"] = p_sc
        scores["ens_scorecard"] = rankdata(scores["shipped"]) + rankdata(p_sc)
    res["metrics"] = {k: _m(y, v) for k, v in scores.items()}
    o = res["metrics"]["oracle"]
    for m in res["metrics"].values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 4)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 4)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def ceilings(regime: str, args: argparse.Namespace, params) -> dict[str, Any]:
    """Ledger-observable ceilings without retraining ews (``--ceilings-only``): ews's feature set
    (every frame feature column that carries information on the labelled rows before the cut) and
    LightGBM settings with ``--trees`` trees, fitted to the exact oracle PD instead of 0/1 labels
    (cross-entropy on a probability target): on the rows before the cut (``oracle_target_oot``: what
    the features could rank with noise-free targets, out of time) and on the forward rows themselves
    (``oracle_target_insample``: the projection of the oracle onto the features). ``labels_oot``: the
    same settings on the 0/1 labels, for comparison."""
    from models.train import NON_FEATURES, select_features

    t0 = time.perf_counter()
    data, gen = book(regime, args.seed, args.work, None, None)
    frame = cached_frame(data)
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    frame = frame.merge(truth[[*KEYS, "oracle_pd"]], on=KEYS, how="left")
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    before = past[past["label"].notna() & past["oracle_pd"].notna()].reset_index(drop=True)
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    fwd = fwd[fwd["oracle_pd"].notna()].reset_index(drop=True)
    cand = [c for c in frame.columns if c not in NON_FEATURES and c != "oracle_pd"]
    feats, _ = select_features(before, cand)
    cats = {c: sorted(before[c].dropna().astype(str).unique()) for c in feats if c in params.categorical}
    Xb, Xf = prepare_matrix(before, feats, cats), prepare_matrix(fwd, feats, cats)
    y = fwd["label"].astype(int).to_numpy()
    oracle = fwd["oracle_pd"].clip(0, 1).to_numpy(float)
    base = _lgbm(params.lgbm, args.trees, params.seed)
    kw = {k: v for k, v in base.get_params().items() if k != "objective"}
    scores = {
        "oracle": oracle,
        "labels_oot": base.fit(Xb, before["label"].astype(int)).predict(Xf, raw_score=True),
        "oracle_target_oot": lgb.LGBMRegressor(objective="cross_entropy", **kw)
        .fit(Xb, before["oracle_pd"].clip(0, 1))
        .predict(Xf, raw_score=True),
        "oracle_target_insample": lgb.LGBMRegressor(objective="cross_entropy", **kw)
        .fit(Xf, oracle)
        .predict(Xf, raw_score=True),
    }
    metrics = {k: _m(y, v) for k, v in scores.items()}
    o = metrics["oracle"]
    for m in metrics.values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 4)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 4)
    return {
        "regime": regime,
        "book": f"{gen.debtors}x{gen.months}",
        "seed": args.seed,
        "rows": len(fwd),
        "defaults": int(y.sum()),
        "features": len(feats),
        "trees": args.trees,
        "metrics": metrics,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--candidates", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ceilings-only", action="store_true", help="only the oracle-target ceilings")
    ap.add_argument("--trees", type=int, default=300, help="trees of the --ceilings-only models")
    args = ap.parse_args()
    params = load_config(args.config, expect=TrainConfig).to_params()
    results = []
    if args.ceilings_only:
        for regime in args.regimes.split(","):
            r = ceilings(regime, args, params)
            results.append(r)
            print(f"{regime} seed {args.seed}: {r['rows']} rows, {r['defaults']} defaults, {r['seconds']} s")
            for k, m in r["metrics"].items():
                print(
                    f"  {k:26s} AUC {m['auc']:.4f} ({m['auc_ratio']:.3f})  cap5 {m['capture_5pct']:.3f} "
                    f"({m['capture_ratio']:.3f})",
                    flush=True,
                )
            if args.json:
                args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        return
    for regime in args.regimes.split(","):
        r = run(regime, args, params)
        results.append(r)
        print(
            f"{regime} seed {args.seed} ({r['book']}): {r['rows']} rows, {r['defaults']} defaults, "
            f"{r['seconds']} s; calibration {r['calibration']}",
            flush=True,
        )
        print("  defaulters:", json.dumps(r["defaulters"]), flush=True)
        for k, m in r["metrics"].items():
            print(
                f"  {k:26s} AUC {m['auc']:.4f} ({m['auc_ratio']:.3f})  cap5 {m['capture_5pct']:.3f} "
                f"({m['capture_ratio']:.3f})",
                flush=True,
            )
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
