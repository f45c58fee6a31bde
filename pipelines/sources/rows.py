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
from pipelines.sources.read import RawFile, TableError, title_lines_hint

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
    # the label's trailing ':' or '.' is dropped, and so is the name's own ('Total for Acme, Inc.' is the
    # total of 'Acme, Inc.': before s25 the name's '.' was cut from the label only, and the row was
    # taken for a group's balance row)
    t, name = text.strip().rstrip(":.").strip().casefold(), group.strip().casefold()
    return any(
        t in (f"total {g}", f"total for {g}", f"{g} total", f"totals {g}", f"subtotal {g}")
        for g in {name, name.rstrip(":.").strip()}
    )


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
                wanted += [
                    (f"rows.{key}" + ".also" * depth + ".column", column)
                    for depth, column in enumerate(cond.columns())
                ]
    for k, column in enumerate(spec.id_scope):
        wanted.append((f"id_scope[{k}]", column))
    for k, column in enumerate(spec.ids_leave_out):
        wanted.append((f"ids_leave_out[{k}]", column))
    if spec.listed_under is not None:
        wanted += [
            ("listed_under.column", spec.listed_under.column),
            ("listed_under.number", spec.listed_under.number),
        ]
    if spec.credit is not None:
        wanted += [
            ("credit" + ".also" * depth + ".column", c) for depth, c in enumerate(spec.credit.columns())
        ]
    if spec.debit is not None:
        wanted.append(("debit", spec.debit))
    if spec.applied_amount is not None:
        wanted.append(("applied_amount", spec.applied_amount))
    for key, column in wanted:
        if column not in present:
            # a report's title lines read as the header (QuickBooks: the company's name): say where it is
            into = set(added_columns(spec))
            hint = title_lines_hint(
                path, [c for c in [*(c for _, c in wanted), *spec.columns.values()] if c not in into]
            )
            raise TableError(
                f"{label}: {path} has no column {column!r} ({label}.{key} in the source config). Columns in "
                f"the file: {present}. " + (hint.strip() or "Fix the column name (as in the file's header).")
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
    raw: RawFile, spec: FileSource, na_values: tuple[str, ...], delimiter: str, label: str = "input"
) -> tuple[RawFile, dict[str, int]]:
    """``raw`` with ``fill_down`` and ``rows`` applied, and the counts of the rows left out by reason.

    The rows that could not be split into the header's columns (``malformed``) are matched too: a
    group's name alone on a short line (Xero writes the contact so) is its group's own row, and a
    malformed row whose salvaged filter cell is known and left out is counted as filtered, not
    quarantined."""
    filtered: Counter[str] = Counter()
    if spec.fill_down:
        read = raw.rows_in
        raw = _fill_down(raw, spec, na_values, delimiter, filtered)
        if read and not raw.rows_in:
            raise TableError(_nothing_filled(raw.path, read, spec, filtered, label))
    if spec.rows is not None:
        before = raw
        raw = _filter(raw, spec, filtered)
        if before.rows_in and not raw.rows_in:
            raise TableError(_nothing_kept(before, spec, label))
    return raw, dict(sorted(filtered.items()))


def _nothing_filled(path: Path, read: int, spec: FileSource, filtered: Counter[str], label: str) -> str:
    """The message for a ``fill_down`` that leaves no row: every row was a group's own row or a total."""
    why = ", ".join(f"{k} {v:,}" for k, v in sorted(filtered.items()))
    return (
        f"{label}: fill_down leaves none of the {read:,} rows of {path} ({why}): every row holds nothing but "
        f"what {label}.fill_down lists {[_name(g) for g in spec.fill_down]}, or a total. Check that the "
        "listed columns are the report's group columns and that the file's detail rows are below its header."
    )


