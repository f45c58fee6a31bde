"""UCI 5-fold: can a cross-fitted LightGBM bag, or a blend with the scorecard, lift the AUC?

Same data, features and outer folds as ``benchmarks/uci.py`` (stratified 5-fold, seed 42, the
pipeline's statement features). Inside each outer training fold only (the held-out fold is never
used for a choice):

- ``single``: as ``uci.py`` ranks (one LightGBM early-stopped on 9 % of the fold, refitted with the
  validation rows; the calibration rows are left out of the fit);
- ``bag``: inner 5-fold cross-fitting on the whole training fold: each inner model is early-stopped on
  its own held-out inner fold, the five raw scores are averaged (every training row is used to fit
  four models and to stop one);
- ``blend``: ``bag`` raw score + w x the scorecard's log-odds (the scorecard also cross-fitted on the
  inner folds); w in {0, 0.1, ..., 1} chosen by the inner out-of-fold AUC, then the scorecard is
  refitted on the whole fold;
- ``bag_mono``: ``bag`` with monotone constraints on the statement features whose direction the
  catalog gives (``direction`` +1 / -1).

AUC only (calibration is monotone and keeps it). ``--leaves``/``--min-child`` pick the settings.

    nice .venv/bin/python benchmarks/uci_ensemble.py --path /work/shared/data/uci_credit_card.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from uci import load  # noqa: E402

from models.scorecard import fit_scorecard, scorecard_predict  # noqa: E402
from models.train import LGBMParams, _lgbm, fit_lgbm, prepare_matrix  # noqa: E402


def _direction(names: list[str]) -> list[int]:
    try:
        from features.catalog import CATALOG
    except ImportError:  # pragma: no cover
        return [0] * len(names)
    out = []
    for n in names:
        d = int(CATALOG[n].direction) if n in CATALOG else 0
        out.append(d if d in (-1, 1) else 0)
    return out


def _stopped(params: LGBMParams, seed: int, Xf, yf, Xv, yv, mono=None) -> lgb.LGBMClassifier:
    m = _lgbm(params, params.n_estimators, seed)
    if mono is not None:
        m.set_params(monotone_constraints=mono, monotone_constraints_method="advanced")
    m.fit(
        Xf,
        yf,
        eval_X=(Xv,),
        eval_y=(yv,),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    return m


def _sc_logit(model, X) -> np.ndarray:
    return logit(np.clip(scorecard_predict(model, X, []), 1e-6, 1 - 1e-6))


def outer_fold(X, y, tr, te, params: LGBMParams, seed: int, mono) -> dict[str, float]:
    out: dict[str, float] = {}
    # single, as uci.py
    rest, _cal = train_test_split(tr, test_size=0.1, stratify=y[tr], random_state=seed)
    fit, valid = train_test_split(rest, test_size=0.1, stratify=y[rest], random_state=seed)
    single, _ = fit_lgbm(X.iloc[fit], y[fit], X.iloc[valid], y[valid], params, seed=seed)
    out["single"] = roc_auc_score(y[te], single.predict(X.iloc[te], raw_score=True))
    # inner cross-fitting
    inner = StratifiedKFold(5, shuffle=True, random_state=seed + 1)
    bag_te = np.zeros(len(te))
    mono_te = np.zeros(len(te))
    oof_lgb = np.zeros(len(tr))
    oof_sc = np.zeros(len(tr))
    for a, b in inner.split(tr, y[tr]):
        ia, ib = tr[a], tr[b]
        m = _stopped(params, seed, X.iloc[ia], y[ia], X.iloc[ib], y[ib])
        bag_te += m.predict(X.iloc[te], raw_score=True) / 5
        oof_lgb[b] = m.predict(X.iloc[ib], raw_score=True)
        mm = _stopped(params, seed, X.iloc[ia], y[ia], X.iloc[ib], y[ib], mono)
        mono_te += mm.predict(X.iloc[te], raw_score=True) / 5
        oof_sc[b] = _sc_logit(fit_scorecard(X.iloc[ia], y[ia], []), X.iloc[ib])
    out["bag"] = roc_auc_score(y[te], bag_te)
    out["bag_mono"] = roc_auc_score(y[te], mono_te)
    grid = np.round(np.arange(0, 1.01, 0.1), 1)
    inner_auc = {w: roc_auc_score(y[tr], oof_lgb + w * oof_sc) for w in grid}
    w = max(grid, key=lambda g: (round(inner_auc[g], 5), -g))
    sc = fit_scorecard(X.iloc[tr], y[tr], [])
    out["blend"] = roc_auc_score(y[te], bag_te + w * _sc_logit(sc, X.iloc[te]))
    out["blend_w"] = float(w)
    out["scorecard"] = roc_auc_score(y[te], _sc_logit(sc, X.iloc[te]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--min-child", type=int, default=100)
    ap.add_argument("--demographics", action="store_true", help="add sex, education, marriage, age")
    args = ap.parse_args()
    params = LGBMParams(
        n_estimators=1000,
        learning_rate=0.02,
        num_leaves=args.leaves,
        max_depth=5,
        min_child_samples=args.min_child,
        early_stopping_rounds=50,
    )
    behaviour, attrs, y = load(args.path)
    X = pd.concat([behaviour, attrs], axis=1) if args.demographics else behaviour
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    X = prepare_matrix(X, numeric, {})
    mono = _direction(numeric)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)
    rows = []
    for k, (tr, te) in enumerate(cv.split(X, y)):
        t = time.perf_counter()
        r = outer_fold(X, y, tr, te, params, args.seed + k, mono)
        rows.append(r)
        print(
            f"fold {k}: "
            + ", ".join(f"{n} {v:.4f}" for n, v in r.items())
            + f" [{time.perf_counter() - t:.0f} s]",
            flush=True,
        )
    table = pd.DataFrame(rows)
    summary = {c: [round(table[c].mean(), 4), round(table[c].std(), 4)] for c in table.columns}
    summary["monotone_features"] = int(np.count_nonzero(mono))
    summary["demographics"] = args.demographics
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
