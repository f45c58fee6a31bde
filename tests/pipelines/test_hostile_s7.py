"""Session 7 (s7-robust): hostile inputs and faults, end to end through the ``ews`` commands.

Each test was written before its fix and fails without it. Small books, < 3 s each warm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ingest" / "base"


@pytest.mark.parametrize("command", ["score", "backfill"])
def test_no_champion_is_refused_before_prefect_or_any_feature(
    command: str, tmp_path: Path, monkeypatch, mlflow_uri
) -> None:
    """Before: `ews score` with no trained model started Prefect's server and the flow and spent
    14-20 CPU-s before its 'no alias champion' (measured 18.1 CPU-s); now the registry is read
    first (0.55 CPU-s for the whole command)."""
    import pipelines.commands.score as score_cmd

    def no_flow(*args, **kwargs):
        raise AssertionError("the flow runtime was started")

    monkeypatch.setattr(score_cmd, "flow_runtime", no_flow)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "runs"
    dates = (
        ["--as-of", "2024-06-30"] if command == "score" else ["--from", "2024-06-01", "--to", "2024-06-30"]
    )
    result = CliRunner().invoke(app, [command, "--data", str(DATA), "--raw", *dates, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "AssertionError" not in repr(result.exception)
    assert f"model 'ews-pd' has no alias 'champion' in {mlflow_uri}" in result.output
    assert "(model_name / model_alias in conf/nightly.yaml)" in result.output
    assert "ews train" in result.output
    assert not out.exists()


def test_a_champion_registered_without_a_run_is_a_one_line_error(mlflow_uri: str) -> None:
    """A version registered from a folder by hand (no MLflow run) whose folder is gone. Before: the
    error path itself crashed (`client.get_run(None)`: TypeError, Prefect tracebacks, exit 1)."""
    from mlflow.tracking import MlflowClient

    from pipelines.adapters import registry

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    client.create_model_version("ews-pd", source="/no/such/model-folder")
    client.set_registered_model_alias("ews-pd", "champion", "1")
    with pytest.raises(registry.ModelArtifactsError) as err:
        registry.load_model_version("champion", "ews-pd")
    assert "version 1 is registered but its files cannot be read from /no/such/model-folder (no run)" in str(
        err.value
    )

