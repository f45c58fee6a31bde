"""The canonical data contract (docs/architecture.md): column names, dtypes and rules per table.

Every source is mapped onto these tables by config; everything downstream of ingest
relies on these exact names and dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_KINDS: tuple[str, ...] = ("write_off", "agency_placement", "insolvency")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``kind`` is one of ``str``, ``date``, ``float``, ``int``, ``bool``.
    """

    name: str
    kind: str
    required: bool = False
    unique: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


DEBTORS = TableSpec(
    "debtors",
    (
        Column("debtor_id", "str", required=True, unique=True, description="debtor key"),
        Column("name", "str", description="legal or trading name"),
        Column("segment", "str", description="segment or industry"),
        Column("country", "str", description="ISO-3166 alpha-2"),
        Column("credit_limit", "float", description="credit limit, >= 0"),
        Column("onboarded_on", "date", description="start of the relationship"),
    ),
)

INVOICES = TableSpec(
    "invoices",
    (
        Column("invoice_id", "str", required=True, unique=True, description="invoice key"),
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("issue_date", "date", required=True, description="date issued"),
        Column("due_date", "date", required=True, description="date due, >= issue_date"),
        Column("amount", "float", required=True, description="invoice amount, > 0"),
        Column("currency", "str", description="ISO-4217; default from source config"),
        Column("disputed", "bool", description="invoice disputed by the debtor; default false"),
    ),
)

PAYMENTS = TableSpec(
    "payments",
    (
        Column("payment_id", "str", required=True, unique=True, description="payment key"),
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("invoice_id", "str", description="allocated invoice; empty = unallocated cash"),
        Column("paid_on", "date", required=True, description="value date of the payment"),
        Column("amount", "float", required=True, description="amount paid, > 0"),
    ),
)

EVENTS = TableSpec(
    "events",
    (
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("event_date", "date", required=True, description="date of the credit event"),
        Column("kind", "str", required=True, description="write_off | agency_placement | insolvency"),
        Column("amount", "float", description="amount concerned, optional"),
    ),
)

STATEMENTS = TableSpec(
    "statements",
    (
        Column("debtor_id", "str", required=True, description="account key"),
        Column("period_end", "date", required=True, description="statement date"),
        Column("balance", "float", description="statement balance (may be negative)"),
        Column("amount_due", "float", description="amount due this period"),
        Column("amount_paid", "float", description="amount paid in the period"),
        Column("days_past_due", "int", description="days past due at period end, >= 0"),
        Column("credit_limit", "float", description="credit limit"),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (DEBTORS, INVOICES, PAYMENTS, EVENTS, STATEMENTS)}

# pandas dtypes used for every canonical frame after ingest.
PANDAS_DTYPES: dict[str, str] = {
    "str": "string",
    "date": "datetime64[ns]",
    "float": "float64",
    "int": "Int64",
    "bool": "bool",
}


def dtypes(table: str) -> dict[str, str]:
    """Pandas dtype per column of a canonical table."""
    return {c.name: PANDAS_DTYPES[c.kind] for c in TABLES[table].columns}
