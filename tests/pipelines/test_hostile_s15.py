"""Hostile inputs, session 15 (s15-robust; BENCHMARKS.md "Hostile inputs tried", "Session 15
(s15-robust)"): exports as ERPs write them, which need rows filtered or a group's customer filled
down before they are tables. Each test was written before its fix and fails without it. Tiny
hand-made files, hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import ConfigError, load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import TableError, ingest_source

AS_OF = dt.date(2024, 12, 4)

BC_HEADER = (
    "Posting Date,Document Type,Document No.,Customer No.,Customer Name,Description,Original Amount,"
    "Amount,Remaining Amount,Due Date,Open,Entry No.\n"
)


def _bc_ledger() -> str:
    """Business Central's Customer Ledger Entries as its default page exports them (no settlement
    date): 21 invoices of 3 customers (1,100.00 .. 1,120.00), 14 of them paid by a payment entry each
    (negative, posted 25 days after the invoice, the invoice not named on the payment's row) and one
    credit memo of -50.00 per customer."""
    rows = []
    for i in range(21):
        issue = dt.date(2024, 9, 2) + dt.timedelta(days=3 * i)
        due, paid = issue + dt.timedelta(days=30), issue + dt.timedelta(days=25)
        num, who = f"1,{100 + i}.00", f"C{i % 3},Cust {i % 3}"
        rest, open_ = ("0.00", "No") if i < 14 else (f'"{num}"', "Yes")
        rows.append(
            f'{issue:%m/%d/%Y},Invoice,1030{i:02d},{who},Invoice,"{num}","{num}",{rest},{due:%m/%d/%Y},{open_},{2 * i}\n'
        )
        if i < 14:
            rows.append(
                f'{paid:%m/%d/%Y},Payment,G0{i:02d},{who},Payment,"-{num}","-{num}",0.00,{paid:%m/%d/%Y},No,'
                f"{2 * i + 1}\n"
            )
    rows += [
        f"11/20/2024,Credit Memo,CM{k},C{k},Cust {k},Credit,-50.00,-50.00,-50.00,11/20/2024,Yes,{90 + k}\n"
        for k in range(3)
    ]
    return BC_HEADER + "".join(rows)


def _draft_and_ingest(tmp_path: Path, export: Path, out: Path | None = None, **options):
    """`ews sources suggest` -> the draft on disk -> `ews config check`'s checks -> ingest."""
    from pipelines.ingest.sources import check_inputs
    from pipelines.sources.suggest import suggest_source

    draft = suggest_source(export)
    config = tmp_path / "draft.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)  # what `ews config check` runs on a source whose files exist
    return draft, ingest_source(source, out, as_of=AS_OF, **options)


def test_a_business_central_ledger_is_drafted_with_row_filters_and_ingested_as_two_tables(
    tmp_path: Path,
) -> None:
    """Before: the draft mapped the whole ledger as invoices with a CHECK comment; ingest read 38
    rows as invoices: 17 quarantined amount_not_positive, none of the invoices paid. Now the draft
    keeps the Invoice rows as invoices and the Payment rows (sign reversed) as payments, from the
    same file: invoices 38 read = 21 accepted + 0 quarantined + 17 filtered (14 Payment, 3 Credit
    Memo), payments 38 = 14 + 0 + 24, the 14 payments unallocated (applied to the oldest open
    invoice first) for 1,100 + ... + 1,113 = 15,491.00. Since s19-robust the credit memos go with the
    payments, marked `credit` (no cash; left out, what they credited stayed open): payments 38 = 17
    + 0 + 21, the 14 payments cash 15,491.00 and the 3 memos credit 150.00, all unallocated."""
    export = tmp_path / "cle.csv"
    export.write_text(_bc_ledger(), encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'rows: {keep: {column: "Document Type", values: ["Invoice"]}}' in draft.text
    assert 'rows: {keep: {column: "Document Type", values: ["Credit Memo", "Payment"]}}' in draft.text
    assert 'credit: {column: "Document Type", values: ["Credit Memo"]}' in draft.text
    assert "negate_amount: true" in draft.text
    inv, pay = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
    assert (inv["rows_read"], inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (
        38,
        21,
        21,
        0,
    )
    assert inv["rows_filtered"] == 17
    assert inv["filtered"] == {"Document Type: Credit Memo": 3, "Document Type: Payment": 14}
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_filtered"]) == (38, 17, 17, 21)
    assert pay["filtered"] == {"Document Type: Invoice": 21}
    payments = result.portfolio.payments
    cash = payments["kind"] == "cash"
    assert payments.loc[cash, "amount"].sum() == pytest.approx(sum(1100 + i for i in range(14)))
    assert payments.loc[~cash, "amount"].tolist() == [50.0, 50.0, 50.0]
    assert (payments["amount"] > 0).all() and payments["invoice_id"].isna().all()
    assert sorted(payments["debtor_id"].unique()) == ["C0", "C1", "C2"]
    assert not any("credit note" in w for w in result.manifest["warnings"])


def _fbl5n() -> str:
    """SAP FBL5N (customer line items, cleared and open) as a spreadsheet export: 'RV' invoices and
    'DZ' payments (negative) in one list, German separators, the clearing date and document on both.
    12 invoices of 2 customers, 8 cleared by a DZ payment each; one SAP trailing minus."""
    lines = [
        "Account;Assignment;DocumentNo;Type;Doc. Date;Net due date;Amount in LC;LCurr;Clrng doc.;Clearing"
    ]
    for i in range(12):
        issue = dt.date(2024, 6, 3) + dt.timedelta(days=7 * i)
        due, paid = issue + dt.timedelta(days=30), issue + dt.timedelta(days=28)
        amount = f"{1000 + 10 * i:,}".replace(",", ".") + ",00"
        cleared = i < 8
        clearing = (f"14{i:08d}", f"{paid:%d.%m.%Y}") if cleared else ("", "")
        lines.append(
            f"{100 + i % 2};{9000 + i};90{i:06d};RV;{issue:%d.%m.%Y};{due:%d.%m.%Y};{amount};EUR;"
            f"{clearing[0]};{clearing[1]}"
        )
        if cleared:
            sign = f"{amount}-" if i == 0 else f"-{amount}"
            lines.append(
                f"{100 + i % 2};{9000 + i};14{i:08d};DZ;{paid:%d.%m.%Y};{paid:%d.%m.%Y};{sign};EUR;"
                f"{clearing[0]};{clearing[1]}"
            )
    return "\n".join(lines) + "\n"


def test_an_fbl5n_line_item_list_is_drafted_as_an_ar_export_of_its_invoice_rows(tmp_path: Path) -> None:
    """Before: drafted as an ar_export of every row: the 8 DZ rows were quarantined as invoices
    (amount_not_positive) and their derived payments as reversal_unmatched: 20 = 12 + 8, 40 %
    quarantined. Now the draft keeps the RV rows (the clearing date makes each paid invoice's
    payment): invoices 20 read = 12 + 0 + 8 filtered (DZ), 8 payments derived, matched to their
    invoices, 4 invoices open."""
    export = tmp_path / "fbl5n.csv"
    export.write_text(_fbl5n(), encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    # s16-ledger: the file's clearing document ('Clrng doc.') now drafts the two tables joined on it
    # (conf/sources/README.md 6c) instead of the ar_export; the same payments on the same invoices
    assert draft.kind == "invoices"
    # s24-export: 'Clearing' (the classic list's heading of the clearing date) dates the clearing too
    assert 'clearing: {column: "Clrng doc.", scope: ["Clearing"], date: "Clearing"}' in draft.text
    assert 'rows: {keep: {column: "Type", values: ["RV"]}}' in draft.text
    inv, pay = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        20,
        12,
        0,
        8,
    )
    assert inv["filtered"] == {"Type: DZ": 8}
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_filtered"]) == (8, 8, 12)
    assert pay["clearing"]["rows_allocated"] == 8
    payments = result.portfolio.payments.sort_values("paid_on")
    assert list(payments["invoice_id"]) == [f"90{i:06d}" for i in range(8)]
    assert payments["amount"].iloc[0] == 1000.0


def _source(tmp_path: Path, block: str) -> Path:
    config = tmp_path / "src.yaml"
    config.write_text("kind: source\nname: t\nrules: {data_docs: false}\n" + block, encoding="utf-8")
    return config


def test_a_row_filter_on_a_column_the_file_lacks_is_named_with_the_fix(tmp_path: Path) -> None:
    """`ews config check` and ingest name the filter's key, the column and the file's columns."""
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / "cle.csv"
    export.write_text(_bc_ledger(), encoding="utf-8")
    config = _source(
        tmp_path,
        f"tables:\n  invoices:\n    path: {export}\n    rows: {{keep: {{column: Doc Type, values: [Invoice]}}}}\n"
        "    columns: {invoice_id: Document No., debtor_id: Customer No., issue_date: Posting Date,"
        " due_date: Due Date, amount: Amount}\n    values: {date_format: m/d/Y, thousands: ','}\n",
    )
    source = load_config(config, SourceConfig)
    for run in (lambda: check_inputs(source), lambda: ingest_source(source, None, as_of=AS_OF)):
        with pytest.raises(TableError) as err:
            run()
        text = str(err.value)
        assert "tables.invoices.rows.keep.column" in text and "'Doc Type'" in text
        assert "'Document Type'" in text  # the file's columns are listed


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("{keep: {column: Type}}", "values"),
        ("{keep: {column: Type, values: []}}", "values"),
        ("{}", "give keep, drop or both"),
        ("{keep: {column: '', values: [RV]}}", "column"),
    ],
)
def test_a_malformed_row_filter_is_refused_by_config_check(tmp_path: Path, rows: str, expected: str) -> None:
    config = _source(tmp_path, f"tables:\n  invoices:\n    path: x.csv\n    rows: {rows}\n")
    with pytest.raises(ConfigError) as err:
        load_config(config, SourceConfig)
    assert "rows" in str(err.value) and expected in str(err.value)


def _xero_ard() -> str:
    """Xero's Aged Receivables Detail as exported (s14's shape): 4 title lines, the contact alone on
    a line above its invoices, a 'Total <contact>' row, a blank line; a grand 'Total' at the end. A
    contact named 'Total Logistics' (a company, not a total)."""
    lines = ["Aged Receivables Detail", "Demo Company (UK)", "As at 30 November 2024", ""]
    lines.append("Invoice Date,Invoice Number,Invoice Reference,Due Date,Current,1 Month,Older,Total")
    for k, contact in enumerate(["Acme Ltd", "Total Logistics", "Carbon & Sons"]):
        lines.append(contact)
        lines += [
            f"0{i + 1} Oct 2024,INV-{k}{i},PO {i},0{i + 1} Nov 2024,,{100 + k}.00,,{100 + k}.00"
            for i in range(2)
        ]
        lines += [f"Total {contact},,,,,{2 * (100 + k)}.00,,{2 * (100 + k)}.00", ""]
    lines.append("Total,,,,,606.00,,606.00")
    return "\n".join(lines) + "\n"


def test_a_report_grouped_by_customer_is_filled_down_and_its_totals_dropped(tmp_path: Path) -> None:
    """Before: the draft mapped debtor_id to 'Invoice Date' (the column the contact rows fill) with a
    CHECK, and ingest refused the table (no issue_date). Now the draft fills the contact down into a
    column of its own (`fill_down: [{column: Invoice Date, into: Customer}]`); ingest: 13 rows read
    (3 contact lines, 6 invoices, 3 'Total <contact>' and the grand total) = 6 accepted + 0
    quarantined + 7 filtered (group_header 3, group_total 4); each invoice carries its contact. The
    ageing bucket 'Current' (empty: every invoice is overdue) was drafted as the currency column."""
    export = tmp_path / "aged.csv"
    export.write_text(_xero_ard(), encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'fill_down: [{column: "Invoice Date", into: "Customer"}]' in draft.text
    assert draft.mapping["debtor_id"] == "Customer" and draft.mapping["issue_date"] == "Invoice Date"
    assert "currency" not in draft.mapping  # the empty 'Current' bucket is no currency column
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        13,
        6,
        0,
        7,
    )
    assert inv["filtered"] == {"group_header": 3, "group_total": 4}
    invoices = result.portfolio.invoices.sort_values("invoice_id")
    assert list(invoices["debtor_id"]) == ["Acme Ltd"] * 2 + ["Total Logistics"] * 2 + ["Carbon & Sons"] * 2
    assert list(invoices["amount"]) == [100.0, 100.0, 101.0, 101.0, 102.0, 102.0]
    assert invoices["issue_date"].iloc[0] == pd.Timestamp("2024-10-01")


def test_a_customer_named_on_its_first_row_only_is_filled_down_in_place(tmp_path: Path) -> None:
    """Sage's customer activity / an Excel report with 'repeat item labels' off: the customer cell is
    filled on a group's first row only, and a 'Totals:' row closes each group. `fill_down:
    [Customer]`: 7 read = 4 accepted + 0 quarantined + 3 filtered (group_total); without it the 2
    rows with an empty customer were quarantined missing_value:debtor_id. A customer called 'Total
    Logistics' on its first row is a customer, not a total."""
    export = tmp_path / "activity.csv"
    export.write_text(
        "Customer,Invoice,Date,Due,Amount\n"
        "ACME01,I1,2024-10-01,2024-10-31,100\n,I2,2024-10-05,2024-11-04,50\nTotals:,,,,150\n"
        "Total Logistics,I3,2024-10-02,2024-11-01,70\n,I4,2024-10-09,2024-11-08,30\nTotals:,,,,100\n"
        "Grand Total,,,,250\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    fill_down: [Customer]\n"
        "    columns: {invoice_id: Invoice, debtor_id: Customer, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"]) == (7, 4, 0)
    assert inv["filtered"] == {"group_total": 3}
    got = result.portfolio.invoices.sort_values("invoice_id")["debtor_id"].tolist()
    assert got == ["ACME01", "ACME01", "Total Logistics", "Total Logistics"]


