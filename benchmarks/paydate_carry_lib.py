"""Session 31's payment-date candidate ``carry`` (issue 13, s31-paydate2; pre-registered, not met, not
shipped): a not-yet-due invoice's forecast does not carry a spike of recent lateness in full. Used by
``benchmarks/paydate_candidate.py --candidate carry``. On ``ews generate`` contagion books the model carries
the debtors' recent lateness (twice their long-run mean) onto invoices due weeks later while the debtors
recover: its forecasts beyond week 12 were 16-19 days late (BENCHMARKS.md, "Session 31 (s31-paydate2)").
Tests: ``tests/benchmarks/test_paydate_carry_lib.py``. Wired into ``models.paydate.weekly_cdf`` it is the
patch /work/bench/s31-paydate2/unshipped/ kept in the session's notes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from features.paydate import PERIOD_DAYS  # noqa: E402
from models.paydate import MEDIAN_FLOOR, cdf_at, quantile_position  # noqa: E402

CARRY_KNEE_DAYS = 30.0
"""Implied lateness above the debtor's long-run mean up to which a not-yet-due invoice's forecast is
kept as the model gives it (:func:`carried_lateness_shift`)."""
CARRY_KEEP = 0.25
"""Share of the implied lateness beyond :data:`CARRY_KNEE_DAYS` that :func:`carried_lateness_shift` keeps."""


def carried_lateness_shift(
    F: np.ndarray, inv: pd.DataFrame, knee: float = CARRY_KNEE_DAYS, keep: float = CARRY_KEEP
) -> np.ndarray:
    """Days to move each invoice's weekly CDF ``F`` earlier (>= 0): for an invoice not yet due at T
    (``days_to_due`` > 0), the implied lateness of its forecast (the median given paid, as
    ``models.paydate.median_days`` reads it, minus the days to due) above the debtor's long-run mean
    (``debtor_mean_lateness``) is kept up to ``knee`` days and by the share ``keep`` beyond it; 0 for the
    others (overdue, no settled invoice, no median within the horizon)."""
    if not F.shape[1] or not len(inv):
        return np.zeros(F.shape[0])
    level = np.maximum(MEDIAN_FLOOR, 0.5 * F[:, -1:])
    to_due = inv["days_to_due"].to_numpy(dtype=np.float64)
    excess = (
        quantile_position(F / level, 1.0) - to_due - inv["debtor_mean_lateness"].to_numpy(dtype=np.float64)
    )
    cut = (1.0 - keep) * (excess - knee)
    return np.where((to_due > 0) & (excess > knee), cut, 0.0)  # NaN compares False: no shift


def shift_earlier(F: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The weekly CDF ``F`` with each row moved ``days[i]`` (>= 0) days earlier: F'(t) = F(t + days) at
    the week ends, linear within a week, F at the horizon end beyond it (P(paid within the horizon) stays)."""
    out = F.copy()
    rows = np.flatnonzero(days > 0)
    if not len(rows):
        return out
    G, d = F[rows], days[rows]
    for k in range(F.shape[1]):
        out[rows, k] = cdf_at(G, PERIOD_DAYS * (k + 1) + d)
    return out
