"""Ingest: read a source, coerce to the canonical contract, validate, quarantine, publish.

This module is the orchestrator (``ingest_source``; ``ingest_files`` / ``ingest_dir`` build the
source for files that already use the canonical column names). Steps per run, and where they live:

1. read every input and map it onto the canonical tables: :mod:`pipelines.ingest.sources` (renames,
   AR export split, UCI wide -> long; readers in ``pipelines/sources/``); table-level defects raise
   :class:`TableError`;
2. row rules: :mod:`pipelines.ingest.rules` parses cell texts into canonical dtypes (unparseable ->
   quarantine), runs each table's Great Expectations suite (``pipelines.validation``, generated from
   ``features/schema.py``) and the cross-table checks (unknown debtor / invoice, debtor mismatch,
   payments above the invoice); :mod:`pipelines.ingest.currency` converts amounts;
3. :mod:`pipelines.ingest.quarantine` turns the reason masks into quarantine rows;
   :mod:`pipelines.ingest.checks` adds table-level plausibility and warnings to the manifest;
4. :mod:`pipelines.ingest.outputs` writes ``<out>/<table>.parquet`` (accepted rows),
   ``<out>/quarantine/<table>.csv`` (every rejected row with its ``reason``), ``<out>/manifest.json``
   and ``<out>/data_docs/`` through a staging folder.

Nothing vanishes: for every table ``rows_in = rows_accepted + rows_quarantined``. Outputs depend only
on the inputs, the source config and the as-of date, so a re-run writes identical files.

Inputs of more than :data:`STREAM_ROWS` rows (or ``stream=True``) take the streamed path,
:mod:`pipelines.ingest.stream`: the same rule functions applied one input chunk and one debtor
partition at a time, so memory is bounded by the partition (``rules.bucket_rows``) and the chunk,
not by the book. It writes the same files, except the Great Expectations batch count
(``validation.chunks``) and the Data Docs pages; ``IngestResult.portfolio`` is then None.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schema import TABLES
from features.tables import Portfolio
from pipelines.adapters.files import conform, find_table_files, sha256_file
from pipelines.config import config_hash
from pipelines.config.project import CurrencyConfig
from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import decimals, workbooks
from pipelines.ingest.checks import (
    ar_open_items,
    ar_settlement_column,
    ar_undated_settlements,
    ar_warnings,
    refuse_empty_tables,
    staged_debtor_ids,
    table_warnings,
    unknown_debtor_warning,
    unknown_debtors,
)
from pipelines.ingest.currency import convert_currencies, currency_warnings
from pipelines.ingest.masks import passing
from pipelines.ingest.outputs import publish_outputs
from pipelines.ingest.quarantine import quarantine_frame, reason_counts, row_reasons
from pipelines.ingest.rules import OPTIONAL_VALUES, clear_optional, cross_table, within_table
from pipelines.ingest.sources import RawTable, input_paths, plan_loaders, slim
from pipelines.ingest.stream import DEFAULT_CHUNK_ROWS
from pipelines.sources.read import TableError
from pipelines.words import counted

__all__ = [
    "IngestResult",
    "IngestSettings",
    "TableError",
    "ingest_dir",
    "ingest_files",
    "ingest_source",
]

IngestSettings = RulesConfig
STREAM_ROWS = 5_000_000
"""Inputs with more rows than this (all tables together) are ingested streamed (bounded memory)."""
TABLE_ORDER: tuple[str, ...] = (
    "debtors",
    "invoices",
    "payments",
    "events",
    "statements",
    "payment_plans",
    "debtor_history",
)
MANIFEST_VERSION = 1
Progress = Callable[[str], None]


@dataclass
class IngestResult:
    """Accepted canonical tables, rejected rows (with ``reason``) and the run manifest.

    After a streamed ingest (large inputs), ``portfolio`` is None and ``quarantine`` empty: the
    tables are only in the output folder (``pipelines.adapters.files.read_portfolio``)."""

    portfolio: Portfolio | None
    quarantine: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    out_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (read, parse:<table>, gx:<table>, cross_table, write); not in the manifest,
    which must stay identical between re-runs."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per step of ``timings`` (user + system of this process and of the worker processes it
    has waited for: a streamed ingest's pool counts in the step that ends it); not in the manifest."""


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ---------------------------------------------------------------- public entry points


