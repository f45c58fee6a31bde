"""Session 38 walk (s38-walk): the leftovers of s37-walk and what a small book's users tripped on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, uri: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "EWS_PROJECT": str(ROOT),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def test_promoting_a_version_whose_gate_failed_says_which_check_failed(tmp_path: Path) -> None:
    """Walk (s37-walk D6): `ews models promote 2 --reason ...` of a version the gate kept out said "ews-pd v2
    is champion (previous: 1); reason recorded", no word of the failure. Now the one line names the failed
    check (without its figures) and still promotes: a manual override. A real MLflow registry (SQLite),
    the gate's tags as `record_gate` writes them; a version whose gate passed says nothing more."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (tmp_path / "model").mkdir()
    client.create_registered_model("ews-pd")
    for _ in range(3):
        client.create_model_version("ews-pd", (tmp_path / "model").as_uri())
    client.set_registered_model_alias("ews-pd", "champion", "1")
    reasons = (
        "ok challenger is the LightGBM model; ok AUC 0.8681 >= the floor 0.7000 (gate.min_auc); "
        "FAIL worse than champion v1: higher log-loss with the whole interval above 0 (log-loss +0.0165 "
        "[+0.0105, +0.0218], AUC -0.0010 [-0.0100, +0.0080] vs champion v1, on the test month-ends after v1's "
        "training (2 month-ends, 2025-08-31..2025-09-30: 2,950 rows, 41 defaults))"
    )
    client.set_model_version_tag("ews-pd", "2", "ews.gate", "failed")
    client.set_model_version_tag("ews-pd", "2", "ews.gate.reasons", reasons)
    client.set_model_version_tag("ews-pd", "3", "ews.gate", "passed")
    client.set_model_version_tag("ews-pd", "3", "ews.gate.reasons", "ok challenger is the LightGBM model")

    said = _cli(tmp_path, uri, "models", "promote", "2", "--reason", "the analysts trust v2")
    assert said == (
        "ews-pd v2 is champion (previous: 1), over its failed gate (worse than champion v1: higher log-loss "
        "with the whole interval above 0); reason recorded"
    )
    assert str(client.get_model_version_by_alias("ews-pd", "champion").version) == "2"
    said = _cli(tmp_path, uri, "models", "promote", "3", "--reason", "back to the gate's choice")
    assert said == "ews-pd v3 is champion (previous: 2); reason recorded"
