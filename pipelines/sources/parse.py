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


# Dates are stored as datetime64[ns]: days outside this range cannot be represented.
EARLIEST_DATE = pd.Timestamp("1677-09-22")
LATEST_DATE = pd.Timestamp("2262-04-11")

# A timezone suffix after a time of day (``T10:00:00Z``, ``10:00+01:00``, ``10:00:00.5 -0500``) or
# after a bare date in the XML-Schema style (``2024-01-15Z``, ``2024-01-15-12:00``).
_TZ_AFTER_TIME = r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
_TZ_AFTER_DATE = r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})$"


def _drop_offset(text: pd.Series) -> pd.Series:
    """Texts without their timezone suffix: the date as written is kept, the offset is ignored."""
    text = text.str.replace(_TZ_AFTER_TIME, r"\1", regex=True)
    return text.str.replace(_TZ_AFTER_DATE, r"\1", regex=True)


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    """``pd.to_datetime(errors="coerce")`` at any resolution, naive, the offset of each value dropped.

    A column mixing offsets (or offsets and naive values) makes pandas refuse the whole column; the
    offsets are then dropped per value, so one odd row never rejects the file.
    """
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except (ValueError, OverflowError):  # mixed timezones, out-of-bounds under some formats
        parsed = pd.to_datetime(_drop_offset(text), format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)  # wall time as written, not converted to UTC
    failed = parsed.isna().to_numpy() & text.notna().to_numpy()
    if failed.any():  # e.g. "2024-01-15Z": retry those rows without their offset
        retry = pd.to_datetime(_drop_offset(text[failed]), format=fmt, errors="coerce")
        if getattr(retry.dt, "tz", None) is not None:
            retry = retry.dt.tz_localize(None)
        if retry.notna().any():
            parsed = parsed.astype("datetime64[s]")
            parsed[failed] = retry.astype("datetime64[s]").to_numpy()
    return parsed


