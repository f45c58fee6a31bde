"""UCI credit-card default: plain LightGBM on the statement features vs on the raw 23 columns.

Statements come from the pipeline's mapping (``pipelines.sources.uci.read_uci``: six month-end
statements per card holder, 2005-04-30 .. 2005-09-30); features from
``features.statements.build_statement_features`` as of 2005-09-30; the label is the file's
DEFAULT column (October 2005 payment). Both models are the same plain ``lightgbm.LGBMClassifier``
(fixed parameters below, no tuning, no early stopping) under the same stratified 5-fold split;
AUC is computed on the pooled out-of-fold predictions and per fold. Each is run without and with
the demographic columns (SEX, EDUCATION, MARRIAGE, AGE, read straight from the CSV).

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/uci_features.py \
        --path /work/shared/data/uci_credit_card.csv

Prints a table, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from features.statements import build_statement_features
from pipelines.sources.uci import PERIOD_ENDS, read_uci

DEMOGRAPHIC = ["SEX", "EDUCATION", "MARRIAGE", "AGE"]
RAW = (
    ["LIMIT_BAL"]
    + DEMOGRAPHIC
    + ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
    + [f"BILL_AMT{i}" for i in range(1, 7)]
    + [f"PAY_AMT{i}" for i in range(1, 7)]
)
PARAMS = {
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "verbose": -1,
    "n_jobs": 2,
}


def cv_auc(X: pd.DataFrame, y: np.ndarray, folds: int, seed: int) -> dict:
    """Pooled out-of-fold AUC and per-fold AUCs of the plain LightGBM."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = np.zeros(len(y))
    per_fold = []
    for train_idx, test_idx in cv.split(X, y):
        model = lgb.LGBMClassifier(random_state=seed, **PARAMS)
        model.fit(X.iloc[train_idx], y[train_idx])
        oof[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
        per_fold.append(float(roc_auc_score(y[test_idx], oof[test_idx])))
    return {
        "auc_oof": float(roc_auc_score(y, oof)),
        "auc_mean": float(np.mean(per_fold)),
        "auc_std": float(np.std(per_fold)),
        "n_features": X.shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="uci_credit_card.csv")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = read_uci(args.path)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = build_statement_features(data.statements, [PERIOD_ENDS[-1]])
    t_feat = time.perf_counter() - t0

    wide = pd.read_csv(args.path)
    wide["debtor_id"] = wide["ID"].astype(str)
    label_col = next(c for c in ("DEFAULT", "default.payment.next.month") if c in wide)
    frame = wide.merge(feats.astype({"debtor_id": str}), on="debtor_id", how="inner", validate="one_to_one")
    y = frame[label_col].to_numpy(dtype=np.int64)
    st_cols = [c for c in feats.columns if c not in ("debtor_id", "as_of")]

    variants = {
        "raw_23": frame[RAW],
        "raw_19_no_demographics": frame[[c for c in RAW if c not in DEMOGRAPHIC]],
        "statement_features_plus_demographics": frame[st_cols + DEMOGRAPHIC],
        "statement_features": frame[st_cols],
    }
    results = {}
    for name, X in variants.items():
        t0 = time.perf_counter()
        results[name] = cv_auc(X.astype("float64"), y, args.folds, args.seed)
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
    print(f"{'variant':40s} {'features':>8s} {'AUC (oof)':>10s} {'AUC mean±sd over folds':>24s}")
    for name, r in results.items():
        print(
            f"{name:40s} {r['n_features']:8d} {r['auc_oof']:10.4f} {r['auc_mean']:14.4f} ± {r['auc_std']:.4f}"
        )
    out = {
        "benchmark": "uci_features",
        "rows": int(len(y)),
        "default_rate": float(y.mean()),
        "folds": args.folds,
        "seed": args.seed,
        "read_seconds": round(t_read, 2),
        "feature_seconds": round(t_feat, 3),
        "results": results,
        "beats_raw_with_demographics": results["statement_features_plus_demographics"]["auc_oof"]
        > results["raw_23"]["auc_oof"],
        "beats_raw_without_demographics": results["statement_features"]["auc_oof"]
        > results["raw_19_no_demographics"]["auc_oof"],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
