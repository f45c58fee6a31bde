"""The payment-date hazard model: person-period rows by hand, point-in-time correctness, monotone
probabilities, interval coverage on generated data, and the cash forecast adding up."""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.ledger import day_number, ledger_state, prepare_ledger
from features.paydate import (
    FEATURES,
    FINE_FEATURES,
    PAD_DAY,
    FineGrid,
    evaluation_invoices,
    open_invoices,
    period_ends,
    period_rows,
    person_periods,
    settlement_days,
    training_rows,
)
from features.tables import Portfolio
from models.paydate import (
    QUANTILE_LEVELS,
    PaydateParams,
    actual_cash,
    baseline_days,
    calibrate_and_evaluate,
    cash_intervals,
    cash_moments,
    cdf_at_days,
    cdf_weeks,
    coverage_interval,
    estimate_cash_shock,
    evaluate,
    fit_day_shape,
    fit_hazard,
    fit_recalibration,
    fit_weekday_profile,
    forecast_frame,
    grid_cdf,
    interval_days,
    leave_one_out_knots,
    mae_difference_interval,
    median_days,
    pit_bounds,
    predict_hazards,
    quantile_days,
    recalibrate,
    weekly_cdf,
)

END = pd.Timestamp("2024-12-31")
FAST = PaydateParams(horizon_weeks=16, n_estimators=60, learning_rate=0.1, min_child_samples=50)


def day(s: str) -> int:
    return int(day_number(pd.Timestamp(s)))