def _in_storable_range(parsed: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``datetime64[ns]`` days at midnight and the mask of days outside :data:`EARLIEST_DATE`..
    :data:`LATEST_DATE` (those become ``NaT``)."""
    days = parsed.astype("datetime64[s]") if parsed.dtype != "datetime64[ns]" else parsed
    out = (days < EARLIEST_DATE) | (days > LATEST_DATE)
    mask = out.to_numpy(dtype=bool, na_value=False)
    if mask.any():
        days = days.where(~mask)
    return days.astype("datetime64[ns]").dt.normalize().reset_index(drop=True), mask


# Excel stores a day as its count from 1899-12-30 (the serial of 1900-03-01 is 61: Excel's phantom
# 1900-02-29 makes earlier serials one day off; no ledger date is that old). A fraction is the time.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIALS = (10_000, 2_958_465)  # 1927-05-18 .. 9999-12-31: smaller numbers are not taken as dates


def excel_serials(text: pd.Series) -> pd.Series:
    """Days of the values that are Excel date serial numbers (``45321`` or ``45321.5``), else NaT."""
    num = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5,7}(?:\.\d+)?", na=False)), errors="coerce")
    ok = num.between(*EXCEL_SERIALS)
    days = np.floor(num.where(ok).to_numpy(dtype="float64"))
    # as seconds from the epoch, so 9999-12-31 stays representable (it is then out of storable range)
    secs = np.where(np.isfinite(days), days * 86_400, np.nan)
    out = pd.Series(secs, index=text.index).astype("Int64").astype("datetime64[s]")
    return out + (EXCEL_EPOCH - pd.Timestamp("1970-01-01"))


def parse_dates(raw: pd.Series, fmt: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Dates at midnight (``datetime64[ns]``), the mask of present-but-unparseable values and the mask
    of real calendar days that cannot be stored (before 1677-09-22 or after 2262-04-11, such as the
    sentinel 9999-12-31); rows of either mask are ``NaT``.

    ``fmt`` is a pandas ``format=`` (``"ISO8601"`` or a strftime pattern such as ``"%d.%m.%Y"``), or
    ``"excel"``: Excel date serial numbers (:func:`excel_serials`; ISO text in the column is read too).
    Typed datetime input (Parquet) is taken as is; time of day is dropped. A timezone offset
    (``Z``, ``-12:00``) is dropped per value: the calendar date *as written* is kept, not the UTC date.
    """
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        out = raw.reset_index(drop=True)
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        parsed, out_of_range = _in_storable_range(out)
        return parsed, np.zeros(len(raw), dtype=bool), out_of_range
    text = _as_text(raw).reset_index(drop=True)
    present = _present(raw)
    if fmt == "excel":  # serial numbers; a cell Excel kept as a date (ISO text) is read too
        serial = excel_serials(text.mask(~present))
        iso = _to_datetime(text.mask(~present | serial.notna().to_numpy()), "ISO8601").astype("datetime64[s]")
        parsed, out_of_range = _in_storable_range(serial.fillna(iso))
    else:
        parsed, out_of_range = _in_storable_range(_to_datetime(text.mask(~present), fmt))
        if fmt != "ISO8601" and not fmt.startswith("%Y-"):  # a date Excel kept as a date, written
            # YYYY-MM-DD by the conversion beside dates typed as text in the column's layout: ISO is
            # unambiguous in any layout but a year-first dash one (%Y-%d-%m), whose own text it is
            iso = present & parsed.isna().to_numpy() & ~out_of_range
            iso &= text.str.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*").fillna(False).to_numpy(dtype=bool)
            if iso.any():
                more, more_out = _in_storable_range(
                    _to_datetime(text.where(pd.Series(iso, index=text.index)).str.strip(), "ISO8601")
                )
                parsed = parsed.where(~pd.Series(iso, index=parsed.index), more)
                out_of_range = out_of_range | (iso & more_out)
    bad = present & parsed.isna().to_numpy() & ~out_of_range
    return parsed, bad, out_of_range


NBSP = "[\u00a0\u202f]"  # the non-breaking spaces a " " thousands separator also stands for
# the typographic apostrophe a "'" thousands separator also stands for: Swiss German Windows and
# Excel group 1’234.50 with U+2019 (CLDR's de-CH), older ones with the ASCII 1'234.50
APOSTROPHE = "\u2019"


# How accounting exports decorate amounts: a currency symbol or ISO code before or after the number
# (``€1.234,50``, ``1.234,50 EUR``, ``-$45.00``), a negative in parentheses (``(120.00)``) or with a
# trailing minus (SAP: ``120,00-``).
_PAREN = r"^\(\s*(.+?)\s*\)$"
_MONEY_SIGN = r"(?:[€$£¥₹₽₺₩₪]|CHF|[A-Z]{3})"
_LEAD_SIGN = rf"^([-+]?)\s*{_MONEY_SIGN}\s*"
_TRAIL_SIGN = rf"\s*{_MONEY_SIGN}$"
_TRAIL_MINUS = r"^([\d.,' ]*\d[\d.,' ]*)-$"


def undecorate_amounts(text: pd.Series) -> pd.Series:
    """Texts of amounts without an accounting export's decoration: ``€1.234,50 -> 1.234,50``,
    ``1.234,50 EUR -> 1.234,50``, ``(120.00) -> -120.00``, ``-€45,00 -> -45,00``, ``120,00- -> -120,00``.
    Separators are left for :func:`parse_numbers`."""
    text = text.str.replace(_PAREN, r"-\1", regex=True)
    text = text.str.replace(_LEAD_SIGN, r"\1", regex=True).str.replace(_TRAIL_SIGN, "", regex=True)
    return text.str.replace(_TRAIL_MINUS, r"-\1", regex=True).str.strip()


def _text_numbers(
    text: pd.Series, decimal: str, thousands: str | None, grouping: str = "thousands"
) -> tuple[np.ndarray, np.ndarray]:
    misread = _misgrouped(text, decimal, thousands, grouping)
    if thousands is not None:
        text = text.str.replace(thousands, "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64").to_numpy(), misread


# Active ISO 4217 currency codes (2024): a column whose every value is one of them holds currencies,
# whatever its header says (Moneda, Valuta, Waluta, Měna ...).
CURRENCY_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
    CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
    GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
    LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 (one line per 26 codes, not 160 lines)
)

