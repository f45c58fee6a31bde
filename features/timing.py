"""Payment timing family: how many days late the debtor pays, by window (amount-weighted).

Days late of a payment piece = paid day - due day of the invoice it settles (negative = early).
Windows select pieces paid in (T - w, T]; a credit memo's pieces (payments.kind = credit) are no
payment and are left out.
"""

from __future__ import annotations

import numpy as np

from features.ledger import LedgerState, group_cumsum
from features.register import feature


def _mean(s: LedgerState, window: int) -> np.ndarray:
    return s.memo(("_mean", window), lambda: _mean_compute(s, window))


def _mean_compute(s: LedgerState, window: int) -> np.ndarray:
    sel = s.cash_pieces(s.in_window(s.pc_date, window))
    code, w = s.pc_code[sel], s.pc_amount[sel]
    return s.ratio(s.sum_by(code, w * s.pc_days_late[sel]), s.sum_by(code, w))


def weighted_quantile_by(
    n: int, code: np.ndarray, values: np.ndarray, weights: np.ndarray, q: float
) -> np.ndarray:
    """Per-code weighted quantile: smallest value whose cumulative weight share reaches ``q`` (NaN if none)."""
    out = np.full(n, np.nan)
    if len(code) == 0:
        return out
    vmin = float(values.min())
    span = float(values.max()) - vmin + 1
    if np.all(values == np.round(values)) and span * (int(code.max()) + 1) < 2.0**62:
        order = np.argsort(
            code.astype(np.int64) * int(span) + (values - vmin).astype(np.int64), kind="stable"
        )
    else:
        order = np.lexsort((values, code))
    c, v, w = code[order], values[order], weights[order]
    cum = group_cumsum(c, w)
    total = np.bincount(c, weights=w, minlength=n)[c]
    hit = cum >= q * total - 1e-9 * np.maximum(total, 1.0)
    c_hit = c[hit]  # sorted: the first hit of each code starts its run
    first = np.r_[True, c_hit[1:] != c_hit[:-1]] if len(c_hit) else np.zeros(0, dtype=bool)
    out[c_hit[first]] = v[hit][first]
    return out


def _p90(s: LedgerState, window: int) -> np.ndarray:
    sel = s.cash_pieces(s.in_window(s.pc_date, window))
    return weighted_quantile_by(s.n, s.pc_code[sel], s.pc_days_late[sel], s.pc_amount[sel], 0.9)


@feature("timing", "90 days", "days", "paid on average {late} in the last 90 days", 1)
def days_late_mean_90d(s: LedgerState) -> np.ndarray:
    """Amount-weighted mean days late of payments made in (T-90, T] (days; NaN without payments)."""
    return _mean(s, 90)


@feature("timing", "180 days", "days", "paid on average {late} in the last 180 days", 1)
def days_late_mean_180d(s: LedgerState) -> np.ndarray:
    """Amount-weighted mean days late of payments made in (T-180, T] (days; NaN without payments)."""
    return _mean(s, 180)


@feature("timing", "365 days", "days", "paid on average {late} in the last year", 1)
def days_late_mean_365d(s: LedgerState) -> np.ndarray:
    """Amount-weighted mean days late of payments made in (T-365, T] (days; NaN without payments)."""
    return _mean(s, 365)


@feature(
    "timing",
    "180 days",
    "days",
    "a tenth of the cash in the last 180 days came {late} or later",
    1,
    words="Days late of the latest-paid tenth of the amount paid in the last 180 days",
)
def days_late_p90_180d(s: LedgerState) -> np.ndarray:
    """Amount-weighted 90th percentile of days late of payments in (T-180, T] (days; NaN without)."""
    return _p90(s, 180)


@feature(
    "timing",
    "365 days",
    "days",
    "a tenth of the cash in the last year came {late} or later",
    1,
    words="Days late of the latest-paid tenth of the amount paid in the last year",
)
def days_late_p90_365d(s: LedgerState) -> np.ndarray:
    """Amount-weighted 90th percentile of days late of payments in (T-365, T] (days; NaN without)."""
    return _p90(s, 365)


@feature("timing", "90 vs 365 days", "days", "paying {value:.0f} days later than over the last year", 1)
def days_late_trend_90_365(s: LedgerState) -> np.ndarray:
    """Mean days late over 90 days minus mean days late over 365 days (days; NaN when either is)."""
    return _mean(s, 90) - _mean(s, 365)


@feature(
    "timing",
    "365 days",
    "days",
    "payment timing varies by {value:.0f} days (standard deviation)",
    1,
    words="How much the days late of payments varied in the last year",
)
def days_late_std_365d(s: LedgerState) -> np.ndarray:
    """Amount-weighted standard deviation of days late of payments in (T-365, T] (days; NaN without)."""
    sel = s.cash_pieces(s.in_window(s.pc_date, 365))
    code, w, x = s.pc_code[sel], s.pc_amount[sel], s.pc_days_late[sel]
    wsum = s.sum_by(code, w)
    mean = s.ratio(s.sum_by(code, w * x), wsum)
    var = s.ratio(s.sum_by(code, w * x * x), wsum) - mean**2
    return np.sqrt(np.maximum(var, 0.0))
