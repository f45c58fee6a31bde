"""``kind: source`` -- how an external export maps onto the canonical tables (features.schema).

Documented for users in ``conf/sources/README.md``. A source has up to three blocks, combined:

- ``tables``: one file per canonical table (invoices, payments, debtors, events, statements), each
  with its own column mapping;
- ``ar_export``: one accounts-receivable file with one row per invoice, whose settlement columns
  become derived payments (and whose customer columns can become the debtors table);
- ``uci_wide``: the wide monthly layout of the UCI "default of credit card clients" file, which
  becomes statements + debtors.

Reading options (``csv``) and value spellings (``values``) are set once for the source and can be
overridden per file. ``rules`` holds the row-level validation thresholds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from features.schema import TABLES
from pipelines.config import ConfigModel
from pipelines.words import counted

KIND = "source"

TableName = Literal[
    "invoices", "payments", "debtors", "events", "statements", "payment_plans", "debtor_history"
]

# Short names for the date layouts seen in exports; any strftime pattern (with %) works too.
DATE_FORMAT_ALIASES: dict[str, str] = {
    "iso": "ISO8601",
    "Y-m-d": "%Y-%m-%d",
    "m/d/Y": "%m/%d/%Y",
    "d/m/Y": "%d/%m/%Y",
    "d.m.Y": "%d.%m.%Y",
    "d-m-Y": "%d-%m-%Y",
    "Y/m/d": "%Y/%m/%d",
    "Ymd": "%Y%m%d",
    "excel": "excel",  # Excel date serial numbers (45321 = 2024-01-30), from a date column saved as General
}

DEFAULT_NA_VALUES: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "None", "#N/A")
DEFAULT_TRUE: tuple[str, ...] = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE: tuple[str, ...] = ("false", "f", "no", "n", "0")


class CsvOptions(ConfigModel):
    """How a CSV file is read. Ignored for Parquet files."""

    delimiter: str = Field(",", description="field separator: ',', ';', '|' or '\\t' (tab)")
    encoding: str = Field("utf-8", description="text encoding, e.g. utf-8, latin-1, cp1252")
    quotechar: str = Field('"', description="quote character around fields that contain the delimiter")
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header line (titles, notes)")
    na_values: tuple[str, ...] = Field(DEFAULT_NA_VALUES, description="cell texts that mean 'empty'")

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if v in ("\\t", "tab", "TAB"):
            v = "\t"
        if len(v) != 1:
            raise ValueError(f"must be exactly one character (use '\\t' for tab), got {v!r}")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown text encoding {v!r}; e.g. utf-8, latin-1, cp1252") from None
        return v


class ValueOptions(ConfigModel):
    """How cell texts are turned into dates, numbers and booleans."""

    date_format: str = Field(
        "iso", description="date layout: iso, m/d/Y, d/m/Y, d.m.Y, excel (serial numbers), ... or strftime"
    )
    date_formats: dict[str, str] = Field(
        default_factory=dict, description="per canonical column override of date_format"
    )
    decimal: Literal[".", ","] = Field(".", description="decimal separator of amounts")
    thousands: Literal[",", ".", " ", "'", "_"] | None = Field(
        None,
        description="thousands separator; ' ' also reads non-breaking spaces (U+00A0, U+202F), \"'\" also "
        "the typographic apostrophe (U+2019, Swiss 1’234.50)",
    )
    thousands_grouping: Literal["thousands", "indian"] = Field(
        "thousands",
        description="how the thousands separator groups digits: thousands (1,234,567.50) or indian, as Tally "
        "and other Indian exports write lakh and crore (12,34,567.50: three digits, then pairs); any other "
        "grouping is unparseable_number",
    )
    true_values: tuple[str, ...] = Field(DEFAULT_TRUE, description="spellings of true (case-insensitive)")
    false_values: tuple[str, ...] = Field(DEFAULT_FALSE, description="spellings of false (case-insensitive)")

    @field_validator("true_values", "false_values", mode="before")
    @classmethod
    def _spellings_as_text(cls, v: object) -> object:
        # unquoted true/false/1/0 in YAML arrive as bool/int; spellings match case-insensitively
        if isinstance(v, list | tuple):
            return [str(x).lower() if isinstance(x, bool) else str(x) if isinstance(x, int) else x for x in v]
        return v

    @field_validator("date_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        return _check_date_format(v)

    @field_validator("date_formats")
    @classmethod
    def _known_formats(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: _check_date_format(f) for k, f in v.items()}

    @model_serializer(mode="wrap")
    def _omit_grouping(self, handler: Any) -> Any:
        # not dumped when the default: a config's hash (in its ingest manifests) stays what it was before
        data = handler(self)
        if isinstance(data, dict) and self.thousands_grouping == "thousands":
            data.pop("thousands_grouping", None)
        return data

    @model_validator(mode="after")
    def _separators_differ(self) -> ValueOptions:
        if self.thousands_grouping == "indian" and self.thousands is None:
            raise ValueError("thousands_grouping: indian needs the separator too: thousands: ','")
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal separators are both {self.decimal!r}")
        clash = {s.lower() for s in self.true_values} & {s.lower() for s in self.false_values}
        if clash:
            raise ValueError(f"spellings listed as both true and false: {sorted(clash)}")
        return self

    def strptime(self, column: str) -> str:
        """The pandas ``format=`` for one canonical date column (``allocated_on``, a ledger's clearing
        date, is written like the payment's own date unless given)."""
        fmt = self.date_formats.get(column) or self.date_formats.get(
            "paid_on" if column == "allocated_on" else column, self.date_format
        )
        return DATE_FORMAT_ALIASES.get(fmt, fmt)


def _check_date_format(v: str) -> str:
    if v in DATE_FORMAT_ALIASES or "%" in v:
        return v
    raise ValueError(
        f"unknown date format {v!r}; use one of {sorted(DATE_FORMAT_ALIASES)} or a strftime pattern"
    )


def codes_as_text(v: object) -> object:
    """``values: [1, 2]`` in YAML: document type codes are text (``true`` as ``true``)."""
    if isinstance(v, list | tuple):
        return [
            str(x).lower() if isinstance(x, bool) else str(x) if isinstance(x, int | float) else x for x in v
        ]
    return v


class RowCondition(ConfigModel):
    """Rows whose cell in ``column`` is one of ``values`` (trimmed, case-insensitive; ``""`` for an
    empty cell)."""

    column: str = Field(min_length=1, description="a column of the file (its header name)")
    values: tuple[str, ...] = Field(min_length=1, description="cell values, e.g. [Invoice] or [RV, DR]")
    also: RowCondition | None = Field(
        None,
        description="rows matching this other condition match too (either one): Odoo's payments are the "
        "rows with a zero debit, also: the bank journal's rows (a refund to a customer is on the debit side)",
    )

    @model_serializer(mode="wrap")
    def _omit_also(self, handler: Any) -> Any:
        # not dumped when absent: a config's hash (in its ingest manifests) stays what it was before
        data = handler(self)
        if isinstance(data, dict) and self.also is None:
            data.pop("also", None)
        return data

    def columns(self) -> list[str]:
        """The file columns this condition reads (its own, then its ``also``'s)."""
        return [self.column, *(self.also.columns() if self.also is not None else [])]

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, v: object) -> object:
        return codes_as_text(v)


