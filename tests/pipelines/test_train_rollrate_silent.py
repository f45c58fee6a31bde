"""A small book whose defaults come from debtors that stop paying and buying (the independent
simulator ``benchmarks/unseen_book.py``, 600 debtors, seed 2, trained through 2024-09-30: too few
defaults for the four windows, so the roll-rate model) through ``ews train``'s and ``ews score``'s flows with
``rollrate.silent`` on: the model without silence scores everyone, a silent debtor gets the higher
of that and the silent state model's PD; both are logged and registered, and the nightly's
watchlist explains a silent debtor in its own figures ("silent: no payment for 75 days and ...")."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_silent_state_through_train_and_score(prefect_harness, mlflow_uri, tmp_path, silent_book) -> None:
    from pipelines.flows.nightly import nightly
    from pipelines.flows.train import run_train

    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text(
        yaml.safe_dump(
            {
                "kind": "train",
                "project": str(ROOT / "conf" / "ews.yaml"),
                "snapshots": {"end": "2024-09-30"},
                "evaluation": {"bootstrap_samples": 50},
                # the roll-rate path: with rollrate.all_labelled (on since session 21) this book gets
                # LightGBM fitted on every labelled month-end (tests/pipelines/test_train_all_labelled.py)
                "rollrate": {"silent": True, "all_labelled": False},
            }
        )
    )
    result = run_train(silent_book, train_cfg)  # what `ews train` runs
    assert result.kind == "rollrate" and result.promoted, result.gate_reasons
    client = MlflowClient()
    mv = client.get_model_version("ews-pd", result.version)
    run = client.get_run(mv.run_id)
    assert mv.tags["ews.kind"] == "rollrate"
    params = run.data.params
    states = json.loads(params["rollrate_states"])
    assert "silent" not in states and params["rollrate_silent"] == "True"
    assert params["rollrate_silent_as"] == "overlay" and params["rollrate_silent_payment_days"] == "45"
    assert params["rollrate_silent_invoice_days"] == "30" and params["rollrate_silent_max_dpd"] == "60"
    table = pd.read_csv(client.download_artifacts(mv.run_id, "rollrate/states.csv", str(tmp_path)))
    chain = table["pd"].to_numpy()
    assert (chain[1:] >= chain[:-1]).all()  # the past-due states stay non-decreasing
    quiet = pd.read_csv(client.download_artifacts(mv.run_id, "rollrate/silent_states.csv", str(tmp_path)))
    silent = quiet.set_index("state").loc["silent"]
    assert silent["moves"] > 0 and 1e-4 <= silent["pd"] <= 0.9999
    assert "gets the higher of its PD and the silent state's" in run.data.tags["ews.selection"]

    nightly_cfg = tmp_path / "nightly.yaml"
    nightly_cfg.write_text(
        f"kind: nightly\nproject: {ROOT / 'conf' / 'ews.yaml'}\nreport:\n  waterfalls: 2\n"
    )
    out = tmp_path / "runs"
    # what `ews score` runs (a second CliRunner invocation in one process leaves Prefect's console
    # handler on the first one's closed stream: RecursionError in its logging)
    nightly(
        as_of=pd.Timestamp("2024-12-31").date(), config_path=nightly_cfg, data_dir=silent_book, out_dir=out
    )
    folder = out / "2024-12-31"
    scores = pd.read_parquet(folder / "scores.parquet")
    live = scores[~scores["in_default"]]
    assert live["pd"].between(1e-4, 0.9999).all()
    assert live["pd"].nunique() >= min(1000, len(live) // 5)
    watchlist = pd.read_csv(folder / "watchlist.csv")
    said = watchlist["reason_1"].dropna()
    quiet = said[said.str.startswith("silent: no payment")]
    assert len(quiet), said.head(10).tolist()
    print(f"{len(quiet)} of {len(said)} watchlist reasons are silent ones, e.g. {quiet.iloc[0]!r}")
    pattern = (
        r"^silent: no payment (for \d+ days|in its \d+ days as a customer) and no new invoice for \d+ days "
        r"while (\d+ invoices are|1 invoice is) overdue \(oldest \d+ days past due\); of the [\d,]+ times? a "
        r"debtor of this book was in that state at a month-end, [\d,]+ (was|were) followed by a default within 3 months$"
    )
    assert all(re.match(pattern, text) for text in quiet), quiet.tolist()
