"""Probability calibration on the raw score (log-odds), chosen out of time, with a PD floor and ceiling.

A calibrator maps a model's raw score ``s`` (log-odds: LightGBM's ``raw_score``, the scorecard's
logit) to a PD. Every candidate is strictly increasing in ``s``, so calibration keeps the ranking
(AUC) and the resolution (distinct scores stay distinct PDs; isotonic plateaus are not published):

* ``sigmoid``  -- Platt scaling, ``PD = 1 / (1 + exp(-(a s + b)))``, 2 parameters;
* ``beta``     -- beta calibration (Kull, Silva Filho and Flach, 2017) on ``p = sigmoid(s)``:
  logistic regression on ``ln p`` and ``-ln(1 - p)``, 3 parameters, coefficients kept >= 0 (a
  negative one is dropped and the fit redone, as the authors' reference code does);
* ``isotonic`` -- pool-adjacent-violators on ``s``, then *centred*: the PD is interpolated linearly
  in log-odds between the centroids of the isotonic blocks and extrapolated along the end segments,
  so it is strictly increasing instead of a staircase. Offered only when the fitting rows hold at
  least ``min_isotonic_defaults`` defaults (a staircase fitted on a few defaults is noise).
* ``none``     -- the identity, ``PD = 1 / (1 + exp(-s))``: the scorer's own probability. A candidate
  only for the shipped model's calibrator (:data:`SHIPPED_METHODS`), where it wins unless a fitted
  map beats it out of time.

:func:`choose_calibration` picks the method on the calibration window alone (out-of-sample scores
of the scoring model): rolling origin over its snapshots, or debtor-grouped K-fold when it holds one
snapshot; the lowest held-out log-loss wins, ties go to the simpler method. The test window never
takes part in the choice. The PD is clipped
to ``[pd_floor, pd_ceiling]`` (config): a published PD is never exactly 0 or 1.

The shipped model is refitted on every labelled snapshot, so its raw score is not on the scale the
out-of-time model's calibrator was fitted on (``models.train``: its calibrator is chosen with the same
function on debtor-grouped out-of-fold raw scores of the refit, candidates :data:`SHIPPED_METHODS`).

:class:`CalibratedPD` is the shipped estimator: a fitted scorer (LightGBM or the scorecard) plus a
calibrator fitted on scores of rows that scorer never trained on, plus the floor and ceiling. It is
scikit-learn compatible (``predict_proba``), so the nightly and MLflow need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

__all__ = [
    "METHODS",
    "SHIPPED_METHODS",
    "CalibratedPD",
    "CalibrationChoice",
    "CalibrationMethod",
    "ScoreCalibrator",
    "choose_calibration",
    "fit_calibrator",
    "shrink_level",
]

CalibrationMethod = Literal["auto", "none", "sigmoid", "beta", "isotonic"]
# simplest first: ties in out-of-time log-loss go to the earlier entry
METHODS: tuple[str, ...] = ("sigmoid", "beta", "isotonic")
# the shipped (refitted) model's candidates: the identity first, so a map must beat it out of time
SHIPPED_METHODS: tuple[str, ...] = ("none", "sigmoid", "beta")
_EPS = 1e-12


def _softplus(s: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, s)


def _beta_features(s: np.ndarray) -> np.ndarray:
    """``[ln p, -ln(1 - p)]`` for ``p = sigmoid(s)``, computed stably from the log-odds."""
    return np.column_stack([-_softplus(-s), _softplus(s)])


class ScoreCalibrator(BaseEstimator):
    """Strictly increasing map from raw score (log-odds) to PD; ``method`` as in the module doc."""

    def __init__(self, method: str = "sigmoid"):
        self.method = method

    def fit(self, s: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        s = np.asarray(s, dtype="float64")
        y = np.asarray(y, dtype="int64")
        if self.method == "none":
            pass
        elif self.method == "sigmoid":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(s[:, None], y)
            self.coef_ = np.array([max(float(lr.coef_[0, 0]), _EPS)])
            self.intercept_ = float(lr.intercept_[0])
        elif self.method == "beta":
            feats = _beta_features(s)
            keep = [0, 1]
            while True:
                lr = LogisticRegression(C=1e6, max_iter=1000).fit(feats[:, keep], y)
                coef = lr.coef_[0]
                if (coef >= 0).all() or len(keep) == 1:
                    break
                keep = [k for k, c in zip(keep, coef, strict=True) if c >= 0] or [int(np.argmax(coef))]
            full = np.zeros(2)
            full[keep] = np.maximum(coef, 0.0)
            if full.sum() <= 0:  # no signal left: fall back to a flat-but-increasing Platt fit
                full[1] = _EPS
            self.coef_ = full
            self.intercept_ = float(lr.intercept_[0])
        elif self.method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
            fitted = iso.predict(s)
            levels, block = np.unique(fitted, return_inverse=True)
            if levels.size < 2:
                raise ValueError("isotonic calibration found a single level: the score does not rank")
            x = np.bincount(block, weights=s) / np.bincount(block)
            # block rates of exactly 0 or 1 get the rate of half a default / non-default in the block
            counts = np.bincount(block).astype("float64")
            rate = np.clip(levels, 0.5 / counts, 1 - 0.5 / counts)
            self.knots_x_ = x
            self.knots_z_ = logit(rate)
        else:
            raise ValueError(
                f"unknown calibration method {self.method!r}; choose one of {['none', *METHODS]}"
            )
        return self

    def log_odds(self, s: np.ndarray) -> np.ndarray:
        """Calibrated log-odds per raw score (strictly increasing in ``s``), plus the level shift
        ``offset_`` (:func:`shrink_level`; 0 when absent)."""
        return self._log_odds(s) + getattr(self, "offset_", 0.0)

    def _log_odds(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype="float64")
        if self.method == "none":
            return s
        if self.method == "sigmoid":
            return self.coef_[0] * s + self.intercept_
        if self.method == "beta":
            return _beta_features(s) @ self.coef_ + self.intercept_
        x, z = self.knots_x_, self.knots_z_
        out = np.interp(s, x, z)
        lo, hi = s < x[0], s > x[-1]
        out[lo] = z[0] + (s[lo] - x[0]) * (z[1] - z[0]) / (x[1] - x[0])
        out[hi] = z[-1] + (s[hi] - x[-1]) * (z[-1] - z[-2]) / (x[-1] - x[-2])
        return out

    def predict(self, s: np.ndarray) -> np.ndarray:
        """PD in (0, 1) per raw score (not yet floored; :class:`CalibratedPD` clips)."""
        return expit(self.log_odds(s))


def fit_calibrator(s: np.ndarray, y: np.ndarray, method: str) -> ScoreCalibrator:
    """Fit one :class:`ScoreCalibrator`; ``y`` must hold both classes."""
    y = np.asarray(y, dtype="int64")
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise ValueError(
            f"calibration needs defaults and non-defaults: got {positives} defaults among {len(y)} rows. "
            "Widen the calibration window (split.calibration_snapshots) or use a larger book"
        )
    return ScoreCalibrator(method).fit(s, y)


def _shift_to_rate(z: np.ndarray, rate: float) -> float:
    """The shift ``c`` of the log-odds ``z`` whose mean PD ``expit(z + c)`` is ``rate`` (bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if expit(z + mid).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def shrink_level(
    cal: ScoreCalibrator, s: np.ndarray, y: np.ndarray, groups: np.ndarray, prior_rate: float, weight: float
) -> tuple[ScoreCalibrator, dict[str, float]]:
    """``cal`` (fitted on raw scores ``s``, labels ``y`` of debtors ``groups``) with its level shrunk
    toward ``prior_rate``: its log-odds shifted by ``w / (w + d) * c0``, where ``c0`` is the shift that
    puts its mean PD over ``s`` at ``prior_rate`` and ``d`` the defaulting debtors among the rows (a
    window of few defaulting debtors follows their noise: its own level counts as ``d`` debtors against
    the prior's ``w``). Returns the shifted calibrator (a new object) and the figures behind it."""
    s = np.asarray(s, dtype="float64")
    y = np.asarray(y, dtype="int64")
    z = cal.log_odds(s)
    d = int(pd.unique(np.asarray(groups)[y == 1]).size)
    c0 = _shift_to_rate(z, prior_rate) if 0 < prior_rate < 1 else 0.0
    share = weight / (weight + d) if weight + d > 0 else 0.0
    out = clone(cal)
    out.__dict__.update({k: v for k, v in cal.__dict__.items() if k.endswith("_")})
    out.offset_ = getattr(cal, "offset_", 0.0) + share * c0
    info = {
        "defaulting_debtors": float(d),
        "window_rate": float(y.mean()),
        "prior_rate": float(prior_rate),
        "full_shift": float(c0),
        "prior_share": float(share),
        "shift": float(share * c0),
    }
    return out, info


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen method, each candidate's held-out log-loss on the calibration window (what
    decided), the rule, and, for the record only, each candidate's log-loss on the test window when
    fitted on the whole calibration window (``test_logloss``; never used to choose)."""

    method: str
    oot_logloss: dict[str, float] = field(default_factory=dict)
    rule: str = ""
    test_logloss: dict[str, float] = field(default_factory=dict)


def _logloss(y: np.ndarray, p: np.ndarray, floor: float, ceiling: float) -> float:
    return float(log_loss(y, np.clip(p, floor, ceiling), labels=[0, 1]))


def _selection_folds(
    y: np.ndarray, times: np.ndarray | None, groups: np.ndarray | None, n_folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Folds of the fitting window for the method choice, and how they were made.

    Out of time when the window holds at least two snapshots: each later snapshot is scored by
    calibrators fitted on the snapshots before it (rolling origin); a fold whose fitting part lacks
    a class is skipped. Otherwise (one snapshot, or no usable rolling fold): ``n_folds`` folds that
    keep each debtor in one fold (by ``groups``), fitted on the others.
    """
    if times is not None:
        dates = np.unique(times)
        folds = []
        for d in dates[1:]:
            fit, ev = times < d, times == d
            if 0 < y[fit].sum() < fit.sum():
                folds.append((np.flatnonzero(fit), np.flatnonzero(ev)))
        if folds:
            return folds, f"rolling origin over the {dates.size} snapshots of the calibration window"
    keys = np.arange(len(y)) if groups is None else np.unique(groups, return_inverse=True)[1]
    fold_of_key = np.random.default_rng(seed).permutation(keys.max() + 1) % n_folds
    fold = fold_of_key[keys]
    folds = []
    for k in range(n_folds):
        fit = fold != k
        if 0 < y[fit].sum() < fit.sum() and (~fit).any():
            folds.append((np.flatnonzero(fit), np.flatnonzero(~fit)))
    if not folds:
        raise ValueError(
            f"cannot choose the calibration method: {int(y.sum())} defaults among {len(y)} calibration rows "
            "leave no fold with both classes. Widen the calibration window (split.calibration_snapshots)"
        )
    by = "debtor" if groups is not None else "row"
    return folds, f"{n_folds}-fold cross-validation by {by} inside the calibration window"


