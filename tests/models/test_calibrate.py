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


def test_method_chosen_on_the_calibration_window_and_isotonic_needs_defaults() -> None:
    s_cal, y_cal = _scores(3000, 3)
    few = int(y_cal.sum()) + 1
    _, choice = choose_calibration(s_cal, y_cal, min_isotonic_defaults=few)
    assert set(choice.oot_logloss) == {"sigmoid", "beta"} and "isotonic not tried" in choice.rule
    assert choice.method == min(choice.oot_logloss, key=choice.oot_logloss.get)
    assert "5-fold cross-validation by row" in choice.rule and "test window is not used" in choice.rule
    _, choice = choose_calibration(s_cal, y_cal, min_isotonic_defaults=10)
    assert set(choice.oot_logloss) == set(METHODS)
    fitted, fixed = choose_calibration(s_cal, y_cal, "isotonic")
    assert fixed.method == "isotonic" and fixed.rule == "fixed by config" and fitted.method == "isotonic"


def test_method_choice_is_rolling_origin_over_snapshots_and_keeps_debtors_together() -> None:
    s, y = _scores(3000, 6)
    times = np.repeat(np.array(["2024-01-31", "2024-02-29", "2024-03-31"], dtype="datetime64[D]"), 1000)
    cal, choice = choose_calibration(s, y, times=times, min_isotonic_defaults=10_000)
    assert "rolling origin over the 3 snapshots" in choice.rule and "(2000 rows)" in choice.rule
    # the held-out log-loss of a method is its pooled loss on snapshots 2 and 3, each scored by a
    # calibrator fitted on the snapshots before it (recomputed by hand here)
    expected = 0.0
    for d in (1, 2):
        fit, ev = slice(0, 1000 * d), slice(1000 * d, 1000 * (d + 1))
        p = np.clip(fit_calibrator(s[fit], y[fit], "sigmoid").predict(s[ev]), 1e-4, 1 - 1e-4)
        expected += -np.sum(y[ev] * np.log(p) + (1 - y[ev]) * np.log(1 - p))
    assert choice.oot_logloss["sigmoid"] == pytest.approx(expected / 2000, rel=1e-9)
    # the returned calibrator is fitted on the whole window
    whole = fit_calibrator(s, y, choice.method)
    np.testing.assert_allclose(cal.predict(s), whole.predict(s))
    # one snapshot: debtor-grouped folds; a debtor with many rows stays in one fold
    groups = np.repeat(np.arange(300), 10)
    _, grouped = choose_calibration(s, y, times=np.zeros(3000, dtype="datetime64[D]"), groups=groups)
    assert "5-fold cross-validation by debtor" in grouped.rule


def test_method_choice_refuses_a_window_without_defaults_in_any_fold() -> None:
    y = np.zeros(40, dtype=int)
    y[0] = 1
    with pytest.raises(ValueError, match="1 defaults among 40 calibration rows"):
        choose_calibration(np.linspace(-3, 1, 40), y, groups=np.zeros(40, dtype=int))


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


def test_identity_is_the_raw_probability_and_wins_on_calibrated_scores() -> None:
    # hand-built: y ~ Bernoulli(expit(s)), so the raw score is already the PD; with the identity as
    # a candidate nothing fitted beats it out of time (s17-calib: the shipped model's candidates)
    from models.calibrate import SHIPPED_METHODS

    s, y = _scores(6000, 11, shift=0.0)
    times = np.repeat(np.arange(6).astype("datetime64[M]"), 1000)
    cal = fit_calibrator(s, y, "none")
    assert np.array_equal(cal.predict(s), expit(s)) and np.array_equal(cal.log_odds(s), s)
    fitted, choice = choose_calibration(s, y, times=times, candidates=SHIPPED_METHODS, note="on OOF")
    assert choice.method == "none" and set(choice.oot_logloss) == {"none", "sigmoid", "beta"}
    assert choice.rule.endswith("; on OOF") and "rolling origin over the 6 snapshots" in choice.rule
    # the identity's held-out log-loss is the raw log-loss of snapshots 2-6 (by hand)
    p = np.clip(expit(s[1000:]), 1e-4, 1 - 1e-4)
    by_hand = -np.mean(y[1000:] * np.log(p) + (1 - y[1000:]) * np.log(1 - p))
    assert choice.oot_logloss["none"] == pytest.approx(by_hand, rel=1e-12)
    # scores that overstate every PD by 1.5 in log-odds: a fitted map wins, close to the true shift
    s2, y2 = _scores(6000, 12, shift=1.5)
    fitted, choice = choose_calibration(s2, y2, times=times, candidates=SHIPPED_METHODS)
    assert (
        choice.method in {"sigmoid", "beta"}
        and choice.oot_logloss["none"] > choice.oot_logloss[choice.method]
    )
    assert fitted.predict(s2).mean() == pytest.approx(y2.mean(), abs=0.003)
    # the calibration window's choice (test figures) does not offer the identity
    _, window = choose_calibration(s, y, times=times)
    assert "none" not in window.oot_logloss


def test_shrink_level_moves_the_log_odds_by_the_prior_share_of_the_shift_to_the_prior_rate() -> None:
    # s30-calib (calibration.window_prior): by hand on a flat window. Every row has raw score 0, the
    # sigmoid is a = 1, b = logit(0.04), so the window's log-odds are ln(0.04 / 0.96) = -3.178054 on
    # every row; the shift that puts the mean PD at the prior rate 0.02 is ln(0.02 / 0.98) - that =
    # -3.891820 + 3.178054 = -0.713766. Defaults: rows 0, 1 (debtor "a") and 2 (debtor "b") = 2
    # defaulting debtors; prior weight 6: share 6 / (6 + 2) = 0.75, shift -0.535325, PD
    # 1 / (1 + exp(3.713379)) = 1 / 41.9919 = 0.0238141
    from models.calibrate import ScoreCalibrator, shrink_level

    cal = ScoreCalibrator("sigmoid")
    cal.coef_, cal.intercept_ = np.array([1.0]), float(np.log(0.04 / 0.96))
    s = np.zeros(10)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    groups = np.array(["a", "a", "b", "c", "d", "e", "f", "g", "h", "i"])
    shrunk, info = shrink_level(cal, s, y, groups, 0.02, 6.0)
    assert info["defaulting_debtors"] == 2 and info["prior_share"] == 0.75
    assert info["full_shift"] == pytest.approx(-0.713766, abs=1e-6)
    assert info["shift"] == pytest.approx(-0.535325, abs=1e-6)
    assert shrunk.predict(np.array([0.0]))[0] == pytest.approx(0.0238141, abs=1e-7)
    # the slope is kept (the ranking and the spread on the log-odds scale), the original is untouched
    assert shrunk.log_odds(np.array([1.0]))[0] - shrunk.log_odds(np.array([0.0]))[0] == pytest.approx(1.0)
    assert cal.predict(np.array([0.0]))[0] == pytest.approx(0.04)
    # weight 0: no shift; a prior worth far more than the window: the mean PD is the prior rate
    assert shrink_level(cal, s, y, groups, 0.02, 0.0)[1]["shift"] == 0.0
    assert shrink_level(cal, s, y, groups, 0.02, 1e12)[0].predict(s).mean() == pytest.approx(0.02, rel=1e-6)
