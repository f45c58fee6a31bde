"""The weekly hazards of a LightGBM binary model walked in compiled code (numba), exactly as
LightGBM predicts them, but without walking again the trees whose leaf cannot have moved.

From one week to the next only the period features of an invoice change (``period``,
``dpd_at_period_end``, the gaps; ``features.paydate.PERIOD_FEATURES``). When a tree is walked,
the walk records, per period feature, the interval its value may move within without turning at
any node of the path (``value <= threshold`` goes left). Next week the tree keeps its leaf when
every period feature is still within its interval (NaN stays NaN); only the other trees are
walked. On a 1M book's bucket 5.9 of the 80 trees are walked again a week (BENCHMARKS.md, session 7).

Bit for bit LightGBM's ``Booster.predict``: the same walk (inputs whose absolute value is at most
1e-35f read as 0, NaN read as 0 at nodes whose missing type is not NaN, the missing-value
direction at NaN / zero nodes), the leaves summed in tree order from 0.0 in float64, and the
sigmoid ``1 / (1 + exp(-raw))`` with the C library's ``exp``. Models this does not cover
(categorical splits, linear trees, several classes, averaged output, another objective or
sigmoid) give None from :func:`compile_trees`; :func:`models.paydate.predict_hazards` then asks
LightGBM. Pure: arrays in, arrays out.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

__all__ = ["Trees", "compile_trees", "weekly_hazards"]

KZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (1e-35f)
MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class Trees:
    """The trees of a model as flat arrays. Node ``i``: ``feature[i]``, ``threshold[i]``,
    ``default_left[i]``, ``missing[i]`` (0 None, 1 Zero, 2 NaN), children ``left[i]`` /
    ``right[i]`` (a node number, or ``-(leaf + 1)``); ``root[t]`` likewise per tree; ``value[leaf]``."""

    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray
    left: np.ndarray
    right: np.ndarray
    root: np.ndarray
    value: np.ndarray


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compile_trees(booster: Any, n_features: int) -> Trees | None:
    """``booster`` (a ``lightgbm.Booster`` on ``n_features`` inputs) as :class:`Trees`; None when
    the model is not a plain binary one this walk reproduces (see the module). Cached per booster."""
    import lightgbm as lgb

    if not isinstance(booster, lgb.Booster):
        return None
    if booster in _CACHE:
        return _CACHE[booster]
    _CACHE[booster] = trees = _compile(booster.dump_model(), n_features)
    return trees


def _compile(model: dict, n_features: int) -> Trees | None:
    if (
        model.get("num_class") != 1
        or model.get("num_tree_per_iteration") != 1
        or model.get("average_output")
        or str(model.get("objective", "")).split() != ["binary", "sigmoid:1"]
        or len(model.get("feature_names", [])) != n_features
    ):
        return None
    nodes: list[tuple[int, float, bool, int, int, int]] = []
    values: list[float] = []
    roots: list[int] = []

    def add(node: dict) -> int:  # the node's reference: its number, or -(leaf + 1)
        if "leaf_coeff" in node or "leaf_features" in node:
            raise _Unsupported
        if "split_feature" not in node:
            values.append(float(node["leaf_value"]))
            return -len(values)
        if node.get("decision_type") != "<=" or node.get("missing_type") not in MISSING:
            raise _Unsupported
        at = len(nodes)
        nodes.append((0, 0.0, False, 0, 0, 0))
        left, right = add(node["left_child"]), add(node["right_child"])
        nodes[at] = (
            int(node["split_feature"]),
            float(node["threshold"]),
            bool(node["default_left"]),
            MISSING[node["missing_type"]],
            left,
            right,
        )
        return at

    try:
        for tree in model["tree_info"]:
            roots.append(add(tree["tree_structure"]))
    except _Unsupported:
        return None
    cols = list(zip(*nodes, strict=True)) if nodes else [[]] * 6
    return Trees(
        feature=np.asarray(cols[0], dtype=np.int64),
        threshold=np.asarray(cols[1], dtype=np.float64),
        default_left=np.asarray(cols[2], dtype=np.bool_),
        missing=np.asarray(cols[3], dtype=np.int64),
        left=np.asarray(cols[4], dtype=np.int64),
        right=np.asarray(cols[5], dtype=np.int64),
        root=np.asarray(roots, dtype=np.int64),
        value=np.asarray(values, dtype=np.float64),
    )


class _Unsupported(Exception):
    pass


def weekly_hazards(
    trees: Trees,
    X0: np.ndarray,
    dpd0: np.ndarray,
    horizon: int,
    tol: float,
    period_col: int,
    dpd_col: int,
    gap_cols: np.ndarray,
    gap_sources: np.ndarray,
    period_days: int,
) -> np.ndarray:
    """Hazards (n, ``horizon``) of the rows ``X0`` (week 0, float32, the model's columns) moved on
    week by week as ``models.paydate.predict_hazards`` moves them: ``period_col`` takes k,
    ``dpd_col`` ``dpd0`` (week 0's days past due) + ``period_days`` x k (float32), ``gap_cols[g]`` that minus
    ``gap_sources[:, g]`` (float32); -1 for a column the model lacks. An invoice's later weeks stay
    0 once its survival is at most ``tol``."""
    n = X0.shape[0]
    out = np.zeros((n, horizon), dtype=np.float64)
    if n == 0 or horizon == 0:
        return out
    moving = np.asarray(
        [c for c in dict.fromkeys([period_col, dpd_col, *gap_cols.tolist()]) if c >= 0], dtype=np.int64
    )
    _kernel(
        np.ascontiguousarray(X0, dtype=np.float32),
        np.ascontiguousarray(dpd0, dtype=np.float32),
        np.ascontiguousarray(gap_sources, dtype=np.float32).reshape(n, len(gap_cols)),
        np.asarray(gap_cols, dtype=np.int64),
        int(period_col),
        int(dpd_col),
        moving,
        int(period_days),
        float(tol),
        trees.feature,
        trees.threshold,
        trees.default_left,
        trees.missing,
        trees.left,
        trees.right,
        trees.root,
        trees.value,
        out,
    )
    return out


@njit(cache=True, nogil=True)
def _walk(x, t, feature, threshold, default_left, missing, left, right, root, slot, lo, hi):
    """The leaf of tree ``t`` for the row ``x``; ``lo``/``hi``: per period feature, the interval
    (lo, hi] its value (read as LightGBM reads it) may move within without turning at a node of
    the path (lo = +inf: no such interval, zero-ness decided)."""
    for m in range(lo.shape[0]):
        lo[m] = -np.inf
        hi[m] = np.inf
    node = root[t]
    while node >= 0:
        f = feature[node]
        v = x[f]
        nan = math.isnan(v)
        if not nan and abs(v) <= KZERO:
            v = 0.0
        kind = missing[node]
        if nan and kind != 2:
            v = 0.0
        m = slot[f]
        if (kind == 1 and -KZERO <= v <= KZERO) or (kind == 2 and nan):
            go_left = default_left[node]
            if m >= 0 and not nan:
                lo[m] = np.inf
        else:
            go_left = v <= threshold[node]
            if m >= 0 and not nan:
                if go_left:
                    hi[m] = min(hi[m], threshold[node])
                else:
                    lo[m] = max(lo[m], threshold[node])
        node = left[node] if go_left else right[node]
    return -node - 1


@njit(cache=True, nogil=True)
def _holds(vals, read, k, lo, hi, monotone):
    """The first week after ``k`` whose period features leave the intervals ``lo``/``hi`` of a
    walk at week k (a change of NaN-ness counts); the horizon when none does. On ``monotone``
    weeks by bisection on the upper bounds (only of the features the path bounds above: that of an
    unbounded one ends where it starts; a 1M book's bucket: 13.4 -> 3.8 bisection steps a walk),
    else week by week."""
    horizon, M = vals.shape
    if monotone:
        first = horizon
        for m in range(M):
            if math.isnan(vals[k, m]):
                continue  # NaN in every week: the walk turns the same way
            if lo[m] == np.inf:
                return k + 1
            if hi[m] == np.inf:
                continue  # no upper bound on the path: no week reads above it
            a, b = k + 1, first  # the first week in [a, b) read above hi[m], else b
            while a < b:
                c = (a + b) // 2
                if read[c, m] > hi[m]:
                    b = c
                else:
                    a = c + 1
            first = a
        return first
    nxt = k + 1
    while nxt < horizon:
        for m in range(M):
            v = vals[nxt, m]
            if math.isnan(v) != math.isnan(vals[k, m]):
                return nxt
            if not math.isnan(v):
                c = 0.0 if abs(v) <= KZERO else v
                if not (lo[m] < c <= hi[m]):
                    return nxt
        nxt += 1
    return nxt


@njit(cache=True, nogil=True)
def _kernel(
    X0,
    dpd0,
    sources,
    gap_cols,
    period_col,
    dpd_col,
    moving,
    period_days,
    tol,
    feature,
    threshold,
    default_left,
    missing,
    left,
    right,
    root,
    value,
    out,
):
    n, F = X0.shape
    horizon = out.shape[1]
    trees = root.shape[0]
    M = moving.shape[0]
    slot = np.full(F, -1, dtype=np.int64)
    for m in range(M):
        slot[moving[m]] = m
    x = np.empty(F, dtype=np.float64)
    leaf = np.zeros(trees, dtype=np.int64)
    until = np.zeros(trees, dtype=np.int64)  # per tree: the first week it must be walked again
    lo = np.empty(M, dtype=np.float64)
    hi = np.empty(M, dtype=np.float64)
    vals = np.empty((horizon, M), dtype=np.float64)  # the period features of each week
    read = np.empty((horizon, M), dtype=np.float64)  # as LightGBM reads them (NaN: unused)
    for i in range(n):
        for j in range(F):
            x[j] = np.float64(X0[i, j])
        for m in range(M):
            vals[0, m] = x[moving[m]]
        for k in range(1, horizon):
            d = np.float32(dpd0[i] + np.float32(period_days * k))
            if period_col >= 0:
                x[period_col] = np.float64(np.float32(k))
            if dpd_col >= 0:
                x[dpd_col] = np.float64(d)
            for g in range(gap_cols.shape[0]):
                x[gap_cols[g]] = np.float64(np.float32(d - sources[i, g]))
            for m in range(M):
                vals[k, m] = x[moving[m]]
        # monotone: each period feature NaN in every week or in none, and never smaller (as
        # LightGBM reads it) than the week before; then a leaf holds until its first week above hi
        monotone = True
        for m in range(M):
            nan = math.isnan(vals[0, m])
            for k in range(horizon):
                v = vals[k, m]
                if math.isnan(v) != nan:
                    monotone = False
                read[k, m] = 0.0 if nan or math.isnan(v) or abs(v) <= KZERO else v
                if k and read[k, m] < read[k - 1, m]:
                    monotone = False
        survival = 1.0
        nearest = 0  # the first week some tree must be walked again
        raw = 0.0
        for k in range(horizon):
            if k >= nearest:  # else every tree keeps its leaf: last week's sum
                for m in range(M):
                    x[moving[m]] = vals[k, m]
                raw = 0.0
                nearest = horizon
                for t in range(trees):
                    if k == 0 or k >= until[t]:
                        leaf[t] = _walk(
                            x, t, feature, threshold, default_left, missing, left, right, root, slot, lo, hi
                        )
                        until[t] = _holds(vals, read, k, lo, hi, monotone)
                    nearest = min(nearest, until[t])
                    raw += value[leaf[t]]
            p = 1.0 / (1.0 + math.exp(-1.0 * raw))
            h = min(max(p, 0.0), 1.0)
            out[i, k] = h
            survival *= 1.0 - h
            if not survival > tol:
                break
