"""Session 40 (s40-attack): hostile and careless inputs against the code added in session 39 (the overrides
log's clock checks and `ews watchlist accept-log`, mixed invoice + statements books). Each test fails on main
4b2921c, before its fix; every expected value is worked out by hand in the docstring."""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.scoring.overrides import (
    ACCEPTED_LOG,
    AuditLogError,
    Override,
    OverrideError,
    append_override,
    check_log,
    read_log,
)
from tests.pipelines.test_audit_s39 import _publish, _three_lines
from tests.pipelines.test_hostile_s38 import _forged

runner = CliRunner()


# ------------------------------------------------- the overrides log and a clock far off


def test_an_override_entered_on_a_clock_far_behind_is_refused_at_once_not_by_the_next_nightly(
    tmp_path: Path,
) -> None:
    """The run of 10 January read the log (3 lines) at 2026-01-11 02:00. An analyst whose laptop runs a day
    behind enters an override at what the laptop calls 2026-01-10 02:30. Before: "override 4 ... applies from
    the next run", exit 0, and the next nightly stopped on it ("dated before the run of 2026-01-10 read the
    log ... `ews watchlist override` does not write such a line (a line forged or copied in)"). Now the command
    refuses it, nothing written, naming the clocks: 02:30 on the 10th is 23 hours 30 minutes before 02:00 on
    the 11th. 4 minutes behind (01:56, inside the 5-minute slack) is written and the nightly accepts it.
    Two analysts: line 5 dated 10 minutes before line 4 (02:10 vs 02:20 on the 11th) is refused, 4 minutes
    before (02:16) is written."""
    runs = tmp_path / "runs"
    _three_lines(runs)  # lines dated 4, 5 and 6 January 10:00
    jan10 = _publish(
        runs, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00", created_at="2026-01-11T02:30:00+00:00"
    )
    log = runs / "overrides.jsonl"
    before = log.read_bytes()
    request = Override("D9", "escalated", "called the CFO", "anna", dt.date(2026, 1, 10), 0.2)

    with pytest.raises(OverrideError) as err:
        append_override(runs, request, now=dt.datetime(2026, 1, 10, 2, 30, tzinfo=UTC))
    said = str(err.value)
    assert said.startswith(
        "this machine's clock says 2026-01-10 02:30:00 UTC, 23 hours 30 minutes before the run of 2026-01-10 "
        f"read {log} (2026-01-11T02:00:00+00:00, {jan10 / 'manifest.json'}): nothing was recorded. Set this "
        "machine's clock (and its time zone) right"
    ), said
    assert log.read_bytes() == before
    check_log(runs, jan10)  # the nightly goes on

    append_override(runs, request, now=dt.datetime(2026, 1, 11, 1, 56, tzinfo=UTC))  # 4 minutes behind
    check_log(runs, jan10)

    # two analysts, the second one's clock 10 minutes behind the first's
    log.write_bytes(before)
    append_override(runs, request, now=dt.datetime(2026, 1, 11, 2, 20, tzinfo=UTC))
    four = log.read_bytes()
    other = Override("D2", "under_review", "waiting for remittance", "ben", dt.date(2026, 1, 10), 0.1)
    with pytest.raises(OverrideError) as err:
        append_override(runs, other, now=dt.datetime(2026, 1, 11, 2, 10, tzinfo=UTC))
    said = str(err.value)
    assert said.startswith(
        f"this machine's clock says 2026-01-11 02:10:00 UTC, 10 minutes before line 4 of {log} (by anna, at "
        "2026-01-11T02:20:00Z); lines are appended in time order, so one of the two clocks is off by more "
        "than 5 minutes: nothing was recorded."
    ), said
    assert said.endswith("enter this override after 2026-01-11 02:15 UTC)"), said
    assert log.read_bytes() == four
    append_override(runs, other, now=dt.datetime(2026, 1, 11, 2, 16, tzinfo=UTC))
    check_log(runs, jan10)
    assert [json.loads(x)["seq"] for x in log.read_text().splitlines()] == [1, 2, 3, 4, 5]


# ------------------------------------------------- accept-log: the override command's checks of --reason / --by


