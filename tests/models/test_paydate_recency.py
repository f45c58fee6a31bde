"""Recency weights of the payment-date hazard's training rows (session 23, pre-registered:
BENCHMARKS.md "Session 23 (s23-paydate)"): values by hand, and a real LightGBM fit of one leaf whose
hazard is the weighted share of settled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.paydate import FEATURES
from models.paydate import PaydateParams, fit_hazard, recency_weights


def test_recency_weights_by_hand() -> None:
    # weeks of T = 0: periods 0..3 end on days 7, 14, 21, 28; the latest end is 28, so the ages are
    # 21, 14, 7, 0 days; half-life 7 days: 1/8, 1/4, 1/2, 1 (mean 15/32) -> 4/15, 8/15, 16/15, 32/15
    rows = pd.DataFrame({"T": [0, 0, 0, 0], "period": [0, 1, 2, 3]})
    assert recency_weights(rows, 7.0) == pytest.approx([4 / 15, 8 / 15, 16 / 15, 32 / 15], rel=1e-12)
    # a row of T = 21 in its week 0 ends on day 28 too: the same weight as T = 0's week 3
    rows = pd.DataFrame({"T": [0, 21], "period": [3, 0]})
    assert recency_weights(rows, 7.0) == pytest.approx([1.0, 1.0], rel=1e-12)
    # a fine grid: the period's end day after T (period_end_day), not 7 x (period + 1)
    rows = pd.DataFrame({"T": [0, 0], "period": [0, 1], "period_end_day": [3.0, 17.0]})
    assert recency_weights(rows, 7.0) == pytest.approx([0.4, 1.6], rel=1e-12)  # 1/4 and 1, mean 5/8


def rows_two_windows() -> pd.DataFrame:
    """400 invoice-weeks ending on day 7 (T = 0), 100 of them settled, and 400 ending on day 98 (T = 91),
    300 settled. Every feature 0, so no split: the hazard is one leaf."""
    rows = pd.DataFrame({f: np.zeros(800, dtype=np.float32) for f in FEATURES})
    rows["T"] = np.repeat([0, 91], 400)
    rows["label"] = np.concatenate([np.repeat([1, 0], [100, 300]), np.repeat([1, 0], [300, 100])])
    return rows


def test_fit_hazard_weights_the_recent_weeks_more() -> None:
    """Half-life 91 days: the older weeks end 91 days before the latest, weight 1/2 of theirs (2/3 and
    4/3 at mean 1). Hazard = weighted share settled = (100 x 1/2 + 300) / (400 x 1/2 + 400) = 7/12;
    unweighted (0: off, and the library default) 400 / 800 = 1/2."""
    params = PaydateParams(horizon_weeks=16, n_estimators=40, min_child_samples=1000, rows_per_leaf=0)
    x = np.zeros((1, len(FEATURES)), np.float32)
    weighted = fit_hazard(
        rows_two_windows(), PaydateParams(**{**params.as_record(), "recency_half_life_days": 91.0})
    )
    assert weighted.num_trees() == 1 and weighted.predict(x)[0] == pytest.approx(7 / 12, abs=1e-12)
    plain = fit_hazard(rows_two_windows(), params)
    assert params.recency_half_life_days == 0.0 and plain.predict(x)[0] == pytest.approx(0.5, abs=1e-12)


def test_the_train_config_turns_them_on_with_16_month_ends() -> None:
    """conf/train.yaml and the config's defaults: 16 training month-ends, half-life 91 days, passed on
    to the fit's parameters."""
    from pathlib import Path

    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig

    root = Path(__file__).resolve().parents[2]
    for cfg in (TrainConfig(), load_config(root / "conf" / "train.yaml", expect=TrainConfig)):
        assert cfg.paydate.train_snapshots == 16
        assert cfg.paydate.to_params(cfg.seed).recency_half_life_days == 91.0
    off = TrainConfig.model_validate({"paydate": {"recency_half_life_days": 0}})
    assert off.paydate.to_params(7).recency_half_life_days == 0.0
    with pytest.raises(ValueError, match="recency_half_life_days"):
        TrainConfig.model_validate({"paydate": {"recency_half_life_days": -1}})