def _nothing_kept(raw: RawFile, spec: FileSource, label: str) -> str:
    """The message for a row filter that leaves no row: its values beside the column's own (each
    condition's, when keep and drop are both given)."""
    rows = spec.rows
    assert rows is not None
    both = rows.keep is not None and rows.drop is not None
    parts, held = [], []
    for key in ("keep", "drop"):
        cond = getattr(rows, key)
        if cond is None:
            continue
        parts.append(f"{label}.rows.{key}: column {cond.column!r}, values {list(cond.values)}")
        seen = raw.frame[cond.column].astype("string").str.strip().fillna("").replace("", "(empty)")
        counts = ", ".join(f"{v} ({n:,})" for v, n in sorted(seen.value_counts().items())[:12])
        held.append(
            f"The column {cond.column!r} holds: {counts}." if both else f"The column holds: {counts}."
        )
    return (
        f"{label}: the row filter leaves none of the {raw.rows_in:,} rows of {raw.path} "
        f"({'; '.join(parts)}). {' '.join(held)} Fix the values (compared trimmed and case-insensitively)."
    )


def _fill_down(
    raw: RawFile, spec: FileSource, na_values: tuple[str, ...], delimiter: str, filtered: Counter[str]
) -> RawFile:
    frame, malformed = raw.frame, raw.malformed
    columns = list(frame.columns)
    groups = [_name(g) for g in spec.fill_down]
    into = {_name(g): g.into for g in spec.fill_down if isinstance(g, GroupColumn)}
    positions = {c: columns.index(c) for c in groups}
    # a short line holding only group columns' cells (the group's name on a line of its own)
    mal_fields = [str(line).split(delimiter) for line in malformed["raw_line"].fillna("")]
    mal_header = np.array(
        [
            any(f.strip() for f in fields)
            and all(not f.strip() or k in positions.values() for k, f in enumerate(fields))
            for fields in mal_fields
        ],
        dtype=bool,
    )
    n = len(frame)
    blank = {c: _blank(frame[c], na_values) for c in columns}
    only_groups = np.ones(n, dtype=bool)
    for c in columns:
        if c not in groups:
            only_groups &= blank[c]
    any_group = np.zeros(n, dtype=bool)
    for c in groups:
        any_group |= ~blank[c]
    header = only_groups & any_group
    # a group's own row that also carries its balance (names the group too), unless it is a total
    shape, texty = _balance_rows(frame, spec, groups, blank, any_group & ~header)
    # every row in file order: the frame's rows, then the malformed group rows placed by source_row
    mal_rows = np.flatnonzero(mal_header)
    order = np.argsort(
        np.concatenate([raw.source_row, malformed["source_row"].to_numpy()[mal_rows]]), kind="stable"
    )
    m = n + len(mal_rows)
    is_header = np.concatenate([header, np.ones(len(mal_rows), dtype=bool)])[order]
    first = np.concatenate(
        [np.array(_first_cells(frame, columns, blank), dtype=object), [None] * len(mal_rows)]
    )[order]
    shape_o = np.concatenate([shape, np.zeros(len(mal_rows), dtype=bool)])[order]
    texty_o = np.concatenate([texty, np.zeros(len(mal_rows), dtype=bool)])[order]
    hint = np.array([t is not None and _TOTAL_HINT.search(t) is not None for t in first], dtype=bool)
    balance = shape_o & ~hint
    is_header |= balance
    cells: dict[str, np.ndarray] = {}  # per group column: its stripped cell per row (None if empty)
    for c in groups:
        own = (
            frame[c].astype("string").str.strip().astype(object).where(~pd.Series(blank[c]), None).to_numpy()
        )
        mal = [
            fields[positions[c]].strip() or None if positions[c] < len(fields) else None
            for fields in (mal_fields[k] for k in mal_rows)
        ]
        cells[c] = np.concatenate([own, np.array(mal, dtype=object)])[order]
    # a total line's label in the row's first cell: the report's total alone, or a group's (checked
    # against the group above it); never a group's own row
    candidate = ~is_header & hint
    total = np.zeros(m, dtype=bool)
    for _ in range(2):  # a candidate that is no total (a customer 'Total Logistics') names a group
        current = {c: _forward(cells[c], _sources(c, into, is_header, total, candidate)) for c in groups}
        total = candidate & np.array(
            [
                _group_total(str(first[k]), None)
                or any(_group_total(str(first[k]), current[c][k]) for c in groups)
                if candidate[k]
                else False
                for k in range(m)
            ],
            dtype=bool,
        )
        candidate = total
    late = shape_o & hint & ~total  # 'Total Logistics' with its balance: no total, a group's row
    balance |= late
    is_header |= late
    current = {
        c: _forward(cells[c], _sources(c, into, is_header, total, np.zeros(m, dtype=bool))) for c in groups
    }
    # a row taken for a group's own row only by a text cell in a column of the group rows (a phone
    # number) must open its group: one that repeats the group in force above it (a damaged detail
    # row inside its group, with a note) is a detail row, quarantined for what it lacks
    inside = balance & texty_o & ~_opens(cells, current, groups)
    if inside.any():  # but the row that opened the group printed again (a page break) is its row again
        inside &= ~_repeats_opening(frame, order, n, is_header & ~inside, inside, blank, groups)
    if inside.any():
        balance &= ~inside
        is_header &= ~inside
        current = {
            c: _forward(cells[c], _sources(c, into, is_header, total, np.zeros(m, dtype=bool)))
            for c in groups
        }
    back = np.empty(m, dtype=np.int64)
    back[order] = np.arange(m)
    at = back[:n]  # each frame row's place in file order
    drop = (is_header | total)[at]
    filtered["group_header"] += int(header.sum()) + len(mal_rows)
    filtered["group_balance"] += int(balance.sum())
    filtered["group_total"] += int(total.sum())
    for reason in ("group_header", "group_balance", "group_total"):
        if not filtered[reason]:
            del filtered[reason]
    new = frame.copy()
    for c in groups:
        group = current[c][at]
        if c in into:
            new[into[c]] = pd.Series(group, index=new.index, dtype="string")
        else:
            own = new[c].astype("string").to_numpy(dtype=object)
            new[c] = pd.Series(np.where(blank[c], group, own), index=new.index, dtype="string")
    # a row still without its group (above the first group: nothing to copy) is quarantined with
    # its own reason, naming the column and the fix, rather than as a missing value
    orphan = np.zeros(n, dtype=bool)
    orphan_col = np.full(n, None, dtype=object)
    for c in groups:
        none = pd.isna(pd.Series(current[c][at], dtype=object)).to_numpy(dtype=bool) & ~drop & ~orphan
        if c not in into:
            none &= blank[c]
        orphan_col[none] = into.get(c, c)
        orphan |= none
    out = _kept(raw, new, ~drop & ~orphan, ~mal_header)
    if orphan.any():
        out = replace(out, malformed=_orphans(raw, new, orphan, orphan_col, into, delimiter, out.malformed))
    return out


