"""Hostile inputs, session 16 review (s16-review; BENCHMARKS.md "Hostile inputs tried", "Session 16
(s16-review)"): defects found in session 16's clearing join, each with the test that failed before
its fix. Hand-built files; expected figures computed by hand in each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig

LEDGER = """kind: source
name: fbl5n
csv: {{delimiter: ";"}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["RV"]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Customer, issue_date: Document Date, due_date: Net Due Date, amount: Amount, currency: Currency}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["DZ"]}}}}
    negate_amount: true
    clearing: {{column: "Clearing Document"}}
    columns: {{payment_id: Document Number, debtor_id: Customer, paid_on: Document Date, amount: Amount, currency: Currency}}
"""


def test_path_override_of_one_side_of_a_clearing_join_is_refused(tmp_path: Path) -> None:
    """``ews ingest --source ... --path payments=NEW``: before, the copy skipped the config's checks,
    so tables.invoices still read the old file while the join took its invoice rows from the new
    one (the payments' file): invoices of one export, payments allocated by another's. Now refused
    with the fix, as the config check refuses the two paths written in the file."""
    config = tmp_path / "source.yaml"
    config.write_text(LEDGER.format(path=tmp_path / "ledger.csv"), encoding="utf-8")
    source = load_config(config, SourceConfig)
    with pytest.raises(ValueError, match=r"tables.invoices must read .*new\.csv too"):
        source.with_paths({"payments": tmp_path / "new.csv"})
    moved = source.with_paths({"payments": tmp_path / "new.csv", "invoices": tmp_path / "new.csv"})
    assert moved.tables["invoices"].path == moved.tables["payments"].path == tmp_path / "new.csv"