def book(n: int = 300, months: int = 24, seed: int = 3) -> Portfolio:
    """Two invoices a month per debtor, 30-day terms; each debtor pays ``lateness + N(0, 4)`` days
    after the due date (lateness 0..40 days per debtor), a tenth of the debtors stop paying."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"D{i:04d}" for i in range(n)])
    late = rng.uniform(0, 40, n)
    seg = rng.choice(["retail", "industry"], n)
    k = months * 2
    d = np.repeat(np.arange(n), k)
    issue = (
        END
        - pd.DateOffset(months=months)
        + pd.to_timedelta(np.tile(np.arange(k) * 15, n) + rng.integers(0, 10, n * k), unit="D")
    )
    issue = pd.DatetimeIndex(issue)
    due = issue + pd.Timedelta(days=30)
    paid_on = due + pd.to_timedelta(np.round(late[d] + rng.normal(0, 4, n * k)).astype(int), unit="D")
    stops = rng.random(n) < 0.1
    paid = ~stops[d] | (issue < END - pd.DateOffset(months=6))
    inv = pd.DataFrame(
        {
            "invoice_id": [f"I{i:06d}" for i in range(n * k)],
            "debtor_id": ids[d],
            "issue_date": issue,
            "due_date": due,
            "amount": np.round(rng.lognormal(7, 0.5, n * k), 2),
            "currency": "EUR",
            "disputed": False,
        }
    )
    keep = (inv["issue_date"] <= END).to_numpy()
    inv = inv.loc[keep].reset_index(drop=True)
    mask = paid[keep] & (paid_on[keep] <= END)
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i:06d}" for i in range(int(mask.sum()))],
            "debtor_id": inv.loc[mask, "debtor_id"].to_numpy(),
            "invoice_id": inv.loc[mask, "invoice_id"].to_numpy(),
            "paid_on": paid_on[keep][mask],
            "amount": inv.loc[mask, "amount"].to_numpy(),
        }
    )
    deb = pd.DataFrame({"debtor_id": ids, "segment": seg})
    return Portfolio(invoices=inv, payments=pay, debtors=deb)


def cut_at(p: Portfolio, when: pd.Timestamp) -> Portfolio:
    """Only rows dated <= ``when`` (invoices by issue date, payments by payment date)."""
    return Portfolio(
        invoices=p.invoices.loc[p.invoices["issue_date"] <= when].reset_index(drop=True),
        payments=p.payments.loc[p.payments["paid_on"] <= when].reset_index(drop=True),
        debtors=p.debtors,
    )


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return book()


@pytest.fixture(scope="module")
def trained(portfolio):
    """Held-out setup: trained on 6 month-ends up to 2024-04-30 (cut there), tested at 2024-05-31
    with 16 observed weeks after it."""
    ledger = prepare_ledger(portfolio)
    snaps = [day(s) for s in pd.date_range("2023-10-31", "2024-03-31", freq="ME")]
    cut = day("2024-04-30")
    rows = training_rows(ledger, snaps, cut, FAST.horizon_weeks)
    booster = fit_hazard(rows, FAST)
    T = day("2024-05-31")
    return ledger, rows, booster, T, evaluation_invoices(ledger, T, day(str(END.date())), FAST.horizon_weeks)


def test_person_periods_by_hand() -> None:
    """One invoice due 2024-01-20, paid 2024-02-10, seen at T = 2024-01-10: weeks end on
    Jan 17, 24, 31, Feb 7, 14 -> paid in week 4; dpd at the week ends -3, 4, 11, 18, 25."""
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "B"],
            "debtor_id": ["X", "X"],
            "issue_date": pd.to_datetime(["2023-12-21", "2023-12-28"]),
            "due_date": pd.to_datetime(["2024-01-20", "2024-01-27"]),
            "amount": [100.0, 50.0],
            "disputed": [False, True],
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": ["p1", "p2"],
            "debtor_id": ["X", "X"],
            "invoice_id": ["A", "B"],
            "paid_on": pd.to_datetime(["2024-02-10", "2024-01-05"]),
            "amount": [100.0, 20.0],
        }
    )
    ledger = prepare_ledger(Portfolio(invoices=inv, payments=pay))
    T = day("2024-01-10")
    o = open_invoices(ledger, ledger_state(ledger, T))
    assert o["open_amount"].tolist() == [100.0, 30.0]
    assert o["days_to_due"].tolist() == [10.0, 17.0] and o["age_days"].tolist() == [20.0, 13.0]
    assert o["share_paid"].tolist() == pytest.approx([0.0, 0.4]) and o["disputed"].tolist() == [0.0, 1.0]
    rows = person_periods(o, T, settlement_days(ledger, day("2024-03-31")), day("2024-03-31"), 26)
    a, b = rows[rows["row"] == 0], rows[rows["row"] == 1]
    assert a["period"].tolist() == [0, 1, 2, 3, 4] and a["label"].tolist() == [0, 0, 0, 0, 1]
    assert a["dpd_at_period_end"].tolist() == [-3, 4, 11, 18, 25]
    # B is never settled: censored at the last week ending by the cut (Mar 31 - Jan 10 = 81 days: 11 weeks)
    assert len(b) == 11 and b["label"].sum() == 0
    # a cut before the payment: A is censored as well (weeks ending by Feb 5: 3 full weeks)
    early = person_periods(o, T, settlement_days(ledger, day("2024-02-05")), day("2024-02-05"), 26)
    assert early.loc[early["row"] == 0, "label"].sum() == 0 and (early["row"] == 0).sum() == 3


def test_fine_grid_periods_by_hand() -> None:
    """Grid of 2-day periods from 3 days before to 3 days after the due date (ends due-3, -1, +1, +3)
    on top of the weekly ends. Invoice A (due in 10 days, paid on day 31 after T = Jan 10): ends 7,
    9, 11, 13, 14, 21, 28, 35, ... -> paid in period 7 (ends < 31: 7 of them); B (due in 17 days,
    never paid): ends 7, 14, 16, 18, 20, 21, 28, ...; an invoice 20 days overdue keeps the weeks."""
    g = FineGrid(days=2, before=3, after=3)
    ends = period_ends(np.array([10.0, 17.0, -20.0]), 3, g)
    pad = int(PAD_DAY)
    assert ends.tolist() == [[7, 9, 11, 13, 14, 21], [7, 14, 16, 18, 20, 21], [7, 14, 21, pad, pad, pad]]
    assert period_ends(np.array([10.0]), 3).tolist() == [[7, 14, 21]]  # no grid: weeks
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "B"],
            "debtor_id": ["X", "X"],
            "issue_date": pd.to_datetime(["2023-12-21", "2023-12-28"]),
            "due_date": pd.to_datetime(["2024-01-20", "2024-01-27"]),
            "amount": [100.0, 50.0],
            "disputed": [False, False],
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": ["p1"],
            "debtor_id": ["X"],
            "invoice_id": ["A"],
            "paid_on": pd.to_datetime(["2024-02-10"]),
            "amount": [100.0],
        }
    )
    ledger = prepare_ledger(Portfolio(invoices=inv, payments=pay))
    T = day("2024-01-10")
    o = open_invoices(ledger, ledger_state(ledger, T))
    cut = day("2024-03-31")  # 81 days after T
    rows = person_periods(o, T, settlement_days(ledger, cut), cut, 26, g)
    a, b = rows[rows["row"] == 0], rows[rows["row"] == 1]
    assert a["period"].tolist() == list(range(8)) and a["label"].tolist() == [0] * 7 + [1]
    assert a["period_end_day"].tolist() == [7, 9, 11, 13, 14, 21, 28, 35]
    assert a["period_days"].tolist() == [7, 2, 2, 2, 1, 7, 7, 7]
    assert a["dpd_at_period_end"].tolist() == [-3, -1, 1, 3, 4, 11, 18, 25]
    # B: censored at the last period ending by day 81: ends 7, 14, 16, 18, 20, 21, 28, ..., 77
    assert len(b) == 14 and b["label"].sum() == 0 and b["period_end_day"].iloc[-1] == 77
    # a cut on day 26 (Feb 5): A is censored after the periods ending by then (7 .. 21: 6 periods)
    early = person_periods(o, T, settlement_days(ledger, day("2024-02-05")), day("2024-02-05"), 26, g)
    assert early.loc[early["row"] == 0, "label"].sum() == 0 and (early["row"] == 0).sum() == 6


def test_fine_grid_probabilities_by_hand() -> None:
    """Row 1: ends 7, 9, 11, 14, hazards 0.2, 0.5, 0.5, 0 -> F = 0.2, 0.6, 0.8, 0.8; the periods'
    probabilities 0.2, 0.4, 0.2, 0 add up to F at the end; weekly F (ends 7, 14) = 0.2, 0.8.
    p10: 0.1/0.2 of days 1-7 -> 3.5 -> day 4; median: (0.5-0.2)/0.4 of days 8-9 -> 8.5 -> day 9;
    p70: half of days 10-11 -> day 10; p90 never. Row 2 (weeks, padded): hazards 0.5, 1 -> F = 0.5,
    1; median day 7; p90: 0.8 of week 2 -> 12.6 -> day 13."""
    pad = int(PAD_DAY)
    ends = np.array([[7, 9, 11, 14], [7, 14, pad, pad]], dtype=np.int32)
    h = np.array([[0.2, 0.5, 0.5, 0.0], [0.5, 1.0, 0.0, 0.0]])
    F, Fw = grid_cdf(h, ends, 2)
    np.testing.assert_allclose(F, [[0.2, 0.6, 0.8, 0.8], [0.5, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(np.diff(np.c_[np.zeros(2), F], axis=1).sum(axis=1), F[:, -1])
    np.testing.assert_allclose(np.diff(np.c_[np.zeros(2), F], axis=1)[0], [0.2, 0.4, 0.2, 0.0])
    np.testing.assert_allclose(Fw, [[0.2, 0.8], [0.5, 1.0]])
    assert quantile_days(F, 0.1, ends).tolist() == [4.0, 2.0]
    assert quantile_days(F, 0.5, ends).tolist() == [9.0, 7.0]
    assert quantile_days(F, 0.7, ends)[0] == 10.0
    p90 = quantile_days(F, 0.9, ends)
    assert np.isnan(p90[0]) and p90[1] == 13.0


def test_fine_grid_model_is_monotone_and_matches_every_row(trained) -> None:
    """A model on 1-day periods from 7 days before to 14 after the due date: predicting period by
    period equals predicting every row where it predicts; F is non-decreasing, the weekly F is F at
    the weekly ends, and p10 <= median <= p90."""
    ledger, _, _, T, inv = trained
    params = PaydateParams(**{**FAST.as_record(), "fine_days": 1, "fine_before": 7, "fine_after": 14})
    assert params.features() == FINE_FEATURES and PaydateParams().grid() is None
    snaps = [day(s) for s in pd.date_range("2024-01-31", "2024-03-31", freq="ME")]
    rows = training_rows(ledger, snaps, day("2024-04-30"), 16, 400, grid=params.grid())
    booster = fit_hazard(rows, params, params.features())
    F, ends, Fw = weekly_cdf(booster, inv, T, 16, params.features(), params.grid())
    assert ends.shape[1] > 16 and Fw.shape == (len(inv), 16)
    h = predict_hazards(booster, inv, T, 16, features=FINE_FEATURES, ends=ends)
    counts = (ends < PAD_DAY).sum(axis=1)
    full_rows = period_rows(inv, T, counts, ends)
    full = np.zeros_like(h)
    full[full_rows["row"].to_numpy(), full_rows["period"].to_numpy().astype(int)] = booster.predict(
        full_rows[list(FINE_FEATURES)].to_numpy(dtype=np.float32)
    )
    done = h > 0
    np.testing.assert_allclose(h[done], full[done], rtol=1e-6)
    assert np.all(np.diff(F, axis=1) >= 0) and F.min() >= 0 and F.max() <= 1
    for w in range(16):
        col = (ends < 7 * (w + 1)).sum(axis=1)
        np.testing.assert_array_equal(Fw[:, w], F[np.arange(len(F)), col])
    q = [quantile_days(F, level, ends) for level in (0.1, 0.5, 0.9)]
    ok = ~np.isnan(q[2])
    assert ok.mean() > 0.5 and (q[0][ok] <= q[1][ok]).all() and (q[1][ok] <= q[2][ok]).all()


def test_rows_after_the_cut_change_nothing(portfolio) -> None:
    """Training rows for snapshots <= cut, and the forecast at T, from the full book equal those
    from a book holding only rows dated <= cut (resp. <= T)."""
    cut_day = pd.Timestamp("2024-03-15")
    snaps = [day("2023-12-31"), day("2024-01-31"), day("2024-02-29")]
    full = training_rows(prepare_ledger(portfolio), snaps, day("2024-03-15"), 16)
    short = training_rows(prepare_ledger(cut_at(portfolio, cut_day)), snaps, day("2024-03-15"), 16)
    assert len(full) > 1000 and full["label"].sum() > 100
    pd.testing.assert_frame_equal(full.drop(columns="row"), short.drop(columns="row"))

    booster = fit_hazard(full, FAST)
    T = day("2024-03-15")
    a = open_invoices(prepare_ledger(portfolio), ledger_state(prepare_ledger(portfolio), T))
    b = open_invoices(
        prepare_ledger(cut_at(portfolio, cut_day)),
        ledger_state(prepare_ledger(cut_at(portfolio, cut_day)), T),
    )
    pd.testing.assert_frame_equal(a.drop(columns="pos"), b.drop(columns="pos"))
    np.testing.assert_array_equal(predict_hazards(booster, a, T, 16), predict_hazards(booster, b, T, 16))


def test_probabilities_are_monotone_in_the_day(trained) -> None:
    _, _, booster, T, inv = trained
    F = cdf_weeks(predict_hazards(booster, inv, T, FAST.horizon_weeks))
    assert np.all(np.diff(F, axis=1) >= 0) and F.min() >= 0 and F.max() <= 1
    by_day = np.column_stack([cdf_at_days(F, d) for d in range(0, 7 * FAST.horizon_weeks + 10)])
    assert np.all(np.diff(by_day, axis=1) >= -1e-12)
    out = forecast_frame(F, T)
    assert (out["p_paid_30d"] <= out["p_paid_60d"]).all() and (out["p_paid_60d"] <= out["p_paid_90d"]).all()
    both = out.dropna(subset=["paid_on_p10", "paid_on_p90", "expected_paid_on"])
    assert len(both) > 0.5 * len(out)
    assert (both["paid_on_p10"] <= both["expected_paid_on"]).all()
    assert (both["expected_paid_on"] <= both["paid_on_p90"]).all()
    assert (both["paid_on_p10"] > pd.Timestamp(T, unit="D")).all()


def test_week_by_week_prediction_matches_every_row(trained) -> None:
    """Predicting only the weeks of invoices still open (P > 1e-4) gives the hazards of the full
    26-row computation wherever it predicts, and F within 1e-4 everywhere."""
    from features.paydate import period_rows

    _, _, booster, T, inv = trained
    H = FAST.horizon_weeks
    fast = predict_hazards(booster, inv, T, H)
    rows = period_rows(inv, T, H)
    full = booster.predict(rows[list(FEATURES)].to_numpy(dtype=np.float32)).reshape(len(inv), H)
    done = fast > 0
    assert done.sum() < 0.9 * done.size  # weeks were skipped
    np.testing.assert_array_equal(fast[done], full[done])
    assert np.abs(cdf_weeks(fast) - cdf_weeks(full)).max() <= 1e-4


def test_copied_hazards_are_the_predicted_ones(trained) -> None:
    """A row whose period features are all past the model's last split on them, like the row of the
    week before, is copied from that row, not predicted; every hazard is bit for bit LightGBM's for
    its row. Every week is kept (``tol`` -1) and half the invoices are made long overdue (due 400
    days before T), so many later weeks are copied: exactly the rows past the last splits twice in a row."""
    from features.paydate import GAP_FEATURES, PERIOD_FEATURES, period_rows
    from models.paydate import split_thresholds

    _, _, booster, T, inv = trained
    H = FAST.horizon_weeks
    inv = inv.copy()
    inv.loc[inv.index[::2], "due"] = T - 400

    class Counting:
        rows = 0

        def predict(self, X):
            Counting.rows += len(X)
            return booster.predict(X)

        def dump_model(self):
            return booster.dump_model()

    fast = predict_hazards(Counting(), inv, T, H, tol=-1.0)
    rows = period_rows(inv, T, H)
    full = booster.predict(rows[list(FEATURES)].to_numpy(dtype=np.float32)).reshape(len(inv), H)
    np.testing.assert_array_equal(fast, np.clip(full, 0.0, 1.0))
    splits = split_thresholds(booster, FEATURES)
    beyond = np.ones(len(rows), dtype=bool)
    for f in (f for f in dict.fromkeys((*PERIOD_FEATURES, *GAP_FEATURES)) if f in FEATURES):  # weekly
        if FEATURES.index(f) in splits:
            v = rows[f].to_numpy(dtype=np.float64)
            beyond &= np.isnan(v) | (v > splits[FEATURES.index(f)][-1])
    beyond = beyond.reshape(len(inv), H)
    copied = int((beyond[:, 1:] & beyond[:, :-1]).sum())
    assert copied > 0.25 * len(inv) * 8 and Counting.rows == len(inv) * H - copied


def test_compiled_walk_is_lightgbm_bit_for_bit(trained, monkeypatch) -> None:
    """``models.treewalk`` (the trees decided in numba once per invoice for all its weeks, leaf
    masks cut into runs of weeks by the nodes on period features) gives LightGBM's hazards bit for
    bit: on every row
    with every week kept, and with the default ``tol`` the same matrix as the week-by-week LightGBM
    loop. Half the invoices are long overdue and a third have no lateness history (the gaps NaN),
    so leaves move and stay across weeks."""
    import models.treewalk
    from models.treewalk import compile_trees

    walks = []
    walk = models.treewalk.weekly_hazards
    monkeypatch.setattr(models.treewalk, "weekly_hazards", lambda *a: walks.append(1) or walk(*a))
    _, _, booster, T, inv = trained
    H = FAST.horizon_weeks
    inv = inv.copy()
    inv.loc[inv.index[::2], "due"] = T - 400
    inv.loc[inv.index[::3], ["debtor_mean_lateness", "debtor_late_median_last5"]] = np.nan
    assert compile_trees(booster, len(FEATURES)) is not None

    class Plain:  # not a lightgbm.Booster: predict_hazards asks LightGBM week by week
        def predict(self, X):
            return booster.predict(X)

        def dump_model(self):
            return booster.dump_model()

    rows = period_rows(inv, T, H)
    full = np.clip(booster.predict(rows[list(FEATURES)].to_numpy(dtype=np.float32)), 0.0, 1.0)
    walked = predict_hazards(booster, inv, T, H, tol=-1.0, walk_from=0)
    assert walked.tobytes() == full.reshape(len(inv), H).tobytes()
    default = predict_hazards(booster, inv, T, H, walk_from=0)
    assert default.tobytes() == predict_hazards(Plain(), inv, T, H).tobytes()
    assert 0 < (default == 0).sum() < default.size  # weeks were left out after the tolerance
    assert len(walks) == 2  # the compiled walk, not LightGBM, gave ``walked`` and ``default``
    monkeypatch.setitem(sys.modules, "models.treewalk", None)  # numba unusable: LightGBM's loop
    assert predict_hazards(booster, inv, T, H, walk_from=0).tobytes() == default.tobytes()
    assert len(walks) == 2


def test_quantiles_and_cdf_by_hand() -> None:
    """Hazards 0.5, 0.5, 0: F = 0.5, 0.75, 0.75 per week. Median: end of week 0 (day 7); p10 at
    0.1/0.5 of week 0 -> 1.4 -> day 2; p70: week 1, (0.7-0.5)/0.25 = 0.8 -> 7 + 5.6 -> day 13;
    p90 never (NaN). P(paid by day 10) = 0.5 + 3/7 * 0.25."""
    F = cdf_weeks(np.array([[0.5, 0.5, 0.0]]))
    np.testing.assert_allclose(F, [[0.5, 0.75, 0.75]])
    assert quantile_days(F, 0.5)[0] == 7 and quantile_days(F, 0.1)[0] == 2
    assert quantile_days(F, 0.7)[0] == 13 and np.isnan(quantile_days(F, 0.9)[0])
    assert cdf_at_days(F, 10)[0] == pytest.approx(0.5 + 3 / 7 * 0.25)
    assert cdf_at_days(F, 0)[0] == 0 and cdf_at_days(F, 500)[0] == 0.75
    # expected_paid_on: the median given paid within the horizon, P = 0.75: the day F reaches
    # 0.375, 7 x 0.375 / 0.5 = 5.25 -> day 6 (the plain median would be day 7)
    out = forecast_frame(F, day("2024-01-01"))
    assert out["expected_paid_on"].iloc[0] == pd.Timestamp("2024-01-07") and pd.isna(
        out["paid_on_p90"].iloc[0]
    )


def test_median_given_paid_by_hand() -> None:
    """``median_days``: the day the CDF reaches max(0.1, F_H / 2).

    - hazards 0.5, 0.5, 0 (F_H = 0.75): 0.375 in week 0 -> 7 x 0.75 = 5.25 -> day 6;
    - hazards 0.5, 1 (F_H = 1): the plain median, day 7;
    - hazards 0.05, 0.1, 0 (F = 0.05, 0.145, 0.145): F_H / 2 = 0.0725 is below the p10 level, so
      0.1: week 1, 7 + 7 x 0.05 / 0.095 = 10.68 -> day 11, the p10 day;
    - hazards 0.05, 0, 0 (F_H = 0.05 < 0.1): empty, like p10."""
    F = cdf_weeks(np.array([[0.5, 0.5, 0.0], [0.5, 1.0, 1.0], [0.05, 0.1, 0.0], [0.05, 0.0, 0.0]]))
    got = median_days(F)
    assert got[:3].tolist() == [6.0, 7.0, 11.0] and np.isnan(got[3])
    assert quantile_days(F, 0.5)[1] == 7.0 and quantile_days(F, 0.1)[2] == 11.0
    # on a fine grid: periods ending on days 3, 7 with F 0.2, 0.4 (F_H = 0.4): 0.2 at the end of day 3
    ends = np.array([[3, 7]], dtype=np.int32)
    assert median_days(np.array([[0.2, 0.4]]), ends).tolist() == [3.0]


def test_interval_coverage_and_beats_the_baselines(trained) -> None:
    """On generated data with per-debtor lateness + N(0, 4) noise the p10-p90 interval holds 70-92 %
    of the actual payment days, and the median beats "paid on the due date"."""
    _, _, booster, T, inv = trained
    metrics, per, cash = evaluate(booster, [(T, inv)], FAST.horizon_weeks)
    assert metrics["invoices"] > 300 and metrics["paid_in_horizon"] > 200
    assert 0.70 <= metrics["coverage_80"] <= 0.92, metrics
    assert metrics["mae_days"] < 0.6 * metrics["due_date_mae_days"], metrics
    assert metrics["mae_days"] < 1.1 * metrics["due_plus_lateness_mae_days"], metrics
    assert len(per) == 1 and len(cash) == 13 and cash["actual_cash"].sum() > 0


def test_cash_forecast_sums_to_the_invoice_expectations(trained) -> None:
    _, _, booster, T, inv = trained
    F = cdf_weeks(predict_hazards(booster, inv, T, FAST.horizon_weeks))
    amount = inv["open_amount"].to_numpy()
    seg = (np.arange(len(inv)) % 3) - 1  # -1: no segment (only in the total)
    moments = cash_moments(amount, F, seg, ["a", "b"])
    table = cash_intervals(moments, T)
    total = table[table["segment"] == "all"]
    assert total["week"].tolist() == list(range(1, 14))
    assert total["expected_cash"].sum() == pytest.approx(float((amount * F[:, 12]).sum()), rel=1e-9)
    by_week = table[table["segment"] != "all"].groupby("week")["expected_cash"].sum()
    no_seg = (amount[seg < 0][:, None] * np.diff(np.c_[np.zeros(len(F)), F[:, :13]], axis=1)[seg < 0]).sum(
        axis=0
    )
    np.testing.assert_allclose(by_week.to_numpy() + no_seg, total["expected_cash"].to_numpy(), rtol=1e-9)
    assert (table["cash_low_80"] <= table["expected_cash"]).all()
    assert (table["expected_cash"] <= table["cash_high_80"]).all()
    # two halves (two debtor buckets) combined give the same table
    half = len(inv) // 2
    split = pd.concat(
        [
            cash_moments(amount[:half], F[:half], seg[:half], ["a", "b"]),
            cash_moments(amount[half:], F[half:], seg[half:], ["a", "b"]),
        ]
    )
    pd.testing.assert_frame_equal(cash_intervals(split, T), table, rtol=1e-9)
    assert table["week_start"].iloc[0] == pd.Timestamp(T + 1, unit="D")


def test_cash_shock_by_hand() -> None:
    """The shock is the smallest relative sd that puts 80 % of the past weeks inside mean +- z sd."""
    z = 1.2815515655446004
    expected, actual = np.full(5, 100.0), np.array([100.0, 110.0, 90.0, 130.0, 60.0])
    # without independent variance each week needs |a - f| / (z f): 0, .078, .078, .234, .312;
    # 4 of 5 weeks (80 %) are inside from s = 30 / (z 100)
    s = estimate_cash_shock(expected, np.zeros(5), actual)
    assert s == pytest.approx(30.0 / (z * 100.0))
    # independent variance already explains the error of a week: it needs less (0 when inside)
    v = np.array([0.0, 20.0, 20.0, (30.0 / z) ** 2, 0.0])
    need = np.sqrt(np.maximum((actual - expected) ** 2 / z**2 - v, 0.0)) / expected
    assert need[3] == pytest.approx(0.0) and need[1] > 0
    assert estimate_cash_shock(expected, v, actual) == pytest.approx(np.sort(need)[3])
    assert estimate_cash_shock(expected, np.zeros(5), expected) == 0.0
    assert estimate_cash_shock(np.zeros(2), np.zeros(2), np.ones(2)) == 0.0  # no forecast: no evidence
    # the interval with that shock: mean +- z * sqrt(variance + (s mean)^2), floored at 0
    moments = pd.DataFrame(
        {
            "week": [1, 1],
            "segment": ["a", "b"],
            "expected_cash": [60.0, 40.0],
            "variance": [9.0, 16.0],
            "invoices": [3, 2],
        }
    )
    t = cash_intervals(moments, day("2024-05-31"), weeks=1, shock_sd=0.5).set_index("segment")
    assert t.loc["all", "cash_high_80"] == pytest.approx(100.0 + z * np.sqrt(25.0 + 50.0**2))
    assert t.loc["a", "cash_low_80"] == pytest.approx(60.0 - z * np.sqrt(9.0 + 30.0**2))
    assert t.loc["b", "cash_high_80"] == pytest.approx(40.0 + z * np.sqrt(16.0 + 20.0**2))
    wide = cash_intervals(moments, day("2024-05-31"), weeks=1, shock_sd=0.9).set_index("segment")
    assert wide.loc["a", "cash_low_80"] == 0.0  # 60 - z * sqrt(9 + 54^2) < 0: floored
    assert (wide["expected_cash"] == t["expected_cash"]).all()


def test_actual_cash_and_baselines_by_hand() -> None:
    assert actual_cash(np.array([10.0, 20.0, 5.0, 7.0]), np.array([1, 8, np.nan, 7]), weeks=2).tolist() == [
        17.0,
        20.0,
    ]
    inv = pd.DataFrame({"due": [100, 90], "debtor_mean_lateness": [5.4, np.nan]})
    b = baseline_days(inv, 95)
    assert b["due_date"].tolist() == [5.0, 1.0] and b["due_plus_lateness"].tolist() == [10.0, 1.0]


def test_fit_refuses_rows_without_settlements(trained) -> None:
    _, rows, *_ = trained
    with pytest.raises(ValueError, match="settlements"):
        fit_hazard(rows.assign(label=0), FAST)
    assert set(FEATURES) <= set(rows.columns)


def test_candidate_features_by_hand() -> None:
    """One debtor, six settled invoices (days late in settlement order 20, 4, 5, -1, 10, 2; paid on
    the 20th, 5th, 5th, 30th, 12th and 2nd of the month) and two open at T = 2024-05-05."""
    issue = pd.to_datetime(
        [
            "2023-10-01",
            "2023-11-01",
            "2023-12-01",
            "2024-01-01",
            "2024-02-01",
            "2024-03-01",
            "2024-04-01",
            "2024-04-15",
        ]
    )
    inv = pd.DataFrame(
        {
            "invoice_id": [f"I{i}" for i in range(1, 9)],
            "debtor_id": "D1",
            "issue_date": issue,
            "due_date": issue + pd.Timedelta(days=30),
            "amount": [100.0] * 7 + [300.0],
            "currency": "EUR",
            "disputed": False,
        }
    )
    paid = pd.to_datetime(
        ["2023-11-20", "2023-12-05", "2024-01-05", "2024-01-30", "2024-03-12", "2024-04-02"]
    )
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i}" for i in range(6)],
            "debtor_id": "D1",
            "invoice_id": [f"I{i}" for i in range(1, 7)],
            "paid_on": paid,
            "amount": 100.0,
        }
    )
    ledger = prepare_ledger(
        Portfolio(invoices=inv, payments=pay, debtors=pd.DataFrame({"debtor_id": ["D1"]}))
    )
    T = day("2024-05-05")
    got = open_invoices(ledger, ledger_state(ledger, T), candidates=True)
    assert got["days_to_due"].tolist() == [-4.0, 10.0]
    assert got["debtor_late_median"].tolist() == [4.5, 4.5]  # of -1, 2, 4, 5, 10, 20
    assert got["debtor_late_median_last5"].tolist() == [4.0, 4.0]  # of 4, 5, -1, 10, 2
    np.testing.assert_allclose(got["debtor_late_trend"], 20 / 5 - 40 / 6)
    assert got["days_to_recent_usual"].tolist() == [0.0, 14.0]
    np.testing.assert_allclose(got["amount_vs_usual"], [0.0, np.log1p(300) - np.log1p(100)])
    assert got["open_rank"].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(got["pay_dom_share"], 2 / 6)  # the 5th
    # usual day T + max(1, 0) = May 6 -> next 5th: June 5 (30 days); T + 14 = May 19 -> June 5 (17 days)
    assert got["days_to_pay_dom"].tolist() == [30.0, 17.0]
    plain = open_invoices(ledger, ledger_state(ledger, T))  # the shipped features only
    assert "amount_vs_usual" not in plain and plain["debtor_late_median_last5"].tolist() == [4.0, 4.0]


def test_recalibration_map_by_hand() -> None:
    """PITs of 1,000 held-out invoices spread evenly over [0.25, 0.75]: the model's interval is too
    wide, the map sends its 0.3 to 0.1 and 0.7 to 0.9. Lower levels read the upper PIT bound, upper
    levels the lower one (a day's probability apart), the median their mean."""
    n = 1000
    u = 0.25 + 0.5 * (np.arange(n) + 0.5) / n
    knots = fit_recalibration(u - 0.002, u)
    at = dict(zip(QUANTILE_LEVELS.tolist(), knots, strict=True))
    # np.quantile (linear) of u at q: 0.25 + 0.5 * (0.5 + q (n - 1)) / n
    assert at[0.1] == pytest.approx(0.25 + 0.5 * (0.5 + 0.1 * 999) / n)
    assert at[0.9] == pytest.approx(0.25 + 0.5 * (0.5 + 0.9 * 999) / n - 0.002)
    assert at[0.5] == pytest.approx(0.5 - 0.001) and at[0.0] == 0.0 and at[1.0] == 1.0
    assert np.all(np.diff(knots) > 0)
    G = recalibrate(np.array([[0.2, 0.3, 0.5, 0.7, 0.76, 1.0]]), fit_recalibration(u, u))
    np.testing.assert_allclose(G[0, [1, 2, 3]], [0.1, 0.5, 0.9], atol=2e-3)
    # below the first knot the map is linear from (0, 0) to (tau(0.05), 0.05)
    assert G[0, 0] == pytest.approx(0.05 * 0.2 / (0.25 + 0.5 * (0.5 + 0.05 * 999) / n))
    assert G[0, -1] == 1.0 and np.all(np.diff(G) >= 0)
    # too few invoices: the identity map; median=False leaves the median at 0.5
    assert fit_recalibration(u[:150], u[:150]).tolist() == QUANTILE_LEVELS.tolist()
    assert dict(zip(QUANTILE_LEVELS.tolist(), fit_recalibration(u**2, u**2, median=False), strict=True))[
        0.5
    ] == pytest.approx(0.5)
    # leave one month out: each month's figures use the map of the other months only
    v = 0.1 + 0.8 * (np.arange(n) + 0.5) / n
    loo = leave_one_out_knots([(u, u), (v, v)])
    np.testing.assert_array_equal(loo[0], fit_recalibration(v, v))
    np.testing.assert_array_equal(loo[1], fit_recalibration(u, u))
    # PIT bounds: F = 0.5, 0.75 per week; paid on day 10 -> (P(by 9), P(by 10)); never paid -> (0.75, 1)
    lo, hi = pit_bounds(cdf_weeks(np.array([[0.5, 0.5], [0.5, 0.5]])), np.array([10.0, np.nan]))
    np.testing.assert_allclose(lo, [0.5 + 2 / 7 * 0.25, 0.75])
    np.testing.assert_allclose(hi, [0.5 + 3 / 7 * 0.25, 1.0])


def test_recalibration_out_of_time_coverage_and_monotone(trained, portfolio) -> None:
    """The map fitted on the held-out model's outcomes at 2024-05-31 brings the p10-p90 coverage two
    months later (2024-07-31, never used to fit anything) from 87 % to 80 +- 5 %; the recalibrated
    CDF stays non-decreasing in the day and p10 <= median <= p90."""
    ledger, _, booster, T, inv = trained
    _, _, _, knots = calibrate_and_evaluate(booster, [(T, inv)], FAST.horizon_weeks)
    T2 = day("2024-07-31")
    later = evaluation_invoices(ledger, T2, day(str(END.date())), FAST.horizon_weeks)
    F2 = cdf_weeks(predict_hazards(booster, later, T2, FAST.horizon_weeks))
    raw, _, _ = evaluate(booster, [(T2, later)], FAST.horizon_weeks, cdfs=[F2], interval="first")
    cal, _, _ = evaluate(booster, [(T2, later)], FAST.horizon_weeks, knots=knots, cdfs=[F2], interval="first")
    assert raw["coverage_80"] > 0.86, raw  # the model's own interval is too wide here
    assert abs(cal["coverage_80"] - 0.80) <= 0.05, cal
    G = recalibrate(F2, knots)
    by_day = np.column_stack([cdf_at_days(G, d) for d in range(0, 7 * FAST.horizon_weeks + 3)])
    assert np.all(np.diff(by_day, axis=1) >= 0) and by_day.min() >= 0 and by_day.max() <= 1
    out = forecast_frame(G, T2).dropna(subset=["paid_on_p10", "paid_on_p90"])
    assert len(out) > 0.5 * len(later)
    assert (out["paid_on_p10"] <= out["expected_paid_on"]).all()
    assert (out["expected_paid_on"] <= out["paid_on_p90"]).all()
    assert (out["p_paid_30d"] <= out["p_paid_60d"]).all() and (out["p_paid_60d"] <= out["p_paid_90d"]).all()


def test_recalibration_ignores_rows_after_the_outcome_window(trained, portfolio) -> None:
    """The map fitted at 2024-05-31 (outcomes judged up to the horizon end, 2024-09-20) is the same
    from the full book and from the book cut at that day: later rows change nothing."""
    _, _, booster, T, inv = trained
    end = T + 7 * FAST.horizon_weeks
    cut = prepare_ledger(cut_at(portfolio, pd.Timestamp(end, unit="D")))
    short = evaluation_invoices(cut, T, end, FAST.horizon_weeks)
    full = evaluation_invoices(prepare_ledger(portfolio), T, end, FAST.horizon_weeks)
    a = calibrate_and_evaluate(booster, [(T, full)], FAST.horizon_weeks)[3]
    b = calibrate_and_evaluate(booster, [(T, short)], FAST.horizon_weeks)[3]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, QUANTILE_LEVELS)  # it is not the identity