def _log_to_accept(tmp_path: Path) -> Path:
    """Three lines read by the run of 10 January; the log then cut back to 2 lines (a backup restored):
    accept-log has the run of 10 January to replace."""
    runs = tmp_path / "runs"
    lines = _three_lines(runs)
    _publish(
        runs, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00", created_at="2026-01-11T02:30:00+00:00"
    )
    (runs / "overrides.jsonl").write_text("".join(x + "\n" for x in lines[:2]))
    return runs


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--by", "mallory\x1b[2J\x1b[31m", "--reason", "restored the backup"], "--by 'mallory\\x1b[2J"),
        (["--by", "lead", "--reason", "\u200b\u200b\u00a0"], "--reason is empty"),
        (
            ["--by", "lead", "--reason", "restored\x1b]8;;http://x\x1b\\ it"],
            "--reason holds 2 control characters",
        ),
        (["--by", "lead", "--reason", "x" * 2_001], "--reason is 2,001 characters long"),
    ],
)
def test_accept_log_refuses_what_an_override_refuses_in_reason_and_by(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """Before, `ews watchlist accept-log` checked only that --reason and --by were not blank (and --by's
    length): a --by of terminal escapes was recorded and printed raw in its confirmation ("accepted ... by
    mallory" + ESC[2J clears the terminal), a reason of zero-width spaces was a reason, a reason with an OSC
    8 link or of 2,001 characters was recorded. Now the override command's rules: exit 2, one line, nothing
    written to overrides.accepted.jsonl."""
    runs = _log_to_accept(tmp_path)
    result = runner.invoke(app, ["watchlist", "accept-log", "--out", str(runs), *args])
    assert result.exit_code == 2, result.output
    assert said in result.output, result.output
    assert "\x1b" not in result.output
    assert "Traceback" not in result.output
    assert not (runs / ACCEPTED_LOG).exists()
    ok = runner.invoke(
        app, ["watchlist", "accept-log", "--out", str(runs), "--by", "lead", "--reason", "restored"]
    )
    assert ok.exit_code == 0, ok.output
    assert len((runs / ACCEPTED_LOG).read_text().splitlines()) == 1


def test_history_writes_out_control_characters_of_a_forged_lines_by(tmp_path: Path) -> None:
    """A forged line (hashes recomputed) whose `by` is 'x' + ESC[2J (the runs folder holds the log alone):
    `ews watchlist history` printed it raw (the reason was written out since s33, the name was not). Now
    `by x\\x1b[2J`."""
    runs = tmp_path / "runs"
    append_override(
        runs,
        Override("D1", "escalated", "call booked", "anna", dt.date(2026, 1, 4)),
        now=dt.datetime(2026, 1, 4, 10, tzinfo=UTC),
    )
    log = runs / "overrides.jsonl"
    log.write_text(_forged(log.read_text().splitlines(), 1, by="x\x1b[2J"))
    result = runner.invoke(app, ["watchlist", "history", "D1", "--out", str(runs)])
    assert "\x1b" not in result.output, repr(result.output)
    assert "by x\\x1b[2J" in result.output, result.output


# ------------------------------------------------- a mixed book whose statements and invoices disagree

_INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
    "I1,D0000001,2024-01-05,2024-02-04,100.00,EUR\n"
    "I2,D0000002,2024-01-05,2024-02-04,200.00,EUR\n"
)
_PAYMENTS = "payment_id,invoice_id,debtor_id,paid_on,amount\nP1,I1,D0000001,2024-02-01,100.00\n"


def _statements(ids: tuple[str, ...], currency: str | None = None) -> str:
    head = "debtor_id,period_end,balance,amount_due,amount_paid,days_past_due" + (
        ",currency" if currency else ""
    )
    return (
        head
        + "\n"
        + "".join(
            f"{d},{end},500.00,0,0,0" + (f",{currency}" if currency else "") + "\n"
            for d in ids
            for end in ("2024-01-31", "2024-02-29")
        )
    )


