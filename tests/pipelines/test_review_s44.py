"""Session 44 (s44-review): tests for mutants that survived their commits' own tests (session 43's O25 and
session 44's; benchmarks/review_mutations.py). Each test names the commit and the mutant it catches. Every
expected value is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd


def test_a_small_invoices_table_with_no_invoice_accepted_gets_no_missing_debtor_sentence(
    tmp_path: Path,
) -> None:
    """fa9e2a7 (s43-attack): the missing-debtor warning is for a customer master that dropped a customer
    while other invoices are accepted. Debtors D1, D2; invoices I2 (D3, 500.00), I3 (D3, 300.00); P1 pays
    200.00 of I2: every invoice and payment is D3's, none accepted. Two rows are under
    refuse_empty_table_rows (10), so the ingest is not refused: each table's "none of N rows accepted" line
    is the whole word, no "missing from the debtors table" sentence (mutant O25 added it: 2 invoices of 1
    debtor, 600.00 open). Rows in = accepted + quarantined per table."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"debtor_id": ["D1", "D2"]}).to_csv(folder / "debtors.csv", index=False)
    pd.DataFrame(
        {
            "invoice_id": ["I2", "I3"],
            "debtor_id": ["D3", "D3"],
            "issue_date": "2024-05-01",
            "due_date": "2024-05-31",
            "amount": ["500.00", "300.00"],
        }
    ).to_csv(folder / "invoices.csv", index=False)
    pd.DataFrame(
        {"payment_id": ["P1"], "debtor_id": ["D3"], "invoice_id": ["I2"], "paid_on": ["2024-06-01"]}
        | {"amount": ["200.00"]}
    ).to_csv(folder / "payments.csv", index=False)
    files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
    result = ingest_files(
        files, None, as_of=dt.date(2024, 6, 30), settings=RulesConfig(data_docs=False), default_currency="EUR"
    )
    assert result.manifest["warnings"] == [
        "invoices: none of 2 rows accepted (unknown_debtor (2)); see quarantine/invoices.csv",
        "payments: none of 1 row accepted (unknown_debtor (1)); see quarantine/payments.csv",
    ]
    counts = {
        t: (m["rows_in"], m["rows_accepted"], m["rows_quarantined"])
        for t, m in result.manifest["tables"].items()
    }
    assert counts == {"debtors": (2, 2, 0), "invoices": (2, 0, 2), "payments": (1, 0, 1)}
