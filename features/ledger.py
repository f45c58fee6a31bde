"""Invoice-ledger state as of a date: what was open, paid, settled and late at T.

:func:`prepare_ledger` converts the canonical tables once (integer debtor codes, dates as day
numbers, amounts in integer thousandths, stable sort orders). :func:`ledger_state` then derives the state
as of one as-of date T from rows dated <= T only:

- invoices with ``issue_date <= T``; payments with ``paid_on <= T``; events with ``event_date <= T``;
- a payment is *allocated* when its ``invoice_id`` names an invoice of the same debtor issued by T
  and, when it has an ``allocated_on`` day (a ledger's clearing date), that day is <= T: which
  invoice a payment went to is not known before it was applied; any other payment (no invoice id,
  unknown invoice, an invoice not yet issued at T, or applied after T) is *unallocated cash*;
- unallocated cash is applied to the oldest open invoice first (docs/architecture.md): invoices in order of
  (issue_date, due_date, invoice_id) absorb, after their allocated payments, the debtor's unallocated
  payments in order of (paid_on, payment_id). Cash paid before an invoice exists waits on account
  and settles the invoice when it appears. Cash beyond every open invoice stays on account
  (``credit_on_account``).

The result is a set of *payment pieces* (invoice, date, amount) per invoice, from which the
remaining balance and the settlement date (the day the pieces reach the invoice amount) follow.
Everything is vectorised over all debtors at once; nothing loops per debtor or invoice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features import grouped
from features.master import MasterHistory, attributes_at, history_values, prepare_master
from features.tables import Portfolio, credit_memos
from models.gate_words import counted

__all__ = [
    "Ledger",
    "LedgerState",
    "day_number",
    "group_cumsum",
    "ledger_state",
    "prepare_ledger",
    "run_starts",
    "waterfall",
]

_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)


def day_number(values: pd.Series | pd.Index | np.ndarray | pd.Timestamp) -> np.ndarray:
    """Dates -> int64 days since 1970-01-01 (NaT -> a very small sentinel, check with ``isnat`` first)."""
    arr = np.asarray(values, dtype="datetime64[ns]")
    return arr.view(np.int64) // 86_400_000_000_000


def _days_or_nan(values: pd.Series) -> np.ndarray:
    arr = np.asarray(values, dtype="datetime64[ns]")
    out = arr.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    out[np.isnat(arr)] = np.nan
    return out


# Largest amount (currency units) a ledger takes (ingest's ``rules.max_amount`` is at most this).
MAX_AMOUNT = 1e13
MILLS = 1000
"""Amounts inside :func:`ledger_state` are integer thousandths of the currency unit (before session
21: cents, so a 3-decimal currency, KWD, BHD, OMR, lost its third decimal: 1.125 open read 1.12). A
2-decimal amount gives the same floats (10 c / 1000 is c / 100 to the bit). Sums stay exact in float64
up to 2**53 thousandths (9.0e12 units) per debtor."""


def _mills(amount: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(amount, dtype=np.float64) * MILLS).astype(np.int64)


def _check_amounts(values: np.ndarray, table: str) -> None:
    """Raise ``ValueError`` on non-finite or absurd amounts (they would overflow integer thousandths)."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= MAX_AMOUNT)
    if bad.any():
        raise ValueError(
            f"{table}.amount: {counted(int(bad.sum()), 'value')} not finite or above {MAX_AMOUNT:g} (first: "
            f"{values[bad][0]!r}); ingest quarantines them (rules.max_amount)"
        )


def _check_one_currency(inv: pd.DataFrame) -> None:
    """Raise ``ValueError`` when invoices hold several currencies: amounts are never summed across them."""
    if "currency" not in inv:
        return
    found = pc.unique(pc.drop_null(_arrow(inv["currency"], combine=True)))
    if len(found) > 1:
        raise ValueError(
            f"invoices hold {len(found)} currencies ({sorted(found.to_pylist())[:5]}); amounts cannot be "
            "summed across currencies. Ingest converts them into the reporting currency (currency.rates in "
            "conf/ews.yaml)"
        )