def _session6_book() -> Portfolio:
    """D1: six settled invoices (days late 20, 4, 5, -1, 10, 2 in settlement order; amounts 300,
    300, 100, 100, 300, 100) and two open (100 due 2024-05-01, 300 due 2024-05-15); D2: one invoice
    of 50 due 2024-05-01, 20 of it paid on Saturday 2024-04-20."""
    issue = pd.to_datetime(
        [
            "2023-10-01",
            "2023-11-01",
            "2023-12-01",
            "2024-01-01",
            "2024-02-01",
            "2024-03-01",
            "2024-04-01",
            "2024-04-15",
        ]
    )
    inv = pd.DataFrame(
        {
            "invoice_id": [f"I{i}" for i in range(1, 9)] + ["J1"],
            "debtor_id": ["D1"] * 8 + ["D2"],
            "issue_date": list(issue) + [pd.Timestamp("2024-04-01")],
            "due_date": list(issue + pd.Timedelta(days=30)) + [pd.Timestamp("2024-05-01")],
            "amount": [300.0, 300.0, 100.0, 100.0, 300.0, 100.0, 100.0, 300.0, 50.0],
            "currency": "EUR",
            "disputed": False,
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{i}" for i in range(7)],
            "debtor_id": ["D1"] * 6 + ["D2"],
            "invoice_id": [f"I{i}" for i in range(1, 7)] + ["J1"],
            "paid_on": pd.to_datetime(
                [
                    "2023-11-20",
                    "2023-12-05",
                    "2024-01-05",
                    "2024-01-30",
                    "2024-03-12",
                    "2024-04-02",
                    "2024-04-20",
                ]
            ),
            "amount": [300.0, 300.0, 100.0, 100.0, 300.0, 100.0, 20.0],
        }
    )
    return Portfolio(invoices=inv, payments=pay, debtors=pd.DataFrame({"debtor_id": ["D1", "D2"]}))


