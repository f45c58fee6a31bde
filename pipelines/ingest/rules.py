"""Row rules: cells parsed into canonical dtypes, implausible amounts, the Great Expectations suite
of each table, duplicates, cross-table checks and optional debtor attributes.

Every rule marks the rows it rejects in a reason mask (:mod:`pipelines.ingest.masks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from features.schema import TABLES
from pipelines.config.source import RulesConfig
from pipelines.ingest.currency import CURRENCY_SYMBOLS
from pipelines.ingest.idhash import hash_compiled, id_hashes
from pipelines.ingest.masks import arrow, flag, index_in, isin, passing
from pipelines.ingest.sources import RawTable
from pipelines.sources.parse import (
    SIGN_CURRENCIES,
    amount_signs,
    parse_bools,
    parse_dates,
    parse_numbers,
    parse_text,
)

# ---------------------------------------------------------------- parsing + rules


def _parse(raw: RawTable, default_currency: str | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Typed canonical frame (every canonical column) and the unparseable masks. A table read from
    several files (``more_files``) is parsed file by file, each with its own date layout, separators
    and sign (:func:`_parse_parts`)."""
    if raw.parts and len(raw.parts) > 1:
        return _parse_parts(raw, default_currency)
    return _parse_one(raw, default_currency)


def _parse_parts(raw: RawTable, default_currency: str | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """:func:`_parse_one` of each file's rows of ``raw`` (its values options, sign and column names),
    put back in the rows' order."""

    assert raw.parts is not None
    n = len(raw.frame)
    part = raw.part_of(raw.source_row)
    typed: list[pd.DataFrame] = []
    masks: dict[str, np.ndarray] = {}
    for k, info in enumerate(raw.parts):
        idx = np.flatnonzero(part == k)
        if not len(idx) and k:
            continue
        sub = raw.take(
            idx,
            values=info.values,
            negate_amount=info.negate_amount,
            column_map=info.column_map,
            parts=None,
        )
        frame, bad = _parse_one(sub, default_currency)
        frame.index = idx
        typed.append(frame)
        for reason, mask in bad.items():
            masks.setdefault(reason, np.zeros(n, dtype=bool))[idx] = mask
    out = pd.concat(typed).sort_index(kind="stable").reset_index(drop=True)
    return out, {k: v for k, v in masks.items() if v.any()}


def _parse_one(raw: RawTable, default_currency: str | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    spec = TABLES[raw.table]
    n = len(raw.frame)
    values = raw.values
    cols: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    signs: dict[str, pd.Series] = {}
    for column in spec.columns:
        name = column.name
        if column.sparse and name not in raw.frame.columns:
            continue  # written only when the source gives it (features.schema.Column.sparse)
        src = (
            raw.frame[name] if name in raw.frame.columns else pd.Series(pd.NA, index=range(n), dtype="string")
        )
        src = src.reset_index(drop=True)
        if column.kind == "str":
            cols[name], bad[f"unparseable_id:{name}"] = parse_text(
                src,
                upper=name in ("currency", "country"),
                lower=(raw.table, name)
                in (("events", "kind"), ("payment_plans", "status"), ("payments", "kind")),
                is_id=name.endswith("_id"),
            )
            if (raw.table, name) == ("events", "kind"):
                # 'Write-off', 'write off', 'Agency placement': the contract's words with a space or a hyphen
                # (quarantined unknown_event_kind before session 34: the debtor's default event was lost);
                # 'Write–off' with the dash a spreadsheet's autocorrect types (U+2010-U+2015, U+2212) too
                cols[name] = cols[name].str.replace(r"[\s\-\u2010-\u2015\u2212]+", "_", regex=True)
            if (raw.table, name) == ("payments", "kind"):  # sparse: no suite rule, checked here
                from features.schema import PAYMENT_KINDS

                bad["unknown_payment_kind"] = (
                    cols[name].notna() & ~cols[name].isin(list(PAYMENT_KINDS))
                ).to_numpy(dtype=bool)
            if name == "currency":
                cols[name] = cols[name].replace(CURRENCY_SYMBOLS)
                if default_currency and raw.table == "invoices":
                    cols[name] = cols[name].fillna(default_currency)
        elif column.kind == "date":
            fmt = values.strptime(name)
            cols[name], bad[f"unparseable_date:{name}"], bad[f"date_out_of_range:{name}"] = parse_dates(
                src, fmt
            )
            swapped = _day_month_swapped(src, bad[f"unparseable_date:{name}"], fmt)
            if swapped.any():
                bad[f"unparseable_date:{name}"] &= ~swapped
                bad[f"day_month_swapped:{name}"] = swapped
            serial = _excel_serial(src, bad[f"unparseable_date:{name}"], fmt)
            if serial.any():
                bad[f"unparseable_date:{name}"] &= ~serial
                bad[f"excel_serial_date:{name}"] = serial
        elif column.kind == "float":
            cols[name], bad[f"unparseable_number:{name}"] = parse_numbers(
                src, values.decimal, values.thousands, values.thousands_grouping
            )
            if raw.negate_amount and name == "amount":  # a ledger's credits: payments written negative
                cols[name] = -cols[name]
            if (raw.table, name) == ("events", "amount"):
                # the size of what an event concerns: a write-off booked as a credit (-400) is 400. Before
                # session 34 the row was quarantined (negative_amount) and the debtor's default event lost
                cols[name] = cols[name].abs()
            if any(c.name == "currency" for c in spec.columns):
                signs[name] = amount_signs(src, values.decimal, values.thousands, values.thousands_grouping)
        elif column.kind == "int":
            num, nbad = parse_numbers(src, values.decimal, values.thousands, values.thousands_grouping)
            v = num.to_numpy()
            frac = np.isfinite(v) & (np.round(v) != v)
            bad[f"unparseable_number:{name}"] = nbad | frac
            ints = pd.array(np.where(np.isfinite(v) & ~frac, np.round(v), np.nan), dtype="Float64")
            cols[name] = pd.Series(ints.astype("Int64"))
        elif column.kind == "bool":
            parsed, bad[f"unparseable_bool:{name}"] = parse_bools(
                src, values.true_values, values.false_values
            )
            cols[name] = parsed.fillna(False).astype(bool)
    for name, sign in signs.items():
        cols["currency"], bad[f"currency_sign_mismatch:{name}"] = _signed_currency(
            cols["currency"], sign, bad[f"unparseable_number:{name}"]
        )
    for reason, mask in raw.pre_bad.items():
        bad[reason] = bad.get(reason, np.zeros(n, dtype=bool)) | mask
    bad["repeated_header"] = _repeated_header(raw)
    if raw.table == "invoices" and "amount" in cols and "currency" in cols:
        cols["amount"], bad[BELOW_UNIT] = _to_currency_unit(cols["amount"], cols["currency"])
    return pd.DataFrame(cols), {k: v for k, v in bad.items() if v.any()}


BELOW_UNIT = "below_currency_unit:amount"
"""Not a rejection: an invoice amount with more decimals than its currency has (300.125 EUR, 400.5 JPY),
read down to the currency's smallest unit; :func:`clear_optional` counts it (``values_cleared``) and
keeps the row, :data:`NOTES` leaves it out of the other readers' rejections."""
NOTES = frozenset({BELOW_UNIT})


def _to_currency_unit(amount: pd.Series, currency: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Invoice amounts down to the smallest unit of their currency (a cent; a yen; a fils for KWD:
    :func:`pipelines.ingest.decimals.shown_places`), and the rows changed. No payment can settle a
    fraction of a cent: before session 35 an invoice of 300.125 EUR paid 300.12 kept 0.005 open for
    good, and its debtor was in default 90 days after the due date. Floored, not rounded, so that a
    payment of the amount rounded either way settles it (300.13 overpays by 0.01, within
    ``rules.overpayment_tolerance_abs``). A float's own noise (1234.5599999999) is not a decimal."""
    from pipelines.ingest.decimals import shown_places

    values = amount.to_numpy(dtype=np.float64, na_value=np.nan)
    # each distinct code once, by its position (Series.map over a 1M-row partition: 0.24 CPU-s, this 0.02; s43-scale)
    at, codes = pd.factorize(currency.astype("string").fillna(""))
    places = np.array([shown_places(c or None) for c in codes], dtype=np.int64)[at]
    scale = np.power(10.0, places)
    with np.errstate(invalid="ignore", over="ignore"):
        units = values * scale
        near = np.rint(units)
        below = np.isfinite(units) & (np.abs(units - near) > 1e-6 + np.abs(units) * 1e-14)
    if not below.any():
        return amount, below
    out = values.copy()
    out[below] = np.floor(units[below]) / scale[below]
    return pd.Series(out, index=amount.index, dtype=amount.dtype), below


def _repeated_header(raw: RawTable) -> np.ndarray:
    """Rows that are the file's header again (two exports joined into one file: ``cat jan.csv
    feb.csv``): at least two cells, and 80 % of the row's columns, hold their own column's name."""
    n = len(raw.frame)
    out = np.zeros(n, dtype=bool)
    columns = [c for c in raw.frame.columns if pd.api.types.is_string_dtype(raw.frame[c].dtype)]
    if n == 0 or len(columns) < 2 or len(columns) < 0.8 * len(raw.frame.columns):
        return out
    names = [str(raw.column_map.get(c, c)) for c in columns]
    # a cheap first pass (one exact comparison, about 30 ms per million rows): the first two columns
    first = (raw.frame[columns[0]] == names[0]).to_numpy(dtype=bool, na_value=False)
    first = first | (raw.frame[columns[1]] == names[1]).to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(first)
    if not len(rows):
        return out
    hits = np.zeros(len(rows), dtype=np.int64)
    for c, name in zip(columns, names, strict=True):
        text = raw.frame[c].iloc[rows].astype("string").str.strip().str.casefold()
        hits += (text == name.strip().casefold()).to_numpy(dtype=bool, na_value=False)
    out[rows] = (hits >= 2) & (hits >= 0.8 * len(raw.frame.columns))
    return out


def _signed_currency(
    currency: pd.Series, sign: pd.Series, unparsed: np.ndarray
) -> tuple[pd.Series, np.ndarray]:
    """The row's currency checked against the sign written on its amount (``€1.234,50``, ``100 USD``;
    :func:`pipelines.sources.parse.amount_signs`): a row whose currency the sign cannot stand for
    (``$100`` on an EUR row) is marked, so that it is quarantined instead of read as 100 EUR. A row
    without a currency takes the one its sign names unambiguously (``€``, ``£``, an ISO code)."""
    has = sign.notna().to_numpy() & ~unparsed
    mismatch = np.zeros(len(sign), dtype=bool)
    if not has.any():
        return currency, mismatch
    out = currency.copy()
    cur = currency.astype("string")
    missing = cur.isna().to_numpy()
    for sg in pd.unique(sign[has]):
        names = SIGN_CURRENCIES.get(sg, frozenset({sg}))
        rows = has & (sign == sg).to_numpy(dtype=bool, na_value=False)
        mismatch |= rows & ~missing & ~cur.isin(names).to_numpy(dtype=bool, na_value=False)
        if len(names) == 1:
            out[rows & missing] = next(iter(names))
    return out, mismatch


def _day_month_swapped(src: pd.Series, unparseable: np.ndarray, fmt: str) -> np.ndarray:
    """Rows whose date is not one in ``fmt`` but is one with day and month swapped (``02/13/2023``
    under ``%d/%m/%Y``): an export that writes the month first. Only unparseable rows are tried."""
    out = np.zeros(len(unparseable), dtype=bool)
    if not unparseable.any() or "%d" not in fmt or "%m" not in fmt:
        return out
    swapped = fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    rows = np.flatnonzero(unparseable)
    parsed, again, _ = parse_dates(src.iloc[rows], swapped)
    out[rows] = parsed.notna().to_numpy() & ~again
    return out


def _excel_serial(src: pd.Series, unparseable: np.ndarray, fmt: str) -> np.ndarray:
    """Rows whose date is not one in ``fmt`` but an Excel date serial number (``45321``): a date
    column saved as General. Only unparseable rows are tried."""
    out = np.zeros(len(unparseable), dtype=bool)
    if not unparseable.any() or fmt == "excel":
        return out
    from pipelines.sources.parse import excel_serials

    rows = np.flatnonzero(unparseable)
    out[rows] = excel_serials(src.iloc[rows].astype("string").str.strip()).notna().to_numpy()
    return out


def _implausible(frame: pd.DataFrame, table: str, rules: RulesConfig) -> dict[str, np.ndarray]:
    """``implausible_amount:<column>`` masks: money values whose absolute value exceeds the ceiling.

    Such values (e.g. 1.797e308) are finite but overflow sums and integer cents downstream.
    """
    out: dict[str, np.ndarray] = {}
    for column in TABLES[table].columns:
        if column.kind != "float" or column.name not in frame:
            continue
        values = np.abs(frame[column.name].to_numpy(dtype=np.float64, na_value=np.nan))
        with np.errstate(invalid="ignore"):
            over = values > rules.ceiling(table, column.name)
        if over.any():
            out[f"implausible_amount:{column.name}"] = over
    return out


TOTALS_LABEL = (
    r"(?i)^\s*(?:(?:grand|sub|sub-|report|overall)\s*totals?|totals?|sum|sums|summe|gesamt|gesamtsumme|"
    r"zwischensumme|endsumme|somme|total g[eé]n[eé]ral|totaal|totale|totaux|totals? for .+|"
    r"totals? \(.*\))\s*[:.]?\s*$"
)
"""A debtor id that is a spreadsheet's totals label ("Total", "Grand total", "Summe", "Total for
Acme Ltd"): the row sums the others. A fully filled one (a date, a debtor id "Total") was accepted
as an invoice of debtor "Total" holding the whole book's amount (s11-robust)."""


EXCEL_SCIENTIFIC = r"(?i)^[+-]?[0-9]\.[0-9]+E\+?[0-9]+$"
"""An id as Excel shows a long number in a General cell (``1.23457E+11``): saved that way, every
12-digit id from 123456500000 to 123457499999 becomes that one text, so different customers or
invoices share it. Before: the 120 debtors of a book became one debtor, exit 0 (s11-robust)."""


def _too_early(frame: pd.DataFrame, table: str) -> dict[str, np.ndarray]:
    """Masks of the table's ``not_before_by`` rules (``features.schema``): rows whose ``later`` date is
    more than ``days`` before their ``earlier`` date (either empty: not checked). A payment plan whose
    first instalment fell due a year before it was agreed was accepted, then out of force without a word
    (s42-attack); days after is a plan entered late, and stays."""
    out: dict[str, np.ndarray] = {}
    for later, earlier, days, reason in TABLES[table].not_before_by:
        if later not in frame or earlier not in frame:
            continue
        early = (frame[later] < frame[earlier] - pd.Timedelta(days=days)).fillna(False).to_numpy(dtype=bool)
        if early.any():
            out[reason] = early
    return out


def _id_masks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """``totals_row`` (a debtor id that is a totals label) and ``excel_scientific_id:debtor_id``
    (a debtor id in Excel's scientific notation) masks. The debtor id only: that is where a
    totals row or merged ids make a false debtor (an invoice or payment id of either kind is a
    duplicate_id or lacks its debtor). One regex pass over the column, the second on its matches:
    0.04 CPU-s per million ids (0.17 CPU-s for 4.27M invoices of the 1M book; about 4 CPU-s for its 92M
    ledger rows)."""
    import pyarrow.compute as pc

    if "debtor_id" not in frame or not len(frame):
        return {}
    out = _totals_in_id(frame)
    ids = arrow(frame["debtor_id"])
    either = pc.fill_null(pc.match_substring_regex(ids, f"{TOTALS_LABEL}|{EXCEL_SCIENTIFIC[4:]}"), False)
    rows = np.flatnonzero(either.to_numpy(zero_copy_only=False))
    if not len(rows):
        return out
    sci = pc.match_substring_regex(ids.take(rows), EXCEL_SCIENTIFIC).to_numpy(zero_copy_only=False)
    for reason, hit in (("excel_scientific_id:debtor_id", rows[sci]), ("totals_row", rows[~sci])):
        if len(hit):
            out[reason] = out.get(reason, np.zeros(len(frame), dtype=bool))
            out[reason][hit] = True
    return out


TOTALS_IN_ID = "totals_in_id"
"""The key under which :func:`_id_masks` hands the rows of :func:`_totals_in_id` on (their
missing_value reasons are dropped, then the key is merged into ``totals_row``)."""


def _totals_in_id(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rows without a debtor whose document number is a totals label (a sheet's last row 'Total' in
    its first column, the invoice number's): a totals row too, not a row missing its debtor and dates.
    Only the rows with no debtor id are matched (a cheap null test first)."""
    key = "invoice_id" if "invoice_id" in frame else "payment_id" if "payment_id" in frame else None
    if key is None:
        return {}
    empty = frame["debtor_id"].isna().to_numpy(dtype=bool)
    if not empty.any():
        return {}
    rows = np.flatnonzero(empty)
    label = frame[key].iloc[rows].astype("string").str.fullmatch(TOTALS_LABEL[4:], case=False)
    hit = rows[label.fillna(False).to_numpy(dtype=bool)]
    if not len(hit):
        return {}
    mask = np.zeros(len(frame), dtype=bool)
    mask[hit] = True
    return {TOTALS_IN_ID: mask}


def within_table(
    raw: RawTable,
    validator: Any,
    params: dict[str, Any],
    default_currency: str | None,
    lap: Callable[[str], None],
    rules: RulesConfig,
    shared_ids: dict[str, pd.Series] | None = None,
    batch: str = "",
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    """Parse, plausibility, exact duplicate rows and the table's GX suite, on one table (or on
    one debtor partition of it, when the ingest streams).

    ``shared_ids``: per unique id column, the ids that also occur in another debtor partition of
    the same table (streamed ingest); their rows fail the column's uniqueness expectation exactly
    as they would if the whole table were validated at once.
    """
    lap("setup")
    frame, masks = _parse(raw, default_currency)
    masks.update(_implausible(frame, raw.table, rules))
    masks.update(_id_masks(frame))
    masks.update(_too_early(frame, raw.table))
    n = len(frame)
    dup = _duplicate_rows(raw.frame, DUPLICATE_KEYS[raw.table])
    if dup.any():
        masks["duplicate_row"] = dup
    keep = np.flatnonzero(~dup)
    lap(f"parse:{raw.table}")
    outcome = validator.validate(raw.table, frame.iloc[keep] if dup.any() else frame, params, batch=batch)
    lap(f"gx:{raw.table}")
    for reason, sub in outcome.masks.items():
        full = np.zeros(n, dtype=bool)
        full[keep[sub]] = True
        masks[reason] = masks.get(reason, np.zeros(n, dtype=bool)) | full
    for column, ids in (shared_ids or {}).items():
        elsewhere = isin(frame[column], ids) & ~dup if len(ids) else np.zeros(n, dtype=bool)
        if elsewhere.any():
            flag(masks, f"duplicate_id:{column}", elsewhere)
            outcome.failed_expectations.append(f"expect_column_values_to_be_unique:duplicate_id:{column}")
    # an unparseable (or unstorable) value is also null after parsing: report it once, as such
    parse_reasons = (
        "unparseable_date",
        "day_month_swapped",
        "excel_serial_date",
        "unparseable_number",
        "unparseable_bool",
        "unparseable_id",
        "date_out_of_range",
    )
    for reason in list(masks):
        if reason.startswith("missing_value:"):
            column = reason.split(":", 1)[1]
            for kind in parse_reasons:
                masks[reason] = masks[reason] & ~masks.get(f"{kind}:{column}", np.zeros(n, dtype=bool))
    totals = masks.pop(TOTALS_IN_ID, None)
    if totals is not None:  # a totals label under the document number: one reason, totals_row
        for reason in list(masks):
            if reason.startswith("missing_value:"):
                masks[reason] = masks[reason] & ~totals
        masks["totals_row"] = masks.get("totals_row", np.zeros(n, dtype=bool)) | totals
    header = masks.pop("repeated_header", None)
    if header is not None:  # the file's header again: one reason, not its cells' parse or GX failures
        masks = {k: v & ~header for k, v in masks.items()}
        masks["repeated_header"] = header
    masks = {k: v for k, v in masks.items() if v.any()}
    return frame, masks, outcome.summary()


def _equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality of two string columns of the same length (nulls compare unequal)."""
    import pyarrow.compute as pc

    left = arrow(a.astype("string"))
    right = arrow(b.astype("string"))
    return pc.equal(left, right).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


# Exact duplicate rows share these columns, so only rows whose key repeats are compared in full.
DUPLICATE_KEYS: dict[str, tuple[str, ...]] = {
    "invoices": ("invoice_id",),
    "payments": ("payment_id",),
    "debtors": ("debtor_id",),
    "events": ("debtor_id", "event_date", "kind"),
    "statements": ("debtor_id", "period_end"),
    "payment_plans": ("debtor_id", "agreed_on"),
    "debtor_history": ("debtor_id", "valid_from"),
}


HASHED_KEY_ROWS = 1_000_000
"""From this many rows an id key is grouped by hash (:func:`_repeated_texts`) even when the hash is
not compiled in this process yet (loading it costs ~0.4 s once; the streamed ingest loads it before
its workers fork). The rows found are the same either way."""


def _duplicate_rows(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Rows that repeat an earlier row exactly (first copy kept), as a bool array.

    Rows are first grouped by ``key`` (one id column: by a 64-bit hash of its texts,
    :func:`_repeated_texts`; several columns: Arrow dictionary codes); only rows whose key repeats
    are compared on every column.
    """

    n = len(frame)
    if n == 0:
        return np.zeros(0, dtype=bool)
    cols = [c for c in key if c in frame.columns]
    if not cols:
        return frame.duplicated(keep="first").to_numpy()
    dup = np.zeros(n, dtype=bool)
    if len(cols) == 1 and (n >= HASHED_KEY_ROWS or hash_compiled()):
        candidates = _repeated_texts(arrow(frame[cols[0]]))
        if len(candidates):
            dup[candidates[frame.iloc[candidates].duplicated(keep="first").to_numpy()]] = True
        return dup
    group = np.zeros(n, dtype=np.int64)
    for i, c in enumerate(cols):
        encoded = arrow(frame[c]).dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
        group = group * (len(encoded.dictionary) + 1) + codes
        if i:  # the first column's codes are dense already: no sort needed
            _, group = np.unique(group, return_inverse=True)  # keep codes dense (no overflow)
    counts = np.bincount(group)
    candidates = np.flatnonzero(counts[group] > 1)
    if len(candidates):
        dup[candidates[frame.iloc[candidates].duplicated(keep="first").to_numpy()]] = True
    return dup


def _repeated_texts(values: Any) -> np.ndarray:
    """Positions (ascending) of the rows whose text may occur more than once in ``values`` (an
    Arrow string array): every row whose text repeats, null rows when there are several, and, rarely,
    a row whose 64-bit hash (:func:`pipelines.ingest.idhash.id_hashes`) another text shares. The
    caller compares the candidates exactly, so a collision costs a comparison, never a wrong answer.
    A hash and a sort: ~0.065 CPU-s per million ids, where Arrow's dictionary encoding took ~0.14."""
    hashed = id_hashes(values)
    if values.null_count:  # a null slot's bytes are not defined: every null gets the same hash
        hashed[values.is_null().to_numpy(zero_copy_only=False)] = 0
    ordered = np.sort(hashed)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeated):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(hashed, repeated))


def _by_first_invoice(
    pay: pd.DataFrame,
    inv: pd.DataFrame,
    accepted_rows: np.ndarray,
    candidates: np.ndarray,
    test: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The ``candidates`` payment rows whose debtor has an accepted invoice and whose days after the
    debtor's first accepted invoice (negative: before it; ``timedelta64``) pass ``test``."""
    out = np.zeros(len(pay), dtype=bool)
    rows = np.flatnonzero(candidates)
    if not len(rows) or not len(accepted_rows):
        return out
    first = inv.iloc[accepted_rows].groupby("debtor_id", observed=True)["issue_date"].min()
    pos = index_in(pay["debtor_id"].iloc[rows], first.index.to_series())
    has = pos >= 0
    first_day = first.to_numpy(dtype="datetime64[ns]")[pos[has]]
    paid = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows[has]]
    out[rows[has][test(paid - first_day)]] = True
    return out


def _accepted_positions(
    first: np.ndarray, inv_ok: np.ndarray, accepted_rows: np.ndarray, pay_ids: pd.Series, inv_ids: pd.Series
) -> np.ndarray:
    """``index_in(pay_ids, inv_ids.iloc[accepted_rows])`` (the first accepted invoice with each
    payment's invoice id) from ``first``, each payment's first invoice row with its id among all
    invoice rows (-1: none, or no id). Where that row is accepted, no accepted row comes before it;
    where it is rejected, a later accepted row with the id is looked up (those payments only)."""
    pos = np.full(len(first), -1, dtype=np.int64)
    has = first >= 0
    hit = np.zeros(len(first), dtype=bool)
    hit[has] = inv_ok[first[has]]
    pos[hit] = (np.cumsum(inv_ok, dtype=np.int64) - 1)[first[hit]]  # rank among the accepted rows
    again = np.flatnonzero(has & ~hit)
    if len(again) and len(accepted_rows):
        pos[again] = index_in(pay_ids.iloc[again], inv_ids.iloc[accepted_rows])
    return pos


def _isin_rest(values: pd.Series, known: pd.Series, found: np.ndarray) -> np.ndarray:
    """``isin(values, known)`` when the rows of ``found`` are already known to be in ``known`` (found
    in a subset of it): only the other rows are looked up, so a clean table costs no second pass.
    Empty cells are never in ``known`` (``isin``): they are not looked up either, so unallocated
    payments alone do not cost a hash table of every invoice id of the partition."""
    rest = np.flatnonzero(~found & values.notna().to_numpy())
    out = found.copy()
    if len(rest):
        out[rest] = isin(values.iloc[rest], known)
    return out


def cross_table(
    typed: dict[str, pd.DataFrame],
    masks: dict[str, dict[str, np.ndarray]],
    rules: RulesConfig,
    broken: dict[str, pd.DataFrame] | None = None,
    elsewhere: tuple[np.ndarray, np.ndarray] | None = None,
    invoice_row: np.ndarray | None = None,
) -> None:
    """Reference checks between tables (:func:`_references`; the reversals are netted against the
    payments they reverse (:func:`net_reversals`) before the overpayment check, or at the end when
    that check does not run)."""
    _references(typed, masks, rules, broken, elsewhere, invoice_row)
    net_reversals(typed, masks)


def net_reversals(typed: dict[str, pd.DataFrame], masks: dict[str, dict[str, np.ndarray]]) -> None:
    """A negative payment (a reversal: bounced direct debit, charge-back, cancelled receipt) nets out
    the payment it reverses: an accepted payment of the same debtor and invoice (or both
    unallocated), of the same amount to the cent, dated on or before it (the latest such one, each
    payment reversed once). Both rows are quarantined, the payment ``reversed_payment`` and the
    reversal ``reversal``, so the invoice is open again. A negative payment without such a payment is
    ``reversal_unmatched``. Before, every negative payment was ``amount_not_positive`` and the payment
    it reversed still counted (the invoice looked paid). A payment of 0 stays ``amount_not_positive``."""
    pay = typed.get("payments")
    m = masks.get("payments")
    if pay is None or m is None or not len(pay) or "amount_not_positive" not in m:
        return
    n = len(pay)
    amount = pd.to_numeric(pay["amount"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    only_sign = passing({k: v for k, v in m.items() if k != "amount_not_positive"}, n)
    reversal = np.flatnonzero(only_sign & (amount < 0))
    if not len(reversal):
        return
    ok = passing(m, n)
    # only the payments of debtors with a reversal are candidates (1M payments: 0.08 CPU-s, not 6.7)
    ok &= pay["debtor_id"].isin(pay["debtor_id"].iloc[reversal].dropna().unique()).to_numpy(dtype=bool)
    sub = np.flatnonzero(ok)
    sub = np.union1d(sub, reversal)  # the rows read below; other rows keep placeholders
    debtor = np.full(n, "", dtype=object)
    invoice = np.full(n, "", dtype=object)
    debtor[sub] = pay["debtor_id"].iloc[sub].astype("string").fillna("").to_numpy(dtype=object)
    invoice[sub] = pay["invoice_id"].iloc[sub].astype("string").fillna("").to_numpy(dtype=object)
    day = pay["paid_on"].to_numpy(dtype="datetime64[ns]")
    # matched in thousandths: a dinar refund of 12.344 does not cancel a payment of 12.345
    mills = np.round(np.abs(np.nan_to_num(amount)) * 1000).astype(np.int64)
    open_: dict[tuple[Any, Any, int], list[int]] = {}
    for row in np.flatnonzero(ok)[np.argsort(day[ok], kind="stable")]:
        open_.setdefault((debtor[row], invoice[row], int(mills[row])), []).append(int(row))
    reversed_ = np.zeros(n, dtype=bool)
    matched = np.zeros(n, dtype=bool)
    for row in reversal[np.argsort(day[reversal], kind="stable")]:
        rows = open_.get((debtor[row], invoice[row], int(mills[row])), [])
        earlier = [r for r in rows if day[r] <= day[row]]
        if earlier:
            rows.remove(earlier[-1])
            reversed_[earlier[-1]] = True
            matched[row] = True
    m["amount_not_positive"] = m["amount_not_positive"] & ~(only_sign & (amount < 0))
    unmatched = np.zeros(n, dtype=bool)
    unmatched[reversal] = True
    unmatched &= ~matched
    flag(m, "reversed_payment", reversed_)
    flag(m, "reversal", matched)
    flag(m, "reversal_unmatched", unmatched)
    if not m["amount_not_positive"].any():
        del m["amount_not_positive"]


def _references(
    typed: dict[str, pd.DataFrame],
    masks: dict[str, dict[str, np.ndarray]],
    rules: RulesConfig,
    broken: dict[str, pd.DataFrame] | None = None,
    elsewhere: tuple[np.ndarray, np.ndarray] | None = None,
    invoice_row: np.ndarray | None = None,
) -> None:
    """Reference checks between tables, applied to rows that passed their own table's checks.

    ``broken``: per table, the malformed rows with the ids salvaged from them; a reference to such
    an id is ``debtor_quarantined`` / ``invoice_quarantined``, not unknown.
    ``elsewhere`` (streamed ingest, one debtor partition): per payment row, whether its invoice id
    is an invoice row of another partition, and whether that invoice is accepted there. Such an
    invoice belongs to another debtor, so an accepted one makes the payment ``debtor_mismatch``.
    ``invoice_row`` (streamed ingest): per payment row, the first invoice row with its invoice id
    (-1: none, or no id), found while the partition was validated: the invoice ids are then not
    looked up again (:func:`_accepted_positions`).
    """
    broken = broken or {}

    def _ids(table: str, column: str) -> pd.Series:
        ids = typed[table][column].dropna()
        salvaged = broken.get(table)
        if salvaged is not None and column in salvaged.columns and len(salvaged):
            ids = pd.concat([ids, salvaged[column].dropna().astype("string")], ignore_index=True)
        return ids

    accepted_ids: dict[str, pd.Series] = {}
    all_ids: dict[str, pd.Series] = {}

    def _debtor_check(table: str) -> None:
        frame = typed[table]
        ok = passing(masks[table], len(frame))
        ids = frame["debtor_id"]
        if "debtors" in typed:
            known_any, known_ok = all_ids["debtors"], accepted_ids["debtors"]
        elif table == "payments" and "invoices" in typed:
            known_any = typed["invoices"]["debtor_id"]
            known_ok = known_any
        else:
            return
        in_ok = isin(ids, known_ok)
        in_any = _isin_rest(ids, known_any, in_ok)
        flag(masks[table], "unknown_debtor", ok & ~in_any)
        flag(masks[table], "debtor_quarantined", ok & in_any & ~in_ok)

    if "debtors" in typed:
        d = typed["debtors"]
        all_ids["debtors"] = _ids("debtors", "debtor_id")
        accepted_ids["debtors"] = d["debtor_id"][passing(masks["debtors"], len(d))]
    for table in ("invoices", "events", "statements", "payment_plans", "debtor_history"):
        if table in typed:
            _debtor_check(table)
    if "payments" not in typed:
        return
    _debtor_check("payments")
    pay = typed["payments"]
    if "invoices" not in typed:
        return
    inv = typed["invoices"]
    inv_ok = passing(masks["invoices"], len(inv))
    accepted_rows = np.flatnonzero(inv_ok)  # accepted invoice ids are unique (duplicates are rejected)
    ok = passing(masks["payments"], len(pay))
    allocated = pay["invoice_id"].notna().to_numpy()
    # position of each payment's invoice among the accepted invoices (-1: none)
    if invoice_row is None:
        pos = index_in(pay["invoice_id"], inv["invoice_id"].iloc[accepted_rows])
        found = pos >= 0
    else:
        pos = _accepted_positions(invoice_row, inv_ok, accepted_rows, pay["invoice_id"], inv["invoice_id"])
        found = (pos >= 0) | (invoice_row >= 0)
    in_any = _isin_rest(pay["invoice_id"], _ids("invoices", "invoice_id"), found)
    far_ok = np.zeros(len(pay), dtype=bool)
    if elsewhere is not None:
        in_any = in_any | elsewhere[0]
        far_ok = elsewhere[1] & (pos < 0)
    unknown = ok & allocated & ~in_any
    # paid at most export_start_days after the debtor's first accepted invoice: a rolling export (the
    # last 12 months of invoices with every payment made in them) carries the payments of invoices
    # issued before its window (s23: 14.9 % of the payments, 97 % of them within 90 days of the
    # debtor's first invoice in the window). Per debtor: a streamed ingest finds the same rows
    window = np.timedelta64(rules.export_start_days, "D")
    before = _by_first_invoice(pay, inv, accepted_rows, unknown, lambda days: days <= window)
    flag(masks["payments"], "invoice_before_export", before)
    flag(masks["payments"], "unknown_invoice", unknown & ~before)
    flag(masks["payments"], "invoice_quarantined", ok & allocated & in_any & (pos < 0) & ~far_ok)
    ok = passing(masks["payments"], len(pay))
    prepay = np.timedelta64(rules.prepayment_days, "D")
    flag(
        masks["payments"],
        "paid_before_first_invoice",
        # unallocated cash dated more than prepayment_days before the debtor's first accepted
        # invoice would wait on account and silently settle invoices issued years later
        _by_first_invoice(pay, inv, accepted_rows, ok & ~allocated, lambda days: days < -prepay),
    )
    mismatch = ok & allocated & far_ok  # the accepted invoice is another debtor's
    rows = np.flatnonzero(ok & allocated & ~far_ok)
    if not len(rows):
        flag(masks["payments"], "debtor_mismatch", mismatch)
        return
    inv_rows = accepted_rows[pos[rows]]
    same_debtor = _equal(pay["debtor_id"].iloc[rows], inv["debtor_id"].iloc[inv_rows])
    mismatch[rows[~same_debtor]] = True
    flag(masks["payments"], "debtor_mismatch", mismatch)
    rows, inv_rows = rows[same_debtor], inv_rows[same_debtor]
    # a payment dated long before its invoice existed is a wrong date or a wrong invoice id
    paid_day = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows]
    issued = inv["issue_date"].to_numpy(dtype="datetime64[ns]")[inv_rows]
    early = paid_day < issued - np.timedelta64(rules.prepayment_days, "D")
    too_early = np.zeros(len(pay), dtype=bool)
    too_early[rows[early]] = True
    flag(masks["payments"], "paid_before_issue", too_early)
    rows, inv_rows = rows[~early], inv_rows[~early]
    # reversals first: a payment made again after a bounced one is not an overpayment
    net_reversals(typed, masks)
    kept = ~masks["payments"].get("reversed_payment", np.zeros(len(pay), dtype=bool))[rows]
    rows, inv_rows = rows[kept], inv_rows[kept]
    if not len(rows):  # every allocated payment was reversed
        return
    # cumulative paid per invoice, in (invoice, paid_on, file order); flag payments above the limit
    # made when the invoice was already paid in full (paid twice). The payment that takes an open
    # invoice above its amount settles it, and its excess is credit on the account (features/ledger):
    # quarantined, it left the invoice open and a customer who paid too much heading for a default
    paid_on = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows].astype(np.int64)
    order = np.lexsort((rows, paid_on, inv_rows))
    rows, inv_rows = rows[order], inv_rows[order]
    amount = pay["amount"].to_numpy(dtype=np.float64)[rows]
    total = np.cumsum(amount)
    starts = np.r_[True, inv_rows[1:] != inv_rows[:-1]]
    offset = np.repeat((total - amount)[starts], np.diff(np.r_[np.flatnonzero(starts), len(rows)]))
    paid_so_far = total - offset
    invoice_amount = inv["amount"].to_numpy(dtype=np.float64)[inv_rows]
    limit = invoice_amount * (1 + rules.overpayment_tolerance) + rules.overpayment_tolerance_abs
    over = np.zeros(len(pay), dtype=bool)
    settled_before = paid_so_far - amount >= invoice_amount - rules.overpayment_tolerance_abs
    over[rows[(paid_so_far > limit) & settled_before]] = True
    flag(masks["payments"], "overpays_invoice", over)


OPTIONAL_ATTRIBUTES: tuple[str, ...] = (
    "name",
    "segment",
    "country",
    "credit_limit",
    "onboarded_on",
    "annual_turnover",
    "net_worth",
)
# Per table, the optional values whose defect empties the value and keeps the row under
# rules.optional_attributes: clear. An event's amount is informational: before session 35 an
# unreadable one ("-1,250.50" in a canonical file, "abc") quarantined the whole event, and with it
# the debtor's default (a write-off, an insolvency), so the debtor was scored as live.
OPTIONAL_VALUES: dict[str, tuple[str, ...]] = {"debtors": OPTIONAL_ATTRIBUTES, "events": ("amount",)}
_REASON_COLUMN: dict[str, str] = {
    "bad_country": "country",
    "negative_credit_limit": "credit_limit",
    "negative_annual_turnover": "annual_turnover",
}


def _reason_column(reason: str, table: str = "debtors") -> str | None:
    """The optional value of ``table`` a reason concerns (None: a reason about the row)."""
    column = _REASON_COLUMN.get(reason, reason.split(":", 1)[1] if ":" in reason else None)
    return column if column in OPTIONAL_VALUES.get(table, ()) else None


# Code columns whose cleared values the warning shows (s36-walk: "250 invalid values cleared" did not
# say they were country names, Spain for ES)
BAD_CODE_COLUMNS = {
    "country": "ISO-3166 alpha-2 country codes (ES, NL, GB)",
    "currency": "ISO-4217 codes (EUR, USD)",
}


def clear_optional(
    frame: pd.DataFrame, masks: dict[str, np.ndarray], raw: RawTable, clear: bool = True
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Empty invalid optional values (debtor attributes, an event's amount: :data:`OPTIONAL_VALUES`)
    instead of rejecting the row (``clear``: ``rules.optional_attributes: clear``), and count the
    values read with a note (:data:`NOTES`: an invoice amount read down to its currency's unit).

    Removes those reasons from ``masks`` (in place) and returns the new frame and, per
    column, ``{"rows": n, "reasons": {reason: n}, "first_source_rows": [...]}`` counting the rows
    that are otherwise accepted.
    """
    noted = {r: r.split(":", 1)[1] for r in masks if r in NOTES}
    attribute = {r: c for r in masks if clear and (c := _reason_column(r, raw.table)) is not None}
    attribute.update(noted)
    if not attribute:
        return frame, {}
    n = len(frame)
    hits = {reason: masks.pop(reason) for reason in attribute}
    row_ok = passing(masks, n)
    out = frame.copy()
    cleared: dict[str, Any] = {}
    for column in sorted(set(attribute.values())):
        reasons = {r: m for r, m in hits.items() if attribute[r] == column}
        hit = ~passing(reasons, n)
        if not set(reasons) <= NOTES:
            out[column] = out[column].mask(hit)
        counted = hit & row_ok
        if counted.any():
            cleared[column] = {
                "rows": int(counted.sum()),
                "reasons": {
                    r: int((m & row_ok).sum()) for r, m in sorted(reasons.items()) if (m & row_ok).any()
                },
                "first_source_rows": [int(r) for r in raw.source_row[counted][:5]],
            }
            if column in BAD_CODE_COLUMNS and column in frame:  # the values, so the warning can say which
                # as the file wrote them ('Spain', not the upper-cased 'SPAIN') when the raw rows line up
                written = raw.frame[column] if column in raw.frame and len(raw.frame) == n else frame[column]
                seen = written[counted].dropna().astype(str).str.strip().drop_duplicates().head(3)
                cleared[column]["examples"] = seen.tolist()
                # their rows, for a streamed ingest to keep the first 3 of the file (dropped from the manifest)
                at = np.flatnonzero(np.asarray(counted))
                first: dict[str, int] = {}
                for v, r in zip(written.iloc[at].astype(str).str.strip(), raw.source_row[at], strict=True):
                    first.setdefault(v, int(r))
                cleared[column]["example_rows"] = [first[v] for v in seen]
    return out, cleared


# What to check when every row of a table is rejected for one reason.
