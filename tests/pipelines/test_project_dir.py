"""`ews` works from any directory: --project, EWS_PROJECT, then the first conf/ews.yaml upwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.project_dir import ProjectNotFoundError, find_project
from tests.conftest import seed_mlflow_db

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests" / "data" / "ingest" / "base"


def make_project(folder: Path) -> Path:
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "ews.yaml").write_text(
        "kind: project\npaths:\n  mlflow_tracking_uri: sqlite:///data/mlflow/mlflow.db\n"
    )
    return folder


def test_find_project_order(tmp_path: Path, monkeypatch) -> None:
    proj = make_project(tmp_path / "proj")
    other = make_project(tmp_path / "other")
    deep = proj / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.delenv("EWS_PROJECT", raising=False)
    assert find_project(start=deep) == proj.resolve()  # upwards
    assert find_project(start=tmp_path) is None
    monkeypatch.setenv("EWS_PROJECT", str(other))
    assert find_project(start=deep) == other.resolve()  # the variable beats the search
    assert find_project(proj, start=deep) == proj.resolve()  # the option beats the variable
    with pytest.raises(ProjectNotFoundError, match="EWS_PROJECT"):
        monkeypatch.setenv("EWS_PROJECT", str(tmp_path))
        find_project(start=deep)


def test_outside_the_project_with_project_option(tmp_path: Path, monkeypatch) -> None:
    """Today every command failed outside the project with `conf/train.yaml: config file not found`.
    Config defaults resolve in the project; the paths typed stay relative to where ews runs."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "in").mkdir(parents=True)
    for name in ("invoices.csv", "payments.csv"):
        (elsewhere / "in" / name).write_bytes((BASE / name).read_bytes())
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("EWS_PROJECT", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "EWS_PROJECT"}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--dry-run"]
    done = subprocess.run(cmd, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "ews --project DIR" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [*cmd[:3], "--project", str(ROOT), *cmd[3:]],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert str(ROOT / "conf" / "nightly.yaml") in done.stdout.replace("\n", "")
    args = ["features", "--data", "in", "--raw", "--as-of", "2024-06-30", "--out", "feats.parquet"]
    result = CliRunner().invoke(app, ["--project", str(ROOT), *args])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(elsewhere / "feats.parquet")) > 0
    assert Path.cwd() == elsewhere  # restored


def test_config_paths_resolve_in_the_project(tmp_path: Path, mlflow_template: Path) -> None:
    """A real `ews models list` started two folders below the project: the project's relative MLflow
    URI is read in the project, not in the current directory."""
    from mlflow.tracking import MlflowClient

    proj = make_project(tmp_path / "proj")
    cwd = proj / "notebooks" / "scratch"
    cwd.mkdir(parents=True)
    # where the project's relative URI points (an empty migrated database, copied)
    uri = seed_mlflow_db(mlflow_template, proj / "data" / "mlflow" / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("ews-pd")
    client.create_model_version("ews-pd", str(proj / "model"), run_id=None)
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "EWS_PROJECT"}}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "models", "list"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == 0 and "ews-pd versions" in done.stdout, done.stdout
    assert not (cwd / "data").exists()


def test_bad_project_option_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--project", str(tmp_path), "config", "check"])
    assert result.exit_code == 2
    assert "not an ews project folder" in result.output and "Traceback" not in result.output