def _orphans(
    raw: RawFile,
    frame: pd.DataFrame,
    orphan: np.ndarray,
    column: np.ndarray,
    into: dict[str, str],
    delimiter: str,
    malformed: pd.DataFrame,
) -> pd.DataFrame:
    """The rows above a report's first group (a fill_down column empty, nothing above to copy) as
    malformed rows: reason ``fill_down_no_value_above``, the detail naming the line, the column and
    the fix; their cells kept (a row filter applied after still sees them)."""
    rows = np.flatnonzero(orphan)
    lines = raw.source_line[rows] if raw.source_line is not None else None
    cells = frame.iloc[rows].reset_index(drop=True)
    details = []
    for k, r in enumerate(rows):
        where = f"line {int(lines[k])}" if lines is not None else f"row {int(raw.source_row[r])}"
        col = str(column[r])
        what = (
            f"the column {col!r} (fill_down into) has no group row above this one to take its name from"
            if col in into.values()
            else f"the cell in column {col!r} is empty and fill_down has no value above it to copy"
        )
        details.append(
            f"{where}: {what} (no value above: the row comes before the report's first group). Fix: "
            f"write the {col!r} value on this row in the file, or delete the rows above the first group."
        )
    raw_line = cells.astype("string").fillna("").agg(delimiter.join, axis=1) if len(cells.columns) else ""
    extra = pd.DataFrame(
        {
            "source_row": pd.Series(raw.source_row[rows], dtype="int64"),
            "source_line": pd.Series(lines if lines is not None else [pd.NA] * len(rows), dtype="Int64"),
            "raw_line": pd.Series(raw_line, dtype="string"),
            "reason": pd.Series(["fill_down_no_value_above"] * len(rows), dtype="string"),
            "detail": pd.Series(details, dtype="string"),
        }
        | {c: cells[c].astype("string") for c in cells.columns}
    )
    merged = pd.concat([malformed, extra], ignore_index=True)
    return merged.sort_values("source_row", kind="stable").reset_index(drop=True)


