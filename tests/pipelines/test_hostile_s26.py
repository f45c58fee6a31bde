"""Hostile inputs, session 26 (s26-erp; BENCHMARKS.md "Hostile inputs tried", "Session 26 (s26-erp)"):
the open items of s25-smb's walk with the small businesses' ledgers. The sample files are built from
documentation (and what public parsers of the reports read), not exported from QuickBooks or Xero.
Each test failed on the code before its fix (main 8bf79ef) unless it says it is a guard; every
expected number is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source
from pipelines.ingest.sources import check_inputs
from pipelines.sources.read import TableError
from pipelines.sources.suggest import suggest_source
from tests.pipelines.test_hostile_s24 import _outputs, _settlement, _sums
from tests.pipelines.test_hostile_s25 import ROOT, SOURCES, XERO_AT

AS_OF = dt.date(2024, 3, 31)


# ------------------------------------------------------------------ Xero's running balance


def _back_dated(tmp_path: Path) -> Path:
    """The Account Transactions sample with an invoice of 100.00 entered afterwards but dated 8 Jan
    2024 (INV-0005, Carbon & Sons): every row below it carries a running balance 100.00 higher."""
    lines = XERO_AT.read_text(encoding="utf-8-sig").splitlines()
    out = []
    for line in lines:
        if line.startswith("10 Jan 2024"):
            out.append('8 Jan 2024,Receivable Invoice,Carbon & Sons,Call-out,INV-0005,100.00,,"1,300.00"')
        out.append(line)
    shifted = {
        '"2,434.56"': '"2,534.56"',
        '"3,234.56"': '"3,334.56"',
        '"3,000.00"\n': '"3,100.00"\n',
        '"5,500.00"': '"5,600.00"',
        '"3,500.00"': '"3,600.00"',
        '"2,500.00"\n': '"2,600.00"\n',
        '"1,500.00"\n': '"1,600.00"\n',
    }
    text = "\n".join(out) + "\n"
    body, _, tail = text.partition("Total Accounts Receivable")
    for old, new in shifted.items():
        body = body.replace(old, new)
    path = tmp_path / "xero_account_transactions_later.csv"
    path.write_text(body + "Total Accounts Receivable" + tail, encoding="utf-8")
    return path


def test_a_back_dated_entry_leaves_the_payment_ids_of_later_rows_alone(tmp_path: Path, monkeypatch) -> None:
    """Xero's Account Transactions carry a Running Balance, which was hashed into every payment's id
    (`ids_from_rows`): an entry dated back changed the balance, and so the id, of every later row (in
    a kept history: 5 payments removed and added again; refused when they pass 10 % of the span). Now
    the draft names the column in `ids_leave_out` (so does conf/sources/example_xero.yaml), and the
    ids read from both exports are the same; the two equal payments of Beta Supply Co. on 20 Feb 2024
    (500.00 each, adjacent) stay two payments."""
    draft = suggest_source(XERO_AT)
    payments = draft.text.split("  payments:", 1)[1]
    assert 'ids_leave_out: ["Running Balance"]' in payments
    monkeypatch.chdir(ROOT)
    source = load_config(ROOT / "conf" / "sources" / "example_xero.yaml", SourceConfig)
    before = ingest_source(source, None, as_of=AS_OF)
    later = source.with_paths({"payments": _back_dated(tmp_path)})
    after = ingest_source(later, None, as_of=AS_OF)
    ids_before = sorted(before.portfolio.payments["payment_id"])
    ids_after = sorted(after.portfolio.payments["payment_id"])
    assert len(ids_before) == 5  # 4 payments and the credit note CN-0001
    assert ids_before == ids_after
    pay = before.portfolio.payments
    beta = pay.loc[(pay["debtor_id"] == "Beta Supply Co.") & (pay["kind"].astype(str) == "cash")]
    assert sorted(p.rsplit("-", 1)[1] for p in beta["payment_id"]) == ["1", "2"]
    assert after.manifest["tables"]["payments"]["filtered"]["Source: Receivable Invoice"] == 5  # 4 + INV-0005


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "at.yaml"
    path.write_text(
        "kind: source\nname: at\ncsv: {skip_rows: 4}\n"
        'values: {date_format: "%d %b %Y", thousands: ","}\n'
        f"tables:\n  payments:\n    path: {XERO_AT}\n"
        "    rows: {keep: {column: Source, values: [Receivable Payment]}}\n"
        f"{extra}"
        "    columns: {debtor_id: Contact, paid_on: Date, amount: Credit}\n",
        encoding="utf-8",
    )
    return path


def test_ids_leave_out_needs_ids_from_rows_and_a_column_of_the_file(tmp_path: Path) -> None:
    """`ids_leave_out` without `ids_from_rows` is refused by the config check, naming both keys; a
    column the file lacks stops the ingest naming the key, the column and the file's columns."""
    with pytest.raises(ValueError) as err:
        load_config(_config(tmp_path, "    ids_leave_out: [Running Balance]\n"), SourceConfig)
    assert "ids_leave_out" in str(err.value) and "ids_from_rows: true" in str(err.value)
    source = load_config(
        _config(tmp_path, "    ids_from_rows: true\n    ids_leave_out: [Balance]\n"), SourceConfig
    )
    with pytest.raises(TableError) as err:
        ingest_source(source, None, as_of=AS_OF)
    assert "'Balance' (tables.payments.ids_leave_out[0]" in str(err.value)
    assert "'Running Balance'" in str(err.value)


