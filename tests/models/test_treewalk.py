"""``models.treewalk`` on a hand-written LightGBM model: each tree's runs of weeks (nodes on the
period features turning at ties, at zero on a missing-type-Zero node, on NaN, on values falling from
week to week) give the leaves LightGBM's ``Booster.predict`` gives on every week's row, and the
hazards computed by hand."""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np
import pytest

from models.treewalk import MAX_WEEKS, compile_trees, weekly_hazards

NONE, ZERO, NAN = 0, 4, 8  # LightGBM's decision_type: missing type << 2; + 2 when default left
LEFT = 2


def _tree(i: int, nodes: list[tuple[int, float, int, int, int]], leaves: list[float]) -> str:
    """Tree ``i`` in LightGBM's model text: nodes (feature, threshold, decision_type, left, right),
    a child ``-(leaf + 1)`` for a leaf."""
    cols = list(zip(*nodes, strict=True))

    def line(key: str, values) -> str:
        return f"{key}=" + " ".join(repr(v) if isinstance(v, float) else str(v) for v in values)

    ones = [1] * len(nodes)
    return "\n".join(
        [
            f"Tree={i}",
            f"num_leaves={len(leaves)}",
            "num_cat=0",
            line("split_feature", cols[0]),
            line("split_gain", ones),
            line("threshold", cols[1]),
            line("decision_type", cols[2]),
            line("left_child", cols[3]),
            line("right_child", cols[4]),
            line("leaf_value", leaves),
            line("leaf_weight", [1] * len(leaves)),
            line("leaf_count", [1] * len(leaves)),
            line("internal_value", [0] * len(nodes)),
            line("internal_weight", ones),
            line("internal_count", ones),
            "is_linear=0",
            "shrinkage=1",
            "",
            "",
        ]
    )


def _booster(trees: list[str]) -> lgb.Booster:
    head = [
        "tree",
        "version=v4",
        "num_class=1",
        "num_tree_per_iteration=1",
        "label_index=0",
        "max_feature_idx=3",
        "objective=binary sigmoid:1",
        "feature_names=s period dpd gap",
        "feature_infos=none none none none",
        "",
        "",
    ]
    return lgb.Booster(model_str="\n".join(head) + "".join(trees) + "end of trees\n")


# features: 0 s (static), 1 period, 2 dpd_at_period_end, 3 gap (= dpd - source)
REST = [
    # T1: s <= 1.5 (None: NaN reads 0) -> dpd <= 20 (NaN, default right) -> 0.05 / -0.4; else 0.7
    _tree(1, [(0, 1.5, NONE, 1, -3), (2, 20.0, NAN, -1, -2)], [0.05, -0.4, 0.7]),
    # T2: gap <= -10 (NaN, default left) -> 0.2; else dpd <= 40 -> -0.1; else period <= 4.5 -> 0.15 / -0.25
    _tree(
        2,
        [(3, -10.0, NAN | LEFT, -1, 1), (2, 40.0, NONE, -2, 2), (1, 4.5, NAN | LEFT, -3, -4)],
        [0.2, -0.1, 0.15, -0.25],
    ),
]


def _model(gap_node: int) -> lgb.Booster:
    """T0: period <= 2.5 -> 0.1; else gap <= 8 (missing type ``gap_node``, default right) ->
    -0.2 / 0.3; then T1, T2."""
    return _booster([_tree(0, [(1, 2.5, NONE, -1, 1), (3, 8.0, gap_node, -2, -3)], [0.1, -0.2, 0.3]), *REST])


H = 8


def _rows(X0: np.ndarray, source: np.ndarray, period_days: int) -> np.ndarray:
    """Every week's rows as ``weekly_hazards`` documents them, built here row by row."""
    rows = []
    for i in range(len(X0)):
        for k in range(H):
            dpd = np.float32(X0[i, 2] + np.float32(period_days * k))
            rows.append([X0[i, 0], np.float32(k), dpd, np.float32(dpd - source[i])])
    return np.asarray(rows, dtype=np.float32)


def _hazards(booster, X0, source, period_days, tol=-1.0):
    trees = compile_trees(booster, 4)
    assert trees is not None
    return weekly_hazards(trees, X0, X0[:, 2], H, tol, 1, 2, np.array([3]), source[:, None], period_days)


def _sigmoid(raw: float) -> float:
    return 1.0 / (1.0 + math.exp(-raw))


