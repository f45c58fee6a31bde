"""``ews ingest --keep-history`` for a streamed ingest (more than ``STREAM_ROWS`` input rows): the
merge of :mod:`pipelines.ingest.history`, one debtor partition at a time, in memory bounded by a
partition of the history and one of today's export instead of by the book.

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
  issued inside the invoices' span.

The span of each table is read off today's rows per day, summed over the partitions. The result
is the in-memory merge's, table for table (``tests/pipelines/test_history_s26.py``).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.ingest.history import (
    KEYS,
    SPAN_DATES,
    History,
    Merged,
    day_counts,
    foreign,
    merge_part,
    span_start,
)
from pipelines.ingest.masks import isin
from pipelines.sources.read import TableError

SAMPLE_ROWS = 2_000_000
"""Invoices the other-ledger check reads whole; above it, one id in ``ceil(rows / SAMPLE_ROWS)``."""
FOREIGN_COLUMNS = ["invoice_id", "debtor_id", "issue_date", "amount", "currency"]


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
    folder: Path, p: int, partitions: int, tables: tuple[str, ...] | None = None
) -> dict[str, pd.DataFrame]:
    """The history's rows of debtor partition ``p`` of ``partitions`` (a multiple of its bucket count)."""
    from pipelines.adapters.files import bucket_codes, bucket_count

    n = bucket_count(folder)
    out = {}
    for table in tables or tuple(KEYS):
        frame = _read(folder, table, p % n)
        if frame is None:
            continue
        if partitions > n:
            frame = frame.loc[bucket_codes(frame["debtor_id"], partitions) == p].reset_index(drop=True)
        out[table] = frame
    return out


def today_part(stage: Path, tables: list[str], p: int) -> dict[str, pd.DataFrame]:
    """Today's accepted rows of debtor partition ``p``, as the streamed ingest staged them."""
    return {t: f for t in tables if (f := _read(stage, t, p)) is not None}


