"""The engine around :func:`features.engine.build_bucket`: where buckets come from and who runs them.

A :class:`Book` is a portfolio cut into debtor buckets (``bucket = stable hash of debtor_id % N``):
either an ingested folder, read one bucket at a time (``pipelines.adapters.files.read_portfolio(DIR, bucket=K)``),
or frames already in memory (raw re-validation, tests), cut by the same hash. :func:`map_buckets`
runs one function per bucket, on this machine one bucket after the other (``local``: the working
memory is that of one bucket) or on a Dask cluster (``dask``). The results are combined in debtor
order, so both engines give byte-identical outputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from features.engine import BucketResult, build_bucket, combine
from features.params import DefaultDefinition, FeatureParams
from features.tables import Portfolio

__all__ = [
    "BUCKET_ROWS",
    "Book",
    "Feed",
    "LEDGER_TABLES",
    "LocalPool",
    "FeedChangedError",
    "NotIngestedError",
    "bucket_progress",
    "bucket_result",
    "build_book",
    "each_done",
    "has_ledger",
    "has_rows_to_build",
    "is_ingested",
    "local_engine",
    "map_buckets",
    "open_feed",
]

BUCKET_ROWS = 4_000_000
"""Ledger rows per in-memory bucket (frames validated in memory with ``--raw``)."""

LEDGER_TABLES = ("invoices", "payments", "statements")
T = TypeVar("T")


@dataclass(frozen=True)
class Book:
    """A portfolio as debtor buckets: an ingested folder (``folder``) or frames in memory (``frames``).

    ``buckets``: N. Every debtor's rows, in every table, are in bucket ``hash(debtor_id) % N``.
    """

    buckets: int
    folder: Path | None = None
    frames: Portfolio | None = None

    @classmethod
    def in_memory(cls, portfolio: Portfolio, bucket_rows: int) -> Book:
        """Frames in memory, cut into buckets of about ``bucket_rows`` ledger rows (at least 1)."""
        rows = sum(len(f) for name, f in portfolio.present().items() if name in LEDGER_TABLES)
        return cls(buckets=max(1, math.ceil(rows / bucket_rows)), frames=portfolio)

    @classmethod
    def ingested(cls, folder: Path) -> Book:
        """An ``ews ingest --out`` folder (its bucket count is read from the folder)."""
        from pipelines.adapters.files import bucket_count

        return cls(buckets=bucket_count(folder), folder=Path(folder))

    def bounds(self, table: str, column: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(min, max) of a date column over the whole book (None: table absent or column empty)."""
        if self.frames is not None:
            frame = getattr(self.frames, table)
            if frame is None or column not in frame or not frame[column].notna().any():
                return None
            return pd.Timestamp(frame[column].min()), pd.Timestamp(frame[column].max())
        from pipelines.adapters.files import column_bounds

        assert self.folder is not None
        return column_bounds(self.folder, table, column)

    def day_counts(self, table: str, column: str) -> pd.Series | None:
        """Rows per calendar day of a date column over the whole book
        (``pipelines.adapters.files.day_counts``; None: table absent or column empty)."""
        from pipelines.adapters.files import column_day_counts, day_counts

        if self.frames is None:
            assert self.folder is not None
            return column_day_counts(self.folder, table, column)
        frame = getattr(self.frames, table)
        if frame is None or column not in frame:
            return None
        found = day_counts(frame[column].to_numpy(dtype="datetime64[ns]"))
        return found if len(found) else None

    def allocated_share(self) -> float | None:
        """Share of payments that name an invoice (None without payments); an ingested folder
        answers from the Parquet null counts of ``payments.invoice_id``."""
        if self.frames is not None:
            pay = self.frames.payments
            if pay is None or not len(pay) or "invoice_id" not in pay:
                return None
            return float(pay["invoice_id"].notna().mean())
        from pipelines.adapters.files import null_share

        assert self.folder is not None
        share = null_share(self.folder, "payments", "invoice_id")
        return None if share is None else 1.0 - share

    @cached_property
    def ledger_rows(self) -> bool:
        """The whole book holds an invoice or a payment (any bucket). A bucket of a book with invoices and
        statements may hold statement accounts alone: it still builds the invoice features
        (``features.engine.build_bucket``'s ``book_ledger``), as one call over the whole book does. Read once
        per book (an ingested folder: the Parquet footers)."""
        return any(
            self.bounds(t, c) is not None for t, c in (("invoices", "issue_date"), ("payments", "paid_on"))
        )

    @cached_property
    def statement_rows(self) -> bool:
        """The whole book holds a statement (any bucket): a bucket without one still builds the statement
        columns (``features.engine.build_bucket``'s ``book_statements``), as one call over the whole book does."""
        return self.bounds("statements", "period_end") is not None

    def last_observed(self) -> pd.Timestamp | None:
        """The book's last issue, payment, clearing (``allocated_on``), event or statement date
        (``features.engine.last_observed_date``); for an ingested folder, a few rows dated long after
        the export's end do not count (its labels are not observed past that end:
        ``pipelines.adapters.files.late_rows_end``)."""
        from pipelines.adapters.files import OBSERVED_COLUMNS, late_rows_end

        found = [b[1] for t, c in OBSERVED_COLUMNS if (b := self.bounds(t, c)) is not None]
        if not found:
            return None
        end = late_rows_end(self.folder) if self.folder is not None else None
        return min(max(found).normalize(), end) if end is not None else max(found).normalize()

    def read_tables(self, names: tuple[str, ...]) -> Portfolio:
        """Only the tables ``names`` of the whole book (small per-debtor tables such as ``debtors``
        and ``payment_plans``; never the ledger)."""
        if self.frames is not None:
            return Portfolio(**{n: getattr(self.frames, n) for n in names})
        from pipelines.adapters.files import read_portfolio

        assert self.folder is not None
        try:
            book = read_portfolio(self.folder, tables=names)
        except FileNotFoundError:
            return Portfolio()
        return book

    def read_debtors(self, ids: pd.Index, tables: tuple[str, ...]) -> Portfolio:
        """The rows of the debtors ``ids`` only, in the tables ``tables`` (absent tables stay None):
        a few debtors of a large book without reading whole buckets."""
        if self.frames is not None:
            wanted = pd.Index(ids, dtype="string")
            out = {}
            for name in tables:
                frame = getattr(self.frames, name)
                if frame is not None:
                    keep = frame["debtor_id"].astype("string").isin(wanted).to_numpy()
                    out[name] = frame.loc[keep].reset_index(drop=True)
            return Portfolio(**out)
        from pipelines.adapters.files import read_debtors

        assert self.folder is not None
        return read_debtors(self.folder, ids, tables)

    def read(self, k: int) -> Portfolio:
        """The canonical tables of bucket ``k`` (every table; absent tables stay None)."""
        if self.frames is not None:
            if self.buckets == 1:
                return self.frames
            return _take_bucket(self.frames, k, self.buckets)
        from pipelines.adapters.files import read_portfolio

        assert self.folder is not None
        return read_portfolio(self.folder, bucket=k)


