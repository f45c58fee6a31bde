"""The latent model shared by the simulation and the oracle: health dynamics, hazard, behaviour.

Time is in months. ``H[:, j]`` is a debtor's health at the start of month ``j`` (= the month-end
of month ``j - 1``). During month ``j``:

1. churn: an active, onboarded debtor leaves with probability ``churn_monthly``;
2. default trigger ("stop"): a seasoned, active debtor stops with probability
   ``distress_hazard(H[:, j]) + sudden_hazard``; the stop day is uniform over the month's days;
3. health moves: ``H[:, j+1] = H[:, j] + kappa (mu_class - H[:, j]) + loading_s * drift_j + macro_j
   + sector_{s,j} + sigma_idio * eps - jump_size * Bernoulli(jump_prob)``.

A distress stop on day S makes the debtor default on D = S + ``stop_lag(H[:, j])`` (an invoice due
on D - 90 stays unpaid); a sudden stop is an insolvency event on D = S.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from pipelines.synthetic.params import GeneratorParams

__all__ = [
    "badness",
    "distress_hazard",
    "downturn_drift",
    "median_delay",
    "stationary_moments",
    "stop_lag",
    "sudden_hazard",
    "systematic_shocks",
]

MAX_DELAY_DAYS = 85
"""Scheduled payments are never later than due + 85 days (+2 for a weekend): only a stop defaults."""


def badness(h: np.ndarray) -> np.ndarray:
    """Smooth, positive transform of poor health: ~0.06 at h=1, 0.22 at 0, 0.65 at -1, 1.4 at -2."""
    return np.logaddexp(0.0, -1.4 * np.asarray(h, dtype=np.float64) - 1.0) / 1.4


def median_delay(h: np.ndarray, delay_base: np.ndarray | float, delay_health: float = 28.0) -> np.ndarray:
    """Median days paid after the due date at health ``h`` (before noise), in days."""
    return np.asarray(delay_base, dtype=np.float64) + delay_health * badness(h)


def stop_lag(h: np.ndarray, delay_base: np.ndarray | float, delay_health: float = 28.0) -> np.ndarray:
    """Days from a distress stop to the default date: 90 - median delay, clipped to [10, 80]. int64."""
    return np.clip(np.rint(90.0 - median_delay(h, delay_base, delay_health)), 10, 80).astype(np.int64)


def distress_hazard(h: np.ndarray, alpha: float, slope: float) -> np.ndarray:
    """Monthly probability of a distress stop, ``Phi(alpha - slope * h)``."""
    return ndtr(alpha - slope * np.asarray(h, dtype=np.float64))


def downturn_drift(params: GeneratorParams, n_months: int) -> np.ndarray:
    """Deterministic macro drift per month (length ``n_months``): negative during the downturn,
    plus each of ``params.shocks`` (a later dip, or a recovery with a positive drift)."""
    drift = np.zeros(n_months)
    for start_frac, length, value in (
        (params.downturn_start_frac, params.downturn_months, params.downturn_drift),
        *params.shocks,
    ):
        first = int(round(start_frac * params.months))
        last = min(first + length, params.months)
        drift[first:last] += value
    return drift


def stationary_moments(params: GeneratorParams) -> tuple[np.ndarray, float]:
    """(long-run mean per quality class, long-run sd) of health without the downturn."""
    mu = np.asarray(params.quality_means, dtype=np.float64)
    p, j = params.jump_prob, params.jump_size
    mean = mu - p * j / params.kappa
    var_step = params.sigma_idio**2 + params.sigma_macro**2 + params.sigma_sector**2 + p * (1 - p) * j * j
    sd = float(np.sqrt(var_step / (1.0 - (1.0 - params.kappa) ** 2)))
    return mean, sd


def sudden_hazard(params: GeneratorParams) -> float:
    """Monthly probability of a sudden insolvency (health-independent)."""
    return params.sudden_share * params.monthly_default_rate


def systematic_shocks(params: GeneratorParams) -> tuple[np.ndarray, np.ndarray]:
    """Random macro shock per month (``months``,) and sector shock per (month, segment).

    Drawn from their own stream of ``params.seed`` so every chunk of debtors sees the same economy.
    """
    rng = np.random.default_rng(np.random.SeedSequence(entropy=params.seed, spawn_key=(10**9,)))
    macro = rng.normal(0.0, params.sigma_macro, size=params.months)
    sector = rng.normal(0.0, params.sigma_sector, size=(params.months, len(params.segments)))
    return macro, sector
