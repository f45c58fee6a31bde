"""Corrupted rows for exercising quarantine at scale (``ews generate --defects RATE``).

Defects are *extra* rows appended to each chunk of invoices and payments (about ``rate`` times the
clean row count), so the clean ledger and its ground truth stay intact and every injected row is
one row that ingest must quarantine. Corrupted rows copy a real row and break one rule:

- invoices: ``amount_not_positive``, ``due_before_issue``, ``missing_value`` (no debtor_id),
  ``duplicate_row`` (exact copy of a real row: only the copy is rejected), ``duplicate_id`` (two
  extra rows sharing a new id with different amounts: both are rejected), ``unparseable_date``
  (CSV only);
- payments: ``amount_not_positive``, ``unknown_debtor``, ``missing_value`` (no paid_on),
  ``duplicate_row``, ``unparseable_date`` (CSV only).

Extra rows get new ids (``IX...``/``PX...``) that no payment references, so nothing cascades.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEFECT_KINDS", "inject_defects"]

DEFECT_KINDS: tuple[str, ...] = (
    "amount_not_positive",
    "due_before_issue",
    "missing_value",
    "duplicate_row",
    "duplicate_id",
    "unknown_debtor",
    "unparseable_date",
)
_INVOICE_KINDS = ("amount_not_positive", "due_before_issue", "missing_value", "duplicate_row", "duplicate_id")
_PAYMENT_KINDS = ("amount_not_positive", "unknown_debtor", "missing_value", "duplicate_row")
_DATE_COLS = {"invoices": ("issue_date", "due_date"), "payments": ("paid_on",)}


def _new_ids(prefix: str, chunk: int, start: int, n: int) -> pa.Array:
    return pa.array([f"{prefix}{chunk:04d}{start + i:08d}" for i in range(n)], type=pa.string())


def _dates_as_text(table: pa.Table, cols: tuple[str, ...]) -> pa.Table:
    for col in cols:
        idx = table.schema.get_field_index(col)
        table = table.set_column(idx, col, pc.strftime(table[col], format="%Y-%m-%d"))
    return table


def _set(table: pa.Table, col: str, values: pa.Array) -> pa.Table:
    idx = table.schema.get_field_index(col)
    return table.set_column(idx, col, values.cast(table.schema.field(col).type))


def inject_defects(
    tables: dict[str, pa.Table], rate: float, seed: int, chunk: int, *, csv: bool
) -> tuple[dict[str, pa.Table], dict[str, dict[str, int]]]:
    """Append corrupted rows to invoices and payments; return the new tables and counts per kind.

    With ``csv`` the date columns of both tables become ``YYYY-MM-DD`` text (so a date can be
    unparseable). Counts are rows that ingest must quarantine.
    """
    rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(chunk, 7)))
    out = dict(tables)
    counts: dict[str, dict[str, int]] = {}
    for name, kinds in (("invoices", _INVOICE_KINDS), ("payments", _PAYMENT_KINDS)):
        clean = tables[name]
        if csv:
            clean = _dates_as_text(clean, _DATE_COLS[name])
        kinds = (*kinds, "unparseable_date") if csv else kinds
        n_bad = int(round(rate * clean.num_rows))
        if clean.num_rows == 0 or n_bad == 0:
            out[name] = clean
            continue
        kind_of = rng.integers(0, len(kinds), n_bad)
        parts = [clean]
        counts[name] = {}
        next_id = 0
        key = "invoice_id" if name == "invoices" else "payment_id"
        prefix = "IX" if name == "invoices" else "PX"
        for k, kind in enumerate(kinds):
            m = int((kind_of == k).sum())
            if m == 0:
                continue
            if kind == "duplicate_id":
                m = max(2, m - m % 2)
            src = clean.take(pa.array(rng.integers(0, clean.num_rows, m)))
            if kind != "duplicate_row":
                if kind == "duplicate_id":
                    ids = _new_ids(prefix, chunk, next_id, m // 2)
                    src = _set(src, key, pa.concat_arrays([ids, ids]))
                    next_id += m // 2
                    src = _set(src, "amount", pa.array(np.round(rng.uniform(10, 5000, m), 2)))
                else:
                    src = _set(src, key, _new_ids(prefix, chunk, next_id, m))
                    next_id += m
                if name == "payments":
                    src = _set(src, "invoice_id", pa.nulls(m, pa.string()))
            if kind == "amount_not_positive":
                # a payment's exact negative (same debtor, invoice, date) is a reversal that ingest nets
                # out with the payment it copies (s12); 0.01 more keeps it a bad amount of its own
                extra = 0.01 if name == "payments" else 0.0
                amt = -(np.abs(src["amount"].to_numpy()) + extra) * (rng.random(m) < 0.7)
                src = _set(src, "amount", pa.array(amt))
            elif kind == "due_before_issue":
                issue = src["issue_date"]
                if csv:
                    issue = pc.strptime(issue, format="%Y-%m-%d", unit="ms")
                due = pc.subtract(
                    issue, pa.array(rng.integers(1, 31, m) * 86_400_000).cast(pa.duration("ms"))
                )
                src = _set(src, "due_date", pc.strftime(due, format="%Y-%m-%d") if csv else due)
            elif kind == "missing_value":
                col = "debtor_id" if name == "invoices" else "paid_on"
                src = _set(src, col, pa.nulls(m, src.schema.field(col).type))
            elif kind == "unknown_debtor":
                src = _set(
                    src, "debtor_id", pa.array(["DX" + f"{i:06d}" for i in range(m)], type=pa.string())
                )
            elif kind == "unparseable_date":
                col = _DATE_COLS[name][0]
                src = _set(src, col, pa.array(["2024-02-31"] * m, type=pa.string()))
            parts.append(src)
            counts[name][kind] = m
        out[name] = pa.concat_tables(parts)
    return out, counts
