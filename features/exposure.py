"""Exposure family: what the debtor owes at T and how much of it is overdue (currency units)."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature

_BUCKETS = {"1_30": (1, 30), "31_60": (31, 60), "61_90": (61, 90), "90p": (91, np.inf)}


def _overdue_in(s: LedgerState, lo: float, hi: float) -> np.ndarray:
    return s.memo(("_overdue_in", lo, hi), lambda: _overdue_in_compute(s, lo, hi))


def _overdue_in_compute(s: LedgerState, lo: float, hi: float) -> np.ndarray:
    sel = s.open_mask & (s.dpd_open >= lo) & (s.dpd_open <= hi)
    return s.sum_by(s.inv_code[sel], s.inv_remaining[sel])


@feature("exposure", "at T", "currency", "open balance of {money}", 1)
def open_balance(s: LedgerState) -> np.ndarray:
    """Unpaid amount of all invoices issued by T, at T (currency units)."""
    return s.memo(("open_balance",), lambda: s.sum_by(s.inv_code[s.open_mask], s.inv_remaining[s.open_mask]))


@feature("exposure", "at T", "currency", "{money} overdue", 1)
def overdue_amount(s: LedgerState) -> np.ndarray:
    """Unpaid amount of invoices past their due date at T (due_date < T; currency units)."""
    return _overdue_in(s, 1, np.inf)


@feature("exposure", "at T", "currency", "{money} overdue by 1-30 days", 1)
def overdue_amount_1_30(s: LedgerState) -> np.ndarray:
    """Unpaid amount 1-30 days past due at T (currency units)."""
    return _overdue_in(s, *_BUCKETS["1_30"])


@feature("exposure", "at T", "currency", "{money} overdue by 31-60 days", 1)
def overdue_amount_31_60(s: LedgerState) -> np.ndarray:
    """Unpaid amount 31-60 days past due at T (currency units)."""
    return _overdue_in(s, *_BUCKETS["31_60"])


@feature("exposure", "at T", "currency", "{money} overdue by 61-90 days", 1)
def overdue_amount_61_90(s: LedgerState) -> np.ndarray:
    """Unpaid amount 61-90 days past due at T (currency units)."""
    return _overdue_in(s, *_BUCKETS["61_90"])


@feature("exposure", "at T", "currency", "{money} overdue by more than 90 days", 1)
def overdue_amount_90p(s: LedgerState) -> np.ndarray:
    """Unpaid amount more than 90 days past due at T (currency units)."""
    return _overdue_in(s, *_BUCKETS["90p"])


@feature("exposure", "at T", "count", "{value:.0f} invoice(s) open", 1, words="Invoices not yet fully paid")
def open_invoice_count(s: LedgerState) -> np.ndarray:
    """Number of invoices (partly) unpaid at T (count)."""
    return s.sum_by(s.inv_code[s.open_mask])


@feature("exposure", "at T", "share 0-1", "{value:.0%} of the open balance is overdue", 1)
def overdue_share(s: LedgerState) -> np.ndarray:
    """Overdue amount / open balance at T (share 0-1; 0 when nothing is open)."""
    share = s.ratio(overdue_amount(s), open_balance(s))
    return np.nan_to_num(share, nan=0.0)


@feature("exposure", "at T", "share of limit", "open balance at {value:.0%} of the credit limit", 1)
def utilisation(s: LedgerState) -> np.ndarray:
    """Open balance / credit limit at T (ratio; NaN without a positive credit limit)."""
    limit = s.ledger.credit_limit
    return s.ratio(open_balance(s), np.where(limit > 0, limit, 0.0))


@feature("exposure", "at T", "currency", "only {money} of unapplied cash on account", -1)
def credit_on_account(s: LedgerState) -> np.ndarray:
    """Cash paid by T not applied to any invoice issued by T (currency units)."""
    return s.credit_on_account.copy()


@feature(
    "exposure",
    "at T",
    "share 0-1",
    "largest open invoice is {value:.0%} of the open balance",
    0,
    above="concentrated exposure: the largest open invoice is {value:.0%} of the open balance (typical "
    "{typical:.0%})",
    below="many open invoices: the largest is only {value:.0%} of the open balance (typical {typical:.0%})",
)
def largest_open_share(s: LedgerState) -> np.ndarray:
    """Largest unpaid invoice remainder / open balance at T (share 0-1; NaN when nothing is open)."""
    sel = s.open_mask
    return s.ratio(s.max_by(s.inv_code[sel], s.inv_remaining[sel], fill=0.0), open_balance(s))
