"""``ews sources suggest``: guess a draft source config (``kind: source``) from one export file.

The guess is made from the file alone: encoding (UTF-8 / UTF-16 by BOM / cp1252), delimiter, title
lines above the header, then per column its kind (date and layout, number and decimal separator,
yes/no spellings, text) and, from the header's wording (English, German, French) or else the
values, which canonical column it is. A file with invoice columns and a settlement-date column is
an ``ar_export``; one with payment columns is ``tables.payments``; a debtor id with customer
attributes (name, country, credit limit...) and no ledger column is ``tables.debtors``; else
``tables.invoices``.

The draft is YAML with a comment on every mapped column: ``matched by name`` or ``GUESS`` with
the reason, and the sample values seen. The user corrects it, runs ``ews config check`` and
``ews ingest``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.sources.parse import APOSTROPHE, CURRENCY_CODES, NBSP, undecorate_amounts
from pipelines.words import counted

__all__ = ["Draft", "suggest_source"]

SAMPLE_ROWS = 2_000

# canonical column -> header words (normalised: lower case, ascii, letters and digits only)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "invoice_id": (
        "invoiceid",
        "invoiceno",
        "invoicenumber",
        "invoice",
        "invno",
        "docno",
        "documentno",
        "documentnumber",
        "document",
        "belegnr",
        "belegnummer",
        "beleg",
        "rechnungsnr",
        "rechnungsnummer",
        "rechnung",
        "facture",
        "nofacture",
        "numerofacture",
        "reference",
        "ref",
        "num",  # QuickBooks: the transaction number
        "transactionnumber",  # QuickBooks Online's newer reports (Invoices and Received Payments)
        "transactionno",
        # a receipts journal's invoice the payment was applied to (s36-walk: 'Applied To' was left out, and
        # every payment taken as unallocated cash)
        "appliedto",
        "appliedtoinvoice",
        "invoiceapplied",
        "appliestodocno",
        "appliestodocumentno",
    ),
    "payment_id": (
        "paymentid",
        "paymentno",
        "paymentnumber",
        "payment",
        "zahlungsnr",
        "zahlung",
        "receipt",
        "receiptno",
    ),
    "debtor_id": (
        "debtorid",
        "debtor",
        "customerid",
        "customerno",
        "customernumber",
        "customer",
        "custno",
        "partner",  # Odoo: the customer is a partner (its journal items' 'Partner'); SAP: business partner
        "accountno",
        "account",
        "kundennr",
        "kundennummer",
        "kunde",
        "debitor",
        "debitornr",
        "konto",  # DATEV's OPOS list, SAP FBL5N in German: the customer's (debtor) account number
        "kontonr",
        "kontonummer",
        "debitorenkonto",
        "personenkonto",
        "client",
        "noclient",
        "clientid",
        "contactname",  # Xero: the customer is a contact, named (no customer number by default)
        "contact",
        "ac",  # Sage: "A/C", the customer's account reference
        "acref",
        "accountref",
    ),
    "issue_date": (
        "issuedate",
        "invoicedate",
        "docdate",
        "documentdate",
        "postingdate",
        "date",
        "belegdatum",
        "rechnungsdatum",
        "datum",
        "datefacture",
        "issued",
    ),
    "due_date": (
        "duedate",
        "due",
        "netdue",
        "netduedate",
        "faellig",
        "faelligam",
        "faelligkeit",
        "echeance",
        "dateecheance",
    ),
    "paid_on": (
        "paidon",
        "paiddate",
        "paymentdate",
        "valuedate",
        "valuta",
        "zahldatum",
        "zahlungsdatum",
        "datepaiement",
    ),
    "amount": (
        "amount",
        "invoiceamount",
        "amountlcy",
        "total",
        "gross",
        "grossamount",
        "value",
        "betrag",
        "summe",
        "rechnungsbetrag",
        "montant",
        "amt",
    ),
    "currency": (
        "currency",
        "curr",
        "ccy",
        "cur",
        "waehrung",
        "wahrung",
        "devise",
        "moneda",
        "divisa",
        "valuta",  # Italian, Dutch, Swedish (a German 'Valuta' is a value date: a date column, not taken)
        "waluta",
        "munt",
        "moeda",
        "mena",
    ),
    "disputed": ("disputed", "dispute", "indispute", "strittig", "streitig", "litige", "blocked"),
    "settled_on": (
        "settledon",
        "settled",
        "settlementdate",
        "cleared",
        "clearedon",
        "clearingdate",
        "paidon",
        "paiddate",
        "paymentdate",
        "ausgeglichenam",
        "ausgeglichen",
        "bezahltam",
        "zahldatum",
        "ausgleichsdatum",
        "dateclosed",
        "closedatdate",  # Dynamics 365 Business Central's customer ledger entries
        "closedon",
        "closeddate",
        "clearing",
        "datepaiement",
        "datefullypaid",
        "fullypaiddate",
        "fullypaidon",
        "fullypaidondate",
        "reglele",  # French, Spanish, Italian, Dutch, Polish exports (s36-attack)
        "datereglement",
        "fechacobro",
        "fechapago",
        "dataincasso",
        "datapagamento",
        "betaaldatum",
        "betaaldop",
        "datazapaty",  # Data zapłaty (the ł has no ASCII form)
    ),
    "settled_amount": (
        "settledamount",
        "clearedamount",
        "clearedamt",
        "paidamount",
        "amountpaid",
        "paid",
        "ausgleichsbetrag",
        "zahlbetrag",
        "bezahlt",
        "montantpaye",
        "montantregle",
        "importecobrado",
        "importepagado",
        "importoincassato",
        "importopagato",
        "betaaldbedrag",
        "kwotazapacona",  # Kwota zapłacona
    ),
    "period_end": ("periodend", "statementdate", "stmtdate", "statement", "asof", "asofdate", "stichtag"),
    "balance": ("balance", "outstanding", "saldo", "solde", "closingbalance"),
    "amount_due": ("amountdue", "mindue", "minimumdue", "minimumpayment", "faelligerbetrag"),
    "amount_paid": ("amountpaid", "paid", "paymentamount", "gezahlt"),
    "days_past_due": ("dayspastdue", "dpd", "daysoverdue", "overduedays", "tageueberfaellig", "verzugstage"),
    "name": (
        "name",
        "customername",
        "debtorname",
        "company",
        "kundenname",
        "firma",
        "raisonsociale",
        "nomclient",
    ),
    "segment": ("segment", "industry", "branche", "sector", "secteur"),
    "country": ("country", "countrycode", "land", "laenderkennzeichen", "pays"),
    "credit_limit": ("creditlimit", "limit", "kreditlimit", "limite", "plafond"),
    "onboarded_on": ("onboardedon", "customersince", "since", "kundeseit", "startdate"),
}

DATE_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("iso", "%Y-%m-%d"),
    ("d.m.Y", "%d.%m.%Y"),
    ("d/m/Y", "%d/%m/%Y"),
    ("m/d/Y", "%m/%d/%Y"),
    ("Y/m/d", "%Y/%m/%d"),
    ("d-m-Y", "%d-%m-%Y"),
    ("Ymd", "%Y%m%d"),
    # two-digit years (Excel's short date format): written into the draft as strftime patterns
    ("%d.%m.%y", "%d.%m.%y"),
    ("%d/%m/%y", "%d/%m/%y"),
    ("%m/%d/%y", "%m/%d/%y"),
    # month names (English), as Xero ("06 Jan 2023") and Sage / Oracle ("06-Jan-2023") write them
    ("%d %b %Y", "%d %b %Y"),
    ("%d-%b-%Y", "%d-%b-%Y"),
    ("%d-%b-%y", "%d-%b-%y"),
)
BOOL_PAIRS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("true", "t"), ("false", "f")),
    (("yes", "y"), ("no", "n")),
    (("ja", "j"), ("nein", "n")),
    (("oui", "o"), ("non", "n")),
    (("wahr",), ("falsch",)),
    (("x",), ("-",)),
    (("1",), ("0",)),
)


@dataclass
class Column:
    """What one file column looks like."""

    name: str
    kind: str  # date | number | bool | text | empty
    samples: list[str]
    date_layout: str | None = None
    date_ambiguous: bool = False
    decimal: str | None = None
    thousands: str | None = None
    # every dotted value looks like whole thousands (1.500, 12.000) but nothing in the sample shows the
    # grouping: 1,500 (#.##0) or 1.5 (a 3-decimal currency)? Drafted as a decimal dot, with a CHECK line
    decimal_ambiguous: bool = False
    grouping: str = "thousands"  # indian: 12,34,567.50 (lakh and crore; Tally and other Indian exports)
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    unique: bool = False
    distinct: int = 0
    excel_serial: bool = False  # whole numbers that read as Excel date serials (20000 .. 73050)
    codes: bool = False  # every value an ISO 4217 currency code in capitals: a currency column by its values


@dataclass
class Draft:
    """The suggested config (YAML text with comments) and what was detected."""

    text: str
    kind: str  # ar_export | invoices | payments | statements | debtors
    mapping: dict[str, str]
    notes: list[str] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)  # the currency column's values, most frequent first


def _norm(header: str) -> str:
    text = unicodedata.normalize("NFKD", header.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue"))
    text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    from pipelines.sources.read import wide_text

    wide = wide_text(data[:8])  # UTF-16 / UTF-32, with a byte order mark or without one
    if wide is not None:
        return wide[1].lower()  # utf-16, utf-32, utf-16le, utf-32be ... (Python's names)
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _delimiter(lines: list[str]) -> str:
    best, score = ",", -1.0
    for d in (",", ";", "\t", "|"):
        counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines if ln.strip()]
        if not counts:
            continue
        common, n = Counter(counts).most_common(1)[0]
        if common > 1 and n / len(counts) * common > score:
            best, score = d, n / len(counts) * common
    return best


def _records(lines: list[str], delimiter: str | None = None) -> tuple[list[str], list[int]]:
    """Physical lines joined into records where a quoted cell holds a line break (a header cell with
    wrapped text, ``"Invoice\nNo"``), the break read as a space; and each record's span in lines.

    As csv reads quotes: a quote opens a value only at the start of a field, so a line with an inch
    mark in a value (``12" pipe``) is a record of its own. ``delimiter`` None: any of , ; tab |."""
    from pipelines.sources.read import _quote_open

    delims = [delimiter] if delimiter else [",", ";", "\t", "|"]

    def open_(text: str) -> bool:
        return any(_quote_open(text, d, '"') for d in delims)

    records: list[str] = []
    spans: list[int] = []
    k = 0
    while k < len(lines):
        record, span = lines[k], 1
        while open_(record) and k + span < len(lines) and span < 20:
            record, span = record + " " + lines[k + span], span + 1
        if open_(record):  # never closed: the line alone
            record, span = lines[k], 1
        records.append(record)
        spans.append(span)
        k += span
    return records, spans


def _skip_rows(lines: list[str], delimiter: str) -> int:
    """Lines above the header: those whose field count differs from the body's."""
    counts = [len(next(csv.reader([ln], delimiter=delimiter))) if ln.strip() else 0 for ln in lines]
    body = Counter(counts[len(counts) // 2 :] or counts).most_common(1)[0][0]
    for i, (n, line) in enumerate(zip(counts, lines, strict=True)):
        cells = next(csv.reader([line], delimiter=delimiter)) if line.strip() else []
        if n == body and sum(bool(c.strip()) for c in cells) == n:
            return i
    # QuickBooks writes a nameless first column (its section labels: "Current", "Total for ...")
    # under its title lines: the header is then the first line of the body's width with every
    # other cell named
    for i, (n, line) in enumerate(zip(counts, lines, strict=True)):
        cells = next(csv.reader([line], delimiter=delimiter)) if line.strip() else []
        if n == body and n > 2 and not cells[0].strip() and all(c.strip() for c in cells[1:]):
            return i
    # SAP's list export (ALV "unconverted"): every line framed by the delimiter (|Customer|...|), a
    # title and a line of dashes above the header: the first framed line with every inner cell named
    # and not all dashes
    for i, (n, line) in enumerate(zip(counts, lines, strict=True)):
        cells = next(csv.reader([line], delimiter=delimiter)) if line.strip() else []
        inner = [c.strip() for c in cells[1:-1]]
        framed = n == body and n > 3 and not cells[0].strip() and not cells[-1].strip() and all(inner)
        if framed and not all(set(c) <= set("-=_") for c in inner):
            return i
    return 0


def _date(values: pd.Series) -> tuple[str | None, bool]:
    # a cell Excel kept as a date is ISO text after the conversion, beside dates typed as text in
    # another layout: ingest reads ISO in any layout, so it counts for every layout that reads the rest
    iso = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
    ok = {}
    for alias, fmt in DATE_LAYOUTS:
        read = pd.to_datetime(values, format=fmt, errors="coerce").notna()
        ok[alias] = (read | iso).mean() if alias != "iso" and read.any() else read.mean()
    # most values parse: one bad date in a handful of rows (31.02.2024) must not hide the layout
    needed = min(0.8, 1 - 1 / len(values)) if len(values) >= 3 else 1.0
    good = [alias for alias, share in ok.items() if share >= needed]
    if not good:
        # ISO 8601 with its dashes (and maybe a time): a bare number such as QuickBooks' invoice number
        # 1001 is a year to pandas' ISO parser, so the column was taken for dates
        dashed = values.where(values.str.match(r"^\s*\d{4}-\d{2}"))
        iso = pd.to_datetime(dashed, format="ISO8601", errors="coerce").notna().mean()
        return ("iso", False) if iso >= 0.9 else (None, False)
    best = max(good, key=lambda a: ok[a])
    ambiguous = {"d/m/Y", "m/d/Y"} <= set(good) or {"%d/%m/%y", "%m/%d/%y"} <= set(good)
    return best, ambiguous


_COMMA_DECIMAL = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?([eE][-+]?\d+)?$")
_DOT_DECIMAL = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][-+]?\d+)?$")
# a German spreadsheet's whole amounts with a thousands dot and no decimals (Excel's #.##0): 1.500, 12.000
_DOT_THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}(\.\d{3})+$")


