"""Session 31's candidate ``carry`` (s31-paydate2, issue 13; not shipped): a not-yet-due invoice's forecast
does not carry a spike of recent lateness in full (``benchmarks/paydate_carry_lib.py``:
``carried_lateness_shift``, ``shift_earlier``). By hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from paydate_carry_lib import carried_lateness_shift, shift_earlier  # noqa: E402


def test_shift_earlier_by_hand() -> None:
    F = np.array([[0.2, 0.6, 0.8], [0.2, 0.6, 0.8], [0.1, 0.5, 0.9]])
    G = shift_earlier(F, np.array([7.0, 3.5, 0.0]))
    # row 0, 7 days earlier: F(14), F(21), F(28) = F at the horizon end
    # row 1, 3.5 days: F(10.5) = 0.2 + 0.5 x 0.4, F(17.5) = 0.6 + 0.5 x 0.2, F(24.5) = 0.8; row 2 unchanged
    np.testing.assert_allclose(G, [[0.6, 0.8, 0.8], [0.4, 0.7, 0.8], [0.1, 0.5, 0.9]])
    np.testing.assert_array_equal(
        F, [[0.2, 0.6, 0.8], [0.2, 0.6, 0.8], [0.1, 0.5, 0.9]]
    )  # not changed in place


def test_carried_lateness_shift_by_hand() -> None:
    # every row: nothing paid by day 63, all of it paid by day 70 (linear): median given paid 66.5 days after T
    F = np.zeros((5, 26))
    F[:, 9:] = 1.0
    inv = pd.DataFrame(
        {
            "days_to_due": [10, -5, 10, 10, 20],
            "debtor_mean_lateness": [20.0, 20.0, np.nan, 40.0, 20.0],
        }
    )
    shift = carried_lateness_shift(F, inv, knee=30.0, keep=0.25)
    # row 0: implied lateness 66.5 - 10 = 56.5, 36.5 above the mean, 6.5 beyond the knee: 75 % of it goes
    # row 1: overdue at T; row 2: no settled invoice; row 3: 16.5 above the mean (within the knee)
    # row 4: 66.5 - 20 - 20 = 26.5 (within the knee)
    np.testing.assert_allclose(shift, [0.75 * 6.5, 0.0, 0.0, 0.0, 0.0])
    # the median given paid moves by the shift: 66.5 - 4.875 = 61.625
    G = shift_earlier(F, shift)
    assert G[0, 8] == pytest.approx((63 - 61.625 + 3.5) / 7)  # F(63 + 4.875) = (67.875 - 63) / 7
