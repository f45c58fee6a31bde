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
    # no direction in this catalog: every positive contribution counts, one group per feature
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


@dataclass(frozen=True)
class Full:
    reason: str
    missing: str = ""
    direction: int = 0
    group: str = ""


def _contrib(frame: dict[str, list[float]], index: list[str]):
    from models.reasons import Contributions

    values = pd.DataFrame(frame, index=index)
    return Contributions(values, np.full(len(index), -2.0))


def test_sentences_are_built_from_feature_values() -> None:
    X = pd.DataFrame(
        {"late_90d": [4.0, 0.0], "dpd_max": [np.nan, 45.2], "segment": pd.Categorical(["retail", "retail"])},
        index=["D1", "D2"],
    )
    cat = {
        "late_90d": Full("{value:.0f} invoices paid more than 30 days late in the last 90 days"),
        "dpd_max": Full("oldest open invoice {value:.0f} days past due", "nothing overdue"),
        "segment": Full("segment {value}"),
    }
    contrib = _contrib(
        {"late_90d": [0.9, -0.2], "dpd_max": [0.3, 0.5], "segment": [-0.1, 0.05]}, ["D1", "D2"]
    )
    long = reason_codes(contrib, X, cat, top_n=5)
    got = {(r.row, r.rank): r.reason for r in long.itertuples()}
    assert got == {
        ("D1", 1): "4 invoices paid more than 30 days late in the last 90 days",
        ("D1", 2): "nothing overdue",
        ("D2", 1): "oldest open invoice 45 days past due",
        ("D2", 2): "segment retail",
    }
    wide = reasons_wide(long, top_n=3)
    assert (
        wide.loc["D1", "reasons"]
        == "4 invoices paid more than 30 days late in the last 90 days; nothing overdue"
    )
    assert wide.loc["D2", "reason_3"] == ""


def test_family_gives_one_sentence_worded_by_its_strongest_member() -> None:
    # three windows of one behaviour and one other feature; the family sums its contributions
    cat = {
        "late_90d": Full("{value:.0f} late in 90 days", direction=1, group="late"),
        "late_180d": Full("{value:.0f} late in 180 days", direction=1, group="late"),
        "late_365d": Full("{value:.0f} late in a year", direction=1, group="late"),
        "util": Full("limit used at {value:.0%}", direction=1),
    }
    X = pd.DataFrame(
        {"late_90d": [3.0, 0.0], "late_180d": [5.0, 0.0], "late_365d": [9.0, 0.0], "util": [0.95, 0.5]},
        index=["A", "B"],
    )
    centre = pd.Series({"late_90d": 0.0, "late_180d": 1.0, "late_365d": 2.0, "util": 0.5})
    contrib = _contrib(
        {"late_90d": [0.2, 0.1], "late_180d": [0.5, 0.1], "late_365d": [0.3, 0.1], "util": [0.6, 0.1]},
        ["A", "B"],
    )
    long = reason_codes(contrib, X, cat, top_n=4, centre=centre)
    a = long[long["row"] == "A"]
    assert a["group"].tolist() == ["late", "util"]  # 0.2 + 0.5 + 0.3 = 1.0 > 0.6
    assert a["reason"].tolist() == ["5 late in 180 days", "limit used at 95%"]
    np.testing.assert_allclose(a["contribution"], [1.0, 0.6])
    # B: every value is at or below the typical one, so nothing raises its risk in a way that makes sense
    assert long[long["row"] == "B"].empty


