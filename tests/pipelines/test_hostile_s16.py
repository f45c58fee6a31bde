"""Hostile inputs, session 16 (s16-robust; BENCHMARKS.md "Hostile inputs tried", "Session 16
(s16-robust)"): the small items s15 left open. Each test was written before its fix and fails
without it. Tiny hand-made files, hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source

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
    # rich folds a long path at the console's width wherever it falls (inside "pay.csv" when pytest's
    # tmp folder is long, as in a CI clone on a busy box): compare without any whitespace
    flat = "".join(res.output.split())
    assert "headerschecked:tables.invoices" in flat
    assert "notchecked:tables.payments" in flat and "pay.csvnotfound" in flat


# ------------------------------------------------------------ 2. unbalanced quotes near the header


def test_a_stray_quote_in_the_header_does_not_swallow_the_first_data_line(tmp_path: Path) -> None:
    """A header cell that starts with a quote that never closes on its line (`"Amount`), and a
    first data line with one quote in a value (`12" pipe`): before, the header record ran on into
    the data line (the quotes balanced there), so the header had 9 names, one of them holding a
    line break, and the first invoice vanished. Now a header joined over lines must have as many
    fields as the record after it; else the first line alone is the header."""
    export = tmp_path / "stray.csv"
    export.write_text(
        'Invoice,Customer,Date,Due,"Amount,Description\n'
        'I1,D1,2024-10-01,2024-10-31,100,12" pipe\n'
        "I2,D2,2024-10-05,2024-11-04,50,valve\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n"
        "    columns: {invoice_id: Invoice, debtor_id: Customer, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (2, 2, 0)
    assert sorted(result.portfolio.invoices["invoice_id"]) == ["I1", "I2"]


def test_a_wrapped_header_cell_is_still_one_header_record(tmp_path: Path) -> None:
    """The rule of the test above keeps s15's wrapped header cells (`"Invoice\nNo"`): the joined
    header has 5 fields, as has the record after it."""
    from pipelines.sources.read import CsvOptions, _header_record

    export = tmp_path / "wrapped.csv"
    export.write_text(
        '"Invoice\nNo",Customer,Date,Due,Amount\nI1,D1,2024-10-01,2024-10-31,100\n', encoding="utf-8"
    )
    line, span = _header_record(export, CsvOptions(), "x")
    assert span == 2 and line == '"Invoice\nNo",Customer,Date,Due,Amount'


def test_suggest_does_not_join_a_line_with_an_inch_mark_to_the_next(tmp_path: Path) -> None:
    """A quote inside an unquoted value (`12" pipe`) is a character, not a quote that opens a value
    (as csv reads it). Before, suggest's `_records` joined such a line with the next ones until the
    quotes balanced: 4 sampled lines became 2 records, so the draft's skip_rows (in records) and
    the sample were off. Now a line is joined only when a quote opens a value and is not closed."""
    from pipelines.sources.suggest import _records

    lines = [
        "Invoice,Customer,Date,Due,Amount,Description",
        'I1,D1,2024-10-01,2024-10-31,100,12" pipe',
        "I2,D2,2024-10-05,2024-11-04,50,valve",
        'I3,D2,2024-10-05,2024-11-04,50,3" hose',
        "I4,D2,2024-10-05,2024-11-04,50,valve",
    ]
    records, spans = _records(lines)
    assert spans == [1, 1, 1, 1, 1] and records == lines
    wrapped = ['"Invoice', 'No",Customer', "I1,D1"]
    assert _records(wrapped) == (['"Invoice No",Customer', "I1,D1"], [2, 1])


def test_suggest_drafts_a_file_whose_descriptions_hold_inch_marks(tmp_path: Path) -> None:
    """A title line above a header, and inch marks in the description of the first rows: the draft
    finds the header below the title (`skip_rows: 1`) and maps the columns."""
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "inch.csv"
    body = "".join(
        f'I{k},D{k % 3},2024-10-{k + 1:02d},2024-11-{k + 1:02d},{100 + k}.00,{k + 1}" pipe\n'
        for k in range(8)
    )
    export.write_text(
        "Open invoices\nInvoice,Customer,Date,Due Date,Amount,Description\n" + body, encoding="utf-8"
    )
    draft = suggest_source(export)
    assert "skip_rows: 1" in draft.text
    assert draft.mapping["invoice_id"] == "Invoice" and draft.mapping["debtor_id"] == "Customer"
    source = load_config(_write(tmp_path, draft.text), SourceConfig)
    inv = ingest_source(source, None, as_of=AS_OF).manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"]) == (8, 8)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------ 3. fill_down with nothing above


def test_fill_down_with_no_value_above_is_quarantined_with_its_own_reason(tmp_path: Path) -> None:
    """The first invoice comes before any customer is named (`,I0,...` on line 2). Before: it was
    quarantined `missing_value:debtor_id` (the hint: "check the column mapping"), with no word of
    fill_down. Now: reason `fill_down_no_value_above`, the detail naming the line, the column and
    the fix. 6 read = 3 accepted + 1 quarantined + 2 filtered (group_total)."""
    export = tmp_path / "activity.csv"
    export.write_text(
        "Customer,Invoice,Date,Due,Amount\n"
        ",I0,2024-09-01,2024-10-01,40\n"
        "ACME01,I1,2024-10-01,2024-10-31,100\n,I2,2024-10-05,2024-11-04,50\nTotals:,,,,150\n"
        "BETA02,I3,2024-10-02,2024-11-01,70\nTotals:,,,,70\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    fill_down: [Customer]\n"
        "    columns: {invoice_id: Invoice, debtor_id: Customer, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    out = tmp_path / "out"
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), out, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        6,
        3,
        1,
        2,
    )
    assert inv["reasons"] == {"fill_down_no_value_above": 1}
    q = pd.read_csv(out / "quarantine" / "invoices.csv")
    assert q["source_line"].tolist() == [2] and q["invoice_id"].tolist() == ["I0"]
    detail = q["detail"].iloc[0]
    assert (
        "'Customer'" in detail and "line 2" in detail and "fill_down" in detail and "no value above" in detail
    )


# ------------------------------------------------------------ 4. group rows that carry the group's balance


def _pivot_top() -> str:
    """An aged report as an Excel pivot table writes it with 'subtotals at top of group' (the
    default of the compact and outline forms), saved as CSV: the contact's own row carries the
    contact's balance in the value columns, its invoices below; a 'Grand Total' at the end."""
    return (
        "Invoice Date,Invoice Number,Due Date,Current,Older,Total\n"
        "Acme Ltd,,,,300.00,300.00\n"
        "01 Oct 2024,INV-1,31 Oct 2024,,100.00,100.00\n"
        "05 Oct 2024,INV-2,04 Nov 2024,,200.00,200.00\n"
        "Beta GmbH,,,50.00,,50.00\n"
        "20 Nov 2024,INV-3,20 Dec 2024,50.00,,50.00\n"
        "Total Logistics,,,,\u00a31\u00a0234.50,\u00a31\u00a0234.50\n"
        "02 Oct 2024,INV-4,01 Nov 2024,,\u00a31\u00a0234.50,\u00a31\u00a0234.50\n"
        "Grand Total,,,50.00,\u00a31\u00a0534.50,\u00a31\u00a0584.50\n"
    )


