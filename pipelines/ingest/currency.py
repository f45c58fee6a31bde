"""Currencies: amounts converted once into the reporting currency, never summed across currencies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.project import CurrencyConfig
from pipelines.config.source import RulesConfig
from pipelines.ingest.decimals import money_places
from pipelines.ingest.masks import arrow, flag, index_in, passing
from pipelines.words import counted

# ---------------------------------------------------------------- currencies

# Unambiguous currency symbols written instead of the ISO code ('$' and '¥' are ambiguous: quarantined).
CURRENCY_SYMBOLS: dict[str, str] = {"€": "EUR", "£": "GBP"}


def currency_counts(codes: pd.Series) -> dict[str, int]:
    """Rows per currency code (nulls not counted)."""
    import pyarrow.compute as pc

    found = pc.value_counts(arrow(codes).drop_null())
    return {
        str(v): int(c)
        for v, c in zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True)
    }


def reporting_currency(
    counts: dict[str, int], default_currency: str | None, cfg: CurrencyConfig
) -> tuple[str | None, str]:
    """The reporting currency and how it was chosen (config, default_currency, single, most_invoices,
    none), from the accepted invoices' rows per currency."""
    if cfg.reporting:
        return cfg.reporting, "config"
    if default_currency:
        return default_currency, "default_currency"
    if not counts:
        return None, "none"
    if len(counts) == 1:
        return next(iter(counts)), "single"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return str(ranked[0][0]), "most_invoices"


@dataclass(frozen=True)
class CurrencyPlan:
    """What a conversion needs to know about the whole invoices table (streamed ingest): the
    reporting currency, how it was chosen, and every currency text of the invoices."""

    reporting: str | None
    chosen_by: str
    names: frozenset[str]


def _rates_for(
    codes: np.ndarray, names: list[str], reporting: str, cfg: CurrencyConfig, masks: dict[str, np.ndarray]
) -> np.ndarray:
    """Rate per row from integer currency ``codes`` into ``names`` (-1: empty = reporting).

    NaN where there is no rate (``no_fx_rate:<code>`` added to ``masks``).
    """
    rate = np.ones(len(codes))
    for i, code in enumerate(names):
        if not re.fullmatch(r"[A-Z]{3}", code):
            continue  # not a code at all: bad_currency (invoices suite)
        r = cfg.rate(code, reporting)
        if r == 1.0:
            continue
        rows = codes == i
        if r is None:
            rate[rows] = np.nan
            flag(masks, f"no_fx_rate:{code}", rows)
        else:
            rate[rows] = r
    return rate


def _debtor_currency(
    inv: pd.DataFrame, inv_codes: np.ndarray, ok: np.ndarray, debtors: pd.Series
) -> np.ndarray:
    """Currency code of each of ``debtors``: the one of its accepted invoices when they all share one, else -1."""
    sel = np.flatnonzero(ok & (inv_codes >= 0))
    out = np.full(len(debtors), -1, dtype=np.int64)
    if not len(sel) or not len(debtors):
        return out
    import pyarrow as pa

    pairs = pa.table({"debtor_id": arrow(inv["debtor_id"]).take(pa.array(sel)), "code": inv_codes[sel]})
    per = pairs.group_by("debtor_id").aggregate([("code", "min"), ("code", "max")])
    lo, hi = per["code_min"].to_numpy(), per["code_max"].to_numpy()
    single = pd.Series(
        per["debtor_id"].to_pandas(types_mapper=pd.ArrowDtype)[lo == hi].astype("string").to_numpy()
    )
    pos = index_in(debtors, single)
    out[pos >= 0] = lo[lo == hi][pos[pos >= 0]]
    return out


def _check_payment_currency(
    pay: pd.DataFrame, taken: np.ndarray, masks: dict[str, dict[str, np.ndarray]]
) -> None:
    """Payments whose own ``currency`` cell (optional) is not the currency ews takes them in (``taken``:
    their invoice's, or for unallocated cash the debtor's) get ``currency_mismatch``: a USD payment
    of an EUR invoice would otherwise be counted as EUR."""
    if "currency" not in pay.columns or not pay["currency"].notna().any():
        return
    given = pay["currency"].to_numpy(dtype=object, na_value=None)
    has = pay["currency"].notna().to_numpy()
    mismatch = has & (given != taken)
    if mismatch.any():
        flag(masks["payments"], "currency_mismatch", mismatch)


