"""Delinquency family: days past due now and over recent windows; invoices settled late."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature


def _dpd_max(s: LedgerState, window: int) -> np.ndarray:
    # last day each invoice was open (settled invoices close on their settlement day)
    last_open = np.where(np.isnan(s.inv_settled), s.T, s.inv_settled - 1)
    dpd = last_open - s.inv_due
    sel = (last_open > s.T - window) & (dpd > 0)
    return s.max_by(s.inv_code[sel], dpd[sel], fill=0.0)


def _late_count(s: LedgerState, window: int, days: int) -> np.ndarray:
    settled = s.inv_settled
    sel = ~np.isnan(settled)
    sel[sel] = s.in_window(settled[sel], window) & (s.settle_lateness[sel] > days)
    return s.sum_by(s.inv_code[sel])


@feature("delinquency", "at T", "days", "oldest overdue invoice is {value:.0f} days past due", 1)
def dpd_current_max(s: LedgerState) -> np.ndarray:
    """Days past due of the oldest open overdue invoice at T (days; 0 when none is overdue)."""
    return s.max_by(s.inv_code, s.dpd_open, fill=0.0)


@feature("delinquency", "90 days", "days", "up to {value:.0f} days past due in the last 90 days", 1)
def dpd_max_90d(s: LedgerState) -> np.ndarray:
    """Highest days past due reached by any invoice on a day in (T-90, T] (days)."""
    return _dpd_max(s, 90)


@feature("delinquency", "180 days", "days", "up to {value:.0f} days past due in the last 180 days", 1)
def dpd_max_180d(s: LedgerState) -> np.ndarray:
    """Highest days past due reached by any invoice on a day in (T-180, T] (days)."""
    return _dpd_max(s, 180)


@feature("delinquency", "365 days", "days", "up to {value:.0f} days past due in the last year", 1)
def dpd_max_365d(s: LedgerState) -> np.ndarray:
    """Highest days past due reached by any invoice on a day in (T-365, T] (days)."""
    return _dpd_max(s, 365)


@feature(
    "delinquency",
    "90 days",
    "count",
    "{value:.0f} invoice(s) paid more than 30 days late in the last 90 days",
    1,
)
def late30_count_90d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-90, T] more than 30 days after their due date (count)."""
    return _late_count(s, 90, 30)


@feature(
    "delinquency",
    "180 days",
    "count",
    "{value:.0f} invoice(s) paid more than 30 days late in the last 180 days",
    1,
)
def late30_count_180d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-180, T] more than 30 days after their due date (count)."""
    return _late_count(s, 180, 30)


@feature(
    "delinquency",
    "365 days",
    "count",
    "{value:.0f} invoice(s) paid more than 30 days late in the last year",
    1,
)
def late30_count_365d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-365, T] more than 30 days after their due date (count)."""
    return _late_count(s, 365, 30)


@feature(
    "delinquency",
    "90 days",
    "count",
    "{value:.0f} invoice(s) paid more than 60 days late in the last 90 days",
    1,
)
def late60_count_90d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-90, T] more than 60 days after their due date (count)."""
    return _late_count(s, 90, 60)


@feature(
    "delinquency",
    "180 days",
    "count",
    "{value:.0f} invoice(s) paid more than 60 days late in the last 180 days",
    1,
)
def late60_count_180d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-180, T] more than 60 days after their due date (count)."""
    return _late_count(s, 180, 60)


@feature(
    "delinquency",
    "365 days",
    "count",
    "{value:.0f} invoice(s) paid more than 60 days late in the last year",
    1,
)
def late60_count_365d(s: LedgerState) -> np.ndarray:
    """Invoices settled in (T-365, T] more than 60 days after their due date (count)."""
    return _late_count(s, 365, 60)


@feature("delinquency", "at T", "count", "{value:.0f} invoice(s) overdue", 1)
def overdue_invoice_count(s: LedgerState) -> np.ndarray:
    """Open invoices past their due date at T (count)."""
    sel = s.dpd_open > 0
    return s.sum_by(s.inv_code[sel])


@feature("delinquency", "at T", "days", "overdue balance is on average {value:.0f} days past due", 1)
def dpd_mean_overdue(s: LedgerState) -> np.ndarray:
    """Amount-weighted mean days past due of the overdue balance at T (days; 0 when none is overdue)."""
    sel = s.dpd_open > 0
    code, w = s.inv_code[sel], s.inv_remaining[sel]
    mean = s.ratio(s.sum_by(code, w * s.dpd_open[sel]), s.sum_by(code, w))
    return np.nan_to_num(mean, nan=0.0)
