"""Shared fixtures: one Prefect test harness per session, MLflow pointed at tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for the whole session (starting one costs 5-10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    """MLflow on a throwaway SQLite file; restores the environment afterwards."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("EWS_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    return uri


@pytest.fixture(scope="session")
def uci_path() -> Path:
    path = Path(os.environ.get("EWS_UCI_PATH", SHARED_DATA / "uci_credit_card.csv"))
    if not path.exists():
        pytest.skip(f"public UCI file not present at {path}")
    return path
