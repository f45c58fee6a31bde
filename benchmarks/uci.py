"""Public benchmark: UCI "default of credit card clients" (Yeh & Lien 2009), statement-history path.

The file is read with the pipeline's mapping (``pipelines.sources.uci.read_uci``: six monthly
statements per card holder), features come from the pipeline's statement features
(``features.statements.build_statement_features`` as of 2005-09-30), and the label is the October
2005 default. Under stratified 5-fold cross-validation (one snapshot, so folds are by client) each
training fold is cut into fit (81%), early-stopping validation (9%) and calibration (10%) parts;
the calibrated LightGBM (``models.train.fit_lgbm`` + ``models.calibrate.calibrate``) and the WoE
scorecard baseline (``models.scorecard``) are scored on the held-out fold. Runs twice: behavioural
features only, and with the demographic attributes (sex, education, marriage, age) added.

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/uci.py --path ../shared/data/uci_credit_card.csv

Prints a table per variant, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from models.calibrate import choose_calibration
from models.evaluate import classification_metrics
from models.scorecard import fit_scorecard, scorecard_predict
from models.train import LGBMParams, fit_lgbm, prepare_matrix
from pipelines.sources.uci import PERIOD_ENDS, read_uci

AS_OF = PERIOD_ENDS[-1]


def load(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Statement features, demographic attributes (aligned) and the 0/1 label, one row per client."""
    from features.statements import build_statement_features

    data = read_uci(path)
    feats = build_statement_features(data.statements, [AS_OF])
    if "debtor_id" not in feats.columns:
        feats = feats.reset_index()
    labels = data.labels[["debtor_id", "default_next_month"]]
    merged = feats.merge(labels, on="debtor_id", how="inner", validate="one_to_one")
    merged = merged.merge(data.attributes, on="debtor_id", how="left", validate="one_to_one")
    y = merged["default_next_month"].astype("int64").to_numpy()
    drop = {"debtor_id", "as_of", "default_next_month", "education_documented", "marriage_documented"}
    demo = ["sex", "education", "marriage", "age"]
    behaviour = merged[[c for c in feats.columns if c not in drop]]
    attrs = merged[demo].astype("float64")
    return behaviour, attrs, y


def ece_noise_floor(p: np.ndarray, seed: int, draws: int = 200) -> float:
    """Mean ECE of a *perfectly calibrated* model with these PDs: labels drawn as Bernoulli(p).

    With a few thousand rows per fold the ECE of 10 bins cannot go much below this sampling floor.
    """
    rng = np.random.default_rng(seed)
    return float(
        np.mean(
            [classification_metrics((rng.random(p.size) < p).astype(int), p)["ece"] for _ in range(draws)]
        )
    )