def _check_tolerance(booster, X0, source, period_days, got) -> None:
    """With ``tol`` 0.2 the weeks after the first with survival <= 0.2 are 0, the others as ``got``."""
    cut = _hazards(booster, X0, source, period_days, tol=0.2)
    survival = np.cumprod(1.0 - got, axis=1)
    for i in range(len(X0)):
        assert (survival[i, :-1] <= 0.2).any()  # the tolerance cuts every invoice within the horizon
        last = int(np.argmax(survival[i] <= 0.2))
        assert cut[i, : last + 1].tolist() == got[i, : last + 1].tolist() and not cut[i, last + 1 :].any()


@pytest.mark.parametrize("gap_node", [ZERO, NAN])
def test_runs_of_weeks_by_hand_and_as_lightgbm(gap_node: int) -> None:
    """Per invoice (s, dpd at week 0, gap source), the leaves of T0 + T1 + T2 by week, by hand
    (with T0's gap node of missing type NaN, every node turns right from one week on: the weeks'
    shortcut; with Zero, B turns right, left, right):

    - A (0, -14, 0): gap -14, -7, 0, 7, 14, ... T0 0.1 x3, then gap 7 <= 8: -0.2, then 0.3;
      T1 dpd <= 20 up to week 4 (dpd 14; week 2: dpd 0 is not NaN) 0.05, then -0.4; T2 0.2 in week
      0 (gap -14), then -0.1.
    - B (NaN, -21, 0): s NaN reads 0 at a None node; week 3 the gap is exactly 0 at T0's node: Zero,
      default right 0.3 (NaN: 0 <= 8, -0.2), week 4 gap 7: -0.2, week 5 gap 14: 0.3.
    - C (0, -21, NaN): the gap NaN: T0's node turns right (0.3) from week 3, T2's NaN node left
      (0.2) in every week.
    - D (1.5, 6, 46): s 1.5 and dpd 20 in week 2 are ties (left); gap -40, -33, ..., 2, 9: T0
      -0.2 in weeks 3-6, 0.3 in week 7; T2 0.2 up to week 4 (gap -12), week 5 gap -5, dpd 41 > 40,
      period 5 > 4.5: -0.25, likewise after.
    - E (1e-36, 1e-36, 1e-36): |x| <= 1e-35f reads 0; dpd 0, 7, ..., 49: T0 0.3 from week 3 (gap
      21), T1 -0.4 from week 3, T2 -0.1, then -0.25 from week 6 (dpd 42).
    """
    booster = _model(gap_node)
    nan = np.float32("nan")
    X0 = np.array(
        [[0, 0, -14, -14], [nan, 0, -21, -21], [0, 0, -21, nan], [1.5, 0, 6, -40], [1e-36, 0, 1e-36, 0]],
        dtype=np.float32,
    )
    source = np.array([0, 0, nan, 46, 1e-36], dtype=np.float32)
    got = _hazards(booster, X0, source, 7)
    want = np.clip(booster.predict(_rows(X0, source, 7)), 0.0, 1.0).reshape(len(X0), H)
    assert got.tobytes() == want.tobytes()
    by_hand = {
        0: [(0.1, 0.05, 0.2), (0.1, 0.05, -0.1), (0.1, 0.05, -0.1), (-0.2, 0.05, -0.1), (0.3, 0.05, -0.1)]
        + [(0.3, -0.4, -0.1)] * 3,
        1: [(0.1, 0.05, 0.2)] * 2
        + [
            (0.1, 0.05, -0.1),
            (0.3 if gap_node == ZERO else -0.2, 0.05, -0.1),
            (-0.2, 0.05, -0.1),
            (0.3, 0.05, -0.1),
        ]
        + [(0.3, -0.4, -0.1)] * 2,
        2: [(0.1, 0.05, 0.2)] * 3 + [(0.3, 0.05, 0.2)] * 3 + [(0.3, -0.4, 0.2)] * 2,
        3: [(0.1, 0.05, 0.2)] * 3
        + [(-0.2, -0.4, 0.2)] * 2
        + [(-0.2, -0.4, -0.25)] * 2
        + [(0.3, -0.4, -0.25)],
        4: [(0.1, 0.05, -0.1)] * 3 + [(0.3, -0.4, -0.1)] * 3 + [(0.3, -0.4, -0.25)] * 2,
    }
    for i, weeks in by_hand.items():
        assert got[i].tolist() == [_sigmoid(0.0 + a + b + c) for a, b, c in weeks], i
    _check_tolerance(booster, X0, source, 7, got)


