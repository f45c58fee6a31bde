"""``ews ingest --keep-history`` for a streamed ingest (more than ``STREAM_ROWS`` input rows): the
merge of :mod:`pipelines.ingest.history`, one debtor partition at a time, in memory bounded by a
partition of the history and one of today's export instead of by the book. The per-partition steps
(:class:`MergeJob`: the other-ledger check's reads, today's rows per day, the ids of other
partitions, the merge itself) run in the streamed ingest's worker processes
(``compute.ingest_workers``); their results are summed in partition order, so the outputs are the
same bytes for any worker count (``tests/pipelines/test_history_s27.py``). A table's empty
partition is written with the schema of the Parquet file's metadata (no rows read).

The streamed ingest (:mod:`pipelines.ingest.stream`) writes today's accepted rows of debtor
partition ``p`` (``SipHash(debtor_id) % P``) into the staging folder. ``P`` is a multiple of the
history's bucket count ``n``, so partition ``p``'s kept rows are in the history's bucket ``p % n``
(:func:`kept_part`). Every rule of the merge is per debtor (the keys of events, statements and plans
start with the debtor; a payment is readmitted only for its invoice's debtor) except three, which
read across partitions:

* the other-ledger check (:func:`pipelines.ingest.history.foreign`) compares today's invoices with
  the history's by id: it reads them whole up to :data:`SAMPLE_ROWS` invoices, else the invoices of
  one id in ``k`` (by a hash of the id; the same ids on both sides), and the debtor ids whole;
* a row keyed by its own id (an invoice, a payment) that moved to another debtor in the ERP is
  replaced where the history holds it: today's ids not found in their own partition's history
  (:func:`_moved`, the day's new rows for an honest export) are looked up in every partition;
* a kept payment naming an invoice of another partition (:func:`_recent_far`, none in an ingested
  book: an accepted payment's invoice is its debtor's) is inside the span when that invoice was
  issued inside the invoices' span;
* where today's export stops being open items alone (:func:`pipelines.ingest.history.open_items_end`)
  is read off each partition's paid kept invoices per day (:meth:`MergeJob.paid`), summed.

The span of each table is read off today's rows per day, summed over the partitions. The result
is the in-memory merge's, table for table (``tests/pipelines/test_history_s26.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.ingest.history import (
    DATED,
    KEYS,
    SPAN_DATES,
    History,
    Merged,
    _keys,
    day_counts,
    foreign,
    merge_part,
    open_items_end,
    paid_days,
    refuse_missing_month,
    span_start,
    with_derived,
)
from pipelines.ingest.idhash import id_hashes, in_sorted
from pipelines.ingest.masks import arrow, isin
from pipelines.sources.read import TableError

SAMPLE_ROWS = 2_000_000
"""Invoices the other-ledger check reads whole; above it, one id in ``ceil(rows / SAMPLE_ROWS)``."""
FOREIGN_COLUMNS = ["invoice_id", "debtor_id", "issue_date", "amount", "currency"]
PAID_COLUMNS = {
    "invoices": ["invoice_id", "issue_date", "amount"],
    "payments": ["payment_id", "invoice_id", "paid_on", "amount"],
}
"""What :meth:`MergeJob.paid` reads of a partition's invoices and payments (and ``debtor_id``)."""


def partitions_for(base: Path, partitions: int) -> int:
    """The streamed ingest's debtor partitions with a history in ``base``: the least multiple of
    the history's bucket count at least ``partitions``."""
    from pipelines.adapters.files import bucket_count

    n = bucket_count(base)
    return n * max(1, math.ceil(partitions / n))


def _read(folder: Path, table: str, bucket: int, columns: list[str] | None = None) -> pd.DataFrame | None:
    """One bucket of ``table`` in an ingested folder (None when the table is absent), canonical dtypes."""
    import pyarrow.parquet as pq

    from pipelines.adapters.files import bucket_count, bucket_file, conform

    path = bucket_file(folder, table, bucket)
    if not path.is_file():
        flat = folder / f"{table}.parquet"
        if bucket_count(folder) != 1 or not flat.is_file():
            return None
        path = flat
    schema = pq.read_schema(path).names
    cols = [c for c in columns if c in schema] if columns is not None else None
    frame = pq.read_table(path, columns=cols).to_pandas()
    return conform(frame, table) if columns is None else frame


