"""Seeded synthetic modelling frames for model tests (no feature pipeline needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_modelling_frame(
    n_debtors: int = 1500, n_snapshots: int = 10, seed: int = 0, unobserved_tail: int = 0
) -> pd.DataFrame:
    """One row per (debtor, month-end): a few informative features, one constant, one empty column.

    PD follows a logistic model of ``dpd_max_90d``, ``late_share_180d`` and the segment, so a
    model has real signal to find. The last ``unobserved_tail`` snapshots have no labels.
    """
    rng = np.random.default_rng(seed)
    snaps = pd.date_range("2023-01-31", periods=n_snapshots, freq="ME")
    n = n_debtors * n_snapshots
    debtor = np.tile(np.array([f"D{i:05d}" for i in range(n_debtors)]), n_snapshots)
    as_of = np.repeat(snaps.to_numpy(), n_debtors)
    base = np.tile(rng.normal(size=n_debtors), n_snapshots)
    dpd = np.clip(rng.gamma(1.5, 10, size=n) + 8 * base, 0, None)
    late = np.clip(rng.beta(2, 5, size=n) + 0.1 * base, 0, 1)
    balance = rng.lognormal(10, 1, size=n)
    segment = np.tile(rng.choice(["retail", "wholesale", "manufacturing"], n_debtors), n_snapshots)
    logit = -3.2 + 0.05 * dpd + 2.0 * late + 0.6 * (segment == "retail")
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array(debtor, dtype="string"),
            "as_of": pd.to_datetime(as_of),
            "dpd_max_90d": dpd,
            "late_share_180d": late,
            "open_balance": balance,
            "noise": rng.normal(size=n),
            "constant_col": 1.0,
            "empty_col": np.nan,
            "segment": pd.Categorical(segment),
            "label": pd.array(label, dtype="Int64"),
            "horizon_observed": True,
        }
    )
    if unobserved_tail:
        tail = frame["as_of"].isin(snaps[-unobserved_tail:])
        frame.loc[tail, "label"] = pd.NA
        frame.loc[tail, "horizon_observed"] = False
    return frame


def make_fold_frame(
    signal: str,
    effect: float,
    n_debtors: int = 500,
    n_snapshots: int = 20,
    n_features: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Monthly snapshots of ``n_debtors`` with ``n_features`` standard-normal columns ``x0, x1, ...``.

    ``signal="xor"``: log-odds ``-2.8 + effect * sign(x0 * x1) + 0.5 * x2``, an interaction that an
    additive WoE scorecard cannot express and trees can. ``signal="additive"``: log-odds
    ``-2.8 + effect * sum(x) / sqrt(n_features)``, the scorecard's own form. Every label observed.
    """
    rng = np.random.default_rng(seed)
    snaps = pd.date_range("2022-01-31", periods=n_snapshots, freq="ME")
    n = n_debtors * n_snapshots
    x = rng.normal(size=(n, n_features))
    if signal == "xor":
        logit = -2.8 + effect * np.sign(x[:, 0] * x[:, 1]) + 0.5 * x[:, 2]
    elif signal == "additive":
        logit = -2.8 + effect * x.sum(axis=1) / np.sqrt(n_features)
    else:
        raise ValueError(f"signal must be xor or additive, got {signal!r}")
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame = pd.DataFrame({f"x{i}": x[:, i] for i in range(n_features)})
    frame.insert(0, "as_of", np.repeat(snaps.to_numpy(), n_debtors))
    ids = np.tile(np.array([f"D{i:04d}" for i in range(n_debtors)]), n_snapshots)
    frame.insert(0, "debtor_id", pd.array(ids, dtype="string"))
    frame["label"] = pd.array(label, dtype="Int64")
    frame["horizon_observed"] = True
    return frame
