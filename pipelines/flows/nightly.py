"""The ``nightly`` Prefect flow: score the portfolio as of a date and publish the run folder.

Steps (one coarse task each): load champion -> ingest -> validate -> features as of date ->
score -> feed checks (:mod:`pipelines.feed_checks`: refuse a broken feed before anything is
written) -> deltas vs the previous run -> watchlist + reason codes -> collections queue -> drift ->
publish (exports, report.html, manifest.json, quarantine/). Deltas come before the watchlist
because the jump / migration / new-entrant triggers need them.

The steps that only write files run beside the flow's thread (:class:`Beside`, one thread) as soon
as their inputs exist: the payment-date files right after the feed checks, scores.parquet and the
credit-limit files after the limits, the watchlist, queue, drift and quarantine files while the
portfolio and report steps run. The flow takes each result where it needs it (the queue's
expected cash; every file before publishing).

Everything is written into a staging folder and published atomically as ``OUTDIR/<as_of>``
(:mod:`pipelines.adapters.publish`); a lock refuses a second run for the same date. A rerun for the same
inputs, model and config writes a byte-identical ``scores.parquet``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from features.master import debtors_at
from pipelines.adapters.book import check_book, record_book
from pipelines.adapters.exports import (
    QUEUE_TITLES,
    cut_note,
    internal,
    published,
    write_csv,
    write_parquet,
    write_queue,
    write_watchlist,
)
from pipelines.adapters.publish import earlier_runs, latest_before, publish, run_lock, staging_dir
from pipelines.config import ConfigError, config_hash, load_config
from pipelines.config.credit import load_credit_policy
from pipelines.config.nightly import NightlyConfig
from pipelines.config.project import ProjectConfig
from pipelines.feed_checks import (
    FeedCheckError,
    clear_rejected,
    evaluate_feed,
    feed_figures,
    load_training_reference,
    previous_figures,
    quarantine_share,
    same_ids,
    stated_ratios,
    table_lags,
    table_spans,
    training_figures,
    write_rejected,
)
from pipelines.ingest.currency import NO_CURRENCY
from pipelines.ingest.decimals import money_places, output_currency
from pipelines.runtime import SAID_IN_SUMMARY, STEP_TIME, blas_threads, release_freed_memory
from pipelines.scoring.ids import in_ids
from pipelines.scoring.limits import run_limits, write_credit_limits
from pipelines.scoring.nomodel import KEY as NO_MODEL_KEY
from pipelines.scoring.nomodel import KEY_WHY as NO_MODEL_KEY_WHY
from pipelines.scoring.nomodel import MODE as NO_MODEL_MODE
from pipelines.scoring.nomodel import default_moves, is_no_model, lost_model_words, model_before
from pipelines.scoring.nomodel import notice as no_model_notice
from pipelines.scoring.overrides import (
    active_overrides,
    check_log,
    lines_ahead,
    log_head,
    read_acceptances,
    read_log,
)
from pipelines.scoring.owners import coverage_gaps, owner_gaps_note
from pipelines.scoring.paydate import (
    STATEMENTS_NO_FORECAST,
    forecast_rows,
    forecaster_status,
    pay_pd_by_debtor,
    payment_date_files,
    pin_forecaster,
    statements_book,
    statements_not_forecast,
    with_expected_cash,
)
from pipelines.scoring.plans import with_plan_payments
from pipelines.scoring.queue import build_queues, lgd_segments_note, queue_key_for, text_by_debtor
from pipelines.scoring.score import check_definition
from pipelines.scoring.watch_state import (
    STATE_FILE,
    apply_overrides,
    override_summary,
    watch_state,
    with_state,
)
from pipelines.scoring.watchlist import (
    DEFAULT_BAND,
    NO_HISTORY_BAND,
    TRIGGERS,
    UNSCORED_MEMORY_FILE,
    build_watchlist,
    compare_with_previous,
    ledger_ask,
    limit_over_on,
    rank_pool,
    scored_ledger_memory,
    triggers,
    unscored_limit_memory,
    with_ledger_memory,
    with_unscored_memory,
)
from pipelines.sources.parse import parse_numbers
from pipelines.words import counted

__all__ = ["DataQualityError", "NightlyResult", "default_as_of", "nightly", "run", "run_nightly"]


class DataQualityError(ValueError):
    """The input feed is unusable for scoring (no accepted invoices). Feeds that score but look
    broken (a table vanished, too many rows rejected...) are refused by the feed checks instead."""


@dataclass(frozen=True)
class NightlyResult:
    """Where a run was published and its manifest."""

    as_of: dt.date
    path: Path
    manifest: dict[str, Any]


def _cpu_time() -> float:
    """CPU seconds of this process and of its finished (waited-for) child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class StepMeter:
    """Wall time (s) and peak resident memory (MiB, sampled every 20 ms) of each named step, used as
    ``with meter.step("features"): feats = build(...)`` so that the call stays visible; each step is
    logged to ``logger`` (when given) as it ends."""

    def __init__(self, logger: Any = None) -> None:
        import psutil

        self._proc = psutil.Process()
        self._logger = logger
        self.seconds: dict[str, float] = {}
        # CPU time (user + system) of this process and of the worker processes that ended within the
        # step (the local engine's pool, pipelines.engine.LocalPool); peak RSS is this process's
        self.cpu_seconds: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, thread: bool = False) -> Iterator[None]:
        """Meter the block as step ``name``; ``thread``: a step run beside the flow's own thread
        (:class:`Beside`), its CPU time that of its thread alone (the flow's steps of that time
        count the whole process, so they include it)."""
        clock = time.thread_time if thread else _cpu_time
        peak = [self._proc.memory_info().rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                peak[0] = max(peak[0], self._proc.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t, cpu = time.perf_counter(), clock()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - t, 3)
            self.cpu_seconds[name] = round(clock() - cpu, 3)
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], self._proc.memory_info().rss)
            self.peak_rss_mib[name] = round(peak[0] / 2**20, 1)
            if not thread:
                release_freed_memory()  # what the step freed goes back (pipelines.runtime)
        if self._logger is not None:
            self._logger.info(
                "%s: %.2f s, peak RSS %.0f MiB",
                name,
                self.seconds[name],
                self.peak_rss_mib[name],
                extra=STEP_TIME,  # `ews score` shows it on its console with --verbose only
            )


class Beside:
    """Steps run in one thread beside the flow's own: ``beside.run(name, task, *args)`` calls the
    task there (in the flow run's context, metered as step ``name``) and returns its future; the
    flow takes the result where it needs it (``future.result()``, which raises the task's error).

    The tasks given to it write files from frames the flow no longer changes (shallow copies under
    pandas' copy-on-write): Arrow decodes, sorts, formats, compresses and writes without holding
    the GIL, so the second core works while the flow goes on. Leaving the block waits for the
    running step (a failed run cleans its staging folder only after it)."""

    def __init__(self, meter: StepMeter) -> None:
        self._meter = meter
        self._pool: Any = None

    def __enter__(self) -> Beside:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nightly-beside")
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, name: str, task: Any, *args: Any) -> Any:
        import contextvars

        # the task's own view of frames (and dicts of them) the flow goes on using
        given = tuple(
            a.copy(deep=False) if isinstance(a, pd.DataFrame) else dict(a) if isinstance(a, dict) else a
            for a in args
        )

        def call() -> Any:
            with self._meter.step(name, thread=True):
                return task(*given)

        return self._pool.submit(contextvars.copy_context().run, call)