def test_a_group_row_with_the_groups_balance_names_the_group_and_is_filtered(tmp_path: Path) -> None:
    """Before: the contact rows (name + balance) were no group rows (cells besides the group's),
    so they were quarantined and no invoice had a contact: 8 read = 0 accepted + 7 quarantined + 1
    filtered (the grand total). Now such a row (an empty invoice number and dates, its other cells
    amounts) is the group's own row, counted `group_balance`: 8 = 4 + 0 + 4, each invoice on its
    contact ('Total Logistics' a contact, its balance written '£1 234.50')."""
    export = tmp_path / "pivot.csv"
    export.write_text(_pivot_top(), encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {export}\n"
        "    fill_down: [{column: Invoice Date, into: Contact}]\n"
        "    columns: {invoice_id: Invoice Number, debtor_id: Contact, issue_date: Invoice Date,"
        " due_date: Due Date, amount: Total}\n    values: {date_format: '%d %b %Y', thousands: ' '}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        8,
        4,
        0,
        4,
    )
    assert inv["filtered"] == {"group_balance": 3, "group_total": 1}
    got = result.portfolio.invoices.sort_values("invoice_id")
    assert got["debtor_id"].tolist() == ["Acme Ltd", "Acme Ltd", "Beta GmbH", "Total Logistics"]
    assert got["amount"].tolist() == [100.0, 200.0, 50.0, 1234.5]


