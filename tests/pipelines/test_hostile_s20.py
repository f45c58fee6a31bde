"""Hostile inputs, session 20 (s20-robust; BENCHMARKS.md "Hostile inputs tried", "Session 20
(s20-robust)"): the real-export items session 19 left open, then new attacks on real export shapes.
Each test failed on the code before its fix (main 26c3044) unless it says it is a guard; files are
hand-written after the exports' layouts (not exports from Odoo or NetSuite), expected figures
computed by hand."""

from __future__ import annotations

from pathlib import Path

from hostile_sources import counts as _counts
from hostile_sources import ingest_config as _ingest_config

# ---------------------------------------------------------------- item 1: unknown_payment_kind's detail

KINDS = """kind: source
name: receipts
rules: {{data_docs: false}}
tables:
  payments:
    path: {path}
    columns: {{payment_id: Receipt No, debtor_id: Customer, paid_on: Date, amount: Amount, kind: Payment Type}}
"""


def test_an_unknown_payment_kind_names_the_word_the_column_and_the_allowed_words(tmp_path: Path) -> None:
    """A receipts export whose `Payment Type` column (mapped to payments.kind) holds `Refund` and
    `chargeback` beside `cash`, `CREDIT` and an empty cell. Before: the two rows quarantined
    `unknown_payment_kind` with an empty detail (the user had to find the allowed words in the
    README). Now the detail names the cell as written, the file column and the allowed words: by
    hand 5 read = 3 accepted (cash, credit, empty) + 2 quarantined."""
    text = (
        "Receipt No,Customer,Date,Amount,Payment Type\n"
        "R1,K1,2024-03-01,100.00,cash\n"
        "R2,K1,2024-03-02,50.00,CREDIT\n"
        "R3,K1,2024-03-03,20.00,Refund\n"
        "R4,K2,2024-03-04,30.00,\n"
        "R5,K2,2024-03-05,40.00, chargeback\n"
    )
    result = _ingest_config(tmp_path, text, KINDS)
    t = result.manifest["tables"]["payments"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (5, 3, 2)
    kinds = result.portfolio.payments["kind"]
    assert kinds.fillna("(empty)").tolist() == ["cash", "credit", "(empty)"]  # empty reads as cash
    q = result.quarantine["payments"].set_index("source_row")
    assert q["reason"].to_dict() == {3: "unknown_payment_kind", 5: "unknown_payment_kind"}
    assert q.loc[3, "detail"] == (
        "column 'Payment Type' (payments.kind) holds 'Refund': allowed cash or credit (any case; an empty "
        "cell is cash). Write one of them, or leave the column out and mark credit memos with "
        "tables.payments.credit: {column, values}"
    )
    assert "holds 'chargeback': allowed cash or credit" in q.loc[5, "detail"]


# ---------------------------------------------------------------- item 2: Odoo refunds and write-offs

ODOO_HEADER = "Date,Journal Entry,Journal,Account,Partner,Label,Reference,Due Date,Matching,Debit,Credit\n"
AR = "121000 Account Receivable"
# Odoo 17 journal items of the receivable account (list view export). Acme paid 1,200.00 on a
# 1,000.00 invoice and got 200.00 back (an outbound payment of the bank journal: debit side), all
# three lines reconciled together (A1). Beta's invoice reversed by a credit note (A2). Gamma paid
# 480.00 of 500.00 and the rest was written off in the miscellaneous journal (A3). Delta paid in
# full (A4), then got a credit note of 100.00 refunded in cash (credit note and refund: A5).
ODOO_REFUNDS = ODOO_HEADER + (
    f"2024-01-05,INV/2024/00001,Customer Invoices,{AR},Acme Ltd,INV/2024/00001,,2024-02-04,A1,1000.00,0.00\n"
    f"2024-02-01,PBNK1/2024/00001,Bank,{AR},Acme Ltd,Customer Payment INV/2024/00001,INV/2024/00001,"
    "2024-02-01,A1,0.00,1200.00\n"
    f"2024-02-20,PBNK1/2024/00005,Bank,{AR},Acme Ltd,Customer Reimbursement,,2024-02-20,A1,200.00,0.00\n"
    f"2024-01-20,INV/2024/00002,Customer Invoices,{AR},Beta GmbH,INV/2024/00002,,2024-02-19,A2,700.00,0.00\n"
    f"2024-02-10,RINV/2024/00001,Customer Invoices,{AR},Beta GmbH,Reversal of INV/2024/00002,,2024-02-10,A2,"
    "0.00,700.00\n"
    f"2024-01-25,INV/2024/00003,Customer Invoices,{AR},Gamma SA,INV/2024/00003,,2024-02-24,A3,500.00,0.00\n"
    f"2024-03-01,PBNK1/2024/00002,Bank,{AR},Gamma SA,Customer Payment INV/2024/00003,INV/2024/00003,"
    "2024-03-01,A3,0.00,480.00\n"
    f"2024-03-01,MISC/2024/00001,Miscellaneous Operations,{AR},Gamma SA,Write-Off,,2024-03-01,A3,0.00,20.00\n"
    f"2024-02-01,INV/2024/00004,Customer Invoices,{AR},Delta BV,INV/2024/00004,,2024-03-02,A4,300.00,0.00\n"
    f"2024-02-20,PBNK1/2024/00003,Bank,{AR},Delta BV,Customer Payment INV/2024/00004,INV/2024/00004,"
    "2024-02-20,A4,0.00,300.00\n"
    f"2024-03-05,RINV/2024/00002,Customer Invoices,{AR},Delta BV,Credit Note,,2024-03-05,A5,0.00,100.00\n"
    f"2024-03-10,PBNK1/2024/00006,Bank,{AR},Delta BV,Customer Reimbursement,,2024-03-10,A5,100.00,0.00\n"
)

ODOO_LEDGER = """kind: source
name: odoo
rules: {{data_docs: false}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: Journal, values: [Customer Invoices]}}, drop: {{column: Debit, values: ["0.00"]}}}}
    columns: {{invoice_id: Journal Entry, debtor_id: Partner, issue_date: Date, due_date: Due Date, amount: Debit}}
  payments:
    path: {path}
    rows: {{keep: {{column: Debit, values: ["0.00"]{also}}}}}
    credit: {{column: Journal, values: [Customer Invoices{writeoff}]}}
    clearing: {{column: Matching}}{debit}
    columns: {{payment_id: Journal Entry, debtor_id: Partner, paid_on: Date, amount: Credit}}
"""


def _odoo_config(also: str = "", writeoff: str = "", debit: str = "") -> str:
    """ODOO_LEDGER with its options filled in, braces escaped again for ingest_config's format."""
    text = ODOO_LEDGER.format(path="{path}", also=also, writeoff=writeoff, debit=debit)
    return text.replace("{", "{{").replace("}", "}}").replace("{{path}}", "{path}")


def _payments(result) -> dict[str, tuple[str | None, str, float]]:
    import pandas as pd

    return {
        str(r.payment_id): (
            None if pd.isna(r.invoice_id) else str(r.invoice_id),
            str(r.kind),
            float(r.amount),
        )
        for r in result.portfolio.payments.itertuples()
    }


def test_odoo_refunds_are_negative_cash_and_write_offs_are_no_cash(tmp_path: Path) -> None:
    """Odoo journal items with refunds paid out of the bank journal (debit side) and a write-off in
    the miscellaneous journal (credit side). Before (s19's ledger: payments = the zero-debit rows,
    credit = the sales journal): both refunds left out (filtered with the invoices), so Acme's cash
    counted 1,200.00 for a 1,000.00 invoice (200.00 cash on account) and Delta kept a credit of
    100.00 on account that was paid back; Gamma's write-off of 20.00 read as cash.

    Now (`also: {column: Journal, values: [Bank]}` keeps the bank journal's debit rows, `debit:
    Debit` makes their amount Credit - Debit, the write-off's journal listed under `credit`): a
    refund is a negative payment netted against what it refunds (ingest's reversal rule: same
    debtor, invoice or none, amount, dated on or before). By hand: payments 12 read = 8 in + 4
    filtered (the invoices); the clearing splits Acme's 1,200.00 into 1,000.00 on INV/2024/00001 and
    200.00 unallocated (9 rows); the -200.00 refund nets that 200.00 (reversal, reversed_payment), the
    -100.00 refund nets Delta's unallocated credit note (A5 has no invoice): 9 = 5 accepted + 4
    quarantined. Cash 1,000 + 480 + 300; credit 700 (Beta) + 20 (Gamma's write-off); the features'
    payment_amount_365d at 2024-03-31: Acme 1,200 -> 1,000, Gamma 500 -> 480, Delta 300."""
    old = _ingest_config(tmp_path, ODOO_REFUNDS, _odoo_config())
    assert _payments(old) == {
        "PBNK1/2024/00001/INV/2024/00001": ("INV/2024/00001", "cash", 1000.0),
        "PBNK1/2024/00001/unallocated": (None, "cash", 200.0),
        "RINV/2024/00001": ("INV/2024/00002", "credit", 700.0),
        "PBNK1/2024/00002": ("INV/2024/00003", "cash", 480.0),
        "MISC/2024/00001": ("INV/2024/00003", "cash", 20.0),
        "PBNK1/2024/00003": ("INV/2024/00004", "cash", 300.0),
        "RINV/2024/00002": (None, "credit", 100.0),
    }
    now = _odoo_config(
        also=", also: {column: Journal, values: [Bank]}",
        writeoff=", Miscellaneous Operations",
        debit="\n    debit: Debit",
    )
    result = _ingest_config(tmp_path, ODOO_REFUNDS, now)
    t = result.manifest["tables"]["payments"]
    assert (t["rows_read"], t["rows_filtered"]) == (12, 4)
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (9, 5, 4)
    assert _payments(result) == {
        "PBNK1/2024/00001/INV/2024/00001": ("INV/2024/00001", "cash", 1000.0),
        "RINV/2024/00001": ("INV/2024/00002", "credit", 700.0),
        "PBNK1/2024/00002": ("INV/2024/00003", "cash", 480.0),
        "MISC/2024/00001": ("INV/2024/00003", "credit", 20.0),
        "PBNK1/2024/00003": ("INV/2024/00004", "cash", 300.0),
    }
    q = result.quarantine["payments"].set_index("payment_id")["reason"].to_dict()
    assert q == {
        "PBNK1/2024/00001/unallocated": "reversed_payment",
        "PBNK1/2024/00005": "reversal",
        "RINV/2024/00002": "reversed_payment",
        "PBNK1/2024/00006": "reversal",
    }
    assert _counts(result, "invoices") == (12, 4, 0, 8)
    # the cash the features see at 2024-03-31: Acme 1,200 -> 1,000, Gamma 500 -> 480, Delta 300 both
    from features.build import build_features

    cash = {
        name: build_features(r.portfolio, ["2024-03-31"])
        .set_index("debtor_id")["payment_amount_365d"]
        .to_dict()
        for name, r in (("before", old), ("now", result))
    }
    assert {k: cash["before"][k] for k in ("Acme Ltd", "Gamma SA", "Delta BV")} == {
        "Acme Ltd": 1200.0,
        "Gamma SA": 500.0,
        "Delta BV": 300.0,
    }
    assert {k: cash["now"][k] for k in ("Acme Ltd", "Gamma SA", "Delta BV")} == {
        "Acme Ltd": 1000.0,
        "Gamma SA": 480.0,
        "Delta BV": 300.0,
    }


def test_suggest_drafts_odoo_refunds_and_write_offs(tmp_path: Path) -> None:
    """`ews sources suggest` on the same journal items. Before: the journal column holds
    'Miscellaneous Operations', which the draft did not know as a document type, so the file was
    drafted as one invoices table (`amount: Debit`, no payments). Now the ledger draft keeps the bank
    journal's rows on both sides (`also`), writes `debit: "Debit"` and lists the write-off's journal
    with the credit notes under `credit`; ingested, it gives the hand-written config's result above
    (payments 12 read = 9 in (one split piece) = 5 + 4, the same five accepted rows)."""
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "journal_items.csv"
    export.write_text(ODOO_REFUNDS, encoding="utf-8")
    draft = suggest_source(export).text
    for line in (
        'rows: {keep: {column: "Debit", values: ["0.00"], also: {column: "Journal", values: ["Bank"]}}}',
        'debit: "Debit"',
        'credit: {column: "Journal", values: ["Customer Invoices", "Miscellaneous Operations"]}',
        'clearing: {column: "Matching"}',
    ):
        assert line in draft, (line, draft)
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _ingest_config(tmp_path, ODOO_REFUNDS, escaped, name="journal_items.csv")
    t = result.manifest["tables"]["payments"]
    assert (t["rows_read"], t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (12, 9, 5, 4)
    assert _payments(result) == {
        "PBNK1/2024/00001/INV/2024/00001": ("INV/2024/00001", "cash", 1000.0),
        "RINV/2024/00001": ("INV/2024/00002", "credit", 700.0),
        "PBNK1/2024/00002": ("INV/2024/00003", "cash", 480.0),
        "MISC/2024/00001": ("INV/2024/00003", "credit", 20.0),
        "PBNK1/2024/00003": ("INV/2024/00004", "cash", 300.0),
    }
    assert _counts(result, "invoices") == (12, 4, 0, 8)


def test_debit_is_checked_against_the_file_and_the_table(tmp_path: Path) -> None:
    """`debit` naming a column the file lacks: `check_inputs` (what `ews config check` runs) names
    `tables.payments.debit` and the file's columns; `debit` on tables.invoices, or beside
    negate_amount, is a config error saying why; a debit cell that is not a number (`2OO.00`, letters
    O) quarantines its row `unparseable_number:debit` (not read as 0; its credit 0.00 makes it
    amount_not_positive too): by hand 9 in = 6 accepted (the 200.00 it refunded stays cash on
    account) + 3 quarantined (that refund; Delta's refund netting its credit note)."""
    import pytest

    from pipelines.config import ConfigError
    from pipelines.sources.read import TableError

    also = ", also: {column: Journal, values: [Bank]}"
    with pytest.raises(TableError, match=r"tables\.payments\.debit.*Columns in the file"):
        _ingest_config(tmp_path, ODOO_REFUNDS, _odoo_config(also=also, debit="\n    debit: Soll"))
    on_invoices = _odoo_config(also=also).replace("amount: Debit}}\n", "amount: Debit}}\n    debit: Credit\n")
    with pytest.raises(ConfigError, match=r"tables\.invoices\.debit.*belongs on tables\.payments"):
        _ingest_config(tmp_path, ODOO_REFUNDS, on_invoices)
    with pytest.raises(ConfigError, match=r"tables\.payments\.debit.*remove negate_amount"):
        _ingest_config(
            tmp_path,
            ODOO_REFUNDS,
            _odoo_config(also=also, debit="\n    debit: Debit\n    negate_amount: true"),
        )
    damaged = ODOO_REFUNDS.replace(
        "Customer Reimbursement,,2024-02-20,A1,200.00,0.00",
        "Customer Reimbursement,,2024-02-20,A1,2OO.00,0.00",
    )
    result = _ingest_config(tmp_path, damaged, _odoo_config(also=also, debit="\n    debit: Debit"))
    q = result.quarantine["payments"].set_index("payment_id")["reason"].to_dict()
    assert q == {
        "PBNK1/2024/00005": "amount_not_positive; unparseable_number:debit",
        "RINV/2024/00002": "reversed_payment",
        "PBNK1/2024/00006": "reversal",
    }
    assert _counts(result, "payments")[:3] == (12, 6, 3)


# ---------------------------------------------------------------- item 3: a NetSuite payment applied to several invoices

# NetSuite transaction search (Type, Document Number, Name, Amount, Applied To Transaction) with the
# applied amount (Applied To Link Amount): a payment applied to several invoices is listed once per
# invoice, its total repeated in Amount on each row
NETSUITE_MULTI = (
    "Date,Type,Document Number,Name,Due Date/Receive By,Amount,Applied To Transaction,Applied To Link Amount\n"
    '1/15/2024,Invoice,INV1001,1001 Acme Ltd,2/14/2024,"1,000.00",,\n'
    "1/20/2024,Invoice,INV1002,1001 Acme Ltd,2/19/2024,500.00,,\n"
    "1/22/2024,Invoice,INV1003,1002 Beta GmbH,2/21/2024,300.00,,\n"
    "1/25/2024,Invoice,INV1004,1001 Acme Ltd,2/24/2024,400.00,,\n"
    "1/26/2024,Invoice,INV1005,1003 Gamma SA,2/25/2024,80.00,,\n"
    "1/27/2024,Invoice,INV1006,1003 Gamma SA,2/26/2024,40.00,,\n"
    '2/1/2024,Payment,PYMT2001,1001 Acme Ltd,,"1,500.00",Invoice #INV1001,"1,000.00"\n'
    '2/1/2024,Payment,PYMT2001,1001 Acme Ltd,,"1,500.00",Invoice #INV1002,500.00\n'
    "2/20/2024,Payment,PYMT2002,1001 Acme Ltd,,500.00,Invoice #INV1004,400.00\n"
    "3/1/2024,Payment,PYMT2003,1002 Beta GmbH,,300.00,Invoice #INV1003,300.00\n"
    "3/5/2024,Payment,PYMT2004,1002 Beta GmbH,,50.00,,\n"
    "3/6/2024,Payment,PYMT2005,1003 Gamma SA,,100.00,Invoice #INV1005,80.00\n"
    "3/6/2024,Payment,PYMT2005,1003 Gamma SA,,100.00,Invoice #INV1006,40.00\n"
)

NETSUITE_CONFIG = """kind: source
name: netsuite
rules: {{data_docs: false}}
values: {{date_format: m/d/Y, thousands: ","}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: Type, values: [Invoice]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Name, issue_date: Date, due_date: Due Date/Receive By, amount: Amount}}
  payments:
    path: {path}
    rows: {{keep: {{column: Type, values: [Payment]}}}}
    invoice_prefix: "Invoice #"{applied}
    columns: {{payment_id: Document Number, debtor_id: Name, paid_on: Date, amount: Amount, invoice_id: Applied To Transaction}}
"""


def _ns_config(applied: str = "") -> str:
    text = NETSUITE_CONFIG.format(path="{path}", applied=applied)
    return text.replace("{", "{{").replace("}", "}}").replace("{{path}}", "{path}")


def _pay_rows(result) -> dict[str, tuple[str | None, float]]:
    import pandas as pd

    return {
        str(r.payment_id): (None if pd.isna(r.invoice_id) else str(r.invoice_id), float(r.amount))
        for r in result.portfolio.payments.itertuples()
    }


def test_a_netsuite_payment_applied_to_several_invoices_is_split_by_application_line(tmp_path: Path) -> None:
    """Acme's PYMT2001 (1,500.00) applied to INV1001 (1,000.00) and INV1002 (500.00) is listed twice,
    1,500.00 on each row; PYMT2002 (500.00) applied 400.00 to INV1004, 100.00 left unapplied; Gamma's
    PYMT2005 (100.00) claims 80.00 + 40.00 = 120.00. Before (s19's config): PYMT2001's two rows
    quarantined duplicate_id (the 1,500.00 lost: INV1001 and INV1002 open for good), PYMT2005 too,
    PYMT2002's 500.00 all on INV1004 (400.00: the 100.00 left unapplied read as paid on it).

    Now (`applied_amount: Applied To Link Amount`) each row is the payment's part of its invoice:
    PYMT2001/INV1001 1,000.00, PYMT2001/INV1002 500.00; PYMT2002/INV1004 400.00 and
    PYMT2002/unallocated 100.00 (one row added: cash on account); PYMT2003 (applied in full to one
    invoice) and PYMT2004 (applied to none) as they are; PYMT2005's rows kept whole and quarantined
    applied_exceeds_payment (and duplicate_id, their ids unchanged). By hand: payments 13 read = 7 in + 6 filtered; rows in 7 + 1 piece =
    8 = 6 accepted + 2 quarantined; the accepted parts add up to the payments: 1,500 + 500 + 300 + 50
    = 2,350."""
    before = _ingest_config(tmp_path, NETSUITE_MULTI, _ns_config())
    assert _pay_rows(before) == {
        "PYMT2002": ("INV1004", 500.0),
        "PYMT2003": ("INV1003", 300.0),
        "PYMT2004": (None, 50.0),
    }
    assert before.manifest["tables"]["payments"]["reasons"] == {"duplicate_id:payment_id": 4}
    config = _ns_config('\n    applied_amount: "Applied To Link Amount"')
    result = _ingest_config(tmp_path, NETSUITE_MULTI, config)
    t = result.manifest["tables"]["payments"]
    assert (t["rows_read"], t["rows_filtered"], t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (
        13,
        6,
        8,
        6,
        2,
    )
    assert t["applied"] == {"payments_split": 2, "pieces_added": 1, "main_lines_left_out": 0}
    assert _pay_rows(result) == {
        "PYMT2001/INV1001": ("INV1001", 1000.0),
        "PYMT2001/INV1002": ("INV1002", 500.0),
        "PYMT2002/INV1004": ("INV1004", 400.0),
        "PYMT2002/unallocated": (None, 100.0),
        "PYMT2003": ("INV1003", 300.0),
        "PYMT2004": (None, 50.0),
    }
    assert sum(v[1] for v in _pay_rows(result).values()) == 2350.0
    q = result.quarantine["payments"]
    assert q["reason"].tolist() == ["applied_exceeds_payment; duplicate_id:payment_id"] * 2
    assert q["source_row"].tolist() == [12, 13]
    assert _counts(result, "invoices") == (13, 6, 0, 7)


def test_suggest_drafts_netsuites_applied_amount(tmp_path: Path) -> None:
    """`ews sources suggest` on the same search: before, `Applied To Link Amount` was left unmapped
    (the draft ingested as the "before" above); now the draft writes `applied_amount: "Applied To
    Link Amount"` beside `invoice_prefix`, and ingests as the hand-written config: 6 accepted, 2
    quarantined, the same parts."""
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "netsuite.csv"
    export.write_text(NETSUITE_MULTI, encoding="utf-8")
    draft = suggest_source(export).text
    assert 'applied_amount: "Applied To Link Amount"' in draft, draft
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _ingest_config(tmp_path, NETSUITE_MULTI, escaped, name="netsuite.csv")
    assert _counts(result, "payments") == (13, 6, 2, 6)
    assert sorted(_pay_rows(result)) == [
        "PYMT2001/INV1001",
        "PYMT2001/INV1002",
        "PYMT2002/INV1004",
        "PYMT2002/unallocated",
        "PYMT2003",
        "PYMT2004",
    ]


def test_applied_amount_main_line_and_checks(tmp_path: Path) -> None:
    """The same search with the payments' main line listed too (Main Line: both; the main line names
    no invoice): PYMT2001's main line carries nothing left (1,500 = 1,000 + 500) and is left out
    (filtered payment_main_line); PYMT2002's carries the 100.00 unapplied (PYMT2002/unallocated, no
    row added). By hand 15 read = 8 in + 7 filtered (6 invoices, 1 main line) = 6 + 2. Rows of one
    payment with two totals are quarantined payment_total_differs. `applied_amount` on a payments
    table without invoice_id: a config error naming the key and the fix."""
    import pytest

    from pipelines.config import ConfigError

    lines = NETSUITE_MULTI.splitlines(keepends=True)
    main1 = '2/1/2024,Payment,PYMT2001,1001 Acme Ltd,,"1,500.00",,\n'
    main2 = "2/20/2024,Payment,PYMT2002,1001 Acme Ltd,,500.00,,\n"
    text = "".join(lines[:7] + [main1] + lines[7:9] + [main2] + lines[9:])
    result = _ingest_config(tmp_path, text, _ns_config('\n    applied_amount: "Applied To Link Amount"'))
    t = result.manifest["tables"]["payments"]
    assert _counts(result, "payments") == (15, 6, 2, 7)
    assert t["filtered"]["payment_main_line"] == 1
    assert t["applied"] == {"payments_split": 2, "pieces_added": 0, "main_lines_left_out": 1}
    assert _pay_rows(result)["PYMT2002/unallocated"] == (None, 100.0)
    # PYMT2001's second row says 1,400.00: which total is the payment's cannot be told
    differs = NETSUITE_MULTI.replace(
        '1001 Acme Ltd,,"1,500.00",Invoice #INV1002', "1001 Acme Ltd,,1400.00,Invoice #INV1002"
    )
    result = _ingest_config(tmp_path, differs, _ns_config('\n    applied_amount: "Applied To Link Amount"'))
    reasons = result.manifest["tables"]["payments"]["reasons"]
    assert reasons["payment_total_differs"] == 2
    no_invoice = (
        _ns_config('\n    applied_amount: "Applied To Link Amount"')
        .replace(", invoice_id: Applied To Transaction", "")
        .replace('    invoice_prefix: "Invoice #"\n', "")
    )
    with pytest.raises(ConfigError, match=r"tables\.payments\.applied_amount.*map invoice_id"):
        _ingest_config(tmp_path, NETSUITE_MULTI, no_invoice)


# ---------------------------------------------------------------- item 5: amounts in other locales' groupings

# a German spreadsheet saved as CSV (semicolon, UTF-8 with BOM) whose amounts are whole euros in
# Excel's #.##0 format: 1.500 is one thousand five hundred
GERMAN_WHOLE = "\ufeff" + (
    "Rechnungsnummer;Kunde;Rechnungsdatum;Fällig am;Betrag\r\n"
    "RE-1001;K100;05.09.2024;05.10.2024;1.500\r\n"
    "RE-1002;K100;20.10.2024;19.11.2024;750\r\n"
    "RE-1003;K200;10.09.2024;10.10.2024;12.000\r\n"
    "RE-1004;K200;12.09.2024;12.10.2024;2.250\r\n"
)


def test_suggest_reads_german_whole_amounts_with_a_thousands_dot(tmp_path: Path) -> None:
    """Every dotted amount of the sample is a whole number grouped by thousands (1.500, 12.000,
    2.250; none like 1.5 or 1.50). Before: the draft said decimal "." and ingest read 1.5, 12.0
    and 2.25 (wrong numbers, no warning: 16,500 of 16,500 euros misread as 16.5 + 750). Now the
    draft says decimal ",", thousands "." and ingest reads 1,500, 750, 12,000 and 2,250 (4 = 4 + 0).
    Guard: a sample with 1.5 or 0.250 beside such values keeps the decimal dot."""
    import pandas as pd

    from pipelines.sources.suggest import _number, suggest_source

    export = tmp_path / "rechnungen.csv"
    export.write_text(GERMAN_WHOLE, encoding="utf-8")
    draft = suggest_source(export).text
    assert 'decimal: ","' in draft and 'thousands: "."' in draft, draft
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _ingest_config(tmp_path, GERMAN_WHOLE, escaped, name="rechnungen.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (4, 4, 0)
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].astype(float).to_dict()
    assert amounts == {"RE-1001": 1500.0, "RE-1002": 750.0, "RE-1003": 12000.0, "RE-1004": 2250.0}
    assert _number(pd.Series(["1.500", "1.5"])) == (".", None)
    assert _number(pd.Series(["1.500", "0.250"])) == (".", None)


# ---------------------------------------------------------------- item 5: Excel's text marker on ids


def test_an_id_written_with_excels_text_marker_is_the_same_id(tmp_path: Path) -> None:
    """A CSV written for Excel keeps an id's leading zeros with the text marker: `'00123` (the
    invoices), while the payments file writes `00123`. Before: two debtors `'00123` and `00123`,
    the payment quarantined debtor_mismatch (its invoice I1 belonged to `'00123`): invoices 2 = 2 +
    0, payments 1 = 0 + 1. Now the apostrophe before a digit is dropped from ids: one debtor 00123,
    payments 1 = 1 + 0 (P1 on I1); `'t Hoen BV` (a Dutch name used as id) keeps its apostrophe."""
    from hostile_sources import AS_OF

    from pipelines.ingest import ingest_files

    inv = tmp_path / "invoices.csv"
    inv.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,'00123,2024-09-05,2024-10-05,100.00\n"
        "I2,00123,2024-10-20,2024-11-19,50.00\n"
        "I3,'t Hoen BV,2024-10-21,2024-11-20,70.00\n"
        "'0042,'t Hoen BV,2024-10-22,2024-11-21,30.00\n",
        encoding="utf-8",
    )
    pay = tmp_path / "payments.csv"
    pay.write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,00123,I1,2024-11-05,100.00\n", encoding="utf-8"
    )
    result = ingest_files({"invoices": inv, "payments": pay}, None, as_of=AS_OF)
    t = result.manifest["tables"]
    assert (t["payments"]["rows_in"], t["payments"]["rows_accepted"]) == (1, 1)
    invoices = result.portfolio.invoices.set_index("invoice_id")["debtor_id"].to_dict()
    assert invoices == {"I1": "00123", "I2": "00123", "I3": "'t Hoen BV", "0042": "'t Hoen BV"}


# ---------------------------------------------------------------- item 5: two exports joined into one file


def test_a_header_line_repeated_inside_the_file_is_named(tmp_path: Path) -> None:
    """Two monthly exports joined with `cat` (or copied one under the other in a spreadsheet): the
    second file's header line sits among the rows. Before: that row quarantined with the parse
    errors of its cells (unparseable_date:due_date; unparseable_date:issue_date;
    unparseable_number:amount) and no detail. Now its reason includes repeated_header and its detail
    says what it is: by hand 4 in = 3 accepted + 1 quarantined (source row 3). In a source config
    the row is compared with the file's own column names (`Rechnungsnummer`, ...)."""
    from hostile_sources import AS_OF

    from pipelines.ingest import ingest_files

    head = "invoice_id,debtor_id,issue_date,due_date,amount\n"
    inv = tmp_path / "invoices.csv"
    inv.write_text(
        head
        + "I1,D1,2024-09-05,2024-10-05,100.00\nI2,D1,2024-10-20,2024-11-19,50.00\n"
        + head
        + "I3,D2,2024-11-01,2024-12-01,80.00\n",
        encoding="utf-8",
    )
    result = ingest_files({"invoices": inv}, None, as_of=AS_OF)
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (4, 3, 1)
    q = result.quarantine["invoices"]
    assert q["source_row"].tolist() == [3]
    assert q["reason"].iloc[0] == "repeated_header"  # the one reason, not its cells' parse errors
    assert q["detail"].iloc[0].startswith("this row is the file's header again: two exports joined")
    german = GERMAN_WHOLE.replace(
        "RE-1003;", "Rechnungsnummer;Kunde;Rechnungsdatum;Fällig am;Betrag\r\nRE-1003;"
    )
    config = """kind: source
name: de
csv: {{delimiter: ";"}}
rules: {{data_docs: false}}
values: {{date_format: d.m.Y, decimal: ",", thousands: "."}}
tables:
  invoices:
    path: {path}
    columns: {{invoice_id: Rechnungsnummer, debtor_id: Kunde, issue_date: Rechnungsdatum, due_date: Fällig am, amount: Betrag}}
"""
    result = _ingest_config(tmp_path, german, config)
    assert result.manifest["tables"]["invoices"]["reasons"]["repeated_header"] == 1
    assert result.quarantine["invoices"]["source_row"].tolist() == [3]