# ------------------------------------------------------------------ one table from several files

XERO_INVOICES = SOURCES / "xero_invoices.csv"


def _two_xero(tmp_path: Path, invoices: Path = XERO_INVOICES) -> Path:
    """`ews sources suggest` of Xero's invoice export and Account Transactions: one draft, on disk."""
    from pipelines.sources.suggest_many import suggest_sources

    draft = suggest_sources([invoices, XERO_AT])
    config = tmp_path / "xero.yaml"
    config.write_text(draft.text, encoding="utf-8")
    return config


def test_xero_invoice_export_and_account_transactions_are_drafted_into_one_config(tmp_path: Path) -> None:
    """Before, a table was read from one file: the credit notes of the invoice export (which name
    their invoice in Reference) and the payments of Account Transactions could not both be
    tables.payments, and the user joined two drafts by hand. Now `ews sources suggest` of both files
    drafts one config: the invoices from the export (Account Transactions list them without a due
    date), the cash payments from Account Transactions (its credit notes left out) and the credit
    notes from the export (`more_files`). It works unedited: rows counted per file, the sums and each
    invoice's state by hand (CN-0001, 234.56, on INV-0002 by its Reference)."""
    config = _two_xero(tmp_path)
    text = config.read_text(encoding="utf-8")
    assert "    more_files:" in text
    assert 'rows: {keep: {column: "Source", values: ["Receivable Payment"]}}' in text
    source = load_config(config, SourceConfig)
    check_inputs(source)
    result = ingest_source(source, None, as_of=AS_OF)
    pay = result.manifest["tables"]["payments"]
    # 12 Account Transactions rows + 10 invoice export lines read = 5 in + 17 filtered
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (22, 5, 5, 0)
    files = [
        (f["input"], f["rows_read"], f["rows_in"], f["rows_accepted"], f["rows_quarantined"])
        for f in pay["files"]
    ]
    assert files == [(str(XERO_AT), 12, 4, 4, 0), (str(XERO_INVOICES), 10, 1, 1, 0)]
    assert pay["files"][0]["filtered"] == {
        "Source: (empty)": 3,
        "Source: Receivable Credit Note": 1,  # read from the invoice export instead
        "Source: Receivable Invoice": 4,
    }
    assert pay["files"][1]["filtered"] == {"Status: VOIDED": 1, "Type: Sales invoice": 8}
    assert _sums(result) == (5734.56, 4000.00, 234.56)
    credit = result.portfolio.payments.loc[result.portfolio.payments["kind"].astype(str) == "credit"]
    assert credit[["payment_id", "invoice_id"]].values.tolist() == [["CN-0001", "INV-0002"]]
    assert _settlement(result.portfolio, AS_OF) == {
        "INV-0001": (dt.date(2024, 2, 10), 0.0),
        "INV-0003": (dt.date(2024, 2, 10), 0.0),
        "INV-0002": (dt.date(2024, 2, 20), 0.0),
        "INV-0004": (None, 1500.0),
    }