def test_filtered_tables_stream_as_they_read_whole(tmp_path: Path) -> None:
    """The streamed ingest (chunks of 5 rows, 2 workers) writes what the in-memory one writes for a
    filtered ledger: the same manifest row accounting and the same accepted rows."""
    export = tmp_path / "cle.csv"
    export.write_text(_bc_ledger(), encoding="utf-8")
    _, whole = _draft_and_ingest(tmp_path, export, tmp_path / "a")
    _, streamed = _draft_and_ingest(tmp_path, export, tmp_path / "b", stream=True, chunk_rows=5, workers=2)
    for table in ("invoices", "payments"):
        a, b = whole.manifest["tables"][table], streamed.manifest["tables"][table]
        keys = ("rows_read", "rows_in", "rows_accepted", "rows_quarantined", "rows_filtered", "filtered")
        assert [a[k] for k in keys] == [b[k] for k in keys]
    from pipelines.adapters.files import read_portfolio

    left, right = read_portfolio(tmp_path / "a"), read_portfolio(tmp_path / "b")
    pd.testing.assert_frame_equal(
        left.payments.sort_values("payment_id").reset_index(drop=True),
        right.payments.sort_values("payment_id").reset_index(drop=True),
    )


def test_keep_and_drop_count_each_row_once_under_the_condition_that_left_it_out(tmp_path: Path) -> None:
    """keep Type in [RV, dr] (case-insensitive), drop Status 'reversed': 6 rows read = 2 accepted + 0
    quarantined + 4 filtered (Type: DZ 2, Type: (empty) 1, Status: Reversed 1: the DZ row that is also
    reversed counts once, under Type)."""
    export = tmp_path / "items.csv"
    export.write_text(
        "Doc,Cust,Type,Status,Date,Due,Amount\n"
        "1,A,RV,,2024-10-01,2024-10-31,100\n2,A,DR,,2024-10-02,2024-11-01,50\n"
        "3,A,RV,Reversed,2024-10-03,2024-11-02,70\n4,A,DZ,,2024-10-04,2024-10-04,-100\n"
        "5,A,DZ,reversed,2024-10-05,2024-10-05,-20\n6,A,,,2024-10-06,2024-11-05,5\n",
        encoding="utf-8",
    )
    block = (
        f"tables:\n  invoices:\n    path: {export}\n"
        "    rows: {keep: {column: Type, values: [RV, dr]}, drop: {column: Status, values: [REVERSED]}}\n"
        "    columns: {invoice_id: Doc, debtor_id: Cust, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        6,
        2,
        0,
        4,
    )
    assert inv["filtered"] == {"Status: Reversed": 1, "Type: (empty)": 1, "Type: DZ": 2}
    assert sorted(result.portfolio.invoices["invoice_id"]) == ["1", "2"]