@dataclass(frozen=True, eq=False)
class Ledger:
    """Canonical tables as flat arrays, prepared once for any number of as-of dates.

    Debtors are integer codes ``0..n-1`` into ``debtor_ids``. Invoices are sorted by (code,
    issue day, due day, invoice_id); payments by (code, paid day, payment_id). Days are int64 days
    since the epoch; days are int32, amounts float64 currency units (integer thousandths inside :func:`ledger_state`, :data:`MILLS`). ``pay_inv`` is the position
    of the allocated invoice in the sorted invoice arrays, -1 when none of the same debtor.
    ``inv_row`` is the row of each sorted invoice in the input frame, whose ``invoice_id`` column
    is ``invoice_ids`` (Arrow, not copied).
    """

    debtor_ids: pd.Index
    inv_code: np.ndarray
    inv_issue: np.ndarray
    inv_due: np.ndarray
    inv_amount: np.ndarray
    inv_disputed: np.ndarray
    pay_code: np.ndarray
    pay_date: np.ndarray
    pay_amount: np.ndarray
    pay_inv: np.ndarray
    ev_code: np.ndarray
    ev_date: np.ndarray
    ev_kind: np.ndarray
    credit_limit: np.ndarray
    onboarded: np.ndarray
    segment: pd.Categorical
    country: pd.Categorical
    first_invoice: np.ndarray = field(repr=False)
    inv_row: np.ndarray = field(default_factory=lambda: _EMPTY_I, repr=False)
    invoice_ids: pa.Array | pa.ChunkedArray | None = field(default=None, repr=False)
    # day (int32, sorted payment order) from which a payment is applied to its invoice: the later of
    # its paid day and its allocated_on; None when no payment has an allocated_on (= the paid day)
    pay_alloc: np.ndarray | None = field(default=None, repr=False)
    # True where a payment (sorted payment order) is a credit memo (payments.kind = credit): it
    # reduces what is open like cash but is no payment for the behaviour features; None when the
    # book has no credit memo (every payment cash)
    pay_credit: np.ndarray | None = field(default=None, repr=False)
    # the dated debtor attributes (``debtor_history``, features.master); None: the snapshot's at every T
    master: MasterHistory | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of debtors."""
        return len(self.debtor_ids)


def _arrow(values: pd.Series, combine: bool = False) -> pa.Array | pa.ChunkedArray:
    """A string column in Arrow (zero-copy for Arrow-backed pandas strings; ``combine``: one Array)."""
    arr = pa.array(values, from_pandas=True)
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if combine and isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _unique_ids(frames: list[pd.DataFrame | None]) -> pa.Array:
    found = [
        pc.unique(_arrow(f["debtor_id"]))
        for f in frames
        if f is not None and "debtor_id" in f and not f.empty
    ]
    if not found:
        return pa.array([], pa.string())
    ids = pc.drop_null(pc.unique(pa.chunked_array(found).combine_chunks()))
    return pc.take(ids, pc.sort_indices(ids))


def _codes(values: pd.Series, ids: pa.Array, table: str) -> np.ndarray:
    """Position of each debtor id in ``ids``; raises ``ValueError`` on missing ids."""
    pos = pc.index_in(_arrow(values), value_set=ids)
    if pos.null_count:
        raise ValueError(f"{table}.debtor_id is missing in {pos.null_count} rows; ingest rejects such rows")
    return np.asarray(pos.to_numpy(), dtype=np.int64)


def _stable_order(code: np.ndarray, day1: np.ndarray, day2: np.ndarray | None, ids: pd.Series) -> np.ndarray:
    """Row order by (code, day1[, day2], id); ids are compared only among rows tied on the numeric keys."""
    keys = (day1, code) if day2 is None else (day2, day1, code)
    order, packed = _order(keys)
    if len(order) < 2:
        return order
    ps = packed[order] if packed is not None else None
    if ps is not None:
        same = ps[1:] == ps[:-1]
    else:
        same = np.ones(len(order) - 1, dtype=bool)
        for k in keys:
            ks = k[order]
            same &= ks[1:] == ks[:-1]
    if not same.any():
        return order
    # reorder each run of rows tied on the numeric keys by id (runs are contiguous in ``order``)
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    pos = np.flatnonzero(tied)
    run = np.cumsum(np.r_[True, ~same[pos[1:] - 1]]) if len(pos) > 1 else np.zeros(len(pos), dtype=np.int64)
    rows = order[pos]
    id_rank = np.empty(len(rows), dtype=np.int64)
    id_rank[np.asarray(pc.sort_indices(pa.array(ids.iloc[rows], from_pandas=True)))] = np.arange(len(rows))
    order = order.copy()
    order[pos] = rows[np.lexsort((id_rank, run))]
    return order


def _order(keys: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """``np.lexsort(keys)`` (last key primary), as one stable argsort of a packed int64 key when it fits.

    Returns the order and the packed key (None when the keys did not fit in 62 bits).
    """
    if len(keys[0]) == 0:
        return np.zeros(0, dtype=np.int64), None
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - lo + 1 for k, lo in zip(keys, lows, strict=True)]
    if np.prod([float(s) for s in spans]) >= 2.0**62:
        return np.lexsort(keys), None
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    scale = 1
    for k, lo, span in zip(keys, lows, spans, strict=True):
        packed += (k - lo) * scale
        scale *= span
    return np.argsort(packed, kind="stable"), packed


def prepare_ledger(portfolio: Portfolio) -> Ledger:
    """Flatten the portfolio's invoices, payments, events and debtors (see :class:`Ledger`).

    The debtor universe is every debtor id found in any table (statements included: their debtors get
    a code, for the default flags). Input frames are not modified.
    """
    ids_arrow = _unique_ids(
        [portfolio.debtors, portfolio.invoices, portfolio.payments, portfolio.events, portfolio.statements]
    )
    ids = pd.Index(pd.array(ids_arrow, dtype="string"))
    n = len(ids)

    inv = portfolio.invoices
    inv_rank: np.ndarray | None = None
    inv_row, invoice_ids = _EMPTY_I, None
    if inv is not None and not inv.empty:
        code = _codes(inv["debtor_id"], ids_arrow, "invoices")
        issue = day_number(inv["issue_date"])
        due = day_number(inv["due_date"])
        order = _stable_order(code, issue, due, inv["invoice_id"])
        _check_one_currency(inv)
        amount = inv["amount"].to_numpy(dtype=np.float64)[order]
        _check_amounts(amount, "invoices")
        disputed = (
            inv["disputed"].fillna(False).to_numpy(dtype=bool)[order]
            if "disputed" in inv
            else np.zeros(len(order), dtype=bool)
        )
        inv_code = code[order]
        inv_issue, inv_due = issue[order].astype(np.int32), due[order].astype(np.int32)
        del code, issue, due
        inv_rank = np.empty(len(order), dtype=np.int64)  # original row -> sorted position
        inv_rank[order] = np.arange(len(order))
        inv_row = order.astype(np.int32) if len(order) < 2**31 else order
        invoice_ids = _arrow(inv["invoice_id"])
        del order
    else:
        inv_code = inv_issue = inv_due = _EMPTY_I
        amount = _EMPTY_F
        disputed = np.zeros(0, dtype=bool)

    pay = portfolio.payments
    pay_alloc: np.ndarray | None = None
    pay_credit: np.ndarray | None = None
    if pay is not None and not pay.empty:
        pcode = _codes(pay["debtor_id"], ids_arrow, "payments")
        pdate = day_number(pay["paid_on"])
        porder = _stable_order(pcode, pdate, None, pay["payment_id"])
        pay_code, pay_date = pcode[porder], pdate[porder].astype(np.int32)
        pay_amount = pay["amount"].to_numpy(dtype=np.float64)[porder]
        _check_amounts(pay_amount, "payments")
        del pcode, pdate
        if "allocated_on" in pay and pay["allocated_on"].notna().any():
            raw = np.asarray(pay["allocated_on"], dtype="datetime64[ns]")[porder]
            later = np.where(np.isnat(raw), pay_date, np.maximum(day_number(raw), pay_date))
            pay_alloc = later.astype(np.int32)
            del raw, later
        if "kind" in pay:  # sparse: no mask to build for books without it (42.6M payments at 1M)
            credit = credit_memos(pay)
            if credit.any():
                pay_credit = credit[porder]
            del credit
        if "invoice_id" in pay and inv_rank is not None:
            value_set = _arrow(inv["invoice_id"], combine=True)
            pos = pc.fill_null(pc.index_in(_arrow(pay["invoice_id"]), value_set=value_set), -1)
            del value_set
            pos_np = np.asarray(pos.to_numpy(), dtype=np.int64)[porder]
            del pos
            pay_inv = np.where(pos_np >= 0, inv_rank[np.maximum(pos_np, 0)], -1)
            del pos_np
            same = pay_inv >= 0
            same[same] = inv_code[pay_inv[same]] == pay_code[same]
            pay_inv = np.where(same, pay_inv, -1)
        else:
            pay_inv = np.full(len(porder), -1, dtype=np.int64)
    else:
        pay_code = pay_date = pay_inv = _EMPTY_I
        pay_amount = _EMPTY_F

    ev = portfolio.events
    if ev is not None and not ev.empty:
        ev_code = _codes(ev["debtor_id"], ids_arrow, "events")
        ev_date = day_number(ev["event_date"]).astype(np.int32)
        ev_kind = ev["kind"].astype("string").to_numpy(dtype=object)
    else:
        ev_code = ev_date = _EMPTY_I
        ev_kind = np.zeros(0, dtype=object)

    credit_limit = np.full(n, np.nan)
    onboarded = np.full(n, np.nan)
    segment = pd.Categorical(np.full(n, None, dtype=object))
    country = pd.Categorical(np.full(n, None, dtype=object))
    deb = portfolio.debtors
    dcode = _EMPTY_I
    if deb is not None and not deb.empty:
        dcode = _codes(deb["debtor_id"], ids_arrow, "debtors")
        if "credit_limit" in deb:
            credit_limit[dcode] = deb["credit_limit"].to_numpy(dtype=np.float64, na_value=np.nan)
        if "onboarded_on" in deb:
            onboarded[dcode] = _days_or_nan(deb["onboarded_on"])
    hist = portfolio.debtor_history
    for col in ("segment", "country"):
        vals = np.full(n, None, dtype=object)
        if len(dcode) and col in deb:
            vals[dcode] = deb[col].astype("string").to_numpy(dtype=object, na_value=None)
        # the categories hold the history's values too, so every as-of date shares them
        cats = sorted({v for v in vals if v is not None} | history_values(hist, col))
        cat = pd.Categorical(vals, categories=cats)
        if col == "segment":
            segment = cat
        else:
            country = cat
    master = prepare_master(hist, ids_arrow, list(segment.categories), list(country.categories))

    first_invoice = np.full(n, np.nan)
    if len(inv_code):
        firsts = pd.Series(inv_issue).groupby(inv_code).min()
        first_invoice[firsts.index.to_numpy()] = firsts.to_numpy(dtype=np.float64)

    return Ledger(
        debtor_ids=ids,
        inv_code=inv_code,
        inv_issue=inv_issue,
        inv_due=inv_due,
        inv_amount=amount,
        inv_disputed=disputed,
        pay_code=pay_code,
        pay_date=pay_date,
        pay_amount=pay_amount,
        pay_inv=pay_inv,
        ev_code=ev_code,
        ev_date=ev_date,
        ev_kind=ev_kind,
        credit_limit=credit_limit,
        onboarded=onboarded,
        segment=segment,
        country=country,
        first_invoice=first_invoice,
        inv_row=inv_row,
        invoice_ids=invoice_ids,
        pay_alloc=pay_alloc,
        pay_credit=pay_credit,
        master=master,
    )


def group_cumsum(code: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each new ``code`` (``code`` sorted)."""
    cs = np.cumsum(values)
    if len(code) == 0:
        return cs
    first = run_starts(code)
    return cs - (cs[first] - values[first])