def default_as_of(timezone: str) -> dt.date:
    """The last complete day in ``timezone``: yesterday's date there (what a 02:00 run scores)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


# ------------------------------------------------------------------------------------------ tasks


@task(name="load-champion", cache_policy=NO_CACHE)
def load_champion(
    cfg: NightlyConfig, project: ProjectConfig, require_model: bool = False
) -> tuple[Any, tuple[str | None, str]]:
    """The registry version to score with (alias from config; raises NoChampionError if absent), and
    the ``ews-paydate`` champion's version with why there is none (:func:`pin_forecaster`). Both
    aliases are resolved to versions here, one after the other, before either model is read: the run
    then uses those versions throughout. Before session 38 the payment-date champion was read after
    the feed, so a training promoting both models meanwhile gave PD vN with payment dates vN+1.

    No version of the PD model champion (none registered: a book `ews train` refused as too small; or
    none promoted) and the alias ``champion``: :class:`pipelines.scoring.nomodel.NoModel` (the run
    without a PD model), unless ``require_model`` (then NoChampionError, as for every other missing
    alias or version)."""
    from pipelines.adapters.registry import NoChampionError, load_model_version, resolve_version

    uri = project.paths.mlflow_tracking_uri
    try:
        version = resolve_version(cfg.model_alias, cfg.model_name, tracking_uri=uri)
    except NoChampionError:
        missing = no_model(cfg, uri, require_model)
        if missing is None:
            raise
        return missing, pin_forecaster(uri)
    paydate = pin_forecaster(uri)
    loaded = load_model_version(version, cfg.model_name, tracking_uri=uri)
    alias = None if str(cfg.model_alias).isdigit() else cfg.model_alias
    return replace(loaded, alias=alias), paydate


def no_model(cfg: NightlyConfig, uri: str | None, require_model: bool = False) -> Any:
    """:class:`pipelines.scoring.nomodel.NoModel` when the run may go on without a PD model: the alias
    is ``champion``, ``require_model`` is off, no version of ``cfg.model_name`` is champion (none
    registered, or none promoted) and the store lost none (a store whose versions were deleted or lost
    still refuses: restore it). None otherwise."""
    from pipelines.adapters.registry_view import lost_versions, public_uri, read_versions, tracking_uri
    from pipelines.scoring.nomodel import NoModel

    if require_model or str(cfg.model_alias) != "champion":
        return None
    if lost_versions(cfg.model_name, uri).words:
        return None
    where = public_uri(tracking_uri(uri))
    records = read_versions(cfg.model_name, uri)
    if not records:
        return NoModel(cfg.model_name, f"no version of {cfg.model_name!r} is registered in {where}")
    from pipelines.commands.score import _unpromoted_hint

    # a first version refused by its gate (an unseen 120-debtor book's v1: test AUC 0.51, s41-pdless)
    hint = _unpromoted_hint(cfg.model_name, records).split(". Training again")[0]
    return NoModel(cfg.model_name, f"no version of {cfg.model_name!r} is champion in {where}: {hint}", True)


@task(name="ingest", cache_policy=NO_CACHE)
def ingest(
    data_dir: Path, as_of: dt.date, raw: bool = False, currency: Any = None, bucket_rows: int = 4_000_000
) -> Any:
    """The feed (``pipelines.engine.open_feed``): an ``ews ingest --out`` folder, read bucket by
    bucket without re-validation (its manifest holds the validation figures), or with ``raw`` a
    folder of raw canonical files validated in memory (amounts in the reporting ``currency``). Raw
    dates are bounded by the later of as_of and today, so a backfill keeps the rows after its as-of
    date (the features ignore them: point-in-time) instead of quarantining them."""
    from pipelines.engine import open_feed

    bound = max(as_of, dt.datetime.now(dt.UTC).date()) if raw else None
    return open_feed(data_dir, raw=raw, as_of=bound, bucket_rows=bucket_rows, currency=currency)


@task(name="validate", cache_policy=NO_CACHE)
def validate(result: Any, cfg: NightlyConfig) -> dict[str, Any]:
    """Refuse a feed without invoices; summarise rows in / accepted / quarantined per table (the
    quarantine limits are feed checks, see :func:`check_feed`)."""
    tables = result.manifest["tables"]
    if not any(tables.get(t, {}).get("rows_accepted") for t in ("invoices", "statements")):
        raise DataQualityError(
            "no accepted invoices or statements in the data dir; the nightly flow needs a ledger: "
            "invoices.(csv|parquet) or statements.(csv|parquet)"
        )
    summary = {}
    for name, t in tables.items():
        share = quarantine_share(t) or 0.0
        summary[name] = {
            "rows_in": t["rows_in"],
            "rows_accepted": t["rows_accepted"],
            "rows_quarantined": t["rows_quarantined"],
            "quarantine_share": round(share, 6),
            "input_sha256": t["input_sha256"],
            "input": t.get("input", ""),
            "reasons": dict(t.get("reasons", {})),
        }
    return summary


def check_feed(
    result: Any,
    scores: pd.DataFrame,
    as_of: dt.date,
    previous: tuple[str, dict[str, Any], pd.DataFrame] | None,
    loaded: Any,
    cfg: NightlyConfig,
    accept: bool,
    recent_invoices: int | None = None,
    definition: Any = None,
    recent_amounts: tuple[float, float] | None = None,
    debtors: pd.DataFrame | None = None,
    recent_ratios: Any = None,
    invoice_debtors: int | None = None,
) -> dict[str, Any]:
    """Feed checks of today's feed against the previous run and the champion's training data.

    ``previous``: (as-of, manifest, scores) of the previous published run, or None (its scored
    debtor ids found among today's: ``debtors_same_ids``);
    ``recent_invoices``: the scored book's invoices issued in the feed checks' recent window
    (``ScoredBucket.recent_invoices``) and the amounts paid and invoiced in it
    (``ScoredBucket.recent_amounts``); ``definition``: the project's default definition
    (``features.params.DefaultDefinition``; the default one when None), which tells the debtors in
    default at the training snapshot (:func:`_written_off`); ``debtors``: today's debtors table, whose
    stated amounts are compared with the previous run's (:func:`pipelines.feed_checks.stated_ratios`);
    ``recent_ratios``: each scored debtor's paid / invoiced in the recent window
    (``ScoredBucket.recent_ratios``; the check ``paid_per_invoiced_median_90d``); ``invoice_debtors``: a
    book with statements too, its debtors with an invoice or a payment (``ScoredBucket.invoice_debtors``).
    Returns the
    manifest's ``feed`` section; raises :class:`pipelines.feed_checks.FeedCheckError` when a check
    fails and ``accept`` is false."""
    today = feed_figures(
        result.manifest["tables"],
        result.book,
        scores,
        recent_invoices,
        table_spans(result.book, as_of),
        (result.manifest.get("history") or {}).get("tables"),
        recent_amounts,
        table_lags(result.book, as_of),
        debtors,
        recent_ratios,
        invoice_debtors,
    )
    prev = None
    if previous is not None:
        prev = (f"the previous run {previous[0]}", previous_figures(previous[1], previous[2]))
    # a run without a PD model (pipelines.scoring.nomodel) has no training data to compare with
    reference = load_training_reference(loaded.run_id) if loaded.run_id else None
    train_figures, snapshot = training_figures(reference, as_of)
    train = None
    if train_figures is not None:
        train = (f"the training data of {loaded.name} v{loaded.version} (snapshot {snapshot})", train_figures)
    written = _written_off(
        result.book, scores, as_of, cfg, previous, prev, snapshot, train_figures, today, definition
    )
    same = None if previous is None else same_ids(previous[2], scores)
    return evaluate_feed(
        today,
        cfg,
        previous=prev,
        training=train,
        accept=accept,
        written=written,
        same_ids=same,
        as_of=as_of,
        stated=stated_ratios(debtors, previous[2] if previous else None, prev[1] if prev else None),
        stated_file=str((result.manifest["tables"].get("debtors") or {}).get("input") or ""),
        # read only when invoices_per_debtor_90d fails against the training data: the book's own months
        invoice_days=lambda: result.book.day_counts("invoices", "issue_date"),
        snapshot=dt.date.fromisoformat(snapshot) if snapshot else None,
    )


def _written_off(
    book: Any,
    scores: pd.DataFrame,
    as_of: dt.date,
    cfg: NightlyConfig,
    previous: tuple[str, dict[str, Any], pd.DataFrame] | None,
    prev: tuple[str, dict[str, Any]] | None,
    snapshot: str,
    train_figures: dict[str, Any] | None,
    today: dict[str, Any],
    definition: Any = None,
) -> dict[str, float]:
    """What the feed wrote off since each reference whose ``default_exposure`` today's falls below
    (:func:`pipelines.feed_checks.written_off`; read only then), for the debtors in default IN THAT
    REFERENCE, whose exposure its ``default_exposure`` holds: against the previous run, the debtors
    in default in it (today's, for a run that recorded no ``in_default``); against the training data,
    the debtors in default today that were in default at the training snapshot, judged from their
    rows dated up to it (:func:`_in_default_at`, with ``definition``). A debtor that defaulted after
    the reference was never in its exposure: its write-offs do not explain a fall from it (before
    session 26 the training check counted them, s25-review)."""
    from pipelines.feed_checks import written_off

    value = today.get("default_exposure")
    out: dict[str, float] = {}
    refs = {
        "previous": (prev[1] if prev else None, previous[0] if previous else None, cfg.feed_checks.previous),
        "training": (train_figures, snapshot or None, cfg.feed_checks.training),
    }
    for name, (figures, since, limits) in refs.items():
        ref = (figures or {}).get("default_exposure")
        if value is None or not ref or value >= limits.default_exposure.min_ratio * ref:
            continue
        debtors = scores.loc[scores["in_default"].astype(bool), "debtor_id"]
        if name == "previous" and previous is not None and "in_default" in previous[2]:
            before = previous[2]
            debtors = before.loc[before["in_default"].astype(bool), "debtor_id"]
        if name == "training" and since:
            debtors = _in_default_at(book, debtors, dt.date.fromisoformat(since), as_of, definition)
        out[name] = written_off(book, debtors, dt.date.fromisoformat(since) if since else None, as_of)
    return out


def _in_default_at(book: Any, debtors: pd.Series, day: dt.date, as_of: dt.date, definition: Any) -> pd.Series:
    """Those of ``debtors`` in default on ``day`` (a training snapshot), judged as the training
    judged them (``features.labels.build_labels``' ``in_default_at_asof``: rows dated up to ``day``)
    from their rows in ``book`` (``Book.read_debtors``: only their buckets are read)."""
    from features.labels import build_labels
    from features.params import DefaultDefinition

    ids = pd.Index(pd.Series(debtors, dtype="string").dropna().unique())
    if not len(ids) or not hasattr(book, "read_debtors"):
        return pd.Series([], dtype="string")
    rows = book.read_debtors(ids, ("invoices", "payments", "events", "statements"))
    if not any(f is not None and len(f) for f in (rows.invoices, rows.payments, rows.statements)):
        return pd.Series([], dtype="string")
    flags = build_labels(rows, [day], definition or DefaultDefinition(), observed_until=as_of)
    return flags.loc[flags["in_default_at_asof"].to_numpy(dtype=bool), "debtor_id"].astype("string")


@task(name="score", cache_policy=NO_CACHE)
def score_book(
    book: Any,
    as_of: dt.date,
    project: ProjectConfig,
    loaded: Any,
    cfg: NightlyConfig,
    engine: Any = None,
    portfolio_dates: tuple[pd.Timestamp, ...] = (),
    paydate: Any = None,
    ledger: Any = None,
) -> Any:
    """Every debtor bucket: features, in-default flags and oldest open invoice from one ledger state
    (``features.engine.build_bucket``), then PDs (1.0 for debtors in default), combined in
    debtor order (``pipelines.scoring.score.combine_scored``); with ``portfolio_dates``, also the
    report's DSO and aging sums at those dates, from the same ledgers (no second pass); with
    ``paydate`` (the ``ews-paydate`` champion), the payment-date forecast from the same ledger states;
    with ``ledger`` (``pipelines.scoring.watchlist.LedgerAsk``), limit_breach's ledger month-ends
    from the same rows."""
    from pipelines.engine import map_buckets
    from pipelines.scoring.score import combine_scored, score_bucket

    definition = project.default_definition.to_params()
    buckets = map_buckets(
        score_bucket,
        book,
        pd.Timestamp(as_of),
        definition,
        loaded,
        cfg,
        tuple(portfolio_dates),
        paydate,
        ledger,
        engine=engine,
        step="scoring",
    )
    return combine_scored(buckets)


NOT_SCORED = "every invoice quarantined"
NOT_SCORED_LISTED = 1_000
"""Debtors named in manifest.json ``not_scored`` (the count is always whole)."""
AFTER_AS_OF = "date_after_as_of"
"""The quarantine reason of a row dated after the as-of date (``pipelines.validation``): not counted."""


COPY = "duplicate_row"
"""The quarantine reason of an exact copy of a kept row: its debtor has that row accepted."""


def _damaging(reasons: dict[str, Any]) -> bool:
    """Whether the invoices' quarantine reasons (the ingest manifest's counts, each reason of a row
    counted) hold one that can leave a debtor without its invoice: any but copies (:data:`COPY`)
    and rows dated after the as-of date (:data:`AFTER_AS_OF`)."""
    return any(int(n) and r != COPY and not r.startswith(AFTER_AS_OF) for r, n in reasons.items())


def _quarantined_rows(path: Any) -> pd.DataFrame | None:
    """``debtor_id``, ``reason``, ``amount`` and ``currency`` (as written) of a quarantine CSV, read by Arrow (two columns, one thread), the
    rows that lose no invoice left out (a copy alone, :data:`COPY`; dated after the as-of date,
    :data:`AFTER_AS_OF`): a feed sent twice quarantines every row as a copy, and pandas' reader took
    3.1 CPU-s per 5M such rows, Arrow 1.0 (s32-hostile). None when unreadable or without the columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    text = {c: pa.string() for c in ("debtor_id", "reason", "amount", "currency")}
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),  # a raw_line may hold one
            convert_options=pcsv.ConvertOptions(
                include_columns=list(text),
                include_missing_columns=True,  # amount and currency: null when absent
                column_types=text,
                strings_can_be_null=False,
            ),
        )
    except (OSError, ValueError, pa.ArrowException):
        return None
    lost = pc.invert(pc.or_(pc.equal(table["reason"], COPY), pc.starts_with(table["reason"], AFTER_AS_OF)))
    return table.filter(lost).to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)


