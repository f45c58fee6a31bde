"""Session 33 (s33-lag): payments_lag_days counted in usual payment days against the lags of the runs
published in the weeks before (BENCHMARKS.md, "Session 33 (s33-lag)"). A book invoiced and paid every
working day (Monday to Friday) from Monday 2 September 2024; every expected value is by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import (
    FeedCheckError,
    evaluate_feed,
    payments_lag,
    remembered,
    table_lag,
    weekday_names,
    with_memory,
)

CFG = NightlyConfig()
LIMIT = CFG.feed_checks.payments_lag
WORKING_DAYS = pd.Series(1, index=pd.bdate_range("2024-09-02", "2024-12-31"))
TRAINING = "the training data of ews-pd v1 (snapshot 2024-11-29)"


def _lag(last: str, as_of: str) -> dict:
    return table_lag(WORKING_DAYS[WORKING_DAYS.index <= last], pd.Timestamp(as_of))


def _feed(pay_last: str, inv_last: str, as_of: str, published: dict | None = None) -> dict:
    """The feed figures the checks read: the ledger's size (every other check passes) and the lags."""
    pay = _lag(pay_last, as_of) | {"file": "exports/payments.csv"}
    if published is not None:
        pay["published"] = published
    return {
        "rows": {"invoices": 6_000, "payments": 5_000},
        "accepted": {"invoices": 6_000, "payments": 5_000},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
        "lags": {"invoices": _lag(inv_last, as_of), "payments": pay},
    }


def test_table_lag_counts_the_lag_and_the_silences_in_usual_payment_days() -> None:
    """Rows every weekday up to Friday 13 December: Monday to Friday held rows on 8 of their last 8
    weeks, Saturday and Sunday on none. At Tuesday 17th the lag is 4 days (14th-17th), 2 of them usual
    payment days (Mon 16th, Tue 17th); the longest silence is 2 days (a weekend), 0 usual days. A table
    paid on 3 Mondays and 2 Fridays only: no weekday reaches 4 of 8, every day counts."""
    assert _lag("2024-12-13", "2024-12-17") == {
        "last": "2024-12-13",
        "lag": 4,
        "usual": 2,
        "days": 75,  # the weekdays from 2 September to 13 December: 15 weeks
        # s36-walk: the 90 days to the 13th start Sat 14 September: its weekend is the first silence
        # in them (2 days); the 9 silences ending on or before the 14th (Tue 3rd .. Fri 13th) longest 2
        "hole": 2,
        "hole_from": "2024-09-14",
        "year_usual": 2,
        "year_days": 9,
        "weekdays": "1111100",
        "lag_usual_days": 2,
        "usual_usual_days": 0,
    }
    sparse = pd.Series(
        1, index=pd.to_datetime(["2024-11-04", "2024-11-15", "2024-11-18", "2024-11-29", "2024-12-02"])
    )
    found = table_lag(sparse, pd.Timestamp("2024-12-05"))
    assert (found["weekdays"], found["lag_usual_days"], found["usual_usual_days"]) == ("1111111", 3, 10)
    assert weekday_names("1111100") == "Mon-Fri" and weekday_names("1111111") == "every day"
    assert weekday_names("1010100") == "Mon, Wed, Fri"


def test_a_feed_posted_two_days_late_after_a_weekend_is_not_refused_when_earlier_runs_showed_that_lag() -> (
    None
):
    """The export is made the next morning (invoices to yesterday) and the payments are posted 2 days
    late. Tuesday 17 December: invoices to Monday 16th, payments to Saturday 14th, i.e. Friday 13th. The
    training export (made on a Monday, holding rows to Friday 29 November) lags 0 days: the delay hid
    behind its weekend. Calendar days (55841d6 + ef4f849): lag 4 > weekend 2 + delay 0 + 1, refused on
    every such Tuesday. The run of Wednesday 4th lagged 3 usual payment days (Mon-Wed; payments to
    Friday 29th); it is at least 7 days old: tonight's 2 usual payment days <= 3 + 1, passed, and
    tonight's lag joins the runs remembered. The same night with the payments to Friday 6th (a week
    more): 7 usual payment days > 4, refused, naming the lag, the usual lag and the fix."""
    training = (TRAINING, {"lags": {"payments": _lag("2024-11-29", "2024-11-29")}})
    prev_lags = _lag("2024-12-13", "2024-12-16") | {"published": {"2024-12-04": 3, "2024-12-16": 1}}
    previous = ("the previous run 2024-12-16", {"lags": {"payments": prev_lags}})
    as_of = dt.date(2024, 12, 17)
    tonight = _feed("2024-12-13", "2024-12-16", "2024-12-17")
    check = payments_lag(tonight, as_of, LIMIT, previous, training)
    assert (check.status, check.value, check.reference) == ("ok", 2, 3)
    with pytest.raises(FeedCheckError):  # without the runs remembered: calendar days, as before
        evaluate_feed(tonight, CFG, previous=None, training=training, as_of=as_of)
    feed = evaluate_feed(
        tonight,
        CFG,
        previous=("the previous run 2024-12-16", {**tonight, "lags": {"payments": prev_lags}}),
        training=training,
        as_of=as_of,
    )
    assert feed["figures"]["lags"]["payments"]["published"] == {
        "2024-12-04": 3,
        "2024-12-16": 1,
        "2024-12-17": 2,
    }
    behind = _feed("2024-12-06", "2024-12-16", "2024-12-17")
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(behind, CFG, previous=previous, training=training, as_of=as_of)
    text = info.value.full  # how the usual lag is counted: `ews score --verbose` (s36-walk)
    assert (
        "payments_lag_days: the latest payment in exports/payments.csv is dated 2024-12-06, 7 usual payment days "
        "(Mon-Fri; 11 days) before --as-of 2024-12-17 and 10 days before the latest invoice (2024-12-16); the "
        "book's usual lag is at most 3 usual payment days (the largest payments lag of the run published on "
        "2024-12-04, 3 usual payment days; its longest silence between payment days in the 400 days before it, 0 "
        "usual payment days, + the posting delay, 0 usual payment days): the payments feed looks 7 usual payment "
        "days behind"
    ) in text
    assert "`ews score --as-of 2024-12-06`" in text and "--accept-feed" in text


