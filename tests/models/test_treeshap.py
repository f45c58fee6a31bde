"""models.treeshap: LightGBM's TreeSHAP once per path pattern equals TreeSHAP on every row."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from models.reasons import contributions, reason_codes
from models.treeshap import pred_contrib, to_matrix
from tests.models.test_reasons import CATALOG


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "late_90d": rng.poisson(1.2, n).astype("float64"),  # many exact zeros
            "dpd_max": rng.exponential(20, n),
            "amount": np.where(rng.random(n) < 0.3, 0.0, rng.normal(0, 1000, n)),
            "segment": pd.Categorical(rng.choice(["retail", "construction", "energy"], n)),
        }
    )
    X.loc[X.index[: n // 10], "dpd_max"] = np.nan
    X.loc[X.index[n // 10 : n // 8], "segment"] = np.nan
    logit = (
        -2
        + 0.8 * X["late_90d"]
        + 0.03 * X["dpd_max"].fillna(40)
        + 0.0005 * X["amount"]
        + (X["segment"] == "construction") * 0.7
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _booster(zero_as_missing: bool) -> lgb.Booster:
    X, y = _frame(800, 3)
    params = {
        "objective": "binary",
        "num_leaves": 9,
        "min_data_in_leaf": 10,
        "verbose": -1,
        "seed": 1,
        "num_threads": 1,
        "zero_as_missing": zero_as_missing,
    }
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=25)


def _hard_rows(booster: lgb.Booster) -> pd.DataFrame:
    """Rows on and just above every numeric threshold, zeros of both signs, tiny values, NaN, and an
    unseen and a missing category."""
    X, _ = _frame(300, 11)
    thresholds: dict[str, list[float]] = {}
    names = booster.feature_name()

    def walk(node: dict) -> None:
        if "split_feature" in node:
            if node["decision_type"] == "<=":
                thresholds.setdefault(names[node["split_feature"]], []).append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    rows = [X]
    for col, values in thresholds.items():
        for v in values[:20]:
            for x in (v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)):
                row = X.iloc[[len(rows) % len(X)]].copy()
                row[col] = x
                rows.append(row)
    for x in (0.0, -0.0, 1e-36, -1e-36, np.nan):
        row = X.iloc[[0]].copy()
        row[["late_90d", "dpd_max", "amount"]] = x
        rows.append(row)
    out = pd.concat(rows, ignore_index=True)
    unseen = out["segment"].cat.add_categories(["mining"])
    unseen.iloc[:5] = "mining"
    out["segment"] = unseen.cat.remove_categories(["mining"])  # unseen at training -> missing
    return out


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_pattern_treeshap_equals_lightgbm_pred_contrib(zero_as_missing: bool) -> None:
    booster = _booster(zero_as_missing)
    X = _hard_rows(booster)
    expected = booster.predict(X, pred_contrib=True)
    got = pred_contrib(booster, to_matrix(booster, X))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # contributions plus base value still add up to the raw score
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(X, raw_score=True), rtol=0, atol=1e-9)


def test_contributions_and_reasons_are_the_same_on_either_path() -> None:
    booster = _booster(False)
    X = _hard_rows(booster)
    fast = contributions(booster, X, pattern_rows=1)
    slow = contributions(booster, X, pattern_rows=10**9)
    np.testing.assert_allclose(fast.values.to_numpy(), slow.values.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.expected_value, slow.expected_value, rtol=0, atol=1e-9)
    assert fast.values.index.equals(X.index) and list(fast.values.columns) == list(X.columns)
    centre = X.median(numeric_only=True)
    a = reason_codes(fast, X, CATALOG, 3, centre=centre)
    b = reason_codes(slow, X, CATALOG, 3, centre=centre)
    pd.testing.assert_frame_equal(a.drop(columns="contribution"), b.drop(columns="contribution"))
    np.testing.assert_allclose(a["contribution"], b["contribution"], rtol=0, atol=1e-9)
    # and the shap package's TreeExplainer agrees as closely as with LightGBM's own path
    sample = X.iloc[:60]
    explained = shap.TreeExplainer(booster)(sample)
    np.testing.assert_allclose(fast.values.iloc[:60].to_numpy(), explained.values, atol=1e-6)


def test_lightgbm_runs_once_per_pattern_not_per_row() -> None:
    booster = _booster(False)
    X = pd.concat([_frame(50, 5)[0]] * 40, ignore_index=True)  # 2,000 rows, 50 distinct
    seen: list[int] = []
    predict = booster.predict

    def counting(data, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(len(data))
        return predict(data, *args, **kwargs)

    booster.predict = counting  # type: ignore[method-assign]
    got = pred_contrib(booster, to_matrix(booster, X))
    del booster.predict
    assert len(seen) == booster.num_trees() and max(seen) <= 50
    np.testing.assert_allclose(got, booster.predict(X, pred_contrib=True), rtol=0, atol=1e-9)


def test_empty_matrix() -> None:
    booster = _booster(False)
    X = _frame(10, 1)[0].iloc[:0]
    assert pred_contrib(booster, np.zeros((0, X.shape[1]))).shape == (0, X.shape[1] + 1)


def test_group_rows_by_hand() -> None:
    """Two features of 3 and 2 own codes (key = 2 x first + second): rows with codes (0,1) (2,0)
    (0,1) (1,1) (2,0) (0,0) have keys 1 4 1 3 4 0: groups 0 1 0 2 1 3 in order of first row,
    first rows 0 1 3 5, and the table is left empty for the next tree."""
    from models.treeshap_kernels import group_rows, hash_table

    codes = np.array([[7, 7, 7, 7, 7, 7], [0, 2, 0, 1, 2, 0], [1, 0, 1, 1, 0, 0]], dtype=np.int32)
    rows = np.array([1, 2], dtype=np.int64)  # matrix rows of the tree's two features
    luts = np.array([0, 1, 2, 0, 1], dtype=np.int64)  # global code -> own code, per feature
    offsets = np.array([0, 3, 5], dtype=np.int64)
    mult = np.array([2, 1], dtype=np.int64)
    keys, groups, slots = hash_table(6)
    group, first = np.empty(6, dtype=np.int64), np.empty(6, dtype=np.int64)
    assert group_rows(codes, rows, luts, offsets, mult, keys, groups, slots, group, first) == 4
    assert group.tolist() == [0, 1, 0, 2, 1, 3] and first[:4].tolist() == [0, 1, 3, 5]
    assert (groups == -1).all()


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_compiled_grouping_gives_the_numpy_bytes(zero_as_missing: bool, monkeypatch) -> None:  # noqa: ANN001
    """The compiled loops (models.treeshap_kernels) give pred_contrib's numpy path byte for byte."""
    import models.treeshap

    booster = _booster(zero_as_missing)
    mat = to_matrix(booster, _hard_rows(booster))
    compiled = pred_contrib(booster, mat)
    monkeypatch.setattr(models.treeshap, "_compiled", lambda: None)
    assert compiled.tobytes() == pred_contrib(booster, mat).tobytes()
