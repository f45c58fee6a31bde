"""Fit the PD models on a stack of labelled snapshots: LightGBM (calibrated) and the scorecard baseline.

Input is a *modelling frame*: one row per (debtor_id, as_of) with the feature columns from
``features.build.build_features`` and an Int64 ``label`` (1 = first default within the horizon).
:func:`train_pd_model` splits it out of time (``models.split``), fits LightGBM with early stopping
on the time-later validation slice, refits it on train + validation with the chosen number of
trees, calibrates it on the calibration window, fits the scorecard baseline, and evaluates both on
the test snapshot. It returns a :class:`TrainingOutcome`; logging it is ``models.registry``'s job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from models.calibrate import CalibrationChoice, CalibrationMethod, calibrate
from models.evaluate import (
    calibration_table,
    classification_metrics,
    reference_distribution,
    segment_table,
)
from models.scorecard import ScorecardParams, fit_scorecard, scorecard_predict
from models.split import SplitParams, SplitPlan, check_defaults, plan_split, snapshot_summary

__all__ = [
    "KEY_COLUMNS",
    "FeatureCaster",
    "LGBMParams",
    "TrainParams",
    "TrainingOutcome",
    "feature_schema",
    "fit_lgbm",
    "prepare_matrix",
    "select_features",
    "train_pd_model",
]

KEY_COLUMNS: tuple[str, ...] = ("debtor_id", "as_of")
# Columns of a modelling frame that are never model inputs.
NON_FEATURES: frozenset[str] = frozenset(
    {"debtor_id", "as_of", "label", "in_default_at_asof", "first_default_date", "horizon_observed"}
)


@dataclass(frozen=True)
class LGBMParams:
    """LightGBM settings. Compact trees keep nightly SHAP cheap (cost ~ trees x leaves x depth^2).

    ``n_estimators`` is the ceiling; early stopping on the validation slice picks the count.
    """

    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 15
    max_depth: int = 5
    min_child_samples: int = 100
    reg_lambda: float = 5.0
    reg_alpha: float = 0.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_split_gain: float = 0.0
    cat_smooth: float = 20.0
    early_stopping_rounds: int = 30
    refit_with_validation: bool = True
    n_jobs: int = 1


@dataclass(frozen=True)
class TrainParams:
    """Everything :func:`train_pd_model` needs (built from ``conf/train.yaml`` by ``pipelines``)."""

    split: SplitParams = SplitParams()
    lgbm: LGBMParams = LGBMParams()
    scorecard: ScorecardParams = ScorecardParams()
    calibration: CalibrationMethod = "auto"
    calibration_folds: int = 5
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ("segment", "country")
    segment_column: str = "segment"
    reference_features: int = 10
    reference_bins: int = 10
    seed: int = 42


@dataclass
class TrainingOutcome:
    """Everything a training produced. Frames are new objects; nothing refers back to the input.

    ``final_estimator``: scikit-learn pipeline (category casting -> calibrated LightGBM),
    ``predict_proba(X)[:, 1]`` = PD in [0, 1]. ``model``: the uncalibrated ``LGBMClassifier`` whose
    ``booster_`` is the native model. ``test``: one row per test debtor with ``y``, ``pd``,
    ``pd_raw`` and ``pd_baseline``.
    """

    final_estimator: Pipeline
    model: lgb.LGBMClassifier
    scorecard: Any
    calibration: CalibrationChoice
    feature_names: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]
    dropped: dict[str, str]
    plan: SplitPlan
    windows: pd.DataFrame
    best_iteration: int
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    uncalibrated_metrics: dict[str, float]
    segments: pd.DataFrame
    baseline_segments: pd.DataFrame
    calibration_curve: pd.DataFrame
    test: pd.DataFrame
    X_test: pd.DataFrame
    importance: pd.DataFrame
    reference: dict[str, Any]
    schema: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# feature handling
# ---------------------------------------------------------------------------------------------


def select_features(frame: pd.DataFrame, candidates: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Keep candidate columns that carry information on ``frame`` (the training rows).

    Returns ``(kept, dropped)`` where ``dropped`` maps a column to ``"all null"`` or ``"constant"``.
    """
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for col in candidates:
        values = frame[col]
        if values.notna().sum() == 0:
            dropped[col] = "all null"
        elif values.nunique(dropna=True) <= 1 and not values.isna().any():
            dropped[col] = "constant"
        else:
            kept.append(col)
    return kept, dropped


