"""Session 44 (s44-review): tests for mutants that survived their commits' own tests (session 43's O25 and
session 44's; benchmarks/review_mutations.py). Each test names the commit and the mutant it catches. Every
expected value is by hand."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer

from pipelines.commands.score import flow_runtime

SAID = "nothing was registered; run it again"


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


@pytest.fixture
def sigint_as_a_terminal_sends_it() -> Iterator[None]:
    """Python's own SIGINT handler for the test (a process started as a shell's background job inherits
    SIGINT ignored, and Python then leaves it ignored), put back after."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_inside_flow_runtime_still_stops_the_command(
    prefect_harness, sigint_as_a_terminal_sends_it, capsys
) -> None:
    """92c9def (the lead): flow_runtime puts a handler of its own in front of Python's to record SIGINT; the
    SIGINT must still raise KeyboardInterrupt there and then (mutant Q4's recorder only recorded it: the
    command ran on past Ctrl-C, and test_interrupt_masked passed, its error coming next anyway). Nothing
    after the signal runs; exit 130 with the command's sentence; Python's handler back after."""
    ran_on = []
    with pytest.raises(typer.Exit) as ended:
        with flow_runtime(interrupted=lambda: SAID):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # Python raises KeyboardInterrupt at once; the sleep ends only if it did not
            ran_on.append("after Ctrl-C")
    assert ran_on == []
    assert ended.value.exit_code == 130
    assert capsys.readouterr().err.split() == ["interrupted:", *SAID.split()]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored_inside_flow_runtime(prefect_harness) -> None:
    """92c9def: a command started with SIGINT ignored (a shell's background job, `nohup ... &`) keeps it
    ignored while its flows run: flow_runtime puts its recorder in front of Python's handler only (mutant
    Q7 put it in front of SIG_IGN too: Ctrl-C then stopped a job its user had detached from the terminal,
    with a TypeError, as SIG_IGN is no function)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with flow_runtime(interrupted=lambda: SAID):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)  # ignored: the block goes on
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_dispute_is_not_said_in_the_news_note_when_the_dispute_part_is_off() -> None:
    """91707ca (s44-pdless): event's newly-disputed part is off by default (triggers.event.disputes: false);
    the watchlist's news_note must not say a dispute the trigger no longer reads (mutant S6 still said it,
    test_pdless_limit_s44 and test_pdless_triggers_s42 passed). One debtor from 45 to 62 days past due
    (past the 60 bucket: dpd_bucket fires) whose EUR 1,200 became disputed since the previous run."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import news_notes

    scored = pd.DataFrame(
        {
            "dpd_current_max": [62.0],
            "dpd_current_max_prev": [45.0],
            "open_disputed_amount": [1200.0],
            "open_disputed_amount_prev": [0.0],
        }
    )
    eur = pd.Series(["EUR"])
    crossed = "62 days past due, 45 in the previous run: now past 60"
    assert news_notes(scored, NightlyConfig(), eur).tolist() == [crossed]
    on = NightlyConfig.model_validate({"triggers": {"event": {"disputes": True}}})
    assert news_notes(scored, on, eur).tolist() == [f"{crossed}; EUR 1,200 newly disputed"]


def test_a_reference_cell_that_is_an_invoice_number_with_a_space_is_taken_whole() -> None:
    """72eacda (s44-scale): a reference cell equal to an invoice number of the export is taken as it is,
    before any reading of its words. An export numbering its invoices "SI 1001" (a space) or "1001.A."
    (dots) has numbers no word of the cell spells: mutant V4 (the cell looked up by its words only) left
    both payments without their invoice; test_reference_s44's numbers are single words."""
    from pipelines.ingest.sources import _by_reference

    own = pd.Series([None, None, None], dtype="string")
    ref = pd.Series(["SI 1001", "1001.A.", "paid SI 1001"], dtype="string")
    out, taken = _by_reference(own, ref, {"SI 1001", "1001.A."})
    # the third cell's words are "paid", "SI", "1001": none is a number of the export
    assert out.tolist() == ["SI 1001", "1001.A.", pd.NA]
    assert taken == 2


def test_an_interrupt_flow_runtime_reported_is_said_once_by_the_commands_block(
    prefect_harness, sigint_as_a_terminal_sends_it, capsys
) -> None:
    """9b66075 (s44-flake): `ews train` and `ews score` run inside interrupt_said, their flows inside
    flow_runtime. Ctrl-C in a flow: flow_runtime says its sentence and exits 130; the command's block lets
    that exit through (mutant QF2 caught it as an error after the SIGINT and said its own sentence too: two
    "interrupted:" lines, the second about the wrong step)."""
    from pipelines.commands.score import interrupt_said

    with pytest.raises(typer.Exit) as ended:
        with interrupt_said(lambda: "the command's sentence"):
            with flow_runtime(interrupted=lambda: SAID):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # Python raises KeyboardInterrupt at once; the sleep ends only if it did not
    assert ended.value.exit_code == 130
    assert capsys.readouterr().err.splitlines() == [f"interrupted: {SAID}"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_flow_runtime_in_a_thread_leaves_the_signal_handlers_alone(prefect_harness) -> None:
    """92c9def: only the main thread may set a signal handler; flow_runtime entered from another thread (a
    flow run from a thread) records nothing there and the block's own error comes out as it is (mutant QA8 set
    the handler there too: "ValueError: signal only works in main thread" in place of the command's)."""
    import threading

    came: list[BaseException] = []

    def run() -> None:
        try:
            with flow_runtime(interrupted=lambda: SAID):
                raise ValueError("the command's own error")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            came.append(exc)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert [type(e) for e in came] == [ValueError] and str(came[0]) == "the command's own error"
    assert signal.getsignal(signal.SIGINT) is before
