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
