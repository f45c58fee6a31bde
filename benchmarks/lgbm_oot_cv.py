"""Choose LightGBM settings by out-of-time cross-validation on the regimes' training months only.

For each book already built by ``benchmarks/regimes.py`` (the cached modelling frames under
``--work``), the folds are rolling origins that end ``--holdout`` snapshots before the last
snapshot with an observed horizon, so the months the harness tests on are never used here. At
each origin T a model is fitted on the snapshots whose label horizon ends by T (as in production:
nothing after T is known) and scored on snapshot T. Each candidate setting gets the pooled AUC,
capture@5% and log-loss per book, and the mean AUC rank over books (lower is better).

    nice .venv/bin/python benchmarks/lgbm_oot_cv.py --work /tmp/ews-regimes --folds 3 --holdout 6
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from features.catalog import CATALOG  # noqa: E402
from models.evaluate import classification_metrics  # noqa: E402
from models.train import NON_FEATURES, LGBMParams, _lgbm, prepare_matrix  # noqa: E402

BASE = LGBMParams()
CANDIDATES: dict[str, LGBMParams] = {
    "shipped(lr.05 mcs100 l2=5)x200": dataclasses.replace(BASE, n_estimators=200),
    "lr.03 mcs200 l2=10x400": dataclasses.replace(
        BASE, n_estimators=400, min_child_samples=200, reg_lambda=10.0, learning_rate=0.03
    ),
    "lr.05 mcs200 l2=10x250": dataclasses.replace(
        BASE, n_estimators=250, min_child_samples=200, reg_lambda=10.0
    ),
    "lr.03 mcs400 l2=20x500": dataclasses.replace(
        BASE, n_estimators=500, min_child_samples=400, reg_lambda=20.0, learning_rate=0.03
    ),
    "lr.05 mcs100 l2=5 col.5x200": dataclasses.replace(BASE, n_estimators=200, colsample_bytree=0.5),
    "lr.05 mcs50 l2=1x300": dataclasses.replace(BASE, n_estimators=300, min_child_samples=50, reg_lambda=1.0),
    "31/-1 mcs50 l2=0x300": dataclasses.replace(
        BASE, n_estimators=300, num_leaves=31, max_depth=-1, min_child_samples=50, reg_lambda=0.0
    ),
}


def folds(frame: pd.DataFrame, n_folds: int, holdout: int) -> list[pd.Timestamp]:
    observed = frame.groupby("as_of")["horizon_observed"].all()
    dates = sorted(observed[observed].index)
    return dates[-holdout - n_folds : -holdout]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--holdout", type=int, default=6, help="latest observed snapshots never used")
    ap.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    ap.add_argument("--books", default="", help="comma-separated book name prefixes (default: all)")
    args = ap.parse_args()
    only = [c for c in args.only.split(",") if c] or list(CANDIDATES)
    rows = []
    books = [
        max(d.glob("frame-*.parquet"), key=lambda p: p.stat().st_mtime, default=None)
        for d in sorted(args.work.glob("*/"))
    ]
    prefixes = tuple(b for b in args.books.split(",") if b) or ("",)
    for path in [b for b in books if b is not None and b.parent.name.startswith(prefixes)]:
        frame = pd.read_parquet(path)
        frame = frame.assign(as_of=pd.to_datetime(frame["as_of"]))
        labelled = frame[frame["label"].notna()]
        feats = [c for c in frame.columns if c not in NON_FEATURES and c in CATALOG]
        cats = {
            c: sorted(frame[c].dropna().astype(str).unique()) for c in ("segment", "country") if c in feats
        }
        origins = folds(frame, args.folds, args.holdout)
        for name in only:
            ys, ps = [], []
            for t in origins:
                fit = labelled[labelled["as_of"] + pd.Timedelta(days=90) <= t]
                test = labelled[labelled["as_of"] == t]
                model = _lgbm(CANDIDATES[name], CANDIDATES[name].n_estimators, 42)
                model.fit(prepare_matrix(fit, feats, cats), fit["label"].astype(int).to_numpy())
                ps.append(model.predict_proba(prepare_matrix(test, feats, cats))[:, 1])
                ys.append(test["label"].astype(int).to_numpy())
            y, p = np.concatenate(ys), np.concatenate(ps)
            m = classification_metrics(y, p)
            row = {"book": path.parent.name, "candidate": name, "defaults": int(y.sum())}
            row.update({"auc": m["auc"], "capture_5pct": m["capture_5pct"], "logloss": log_loss(y, p)})
            rows.append(row)
            print(
                f"{row['book']:28s} {name:30s} {row['defaults']:5d} AUC {row['auc']:.4f} "
                f"cap5 {row['capture_5pct']:.3f} logloss {row['logloss']:.5f}",
                flush=True,
            )
    table = pd.DataFrame(rows)
    table["rank"] = table.groupby("book")["auc"].rank(ascending=False)
    summary = (
        table.groupby("candidate")[["auc", "capture_5pct", "logloss", "rank"]].mean().sort_values("rank")
    )
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
