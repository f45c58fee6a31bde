"""A ledger's payment rows joined to the invoice rows they cleared (``tables.payments.clearing``).

ERPs export a customer ledger as one list: SAP FBL5N writes on every cleared item the clearing
document (``Clearing Document``: the number of the payment that cleared it, which the payment's own
row carries too; a part payment left open is cleared later with the invoice by the final payment);
Business Central writes on a closed entry the ``Entry No.`` of the entry that closed it (``Closed by
Entry No.``: an invoice closed by its payment, or a part payment or credit memo closed by the invoice
it was applied to). Rows linked by these references, directly (a row's reference is another row's
key) or through a shared reference (rows cleared by one document), form one *clearing*.

Within a clearing, the payment rows (cash and credit memos, earliest payment date first, then in the
file's order) are allocated over its invoice rows (oldest due date first, then in the file's order;
an invoice without a due date after those with one), each invoice taking its open amount, whatever
order the export is sorted in (by amount, by document number): a payment that clears
three invoices becomes three payments of the invoices' amounts (``<payment_id>/<invoice_id>``), a
part payment takes part of an invoice, which stays open for the rest until a later payment of the
clearing covers it. What a clearing's payments pay beyond its invoices stays unallocated cash
(``<payment_id>/unallocated`` when part of a split payment). Payment rows in a clearing without an
invoice row (a reversal and the payment it reverses; an invoice not in the export) or without any
reference stay unallocated (as before: applied to the debtor's oldest open invoice first), counted
by reason. Pure: no I/O.

SAP numbers documents per company code and fiscal year: the same clearing document number comes back
every year (and in every company code). ``scope`` values (per row: the cells of the config's
``clearing.scope`` columns, e.g. the company code and the clearing date) qualify both a row's
reference and its key, so that only rows sharing them link: FBL5N writes the clearing date beside
the clearing document on every row it cleared, the clearing payment's own row included.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.sources.parse import MILLS, mills_text, parse_numbers

__all__ = ["ClearingJoin", "join_clearing"]

# a reference that names nothing: BC writes 0 in "Closed by Entry No." of an entry closed by none
_NONE = ("", "0")


@dataclass
class ClearingJoin:
    """The payment rows after the join: ``positions`` (each output row's payment row; a split row
    repeats), ``invoice_id`` (None = unallocated), ``payment_id`` / ``amount`` (text; None = the
    row's own cell), ``allocated_on`` (the clearing date cell, text, of a row given an invoice; None
    without one or without ``clearing_date``), and the counts for the manifest."""

    positions: np.ndarray
    invoice_id: list[str | None]
    payment_id: list[str | None]
    amount: list[str | None]
    allocated_on: list[str | None] = field(default_factory=list)
    rows_allocated: int = 0
    rows_split: int = 0
    pieces_added: int = 0
    unallocated: dict[str, int] = field(default_factory=dict)
    # allocated output rows whose payment or invoice row held a clearing date cell that is not a date
    cleared_unreadable: int = 0
    # clearings the scope kept apart though one reference links them: (payment rows, invoice rows)
    # of each, the payments alone without an invoice, the invoices alone without a payment
    scope_split: list[tuple[list[int], list[int]]] = field(default_factory=list)

    def summary(self, column: str, key: str) -> dict[str, object]:
        out: dict[str, object] = {
            "column": column,
            "key": key,
            "rows_allocated": self.rows_allocated,
            "rows_split": self.rows_split,
            "pieces_added": self.pieces_added,
            "unallocated": self.unallocated,
        }
        if self.cleared_unreadable:  # only then: every other ledger's manifest keeps its bytes
            out["clearing_date_unreadable"] = self.cleared_unreadable
        if self.scope_split:  # likewise
            out["scope_differs"] = {
                "clearings": len(self.scope_split),
                "payment_rows": sum(len(p) for p, _ in self.scope_split),
                "invoice_rows": sum(len(i) for _, i in self.scope_split),
            }
        return out


def _text(values: pd.Series) -> np.ndarray:
    """Stripped text per cell; '' for an empty cell or a reference that names none."""
    text = values.astype("string").str.strip().fillna("")
    # whole numbers read as floats by a Parquet or spreadsheet export ('1001.0') name entry 1001
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return np.where(text.isin(list(_NONE)), "", text.to_numpy(dtype=object)).astype(object)


def _scoped(text: np.ndarray, scope: np.ndarray | None) -> np.ndarray:
    """References or keys qualified by the row's scope (``scope`` + a separator + the value); an
    empty value stays empty (it names nothing)."""
    if scope is None:
        return text
    return np.where(text == "", "", scope.astype(object) + "\x1f" + text).astype(object)


def _components(refs: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The clearing of each row (a component label): rows linked by their references, directly (a
    row's reference is another row's key) or through a shared reference."""
    n = len(refs)
    # a bipartite graph of rows and values: a row is linked to its reference and to its own key
    values, codes = np.unique(np.concatenate([refs, keys]), return_inverse=True)
    ref_code, key_code = codes[:n], codes[n:]
    rows = np.arange(n)
    # a key is linked only when some row names it: two rows sharing a key but named by none stay apart
    named = np.zeros(len(values), dtype=bool)
    named[ref_code[refs != ""]] = True
    has_ref, has_key = refs != "", (keys != "") & named[key_code]
    src = np.concatenate([rows[has_ref], rows[has_key]])
    dst = n + np.concatenate([ref_code[has_ref], key_code[has_key]])
    size = n + len(values)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    return label[:n]