def _undecorated(values: pd.Series) -> pd.Series:
    # French 1\u202f234,50 groups like 1 234,50; an export's €1.234,50 or (120.00) is a number too
    return undecorate_amounts(
        values.str.replace(NBSP, " ", regex=True).str.replace(APOSTROPHE, "'", regex=False)
    )


# India's lakh and crore grouping (Tally): three digits last, pairs before: 1,00,000.00, 12,34,567.50
_INDIAN = re.compile(r"^[-+]?\d{1,2}(,\d{2})*,\d{3}(\.\d+)?$")


def _indian(values: pd.Series) -> bool:
    """Undecorated amounts grouped the Indian way: a pair group shows it (1,00,000; 12,34,567.50),
    and nearly every value is so grouped or not grouped at all (750.00)."""
    grouped = values[values.str.contains(",", regex=False)]
    if grouped.empty or not grouped.str.contains(r"\d,\d{2},", regex=True).any():
        return False
    plain = values.str.fullmatch(r"[-+]?\d+(\.\d+)?")
    return bool((values.str.match(_INDIAN) | plain).mean() >= 0.9)


def _thousands_dot(values: pd.Series) -> bool | None:
    """For undecorated amounts without a comma whose every dotted value is a whole number grouped by
    thousands (1.500, 12.000; never 1.5 or 0.250): True when the column shows the grouping (a value
    written bare, 750, as Excel's #.##0 writes hundreds, or two groups, 1.250.000), None when nothing
    does (a 3-decimal currency's 12.000 and 250.750, KWD, BHD, OMR, JOD, TND, look the same); False
    for any other column."""
    if values.str.contains(",", regex=False).any():
        return False
    dotted = values[values.str.contains(".", regex=False)]
    if len(dotted) < 2 or not dotted.str.match(_DOT_THOUSANDS).all():
        return False
    bare = values.str.fullmatch(r"[-+]?\d+").any()
    grouped = dotted.str.contains(r"\.\d{3}\.", regex=True).any()
    return True if bare or grouped else None


def _number(values: pd.Series) -> tuple[str, str | None] | None:
    values = _undecorated(values)
    if _indian(values):
        return ".", ","
    for group in ("'", " "):  # Swiss 1'234.50, French 1 234,50 (ingest reads both with `thousands`)
        g = re.escape(group)
        if values.str.contains(rf"\d{g}\d{{3}}(?:[.,]\d|$)", regex=True).any():
            shape = rf"^[-+]?(\d{{1,3}}({g}\d{{3}})+|\d+)([.,]\d+)?$"
            if values.str.match(shape).mean() >= 0.9:
                return ("," if values.str.contains(r",\d+$", regex=True).any() else "."), group
    comma = values.str.match(_COMMA_DECIMAL).mean()
    dot = values.str.match(_DOT_DECIMAL).mean()
    if max(comma, dot) < 0.9:
        return None
    has_comma = values.str.contains(",", regex=False).any()
    has_dot = values.str.contains(".", regex=False).any()
    if not has_comma and not has_dot:
        return "", None  # whole numbers: no evidence about the decimal separator
    if _thousands_dot(values) is True:  # 1.500, 750, 12.000: read as 1500, not 1.5
        return ",", "."
    if (
        comma >= dot
        and (has_comma or not has_dot)
        and comma >= 0.9
        and not (has_dot and not has_comma and dot == 1)
    ):
        grouped = values.str.contains(r"\d\.\d{3}(?:,|$)", regex=True).any()
        return ",", ("." if grouped or (has_dot and has_comma) else None)
    grouped = values.str.contains(r"\d,\d{3}(?:\.|$)", regex=True).any()
    return ".", ("," if grouped else None)


def _bool(values: pd.Series) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    seen = {v.lower() for v in values.unique()}
    if not seen or len(seen) > 4:
        return None
    for trues, falses in BOOL_PAIRS:
        if seen <= set(trues) | set(falses):
            spelled = {v.lower(): v for v in values.unique()}
            return (
                tuple(spelled.get(t, t.capitalize()) for t in trues),
                tuple(spelled.get(f, f.capitalize()) for f in falses),
            )
    return None


def _profile(frame: pd.DataFrame) -> list[Column]:
    out = []
    for name in frame.columns:
        raw = frame[name].astype("string").str.strip()
        values = raw[raw.notna() & (raw != "")]
        samples = [str(v) for v in values.drop_duplicates().head(3)]
        col = Column(
            str(name),
            "empty",
            samples,
            unique=bool(len(values)) and values.is_unique,
            distinct=values.nunique(),
        )
        if values.empty:
            out.append(col)
            continue
        layout, ambiguous = _date(values)
        flags = _bool(values)
        number = _number(values)
        if layout is not None and not values.str.fullmatch(r"\d{1,6}").all():
            col.kind, col.date_layout, col.date_ambiguous = "date", layout, ambiguous
        elif flags is not None:
            col.kind, (col.true_values, col.false_values) = "bool", flags
        elif number is not None:
            col.kind, (col.decimal, col.thousands) = "number", number
            col.decimal_ambiguous = number == (".", None) and _thousands_dot(_undecorated(values)) is None
            col.grouping = "indian" if number == (".", ",") and _indian(_undecorated(values)) else "thousands"
            # a date column saved as General in Excel: 45321 is 2024-01-30 (1954-10-03 .. 2099-12-31);
            # taken as dates only for a column named like one (amounts can be such numbers too)
            serial = values.str.fullmatch(r"\d{5}(?:\.0+)?")
            if serial.all():
                days = values.astype(float)
                col.excel_serial = bool(((days >= 20000) & (days <= 73050)).all())
        else:
            col.kind = "text"
            col.codes = bool(values.isin(CURRENCY_CODES).all())  # as written: a segment "all" is no lek
        out.append(col)
    return out


# a status column's values for documents that are no invoice (Zoho Books: Void, Draft)
_NOT_ISSUED = ("void", "voided", "draft", "cancelled", "canceled")


def _void_status(frame: pd.DataFrame) -> tuple[str, list[str]] | None:
    """(the status column, its void and draft values in the sample) (Zoho Books' ``Invoice Status``,
    Xero's ``Status``: ``VOIDED``, ``DRAFT``), if any."""
    for name in frame.columns:
        if _norm(str(name)) not in ("status", "invoicestatus", "documentstatus"):
            continue
        values = frame[name].dropna().astype(str).str.strip()
        seen = sorted({v for v in values.unique() if v.lower() in _NOT_ISSUED})
        if seen:
            return str(name), seen
    return None


_VOID_WHY = "never owed: a voided or draft invoice would stay open for good; CHECK the other statuses"


def _void_lines(frame: pd.DataFrame) -> list[str]:
    """``rows.drop`` for the invoices a status column marks void or draft: they were never owed, and
    read as invoices they stay open for good (defaults)."""
    void = _void_status(frame)
    if void is None:
        return []
    return [f"rows: {{drop: {{column: {_q(void[0])}, values: {_flow(void[1])}}}}}  # {_VOID_WHY}"]


def _internal_id(col: Column) -> bool:
    """A database key rather than a document number: every sampled value all digits, 12 or more."""
    return bool(col.samples) and all(re.fullmatch(r"\d{12,}", v) for v in col.samples)


def _by_name(columns: list[Column], canonical: str, taken: set[str]) -> Column | None:
    words = SYNONYMS[canonical]
    scored = []
    for col in columns:
        if col.name in taken:
            continue
        key = _norm(col.name)
        if canonical == "currency" and key.startswith("current"):  # an aged report's 'Current' bucket
            continue
        if "paymentterm" in key or key.endswith(("terms", "termslabel")):
            continue  # Zoho's 'Payment Terms' (30) and 'Payment Terms Label' (Net 30): no payment id
        if canonical == "debtor_id" and key.startswith("gegen"):
            continue  # DATEV's 'Gegenkonto': the contra account (revenue, bank), not the customer
        for rank, word in enumerate(words):
            if key == word:
                scored.append((0, rank, col))
            elif len(word) >= 4 and (key.startswith(word) or key.endswith(word)):
                scored.append((1, rank, col))
    return min(scored, key=lambda t: (t[0], t[1]))[2] if scored else None


WANTS: dict[str, str] = {
    "invoice_id": "text|number",
    "payment_id": "text|number",
    "debtor_id": "text|number",
    "issue_date": "date",
    "due_date": "date",
    "paid_on": "date",
    "settled_on": "date|empty",
    "amount": "number",
    "settled_amount": "number|empty",
    "currency": "text|empty",
    "disputed": "bool|empty",
    "period_end": "date",
    "balance": "number",
    "amount_due": "number|empty",
    "amount_paid": "number|empty",
    "days_past_due": "number|empty",
    "name": "text",
    "segment": "text",
    "country": "text",
    "credit_limit": "number|empty",
    "onboarded_on": "date|empty",
}


def _is_statements(chosen: dict[str, Column]) -> bool:
    return (
        "period_end" in chosen
        and bool({"balance", "days_past_due"} & set(chosen))
        and "invoice_id" not in chosen
    )


_LEDGER_COLUMNS = {"invoice_id", "payment_id", "issue_date", "due_date", "paid_on", "amount", "period_end"}
_DEBTOR_COLUMNS = {"name", "segment", "country", "credit_limit", "onboarded_on"}


def _is_debtors(chosen: dict[str, Column], why: dict[str, str]) -> bool:
    """A customer master file: a debtor id and customer attributes by name, no ledger column by name
    (the dates and numbers the value guesses took are its onboarding dates and limits)."""
    by_name = {k for k in chosen if why.get(k) == "matched by name"}
    return "debtor_id" in by_name and bool(by_name & _DEBTOR_COLUMNS) and not by_name & _LEDGER_COLUMNS


