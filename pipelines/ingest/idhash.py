"""A 64-bit hash of id texts for the streamed ingest's id spill (which ids repeat across debtor
partitions): FNV-1a over the UTF-8 bytes, finished with splitmix64 so that the low bits (the id
partition) depend on every byte. Only candidates are found with it: ids whose hashes repeat are then
compared as text, so a collision costs a comparison, never a wrong answer. One pass over Arrow's
buffers in machine code: 0.01 CPU-s per million ids, where ``pandas.util.hash_array`` took 0.18 (it
makes a Python string of each id first)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit


@njit(cache=True, nogil=True)
def _fnv1a_splitmix(offsets, data, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        h = np.uint64(0xCBF29CE484222325)
        for j in range(offsets[i], offsets[i + 1]):
            h ^= np.uint64(data[j])
            h *= np.uint64(0x100000001B3)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
        out[i] = h


def hash_compiled() -> bool:
    """Whether the hash is compiled (or loaded from numba's cache) in this process already."""
    return bool(_fnv1a_splitmix.signatures)


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 hash of each text of ``ids`` (Arrow strings without nulls)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        ids = ids.cast(pa.large_string())
    n = len(ids)
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    _validity, offsets_buf, data_buf = ids.buffers()
    width = np.int64 if pa.types.is_large_string(ids.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[ids.offset : ids.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    _fnv1a_splitmix(offsets, data, out)
    return out


def in_sorted(have: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Whether each of ``hashes`` is in ``have`` (sorted, not empty): the membership the streamed
    ingest's far-invoice lookup and its merge test before comparing ids as text (a 64-bit hash may
    collide, so a hit is a candidate, never a match)."""
    at = np.minimum(np.searchsorted(have, hashes), len(have) - 1)
    return have[at] == hashes
