"""As-of date grids for training snapshots."""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = ["month_ends"]


def month_ends(start: date | pd.Timestamp | str, end: date | pd.Timestamp | str) -> list[pd.Timestamp]:
    """Every calendar month-end T with start <= T <= end (midnight timestamps, ascending).

    ``month_ends("2024-01-15", "2024-03-31")`` -> [2024-01-31, 2024-02-29, 2024-03-31]. Empty when
    no month ends inside the range. Raises ``ValueError`` when end is before start.
    """
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if hi < lo:
        raise ValueError(f"snapshot end {hi.date()} is before start {lo.date()}")
    return list(pd.date_range(lo, hi, freq="ME"))