def test_direction_sanity_drops_reasons_that_point_the_wrong_way() -> None:
    cat = {
        "paid_to_invoiced": Full("paid only {value:.0%} of the amount invoiced", "nothing invoiced", -1),
        "dpd": Full("{value:.0f} days past due", direction=1),
        "terms": Full("payment terms average {value:.0f} days", direction=0),
    }
    X = pd.DataFrame(
        {"paid_to_invoiced": [1.99, 0.40, np.nan], "dpd": [0.0, 75.0, 10.0], "terms": [60.0, 30.0, 30.0]},
        index=["over", "under", "none"],
    )
    centre = pd.Series({"paid_to_invoiced": 0.95, "dpd": 5.0, "terms": 30.0})
    contrib = _contrib(
        {"paid_to_invoiced": [0.4, 0.4, 0.4], "dpd": [0.3, 0.3, 0.3], "terms": [0.1] * 3}, list(X.index)
    )
    long = reason_codes(contrib, X, cat, top_n=3, centre=centre)
    got = long.groupby("row")["reason"].agg(list).to_dict()
    # paying 199 % of the invoiced amount is not a risk, nor is 0 days past due
    assert got["over"] == ["payment terms average 60 days"]
    assert got["under"] == [
        "paid only 40% of the amount invoiced",
        "75 days past due",
        "payment terms average 30 days",
    ]
    # a missing value keeps its reason, worded by the missing sentence
    assert got["none"] == ["nothing invoiced", "10 days past due", "payment terms average 30 days"]


def test_amounts_carry_the_currency_of_each_debtor() -> None:
    cat = {"overdue": Full("{money} overdue", direction=1)}
    X = pd.DataFrame({"overdue": [12345.6, 12345.6, 800.0]}, index=["A", "B", "C"])
    contrib = _contrib({"overdue": [0.5, 0.5, 0.5]}, ["A", "B", "C"])
    currency = pd.Series({"A": "EUR", "B": "CHF"})
    long = reason_codes(contrib, X, cat, centre=pd.Series({"overdue": 0.0}), currency=currency)
    assert long["reason"].tolist() == ["EUR 12,346 overdue", "CHF 12,346 overdue", "800 overdue"]
    one = reason_codes(contrib, X, cat, centre=pd.Series({"overdue": 0.0}), currency="USD")
    assert one["reason"].tolist() == ["USD 12,346 overdue", "USD 12,346 overdue", "USD 800 overdue"]


def test_unknown_feature_and_bad_template_never_show_a_description() -> None:
    X = pd.DataFrame({"mystery_score": [3.0, np.nan], "segment": pd.Categorical(["x", "x"])}, index=[0, 1])
    cat = {"segment": Info("{value:.1f} share", "Debtor segment or industry (static attribute).")}
    contrib = _contrib({"mystery_score": [0.2, 0.2], "segment": [0.1, 0.1]}, [0, 1])
    long = reason_codes(contrib, X, cat, top_n=3)
    assert long["reason"].tolist() == [
        "mystery score: 3.0",
        "segment: x",
        "mystery score: not available",
        "segment: x",
    ]


