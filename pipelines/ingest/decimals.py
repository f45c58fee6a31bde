"""Amounts whose separator is the other one: a German export's whole amounts (Excel's ``#.##0``:
``1.500``, ``12.000``, ``750``) read under ``values.decimal: "."`` become 1.5 and 12.0, without a
parse error. So do ``1,500`` and ``12,000`` (``#,##0``) under ``decimal: ","``.

A column is suspect when (nearly) every value written with the decimal separator has exactly three
digits after it and one to three before (``1.500``; never ``0.500``, ``1500.000`` or ``12.50``), in
rows whose currency has two decimals or none (EUR, USD, JPY, or not known): a 3-decimal currency
(:data:`THREE_DECIMAL`: KWD, BHD, OMR, JOD, TND, IQD, LYD) writes its amounts that way, and its rows
are neither counted nor flagged. The rows of such a shape in a suspect column are quarantined
``thousands_as_decimal:<column>`` (:mod:`pipelines.ingest.checks` says why and the fix): a wrong
amount x 1/1000 must not reach the features, and a feed that loses many rows is refused by
``ews score`` (``max_quarantine_share``) until the config is fixed. Values written bare (``750``) or
with other decimals are not touched.

The counts are taken on every input chunk before any row is checked (:class:`DecimalTally`), so the
streamed ingest and the in-memory one decide alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from features.schema import TABLES
from pipelines.ingest.sources import RawTable
from pipelines.sources.parse import parse_text

# ISO 4217 currencies with three minor digits
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
# ISO 4217 currencies without minor digits: a rule's amount is said without decimals (shown_places)
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
REASON = "thousands_as_decimal"
HALF_UNIT = {2: 0.005, 3: 0.0005}  # half the smallest unit of an amount with that many decimals


def money_places(currency: str | None) -> int:
    """Decimals an amount in ``currency`` (ISO 4217) is written and compared with: 3 for
    :data:`THREE_DECIMAL` (a Kuwaiti dinar's 12.345: fils, the ledger's thousandths), else 2 (also
    when the currency is not known). The outputs round every amount to them: a 2-decimal book's
    files keep their bytes, a 3-decimal book keeps its third decimal."""
    return 3 if currency and str(currency).strip().upper() in THREE_DECIMAL else 2


def shown_places(currency: str | None) -> int:
    """Decimals an amount in ``currency`` is *said* with in text (a queue rule's threshold) and written
    with in the files an analyst opens (the queues, credit limits and cash forecast, CSV, XLSX and
    Parquet alike): 0 for :data:`ZERO_DECIMAL` (JPY 250, not 250.00; before session 29 a JPY queue
    wrote expected losses such as 999.14 and the workbooks showed ".00" on every yen amount), else
    :func:`money_places`. The computations (the queue's ranking, the plan check, the manifest's sums)
    keep :func:`money_places`, so a JPY queue's order does not change."""
    if currency and str(currency).strip().upper() in ZERO_DECIMAL:
        return 0
    return money_places(currency)


def output_currency(
    manifest: dict[str, Any], currency: pd.Series | None, configured: str | None = None
) -> str | None:
    """The currency of every amount a command writes or ranks (``ews score``, ``ews train``'s queue
    key, ``ews backtest``): ingest's reporting currency (``manifest["currency"]["reporting"]``),
    else (an ingest output without one) the main currency of most debtors (``currency``: per
    debtor, the data's ``currency`` column), else ``configured`` (the project config's
    ``currency.reporting``); None when unknown (:func:`money_places` then gives 2)."""
    code = (manifest.get("currency") or {}).get("reporting")
    if code:
        return str(code)
    if currency is not None and currency.notna().any():
        counts = currency.dropna().astype("string").value_counts()
        return str(counts.sort_index().idxmax())
    return str(configured) if configured else None


def feed_currency(
    manifest: dict[str, Any], invoices: Iterable[pd.DataFrame | None], configured: str | None = None
) -> str | None:
    """:func:`output_currency` of a feed: ``invoices`` (its invoice tables, e.g. one per bucket;
    iterated only when the manifest names no reporting currency) give each debtor's main
    currency (``pipelines.scoring.watchlist.debtor_currency``)."""
    if (manifest.get("currency") or {}).get("reporting"):
        return output_currency(manifest, None)
    from pipelines.scoring.watchlist import debtor_currency

    parts = [
        debtor_currency(inv, pd.Index(inv["debtor_id"].astype("string").unique()))
        for inv in invoices
        if inv is not None and "currency" in inv.columns and len(inv)
    ]
    return output_currency(manifest, pd.concat(parts) if parts else None, configured)


MIN_ROWS = 2  # rows of the shape in a column, at least
MIN_SHARE = 0.9  # of the values written with the decimal separator (2-decimal or unknown currency)
EXAMPLES = 3


@dataclass
class ColumnTally:
    """One column's counts: values written with the decimal separator and those of the shape, by
    currency (``""``: no currency known), and the first examples (source row, text)."""

    with_separator: dict[str, int] = field(default_factory=dict)
    shaped: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (source row, text, currency)


@dataclass
class DecimalTally:
    """The counts of one table across its chunks."""

    columns: dict[str, ColumnTally] = field(default_factory=dict)

    def add(self, other: DecimalTally) -> None:
        for name, t in other.columns.items():
            mine = self.columns.setdefault(name, ColumnTally())
            for attr in ("with_separator", "shaped"):
                into = getattr(mine, attr)
                for k, v in getattr(t, attr).items():
                    into[k] = into.get(k, 0) + v
            mine.examples = sorted(mine.examples + t.examples)[:EXAMPLES]


def _columns(table: str, frame: pd.DataFrame) -> list[str]:
    """The money columns of ``table`` present as text (Parquet numbers are what they are)."""
    return [
        c.name
        for c in TABLES[table].columns
        if c.kind == "float"
        and c.name in frame.columns
        and (pd.api.types.is_string_dtype(frame[c.name].dtype) or frame[c.name].dtype == object)
    ]


def _shape(decimal: str) -> str:
    d = "\\" + decimal
    return rf"^[-+]?[1-9]\d{{0,2}}{d}\d{{3}}$"


# each row's currency, as a class: another (2 decimals or none, known), 3 decimals, not known
OTHER, THREE, UNKNOWN = 0, 1, 2
_CLASS_NAMES = ("other", "three", "unknown")


def _class_of(code: str | None) -> int:
    return UNKNOWN if not code else THREE if code.strip().upper() in THREE_DECIMAL else OTHER


@dataclass(frozen=True)
class CurrencyLookup:
    """The invoices' currency classes, for payments without a currency of their own in a book whose
    invoices mix 3-decimal currencies and others (a EUR / KWD book): a payment is in the currency of
    the invoice it names, else of its debtor when all the debtor's invoices share one class
    (``ingest.currency`` converts it so too). ``invoice``: invoice id (as ingest repairs it:
    :func:`id_keys`) -> class (an id written twice with both classes is left out); ``debtor``:
    debtor id -> class."""

    invoice: pd.Series
    debtor: pd.Series

    def classes(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's class by its ``invoice_id``, else its ``debtor_id``; :data:`UNKNOWN` for neither."""
        out = np.full(len(frame), UNKNOWN, dtype=np.int8)
        for column, known in (("invoice_id", self.invoice), ("debtor_id", self.debtor)):
            if column not in frame.columns or not len(known):
                continue
            todo = out == UNKNOWN
            found = id_keys(frame[column]).map(known).to_numpy(dtype=np.float64, na_value=np.nan)
            hit = todo & ~np.isnan(found)
            out[hit] = found[hit].astype(np.int8)
        return out


def id_keys(raw: pd.Series) -> pd.Series:
    """Raw id cells as ingest writes the ids (:func:`pipelines.sources.parse.parse_text`: trimmed,
    without invisible characters, Excel's text marker ``'00123`` and a float's ``.0`` dropped), on a
    fresh index: a payment's ``'00102`` names the invoice written ``00102`` (before, the lookup
    compared the cells as written, and such a KWD payment counted as a 2-decimal one)."""
    return parse_text(raw, is_id=True)[0]


def mixed(invoice_currencies: set[str]) -> bool:
    """Invoices in a 3-decimal currency and in another: a payment's own class needs a lookup."""
    return bool(invoice_currencies & THREE_DECIMAL) and bool(invoice_currencies - THREE_DECIMAL)


def currency_lookup(frames: list[pd.DataFrame], default_currency: str | None) -> CurrencyLookup:
    """The :class:`CurrencyLookup` of the invoices' raw rows (``invoice_id``, ``debtor_id``,
    ``currency``; several chunks or partitions)."""
    parts = []
    for frame in frames:
        if not len(frame) or "invoice_id" not in frame.columns:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "invoice_id": id_keys(frame["invoice_id"]).to_numpy(),
                    "debtor_id": id_keys(frame["debtor_id"]).to_numpy()
                    if "debtor_id" in frame.columns
                    else pd.array([pd.NA] * len(frame), dtype="string"),
                    "cls": _currency_classes(frame, default_currency),
                }
            )
        )
    empty = pd.Series([], dtype="int8", index=pd.Index([], dtype="string"))
    if not parts:
        return CurrencyLookup(empty, empty)
    rows = pd.concat(parts, ignore_index=True)
    rows = rows.loc[rows["cls"] != UNKNOWN]

    def single(key: str) -> pd.Series:
        got = rows.dropna(subset=[key]).groupby(key, sort=True)["cls"].agg(["min", "max"])
        return got.loc[got["min"] == got["max"], "min"].astype("int8")

    return CurrencyLookup(single("invoice_id"), single("debtor_id"))


