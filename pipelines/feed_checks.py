"""Feed checks: refuse to publish a run whose input feed looks broken at table level.

A feed that lost a table, doubled one, changed units or lost its invoice links still scores, and
the run would publish a crisis (every debtor in default, an expected loss many times yesterday's).
Before anything is written, the nightly flow compares a few table-level figures of today's feed
with two references and refuses the run when one moves beyond the limits in ``conf/nightly.yaml``
(``feed_checks``):

* the previous published run (``OUTDIR/<latest earlier as-of>/manifest.json``, key ``feed``);
* the champion's training data (``feed_reference.json`` logged with the model's MLflow run by the
  train flow: table figures, plus default share and exposure of every training snapshot; the
  snapshot nearest before the as-of date is used).

Figures: rows delivered per table (``rows.<table>``; a table spanning fewer days than the
reference's, the training data's or the previous run's, is compared by rows per month of each span,
``rows_per_month.<table>``: a rolling export of the last months; a span starts where its rows'
density does, :func:`dense_span`), scored debtors and invoices per debtor
issued in the :data:`RECENT_DAYS` days up to the as-of date (``invoices_per_debtor_90d``; the book's
size: half the debtors, or half their invoices, gone; a window every export covers, so a rolling
export of the last 12 months compares like with like with a training on 36; against a reference
without that figure, from before session 23: accepted invoices per debtor, ``invoices_per_debtor``;
outside the training limit, judged again on the book's own months in today's export, :func:`own_months`),
payments per invoice, the share of payments
naming their invoice (``allocated_share``), the share of scored debtors in default, the total
exposure (open balance), the open balance of the debtors in default (``default_exposure``: a
rolling export without the open invoices issued before its window empties the recovery queue,
s24) and the share of each table's rows quarantined at ingest (also against
the absolute ``max_quarantine_share``, judged from ``max_quarantine_min_rows`` rejected rows; exact
copies of a kept row do not count: :func:`quarantine_share`). A refused run raises :class:`FeedCheckError` (the CLI exits with
:data:`EXIT_FEED_REFUSED`); ``--accept-feed`` publishes anyway and the manifest records who
accepted which failed checks, and when.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.nightly import FeedLimits, LagLimit, NightlyConfig, RatioLimit, ShareLimit
from pipelines.ingest.masks import NOT_DAMAGE, isin
from pipelines.words import counted

__all__ = [
    "EXIT_FEED_REFUSED",
    "FEED_REFERENCE_ARTIFACT",
    "FeedCheck",
    "FeedCheckError",
    "CHECK_WORDS",
    "check_words",
    "dense_span",
    "evaluate_feed",
    "feed_figures",
    "format_figure",
    "load_training_reference",
    "previous_figures",
    "recent_ratios",
    "short_history",
    "training_figures",
    "stated_amounts",
    "stated_checks",
    "stated_ratios",
    "table_lag",
    "table_lags",
    "table_spans",
    "payments_lag",
    "remembered",
    "training_reference",
    "usual_weekdays",
    "weekday_names",
    "with_memory",
    "clear_rejected",
    "write_rejected",
    "invoice_debtors",
]

EXIT_FEED_REFUSED = 3
# invoices_per_debtor counts the invoices issued in the last RECENT_DAYS days before the as-of date
# (the feature RECENT_COLUMN, summed over the debtors): a rolling export of the last 12 months was
# refused against a training on 36 months of whole tables (40.8 vs 128.0 invoices per debtor, s23)
RECENT_DAYS = 90
RECENT_COLUMN = "invoice_count_90d"
RECENT = "invoices_90d"  # the figure: invoices issued in the window, over the scored debtors
# amounts paid and invoiced in the same window (features), summed over the debtors: their ratio is
# `paid_per_invoiced_90d`, about 1 on any book; a payments file in cents (x 100) settled every invoice
# and left the rest on account, and was published with exit 0 (s30-hostile)
RECENT_AMOUNTS = ("payment_amount_90d", "invoice_amount_90d")
PAID_PER_INVOICED = "paid_per_invoiced_90d"
# The sum's ratio is one large debtor's: on a concentrated book (one debtor invoiced more than half)
# that debtor paying a 180-day backlog at once moved it 5.0-6.2 times in a night, and an honest run
# was refused (s31-hostile). The check reads the median over the debtors that both paid and were
# invoiced in the window of each one's own ratio (``paid_per_invoiced_median_90d``): a file in cents
# moves every debtor's, so the median, 100-fold; one debtor moves it by at most one rank.
PAID_PER_INVOICED_MEDIAN = "paid_per_invoiced_median_90d"
PAID_PER_INVOICED_DEBTORS = "paid_per_invoiced_debtors"
# a table whose dates span fewer days than the training table's (a rolling export of the last 6
# months against a training on 36) is compared with the training data by rows per month of each
# side's own span (rows_per_month.<table>); whole rows refused it (31,526 vs 192,012 invoices, s23)
DAYS = "days"
MONTH_DAYS = 30.4375
# A table's span starts where its rows' density starts, not at its first date: one mistyped early
# date (2001-01-15 in a 6-month export) made the span 25 years long and the rows per month near 0
# (s24-hostile). The span starts at the first month from which the rows per day up to the end reach
# DENSE_SHARE of the densest such stretch of at least SPAN_MIN_DAYS days; the rows counted are those
# dated in the span (SPAN_ROWS), so stray rows before it, and rows after the as-of date, count
# neither in the rows nor in the days.
SPAN_ROWS = "span_rows"
SPAN_MIN_DAYS = 91
DENSE_SHARE = 0.75
# A feed whose invoices span more than SHORT_HISTORY_DAYS fewer days than the champion's training
# data (a rolling export of the last 12 or 6 months against a training on 36) publishes, but the
# features that look back over the whole history (tenure, first invoice, 365-day counts early in the
# span) read a shorter past than the model learned from: live PDs were 27-49 % lower than the whole
# feed's on s24-hostile's 12- and 6-month exports of a 36-month book. The run says so (``history``).
SHORT_HISTORY_DAYS = 91
# A payments feed days behind the invoices (the ERP's payment export not run for a week) passes
# every count check and publishes a false crisis: every invoice paid in the missing days looks
# unpaid (s30-hostile: payments of 7 days left out, watchlist 62 vs 29 debtors). A ledger table's
# lag (days from its latest dated row to the as-of date) is judged against its own usual silence:
# the longest run of days without a row in the LAG_WINDOW_DAYS before its latest row
# (:func:`table_lag`), which holds the book's weekends, holidays and payment runs.
LAG_WINDOW_DAYS = 400
LAG_TABLES = {"invoices": "issue_date", "payments": "paid_on"}
LAGS = "lags"
# A lag counted in calendar days mixes the feed's delay with the weekend: a payments feed two days
# behind on a book paid on working days lags 4 days on a Tuesday and 2 on a Friday. Counted in the
# book's usual payment days (weekdays that held payments on USUAL_WEEKS_HELD of the last USUAL_WEEKS
# same weekdays: :func:`usual_weekdays`), the same feed lags the same number of days every night.
USUAL_WEEKS = 8
USUAL_WEEKS_HELD = 4
# The posting delay is read from the runs published since, not from one night: a payments feed 2 days
# late exported on a Monday night holds payments up to the same Friday as its invoices, and its lag
# reads 0 whatever the delay; the training export is one such night. Each run records its payments
# lag in usual payment days when payments_lag_days passed (``lags.payments.published``: as-of date ->
# lag, the previous run's entries of the last MEMORY_DAYS carried forward). Tonight's lag is judged
# against the largest of them dated MEMORY_GAP_DAYS or more before tonight (a stall's own first nights,
# which pass, do not teach it their lag).
PUBLISHED = "published"
MEMORY_DAYS = 35
MEMORY_GAP_DAYS = 7
PAYMENTS_LAG = "payments_lag_days"
# A debtors file whose amounts changed unit (cents, thousands) passes every count check: credit
# limits x 100 drop every limit breach from the watchlist without a word (s30-hostile: watchlist 27 vs
# 29, credit_limits.csv's current limits x 100). The stated amounts of the debtors scored in both runs
# are compared one by one with the previous run's (``stated.<column>``: the median ratio; credit_limit
# against its scores' ``credit_limit_current``), or by their medians where the previous run kept no
# per-debtor value (annual_turnover, net_worth: figure ``stated_amounts``).
STATED = "stated_amounts"
STATED_COLUMNS = {"credit_limit": "credit_limit_current", "annual_turnover": None, "net_worth": None}
# A book whose invoicing really fell over the months since the champion's training was refused by
# invoices_per_debtor_90d against the training data (s34: third simulator s23, 3.8 vs 6.7 invoices per
# debtor after a 44 % fall over 9 months: 13,492 -> 10,258 -> 7,528 invoices per 90 days); the training
# data cannot tell that from invoices missing from the feed, but today's export holds the book's own
# past. The check is judged again on it (:func:`own_months`): the invoices it holds in the 90 days up to
# the training snapshot against the training data's, then per OWN_BLOCK_DAYS days from the snapshot to
# tonight, each block against the one before (the snapshot's: a third of its 90 days), within the
# previous run's limits; a gradual change passes, a month missing or an export cut short does not.
OWN_BLOCK_DAYS = 30
OWN_MONTHS = "the book's own months in today's export"
# A debtors table lists prospects too (onboarded, never invoiced: a CRM export of every account).
# Counted as debtors they diluted the per-debtor figures, and a feed with 50 % prospects added was
# refused: invoices_per_debtor_90d 9.1 today vs 13.8 in the training data (s36-watch). When both sides
# of a comparison carry them, the book's size (``debtors``), ``invoices_per_debtor_90d`` and
# ``default_share`` read the debtors with an invoice, a payment or a statement dated by the as-of
# date (HISTORY_DEBTORS; ``pipelines.scoring.score.history_mask``), the rank trigger's pool. Half the
# debtors' ledger rows gone still halves them (refused by ``debtors``); prospects change neither.
HISTORY_DEBTORS = "debtors_with_history"
# A book with invoices and statements: its statement accounts alone issue no invoice, so
# invoices_per_debtor_90d divides by the debtors with an invoice or a payment by the as-of date
# (INVOICE_DEBTORS, :func:`invoice_debtors`) when both sides of a comparison carry them (before session 39:
# by every debtor with a history, statements-only ones too: 500 of 2,000 in s39-mixed's book, and a feed
# whose statement accounts grew read as invoices missing). Figures of an invoices-only book leave it out.
INVOICE_DEBTORS = "debtors_with_invoices"
HISTORY_DEFAULT_SHARE = "default_share_with_history"
FEED_REFERENCE_ARTIFACT = "feed_reference.json"
FAILED, OK, SMALL, NO_REFERENCE = "failed", "ok", "too small to check", "no reference"
# rows rejected at ingest per table, exact copies left out (quarantine_rows): max_quarantine_share
# judges a table from max_quarantine_min_rows of them
QUARANTINED = "quarantined_rows"


class FeedCheckError(ValueError):
    """The feed failed one or more feed checks; ``feed`` holds the figures and the checks."""

    def __init__(self, message: str, feed: dict[str, Any], full: str | None = None) -> None:
        super().__init__(message)
        self.feed = feed
        self.full = full or message  # every check with how its limit is counted (``ews score --verbose``)


@dataclass(frozen=True)
class FeedCheck:
    """One comparison: ``value`` today against ``reference`` (from ``against``) within ``limit``."""

    check: str
    against: str
    value: float | None
    reference: float | None
    limit: str
    status: str
    detail: str = ""  # a check that explains itself in words (``payments_lag_days``)
    short: str = ""  # the same in a few lines: what, which file, the fix (the refusal's default)

    def describe(self, full: bool = False) -> str:
        """One line for a refusal message, e.g. ``rows.payments: 0 today vs 5,120 in ... (limit ...)``;
        a check with a ``short`` text says it unless ``full`` (then its ``detail`` and how the limit is
        counted: the payments lag's ran to ~900 characters, s35-walk W4)."""
        if self.short and not full:
            return f"{self.check}: {self.short}"
        if self.detail:
            return f"{self.check}: {self.detail} (limit: {self.limit})"
        today = f"{self.check}: {format_figure(self.check, self.value)} today"
        if self.reference is None:
            return f"{today} (limit: {self.limit})"
        return (
            f"{today} vs {format_figure(self.check, self.reference)} in {self.against} (limit: {self.limit})"
        )


# ------------------------------------------------------------------------------------ figures


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def quarantine_share(table: Mapping[str, Any]) -> float | None:
    """Share of a table's rows rejected at ingest, from its ingest manifest entry.

    Exact copies of a kept row (``duplicate_row``: a line-item export repeats its invoice on every
    line, an export sent twice repeats everything) lose nothing: the first copy is kept. Nor do the
    payments of invoices issued before a rolling export's window (``invoice_before_export``). They
    stay in quarantine and in ``rows_quarantined`` but count neither here nor in the rows they are a
    share of (:data:`~pipelines.ingest.masks.NOT_DAMAGE`); a doubled feed is caught by
    ``rows.<table>`` instead, and the before-export payments are a figure of their own
    (``before_export``).
    """
    copies = _copies(table)
    return _share(int(table["rows_quarantined"]) - copies, int(table["rows_in"]) - copies)


def _copies(table: Mapping[str, Any]) -> int:
    """A table's quarantined rows that lose nothing (:data:`~pipelines.ingest.masks.NOT_DAMAGE`)."""
    reasons = table.get("reasons", {})
    return min(sum(int(reasons.get(r, 0)) for r in NOT_DAMAGE), int(table["rows_quarantined"]))


def quarantined_rows(table: Mapping[str, Any]) -> int:
    """A table's rows rejected at ingest that count in :func:`quarantine_share` (exact copies and
    before-export payments left out): what ``max_quarantine_min_rows`` is compared with."""
    return int(table["rows_quarantined"]) - _copies(table)


def _allocated(portfolio: Any) -> float | None:
    """Share of payments naming an invoice: from a ``Portfolio``'s payments, or from a
    ``pipelines.engine.Book`` (an ingested folder: the Parquet null counts, nothing read)."""
    share = getattr(portfolio, "allocated_share", None)
    if callable(share):
        return share()
    payments = getattr(portfolio, "payments", None)
    if payments is not None and len(payments) and "invoice_id" in payments:
        return float(payments["invoice_id"].notna().mean())  # ingest reads blanks as missing
    return None


def dense_span(counts: pd.Series, end: pd.Timestamp) -> tuple[int, int] | None:
    """(days, rows) of the span of a table's dates up to ``end``: ``counts`` are its rows per day
    (``pipelines.adapters.files.day_counts``); rows dated after ``end`` are left out.

    The span starts at the first dated day of the first calendar month from which the rows per day
    up to ``end`` reach :data:`DENSE_SHARE` of the highest such rate over the months whose stretch
    to ``end`` is at least :data:`SPAN_MIN_DAYS` days (a table spanning fewer days: its first date).
    A few stray early dates hold too few rows to reach it; a whole history as dense as its last
    months does, from its first month. ``days`` counts both ends; ``rows`` the rows dated in the
    span. None when no row is dated on or before ``end``."""
    end = pd.Timestamp(end).normalize()
    counts = counts[counts.index <= end]
    if not len(counts):
        return None
    month = counts.index.to_period("M")
    first = pd.Series(counts.index, index=counts.index).groupby(month).min()
    rows = counts.groupby(month).sum().to_numpy()[::-1].cumsum()[::-1]
    days = ((end - pd.DatetimeIndex(first.to_numpy())).days + 1).to_numpy()
    rate = rows / days
    long = days >= SPAN_MIN_DAYS
    start = 0
    if long.any():
        start = int(np.flatnonzero(rate >= DENSE_SHARE * rate[long].max())[0])
    return int(days[start]), int(rows[start])


def _by_table(book: Any, end: dt.date | None, columns: Mapping[str, str], measure: Any) -> dict[str, Any]:
    """``measure(rows per day, end)`` of each table's date column of ``columns`` in ``book``
    (``Book.day_counts``), up to ``end`` (default: the book's last observed date,
    ``Book.last_observed``); tables without rows, or measured None, left out. Empty for an object
    without ``day_counts`` (a ``pipelines.engine.Book`` has them)."""
    counts = getattr(book, "day_counts", None)
    if not callable(counts):
        return {}
    if end is None:
        end = book.last_observed()
        if end is None:
            return {}
    out = {}
    for table, column in sorted(columns.items()):
        found = counts(table, column)
        value = measure(found, pd.Timestamp(end)) if found is not None else None
        if value is not None:
            out[table] = value
    return out


def table_spans(book: Any, end: dt.date | None = None) -> dict[str, tuple[int, int]]:
    """(days, rows) of each dated table of ``book`` (``pipelines.adapters.files.DATE_COLUMNS``):
    :func:`dense_span` up to ``end`` (the as-of date; default: the book's last observed date,
    ``Book.last_observed``). Empty for an object without ``day_counts`` (a
    ``pipelines.engine.Book`` has them)."""
    from pipelines.adapters.files import DATE_COLUMNS

    return _by_table(book, end, DATE_COLUMNS, dense_span)


def table_lag(counts: pd.Series | None, end: pd.Timestamp) -> dict[str, Any] | None:
    """How long one ledger table has been silent at ``end`` against its own usual silences.

    ``counts``: its rows per day (``pipelines.adapters.files.day_counts``); rows after ``end`` are
    left out. Returns ``{last, lag, usual, days}``: its latest dated day on or before ``end``, the
    days from it to ``end`` (``lag``), the longest silence between two consecutive dated days in the
    :data:`LAG_WINDOW_DAYS` days up to that latest day (``usual``: the days between them less one,
    the lag an honest feed showed at the end of the quiet day before the later one: 2 over a weekend
    of a book paid on working days), and the dated days in that window (``days``). None when no row
    is dated on or before ``end``."""
    if counts is None:
        return None
    end = pd.Timestamp(end).normalize()
    days = pd.DatetimeIndex(counts.index[(counts.index <= end) & (counts.to_numpy() > 0)]).sort_values()
    if not len(days):
        return None
    last = days[-1]
    window = days[days >= last - pd.Timedelta(days=LAG_WINDOW_DAYS)]
    dated = window.to_numpy().astype("datetime64[D]")
    gaps = np.diff(dated.astype("int64")) - 1
    mask = usual_weekdays(window, last)
    silences = np.busday_count(dated[:-1] + 1, dated[1:], weekmask=mask)
    return {
        "last": last.date().isoformat(),
        "lag": int((end - last).days),
        "usual": int(gaps.max()) if len(gaps) else 0,
        "days": int(len(window)),
        **_hole(days, last),
        "weekdays": "".join(map(str, mask)),
        "lag_usual_days": int(
            np.busday_count(dated[-1] + 1, np.datetime64(end.date(), "D") + 1, weekmask=mask)
        ),
        "usual_usual_days": int(silences.max()) if len(silences) else 0,
    }


HOLE_RECENT_DAYS = 90
"""A first night's export is searched for a hole in its last 90 days (:func:`ledger_silence`)."""
HOLE_YEAR_DAYS = 365
"""... against the longest silence of the year before those 90 days (a yearly shutdown counts)."""
HOLE_MIN_DAYS = 21
"""A silence shorter than three weeks is never a hole (a Christmas break, a long weekend)."""
STALE_MIN_DAYS = 7
"""A ledger silent at most a week is never stale (``ews score`` warns from 7 days:
``pipelines.scoring.data_window.WARN_LAG_DAYS``)."""


def _hole(days: pd.DatetimeIndex, last: pd.Timestamp) -> dict[str, Any]:
    """The longest silence whose later dated day lies in the :data:`HOLE_RECENT_DAYS` days up to
    ``last`` (``hole``, its first silent day ``hole_from``), the longest silence of the
    :data:`HOLE_YEAR_DAYS` days before them (``year_usual``) and their dated days (``year_days``)."""
    start = last - pd.Timedelta(days=HOLE_RECENT_DAYS)
    kept = days[days >= start - pd.Timedelta(days=HOLE_YEAR_DAYS)].to_numpy().astype("datetime64[D]")
    gaps = np.diff(kept.astype("int64")) - 1
    recent = kept[1:] > np.datetime64(start.date(), "D")
    out: dict[str, Any] = {"hole": 0, "hole_from": None, "year_usual": 0, "year_days": int((~recent).sum())}
    if recent.any():
        k = int(np.argmax(np.where(recent, gaps, -1)))
        out["hole"], out["hole_from"] = int(gaps[k]), str(kept[k] + 1)
    if (~recent).any():
        out["year_usual"] = int(gaps[~recent].max())
    return out


def usual_weekdays(days: pd.DatetimeIndex, last: pd.Timestamp) -> list[int]:
    """The weekdays (Monday first, 1 = usual) that held rows on at least :data:`USUAL_WEEKS_HELD` of
    the :data:`USUAL_WEEKS` same weekdays up to ``last`` (``days``: the dated days, sorted): Monday to
    Friday on a book paid on working days, every day on a book paid daily. Every day when none is
    (a book paid now and then), so that a lag in usual days is a lag in calendar days there."""
    recent = days[days > last - pd.Timedelta(days=7 * USUAL_WEEKS)]
    held = np.bincount(recent.day_of_week, minlength=7)
    mask = [int(n >= USUAL_WEEKS_HELD) for n in held]
    return mask if any(mask) else [1] * 7


def table_lags(book: Any, end: dt.date | None = None) -> dict[str, dict[str, Any]]:
    """:func:`table_lag` of the invoices (``issue_date``) and the payments (``paid_on``) of ``book``
    up to ``end`` (default: the book's last observed date); empty for an object without
    ``day_counts`` or a book without these tables (a statements book)."""
    return _by_table(book, end, LAG_TABLES, table_lag)


def _span_figures(spans: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """The figures ``days`` and ``span_rows`` of :func:`table_spans` (nothing when empty)."""
    if not spans:
        return {}
    return {
        DAYS: {t: d for t, (d, _) in sorted(spans.items())},
        SPAN_ROWS: {t: r for t, (_, r) in sorted(spans.items())},
    }


def _table_figures(
    tables: Mapping[str, Mapping[str, Any]], allocated: float | None, kept: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Figures of the ingested tables (an ingest manifest's ``tables``); the same for a nightly
    run and for a training. ``allocated``: share of payments naming an invoice (:func:`_allocated`).
    ``kept``: an ``ews ingest --keep-history`` folder's ``history.tables``: the rows and accepted
    rows are then the merged history's (what is scored), the quarantine shares today's export's."""
    kept = kept or {}
    accepted = {name: int(t["rows_accepted"]) for name, t in sorted(tables.items())}
    rows = {name: int(t["rows_in"]) for name, t in sorted(tables.items())}
    for name, counts in kept.items():
        accepted[name] = rows[name] = int(counts["rows"])
    accepted, rows = dict(sorted(accepted.items())), dict(sorted(rows.items()))
    n_inv, n_pay = accepted.get("invoices", 0), accepted.get("payments", 0)
    return {
        "rows": rows,
        "accepted": accepted,
        "quarantine_share": {name: quarantine_share(t) for name, t in sorted(tables.items())},
        QUARANTINED: {name: quarantined_rows(t) for name, t in sorted(tables.items())},
        "before_export": {
            name: int(t["reasons"]["invoice_before_export"])
            for name, t in sorted(tables.items())
            if t.get("reasons", {}).get("invoice_before_export")
        },
        "payments_per_invoice": _share(n_pay, n_inv) if n_inv else None,
        "allocated_share": allocated,
    }


def recent_invoices(frame: pd.DataFrame) -> int | None:
    """Invoices issued in the :data:`RECENT_DAYS` days up to the as-of date (:data:`RECENT_COLUMN`)
    summed over the rows of a feature frame of one as-of date; None when the frame has no such column."""
    if RECENT_COLUMN not in frame:
        return None
    return int(np.nan_to_num(frame[RECENT_COLUMN].to_numpy(dtype="float64"), nan=0.0).sum())


def invoice_debtors(frame: pd.DataFrame, statements: bool | None = None) -> int | None:
    """Rows of a feature frame of one as-of date (debtors) with an invoice or a payment dated by then
    (``days_since_last_invoice`` or ``days_since_last_payment`` known): the debtors
    ``invoices_per_debtor_90d`` divides by (:data:`INVOICE_DEBTORS`). None unless the frame holds both
    invoice and statement features (a book with both): elsewhere every debtor with a history has one.
    ``statements`` True: count whenever the frame has invoice features, for one debtor bucket of a book
    (``pipelines.scoring.score.score_bucket``): a bucket of a book with both may hold no statement
    account, and its debtors still count (``combine_scored`` keeps the sum only when a bucket holds
    statements; before s39-review a bucket without one added nothing: 2 of the 3 invoice debtors of
    test_mixed_book's book in 7 buckets)."""
    cols = [c for c in ("days_since_last_invoice", "days_since_last_payment") if c in frame]
    if statements is None:
        statements = "st_months_observed" in frame
    if not cols or not statements:
        return None
    seen = np.zeros(len(frame), dtype=bool)
    for c in cols:
        seen |= ~np.isnan(pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64"))
    return int(seen.sum())


def recent_amounts(frame: pd.DataFrame) -> tuple[float, float] | None:
    """Amounts paid and invoiced in the :data:`RECENT_DAYS` days up to the as-of date
    (:data:`RECENT_AMOUNTS`), summed over the rows of a feature frame of one as-of date; None when
    the frame lacks them (a statements book)."""
    if not all(c in frame for c in RECENT_AMOUNTS):
        return None
    paid, invoiced = (
        float(np.nan_to_num(frame[c].to_numpy(dtype="float64"), nan=0.0).sum()) for c in RECENT_AMOUNTS
    )
    return paid, invoiced


def recent_ratios(frame: pd.DataFrame) -> np.ndarray | None:
    """Each debtor's amount paid / amount invoiced in the :data:`RECENT_DAYS` days up to the as-of
    date (:data:`RECENT_AMOUNTS`), over the rows of a feature frame of one as-of date that both paid
    and were invoiced in them; None when the frame lacks them (a statements book)."""
    if not all(c in frame for c in RECENT_AMOUNTS):
        return None
    paid, invoiced = (np.nan_to_num(frame[c].to_numpy(dtype="float64"), nan=0.0) for c in RECENT_AMOUNTS)
    both = (paid > 0) & (invoiced > 0)
    return paid[both] / invoiced[both]


def same_ids(previous: pd.DataFrame | None, scores: pd.DataFrame) -> int | None:
    """Of the previous run's scored debtors (``previous``, its scores), how many are scored today
    (``scores``) under the same ``debtor_id`` (the check ``debtors_same_ids``); None without a previous
    run's ids. Looked up through Arrow: pandas' string ``isin`` took 6.2 CPU-s at 1M debtors, this 0.3."""
    if previous is None or "debtor_id" not in previous:
        return None
    return int(isin(previous["debtor_id"], scores["debtor_id"]).sum())


def _paid_per_invoiced(amounts: tuple[float, float] | None) -> float | None:
    return amounts[0] / amounts[1] if amounts is not None and amounts[1] > 0 else None


def with_history(frame: pd.DataFrame) -> np.ndarray | None:
    """Per row of a scores or feature frame: the debtor has an invoice, a payment or a statement
    dated by the as-of date (the scores' ``has_history``, else
    :func:`pipelines.scoring.score.history_mask` of the features); None when the frame carries
    neither (figures of a run before session 37: compared over every debtor, as then)."""
    from pipelines.scoring.score import HISTORY_FEATURES, history_mask
    from pipelines.scoring.watchlist import HISTORY

    if HISTORY in frame:
        return frame[HISTORY].fillna(True).astype(bool).to_numpy()
    if any(c in frame for c in HISTORY_FEATURES):
        return history_mask(frame)
    return None


def _over_history(figures: Mapping[str, Any]) -> dict[str, Any]:
    """``figures`` with the book's size and default share read over the debtors with a history
    (:data:`HISTORY_DEBTORS`): the per-debtor checks of :func:`_compare` then leave prospects out."""
    return {
        **figures,
        "debtors": figures[HISTORY_DEBTORS],
        "default_share": figures.get(HISTORY_DEFAULT_SHARE),
    }


def _snapshot_figures(
    frame: pd.DataFrame,
    default_col: str,
    recent: int | None = None,
    amounts: tuple[float, float] | None = None,
    ratios: np.ndarray | None = None,
    invoiced: int | None = None,
) -> dict[str, Any]:
    """Debtors, share in default and total open balance of one row per debtor, and the debtors
    with a history and their share in default (:data:`HISTORY_DEBTORS`, when the frame tells:
    :func:`with_history`); ``recent``: the
    invoices issued in the :data:`RECENT_DAYS` days up to the as-of date (left out when None);
    ``amounts``: paid and invoiced in those days (:func:`recent_amounts`; the ratio left out when
    None or nothing was invoiced); ``ratios``: each debtor's (:func:`recent_ratios`; their median
    and count left out when None or empty)."""
    n = len(frame)
    balance = frame.get("open_balance")
    in_default = frame[default_col].astype(bool).to_numpy() if n else None
    out = {
        "debtors": int(n),
        "default_share": float(in_default.mean()) if n else None,
        "exposure": float(balance.fillna(0.0).sum()) if balance is not None and n else None,
        "default_exposure": float(balance.fillna(0.0).to_numpy()[in_default].sum())
        if balance is not None and n
        else None,
    }
    seen = with_history(frame) if n else None
    if seen is not None and in_default is not None:
        out[HISTORY_DEBTORS] = int(seen.sum())
        out[HISTORY_DEFAULT_SHARE] = float(in_default[seen].mean()) if seen.any() else None
    if recent is not None:
        out[RECENT] = int(recent)
    if invoiced is not None:  # a book with invoices and statements (:func:`invoice_debtors`)
        out[INVOICE_DEBTORS] = int(invoiced)
    if (ratio := _paid_per_invoiced(amounts)) is not None:
        out[PAID_PER_INVOICED] = ratio
    if ratios is not None and len(ratios):
        out[PAID_PER_INVOICED_MEDIAN] = float(np.median(ratios))
        out[PAID_PER_INVOICED_DEBTORS] = int(len(ratios))
    return out


def feed_figures(
    tables: Mapping[str, Mapping[str, Any]],
    portfolio: Any,
    scores: pd.DataFrame,
    recent_invoices: int | None = None,
    spans: Mapping[str, tuple[int, int]] | None = None,
    kept: Mapping[str, Any] | None = None,
    amounts: tuple[float, float] | None = None,
    lags: Mapping[str, Mapping[str, Any]] | None = None,
    debtors: pd.DataFrame | None = None,
    ratios: np.ndarray | None = None,
    invoiced: int | None = None,
) -> dict[str, Any]:
    """Today's figures: ingest ``tables`` (manifest), the ``portfolio`` and the ``scores`` (one row
    per debtor with ``in_default`` and ``open_balance``); ``recent_invoices``: invoices issued in the
    :data:`RECENT_DAYS` days up to the as-of date (``ScoredBucket.recent_invoices``); ``spans``: the
    days each dated table spans up to the as-of date and the rows dated in them (:func:`table_spans`);
    ``kept``: the ingest manifest's ``history.tables`` (:func:`_table_figures`); ``amounts``: paid and
    invoiced in the recent window (``ScoredBucket.recent_amounts``); ``lags``: :func:`table_lags`
    up to the as-of date, with the payments' input file (``file``) when ``tables`` names it;
    ``debtors``: today's debtors table (its :func:`stated_amounts`); ``ratios``: each debtor's paid /
    invoiced in the recent window (``ScoredBucket.recent_ratios``); ``invoiced``: the debtors with an
    invoice or a payment of a book with statements too (``ScoredBucket.invoice_debtors``)."""
    return {
        **_table_figures(tables, _allocated(portfolio), kept),
        **_snapshot_figures(scores, "in_default", recent_invoices, amounts, ratios, invoiced),
        **_span_figures(spans or {}),
        **_lag_figures(lags or {}, tables),
        **({STATED: found} if (found := stated_amounts(debtors)) else {}),
    }


def _lag_figures(
    lags: Mapping[str, Mapping[str, Any]], tables: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The figure ``lags`` (nothing when empty), each table's input file added when known."""
    if not lags:
        return {}
    out = {}
    for table, lag in sorted(lags.items()):
        entry = dict(lag)
        if (name := ((tables or {}).get(table) or {}).get("input")) and "file" not in entry:
            entry["file"] = str(name)
        out[table] = entry
    return {LAGS: out}


def training_reference(
    tables: Mapping[str, Mapping[str, Any]],
    portfolio: Any,
    dataset: pd.DataFrame,
    kept: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the train flow stores as ``feed_reference.json``: the table figures of the training
    feed and, per training snapshot (``dataset``: one row per debtor and as_of with
    ``in_default_at_asof``, ``open_balance`` and :data:`RECENT_COLUMN`), the debtors, default
    share, exposure and the invoices issued in the :data:`RECENT_DAYS` days up to it."""
    snaps = []
    for as_of, rows in dataset.groupby("as_of", sort=True):
        snaps.append(
            {
                "as_of": pd.Timestamp(as_of).date().isoformat(),
                **_snapshot_figures(
                    rows,
                    "in_default_at_asof",
                    recent_invoices(rows),
                    recent_amounts(rows),
                    recent_ratios(rows),
                    invoice_debtors(rows),
                ),
            }
        )
    figures = {
        **_table_figures(tables, _allocated(portfolio), kept),
        **_span_figures(table_spans(portfolio)),
        **_lag_figures(table_lags(portfolio)),
        **({STATED: found} if (found := stated_amounts(_debtors_of(portfolio))) else {}),
    }
    return {"version": 1, "tables": figures, "snapshots": snaps}


def _debtors_of(portfolio: Any) -> pd.DataFrame | None:
    """The debtors table of a ``Portfolio`` or of a ``pipelines.engine.Book`` (``read_tables``)."""
    read = getattr(portfolio, "read_tables", None)
    if callable(read):
        return read(("debtors",)).debtors
    return getattr(portfolio, "debtors", None)


def _stated_medians(today: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, tuple[float, int, str]]:
    """:func:`stated_ratios`' form of the ratios of the stated amounts' medians both figures hold."""
    now, then = today.get(STATED) or {}, ref.get(STATED) or {}
    return {
        column: (
            float(now[column]["median"]) / float(then[column]["median"]),
            min(int(now[column]["debtors"]), int(then[column]["debtors"])),
            "of the medians",
        )
        for column in sorted(set(now) & set(then))
        if then[column].get("median")
    }


def training_figures(
    reference: Mapping[str, Any] | None, as_of: dt.date
) -> tuple[dict[str, Any] | None, str]:
    """The figures to compare with for ``as_of``: the training tables and the latest training
    snapshot on or before it (else the earliest). Returns (figures or None, snapshot date)."""
    if not reference or reference.get("version") != 1:
        return None, ""
    snaps = sorted(reference.get("snapshots") or [], key=lambda s: s["as_of"])
    before = [s for s in snaps if s["as_of"] <= as_of.isoformat()]
    snap = before[-1] if before else (snaps[0] if snaps else {})
    figures = {**reference["tables"], **{k: v for k, v in snap.items() if k != "as_of"}}
    return figures, snap.get("as_of", "")


def previous_figures(manifest: Mapping[str, Any], scores: pd.DataFrame | None) -> dict[str, Any]:
    """The figures a previous run recorded (manifest ``feed.figures``). Runs published before feed
    checks existed: rows and quarantine from ``inputs``, default share and exposure from their scores."""
    feed = manifest.get("feed") or {}
    if feed.get("figures"):
        return dict(feed["figures"])
    inputs = manifest.get("inputs") or {}
    figures = _table_figures(inputs, None) if inputs else {}
    figures["allocated_share"] = None
    if scores is not None and "in_default" in scores:
        figures.update(_snapshot_figures(scores, "in_default"))
    return figures


# -------------------------------------------------------------------------------------- checks


def format_figure(check: str, value: float | None) -> str:
    """A check's figure as text: shares in %, payments per invoice with 3 decimals, others whole."""
    if value is None:
        return "-"
    if check.startswith(("default_share", "quarantine_share", "allocated_share")):
        return f"{value:.1%}"
    if check.startswith(("payments_per_invoice", PAID_PER_INVOICED, PAID_PER_INVOICED_MEDIAN, "stated.")):
        return f"{value:.3f}"
    if check.startswith("invoices_per_debtor"):
        return f"{value:,.1f}"
    if math.isinf(value):
        return "inf"
    return f"{value:,.0f}"


# Each check in words, for report.html's "Input feed" section (it showed the codes before session 33):
# what it is named, what it measures and what to do when it fails. "{table}" / "{column}": the part of
# the check's code after its dot (``rows.payments``, ``stated.credit_limit``).
CHECK_WORDS: dict[str, tuple[str, str, str]] = {
    "rows": (
        "Rows in the {table} file",
        "rows delivered in today's {table} file, before quarantine",
        "Far fewer: the export was cut or a file is missing; far more: a file sent twice or a wider "
        "export. Check the {table} export and send it again",
    ),
    "rows_per_month": (
        "Rows a month in the {table} file",
        "rows dated in the file's span, per month: today's file spans fewer days than the reference's",
        "Far fewer: rows are missing from the {table} export; check it and send it again",
    ),
    "debtors": (
        "Debtors scored",
        "how many debtors with an invoice, payment or statement by the as-of date were scored: the "
        "book's size (debtors of the debtors table never invoiced, prospects, not counted)",
        "Debtors missing from or added to the feed: check the debtors and invoices exports",
    ),
    "debtors_same_ids": (
        "Debtors under the same ID",
        "of the previous run's debtors, how many are scored today under the same debtor ID",
        "Low: the IDs changed (a prefix added, leading zeros cut) and every debtor reads as new; send the "
        "IDs as before",
    ),
    "invoices_per_debtor_90d": (
        "Invoices per debtor, last 90 days",
        "invoices issued in the 90 days up to the as-of date, per scored debtor with an invoice, payment "
        "or statement by then",
        "Low: invoices are missing from the feed; check the invoices export",
    ),
    "invoices_per_debtor": (
        "Invoices per debtor",
        "accepted invoices per scored debtor, over the whole file",
        "Low: invoices are missing from the feed; check the invoices export",
    ),
    "payments_per_invoice": (
        "Payments per invoice",
        "accepted payments per accepted invoice",
        "Low: payments are missing, and paid invoices look unpaid; high: payments sent twice. Check the "
        "payments export",
    ),
    PAID_PER_INVOICED_MEDIAN: (
        "Paid against invoiced, last 90 days",
        "each debtor's amount paid against amount invoiced in the last 90 days, the median (about 1 on any book)",
        "Far from 1: one file's amounts are in another unit (cents, thousands); send both in the same unit",
    ),
    PAID_PER_INVOICED: (
        "Paid against invoiced, last 90 days (whole book)",
        "the book's amount paid against amount invoiced in the last 90 days",
        "Far from 1: one file's amounts are in another unit (cents, thousands); send both in the same unit",
    ),
    "allocated_share": (
        "Payments naming their invoice",
        "the share of payments that name the invoice they pay",
        "Lower: the payments export lost its invoice reference; map the invoice column again in the "
        "source config",
    ),
    "default_share": (
        "Debtors in default",
        "the share of scored debtors already in default (of those with an invoice, payment or statement)",
        "A jump: payments missing, or dates read wrongly, put debtors in default; check the payments "
        "file and the date format",
    ),
    "exposure": (
        "Open balance",
        "the total open balance of the scored debtors",
        "A jump: payments missing, invoices sent twice, or amounts in another unit; check the files",
    ),
    "default_exposure": (
        "Open balance in default",
        "the open balance of the debtors in default (the recovery queue's)",
        "A fall: an export of recent invoices left out the open invoices issued before its window; export "
        "the open items too, or keep the history (ews ingest --keep-history)",
    ),
    "quarantine_share": (
        "Rows quarantined in the {table} file",
        "the share of the {table} rows rejected at ingest (exact copies not counted)",
        "Open quarantine/{table}.csv: each row has its reason; fix those rows and ingest again",
    ),
    PAYMENTS_LAG: (
        "Payments feed behind",
        "days from the latest payment to the as-of date, against the book's usual lag: its longest "
        "silence between payment days plus its posting delay, or the largest lag of the runs published "
        "7 to 35 days before (then both counted in usual payment days, weekends left out)",
        "Send the payments up to the as-of date, or score the date of the latest payment; if payments "
        "always post some days late, set feed_checks.payments_lag.delay_days",
    ),
    "stated": (
        "Debtors' {column}",
        "the debtors' stated {column} against the previous run's (the median ratio per debtor)",
        "Far from 1: the debtors file is in another unit (cents, thousands); send the amounts in the unit "
        "of the previous exports",
    ),
}


def check_words(check: str) -> dict[str, str]:
    """A check's code in words (:data:`CHECK_WORDS`): ``name``, ``means``, ``todo`` and the ``code``
    itself; a code not listed is its own name, without the rest."""
    base, _, part = check.partition(".")
    words = CHECK_WORDS.get(base)
    if words is None:
        return {"code": check, "name": check, "means": "", "todo": ""}
    said = part.replace("_", " ") if base == "stated" else part
    name, means, todo = (w.format(table=said, column=said) for w in words)
    return {"code": check, "name": name, "means": means, "todo": todo}


def _unit(check: str) -> str:
    """What the ``min_basis`` of a check counts."""
    if check.startswith(("rows.", "rows_per_month.", "quarantine_share")):
        return "rows"
    return {
        "payments_per_invoice": "invoices",
        "allocated_share": "payments",
        "default_exposure": "debtors in default",
    }.get(check, "debtors")


def _ratio(check: str, against: str, value: float, ref: float, basis: int, limit: RatioLimit) -> FeedCheck:
    text = (
        f"ratio {limit.min_ratio:g} to {limit.max_ratio:g}, checked from {limit.min_basis:,} {_unit(check)}"
    )
    vanished = check.startswith("rows.") and ref > 0 and value == 0
    if basis < limit.min_basis and not vanished:
        return FeedCheck(check, against, value, ref, text, SMALL)
    ratio = value / ref if ref else (1.0 if value == 0 else math.inf)
    bad = vanished or not limit.min_ratio <= ratio <= limit.max_ratio
    return FeedCheck(check, against, value, ref, text, FAILED if bad else OK)


def _points(check: str, against: str, value: float, ref: float, basis: int, limit: ShareLimit) -> FeedCheck:
    up, down = f"{limit.max_increase * 100:g}", f"{limit.max_decrease * 100:g}"
    moves = (
        f"at most {down} points lower"
        if limit.max_increase >= 1.0
        else f"at most {up} points higher"
        if limit.max_decrease >= 1.0
        else f"+{up}/-{down} points"
    )
    text = f"{moves}, checked from {limit.min_basis:,} {_unit(check)}"
    if basis < limit.min_basis:
        return FeedCheck(check, against, value, ref, text, SMALL)
    diff = value - ref
    bad = diff > limit.max_increase + 1e-12 or -diff > limit.max_decrease + 1e-12
    return FeedCheck(check, against, value, ref, text, FAILED if bad else OK)


def _per_month(figures: Mapping[str, Any], table: str) -> float:
    """Rows per month of a table's span (:func:`dense_span`): the rows dated in it, or, in figures
    recorded before session 24 (no ``span_rows``), every row delivered."""
    rows = (figures.get(SPAN_ROWS) or {}).get(table, figures["rows"].get(table, 0))
    return rows * MONTH_DAYS / figures[DAYS][table]


def _defaulted(figures: Mapping[str, Any]) -> int:
    """Debtors in default behind a figures' ``default_share`` (0 when unknown)."""
    share, n = figures.get("default_share"), figures.get("debtors")
    return round(share * n) if share is not None and n else 0


WRITTEN_OFF = "written off"


def _explained(check: FeedCheck, written: float, limit: RatioLimit) -> FeedCheck:
    """A failed ``default_exposure`` fall passes when the write-offs the feed itself carries for the
    debtors in default since the reference (``written``) bring the ratio back inside the limit:
    a year-end clean-up is published, and the check says why. A fall they do not explain stays failed."""
    assert check.value is not None and check.reference is not None
    ratio = (check.value + written) / check.reference if check.reference else math.inf
    why = (
        f"; the feed wrote off {written:,.0f} for debtors in default since then (credit memos, write_off "
        f"events): {check.value + written:,.0f} with them"
    )
    if limit.min_ratio <= ratio <= limit.max_ratio:
        return replace(check, limit=check.limit + why + ", " + WRITTEN_OFF, status=OK)
    return replace(check, limit=check.limit + why + ", still outside the limit")


def written_off(book: Any, debtors: Any, since: dt.date | None, as_of: dt.date) -> float:
    """What the feed wrote off for ``debtors`` dated in (``since``, ``as_of``]: per debtor the larger
    of its credit memos (payments of ``kind`` credit) and its ``write_off`` events' amounts (a
    clean-up posted both ways counts once). 0 without either. Reads those debtors' rows only
    (``Book.read_debtors``)."""
    ids = pd.Index(pd.Series(debtors, dtype="string").dropna().unique())
    if not len(ids) or not hasattr(book, "read_debtors"):
        return 0.0
    rows = book.read_debtors(ids, ("payments", "events"))
    low = pd.Timestamp(since) if since is not None else pd.Timestamp.min
    high = pd.Timestamp(as_of)
    per: list[pd.Series] = []
    pay = getattr(rows, "payments", None)
    if pay is not None and len(pay) and "kind" in pay:
        memo = pay.loc[(pay["kind"] == "credit").fillna(False).to_numpy(dtype=bool)]
        memo = memo.loc[(memo["paid_on"] > low) & (memo["paid_on"] <= high)]
        per.append(memo.groupby(memo["debtor_id"].astype("string"))["amount"].sum())
    ev = getattr(rows, "events", None)
    if ev is not None and len(ev) and "amount" in ev:
        off = ev.loc[(ev["kind"] == "write_off").fillna(False).to_numpy(dtype=bool)]
        off = off.loc[(off["event_date"] > low) & (off["event_date"] <= high)]
        per.append(off.groupby(off["debtor_id"].astype("string"))["amount"].sum(min_count=1).fillna(0.0))
    if not per:
        return 0.0
    return float(pd.concat(per, axis=1).fillna(0.0).max(axis=1).sum())


def _compare(
    today: Mapping[str, Any],
    ref: Mapping[str, Any],
    against: str,
    limits: FeedLimits,
    written: float | None = None,
) -> list[FeedCheck]:
    """The checks of ``today`` against one reference (the previous run or the training data): a
    table spanning fewer days than the reference's (a rolling export) is compared by rows per month
    of each one's span (:func:`dense_span`), else by whole rows. ``written``: what the feed wrote off
    since the reference (:func:`written_off`), which explains a fall of ``default_exposure``."""
    checks = []
    if today.get(HISTORY_DEBTORS) is not None and ref.get(HISTORY_DEBTORS) is not None:
        today, ref = _over_history(today), _over_history(ref)  # prospects left out (s37-prospects)
    rows_ref = ref.get("rows") or {}
    days, days_ref = today.get(DAYS) or {}, ref.get(DAYS) or {}
    for table in sorted(set(today["rows"]) | set(rows_ref)):
        if table not in rows_ref:
            continue  # a table the reference did not have: nothing to compare with
        value, prev = today["rows"].get(table, 0), rows_ref[table]
        basis = max(value, prev)
        limit = limits.event_rows if table == "events" else limits.rows
        if value and days.get(table) and days_ref.get(table) and days[table] < days_ref[table]:
            checks.append(
                _ratio(
                    f"rows_per_month.{table}",
                    against,
                    _per_month(today, table),
                    _per_month(ref, table),
                    basis,
                    limit,
                )
            )
            continue
        checks.append(_ratio(f"rows.{table}", against, value, prev, basis, limit))
    acc, acc_ref = today.get("accepted", {}), ref.get("accepted", {})
    debtors = min(today.get("debtors") or 0, ref.get("debtors") or 0)
    if today.get("debtors") is not None and ref.get("debtors") is not None:
        checks.append(
            _ratio(
                "debtors",
                against,
                today["debtors"],
                ref["debtors"],
                max(today["debtors"], ref["debtors"]),
                limits.debtors,
            )
        )
    # a book with statements too: over the debtors with an invoice or a payment when both carry them
    over = INVOICE_DEBTORS if today.get(INVOICE_DEBTORS) and ref.get(INVOICE_DEBTORS) else "debtors"
    check, per_debtor = (
        "invoices_per_debtor_90d",
        [f[RECENT] / f[over] if f.get(over) and f.get(RECENT) is not None else None for f in (today, ref)],
    )
    if None in per_debtor or not ref.get(RECENT):
        # a reference from before the recent window (or none in it): whole tables, as before
        check, per_debtor = (
            "invoices_per_debtor",
            [
                a["invoices"] / f["debtors"] if f.get("debtors") and "invoices" in a else None
                for f, a in ((today, acc), (ref, acc_ref))
            ],
        )
    if None not in per_debtor:
        checks.append(
            _ratio(
                check,
                against,
                per_debtor[0],
                per_debtor[1],
                debtors,
                limits.invoices_per_debtor,
            )
        )
    # a reference from before s31-hostile has the sum's ratio only: compared by it, as then (debtors)
    ppi = (
        (PAID_PER_INVOICED, _ratio, debtors)
        if ref.get(PAID_PER_INVOICED_MEDIAN) is None and ref.get(PAID_PER_INVOICED) is not None
        else (
            PAID_PER_INVOICED_MEDIAN,
            _ratio,
            min(today.get(PAID_PER_INVOICED_DEBTORS) or 0, ref.get(PAID_PER_INVOICED_DEBTORS) or 0),
        )
    )
    scalars = [
        ("payments_per_invoice", _ratio, min(acc.get("invoices", 0), acc_ref.get("invoices", 0))),
        ppi,
        ("allocated_share", _points, min(acc.get("payments", 0), acc_ref.get("payments", 0))),
        ("default_share", _points, debtors),
        ("exposure", _ratio, debtors),
        ("default_exposure", _ratio, min(_defaulted(today), _defaulted(ref))),
    ]
    for name, judge, basis in scalars:
        if today.get(name) is not None and ref.get(name) is not None:
            checks.append(
                judge(
                    name,
                    against,
                    today[name],
                    ref[name],
                    basis,
                    getattr(
                        limits,
                        "paid_per_invoiced"
                        if name == PAID_PER_INVOICED_MEDIAN
                        else name.removesuffix("_90d"),
                    ),
                )
            )
            if name == "default_exposure" and checks[-1].status == FAILED and written:
                checks[-1] = _explained(checks[-1], written, limits.default_exposure)
    q_ref = ref.get("quarantine_share") or {}
    for table, share in sorted(today["quarantine_share"].items()):
        if share is None or q_ref.get(table) is None:
            continue
        basis = min(today["rows"].get(table, 0), rows_ref.get(table, 0))
        checks.append(
            _points(f"quarantine_share.{table}", against, share, q_ref[table], basis, limits.quarantine_share)
        )
    return checks


MAX_TRAINED_DELAY_DAYS = 7
"""The longest posting delay taken from the training feed's own payments lag: a training export whose
payments stopped weeks before its invoices does not switch the check off."""


def posting_delay(
    limit: LagLimit,
    trained: Mapping[str, Any] | None,
    label: str = "",
    before: tuple[str, int] | None = None,
) -> tuple[int, str]:
    """(days, words) of the payments feed's usual delay behind the invoices: ``limit.delay_days``, or
    the training feed's own payments lag (its latest payment before its last dated day, :func:`table_lag`
    at the training data's end) when longer, up to :data:`MAX_TRAINED_DELAY_DAYS` and, with ``before``
    (the previous run's label and payments lag), never above that lag. A feed whose cash is applied
    two days after the bank's value date lags two days every night, on a book paid daily too
    (s31-review: 1,372 of 4,015 honest nights refused on 11 books without it). A training export
    whose payments were a week behind let every payments feed a week behind through until the next
    training; capped by the previous run's lag, a payments feed 7 days behind the night after an
    honest one is refused on 22,464 of 32,032 nights of 11 fresh books, 5,358 without the cap (s32,
    pre-registered; honest nights refused unchanged). A stall grows its lag a day a night, the
    previous run's with it: the cap does not catch it sooner."""
    configured = int(limit.delay_days)
    seen = min(int((trained or {}).get("lag") or 0), MAX_TRAINED_DELAY_DAYS)
    capped = ""
    if before is not None and before[1] < seen:
        capped = f" (the lag of {before[0]}; {counted(seen, 'day')} in {label or 'the training data'})"
        seen = before[1]
    if seen > configured:
        return (
            seen,
            f"the posting delay seen in {label or 'the training data'}, {counted(seen, 'day')}{capped}",
        )
    if configured:
        return configured, f"the posting delay of payments_lag.delay_days, {counted(configured, 'day')}"
    return 0, ""


def remembered(previous: tuple[str, Mapping[str, Any]] | None, as_of: dt.date) -> dict[str, int]:
    """The payments lags (usual payment days) of the runs published in the :data:`MEMORY_DAYS` days
    before ``as_of`` whose payments_lag_days passed, as the previous run carried them (as-of date ->
    lag); empty without a previous run or for one recorded before session 33."""
    pay = ((previous[1] if previous else {}).get(LAGS) or {}).get("payments") or {}
    low, high = (as_of - dt.timedelta(days=MEMORY_DAYS)).isoformat(), as_of.isoformat()
    return {day: int(lag) for day, lag in sorted((pay.get(PUBLISHED) or {}).items()) if low <= day < high}


def with_memory(
    figures: Mapping[str, Any], previous: tuple[str, Mapping[str, Any]] | None, as_of: dt.date, passed: bool
) -> dict[str, Any]:
    """``figures`` with ``lags.payments.published``: the previous run's memory of the last
    :data:`MEMORY_DAYS` days (:func:`remembered`), and tonight's lag in usual payment days when its
    payments_lag_days ``passed``. Unchanged without a payments lag in usual payment days."""
    pay = (figures.get(LAGS) or {}).get("payments")
    if not pay or "lag_usual_days" not in pay:
        return dict(figures)
    memory = remembered(previous, as_of)
    if passed:
        memory[as_of.isoformat()] = int(pay["lag_usual_days"])
    lags = {**figures[LAGS], "payments": {**pay, PUBLISHED: memory}}
    return {**figures, LAGS: lags}


def weekday_names(mask: str) -> str:
    """``1111100`` -> "Mon-Fri"; ``1111111`` -> "every day"; ``1010100`` -> "Mon, Wed, Fri"."""
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    held = [name for name, bit in zip(names, mask, strict=False) if bit == "1"]
    if len(held) == 7:
        return "every day"
    first = names.index(held[0])
    if len(held) > 2 and held == list(names[first : first + len(held)]):
        return f"{held[0]}-{held[-1]}"
    return ", ".join(held)


def _latest(pay: Mapping[str, Any], inv: Mapping[str, Any], as_of: dt.date, lag: str) -> str:
    """The start of a payments_lag_days refusal: the latest payment, ``lag`` (in words) before the
    as-of date, and how far before the latest invoice."""
    behind = (dt.date.fromisoformat(inv["last"]) - dt.date.fromisoformat(pay["last"])).days
    return (
        f"the latest payment in {pay.get('file') or 'the payments feed'} is dated {pay['last']}, {lag} before "
        f"--as-of {as_of} and {counted(max(behind, 0), 'day')} before the latest invoice ({inv['last']})"
    )


def _short(pay: Mapping[str, Any], inv: Mapping[str, Any], as_of: dt.date, lag: str, usual: int) -> str:
    """A payments_lag_days refusal in two lines: how far behind against the usual lag, the file and
    dates, then the fix (how the usual lag is counted: ``detail``, ``ews score --verbose``)."""
    return (
        f"the payments feed looks {lag} behind (usually at most {usual:,}): the latest payment in "
        f"{pay.get('file') or 'the payments feed'} is dated {pay['last']}, the latest invoice {inv['last']}, so "
        f"invoices paid since {pay['last']} would look unpaid.\n    Fix: send the payments up to {as_of}, or "
        f"score {pay['last']} (`ews score --as-of {pay['last']}`); payments always posted some days late: "
        "feed_checks.payments_lag.delay_days in the nightly config."
    )


def _unpaid(pay: Mapping[str, Any], as_of: dt.date) -> str:
    """The end of a payments_lag_days refusal: what a feed behind does and how to fix it."""
    return (
        f"and invoices paid since {pay['last']} look unpaid (days past due, the watchlist and the queue run "
        f"high). Send the payments up to {as_of}, or score {pay['last']} (`ews score --as-of {pay['last']}`). "
        "If your payments are always posted some days late, say so once: feed_checks.payments_lag.delay_days "
        "in the nightly config"
    )


def _in_usual_days(
    pay: Mapping[str, Any],
    inv: Mapping[str, Any],
    as_of: dt.date,
    limit: LagLimit,
    memory: Mapping[str, int],
    trained: Mapping[str, Any] | None,
    before: tuple[str, Mapping[str, Any]] | None,
    label: str,
) -> FeedCheck:
    """payments_lag_days counted in usual payment days, against the largest lag of the runs
    remembered (``memory``, as-of date -> lag) or the usual silence + posting delay when larger."""
    days = weekday_names(str(pay.get("weekdays") or "1111111"))
    unit = "usual payment day"
    usual, whose = int(pay["usual_usual_days"]), f"in the {LAG_WINDOW_DAYS} days before it"
    if trained and int(trained.get("usual_usual_days", trained["usual"])) > usual:
        usual, whose = int(trained.get("usual_usual_days", trained["usual"])), f"in {label}"
    seen = min(
        int((trained or {}).get("lag_usual_days", (trained or {}).get("lag") or 0)), MAX_TRAINED_DELAY_DAYS
    )
    if before is not None:
        seen = min(seen, int(before[1].get("lag_usual_days", before[1]["lag"])))
    delay = max(int(limit.delay_days), seen)
    largest = min(max(memory.values()), usual + MAX_TRAINED_DELAY_DAYS)
    allowed = max(usual + delay, largest)
    runs = (
        f"run published on {min(memory)}"
        if len(memory) == 1
        else f"{counted(len(memory), 'run')} published from {min(memory)} to {max(memory)}"
    )
    text = (
        f"at most {counted(allowed + limit.margin_days, unit)} ({days}) behind (the largest payments lag of the "
        f"{runs}, {counted(largest, unit)}, or the longest silence between payment days {whose}, "
        f"{counted(usual, unit)}, + the posting delay, {counted(delay, unit)}; + {limit.margin_days})"
    )
    lag = int(pay["lag_usual_days"])
    words = f"{counted(lag, unit)} ({days}; {counted(int(pay['lag']), 'day')})"
    detail = (
        f"{_latest(pay, inv, as_of, words)}; the "
        f"book's usual lag is at most {counted(allowed, unit)} (the largest payments lag of the {runs}, {counted(largest, unit)}; its "
        f"longest silence between payment days {whose}, {counted(usual, unit)}, + the posting delay, "
        f"{counted(delay, unit)}): the payments feed looks {counted(lag, unit)} behind, {_unpaid(pay, as_of)}"
    )
    quiet = int(inv["lag"]) > int(inv["usual"]) + limit.margin_days
    bad = lag > allowed + limit.margin_days and not quiet
    short = _short(pay, inv, as_of, words, allowed) if bad else ""
    return FeedCheck(
        PAYMENTS_LAG,
        "the book's usual lag",
        lag,
        allowed,
        text,
        FAILED if bad else OK,
        detail if bad else "",
        short,
    )


LEDGER_SILENCE = "ledger_silence_days"
OWN_YEAR = "the export's own year"
SILENCE_NAMES = {"invoices": ("invoice", "invoices"), "payments": ("payment", "payments")}


def ledger_silence(today: Mapping[str, Any], as_of: dt.date, limit: LagLimit) -> list[FeedCheck]:
    """A first night's export (no previous run to compare with) judged against its own past year.

    Stale: every ledger table silent at the as-of date for more than :data:`STALE_MIN_DAYS` and more
    than its longest silence in the :data:`LAG_WINDOW_DAYS` days before + ``limit.margin_days`` (an
    export a month old: the nights after compare with the previous run, and the payments lag exempts a
    whole ledger gone quiet). Hole: a table whose longest silence in the last
    :data:`HOLE_RECENT_DAYS` days is at least :data:`HOLE_MIN_DAYS` and more than twice its longest in
    the :data:`HOLE_YEAR_DAYS` days before (a month missing from the export). Tables with fewer than
    ``limit.min_days`` dated days in that year are not judged. Empty without the figures."""
    lags = {t: v for t, v in (today.get(LAGS) or {}).items() if t in SILENCE_NAMES}
    if set(lags) != set(SILENCE_NAMES) or any(v.get("hole") is None for v in lags.values()):
        return []
    out = []
    inv, pay = lags["invoices"], lags["payments"]
    lag = min(int(inv["lag"]), int(pay["lag"]))
    judged = all(int(v["days"]) >= limit.min_days for v in lags.values())
    stale = judged and all(
        int(v["lag"]) > max(STALE_MIN_DAYS, int(v["usual"]) + limit.margin_days) for v in lags.values()
    )
    last = max(inv["last"], pay["last"])
    text = (
        f"each of invoices and payments silent at most {STALE_MIN_DAYS} days, or its longest silence in the "
        f"{LAG_WINDOW_DAYS} days before + {limit.margin_days}; checked on a first night (no earlier run in --out)"
    )
    short = (
        f"the export looks {counted(lag, 'day')} old: its latest invoice is dated {inv['last']} and its latest "
        f"payment {pay['last']}, while in the year before invoices never stopped for more than "
        f"{counted(int(inv['usual']), 'day')} nor payments for more than {counted(int(pay['usual']), 'day')}.\n"
        f"    Fix: ingest a newer export, or score {last} (`ews score --as-of {last}`)."
    )
    out.append(
        FeedCheck(
            LEDGER_SILENCE,
            OWN_YEAR,
            lag,
            max(int(inv["usual"]), int(pay["usual"])),
            text,
            FAILED if stale else OK,
            short if stale else "",
            short if stale else "",
        )
    )
    for table, v in sorted(lags.items()):
        one, many = SILENCE_NAMES[table]
        hole, usual = int(v["hole"]), int(v["year_usual"])
        bad = int(v["year_days"]) >= limit.min_days and hole >= HOLE_MIN_DAYS and hole > 2 * usual
        start = dt.date.fromisoformat(v["hole_from"]) if v["hole_from"] else as_of
        said = (
            f"no {one} from {start} to {start + dt.timedelta(days=max(hole - 1, 0))} ({counted(hole, 'day')}) in the "
            f"{HOLE_RECENT_DAYS} days to {v['last']}, while in the year before {many} never stopped for more than "
            f"{counted(usual, 'day')}: a month missing from the export?\n    Fix: export again with every month, or, "
            "when the business really was closed, publish it with --accept-feed."
        )
        out.append(
            FeedCheck(
                f"{table}_hole_days",
                OWN_YEAR,
                hole,
                usual,
                f"a silence in the last {HOLE_RECENT_DAYS} days under {HOLE_MIN_DAYS} days or at most twice the "
                f"longest of the year before; checked on a first night (no earlier run in --out)",
                FAILED if bad else OK,
                said if bad else "",
                said if bad else "",
            )
        )
    return out


def payments_lag(
    today: Mapping[str, Any],
    as_of: dt.date,
    limit: LagLimit,
    previous: tuple[str, Mapping[str, Any]] | None = None,
    training: tuple[str, Mapping[str, Any]] | None = None,
) -> FeedCheck | None:
    """``payments_lag_days``: today's payments feed against the book's usual silence (:func:`table_lag`).

    Failed when the latest payment is older than the as-of date by more than the longest silence
    between payment days in the year before it (or in the training data's, when longer), plus the
    feed's usual posting delay (:func:`posting_delay`), plus ``limit.margin_days``, while the invoices
    are inside their own usual silence: the payments feed is behind, and every invoice paid in the
    missing days looks unpaid. A whole ledger quiet beyond its usual
    silence (both feeds stale, a shutdown) is the data-lag check's (``max_data_lag_days``). None
    without the figures (a statements book; figures recorded before session 31).

    Once the previous run remembers a run published 7 to 35 days before tonight (:func:`remembered`),
    the lags are counted in usual payment days (:func:`usual_weekdays`) and tonight's may reach the
    largest remembered one (up to the usual silence + 7) + the margin: one training night cannot show
    a posting delay hidden behind a weekend, the runs since do. On 11 fresh books (s33, pre-registered:
    BENCHMARKS.md "Session 33 (s33-lag)"), exports made the morning after with payments posted 1-3 days
    late: 1,676 -> 56 of 24,090 honest nights refused (all before any run was a week old); a payments
    feed 7 days behind refused on as many nights; 2-3 days behind caught on more nights where the
    calendar rule refused no honest one."""
    lags = today.get(LAGS) or {}
    pay, inv = lags.get("payments"), lags.get("invoices")
    if pay is None or inv is None:
        return None
    usual, whose = int(pay["usual"]), f"in the {LAG_WINDOW_DAYS} days before it"
    trained = ((training[1] if training else {}).get(LAGS) or {}).get("payments")
    if trained and int(trained["usual"]) > usual:
        usual, whose = int(trained["usual"]), f"in {training[0]}"  # type: ignore[index]
    before = ((previous[1] if previous else {}).get(LAGS) or {}).get("payments")
    gap = (as_of - dt.timedelta(days=MEMORY_GAP_DAYS)).isoformat()
    memory = {day: lag for day, lag in remembered(previous, as_of).items() if day <= gap}
    if memory and "lag_usual_days" in pay and int(pay["days"]) >= limit.min_days:
        then = (previous[0], before) if before and previous else None
        return _in_usual_days(pay, inv, as_of, limit, memory, trained, then, training[0] if training else "")
    then_lag = (previous[0], int(before["lag"])) if before and previous else None  # type: ignore[index]
    delay, why = posting_delay(limit, trained, training[0] if training else "", then_lag)
    allowed = usual + delay + limit.margin_days
    text = (
        f"at most {counted(allowed, 'day')} behind (the longest silence between payment days {whose}, "
        f"{counted(usual, 'day')}, + {why + ' + ' if why else ''}{limit.margin_days}), checked from "
        f"{counted(limit.min_days, 'payment day')} a year"
    )
    lag = int(pay["lag"])
    plus = f", {counted(usual, 'day')}, + {why}" if why else ""
    then = f"; {counted(int(before['lag']), 'day')} in {previous[0]}" if before and previous else ""  # type: ignore[index]
    detail = (
        f"{_latest(pay, inv, as_of, counted(lag, 'day'))}; the book's usual lag is at most "
        f"{counted(usual + delay, 'day')} (its longest "
        f"silence between payment days {whose}{plus}{then}): the payments feed looks "
        f"{counted(lag, 'day')} behind, {_unpaid(pay, as_of)}"
    )
    if int(pay["days"]) < limit.min_days:
        return FeedCheck(PAYMENTS_LAG, "the book's usual lag", lag, usual + delay, text, SMALL)
    quiet = int(inv["lag"]) > int(inv["usual"]) + limit.margin_days  # the whole ledger silent
    # from the as-of date, not from the latest invoice: a book invoiced once a month has its latest
    # invoice weeks old, and a payments feed stopped after it would never look behind
    bad = lag > allowed and not quiet
    return FeedCheck(
        PAYMENTS_LAG,
        "the book's usual lag",
        lag,
        usual + delay,
        text,
        FAILED if bad else OK,
        detail if bad else "",
        _short(pay, inv, as_of, counted(lag, "day"), usual + delay) if bad else "",
    )


def _positive(values: Any) -> pd.Series:
    out = pd.to_numeric(pd.Series(values), errors="coerce").astype("float64")
    return out[np.isfinite(out.to_numpy()) & (out.to_numpy() > 0)]


def stated_amounts(debtors: pd.DataFrame | None) -> dict[str, dict[str, float | int]]:
    """Per stated amount of the debtors table (:data:`STATED_COLUMNS` present), the median of the
    positive values and how many debtors state one: the figure :data:`STATED`."""
    out: dict[str, dict[str, float | int]] = {}
    if debtors is None or not len(debtors):
        return out
    for column in STATED_COLUMNS:
        if column in debtors:
            found = _positive(debtors[column].to_numpy())
            if len(found):
                out[column] = {"median": float(found.median()), "debtors": int(len(found))}
    return out


def stated_ratios(
    debtors: pd.DataFrame | None, previous_scores: pd.DataFrame | None, previous: Mapping[str, Any] | None
) -> dict[str, tuple[float, int, str]]:
    """Per stated amount, (ratio, basis, how) of today's debtors table against the previous run: the
    median over the debtors stating it on both nights of today's value / the previous run's
    (``credit_limit`` against its scores' ``credit_limit_current``; ``how`` "per debtor"), else the
    ratio of the medians the previous run recorded (:data:`STATED`; ``how`` "of the medians", basis the
    fewer debtors). Nothing for an amount the previous run did not have."""
    out: dict[str, tuple[float, int, str]] = {}
    if debtors is None or not len(debtors) or "debtor_id" not in debtors:
        return out
    ids = debtors["debtor_id"].astype("string")
    before = (previous or {}).get(STATED) or {}
    for column, kept in STATED_COLUMNS.items():
        if column not in debtors:
            continue
        if (
            kept
            and previous_scores is not None
            and kept in previous_scores
            and "debtor_id" in previous_scores
        ):
            now = pd.Series(pd.to_numeric(debtors[column], errors="coerce").to_numpy("float64"), index=ids)
            then = pd.Series(
                pd.to_numeric(previous_scores[kept], errors="coerce").to_numpy("float64"),
                index=previous_scores["debtor_id"].astype("string"),
            )
            now, then = now[~now.index.duplicated()], then[~then.index.duplicated()]
            both = now.index.intersection(then.index)
            a, b = now.loc[both].to_numpy(), then.loc[both].to_numpy()
            good = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
            if good.any():
                out[column] = (float(np.median(a[good] / b[good])), int(good.sum()), "per debtor")
            continue
        out.update(_stated_medians({STATED: stated_amounts(debtors[[column]])}, {STATED: before}))
    return out


def stated_checks(
    ratios: Mapping[str, tuple[float, int, str]],
    against: str,
    limit: RatioLimit,
    file: str = "",
) -> list[FeedCheck]:
    """``stated.<column>`` per stated amount of :func:`stated_ratios`: the ratio within ``limit``
    (a file in cents moves it 100-fold), checked from ``limit.min_basis`` debtors."""
    checks = []
    for column, (ratio, basis, how) in sorted(ratios.items()):
        check = _ratio(f"stated.{column}", against, ratio, 1.0, basis, limit)
        if check.status == FAILED:
            where = f" in {file}" if file else ""
            check = replace(
                check,
                detail=(
                    f"the debtors' {column}{where} is {ratio:,.4g} times {against}'s ({how}, "
                    f"{counted(basis, 'debtor')} stating it on both nights): a file in cents, or in thousands? "
                    "Send the amounts in the unit of the previous exports (the reporting currency)"
                ),
            )
        checks.append(check)
    return checks


def short_history(today: Mapping[str, Any], training: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{feed_months, training_months, note}`` when today's invoices span more than
    :data:`SHORT_HISTORY_DAYS` fewer days (:func:`dense_span`) than the champion's training data's,
    else None (also without the figures: a statements book; and against a reference from before
    session 24, whose days ran from the table's first date, not from where its rows are dense: a
    migrated or growing ledger's whole feed read as a short history, s24-review)."""
    days = (today.get(DAYS) or {}).get("invoices")
    days_ref = ((training or {}).get(DAYS) or {}).get("invoices") if SPAN_ROWS in (training or {}) else None
    if not days or not days_ref or days >= days_ref - SHORT_HISTORY_DAYS:
        return None
    feed_months, training_months = round(days / MONTH_DAYS, 1), round(days_ref / MONTH_DAYS, 1)
    return {
        "feed_months": feed_months,
        "training_months": training_months,
        "note": (
            f"short history: today's invoices cover {feed_months:g} months, the champion learned from "
            f"{training_months:g}; features that look back over the whole history (customer age, 365-day "
            "counts) read a shorter past, so PDs can read low (the live mean PD was 27 % and 49 % lower on 12- and 6-month exports "
            "of a 36-month book, BENCHMARKS.md s24-hostile). Send the whole history, or train on exports "
            "of this length"
        ),
    }


def _who() -> str:
    from pipelines.project_dir import who_ran

    return who_ran()


def own_months(
    invoice_days: pd.Series, snapshot: dt.date, as_of: dt.date
) -> tuple[int, list[tuple[str, int]]] | None:
    """The book's own invoicing in today's export (``invoice_days``: its invoices per issue day,
    ``Book.day_counts``): the invoices issued in the :data:`RECENT_DAYS` days up to the training
    ``snapshot``, and per :data:`OWN_BLOCK_DAYS`-day block from the snapshot to ``as_of`` (end date,
    invoices), earliest first, the last block ending on ``as_of``. None when the export holds no
    invoice on or before the snapshot's window (it does not reach back to the snapshot) or the
    snapshot is less than a block before ``as_of``."""
    end, snap = pd.Timestamp(as_of), pd.Timestamp(snapshot)
    if (end - snap).days < OWN_BLOCK_DAYS or not len(invoice_days):
        return None
    days = pd.DatetimeIndex(invoice_days.index)
    if days.min() > snap - pd.Timedelta(days=RECENT_DAYS):
        return None  # a rolling export starting after the snapshot's window: nothing to compare

    def issued(low: pd.Timestamp, high: pd.Timestamp) -> int:
        return int(invoice_days.to_numpy()[(days > low) & (days <= high)].sum())

    blocks = []
    stop = end
    while stop > snap:
        blocks.append((stop.date().isoformat(), issued(stop - pd.Timedelta(days=OWN_BLOCK_DAYS), stop)))
        stop -= pd.Timedelta(days=OWN_BLOCK_DAYS)
    return issued(snap - pd.Timedelta(days=RECENT_DAYS), snap), blocks[::-1]


def _by_own_months(
    check: FeedCheck,
    today: Mapping[str, Any],
    ref: Mapping[str, Any],
    invoice_days: pd.Series,
    snapshot: dt.date,
    as_of: dt.date,
    limits: FeedLimits,
) -> FeedCheck:
    """A failed ``invoices_per_debtor_90d`` against the training data judged again on the book's own
    months in today's export (:func:`own_months`): it passes, saying so, when the export holds the
    snapshot's invoices (its 90 days within the previous run's ``invoices_per_debtor`` limits of the
    training data's), the debtors scored are within the previous run's ``debtors`` limits of the
    snapshot's, and every block of invoices from the snapshot to tonight is within those limits of
    the block before (the first, of a third of the snapshot's 90 days): a gradual change of the book.
    Else it stays failed and says which figure broke."""
    limit = limits.invoices_per_debtor
    span = f"{limit.min_ratio:g} to {limit.max_ratio:g}"
    if today.get(HISTORY_DEBTORS) is not None and ref.get(HISTORY_DEBTORS) is not None:
        today, ref = _over_history(today), _over_history(ref)  # as _compare read them
    found = own_months(invoice_days, snapshot, as_of)
    if found is None or not ref.get(RECENT) or not ref.get("debtors") or not today.get("debtors"):
        return check
    at_snapshot, blocks = found
    trained = int(ref[RECENT])
    why = ""
    if not limit.min_ratio <= at_snapshot / trained <= limit.max_ratio:
        why = (
            f"today's export holds {counted(at_snapshot, 'invoice')} issued in the {RECENT_DAYS} days to the snapshot "
            f"{snapshot}, the training data {trained:,} (outside {span}): invoices missing from the export, "
            "or another export"
        )
    debtors = int(today["debtors"]) / int(ref["debtors"])
    if not why and not limits.debtors.min_ratio <= debtors <= limits.debtors.max_ratio:
        why = (
            f"{counted(int(today['debtors']), 'debtor')} scored today vs {int(ref['debtors']):,} at the snapshot {snapshot} "
            f"(outside {limits.debtors.min_ratio:g} to {limits.debtors.max_ratio:g})"
        )
    before = at_snapshot * OWN_BLOCK_DAYS / RECENT_DAYS
    steps = [f"{before:,.0f} (a third of the snapshot's {RECENT_DAYS} days)"]
    for stop, n in blocks:
        if not why and not (before > 0 and limit.min_ratio <= n / before <= limit.max_ratio):
            why = (
                f"today's export holds {counted(n, 'invoice')} issued in the {OWN_BLOCK_DAYS} days to {stop}, "
                f"{n / before if before else math.inf:.2f} times the {before:,.0f} of the {OWN_BLOCK_DAYS} "
                f"days before (outside {span}): invoices missing from the latest months, not a gradual change"
            )
        steps.append(f"{n:,} to {stop}")
        before = n
    if why:
        return replace(check, limit=f"{check.limit}; not explained by {OWN_MONTHS}: {why}")
    return replace(
        check,
        limit=(
            f"{check.limit}; judged by {OWN_MONTHS}: it holds the snapshot's invoices ({at_snapshot:,} in its "
            f"{RECENT_DAYS} days, {trained:,} in the training data) and a gradual change since, invoices "
            f"per {OWN_BLOCK_DAYS} days {' -> '.join(steps)}, each within {span} of the one before"
        ),
        status=OK,
    )


def _own_note(check: FeedCheck) -> str:
    """The warning of a check judged by the book's own months (``feed.own_months``): its figures, then
    what the months showed."""
    figures = check.describe().split(" (limit: ", 1)[0]
    return (
        f"{figures}, outside the training limit, but judged by {check.limit.split('; judged by ', 1)[1]}: a "
        "real change of the book, not refused; retrain (ews train) so that the champion learns the book as it is now"
    )


def evaluate_feed(
    figures: Mapping[str, Any],
    cfg: NightlyConfig,
    *,
    previous: tuple[str, Mapping[str, Any]] | None,
    training: tuple[str, Mapping[str, Any]] | None,
    accept: bool = False,
    written: Mapping[str, float] | None = None,
    same_ids: int | None = None,
    as_of: dt.date | None = None,
    stated: Mapping[str, tuple[float, int, str]] | None = None,
    stated_file: str = "",
    invoice_days: pd.Series | Callable[[], pd.Series | None] | None = None,
    snapshot: dt.date | None = None,
) -> dict[str, Any]:
    """Run every check of today's ``figures`` and return the manifest's ``feed`` section.

    ``previous`` / ``training``: (label, figures) of each reference, or None; ``written``: per
    reference (``previous``, ``training``), what the feed wrote off since it (:func:`written_off`);
    ``same_ids``: of the previous run's scored debtors, how many are scored today under the same id
    (check ``debtors_same_ids`` against the previous run's debtors, with the ``debtors`` limit: a feed
    whose debtor ids were renamed, a prefix added or leading zeros stripped, has as many debtors and
    rows as before, and every debtor read as new; s30-hostile: watchlist 120 debtors vs 29); ``as_of``:
    the run's date, for ``payments_lag_days`` (:func:`payments_lag`; not checked without it);
    ``stated``: :func:`stated_ratios` of today's debtors table against the previous run (checks
    ``stated.<column>``, :func:`stated_checks`), ``stated_file`` that table's input file;
    ``invoice_days``: today's invoices per issue day (``Book.day_counts``; or a function returning them,
    called only when the check failed) and ``snapshot`` the training
    snapshot's date: a failed ``invoices_per_debtor_90d`` against the training data is judged again on
    the book's own months (:func:`_by_own_months`; ``judged`` and ``references`` say so). Raises
    :class:`FeedCheckError` naming each failed check with its figures, unless ``accept`` (then the
    override is recorded) or ``cfg.feed_checks.enabled`` is false."""
    rejected = figures.get(QUARANTINED, {})  # absent from figures written before session 43
    checks = [
        FeedCheck(
            f"quarantine_share.{table}",
            "the absolute limit",
            share,
            None,
            f"at most {cfg.max_quarantine_share:.0%} (max_quarantine_share), judged from "
            f"{cfg.max_quarantine_min_rows} rejected rows (max_quarantine_min_rows)",
            OK
            if share <= cfg.max_quarantine_share
            else SMALL
            if table in rejected and rejected[table] < cfg.max_quarantine_min_rows
            else FAILED,
        )
        for table, share in sorted(figures["quarantine_share"].items())
        if share is not None
    ]
    if previous is not None:
        prev = previous[1]
        if DAYS in prev and SPAN_ROWS not in prev:
            # a run published before session 24: its days ran from the table's first date, today's from
            # where the rows are dense, so a book denser lately (a migrated ledger, a growing one) read as
            # more rows a month on the first run after the upgrade (s24-review); compared by whole rows,
            # as such runs were then
            prev = {k: v for k, v in prev.items() if k != DAYS}
        checks += _compare(
            figures, prev, previous[0], cfg.feed_checks.previous, (written or {}).get("previous")
        )
        if same_ids is not None and prev.get("debtors"):
            n = int(prev["debtors"])
            limit = cfg.feed_checks.previous.debtors
            checks.append(_ratio("debtors_same_ids", previous[0], same_ids, n, n, limit))
    judged = []
    if training is not None:
        checks += _compare(
            figures, training[1], training[0], cfg.feed_checks.training, (written or {}).get("training")
        )
        failed_ipd = [
            i
            for i, c in enumerate(checks)
            if c.check == "invoices_per_debtor_90d" and c.against == training[0] and c.status == FAILED
        ]
        days = invoice_days() if failed_ipd and callable(invoice_days) else invoice_days
        if failed_ipd and days is not None and snapshot is not None and as_of is not None:
            i = failed_ipd[0]
            checks[i] = _by_own_months(
                checks[i], figures, training[1], days, snapshot, as_of, cfg.feed_checks.previous
            )
            if checks[i].status == OK:
                judged.append(checks[i])
    if previous is not None and stated:
        checks += stated_checks(stated, previous[0], cfg.feed_checks.stated_amounts, stated_file)
    if training is not None and (medians := _stated_medians(figures, training[1])):
        # a first run into a new output folder has no previous run: the training data's medians
        checks += stated_checks(medians, training[0], cfg.feed_checks.stated_amounts, stated_file)
    if previous is None and as_of is not None and cfg.feed_checks.first_night:  # s36-walk
        checks += ledger_silence(figures, as_of, cfg.feed_checks.payments_lag)
    lag = payments_lag(figures, as_of, cfg.feed_checks.payments_lag, previous, training) if as_of else None
    if lag is not None:
        checks.append(lag)
        figures = with_memory(figures, previous, as_of, lag.status == OK)  # type: ignore[arg-type]
    failed = [c for c in checks if c.status == FAILED]
    refs = [r[0] for r in (previous, training) if r is not None] + ([OWN_MONTHS] if judged else [])
    feed: dict[str, Any] = {
        "status": "failed" if failed else "passed",
        "references": refs,
        "note": ""
        if refs
        else "no reference: no previous run and the model has no training feed reference; only the absolute quarantine limit was checked",
        "figures": dict(figures),
        "checks": [asdict(c) for c in checks],
        "override": None,
    }
    explained = [c for c in checks if c.status == OK and c.limit.endswith(WRITTEN_OFF)]
    if explained:
        feed["write_offs"] = "; ".join(
            f"default_exposure fell to {format_figure(c.check, c.value)} vs {format_figure(c.check, c.reference)} "
            f"in {c.against}, and {c.limit.split('; ', 1)[1].removesuffix(', ' + WRITTEN_OFF)}: inside the limit, "
            "not refused"
            for c in explained
        )
        feed["note"] = "; ".join(n for n in (feed["note"], feed["write_offs"]) if n)
    if judged:
        feed["judged"] = {c.check: OWN_MONTHS for c in judged}
        feed["own_months"] = "; ".join(map(_own_note, judged))
        feed["note"] = "; ".join(n for n in (feed["note"], feed["own_months"]) if n)
    history = short_history(figures, training[1] if training is not None else None)
    if history is not None:
        feed["history"] = history
        feed["note"] = "; ".join(n for n in (feed["note"], history["note"]) if n)
    if failed and not cfg.feed_checks.enabled:
        feed["status"] = "failed (checks disabled in config)"
    elif failed and accept:
        feed["status"] = "accepted"
        feed["override"] = {
            "by": _who(),
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "option": "--accept-feed",
            "checks": [f"{c.check} vs {c.against}" for c in failed],
        }
    elif failed:
        head = f"feed refused: {counted(len(failed), 'feed check')} failed, nothing was published:\n"
        tail = (
            "\nFix the feed, or publish it anyway with --accept-feed (recorded in the manifest); "
            "limits: feed_checks and max_quarantine_share in the nightly config."
        )
        lines, full = ("\n".join(f"  - {c.describe(f)}" for c in failed) for f in (False, True))
        raise FeedCheckError(head + lines + tail, feed, head + full + tail)
    return feed


def load_training_reference(run_id: str) -> dict[str, Any] | None:
    """The ``feed_reference.json`` logged with a model's training run, or None (older models)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{FEED_REFERENCE_ARTIFACT}")
    except (MlflowException, OSError, ValueError):
        return None


def _rejected_path(out_dir: Path, as_of: dt.date) -> Path:
    return Path(out_dir) / ".rejected" / f"{as_of.isoformat()}.feed_checks.json"


def write_rejected(out_dir: Path, as_of: dt.date, feed: Mapping[str, Any]) -> Path:
    """The refused run's figures as ``OUTDIR/.rejected/<as_of>.feed_checks.json`` (not a run folder)."""
    from pipelines.adapters.files import write_text_atomic

    path = _rejected_path(out_dir, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(json.dumps({"as_of": as_of.isoformat(), **feed}, indent=2) + "\n", path)


def clear_rejected(out_dir: Path, as_of: dt.date) -> None:
    """Remove the refusal figures of ``as_of`` once a run for that date is published."""
    _rejected_path(out_dir, as_of).unlink(missing_ok=True)
