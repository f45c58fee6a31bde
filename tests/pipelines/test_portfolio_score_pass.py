"""The report's DSO / aging sums computed inside the scoring pass (per bucket, then summed) equal the
report's own pass over every bucket, and reading a few debtors of a bucketed folder equals reading
the whole folder and keeping their rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from nightly_portfolio import typed_tables

from features.engine import build_bucket
from features.params import DefaultDefinition
from features.portfolio import combine_parts, report_dates
from features.tables import Portfolio
from pipelines.adapters.files import (
    bucket_codes,
    bucket_file,
    read_debtors,
    read_portfolio,
    write_bucket_atomic,
)
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.report.portfolio import BookSums, build_portfolio, figure_dates

CFG = NightlyConfig()
AS_OF = pd.Timestamp("2024-08-29")  # not a month-end: 12 month-ends + as-of


def _book() -> Portfolio:
    typed = typed_tables(n_debtors=120, months=14, seed=3)
    debtors = typed["debtors"]
    typed["debtors"] = debtors.assign(
        credit_limit=[float(i * 10) if i % 3 else None for i in range(len(debtors))]
    )
    return Portfolio(**typed)


def _scored(p: Portfolio) -> pd.DataFrame:
    ids = pd.Series(sorted(p.debtors["debtor_id"].unique()), dtype="string")
    n = len(ids)
    pds = [(i * 37 % 100) / 100 for i in range(n)]
    return pd.DataFrame(
        {
            "debtor_id": ids,
            "pd": pds,
            "in_default": [x > 0.95 for x in pds],
            "band": pd.Series(["A", "B", "C", "D"] * (n // 4) + ["A"] * (n % 4), dtype="string"),
            "segment": pd.Series(["retail", "sme"] * (n // 2) + ["sme"] * (n % 2), dtype="string"),
            "open_balance": [100.0 + i for i in range(n)],
        }
    )


def _score_pass_sums(book: Book, dates: list[pd.Timestamp]) -> BookSums:
    """What ``score_bucket`` hands back per bucket (``build_bucket(..., portfolio_dates=)``), summed."""
    parts = []
    for k in range(book.buckets):
        built = build_bucket(
            book.read(k), [AS_OF], DefaultDefinition(), portfolio_dates=dates, window_days=90
        )
        if built.portfolio is not None:
            parts.append(built.portfolio)
    return BookSums(tuple(dates), combine_parts(parts))


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.dso, b.dso)
    pd.testing.assert_frame_equal(a.aging, b.aging)
    pd.testing.assert_frame_equal(a.el_band, b.el_band)
    pd.testing.assert_frame_equal(a.el_segment, b.el_segment)
    pd.testing.assert_frame_equal(a.open_items, b.open_items)
    pd.testing.assert_series_equal(a.limits, b.limits)


def _write_bucketed(p: Portfolio, folder: Path, n: int) -> None:
    for name, frame in p.present().items():
        codes = bucket_codes(frame["debtor_id"], n)
        for k in range(n):
            write_bucket_atomic(frame.loc[codes == k].reset_index(drop=True), bucket_file(folder, name, k))
    (folder / "manifest.json").write_text(json.dumps({"layout": {"buckets": n}}))


def test_score_pass_sums_equal_the_report_pass(tmp_path: Path) -> None:
    p = _book()
    book = Book.in_memory(p, (len(p.invoices) + len(p.payments)) // 4)
    assert book.buckets >= 4
    scored = _scored(p)
    detail = pd.Index([*(f"C{i:05d}" for i in range(0, 120, 4)), "nobody"], dtype="string")
    todo, cached = figure_dates(AS_OF.date(), CFG, None)
    assert todo == report_dates(AS_OF, 12) and len(todo) == 13 and cached.empty
    sums = _score_pass_sums(book, todo)
    old = build_portfolio(book, AS_OF.date(), scored, detail, CFG, "EUR")
    new = build_portfolio(book, AS_OF.date(), scored, detail, CFG, "EUR", sums=sums)
    assert old.dso["receivables"].gt(0).all() and old.aging[">180"].iloc[-1] > 0
    assert len(old.open_items) > 40 and old.open_items["dpd"].max() > 90 and old.limits.notna().sum() >= 10
    _assert_same(new, old)

    # the same from a bucketed folder: the detail debtors' rows are read alone
    folder = tmp_path / "ingested"
    _write_bucketed(p, folder, 5)
    disk = Book.ingested(folder)
    assert disk.buckets == 5
    _assert_same(
        build_portfolio(disk, AS_OF.date(), scored, detail, CFG, "EUR", sums=_score_pass_sums(disk, todo)),
        old,
    )

    # sums for other dates than the ones the report needs are not used: the report reads them itself
    wrong = BookSums(tuple(todo[-2:]), sums.parts)
    _assert_same(build_portfolio(book, AS_OF.date(), scored, detail, CFG, "EUR", sums=wrong), old)


def test_read_debtors_keeps_only_their_rows(tmp_path: Path) -> None:
    p = _book()
    folder = tmp_path / "ingested"
    _write_bucketed(p, folder, 3)
    ids = pd.Index(["C00004", "C00050", "C00099", "nobody"], dtype="string")
    few = read_debtors(folder, ids, ("invoices", "payments", "debtors", "events"))
    whole = read_portfolio(folder, tables=("invoices", "payments", "debtors"))
    assert few.events is None  # absent from the folder
    for name in ("invoices", "payments", "debtors"):
        expected = getattr(whole, name)
        expected = expected[expected["debtor_id"].isin(ids)]
        got = getattr(few, name)
        assert set(got["debtor_id"]) == {"C00004", "C00050", "C00099"}
        key = [c for c in ("invoice_id", "payment_id", "debtor_id") if c in got][0]
        pd.testing.assert_frame_equal(
            got.sort_values(key, ignore_index=True), expected.sort_values(key, ignore_index=True)
        )
    assert len(read_debtors(folder, pd.Index(["nobody"], dtype="string"), ("invoices",)).invoices) == 0


@pytest.mark.parametrize("ids", [[], ["nobody"]])
def test_no_detail_debtor_gives_empty_items(ids: list[str]) -> None:
    p = _book()
    book = Book.in_memory(p, (len(p.invoices) + len(p.payments)) // 2)
    todo, _ = figure_dates(AS_OF.date(), CFG, None)
    detail = pd.Index(ids, dtype="string")
    old = build_portfolio(book, AS_OF.date(), _scored(p), detail, CFG, "EUR")
    new = build_portfolio(
        book, AS_OF.date(), _scored(p), detail, CFG, "EUR", sums=_score_pass_sums(book, todo)
    )
    assert old.open_items.empty and new.open_items.empty
    _assert_same(new, old)
