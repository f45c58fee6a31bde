"""Session 39 (s39-audit): leftovers that could publish a wrong number or leave a user without advice.
Every expected value is by hand."""

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
    append_override,
    check_log,
    log_head,
    read_acceptances,
)
from tests.pipelines.test_hostile_s38 import _forged

runner = CliRunner()


def _publish(
    runs: Path, day: str, lines: int, read_at: str | None = None, created_at: str | None = None
) -> Path:
    """A published run folder whose manifest recorded the log's first ``lines`` lines (and, as the nightly
    records them since s39, when it read the log and when it was published)."""
    folder = runs / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scores.parquet").write_bytes(b"")
    head = log_head(runs, lines)
    if read_at:
        head["read_at"] = read_at
    body = {"as_of": day, "overrides": head, **({"created_at": created_at} if created_at else {})}
    (folder / "manifest.json").write_text(json.dumps(body))
    return folder


def _three_lines(runs: Path) -> list[str]:
    for i, (debtor, status) in enumerate([("D1", "under_review"), ("D2", "escalated"), ("D3", "escalated")]):
        when = dt.datetime(2026, 1, 4 + i, 10, tzinfo=UTC)
        append_override(runs, Override(debtor, status, "call booked", "anna", dt.date(2026, 1, 4)), now=when)
    return (runs / "overrides.jsonl").read_text().splitlines()


# ------------------------------------------------- 1a: an honest backup restored after runs read a forged line


def test_an_honest_backup_restored_after_runs_read_a_forged_line_names_them_and_can_be_accepted(
    tmp_path: Path,
) -> None:
    """Lines 1-3 honest; line 3 forged (escalated -> cleared, hashes recomputed); the runs of 10 and 11 January
    read the forged log (3 lines). The honest backup is restored. Before, every later run was refused with
    "restore overrides.jsonl from a backup taken after the run of 2026-01-11", the very backup that holds the
    forged line, and no other way out. Now the refusal names both runs and `ews watchlist accept-log`; the
    acceptance is recorded, the runs go on, and a log changed again after the acceptance is refused again."""
    runs = tmp_path / "runs"
    honest = _three_lines(runs)
    _publish(runs, "2026-01-05", 2)
    log = runs / "overrides.jsonl"
    log.write_text(_forged(honest, 3, status="cleared"))
    _publish(runs, "2026-01-10", 3)
    jan11 = _publish(runs, "2026-01-11", 3)
    log.write_text("".join(line + "\n" for line in honest))  # the honest backup restored

    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan11)  # the nightly of 12 January
    said = str(err.value)
    assert "line 3 was changed since (the first 2 lines still match what earlier runs recorded)" in said, said
    assert (
        "The runs of 2026-01-10, 2026-01-11 read a log other than this one: if this log is the honest one"
        in said
    ), said
    assert (
        f"accept it with `ews watchlist accept-log --out {runs} --reason TEXT` (recorded in {ACCEPTED_LOG})"
        in said
    )
    assert f"then score those dates again (`ews score --data DATA --as-of DATE --out {runs}`)" in said, said

    res = runner.invoke(
        app,
        [
            "watchlist",
            "accept-log",
            "--out",
            str(runs),
            "--reason",
            "restored Jan 9 backup: line 3 forged",
            "--by",
            "ben",
        ],
        env={"COLUMNS": "300"},
    )
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert f"accepted {log} (3 lines) by ben over the log the runs of 2026-01-10, 2026-01-11 read" in flat, (
        flat
    )
    assert f"Score those dates again (`ews score --data DATA --as-of DATE --out {runs}`)" in flat, flat
    (line,) = read_acceptances(runs)
    assert (line["seq"], line["by"], line["reason"]) == (1, "ben", "restored Jan 9 backup: line 3 forged")
    assert line["log"] == {"lines": 3, "hash": json.loads(honest[2])["hash"]}
    assert [(r["run"], r["lines"]) for r in line["replaces"]] == [("2026-01-10", 3), ("2026-01-11", 3)]
    check_log(runs, jan11)  # the runs go on
    check_log(runs, runs / "2026-01-05")  # and a rerun of 10 January

    again = runner.invoke(
        app, ["watchlist", "accept-log", "--out", str(runs), "--reason", "x", "--by", "ben"]
    )
    assert again.exit_code == 2 and "there is nothing to accept" in " ".join(again.output.split()), (
        again.output
    )
    assert not runner.invoke(app, ["watchlist", "accept-log", "--out", str(runs), "--by", "b"]).exit_code == 0

    log.write_text(_forged(honest, 2, status="cleared"))  # changed again after the acceptance
    with pytest.raises(AuditLogError, match="one of lines 1 to 2 was changed since|line 2 was changed since"):
        check_log(runs, jan11)
    log.write_text("".join(line + "\n" for line in honest))
    (runs / ACCEPTED_LOG).write_text((runs / ACCEPTED_LOG).read_text().replace("ben", "eve"))
    with pytest.raises(AuditLogError, match=f"{ACCEPTED_LOG} line 1 was changed"):
        check_log(runs, jan11)


