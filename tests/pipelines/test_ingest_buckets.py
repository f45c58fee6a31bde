"""`ews ingest` writes debtor buckets; every later step reads them; Dask gives the same bytes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from nightly_portfolio import write_portfolio

from features.params import DefaultDefinition
from pipelines.adapters.files import bucket_codes, bucket_file, last_observed, read_portfolio, sha256_file
from pipelines.config.source import RulesConfig
from pipelines.engine import Book, build_book
from pipelines.ingest import ingest_dir

AS_OF = dt.date(2024, 9, 30)
DATES = [pd.Timestamp("2024-05-31"), pd.Timestamp("2024-08-31")]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return write_portfolio(tmp_path_factory.mktemp("raw") / "in", n_debtors=160, months=12, seed=3)


def ingest(raw: Path, out: Path, bucket_rows: int) -> dict:
    rules = RulesConfig(bucket_rows=bucket_rows, data_docs=False)
    return ingest_dir(raw, out, as_of=AS_OF, settings=rules).manifest


def files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): sha256_file(p) for p in sorted(out.rglob("*.parquet"))}


def test_buckets_are_hashed_sorted_and_byte_identical_on_rerun(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = ingest(raw, out, bucket_rows=1_000)
    n = manifest["layout"]["buckets"]
    rows = sum(manifest["tables"][t]["rows_accepted"] for t in ("invoices", "payments"))
    assert n == -(-rows // 1_000) and n > 3
    whole = read_portfolio(out)
    assert len(whole.invoices) == manifest["tables"]["invoices"]["rows_accepted"]
    for k in range(n):
        part = read_portfolio(out, bucket=k)
        for name, frame in part.present().items():
            assert (bucket_codes(frame["debtor_id"], n) == k).all(), name
            assert frame["debtor_id"].is_monotonic_increasing, name
    first = files(out)
    tables = sorted(manifest["tables"])
    assert len(first) == len(tables) * n and set(first) <= set(manifest["outputs"])
    ingest(raw, out, bucket_rows=1_000)
    assert files(out) == first  # a rerun writes the same bytes
    ingest(raw, out, bucket_rows=10**9)  # one bucket now: the others are removed as stale
    assert set(files(out)) == {f"{t}/bucket=0/part-0.parquet" for t in tables}
    assert not bucket_file(out, "invoices", 1).exists()
    pd.testing.assert_frame_equal(
        read_portfolio(out).invoices,
        whole.invoices.sort_values("debtor_id", kind="stable", ignore_index=True),
    )


def test_ingested_buckets_give_the_whole_book_result_on_local_and_dask(raw: Path, tmp_path: Path) -> None:
    """Bucket by bucket from disk = one call on the whole book; a 2-worker Dask LocalCluster (real
    processes) gives byte-identical Parquet."""
    from pipelines.cluster import EngineSettings, open_engine

    out = tmp_path / "out"
    ingest(raw, out, bucket_rows=2_000)
    book = Book.ingested(out)
    assert book.buckets > 1
    until = last_observed(out)
    assert until == Book(1, frames=read_portfolio(out)).last_observed()
    whole = build_book(Book(1, frames=read_portfolio(out)), DATES, labels=True, observed_until=until)
    local = build_book(book, DATES, DefaultDefinition(), labels=True, observed_until=until)
    pd.testing.assert_frame_equal(local.features, whole.features)
    pd.testing.assert_frame_equal(local.defaults, whole.defaults)
    pd.testing.assert_frame_equal(local.oldest_open, whole.oldest_open)
    settings = EngineSettings(kind="dask", workers=2, memory_limit="1GiB", processes=True)
    from pipelines.engine import bucket_progress

    reports: list[tuple[str, int, int]] = []
    with open_engine(settings) as engine, bucket_progress(lambda *r: reports.append(r)):
        remote = build_book(
            book, DATES, DefaultDefinition(), labels=True, observed_until=until, engine=engine
        )
    assert reports == [("features", k, book.buckets) for k in range(1, book.buckets + 1)]  # progress bars
    for name in ("features", "defaults", "oldest_open"):
        a, b = tmp_path / f"{name}-local.parquet", tmp_path / f"{name}-dask.parquet"
        getattr(local, name).to_parquet(a, index=False)
        getattr(remote, name).to_parquet(b, index=False)
        assert a.read_bytes() == b.read_bytes(), name
