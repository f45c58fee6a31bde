"""Exports for analysts and collections: CSV that opens cleanly in Excel, XLSX, and Parquet.

Text cells starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return / line feed) would
be run as formulas by spreadsheet programs ("CSV injection"); :func:`neutralise` prefixes them with
an apostrophe, as OWASP recommends. Their full-width forms (``＝`` ``＋`` ``－`` ``＠``, U+FF1D,
U+FF0B, U+FF0D, U+FF20) are prefixed too: Excel in a Japanese environment reads ``＝cmd|' /C calc'!A0``
as a formula (OWASP www-community issue 1088). Every writer goes through :func:`pipelines.adapters.files.atomic_path` (temporary file, one mode, rename).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.adapters.files import atomic_path
from pipelines.words import amounts_in, counted, words_column

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# column name -> Excel number format (substring rules below cover the rest)
_PERCENT = {"pd", "pd_prev", "pd_change", "lgd", "pay_pd"}
_INTEGER = {"rank", "dpd", "n", "terms_days"}  # terms_days: a mean of whole days, shown as "30", not "30.00"


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype | pd.CategoricalDtype)
    ]


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be read as formulas (prefix ``'``). Numbers untouched."""
    out = frame.copy()
    for col in _text_columns(out):
        s = out[col].astype("string")
        risky = s.str.startswith(DANGEROUS_PREFIXES).fillna(False)
        if risky.any():
            out[col] = s.mask(risky, "'" + s)
        else:
            out[col] = s
    return out


# Excel holds at most 32,767 characters in a cell; xlsxwriter cuts longer strings without a word.
XLSX_CELL_MAX = 32_767


