from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import brier_score_loss, roc_auc_score

from models.calibrate import METHODS, CalibratedPD, choose_calibration, fit_calibrator


def _scores(n: int, seed: int, shift: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores that rank well but overstate every PD by ``shift`` in log-odds."""
    rng = np.random.default_rng(seed)
    s = rng.normal(-3.0, 1.3, size=n)
    y = (rng.random(n) < expit(s)).astype("int64")
    return s + shift, y


@pytest.mark.parametrize("method", METHODS)
def test_calibration_lowers_brier_and_keeps_the_ranking(method) -> None:
    s_cal, y_cal = _scores(6000, 1)
    s_test, y_test = _scores(6000, 2)
    cal = fit_calibrator(s_cal, y_cal, method)
    p, raw = cal.predict(s_test), expit(s_test)
    assert brier_score_loss(y_test, p) < brier_score_loss(y_test, raw) - 0.002
    assert abs(p.mean() - y_test.mean()) < 0.01 < abs(raw.mean() - y_test.mean())
    # strictly increasing: no plateau, the AUC is the raw score's
    grid = np.linspace(-8, 4, 500)
    assert (np.diff(cal.log_odds(grid)) > 0).all()
    assert roc_auc_score(y_test, p) == pytest.approx(roc_auc_score(y_test, s_test), abs=1e-12)
    assert np.unique(p).size == np.unique(s_test).size


def test_method_chosen_out_of_time_and_isotonic_needs_defaults() -> None:
    s_cal, y_cal = _scores(3000, 3)
    s_test, y_test = _scores(3000, 4)
    few = int(y_cal.sum()) + 1
    _, choice = choose_calibration(s_cal, y_cal, s_test, y_test, min_isotonic_defaults=few)
    assert set(choice.oot_logloss) == {"sigmoid", "beta"} and "isotonic not tried" in choice.rule
    assert choice.method == min(choice.oot_logloss, key=choice.oot_logloss.get)
    _, choice = choose_calibration(s_cal, y_cal, s_test, y_test, min_isotonic_defaults=10)
    assert set(choice.oot_logloss) == set(METHODS)
    _, fixed = choose_calibration(s_cal, y_cal, s_test, y_test, "isotonic")
    assert fixed.method == "isotonic" and fixed.rule == "fixed by config"


class _Scorer:
    """A stand-in LightGBM scorer: the raw score is the first column."""

    def predict(self, X, raw_score=False):
        return np.asarray(X)[:, 0]


def test_pd_floor_and_ceiling() -> None:
    s, y = _scores(2000, 5)
    model = CalibratedPD(_Scorer(), fit_calibrator(s, y, "sigmoid"), "lightgbm", (), 1e-4, 0.9999)
    X = np.array([[-80.0], [-3.0], [0.0], [80.0]])
    p = model.predict_proba(X)[:, 1]
    assert p[0] == 1e-4 and p[-1] == 0.9999
    assert ((p > 0) & (p < 1)).all() and (np.diff(p) > 0).all()
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_calibration_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="0 defaults among 50 rows.*Widen the calibration window"):
        fit_calibrator(np.zeros(50), np.zeros(50, dtype=int), "sigmoid")