def choose_calibration(
    s_fit: np.ndarray,
    y_fit: np.ndarray,
    method: CalibrationMethod = "auto",
    *,
    times: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    n_folds: int = 5,
    seed: int = 42,
    min_isotonic_defaults: int = 200,
    pd_floor: float = 1e-4,
    pd_ceiling: float = 1 - 1e-4,
    candidates: tuple[str, ...] = METHODS,
    note: str = "the test window is not used",
) -> tuple[ScoreCalibrator, CalibrationChoice]:
    """Pick the calibration method on the calibration window alone and return it fitted there.

    ``s_fit``: raw scores (log-odds) of rows the scoring model never trained on; ``y_fit``: 0/1
    labels; ``times``: their as-of dates; ``groups``: their debtor ids. The test window plays no
    part, so the test figures of the chosen calibrator stay honest. Each candidate is scored by the
    pooled log-loss (PD clipped to the floor/ceiling) of its held-out folds
    (:func:`_selection_folds`: rolling origin over the snapshots when there are several, else
    debtor-grouped K-fold); the lowest wins, ties (within 1e-6) to the simpler one. ``isotonic`` is
    a candidate only when the window holds ``min_isotonic_defaults`` defaults. A fixed ``method``
    skips the comparison. ``candidates``: the methods compared, simplest first (``none``, the
    identity, is offered for the shipped model only); ``note`` ends the logged rule.
    """
    s_fit = np.asarray(s_fit, dtype="float64")
    y_fit = np.asarray(y_fit, dtype="int64")
    defaults = int(y_fit.sum())
    if method != "auto":
        return fit_calibrator(s_fit, y_fit, method), CalibrationChoice(method=method, rule="fixed by config")
    tried = [m for m in candidates if m != "isotonic" or defaults >= min_isotonic_defaults]
    folds, how = _selection_folds(
        y_fit,
        None if times is None else np.asarray(times),
        None if groups is None else np.asarray(groups),
        n_folds,
        seed,
    )
    losses: dict[str, float] = {}
    n_eval = sum(len(ev) for _, ev in folds)
    for m in tried:
        total = 0.0
        for fit, ev in folds:
            p = fit_calibrator(s_fit[fit], y_fit[fit], m).predict(s_fit[ev])
            total += _logloss(y_fit[ev], p, pd_floor, pd_ceiling) * len(ev)
        losses[m] = total / n_eval
    best = tried[0]
    for m in tried[1:]:
        if losses[m] < losses[best] - 1e-6:
            best = m
    rule = f"lowest held-out log-loss, {how} ({n_eval} rows); {note}"
    if "isotonic" in candidates and "isotonic" not in tried:
        rule += f"; isotonic not tried: {defaults} defaults < {min_isotonic_defaults}"
    return fit_calibrator(s_fit, y_fit, best), CalibrationChoice(method=best, oot_logloss=losses, rule=rule)


