"""Reason codes: the top risk-raising SHAP contributions of a debtor, as plain-language sentences.

Contributions come from LightGBM's built-in TreeSHAP (``Booster.predict(X, pred_contrib=True)``),
the same algorithm as ``shap.TreeExplainer`` without its overhead. They are in log-odds of the
booster's raw (uncalibrated) score: for every row, ``contributions.sum(axis=1) + expected_value``
equals ``booster.predict(X, raw_score=True)``. Calibration is monotone, so a contribution that
raises the raw score raises the PD.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["Contributions", "ReasonText", "contributions", "reason_codes", "reasons_wide"]


class ReasonText(Protocol):
    """What a reason needs from a feature's catalog entry (``features.catalog.FeatureInfo``)."""

    reason: str
    description: str


@dataclass(frozen=True)
class Contributions:
    """SHAP contributions of one scored frame.

    ``values``: one row per input row (same index), one column per model feature, log-odds.
    ``expected_value``: the model's base value (log-odds), one per row (constant for a booster).
    """

    values: pd.DataFrame
    expected_value: np.ndarray

    @property
    def raw_score(self) -> np.ndarray:
        """Sum of contributions plus base value: the booster's raw score per row (log-odds)."""
        return self.values.to_numpy().sum(axis=1) + self.expected_value


def contributions(booster: lgb.Booster, X: pd.DataFrame) -> Contributions:
    """TreeSHAP contributions of ``X`` (rows = debtors, columns in the booster's feature order).

    Returns a :class:`Contributions` whose ``values`` frame is n_rows x n_features (log-odds).
    Raises ``ValueError`` when the columns of ``X`` are not the booster's features in order.
    """
    names = booster.feature_name()
    if list(X.columns) != names:
        missing = [c for c in names if c not in X.columns]
        extra = [c for c in X.columns if c not in names]
        raise ValueError(
            f"X does not match the booster's features (missing {missing}, extra {extra}); "
            "build it with models.registry.prepare_X"
        )
    if len(X) == 0:
        return Contributions(pd.DataFrame(columns=names, index=X.index, dtype="float64"), np.zeros(0))
    raw = np.asarray(booster.predict(X, pred_contrib=True))
    if raw.shape[1] != len(names) + 1:
        raise ValueError(
            f"pred_contrib returned {raw.shape[1]} columns for {len(names)} features; "
            "multiclass boosters are not supported"
        )
    values = pd.DataFrame(raw[:, :-1], index=X.index, columns=names)
    return Contributions(values, raw[:, -1].copy())


def _format_one(template: str, description: str, feature: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return f"{description or feature}: no history available"
    try:
        return template.format(value=value)
    except (ValueError, TypeError, KeyError, IndexError):
        return f"{description or feature}: {value}"


def _sentences(feature: str, values: pd.Series, catalog: Mapping[str, ReasonText]) -> np.ndarray:
    """Sentence per value of one feature; each distinct value is formatted once."""
    info = catalog.get(feature)
    template = getattr(info, "reason", "") or ""
    description = getattr(info, "description", "") or feature.replace("_", " ")
    if not template:
        template = description + ": {value}"
    obj = values.astype(object).where(values.notna(), None)
    codes, uniques = pd.factorize(obj, use_na_sentinel=True)
    texts = np.array([_format_one(template, description, feature, u) for u in uniques] + [None], dtype=object)
    texts[-1] = _format_one(template, description, feature, None)
    return texts[codes]  # code -1 picks the trailing "no history" sentence


def reason_codes(
    contrib: Contributions,
    X: pd.DataFrame,
    catalog: Mapping[str, ReasonText],
    top_n: int = 4,
) -> pd.DataFrame:
    """Top ``top_n`` risk-raising contributions per row, as sentences.

    ``X`` holds the feature values shown in the sentences (same index and columns as the
    contributions). Only contributions > 0 (raising the PD) are kept, so a row may get fewer than
    ``top_n`` reasons. Returns a long frame, one row per (input row, rank): ``row`` (index label of
    ``X``), ``rank`` (1 = strongest), ``feature``, ``value`` (as text), ``contribution`` (log-odds)
    and ``reason`` (the sentence). Sorted by input order then rank.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    cols = ["row", "rank", "feature", "value", "contribution", "reason"]
    values = contrib.values
    if not values.index.equals(X.index) or list(values.columns) != list(X.columns):
        raise ValueError("contributions and X must share index and columns")
    n, f = values.shape
    if n == 0 or f == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols}).astype(
            {"rank": "int64", "contribution": "float64"}
        )
    k = min(top_n, f)
    arr = values.to_numpy(dtype="float64")
    order = np.argsort(-arr, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(arr, order, axis=1)
    keep = (top > 0).ravel()
    row_pos = np.repeat(np.arange(n), k)[keep]
    feat_pos = order.ravel()[keep]
    rank = np.tile(np.arange(1, k + 1), n)[keep]
    contribution = top.ravel()[keep]

    reason = np.empty(len(row_pos), dtype=object)
    value_text = np.empty(len(row_pos), dtype=object)
    for j in np.unique(feat_pos):
        sel = np.flatnonzero(feat_pos == j)
        feature = values.columns[j]
        vals = X[feature].iloc[row_pos[sel]]
        reason[sel] = _sentences(feature, vals, catalog)
        value_text[sel] = vals.astype("string").fillna("").to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "row": X.index.to_numpy()[row_pos],
            "rank": rank.astype("int64"),
            "feature": values.columns.to_numpy()[feat_pos],
            "value": value_text,
            "contribution": contribution,
            "reason": reason,
        }
    )


def reasons_wide(long: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Pivot :func:`reason_codes` output to one row per ``row``: ``reason_1..reason_<top_n>`` (text,
    empty when there are fewer reasons) and ``reasons`` (all of them joined with "; ")."""
    names = [f"reason_{i}" for i in range(1, top_n + 1)]
    if long.empty:
        return pd.DataFrame(columns=[*names, "reasons"], dtype="string")
    wide = long.pivot(index="row", columns="rank", values="reason").reindex(columns=range(1, top_n + 1))
    wide.columns = names
    wide = wide.astype("string").fillna("")
    joined = wide[names[0]]
    for name in names[1:]:
        joined = joined.str.cat(wide[name], sep="; ")
    wide["reasons"] = joined.str.replace(r"(; )+$", "", regex=True)
    wide.index.name = None
    return wide
