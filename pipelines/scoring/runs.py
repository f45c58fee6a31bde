"""Bytes of many runs copied into one buffer in compiled code (numba): the merge of the buckets'
CSV lines of ``invoice_forecast.csv`` (``pipelines.scoring.paydate.write_invoice_files``), where a
run is one bucket's lines of debtors next to each other in debtor order, about one run per debtor
on a large book (a million at 1M debtors): a Python loop over them cost ~4 CPU-s there."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["gather_runs"]


@njit(cache=True, nogil=True)
def _gather(src, starts, sizes, out):  # pragma: no cover - compiled
    at = 0
    for r in range(starts.shape[0]):
        s = starts[r]
        n = sizes[r]
        out[at : at + n] = src[s : s + n]
        at += n


def gather_runs(src: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``src[starts[r] : starts[r] + sizes[r]]`` for every run r, one after the other (uint8)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    _gather(np.asarray(src, dtype=np.uint8), np.asarray(starts, dtype=np.int64), sizes, out)
    return out
