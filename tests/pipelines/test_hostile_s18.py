"""Hostile inputs, session 18 (s18-robust; BENCHMARKS.md "Hostile inputs tried", "Session 18
(s18-robust)"): the real-export items session 17 left open (document numbers that restart per year
as ids, the clearing scope's damaged cells, a bad detail row taken for a group row, the clearing date
and the labels' observation window). Each test failed on the code before its fix (main 17f70b3);
hand-built files after the exports' layouts, expected figures computed by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config import load_config
from pipelines.config.source import SourceConfig

AS_OF = dt.date(2024, 12, 4)


def _ingest_config(tmp_path: Path, text: str, config: str, name: str = "export.csv"):
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / name
    export.write_text(text, encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(config.format(path=export), encoding="utf-8")
    source = load_config(path, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=AS_OF)


def _counts(result, table: str) -> tuple[int, int, int, int]:
    t = result.manifest["tables"][table]
    return (t["rows_read"], t["rows_accepted"], t["rows_quarantined"], t.get("rows_filtered", 0))


# ---------------------------------------------------------------- item 4: a bad detail row with a note

SAGE = """kind: source
name: sage
rules: {{data_docs: false}}
tables:
  invoices:
    path: {path}
    fill_down: [A/C, Name]
    columns: {{invoice_id: Ref, debtor_id: A/C, issue_date: Date, due_date: Due, amount: Balance}}
    values: {{date_format: d/m/Y, thousands: ','}}
"""

SAGE_NOTE = (
    "A/C,Name,Telephone,Credit Limit,No,Type,Date,Ref,Due,Balance,Note\n"
    "ACME01,Acme Ltd,0044-20-7946-0958,5000.00,,,,,,370.00,\n"
    ",,,,101,SI,01/10/2024,INV-1,31/10/2024,200.00,\n"
    ",,,,102,SI,05/10/2024,INV-2,04/11/2024,130.00,\n"
    "ACME01,Acme Ltd,,,,,,,,40.00,see e-mail of 12/11\n"
    ",,,,,,,,Totals:,370.00,\n"
    'BETA02,Beta GmbH,Tel. 01234 567890,"2,000.00",,,,,,70.00,\n'
    ",,,,103,SI,07/10/2024,INV-3,06/11/2024,70.00,\n"
    ",,,,,,,,Totals:,70.00,\n"
    ",,,,,,,,Grand Totals:,440.00,\n"
)


def test_a_detail_row_with_a_note_inside_its_group_is_quarantined_not_filtered(tmp_path: Path) -> None:
    """Sage's aged debtors shape (s17's, with the account's telephone number) and a Note column that
    no transaction row fills. Line 5 is a damaged transaction of Acme (its account repeated, no
    number, no dates, 40.00 and a note): before, it passed for a group's balance row (a text cell in
    a column no row with a document number fills: the telephone rule), and was filtered: 9 read = 3
    accepted + 0 quarantined + 6 filtered (group_balance 3). Now a row taken for a group's own row
    because of such a text cell must open its group (its group cells differ from the group in force
    above it: the account rows do); this one repeats the group it sits in, so it is a detail row, and
    quarantined for its missing number and dates: by hand 9 = 3 + 1 + 5 (group_balance 2,
    group_total 3)."""
    result = _ingest_config(tmp_path, SAGE_NOTE, SAGE)
    assert _counts(result, "invoices") == (9, 3, 1, 5)
    inv = result.manifest["tables"]["invoices"]
    assert inv["filtered"] == {"group_balance": 2, "group_total": 3}
    assert inv["reasons"] == {
        "missing_value:due_date": 1,
        "missing_value:invoice_id": 1,
        "missing_value:issue_date": 1,
    }
    got = result.portfolio.invoices.sort_values("invoice_id")
    assert got["debtor_id"].tolist() == ["ACME01", "ACME01", "BETA02"]
    assert got["amount"].tolist() == [200.0, 130.0, 70.0]


def test_account_rows_with_a_note_still_open_their_groups(tmp_path: Path) -> None:
    """The rule's other side: every account row carries a note (text in the Note column) and opens
    its group (a new account): both are group rows, as before (9 = 3 + 1 + 5 in s17's file, the row
    without a Ref the one quarantined). A single-account report (one group) too: its account row is
    the first row."""
    text = (
        "A/C,Name,Telephone,Credit Limit,No,Type,Date,Ref,Due,Balance,Note\n"
        "ACME01,Acme Ltd,0044-20-7946-0958,5000.00,,,,,,330.00,on hold\n"
        ",,,,101,SI,01/10/2024,INV-1,31/10/2024,200.00,\n"
        ",,,,102,SI,05/10/2024,INV-2,04/11/2024,130.00,\n"
        ",,,,,,,,Totals:,330.00,\n"
        'BETA02,Beta GmbH,Tel. 01234 567890,"2,000.00",,,,,,70.00,key account\n'
        ",,,,103,SI,07/10/2024,INV-3,06/11/2024,70.00,\n"
        ",,,,104,SI,09/10/2024,,08/11/2024,15.00,\n"
        ",,,,,,,,Totals:,85.00,\n"
        ",,,,,,,,Grand Totals:,415.00,\n"
    )
    result = _ingest_config(tmp_path, text, SAGE)
    assert _counts(result, "invoices") == (9, 3, 1, 5)
    assert result.manifest["tables"]["invoices"]["filtered"] == {"group_balance": 2, "group_total": 3}
    one = "\n".join(text.splitlines()[:5]) + "\n"
    result = _ingest_config(tmp_path, one, SAGE)
    assert _counts(result, "invoices") == (4, 2, 0, 2)


# ---------------------------------------------------------------- item 3: a clearing's scope cells differ

FBL5N = """kind: source
name: fbl5n
csv: {{delimiter: ";"}}
rules: {{data_docs: false}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["RV"]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Customer, issue_date: Document Date, due_date: Net Due Date, amount: Amount}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["DZ"]}}}}
    negate_amount: true
    clearing: {{column: "Clearing Document", scope: ["Company Code", "Clearing date"]}}
    columns: {{payment_id: Document Number, debtor_id: Customer, paid_on: Document Date, amount: Amount}}