def _currency_classes(
    frame: pd.DataFrame, default_currency: str | None, lookup: CurrencyLookup | None = None
) -> np.ndarray:
    """Each row's currency class (:data:`OTHER`, :data:`THREE`, :data:`UNKNOWN`) as ingest reads the
    currency (trimmed, any case; an empty cell takes ``default_currency``); with ``lookup``, a row
    with neither takes its invoice's or its debtor's (:class:`CurrencyLookup`)."""
    out = _own_classes(frame, default_currency)
    if lookup is not None and (out == UNKNOWN).any():
        found = lookup.classes(frame)
        out = np.where(out == UNKNOWN, found, out).astype(np.int8)
    return out


def _own_classes(frame: pd.DataFrame, default_currency: str | None) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    fallback = _class_of(default_currency)
    if "currency" not in frame.columns:
        return np.full(len(frame), fallback, dtype=np.int8)
    cur = pc.utf8_upper(
        pc.utf8_trim_whitespace(pa.array(frame["currency"], type=pa.string(), from_pandas=True))
    )
    empty = pc.fill_null(pc.equal(cur, ""), True).to_numpy(zero_copy_only=False)
    three = pc.fill_null(pc.is_in(cur, pa.array(sorted(THREE_DECIMAL))), False).to_numpy(zero_copy_only=False)
    out = np.where(three, THREE, OTHER).astype(np.int8)
    out[empty] = fallback
    return out


