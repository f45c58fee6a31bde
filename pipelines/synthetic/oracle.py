"""Oracle PD: the probability of default within the horizon given the latent state at a month-end.

Method (exact up to a discretisation of health): the latent state of a debtor at month-end T is its
health h_T, its quality class and segment, whether it has churned or stopped paying, and how many
months of seasoning remain. Future health is a Markov chain (mixture-of-normals steps, see
:mod:`pipelines.synthetic.dynamics`), with the random future macro and sector shocks integrated out
and the scheduled downturn drift included. On a grid of ``GRID`` health values we build the one-month
transition matrix (probability mass of each grid cell) and run a backward recursion over the (at
most four) months that the horizon touches:

    W_k(h) = (1 - churn) [ lam_d(h) q_k(lag(h)) + lam_s q_k(0) + (1 - lam_d(h) - lam_s) (P_k W_{k+1})(h) ]

where ``q_k(L)`` is the exact share of the days S of month k with S + L <= T + horizon (the stop
day is uniform over the month). The oracle PD of a performing debtor is W_1 interpolated linearly at
its health. Debtors that have already stopped paying (S <= T < D) have oracle PD 1 (D <= S + 80 <=
T + horizon); churned debtors 0; debtors already in default get NaN (not scored).
A Monte Carlo check over simulated future paths is in the tests.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from pipelines.synthetic.dynamics import (
    distress_hazard,
    downturn_drift,
    stationary_moments,
    stop_lag,
    sudden_hazard,
)
from pipelines.synthetic.params import GeneratorParams, month_grid

__all__ = ["GRID", "OracleTable", "build_oracle_table", "calibrate_alpha"]

GRID = np.linspace(-6.5, 5.5, 301)
MAX_AHEAD = 4


class OracleTable:
    """Oracle PD of performing debtors on the health grid, per (month-end, segment, class, seasoning).

    ``values`` has shape (months, segments, classes, MAX_AHEAD + 1, len(GRID)); the fourth index is
    the number of future months still in seasoning (no default possible).
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def lookup(
        self,
        month: np.ndarray,
        segment: np.ndarray,
        klass: np.ndarray,
        season_left: np.ndarray,
        h: np.ndarray,
    ) -> np.ndarray:
        """Oracle PD for rows given by integer arrays and health ``h`` (linear interpolation)."""
        step = GRID[1] - GRID[0]
        pos = np.clip((np.asarray(h) - GRID[0]) / step, 0.0, len(GRID) - 1.000001)
        i = pos.astype(np.int64)
        w = pos - i
        flat = self.values.reshape(-1, len(GRID))
        n_s, n_c, n_r = self.values.shape[1:4]
        g = ((month * n_s + segment) * n_c + klass) * n_r + np.clip(season_left, 0, MAX_AHEAD)
        return flat[g, i] * (1.0 - w) + flat[g, i + 1] * w


def _transition(
    mean_shift: float, kappa: float, mu: float, sd: float, jump_p: float, jump: float
) -> np.ndarray:
    """One-month transition matrix on GRID (rows sum to 1)."""
    edges = np.concatenate(([-np.inf], 0.5 * (GRID[1:] + GRID[:-1]), [np.inf]))
    mean = GRID + kappa * (mu - GRID) + mean_shift
    out = np.zeros((len(GRID), len(GRID)))
    for weight, shift in ((1.0 - jump_p, 0.0), (jump_p, -jump)):
        cdf = ndtr((edges[None, :] - (mean[:, None] + shift)) / sd)
        out += weight * np.diff(cdf, axis=1)
    return out


def _monthly_transitions(
    params: GeneratorParams, loading: float, mu: float, sd: float, drift: np.ndarray
) -> list[np.ndarray]:
    """Transition matrix of every month in ``drift`` (matrices shared between equal drifts)."""
    cache: dict[float, np.ndarray] = {}
    out = []
    for d in drift:
        shift = round(float(loading * d), 12)
        if shift not in cache:
            cache[shift] = _transition(shift, params.kappa, mu, sd, params.jump_prob, params.jump_size)
        out.append(cache[shift])
    return out


def _cell_mass(mean: float, sd: float) -> np.ndarray:
    edges = np.concatenate(([-np.inf], 0.5 * (GRID[1:] + GRID[:-1]), [np.inf]))
    return np.diff(ndtr((edges - mean) / sd))


