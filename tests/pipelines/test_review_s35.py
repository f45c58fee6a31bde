"""Session 35 review (s35-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches
(benchmarks/review_mutations.py, K entries)."""

from __future__ import annotations

import datetime as dt
import json
import types

from tests.pipelines.test_walk_s35 import _old_export


def _clock(monkeypatch, day: dt.date) -> None:
    """Make ``pipelines.ingest`` read ``day`` as today (UTC); nothing else of the clock changes."""
    import pipelines.ingest as ingest_pkg

    class _Now(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(day.year, day.month, day.day, 12, tzinfo=tz)

    fake = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("__")})
    fake.datetime = _Now
    monkeypatch.setattr(ingest_pkg, "dt", fake)


def test_an_old_export_ingested_on_another_day_writes_the_same_manifest(tmp_path, monkeypatch) -> None:
    """dbcf954: an old export without --as-of is dated by its last row (2024-06-14), so ingesting it again on
    another day is a rerun for the same as-of date and must write the same manifest.json bytes (README:
    "Re-running on the same inputs and as-of date writes byte-identical files"). The note carried today's
    date and the days since the export's end, so the manifest changed every day."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    files = _old_export(tmp_path / "raw")
    texts = []
    for day in (dt.date(2026, 12, 6), dt.date(2027, 3, 1)):
        _clock(monkeypatch, day)
        out = tmp_path / "out"  # the same folder: a rerun
        run = ingest_files(files, out, settings=RulesConfig(data_docs=False), default_currency="EUR")
        assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-06-14", "export_end")
        texts.append((out / "manifest.json").read_bytes())
    assert texts[0] == texts[1]
    notes = json.loads(texts[0])["notes"]
    assert len(notes) == 1 and "`ews score --as-of 2024-06-14`" in notes[0]


def test_an_old_export_is_dated_by_its_end_on_the_streamed_path_too(tmp_path, monkeypatch) -> None:
    """dbcf954: the streamed ingest (inputs above STREAM_ROWS: every large book) must date an old export by
    its last dated row as the in-memory one does (mutation: the streamed manifest built without
    ``as_of_from``, so it kept today's date)."""
    import pipelines.ingest as ingest_pkg
    from pipelines.config.source import RulesConfig

    monkeypatch.setattr(ingest_pkg, "STREAM_ROWS", 0)  # this tiny book takes the streamed path
    files = _old_export(tmp_path / "raw")
    run = ingest_pkg.ingest_files(files, tmp_path / "out", settings=RulesConfig(data_docs=False),
                                  default_currency="EUR")  # fmt: skip
    assert "layout" in run.manifest and (tmp_path / "out" / "manifest.json").exists()
    assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-06-14", "export_end")
    assert (
        sum(n.startswith("as of 2024-06-14, the export's last dated row") for n in run.manifest["notes"]) == 1
    )


def test_an_old_export_with_a_mistyped_late_row_is_dated_by_the_bulk_end(tmp_path) -> None:
    """dbcf954: an old export whose bulk ends 2024-04-29 and one payment typed a year late (2025-04-19 for
    2024-04-19) is dated by the bulk's end (late_rows' export_end), not by the typo (mutation: ``max(days)``
    instead of late_rows' end dated it 2025-04-19, a date with no data in the year before it).

    By hand: 120 invoices, one a day from 2024-01-01 (day 119 is 2024-04-29, 2024 a leap year), 100 of
    them paid 10 days after issue (2024-01-11 .. 2024-04-19); 221 dated rows, so at most 2 late rows
    (1 %); the typo follows a silence of 355 days."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    raw = tmp_path / "raw"
    raw.mkdir()
    start = dt.date(2024, 1, 1)
    inv = ["invoice_id,debtor_id,issue_date,due_date,amount"]
    pay = ["payment_id,debtor_id,invoice_id,paid_on,amount"]
    for k in range(120):
        issued = start + dt.timedelta(days=k)
        inv.append(f"I{k},D{k % 40},{issued},{issued + dt.timedelta(days=30)},100.00")
        if k < 100:
            pay.append(f"P{k},D{k % 40},I{k},{issued + dt.timedelta(days=10)},100.00")
    pay.append("P120,D20,I100,2025-04-19,100.00")  # I100 (D20, issued 2024-04-10): its year mistyped
    (raw / "invoices.csv").write_text("\n".join(inv) + "\n")
    (raw / "payments.csv").write_text("\n".join(pay) + "\n")
    files = {"invoices": raw / "invoices.csv", "payments": raw / "payments.csv"}
    run = ingest_files(files, tmp_path / "out", settings=RulesConfig(data_docs=False), default_currency="EUR")
    assert run.manifest["late_rows"]["export_end"] == "2024-04-29"
    assert run.manifest["late_rows"]["rows"] == 1
    assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-04-29", "export_end")