def kept_part(
    folder: Path,
    p: int,
    partitions: int,
    tables: tuple[str, ...] | None = None,
    columns: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The history's rows of debtor partition ``p`` of ``partitions`` (a multiple of its bucket
    count); ``columns``: only these (and ``debtor_id``), as stored."""
    from pipelines.adapters.files import bucket_codes, bucket_count

    n = bucket_count(folder)
    out = {}
    for table in tables or tuple(KEYS):
        frame = _read(folder, table, p % n, None if columns is None else [*columns, "debtor_id"])
        if frame is None:
            continue
        if partitions > n:
            frame = frame.loc[bucket_codes(frame["debtor_id"], partitions) == p].reset_index(drop=True)
        out[table] = frame
    return out


def today_part(stage: Path, tables: list[str], p: int) -> dict[str, pd.DataFrame]:
    """Today's accepted rows of debtor partition ``p``, as the streamed ingest staged them."""
    return {t: f for t in tables if (f := _read(stage, t, p)) is not None}


def sampled(ids: pd.Series, every: int) -> np.ndarray:
    """Which of the invoice ids ``ids`` are in the other-ledger check's sample of one id in ``every``
    (by a hash of the id: the same ids on both sides)."""
    if every <= 1:
        return np.ones(len(ids), dtype=bool)
    values = ids.astype("string").fillna("").to_numpy(dtype=object)
    return pd.util.hash_array(values, categorize=False) % np.uint64(every) == 0


