"""Typed parameters that pure transforms receive (built from config by ``pipelines``)."""

from __future__ import annotations

from dataclasses import dataclass

from features.schema import EVENT_KINDS


@dataclass(frozen=True)
class DefaultDefinition:
    """When a debtor is in default, and the label horizon.

    A debtor is in default on day t if an invoice is open at t with t - due_date >= dpd_threshold
    days, or if one of ``event_kinds`` has happened by t. The label at as-of T is 1 if the first
    default falls in (T, T + horizon_days].
    """

    dpd_threshold: int = 90
    horizon_days: int = 90
    event_kinds: tuple[str, ...] = EVENT_KINDS

    def __post_init__(self) -> None:
        if self.dpd_threshold < 1:
            raise ValueError(f"dpd_threshold must be >= 1 day, got {self.dpd_threshold}")
        if self.horizon_days < 1:
            raise ValueError(f"horizon_days must be >= 1 day, got {self.horizon_days}")
        unknown = set(self.event_kinds) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; allowed: {list(EVENT_KINDS)}")


FAMILIES: tuple[str, ...] = (
    "exposure",
    "delinquency",
    "timing",
    "behaviour",
    "invoicing",
    "disputes",
    "tenure",
)


@dataclass(frozen=True)
class FeatureParams:
    """Which invoice-ledger feature families ``features.build.build_features`` computes.

    ``families``: subset of ``FAMILIES`` (default: all). ``include_statements``: add the statement
    features (``features.statements``) when the portfolio carries statements.
    """

    families: tuple[str, ...] = FAMILIES
    include_statements: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown feature families {sorted(unknown)}; allowed: {list(FAMILIES)}")
