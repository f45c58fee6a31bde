"""Session 13 (s13-rollrate, part B): a ledger that resumes slowly after a long silence is not read
as mistyped dates (s11-robust / s12-rollrate open item; BENCHMARKS.md "Hostile inputs", "Session 13
(s13-rollrate)"). Written before the fix, fails without it. Tiny hand-made data, hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source

START = dt.date(2024, 1, 1)
LAST = dt.date(2024, 4, 9)  # the bulk: 1,000 invoices, ten a day from START


def test_a_slow_resumption_is_not_cut_but_a_batch_of_typos_is() -> None:
    """1,000 days with 10 rows each (pace 10 a day, at most 100 late rows), then 40 silent days.
    Resumed: one row every 7 days for 9 weeks (10 rows on 10 days spanning 63 days, no silence over
    35): 10 < 0.1 x 10 x 64 = 64 made it 'mistyped' before; now the ledger's end is its last day. A
    batch of 3 rows on 3 consecutive days (a wrong year typed in one sitting: span 2 < 14 days) and
    two rows 160 days apart (a silence over 35 between them) are still cut."""
    from pipelines.ingest.staged import export_end

    bulk = {START + dt.timedelta(days=i): 10 for i in range(1000)}
    last = START + dt.timedelta(days=999)

    def after(*offsets: int) -> dict[dt.date, int]:
        return {**bulk, **{last + dt.timedelta(days=d): 1 for d in offsets}}

    assert export_end(after(*(40 + 7 * k for k in range(10)))) is None
    assert export_end(after(300, 301, 302)) == (last, 3)
    assert export_end(after(40, 200)) == (last, 2)
    # the least that reads as resumed: 3 days spanning 14 (3 < 0.1 x 10 x 15 = 15 by pace alone);
    # spanning 13 it is cut (3 < 14)
    assert export_end(after(40, 47, 54)) is None
    assert export_end(after(40, 47, 53)) == (last, 3)


def test_a_resumed_ledger_is_scored_as_fresh(tmp_path: Path) -> None:
    """1,000 invoices ten a day up to 2024-04-09, 40 silent days, then one invoice a week for 9
    weeks (2024-05-19 .. 2024-07-21: 10 rows, at most 1 % of 1,010; 10 < 0.1 x 10 x 64). Before:
    'probably mistyped dates', the export's end taken as 2024-04-09, so `ews score --as-of
    2024-07-31` refused the book as 113 days stale. Now no warning, no late_rows, the data's end is
    2024-07-21 and the as-of passes the data-lag check (10 days); rows in 1,010 = 1,010 accepted + 0
    quarantined."""
    from pipelines.scoring.data_window import check_as_of, data_window

    days = [START + dt.timedelta(days=i // 10) for i in range(1000)]
    days += [LAST + dt.timedelta(days=40 + 7 * k) for k in range(10)]
    assert days[-1] == dt.date(2024, 7, 21)
    lines = [f"I{i},D{i % 7},{d},{d + dt.timedelta(days=30)},100\n" for i, d in enumerate(days)]
    path = tmp_path / "invoices.csv"
    path.write_text("invoice_id,debtor_id,issue_date,due_date,amount\n" + "".join(lines), encoding="utf-8")
    source = SourceConfig(
        name="files", rules=RulesConfig(data_docs=False), tables={"invoices": FileSource(path=path)}
    )
    out = tmp_path / "out"
    manifest = ingest_source(source, out, as_of=dt.date(2024, 7, 31)).manifest
    entry = manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (1010, 1010, 0)
    assert "late_rows" not in manifest or manifest["late_rows"] is None
    assert not [w for w in manifest["warnings"] if w.startswith("dates:")]
    assert data_window(out) == (START, dt.date(2024, 7, 21))
    check_as_of(dt.date(2024, 7, 31), data_window(out), 35, out)  # no StaleDataError


def test_a_typo_batch_after_a_resumed_ledger_is_cut_alone() -> None:
    """s13-review: the resumed ledger of the first test (10 rows on days 40, 47, .. 103 after the
    bulk's last day), then 300 silent days and a wrong year typed in one sitting (3 rows on days 403,
    404, 405). Before: the typos were not cut at their own silence (pace over the 90 days before it:
    10 rows / 90 = 0.11 a day; 3 >= 0.1 x 0.11 x 7) and the resumed rows were cut with them, the
    export's end taken as the bulk's (13 late rows: `ews score` refused a live book as stale). Now the
    pace before a slow resumption is the bulk's (10 a day: 3 < 0.1 x 10 x 7 = 7), the typos alone
    are cut, and the resumed rows are judged without them."""
    from pipelines.ingest.staged import export_end

    bulk = {START + dt.timedelta(days=i): 10 for i in range(1000)}
    last = START + dt.timedelta(days=999)
    resumed = [40 + 7 * k for k in range(10)]
    late = {last + dt.timedelta(days=d): 1 for d in [*resumed, 403, 404, 405]}
    assert export_end({**bulk, **late}) == (last + dt.timedelta(days=103), 3)
    # a seasonal ledger: the same slow resumption, 60 days' pause, a second one (days 163 .. 226).
    # Before: cut at the bulk's end (20 rows: a silence over 35 inside them); now each run reads as
    # resumed at its own silence (pace before the second: the bulk's, 10 < 0.1 x 10 x 64, but 10
    # days spanning 63)
    second = {last + dt.timedelta(days=163 + 7 * k): 1 for k in range(10)}
    assert export_end({**bulk, **{last + dt.timedelta(days=d): 1 for d in resumed}, **second}) is None