# ------------------------------------------------- 1b: a forged line appended after the latest run


def test_a_line_appended_after_the_latest_run_is_refused_when_its_fields_contradict_the_runs(
    tmp_path: Path,
) -> None:
    """Three lines; the run of 10 January read them all at 2026-01-11 02:00 and was published at 02:30. A fourth
    line appended afterwards is refused (before: accepted by every later run) when it is
    (1) dated before the run read the log (backdated to 8 January: that run would have read it),
    (2) dated before line 3 (lines are appended in time order), or
    (3) entered after 10 January's run was published while naming 4 January as the run reviewed.
    A line dated after the read and naming 10 January is what the command writes: accepted."""
    runs = tmp_path / "runs"
    _three_lines(runs)
    jan10 = _publish(
        runs, "2026-01-10", 3, read_at="2026-01-11T02:00:00+00:00", created_at="2026-01-11T02:30:00+00:00"
    )
    log = runs / "overrides.jsonl"
    honest = log.read_text()

    def fourth(at: dt.datetime, run: dt.date) -> None:
        """Line 4 as the command writes it (12 January, naming 10 January), then its time and run rewritten
        by a forger (since s40-attack the command itself refuses a clock that far behind the runs')."""
        log.write_text(honest)
        entered = dt.datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
        append_override(
            runs, Override("D9", "cleared", "paid", "anna", dt.date(2026, 1, 10), 0.2), now=entered
        )
        lines = log.read_text().splitlines()
        log.write_text(_forged(lines, 4, at=at.strftime("%Y-%m-%dT%H:%M:%SZ"), run=run.isoformat()))

    fourth(dt.datetime(2026, 1, 8, 9, 0, tzinfo=UTC), dt.date(2026, 1, 10))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan10)
    said = str(err.value)
    assert (
        f"{log} line 4 (debtor D9, by anna, at 2026-01-08T09:00:00Z) is dated before the run of 2026-01-10"
        in said
    )
    assert "yet that run read 3 lines only" in said, said
    assert "cut the log back to the 3 lines before it" in said, said

    fourth(dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), dt.date(2026, 1, 4))  # before line 3 (6 Jan 10:00)
    with pytest.raises(
        AuditLogError, match=r"line 4 \(debtor D9, by anna, at 2026-01-05T09:00:00Z\) is dated before line 3"
    ):
        check_log(runs, jan10)

    fourth(dt.datetime(2026, 1, 12, 9, 0, tzinfo=UTC), dt.date(2026, 1, 4))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan10)
    assert (
        "names the run of 2026-01-04 as the run reviewed, but the run of 2026-01-10 was published before it"
        in str(err.value)
    ), str(err.value)

    # within the clocks' slack (5 minutes) and after the read: what `ews watchlist override` writes
    fourth(dt.datetime(2026, 1, 11, 1, 56, tzinfo=UTC), dt.date(2026, 1, 10))
    check_log(runs, jan10)
    fourth(
        dt.datetime(2026, 1, 11, 2, 33, tzinfo=UTC), dt.date(2026, 1, 4)
    )  # entered as 10 Jan was published
    check_log(runs, jan10)
    fourth(dt.datetime(2026, 1, 12, 9, 0, tzinfo=UTC), dt.date(2026, 1, 10))
    check_log(runs, jan10)