def _wrapped_header() -> str:
    """A spreadsheet saved as CSV whose header cells wrap (a line break inside the quoted name), a
    title line above: the header record spans lines 2-6; the bad date is on line 10."""
    return (
        "Open items per 30.11.2024\n"
        '"Invoice\nNo","Customer","Invoice\nDate","Due\nDate","Amount\n(EUR)"\n'
        "I1,D1,2024-10-01,2024-10-31,100.00\nI2,D1,2024-10-05,2024-11-04,50.00\n"
        "I3,D2,2024-10-07,2024-11-06,70.00\nI4,D2,2024-13-07,2024-11-06,30.00\n"
    )


def test_header_cells_with_line_breaks_are_drafted_and_read(tmp_path: Path) -> None:
    """Before: the draft took the header's 5 lines for titles (`skip_rows: 5`), the first invoice for
    the header and left debtor_id '???'; ingest read the first physical line '"Invoice' as the
    header. Now a line break in a quoted header cell reads as a space ('Invoice No'), the draft
    maps every column with `skip_rows: 1`, and ingest (whole and streamed) reads 4 = 3 + 1, the
    quarantined row named at its physical line 10."""
    export = tmp_path / "wrapped.csv"
    export.write_text(_wrapped_header(), encoding="utf-8")
    draft, whole = _draft_and_ingest(tmp_path, export, tmp_path / "a")
    assert "skip_rows: 1" in draft.text
    assert draft.mapping == {
        "invoice_id": "Invoice No",
        "debtor_id": "Customer",
        "due_date": "Due Date",
        "issue_date": "Invoice Date",
        "amount": "Amount (EUR)",
    }
    _, streamed = _draft_and_ingest(tmp_path, export, tmp_path / "b", stream=True, chunk_rows=2, workers=1)
    for result in (whole, streamed):
        inv = result.manifest["tables"]["invoices"]
        assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (4, 3, 1)
    for out in ("a", "b"):
        quarantined = pd.read_csv(tmp_path / out / "quarantine" / "invoices.csv")
        assert quarantined["source_line"].tolist() == [10]
        assert quarantined["reason"].tolist() == ["unparseable_date:issue_date"]