def run_variant(
    X_all: pd.DataFrame, y: np.ndarray, params: LGBMParams, folds: int, seed: int, cal_share: float
) -> dict:
    numeric = [c for c in X_all.columns if pd.api.types.is_numeric_dtype(X_all[c])]
    X_all = prepare_matrix(X_all, numeric, {})
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = []
    oof = {"model": np.zeros(len(y)), "baseline": np.zeros(len(y))}
    for k, (train_idx, test_idx) in enumerate(cv.split(X_all, y)):
        t = time.perf_counter()
        rest, cal = train_test_split(
            train_idx, test_size=cal_share, stratify=y[train_idx], random_state=seed + k
        )
        fit, valid = train_test_split(rest, test_size=0.1, stratify=y[rest], random_state=seed + k)
        model, best = fit_lgbm(X_all.iloc[fit], y[fit], X_all.iloc[valid], y[valid], params, seed=seed)
        # calibrator on the raw score, method chosen by 5-fold CV inside the calibration rows
        s_cal = model.predict(X_all.iloc[cal], raw_score=True)
        calibrator, choice = choose_calibration(s_cal, y[cal], seed=seed + k)
        p = np.clip(calibrator.predict(model.predict(X_all.iloc[test_idx], raw_score=True)), 1e-4, 1 - 1e-4)
        scorecard = fit_scorecard(X_all.iloc[rest], y[rest], [])
        p_base = scorecard_predict(scorecard, X_all.iloc[test_idx], [])
        oof["model"][test_idx], oof["baseline"][test_idx] = p, p_base
        m, b = classification_metrics(y[test_idx], p), classification_metrics(y[test_idx], p_base)
        rows.append(
            {
                "fold": k,
                "auc": m["auc"],
                "ece": m["ece"],
                "brier": m["brier"],
                "ece_floor": ece_noise_floor(p, seed + k),
                "baseline_auc": b["auc"],
                "baseline_ece": b["ece"],
                "trees": best,
                "calibration": choice.method,
                "seconds": time.perf_counter() - t,
            }
        )
        print(
            f"  fold {k}: AUC {m['auc']:.4f} ECE {m['ece']:.4f} ({best} trees, {choice.method}) | "
            f"scorecard AUC {b['auc']:.4f} ECE {b['ece']:.4f} | ECE floor {rows[-1]['ece_floor']:.4f} "
            f"[{rows[-1]['seconds']:.1f} s]",
            flush=True,
        )
    table = pd.DataFrame(rows)
    pooled_m, pooled_b = classification_metrics(y, oof["model"]), classification_metrics(y, oof["baseline"])
    return {
        "features": len(numeric),
        "auc_mean": round(table["auc"].mean(), 4),
        "auc_std": round(table["auc"].std(), 4),
        "ece_mean": round(table["ece"].mean(), 4),
        "ece_max": round(table["ece"].max(), 4),
        "ece_noise_floor_mean": round(table["ece_floor"].mean(), 4),
        "brier_mean": round(table["brier"].mean(), 4),
        "baseline_auc_mean": round(table["baseline_auc"].mean(), 4),
        "baseline_auc_std": round(table["baseline_auc"].std(), 4),
        "baseline_ece_mean": round(table["baseline_ece"].mean(), 4),
        "pooled_auc": round(pooled_m["auc"], 4),
        "pooled_ece": round(pooled_m["ece"], 4),
        "baseline_pooled_auc": round(pooled_b["auc"], 4),
        "trees_mean": round(table["trees"].mean(), 1),
        "calibration": table["calibration"].value_counts().to_dict(),
        "seconds": round(table["seconds"].sum(), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", type=Path, required=True, help="uci_credit_card.csv (not in the repo)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--learning-rate", type=float, default=0.02)
    ap.add_argument("--n-estimators", type=int, default=1000)
    ap.add_argument("--num-leaves", type=int, default=15)
    ap.add_argument("--max-depth", type=int, default=5)
    ap.add_argument("--min-child-samples", type=int, default=100)
    ap.add_argument(
        "--cal-share", type=float, default=0.1, help="share of each training fold used to calibrate"
    )
    args = ap.parse_args()
    params = LGBMParams(
        n_estimators=args.n_estimators,
        learning_rate=args.learning_rate,
        num_leaves=args.num_leaves,
        max_depth=args.max_depth,
        min_child_samples=args.min_child_samples,
        early_stopping_rounds=50,
        refit_with_validation=True,
    )
    t = time.perf_counter()
    behaviour, attrs, y = load(args.path)
    print(
        f"{len(y):,} clients, default rate {y.mean():.3f}, {behaviour.shape[1]} statement features "
        f"({time.perf_counter() - t:.1f} s to read + build)",
        flush=True,
    )
    results = {}
    for name, X in (("behavioural", behaviour), ("with_demographics", pd.concat([behaviour, attrs], axis=1))):
        print(f"{name}:", flush=True)
        results[name] = run_variant(X, y, params, args.folds, args.seed, args.cal_share)
        r = results[name]
        print(
            f"  => LightGBM calibrated AUC {r['auc_mean']:.4f} +- {r['auc_std']:.4f}, ECE {r['ece_mean']:.4f} "
            f"(max {r['ece_max']:.4f}, noise floor {r['ece_noise_floor_mean']:.4f}), pooled out-of-fold AUC "
            f"{r['pooled_auc']:.4f} ECE {r['pooled_ece']:.4f}; scorecard AUC {r['baseline_auc_mean']:.4f}, ECE {r['baseline_ece_mean']:.4f}",
            flush=True,
        )
    print(
        json.dumps(
            {
                "benchmark": "uci",
                "rows": int(len(y)),
                "folds": args.folds,
                "cal_share": args.cal_share,
                "lgbm": {k: v for k, v in params.__dict__.items()},
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