def _sage_aged_detailed() -> str:
    """Sage 50's Aged Debtors Analysis (Detailed) as CSV (hand-built after its layout: not a file
    from Sage): the account's row (A/C, Name, Credit Limit, Balance), its transactions below with
    the account cells empty, 'Totals:' per account and 'Grand Totals:'."""
    return (
        "A/C,Name,Credit Limit,No,Type,Date,Ref,Due,Balance\n"
        "ACME01,Acme Ltd,5000.00,,,,,,330.00\n"
        ",,,101,SI,01/10/2024,INV-1,31/10/2024,200.00\n"
        ",,,102,SI,05/10/2024,INV-2,04/11/2024,130.00\n"
        ",,,,,,,Totals:,330.00\n"
        'BETA02,Beta GmbH,"2,000.00",,,,,,70.00\n'
        ",,,103,SI,07/10/2024,INV-3,06/11/2024,70.00\n"
        ",,,104,SI,09/10/2024,,08/11/2024,15.00\n"
        ",,,,,,,Totals:,85.00\n"
        ",,,,,,,Grand Totals:,415.00\n"
    )


def test_an_account_row_with_its_balance_is_filtered_in_place(tmp_path: Path) -> None:
    """In place (`fill_down: [A/C, Name]`): the account rows carry credit limit and balance.
    Before: 9 read = 3 accepted + 3 quarantined (the 2 account rows, missing values; the row
    without a Ref) + 3 filtered (group_total). Now: 9 = 3 + 1 (the detail row without a Ref, its
    dates written, stays a bad row: `missing_value:invoice_id`) + 5 filtered (group_balance 2,
    group_total 3)."""
    export = tmp_path / "sage.csv"
    export.write_text(_sage_aged_detailed(), encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    fill_down: [A/C, Name]\n"
        "    columns: {invoice_id: Ref, debtor_id: A/C, issue_date: Date, due_date: Due, amount: Balance}\n"
        "    values: {date_format: d/m/Y, thousands: ','}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        9,
        3,
        1,
        5,
    )
    assert inv["filtered"] == {"group_balance": 2, "group_total": 3}
    assert inv["reasons"] == {"missing_value:invoice_id": 1}
    got = result.portfolio.invoices.sort_values("invoice_id")
    assert got["debtor_id"].tolist() == ["ACME01", "ACME01", "BETA02"]


def test_a_row_with_a_text_cell_beside_the_group_is_no_balance_row(tmp_path: Path) -> None:
    """The rule's edge: a row naming its account, with no Ref and no dates, but a document type
    (text, not an amount) is a detail row with its number missing: quarantined, not filtered."""
    export = tmp_path / "sage.csv"
    export.write_text(
        _sage_aged_detailed().replace(
            ",,,,,,,Grand Totals:", "ACME01,Acme Ltd,,105,SI,,,,40.00\n,,,,,,,Grand Totals:"
        ),
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    fill_down: [A/C, Name]\n"
        "    columns: {invoice_id: Ref, debtor_id: A/C, issue_date: Date, due_date: Due, amount: Balance}\n"
        "    values: {date_format: d/m/Y, thousands: ','}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        10,
        3,
        2,
        5,
    )
    assert inv["filtered"] == {"group_balance": 2, "group_total": 3}


