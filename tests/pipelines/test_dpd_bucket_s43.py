"""Session 43 (s43-pdless): what the ``dpd_bucket`` trigger fires on, decided as a collections lead reads it.

- It compares one run with the previous one: a debtor that crossed 30 days between two runs and paid before the
  second is not flagged (nothing is overdue then); cured and overdue again, it fires again when it crosses again.
- It reads the oldest open overdue invoice of any size (``dpd_current_max``): a 1-cent rest crossing 30 days fires.
  With ``default_definition.min_open_amount`` 0 (the default) these are the queue's days; with a threshold above
  0 the queue leaves rests of at most it out and the trigger does not. Reading the queue's days instead was
  measured on 16 fresh books under rule M (/work/notes/s43-pdless.md) and not met: not shipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, pay, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.scoring.watchlist import compare_with_previous, triggers  # noqa: E402

CFG = NightlyConfig()


def night(day: str, rows: dict[str, tuple[float, None]]) -> pd.DataFrame:
    """A run without a PD model: debtor -> (days of the oldest open overdue invoice, None)."""
    ids = list(rows)
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array(ids, dtype="string"),
            "as_of": pd.Timestamp(day),
            "pd": np.nan,
            "band": pd.array([pd.NA] * len(ids), dtype="string"),
            "in_default": False,
            "dpd_current_max": [rows[d][0] for d in ids],
            "open_disputed_amount": 0.0,
        }
    )
    return frame


def fired(today: pd.DataFrame, previous: pd.DataFrame) -> list[str]:
    scored = compare_with_previous(today, previous)
    flags = triggers(scored, CFG, has_previous=True, no_model=True)
    return sorted(scored.loc[flags["trigger_dpd_bucket"], "debtor_id"].astype(str))


def test_a_crossing_cured_before_the_next_run_is_not_flagged_and_a_new_one_is() -> None:
    # c crossed 30 on 06-10 (40 days on 06-20) and paid on 06-25: 0 at 06-30; at 07-31 a new invoice is 33 days late
    runs = [
        night("2024-05-31", {"c": (25, None), "k": (25, None)}),
        night("2024-06-30", {"c": (0, None), "k": (35, None)}),
        night("2024-07-31", {"c": (33, None), "k": (38, None)}),
    ]
    assert fired(runs[1], runs[0]) == ["k"]  # c is current: nothing to flag
    assert fired(runs[2], runs[1]) == ["c"]  # c crossed again; k stays in 30-59: no news


def test_a_one_cent_rest_fires_as_any_open_invoice_while_the_queue_leaves_it_out_under_a_threshold() -> None:
    """R's invoice of 1,000 due 2024-01-01 is paid but 0.01 on 2024-01-15; M's 500 due 2024-01-01 is unpaid. At
    2024-01-31 both are 30 days past due (2023-12-31: not yet due): both cross into 30+. With min_open_amount
    1.00 the queue's days of R are 0 (its rest is not past due) but the trigger reads the oldest open overdue
    invoice of any size and still fires: reading the queue's days (rule M, s43-pdless) was not met."""
    book = portfolio(
        [
            inv("R1", "R", "2023-12-01", "2024-01-01", 1000.0),
            inv("M1", "M", "2023-12-01", "2024-01-01", 500.0),
            inv("Z1", "Z", "2024-06-30", "2024-07-30", 10.0),
        ],
        [pay("pR", "R", "2024-01-15", 999.99, "R1")],
    )
    dates = [pd.Timestamp("2023-12-31"), pd.Timestamp("2024-01-31")]

    def on(definition: DefaultDefinition) -> tuple[str, dict]:
        panel = replay(book, dates, None, CFG, definition, no_model=True)
        jan = panel.loc[panel["as_of"] == dates[1]]
        fired = "".join(sorted(jan.loc[jan["trigger_dpd_bucket"], "debtor_id"].astype(str)))
        return fired, dict(zip(jan["debtor_id"].astype(str), jan["dpd"], strict=True))

    assert on(DefaultDefinition()) == ("MR", {"M": 30.0, "R": 30.0})
    assert on(DefaultDefinition(min_open_amount=1.0)) == ("MR", {"M": 30.0, "R": 0.0})
