"""Session 41 (s41-limits): s40-attack's leftovers in the overrides log. Each test fails on main aa34baa, before its
fix; every expected value is worked out by hand in the docstring."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from datetime import UTC
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.scoring.overrides import AuditLogError, Override, append_override, check_log, read_log
from tests.pipelines.test_audit_s39 import _publish, _three_lines

runner = CliRunner()


def _book(runs: Path, book_id: str, data: str, **more: object) -> None:
    """``runs/book.json`` as the first published run records it (pipelines.adapters.book.record_book)."""
    runs.mkdir(parents=True, exist_ok=True)
    body = {"book_id": book_id, "data_dir": data, "first_run": "2026-01-03", **more}
    (runs / "book.json").write_text(json.dumps(body))


# ------------------------------------------------- an overrides log copied whole from another book's runs folder


def test_an_overrides_log_copied_from_another_books_runs_folder_is_named_and_refused(tmp_path: Path) -> None:
    """Book A's runs folder: three overrides entered there (D1, D2, D3, 4-6 January), each line now recording A's
    book id. Book B's folder: its run of 10 January read an empty log. Someone copies A's overrides.jsonl over B's
    (s40-attack: the same run dates, so every other check passes). Before: accepted, the next nightly of B applied
    A's overrides to B's debtors D1-D3. Now B's nightly (check_log) and `ews watchlist override` in B refuse it,
    naming line 1, A's id, B's id and folder, and the fix; nothing is written. A's own folder goes on."""
    a, b = tmp_path / "runs_a", tmp_path / "runs_b"
    _book(a, "a" * 32, "/data/a")
    _book(b, "b" * 32, "/data/b")
    _three_lines(a)
    assert [r["book"] for r in read_log(a)] == ["a" * 32] * 3
    jan10_a = _publish(a, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00")
    jan10_b = _publish(b, "2026-01-10", 0, read_at="2026-01-11T02:00:00+00:00")
    check_log(a, jan10_a)

    shutil.copy(a / "overrides.jsonl", b / "overrides.jsonl")
    before = (b / "overrides.jsonl").read_bytes()
    with pytest.raises(AuditLogError) as err:
        check_log(b, jan10_b)  # B's nightly of 11 January
    said = str(err.value)
    assert said.startswith(
        f"{b / 'overrides.jsonl'} line 1 (debtor D1, by anna, at 2026-01-04T10:00:00Z) was entered in the runs "
        f"folder of book {'a' * 32}, but {b} holds the runs of book {'b' * 32} (--data /data/b; {b / 'book.json'}): "
        "this log was copied from another book's runs folder"
    ), said
    assert said.endswith(
        "Put this folder's own overrides.jsonl back (from a backup, or remove it if this folder had none), then "
        "enter again with `ews watchlist override` any override meant for this book"
    ), said
    request = Override("D2", "escalated", "called the CFO", "ben", dt.date(2026, 1, 10), 0.2)
    with pytest.raises(AuditLogError, match="was entered in the runs folder of book a{32}"):
        append_override(b, request, now=dt.datetime(2026, 1, 11, 9, tzinfo=UTC))
    assert (b / "overrides.jsonl").read_bytes() == before
    # through the command, on B's published run (D2 scored at 2 %): exit 2, the message, nothing written
    import pandas as pd

    scores = pd.DataFrame(
        {"debtor_id": pd.array(["D2"], dtype="string"), "pd": [0.02], "in_default": [False]}
    )
    scores.to_parquet(jan10_b / "scores.parquet")
    got = runner.invoke(
        app,
        ["watchlist", "override", "D2", "--status", "escalated", "--reason", "called the CFO", "--by", "ben",
         "--out", str(b)],
    )  # fmt: skip
    assert got.exit_code == 2 and "was entered in the runs folder of book" in got.output, got.output
    assert "Traceback" not in got.output and (b / "overrides.jsonl").read_bytes() == before


def test_lines_without_a_book_and_a_folder_ingested_anew_keep_their_overrides(tmp_path: Path) -> None:
    """What the book check must not refuse: a log written before session 41 (lines without ``book``: their hash is
    the hash they were written with) and a folder emptied and ingested anew (s40 f7d379f: book.json records the new
    id and, now, the earlier one in ``earlier_ids``): lines entered under the old id are this book's. A folder with
    no book.json yet (no run published) has nothing to compare with."""
    runs = tmp_path / "runs"
    _three_lines(runs)  # no book.json: lines without a book
    old = (runs / "overrides.jsonl").read_text().splitlines()
    assert all("book" not in json.loads(x) for x in old)
    _book(runs, "c" * 32, "/data/c")
    jan10 = _publish(runs, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00")
    check_log(runs, jan10)
    append_override(
        runs,
        Override("D1", "cleared", "paid", "anna", dt.date(2026, 1, 10)),
        now=dt.datetime(2026, 1, 11, 9, tzinfo=UTC),
    )
    assert read_log(runs)[-1]["book"] == "c" * 32
    # the folder ingested anew: a new id, the old one kept as earlier
    from pipelines.adapters.book import record_book

    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"book_id": "d" * 32}))
    (runs / "book.json").write_text(json.dumps({"book_id": "c" * 32, "data_dir": str(data.resolve())}))
    record_book(runs, data)
    recorded = json.loads((runs / "book.json").read_text())
    assert recorded["book_id"] == "d" * 32 and recorded["earlier_ids"] == ["c" * 32]
    check_log(runs, jan10)  # line 4 (book c) is this folder's


