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
