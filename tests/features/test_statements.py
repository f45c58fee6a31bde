"""Statement features by hand, catalog completeness, and build_features on a statement portfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.catalog import CATALOG, FUNCTIONS, describe
from features.statements import build_statement_features
from features.tables import Portfolio
from models.reasons import render_reason
from tests.features.ledgers import frame


def stmt(
    debtor: str, period_end: str, balance: float, due: float, paid: float, dpd: int, limit: float = 1000.0
) -> dict:
    return {
        "debtor_id": debtor,
        "period_end": pd.Timestamp(period_end),
        "balance": balance,
        "amount_due": due,
        "amount_paid": paid,
        "days_past_due": dpd,
        "credit_limit": limit,
    }


@pytest.fixture(scope="module")
def statements() -> pd.DataFrame:
    return frame(
        "statements",
        [
            # x: paid in full, then revolving, then late twice (leap February)
            stmt("x", "2024-01-31", 200.0, np.nan, 0.0, 0),
            stmt("x", "2024-02-29", 300.0, 200.0, 200.0, 0),
            stmt("x", "2024-03-31", 500.0, 300.0, 50.0, 0),
            stmt("x", "2024-04-30", 600.0, 500.0, 0.0, 30),
            stmt("x", "2024-05-31", 700.0, 600.0, 0.0, 60),
            # y: inactive card
            stmt("y", "2024-04-30", 0.0, 0.0, 0.0, 0, 500.0),
            stmt("y", "2024-05-31", 0.0, 0.0, 0.0, 0, 500.0),
            # z: first statement after the as-of date
            stmt("z", "2024-06-30", 10.0, 0.0, 0.0, 0),
        ],
    )


def test_statement_features_by_hand(statements: pd.DataFrame) -> None:
    f = build_statement_features(statements, [pd.Timestamp("2024-05-31")])
    assert list(f["debtor_id"]) == ["x", "y"]
    x = f.iloc[0]
    assert x["st_dpd_last"] == 60.0 and x["st_dpd_prev"] == 30.0
    assert x["st_dpd_max_3m"] == 60.0 and x["st_months_delinquent_3m"] == 2.0
    assert x["st_months_delinquent_6m"] == 2.0 and x["st_dpd_mean_6m"] == pytest.approx(90 / 5)
    assert x["st_status_last"] == 2.0 and x["st_status_prev"] == 1.0
    assert x["st_full_payment_months_6m"] == 1.0  # February paid the 200 due
    assert x["st_revolving_months_6m"] == 2.0  # January (nothing due yet, carries a balance) and March
    assert x["st_zero_payment_months_6m"] == 2.0  # April and May
    assert x["st_paid_to_due_3m"] == pytest.approx(50 / 1400)  # March..May
    assert x["st_paid_to_due_last"] == 0.0
    assert x["st_balance_change_1m"] == 100.0
    assert x["st_balance_trend_6m"] == pytest.approx(130.0)  # slope of 200, 300, 500, 600, 700 per month
    assert x["st_utilisation_last"] == pytest.approx(0.7) and x["st_utilisation_max_6m"] == pytest.approx(0.7)
    assert x["st_months_observed"] == 5.0
    y = f.iloc[1]
    assert y["st_status_last"] == -2.0 and y["st_inactive_months_6m"] == 2.0
    assert np.isnan(y["st_paid_to_due_6m"]) and y["st_utilisation_last"] == 0.0


def test_statement_window_counts_calendar_months(statements: pd.DataFrame) -> None:
    f = build_statement_features(statements, [pd.Timestamp("2024-04-15")])  # March is 1 month back
    x = f[f["debtor_id"] == "x"].iloc[0]
    assert x["st_dpd_last"] == 0.0 and x["st_months_observed"] == 3.0
    assert list(f["debtor_id"]) == ["x"]


def test_build_features_on_statement_portfolio(statements: pd.DataFrame) -> None:
    debtors = frame("debtors", [{"debtor_id": "x", "segment": "card", "country": "TW"}])
    f = build_features(Portfolio(statements=statements, debtors=debtors), [pd.Timestamp("2024-05-31")])
    assert list(f["debtor_id"]) == ["x", "y"]
    assert f.loc[0, "segment"] == "card" and pd.isna(f.loc[1, "segment"])
    assert "st_dpd_last" in f and "open_balance" not in f


def test_statement_portfolio_reads_the_segment_valid_at_each_month_end(statements: pd.DataFrame) -> None:
    """debtor_history (features.master): x was "card" until 2024-05-01, "loan" from then; y never stated."""
    debtors = frame("debtors", [{"debtor_id": "x", "segment": "loan", "country": "TW"}])
    history = frame(
        "debtor_history",
        [
            {"debtor_id": "x", "valid_from": "2023-01-01", "segment": "card"},
            {"debtor_id": "x", "valid_from": "2024-05-01", "segment": "loan"},
        ],
    )
    f = build_features(
        Portfolio(statements=statements, debtors=debtors, debtor_history=history),
        [pd.Timestamp("2024-04-30"), pd.Timestamp("2024-05-31")],
    )
    got = {(r.debtor_id, str(r.as_of.date())): r.segment for r in f.itertuples()}
    assert got[("x", "2024-04-30")] == "card" and got[("x", "2024-05-31")] == "loan"
    assert pd.isna(got[("y", "2024-05-31")])


def test_catalog_entries_are_complete_and_formattable() -> None:
    assert len([n for n, i in CATALOG.items() if i.family != "statements" and i.dtype == "float64"]) >= 40
    families = {i.family for i in CATALOG.values()}
    assert families >= {
        "exposure",
        "delinquency",
        "timing",
        "behaviour",
        "invoicing",
        "disputes",
        "tenure",
        "statements",
    }
    for name, info in CATALOG.items():
        assert info.direction in (-1, 0, 1)
        assert info.description and info.window and info.unit, name
        assert render_reason(info, name, 12.5, "EUR"), name
        if info.dtype == "float64":
            assert FUNCTIONS[name].__name__ == name
    exposure = ["open_balance", "overdue_amount", "overdue_amount_1_30", "overdue_amount_31_60"]
    exposure += ["overdue_amount_61_90", "overdue_amount_90p", "open_disputed_amount", "dpd_current_max"]
    assert set(exposure) <= set(CATALOG)
    assert render_reason(CATALOG["late30_count_90d"], "late30_count_90d", 3.0) == (
        "3 invoices paid more than 30 days late in the last 90 days"
    )
    assert describe(["open_balance", "mystery"])["mystery"]["family"] == "unknown"


@pytest.mark.parametrize("seed", range(10))
def test_statement_features_ignore_statements_after_as_of(seed: int) -> None:
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2023-01-31", periods=18, freq="ME")
    rows = [
        stmt(
            f"a{k}", str(p.date()), *rng.integers(-50, 900, 3).astype(float), int(rng.choice([0, 30, 60, 90]))
        )
        for k in range(4)
        for p in periods
        if rng.random() < 0.8
    ]
    full = frame("statements", rows)
    T = periods[int(rng.integers(3, 15))] - pd.Timedelta(days=int(rng.integers(0, 20)))
    late = (full["period_end"] > T).to_numpy()
    scrambled = full.copy()
    scrambled.loc[late, ["balance", "amount_due", "amount_paid"]] = rng.normal(0, 1e4, (int(late.sum()), 3))
    scrambled.loc[late, "days_past_due"] = 999
    expected = build_statement_features(full[~late], [T])
    pd.testing.assert_frame_equal(build_statement_features(scrambled, [T]), expected)
    pd.testing.assert_frame_equal(
        build_statement_features(scrambled.sample(frac=1.0, random_state=seed), [T]), expected
    )


def test_behavioural_statement_features_by_hand(statements: pd.DataFrame) -> None:
    f = build_statement_features(statements, [pd.Timestamp("2024-05-31")])
    x, y = f.iloc[0], f.iloc[1]
    # x: balances 200, 300, 500, 600, 700 on a 1000 limit; paid 0, 200, 50, 0, 0 of due -, 200, 300, 500, 600
    assert x["st_utilisation_trend_6m"] == pytest.approx(0.13)
    assert x["st_balance_growth_6m"] == pytest.approx((700 - 200) / 1000)
    assert x["st_payment_ratio_mean_3m"] == pytest.approx((50 / 300 + 0 + 0) / 3)
    assert x["st_payment_ratio_mean_6m"] == pytest.approx((1 + 50 / 300 + 0 + 0) / 4)
    assert x["st_payment_ratio_min_6m"] == 0.0
    assert x["st_underpaid_months_6m"] == 3.0  # March, April, May
    assert x["st_paid_to_billed_6m"] == pytest.approx(250 / 2300)
    assert x["st_months_since_full_payment"] == 3.0  # February
    assert x["st_delinquency_streak_last"] == 2.0 and x["st_delinquency_streak_max_6m"] == 2.0
    assert x["st_status_max_6m"] == 2.0 and x["st_status_mean_6m"] == pytest.approx((0 - 1 + 0 + 1 + 2) / 5)
    assert x["st_status_change_1m"] == 1.0
    # new charges: Feb 300 - (200 - 200) = 300, Mar 250, Apr 100, May 100 (January has no month before)
    assert x["st_no_spending_months_6m"] == 0.0
    assert x["st_spending_to_limit_6m"] == pytest.approx((300 + 250 + 100 + 100) / 4 / 1000)
    # y: inactive card, never billed, never paid in full
    assert np.isnan(y["st_months_since_full_payment"]) and np.isnan(y["st_paid_to_billed_6m"])
    assert np.isnan(y["st_payment_ratio_mean_6m"]) and y["st_underpaid_months_6m"] == 0.0
    assert y["st_no_spending_months_6m"] == 1.0 and y["st_delinquency_streak_max_6m"] == 0.0


def test_delinquency_streaks_break_on_a_missing_month_and_a_current_month() -> None:
    rows = [
        stmt("w", "2024-01-31", 100.0, 0.0, 0.0, 30),
        # no February statement: the run restarts in March
        stmt("w", "2024-03-31", 100.0, 100.0, 0.0, 30),
        stmt("w", "2024-04-30", 100.0, 100.0, 0.0, 60),
        stmt("w", "2024-05-31", 100.0, 100.0, 100.0, 0),
        stmt("v", "2024-04-30", 100.0, 100.0, 0.0, 30),
        stmt("v", "2024-05-31", 100.0, 100.0, 0.0, 60),
    ]
    f = build_statement_features(frame("statements", rows), [pd.Timestamp("2024-05-31")]).set_index(
        "debtor_id"
    )
    assert (
        f.loc["w", "st_delinquency_streak_last"] == 0.0 and f.loc["w", "st_delinquency_streak_max_6m"] == 2.0
    )
    assert (
        f.loc["v", "st_delinquency_streak_last"] == 2.0 and f.loc["v", "st_delinquency_streak_max_6m"] == 2.0
    )
    assert f.loc["w", "st_months_since_full_payment"] == 0.0  # May paid the 100 due
