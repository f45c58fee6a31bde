"""Typed parameters of the synthetic portfolio generator (see :mod:`pipelines.synthetic`)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT_SEGMENTS", "GeneratorParams", "Segment", "month_grid"]


@dataclass(frozen=True)
class Segment:
    """One industry segment: invoicing, payment terms and sensitivity to the downturn.

    ``invoices_per_month`` is the mean invoice count of an average debtor (before ``volume_scale``);
    ``amount_log_mean``/``amount_log_sd`` parametrise the log-normal invoice amount (currency units);
    ``delay_base`` is the median days late of a healthy debtor; ``downturn_loading`` multiplies the
    macro downturn drift; ``season`` holds 12 multipliers of the invoice volume (January first).
    """

    name: str
    terms_days: int
    share: float
    invoices_per_month: float
    amount_log_mean: float
    amount_log_sd: float
    delay_base: float
    downturn_loading: float
    season: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.terms_days not in (30, 45, 60):
            raise ValueError(f"segment {self.name}: terms_days must be 30, 45 or 60, got {self.terms_days}")
        if len(self.season) != 12:
            raise ValueError(
                f"segment {self.name}: season needs 12 monthly multipliers, got {len(self.season)}"
            )


DEFAULT_SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "wholesale", 30, 0.25, 5.0, 7.8, 0.9, 2.0, 1.0, (1, 1, 1, 1, 1, 1, 0.95, 0.9, 1, 1.05, 1.1, 1.25)
    ),
    Segment("retail", 30, 0.20, 4.0, 7.0, 0.8, 3.0, 1.2, (0.8, 0.8, 0.9, 1, 1, 1, 1, 1, 1, 1.05, 1.3, 1.45)),
    Segment(
        "manufacturing",
        45,
        0.20,
        3.5,
        8.6,
        1.0,
        4.0,
        1.0,
        (1, 1.05, 1.1, 1.05, 1.05, 1, 0.9, 0.6, 1, 1.1, 1.1, 0.9),
    ),
    Segment(
        "construction",
        60,
        0.15,
        3.0,
        8.9,
        1.1,
        8.0,
        1.6,
        (0.6, 0.7, 0.9, 1.1, 1.2, 1.2, 1.2, 1.1, 1.1, 1, 0.9, 0.6),
    ),
    Segment("logistics", 45, 0.10, 4.5, 7.5, 0.7, 3.0, 1.1, (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.05, 1.1)),
    Segment("services", 30, 0.10, 2.5, 7.3, 0.8, 2.0, 0.6, (1, 1, 1, 1, 1, 1, 0.9, 0.7, 1, 1.05, 1.05, 0.85)),
)

COUNTRIES: tuple[str, ...] = ("DE", "FR", "NL", "BE", "AT", "PL", "ES", "IT")
COUNTRY_WEIGHTS: tuple[float, ...] = (0.30, 0.18, 0.12, 0.08, 0.08, 0.09, 0.08, 0.07)


@dataclass(frozen=True)
class GeneratorParams:
    """Everything that determines a synthetic portfolio. Same params = identical tables.

    Sizes: ``debtors`` in total (those active at ``start`` plus those onboarded during the history),
    ``months`` of history starting at ``start`` (first of a month). Rates are per month unless named
    ``annual``. Health is a unitless latent score (higher = healthier, roughly N(0, 1) across debtors).
    """

    debtors: int = 1000
    months: int = 12
    seed: int = 0
    start: dt.date = dt.date(2023, 1, 1)
    annual_default_rate: float = 0.03
    volume_scale: float = 1.4
    currency: str = "EUR"
    horizon_days: int = 90
    dpd_threshold: int = 90
    # population
    share_active_at_start: float = 0.75
    churn_monthly: float = 0.008
    seasoning_months: int = 5
    unallocated_payer_share: float = 0.15
    # latent health: h' = h + kappa (mu_class - h) + loading * drift + macro + sector + sigma * eps - jump
    kappa: float = 0.08
    sigma_idio: float = 0.22
    sigma_macro: float = 0.05
    sigma_sector: float = 0.05
    jump_prob: float = 0.025
    jump_size: float = 0.8
    quality_means: tuple[float, ...] = (0.8, 0.0, -0.9)
    quality_probs: tuple[float, ...] = (0.3, 0.5, 0.2)
    # default hazard per month: distress Phi(alpha - hazard_slope * h) + constant sudden insolvency
    hazard_slope: float = 1.1
    sudden_share: float = 0.15
    # one downturn: drift per month (times the segment loading) during [start_frac * months, + length)
    downturn_start_frac: float = 0.45
    downturn_months: int = 5
    downturn_drift: float = -0.13
    # further shocks: (start_frac, months, drift per month) each, added to the downturn's drift
    shocks: tuple[tuple[float, int, float], ...] = ()
    # how health shows in behaviour (see ``dynamics.py`` and ``core.py``): median days late grow by
    # ``delay_health`` per unit of badness; an invoice is part-paid with probability
    # clip(partial_base + partial_health * badness, 0, partial_cap), its first instalment is
    # U(0.2, 0.7) x exp(-partial_depth_health * badness) of the amount; the invoice rate is
    # multiplied by exp(volume_health * clip(h, -3, 0)); segment seasons are raised to
    # ``season_power`` (0 = no seasonality, 1 = the segment's own, 2 = twice as deep).
    delay_health: float = 28.0
    partial_base: float = 0.02
    partial_health: float = 0.10
    partial_cap: float = 0.4
    partial_depth_health: float = 0.0
    volume_health: float = 0.2
    season_power: float = 1.0
    regime: str = "base"
    segments: tuple[Segment, ...] = field(default=DEFAULT_SEGMENTS)
    chunk_debtors: int = 50_000

    def __post_init__(self) -> None:
        if self.debtors < 1:
            raise ValueError(f"debtors must be >= 1, got {self.debtors}")
        if not 1 <= self.months <= 240:
            raise ValueError(f"months must be in 1..240, got {self.months}")
        if self.debtors > 9_999_999:
            raise ValueError(f"debtors must be < 10,000,000 (7-digit ids), got {self.debtors}")
        if not 0.0 < self.annual_default_rate < 0.5:
            raise ValueError(f"annual_default_rate must be in (0, 0.5), got {self.annual_default_rate}")
        if self.start.day != 1:
            raise ValueError(f"start must be the first day of a month, got {self.start}")
        if abs(sum(s.share for s in self.segments) - 1.0) > 1e-9:
            raise ValueError("segment shares must sum to 1")
        if abs(sum(self.quality_probs) - 1.0) > 1e-9 or len(self.quality_probs) != len(self.quality_means):
            raise ValueError("quality_probs must sum to 1 and match quality_means")
        if self.seasoning_months < 5:
            raise ValueError("seasoning_months must be >= 5 (room for the defaulting invoice before a stop)")
        if self.chunk_debtors < 1:
            raise ValueError("chunk_debtors must be >= 1")
        if self.delay_health < 0 or not 0 <= self.partial_cap <= 0.95:
            raise ValueError("delay_health must be >= 0 and partial_cap in [0, 0.95]")
        for start_frac, n_months, _ in self.shocks:
            if not 0.0 <= start_frac < 1.0 or n_months < 1:
                raise ValueError(f"shock ({start_frac}, {n_months}): start_frac in [0, 1) and months >= 1")
        if self.volume_scale <= 0:
            raise ValueError(f"volume_scale must be > 0, got {self.volume_scale}")

    @property
    def monthly_default_rate(self) -> float:
        """Monthly default probability equivalent to ``annual_default_rate``."""
        return 1.0 - (1.0 - self.annual_default_rate) ** (1.0 / 12.0)


def month_grid(start: dt.date, months: int) -> tuple[np.ndarray, np.ndarray]:
    """(first day, last day) of each month as int64 days since 1970-01-01, ``months + 6`` entries.

    The extra six months let the oracle look past the end of the history.
    """
    firsts, lasts = [], []
    y, m = start.year, start.month
    epoch = dt.date(1970, 1, 1)
    for _ in range(months + 6):
        first = dt.date(y, m, 1)
        last = dt.date(y, m, calendar.monthrange(y, m)[1])
        firsts.append((first - epoch).days)
        lasts.append((last - epoch).days)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return np.array(firsts, dtype=np.int64), np.array(lasts, dtype=np.int64)
