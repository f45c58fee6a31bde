"""The all-labelled LightGBM of a small book with and without a calibrator (issue 9 part 2,
session 22; measured, not shipped: BENCHMARKS.md s22-calib).

``rollrate.all_labelled`` ships LightGBM fitted on every labelled month-end (``models.smallbook``)
without a calibrator: the raw probability, clipped. Two calibrators are put behind it here, both
with the large book's choice (``models.calibrate.choose_calibration``: none / sigmoid / beta, the
lowest held-out log-loss by rolling origin over the month-ends, ties to the simpler):

- ``fm_cal`` (:func:`fold_calibrator`): chosen and fitted on the inner folds' out-of-fold raw
  scores (each fold's model fitted only on the labels known at its first month-end);
- ``fm_oof`` (:func:`refit_calibrator`, the pre-registered candidate): the large book's refit
  calibrator, on debtor-grouped out-of-fold raw scores of the refit (``models.train.out_of_fold_raw``).

Both are scored against the raw model (``fm``) on the same forward rows. Forward protocol of
``small_feature_all.py``: cut = ``--forward`` observed snapshots before the last one; the inner folds
(the last 6 labelled month-ends known at the cut, folds of 2), the tree count and the kind (``floor``:
the session-21 rule, >= 25 fold defaults and a lower pooled fold log-loss than the roll-rate model's)
come from ``models.smallbook.all_labelled_folds`` / ``all_labelled_rule``; the model is
``AllLabelledFit`` on every label known at the cut. Scores files (for ``pooled_scores.py``): ``fm``,
``fm_cal``, ``fm_oof``, ``floor_fm`` / ``floor_cal`` / ``floor_oof`` (the roll-rate model where the rule
keeps it), ``rollrate``, ``oracle``. The JSON line per book adds both calibrators, their held-out
log-losses, and the live month-end (the last snapshot, debtors not in default, scored by the model
fitted at the cut): rows, distinct PDs, min, max, mean.

    nice -n 19 .venv/bin/python benchmarks/small_calib.py --work W --books unseen:small:41,base:300:6 --out DIR
"""

from __future__ import annotations

import argparse
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

from models.evaluate import classification_metrics  # noqa: E402
from models.rollrate import RollRateModel  # noqa: E402
from models.smallbook import (  # noqa: E402
    AllLabelledFit,
    all_labelled_folds,
    all_labelled_refit_calibrator,
    all_labelled_rule,
    known_at,
    rollrate_on_folds,
)
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
HORIZON_DAYS = ProjectConfig().default_definition.horizon_days


def fold_calibrator(rows: pd.DataFrame, params: Any, min_fold_defaults: int) -> tuple[Any, Any]:
    """The brief's candidate (measured, not shipped: BENCHMARKS.md s22-calib), chosen and fitted on the
    inner folds' out-of-fold raw scores: ``rows`` (``y``,
    ``as_of``, ``debtor_id``, ``raw_feature``: each fold's model, fitted only on the labels known at
    the fold's first month-end, at the shipped tree count). The large book's choice
    (:func:`models.calibrate.choose_calibration`, candidates :data:`models.calibrate.SHIPPED_METHODS`:
    none / sigmoid / beta, the lowest held-out log-loss by rolling origin over the folds' month-ends,
    ties to the simpler), fitted on every fold row. ``none`` (the raw probability) when the rows hold
    fewer than ``min_fold_defaults`` defaults or no rolling-origin or debtor fold has both classes.
    Returns ``(ScoreCalibrator, CalibrationChoice)``."""
    from models.calibrate import CalibrationChoice, ScoreCalibrator
    from models.train import oof_calibration

    y = rows["y"].to_numpy(dtype="int64")
    s = rows["raw_feature"].to_numpy(dtype="float64")
    n_def = int(y.sum())
    where = f"the inner folds' out-of-fold raw scores ({len(y):,} rows, {n_def} defaults)"
    if n_def < min_fold_defaults or n_def == len(y):
        rule = f"none: {where} are too few to calibrate on (fewer than {min_fold_defaults} defaults)"
        return ScoreCalibrator("none").fit(s, y), CalibrationChoice(method="none", rule=rule)
    try:
        return oof_calibration(
            s, y, rows, params, f"on {where}, each fold's model fitted only on the month-ends before it"
        )
    except ValueError as exc:
        rule = f"none: {where} leave no fold to choose a calibrator on ({exc})"
        return ScoreCalibrator("none").fit(s, y), CalibrationChoice(method="none", rule=rule)