def _ingest_mixed(tmp_path: Path, statements: str) -> dict:
    for name, text in (("invoices", _INVOICES), ("payments", _PAYMENTS), ("statements", statements)):
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    out = tmp_path / "data"
    args = ["ingest", "--as-of", "2024-03-01", "--out", str(out), "--no-docs"]
    for name in ("invoices", "payments", "statements"):
        args += [f"--{name}", str(tmp_path / f"{name}.csv")]
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output[-3000:]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert all(
        t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"] for t in manifest["tables"].values()
    )
    return manifest


def test_statements_ids_in_another_case_than_the_invoices_are_named_without_a_customer_master(
    tmp_path: Path,
) -> None:
    """Invoices of D0000001 and D0000002 (EUR), no debtors file; their statements written 'd0000001' and
    'd0000002' (another system of the same company). Before: 4 + 1 + 4 rows accepted, no warning, and each
    customer split into an invoice debtor and a statements-only debtor (4 debtors for 2). Now the ingest's
    warning names 2 ids differing only by letter case, the pairs and the fix. The same statements with the
    invoices' spelling: no such warning."""
    manifest = _ingest_mixed(tmp_path, _statements(("d0000001", "d0000002")))
    said = [w for w in manifest["warnings"] if "differing from another only by letter case" in w]
    assert said == [
        "debtors: 2 debtor ids differing from another only by letter case ('D0000001' and 'd0000001'; "
        "'D0000002' and 'd0000002'): ids are case-sensitive, so each spelling is a separate debtor and the "
        "customer's invoices, exposure and days past due are split between them. Spell each id one way in "
        "every export (and in the customer master), then ingest again"
    ], manifest["warnings"]
    same = _ingest_mixed(tmp_path, _statements(("D0000001", "D0000002")))
    assert not [w for w in same["warnings"] if "letter case" in w], same["warnings"]


def test_a_statements_currency_column_is_said_to_be_ignored(tmp_path: Path) -> None:
    """The statements export carries `currency` = USD on its 4 rows beside EUR invoices. Statements carry no
    currency in ews: before, the column was dropped and the balances (500.00) read as EUR without a word.
    Now a warning names the column, the reporting currency (EUR) and the fix. Without the column: none."""
    manifest = _ingest_mixed(tmp_path, _statements(("D0000001", "D0000002"), currency="USD"))
    assert manifest["tables"]["statements"]["rows_accepted"] == 4
    said = [w for w in manifest["warnings"] if w.startswith("statements: the file's column")]
    assert said == [
        "statements: the file's column 'currency' is ignored: ews reads statement amounts (balance, amount_due, "
        "amount_paid, credit_limit) as EUR, the reporting currency, without conversion (ews converts invoices "
        "and payments only). If any statement is in another currency, convert its amounts to EUR in the "
        "export and ingest again"
    ], manifest["warnings"]
    plain = _ingest_mixed(tmp_path, _statements(("D0000001", "D0000002")))
    assert not [w for w in plain["warnings"] if "currency" in w], plain["warnings"]


def test_an_empty_statements_feed_beside_a_full_invoice_feed_is_refused_in_memory_and_streamed(
    tmp_path: Path,
) -> None:
    """A mixed book's statements export cut off (a header, no rows) beside 40 invoices and 30 payments.
    Before: exit 0, `statements 0 / 0 / 0` in the table and no word; the statement accounts' balances and
    the debtors known by statements alone were left out of the night. Now refused as an empty payments or
    debtors file is, the same words in memory and streamed, nothing written. A book without --statements
    is ingested as before."""
    from tests.pipelines.test_stream_empty_early import _book, _refusal

    files = _book(tmp_path / "in", empty="")
    files["statements"] = tmp_path / "in" / "statements.csv"
    files["statements"].write_text("debtor_id,period_end,balance,amount_due,amount_paid,days_past_due\n")
    in_memory = _refusal(files, tmp_path / "mem")
    assert in_memory == (
        f"ingest refused: statements: {files['statements']} has a header but no rows, while invoices has 40 rows "
        f"({files['invoices']}), so the statement accounts (their balances, and the debtors known by their "
        "statements alone) would be left out. Export the statements again (a cut-off or filtered export?), or "
        "leave --statements out to ingest the invoices alone. Nothing was written."
    ), in_memory
    streamed = _refusal(files, tmp_path / "stream", stream=True, chunk_rows=7, partitions=3, workers=1)
    assert streamed == in_memory
    assert not (tmp_path / "mem" / "manifest.json").exists()
    assert not (tmp_path / "stream" / "manifest.json").exists()