def cut_for_excel(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` whose text cells fit an Excel cell, and the number of cells cut per column.

    A longer cell keeps its first characters and ends with a visible marker naming its full length
    (``...[cut: 100,007 characters; the CSV/Parquet hold the full text]``), so nobody mistakes the
    prefix for the whole value. The CSV and Parquet files are written from the uncut frame."""
    cuts: dict[str, int] = {}
    out = frame
    for col in _text_columns(frame):
        s = frame[col].astype("string")
        lengths = s.str.len()
        over = lengths.gt(XLSX_CELL_MAX).fillna(False).to_numpy()
        if not over.any():
            continue
        if out is frame:
            out = frame.copy()
        cut = s.copy()
        for i in np.flatnonzero(over):
            text = s.iloc[i]
            marker = f"...[cut: {len(text):,} characters; the CSV/Parquet hold the full text]"
            cut.iloc[i] = text[: XLSX_CELL_MAX - len(marker)] + marker
        out[col] = cut
        cuts[str(col)] = int(over.sum())
    return out, cuts


def cut_note(cuts: dict[str, int]) -> str:
    """One sentence naming the cells :func:`cut_for_excel` cut (empty when none)."""
    if not cuts:
        return ""
    listed = ", ".join(f"{col} ({n:,})" for col, n in cuts.items())
    return (
        f"{counted(sum(cuts.values()), 'cell')} longer than Excel's {XLSX_CELL_MAX:,} characters cut, each "
        f"ending in '...[cut: N characters ...]': {listed}. The CSV and Parquet files hold the full text."
    )


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet (zstd), index dropped, atomic. Byte-identical for identical frames."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd", engine="pyarrow")
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """CSV for Excel: UTF-8 with BOM, comma separator, CRLF, ISO dates, numbers with at most 12
    significant digits (no binary noise such as 0.30000000000000004), neutralised text, atomic."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(CSV_BOM)
        for start in range(0, max(len(frame), 1), CSV_CHUNK_ROWS):
            fh.write(csv_lines(frame.iloc[start : start + CSV_CHUNK_ROWS], header=start == 0))
    return path


CSV_FORMAT: dict[str, str] = {"lineterminator": "\r\n", "date_format": "%Y-%m-%d", "float_format": "%.12g"}
"""The cell formats of :func:`write_csv` (also used by writers that stream a CSV in pieces)."""
CSV_BOM = "\ufeff".encode()
"""What ``encoding="utf-8-sig"`` puts at the start of every CSV file."""


CSV_CHUNK_ROWS = 200_000  # rows formatted at a time by :func:`write_csv`


def csv_lines(frame: pd.DataFrame, header: bool = False) -> bytes:
    """The UTF-8 lines :func:`write_csv` writes for ``frame`` (neutralised, same formats), without
    the byte-order mark; with ``header``, the header line first. Cells are formatted one by one, so
    the lines of a frame's row pieces, joined, are the lines of the whole frame.

    The bytes are those of pandas' ``to_csv`` with :data:`CSV_FORMAT`; the cells are formatted
    column by column (:func:`csv_cells`), and a frame with a column of another kind goes through
    ``to_csv`` itself."""
    return csv_lines_and_ends(frame, header)[0]


def csv_lines_and_ends(frame: pd.DataFrame, header: bool = False) -> tuple[bytes, np.ndarray | None]:
    """:func:`csv_lines` and where each row's line ends in them (None when ``to_csv`` wrote them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    safe = neutralise(frame)
    cells = [csv_cells(safe[c]) for c in safe.columns] if safe.columns.is_unique else [None]
    if len(safe.columns) < 2 or isinstance(safe.columns, pd.MultiIndex) or any(c is None for c in cells):
        return safe.to_csv(index=False, header=header, **CSV_FORMAT).encode("utf-8"), None
    head = b""
    if header:
        head = (",".join(_csv_quote_one(str(c)) for c in safe.columns) + "\r\n").encode("utf-8")
    if not len(safe):
        return head, np.zeros(0, dtype=np.int64)
    string = pa.large_string()
    lines = pc.binary_join_element_wise(*cells, pa.scalar(",", string))
    lines = pc.binary_join_element_wise(lines, pa.scalar("", string), pa.scalar("\r\n", string))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    body = lines.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()
    return head + body, len(head) + (offsets[1:] - offsets[0])


_FRACTIONS: list[Any] = []


def _ten_thousandths(k: np.ndarray) -> Any:
    """``"%.12g" % (k / 1e4)`` for integral floats ``k`` with ``|k| < 1e12`` whose ``k / 1e4`` is
    the double nearest to the decimal k x 10^-4 (not -0.0), as an Arrow string array, without a
    Python string per value. That decimal, of at most 12 significant digits and at least 1e-4 in
    absolute value (or 0), is the value's shortest text, so ``%.12g`` (12 significant digits,
    trailing zeros and a bare point dropped, no exponent from 1e-4 up to below 1e12) prints just
    its digits: sign, whole part, then the fraction's digits without trailing zeros."""
    import pyarrow as pa
    import pyarrow.compute as pc

    string = pa.large_string()
    if not _FRACTIONS:
        _FRACTIONS.append(
            pa.array(["." + f"{f:04d}".rstrip("0") if f else "" for f in range(10_000)], type=string)
        )
    a = np.abs(k).astype(np.int64)
    whole = pa.array(a // 10_000).cast(string)
    fraction = pc.take(_FRACTIONS[0], pa.array(a % 10_000))
    sign = pc.if_else(pa.array(k < 0), pa.scalar("-", string), pa.scalar("", string))
    return pc.binary_join_element_wise(sign, whole, fraction, pa.scalar("", string))


def _csv_quote_one(text: str) -> str:
    """A cell as Python's csv writer (QUOTE_MINIMAL) writes it: quoted, quotes doubled, when it
    holds a comma, a quote or a line break."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_cells(column: pd.Series) -> Any:
    """The cells ``to_csv`` (:data:`CSV_FORMAT`, ``na_rep`` "") writes for a neutralised column,
    as an Arrow string array (quoted as the csv writer quotes), or None for a kind of column it
    does not format here (then :func:`csv_lines` asks ``to_csv``). Floats: ``"%.12g" % x`` (each
    distinct value formatted once); integers and booleans: ``str``; naive datetimes: the day
    (years 1000-9999; each distinct day formatted once); text: as is, quoted when needed; missing
    values: empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    string = pa.large_string()
    if isinstance(dtype, pd.StringDtype):
        values = pa.array(column.array)  # Arrow-backed: the Arrow strings themselves, no Python objects
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        values = pc.fill_null(values.cast(string), "")
        risky = pc.match_substring_regex(values, '[,"\r\n]')
        if pc.any(risky).as_py():
            quote = pa.scalar('"', string)
            quoted = pc.binary_join_element_wise(
                quote, pc.replace_substring(values, '"', '""'), quote, pa.scalar("", string)
            )
            values = pc.if_else(risky, quoted, values)
        return values
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.to_numpy()
        v = values.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf, not fast
            k = np.rint(v * 1e4)
            fast = (np.abs(k) < 1e12) & (k / 1e4 == v) & ~((v == 0) & np.signbit(v))  # NaN, inf, -0: not
        rest = np.flatnonzero(~fast & ~np.isnan(v))
        bits = values[rest].view(
            np.int64 if dtype.itemsize == 8 else np.int32 if dtype.itemsize == 4 else np.int16
        )
        distinct, at = np.unique(bits, return_inverse=True)
        fmt = CSV_FORMAT["float_format"]  # what pandas applies to each value: fmt % x
        text = pa.array([fmt % x for x in distinct.view(dtype).tolist()], type=string)
        n_fast = int(fast.sum())
        pick = np.full(len(v), n_fast + len(distinct), dtype=np.int64)  # NaN: the empty cell
        pick[fast] = np.arange(n_fast)
        pick[rest] = n_fast + at.reshape(-1)
        texts = pa.concat_arrays([_ten_thousandths(k[fast]), text, pa.array([""], type=string)])
        return pc.take(texts, pa.array(pick))
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pa.array(column.to_numpy()).cast(string)
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return pc.if_else(pa.array(column.to_numpy()), pa.scalar("True", string), pa.scalar("False", string))
    if isinstance(dtype, pd.Int64Dtype | pd.Int32Dtype | pd.Int16Dtype | pd.Int8Dtype | pd.BooleanDtype):
        values = pa.array(column.array.to_numpy(dtype=object, na_value=None))
        text = (
            values.cast(string)
            if not pa.types.is_boolean(values.type)
            else pc.if_else(values, "True", "False")
        )
        return pc.fill_null(text.cast(string), "")
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        values = column.to_numpy()
        missing = np.isnat(values)
        days = values.astype("datetime64[D]")
        ok = days[~missing]
        if len(ok) and (ok.min() < np.datetime64("1000-01-01") or ok.max() > np.datetime64("9999-12-31")):
            return None
        at, distinct = pd.factorize(days.view(np.int64))  # few distinct days: each formatted once
        text = pa.array(np.datetime_as_string(distinct.view("datetime64[D]"), unit="D"), type=string)
        text = pc.take(text, pa.array(at))
        return pc.if_else(pa.array(missing), pa.scalar("", string), text) if missing.any() else text
    return None


def _number_format(
    col: str, dtype: object, places: int = 2, amounts: frozenset[str] = frozenset()
) -> str | None:
    """The XLSX number format of a column; an amount (:data:`AMOUNTS`, or one of ``amounts``) shows the
    currency's decimals (``places``: 3 for KWD, BHD, ...; 0 for JPY, KRW, ..., which showed ".00" before
    session 29), every other number as before."""
    if col in _PERCENT:
        return "0.00%"
    if col in _INTEGER or pd.api.types.is_integer_dtype(dtype):
        return "0"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "yyyy-mm-dd"
    if pd.api.types.is_float_dtype(dtype):
        if (col in AMOUNTS or col in amounts) and places in (0, 3):
            return "#,##0" if places == 0 else "#,##0.000"
        return "#,##0.00"
    return None


# One name per quantity in every file: the column names below are the same in the queues, the
# watchlist and the report; the XLSX shows them with these headers.
LABELS: dict[str, str] = {
    "rank": "Rank",
    "as_of": "As of",
    "debtor_id": "Debtor ID",
    "name": "Debtor name",
    "segment": "Segment",
    "country": "Country",
    "currency": "Currency",
    "owner": "Owner",
    "within_capacity": "Today (within capacity)",
    "next_action": "Next action",
    "action_rule": "Why this action",
    "action_rule_id": "Rule in conf/nightly.yaml",
    "dispute_action": "Action on the disputed part",
    "top_reason": "Top risk reason",
    "pd": "PD",
    "pd_prev": "Previous PD",
    "pd_change": "PD change",
    "band": "Risk band",
    "model_band": "Band by the model",
    "band_prev": "Previous band",
    "triggers": "Triggers",
    # the watchlist's own columns (watchlist.xlsx; pipelines.scoring.watch_state, scoring.overrides)
    "status": "Status",
    "first_flagged_on": "On the list since",
    "days_on_list": "Days on the list",
    "override_band": "Band set by an analyst",
    "override_by": "Override by",
    "override_reason": "Override reason",
    "override_until": "Override until",
    "reason_1": "Reason 1",
    "reason_2": "Reason 2",
    "reason_3": "Reason 3",
    "reason_4": "Reason 4",
    "reason_5": "Reason 5",
    "exposure": "Exposure at default",
    "lgd": "LGD",
    "expected_loss": "Expected loss",
    "priority": "Priority: expected loss x days-past-due weight",
    "overdue_amount": "Overdue amount",
    "disputed_amount": "Disputed amount",
    "overdue_amount_1_30": "Overdue 1-30 days",
    "overdue_amount_31_60": "Overdue 31-60 days",
    "overdue_amount_61_90": "Overdue 61-90 days",
    "overdue_amount_90p": "Overdue over 90 days",
    "dpd": "Days past due (oldest invoice)",
    "oldest_invoice_id": "Oldest overdue invoice",
    "oldest_due_date": "Its due date",
    "plan": "Payment plan in force",
    "recoverable_amount": "Recoverable amount",
    "event": "Event (insolvency, agency placement, write-off)",
    "event_on": "Event date",
    # the day the recovery queue first gave an action for this event (event_actions.follow_up, s40-walk)
    "event_action_since": "Event's action given since",
    "recovery_priority": "Recoverable amount, age-weighted",
    "in_default": "In default",
    "invoiced_per_month": "Invoiced per month (recent)",
    "terms_days": "Payment terms (days)",
    "credit_need": "Credit need (monthly volume x terms)",
    "credit_limit_current": "Current credit limit",
    "credit_limit_recommended": "Recommended credit limit",
    "credit_limit_conservative": "Conservative credit limit",
    "credit_limit_aggressive": "Aggressive credit limit",
    "credit_limit_rule": "Why this limit (rule)",
    "limit_note": "Limit breach",
    # the dpd_bucket and event triggers' sentence (s42-pdless: triggers that need no PD)
    "news_note": "Since the previous run (days past due, event, dispute, plan)",
    "expected_cash_30d": "Expected cash in 30 days",
    # the debtor's invoices quarantined tonight (pipelines.flows.nightly.with_partly): left out of its
    # exposure, days past due and PD, so it looks as if it owed less
    "quarantined_invoices": "Invoices quarantined tonight (not in its exposure)",
    "quarantined_amounts": "Their amounts, per currency",
    # the payment-date model's chance, largest over the debtor's open invoices (scoring.paydate.pay_pd_of_invoices);
    # it read "Chance an open invoice reaches default days overdue unpaid" (s25-newuser)
    "pay_pd": "Chance an open invoice is still unpaid at the default threshold (days past due)",
}
# the collections queue's priority header per ranking key (``queue.priority``; the blend ranks by the
# mean of the PD and pay_pd, pipelines.scoring.queue)
PRIORITY_LABELS = {
    "pd": LABELS["priority"],
    "blend": "Priority: expected loss (at the mean of the PD and the unpaid-at-threshold chance) x days-past-due weight",
    # no PD model yet (pipelines.scoring.nomodel): the queue is ranked by days past due, then overdue amount
    "dpd": "Priority: none without a PD model (ranked by days past due, then overdue amount)",
}
AMOUNTS = frozenset(
    {
        "exposure",
        "expected_loss",
        "priority",
        "overdue_amount",
        "disputed_amount",
        "overdue_amount_1_30",
        "overdue_amount_31_60",
        "overdue_amount_61_90",
        "overdue_amount_90p",
        "recoverable_amount",
        "recovery_priority",
        "invoiced_per_month",
        "credit_need",
        "credit_limit_current",
        "credit_limit_recommended",
        "credit_limit_conservative",
        "credit_limit_aggressive",
        "expected_cash_30d",
    }
)


def headers(columns: list[str], currency: str | None, key: str = "pd") -> dict[str, str]:
    """Human header per column: :data:`LABELS` (else the column name), amounts with the currency,
    e.g. ``exposure`` -> ``Exposure at default (EUR)``; ``priority`` after the ranking ``key``."""
    out = {}
    for col in columns:
        label = PRIORITY_LABELS.get(key, LABELS["priority"]) if col == "priority" else LABELS.get(col, col)
        out[col] = f"{label} ({currency})" if currency and col in AMOUNTS else label
    return out


def _width(series: pd.Series, header: str, spec: str | None) -> float:
    """Column width fitted to the header (wrapped beyond 24 characters) and to the widest value."""
    s = series.dropna()
    if s.empty:
        content = 0
    elif spec == "0.00%":
        content = 8
    elif spec == "yyyy-mm-dd":
        content = 10
    elif spec in ("0", "#,##0", "#,##0.00", "#,##0.000") and pd.api.types.is_numeric_dtype(s.dtype):
        biggest = float(s.abs().max())
        content = len(f"{biggest:,.0f}") + {"#,##0.00": 3, "#,##0.000": 4}.get(spec, 0) + 1
    else:
        content = int(s.astype("string").str.len().max())
    return float(min(max(content, min(len(header), 24), 4) + 2, 60))


def _cells(frame: pd.DataFrame) -> list:
    columns = []
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            values = s.dt.to_pydatetime() if hasattr(s.dt, "to_pydatetime") else s
            columns.append(pd.Series(values, dtype=object).where(s.notna(), None).to_numpy(dtype=object))
        else:
            columns.append(s.astype(object).where(s.notna(), None).to_numpy(dtype=object))
    return columns


# ------------------------------------------------------------------ XLSX rows, column by column
#
# xlsxwriter costs ~10 us per cell in Python (a call, a type dispatch, a cell tuple and an XML
# element per cell). In constant_memory mode it streams each finished row's XML into a temporary
# file (``Worksheet.row_data_fh``); :func:`_stream_rows` writes the same XML for a whole frame,
# prepared column by column (~1 us per cell), into that file, so the workbook (styles, widths,
# filter, totals, about sheet) is still assembled by xlsxwriter. The bytes are the ones
# ``write_row`` would write (test: tests/pipelines/adapters/test_xlsx_rows.py compares whole
# files). Columns of any other kind (or values xlsxwriter writes specially: inf, strings over
# 16,383 characters, rich-string look-alikes, dates before 1900-03-01) keep ``write_row``.

# what xlsxwriter changes in a string cell (xmlwriter.XMLwriter._escape_control_characters,
# utility._preserve_whitespace, XMLwriter._escape_data): strings without any of it are copied
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff&<>]|_x[0-9a-fA-F]{4}_|^\s|\s$")
_EPOCH_NS = np.datetime64("1899-12-31", "ns").astype(np.int64)
_DAY_NS = 86_400 * 10**9


# printable ASCII without &, <, >, _xHHHH_ and an outer space: copied as it is (Arrow's RE2 finds the
# others in one pass; they go through the Python rules above)
_ASIS = r"[^\x20-\x7e]|[&<>]|_x[0-9a-fA-F]{4}_|^ | $"


def _string_cells(values: pd.Series) -> list[str | None]:
    """Each text cell's ``<t>`` element, as xlsxwriter writes it in constant_memory mode (None:
    blank; the column passed :func:`_column_kind`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from xlsxwriter.utility import _preserve_whitespace
    from xlsxwriter.xmlwriter import XMLwriter

    arr = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)
    asis = pc.fill_null(pc.invert(pc.match_substring_regex(arr, _ASIS)), False)
    asis = pc.and_(asis, pc.fill_null(pc.greater(pc.utf8_length(arr), 0), False))
    out: list[str | None] = []
    for v, plain in zip(arr.to_pylist(), asis.to_pylist(), strict=True):
        if plain:
            out.append(f"<t>{v}</t>")
        elif v is None or v == "":
            out.append(None)
        elif not _SPECIAL.search(v):
            out.append(f"<t>{v}</t>")
        else:
            v = XMLwriter._escape_control_characters(v)
            keep = ' xml:space="preserve"' if _preserve_whitespace(v) else ""
            out.append(f"<t{keep}>{v.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</t>")
    return out


def _column_kind(s: pd.Series) -> tuple[str | None, np.ndarray]:
    """(cell kind, non-blank mask) of one column: ``s`` inline string, ``b`` boolean, ``d`` date,
    ``n`` number; kind None when the column needs xlsxwriter's own path."""
    dtype = s.dtype
    present = s.notna().to_numpy()
    if isinstance(dtype, pd.StringDtype):
        text = s.fillna("")
        long = text.str.len().gt(16_383).any()
        rich = (text.str.startswith("<r>") & text.str.endswith("</r>")).any()
        return (None if long or rich else "s"), (present & text.ne("").to_numpy())
    if pd.api.types.is_bool_dtype(dtype):
        return "b", present
    if pd.api.types.is_datetime64_dtype(dtype):
        ns = s.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        early = present.any() and ns[present].min() - _EPOCH_NS <= 60 * _DAY_NS
        return (None if early else "d"), present  # early: xlsxwriter's 1900 rules
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return (None if np.isinf(values[present]).any() else "n"), present  # inf: error formulas
    return None, present


def _number_texts(values: np.ndarray, present: np.ndarray) -> list[str | None]:
    return [f"{x:.16G}" if ok else None for x, ok in zip(values.tolist(), present.tolist(), strict=True)]


def _cell_texts(s: pd.Series, kind: str, present: np.ndarray) -> list[str | None]:
    """The ``<v>`` text (``<t>`` element for strings) of each cell of ``s`` (None: blank)."""
    if kind == "s":
        return _string_cells(s)
    if kind == "b":
        flags = s.fillna(False).astype(bool).to_numpy()
        return [
            ("1" if f else "0") if ok else None
            for f, ok in zip(flags.tolist(), present.tolist(), strict=True)
        ]
    if kind == "d":  # xlsxwriter's serial: days since 1899-12-31 + day fraction (+1 after 1900-02-28)
        rel = s.to_numpy(dtype="datetime64[ns]").astype(np.int64) - _EPOCH_NS
        days, rest = np.divmod(rel, _DAY_NS)
        seconds, below = np.divmod(rest, 10**9)
        micro = below // 1000  # datetime objects hold microseconds
        serial = (
            days.astype(np.float64) + (seconds.astype(np.float64) + micro.astype(np.float64) / 1e6) / 86400
        )
        return _number_texts(serial + 1.0, present)
    return _number_texts(s.to_numpy(dtype=np.float64, na_value=np.nan), present)


_CHUNK_ROWS = 20_000


def _stream_rows(ws, part: pd.DataFrame, first_row: int, formats: list) -> bool:
    """Write ``part``'s rows from ``first_row`` on into ``ws`` (a constant_memory worksheet whose
    rows above are written) exactly as ``ws.write_row`` would, column by column, in chunks of
    rows; ``formats``: the Format set on each column (or None). False, with nothing written, when
    a column needs xlsxwriter's own path."""
    from xlsxwriter.utility import xl_col_to_name

    kinds = []
    nonblank = np.zeros(len(part), dtype=bool)
    first_used = {}
    for j, col in enumerate(part.columns):
        kind, used = _column_kind(part[col])
        if kind is None:
            return False
        kinds.append(kind)
        nonblank |= used
        if used.any():
            first_used[j] = int(np.argmax(used))
    if not nonblank.any():
        return True  # only blank cells without a format: write_row writes nothing either
    rows = np.flatnonzero(nonblank)
    ws._write_single_row(first_row + int(rows[0]))  # the rows above, as the first write_row would
    # format indices in the order write_row would first use them: by row, then by column
    for j in sorted(first_used, key=lambda k: (first_used[k], k)):
        if formats[j] is not None:
            formats[j]._get_xf_index()
    shapes = []
    for j, kind in enumerate(kinds):
        fmt = formats[j] if j in first_used else None  # a blank column uses no format
        style = f' s="{fmt._get_xf_index()}"' if fmt is not None else ""
        if kind == "s":
            shapes.append((xl_col_to_name(j), f'{style} t="inlineStr"><is>', "</is></c>"))
        elif kind == "b":
            shapes.append((xl_col_to_name(j), f'{style} t="b"><v>', "</v></c>"))
        else:
            shapes.append((xl_col_to_name(j), f"{style}><v>", "</v></c>"))
    fh = ws.fh
    for start in range(0, len(part), _CHUNK_ROWS):
        chunk = part.iloc[start : start + _CHUNK_ROWS]
        numbers = range(first_row + start + 1, first_row + start + len(chunk) + 1)
        pieces = []
        for j, (letter, head, tail) in enumerate(shapes):
            s = chunk.iloc[:, j]
            texts = _cell_texts(s, kinds[j], s.notna().to_numpy())
            pieces.append(
                [
                    "" if c is None else f'<c r="{letter}{r}"{head}{c}{tail}'
                    for r, c in zip(numbers, texts, strict=True)
                ]
            )
        keep = nonblank[start : start + len(chunk)]
        fh.write(
            "".join(
                f'<row r="{r}">{"".join(cells)}</row>'
                for r, cells, ok in zip(numbers, zip(*pieces, strict=True), keep.tolist(), strict=True)
                if ok
            )
        )
    ws._check_dimensions(first_row + int(rows[-1]), len(kinds) - 1)
    ws.previous_row = first_row + int(rows[-1])
    return True


def _column_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def write_xlsx(
    frame: pd.DataFrame,
    path: Path,
    sheet: str = "queue",
    as_of: datetime | None = None,
    note: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    totals: tuple[str, ...] = (),
    split_by: str | None = None,
    fast: bool = True,
    cuts: dict[str, dict[str, int]] | None = None,
    places: int = 2,
    amounts: tuple[str, ...] = (),
    print_through: str | None = None,
) -> Path:
    """XLSX with a bold frozen header, an autofilter over all rows, column widths fitted to the
    content and number formats (PD/LGD as %, amounts as #,##0.00, or #,##0.000 with ``places`` 3, a
    3-decimal reporting currency's, #,##0 with ``places`` 0, JPY's; dates as yyyy-mm-dd). Text
    neutralised and always written as text (never as a formula or a URL); atomic. ``as_of`` fixes
    the document dates; ``note`` goes into a last sheet "about".

    ``labels``: header per column (default: the column names). ``totals``: columns summed in a bold
    row under the data (``SUBTOTAL``, so the sum follows the autofilter; the value is stored too).
    ``split_by``: a column; after the main sheet, one sheet per value in order of first appearance
    (e.g. one per owner), each with the same header, formats and totals. ``amounts``: columns formatted
    as amounts beside :data:`AMOUNTS` (``cash_forecast.xlsx``'s per-segment columns).

    Printed, every sheet is landscape with its header row on each page. ``print_through``: a column; each
    data sheet's print area is its first column through this one, fitted to the page's width (the rest
    stays on screen), said in the "about" sheet: s38-walk's collections queue (34 columns, 765 characters
    of width) printed on 41 pages for 107 rows, its call list (Rank .. Why this action) on 2.

    Excel holds at most 1,048,575 data rows; larger frames raise ``ValueError``. ``fast=False``:
    every row through ``Worksheet.write_row`` (the same bytes, ~10x slower; for the tests).

    Text longer than an Excel cell (32,767 characters) is cut with a visible marker
    (:func:`cut_for_excel`), said in the "about" sheet (added if needed), and counted per column in
    ``cuts[path.name]`` when ``cuts`` is given (the nightly puts it in its manifest and log).
    """
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    if len(frame) > 1_048_574:
        raise ValueError(f"{path.name}: {len(frame)} rows do not fit in one Excel sheet; use the CSV/Parquet")
    safe, cut = cut_for_excel(neutralise(frame))
    if cut:
        note = " ".join(t for t in (note, cut_note(cut)) if t)
        if cuts is not None:
            cuts[path.name] = cut
    labels = labels or {}
    sheets = [(sheet, safe)]
    if split_by is not None:  # a sheet's tab is no cell: named by the value as written, not neutralised
        raw = frame[split_by].astype("string")
        for value in pd.unique(raw.dropna()):
            sheets.append((str(value), safe.loc[(raw == value).fillna(False).to_numpy()]))
    specs = {c: _number_format(c, safe[c].dtype, places, frozenset(amounts)) for c in safe.columns}
    heads = {c: labels.get(c, str(c)) for c in safe.columns}
    widths = {c: _width(safe[c], heads[c], specs[c]) for c in safe.columns}
    last = safe.columns.get_loc(print_through) if print_through in safe.columns else None
    if last is not None:
        shown = f"'{heads[safe.columns[0]]}' to '{heads[print_through]}'"
        note = " ".join(
            t
            for t in (
                note,
                f"Printed, each sheet holds the columns {shown} on landscape pages (its print area; clear it to "
                "print every column).",
            )
            if t
        )
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "nan_inf_to_errors": True,
            },
        )
        stamp = as_of or datetime(2000, 1, 1)
        wb.set_properties({"created": stamp, "title": path.stem})
        header_fmt = wb.add_format(
            {"bold": True, "bg_color": "#DDE4EE", "bottom": 1, "text_wrap": True, "valign": "top"}
        )
        col_fmt = {c: wb.add_format({"num_format": spec}) if spec else None for c, spec in specs.items()}
        total_fmt = {
            c: wb.add_format({"bold": True, "top": 1, **({"num_format": specs[c]} if specs[c] else {})})
            for c in safe.columns
        }
        for name, part in sheets:
            ws = wb.add_worksheet(name[:31])
            for j, col in enumerate(safe.columns):
                ws.set_column(j, j, widths[col], col_fmt[col])
                ws.write_string(0, j, heads[col], header_fmt)
            ws.freeze_panes(1, 0)
            n = len(part)
            ws.autofilter(0, 0, max(n, 1), max(len(safe.columns) - 1, 0))
            ws.set_landscape()
            ws.repeat_rows(0)
            if last is not None:
                ws.print_area(0, 0, n + (1 if totals else 0), last)
                ws.fit_to_pages(1, 0)
            # constant_memory mode streams rows in order; xlsxwriter has no columnar API, so the
            # rows' XML is prepared column by column (same bytes), else written row by row.
            if not (fast and _stream_rows(ws, part, 1, [col_fmt[c] for c in safe.columns])):
                for i, values in enumerate(zip(*_cells(part), strict=True), start=1):
                    ws.write_row(i, 0, values)
            if totals:
                first = safe.columns[0]
                ws.write_string(n + 1, 0, f"Total ({counted(n, 'row')})", total_fmt[first])
                for col in totals:
                    j = safe.columns.get_loc(col)
                    letter = _column_letter(j)
                    value = float(pd.to_numeric(part[col], errors="coerce").sum())
                    ws.write_formula(
                        n + 1,
                        j,
                        f"=SUBTOTAL(109,{letter}2:{letter}{n + 1})",
                        total_fmt[col],
                        round(value, places),
                    )
        if note:
            about = wb.add_worksheet("about")
            about.set_column(0, 0, 100)  # the note wrapped in its column: one landscape page, not 5 across
            about.set_landscape()
            about.set_row(0, 15 * (len(note) // 85 + 2))  # spreadsheets do not grow it for wrapped text
            about.write_string(0, 0, note, wb.add_format({"text_wrap": True, "valign": "top"}))
        try:
            wb.close()
        except FileCreateError as exc:
            # xlsxwriter wraps the OSError of a full disk or a file size limit; unwrapped, atomic_path
            # turns it into the one-line OutputError every other writer gives (no traceback)
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise
    return path


# the columns of codes that the XLSX files show in words (pipelines.words); the CSV/Parquet keep the codes
WORDS_OF: dict[str, str] = {"next_action": "action", "dispute_action": "action", "event": "event"}


def coded_in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns of codes (:data:`WORDS_OF`) in words, for the XLSX a collector
    reads: ``agency_referral`` -> "Agency referral" (the queues' XLSX showed the codes before session 32)."""
    said = {c: words_column(frame[c], kind) for c, kind in WORDS_OF.items() if c in frame.columns}
    return frame.assign(**said) if said else frame


QUEUE_TITLES = {
    "collections_queue": "Collections queue: live debtors (overdue, not in default) ranked by priority: "
    "expected loss (PD x exposure x LGD) weighted by days past due",
    "recovery_queue": "Recovery queue: debtors in default ranked by recoverable amount (exposure x (1 - LGD)) "
    "weighted by age",
}


def write_queue(
    frame: pd.DataFrame,
    stage: Path,
    stem: str,
    title: str,
    as_of: datetime,
    xlsx_rows: int,
    currency: str | None = None,
    cuts: dict[str, dict[str, int]] | None = None,
    key: str = "pd",
) -> dict[str, Path]:
    """``stem``.parquet and .csv with every row; ``stem``.xlsx with the top ``xlsx_rows``: a sheet
    with them all, then one sheet per owner, human headers (amounts with ``currency``; the priority
    named after the ranking ``key``, :data:`PRIORITY_LABELS`), fitted widths and a totals row of the
    amounts, and an "about" sheet. ``cuts``: see :func:`write_xlsx`. Amounts show the currency's
    decimals (``pipelines.ingest.decimals.shown_places``: a third for KWD, BHD, ..., none for JPY: the
    three files round the amounts to whole yen, ranked before on the queue's own rounding)."""
    from pipelines.ingest.decimals import shown_places

    places = shown_places(currency)
    if places == 0:
        frame = frame.round({c: 0 for c in frame.columns if c in AMOUNTS})

    shown = (
        f"This workbook holds the top {xlsx_rows:,}; {stem}.csv and .parquet hold all."
        if len(frame) > xlsx_rows
        else "All rows are in this workbook."
    )
    money = f" {amounts_in(currency)}"
    if "within_capacity" in frame.columns and len(frame) and frame["within_capacity"].isna().all():
        shown += (  # an empty column says why (s25-newuser: a new user's queue showed it blank)
            f" '{LABELS['within_capacity']}' is empty: no collector has a daily capacity (give each one "
            "in conf/teams.yaml, the nightly config's teams key)."
        )
    return {
        f"{stem}.parquet": write_parquet(frame, stage / f"{stem}.parquet"),
        f"{stem}.csv": write_csv(frame, stage / f"{stem}.csv"),
        f"{stem}.xlsx": write_xlsx(
            coded_in_words(frame.head(xlsx_rows)),
            stage / f"{stem}.xlsx",
            "all",
            as_of,
            note=f"{title}, as of {as_of.date()}: {len(frame):,} debtor{'' if len(frame) == 1 else 's'}.{money} {shown} "
            "One sheet per owner follows the sheet 'all'.",
            labels=headers(list(frame.columns), currency, key),
            # an empty column (no PD model: expected loss, priority) gets no total: never a 0 for "none"
            totals=tuple(c for c in frame.columns if c in AMOUNTS and frame[c].notna().any()),
            split_by="owner" if "owner" in frame.columns else None,
            cuts=cuts,
            places=places,
            print_through="action_rule",  # the call list: who, what to do and why
        ),
    }


# Feature name -> the one name the quantity has in every published file (scores, watchlist,
# queues, credit limits) and the report: the feature names stay inside the pipeline.
PUBLISHED_NAMES: dict[str, str] = {
    "open_balance": "exposure",
    "open_disputed_amount": "disputed_amount",
    "dpd_current_max": "dpd",
}


def published(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the published column names (:data:`PUBLISHED_NAMES`)."""
    return frame.rename(columns={k: v for k, v in PUBLISHED_NAMES.items() if k in frame.columns})


def internal(frame: pd.DataFrame) -> pd.DataFrame:
    """A published file read back (e.g. last night's ``scores.parquet``) with the pipeline's
    names; files published before the rename already have them."""
    back = {v: k for k, v in PUBLISHED_NAMES.items() if v in frame.columns and k not in frame.columns}
    return frame.rename(columns=back)


WATCHLIST_TITLE = (
    "Watchlist: debtors flagged for review (high-risk band, PD jump, a worse band, a new debtor in a high-risk "
    "band, over the credit limit, among the highest PDs), with their reasons in words"
)


def write_watchlist(
    watchlist: pd.DataFrame,
    stage: Path,
    as_of: datetime,
    xlsx_rows: int,
    currency: str | None = None,
    cuts: dict[str, dict[str, int]] | None = None,
) -> dict[str, Path]:
    """``watchlist.csv`` (every row, its triggers and status as codes: programs read it) and
    ``watchlist.xlsx`` for the analyst: the top ``xlsx_rows`` with human headers (:data:`LABELS`;
    amounts headed with ``currency``, which replaces the currency column), the triggers and the
    status in words (:mod:`pipelines.words`), widths, a frozen header, a filter and an "about" sheet.
    ``cuts``: see :func:`write_xlsx`."""
    from pipelines.ingest.decimals import shown_places

    frame = watchlist_export(watchlist)
    places = shown_places(currency)
    shown = frame.head(xlsx_rows)
    shown = shown.assign(
        **{
            c: words_column(shown[c], kind)
            for c, kind in (("triggers", "trigger"), ("status", "status"))
            if c in shown
        }
    ).drop(columns=[c for c in ("currency",) if c in shown.columns and currency])
    held = (
        f"This workbook holds the top {xlsx_rows:,}; watchlist.csv holds all."
        if len(frame) > xlsx_rows
        else "All rows are in this workbook."
    )
    return {
        "watchlist.csv": write_csv(frame, stage / "watchlist.csv"),
        "watchlist.xlsx": write_xlsx(
            shown,
            stage / "watchlist.xlsx",
            "watchlist",
            as_of,
            note=f"{WATCHLIST_TITLE}, as of {as_of.date()}: {counted(len(frame), 'debtor')}. {amounts_in(currency)} "
            f"{held} watchlist.csv holds the same rows with the triggers and status as codes.",
            labels=headers(list(shown.columns), currency),
            cuts=cuts,
            places=places,
            print_through="status",  # who, PD and band, the triggers and the status
        ),
    }


def watchlist_export(watchlist: pd.DataFrame) -> pd.DataFrame:
    """The watchlist as written to its files: published names (``exposure``...) as everywhere
    else, without the joined ``reasons`` (``reason_1..n`` hold them) nor the ``trigger_*`` flags
    (``triggers`` names them)."""
    drop = [c for c in watchlist.columns if c == "reasons" or c.startswith("trigger_")]
    return published(watchlist.drop(columns=drop))
