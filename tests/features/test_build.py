"""Hand-computed feature values on tiny ledgers, one test per family plus edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.catalog import CATALOG
from tests.features.ledgers import inv, pay, portfolio

T = pd.Timestamp("2024-03-31")


def row(frame: pd.DataFrame, debtor: str, as_of: pd.Timestamp = T) -> pd.Series:
    sel = frame[(frame["debtor_id"] == debtor) & (frame["as_of"] == as_of)]
    assert len(sel) == 1, f"expected one row for {debtor} at {as_of}"
    return sel.iloc[0]


@pytest.fixture(scope="module")
def two_debtors() -> pd.DataFrame:
    # a: i1 100 due 01-31; i2 200 due 02-29 (leap day, disputed). p2 50 -> i2 on 03-01;
    #    p1 150 unallocated on 03-10 -> oldest first: 100 settles i1 (39 days late), 50 to i2.
    # b: p3 10 unallocated on 01-10, before its only invoice i3 50 (issued 01-15, due 02-14).
    p = portfolio(
        [
            inv("i1", "a", "2024-01-01", "2024-01-31", 100.0),
            inv("i2", "a", "2024-02-01", "2024-02-29", 200.0, disputed=True),
            inv("i3", "b", "2024-01-15", "2024-02-14", 50.0),
        ],
        [
            pay("p1", "a", "2024-03-10", 150.0),
            pay("p2", "a", "2024-03-01", 50.0, "i2"),
            pay("p3", "b", "2024-01-10", 10.0),
        ],
    )
    return build_features(p, [T])


def test_exposure_and_delinquency_by_hand(two_debtors: pd.DataFrame) -> None:
    a = row(two_debtors, "a")
    assert a["open_balance"] == 100.0  # i2: 200 - 50 - 50
    assert a["overdue_amount_31_60"] == 100.0  # 03-31 - 02-29 = 31 days
    assert a["overdue_amount_1_30"] == 0.0
    assert a["dpd_current_max"] == 31.0
    assert a["dpd_max_90d"] == 38.0  # i1 last open on 03-09: 38 days after 01-31
    assert a["late30_count_90d"] == 1.0 and a["late60_count_365d"] == 0.0
    assert a["open_disputed_amount"] == 100.0 and a["dispute_rate_365d"] == 0.5
    b = row(two_debtors, "b")
    assert b["open_balance"] == 40.0
    assert b["dpd_current_max"] == 46.0  # 03-31 - 02-14


def test_timing_and_behaviour_by_hand(two_debtors: pd.DataFrame) -> None:
    a = row(two_debtors, "a")
    # pieces: 50 on i2 at +1 day, 100 on i1 at +39, 50 on i2 at +10 (03-10 - 02-29)
    assert a["days_late_mean_90d"] == pytest.approx((50 * 1 + 100 * 39 + 50 * 10) / 200)
    assert a["days_late_p90_365d"] == 39.0
    assert a["unallocated_share_365d"] == pytest.approx(0.75)
    assert a["partial_payment_share_365d"] == 0.5  # i1 settled, i2 partly paid
    assert a["days_since_last_payment"] == 21.0
    b = row(two_debtors, "b")
    assert b["days_late_mean_365d"] == -35.0  # paid 01-10, due 02-14
    assert b["tenure_days"] == 76.0  # 01-15 .. 03-31


def test_every_catalog_feature_is_a_float_column(two_debtors: pd.DataFrame) -> None:
    numeric = [c for c, info in CATALOG.items() if info.dtype == "float64" and info.family != "statements"]
    assert len(numeric) >= 40
    for col in numeric:
        assert two_debtors[col].dtype == np.float64, col
    assert isinstance(two_debtors["segment"].dtype, pd.CategoricalDtype)


def test_no_invoices_yet_debtor_onboarded() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-04-10", "2024-05-10", 100.0)],
        [],
        debtors=[
            {
                "debtor_id": "a",
                "segment": "retail",
                "country": "NL",
                "credit_limit": 1000.0,
                "onboarded_on": pd.Timestamp("2024-03-01"),
            },
            {
                "debtor_id": "z",
                "segment": "bulk",
                "country": "DE",
                "credit_limit": 0.0,
                "onboarded_on": pd.Timestamp("2024-06-01"),
            },
        ],
    )
    f = build_features(p, [T])
    assert list(f["debtor_id"]) == ["a"]  # z is onboarded after T; a has no invoice yet
    a = row(f, "a")
    assert a["open_balance"] == 0.0 and a["dpd_current_max"] == 0.0 and a["overdue_share"] == 0.0
    assert a["utilisation"] == 0.0 and a["credit_limit"] == 1000.0
    assert np.isnan(a["days_since_last_payment"]) and np.isnan(a["days_since_last_invoice"])
    assert np.isnan(a["days_late_mean_365d"]) and np.isnan(a["dispute_rate_365d"])
    assert a["tenure_days"] == 30.0  # onboarded 03-01, leap year: 30 days to 03-31
    assert a["segment"] == "retail" and a["country"] == "NL"
    assert list(f["segment"].cat.categories) == ["bulk", "retail"]


def test_everything_paid_on_time() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-01-01", "2024-01-31", 100.0), inv("i2", "a", "2024-02-01", "2024-03-02", 60.0)],
        [pay("p1", "a", "2024-01-31", 100.0, "i1"), pay("p2", "a", "2024-02-20", 60.0)],
    )
    a = row(build_features(p, [T]), "a")
    assert a["open_balance"] == 0.0 and a["overdue_amount"] == 0.0 and a["open_invoice_count"] == 0.0
    assert a["dpd_max_365d"] == 0.0  # i1 paid on its due date: never past due
    assert a["days_late_mean_365d"] == pytest.approx((100 * 0 + 60 * -11) / 160)
    assert a["partial_payment_share_365d"] == 0.0
    assert a["paid_to_invoiced_365d"] == 1.0 and a["credit_on_account"] == 0.0
    assert a["paid_to_invoiced_90d"] == pytest.approx(160 / 60)  # i1 (01-01) is outside (01-01, 03-31]
    assert a["late30_count_365d"] == 0.0


def test_partial_payments_and_overpayment() -> None:
    p = portfolio(
        [
            inv("i1", "a", "2024-01-01", "2024-01-31", 100.0),
            inv("i2", "a", "2024-01-05", "2024-02-04", 100.0),
        ],
        [
            pay("p1", "a", "2024-02-10", 30.0, "i2"),
            pay("p2", "a", "2024-02-15", 20.0),  # unallocated -> oldest open: i1
            pay("p3", "a", "2024-03-20", 200.0),  # i1 rest 80, i2 rest 70, 50 left on account
        ],
    )
    f = build_features(p, [pd.Timestamp("2024-02-29"), T])
    feb = row(f, "a", pd.Timestamp("2024-02-29"))
    assert feb["open_balance"] == 150.0  # 200 - 30 - 20
    assert feb["overdue_amount_1_30"] == 150.0  # i1 29 days, i2 25 days past due
    assert feb["partial_payment_share_365d"] == 1.0
    mar = row(f, "a")
    assert mar["open_balance"] == 0.0 and mar["credit_on_account"] == 50.0
    assert mar["dpd_max_90d"] == 48.0  # i1 last open on 03-19: 29 + 19 days after 01-31
    assert mar["late30_count_90d"] == 2.0 and mar["late60_count_90d"] == 0.0
    assert mar["payment_amount_90d"] == 250.0


def test_invoice_due_on_the_as_of_date_is_not_overdue() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-02-29", "2024-03-31", 80.0), inv("i2", "a", "2024-02-01", "2024-03-30", 20.0)]
    )
    a = row(build_features(p, [T]), "a")
    assert a["open_balance"] == 100.0
    assert a["overdue_amount"] == 20.0 and a["overdue_amount_1_30"] == 20.0
    assert a["dpd_current_max"] == 1.0 and a["overdue_invoice_count"] == 1.0
    assert a["overdue_share"] == pytest.approx(0.2)


def test_leap_day_windows_and_buckets() -> None:
    # due 2023-12-01: on 2024-03-01 it is 91 days past due (29 February counts)
    p = portfolio(
        [inv("i1", "a", "2023-11-01", "2023-12-01", 10.0), inv("i2", "a", "2023-12-03", "2024-01-01", 5.0)]
    )
    a = row(build_features(p, [pd.Timestamp("2024-03-01")]), "a", pd.Timestamp("2024-03-01"))
    assert a["dpd_current_max"] == 91.0
    assert (
        a["overdue_amount_90p"] == 10.0
        and a["overdue_amount_31_60"] == 5.0  # i2: 31 (Jan) + 29 (Feb) = 60 days
        and a["overdue_amount_61_90"] == 0.0
    )
    # the 90-day window (2023-12-02, 2024-03-01] holds i2 (issued 12-03) but not i1
    assert a["invoice_count_90d"] == 1.0 and a["invoice_count_365d"] == 2.0
    assert a["last_invoice_amount_ratio"] == pytest.approx(5.0 / 7.5)


def test_several_as_of_dates_stack_and_reorder() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-01-01", "2024-01-31", 100.0), inv("i2", "b", "2024-03-01", "2024-03-31", 1.0)]
    )
    f = build_features(p, [T, pd.Timestamp("2024-01-31")])
    assert list(zip(f["as_of"].dt.strftime("%m-%d"), f["debtor_id"], strict=True)) == [
        ("01-31", "a"),
        ("03-31", "a"),
        ("03-31", "b"),
    ]
    assert f["as_of"].dtype == "datetime64[ns]" and f["debtor_id"].dtype == "string"


def test_inputs_are_not_mutated() -> None:
    p = portfolio([inv("i1", "a", "2024-01-01", "2024-01-31", 100.0)], [pay("p1", "a", "2024-02-01", 10.0)])
    copies = {k: v.copy() for k, v in p.present().items()}
    build_features(p, [T])
    for k, v in p.present().items():
        pd.testing.assert_frame_equal(v, copies[k])


def test_unallocated_cash_ties_broken_by_invoice_id_not_row_order() -> None:
    rows = [
        inv("b2", "a", "2024-01-01", "2024-01-31", 100.0),
        inv("a1", "a", "2024-01-01", "2024-01-31", 100.0),
    ]
    for order in (rows, rows[::-1]):
        p = portfolio(
            order + [inv("c3", "a", "2024-02-01", "2024-02-10", 30.0, disputed=True)],
            [pay("p1", "a", "2024-02-05", 150.0)],
        )
        a = row(build_features(p, [T]), "a")
        # a1 settled, 50 of b2 paid, disputed c3 untouched
        assert a["open_balance"] == 80.0 and a["open_disputed_amount"] == 30.0
        assert a["largest_open_share"] == pytest.approx(50 / 80)


def test_payment_naming_an_invoice_not_yet_issued_is_cash_on_account() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-03-15", "2024-04-15", 100.0)],
        [pay("p1", "a", "2024-03-01", 100.0, "i1")],
        debtors=[{"debtor_id": "a", "onboarded_on": pd.Timestamp("2024-02-01")}],
    )
    f = build_features(p, [pd.Timestamp("2024-03-10"), T])
    early = row(f, "a", pd.Timestamp("2024-03-10"))
    assert early["credit_on_account"] == 100.0 and early["unallocated_share_365d"] == 1.0
    late = row(f, "a")
    assert late["open_balance"] == 0.0 and late["credit_on_account"] == 0.0
    assert late["unallocated_share_365d"] == 0.0 and late["days_late_mean_90d"] == -45.0
