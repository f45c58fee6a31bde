"""Rejected rows: every reason of a row, and the quarantine table (raw values, source row, reason)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.ingest.masks import passing
from pipelines.ingest.sources import RawTable
from pipelines.ingest.workbooks import shown

# ---------------------------------------------------------------- outputs


def row_reasons(masks: dict[str, np.ndarray], n: int) -> pd.Series:
    """One ``"; "``-joined reason per rejected row (``<NA>`` for accepted rows), reasons sorted."""
    bad = ~passing(masks, n)
    idx = np.flatnonzero(bad)
    text = np.full(len(idx), "", dtype=object)
    for reason in sorted(masks):
        hit = masks[reason][idx]
        text[hit] = np.where(text[hit] == "", reason, text[hit] + "; " + reason)
    out = pd.Series(pd.NA, index=range(n), dtype="string")
    out.iloc[idx] = text
    return out


def _text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.dt.strftime("%Y-%m-%d").astype("string")
    return col.astype("string")


def quarantine_frame(
    raw: RawTable, typed: pd.DataFrame, reasons: pd.Series, rejected: np.ndarray
) -> pd.DataFrame:
    """Rejected rows: source_file, source_row, source_line (CSV), reason, the row's values, raw_line
    and detail (rows that could not be split into columns).

    Rows rejected by their own table's checks show the values as read; rows rejected by a
    cross-table check (their values all parsed) show the parsed values, but their amount as the file
    wrote it (``raw.written``, :func:`pipelines.ingest.sources.slim`: "1,600.00", not "1600.0").
    """
    cols = list(raw.frame.columns)
    rows = np.flatnonzero(rejected)
    kept = raw.kept if raw.kept is not None else np.arange(len(typed))
    at = np.searchsorted(kept, rows)
    has_raw = at < len(kept)
    has_raw[has_raw] = kept[at[has_raw]] == rows[has_raw]
    files, source_rows = _files_and_rows(raw, raw.source_row[rows])
    q = pd.DataFrame(
        {
            "source_file": files,
            "source_row": pd.Series(source_rows, dtype="int64"),
            "source_line": pd.Series(
                raw.source_line[rows] if raw.source_line is not None else [pd.NA] * len(rows), dtype="Int64"
            ),
            "reason": reasons.iloc[rows].reset_index(drop=True).astype("string"),
        }
    )
    from_raw = raw.frame.iloc[at[has_raw]].reset_index(drop=True)
    from_typed = typed.iloc[rows[~has_raw]].reset_index(drop=True)
    for c in cols:
        values = pd.Series(pd.NA, index=range(len(rows)), dtype="string")
        values.iloc[np.flatnonzero(has_raw)] = _text(from_raw[c]).to_numpy()
        later = rows[~has_raw]
        if raw.written is not None and c in raw.written and len(raw.written[c]) == len(typed):
            values.iloc[np.flatnonzero(~has_raw)] = _text(raw.written[c].iloc[later]).to_numpy()
        else:
            values.iloc[np.flatnonzero(~has_raw)] = _text(from_typed[c]).to_numpy()
        q[c] = values
    q["raw_line"] = pd.Series(pd.NA, index=range(len(q)), dtype="string")
    q["detail"] = pd.Series(pd.NA, index=range(len(q)), dtype="string")
    if raw.table == "payments" and "kind" in cols and len(q):
        q["detail"] = _unknown_kind_detail(q, raw.column_map.get("kind", "kind"))
    if len(q):
        again = q["reason"].str.contains("repeated_header", regex=False).fillna(False).to_numpy(dtype=bool)
        if again.any():
            q.loc[again, "detail"] = (
                "this row is the file's header again: two exports joined into one file (e.g. cat jan.csv "
                "feb.csv)? Nothing is lost by leaving it out; delete the repeated header lines"
            )
        grouped = (
            q["reason"].str.contains("thousands_as_decimal", regex=False).fillna(False).to_numpy(dtype=bool)
        )
        if grouped.any():
            d = raw.values.decimal
            q.loc[grouped, "detail"] = (
                f"an amount with exactly three digits after values.decimal {d!r} in a currency of two decimals or "
                f"none, in a column whose amounts are (nearly) all written so: a whole amount grouped by "
                f"thousands (1{d}500 = 1500)? Set values.decimal: {'.' if d == ',' else ','!r} and values.thousands: "
                f"{d!r}; amounts in a 3-decimal currency (KWD, BHD, ...): map the currency column or set "
                "default_currency"
            )
    if raw.malformed is not None and len(raw.malformed):
        m = raw.malformed
        m_files, m_rows = _files_and_rows(raw, m["source_row"].astype("int64").to_numpy())
        extra = pd.DataFrame(
            {
                "source_file": m_files,
                "source_row": m_rows,
                "source_line": pd.Series(m["source_line"].to_numpy(), dtype="Int64"),
                "reason": pd.Series(m["reason"].to_numpy(), dtype="string"),
                "raw_line": m["raw_line"].astype("string").to_numpy(),
                "detail": pd.Series(m["detail"].to_numpy(), dtype="string"),
            }
            | {c: pd.Series(m[c].to_numpy(), dtype="string") for c in cols if c in m.columns}
        )
        q = pd.concat([q, extra], ignore_index=True)
        if raw.parts:  # in the order of the table's files, each file's rows by number
            key = np.concatenate([raw.source_row[rows], m["source_row"].astype("int64").to_numpy()])
            q = q.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
        else:
            q = q.sort_values("source_row", kind="stable").reset_index(drop=True)
    return q


def _files_and_rows(raw: RawTable, source_rows: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Each row's file and its row number in that file: a table read from several files (``more_files``)
    numbers its rows across them (:meth:`RawTable.part_of`)."""
    source_rows = np.asarray(source_rows, dtype=np.int64)
    if not raw.parts:
        return pd.Series([shown(raw.file)] * len(source_rows), dtype="string"), source_rows
    part = raw.part_of(source_rows)
    names = np.array([shown(p.path) for p in raw.parts], dtype=object)
    offsets = np.array([p.offset for p in raw.parts], dtype=np.int64)
    return pd.Series(names[part], dtype="string"), source_rows - offsets[part]


def _unknown_kind_detail(q: pd.DataFrame, column: str) -> pd.Series:
    """The detail of a row quarantined ``unknown_payment_kind``: the word written, the file column and
    the words allowed (``payments.kind`` is read in any case, an empty cell is cash)."""
    from features.schema import PAYMENT_KINDS

    hit = q["reason"].str.contains("unknown_payment_kind", regex=False).fillna(False).to_numpy(dtype=bool)
    out = q["detail"].copy()
    if not hit.any():
        return out
    allowed = " or ".join(PAYMENT_KINDS)
    out[hit] = [
        f"column {column!r} (payments.kind) holds {str(v).strip()!r}: allowed {allowed} (any case; an empty "
        "cell is cash). Write one of them, or leave the column out and mark credit memos with "
        "tables.payments.credit: {column, values}"
        for v in q.loc[hit, "kind"]
    ]
    return out


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    if reasons.empty:
        return {}
    counts = reasons.str.split("; ").explode().value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}
