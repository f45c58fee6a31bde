"""Ids for payments exported without a number (``ids_from_rows`` of ``tables.payments``), and ids
qualified by their company code and fiscal year (``id_scope``: :func:`scoped_ids`).

QuickBooks leaves a payment's ``Num`` empty unless a reference was typed. Such a payment gets the id
``row-<hash>-<n>``: ``<hash>`` the first 12 hex digits of the SHA-256 of the row's cells (every
column of the file as read, trimmed, the id's own column and the ``ids_leave_out`` columns left out:
a running balance changes on every row after a back-dated entry), ``<n>`` its place (1, 2, ...)
in a run of equal adjacent rows. So:

- two equal payments of a day (adjacent rows: an export sorted by any of its columns puts equal rows
  together) stay two payments, ``...-1`` and ``...-2``;
- a rerun on the same file gives the same ids (a later export with rows added keeps them too);
- an export appended to itself repeats each row away from its first copy: the copy gets the same id,
  so it is an exact copy (``duplicate_row``), quarantined, not a second payment. Equal rows that
  are not adjacent are read so too (one kept): the safe side, as cash counted twice would mark
  invoices paid that are not.

A row with a number keeps it. Pure: no I/O.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def ids_from_rows(
    frame: pd.DataFrame,
    ids: pd.Series | None,
    id_column: str | None,
    na_values: tuple[str, ...],
    leave_out: tuple[str, ...] = (),
) -> tuple[pd.Series, int]:
    """The payment ids with the empty ones made from their rows, and how many were made. The columns
    in ``leave_out`` (``ids_leave_out``: a running balance, which a back-dated entry changes on every
    later row) are not part of the hash."""
    n = len(frame)
    if ids is None:
        ids = pd.Series(pd.NA, index=range(n), dtype="string")
    ids = ids.reset_index(drop=True).astype("string")
    text = ids.str.strip()
    empty = (text.isna() | text.isin(list(na_values)) | (text == "")).to_numpy(dtype=bool)
    if not empty.any():
        return ids, 0
    cells = [c for c in frame.columns if c != id_column and c not in leave_out]
    parts = frame[cells].reset_index(drop=True).astype("string").apply(lambda s: s.str.strip()).fillna("")
    content = parts.agg("\x1f".join, axis=1).to_numpy(dtype=object) if cells else np.full(n, "", dtype=object)
    digest = np.array(
        [
            hashlib.sha256(str(c).encode("utf-8")).hexdigest()[:12] if e else ""
            for c, e in zip(content, empty, strict=True)
        ],
        dtype=object,
    )
    out = ids.to_numpy(dtype=object).copy()
    run = 0
    for k in np.flatnonzero(empty):
        same = k > 0 and empty[k - 1] and digest[k - 1] == digest[k]
        run = run + 1 if same else 1
        out[k] = f"row-{digest[k]}-{run}"
    return pd.Series(out, dtype="string"), int(empty.sum())


def scoped_ids(
    ids: pd.Series, frame: pd.DataFrame, columns: tuple[str, ...], na_values: tuple[str, ...]
) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """``ids`` (a table's own document numbers) qualified by the row's cells in ``columns``
    (``id_scope``): the cells and the number joined by '/' (``1000/2024/9000001``), each read as a
    bare id is (:func:`pipelines.sources.parse.parse_text`: trimmed, a whole float of a Parquet
    file without its ``.0``), a whole number written as a float in a text file (``2024.0``) written
    as one. An empty number stays empty (it is missing), one that cannot be an id (``null``) stays
    bare (refused as a bare one is); a row with a number and an empty scope cell keeps its bare
    number and is flagged per column (``empty_id_scope:<column>``: quarantined, since a later export
    with the cell filled would name it otherwise). A scope cell of digits only is read without its
    leading zeros (``0001`` and ``1`` are one company code: a spreadsheet drops the zeros SAP
    writes); the number itself is kept as written."""
    from pipelines.sources.parse import parse_text

    n = len(frame)
    number, not_id = parse_text(ids.reset_index(drop=True), is_id=True)
    has = ~(number.isna() | number.isin(list(na_values))).to_numpy(dtype=bool)
    text = number.fillna("").to_numpy(dtype=object)
    out = np.full(n, "", dtype=object)
    bad: dict[str, np.ndarray] = {}
    parts = []
    for column in columns:
        cell = parse_text(frame[column].reset_index(drop=True))[0]
        cell = cell.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        # a cell of digits only without its leading zeros: SAP writes company code 0001, a
        # spreadsheet the same cell as 1 (one document, one id); 0A01 keeps them, 0000 is 0
        cell = cell.str.replace(r"^0+(\d+)$", r"\1", regex=True)
        empty = (cell.isna() | cell.isin(list(na_values)) | (cell == "")).to_numpy(dtype=bool)
        if (has & empty).any():
            bad[f"empty_id_scope:{column}"] = has & empty
        parts.append(cell.fillna("").to_numpy(dtype=object))
    for part in parts:
        out = out + part + "/"
    missing = np.zeros(n, dtype=bool)
    for mask in bad.values():
        missing |= mask
    qualified = np.where(has & ~missing & ~not_id, out + text, np.where(has, text, None))
    return pd.Series(qualified, dtype="string"), bad