def test_session6_candidate_features_by_hand() -> None:
    """The session-6 candidates (``benchmarks/paydate_diagnose.py``, not shipped) on a hand-built book."""
    portfolio = _session6_book()
    ledger = prepare_ledger(portfolio)
    T = day("2024-05-05")
    got = open_invoices(ledger, ledger_state(ledger, T), candidates=True).sort_values(["code", "due"])
    i7, i8, j1 = (got.iloc[i] for i in range(3))
    assert (i7["days_to_due"], i8["days_to_due"], j1["days_to_due"]) == (-4.0, 10.0, -4.0)
    # the invoice's own part payment: 2024-04-20 -> 15 days before T; D1's invoices have none
    assert j1["days_since_part_paid"] == 15.0 and np.isnan(i7["days_since_part_paid"])
    # recency weights 0.5 ** (age / 30) with the settlements 167, 152, 121, 96, 54, 33 days before T
    w = 0.5 ** (np.array([167, 152, 121, 96, 54, 33]) / 30)
    late = np.array([20, 4, 5, -1, 10, 2])
    np.testing.assert_allclose(i7["late_hl30"], (w * late).sum() / w.sum())
    np.testing.assert_allclose(
        i8["late_hl180"],
        ((0.5 ** (np.array([167, 152, 121, 96, 54, 33]) / 180)) * late).sum()
        / (0.5 ** (np.array([167, 152, 121, 96, 54, 33]) / 180)).sum(),
    )
    assert np.isnan(j1["late_hl30"])  # D2 has settled nothing
    assert (i7["late_last"], i7["days_since_settlement"]) == (2.0, 33.0)  # 2024-04-02, 2 days late
    # median amount (log) of D1's 8 invoices lies between 100 and 300: the 300s settled 20, 4, 10 days
    # late (median 10), the 100s 5, -1, 2 (median 2)
    assert (i7["late_similar_amount"], i8["late_similar_amount"]) == (2.0, 10.0)
    # D1 paid 4 of its 6 payments on a Tuesday; usual day T + 1 = Monday May 6 -> 1 day to a Tuesday,
    # T + 14 (due + median of the last 5: 10 + 4) = Sunday May 19 -> 2; D2: its one payment on a Saturday
    assert (i7["pay_wd_share"], i7["days_to_pay_wd"], i8["days_to_pay_wd"]) == (4 / 6, 1.0, 2.0)
    assert (j1["pay_wd_share"], j1["days_to_pay_wd"]) == (1.0, 5.0)
    # I8 has an older open invoice (I7, 4 days past due); I7 and J1 have none
    assert (
        i8["older_open_max_dpd"] == 4.0
        and np.isnan(i7["older_open_max_dpd"])
        and np.isnan(j1["older_open_max_dpd"])
    )
    # no settlement in the 28 days to T: no book shift; D1's oldest open invoice is 4 days past due,
    # its usual (median of the last 5) is 4 days late
    assert (i7["book_shift"], i7["shifted_usual_late"], i7["open_excess_late"]) == (0.0, 4.0, 0.0)
    assert np.isnan(j1["open_excess_late"])
    # on 2024-04-20 the one settlement of the last 28 days (2024-04-02, 2 days late) is 3 days earlier
    # than D1's median of the settlements before (20, 4, 5, -1, 10 -> 5): the book pays 3 days earlier
    T2 = day("2024-04-20")
    at2 = open_invoices(ledger, ledger_state(ledger, T2), candidates=True).sort_values(["code", "due"])
    assert at2["book_shift"].tolist() == [-3.0, -3.0, -3.0]
    assert at2["shifted_usual_late"].iloc[0] == 1.0  # 4 - 3
    assert at2["days_since_part_paid"].iloc[2] == 0.0  # paid on T2 itself


