"""The feature catalog: what every feature column means, for model cards, reason codes and sidecars.

Each feature is a function named after the column it produces (Hamilton style) and registered with
:func:`feature` (in the leaf module :mod:`features.register`). Its one-line docstring is the description; ``window`` and ``unit`` say what it
measures; ``reason`` is a plain-language template formatted with ``value`` (used for SHAP reason
codes); ``direction`` is +1 when a higher value means more risk, -1 when less, 0 when either can
(a reason code only shows a feature whose value points the way of its direction).

Reason templates may use ``{value}`` (with any format spec) and these ready-made renderings:
``{money}`` (amount with the debtor's currency, required for ``currency`` units), ``{late}`` (signed
days against the due date: "12 days after the due date", "3 days before the due date") and
``{status}`` (statement payment status: "paid in full", "2 months late", ...).

Correlated features form a reason *group* (:data:`GROUPS`): the 90/180/365-day variants of one
behaviour, or the several views of one state (overdue amount, count, age). A debtor's reasons show
one sentence per group. Each group has an analyst's title and a sentence for a missing value
(``{window}`` is the member's window, e.g. "in the last 90 days"). ``calendar`` features grow with
the calendar (account age), so drift does not alert on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from features import (
    behaviour,
    delinquency,
    disputes,
    exposure,
    invoicing,
    statements,
    tenure,
    timing,
)
from features.register import REGISTERED, FeatureInfo, feature

__all__ = [
    "CALENDAR",
    "CATALOG",
    "FUNCTIONS",
    "GROUPS",
    "FeatureInfo",
    "ReasonGroup",
    "describe",
    "feature",
    "feature_words",
    "window_phrase",
]


@dataclass(frozen=True)
class ReasonGroup:
    """Correlated features that give one reason sentence: ``title`` (waterfall label), ``missing``
    (sentence for a missing value; ``{window}`` = the member's window phrase) and ``members``."""

    title: str
    missing: str
    members: tuple[str, ...]


GROUPS: dict[str, ReasonGroup] = {
    # invoice ledger
    "past_due": ReasonGroup(
        "Days past due",
        "no invoices {window}",
        ("dpd_current_max", "dpd_mean_overdue", "dpd_max_90d", "dpd_max_180d", "dpd_max_365d"),
    ),
    "overdue_now": ReasonGroup(
        "Overdue amount",
        "nothing overdue",
        (
            "overdue_invoice_count",
            "overdue_amount",
            "overdue_amount_1_30",
            "overdue_amount_31_60",
            "overdue_amount_61_90",
            "overdue_amount_90p",
            "overdue_share",
        ),
    ),
    "late_payments": ReasonGroup(
        "Late payments",
        "no invoices settled {window}",
        (
            "late30_count_90d",
            "late30_count_180d",
            "late30_count_365d",
            "late60_count_90d",
            "late60_count_180d",
            "late60_count_365d",
        ),
    ),
    "days_late": ReasonGroup(
        "Payment timing",
        "no payments {window}",
        (
            "days_late_mean_90d",
            "days_late_mean_180d",
            "days_late_mean_365d",
            "days_late_p90_180d",
            "days_late_p90_365d",
            "days_late_std_365d",
        ),
    ),
    "days_late_trend": ReasonGroup(
        "Timing trend",
        "too few payments to compare the last 90 days with the year",
        ("days_late_trend_90_365",),
    ),
    "payments": ReasonGroup(
        "Payments received",
        "no payments {window}",
        ("payment_count_90d", "payment_count_365d", "payment_amount_90d", "payment_amount_365d"),
    ),
    "last_payment": ReasonGroup("Last payment", "no payment on record", ("days_since_last_payment",)),
    "paid_vs_invoiced": ReasonGroup(
        "Paid vs invoiced", "nothing invoiced {window}", ("paid_to_invoiced_90d", "paid_to_invoiced_365d")
    ),
    "partial_payments": ReasonGroup(
        "Partial payments", "no invoices paid in the last year", ("partial_payment_share_365d",)
    ),
    "unallocated_cash": ReasonGroup(
        "Unallocated cash", "no cash received in the last year", ("unallocated_share_365d",)
    ),
    "open_balance": ReasonGroup(
        "Open balance", "nothing open", ("open_balance", "open_invoice_count", "largest_open_share")
    ),
    "utilisation": ReasonGroup("Credit limit use", "no credit limit on file", ("utilisation",)),
    "credit_on_account": ReasonGroup(
        "Cash on account", "no unapplied cash on account", ("credit_on_account",)
    ),
    "disputes": ReasonGroup(
        "Disputes",
        "no invoices issued {window}",
        ("dispute_rate_365d", "open_disputed_amount", "open_disputed_count"),
    ),
    "invoicing_volume": ReasonGroup(
        "Invoicing volume",
        "no invoices {window}",
        ("invoice_count_90d", "invoice_count_365d", "invoice_amount_90d", "invoice_amount_365d"),
    ),
    "invoicing_trend": ReasonGroup(
        "Invoicing trend",
        "no invoices in the last year",
        ("invoice_amount_trend_90_365", "invoice_count_trend_90_365"),
    ),
    "last_invoice": ReasonGroup(
        "Latest invoice", "no invoices in the last year", ("last_invoice_amount_ratio",)
    ),
    "invoice_recency": ReasonGroup("Last invoice", "no invoice on record", ("days_since_last_invoice",)),
    "payment_terms": ReasonGroup(
        "Payment terms", "no invoices in the last year", ("payment_terms_mean_365d",)
    ),
    "tenure": ReasonGroup("Customer age", "start of the relationship not known", ("tenure_days",)),
    "credit_limit": ReasonGroup("Credit limit", "no credit limit on file", ("credit_limit",)),
    "segment": ReasonGroup("Segment", "no segment on file", ("segment",)),
    "country": ReasonGroup("Country", "no country on file", ("country",)),
    # monthly statements
    "st_past_due": ReasonGroup(
        "Days past due",
        "days past due not reported {window}",
        (
            "st_dpd_last",
            "st_dpd_prev",
            "st_dpd_max_3m",
            "st_dpd_max_6m",
            "st_dpd_max_12m",
            "st_dpd_mean_6m",
            "st_months_delinquent_3m",
            "st_months_delinquent_6m",
            "st_months_delinquent_12m",
            "st_delinquency_streak_last",
            "st_delinquency_streak_max_6m",
        ),
    ),
    "st_status": ReasonGroup(
        "Payment status",
        "no statements on record",
        ("st_status_last", "st_status_prev", "st_status_max_6m", "st_status_mean_6m", "st_status_change_1m"),
    ),
    "st_payment_pattern": ReasonGroup(
        "Monthly payments",
        "no statements {window}",
        (
            "st_full_payment_months_6m",
            "st_revolving_months_6m",
            "st_inactive_months_6m",
            "st_zero_payment_months_6m",
            "st_underpaid_months_6m",
            "st_no_spending_months_6m",
        ),
    ),
    "st_paid_to_due": ReasonGroup(
        "Paid vs due",
        "nothing due {window}",
        (
            "st_paid_to_due_last",
            "st_paid_to_due_3m",
            "st_paid_to_due_6m",
            "st_payment_ratio_mean_3m",
            "st_payment_ratio_mean_6m",
            "st_payment_ratio_min_6m",
            "st_paid_to_billed_6m",
        ),
    ),
    "st_payments": ReasonGroup(
        "Payments received",
        "payments not reported {window}",
        ("st_paid_amount_last", "st_paid_amount_mean_6m", "st_paid_to_limit_6m"),
    ),
    "st_balance": ReasonGroup(
        "Balance",
        "balance not reported {window}",
        (
            "st_balance_last",
            "st_balance_mean_6m",
            "st_balance_change_1m",
            "st_balance_trend_6m",
            "st_spending_to_limit_6m",
        ),
    ),
    "st_utilisation": ReasonGroup(
        "Credit limit use",
        "no credit limit on file",
        (
            "st_utilisation_last",
            "st_utilisation_mean_6m",
            "st_utilisation_max_6m",
            "st_utilisation_trend_6m",
            "st_balance_growth_6m",
        ),
    ),
    "st_limit": ReasonGroup(
        "Credit limit", "no credit limit on file", ("st_credit_limit", "st_headroom_last")
    ),
    "st_full_payment": ReasonGroup(
        "Last full payment", "never paid in full on record", ("st_months_since_full_payment",)
    ),
    "st_history": ReasonGroup("Statement history", "no statements on record", ("st_months_observed",)),
}
# member -> group key
_GROUP_OF: dict[str, str] = {m: key for key, g in GROUPS.items() for m in g.members}
# Features that grow with the calendar for every debtor (account age): drift does not alert on them.
CALENDAR: frozenset[str] = frozenset({"tenure_days", "st_months_observed"})


def window_phrase(window: str) -> str:
    """Plain words for a catalog window: "90 days" -> "in the last 90 days", "365 days" -> "in the
    last year", "latest statement" -> "on the latest statement", "at T" -> "" ..."""
    if window in ("365 days", "12 months"):
        return "in the last year"
    parts = window.split()
    if len(parts) == 2 and parts[0].isdigit():
        n, unit = parts
        return f"in the last {n} {unit}" if n != "1" else f"in the last {unit}"
    if window.endswith("statement"):
        return f"on the {window}"
    return ""


def _info(info: FeatureInfo) -> FeatureInfo:
    """``info`` with its reason group, missing-value sentence and calendar flag filled in."""
    group = _GROUP_OF.get(info.name, info.name)
    missing = GROUPS[group].missing if group in GROUPS else ""
    missing = " ".join(missing.replace("{window}", window_phrase(info.window)).split())
    return replace(info, group=group, missing=missing, calendar=info.name in CALENDAR)


# Every family module, in catalog order. Imported here, in the open: the family modules import
# ``feature`` from the leaf module features.register, never from this one, so there is no cycle.
_FAMILIES = (behaviour, delinquency, disputes, exposure, invoicing, statements, tenure, timing)


def _static(name: str, description: str, reason: str, words: str = "") -> FeatureInfo:
    return _info(
        FeatureInfo(name, "tenure", "static", "category", description, reason, 0, "category", words=words)
    )


CATALOG: dict[str, FeatureInfo] = {
    # a reason is shown only where the value raises the PD: the sentence says so (before: "country FR")
    "segment": _static(
        "segment",
        "Debtor segment or industry (static attribute).",
        "segment {value}: the model gives this segment a higher PD",
    ),
    "country": _static(
        "country",
        "Debtor country, ISO-3166 alpha-2 (static attribute).",
        "country {value}: the model gives debtors there a higher PD",
        words="Debtor country",
    ),
}
for _module in _FAMILIES:
    CATALOG.update({n: _info(r.info) for n, r in REGISTERED.items() if r.fn.__module__ == _module.__name__})
# name -> the function that computes the column (ledger families take a ``LedgerState``).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: REGISTERED[name].fn for name in CATALOG if name in REGISTERED
}


