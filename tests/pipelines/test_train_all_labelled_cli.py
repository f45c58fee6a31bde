"""``ews train`` and ``ews score`` as a user runs them on a small book that takes the all-labelled
path (``rollrate.all_labelled``): ``ews generate --regime quiet --debtors 800 --months 24 --seed 1``
cannot fill the four windows at 30 defaults each; its inner folds hold >= 25 defaults and LightGBM
fitted on every labelled month-end has the lower pooled fold log-loss, so it ships.

Before 65ad073 the command registered and promoted ews-pd v1, then ended in ``IndexError`` (exit 1,
traceback) on the line under the metrics table (it read the calibration window this path lacks), so
the payment-date model was never trained. ``test_train_all_labelled`` calls ``run_train``, not the
command, and did not see it (BENCHMARKS.md s21-firstsmall)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _ews(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``ews ARGS`` in its own process, as a user runs it, on this tree's code (``PYTHONPATH``: the
    venv's editable install may point at another clone, whose code then ran, s23-determinism)."""
    from prefect.settings import PREFECT_API_URL

    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        # outside the repo, as a user's folder: the shipped conf/ through EWS_PROJECT
        env={
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "EWS_PROJECT": str(ROOT),
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "300",
        },
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_ews_train_and_score_on_the_all_labelled_path(prefect_harness, mlflow_uri, tmp_path) -> None:
    raw, ing = tmp_path / "g", tmp_path / "ing"
    gen = ["generate", "--regime", "quiet", "--debtors", "800", "--months", "24", "--seed", "1"]
    result = runner.invoke(app, [*gen, "--out", str(raw)])
    assert result.exit_code == 0, result.output
    inputs = ["--invoices", str(raw / "invoices.parquet"), "--payments", str(raw / "payments.parquet")]
    inputs += ["--debtors", str(raw / "debtors.parquet"), "--events", str(raw / "events.parquet")]
    result = runner.invoke(app, ["ingest", *inputs, "--no-docs", "--out", str(ing)])
    assert result.exit_code == 0, result.output

    # the shipped train config, its project path made absolute (before 65ad073: IndexError, exit 1,
    # after ews-pd v1 was registered); in its own process, as a user runs it
    cfg = yaml.safe_load((ROOT / "conf" / "train.yaml").read_text())
    cfg["project"] = str(ROOT / "conf" / "ews.yaml")
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(cfg))

    result = _ews("train", "--data", str(ing), "--config", str(config), cwd=tmp_path)
    output = result.stdout + result.stderr
    text = _flat(output)
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert "LightGBM fitted on every labelled month-end" in text, text
    assert "no test window: every test_* figure is the inner folds' out-of-time month-ends 2024-" in text
    assert "gate passed: now champion" in text
    # the payment-date model, the command's second step, was trained too
    assert "ews-paydate v1: held-out MAE" in text, text

    history = _ews("models", "history", cwd=tmp_path)
    assert history.returncode == 0, history.stdout + history.stderr
    assert "no test window" in _flat(history.stdout), history.stdout

    # this test's store, named: a bare MlflowClient() followed MLflow's process-wide store, which an
    # earlier test's in-process ews had set, and read its ews-pd (s23-determinism)
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    mv = client.get_model_version("ews-pd", "1")
    run = client.get_run(mv.run_id)
    p, m = run.data.params, run.data.metrics
    assert run.data.tags["ews.code_dir"] == str(ROOT)  # the code under test trained it
    assert run.data.tags["ews.blas_threads"] == "1"  # whatever this worker's environment says
    assert p["small_book_path"] == "all_labelled" and p["small_book_choice"] == "feature"
    assert p["small_book_feature_kind"] == "lightgbm"
    assert m["small_book_folds"] == 3 and m["small_book_fold_defaults"] >= 25
    trees = int(m["small_book_trees"])
    losses = {n: m[f"small_book_fold_logloss_{n}"] for n in cfg["rollrate"]["all_labelled_trees"]}
    assert trees == min(losses, key=losses.get)
    assert m["feature_minus_rollrate_folds_logloss"] < 0
    assert m["feature_minus_rollrate_folds_logloss_ci_low"] <= m["feature_minus_rollrate_folds_logloss"]
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == "1"

    runs = tmp_path / "runs"
    result = _ews("score", "--data", str(ing), "--as-of", "2024-12-31", "--out", str(runs), cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    folder = runs / "2024-12-31"
    scores = pd.read_parquet(folder / "scores.parquet")
    live = scores[~scores["in_default"]]
    assert len(live) > 500 and live["pd"].between(1e-4, 0.9999).all()
    queue = pd.read_csv(folder / "collections_queue.csv")
    reasons = queue["top_reason"].dropna()
    assert len(reasons) and reasons.str.len().gt(0).all()
    assert not reasons.str.contains(r"nan|\{", regex=True).any()
