"""Turn raw cell values (text from CSV, or typed from Parquet) into canonical dtypes.

Every function returns the parsed column plus a boolean mask of the rows whose non-empty value
could not be parsed; those rows are quarantined by ingest with an ``unparseable_*`` reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _as_text(raw: pd.Series) -> pd.Series:
    return raw.astype("string").str.strip()


def _present(raw: pd.Series) -> np.ndarray:
    if pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
        return (raw.notna() & (raw.astype("string").str.strip() != "")).to_numpy(dtype=bool, na_value=False)
    return raw.notna().to_numpy(dtype=bool)


def parse_dates(raw: pd.Series, fmt: str) -> tuple[pd.Series, np.ndarray]:
    """Dates at midnight (``datetime64[ns]``) and the mask of present-but-unparseable values.

    ``fmt`` is a pandas ``format=`` (``"ISO8601"`` or a strftime pattern such as ``"%d.%m.%Y"``).
    Typed datetime input (Parquet) is taken as is; time of day is dropped.
    """
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        out = raw
        if getattr(raw.dt, "tz", None) is not None:
            out = raw.dt.tz_localize(None)
        out = out.astype("datetime64[ns]").dt.normalize()
        return out.reset_index(drop=True), np.zeros(len(raw), dtype=bool)
    text = _as_text(raw)
    present = _present(raw)
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]").dt.normalize().reset_index(drop=True)
    bad = present & parsed.isna().to_numpy()
    return parsed, bad


def parse_numbers(
    raw: pd.Series, decimal: str = ".", thousands: str | None = None
) -> tuple[pd.Series, np.ndarray]:
    """``float64`` amounts and the mask of present-but-unparseable (or infinite) values.

    Handles a decimal comma (``1.234,56`` with ``decimal=","`` and ``thousands="."``) and scientific
    notation (``5E+05``).
    """
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64").reset_index(drop=True), np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        out = raw.astype("float64").reset_index(drop=True)
        values = out.to_numpy()
        bad = np.isinf(values)
        return out.where(~bad), bad
    text = _as_text(raw)
    if thousands is not None:
        text = text.str.replace(thousands, "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    out = pd.to_numeric(text, errors="coerce").astype("float64").reset_index(drop=True)
    values = out.to_numpy()
    present = _present(raw)
    bad = present & ~np.isfinite(values)
    return out.where(~bad), bad


def parse_bools(
    raw: pd.Series, true_values: tuple[str, ...], false_values: tuple[str, ...]
) -> tuple[pd.Series, np.ndarray]:
    """Nullable booleans (``boolean``) from spellings (case-insensitive) and the unparseable mask."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean").reset_index(drop=True), np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
        out = pd.Series(pd.NA, index=range(len(raw)), dtype="boolean")
        v = values.to_numpy()
        out[v == 1] = True
        out[v == 0] = False
        bad = ~np.isnan(v) & (v != 0) & (v != 1)
        return out, bad
    text = _as_text(raw).str.lower().reset_index(drop=True)
    trues = text.isin([s.lower() for s in true_values]).to_numpy(dtype=bool, na_value=False)
    falses = text.isin([s.lower() for s in false_values]).to_numpy(dtype=bool, na_value=False)
    out = pd.Series(pd.NA, index=range(len(raw)), dtype="boolean")
    out[trues] = True
    out[falses] = False
    bad = _present(raw) & ~trues & ~falses
    return out, bad


def parse_text(raw: pd.Series, *, upper: bool = False, lower: bool = False) -> pd.Series:
    """Trimmed ``string`` values; empty text becomes ``<NA>``. Numbers from Parquet become text."""
    if pd.api.types.is_float_dtype(raw.dtype):
        # ids stored as floats by spreadsheets: 1001.0 -> "1001"
        values = raw.to_numpy()
        whole = np.isfinite(values) & (np.floor(values) == values)
        text = raw.astype("string")
        text = text.where(~whole, pd.Series(values, dtype="float64").round().astype("Int64").astype("string"))
    else:
        text = raw.astype("string")
    text = text.str.strip().reset_index(drop=True)
    if upper:
        text = text.str.upper()
    if lower:
        text = text.str.lower()
    return text.mask(text == "")
