"""Rows of an export that are not this table's: a report's group rows and a ledger's other types.

Two source-config options of an input (``conf/sources/README.md``, "Row options"), applied to the
file as read, before its columns are mapped:

- ``fill_down``: a report grouped by customer (Xero's Aged Receivables Detail, QuickBooks' Open
  Invoices, Sage's customer activity) names the customer once per group. A column listed by name
  has its empty cells filled with the value above; a ``{column, into}`` entry takes the group's name
  from the group's own row (a row with nothing but that cell) into a new column. The group's own
  rows (``group_header``) and the rows that total a group or the report (``group_total``) are left
  out.
- ``rows``: ``keep`` / ``drop`` rows by the value of one column (a customer ledger's document type:
  Business Central's Invoice / Payment / Credit Memo, SAP's RV / DZ).

Rows left out are counted by reason (``group_header``, ``group_total``, ``<column>: <value>``), so
that rows read = accepted + quarantined + filtered. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config.source import FileSource, GroupColumn, RowCondition
from pipelines.sources.read import RawFile, TableError

# A report's total line: the label alone ("Total", "Grand Total", "Totals:", "Summe") or a group's
# ("Total Acme Ltd", "Total for Acme Ltd", "Acme Ltd Total"; checked against the group's own name, so
# a customer called "Total Logistics" stays a customer).
_TOTAL_WORDS = (
    r"(?:(?:grand|sub|sub-|report|overall)\s*totals?|totals?|sum|sums|summe|gesamt|gesamtsumme|zwischensumme|"
    r"endsumme|somme|total g[eé]n[eé]ral|totaal|totale|totaux|totals? for all.*|totals? \(.*\))"
)
_TOTAL_LABEL = re.compile(rf"(?i)^\s*{_TOTAL_WORDS}\s*[:.]?\s*$")


def _group_total(text: str, group: str | None) -> bool:
    """True when ``text`` (a row's first cell) is a total line's label, of the report or of ``group``."""
    if _TOTAL_LABEL.match(text):
        return True
    if not group:
        return False
    t, g = text.strip().rstrip(":.").strip().casefold(), group.strip().casefold()
    return t in (f"total {g}", f"total for {g}", f"{g} total", f"totals {g}", f"subtotal {g}")


def group_columns(spec: FileSource) -> list[GroupColumn | str]:
    """The ``fill_down`` entries of an input."""
    return list(spec.fill_down)


def added_columns(spec: FileSource) -> list[str]:
    """Columns that ``fill_down`` adds to the file (the ``into`` names)."""
    return [g.into for g in spec.fill_down if isinstance(g, GroupColumn)]


def check_columns(spec: FileSource, present: list[str], label: str, path: Path) -> list[str]:
    """The file's columns as the mapping sees them (with the ``into`` columns added). Raises
    :class:`TableError` naming the option, the column and the file's columns when one is missing."""
    wanted: list[tuple[str, str]] = []
    for k, g in enumerate(spec.fill_down):
        wanted.append((f"fill_down[{k}]" + (".column" if isinstance(g, GroupColumn) else ""), _name(g)))
    if spec.rows is not None:
        for key in ("keep", "drop"):
            cond = getattr(spec.rows, key)
            if cond is not None:
                wanted.append((f"rows.{key}.column", cond.column))
    for key, column in wanted:
        if column not in present:
            raise TableError(
                f"{label}: {path} has no column {column!r} ({label}.{key} in the source config). Columns in "
                f"the file: {present}. Fix the column name (as in the file's header)."
            )
    out = list(present)
    for into in added_columns(spec):
        if into in out:
            raise TableError(
                f"{label}: fill_down into {into!r}, but {path} already has a column {into!r}; choose another name"
            )
        out.append(into)
    return out


def _name(g: GroupColumn | str) -> str:
    return g.column if isinstance(g, GroupColumn) else g


def _blank(values: pd.Series, na_values: tuple[str, ...]) -> np.ndarray:
    """True where a cell is empty (null, spaces only, or an na spelling)."""
    text = values.astype("string").str.strip()
    return (text.isna() | text.isin(list(na_values)) | (text == "")).to_numpy(dtype=bool)


def shape_rows(
    raw: RawFile, spec: FileSource, na_values: tuple[str, ...], delimiter: str
) -> tuple[RawFile, dict[str, int]]:
    """``raw`` with ``fill_down`` and ``rows`` applied, and the counts of the rows left out by reason.

    The rows that could not be split into the header's columns (``malformed``) are matched too: a
    group's name alone on a short line (Xero writes the contact so) is its group's own row, and a
    malformed row whose salvaged filter cell is known and left out is counted as filtered, not
    quarantined."""
    filtered: Counter[str] = Counter()
    if spec.fill_down:
        raw = _fill_down(raw, spec, na_values, delimiter, filtered)
    if spec.rows is not None:
        raw = _filter(raw, spec, filtered)
    return raw, dict(sorted(filtered.items()))


def _fill_down(
    raw: RawFile, spec: FileSource, na_values: tuple[str, ...], delimiter: str, filtered: Counter[str]
) -> RawFile:
    frame, malformed = raw.frame, raw.malformed
    columns = list(frame.columns)
    groups = [_name(g) for g in spec.fill_down]
    # a short line holding only a group column's cell (the group's name on a line of its own)
    mal_fields = [str(line).split(delimiter) for line in malformed["raw_line"].fillna("")]
    positions = {c: columns.index(c) for c in groups}
    mal_header = np.array(
        [
            bool(fields)
            and any(f.strip() for f in fields)
            and all(not f.strip() or k in positions.values() for k, f in enumerate(fields))
            for fields in mal_fields
        ],
        dtype=bool,
    )
    n = len(frame)
    blank = {c: _blank(frame[c], na_values) for c in columns}
    others = [c for c in columns if c not in groups]
    only_groups = np.ones(n, dtype=bool)
    for c in others:
        only_groups &= blank[c]
    any_group = np.zeros(n, dtype=bool)
    for c in groups:
        any_group |= ~blank[c]
    header = only_groups & any_group
    # every row in file order: the frame's rows and the malformed group rows (by source_row)
    order_rows = np.concatenate([raw.source_row, malformed["source_row"].to_numpy()[mal_header]])
    is_frame = np.concatenate([np.ones(n, dtype=bool), np.zeros(int(mal_header.sum()), dtype=bool)])
    index = np.concatenate([np.arange(n), np.flatnonzero(mal_header)])
    order = np.argsort(order_rows, kind="stable")
    first_cell = _first_cells(frame, columns, blank)
    current: dict[str, str | None] = dict.fromkeys(groups)
    filled = {c: frame[c].astype("string").copy() for c in groups}
    into = {_name(g): g.into for g in spec.fill_down if isinstance(g, GroupColumn)}
    into_values = {c: pd.Series(pd.NA, index=frame.index, dtype="string") for c in into}
    drop = np.zeros(n, dtype=bool)
    for k in order:
        i = int(index[k])
        if not is_frame[k]:  # a malformed group row: its name in the group column's position
            fields = mal_fields[i]
            for c, pos in positions.items():
                if pos < len(fields) and fields[pos].strip():
                    current[c] = fields[pos].strip()
            continue
        if header[i]:
            for c in groups:
                if not blank[c][i]:
                    current[c] = str(frame[c].iat[i]).strip()
            drop[i] = True
            filtered["group_header"] += 1
            continue
        label = first_cell[i]
        if label is not None and any(_group_total(label, current[c]) for c in groups):
            drop[i] = True
            filtered["group_total"] += 1
            continue
        for c in groups:
            if c in into:
                into_values[c].iat[i] = current[c]
            elif blank[c][i]:
                filled[c].iat[i] = current[c]
            else:
                current[c] = str(frame[c].iat[i]).strip()
    filtered["group_header"] += int(mal_header.sum())
    if not filtered["group_header"]:
        del filtered["group_header"]
    new = frame.copy()
    for c in groups:
        if c not in into:
            new[c] = filled[c]
    for c, name in into.items():
        new[name] = into_values[c]
    keep = ~drop
    return replace(
        raw,
        frame=new.loc[keep].reset_index(drop=True),
        source_row=raw.source_row[keep],
        source_line=None if raw.source_line is None else raw.source_line[keep],
        malformed=malformed.loc[~mal_header].reset_index(drop=True),
    )


def _first_cells(frame: pd.DataFrame, columns: list[str], blank: dict[str, np.ndarray]) -> list[str | None]:
    """Each row's first non-empty cell, as text (None for an empty row)."""
    out = pd.Series(pd.NA, index=range(len(frame)), dtype="string")
    todo = np.ones(len(frame), dtype=bool)
    for c in columns:
        take = todo & ~blank[c]
        if take.any():
            out[take] = frame[c].astype("string").to_numpy()[take]
            todo &= ~take
    return [None if pd.isna(v) else str(v) for v in out]


def _matches(values: pd.Series, cond: RowCondition) -> np.ndarray:
    """Rows whose cell is one of the condition's values (trimmed, case-insensitive; "" = empty)."""
    text = values.astype("string").str.strip().fillna("").str.casefold()
    wanted = [v.strip().casefold() for v in cond.values]
    return text.isin(wanted).to_numpy(dtype=bool)


def _filter(raw: RawFile, spec: FileSource, filtered: Counter[str]) -> RawFile:
    rows = spec.rows
    assert rows is not None
    frame, malformed = raw.frame, raw.malformed
    out = np.zeros(len(frame), dtype=bool)
    mal_out = np.zeros(len(malformed), dtype=bool)
    for cond in (rows.keep, rows.drop):  # each row counted under the first condition that leaves it out
        if cond is None:
            continue
        hit = _matches(frame[cond.column], cond)
        gone = (~hit if cond is rows.keep else hit) & ~out
        _count(frame[cond.column], gone, cond.column, filtered)
        out |= gone
        if cond.column in malformed.columns:  # a damaged line whose leading cells were read
            known = malformed[cond.column].notna().to_numpy()
            mhit = _matches(malformed[cond.column], cond)
            mgone = known & (~mhit if cond is rows.keep else mhit) & ~mal_out
            _count(malformed[cond.column], mgone, cond.column, filtered)
            mal_out |= mgone
    keep = ~out
    return replace(
        raw,
        frame=frame.loc[keep].reset_index(drop=True),
        source_row=raw.source_row[keep],
        source_line=None if raw.source_line is None else raw.source_line[keep],
        malformed=malformed.loc[~mal_out].reset_index(drop=True),
    )


def _count(values: pd.Series, mask: np.ndarray, column: str, filtered: Counter[str]) -> None:
    if mask.any():
        shown = values.astype("string").str.strip().fillna("").to_numpy()[mask]
        filtered.update(f"{column}: {v or '(empty)'}" for v in shown)