class CalibratedPD(ClassifierMixin, BaseEstimator):
    """The shipped PD model: ``PD = clip(calibrator(raw_score(X)), pd_floor, pd_ceiling)``.

    ``scorer``: a fitted ``lgb.LGBMClassifier`` (``kind="lightgbm"``) or an optbinning scorecard
    (``kind="scorecard"``, categorical columns passed as strings). ``calibrator``: a fitted
    :class:`ScoreCalibrator`. ``X``: the prepared model input (``models.train.prepare_matrix``).
    """

    def __init__(
        self,
        scorer: Any = None,
        calibrator: ScoreCalibrator | None = None,
        kind: str = "lightgbm",
        categorical: tuple[str, ...] = (),
        pd_floor: float = 1e-4,
        pd_ceiling: float = 1 - 1e-4,
    ):
        self.scorer = scorer
        self.calibrator = calibrator
        self.kind = kind
        self.categorical = categorical
        self.pd_floor = pd_floor
        self.pd_ceiling = pd_ceiling

    def fit(self, X: pd.DataFrame, y: Any = None) -> CalibratedPD:
        """No-op: the parts are fitted before assembly (kept for scikit-learn compatibility)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.scorer is not None and self.calibrator is not None

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The scorer's log-odds per row (LightGBM raw score; the scorecard's logit)."""
        return raw_score(self.scorer, self.kind, X, self.categorical)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[[1 - PD, PD], ...]``, PD in ``[pd_floor, pd_ceiling]``."""
        p = self.pd_from_raw(self.raw_score(X))
        return np.column_stack([1 - p, p])

    def pd_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """The PD of rows whose raw score (:meth:`raw_score`) is ``raw``."""
        return np.clip(self.calibrator.predict(raw), self.pd_floor, self.pd_ceiling)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype("int64")

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])


def raw_score(
    scorer: Any, kind: str, X: pd.DataFrame, categorical: tuple[str, ...] | list[str] = ()
) -> np.ndarray:
    """Log-odds of a fitted scorer: LightGBM's ``raw_score`` or the logit of the scorecard's PD."""
    if kind == "lightgbm":
        return np.asarray(scorer.predict(X, raw_score=True), dtype="float64")
    if kind == "scorecard":
        from models.scorecard import scorecard_predict

        p = scorecard_predict(scorer, X, list(categorical))
        return logit(np.clip(p, 1e-15, 1 - 1e-15))
    raise ValueError(f"unknown model kind {kind!r}; expected 'lightgbm' or 'scorecard'")
