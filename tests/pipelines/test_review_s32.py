"""Session 32 (s32-review): tests for mutants that survived the session's own tests (BENCHMARKS.md,
"Session 32 (s32-review)", E entries of benchmarks/review_mutations.py). Every expected value is by
hand."""

from __future__ import annotations

import pandas as pd

from features.tables import Portfolio
from pipelines.engine import Book
from pipelines.flows.nightly import all_quarantined


def test_a_quarantine_frame_names_nobody_for_an_exact_copy() -> None:
    """The in-memory ingest hands the nightly its quarantine as frames, not as a path (E5). D5's
    invoice I5 is dated after the as-of date (its kept row: date_after_as_of:issue_date) and the
    feed holds it twice (the copy: duplicate_row alone); D5 has no accepted invoice and has lost
    nothing tonight, so it is not named. D7's one invoice was refused (no_fx_rate:USD): named."""
    accepted = pd.DataFrame(
        {
            "invoice_id": ["I3"],
            "debtor_id": pd.Series(["D2"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01"]),
            "due_date": pd.to_datetime(["2024-05-31"]),
            "amount": [10.0],
        }
    )
    book = Book.in_memory(Portfolio(invoices=accepted), 1_000)
    quarantine = {
        "invoices": pd.DataFrame(
            {
                "invoice_id": ["I5", "I5", "I7"],
                "debtor_id": ["D5", "D5", "D7"],
                "reason": ["date_after_as_of:issue_date", "duplicate_row", "no_fx_rate:USD"],
            }
        )
    }
    scores = pd.DataFrame({"debtor_id": ["D2", "D5", "D7"], "pd": [0.01, 0.02, 0.03]})
    reasons = {"date_after_as_of:issue_date": 1, "duplicate_row": 1, "no_fx_rate:USD": 1}
    found = all_quarantined(book, quarantine, scores, reasons)
    assert found["debtor_id"].tolist() == ["D7"]
    assert found["reasons"].tolist() == ["no_fx_rate:USD (1)"]


def test_champion_on_keeps_a_time_written_after_a_space(mlflow_uri) -> None:
    """ISO 8601 as Python reads it lets a space stand for the 'T' (E2): `2024-02-01 12:00` is noon,
    not the end of the day."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", "2024-02-01 12:00", "--runs", "/nonexistent"])
    assert result.exit_code == 1, result.output  # no champion, no run: exit 1
    assert "no champion of ews-pd at 2024-02-01 12:00:00 UTC" in result.output, result.output