def _map(columns: list[Column]) -> tuple[dict[str, Column], dict[str, str]]:
    """canonical -> column, and canonical -> why (``matched by name`` or ``GUESS: ...``)."""
    chosen: dict[str, Column] = {}
    why: dict[str, str] = {}
    taken: set[str] = set()
    order = [
        "invoice_id", "payment_id", "debtor_id", "due_date", "issue_date", "settled_on", "paid_on",
        "settled_amount", "amount", "currency", "disputed", "name", "segment", "country", "credit_limit",
        "onboarded_on",
    ]  # fmt: skip
    period = _by_name(columns, "period_end", taken)
    if period is not None and period.kind == "date":  # a statement file: its columns first
        order = [
            "debtor_id",
            "period_end",
            "balance",
            "amount_due",
            "days_past_due",
            "amount_paid",
            "credit_limit",
        ]
    for canonical in order:
        col = _by_name(columns, canonical, taken)
        if canonical == "invoice_id" and col is not None and _internal_id(col):
            # Zoho: 'Invoice ID' is the system's key (4600000000101), 'Invoice Number' (INV-000101)
            # is what the payments export names: take the number when there is one
            number = _by_name(columns, canonical, taken | {col.name})
            if (
                number is not None
                and not _internal_id(number)
                and _norm(number.name).endswith(("number", "no"))
            ):
                col = number
        if canonical == "debtor_id" and col is not None and col.distinct == 1:
            # one value on every sampled row (Xero's payments: 'Account', the bank account they went
            # to): no customer column; another customer-named column with several values is, when
            # they repeat (a customer has several rows; a new value on every row is a reference,
            # such as the customer's PO number beside a one-customer sample's 'Customer')
            other = _by_name(columns, canonical, taken | {col.name})
            if other is not None and other.distinct > 1 and not other.unique:
                col = other
        if col is not None and col.excel_serial and "date" in WANTS[canonical].split("|"):
            col.kind, col.date_layout = "date", "excel"
            chosen[canonical], why[canonical] = (
                col,
                "matched by name (Excel date serial numbers: 45321 = 2024-01-30)",
            )
            taken.add(col.name)
        elif col is not None and col.kind in WANTS[canonical].split("|"):
            chosen[canonical], why[canonical] = col, "matched by name"
            taken.add(col.name)
    if _is_statements(chosen):
        return chosen, why  # no invoice ids or dates to guess
    # by values: dates in time order, the first unique text column as the id, a repeated one as the debtor;
    # never a column without a name in the file (read as unnamed_<position>)
    free = [c for c in columns if c.name not in taken and not re.fullmatch(r"unnamed_\d+", c.name)]
    dates = [c for c in free if c.kind == "date"]
    if "issue_date" not in chosen and dates:
        chosen["issue_date"], why["issue_date"] = dates.pop(0), "GUESS: first date column"
    if "due_date" not in chosen and dates:
        chosen["due_date"], why["due_date"] = dates.pop(0), "GUESS: next date column"
    numbers = [c for c in free if c.kind == "number" and c.name not in {x.name for x in chosen.values()}]
    # an open item's amount by name (Sage's aged debtors: 'Balance' beside the item's running 'No')
    open_amount = [c for c in numbers if _norm(c.name) in _OPEN_AMOUNT]
    if "amount" not in chosen and open_amount:
        chosen["amount"], why["amount"] = open_amount[0], "GUESS: the open amount (a report of open items)"
    elif "amount" not in chosen and numbers:
        chosen["amount"], why["amount"] = numbers[0], "GUESS: first number column"
    codes = [c for c in free if c.codes and c.name not in {x.name for x in chosen.values()}]
    if "currency" not in chosen and codes:
        # a header in another language (Moneda, Waluta): left unmapped, every row took default_currency
        # (PLN invoices ingested as EUR without a word, s36-attack)
        chosen["currency"], why["currency"] = codes[0], "GUESS: every value is a currency code"
    ids = [
        c for c in free if c.kind in ("text", "number") and c.name not in {x.name for x in chosen.values()}
    ]
    key = "payment_id" if "paid_on" in chosen and "issue_date" not in chosen else "invoice_id"
    if key not in chosen and "payment_id" not in chosen:
        unique = [c for c in ids if c.unique]
        if unique:
            chosen[key], why[key] = unique[0], "GUESS: first column with unique values"
    if "debtor_id" not in chosen and "name" in chosen:  # NetSuite's "Name" is its only customer column
        chosen["debtor_id"], why["debtor_id"] = (
            chosen.pop("name"),
            "GUESS: the customer name (no customer id found)",
        )
        why.pop("name", None)
    debtor = chosen.get("debtor_id")
    if (
        "name" not in chosen
        and debtor is not None
        and _norm(debtor.name).endswith(("id", "no", "number", "nr", "nummer"))
    ):
        # 'Customer ID' beside 'Customer': the other column named like the customer is its name
        named = _by_name(
            [c for c in free if c.kind == "text" and c.name not in {x.name for x in chosen.values()}],
            "debtor_id",
            set(),
        )
        if named is not None and named.distinct <= debtor.distinct:
            chosen["name"], why["name"] = named, f"GUESS: the customer's name beside {debtor.name!r}"
    if "debtor_id" not in chosen:
        repeated = [c for c in ids if not c.unique and c.name not in {x.name for x in chosen.values()}]
        if repeated:  # the most distinct values: a customer, not a document type (NetSuite's Type: Invoice)
            chosen["debtor_id"], why["debtor_id"] = (
                max(repeated, key=lambda c: c.distinct),
                "GUESS: the text column with repeated values and the most distinct ones",
            )
    return chosen, why


def _read(path: Path) -> tuple[pd.DataFrame, dict[str, object], list[str]]:
    """Sample rows as text, the csv options found, and notes."""
    data = path.read_bytes()[:1_000_000]
    encoding = _encoding(data)
    text = data.decode(encoding, errors="replace")
    physical = text.splitlines()[:200]
    if not physical:
        raise ValueError(f"{path}: the file is empty")
    lines, spans = _records(physical, _delimiter(physical))
    delimiter = _delimiter(lines)
    skip = _skip_rows(lines, delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            skiprows=sum(spans[:skip]),  # physical lines: a title cell may wrap too
            dtype=str,
            keep_default_na=False,
            nrows=SAMPLE_ROWS,
            on_bad_lines="skip",
            engine="python",
        )
    except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(
            f"{path}: not readable as CSV text ({type(exc).__name__}: {exc}); export the table as CSV "
            "(UTF-8, one header line)"
        ) from None
    # a nameless column is read by ingest as unnamed_<position> (pandas says "Unnamed: <index>")
    frame.columns = [  # names as ingest reads them: trimmed (SAP pads them to the column's width), a
        # line break in a wrapped header cell read as one space
        f"unnamed_{i + 1}"
        if str(c).startswith("Unnamed: ")
        else re.sub(r"\s*[\r\n]+\s*", " ", str(c).strip())
        for i, c in enumerate(frame.columns)
    ]
    opts: dict[str, object] = {
        "delimiter": delimiter,
        "encoding": "utf-8" if encoding == "utf-8-sig" else encoding,
        "skip_rows": sum(spans[:skip]),
    }
    notes = []
    if encoding == "cp1252":
        notes.append(
            "encoding cp1252 (Excel on Windows) because the file is not valid UTF-8; latin-1 is the other candidate"
        )
    return frame, opts, notes


def _flat(text: str) -> str:
    """``text`` for a one-line YAML comment: control characters and the line and paragraph separators
    U+2028 / U+2029 (YAML ends a line at them too) written out (``\\n``, ``\\u2028``). A sample cell
    holding a line break ended the comment, and the rest of the cell became a YAML line of the draft
    (a cell ``I1\\n  default_currency: JPY #`` wrote that key into the config)."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def _q(value: str) -> str:
    """A YAML scalar, always quoted (keeps Yes/No/NO/01 as text in every YAML tool)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def suggest_source(path: Path, name: str | None = None) -> Draft:
    """A draft source config for ``path`` (CSV). Raises ``ValueError`` when nothing can be mapped."""
    path = Path(path)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        raise ValueError(
            f"{path}: an Excel workbook: `ews sources suggest {path}` drafts it (converting its sheet); in "
            "Python, convert the sheet first with excel_to_csv, or save the sheet as CSV (UTF-8)"
        )
    from pipelines.sources.read import sniff

    found = sniff(path)  # an .xls workbook, a PDF, a gzip ... named as anything: say what it is
    if found is not None:
        what, fix = found
        if what.startswith("an Excel (.xlsx)"):
            fix = "name it .xlsx, then `ews sources suggest` converts its sheet"
        elif what.startswith("an old Excel (.xls)"):
            fix += " (or as .xlsx, which `ews sources suggest` converts)"
        raise ValueError(f"{path} is {what}, not CSV text: {fix}")
    frame, opts, notes = _read(path)
    if frame.empty:
        raise ValueError(
            f"{path}: has a header but no data rows; the formats (dates, numbers, yes/no) are guessed from "
            "the values: export some rows, or copy conf/sources/example_tables.yaml and map the columns by hand"
        )
    grouped = _grouped_by_customer(frame)
    if grouped is not None:  # fill the group's name into a column of its own, drop its rows and totals
        frame = _filled_down(frame, grouped)
    types = _document_types(frame)
    # a customer ledger: the columns are read from its invoice rows (payments and credit memos are
    # negative, their numbers are other series)
    columns = _profile(frame if types is None else frame.loc[types.invoice_rows].reset_index(drop=True))
    if types is not None:  # a ledger: a date layout the invoice rows leave open, read on every row (s24)
        for col in columns:
            if col.kind == "date" and col.date_ambiguous:
                raw = frame[col.name].astype("string").str.strip()
                layout, ambiguous = _date(raw[raw.notna() & (raw != "")])
                if layout is not None and not ambiguous:
                    col.date_layout, col.date_ambiguous = layout, False
    chosen, why = _map(columns)
    paid = _payment_type_column(frame) if types is None else None
    if paid is not None:  # every row a payment (a transaction list of payments): a payments file
        for was, now in (("invoice_id", "payment_id"), ("issue_date", "paid_on")):
            if was in chosen and now not in chosen:
                chosen[now], why[now] = chosen.pop(was), f"{why.get(was, '')}; every {paid!r} is a payment"
    if (
        types is None
        and paid is None
        and {"invoice_id", "issue_date", "amount"} <= set(chosen)
        and not {"due_date", "payment_id", "paid_on", "settled_on"} & set(chosen)
        and sum(c.kind == "date" for c in columns) == 1
        and not chosen["invoice_id"].unique
    ):
        # one date, no due date, an invoice number that repeats (Xero's payments received: Date,
        # ContactName, InvoiceNumber, Amount): the payments of those invoices, not invoices
        chosen["paid_on"], why["paid_on"] = (
            chosen.pop("issue_date"),
            f"GUESS: the only date; no due date and {chosen['invoice_id'].name!r} repeats: payments of invoices",
        )
        why["invoice_id"] = "GUESS: the invoice each payment paid"
    is_invoice = {"issue_date", "due_date", "amount"} <= set(chosen) or "invoice_id" in chosen
    clearing = _clearing_columns(frame) if types is not None and types.payments else None
    if clearing is not None and is_invoice:  # the payment rows join their invoices: two tables
        chosen.pop("settled_on", None)
        chosen.pop("settled_amount", None)
    if clearing is None and types is not None and types.payments and "settled_on" in chosen and is_invoice:
        # the payment rows name the invoice each settled (Business Central's Applies-to Doc. No. beside
        # Closed at Date): two tables keep each payment's own date and amount, part payments, cash on
        # account and the credit memos, which an ar_export of the invoice rows reads as cash paid in full
        # on the closing date, or leaves out (s24)
        kept = types.payments + [v for v in types.others if v.lower() in _CREDIT_MEMO_TYPES]
        rows = frame.loc[frame[types.column].fillna("").str.strip().isin(kept)]
        if _applied_to(types, chosen, frame, rows, {c.name for c in chosen.values()}) is not None:
            chosen.pop("settled_on")
            chosen.pop("settled_amount", None)
    if "settled_on" in chosen and is_invoice:
        kind = "ar_export"
    elif _is_statements(chosen):
        kind = "statements"
    elif "payment_id" in chosen or ("paid_on" in chosen and "issue_date" not in chosen):
        kind = "payments"
    elif _is_debtors(chosen, why):
        kind = "debtors"
    else:
        kind = "invoices"
    allowed = _allowed(kind)
    mapping = {c: col for c, col in chosen.items() if c in allowed}
    if kind == "payments" and "amount" not in mapping and "settled_amount" in chosen:
        # a paid amount (`Zahlbetrag`, `Paid amount`) is the payment's amount in a payments file
        mapping["amount"], why["amount"] = chosen["settled_amount"], "matched by name (a paid amount)"
    if kind == "payments" and "paid_on" not in mapping and "issue_date" in chosen:
        own = next(
            (
                c
                for c in columns
                if c.kind == "date" and _norm(c.name) in ("date", "transactiondate", "receiptdate")
            ),
            None,
        )
        if own is not None and _norm(chosen["issue_date"].name).startswith("invoice"):
            # Zoho's payments export: 'Date' is the payment's, 'Invoice Date' the invoice's it was applied to
            mapping["paid_on"], why["paid_on"] = (
                own,
                (f"GUESS: the payment's date ({chosen['issue_date'].name!r} is the invoice's)"),
            )
        else:
            mapping["paid_on"], why["paid_on"] = chosen["issue_date"], "GUESS: the date column"
    missing = [c for c in _required(kind) if c not in mapping]
    if len(missing) == len(_required(kind)):
        raise ValueError(
            f"{path}: no column looks like any canonical column; map it by hand (conf/sources/README.md)"
        )
    debtor = mapping.get("debtor_id")
    if debtor is not None and frame[debtor.name].str.contains(" : ", regex=False).any():
        why["debtor_id"] = (
            why.get("debtor_id", "")
            + "; NetSuite writes a sub-customer 'Parent : Child': each full name is one debtor (the child), "
            "its parent is not summed over its children (conf/sources/README.md, customer hierarchies)"
        )
    extra: list[str] = []
    if grouped is not None:
        extra += _group_lines(grouped)
    elif types is None and kind == "invoices":
        accounts = _account_rows(frame, mapping)
        if accounts:
            extra += _account_lines(accounts)
    sides = _debit_sides(frame, mapping) if types is not None and clearing is not None else None
    # a status column beside the document types (Xero's invoice export: Type and Status): both filters
    void = _void_status(frame) if types is not None and sides is None else None
    if types is not None and kind in ("invoices", "ar_export"):
        extra += _document_lines(types, kind, sides, void)
    # numbers that restart per year as ids: not beside payments that name their invoice by the bare number
    id_scope = _id_scope(frame) if kind in ("invoices", "ar_export") else []
    if kind == "invoices" and types is not None and types.payments and clearing is None:
        id_scope = []
    if id_scope:
        extra += _id_scope_lines(id_scope)
    if kind in ("invoices", "ar_export") and types is None:
        extra += _void_lines(frame)
    if kind in ("invoices", "payments", "ar_export") and "currency" not in mapping:
        extra += _three_decimal_lines(frame, mapping.get("amount"))
    two = _two_sides(frame, mapping) if kind == "invoices" and types is None and grouped is None else None
    if two is not None:
        extra += [
            f"# the rows with a {two.debit!r} are the invoices; those with a {two.credit!r} (payments, credit notes) "
            "are the payments below",
            f"rows: {{drop: {{column: {_q(two.debit)}, values: {_flow(two.debit_empty)}}}}}",
            f"other_side: {_q(two.credit)}  # a row with an amount in both columns is quarantined both_sides",
        ]
    pid = mapping.get("payment_id") if kind == "payments" else None
    part = next((str(c) for c in frame.columns if _norm(str(c)) in _APPLIED_AMOUNT), None)
    if kind == "payments" and types is None and part is not None and {"invoice_id", "amount"} <= set(mapping):
        extra += [  # Zoho's payments received: one row per invoice a payment was applied to
            f"applied_amount: {_q(part)}  # a payment applied to several invoices is listed once per invoice, "
            f"its total in {mapping['amount'].name!r} on each row: split into each invoice's part (this column) and "
            "what is left unapplied (conf/sources/README.md 6c)"
        ]
    if kind == "payments" and pid is None:
        missing = [c for c in missing if c != "payment_id"]
        extra += [
            "# no payment number column: each payment gets an id from its row (conf/sources/README.md, "
            "ids_from_rows)",
            "ids_from_rows: true",
            *_leave_out_lines(frame),
        ]
    elif pid is not None and (note := _typed_numbers(frame, pid.name, mapping.get("debtor_id"))) is not None:
        del mapping["payment_id"]  # QuickBooks' Num: a reference typed by hand, no id (s25)
        missing = [c for c in missing if c != "payment_id"]
        extra += [note, "ids_from_rows: true", *_leave_out_lines(frame)]
    text = _render(path, name or _slug(path.stem), kind, opts, mapping, why, columns, missing, notes, extra)
    memos = types is not None and any(v.lower() in _CREDIT_MEMO_TYPES for v in types.others)
    if types is not None and kind == "invoices" and (types.payments or memos):  # Xero's export: credit notes
        text = text.replace(
            "# payments come from another file: add tables.payments (see conf/sources/README.md)\n", ""
        )
        text += _payments_block(path, types, mapping, frame, grouped, clearing, id_scope, sides, void)
        text += _events_block(path, types, mapping, grouped)
    if two is not None:
        text = text.replace(
            "# payments come from another file: add tables.payments (see conf/sources/README.md)\n", ""
        )
        text = re.sub(  # the credit column is the payments' amount: not among the columns left out
            rf"^(# columns not mapped \(ignored by ingest\): .*?){re.escape(two.credit)}(, )?",
            lambda m: m.group(1),
            text,
            flags=re.M,
        ).replace(", \n", "\n")
        text += _two_sided_payments(path, two, mapping, frame)
    if types is not None and kind not in ("invoices", "ar_export"):
        text += _mixed_documents(types)
    currencies: list[str] = []
    if "currency" in mapping:  # most frequent first (a several-currency invoice export: suggest_many)
        cells = frame[mapping["currency"].name].fillna("").astype(str).str.strip().str.upper()
        currencies = [str(c) for c in cells[cells != ""].value_counts().index]
    return Draft(text, kind, {c: col.name for c, col in mapping.items()}, notes, currencies)