def _read_as(arr: Any, decimal: str) -> Any:
    """The texts as :func:`pipelines.sources.parse.parse_numbers` reads them: without an accounting
    export's decoration (``1.500 €``, ``€1.500``, ``(1.500)``, ``1.500-``; ``undecorate_amounts``).
    Only the values that do not start with a digit (after a sign) or end with one and hold the shape
    inside pay for it (a decorated 2-decimal column, ``1.234,50 €``, does not)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipelines.sources.parse import undecorate_amounts

    first = pc.utf8_slice_codeunits(arr, 0, 1)
    second = pc.utf8_slice_codeunits(arr, 1, 2)
    digit_first = pc.or_(
        pc.utf8_is_digit(first), pc.and_(pc.is_in(first, pa.array(["-", "+"])), pc.utf8_is_digit(second))
    )
    plain = pc.and_(digit_first, pc.utf8_is_digit(pc.utf8_slice_codeunits(arr, -1)))
    rows = np.flatnonzero(~plain.fill_null(True).to_numpy(zero_copy_only=False))
    if len(rows):
        d = "\\" + decimal  # the shape inside a decorated value: €1.500, (12.000), 2.250 EUR
        inside = rf"(?:^|[^\d.,'])[1-9]\d{{0,2}}{d}\d{{3}}(?:[^\d.,']|$)"
        hit = pc.match_substring_regex(arr.take(pa.array(rows)), inside).to_numpy(zero_copy_only=False)
        rows = rows[hit]
    if not len(rows):
        return arr
    text = pd.Series(arr.take(pa.array(rows)).to_pylist(), dtype="string")
    out = np.asarray(arr.to_pylist(), dtype=object)
    out[rows] = undecorate_amounts(text).to_numpy(dtype=object, na_value=None)
    return pa.array(out, type=pa.string())


def _candidates(text: pd.Series, decimal: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """Masks: values holding the decimal separator; values of the shape ``1.500`` (a cheap length
    test first: the separator fourth from the end, so 2-decimal columns cost no regex), judged on
    the texts as the parse reads them (:func:`_read_as`), which come third."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _read_as(pc.utf8_trim_whitespace(pa.array(text, type=pa.string(), from_pandas=True)), decimal)
    at = pc.find_substring(arr, decimal)
    has = pc.greater_equal(at, 0).fill_null(False).to_numpy(zero_copy_only=False)
    fourth = pc.equal(pc.subtract(pc.utf8_length(arr), at), 4).fill_null(False).to_numpy(zero_copy_only=False)
    shaped = np.zeros(len(text), dtype=bool)
    rows = np.flatnonzero(fourth & has)
    if len(rows):
        shaped[rows] = pc.match_substring_regex(arr.take(pa.array(rows)), _shape(decimal)).to_numpy(
            zero_copy_only=False
        )
    return has, shaped, arr


