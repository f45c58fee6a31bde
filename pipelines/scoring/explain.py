"""Reason codes of some debtors with the loaded model: the watchlist's flagged debtors, and the
live queue's debtors that are not flagged (their top reason)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def explain(
    Xs: pd.DataFrame, X: pd.DataFrame, loaded: Any, top_n: int, currency: pd.Series | None
) -> tuple[Any, pd.DataFrame]:
    """(contributions, reasons in long form) of the rows ``Xs`` of the model input ``X``.

    LightGBM: TreeSHAP; scorecard: points per characteristic (same sentences either way); roll-rate
    (small books): one sentence from the debtor's days-past-due state and what the book saw from it. A reason
    counts only when the value points the feature's risk direction relative to the typical value:
    the training reference's median, else tonight's median over ``X``. ``currency``: ISO code per
    debtor (index of ``Xs``) for amounts in the sentences, or None.
    """
    import features.build  # noqa: F401 - importing the feature families fills CATALOG
    from features.catalog import CATALOG
    from models.reasons import model_contributions, reason_codes

    kind = getattr(loaded, "kind", "lightgbm")
    if kind == "none":  # no PD model registered yet (pipelines.scoring.nomodel): nothing to explain
        from models.reasons import Contributions

        empty = pd.DataFrame(index=Xs.index)
        none = Contributions(empty, np.zeros(len(Xs)))
        return none, reason_codes(none, empty, CATALOG, max(top_n, 1))
    if kind == "rollrate":
        return _rollrate_reasons(Xs, loaded, typical_values(X, loaded), currency)
    model = getattr(loaded, "scorecard", None) if kind == "scorecard" else loaded.booster
    contrib = model_contributions(kind, model, Xs, loaded.categorical_features)
    centre = typical_values(X, loaded)
    long = reason_codes(contrib, Xs, CATALOG, top_n, centre=centre, currency=currency)
    return contrib, long


def typical_values(X: pd.DataFrame, loaded: Any) -> pd.Series:
    """Per numeric column of ``X``: the training reference's median, else tonight's median over
    ``X``, computed only for the columns the reference lacks (at 1M, ``X.median`` of every column
    took 0.6-1.4 CPU-s, twice a night: the watchlist and the queue)."""
    columns = X.iloc[:0].median(numeric_only=True).index  # the columns ``X.median`` would cover
    medians = (getattr(loaded, "reference", None) or {}).get("medians") or {}
    centre = pd.Series(medians, dtype="float64").reindex(columns)
    missing = list(centre.index[centre.isna()])
    if missing:
        centre = centre.fillna(X[missing].median(numeric_only=True))
    return centre


def top_reasons(Xs: pd.DataFrame, X: pd.DataFrame, loaded: Any, currency: pd.Series | None) -> pd.Series:
    """The first risk-raising reason per debtor of ``Xs`` (text indexed by debtor_id; absent when
    no feature raises the debtor's PD)."""
    from models.reasons import reasons_wide

    if Xs.empty:
        return pd.Series(dtype="string")
    _, long = explain(Xs, X, loaded, 1, currency)
    wide = reasons_wide(long, 1)
    return wide["reason_1"].astype("string").rename_axis("debtor_id")


def _rollrate_reasons(
    Xs: pd.DataFrame, loaded: Any, centre: pd.Series, currency: pd.Series | None
) -> tuple[Any, pd.DataFrame]:
    """A roll-rate version's contributions (the log-odds gap between the book's mean PD and the
    state's on the DPD column, the resolution inside the state on its features' columns) and its
    reasons (``models.rollrate.reason_frame``: the state first, then the features that raise the PD
    above the state's)."""
    from models.reasons import Contributions
    from models.rollrate import reason_frame, rollrate_contributions

    model = loaded.estimator[-1] if hasattr(loaded.estimator, "steps") else loaded.estimator
    values, base = rollrate_contributions(model, Xs)
    return Contributions(values, base), reason_frame(model, Xs, centre, currency)