def calibrate_alpha(params: GeneratorParams) -> float:
    """Intercept of the distress hazard such that the realised default rate per seasoned, active
    debtor-month over the history equals ``params.monthly_default_rate``.

    The population is propagated on the health grid month by month (each segment and quality
    class; initial cohort at its long-run distribution, entrants joining after their seasoning,
    defaulters leaving, downturn drift included), and ``alpha`` is found by bisection.
    """
    mean, sd_inf = stationary_moments(params)
    sd = float(np.sqrt(params.sigma_idio**2 + params.sigma_macro**2 + params.sigma_sector**2))
    drift = downturn_drift(params, params.months)
    lam_s = sudden_hazard(params)
    target = params.monthly_default_rate
    seas, n_months = params.seasoning_months, params.months
    entrants = np.zeros(n_months)
    joins = np.arange(n_months) + seas
    np.add.at(entrants, joins[joins < n_months], (1.0 - params.share_active_at_start) / n_months)
    combos = []
    for seg in params.segments:
        for k, (mu, prob) in enumerate(zip(params.quality_means, params.quality_probs, strict=True)):
            start = _cell_mass(float(mean[k]), sd_inf)
            mats = _monthly_transitions(params, seg.downturn_loading, mu, sd, drift)
            combos.append((seg.share * prob, start, mats))

    def rate(alpha: float) -> float:
        lam = np.clip(distress_hazard(GRID, alpha, params.hazard_slope) + lam_s, 0.0, 1.0)
        hits = exposure = 0.0
        for weight, start, mats in combos:
            f = weight * params.share_active_at_start * start
            for j in range(n_months):
                if entrants[j] > 0:
                    f = f + weight * entrants[j] * start
                if j >= seas:
                    exposure += f.sum()
                    hits += (f * lam).sum()
                    f = f * (1.0 - lam)
                f = (f * (1.0 - params.churn_monthly)) @ mats[j]
        return hits / exposure if exposure > 0 else target

    lo, hi = -12.0, 4.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if rate(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def build_oracle_table(params: GeneratorParams, alpha: float | None = None) -> OracleTable:
    """Backward recursion for every month-end of the history (see the module docstring).

    ``alpha``: the hazard intercept when already known (default: :func:`calibrate_alpha`)."""
    firsts, lasts = month_grid(params.start, params.months)
    n_months = params.months
    alpha = calibrate_alpha(params) if alpha is None else alpha
    lam_s = sudden_hazard(params)
    drift = np.concatenate((downturn_drift(params, n_months), np.zeros(MAX_AHEAD + 2)))
    sd = float(np.sqrt(params.sigma_idio**2 + params.sigma_macro**2 + params.sigma_sector**2))
    c = params.churn_monthly
    hz = params.horizon_days
    lam_d = distress_hazard(GRID, alpha, params.hazard_slope)
    n_seg, n_cls = len(params.segments), len(params.quality_means)
    values = np.zeros((n_months, n_seg, n_cls, MAX_AHEAD + 1, len(GRID)))
    for s, seg in enumerate(params.segments):
        lag = stop_lag(GRID, seg.delay_base, params.delay_health)
        for k_cls, mu in enumerate(params.quality_means):
            mats = _monthly_transitions(params, seg.downturn_loading, mu, sd, drift)
            for m in range(n_months):
                horizon_end = lasts[m] + hz
                w_next = np.zeros((len(GRID), MAX_AHEAD + 1))
                for k in range(MAX_AHEAD, 0, -1):
                    j = m + k
                    length = lasts[j] - firsts[j] + 1
                    q_lag = np.clip(horizon_end - lag - firsts[j] + 1, 0, length) / length
                    q_now = np.clip(horizon_end - firsts[j] + 1, 0, length) / length
                    cont = mats[j] @ w_next if k < MAX_AHEAD else np.zeros_like(w_next)
                    hazard_on = (np.arange(MAX_AHEAD + 1) < k)[None, :]  # r < k: month k is seasoned
                    ld = np.where(hazard_on, lam_d[:, None], 0.0)
                    ls = np.where(hazard_on, lam_s, 0.0)
                    w_next = (1.0 - c) * (ld * q_lag[:, None] + ls * q_now + (1.0 - ld - ls) * cont)
                values[m, s, k_cls] = w_next.T
    return OracleTable(values)
