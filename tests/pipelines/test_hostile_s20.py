"""Hostile inputs, session 20 (s20-robust; BENCHMARKS.md "Hostile inputs tried", "Session 20
(s20-robust)"): the real-export items session 19 left open, then new attacks on real export shapes.
Each test failed on the code before its fix (main 26c3044) unless it says it is a guard; files are
hand-written after the exports' layouts (not exports from Odoo or NetSuite), expected figures
computed by hand."""

from __future__ import annotations

from pathlib import Path

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
