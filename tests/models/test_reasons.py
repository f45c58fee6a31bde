from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from models.reasons import contributions, reason_codes, reasons_wide


@dataclass(frozen=True)
class Info:
    reason: str
    description: str


CATALOG = {
    "late_90d": Info("{value:.0f} invoices paid more than 30 days late in the last 90 days", "late invoices"),
    "dpd_max": Info("oldest open invoice {value:.0f} days past due", "days past due"),
    "segment": Info("segment {value}", "segment"),
}


@pytest.fixture(scope="module")
def fitted() -> tuple[lgb.Booster, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 600
    X = pd.DataFrame(
        {
            "late_90d": rng.poisson(1.5, n).astype("float64"),
            "dpd_max": rng.exponential(20, n),
            "noise": rng.normal(size=n),
            "segment": pd.Categorical(rng.choice(["retail", "construction"], n)),
        }
    )
    X.loc[X.index[:40], "dpd_max"] = np.nan
    logit = -2 + 0.8 * X["late_90d"] + 0.03 * X["dpd_max"].fillna(0) + (X["segment"] == "construction") * 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 10, "verbose": -1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=30)
    return booster, X


def test_contributions_plus_expected_value_equal_raw_score(fitted) -> None:
    booster, X = fitted
    c = contributions(booster, X)
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(c.values.sum(axis=1).to_numpy() + c.expected_value, raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.raw_score, raw, atol=1e-9)
    assert list(c.values.columns) == booster.feature_name()
    assert c.values.index.equals(X.index)


def test_contributions_match_shap_tree_explainer(fitted) -> None:
    booster, X = fitted
    sample = X.iloc[:50]
    c = contributions(booster, sample)
    explained = shap.TreeExplainer(booster)(sample)
    np.testing.assert_allclose(c.values.to_numpy(), explained.values, atol=1e-6)


def test_wrong_columns_are_named(fitted) -> None:
    booster, X = fitted
    with pytest.raises(ValueError, match=r"missing \['noise'\]"):
        contributions(booster, X.drop(columns="noise"))


def test_reasons_are_top_positive_contributions_in_order(fitted) -> None:
    booster, X = fitted
    c = contributions(booster, X)
    long = reason_codes(c, X, CATALOG, top_n=3)
    assert (long["contribution"] > 0).all()
    assert long.groupby("row")["rank"].max().le(3).all()
    # per row, the ranks are ordered by contribution and equal the row's largest positive values
    for row in [0, 5, 17]:
        mine = long[long["row"] == row]
        expected = c.values.loc[row].sort_values(ascending=False)
        expected = expected[expected > 0].head(3)
        assert mine["feature"].tolist() == expected.index.tolist()
        np.testing.assert_allclose(mine["contribution"].to_numpy(), expected.to_numpy())
        assert mine["rank"].tolist() == list(range(1, len(expected) + 1))


def test_sentences_are_built_from_feature_values() -> None:
    X = pd.DataFrame(
        {"late_90d": [4.0, 0.0], "dpd_max": [np.nan, 45.2], "segment": pd.Categorical(["retail", "retail"])},
        index=["D1", "D2"],
    )
    from models.reasons import Contributions

    contrib = Contributions(
        pd.DataFrame(
            {"late_90d": [0.9, -0.2], "dpd_max": [0.3, 0.5], "segment": [-0.1, 0.05]}, index=["D1", "D2"]
        ),
        np.array([-2.0, -2.0]),
    )
    long = reason_codes(contrib, X, CATALOG, top_n=5)
    got = {(r.row, r.rank): r.reason for r in long.itertuples()}
    assert got == {
        ("D1", 1): "4 invoices paid more than 30 days late in the last 90 days",
        ("D1", 2): "days past due: no history available",
        ("D2", 1): "oldest open invoice 45 days past due",
        ("D2", 2): "segment retail",
    }
    wide = reasons_wide(long, top_n=3)
    assert wide.loc["D1", "reasons"] == (
        "4 invoices paid more than 30 days late in the last 90 days; days past due: no history available"
    )
    assert wide.loc["D2", "reason_3"] == ""


def test_unknown_feature_and_bad_template_fall_back_to_description() -> None:
    X = pd.DataFrame({"mystery": [3.0], "segment": pd.Categorical(["x"])}, index=[0])
    from models.reasons import Contributions

    cat = {"segment": Info("{value:.1f} share", "segment")}  # float format on a string
    contrib = Contributions(pd.DataFrame({"mystery": [0.2], "segment": [0.1]}), np.array([0.0]))
    long = reason_codes(contrib, X, cat, top_n=3)
    assert long["reason"].tolist() == ["mystery: 3.0", "segment: x"]


def test_empty_frame() -> None:
    from models.reasons import Contributions

    X = pd.DataFrame({"a": pd.Series(dtype="float64")})
    long = reason_codes(Contributions(X.copy(), np.zeros(0)), X, {}, top_n=3)
    assert long.empty and list(long.columns) == ["row", "rank", "feature", "value", "contribution", "reason"]
