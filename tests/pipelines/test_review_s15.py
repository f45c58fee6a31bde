"""Session 15 review (s15-review): edge cases of the row options (s15-robust) that the first
version let through. Each test fails on main before its fix. Tiny hand-made files, hand-counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import TableError, ingest_source

AS_OF = dt.date(2024, 12, 4)
INVOICE_COLUMNS = "{invoice_id: Doc, debtor_id: Cust, issue_date: Date, due_date: Due, amount: Amount}"


def _config(tmp_path: Path, block: str) -> Path:
    config = tmp_path / "src.yaml"
    config.write_text("kind: source\nname: t\nrules: {data_docs: false}\n" + block, encoding="utf-8")
    return config


def test_a_fill_down_that_leaves_no_row_stops_the_ingest_naming_the_option(tmp_path: Path) -> None:
    """A report whose only rows are a group's own row and a total (fill_down on the wrong column, or
    a report of one empty group). Before: ingest published an empty invoices table, exit 0
    (rows_read 2 = 0 in + 2 filtered). Now exit 2 naming fill_down, its column and the counts; the
    CLI prints the message, no traceback."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    export = tmp_path / "report.csv"
    export.write_text("Doc,Cust,Date,Due,Amount\n,Acme,,,\nTotal,,,,0\n", encoding="utf-8")
    config = _config(
        tmp_path,
        f"tables:\n  invoices:\n    path: {export}\n    fill_down: [Cust]\n    columns: {INVOICE_COLUMNS}\n",
    )
    with pytest.raises(TableError) as err:
        ingest_source(load_config(config, SourceConfig), None, as_of=AS_OF)
    text = str(err.value)
    assert "fill_down leaves none of the 2 rows" in text and "group_header 1, group_total 1" in text
    assert "what tables.invoices.fill_down lists ['Cust']" in text
    res = CliRunner().invoke(
        app, ["ingest", "--source", str(config), "--out", str(tmp_path / "out"), "--as-of", "2024-12-04"]
    )
    assert res.exit_code == 2, res.output
    assert "fill_down leaves none" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_keep_and_drop_that_leave_no_row_name_both_conditions(tmp_path: Path) -> None:
    """keep Type [RV] keeps rows 1 and 3, drop Cust [A, B] leaves those out too. Before: the message
    named only the keep condition (whose values do match 2 rows) and the Type column's values. Now
    both conditions and both columns' values: Type DZ 1 / RV 2, Cust A 2 / B 1."""
    export = tmp_path / "items.csv"
    export.write_text(
        "Doc,Cust,Type,Date,Due,Amount\n1,A,RV,2024-10-01,2024-10-31,100\n"
        "2,A,DZ,2024-10-02,2024-10-02,-100\n3,B,RV,2024-10-03,2024-11-02,70\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n"
        "    rows: {keep: {column: Type, values: [RV]}, drop: {column: Cust, values: [A, B]}}\n"
        f"    columns: {INVOICE_COLUMNS}\n"
    )
    with pytest.raises(TableError) as err:
        ingest_source(load_config(_config(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    text = str(err.value)
    assert "tables.invoices.rows.keep: column 'Type', values ['RV']" in text
    assert "tables.invoices.rows.drop: column 'Cust', values ['A', 'B']" in text
    assert "The column 'Type' holds: DZ (1), RV (2)." in text
    assert "The column 'Cust' holds: A (2), B (1)." in text


def test_negate_amount_on_payments_written_positive_is_named_as_the_likely_cause(tmp_path: Path) -> None:
    """negate_amount on a payments file whose amounts are positive already: both payments turn
    negative and are quarantined reversal_unmatched. Before: the warnings spoke of reversals only.
    Now one names negate_amount (2 of 2 rows); without the option both payments are accepted."""
    invoices, payments = tmp_path / "inv.csv", tmp_path / "pay.csv"
    invoices.write_text(
        "Doc,Cust,Date,Due,Amount\n1,A,2024-10-01,2024-10-31,100\n2,B,2024-10-02,2024-11-01,50\n",
        encoding="utf-8",
    )
    payments.write_text("P,Cust,Date,Amount\nP1,A,2024-10-20,100\nP2,B,2024-10-21,50\n", encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {invoices}\n    columns: {INVOICE_COLUMNS}\n"
        f"  payments:\n    path: {payments}\n    negate_amount: true\n"
        "    columns: {payment_id: P, debtor_id: Cust, paid_on: Date, amount: Amount}\n"
    )
    result = ingest_source(load_config(_config(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["reasons"]) == (2, 0, {"reversal_unmatched": 2})
    hint = [w for w in result.manifest["warnings"] if "negate_amount" in w]
    assert hint == [
        "payments: 2 of 2 rows quarantined with an amount <= 0 after negate_amount reversed the file's signs: "
        "if the file writes these amounts positive already, remove negate_amount from this table's block of "
        "the source config"
    ]
    plain = ingest_source(
        load_config(_config(tmp_path, block.replace("    negate_amount: true\n", "")), SourceConfig),
        None,
        as_of=AS_OF,
    )
    assert plain.manifest["tables"]["payments"]["rows_accepted"] == 2
    assert not [w for w in plain.manifest["warnings"] if "negate_amount" in w]


def test_the_ingest_summary_heads_the_rows_of_a_filtered_file_rows_read(tmp_path: Path) -> None:
    """The summary's first count is the manifest's rows_read when rows were filtered (3 read = 2
    accepted + 0 quarantined + 1 filtered): before, it was headed "rows in", the manifest's name for
    the 2 rows left after the filter."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    export = tmp_path / "items.csv"
    export.write_text(
        "Doc,Cust,Type,Date,Due,Amount\n1,A,RV,2024-10-01,2024-10-31,100\n"
        "2,A,DZ,2024-10-02,2024-10-02,-100\n3,B,RV,2024-10-03,2024-11-02,70\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    rows: {{keep: {{column: Type, values: [RV]}}}}\n"
        f"    columns: {INVOICE_COLUMNS}\n"
    )
    res = CliRunner().invoke(
        app,
        [
            "ingest",
            "--source",
            str(_config(tmp_path, block)),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2024-12-04",
        ],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "rows read" in res.output and "rows in" not in res.output
    row = next(line for line in res.output.splitlines() if "invoices" in line and "│" in line)
    assert [c.strip() for c in row.split("│")[1:6]] == ["invoices", "3", "2", "0", "1"]
    assert "invoices: rows left out by the source config's row options: Type: DZ (1)" in res.output