def ingest_files(
    files: dict[str, Path | str],
    out_dir: Path | str | None,
    *,
    as_of: dt.date | None = None,
    settings: RulesConfig | None = None,
    default_currency: str | None = None,
    currency: CurrencyConfig | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    keep_history: bool = False,
    sheets: str | dict[str, str] | None = None,
) -> IngestResult:
    """Ingest files that already use the canonical column names: ``{"invoices": path, ...}``.

    CSV (comma, UTF-8, ISO dates, ``.`` decimals), Parquet or an Excel workbook (.xlsx: ``sheets``
    names its sheet, one name or one per table; default its only sheet with data), chosen by suffix.
    ``out_dir=None`` validates in memory without writing anything.
    """
    unknown = sorted(set(files) - set(TABLES))
    if unknown:
        raise ValueError(
            f"{counted(len(unknown), 'unknown table name')} {unknown}; expected some of {list(TABLES)}"
        )
    source = SourceConfig(
        name="files",
        default_currency=default_currency,
        rules=settings or RulesConfig(),
        tables={t: FileSource(path=Path(p)) for t, p in files.items()},
    )
    return ingest_source(
        source,
        out_dir,
        as_of=as_of,
        currency=currency,
        progress=progress,
        workers=workers,
        keep_history=keep_history,
        sheets=sheets,
    )


