"""`ews score` / `ews backfill` / `ews serve`: refusals with exit code 2 and the deployment schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.commands.score import build_deployment

ROOT = Path(__file__).resolve().parents[2]


def test_serve_deployment_uses_config_cron_and_timezone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text("kind: nightly\nschedule:\n  cron: '30 3 * * 1-5'\n  timezone: America/New_York\n")
    deployment = build_deployment(cfg)
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "30 3 * * 1-5"
    assert schedule.schedule.timezone == "America/New_York"
    assert deployment.parameters["config_path"] == str(cfg.resolve())
    result = CliRunner().invoke(app, ["serve", "--config", str(cfg), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "30 3 * * 1-5" in result.output and "America/New_York" in result.output


def test_default_schedule_is_two_am_with_explicit_zone(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    (schedule,) = build_deployment(ROOT / "conf" / "nightly.yaml").schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Europe/Amsterdam")


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "--data", "DATA", "--as-of", "30/06/2024"], "--as-of '30/06/2024' is not a date"),
        (
            ["score", "--data", "/nonexistent/dir", "--as-of", "2024-06-30"],
            "--data /nonexistent/dir is not a folder",
        ),
        (["backfill", "--data", "DATA", "--from", "2024-06-30", "--to", "2024-06-01"], "is before --from"),
        (
            ["backfill", "--data", "DATA", "--from", "2024-06-01", "--to", "2024-06-30", "--freq", "hourly"],
            "--freq",
        ),
    ],
)
def test_user_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    args = [str(tmp_path) if a == "DATA" else a for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_score_without_champion_refuses_with_exit_2(
    tmp_path: Path, monkeypatch, mlflow_uri, prefect_harness
) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "data").mkdir()
    out = tmp_path / "runs"
    args = ["score", "--data", str(tmp_path / "data"), "--raw", "--as-of", "2024-06-30", "--out", str(out)]
    # --require-model: without it a project with no PD model runs without one (tests/pipelines/test_nomodel_s41.py)
    result = CliRunner().invoke(app, [*args, "--require-model"])
    assert result.exit_code == 2, result.output
    assert "no alias 'champion'" in result.output and "ews train" in result.output
    assert not (out / "2024-06-30").exists()


def test_score_refuses_a_project_whose_default_definition_differs_from_the_model(
    tmp_path: Path, monkeypatch, mlflow_uri, prefect_harness
) -> None:
    import importlib.util

    from features.params import DefaultDefinition
    from models.split import SplitParams
    from models.train import LGBMParams, TrainParams, train_pd_model
    from pipelines.adapters import registry

    spec = importlib.util.spec_from_file_location(
        "model_frames", ROOT / "tests" / "models" / "model_frames.py"
    )
    model_frames = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_frames)
    frame = model_frames.make_modelling_frame(n_debtors=300, n_snapshots=8, seed=2)
    outcome = train_pd_model(
        frame,
        TrainParams(lgbm=LGBMParams(n_estimators=5), split=SplitParams(min_defaults=5), fold_defaults=0),
    )
    trained_at_15 = DefaultDefinition(dpd_threshold=15).as_record()
    logged = registry.log_training(
        outcome,
        params={},
        figures={},
        tables={},
        card="#\n",
        provenance={},
        warnings=[],
        definition=trained_at_15,
    )
    registry.promote(logged.version, "test: champion trained at 15 DPD")
    assert registry.load_model_version().definition == trained_at_15

    project = tmp_path / "ews.yaml"
    project.write_text("kind: project\ndefault_definition:\n  dpd_threshold: 90\n")
    nightly_cfg = tmp_path / "nightly.yaml"
    nightly_cfg.write_text(f"kind: nightly\nproject: {project}\n")
    (tmp_path / "data").mkdir()
    out = tmp_path / "runs"
    args = ["score", "--data", str(tmp_path / "data"), "--raw", "--as-of", "2024-06-30", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--config", str(nightly_cfg)])
    assert result.exit_code == 2, result.output
    assert f"{project} (default_definition): default_definition differs" in result.output
    assert "dpd_threshold: 90 here, 15 in the model" in result.output and "ews train" in result.output
    assert "Traceback" not in result.output and "Flow run" not in result.output  # refused before the flow
    assert not (out / "2024-06-30").exists()