def test_every_catalog_feature_has_a_plain_sentence_for_any_value() -> None:
    import features.build  # noqa: F401 - fills the catalog
    from features.catalog import CATALOG as FULL
    from features.catalog import GROUPS
    from models.reasons import render_reason

    members = [m for g in GROUPS.values() for m in g.members]
    assert len(members) == len(set(members)), "a feature sits in two reason groups"
    for name, info in FULL.items():
        assert info.group in GROUPS and name in GROUPS[info.group].members, f"{name} has no reason group"
        assert info.missing, f"{name} has no sentence for a missing value"
        if info.unit.startswith("currency"):
            assert "{money}" in info.reason, f"{name}: amounts must carry their currency ({{money}})"
        samples: list[object] = ["retail"] if info.dtype == "category" else [0.0, 1.0, 2.5, -3.0, 123456.7]
        for value in [*samples, np.nan, None]:
            text = render_reason(info, name, value, "EUR")
            assert text and info.description not in text, (name, value, text)
            raw = name if "_" in name else "{"  # the column name itself must not leak either
            assert not any(bad in text for bad in ("{", "}", "nan", "None", "<NA>", raw)), (name, value, text)
    # a static attribute says why it is a reason (s11-small: "country FR" was the commonest first
    # reason on a 3,000-debtor book's watchlist and said nothing)
    assert (
        render_reason(FULL["country"], "country", "FR", "EUR")
        == "country FR: the model gives debtors there a higher PD"
    )
    assert render_reason(FULL["segment"], "segment", "retail", "EUR") == (
        "segment retail: the model gives this segment a higher PD"
    )
    # "only" at exactly 0 reads as nothing (s11-small: "only EUR 0 paid in the last 90 days")
    zero = {n: render_reason(FULL[n], n, 0.0, "EUR") for n in FULL}
    assert zero["payment_amount_90d"] == "nothing paid in the last 90 days"
    assert zero["payment_count_365d"] == "no payment in the last year"
    assert zero["paid_to_invoiced_90d"] == "paid none of the amount invoiced in the last 90 days"
    assert not [t for t in zero.values() if "only 0" in t or "only EUR 0" in t or "only 0%" in t], zero
    assert render_reason(FULL["payment_amount_90d"], "payment_amount_90d", 12.0, "EUR") == (
        "only EUR 12 paid in the last 90 days"
    )
    # directions are declared: 0 ("either way") only where the risk reading is genuinely two-sided
    either = {n for n, i in FULL.items() if i.direction == 0}
    assert either == {
        "segment",
        "country",
        "credit_limit",
        "unallocated_share_365d",
        "largest_open_share",
        "invoice_count_90d",
        "invoice_count_365d",
        "invoice_amount_90d",
        "invoice_amount_365d",
        "invoice_amount_trend_90_365",
        "invoice_count_trend_90_365",
        "days_since_last_invoice",
        "payment_terms_mean_365d",
        "st_inactive_months_6m",
        "st_balance_last",
        "st_balance_mean_6m",
        "st_no_spending_months_6m",  # no new charges: a quiet card or a stopped one
        "st_spending_to_limit_6m",
    }


def test_empty_frame() -> None:
    from models.reasons import Contributions

    X = pd.DataFrame({"a": pd.Series(dtype="float64")})
    long = reason_codes(Contributions(X.copy(), np.zeros(0)), X, {}, top_n=3)
    assert long.empty
    assert list(long.columns) == ["row", "rank", "group", "feature", "value", "contribution", "reason"]


def test_contributions_align_columns_by_name(fitted) -> None:
    """Issue 10: a model whose stored feature order differs from the frame's crashed the watchlist.
    Columns are matched by name; each contribution stays with its feature, in the frame's order."""
    booster, X = fitted
    shuffled = X[["segment", "noise", "dpd_max", "late_90d"]]
    c = contributions(booster, shuffled)
    ref = contributions(booster, X)
    assert list(c.values.columns) == list(shuffled.columns)
    pd.testing.assert_frame_equal(c.values[list(X.columns)], ref.values)
    with pytest.raises(ValueError, match="missing"):
        contributions(booster, X.drop(columns="noise"))


@pytest.fixture(scope="module")
def scorecard_fit():
    from models.scorecard import fit_scorecard

    rng = np.random.default_rng(11)
    n = 1500
    X = pd.DataFrame(
        {
            "dpd": rng.exponential(15, n),
            "paid_share": rng.uniform(0.3, 1.3, n),
            "segment": pd.Categorical(rng.choice(["retail", "construction"], n)),
        }
    )
    X.loc[X.index[:60], "paid_share"] = np.nan
    logit = -3 + 0.06 * X["dpd"] - 1.5 * X["paid_share"].fillna(0.2) + (X["segment"] == "construction") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return fit_scorecard(X, y, ["segment"]), X


def test_scorecard_points_are_exact_contributions_around_the_training_average(scorecard_fit) -> None:
    from models.reasons import scorecard_contributions
    from models.scorecard import scorecard_predict

    model, X = scorecard_fit
    c = scorecard_contributions(model, X, ["segment"])
    p = scorecard_predict(model, X, ["segment"])
    np.testing.assert_allclose(c.raw_score, np.log(p / (1 - p)), atol=1e-9)
    # relative to the training average: each characteristic's points average 0 over the training rows
    np.testing.assert_allclose(c.values.mean().to_numpy(), 0.0, atol=1e-9)
    assert list(c.values.columns) == list(X.columns) and c.values.index.equals(X.index)
    # a single debtor gives the same points as in the batch
    one = scorecard_contributions(model, X.iloc[[7]], ["segment"])
    np.testing.assert_allclose(one.values.to_numpy(), c.values.iloc[[7]].to_numpy(), atol=1e-12)


