"""A feature model fitted on *all* labelled month-ends of a small book, against the roll-rate model,
the kind chosen on rolling-origin folds inside the training data (issue 9, part 3; measured only).

On a small book ``ews train`` cannot fill its four out-of-time windows (30 defaults each; 15 with
``rollrate.challenge``) and ships the roll-rate model. On the unseen simulator's small books that
model trails a plain 16-feature LightGBM fitted on every labelled month-end (``benchmarks/baseline.py``;
BENCHMARKS.md, s20-state). Here ews's own LightGBM (``models.train._lgbm``, the modelling frame's
features as ``train_pd_model`` selects them) is fitted the way the baseline is: on every row whose
label is known at the cut, no held-out window. Two hyper-parameter sets, fixed in advance:

- ``fm``: the shipped ``conf/train.yaml`` LightGBM parameters;
- ``fmreg``: more regularised (7 leaves, depth 3, 200 rows per leaf, L2 20).

No validation window, so the tree count (25 ... 300) is the one with the lowest pooled log-loss on
the inner folds; no calibration (the raw LightGBM probability, clipped to ``[pd_floor, pd_ceiling]``).

**Inner folds** (never the forward rows): the last ``--inner`` labelled month-ends before the cut, in
folds of ``--fold-months`` consecutive month-ends. Each fold's feature model is fitted on the rows and
labels known at the fold's first month-end (``models.smallbook.all_labelled_folds``, the product's code); the roll-rate model as
``models.smallbook.rollrate_on_folds`` (the moves known at that month-end). **Kind** (``chosen_fm``,
``chosen_fmreg``): ``models.smallbook.choose_small_book`` on ``paired_difference(feature - roll-rate)``
over the pooled fold rows (strata = fold), the product's small-book rule: the feature model when its
log-loss is significantly lower (or tied and its AUC significantly higher), else the roll-rate model.
The tree count and the kind are chosen on the same folds (a mild optimism of the choice).
``point_fm`` / ``point_fmreg`` (added after the first results, so post hoc): the feature model whenever
its pooled fold log-loss is lower in point, no interval asked. ``floor_fm`` / ``floor_fmreg`` (session 21,
pre-registered before its figures): the point rule only when the pooled fold rows hold at least
``--min-fold-defaults`` (25) defaults, else the roll-rate model.

Forward protocol of ``small_choice.py`` / ``unseen.py``: cut = ``--forward`` observed snapshots before
the last one, scored on the labelled rows of the month-ends after it. Writes one scores file per book
for ``benchmarks/pooled_scores.py`` (``rollrate``, ``fm``, ``fmreg``, ``chosen_fm``, ``chosen_fmreg``,
``point_fm``, ``point_fmreg``, ``floor_fm``, ``floor_fmreg``, ``baseline``, ``oracle``) and a JSON line per book (choices, tree counts, fold figures).

    nice -n 19 .venv/bin/python benchmarks/small_feature_all.py --work W \
        --books unseen:small:1,base:300:1 --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import small_choice  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402

from models.evaluate import classification_metrics, paired_difference  # noqa: E402
from models.rollrate import RollRateModel  # noqa: E402
from models.smallbook import (  # noqa: E402
    TREE_COUNTS,
    AllLabelledFit,
    all_labelled_folds,
    choose_small_book,
    known_at,
    rollrate_on_folds,
)
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
HORIZON_DAYS = ProjectConfig().default_definition.horizon_days
TREES = TREE_COUNTS
REGULARISED = {"num_leaves": 7, "max_depth": 3, "min_child_samples": 200, "reg_lambda": 20.0}


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth, portfolio = small_choice.load_book(spec, args.work, args.months, cfg)
    params = cfg.to_params(HORIZON_DAYS)
    rr_params = cfg.rollrate.to_params(ProjectConfig().default_definition, cfg)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = rows[KEYS].merge(truth, on=KEYS, how="left")
    y = rows["label"].astype(int).to_numpy()
    past = known_at(frame, cut, HORIZON_DAYS)
    sets = {"fm": params.lgbm, "fmreg": dataclasses.replace(params.lgbm, **REGULARISED)}
    fitting = {name: dataclasses.replace(params, lgbm=lgbm) for name, lgbm in sets.items()}

    # Inner rolling-origin folds (models.smallbook.all_labelled_folds, the product's): labels known at
    # the cut, each fold fitted on what was known at its first month-end.
    fold_rows, folds = None, []
    for name in sets:
        rows_n, folds = all_labelled_folds(past, fitting[name], args.inner, args.fold_months, TREES)
        if fold_rows is None:
            fold_rows = rows_n[["fold", *KEYS, "y"]].copy()
        for n in TREES:
            fold_rows[f"{name}_{n}"] = rows_n[f"pd_feature_{n}"].to_numpy()
    fold_rows["rollrate"] = rollrate_on_folds(past, fold_rows, rr_params)
    r: dict[str, Any] = {
        "book": spec,
        "cut": str(cut.date()),
        "fold_rows": len(fold_rows),
        "fold_defaults": int(fold_rows["y"].sum()),
        "folds": [[str(t.date()) for t in m] for m in folds],
    }
    fy = fold_rows["y"].to_numpy()
    scores: dict[str, np.ndarray] = {"rollrate": RollRateModel(rr_params).fit(past).predict_proba(rows)[:, 1]}
    for name in sets:
        losses = {
            n: classification_metrics(fy, fold_rows[f"{name}_{n}"].to_numpy())["logloss"] for n in TREES
        }
        trees = min(losses, key=losses.get)
        point, ci = paired_difference(
            fy,
            fold_rows[f"{name}_{trees}"].to_numpy(),
            fold_rows["rollrate"].to_numpy(),
            fold_rows["debtor_id"].astype("string").to_numpy(),
            fold_rows["fold"].to_numpy(),
            n_boot=params.bootstrap_samples,
            seed=params.seed,
        )
        choice, why = choose_small_book(ci, point, "lightgbm")
        scores[name] = AllLabelledFit.fit(past, fitting[name], trees).predict(rows)
        scores[f"chosen_{name}"] = scores[name] if choice == "feature" else scores["rollrate"]
        # Added after the first results (post hoc, BENCHMARKS s20-smallfm): the feature model whenever
        # its pooled fold log-loss is lower than the roll-rate's in point, no interval asked.
        scores[f"point_{name}"] = scores[name] if point["logloss"] < 0 else scores["rollrate"]
        # Session 21 (pre-registered before its figures): the point rule only when the pooled fold
        # rows hold at least --min-fold-defaults defaults.
        floor_ok = int(fy.sum()) >= args.min_fold_defaults
        scores[f"floor_{name}"] = scores[f"point_{name}"] if floor_ok else scores["rollrate"]
        r[name] = {
            "trees": trees,
            "fold_logloss": {str(n): round(v, 5) for n, v in losses.items()},
            "rollrate_fold_logloss": round(
                classification_metrics(fy, fold_rows["rollrate"].to_numpy())["logloss"], 5
            ),
            "choice": choice,
            "point": {k: round(float(v), 5) for k, v in point.items()},
            "ci": {k: [round(float(a), 5), round(float(b), 5)] for k, (a, b) in ci.items()},
            "reason": why,
            "floor_choice": "feature" if floor_ok and point["logloss"] < 0 else "rollrate",
        }
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    before = past[past["label"].notna()]
    names = list(BASELINE_FEATURES)
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = rows[KEYS].merge(base, on=KEYS, how="left")
    fitted = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
    scores["baseline"] = fitted.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
    out = rows[KEYS].assign(y=y, oracle=test["oracle_pd"].to_numpy(), **scores)
    out.to_parquet(args.out / f"{spec.replace(':', '-')}.parquet")
    ok = out["oracle"].notna().to_numpy()
    r["rows"], r["defaults"] = int(ok.sum()), int(y[ok].sum())
    r["forward"] = {
        k: {
            m: round(float(v), 5)
            for m, v in classification_metrics(y[ok], p[ok]).items()
            if m in ("auc", "capture_5pct", "brier", "logloss")
        }
        for k, p in scores.items()
    }
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated REGIME:DEBTORS:SEED or unseen:small:SEED")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument(
        "--inner", type=int, default=6, help="labelled month-ends before the cut in the inner folds"
    )
    ap.add_argument("--fold-months", type=int, default=2)
    ap.add_argument(
        "--min-fold-defaults", type=int, default=25, help="floor_* columns: fewest pooled fold defaults"
    )
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in args.books.split(","):
        r = run_book(spec, args, cfg)
        f = r["forward"]
        print(
            f"{spec}: cut {r['cut']}, {r['rows']} rows, {r['defaults']} defaults; folds {r['fold_rows']} rows "
            f"{r['fold_defaults']} defaults; fm {r['fm']['trees']} trees -> {r['fm']['choice']}, "
            f"fmreg {r['fmreg']['trees']} trees -> {r['fmreg']['choice']}; "
            + "; ".join(
                f"{k} AUC {m['auc']:.4f} cap5 {m['capture_5pct']:.3f} Brier {m['brier']:.5f}"
                for k, m in f.items()
            )
            + f"; {r['cpu_s']} CPU-s",
            flush=True,
        )
        with (args.out / "books.jsonl").open("a") as fh:
            fh.write(json.dumps(r, default=str) + "\n")


if __name__ == "__main__":
    main()