def test_a_german_business_central_ledger_is_drafted_with_its_document_types(tmp_path: Path) -> None:
    """Business Central in German ('Debitorenposten': Belegart Rechnung / Zahlung / Gutschrift, ';',
    decimal comma, d.m.Y): 6 invoices of 2 customers, 4 paid, 1 credit memo. Before: no document
    type was recognised: the draft read all 11 rows as invoices (5 quarantined amount_not_positive).
    Now: invoices 11 read = 6 + 0 + 5 filtered, payments 11 = 4 + 0 + 7 (sign reversed); since
    s19-robust the Gutschrift goes with the payments, marked `credit`: payments 11 = 5 + 0 + 6."""
    lines = ["Buchungsdatum;Belegart;Belegnr.;Debitornr.;Beschreibung;Betrag;Fälligkeitsdatum"]
    for i in range(6):
        issue = dt.date(2024, 9, 2) + dt.timedelta(days=5 * i)
        lines.append(
            f"{issue:%d.%m.%Y};Rechnung;RE{i:04d};K{i % 2};Rechnung;1.{200 + i},00;{issue + dt.timedelta(days=30):%d.%m.%Y}"
        )
        if i < 4:
            paid = issue + dt.timedelta(days=20)
            lines.append(
                f"{paid:%d.%m.%Y};Zahlung;ZA{i:04d};K{i % 2};Zahlung;-1.{200 + i},00;{paid:%d.%m.%Y}"
            )
    lines.append("15.11.2024;Gutschrift;GU0001;K0;Gutschrift;-50,00;15.11.2024")
    export = tmp_path / "debitorenposten.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'rows: {keep: {column: "Belegart", values: ["Rechnung"]}}' in draft.text
    assert 'rows: {keep: {column: "Belegart", values: ["Gutschrift", "Zahlung"]}}' in draft.text
    assert 'credit: {column: "Belegart", values: ["Gutschrift"]}' in draft.text
    inv, pay = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        11,
        6,
        0,
        5,
    )
    assert (pay["rows_read"], pay["rows_accepted"], pay["rows_quarantined"], pay["rows_filtered"]) == (
        11,
        5,
        0,
        6,
    )
    payments = result.portfolio.payments
    cash = payments["kind"] == "cash"
    assert payments.loc[cash, "amount"].sum() == pytest.approx(1200 + 1201 + 1202 + 1203)
    assert payments.loc[~cash, "amount"].tolist() == [50.0]


