"""Streamed ingest: the rules of the in-memory ingest, in memory bounded by a chunk and a debtor
partition instead of by the book.

Called by :func:`pipelines.ingest.ingest_source` for large inputs (or when asked). Steps:

1. **route**: every input is read in chunks (Parquet: slices of row groups; CSV, AR exports and
   the UCI file are read whole and handed on in chunks). Each row goes to the spill file of its
   debtor partition, ``hash(debtor_id) % P`` with the hash of the output buckets
   (:func:`pipelines.adapters.files.bucket_codes`); rows without a debtor id go to partition 0.
   Invoice and payment ids also go to a spill partitioned by the hash of the id.
2. **ids in several partitions** (hash-partitioned, one id partition in memory at a time): an
   invoice or payment id that occurs in more than one debtor partition belongs to two debtors,
   so it fails the uniqueness expectation in every copy, as when the whole table is validated.
   Every other whole-table rule is per debtor: exact duplicate rows share their debtor id, the
   compound keys of events / statements / plans start with it, and the cross-table checks follow
   a row to its debtor.
3. **validate** each partition: parsing, plausibility, duplicate rows and the table's Great
   Expectations suite (:func:`pipelines.ingest.rules.within_table`). The accepted invoices'
   currencies are counted (the reporting currency is chosen from the whole book).
4. **invoices of another partition**: a payment naming an invoice id that is not in its own
   partition (a debtor mismatch, or an unknown invoice) needs that invoice's status. Only those
   ids are kept in memory and looked up in one pass over the partitions.
5. **finish** each partition: currency conversion, cross-table checks, the accepted rows written
   as the output bucket, the rejected rows spilled by input position.
6. **publish**: when the accepted rows give another bucket count than ``P``, the buckets are
   re-cut; the quarantine and FX tables are merged back into input order one range of input rows
   at a time; manifest and Data Docs as in the in-memory path.

Steps 3 and 5 run in **one pass** (:meth:`StreamRun.fused`) when the currency plan can be told
from the invoices' currency cells seen in step 1 (a configured reporting currency or source
default, or one currency, or none): a partition is validated and finished in one call, and its
typed rows are never spilled, unless one of its payments names an invoice of another partition
(then it waits for step 4, as in two passes). The plan of the validated rows is checked against
the assumed one; if they differ, the pass is dropped and the partitions are validated again in
two passes (the raw rows stay in the spill until then).

The outputs are those of the in-memory ingest, byte for byte, except the number of Great
Expectations batches in ``validation.chunks`` and the Data Docs pages (one validation per batch).
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.adapters.book import book_id_for
from pipelines.adapters.files import (
    ROW_GROUP_ROWS,
    atomic_path,
    bucket_codes,
    bucket_file,
    bucket_parts,
    conform,
    group_order,
    ingest_csv_text,
    output_errors,
    parquet_footer_digest,
    sha256_file,
    write_bucket_atomic,
    write_text_atomic,
)
from pipelines.config.project import CurrencyConfig
from pipelines.config.source import SourceConfig
from pipelines.ingest.checks import ar_open_items, refuse_header_only_ledger, unknown_debtors
from pipelines.ingest.currency import (
    CURRENCY_SYMBOLS,
    CurrencyPlan,
    convert_currencies,
    currency_counts,
    reporting_currency,
)
from pipelines.ingest.decimals import (
    CurrencyLookup,
    DecimalTally,
    currency_lookup,
    currency_set,
    flagged,
    mixed,
    payment_lookup,
    suspects,
    tally,
)
from pipelines.ingest.idhash import id_hashes, in_sorted
from pipelines.ingest.masks import arrow, index_in, isin, passing
from pipelines.ingest.quarantine import quarantine_frame, reason_counts, row_reasons
from pipelines.ingest.rules import (
    DUPLICATE_KEYS,
    NOTES,
    OPTIONAL_VALUES,
    _duplicate_rows,
    _id_masks,
    _implausible,
    _parse,
    _reason_column,
    clear_optional,
    cross_table,
    within_table,
)
from pipelines.ingest.sources import NotStreamable, RawTable, chunk_loaders, parquet_pieces, slim
from pipelines.sources.parse import parse_text

LEDGER_TABLES = ("invoices", "payments", "statements")
ID_COLUMN = {"invoices": "invoice_id", "payments": "payment_id"}
DEFAULT_CHUNK_ROWS = 1_000_000
"""Rows read per chunk of an input file."""


# ---------------------------------------------------------------- spill files


class Spill:
    """A folder of pickled pieces; ``append`` adds a piece to a key, ``pieces`` reads them back in order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=False)
        self._files: dict[tuple[Any, ...], Any] = {}

    def _path(self, key: tuple[Any, ...]) -> Path:
        return self.root / ("-".join(str(k) for k in key) + ".pkl")

    def append(self, key: tuple[Any, ...], obj: Any) -> None:
        fh = self._files.get(key)
        if fh is None:
            fh = self._files[key] = open(self._path(key), "ab")  # noqa: SIM115 - closed in flush
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def put(self, key: tuple[Any, ...], obj: Any) -> None:
        self.drop(key)
        self.append(key, obj)
        self.flush(key)

    def flush(self, key: tuple[Any, ...] | None = None) -> None:
        for k in [key] if key is not None else list(self._files):
            fh = self._files.pop(k, None)
            if fh is not None:
                fh.close()

    def pieces(self, key: tuple[Any, ...]) -> Iterator[Any]:
        self.flush(key)
        path = self._path(key)
        if not path.exists():
            return
        with open(path, "rb") as fh:
            while True:
                try:
                    yield pickle.load(fh)
                except EOFError:
                    return

    def get(self, key: tuple[Any, ...]) -> Any:
        return next(self.pieces(key), None)

    def drop(self, key: tuple[Any, ...]) -> None:
        self.flush(key)
        self._path(key).unlink(missing_ok=True)

    def close(self) -> None:
        self.flush()
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- per-table bookkeeping


@dataclass
class TableState:
    """What the streamed ingest knows about one table across chunks and partitions."""

    table: str
    first: RawTable  # the first chunk: file, mapping, malformed rows, rows_in, repairs
    empty: pd.DataFrame  # raw columns, no rows
    rows: int = 0
    chunks: int = 0  # chunks routed: spill keys ("raw" / "ids", table, partition, chunk)
    parts: set[int] = field(default_factory=set)
    validation: dict[str, Any] | None = None
    cleared: dict[str, Any] = field(default_factory=dict)
    cleared_rows: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    cleared_examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    accepted: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, int] = field(default_factory=dict)  # more_files: quarantined rows per file
    template: pd.DataFrame | None = None  # an empty quarantine frame (the CSV header)
    fx_template: pd.DataFrame | None = None
    ranges: set[int] = field(default_factory=set)
    fx_ranges: set[int] = field(default_factory=set)
    currencies: list[pd.Series] = field(default_factory=list)  # invoices: each chunk's distinct texts
    decimals: DecimalTally = field(default_factory=DecimalTally)  # amounts like 1.500 (ingest.decimals)

    @property
    def malformed(self) -> pd.DataFrame | None:
        m = self.first.malformed
        return m if m is not None and len(m) else None

    def merge_validation(self, summary: dict[str, Any]) -> None:
        if self.validation is None:
            self.validation = dict(summary)
            return
        v = self.validation
        v["expectations"] = max(v["expectations"], summary["expectations"])
        v["chunks"] += summary["chunks"]
        v["failed_expectations"] = sorted(set(v["failed_expectations"]) | set(summary["failed_expectations"]))

    def merge_cleared(self, cleared: dict[str, Any], rows: np.ndarray, source_rows: np.ndarray) -> None:
        """Add one partition's ``values_cleared`` (its ``first_source_rows`` are global row numbers).
        Only the rows named are looked up: every invoices partition brings its ``values_cleared``, most
        often empty, and a dict of all its rows cost ~1.8 CPU-s per 4.9M invoices in the main process
        (s43-scale, py-spy of a 200k ingest; ~9 CPU-s at 1M debtors)."""
        named = {r for info in cleared.values() for r in info["first_source_rows"]}
        hit = (
            np.flatnonzero(np.isin(rows, np.fromiter(named, dtype=np.int64, count=len(named))))
            if named
            else []
        )
        where = dict(zip(rows[hit].tolist(), source_rows[hit].tolist(), strict=True))
        for column, info in cleared.items():
            total = self.cleared.setdefault(column, {"rows": 0, "reasons": {}, "first_source_rows": []})
            total["rows"] += info["rows"]
            for reason, n in info["reasons"].items():
                total["reasons"][reason] = total["reasons"].get(reason, 0) + n
            self.cleared_rows.setdefault(column, []).extend((r, where[r]) for r in info["first_source_rows"])
            if "examples" in info:  # the values of rules.BAD_CODE_COLUMNS, with their rows
                pairs = zip(info["example_rows"], info["examples"], strict=True)
                self.cleared_examples.setdefault(column, []).extend(pairs)

    def values_cleared(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column in sorted(self.cleared):
            info = self.cleared[column]
            first = [s for _r, s in sorted(self.cleared_rows.get(column, []))[:5]]
            out[column] = {
                "rows": info["rows"],
                "reasons": dict(sorted(info["reasons"].items())),
                "first_source_rows": first,
            }
            if column in self.cleared_examples:  # the first 3 distinct of the file, as in memory
                seen = list(dict.fromkeys(v for _s, v in sorted(self.cleared_examples[column])))
                out[column]["examples"] = seen[:3]
        return out


def _partition(ids: pd.Series, n: int) -> np.ndarray:
    """Debtor partition of each row (``bucket_codes``); rows without an id go to partition 0."""
    codes = bucket_codes(ids, n)
    codes[ids.isna().to_numpy()] = 0
    return codes


def _currency_texts(table: str, raw: RawTable) -> list[pd.Series]:
    """The distinct currency cells of an invoices chunk, as read (for :meth:`StreamRun.assumed_plan`)."""
    if table != "invoices" or "currency" not in raw.frame:
        return []
    return [raw.frame["currency"].drop_duplicates().reset_index(drop=True)]


def _as_spilled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the spill gives it back: each Arrow-backed column in one chunk (pandas pickles
    ``combine_chunks()``). A bucket file's bytes depend on the chunks (Parquet pages are cut per
    chunk written), so the rows a fused pass never spills are written in the same bytes."""
    out = {}
    for name, col in frame.items():
        arr = col.array
        if hasattr(arr, "_pa_array") and arr._pa_array.num_chunks != 1:
            like = arr.__class__.__new__(arr.__class__)
            like.__setstate__(arr.__getstate__())  # what unpickling does
            col = pd.Series(like, index=col.index, name=name)
        out[name] = col
    return pd.DataFrame(out, index=frame.index) if out else frame


def _count(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


# ---------------------------------------------------------------- the streamed run

_FORKED_RUN: StreamRun | None = None
"""The run a forked worker process works for (set in the parent just before the pool forks)."""


def _in_fork(method: str, part: Any) -> Any:
    """One call of :meth:`StreamRun.each` in a worker process; its spill writes are flushed."""
    run = _FORKED_RUN
    assert run is not None, "the pool is forked from a run"
    try:
        return getattr(run, method)(part)
    finally:
        run.spill.flush()


def default_workers() -> int:
    """Processes for the streamed ingest when the config does not say: ``min(2, usable CPUs)``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, cpus))


