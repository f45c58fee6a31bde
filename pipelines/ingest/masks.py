"""Reason masks: one boolean array over a table's rows per quarantine reason, and Arrow-backed
membership helpers used by the rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NOT_DAMAGE = ("duplicate_row", "invoice_before_export")
"""Quarantine reasons that lose nothing of the book: an exact copy of a kept row, and a payment of
an invoice issued before a rolling export's window. They stay in quarantine and in the manifest's
reasons but count neither in the quarantine shares of the feed checks nor in ingest's warning."""


def arrow(values: pd.Series | pd.api.extensions.ExtensionArray) -> Any:
    """A string column as one contiguous ``pyarrow.large_string`` array (chunks combined)."""
    import pyarrow as pa

    arr = pa.array(pd.Series(values).astype("string"), type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """``values.isin(known)`` as a bool array, via Arrow (pandas' string ``isin`` loops in Python)."""
    import pyarrow.compute as pc

    left = arrow(values.astype("string"))
    right = arrow(known.astype("string"))  # nulls and repeats in the set are fine: one hash table
    return (
        pc.is_in(left, value_set=right, skip_nulls=True).to_numpy(zero_copy_only=False).astype(bool)
        & values.notna().to_numpy()
    )


def index_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Position of each value in ``known`` (first match), -1 when absent or null (int64 array)."""
    import pyarrow.compute as pc

    left = arrow(values.astype("string"))
    right = arrow(known.astype("string"))
    return pc.index_in(left, value_set=right, skip_nulls=True).fill_null(-1).to_numpy().astype(np.int64)


def passing(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for m in masks.values():
        bad |= m
    return ~bad


def flag(masks: dict[str, np.ndarray], reason: str, mask: np.ndarray) -> None:
    if mask.any():
        masks[reason] = masks.get(reason, np.zeros(len(mask), dtype=bool)) | mask