# ------------------------------------------------- 4: the printed queues carry their amounts


def test_the_printed_queues_show_exposure_and_expected_loss_with_the_currency_in_100_columns(
    tmp_path: Path,
) -> None:
    """`ews demo`'s printed queues (show_queues) had no amount column: only the priority (expected loss x a
    days-past-due weight) while the XLSX shows "Exposure at default (EUR)" and "Expected loss (EUR)". Now the
    collections queue shows exposure and expected loss, the recovery queue exposure and the recoverable
    amount, headed with the run's currency; every line fits 100 columns and no amount or id is folded."""
    import pandas as pd
    from rich.console import Console

    from pipelines.commands.score import show_queues

    base = {
        "rank": [1, 2],
        "debtor_id": ["D0001379", "D0004152"],
        "owner": ["Recovery desk", "Anna"],
        "within_capacity": [True, False],
        "dpd": [950.0, 71.0],
        "currency": ["EUR", "EUR"],
        "exposure": [1234567.8, 46317.0],
        "action_rule": [
            "agency placement on 2025-12-11: follow up with the agency",
            "60+ days past due: final notice",
        ],
    }
    pd.DataFrame(
        {
            **base,
            "next_action": ["final_notice"] * 2,
            "expected_loss": [555555.5, 20003.4],
            "priority": [9e5, 3e4],
        }
    ).to_parquet(tmp_path / "collections_queue.parquet")
    pd.DataFrame(
        {
            **base,
            "next_action": ["agency_follow_up"] * 2,
            "recoverable_amount": [679012.3, 25474.4],
            "recovery_priority": [5e5, 2e4],
        }
    ).to_parquet(tmp_path / "recovery_queue.parquet")
    console = Console(record=True, width=100)
    show_queues(console, tmp_path)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100, text
    heads = " ".join(text.split())
    for said in ("Exposure (EUR)", "Expected loss (EUR)", "Recoverable (EUR)"):
        assert said.split()[0] in heads and "(EUR)" in heads, (said, text)
    first = next(line for line in lines if line.lstrip().startswith("1 ") and "D0001379" in line)
    second = next(line for line in lines if line.lstrip().startswith("2 ") and "D0004152" in line)
    assert "1,234,568" in first and "555,556" in first and "950" in first, text  # collections: EAD, EL, DPD
    assert "46,317" in second and "20,003" in second, text
    assert sum("679,012" in line for line in lines) == 1 and sum("25,474" in line for line in lines) == 1, (
        text
    )
    assert "ranked by priority: expected loss x days-past-due weight (in the XLSX)" in text, text
    assert "ranked by recoverable amount, age-weighted (in the XLSX)" in text, text


# ------------------------------------------------- 3: a re-ingest during `ews features` and the payment-date training