def test_a_log_whose_last_line_end_was_dropped_takes_the_next_line_on_a_line_of_its_own(
    tmp_path: Path,
) -> None:
    """Three lines; an editor (or `printf '%s' "$(cat overrides.jsonl)"`) saves the log without its final
    line end: every reader still accepts it (only the last line may lack one). Before, the next override was
    appended to line 3 ('...}{"seq":4...'): exit 0, and from then on every run, override and history
    stopped on "line 3 is not a JSON object". Now the missing line end is written with line 4: 4 lines, the
    chain holds. A log saved with a byte order mark is named as such, with the 3 bytes to remove."""
    runs = tmp_path / "runs"
    _three_lines(runs)
    log = runs / "overrides.jsonl"
    log.write_bytes(log.read_bytes().rstrip(b"\n"))
    append_override(
        runs,
        Override("D9", "escalated", "called the CFO", "anna", dt.date(2026, 1, 4)),
        now=dt.datetime(2026, 1, 7, 10, tzinfo=UTC),
    )
    assert log.read_bytes().count(b"\n") == 4
    assert [r["seq"] for r in read_log(runs)] == [1, 2, 3, 4]
    check_log(runs, None)

    log.write_bytes("\ufeff".encode() + log.read_bytes())
    with pytest.raises(AuditLogError) as err:
        read_log(runs)
    assert str(err.value) == (
        f"{log} starts with a byte order mark (U+FEFF): an editor saved it as 'UTF-8 with BOM'. Remove those 3 "
        f"bytes (`tail -c +4 {log} > NEW`, then move NEW over it): the hash chain then shows whether anything "
        "else was changed"
    )


def test_the_duplicate_id_warning_ends_its_sentences_once() -> None:
    """Two overlapping invoice exports as `more_files`, 3 invoices revised in the later one (fresh book seed
    3557): 6 rows duplicate_id:invoice_id, named with the fix, but the sentence read "(the latest
    version).; see quarantine/invoices.csv". Now ". See ..."; the payments' longer sentence too."""
    from pipelines.ingest.checks import _conflicting_ids

    (said,) = _conflicting_ids(
        "invoices", {"reasons": {"duplicate_id:invoice_id": 6}, "rows_accepted": 8_399}
    )
    assert said.endswith("export each invoice_id once (the latest version). See quarantine/invoices.csv"), (
        said
    )
    (said,) = _conflicting_ids("payments", {"reasons": {"duplicate_id:payment_id": 2}, "rows_accepted": 10})
    assert said.endswith("applied_amount (conf/sources/README.md). See quarantine/payments.csv"), said
    assert ".;" not in said


def test_champion_on_a_time_with_an_offset_is_said_in_utc(mlflow_uri: str) -> None:
    """v1 promoted 2026-03-01 09:00 UTC. `ews models champion-on 2026-03-01T10:30+02:00` is 08:30 UTC, before
    the promotion: no champion; the line said "at 2026-03-01 10:30:00+02:00 UTC" (a local time labelled UTC).
    Now "at 2026-03-01 08:30:00 UTC". 11:30+02:00 is 09:30 UTC: v1. A time without an offset is UTC, as
    before."""
    from mlflow.tracking import MlflowClient

    from pipelines.adapters import registry
    from tests.pipelines.test_hostile_s38 import ROOT, _said

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    registry.promote("1", "first model", who="anna", at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    no_runs = ["--runs", str(ROOT / "no-runs")]
    for when, first in (
        ("2026-03-01T10:30+02:00", "registry time: no champion of ews-pd at 2026-03-01 08:30:00 UTC"),
        ("2026-03-01T11:30+02:00", "registry time: v1 held champion at 2026-03-01 09:30:00 UTC"),
        ("2026-03-01T09:30", "registry time: v1 held champion at 2026-03-01 09:30:00 UTC"),
    ):
        said = _said(runner.invoke(app, ["models", "champion-on", when, *no_runs]))
        assert said[0] == first, (when, said)
