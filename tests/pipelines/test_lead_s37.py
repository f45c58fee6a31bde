"""Session 37, lead: an old export cut at a month-end that falls on a weekend (s36-walk W13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("end", "month_end"),
    [
        (dt.date(2024, 11, 29), dt.date(2024, 11, 30)),  # Friday -> Saturday month-end
        (dt.date(2024, 3, 29), dt.date(2024, 3, 31)),  # Friday -> Sunday month-end (Saturday between)
        (dt.date(2024, 3, 30), dt.date(2024, 3, 31)),  # Saturday -> Sunday month-end
        (dt.date(2024, 6, 14), None),  # Friday mid-June: working days follow
        (dt.date(2024, 9, 27), None),  # Friday; Monday 2024-09-30 is the month-end, a working day
        (dt.date(2024, 11, 30), None),  # the month-end itself
        (dt.date(2024, 12, 31), None),  # a Tuesday month-end itself
    ],
)
def test_weekend_month_end_by_hand(end: dt.date, month_end: dt.date | None) -> None:
    from pipelines.ingest.staged import weekend_month_end

    assert weekend_month_end(end) == month_end


def _export(folder: Path, last_paid: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-09-02,2024-10-02,100.00\n"
        "I2,D2,2024-10-10,2024-11-09,250.00\n"
    )
    (folder / "payments.csv").write_text(
        f"payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,{last_paid},100.00\n"
    )
    return {"invoices": folder / "invoices.csv", "payments": folder / "payments.csv"}


def test_an_old_export_ending_the_friday_before_a_saturday_month_end_names_the_month_end(tmp_path) -> None:
    """An export cut at Saturday 2024-11-30 ends with Friday 2024-11-29's rows: the note says how to score
    the Friday and that the month-end scores as well (before: the Friday only, and a user who scores
    month-ends hesitated). An export ending mid-month names its last row only."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    run = ingest_files(_export(tmp_path / "a", "2024-11-29"), tmp_path / "out_a",
                       settings=RulesConfig(data_docs=False), default_currency="EUR")  # fmt: skip
    assert run.manifest["as_of"] == "2024-11-29"
    (note,) = [n for n in run.manifest["notes"] if n.startswith("as of 2024-11-29")]
    assert (
        "`ews score --as-of 2024-11-29`, or its month-end with `ews score --as-of 2024-11-30` (a Saturday"
        in note
    )

    run = ingest_files(_export(tmp_path / "b", "2024-11-15"), tmp_path / "out_b",
                       settings=RulesConfig(data_docs=False), default_currency="EUR")  # fmt: skip
    (note,) = [n for n in run.manifest["notes"] if n.startswith("as of 2024-11-15")]
    assert "month-end" not in note and "`ews score --as-of 2024-11-15`;" in note
