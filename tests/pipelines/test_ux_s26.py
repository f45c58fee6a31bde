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
