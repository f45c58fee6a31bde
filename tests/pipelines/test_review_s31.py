"""Session 31 review (s31-review): cases the session's own tests left open. Hand-built frames; every
expected value is by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.tables import Portfolio
from pipelines.config.nightly import LagLimit, NightlyConfig
from pipelines.engine import Book
from pipelines.feed_checks import (
    FeedCheckError,
    evaluate_feed,
    feed_figures,
    payments_lag,
    stated_ratios,
    training_reference,
)
from pipelines.flows.nightly import all_quarantined
from tests.pipelines.test_feed_checks import figures


def test_a_debtor_whose_invoices_are_all_dated_after_the_as_of_date_is_not_named_as_quarantined() -> None:
    """da3a50c names the scored debtors whose every invoice was quarantined. A debtor onboarded by
    the as-of date whose first invoices are dated after it (date_after_as_of at an ingest as of that
    date: a future-dated invoice, a backfill of an earlier date) owes nothing yet and is rightly
    scored so: D1 (two such invoices) is not named. D4 has one invoice lost to no_fx_rate:USD and one
    dated after the as-of date: its only invoice of the night was lost, it is named for the lost one
    alone. D2 has an accepted invoice. (A generated 300 x 12 book, seed 3141, ingested as of
    2023-12-20: 1 such debtor, D0000146, was named with 'date_after_as_of:issue_date (3)'.)"""
    accepted = pd.DataFrame(
        {
            "invoice_id": ["I3"],
            "debtor_id": pd.Series(["D2"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01"]),
            "due_date": pd.to_datetime(["2024-05-31"]),
            "amount": [10.0],
        }
    )
    book = Book.in_memory(Portfolio(invoices=accepted), 1_000)
    quarantine = {
        "invoices": pd.DataFrame(
            {
                "invoice_id": ["I1", "I2", "I5", "I6"],
                "debtor_id": ["D1", "D1", "D4", "D4"],
                "reason": [
                    "date_after_as_of:issue_date",
                    "date_after_as_of:issue_date",
                    "no_fx_rate:USD",
                    "date_after_as_of:issue_date",
                ],
            }
        )
    }
    scores = pd.DataFrame({"debtor_id": ["D1", "D2", "D4"], "pd": [0.01, 0.02, 0.03]})
    found = all_quarantined(book, quarantine, scores)
    assert found["debtor_id"].tolist() == ["D4"]
    assert found["reasons"].tolist() == ["no_fx_rate:USD (1)"]


def _lags(pay_last: str, inv_last: str, as_of: str, usual: int, days: int) -> dict:
    """The ``lags`` figure: latest payment / invoice, both tables' usual silence ``usual``."""
    end = dt.date.fromisoformat(as_of)

    def one(last: str) -> dict:
        return {"last": last, "lag": (end - dt.date.fromisoformat(last)).days, "usual": usual, "days": days}

    return {"lags": {"invoices": one(inv_last), "payments": one(pay_last)}}


def test_payments_lag_the_edges_of_its_two_limits() -> None:
    """71e3a58's own tests left both edges open (review_mutations Y6, Y7 survived them). As-of Tue 31
    December 2024, usual silence 2 days, margin 1: payments up to the 24th (7 days behind).
    - 20 payment days in the window (min_days 20) is checked, hence refused; 19 is too small.
    - invoices up to the 28th: 3 days, exactly their usual 2 + the margin 1, so the ledger is not
      quiet beyond its usual and the payments alone are behind: refused. Invoices up to the 27th (4
      days, beyond 2 + 1): the whole ledger quiet, left to max_data_lag_days: ok."""
    as_of, limit = dt.date(2024, 12, 31), LagLimit()
    assert (limit.margin_days, limit.min_days) == (1, 20)
    status = {
        (inv, days): payments_lag(_lags("2024-12-24", inv, "2024-12-31", 2, days), as_of, limit).status
        for inv, days in (("2024-12-31", 20), ("2024-12-31", 19), ("2024-12-28", 250), ("2024-12-27", 250))
    }
    assert status == {
        ("2024-12-31", 20): "failed",
        ("2024-12-31", 19): "too small to check",
        ("2024-12-28", 250): "failed",
        ("2024-12-27", 250): "ok",
    }


def test_a_turnover_in_thousands_is_refused_against_the_median_the_previous_run_recorded() -> None:
    """f5f887e compares annual_turnover by the median the previous run recorded in its figures
    (feed_figures' stated_amounts); its own test wrote that figure by hand, so a run that never
    recorded it passed (review_mutations Z3 survived). Last night 25 debtors stated 1,000 .. 25,000:
    median 13,000 (the 13th); net_worth 0 for all (no positive value: not recorded). Tonight the same
    turnovers in thousands, 1 .. 25: median 13, ratio 13 / 13,000 = 0.001 < 0.1: refused."""
    ids = [f"D{i}" for i in range(1, 26)]
    scores = pd.DataFrame({"debtor_id": ["D1"], "in_default": [False], "open_balance": [1.0]})
    last = pd.DataFrame(
        {"debtor_id": ids, "annual_turnover": [1_000.0 * i for i in range(1, 26)], "net_worth": [0.0] * 25}
    )
    recorded = feed_figures({}, None, scores, debtors=last)
    assert recorded["stated_amounts"] == {"annual_turnover": {"median": 13_000.0, "debtors": 25}}
    tonight = last.assign(annual_turnover=[float(i) for i in range(1, 26)])
    ratios = stated_ratios(tonight, None, recorded)
    assert ratios == {"annual_turnover": (0.001, 25, "of the medians")}
    today = feed_figures({}, None, scores, debtors=tonight)
    with pytest.raises(
        FeedCheckError, match=r"stated.annual_turnover: the debtors' annual_turnover is 0.001 times"
    ):
        evaluate_feed(
            today,
            NightlyConfig(),
            previous=("the previous run 2024-12-30", recorded),
            training=None,
            stated=ratios,
        )