def test_a_quarantined_row_of_a_second_file_names_that_file_and_its_own_row(tmp_path: Path) -> None:
    """A credit note with an amount that is no number, on line 12 (record 11) of the second file of
    tables.payments: its quarantine row names that file and row 11 (not the row's place among both
    files' rows), and the manifest counts it against that file: rows in = accepted + quarantined per
    file and for the table. In memory and streamed (chunks of 2) write the same bytes."""
    broken = tmp_path / "xero_invoices_broken.csv"
    text = XERO_INVOICES.read_text(encoding="utf-8-sig")
    broken.write_text(
        text + "Carbon & Sons,office@carbon.example,CN-0003,INV-0004,10/03/2024,10/03/2024,abc,0.00,0.00,"
        "0.00,Refund,1.0000,100.00,100.00,200,Tax Exempt,0.00,USD,Sales credit note,Sent,PAID\n",
        encoding="utf-8",
    )
    source = load_config(_two_xero(tmp_path, broken), SourceConfig)
    result = ingest_source(source, tmp_path / "mem", as_of=AS_OF, stream=False)
    q = result.quarantine["payments"]
    assert q[["source_file", "source_row", "source_line", "reason"]].values.tolist() == [
        [str(broken), 11, 12, "unparseable_number:amount"]
    ]
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (6, 5, 1)
    assert [(f["rows_in"], f["rows_accepted"], f["rows_quarantined"]) for f in pay["files"]] == [
        (4, 4, 0),
        (2, 1, 1),
    ]
    ingest_source(source, tmp_path / "str", as_of=AS_OF, stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "str")
    again = ingest_source(source, tmp_path / "again", as_of=AS_OF, stream=False)
    assert again.manifest["tables"]["payments"]["files"] == pay["files"]
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "again")


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (
            "      - {path: b.csv, more_files: [{path: c.csv}]}\n",
            "more_files[0].more_files: list every file of the table under tables.payments.more_files",
        ),
        (
            "      - {path: b.csv, clearing: {column: Clearing}}\n",
            "more_files[0].clearing: a clearing join reads the invoice and payment rows of one ledger file",
        ),
        (
            '      - {path: b.csv, values: {decimal: ","}}\n',
            "values.decimal ',' differs from tables.payments's '.'",
        ),
        ("      - {path: a.csv}\n", "a.csv is already a file of tables.payments"),
        (
            "      - {path: b.csv, ids_leave_out: [Balance]}\n",
            "tables.payments.more_files[0].ids_leave_out: ids_leave_out names columns",
        ),
    ],
)
def test_more_files_that_cannot_be_read_as_one_table_are_refused(
    tmp_path: Path, extra: str, said: str
) -> None:
    """`more_files`: not nested, no clearing join (one ledger file), one decimal notation per table, a
    file once; each file is checked as the table's own (ids_leave_out without ids_from_rows)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "kind: source\nname: s\ntables:\n  payments:\n    path: a.csv\n    more_files:\n" + extra,
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as err:
        load_config(path, SourceConfig)
    assert said in str(err.value)


# ------------------------------------------------------------------ QuickBooks: payments under their invoice

QBO_IRP = SOURCES / "qbo_invoices_received_payments.csv"
QBO_TLC = SOURCES / "qbo_transaction_list_s26.csv"


def _check_qbo_two(result) -> None:
    """By hand: the s25 sample's business and Carbon & Sons' invoice 1006 (02/15, 300.00) paid on 03/05
    before the older 1005 (2,500.00, 1,000.00 paid on 03/01). Invoiced 6,034.56; cash 4,300.00 (Acme's
    2,000.00 listed as 1,200.00 under 1001 and 800.00 under 1003); credit 234.56 (1004 on Beta)."""
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (34, 9, 7, 2)
    assert [
        (Path(f["input"]).name, f["rows_read"], f["rows_in"], f["rows_accepted"], f["rows_quarantined"])
        for f in pay["files"]
    ] == [(QBO_IRP.name, 15, 7, 6, 1), (QBO_TLC.name, 19, 2, 1, 1)]
    assert pay["files"][0]["repairs"] == {"invoice_from_listing": 6, "payment_id_from_row": 6}
    # each file's footer (a time stamp, one cell) is quarantined under its own file, row and line
    q = result.quarantine["payments"]
    assert [
        [Path(f).name, row, line, reason]
        for f, row, line, reason in q[["source_file", "source_row", "source_line", "reason"]].values.tolist()
    ] == [[QBO_IRP.name, 15, 23, "malformed_row"], [QBO_TLC.name, 19, 26, "malformed_row"]]
    assert _sums(result) == (6034.56, 4300.00, 234.56)
    assert _settlement(result.portfolio, AS_OF) == {
        "1001": (dt.date(2024, 2, 10), 0.0),
        "1003": (dt.date(2024, 2, 10), 0.0),
        "1002": (dt.date(2024, 2, 20), 0.0),
        "1005": (None, 1500.0),
        "1006": (dt.date(2024, 3, 5), 0.0),  # oldest first: 1005 open 1,200.00 and 1006 300.00
    }


def test_quickbooks_payments_listed_under_their_invoice_are_read_onto_it(tmp_path: Path) -> None:
    """QuickBooks' Transaction List by Customer names no invoice on a payment: cash was applied oldest
    first (1006's 300.00 to 1005). The Invoices and Received Payments report lists each payment under
    the invoice it paid: `ews sources suggest` of both reports drafts one config (invoices and credit
    memos from the Transaction List, which has the due dates and the credit memos; cash from the other
    report with `listed_under`), which reads each payment onto its invoice."""
    from pipelines.sources.suggest_many import suggest_sources

    draft = suggest_sources([QBO_IRP, QBO_TLC])
    assert (
        'listed_under: {column: "Transaction type", values: ["Invoice"], number: "Transaction number"}'
        in (draft.text)
    )
    config = tmp_path / "qbo.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    _check_qbo_two(ingest_source(source, None, as_of=AS_OF))
    # the oldest-first reading of the Transaction List alone, by hand: 1005 open 1,200.00, 1006 300.00
    alone = suggest_source(QBO_TLC)
    (tmp_path / "tlc.yaml").write_text(alone.text, encoding="utf-8")
    state = _settlement(
        ingest_source(load_config(tmp_path / "tlc.yaml", SourceConfig), None, as_of=AS_OF).portfolio, AS_OF
    )
    assert (state["1005"], state["1006"]) == ((None, 1200.0), (None, 300.0))


def test_the_quickbooks_payments_example_config_and_streamed(tmp_path: Path, monkeypatch) -> None:
    """conf/sources/example_quickbooks_payments.yaml reads the samples to the figures by hand; in memory
    and streamed (chunks of 2) write the same bytes. A payment listed above its customer's first invoice
    (100.00 on 01/25 at the top of Carbon & Sons) is cash on account, applied to 1005 (open 1,400.00)."""
    monkeypatch.chdir(ROOT)
    source = load_config(ROOT / "conf" / "sources" / "example_quickbooks_payments.yaml", SourceConfig)
    check_inputs(source)
    _check_qbo_two(ingest_source(source, tmp_path / "mem", as_of=AS_OF, stream=False))
    ingest_source(source, tmp_path / "str", as_of=AS_OF, stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "str")
    lines = QBO_IRP.read_text(encoding="utf-8").splitlines()
    at = lines.index("Carbon & Sons,,,,,") + 1
    early = tmp_path / "irp_early.csv"
    early.write_text(
        "\n".join([*lines[:at], ",01/25/2024,Payment,,,100.00", *lines[at:]]) + "\n", encoding="utf-8"
    )
    result = ingest_source(source.with_paths({"payments": early}), None, as_of=AS_OF)
    pay = result.portfolio.payments
    assert pay.loc[pay["amount"] == 100.0, "invoice_id"].isna().tolist() == [True]
    state = _settlement(result.portfolio, AS_OF)
    assert (state["1005"], state["1006"]) == ((None, 1400.0), (dt.date(2024, 3, 5), 0.0))


def test_a_report_in_date_order_is_not_drafted_as_listed_under(tmp_path: Path) -> None:
    """The same report with each customer's rows in date order (a payment below every invoice dated
    before it) does not tell which invoice a payment paid: the draft leaves listed_under out and says
    how to add it (CHECK)."""
    lines = QBO_IRP.read_text(encoding="utf-8").splitlines()
    acme = lines.index('"Acme, Inc.",,,,,')
    carbon = lines.index("Carbon & Sons,,,,,")
    lines[acme + 1 : acme + 5] = [lines[acme + 1], lines[acme + 3], lines[acme + 2], lines[acme + 4]]
    lines[carbon + 1 : carbon + 5] = [
        lines[carbon + 1],
        lines[carbon + 3],
        lines[carbon + 2],
        lines[carbon + 4],
    ]
    dated = tmp_path / "irp_dated.csv"
    dated.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = suggest_source(dated).text
    assert "    listed_under:" not in text
    assert "# CHECK: if the report lists each payment under the invoice it paid" in text


# ------------------------------------------------------------------ Xero in several currencies

XERO_FX_INVOICES = SOURCES / "xero_invoices_fx.csv"
XERO_FX_AT = SOURCES / "xero_account_transactions_fx.csv"


def test_xero_base_currency_payments_of_a_foreign_currency_customer_are_not_read_in_its_currency(
    tmp_path: Path,
) -> None:
    """An NZD organisation invoicing Harbour Imports Inc. in USD (INV-0003 1,000.00, paid; INV-0004
    500.00, open; rate 1.60). Xero's Account Transactions show every amount in the base currency: the
    payment is 1,600.00 NZD. Before, the draft gave the file no currency, so ews took the payment in
    its customer's invoice currency: 1,600.00 USD, converted to 2,560.00 NZD, which settled INV-0004
    too (cash 4,760.00 for 3,800.00 received), without a word. Now the joined draft names the file's
    currency (NZD, CHECK): the payment is quarantined currency_mismatch with the warning that says
    the fix, and INV-0003 and INV-0004 stay open (1,600.00 and 800.00 NZD)."""
    from pipelines.config.project import CurrencyConfig
    from pipelines.sources.suggest_many import suggest_sources

    draft = suggest_sources([XERO_FX_INVOICES, XERO_FX_AT])
    payments = draft.text.split("  payments:", 1)[1].split("    more_files:", 1)[0]
    assert '    currency: "NZD"' in payments and "# CHECK: the invoices are in NZD, USD" in payments
    config = tmp_path / "fx.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    result = ingest_source(
        source, None, as_of=AS_OF, currency=CurrencyConfig(reporting="NZD", rates={"USD": 1.6})
    )
    q = result.quarantine["payments"]
    # (the row shows the amount as written, 1,600.00 NZD, since session 29; 1600.0 in session 28, 2560.0 before)
    assert q[["debtor_id", "paid_on", "reason"]].values.tolist() == [
        ["Harbour Imports Inc.", "2024-02-25", "currency_mismatch"]
    ]
    assert _sums(result) == (4834.56, 2200.00, 234.56)  # 1,200.00 + 1,234.56 + 1,600.00 + 800.00 NZD
    state = _settlement(result.portfolio, AS_OF)
    assert (state["INV-0003"], state["INV-0004"]) == ((None, 1600.0), (None, 800.0))
    assert any("currency_mismatch" in w for w in result.manifest["warnings"])


def test_a_files_currency_is_refused_beside_a_currency_column(tmp_path: Path) -> None:
    """`currency` (the one currency of a file without a currency column) beside columns.currency is
    refused, naming both."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "kind: source\nname: s\ntables:\n  payments:\n    path: a.csv\n    currency: NZD\n"
        "    columns: {currency: Currency}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as err:
        load_config(path, SourceConfig)
    assert "tables.payments.currency" in str(err.value) and "'Currency'" in str(err.value)