def prepare_matrix(
    frame: pd.DataFrame, feature_names: Sequence[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """The exact model input: ``feature_names`` in order, numeric as float64, categoricals as
    ``category`` with the training categories (unseen values become missing).

    Raises ``ValueError`` naming missing columns, or numeric columns that hold non-numbers.
    """
    missing = [c for c in feature_names if c not in frame.columns]
    if missing:
        extra = sorted(set(frame.columns) - set(feature_names) - NON_FEATURES)
        raise ValueError(
            f"model input lacks {len(missing)} feature column(s) {missing}; the frame has extra columns "
            f"{extra}. The model was trained on a different feature set: retrain or use the matching version"
        )
    out = {}
    for col in feature_names:
        values = frame[col]
        if col in categories:
            as_text = values.astype("string").astype("object").where(values.notna(), None)
            out[col] = pd.Categorical(as_text, categories=categories[col])
        else:
            try:
                out[col] = pd.to_numeric(values, errors="raise").astype("float64")
            except (ValueError, TypeError) as exc:
                raise ValueError(f"feature column {col!r} must be numeric ({exc})") from None
    return pd.DataFrame(out, index=frame.index)


class FeatureCaster(TransformerMixin, BaseEstimator):
    """First pipeline step of the logged model: :func:`prepare_matrix` on the incoming frame.

    Makes the logged model accept plain strings for categorical columns (e.g. from MLflow serving).
    """

    def __init__(
        self, feature_names: list[str] | None = None, categories: dict[str, list[str]] | None = None
    ):
        self.feature_names = feature_names
        self.categories = categories

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureCaster:
        self.n_features_in_ = len(self.feature_names or [])
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return prepare_matrix(X, self.feature_names or [], self.categories or {})

    def __sklearn_is_fitted__(self) -> bool:
        return True


def feature_schema(feature_names: Sequence[str], categories: dict[str, list[str]]) -> dict[str, Any]:
    """JSON-safe schema of the model input: ``{"features": [{"name", "dtype", "categories"?}], ...}``."""
    features = []
    for name in feature_names:
        if name in categories:
            features.append({"name": name, "dtype": "category", "categories": list(categories[name])})
        else:
            features.append({"name": name, "dtype": "float64"})
    return {
        "features": features,
        "feature_names": list(feature_names),
        "categorical": [n for n in feature_names if n in categories],
        "keys": list(KEY_COLUMNS),
    }


def _lgbm(params: LGBMParams, n_estimators: int, seed: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        max_depth=params.max_depth,
        min_child_samples=params.min_child_samples,
        reg_lambda=params.reg_lambda,
        reg_alpha=params.reg_alpha,
        subsample=params.subsample,
        subsample_freq=1 if params.subsample < 1 else 0,
        colsample_bytree=params.colsample_bytree,
        min_split_gain=params.min_split_gain,
        cat_smooth=params.cat_smooth,
        random_state=seed,
        n_jobs=params.n_jobs,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


def fit_lgbm(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    params: LGBMParams = LGBMParams(),
    seed: int = 42,
) -> tuple[lgb.LGBMClassifier, int]:
    """LightGBM with early stopping (binary log-loss) on the time-later validation slice.

    Returns ``(model, best_iteration)``. With ``refit_with_validation`` the model is refitted on
    train + validation with exactly ``best_iteration`` trees (so the native booster holds only the
    trees that are used); otherwise the early-stopped model is truncated by refitting on train.
    """
    probe = _lgbm(params, params.n_estimators, seed)
    probe.fit(
        X_train,
        y_train,
        eval_X=(X_valid,),
        eval_y=(y_valid,),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    best = int(probe.best_iteration_ or params.n_estimators)
    final = _lgbm(params, best, seed)
    if params.refit_with_validation:
        final.fit(pd.concat([X_train, X_valid]), np.concatenate([y_train, y_valid]))
    else:
        final.fit(X_train, y_train)
    return final, best


def _importance(model: lgb.LGBMClassifier, feature_names: list[str]) -> pd.DataFrame:
    booster = model.booster_
    table = pd.DataFrame(
        {
            "feature": feature_names,
            "gain": booster.feature_importance(importance_type="gain"),
            "splits": booster.feature_importance(importance_type="split"),
        }
    )
    total = table["gain"].sum()
    table["gain_share"] = table["gain"] / total if total else 0.0
    return table.sort_values(["gain", "feature"], ascending=[False, True], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# the whole training
# ---------------------------------------------------------------------------------------------


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].astype("int64").to_numpy()


def train_pd_model(data: pd.DataFrame, params: TrainParams = TrainParams()) -> TrainingOutcome:
    """Split, fit, calibrate and evaluate on a modelling frame.

    ``data``: one row per (debtor_id, as_of): feature columns, ``label`` (Int64, NA = not labelled)
    and ``horizon_observed`` (bool). Unlabelled rows only inform the split (horizon checks).
    Raises ``ValueError`` with counts when a window has too few defaults, or when the test
    snapshot's horizon is not fully observed.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    missing = {"debtor_id", "as_of", "label", "horizon_observed"} - set(data.columns)
    if missing:
        raise ValueError(f"modelling frame lacks columns {sorted(missing)}")
    summary = snapshot_summary(data[["as_of", "label", "horizon_observed"]])
    plan = plan_split(summary, params.split)
    windows = check_defaults(summary, plan, params.split.min_defaults)
    labelled = data[data["label"].notna()]
    window = plan.window_of(labelled["as_of"])
    parts = {
        name: labelled[(window == name).fillna(False).to_numpy(dtype=bool)]
        for name in ("train", "validation", "calibration", "test")
    }

    candidates = [c for c in data.columns if c not in NON_FEATURES and c not in params.exclude]
    categorical = [
        c for c in candidates if c in params.categorical or isinstance(data[c].dtype, pd.CategoricalDtype)
    ]
    non_numeric = [
        c for c in candidates if c not in categorical and not pd.api.types.is_numeric_dtype(data[c].dtype)
    ]
    if non_numeric:
        raise ValueError(
            f"columns {non_numeric} are neither numeric nor declared categorical; add them to "
            "features.categorical or features.exclude"
        )
    fit_rows = pd.concat([parts["train"], parts["validation"]])
    kept, dropped = select_features(fit_rows, candidates)
    if not kept:
        raise ValueError(f"no usable feature columns: all candidates are constant or empty ({dropped})")
    categorical = [c for c in categorical if c in kept]
    categories = {
        c: sorted(fit_rows[c].dropna().astype("string").astype(str).unique().tolist()) for c in categorical
    }
    X = {name: prepare_matrix(part, kept, categories) for name, part in parts.items()}
    y = {name: _labels(part) for name, part in parts.items()}
    timings["prepare_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    model, best = fit_lgbm(X["train"], y["train"], X["validation"], y["validation"], params.lgbm, params.seed)
    timings["lgbm_s"] = time.perf_counter() - t

    t = time.perf_counter()
    calibrated, choice = calibrate(
        model,
        X["calibration"],
        y["calibration"],
        params.calibration,
        folds=params.calibration_folds,
        seed=params.seed,
    )
    final = Pipeline([("prepare", FeatureCaster(list(kept), categories)), ("calibrated", calibrated)])
    timings["calibrate_s"] = time.perf_counter() - t

    t = time.perf_counter()
    fit_X = pd.concat([X["train"], X["validation"]])
    scorecard = fit_scorecard(
        fit_X, np.concatenate([y["train"], y["validation"]]), categorical, params.scorecard
    )
    timings["scorecard_s"] = time.perf_counter() - t

    t = time.perf_counter()
    p_test = final.predict_proba(X["test"])[:, 1]
    p_raw = model.predict_proba(X["test"])[:, 1]
    p_base = scorecard_predict(scorecard, X["test"], categorical)
    segments = (
        parts["test"][params.segment_column]
        if params.segment_column in parts["test"].columns
        else pd.Series("(all)", index=parts["test"].index)
    )
    test = pd.DataFrame(
        {
            "debtor_id": parts["test"]["debtor_id"].to_numpy(),
            "as_of": parts["test"]["as_of"].to_numpy(),
            "segment": segments.astype("string").to_numpy(),
            "y": y["test"],
            "pd": p_test,
            "pd_raw": p_raw,
            "pd_baseline": p_base,
        }
    )
    importance = _importance(model, kept)
    ref_rows = pd.concat([X["calibration"], X["test"]])
    ref_scores = pd.Series(final.predict_proba(ref_rows)[:, 1])
    top = importance["feature"].head(params.reference_features).tolist()
    reference = {
        "sample": {
            "windows": ["calibration", "test"],
            "as_of": plan.describe()["calibration"] + plan.describe()["test"],
            "rows": len(ref_rows),
        },
        "score": reference_distribution(ref_scores, params.reference_bins),
        "top_features": top,
        "features": {c: reference_distribution(ref_rows[c], params.reference_bins) for c in top},
    }
    outcome = TrainingOutcome(
        final_estimator=final,
        model=model,
        scorecard=scorecard,
        calibration=choice,
        feature_names=list(kept),
        categorical=categorical,
        categories=categories,
        dropped=dropped,
        plan=plan,
        windows=windows,
        best_iteration=best,
        metrics=classification_metrics(y["test"], p_test),
        baseline_metrics=classification_metrics(y["test"], p_base),
        uncalibrated_metrics=classification_metrics(y["test"], p_raw),
        segments=segment_table(y["test"], p_test, test["segment"]),
        baseline_segments=segment_table(y["test"], p_base, test["segment"]),
        calibration_curve=calibration_table(y["test"], p_test),
        test=test,
        X_test=X["test"],
        importance=importance,
        reference=reference,
        schema=feature_schema(kept, categories),
        timings=timings,
    )
    timings["evaluate_s"] = time.perf_counter() - t
    return outcome