def _segment_book() -> Portfolio:
    """Three debtors, one per segment (A: construction, B: retail, C: none). Each settled 3 invoices 5
    days late in March 2024; in the 28 days to 2024-06-30 A settled 30 invoices 9 days late, B 20 invoices
    15 days late, C 50 invoices on their due date; each also has one invoice open at T."""
    rows, pays = [], []
    plan = {"A": [5] * 3 + [9] * 30, "B": [5] * 3 + [15] * 20, "C": [5] * 3 + [0] * 50}
    for debtor, lates in plan.items():
        for i, late in enumerate(lates):
            # before the window: settled 2024-03-10..12; in it: 2024-06-10..
            settled = (
                pd.Timestamp("2024-03-10") + pd.Timedelta(days=i)
                if i < 3
                else pd.Timestamp("2024-06-10") + pd.Timedelta(days=(i - 3) % 15)
            )
            due = settled - pd.Timedelta(days=late)
            rows.append((f"{debtor}{i}", debtor, due - pd.Timedelta(days=30), due, 100.0))
            pays.append((f"P{debtor}{i}", debtor, f"{debtor}{i}", settled, 100.0))
        due = pd.Timestamp("2024-07-15")
        rows.append((f"{debtor}open", debtor, due - pd.Timedelta(days=30), due, 100.0))
    inv = pd.DataFrame(rows, columns=["invoice_id", "debtor_id", "issue_date", "due_date", "amount"])
    inv["currency"], inv["disputed"] = "EUR", False
    pay = pd.DataFrame(pays, columns=["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"])
    debtors = pd.DataFrame({"debtor_id": ["A", "B", "C"], "segment": ["construction", "retail", None]})
    return Portfolio(invoices=inv, payments=pay, debtors=debtors)


def test_segment_shift_by_hand() -> None:
    """``segment_shift`` (session 27's candidate): the book's shift over the settlements of the debtor's
    segment, the book's when its segment has fewer than SEGMENT_SHIFT_MIN (30) or is unknown."""
    ledger = prepare_ledger(_segment_book())
    T = day("2024-06-30")
    got = open_invoices(ledger, ledger_state(ledger, T), candidates=True)
    got = got.set_index(np.asarray(ledger.debtor_ids)[got["code"].to_numpy()])
    # residuals in the window (lateness - the debtor's median of 5 before it): A 30 x +4, B 20 x +10,
    # C 50 x -5; the book's median of the 100: the 50th and 51st of (-5 x 50, 4 x 30, 10 x 20) = -0.5
    assert got["book_shift"].tolist() == [-0.5, -0.5, -0.5]
    assert got.loc["A", "segment_shift"] == 4.0  # 30 settlements: its own
    assert got.loc["B", "segment_shift"] == -0.5  # 20 < 30: the book's
    assert got.loc["C", "segment_shift"] == -0.5  # no segment: the book's
    # 10 days earlier (T = 2024-06-20) A has settled 22 of its 30 in the window, B 16: the book's
    early = open_invoices(ledger, ledger_state(ledger, day("2024-06-20")), candidates=True)
    assert early["segment_shift"].tolist() == early["book_shift"].tolist()


def test_session6_candidates_ignore_rows_after_t() -> None:
    """Rows dated after T (later invoices and payments) change none of the candidates at T."""
    portfolio = _session6_book()
    T = day("2024-03-20")
    cut = pd.Timestamp("2024-03-20")
    early = Portfolio(
        invoices=portfolio.invoices[portfolio.invoices["issue_date"] <= cut],
        payments=portfolio.payments[portfolio.payments["paid_on"] <= cut],
        debtors=portfolio.debtors,
    )
    full = open_invoices(
        prepare_ledger(portfolio), ledger_state(prepare_ledger(portfolio), T), candidates=True
    )
    part = open_invoices(prepare_ledger(early), ledger_state(prepare_ledger(early), T), candidates=True)
    pd.testing.assert_frame_equal(full.drop(columns="pos"), part.drop(columns="pos"))


def test_interval_rules_by_hand() -> None:
    """``interval_days``. F = 0.4, 0.8, 0.96, 1 per week: x10 = 7 x 0.1 / 0.4 = 1.75, x90 = 14 + 7 x
    0.1 / 0.16 = 18.375, median 7 + 7 x 0.25 = 8.75 -> day 9. ``first``: ceil -> 2 and 19; ``mid``:
    ceil(x10 + 0.5) = 3, floor(x90 + 0.5) = 18 (P(paid before day 3) = 2/7 x 0.4 = 0.114 and
    P(paid after day 18) = 0.2 - 4/7 x 0.16 = 0.109, against 0.057 and 0.086 with ``first``).
    F_H = 0.15: x10 = 7 x 0.1 / 0.15 = 4.67, ``mid`` gives ceil(5.17) = 6, clamped to the median
    given paid (level 0.1: day 5), p90 empty; F_H = 0.05: everything empty."""
    F = np.array([[0.4, 0.8, 0.96, 1.0], [0.15] * 4, [0.05] * 4])
    np.testing.assert_array_equal(median_days(F), [9, 5, np.nan])
    lo, hi = interval_days(F, rule="first")
    np.testing.assert_array_equal(lo, [2, 5, np.nan])
    np.testing.assert_array_equal(hi, [19, np.nan, np.nan])
    lo, hi = interval_days(F, rule="mid")
    np.testing.assert_array_equal(lo, [3, 5, np.nan])
    np.testing.assert_array_equal(hi, [18, np.nan, np.nan])
    assert cdf_at_days(F[:1], 2)[0] == pytest.approx(0.4 * 2 / 7)
    assert 1 - cdf_at_days(F[:1], 18)[0] == pytest.approx(0.2 - 0.16 * 4 / 7)
    out = forecast_frame(F, day("2024-01-01"), interval="first")
    assert out["paid_on_p10"].iloc[0] == pd.Timestamp("2024-01-03")  # day 2, as before session 8
    with pytest.raises(ValueError, match="unknown interval rule"):
        interval_days(F, rule="last")


