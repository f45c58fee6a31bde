"""Session 38 (s38-attack): misuse and hostile inputs a production credit team meets, through the real
``ews`` command line and the real MLflow store (BENCHMARKS.md, hostile section, "Session 38
(s38-attack)"). Every expected value is by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.adapters import registry
from pipelines.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _said(result) -> list[str]:
    """A command's output lines (stdout and stderr), with no traceback in it."""
    assert "Traceback" not in result.output, result.output[-3000:]
    return [" ".join(line.split()) for line in result.output.splitlines()]


def test_a_version_deleted_through_mlflow_keeps_its_decisions_in_the_history(mlflow_uri: str) -> None:
    """v1 promoted on 1 March, v2 on 1 June (v1 retired), then v1 deleted through MLflow's API. Before,
    `ews models history` showed v2's promotion alone ("was v1", a version it no longer listed) and
    `ews models champion-on 2026-04-15` said no champion; the store still holds v1's row and tags."""
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    for _ in range(2):
        client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    march, june = datetime(2026, 3, 1, 9, 0, tzinfo=UTC), datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    registry.promote("1", "first model", who="anna", at=march)
    registry.promote("2", "better AUC", who="ben", at=june)
    client.delete_model_version("ews-pd", "1")
    lines = _said(runner.invoke(app, ["models", "history"], env={"COLUMNS": "200"}))
    assert lines[0].startswith("ews-pd decisions, oldest first"), lines
    assert lines[1] == "2026-03-01 09:00 v1 (deleted) champion (manual) anna first model", lines
    assert lines[2].startswith("2026-06-01 09:00 v1 (deleted) retired"), lines
    assert lines[3] == "2026-06-01 09:00 v2 champion (manual, was v1) ben better AUC", lines
    assert lines[4].startswith("20") and " v1 (deleted) deleted (mlflow) " in f" {lines[4]} ", lines
    assert lines[5] == (
        "v1 of 'ews-pd' was deleted through MLflow (with its aliases and model files); its decisions above "
        "are what the store still holds"
    ), lines
    assert len(lines) == 6, lines
    assert registry.champion_on("2026-04-15") == "1"  # before: None (v1's decisions were not read)
    assert registry.champion_on("2026-06-02") == "2"
    # the list of versions is as before: live versions only
    listed = registry.list_versions()
    assert listed["version"].tolist() == ["2"]


def test_a_champion_deleted_through_mlflow_held_the_alias_until_then(mlflow_uri: str) -> None:
    """The champion itself deleted (MLflow deletes its aliases): champion-on a date after the deletion
    names no version; a date between its promotion and the deletion names it."""
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    registry.promote("1", "first model", who="anna", at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    client.delete_model_version("ews-pd", "1")
    assert registry.champion_on("2026-03-02") == "1"
    assert registry.champion_on(datetime.now(UTC)) is None
    said = _said(runner.invoke(app, ["models", "champion-on", "2026-03-02", "--runs", str(ROOT / "no-runs")]))
    assert said[0].startswith("registry time: v1 held champion at 2026-03-02"), said
