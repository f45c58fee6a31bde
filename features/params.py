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

    ``min_open_amount`` (a materiality threshold, in the reporting currency; 0 = none): an invoice
    counts toward a default only while more than this amount of it is open, so that a rest left by
    a short payment (bank charges: 1,000.00 invoiced, 985.00 received) does not put its debtor in
    default. The days-past-due features still see the invoice open (it is).
    """

    dpd_threshold: int = 90
    horizon_days: int = 90
    event_kinds: tuple[str, ...] = EVENT_KINDS
    min_open_amount: float = 0.0

    def __post_init__(self) -> None:
        if self.dpd_threshold < 1:
            raise ValueError(f"dpd_threshold must be >= 1 day, got {self.dpd_threshold}")
        if self.horizon_days < 1:
            raise ValueError(f"horizon_days must be >= 1 day, got {self.horizon_days}")
        if not (self.min_open_amount >= 0 and self.min_open_amount < float("inf")):
            raise ValueError(f"min_open_amount must be a finite amount >= 0, got {self.min_open_amount}")
        unknown = set(self.event_kinds) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; allowed: {list(EVENT_KINDS)}")

    def as_record(self) -> dict[str, Any]:
        """JSON-safe record stored with a model: the definition and the scale of its label and PD."""
        record: dict[str, Any] = {
            "dpd_threshold": self.dpd_threshold,
            "horizon_days": self.horizon_days,
            "event_kinds": sorted(self.event_kinds),
        }
        if self.min_open_amount:  # absent = 0: the records of models trained before it existed
            record["min_open_amount"] = self.min_open_amount
        record["label_scale"] = {
            "label": "1 = first default in (T, T + horizon_days], 0 = none; in default at T: not scored",
            "pd_over_days": self.horizon_days,
        }
        return record

    def differences(self, record: Mapping[str, Any]) -> list[str]:
        """What differs between this definition and a stored :meth:`as_record` (empty when equal),
        e.g. ``["dpd_threshold: 90 here, 15 in the model"]``."""
        out = []
        mine = self.as_record()
        for key in ("dpd_threshold", "horizon_days", "event_kinds", "min_open_amount"):
            ours, theirs = mine.get(key, 0.0), record.get(key, 0.0 if key == "min_open_amount" else None)
            if key == "event_kinds" and theirs is not None:
                theirs = sorted(theirs)
            if theirs != ours:
                out.append(f"{key}: {ours} here, {theirs} in the model")
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
