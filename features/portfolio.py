"""Portfolio figures for the report: receivables aging and DSO at month-ends, expected loss by group.

Everything comes from the ledger state at each date T (``features.ledger.ledger_state``: rows dated
<= T only), so a month-end figure is what the book showed on that day. :func:`portfolio_bucket`
computes, for one debtor bucket, the *additive* parts (amounts summed over debtors); the buckets'
parts are summed with :func:`combine_parts` (a local loop or Dask maps the bucket function, as for
features), and only then turned into ratios by :func:`dso_table` and :func:`aging_table`.

Definitions (amounts in the ledger's one currency; receivables = the open, unpaid amount of the
invoices issued by T, gross: unapplied cash on account is not netted):

- **Standard DSO** at T = receivables(T) / credit sales over (T - N, T] x N, with N =
  ``window_days`` (default 90) and credit sales = the amounts of the invoices issued in the window.
- **Countback DSO** at T: walk back period by period through credit sales until the receivables
  are used up. The first period is the month of T up to T (a whole month when T is a month-end),
  then the whole calendar months before it. While the receivables left exceed a period's sales,
  take that period's days and subtract its sales; in the period where they do not, take the
  fraction receivables left / sales x its days, and stop. When sales run out first (``max_months``
  periods, or no earlier sales), the days counted so far are a lower bound (``countback_capped``).
- **Aging**: the open amount of every open invoice at T by days past due (T - due date):
  current (not yet due), 1-30, 31-60, 61-90, 91-180, >180.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.ledger import (
    MILLS,
    Ledger,
    LedgerState,
    _mills,
    day_number,
    group_cumsum,
    ledger_state,
    prepare_ledger,
)
from features.master import attributes_at
from features.tables import Portfolio

__all__ = [
    "AGING_BUCKETS",
    "PortfolioParts",
    "aging_table",
    "combine_parts",
    "countback_dso",
    "dso_table",
    "expected_loss_by",
    "ledger_parts",
    "open_mills_walk",
    "over_limit_days",
    "over_limit_on",
    "portfolio_bucket",
    "report_dates",
    "standard_dso",
]

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "91-180", ">180")
_AGING_EDGES = np.array([0, 30, 60, 90, 180])  # upper bounds (inclusive) of the buckets but the last


@dataclass(frozen=True)
class PortfolioParts:
    """Additive portfolio sums of a set of debtors (one bucket, or the whole book once combined).

    ``at``: one row per date T (index ``date``): ``receivables``, the open amount per aging bucket
    (columns :data:`AGING_BUCKETS`), ``open_invoices`` (count) and ``sales_window`` (amounts
    issued in (T - window, T]). ``monthly_sales``: the amounts issued per calendar month (index:
    month start), invoices issued up to the last date only. ``open_items``: the open invoices at the
    last date of the debtors asked for (``ids``), one row per invoice. ``limits``: ``credit_limit``
    valid at the last date for those debtors (``debtor_history``, else the debtors table; index
    debtor_id, NaN when unknown).
    """

    at: pd.DataFrame
    monthly_sales: pd.Series
    open_items: pd.DataFrame
    limits: pd.Series


def report_dates(as_of: pd.Timestamp, months: int = 12) -> list[pd.Timestamp]:
    """The last ``months`` month-ends on or before ``as_of``, then ``as_of`` itself (ascending, distinct)."""
    as_of = pd.Timestamp(as_of).normalize()
    last = as_of if as_of.is_month_end else (as_of - pd.offsets.MonthEnd(1))
    ends = pd.date_range(end=last, periods=months, freq="ME")
    return sorted({*ends, as_of})


def _aging_index(dpd: np.ndarray) -> np.ndarray:
    """Aging bucket (0..5 in :data:`AGING_BUCKETS` order) of each days-past-due value (<= 0: current)."""
    return np.searchsorted(_AGING_EDGES, dpd, side="left")


_OPEN_ITEM_COLUMNS = {
    "debtor_id": "string",
    "invoice_id": "string",
    "issue_date": "datetime64[ns]",
    "due_date": "datetime64[ns]",
    "amount": "float64",
    "open_amount": "float64",
    "dpd": "int64",
    "disputed": "bool",
}


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("int64").astype("datetime64[D]").astype("datetime64[ns]")


def _open_items(ledger: Ledger, state: LedgerState | None, codes: np.ndarray) -> pd.DataFrame:
    if state is None or not len(codes) or ledger.invoice_ids is None:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in _OPEN_ITEM_COLUMNS.items()})
    wanted = np.zeros(ledger.n, dtype=bool)
    wanted[codes] = True
    sel = np.flatnonzero(state.open_mask & wanted[state.inv_code])
    pos = sel if state.inv_rows is None else state.inv_rows[sel]
    ids = pc.take(ledger.invoice_ids, pa.array(ledger.inv_row[pos]))
    return pd.DataFrame(
        {
            "debtor_id": pd.array(ledger.debtor_ids[state.inv_code[sel]], dtype="string"),
            "invoice_id": pd.array(ids, dtype="string"),
            "issue_date": _dates(state.inv_issue[sel]),
            "due_date": _dates(state.inv_due[sel]),
            "amount": state.inv_amount[sel],
            "open_amount": state.inv_remaining[sel],
            "dpd": (state.T - state.inv_due[sel].astype("int64")),
            "disputed": state.inv_disputed[sel].astype(bool),
        }
    )


def portfolio_bucket(
    portfolio: Portfolio,
    dates: list[pd.Timestamp],
    window_days: int = 90,
    ids: pd.Index | None = None,
) -> PortfolioParts:
    """The additive portfolio sums of one bucket's debtors at each of ``dates`` (ascending).

    One ledger state per date, from rows dated <= that date only. ``ids``: debtors whose open
    invoices at the last date (and credit limit) are wanted (e.g. the watchlist); others ignored.
    """
    return ledger_parts(prepare_ledger(portfolio), dates, window_days, ids)


def ledger_parts(
    ledger: Ledger,
    dates: list[pd.Timestamp],
    window_days: int = 90,
    ids: pd.Index | None = None,
) -> PortfolioParts:
    """:func:`portfolio_bucket` from a prepared ledger (``features.ledger.prepare_ledger``), so that
    the scoring pass, which prepares each bucket's ledger anyway, computes the figures without a
    second read. The sums of every date come from one walk of the ledger (:func:`open_mills_walk`),
    not one ledger state per date; only the open items of ``ids`` read the state at the last date."""
    dates = sorted({pd.Timestamp(d).normalize() for d in dates})
    if not dates:
        raise ValueError("no date given for the portfolio figures")
    days = [int(day_number(t)) for t in dates]
    if _walkable(ledger):
        walk = open_mills_walk(ledger, days)
    else:  # negative amounts: the waterfall of ledger_state decides; one state per date
        walk = (_state_mills(ledger_state(ledger, T)) for T in days)
    rows = []
    for t, T, (issued, remaining_mills) in zip(dates, days, walk, strict=True):
        remaining_all = remaining_mills / MILLS
        open_ = remaining_mills > 0
        remaining = remaining_all[open_]
        due = _pick(ledger.inv_due, issued)
        dpd = T - due[open_].astype(np.int64)
        by_bucket = np.bincount(_aging_index(dpd), weights=remaining, minlength=len(AGING_BUCKETS))
        issue = _pick(ledger.inv_issue, issued)
        window = (issue > T - window_days) & (issue <= T)
        rows.append(
            {
                "date": t,
                "receivables": float(remaining.sum()),
                **{name: float(v) for name, v in zip(AGING_BUCKETS, by_bucket, strict=True)},
                "open_invoices": int(open_.sum()),
                "sales_window": float(_pick(ledger.inv_amount, issued)[window].sum()),
            }
        )
    at = pd.DataFrame(rows).set_index("date")
    issued_last = ledger.inv_issue <= days[-1]
    months = pd.Series(
        ledger.inv_issue[issued_last].astype("int64").astype("datetime64[D]").astype("datetime64[M]")
    )
    monthly = (
        pd.Series(ledger.inv_amount[issued_last]).groupby(months.to_numpy().astype("datetime64[ns]")).sum()
        if issued_last.any()
        else pd.Series([], dtype="float64")
    )
    codes = np.zeros(0, dtype=np.int64)
    if ids is not None and len(ids) and ledger.n:
        found = ledger.debtor_ids.get_indexer(pd.Index(ids, dtype="string"))
        codes = found[found >= 0]
    if len(codes) and ledger.invoice_ids is not None:
        items = _open_items(ledger, ledger_state(ledger, days[-1]), codes)  # the state at the last date
    else:
        items = _open_items(ledger, None, np.zeros(0, dtype=np.int64))
    # the limit valid at the last date (debtor_history, features.master), not the snapshot's: a report
    # of a backfill read the debtors table's latest limit
    limits = pd.Series(
        attributes_at(ledger, days[-1]).credit_limit[codes],
        index=pd.Index(ledger.debtor_ids[codes], name="debtor_id"),
        name="credit_limit",
    )
    return PortfolioParts(at=at, monthly_sales=monthly.astype("float64"), open_items=items, limits=limits)


def _pick(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return values if rows is None else values[rows]


def _walkable(ledger: Ledger) -> bool:
    """No negative invoice or payment amount (the walk's per-debtor cash pool assumes none)."""
    return not (ledger.inv_amount < 0).any() and not (ledger.pay_amount < 0).any()


def _state_mills(state: LedgerState) -> tuple[np.ndarray | None, np.ndarray]:
    return state.inv_rows, np.rint(state.inv_remaining * MILLS).astype(np.int64)


def open_mills_walk(ledger: Ledger, days: list[int]) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
    """The open amount of every invoice at each day T of ``days`` (ascending), from one walk of the ledger.

    Yields, per T, ``(issued, remaining)``: the ledger positions of the invoices issued by T (None:
    all of them) and their unpaid amount at T in integer thousandths (``features.ledger.MILLS``), in ledger order, equal to
    ``features.ledger.ledger_state(ledger, T)``'s ``inv_rows`` and ``inv_remaining`` x 1000. Each payment
    is visited once, at the first date it counts for; per date only vectors of the invoices' length
    are updated, so 13 dates cost about one ledger state.

    How ``ledger_state`` settles invoices, and why this equals it: a payment naming an invoice of its
    debtor (``pay_inv``) is applied to that invoice from the latest of its payment day, its
    ``allocated_on`` day (``ledger.pay_alloc``) and the invoice's issue day on; before that (and every payment naming none) it is cash the debtor's open
    invoices take oldest first (``features.ledger.waterfall``). Invoices issued by T are a prefix of
    each debtor's invoices in ledger order (ordered by issue day), so the waterfall gives invoice i
    ``clip(U - C, 0, cap_i)`` with ``cap_i`` = its amount less the payments applied to it (>= 0),
    ``C`` the caps of the debtor's earlier invoices and ``U`` the debtor's unapplied cash at T.
    Requires non-negative amounts (:func:`ledger_parts` uses ledger states otherwise).
    """
    n, n_inv = ledger.n, len(ledger.inv_code)
    bounds = np.asarray(days, dtype=np.int64)
    mills = _mills(ledger.inv_amount)
    pay_mills = _mills(ledger.pay_amount)
    pay_inv = np.asarray(ledger.pay_inv, dtype=np.int64)
    named = pay_inv >= 0
    # the day from which a named payment is applied to its invoice
    applied_from = np.asarray(
        ledger.pay_date if ledger.pay_alloc is None else ledger.pay_alloc, dtype=np.int64
    )
    applied_from = applied_from.copy()
    applied_from[named] = np.maximum(applied_from[named], ledger.inv_issue[pay_inv[named]])
    paid_step = np.searchsorted(bounds, ledger.pay_date, side="left")  # first date index it counts at
    applied_step = np.searchsorted(bounds, applied_from, side="left")
    # named payments: into the invoice at applied_step; cash on account from paid_step until then
    a_rows = np.flatnonzero(named)
    u_rows = np.flatnonzero(~named | (paid_step < applied_step))
    back = np.flatnonzero(named & (paid_step < applied_step))  # leave the cash pool at applied_step
    a_order = a_rows[np.argsort(applied_step[a_rows], kind="stable")]
    a_cuts = np.searchsorted(applied_step[a_order], np.arange(len(bounds) + 1), side="left")
    u_order = u_rows[np.argsort(paid_step[u_rows], kind="stable")]
    u_cuts = np.searchsorted(paid_step[u_order], np.arange(len(bounds) + 1), side="left")
    b_order = back[np.argsort(applied_step[back], kind="stable")]
    b_cuts = np.searchsorted(applied_step[b_order], np.arange(len(bounds) + 1), side="left")

    applied = np.zeros(n_inv, dtype=np.int64)
    pool = np.zeros(n, dtype=np.int64)
    inv_code = ledger.inv_code
    for k, T in enumerate(days):
        a = a_order[a_cuts[k] : a_cuts[k + 1]]
        if len(a):
            applied += np.bincount(pay_inv[a], weights=pay_mills[a], minlength=n_inv).astype(np.int64)
        u = u_order[u_cuts[k] : u_cuts[k + 1]]
        if len(u):
            pool += np.bincount(ledger.pay_code[u], weights=pay_mills[u], minlength=n).astype(np.int64)
        b = b_order[b_cuts[k] : b_cuts[k + 1]]
        if len(b):
            pool -= np.bincount(ledger.pay_code[b], weights=pay_mills[b], minlength=n).astype(np.int64)
        issued_mask = ledger.inv_issue <= T
        issued = None if issued_mask.all() else np.flatnonzero(issued_mask)
        code = _pick(inv_code, issued)
        cap = np.maximum(_pick(mills, issued) - _pick(applied, issued), 0)
        before = group_cumsum(code, cap) - cap  # caps of the debtor's earlier invoices
        taken = np.clip(pool[code] - before, 0, cap)
        yield issued, cap - taken


def over_limit_on(
    ledger: Ledger, days: list[int], margin: float = 0.0, min_excess: float = 0.0
) -> np.ndarray:
    """The last day of ``days`` (ascending int days since the epoch) at which each debtor's open balance
    was over its limit (:func:`over_limit_days`); -1 where it never was, or has no positive limit.
    Int64, one per debtor code (``ledger.debtor_ids``). The ``limit_breach`` trigger's memory from the
    ledger (``pipelines.scoring.watchlist``)."""
    over = over_limit_days(ledger, days, margin, min_excess)
    last = np.full(ledger.n, -1, dtype=np.int64)
    for j, T in enumerate(days):
        last[over[:, j]] = T
    return last


def over_limit_days(
    ledger: Ledger, days: list[int], margin: float = 0.0, min_excess: float = 0.0
) -> np.ndarray:
    """Per debtor code (``ledger.debtor_ids``) and day of ``days`` (ascending int days since the epoch):
    was its open balance (the ``open_balance`` feature at that day: invoices and payments dated on or
    before it only) above its credit limit valid on that day (``debtor_history``, else the debtors
    table: ``features.master.attributes_at``) x (1 + ``margin``) by more than ``min_excess``? False
    without a positive limit. One walk of the ledger for every day (:func:`open_mills_walk`; one
    ledger state per day with negative amounts). Bool, shape (debtors, days)."""
    over = np.zeros((ledger.n, len(days)), dtype=bool)
    if not days or not ledger.n or not len(ledger.inv_code) or not _has_limits(ledger):  # nobody can be over
        return over
    for j, (T, balance) in enumerate(zip(days, _invoice_balances(ledger, days), strict=True)):
        limit = attributes_at(ledger, T).credit_limit
        with np.errstate(invalid="ignore"):
            over[:, j] = (limit > 0) & (balance - limit * (1 + margin) > min_excess)
    return over


def _has_limits(ledger: Ledger) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(
            (ledger.credit_limit > 0).any() or (ledger.master is not None and (ledger.master.limit > 0).any())
        )


def _invoice_balances(ledger: Ledger, days: list[int]) -> Iterator[np.ndarray]:
    """Per day of ``days`` (ascending), each debtor code's open invoice balance (the ``open_balance`` feature
    at that day), from one walk of the ledger."""
    if _walkable(ledger):
        walk = open_mills_walk(ledger, days)
    else:
        walk = (_state_mills(ledger_state(ledger, T)) for T in days)
    for issued, remaining_mills in walk:
        yield np.bincount(_pick(ledger.inv_code, issued), weights=remaining_mills, minlength=ledger.n) / MILLS


def _statement_balances(ledger: Ledger, statements: pd.DataFrame, days: list[int]) -> Iterator[np.ndarray]:
    """Per day of ``days``, each debtor code's latest statement's balance dated on or before it (NaN without
    one)."""
    rows = statements.loc[statements["balance"].notna(), ["debtor_id", "period_end", "balance"]]
    code = pd.Index(ledger.debtor_ids, dtype="string").get_indexer(rows["debtor_id"].astype("string"))
    day = pd.to_datetime(rows["period_end"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    keep = code >= 0
    order = np.lexsort((day[keep], code[keep]))
    code, day = code[keep][order], day[keep][order]
    balance = rows["balance"].to_numpy(dtype="float64")[keep][order]
    next_same = np.r_[code[1:] == code[:-1], False]  # rows sorted by debtor, then date
    for T in days:
        dated = day <= T  # a prefix of each debtor's rows: its last row is its latest statement by T
        latest = np.flatnonzero(dated & ~(next_same & np.r_[dated[1:], False]))
        now = np.full(ledger.n, np.nan)
        now[code[latest]] = balance[latest]
        yield now


def statement_over_limit_days(
    ledger: Ledger, statements: pd.DataFrame, days: list[int], margin: float = 0.0, min_excess: float = 0.0
) -> np.ndarray:
    """:func:`over_limit_days` of a book with statements: per debtor code (``ledger.debtor_ids``) and day of
    ``days`` (ascending int days since the epoch), was the balance of its latest statement dated on or
    before that day (``period_end``) above its credit limit valid on that day (``debtor_history``, else
    the debtors table, as for an invoice ledger) x (1 + ``margin``) by more than ``min_excess``? False
    without a statement by then or without a positive limit. ``statements``: the canonical table (any
    order). Bool, shape (debtors, days). Before session 34 a statements book had no such memory: the
    ``limit_breach`` trigger took every debtor over its limit on a new output folder's second night for
    a new breach (189 of 1,500 debtors, s34-walk). A ledger with invoices too (a mixed book): its open invoice
    balance plus the latest statement's balance (clipped at 0), e.g. invoices 6,000.00 open and a statement of
    5,000.00 against a limit of 10,000.00: over."""
    over = np.zeros((ledger.n, len(days)), dtype=bool)
    if not days or not ledger.n or statements is None or statements.empty:
        return over
    if len(ledger.inv_code):
        # a book with invoices and statements: a debtor's two accounts add up, as tonight's exposure reads them
        # (pipelines.scoring.score.mixed_exposure: open invoices + the latest statement's balance clipped at 0).
        # Before session 40 such a book read its invoices alone at the month-ends (a statements-only debtor
        # was never over), unless the debtors read held no invoice
        both = zip(
            _invoice_balances(ledger, days), _statement_balances(ledger, statements, days), strict=True
        )
        balances = (inv + np.nan_to_num(np.clip(st, 0.0, None), nan=0.0) for inv, st in both)
    else:
        balances = _statement_balances(ledger, statements, days)
    for j, (T, now) in enumerate(zip(days, balances, strict=True)):
        limit = attributes_at(ledger, T).credit_limit
        with np.errstate(invalid="ignore"):
            over[:, j] = (limit > 0) & (now - limit * (1 + margin) > min_excess)
    return over


def combine_parts(parts: list[PortfolioParts]) -> PortfolioParts:
    """The sum of disjoint buckets' parts (identical to one :func:`portfolio_bucket` over all their rows)."""
    if not parts:
        raise ValueError("no debtor bucket: nothing to sum")
    ats = [p.at for p in parts if not p.at.empty]
    at = ats[0] if len(ats) == 1 else pd.concat(ats).groupby(level=0).sum() if ats else parts[0].at
    sales = [p.monthly_sales for p in parts if len(p.monthly_sales)]
    monthly = pd.concat(sales).groupby(level=0).sum().sort_index() if sales else parts[0].monthly_sales
    items = pd.concat([p.open_items for p in parts], ignore_index=True)
    items = items.sort_values(["debtor_id", "due_date", "invoice_id"], kind="stable", ignore_index=True)
    limits = pd.concat([p.limits for p in parts]).sort_index(kind="stable")
    if "open_invoices" in at:
        at = at.astype({"open_invoices": "int64"})
    return PortfolioParts(at=at, monthly_sales=monthly, open_items=items, limits=limits)


def standard_dso(receivables: np.ndarray, sales_window: np.ndarray, window_days: int) -> np.ndarray:
    """Receivables / credit sales of the last ``window_days`` days x ``window_days`` (days; NaN without sales)."""
    receivables = np.asarray(receivables, dtype="float64")
    sales = np.asarray(sales_window, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sales > 0, receivables / sales * window_days, np.nan)


def _periods(t: pd.Timestamp, max_months: int) -> list[tuple[pd.Timestamp, int]]:
    """(month start, days) of the countback periods of T, latest first: the month of T up to T, then
    whole months."""
    start = t.to_period("M").start_time
    out = [(start, (t - start).days + 1)]
    for _ in range(max_months - 1):
        start = (start - pd.offsets.MonthBegin(1)).normalize()
        out.append((start, start.days_in_month))
    return out


def countback_dso(
    receivables: float, t: pd.Timestamp, monthly_sales: pd.Series, max_months: int = 24
) -> tuple[float, bool]:
    """(countback DSO at ``t`` in days, capped) from the receivables at ``t`` and the credit sales per
    calendar month (index: month start; the month of ``t`` holds sales up to ``t`` only).

    ``capped``: sales ran out before the receivables (no earlier sales, or ``max_months`` periods):
    the days are then a lower bound. NaN when there are no receivables and no sales at all.
    """
    t = pd.Timestamp(t).normalize()
    left, days = float(receivables), 0.0
    if left <= 0:
        return 0.0, False
    first = monthly_sales.index.min() if len(monthly_sales) else None
    for start, length in _periods(t, max_months):
        if first is None or start < first.to_period("M").start_time:
            return days, True
        sales = float(monthly_sales.get(start, 0.0))
        if left <= sales:
            return days + left / sales * length, False
        days += length
        left -= sales
    return days, True


def dso_table(parts: PortfolioParts, window_days: int = 90, max_months: int = 24) -> pd.DataFrame:
    """Per date: ``receivables``, ``sales_window``, ``dso_standard``, ``dso_countback``, ``countback_capped``."""
    at = parts.at
    out = pd.DataFrame(index=at.index)
    out["receivables"] = at["receivables"]
    out["sales_window"] = at["sales_window"]
    out["dso_standard"] = standard_dso(at["receivables"], at["sales_window"], window_days)
    cb = [countback_dso(r, t, parts.monthly_sales, max_months) for t, r in at["receivables"].items()]
    out["dso_countback"] = [d for d, _ in cb]
    out["countback_capped"] = [c for _, c in cb]
    return out


def aging_table(parts: PortfolioParts) -> pd.DataFrame:
    """Per date: the open amount per aging bucket, ``receivables`` and each bucket's share of it."""
    at = parts.at
    out = at[list(AGING_BUCKETS)].copy()
    out["receivables"] = at["receivables"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in AGING_BUCKETS:
            out[f"share_{name}"] = np.where(at["receivables"] > 0, at[name] / at["receivables"], np.nan)
    return out


def expected_loss_by(frame: pd.DataFrame, by: str, order: list[str] | None = None) -> pd.DataFrame:
    """Expected loss PD x EAD x LGD summed per ``by`` (e.g. band, segment).

    ``frame``: one row per debtor with ``pd`` (1.0 in default), ``exposure`` (EAD, currency,
    negative taken as 0) and ``lgd`` (share). Returns per group ``debtors`` (int), ``exposure``,
    ``expected_loss``, ``el_rate`` (expected loss / exposure) and ``mean_pd``, plus a ``total`` row;
    groups in ``order`` first (empty ones kept), others after, sorted.
    """
    exposure = frame["exposure"].astype("float64").fillna(0.0).clip(lower=0.0)
    el = frame["pd"].astype("float64") * exposure * frame["lgd"].astype("float64")
    keys = frame[by].astype("string").fillna("(none)")
    work = pd.DataFrame({"key": keys, "pd": frame["pd"].astype("float64"), "exposure": exposure, "el": el})
    g = work.groupby("key", sort=True)
    out = pd.DataFrame(
        {
            "debtors": g.size().astype("int64"),
            "exposure": g["exposure"].sum(),
            "expected_loss": g["el"].sum(),
            "mean_pd": g["pd"].mean(),
        }
    )
    if order is not None:
        rest = [k for k in out.index if k not in order]
        out = out.reindex([*order, *rest])
        out["debtors"] = out["debtors"].fillna(0).astype("int64")
        out[["exposure", "expected_loss"]] = out[["exposure", "expected_loss"]].fillna(0.0)
    total = pd.DataFrame(
        {
            "debtors": [int(len(work))],
            "exposure": [float(exposure.sum())],
            "expected_loss": [float(el.sum())],
            "mean_pd": [float(work["pd"].mean()) if len(work) else np.nan],
        },
        index=["total"],
    )
    out = pd.concat([out, total])
    out.index.name = by
    with np.errstate(divide="ignore", invalid="ignore"):
        out["el_rate"] = np.where(out["exposure"] > 0, out["expected_loss"] / out["exposure"], np.nan)
    return out


def statement_parts(
    statements: pd.DataFrame, dates: list[pd.Timestamp], window_days: int = 90, ids: pd.Index | None = None
) -> PortfolioParts:
    """:class:`PortfolioParts` of a statements book (no invoices) at each of ``dates``, from each
    debtor's latest statement on or before the date (statements older than 45 days before it count
    no more: the account has left the book):

    - ``receivables`` = the balances (negative balances, credits owed to the debtor, count 0), each
      in the aging bucket of its statement's days past due; ``open_invoices`` = accounts with a
      balance;
    - ``sales_window`` and ``monthly_sales`` = the new charges on the statements (balance - (previous
      balance - amount paid), at least 0), dated on the statement's period end, so DSO both ways
      reads them as a ledger's sales;
    - ``open_items`` is empty (no invoices); ``limits`` = the latest statement's ``credit_limit`` of ``ids``.
    """
    st = statements.sort_values(["debtor_id", "period_end"], kind="stable", ignore_index=True)
    debtor = st["debtor_id"].astype("string").to_numpy(dtype=object)
    end = st["period_end"].to_numpy(dtype="datetime64[D]")

    def column(name: str) -> np.ndarray:  # optional in the contract: absent or missing counts 0
        return st[name].to_numpy(dtype="float64", na_value=0.0) if name in st else np.zeros(len(st))

    balance, paid, dpd = column("balance"), column("amount_paid"), column("days_past_due")
    same = np.r_[False, debtor[1:] == debtor[:-1]]
    prior = np.where(same, np.r_[0.0, balance[:-1]], np.nan)
    charges = np.clip(np.where(same, balance - (prior - paid), 0.0), 0.0, None)
    rows = []
    for T in dates:
        t = np.datetime64(pd.Timestamp(T).date(), "D")
        dated = end <= t
        last = dated & ~np.r_[dated[1:] & (debtor[1:] == debtor[:-1]), False]  # latest per debtor <= T
        last &= end > t - np.timedelta64(45, "D")
        open_ = np.clip(balance[last], 0.0, None)
        bucket = np.searchsorted(_AGING_EDGES, dpd[last], side="left")
        row = {"date": pd.Timestamp(T).normalize(), "receivables": float(open_.sum())}
        for i, name in enumerate(AGING_BUCKETS):
            row[name] = float(open_[bucket == i].sum())
        row["open_invoices"] = int((open_ > 0).sum())
        window = dated & (end > t - np.timedelta64(window_days, "D"))
        row["sales_window"] = float(charges[window].sum())
        rows.append(row)
    at = pd.DataFrame(rows).set_index("date")
    last_day = np.datetime64(pd.Timestamp(max(dates)).date(), "D") if dates else None
    upto = end <= last_day if last_day is not None else np.zeros(len(st), dtype=bool)
    months = pd.DatetimeIndex(end[upto]).to_period("M").start_time
    monthly = pd.Series(charges[upto], index=months).groupby(level=0).sum().sort_index()
    limits = pd.Series([], dtype="float64")
    if ids is not None and len(ids) and "credit_limit" in st:
        latest = st.loc[st["period_end"] <= pd.Timestamp(max(dates))].drop_duplicates(
            "debtor_id", keep="last"
        )
        limits = latest.set_index(latest["debtor_id"].astype("string"))["credit_limit"].astype("float64")
        limits = limits.reindex(pd.Index(ids, dtype="string"))
    items = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _OPEN_ITEM_COLUMNS.items()})
    return PortfolioParts(at=at, monthly_sales=monthly, open_items=items, limits=limits)