def _scope_split(
    label: np.ndarray, bare: np.ndarray, refs: np.ndarray, ni: int
) -> list[tuple[list[int], list[int]]]:
    """Clearings that the scope split into payments without an invoice and invoices without a
    payment, though their references (without the scope) link them: a scope cell empty or written
    otherwise on some rows of one clearing (a damaged export). Per such clearing (``bare``: the
    labels without the scope), its lone payment positions and lone invoice positions."""
    size = int(label.max()) + 1 if len(label) else 0
    invs = np.bincount(label[:ni], minlength=size)
    pays = np.bincount(label[ni:], minlength=size)
    linked = refs != ""
    lone_pay = np.flatnonzero(linked[ni:] & (invs[label[ni:]] == 0))
    lone_inv = np.flatnonzero(linked[:ni] & (pays[label[:ni]] == 0))
    if not len(lone_pay) or not len(lone_inv):
        return []
    by_bare: dict[int, tuple[list[int], list[int]]] = {}
    for p in lone_pay.tolist():
        by_bare.setdefault(int(bare[ni + p]), ([], []))[0].append(p)
    for i in lone_inv.tolist():
        if int(bare[i]) in by_bare:
            by_bare[int(bare[i])][1].append(i)
    return [(ps, is_) for _, (ps, is_) in sorted(by_bare.items(), key=lambda kv: kv[1][0][0]) if is_]


def _order(day: np.ndarray | None, n: int) -> np.ndarray:
    """Row positions by day (NaN: unknown, last), then by position (the file's order)."""
    if day is None:
        return np.arange(n)
    return np.lexsort((np.arange(n), np.where(np.isnan(day), np.inf, day)))


def _mills(values: pd.Series, decimal: str, thousands: str | None, sign: int, grouping: str) -> np.ndarray:
    """Amounts in integer thousandths (times ``sign``), not cents: a 3-decimal currency's 0.625 stays
    0.625 (parse.MILLS); -1 where a cell does not parse or is <= 0."""
    numbers, bad = parse_numbers(values.reset_index(drop=True), decimal, thousands, grouping)
    v = numbers.to_numpy(dtype=np.float64) * sign
    ok = ~bad & np.isfinite(v) & (v > 0)
    out = np.full(len(v), -1, dtype=np.int64)
    out[ok] = np.round(v[ok] * MILLS).astype(np.int64)
    return out


def _currency(frame: pd.DataFrame, column: str | None, n: int, default: str) -> np.ndarray:
    """Each row's currency code (upper case; ``default`` for an empty cell or no column)."""
    if column is None:
        return np.full(n, default, dtype=object)
    text = frame[column].astype("string").str.strip().str.upper().fillna("")
    return np.where(text == "", default, text.to_numpy(dtype=object)).astype(object)