class RowFilter(ConfigModel):
    """Which rows of a file are this table's: a customer ledger holds invoices, payments and credit
    memos in one list. Rows left out are counted in the manifest (``filtered``), never lost."""

    keep: RowCondition | None = Field(None, description="only rows matching this are read")
    drop: RowCondition | None = Field(None, description="rows matching this are left out")

    @model_validator(mode="after")
    def _one_given(self) -> RowFilter:
        if self.keep is None and self.drop is None:
            raise ValueError(
                "give keep, drop or both, e.g. {keep: {column: Document Type, values: [Invoice]}}"
            )
        return self


class GroupColumn(ConfigModel):
    """A report grouped by customer that names the group on a row of its own in ``column`` (a column
    the detail rows use for something else, e.g. Xero's invoice date): the name goes into a new
    column ``into`` on every row of the group."""

    column: str = Field(min_length=1, description="the column where a group's own row names it")
    into: str = Field(min_length=1, description="name of the new column that holds the group on every row")


class Clearing(ConfigModel):
    """A ledger's payment rows joined to the invoice rows they cleared, in the same file: SAP FBL5N's
    ``Clearing Document`` (the clearing payment's document number, on the invoices and the payments
    it cleared), Business Central's ``Closed by Entry No.`` (the ``Entry No.`` of the entry that
    closed this one, on either side). Rows linked so, directly or through a shared value, form one
    clearing; its payments are allocated over its invoices (conf/sources/README.md, section 6c)."""

    column: str = Field(
        min_length=1, description="the column naming the document or entry that cleared a row"
    )
    key: str | None = Field(
        None,
        description="the column whose values `column` names (BC: Entry No.); default: the payments' "
        "payment_id column (SAP: the document number)",
    )
    scope: tuple[str, ...] = Field(
        (),
        description="columns whose values a reference and the key it names must share (SAP numbers "
        "documents per company code and fiscal year: [Company Code, Clearing date])",
    )

    date: str | None = Field(
        None,
        description="the column of the day a row was cleared (FBL5N: Clearing date; BC: Closed at Date): "
        "a payment is applied to the invoices it cleared from that day on, before it it is cash on "
        "account (payments.allocated_on; point in time)",
    )

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: Any) -> Any:
        # keys left at their defaults are not dumped: a ledger config's hash (in its ingest manifests)
        # stays what it was before they existed
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("scope", ()), ("date", None)):
                if key in data and getattr(self, key) == default:
                    del data[key]
        return data


