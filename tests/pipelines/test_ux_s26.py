"""Session 26 (s26-ux): what a credit analyst and a new user read: --help, train's console, the history."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli import EXAMPLES, app


def _commands() -> list[list[str]]:
    """Every group and command: ``[]`` (ews itself), ``["models"]``, ``["models", "list"]``, ..."""
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:  # typer's own click: no isinstance on click.Group
        found.append(path)
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])

    walk(group, [])
    return found


COMMANDS = _commands()


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_walked() -> None:
    assert len(COMMANDS) >= 24 and ["watchlist", "override"] in COMMANDS and [] in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "ews")
def test_help_reads_without_type_labels_or_broken_lines(path: list[str]) -> None:
    """typer 0.29 printed <bool> beside every flag (and <str>, <path>, <int range>, <list[str]>, {debtor}),
    and kept the docstrings' line breaks, so at 80 columns a 95-character line became a line and a stub
    ('(train, then' alone on its line in `ews train --help`)."""
    text = _help(path)
    assert not re.search(r"<(?:bool|str|path|int|float|list)\b[^>]*>", text), text
    assert not re.search(r"\{[a-z_]+\}", text), text  # typer's {debtor} for a required argument
    prose = []  # lines outside the option panels and the examples
    for line in text.splitlines():
        if line.strip() == "Examples:":
            break
        if not line.startswith(("│", "╭", "╰")):
            prose.append(line.rstrip())
    for line, after in zip(prose, prose[1:], strict=False):
        if line.strip() and after.strip() and not after.startswith("   "):  # a wrapped line goes on
            assert len(line) >= 50, f"a stub line in `ews {' '.join(path)} --help`: {line!r} then {after!r}"


def test_flags_show_no_value_and_options_say_what_they_take() -> None:
    text = _help(["backtest"])
    assert re.search(r"--rows\s+also write", text), text  # a flag: nothing between its name and its help
    assert re.search(r"--from\s+DATE\s", text) and re.search(r"--out\s+PATH\s", text)
    assert re.search(r"--refit-every\s+INTEGER \[x>=0\]", text)
    text = _help(["watchlist", "override"])
    assert "Usage: ews watchlist override [OPTIONS] DEBTOR" in text and re.search(
        r"\*\s+DEBTOR\s+debtor_id", text
    )


def test_backtest_help_shows_each_example_once() -> None:
    text = _help(["backtest"])
    assert text.count("ews backtest --data") == len(EXAMPLES["backtest"]) == 3


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_examples_fit_80_columns_and_copy_whole(command: str) -> None:
    """An example longer than the terminal was wrapped by rich at any space; it is now cut before an
    option, each line but the last ending in a backslash, so pasting it runs the example."""
    text = _help(command.split())
    block = text[text.index("Examples:") :]
    lines = [line.strip() for line in block.splitlines()[1:] if line.strip()]
    joined, current = [], ""
    for line in lines:
        current = f"{current} {line}".strip()
        if current.endswith("\\"):
            current = current[:-1].strip()
        else:
            joined.append(current)
            current = ""
    assert joined == list(EXAMPLES[command])
    assert max(len(line) for line in block.splitlines()) <= 80


def _flat(text: str) -> str:
    return " ".join(text.split())


def _ews(*args: str, cwd, columns: int = 80):
    """``ews ARGS`` in its own process, as a user runs it, on this tree's code."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env={
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "EWS_PROJECT": str(root),
            "PYTHONPATH": str(root),
            "COLUMNS": str(columns),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_small_books_train_says_its_model_in_one_short_line_and_history_in_short(
    prefect_harness, mlflow_uri, tmp_path
) -> None:
    """A 100-debtor book trains the roll-rate model. Before: the flow-run log's WARNING was one line of
    about 1,000 characters (why, the fold figures, the silent state...), the console repeated its first
    420 characters, and `ews models history` showed the whole text in the reason cell. Now one short line
    in each, and the whole reason in `ews models history --verbose` and on the version (ews.selection)."""
    import yaml
    from mlflow.tracking import MlflowClient

    from pipelines.ingest import ingest_dir
    from pipelines.synthetic import GeneratorParams, generate
    from tests.pipelines.test_train_rollrate import SMALL

    raw = tmp_path / "book"
    generate(GeneratorParams(debtors=100, months=24, seed=3, annual_default_rate=0.08), raw)
    ingest_dir(raw, raw / "ingested")
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    done = _ews("train", "--data", str(raw / "ingested"), "--config", str(config), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    # session 31: each warning once, in the summary under the metrics table (before, the flow-run log's
    # WARNING line said it too); Prefect's API log keeps the record
    flat = _flat(output)
    said = re.findall(
        r"small book: \d+ default labels, too few for LightGBM or the scorecard \(about 120 needed\): roll-rate "
        r"model, PDs by days-past-due state \(why, with every figure: `ews models history --verbose`\)",
        flat,
    )
    assert len(said) == 1, output[-3000:]
    assert not [line for line in output.splitlines() if "| WARNING |" in line and "small book" in line]
    assert flat.count("short history: held-out check on") == 1, output[-3000:]
    assert flat.count("queue key: ") == 1, output[-3000:]  # "collections queue key: ..." under the table
    # counts with thousands separators (before: 'modelling frame: 2171 rows, 21 snapshots', 'payment-date rows:
    # 44728 held-out training rows, ...')
    assert re.search(r"modelling frame: \d{1,3}(,\d{3})+ rows, \d+ month-end snapshots", output), output[
        -3000:
    ]
    assert re.search(
        r"payment-date rows: \d{1,3}(,\d{3})+ held-out training rows, \d{1,3}(,\d{3})+ final", output
    )
    assert "cannot fill the 4 out-of-time windows" not in flat, output[-3000:]

    history = _ews("models", "history", cwd=tmp_path, columns=120)
    text = _flat(history.stdout)
    assert history.returncode == 0, history.stdout + history.stderr
    assert "rollrate: small book:" in text and "month-end moves" not in text, history.stdout
    assert "Promoted: every check passed." in text and "Checks: ok" not in text
    assert "(`ews models history --verbose`: every reason in full)" in text
    lines = history.stdout.splitlines()
    assert len(lines) == 4 and max(len(line) for line in lines) < 240, lines  # one line per decision
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d  v1   champion \(gate\) +\S+ +Promoted: every check passed\.$", lines[-1]
    )
    full = _flat(_ews("models", "history", "--verbose", cwd=tmp_path, columns=120).stdout)
    assert "cannot fill the 4 out-of-time windows" in full and "Checks: ok" in full

    client = MlflowClient()
    run = client.get_run(client.get_model_version("ews-pd", "1").run_id)
    assert "cannot fill the 4 out-of-time windows" in run.data.tags["ews.selection"]


