"""Compiled (numba) loops of :func:`models.treeshap.pred_contrib`: the rows of one tree grouped by
path pattern, and the representatives' contributions added to every row of their group. They do
what the numpy version does (the same groups in the same order, the same additions in the same
order, so the same bits) without its key and gather arrays of every row per tree."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["add_rows", "group_rows", "hash_table"]


def hash_table(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An empty table for :func:`group_rows` of ``n`` rows: (keys, groups, slots): a power of two
    >= 2n slots, every group -1; ``slots`` (2n): where each group went (to empty it), then the
    rows' keys."""
    size = 1 << max(10, int(2 * max(n, 1) - 1).bit_length())
    return (
        np.zeros(size, dtype=np.int64),
        np.full(size, -1, dtype=np.int64),
        np.empty(2 * max(n, 1), dtype=np.int64),
    )


@njit(cache=True, nogil=True)
def group_rows(
    codes, rows, luts, offsets, mult, keys, groups, slots, group, first
):  # pragma: no cover - compiled
    """Per row i of ``codes`` (a row per matrix column, global interval codes): its key, the sum
    over the tree's features j of ``luts[offsets[j] + codes[rows[j], i]] * mult[j]``; ``group[i]``
    its key's number in order of first row, ``first[g]`` the first row of key g. Returns the number
    of keys. ``keys``/``groups``/``slots``: a table from :func:`hash_table` for at least the
    rows, left empty (open addressing, Fibonacci hashing, linear probing)."""
    n = group.shape[0]
    k = rows.shape[0]
    mask = keys.shape[0] - 1
    bits = 0
    while (1 << bits) < keys.shape[0]:
        bits += 1
    shift = np.uint64(64 - bits)
    count = 0
    key_of = slots[n:]  # the rows' keys, one feature at a time (streams the codes)
    for i in range(n):
        key_of[i] = 0
    for j in range(k):
        lut = luts[offsets[j] : offsets[j + 1]]
        m = mult[j]
        col = codes[rows[j]]
        for i in range(n):
            key_of[i] += lut[col[i]] * m
    for i in range(n):
        key = key_of[i]
        s = int((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> shift) & mask
        while groups[s] >= 0 and keys[s] != key:
            s = (s + 1) & mask
        g = groups[s]
        if g < 0:
            g = count
            keys[s] = key
            groups[s] = g
            slots[g] = s
            first[g] = i
            count += 1
        group[i] = g
    for g in range(count):  # empty the table for the next tree
        groups[slots[g]] = -1
    return count


@njit(cache=True, nogil=True)
def add_rows(out, by_feature, group, columns):  # pragma: no cover - compiled
    """``out[f, i] += by_feature[f, group[i]]`` for each f of ``columns`` (in that order) and row i."""
    n = group.shape[0]
    for c in range(columns.shape[0]):
        f = columns[c]
        for i in range(n):
            out[f, i] += by_feature[f, group[i]]
