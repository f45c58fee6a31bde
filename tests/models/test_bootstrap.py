"""models.bootstrap: the debtor draws shared by training's, the payment-date model's and the backtest's
intervals, and the percentile interval."""

from __future__ import annotations

import numpy as np
import pytest

from models.bootstrap import debtor_draws, percentile_interval


def test_each_replicate_draws_as_many_debtors_as_there_are_and_the_seed_repeats_them() -> None:
    first = list(debtor_draws(5, 30, seed=4))
    assert len(first) == 30 and all(c.sum() == 5 and len(c) == 5 for c in first)
    again = list(debtor_draws(5, 30, seed=4))
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    # one debtor: drawn once in every replicate
    assert all(c.tolist() == [1] for c in debtor_draws(1, 3, seed=0))


def test_percentile_interval_by_hand() -> None:
    # 0..100: the 2.5th and 97.5th percentiles are 2.5 and 97.5 (linear interpolation)
    assert percentile_interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))
    # NaN replicates (no default drawn) are left out; 90 %: the 5th and 95th of 0..100
    assert percentile_interval(np.r_[np.arange(101.0), np.nan], 0.90) == pytest.approx((5.0, 95.0))
    lo, hi = percentile_interval(np.array([np.nan, np.nan]))
    assert np.isnan(lo) and np.isnan(hi)