_TRAILING_UNIT = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)$")  # "(days; NaN without payments)"
_AS_OF_NOTES = re.compile(r"\s*\([^()]*(?:<=|_)[^()]*\)")  # "(paid_on <= T)", "(..., <= T)"
_WINDOW = re.compile(r"\(T-(\d+), T\]")
_AT_T = re.compile(r",? (?:at|by) T\b|(?: dated)? <= T\b")


def feature_words(name: str) -> str:
    """A feature column in words for a reader who does not know its name: its catalog description
    without the unit, the as-of notation said in words ("(T-90, T]" -> "the last 90 days", "(T-365, T]"
    -> "the last year", "at T" left out, "to T" -> "to the as-of date") and ratios said "against":
    ``dpd_max_180d`` -> "Highest days past due reached by any invoice on a day in the last 180 days",
    ``utilisation`` -> "Open balance against credit limit". A feature registered with ``words`` gets
    them instead (``st_balance_trend_6m``: "How fast the balance rose or fell over the last 6 months, per
    month", not "Least-squares slope of the balance ..."). The report's drift table shows it beside
    the name (before session 33 the name alone); a name not in the catalog as it is."""
    info = CATALOG.get(name)
    if info is None or not info.description:
        return name
    if info.words:  # a description that reads as a formula has its words beside its function (s34-walk)
        return info.words
    text = _TRAILING_UNIT.sub("", info.description.strip().rstrip("."), count=1)
    text = _AS_OF_NOTES.sub("", text).replace("(T-365, T]", "the last year")
    text = _AT_T.sub("", _WINDOW.sub(r"the last \1 days", text))
    text = text.replace(" to T", " to the as-of date").replace(" / ", " against ")
    return text[:1].upper() + text[1:]


def describe(columns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Catalog entries for ``columns`` as plain dicts (for a JSON sidecar); keys/unknowns are marked."""
    out: dict[str, dict[str, Any]] = {}
    keys = {
        "debtor_id": "debtor key",
        "as_of": "as-of date T: features use only invoices issued, payments made and events dated <= T",
    }
    label_cols = {
        "in_default_at_asof": "debtor already in default at T (excluded from scoring: collections)",
        "label": "1 if the first default falls in (T, T + horizon], 0 if not, NA if excluded/unobserved",
        "first_default_date": "first day in (T, T + horizon] on which the debtor is in default",
        "horizon_observed": "T + horizon is on or before the last date observed in the data",
    }
    for col in columns:
        if col in CATALOG:
            out[col] = asdict(CATALOG[col])
        elif col in keys:
            out[col] = {"name": col, "family": "key", "description": keys[col]}
        elif col in label_cols:
            out[col] = {"name": col, "family": "label", "description": label_cols[col]}
        else:
            out[col] = {"name": col, "family": "unknown", "description": ""}
    return out
