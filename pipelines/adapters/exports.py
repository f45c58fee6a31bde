"""Exports for analysts and collections: CSV that opens cleanly in Excel, XLSX, and Parquet.

Text cells starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) would be run as
formulas by spreadsheet programs ("CSV injection"); :func:`neutralise` prefixes them with an
apostrophe, as OWASP recommends. Every writer goes through :func:`pipelines.adapters.files.atomic_path` (temporary file, one mode, rename).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.adapters.files import atomic_path

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# column name -> Excel number format (substring rules below cover the rest)
_PERCENT = {"pd", "pd_prev", "pd_change", "lgd"}
_INTEGER = {"rank", "dpd", "n"}


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


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet (zstd), index dropped, atomic. Byte-identical for identical frames."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd", engine="pyarrow")
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """CSV for Excel: UTF-8 with BOM, comma separator, CRLF, ISO dates, numbers with at most 12
    significant digits (no binary noise such as 0.30000000000000004), neutralised text, atomic."""
    safe = neutralise(frame)
    with atomic_path(path) as tmp:
        safe.to_csv(
            tmp,
            index=False,
            encoding="utf-8-sig",
            lineterminator="\r\n",
            date_format="%Y-%m-%d",
            float_format="%.12g",
        )
    return path


def _number_format(col: str, dtype: object) -> str | None:
    if col in _PERCENT:
        return "0.00%"
    if col in _INTEGER or pd.api.types.is_integer_dtype(dtype):
        return "0"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "yyyy-mm-dd"
    if pd.api.types.is_float_dtype(dtype):
        return "#,##0.00"
    return None


def write_xlsx(
    frame: pd.DataFrame,
    path: Path,
    sheet: str = "queue",
    as_of: datetime | None = None,
    note: str | None = None,
) -> Path:
    """XLSX with a bold frozen header, an autofilter over all rows and column number formats
    (PD/LGD as %, amounts as #,##0.00, dates as yyyy-mm-dd). Text neutralised and always written as
    text (never as a formula or a URL); atomic. ``as_of`` fixes the document dates; ``note`` goes
    into a second sheet "about" (e.g. that the sheet holds only the top rows).

    Excel holds at most 1,048,575 data rows; larger frames raise ``ValueError``.
    """
    import xlsxwriter

    if len(frame) > 1_048_575:
        raise ValueError(f"{path.name}: {len(frame)} rows do not fit in one Excel sheet; use the CSV/Parquet")
    safe = neutralise(frame)
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
        ws = wb.add_worksheet(sheet[:31])
        header_fmt = wb.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1})
        for j, col in enumerate(safe.columns):
            spec = _number_format(col, safe[col].dtype)
            fmt = wb.add_format({"num_format": spec}) if spec else None
            ws.set_column(j, j, min(max(len(str(col)) + 2, 12), 60), fmt)
            ws.write_string(0, j, str(col), header_fmt)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(safe), 1), max(len(safe.columns) - 1, 0))
        columns = []
        for c in safe.columns:
            s = safe[c]
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                values = s.dt.to_pydatetime() if hasattr(s.dt, "to_pydatetime") else s
                columns.append(pd.Series(values, dtype=object).where(s.notna(), None).to_numpy(dtype=object))
            else:
                columns.append(s.astype(object).where(s.notna(), None).to_numpy(dtype=object))
        # constant_memory mode streams rows in order; xlsxwriter has no columnar API.
        for i, values in enumerate(zip(*columns, strict=True), start=1):
            ws.write_row(i, 0, values)
        if note:
            about = wb.add_worksheet("about")
            about.set_column(0, 0, 120)
            about.write_string(0, 0, note)
        wb.close()
    return path