# a cell that is an amount: sign, currency sign or code, digits with separators, parentheses
_AMOUNT = re.compile(
    r"\(?\s*[-+]?\s*(?:[A-Za-z]{3}\s?|[$\u20ac\u00a3\u00a5\u20b9])?\s*[-+]?\d[\d,.'\s]*\s*(?:[A-Za-z]{3})?\s*\)?-?"
)
# the mapped columns a group's balance row leaves empty: its document's number and dates
_DOCUMENT_COLUMNS = ("invoice_id", "payment_id", "issue_date", "due_date", "paid_on")


def _opens(cells: dict[str, np.ndarray], current: dict[str, np.ndarray], groups: list[str]) -> np.ndarray:
    """Rows (file order) whose own group cells name another group than the one in force on the row
    above (the first row opens one): a group's own row starts its group."""
    m = len(next(iter(cells.values()))) if cells else 0
    out = np.zeros(m, dtype=bool)
    for c in groups:
        above = np.concatenate([np.array([None], dtype=object), current[c][:-1]]) if m else current[c]
        own = cells[c]
        out |= np.array([v is not None and v != a for v, a in zip(own, above, strict=True)], dtype=bool)
    return out


def _repeats_opening(
    frame: pd.DataFrame,
    order: np.ndarray,
    n: int,
    opening: np.ndarray,
    rows: np.ndarray,
    blank: dict[str, np.ndarray],
    groups: list[str],
) -> np.ndarray:
    """Per row in file order: among ``rows``, those whose every text cell (not an amount, outside the
    group columns) is in a column that the last ``opening`` row above them fills too: a group's own
    row printed again inside its group, as a report does after a page break (its telephone again;
    its credit limit or balance may differ), unlike a detail row with a note in a column its
    group's opening row leaves empty."""
    out = np.zeros(len(order), dtype=bool)
    seen = np.maximum.accumulate(np.where(opening, np.arange(len(order)), -1))
    above = np.concatenate([[-1], seen[:-1]]) if len(order) else seen
    others = [c for c in frame.columns if c not in groups]
    for k in np.flatnonzero(rows):
        j = above[k]
        if j < 0 or order[k] >= n or order[j] >= n:
            continue
        r, o = int(order[k]), int(order[j])
        text = [
            c for c in others if not blank[c][r] and _AMOUNT.fullmatch(str(frame[c].iloc[r]).strip()) is None
        ]
        out[k] = all(not blank[c][o] for c in text)
    return out