def _sample(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    if every <= 1:
        return frame
    ids = frame["invoice_id"].astype("string").fillna("").to_numpy(dtype=object)
    keep = pd.util.hash_array(ids, categorize=False) % np.uint64(every) == 0
    return frame.loc[keep].reset_index(drop=True)


def _foreign_check(
    folder: Path, held: dt.date, stage: Path, tables: list[str], partitions: int, out: Path
) -> None:
    """:func:`pipelines.ingest.history.foreign` on today's and the history's invoices (whole up to
    :data:`SAMPLE_ROWS`, else the same sample of ids on both sides) and the history's debtor ids."""
    import pyarrow.parquet as pq

    from pipelines.adapters.files import bucket_count, bucket_file

    n = bucket_count(folder)
    every = 1

    def rows(base: Path, k: int) -> int:
        path = bucket_file(base, "invoices", k)
        return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0

    if "invoices" not in tables:
        today_inv = None
    else:
        total = max(sum(rows(stage, p) for p in range(partitions)), sum(rows(folder, k) for k in range(n)))
        every = max(1, math.ceil(total / SAMPLE_ROWS))
        parts = (_read(stage, "invoices", p, FOREIGN_COLUMNS) for p in range(partitions))  # one at a time
        today_inv = pd.concat([_sample(f, every) for f in parts if f is not None], ignore_index=True)
    kept: dict[str, pd.DataFrame] = {}
    debtors = []
    inv = []
    for k in range(n):
        for table in ("debtors", "invoices", "statements"):
            frame = _read(folder, table, k, FOREIGN_COLUMNS if table == "invoices" else ["debtor_id"])
            if frame is None:
                continue
            debtors.append(frame["debtor_id"].astype("string").drop_duplicates())
            if table == "invoices" and today_inv is not None:
                inv.append(_sample(frame, every))
    if debtors:
        kept["debtors"] = pd.DataFrame(
            {"debtor_id": pd.concat(debtors).drop_duplicates().reset_index(drop=True)}
        )
    if inv:
        kept["invoices"] = pd.concat(inv, ignore_index=True)
    today = {"invoices": today_inv} if today_inv is not None else {}
    why = foreign(History(folder, held, kept), today, out)
    if why is not None:
        if every > 1:  # the counts in the line are the sample's, not the export's
            why = why.replace(
                "--keep-history: ",
                f"--keep-history (figures of a sample: the invoices of one id in {every:,}, the same ids on "
                "both sides): ",
                1,
            )
        raise TableError(why)


def _moved(
    folder: Path, stage: Path, tables: list[str], partitions: int
) -> tuple[dict[str, pd.Index], pd.Index]:
    """Per table keyed by one id (invoices, payments): today's ids that their own partition's
    history lacks (an honest export: the day's new rows; a row moved to another debtor is among
    them); and the invoice ids kept payments name that their partition's invoices lack."""
    moved: dict[str, list[pd.Series]] = {"invoices": [], "payments": []}
    orphans: list[pd.Series] = []
    for p in range(partitions):
        kept = kept_part(folder, p, partitions, ("invoices", "payments"))
        today = {
            t: _read(stage, t, p, list(dict.fromkeys([KEYS[t][0], "invoice_id"])))
            for t in moved
            if t in tables
        }
        for table in moved:
            new = today.get(table)
            if new is None or not len(new):
                continue
            ids = new[KEYS[table][0]].astype("string")
            held = (
                kept[table][KEYS[table][0]].astype("string")
                if table in kept
                else pd.Series([], dtype="string")
            )
            moved[table].append(ids[~isin(ids, held)])
        pay = kept.get("payments")
        if pay is not None and len(pay):
            named = pay["invoice_id"].dropna().astype("string")
            local = [
                f["invoice_id"].astype("string")
                for f in (kept.get("invoices"), today.get("invoices"))
                if f is not None
            ]
            orphans.append(named[~isin(named, pd.concat(local))] if local else named)
    out = {t: pd.Index(pd.concat(v).unique()) for t, v in moved.items() if v}
    far = pd.Index(pd.concat(orphans).unique()) if orphans else pd.Index([], dtype="string")
    return out, far


def _recent_far(
    folder: Path,
    stage: Path,
    tables: list[str],
    partitions: int,
    wanted: pd.Index,
    start: pd.Timestamp | None,
) -> pd.Index:
    """Of the invoice ids ``wanted``, those issued on or after ``start`` in any partition (kept or today's)."""
    if not len(wanted) or start is None:
        return pd.Index([], dtype="string")
    found = []
    for p in range(partitions):
        frames = [kept_part(folder, p, partitions, ("invoices",)).get("invoices")]
        if "invoices" in tables:
            frames.append(_read(stage, "invoices", p, ["invoice_id", "issue_date"]))
        for f in frames:
            if f is not None and len(f):
                ids = f["invoice_id"].astype("string")
                found.append(ids[isin(ids, pd.Series(wanted)) & (f["issue_date"] >= start).to_numpy()])
    return pd.Index(pd.concat(found).unique()) if found else pd.Index([], dtype="string")


def merge_streamed(
    base: tuple[Path, dt.date],
    stage: Path,
    tables: list[str],
    partitions: int,
    as_of: dt.date,
    out: Path,
) -> tuple[dict[str, Any], list[str], dict[str, int]]:
    """Merge today's staged partitions into the history in ``base`` (folder, as-of), partition by
    partition; each partition's merged tables replace today's in the stage. Returns the manifest's
    ``history`` section, the warnings and the merged rows per table. Raises :class:`TableError`
    (another ledger, too much removed) before the stage is published."""
    from pipelines.adapters.files import bucket_file, bucket_parts, write_bucket_atomic

    folder, held = base
    _foreign_check(folder, held, stage, tables, partitions, out)
    per_day: dict[str, pd.Series] = {}
    for p in range(partitions):
        for table, column in SPAN_DATES.items():
            if table in tables:
                f = _read(stage, table, p, [column])
                if f is not None and len(f):
                    c = day_counts(f, column, as_of)
                    per_day[table] = c if table not in per_day else per_day[table].add(c, fill_value=0)
    starts = {t: span_start(per_day[t], as_of) if t in per_day else None for t in SPAN_DATES}
    moved, orphans = _moved(folder, stage, tables, partitions) if partitions > 1 else ({}, pd.Index([]))
    recent_far = _recent_far(folder, stage, tables, partitions, orphans, starts.get("invoices"))
    empty = {t: f.iloc[:0] for t, f in {**kept_part(folder, 0, 1), **today_part(stage, tables, 0)}.items()}
    total: Merged | None = None
    for p in range(partitions):
        part = merge_part(
            kept_part(folder, p, partitions), today_part(stage, tables, p), starts, as_of, moved, recent_far
        )
        for table in empty:
            frame = part.tables.get(table)
            frame = empty[table] if frame is None else frame
            write_bucket_atomic(bucket_parts(frame, partitions)[p], bucket_file(stage, table, p))
        part.tables = {}
        if total is None:
            total = part
        else:
            total.add(part)
    assert total is not None
    warnings = total.verdict(starts, as_of, out)
    rows = {t: c["rows"] for t, c in total.counts.items()}
    return total.section(held), warnings, rows


__all__ = ["kept_part", "merge_streamed", "partitions_for", "today_part"]
