from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from models.calibrate import calibrate


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(-2.5 + 1.2 * X["a"] - 0.8 * X["b"])))
    return X, (rng.random(n) < p).astype("int64")


@pytest.fixture(scope="module")
def skewed_model():
    """A model fitted on positives oversampled 4x: ranks well, overstates every PD."""
    X, y = _data(6000, 0)
    pos = np.flatnonzero(y == 1)
    idx = np.concatenate([np.arange(len(y)), np.repeat(pos, 3)])
    model = lgb.LGBMClassifier(n_estimators=60, num_leaves=7, verbose=-1, random_state=0, deterministic=True)
    return model.fit(X.iloc[idx], y[idx])


@pytest.mark.parametrize("method", ["auto", "isotonic", "sigmoid"])
def test_calibration_lowers_brier_on_held_out_data(skewed_model, method) -> None:
    X_cal, y_cal = _data(4000, 1)
    X_test, y_test = _data(4000, 2)
    raw = skewed_model.predict_proba(X_test)[:, 1]
    calibrated, choice = calibrate(skewed_model, X_cal, y_cal, method, seed=0)
    p = calibrated.predict_proba(X_test)[:, 1]
    assert brier_score_loss(y_test, p) < brier_score_loss(y_test, raw) - 0.005
    assert abs(p.mean() - y_test.mean()) < 0.02 < abs(raw.mean() - y_test.mean())
    if method == "auto":
        assert set(choice.cv_brier) == {"isotonic", "sigmoid"}
        assert choice.method == min(choice.cv_brier, key=choice.cv_brier.get)
    else:
        assert choice.method == method and choice.rule == "fixed by config"


def test_calibration_leaves_the_fitted_model_untouched(skewed_model) -> None:
    X_cal, y_cal = _data(1000, 3)
    before = skewed_model.booster_.model_to_string()
    calibrate(skewed_model, X_cal, y_cal, "isotonic")
    assert skewed_model.booster_.model_to_string() == before


def test_calibration_needs_both_classes(skewed_model) -> None:
    X_cal, _ = _data(50, 4)
    with pytest.raises(ValueError, match="0 defaults among 50 rows.*Widen the calibration window"):
        calibrate(skewed_model, X_cal, np.zeros(50, dtype=int))