def all_quarantined(
    book: Any, quarantine: dict[str, Any], scores: pd.DataFrame, reasons: dict[str, Any] | None = None
) -> pd.DataFrame:
    """The debtors whose every invoice row was quarantined at ingest tonight: at least one row in the
    invoices' quarantine (a path to ``quarantine/invoices.csv`` or a frame) and no accepted invoice
    in ``book`` (read for those debtors only). Without a kept history (``ews ingest --keep-history``
    keeps earlier accepted rows) such a debtor, when scored, was scored on no invoice at all, as
    owing nothing: a currency without a rate (``no_fx_rate``) below the quarantine limits published
    30 of 300 debtors so (s30-hostile); when not scored at all (left out of the debtors table: every
    invoice ``unknown_debtor``), it vanished from every output without a word (the probe's
    ``deb_drop``: the debtor of the largest open balance, s31-hostile). One row per debtor:
    ``debtor_id`` and ``reasons`` (their quarantine reasons, by count); empty when none. ``scores``
    is not read (kept for the callers). ``reasons``: the invoices' quarantine reasons of the ingest
    manifest (counts); when none can lose a debtor's invoice (:func:`_damaging`: copies, rows dated
    after the as-of date) the quarantine is not read at all."""
    empty = pd.DataFrame(
        {"debtor_id": pd.Series([], dtype="string"), "reasons": pd.Series([], dtype="string")}
    )
    rows = quarantine.get("invoices")
    if rows is None or (reasons is not None and not _damaging(reasons)):
        return empty
    if not isinstance(rows, pd.DataFrame):
        rows = _quarantined_rows(rows)
        if rows is None:
            return empty
    if not {"debtor_id", "reason"} <= set(rows.columns) or not len(rows):
        return empty
    rows = pd.DataFrame(
        {"debtor_id": rows["debtor_id"].astype("string"), "reason": rows["reason"].astype("string")}
    )
    # an invoice issued after the as-of date is no input tonight, accepted or not: a debtor onboarded
    # by then whose first invoices come later owes nothing yet, and is scored so; an exact copy of a
    # kept row (a feed sent twice) loses nothing
    after = rows["reason"].str.startswith(AFTER_AS_OF).fillna(False).to_numpy()
    rows = rows.loc[~after & (rows["reason"] != COPY).fillna(True).to_numpy()]
    ids = pd.Index(rows["debtor_id"].dropna().unique())
    ids = ids[ids.str.strip().str.len().to_numpy() > 0]  # a row without a debtor id names nobody
    if not len(ids):
        return empty
    kept = book.read_debtors(ids, ("invoices",)).invoices
    if kept is not None and len(kept):
        ids = ids.difference(pd.Index(kept["debtor_id"].astype("string").unique()))
    if not len(ids):
        return empty
    rows = rows.loc[rows["debtor_id"].isin(ids)]
    reasons = (
        rows.groupby(["debtor_id", "reason"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["debtor_id", "n", "reason"], ascending=[True, False, True])
    )
    text = (
        reasons.assign(part=reasons["reason"] + " (" + reasons["n"].astype(str) + ")")
        .groupby("debtor_id")["part"]
        .agg(", ".join)
    )
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(text.index, dtype="string"),
            "reasons": pd.Series(text.to_numpy(), dtype="string"),
        }
    )


def lost_invoices(quarantine: dict[str, Any], reasons: dict[str, Any] | None = None) -> Any:
    """The invoices' quarantine as :func:`all_quarantined` reads it (a frame of the rows that can lose
    an invoice, an empty frame, or the input when it is a frame already), read once for it and
    :func:`partly_quarantined`."""
    rows = quarantine.get("invoices")
    if rows is None or isinstance(rows, pd.DataFrame):
        return rows
    if reasons is not None and not _damaging(reasons):
        return pd.DataFrame(
            {"debtor_id": pd.Series([], dtype="string"), "reason": pd.Series([], dtype="string")}
        )
    return _quarantined_rows(rows)


PARTLY = "some invoices quarantined"


def invoice_notation(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The notation the ingest read the invoices' amounts in (its manifest's ``values``), or None: an
    ingest from before session 33, or several files read in different notations (each row's own shape
    then, :func:`written_amounts`)."""
    entry = (manifest.get("tables") or {}).get("invoices") or {}
    seen = [f.get("values") for f in entry.get("files") or []] or [entry.get("values")]
    if not seen[0] or any(v != seen[0] for v in seen):
        return None
    return seen[0]


def written_amounts(
    text: pd.Series, notation: dict[str, Any] | None = None, reasons: pd.Series | None = None
) -> pd.Series:
    """Amounts as a file wrote them (a quarantine's ``amount``) as numbers.

    ``notation``: the separators the ingest read the table's amounts with (the ingest manifest's
    ``values``, :func:`pipelines.ingest.notation`): each row is read in it, by the ingest's own parser,
    and a row quarantined ``thousands_as_decimal`` (``reasons``) in the other one, as the ingest's
    message says it was meant (``1.500`` read 1.5, meant 1,500). Rows it cannot read (a value the
    ingest could not read either) and every row without a ``notation`` (an ingest folder from before
    session 33) are read by their own shape: the separator before 1-2 final digits, or after the other
    one, is the decimal one (``1,200.50``, ``1.200,50``, ``-0,50``, ``12.5``); one repeated between
    groups of three digits groups thousands (``1,200,000``). Other rows (``1.200``, ``1,200``) take the
    notation that the rows show when they show one; else NaN (said "amount unread"), except whole
    numbers. b963e26 removed every ",": a decimal-comma source's ``1.200,50`` read 1.20, ``-0,50`` -50."""
    s = text.astype("string").str.strip().str.replace(r"[\s'\u00a0\u202f]", "", regex=True)

    def shaped(pattern: str, whole: bool = False) -> pd.Series:
        found = s.str.fullmatch(pattern) if whole else s.str.contains(pattern, regex=True)
        return found.fillna(False).astype(bool)

    own_comma = shaped(r",\d{1,2}$|\.\d{3},\d") | shaped(r"[-+]?\d{1,3}(\.\d{3}){2,}", whole=True)
    own_dot = shaped(r"\.\d{1,2}$|,\d{3}\.\d") | shaped(r"[-+]?\d{1,3}(,\d{3}){2,}", whole=True)
    comma = bool(own_comma.any() and not own_dot.any())  # the notation the rows show, when only one
    dot = bool(own_dot.any() and not own_comma.any())
    as_comma = own_comma | (comma & ~own_dot)
    as_dot = own_dot | (dot & ~own_comma)

    def number(decimal: str, thousands: str | None, grouping: str = "thousands") -> np.ndarray:
        return parse_numbers(s, decimal, thousands, grouping)[0].to_numpy(dtype="float64")  # the ingest's

    german = number(",", ".")
    english = number(".", ",")
    whole = np.where(shaped(r"[-+]?\d+", whole=True).to_numpy(), english, np.nan)
    picked = np.where(as_comma.to_numpy(), german, np.where(as_dot.to_numpy(), english, whole))
    if notation and notation.get("decimal") in (".", ","):
        d, t = notation["decimal"], notation.get("thousands")
        grouping = notation.get("thousands_grouping") or "thousands"
        read = number(d, t, grouping)
        if reasons is not None:  # the ingest's own suspicion: whole amounts grouped by thousands
            meant = reasons.astype("string").str.contains("thousands_as_decimal", regex=False)
            meant = meant.fillna(False).to_numpy(dtype=bool)
            if meant.any():
                other = "," if d == "." else "."
                read = np.where(meant, number(other, d), read)
        picked = np.where(np.isnan(read), picked, read)
    return pd.Series(picked, index=text.index, dtype="float64")


def partly_quarantined(
    rows: pd.DataFrame | None, scores: pd.DataFrame, notation: dict[str, Any] | None = None
) -> pd.DataFrame:
    """The scored debtors (``scores``, the not-scored ones already left out) with some invoice rows lost
    at ingest tonight (``rows``: :func:`lost_invoices`; copies and rows dated after the as-of date left
    out): they are scored on the rest, and look as if they owed less (s32-hostile: 21 debtors whose
    last 60 days' invoices were in USD without a rate kept 257,089 of 871,130 EUR exposure, 7 of them
    left the collections queue, with an ingest warning only). One row per debtor: ``debtor_id``,
    ``invoices`` (rows lost) and ``amounts`` (their amounts, per currency, read in ``notation``: the
    ingest manifest's ``values`` for the invoices, :func:`written_amounts`); empty when none."""
    cols = {"debtor_id": "string", "invoices": "int64", "amounts": "string"}
    empty = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in cols.items()})
    if rows is None or not len(rows) or not {"debtor_id", "reason"} <= set(rows.columns):
        return empty
    ids = rows["debtor_id"].astype("string")
    after = rows["reason"].astype("string").str.startswith(AFTER_AS_OF).fillna(False).to_numpy()
    keep = ~after & (rows["reason"].astype("string") != COPY).fillna(True).to_numpy()
    keep &= ids.isin(pd.Index(scores["debtor_id"].astype("string"))).fillna(False).to_numpy()
    if not keep.any():
        return empty
    found = pd.DataFrame(
        {
            "debtor_id": ids[keep].to_numpy(),
            "amount": written_amounts(
                (rows["amount"] if "amount" in rows else pd.Series("", index=rows.index))[keep],
                notation,
                rows["reason"][keep],
            ).to_numpy(),
            "currency": (rows["currency"] if "currency" in rows else pd.Series("", index=rows.index))[keep]
            .astype("string")
            .fillna("")
            .to_numpy(),
        }
    )
    sums = found.groupby(["debtor_id", "currency"])["amount"].sum(min_count=1).reset_index()
    sums["part"] = [
        f"{a:,.2f}{' ' + c if c else ''}" if pd.notna(a) else f"amount unread{' ' + c if c else ''}"
        for a, c in zip(sums["amount"], sums["currency"], strict=True)
    ]
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(sorted(found["debtor_id"].unique()), dtype="string"),
        }
    ).assign(
        invoices=lambda f: f["debtor_id"].map(found.groupby("debtor_id").size()).astype("int64"),
        amounts=lambda f: (
            f["debtor_id"].map(sums.groupby("debtor_id")["part"].agg(", ".join)).astype("string")
        ),
    )


