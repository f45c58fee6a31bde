"""Rolling and partial feeds, session 24 (s24-hostile; BENCHMARKS.md "Hostile inputs tried", "Session 24
(s24-hostile)"): rolling and partial feeds. Every expected number is by hand; each test failed on
main b18b173 (run against a `git archive` of it), except the guards that say so; the span cases and
``table_spans`` with an ImportError (new functions), the training reference, the rows per month and
the previous-run cases at their assertions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

AS_OF = dt.date(2025, 12, 31)


def _days(first: str, last: str, per_day: int) -> pd.Series:
    index = pd.date_range(first, last, freq="D")
    return pd.Series(per_day, index=index, dtype="int64")


def _counts(*parts: pd.Series) -> pd.Series:
    return pd.concat(parts).groupby(level=0).sum()


STRAY = pd.Series([1], index=pd.to_datetime(["2001-01-15"]), dtype="int64")
SIX_MONTHS = _days("2025-07-01", "2025-12-31", 10)  # 184 days, 1,840 rows


# ------------------------------------------------------- item 1: a table's span starts where its rows do


@pytest.mark.parametrize(
    ("counts", "span"),
    [
        # the last 6 months, 10 rows a day: 184 days, 1,840 rows
        (SIX_MONTHS, (184, 1_840)),
        # the same with one mistyped date 2001-01-15: its stretch to the end (9,117 days, 1,841 rows:
        # 0.2 a day) is far below 3/4 of the densest stretch (10 a day): the span starts 2025-07-01.
        # Before (b18b173): the first date, 9,117 days
        (_counts(SIX_MONTHS, STRAY), (184, 1_840)),
        # three stray dates, the last a month before the export (2024-11-30: 397 days to the end,
        # 1,841 rows, 4.6 a day < 7.5): the same span
        (
            _counts(
                SIX_MONTHS,
                pd.Series([1, 1, 1], index=pd.to_datetime(["2001-01-15", "2019-03-02", "2024-11-30"])),
            ),
            (184, 1_840),
        ),
        # rows after the end (a feed delivered later, scored at an earlier date) count neither in
        # the rows nor in the days: 2025-07-01 .. 2026-06-30 to 2025-12-31 is the 6 months above
        (_days("2025-07-01", "2026-06-30", 10), (184, 1_840)),
        # a genuinely longer history as dense as its last months counts from its first month:
        # 2023-01-01 .. 2025-12-31, 1,096 days
        (_days("2023-01-01", "2025-12-31", 10), (1_096, 10_960)),
        # a book that grew from 6 to 10 rows a day on 2025-07-01: from 2023-01-01 the stretch holds
        # 6 x 912 + 1,840 = 7,312 rows in 1,096 days (6.67 a day < 7.5); from the first day of a month
        # d days before 2025-07-01 it holds (6 d + 1,840) / (d + 184) >= 7.5 when d <= 306: the first
        # such month is 2024-09 (303 days): 487 days, 6 x 303 + 1,840 = 3,658 rows
        (_counts(_days("2023-01-01", "2025-06-30", 6), SIX_MONTHS), (487, 3_658)),
        # a table spanning fewer than 91 days has no stretch to judge density by: its first date
        (_days("2025-11-01", "2025-12-31", 10), (61, 610)),
    ],
)
def test_a_tables_span_starts_where_its_rows_do(counts: pd.Series, span: tuple[int, int]) -> None:
    from pipelines.feed_checks import dense_span

    assert dense_span(counts, pd.Timestamp(AS_OF)) == span


def _ingest(tmp_path: Path, invoices: str, payments: str) -> Path:
    from pipelines.config.source import FileSource, RulesConfig, SourceConfig
    from pipelines.ingest import ingest_source

    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    (raw / "inv.csv").write_text("invoice_id,debtor_id,issue_date,due_date,amount\n" + invoices)
    (raw / "pay.csv").write_text("payment_id,debtor_id,invoice_id,paid_on,amount\n" + payments)
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False, refuse_empty_table_rows=10**6),
        tables={"invoices": FileSource(path=raw / "inv.csv"), "payments": FileSource(path=raw / "pay.csv")},
    )
    ingest_source(source, tmp_path / "out", as_of=dt.date(2026, 6, 30), stream=False)
    return tmp_path / "out"


def _monthly_invoices(first: str, months: int, per_month: int, prefix: str = "I") -> list[str]:
    """``per_month`` invoices on the 1st .. ``per_month``-th of each of ``months`` months from
    ``first``, debtor D1, due 30 days later, 100.00 each."""
    rows = []
    for m, start in enumerate(pd.date_range(first, periods=months, freq="MS")):
        for d in range(per_month):
            day = start + pd.Timedelta(days=d)
            due = (day + pd.Timedelta(days=30)).date()
            rows.append(f"{prefix}{m:02d}{d:02d},D1,{day.date()},{due},100.00")
    return rows


def test_todays_spans_leave_out_a_stray_early_date_and_the_rows_after_the_as_of_date(tmp_path: Path) -> None:
    """An ingested feed (read column by column from Parquet): 5 invoices on the 1st-5th of each
    month 2025-07 .. 2026-03, one invoice mistyped 2001-01-15, and payments on the 10th of each
    month 2025-07 .. 2026-03 (one a month). Scored as of 2025-12-31: invoices from 2025-07-01, 184
    days, 30 rows dated in them (6 months x 5); payments from 2025-07-10, 175 days, 6 rows. Before
    (b18b173: ``table_days``): invoices from 2001-01-15, 9,117 days, and every row delivered (46)."""
    from pipelines.engine import Book
    from pipelines.feed_checks import table_spans

    invoices = _monthly_invoices("2025-07-01", 9, 5) + ["X1,D1,2001-01-15,2001-02-14,100.00"]
    payments = [
        f"P{m},D1,I{m:02d}00,{start.date() + dt.timedelta(days=9)},100.00"
        for m, start in enumerate(pd.date_range("2025-07-01", periods=9, freq="MS"))
    ]
    out = _ingest(tmp_path, "\n".join(invoices) + "\n", "\n".join(payments) + "\n")
    book = Book.ingested(out)
    assert table_spans(book, AS_OF) == {"invoices": (184, 30), "payments": (175, 6)}
    # the same frames in memory (``--raw``) give the same spans
    from pipelines.adapters.files import read_portfolio

    assert table_spans(Book.in_memory(read_portfolio(out), 10**6), AS_OF) == table_spans(book, AS_OF)


def test_the_training_reference_leaves_out_a_stray_early_date(tmp_path: Path) -> None:
    """The training side, to the book's last date (2026-03-31: the last payment): invoices
    2025-04-01 .. 2026-03-05, 5 a month (60) and one mistyped 2001-01-15: from 2025-04-01, 365 days,
    60 rows. Before (b18b173): 2001-01-15 .. 2026-03-05, 9,181 days, which lowered the training's
    rows per month 25-fold (each today's figure would look 25 times the training's: refused above 4)."""
    from pipelines.engine import Book
    from pipelines.feed_checks import training_reference

    invoices = _monthly_invoices("2025-04-01", 12, 5) + ["X1,D1,2001-01-15,2001-02-14,100.00"]
    out = _ingest(tmp_path, "\n".join(invoices) + "\n", "P1,D1,I0000,2026-03-31,100.00\n")
    dataset = pd.DataFrame(
        {"as_of": pd.to_datetime(["2025-12-31"]), "in_default_at_asof": [False], "open_balance": [1.0]}
    )
    manifest = {"invoices": {"rows_in": 61, "rows_accepted": 61, "rows_quarantined": 0}}
    tables = training_reference(manifest, Book.ingested(out), dataset)["tables"]
    assert tables["days"] == {"invoices": 365, "payments": 1}
    assert tables["span_rows"] == {"invoices": 60, "payments": 1}


def _figures(invoices: int, payments: int, days: tuple[int, int], span_rows=None) -> dict:
    out = {
        "rows": {"invoices": invoices, "payments": payments},
        "accepted": {"invoices": invoices, "payments": payments},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
        "days": {"invoices": days[0], "payments": days[1]},
    }
    if span_rows is not None:
        out["span_rows"] = {"invoices": span_rows[0], "payments": span_rows[1]}
    return out


def test_rows_per_month_count_the_rows_dated_in_the_span() -> None:
    """A feed of 36 months (1,096 days, 192,012 invoices) scored as of a date 6 months before its
    end: 1,096 - 184 = 912 days up to it hold 160,000 invoices. Against a training on the 36 months:
    160,000 x 30.4375 / 912 = 5,339.9 vs 5,332.5 a month. Before (b18b173) every row delivered
    counted over the shorter span: 192,012 x 30.4375 / 912 = 6,408.3 (1.20). The training's figures
    from before session 24 (no ``span_rows``) count every row: the same 5,332.5."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import evaluate_feed

    today = _figures(192_012, 191_773, (912, 912), span_rows=(160_000, 159_000))
    train = _figures(192_012, 191_773, (1_096, 1_096))
    feed = evaluate_feed(today, NightlyConfig(), previous=None, training=("train", train))
    checks = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
    assert checks["rows_per_month.invoices"] == pytest.approx((5_339.9, 5_332.5), abs=0.05)
    assert checks["rows_per_month.payments"] == pytest.approx((5_306.5, 5_325.8), abs=0.05)