def _take_bucket(portfolio: Portfolio, k: int, n: int) -> Portfolio:
    from pipelines.adapters.files import bucket_codes

    out = {}
    for f in fields(portfolio):
        frame = getattr(portfolio, f.name)
        if frame is not None:
            out[f.name] = frame.loc[bucket_codes(frame["debtor_id"], n) == k].reset_index(drop=True)
    return Portfolio(**out)


def has_ledger(part: Portfolio) -> bool:
    return any(not frame.empty for name, frame in part.present().items() if name in LEDGER_TABLES)


def has_rows_to_build(book: Book, part: Portfolio) -> bool:
    """Bucket ``part`` of ``book`` gives feature rows: it holds ledger rows (:func:`has_ledger`), or the book
    holds invoices or payments (``Book.ledger_rows``) and the bucket debtors-table rows, the prospects that one
    call over the whole book scores (onboarded, never invoiced; before session 40 a bucket of them alone gave
    none, so they dropped out of a book scored in many buckets)."""
    if has_ledger(part):
        return True
    return part.debtors is not None and not part.debtors.empty and book.ledger_rows


def bucket_result(
    book: Book,
    k: int,
    as_of: Sequence[pd.Timestamp],
    definition: DefaultDefinition,
    params: FeatureParams,
    labels: bool,
    observed_until: pd.Timestamp | None,
    at_state: Callable[[Any, Any], object] | None = None,
) -> BucketResult | None:
    """:func:`features.engine.build_bucket` on bucket ``k`` of ``book`` (None when it has no ledger
    rows); ``at_state`` as there."""
    part = book.read(k)
    if not has_rows_to_build(book, part):
        return None
    return build_bucket(
        part, as_of, definition, params, labels=labels, observed_until=observed_until, at_state=at_state,
        book_ledger=book.ledger_rows, book_statements=book.statement_rows,
    )  # fmt: skip