PARTLY_COLUMNS = ("quarantined_invoices", "quarantined_amounts")


def with_partly(frame: pd.DataFrame, partly: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (the watchlist, a queue) with, on each debtor's row, its invoices quarantined tonight
    (:func:`partly_quarantined`): ``quarantined_invoices`` (how many) and ``quarantined_amounts``
    (their amounts per currency), after the exposure; empty for a debtor without any. Before session
    33 only the manifest, the log and the report's feed note said so, and a collector reading the queue
    saw a debtor that looked as if it owed less (s32-hostile item 5)."""
    ids = frame["debtor_id"].astype("string") if "debtor_id" in frame else pd.Series([], dtype="string")
    by = partly.set_index(partly["debtor_id"].astype("string"))
    count = ids.map(by["invoices"]).astype("Int64").to_numpy()
    amounts = ids.map(by["amounts"]).astype("string").to_numpy()
    out = frame.drop(columns=[c for c in PARTLY_COLUMNS if c in frame.columns])
    after = next((c for c in ("exposure", "open_balance") if c in out.columns), None)
    at = int(out.columns.get_loc(after)) + 1 if after is not None else len(out.columns)
    out.insert(at, PARTLY_COLUMNS[0], pd.array(count, dtype="Int64"))
    out.insert(at + 1, PARTLY_COLUMNS[1], pd.array(amounts, dtype="string"))
    return out


def partly_note(frame: pd.DataFrame) -> str:
    """One line for the log and the report: the debtors scored without some of their invoices."""
    first = ", ".join(frame["debtor_id"].head(5).tolist()) + (" ..." if len(frame) > 5 else "")
    return (
        f"{counted(len(frame), 'debtor')} scored without {counted(int(frame['invoices'].sum()), 'quarantined invoice')} "
        f"({first}): {PARTLY}, so their exposure, days past due and PD leave them out and they look as if they "
        "owed less (manifest.json partly_quarantined names each with the amounts; see quarantine/invoices.csv); "
        "fix the rows and ingest again"
    )


def _listed(key: str, reason: str, frame: pd.DataFrame, note: Any) -> dict[str, Any]:
    """manifest.json's entry ``key`` for the debtors of ``frame`` (``not_scored``,
    ``partly_quarantined``): the reason, the count, ``note(frame)`` and the first
    :data:`NOT_SCORED_LISTED` debtors; nothing when ``frame`` is empty."""
    if not len(frame):
        return {}
    debtors = frame.head(NOT_SCORED_LISTED).to_dict(orient="records")
    return {key: {"reason": reason, "count": int(len(frame)), "note": note(frame), "debtors": debtors}}


def not_scored_note(frame: pd.DataFrame) -> str:
    """One line for the log and the report: how many debtors were left out tonight, and why."""
    first = ", ".join(frame["debtor_id"].head(5).tolist()) + (" ..." if len(frame) > 5 else "")
    # their reasons, not an example that may be another's ("e.g. a currency without a rate" for a debtor
    # left out of the debtors table, s43-attack)
    why = "; ".join(
        f"{d}: {r}" for d, r in zip(frame["debtor_id"].head(3), frame["reasons"].head(3), strict=True)
    )
    return (
        f"{counted(len(frame), 'debtor')} not scored tonight ({first}): {NOT_SCORED} (see quarantine/invoices.csv; "
        f"{why}{' ...' if len(frame) > 3 else ''}). They are left out of the scores, the watchlist and the queues "
        "rather than scored as owing nothing (manifest.json not_scored); fix the rows and ingest again"
    )


@task(name="deltas", cache_policy=NO_CACHE)
def deltas(scores: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Today's scores with the previous run's PD and band, and the PD change."""
    return compare_with_previous(scores, previous)


def with_plan_news(
    scored: pd.DataFrame,
    statics: Any,
    previous: pd.DataFrame | None,
    prev_dir: Path | None,
    as_of: dt.date,
    currency: str | None,
) -> pd.DataFrame:
    """``scored`` with ``plan_broken`` / ``plan_broken_prev`` (:func:`pipelines.scoring.plans.plan_news`) for
    the ``event`` trigger's broken payment plans: tonight's check of the ``payment_plans`` table against the
    payments, and the same as of the previous run's date, unless that run's queues showed the plan kept.
    ``scored`` as it is without a plans table or a previous run (the trigger's plan part does not fire)."""
    from pipelines.scoring.plans import kept_in_queues, plan_news

    table = getattr(statics, "payment_plans", None)
    if previous is None or table is None or not len(table) or "as_of" not in previous or not len(previous):
        return scored
    prev_as_of = pd.Timestamp(pd.to_datetime(previous["as_of"]).max())
    news = plan_news(
        table,
        getattr(statics, "payments", None),
        pd.Timestamp(as_of),
        prev_as_of,
        kept_in_queues(prev_dir),
        money_places(currency),
    )
    ids = scored["debtor_id"].astype("string")
    out = scored.copy()
    for col in news.columns:
        out[col] = pd.Series(
            ids.map(news[col]).to_numpy(dtype=object), index=scored.index, dtype="string"
        ).fillna("")
    return out