def run_starts(code: np.ndarray) -> np.ndarray:
    """For each row of sorted ``code``, the position of the first row with the same code (int64, linear time)."""
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    return np.repeat(starts, np.diff(np.r_[starts, len(code)]))


def waterfall(
    icode: np.ndarray, icap: np.ndarray, pcode: np.ndarray, pmills: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply cash to open invoices oldest first, per debtor, in integer thousandths.

    ``icode``/``icap``: invoice debtor codes (sorted, oldest first within a debtor) and capacity
    (open mills). ``pcode``/``pmills``: unallocated payments (sorted, earliest first). Returns pieces
    ``(invoice_pos, payment_pos, mills)``: payment ``payment_pos`` pays ``mills`` of invoice
    ``invoice_pos``. Both streams are laid on one axis per debtor; overlaps of their intervals are
    the pieces.
    """
    if len(icode) == 0 or len(pcode) == 0:
        return _EMPTY_I, _EMPTY_I, _EMPTY_I
    cap_tot = np.bincount(icode, weights=icap, minlength=n).astype(np.int64)
    pay_tot = np.bincount(pcode, weights=pmills, minlength=n).astype(np.int64)
    span = np.maximum(cap_tot, pay_tot)
    base = np.concatenate(([0], np.cumsum(span)[:-1])).astype(np.int64)
    iend = base[icode] + group_cumsum(icode, icap)
    istart = iend - icap
    pend = base[pcode] + group_cumsum(pcode, pmills)
    pstart = pend - pmills
    # every interval start is the previous end or a debtor's base: the breakpoints are the union of
    # three sorted arrays, merged by a stable (run-detecting) sort
    points = np.sort(np.concatenate([base, iend, pend]), kind="stable")
    points = points[np.r_[True, points[1:] != points[:-1]]]
    x, length = points[:-1], np.diff(points)
    i = np.minimum(np.searchsorted(iend, x, side="right"), len(iend) - 1)
    j = np.minimum(np.searchsorted(pend, x, side="right"), len(pend) - 1)
    ok = (istart[i] <= x) & (x < iend[i]) & (pstart[j] <= x) & (x < pend[j]) & (icode[i] == pcode[j])
    return i[ok], j[ok], length[ok]


@dataclass(eq=False)
class LedgerState:
    """The ledger as of day ``T`` (int days since epoch), from rows dated <= T only.

    Invoice arrays (prefix ``inv_``) cover invoices issued <= T; ``inv_remaining`` is the unpaid
    amount at T (currency units), ``inv_settled`` the settlement day (NaN while open). Piece arrays
    (prefix ``pc_``) are the payments applied to those invoices. Payment arrays (prefix ``pay_``)
    cover all payments made <= T. ``credit_on_account`` is unapplied cash per debtor. ``inv_rows``:
    position of each invoice in the ledger's sorted arrays (None: every invoice, same positions).
    """

    T: int
    n: int
    ledger: Ledger
    inv_code: np.ndarray
    inv_issue: np.ndarray
    inv_due: np.ndarray
    inv_amount: np.ndarray
    inv_disputed: np.ndarray
    inv_remaining: np.ndarray
    inv_settled: np.ndarray
    pc_code: np.ndarray
    pc_inv: np.ndarray
    pc_date: np.ndarray
    pc_amount: np.ndarray
    pc_due: np.ndarray
    pay_code: np.ndarray
    pay_date: np.ndarray
    pay_amount: np.ndarray
    pay_unallocated: np.ndarray
    credit_on_account: np.ndarray
    ev_code: np.ndarray
    ev_date: np.ndarray
    ev_kind: np.ndarray
    inv_rows: np.ndarray | None = None
    # the day each invoice left the open list (NaN while open): the settlement day counted from the
    # day its pieces were applied (a payment's allocated_on, if later than paid_on); None when no
    # payment has an allocated_on (then it is ``inv_settled``). See :meth:`closed_days`.
    inv_closed: np.ndarray | None = None
    # credit memos (payments.kind = credit): per payment row (``pay_*``) and per piece (``pc_*``);
    # None when the book has none. They settle invoices like cash (open amounts, settlement days,
    # defaults) but the behaviour and timing features count cash only (:meth:`cash_payments`).
    pay_credit: np.ndarray | None = None
    pc_credit: np.ndarray | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ shared helpers

    def memo(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Compute an intermediate once per state (shared by several features); returns it read-only."""
        if key not in self._memo:
            value = compute()
            value.flags.writeable = False
            self._memo[key] = value
        return self._memo[key]

    def sum_by(self, code: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Per-debtor sum over rows with debtor ``code`` (0 where a debtor has no rows)."""
        return grouped.sum_by(code, self.n, values)

    def max_by(self, code: np.ndarray, values: np.ndarray, *, fill: float) -> np.ndarray:
        """Per-debtor maximum over rows with debtor ``code`` (``fill`` where a debtor has no rows)."""
        return grouped.max_by(code, self.n, values, fill=fill)

    def cash_payments(self, sel: np.ndarray) -> np.ndarray:
        """``sel`` (a mask over ``pay_*``) without the credit memos (``sel`` itself when there are none)."""
        return sel if self.pay_credit is None else sel & ~self.pay_credit

    def cash_pieces(self, sel: np.ndarray) -> np.ndarray:
        """``sel`` (a mask over ``pc_*``) without the credit memos' pieces (``sel`` itself when none)."""
        return sel if self.pc_credit is None else sel & ~self.pc_credit

    def closed_days(self) -> np.ndarray:
        """Day each invoice issued by T stopped being open (NaN while open): ``inv_settled``, except
        that a piece counts from the day it was applied to the invoice, so that an invoice open at an
        earlier T' (its payment still cash on account then) is never settled on a day <= T'."""
        return self.inv_settled if self.inv_closed is None else self.inv_closed

    @cached_property
    def open_mask(self) -> np.ndarray:
        """Invoices still (partly) unpaid at T."""
        return self.inv_remaining > 0

    @cached_property
    def dpd_open(self) -> np.ndarray:
        """Days past due at T of each invoice (0 when open but not yet due; 0 when settled)."""
        return np.where(self.open_mask, np.maximum(self.T - self.inv_due, 0), 0)

    @cached_property
    def settle_lateness(self) -> np.ndarray:
        """Days from due date to settlement (NaN while open; negative = settled early)."""
        return self.inv_settled - self.inv_due

    @cached_property
    def pc_days_late(self) -> np.ndarray:
        """Days late of each payment piece: paid day - due day (negative = early)."""
        return (self.pc_date - self.pc_due).astype(np.float64)

    def in_window(self, days: np.ndarray, window: int) -> np.ndarray:
        """Rows whose day falls in (T - window, T]."""
        return (days > self.T - window) & (days <= self.T)

    ratio = staticmethod(grouped.ratio)


def _rows(mask: np.ndarray) -> np.ndarray | None:
    """Row positions where ``mask`` holds, or None when it holds everywhere (then views are used)."""
    return None if mask.all() else np.flatnonzero(mask)


def _pick(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return values if rows is None else values[rows]


def _settled_days(
    pc_inv: np.ndarray, pc_day: np.ndarray, pc_mills: np.ndarray, mills: np.ndarray, remaining: np.ndarray
) -> np.ndarray:
    """Per invoice, the first piece day at which its cumulative pieces reach its amount (NaN while
    any of it remains open)."""
    settled = np.full(len(mills), np.nan)
    if len(pc_inv):
        lo = int(pc_day.min())
        span = int(pc_day.max()) - lo + 1
        order = np.argsort(pc_inv * span + (pc_day.astype(np.int64) - lo), kind="stable")
        s_inv = pc_inv[order]
        cum = group_cumsum(s_inv, pc_mills[order])
        done = np.flatnonzero(cum >= mills[s_inv])
        del cum
        # first piece per invoice reaching the amount: done rows are in (invoice, day) order
        d_inv = s_inv[done]
        first = np.ones(len(d_inv), dtype=bool)
        first[1:] = d_inv[1:] != d_inv[:-1]
        settled[d_inv[first]] = pc_day[order[done[first]]]
        del order, s_inv, done, d_inv, first
    settled[remaining > 0] = np.nan
    return settled


def ledger_state(ledger: Ledger, T: int) -> LedgerState:
    """State of ``ledger`` as of day ``T`` (int days since epoch) using only rows dated <= T.

    Arrays of rows that are all included (e.g. every invoice issued by the latest T) are views of
    the ledger's arrays, not copies.
    """
    n = ledger.n
    issued = _rows(ledger.inv_issue <= T)
    n_issued = len(ledger.inv_code) if issued is None else len(issued)
    paid = ledger.pay_date <= T
    pay_inv = ledger.pay_inv
    alloc = paid & (pay_inv >= 0)
    if ledger.pay_alloc is not None:  # applied to its invoice after T: cash on account at T
        alloc &= ledger.pay_alloc <= T
    alloc[alloc] = ledger.inv_issue[pay_inv[alloc]] <= T
    unalloc = paid & ~alloc

    amount = _pick(ledger.inv_amount, issued)
    mills = _mills(amount)
    icode = _pick(ledger.inv_code, issued)
    inv_due = _pick(ledger.inv_due, issued)

    if issued is None:
        a_inv = pay_inv[alloc]
    else:  # global sorted position -> index into ``issued``
        local = np.full(len(ledger.inv_code), -1, dtype=np.int64)
        local[issued] = np.arange(n_issued)
        a_inv = local[pay_inv[alloc]]
        del local
    a_mills = _mills(ledger.pay_amount[alloc])
    alloc_sum = np.bincount(a_inv, weights=a_mills, minlength=n_issued).astype(np.int64)
    cap = np.maximum(mills - alloc_sum, 0)
    del alloc_sum

    u_idx = np.flatnonzero(unalloc)
    w_inv, w_pay, w_mills = waterfall(icode, cap, ledger.pay_code[u_idx], _mills(ledger.pay_amount[u_idx]), n)
    del cap
    w_pay = u_idx[w_pay]

    pc_inv = np.concatenate([a_inv, w_inv])
    pc_date = np.concatenate([ledger.pay_date[alloc], ledger.pay_date[w_pay]])
    pc_credit = (
        None
        if ledger.pay_credit is None
        else np.concatenate([ledger.pay_credit[alloc], ledger.pay_credit[w_pay]])
    )
    pc_mills = np.concatenate([a_mills, w_mills])
    del a_inv, a_mills, w_inv, w_mills, u_idx

    applied = np.minimum(np.bincount(pc_inv, weights=pc_mills, minlength=n_issued).astype(np.int64), mills)
    remaining = mills - applied

    settled = _settled_days(pc_inv, pc_date, pc_mills, mills, remaining)
    closed = None
    if ledger.pay_alloc is not None:  # the day each piece was applied (allocated_on, if later)
        pc_applied = np.concatenate([ledger.pay_alloc[alloc], ledger.pay_date[w_pay]])
        closed = _settled_days(pc_inv, pc_applied, pc_mills, mills, remaining)
        del pc_applied
    del w_pay
    applied_total = np.bincount(icode, weights=applied, minlength=n)
    del applied, mills

    pay_rows = _rows(paid)
    pay_code = _pick(ledger.pay_code, pay_rows)
    pay_amount = _pick(ledger.pay_amount, pay_rows)
    paid_total = np.bincount(pay_code, weights=pay_amount, minlength=n)
    credit = np.maximum(np.round(paid_total - applied_total / MILLS, 3), 0.0)

    ev = ledger.ev_date <= T
    return LedgerState(
        T=int(T),
        n=n,
        ledger=attributes_at(ledger, T),  # the debtor attributes valid at T (features.master)
        inv_code=icode,
        inv_issue=_pick(ledger.inv_issue, issued),
        inv_due=inv_due,
        inv_amount=amount,
        inv_disputed=_pick(ledger.inv_disputed, issued),
        inv_remaining=remaining / MILLS,
        inv_settled=settled,
        inv_closed=closed,
        pc_code=icode[pc_inv],
        pc_inv=pc_inv,
        pc_date=pc_date,
        pc_amount=pc_mills / MILLS,
        pc_due=inv_due[pc_inv],
        pay_code=pay_code,
        pay_date=_pick(ledger.pay_date, pay_rows),
        pay_amount=pay_amount,
        pay_unallocated=_pick(unalloc, pay_rows),
        credit_on_account=credit,
        ev_code=ledger.ev_code[ev],
        ev_date=ledger.ev_date[ev],
        ev_kind=ledger.ev_kind[ev],
        inv_rows=issued,
        pay_credit=None if ledger.pay_credit is None else _pick(ledger.pay_credit, pay_rows),
        pc_credit=pc_credit,
    )