def _sample(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    if every <= 1:
        return frame
    return frame.loc[sampled(frame["invoice_id"], every)].reset_index(drop=True)


def _invoice_rows(base: Path, buckets: int) -> int:
    """The invoices of the ``buckets`` bucket files of ``base``, from the Parquet metadata."""
    import pyarrow.parquet as pq

    from pipelines.adapters.files import bucket_file

    paths = [bucket_file(base, "invoices", k) for k in range(buckets)]
    return sum(pq.ParquetFile(path).metadata.num_rows for path in paths if path.is_file())


def sample_every(folder: Path, today_rows: int) -> int:
    """The other-ledger check's sample: one invoice id in ``ceil(rows / SAMPLE_ROWS)``, ``rows`` the
    larger of today's invoices and the history's (in ``folder``)."""
    from pipelines.adapters.files import bucket_count

    total = max(today_rows, _invoice_rows(folder, bucket_count(folder)))
    return max(1, math.ceil(total / SAMPLE_ROWS))


def history_sample(job: MergeJob, each: Each) -> dict[str, pd.DataFrame]:
    """The history's side of the other-ledger check: :meth:`MergeJob.kept_ids` of every bucket (its
    debtor ids, and its invoices sampled one id in ``job.every``)."""
    from pipelines.adapters.files import bucket_count

    kept: dict[str, pd.DataFrame] = {}
    debtors: list[pd.Series] = []
    inv = []
    for _k, (ids, sample) in each("kept_ids", range(bucket_count(job.folder))):
        debtors.extend(ids)
        if sample is not None:
            inv.append(sample)
    if debtors:
        kept["debtors"] = pd.DataFrame(
            {"debtor_id": pd.concat(debtors).drop_duplicates().reset_index(drop=True)}
        )
    if inv:
        kept["invoices"] = pd.concat(inv, ignore_index=True)
    return kept


def refuse_foreign(
    job: MergeJob, held: dt.date, out: Path, kept: dict[str, pd.DataFrame], today_inv: pd.DataFrame | None
) -> None:
    """Raise :class:`TableError` with :func:`pipelines.ingest.history.foreign`'s line when today's
    invoices (``today_inv``, sampled as the history's ``kept``: one id in ``job.every``) are another
    ledger's."""
    today = {"invoices": today_inv} if today_inv is not None else {}
    why = foreign(History(job.folder, held, kept), today, out)
    if why is not None:
        if job.every > 1:  # the counts in the line are the sample's, not the export's
            why = why.replace(
                "--keep-history: ",
                f"--keep-history (figures of a sample: the invoices of one id in {job.every:,}, the same ids on "
                "both sides): ",
                1,
            )
        raise TableError(why)


def _foreign_check(job: MergeJob, held: dt.date, out: Path, each: Each) -> None:
    """The other-ledger check (:func:`refuse_foreign`) on today's accepted invoices (whole up to
    :data:`SAMPLE_ROWS`, else the same sample of ids on both sides: :meth:`MergeJob.today_invoices`,
    :meth:`MergeJob.kept_ids`) and the history's debtor ids. The check before validation
    (:meth:`pipelines.ingest.stream.StreamRun.refuse_foreign`) read today's parsed rows; this one
    judges the rows the ingest accepted."""
    today_inv = None
    if "invoices" in job.tables:
        job.every = sample_every(job.folder, _invoice_rows(job.stage, job.partitions))
        parts = [f for _p, f in each("today_invoices", range(job.partitions)) if f is not None]
        today_inv = pd.concat(parts, ignore_index=True)
    refuse_foreign(job, held, out, history_sample(job, each), today_inv)


def _empty(folder: Path, table: str) -> pd.DataFrame | None:
    """``table`` with no rows and the canonical columns of bucket 0 of ``folder`` (None when
    absent), from the Parquet file's schema: the rows are not read."""
    import pyarrow.parquet as pq

    from pipelines.adapters.files import bucket_count, bucket_file, conform

    path = bucket_file(folder, table, 0)
    if not path.is_file():
        flat = folder / f"{table}.parquet"
        if bucket_count(folder) != 1 or not flat.is_file():
            return None
        path = flat
    return conform(pq.read_schema(path).empty_table().to_pandas(), table)


def _union(a: pd.DataFrame, b: pd.DataFrame, table: str) -> pd.DataFrame:
    """``a`` with the columns of ``b`` it lacks (empty), canonical dtypes and order (``a`` itself when
    it lacks none: the usual night, no copy)."""
    from pipelines.adapters.files import conform

    if set(b.columns) <= set(a.columns):
        return a
    return conform(pd.concat([b.iloc[:0], a], ignore_index=True), table)


def _no_rows(table: str) -> pd.DataFrame:
    """``table`` with no rows, canonical columns and dtypes."""
    from features.schema import dtypes
    from pipelines.adapters.files import conform

    return conform(pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes(table).items()}), table)


Each = Callable[[str, Iterable[int]], Iterator[tuple[int, Any]]]
"""Runs ``MergeJob.<step>(p)`` for every partition ``p`` and yields ``(p, result)`` in partition
order: in this process (:meth:`MergeJob.each`) or in the streamed ingest's worker processes
(:meth:`pipelines.ingest.stream.StreamRun.merge_step`)."""