class ListedUnder(ConfigModel):
    """A report that lists each payment under the invoice it paid (QuickBooks Online's "Invoices and
    Received Payments", as its name says): a payment row's invoice is the nearest row above it, of the
    same customer, whose cell in ``column`` is one of ``values``; its ``number`` cell names the invoice.
    A payment above its customer's first invoice is cash on account."""

    column: str = Field(min_length=1, description="the column of the document type (e.g. Transaction type)")
    values: tuple[str, ...] = Field(min_length=1, description="the invoice rows' values, e.g. [Invoice]")
    number: str = Field(min_length=1, description="the invoice rows' number column (e.g. Num)")

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, v: object) -> object:
        return codes_as_text(v)


class FileSource(ConfigModel):
    """One input file. ``columns`` maps canonical name -> column name in the file."""

    path: Path = Field(description="file path; relative paths are resolved from the current directory")
    format: Literal["csv", "parquet"] | None = Field(None, description="default: from the file suffix")
    sheet: str | None = Field(
        None,
        min_length=1,
        description="an Excel workbook's sheet (path: .xlsx / .xlsm) holding the table; default: the workbook's "
        "only visible sheet with data (`ews ingest --sheet` overrides it)",
    )
    columns: dict[str, str] = Field(default_factory=dict, description="canonical column -> file column")
    csv: CsvOptions | None = Field(None, description="overrides of the source-level csv options")
    values: ValueOptions | None = Field(None, description="overrides of the source-level value options")
    fill_down: tuple[str | GroupColumn, ...] = Field(
        (),
        description="columns whose empty cells take the value above (a report grouped by customer); "
        "rows holding only these columns (the group's own row) and the groups' total rows are left out",
    )
    rows: RowFilter | None = Field(
        None, description="which rows of the file are read (e.g. by document type)"
    )
    negate_amount: bool = Field(
        False, description="the file writes amounts with the opposite sign (a ledger's payments: negative)"
    )
    ids_from_rows: bool = Field(
        False,
        description="tables.payments: a payment with an empty payment_id gets one made from its row's cells "
        "and its place in a run of equal adjacent rows (row-<hash>-<n>; QuickBooks leaves Num empty)",
    )
    ids_leave_out: tuple[str, ...] = Field(
        (),
        description="tables.payments with ids_from_rows: columns left out of the cells a row's id is made from "
        "(Xero's Account Transactions' Running Balance: a back-dated entry changes it on every later row, and "
        "every later payment would get a new id)",
    )
    clearing: Clearing | None = Field(
        None,
        description="tables.payments of a ledger: the invoice of each payment from the clearing document "
        "or closing entry it shares with the invoice rows of tables.invoices (the same file)",
    )
    credit: RowCondition | None = Field(
        None,
        description="tables.payments: the rows that are credit memos (e.g. {column: Document Type, values: "
        "[DG]}): they reduce what is open like a payment but are no cash for the payment behaviour features "
        "(payments.kind = credit; every other row cash)",
    )
    debit: str | None = Field(
        None,
        min_length=1,
        description="tables.payments of a ledger with two amount columns (Odoo's journal items: Debit, Credit): "
        "the debit column; each row's amount is its columns.amount cell (the credit) less this one, so a row "
        "on the debit side (a refund paid out to the customer) is a negative payment, netted against the "
        "payment or credit note it refunds",
    )
    applied_amount: str | None = Field(
        None,
        min_length=1,
        description="tables.payments: the column of the part of a payment applied to the invoice its row names "
        "(NetSuite's Applied To Link Amount, beside Applied To Transaction): a payment listed once per invoice, "
        "its total repeated in columns.amount, is split into one row per invoice (<payment>/<invoice>) and "
        "what it leaves unapplied (<payment>/unallocated)",
    )
    invoice_prefix: str | None = Field(
        None,
        min_length=1,
        description="tables.payments: text written before the invoice number in the invoice_id column's cells "
        "(NetSuite's Applied To Transaction: 'Invoice #INV1001'), removed from the cells that start with it",
    )
    invoice_reference: str | None = Field(
        None,
        min_length=1,
        description="tables.payments, with columns.invoice_id: a second column naming the invoice a payment "
        "settles (DATEV's Belegfeld 2, an OP reference), read for a row whose invoice_id names no invoice of "
        "tables.invoices (a credit note booked under its own number, GS24001, referring to RE24009; the cell, or "
        "the one invoice number of the export among its words: 'Credit against INV-10234'); with "
        "clearing: read for a row that names no clearing document (SAP FBL5N's Invoice reference on an open "
        "part payment)",
    )
    other_side: str | None = Field(
        None,
        min_length=1,
        description="tables.invoices / tables.payments of a ledger with its amounts in two columns and no "
        "document type (DATEV's OPOS list: Sollbetrag, Habenbetrag): the other side's column; a row with an "
        "amount other than 0 in both is quarantined both_sides (in each table that reads it)",
    )
    currency: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="tables.invoices / tables.payments, a file without a currency column whose amounts are all in "
        "one currency (Xero's Account Transactions: the organisation's base currency, whatever the invoice's): "
        "every row of the file is in it (a payment in another currency than its invoice's is quarantined "
        "currency_mismatch, not read in the invoice's currency)",
    )
    listed_under: ListedUnder | None = Field(
        None,
        description="tables.payments of a report that lists each payment under the invoice it paid (QuickBooks' "
        "Invoices and Received Payments): the payment's invoice is the nearest invoice row above it of the same "
        "customer (column / values: the invoice rows, number: their number column); above the customer's first "
        "invoice: cash on account",
    )
    more_files: tuple[FileSource, ...] = Field(
        (),
        description="tables.<table>: other files whose rows are this table's too (Xero: the credit notes of the "
        "invoice export and the payments of Account Transactions, both tables.payments), each with its own path, "
        "columns, row options and csv/values overrides of the source-level options; rows are counted per file "
        "and a quarantined row names its file",
    )
    id_scope: tuple[str, ...] = Field(
        (),
        description="tables.invoices / tables.payments / ar_export: columns whose cells qualify the table's "
        "own document number, for numbers that restart per company code and fiscal year (SAP: [Company Code, "
        "Fiscal Year]): the id is the cells and the number joined by '/' (1000/2024/9000001)",
    )

    @model_serializer(mode="wrap")
    def _omit_row_options(self, handler: Any) -> Any:
        # row options left at their defaults are not dumped: the config hash of a source written before
        # they existed (in every ingest manifest) stays the same
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (
                ("fill_down", ()),
                ("rows", None),
                ("negate_amount", False),
                ("clearing", None),
                ("ids_from_rows", False),
                ("ids_leave_out", ()),
                ("id_scope", ()),
                ("credit", None),
                ("invoice_prefix", None),
                ("debit", None),
                ("applied_amount", None),
                ("invoice_reference", None),
                ("other_side", None),
                ("more_files", ()),
                ("listed_under", None),
                ("currency", None),
                ("sheet", None),
            ):
                if key in data and getattr(self, key) == default:
                    del data[key]
        return data

    def shapes_rows(self) -> bool:
        """True when rows are filtered, filled down or their sign reversed while reading."""
        return (
            bool(self.fill_down)
            or self.rows is not None
            or self.negate_amount
            or self.clearing is not None
            or self.ids_from_rows
            or bool(self.id_scope)
            or self.credit is not None
            or self.invoice_prefix is not None
            or self.debit is not None
            or self.applied_amount is not None
            or self.invoice_reference is not None
            or self.other_side is not None
            or bool(self.more_files)
            or self.listed_under is not None
        )

    @model_validator(mode="after")
    def _sheet_of_a_workbook(self) -> FileSource:
        if self.sheet is not None and self.path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise ValueError(
                f"sheet: {self.sheet!r} applies to an Excel workbook (.xlsx, .xlsm); {self.path} is not one: "
                "remove the sheet line"
            )
        return self

    def file_format(self) -> str:
        if self.format:
            return self.format
        suffix = self.path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return "parquet"
        return "csv"


