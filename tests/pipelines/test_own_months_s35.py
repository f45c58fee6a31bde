"""invoices_per_debtor_90d against the training data, judged again on the book's own months in
today's export (s35-feed): a gradual fall of the book's invoicing publishes, saying which reference
judged it; a step in the last month, or invoices missing over the whole export, stay refused.

Hand-built books of 2,500 debtors, training snapshot 2024-03-31, scored on 2024-09-30: 150 invoices
a day up to the snapshot's blocks (13,500 in its 90 days: 5.4 per debtor), then per 30-day block
ending on 2024-05-03, 06-02, 07-02, 08-01, 08-31 and 09-30: 135, 120, 110, 100, 90 and 85 a day
(4,050, 3,600, 3,300, 3,000, 2,700, 2,550 invoices; each 0.89-0.94 times the block before)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import OWN_MONTHS, FeedCheckError, evaluate_feed

SNAPSHOT, AS_OF = dt.date(2024, 3, 31), dt.date(2024, 9, 30)
PER_DAY = {
    "2024-05-03": 135,
    "2024-06-02": 120,
    "2024-07-02": 110,
    "2024-08-01": 100,
    "2024-08-31": 90,
    "2024-09-30": 85,
}


def invoice_days(last: int = 85, share: float = 1.0) -> pd.Series:
    """Invoices per issue day from 2023-07-01 to 2024-09-30 (``last``: a day in the block to 09-30)."""
    days = pd.date_range("2023-07-01", "2024-09-30", freq="D")
    counts = pd.Series(150.0, index=days)
    start = pd.Timestamp("2024-04-03")
    for stop, n in PER_DAY.items():
        counts[(days > start) & (days <= pd.Timestamp(stop))] = n
        start = pd.Timestamp(stop)
    counts[days > pd.Timestamp("2024-08-31")] = last
    return (counts * share).round().astype("int64")


def one_in_the_last_month() -> pd.Series:
    """The fall, then a single invoice (2024-09-15) in the 30 days to 2024-09-30."""
    counts = invoice_days(last=0)
    counts[pd.Timestamp("2024-09-15")] = 1
    return counts


def figures(invoices_90d: int, debtors: int = 2_500) -> dict:
    return {
        "rows": {"invoices": 60_000, "debtors": debtors},
        "accepted": {"invoices": 60_000, "debtors": debtors},
        "quarantine_share": {"invoices": 0.0, "debtors": 0.0},
        "debtors": debtors,
        "invoices_90d": invoices_90d,
    }


TRAIN = ("the training data of ews-pd v1 (snapshot 2024-03-31)", figures(13_500))


def judged(today: dict, days: pd.Series) -> dict:
    """The first night into a new output folder: the training data the only reference, today's
    export's invoices per day ``days``."""
    return evaluate_feed(
        today,
        NightlyConfig(),
        previous=None,
        training=TRAIN,
        as_of=AS_OF,
        invoice_days=days,
        snapshot=SNAPSHOT,
    )


