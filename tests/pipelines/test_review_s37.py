"""Session 37 review (s37-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches
(benchmarks/review_mutations.py, P entries)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
from typer.testing import CliRunner

from features.engine import build_bucket
from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.cli import app
from tests.features.ledgers import frame, inv, pay

D = dt.datetime


def _run(args: list[str]) -> object:
    return CliRunner().invoke(app, args, env={"COLUMNS": "300"})


def _workbook(path: Path, rows: list[list[object]], title: str = "Sheet1", hidden: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if hidden is not None:  # a lookup sheet the user hid (Excel: right-click > Hide)
        other = wb.create_sheet(hidden)
        other.append(["code", "meaning"])
        other.sheet_state = "hidden"
    wb.save(path)
    return path


INVOICE_HEADER = ["invoice_id", "debtor_id", "issue_date", "due_date", "amount"]
PAYMENTS = [
    ["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"],
    ["P-1", "C1", "INV-1", D(2024, 2, 3), 100],
]


def test_a_mixed_books_material_days_are_the_more_of_the_invoices_and_the_statements() -> None:
    """6660ebf, P4. A book with invoices and statements, min_open_amount 10, as of 2024-03-31. By hand:
    m1 paid its only invoice on time (0 days from the invoices) and its statement states 60 days on a
    balance of 500.00 (60 days, above the threshold); m2's invoice of 100.00 due 2024-01-31 is unpaid
    (60 days: February 29 + March 31) and its statement states 30 days on 5.00 (0: at most the threshold).
    dpd_material, the days the roll-rate states read, is the more of the two: 60 and 60 (with the
    invoices' alone m1 would read 0, current, while its statement is 60 days past due on 500.00)."""
    statements = [
        {
            "debtor_id": d,
            "period_end": pd.Timestamp("2024-03-31"),
            "balance": balance,
            "amount_due": balance,
            "amount_paid": 0.0,
            "days_past_due": dpd,
            "credit_limit": 2000.0,
        }
        for d, balance, dpd in (("m1", 500.0, 60.0), ("m2", 5.0, 30.0))
    ]
    book = Portfolio(
        invoices=frame(
            "invoices",
            [
                inv("I1", "m1", "2024-01-01", "2024-01-31", 100.0),
                inv("I2", "m2", "2024-01-01", "2024-01-31", 100.0),
            ],
        ),
        payments=frame("payments", [pay("P1", "m1", "2024-01-20", 100.0, "I1")]),
        statements=frame("statements", statements),
    )
    built = build_bucket(book, [pd.Timestamp("2024-03-31")], DefaultDefinition(min_open_amount=10.0))
    got = built.features.set_index("debtor_id")["dpd_material"].to_dict()
    assert got == {"m1": 60.0, "m2": 60.0}


def test_an_xlsx_table_of_several_files_counts_each_files_quarantined_rows(tmp_path: Path) -> None:
    """64a057f, P9. A source config's invoices in two workbooks (``more_files``). By hand: a.xlsx holds 3
    invoices, one of amount 0 (quarantined); b.xlsx 3, one due before issue and one of amount -5
    (quarantined). Per file in the manifest: 3 in = 2 accepted + 1 quarantined, 3 in = 1 + 2, as the same
    files saved as CSV read (before the lookup by the workbook's name, each workbook read 0 quarantined)."""
    a = [
        INVOICE_HEADER,
        ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1), 100],
        ["INV-2", "C1", D(2024, 1, 15), D(2024, 2, 14), 0],
        ["INV-3", "C2", D(2024, 2, 1), D(2024, 3, 1), 50],
    ]
    b = [
        INVOICE_HEADER,
        ["INV-7", "C3", D(2024, 1, 2), D(2024, 2, 1), 100],
        ["INV-8", "C3", D(2024, 1, 15), D(2023, 2, 14), 30],
        ["INV-9", "C3", D(2024, 1, 15), D(2024, 2, 14), -5],
    ]
    first, second = _workbook(tmp_path / "a.xlsx", a), _workbook(tmp_path / "b.xlsx", b)
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    (tmp_path / "src.yaml").write_text(
        f"kind: source\nname: two\ntables:\n  invoices:\n    path: {first}\n    more_files:\n"
        f"      - path: {second}\n  payments:\n    path: {payments}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = _run(["ingest", "--source", str(tmp_path / "src.yaml"), "--out", str(out), "--as-of", "2024-03-31"])
    assert res.exit_code == 0, res.output
    table = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tables"]["invoices"]
    assert (table["rows_in"], table["rows_accepted"], table["rows_quarantined"]) == (6, 3, 3)
    files = [(f["input"], f["rows_in"], f["rows_accepted"], f["rows_quarantined"]) for f in table["files"]]
    assert files == [(str(first), 3, 2, 1), (str(second), 3, 1, 2)]


def test_an_xlsx_missing_a_column_is_named_by_its_workbook_and_sheet(tmp_path: Path) -> None:
    """64a057f, P11. A refusal raised while the ingest reads a workbook's sheet names the workbook and the
    sheet the user knows, never the scratch CSV it was converted to (a path under the temporary folder,
    gone after the run)."""
    book = _workbook(
        tmp_path / "sales.xlsx",
        [INVOICE_HEADER[:4], ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1)]],
        title="Sales",
    )
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    res = _run(
        ["ingest", "--invoices", str(book), "--payments", str(payments), "--out", str(tmp_path / "o")]
        + ["--as-of", "2024-03-31", "--no-docs"]
    )
    said = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in said, said
    assert f"{book} (sheet 'Sales') lacks 1 required column ['amount']" in said, said
    assert "ews-xlsx-" not in said


def test_a_hidden_sheet_beside_the_table_is_not_a_second_sheet_with_data(tmp_path: Path) -> None:
    """64a057f, P12. A workbook with its invoices on one sheet and a hidden lookup sheet (a common
    spreadsheet habit): ingested from its only visible sheet, no --sheet needed (counting the hidden
    sheet refused it as '2 sheets with data')."""
    book = _workbook(
        tmp_path / "inv.xlsx",
        [INVOICE_HEADER, ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1), 100]],
        title="Invoices",
        hidden="Lists",
    )
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    out = tmp_path / "o"
    res = _run(
        ["ingest", "--invoices", str(book), "--payments", str(payments), "--out", str(out)]
        + ["--as-of", "2024-03-31", "--no-docs"]
    )
    assert res.exit_code == 0, res.output
    table = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tables"]["invoices"]
    assert table["sheet"] == "Invoices" and table["rows_accepted"] == 1
