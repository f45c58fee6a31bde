"""Disputes family: how often the debtor disputes invoices and how much is disputed and open."""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState
from features.register import feature


@feature("disputes", "365 days", "share 0-1", "{value:.0%} of the invoices in the last year disputed", 1)
def dispute_rate_365d(s: LedgerState) -> np.ndarray:
    """Share of invoices issued in (T-365, T] flagged disputed (share 0-1; NaN if none issued)."""
    sel = s.in_window(s.inv_issue, 365)
    dis = sel & s.inv_disputed
    return s.ratio(s.sum_by(s.inv_code[dis]), s.sum_by(s.inv_code[sel]))


@feature("disputes", "at T", "currency", "{money} open and disputed", 1)
def open_disputed_amount(s: LedgerState) -> np.ndarray:
    """Unpaid amount of disputed invoices at T (currency units)."""
    sel = s.open_mask & s.inv_disputed
    return s.sum_by(s.inv_code[sel], s.inv_remaining[sel])


@feature(
    "disputes",
    "at T",
    "count",
    "{value:.0f} disputed invoice(s) open",
    1,
    words="Disputed invoices not yet fully paid",
)
def open_disputed_count(s: LedgerState) -> np.ndarray:
    """Disputed invoices still (partly) unpaid at T (count)."""
    sel = s.open_mask & s.inv_disputed
    return s.sum_by(s.inv_code[sel])