def test_ews_features_writes_nothing_when_its_data_folder_is_re_ingested_while_it_reads(
    tmp_path: Path, monkeypatch
) -> None:
    """`ews ingest --out DATA` publishes (10 payments fewer) while `ews features --data DATA` builds its
    features bucket by bucket. Before, the Parquet file was written from a mix of both ingests, with the
    first ingest's quarantine counts in its sidecar; now exit 2, nothing written, and the message says to run
    it again."""
    import pandas as pd
    from nightly_portfolio import write_portfolio

    import pipelines.engine as engine_module
    from pipelines.ingest import ingest_dir

    raw, data = write_portfolio(tmp_path / "raw", n_debtors=40, months=8), tmp_path / "data"
    ingest_dir(raw, data)
    pay = pd.read_parquet(raw / "payments.parquet")
    pay.iloc[:-10].to_parquet(raw / "payments.parquet", index=False)
    real = engine_module.build_book

    def build_then_a_late_ingest(*args, **kwargs):
        built = real(*args, **kwargs)
        ingest_dir(raw, data)  # `ews ingest --out DATA` publishing while the features are built
        return built

    monkeypatch.setattr(engine_module, "build_book", build_then_a_late_ingest)
    out = tmp_path / "features.parquet"
    res = runner.invoke(
        app,
        ["features", "--data", str(data), "--as-of", "2024-06-30", "--out", str(out)],
        env={"COLUMNS": "400"},
    )
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert f"--data {data}: an `ews ingest` published into this folder while this run read it" in flat, flat
    assert f"so nothing was written to {out}. Run `ews features` again once the ingest has ended" in flat, (
        flat
    )
    assert not out.exists() and not out.with_suffix(".json").exists()
    monkeypatch.setattr(engine_module, "build_book", real)
    again = runner.invoke(app, ["features", "--data", str(data), "--as-of", "2024-06-30", "--out", str(out)])
    assert again.exit_code == 0 and out.exists(), again.output


def test_a_payment_date_training_whose_data_is_re_ingested_while_it_reads_registers_nothing(
    prefect_harness, mlflow_uri: str, tmp_path: Path, monkeypatch
) -> None:
    """The payment-date step of `ews train` (run_train_paydate) reads DATA's buckets for its month-end rows;
    an `ews ingest` publishes into DATA meanwhile. Before, ews-paydate was registered with the old ingest's
    manifest as its provenance and rows from both; now nothing is registered and the message says to train
    again (as the PD step since c5e63ea)."""
    import pandas as pd
    import yaml
    from mlflow.tracking import MlflowClient
    from nightly_portfolio import write_portfolio

    from pipelines.engine import FeedChangedError
    from pipelines.flows import train_paydate as paydate_flow
    from pipelines.ingest import ingest_dir

    root = Path(__file__).resolve().parents[2]
    raw, data = write_portfolio(tmp_path / "raw"), tmp_path / "data"
    ingest_dir(raw, data)
    pay = pd.read_parquet(raw / "payments.parquet")
    pay.iloc[:-10].to_parquet(raw / "payments.parquet", index=False)
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "train",
                "project": str(root / "conf" / "ews.yaml"),
                "split": {"min_defaults": 10},
                "lightgbm": {"n_estimators": 30, "min_child_samples": 40, "n_jobs": 1},
            }
        )
    )
    real = paydate_flow.build_rows

    def rows_then_a_late_ingest(*args, **kwargs):
        rows = real(*args, **kwargs)
        ingest_dir(raw, data)  # `ews ingest --out DATA` publishing while the rows were read
        return rows

    monkeypatch.setattr(paydate_flow, "build_rows", rows_then_a_late_ingest)
    with pytest.raises(FeedChangedError) as err:
        paydate_flow.run_train_paydate(data, config)
    said = str(err.value)
    assert said.startswith(
        f"--data {data}: an `ews ingest` published into this folder while this run read it"
    )
    assert (
        "so nothing was registered (payment-date model). Run `ews train` again once the ingest has ended"
        in said
    )
    assert MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri).search_registered_models() == []


# ------------------------------------------------- 2: a runs folder knows its book