# The currencies a sign written on an amount can stand for ('$' and '¥' are shared by several).
SIGN_CURRENCIES: dict[str, frozenset[str]] = {
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "₹": frozenset({"INR"}),
    "₽": frozenset({"RUB"}),
    "₺": frozenset({"TRY"}),
    "₩": frozenset({"KRW"}),
    "₪": frozenset({"ILS"}),
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD"}),
    "¥": frozenset({"JPY", "CNY"}),
}
_SIGN_FOUND = rf"^[-+(]?\s*[-+]?\s*({_MONEY_SIGN})|({_MONEY_SIGN})\s*\)?-?$"


def amount_signs(
    raw: pd.Series, decimal: str = ".", thousands: str | None = None, grouping: str = "thousands"
) -> pd.Series:
    """The currency sign or ISO code written on each amount (``€1.234,50 -> €``, ``1.234,50 EUR ->
    EUR``), missing where there is none. Only values that do not parse as plain numbers are looked
    at (as in :func:`parse_numbers`), so clean columns cost one parse."""
    out = pd.Series(pd.NA, index=range(len(raw)), dtype="string")
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return out
    text = _as_text(raw).reset_index(drop=True)
    values, _ = _text_numbers(text, decimal, thousands, grouping)
    rows = np.flatnonzero(~np.isfinite(values) & _present(raw))
    if len(rows):
        found = text.iloc[rows].str.strip().str.extract(_SIGN_FOUND)
        out.iloc[rows] = found[0].fillna(found[1]).to_numpy()
    return out


def parse_numbers(
    raw: pd.Series, decimal: str = ".", thousands: str | None = None, grouping: str = "thousands"
) -> tuple[pd.Series, np.ndarray]:
    """``float64`` amounts and the mask of present-but-unparseable (or infinite) values.

    Handles a decimal comma (``1.234,56`` with ``decimal=","`` and ``thousands="."``) and scientific
    notation (``5E+05``). ``thousands=" "`` also reads the non-breaking spaces French spreadsheets
    group with (``1\u00a0234,56``, ``1\u202f234,56``). Values that do not parse as they are are
    read again without an accounting export's decoration (:func:`undecorate_amounts`: a currency
    symbol or code, a negative in parentheses, a trailing minus); clean columns never pay for it.
    ``grouping="indian"``: the separator groups as India's lakh and crore do (``12,34,567.50``: three
    digits, then twos); any other grouping (``1,0,00``, ``123,456``) is unparseable.
    """
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64").reset_index(drop=True), np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        out = raw.astype("float64").reset_index(drop=True)
        values = out.to_numpy()
        bad = np.isinf(values)
        return out.where(~bad), bad
    text = _as_text(raw).reset_index(drop=True)
    if thousands == " ":  # French exports group with a non-breaking (U+00A0) or narrow one (U+202F)
        text = text.str.replace(NBSP, " ", regex=True)
    elif thousands == "'":  # Swiss: 1’234.50 (s36-attack: every such amount unparseable)
        text = text.str.replace(APOSTROPHE, "'", regex=False)
    values, misread = _text_numbers(text, decimal, thousands, grouping)
    present = _present(raw)
    bad = present & (~np.isfinite(values) | misread)
    if bad.any():
        rows = np.flatnonzero(bad)
        again = undecorate_amounts(text.iloc[rows]).reset_index(drop=True)
        changed = (again != text.iloc[rows].reset_index(drop=True)).to_numpy(dtype=bool, na_value=False)
        if changed.any():
            v2, m2 = _text_numbers(again, decimal, thousands, grouping)
            ok = changed & np.isfinite(v2) & ~m2
            values = values.copy()
            values[rows[ok]] = v2[ok]
            bad[rows[ok]] = False
    out = pd.Series(values, dtype="float64")
    return out.where(~bad), bad