def test_payment_rows_that_name_their_invoice_are_drafted_allocated(tmp_path: Path) -> None:
    """Business Central's page with 'Applies-to Doc. No.' shown: each payment row names the invoice
    it settles. Before (the row options alone): the draft left the payments unallocated. Now the
    column whose payment-row values are the invoice rows' numbers is drafted as the payments'
    invoice_id: the 14 payments are each on their invoice (103000..103013)."""
    ledger = _bc_ledger().splitlines()
    rows = [ledger[0] + ",Applies-to Doc. No."]
    for line in ledger[1:]:
        cells = line.split(",")
        if cells[1] == "Payment":  # G0<i> pays invoice 1030<i>
            rows.append(line + f",1030{cells[2][2:]}")
        else:
            rows.append(line + ",")
    export = tmp_path / "cle_applied.csv"
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'invoice_id: "Applies-to Doc. No."' in draft.text
    payments = result.portfolio.payments.sort_values("payment_id")
    cash = payments[payments["kind"] == "cash"]  # the 3 credit memos (s19-robust) name no invoice
    assert cash["invoice_id"].tolist() == [f"1030{i:02d}" for i in range(14)]
    assert result.manifest["tables"]["payments"]["rows_accepted"] == 17


def _qbo_transactions() -> str:
    """QuickBooks Online's "Transaction List by Customer" as exported: title lines, a nameless first
    column naming each customer on a row of its own, 'Total for <customer>' rows, invoices and
    payments in one list ('Transaction Type'), payments negative with their reference in 'Num' (R1001
    pays 1001), a time stamp at the end. 2 customers x 3 invoices (1001..1006), 2 of each paid."""
    rows = [
        "Craig's Design and Landscaping Services",
        "Transaction List by Customer",
        "January - November, 2024",
        "",
    ]
    rows.append(",Date,Transaction Type,Num,Due Date,Amount")
    n = 1001
    for k, cust in enumerate(["Amy's Bird Sanctuary", "Cool Cars"]):
        rows.append(f'"{cust}",,,,,')
        for i in range(3):
            d = dt.date(2024, 9, 2 + 7 * i + k)
            rows.append(
                f',{d:%m/%d/%Y},Invoice,{n},{d + dt.timedelta(days=30):%m/%d/%Y},"{100 * (k + 1) + i:,.2f}"'
            )
            if i < 2:
                p = d + dt.timedelta(days=20)
                rows.append(f',{p:%m/%d/%Y},Payment,R{n},,"-{100 * (k + 1) + i:,.2f}"')
            n += 1
        rows.append(f'"Total for {cust}",,,,,"{100 * (k + 1) + 2:,.2f}"')
    rows += ["", "", '"Wednesday, Dec 04, 2024 10:05:12 AM GMT-08:00"']
    return "\n".join(rows) + "\n"


