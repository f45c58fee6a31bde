"""Probability calibration on the calibration window: isotonic or sigmoid (Platt), chosen by data.

The fitted model is frozen (``sklearn.frozen.FrozenEstimator``) so only the calibrator learns from
the calibration window. With ``method="auto"`` both methods are compared by stratified k-fold Brier
score *within* the calibration window (calibrators fitted on k-1 folds, scored on the held-out
fold); the lower mean Brier wins, ties going to sigmoid (fewer parameters). The winner is then
refitted on the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

__all__ = ["CalibrationChoice", "CalibrationMethod", "calibrate"]

CalibrationMethod = Literal["auto", "isotonic", "sigmoid"]


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen method and the cross-validated Brier score of each candidate (empty if fixed)."""

    method: Literal["isotonic", "sigmoid"]
    cv_brier: dict[str, float] = field(default_factory=dict)
    rule: str = ""


def _fit(model: ClassifierMixin, method: str, X: pd.DataFrame, y: np.ndarray) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X, y)


def calibrate(
    model: ClassifierMixin,
    X_cal: pd.DataFrame,
    y_cal: np.ndarray | pd.Series,
    method: CalibrationMethod = "auto",
    *,
    folds: int = 5,
    seed: int = 0,
) -> tuple[CalibratedClassifierCV, CalibrationChoice]:
    """Calibrate a fitted binary classifier on ``(X_cal, y_cal)``.

    ``X_cal``: one row per (debtor, as-of) of the calibration window, model columns only;
    ``y_cal``: 0/1 labels. Returns the fitted ``CalibratedClassifierCV`` (``predict_proba`` gives
    calibrated PDs in [0, 1]) and the :class:`CalibrationChoice`.
    """
    y = np.asarray(y_cal, dtype="int64")
    if len(y) != len(X_cal):
        raise ValueError(f"X_cal has {len(X_cal)} rows but y_cal has {len(y)}")
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise ValueError(
            f"calibration window has {positives} defaults among {len(y)} rows; both classes are needed. "
            "Widen the calibration window (split.calibration_snapshots)"
        )
    if method != "auto":
        return _fit(model, method, X_cal, y), CalibrationChoice(method=method, rule="fixed by config")
    k = int(min(folds, positives, len(y) - positives))
    if k < 2:
        return _fit(model, "sigmoid", X_cal, y), CalibrationChoice(
            method="sigmoid", rule="too few defaults for a cross-validated choice; sigmoid by default"
        )
    scores: dict[str, float] = {}
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for candidate in ("sigmoid", "isotonic"):
        losses = []
        for fit_idx, held_idx in splitter.split(np.zeros(len(y)), y):
            cal = _fit(model, candidate, X_cal.iloc[fit_idx], y[fit_idx])
            losses.append(brier_score_loss(y[held_idx], cal.predict_proba(X_cal.iloc[held_idx])[:, 1]))
        scores[candidate] = float(np.mean(losses))
    best = "isotonic" if scores["isotonic"] < scores["sigmoid"] else "sigmoid"
    rule = f"lower {k}-fold cross-validated Brier within the calibration window (ties -> sigmoid)"
    return _fit(model, best, X_cal, y), CalibrationChoice(method=best, cv_brier=scores, rule=rule)