"""

HEADER = "Company Code;Customer;Document Number;Document Type;Document Date;Net Due Date;Amount;Clearing Document;Clearing date\n"

DAMAGED_SCOPE = HEADER + (
    "1000;K1;9000001;RV;2024-03-01;2024-03-31;1000.00;1400000001;2024-04-10\n"
    "1000;K1;9000002;RV;2024-03-05;2024-04-04;500.00;1400000001;2024-04-10\n"
    # the clearing payment's own row lost its clearing date
    "1000;K1;1400000001;DZ;2024-04-10;2024-04-10;-1500.00;1400000001;\n"
    "1000;K2;9000003;RV;2024-03-05;2024-04-04;300.00;1400000002;2024-04-11\n"
    # the same date written another way on the payment's row
    "1000;K2;1400000002;DZ;2024-04-11;2024-04-11;-300.00;1400000002;11.04.2024\n"
)


def test_a_clearing_whose_scope_cells_differ_is_named_with_its_rows_and_column(tmp_path: Path) -> None:
    """`clearing.scope: [Company Code, Clearing date]` on a damaged FBL5N export: K1's payment
    1400000001 (line 4) has no clearing date, its invoices (lines 2, 3) 2024-04-10; K2's payment
    1400000002 (line 6) writes 11.04.2024, its invoice (line 5) 2024-04-11. The rows do not link
    (the scope keeps them apart), so both payments stay unallocated (cash on account, applied oldest
    first) and their invoices open. Before: counted as `clears_no_invoice` 2 (the reason of a
    payment of an invoice not in the export) and no word on the scope. Now, by hand: the same
    allocation (payments 5 read = 2 in + 3 filtered, 2 accepted, both unallocated), counted
    `scope_differs` 2, and a warning naming the two clearings, their lines, the column
    'Clearing date' and the fix."""
    result = _ingest_config(tmp_path, DAMAGED_SCOPE, FBL5N)
    assert _counts(result, "payments") == (5, 2, 0, 3)
    clearing = result.manifest["tables"]["payments"]["clearing"]
    assert clearing["unallocated"] == {"scope_differs": 2}
    split = dict(clearing["scope_differs"])
    assert len(split.pop("examples")) == 2
    assert split == {"clearings": 2, "payment_rows": 2, "invoice_rows": 3}
    assert result.portfolio.payments["invoice_id"].isna().all()
    warning = [w for w in result.manifest["warnings"] if "clearing.scope" in w]
    assert len(warning) == 1, result.manifest["warnings"]
    text = warning[0]
    for part in (
        "payments: 2 clearing(s)",
        "clearing.scope",
        "'1400000001'",
        "line 4",
        "lines 2, 3",
        "'Clearing date'",
        "'11.04.2024'",
        "'2024-04-11'",
        "Fix:",
    ):
        assert part in text, (part, text)


def test_clearings_of_two_years_under_one_number_give_no_scope_warning(tmp_path: Path) -> None:
    """s17's two fiscal years under clearing number 1400000001, each with its invoice and payment:
    the scope separates them on purpose; no row is left alone, so no warning and no new count."""
    text = HEADER + (
        "1000;K1;9000001;RV;2023-11-20;2023-12-20;600.00;1400000001;2023-12-20\n"
        "1000;K1;1400000001;DZ;2023-12-20;2023-12-20;-1000.00;1400000001;2023-12-20\n"
        "1000;K2;9000002;RV;2024-01-05;2024-02-04;500.00;1400000001;2024-02-10\n"
        "1000;K2;1400000001;DZ;2024-02-10;2024-02-10;-500.00;1400000001;2024-02-10\n"
    )
    result = _ingest_config(tmp_path, text, FBL5N)
    clearing = result.manifest["tables"]["payments"]["clearing"]
    assert "scope_differs" not in clearing and clearing["unallocated"] == {}
    assert not [w for w in result.manifest["warnings"] if "clearing.scope" in w]