def test_interval_levels_by_hand() -> None:
    """``interval_days(..., levels=...)``: the interval's ends read at other CDF levels (what
    ``benchmarks/paydate_coverage.py`` measures). F = 0.4, 0.8, 0.96, 1: at (0.05, 0.95) x05 = 7 x
    0.05 / 0.4 = 0.875 and x95 = 14 + 7 x 0.15 / 0.16 = 20.5625, so ``mid`` gives ceil(1.375) = 2 and
    floor(21.0625) = 21, ``first`` ceil -> 1 and 21; F_H = 0.15: x05 = 7 x 0.05 / 0.15 = 2.33 -> day
    3 (below the median 5), no p95; F_H = 0.05: the median is empty, so p05 is too. Levels (0.3,
    0.4), narrower than the median allows: x30 = 5.25 -> 6, x40 = 7 -> day 7, raised to the median
    9 (p10 <= median <= p90 at any levels)."""
    F = np.array([[0.4, 0.8, 0.96, 1.0], [0.15] * 4, [0.05] * 4])
    lo, hi = interval_days(F, rule="mid", levels=(0.05, 0.95))
    np.testing.assert_array_equal(lo, [2, 3, np.nan])
    np.testing.assert_array_equal(hi, [21, np.nan, np.nan])
    lo, hi = interval_days(F, rule="first", levels=(0.05, 0.95))  # row 3: day 7, but no median
    np.testing.assert_array_equal(lo, [1, 3, np.nan])
    np.testing.assert_array_equal(hi, [21, np.nan, np.nan])
    lo, hi = interval_days(F[:1], rule="mid", levels=(0.3, 0.4))
    np.testing.assert_array_equal(lo, [6])
    np.testing.assert_array_equal(hi, [9])
    default = interval_days(F, rule="mid")
    np.testing.assert_array_equal(interval_days(F, rule="mid", levels=(0.1, 0.9))[0], default[0])
    with pytest.raises(ValueError, match="interval levels"):
        interval_days(F, rule="mid", levels=(0.9, 0.1))


def test_day_shape_and_shaped_interval_by_hand() -> None:
    """``fit_day_shape``: per class of where the usual payment day falls relative to the week (its
    day 1..7 inside, clipped to -3..10, one class without an anchor), the share of settlements on
    each weekday, counts starting at 0.5. Settled in week 0 on day 3 and in week 1 on days 10 and 12
    with the usual day on the week's day 3 (anchors 3.2 and 9.6 -> 10 - 7): class 3, days 2, 2, 4
    of 7 (0-based) -> 2.5, 1.5 and 0.5 of 6.5; no anchor, day 7: 1.5 of 4.5; anchor 40 in week 2
    (40 - 14 = 26 -> 10), day 15 = the week's first: 1.5 of 4.5; an open row counts nowhere.

    ``shaped``: F = 0.4, 0.8, 0.9, 1 with the class-3 week spread 0, 0, .2, .6, .2, 0, 0. Anchor 3:
    week 0 is class 3, 0.1 is 0.25 of it: day 4 (0-based 3) from 0.2 to 0.8 -> x10 = 3 + 0.05 / 0.6
    = 3.083 -> p10 ceil(3.58) = 4 (``mid``: 3); week 2 is class -11 -> -3, even: x90 = 21 -> 21.
    Anchor 17: week 0 is class 10, even -> p10 3; week 2 is class 3, 0.9 is all of it, reached at
    the end of its day 5 -> x90 = 19 -> p90 19 (``mid``: 21). The median stays day 9."""
    rows = pd.DataFrame(
        {
            "label": [1, 1, 1, 0, 1, 1],
            "period": [0, 1, 1, 0, 0, 2],
            "settled_day": [3, 10, 12, 0, 7, 15],
            "days_to_recent_usual": [3.2, 9.6, 9.6, 3.0, np.nan, 40.0],
        }
    )
    shape = fit_day_shape(rows)
    assert shape.shape == (15, 7)
    np.testing.assert_allclose(shape[3 + 3], np.array([0.5, 0.5, 2.5, 0.5, 1.5, 0.5, 0.5]) / 6.5)
    np.testing.assert_allclose(shape[14], np.array([0.5] * 6 + [1.5]) / 4.5)
    np.testing.assert_allclose(shape[13], np.array([1.5] + [0.5] * 6) / 4.5)
    np.testing.assert_allclose(shape[0], np.full(7, 1 / 7))
    hand = np.full((15, 7), 1 / 7)
    hand[6] = [0, 0, 0.2, 0.6, 0.2, 0, 0]
    F = np.array([[0.4, 0.8, 0.9, 1.0]] * 2)
    lo, hi = interval_days(F, rule="shaped", shape=hand, anchor=np.array([3.0, 17.0]))
    np.testing.assert_array_equal(lo, [4, 3])
    np.testing.assert_array_equal(hi, [21, 19])
    np.testing.assert_array_equal(interval_days(F, rule="mid")[0], [3, 3])
    np.testing.assert_array_equal(interval_days(F, rule="mid")[1], [21, 21])
    np.testing.assert_array_equal(median_days(F), [9, 9])
    # without a shape (a fine grid, or no version shape) ``shaped`` is ``mid``
    np.testing.assert_array_equal(interval_days(F, rule="shaped")[1], [21, 21])


def test_shaped_interval_coverage_out_of_time(trained) -> None:
    """On the test book (each debtor pays its usual lateness + N(0, 4 d)), the interval of the model
    trained to 2024-04-30, at 2024-05-31 and two months later: ``first`` holds 87-90 % (too wide),
    ``mid`` 83-88 %, ``shaped`` (the shape from the same training rows) 78-80 %; the median, and so
    the MAE, is the same under every rule."""
    ledger, rows, booster, T, inv = trained
    shape = fit_day_shape(rows)
    T2 = day("2024-07-31")
    later = evaluation_invoices(ledger, T2, day(str(END.date())), FAST.horizon_weeks)
    for when, snapshot in ((T, inv), (T2, later)):
        F = cdf_weeks(predict_hazards(booster, snapshot, when, FAST.horizon_weeks))
        got = {
            rule: evaluate(
                booster, [(when, snapshot)], FAST.horizon_weeks, cdfs=[F], interval=rule, shape=shape
            )[0]
            for rule in ("first", "mid", "shaped")
        }
        assert got["first"]["coverage_80"] > 0.86, got["first"]
        assert abs(got["shaped"]["coverage_80"] - 0.80) <= 0.03, got["shaped"]
        assert got["shaped"]["coverage_80"] < got["mid"]["coverage_80"] < got["first"]["coverage_80"]
        assert got["first"]["mae_days"] == got["mid"]["mae_days"] == got["shaped"]["mae_days"]


def test_weekday_median_by_hand() -> None:
    """``fit_weekday_profile``: T = Wednesday 2024-01-10; settled 1 day after (Thursday) and twice 5
    days after (Monday), counts from 0.5: Monday 2.5, Thursday 1.5, the rest 0.5, of 6.5.

    ``median_days`` with weekdays Monday-Friday 0.2 each, weekend 0: F = 0.2, 0.8, 0.95, 1 (week 1 =
    days 8..14, Thursday..Wednesday); the median is half-way through week 1, the evenly spread day
    7 + 3.5 -> day 11, a Sunday; by weekday the week's cumulative shares are .2 .4 .4 .4 .6 .8 1, so
    0.5 is reached on its Monday, day 12."""
    T = day("2024-01-10")
    rows = pd.DataFrame({"label": [1, 1, 1, 0], "T": [T] * 4, "settled_day": [1, 5, 5, 0]})
    np.testing.assert_allclose(fit_weekday_profile(rows), np.array([2.5, 0.5, 0.5, 1.5, 0.5, 0.5, 0.5]) / 6.5)
    F = np.array([[0.2, 0.8, 0.95, 1.0]])
    weekdays = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0.0, 0.0])
    assert median_days(F)[0] == 11 and median_days(F, None, weekdays, T)[0] == 12
    out = forecast_frame(F, T, weekdays=weekdays)
    assert out["expected_paid_on"].iloc[0] == pd.Timestamp("2024-01-22")  # a Monday
    assert out["paid_on_p10"].iloc[0] <= out["expected_paid_on"].iloc[0] <= out["paid_on_p90"].iloc[0]
    assert forecast_frame(F, T)["expected_paid_on"].iloc[0] == pd.Timestamp("2024-01-21")  # before: a Sunday
    # p10 stays on the median's side when the weekday median moves earlier: F_H = 0.15 (level 0.1),
    # everything paid on Mondays, T = Sunday 2024-01-07: the median is day 1 (Monday); ``mid``'s p10
    # would be day 5 (the even median), so p10 is clamped to day 1
    F2, T2, monday = np.array([[0.15] * 4]), day("2024-01-07"), np.array([1.0, 0, 0, 0, 0, 0, 0])
    assert median_days(F2, None, monday, T2)[0] == 1 and interval_days(F2, rule="mid")[0][0] == 5
    out = forecast_frame(F2, T2, interval="mid", weekdays=monday)
    assert out["paid_on_p10"].iloc[0] == out["expected_paid_on"].iloc[0] == pd.Timestamp("2024-01-08")


def test_leaves_follow_the_training_rows_by_hand() -> None:
    """``rows_per_leaf`` 6000, ``num_leaves`` 31: 13,000 rows -> 2, raised to 7; 60,000 -> 10;
    200,000 -> 33, capped at 31; ``rows_per_leaf`` 0 -> always 31."""
    p = PaydateParams(num_leaves=31, rows_per_leaf=6000)
    assert [p.leaves_for(n) for n in (13_000, 60_000, 186_000, 200_000)] == [7, 10, 31, 31]
    assert PaydateParams(num_leaves=31, rows_per_leaf=0).leaves_for(13_000) == 31
    assert PaydateParams(num_leaves=5, rows_per_leaf=6000).leaves_for(13_000) == 5