# ------------------------------------------------------------ 5. payments without a number


def _qbo_payments(rows: int = 1) -> str:
    """QuickBooks Online's payments as a Transaction List (Transaction Type = Payment): `Num` is
    empty unless a reference was typed. Amy paid 100.00 twice on 10/02 (two payments, adjacent rows
    of an export sorted by date); Cool Cars paid 200.00 with a reference and 50.00 without."""
    body = (
        "10/02/2024,Payment,,Amy's Bird Sanctuary,,100.00\n"
        "10/02/2024,Payment,,Amy's Bird Sanctuary,,100.00\n"
        "10/03/2024,Payment,R1003,Cool Cars,,200.00\n"
        "10/05/2024,Payment,,Cool Cars,,50.00\n"
    )
    return "Date,Transaction Type,Num,Customer,Memo/Description,Amount\n" + body * rows


def _qbo_config(tmp_path: Path, payments: Path, option: str = "    ids_from_rows: true\n") -> Path:
    invoices = tmp_path / "inv.csv"
    invoices.write_text(
        "Num,Customer,Date,Due Date,Amount\n1001,Amy's Bird Sanctuary,09/02/2024,10/02/2024,300.00\n"
        "1002,Cool Cars,09/03/2024,10/03/2024,250.00\n",
        encoding="utf-8",
    )
    return _source(
        tmp_path,
        "values: {date_format: m/d/Y}\ntables:\n"
        f"  invoices:\n    path: {invoices}\n"
        "    columns: {invoice_id: Num, debtor_id: Customer, issue_date: Date, due_date: Due Date, amount: Amount}\n"
        f"  payments:\n    path: {payments}\n{option}"
        "    columns: {payment_id: Num, debtor_id: Customer, paid_on: Date, amount: Amount}\n",
    )


def test_payments_without_a_number_get_ids_from_their_rows(tmp_path: Path) -> None:
    """Before (no option): the 3 payments without a Num were quarantined (the second equal one of
    10/02 as duplicate_row, the others missing_value:payment_id): 4 = 1 + 3.
    Now `ids_from_rows: true` gives each an id from its row's cells and its place in a run of equal
    adjacent rows: the two equal payments of 10/02 stay two (…-1, …-2), 350.00 paid in all, and a
    second run gives the same ids."""
    payments = tmp_path / "pay.csv"
    payments.write_text(_qbo_payments(), encoding="utf-8")
    before = ingest_source(
        load_config(_qbo_config(tmp_path, payments, option=""), SourceConfig), None, as_of=AS_OF
    ).manifest["tables"]["payments"]
    assert (before["rows_in"], before["rows_accepted"]) == (4, 1)
    assert before["reasons"] == {"duplicate_row": 1, "missing_value:payment_id": 2}
    source = load_config(_qbo_config(tmp_path, payments), SourceConfig)
    runs = [ingest_source(source, None, as_of=AS_OF) for _ in range(2)]
    pay = runs[0].manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 4, 0)
    got = runs[0].portfolio.payments.sort_values("paid_on")
    ids = got["payment_id"].tolist()
    assert ids[2] == "R1003" and len(set(ids)) == 4
    assert ids[0].startswith("row-") and ids[0][:-2] == ids[1][:-2]
    assert sorted(i[-2:] for i in ids[:2]) == ["-1", "-2"]
    assert got["amount"].sum() == 450.0
    assert runs[1].portfolio.payments.sort_values("paid_on")["payment_id"].tolist() == ids
    assert pay["repairs"] == {"payment_id_from_row": 3}