# document types of a customer ledger (Business Central, NetSuite, SAP's codes): invoices, payments
# (DZ), credit memos and others (DG credit memo, DA / AB clearing)
# (English, German, French, Spanish: Business Central's Belegart / type de document in its languages)
# a document type column holds a few values; more is a free-text column (a description, a reference)
_MAX_TYPES = 12
# write-offs of bad debts: they settle the invoice (no cash, as a credit memo) and are a default event
_WRITE_OFF_TYPES = frozenset({"write off", "write-off"})  # as events: ingest reads both as write_off
_PAYMENT_TYPES = frozenset(
    {"payment", "payments", "receipt", "dz", "zahlung", "paiement", "règlement", "reglement", "pago", "cobro"}
    # Odoo's journal items name their journal: customer payments are booked in the bank (or cash) journal
    | {"bank", "cash"}
    | {"receivable payment"}  # Xero's Account Transactions (Source)
    # Sage 50's audit trail codes (gb-kb.sage.com, "Transaction Types"): SR sales receipt, SA payment on account
    | {"sr", "sa"}
)
_NOT_INVOICE_TYPES = _PAYMENT_TYPES | frozenset(
    {
        "credit memo",
        "credit note",
        "refund",
        "journal",
        "dg",
        "da",
        "ab",
        "gutschrift",
        "erstattung",
        "avoir",
        "remboursement",
        "abono",
        "reembolso",
        # Odoo's other journals: write-offs and exchange differences reconciled with the receivable
        "miscellaneous operations",
        "exchange difference",
        # Xero: the invoice export's Type, the Account Transactions' Source
        "sales credit note",
        "receivable credit note",
        # Sage 50: SC sales credit, SD discount on a receipt (both no cash), SP sales payment (a refund)
        "sc",
        "sd",
        "sp",
    }
    | _WRITE_OFF_TYPES
)
_INVOICE_TYPES = frozenset(
    {"invoice", "invoices", "rv", "dr", "finance charge memo", "reminder", "rechnung", "facture", "factura"}
    | {"customer invoices"}  # Odoo's sales journal
    | {"sales invoice", "receivable invoice"}  # Xero: the invoice export's Type, Account Transactions' Source
    | {"si"}  # Sage 50: sales invoice
)


@dataclass(frozen=True)
class DocumentTypes:
    """A column that says which rows are invoices, payments and other documents (a customer ledger)."""

    column: str
    invoices: list[str]  # the values as written
    payments: list[str]
    others: list[str]
    invoice_rows: pd.Series  # bool per row of the sample

    @property
    def seen(self) -> list[str]:
        return sorted(self.invoices + self.payments + self.others)


def _payment_type_column(frame: pd.DataFrame) -> str | None:
    """A column whose every value is a payment type (``Transaction Type`` = Payment): the file is a
    list of payments, though its columns (Num, Date) read like an invoice's."""
    for name in frame.columns:
        folded = frame[name].fillna("").str.strip().str.lower()
        seen = set(folded[folded != ""].unique())
        if seen and seen <= _PAYMENT_TYPES and (folded != "").all():
            return str(name)
    return None


def _document_types(frame: pd.DataFrame) -> DocumentTypes | None:
    """The column that mixes document types (a customer ledger: invoices, payments and credit memos in
    one list), if any: read whole, every row would be an invoice (s14)."""
    for name in frame.columns:
        values = frame[name].fillna("").str.strip()
        folded = values.str.lower()
        seen = set(folded[folded != ""].unique())
        known = seen & (_NOT_INVOICE_TYPES | _INVOICE_TYPES)
        if len(seen) < 2 or not known & _NOT_INVOICE_TYPES or not known & _INVOICE_TYPES:
            continue
        if seen - known and (len(seen) > _MAX_TYPES or folded.isin(known).sum() < 0.9 * (folded != "").sum()):
            # a type ews does not know beside those it does (a package's 'Bad Debt'): still the document
            # type column when the known types hold 90 % of its rows (s43-walk: one 'Write Off' type of 49
            # rows among 25,485 made the draft read payments and credit notes as invoices, 24,498 of 25,534
            # quarantined); the unknown ones are named and left out (a free-text column is not taken)
            continue
        written = sorted(values.loc[folded != ""].unique())
        return DocumentTypes(
            str(name),
            [v for v in written if v.lower() in _INVOICE_TYPES],
            [v for v in written if v.lower() in _PAYMENT_TYPES],
            [v for v in written if v.lower() not in _INVOICE_TYPES | _PAYMENT_TYPES],
            folded.isin(_INVOICE_TYPES),
        )
    return None


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _document_lines(
    types: DocumentTypes,
    kind: str,
    sides: tuple[str, list[str]] | None = None,
    void: tuple[str, list[str]] | None = None,
) -> list[str]:
    """The invoices' row filter, with what the other rows are (``sides``: the debit column and its
    zero cells, when the ledger writes invoices and credits in two columns: the credit-side rows of
    the invoices' journal, credit notes, are left out of the invoices)."""
    others = [v for v in types.payments + types.others]
    why = (
        f"# column {types.column!r} mixes document types ({', '.join(types.seen)}): the invoices are the "
        f"{', '.join(repr(v) for v in types.invoices)} rows"
    )
    if kind == "ar_export":
        why += "; their settlement column gives the payments, so the " + ", ".join(repr(v) for v in others)
        why += " rows are left out (counted as filtered)"
    drop = ""
    if sides is not None:
        why += (
            f" with a debit (a credit note of that journal, {sides[0]!r} empty or 0, goes with the payments)"
        )
        drop = f", drop: {{column: {_q(sides[0])}, values: {_flow(sides[1])}}}"
    elif void is not None:  # Xero: the Type keeps the invoices, the Status drops the void and draft ones
        why += f"; {', '.join(repr(v) for v in void[1])} in {void[0]!r}: {_VOID_WHY}"
        drop = f", drop: {{column: {_q(void[0])}, values: {_flow(void[1])}}}"
    return [why, f"rows: {{keep: {{column: {_q(types.column)}, values: {_flow(types.invoices)}}}{drop}}}"]


def _debit_sides(frame: pd.DataFrame, mapping: dict[str, Column]) -> tuple[str, list[str]] | None:
    """(the invoices' debit column, its cells that are zero or empty in the sample) when the ledger
    writes invoices in a debit column and payments and credit notes in a credit column (Odoo's journal
    items); None otherwise."""
    amount = mapping.get("amount")
    if amount is None or _norm(amount.name) not in _DEBIT:
        return None
    if not any(_norm(str(c)) in _CREDIT for c in frame.columns):
        return None
    cells = frame[amount.name].fillna("").astype(str).str.strip()
    zeros = sorted(set(cells[cells.str.fullmatch(r"[0.,\s]*")].tolist()))
    return (amount.name, zeros) if zeros else None


# a ledger's clearing reference (conf/sources/README.md 6c): SAP's clearing document as FBL5N exports
# it (English, German), Business Central's closing entry and the entry number it names
_CLEARING_DOCUMENT = frozenset(
    {
        "clearingdocument",
        "clearingdoc",
        "clrngdoc",
        "clearingdocno",
        "ausgleichsbeleg",
        "ausglbeleg",
        "ausgleichsbelegnr",
        "matching",  # Odoo: the reconciliation's matching number (A<n> full, P<n> partial) on each row
        "matchingnumber",
    }
)
_CLOSED_BY_ENTRY = frozenset(
    {
        "closedbyentryno",
        "closedbyentrynumber",
        "geschlossenvonlfdnr",
        "geschlossenvonlaufendenr",
        "geschlossendurchlfdnr",
    }
)
# SAP numbers documents per company code and fiscal year: the columns that tell two documents of one
# number apart (the clearing date: the same on every row a clearing document cleared, its own included)
_COMPANY_CODE = frozenset({"companycode", "cocd", "compcode", "buchungskreis", "bukrs", "bukr"})
_CLEARING_DATE = frozenset(
    {"clearingdate", "clrngdate", "clearingdt", "ausgleichsdatum", "ausgldatum", "augdt"}
    # the classic FBL5N list's short headings: 'Clearing' (AUGDT) beside 'Clrng doc.' (AUGBL)
    | {"clearing", "ausgl"}
)
# the day a row was cleared (BC: the day an entry was closed): dates each allocation (point in time)
_CLOSED_AT = frozenset({"closedatdate", "closedat", "closedon", "geschlossenam", "geschlossenamdatum"})
_ENTRY_NO = frozenset({"entryno", "entrynumber", "lfdnr", "laufendenr", "postenr", "postennr"})
# a ledger with the amounts in two columns (Odoo's journal items): the invoices' and the payments'
_DEBIT = frozenset({"debit", "soll"})
_CREDIT = frozenset({"credit", "haben"})
# the same two sides in a ledger without a document type column (DATEV's OPOS list: Sollbetrag and
# Habenbetrag; a Kontoblatt's Umsatz Soll / Umsatz Haben): a row is an invoice when its debit is filled
_DEBIT_AMOUNT = _DEBIT | frozenset({"sollbetrag", "betragsoll", "umsatzsoll", "debitamount"})
_CREDIT_AMOUNT = _CREDIT | frozenset({"habenbetrag", "betraghaben", "umsatzhaben", "creditamount"})


