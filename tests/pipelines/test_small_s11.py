"""Session 11 (s11-small): a new user with a small book, end to end through the ``ews`` commands.

Each test was written before its fix and fails without it. < 3 s each warm.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ingest" / "base"
REASONS = (
    "ok challenger is the lightgbm model; ok test_auc 0.9222 >= min_auc 0.7000; FAIL test_ece 0.0105 > "
    "0.0066 (chance ECE of a calibrated model on these rows 0.0016 + margin 0.005; mean PD 1.69% vs 0.77% "
    "defaulted on the test window); ok no current champion"
)


def test_score_with_a_registered_version_that_failed_its_gate_names_it_and_the_way_out(
    tmp_path: Path, monkeypatch, mlflow_uri: str
) -> None:
    """A 3,000-debtor x 36-month contagion book: the first `ews train` registered v1, whose gate failed
    (ECE), so no champion. Before: `ews score` said only "run `ews train` ... or `ews models promote
    VERSION`", and training again gives the same verdict; now it names v1, why it failed and the
    command that accepts it."""
    from mlflow.tracking import MlflowClient

    import pipelines.commands.score as score_cmd

    def no_flow(*args, **kwargs):
        raise AssertionError("the flow runtime was started")

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    tags = {
        "ews.kind": "lightgbm",
        "ews.test_auc": "0.922230",
        "ews.gate": "failed",
        "ews.gate.reasons": REASONS,
    }
    client.create_model_version("ews-pd", source=str(tmp_path / "model"), tags=tags)
    client.set_registered_model_alias("ews-pd", "challenger", "1")
    monkeypatch.setattr(score_cmd, "flow_runtime", no_flow)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--data",
            str(DATA),
            "--raw",
            "--as-of",
            "2024-06-30",
            "--out",
            str(out),
            "--require-model",
        ],
    )  # without --require-model the run goes on without a PD model, saying the same (tests/pipelines/test_nomodel_s41.py)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert (
        "ews-pd v1 (lightgbm, test AUC 0.9222) is registered but failed its promotion gate: ECE (calibration) 0.0105"
        in text
    )
    # s18: the ECE check's own "; mean PD ..." is kept (before: cut at its "; ", the parenthesis left open)
    assert "+ margin 0.005; mean PD 1.69% vs 0.77% defaulted on the test window). Training again" in text
    assert "Training again on the same data gives the same verdict" in text
    assert 'ews models promote 1 --reason "..."' in text
    assert "ok test_auc" not in text and not out.exists()  # only the failed checks


def test_train_says_when_a_failed_gate_leaves_the_book_without_a_champion() -> None:
    """Before: `ews train` ended with 'gate failed: champion unchanged' and nothing said that no model
    could score (the 3,000-debtor contagion book): the user met it in `ews score`."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.train import print_no_champion

    console = Console(record=True, width=200)
    print_no_champion(console, SimpleNamespace(promoted=False, champion_before=None, version="1"))
    text = console.export_text()
    assert "no champion yet: `ews score` runs without a PD model until a version is promoted" in text
    assert 'ews models promote 1 --reason "..."' in text
    for promoted, before in ((True, None), (False, "3")):  # promoted now, or a champion stays
        console = Console(record=True, width=200)
        print_no_champion(console, SimpleNamespace(promoted=promoted, champion_before=before, version="4"))
        assert console.export_text() == ""