# Who wants to hear about finished buckets (the CLI's progress bars): ``report(step, done, total)``.
_REPORTERS: list[Callable[[str, int, int], None]] = []


@contextmanager
def bucket_progress(report: Callable[[str, int, int], None]) -> Iterator[None]:
    """Within the block, :func:`map_buckets` calls ``report(step, done, total)`` after each debtor
    bucket (``step``: "features" or "scoring"), whichever engine runs the buckets."""
    _REPORTERS.append(report)
    try:
        yield
    finally:
        _REPORTERS.remove(report)


def map_buckets(
    fn: Callable[..., T], book: Book, *args: Any, engine: Any = None, step: str = "features"
) -> list[T]:
    """``[fn(book, k, *args) for k in range(book.buckets)]``, on ``engine`` (None: this process,
    one bucket after the other; else a ``pipelines.cluster`` engine, e.g. Dask). Each finished bucket
    is reported to the :func:`bucket_progress` listeners as ``step``."""
    total, done = book.buckets, 0

    def finished() -> None:
        nonlocal done
        done += 1
        for report in list(_REPORTERS):
            report(step, done, total)

    if engine is None:
        return each_done((fn(book, k, *args) for k in range(total)), finished)
    return engine.map(fn, book, range(total), *args, on_done=finished)


def each_done(results: Iterable[T], on_done: Callable[[], None]) -> list[T]:
    """``list(results)``, calling ``on_done()`` as each one arrives (``results`` may be lazy): how
    every engine reports finished buckets."""
    out = []
    for result in results:
        out.append(result)
        on_done()
    return out


_SHARED: tuple[Callable[..., Any], Any, tuple[Any, ...]] | None = None


def _pool_init(shared: tuple[Callable[..., Any], Any, tuple[Any, ...]], parent: int | None = None) -> None:
    global _SHARED
    if parent is not None:  # a kill -9 of the parent must not leave this worker computing its bucket
        from pipelines.runtime import die_with_parent

        die_with_parent(parent)
    _SHARED = shared


def _pool_call(k: int) -> Any:
    assert _SHARED is not None
    fn, book, args = _SHARED
    return fn(book, k, *args)


@dataclass(frozen=True)
class LocalPool:
    """The local engine with ``processes`` worker processes on this machine (``compute.local_processes``).

    It lives here, not in ``pipelines.cluster``, so that a worker process imports no Prefect or Dask.
    Used only for a book read from an ingested folder with at least two buckets: each worker reads its
    own buckets from disk, so only the function, the model and the config are sent, once per worker
    (a book of frames in memory, or a single bucket, runs in this process as before). Results come
    back in bucket order, so the outputs are byte-identical to one process; the peak memory is that
    of ``processes`` buckets at once plus this process's.
    """

    processes: int = 2
    kind: str = "local"

    def map(
        self,
        fn: Callable[..., Any],
        book: Any,
        ks: Sequence[int],
        *args: Any,
        on_done: Callable[[], None] = lambda: None,
    ) -> list[Any]:
        """``[fn(book, k, *args) for k in ks]`` in order; ``on_done()`` after each finished bucket."""
        ks = list(ks)
        workers = min(self.processes, len(ks))
        if workers < 2 or getattr(book, "folder", None) is None:
            return each_done((fn(book, k, *args) for k in ks), on_done)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded flow process
            initializer=_pool_init,
            initargs=((fn, book, args), os.getpid()),
        ) as pool:
            return each_done(pool.map(_pool_call, ks), on_done)


def local_engine(processes: int) -> LocalPool | None:
    """The local engine for ``compute.local_processes``: None (this process) for 1, else a :class:`LocalPool`."""
    return LocalPool(processes) if processes > 1 else None


