"""Tenure and static family: age of the relationship and static debtor attributes."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature


@feature("tenure", "history to T", "days", "a short track record: customer for only {span}", -1)
def tenure_days(s: LedgerState) -> np.ndarray:
    """Days from the start of the relationship (earliest of onboarding and first invoice, <= T) to T (days)."""
    led = s.ledger
    starts = np.column_stack([led.onboarded, led.first_invoice])
    starts = np.where(starts <= s.T, starts, np.nan)
    with np.errstate(invalid="ignore"):
        first = np.fmin(starts[:, 0], starts[:, 1])
    return s.T - first


@feature(
    "tenure",
    "static",
    "currency",
    "credit limit of {money}",
    0,
    above="high credit limit of {money} (typical {typical_money}): more exposure allowed",
    below="low credit limit of {money} (typical {typical_money}): the credit team already holds this "
    "customer short",
)
def credit_limit(s: LedgerState) -> np.ndarray:
    """Credit limit from the debtor master data (currency units; NaN when unknown)."""
    return s.ledger.credit_limit.copy()
