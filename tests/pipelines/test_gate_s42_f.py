"""Session 42 (s42-gate) candidate F: the champion stays unless the challenger wins, at the point estimate,
on the test rows both models held out (each model's own out-of-time PDs); with no such row and none after the
champion's training, the champion stays. Every expected value is by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from pipelines.adapters import registry

ROOT = Path(__file__).resolve().parents[2]


def test_held_out_pds_are_the_champions_own_on_the_shared_rows() -> None:
    from pipelines.flows.train import held_out_pds

    keys = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D1", "D2"],
            "as_of": pd.to_datetime(["2024-01-31"] * 2 + ["2024-02-29"] * 2),
        }
    )
    logged = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2", "D9"], dtype="string"),
            "as_of": pd.to_datetime(["2024-01-31", "2024-01-31", "2024-02-29"]),
            "y": [0, 1, 0],
            "pd": [0.2, 0.6, 0.9],
        }
    )
    got = held_out_pds(keys, logged)
    np.testing.assert_array_equal(got, [0.2, 0.6, np.nan, np.nan])
    assert held_out_pds(keys, logged.iloc[2:]) is None and held_out_pds(keys, None) is None


def _outcome() -> SimpleNamespace:
    test = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3", "D4"] * 2,
            "as_of": pd.to_datetime(["2024-01-31"] * 4 + ["2024-02-29"] * 4),
            "y": [1, 0, 0, 0, 0, 1, 0, 0],
            "pd": [0.25, 0.1, 0.1, 0.1, 0.1, 0.25, 0.1, 0.1],
        }
    )
    return SimpleNamespace(
        kind="rollrate",
        test=test,
        metrics={"auc": 1.0, "ece": 0.0, "mean_pd": 0.2, "default_rate": 0.25},
        ece_tolerance=0.05,
        intervals={"challenger": {"auc": (0.9, 1.0)}},
    )


def test_the_champion_stays_unless_the_challenger_wins_on_the_rows_both_held_out(mlflow_uri: str) -> None:
    """The champion's own out-of-time PDs give the two default rows 0.5 (the challenger 0.25): the
    challenger's log-loss is higher by 2 x (ln 0.5 - ln 0.25) / 8 = ln 2 / 4 = +0.1733 at the point; not
    significant (a debtor draw without a default gives 0), so today's check would pass; F keeps the champion."""
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows import train as train_flow

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    for _ in range(2):
        client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    registry.promote("1", "first model")
    held = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1])
    champion = train_flow.ChampionOnTest(version="1", held_pd=held)
    decision = train_flow.gate.fn(
        SimpleNamespace(version="2"), _outcome(), champion, TrainConfig(), ProjectConfig()
    )
    assert not decision.passed
    fail = [r for r in decision.reasons if r.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith(
        "FAIL not better than the champion: higher log-loss at the point estimate (log-loss +0.1733 ["
    )
    assert fail[0].endswith(
        "on the test rows both models held out, each scored out of time (2 month-ends, 2024-01-31..2024-02-29: "
        "8 rows, 4 debtors, 2 defaults))"
    )
    assert "does not beat the current champion on the rows both held out" in decision.summary
    assert "ews models promote 2" in decision.summary
    # the other way round the challenger wins and is promoted
    better = train_flow.ChampionOnTest(version="1", held_pd=np.array([0.1] * 8))
    assert train_flow.gate.fn(
        SimpleNamespace(version="2"), _outcome(), better, TrainConfig(), ProjectConfig()
    ).passed


def test_no_row_to_compare_keeps_the_champion(mlflow_uri: str) -> None:
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows import train as train_flow

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    for _ in range(2):
        client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    registry.promote("1", "first model")
    note = (
        "champion v1 trained on every test row (through 2024-02-29) and held none of them out: no row to compare "
        "on, so the champion stays"
    )
    champion = train_flow.ChampionOnTest(version="1", note=note, no_rows=True)
    decision = train_flow.gate.fn(
        SimpleNamespace(version="2"), _outcome(), champion, TrainConfig(), ProjectConfig()
    )
    assert not decision.passed and f"FAIL {note}" in decision.reasons
    assert "no test row could compare it with the current champion" in decision.summary
