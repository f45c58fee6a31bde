"""Invoicing family: volume and amounts invoiced, their trend, and the latest invoice."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature


def _count(s: LedgerState, window: int) -> np.ndarray:
    return s.memo(("_count", window), lambda: _count_compute(s, window))


def _count_compute(s: LedgerState, window: int) -> np.ndarray:
    return s.sum_by(s.inv_code[s.in_window(s.inv_issue, window)])


def _amount(s: LedgerState, window: int) -> np.ndarray:
    return s.memo(("_amount", window), lambda: _amount_compute(s, window))


def _amount_compute(s: LedgerState, window: int) -> np.ndarray:
    sel = s.in_window(s.inv_issue, window)
    return s.sum_by(s.inv_code[sel], s.inv_amount[sel])


@feature(
    "invoicing",
    "90 days",
    "count",
    "{value:.0f} invoice(s) in the last 90 days",
    0,
    above="buys more often than most customers: {value:.0f} invoice(s) in the last 90 days (typical "
    "{typical:.0f}), a larger exposure at stake",
    below="buys less often than most customers: {value:.0f} invoice(s) in the last 90 days (typical "
    "{typical:.0f}), little recent trading to judge by",
)
def invoice_count_90d(s: LedgerState) -> np.ndarray:
    """Invoices issued in (T-90, T] (count)."""
    return _count(s, 90)


@feature(
    "invoicing",
    "365 days",
    "count",
    "{value:.0f} invoice(s) in the last year",
    0,
    above="buys more often than most customers: {value:.0f} invoice(s) in the last year (typical "
    "{typical:.0f}), a larger exposure at stake",
    below="buys less often than most customers: {value:.0f} invoice(s) in the last year (typical "
    "{typical:.0f}), little trading to judge by",
)
def invoice_count_365d(s: LedgerState) -> np.ndarray:
    """Invoices issued in (T-365, T] (count)."""
    return _count(s, 365)


@feature(
    "invoicing",
    "90 days",
    "currency",
    "{money} invoiced in the last 90 days",
    0,
    above="large purchases: {money} invoiced in the last 90 days (typical {typical_money}), more at stake",
    below="small purchases: {money} invoiced in the last 90 days (typical {typical_money}), a thin trading "
    "relationship",
)
def invoice_amount_90d(s: LedgerState) -> np.ndarray:
    """Amount invoiced in (T-90, T] (currency units)."""
    return _amount(s, 90)


@feature(
    "invoicing",
    "365 days",
    "currency",
    "{money} invoiced in the last year",
    0,
    above="large purchases: {money} invoiced in the last year (typical {typical_money}), more at stake",
    below="small purchases: {money} invoiced in the last year (typical {typical_money}), a thin trading "
    "relationship",
)
def invoice_amount_365d(s: LedgerState) -> np.ndarray:
    """Amount invoiced in (T-365, T] (currency units)."""
    return _amount(s, 365)


@feature(
    "invoicing",
    "90 vs 365 days",
    "ratio",
    "invoicing at {value:.1f}x its yearly pace",
    0,
    words="Amount invoiced in the last 90 days against the usual 90 days of the last year",
)
def invoice_amount_trend_90_365(s: LedgerState) -> np.ndarray:
    """Amount invoiced in 90 days / (amount in 365 days x 90/365) (ratio; NaN without invoices in 365 days)."""
    return s.ratio(_amount(s, 90), _amount(s, 365) * (90 / 365))


@feature(
    "invoicing",
    "90 vs 365 days",
    "ratio",
    "invoice count at {value:.1f}x its yearly pace",
    0,
    words="Invoices issued in the last 90 days against the usual 90 days of the last year",
)
def invoice_count_trend_90_365(s: LedgerState) -> np.ndarray:
    """Invoices issued in 90 days / (invoices in 365 days x 90/365) (ratio; NaN without invoices in 365 days)."""
    return s.ratio(_count(s, 90), _count(s, 365) * (90 / 365))


@feature("invoicing", "365 days", "ratio", "latest invoice is {value:.1f}x the usual amount", 1)
def last_invoice_amount_ratio(s: LedgerState) -> np.ndarray:
    """Latest invoice amount / mean amount of invoices issued in (T-365, T] (ratio; NaN if none)."""
    # invoices are sorted by (debtor, issue, due, id): the last row of each debtor is its latest
    last = np.full(s.n, np.nan)
    if len(s.inv_code):
        ends = np.flatnonzero(np.r_[s.inv_code[1:] != s.inv_code[:-1], True])
        latest_ok = s.in_window(s.inv_issue[ends], 365)
        last[s.inv_code[ends][latest_ok]] = s.inv_amount[ends][latest_ok]
    mean = s.ratio(_amount(s, 365), _count(s, 365))
    return last / mean


@feature(
    "invoicing",
    "history to T",
    "days",
    "last invoice {value:.0f} days ago",
    0,
    above="no new invoice for {value:.0f} days (typical {typical:.0f}): the customer may have stopped buying",
    below="invoiced {value:.0f} days ago (typical {typical:.0f}): new exposure is still being added",
)
def days_since_last_invoice(s: LedgerState) -> np.ndarray:
    """Days from the latest invoice issued by T to T (days; NaN before the first invoice)."""
    last = s.max_by(s.inv_code, s.inv_issue.astype(np.float64), fill=np.nan)
    return s.T - last


@feature(
    "invoicing",
    "365 days",
    "days",
    "payment terms average {value:.0f} days",
    0,
    above="long payment terms: {value:.0f} days on average (typical {typical:.0f}), more credit given",
    below="short payment terms: {value:.0f} days on average (typical {typical:.0f}), little room before "
    "an invoice is overdue",
)
def payment_terms_mean_365d(s: LedgerState) -> np.ndarray:
    """Mean days from issue to due date of invoices issued in (T-365, T] (days; NaN if none)."""
    sel = s.in_window(s.inv_issue, 365)
    code = s.inv_code[sel]
    return s.ratio(s.sum_by(code, (s.inv_due - s.inv_issue)[sel].astype(np.float64)), s.sum_by(code))