def refit_calibrator(
    frame: pd.DataFrame, params: Any, trees: int, fitted: AllLabelledFit | None = None
) -> tuple[Any, Any] | None:
    """The pre-registered candidate (BENCHMARKS.md s22-calib; shipped by s22-calib2 as
    ``rollrate.all_labelled_calibration``): the product's
    :func:`models.smallbook.all_labelled_refit_calibrator`."""
    return all_labelled_refit_calibrator(frame, params, trees, fitted)


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth, _ = small_choice.load_book(spec, args.work, args.months, cfg)
    params = cfg.to_params(HORIZON_DAYS)
    rr = cfg.rollrate
    rr_params = rr.to_params(ProjectConfig().default_definition, cfg)
    trees = tuple(rr.all_labelled_trees)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = rows[KEYS].merge(truth, on=KEYS, how="left")
    y = rows["label"].astype(int).to_numpy()
    past = known_at(frame, cut, HORIZON_DAYS)

    folds_rows, folds = all_labelled_folds(
        past, params, rr.all_labelled_months, rr.all_labelled_fold_months, trees, raw=True
    )
    fy = folds_rows["y"].to_numpy()
    losses = {
        n: classification_metrics(fy, folds_rows[f"pd_feature_{n}"].to_numpy())["logloss"] for n in trees
    }
    best = min(losses, key=losses.get)
    folds_rows["pd_rollrate"] = rollrate_on_folds(past, folds_rows, rr_params)
    rr_loss = classification_metrics(fy, folds_rows["pd_rollrate"].to_numpy())["logloss"]
    choice, _ = all_labelled_rule(losses[best] - rr_loss, int(fy.sum()), rr.all_labelled_min_fold_defaults)
    folds_rows["raw_feature"] = folds_rows[f"raw_feature_{best}"]
    cal, how = fold_calibrator(folds_rows, params, rr.all_labelled_min_fold_defaults)

    fitted = AllLabelledFit.fit(past, params, best)
    raw = fitted.raw(rows)
    refit = refit_calibrator(past, params, best)
    cal_oof, how_oof = refit if refit is not None else (None, None)
    scores: dict[str, np.ndarray] = {
        "rollrate": RollRateModel(rr_params).fit(past).predict_proba(rows)[:, 1],
        "fm": fitted.predict(rows),
        "fm_cal": np.clip(cal.predict(raw), params.pd_floor, params.pd_ceiling),
    }
    scores["fm_oof"] = (
        np.clip(cal_oof.predict(raw), params.pd_floor, params.pd_ceiling)
        if cal_oof is not None
        else scores["fm"]
    )
    scores["floor_fm"] = scores["fm"] if choice == "feature" else scores["rollrate"]
    scores["floor_cal"] = scores["fm_cal"] if choice == "feature" else scores["rollrate"]
    scores["floor_oof"] = scores["fm_oof"] if choice == "feature" else scores["rollrate"]
    # the live month-end: the last snapshot, debtors not in default, scored by the model fitted at the cut
    last = frame[frame["as_of"] == frame["as_of"].max()]
    if "in_default_at_asof" in last.columns:
        last = last[~last["in_default_at_asof"].fillna(False).astype(bool)]
    live = {
        "oof": fitted.predict(last)
        if cal_oof is None
        else np.clip(cal_oof.predict(fitted.raw(last)), params.pd_floor, params.pd_ceiling),
        "raw": fitted.predict(last),
        "cal": np.clip(cal.predict(fitted.raw(last)), params.pd_floor, params.pd_ceiling),
    }
    out = rows[KEYS].assign(y=y, oracle=test["oracle_pd"].to_numpy(), **scores)
    out.to_parquet(args.out / f"{spec.replace(':', '-')}.parquet")
    ok = out["oracle"].notna().to_numpy()
    r: dict[str, Any] = {
        "book": spec,
        "cut": str(cut.date()),
        "folds": [[str(t.date()) for t in m] for m in folds],
        "fold_rows": len(folds_rows),
        "fold_defaults": int(fy.sum()),
        "trees": int(best),
        "choice": choice,
        "calibrator": how.method,
        "calibrator_oot_logloss": {k: round(v, 6) for k, v in how.oot_logloss.items()},
        "calibrator_rule": how.rule,
        "oof_calibrator": how_oof.method if how_oof is not None else "none (a fold lacks a class)",
        "oof_calibrator_logloss": {k: round(v, 6) for k, v in how_oof.oot_logloss.items()} if how_oof else {},
        "fold_mean_pd_raw": round(float(folds_rows[f"pd_feature_{best}"].mean()), 5),
        "fold_default_rate": round(float(fy.mean()), 5),
        "rows": int(ok.sum()),
        "defaults": int(y[ok].sum()),
        "live": {
            k: {
                "rows": len(v),
                "distinct": int(pd.Series(v).nunique()),
                "min": float(v.min()),
                "max": float(v.max()),
                "mean": round(float(v.mean()), 5),
            }
            for k, v in live.items()
        },
    }
    r["forward"] = {
        k: {
            m: round(float(v), 6)
            for m, v in classification_metrics(y[ok], p[ok]).items()
            if m in ("auc", "capture_5pct", "brier", "logloss", "ece", "mean_pd", "default_rate")
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
            f"{r['fold_defaults']} defaults; {r['trees']} trees -> {r['choice']}; calibrator {r['calibrator']}; "
            + "; ".join(
                f"{k} AUC {m['auc']:.4f} Brier {m['brier']:.5f} LL {m['logloss']:.5f} ECE {m['ece']:.5f} "
                f"mean {m['mean_pd']:.4f}/{m['default_rate']:.4f}"
                for k, m in f.items()
                if k in ("fm", "fm_cal", "fm_oof", "rollrate")
            )
            + f"; live distinct {r['live']['cal']['distinct']}/{r['live']['cal']['rows']}; {r['cpu_s']} CPU-s",
            flush=True,
        )
        with (args.out / "books.jsonl").open("a") as fh:
            fh.write(json.dumps(r, default=str) + "\n")


if __name__ == "__main__":
    main()