def test_a_grouped_report_of_invoices_and_payments_fills_down_in_both_tables(tmp_path: Path) -> None:
    """The group rows and the document types together: the draft fills the customer down in the
    payments block too (the first version of the payments block did not: config check and ingest
    then stopped, "no column 'Customer'"). Invoices 15 read = 6 + 1 (the time stamp line,
    malformed_row) + 8 filtered (group_header 2, group_total 2, Transaction Type: Payment 4);
    payments 4 accepted, sign reversed, each on its customer."""
    export = tmp_path / "transactions.csv"
    export.write_text(_qbo_transactions(), encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert draft.text.count('fill_down: [{column: "unnamed_1", into: "Customer"}]') == 2
    inv, pay = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
    assert inv["filtered"] == {"Transaction Type: Payment": 4, "group_header": 2, "group_total": 2}
    assert (inv["rows_accepted"], inv["rows_quarantined"]) == (6, 1)
    assert pay["filtered"] == {"Transaction Type: Invoice": 6, "group_header": 2, "group_total": 2}
    payments = result.portfolio.payments.sort_values("paid_on")
    assert payments["debtor_id"].tolist() == [
        "Amy's Bird Sanctuary",
        "Cool Cars",
        "Amy's Bird Sanctuary",
        "Cool Cars",
    ]
    assert payments["amount"].sum() == pytest.approx(100 + 101 + 200 + 201)


def test_a_row_filter_that_matches_no_row_is_named_with_the_values_seen(tmp_path: Path) -> None:
    """`values: [Invoices]` for a column of 'Invoice' rows. Before: invoices 0 rows in, 38 filtered,
    and the ingest refused because the payments' debtors were unknown ('check both debtor_id
    mappings'): the cause was not named. Now exit 2 naming the filter, its values and the column's
    values with their counts."""
    export = tmp_path / "cle.csv"
    export.write_text(_bc_ledger(), encoding="utf-8")
    block = (
        f"tables:\n  invoices:\n    path: {export}\n    rows: {{keep: {{column: Document Type, values: [Invoices]}}}}\n"
        "    columns: {invoice_id: Document No., debtor_id: Customer No., issue_date: Posting Date,"
        " due_date: Due Date, amount: Amount}\n    values: {date_format: m/d/Y, thousands: ','}\n"
    )
    with pytest.raises(TableError) as err:
        ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    text = str(err.value)
    assert "tables.invoices.rows.keep" in text and "['Invoices']" in text
    assert "Credit Memo (3), Invoice (21), Payment (14)" in text


def test_row_options_read_a_parquet_ledger_with_numeric_type_codes(tmp_path: Path) -> None:
    """A Parquet ledger (typed columns: a numeric document type, None in the group column): `keep`
    values are text and match the number 1; `fill_down` fills the None cells. 4 read = 3 + 0 + 1
    filtered ('Type: 2'); invoices 1, 2 on G1, 4 on G2. (Passed on the first try: a regression test.)"""
    pd.DataFrame(
        {
            "Doc": ["1", "2", "3", "4"],
            "Group": ["G1", None, None, "G2"],
            "Type": [1, 1, 2, 1],
            "Date": pd.to_datetime(["2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04"]),
            "Due": pd.to_datetime(["2024-10-31", "2024-11-01", "2024-11-02", "2024-11-03"]),
            "Amount": [100.0, 50.0, -20.0, 70.0],
        }
    ).to_parquet(tmp_path / "ledger.parquet")
    block = (
        f"tables:\n  invoices:\n    path: {tmp_path / 'ledger.parquet'}\n    rows: {{keep: {{column: Type, values: [1]}}}}\n"
        "    fill_down: [Group]\n"
        "    columns: {invoice_id: Doc, debtor_id: Group, issue_date: Date, due_date: Due, amount: Amount}\n"
    )
    result = ingest_source(load_config(_source(tmp_path, block), SourceConfig), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["filtered"]) == (
        4,
        3,
        0,
        {"Type: 2": 1},
    )
    got = result.portfolio.invoices.sort_values("invoice_id")
    assert got["debtor_id"].tolist() == ["G1", "G1", "G2"] and got["amount"].tolist() == [100.0, 50.0, 70.0]
