"""Hostile inputs, session 16 (s16-robust; BENCHMARKS.md "Hostile inputs tried", "Session 16
(s16-robust)"): the small items s15 left open. Each test was written before its fix and fails
without it. Tiny hand-made files, hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

AS_OF = dt.date(2024, 12, 4)


def _source(tmp_path: Path, block: str) -> Path:
    config = tmp_path / "src.yaml"
    config.write_text("kind: source\nname: t\nrules: {data_docs: false}\n" + block, encoding="utf-8")
    return config


INVOICES = (
    "Invoice,Customer,Date,Due,Amount\nI1,D1,2024-10-01,2024-10-31,100\nI2,D2,2024-10-05,2024-11-04,50\n"
)


# ------------------------------------------------------------ 1. config check with an input missing


def test_config_check_checks_the_inputs_that_exist_when_one_is_missing(tmp_path: Path) -> None:
    """Before: one missing input (payments) left every header unchecked, so a wrong column in the
    invoices' mapping passed `ews config check`. Now the existing inputs are checked (FAIL names
    the invoices' file and column) and the missing ones are named as not checked (still exit 0
    when the existing ones pass: the paths may be given with --path at ingest)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    inv = tmp_path / "inv.csv"
    inv.write_text(INVOICES, encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {inv}\n"
        "    columns: {invoice_id: Invoice, debtor_id: Client, issue_date: Date, due_date: Due, amount: Amount}\n"
        f"  payments:\n    path: {tmp_path / 'pay.csv'}\n"
        "    columns: {payment_id: Ref, invoice_id: Invoice, paid_on: Date, amount: Amount}\n"
    )
    bad = _source(tmp_path, block)
    res = CliRunner().invoke(app, ["config", "check", str(bad)])
    assert res.exit_code == 2, res.output
    assert "FAIL" in res.output and "'Client'" in res.output and "inv.csv" in res.output
    good = _source(tmp_path, block.replace("debtor_id: Client", "debtor_id: Customer"))
    res = CliRunner().invoke(app, ["config", "check", str(good)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "headers checked: tables.invoices" in text
    assert "not checked: tables.payments" in text and "pay.csv not found" in text