LISTED = "_listed"
"""Column of :meth:`StreamRun._parsed_invoices`: the invoice's debtor has a row in today's debtors table."""

STEP_WORDS = {
    "_route_piece": "reading the input files",
    "_validate_part": "checking the rows",
    "_fused_part": "checking and writing the rows",
    "_finish_part": "writing the tables",
    "merge_step": "merging today's export into the kept history (--keep-history)",
    "_parsed_invoices": "checking that today's invoices are of the kept history's ledger (--keep-history)",
}
"""What a worker process was doing, in the user's words, per method :meth:`StreamRun.each` runs
(the error of a dead worker names it, not the method)."""


class WorkerDiedError(RuntimeError):
    """A worker process of a streamed ingest ended without a result (killed, most often out of memory).
    Nothing was published: the run's staging folder is left for the next ingest to clean.
    :meth:`says` is the line for the user, naming the project config the setting goes in."""

    def __init__(self, step: str, workers: int) -> None:
        self.step, self.workers = step, workers
        super().__init__(self.says())

    def says(self, config: str | Path = "conf/ews.yaml", out: str | Path | None = None) -> str:
        doing = STEP_WORDS.get(self.step, "working on a debtor partition")
        kept = (
            f": nothing was published, the previous outputs in {out} are unchanged" if out is not None else ""
        )
        return (
            f"an ingest worker process died while {doing} (one of {self.workers} processes at work at once; "
            f"most often out of memory){kept}. Set compute.ingest_workers: 1 in the project config ({config}) "
            "to work on one debtor partition at a time, then run the same command again"
        )


