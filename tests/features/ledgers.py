"""Tiny canonical frames for feature tests (values chosen so results can be worked out by hand)."""

from __future__ import annotations

import pandas as pd

from features.schema import dtypes
from features.tables import Portfolio


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A canonical frame with the schema dtypes (missing optional columns filled with defaults)."""
    types = dtypes(table)
    data = {}
    for col, dtype in types.items():
        values = [r.get(col) for r in rows]
        if col == "disputed":
            values = [bool(v) for v in values]
        if col == "currency":
            values = [v or "EUR" for v in values]
        data[col] = pd.Series(values, dtype="object").astype(dtype) if rows else pd.Series([], dtype=dtype)
    return pd.DataFrame(data)


def inv(invoice_id: str, debtor: str, issue: str, due: str, amount: float, disputed: bool = False) -> dict:
    return {
        "invoice_id": invoice_id,
        "debtor_id": debtor,
        "issue_date": pd.Timestamp(issue),
        "due_date": pd.Timestamp(due),
        "amount": amount,
        "disputed": disputed,
    }


def pay(payment_id: str, debtor: str, paid_on: str, amount: float, invoice_id: str | None = None) -> dict:
    return {
        "payment_id": payment_id,
        "debtor_id": debtor,
        "invoice_id": invoice_id,
        "paid_on": pd.Timestamp(paid_on),
        "amount": amount,
    }


def portfolio(
    invoices: list[dict],
    payments: list[dict] = (),
    debtors: list[dict] | None = None,
    events: list[dict] | None = None,
) -> Portfolio:
    return Portfolio(
        invoices=frame("invoices", list(invoices)),
        payments=frame("payments", list(payments)),
        debtors=frame("debtors", debtors) if debtors is not None else None,
        events=frame("events", events) if events is not None else None,
    )


def statements(balances: dict[str, float | None], days_past_due: dict[str, int]) -> pd.DataFrame:
    """A canonical statements frame: one statement per account (``balances``: account -> balance, None for
    none stated; amount due = the balance, nothing paid, limit 2,000) per month-end (``days_past_due``:
    period end -> days past due), month-end by month-end."""
    rows = [
        {
            "debtor_id": debtor,
            "period_end": pd.Timestamp(end),
            "balance": balance,
            "amount_due": balance,
            "amount_paid": 0.0,
            "days_past_due": dpd,
            "credit_limit": 2000.0,
        }
        for end, dpd in days_past_due.items()
        for debtor, balance in balances.items()
    ]
    return frame("statements", rows)