@dataclass
class MergeJob:
    """The per-partition steps of a streamed merge. Each reads the files of its own partition (the
    history's bucket and today's staged rows) and what the parent set on the job before the step
    (a forked worker inherits it), and returns what the parent sums in partition order, so the
    outputs do not depend on the processes that ran the steps."""

    folder: Path
    stage: Path
    tables: list[str]
    partitions: int
    as_of: dt.date
    starts: dict[str, pd.Timestamp | None] = field(default_factory=dict)
    moved: dict[str, pd.Index] = field(default_factory=dict)
    moved_hashes: dict[str, tuple[np.ndarray, pd.Index]] = field(default_factory=dict)  # see :func:`hashed`
    wanted: pd.Index = field(default_factory=lambda: pd.Index([], dtype="string"))
    recent_far: pd.Index = field(default_factory=lambda: pd.Index([], dtype="string"))
    open_items: pd.Timestamp | None = None  # :func:`pipelines.ingest.history.open_items_end`
    empty: dict[str, pd.DataFrame] = field(default_factory=dict)
    every: int = 1  # the other-ledger check's sample: the invoices of one id in ``every``
    quarantined: dict[str, tuple[np.ndarray, pd.DataFrame]] = field(
        default_factory=dict
    )  # today's quarantined keys in hash order (:func:`hashed_keys`; :meth:`quarantined_in`)

    def each(self, step: str, parts: Iterable[int]) -> Iterator[tuple[int, Any]]:
        """:data:`Each` in this process."""
        for p in parts:
            yield p, getattr(self, step)(p)

    def today_invoices(self, p: int) -> pd.DataFrame | None:
        """The other-ledger check's sample of today's invoices of partition ``p``."""
        frame = _read(self.stage, "invoices", p, FOREIGN_COLUMNS)
        return None if frame is None else _sample(frame, self.every)

    def kept_ids(self, k: int) -> tuple[list[pd.Series], pd.DataFrame | None]:
        """The history's bucket ``k``: its debtor ids (of debtors, invoices, statements) and the
        other-ledger check's sample of its invoices (when today's export has invoices)."""
        debtors, inv = [], None
        for table in ("debtors", "invoices", "statements"):
            frame = _read(self.folder, table, k, FOREIGN_COLUMNS if table == "invoices" else ["debtor_id"])
            if frame is None:
                continue
            debtors.append(frame["debtor_id"].astype("string").drop_duplicates())
            if table == "invoices" and "invoices" in self.tables:
                inv = _sample(frame, self.every)
        return debtors, inv

    def days(self, p: int) -> dict[str, pd.Series]:
        """Today's rows per day of each dated table in partition ``p`` (:func:`day_counts`)."""
        out = {}
        for table, column in SPAN_DATES.items():
            if table in self.tables:
                f = _read(self.stage, table, p, [column])
                if f is not None and len(f):
                    out[table] = day_counts(f, column, self.as_of)
        return out

    def moved_ids(self, p: int) -> tuple[dict[str, pd.Series], pd.Series | None]:
        """Per table keyed by one id (invoices, payments): today's ids of partition ``p`` that its
        history lacks (an honest export: the day's new rows; a row moved to another debtor is among
        them); and the invoice ids its kept payments name that its invoices lack."""
        kept = kept_part(
            self.folder, p, self.partitions, ("invoices", "payments"), ["payment_id", "invoice_id"]
        )
        today = {
            t: _read(self.stage, t, p, list(dict.fromkeys([KEYS[t][0], "invoice_id"])))
            for t in ("invoices", "payments")
            if t in self.tables
        }
        moved = {}
        for table in ("invoices", "payments"):
            new = today.get(table)
            if new is None or not len(new):
                continue
            ids = new[KEYS[table][0]].astype("string")
            held = (
                kept[table][KEYS[table][0]].astype("string")
                if table in kept
                else pd.Series([], dtype="string")
            )
            moved[table] = ids[~isin(ids, held)]
        orphans = None
        pay = kept.get("payments")
        if pay is not None and len(pay):
            named = pay["invoice_id"].dropna().astype("string")
            local = [
                f["invoice_id"].astype("string")
                for f in (kept.get("invoices"), today.get("invoices"))
                if f is not None
            ]
            orphans = named[~isin(named, pd.concat(local))] if local else named
        return moved, orphans

    def paid(self, p: int) -> pd.DataFrame:
        """Partition ``p``'s paid kept invoices per issue day, held and lacked by today's export
        (:func:`pipelines.ingest.history.paid_days`). Reads the columns it needs only (the merge step
        reads the partition's files whole, once)."""
        kept = {
            t: f
            for t, cols in PAID_COLUMNS.items()
            for f in kept_part(self.folder, p, self.partitions, (t,), cols).values()
        }
        today = {
            t: f
            for t, cols in PAID_COLUMNS.items()
            if t in self.tables and (f := _read(self.stage, t, p, [*cols, "debtor_id"])) is not None
        }
        moved = self.moved.get("invoices")
        if moved is not None and len(moved) and "invoices" in self.moved_hashes:
            # only the moved ids a kept invoice here may be (by hash; paid_days compares the texts):
            # each partition looked up every partition's new ids, a hash table of today's new
            # invoices built once per partition (s43-scale: 5.4 % of a merged night at 200k, and it
            # grows with the partitions times the new rows)
            moved = self.moved_in(_held(kept, ("invoices",))).get("invoices")
        return paid_days(kept, today, None, self.as_of, moved)

    def far(self, p: int) -> list[pd.Series]:
        """Of the invoice ids ``wanted``, those of partition ``p`` (kept or today's) issued on or
        after the invoices' span start."""
        start = self.starts.get("invoices")
        kept = kept_part(self.folder, p, self.partitions, ("invoices",), ["invoice_id", "issue_date"])
        frames = [kept.get("invoices")]
        if "invoices" in self.tables:
            frames.append(_read(self.stage, "invoices", p, ["invoice_id", "issue_date"]))
        found = []
        for f in frames:
            if f is not None and len(f):
                ids = f["invoice_id"].astype("string")
                found.append(ids[isin(ids, pd.Series(self.wanted)) & (f["issue_date"] >= start).to_numpy()])
        return found

    def merge(self, p: int) -> Merged:
        """Partition ``p`` merged (:func:`pipelines.ingest.history.merge_part`); its tables replace
        today's in the stage, the counts are returned."""
        from pipelines.adapters.files import bucket_file, bucket_parts, write_bucket_atomic

        kept = kept_part(self.folder, p, self.partitions)
        held = _held(kept, {*self.moved_hashes, *self.quarantined})
        part = merge_part(
            kept,
            today_part(self.stage, self.tables, p),
            self.starts,
            self.as_of,
            self.moved_in(held),
            self.recent_far,
            self.quarantined_in(held),
            self.open_items,
        )
        for table in self.empty:
            frame = part.tables.get(table)
            frame = self.empty[table] if frame is None else _union(frame, self.empty[table], table)
            write_bucket_atomic(bucket_parts(frame, self.partitions)[p], bucket_file(self.stage, table, p))
        part.tables = {}
        return part

    def moved_in(self, held: dict[str, np.ndarray]) -> dict[str, pd.Index]:
        """Of the ids ``moved`` (today's ids their own partition's history lacks: the day's new rows of
        every partition), those whose hash a key of this partition's history has (``held``:
        :func:`_held`): every one of them that is a kept key, so :func:`merge_part` replaces the same
        kept rows. An honest night has none here; each partition's merge used to look up every
        partition's new ids (at 200k a hash table of 0.7-1.0M ids built per table and partition)."""
        return {
            t: ids[in_sorted(held[t], hashes)] for t, (hashes, ids) in self.moved_hashes.items() if t in held
        }

    def quarantined_in(self, held: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
        """Of today's quarantined keys (of every partition), those whose hash a key of this partition's
        history has (``held``: :func:`_held`): every one of them that is a kept key, so
        :func:`merge_part` keeps the same rows. Each partition's merge used to look up all of them: a
        night of 1M debtors with 5 % of its rows quarantined built a text key and a hash table of every
        quarantined key per table and partition (s30-review: 0.43 CPU-s per 1M keys, partition and
        table)."""
        return {
            t: frame.loc[in_sorted(held[t], hashes)]
            for t, (hashes, frame) in self.quarantined.items()
            if t in held
        }


def _held(kept: dict[str, pd.DataFrame], tables: Iterable[str]) -> dict[str, np.ndarray]:
    """Per table of ``tables`` with kept rows here, the sorted 64-bit hashes of their keys
    (:func:`pipelines.ingest.idhash.id_hashes` of :func:`pipelines.ingest.history._keys`)."""
    out = {}
    for table in tables:
        frame = kept.get(table)
        if frame is not None and len(frame):
            out[table] = np.sort(id_hashes(arrow(_keys(frame, table))))
    return out


def hashed(moved: dict[str, pd.Index]) -> dict[str, tuple[np.ndarray, pd.Index]]:
    """Per table, the non-missing ids of ``moved`` in the order of their 64-bit hash
    (:func:`pipelines.ingest.idhash.id_hashes`) and the sorted hashes (:meth:`MergeJob.moved_in`)."""
    out = {}
    for table, ids in moved.items():
        texts = pd.Series(ids, dtype="string").dropna().reset_index(drop=True)
        h = id_hashes(arrow(texts))
        order = np.argsort(h, kind="stable")
        out[table] = (h[order], pd.Index(texts.iloc[order].reset_index(drop=True)))
    return out


def hashed_keys(quarantined: dict[str, pd.DataFrame]) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """Per table, today's quarantined keys (:func:`pipelines.ingest.history.quarantined_keys`) in the
    order of their key's 64-bit hash, and the sorted hashes (:meth:`MergeJob.quarantined_in`)."""
    out = {}
    for table, frame in quarantined.items():
        if frame is None or not len(frame):
            continue
        h = id_hashes(arrow(_keys(frame, table)))
        order = np.argsort(h, kind="stable")
        out[table] = (h[order], frame.iloc[order].reset_index(drop=True))
    return out


def _moved(job: MergeJob, each: Each) -> tuple[dict[str, pd.Index], pd.Index]:
    """:meth:`MergeJob.moved_ids` of every partition: today's ids their own partition's history
    lacks, per table, and the invoice ids kept payments name that their partition lacks."""
    moved: dict[str, list[pd.Series]] = {"invoices": [], "payments": []}
    orphans: list[pd.Series] = []
    for _p, (ids, named) in each("moved_ids", range(job.partitions)):
        for table, new in ids.items():
            moved[table].append(new)
        if named is not None:
            orphans.append(named)
    out = {t: pd.Index(pd.concat(v).unique()) for t, v in moved.items() if v}
    far = pd.Index(pd.concat(orphans).unique()) if orphans else pd.Index([], dtype="string")
    return out, far


def _recent_far(job: MergeJob, each: Each) -> pd.Index:
    """Of the invoice ids ``job.wanted``, those issued on or after the invoices' span start in any
    partition (kept or today's)."""
    if not len(job.wanted) or job.starts.get("invoices") is None:
        return pd.Index([], dtype="string")
    found = [s for _p, part in each("far", range(job.partitions)) for s in part]
    return pd.Index(pd.concat(found).unique()) if found else pd.Index([], dtype="string")


@dataclass
class DeriveJob:
    """The first night of a streamed ``--keep-history`` ingest (no history to merge into): each
    partition's ``debtor_history`` (today's given rows) with the rows derived from its debtors
    (:func:`pipelines.ingest.history.with_derived`), written back into the stage."""

    stage: Path
    partitions: int
    as_of: dt.date

    def each(self, step: str, parts: Iterable[int]) -> Iterator[tuple[int, Any]]:
        """:data:`Each` in this process."""
        for p in parts:
            yield p, getattr(self, step)(p)

    def derive(self, p: int) -> tuple[int, int]:
        """Partition ``p`` dated; returns (rows derived, rows of its ``debtor_history``)."""
        from pipelines.adapters.files import bucket_file, bucket_parts, write_bucket_atomic

        today = today_part(self.stage, ["debtors", DATED], p)
        frame, derived = today.get(DATED), 0
        if "debtors" in today:
            frame, derived = with_derived(frame, today["debtors"], self.as_of)
        frame = _no_rows(DATED) if frame is None else frame
        write_bucket_atomic(bucket_parts(frame, self.partitions)[p], bucket_file(self.stage, DATED, p))
        return derived, len(frame)


def derive_streamed(
    stage: Path,
    partitions: int,
    as_of: dt.date,
    each: Callable[[DeriveJob], Each] | None = None,
    given: bool = False,
) -> tuple[int, int] | None:
    """The first night's dating of a streamed ingest with a debtors table (:class:`DeriveJob`), one
    partition per step (``each``: as in :func:`merge_streamed`); returns (rows derived, rows of the
    published ``debtor_history``), summed in partition order. None (and no table staged) when no row
    was derived and none ``given`` (today's export has no ``debtor_history``)."""
    job = DeriveJob(stage, partitions, as_of)
    run = each(job) if each is not None else job.each
    derived = rows = 0
    for _p, (n, k) in run("derive", range(partitions)):
        derived, rows = derived + n, rows + k
    if not derived and not given:
        shutil.rmtree(stage / DATED, ignore_errors=True)
        return None
    return derived, rows


def merge_streamed(
    base: tuple[Path, dt.date],
    stage: Path,
    tables: list[str],
    partitions: int,
    as_of: dt.date,
    out: Path,
    each: Callable[[MergeJob], Each] | None = None,
    judged: bool = False,
    quarantined: dict[str, pd.DataFrame] | None = None,
    source: str | None = None,
) -> tuple[dict[str, Any], list[str], dict[str, int]]:
    """Merge today's staged partitions into the history in ``base`` (folder, as-of), partition by
    partition; each partition's merged tables replace today's in the stage. Returns the manifest's
    ``history`` section, the warnings and the merged rows per table. Raises :class:`TableError`
    (another ledger, too much removed) before the stage is published. ``each``: given the job,
    how its per-partition steps run (:data:`Each`; default: one after the other in this process;
    the streamed ingest passes its worker pool, :meth:`pipelines.ingest.stream.StreamRun.merge_steps`).
    The outputs are the same bytes either way. ``judged``: the streamed ingest's check before
    validation judged today's invoices as they were accepted
    (:meth:`pipelines.ingest.stream.StreamRun.foreign_settled`): not checked again. ``quarantined``:
    per table the key columns of today's quarantined rows of every partition (:func:`merge_part`).
    ``source``: the invoices' input, named by a refusal (:func:`pipelines.ingest.history.refuse_missing_month`)."""
    folder, held = base
    job = MergeJob(folder, stage, tables, partitions, as_of, quarantined=hashed_keys(quarantined or {}))
    run = each(job) if each is not None else job.each
    if not judged:
        _foreign_check(job, held, out, run)
    per_day: dict[str, pd.Series] = {}
    for _p, counts in run("days", range(partitions)):
        for table, c in counts.items():
            per_day[table] = c if table not in per_day else per_day[table].add(c, fill_value=0)
    job.starts = {t: span_start(per_day[t], as_of) if t in per_day else None for t in SPAN_DATES}
    today_days = per_day  # today's rows per day, per table
    if partitions > 1:
        job.moved, job.wanted = _moved(job, run)
        job.moved_hashes = hashed(job.moved)
    if job.starts.get("invoices") is not None:
        paid = [c for _p, c in run("paid", range(partitions)) if len(c)]
        per_day = pd.concat(paid).groupby(level=0).sum() if paid else None
        today = today_days.get("invoices")
        latest = today.index.max() if today is not None and len(today) else None
        refuse_missing_month(per_day, as_of, out, latest, source)
        if per_day is not None:
            job.open_items = open_items_end(per_day.loc[per_day.index >= job.starts["invoices"]])
    job.recent_far = _recent_far(job, run)
    for table in dict.fromkeys([*KEYS, *tables]):
        # the columns of both sides, as the in-memory merge's concatenation has them: a sparse column
        # (payments.kind, allocated_on) that only the history held was missing from the partitions
        # without a kept row, and the published buckets could not be read together (ArrowInvalid)
        both = [
            f
            for f in (_empty(stage, table) if table in tables else None, _empty(folder, table))
            if f is not None
        ]
        if both:
            job.empty[table] = both[0] if len(both) == 1 else _union(both[0], both[1], table)
    if "debtors" in tables and DATED not in job.empty:  # the rows derived from today's debtors table
        job.empty[DATED] = _no_rows(DATED)
    total: Merged | None = None
    for _p, part in run("merge", range(partitions)):
        if total is None:
            total = part
        else:
            total.add(part)
    assert total is not None
    if DATED not in total.counts:  # no partition held or derived a row: not the empty buckets written
        shutil.rmtree(stage / DATED, ignore_errors=True)
    warnings = total.verdict(job.starts, as_of, out)
    rows = {t: c["rows"] for t, c in total.counts.items()}
    return total.section(held), warnings, rows


__all__ = [
    "FOREIGN_COLUMNS",
    "DeriveJob",
    "MergeJob",
    "derive_streamed",
    "history_sample",
    "kept_part",
    "merge_streamed",
    "partitions_for",
    "refuse_foreign",
    "sample_every",
    "sampled",
    "today_part",
]
