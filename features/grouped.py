"""Per-debtor reductions shared by the ledger state and the statement state.

Rows carry a debtor code in ``[0, n)``; each helper returns one float64 value per debtor (length
``n``). ``fill`` is what a debtor without rows gets, and it is always explicit: a count or amount
is 0 for nobody, a maximum DPD may be 0 ("never late") or NaN ("no statement"), and the choice is the
feature's, not the helper's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_by", "ratio", "sum_by"]


def sum_by(code: np.ndarray, n: int, values: np.ndarray | None = None) -> np.ndarray:
    """Per-debtor sum of ``values`` (row counts when None); 0 where a debtor has no rows."""
    return np.bincount(code, weights=values, minlength=n).astype(np.float64)


def max_by(code: np.ndarray, n: int, values: np.ndarray, *, fill: float) -> np.ndarray:
    """Per-debtor maximum of ``values``; ``fill`` where a debtor has no rows."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, code, values.astype(np.float64))
    out[np.isneginf(out)] = fill
    return out


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