# ------------------------------------------------- a clock running ahead of the log


def test_a_line_entered_on_a_clock_running_ahead_is_named_by_the_next_run_and_blocks_no_one_after_it(
    tmp_path: Path,
) -> None:
    """Lines 1-3 dated 4-6 January 10:00; the run of 10 January read them at 2026-01-11 02:00. Carl's laptop runs
    a day ahead: on 11 January 09:00 he enters line 4, dated 2026-01-12T09:00:00Z. The nightly of 11 January reads
    the log at 2026-01-12 02:00: line 4 is dated 7 hours after its clock. Before: nothing said it, and Ben, on a
    right clock on 12 January 08:00, was refused ("1 hour before line 4 ... enter this override after 2026-01-12
    08:55 UTC"), as was everyone until 08:55 on the 12th. Now the run names line 4 (lines_ahead: 7 hours ahead,
    by carl), and once the run of 11 January has read line 4 at 02:00, 7 hours before its own time, the clock that
    ran ahead is known: Ben's line 5 (08:00) is written, and the next nightly's check accepts a line 5 dated before
    line 4. A line dated before the run's read (01:00 on the 12th) is still refused."""
    from pipelines.scoring.overrides import OverrideError, lines_ahead

    runs = tmp_path / "runs"
    _three_lines(runs)
    _publish(
        runs, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00", created_at="2026-01-11T02:30:00+00:00"
    )
    carl = Override("D1", "escalated", "no answer from the CFO", "carl", dt.date(2026, 1, 10), 0.03)
    append_override(runs, carl, now=dt.datetime(2026, 1, 12, 9, tzinfo=UTC))  # the laptop's time

    night = dt.datetime(2026, 1, 12, 2, tzinfo=UTC)  # the nightly of 11 January reads the log
    ahead = lines_ahead(runs, read_log(runs), night)
    assert [(x["line"], x["by"], x["at"], x["ahead"]) for x in ahead] == [
        (4, "carl", "2026-01-12T09:00:00Z", "7 hours")
    ]
    assert ahead[0]["said"].startswith(
        f"{runs / 'overrides.jsonl'} line 4 (debtor D1, by carl) is dated 2026-01-12T09:00:00Z, 7 hours after this "
        "run's clock (2026-01-12 02:00:00 UTC): the clock of the machine it was entered on runs ahead"
    ), ahead[0]["said"]
    jan11 = _publish(
        runs, "2026-01-11", 4, read_at="2026-01-12T02:00:00+00:00", created_at="2026-01-12T02:30:00+00:00"
    )
    assert lines_ahead(runs, read_log(runs), night) == []  # read: no longer the next run's to say

    ben = Override("D2", "under_review", "waiting for remittance", "ben", dt.date(2026, 1, 11), 0.1)
    with pytest.raises(OverrideError, match="before the run of 2026-01-11 read"):
        append_override(runs, ben, now=dt.datetime(2026, 1, 12, 1, tzinfo=UTC))  # before the run's read
    append_override(runs, ben, now=dt.datetime(2026, 1, 12, 8, tzinfo=UTC))
    assert [r["by"] for r in read_log(runs)] == ["anna", "anna", "anna", "carl", "ben"]
    check_log(runs, jan11)  # the nightly of 12 January goes on
