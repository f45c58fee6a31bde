"""`ews generate --ledger statements`: monthly statements read off the generated ledger."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from pipelines.synthetic.statements import statements_from_ledger


def test_statements_of_a_hand_ledger() -> None:
    debtors = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2"],
            "onboarded_on": pd.to_datetime(["2024-01-01", "2024-02-15"]),
            "credit_limit": [1000.0, 500.0],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "debtor_id": ["D1", "D1", "D2"],
            "issue_date": pd.to_datetime(["2024-01-05", "2024-01-25", "2024-02-20"]),
            "due_date": pd.to_datetime(["2024-01-20", "2024-02-29", "2024-02-25"]),
            "amount": [100.0, 200.0, 50.0],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3"],
            "debtor_id": ["D1", "D1", "D2"],
            "invoice_id": ["I1", "I1", "I3"],
            "paid_on": pd.to_datetime(["2024-01-10", "2024-02-05", "2024-03-01"]),
            "amount": [40.0, 60.0, 50.0],
        }
    )
    got = statements_from_ledger(invoices, payments, debtors, pd.DatetimeIndex(["2024-01-31", "2024-02-29"]))
    # Jan: D1 owes 60 of I1 (due 01-20: 11 days past due) + 200 of I2 (not due); D2 not onboarded.
    # Feb: I1 paid in full; I2 due on the statement day (due, not past due); D2's I3 4 days past due.
    expected = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D1", "D2"], dtype="string"),
            "period_end": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-02-29"]),
            "balance": [260.0, 200.0, 50.0],
            "amount_due": [60.0, 200.0, 50.0],
            "amount_paid": [40.0, 60.0, 0.0],
            "days_past_due": [11, 0, 4],
            "credit_limit": [1000.0, 1000.0, 500.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_cash_without_an_invoice_reference_clears_the_oldest_invoice() -> None:
    """The generator's unallocated payers pay without invoice references; ingest applies such cash
    to the oldest open invoice, so must the statements (before session 26 it cleared nothing: every
    such debtor's statements went 90+ days past due, a default the truth table does not have)."""
    debtors = pd.DataFrame(
        {
            "debtor_id": ["D3", "D4"],
            "onboarded_on": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "credit_limit": [500.0, 500.0],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I5", "I4", "I6"],
            "debtor_id": ["D3", "D3", "D4"],
            "issue_date": pd.to_datetime(["2024-01-20", "2024-01-02", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-02-10", "2024-01-15", "2024-02-15"]),
            "amount": [80.0, 100.0, 50.0],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P5", "P4", "P6"],
            "debtor_id": ["D3", "D3", "D4"],
            "invoice_id": pd.array([None, None, None], dtype="string"),
            "paid_on": pd.to_datetime(["2024-02-20", "2024-01-25", "2024-01-10"]),
            "amount": [70.0, 60.0, 30.0],
        }
    )
    got = statements_from_ledger(invoices, payments, debtors, pd.DatetimeIndex(["2024-01-31", "2024-02-29"]))
    # Jan: D3's 60 pays 60 of I4 (the oldest): 40 open, due 01-15 -> 16 days past due; I5 80 not yet due.
    #      D4's 30 waits on account (no invoice yet).
    # Feb: D3's 130 in all: I4 settled, 30 of I5: 50 open, due 02-10 -> 19 days past due.
    #      D4's 30 goes to I6 when it is issued: 20 open, due 02-15 -> 14 days past due.
    expected = pd.DataFrame(
        {
            "debtor_id": pd.array(["D3", "D4", "D3", "D4"], dtype="string"),
            "period_end": pd.to_datetime(["2024-01-31", "2024-01-31", "2024-02-29", "2024-02-29"]),
            "balance": [120.0, 0.0, 50.0, 20.0],
            "amount_due": [40.0, 0.0, 50.0, 20.0],
            "amount_paid": [60.0, 30.0, 70.0, 0.0],
            "days_past_due": [16, 0, 19, 14],
            "credit_limit": [500.0, 500.0, 500.0, 500.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_generate_writes_a_statements_book(tmp_path) -> None:
    from pipelines.cli import app

    out = tmp_path / "g"
    res = CliRunner().invoke(
        app,
        [
            "generate",
            "--debtors",
            "60",
            "--months",
            "8",
            "--seed",
            "1",
            "--ledger",
            "statements",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "debtors.parquet",
        "events.parquet",
        "generate-summary.json",
        "statements.parquet",
        "truth.parquet",
    ]
    summary = json.loads((out / "generate-summary.json").read_text())
    st = pd.read_parquet(out / "statements.parquet")
    assert summary["ledger"] == "statements" and summary["rows"]["statements"] == len(st)
    assert st["period_end"].nunique() == 8 and (st["days_past_due"] >= 0).all()
    bad = CliRunner().invoke(app, ["generate", "--ledger", "bank", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--ledger must be invoices or statements" in bad.output