def _three_decimal_lines(frame: pd.DataFrame, amount: Column | None) -> list[str]:
    """A CHECK line when (nearly) every amount written with the decimal separator has three decimals
    (``1,234.567``, ``12.500``): a ledger in KWD, BHD, ... whose draft says ``default_currency: EUR``
    would be read as euros (rounded to cents in the outputs), or quarantined where the amounts read
    like whole thousands (s23: a KWD ledger exported with ',' thousands and '.' decimals). Not when
    the separators themselves are in doubt (:attr:`Column.decimal_ambiguous` has its own line)."""
    if amount is None or amount.kind != "number" or amount.decimal_ambiguous:
        return []
    d = re.escape(amount.decimal or ".")
    cells = frame[amount.name].fillna("").astype(str).str.strip()
    written = cells[cells.str.contains(rf"\d{d}\d", regex=True)]
    three = written.str.contains(rf"\d{d}\d{{3}}(?!\d)", regex=True)
    if len(written) < 5 or three.mean() < 0.9:
        return []
    return [
        f"# CHECK: {int(three.sum())} of the {len(written)} amounts in {amount.name!r} have three decimals "
        f"(e.g. {written[three].iloc[0]!r}): a 3-decimal currency (KWD, BHD, OMR, JOD, TND, IQD, LYD)? Then set "
        "default_currency to it (under a 2-decimal currency they are read in that one and rounded to cents, or "
        "quarantined where they look like 1.500; conf/sources/README.md 4)"
    ]


# a second column naming the invoice a credit-side row settles (DATEV's Belegfeld 2, an OP reference)
_INVOICE_REFERENCE = frozenset(
    {"belegfeld2", "opreferenz", "opref", "opnummer2", "rechnungsbezug", "invoicereference"}
)


@dataclass(frozen=True)
class TwoSides:
    """A ledger whose rows are invoices when ``debit`` is filled and payments (or credit notes) when
    ``credit`` is, with no column naming the document type; ``*_empty``: the sample's cells of
    each column that are empty or zero."""

    debit: str
    credit: str
    debit_empty: list[str]
    credit_empty: list[str]


def _two_sides(frame: pd.DataFrame, mapping: dict[str, Column]) -> TwoSides | None:
    """:class:`TwoSides` when the mapped amount is a debit column beside a credit column and the
    sample's rows fill one or the other (both kinds present); None otherwise. Read whole, the
    credit-side rows were invoices without an amount (DATEV's OPOS list: 51,054 of 110,832 rows
    quarantined missing_value:amount, every payment lost, s23)."""
    amount = mapping.get("amount")
    if amount is None or _norm(amount.name) not in _DEBIT_AMOUNT:
        return None
    credit = next((str(c) for c in frame.columns if _norm(str(c)) in _CREDIT_AMOUNT), None)
    if credit is None:
        return None

    def empty(column: str) -> tuple[pd.Series, list[str]]:
        cells = frame[column].fillna("").astype(str).str.strip()
        zero = cells.str.fullmatch(r"[0.,\s]*")
        return zero, sorted(set(cells[zero].tolist()))

    debit_zero, debit_empty = empty(amount.name)
    credit_zero, credit_empty = empty(credit)
    if not (debit_zero & ~credit_zero).any() or not (credit_zero & ~debit_zero).any():
        return None
    return TwoSides(amount.name, credit, debit_empty, credit_empty)


def _two_sided_payments(path: Path, sides: TwoSides, mapping: dict[str, Column], frame: pd.DataFrame) -> str:
    """``tables.payments`` from the same file: its credit-side rows, each naming the invoice it
    settles in the invoices' number column (DATEV: Belegfeld 1), with an id made from the row."""
    lines = [
        f"  payments:  # the rows of the same file with a {sides.credit!r}: payments (and credit notes)",
        f"    path: {_q(str(path))}",
        f"    rows: {{drop: {{column: {_q(sides.credit)}, values: {_flow(sides.credit_empty)}}}}}",
        "    # no payment number column: each payment gets an id from its row (conf/sources/README.md, ids_from_rows)",
        "    ids_from_rows: true",
        *(f"    {line}" for line in _leave_out_lines(frame)),
        f"    other_side: {_q(sides.debit)}  # a row with an amount in both columns is quarantined both_sides",
    ]
    reference = next((str(c) for c in frame.columns if _norm(str(c)) in _INVOICE_REFERENCE), None)
    if reference is not None and "invoice_id" in mapping:
        lines += [
            f"    # {reference!r}: read for a row whose {mapping['invoice_id'].name!r} names no invoice of the file (a "
            "credit note booked under its own number, referring to its invoice; conf/sources/README.md 6b)",
            f"    invoice_reference: {_q(reference)}",
        ]
    contra = next((str(c) for c in frame.columns if _norm(str(c)).startswith("gegen")), None)
    lines.append(
        "    # CHECK: credit notes and cash discounts (Skonto) booked on this side are read as cash; mark them as "
        "credits by the column that tells them apart, e.g. credit: {column: "
        + (_q(contra) if contra is not None else "COLUMN")
        + ', values: ["8736"]} (conf/sources/README.md 6c)'
    )
    lines.append("    columns:  # canonical name: column in the file")
    for canonical, source in (
        ("debtor_id", "debtor_id"),
        ("invoice_id", "invoice_id"),
        ("paid_on", "issue_date"),
    ):
        if source in mapping:
            note = (
                "  # the invoice each payment settles (empty: cash on account)"
                if canonical == "invoice_id"
                else ""
            )
            lines.append(f"      {canonical}: {_q(mapping[source].name)}{note}")
    lines.append(f"      amount: {_q(sides.credit)}")
    return "\n".join(lines) + "\n"


# credit memo types, loaded with the payments when the clearing join allocates them to their invoices
_CREDIT_MEMO_TYPES = frozenset(
    {"credit memo", "credit note", "dg", "gutschrift", "avoir", "abono", "nota de crédito", "nota de credito"}
    | {"sales credit note", "receivable credit note"}  # Xero
    | {"sc", "sd"}  # Sage 50: a sales credit, a discount taken on a receipt
    | _WRITE_OFF_TYPES  # a bad debt written off settles its invoice and is no cash (also an event: below)
)


# SAP's accounting document type (AB), kept with the payments of a ledger joined on its clearing document
_SAP_ADJUSTMENT_TYPES = frozenset({"ab"})


def _clearing_columns(frame: pd.DataFrame) -> tuple[str, str | None] | None:
    """(the clearing column, the key it names or None for the payments' own number) when the file has
    one: SAP's ``Clearing Document`` / ``Ausgleichsbeleg``, or Business Central's ``Closed by Entry
    No.`` beside ``Entry No.``."""
    names = {_norm(str(c)): str(c) for c in frame.columns}
    for norm, name in names.items():
        if norm in _CLEARING_DOCUMENT:
            return name, None
    closed = next((name for norm, name in names.items() if norm in _CLOSED_BY_ENTRY), None)
    entry = next((name for norm, name in names.items() if norm in _ENTRY_NO), None)
    if closed is not None and entry is not None:
        return closed, entry
    return None


# the part of a payment applied to the invoice its row names (NetSuite's transaction search:
# Applied To Link Amount beside Applied To Transaction)
_APPLIED_AMOUNT = frozenset(
    {"appliedtolinkamount", "appliedamount", "amountapplied", "appliedtoamount", "amountappliedtoinvoice"}
)

# SAP's fiscal year of a document (GJAHR): its number ranges restart each year
_FISCAL_YEAR = frozenset({"fiscalyear", "fiscyear", "fyear", "geschaeftsjahr", "gjahr"})


def _id_scope(frame: pd.DataFrame) -> list[str]:
    """SAP: the company code and fiscal year columns that qualify a document's own number (its id),
    when the file has a fiscal year column."""
    names = {_norm(str(c)): str(c) for c in frame.columns}
    year = next((n for norm, n in names.items() if norm in _FISCAL_YEAR), None)
    if year is None:
        return []
    company = next((n for norm, n in names.items() if norm in _COMPANY_CODE), None)
    return [c for c in (company, year) if c is not None]


def _id_scope_lines(scope: list[str]) -> list[str]:
    return [
        f"# SAP numbers documents per company code and fiscal year: each id is {' / '.join(scope)} / number "
        "(1000/2024/9000001; conf/sources/README.md 6c)",
        f"id_scope: {_flow(scope)}",
    ]


def _clearing_scope(frame: pd.DataFrame) -> list[str]:
    """SAP: the company code and clearing date columns that qualify a clearing document's number."""
    names = {_norm(str(c)): str(c) for c in frame.columns}
    return [
        name
        for group in (_COMPANY_CODE, _CLEARING_DATE)
        for name in [next((n for norm, n in names.items() if norm in group), None)]
        if name is not None
    ]


def _cleared_on(frame: pd.DataFrame) -> str | None:
    """The column of the day a row was cleared or closed (FBL5N's Clearing date, BC's Closed at Date)."""
    names = {_norm(str(c)): str(c) for c in frame.columns}
    return next((n for norm, n in names.items() if norm in _CLEARING_DATE | _CLOSED_AT), None)


