"""``ews models ...`` and ``ews train`` argument handling, against MLflow in tmp_path."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.evaluate import GateThresholds, gate_decision
from models.split import SplitParams
from models.train import LGBMParams, TrainParams, train_pd_model
from pipelines.adapters import registry
from pipelines.cli import app

_spec = importlib.util.spec_from_file_location(
    "model_frames", Path(__file__).resolve().parents[1] / "models" / "model_frames.py"
)
model_frames = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_frames)

runner = CliRunner()


@pytest.fixture(scope="module")
def outcome():
    frame = model_frames.make_modelling_frame(n_debtors=600, n_snapshots=8, seed=9)
    return train_pd_model(
        frame,
        TrainParams(lgbm=LGBMParams(n_estimators=20), split=SplitParams(min_defaults=10), fold_defaults=0),
    )


def _log(outcome) -> str:
    return registry.log_training(
        outcome, params={}, figures={}, tables={}, card="# c\n", provenance={"git_commit": "x"}, warnings=[]
    ).version


def test_models_commands_on_an_empty_registry(mlflow_uri) -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "no versions of 'ews-pd' yet" in result.output
    result = runner.invoke(app, ["models", "champion-on", "2026-01-01", "--runs", "/nonexistent"])
    assert result.exit_code == 1 and "no champion" in result.output
    result = runner.invoke(app, ["models", "promote", "3", "--reason", "x"])
    assert result.exit_code == 2 and "has no version '3'" in result.output


def test_list_promote_history_and_champion_on(mlflow_uri, outcome, tmp_path) -> None:
    v1, v2 = _log(outcome), _log(outcome)
    th = GateThresholds(min_auc=0.5, ece_margin=0.5)
    registry.record_gate(
        v1,
        gate_decision(outcome.metrics, th, ece_tolerance=0.0),
        champion_version=None,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    result = runner.invoke(
        app, ["models", "promote", v2, "--reason", "challenger reviewed by the model committee"]
    )
    assert result.exit_code == 0, result.output
    assert f"v{v2} is champion (previous: {v1})" in result.output
    again = runner.invoke(app, ["models", "promote", v2, "--reason", "asked twice"])  # s25-newuser
    assert again.exit_code == 0 and f"v{v2} was already champion: nothing moved" in again.output
    listing = runner.invoke(app, ["models", "list"])
    assert listing.exit_code == 0
    assert (
        "challenger,champion" in listing.output and "passed" in listing.output and "manual" in listing.output
    )
    history = runner.invoke(app, ["models", "history"])
    assert "retired" in history.output and "model committee" in history.output
    on = runner.invoke(app, ["models", "champion-on", "2026-01-02", "--runs", str(tmp_path / "runs")])
    assert on.exit_code == 0 and f"registry time: v{v1} held champion" in on.output
    assert "scored runs:   no run as of 2026-01-02" in on.output
    missing_reason = runner.invoke(app, ["models", "promote", v1])
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.output


def test_models_list_fits_100_columns_and_wide_shows_every_column(mlflow_uri, outcome) -> None:
    """s27-ux: ``ews models list`` was a table of 144 to 180 columns (the README walk's registry: 180,
    two champion periods in full). Now 100: the creation day, AUC and ECE, and of the champion periods
    the current one's start or the last one's end; --wide prints every column as before."""
    v1, v2 = _log(outcome), _log(outcome)
    th = GateThresholds(min_auc=0.5, ece_margin=0.5)
    registry.record_gate(
        v1, gate_decision(outcome.metrics, th, ece_tolerance=0.0), champion_version=None,
        at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )  # fmt: skip
    before = datetime.now(UTC).strftime(
        "%Y-%m-%d"
    )  # the promotion's day: one of these (midnight UTC, s44-flake)
    assert runner.invoke(app, ["models", "promote", v2, "--reason", "reviewed"]).exit_code == 0
    after = datetime.now(UTC).strftime("%Y-%m-%d")
    listing = runner.invoke(app, ["models", "list"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert max(len(line) for line in lines) <= 100, listing.output
    header = next(line for line in lines if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "version", "aliases", "created", "AUC", "ECE", "gate", "key", "champion"
    ]  # fmt: skip
    rows = {r.split("│")[1].strip(): r for r in lines if r.startswith("│")}
    today = next(day for day in (before, after) if "until " + day in rows[v1])
    assert "passed" in rows[v1] and "2026-01-01" not in rows[v1]
    assert "since " + today in rows[v2] and "manual" in rows[v2] and "champion" in rows[v2]
    assert f"{outcome.metrics['auc']:.4f}" in rows[v2] and "--wide" in listing.output
    wide = runner.invoke(app, ["models", "list", "--wide"])
    assert wide.exit_code == 0 and "champion periods" in wide.output and "test window" in wide.output
    assert "2026-01-01 12:00.." in wide.output


def test_champion_on_answers_by_the_as_of_date_of_scored_runs(mlflow_uri, tmp_path) -> None:
    import json

    # a backfill run for 2024-06-30 scored by v1; the registry never had a champion on that day
    for day, version in (("2024-06-30", "1"), ("2024-07-31", "2")):
        run = tmp_path / "runs" / day
        run.mkdir(parents=True)
        (run / "scores.parquet").write_bytes(b"")
        (run / "manifest.json").write_text(json.dumps({"model": {"name": "ews-pd", "version": version}}))
    runs = ["--runs", str(tmp_path / "runs")]
    on = runner.invoke(app, ["models", "champion-on", "2024-06-30", *runs])
    assert on.exit_code == 0, on.output
    assert "registry time: no champion of ews-pd" in on.output
    assert (
        f"scored runs:   as of 2024-06-30 scored by ews-pd v1 ({tmp_path / 'runs' / '2024-06-30'}"
        in on.output
    )
    later = runner.invoke(app, ["models", "champion-on", "2024-07-15", *runs])
    assert "latest run before, as of 2024-06-30 scored by ews-pd v1" in later.output
    assert "scored by ews-pd v2" in runner.invoke(app, ["models", "champion-on", "2024-07-31", *runs]).output


def test_train_command_rejects_a_missing_data_dir(tmp_path) -> None:
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "is not a folder" in result.output


def test_a_statements_book_skips_the_payment_date_model(tmp_path) -> None:
    """A statements book has no invoice due dates: `ews train` says it skips ews-paydate, no flow run."""
    import json

    from pipelines.commands.train import holds_invoices

    ingested = tmp_path / "ing"
    ingested.mkdir()
    tables = {
        "statements": {"rows_in": 5, "rows_accepted": 5},
        "invoices": {"rows_in": 2, "rows_accepted": 0},
    }
    (ingested / "manifest.json").write_text(json.dumps({"tables": tables}))
    assert not holds_invoices(ingested)
    tables["invoices"]["rows_accepted"] = 1
    (ingested / "manifest.json").write_text(json.dumps({"tables": tables}))
    assert holds_invoices(ingested)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "statements.csv").write_text("debtor_id,period_end\n")
    assert not holds_invoices(raw)
    (raw / "invoices.csv").write_text("invoice_id\n")
    assert holds_invoices(raw)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (None, "config file not found"),
        ("kind: train\nsplit: {min_defaults: -3}\n", "1 problem"),
        ("kind: train\nproject: elsewhere/ews.yaml\n", "elsewhere/ews.yaml: config file not found"),
    ],
)
def test_train_refuses_a_bad_config_before_prefect_starts(tmp_path, monkeypatch, body, needle) -> None:
    """A missing or invalid train config (or the project config it names) is reported before the
    temporary Prefect server starts: the Prefect runtime must not be entered at all."""
    import pipelines.commands.score as score_cmd

    def no_prefect(*_args, **_kwargs):
        raise AssertionError("Prefect runtime entered before the config was checked")

    monkeypatch.setattr(score_cmd, "flow_runtime", no_prefect)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    config = tmp_path / "train.yaml"
    if body is not None:
        config.write_text(body, encoding="utf-8")
    result = runner.invoke(app, ["train", "--data", "raw", "--raw", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
