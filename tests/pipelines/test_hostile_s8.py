"""Session 8 (s8-robust): hostile inputs and faults, end to end through the ``ews`` commands.

Each test was written before its fix and fails without it. Small books, < 3 s each warm.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_days_past_due_above_ten_years_is_quarantined_and_rows_add_up(tmp_path: Path) -> None:
    """Before: a statement's days_past_due of 1,000,000, or an Excel date serial (45,321 =
    2024-01-30) in a mis-mapped DPD column, was accepted as data. The contract's ceiling is
    3,650 days (features/schema.py MAX_DAYS_PAST_DUE); 3,650 itself is kept."""
    from pipelines.ingest import ingest_files

    st = tmp_path / "statements.csv"
    st.write_text(
        "debtor_id,period_end,balance,days_past_due\n"
        "A,2024-01-31,100,0\n"
        "A,2024-02-29,100,3650\n"
        "B,2024-01-31,50,3651\n"
        "B,2024-02-29,50,1000000\n"
        "C,2024-01-31,70,45321\n"
        "C,2024-02-29,70,-1\n",
        encoding="utf-8",
    )
    result = ingest_files({"statements": st}, tmp_path / "out", as_of=dt.date(2024, 3, 31))
    entry = result.manifest["tables"]["statements"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (6, 2, 4)
    assert result.portfolio.statements["days_past_due"].tolist() == [0, 3650]
    text = (tmp_path / "out" / "quarantine" / "statements.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["debtor_id"], r["days_past_due"], r["reason"]) for r in rows] == [
        ("B", "3651", "implausible_days_past_due"),
        ("B", "1000000", "implausible_days_past_due"),
        ("C", "45321", "implausible_days_past_due"),
        ("C", "'-1", "negative_days_past_due"),
    ]
