"""A small book whose defaults come from debtors going silent at 0-59 days past due (the independent
simulator ``benchmarks/unseen_book.py``, 600 debtors, seed 2, trained through 2024-09-30): it cannot
fill the four windows at 30 defaults, so ``ews train`` would fit the roll-rate model; with
``rollrate.challenge`` LightGBM trained at 15 defaults per window wins on the pooled rolling-origin
folds and ships, logged with its reason, and the nightly scores and explains with it. A 100-debtor
book below the floor keeps the roll-rate model and says why."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines.synthetic import GeneratorParams, generate

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, **extra) -> Path:
    cfg = {
        "kind": "train",
        "project": str(ROOT / "conf" / "ews.yaml"),
        "rollrate": {
            "challenge": True,
            "challenge_min_defaults": 15,
            "challenge_fold_defaults": 10,
            "all_labelled": False,
        },
        **extra,
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def silent_book(tmp_path_factory) -> Path:
    from pipelines.ingest import ingest_dir

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import unseen_book
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    raw = tmp_path_factory.mktemp("silent600")
    unseen_book.write_book("small", 2, raw)
    ingest_dir(raw, raw / "ingested")
    return raw / "ingested"


def test_lightgbm_beats_the_rollrate_model_on_the_folds_ships_and_scores(
    prefect_harness, mlflow_uri, tmp_path, silent_book
) -> None:
    from pipelines.adapters.registry import history
    from pipelines.flows.nightly import nightly
    from pipelines.flows.train import run_train

    result = run_train(silent_book, _config(tmp_path, snapshots={"end": "2024-09-30"}))
    assert result.kind == "lightgbm", result.selection
    assert result.selection.startswith("small book: ") and "split.min_defaults 30" in result.selection
    assert "LightGBM trained at 15 defaults per window is better out of time, so it ships" in result.selection
    client = MlflowClient()
    mv = client.get_model_version("ews-pd", result.version)
    run = client.get_run(mv.run_id)
    assert run.data.params["small_book_choice"] == "feature"
    assert run.data.params["small_book_feature_kind"] == "lightgbm"
    m = run.data.metrics
    # the rule: lower log-loss with the whole interval below 0 (or tied and AUC above 0)
    assert m["feature_minus_rollrate_folds_logloss_ci_high"] < 0 or (
        m["feature_minus_rollrate_folds_logloss_ci_low"] <= 0 < m["feature_minus_rollrate_folds_auc_ci_low"]
    )
    assert m["small_book_folds"] >= 2 and m["small_book_fold_defaults"] > 0
    assert run.data.tags["ews.small_book_reason"].startswith(
        ("LightGBM has the lower log-loss", "log-loss tied")
    )
    folds = pd.read_csv(
        client.download_artifacts(mv.run_id, "evaluation/small_book_folds.csv", str(tmp_path))
    )
    assert len(folds) == m["small_book_folds"] and folds["defaults"].sum() == m["small_book_fold_defaults"]
    events = history("ews-pd")
    reason = events[(events["version"] == result.version) & (events["event"] == "challenger")]["reason"].iloc[
        0
    ]
    assert reason.startswith("lightgbm: small book:") and "rolling-origin folds" in reason
    assert result.promoted, result.gate_reasons

    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(f"kind: nightly\nproject: {ROOT / 'conf' / 'ews.yaml'}\nreport:\n  waterfalls: 2\n")
    out = tmp_path / "runs"
    nightly(as_of=pd.Timestamp("2024-12-31").date(), config_path=cfg, data_dir=silent_book, out_dir=out)
    folder = out / "2024-12-31"
    scores = pd.read_parquet(folder / "scores.parquet")
    live = scores[~scores["in_default"]]
    invoices = pd.read_parquet(silent_book.parent / "invoices.parquet")
    started = int((invoices.groupby("debtor_id")["issue_date"].min() <= pd.Timestamp("2024-12-31")).sum())
    assert started == 581  # 30-45 % of the simulator's debtors join during the history
    assert len(scores) == started and live["pd"].between(1e-4, 0.9999).all()
    assert live["pd"].nunique() > len(live) // 2  # a feature model, not 4 states
    queue = pd.read_csv(folder / "collections_queue.csv")
    assert queue["top_reason"].dropna().str.len().gt(0).any()
    assert "a debtor of this book was in that state" not in " ".join(queue["top_reason"].dropna())


def test_below_the_floor_the_rollrate_model_is_kept_and_says_why(
    prefect_harness, mlflow_uri, tmp_path
) -> None:
    from pipelines.flows.train import run_train
    from pipelines.ingest import ingest_dir

    raw = tmp_path / "book100"
    generate(GeneratorParams(debtors=100, months=24, seed=3, annual_default_rate=0.08), raw)
    ingest_dir(raw, raw / "ingested")
    result = run_train(raw / "ingested", _config(tmp_path, evaluation={"bootstrap_samples": 50}))
    assert result.kind == "rollrate", result.selection
    assert (
        "Roll-rate model kept: only the roll-rate model was tried: LightGBM and the scorecard cannot fill"
        in (result.selection)
    )
    run = MlflowClient().get_run(MlflowClient().get_model_version("ews-pd", result.version).run_id)
    assert run.data.params["small_book_choice"] == "rollrate (floor)"
    assert run.data.tags["ews.small_book_reason"].startswith("only the roll-rate model was tried")