def test_short_reason_keeps_the_verdict_or_the_first_clause() -> None:
    from pipelines.adapters.registry_view import short_reason

    assert short_reason("Promoted: every check passed. Checks: ok a; ok b") == "Promoted: every check passed."
    assert (
        short_reason(
            "14 defaulted rows in the queue of the test window (fewer than 30): too few to compare; the blend"
        )
        == "14 defaulted rows in the queue of the test window (fewer than 30): too few to compare"
    )
    assert short_reason("reviewed by credit risk") == "reviewed by credit risk"
    failed = (
        "Not promoted, and this book has no champion yet: test_auc 0.6100 [0.5200, 0.6900] is below min_auc 0.70; "
        "test_ece 0.0400 > 0.0103. Until a version of ews-pd is champion, `ews score` cannot run; training again "
        'gives the same verdict. To accept v1 as it is: `ews models promote 1 --reason "..."` (the reason is kept '
        "in `ews models history`). Checks: FAIL test_auc ...; FAIL test_ece ..."
    )
    assert short_reason(
        failed
    ) == (  # the failed checks' first words and the command that accepts the version
        "Not promoted, and this book has no champion yet: test_auc 0.6100 [0.5200, 0.6900] is below min_auc 0.70 ... "
        'To accept it anyway: `ews models promote 1 --reason "..."`'
    )
    long = "rollrate: small book: 28 default labels among 4,484 labelled rows cannot fill the 4 out-of-time windows of it"
    assert short_reason(long, limit=60) == "rollrate: small book: 28 default labels among 4,484 ..."


# ---- the new user's walk (300 x 24 book, seed 26300): what read badly ----


