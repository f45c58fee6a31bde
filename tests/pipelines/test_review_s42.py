"""Session 42 (s42-review): tests for mutants of session 42's commits that survived their own tests.

Each test names the commit and the mutant (benchmarks/review_mutations.py, I entries) it catches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402

DATES = [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]


def test_the_backtest_keeps_band_default_for_a_never_invoiced_debtor_in_default() -> None:
    """20df69c blanked the replay's band of a live debtor never invoiced by T; mutant I2 blanked it for one
    in default too (every test passed). Hand-built: A invoiced 2023-12-01 (1,000, due 12-31, never paid;
    PD 0.10: band D); X in the debtors table only, never invoiced, an insolvency event on 2024-01-15: in
    default from January on, no history (no invoice, payment or statement), band "default" as in the
    nightly's scores (pipelines.scoring.score: only live prospects lose their band)."""
    book = portfolio(
        [inv("A1", "A", "2023-12-01", "2023-12-31", 1000.0)],
        [],
        debtors=[
            {"debtor_id": d, "credit_limit": 5_000.0, "onboarded_on": pd.Timestamp("2023-11-01")}
            for d in "AX"
        ],
        events=[{"debtor_id": "X", "event_date": pd.Timestamp("2024-01-15"), "kind": "insolvency"}],
    )

    def pds(live: pd.DataFrame) -> pd.Series:
        ids = live["debtor_id"].astype("string")
        return pd.Series(0.10, index=ids.to_numpy(), dtype="float64")

    panel = replay(book, DATES, pds, NightlyConfig(), DefaultDefinition()).set_index(["as_of", "debtor_id"])
    for day in DATES:
        assert bool(panel.loc[(day, "X"), "in_default"]) and not bool(panel.loc[(day, "X"), "has_history"])
        assert panel.loc[(day, "X"), "band"] == "default"
        assert panel.loc[(day, "A"), "band"] == "D"
