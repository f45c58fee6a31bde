"""Point-in-time inputs of the payment-date model: open invoices at T and their person-period rows.

For an as-of day T (int days since the epoch) the open invoices and every feature come from
``features.ledger.ledger_state(ledger, T)``, i.e. from rows dated <= T only:

- invoice features: ``open_amount`` (unpaid at T), ``log_open_amount``, ``age_days`` (T - issue),
  ``days_to_due`` (due - T, negative when overdue), ``terms_days`` (due - issue), ``disputed``
  (0/1), ``share_paid`` (share of the invoice amount already paid at T);
- debtor features as of T: a compact set of behavioural features of ``features.catalog``
  (:data:`DEBTOR_FEATURES`, the same functions the PD model's feature frame uses) and
  the debtor's settled invoices by T: ``debtor_mean_lateness`` / ``debtor_std_lateness`` (mean and
  standard deviation of the days from due date to settlement, NaN when none), ``debtor_early_share``
  (share settled before the due date), ``debtor_settled_count``; and ``days_to_usual``
  (``days_to_due`` + ``debtor_mean_lateness``: days from T to the debtor's usual payment day);
  the robust and recent lateness of :func:`_recent_lateness` (median, median of the last 5
  settlements, their trend, ``days_to_recent_usual``); the recent change of state of
  :func:`_due_state` (``due_excess_60``, ``due_open_share_60``, ``state_late_60``: the invoices due in
  the last 60 days, open ones included, against the usual lateness before them);
- candidate features (:data:`CANDIDATE_FEATURES`, only with ``candidates=True``, for the ablation
  benchmark; :func:`_candidates`).

Training rows (:func:`person_periods`): one row per open invoice per week k = 0, 1, ... after T.
Week k covers the days T + 7k + 1 .. T + 7k + 7; the label is 1 when the invoice is fully settled
in that week (settlement day from the ledger state at the training cut C >= T, so from rows dated
<= C only), 0 while it stays open; rows stop after the week of settlement, after ``horizon`` weeks,
or at the last week that ends by C (censoring). Per-period features: ``period`` (k),
``dpd_at_period_end`` (days past due at the end of week k), ``gap_to_usual_lateness``,
``gap_to_recent_lateness`` and ``gap_to_state_60`` (``dpd_at_period_end`` minus ``debtor_mean_lateness``
/ ``debtor_late_median_last5`` / ``state_late_60``).

Pure: ledger arrays in, frames out; no IO.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.engine import debtor_feature  # importing the engine registers every feature family
from features.ledger import Ledger, LedgerState, ledger_state

__all__ = [
    "ALL_FEATURES",
    "CANDIDATE_FEATURES",
    "STATE_FEATURES",
    "FINE_FEATURES",
    "FineGrid",
    "DEBTOR_FEATURES",
    "DEBTOR_LEVEL",
    "FEATURES",
    "INVOICE_FEATURES",
    "PERIOD_DAYS",
    "PERIOD_FEATURES",
    "global_positions",
    "open_invoices",
    "period_rows",
    "person_periods",
    "settlement_days",
    "settlements",
    "memo_after",
    "memo_share",
    "MEMO_RULES",
    "training_rows",
    "training_window",
    "evaluation_invoices",
    "period_ends",
]

PERIOD_DAYS = 7

DEBTOR_FEATURES: tuple[str, ...] = (
    "days_late_mean_90d",
    "days_late_mean_365d",
    "days_late_std_365d",
    "days_late_p90_365d",
    "days_late_trend_90_365",
    "partial_payment_share_365d",
    "paid_to_invoiced_90d",
    "dpd_current_max",
    "overdue_share",
    "days_since_last_payment",
    "payment_count_365d",
    "open_invoice_count",
    "payment_terms_mean_365d",
    "unallocated_share_365d",
    "dispute_rate_365d",
)
INVOICE_FEATURES: tuple[str, ...] = (
    "open_amount",
    "log_open_amount",
    "age_days",
    "days_to_due",
    "terms_days",
    "disputed",
    "share_paid",
    "debtor_mean_lateness",
    "debtor_std_lateness",
    "debtor_early_share",
    "debtor_settled_count",
    "days_to_usual",
    "debtor_late_median",
    "debtor_late_median_last5",
    "debtor_late_trend",
    "days_to_recent_usual",
)
PERIOD_FEATURES: tuple[str, ...] = (
    "period",
    "dpd_at_period_end",
    "gap_to_usual_lateness",
    "gap_to_recent_lateness",
)
STATE_FEATURES: tuple[str, ...] = ("due_excess_60", "due_open_share_60", "state_late_60", "gap_to_state_60")
"""The debtor's recent change of state (:func:`_due_state`; the last one a period feature, a gap of
:data:`GAP_FEATURES`), shipped since session 28 (pre-registered: ``benchmarks/paydate_candidate.py``'s
``state_gap``). Last in :data:`FEATURES`, the order the candidate was fitted in."""
FEATURES: tuple[str, ...] = INVOICE_FEATURES + DEBTOR_FEATURES + PERIOD_FEATURES + STATE_FEATURES
DEBTOR_LEVEL: tuple[str, ...] = (
    "debtor_mean_lateness",
    "debtor_std_lateness",
    "debtor_early_share",
    "debtor_settled_count",
    "debtor_late_median",
    "debtor_late_median_last5",
    "debtor_late_trend",
    "due_excess_60",
    "due_open_share_60",
    "state_late_60",
    *DEBTOR_FEATURES,
)
"""The features that are the debtor's, not the invoice's: the same on all its open invoices
(``models.treewalk.weekly_hazards`` keeps their trees' work from one invoice to the next)."""
GRID_FEATURES: tuple[str, ...] = ("period_days", "period_end_day")
"""Period features of a fine grid (:class:`FineGrid`): the period's length in days and its last
day (days after T); on the weekly grid they are 7 and 7(k + 1), so the weekly model omits them."""
FINE_FEATURES: tuple[str, ...] = FEATURES + GRID_FEATURES
CANDIDATE_FEATURES: tuple[str, ...] = (
    "amount_vs_usual",
    "open_rank",
    "pay_dom_share",
    "days_to_pay_dom",
    "days_since_part_paid",
    "late_hl30",
    "late_hl90",
    "late_hl180",
    "late_last",
    "days_since_settlement",
    "late_similar_amount",
    "pay_wd_share",
    "days_to_pay_wd",
    "older_open_max_dpd",
    "gap_to_hl30",
    "gap_to_last",
    "book_shift",
    "shifted_usual_late",
    "open_excess_late",
    "segment_shift",
    "due_excess_30",
    "due_open_share_30",
    "due_pace_30",
    "due_pace_60",
)
BOOK_SHIFT_DAYS = 28
"""Window (days to T) of the settlements behind the ``book_shift`` and ``segment_shift`` candidates."""
SEGMENT_SHIFT_MIN = 30
"""Fewest settlements in the window behind a segment's own ``segment_shift`` (fewer: the book's)."""
STATE_WINDOWS: tuple[int, ...] = (30, 60)
"""Windows W (days to T) of the invoices behind ``due_excess_<W>`` and ``due_open_share_<W>`` (60: shipped
since session 28, pre-registered; 30: a candidate)."""
PACE_REF_DAYS = 90
"""Reach (days before the window) of the reference invoices behind ``due_pace_<W>``: due in
(T - W - 90, T - W]."""
HALF_LIVES: tuple[int, ...] = (30, 90, 180)
"""Half-lives in days of the recency-weighted lateness candidates ``late_hl<N>``."""
"""Built only on request (``candidates=True``): measured in ``benchmarks/paydate_ablation.py`` and
not used by the shipped model, because they did not lower the held-out MAE across the regimes."""
ALL_FEATURES: tuple[str, ...] = FINE_FEATURES + CANDIDATE_FEATURES
GAP_FEATURES: dict[str, str] = {
    "gap_to_usual_lateness": "debtor_mean_lateness",
    "gap_to_recent_lateness": "debtor_late_median_last5",
    "gap_to_state_60": "state_late_60",
    "gap_to_hl30": "late_hl30",
    "gap_to_last": "late_last",
}
"""Period features ``dpd_at_period_end`` minus a debtor figure (NaN without settled invoices); a
gap is built only when its debtor figure is (the last two: candidates only)."""
LAST_N = 5
ANCHORS = {"due": "days_to_due", "usual": "days_to_recent_usual"}
PAD_DAY = np.int32(2**30)  # end day of the padding periods of :func:`period_ends` (beyond any horizon)


@dataclass(frozen=True)
class FineGrid:
    """Hazard periods of ``days`` days around the due date (or the usual payment day,
    :meth:`anchor_days`): period ends at due + o for o = -``before``, -``before`` + ``days``, ...
    <= ``after`` (days relative to the due date), on top
    of the weekly ends 7, 14, ..., 7 x horizon (days after T), which stay, so the weekly CDF of the
    cash forecast is read off exactly. Ends outside 1 .. 7 x horizon are dropped."""

    days: int = 1
    before: int = 7
    after: int = 21
    anchor: str = "due"

    def __post_init__(self) -> None:
        if self.days < 1 or self.before < 0 or self.after < 0 or self.anchor not in ANCHORS:
            raise ValueError(
                f"fine grid: days >= 1, before >= 0, after >= 0, anchor one of {sorted(ANCHORS)}; got {self}"
            )

    def anchor_days(self, inv: pd.DataFrame) -> np.ndarray:
        """Days from T to the day the fine periods are centred on, per open invoice: the due date
        (``anchor`` "due") or the debtor's recent usual payment day (``anchor`` "usual": due date +
        median lateness of its last 5 settlements, the due date without history)."""
        return inv[ANCHORS[self.anchor]].to_numpy(dtype=np.float64)


def period_ends(anchor_days: np.ndarray, horizon: int, grid: FineGrid | None = None) -> np.ndarray:
    """End day (days after T) of each hazard period of each open invoice, int32 of shape
    (n, periods), increasing along a row and padded with :data:`PAD_DAY` after the invoice's last
    period. Period k of a row covers the days ends[k - 1] + 1 .. ends[k] (ends[-1] = 0). Without
    ``grid``: the weekly ends 7(k + 1), k < ``horizon``, for every row. ``anchor_days``: days from T
    to the day the fine periods are centred on (:meth:`FineGrid.anchor_days`)."""
    d = np.asarray(anchor_days, dtype=np.float64)
    weekly = (PERIOD_DAYS * np.arange(1, horizon + 1)).astype(np.int32)
    base = np.broadcast_to(weekly, (len(d), horizon))
    if grid is None:
        return base.copy()
    offsets = np.arange(-grid.before, grid.after + 1, grid.days, dtype=np.int64)
    fine = np.rint(d).astype(np.int64)[:, None] + offsets[None, :]
    fine = np.where((fine >= 1) & (fine <= PERIOD_DAYS * horizon), fine, PAD_DAY).astype(np.int32)
    ends = np.sort(np.concatenate([base, fine], axis=1), axis=1)
    dup = np.zeros(ends.shape, dtype=bool)
    dup[:, 1:] = ends[:, 1:] == ends[:, :-1]
    ends[dup] = PAD_DAY
    ends.sort(axis=1)
    width = int((ends < PAD_DAY).sum(axis=1).max()) if len(ends) else horizon
    return np.ascontiguousarray(ends[:, :width])


def global_positions(state: LedgerState) -> np.ndarray:
    """Position of each invoice of ``state`` in the ledger's sorted invoice arrays."""
    if state.inv_rows is None:
        return np.arange(len(state.inv_code), dtype=np.int64)
    return np.asarray(state.inv_rows, dtype=np.int64)


def settlement_days(ledger: Ledger, cut: int) -> np.ndarray:
    """Settlement day of every ledger invoice judged from rows dated <= ``cut`` (float, NaN while
    open at ``cut`` or not issued by then), indexed by sorted ledger position. A payment applied
    after it was paid (``allocated_on``) settles from the day it was applied: the invoice was open
    (the payment cash on account) at the snapshots before (``LedgerState.closed_days``). A credit
    memo closes an invoice too: :func:`settlements` says which were closed by one."""
    return settlements(ledger, cut)[0]


MEMO_RULES = ("censor", "settle", "open")
"""How the training rows take an invoice a credit memo closed (:func:`person_periods`): ``censor``
(shipped since session 20: open until the memo, then censored: the hazard of cash), ``settle`` (as
before session 20: a settlement on the memo's day) or ``open`` (never settled: kept open, label 0, up
to the cut or the horizon: the hazard of cash with the memo as a competing risk, measured only)."""


def settlements(ledger: Ledger, cut: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(days, memo_closed)`` judged from rows dated <= ``cut``, indexed by sorted ledger position:
    ``days`` as :func:`settlement_days`; ``memo_closed``: True where the invoice was closed by a
    credit memo (``payments.kind`` = credit), i.e. no cash piece is dated on its settlement day: it
    was never paid in full in cash. None when the ledger holds no memo (every closure is cash)."""
    return _settlements(ledger, ledger_state(ledger, cut))


def _settlements(ledger: Ledger, state: LedgerState) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`settlements` from the ledger state at the cut, ``state``, when already built."""
    pos = global_positions(state)
    out = np.full(len(ledger.inv_code), np.nan)
    out[pos] = state.closed_days()
    if state.pc_credit is None:
        return out, None
    memo = np.zeros(len(ledger.inv_code), dtype=bool)
    memo[pos] = ~np.isnan(state.inv_settled) & ~_cash_on_settlement_day(state)
    return out, memo


def _cash_on_settlement_day(state: LedgerState) -> np.ndarray:
    """Per invoice of ``state`` (a ledger with ``kind``): a cash piece is dated on its settlement day."""
    cash_day = np.zeros(len(state.inv_code), dtype=bool)
    on_day = ~state.pc_credit & (state.pc_date == state.inv_settled[state.pc_inv])
    cash_day[state.pc_inv[on_day]] = True
    return cash_day


def _cash_settled(state: LedgerState) -> np.ndarray:
    """Per invoice of ``state``: settled by T with cash (a cash piece dated on its settlement day).
    An invoice a credit memo closed is not a payment: the debtor's lateness history leaves it out.
    Without memos: every settled invoice (the same arrays as before)."""
    done = ~np.isnan(state.inv_settled)
    return done if state.pc_credit is None else done & _cash_on_settlement_day(state)


def memo_share(ledger: Ledger, snapshots: list[int], cut: int, horizon: int) -> tuple[float, float]:
    """``(credited, closed)``: over the invoices open at each month-end T of ``snapshots`` that
    closed within ``horizon`` weeks and by ``cut`` (from rows dated <= ``cut`` only), the amount
    credit memos dated after T took of them, and their open amount at T. ``credited / closed`` is the
    share of the open amount that closes without cash (0, 0 without memos). Sums, so that buckets add
    up. :func:`training_window` gives the same sums beside the training rows of the same window."""
    if ledger.pay_credit is None:
        return 0.0, 0.0
    state_cut = ledger_state(ledger, cut)
    settled, _ = _settlements(ledger, state_cut)
    pieces = _memo_pieces(state_cut)
    credited = closed = 0.0
    for T in snapshots:
        c, o = _memo_sums(ledger, ledger_state(ledger, T), settled, pieces, horizon)
        credited += c
        closed += o
    return credited, closed


def _memo_pieces(state_cut: LedgerState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The credit memos of the ledger state at the cut: (sorted ledger position of the invoice,
    day, amount) per memo piece."""
    sel = state_cut.pc_credit
    return (
        global_positions(state_cut)[state_cut.pc_inv[sel]],
        state_cut.pc_date[sel],
        state_cut.pc_amount[sel],
    )


def _memo_sums(
    ledger: Ledger,
    state: LedgerState,
    settled: np.ndarray,
    pieces: tuple[np.ndarray, np.ndarray, np.ndarray],
    horizon: int,
) -> tuple[float, float]:
    """:func:`memo_share`'s two sums for the one month-end ``state.T``."""
    T = state.T
    m_pos, m_day, m_amount = pieces
    open_ = np.flatnonzero(state.open_mask)
    pos = global_positions(state)[open_]
    s = settled[pos]
    done = ~np.isnan(s) & (np.nan_to_num(s, nan=-np.inf) <= T + PERIOD_DAYS * horizon)
    closed = float(state.inv_remaining[open_][done].sum())
    mark = np.zeros(len(ledger.inv_code), dtype=bool)
    mark[pos[done]] = True
    take = mark[m_pos] & (m_day > T) & (m_day <= T + PERIOD_DAYS * horizon)
    return float(m_amount[take].sum()), closed


def memo_after(ledger: Ledger, T: int, until: int) -> np.ndarray:
    """Per sorted ledger position, the amount of credit memos dated in (T, ``until``] applied to the
    invoice (from rows dated <= ``until``; zeros without memos): the part of an invoice's open amount
    at T that was credited, not paid."""
    out = np.zeros(len(ledger.inv_code))
    if ledger.pay_credit is None:
        return out
    state = ledger_state(ledger, until)
    sel = state.pc_credit & (state.pc_date > T)
    np.add.at(out, global_positions(state)[state.pc_inv[sel]], state.pc_amount[sel])
    return out


def _lateness(state: LedgerState) -> dict[str, np.ndarray]:
    """Per debtor, over its invoices settled in cash by T (lateness = settlement day - due day; an
    invoice a credit memo closed is left out): ``mean``, ``std``, ``early_share`` (settled before
    the due date) and ``count``; NaN when none settled."""
    done = _cash_settled(state)
    code = state.inv_code[done]
    late = state.inv_settled[done] - state.inv_due[done]
    count = np.bincount(code, minlength=state.n).astype(np.float64)
    has = count > 0
    den = np.maximum(count, 1.0)
    mean = np.bincount(code, weights=late, minlength=state.n) / den
    sq = np.bincount(code, weights=late**2, minlength=state.n) / den
    early = np.bincount(code, weights=(late < 0).astype(np.float64), minlength=state.n) / den
    nan = np.nan
    return {
        "mean": np.where(has, mean, nan),
        "std": np.where(has, np.sqrt(np.maximum(sq - mean**2, 0.0)), nan),
        "early_share": np.where(has, early, nan),
        "count": count,
    }


def _group_median(code: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per group code 0..n-1 (NaN for a group without values)."""
    out = np.full(n, np.nan)
    if not len(code):
        return out
    order = np.lexsort((values, code))
    c, v = code[order], values[order]
    count = np.bincount(c, minlength=n)
    start = np.cumsum(count) - count
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out


def _rank_in_group(code: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its group ``code``, ordered by ``keys`` (ties: row order)."""
    order = np.lexsort((np.arange(len(code)), keys, code))
    c = code[order]
    first = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, dtype=bool)
    idx = np.arange(len(c))
    start = np.maximum.accumulate(np.where(first, idx, 0)) if len(c) else idx
    rank = np.empty(len(c), dtype=np.int64)
    rank[order] = idx - start
    return rank


def _recent_lateness(state: LedgerState, cols: dict[str, np.ndarray]) -> None:
    """The debtor's robust and recent lateness (rows dated <= T only), added to ``cols``:

    - ``debtor_late_median``: median days from due date to settlement of the debtor's settled invoices;
    - ``debtor_late_median_last5``: the same over its last :data:`LAST_N` settlements (by settlement day);
    - ``debtor_late_trend``: mean lateness of those last settlements minus the mean of all;
    - ``days_to_recent_usual``: ``days_to_due`` + ``debtor_late_median_last5`` (0 without history).

    Medians resist what a mean does not: the invoices a debtor pays early, and disputes. NaN without
    settled invoices. Settled in cash: an invoice a credit memo closed is left out.
    """
    n = state.n
    code = cols["code"]
    done = _cash_settled(state)
    dcode = state.inv_code[done].astype(np.int64)
    sday = state.inv_settled[done]
    late = sday - state.inv_due[done]
    median = _group_median(dcode, late, n)
    recent = _rank_in_group(dcode, -sday) < LAST_N
    median_last = _group_median(dcode[recent], late[recent], n)
    count = np.bincount(dcode, minlength=n)
    mean_all = np.bincount(dcode, weights=late, minlength=n) / np.maximum(count, 1)
    rc = np.bincount(dcode[recent], minlength=n)
    mean_last = np.bincount(dcode[recent], weights=late[recent], minlength=n) / np.maximum(rc, 1)
    cols["debtor_late_median"] = median[code]
    cols["debtor_late_median_last5"] = median_last[code]
    cols["debtor_late_trend"] = np.where(count > 0, mean_last - mean_all, np.nan)[code]
    cols["days_to_recent_usual"] = cols["days_to_due"] + np.nan_to_num(median_last[code], nan=0.0)


def _candidates(state: LedgerState, cols: dict[str, np.ndarray]) -> None:
    """Candidate features of the open invoices (:data:`CANDIDATE_FEATURES`, not used by the shipped
    model), added to ``cols``; rows dated <= T only:

    - ``amount_vs_usual``: log(1 + open amount) minus the median log(1 + amount) of the debtor's invoices;
    - ``open_rank``: position of the invoice among its debtor's open invoices by due date (0 = oldest);
    - ``pay_dom_share``: share of the debtor's payments of the last 365 days made on its most frequent
      day of the month (a monthly payment run shows as a high share; NaN without payments);
    - ``days_to_pay_dom``: days from the usual payment day (T + max(1, ``days_to_recent_usual``)) to
      the next occurrence of that day of the month (the month's last day when it is shorter);
    - ``days_since_part_paid``: days from the invoice's last part payment to T (NaN: none);
    - ``late_hl<N>`` (N in :data:`HALF_LIVES`): mean lateness of the debtor's settled invoices, each
      weighted 0.5 ** ((T - settlement day) / N) (NaN without settlements);
    - ``late_last``: lateness of its latest settlement; ``days_since_settlement``: days from it to T;
    - ``late_similar_amount``: median lateness of the debtor's settled invoices on the same side of
      its median invoice amount (log) as this invoice (at or above / below; NaN when none);
    - ``pay_wd_share``: share of its payments of the last 365 days on its most frequent weekday;
      ``days_to_pay_wd``: days from the usual payment day to the next such weekday (0-6);
    - ``older_open_max_dpd``: days past due at T of the debtor's oldest-due other open invoice due
      before this one (NaN: none; oldest-first payers settle in that order);
    - ``book_shift``: median over the settlements of the last :data:`BOOK_SHIFT_DAYS` days (of
      debtors with earlier settlements) of their lateness minus the debtor's median lateness of the
      settlements before that window: how much later the whole book pays now than usual;
      ``shifted_usual_late``: ``debtor_late_median_last5`` + ``book_shift``;
    - ``open_excess_late``: ``dpd_current_max`` - ``debtor_late_median_last5`` (its oldest open
      invoice already later than it usually pays: a censored sign of a worse state);
    - ``segment_shift``: ``book_shift`` over the settlements of the debtor's own segment (its peers and
      itself): how much later its industry pays now than usual; the book's shift when the segment is
      unknown or has fewer than :data:`SEGMENT_SHIFT_MIN` such settlements;
    - ``due_excess_<W>`` (W in :data:`STATE_WINDOWS`): the debtor's recent change of state read on its
      invoices due in the last W days (T - W < due <= T), open ones included: the mean over them of the
      lateness so far (settlement day - due when settled in cash by T, T - due while open) minus what
      its usual lateness would give by T, min(usual, T - due); usual: the median lateness of its
      invoices due before that window (T - W or earlier) and settled in cash by T. Positive: later than
      usual (open invoices count as they age); negative: earlier. NaN without such invoices or without
      a usual lateness. An invoice a credit memo closed is left out. W = 30 here; W = 60 is shipped
      (:func:`open_invoices`, with ``state_late_60``: ``debtor_late_median_last5`` + ``due_excess_60``
      (+ 0 when that is NaN), and the period feature ``gap_to_state_60``, ``dpd_at_period_end`` minus it);
    - ``due_open_share_<W>``: the share of those invoices still open at T (NaN: none).
    """
    T, n = state.T, state.n
    code = cols["code"]
    log_amount = np.log1p(state.inv_amount.astype(np.float64))
    icode = state.inv_code.astype(np.int64)
    usual_amount = _group_median(icode, log_amount, n)
    cols["amount_vs_usual"] = cols["log_open_amount"] - usual_amount[code]
    cols["open_rank"] = _rank_in_group(code, cols["due"].astype(np.float64)).astype(np.float64)
    recent_pay = state.cash_payments(state.pay_date > T - 365)  # the days it pays: cash only
    pcode = state.pay_code[recent_pay].astype(np.int64)
    pday = state.pay_date[recent_pay].astype(np.int64)
    pdt = pday.astype("datetime64[D]")
    dom = (pdt - pdt.astype("datetime64[M]")).astype(np.int64)  # 0-based day of the month
    grid = np.bincount(pcode * 31 + dom, minlength=n * 31).reshape(n, 31)
    total = grid.sum(axis=1)
    mode = grid.argmax(axis=1)
    cols["pay_dom_share"] = np.where(total > 0, grid.max(axis=1) / np.maximum(total, 1), np.nan)[code]
    anchor_day = (T + np.maximum(1.0, cols["days_to_recent_usual"])).astype(np.int64)
    anchor = anchor_day.astype("datetime64[D]")
    month = anchor.astype("datetime64[M]")
    m = mode[code]

    def on(mon: np.ndarray) -> np.ndarray:
        length = ((mon + 1).astype("datetime64[D]") - mon.astype("datetime64[D]")).astype(np.int64)
        return mon.astype("datetime64[D]") + np.minimum(m, length - 1)

    target = on(month)
    target = np.where(target < anchor, on(month + 1), target)
    cols["days_to_pay_dom"] = np.where(total[code] > 0, (target - anchor).astype(np.int64), np.nan)
    wgrid = np.bincount(pcode * 7 + (pday + 3) % 7, minlength=n * 7).reshape(n, 7)  # 0 = Monday
    wmode = wgrid.argmax(axis=1)
    cols["pay_wd_share"] = np.where(total > 0, wgrid.max(axis=1) / np.maximum(total, 1), np.nan)[code]
    to_wd = (wmode[code] - (anchor_day + 3) % 7) % 7
    cols["days_to_pay_wd"] = np.where(total[code] > 0, to_wd.astype(np.float64), np.nan)
    # the invoice's own part payments
    sel = np.flatnonzero(state.open_mask)
    last_piece = np.full(len(state.inv_code), -np.inf)
    pc_inv, pc_date = state.pc_inv, state.pc_date
    if state.pc_credit is not None:  # cash only (no copy of the arrays without credit memos)
        pc_inv, pc_date = pc_inv[~state.pc_credit], pc_date[~state.pc_credit]
    if len(pc_inv):
        np.maximum.at(last_piece, pc_inv, pc_date.astype(np.float64))
    lp = last_piece[sel]
    cols["days_since_part_paid"] = np.where(np.isfinite(lp), T - lp, np.nan)
    # recency-weighted lateness of the invoices settled in cash
    done = _cash_settled(state)
    dcode = icode[done]
    sday = state.inv_settled[done]
    late = sday - state.inv_due[done]
    count = np.bincount(dcode, minlength=n)
    for hl in HALF_LIVES:
        w = 0.5 ** ((T - sday) / hl)
        num = np.bincount(dcode, weights=w * late, minlength=n)
        den = np.bincount(dcode, weights=w, minlength=n)
        cols[f"late_hl{hl}"] = np.where(count > 0, num / np.where(den > 0, den, 1.0), np.nan)[code]
    last = _rank_in_group(dcode, -sday) == 0
    late_last = np.full(n, np.nan)
    late_last[dcode[last]] = late[last]
    day_last = np.full(n, np.nan)
    day_last[dcode[last]] = sday[last]
    cols["late_last"] = late_last[code]
    cols["days_since_settlement"] = T - day_last[code]
    big = log_amount[done] >= usual_amount[dcode]
    med_big = _group_median(dcode[big], late[big], n)
    med_small = _group_median(dcode[~big], late[~big], n)
    inv_big = cols["log_open_amount"] >= usual_amount[code]
    cols["late_similar_amount"] = np.where(inv_big, med_big[code], med_small[code])
    # the oldest other open invoice due before this one
    due = cols["due"].astype(np.float64)
    order = np.lexsort((due, code))
    c_sorted, d_sorted = code[order], due[order]
    first = np.r_[True, c_sorted[1:] != c_sorted[:-1]] if len(order) else np.zeros(0, dtype=bool)
    idx = np.arange(len(order))
    start = np.maximum.accumulate(np.where(first, idx, 0)) if len(order) else idx
    oldest_due = d_sorted[start]
    older = np.full(len(order), np.nan)
    has_older = d_sorted > oldest_due
    older[has_older] = T - oldest_due[has_older]
    out = np.empty(len(order))
    out[order] = older
    cols["older_open_max_dpd"] = out
    # the whole book's recent lateness against each payer's own median before the window
    cutoff = T - BOOK_SHIFT_DAYS
    before = sday <= cutoff
    med_before = _group_median(dcode[before], late[before], n)
    recent = ~before & ~np.isnan(med_before[dcode])
    resid = late[recent] - med_before[dcode[recent]]
    shift = float(np.median(resid)) if len(resid) else 0.0
    cols["book_shift"] = np.full(len(code), shift)
    seg = np.asarray(state.ledger.segment.codes, dtype=np.int64)  # -1: unknown
    seg_shift = np.full(max(int(seg.max(initial=-1)) + 1, 0) + 1, shift)  # last slot: unknown
    rseg = seg[dcode[recent]]
    for s_code in np.unique(rseg[rseg >= 0]):
        own = resid[rseg == s_code]
        if len(own) >= SEGMENT_SHIFT_MIN:
            seg_shift[s_code] = float(np.median(own))
    debtor_seg = seg[code]
    cols["segment_shift"] = seg_shift[np.where(debtor_seg >= 0, debtor_seg, len(seg_shift) - 1)]
    _due_state(state, cols, (30,))
    _due_pace(state, cols, STATE_WINDOWS)
    cols["shifted_usual_late"] = cols["debtor_late_median_last5"] + shift
    cols["open_excess_late"] = cols["dpd_current_max"] - cols["debtor_late_median_last5"]


def _due_state(state: LedgerState, cols: dict[str, np.ndarray], windows: tuple[int, ...]) -> None:
    """``due_excess_<W>`` and ``due_open_share_<W>`` for W in ``windows``, and with W = 60
    ``state_late_60`` (rows dated <= T only; :func:`open_invoices` for the shipped window 60,
    :func:`_candidates` for 30)."""
    T, n = state.T, state.n
    code = cols["code"]
    icode = state.inv_code.astype(np.int64)
    due = state.inv_due.astype(np.float64)
    cash = _cash_settled(state)
    open_ = state.open_mask
    so_far = np.where(open_, T - due, state.inv_settled - due)  # NaN: closed by a credit memo
    for w in windows:
        past = cash & (due <= T - w)
        usual = _group_median(icode[past], (state.inv_settled - due)[past], n)
        cohort = (cash | open_) & (due > T - w) & (due <= T)
        c = icode[cohort]
        excess = so_far[cohort] - np.minimum(usual[c], T - due[cohort])
        count = np.bincount(c, minlength=n).astype(np.float64)
        has = ~np.isnan(excess)
        k = np.bincount(c[has], minlength=n).astype(np.float64)
        total = np.bincount(c[has], weights=excess[has], minlength=n)
        n_open = np.bincount(c, weights=open_[cohort].astype(np.float64), minlength=n)
        cols[f"due_excess_{w}"] = np.where(k > 0, total / np.maximum(k, 1.0), np.nan)[code]
        cols[f"due_open_share_{w}"] = np.where(count > 0, n_open / np.maximum(count, 1.0), np.nan)[code]
    if 60 not in windows:
        return
    cols["state_late_60"] = cols["debtor_late_median_last5"] + np.nan_to_num(cols["due_excess_60"], nan=0.0)


def _due_pace(state: LedgerState, cols: dict[str, np.ndarray], windows: tuple[int, ...]) -> None:
    """``due_pace_<W>`` for W in ``windows`` (rows dated <= T only): over the debtor's invoices due in
    (T - W, T] settled in cash by T or open at T, the mean of settled by T (1 / 0) minus the share of
    its reference invoices, due in (T - W - :data:`PACE_REF_DAYS`, T - W] and settled in cash by T or
    open at T, whose lateness was at most T - due (a reference invoice open at T is later than W
    >= T - due days: it counts as not settled). Observed minus expected settlements against the
    debtor's own previous months: > 0 it now pays sooner than it did just before (an improvement
    shows before the usual lateness moves), < 0 later. NaN without window or reference invoices. An
    invoice a credit memo closed is left out."""
    T, n = state.T, state.n
    icode = state.inv_code.astype(np.int64)
    due = state.inv_due.astype(np.float64)
    cash = _cash_settled(state)
    kept = cash | state.open_mask
    late = np.where(cash, state.inv_settled - due, np.inf)  # open at T: later than any age <= W
    code = cols["code"]
    for w in windows:
        ref = kept & (due > T - w - PACE_REF_DAYS) & (due <= T - w)
        win = kept & (due > T - w) & (due <= T)
        c = icode[win]
        expected = _share_at_most(icode[ref], late[ref], c, T - due[win], n)
        diff = cash[win].astype(np.float64) - expected
        has = ~np.isnan(diff)
        k = np.bincount(c[has], minlength=n).astype(np.float64)
        total = np.bincount(c[has], weights=diff[has], minlength=n)
        cols[f"due_pace_{w}"] = np.where(k > 0, total / np.maximum(k, 1.0), np.nan)[code]


def _share_at_most(
    code: np.ndarray, values: np.ndarray, q_code: np.ndarray, q: np.ndarray, n: int
) -> np.ndarray:
    """Per query (``q_code``, ``q``): the share of group ``q_code``'s ``values`` that are <= ``q``
    (``values`` may be +inf; NaN for a group without values)."""
    count = np.bincount(code, minlength=n)
    start = np.cumsum(count) - count
    big = 1e7  # beyond any lateness or age in days; +inf stays above every query
    span = 4 * big
    keys = np.sort(code * span + np.clip(values, -big, big))
    below = np.searchsorted(keys, q_code * span + np.clip(q, -big, big - 1), side="right") - start[q_code]
    cnt = count[q_code]
    return np.where(cnt > 0, below / np.maximum(cnt, 1), np.nan)


def open_invoices(ledger: Ledger, state: LedgerState, candidates: bool = False) -> pd.DataFrame:
    """The invoices open at ``state.T`` with their features, one row each, in ledger order.

    Columns: ``pos`` (sorted ledger position), ``code`` (debtor code), ``due`` (due day), then
    :data:`INVOICE_FEATURES` and :data:`DEBTOR_FEATURES` (float64).
    """
    T = state.T
    sel = np.flatnonzero(state.open_mask)
    code = state.inv_code[sel].astype(np.int64)
    due = state.inv_due[sel].astype(np.int64)
    issue = state.inv_issue[sel].astype(np.int64)
    amount = state.inv_amount[sel].astype(np.float64)
    remaining = state.inv_remaining[sel].astype(np.float64)
    cols: dict[str, np.ndarray] = {
        "pos": global_positions(state)[sel],
        "code": code,
        "due": due,
        "open_amount": remaining,
        "log_open_amount": np.log1p(remaining),
        "age_days": (T - issue).astype(np.float64),
        "days_to_due": (due - T).astype(np.float64),
        "terms_days": (due - issue).astype(np.float64),
        "disputed": state.inv_disputed[sel].astype(np.float64),
        "share_paid": np.where(amount > 0, 1.0 - remaining / np.where(amount > 0, amount, 1.0), 0.0),
    }
    lateness = _lateness(state)
    cols["debtor_mean_lateness"] = lateness["mean"][code]
    cols["debtor_std_lateness"] = lateness["std"][code]
    cols["debtor_early_share"] = lateness["early_share"][code]
    cols["debtor_settled_count"] = lateness["count"][code]
    cols["days_to_usual"] = cols["days_to_due"] + np.nan_to_num(cols["debtor_mean_lateness"], nan=0.0)
    for name in DEBTOR_FEATURES:
        cols[name] = debtor_feature(state, name)[code]  # computed once per state (the PD's features)
    _recent_lateness(state, cols)
    _due_state(state, cols, (60,))
    if candidates:
        _candidates(state, cols)
    return pd.DataFrame(cols)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row of each period, period index k) for ``counts[i]`` periods of row i."""
    counts = np.asarray(counts, dtype=np.int64)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, counts)
    return rows, k


def period_rows(
    inv: pd.DataFrame, T: int, counts: np.ndarray | int, ends: np.ndarray | None = None
) -> pd.DataFrame:
    """Model input rows: ``counts[i]`` periods (k = 0..counts[i]-1) of open invoice ``inv`` row i,
    columns :data:`FEATURES` (float32), plus ``row`` (the position in ``inv``). ``ends``: the
    periods' end days (:func:`period_ends` with a fine grid; then also :data:`GRID_FEATURES`); without
    it, weeks."""
    if np.isscalar(counts):
        counts = np.full(len(inv), int(counts), dtype=np.int64)
    rows, k = _expand(np.asarray(counts))
    out = {"row": rows}
    for name in INVOICE_FEATURES + DEBTOR_FEATURES + STATE_FEATURES + CANDIDATE_FEATURES:
        if name in inv:
            out[name] = inv[name].to_numpy(dtype=np.float32)[rows]
    if ends is None:
        end = PERIOD_DAYS * (k + 1)
    else:
        end = ends[rows, k].astype(np.int64)
        start = np.where(k > 0, ends[rows, np.maximum(k - 1, 0)], 0).astype(np.int64)
    dpd = (T + end - inv["due"].to_numpy(dtype=np.int64)[rows]).astype(np.float32)
    out["period"] = k.astype(np.float32)
    out["dpd_at_period_end"] = dpd
    for name, source in GAP_FEATURES.items():
        if source in out:
            out[name] = dpd - out[source]
    if ends is not None:
        out["period_days"] = (end - start).astype(np.float32)
        out["period_end_day"] = end.astype(np.float32)
    return pd.DataFrame(out)


def person_periods(
    inv: pd.DataFrame,
    T: int,
    settled: np.ndarray,
    cut: int,
    horizon: int,
    grid: FineGrid | None = None,
    memo: np.ndarray | None = None,
    memos: str = "censor",
) -> pd.DataFrame:
    """Training rows of the invoices ``inv`` open at T (from :func:`open_invoices`).

    ``settled``: settlement day per sorted ledger position judged at ``cut`` (:func:`settlement_days`);
    ``cut`` >= T: the training cut; ``horizon``: most weeks per invoice; ``grid``: finer periods
    around the due date (:func:`period_ends`), else weeks. Returns :func:`period_rows` with ``label``
    (int8: 1 in the period of settlement), ``T`` and ``settled_day`` (int16: the settlement day after
    T in the row of settlement, 0 elsewhere; ``models.paydate.fit_day_shape``). Periods not fully observed by ``cut`` are left
    out (censoring); an invoice open at ``cut`` contributes only zeros.

    ``memo``: per sorted ledger position, closed by a credit memo (:func:`settlements`; None: none
    was); ``memos``: how such an invoice counts (:data:`MEMO_RULES`): ``censor`` keeps its periods that
    end before the memo's day, all 0 (it was not paid in cash; when it would have been is unknown).
    """
    if cut < T:
        raise ValueError(f"training cut {cut} is before the snapshot {T}")
    if memos not in MEMO_RULES:
        raise ValueError(f"unknown memo rule {memos!r}; expected one of {MEMO_RULES}")
    s = settled[inv["pos"].to_numpy(dtype=np.int64)]
    credited = None
    if memo is not None and memos != "settle":
        credited = (
            memo[inv["pos"].to_numpy(dtype=np.int64)] & ~np.isnan(s) & (np.nan_to_num(s, nan=-np.inf) > T)
        )
        if memos == "open":  # never settled: open to the cut, as an invoice nobody paid
            s = np.where(credited, np.nan, s)
            credited = None
        elif not credited.any():
            credited = None
    paid = ~np.isnan(s) & (np.nan_to_num(s, nan=-np.inf) > T)
    ends = None
    if grid is None:
        observed = min(horizon, (cut - T) // PERIOD_DAYS)
        week = np.where(paid, (np.nan_to_num(s, nan=T + 1) - T - 1) // PERIOD_DAYS, observed).astype(np.int64)
    else:
        ends = period_ends(grid.anchor_days(inv), horizon, grid)
        observed = (ends <= cut - T).sum(axis=1)
        after = np.nan_to_num(s, nan=T + 1) - T  # settlement day after T (>= 1 when paid)
        week = np.where(paid, (ends < after[:, None]).sum(axis=1), observed).astype(np.int64)
    event = paid & (week < observed)
    counts = np.where(event, week + 1, observed)
    if credited is not None:  # censored at the memo: the periods before the one holding its day
        event &= ~credited
        counts = np.where(credited & (week < observed), week, counts)
    rows = period_rows(inv, T, counts, ends)
    r = rows["row"].to_numpy()
    label = (event[r] & (rows["period"].to_numpy() == week[r])).astype(np.int8)
    rows["label"] = label
    rows["T"] = np.int64(T)
    rows["settled_day"] = np.where(label == 1, np.nan_to_num(s, nan=T)[r] - T, 0).astype(np.int16)
    return rows


def _sample(n: int, limit: int | None, seed: int, T: int) -> np.ndarray:
    """Rows kept of ``n`` open invoices: all, or a seeded uniform sample of ``limit``."""
    if limit is None or n <= limit:
        return np.arange(n)
    rng = np.random.default_rng([seed, T & 0x7FFFFFFF])
    return np.sort(rng.choice(n, size=limit, replace=False))


def training_rows(
    ledger: Ledger,
    snapshots: list[int],
    cut: int,
    horizon: int,
    max_invoices: int | None = None,
    seed: int = 7,
    candidates: bool = False,
    grid: FineGrid | None = None,
    memos: str = "censor",
) -> pd.DataFrame:
    """Person-period rows of every snapshot T in ``snapshots`` (days, each <= ``cut``), judged from
    rows dated <= ``cut`` only. ``max_invoices``: at most that many open invoices per snapshot
    (a seeded uniform sample; the hazard stays unbiased); ``grid``, ``memos``: :func:`person_periods`."""
    return _window(ledger, snapshots, cut, horizon, max_invoices, seed, candidates, grid, memos, False)[0]


def training_window(
    ledger: Ledger,
    snapshots: list[int],
    cut: int,
    horizon: int,
    max_invoices: int | None = None,
    seed: int = 7,
    candidates: bool = False,
    grid: FineGrid | None = None,
    memos: str = "censor",
) -> tuple[pd.DataFrame, tuple[float, float]]:
    """``(training_rows(...), memo_share(...))`` of one window, from one ledger state per snapshot
    and one at the cut (each built once, not once per function)."""
    return _window(ledger, snapshots, cut, horizon, max_invoices, seed, candidates, grid, memos, True)


def _window(
    ledger: Ledger,
    snapshots: list[int],
    cut: int,
    horizon: int,
    max_invoices: int | None,
    seed: int,
    candidates: bool,
    grid: FineGrid | None,
    memos: str,
    with_memo_share: bool,
) -> tuple[pd.DataFrame, tuple[float, float]]:
    state_cut = ledger_state(ledger, cut)
    settled, memo = _settlements(ledger, state_cut)
    pieces = _memo_pieces(state_cut) if with_memo_share and ledger.pay_credit is not None else None
    del state_cut
    credited = closed = 0.0
    frames = []
    for T in snapshots:
        if cut < T:
            raise ValueError(f"snapshot {T} is after the training cut {cut}")
        state = ledger_state(ledger, T)
        inv = open_invoices(ledger, state, candidates)
        inv = inv.iloc[_sample(len(inv), max_invoices, seed, T)].reset_index(drop=True)
        frames.append(person_periods(inv, T, settled, cut, horizon, grid, memo, memos))
        if pieces is not None:
            c, o = _memo_sums(ledger, state, settled, pieces, horizon)
            credited += c
            closed += o
    if not frames:
        rows = period_rows(
            pd.DataFrame(columns=["due", *INVOICE_FEATURES, *DEBTOR_FEATURES, *STATE_FEATURES[:3]]), 0, 0
        )
    else:
        rows = pd.concat(frames, ignore_index=True)
    return rows, (credited, closed)


def evaluation_invoices(
    ledger: Ledger, T: int, until: int, horizon: int, candidates: bool = False
) -> pd.DataFrame:
    """The invoices open at T (:func:`open_invoices`) with ``actual_days``: days from T to their
    settlement in cash judged from rows dated <= ``until``, NaN when not settled within ``horizon`` weeks
    (``until`` must be at least T + 7 * horizon, so that NaN means "not paid in the horizon") or
    closed by a credit memo (never paid in cash).

    In a book with credit memos also ``closed_days`` (days from T to the closing, by cash or memo,
    NaN while open) and ``cash_amount`` (the open amount at T less the memos dated after T within the
    horizon: the cash the invoice brought; ``models.paydate.actual_cash`` counts it in the week of
    ``closed_days``); without memos neither column is added (both would equal ``actual_days`` and
    ``open_amount``)."""
    if until < T + PERIOD_DAYS * horizon:
        raise ValueError(f"evaluation at {T} needs data up to {T + PERIOD_DAYS * horizon}, has {until}")
    inv = open_invoices(ledger, ledger_state(ledger, T), candidates)
    pos = inv["pos"].to_numpy(dtype=np.int64)
    end = T + PERIOD_DAYS * horizon
    s, memo = settlements(ledger, end)
    s = s[pos]
    inv["actual_days"] = s - T
    if memo is not None:
        inv["closed_days"] = s - T
        inv["actual_days"] = np.where(memo[pos], np.nan, s - T)
        cash = inv["open_amount"].to_numpy(dtype=np.float64) - memo_after(ledger, T, end)[pos]
        # to the thousandth, the ledger's unit (features.ledger.MILLS): a 3-decimal currency keeps it
        inv["cash_amount"] = np.maximum(np.round(cash, 3), 0.0)
    return inv