def test_a_payments_feed_two_days_behind_is_refused_on_a_book_exported_the_same_day() -> None:
    """Exports made on the day, payments posted on the day: every remembered run lagged 0 usual payment
    days. Wednesday 18 December with the payments to Monday 16th: 2 calendar days, inside the weekend's
    2 + 1 (it passed before); 2 usual payment days (Tue, Wed) > 0 + 1: refused. The payments to Tuesday
    17th (1 usual payment day): passed."""
    previous = (
        "the previous run 2024-12-17",
        {
            "lags": {
                "payments": _lag("2024-12-17", "2024-12-17")
                | {"published": {"2024-12-04": 0, "2024-12-11": 0}}
            }
        },
    )
    as_of = dt.date(2024, 12, 18)
    check = payments_lag(_feed("2024-12-16", "2024-12-18", "2024-12-18"), as_of, LIMIT, previous, None)
    assert (check.status, check.value, check.reference) == ("failed", 2, 0)
    assert "at most 1 usual payment day (Mon-Fri) behind" in check.limit
    assert (
        payments_lag(_feed("2024-12-17", "2024-12-18", "2024-12-18"), as_of, LIMIT, previous, None).status
        == "ok"
    )


def test_a_stalls_first_nights_do_not_teach_it_their_lag() -> None:
    """The payments stop after Friday 13 December on a book exported the same day. Monday 16th's run
    lagged 1 usual payment day and passed (0 + 1); it is remembered but less than 7 days old, so Tuesday
    17th is judged against the runs of 4th and 11th (0): 2 > 0 + 1, refused. Had Monday's 1 counted, 2
    <= 1 + 1 would have passed, and so on every night after."""
    published = {"2024-12-04": 0, "2024-12-11": 0, "2024-12-16": 1}
    previous = (
        "the previous run 2024-12-16",
        {"lags": {"payments": _lag("2024-12-13", "2024-12-16") | {"published": published}}},
    )
    check = payments_lag(
        _feed("2024-12-13", "2024-12-17", "2024-12-17"), dt.date(2024, 12, 17), LIMIT, previous, None
    )
    assert (check.status, check.value, check.reference) == ("failed", 2, 0)


def test_the_runs_remembered_are_those_of_the_35_days_before_tonight_that_passed() -> None:
    """A run of 12 November is 36 days before 18 December: forgotten; a run dated tonight or later (a
    rerun, a backfill before a later run) is not an earlier run's. A night whose payments_lag_days
    failed (published with --accept-feed) adds nothing."""
    previous = (
        "p",
        {"lags": {"payments": {"published": {"2024-11-12": 5, "2024-11-13": 4, "2024-12-18": 9}}}},
    )
    assert remembered(previous, dt.date(2024, 12, 18)) == {"2024-11-13": 4}
    tonight = _feed("2024-12-16", "2024-12-18", "2024-12-18")
    kept = with_memory(tonight, previous, dt.date(2024, 12, 18), passed=False)
    assert kept["lags"]["payments"]["published"] == {"2024-11-13": 4}
    assert "published" not in tonight["lags"]["payments"]  # the input is not changed
    assert with_memory(tonight, previous, dt.date(2024, 12, 18), passed=True)["lags"]["payments"][
        "published"
    ] == {
        "2024-11-13": 4,
        "2024-12-18": 2,
    }
