"""The CDF levels of a version's p10-p90 (session 35, issue 13): ``models.paydate.interval_levels`` from
the version's count of paying debtors, in words, and ``forecast_frame`` reading them. Read at 0.1 / 0.9
the interval was too narrow out of time on 100-debtor books (BENCHMARKS.md, "Session 35 (s35-paydate)")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.paydate import (
    DEFAULT_LEVELS,
    forecast_frame,
    interval_levels,
    levels_in_words,
)


def test_the_rule_by_hand() -> None:
    """Fewer than 150 debtors with a paid held-out invoice: (0.08, 0.92); 150 and more: (0.1, 0.9)."""
    assert interval_levels(0) == (0.08, 0.92)
    assert interval_levels(80) == (0.08, 0.92)
    assert interval_levels(149) == (0.08, 0.92)
    assert interval_levels(150) == (0.1, 0.9)
    assert interval_levels(2000) == (0.1, 0.9)
    assert DEFAULT_LEVELS == (0.1, 0.9)


def test_the_levels_in_words() -> None:
    assert levels_in_words((0.08, 0.92)) == "the 8th to the 92nd percentile of the predicted payment date"
    assert levels_in_words((0.09, 0.91)) == "the 9th to the 91st percentile of the predicted payment date"
    assert levels_in_words((0.1, 0.9)) == "the 10th to the 90th percentile of the predicted payment date"
    assert levels_in_words((0.125, 0.875)) == (
        "the 12.5th to the 87.5th percentile of the predicted payment date"
    )


def test_forecast_frame_reads_the_interval_at_the_levels_by_hand() -> None:
    """One invoice, weekly CDF 0.05 / 0.20 / 0.50 / 0.80 / 0.95 / 1.00 (linear within a week, each day
    counted at its middle: ``mid``). At 0.08 the CDF is 0.03 / 0.15 = 0.2 into week 2: day 7 + 1.4 = 8.4,
    p10 = ceil(8.9) = day 9; at 0.1, 7 + 7 / 3 = 9.33: day 10. At 0.92: 0.8 into week 5, 28 + 5.6 =
    33.6, p90 = floor(34.1) = day 34; at 0.9: 28 + 14 / 3 = 32.67: day 33. The median is the
    same at any levels."""
    F = np.array([[0.05, 0.20, 0.50, 0.80, 0.95, 1.00]])
    T = 19_000  # days since the epoch
    wide = forecast_frame(F, T, interval="mid", levels=(0.08, 0.92))
    plain = forecast_frame(F, T, interval="mid")
    day = pd.Timestamp(T, unit="D")
    assert wide["paid_on_p10"].iloc[0] == day + pd.Timedelta(days=9)
    assert wide["paid_on_p90"].iloc[0] == day + pd.Timedelta(days=34)
    assert plain["paid_on_p10"].iloc[0] == day + pd.Timedelta(days=10)
    assert plain["paid_on_p90"].iloc[0] == day + pd.Timedelta(days=33)
    assert wide["expected_paid_on"].iloc[0] == plain["expected_paid_on"].iloc[0]