def join_clearing(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    *,
    column: str,
    key: str,
    invoice_id: str,
    invoice_amount: str,
    payment_id: str,
    payment_amount: str,
    decimal: str = ".",
    thousands: str | None = None,
    grouping: str = "thousands",
    negate: bool = False,
    invoice_currency: str | None = None,
    payment_currency: str | None = None,
    default_currency: str | None = None,
    issue_day: np.ndarray | None = None,
    paid_day: np.ndarray | None = None,
    prepayment_days: int = 0,
    due_day: np.ndarray | None = None,
    invoice_scope: np.ndarray | None = None,
    payment_scope: np.ndarray | None = None,
    clearing_date: str | None = None,
    invoice_cleared_day: np.ndarray | None = None,
    payment_cleared_day: np.ndarray | None = None,
    invoice_ids: pd.Series | None = None,
    payment_ids: pd.Series | None = None,
) -> ClearingJoin:
    """Allocate ``payments`` (file columns) over the ``invoices`` they cleared (see the module).

    With ``payment_currency`` (the payments' currency column; ``invoice_currency`` the invoices',
    ``default_currency`` for an empty cell), a payment takes only the invoices of its own currency:
    amounts of two currencies are not comparable (a clearing in local currency of a USD and a EUR
    invoice by one EUR payment). A payment whose currency no invoice of its clearing has stays
    unallocated (``other_currency``); one with no currency at all takes any invoice, as before.

    With ``issue_day`` / ``paid_day`` (the invoices' issue and the payments' dates as day numbers,
    NaN unknown), a payment takes only the invoices issued at most ``prepayment_days`` after it: cash
    on account applied to an invoice of months later stays unallocated cash (on account, as it was),
    not a piece the ingest would quarantine as paid_before_issue, leaving the invoice open.

    ``due_day`` (the invoices' due dates as day numbers, NaN unknown) orders a clearing's invoices,
    oldest due first; ``paid_day`` orders its payments, earliest first; ties keep the file's order.
    ``invoice_scope`` / ``payment_scope`` (text per row, see the module) qualify references and keys.
    The output rows stay in the payments' file order.

    ``clearing_date`` (the column of the day a row was cleared: FBL5N's ``Clearing date``, BC's
    ``Closed at Date``) dates each allocation: the payment row's own cell, else its invoice row's
    (``allocated_on``; the payment is cash on account before it: point in time). With
    ``invoice_cleared_day`` / ``payment_cleared_day`` (those cells as day numbers, NaN where empty or
    not a date), a cell that is not a date (Business Central's blank 0001-01-01, SAP's 00.00.0000)
    counts as empty: it only dates the allocation, so it never costs the payment (no date: applied
    from the payment's own day, as without ``clearing_date``); such rows are counted
    (``cleared_unreadable``).

    ``invoice_ids`` / ``payment_ids`` (per row, in the frames' order) replace the id columns' cells
    as the names of the invoices and of the pieces (ids qualified by ``id_scope``); the references
    and keys are the file's cells either way."""
    ni, npay = len(invoices), len(payments)
    bare_refs = np.concatenate([_text(invoices[column]), _text(payments[column])])
    bare_keys = np.concatenate([_text(invoices[key]), _text(payments[key])])
    scoped = invoice_scope is not None or payment_scope is not None
    if scoped:
        refs = np.concatenate(
            [_scoped(bare_refs[:ni], invoice_scope), _scoped(bare_refs[ni:], payment_scope)]
        )
        keys = np.concatenate(
            [_scoped(bare_keys[:ni], invoice_scope), _scoped(bare_keys[ni:], payment_scope)]
        )
    else:
        refs, keys = bare_refs, bare_keys
    label = _components(refs, keys)
    out_split = _scope_split(label, _components(bare_refs, bare_keys), refs, ni) if scoped else []
    split_pay = {p for ps, _ in out_split for p in ps}

    inv_ids = _text(invoices[invoice_id] if invoice_ids is None else invoice_ids)
    inv_cleared = _text(invoices[clearing_date]) if clearing_date else None
    pay_cleared = _text(payments[clearing_date]) if clearing_date else None
    inv_unread = pay_unread = None  # a cell with text that is not a date (None: every cell is read)
    if inv_cleared is not None and invoice_cleared_day is not None:
        inv_unread = (inv_cleared != "") & np.isnan(invoice_cleared_day)
        inv_cleared = np.where(inv_unread, "", inv_cleared).astype(object)
    if pay_cleared is not None and payment_cleared_day is not None:
        pay_unread = (pay_cleared != "") & np.isnan(payment_cleared_day)
        pay_cleared = np.where(pay_unread, "", pay_cleared).astype(object)
    inv_open = _mills(invoices[invoice_amount], decimal, thousands, 1, grouping)
    pay_ids = _text(payments[payment_id] if payment_ids is None else payment_ids)
    pay_mills = _mills(payments[payment_amount], decimal, thousands, -1 if negate else 1, grouping)
    sign = -1 if negate else 1

    default = (default_currency or "").strip().upper()
    # without the payments' currency a payment is in its invoice's (the contract): any invoice
    pay_cur, inv_cur = np.full(npay, "", dtype=object), np.full(ni, "", dtype=object)
    if payment_currency:
        pay_cur = _currency(payments, payment_currency, npay, default)
        inv_cur = _currency(invoices, invoice_currency, ni, default)
    # each clearing's invoices, oldest due first (then file order), all of them ('') and by currency
    by_label: dict[tuple[int, str], list[int]] = {}
    inv_order = _order(due_day, ni)
    for i in inv_order[inv_open[inv_order] > 0]:
        by_label.setdefault((int(label[i]), ""), []).append(int(i))
        if inv_cur[i]:
            by_label.setdefault((int(label[i]), str(inv_cur[i])), []).append(int(i))
    comp_size = np.bincount(label)

    out = ClearingJoin(np.empty(0, dtype=np.int64), [], [], [])
    positions: list[int] = []
    reasons: Counter[str] = Counter()
    cursor: dict[tuple[int, str], int] = {}  # per clearing (and currency): its first open invoice

    def emit(p: int, i: int | None, piece_id: str | None = None, amount: str | None = None) -> None:
        positions.append(p)
        out.invoice_id.append(None if i is None else str(inv_ids[i]))
        out.payment_id.append(piece_id)
        out.amount.append(amount)
        if pay_cleared is not None and inv_cleared is not None:
            day = None if i is None else str(pay_cleared[p] or inv_cleared[i]) or None
            out.allocated_on.append(day)
            if i is not None and (
                (pay_unread is not None and pay_unread[p]) or (inv_unread is not None and inv_unread[i])
            ):
                out.cleared_unreadable += 1

    # allocated earliest payment first; written in the file's order (None: the row goes on whole)
    allocation: list[list[tuple[int | None, int]] | None] = [None] * npay
    for p in _order(paid_day, npay).tolist():
        lab = int(label[ni + p])
        group = (lab, str(pay_cur[p]))
        invs = by_label.get(group)
        if not invs:
            if by_label.get((lab, "")):
                reason = "other_currency"
            elif comp_size[lab] == 1 and refs[ni + p] == "":
                reason = "no_clearing"
            elif p in split_pay:  # its invoices are in a clearing of the same number, other scope cells
                reason = "scope_differs"
            else:
                reason = "clears_no_invoice"
            reasons[reason] += 1
            continue
        left = int(pay_mills[p])
        if left <= 0 or not pay_ids[p]:  # no amount to allocate, or no number to make pieces' ids
            # of: the row goes on whole (quarantined, or netted on its own)
            reasons["amount_not_positive" if left <= 0 else "no_payment_id"] += 1
            continue
        pieces: list[tuple[int | None, int]] = []
        j = cursor.get(group, 0)
        while j < len(invs) and inv_open[invs[j]] == 0:  # covered (by this list or the other one)
            j += 1
        cursor[group] = j
        latest = paid_day[p] + prepayment_days if paid_day is not None else np.nan
        for k in range(j, len(invs)):  # by index: no copy of a large clearing's list per payment
            i = invs[k]
            if left <= 0:
                break
            if inv_open[i] == 0 or (issue_day is not None and issue_day[i] > latest):
                continue  # covered, or issued after the payment beyond a prepayment: not this one's
            take = min(left, int(inv_open[i]))
            pieces.append((int(i), take))
            inv_open[i] -= take
            left -= take
        if left > 0:
            pieces.append((None, left))
        if pieces[0][0] is None:  # the clearing's invoices were covered by its earlier payments
            reasons["exceeds_cleared_invoices"] += 1
        else:
            out.rows_allocated += 1
        allocation[p] = pieces
    for p, pieces in enumerate(allocation):
        if pieces is None:
            emit(p, None)
            continue
        if len(pieces) == 1:
            emit(p, pieces[0][0])
            continue
        out.rows_split += 1
        out.pieces_added += len(pieces) - 1
        for inv, mills in pieces:
            emit(
                p,
                inv,
                f"{pay_ids[p]}/{inv_ids[inv] if inv is not None else 'unallocated'}",
                mills_text(sign * mills, decimal),
            )
    out.positions = np.asarray(positions, dtype=np.int64)
    out.unallocated = dict(sorted(reasons.items()))
    out.scope_split = out_split
    return out
