"""LightGBM's TreeSHAP for many rows, computed once per distinct tree path pattern.

The path-dependent TreeSHAP values of one tree depend on a row only through the side it takes at
each of the tree's splits. Within one tree, rows whose values fall into the same interval between
the tree's thresholds (numeric splits), or hold the same value (categorical splits), take the same
sides everywhere and so get the same contributions. :func:`pred_contrib` therefore, tree by tree,
groups the rows by that pattern, asks LightGBM itself (``Booster.predict(pred_contrib=True,
start_iteration=t, num_iteration=1)``) for one representative row per group, and adds the
representative's values to every row of its group. The numbers are LightGBM's; only the order in
which the trees' terms are summed differs from one ``predict(pred_contrib=True)`` call (the two
agree to ~1e-15 in log-odds, tested to 1e-9).

A book has far fewer distinct patterns per tree than rows (a few hundred to a few thousand for a
15-leaf tree), so this does a small fraction of the work of running TreeSHAP on every row. The
keys, groups and sums per row run in compiled code when numba can be used
(:mod:`models.treeshap_kernels`: the same groups and additions, so the same bits; 720,291 rows of
a 1M book, 204 trees: 12.4-13.0 -> 8.0-8.2 CPU-s); else in numpy. Calls on fewer rows see fewer
repeats: in 15,000-row chunks the same 72,172 rows hold 2.7x the patterns of one call.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["pred_contrib", "to_matrix"]

# LightGBM's kZeroThreshold (1e-35f): its predictor reads any |x| at or below it as 0.0, and
# missing_type Zero splits send such zeros the default way.
_ZERO = float(np.float32(1e-35))
_MAX_KEY = 2**62


@dataclass(frozen=True)
class _Tree:
    features: np.ndarray  # feature indices used by the tree's splits (sorted)
    thresholds: dict[int, np.ndarray]  # numeric split thresholds per feature (sorted, unique)
    categorical: frozenset[int]  # features with a categorical split
    zero: frozenset[int]  # features with a split that sends zero the default way (missing_type Zero)


def _walk(node: dict[str, Any], splits: list[tuple[int, str, Any, str]]) -> None:
    if "split_feature" not in node:
        return
    splits.append(
        (
            int(node["split_feature"]),
            str(node["decision_type"]),
            node["threshold"],
            str(node.get("missing_type", "None")),
        )
    )
    _walk(node["left_child"], splits)
    _walk(node["right_child"], splits)


_CACHE: weakref.WeakKeyDictionary[lgb.Booster, list[_Tree]] = weakref.WeakKeyDictionary()


def _trees(booster: lgb.Booster) -> list[_Tree]:
    """Split features and numeric thresholds of every tree (from ``dump_model``, cached)."""
    cached = _CACHE.get(booster)
    if cached is not None:
        return cached
    trees = []
    for info in booster.dump_model()["tree_info"]:
        splits: list[tuple[int, str, Any, str]] = []
        _walk(info["tree_structure"], splits)
        numeric: dict[int, list[float]] = {}
        for feature, decision, threshold, _ in splits:
            if decision == "<=":
                numeric.setdefault(feature, []).append(float(threshold))
        trees.append(
            _Tree(
                features=np.array(sorted({s[0] for s in splits}), dtype=np.int64),
                thresholds={f: np.unique(np.array(v, dtype="float64")) for f, v in numeric.items()},
                categorical=frozenset(f for f, decision, _, _ in splits if decision != "<="),
                zero=frozenset(f for f, _, _, missing in splits if missing == "Zero"),
            )
        )
    _CACHE[booster] = trees
    return trees


def to_matrix(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """The matrix LightGBM predicts on for ``X`` (columns in the booster's order): pandas
    categoricals as the booster's category codes, missing as NaN; LightGBM's own conversion."""
    from lightgbm.basic import _data_from_pandas

    mat = _data_from_pandas(X[booster.feature_name()], "auto", "auto", booster.pandas_categorical)[0]
    return np.ascontiguousarray(mat)


class _Codes:
    """Per column of the matrix, a small integer code per row that refines every split of every
    tree on that column: numeric columns by interval between all the model's thresholds (NaN and
    zero apart), other columns by distinct value. ``local(t, f)`` maps it to tree ``t``'s intervals."""

    def __init__(self, mat: np.ndarray, trees: list[_Tree]) -> None:
        self.codes: dict[int, np.ndarray] = {}
        self.sizes: dict[int, int] = {}
        self.edges: dict[int, np.ndarray] = {}
        numeric: dict[int, list[np.ndarray]] = {}
        used: set[int] = set()
        categorical: set[int] = set()
        zero: set[int] = set()
        for tree in trees:
            used.update(int(f) for f in tree.features)
            categorical.update(tree.categorical)
            zero.update(tree.zero)
            for f, thr in tree.thresholds.items():
                numeric.setdefault(f, []).append(thr)
        # the codes as one matrix (a row per column used), for the compiled grouping
        self.row = {f: i for i, f in enumerate(sorted(used))}
        self.matrix = np.empty((len(self.row), mat.shape[0]), dtype=np.int32)
        for f in sorted(used):
            col = mat[:, f].astype("float64", copy=False)
            col = np.where(np.abs(col) <= _ZERO, 0.0, col)  # as LightGBM's predictor reads it
            nan = np.isnan(col)
            if f not in categorical:
                edges = np.unique(np.concatenate(numeric[f]))
                code = np.searchsorted(edges, col, side="left").astype(np.int32)
                code[nan] = len(edges) + 1
                if f in zero:  # LightGBM sends these zeros the default way, whatever the threshold
                    code[col == 0.0] = len(edges) + 2
                self.edges[f] = edges
                self.sizes[f] = len(edges) + 3
            else:  # categorical splits: each distinct value apart
                values, inverse = np.unique(np.where(nan, 0.0, col), return_inverse=True)
                code = inverse.astype(np.int32).ravel()
                code[nan] = len(values)
                self.sizes[f] = len(values) + 1
            self.matrix[self.row[f]] = code
            self.codes[f] = self.matrix[self.row[f]]

    def local(self, tree: _Tree, f: int) -> tuple[np.ndarray, int]:
        """(code per row, number of codes) of column ``f`` for the splits of ``tree`` alone."""
        if f not in self.edges:
            return self.codes[f], self.sizes[f]
        lut, size = self._own_codes(tree, f, np.int32)
        return lut[self.codes[f]], size

    def _own_codes(self, tree: _Tree, f: int, dtype: type) -> tuple[np.ndarray, int]:
        """(table from the global codes of column ``f`` to ``tree``'s own codes, number of own codes)."""
        edges, own = self.edges[f], tree.thresholds[f]
        # global interval g holds values in (edges[g-1], edges[g]]: own thresholds below them
        lut = np.empty(len(edges) + 3, dtype=dtype)
        lut[0] = 0
        lut[1 : len(edges) + 1] = np.searchsorted(own, edges, side="right")
        lut[len(edges) + 1] = len(own) + 1
        lut[len(edges) + 2] = len(own) + 2
        return lut, len(own) + 3

    def plan(self, tree: _Tree) -> tuple[np.ndarray, ...] | None:
        """What :func:`models.treeshap_kernels.group_rows` needs to key ``tree``'s rows as
        :func:`_key_groups` does (key = code of the first feature x size of the next + its code ...):
        per feature the global codes, the table from global to the tree's own codes and the key's
        multiplier. None when the key can reach 2^62 (:func:`_key_groups` renumbers it then)."""
        size, luts, sizes = 1, [], []
        for f in tree.features:
            f = int(f)
            if f in self.edges:
                lut, m = self._own_codes(tree, f, np.int64)
            else:
                lut, m = np.arange(self.sizes[f], dtype=np.int64), self.sizes[f]
            luts.append(lut)
            sizes.append(m)
            size *= m
            if size >= _MAX_KEY:
                return None
        mult = np.ones(len(sizes), dtype=np.int64)
        for j in range(len(sizes) - 2, -1, -1):
            mult[j] = mult[j + 1] * sizes[j + 1]
        offsets = np.zeros(len(luts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(lut) for lut in luts])
        return (
            self.matrix,
            np.asarray([self.row[int(f)] for f in tree.features], dtype=np.int64),
            np.concatenate(luts) if luts else np.zeros(0, dtype=np.int64),
            offsets,
            mult,
        )


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each distinct key, group number per row), groups in order of first row."""
    group, uniques = pd.factorize(key, sort=False)
    first = np.empty(len(uniques), dtype=np.int64)
    first[group[::-1]] = np.arange(len(key) - 1, -1, -1)  # the last write of a group: its first row
    return first, group


def pred_contrib(booster: lgb.Booster, mat: np.ndarray) -> np.ndarray:
    """``booster.predict(mat, pred_contrib=True)`` for a matrix from :func:`to_matrix` (rows x
    features, then the base value), computed per tree on one row per distinct path pattern."""
    n, width = mat.shape[0], mat.shape[1] + 1
    if booster.num_model_per_iteration() != 1:
        raise ValueError("multiclass boosters are not supported")
    out = np.zeros((width, n), dtype="float64")  # one contiguous row per feature: fast column adds
    if n == 0:
        return out.T.copy()
    trees = _trees(booster)
    codes = _Codes(mat, trees)
    compiled = _compiled()
    table = group = first = None
    if compiled is not None:
        table = compiled.hash_table(n)  # key -> group, emptied after each tree
        group = np.empty(n, dtype=np.int64)
        first = np.empty(n, dtype=np.int64)
    for t, tree in enumerate(trees):
        plan = codes.plan(tree) if compiled is not None else None
        if plan is not None:  # the same groups as _key_groups, in compiled code (no key arrays)
            groups = compiled.group_rows(*plan, *table, group, first)
            rows, by_row = first[:groups], group
        else:
            rows, by_row = _key_groups(codes, tree, n)
        values = np.asarray(
            booster.predict(mat[rows], pred_contrib=True, start_iteration=t, num_iteration=1),
            dtype="float64",
        ).reshape(len(rows), width)
        by_feature = np.ascontiguousarray(values.T)
        columns = np.append(tree.features, width - 1)  # the tree's features, then its expected value
        if compiled is not None:
            compiled.add_rows(out, by_feature, by_row, columns)
        else:
            for f in columns:
                out[f] += by_feature[f][by_row]
    return out.T.copy()


def _key_groups(codes: _Codes, tree: _Tree, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each path pattern of ``tree``, pattern per row), patterns in order of first row."""
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for f in tree.features:
        code, m = codes.local(tree, int(f))
        if size * m >= _MAX_KEY:  # renumber the key so far densely before it overflows
            _, key = _groups(key)
            size = int(key.max()) + 1
        key = key * m + code
        size *= m
    return _groups(key)


def _compiled() -> Any:
    """:mod:`models.treeshap_kernels` (numba), or None when numba cannot be used."""
    try:
        import models.treeshap_kernels as kernels
    except (ImportError, RuntimeError):  # numba missing, or no cache directory it may write to
        return None
    return kernels