class ARExportSource(FileSource):
    """One row per invoice, with settlement columns that become derived payments.

    ``columns`` maps invoice columns (invoice_id, debtor_id, issue_date, due_date, amount, currency,
    disputed) and, optionally, debtor attributes (name, segment, country, credit_limit,
    onboarded_on, annual_turnover, net_worth), which then produce the debtors table (first row per debtor_id).
    """

    settled_on: str | None = Field(None, description="file column with the settlement (payment) date")
    settled_amount: str | None = Field(
        None, description="file column with the amount settled; default: the full invoice amount"
    )
    payment_id_suffix: str = Field("-S", description="derived payment_id = invoice_id + this suffix")

    @model_validator(mode="after")
    def _settlement_given(self) -> ARExportSource:
        if self.settled_on is None and self.settled_amount is None:
            raise ValueError(
                "give settled_on (and optionally settled_amount): the columns that hold settlement"
            )
        if self.clearing is not None:
            raise ValueError(
                "clearing applies to tables.payments (a ledger's payment rows joined to its invoice rows); "
                "an AR export's rows are invoices, whose settlement column already makes their payments"
            )
        if self.ids_from_rows:
            raise ValueError(
                "ids_from_rows applies to tables.payments (payments exported without a number); an AR "
                "export's payments are made from its invoices (invoice_id + payment_id_suffix)"
            )
        if self.more_files:
            raise ValueError(
                "more_files applies to tables.<table> (other files of one table); an AR export is one file: "
                "ingest another export as its own source"
            )
        if self.negate_amount:
            raise ValueError(
                "negate_amount applies to a table's file (tables.payments: a ledger's payment rows); an AR "
                "export's rows are invoices, whose amounts are positive"
            )
        allowed = set(TABLES["invoices"].names) | (set(TABLES["debtors"].names) - {"debtor_id"})
        unknown = sorted(set(self.columns) - allowed)
        if unknown:
            raise ValueError(
                f"columns: {counted(len(unknown), 'unknown canonical name')} {unknown}; allowed: {sorted(allowed)}"
            )
        return self


