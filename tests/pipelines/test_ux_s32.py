"""Session 32 (s32-ux): what credit analysts, collections leads and data scientists read."""

from __future__ import annotations

import pytest

# ---------------------------------------------------------------- the data scientist: champion-on's dates


@pytest.mark.parametrize("when", ["2024-02-01", "20240201", "2024-W05-4"])
def test_champion_on_reads_a_day_as_its_end_in_every_iso_form(mlflow_uri, when: str) -> None:
    """`ews models champion-on 20240201` (ISO's basic form) asked the registry at the start of the day,
    `2024-02-01` at its end (s31-review): a promotion made that day answered differently. Now a date
    alone, in any ISO form, means the end of the day (23:59:59.999999 UTC), as --help says."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", when, "--runs", "/nonexistent"])
    assert result.exit_code == 1, result.output  # no champion, no run: exit 1
    assert "no champion of ews-pd at 2024-02-01 23:59:59.999999 UTC" in result.output, result.output


def test_champion_on_with_a_time_keeps_the_time_and_help_says_a_day_is_its_end(mlflow_uri) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", "2024-02-01T00:00", "--runs", "/nonexistent"])
    assert "no champion of ews-pd at 2024-02-01 00:00:00 UTC" in result.output, result.output
    shown = CliRunner().invoke(app, ["models", "champion-on", "--help"], env={"COLUMNS": "200"})
    assert "20260331, means the end of that day" in " ".join(shown.output.split()), shown.output
