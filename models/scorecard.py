"""Scorecard baseline: optimal WoE binning (optbinning ``BinningProcess``) + logistic regression.

This is the transparent benchmark the gradient-boosted model must beat. optbinning prints an
ImportError about ``highspy`` when imported; the MIP solver it refers to is not used here.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

__all__ = ["ScorecardParams", "fit_scorecard", "scorecard_predict", "scorecard_table"]


@dataclass(frozen=True)
class ScorecardParams:
    """Binning and regression settings.

    ``max_n_prebins``/``min_prebin_size`` control the pre-binning (share of rows, 0..1),
    ``max_n_bins`` the final bins per variable, ``C`` the inverse L2 strength of the regression.
    """

    max_n_prebins: int = 20
    min_prebin_size: float = 0.05
    max_n_bins: int = 8
    C: float = 1.0
    max_iter: int = 1000


def _optbinning():
    # optbinning imports cvxpy, which reports a broken optional solver on stderr; keep logs clean.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        from optbinning import BinningProcess, Scorecard
    return BinningProcess, Scorecard


def fit_scorecard(
    X: pd.DataFrame,
    y: np.ndarray | pd.Series,
    categorical: list[str],
    params: ScorecardParams = ScorecardParams(),
):
    """Fit the WoE scorecard on ``X`` (model columns, one row per debtor and as-of) and 0/1 ``y``.

    Returns a fitted ``optbinning.Scorecard`` (``predict_proba(X)[:, 1]`` is the PD). A column
    without a single value in these rows (a year window not yet half observed in the early
    month-ends of a short export: ``features.catalog``) is left out: optbinning cannot bin an empty
    column, and it carries nothing to learn here; predictions read only the binned columns.
    """
    BinningProcess, Scorecard = _optbinning()
    frame = X[[c for c in X.columns if X[c].notna().any()]].copy()
    categorical = [c for c in categorical if c in frame.columns]
    for col in categorical:
        frame[col] = frame[col].astype("object")
    process = BinningProcess(
        variable_names=list(frame.columns),
        categorical_variables=list(categorical),
        max_n_prebins=params.max_n_prebins,
        min_prebin_size=params.min_prebin_size,
        max_n_bins=params.max_n_bins,
    )
    model = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(C=params.C, max_iter=params.max_iter),
        scaling_method=None,
    )
    model.fit(frame, np.asarray(y, dtype="int64"))
    return model


def scorecard_predict(model, X: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    """PD in [0, 1] per row of ``X`` from a :func:`fit_scorecard` model."""
    frame = X.copy()
    for col in categorical:
        frame[col] = frame[col].astype("object")
    return np.asarray(model.predict_proba(frame)[:, 1], dtype="float64")


def scorecard_table(model) -> pd.DataFrame:
    """Bins and points per variable (optbinning's detailed table): Variable, Bin, WoE, Points, ..."""
    return model.table(style="detailed")