# ------------------------------------ item 2: the previous run is compared per month as the training is


@pytest.mark.parametrize(
    ("today", "failed"),
    [
        # the last 6 months (184 days) after a run on 36 (1,096): 31,526 x 30.4375 / 184 = 5,215.1
        # vs 192,012 x 30.4375 / 1,096 = 5,332.5 (0.978); payments 24,271 -> 4,014.9 vs 5,325.8
        # (0.754): inside 0.67 to 1.5. Before (b18b173): rows.invoices 31,526 vs 192,012 (0.164) and
        # rows.payments 24,271 vs 191,773 (0.127): refused, --accept-feed needed once
        (_figures(31_526, 24_271, (184, 184)), []),
        # half the book in that export: 15,763 -> 2,607.6 a month (0.489), payments 12,136 ->
        # 2,007.5 (0.377): refused
        (
            _figures(15_763, 12_136, (184, 184)),
            [
                "rows_per_month.invoices: 2,608 today vs 5,332 in the previous run 2025-12-30 "
                "(limit: ratio 0.67 to 1.5, checked from 50 rows)",
                "rows_per_month.payments: 2,008 today vs 5,326 in the previous run 2025-12-30 "
                "(limit: ratio 0.67 to 1.5, checked from 50 rows)",
            ],
        ),
        # guard (refused before too): the whole span (1,097 days, not shorter) with half the rows
        (
            _figures(96_006, 191_773, (1_097, 1_097)),
            [
                "rows.invoices: 96,006 today vs 192,012 in the previous run 2025-12-30 "
                "(limit: ratio 0.67 to 1.5, checked from 50 rows)"
            ],
        ),
    ],
)
def test_a_rolling_export_after_whole_ones_is_compared_by_rows_per_month_with_the_previous_run(
    today: dict, failed: list[str]
) -> None:
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import FeedCheckError, evaluate_feed

    # a run published by this code: its figures carry span_rows (a run from before session 24 is
    # compared by whole rows, test_review_s24)
    previous = (
        "the previous run 2025-12-30",
        _figures(192_012, 191_773, (1_096, 1_096), span_rows=(192_012, 191_773)),
    )
    if not failed:
        feed = evaluate_feed(today, NightlyConfig(), previous=previous, training=None)
        assert feed["status"] == "passed"
        checks = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
        assert checks["rows_per_month.invoices"] == pytest.approx((5_215.1, 5_332.5), abs=0.05)
        assert checks["rows_per_month.payments"] == pytest.approx((4_014.9, 5_325.8), abs=0.05)
        return
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, NightlyConfig(), previous=previous, training=None)
    assert [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:-1]] == failed