def test_falling_values() -> None:
    """``period_days`` -7: dpd and the gap fall week by week (decided week by week, not by the
    rising-values shortcut). F (0, 30, 9): gap 21, 14, 7, 0, -7, -14, -21, -28: T0 0.1 x3, then
    gap 0 (Zero node, default right) 0.3, then -0.2; T1 dpd 30, 23 -> -0.4, then 16 ... -> 0.05;
    T2 -0.1 while the gap > -10, then 0.2."""
    booster = _model(ZERO)
    X0 = np.array([[0, 0, 30, 21], [2, 0, 5, np.float32("nan")]], dtype=np.float32)
    source = np.array([9, np.float32("nan")], dtype=np.float32)
    got = _hazards(booster, X0, source, -7)
    want = np.clip(booster.predict(_rows(X0, source, -7)), 0.0, 1.0).reshape(len(X0), H)
    assert got.tobytes() == want.tobytes()
    weeks = [(0.1, -0.4, -0.1)] * 2 + [(0.1, 0.05, -0.1), (0.3, 0.05, -0.1), (-0.2, 0.05, -0.1)]
    weeks += [(-0.2, 0.05, 0.2)] * 3
    assert got[0].tolist() == [_sigmoid(0.0 + a + b + c) for a, b, c in weeks]
    _check_tolerance(booster, X0, source, -7, got)


def test_leaf_masks_up_to_63_leaves() -> None:
    """A chain of 62 nodes on ``s`` (s <= j - 1: leaf j) has 63 leaves, the most an int64 mask
    holds: s = j - 1 (a tie) or j - 1.5 reaches leaf j; NaN reads 0 at these None nodes: 0 > -1,
    0 <= 0: leaf 1. 64 leaves are left to LightGBM (None)."""

    def chain(leaves: int) -> lgb.Booster:
        nodes = [
            (0, float(j - 1), NONE, -(j + 1), j + 1 if j < leaves - 2 else -leaves) for j in range(leaves - 1)
        ]
        return _booster([_tree(0, nodes, [j / 64 for j in range(leaves)])])

    booster = chain(63)
    X0 = np.zeros((64, 4), dtype=np.float32)
    X0[:63, 0] = np.arange(63) - 1 - 0.5 * (np.arange(63) % 2)  # ties and values between thresholds
    X0[63, 0] = np.nan
    source = np.zeros(64, dtype=np.float32)
    got = _hazards(booster, X0, source, 7)
    assert got[:, 0].tolist() == [_sigmoid(0.0 + j / 64) for j in range(63)] + [_sigmoid(0.0 + 1 / 64)]
    assert got.tobytes() == np.clip(booster.predict(_rows(X0, source, 7)), 0.0, 1.0).reshape(64, H).tobytes()
    assert compile_trees(chain(64), 4) is None
    trees = compile_trees(booster, 4)
    with pytest.raises(ValueError, match="at most 63 weeks"):
        weekly_hazards(trees, X0, X0[:, 2], MAX_WEEKS + 1, -1.0, 1, 2, np.array([3]), source[:, None], 7)


def test_shared_columns_kept_from_the_row_before() -> None:
    """``shared`` = [s]: rows whose s has the bits of the row before keep the leaves its nodes
    cleared there; any other bits clear them again (0 -> 1.6 turns T1 right: 0.7; 1.6 -> NaN reads
    0; NaN -> NaN kept; 0.0 -> -0.0 other bits; the tie 1.5 then 2.0). The same bits as LightGBM's
    ``predict`` and as without ``shared``; a period column named in it (dpd) is not kept."""
    booster = _model(NAN)
    nan, neg0 = np.float32("nan"), np.float32(-0.0)
    s = np.array([0, 0, 1.6, 1.6, nan, nan, 0, neg0, 1.5, 2.0, 2.0], dtype=np.float32)
    X0 = np.zeros((len(s), 4), dtype=np.float32)
    X0[:, 0] = s
    X0[:, 2] = np.array([-14, 6, -21, 30, -7, 1e-36, 15, -14, 20, 40, -3], dtype=np.float32)
    source = np.array([0, 46, 0, nan, 9, 0, 3, 0, 1, -5, 0], dtype=np.float32)
    X0[:, 3] = X0[:, 2] - source
    trees = compile_trees(booster, 4)
    assert trees is not None
    want = np.clip(booster.predict(_rows(X0, source, 7)), 0.0, 1.0).reshape(len(X0), H)
    plain = weekly_hazards(trees, X0, X0[:, 2], H, -1.0, 1, 2, np.array([3]), source[:, None], 7)
    for shared in ([0], [0, 2]):
        got = weekly_hazards(
            trees, X0, X0[:, 2], H, -1.0, 1, 2, np.array([3]), source[:, None], 7, np.array(shared)
        )
        assert got.tobytes() == want.tobytes() == plain.tobytes(), shared
    assert got[2, 0] == _sigmoid(0.0 + 0.1 + 0.7 + 0.2)  # T0 week 0, T1 right on s = 1.6, T2 gap -21