def _by_class(mask: np.ndarray, classes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(classes[mask], minlength=3)
    return {_CLASS_NAMES[k]: int(v) for k, v in enumerate(counts) if v}


def tally(raw: RawTable, default_currency: str | None, lookup: CurrencyLookup | None = None) -> DecimalTally:
    """The counts of one chunk of a table (raw cells under canonical names); ``lookup``: the
    payments' classes by invoice / debtor in a mixed book (:func:`payment_lookup`)."""
    table, frame, source_row, decimal = raw.table, raw.frame, raw.source_row, raw.values.decimal
    out = DecimalTally()
    columns = _columns(table, frame)
    if not columns or not len(frame):
        return out
    classes: np.ndarray | None = None
    for name in columns:
        has, shaped, read = _candidates(frame[name], decimal)
        if not has.any():
            continue
        if classes is None:
            classes = _currency_classes(frame, default_currency, payment_lookup(table, lookup))
        t = out.columns[name] = ColumnTally()
        t.with_separator = _by_class(has, classes)
        if shaped.any():
            t.shaped = _by_class(shaped, classes)
            rows = np.flatnonzero(shaped & (classes != THREE))[:EXAMPLES]
            t.examples = [
                (int(source_row[r]), str(read[int(r)].as_py()), _CLASS_NAMES[classes[r]]) for r in rows
            ]
    return out


def payment_lookup(table: str, lookup: CurrencyLookup | None) -> CurrencyLookup | None:
    """``lookup`` for the payments, None for the other tables."""
    return lookup if table == "payments" else None


def unknown_shaped(t: DecimalTally) -> bool:
    """Values of the shape in rows without a known currency: whether they are flagged depends on the
    invoices' currencies (:func:`suspects`)."""
    return any(c.shaped.get("unknown") for c in t.columns.values())


def _three(kind: str, table: str, invoice_currencies: set[str]) -> bool:
    """A 3-decimal currency: the row's own, or (no currency in a row of another table than the
    invoices: a payment is taken in its invoice's currency) every invoice's."""
    if kind != "unknown":
        return kind == "three"
    return table != "invoices" and bool(invoice_currencies) and invoice_currencies <= THREE_DECIMAL


def suspects(table: str, t: DecimalTally, invoice_currencies: set[str]) -> dict[str, dict[str, object]]:
    """The suspect columns of ``table`` and their figures: rows of the shape, values written with
    the separator (2-decimal or unknown currency), the first examples."""
    out: dict[str, dict[str, object]] = {}
    for name, c in sorted(t.columns.items()):
        shaped = sum(v for k, v in c.shaped.items() if not _three(k, table, invoice_currencies))
        written = sum(v for k, v in c.with_separator.items() if not _three(k, table, invoice_currencies))
        if shaped >= MIN_ROWS and shaped >= MIN_SHARE * written:
            out[name] = {
                "rows": shaped,
                "with_separator": written,
                "examples": [[r, s] for r, s, k in c.examples if not _three(k, table, invoice_currencies)],
            }
    return out


def currency_set(texts: list[pd.Series], default_currency: str | None) -> set[str]:
    """The invoices' currencies (trimmed, upper case; ``default_currency`` for empty cells), from
    the invoices' currency cells (several chunks' distinct texts)."""
    cells = pd.concat(texts, ignore_index=True) if texts else pd.Series([pd.NA], dtype="string")
    codes = cells.astype("string").str.strip().str.upper().replace("", pd.NA).fillna(default_currency or "")
    return {str(c) for c in codes.unique() if c}


def suspect_mask(
    table: str,
    frame: pd.DataFrame,
    columns: list[str],
    decimal: str,
    default_currency: str | None,
    invoice_currencies: set[str],
    lookup: CurrencyLookup | None = None,
) -> dict[str, np.ndarray]:
    """``thousands_as_decimal:<column>`` masks of one table (or debtor partition) for the suspect
    ``columns``: the rows of the shape whose currency is not a 3-decimal one."""
    out: dict[str, np.ndarray] = {}
    if not columns or not len(frame):
        return out
    classes = _currency_classes(frame, default_currency, payment_lookup(table, lookup))
    three = classes == THREE
    if _three("unknown", table, invoice_currencies):
        three |= classes == UNKNOWN
    for name in columns:
        _has, shaped, _read = _candidates(frame[name], decimal)
        mask = shaped & ~three
        if mask.any():
            out[f"{REASON}:{name}"] = mask
    return out


def flagged(
    raw: RawTable,
    suspect: dict[str, dict[str, object]],
    default_currency: str | None,
    invoice_currencies: set[str],
    lookup: CurrencyLookup | None = None,
) -> RawTable:
    """``raw`` with the rows of its ``suspect`` columns marked (``pre_bad``) and the figures kept for
    the manifest (``decimal_suspects``); ``raw`` itself when nothing is suspect."""
    if not suspect:
        return raw
    masks = suspect_mask(
        raw.table, raw.frame, list(suspect), raw.values.decimal, default_currency, invoice_currencies, lookup
    )
    pre = dict(raw.pre_bad)
    for k, m in masks.items():
        pre[k] = pre[k] | m if k in pre else m
    return replace(raw, pre_bad=pre, decimal_suspects=suspect)