def _misgrouped(
    text: pd.Series, decimal: str, thousands: str | None, grouping: str = "thousands"
) -> np.ndarray:
    """Values a separator would silently misread by a factor of 10**k, as a bool array.

    With ``decimal=","`` a ``.`` can only be a thousands separator: ``1.234`` without
    ``thousands: "."`` would become 1.234 instead of 1234. With a thousands separator, it must
    group exactly three digits: ``1,5`` with ``thousands: ","`` is a decimal comma, not 15.
    """
    import re

    if decimal == "," and thousands != ".":
        dotted = text.str.contains(".", regex=False).to_numpy(dtype=bool, na_value=False)
    else:
        dotted = np.zeros(len(text), dtype=bool)
    if thousands is None:
        return dotted
    t, d = re.escape(thousands), re.escape(decimal)
    if grouping == "indian":  # 1,000 / 12,34,567: three digits last, pairs before (lakh, crore)
        grouped = rf"^[-+]?\d{{1,2}}(?:{t}\d{{2}})*{t}\d{{3}}(?:{d}\d*)?(?:[eE][-+]?\d+)?$"
    else:
        grouped = rf"^[-+]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?(?:[eE][-+]?\d+)?$"
    has_sep = text.str.contains(thousands, regex=False).to_numpy(dtype=bool, na_value=False)
    ok = text.str.match(grouped).to_numpy(dtype=bool, na_value=False)
    return dotted | (has_sep & ~ok)


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


# Characters nobody means to type: a byte-order mark or zero-width space pasted into an id would make
# it differ from the same id elsewhere; NUL and other control characters (tab and line feed kept);
# the invisible direction marks a copy from a right-to-left application or a web page adds (U+200E,
# U+200F, U+061C; embeddings and overrides U+202A-U+202E; isolates U+2066-U+2069): before, 'D0000001'
# with a trailing U+200E was an unknown debtor (s11-robust).
_INVISIBLE = r"[\ufeff\u200b-\u200f\u2060\u061c\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_INVISIBLE_RE2 = (
    r"[\x{feff}\x{200b}-\x{200f}\x{2060}\x{061c}\x{202a}-\x{202e}\x{2066}-\x{2069}"
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


# Bytes that can start or belong to an :data:`_INVISIBLE` character in UTF-8: the control bytes and
# every non-ASCII byte. Text without any of them needs no regex (checked on the whole buffer at once).
_MAYBE_INVISIBLE = np.zeros(256, dtype=bool)
_MAYBE_INVISIBLE[[*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0x100)]] = True


def _drop_invisible(text: pd.Series) -> pd.Series:
    """``text`` without :data:`_INVISIBLE` characters (found with Arrow; only those rows are edited)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    if not len(raw) or (raw.min() >= 0x20 and raw.max() < 0x7F) or not _MAYBE_INVISIBLE[raw].any():
        # every byte is printable ASCII, tab, LF or CR: no value holds such a character (two
        # reductions first: ~0.001 CPU-s per million ids, where the table lookup takes ~0.02)
        return text
    hit = pc.match_substring_regex(arr, _INVISIBLE_RE2).fill_null(False).to_numpy(zero_copy_only=False)
    if not hit.any():
        return text
    text = text.reset_index(drop=True).copy()
    text[hit] = text[hit].str.replace(_INVISIBLE, "", regex=True)
    return text


# Texts an id column never legitimately holds: float artefacts of spreadsheets and dataframes.
_NOT_AN_ID = ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "null", "none")


def _float_text(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Floats as text: whole numbers without ``.0`` (``1001.0 -> "1001"``, ``1e20 ->
    "100000000000000000000"``), others as written; the mask of infinite values."""
    values = raw.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(values)
    whole = finite & (np.floor(np.where(finite, values, 0.0)) == values)
    text = raw.astype("string").reset_index(drop=True)
    small = whole & (np.abs(values) < 2.0**62)
    text[small] = pd.array(values[small].astype(np.int64)).astype("string")
    big = np.flatnonzero(whole & ~small)
    if len(big):  # exact decimal digits of the float, beyond int64
        text[big] = [str(int(v)) for v in values[big]]
    return text, np.isinf(values)


