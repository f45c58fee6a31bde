"""A payment listed once per invoice it was applied to (``tables.payments.applied_amount``).

NetSuite's transaction search with the ``Applied To Transaction`` column lists a customer payment
applied to several invoices once per invoice: every row repeats the payment's number and its total
(``Amount``), names one invoice and, in ``Applied To Link Amount``, the part of the payment applied
to it. Read as they are, those rows are one payment id several times with the total on each
(quarantined ``duplicate_id``, the payment lost, or, with other ids, the payment counted once per
invoice). Here each row becomes the payment's part of its invoice: id ``<payment>/<invoice>`` (as a
ledger's clearing names its pieces), amount the applied amount. What the payment leaves unapplied
(total - applied) is one more row ``<payment>/unallocated`` without an invoice (cash on account), so
the parts add up to the payment. A row of the payment without an invoice (the search's main line,
when it is listed too) carries that remainder, or is left out (``payment_main_line``) when nothing is
left. A payment applied to one invoice in full keeps its id and row. Payments whose rows disagree on
the total (``payment_total_differs``), whose applied amounts exceed it (``applied_exceeds_payment``)
or that leave an applied cell of several empty or unreadable (``unreadable_applied_amount``) are left
as they are and their rows marked with the reason (quarantined). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.sources.parse import parse_numbers, to_mills

__all__ = ["AppliedSplit", "split_applied"]


@dataclass
class AppliedSplit:
    """The rows after the split: ``positions`` (each output row's input row; a remainder row repeats
    the payment's last row), ``payment_id`` and ``amount`` (thousandths; None = the row's own cell),
    ``no_invoice`` (True: a remainder row, no invoice), ``bad`` (reason -> mask over the output
    rows), and the counts for the manifest."""

    positions: np.ndarray
    payment_id: list[str | None]
    amount: list[int | None]  # thousandths, signed as the file writes the payment's total
    no_invoice: np.ndarray
    bad: dict[str, np.ndarray] = field(default_factory=dict)
    payments_split: int = 0
    pieces_added: int = 0
    main_lines_left_out: int = 0

    def summary(self) -> dict[str, int]:
        return {
            "payments_split": self.payments_split,
            "pieces_added": self.pieces_added,
            "main_lines_left_out": self.main_lines_left_out,
        }


def _text(values: pd.Series) -> np.ndarray:
    return values.astype("string").str.strip().fillna("").to_numpy(dtype=object)


def split_applied(
    payment_id: pd.Series,
    invoice_id: pd.Series,
    amount: pd.Series,
    applied: pd.Series,
    decimal: str,
    thousands: str | None,
    grouping: str = "thousands",
) -> AppliedSplit:
    """Each payment's rows split by the invoice each names (module docstring). The amounts are read
    as the table's amounts are (``decimal``, ``thousands``); a total written negative gives parts
    written negative (``negate_amount`` then reverses them all alike)."""
    n = len(payment_id)
    pid = _text(payment_id)
    inv = _text(invoice_id)
    total_v, total_bad = parse_numbers(amount.reset_index(drop=True), decimal, thousands, grouping)
    app_v, app_bad = parse_numbers(applied.reset_index(drop=True), decimal, thousands, grouping)
    # thousandths, not cents: a 3-decimal currency's 0.625 stays 0.625 (parse.MILLS)
    total_c = to_mills(total_v.to_numpy(dtype="float64", na_value=np.nan))
    app_c = to_mills(app_v.to_numpy(dtype="float64", na_value=np.nan))
    app_ok = np.isfinite(app_c) & ~np.asarray(app_bad, dtype=bool)
    tot_ok = np.isfinite(total_c) & ~np.asarray(total_bad, dtype=bool)

    # only payments with an invoice-naming row and either several rows or a part left unapplied
    has_id = pid != ""
    frame = pd.DataFrame({"pid": pid, "row": np.arange(n)})[has_id]
    sizes = frame.groupby("pid", sort=False)["row"].transform("size").to_numpy()
    applies = inv[frame["row"].to_numpy()] != ""
    rows_of = frame["row"].to_numpy()
    partial = (
        applies & app_ok[rows_of] & tot_ok[rows_of] & (np.abs(app_c[rows_of]) != np.abs(total_c[rows_of]))
    )
    candidate = pd.Series((sizes > 1) | partial, index=frame.index)
    wanted = set(frame.loc[candidate.to_numpy() & applies, "pid"].tolist())

    reasons: Counter[str] = Counter()
    row_bad: dict[str, np.ndarray] = {}
    new_id: dict[int, str] = {}
    new_amount: dict[int, int] = {}
    dropped = np.zeros(n, dtype=bool)
    extra: dict[int, tuple[str, int]] = {}  # after this input row: a remainder row (id, amount)
    out = AppliedSplit(np.empty(0, dtype=np.int64), [], [], np.zeros(0, dtype=bool))

    def mark(reason: str, rows: list[int]) -> None:
        row_bad.setdefault(reason, np.zeros(n, dtype=bool))[rows] = True
        reasons[reason] += 1

    groups = frame[frame["pid"].isin(wanted)].groupby("pid", sort=False)["row"]
    for p, idx in groups:
        rows = idx.to_list()
        apply_rows = [r for r in rows if inv[r] != ""]
        main_rows = [r for r in rows if inv[r] == ""]
        totals = {abs(int(total_c[r])) for r in rows if tot_ok[r]}
        if len(totals) != 1 or not all(tot_ok[r] for r in rows):
            mark("payment_total_differs", rows)
            continue
        total = totals.pop()
        sign = -1 if total_c[rows[0]] < 0 else 1
        cell = applied.iloc[apply_rows[0]] if len(apply_rows) == 1 else None
        if len(apply_rows) == 1 and not app_ok[apply_rows[0]] and (pd.isna(cell) or not str(cell).strip()):
            parts = [total]  # one invoice, no applied cell: the whole payment is its
        elif not all(app_ok[r] for r in apply_rows):
            mark("unreadable_applied_amount", rows)
            continue
        else:
            parts = [abs(int(app_c[r])) for r in apply_rows]
        left = total - sum(parts)
        if left < 0:
            mark("applied_exceeds_payment", rows)
            continue
        if len(apply_rows) == 1 and left == 0 and not main_rows:
            continue  # applied in full to one invoice: the row as it is
        out.payments_split += 1
        for r, part in zip(apply_rows, parts, strict=True):
            new_id[r] = f"{p}/{inv[r]}"
            new_amount[r] = sign * part
        for k, r in enumerate(main_rows):
            if k == 0 and left > 0:
                new_id[r] = f"{p}/unallocated"
                new_amount[r] = sign * left
            else:
                dropped[r] = True
                out.main_lines_left_out += 1
        if left > 0 and not main_rows:
            extra[apply_rows[-1]] = (f"{p}/unallocated", sign * left)
            out.pieces_added += 1

    keep = np.flatnonzero(~dropped)
    if not extra:
        out.positions = keep.astype(np.int64)
        out.no_invoice = np.zeros(len(keep), dtype=bool)
    else:  # a remainder row right after its payment's last row
        after = np.asarray(sorted(extra), dtype=np.int64)
        order = np.concatenate([keep, after])
        is_extra = np.concatenate([np.zeros(len(keep), dtype=bool), np.ones(len(after), dtype=bool)])
        sort = np.lexsort((is_extra, order))
        out.positions = order[sort].astype(np.int64)
        out.no_invoice = is_extra[sort]
    for r, piece in zip(out.positions.tolist(), out.no_invoice.tolist(), strict=True):
        if piece:
            out.payment_id.append(extra[r][0])
            out.amount.append(extra[r][1])
        else:
            out.payment_id.append(new_id.get(r))
            out.amount.append(new_amount.get(r))
    out.bad = {k: m[out.positions] for k, m in row_bad.items()}
    return out