def ingest_dir(
    data_dir: Path | str,
    out_dir: Path | str | None,
    *,
    as_of: dt.date | None = None,
    settings: RulesConfig | None = None,
    currency: CurrencyConfig | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest a data dir holding canonical files (``invoices.parquet`` or ``invoices.csv``, ...)."""
    files = find_table_files(data_dir)
    if not files:
        raise TableError(
            f"{data_dir}: no canonical files found; expected invoices/payments/debtors/events/statements "
            ".parquet or .csv (e.g. from `ews generate` or `ews ingest --out`)"
        )
    return ingest_files(files, out_dir, as_of=as_of, settings=settings, currency=currency, progress=progress)


def _one_ingest_per_folder(fn: Callable[..., IngestResult]) -> Callable[..., IngestResult]:
    """Run ``fn(source, out_dir, ...)`` holding ``OUT/.ingest.lock`` when it writes (one ingest per
    folder at a time; what a killed ingest left is put right first), with each Excel workbook read
    as a CSV of its sheet (``sheets``: :func:`pipelines.ingest.workbooks.workbooks_as_csv`)."""

    @functools.wraps(fn)
    def locked(
        source: SourceConfig,
        out_dir: Path | str | None,
        sheets: str | dict[str, str] | None = None,
        **options: Any,
    ) -> IngestResult:
        from pipelines.ingest.workbooks import workbooks_as_csv

        if out_dir is None:
            with workbooks_as_csv(source, sheets) as readable:
                return fn(readable, None, **options)
        from pipelines.adapters.publish import check_ingest_out, ingest_lock

        check_ingest_out(Path(out_dir), input_paths(source))  # before creating anything
        with ingest_lock(Path(out_dir)), workbooks_as_csv(source, sheets) as readable:
            return fn(readable, out_dir, **options)

    return locked


@_one_ingest_per_folder
def ingest_source(
    source: SourceConfig,
    out_dir: Path | str | None,
    *,
    as_of: dt.date | None = None,
    currency: CurrencyConfig | None = None,
    progress: Progress | None = None,
    stream: bool | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    partitions: int | None = None,
    workers: int | None = None,
    keep_history: bool = False,
) -> IngestResult:
    """Ingest a mapped source (``kind: source`` config). See the module docstring for the steps.

    ``as_of`` bounds the dates (later dates are quarantined); default: today (UTC), or the export's end
    for an old export written to ``out_dir`` (:func:`pipelines.ingest.staged.export_as_of`).
    ``currency`` (the project's ``currency`` block) converts amounts into the reporting currency.
    Raises :class:`TableError` on table-level defects.

    ``stream``: validate in bounded memory, one chunk of ``chunk_rows`` input rows and one debtor
    partition at a time (:mod:`pipelines.ingest.stream`; needs ``out_dir``). Default: when the
    inputs hold more than :data:`STREAM_ROWS` rows. ``partitions``: debtor partitions of the
    spill (default: the bucket count of the whole input). The outputs are the same either way,
    except the Great Expectations batch count and the Data Docs pages. ``workers``: processes
    that validate and finish the partitions of a streamed ingest (the project's
    ``compute.ingest_workers``; default ``min(2, CPUs)``; one process when Data Docs are built:
    they come from one Great Expectations context); the outputs are the same bytes for any count.
    ``keep_history``: merge today's accepted rows into the tables ``out_dir`` already holds
    (:mod:`pipelines.ingest.history`: a rolling export keeps the history seen before it).
    """
    say = progress or (lambda _msg: None)
    as_of_date = as_of or dt.datetime.now(dt.UTC).date()
    as_of_from = "--as-of" if as_of is not None else "today"  # staged.export_as_of may read the export's end
    rules = source.rules
    out = Path(out_dir) if out_dir is not None else None
    stage = None
    if out is not None:
        from pipelines.adapters.publish import check_ingest_out, ingest_staging

        check_ingest_out(out, input_paths(source))  # before any work
        if not keep_history:
            from pipelines.ingest.history import refuse_replacing_history

            refuse_replacing_history(out)
        stage = ingest_staging(out)

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    clock, cpu_clock = time.perf_counter(), _cpu_seconds()

    def lap(step: str) -> None:
        nonlocal clock, cpu_clock
        now, used = time.perf_counter(), _cpu_seconds()
        timings[step] = timings.get(step, 0.0) + now - clock
        cpu[step] = cpu.get(step, 0.0) + used - cpu_clock
        clock, cpu_clock = now, used

    say("checking inputs")
    loaders, block_of = plan_loaders(source)  # table-level checks of every file before any heavy work
    base = None
    if keep_history:
        from pipelines.ingest.history import base_of

        if out is None:
            raise ValueError("keep_history needs an output folder (the history is the folder's tables)")
        base = base_of(out, as_of_date)  # refuses an earlier as-of before any heavy work
        if base is not None:  # an optional column the history holds, gone from today's export
            from pipelines.ingest.history import refuse_lost_columns
            from pipelines.ingest.sources import given_columns

            refuse_lost_columns(
                base[0],
                given_columns(source),
                out,
                {t: str(workbooks.read_from(spec.path)) for t, spec in source.tables.items()},
                source.default_currency,
            )
    lap("preflight")

    from pipelines.validation import Validator

    validator = Validator(
        expectations_dir=rules.expectations_dir,
        docs_dir=(stage / "data_docs") if (stage is not None and rules.data_docs) else None,
        chunk_rows=rules.gx_chunk_rows,
        run_time=dt.datetime.combine(as_of_date, dt.time(), tzinfo=dt.UTC),
    )
    params = {
        "as_of": pd.Timestamp(as_of_date),
        "min_date": pd.Timestamp(rules.min_date),
        "max_date": pd.Timestamp(rules.max_date),
    }
    lap("gx_setup")
    if out is not None and stage is not None:
        from pipelines.ingest.sources import estimated_rows
        from pipelines.ingest.stream import default_workers, spill_partitions

        estimate = estimated_rows(source)
        if stream or (stream is None and sum(estimate.values()) > STREAM_ROWS):
            parts = partitions or spill_partitions(source, estimate)
            if base is not None:  # the history's buckets are whole partitions (ingest.history_stream)
                from pipelines.ingest.history_stream import partitions_for

                parts = partitions_for(base[0], parts)
            return _ingest_streamed(
                source,
                out,
                stage,
                validator,
                params,
                as_of_date,
                currency or CurrencyConfig(),
                chunk_rows,
                parts,
                say,
                lap,
                timings,
                cpu,
                1 if validator.docs_dir is not None else (workers or default_workers()),
                keep_history,
                base,
                as_of_from,
            )
    history = None
    if keep_history and base is not None:
        from pipelines.ingest.history import load_history

        history = load_history(out, as_of_date)

    # Tables are read one block at a time and slimmed after their own checks (only the raw values
    # of rejected rows are kept), so memory holds one raw file at a time.
    raws: dict[str, RawTable] = {}
    inputs: dict[str, str] = {}
    typed: dict[str, pd.DataFrame] = {}
    masks: dict[str, dict[str, np.ndarray]] = {}
    validation: dict[str, dict[str, Any]] = {}
    cleared: dict[str, dict[str, Any]] = {}
    currencies: set[str] | None = None  # the invoices' (a payment without a currency is in its invoice's)
    lookup: decimals.CurrencyLookup | None = None  # the invoices' classes by id, in a mixed book

    def read(table: str) -> None:
        say(f"reading {table}")
        block = loaders[block_of[table]]()
        raws.update(block)
        for raw in block.values():
            for path in [raw.file, *(p.path for p in raw.parts or [])]:
                inputs.setdefault(str(path), sha256_file(workbooks.read_from(path)))
        lap("read")

    for table in TABLE_ORDER:
        if table not in block_of:
            continue
        if table not in raws:
            read(table)
        tallied = decimals.tally(raws[table], source.default_currency)
        if (
            table != "invoices"
            and "invoices" in block_of
            and "invoices" not in raws
            and decimals.unknown_shaped(tallied)
        ):
            # the debtors' amounts like 1.500 without a currency are in the invoices' (a dinar book's
            # 5.000 is five): read the invoices now, as the streamed ingest knows them before any check
            read("invoices")
        if currencies is None and "invoices" in raws:  # read, not yet checked
            currencies = decimals.currency_set(
                [raws["invoices"].frame["currency"]] if "currency" in raws["invoices"].frame else [],
                source.default_currency,
            )
        if table == "payments" and lookup is not None:  # by invoice / debtor in a EUR / KWD book
            tallied = decimals.tally(raws[table], source.default_currency, lookup)
        found = decimals.suspects(table, tallied, currencies or set())
        raws[table] = decimals.flagged(
            raws[table],
            found,
            source.default_currency,
            currencies or set(),
            decimals.payment_lookup(table, lookup),
        )
        if table == "invoices" and decimals.mixed(currencies or set()):
            lookup = decimals.currency_lookup([raws[table].frame], source.default_currency)
        say(f"validating {table}")
        typed[table], masks[table], validation[table] = within_table(
            raws[table], validator, params, source.default_currency, lap, rules
        )
        if table in OPTIONAL_VALUES or table == "invoices":
            clear = rules.optional_attributes == "clear"
            typed[table], cleared[table] = clear_optional(typed[table], masks[table], raws[table], clear)
        raws[table] = slim(raws[table], masks[table])
    fx, fx_manifest = convert_currencies(
        typed, masks, source.default_currency, currency or CurrencyConfig(), rules
    )
    lap("currency")
    say("cross-table checks")
    cross_table(typed, masks, rules, {t: r.malformed for t, r in raws.items() if r.malformed is not None})
    readmitted: dict[str, int] = {}
    if keep_history:
        from pipelines.ingest.history import readmit

        readmitted = readmit(history, typed, masks)  # references the history resolves
    lap("cross_table")

    accepted: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    quarantined_rows: dict[str, pd.DataFrame] = {}  # --keep-history: their keys (history.merge_part)
    tables_manifest: dict[str, Any] = {}
    for table in typed:
        raw = raws[table]
        reasons = row_reasons(masks[table], len(typed[table]))
        ok = reasons.isna().to_numpy()
        accepted[table] = conform(typed[table].loc[ok], table)
        quarantine[table] = quarantine_frame(raw, typed[table], reasons, ~ok)
        if keep_history:
            from pipelines.ingest.history import quarantined_keys

            keys = quarantined_keys(table, typed[table], masks[table])
            if keys is not None:
                quarantined_rows[table] = keys
        counts = reason_counts(quarantine[table]["reason"])
        tables_manifest[table] = table_entry(
            table,
            raw,
            inputs,
            int(ok.sum()),
            int(len(quarantine[table])),
            counts,
            {
                c: {k: v for k, v in e.items() if k != "example_rows"}
                for c, e in cleared.get(table, {}).items()
            },
            validation[table],
            quarantine[table]["source_file"].value_counts().to_dict() if raw.parts else None,
        )

    lap("assemble")
    refuse_empty_tables(tables_manifest, source, _lookalikes(tables_manifest, accepted, quarantine))
    open_items = ar_open_items(accepted, as_of_date) if source.ar_export is not None else None
    manifest = ingest_manifest(
        source, as_of_date, rules, inputs, tables_manifest, fx_manifest, open_items, as_of_from
    )
    manifest["warnings"] += unknown_debtor_warning(
        unknown_debtors(typed, masks),
        tables_manifest.get("invoices", {}).get("rows_accepted", 0),
        source.default_currency,
        _debtor_ids(accepted),
    )
    fx = {
        t: f.loc[passing(masks[t], len(typed[t]))[f.index.to_numpy()]].reset_index(drop=True)
        for t, f in fx.items()
    }
    if out is not None and stage is not None:
        say("writing outputs")
        try:
            published = accepted
            if keep_history:  # refused (another ledger, too much removed): nothing written
                from pipelines.ingest.history import merge

                published, manifest["history"], told = merge(
                    history, accepted, as_of_date, out, quarantined_rows, _input_of(manifest, "invoices")
                )
                manifest["history"]["readmitted"] = readmitted
                manifest["warnings"] += told
            publish_outputs(out, stage, published, quarantine, manifest, validator, fx, history)
        finally:
            shutil.rmtree(stage, ignore_errors=True)  # gone after success; cleaned after a failure
    lap("write")
    return IngestResult(Portfolio(**accepted), quarantine, manifest, out, timings, cpu)


def _debtor_ids(accepted: dict[str, pd.DataFrame]) -> Any:
    """The accepted debtors table's distinct ids (a pyarrow array), or None without the table."""
    import pyarrow as pa

    debtors = accepted.get("debtors")
    return (
        None if debtors is None else pa.array(debtors["debtor_id"].dropna().astype(str).unique(), pa.string())
    )


def _input_of(manifest: dict[str, Any], table: str) -> str | None:
    """The input of ``table`` as the manifest shows it (a file, or a sheet of a workbook), or None."""
    entry = manifest.get("tables", {}).get(table) or {}
    if not entry.get("input"):
        return None
    return f"{entry['input']}, sheet {entry['sheet']}" if entry.get("sheet") else str(entry["input"])


def _lookalikes(
    tables: dict[str, Any], accepted: dict[str, pd.DataFrame], quarantine: dict[str, pd.DataFrame]
) -> dict[str, list[tuple[str, str]]]:
    """For a table about to be refused with every row ``unknown_debtor``: its ids that are ids of
    the debtors table spelled another way (``00123`` for ``123``; :func:`checks.lookalike_ids`)."""
    import pyarrow as pa

    from pipelines.ingest.checks import lookalike_ids

    debtors = accepted.get("debtors")
    if debtors is None or debtors.empty:
        return {}
    known = pa.array(debtors["debtor_id"].astype(str).unique(), pa.string())
    out = {}
    for name, t in tables.items():
        if (
            name != "debtors"
            and t["rows_in"]
            and not t["rows_accepted"]
            and t["reasons"].get("unknown_debtor")
        ):
            q = quarantine[name]
            unknown = q.loc[q["reason"].str.contains("unknown_debtor", regex=False), "debtor_id"]
            out[name] = lookalike_ids(unknown.dropna(), known)
    return out


def _ingest_streamed(
    source: SourceConfig,
    out: Path,
    stage: Path,
    validator: Any,
    params: dict[str, Any],
    as_of_date: dt.date,
    currency: CurrencyConfig,
    chunk_rows: int,
    partitions: int,
    say: Progress,
    lap: Callable[[str], None],
    timings: dict[str, float],
    cpu: dict[str, float],
    workers: int,
    keep_history: bool = False,
    base: tuple[Path, dt.date] | None = None,
    as_of_from: str = "--as-of",
) -> IngestResult:
    """:func:`ingest_source` in bounded memory (:mod:`pipelines.ingest.stream`); same outputs.
    ``keep_history``: today's accepted rows merged into the history in ``base`` one debtor
    partition at a time (:mod:`pipelines.ingest.history_stream`)."""
    from pipelines.ingest.stream import publish_streamed, run_streamed

    rules = source.rules
    run = None
    try:
        states, fx_manifest, open_items, run = run_streamed(
            source,
            out,
            stage,
            order=TABLE_ORDER,
            validator=validator,
            params=params,
            as_of=as_of_date,
            currency=currency,
            chunk_rows=chunk_rows,
            partitions=partitions,
            say=say,
            lap=lap,
            workers=workers,
            history=base,
        )
        inputs: dict[str, str] = {}
        for state in states.values():
            for path in [state.first.file, *(p.path for p in state.first.parts or [])]:
                inputs.setdefault(str(path), sha256_file(workbooks.read_from(path)))
        tables_manifest: dict[str, Any] = {}
        for table, state in states.items():
            raw = state.first
            tables_manifest[table] = table_entry(
                table,
                raw,
                inputs,
                state.accepted,
                state.quarantined,
                dict(sorted(state.reasons.items())),
                state.values_cleared(),
                state.validation,
                dict(state.by_file) if raw.parts else None,
            )
        lap("assemble")
        refuse_empty_tables(tables_manifest, source)
        manifest = ingest_manifest(
            source, as_of_date, rules, inputs, tables_manifest, fx_manifest, open_items, as_of_from
        )
        manifest["warnings"] += unknown_debtor_warning(
            pd.concat(run.unknown) if run.unknown else None,
            tables_manifest.get("invoices", {}).get("rows_accepted", 0),
            source.default_currency,
            staged_debtor_ids(stage) if run.unknown else None,  # today's accepted, before any merge
        )
        merged = None
        if keep_history:
            say("merging into the history")
            if base is None:
                rows = {t: s.accepted for t, s in states.items()}
                dated = None
                if "debtors" in states:  # the first night dates every debtor's attributes
                    from pipelines.ingest.history_stream import derive_streamed

                    dated = derive_streamed(
                        stage, run.partitions, as_of_date, run.merge_steps, "debtor_history" in states
                    )
                if dated is not None:
                    rows["debtor_history"] = dated[1]
                    merged = rows  # the stage's partitions may hold a table the input had not
                counts = {
                    t: {"kept": 0, "replaced": 0, "added": n, "removed": 0, "rows": n}
                    for t, n in sorted(rows.items())
                }
                if dated is not None:
                    counts["debtor_history"]["derived"] = dated[0]
                manifest["history"] = {"base_as_of": None, "tables": counts}
            else:
                from pipelines.ingest.history_stream import merge_streamed

                manifest["history"], told, merged = merge_streamed(
                    base,
                    stage,
                    list(states),
                    run.partitions,
                    as_of_date,
                    out,
                    run.merge_steps,
                    judged=run.foreign_settled(),
                    quarantined=run.quarantined,
                    source=_input_of(manifest, "invoices"),
                )
                manifest["warnings"] += told
            manifest["history"]["readmitted"] = {
                t: run.readmitted[t] for t in TABLE_ORDER if t in run.readmitted
            }
            lap("merge")
        say("writing outputs")
        publish_streamed(run, out, manifest, rules.bucket_rows, merged, base[0] if base is not None else None)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if run is not None:
            run.close()
    lap("write")
    return IngestResult(None, {}, manifest, out, timings, cpu)


def ingest_manifest(
    source: Any,
    as_of_date: Any,
    rules: Any,
    inputs: dict[str, Any],
    tables_manifest: dict[str, Any],
    fx_manifest: dict[str, Any],
    open_items: dict[str, Any] | None,
    as_of_from: str = "--as-of",
) -> dict[str, Any]:
    """The ingest manifest (one shape for the in-memory and the streamed path). ``as_of_from``: where
    the as-of date came from: ``--as-of``, ``today`` (the default), or ``export_end``
    (:func:`pipelines.ingest.staged.export_as_of`)."""
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "source": {"name": source.name, "config_hash": config_hash(workbooks.as_given(source))},
        "as_of": as_of_date.isoformat(),
        "as_of_from": as_of_from,
        "rules": rules.model_dump(mode="json"),
        "inputs": dict(sorted((workbooks.shown(k), v) for k, v in inputs.items())),
        "tables": tables_manifest,
        "currency": fx_manifest,
        "warnings": currency_warnings(fx_manifest, tables_manifest)
        + table_warnings(tables_manifest)
        + ar_warnings(open_items, rules, source)
        + ar_undated_settlements(tables_manifest, source),
    }
    if workbooks.notes():  # hidden rows or merged ranges of an Excel workbook read (ingest.workbooks)
        manifest["notes"] = workbooks.notes()
    if open_items is not None:  # the column, to count again at an old export's end (staged.export_as_of)
        manifest["ar_export"] = {**open_items, "settlement_column": ar_settlement_column(source)}
    return manifest


def table_entry(
    table: str,
    raw: Any,
    inputs: dict[str, str],
    accepted: int,
    quarantined: int,
    reasons: dict[str, int],
    values_cleared: dict[str, Any],
    validation: Any,
    quarantined_by_file: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The manifest entry of one table; rows in = accepted + quarantined, or the ingest stops. A table
    read from several files (``more_files``) also gets ``files``: per file its rows read, in, accepted,
    quarantined and filtered (``quarantined_by_file``: the quarantined rows per file)."""
    entry = {
        "input": workbooks.shown(raw.file),
        **({"sheet": workbooks.sheet_of(raw.file)} if workbooks.sheet_of(raw.file) else {}),
        "input_sha256": inputs[str(raw.file)],
        "columns": raw.column_map,
        "ignored_columns": raw.ignored_columns,
        "rows_in": raw.rows_in,
        "rows_accepted": accepted,
        "rows_quarantined": quarantined,
        "reasons": reasons,
        "values_cleared": values_cleared,
        "repairs": raw.repairs,
        "validation": validation,
    }
    malformed = getattr(raw, "malformed", None)
    if malformed is not None and len(malformed) and (malformed["reason"] == "cut_last_line").any():
        cut = malformed.loc[malformed["reason"] == "cut_last_line"].iloc[0]  # the file's last record
        entry["cut_last_line"] = {"source_row": int(cut["source_row"]), "detail": str(cut["detail"])}
    if raw.filtered is not None:  # the input's row options left rows out: rows read = in + filtered
        # a payment split over the invoices its clearing cleared is one row read, several rows in
        added = (getattr(raw, "clearing", None) or {}).get("pieces_added", 0)
        added += (getattr(raw, "applied", None) or {}).get("pieces_added", 0)
        entry["rows_read"] = raw.rows_in - added + sum(raw.filtered.values())
        entry["rows_filtered"] = sum(raw.filtered.values())
        entry["filtered"] = raw.filtered
    if raw.negate_amount:  # the input's amounts were read with their sign reversed
        entry["amount_negated"] = True
    if getattr(raw, "clearing", None):  # tables.payments.clearing: the join's counts
        entry["clearing"] = raw.clearing
    if getattr(raw, "applied", None):  # tables.payments.applied_amount: the split's counts
        entry["applied"] = raw.applied
    if getattr(raw, "decimal_suspects", None):  # amounts like 1.500 under decimal '.' (ingest.decimals)
        entry["thousands_as_decimal"] = raw.decimal_suspects
    if getattr(raw, "values", None) is not None:
        entry["values"] = notation(raw.values)
    if getattr(raw, "parts", None):
        entry["files"] = _file_entries(raw, inputs, quarantined_by_file or {})
    if raw.rows_in != accepted + quarantined:  # pragma: no cover - invariant
        raise AssertionError(f"{table}: rows lost in ingest ({entry})")
    return entry


def notation(values: Any) -> dict[str, Any]:
    """The notation the amounts were read in (``values.decimal`` / ``thousands`` of the source config,
    and ``thousands_grouping`` when not by thousands), for the manifest: the nightly reads the
    quarantine's amounts, as the file wrote them, in it (before session 33 it guessed the notation from
    the quarantined rows alone, and a quarantine of ``1.500``-style amounts only read "amount unread")."""
    out = {"decimal": values.decimal, "thousands": values.thousands}
    if values.thousands_grouping != "thousands":
        out["thousands_grouping"] = values.thousands_grouping
    return out


def _file_entries(raw: Any, inputs: dict[str, str], quarantined: dict[str, int]) -> list[dict[str, Any]]:
    """``more_files``: one manifest entry per file of a table (its key in the config, the file, its
    hash, columns, rows read = in + filtered, in = accepted + quarantined)."""
    out = []
    for part in raw.parts:
        q = int(quarantined.get(workbooks.shown(part.path), 0))
        item: dict[str, Any] = {
            "key": part.label,
            "input": workbooks.shown(part.path),
            **({"sheet": workbooks.sheet_of(part.path)} if workbooks.sheet_of(part.path) else {}),
            "input_sha256": inputs[str(part.path)],
            "columns": part.column_map,
            "ignored_columns": part.ignored_columns,
            "rows_in": part.rows_in,
            "rows_accepted": part.rows_in - q,
            "rows_quarantined": q,
            "repairs": part.repairs,
        }
        if part.filtered is not None:
            item["rows_read"] = part.rows_in + sum(part.filtered.values())
            item["filtered"] = part.filtered
        if part.negate_amount:
            item["amount_negated"] = True
        item["values"] = notation(part.values)
        out.append(item)
    return out