def test_a_gradual_fall_of_invoicing_is_judged_by_the_books_own_months_and_published() -> None:
    # 90 days to 2024-09-30: 2,550 + 2,700 + 3,000 = 8,250, 3.3 per debtor vs 5.4: ratio 0.61 < 0.67
    with pytest.raises(
        FeedCheckError, match="invoices_per_debtor_90d: 3.3 today vs 5.4"
    ):  # the training data alone
        evaluate_feed(figures(8_250), NightlyConfig(), previous=None, training=TRAIN, as_of=AS_OF)
    feed = judged(figures(8_250), invoice_days())
    assert feed["status"] == "passed"
    check = next(c for c in feed["checks"] if c["check"] == "invoices_per_debtor_90d")
    assert (
        check["status"] == "ok"
        and check["value"] == pytest.approx(3.3)
        and check["reference"] == pytest.approx(5.4)
    )
    assert check["limit"] == (
        "ratio 0.67 to 4, checked from 50 debtors; judged by the book's own months in today's export: it holds "
        "the snapshot's invoices (13,500 in its 90 days, 13,500 in the training data) and a gradual change since, "
        "invoices per 30 days 4,500 (a third of the snapshot's 90 days) -> 4,500 to 2024-04-03 -> 4,050 to "
        "2024-05-03 -> 3,600 to 2024-06-02 -> 3,300 to 2024-07-02 -> 3,000 to 2024-08-01 -> 2,700 to 2024-08-31 "
        "-> 2,550 to 2024-09-30, each within 0.67 to 1.5 of the one before"
    )
    assert feed["references"] == [TRAIN[0], OWN_MONTHS]
    assert feed["judged"] == {"invoices_per_debtor_90d": OWN_MONTHS}
    assert feed["note"].startswith(
        "invoices_per_debtor_90d: 3.3 today vs 5.4 in the training data of ews-pd v1 (snapshot 2024-03-31), "
        "outside the training limit, but judged by the book's own months in today's export: it holds the snapshot's invoices"
    )
    assert feed["note"].endswith(
        "a real change of the book, not refused; retrain (ews train) so that the champion learns the book as it is now"
    )


@pytest.mark.parametrize(
    ("days", "today", "why"),
    [
        (  # the fall, then half the last month's invoices missing: 43 a day: 1,290 + 2,700 + 3,000 = 6,990 (2.8)
            invoice_days(last=43),
            6_990,
            "today's export holds 1,290 invoices issued in the 30 days to 2024-09-30, 0.48 times the 2,700 of "
            "the 30 days before (outside 0.67 to 1.5): invoices missing from the latest months, not a gradual change",
        ),
        (  # the fall, then the last month missing: 0 + 2,700 + 3,000 = 5,700 (2.3)
            invoice_days(last=0),
            5_700,
            "today's export holds 0 invoices issued in the 30 days to 2024-09-30, 0.00 times the 2,700 of "
            "the 30 days before (outside 0.67 to 1.5): invoices missing from the latest months, not a gradual change",
        ),
        (  # every day's invoices halved: 4,125 in the last 90 days (1.6), 6,750 in the snapshot's
            invoice_days(share=0.5),
            4_125,
            "today's export holds 6,750 invoices issued in the 90 days to the snapshot 2024-03-31, the training "
            "data 13,500 (outside 0.67 to 1.5): invoices missing from the export, or another export",
        ),
        (  # one invoice: 1 + 2,700 + 3,000 = 5,701 (2.3), counted in words
            one_in_the_last_month(),
            5_701,
            "today's export holds 1 invoice issued in the 30 days to 2024-09-30, 0.00 times the 2,700 of "
            "the 30 days before (outside 0.67 to 1.5): invoices missing from the latest months, not a gradual change",
        ),
    ],
    ids=["last_month_halved", "last_month_missing", "half_of_every_month", "one_invoice_in_the_last_month"],
)
def test_a_step_or_invoices_missing_throughout_stay_refused_naming_the_block(
    days: pd.Series, today: int, why: str
) -> None:
    with pytest.raises(FeedCheckError) as info:
        judged(figures(today), days)
    line = str(info.value).splitlines()[1]
    assert line.startswith(
        f"  - invoices_per_debtor_90d: {today / 2_500:.1f} today vs 5.4 in {TRAIN[0]} (limit: ratio"
    )
    assert line.endswith(f"; not explained by {OWN_MONTHS}: {why})")


def test_a_book_whose_debtors_grew_past_the_previous_runs_limit_stays_refused() -> None:
    # 4,000 debtors vs 2,500 (1.6 > 1.5): the fall per debtor is the book's size, not its invoicing
    with pytest.raises(
        FeedCheckError,
        match=r"4,000 debtors scored today vs 2,500 at the snapshot 2024-03-31 \(outside 0.67 to 1.5\)",
    ):
        judged(figures(8_250, debtors=4_000), invoice_days())