def convert_currencies(
    typed: dict[str, pd.DataFrame],
    masks: dict[str, dict[str, np.ndarray]],
    default_currency: str | None,
    cfg: CurrencyConfig,
    rules: RulesConfig,
    plan: CurrencyPlan | None = None,
    far_currency: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Convert invoice and payment amounts into the reporting currency (in place in ``typed``).

    A payment is in its invoice's currency; unallocated cash (or cash naming an unknown invoice)
    is in the currency of the debtor's invoices when they share one, else ``default_currency``,
    else the reporting currency. Rows whose currency has no rate get ``no_fx_rate:<code>``.
    Returns, per table, the converted rows' originals (id, original_amount, original_currency,
    rate, amount; indexed by row) and the manifest's ``currency`` section. Events, statements and
    debtors' credit limits carry no currency and are taken as reporting-currency amounts.

    A streamed ingest converts one debtor partition at a time: ``plan`` then holds what is known
    about the whole invoices table, and ``far_currency`` gives, per payment row, whether its
    invoice is a row of another partition and that invoice's currency text.
    """
    if "invoices" not in typed or (plan is not None and plan.chosen_by == "no invoices"):
        return {}, {"reporting": cfg.reporting or default_currency, "chosen_by": "no invoices"}
    inv = typed["invoices"]
    ok = passing(masks["invoices"], len(inv))
    if plan is None:
        reporting, how = reporting_currency(currency_counts(inv["currency"][ok]), default_currency, cfg)
    else:
        reporting, how = plan.reporting, plan.chosen_by
    section: dict[str, Any] = {"reporting": reporting, "chosen_by": how, "rates": {}, "converted_rows": {}}
    if reporting is None:
        return {}, section
    tables = [t for t in ("invoices", "payments") if t in typed]
    section["converted_rows"] = dict.fromkeys(tables, 0)
    section["no_rate_rows"] = {t: {} for t in tables}
    encoded = arrow(inv["currency"]).dictionary_encode()
    names = [str(x) for x in encoded.dictionary.to_pylist()]
    fallback = default_currency or reporting
    every = set(names) if plan is None else set(plan.names)
    if every <= {reporting} and fallback == reporting:  # one currency: nothing to convert
        if inv["currency"].hasnans:
            inv["currency"] = inv["currency"].fillna(reporting)
        if "payments" in typed:
            _check_payment_currency(typed["payments"], np.full(len(typed["payments"]), reporting), masks)
        return {}, section
    if fallback not in names:
        names.append(fallback)
    inv_codes = (
        encoded.indices.fill_null(names.index(reporting) if reporting in names else -1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    codes: dict[str, np.ndarray] = {"invoices": inv_codes}
    if "payments" in typed:
        pay = typed["payments"]
        pos = index_in(pay["invoice_id"], inv["invoice_id"])
        pay_codes = np.where(pos >= 0, inv_codes[np.maximum(pos, 0)], -1)
        if far_currency is not None:  # the invoice is a row of another debtor partition
            far = (pos < 0) & far_currency[0]
            text = pd.Series(far_currency[1], dtype="string")
            for value in text[far].dropna().unique():
                if value not in names:
                    names.append(str(value))
                pay_codes[far & (text == value).to_numpy(dtype=bool, na_value=False)] = names.index(value)
            pay_codes[far & text.isna().to_numpy()] = names.index(reporting) if reporting in names else -1
            pos = np.where(far, 0, pos)  # not loose: the invoice's currency
        loose = np.flatnonzero(pos < 0)  # unallocated or unknown invoice: the debtor's single currency
        pay_codes[loose] = _debtor_currency(inv, inv_codes, ok, pay["debtor_id"].iloc[loose])
        pay_codes[pay_codes < 0] = names.index(fallback)
        codes["payments"] = pay_codes
        _check_payment_currency(pay, np.asarray(names, dtype=object)[pay_codes], masks)
    fx: dict[str, pd.DataFrame] = {}
    key = {"invoices": "invoice_id", "payments": "payment_id"}
    for table, code in codes.items():
        frame = typed[table]
        rate = _rates_for(code, names, reporting, cfg, masks[table])
        # a payment whose own currency cell is not the one ews would take it in is quarantined as written
        # (before session 28 its row showed the amount converted from the currency it is not in: 2560.0
        # for a written 1,600.00 NZD taken as USD at 1.60)
        as_written = masks[table].get("currency_mismatch", np.zeros(len(frame), dtype=bool))
        rate = np.where(as_written, np.nan, rate)
        moved = np.isfinite(rate) & (rate != 1.0)
        section["converted_rows"][table] = int(moved.sum())
        section["no_rate_rows"][table] = {
            r.split(":", 1)[1]: int(m.sum())
            for r, m in sorted(masks[table].items())
            if r.startswith("no_fx_rate:")
        }
        if table == "invoices":
            frame["currency"] = frame["currency"].where(~np.isfinite(rate), reporting)
        elif "currency" in frame.columns and frame["currency"].notna().any():  # converted with the amount
            frame["currency"] = frame["currency"].mask(
                frame["currency"].notna() & np.isfinite(rate), reporting
            )
        if not moved.any():
            continue
        original = frame["amount"].to_numpy(dtype=np.float64)
        # a 3-decimal reporting currency (KWD, ...) keeps its mills: 150 USD at 0.30712 is 46.068 KWD
        places = money_places(reporting)
        converted = np.where(moved, np.round(original * np.nan_to_num(rate, nan=1.0), places), original)
        frame["amount"] = converted
        # a converted amount is checked against the ceiling again (a rate can be absurd too)
        flag(
            masks[table],
            "implausible_amount:amount",
            moved & (np.abs(converted) > rules.ceiling(table, "amount")),
        )
        rows = np.flatnonzero(moved)
        fx[table] = pd.DataFrame(
            {
                key[table]: frame[key[table]].iloc[rows].to_numpy(),
                "original_amount": original[rows],
                "original_currency": np.asarray(names, dtype=object)[code[rows]],
                "rate": rate[rows],
                "amount": converted[rows],
                "currency": reporting,
            },
            index=rows,
        )
        for i in np.unique(code[rows]):
            section["rates"][names[i]] = cfg.rate(names[i], reporting)
    section["rates"] = dict(sorted(section["rates"].items()))
    return fx, section


# said once by `ews ingest` (its summary) and once by each nightly run (its log) when no currency is known (statements carry none; invoices without a currency
# column and no default): before session 30 the outputs left it out in silence (an empty currency
# column, "Expected loss" headed without a code, the console's "expected loss 9,855")
NO_CURRENCY = (
    "no currency named: the data carry no currency code and conf/ews.yaml sets no currency.reporting, so "
    "every amount is written without one (an empty currency column, headers and totals without a code). "
    "Name it in conf/ews.yaml: `currency: {reporting: EUR}` (your currency's ISO-4217 code; a source "
    "config's default_currency also names it); `ews score` reads it from its next run, no new ingest needed"
)


def currency_warnings(section: dict[str, Any], tables: dict[str, Any]) -> list[str]:
    """The ingest's warnings about currencies: mismatched payments, a reporting currency chosen by
    count, rows without a rate. (No currency at all is a note of `ews ingest`'s summary,
    :data:`NO_CURRENCY`: the manifest's ``currency.reporting`` is null.)"""
    out = []
    mismatched = ((tables.get("payments") or {}).get("reasons") or {}).get("currency_mismatch", 0)
    if mismatched:
        out.append(
            f"payments: {counted(mismatched, 'row')} quarantined (currency_mismatch): their currency column differs "
            "from the currency of the invoice they pay (unallocated cash: of the debtor's invoices). ews takes "
            "a payment in its invoice's currency: convert such payments in the export into the invoice's "
            "currency, or leave their currency cell empty; see quarantine/payments.csv"
        )
    if section.get("chosen_by") == "most_invoices":
        out.append(
            f"invoices are in several currencies and no reporting currency is configured: "
            f"{section['reporting']} (most invoices) was chosen. Set currency.reporting and "
            "currency.rates in conf/ews.yaml."
        )
    for table, counts in section.get("no_rate_rows", {}).items():
        for code, n in counts.items():
            out.append(
                f"{table}: {counted(n, 'row')} in {code} quarantined (no_fx_rate:{code}): add currency.rates.{code} "
                f"(value of 1 {code} in {section['reporting']}) to conf/ews.yaml."
            )
    return out + _statement_currency(section, tables)


# "curr" of Currency, StatementCurrency, curr_code; not of an aging export's "Current" (not yet due) or of
# "Recurring" / "concurrent" columns (s40-review: those were said to be an ignored currency column)
_CURRENCY_COLUMN = re.compile(
    r"curr(?!ent|ing)|w(ä|ae)hr|devise|valuta|moneda|waluta|\bwkz\b|\bccy\b", re.IGNORECASE
)


def _statement_currency(section: dict[str, Any], tables: dict[str, Any]) -> list[str]:
    """A statements file with a currency column: statements carry no currency in ews (their balance,
    amount_due, amount_paid and credit_limit are read as the reporting currency, not converted), so the
    column is ignored. s40-attack: a mixed book's statements in USD beside invoices in EUR were read as
    EUR (1,246 of 1,246 rows accepted) without a word."""
    ignored = [
        c for c in (tables.get("statements") or {}).get("ignored_columns") or [] if _CURRENCY_COLUMN.search(c)
    ]
    if not ignored:
        return []
    reporting = section.get("reporting")
    in_what = f"{reporting}, the reporting currency" if reporting else "the book's currency"
    return [
        f"statements: the file's column {ignored[0]!r} is ignored: ews reads statement amounts (balance, amount_due, "
        f"amount_paid, credit_limit) as {in_what}, without conversion (ews converts invoices and payments only). "
        f"If any statement is in another currency, convert its amounts to {reporting or 'one currency'} in the "
        "export and ingest again"
    ]