@dataclass
class StreamRun:
    source: SourceConfig
    stage: Path
    spill: Spill
    partitions: int
    chunk_rows: int
    validator: Any
    params: dict[str, Any]
    as_of: dt.date
    currency: CurrencyConfig
    say: Callable[[str], None]
    lap: Callable[[str], None]
    workers: int = 1
    states: dict[str, TableState] = field(default_factory=dict)
    far_ids: pd.Series = field(default_factory=lambda: pd.Series([], dtype="string"))
    order: tuple[str, ...] = ()
    shared: dict[str, pd.Series] = field(default_factory=dict)
    plan: CurrencyPlan | None = None
    far: pd.DataFrame | None = None
    pieces: list[tuple[str, int, Callable[[], dict[str, RawTable]]]] = field(default_factory=list)
    fusing: bool = False  # in a fused pass (steps 3 and 5 together, :meth:`fused`)
    kept: tuple[int, dict[str, dict[str, Any]]] | None = None  # a fused pass: partition, typed rows
    quiet: Any = None  # a validator without Data Docs (:meth:`_recheck`)
    dropping: Any = None  # the thread removing the raw rows (:meth:`drop_raw`)
    currencies: set[str] = field(default_factory=set)  # the invoices' (ingest.decimals, after routing)
    lookup: CurrencyLookup | None = None  # the invoices' classes by id in a mixed book (after routing them)
    history: tuple[Path, dt.date] | None = None  # --keep-history: the base (ingest.history.base_of)
    readmitted: dict[str, int] = field(default_factory=dict)  # rows the history's references cleared
    # per debtor partition, the debtors missing from the debtors table (checks.unknown_debtors)
    unknown: list[pd.DataFrame] = field(default_factory=list)
    quarantined: dict[str, pd.DataFrame] = field(
        default_factory=dict
    )  # keys of quarantined rows (merge_part)
    job: Any = None  # the steps of a streamed merge (ingest.history_stream.MergeJob), while they run
    foreign_out: Path | None = None  # --keep-history: OUT, named by the other-ledger check (refuse_foreign)
    foreign_every: int = 1  # that check's sample: the invoices of one id in ``foreign_every``
    foreign_plan: CurrencyPlan | None = None  # and the currency plan it converts the invoices with
    foreign_judged: bool = False  # that check ran and took today's invoices

    # ------------------------------------------------------------ work per partition, in processes

    def each(self, method: str, parts: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """``(part, self.<method>(part))`` for every part, in the order of ``parts``.

        With ``workers`` > 1 the calls run in a pool of that many processes, forked from this one
        (they inherit the run: the table states, the spill, the Great Expectations context and the
        inputs of the step, set as attributes before the call). A call reads and writes only the
        spill files of its own part and returns what the parent merges, in part order: the
        results, and so the outputs, are those of one process. The workers get SIGTERM from the
        kernel when this process dies, however it dies (:func:`pipelines.runtime.die_with_parent`).
        """
        todo = list(parts)
        if self.workers <= 1 or len(todo) <= 1:
            for part in todo:
                yield part, getattr(self, method)(part)
            return
        global _FORKED_RUN
        self.spill.flush()  # a forked child must not inherit buffered spill writes
        _FORKED_RUN = self
        from pipelines.runtime import die_with_parent

        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(todo)),
            mp_context=multiprocessing.get_context("fork"),
            # a kill -9 (or the OOM killer) of ews must not leave the workers waiting for work for ever,
            # holding OUT/.ingest.lock (inherited) so that every later ingest into OUT is refused
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
        try:
            futures: list[Future[Any]] = [pool.submit(_in_fork, method, part) for part in todo]
            for part, future in zip(todo, futures, strict=True):
                try:
                    yield part, future.result()
                except BrokenProcessPool as exc:
                    raise WorkerDiedError(method, min(self.workers, len(todo))) from exc
        finally:
            _FORKED_RUN = None
            pool.shutdown(wait=True, cancel_futures=True)

    def merge_steps(self, job: Any) -> Callable[[str, Iterable[int]], Iterator[tuple[int, Any]]]:
        """How the steps of a streamed ``--keep-history`` merge (``job``: an
        :class:`pipelines.ingest.history_stream.MergeJob`) run: in this run's worker processes
        (:meth:`each`), one partition per call, results in partition order."""

        def run(step: str, parts: Iterable[int]) -> Iterator[tuple[int, Any]]:
            self.job = job  # a forked worker inherits the job as the parent set it
            try:
                for (_step, p), result in self.each("merge_step", [(step, p) for p in parts]):
                    yield p, result
            finally:
                self.job = None

        return run

    def merge_step(self, part: tuple[str, int]) -> Any:
        """One step of a streamed merge on one partition (:meth:`merge_steps`)."""
        step, p = part
        return getattr(self.job, step)(p)

    # ------------------------------------------------------------ 1. route

    def route(self, order: tuple[str, ...]) -> None:
        import pyarrow as pa

        id_hashes(
            pa.array(["warm-up"])
        )  # compiled (or loaded from numba's cache) once, before the workers fork
        loaders, block_of, whole = chunk_loaders(self.source, self.chunk_rows)
        blocks = list(dict.fromkeys(block_of[t] for t in order if t in block_of))
        for block in blocks:
            pieces = parquet_pieces(self.source, block, self.chunk_rows) if self.workers > 1 else None
            if pieces is not None:  # chunks read and routed in the worker processes
                table = block.removeprefix("tables.")
                self.pieces = [(table, start, read) for start, _n, read in pieces]
                for c, got in self.each("_route_piece", range(len(pieces))):
                    if c == 0:
                        self.states[table] = TableState(table, got["first"], got["first"].frame)
                    state = self.states[table]
                    state.rows += got["rows"]
                    state.chunks += 1
                    state.parts |= got["parts"]
                    state.currencies += got["currencies"]
                    state.decimals.add(got["decimals"])
                self.pieces = []
            else:
                try:
                    for piece in loaders[block]():
                        for table, raw in piece.items():
                            self._route_chunk(table, raw)
                except NotStreamable:  # a damaged CSV: forget its chunks, read it whole
                    for table in [t for t, b in block_of.items() if b == block]:
                        self._forget(table)
                    for piece in whole[block]():
                        for table, raw in piece.items():
                            self._route_chunk(table, raw)
            self.say(f"read {block}")
            self.lap("read")
            if (
                block == block_of.get("invoices")
                and self.foreign_out is not None
                and "invoices" in self.states
            ):
                self.refuse_foreign()
            if "invoices" in self.states and block == block_of.get("invoices") and self.lookup is None:
                self._invoice_lookup()
                if (
                    self.lookup is not None
                    and block_of.get("payments") == block
                    and "payments" in self.states
                ):
                    self._retally("payments")  # one file gave both (an ar_export): tallied without it
        self.spill.flush()
        missing = [t for t in block_of if t not in self.states]
        if missing:  # pragma: no cover - every loader yields at least one chunk per table
            raise AssertionError(f"no rows read for {missing}")
        invoices = self.states.get("invoices")
        self.currencies = currency_set(invoices.currencies if invoices else [], self.source.default_currency)
        for table, state in self.states.items():  # whole columns decided before any row is checked
            found = suspects(table, state.decimals, self.currencies)
            if found:
                state.first = replace(state.first, decimal_suspects=found)

    def refuse_header_only(self) -> None:
        """A cut-off export (payments or debtors with a header and no rows beside the invoices)
        refused as soon as every table is read, with the in-memory ingest's line: found by the
        checks after validation it came after every partition was validated (42-62 s on an
        800-debtor night, s29-review)."""
        tables = {
            table: {
                "rows_in": state.rows + (0 if state.malformed is None else len(state.malformed)),
                "input": str(state.first.file),
            }
            for table, state in self.states.items()
        }
        refuse_header_only_ledger(tables, self.source.rules.refuse_empty_table_rows)

    def refuse_foreign(self) -> None:
        """``--keep-history``: the merge's other-ledger check
        (:func:`pipelines.ingest.history_stream.refuse_foreign`, the same line) as soon as the invoices
        are routed, before any row is validated, on today's invoices as parsed (the checks of parsing,
        plausibility and duplicate rows, not the Great Expectations suite or the cross-table checks:
        :meth:`_parsed_invoices`), sampled as the history's. At 200k debtors another ledger used to be
        refused only after the whole validation (1,048 s at load 15). The merge judges the accepted
        invoices again (``history_stream._foreign_check``). Not when the reporting currency depends on
        how many invoices are accepted per currency (:meth:`assumed_plan` None: several currencies, none
        configured): the history's amounts are in it."""
        from pipelines.ingest.history_stream import MergeJob, history_sample, refuse_foreign, sample_every

        assert self.history is not None and self.foreign_out is not None
        self.foreign_plan = self.assumed_plan()
        if self.foreign_plan is None:
            return
        folder, held = self.history
        job = MergeJob(folder, self.stage, ["invoices"], self.partitions, self.as_of)
        job.every = self.foreign_every = sample_every(folder, self.states["invoices"].rows)
        self.spill.flush()
        parts = [f for _p, f in self.each("_parsed_invoices", range(self.partitions)) if f is not None]
        today = pd.concat(parts, ignore_index=True) if parts else None
        kept = history_sample(job, self.merge_steps(job))
        if today is not None:  # an invoice of a debtor neither table knows is quarantined unknown_debtor
            known = kept["debtors"]["debtor_id"] if "debtors" in kept else pd.Series([], dtype="string")
            listed = today.pop(LISTED).to_numpy(dtype=bool) | isin(today["debtor_id"], known)
            today = today.loc[listed].reset_index(drop=True)
        refuse_foreign(job, held, self.foreign_out, kept, today)
        self.foreign_judged = True
        self.say("checked that today's invoices are the history's ledger")
        self.lap("foreign")

    def foreign_settled(self) -> bool:
        """Whether the check before validation (:meth:`refuse_foreign`) already judged the invoices the
        merge would judge: it ran, and every routed invoice was accepted (none quarantined), so its
        sample is the accepted invoices' sample with the same values (parsed and converted as step 5
        stores them) and the same ``every``. The merge's check would read both sides again for the
        same verdict (at 200k about as long as this one: 58-72 s wall at load 9-10)."""
        state = self.states.get("invoices")
        return (
            self.foreign_judged
            and state is not None
            and state.quarantined == 0
            and state.accepted == state.rows
        )

    def _parsed_invoices(self, p: int) -> pd.DataFrame | None:
        """The invoices of partition ``p`` in the other-ledger check's sample (:meth:`refuse_foreign`),
        parsed and converted into the reporting currency as step 5 converts them (the history holds
        them so); the rows parsing, plausibility, the duplicate-row check or a missing rate reject are
        left out. Column :data:`LISTED`: whether today's debtors table has a row of the invoice's
        debtor (True without a debtors table): :meth:`refuse_foreign` keeps the others only when the
        history knows the debtor, as the cross-table check and the readmission judge them. Before, a
        night with many invoices of debtors no table knows (quarantined ``unknown_debtor`` in memory,
        accepted) was refused streamed as another ledger (s28-review)."""
        from pipelines.ingest.history_stream import FOREIGN_COLUMNS, sampled

        got = self._raw("invoices", p)
        if got is None:
            return None
        raw = got[0]
        if self.foreign_every > 1 and "invoice_id" in raw.frame:
            ids = parse_text(raw.frame["invoice_id"], is_id=True)[0]  # as _parse reads them
            raw = raw.take(np.flatnonzero(sampled(ids, self.foreign_every)))
        frame, masks = _parse(raw, self.source.default_currency)
        masks = {r: m for r, m in masks.items() if r not in NOTES}  # read, not rejected
        masks.update(_implausible(frame, "invoices", self.source.rules))
        masks.update(_id_masks(frame))
        ok = passing(masks, len(frame)) & ~_duplicate_rows(raw.frame, DUPLICATE_KEYS["invoices"])
        frame = frame.loc[ok, FOREIGN_COLUMNS].reset_index(drop=True)
        masks = {"invoices": {}}
        rules, default = self.source.rules, self.source.default_currency
        convert_currencies({"invoices": frame}, masks, default, self.currency, rules, self.foreign_plan)
        frame = frame.loc[passing(masks["invoices"], len(frame))].reset_index(drop=True)
        frame[LISTED] = True
        if "debtors" in self.states:  # routed before the invoices (TABLE_ORDER), in the same partitions
            debtors = self._raw("debtors", p)
            ids, rejected = (
                self._master_ids(debtors[0])
                if debtors is not None and "debtor_id" in debtors[0].frame
                else (pd.Series([], dtype="string"), pd.Series([], dtype="string"))
            )
            frame = frame.loc[~isin(frame["debtor_id"], rejected)].reset_index(drop=True)
            frame[LISTED] = isin(frame["debtor_id"], ids)
        return frame

    def _master_ids(self, raw: RawTable) -> tuple[pd.Series, pd.Series]:
        """The debtor ids of a partition of today's debtors table, and those of them whose every row
        the ingest rejects for a reason known before validation: parsing, plausibility, the id checks
        (an attribute's reason only under ``rules.optional_attributes: quarantine``), or one id on two
        rows that are not exact repeats (both fail the id's uniqueness). In memory their invoices are
        quarantined ``debtor_quarantined``, also when the history knows the debtor, so the check before
        validation leaves them out (:meth:`_parsed_invoices`). Before, a ledger whose master listed a
        debtor twice in every night was refused streamed as another ledger and merged in memory
        (s29-review). Under ``quarantine`` the rows also go through the Great Expectations suite, which
        alone rejects a bad country, a negative credit_limit or turnover, an onboarding date out of
        bounds: before, a master keeping such rows in every night was refused streamed and merged in
        memory (s30-hostile). Under ``clear`` (the default) the suite's attribute reasons empty the
        value and keep the row, so the checks above are all there is."""
        rules = self.source.rules
        if rules.optional_attributes == "quarantine":
            frame, masks, _ = within_table(
                raw, self._quiet(), self.params, self.source.default_currency, lambda _step: None, rules
            )
        else:
            frame, masks = _parse(raw, self.source.default_currency)
            masks.update(_implausible(frame, "debtors", rules))
            masks.update(_id_masks(frame))
            masks = {r: m for r, m in masks.items() if _reason_column(r) is None}  # emptied (clear_optional)
        ids = frame["debtor_id"]
        fresh = ~_duplicate_rows(raw.frame, DUPLICATE_KEYS["debtors"])
        once = ~ids[fresh].duplicated(keep=False).reindex(ids.index, fill_value=True).to_numpy(dtype=bool)
        ok = passing(masks, len(frame)) & fresh & (once | ids.isna().to_numpy())
        named = ids.notna().to_numpy()
        rejected = pd.Index(ids[named].unique()).difference(pd.Index(ids[ok & named].unique()))
        return ids[named].reset_index(drop=True), pd.Series(rejected, dtype="string")

    def _invoice_lookup(self) -> None:
        """After the invoices are routed, in a book whose invoices mix 3-decimal currencies and
        others: their classes by invoice and debtor id, read back from the spill, for the payments
        without a currency (:class:`pipelines.ingest.decimals.CurrencyLookup`), as the in-memory
        ingest builds it from the whole invoices table."""
        state = self.states["invoices"]
        if not mixed(currency_set(state.currencies, self.source.default_currency)):
            return
        self.spill.flush()
        frames = []
        for p in range(self.partitions):
            got = self._raw("invoices", p)
            if got is not None:
                raw, rows = got
                frames.append(raw.frame.iloc[np.argsort(rows, kind="stable")])
        self.lookup = currency_lookup(frames, self.source.default_currency)

    def _retally(self, table: str) -> None:
        """The decimal counts of ``table`` again, from its routed rows with the invoices' lookup:
        its chunks were tallied before the lookup existed because one input gave both tables (an
        ``ar_export``'s derived payments), where the in-memory ingest tallies them with it. Before,
        such a streamed book counted a KWD settlement's ``12.500`` as a 2-decimal amount: 11 of 12
        dotted settlements of the shape made the column suspect and a EUR ``1.500`` was quarantined,
        which the in-memory ingest kept (EUR: 1 of 2). The counts add up over any split of the rows,
        and the examples are the first source rows of each partition (:meth:`DecimalTally.add`)."""
        state = self.states[table]
        state.decimals = DecimalTally()
        for p in range(self.partitions):
            got = self._raw(table, p)
            if got is None:
                continue
            raw, rows = got
            order = np.argsort(rows, kind="stable")
            raw = replace(
                raw, frame=raw.frame.iloc[order].reset_index(drop=True), source_row=raw.source_row[order]
            )
            state.decimals.add(tally(raw, self.source.default_currency, self.lookup))

    def _forget(self, table: str) -> None:
        """Drop what was routed of ``table`` so far."""
        state = self.states.pop(table, None)
        for p in range(self.partitions):
            for c in range(state.chunks if state is not None else 0):
                self.spill.drop(("raw", table, p, c))
                self.spill.drop(("ids", table, p, c))

    def _route_chunk(self, table: str, raw: RawTable) -> None:
        """Route one chunk in this process (the chunks of a table arrive in input order)."""
        state = self.states.get(table)
        if state is None:
            state = self.states[table] = TableState(
                table, replace(raw, frame=raw.frame.iloc[:0]), raw.frame.iloc[:0]
            )
        start, c = state.rows, state.chunks
        state.rows += len(raw.frame)
        state.chunks += 1
        state.parts |= self._route_rows(table, raw, start, c)
        state.currencies += _currency_texts(table, raw)
        state.decimals.add(tally(raw, self.source.default_currency, self.lookup))
        self.spill.flush()

    def _route_piece(self, c: int) -> dict[str, Any]:
        """Read and route chunk ``c`` of a Parquet table (``self.pieces``; in a worker process)."""
        table, start, read = self.pieces[c]
        raw = read()[table]
        first = replace(raw, frame=raw.frame.iloc[:0]) if c == 0 else None
        parts = self._route_rows(table, raw, start, c)
        return {
            "first": first,
            "rows": len(raw.frame),
            "parts": parts,
            "currencies": _currency_texts(table, raw),
            "decimals": tally(raw, self.source.default_currency, self.lookup),
        }

    def _route_rows(self, table: str, raw: RawTable, start: int, c: int) -> set[int]:
        """Spill the rows of chunk ``c`` (input positions from ``start``) by debtor partition, and
        their invoice / payment ids by id hash; returns the debtor partitions written."""
        n = len(raw.frame)
        if n == 0:
            return set()
        rows = np.arange(start, start + n, dtype=np.int64)
        parts: set[int] = set()
        ids = parse_text(raw.frame["debtor_id"], is_id=True)[0] if "debtor_id" in raw.frame else None
        part = _partition(ids, self.partitions) if ids is not None else np.zeros(n, dtype=np.int64)
        order = group_order(part, self.partitions)
        cuts = np.searchsorted(part[order], np.arange(self.partitions + 1))
        # input positions as 4-byte offsets in the chunk, and no source rows when they are the
        # positions + 1 (a Parquet file): 12 of 16 bytes a row less spill (1.1 GB at 1M debtors)
        offsets = order.astype(np.int32) if n <= np.iinfo(np.int32).max else order
        next_row = raw.source_row.dtype == np.int64 and np.array_equal(raw.source_row, rows + 1)
        for p in np.flatnonzero(np.diff(cuts)):
            sel = order[cuts[p] : cuts[p + 1]]
            self.spill.append(
                ("raw", table, int(p), c),
                {
                    "frame": raw.frame.iloc[sel].reset_index(drop=True),
                    "start": start,
                    "at": offsets[cuts[p] : cuts[p + 1]],
                    "source_row": None if next_row else raw.source_row[sel],
                    "source_line": None if raw.source_line is None else raw.source_line[sel],
                    "pre_bad": {k: m[sel] for k, m in raw.pre_bad.items()},
                },
            )
            parts.add(int(p))
        column = ID_COLUMN.get(table)
        if column is not None and column in raw.frame:
            import pyarrow as pa

            key = parse_text(raw.frame[column], is_id=True)[0]
            has = key.notna().to_numpy()
            key = key[has]
            # the owning debtor partition in 2 bytes, not 8 (0.55 GB less spill at 1M debtors)
            owner = part[has].astype(np.int16 if self.partitions <= np.iinfo(np.int16).max else np.int32)
            ids = arrow(key).cast(pa.string())
            hashed = id_hashes(ids)
            where = (hashed % np.uint64(self.partitions)).astype(np.int64)
            # rows grouped by id partition with one stable sort (each group in input order, as a
            # mask would give it), not one pass over the chunk per partition: P passes cost
            # ~0.29 CPU-s per 1M-row chunk at P = 46, the sort ~0.12 (BENCHMARKS.md, s10-nightly)
            by_q = group_order(where, self.partitions)
            cuts = np.searchsorted(where[by_q], np.arange(self.partitions + 1))
            for q in np.flatnonzero(np.diff(cuts)):
                sel = by_q[cuts[q] : cuts[q + 1]]
                self.spill.append(
                    ("ids", table, int(q), c),
                    {"hash": hashed[sel], "p": owner[sel], "id": ids.take(pa.array(sel))},
                )
        return parts

    def _pieces(self, kind: str, table: str, p: int) -> list[Any]:
        """The spilled pieces of ``table`` in partition ``p``, chunk after chunk (input order)."""
        state = self.states.get(table)
        chunks = state.chunks if state is not None else 0
        return [x for c in range(chunks) for x in self.spill.pieces((kind, table, p, c))]

    def _drop(self, kind: str, table: str, p: int) -> None:
        state = self.states.get(table)
        for c in range(state.chunks if state is not None else 0):
            self.spill.drop((kind, table, p, c))

    def _raw(self, table: str, p: int) -> tuple[RawTable, np.ndarray] | None:
        """The raw rows of ``table`` in partition ``p`` and their input positions (None: no rows)."""
        pieces = self._pieces("raw", table, p)
        state = self.states[table]
        if not pieces:
            if p != 0 or state.rows:
                return None
            empty = np.zeros(0, np.int64)
            lines = None if state.first.source_line is None else empty
            return replace(
                state.first,
                frame=state.empty,
                source_row=empty,
                source_line=lines,
                pre_bad={},
                malformed=None,
            ), empty
        frame = (
            pd.concat([x["frame"] for x in pieces], ignore_index=True)
            if len(pieces) > 1
            else pieces[0]["frame"]
        )
        lines = [x["source_line"] for x in pieces]
        pre = {k for x in pieces for k in x["pre_bad"]}
        at = [x["start"] + x["at"].astype(np.int64) for x in pieces]
        raw = replace(
            state.first,
            frame=frame,
            source_row=np.concatenate(
                [
                    r + 1 if x["source_row"] is None else x["source_row"]
                    for r, x in zip(at, pieces, strict=True)
                ]
            ),
            source_line=None if lines[0] is None else np.concatenate(lines),
            pre_bad={k: np.concatenate([x["pre_bad"][k] for x in pieces]) for k in pre},
            malformed=None,
        )
        return raw, np.concatenate(at)

    # ------------------------------------------------------------ 2. ids in several partitions

    def shared_ids(self) -> dict[str, pd.Series]:
        """Invoice / payment ids found in more than one debtor partition, one id partition at a
        time: the ids' 64-bit hashes are sorted, hashes that repeat with two owning partitions are the
        candidates, and their ids are then compared exactly (a hash collision is no duplicate)."""
        tables = [t for t in ID_COLUMN if t in self.states]
        found: dict[str, list[pd.Series]] = {t: [] for t in tables}
        for (table, _q), ids in self.each(
            "_shared_part", [(t, q) for t in tables for q in range(self.partitions)]
        ):
            if ids is not None:
                found[table].append(ids)
        out: dict[str, pd.Series] = {}
        for table in tables:
            shared = (
                pd.concat(found[table], ignore_index=True) if found[table] else pd.Series([], dtype="string")
            )
            out[ID_COLUMN[table]] = shared.sort_values(ignore_index=True)
        self.lap("shared_ids")
        return out

    def _shared_part(self, key: tuple[str, int]) -> pd.Series | None:
        """The ids of ``table`` in id partition ``q`` that occur in two debtor partitions (None: none)."""
        import pyarrow as pa

        table, q = key
        pieces = self._pieces("ids", table, q)
        if not pieces:
            return None
        hashed = np.concatenate([x["hash"] for x in pieces])
        owner = np.concatenate([x["p"] for x in pieces])
        h = np.sort(hashed)  # one sort of the hashes; owners only for repeated hashes
        repeated = h[1:][h[1:] == h[:-1]]
        if not len(repeated):
            return None
        rows = np.flatnonzero(pd.Series(hashed).isin(repeated).to_numpy())
        owners = pd.Series(owner[rows]).groupby(hashed[rows]).nunique()
        twice = owners.index[owners.to_numpy() > 1].to_numpy()
        if not len(twice):
            return None
        rows = rows[pd.Series(hashed[rows]).isin(twice).to_numpy()]
        ids = pa.chunked_array([x["id"] for x in pieces], pa.string()).take(pa.array(rows))
        pairs = pd.DataFrame({"id": ids.to_pandas(), "p": owner[rows]}).drop_duplicates()
        counts = pairs["id"].value_counts()
        return pd.Series(counts.index[counts > 1], dtype="string")

    # ------------------------------------------------------------ 3. validate

    def validate(self, order: tuple[str, ...], shared: dict[str, pd.Series]) -> CurrencyPlan:
        self.order, self.shared = order, shared
        checked = []
        for p, got in self.each("_validate_part", range(self.partitions)):
            self.say(f"validated debtor partition {p + 1}/{self.partitions}")
            checked.append(got)
        self._merge_checked(checked)
        plan = self._plan(checked)
        if "invoices" in self.states:
            self.lap("validate")
        return plan

    def _merge_checked(self, checked: list[dict[str, Any]]) -> None:
        """What step 3 found in each partition (in partition order): validation summaries, cleared
        values and the invoice ids payments name outside their partition."""
        far: list[pd.Series] = []
        for got in checked:
            for table, (summary, cleared) in got["tables"].items():
                state = self.states[table]
                state.merge_validation(summary)
                if cleared is not None:
                    state.merge_cleared(*cleared)
            if got["far"] is not None:
                far.append(got["far"])
        self.far_ids = (
            pd.Series(pd.concat(far, ignore_index=True).unique(), dtype="string")
            if far
            else pd.Series([], dtype="string")
        )

    def _plan(self, checked: list[dict[str, Any]]) -> CurrencyPlan:
        """The currency plan from the accepted invoices' currencies of every partition."""
        if "invoices" not in self.states:
            return CurrencyPlan(None, "no invoices", frozenset())
        counts: dict[str, int] = {}
        names: set[str] = set()
        for got in checked:
            _count(counts, got["currencies"])
            names.update(got["names"])
        reporting, how = reporting_currency(counts, self.source.default_currency, self.currency)
        return CurrencyPlan(reporting, how, frozenset(names))

    def _validate_part(self, p: int) -> dict[str, Any]:
        """Step 3 on debtor partition ``p``: each table's rows checked (the typed rows, reason masks
        and slim raw rows spilled for step 5, or, in :meth:`fused` runs, kept in ``self.kept`` and
        the raw rows left in the spill); returns what :meth:`validate` merges."""
        shared = self.shared
        out: dict[str, Any] = {"tables": {}, "currencies": {}, "names": set(), "far": None}
        local_invoices: pd.Series | None = None
        kept: dict[str, dict[str, Any]] = {}
        for table in self.order:
            if table not in self.states:
                continue
            got = self._check_table(table, p, self.validator)
            if got is None:
                continue
            typed, masks, raw, rows, summary, cleared = got
            out["tables"][table] = (summary, cleared)
            slim_raw = slim(raw, masks)
            if self.fusing:  # as the spill would give them back
                typed = _as_spilled(typed)
                slim_raw = replace(slim_raw, frame=_as_spilled(slim_raw.frame))
            kept[table] = {
                "typed": typed,
                "masks": {k: np.flatnonzero(v) for k, v in masks.items()},
                "raw": slim_raw,
                "rows": rows,
                "source_row": raw.source_row,
            }
            if not self.fusing:
                self.spill.put(("typed", table, p), kept.pop(table))
                self._drop("raw", table, p)
            if table == "invoices":
                ok = passing(masks, len(typed))
                _count(out["currencies"], currency_counts(typed["currency"][ok]))
                out["names"].update(str(x) for x in typed["currency"].dropna().unique())
                local_invoices = typed["invoice_id"]
            if table == "payments" and "invoices" in self.states:
                # each payment's first invoice row of this partition with its invoice id (-1: none)
                named = typed["invoice_id"]
                has_id = named.notna().to_numpy()
                first = (
                    index_in(named, local_invoices)
                    if local_invoices is not None
                    else np.full(len(named), -1, dtype=np.int64)
                )
                first[~has_id] = -1
                if self.fusing:  # the finish of this partition uses it (cross_table's invoice_row)
                    kept["payments"]["invoice_row"] = first
                wanted = named[has_id]
                far_rows = first[has_id] < 0
                if "invoice_id" in shared and len(shared["invoice_id"]):
                    far_rows |= isin(wanted, shared["invoice_id"])
                out["far"] = pd.Series(wanted[far_rows].unique(), dtype="string")
        if self.fusing:
            self.kept = (p, kept)
        return out

    def _check_table(
        self, table: str, p: int, validator: Any
    ) -> tuple[pd.DataFrame, dict[str, np.ndarray], RawTable, np.ndarray, dict[str, Any], Any] | None:
        """``table``'s raw rows of partition ``p`` checked (None: no rows): typed frame, reason
        masks, raw table, input positions, validation summary and cleared values."""
        rules = self.source.rules
        got = self._raw(table, p)
        if got is None:
            return None
        raw, rows = got
        raw = flagged(
            raw,
            raw.decimal_suspects or {},
            self.source.default_currency,
            self.currencies,
            payment_lookup(table, self.lookup),
        )
        column = ID_COLUMN.get(table)
        ids = {column: self.shared[column]} if column in self.shared and len(self.shared[column]) else None
        typed, masks, summary = within_table(
            raw, validator, self.params, self.source.default_currency, self.lap, rules, ids, f"-part-{p:04d}"
        )
        cleared = None
        if table in OPTIONAL_VALUES or table == "invoices":
            clear = rules.optional_attributes == "clear"
            typed, values = clear_optional(typed, masks, replace(raw, source_row=rows), clear)
            cleared = (values, rows, raw.source_row)
        return typed, masks, raw, rows, summary, cleared

    # ------------------------------------------------------------ 3 + 5 in one pass

    def assumed_plan(self) -> CurrencyPlan | None:
        """The currency plan step 3 will give, from the invoices' currency cells seen while routing
        (their distinct texts parsed as :func:`pipelines.ingest.rules._parse` does); None when it
        depends on how many invoices are accepted per currency (several currencies, no reporting
        currency configured). :meth:`fused` checks it against the plan of the validated rows."""
        if "invoices" not in self.states:
            return CurrencyPlan(None, "no invoices", frozenset())
        texts = self.states["invoices"].currencies
        cells = (
            pd.concat(texts, ignore_index=True).drop_duplicates().reset_index(drop=True)
            if texts
            else pd.Series([pd.NA], dtype="string")  # no currency column: every cell empty
        )
        parsed = parse_text(cells, upper=True)[0].replace(CURRENCY_SYMBOLS)
        default = self.source.default_currency
        if default:
            parsed = parsed.fillna(default)
        names = frozenset(str(x) for x in parsed.dropna().unique())
        reporting, how = reporting_currency(dict.fromkeys(names, 1), default, self.currency)
        if how == "most_invoices":
            return None
        return CurrencyPlan(reporting, how, names)

    def fused(
        self, order: tuple[str, ...], shared: dict[str, pd.Series], assumed: CurrencyPlan
    ) -> tuple[CurrencyPlan, dict[int, dict[str, Any]]] | None:
        """Steps 3 and 5 in one pass over the partitions, with the currency plan ``assumed`` before
        validation: a partition is finished right after its checks (its typed rows are never
        spilled) unless one of its payments names an invoice id outside it (its typed rows are
        spilled, as in two passes, and it is finished after step 4). Returns the plan and the
        finished partitions' results for :meth:`finish`; None when the validated rows give another
        plan (then nothing of this pass is kept: the raw rows are still in the spill, and the run
        goes on in two passes: :meth:`validate`, :meth:`far_invoices`, :meth:`finish`)."""
        self.order, self.shared, self.plan, self.far = order, shared, assumed, None
        self.fusing = True
        try:
            results = dict(self.each("_fused_part", range(self.partitions)))
        finally:
            self.fusing = False
        checked = [results[p]["checked"] for p in range(self.partitions)]
        finished = {p: r["finished"] for p, r in results.items() if r["finished"] is not None}
        plan = self._plan(checked)
        if plan != assumed:
            for p, got in finished.items():
                for table, t in got["tables"].items():
                    for kind, ranges in (("q", t["ranges"]), ("fx", t["fx_ranges"])):
                        for r in ranges:
                            self.spill.drop((kind, table, r, p))
            self.say("currencies other than those read while routing: validating again, in two passes")
            return None
        self._merge_checked(checked)
        self.lap("validate")
        return plan, finished

    def _fused_part(self, p: int) -> dict[str, Any]:
        """:meth:`fused` on partition ``p`` (in a worker process)."""
        try:
            checked = self._validate_part(p)
            assert self.kept is not None and self.kept[0] == p
            if checked["far"] is not None and len(checked["far"]):  # finished after step 4
                for table, payload in self.kept[1].items():
                    payload.pop("invoice_row", None)
                    self.spill.put(("typed", table, p), payload)
                return {"checked": checked, "finished": None}
            return {"checked": checked, "finished": self._finish_part(p)}
        finally:
            self.kept = None

    def drop_raw(self) -> None:
        """Remove the raw rows a :meth:`fused` pass left in the spill, in a thread: the kernel frees
        their pages (~3 s at 1M debtors) while this thread publishes. :meth:`close` waits for it."""
        import threading

        paths = [
            self.spill._path(("raw", table, p, c))
            for table, state in self.states.items()
            for p in range(self.partitions)
            for c in range(state.chunks)
        ]  # no raw file is open: routing flushed them, the workers read them in their own processes

        def unlink() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        self.dropping = threading.Thread(target=unlink, name="ews-ingest-drop-raw", daemon=True)
        self.dropping.start()

    def close(self) -> None:
        """Remove the spill (after the raw rows' removal, if it still runs)."""
        if self.dropping is not None:
            self.dropping.join()
        self.spill.close()

    def _load(
        self, table: str, p: int
    ) -> tuple[pd.DataFrame, dict[str, np.ndarray], RawTable, np.ndarray, np.ndarray]:
        """typed frame, reason masks, slim raw table, global rows and source rows of ``table`` in ``p``
        (from ``self.kept`` right after :meth:`_validate_part` in a fused pass, else the spill)."""
        if self.kept is not None and self.kept[0] == p:
            got = self.kept[1].get(table)
        else:
            got = self.spill.get(("typed", table, p))
        if got is None:
            state = self.states[table]
            raw = replace(
                state.first, frame=state.empty, source_row=np.zeros(0, np.int64), pre_bad={}, malformed=None
            )
            typed = _parse(raw, self.source.default_currency)[0]
            empty = np.zeros(0, np.int64)
            return typed, {}, replace(raw, kept=empty), empty, empty
        n = len(got["typed"])
        masks = {}
        for k, idx in got["masks"].items():
            m = np.zeros(n, dtype=bool)
            m[idx] = True
            masks[k] = m
        return got["typed"], masks, got["raw"], got["rows"], got["source_row"]

    # ------------------------------------------------------------ 4. invoices of another partition

    def far_invoices(self, plan: CurrencyPlan, finished: Iterable[int] = ()) -> pd.DataFrame | None:
        """For the invoice ids payments name outside their partition: the first row's currency, and
        whether an invoice with that id is accepted (after its own cross-table checks). The id
        spill tells which partitions hold them; only those rows are checked. A holder partition
        already ``finished`` by a fused pass has no typed rows in the spill: its invoices and
        debtors are checked again from their raw rows (:meth:`_recheck`)."""

        far_ids = self.far_ids
        holders: set[int] = set()
        if len(far_ids) and "invoices" in self.states:
            import pyarrow as pa

            # one hash table for every piece: pc.is_in builds its value set again on each call (2.35
            # CPU-s per piece against 4M ids; a 1M-debtor rolling night's 2,978,328 payments name invoices
            # paid off before the window). Only the spilled ids whose 64-bit hash (the spill's, by id
            # partition) is a wanted id's are compared as text: a rolling night's wanted ids are mostly
            # in no partition, and making a Python string of every spilled id cost ~17 CPU-s of 258 on a
            # 200k night (s29-scale)
            wanted = pd.Index(far_ids.to_numpy(dtype=object))
            hashes = id_hashes(arrow(far_ids.dropna()))
            by_q = (hashes % np.uint64(self.partitions)).astype(np.int64)
            order = group_order(by_q, self.partitions)
            cuts = np.searchsorted(by_q[order], np.arange(self.partitions + 1))
            for q in range(self.partitions):
                mine = np.sort(hashes[order[cuts[q] : cuts[q + 1]]])
                if not len(mine):
                    continue
                for x in self._pieces("ids", "invoices", q):
                    maybe = np.flatnonzero(in_sorted(mine, x["hash"]))
                    if not len(maybe):
                        continue
                    texts = x["id"].take(pa.array(maybe)).to_numpy(zero_copy_only=False)
                    hit = maybe[wanted.get_indexer(texts) >= 0]
                    holders.update(np.unique(x["p"][hit]).tolist())
        for table in ID_COLUMN:
            for q in range(self.partitions):
                self._drop("ids", table, q)
        if not holders:
            return None
        self.say(f"looking up {len(far_ids):,} invoice ids named by payments of other debtors")
        found = []
        broken = self._broken()
        again = set(finished)
        for p in sorted(holders):
            typed, masks = {}, {}
            load = self._recheck if p in again else self._load
            inv, inv_masks, _raw, rows, _src = load("invoices", p)
            hit = isin(inv["invoice_id"], far_ids)
            typed["invoices"] = inv.loc[hit].reset_index(drop=True)
            masks["invoices"] = {k: m[hit] for k, m in inv_masks.items()}
            if "debtors" in self.states:
                typed["debtors"], masks["debtors"], *_ = load("debtors", p)
            before = typed["invoices"]["currency"].copy()
            convert_currencies(
                typed, masks, self.source.default_currency, self.currency, self.source.rules, plan
            )
            cross_table(typed, masks, self.source.rules, broken)
            found.append(
                pd.DataFrame(
                    {
                        "invoice_id": typed["invoices"]["invoice_id"].to_numpy(),
                        "row": rows[hit],
                        "currency": before.to_numpy(),
                        "ok": passing(masks["invoices"], len(before)),
                    }
                )
            )
        self.lap("far_invoices")
        table = pd.concat(found, ignore_index=True).sort_values("row", kind="stable")
        first = table.drop_duplicates("invoice_id", keep="first").set_index("invoice_id")
        first["ok"] = table.groupby("invoice_id")["ok"].any()
        first.index = first.index.astype("string")
        return first

    def _recheck(
        self, table: str, p: int
    ) -> tuple[pd.DataFrame, dict[str, np.ndarray], RawTable, np.ndarray, np.ndarray]:
        """:meth:`_load` for a partition finished by a fused pass: its raw rows checked again (the
        same typed rows and masks), by a validator that adds no Data Docs page."""
        got = self._check_table(table, p, self._quiet())
        if got is None:
            return self._load(table, p)
        typed, masks, raw, rows, _summary, _cleared = got
        return typed, masks, slim(raw, masks), rows, raw.source_row

    def _quiet(self) -> Any:
        """The run's validator, or one like it that adds no Data Docs page (checks done twice)."""
        if self.quiet is None:
            v = self.validator
            if getattr(v, "docs_dir", None) is None:
                self.quiet = v
            else:
                from pipelines.validation import Validator

                self.quiet = Validator(v.expectations_dir, None, v.chunk_rows, v.run_time)
        return self.quiet

    def _broken(self) -> dict[str, pd.DataFrame]:
        return {t: s.malformed for t, s in self.states.items() if s.malformed is not None}

    # ------------------------------------------------------------ 5. finish

    def finish(
        self,
        order: tuple[str, ...],
        plan: CurrencyPlan,
        far: pd.DataFrame | None,
        shared: dict[str, pd.Series],
        finished: dict[int, dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Step 5 on every partition but those ``finished`` by a fused pass (their results given);
        the results merged in partition order."""
        section: dict[str, Any] | None = None
        items: dict[str, int] | None = {} if self.source.ar_export is not None else None
        present = [t for t in order if t in self.states]
        self.order, self.plan, self.far, self.shared = order, plan, far, shared
        results = dict(finished or {})
        quarantined: dict[str, list[pd.DataFrame]] = {}  # keys of quarantined rows, partition order
        todo = [p for p in range(self.partitions) if p not in results]
        for p, got in self.each("_finish_part", todo):
            self.say(f"cross-table checks done, debtor partition {p + 1}/{self.partitions}")
            results[p] = got
        for p in range(self.partitions):
            got = results.pop(p)
            section = _merge_section(section, got["section"])
            for table, t in got["tables"].items():
                state = self.states[table]
                state.accepted += t["accepted"]
                state.quarantined += t["quarantined"]
                _count(state.reasons, t["reasons"])
                _count(state.by_file, t["by_file"])
                if state.template is None:
                    state.template = t["template"]
                if state.fx_template is None and t["fx_template"] is not None:
                    state.fx_template = t["fx_template"]
                state.ranges |= t["ranges"]
                state.fx_ranges |= t["fx_ranges"]
            if items is not None:
                _count(items, got["items"])
            _count(self.readmitted, got.get("readmitted") or {})
            if got.get("unknown") is not None:
                self.unknown.append(got["unknown"])
            for table, keys in (got.get("quarantined") or {}).items():
                if keys is not None and len(keys):
                    quarantined.setdefault(table, []).append(keys)
        for table, frames in quarantined.items():  # one concatenation, not one per partition
            self.quarantined[table] = pd.concat(
                [self.quarantined[table], *frames] if table in self.quarantined else frames,
                ignore_index=True,
            )
        self.lap("finish")
        for table in present:  # rows that could not be split into columns (CSV)
            state = self.states[table]
            if state.malformed is None:
                continue
            first = state.first
            raw = replace(
                first, frame=state.empty, source_row=np.zeros(0, np.int64), kept=np.zeros(0, np.int64)
            )
            typed = _parse(replace(raw, pre_bad={}), self.source.default_currency)[0]
            q = quarantine_frame(raw, typed, pd.Series([], dtype="string"), np.zeros(0, dtype=bool))
            state.quarantined += len(q)
            _count(state.reasons, reason_counts(q["reason"]))
            _count(state.by_file, {str(k): int(v) for k, v in q["source_file"].value_counts().items()})
            src = q["source_row"].to_numpy(dtype=np.int64)
            state.ranges |= self._spill_ordered(
                "q", state, q, 2 * src + 1, np.zeros(len(q), np.int64), self.partitions
            )
            if state.template is None:
                state.template = q.iloc[:0]
        open_items = None
        if items is not None:
            n = items.get("invoices", 0)
            open_items = {
                "invoices": n,
                "open": items.get("open", 0),
                "open_share": round(items.get("open", 0) / n, 4) if n else 0.0,
                "due_over_a_year": items.get("due_over_a_year", 0),
                "open_due_over_a_year": items.get("open_due_over_a_year", 0),
            }
        return section or {}, open_items

    def _finish_part(self, p: int) -> dict[str, Any]:
        """Step 5 on debtor partition ``p``: currency conversion, cross-table checks, the accepted rows
        written as output bucket ``p``, the rejected rows and FX rows spilled by input position
        (spill keys of this partition only); returns the counts :meth:`finish` merges."""
        rules, far, shared, plan = self.source.rules, self.far, self.shared, self.plan
        assert plan is not None
        broken = self._broken()
        present = [t for t in self.order if t in self.states]
        typed, masks, raws, rows, srows = {}, {}, {}, {}, {}
        for table in present:
            typed[table], masks[table], raws[table], rows[table], srows[table] = self._load(table, p)
        invoice_row = None  # found by _validate_part in a fused pass
        if self.kept is not None and self.kept[0] == p and "payments" in self.kept[1]:
            invoice_row = self.kept[1]["payments"].get("invoice_row")
        far_currency = elsewhere = None
        if far is not None and "payments" in typed:
            ids = typed["payments"]["invoice_id"]
            local = (
                isin(ids, typed["invoices"]["invoice_id"])
                if "invoices" in typed
                else np.zeros(len(ids), bool)
            )
            twice = (
                isin(ids, shared["invoice_id"])
                if len(shared.get("invoice_id", []))
                else np.zeros(len(ids), bool)
            )
            pos = pd.Index(far.index).get_indexer(ids.fillna("\x00"))
            known = pos >= 0
            take = np.maximum(pos, 0)
            currency = np.where(known, far["currency"].to_numpy(dtype=object)[take], None)
            far_currency = (known & (~local | twice), currency)
            elsewhere = (known & ~local, known & ~local & far["ok"].to_numpy(dtype=bool)[take])
        fx, part_section = convert_currencies(
            typed, masks, self.source.default_currency, self.currency, rules, plan, far_currency
        )
        self.lap("currency")
        cross_table(typed, masks, rules, broken, elsewhere, invoice_row)
        readmitted: dict[str, int] = {}
        if self.history is not None:  # references the history's rows of this partition resolve
            from pipelines.ingest.history import History, quarantined_keys, readmit
            from pipelines.ingest.history_stream import kept_part

            kept = kept_part(  # the ids only: readmit reads debtor_id and invoice_id
                self.history[0], p, self.partitions, ("debtors", "invoices", "statements"), ["invoice_id"]
            )
            readmitted = readmit(History(self.history[0], self.history[1], kept), typed, masks)
        self.lap("cross_table")
        out: dict[str, Any] = {
            "section": part_section,
            "tables": {},
            "items": None,
            "readmitted": readmitted,
            "quarantined": {},
            "unknown": unknown_debtors(typed, masks),
        }
        accepted: dict[str, pd.DataFrame] = {}
        for table in present:
            state = self.states[table]
            frame = typed[table]
            reasons = row_reasons(masks[table], len(frame))
            ok = reasons.isna().to_numpy()
            accepted[table] = conform(frame.loc[ok], table)
            write_bucket_atomic(
                bucket_parts(accepted[table], self.partitions)[p], bucket_file(self.stage, table, p)
            )
            q = quarantine_frame(raws[table], frame, reasons, ~ok)
            if self.history is not None:  # their kept rows stay (history.merge_part)
                out["quarantined"][table] = quarantined_keys(table, frame, masks[table])
            key = self._key(state, rows[table][~ok], srows[table][~ok], malformed=False)
            t: dict[str, Any] = {
                "accepted": int(ok.sum()),
                "quarantined": len(q),
                "reasons": reason_counts(q["reason"]),
                "by_file": {str(k): int(v) for k, v in q["source_file"].value_counts().items()},
                "template": q.iloc[:0],
                "fx_template": None,
                "ranges": self._spill_ordered("q", state, q, key, rows[table][~ok], p),
                "fx_ranges": set(),
            }
            if table in fx:
                f = fx[table]
                keep = passing(masks[table], len(frame))[f.index.to_numpy()]
                at = f.index.to_numpy()[keep]
                f = f.loc[keep].reset_index(drop=True)
                t["fx_template"] = f.iloc[:0]
                t["fx_ranges"] = self._spill_ordered("fx", state, f, rows[table][at], rows[table][at], p)
            out["tables"][table] = t
        if self.source.ar_export is not None:
            out["items"] = ar_open_items(accepted, self.as_of)
        for table in present:
            self.spill.drop(("typed", table, p))
        self.lap("finish")
        return out

    def _key(
        self, state: TableState, rows: np.ndarray, source_rows: np.ndarray, *, malformed: bool
    ) -> np.ndarray:
        """Order of quarantine rows: input position, or, for a table with malformed rows (CSV), the
        source row (malformed rows after a regular row with the same number; there is none)."""
        if state.malformed is None:
            return rows
        return 2 * source_rows.astype(np.int64) + (1 if malformed else 0)

    def _range_of(self, state: TableState, key: np.ndarray) -> np.ndarray:
        width = self.chunk_rows * (2 if state.malformed is not None else 1)
        return key // width

    def _spill_ordered(
        self,
        kind: str,
        state: TableState,
        frame: pd.DataFrame,
        key: np.ndarray,
        rows: np.ndarray,
        part: int,
    ) -> set[int]:
        """Spill ``frame`` by range of input rows, under keys of debtor partition ``part`` (the
        malformed rows: ``partitions``); returns the ranges written."""
        if not len(frame):
            return set()
        where = self._range_of(state, key)
        ranges = set()
        for r in np.unique(where):
            sel = where == r
            self.spill.append(
                (kind, state.table, int(r), part),
                {"frame": frame.loc[sel].reset_index(drop=True), "key": key[sel], "rows": rows[sel]},
            )
            ranges.add(int(r))
        return ranges

    # ------------------------------------------------------------ 6. publish

    def write_ordered(
        self, kind: str, state: TableState, ranges: set[int], template: pd.DataFrame, path: Path
    ) -> Path:
        """One CSV from the spilled pieces, in input order, one range of input rows at a time."""
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
            header = True
            for r in sorted(ranges):
                keys = [(kind, state.table, r, p) for p in range(self.partitions + 1)]
                pieces = [x for k in keys for x in self.spill.pieces(k)]
                frame = pd.concat([x["frame"] for x in pieces], ignore_index=True)
                key = np.concatenate([x["key"] for x in pieces])
                rows = np.concatenate([x["rows"] for x in pieces])
                frame = frame.iloc[np.lexsort((rows, key))]
                out.write(ingest_csv_text(frame, header))
                header = False
                for k in keys:
                    self.spill.drop(k)
            if header:
                out.write(ingest_csv_text(template))
        return path

    def recut(self, n: int, tables: Iterable[str] | None = None) -> None:
        """Cut the ``P`` partition files of each table (``tables``, default the input's) into ``n``
        buckets (when the accepted rows give another bucket count than the spill used)."""
        import pyarrow.parquet as pq

        for table in tables if tables is not None else self.states:
            for p in range(self.partitions):
                path = bucket_file(self.stage, table, p)
                frame = conform(pq.read_table(path).to_pandas(), table)
                path.unlink()
                # a partition file is sorted by debtor: bucket_parts cuts it by bucket code alone
                for k, part in enumerate(bucket_parts(frame, n)):
                    if len(part) or p == 0:
                        self.spill.append(("cut", table, k), part)
            for k in range(n):
                pieces = list(self.spill.pieces(("cut", table, k)))
                frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
                # every row is in bucket k: sorted by debtor, no bucket codes to hash again
                write_bucket_atomic(bucket_parts(frame, 1)[0], bucket_file(self.stage, table, k))
                self.spill.drop(("cut", table, k))
            empty = self.stage / table
            for p in range(n, self.partitions):
                shutil.rmtree(empty / f"bucket={p}", ignore_errors=True)


def _merge_section(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    if total is None:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in part.items()} | (
            {"no_rate_rows": {t: dict(c) for t, c in part["no_rate_rows"].items()}}
            if "no_rate_rows" in part
            else {}
        )
    if "rates" in part:
        total["rates"] = dict(sorted((total.get("rates", {}) | part["rates"]).items()))
    for table, n in part.get("converted_rows", {}).items():
        total["converted_rows"][table] = total["converted_rows"].get(table, 0) + n
    for table, counts in part.get("no_rate_rows", {}).items():
        merged = total["no_rate_rows"].setdefault(table, {})
        for code, n in counts.items():
            merged[code] = merged.get(code, 0) + n
        total["no_rate_rows"][table] = dict(sorted(merged.items()))
    return total


def spill_partitions(source: SourceConfig, estimated: dict[str, int]) -> int:
    """Debtor partitions for the spill: the bucket count the ingest would write if every row were
    accepted (``rules.bucket_rows`` ledger rows per bucket), so they usually are the output buckets."""
    rows = sum(n for t, n in estimated.items() if t in LEDGER_TABLES)
    return max(1, math.ceil(rows / source.rules.bucket_rows))


def run_streamed(
    source: SourceConfig,
    out: Path,
    stage: Path,
    *,
    order: tuple[str, ...],
    validator: Any,
    params: dict[str, Any],
    as_of: dt.date,
    currency: CurrencyConfig,
    chunk_rows: int,
    partitions: int,
    say: Callable[[str], None],
    lap: Callable[[str], None],
    workers: int = 1,
    history: tuple[Path, dt.date] | None = None,
) -> tuple[dict[str, TableState], dict[str, Any], dict[str, Any] | None, StreamRun]:
    """Steps 1-5 (see the module docstring); returns the table states, the currency section, the
    AR open items and the run (whose ``write_ordered`` / ``recut`` publish the rest). ``workers``:
    processes for steps 2, 3 and 5 (:meth:`StreamRun.each`); the outputs do not depend on it.
    ``history``: the base of ``--keep-history`` (``ingest.history.base_of``): its references
    readmit rows in step 5 (``partitions`` a multiple of its bucket count)."""
    spill = Spill(out / f".spill-{uuid.uuid4().hex}")
    run = StreamRun(
        source, stage, spill, partitions, chunk_rows, validator, params, as_of, currency, say, lap, workers
    )
    run.history = history
    run.foreign_out = out if history is not None else None
    with output_errors(out):
        stage.mkdir(parents=True, exist_ok=True)
    try:
        run.route(order)
        run.states = {t: run.states[t] for t in order if t in run.states}
        run.refuse_header_only()
        shared = run.shared_ids()
        assumed = run.assumed_plan()
        fused = run.fused(order, shared, assumed) if assumed is not None else None
        if fused is not None:  # steps 3 and 5 in one pass
            plan, finished = fused
            far = run.far_invoices(plan, finished)
            run.drop_raw()
            section, open_items = run.finish(order, plan, far, shared, finished)
        else:
            plan = run.validate(order, shared)
            far = run.far_invoices(plan)
            section, open_items = run.finish(order, plan, far, shared)
    except BaseException:
        run.close()
        raise
    return run.states, section, open_items, run


def publish_streamed(
    run: StreamRun,
    out: Path,
    manifest: dict[str, Any],
    bucket_rows: int,
    merged: dict[str, int] | None = None,
    base: Path | None = None,
) -> None:
    """Write the rest of the outputs into the stage (buckets re-cut if needed, quarantine and FX
    CSVs in input order, Data Docs, manifest) and move them into ``out`` (manifest last).
    ``merged``: the rows per table when the stage's partitions hold a merged history
    (``ingest.history_stream.merge_streamed``; tables in name order, as the in-memory merge
    publishes them), ``base`` the folder of its base (linked into ``OUT/.history``)."""
    from pipelines.adapters.publish import publish_ingest
    from pipelines.ingest.checks import case_warnings
    from pipelines.ingest.outputs import _stale_outputs
    from pipelines.ingest.staged import resent_inputs, staged_checks

    stage, states = run.stage, run.states
    try:
        with output_errors(out):
            ledger = sum(s.accepted for t, s in states.items() if t in LEDGER_TABLES)
            tables = list(states)
            if merged is not None:
                ledger = sum(r for t, r in merged.items() if t in LEDGER_TABLES)
                tables = sorted(merged)
            n = max(1, -(-ledger // bucket_rows))
            if n != run.partitions:
                run.say(f"cutting {n} buckets")
                run.recut(n, tables)
                run.lap("recut")
            outputs: dict[str, str] = {}
            footers: dict[str, str] = {}
            for table in sorted(states):
                state = states[table]
                if state.fx_template is not None:
                    path = run.write_ordered(
                        "fx", state, state.fx_ranges, state.fx_template, stage / "fx" / f"{table}.csv"
                    )
                    outputs[f"fx/{table}.csv"] = sha256_file(path)
            manifest["layout"] = {
                "buckets": n,
                "path": "<table>/bucket=<k>/part-0.parquet",
                "bucket": "SipHash(debtor_id) % buckets (pipelines.adapters.files.bucket_codes)",
                "sorted_by": "debtor_id",
                "row_group_rows": ROW_GROUP_ROWS,
            }
            for table in tables:  # in table order (see run_streamed), or by name (a merge)
                for k in range(n):
                    path = bucket_file(stage, table, k)
                    outputs[str(path.relative_to(stage))] = sha256_file(path)
                    footers[str(path.relative_to(stage))] = parquet_footer_digest(path)
                state = states.get(table)
                if state is None:  # only the history holds it
                    continue
                assert state.template is not None
                qpath = run.write_ordered(
                    "q", state, state.ranges, state.template, stage / "quarantine" / f"{table}.csv"
                )
                outputs[f"quarantine/{table}.csv"] = sha256_file(qpath)
            manifest["outputs"] = outputs
            manifest["bucket_footers"] = footers  # checked by the readers (publish.mixed_ingest)
            manifest["warnings"] += case_warnings(stage)  # one customer spelled two ways
            per_day = staged_checks(stage, manifest)  # rows long after the export's end; statement months
            manifest["warnings"] += resent_inputs(out, manifest, per_day)  # yesterday's files again
            docs = run.validator.build_docs()
            manifest["data_docs"] = str(docs.relative_to(stage)) if docs is not None else None
            manifest["book_id"] = book_id_for(
                out, manifest["inputs"]
            )  # the same book as before in this folder (adapters.book)
            import json

            write_text_atomic(json.dumps(manifest, indent=2, sort_keys=False) + "\n", stage / "manifest.json")
            stale = _stale_outputs(out, outputs)
            if "history" in manifest:
                from pipelines.ingest.history import History, link_base, stale_base

                held = History(base, run.as_of, {}) if base is not None else None
                stale += stale_base(out, link_base(held, stage))
    finally:
        run.close()
    publish_ingest(stage, out, stale)


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "WorkerDiedError",
    "default_workers",
    "publish_streamed",
    "run_streamed",
    "spill_partitions",
]