def test_scorecard_reason_codes_use_the_plain_sentences(scorecard_fit) -> None:
    from models.reasons import scorecard_contributions

    model, X = scorecard_fit
    cat = {
        "dpd": Full("{value:.0f} days past due", direction=1),
        "paid_share": Full("paid only {value:.0%} of the amount invoiced", "nothing invoiced", -1),
        "segment": Full("segment {value}"),
    }
    debtors = pd.DataFrame(
        {
            "dpd": [90.0, 1.0, 2.0],
            "paid_share": [1.2, 0.35, np.nan],
            "segment": pd.Categorical(
                ["retail", "construction", "retail"], categories=["construction", "retail"]
            ),
        },
        index=["late", "low_payer", "no_invoices"],
    )
    c = scorecard_contributions(model, debtors, ["segment"])
    long = reason_codes(c, debtors, cat, top_n=3, centre=X.median(numeric_only=True))
    got = long.groupby("row")["reason"].agg(list).to_dict()
    # what the nightly calls for a version of kind "scorecard"
    from models.reasons import model_contributions

    same = model_contributions("scorecard", model, debtors, ["segment"])
    pd.testing.assert_frame_equal(same.values, c.values)
    with pytest.raises(ValueError, match="unknown model kind 'glm'"):
        model_contributions("glm", model, debtors)
    assert got["late"] == ["90 days past due"]  # paying 120 % is no reason, whatever its points
    assert got["low_payer"] == ["paid only 35% of the amount invoiced", "segment construction"]
    assert got["no_invoices"][0] == "nothing invoiced"


def test_pd_waterfall_walks_from_the_base_pd_to_the_debtor_pd_in_pd_points() -> None:
    from models.reasons import pd_waterfall, raw_to_pd

    cat = {f: Full("x", group="late") for f in ("late_90d", "late_365d")}
    row = pd.Series({"late_90d": 0.8, "late_365d": 0.4, "util": -0.5, "noise": 0.05, "segment": 0.1})
    # a calibration that is not the logistic: PD read off scored (raw, pd) pairs
    raw = np.linspace(-6, 2, 50)
    cal = 0.5 / (1 + np.exp(-(raw + 1)))
    to_pd = raw_to_pd(raw, cal)
    steps = pd_waterfall(row, -3.0, to_pd, cat, {"late": "Late payments"}, max_steps=3)
    assert steps["label"].tolist() == ["Late payments", "util", "segment", "all other factors"]
    np.testing.assert_allclose(steps["log_odds"], [1.2, -0.5, 0.1, 0.05])
    base_pd, final_pd = float(to_pd(np.array([-3.0]))[0]), float(to_pd(np.array([-3.0 + 0.85]))[0])
    assert steps["pd_before"].iloc[0] == pytest.approx(base_pd)
    assert steps["pd_after"].iloc[-1] == pytest.approx(final_pd)
    assert steps["pd_points"].sum() == pytest.approx(final_pd - base_pd)
    assert (np.sign(steps["pd_points"]) == np.sign(steps["log_odds"])).all()
    # the interpolation reproduces the scored pairs
    np.testing.assert_allclose(to_pd(raw), cal, atol=1e-12)
    # on a flat stretch of the calibration (PD already at its ceiling) a step moves nothing: it
    # joins "all other factors" instead of showing "+0.00 pp"
    flat = raw_to_pd(np.array([-6.0, -2.0, 0.0, 9.0]), np.array([0.01, 0.2, 0.9, 0.9]))
    row = pd.Series({"late_90d": 2.5, "util": 1.0, "segment": 0.2})
    steps = pd_waterfall(row, -2.5, flat, cat, {"late": "Late payments"})
    assert steps["label"].tolist() == ["Late payments", "all other factors"]
    assert steps["pd_after"].iloc[-1] == pytest.approx(0.9)
    np.testing.assert_allclose(steps["log_odds"], [2.5, 1.2])