def test_ews_ingest_says_how_many_payment_ids_it_made(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    payments = tmp_path / "pay.csv"
    payments.write_text(_qbo_payments(), encoding="utf-8")
    config = _qbo_config(tmp_path, payments)
    res = CliRunner().invoke(
        app,
        [
            "ingest",
            "--source",
            str(config),
            "--as-of",
            "2024-12-04",
            "--out",
            str(tmp_path / "out"),
            "--no-docs",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "payments: 3 payments without a number got an id from their row" in " ".join(res.output.split())


def test_a_payments_file_appended_to_itself_is_still_caught_as_duplicate_rows(tmp_path: Path) -> None:
    """The same export twice in one file (8 rows): equal rows that are not adjacent get the same id,
    so each copy is an exact duplicate_row (4 accepted + 4 quarantined), not 4 more payments."""
    payments = tmp_path / "pay.csv"
    payments.write_text(_qbo_payments(rows=2), encoding="utf-8")
    result = ingest_source(load_config(_qbo_config(tmp_path, payments), SourceConfig), None, as_of=AS_OF)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (8, 4, 4)
    assert pay["reasons"] == {"duplicate_row": 4}
    assert result.portfolio.payments["amount"].sum() == 450.0


def test_ids_from_rows_is_refused_outside_tables_payments(tmp_path: Path) -> None:
    from pipelines.config import ConfigError

    config = _source(tmp_path, "tables:\n  invoices:\n    path: x.csv\n    ids_from_rows: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(config, SourceConfig)
    assert "ids_from_rows" in str(err.value) and "tables.payments" in str(err.value)


def test_suggest_drafts_ids_from_rows_when_the_payment_number_is_empty(tmp_path: Path) -> None:
    """`ews sources suggest` on the payments export: Num, empty on rows of the sample, makes the draft
    set `ids_from_rows: true` with a comment. Since session 25 Num is not mapped as payment_id (a
    reference typed by hand, such as a cheque number two customers can share: mapped, those payments
    were quarantined duplicate_id): every payment gets an id from its row, Num included."""
    from pipelines.sources.suggest import suggest_source

    payments = tmp_path / "pay.csv"
    payments.write_text(_qbo_payments(), encoding="utf-8")
    draft = suggest_source(payments)
    assert draft.mapping.get("payment_id") is None
    assert "ids_from_rows: true" in draft.text
    assert "payment_id: 'Num' is empty on" in draft.text


# ------------------------------------------------------------ 6. a new user's walk: an Excel AR export


def test_suggest_takes_the_first_visible_sheet_of_a_workbook(tmp_path: Path) -> None:
    """An Excel export whose first sheet is hidden (export tips): before, `ews sources suggest`
    converted the hidden sheet (two lines of tips) and drafted it as invoices. Now it takes the
    first visible sheet and names the hidden one."""
    import openpyxl
    from typer.testing import CliRunner

    from pipelines.cli import app

    book = openpyxl.Workbook()
    tips = book.active
    tips.title = "Export Tips"
    tips["A1"], tips["A2"] = "Tips for working with exported reports", "Do not change the layout"
    tips.sheet_state = "hidden"
    ws = book.create_sheet("Invoice List")
    ws.append(["Invoice No", "Customer", "Invoice Date", "Due Date", "Amount"])
    for k in range(6):
        ws.append([f"INV-{k}", f"C{k % 2}", dt.date(2024, 10, 1 + k), dt.date(2024, 11, 1 + k), 100.0 + k])
    path = tmp_path / "ar.xlsx"
    book.save(path)
    res = CliRunner().invoke(app, ["sources", "suggest", str(path), "--out", str(tmp_path / "draft.yaml")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "sheet 'Invoice List' of" in text and "hidden" in text and "'Export Tips'" in text
    draft = (tmp_path / "draft.yaml").read_text(encoding="utf-8")
    assert 'invoice_id: "Invoice No"' in draft


def _mixed_dates_csv() -> str:
    """A sheet converted from Excel whose invoice dates are half real dates (written ISO by the
    conversion) and half text typed as d/m/Y; 'Date Fully Paid' and 'Amount Paid' settle them."""
    rows = ["Invoice No,Customer ID,Invoice Date,Due Date,Amount,Amount Paid,Date Fully Paid"]
    for k in range(8):
        issue = dt.date(2024, 9, 2 + 3 * k)
        cell = issue.isoformat() if k % 2 == 0 else f"{issue:%d/%m/%Y}"
        due = issue + dt.timedelta(days=30)
        paid = f"{100 + k}.00,{issue + dt.timedelta(days=20)}" if k < 4 else ","
        rows.append(f"INV-{k},C{k % 3},{cell},{due},{100 + k}.00,{paid}")
    return "\n".join(rows) + "\n"


def test_a_date_column_of_excel_dates_and_typed_text_is_drafted_and_read(tmp_path: Path) -> None:
    """Before: 'Invoice Date' (ISO and d/m/Y text mixed) was no date column to suggest, so
    issue_date was drafted from 'Date Fully Paid' (GUESS: first date column), and the settlement
    columns were not recognised (a plain invoices draft). Now the column is drafted with its typed
    layout (d/m/Y; an ISO date is read in any layout: unambiguous) and the file as an ar_export
    settled by 'Date Fully Paid' / 'Amount Paid': 8 invoices accepted, 4 paid."""
    export = tmp_path / "ar.csv"
    export.write_text(_mixed_dates_csv(), encoding="utf-8")
    from pipelines.sources.suggest import suggest_source

    draft = suggest_source(export)
    assert draft.kind == "ar_export"
    assert draft.mapping["issue_date"] == "Invoice Date"
    assert (
        draft.mapping["settled_on"] == "Date Fully Paid" and draft.mapping["settled_amount"] == "Amount Paid"
    )
    result = ingest_source(load_config(_write(tmp_path, draft.text), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"]) == (8, 8)
    got = result.portfolio.invoices.sort_values("invoice_id")["issue_date"].dt.date.tolist()
    assert got == [dt.date(2024, 9, 2 + 3 * k) for k in range(8)]
    assert len(result.portfolio.payments) == 4


def test_iso_text_in_a_d_m_y_column_is_read_as_iso() -> None:
    from pipelines.sources.parse import parse_dates

    parsed, bad, _ = parse_dates(
        pd.Series(["2024-03-05", "05/03/2024", "2024-13-05", "31/02/2024"]), "%d/%m/%Y"
    )
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05") and parsed.iloc[1] == pd.Timestamp("2024-03-05")
    assert bad.tolist() == [False, False, True, True]


def test_a_customer_name_column_beside_the_customer_id_is_drafted_as_the_name(tmp_path: Path) -> None:
    """'Customer ID' and 'Customer' (the name): before, the name was left unmapped (both match
    debtor_id by name; the id took it), so every export of the run had an empty 'Debtor name'. Now
    the name column is drafted as `name` (an AR export: the debtors table gets it)."""
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "ar.csv"
    export.write_text(
        _mixed_dates_csv()
        .replace("Customer ID,", "Customer ID,Customer,")
        .replace(",C0,", ",C0,Acme Ltd,")
        .replace(",C1,", ",C1,Beta GmbH,")
        .replace(",C2,", ",C2,Carbon & Sons,"),
        encoding="utf-8",
    )
    draft = suggest_source(export)
    assert draft.mapping["debtor_id"] == "Customer ID" and draft.mapping.get("name") == "Customer"
    result = ingest_source(load_config(_write(tmp_path, draft.text), SourceConfig), None, as_of=AS_OF)
    names = result.portfolio.debtors.set_index("debtor_id")["name"].to_dict()
    assert names == {"C0": "Acme Ltd", "C1": "Beta GmbH", "C2": "Carbon & Sons"}


def test_a_totals_row_under_the_invoice_number_is_a_totals_row(tmp_path: Path) -> None:
    """The sheet's last row 'Total,,,,,68827441.33' (the label in the first column, the invoice
    number's): before, quarantined as missing_value:debtor_id, missing_value:due_date and
    missing_value:issue_date ('check the column mapping'). Now `totals_row` alone, as a totals
    label in the debtor id column was already."""
    export = tmp_path / "ar.csv"
    export.write_text(INVOICES + "Total,,,,150\n", encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {export}\n"
        "    columns: {invoice_id: Invoice, debtor_id: Customer, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (3, 2, 1)
    assert inv["reasons"] == {"totals_row": 1}
