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


def test_two_local_processes_give_the_same_bytes(tmp_path) -> None:
    """``compute.local_processes: 2`` (``pipelines.cluster.LocalPool``) on an ingested, bucketed folder:
    the same results, in bucket order, as one process; progress reported once per bucket. A book of
    frames in memory is not sent to worker processes (it runs here, as before)."""
    import json

    from pipelines.adapters.files import bucket_codes, bucket_file, write_bucket_atomic
    from pipelines.engine import LocalPool, bucket_progress, local_engine

    p = portfolio()
    for name, frame in p.present().items():
        codes = bucket_codes(frame["debtor_id"], 3)
        for k in range(3):
            write_bucket_atomic(frame.loc[codes == k].reset_index(drop=True), bucket_file(tmp_path, name, k))
    (tmp_path / "manifest.json").write_text(json.dumps({"layout": {"buckets": 3}}))
    book = Book.ingested(tmp_path)
    assert book.buckets == 3 and local_engine(1) is None and local_engine(2) == LocalPool(2)
    one = build_book(book, DATES, DefaultDefinition())
    seen: list[tuple[str, int, int]] = []
    with bucket_progress(lambda step, done, total: seen.append((step, done, total))):
        two = build_book(book, DATES, DefaultDefinition(), engine=LocalPool(2))
    assert seen == [("features", k, 3) for k in range(1, 4)]
    assert len(one.features) == 240 * len(DATES) - one.features["debtor_id"].isna().sum()
    for a, b in (
        (one.features, two.features),
        (one.defaults, two.defaults),
        (one.oldest_open, two.oldest_open),
    ):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