def test_a_limit_stated_on_one_night_only_is_not_in_the_credit_limit_ratio() -> None:
    """credit_limit per debtor 'over the debtors stating one on both nights': 30 debtors keep their
    limits 1,000 .. 30,000; 40 more had 0 last night (no limit) and 5,000 tonight (review_mutations Z4:
    with the zeros in, 40 of 70 ratios are infinite and the median is too). Ratio 1.0 over 30 debtors."""
    kept = [f"D{i}" for i in range(1, 31)]
    new = [f"N{i}" for i in range(1, 41)]
    previous = pd.DataFrame(
        {"debtor_id": kept + new, "credit_limit_current": [1_000.0 * i for i in range(1, 31)] + [0.0] * 40}
    )
    tonight = pd.DataFrame(
        {"debtor_id": kept + new, "credit_limit": [1_000.0 * i for i in range(1, 31)] + [5_000.0] * 40}
    )
    assert stated_ratios(tonight, previous, None) == {"credit_limit": (1.0, 30, "per debtor")}


def test_the_training_reference_keeps_the_median_of_the_debtors_paid_per_invoiced() -> None:
    """adc4a4b checks the median of each debtor's paid / invoiced (one debtor paying a backlog moves
    it by at most one rank). Its tests held one debtor's ratio, so the mean passed for the median
    (review_mutations A4), and the training reference was never built with it (A5: against the
    training data the sum would be judged again). A snapshot of 3 debtors: paid 900 / 100 / 3,000 of
    1,000 / 100 / 100 invoiced: ratios 0.9, 1.0, 30: median 1.0 over 3 debtors (the mean 10.63, the
    sum's ratio 4,000 / 1,200 = 3.33)."""
    rows = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2024-06-30"] * 3),
            "debtor_id": ["D1", "D2", "D3"],
            "in_default_at_asof": [False, False, False],
            "open_balance": [100.0, 0.0, 50.0],
            "invoice_count_90d": [3, 1, 1],
            "payment_amount_90d": [900.0, 100.0, 3_000.0],
            "invoice_amount_90d": [1_000.0, 100.0, 100.0],
        }
    )
    [snap] = training_reference({}, None, rows)["snapshots"]
    assert (snap["paid_per_invoiced_median_90d"], snap["paid_per_invoiced_debtors"]) == (1.0, 3)
    assert round(snap["paid_per_invoiced_90d"], 4) == 3.3333


def test_the_median_is_checked_only_when_both_sides_have_enough_debtors_behind_it() -> None:
    """min_basis 50 debtors on both sides (adc4a4b: basis the fewer of today's and the reference's
    debtors behind the median); its test had 49 today against 4,000 (review_mutations A3: today's
    count alone passed it). Today 97.0 over 4,000 debtors against 0.97 over 49: too small to check."""

    def ppi(median: float, debtors: int) -> dict:
        return figures(paid_per_invoiced_median_90d=median, paid_per_invoiced_debtors=debtors)

    feed = evaluate_feed(ppi(97.0, 4_000), NightlyConfig(), previous=("prev", ppi(0.97, 49)), training=None)
    assert {c["check"]: c["status"] for c in feed["checks"]}[
        "paid_per_invoiced_median_90d"
    ] == "too small to check"


def test_under_the_pd_floor_counts_only_the_debtors_left_off_the_list() -> None:
    """0e122cd's under_floor_share: the live debtor-months inside the top share whose PD lay under the
    rank trigger's floor 'and were not on the list'. Its test read the rank-alone row only, where the
    two are the same (review_mutations B1, the 'not on the list' dropped, survived). The hand panel of
    test_backtest at the top 50 % with a floor of 0.25 (test_ux_s31's _floored): inside the top 50 %
    under 0.25 are D3 (0.20) in Jan, Feb and Mar and D4 (0.10) in Mar: 4 of 30 with the rank trigger
    alone. Beside the other triggers, the threshold band D (PD >= 0.07) flags D3 and D4 every
    month-end, so none of the 4 is left off: 0."""
    from pipelines.backtest import list_size_figures
    from tests.pipelines.test_backtest import _list_size_panel
    from tests.pipelines.test_ux_s31 import _floored

    rows = {(r["rule"], r["share"]): r for r in list_size_figures(_list_size_panel(), _floored(), [0.5])}
    assert rows[("rank", 0.5)]["under_floor_share"] == pytest.approx(4 / 30)
    assert rows[("rules", 0.5)]["under_floor_share"] == 0.0
