"""Typed parameters that pure transforms receive (built from config by ``pipelines``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

    def as_record(self) -> dict[str, Any]:
        """JSON-safe record stored with a model: the definition and the scale of its label and PD."""
        return {
            "dpd_threshold": self.dpd_threshold,
            "horizon_days": self.horizon_days,
            "event_kinds": sorted(self.event_kinds),
            "label_scale": {
                "label": "1 = first default in (T, T + horizon_days], 0 = none; in default at T: not scored",
                "pd_over_days": self.horizon_days,
            },
        }

    def differences(self, record: Mapping[str, Any]) -> list[str]:
        """What differs between this definition and a stored :meth:`as_record` (empty when equal),
        e.g. ``["dpd_threshold: 90 here, 15 in the model"]``."""
        out = []
        mine = self.as_record()
        for key in ("dpd_threshold", "horizon_days", "event_kinds"):
            theirs = record.get(key)
            if key == "event_kinds" and theirs is not None:
                theirs = sorted(theirs)
            if theirs != mine[key]:
                out.append(f"{key}: {mine[key]} here, {theirs} in the model")
        return out


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
