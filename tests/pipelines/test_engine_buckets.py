"""Building a book bucket by bucket gives exactly the whole-book result."""

from __future__ import annotations

import pandas as pd
from nightly_portfolio import typed_tables

from features.engine import build_bucket
from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.engine import Book, build_book

DATES = [pd.Timestamp("2024-05-31"), pd.Timestamp("2024-08-31")]


def portfolio() -> Portfolio:
    return Portfolio(**typed_tables(n_debtors=240, months=14, seed=5))


def test_buckets_equal_the_whole_book() -> None:
    p = portfolio()
    rows = len(p.invoices) + len(p.payments)
    book = Book.in_memory(p, rows // 4)
    assert book.buckets == 5
    parts = [book.read(k) for k in range(book.buckets)]
    assert sum(len(part.invoices) for part in parts) == len(p.invoices)
    seen = [set(part.invoices["debtor_id"]) for part in parts]
    assert sum(len(s) for s in seen) == len(set().union(*seen))  # every debtor in one bucket
    until = pd.Timestamp("2024-12-31")
    whole = build_bucket(p, DATES, DefaultDefinition(), labels=True, observed_until=until)
    bucketed = build_book(book, DATES, DefaultDefinition(), labels=True, observed_until=until)
    assert whole.defaults["in_default_at_asof"].sum() > 0 and whole.defaults["label"].sum() > 0
    assert len(whole.oldest_open) > 0
    pd.testing.assert_frame_equal(whole.features, bucketed.features)
    pd.testing.assert_frame_equal(whole.defaults, bucketed.defaults)
    pd.testing.assert_frame_equal(whole.oldest_open, bucketed.oldest_open)


def test_each_finished_bucket_is_reported_for_the_progress_bars() -> None:
    from pipelines.cluster import Engine
    from pipelines.engine import bucket_progress

    p = portfolio()
    book = Book.in_memory(p, (len(p.invoices) + len(p.payments)) // 4)
    seen: list[tuple[str, int, int]] = []
    with bucket_progress(lambda step, done, total: seen.append((step, done, total))):
        build_book(book, DATES, DefaultDefinition())
        build_book(book, DATES, DefaultDefinition(), engine=Engine("local"))
    per_pass = [("features", k, 5) for k in range(1, 6)]
    assert seen == per_pass + per_pass
    build_book(book, DATES, DefaultDefinition())  # outside the block: nobody is told
    assert len(seen) == 10
