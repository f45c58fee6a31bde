"""Monthly statements from a generated invoice ledger (``ews generate --ledger statements``).

A statements book is what a bank, a leasing company or a card issuer exports: one row per account
and month-end instead of invoices and payments. The statement of debtor d at month-end e is read off
the generated ledger as of e:

- ``balance``: the open amount of d's invoices issued on or before e (amount less payments made on
  or before e, invoices settled by e excluded). A payment without an invoice reference (the
  generator's unallocated payers) is applied to d's oldest open invoice first, as ingest's ledger
  applies unallocated cash (:func:`features.ledger.waterfall`; cash paid before an invoice exists
  waits on account). Before session 26 such payments cleared nothing, so every unallocated payer's
  statements went 90+ days past due and the statements book put it in default (s26-level: 63 of the
  86 default labels of ``ews generate`` base 300 x 24 seed 20, none in the truth table);
- ``amount_due``: the part of that balance already due (due date on or before e);
- ``amount_paid``: payments made in the month (after the previous month-end, on or before e);
- ``days_past_due``: days from the oldest unpaid due date to e (0 when nothing is overdue);
- ``credit_limit``: the debtors table's limit.

Every debtor onboarded on or before e gets a statement, so the default definition on statements (the
latest statement's days past due) sees the same overdue invoices as the invoice path, one month-end
at a time. The truth table (oracle PD, realised first default) is the generator's, unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.ledger import waterfall
from features.schema import STATEMENTS

__all__ = ["STATEMENT_COLUMNS", "convert_to_statements", "statements_from_ledger"]

STATEMENT_COLUMNS = STATEMENTS.names  # the data contract's order (features/schema.py)


def _rank(values: pd.Index) -> np.ndarray:
    """Position of each value in the sorted order (ids are unique)."""
    return pd.factorize(values, sort=True)[0]


def statements_from_ledger(
    invoices: pd.DataFrame, payments: pd.DataFrame, debtors: pd.DataFrame, month_ends: pd.DatetimeIndex
) -> pd.DataFrame:
    """One statement per debtor onboarded by each of ``month_ends`` (see the module docstring),
    sorted by (period_end, debtor_id); amounts rounded to cents."""
    ids = pd.Index(debtors["debtor_id"].astype("string").unique())
    inv_debtor = ids.get_indexer(invoices["debtor_id"].astype("string"))
    if (inv_debtor < 0).any():
        raise ValueError("invoices name debtors that the debtors table lacks")
    inv_code = pd.Index(invoices["invoice_id"].astype("string"))
    pay_inv = inv_code.get_indexer(payments["invoice_id"].astype("string"))
    pay_debtor = ids.get_indexer(payments["debtor_id"].astype("string"))
    issue = invoices["issue_date"].to_numpy(dtype="datetime64[D]")
    due = invoices["due_date"].to_numpy(dtype="datetime64[D]")
    amount = invoices["amount"].to_numpy(dtype="float64")
    paid_on = payments["paid_on"].to_numpy(dtype="datetime64[D]")
    pay_amount = payments["amount"].to_numpy(dtype="float64")
    onboarded = pd.to_datetime(debtors.set_index(debtors["debtor_id"].astype("string"))["onboarded_on"])
    onboarded = onboarded.reindex(ids).to_numpy(dtype="datetime64[D]")
    limits = debtors.set_index(debtors["debtor_id"].astype("string"))["credit_limit"].reindex(ids)
    limits = limits.to_numpy(dtype="float64")
    n, out = len(ids), []
    # unallocated cash, oldest invoice first: invoices by (debtor, issue, due, invoice_id), payments
    # without an invoice reference by (debtor, paid_on, payment_id), amounts in integer thousandths
    on_account = np.flatnonzero((pay_inv < 0) & (pay_debtor >= 0))
    by_age = np.lexsort((_rank(inv_code), due, issue, inv_debtor))  # only the payers of such cash:
    by_age = by_age[np.isin(inv_debtor[by_age], pay_debtor[on_account])]
    pay_ids = pd.Index(payments["payment_id"].astype("string").to_numpy()[on_account])
    on_account = on_account[np.lexsort((_rank(pay_ids), paid_on[on_account], pay_debtor[on_account]))]
    mills = np.rint(amount * 1000).astype(np.int64)
    pay_mills = np.rint(pay_amount * 1000).astype(np.int64)
    previous = None
    for end in pd.DatetimeIndex(month_ends):
        e = np.datetime64(end.date(), "D")
        by_e = paid_on <= e
        allocated = by_e & (pay_inv >= 0)
        paid_to_date = np.bincount(pay_inv[allocated], weights=pay_mills[allocated], minlength=len(amount))
        cap = np.where(issue <= e, np.maximum(mills - paid_to_date.astype(np.int64), 0), 0)
        cash = on_account[paid_on[on_account] <= e]
        w_inv, _, w_mills = waterfall(inv_debtor[by_age], cap[by_age], pay_debtor[cash], pay_mills[cash], n)
        cap[by_age] -= np.bincount(w_inv, weights=w_mills, minlength=len(by_age)).astype(np.int64)
        open_amt = cap / 1000.0
        open_ = open_amt > 0.005
        overdue = open_ & (due < e)
        balance = np.bincount(inv_debtor[open_], weights=open_amt[open_], minlength=n)
        is_due = open_ & (due <= e)
        amount_due = np.bincount(inv_debtor[is_due], weights=open_amt[is_due], minlength=n)
        in_month = by_e & (paid_on > previous) if previous is not None else by_e
        ok = in_month & (pay_debtor >= 0)
        amount_paid = np.bincount(pay_debtor[ok], weights=pay_amount[ok], minlength=n)
        oldest = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        if overdue.any():
            frame = pd.DataFrame({"d": inv_debtor[overdue], "due": due[overdue]}).groupby("d")["due"].min()
            oldest[frame.index.to_numpy()] = frame.to_numpy(dtype="datetime64[D]")
        dpd = np.where(np.isnat(oldest), 0, (e - oldest).astype("int64"))
        live = ~np.isnat(onboarded) & (onboarded <= e)
        out.append(
            pd.DataFrame(
                {
                    "debtor_id": ids[live],
                    "period_end": pd.Timestamp(end).normalize(),
                    "balance": np.round(balance[live], 2),
                    "amount_due": np.round(amount_due[live], 2),
                    "amount_paid": np.round(amount_paid[live], 2),
                    "days_past_due": dpd[live],
                    "credit_limit": limits[live],
                }
            )
        )
        previous = e
    statements = pd.concat(out, ignore_index=True)
    statements["debtor_id"] = statements["debtor_id"].astype("string")
    statements["days_past_due"] = statements["days_past_due"].astype("int64")
    return statements[STATEMENT_COLUMNS].sort_values(
        ["period_end", "debtor_id"], kind="stable", ignore_index=True
    )


def convert_to_statements(out_dir: Path, fmt: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Replace the generated ``invoices`` and ``payments`` in ``out_dir`` by ``statements.<fmt>``
    (one statement per debtor and month-end of the history) and record it in the summary
    (``ledger``: statements, ``rows``), which is returned and rewritten atomically."""
    out = Path(out_dir)

    def read(name: str) -> pd.DataFrame:
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            return pd.read_parquet(path)
        dates = {"invoices": ["issue_date", "due_date"], "payments": ["paid_on"], "debtors": ["onboarded_on"]}
        return pd.read_csv(
            path, dtype={"debtor_id": "string", "invoice_id": "string"}, parse_dates=dates[name]
        )

    p = summary["params"]
    first = pd.Timestamp(p["start"])
    ends = pd.date_range(first, periods=int(p["months"]), freq="ME")
    statements = statements_from_ledger(read("invoices"), read("payments"), read("debtors"), ends)
    target = out / f"statements.{fmt}"
    tmp = target.with_name(f".{target.name}.tmp")
    if fmt == "parquet":
        statements.to_parquet(tmp, index=False, compression="zstd")
    else:
        statements.assign(period_end=statements["period_end"].dt.strftime("%Y-%m-%d")).to_csv(
            tmp, index=False
        )
    os.replace(tmp, target)
    for name in ("invoices", "payments"):
        (out / f"{name}.{fmt}").unlink()
    rows = {k: v for k, v in summary["rows"].items() if k not in ("invoices", "payments")}
    summary = {**summary, "ledger": "statements", "rows": {**rows, "statements": len(statements)}}
    tmp = out / ".generate-summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / "generate-summary.json")
    return summary
