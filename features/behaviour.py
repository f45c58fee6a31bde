"""Payment behaviour family: how much, how often and how completely the debtor pays.

Cash only: a credit memo (payments.kind = credit) reduces what is open but is no payment, so the
amounts, counts and days since the last payment leave it out, and the amount invoiced is net of
the credit memos of the window (:func:`_invoiced`)."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature


def _paid(s: LedgerState, window: int) -> np.ndarray:
    return s.memo(("_paid", window), lambda: _paid_compute(s, window))


def _paid_compute(s: LedgerState, window: int) -> np.ndarray:
    sel = s.cash_payments(s.in_window(s.pay_date, window))
    return s.sum_by(s.pay_code[sel], s.pay_amount[sel])


def _invoiced(s: LedgerState, window: int) -> np.ndarray:
    return s.memo(("_invoiced", window), lambda: _invoiced_compute(s, window))


def _invoiced_compute(s: LedgerState, window: int) -> np.ndarray:
    sel = s.in_window(s.inv_issue, window)
    invoiced = s.sum_by(s.inv_code[sel], s.inv_amount[sel])
    if s.pay_credit is None:
        return invoiced
    memo = s.in_window(s.pay_date, window) & s.pay_credit  # credited in the window: not owed
    return np.maximum(invoiced - s.sum_by(s.pay_code[memo], s.pay_amount[memo]), 0.0)


@feature(
    "behaviour", "365 days", "share 0-1", "{value:.0%} of recently paid invoices are only partly paid", 1
)
def partial_payment_share_365d(s: LedgerState) -> np.ndarray:
    """Of invoices receiving cash in (T-365, T], the share still partly unpaid at T (share 0-1; NaN if none)."""
    sel = s.cash_pieces(s.in_window(s.pc_date, 365))
    touched = np.zeros(len(s.inv_code), dtype=bool)
    touched[s.pc_inv[sel]] = True
    partial = touched & s.open_mask
    return s.ratio(s.sum_by(s.inv_code[partial]), s.sum_by(s.inv_code[touched]))


@feature(
    "behaviour", "365 days", "share 0-1", "{value:.0%} of the cash in the last year was not allocated", 0
)
def unallocated_share_365d(s: LedgerState) -> np.ndarray:
    """Share of the amount paid in (T-365, T] that named no invoice issued by T (share 0-1; NaN if none)."""
    sel = s.cash_payments(s.in_window(s.pay_date, 365))
    un = sel & s.pay_unallocated
    return s.ratio(s.sum_by(s.pay_code[un], s.pay_amount[un]), s.sum_by(s.pay_code[sel], s.pay_amount[sel]))


@feature("behaviour", "history to T", "days", "no payment for {value:.0f} days", 1)
def days_since_last_payment(s: LedgerState) -> np.ndarray:
    """Days from the last payment (paid_on <= T) to T (days; NaN if the debtor never paid)."""
    code, day = s.pay_code, s.pay_date
    if s.pay_credit is not None:  # cash only (no copy of the arrays without credit memos)
        code, day = code[~s.pay_credit], day[~s.pay_credit]
    last = s.max_by(code, day.astype(np.float64), fill=np.nan)
    return s.T - last


@feature("behaviour", "90 days", "count", "only {value:.0f} payment(s) in the last 90 days", -1)
def payment_count_90d(s: LedgerState) -> np.ndarray:
    """Payments made in (T-90, T] (count)."""
    return s.sum_by(s.pay_code[s.cash_payments(s.in_window(s.pay_date, 90))])


@feature("behaviour", "365 days", "count", "only {value:.0f} payment(s) in the last year", -1)
def payment_count_365d(s: LedgerState) -> np.ndarray:
    """Payments made in (T-365, T] (count)."""
    return s.sum_by(s.pay_code[s.cash_payments(s.in_window(s.pay_date, 365))])


@feature("behaviour", "90 days", "currency", "only {money} paid in the last 90 days", -1)
def payment_amount_90d(s: LedgerState) -> np.ndarray:
    """Amount paid in (T-90, T] (currency units)."""
    return _paid(s, 90)


@feature("behaviour", "365 days", "currency", "only {money} paid in the last year", -1)
def payment_amount_365d(s: LedgerState) -> np.ndarray:
    """Amount paid in (T-365, T] (currency units)."""
    return _paid(s, 365)


@feature(
    "behaviour", "90 days", "ratio", "paid only {value:.0%} of the amount invoiced in the last 90 days", -1
)
def paid_to_invoiced_90d(s: LedgerState) -> np.ndarray:
    """Amount paid / amount invoiced in (T-90, T] (ratio; NaN when nothing was invoiced)."""
    return s.ratio(_paid(s, 90), _invoiced(s, 90))


@feature(
    "behaviour", "365 days", "ratio", "paid only {value:.0%} of the amount invoiced in the last year", -1
)
def paid_to_invoiced_365d(s: LedgerState) -> np.ndarray:
    """Amount paid / amount invoiced in (T-365, T] (ratio; NaN when nothing was invoiced)."""
    return s.ratio(_paid(s, 365), _invoiced(s, 365))