def _payments_block(
    path: Path,
    types: DocumentTypes,
    mapping: dict[str, Column],
    frame: pd.DataFrame,
    grouped: Grouped | None,
    clearing: tuple[str, str | None] | None = None,
    id_scope: list[str] | None = None,
    sides: tuple[str, list[str]] | None = None,
    void: tuple[str, list[str]] | None = None,
) -> str:
    """``tables.payments`` from the same file: its payment rows, their sign reversed when they are
    written negative (a ledger's credits); with a clearing column, the credit memos too and the
    join that allocates them to the invoices they cleared."""
    pick = {"payment_id": "invoice_id", "debtor_id": "debtor_id", "paid_on": "issue_date", "amount": "amount"}
    cols = {p: mapping[i].name for p, i in pick.items() if i in mapping}
    if "amount" in cols and _norm(cols["amount"]) in _DEBIT:  # Odoo: invoices in Debit, payments in Credit
        credit = next((str(c) for c in frame.columns if _norm(str(c)) in _CREDIT), None)
        if credit is not None:
            cols["amount"] = credit
    if "currency" in mapping:
        cols["currency"] = mapping["currency"].name
    # credit memos go with the payments (left out, the invoices they credited would stay open for good):
    # marked `credit`, they settle what they were applied to (or the oldest open invoice) and are no cash
    credits = [v for v in types.others if v.lower() in _CREDIT_MEMO_TYPES]
    # SAP's accounting documents (AB) on a cleared ledger: a payment's reversal (FB08: a returned direct
    # debit, positive, clearing the DZ it reverses) or a manual clearing's posting. Left out, a reversed
    # payment was read as cash on account (s24); with the payments, the reversal nets it out
    adjustments = (
        [v for v in types.others if v.lower() in _SAP_ADJUSTMENT_TYPES]
        if clearing and not clearing[1]
        else []
    )
    credits += adjustments
    kept = sorted(types.payments + credits)
    rows = frame.loc[frame[types.column].fillna("").str.strip().isin(kept)]
    negative = False
    if "amount" in cols:
        amounts = rows[cols["amount"]].fillna("").str.strip()
        amounts = amounts[amounts != ""]
        negative = bool(len(amounts)) and amounts.str.contains(r"^\(|^[^0-9]*-|-$", regex=True).mean() > 0.5
    lines = [
        "  payments:  # the payment rows of the same file",
        f"    path: {_q(str(path))}",
        *(
            []
            if types.payments
            else [
                "    # this file holds credit notes and no payments (Xero's invoice export): draft it with the "
                "payments export (Xero's Account Transactions of the receivable account), `ews sources suggest "
                "THIS_FILE PAYMENTS_FILE`, for one config that reads both (more_files)"
            ]
        ),
        f"    rows: {{keep: {{column: {_q(types.column)}, values: {_flow(kept)}}}}}",
    ]
    if void is not None:  # a voided credit note credits nothing
        lines[-1] = (
            f"    rows: {{keep: {{column: {_q(types.column)}, values: {_flow(kept)}}}, "
            f"drop: {{column: {_q(void[0])}, values: {_flow(void[1])}}}}}  # a voided or draft credit note credits nothing"
        )
    if sides is not None:  # the credit side: payments and the credit notes of the invoices' journal
        also = ""
        if types.payments:  # and the bank journal's debit side: refunds paid out to customers
            also = f", also: {{column: {_q(types.column)}, values: {_flow(sorted(types.payments))}}}"
        lines[-1:] = [
            f"    # the rows on the credit side ({sides[0]!r} empty or 0): payments and credit notes, which "
            "settle the invoices they are matched with like a payment (conf/sources/README.md 6c)"
            + (
                f"; also every row of the {', '.join(repr(v) for v in types.payments)} journal: a refund paid "
                f"out to a customer is on its debit side, read as a negative payment (debit: {sides[0]!r})"
                if also
                else ""
            ),
            f"    rows: {{keep: {{column: {_q(sides[0])}, values: {_flow(sides[1])}{also}}}}}",
        ]
        if also:
            lines.append(
                f"    debit: {_q(sides[0])}  # amount = {cols.get('amount', 'Credit')!r} - {sides[0]!r}: a refund "
                "is negative, netted against the payment or credit note it refunds (conf/sources/README.md 6c)"
            )
    if grouped is not None:  # the payment rows are grouped by customer too
        lines.append(f"    {_group_lines(grouped)[1]}")
    typed = None
    if clearing is None and "payment_id" in cols:  # QuickBooks' Num on a payment: typed by hand, or empty
        own = frame.loc[frame[types.column].fillna("").str.strip().isin(types.payments)]
        debtor = mapping.get("debtor_id")
        typed = _typed_numbers(
            own, cols["payment_id"], debtor if debtor is not None and debtor.name in own else None
        )
    if typed is not None:
        del cols["payment_id"]
        lines += [
            f"    {typed}",
            "    ids_from_rows: true",
            *(f"    {line}" for line in _leave_out_lines(frame)),
        ]
    if id_scope:
        lines += [f"    {line}" for line in _id_scope_lines(id_scope)]
    others = [v for v in types.others if v not in credits]
    if credits:
        lines.append(
            f"    # credit memos ({', '.join(repr(v) for v in credits if v not in adjustments)}) settle the invoices they "
            f"{'cleared' if clearing is not None else 'were applied to (else the oldest open one)'}, on their "
            "own date, like a payment, but are no cash for the payment behaviour features (conf/sources/README.md 6c)"
        )
        lines.append(f"    credit: {{column: {_q(types.column)}, values: {_flow(credits)}}}")
        if adjustments:
            lines.append(
                f"    # {', '.join(repr(v) for v in adjustments)}: SAP's accounting documents, kept with the payments "
                "and no cash: a reversal of a payment (positive, a returned direct debit) nets out the payment it "
                "reverses (reversal / reversed_payment); a credit one settles what it cleared (conf/sources/README.md 6c)"
            )
    elif sides is not None and types.invoices:
        lines.append(
            f"    # the credit side's rows of the invoices' journal ({', '.join(repr(v) for v in types.invoices)}) are "
            "credit notes: they settle their invoices but are no cash (conf/sources/README.md 6c)"
            + (
                f"; those of {', '.join(repr(v) for v in others)} (write-offs, exchange differences) are no cash "
                "either"
                if others
                else ""
            )
        )
        lines.append(
            f"    credit: {{column: {_q(types.column)}, values: {_flow(sorted(types.invoices + others))}}}"
        )
        others = []  # read by side: nothing left out by journal
    if clearing is not None:
        key = f", key: {_q(clearing[1])}" if clearing[1] else ""
        scope = _clearing_scope(frame) if not clearing[1] else []
        cleared = _cleared_on(frame)
        if scope:
            lines.append(
                "    # SAP numbers documents per company code and fiscal year: a clearing document is its number "
                f"with its {' and '.join(repr(c) for c in scope)} (conf/sources/README.md 6c)"
            )
            key += f", scope: {_flow(scope)}"
        if cleared is not None:
            lines.append(
                f"    # {cleared!r}: a payment counts on the invoices it cleared from that day on, before it as "
                "cash on account (point in time: conf/sources/README.md 6c)"
            )
            key += f", date: {_q(cleared)}"
        lines.append(
            f"    clearing: {{column: {_q(clearing[0])}{key}}}  # each payment row on the invoices it cleared"
        )
        reference = next((str(c) for c in frame.columns if _norm(str(c)) in _INVOICE_REFERENCE), None)
        if reference is not None:  # SAP's REBZG: an open part payment names its invoice, not yet cleared
            lines += [
                f"    # {reference!r}: the invoice a row that names no clearing document was posted against (an "
                "open part payment or credit memo), else it is cash on account (conf/sources/README.md 6c)",
                f"    invoice_reference: {_q(reference)}",
            ]
    if others:
        lines.append(
            f"    # left out: {', '.join(repr(v) for v in others)}; add a credit memo type to values (and to "
            "credit: {column, values}) to load credit memos as unallocated credits (they then settle the oldest "
            "open invoice; no cash)"
        )
    if negative:
        lines.append("    negate_amount: true  # the payments are written negative (credits of the ledger)")
    lines.append("    columns:  # canonical name: column in the file")
    for canonical, name in cols.items():
        lines.append(f"      {canonical}: {_q(name)}")
    applied = None if clearing is not None else _applied_to(types, mapping, frame, rows, set(cols.values()))
    if clearing is not None:
        lines.append("      # invoice_id: given by clearing")
    elif applied is not None:
        lines.append(
            f"      invoice_id: {_q(applied[0])}  # GUESS: its values on the payment rows are invoice numbers "
            "of the invoice rows (the invoice each payment settles)"
            + (f", written after {applied[1]!r}" if applied[1] else "")
        )
        if applied[1]:
            lines.append(
                f"    invoice_prefix: {_q(applied[1])}  # removed from the invoice_id cells that start with it"
            )
        if credits and (ref := _reference_text(types, mapping, frame, rows, applied[0])) is not None:
            lines.append(
                f"    invoice_reference: {_q(ref)}  # GUESS: the credit notes carry their own number in "
                f"{applied[0]!r} and name the invoice they credit in this column ('Credit against INV-1'); without "
                "it they are quarantined unknown_invoice and the invoice stays open (conf/sources/README.md 6b)"
            )
        part = next((str(c) for c in frame.columns if _norm(str(c)) in _APPLIED_AMOUNT), None)
        if part is not None and "amount" in cols:
            lines.append(
                f"    applied_amount: {_q(part)}  # a payment applied to several invoices is listed once per "
                f"invoice, its total in {cols['amount']!r} on each row: split into each invoice's part (this "
                "column) and what is left unapplied (conf/sources/README.md 6c)"
            )
    elif (under := _listed_under(frame, types, mapping, grouped)) is not None:
        column, values, number, seen = under
        lines += [
            "      # invoice_id: given by listed_under",
            f"    # each payment is listed under the invoice it paid (QuickBooks' Invoices and Received Payments): {seen}; "
            "its invoice is the nearest invoice row above it of the same customer, and one above the customer's "
            "first invoice is cash on account (conf/sources/README.md 6b)",
            f"    listed_under: {{column: {_q(column)}, values: {_flow(values)}, number: {_q(number)}}}",
        ]
    else:
        lines.append(
            "      # invoice_id: no column names the invoice a payment settles: the payments are unallocated "
            "cash, applied to the debtor's oldest open invoice first (map it if the export has one)"
        )
        if (
            grouped is not None
            and not grouped.closed
            and "invoice_id" in mapping
            and types.invoices
            and types.payments
        ):
            lines.append(
                "    # CHECK: if the report lists each payment under the invoice it paid (QuickBooks' Invoices and "
                "Received Payments), add listed_under: {column: "
                f"{_q(types.column)}, values: {_flow(sorted(types.invoices))}, number: {_q(mapping['invoice_id'].name)}}}"
                ": the sample's rows are in date order within each customer, which does not tell"
            )
    return "\n".join(lines) + "\n"


def _listed_under(
    frame: pd.DataFrame, types: DocumentTypes, mapping: dict[str, Column], grouped: Grouped | None
) -> tuple[str, list[str], str, str] | None:
    """``listed_under`` for a report grouped by customer whose payment rows follow the invoice they paid
    (QuickBooks' Invoices and Received Payments): within a customer the rows are not in date order (a
    payment of the first invoice listed below it, dated after the second invoice) and every payment row
    below an invoice row is dated on or after it. A report in date order within each customer does not
    tell (None: the draft says so)."""
    from pipelines.config.source import DATE_FORMAT_ALIASES

    number, date = mapping.get("invoice_id"), mapping.get("issue_date")
    if grouped is None or number is None or date is None or not types.invoices or not types.payments:
        return None
    if grouped.into not in frame or date.name not in frame:
        return None
    layout = date.date_layout or "iso"
    if layout == "excel":
        return None
    days = pd.to_datetime(
        frame[date.name].astype("string").str.strip(),
        format=DATE_FORMAT_ALIASES.get(layout, layout),
        errors="coerce",
    )
    kind = frame[types.column].fillna("").astype(str).str.strip()
    is_invoice, is_payment = kind.isin(types.invoices).to_numpy(), kind.isin(types.payments).to_numpy()
    who = frame[grouped.into].astype(str).to_numpy()
    latest: dict[str, pd.Timestamp] = {}
    invoice_date: dict[str, pd.Timestamp] = {}
    unordered = under = 0
    for k, day in enumerate(days):
        if pd.isna(day):
            continue
        c = who[k]
        if c in latest and day < latest[c]:
            unordered += 1
        latest[c] = max(day, latest.get(c, day))
        if is_invoice[k]:
            invoice_date[c] = day
        elif is_payment[k] and c in invoice_date:
            if day < invoice_date[c]:
                return None  # a payment dated before the invoice above it: not listed under it
            under += 1
    if not unordered or not under:
        return None
    seen = (
        f"{counted(unordered, 'row')} of the sample dated before a row above them of the same customer, every one of "
        f"{counted(under, 'payment row')} below an invoice dated on or after it"
    )
    return types.column, sorted(types.invoices), number.name, seen


def _typed_numbers(frame: pd.DataFrame, column: str, debtor: Column | None) -> str | None:
    """The comment for a payment number column that is no id: empty on some payment rows of the sample
    (QuickBooks fills a payment's ``Num`` only with a reference typed by hand) or one number on rows of
    two customers (a cheque number is the customer's own: two customers' cheques 1001 are two
    payments). Mapped, the shared ones were quarantined ``duplicate_id`` and, without ``ids_from_rows``,
    the empty ones ``missing_value`` (s25: 11,197 and 22,078 of the 34,660 payment rows of a QuickBooks
    Transaction List by Customer). None when the column reads as an id."""
    cells = frame[column].fillna("").astype(str).str.strip()
    empty = int((cells == "").sum())
    shared = 0
    if debtor is not None:
        typed = frame.loc[cells != "", [column, debtor.name]].astype(str)
        owners = typed.groupby(column)[debtor.name].nunique()
        shared = int((owners > 1).sum())
    if not empty and not shared:
        return None
    said = []
    if empty:
        said.append(f"empty on {empty} of {len(frame)} sampled payment rows")
    if shared:
        said.append(f"{counted(shared, 'number')} on rows of two or more customers")
    return (
        f"# payment_id: {column!r} is {' and '.join(said)}: a reference typed by hand, not an id (QuickBooks' Num: "
        "the customer's cheque number, which two customers can share, or nothing): not mapped; each payment gets "
        f"an id from its row, all its cells ({column!r} included) (conf/sources/README.md, ids_from_rows)"
    )


# a column that carries a running total over the rows (Xero's Account Transactions: Running Balance)
_RUNNING_BALANCE = {
    "runningbalance",
    "balance",
    "cumulativebalance",
    "runningtotal",
    "saldo",
    "laufendersaldo",
    "solde",
    "soldeprogressif",
}


def _leave_out_lines(frame: pd.DataFrame) -> list[str]:
    """``ids_leave_out`` for a payments file whose rows get ids from their cells and that carries a
    running balance: a back-dated entry changes the balance of every later row, and with it every
    later payment's id (s25-review). [] without such a column."""
    found = [str(c) for c in frame.columns if _norm(str(c)) in _RUNNING_BALANCE]
    if not found:
        return []
    return [
        f"ids_leave_out: {_flow(found)}  # a running balance: an entry dated back changes it on every later row; "
        "left out of the ids made from the rows, they stay the same (conf/sources/README.md, ids_from_rows)"
    ]


