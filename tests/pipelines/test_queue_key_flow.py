"""The test window's queue rows that ``ews train`` chooses the queue key on (``pipelines.flows.queue_key``)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.config.nightly import QueueConfig
from pipelines.flows.queue_key import window_queue_rows


def test_queue_rows_are_the_live_overdue_test_rows_with_their_exposure() -> None:
    """Of four test rows: a in default and c not overdue are left out; b and d kept with the modelling
    frame's balance, days past due and the segment's LGD (construction 0.6, else the default 0.45)."""
    t = pd.Timestamp("2024-06-30")
    test = pd.DataFrame(
        {"debtor_id": ["a", "b", "c", "d"], "as_of": t, "y": [1, 0, 1, 1], "pd": [0.9, 0.1, 0.2, 0.3]}
    )
    dataset = pd.DataFrame(
        {
            "debtor_id": ["a", "b", "c", "d", "e"],
            "as_of": t,
            "open_balance": [100.0, 200.0, 300.0, 400.0, 500.0],
            "overdue_amount": [100.0, 50.0, 0.0, 10.0, 5.0],
            "dpd_current_max": [120.0, 12.0, 0.0, 45.0, 3.0],
            "in_default_at_asof": [True, False, False, False, False],
            "segment": ["retail", "construction", "retail", "retail", "retail"],
        }
    )
    cfg = QueueConfig.model_validate({"lgd": {"default": 0.45, "by_segment": {"construction": 0.6}}})
    rows = window_queue_rows(test, dataset, cfg)
    assert rows["debtor_id"].tolist() == ["b", "d"]
    assert rows["open_balance"].tolist() == [200.0, 400.0] and rows["dpd"].tolist() == [12.0, 45.0]
    assert rows["lgd"].tolist() == pytest.approx([0.6, 0.45]) and rows["label"].tolist() == [0, 1]
    assert rows["pd"].tolist() == [0.1, 0.3]
    above = window_queue_rows(test, dataset, cfg.model_copy(update={"min_overdue": 20.0}))
    assert above["debtor_id"].tolist() == ["b"]