def test_day_counts_skip_missing_dates() -> None:
    """Rows per day of a date array with a missing date: 2025-07-01 once, 2025-07-02 twice, the
    missing one left out (a new helper: ImportError on b18b173)."""
    from pipelines.adapters.files import day_counts

    dates = np.array(["2025-07-02", "NaT", "2025-07-01", "2025-07-02"], dtype="datetime64[ns]")
    got = day_counts(dates)
    assert got.to_dict() == {pd.Timestamp("2025-07-01"): 1, pd.Timestamp("2025-07-02"): 2}


# -------------------------- item 4: a rolling export without the open invoices before its window


def test_the_open_balance_of_the_debtors_in_default_is_a_figure() -> None:
    """``default_exposure``: the open balance of the scored debtors in default, 700.00 + 50.00 of
    the 4 debtors (D1 and D3 in default; D2's 1,000.00 and D4's missing balance live). A new figure:
    missing on b18b173."""
    from pipelines.feed_checks import feed_figures

    scores = pd.DataFrame(
        {"in_default": [True, False, True, False], "open_balance": [700.0, 1_000.0, 50.0, np.nan]}
    )
    figures = feed_figures({}, None, scores)
    assert figures["default_exposure"] == pytest.approx(750.0)
    assert figures["exposure"] == pytest.approx(1_750.0)


def _book(default_exposure: float, defaulted: int, debtors: int = 1_500) -> dict:
    return {
        "rows": {},
        "quarantine_share": {},
        "debtors": debtors,
        "default_share": defaulted / debtors,
        "default_exposure": default_exposure,
    }


@pytest.mark.parametrize(
    ("today", "failed"),
    [
        # the 36-month book's rolling exports scored after a whole run (BENCHMARKS s24-hostile): 12
        # months keep 2,265,080 of 6,362,090 (0.356, 45 of 118 debtors in default still owe): inside
        # 0.25 to 1000; 6 months keep 596,438 (0.094, 20 of 107 owe): refused. b18b173 had no such check
        # and published both
        (_book(2_265_080.0, 111), []),
        (
            _book(596_438.0, 107),
            [
                "default_exposure: 596,438 today vs 6,362,090 in the previous run 2025-12-30 "
                "(limit: ratio 0.25 to 1000, checked from 20 debtors in default)"
            ],
        ),
        # guard: fewer than 20 debtors in default on one side: not checked
        (_book(1_000.0, 19), []),
    ],
)
def test_a_feed_that_loses_the_open_balance_of_the_debtors_in_default_is_refused(
    today: dict, failed: list[str]
) -> None:
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import FeedCheckError, evaluate_feed

    previous = ("the previous run 2025-12-30", _book(6_362_090.0, 118))
    if not failed:
        feed = evaluate_feed(today, NightlyConfig(), previous=previous, training=None)
        assert feed["status"] == "passed"
        return
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, NightlyConfig(), previous=previous, training=None)
    assert [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:-1]] == failed
