"""A mass write-off explained by the feed, session 25 (s25-history; BENCHMARKS.md "Hostile inputs
tried", "Session 25 (s25-history)"): a year-end clean-up that writes off many defaulted debtors'
invoices makes ``default_exposure`` fall below a quarter of the previous run's. When the feed
itself carries the write-offs (credit memos, ``write_off`` events) for those debtors since the
reference, the check passes and says so; a fall they do not explain stays refused. Each test
failed on main 67dded9 (no ``written_off``); every expected number is by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.tables import Portfolio
from pipelines.adapters.files import conform
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.feed_checks import FeedCheckError, evaluate_feed, written_off

AS_OF = dt.date(2025, 12, 31)
SINCE = dt.date(2025, 11, 30)


def _book() -> Book:
    """D1: credit memos of 300.00 (2025-12-15) and 200.00 (2025-12-31) after 2025-11-30, one of
    100.00 on 2025-11-30 itself (not after it), a cash payment of 50.00, and a write_off event of
    400.00 (2025-12-20): max(500, 400) = 500. D2: a write_off event of 1,000.00 (2025-12-10) and
    no memo: 1,000. D3, not among the debtors asked about, a memo of 700.00. Total 1,500.00."""
    pay = pd.DataFrame(
        {
            "payment_id": ["M1", "M2", "M0", "C1", "M3"],
            "debtor_id": ["D1", "D1", "D1", "D1", "D3"],
            "invoice_id": ["I1", "I2", "I3", "I1", "I9"],
            "paid_on": pd.to_datetime(["2025-12-15", "2025-12-31", "2025-11-30", "2025-12-16", "2025-12-15"]),
            "amount": [300.0, 200.0, 100.0, 50.0, 700.0],
            "kind": ["credit", "credit", "credit", "cash", "credit"],
        }
    )
    events = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D2"],
            "event_date": pd.to_datetime(["2025-12-20", "2025-12-10", "2025-06-01"]),
            "kind": ["write_off", "write_off", "agency_placement"],
            "amount": [400.0, 1_000.0, 9_000.0],
        }
    )
    inv = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I9", "I5"],
            "debtor_id": ["D1", "D1", "D1", "D3", "D2"],
            "issue_date": pd.to_datetime(["2025-01-01"] * 5),
            "due_date": pd.to_datetime(["2025-01-31"] * 5),
            "amount": [1_000.0] * 5,
        }
    )
    portfolio = Portfolio(
        invoices=conform(inv, "invoices"), payments=conform(pay, "payments"), events=conform(events, "events")
    )
    return Book.in_memory(portfolio, 1_000_000)


def test_what_the_feed_wrote_off_for_the_debtors_since_a_date() -> None:
    assert written_off(_book(), pd.Series(["D1", "D2"]), SINCE, AS_OF) == pytest.approx(1_500.0)
    assert written_off(_book(), pd.Series(["D1"]), None, AS_OF) == pytest.approx(600.0)  # 300+200+100
    assert written_off(_book(), pd.Series(["D4"]), SINCE, AS_OF) == 0.0


def _figures(default_exposure: float, defaulted: int, debtors: int = 1_500) -> dict:
    return {
        "rows": {},
        "quarantine_share": {},
        "debtors": debtors,
        "default_share": defaulted / debtors,
        "default_exposure": default_exposure,
    }


PREVIOUS = ("the previous run 2025-12-30", _figures(6_000_000.0, 118))


def test_a_fall_the_feeds_write_offs_explain_is_published_and_says_so() -> None:
    """1,000,000 today vs 6,000,000: 0.167, under 0.25 (refused on 67dded9). The feed wrote off
    4,000,000 for debtors in default since the previous run: (1,000,000 + 4,000,000) / 6,000,000 =
    0.833, inside: passed, the check and the feed's note say why."""
    feed = evaluate_feed(
        _figures(1_000_000.0, 110),
        NightlyConfig(),
        previous=PREVIOUS,
        training=None,
        written={"previous": 4e6},
    )
    assert feed["status"] == "passed"
    check = next(c for c in feed["checks"] if c["check"] == "default_exposure")
    assert check["status"] == "ok"
    assert "the feed wrote off 4,000,000 for debtors in default since then" in check["limit"]
    assert "5,000,000 with them" in check["limit"]
    assert feed["write_offs"] == (
        "default_exposure fell to 1,000,000 vs 6,000,000 in the previous run 2025-12-30, and the feed wrote off "
        "4,000,000 for debtors in default since then (credit memos, write_off events): 5,000,000 with them: inside "
        "the limit, not refused"
    )
    assert feed["write_offs"] in feed["note"]


@pytest.mark.parametrize("written", [None, {}, {"previous": 400_000.0}, {"training": 4e6}])
def test_a_fall_the_feed_does_not_explain_stays_refused(written: dict | None) -> None:
    """No write-offs, or 400,000 of them: (1,000,000 + 400,000) / 6,000,000 = 0.233, still under
    0.25; write-offs since the training snapshot do not explain a fall against the previous run."""
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(
            _figures(1_000_000.0, 110), NightlyConfig(), previous=PREVIOUS, training=None, written=written
        )
    line = next(x for x in str(info.value).splitlines() if "default_exposure" in x)
    if written == {"previous": 400_000.0}:
        assert "wrote off 400,000" in line and "1,400,000 with them, still outside the limit" in line
    else:
        assert "wrote off" not in line


def test_the_nightly_reads_the_write_offs_only_for_a_reference_whose_fall_fails() -> None:
    """``nightly._written_off``: against the previous run (default_exposure 6,000 > 1,000 / 0.25), the
    debtors in default in the previous run (D2; not D1, in default today only: s26-history) since its
    date 2025-11-30: 1,000. Against the training (2,000: 1,000 / 2,000 = 0.5 >= 0.1) nothing is read."""
    from pipelines.flows.nightly import _written_off

    scores = pd.DataFrame({"debtor_id": ["D1", "D3"], "in_default": [True, False]})
    before = pd.DataFrame({"debtor_id": ["D2", "D3"], "in_default": [True, False]})
    today = _figures(1_000.0, 1)
    out = _written_off(
        _book(),
        scores,
        AS_OF,
        NightlyConfig(),
        ("2025-11-30", {}, before),
        ("the previous run 2025-11-30", _figures(6_000.0, 2)),
        "2025-06-30",
        _figures(2_000.0, 2),
        today,
    )
    assert out == {"previous": pytest.approx(1_000.0)}
