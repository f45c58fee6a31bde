"""The canonical data contract (docs/architecture.md): column names, dtypes and rules per table.

Every source is mapped onto these tables by config; everything downstream of ingest
relies on these exact names and dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_KINDS: tuple[str, ...] = ("write_off", "agency_placement", "insolvency")
PAYMENT_KINDS: tuple[str, ...] = ("cash", "credit")  # payments.kind (sparse): a credit memo is no cash
PLAN_STATUSES: tuple[str, ...] = ("active", "broken", "completed", "cancelled")
# Ceiling of a statement's days_past_due: ten years. Real arrears are written off long before; larger
# values are data errors (1,000,000) or dates read as numbers (an Excel serial: 45,321 = 2024-01-30;
# every day since 1910 is above this ceiling).
MAX_DAYS_PAST_DUE = 3650
# a payment plan's monthly instalments: a hundred years. Above it (120000: an amount typed into the column)
# the plan's last due date passed pandas' last date and every nightly run stopped with a traceback
MAX_INSTALLMENTS = 1200
# a payment plan's first instalment may fall due up to one monthly instalment before the plan was agreed (a plan
# entered days after its first instalment); earlier, the dates contradict each other (a year typed wrong: the
# plan was accepted, then silently out of force, s42-attack) and the plan is quarantined first_due_before_agreed
PLAN_LEAD_DAYS = 31


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
    # Row rules; a row that breaks one is quarantined with the rule's reason (see reasons()).
    min_value: float | None = None  # numbers: lowest allowed value
    strict_min: bool = False  # min_value itself is not allowed (> instead of >=)
    pattern: str | None = None  # text: a regular expression every value matches
    allowed: tuple[str, ...] = ()  # text: the only values allowed
    latest: str = "as_of"  # dates: the latest allowed date, "as_of" (the run's as-of date) or "max_date"
    reason: str = ""  # quarantine reason of the min_value/pattern/allowed rule, when not the default
    max_value: float | None = None  # numbers: highest plausible value (a ceiling of the contract)
    max_reason: str = ""  # quarantine reason of the max_value rule (default implausible_<column>)
    # written only when a source gives it (absent from the tables of every other source, which keep
    # their bytes); parsed like any column, no suite rules of its own
    sparse: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    unique_together: tuple[str, ...] = ()  # columns whose combination is unique
    unique_together_reason: str = ""
    not_before: tuple[tuple[str, str, str], ...] = ()  # (later, earlier, reason): later >= earlier
    # (later, earlier, days, reason): later >= earlier - days (pipelines.ingest.rules, not a GX suite rule)
    not_before_by: tuple[tuple[str, str, int, str], ...] = ()

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
        Column("country", "str", description="ISO-3166 alpha-2", pattern="^[A-Z]{2}$"),
        Column("credit_limit", "float", description="credit limit, >= 0", min_value=0),
        Column("onboarded_on", "date", description="start of the relationship"),
        Column(
            "annual_turnover",
            "float",
            description="the debtor's annual turnover (revenue), reporting currency, >= 0; caps the credit "
            "limit (conf/credit.yaml)",
            min_value=0,
        ),
        Column(
            "net_worth",
            "float",
            description="the debtor's net worth (equity), reporting currency, may be negative; caps the "
            "credit limit (conf/credit.yaml)",
        ),
    ),
)

INVOICES = TableSpec(
    "invoices",
    (
        Column("invoice_id", "str", required=True, unique=True, description="invoice key"),
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("issue_date", "date", required=True, description="date issued"),
        Column("due_date", "date", required=True, description="date due, >= issue_date", latest="max_date"),
        Column(
            "amount", "float", required=True, description="invoice amount, > 0", min_value=0, strict_min=True
        ),
        Column("currency", "str", description="ISO-4217; default from source config", pattern="^[A-Z]{3}$"),
        Column("disputed", "bool", description="invoice disputed by the debtor; default false"),
    ),
    not_before=(("due_date", "issue_date", "due_before_issue"),),
)

PAYMENTS = TableSpec(
    "payments",
    (
        Column("payment_id", "str", required=True, unique=True, description="payment key"),
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("invoice_id", "str", description="allocated invoice; empty = unallocated cash"),
        Column("paid_on", "date", required=True, description="value date of the payment"),
        Column(
            "allocated_on",
            "date",
            description="optional: the day the payment was applied to invoice_id (a ledger's clearing "
            "date); before it the payment is unallocated cash (point in time); empty = from paid_on",
            latest="max_date",
            sparse=True,
        ),
        Column(
            "amount", "float", required=True, description="amount paid, > 0", min_value=0, strict_min=True
        ),
        Column(
            "currency",
            "str",
            description="ISO-4217, optional: when given, the currency ews takes the payment in (its "
            "invoice's; see conf/sources/README.md 8b); another one is quarantined as currency_mismatch",
            pattern="^[A-Z]{3}$",
        ),
        Column(
            "kind",
            "str",
            description="optional: cash | credit (a credit memo: it reduces what is open, as a payment does, "
            "but is no cash for the payment behaviour features); empty = cash",
            sparse=True,
        ),
    ),
)

EVENTS = TableSpec(
    "events",
    (
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("event_date", "date", required=True, description="date of the credit event"),
        Column(
            "kind",
            "str",
            required=True,
            description="write_off | agency_placement | insolvency",
            allowed=EVENT_KINDS,
            reason="unknown_event_kind",
        ),
        Column(
            "amount",
            "float",
            description="amount concerned, optional; its size: a write-off booked as a credit (-400) reads 400",
            min_value=0,
        ),
    ),
)

STATEMENTS = TableSpec(
    "statements",
    (
        Column("debtor_id", "str", required=True, description="account key"),
        Column("period_end", "date", required=True, description="statement date"),
        Column("balance", "float", description="statement balance (may be negative)"),
        Column("amount_due", "float", description="amount due this period"),
        Column("amount_paid", "float", description="amount paid in the period, >= 0", min_value=0),
        Column(
            "days_past_due",
            "int",
            description=f"days past due at period end, 0 to {MAX_DAYS_PAST_DUE:,} (ten years); above it "
            "(1,000,000, an Excel date serial such as 45,321 in a mis-mapped column) the row is quarantined "
            "as implausible_days_past_due",
            min_value=0,
            max_value=MAX_DAYS_PAST_DUE,
            max_reason="implausible_days_past_due",
        ),
        Column("credit_limit", "float", description="credit limit, >= 0", min_value=0),
    ),
    unique_together=("debtor_id", "period_end"),
    unique_together_reason="duplicate_period",
)

PAYMENT_PLANS = TableSpec(
    "payment_plans",
    (
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column("agreed_on", "date", required=True, description="date the plan was agreed"),
        Column(
            "first_due",
            "date",
            required=True,
            description=f"due date of the first instalment; at most {PLAN_LEAD_DAYS} days before agreed_on "
            "(earlier: quarantined as first_due_before_agreed)",
            latest="max_date",
        ),
        Column(
            "installment_amount",
            "float",
            description="amount per instalment, > 0",
            min_value=0,
            strict_min=True,
        ),
        Column(
            "installments",
            "int",
            required=True,
            description=f"number of monthly instalments, 1 to {MAX_INSTALLMENTS:,} (a hundred years); above it "
            "(an amount or a date typed into the column) the plan is quarantined as implausible_installments",
            min_value=1,
            max_value=MAX_INSTALLMENTS,
            max_reason="implausible_installments",
        ),
        Column(
            "status",
            "str",
            description="active | broken | completed | cancelled; empty = active",
            allowed=PLAN_STATUSES,
            reason="unknown_plan_status",
        ),
    ),
    unique_together=("debtor_id", "agreed_on"),
    unique_together_reason="duplicate_plan",
    not_before_by=(("first_due", "agreed_on", PLAN_LEAD_DAYS, "first_due_before_agreed"),),
)

DEBTOR_HISTORY = TableSpec(
    "debtor_history",
    (
        Column("debtor_id", "str", required=True, description="debtor key"),
        Column(
            "valid_from",
            "date",
            required=True,
            description="first day the row's attributes held (they hold until the debtor's next row); "
            "features at T read the latest row dated <= T",
        ),
        Column(
            "credit_limit",
            "float",
            description="credit limit from valid_from, >= 0; empty = not stated",
            min_value=0,
        ),
        Column("segment", "str", description="segment or industry from valid_from; empty = not stated"),
        Column(
            "country",
            "str",
            description="ISO-3166 alpha-2 from valid_from; empty = not stated",
            pattern="^[A-Z]{2}$",
        ),
    ),
    unique_together=("debtor_id", "valid_from"),
    unique_together_reason="duplicate_valid_from",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (DEBTORS, INVOICES, PAYMENTS, EVENTS, STATEMENTS, PAYMENT_PLANS, DEBTOR_HISTORY)
}

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
