"""The ingest's warning for a table with more than 20 % of its rows quarantined names the likely
cause. For dates after the as-of date it borrowed the whole-table hint, "every date is after the
as-of date", also when only a share was (s30-third: `ews ingest --as-of` a month-end inside a
36-month book quarantined 26,652 of 130,621 invoices, 20 %, and said "every date")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source


def _warnings(tmp_path: Path, late: int, early: int) -> list[str]:
    inv = tmp_path / "invoices.csv"
    rows = [f"I{i},D1,2024-{1 + i % 6:02d}-05,2024-{1 + i % 6:02d}-25,99.90\n" for i in range(early)]
    rows += [f"L{i},D1,2025-03-05,2025-03-25,99.90\n" for i in range(late)]
    inv.write_text("invoice_id,debtor_id,issue_date,due_date,amount\n" + "".join(rows), encoding="utf-8")
    source = SourceConfig(
        name="files", rules=RulesConfig(data_docs=False), tables={"invoices": FileSource(path=inv)}
    )
    manifest = ingest_source(source, None, as_of=dt.date(2024, 12, 31)).manifest
    assert manifest["tables"]["invoices"]["reasons"] == {"date_after_as_of:issue_date": late}
    return [w for w in manifest["warnings"] if "quarantined" in w]


def test_a_share_of_rows_after_the_as_of_date_is_not_called_every_date(tmp_path: Path) -> None:
    """30 of 100 invoices dated 2025-03-05, ingested as of 2024-12-31: 30 % quarantined."""
    assert _warnings(tmp_path, late=30, early=70) == [
        "invoices: 30 of 100 rows (30%) quarantined, 30 of them date_after_as_of:issue_date. Likely cause: "
        "they are dated after the as-of date (--as-of, default today): a file exported after that day, or a "
        "wrong date format; give the export's own date as --as-of. `ews score` refuses a feed with more than "
        "max_quarantine_share (20 %) of a table's rows quarantined: fix the file or the source config and "
        "ingest again; see quarantine/invoices.csv"
    ]