def test_a_runs_folder_refuses_another_books_data_before_any_work(tmp_path: Path, monkeypatch) -> None:
    """Book A ingested into data_a (twice: the id is kept), book B into data_b. The runs folder records A
    after its first run. Before, `ews score --data data_b --out runs` scored B and compared it with A's last
    run; now `ews score`, `ews backfill` and `ews backtest` stop with exit 2 naming both books and the fix,
    before any model is loaded. A's folder moved elsewhere is still A; a raw folder is known by its path."""
    import shutil

    from nightly_portfolio import write_portfolio

    from pipelines.adapters.book import BOOK_FILE, BookMismatchError, check_book, record_book
    from pipelines.ingest import ingest_dir

    raw_a, raw_b = (
        write_portfolio(tmp_path / "raw_a", n_debtors=40, months=8),
        write_portfolio(tmp_path / "raw_b", n_debtors=40, months=8, seed=3410),
    )
    data_a, data_b = tmp_path / "data_a", tmp_path / "data_b"
    ingest_dir(raw_a, data_a)
    book_a = json.loads((data_a / "manifest.json").read_text())["book_id"]
    ingest_dir(raw_a, data_a)  # tonight's ingest into the same folder: the same book
    assert json.loads((data_a / "manifest.json").read_text())["book_id"] == book_a
    ingest_dir(raw_b, data_b)
    book_b = json.loads((data_b / "manifest.json").read_text())["book_id"]
    assert len(book_a) == len(book_b) == 32 and book_a != book_b

    runs = tmp_path / "runs"
    check_book(runs, data_b)  # nothing recorded yet: any book
    record_book(runs, data_a, "2024-08-30")
    recorded = json.loads((runs / BOOK_FILE).read_text())
    assert (recorded["book_id"], recorded["data_dir"], recorded["first_run"]) == (
        book_a,
        str(data_a.resolve()),
        "2024-08-30",
    )
    record_book(runs, data_b, "2024-09-30")  # a later run never rebinds the folder
    assert json.loads((runs / BOOK_FILE).read_text())["book_id"] == book_a
    check_book(runs, data_a)
    moved = tmp_path / "elsewhere" / "data_a"
    shutil.copytree(data_a, moved)
    check_book(runs, moved)  # the same book in another place
    with pytest.raises(BookMismatchError):
        check_book(runs, raw_a)  # raw files: no id, another path

    monkeypatch.setenv("COLUMNS", "300")
    for args in (
        ["score", "--data", str(data_b), "--as-of", "2024-08-31", "--out", str(runs)],
        ["backfill", "--data", str(data_b), "--from", "2024-08-01", "--to", "2024-08-31", "--out", str(runs)],
        ["backtest", "--data", str(data_b), "--from", "2024-03-01", "--to", "2024-08-31", "--out", str(runs)],
    ):
        res = runner.invoke(app, args)
        flat = " ".join(res.output.split())
        assert res.exit_code == 2, (args[0], res.output)
        assert "Traceback" not in res.output
        what = "backtest" if args[0] == "backtest" else "runs"
        assert (
            f"--out {runs} holds the {what} of book {book_a} (--data {data_a.resolve()}, first run 2024-08-30; "
            f"{runs / BOOK_FILE}), but --data {data_b} is book {book_b} ({data_b.resolve()})" in flat
        ), (args[0], flat)
        assert "Give this book a folder of its own (--out another folder). If it is the same book" in flat
        assert f"remove {runs / BOOK_FILE} and run again" in flat, flat
    assert sorted(p.name for p in runs.iterdir()) == [BOOK_FILE]  # nothing else was written


# ------------------------------------------------- 5: the CLI's output is rendered wide in every test


def test_cli_output_keeps_a_long_path_whole_at_the_tests_default_width(tmp_path: Path) -> None:
    """rich folds a word longer than the width (80 outside a terminal) inside the word: a 250-character
    --out path came out cut in two, and a test joining the output's words failed on a longer pytest tmp
    folder (CI38a). tests/conftest.py renders every CliRunner invocation 400 columns wide, whatever the
    shell running pytest says: the path stays one word."""
    from tests.pipelines.test_watch_overrides import RUN, publish_scores

    out = tmp_path / ("x" * (249 - len(str(tmp_path))))
    assert len(str(out)) == 250
    publish_scores(out, RUN, [("D1", 0.08, False)])
    res = runner.invoke(
        app,
        [
            "watchlist",
            "override",
            "D1",
            "--status",
            "escalated",
            "--reason",
            "r",
            "--by",
            "b",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"Log: {out / 'overrides.jsonl'}" in res.output, res.output  # whole: not folded inside the path
