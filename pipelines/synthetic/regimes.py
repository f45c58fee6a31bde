"""Named regimes of the generator: portfolios with different dynamics, for measuring how models generalise.

A regime is a book size, a history length and a set of :class:`GeneratorParams` overrides. Every
regime keeps the latent model of ``dynamics.py`` (health is a Markov chain, the hazard a function
of health), so the oracle PD of ``oracle.py`` stays exact in each one: what changes is the
economy (default rate, shocks, sector loadings) and how health shows in the ledger.

- ``base``: the generator's defaults (what the features were designed around): health shows mostly
  in days late; one downturn.
- ``stress``: a small, risky book (1,000 debtors, 10 % a year) with frequent health jumps, a
  sharp early downturn, a recovery and a second dip, many sudden insolvencies, few invoices.
- ``quiet``: health barely moves days late (6 instead of 28 days per unit of badness); it shows in
  partial payments (likelier and smaller first instalments) and in invoice volume collapse; 35 %
  of defaults are sudden insolvencies with no behavioural warning; seasonality twice as deep;
  short history (24 months). The features were not designed around these dynamics.
- ``contagion``: a long history (48 months) where the downturn hits construction three times as
  hard and leaves the other sectors almost untouched, with larger sector shocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipelines.synthetic.params import DEFAULT_SEGMENTS, GeneratorParams, Segment

__all__ = ["REGIMES", "Regime", "regime_params"]


@dataclass(frozen=True)
class Regime:
    """Defaults of one regime: book size, history and parameter overrides."""

    description: str
    debtors: int
    months: int
    annual_default_rate: float
    volume_scale: float
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


def _contagion_segments() -> tuple[Segment, ...]:
    loadings = {"construction": 3.0}
    return tuple(dataclasses.replace(s, downturn_loading=loadings.get(s.name, 0.3)) for s in DEFAULT_SEGMENTS)


REGIMES: dict[str, Regime] = {
    "base": Regime("the generator's defaults (delay-driven, one downturn)", 5000, 36, 0.03, 1.4),
    "stress": Regime(
        "small risky book: frequent health jumps, early downturn, recovery, second dip, sudden insolvencies",
        1000,
        36,
        0.10,
        0.6,
        {
            "jump_prob": 0.05,
            "jump_size": 1.0,
            "sudden_share": 0.25,
            "downturn_start_frac": 0.2,
            "downturn_months": 4,
            "downturn_drift": -0.2,
            "shocks": ((0.45, 4, 0.1), (0.7, 3, -0.2)),
        },
    ),
    "quiet": Regime(
        "health shows in partial payments and invoice volume, not days late; many sudden defaults",
        6000,
        24,
        0.05,
        1.0,
        {
            "delay_health": 6.0,
            "partial_health": 0.6,
            "partial_cap": 0.8,
            "partial_depth_health": 1.5,
            "volume_health": 1.0,
            "sudden_share": 0.35,
            "season_power": 2.0,
        },
    ),
    "contagion": Regime(
        "downturn concentrated on construction, larger sector shocks, long history",
        3000,
        48,
        0.04,
        1.0,
        {
            "downturn_drift": -0.15,
            "downturn_months": 8,
            "sigma_sector": 0.12,
            "segments": _contagion_segments(),
        },
    ),
}


def regime_params(name: str, **options: Any) -> GeneratorParams:
    """:class:`GeneratorParams` of regime ``name``; ``options`` that are not None override its defaults
    (e.g. ``debtors``, ``months``, ``seed``, ``start``). Raises ``ValueError`` for an unknown name."""
    if name not in REGIMES:
        raise ValueError(f"unknown regime {name!r}; choose one of {', '.join(REGIMES)}")
    r = REGIMES[name]
    values: dict[str, Any] = {
        "debtors": r.debtors,
        "months": r.months,
        "annual_default_rate": r.annual_default_rate,
        "volume_scale": r.volume_scale,
        **r.overrides,
        "regime": name,
    }
    values.update({k: v for k, v in options.items() if v is not None})
    return GeneratorParams(**values)