def _applied_to(
    types: DocumentTypes, mapping: dict[str, Column], frame: pd.DataFrame, rows: pd.DataFrame, used: set[str]
) -> tuple[str, str] | None:
    """The column whose cells on the payment rows are invoice numbers of the invoice rows (Business
    Central's 'Applies-to Doc. No.'): at least 80 % of its non-empty payment-row cells, 2 or more;
    or such numbers all written after one text (NetSuite's 'Applied To Transaction': 'Invoice
    #INV1001'). Returns the column and that text ('' when none)."""
    if "invoice_id" not in mapping:
        return None
    numbers = set(frame.loc[types.invoice_rows.to_numpy(), mapping["invoice_id"].name].fillna("").str.strip())
    numbers.discard("")
    invoice_rows = types.invoice_rows.to_numpy()
    for name in frame.columns:
        if name in used or name == types.column:
            continue
        # a number on every row, the invoices' too, never twice (Sage 50's transaction 'No'): a row's own
        # number, which a payment row's may equal an invoice number by chance (s25: 34,644 of 34,659
        # payments of a Sage 50 customer activity quarantined by `invoice_id: "No"`)
        whole = frame[name].fillna("").str.strip()
        if (whole[invoice_rows] != "").mean() >= 0.5 and whole[whole != ""].is_unique:
            continue
        cells = rows[name].fillna("").str.strip()
        cells = cells[cells != ""]
        cash = cells[rows.loc[cells.index, types.column].fillna("").str.strip().isin(types.payments)]
        if len(cash) >= 2 and cash.isin(numbers).mean() >= 0.8:
            # judged on the payments' rows: credit notes often carry their own number there (CN-00012;
            # s43-walk: 3 credit notes among 8 rows of a small sample left the payments unallocated)
            return str(name), ""
        if len(cells) >= 2 and cells.isin(numbers).mean() >= 0.8:
            return str(name), ""
        if len(cells) >= 2 and numbers:
            found = cells.str.extract(r"^(.*[\s#])([^\s#]+)$")  # 'Invoice #' + 'INV1001'
            common = found[0].dropna().mode()
            same = found[0] == common.iloc[0] if len(common) else None
            if same is not None and same.mean() >= 0.8 and found[1][same].isin(numbers).mean() >= 0.8:
                return str(name), str(common.iloc[0])
    return None


def _reference_text(
    types: DocumentTypes, mapping: dict[str, Column], frame: pd.DataFrame, rows: pd.DataFrame, applied: str
) -> str | None:
    """The column that names, in its words, the invoice a payment row credits when the ``applied``
    column holds the row's own number (a credit note's CN-00012): one invoice number of the invoice
    rows among the words of at least 80 % of those rows' cells, 2 or more (``invoice_reference``)."""
    from pipelines.ingest.sources import _REFERENCE_WORDS

    numbers = set(frame.loc[types.invoice_rows.to_numpy(), mapping["invoice_id"].name].fillna("").str.strip())
    numbers.discard("")
    own = rows[applied].fillna("").str.strip()
    lost = rows.loc[(own != "") & ~own.isin(numbers)]
    for name in frame.columns:
        if name in (applied, types.column) or name in {c.name for c in mapping.values()}:
            continue
        cells = lost[name].fillna("").str.strip()
        if len(cells) < 2:
            continue
        one = cells.map(lambda c: len({w.strip(".") for w in _REFERENCE_WORDS.split(c)} & numbers) == 1)
        if one.mean() >= 0.8:
            return str(name)
    return None


def _events_block(
    path: Path, types: DocumentTypes, mapping: dict[str, Column], grouped: Grouped | None
) -> str:
    """``tables.events`` from the same file's write-off rows: a customer whose bad debts were written off
    stays in default (read as credits alone, the write-off settles the invoices and the customer is live
    again, or never in default when written off before 90 days past due: s43-walk)."""
    offs = [v for v in types.others if v.lower() in _WRITE_OFF_TYPES]
    if not offs or "debtor_id" not in mapping or "issue_date" not in mapping:
        return ""
    lines = [
        "  events:  # the write-off rows again: a written-off customer is in default from that day (kind: the "
        "type, read as write_off)",
        f"    path: {_q(str(path))}",
        f"    rows: {{keep: {{column: {_q(types.column)}, values: {_flow(offs)}}}}}",
    ]
    if grouped is not None:
        lines.append(f"    {_group_lines(grouped)[1]}")
    lines += [
        "    columns:  # canonical name: column in the file",
        f"      debtor_id: {_q(mapping['debtor_id'].name)}",
        f"      event_date: {_q(mapping['issue_date'].name)}",
        f"      kind: {_q(types.column)}",
    ]
    return "\n".join(lines) + "\n"


def _mixed_documents(types: DocumentTypes) -> str:
    """A CHECK note when a ledger of several document types is not drafted as invoices."""
    return (
        f"# CHECK: column {types.column!r} mixes document types ({', '.join(types.seen)}): keep each table's\n"
        "#   rows with a row filter (rows: {keep: {column: ..., values: [...]}}, conf/sources/README.md)\n"
    )


# an open item's amount in an aged receivables report (read after the amount names of ``NAMES``)
_OPEN_AMOUNT = frozenset(
    {"balance", "openbalance", "outstanding", "amountdue", "amountoutstanding", "remaining", "saldo", "offen"}
)


def _account_rows(frame: pd.DataFrame, mapping: dict[str, Column]) -> list[str]:
    """A report that names each account on a row of its own above its items (Sage 50's Aged Debtors
    Detailed: the account row with its name, telephone, credit limit and balance; the items below it
    with their document number and no account): the account column and, when filled on the same
    rows only, the customer's name column, to fill down. Empty when the items carry their account."""
    inv, deb = mapping.get("invoice_id"), mapping.get("debtor_id")
    if inv is None or deb is None:
        return []
    filled = {c: (frame[c].fillna("").str.strip() != "").to_numpy() for c in frame.columns}
    doc, acct = filled[inv.name], filled[deb.name]
    if doc.sum() < 2 or (acct & ~doc).sum() < 2 or (acct & doc).sum() > 0.2 * doc.sum():
        return []
    names = [
        str(c)
        for c in frame.columns
        if c != deb.name and _norm(str(c)) in SYNONYMS["name"] and (filled[c] == acct).all()
    ]
    return [deb.name, *names[:1]]


def _account_lines(columns: list[str]) -> list[str]:
    return [
        f"# each account is named on a row of its own above its items ({columns[0]!r} empty on the item rows: "
        "Sage's aged debtors): it is filled down; the account rows (printed again after a page break too) and "
        "the totals are left out (counted as filtered). CHECK: an aged debtors report holds open items only "
        "(today's balance): add the payments export",
        f"fill_down: {_flow(columns)}",
    ]


@dataclass(frozen=True)
class Grouped:
    """A report grouped by customer: the column where a group's own row names it, and the groups."""

    column: str
    into: str
    labels: list[str]
    closed: bool = True  # each group closed by a 'Total <name>' row (else: groups without totals)


def _grouped_by_customer(frame: pd.DataFrame) -> Grouped | None:
    """A report grouped by customer: the customer on a row of its own above its invoices and a
    'Total <customer>' (or 'Total for <customer>') row under them (Xero's Aged Receivables Detail,
    QuickBooks' Open Invoices). ews needs the customer on every row: the draft fills it down."""
    if frame.shape[1] < 3 or frame.empty:
        return None
    first = frame.iloc[:, 0].fillna("").str.strip()
    rest_empty = (frame.iloc[:, 1:].fillna("").apply(lambda c: c.str.strip()) == "").all(axis=1)
    labels = set(first[rest_empty & (first != "")])
    totals = set(first)
    grouped = sorted(label for label in labels if {f"Total {label}", f"Total for {label}"} & totals)
    closed = True
    if len(grouped) < 2 and str(frame.columns[0]).startswith("unnamed_"):
        # no total rows (QuickBooks' Invoices and Received Payments): a nameless first column filled on
        # rows of their own only, and at least two detail rows below them
        detail = ~rest_empty
        if not (first[detail] != "").any() and int(detail.sum()) >= 2 and not detail.iloc[:1].any():
            grouped, closed = sorted(labels), False
    if len(grouped) < 2:
        return None
    into = next(n for n in ("Customer", "Customer (group)", "ews_customer") if n not in frame.columns)
    return Grouped(str(frame.columns[0]), into, grouped, closed)


def _filled_down(frame: pd.DataFrame, grouped: Grouped) -> pd.DataFrame:
    """The sample as ingest will read it with the drafted ``fill_down``."""
    import numpy as np

    from pipelines.config.source import FileSource, GroupColumn
    from pipelines.sources.read import RawFile
    from pipelines.sources.rows import shape_rows

    spec = FileSource(
        path=Path("sample.csv"), fill_down=(GroupColumn(column=grouped.column, into=grouped.into),)
    )
    raw = RawFile(Path("sample.csv"), frame.reset_index(drop=True), np.arange(1, len(frame) + 1))
    shaped, _ = shape_rows(raw, spec, ("",), ",")
    return shaped.frame.astype(object).where(shaped.frame.notna(), "").astype(str)


def _group_lines(grouped: Grouped) -> list[str]:
    shown = ", ".join(repr(g) for g in grouped.labels[:3]) + (" ..." if len(grouped.labels) > 3 else "")
    if not grouped.closed:
        return [
            f"# the report is grouped by customer ({shown} on rows of their own in {grouped.column!r}, without "
            "total rows): the customer is filled down into a column of its own; the group rows are left out "
            "(counted as filtered)",
            f"fill_down: [{{column: {_q(grouped.column)}, into: {_q(grouped.into)}}}]",
        ]
    return [
        f"# the report is grouped by customer ({shown} on rows of their own in {grouped.column!r}, with "
        "'Total ...' rows): the customer is filled down into a column of its own; the group rows and totals "
        "are left out (counted as filtered). CHECK: an aged receivables report holds open invoices only "
        "(today's balance): add the payments export",
        f"fill_down: [{{column: {_q(grouped.column)}, into: {_q(grouped.into)}}}]",
    ]


EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class ExcelSheet:
    """What :func:`excel_to_csv` converted: the sheet's name, the workbook's other sheets, and
    notes for the user (merged ranges filled, hidden rows)."""

    name: str
    others: list[str]
    notes: list[str] = field(default_factory=list)