def parse_text(
    raw: pd.Series, *, upper: bool = False, lower: bool = False, is_id: bool = False
) -> tuple[pd.Series, np.ndarray]:
    """Trimmed ``string`` values without invisible characters (byte-order marks, zero-width spaces,
    control characters; empty text becomes ``<NA>``) and the mask of values that cannot be
    an id (``is_id``: infinite numbers and the texts ``nan``, ``inf``, ``null``, ``none``).

    Numbers from Parquet become text; whole floats lose their ``.0`` (ids stored as floats by
    spreadsheets: ``1001.0 -> "1001"``; ``1e20 -> "100000000000000000000"``). An id written with
    Excel's text marker before a digit (``'00123``) loses the apostrophe (``00123``).
    """
    bad = np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_float_dtype(raw.dtype):
        text, bad = _float_text(raw)
    else:
        text = raw.astype("string")
    text = _drop_invisible(text).str.strip().reset_index(drop=True)
    if upper:
        text = text.str.upper()
    if lower:
        text = text.str.lower()
    text = text.mask(text == "")
    if is_id:
        bad = bad | text.str.lower().isin(_NOT_AN_ID).to_numpy(dtype=bool, na_value=False)
        # Excel's text marker: '00123 (a number kept as text, its leading zeros kept) is the id 00123
        quoted = text.str.match(r"'\d").to_numpy(dtype=bool, na_value=False)
        if quoted.any():
            text = text.mask(pd.Series(quoted), text.str.slice(1))
    return text, bad


# Amounts a source option computes (a payment's applied part, Credit - Debit) are kept in thousandths:
# whole cents would lose the third decimal of KWD, BHD, OMR, JOD and TND amounts (0.625 -> 0.62).
MILLS = 1000


def to_mills(values: np.ndarray) -> np.ndarray:
    """Amounts (floats) in thousandths, rounded (NaN stays NaN)."""
    return np.round(np.asarray(values, dtype="float64") * MILLS)


def mills_text(value: int, decimal: str) -> str:
    """Thousandths as text in ``decimal`` notation: two decimals, three where the third is not 0."""
    whole, frac = divmod(abs(value), MILLS)
    digits = f"{frac:03d}"
    return f"{'-' if value < 0 else ''}{whole}{decimal}{digits[:2] if digits[2] == '0' else digits}"


def write_mills(
    column: pd.Series, rows: np.ndarray, mills: np.ndarray, decimal: str
) -> pd.Series | np.ndarray:
    """``column`` with the ``rows`` (mask) replaced by ``mills`` (thousandths, in row order): numbers
    stay numbers (Parquet), text is written in the file's ``decimal`` notation with two decimals, or
    three where the third is not 0 (``-12.34``, ``0.625``), so it parses back to the same amount."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column.astype("float64").to_numpy(copy=True)
        numbers[rows] = np.asarray(mills, dtype=np.int64) / MILLS
        return numbers
    text = column.astype("string")
    text[rows] = [mills_text(int(v), decimal) for v in np.asarray(mills, dtype=np.int64).tolist()]
    return text
