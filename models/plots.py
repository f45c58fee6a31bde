"""Figures for the training report: ROC, calibration, feature importance and the SHAP summary.

Each function returns a matplotlib ``Figure`` (no file I/O, never shown; without a display
matplotlib falls back to the Agg backend); the caller logs or saves it and then closes it.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightgbm as lgb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from models.evaluate import calibration_table

__all__ = ["calibration_figure", "importance_figure", "roc_figure", "shap_summary_figure"]


def roc_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several PD vectors (name -> PD per row) against the same 0/1 labels ``y``."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test window")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration_figure(y: np.ndarray, scores: Mapping[str, np.ndarray], n_bins: int = 10) -> Figure:
    """Reliability curves (equal-frequency bins): mean PD vs observed default rate per bin."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for label, p in scores.items():
        table = calibration_table(y, p, n_bins)
        ax.plot(table["mean_pd"], table["default_rate"], marker="o", label=label)
        top = max(top, float(table[["mean_pd", "default_rate"]].to_numpy().max()))
    top = min(1.0, top * 1.05 + 1e-3)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration, test window")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.DataFrame, top: int = 20) -> Figure:
    """Horizontal bars of the ``gain_share`` column of ``importance`` (one row per ``feature``)."""
    head = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(head) + 1.2))
    ax.barh(head["feature"], head["gain_share"])
    ax.set(xlabel="share of total gain", title="LightGBM feature importance")
    fig.tight_layout()
    return fig


def shap_summary_figure(booster: lgb.Booster, X: pd.DataFrame, max_display: int = 15) -> Figure:
    """SHAP summary (beeswarm) of the booster on ``X`` (model input rows).

    TreeSHAP values come from LightGBM's ``pred_contrib`` (log-odds scale); categorical columns are
    coloured by their category code.
    """
    import shap

    contrib = booster.predict(X, pred_contrib=True)[:, :-1]
    shown = X.copy()
    for col in shown.columns:
        if isinstance(shown[col].dtype, pd.CategoricalDtype):
            shown[col] = shown[col].cat.codes.astype("float64").where(shown[col].notna())
    plt.figure(figsize=(7, 0.35 * min(max_display, X.shape[1]) + 1.5))
    shap.summary_plot(contrib, shown, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle("SHAP summary (log-odds), test window")
    fig.tight_layout()
    return fig