@task(name="watchlist", cache_policy=NO_CACHE)
def watchlist(
    scored: pd.DataFrame,
    X: pd.DataFrame,
    loaded: Any,
    cfg: NightlyConfig,
    has_previous: bool,
    currency: pd.Series | None = None,
    overrides: pd.DataFrame | None = None,
    previous_state: pd.DataFrame | None = None,
    reporting: str | None = None,
    events: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Triggers, the analysts' overrides in force (:mod:`pipelines.scoring.watch_state`), then
    reason codes for the flagged debtors only, then the watchlist frame. ``events``: each debtor's
    latest event (``debtor_id``, ``event``, ``event_on``: the queue's ``oldest`` frame), for the
    ``event`` trigger; None: that part of it does not fire.

    A reason counts only when the value points the feature's risk direction relative to the
    training reference's median (tonight's median for models logged without one); amounts carry
    the debtor's invoice currency; the watchlist's ``currency`` column is ``reporting``, the currency
    of its amounts (ingest's reporting currency, as in the queues)."""
    from models.reasons import reasons_wide
    from pipelines.scoring.explain import explain

    as_of = pd.Timestamp(scored["as_of"].iloc[0]).date() if len(scored) and "as_of" in scored else None
    if events is not None and {"event", "event_on"} <= set(events.columns):
        latest = events.dropna(subset=["event_on"]).drop_duplicates("debtor_id")[
            ["debtor_id", "event", "event_on"]
        ]
        latest = latest.assign(debtor_id=latest["debtor_id"].astype("string"))
        scored = scored.merge(latest, on="debtor_id", how="left", validate="one_to_one").set_axis(
            scored.index
        )
    fired = triggers(scored, cfg, has_previous, no_model=is_no_model(loaded))
    flags, effects = apply_overrides(fired, scored, overrides, previous_state, cfg, as_of)
    flagged_ids = scored.loc[flags.any(axis=1), "debtor_id"]
    Xf = X.loc[in_ids(X.index, flagged_ids)]
    contrib, long = explain(Xf, X, loaded, cfg.reasons.top_n, _currency_of(currency, Xf.index))
    wide = reasons_wide(long, cfg.reasons.top_n)
    reason_cols = [f"reason_{i}" for i in range(1, cfg.reasons.top_n + 1)] + ["reasons"]
    wl = build_watchlist(
        scored, flags, wide, reason_cols, cfg, currency, reporting, no_model=is_no_model(loaded)
    )
    return {
        "flags": flags,
        "watchlist": wl,
        "reasons": long,
        "contrib": contrib,
        "X": Xf,
        "columns": reason_cols,
        "effects": effects,
    }


def load_collectors(cfg: NightlyConfig) -> tuple[Any, ...]:
    """The collectors of ``cfg.teams`` (``kind: teams``); none when the key is empty or the file is
    absent (every queue row then goes to ``unassigned``). An invalid file raises ConfigError."""
    from pipelines.config.teams import TeamsConfig

    if cfg.teams is None or not cfg.teams.exists():
        return ()
    return load_config(cfg.teams, expect=TeamsConfig).collectors


def _currency_of(currency: pd.Series | None, ids: pd.Index) -> pd.Series:
    """The main invoice currency of each debtor of ``ids`` (None where unknown)."""
    if currency is None:
        return pd.Series(None, index=ids, dtype="object")
    return currency.reindex(ids).astype("object").where(lambda c: c.notna(), None)


@task(name="queue", cache_policy=NO_CACHE)
def queue(
    scored: pd.DataFrame,
    X: pd.DataFrame,
    loaded: Any,
    oldest: pd.DataFrame,
    cfg: NightlyConfig,
    as_of: dt.date,
    portfolio: Any,
    wl: dict[str, Any],
    overrides: pd.DataFrame | None = None,
    currency: str | None = None,
    collectors: tuple[Any, ...] = (),
    prev_dir: Path | None = None,
    currencies: pd.Series | None = None,
    pay_pd: pd.Series | None = None,
    key: str = "pd",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The collections queue (live debtors, by expected loss weighted by days past due) and the recovery queue (debtors in
    default, by age-weighted recoverable amount), each row with its next action and rule.

    Payment plans in force come from the optional ``payment_plans`` table and from the analysts'
    overrides in force (``overrides``: :func:`pipelines.scoring.overrides.active_overrides`); the
    top reason from the watchlist (flagged debtors) or from the model (``X``, ``loaded``). ``currency``: the currency of every amount
    (ingest's reporting currency). Owners: ``collectors`` (``conf/teams.yaml``), keeping the owner
    of each debtor in the previous run's queues (``prev_dir``). ``key``: the priority's PD, ``pd`` or
    ``blend`` with ``pay_pd`` (:func:`pipelines.scoring.queue.queue_key_for`)."""
    from pipelines.scoring.explain import top_reasons
    from pipelines.scoring.owners import last_night_owners
    from pipelines.scoring.plans import broken_plans, plans_in_force

    day = pd.Timestamp(as_of)
    table, paid = getattr(portfolio, "payment_plans", None), getattr(portfolio, "payments", None)
    places = money_places(currency)  # the reporting currency's decimals: KWD's amounts keep their fils
    plans = plans_in_force(table, overrides, day, paid, places)
    broken = broken_plans(table, paid, day, places)
    frame = scored.copy()
    ids = frame["debtor_id"].astype("string")
    debtors = getattr(portfolio, "debtors", None)
    if debtors is not None and "country" in debtors:
        frame["country"] = text_by_debtor(
            ids, debtors.set_index(debtors["debtor_id"].astype("string"))["country"]
        )
    frame["currency"] = pd.Series(currency or "", index=frame.index, dtype="string")
    # top reason: the watchlist's first reason, else (live overdue debtors not flagged) the model's
    flagged = wl["watchlist"].set_index("debtor_id")["reason_1"] if "reason_1" in wl["watchlist"] else None
    listed = flagged.index if flagged is not None else pd.Index([], dtype="string")
    live = frame.loc[
        ~frame["in_default"].astype(bool) & (frame["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue),
        "debtor_id",
    ]
    Xq = X.loc[in_ids(X.index, live) & ~in_ids(X.index, listed)]
    others = top_reasons(Xq, X, loaded, _currency_of(currencies, Xq.index))
    parts = [part.astype("string") for part in (flagged, others) if part is not None and len(part)]
    frame["top_reason"] = text_by_debtor(ids, pd.concat(parts) if parts else None)
    previous = last_night_owners(prev_dir)  # the queues', then the watchlist's (s39-walk)
    recovery = None  # the events' memory (event_actions.follow_up, s40-walk)
    if prev_dir is not None and (prev_dir / "recovery_queue.parquet").exists():
        recovery = pd.read_parquet(prev_dir / "recovery_queue.parquet")
    return build_queues(
        frame, oldest, cfg, plans, collectors, previous, broken, pay_pd, key, places, day, recovery
    )


def _calendar_shifts(as_of: dt.date, reference: dict[str, Any], columns: Any) -> dict[str, float]:
    """Time elapsed since the reference sample (mean of its as-of dates) for each calendar-like
    feature among ``columns``, in the feature's unit (days or months); 0 when the reference
    records no dates."""
    import features.build  # noqa: F401 - importing the feature families fills CATALOG
    from features.catalog import CATALOG

    dates = pd.to_datetime(pd.Series((reference.get("sample") or {}).get("as_of") or [], dtype="object"))
    days = float((pd.Timestamp(as_of) - dates.mean()).days) if len(dates) else 0.0
    return {
        c: days / (365.25 / 12) if CATALOG[c].unit == "months" else days
        for c in columns
        if c in CATALOG and CATALOG[c].calendar
    }


RECENCY_BIN_DAYS = 7
"""The narrowest drift bin of a ``days_since_*`` feature, in days. Invoices and payments follow the
working week, so these counts move with the weekday of the as-of date: on a generated 1,000-debtor
book (base, seed 1) days_since_last_invoice's training bins (edges 1, 2, 4, 6, 11, 20, 83 days) gave
a PSI of 0.20-1.62 at every month-end of 2025-06..12 (an alert on 6 of 7, chance 0.03); merged to a
week (11, 20, 83) 0.03-0.06. A real change (debtors who stop invoicing) still moves the wide bins."""


@task(name="drift", cache_policy=NO_CACHE)
def drift(scored: pd.DataFrame, X: pd.DataFrame, loaded: Any, cfg: NightlyConfig) -> pd.DataFrame:
    """PSI of the live PDs and of the model's top features against the stored training reference.
    Calendar-like features (account age) are measured net of the time since the reference and
    never alert; ``days_since_*`` features in bins of at least a week (:data:`RECENCY_BIN_DAYS`)."""
    from models.drift import drift_table, reference_from_entry

    ref = loaded.reference or {}
    refs = {}
    current: dict[str, pd.Series] = {}
    # the rank pool: never-invoiced debtors of the debtors table (PDs and features read from nothing)
    # moved the drift figures (75 prospects added to a 150-debtor book alerted, s35-attack)
    pool = rank_pool(scored)
    X = X.loc[X.index.isin(pd.Index(scored.loc[pool, "debtor_id"].astype("string")))]
    if "score" in ref:
        refs["score"] = reference_from_entry(ref["score"])
        current["score"] = scored.loc[pool, "pd"].reset_index(drop=True)
    top = list(ref.get("top_features") or list(ref.get("features", {})))[: cfg.drift.top_features]
    for col in top:
        if col in X.columns and col in ref.get("features", {}):
            refs[col] = reference_from_entry(ref["features"][col])
            current[col] = X[col]
    as_of = pd.Timestamp(scored["as_of"].iloc[0]).date() if len(scored) else dt.date.today()
    calendar = _calendar_shifts(as_of, ref, current)
    rows = (ref.get("sample") or {}).get("rows")  # the reference's sample size: its own noise
    weekly = {col: RECENCY_BIN_DAYS for col in current if col.startswith("days_since_")}
    return drift_table(
        current, refs, cfg.drift.warning, cfg.drift.alert, calendar, int(rows) if rows else None, weekly
    )


CALIBRATION_ARTIFACT = "evaluation/calibration_curve.csv"  # logged by the train flow


def _calibration_table(loaded: Any) -> pd.DataFrame | None:
    """The reliability table logged with the model's run (mean_pd, default_rate), or None."""
    import io

    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        text = mlflow.artifacts.load_text(f"runs:/{loaded.run_id}/{CALIBRATION_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    table = pd.read_csv(io.StringIO(text))
    if not {"mean_pd", "default_rate"} <= set(table.columns):
        return None
    return table[["mean_pd", "default_rate"]]


@task(name="score-files", cache_policy=NO_CACHE)
def write_score_files(
    stage: Path,
    stamp: dt.datetime,
    scored: pd.DataFrame,
    currency: str | None = None,
    xlsx_rows: int = 100_000,
) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """scores.parquet and the credit-limit files (``pipelines.scoring.limits.write_credit_limits``):
    what needs the scores with their limits and nothing after them; and the XLSX text cells cut
    (:func:`write_exports`)."""
    cuts: dict[str, dict[str, int]] = {}
    # the comparison with the previous run (pd_prev, band_prev, credit limits *_prev) stays out
    score_cols = [
        c for c in scored.columns if not c.endswith("_prev") and c not in {"pd_change", "in_previous"}
    ]
    files = {"scores.parquet": write_parquet(published(scored[score_cols]), stage / "scores.parquet")}
    files.update(write_credit_limits(scored, stage, stamp, currency, xlsx_rows, cuts=cuts))
    return files, cuts


@task(name="exports", cache_policy=NO_CACHE)
def write_exports(
    stage: Path,
    stamp: dt.datetime,
    wl: dict[str, Any],
    q: pd.DataFrame,
    rq: pd.DataFrame,
    drift_frame: pd.DataFrame,
    quarantine: dict[str, Any],
    xlsx_rows: int = 100_000,
    currency: str | None = None,
    queue_key: str = "pd",
) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """Watchlist (CSV/Parquet, and XLSX in words), reason codes, the collections and recovery queues (CSV/Parquet: all rows; XLSX:
    the top ``xlsx_rows``, amounts headed with the reporting ``currency``, the collections queue's
    priority named after its ranking ``queue_key``), drift and quarantine
    files; and, per XLSX file, the text cells cut to Excel's 32,767 characters (per column; the
    CSV/Parquet keep the full text)."""
    cuts: dict[str, dict[str, int]] = {}
    files = {
        "watchlist.parquet": write_parquet(published(wl["watchlist"]), stage / "watchlist.parquet"),
        **write_watchlist(wl["watchlist"], stage, stamp, xlsx_rows, currency, cuts=cuts),
        "reason_codes.parquet": write_parquet(wl["reasons"], stage / "reason_codes.parquet"),
        "drift.csv": write_csv(drift_frame, stage / "drift.csv"),
    }
    for frame, stem in ((q, "collections_queue"), (rq, "recovery_queue")):
        files.update(
            write_queue(
                frame,
                stage,
                stem,
                QUEUE_TITLES[stem],
                stamp,
                xlsx_rows,
                currency,
                cuts=cuts,
                key=queue_key if stem == "collections_queue" else "pd",
            )
        )
    for table, rows in quarantine.items():
        target = stage / "quarantine" / f"{table}.csv"
        if isinstance(rows, Path):  # the ingested folder's file, copied as it is
            from pipelines.adapters.files import write_bytes_atomic

            files[f"quarantine/{table}.csv"] = write_bytes_atomic(rows.read_bytes(), target)
        else:
            files[f"quarantine/{table}.csv"] = write_csv(rows, target)
    return files, cuts


def _counts(
    scored: pd.DataFrame,
    wl: dict[str, Any],
    q: pd.DataFrame,
    rq: pd.DataFrame,
    previous: pd.DataFrame | None,
    cfg: NightlyConfig,
    currency: str | None = None,
) -> dict[str, Any]:
    """The manifest's counts; the queues' sums in ``currency`` (the reporting currency, recorded
    beside them: None when unknown): the sums of the rows as the files write them, in the currency's
    decimals (``pipelines.ingest.decimals.shown_places``: a JPY queue's whole yen, so the console, the
    report and the workbook's totals row agree; before session 29 the 2-decimal rows' sum, 466,861 JPY
    against the workbook's 466,864)."""
    from pipelines.ingest.decimals import shown_places

    places = shown_places(currency)
    flags = wl["flags"]
    band_names = [b.name for b in cfg.bands]
    # the bands count the debtors with a history (rank_pool): a prospect's band is read from empty features
    # (before session 39 counted: 20 prospects of a mixed book in band A); they get their own entry
    pool = rank_pool(scored)
    bands = scored.loc[pool, "band"].value_counts().reindex(band_names, fill_value=0)
    prospects = int((~scored["in_default"].astype(bool) & ~pool).sum())
    return {
        "scored": int(len(scored)),
        "live": int((~scored["in_default"]).sum()),
        "in_default": int(scored["in_default"].sum()),
        **_without_history(scored),
        "bands": {
            **{b: int(n) for b, n in bands.items()},
            "default": int(scored["in_default"].sum()),
            **({NO_HISTORY_BAND: prospects} if prospects else {}),
        },
        "triggers": {name: int(flags[f"trigger_{name}"].sum()) for name in TRIGGERS},
        **_rank_ties(scored, cfg),
        "flagged": int(len(wl["watchlist"])),
        "flagged_previous": 0 if previous is None else int(previous.attrs.get("flagged", 0)),
        "queue": int(len(q)),
        "queue_actions": {str(k): int(v) for k, v in q["next_action"].value_counts().sort_index().items()},
        "currency": currency,
        "expected_loss": round(float(q["expected_loss"].round(places).sum()), places),
        "recovery": int(len(rq)),
        "recovery_actions": {
            str(k): int(v) for k, v in rq["next_action"].value_counts().sort_index().items()
        },
        "recoverable_amount": round(float(rq["recoverable_amount"].round(places).sum()), places),
    }


def _statements_left_out(balances: tuple[float, int] | None, currency: str | None) -> dict[str, Any]:
    """The manifest's ``payment_dates.statements_not_forecast`` of a book with invoices and statements:
    the latest statements' balances the cash-in forecast leaves out (``balance``, in the currency's
    decimals, and ``accounts``) and the sentence; nothing elsewhere."""
    from pipelines.ingest.decimals import shown_places

    note = statements_not_forecast(balances, currency)
    if not note or balances is None:
        return {}
    return {
        "statements_not_forecast": {
            "balance": round(float(balances[0]), shown_places(currency)),
            "accounts": int(balances[1]),
            "note": note,
        }
    }


def _without_history(scored: pd.DataFrame) -> dict[str, int]:
    """``{"live_without_history": n}`` when n live debtors (of the debtors table) have no invoice,
    payment or statement by the as-of date: scored, but outside the rank trigger's pool and the drift
    of the PDs (``pipelines.scoring.watchlist.rank_pool``); nothing when there are none."""
    n = int(((~scored["in_default"].astype(bool)) & ~rank_pool(scored)).sum())
    return {"live_without_history": n} if n else {}


def _rank_ties(scored: pd.DataFrame, cfg: NightlyConfig) -> dict[str, Any]:
    """``{"rank_ties": {...}}`` when ties made the rank trigger flag far more than its top_share."""
    from pipelines.scoring.watchlist import rank_ties

    rank = cfg.triggers.rank
    if not rank.enabled:
        return {}
    ties = rank_ties(scored["pd"], rank_pool(scored), rank.top_share, rank.min_pd)
    return {} if ties is None else {"rank_ties": ties}


def _model_info(loaded: Any) -> dict[str, Any]:
    return {
        "name": loaded.name,
        "version": str(loaded.version),
        "alias": loaded.alias,
        "run_id": loaded.run_id,
        "model_sha256": loaded.tags.get("ews.model_sha256"),
        "metrics": {k: v for k, v in loaded.metrics.items() if k.startswith("test_") and np.isfinite(v)},
    }


@task(name="report", cache_policy=NO_CACHE)
def write_report(
    stage: Path,
    as_of: dt.date,
    cfg: NightlyConfig,
    cfg_hash: str,
    loaded: Any,
    scored: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_as_of: str | None,
    wl: dict[str, Any],
    counts: dict[str, Any],
    drift_frame: pd.DataFrame,
    feed: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    portfolio: Any = None,
    currency: str | None = None,
    queue_key: tuple[str, str] | None = None,
    no_model: str | None = None,
) -> Path:
    """report.html with the portfolio sections (``portfolio``: :func:`pipelines.report.portfolio.build_portfolio`)
    and PD waterfalls of the ``cfg.report.waterfalls`` highest-PD flagged debtors:
    from the average debtor's PD to theirs, one step per reason group, in PD points."""
    from features.catalog import CATALOG, GROUPS
    from models.reasons import pd_waterfall, raw_to_pd
    from pipelines.report import Waterfall, render_report

    top = wl["watchlist"].head(0 if no_model else cfg.report.waterfalls)  # no PD: no waterfall
    contrib = wl["contrib"]
    live = scored.loc[~scored["in_default"].astype(bool)]
    to_pd = None if no_model else raw_to_pd(live["raw_score"].to_numpy(), live["pd"].to_numpy())
    titles = {key: g.title for key, g in GROUPS.items()}
    positions = contrib.values.index.get_indexer(top["debtor_id"])
    waterfalls = [
        Waterfall(
            debtor_id=str(r.debtor_id),
            name="" if pd.isna(r.name) else str(r.name),
            pd=float(r.pd),
            band=str(r.band),
            reasons=[s for s in str(r.reasons).split("; ") if s],
            steps=pd_waterfall(
                contrib.values.iloc[pos], float(contrib.expected_value[pos]), to_pd, CATALOG, titles
            ),
        )
        for r, pos in zip(top.itertuples(index=False), positions, strict=True)
    ]
    html = render_report(
        as_of=as_of.isoformat(),
        model={
            **_model_info(loaded),
            **({"queue_key": queue_key[0], "queue_key_why": queue_key[1]} if queue_key else {}),
            "kind": loaded.tags.get("ews.kind"),
            "gate_reasons": loaded.tags.get("ews.gate.reasons"),
            "gate": loaded.tags.get("ews.gate"),  # passed / failed, and a promotion by hand over it (s43)
            "promotion": {
                "at": loaded.tags.get("ews.promotion.manual"),
                "by": loaded.tags.get("ews.promotion.by"),
                "reason": loaded.tags.get("ews.promotion.reason"),
            },
            "gate_comparison": loaded.tags.get("ews.gate.comparison"),  # and what it was worth (s42)
            "test_as_of": loaded.tags.get("ews.test_as_of"),  # the test window's month-ends (s41)
            # a small book's LightGBM fitted on every labelled month-end (metric small_book_trees): its
            # baseline_test_* are the roll-rate model's, not a scorecard's (s25-review)
            "baseline": "rollrate" if "small_book_trees" in loaded.metrics else "scorecard",
            "compared": {  # the other models' test figures, beside the champion's (s25-newuser)
                k: v
                for k, v in loaded.metrics.items()
                if k.startswith(("baseline_test_", "lightgbm_test_")) and np.isfinite(v)
            },
        },
        config_hash=cfg_hash,
        scored=scored,
        previous=previous,
        previous_as_of=previous_as_of,
        watchlist=wl["watchlist"],
        reason_columns=wl["columns"][:-1],
        counts=counts,
        drift=drift_frame,
        calibration=None if no_model else _calibration_table(loaded),
        waterfalls=waterfalls,
        cfg=cfg,
        feed=feed,
        inputs=inputs,
        overrides=overrides,
        portfolio=portfolio,
        currency=currency,
        no_model=no_model,
    )
    from pipelines.adapters.files import write_text_atomic

    return write_text_atomic(html, stage / "report.html")


def interval_in_words(forecaster: Any) -> str:
    """What the version's ``paid_on_p10`` / ``paid_on_p90`` are: its stored levels in words (0.1 / 0.9
    for a version trained before session 35)."""
    from models.paydate import DEFAULT_LEVELS, levels_in_words

    return levels_in_words(getattr(forecaster, "interval_levels", DEFAULT_LEVELS))


def cash_error_in_words(forecaster: Any) -> str:
    """The forecasting version's weekly cash error on held-out weeks in a sentence ("" without a version
    or a figure): said under report.html's cash-in forecast (s37-walk: a 120-debtor book's 94 % went
    unsaid there while its gate read "every check passed")."""
    from pipelines.words import cash_error_said

    if forecaster is None:
        return ""
    return (
        cash_error_said(getattr(forecaster, "cash_wape", None), getattr(forecaster, "cash_weeks", None)) or ""
    )


def _first_day(book: Any) -> pd.Timestamp | None:
    """The first invoice's issue date or statement's period end of ``book`` (None: neither)."""
    found = [
        b[0] for b in (book.bounds("invoices", "issue_date"), book.bounds("statements", "period_end")) if b
    ]
    return min(found) if found else None


MOVES_MAX_DEBTORS = 2_000
"""A run without a PD model counts the book's moves into default (``pipelines.scoring.nomodel.default_moves``:
the features of every month-end, as `ews train` builds them) up to this many debtors; a larger book without a
model (scored before its first `ews train`) is not one the roll-rate minimum holds back, and its notice says the
debtors in default tonight instead."""


def _train_config(path: Path = Path("conf/train.yaml")) -> Any:
    """The train config at ``path`` when it reads, else the defaults: what `ews train` would count the roll-rate
    model's minimum with (its snapshots and ``rollrate.min_default_transitions``)."""
    from pipelines.config.train import TrainConfig

    try:
        return load_config(path, expect=TrainConfig)
    except (ConfigError, OSError, ValueError, TypeError):
        return TrainConfig()


def no_drift() -> pd.DataFrame:
    """The drift table of a run without a PD model: no training reference, no row."""
    from models.drift import drift_table

    return drift_table({}, {})


def no_forecast_note(why: str, pd_model: bool = True) -> str:
    """The manifest's and the report's words for a run without the payment-date forecast (``pd_model``
    False: a run without a PD model either, :mod:`pipelines.scoring.nomodel`)."""
    said = (
        "the PDs, the watchlist and the collections queue ranked by the PD are published"
        if pd_model
        else "no cash-in forecast is made from due dates alone; the aging, DSO and the collections queue by "
        "days past due are published"
    )
    return (
        f"no payment-date forecast: invoice_forecast and cash_forecast are not written and the queue has no "
        f"expected_cash_30d ({why}); {said}"
    )


@task(name="publish", cache_policy=NO_CACHE)
def publish_run(
    stage: Path,
    out_dir: Path,
    as_of: dt.date,
    manifest: dict[str, Any],
    files: dict[str, Path],
    earlier: dict[str, str] | None = None,
) -> Path:
    """Write manifest.json (with output hashes) into the staging folder and publish it atomically,
    unless the earlier runs the run read (``earlier``) changed meanwhile."""
    from pipelines.adapters.files import sha256_file, write_text_atomic

    manifest["outputs"] = {name: sha256_file(path) for name, path in sorted(files.items())}
    write_text_atomic(json.dumps(manifest, indent=2) + "\n", stage / "manifest.json")
    return publish(stage, out_dir, as_of, earlier)


# ------------------------------------------------------------------------------------------- flow


def _load_configs(config_path: Path) -> tuple[NightlyConfig, ProjectConfig]:
    cfg = load_config(config_path, expect=NightlyConfig)
    if not cfg.project.exists():
        raise ConfigError(
            f"{config_path}: project config {cfg.project} not found (key 'project'; paths are relative to the working directory)"
        )
    return cfg, load_config(cfg.project, expect=ProjectConfig)


def preflight(config_path: Path) -> None:
    """Refuse, before any flow run starts, a project whose default definition differs from the one
    the model to score was trained with (:class:`pipelines.scoring.score.DefinitionMismatchError`).
    A missing model is left to the flow (it names the fix)."""
    from pipelines.adapters.registry import NoChampionError, recorded_definition

    cfg, project = _load_configs(Path(config_path))
    try:
        version, definition = recorded_definition(
            cfg.model_alias, cfg.model_name, tracking_uri=project.paths.mlflow_tracking_uri
        )
    except NoChampionError:
        return
    model = SimpleNamespace(name=cfg.model_name, version=version, definition=definition)
    check_definition(model, project.default_definition.to_params(), f"{cfg.project} (default_definition)")


def run_nightly(
    as_of: dt.date,
    data_dir: Path,
    out_dir: Path,
    cfg: NightlyConfig,
    project: ProjectConfig,
    raw: bool = False,
    accept_feed: bool = False,
    engine: Any = None,
    require_model: bool = False,
) -> NightlyResult:
    """The flow body (call it inside a flow run): see the module docstring for the steps.

    ``accept_feed``: publish even when feed checks fail (the override is recorded in the manifest).
    ``require_model``: refuse a project without a registered PD model (NoChampionError) instead of the
    run without one (:mod:`pipelines.scoring.nomodel`)."""
    logger = get_run_logger()
    meter = StepMeter(logger)  # each step below: wall time and peak memory, logged and in the manifest

    out_dir = Path(out_dir)
    collectors = load_collectors(cfg)  # a broken teams file fails before any work
    policy = load_credit_policy(cfg.credit, [b.name for b in cfg.bands])  # so does a broken credit policy
    with run_lock(out_dir, as_of), Beside(meter) as beside:
        earlier = earlier_runs(out_dir, as_of)  # before the first read: checked again at publication
        check_book(out_dir, Path(data_dir))  # another book's runs folder (s39-audit): before any work
        check_log(out_dir, latest_before(out_dir, as_of))  # a tampered overrides log stops the run first
        # the log as found now is this run's: an override entered while it runs is the next run's (before,
        # the log was read three times, so the manifest and the report could hold a line the watchlist had not)
        # the time before the read: a line dated earlier that this run did not read was backdated
        now = dt.datetime.now(dt.UTC)
        read_at = now.isoformat(timespec="seconds")
        log_at_start = {**log_head(out_dir), "read_at": read_at}
        # a line dated after this run's clock: entered on a clock running ahead (s41); applied, and said
        ahead = lines_ahead(out_dir, read_log(out_dir, log_at_start["lines"]), now)
        for line in ahead:
            logger.warning("overrides: %s", line["said"])
        if ahead:
            log_at_start["clock_ahead"] = [{k: x[k] for k in ("line", "by", "at", "ahead")} for x in ahead]
        with meter.step("load_champion"):
            loaded, (paydate_version, paydate_why) = load_champion(cfg, project, require_model)
        none = is_no_model(loaded)  # no PD model registered yet: the ledger's run (pipelines.scoring.nomodel)
        if none and (before := model_before(out_dir, as_of)) is not None:
            from pipelines.adapters.registry import NoChampionError

            # a book scored by a model last time lost it (another store or model_name): refused, not PD-less
            raise NoChampionError(lost_model_words(loaded.why, before))
        check_definition(
            loaded, project.default_definition.to_params(), f"{cfg.project} (default_definition)"
        )
        if none:
            logger.info("scoring as of %s without a PD model (%s)", as_of, loaded.why)
        elif loaded.definition is None:
            logger.warning(
                "%s v%s records no default definition (logged by an older ews); scoring with %s",
                loaded.name,
                loaded.version,
                cfg.project,
            )
        else:
            logger.info("scoring as of %s with %s v%s (%s)", as_of, loaded.name, loaded.version, loaded.alias)
        with meter.step("ingest"):
            result = ingest(Path(data_dir), as_of, raw, project.currency, cfg.partition_rows)
        with meter.step("validate"):
            inputs = validate(result, cfg)
        from pipelines.report.portfolio import BookSums, build_portfolio, figure_dates

        sum_dates = tuple(figure_dates(as_of, cfg, out_dir)[0])  # the report's DSO/aging dates
        # ews-paydate, or None with why (logged, and written into the manifest and the report)
        if statements_book(result.manifest["tables"]):  # ews train fits no ews-paydate for it
            forecaster, no_forecast = None, STATEMENTS_NO_FORECAST
            logger.info("payment dates and cash forecast skipped: %s", no_forecast)
        elif paydate_version is None:  # none when the run started: one promoted since is the next run's
            forecaster, no_forecast = None, paydate_why
            logger.info("payment dates and cash forecast skipped: %s", no_forecast)
        else:
            forecaster, no_forecast = forecaster_status(project.paths.mlflow_tracking_uri, paydate_version)
        prev_dir = latest_before(out_dir, as_of)
        previous, prev_manifest, carried = None, {}, None
        if prev_dir is not None:
            previous = internal(pd.read_parquet(prev_dir / "scores.parquet"))
            if (
                prev_dir / UNSCORED_MEMORY_FILE
            ).exists():  # limit_breach's memory of debtors it did not score
                carried = pd.read_parquet(prev_dir / UNSCORED_MEMORY_FILE)
            if (prev_dir / "manifest.json").exists():
                prev_manifest = json.loads((prev_dir / "manifest.json").read_text())
                previous.attrs["flagged"] = prev_manifest["counts"]["flagged"]
        # limit_breach's ledger month-ends: the scoring buckets read their candidates' rows themselves
        ask = ledger_ask(
            previous, carried, result.book.buckets, policy, output_currency(result.manifest, None), as_of, cfg
        )
        if none and ask is not None:  # the limits on file (pipelines.scoring.limits.current_limits_only)
            ask = replace(ask, no_model=True)
        with meter.step("score"):  # features, PDs, the report's sums and the payment-date forecast
            scored_book = score_book(
                result.book, as_of, project, loaded, cfg, engine, sum_dates, forecaster, ask
            )
        scores, X, oldest = scored_book.scores, scored_book.X, scored_book.oldest
        reasons = (result.manifest["tables"].get("invoices") or {}).get("reasons")
        lost = lost_invoices(result.quarantine, reasons)  # read once, for both
        not_scored = all_quarantined(result.book, {"invoices": lost}, scores)
        if len(not_scored):  # scored on no invoice at all: left out, and said (manifest, log, report)
            left = scores["debtor_id"].astype("string").isin(not_scored["debtor_id"]).to_numpy()
            scores = scores.loc[~left].reset_index(drop=True)
            X = X.loc[~in_ids(X.index, not_scored["debtor_id"])]
            if "debtor_id" in oldest:
                oldest = oldest.loc[
                    ~oldest["debtor_id"].astype("string").isin(not_scored["debtor_id"]).to_numpy()
                ]
            logger.warning("%s", not_scored_note(not_scored))
        partly = partly_quarantined(lost, scores, invoice_notation(result.manifest))
        if len(partly):  # scored on the rest of their invoices: said (manifest, log, report)
            logger.warning("%s", partly_note(partly))
        statics = result.book.read_tables(
            ("debtors", "payment_plans", "debtor_history")
        )  # small per-debtor tables
        # the attributes valid on the as-of date (features.master): a backfill reads that day's limits
        statics = replace(statics, debtors=debtors_at(statics.debtors, statics.debtor_history, as_of))
        statics = with_plan_payments(statics, result.book)  # plans are checked against payments
        prev_run = None if prev_dir is None else (prev_dir.name, prev_manifest, previous)
        result.check_unchanged(
            f"Run {as_of} again"
        )  # before the feed checks: a mixed read is not the feed's fault
        try:
            with meter.step("feed_checks"):
                feed = check_feed(
                    result,
                    scores,
                    as_of,
                    prev_run,
                    loaded,
                    cfg,
                    accept_feed,
                    scored_book.recent_invoices,
                    project.default_definition.to_params(),
                    scored_book.recent_amounts,
                    statics.debtors,
                    scored_book.recent_ratios,
                    scored_book.invoice_debtors,
                )
        except FeedCheckError as exc:
            write_rejected(out_dir, as_of, exc.feed)
            raise
        logger.info(
            "feed checks %s against %s", feed["status"], ", ".join(feed["references"]) or "no reference"
        )
        if feed.get("own_months"):
            logger.warning("%s", feed["own_months"])
        if feed.get("history"):
            logger.warning("%s", feed["history"]["note"])
        if feed.get("write_offs"):
            logger.info("%s", feed["write_offs"])
        if len(not_scored):  # the report's feed note says it too
            feed["note"] = "; ".join(n for n in (feed["note"], not_scored_note(not_scored)) if n)
        if len(partly):
            feed["note"] = "; ".join(n for n in (feed["note"], partly_note(partly)) if n)
        stage = staging_dir(out_dir, as_of)
        currency = output_currency(result.manifest, scored_book.currency, project.currency.reporting)
        if currency is None:  # once per run (the console's summary says "currency not named")
            logger.warning("%s", NO_CURRENCY)
        stamp = dt.datetime.combine(as_of, dt.time())
        # the payment-date files need only the score pass: written beside the steps below
        forecast = None
        if forecaster is not None:
            forecast = beside.run(
                "payment_dates",
                payment_date_files,
                stage,
                as_of,
                forecaster,
                scored_book.paydate,
                currency,
                scored_book.statement_balances,
            )
        with meter.step("deltas"):
            scored = deltas(scores, previous)
        with meter.step("credit_limits"):  # docs/credit_limits.md; the limit_breach trigger reads them
            # credit.review keeps the last run's limit; without a PD model the limits on file and the need
            scored = run_limits(scored, statics.debtors, previous, policy, currency, no_model=none)
            scored = with_unscored_memory(scored, carried)  # a debtor the previous run did not score
            scored = scored.assign(limit_over_on=limit_over_on(scored, cfg))  # limit_breach's memory
            # and the ledger's month-ends, read for the debtors whose flag they can decide only
            over = scored_ledger_memory(scored_book.ledger, result.book, scored, cfg, previous is not None)
            scored = with_ledger_memory(scored, over)
        score_written = beside.run(
            "score_files", write_score_files, stage, stamp, scored, currency, cfg.queue.xlsx_max_rows
        )
        active = active_overrides(out_dir, as_of, log_at_start["lines"])
        prev_state = None
        if prev_dir is not None and (prev_dir / STATE_FILE).exists():
            prev_state = pd.read_parquet(prev_dir / STATE_FILE)
        with meter.step("watchlist"):
            wl = watchlist(
                with_plan_news(scored, statics, previous, prev_dir, as_of, currency),
                X,
                loaded,
                cfg,
                previous is not None,
                scored_book.currency,
                active,
                prev_state,
                currency,
                oldest,
            )
        pay_pd = None if forecaster is None else pay_pd_by_debtor(scored_book.paydate)
        key, key_why = (
            (NO_MODEL_KEY, NO_MODEL_KEY_WHY)
            if none
            else queue_key_for(cfg.queue.priority, loaded.tags, pay_pd)
        )
        logger.info("collections queue ranked by the %s key (%s)", key, key_why)
        with meter.step("queue"):
            q, rq = queue(
                scored,
                X,
                loaded,
                oldest,
                cfg,
                as_of,
                statics,
                wl,
                active,
                currency,
                collectors,
                prev_dir,
                scored_book.currency,
                pay_pd,
                key,
            )
        files: dict[str, Path] = {}
        if forecast is not None:  # the queue's expected cash comes with the payment-date files
            written = forecast.result()
            q = with_expected_cash(q, written.expected_cash_30d, written.pay_pd, money_places(currency))
            files.update(written.files)
        owners = q.set_index("debtor_id")["owner"] if "owner" in q.columns else None
        state = watch_state(wl["watchlist"], scored, wl["effects"], prev_state, as_of, owners)
        wl["watchlist"] = with_partly(with_state(wl["watchlist"], state), partly)
        q, rq = with_partly(q, partly), with_partly(rq, partly)  # each row says its lost invoices
        with meter.step("drift"):  # without a PD model: no training reference, no drift
            drift_frame = drift(scored, X, loaded, cfg) if not none else no_drift()
        # the other files beside the portfolio and report steps, which do not read them
        exports = beside.run(
            "exports",
            write_exports,
            stage,
            stamp,
            wl,
            q,
            rq,
            drift_frame,
            result.quarantine,
            cfg.queue.xlsx_max_rows,
            currency,
            key,
        )
        files[STATE_FILE] = write_parquet(state, stage / STATE_FILE)
        if cfg.triggers.limit_breach.rearm_days:  # the memory of the debtors not scored tonight
            unscored = unscored_limit_memory(previous, carried, scored, cfg)
            files[UNSCORED_MEMORY_FILE] = write_parquet(unscored, stage / UNSCORED_MEMORY_FILE)
        counts = _counts(scored, wl, q, rq, previous, cfg, currency)
        if none:  # no PD: no expected loss (never 0), no bands but the default definition's
            counts["expected_loss"] = None
            counts["bands"] = {
                k: v for k, v in counts["bands"].items() if k in (DEFAULT_BAND, NO_HISTORY_BAND)
            }
        no_model_words = None
        if none:  # the moves into default the first model's minimum counts, as `ews train` counts them
            train_cfg = _train_config()
            need, moves = int(train_cfg.rollrate.min_default_transitions), None
            if not loaded.registered and len(scored) <= MOVES_MAX_DEBTORS:
                with meter.step("default_moves"):
                    moves = default_moves(result.book, as_of, project, train_cfg)
                counts["moves_into_default"] = {"moves": moves, "needed": need}
            no_model_words = no_model_notice(loaded, scored, _first_day(result.book), as_of, need, moves)
        gaps = coverage_gaps(collectors, scored, {"collections": q, "recovery": rq})
        if gaps and (gaps["unknown"] or any(gaps["unassigned"].values())):
            counts["owners"] = gaps
            logger.warning("owners: %s", owner_gaps_note(gaps), extra=SAID_IN_SUMMARY)
        lgd_note = lgd_segments_note(cfg.queue, scored["segment"]) if "segment" in scored else ""
        if lgd_note:  # a by_segment key in another case: its LGD silently not applied before session 34
            counts["lgd_segments"] = lgd_note
            logger.warning("LGD: %s", lgd_note, extra=SAID_IN_SUMMARY)
        previous_as_of = prev_dir.name if prev_dir is not None else None
        cfg_hash = config_hash(cfg)
        details = wl["watchlist"]["debtor_id"].head(cfg.report.debtor_details)  # debtor pages
        with meter.step("portfolio"):  # DSO/aging sums from the score pass, PD trends from earlier runs
            port = build_portfolio(
                result.book,
                as_of,
                scored,
                details,
                cfg,
                currency,
                out_dir,
                stage,
                engine,
                BookSums(sum_dates, scored_book.portfolio),
                None if forecaster is None else forecast_rows(scored_book.paydate, details),
                forecast_note=no_forecast_note(no_forecast, not none) if forecaster is None else None,
                interval_words="" if forecaster is None else interval_in_words(forecaster),
                cash_error=cash_error_in_words(forecaster),
                lgd=rq.set_index("debtor_id")["lgd"],  # an event's LGD (recovery.lgd_by_event)
                cash_left_out=""
                if forecaster is None
                else statements_not_forecast(scored_book.statement_balances, currency),
            )
        files.update(port.files)
        with meter.step("report"):
            files["report.html"] = write_report(
                stage,
                as_of,
                cfg,
                cfg_hash,
                loaded,
                scored,
                previous,
                previous_as_of,
                wl,
                counts,
                drift_frame,
                feed,
                inputs,
                override_summary(out_dir, as_of, wl["watchlist"], wl["effects"], lines=log_at_start["lines"]),
                port,
                currency,
                (key, key_why),
                no_model_words,
            )
        score_files, score_cuts = score_written.result()
        export_files, xlsx_cuts = exports.result()
        xlsx_cuts.update(score_cuts)  # the queues', then the credit limits' (the order of before)
        for name, cut in xlsx_cuts.items():
            logger.warning("%s: %s", name, cut_note(cut))
        files.update(score_files)
        files.update(export_files)
        statuses = set(drift_frame["status"])
        manifest = {
            "as_of": as_of.isoformat(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "data_dir": str(data_dir),
            "raw_input": raw,
            "engine": getattr(engine, "kind", "local"),
            "blas_threads": blas_threads(),
            "buckets": result.book.buckets,
            "inputs": inputs,
            "mode": NO_MODEL_MODE if none else "pd_model",
            **({"no_model": no_model_words} if none else {}),
            "model": None if none else {k: v for k, v in _model_info(loaded).items() if k != "metrics"},
            "queue_key": {"key": key, "why": key_why},
            "payment_dates": {
                "model": f"{forecaster.name} v{forecaster.version}",
                "interval": f"paid_on_p10 / paid_on_p90: {interval_in_words(forecaster)}",
                **_statements_left_out(scored_book.statement_balances, currency),
            }
            if forecaster is not None
            else {"model": None, "note": no_forecast_note(no_forecast, not none)},
            "config": {
                "hash": cfg_hash,
                "project_hash": config_hash(project),
                "credit_policy_hash": config_hash(policy),
                "model_alias": cfg.model_alias,
            },
            "previous_run": previous_as_of,
            # the version that scored the previous run (s39-walk: the night a new champion first scored, the
            # report and the console compared its PDs with the old model's without saying so)
            "previous_model_version": (prev_manifest.get("model") or {}).get("version"),
            "overrides": {
                **log_at_start,
                # `ews watchlist accept-log` lines (a log accepted over what earlier runs read)
                "accepted": len(read_acceptances(out_dir)),
                "in_force": int(len(active)),
                "cleared_kept_off": int(wl["effects"]["suppressed"].sum()),
                "reflagged": int(wl["effects"]["reflagged"].sum()),
            },
            "feed": feed,
            **_listed("not_scored", NOT_SCORED, not_scored, not_scored_note),
            **_listed("partly_quarantined", PARTLY, partly, partly_note),
            **({"xlsx_cut_cells": xlsx_cuts} if xlsx_cuts else {}),
            "feature_snapshot_hash": str(scored["feature_snapshot_hash"].iloc[0]) if len(scored) else None,
            "counts": counts,
            "drift": {
                "status": "alert" if "alert" in statuses else "warning" if "warning" in statuses else "ok",
                "warning": cfg.drift.warning,
                "alert": cfg.drift.alert,
                "variables": json.loads(drift_frame.to_json(orient="records")),
            },
            "timings_s": meter.seconds,
            "cpu_s": meter.cpu_seconds,
            "peak_rss_mib": meter.peak_rss_mib,
        }
        result.check_unchanged(f"Run {as_of} again")  # re-ingested while this run read it (s38-attack)
        with meter.step("publish"):
            path = publish_run(stage, out_dir, as_of, manifest, files, earlier)
            record_book(out_dir, Path(data_dir), as_of.isoformat())  # OUTDIR/book.json on the first run
        clear_rejected(out_dir, as_of)
        res = NightlyResult(as_of, path, manifest)
        logger.info("published %s", res.path)
        return res


@flow(name="nightly", log_prints=True)
def nightly(
    as_of: dt.date | None = None,
    config_path: Path = Path("conf/nightly.yaml"),
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    raw: bool = False,
    accept_feed: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    require_model: bool = False,
) -> NightlyResult:
    """Score the portfolio as of ``as_of`` (default: yesterday in the schedule's time zone) and
    publish ``OUTDIR/<as_of>/``. ``data_dir`` / ``out_dir`` default to the config's. ``data_dir`` is
    an ``ews ingest`` output; ``raw``: a folder of raw canonical files, validated in memory.
    ``accept_feed``: publish even when feed checks fail (recorded in the manifest).
    ``engine="dask"``: one task per debtor bucket on the flow's ``DaskTaskRunner`` (see :func:`run`).

    A refused feed ends the flow run as Failed with the refusal as its message (no traceback) and
    raises the error to the caller."""
    from pipelines.cluster import PrefectDaskEngine
    from pipelines.engine import local_engine
    from pipelines.runtime import one_blas_thread

    cfg, project = _load_configs(Path(config_path))
    day = as_of or default_as_of(cfg.schedule.timezone)
    data, out = data_dir or cfg.data_dir, out_dir or cfg.out_dir
    on_dask = (engine or ("dask" if scheduler else project.compute.engine)) == "dask"
    with one_blas_thread():  # whoever calls the flow (run(), a notebook, a deployment)
        try:
            return run_nightly(
                day,
                data,
                out,
                cfg,
                project,
                raw,
                accept_feed,
                PrefectDaskEngine() if on_dask else local_engine(project.compute.local_processes),
                require_model,
            )
        except (FeedCheckError, DataQualityError) as exc:
            return Failed(message=str(exc), data=exc)  # type: ignore[return-value]


def run(
    as_of: dt.date | None = None,
    config_path: Path = Path("conf/nightly.yaml"),
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    raw: bool = False,
    accept_feed: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    require_model: bool = False,
) -> NightlyResult:
    """The nightly flow on the engine of the project config (``compute``) or of ``engine`` /
    ``scheduler``: ``dask`` runs it with prefect-dask's ``DaskTaskRunner`` (the scheduler address, or
    a fresh LocalCluster for this run), one task per debtor bucket. One BLAS thread while it runs,
    in the workers too (:func:`pipelines.runtime.one_blas_thread`: set before the task runner starts
    them; the flow itself pins it again for callers of :func:`nightly`)."""
    from pipelines.cluster import EngineSettings, task_runner
    from pipelines.runtime import one_blas_thread

    _, project = _load_configs(Path(config_path))
    settings = EngineSettings.from_config(project.compute, engine, scheduler)
    flow_fn = nightly
    if settings.kind == "dask":
        flow_fn = nightly.with_options(task_runner=task_runner(settings))
    with one_blas_thread():
        return flow_fn(
            as_of=as_of,
            config_path=config_path,
            data_dir=data_dir,
            out_dir=out_dir,
            raw=raw,
            accept_feed=accept_feed,
            engine=settings.kind,
            scheduler=settings.scheduler,
            require_model=require_model,
        )
