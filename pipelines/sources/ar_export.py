"""Accounts-receivable exports with one row per invoice -> invoices + derived payments (+ debtors).

Each row carries the invoice and, once paid, its settlement date (and optionally the amount
settled). A row with a settlement date or a non-zero settled amount becomes one payment:
``payment_id`` = invoice_id + suffix, same debtor, ``invoice_id`` = the invoice, ``paid_on`` = the
settlement date, ``amount`` = the settled amount (default: the invoice amount). A settled amount
without a date becomes a payment with an empty ``paid_on`` and is quarantined, never dropped.
Debtor attribute columns, when mapped, give the debtors table (first row per debtor_id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schema import TABLES
from pipelines.sources.parse import parse_numbers

__all__ = ["split_ar_export"]


def split_ar_export(
    frame: pd.DataFrame,
    columns: dict[str, str],
    settled_on: str | None,
    settled_amount: str | None,
    payment_id_suffix: str,
    decimal: str = ".",
    thousands: str | None = None,
    grouping: str = "thousands",
) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """Split a raw AR frame (file column names) into raw canonical-named frames.

    Returns ``{table: (raw frame, positions)}`` where ``positions`` are the row positions in
    ``frame`` each output row comes from (for source row numbers in quarantine). Values stay raw
    (text); parsing happens later in ingest.
    """
    n = len(frame)

    def col(name: str | None) -> pd.Series:
        if name is None:
            return pd.Series(pd.NA, index=range(n), dtype="string")
        return frame[name].reset_index(drop=True)

    invoice_cols = [c for c in TABLES["invoices"].names if c in columns]
    invoices = pd.DataFrame({c: col(columns[c]) for c in invoice_cols})
    out: dict[str, tuple[pd.DataFrame, np.ndarray]] = {"invoices": (invoices, np.arange(n))}

    date = col(settled_on)
    has_date = date.notna() & (date.astype("string").str.strip() != "")
    has_date = has_date.to_numpy(dtype=bool, na_value=False)
    if settled_amount is not None:
        amount_raw = col(settled_amount)
        amount_num, amount_bad = parse_numbers(amount_raw, decimal, thousands, grouping)
        nonzero = amount_bad | (amount_num.fillna(0).to_numpy() != 0)
        take = (has_date & ~(amount_num.to_numpy() == 0)) | nonzero
        amount = amount_raw.where(amount_raw.notna(), col(columns.get("amount")))
    else:
        take = has_date
        amount = col(columns.get("amount"))
    rows = np.flatnonzero(take)
    invoice_id = col(columns.get("invoice_id"))
    payments = pd.DataFrame(
        {
            "payment_id": (invoice_id.astype("string").str.strip() + payment_id_suffix)
            .iloc[rows]
            .reset_index(drop=True),
            "debtor_id": col(columns.get("debtor_id")).iloc[rows].reset_index(drop=True),
            "invoice_id": invoice_id.iloc[rows].reset_index(drop=True),
            "paid_on": date.iloc[rows].reset_index(drop=True),
            "amount": amount.iloc[rows].reset_index(drop=True),
        }
    )
    out["payments"] = (payments, rows)

    debtor_cols = [c for c in TABLES["debtors"].names if c != "debtor_id" and c in columns]
    if debtor_cols and "debtor_id" in columns:
        ids = col(columns["debtor_id"]).astype("string").str.strip()
        first = np.flatnonzero(
            (~ids.duplicated(keep="first") & ids.notna()).to_numpy(dtype=bool, na_value=False)
        )
        debtors = pd.DataFrame(
            {"debtor_id": ids.iloc[first].reset_index(drop=True)}
            | {c: col(columns[c]).iloc[first].reset_index(drop=True) for c in debtor_cols}
        )
        out["debtors"] = (debtors, first)
    return out
