"""The feature catalog: what every feature column means, for model cards, reason codes and sidecars.

Each feature is a function named after the column it produces (Hamilton style) and registered with
:func:`feature`. Its one-line docstring is the description; ``window`` and ``unit`` say what it
measures; ``reason`` is a plain-language template formatted with ``value`` (used for SHAP reason
codes); ``direction`` is +1 when a higher value means more risk, -1 when less, 0 when unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

__all__ = ["CATALOG", "FUNCTIONS", "FeatureInfo", "describe", "feature"]


@dataclass(frozen=True)
class FeatureInfo:
    """Description of one feature column."""

    name: str
    family: str
    window: str
    unit: str
    description: str
    reason: str
    direction: int
    dtype: str = "float64"


CATALOG: dict[str, FeatureInfo] = {}
# name -> the function that computes the column (ledger families take a ``LedgerState``).
FUNCTIONS: dict[str, Callable[..., Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def feature(family: str, window: str, unit: str, reason: str, direction: int) -> Callable[[F], F]:
    """Register a feature function under its own name, with its docstring's first line as description."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be -1, 0 or +1, got {direction}")

    def wrap(fn: F) -> F:
        name = fn.__name__
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"feature {name} needs a one-line docstring giving its window and unit")
        if name in CATALOG:
            raise ValueError(f"feature {name} registered twice")
        CATALOG[name] = FeatureInfo(name, family, window, unit, doc.splitlines()[0], reason, direction)
        FUNCTIONS[name] = fn
        return fn

    return wrap


def _static(name: str, description: str, reason: str) -> None:
    CATALOG[name] = FeatureInfo(name, "tenure", "static", "category", description, reason, 0, "category")


_static("segment", "Debtor segment or industry (static attribute).", "segment {value}")
_static("country", "Debtor country, ISO-3166 alpha-2 (static attribute).", "country {value}")


def describe(columns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Catalog entries for ``columns`` as plain dicts (for a JSON sidecar); keys/unknowns are marked."""
    out: dict[str, dict[str, Any]] = {}
    keys = {
        "debtor_id": "debtor key",
        "as_of": "as-of date T: features use only invoices issued, payments made and events dated <= T",
    }
    label_cols = {
        "in_default_at_asof": "debtor already in default at T (excluded from scoring: collections)",
        "label": "1 if the first default falls in (T, T + horizon], 0 if not, NA if excluded/unobserved",
        "first_default_date": "first day in (T, T + horizon] on which the debtor is in default",
        "horizon_observed": "T + horizon is on or before the last date observed in the data",
    }
    for col in columns:
        if col in CATALOG:
            out[col] = asdict(CATALOG[col])
        elif col in keys:
            out[col] = {"name": col, "family": "key", "description": keys[col]}
        elif col in label_cols:
            out[col] = {"name": col, "family": "label", "description": label_cols[col]}
        else:
            out[col] = {"name": col, "family": "unknown", "description": ""}
    return out


# Register every family (imported last: the family modules import ``feature`` from here).
from features import (  # noqa: E402, F401
    behaviour,
    delinquency,
    disputes,
    exposure,
    invoicing,
    statements,
    tenure,
    timing,
)