def build_book(
    book: Book,
    as_of: Sequence[pd.Timestamp],
    definition: DefaultDefinition = DefaultDefinition(),
    params: FeatureParams = FeatureParams(),
    *,
    labels: bool = False,
    observed_until: pd.Timestamp | None = None,
    engine: Any = None,
) -> BucketResult:
    """Features, default flags (labels) and oldest open invoices of the whole book, bucket by bucket.

    ``observed_until``: the book's last observed date (needed with ``labels``; each bucket would
    otherwise see only its own). Identical to one ``build_bucket`` call over the whole book.
    """
    results = map_buckets(
        bucket_result, book, list(as_of), definition, params, labels, observed_until, engine=engine
    )
    return combine([r for r in results if r is not None])


class NotIngestedError(ValueError):
    """``--data`` is not an ``ews ingest`` output folder. For users."""


@dataclass(frozen=True)
class Feed:
    """What a flow reads: the book, the ingest manifest and the quarantined rows (frames, or the
    CSV files of an ingested folder)."""

    book: Book
    manifest: dict[str, Any]
    quarantine: dict[str, Any]
    folder: Path | None = None
    manifest_sha256: str | None = None  # of the ingested folder's manifest.json as the feed was opened

    def check_unchanged(self, again: str, outcome: str = "published") -> None:
        """Raise :class:`FeedChangedError` when an ``ews ingest`` published into the ingested folder, or
        is publishing into it now, since the feed was opened: its tables are read bucket by bucket over
        the whole run, so the run would have mixed two ingests (s38-attack). Call after the last read;
        ``again`` says what to run again, ``outcome`` what was not done (published, registered)."""
        if self.folder is None or self.manifest_sha256 is None:
            return
        import hashlib

        from pipelines.adapters.publish import PUBLISHING

        now = self.folder / "manifest.json"
        try:
            digest = hashlib.sha256(now.read_bytes()).hexdigest()
        except OSError:
            digest = None
        if (self.folder / PUBLISHING).exists() or digest != self.manifest_sha256:
            raise FeedChangedError(
                f"--data {self.folder}: an `ews ingest` published into this folder while this run read it "
                "(its manifest.json changed, or a publication is under way): the run's figures would mix two "
                f"ingests, so nothing was {outcome}. {again} once the ingest has ended (schedule the ingest to "
                "end before this command starts, or ingest into a new folder and point --data at it)"
            )


class FeedChangedError(NotIngestedError):
    """The ingested ``--data`` folder was re-ingested while a run read it. For users."""


def is_ingested(folder: Path) -> bool:
    """``folder`` holds an ``ews ingest --out`` output (its manifest.json lists tables and outputs)."""
    import json

    try:
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "tables" in manifest and "outputs" in manifest


def open_feed(
    data_dir: Path,
    *,
    raw: bool = False,
    as_of: Any = None,
    bucket_rows: int = BUCKET_ROWS,
    currency: Any = None,
) -> Feed:
    """The ingested folder ``data_dir`` (read bucket by bucket, not re-validated), or with ``raw``
    a folder of raw canonical files validated in memory (``pipelines.ingest.ingest_dir``, amounts
    converted with ``currency``, the project's ``CurrencyConfig``).

    Raises :class:`NotIngestedError` when ``data_dir`` is not an ingest output and ``raw`` is off.
    """
    import json

    data_dir = Path(data_dir)
    if raw:
        from pipelines.ingest import ingest_dir

        result = ingest_dir(data_dir, None, as_of=as_of, currency=currency)
        return Feed(Book.in_memory(result.portfolio, bucket_rows), result.manifest, result.quarantine)
    if not is_ingested(data_dir):
        raise NotIngestedError(
            f"--data {data_dir}: not an `ews ingest` output (no manifest.json listing the ingested tables). "
            f"Validate it once with `ews ingest --out {data_dir.name}-ingested ...` and pass that folder, "
            "or add --raw to validate the raw files in memory on every run"
        )
    from pipelines.adapters.publish import interrupted_ingest, mixed_ingest

    if (message := interrupted_ingest(data_dir) or mixed_ingest(data_dir)) is not None:
        raise NotIngestedError(f"--data {message}")
    import hashlib

    raw_manifest = (data_dir / "manifest.json").read_bytes()
    manifest = json.loads(raw_manifest.decode("utf-8"))
    quarantine = {
        t: data_dir / "quarantine" / f"{t}.csv"
        for t in manifest["tables"]
        if (data_dir / "quarantine" / f"{t}.csv").is_file()
    }
    return Feed(
        Book.ingested(data_dir), manifest, quarantine, data_dir, hashlib.sha256(raw_manifest).hexdigest()
    )