def test_the_payment_date_forecast_line_has_separators_and_the_currency() -> None:
    """The nightly log said 'payment dates: 2393 open invoices forecast with ews-paydate v1; expected cash in
    13 weeks 13692482.03' (no separators, no currency)."""
    from pipelines.scoring.paydate import forecast_line

    assert forecast_line(2393, "ews-paydate v1", 13692482.034, "EUR") == (
        "payment dates: 2,393 open invoices forecast with ews-paydate v1; expected cash in the next 13 weeks "
        "13,692,482.03 EUR"
    )
    assert forecast_line(5, "m v2", 19.3684, "KWD").endswith("13 weeks 19.368 KWD")  # 3-decimal currency


def test_the_score_summary_title_stays_on_one_line_at_80_columns() -> None:
    """The step table's title 'nightly 2024-12-30  (model ews-pd v1)' wrapped inside the 2-column table:
    'nightly 2024-12-30  (model' / 'ews-pd v1)'."""
    from pathlib import Path
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    manifest = {
        "as_of": "2024-12-30",
        "model": {"name": "ews-pd", "version": "1"},
        "timings_s": {"load_champion": 1.34, "score": 0.58},
        "counts": {"scored": 300, "in_default": 11, "flagged": 28, "triggers": {"rank": 28}, "queue": 208,
                   "expected_loss": 70788.4, "currency": "EUR"},
        "drift": {"status": "ok"},
        "feed": {"references": ["the previous run"]},
    }  # fmt: skip
    console = Console(record=True, width=80)
    # the seconds per step with --verbose only (session 32)
    _summary(console, SimpleNamespace(manifest=manifest, path=Path("data/runs/2024-12-30")), verbose=True)
    lines = console.export_text().splitlines()
    assert lines[0] == "nightly 2024-12-30 with ews-pd v1: seconds per step", lines[:3]
    assert not any(line.strip() in ("nightly 2024-12-30  (model", "ews-pd v1)") for line in lines)


def test_backtest_list_sizes_read_in_percent_and_days() -> None:
    """`ews backtest` printed 'rank  top 2%: 0.023, 0.111, 0.333, 24.0' under a header naming the columns."""
    from pipelines.commands.backtest import list_size_lines

    rows = [
        {"rule": "rank", "share": 0.02, "list_share": 0.0234, "precision": 0.1111, "recall": 1 / 3,
         "lead_time_median_days": 24.0},
        {"rule": "rules", "share": 0.1, "list_share": 0.121, "precision": None, "recall": 0.0,
         "lead_time_median_days": None},
    ]  # fmt: skip
    assert list_size_lines(rows)[1:] == [
        "  Highest PDs alone, top 2%: list 2.3% of live debtors, precision 11.1%, recall 33.3%, strict lead 24 days",
        "  Highest PDs + the other triggers, top 10%: list 12.1% of live debtors, precision n/a, recall 0.0%, "
        "strict lead n/a",
    ]


def test_credit_limits_amounts_at_the_currencys_decimals() -> None:
    """credit_limits.csv held invoiced_per_month 494970.725618 and credit_need 975712.313333 (Excel shows
    every digit); now at the currency's decimals, as the other amounts."""
    import pandas as pd

    from pipelines.scoring.limits import LIMIT_COLUMNS, credit_limits_table

    scored = pd.DataFrame(
        {"as_of": ["2024-12-31"] * 2, "debtor_id": pd.Series(["a", "b"], dtype="string"), "name": ["A", "B"],
         "segment": ["retail"] * 2, "band": ["B", "A"], "pd": [0.0138, 0.0012], "in_default": [False, False],
         "open_balance": [1400586.33, 442312.94], "invoiced_per_month": [494970.725618, 201752.834743],
         "terms_days": [60.0, 45.0], "credit_need": [975712.313333, 298279.345],
         "credit_limit_current": [538000.0, 418000.0], "credit_limit_recommended": [1463500.0, 596500.0],
         "credit_limit_conservative": [975500.0, 447000.0], "credit_limit_aggressive": [1951000.0, 894500.0],
         "credit_limit_rule": ["band B", "band A"]}
    )  # fmt: skip
    assert set(LIMIT_COLUMNS) <= set(scored.columns)
    table = credit_limits_table(scored, "EUR")
    assert table["invoiced_per_month"].tolist() == [494970.73, 201752.83]
    assert table["credit_need"].tolist() == [975712.31, 298279.34]  # 298279.345 is 298279.34499... in binary
    assert credit_limits_table(scored, "KWD")["credit_need"].tolist() == [975712.313, 298279.345]
