"""The backtest and the training's queue-key evidence rank the queue by the days the nightly's queues read
(s36-review F2). Since a4ff129, with ``default_definition.min_open_amount`` the nightly's queues read the
days past due of the oldest overdue invoice with more than the threshold open; ``ews backtest``'s panel
and the test-window rows of ``ews train``'s key choice still read the rest's days (``dpd_current_max``),
so a backtest did not replay the nightly's queue order, nor its DPD-order baseline."""

from __future__ import annotations

import pandas as pd

from features.params import DefaultDefinition
from pipelines.config.nightly import NightlyConfig
from tests.features.ledgers import inv, pay, portfolio

AS_OF = pd.Timestamp("2024-06-30")


def _book():
    """By hand, as of 2024-06-30 (2024-01-31 is 151 days back, 2024-05-31 30): s owes only a 3.00 rest of
    an invoice due 01-31; w the same 3.00 rest and 500.00 due 05-31. Threshold 10: both live, s 0 days
    past due (no invoice that can make a default), w 30 (its 500.00); the rests' days: 151 for both."""
    return portfolio(
        [
            inv("s1", "s", "2024-01-01", "2024-01-31", 1000.0),
            inv("w1", "w", "2024-01-01", "2024-01-31", 1000.0),
            inv("w2", "w", "2024-05-01", "2024-05-31", 500.0),
        ],
        [pay("ps", "s", "2024-02-10", 997.0, "s1"), pay("pw", "w", "2024-02-10", 997.0, "w1")],
    )


def _pd(live: pd.DataFrame) -> pd.Series:
    ids = live["debtor_id"].astype("string")
    return pd.Series(0.05, index=ids.to_numpy())


def test_the_backtest_panel_reads_the_material_days_past_due() -> None:
    from pipelines.backtest import replay

    panel = replay(_book(), [AS_OF], _pd, NightlyConfig(), DefaultDefinition(min_open_amount=10.0))
    days = panel.set_index("debtor_id")["dpd"]
    assert not panel["in_default"].any()
    assert (days["s"], days["w"]) == (0.0, 30.0)
    plain = replay(_book(), [AS_OF], _pd, NightlyConfig(), DefaultDefinition())
    assert plain["in_default"].all() and plain["dpd"].tolist() == [151.0, 151.0]  # threshold 0: unchanged


def test_the_key_evidence_rows_read_the_material_days_past_due() -> None:
    from features.engine import build_bucket
    from pipelines.flows.queue_key import window_queue_rows

    built = build_bucket(_book(), [AS_OF], DefaultDefinition(min_open_amount=10.0))
    dataset = built.features.merge(built.defaults, on=["debtor_id", "as_of"])
    test = dataset[["debtor_id", "as_of"]].assign(y=0, pd=0.05)
    rows = window_queue_rows(test, dataset, NightlyConfig().queue).set_index("debtor_id")
    assert (rows.loc["s", "dpd"], rows.loc["w", "dpd"]) == (0.0, 30.0)
