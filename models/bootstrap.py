"""The debtor bootstrap shared by training's test intervals, the payment-date model's and the backtest's.

A replicate draws as many debtors as there are, with replacement; each debtor then weighs every one of
its rows (all its month-ends, all its invoices) by the number of times it was drawn. Everything here is
pure: counts and arrays in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["debtor_draws", "percentile_interval"]


def debtor_draws(n_debtors: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """``n_boot`` replicates, each the number of times every debtor was drawn (int64, length
    ``n_debtors``, summing to ``n_debtors``), from ``numpy.random.default_rng(seed)``: the same seed
    gives the same replicates. Index a replicate with the rows' debtor codes to weigh the rows."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield np.bincount(rng.integers(0, n_debtors, n_debtors), minlength=n_debtors)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` percentile interval of the replicates' ``values`` (NaN replicates left out;
    (nan, nan) when all are NaN)."""
    values = np.asarray(values, dtype="float64")
    if not values.size or np.isnan(values).all():
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(values, [tail, 100 - tail])
    return (float(lo), float(hi))