def _balance_rows(
    frame: pd.DataFrame, spec: FileSource, groups: list[str], blank: dict[str, np.ndarray], maybe: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows that name a group and carry its balance (Sage's account row with credit limit and
    balance, an Excel pivot's subtotals at the top of a group): a group cell filled, the mapped
    document number and dates empty (when they are not group columns), every other cell an amount
    or in a column that no row with a document number fills (the account's phone number or e-mail:
    a column of the group rows only; a detail row's text, such as its document type, is in a column
    detail rows use, so such a row stays a bad detail row). Without a mapped document number in the
    file, no row is taken for one (a bad row stays bad). Also returns the rows taken only thanks to
    a text cell in such a column (``_fill_down`` keeps them as group rows only where they open their
    group)."""
    mapped = [spec.columns.get(k, k) for k in _DOCUMENT_COLUMNS]
    mapped = [c for c in dict.fromkeys(mapped) if c in frame.columns and c not in groups]
    texty = np.zeros(len(frame), dtype=bool)
    if not any(spec.columns.get(k, k) in mapped for k in ("invoice_id", "payment_id")):
        return np.zeros(len(frame), dtype=bool), texty
    out = maybe.copy()
    for c in mapped:
        out &= blank[c]
    rows = np.flatnonzero(out)
    if not len(rows):
        return out, texty
    ids = [spec.columns.get(k, k) for k in ("invoice_id", "payment_id")]
    detail = np.zeros(len(frame), dtype=bool)
    for c in ids:
        if c in mapped:
            detail |= ~blank[c]
    for c in frame.columns:
        if c in groups or c in mapped:
            continue
        text = frame[c].iloc[rows].astype("string").str.strip()
        ok = blank[c][rows] | text.str.fullmatch(_AMOUNT).fillna(False).to_numpy(dtype=bool)
        if detail.any() and blank[c][detail].all():  # a column of the group rows only (a phone number)
            texty[rows[~ok]] = True
            continue
        out[rows[~ok]] = False
    return out, texty & out


def _kept(raw: RawFile, frame: pd.DataFrame, keep: np.ndarray, mal_keep: np.ndarray) -> RawFile:
    """``raw`` with the rows ``keep`` of ``frame`` (its frame, or a changed copy) and the malformed
    rows ``mal_keep``, their source rows and lines with them."""
    return replace(
        raw,
        frame=frame.loc[keep].reset_index(drop=True),
        source_row=raw.source_row[keep],
        source_line=None if raw.source_line is None else raw.source_line[keep],
        malformed=raw.malformed.loc[mal_keep].reset_index(drop=True),
    )


# a first cell that may be a total line's label (confirmed by _group_total)
_TOTAL_HINT = re.compile(rf"(?i)^\s*{_TOTAL_WORDS}\s*[:.]?\s*$|^\s*(?:sub)?totals?\b|\btotal\s*[:.]?\s*$")


def _sources(
    column: str, into: dict[str, str], is_header: np.ndarray, total: np.ndarray, candidate: np.ndarray
) -> np.ndarray:
    """Rows whose cell names the group from there on: a group's own rows (``into``), or every row
    with a value that is no total line (in place); unconfirmed candidates count as values."""
    if column in into:
        return is_header.copy()
    return ~(total | (candidate & ~total))


def _forward(values: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Each row's last non-empty value among the source rows at or above it (None before the first)."""
    picked = pd.Series(np.where(sources, values, None), dtype=object)
    return picked.ffill().where(picked.ffill().notna(), None).to_numpy(dtype=object)


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


def matches(values: pd.Series, cond: RowCondition) -> np.ndarray:
    """Rows whose cell is one of the condition's values (trimmed, case-insensitive; "" = empty)."""
    text = values.astype("string").str.strip().fillna("").str.casefold()
    wanted = [v.strip().casefold() for v in cond.values]
    return text.isin(wanted).to_numpy(dtype=bool)


def matches_in(frame: pd.DataFrame, cond: RowCondition) -> np.ndarray:
    """Rows of ``frame`` matching ``cond`` or its ``also`` condition (either one)."""
    hit = matches(frame[cond.column], cond)
    if cond.also is not None:
        hit = hit | matches_in(frame, cond.also)
    return hit


def _filter(raw: RawFile, spec: FileSource, filtered: Counter[str]) -> RawFile:
    rows = spec.rows
    assert rows is not None
    frame, malformed = raw.frame, raw.malformed
    out = np.zeros(len(frame), dtype=bool)
    mal_out = np.zeros(len(malformed), dtype=bool)
    for cond in (rows.keep, rows.drop):  # each row counted under the first condition that leaves it out
        if cond is None:
            continue
        hit = matches_in(frame, cond)
        gone = (~hit if cond is rows.keep else hit) & ~out
        _count(frame[cond.column], gone, cond.column, filtered)
        out |= gone
        if all(
            c in malformed.columns for c in cond.columns()
        ):  # a damaged line whose leading cells were read
            known = malformed[cond.column].notna().to_numpy()
            mhit = matches_in(malformed, cond)
            mgone = known & (~mhit if cond is rows.keep else mhit) & ~mal_out
            _count(malformed[cond.column], mgone, cond.column, filtered)
            mal_out |= mgone
    return _kept(raw, frame, ~out, ~mal_out)


# a keep filter on a column of many values (Odoo's payments kept by a zero debit: the invoices left
# out hold every amount) counts the rows it leaves out under one key, not one per value
FILTERED_VALUES_SHOWN = 20


def _count(values: pd.Series, mask: np.ndarray, column: str, filtered: Counter[str]) -> None:
    if mask.any():
        shown = values.astype("string").str.strip().fillna("").to_numpy()[mask]
        counts = Counter(f"{column}: {v or '(empty)'}" for v in shown)
        if len(counts) > FILTERED_VALUES_SHOWN:
            counts = Counter({f"{column}: {len(counts):,} other values": int(mask.sum())})
        filtered.update(counts)