def test_fit_uses_the_leaves_of_its_rows(trained) -> None:
    """The fitted trees have at most ``leaves_for(len(rows))`` leaves; the full tree (0) grows more."""
    _, rows, *_ = trained
    small = replace(FAST, num_leaves=31, rows_per_leaf=len(rows) // 9)  # -> 9 leaves
    assert small.leaves_for(len(rows)) == 9
    leaves = [t["num_leaves"] for t in fit_hazard(rows, small).dump_model()["tree_info"]]
    assert max(leaves) <= 9
    full = [
        t["num_leaves"] for t in fit_hazard(rows, replace(small, rows_per_leaf=0)).dump_model()["tree_info"]
    ]
    assert max(full) > 9


def test_coverage_interval_by_hand() -> None:
    """Debtor A: 2 invoices both inside; debtor B: 2 invoices, 0 inside (one paid after p90, one
    not paid in the horizon = +inf). Every bootstrap draw is AA (1.0), AB/BA (0.5) or BB (0.0), so
    the interval's ends lie in {0, 0.5, 1} and with 400 draws the 2.5 % / 97.5 % quantiles are 0 and 1.
    One debtor only: no spread, both ends equal the coverage."""
    p10, p90 = np.array([5.0, 5.0, 5.0, 5.0]), np.array([20.0, 20.0, 20.0, 20.0])
    actual = np.array([6.0, 20.0, 21.0, np.nan])
    low, high = coverage_interval(p10, p90, actual, np.array([1, 1, 2, 2]))
    assert (low, high) == (0.0, 1.0)
    assert coverage_interval(p10, p90, actual, np.array([7, 7, 7, 7])) == (0.5, 0.5)


def test_paydate_gate_reads_the_coverage_interval() -> None:
    """69 % alone fails the 70-90 % band; with an interval reaching 73 % it passes; an interval
    wholly below (60-68 %) fails; the MAE check is unchanged."""
    from pipelines.adapters.paydate_registry import gate_decision as paydate_gate

    m = {"mae_days": 8.0, "due_date_mae_days": 12.0, "due_plus_lateness_mae_days": 10.0, "coverage_80": 0.69}
    assert not paydate_gate(m).passed
    wide = paydate_gate({**m, "coverage_80_ci_low": 0.65, "coverage_80_ci_high": 0.73})
    assert wide.passed and "[95 % 65.0%, 73.0%]" in wide.reasons[1]
    assert not paydate_gate({**m, "coverage_80_ci_low": 0.60, "coverage_80_ci_high": 0.68}).passed
    assert not paydate_gate(
        {**m, "mae_days": 10.5, "coverage_80_ci_low": 0.65, "coverage_80_ci_high": 0.73}
    ).passed


def test_mae_difference_interval_by_hand() -> None:
    """Debtor A: 2 paid invoices, model errors 1 and 3 days, baseline 2 and 2; debtor B: 1 paid
    invoice, model 5, baseline 1, and 1 unpaid in the horizon (no error counted). A draw AA gives
    MAE 2 - 2 = 0, BB 5 - 1 = +4, AB / BA (9 - 5) / 3 = +4/3: with 400 draws (AA and BB each about
    1 in 4) the 2.5 % / 97.5 % quantiles are 0 and +4 (the pooled point: 9/3 - 5/3 = +4/3). One
    debtor only (A): no spread, both ends equal its difference, 0."""
    actual = np.array([10.0, 10.0, 10.0, np.nan])
    model = np.array([11.0, 7.0, 15.0, 3.0])
    base = np.array([12.0, 8.0, 9.0, 40.0])
    assert mae_difference_interval(model, base, actual, np.array([1, 1, 2, 2]), 26 * 7) == (0.0, 4.0)
    assert mae_difference_interval(model[:2], base[:2], actual[:2], np.array([1, 1]), 26 * 7) == (0.0, 0.0)
    # a prediction beyond the horizon (NaN) counts as the horizon, as point_metrics counts it
    late = mae_difference_interval(np.array([np.nan]), np.array([10.0]), np.array([12.0]), np.array([1]), 20)
    assert late == (8.0 - 2.0, 8.0 - 2.0)


def test_paydate_gate_reads_the_mae_interval() -> None:
    """s18-firstrun: the MAE line compared points, so a model as good as the baseline failed about
    half the time by chance. With the paired debtor interval of model - better baseline it fails
    only when the whole interval lies above 0; a point below the baseline passes as before."""
    from pipelines.adapters.paydate_registry import gate_decision as paydate_gate

    m = {
        "mae_days": 10.5,
        "due_date_mae_days": 12.0,
        "due_plus_lateness_mae_days": 10.0,
        "coverage_80": 0.80,
    }
    # no interval (a version logged before): the point rule, 10.50 >= 10.00 fails
    assert not paydate_gate(m).passed
    tied = paydate_gate({**m, "mae_diff_ci_low": -0.4, "mae_diff_ci_high": 1.4})
    assert tied.passed and tied.reasons[0] == (
        "ok MAE 10.50 days vs the better baseline 10.00: difference +0.50 days [95 % -0.40, +1.40], "
        "not significantly worse"
    )
    worse = paydate_gate({**m, "mae_diff_ci_low": 0.2, "mae_diff_ci_high": 0.8})
    assert not worse.passed and worse.reasons[0] == (
        "FAIL MAE 10.50 days vs the better baseline 10.00: difference +0.50 days [95 % +0.20, +0.80], "
        "worse with the whole interval above 0"
    )
    better = paydate_gate({**m, "mae_days": 8.0, "mae_diff_ci_low": -3.0, "mae_diff_ci_high": -1.0})
    assert better.passed and better.reasons[0] == (
        "ok MAE 8.00 days vs the better baseline 10.00: difference -2.00 days [95 % -3.00, -1.00]"
    )


def test_evaluate_reports_the_coverage_interval(trained) -> None:
    """The held-out figures carry a debtor-bootstrap interval around the pooled coverage."""
    _, _, booster, T, inv = trained
    metrics, _, _ = evaluate(booster, [(T, inv)], FAST.horizon_weeks)
    assert metrics["coverage_80_ci_low"] <= metrics["coverage_80"] <= metrics["coverage_80_ci_high"]
    assert metrics["coverage_80_ci_high"] - metrics["coverage_80_ci_low"] > 0.005
    # ... and one around the MAE difference with the better baseline (here due + lateness)
    base = min(metrics["due_date_mae_days"], metrics["due_plus_lateness_mae_days"])
    assert metrics["mae_diff_ci_low"] <= metrics["mae_days"] - base <= metrics["mae_diff_ci_high"]
    assert metrics["mae_diff_ci_high"] - metrics["mae_diff_ci_low"] > 0.01


def test_test_invoice_codes_name_one_debtor_across_buckets(portfolio) -> None:
    """The train flow concatenates the buckets' test invoices; each bucket's debtor codes start at
    0, so without the per-bucket shift debtors of different buckets share a code and the coverage
    bootstrap resamples them together. One bucket vs several: the same invoices and the same number
    of distinct debtor codes."""
    from pipelines.engine import Book
    from pipelines.flows.train_paydate import PaydatePlan, build_rows

    snaps = [day(s) for s in pd.date_range("2023-10-31", "2024-03-31", freq="ME")]
    p = PaydatePlan(snaps, day("2024-04-30"), [day("2024-05-31")], snaps, day(str(END.date())))
    one = build_rows.fn(Book.in_memory(portfolio, 10**9), p, FAST.horizon_weeks, 7, 3000)
    many_book = Book.in_memory(portfolio, 2000)
    assert many_book.buckets >= 3
    many = build_rows.fn(many_book, p, FAST.horizon_weeks, 7, 3000)
    a, b = one["test"][0][1], many["test"][0][1]
    assert len(a) == len(b) > 300
    assert b["code"].nunique() == a["code"].nunique() > 20


def test_evaluate_counts_the_debtors_behind_its_figures() -> None:
    """Session 25: the gate names the debtors its figures rest on. Two month-ends, CDFs given (no
    model): at T1 debtors 0, 0, 1 (one of debtor 0's invoices unpaid in the horizon), at T2 debtors 1
    and 2, debtor 2's invoice unpaid. 5 invoices, 3 paid, debtors {0, 1, 2}: 3; with a paid
    invoice {0, 1}: 2 (debtor 2 has none)."""
    weeks = 16
    F = np.tile(np.linspace(0.05, 0.95, weeks), (3, 1))

    def inv(codes, actual):
        n = len(codes)
        return pd.DataFrame(
            {
                "code": codes,
                "actual_days": actual,
                "open_amount": np.full(n, 100.0),
                "due": np.full(n, 0.0),
                "debtor_mean_lateness": np.zeros(n),
            }
        )

    tests = [(100, inv([0, 0, 1], [10.0, np.nan, 20.0])), (130, inv([1, 2], [5.0, np.nan]))]
    metrics, _, _ = evaluate(None, tests, weeks, cdfs=[F, F[:2]], interval="mid")
    assert (metrics["invoices"], metrics["paid_in_horizon"]) == (5.0, 3.0)
    assert (metrics["debtors"], metrics["paid_debtors"]) == (3.0, 2.0)


def _state_book() -> Portfolio:
    """D1 settled 3 invoices 2, 4 and 6 days late in March-April 2024; of its 4 invoices due in the
    60 days to 2024-06-30, one was settled 20 days late, two are open at T (one paid after T) and one
    was paid 5 days early; one more is due after T. D2 has settled nothing, one invoice open past due.
    After T: a payment of an invoice open at T and a new invoice, issued and paid."""
    rows = [  # invoice, debtor, due, settled (None: open at the end of the data)
        ("O1", "D1", "2024-03-01", "2024-03-03"),
        ("O2", "D1", "2024-03-15", "2024-03-19"),
        ("O3", "D1", "2024-04-01", "2024-04-07"),
        ("A", "D1", "2024-05-11", "2024-05-31"),
        ("B", "D1", "2024-06-10", "2024-07-05"),
        ("C", "D1", "2024-06-28", None),
        ("D", "D1", "2024-06-30", "2024-06-25"),
        ("E", "D1", "2024-07-15", None),
        ("F", "D1", "2024-07-20", "2024-07-10"),
        ("J", "D2", "2024-06-15", None),
    ]
    return _book_of(rows, {"F": "2024-07-02"})


def _book_of(rows: list[tuple], issued: dict[str, str] | None = None) -> Portfolio:
    """A book of 100-unit invoices from ``rows`` (invoice, debtor, due, settled or None), issued 30 days
    before their due date (``issued``: other issue dates by invoice), each settled by one payment."""
    issued = issued or {}
    due = pd.to_datetime([r[2] for r in rows])
    issue = due - pd.Timedelta(days=30)
    issue = pd.DatetimeIndex([pd.Timestamp(issued.get(r[0], d)) for r, d in zip(rows, issue, strict=True)])
    inv = pd.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "debtor_id": [r[1] for r in rows],
            "issue_date": issue,
            "due_date": due,
            "amount": 100.0,
            "currency": "EUR",
            "disputed": False,
        }
    )
    paid = [r for r in rows if r[3] is not None]
    pay = pd.DataFrame(
        {
            "payment_id": [f"P{r[0]}" for r in paid],
            "debtor_id": [r[1] for r in paid],
            "invoice_id": [r[0] for r in paid],
            "paid_on": pd.to_datetime([r[3] for r in paid]),
            "amount": 100.0,
        }
    )
    return Portfolio(
        invoices=inv, payments=pay, debtors=pd.DataFrame({"debtor_id": sorted({r[1] for r in rows})})
    )


