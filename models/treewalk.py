"""The weekly hazards of a LightGBM binary model computed in compiled code (numba), exactly as
LightGBM predicts them, each tree decided once per invoice for all its weeks.

From one week to the next only the period features of an invoice change (``period``,
``dpd_at_period_end``, the gaps; ``features.paydate.PERIOD_FEATURES``). The trees are not walked
node by node: as in QuickScorer (Lucchese et al., SIGIR 2015), each tree's leaves, numbered left to
right, are the bits of a mask, and every node that turns right clears the bits of its left
subtree's leaves; the leaf reached is the lowest bit left. Per invoice, the nodes on the other
(static) features turn the same way in every week: per feature, its nodes sorted by threshold are
cleared up to the first one the value does not exceed. A node on a period feature gets the set of
weeks in which it turns right, as a bit mask of weeks (on values that never decrease over the
weeks, one cut week per node, found in one pass over the feature's nodes sorted by threshold;
otherwise week by week). The weeks where some node changes side cut the horizon into runs of weeks
alike in every tree. When every such node turns right from one week on (values that never decrease
and no missing-type-Zero node changing side: every invoice of the 1M book's bucket 3), the runs are
taken in order, each clearing the bits of the nodes turning right from its first week, one raw
score per run, and the invoice stops at the tolerance; otherwise each tree's own runs of weeks
(where one of its period nodes changes side) add its leaf's value to the runs they cover.

A debtor's own features (``features.paydate.DEBTOR_LEVEL``) are the same on all its open invoices,
one after the other: the leaves their nodes clear are kept from the invoice before while their
values are the same bits (``shared``), about four fifths of the static nodes of the shipped model.

Bit for bit LightGBM's ``Booster.predict``: the same decisions (inputs whose absolute value is at
most 1e-35f read as 0, NaN read as 0 at nodes whose missing type is not NaN, the missing-value
direction at NaN / zero nodes), each week's leaves summed in tree order from 0.0 in float64 (the
trees are taken in order, each fully before the next), and the sigmoid ``1 / (1 + exp(-raw))`` with
the C library's ``exp``. Models this does not cover (categorical splits, linear trees, several
classes, averaged output, another objective or sigmoid, more than 63 leaves in a tree) give None
from :func:`compile_trees`; :func:`models.paydate.predict_hazards` then asks LightGBM, as it does
beyond :data:`MAX_WEEKS` weeks. Pure: arrays in, arrays out.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = ["MAX_WEEKS", "Trees", "compile_trees", "weekly_hazards"]

KZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (1e-35f)
MISSING = {"None": 0, "Zero": 1, "NaN": 2}
MAX_WEEKS = 63  # weeks of an invoice as the bits of an int64
MAX_LEAVES = 63  # leaves of a tree as the bits of an int64


@dataclass(frozen=True)
class Trees:
    """The trees of a model as flat arrays. Node ``i``: ``feature[i]``, ``threshold[i]``,
    ``default_left[i]``, ``missing[i]`` (0 None, 1 Zero, 2 NaN), children ``left[i]`` /
    ``right[i]`` (a node number, or ``-(leaf + 1)``); ``root[t]`` likewise per tree; ``value[leaf]``.
    Derived (:func:`make_trees`): ``tree_of[i]``; ``clear[i]``, the leaf mask of its tree without
    the leaves of its left subtree (bit j: the tree's j-th leaf from the left); ``leaf_start[t]``;
    the nodes by feature and missing type, each group sorted by threshold: ``by_kind[by_kind_start[
    3 f + kind]:...]``, and of those the ones whose default direction is right, ``right_default``
    (likewise)."""

    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray
    left: np.ndarray
    right: np.ndarray
    root: np.ndarray
    value: np.ndarray
    tree_of: np.ndarray
    clear: np.ndarray
    leaf_start: np.ndarray
    by_kind_start: np.ndarray
    by_kind: np.ndarray
    right_default_start: np.ndarray
    right_default: np.ndarray


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
            first = len(values)
            roots.append(add(tree["tree_structure"]))
            if len(values) - first > MAX_LEAVES:
                raise _Unsupported
    except _Unsupported:
        return None
    cols = list(zip(*nodes, strict=True)) if nodes else [[]] * 6
    return make_trees(
        feature=np.asarray(cols[0], dtype=np.int64),
        threshold=np.asarray(cols[1], dtype=np.float64),
        default_left=np.asarray(cols[2], dtype=np.bool_),
        missing=np.asarray(cols[3], dtype=np.int64),
        left=np.asarray(cols[4], dtype=np.int64),
        right=np.asarray(cols[5], dtype=np.int64),
        root=np.asarray(roots, dtype=np.int64),
        value=np.asarray(values, dtype=np.float64),
        n_features=n_features,
    )


class _Unsupported(Exception):
    pass


def make_trees(
    feature: np.ndarray,
    threshold: np.ndarray,
    default_left: np.ndarray,
    missing: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    root: np.ndarray,
    value: np.ndarray,
    n_features: int,
) -> Trees:
    """:class:`Trees` of the node arrays (leaves numbered left to right within each tree, the trees'
    leaves one after the other, as :func:`_compile` numbers them), with the derived arrays."""
    tree_of = np.zeros(len(feature), dtype=np.int64)
    clear = np.zeros(len(feature), dtype=np.int64)
    leaf_start = np.zeros(len(root), dtype=np.int64)

    def leaves(ref: int, t: int) -> tuple[int, int]:  # the first leaf under ref and their count
        if ref < 0:
            return -ref - 1, 1
        tree_of[ref] = t
        first, n_left = leaves(int(left[ref]), t)
        _, n_right = leaves(int(right[ref]), t)
        clear[ref] = ~(((1 << n_left) - 1) << (first - int(leaf_start[t])))
        return first, n_left + n_right

    for t, ref in enumerate(root.tolist()):
        node = ref
        while node >= 0:  # the tree's first leaf from the left
            node = int(left[node])
        leaf_start[t] = -node - 1
        leaves(ref, t)
    groups = feature * 3 + missing
    by_kind = np.lexsort((threshold, groups)).astype(np.int64)
    right_default = by_kind[~default_left[by_kind]]
    edges = np.arange(3 * n_features + 1)
    return Trees(
        feature=feature,
        threshold=threshold,
        default_left=default_left,
        missing=missing,
        left=left,
        right=right,
        root=root,
        value=value,
        tree_of=tree_of,
        clear=clear,
        leaf_start=leaf_start,
        by_kind_start=np.searchsorted(groups[by_kind], edges).astype(np.int64),
        by_kind=by_kind,
        right_default_start=np.searchsorted(groups[right_default], edges).astype(np.int64),
        right_default=right_default,
    )


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
    shared: np.ndarray | None = None,
) -> np.ndarray:
    """Hazards (n, ``horizon``) of the rows ``X0`` (week 0, float32, the model's columns) moved on
    week by week as ``models.paydate.predict_hazards`` moves them: ``period_col`` takes k,
    ``dpd_col`` ``dpd0`` (week 0's days past due) + ``period_days`` x k (float32), ``gap_cols[g]`` that minus
    ``gap_sources[:, g]`` (float32); -1 for a column the model lacks. An invoice's later weeks stay
    0 once its survival is at most ``tol``. At most :data:`MAX_WEEKS` weeks.

    ``shared``: columns (indices) whose values rows often share with the row before them (a
    debtor's features, on the rows of its invoices one after the other): the leaves their nodes
    clear are kept from the row before while those values are the same bits, not found again. The
    leaves are the same either way (the clearing is an AND, in any order); only the work differs."""
    n = X0.shape[0]
    if horizon > MAX_WEEKS:
        raise ValueError(f"at most {MAX_WEEKS} weeks, not {horizon}")
    out = np.zeros((n, horizon), dtype=np.float64)
    if n == 0 or horizon == 0:
        return out
    moving = np.asarray(
        [c for c in dict.fromkeys([period_col, dpd_col, *gap_cols.tolist()]) if c >= 0], dtype=np.int64
    )
    by_kind, right_default = trees.by_kind, trees.right_default
    X0 = np.ascontiguousarray(X0, dtype=np.float32)
    is_shared = np.zeros(X0.shape[1], dtype=np.bool_)
    if shared is not None:
        is_shared[np.asarray(shared, dtype=np.int64)] = True
    is_shared[moving] = False  # a period column changes week by week: never shared
    _kernel(
        X0,
        X0.view(np.int32),
        is_shared,
        np.ascontiguousarray(dpd0, dtype=np.float32),
        np.ascontiguousarray(gap_sources, dtype=np.float32).reshape(n, len(gap_cols)),
        np.asarray(gap_cols, dtype=np.int64),
        int(period_col),
        int(dpd_col),
        moving,
        int(period_days),
        float(tol),
        trees.by_kind_start,
        trees.threshold[by_kind],
        trees.default_left[by_kind],
        trees.tree_of[by_kind],
        trees.clear[by_kind],
        trees.right_default_start,
        trees.tree_of[right_default],
        trees.clear[right_default],
        trees.leaf_start,
        trees.value,
        out,
    )
    return out


@njit(cache=True, nogil=True, inline="always")
def _goes_left(v, kind, threshold, default_left):
    """LightGBM's turn at a numerical node for the input ``v`` (float32 read as float64): |v| <=
    1e-35f reads as 0, NaN as 0 unless the node's missing type is NaN; the default direction at a
    zero (missing type Zero) or NaN (missing type NaN) input, else ``v <= threshold``."""
    nan = math.isnan(v)
    if not nan and abs(v) <= KZERO:
        v = 0.0
    if nan and kind != 2:
        v = 0.0
    if (kind == 1 and -KZERO <= v <= KZERO) or (kind == 2 and nan):
        return default_left
    return v <= threshold


@njit(cache=True, nogil=True, inline="always")
def _clear_static(
    v,
    g0,
    leaves,
    group_start,
    group_threshold,
    group_tree,
    group_clear,
    right_default_start,
    right_default_tree,
    right_default_clear,
):
    """Clear in ``leaves`` the leaves that a static column's nodes (groups ``g0`` .. ``g0 + 2``, its
    three missing types) turn away from for the value ``v``: the same side in every week."""
    nan = math.isnan(v)
    zero = not nan and abs(v) <= KZERO
    for kind in range(3):
        g = g0 + kind
        if (kind == 1 and (nan or zero)) or (kind == 2 and nan):  # the default side
            for q in range(right_default_start[g], right_default_start[g + 1]):
                leaves[right_default_tree[q]] &= right_default_clear[q]
        else:  # right while the threshold is below the value (read as LightGBM does)
            r = 0.0 if nan or zero else v
            for q in range(group_start[g], group_start[g + 1]):
                if not group_threshold[q] < r:
                    break
                leaves[group_tree[q]] &= group_clear[q]


@njit(cache=True, nogil=True, inline="always")
def _moving_nodes(
    v,
    f,
    m,
    horizon,
    every,
    vals,
    read,
    monotone,
    full,
    leaves,
    at,
    after,
    weeks,
    then,
    first,
    turns,
    group_start,
    group_threshold,
    group_default_left,
    group_tree,
    group_clear,
):
    """The nodes of period column ``f`` (slot ``m``, week-0 value ``v``): cleared in ``leaves`` when
    right in every week; a node turning right from week c on (0 < c < horizon) linked into ``at`` /
    ``after``; with ``full``, every node that changes side recorded for the trees' own runs
    (``weeks``, ``then``, ``first``, ``turns``). Returns the weeks where some node changes side
    (bits), with the sign bit set when a node changes side otherwise than once to the right."""
    cuts = np.int64(0)
    nan = math.isnan(v)
    for kind in range(3):
        g = 3 * f + kind
        fast = monotone[m] and kind != 1 and not nan  # right from the first week above
        c = 0
        for q in range(group_start[g], group_start[g + 1]):
            if fast:
                while c < horizon and not read[c, m] > group_threshold[q]:
                    c += 1
                w = every & ~((np.int64(1) << c) - 1)
                if 0 < c < horizon:
                    after[q] = at[c]
                    at[c] = q
            else:  # week by week
                w = np.int64(0)
                for k in range(horizon):
                    if not _goes_left(vals[k, m], kind, group_threshold[q], group_default_left[q]):
                        w |= np.int64(1) << k
                if w != every and w != 0:
                    cuts |= np.int64(1) << 63
            t = group_tree[q]
            if w == every:
                leaves[t] &= group_clear[q]
            elif w != 0:
                change = (w ^ (w << 1)) & every & ~np.int64(1)
                cuts |= change
                if full:
                    weeks[q] = w
                    then[q] = first[t]
                    first[t] = q
                    turns[t] |= change
    return cuts


@njit(cache=True, nogil=True)
def _kernel(
    X0,
    bits,
    shared,
    dpd0,
    sources,
    gap_cols,
    period_col,
    dpd_col,
    moving,
    period_days,
    tol,
    group_start,
    group_threshold,
    group_default_left,
    group_tree,
    group_clear,
    right_default_start,
    right_default_tree,
    right_default_clear,
    leaf_start,
    value,
    out,
):
    """The nodes by feature and missing type, each group sorted by threshold (``group_*``), and
    those of them whose default direction is right (``right_default_*``); ``bits``: ``X0`` as
    int32; ``shared``: per column, whether its nodes' clearing is kept from the row before while
    the row's shared columns hold the same bits (:func:`weekly_hazards`)."""
    n, F = X0.shape
    horizon = out.shape[1]
    trees = leaf_start.shape[0]
    M = moving.shape[0]
    slot = np.full(F, -1, dtype=np.int64)
    for m in range(M):
        slot[moving[m]] = m
    every = (np.int64(1) << horizon) - 1  # all weeks
    x = np.empty(F, dtype=np.float64)
    vals = np.empty((horizon, M), dtype=np.float64)  # the period features of each week
    read = np.empty((horizon, M), dtype=np.float64)  # as LightGBM reads them (NaN: unused)
    monotone = np.empty(M, dtype=np.bool_)
    leaves = np.empty(trees, dtype=np.int64)  # per tree: the leaves not cleared in every week
    first = np.empty(trees, dtype=np.int64)  # per tree: its first node that changes side, or -1
    then = np.empty(group_threshold.shape[0], dtype=np.int64)  # the tree's next such node, or -1
    weeks = np.empty(group_threshold.shape[0], dtype=np.int64)  # such a node's weeks turning right
    turns = np.empty(trees, dtype=np.int64)  # per tree: bit k, one of its nodes changes side at week k
    at = np.empty(horizon, dtype=np.int64)  # per week: the first node turning right from that week on
    after = np.empty(group_threshold.shape[0], dtype=np.int64)  # the next node turning right then
    segment = np.empty(horizon + 1, dtype=np.int64)  # per week: its run of weeks alike in every tree
    raw = np.empty(horizon, dtype=np.float64)  # per run of weeks alike
    kept = np.empty(trees, dtype=np.int64)  # per tree: the leaves the shared columns' nodes leave
    any_shared = False
    for f in range(F):
        any_shared |= shared[f]
    for i in range(n):
        for j in range(F):
            x[j] = np.float64(X0[i, j])
        fresh = i == 0  # the shared columns' nodes cleared again: the first row, or other values
        for f in range(F):
            if shared[f] and not fresh and bits[i, f] != bits[i - 1, f]:
                fresh = True
        if any_shared and fresh:
            for t in range(trees):
                kept[t] = -1
            for f in range(F):
                if shared[f]:
                    _clear_static(
                        x[f],
                        3 * f,
                        kept,
                        group_start,
                        group_threshold,
                        group_tree,
                        group_clear,
                        right_default_start,
                        right_default_tree,
                        right_default_clear,
                    )
        for m in range(M):
            vals[0, m] = x[moving[m]]
        for k in range(1, horizon):
            d = np.float32(dpd0[i] + np.float32(period_days * k))
            if period_col >= 0:
                vals[k, slot[period_col]] = np.float64(np.float32(k))
            if dpd_col >= 0:
                vals[k, slot[dpd_col]] = np.float64(d)
            for g in range(gap_cols.shape[0]):
                vals[k, slot[gap_cols[g]]] = np.float64(np.float32(d - sources[i, g]))
        # monotone: NaN in every week or in none, and never smaller (as LightGBM reads it) than
        # the week before; then a node turns right from one week on (or in none or every week)
        for m in range(M):
            nan = math.isnan(vals[0, m])
            monotone[m] = True
            for k in range(horizon):
                v = vals[k, m]
                if math.isnan(v) != nan:
                    monotone[m] = False
                read[k, m] = 0.0 if nan or math.isnan(v) or abs(v) <= KZERO else v
                if k and read[k, m] < read[k - 1, m]:
                    monotone[m] = False
        for t in range(trees):
            leaves[t] = kept[t] if any_shared else -1
            first[t] = -1
            turns[t] = 0
        for k in range(horizon):
            at[k] = -1
        cuts = np.int64(0)  # bit k: some tree changes leaf at week k
        for f in range(F):
            m = slot[f]
            v = x[f]
            if m < 0:  # static: the same side in every week (a shared column's: in ``kept``)
                if not shared[f]:
                    _clear_static(
                        v,
                        3 * f,
                        leaves,
                        group_start,
                        group_threshold,
                        group_tree,
                        group_clear,
                        right_default_start,
                        right_default_tree,
                        right_default_clear,
                    )
                continue
            cuts |= _moving_nodes(
                v,
                f,
                m,
                horizon,
                every,
                vals,
                read,
                monotone,
                False,
                leaves,
                at,
                after,
                weeks,
                then,
                first,
                turns,
                group_start,
                group_threshold,
                group_default_left,
                group_tree,
                group_clear,
            )
        if cuts < 0:  # some node changes side otherwise than once to the right: the trees' own runs
            for t in range(trees):
                first[t] = -1
                turns[t] = 0
            for k in range(horizon):
                at[k] = -1
            cuts = np.int64(0)
            for f in range(F):
                m = slot[f]
                if m >= 0:
                    cuts |= _moving_nodes(
                        x[f],
                        f,
                        m,
                        horizon,
                        every,
                        vals,
                        read,
                        monotone,
                        True,
                        leaves,
                        at,
                        after,
                        weeks,
                        then,
                        first,
                        turns,
                        group_start,
                        group_threshold,
                        group_default_left,
                        group_tree,
                        group_clear,
                    )
        switches = cuts >= 0
        cuts &= every
        if switches:  # week by week, each run of weeks alike: the nodes turning right then
            survival = 1.0
            a = 0
            while a < horizon:
                q = at[a]
                while q >= 0:
                    leaves[group_tree[q]] &= group_clear[q]
                    q = after[q]
                total = 0.0
                for t in range(trees):
                    total += value[leaf_start[t] + trailing_zeros(leaves[t])]
                p = 1.0 / (1.0 + math.exp(-1.0 * total))
                h = min(max(p, 0.0), 1.0)
                later = cuts >> (a + 1)
                b = horizon if later == 0 else a + 1 + trailing_zeros(later)
                for k in range(a, b):
                    out[i, k] = h
                    survival *= 1.0 - h
                    if not survival > tol:
                        break
                if not survival > tol:
                    break
                a = b
            continue
        runs = 0
        for k in range(horizon):
            runs += (cuts >> k) & 1
            segment[k] = runs
            raw[k] = 0.0
        segment[horizon] = runs + 1
        for t in range(trees):
            if first[t] < 0:  # the same leaf in every week
                leaf_value = value[leaf_start[t] + trailing_zeros(leaves[t])]
                for s in range(runs + 1):
                    raw[s] += leaf_value
                continue
            a = 0
            while a < horizon:  # the tree's runs of weeks with one leaf
                mask = leaves[t]
                q = first[t]
                while q >= 0:  # without a branch: clear or all ones
                    mask &= group_clear[q] | (((weeks[q] >> a) & 1) - 1)
                    q = then[q]
                leaf_value = value[leaf_start[t] + trailing_zeros(mask)]
                later = turns[t] >> (a + 1)
                b = horizon if later == 0 else a + 1 + trailing_zeros(later)
                for s in range(segment[a], segment[b]):
                    raw[s] += leaf_value
                a = b
        survival = 1.0
        for k in range(horizon):
            p = 1.0 / (1.0 + math.exp(-1.0 * raw[segment[k]]))
            h = min(max(p, 0.0), 1.0)
            out[i, k] = h
            survival *= 1.0 - h
            if not survival > tol:
                break