_XLSX_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_XLSX_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _cell_ref(ref: str) -> tuple[int, int]:
    """``"B12"`` -> (row 12, column 2), both from 1."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", ref)
    if m is None:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def _sheet_layout(path: Path, title: str) -> tuple[list[str], list[int], list[str]]:
    """(merged ranges such as ``"A5:A7"``, hidden row numbers, formula cells without a calculated
    value) of the sheet named ``title``, read from the workbook's XML in one streamed pass
    (openpyxl's read-only mode does not keep them). A formula has no calculated value when its
    cached value is empty (openpyxl writes none) or when the workbook asks to be recalculated on
    load (``fullCalcOnLoad``: xlsxwriter and other writers put 0 there as a placeholder)."""
    import posixpath
    import xml.etree.ElementTree as ET
    import zipfile

    with zipfile.ZipFile(path) as zf:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rid = next(
            (el.get(f"{_XLSX_REL}id") for el in book.iter(f"{_XLSX_MAIN}sheet") if el.get("name") == title),
            None,
        )
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        target = next((el.get("Target") for el in rels if el.get("Id") == rid), None)
        if target is None:
            return [], [], []
        calc = book.find(f"{_XLSX_MAIN}calcPr")
        placeholders = calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        merged: list[str] = []
        hidden: list[int] = []
        stale: list[str] = []
        counter = 0
        with zf.open(member) as fh:
            for _, el in ET.iterparse(fh):
                if el.tag == f"{_XLSX_MAIN}c" and el.find(f"{_XLSX_MAIN}f") is not None:
                    value = el.find(f"{_XLSX_MAIN}v")
                    if placeholders or value is None or not (value.text or ""):
                        stale.append(str(el.get("r") or "?"))
                elif el.tag == f"{_XLSX_MAIN}row":
                    counter = int(el.get("r") or counter + 1)
                    if el.get("hidden") in ("1", "true"):
                        hidden.append(counter)
                    el.clear()
                elif el.tag == f"{_XLSX_MAIN}mergeCell" and el.get("ref"):
                    merged.append(str(el.get("ref")))
    return merged, hidden, stale


def _fill_merged(rows: list[list[str]], merged: list[str]) -> list[str]:
    """Copy the value of each merged range that spans several rows into every cell of the range
    (Excel shows it on each of those rows; openpyxl keeps it in the top-left cell only). Ranges in
    one row (a title over several columns) are left as they are. Returns the ranges filled."""
    filled = []
    for ref in merged:
        try:
            first, _, last = ref.partition(":")
            (r0, c0), (r1, c1) = _cell_ref(first), _cell_ref(last or first)
        except ValueError:
            continue
        if r1 <= r0 or r0 > len(rows):
            continue
        top = rows[r0 - 1]
        value = top[c0 - 1] if c0 - 1 < len(top) else ""
        for r in range(r0, min(r1, len(rows)) + 1):
            row = rows[r - 1]
            if len(row) < c1:
                row.extend([""] * (c1 - len(row)))
            for c in range(c0, c1 + 1):
                row[c - 1] = value
        filled.append(ref)
    return filled


def _listed(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f" ... ({len(items):,} in all)" if len(items) > limit else "")


# A workbook member unpacking past both is refused before any XML is parsed (s44-attack: a 310 KB .xlsx
# whose sheet unpacks to 300 MB of blanks took 99 s and 590 MiB; memory grows with the unpacked size, so a
# 5 MB one would need gigabytes). A real sheet's XML packs 5-20x.
UNPACKED_LIMIT = 256 << 20
UNPACK_RATIO_LIMIT = 100


def zip_bomb_problem(path: Path) -> str | None:
    """Why the workbook at ``path`` is not unpacked (a member larger than UNPACKED_LIMIT that unpacks more
    than UNPACK_RATIO_LIMIT times its packed size), else None (also for a file that is no zip: the
    readers name that)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return None
    for info in infos:
        if info.file_size > UNPACKED_LIMIT and info.file_size > UNPACK_RATIO_LIMIT * max(
            info.compress_size, 1
        ):
            return (
                f"{path}: its part {info.filename} unpacks from {info.compress_size / 2**20:,.1f} MiB to "
                f"{info.file_size / 2**20:,.0f} MiB ({info.file_size // max(info.compress_size, 1):,}x; a "
                f"sheet packs 5-20x): a zip bomb or a damaged workbook, not unpacked. Open it in Excel and "
                "save it again, or export the sheet as CSV UTF-8"
            )
    return None


def excel_to_csv(path: Path, target: Path, sheet: str | int = 0) -> ExcelSheet:
    """Write one sheet of an Excel workbook as a UTF-8 CSV at ``target``; returns the sheet's name,
    the names of the workbook's other sheets and notes. A sheet name that is not in the workbook
    raises ``ValueError`` listing the names.

    Every row is written (title rows above the header too; suggest detects them). Cells hold their
    values: dates as ``YYYY-MM-DD``, numbers with a ``.`` decimal point, text as is. A merged range
    spanning several rows (a customer merged over its invoices) gives its value to every row of the
    range, as Excel shows it; hidden rows are written like the others and named in the notes.
    Raises ``ValueError`` when the file is not a readable workbook.
    """
    from pipelines.adapters.files import write_text_atomic

    if (bomb := zip_bomb_problem(path)) is not None:
        raise ValueError(bomb)
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise ValueError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        names = list(book.sheetnames)
        if isinstance(sheet, str) and sheet not in names:
            raise ValueError(
                f"{path}: no sheet named {sheet!r}; its sheets: {', '.join(repr(n) for n in names)}"
            )
        hidden_sheets = [
            w.title for w in book.worksheets if getattr(w, "sheet_state", "visible") != "visible"
        ]
        if isinstance(sheet, int) and sheet == 0 and len(hidden_sheets) < len(names):
            # the default: the first sheet the user sees (an export's hidden tips or lookups sheet
            # may come first)
            sheet = next(k for k, n in enumerate(names) if n not in hidden_sheets)
        ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
        rows = [["" if v is None else _cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
        name = ws.title
    finally:
        book.close()
    others = [n for n in names if n != name]
    try:
        merged, hidden, stale = _sheet_layout(path, name)
    except Exception:  # an unusual package layout: the values above are still right
        merged, hidden, stale = [], [], []
    if stale:
        raise ValueError(
            f"{path}: sheet {name!r} has {counted(len(stale), 'formula cell')} without a calculated value "
            f"({_listed(stale)}): the workbook was written by a program and never calculated, so the CSV "
            "would hold empty cells or 0 instead of the formulas' results. Open it in Excel or LibreOffice, "
            "save it, then run `ews sources suggest` again"
        )
    filled = _fill_merged(rows, merged)
    while rows and all(c == "" for c in rows[-1]):
        rows.pop()
    if not rows:
        raise ValueError(f"{path}: sheet {name!r} is empty")
    notes = []
    if hidden_sheets and name not in hidden_sheets:
        notes.append(
            f"the workbook's {counted(len(hidden_sheets), 'hidden sheet')} {', '.join(repr(h) for h in hidden_sheets)} "
            "passed over: the "
            f"first visible sheet {name!r} was taken (--sheet NAME picks another)"
        )
    if filled:
        notes.append(
            f"sheet {name!r}: {counted(len(filled), 'merged range')} over several rows ({_listed(filled)}): each row "
            "of a range got the range's value, as Excel shows it"
        )
    hidden = [r for r in hidden if r <= len(rows)]
    if hidden:
        notes.append(
            f"sheet {name!r}: {counted(len(hidden), 'hidden row')} (Excel rows {_listed([str(r) for r in hidden])}; "
            "filtered out or hidden by hand), read like the others: delete them from the workbook "
            "if they should not be ingested"
        )
    width = max(len(r) for r in rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(r + [""] * (width - len(r)) for r in rows)
    write_text_atomic(buffer.getvalue(), target)
    return ExcelSheet(name, others, notes)


def _cell(value: object) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):  # as Excel's own CSV writes a TRUE / FALSE cell (str() gave "True")
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):  # 15 significant digits, as Excel shows and saves a number: a cell a
        # program wrote as 2261.0200000000004 is 2261.02 in Excel's CSV (s37-walk: the bytes differed)
        short = f"{value:.15g}"
        return short if "e" not in short else str(value)
    return str(value)


def _allowed(kind: str) -> set[str]:
    from features.schema import TABLES

    if kind == "ar_export":
        return (
            set(TABLES["invoices"].names)
            | (set(TABLES["debtors"].names) - {"debtor_id"})
            | {
                "settled_on",
                "settled_amount",
            }
        )
    return set(TABLES[kind].names)


def _required(kind: str) -> list[str]:
    from features.schema import TABLES

    return TABLES["invoices" if kind == "ar_export" else kind].required


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_") or "source"


_SIGN_NOTE = "$ is also CAD, AUD, NZD, SGD, HKD, MXN ...: set the right code, and its rate in conf/ews.yaml"


def _signed_currency(amount: Column | None) -> tuple[str, str | None]:
    """(the draft's default currency, the sign the amount samples carry or None): the one currency
    a sign names (USD for '$'), else EUR."""
    from pipelines.sources.parse import SIGN_CURRENCIES, amount_signs

    if amount is None or not amount.samples:
        return "EUR", None
    found = amount_signs(
        pd.Series(amount.samples, dtype="string"), amount.decimal or ".", amount.thousands, amount.grouping
    )
    signs = set(found.dropna())
    if len(signs) != 1:
        return "EUR", None
    sign = signs.pop()
    names = sorted(SIGN_CURRENCIES.get(sign, frozenset({sign})))
    return ("USD" if sign == "$" else names[0]), sign


def _render(
    path: Path,
    name: str,
    kind: str,
    opts: dict[str, object],
    mapping: dict[str, Column],
    why: dict[str, str],
    columns: list[Column],
    missing: list[str],
    notes: list[str],
    extra: list[str] | None = None,
) -> str:
    dates = [c for c in mapping.values() if c.kind == "date"]
    layouts = Counter(c.date_layout for c in dates)
    layout = layouts.most_common(1)[0][0] if layouts else "iso"
    numbers = [c for c in mapping.values() if c.kind == "number"]
    evidence = Counter(c.decimal for c in numbers if c.decimal)
    decimal = evidence.most_common(1)[0][0] if evidence else "."
    thousands = next((c.thousands for c in numbers if c.thousands), None)
    flag = mapping.get("disputed")
    lines = [
        f"# Draft source config written by `ews sources suggest {_flat(str(path))}`.",
        "# Every value below was guessed from the file: check the lines marked GUESS or CHECK, then run",
        f"#   ews config check THIS_FILE && ews ingest --source THIS_FILE --out data/{name}",
        "kind: source",
        f"name: {name}",
        f"description: {_q('drafted from ' + path.name)}",
    ]
    currency = mapping.get("currency")
    lines.append(
        "# CHECK: the currency of rows with an empty currency cell (ISO-4217); remove if every row has one"
    )
    code, sign = _signed_currency(mapping.get("amount"))
    if code == "EUR" and not sign and any(c.grouping == "indian" for c in numbers):
        code = "INR"  # lakh and crore are written in India (Tally)
    if sign:  # "$932.17": EUR would quarantine every row currency_sign_mismatch:amount
        lines.append(f"# CHECK: the amounts carry {sign!r}" + (f" ({_SIGN_NOTE})" if sign == "$" else ""))
    lines.append(f"default_currency: {code}" if currency is None else f"# default_currency: {code}")
    lines += [
        "csv:",
        f"  delimiter: {_q(str(opts['delimiter']))}" + ("  # tab" if opts["delimiter"] == "\t" else ""),
        f"  encoding: {opts['encoding']}" + (f"  # GUESS: {notes[0]}" if notes else ""),
        f"  skip_rows: {opts['skip_rows']}"
        + ("  # lines above the header (titles)" if opts["skip_rows"] else ""),
        "values:",
    ]
    ambiguous = any(c.date_ambiguous for c in dates)
    lines.append(
        f"  date_format: {_q(layout) if '%' in layout else layout}"
        + ("  # CHECK: day and month order is ambiguous in the sample (d/m/Y or m/d/Y?)" if ambiguous else "")
    )
    other = {c.name: c.date_layout for c in dates if c.date_layout != layout}
    if other:
        per = {
            canon: col.date_layout
            for canon, col in mapping.items()
            if col.kind == "date" and col.date_layout != layout
        }
        lines.append(
            "  date_formats: {" + ", ".join(f"{k}: {_q(v) if '%' in v else v}" for k, v in per.items()) + "}"
        )
    unsure = [c.name for c in numbers if c.decimal_ambiguous and decimal == "."]
    lines.append(
        f"  decimal: {_q(decimal)}"
        + (
            f"  # CHECK: {unsure[0]!r} writes every amount like 1.500 or 12.000: 1.5 (a 3-decimal currency: KWD, "
            'BHD, OMR, JOD, TND) as drafted, or 1,500 (whole amounts, Excel\'s #.##0): then decimal: "," and '
            'thousands: "."'
            if unsure
            else ""
        )
    )
    lines.append(f"  thousands: {_q(thousands) if thousands else 'null'}")
    if thousands == "," and any(c.grouping == "indian" for c in numbers):
        lines.append("  thousands_grouping: indian  # lakh and crore: 12,34,567.50")
    if flag is not None and flag.kind == "bool":
        lines.append("  true_values: [" + ", ".join(_q(v) for v in flag.true_values) + "]")
        lines.append("  false_values: [" + ", ".join(_q(v) for v in flag.false_values) + "]")
    block = "ar_export" if kind == "ar_export" else f"tables:\n  {kind}"
    indent = "  " if kind == "ar_export" else "    "
    lines.append(f"{block}:")
    lines.append(f"{indent}path: {_q(str(path))}")
    lines.append(f"{indent}columns:  # canonical name: column in the file")
    settle = {k: mapping[k] for k in ("settled_on", "settled_amount") if k in mapping}
    for canonical, col in mapping.items():
        if canonical in settle:
            continue
        lines.append(
            f"{indent}  {canonical}: {_q(col.name)}  # {why.get(canonical, '')}; e.g. {_flat(', '.join(col.samples))}"
        )
    mapped = {c.name for c in mapping.values()}
    for canonical in missing:
        named = _by_name(columns, canonical, mapped)
        if named is not None and "date" in WANTS[canonical] and named.kind != "date":
            # a date column whose rows mix layouts (2024-01-05, 05/02/2024, 02/25/2024, 45352): no layout
            # reads most of it, so it was left out as "no column found" beside its own name (s35-attack)
            lines.append(
                f"{indent}  # {canonical}: {_q(named.name)}  # CHECK: required; this column is named like it, but "
                f"its values are not dates in one layout (e.g. {_flat(', '.join(named.samples))}): no date_format "
                "reads them all. Export the column in one layout (or formatted as dates), then map it"
            )
            continue
        lines.append(f"{indent}  # {canonical}: ???  # CHECK: required, no column found")
    for canonical, col in settle.items():
        lines.append(
            f"{indent}{canonical}: {_q(col.name)}  # {why[canonical]}; e.g. {_flat(', '.join(col.samples)) or '(empty)'}"
        )
    if kind == "ar_export":
        lines.append(f"{indent}# a blank {settle['settled_on'].name!r} means the invoice is open")
    lines += [f"{indent}{line}" for line in extra or []]
    unused = [c.name for c in columns if c.name not in {col.name for col in mapping.values()}]
    if unused:
        lines.append("# columns not mapped (ignored by ingest): " + _flat(", ".join(unused)))
    if kind == "invoices":
        lines.append("# payments come from another file: add tables.payments (see conf/sources/README.md)")
    if kind == "payments":
        lines.append("# invoices come from another file: add tables.invoices (see conf/sources/README.md)")
    if kind == "debtors":
        lines.append(
            "# the customer master: add tables.invoices and tables.payments (see conf/sources/README.md)"
        )
    if kind == "statements":
        lines.append(
            "# monthly account statements (revolving accounts): see conf/sources/example_statements.yaml"
        )
    return "\n".join(lines) + "\n"
