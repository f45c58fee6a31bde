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


def _forged(lines: list[str], k: int, **change) -> str:
    """The log with line ``k`` changed and every hash from it on recomputed, as a forger who read
    overrides.py would write it (the chain has no secret)."""
    import hashlib
    import json

    fields = ("seq", "debtor_id", "status", "band", "reason", "by", "at", "until", "run", "pd", "prev")
    records = [json.loads(line) for line in lines]
    records[k - 1].update(change)
    for i, record in enumerate(records):
        if i:
            record["prev"] = records[i - 1]["hash"]
        body = json.dumps({f: record.get(f) for f in fields}, sort_keys=True, separators=(",", ":"))
        record["hash"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def test_an_override_line_forged_with_recomputed_hashes_is_refused_by_any_published_run(
    tmp_path: Path,
) -> None:
    """Three override lines; the run of 5 January read the first 2, the run of 10 January all 3. Line 3
    rewritten (escalated -> cleared) with its hash recomputed. Before, a rerun of 7 January (whose previous
    run, 5 January, recorded 2 lines) accepted it; and line 2 forged with the 10 January manifest's head
    rewritten to match passed the next nightly. Now every published run's recorded head is checked."""
    import datetime as dt
    import json

    import pytest

    from pipelines.scoring.overrides import AuditLogError, Override, append_override, check_log, log_head

    runs = tmp_path / "runs"

    def publish(day: str, lines: int) -> Path:
        folder = runs / day
        folder.mkdir(parents=True)
        (folder / "scores.parquet").write_bytes(b"")
        (folder / "manifest.json").write_text(json.dumps({"as_of": day, "overrides": log_head(runs, lines)}))
        return folder

    for i, (debtor, status) in enumerate([("D1", "under_review"), ("D2", "escalated"), ("D3", "escalated")]):
        when = dt.datetime(2026, 1, 4 + i, 10, tzinfo=UTC)
        append_override(runs, Override(debtor, status, "call booked", "anna", dt.date(2026, 1, 4)), now=when)
    jan5, jan10 = publish("2026-01-05", 2), publish("2026-01-10", 3)
    log = runs / "overrides.jsonl"
    good = log.read_text().splitlines()
    check_log(runs, jan5)  # intact

    log.write_text(_forged(good, 3, status="cleared"))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan5)  # a rerun of 2026-01-07
    said = str(err.value)
    assert f"{jan10 / 'manifest.json'} recorded 3 lines ending in hash " in said, said
    assert "line 3 was changed since (the first 2 lines still match what earlier runs recorded)" in said, said
    assert "Restore overrides.jsonl from a backup taken after the run of 2026-01-10" in said, said

    log.write_text(_forged(good, 2, status="cleared"))
    manifest = json.loads((jan10 / "manifest.json").read_text())
    manifest["overrides"] = log_head(runs)  # the forger rewrites the latest manifest too
    (jan10 / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan10)  # the nightly of 2026-01-11
    said = str(err.value)
    assert f"{jan5 / 'manifest.json'} recorded 2 lines ending in hash " in said, said
    assert "one of lines 1 to 2 was changed since" in said, said


def test_a_training_whose_data_folder_is_re_ingested_while_it_reads_registers_nothing(
    prefect_harness, mlflow_uri: str, tmp_path: Path, monkeypatch
) -> None:
    """s38-attack: `ews ingest --out DATA` publishes (a corrected export: 10 payments fewer) while
    `ews train --data DATA` builds its month-end snapshots from DATA's buckets. Before, the version was
    registered with the old ingest's manifest as its data provenance and a mix of both ingests as its
    data; now nothing is registered and the message says to train again."""
    import pandas as pd
    import pytest
    import yaml
    from nightly_portfolio import write_portfolio

    from pipelines.engine import FeedChangedError
    from pipelines.flows import train as train_flow
    from pipelines.ingest import ingest_dir

    raw, data = write_portfolio(tmp_path / "raw"), tmp_path / "data"  # the nightly tests' small book
    ingest_dir(raw, data)
    pay = pd.read_parquet(raw / "payments.parquet")
    pay.iloc[:-10].to_parquet(raw / "payments.parquet", index=False)
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "train",
                "project": str(ROOT / "conf" / "ews.yaml"),
                "split": {"min_defaults": 10},
                "lightgbm": {"n_estimators": 30, "min_child_samples": 40, "n_jobs": 1},
                "calibration": {"method": "sigmoid"},
                "evaluation": {"bootstrap_samples": 20, "fold_defaults": 0},
                "gate": {"min_auc": 0.5, "ece_margin": 1.0},
            }
        )
    )
    real = train_flow.ingest

    def ingest_then_a_late_ingest(*args, **kwargs):
        feed = real(*args, **kwargs)
        ingest_dir(raw, data)  # `ews ingest --out DATA` publishing while the training reads
        return feed

    monkeypatch.setattr(train_flow, "ingest", ingest_then_a_late_ingest)
    with pytest.raises(FeedChangedError) as err:
        train_flow.run_train(data, config)
    said = str(err.value)
    assert said.startswith(
        f"--data {data}: an `ews ingest` published into this folder while this run read it"
    )
    assert "so nothing was registered. Run `ews train` again once the ingest has ended" in said, said
    assert MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri).search_registered_models() == []
