"""``@feature(...)``: record a feature function and its metadata; :mod:`features.catalog` reads the records.

A leaf module (it imports nothing from ``features``), so that the family modules can register their
functions and :mod:`features.catalog` can import every family without a circular import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["REGISTERED", "FeatureInfo", "Registered", "feature"]


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
    group: str = ""
    missing: str = ""
    calendar: bool = False
    words: str = ""  # the description for a reader who does not know the formula (report's drift table)
    # direction 0 (either side can raise the risk): the reason above / below the book's typical value,
    # with what it means for risk ({typical}, {typical_money}: that value); empty: ``reason`` as a fact
    above: str = ""
    below: str = ""


@dataclass(frozen=True)
class Registered:
    """A registered feature function and its description (group, missing, calendar: see the catalog)."""

    fn: Callable[..., Any]
    info: FeatureInfo


# name -> record, in registration order
REGISTERED: dict[str, Registered] = {}

F = TypeVar("F", bound=Callable[..., Any])


def feature(
    family: str,
    window: str,
    unit: str,
    reason: str,
    direction: int,
    words: str = "",
    above: str = "",
    below: str = "",
) -> Callable[[F], F]:
    """Register a feature function under its own name, with its docstring's first line as description.
    ``words``: the description in plain words, when the docstring's reads as a formula ("Least-squares
    slope of ...", "(... x 90/365)"); ``features.catalog.feature_words`` shows it. ``above`` / ``below``:
    for a feature of direction 0, the reason when the value is above / below the book's typical one
    (``models.reasons.reason_codes``' centre), saying what it means for risk (s40-walk: "77 invoices in
    the last year" read as a bare fact)."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be -1, 0 or +1, got {direction}")

    def wrap(fn: F) -> F:
        name = fn.__name__
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"feature {name} needs a one-line docstring giving its window and unit")
        if name in REGISTERED:
            raise ValueError(f"feature {name} registered twice")
        info = FeatureInfo(
            name,
            family,
            window,
            unit,
            doc.splitlines()[0],
            reason,
            direction,
            words=words,
            above=above,
            below=below,
        )
        REGISTERED[name] = Registered(fn, info)
        return fn

    return wrap