def _by_invoice(ledger, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows of ``open_invoices``) indexed by invoice id."""
    ids = np.asarray(ledger.invoice_ids.to_pylist(), dtype=object)
    return frame.set_index(ids[frame["pos"].to_numpy()])


def test_due_state_by_hand() -> None:
    """``due_excess_<W>`` / ``due_open_share_<W>`` (session 28): the invoices due in the last W days, open
    ones included, against the debtor's usual lateness before the window. W = 60, ``state_late_60`` and
    ``gap_to_state_60`` are shipped inputs (in every frame, in FEATURES); W = 30 is a candidate."""
    assert {"due_excess_60", "due_open_share_60", "state_late_60", "gap_to_state_60"} <= set(FEATURES)
    ledger = prepare_ledger(_state_book())
    T = day("2024-06-30")
    got = _by_invoice(ledger, open_invoices(ledger, ledger_state(ledger, T)))
    assert "due_excess_30" not in got
    got = got.join(
        _by_invoice(ledger, open_invoices(ledger, ledger_state(ledger, T), candidates=True))[
            ["due_excess_30", "due_open_share_30"]
        ]
    )
    assert sorted(got.index) == ["B", "C", "E", "J"]
    # W = 60: usual = median(2, 4, 6) = 4 (due by 2024-05-01); due in the window: A settled 20 late
    # (T - due 50): 20 - min(4, 50) = 16; B open, 20 days past due: 20 - 4 = 16; C open, 2 days past
    # due: 2 - min(4, 2) = 0; D paid 5 days early, due on T: -5 - min(4, 0) = -5 -> 27 / 4; 2 of 4 open
    assert got.loc["E", "due_excess_60"] == 6.75 and got.loc["B", "due_excess_60"] == 6.75
    assert got.loc["E", "due_open_share_60"] == 0.5
    # W = 30: usual = median(2, 4, 6, 20) = 5 (due by 2024-05-31: A too); B 20 - 5 = 15, C 2 - 2 = 0,
    # D -5 - 0 = -5 -> 10 / 3; 2 of 3 open
    np.testing.assert_allclose(got.loc["C", "due_excess_30"], 10 / 3)
    np.testing.assert_allclose(got.loc["C", "due_open_share_30"], 2 / 3)
    # D2: nothing settled, no usual lateness -> no excess; its one invoice due in the window is open
    assert np.isnan(got.loc["J", "due_excess_60"]) and got.loc["J", "due_open_share_60"] == 1.0
    # state_late_60: the median of the last 5 settlements (2, 4, 6, 20, -5 -> 4) + 6.75; its period gap in
    # week 0: B is 20 + 7 = 27 days past due at the week's end -> 27 - 10.75
    assert got.loc["B", "state_late_60"] == 10.75
    rows = period_rows(got.reset_index(drop=True), T, 1)
    assert rows.loc[got.index.get_loc("B"), "gap_to_state_60"] == 16.25


def test_due_state_ignores_rows_after_t() -> None:
    """Rows dated after T (B's payment, invoice F issued and paid) change none of the candidates at T;
    the same book 20 days later reads B's and C's lateness as they stand then."""
    portfolio = _state_book()
    T = day("2024-06-30")
    cut = pd.Timestamp("2024-06-30")
    early = Portfolio(
        invoices=portfolio.invoices[portfolio.invoices["issue_date"] <= cut],
        payments=portfolio.payments[portfolio.payments["paid_on"] <= cut],
        debtors=portfolio.debtors,
    )
    ledger = prepare_ledger(portfolio)
    for candidates in (False, True):
        full = open_invoices(ledger, ledger_state(ledger, T), candidates=candidates)
        part = open_invoices(
            prepare_ledger(early), ledger_state(prepare_ledger(early), T), candidates=candidates
        )
        assert "due_excess_60" in full
        pd.testing.assert_frame_equal(full.drop(columns="pos"), part.drop(columns="pos"))
    later = _by_invoice(
        ledger, open_invoices(ledger, ledger_state(ledger, day("2024-07-20")), candidates=True)
    )
    # 2024-07-20, W = 30 (due after 2024-06-20): usual = median(2, 4, 6, 20, 25) = 6 (B settled 25 late by
    # now); C open 22 days: 22 - 6 = 16; D: -5 - min(6, 20) = -11; E open 5 days: 5 - 5 = 0; F paid 10
    # early, due on T: -10 - 0 = -10 -> -5 / 4; open: C and E
    assert sorted(later.index) == ["C", "E", "J"]
    assert later.loc["C", "due_excess_30"] == -1.25 and later.loc["E", "due_open_share_30"] == 0.5


def _pace_book() -> Portfolio:
    """D3 before the window: R0 (January, 3 days late), R1 / R2 due in April settled 10 / 30 days late, R3
    due 2024-04-25 open at 2024-06-30 (paid after T). Due in the 60 days to T: W1 settled 16 days late,
    W2 open at T (paid after T), W3 paid 5 days early; W4 is due after T. D4 has no invoice due before
    its window."""
    rows = [
        ("R0", "D3", "2024-01-15", "2024-01-18"),
        ("R1", "D3", "2024-04-10", "2024-04-20"),
        ("R2", "D3", "2024-04-20", "2024-05-20"),
        ("R3", "D3", "2024-04-25", "2024-07-01"),
        ("W1", "D3", "2024-05-20", "2024-06-05"),
        ("W2", "D3", "2024-06-10", "2024-07-02"),
        ("W3", "D3", "2024-06-25", "2024-06-20"),
        ("W4", "D3", "2024-07-10", None),
        ("K1", "D4", "2024-06-20", None),
    ]
    return _book_of(rows)


def test_due_pace_by_hand() -> None:
    """``due_pace_<W>`` (session 29 candidate): the invoices due in the last W days, settled by T or not,
    against the share of the debtor's invoices due in the 90 days before the window that had settled by
    the same age; an invoice of that reference still open at T counts as not settled."""
    ledger = prepare_ledger(_pace_book())
    T = day("2024-06-30")
    assert "due_pace_60" not in open_invoices(ledger, ledger_state(ledger, T))
    got = _by_invoice(ledger, open_invoices(ledger, ledger_state(ledger, T), candidates=True))
    assert sorted(got.index) == ["K1", "R3", "W2", "W4"]
    # W = 60, reference due in (2024-02-01, 2024-05-01]: R1 10, R2 30, R3 open (R0 is older). Window:
    # W1 settled, 41 days after due: 1 - 2/3; W2 open, 20 days: 0 - 1/3; W3 settled, 5 days: 1 - 0 -> 1/3
    np.testing.assert_allclose(got.loc["W4", "due_pace_60"], 1 / 3)
    # W = 30, reference due in (2024-03-02, 2024-05-31]: R1 10, R2 30, R3 open, W1 16. Window: W2 0 - 2/4,
    # W3 1 - 0 -> 1/4
    assert got.loc["W2", "due_pace_30"] == 0.25
    # D4: no reference invoice -> NaN
    assert np.isnan(got.loc["K1", "due_pace_60"]) and np.isnan(got.loc["K1", "due_pace_30"])


def test_due_pace_ignores_rows_after_t() -> None:
    """W2's and R3's payments after T change nothing at T; 2024-07-05 reads them as they stand then."""
    portfolio = _pace_book()
    cut = pd.Timestamp("2024-06-30")
    early = Portfolio(
        invoices=portfolio.invoices,
        payments=portfolio.payments[portfolio.payments["paid_on"] <= cut],
        debtors=portfolio.debtors,
    )
    T = day("2024-06-30")
    full, part = prepare_ledger(portfolio), prepare_ledger(early)
    a = open_invoices(full, ledger_state(full, T), candidates=True)
    b = open_invoices(part, ledger_state(part, T), candidates=True)
    pd.testing.assert_frame_equal(a, b)
    later = _by_invoice(full, open_invoices(full, ledger_state(full, day("2024-07-05")), candidates=True))
    # 2024-07-05, W = 60, reference due in (2024-02-06, 2024-05-06]: R1 10, R2 30, R3 67 (paid 2024-07-01).
    # Window: W1 (46 days) 1 - 2/3, W2 (25, paid 2024-07-02) 1 - 1/3, W3 (10) 1 - 1/3 -> 5/9
    np.testing.assert_allclose(later.loc["W4", "due_pace_60"], 5 / 9)