class UCIWideSource(ConfigModel):
    """The UCI 'default of credit card clients' wide file (30,000 rows x 6 monthly periods)."""

    path: Path = Field(description="path to uci_credit_card.csv (never committed; pass --path uci_wide=FILE)")


def amount_columns() -> list[str]:
    """Every float (money) column of the canonical tables, as ``table.column``."""
    return [f"{t}.{c.name}" for t, spec in TABLES.items() for c in spec.columns if c.kind == "float"]


class RulesConfig(ConfigModel):
    """Row-level validation thresholds (the expectation suites in conf/expectations use them)."""

    min_date: dt.date = Field(dt.date(1990, 1, 1), description="dates before this are absurd -> quarantine")
    max_date: dt.date = Field(
        dt.date(2099, 12, 31),
        le=dt.date(2262, 4, 10),
        description="due dates after this are absurd -> quarantine (dates after 2262-04-11 always are)",
    )
    overpayment_tolerance: float = Field(
        0.01, ge=0, description="payments may exceed an invoice by this share of its amount"
    )
    overpayment_tolerance_abs: float = Field(0.01, ge=0, description="... plus this absolute amount")
    max_amount: float = Field(
        1e11,
        gt=0,
        le=1e13,
        description="plausibility ceiling of every amount column (absolute value); above it the row is "
        "quarantined as implausible_amount:<column>",
    )
    max_amounts: dict[str, float] = Field(
        default_factory=dict,
        description="per column ceiling overriding max_amount, keyed table.column, e.g. {invoices.amount: 5e6}",
    )
    prepayment_days: int = Field(
        31,
        ge=0,
        description="a payment allocated to an invoice may be dated up to this many days before the "
        "invoice's issue date (a prepayment); earlier ones are quarantined as paid_before_issue",
    )
    export_start_days: int = Field(
        90,
        ge=0,
        description="a payment naming an invoice the feed does not hold, paid at most this many days "
        "after its debtor's first invoice in the feed, pays an invoice issued before the export's "
        "window (a rolling export): quarantined as invoice_before_export, which the feed checks "
        "report apart from damage; later ones are unknown_invoice",
    )
    ar_max_open_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="an AR export (ar_export) with a larger share of invoices without settlement is "
        "implausible (a settled-only export with a blank or unmapped settlement column?): warning",
    )
    gx_chunk_rows: int = Field(
        1_000_000, ge=1_000, description="rows per Great Expectations validation chunk (memory bound)"
    )
    expectations_dir: Path | None = Field(
        None,
        description="folder of <table>.json suites (`ews config expectations --out DIR` writes them); "
        "default: the suites shipped with ews (the repository's conf/expectations)",
    )
    data_docs: bool = Field(True, description="build Great Expectations Data Docs (HTML) into OUT/data_docs")
    bucket_rows: int = Field(
        2_000_000,
        ge=1,
        description="the ingested tables are cut into debtor buckets (hash of debtor_id) of about this many "
        "invoice + payment + statement rows; one bucket is the unit of work of features and scoring",
    )
    refuse_empty_table_rows: int = Field(
        10,
        ge=1,
        description="a table with at least this many rows of which none is accepted stops the ingest "
        "(exit 2: a broken export or mapping); smaller tables only get a warning",
    )
    optional_attributes: Literal["clear", "quarantine"] = Field(
        "clear",
        description="an invalid optional debtor attribute (name, segment, country, credit_limit, "
        "onboarded_on, annual_turnover, net_worth) or event amount: 'clear' empties the value with a warning "
        "(counted in the manifest under values_cleared); 'quarantine' rejects the debtor row (and, through it, "
        "its invoices) or the event",
    )

    @field_validator("max_amounts")
    @classmethod
    def _amount_columns(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = amount_columns()
        for key, ceiling in v.items():
            if key not in allowed:
                raise ValueError(f"{key!r} is not an amount column; use one of {allowed}")
            if not 0 < ceiling <= 1e13:
                raise ValueError(f"{key}: ceiling must be in (0, 1e13], got {ceiling}")
        return v

    def ceiling(self, table: str, column: str) -> float:
        """The plausibility ceiling of ``table.column`` (absolute value)."""
        return self.max_amounts.get(f"{table}.{column}", self.max_amount)

    @field_validator("optional_attributes", mode="before")
    @classmethod
    def _not_yaml_null(cls, v: object) -> object:
        if v is None:
            raise ValueError("got YAML null; write clear or quarantine")
        return v


class SourceConfig(ConfigModel):
    kind: Literal["source"] = "source"
    name: str = Field(description="short name of the source, used in the manifest")
    description: str = ""
    default_currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO-4217 for empty currency"
    )
    csv: CsvOptions = CsvOptions()
    values: ValueOptions = ValueOptions()
    rules: RulesConfig = RulesConfig()
    tables: dict[TableName, FileSource] = Field(default_factory=dict)
    ar_export: ARExportSource | None = None
    uci_wide: UCIWideSource | None = None

    @field_validator("tables")
    @classmethod
    def _known_columns(cls, v: dict[str, FileSource]) -> dict[str, FileSource]:
        for table, src in v.items():
            unknown = sorted(set(src.columns) - set(TABLES[table].names))
            if unknown:
                raise ValueError(
                    f"{table}.columns: {counted(len(unknown), 'unknown canonical name')} {unknown}; "
                    f"allowed: {TABLES[table].names}"
                )
        return v

    @model_validator(mode="after")
    def _tables_once(self) -> SourceConfig:
        produced: dict[str, str] = {t: f"tables.{t}" for t in self.tables}
        blocks: list[tuple[str, set[str]]] = []
        if self.ar_export is not None:
            extra = (
                {"debtors"}
                if set(self.ar_export.columns) & (set(TABLES["debtors"].names) - {"debtor_id"})
                else set()
            )
            blocks.append(("ar_export", {"invoices", "payments"} | extra))
        if self.uci_wide is not None:
            blocks.append(("uci_wide", {"statements", "debtors"}))
        for block, tables in blocks:
            for t in sorted(tables):
                if t in produced:
                    raise ValueError(f"table {t!r} comes from both {produced[t]} and {block}; keep one")
                produced[t] = block
        if not produced:
            raise ValueError("no input: give at least one of tables, ar_export or uci_wide")
        self._clearing_joins()
        return self

    def table_files(self) -> list[tuple[str, str, FileSource]]:
        """Every file of ``tables`` as (table, key, spec): the table's own file (``tables.<t>``), then its
        ``more_files`` (``tables.<t>.more_files[k]``)."""
        out = []
        for table, src in self.tables.items():
            out.append((table, f"tables.{table}", src))
            out += [(table, f"tables.{table}.more_files[{k}]", m) for k, m in enumerate(src.more_files)]
        return out

    def _more_files(self) -> None:
        """``more_files``: files of one table, each read like the table's own file. Not nested, not with a
        clearing join (which joins the rows of one ledger file), and in the table's decimal notation (the
        amounts like 1.500 read as thousands are judged per table)."""
        for table, src in self.tables.items():
            if not src.more_files:
                continue
            try:
                _, values = self.options_for(src)
            except ValueError:  # said by _overrides_combine, naming the input
                continue
            paths = [Path(src.path)]
            for k, extra in enumerate(src.more_files):
                key = f"tables.{table}.more_files[{k}]"
                if Path(extra.path) in paths:
                    raise ValueError(
                        f"{key}: {extra.path} is already a file of tables.{table}: read its rows once (rows.keep "
                        "takes several values)"
                    )
                paths.append(Path(extra.path))
                if extra.more_files:
                    raise ValueError(
                        f"{key}.more_files: list every file of the table under tables.{table}.more_files"
                    )
                if extra.clearing is not None:
                    raise ValueError(
                        f"{key}.clearing: a clearing join reads the invoice and payment rows of one ledger file "
                        f"(tables.invoices and tables.payments); put the ledger in tables.{table}.path"
                    )
                try:
                    other = self.options_for(extra)[1]
                except ValueError:  # said by _overrides_combine, naming the input
                    continue
                if other.decimal != values.decimal:
                    raise ValueError(
                        f"{key}: values.decimal {other.decimal!r} differs from tables.{table}'s {values.decimal!r}: "
                        "the files of one table are read in one decimal notation; ingest the other file as its "
                        "own source"
                    )

    def _clearing_joins(self) -> None:
        """``clearing`` only on tables.payments, beside tables.invoices of the same file, and not with a
        mapped invoice_id (the join gives it). ``ids_from_rows`` only on tables.payments, not with
        ``clearing`` (whose join keys on the payments' document numbers)."""
        self._more_files()
        for table, key, src in self.table_files():
            if src.invoice_prefix is not None and (table != "payments" or "invoice_id" not in src.columns):
                raise ValueError(
                    f"{key}.invoice_prefix: invoice_prefix removes the text before the invoice number "
                    "in the cells of tables.payments' columns.invoice_id (NetSuite: 'Invoice #'); "
                    + (
                        "map invoice_id to that column, or remove invoice_prefix"
                        if table == "payments"
                        else "move it to tables.payments"
                    )
                )
            if src.invoice_reference is not None and (
                table != "payments"
                or ("invoice_id" not in src.columns and src.clearing is None)
                or "invoices" not in self.tables
                or bool(self.tables["invoices"].id_scope)
            ):
                raise ValueError(
                    f"{key}.invoice_reference: invoice_reference names a second column of the invoice "
                    "a payment settles, read when columns.invoice_id names no invoice of tables.invoices (DATEV: "
                    "Belegfeld 2), or, with clearing, for a row that names no clearing document (SAP's Invoice "
                    "reference on an open part payment); it needs tables.payments with columns.invoice_id or "
                    "clearing, and tables.invoices without id_scope"
                )
            if src.other_side is not None and table not in ("invoices", "payments"):
                raise ValueError(
                    f"{key}.other_side: other_side names the other amount column of a two-sided ledger "
                    "(DATEV: Sollbetrag / Habenbetrag) on tables.invoices or tables.payments"
                )
            if src.credit is not None and table != "payments":
                raise ValueError(
                    f"{key}.credit: credit marks the credit memos among a table's payments; move it to "
                    "tables.payments (the ledger's rows read as payments, e.g. values [DG, DZ] with credit "
                    "{column: Document Type, values: [DG]})"
                )
            if src.debit is not None and (table != "payments" or src.negate_amount):
                raise ValueError(
                    f"{key}.debit: debit names the debit column of a ledger whose payments' amount is "
                    "the credit column (columns.amount) less the debit; "
                    + (
                        "it reads the signs as the two columns give them: remove negate_amount"
                        if table == "payments"
                        else "it belongs on tables.payments"
                    )
                )
            if src.applied_amount is not None and (
                table != "payments" or "invoice_id" not in src.columns or src.clearing is not None
            ):
                raise ValueError(
                    f"{key}.applied_amount: applied_amount splits a payment listed once per invoice "
                    "(tables.payments, with columns.invoice_id naming each row's invoice); "
                    + (
                        "move it to tables.payments"
                        if table != "payments"
                        else "a clearing join allocates the payments itself: remove one of them"
                        if src.clearing is not None
                        else "map invoice_id to the column naming the invoice (NetSuite: Applied To Transaction)"
                    )
                )
            if src.id_scope and table not in ("invoices", "payments"):
                raise ValueError(
                    f"{key}.id_scope: id_scope qualifies document numbers (tables.invoices' invoice_id, "
                    "tables.payments' payment_id, ar_export's invoice_id); remove it here"
                )
            if src.id_scope and src.ids_from_rows:
                raise ValueError(
                    f"{key}: id_scope qualifies the document numbers of the file and ids_from_rows makes "
                    "ids for payments without one: they do not go together; keep the one your export needs"
                )
        inv, pay = self.tables.get("invoices"), self.tables.get("payments")
        if inv is not None and inv.id_scope and pay is not None and "invoice_id" in pay.columns:
            raise ValueError(
                "tables.invoices.id_scope makes each invoice id its scope cells and number "
                f"({'/'.join(inv.id_scope)}/<number>), but tables.payments.columns.invoice_id reads "
                f"{pay.columns['invoice_id']!r}, the bare numbers, which would name no invoice: join a ledger's "
                "payments with tables.payments.clearing instead, or remove id_scope (and export one fiscal year "
                "per company code per file)"
            )
        for table, key, src in self.table_files():
            if src.ids_from_rows and table != "payments":
                raise ValueError(
                    f"{key}.ids_from_rows: ids_from_rows applies to tables.payments (payments "
                    "exported without a number); an invoice needs its own number: fix the export or the mapping"
                )
            if src.listed_under is not None and (
                table != "payments" or "invoice_id" in src.columns or src.clearing is not None
            ):
                raise ValueError(
                    f"{key}.listed_under: listed_under reads the invoice a payment row is listed under (the nearest "
                    "invoice row above it in the same file); "
                    + (
                        "it applies to tables.payments"
                        if table != "payments"
                        else "give either it or columns.invoice_id / clearing, not both"
                    )
                )
            if src.currency is not None and (
                table not in ("invoices", "payments") or "currency" in src.columns
            ):
                raise ValueError(
                    f"{key}.currency: currency names the one currency of a file without a currency column "
                    + (
                        "(tables.invoices or tables.payments)"
                        if table not in ("invoices", "payments")
                        else f"; this file maps columns.currency ({src.columns['currency']!r}): remove one of them"
                    )
                )
            if src.ids_leave_out and not src.ids_from_rows:
                raise ValueError(
                    f"{key}.ids_leave_out: ids_leave_out names columns left out of the ids ids_from_rows "
                    "makes from a payment's row; it needs ids_from_rows: true beside it (tables.payments)"
                )
            if src.ids_from_rows and src.clearing is not None:
                raise ValueError(
                    "tables.payments: ids_from_rows and clearing do not go together (the clearing join "
                    "keys on the payments' document numbers); a ledger's payments have numbers: remove ids_from_rows"
                )
        for table, src in self.tables.items():
            if src.clearing is None:
                continue
            if table != "payments":
                raise ValueError(
                    f"tables.{table}.clearing: clearing applies to tables.payments (the payment rows of a "
                    "ledger, joined to its invoice rows); move it there"
                )
            inv = self.tables.get("invoices")
            if inv is None or Path(inv.path).resolve() != Path(src.path).resolve():
                raise ValueError(
                    "tables.payments.clearing joins the payment rows to the invoice rows of the same file: "
                    f"tables.invoices must read {src.path} too"
                    + (f" (it reads {inv.path})" if inv is not None else " (there is no tables.invoices)")
                    + "; with separate files, map invoice_id instead"
                )
            if "invoice_id" in src.columns:
                raise ValueError(
                    "tables.payments: give either columns.invoice_id or clearing (which gives each payment "
                    "its invoice), not both"
                )

    def options_for(self, src: FileSource | None) -> tuple[CsvOptions, ValueOptions]:
        """The csv and value options of one input: source-level ones with the file's overrides."""
        csv, values = self.csv, self.values
        if src is not None and src.csv is not None:
            csv = CsvOptions.model_validate(csv.model_dump() | src.csv.model_dump(exclude_unset=True))
        if src is not None and src.values is not None:
            values = ValueOptions.model_validate(
                values.model_dump() | src.values.model_dump(exclude_unset=True)
            )
        return csv, values

    @model_validator(mode="after")
    def _overrides_combine(self) -> SourceConfig:
        inputs = [(key, s) for _t, key, s in self.table_files()]
        if self.ar_export is not None:
            inputs.append(("ar_export", self.ar_export))
        for key, src in inputs:
            try:
                self.options_for(src)
            except ValueError as exc:
                raise ValueError(
                    f"{key}: csv/values overrides do not combine with the source-level ones: {exc}"
                ) from None
        return self

    def with_paths(self, overrides: dict[str, Path]) -> SourceConfig:
        """Copy with input paths replaced: keys are table names, 'ar_export' or 'uci_wide'."""
        tables = dict(self.tables)
        update: dict[str, object] = {}
        for key, path in overrides.items():
            if key in tables:
                tables[key] = tables[key].model_copy(update={"path": Path(path)})
            elif key == "ar_export" and self.ar_export is not None:
                update["ar_export"] = self.ar_export.model_copy(update={"path": Path(path)})
            elif key == "uci_wide" and self.uci_wide is not None:
                update["uci_wide"] = self.uci_wide.model_copy(update={"path": Path(path)})
            else:
                inputs = [*tables, *(k for k in ("ar_export", "uci_wide") if getattr(self, k) is not None)]
                raise ValueError(f"--path {key}=...: this source has no input {key!r}; inputs: {inputs}")
        update["tables"] = tables
        moved = self.model_copy(update=update)
        moved._clearing_joins()  # model_copy skips the validators: a clearing join keeps its one file
        return moved
