"""Statement-history features: the second input path (one row per account per period).

As of T only statements with ``period_end <= T`` are used. Windows count calendar months back from
T's month: the 3-month window of T = 2005-09-30 holds the July, August and September statements.
"Latest" is the last statement on or before T, "previous" the one before it.

Payment status recovered from balances and amounts (the UCI ``PAY`` codes): a period with no
balance and nothing due is *inactive* (-2), one whose payment covers the amount due is *paid in
full* (-1), one with a positive balance paid partly but not late is *revolving* (0), otherwise the
status is months past due (days_past_due / 30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features import grouped
from features.register import REGISTERED, feature
from models.gate_words import counted

__all__ = [
    "MATERIAL_DPD",
    "StatementState",
    "build_statement_features",
    "material_dpd",
    "statement_columns",
    "statement_state",
    "with_statement_dpd",
]


@dataclass(eq=False)
class StatementState:
    """Statements dated <= T as flat arrays sorted by (debtor code, period_end).

    ``months_back``: whole calendar months from the period's month to T's month (0 = T's month).
    ``last``/``prev``: row index of each debtor's latest / previous statement (-1 when absent).
    """

    T: pd.Timestamp
    n: int
    code: np.ndarray
    months_back: np.ndarray
    balance: np.ndarray
    amount_due: np.ndarray
    amount_paid: np.ndarray
    dpd: np.ndarray
    limit: np.ndarray
    last: np.ndarray
    prev: np.ndarray
    # per row: the statement states a balance (``balance`` reads an unstated one as 0)
    balance_stated: np.ndarray | None = None

    def sum_by(self, sel: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Per-debtor sum over the selected rows (0 where none)."""
        return grouped.sum_by(self.code[sel], self.n, None if values is None else values[sel])

    def max_by(self, sel: np.ndarray, values: np.ndarray, *, fill: float) -> np.ndarray:
        """Per-debtor maximum over the selected rows (``fill`` where none)."""
        return grouped.max_by(self.code[sel], self.n, values[sel], fill=fill)

    def min_by(self, sel: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-debtor minimum over the selected rows (NaN where none)."""
        return -self.max_by(sel, -np.asarray(values, dtype=np.float64), fill=np.nan)

    @property
    def before(self) -> np.ndarray:
        """Per row, the row of the same debtor's statement one calendar month earlier (-1 if none)."""
        i = np.arange(len(self.code))
        ok = (i > 0) & (self.code[i - 1] == self.code) & (self.months_back[i - 1] == self.months_back + 1)
        return np.where(ok, i - 1, -1)

    def streak(self, flag: np.ndarray) -> np.ndarray:
        """Per row, consecutive monthly statements up to and including this one with ``flag`` set."""
        i = np.arange(len(self.code))
        before = self.before
        start = flag & ((before < 0) | ~flag[np.maximum(before, 0)])
        first = np.maximum.accumulate(np.where(start, i, -1)) if len(i) else i
        return np.where(flag, i - first + 1, 0).astype(np.float64)

    def at(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values`` at each debtor's row ``rows`` (NaN where -1)."""
        out = np.full(self.n, np.nan)
        ok = rows >= 0
        out[ok] = values[rows[ok]]
        return out

    def window(self, months: int) -> np.ndarray:
        """Rows within the last ``months`` calendar months (T's month included)."""
        return self.months_back < months

    ratio = staticmethod(grouped.ratio)

    @property
    def status(self) -> np.ndarray:
        """Recovered payment status per row: -2 inactive, -1 paid in full, 0 revolving, k months late."""
        due = np.nan_to_num(self.amount_due, nan=0.0)
        paid = np.nan_to_num(self.amount_paid, nan=0.0)
        late = self.dpd > 0
        inactive = (np.abs(self.balance) < 1) & (due <= 0)
        full = ~inactive & (paid >= due) & (self.balance <= due + paid + 1)
        return np.where(late, self.dpd / 30.0, np.where(inactive, -2.0, np.where(full, -1.0, 0.0)))


def statement_state(statements: pd.DataFrame, ids: pd.Index, T: pd.Timestamp) -> StatementState:
    """Statements dated <= T (canonical frame) as a :class:`StatementState` over debtors ``ids``."""
    pe = statements["period_end"]
    keep = (pe <= T).to_numpy()
    sub = statements.loc[keep]
    code = np.asarray(ids.get_indexer(sub["debtor_id"].astype("string")), dtype=np.int64)
    pe_sub = pd.DatetimeIndex(sub["period_end"])
    months_back = (T.year * 12 + T.month) - (pe_sub.year * 12 + pe_sub.month).to_numpy(dtype=np.int64)
    order = np.lexsort((-months_back, code))
    code = code[order]

    def col(name: str) -> np.ndarray:
        if name not in sub:
            return np.full(len(sub), np.nan)
        return sub[name].to_numpy(dtype=np.float64, na_value=np.nan)[order]

    n = len(ids)
    last = np.full(n, -1, dtype=np.int64)
    prev = np.full(n, -1, dtype=np.int64)
    if len(code):
        ends = np.flatnonzero(np.r_[code[1:] != code[:-1], True])
        last[code[ends]] = ends
        has_prev = (ends > 0) & (code[np.maximum(ends - 1, 0)] == code[ends])
        prev[code[ends][has_prev]] = ends[has_prev] - 1
    dpd = np.nan_to_num(col("days_past_due"), nan=0.0)
    balance = col("balance")
    return StatementState(
        T=T,
        n=n,
        code=code,
        months_back=months_back[order],
        balance=np.nan_to_num(balance, nan=0.0),
        amount_due=col("amount_due"),
        amount_paid=np.nan_to_num(col("amount_paid"), nan=0.0),
        dpd=dpd,
        limit=col("credit_limit"),
        last=last,
        prev=prev,
        balance_stated=~np.isnan(balance),
    )


# ------------------------------------------------------------------------------------ features


def _months_delinquent(s: StatementState, months: int) -> np.ndarray:
    return s.sum_by(s.window(months) & (s.dpd > 0))


def _paid_to_due(s: StatementState, months: int) -> np.ndarray:
    sel = s.window(months) & (np.nan_to_num(s.amount_due) > 0)
    return s.ratio(s.sum_by(sel, s.amount_paid), s.sum_by(sel, s.amount_due))


def _slope(s: StatementState, sel: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-debtor least-squares slope of ``y`` per month over the selected rows (NaN if < 2 rows)."""
    x = -s.months_back.astype(np.float64)
    k, sx, sy = s.sum_by(sel), s.sum_by(sel, x), s.sum_by(sel, y)
    sxx, sxy = s.sum_by(sel, x * x), s.sum_by(sel, x * y)
    return s.ratio(k * sxy - sx * sy, np.where(k >= 2, k * sxx - sx * sx, 0.0))


def _due(s: StatementState) -> np.ndarray:
    """Rows with an amount due > 0."""
    return np.nan_to_num(s.amount_due) > 0


def _payment_ratio(s: StatementState) -> np.ndarray:
    """Per row, amount paid / amount due capped at 1 (NaN when nothing was due)."""
    due = _due(s)
    return np.where(due, np.minimum(s.ratio(s.amount_paid, np.where(due, s.amount_due, 0.0)), 1.0), np.nan)


def _spending(s: StatementState) -> np.ndarray:
    """Per row, new charges: balance - (previous month's balance - amount paid) (NaN without one)."""
    b = s.before
    prior = np.where(b >= 0, s.balance[np.maximum(b, 0)], np.nan)
    return s.balance - (prior - s.amount_paid)


def _mean_by(s: StatementState, sel: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-debtor mean of ``values`` over the selected rows where it is not NaN (NaN if none)."""
    sel = sel & ~np.isnan(values)
    return s.ratio(s.sum_by(sel, values), s.sum_by(sel))


def _util(s: StatementState) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s.limit > 0, s.balance / np.where(s.limit > 0, s.limit, 1.0), np.nan)


@feature("statements", "latest statement", "days", "{value:.0f} days past due on the latest statement", 1)
def st_dpd_last(s: StatementState) -> np.ndarray:
    """Days past due on the latest statement <= T (days)."""
    return s.at(s.last, s.dpd)


@feature("statements", "previous statement", "days", "{value:.0f} days past due on the statement before", 1)
def st_dpd_prev(s: StatementState) -> np.ndarray:
    """Days past due on the statement before the latest (days; NaN if none)."""
    return s.at(s.prev, s.dpd)


@feature("statements", "3 months", "days", "up to {value:.0f} days past due in the last 3 months", 1)
def st_dpd_max_3m(s: StatementState) -> np.ndarray:
    """Maximum days past due over statements of the last 3 calendar months (days; NaN if none)."""
    return s.max_by(s.window(3), s.dpd, fill=np.nan)


@feature("statements", "6 months", "days", "up to {value:.0f} days past due in the last 6 months", 1)
def st_dpd_max_6m(s: StatementState) -> np.ndarray:
    """Maximum days past due over statements of the last 6 calendar months (days; NaN if none)."""
    return s.max_by(s.window(6), s.dpd, fill=np.nan)


@feature("statements", "12 months", "days", "up to {value:.0f} days past due in the last 12 months", 1)
def st_dpd_max_12m(s: StatementState) -> np.ndarray:
    """Maximum days past due over statements of the last 12 calendar months (days; NaN if none)."""
    return s.max_by(s.window(12), s.dpd, fill=np.nan)


@feature("statements", "6 months", "days", "on average {value:.0f} days past due over 6 months", 1)
def st_dpd_mean_6m(s: StatementState) -> np.ndarray:
    """Mean days past due over statements of the last 6 calendar months (days; NaN if none)."""
    sel = s.window(6)
    return s.ratio(s.sum_by(sel, s.dpd), s.sum_by(sel))


@feature(
    "statements",
    "3 months",
    "months",
    "delinquent in {value:.0f} of the last 3 months",
    1,
    words="Statements past due in the last 3 calendar months",
)
def st_months_delinquent_3m(s: StatementState) -> np.ndarray:
    """Statements with days past due > 0 in the last 3 calendar months (count of months)."""
    return _months_delinquent(s, 3)


@feature(
    "statements",
    "6 months",
    "months",
    "delinquent in {value:.0f} of the last 6 months",
    1,
    words="Statements past due in the last 6 calendar months",
)
def st_months_delinquent_6m(s: StatementState) -> np.ndarray:
    """Statements with days past due > 0 in the last 6 calendar months (count of months)."""
    return _months_delinquent(s, 6)


@feature(
    "statements",
    "12 months",
    "months",
    "delinquent in {value:.0f} of the last 12 months",
    1,
    words="Statements past due in the last 12 calendar months",
)
def st_months_delinquent_12m(s: StatementState) -> np.ndarray:
    """Statements with days past due > 0 in the last 12 calendar months (count of months)."""
    return _months_delinquent(s, 12)


@feature(
    "statements",
    "latest statement",
    "status",
    "latest statement: {status}",
    1,
    words="Payment status of the latest statement: inactive, paid in full, revolving or months late",
)
def st_status_last(s: StatementState) -> np.ndarray:
    """Recovered payment status of the latest statement (-2 inactive, -1 paid in full, 0 revolving, k months late)."""
    return s.at(s.last, s.status)


@feature(
    "statements",
    "previous statement",
    "status",
    "statement before: {status}",
    1,
    words="Payment status of the statement before the latest",
)
def st_status_prev(s: StatementState) -> np.ndarray:
    """Recovered payment status of the statement before the latest (same codes as st_status_last)."""
    return s.at(s.prev, s.status)


@feature("statements", "6 months", "months", "paid in full in only {value:.0f} of the last 6 months", -1)
def st_full_payment_months_6m(s: StatementState) -> np.ndarray:
    """Statements of the last 6 months whose payment covered the amount due (count of months)."""
    return s.sum_by(s.window(6) & (s.status == -1))


@feature("statements", "6 months", "months", "revolving credit in {value:.0f} of the last 6 months", 1)
def st_revolving_months_6m(s: StatementState) -> np.ndarray:
    """Statements of the last 6 months carrying a balance, partly paid, not late (count of months)."""
    return s.sum_by(s.window(6) & (s.status == 0))


@feature("statements", "6 months", "months", "no activity in {value:.0f} of the last 6 months", 0)
def st_inactive_months_6m(s: StatementState) -> np.ndarray:
    """Statements of the last 6 months with no balance and nothing due (count of months)."""
    return s.sum_by(s.window(6) & (s.status == -2))


@feature(
    "statements",
    "6 months",
    "months",
    "nothing paid in {value:.0f} of the last 6 months while due",
    1,
    words="Statements of the last 6 months with something due and nothing paid",
)
def st_zero_payment_months_6m(s: StatementState) -> np.ndarray:
    """Statements of the last 6 months with an amount due > 0 and nothing paid (count of months)."""
    return s.sum_by(s.window(6) & (np.nan_to_num(s.amount_due) > 0) & (s.amount_paid <= 0))


@feature("statements", "latest statement", "ratio", "paid only {value:.0%} of the amount due last period", -1)
def st_paid_to_due_last(s: StatementState) -> np.ndarray:
    """Amount paid / amount due on the latest statement (ratio; NaN when nothing was due)."""
    due = s.at(s.last, np.nan_to_num(s.amount_due))
    return s.ratio(s.at(s.last, s.amount_paid), np.where(due > 0, due, 0.0))


@feature("statements", "3 months", "ratio", "paid only {value:.0%} of the amounts due over 3 months", -1)
def st_paid_to_due_3m(s: StatementState) -> np.ndarray:
    """Sum paid / sum due over statements of the last 3 months with something due (ratio; NaN if none)."""
    return _paid_to_due(s, 3)


@feature("statements", "6 months", "ratio", "paid only {value:.0%} of the amounts due over 6 months", -1)
def st_paid_to_due_6m(s: StatementState) -> np.ndarray:
    """Sum paid / sum due over statements of the last 6 months with something due (ratio; NaN if none)."""
    return _paid_to_due(s, 6)


@feature("statements", "latest statement", "currency", "balance of {money}", 0)
def st_balance_last(s: StatementState) -> np.ndarray:
    """Balance on the latest statement (currency units)."""
    return s.at(s.last, s.balance)


@feature("statements", "6 months", "currency", "average balance {money} over 6 months", 0)
def st_balance_mean_6m(s: StatementState) -> np.ndarray:
    """Mean statement balance over the last 6 months (currency units; NaN if none)."""
    sel = s.window(6)
    return s.ratio(s.sum_by(sel, s.balance), s.sum_by(sel))


@feature("statements", "1 month", "currency", "balance rose by {money} in the last month", 1)
def st_balance_change_1m(s: StatementState) -> np.ndarray:
    """Latest balance minus the previous statement's balance (currency units; NaN if no previous)."""
    return s.at(s.last, s.balance) - s.at(s.prev, s.balance)


@feature(
    "statements",
    "6 months",
    "currency per month",
    "balance growing by {money} a month",
    1,
    words="How fast the balance rose or fell over the last 6 months, per month",
)
def st_balance_trend_6m(s: StatementState) -> np.ndarray:
    """Least-squares slope of the balance over the last 6 months (currency units per month; NaN if < 2)."""
    return _slope(s, s.window(6), s.balance)


@feature("statements", "latest statement", "share of limit", "balance at {value:.0%} of the credit limit", 1)
def st_utilisation_last(s: StatementState) -> np.ndarray:
    """Latest balance / credit limit (ratio; NaN without a positive limit)."""
    return s.at(s.last, _util(s))


@feature(
    "statements", "6 months", "share of limit", "balance averaged {value:.0%} of the limit over 6 months", 1
)
def st_utilisation_mean_6m(s: StatementState) -> np.ndarray:
    """Mean balance / credit limit over the last 6 months (ratio; NaN without a positive limit)."""
    sel = s.window(6) & (s.limit > 0)
    return s.ratio(s.sum_by(sel, _util(s)), s.sum_by(sel))


@feature(
    "statements", "6 months", "share of limit", "balance reached {value:.0%} of the limit in 6 months", 1
)
def st_utilisation_max_6m(s: StatementState) -> np.ndarray:
    """Maximum balance / credit limit over the last 6 months (ratio; NaN without a positive limit)."""
    return s.max_by(s.window(6) & (s.limit > 0), _util(s), fill=np.nan)


@feature("statements", "latest statement", "currency", "credit limit of {money}", -1)
def st_credit_limit(s: StatementState) -> np.ndarray:
    """Credit limit on the latest statement (currency units)."""
    return s.at(s.last, s.limit)


@feature("statements", "latest statement", "currency", "only {money} of headroom under the limit", -1)
def st_headroom_last(s: StatementState) -> np.ndarray:
    """Credit limit minus balance on the latest statement (currency units; negative = over limit)."""
    return s.at(s.last, s.limit - s.balance)


@feature("statements", "latest statement", "currency", "only {money} paid last period", -1)
def st_paid_amount_last(s: StatementState) -> np.ndarray:
    """Amount paid in the latest period (currency units)."""
    return s.at(s.last, s.amount_paid)


@feature("statements", "6 months", "currency", "only {money} paid per month on average", -1)
def st_paid_amount_mean_6m(s: StatementState) -> np.ndarray:
    """Mean amount paid per statement over the last 6 months (currency units; NaN if none)."""
    sel = s.window(6)
    return s.ratio(s.sum_by(sel, s.amount_paid), s.sum_by(sel))


@feature("statements", "6 months", "ratio", "paid only {value:.0%} of the limit per month", -1)
def st_paid_to_limit_6m(s: StatementState) -> np.ndarray:
    """Mean amount paid per month over 6 months / latest credit limit (ratio; NaN without a limit)."""
    limit = s.at(s.last, s.limit)
    return s.ratio(st_paid_amount_mean_6m(s), np.where(limit > 0, limit, 0.0))


@feature(
    "statements",
    "6 months",
    "share of limit per month",
    "limit use rising by {value:.0%} a month",
    1,
    words="How fast the balance against the credit limit rose or fell over the last 6 months, per month",
)
def st_utilisation_trend_6m(s: StatementState) -> np.ndarray:
    """Least-squares slope of balance / credit limit over the last 6 months (ratio per month; NaN if < 2)."""
    sel = s.window(6) & (s.limit > 0)
    return _slope(s, sel, np.nan_to_num(_util(s)))


@feature(
    "statements",
    "6 months",
    "share of limit",
    "balance grew by {value:.0%} of the limit in 6 months",
    1,
    words="Rise of the balance over the last 6 months against the latest credit limit",
)
def st_balance_growth_6m(s: StatementState) -> np.ndarray:
    """(Latest balance - oldest balance of the last 6 months) / latest credit limit (ratio; NaN w/o limit)."""
    sel = s.window(6)
    oldest = np.full(s.n, -1, dtype=np.int64)
    rows = np.flatnonzero(sel)[::-1]  # newest first, so the oldest row of each debtor is written last
    oldest[s.code[rows]] = rows
    limit = s.at(s.last, s.limit)
    return s.ratio(s.at(s.last, s.balance) - s.at(oldest, s.balance), np.where(limit > 0, limit, 0.0))


@feature(
    "statements",
    "3 months",
    "ratio",
    "paid on average {value:.0%} of the amount due over 3 months",
    -1,
    words="Share of the amount due that was paid, on average over the months of the last 3 with something due",
)
def st_payment_ratio_mean_3m(s: StatementState) -> np.ndarray:
    """Mean of amount paid / amount due (capped at 1) over months of the last 3 with something due (ratio)."""
    return _mean_by(s, s.window(3), _payment_ratio(s))


@feature(
    "statements",
    "6 months",
    "ratio",
    "paid on average {value:.0%} of the amount due over 6 months",
    -1,
    words="Share of the amount due that was paid, on average over the months of the last 6 with something due",
)
def st_payment_ratio_mean_6m(s: StatementState) -> np.ndarray:
    """Mean of amount paid / amount due (capped at 1) over months of the last 6 with something due (ratio)."""
    return _mean_by(s, s.window(6), _payment_ratio(s))


@feature(
    "statements",
    "6 months",
    "ratio",
    "paid as little as {value:.0%} of the amount due in 6 months",
    -1,
    words="Smallest share of the amount due that was paid, over the months of the last 6 with something due",
)
def st_payment_ratio_min_6m(s: StatementState) -> np.ndarray:
    """Lowest amount paid / amount due (capped at 1) over months of the last 6 with something due (ratio)."""
    return s.min_by(s.window(6) & _due(s), _payment_ratio(s))


@feature(
    "statements",
    "6 months",
    "months",
    "paid less than the amount due in {value:.0f} of the last 6 months",
    1,
    words="Statements of the last 6 months paid less than their amount due",
)
def st_underpaid_months_6m(s: StatementState) -> np.ndarray:
    """Statements of the last 6 months with an amount due > 0 and less than it paid (count of months)."""
    return s.sum_by(s.window(6) & _due(s) & (s.amount_paid < np.nan_to_num(s.amount_due)))


@feature("statements", "6 months", "ratio", "paid {value:.0%} of the balances billed over 6 months", -1)
def st_paid_to_billed_6m(s: StatementState) -> np.ndarray:
    """Sum paid / sum of positive balances over the last 6 months (ratio; NaN if nothing billed)."""
    sel = s.window(6)
    return s.ratio(s.sum_by(sel, s.amount_paid), s.sum_by(sel, np.maximum(s.balance, 0.0)))


@feature("statements", "history to T", "months", "last paid in full {value:.0f} months ago", 1)
def st_months_since_full_payment(s: StatementState) -> np.ndarray:
    """Calendar months from the latest statement paid in full to T (months; NaN if never paid in full)."""
    sel = s.status == -1
    return s.min_by(sel, s.months_back)


@feature(
    "statements",
    "latest statement",
    "months",
    "delinquent for {value:.0f} months in a row",
    1,
    words="Months in a row past due, up to the latest statement",
)
def st_delinquency_streak_last(s: StatementState) -> np.ndarray:
    """Consecutive monthly statements ending with the latest with days past due > 0 (months)."""
    return s.at(s.last, s.streak(s.dpd > 0))


@feature(
    "statements",
    "6 months",
    "months",
    "up to {value:.0f} months in a row delinquent in 6 months",
    1,
    words="Longest run of months in a row past due in the last 6 months",
)
def st_delinquency_streak_max_6m(s: StatementState) -> np.ndarray:
    """Longest run of consecutive monthly statements with days past due > 0 in the last 6 months (months)."""
    sel = s.window(6)
    return s.max_by(sel, s.streak((s.dpd > 0) & sel), fill=0.0)


@feature(
    "statements",
    "6 months",
    "status",
    "worst status in 6 months: {status}",
    1,
    words="Worst payment status over the last 6 months",
)
def st_status_max_6m(s: StatementState) -> np.ndarray:
    """Worst recovered payment status over the last 6 months (codes as st_status_last; NaN if none)."""
    return s.max_by(s.window(6), s.status, fill=np.nan)


@feature(
    "statements",
    "6 months",
    "status",
    "average status over 6 months: {status}",
    1,
    words="Mean payment status over the last 6 months",
)
def st_status_mean_6m(s: StatementState) -> np.ndarray:
    """Mean recovered payment status over the last 6 months (codes as st_status_last; NaN if none)."""
    return _mean_by(s, s.window(6), s.status)


@feature(
    "statements",
    "1 month",
    "status",
    "payment status worsened by {value:.0f} since last month",
    1,
    words="Change of payment status since the previous statement",
)
def st_status_change_1m(s: StatementState) -> np.ndarray:
    """Latest recovered payment status minus the previous statement's (codes; NaN if no previous)."""
    st = s.status
    return s.at(s.last, st) - s.at(s.prev, st)


@feature("statements", "6 months", "months", "no new spending in {value:.0f} of the last 6 months", 0)
def st_no_spending_months_6m(s: StatementState) -> np.ndarray:
    """Months of the last 6 with no new charges (balance <= previous balance - amount paid; count)."""
    return s.sum_by(s.window(6) & (_spending(s) <= 0))


@feature("statements", "6 months", "ratio", "new spending of {value:.0%} of the limit per month", 0)
def st_spending_to_limit_6m(s: StatementState) -> np.ndarray:
    """Mean new charges per month over the last 6 months / latest credit limit (ratio; NaN w/o limit)."""
    limit = s.at(s.last, s.limit)
    return s.ratio(_mean_by(s, s.window(6), _spending(s)), np.where(limit > 0, limit, 0.0))


@feature("statements", "history to T", "months", "only {value:.0f} statements on record", -1)
def st_months_observed(s: StatementState) -> np.ndarray:
    """Statements on record dated <= T (count)."""
    return s.sum_by(np.ones(len(s.code), dtype=bool))


MATERIAL_DPD = "dpd_material"
"""With ``default_definition.min_open_amount`` (> 0), a column of the feature frame that is no model feature
(``models.train.NON_FEATURES``): the days past due the default definition sees at T. A statements book: the
latest statement's days past due (:func:`material_dpd`); an invoice ledger: ``features.engine``."""


def material_dpd(dpd: np.ndarray, balance: np.ndarray, min_open_amount: float) -> np.ndarray:
    """Days past due of statements as the default definition sees them: 0 where the statement states a
    balance of at most ``min_open_amount`` (whatever is overdue is part of the balance, so no more than
    it can be overdue), the stated ``dpd`` elsewhere. A statement without a balance (NaN) keeps its days:
    the threshold cannot be applied to it, so its days past due decide alone. E.g. threshold 10, 120
    days: balance 3.00 -> 0, 10.00 -> 0, 10.01 -> 120, none -> 120; threshold 0: ``dpd`` as given."""
    dpd = np.asarray(dpd, dtype=np.float64)
    if not min_open_amount:
        return dpd
    return np.where(np.asarray(balance, dtype=np.float64) <= min_open_amount, 0.0, dpd)


def statement_columns() -> list[str]:
    """Names of the statement feature columns, in catalog order."""
    return [name for name, r in REGISTERED.items() if r.info.family == "statements"]


def build_statement_features(
    statements: pd.DataFrame, as_of: Sequence[date | pd.Timestamp], min_open_amount: float = 0.0
) -> pd.DataFrame:
    """Statement features, one row per (debtor_id, as_of) for accounts with a statement dated <= as_of.

    ``statements``: canonical statements frame (see ``features.schema.STATEMENTS``), not modified.
    Returns columns ``debtor_id`` (string), ``as_of`` (datetime64[ns]) and the ``st_*`` features
    (float64), sorted by (as_of, debtor_id). With ``min_open_amount`` (the default definition's
    threshold, > 0) also :data:`MATERIAL_DPD`: the latest statement's days past due by :func:`material_dpd`.
    """
    missing = [c for c in ("debtor_id", "period_end") if c not in statements.columns]
    if missing:
        raise ValueError(
            f"statements lack {counted(len(missing), 'column')} {missing}; expected the canonical statements table"
        )
    ids = pd.Index(pd.unique(statements["debtor_id"].astype("string").dropna()), dtype="string").sort_values()
    names = statement_columns()
    frames = []
    for t in sorted({pd.Timestamp(a).normalize() for a in as_of}):
        s = statement_state(statements, ids, t)
        present = s.last >= 0
        cols = {name: REGISTERED[name].fn(s)[present] for name in names}
        if min_open_amount:
            stated = np.where(s.balance_stated, s.balance, np.nan)
            latest = material_dpd(s.at(s.last, s.dpd), s.at(s.last, stated), min_open_amount)
            cols[MATERIAL_DPD] = latest[present]
        frame = pd.DataFrame(cols)
        frame.insert(0, "as_of", pd.Series(np.full(int(present.sum()), t), dtype="datetime64[ns]"))
        frame.insert(0, "debtor_id", pd.array(ids[present], dtype="string"))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            {"debtor_id": pd.array([], dtype="string"), "as_of": pd.Series([], dtype="datetime64[ns]")}
        )
    return pd.concat(frames, ignore_index=True).astype({n: "float64" for n in names})


# invoice features the roll-rate model reads -> their statement counterparts (a statements book has
# no invoice features): the DPD state, and the highest DPD of the last 180 days / 6 statements
# that rollrate.within_state uses to resolve the PD inside a state
# overdue_amount <- the latest balance: the most a statement can have overdue (the roll-rate states with
# default_definition.min_open_amount, models.rollrate.state_dpd; features.engine._statement_status)
STATEMENT_ALIASES = {
    "dpd_current_max": "st_dpd_last",
    "dpd_max_180d": "st_dpd_max_6m",
    "overdue_amount": "st_balance_last",
}


def with_statement_dpd(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the roll-rate model's invoice features taken from their statement counterparts
    (:data:`STATEMENT_ALIASES`) when a statements book has no invoice features (no
    ``dpd_current_max``); ``frame`` itself otherwise."""
    if "dpd_current_max" in frame.columns or "st_dpd_last" not in frame.columns:
        return frame
    return frame.assign(
        **{name: frame[src] for name, src in STATEMENT_ALIASES.items() if src in frame.columns}
    )
