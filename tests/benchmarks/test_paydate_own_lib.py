"""Session 30's candidate (issue 13, not shipped): each debtor's level from the model's own recent errors on
it (``benchmarks/paydate_own_lib.py``: ``residual_pits``, ``debtor_levels``, ``own_residual_levels``,
``median_at_level``; moved out of ``models.paydate`` in session 31)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ledger import ledger_state, prepare_ledger
from features.paydate import open_invoices, settlements
from models.paydate import cdf_weeks, fit_hazard, median_days, predict_hazards
from tests.models.test_paydate import FAST, book, cut_at, day, training_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    from paydate_own_lib import debtor_levels, median_at_level, own_residual_levels, residual_pits
finally:
    sys.path.pop(0)


def test_median_at_level_by_hand() -> None:
    """F = 0.4, 0.8 (F_H = 0.8): q 0.5 -> 0.4, the end of week 0, day 7 (the product's median); q 0.75 ->
    0.6, half of week 1: 7 + 3.5 -> day 11; q 0.2 -> 0.16 -> 7 x 0.4 = 2.8 -> day 3; one level per row."""
    F = np.array([[0.4, 0.8], [0.4, 0.8], [0.4, 0.8]])
    assert median_days(F).tolist() == [7.0, 7.0, 7.0]
    assert median_at_level(F).tolist() == [7.0, 7.0, 7.0]
    assert median_at_level(F, 0.5).tolist() == [7.0, 7.0, 7.0]
    assert median_at_level(F, np.array([0.5, 0.75, 0.2])).tolist() == [7.0, 11.0, 3.0]


def test_residual_pits_by_hand() -> None:
    """G = F / F_H = 0.5, 1 (F 0.4, 0.8), linear within a week: G(d) = d / 14 in week 0.

    - paid on day 7, seen 7: (G(6) + G(7)) / 2 = (6/14 + 7/14) / 2 = 13/28;
    - open after 7 days seen: (G(7) + 1) / 2 = 0.75;
    - paid on day 10 but only 7 days seen: not seen yet -> 0.75;
    - paid on day 10, 14 seen: G(9) = 0.5 + 2/14, G(10) = 0.5 + 3/14 -> 19/28;
    - F_H = 0.05 < 0.1 (no median forecast): NaN."""
    F = np.array([[0.4, 0.8]] * 4 + [[0.02, 0.05]])
    got = residual_pits(F, np.array([7.0, np.nan, 10.0, 10.0, 3.0]), np.array([7.0, 7.0, 7.0, 14.0, 14.0]))
    np.testing.assert_allclose(got[:4], [13 / 28, 0.75, 0.75, 19 / 28])
    assert np.isnan(got[4])


def test_debtor_levels_by_hand() -> None:
    """m = (sum + prior / 2) / (count + prior), the level 0.5 + weight (m - 0.5) clipped to [0.2, 0.8]; a
    NaN PIT left out; 0.5 without any.
    prior 2: debtor 0 (0.9 + 0.7 + 1) / 4 = 0.65, debtor 1 (0.1 + 1) / 3 = 0.3667, debtor 2 0.5;
    prior 0: debtor 0 0.8, debtor 1 0.1 -> 0.2 (the clip)."""
    code = np.array([0, 0, 1, 1])
    pits = np.array([0.9, 0.7, 0.1, np.nan])
    np.testing.assert_allclose(debtor_levels(code, pits, 3, prior=2.0), [0.65, 1.1 / 3, 0.5])
    np.testing.assert_allclose(debtor_levels(code, pits, 3, prior=0.0), [0.8, 0.2, 0.5])
    # center: prior 2, the mean of m over debtors 0 and 1 is (0.65 + 1.1 / 3) / 2; debtor 2 has no PIT: 0.5
    mean = (0.65 + 1.1 / 3) / 2
    np.testing.assert_allclose(
        debtor_levels(code, pits, 3, prior=2.0, center=True), [0.65 - mean + 0.5, 1.1 / 3 - mean + 0.5, 0.5]
    )
    # weight 0.5: 0.5 + (0.65 - 0.5) / 2 = 0.575, 0.5 - (0.5 - 1.1 / 3) / 2 = 0.4333
    np.testing.assert_allclose(
        debtor_levels(code, pits, 3, prior=2.0, weight=0.5), [0.575, 0.5 + (1.1 / 3 - 0.5) / 2, 0.5]
    )


@pytest.fixture(scope="module")
def fitted():
    """The book of ``tests/models/test_paydate.py``; a hazard trained on 6 month-ends up to 2024-02-29
    (cut 2024-03-31), read at T = 2024-05-31."""
    portfolio = book()
    ledger = prepare_ledger(portfolio)
    snaps = [day(s) for s in pd.date_range("2023-09-30", "2024-02-29", freq="ME")]
    booster = fit_hazard(training_rows(ledger, snaps, day("2024-03-31"), FAST.horizon_weeks), FAST)
    return portfolio, ledger, booster, day("2024-05-31")


def test_own_residual_levels_ignore_rows_after_t(fitted) -> None:
    """Payments and invoices dated after T change no debtor's level at T; the levels move (not all 0.5)."""
    portfolio, ledger, booster, T = fitted
    H = FAST.horizon_weeks
    full = own_residual_levels(ledger, booster, T, H)
    short = own_residual_levels(prepare_ledger(cut_at(portfolio, pd.Timestamp("2024-05-31"))), booster, T, H)
    np.testing.assert_array_equal(full, short)
    assert len(full) == ledger.n and (full != 0.5).mean() > 0.5
    assert (full > 0.55).any() and (full < 0.45).any()


def test_own_residual_levels_count_each_invoice_once_at_its_earliest_month_end(fitted) -> None:
    """The levels are ``debtor_levels`` of the PITs of the invoices open at 2024-02-29, 2024-03-31 or
    2024-04-30, each at the first of those it was open at, forecast as of that month-end and seen up to T."""
    _, ledger, booster, T = fitted
    H = FAST.horizon_weeks
    settled = settlements(ledger, T)[0]
    taken: set[int] = set()
    codes, pits = [], []
    for S in (day("2024-02-29"), day("2024-03-31"), day("2024-04-30")):
        inv = open_invoices(ledger, ledger_state(ledger, S))
        new = ~inv["pos"].isin(taken).to_numpy()
        taken |= set(inv["pos"].tolist())
        inv = inv.loc[new].reset_index(drop=True)
        F = cdf_weeks(predict_hazards(booster, inv, S, H))
        pits.append(residual_pits(F, settled[inv["pos"].to_numpy()] - S, float(T - S)))
        codes.append(inv["code"].to_numpy())
    want = debtor_levels(np.concatenate(codes), np.concatenate(pits), ledger.n)
    np.testing.assert_array_equal(own_residual_levels(ledger, booster, T, H), want)
    # with one month: the invoices open at 2024-04-30 only
    assert not np.array_equal(own_residual_levels(ledger, booster, T, H, months=1), want)


def test_own_residual_levels_read_each_month_end_with_its_model(fitted) -> None:
    """``boosters``: the model per month-end S; with the same model at every S the levels are the default's;
    another model at 2024-04-30 alone changes them."""
    portfolio, ledger, booster, T = fitted
    H = FAST.horizon_weeks
    ends = {S: booster for S in (day("2024-02-29"), day("2024-03-31"), day("2024-04-30"))}
    np.testing.assert_array_equal(
        own_residual_levels(ledger, None, T, H, boosters=ends), own_residual_levels(ledger, booster, T, H)
    )
    snaps = [day(s) for s in pd.date_range("2023-12-31", "2024-03-31", freq="ME")]
    other = fit_hazard(training_rows(ledger, snaps, day("2024-04-30"), H), replace(FAST, n_estimators=10))
    got = own_residual_levels(ledger, booster, T, H, boosters={day("2024-04-30"): other})
    assert not np.array_equal(got, own_residual_levels(ledger, booster, T, H))
