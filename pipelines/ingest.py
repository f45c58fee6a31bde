"""Ingest: read a source, coerce to the canonical contract, validate, quarantine, publish.

Steps per run (``ingest_source``; ``ingest_files`` / ``ingest_dir`` build the source for files that
already use the canonical column names):

1. read every input (``pipelines.sources.read``); table-level defects raise :class:`TableError`;
2. map columns onto the canonical tables (renames, AR export split, UCI wide -> long);
3. parse cell texts into canonical dtypes (dates, numbers, booleans); unparseable -> quarantine;
4. run the stored Great Expectations suite of each table (``pipelines.validation``);
5. cross-table checks: unknown debtor / invoice, debtor mismatch, payments above the invoice;
6. write ``<out>/<table>.parquet`` (accepted rows), ``<out>/quarantine/<table>.csv`` (every
   rejected row with its ``reason``), ``<out>/manifest.json`` and ``<out>/data_docs/``.

Nothing vanishes: for every table ``rows_in = rows_accepted + rows_quarantined``. Outputs depend only
on the inputs, the source config and the as-of date, so a re-run writes identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schema import TABLES
from features.tables import Portfolio
from pipelines.adapters.files import (
    conform,
    find_table_files,
    output_errors,
    sha256_file,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from pipelines.config import config_hash
from pipelines.config.project import CurrencyConfig
from pipelines.config.source import ARExportSource, FileSource, RulesConfig, SourceConfig, ValueOptions
from pipelines.sources.ar_export import split_ar_export
from pipelines.sources.parse import parse_bools, parse_dates, parse_numbers, parse_text
from pipelines.sources.read import TableError, preflight, read_file
from pipelines.sources.uci import REQUIRED as UCI_REQUIRED
from pipelines.sources.uci import read_uci

__all__ = [
    "IngestResult",
    "IngestSettings",
    "TableError",
    "ingest_dir",
    "ingest_files",
    "ingest_source",
]

IngestSettings = RulesConfig
TABLE_ORDER: tuple[str, ...] = ("debtors", "invoices", "payments", "events", "statements")
MANIFEST_VERSION = 1
Progress = Callable[[str], None]


@dataclass
class IngestResult:
    """Accepted canonical tables, rejected rows (with ``reason``) and the run manifest."""

    portfolio: Portfolio
    quarantine: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    out_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (read, parse:<table>, gx:<table>, cross_table, write); not in the manifest,
    which must stay identical between re-runs."""


@dataclass
class _Raw:
    """One canonical table before parsing: raw values under canonical column names."""

    table: str
    frame: pd.DataFrame
    source_row: np.ndarray
    file: Path
    values: ValueOptions
    malformed: pd.DataFrame | None = None
    ignored_columns: list[str] = field(default_factory=list)
    pre_bad: dict[str, np.ndarray] = field(default_factory=dict)
    column_map: dict[str, str] = field(default_factory=dict)
    kept: np.ndarray | None = None  # after slimming: the row positions whose raw values are kept
    rows_in: int = 0
    source_line: np.ndarray | None = None  # physical line of each row's record (CSV), else None
    repairs: dict[str, int] = field(default_factory=dict)


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
) -> IngestResult:
    """Ingest files that already use the canonical column names: ``{"invoices": path, ...}``.

    CSV (comma, UTF-8, ISO dates, ``.`` decimals) or Parquet, chosen by suffix. ``out_dir=None``
    validates in memory without writing anything.
    """
    unknown = sorted(set(files) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table name(s) {unknown}; expected some of {list(TABLES)}")
    source = SourceConfig(
        name="files",
        default_currency=default_currency,
        rules=settings or RulesConfig(),
        tables={t: FileSource(path=Path(p)) for t, p in files.items()},
    )
    return ingest_source(source, out_dir, as_of=as_of, currency=currency, progress=progress)


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


def ingest_source(
    source: SourceConfig,
    out_dir: Path | str | None,
    *,
    as_of: dt.date | None = None,
    currency: CurrencyConfig | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest a mapped source (``kind: source`` config). See the module docstring for the steps.

    ``as_of`` bounds the dates (later dates are quarantined); default: today (UTC).
    ``currency`` (the project's ``currency`` block) converts amounts into the reporting currency.
    Raises :class:`TableError` on table-level defects.
    """
    say = progress or (lambda _msg: None)
    as_of_date = as_of or dt.datetime.now(dt.UTC).date()
    rules = source.rules
    out = Path(out_dir) if out_dir is not None else None
    stage = None
    if out is not None:
        from pipelines.adapters.publish import check_ingest_out, ingest_staging

        check_ingest_out(out, _input_paths(source))  # before any work
        stage = ingest_staging(out)

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = timings.get(step, 0.0) + now - clock
        clock = now

    say("checking inputs")
    loaders, block_of = _plan(source)  # table-level checks of every file before any heavy work
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

    # Tables are read one block at a time and slimmed after their own checks (only the raw values
    # of rejected rows are kept), so memory holds one raw file at a time.
    raws: dict[str, _Raw] = {}
    inputs: dict[str, str] = {}
    typed: dict[str, pd.DataFrame] = {}
    masks: dict[str, dict[str, np.ndarray]] = {}
    validation: dict[str, dict[str, Any]] = {}
    cleared: dict[str, dict[str, Any]] = {}
    for table in TABLE_ORDER:
        if table not in block_of:
            continue
        if table not in raws:
            say(f"reading {table}")
            block = loaders[block_of[table]]()
            raws.update(block)
            for raw in block.values():
                inputs.setdefault(str(raw.file), sha256_file(raw.file))
            lap("read")
        say(f"validating {table}")
        typed[table], masks[table], validation[table] = _within_table(
            raws[table], validator, params, source.default_currency, lap, rules
        )
        if table == "debtors" and rules.optional_attributes == "clear":
            typed[table], cleared[table] = _clear_optional(typed[table], masks[table], raws[table])
        raws[table] = _slim(raws[table], masks[table])
    fx, fx_manifest = _convert_currencies(
        typed, masks, source.default_currency, currency or CurrencyConfig(), rules
    )
    lap("currency")
    say("cross-table checks")
    _cross_table(typed, masks, rules, {t: r.malformed for t, r in raws.items() if r.malformed is not None})
    lap("cross_table")

    accepted: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    tables_manifest: dict[str, Any] = {}
    for table in typed:
        raw = raws[table]
        reasons = _reasons(masks[table], len(typed[table]))
        ok = reasons.isna().to_numpy()
        accepted[table] = conform(typed[table].loc[ok], table)
        quarantine[table] = _quarantine_frame(raw, typed[table], reasons, ~ok)
        counts = _reason_counts(quarantine[table]["reason"])
        tables_manifest[table] = {
            "input": str(raw.file),
            "input_sha256": inputs[str(raw.file)],
            "columns": raw.column_map,
            "ignored_columns": raw.ignored_columns,
            "rows_in": raw.rows_in,
            "rows_accepted": int(ok.sum()),
            "rows_quarantined": int(len(quarantine[table])),
            "reasons": counts,
            "values_cleared": cleared.get(table, {}),
            "repairs": raw.repairs,
            "validation": validation[table],
        }
        t = tables_manifest[table]
        if t["rows_in"] != t["rows_accepted"] + t["rows_quarantined"]:  # pragma: no cover - invariant
            raise AssertionError(f"{table}: rows lost in ingest ({t})")

    lap("assemble")
    _refuse_empty_tables(tables_manifest, source)
    open_items = _ar_open_items(accepted, as_of_date) if source.ar_export is not None else None
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "source": {"name": source.name, "config_hash": config_hash(source)},
        "as_of": as_of_date.isoformat(),
        "rules": rules.model_dump(mode="json"),
        "inputs": dict(sorted(inputs.items())),
        "tables": tables_manifest,
        "currency": fx_manifest,
        "warnings": _currency_warnings(fx_manifest, tables_manifest)
        + _warnings(tables_manifest)
        + _ar_warnings(open_items, rules, source),
    }
    if open_items is not None:
        manifest["ar_export"] = open_items
    fx = {
        t: f.loc[_ok(masks[t], len(typed[t]))[f.index.to_numpy()]].reset_index(drop=True)
        for t, f in fx.items()
    }
    if out is not None and stage is not None:
        say("writing outputs")
        try:
            _publish(out, stage, accepted, quarantine, manifest, validator, fx)
        finally:
            shutil.rmtree(stage, ignore_errors=True)  # gone after success; cleaned after a failure
    lap("write")
    return IngestResult(Portfolio(**accepted), quarantine, manifest, out, timings)


# ---------------------------------------------------------------- loading + mapping


def _resolve_columns(
    present: list[str], table: str, mapping: dict[str, str], label: str, path: Path
) -> dict[str, str]:
    """canonical -> file column for ``table``; raises TableError on a missing mapped/required column."""
    spec = TABLES[table]
    rename: dict[str, str] = {}
    for canonical in spec.names:
        src = mapping.get(canonical, canonical)
        if src in present:
            rename[canonical] = src
        elif canonical in mapping:
            raise TableError(
                f"{label}: {path} has no column {src!r} (mapped to {table}.{canonical} in the source "
                f"config). Columns in the file: {present}. Fix the mapping under columns."
            )
    missing = [c for c in spec.required if c not in rename]
    if missing:
        raise TableError(
            f"{label}: {path} is missing required column(s) {missing} for table {table}. Columns in the "
            f"file: {present}. Fix: add them to the file, or map them in a source config "
            f"(tables.{table}.columns: {{{missing[0]}: <your column name>}})."
        )
    return rename


def _ar_columns(present: list[str], spec: ARExportSource, path: Path) -> dict[str, str]:
    """canonical -> file column for an AR export; raises TableError naming a missing column."""
    wanted = {**spec.columns}
    for canonical in TABLES["invoices"].required:
        wanted.setdefault(canonical, canonical)
    needed = {f"columns.{k}": v for k, v in wanted.items()}
    if spec.settled_on:
        needed["settled_on"] = spec.settled_on
    if spec.settled_amount:
        needed["settled_amount"] = spec.settled_amount
    for key, col in needed.items():
        if col not in present:
            raise TableError(
                f"ar_export: {path} has no column {col!r} (ar_export.{key} in the source config). "
                f"Columns in the file: {present}. Fix the mapping."
            )
    for canonical in ("currency", "disputed"):
        if canonical not in wanted and canonical in present:
            wanted[canonical] = canonical
    return wanted


Loader = Callable[[], dict[str, _Raw]]


def _plan(source: SourceConfig) -> tuple[dict[str, Loader], dict[str, str]]:
    """Check every input's header now; return a loader per input block and the block of each table."""
    loaders: dict[str, Loader] = {}
    block_of: dict[str, str] = {}
    for table, spec in source.tables.items():
        csv_opts, values = source.options_for(spec)
        label = f"tables.{table}" if source.name != "files" else table
        present = preflight(spec.path, spec.file_format(), csv_opts, label)
        rename = _resolve_columns(present, table, spec.columns, label, spec.path)
        loaders[f"tables.{table}"] = _table_loader(table, spec, csv_opts, values, label, rename, present)
        block_of[table] = f"tables.{table}"
    if source.ar_export is not None:
        spec = source.ar_export
        csv_opts, values = source.options_for(spec)
        present = preflight(spec.path, spec.file_format(), csv_opts, "ar_export")
        wanted = _ar_columns(present, spec, spec.path)
        loaders["ar_export"] = _ar_loader(spec, csv_opts, values, wanted, present)
        tables = ["invoices", "payments"]
        if "debtor_id" in wanted and set(wanted) & (set(TABLES["debtors"].names) - {"debtor_id"}):
            tables.append("debtors")
        block_of.update({t: "ar_export" for t in tables})
    if source.uci_wide is not None:
        path = Path(source.uci_wide.path)
        present = preflight(path, "csv", source.csv, "uci_wide")
        missing = [c for c in UCI_REQUIRED if c not in present]
        if missing:
            raise TableError(
                f"uci_wide: {path} lacks column(s) {missing}; expected the layout of uci_credit_card.csv "
                "(ID, LIMIT_BAL, PAY_0, PAY_2..PAY_6, BILL_AMT1..6, PAY_AMT1..6)."
            )
        loaders["uci_wide"] = lambda: _load_uci(source)
        block_of.update({"statements": "uci_wide", "debtors": "uci_wide"})
    return loaders, block_of


def _table_loader(
    table: str,
    spec: FileSource,
    csv_opts: Any,
    values: ValueOptions,
    label: str,
    rename: dict[str, str],
    present: list[str],
) -> Loader:
    def load() -> dict[str, _Raw]:
        raw = read_file(spec.path, spec.file_format(), csv_opts, label)
        frame = raw.frame
        used = set(rename.values())
        return {
            table: _Raw(
                table=table,
                frame=pd.DataFrame({c: frame[src].reset_index(drop=True) for c, src in rename.items()}),
                source_row=raw.source_row,
                file=raw.path,
                values=values,
                malformed=_canonical_malformed(raw.malformed, rename),
                ignored_columns=[c for c in present if c not in used],
                column_map={c: src for c, src in rename.items() if c != src},
                rows_in=raw.rows_in,
                source_line=raw.source_line,
                repairs=raw.repairs,
            )
        }

    return load


def _ar_loader(
    spec: ARExportSource, csv_opts: Any, values: ValueOptions, wanted: dict[str, str], present: list[str]
) -> Loader:
    def load() -> dict[str, _Raw]:
        raw = read_file(spec.path, spec.file_format(), csv_opts, "ar_export")
        parts = split_ar_export(
            raw.frame,
            wanted,
            spec.settled_on,
            spec.settled_amount,
            spec.payment_id_suffix,
            values.decimal,
            values.thousands,
        )
        used = set(wanted.values()) | {c for c in (spec.settled_on, spec.settled_amount) if c}
        ignored = [c for c in present if c not in used]
        out: dict[str, _Raw] = {}
        for table, (frame, positions) in parts.items():
            malformed = _canonical_malformed(raw.malformed, wanted) if table == "invoices" else None
            out[table] = _Raw(
                table=table,
                frame=frame,
                source_row=raw.source_row[positions],
                file=raw.path,
                values=values,
                malformed=malformed,
                ignored_columns=ignored,
                column_map={c: s for c, s in wanted.items() if c in frame.columns and c != s},
                rows_in=len(frame) + (0 if malformed is None else len(malformed)),
                source_line=None if raw.source_line is None else raw.source_line[positions],
                repairs=raw.repairs if table == "invoices" else {},
            )
        return out

    return load


def _canonical_malformed(malformed: pd.DataFrame, rename: dict[str, str]) -> pd.DataFrame:
    """The malformed rows with their salvaged values under canonical column names."""
    fixed = ["source_row", "source_line", "raw_line", "reason", "detail"]
    values = {c: malformed[src] for c, src in rename.items() if src in malformed.columns and c not in fixed}
    return pd.DataFrame({**{c: malformed[c] for c in fixed}, **values})


def _load_uci(source: SourceConfig) -> dict[str, _Raw]:
    spec = source.uci_wide
    assert spec is not None
    path = Path(spec.path)
    read_file(path, "csv", source.csv, "uci_wide")  # full-file checks (encoding) before the mapping
    try:
        data = read_uci(path)
    except ValueError as exc:
        raise TableError(f"uci_wide: {path}: {exc}") from None
    rows = np.arange(1, len(data.debtors) + 1, dtype=np.int64)
    return {
        "statements": _Raw(
            "statements",
            data.statements,
            np.repeat(rows, 6),
            path,
            ValueOptions(),
            pre_bad={f"unparseable_number:{c}": m for c, m in data.unparseable.items()},
            rows_in=len(data.statements),
        ),
        "debtors": _Raw(
            "debtors",
            data.debtors,
            rows,
            path,
            ValueOptions(),
            pre_bad={"unparseable_number:credit_limit": data.unparseable["credit_limit"][::6]},
            rows_in=len(data.debtors),
        ),
    }


def _slim(raw: _Raw, masks: dict[str, np.ndarray]) -> _Raw:
    """Keep only the raw values of rows rejected so far (quarantine shows them as read)."""
    kept = np.flatnonzero(~_ok(masks, len(raw.frame)))
    return replace(raw, frame=raw.frame.iloc[kept].reset_index(drop=True), kept=kept, pre_bad={})


# ---------------------------------------------------------------- parsing + rules


def _parse(raw: _Raw, default_currency: str | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Typed canonical frame (every canonical column) and the unparseable masks."""
    spec = TABLES[raw.table]
    n = len(raw.frame)
    values = raw.values
    cols: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    for column in spec.columns:
        name = column.name
        src = (
            raw.frame[name] if name in raw.frame.columns else pd.Series(pd.NA, index=range(n), dtype="string")
        )
        src = src.reset_index(drop=True)
        if column.kind == "str":
            cols[name], bad[f"unparseable_id:{name}"] = parse_text(
                src,
                upper=name in ("currency", "country"),
                lower=(raw.table == "events" and name == "kind"),
                is_id=name.endswith("_id"),
            )
            if name == "currency":
                cols[name] = cols[name].replace(CURRENCY_SYMBOLS)
                if default_currency and raw.table == "invoices":
                    cols[name] = cols[name].fillna(default_currency)
        elif column.kind == "date":
            cols[name], bad[f"unparseable_date:{name}"], bad[f"date_out_of_range:{name}"] = parse_dates(
                src, values.strptime(name)
            )
        elif column.kind == "float":
            cols[name], bad[f"unparseable_number:{name}"] = parse_numbers(
                src, values.decimal, values.thousands
            )
        elif column.kind == "int":
            num, nbad = parse_numbers(src, values.decimal, values.thousands)
            v = num.to_numpy()
            frac = np.isfinite(v) & (np.round(v) != v)
            bad[f"unparseable_number:{name}"] = nbad | frac
            ints = pd.array(np.where(np.isfinite(v) & ~frac, np.round(v), np.nan), dtype="Float64")
            cols[name] = pd.Series(ints.astype("Int64"))
        elif column.kind == "bool":
            parsed, bad[f"unparseable_bool:{name}"] = parse_bools(
                src, values.true_values, values.false_values
            )
            cols[name] = parsed.fillna(False).astype(bool)
    for reason, mask in raw.pre_bad.items():
        bad[reason] = bad.get(reason, np.zeros(n, dtype=bool)) | mask
    return pd.DataFrame(cols), {k: v for k, v in bad.items() if v.any()}


def _implausible(frame: pd.DataFrame, table: str, rules: RulesConfig) -> dict[str, np.ndarray]:
    """``implausible_amount:<column>`` masks: money values whose absolute value exceeds the ceiling.

    Such values (e.g. 1.797e308) are finite but overflow sums and integer cents downstream.
    """
    out: dict[str, np.ndarray] = {}
    for column in TABLES[table].columns:
        if column.kind != "float" or column.name not in frame:
            continue
        values = np.abs(frame[column.name].to_numpy(dtype=np.float64, na_value=np.nan))
        with np.errstate(invalid="ignore"):
            over = values > rules.ceiling(table, column.name)
        if over.any():
            out[f"implausible_amount:{column.name}"] = over
    return out


def _within_table(
    raw: _Raw,
    validator: Any,
    params: dict[str, Any],
    default_currency: str | None,
    lap: Callable[[str], None],
    rules: RulesConfig,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    lap("setup")
    frame, masks = _parse(raw, default_currency)
    masks.update(_implausible(frame, raw.table, rules))
    n = len(frame)
    dup = _duplicate_rows(raw.frame, DUPLICATE_KEYS[raw.table])
    if dup.any():
        masks["duplicate_row"] = dup
    keep = np.flatnonzero(~dup)
    lap(f"parse:{raw.table}")
    outcome = validator.validate(raw.table, frame.iloc[keep] if dup.any() else frame, params)
    lap(f"gx:{raw.table}")
    for reason, sub in outcome.masks.items():
        full = np.zeros(n, dtype=bool)
        full[keep[sub]] = True
        masks[reason] = masks.get(reason, np.zeros(n, dtype=bool)) | full
    # an unparseable (or unstorable) value is also null after parsing: report it once, as such
    parse_reasons = (
        "unparseable_date",
        "unparseable_number",
        "unparseable_bool",
        "unparseable_id",
        "date_out_of_range",
    )
    for reason in list(masks):
        if reason.startswith("missing_value:"):
            column = reason.split(":", 1)[1]
            for kind in parse_reasons:
                masks[reason] = masks[reason] & ~masks.get(f"{kind}:{column}", np.zeros(n, dtype=bool))
    masks = {k: v for k, v in masks.items() if v.any()}
    return frame, masks, outcome.summary()


def _arrow(values: pd.Series | pd.api.extensions.ExtensionArray) -> Any:
    """A string column as one contiguous ``pyarrow.large_string`` array (chunks combined)."""
    import pyarrow as pa

    arr = pa.array(pd.Series(values).astype("string"), type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """``values.isin(known)`` as a bool array, via Arrow (pandas' string ``isin`` loops in Python)."""
    import pyarrow.compute as pc

    left = _arrow(values.astype("string"))
    right = _arrow(known.dropna().astype("string").unique())
    return (
        pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False).astype(bool)
        & values.notna().to_numpy()
    )


def _index_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Position of each value in ``known`` (first match), -1 when absent or null (int64 array)."""
    import pyarrow.compute as pc

    left = _arrow(values.astype("string"))
    right = _arrow(known.astype("string"))
    return pc.index_in(left, value_set=right).fill_null(-1).to_numpy().astype(np.int64)


def _equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality of two string columns of the same length (nulls compare unequal)."""
    import pyarrow.compute as pc

    left = _arrow(a.astype("string"))
    right = _arrow(b.astype("string"))
    return pc.equal(left, right).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


# Exact duplicate rows share these columns, so only rows whose key repeats are compared in full.
DUPLICATE_KEYS: dict[str, tuple[str, ...]] = {
    "invoices": ("invoice_id",),
    "payments": ("payment_id",),
    "debtors": ("debtor_id",),
    "events": ("debtor_id", "event_date", "kind"),
    "statements": ("debtor_id", "period_end"),
}


def _duplicate_rows(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Rows that repeat an earlier row exactly (first copy kept), as a bool array.

    Rows are first grouped by ``key`` with Arrow dictionary codes (cheap on 10-million-row
    tables); only rows whose key repeats are compared on every column.
    """

    n = len(frame)
    if n == 0:
        return np.zeros(0, dtype=bool)
    cols = [c for c in key if c in frame.columns]
    if not cols:
        return frame.duplicated(keep="first").to_numpy()
    group = np.zeros(n, dtype=np.int64)
    for c in cols:
        encoded = _arrow(frame[c]).dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
        group = group * (len(encoded.dictionary) + 1) + codes
        _, group = np.unique(group, return_inverse=True)  # keep codes dense (no overflow)
    counts = np.bincount(group)
    candidates = np.flatnonzero(counts[group] > 1)
    dup = np.zeros(n, dtype=bool)
    if len(candidates):
        dup[candidates[frame.iloc[candidates].duplicated(keep="first").to_numpy()]] = True
    return dup


def _ok(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for m in masks.values():
        bad |= m
    return ~bad


def _flag(masks: dict[str, np.ndarray], reason: str, mask: np.ndarray) -> None:
    if mask.any():
        masks[reason] = masks.get(reason, np.zeros(len(mask), dtype=bool)) | mask


def _before_first_invoice(
    pay: pd.DataFrame,
    inv: pd.DataFrame,
    accepted_rows: np.ndarray,
    candidates: np.ndarray,
    rules: RulesConfig,
) -> np.ndarray:
    """Unallocated payments dated more than ``prepayment_days`` before their debtor's first accepted invoice.

    Such cash would wait on account and silently settle invoices issued years later.
    """
    out = np.zeros(len(pay), dtype=bool)
    rows = np.flatnonzero(candidates)
    if not len(rows) or not len(accepted_rows):
        return out
    accepted = inv.iloc[accepted_rows]
    first = accepted.groupby("debtor_id", observed=True)["issue_date"].min()
    pos = _index_in(pay["debtor_id"].iloc[rows], first.index.to_series())
    has = pos >= 0
    first_day = first.to_numpy(dtype="datetime64[ns]")[pos[has]]
    paid = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows[has]]
    out[rows[has][paid < first_day - np.timedelta64(rules.prepayment_days, "D")]] = True
    return out


def _cross_table(
    typed: dict[str, pd.DataFrame],
    masks: dict[str, dict[str, np.ndarray]],
    rules: RulesConfig,
    broken: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Reference checks between tables, applied to rows that passed their own table's checks.

    ``broken``: per table, the malformed rows with the ids salvaged from them; a reference to such
    an id is ``debtor_quarantined`` / ``invoice_quarantined``, not unknown.
    """
    broken = broken or {}

    def _ids(table: str, column: str) -> pd.Series:
        ids = typed[table][column].dropna()
        salvaged = broken.get(table)
        if salvaged is not None and column in salvaged.columns and len(salvaged):
            ids = pd.concat([ids, salvaged[column].dropna().astype("string")], ignore_index=True)
        return ids

    accepted_ids: dict[str, pd.Series] = {}
    all_ids: dict[str, pd.Series] = {}

    def _debtor_check(table: str) -> None:
        frame = typed[table]
        ok = _ok(masks[table], len(frame))
        ids = frame["debtor_id"]
        if "debtors" in typed:
            known_any, known_ok = all_ids["debtors"], accepted_ids["debtors"]
        elif table == "payments" and "invoices" in typed:
            known_any = typed["invoices"]["debtor_id"]
            known_ok = known_any
        else:
            return
        in_any = _isin(ids, known_any)
        in_ok = _isin(ids, known_ok)
        _flag(masks[table], "unknown_debtor", ok & ~in_any)
        _flag(masks[table], "debtor_quarantined", ok & in_any & ~in_ok)

    if "debtors" in typed:
        d = typed["debtors"]
        all_ids["debtors"] = _ids("debtors", "debtor_id")
        accepted_ids["debtors"] = d["debtor_id"][_ok(masks["debtors"], len(d))]
    for table in ("invoices", "events", "statements"):
        if table in typed:
            _debtor_check(table)
    if "payments" not in typed:
        return
    _debtor_check("payments")
    pay = typed["payments"]
    if "invoices" not in typed:
        return
    inv = typed["invoices"]
    inv_ok = _ok(masks["invoices"], len(inv))
    accepted_rows = np.flatnonzero(inv_ok)  # accepted invoice ids are unique (duplicates are rejected)
    ok = _ok(masks["payments"], len(pay))
    allocated = pay["invoice_id"].notna().to_numpy()
    # position of each payment's invoice among the accepted invoices (-1: none)
    pos = _index_in(pay["invoice_id"], inv["invoice_id"].iloc[accepted_rows])
    in_any = _isin(pay["invoice_id"], _ids("invoices", "invoice_id"))
    _flag(masks["payments"], "unknown_invoice", ok & allocated & ~in_any)
    _flag(masks["payments"], "invoice_quarantined", ok & allocated & in_any & (pos < 0))
    ok = _ok(masks["payments"], len(pay))
    _flag(
        masks["payments"],
        "paid_before_first_invoice",
        _before_first_invoice(pay, inv, accepted_rows, ok & ~allocated, rules),
    )
    rows = np.flatnonzero(ok & allocated)
    if not len(rows):
        return
    inv_rows = accepted_rows[pos[rows]]
    same_debtor = _equal(pay["debtor_id"].iloc[rows], inv["debtor_id"].iloc[inv_rows])
    mismatch = np.zeros(len(pay), dtype=bool)
    mismatch[rows[~same_debtor]] = True
    _flag(masks["payments"], "debtor_mismatch", mismatch)
    rows, inv_rows = rows[same_debtor], inv_rows[same_debtor]
    # a payment dated long before its invoice existed is a wrong date or a wrong invoice id
    paid_day = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows]
    issued = inv["issue_date"].to_numpy(dtype="datetime64[ns]")[inv_rows]
    early = paid_day < issued - np.timedelta64(rules.prepayment_days, "D")
    too_early = np.zeros(len(pay), dtype=bool)
    too_early[rows[early]] = True
    _flag(masks["payments"], "paid_before_issue", too_early)
    rows, inv_rows = rows[~early], inv_rows[~early]
    # cumulative paid per invoice, in (invoice, paid_on, file order); flag payments above the limit
    paid_on = pay["paid_on"].to_numpy(dtype="datetime64[ns]")[rows].astype(np.int64)
    order = np.lexsort((rows, paid_on, inv_rows))
    rows, inv_rows = rows[order], inv_rows[order]
    amount = pay["amount"].to_numpy(dtype=np.float64)[rows]
    total = np.cumsum(amount)
    starts = np.r_[True, inv_rows[1:] != inv_rows[:-1]]
    offset = np.repeat((total - amount)[starts], np.diff(np.r_[np.flatnonzero(starts), len(rows)]))
    paid_so_far = total - offset
    invoice_amount = inv["amount"].to_numpy(dtype=np.float64)[inv_rows]
    limit = invoice_amount * (1 + rules.overpayment_tolerance) + rules.overpayment_tolerance_abs
    over = np.zeros(len(pay), dtype=bool)
    over[rows[paid_so_far > limit]] = True
    _flag(masks["payments"], "overpays_invoice", over)


# ---------------------------------------------------------------- currencies

# Unambiguous currency symbols written instead of the ISO code ('$' and '¥' are ambiguous: quarantined).
CURRENCY_SYMBOLS: dict[str, str] = {"€": "EUR", "£": "GBP"}


def _reporting_currency(
    codes: pd.Series, default_currency: str | None, cfg: CurrencyConfig
) -> tuple[str | None, str]:
    """The reporting currency and how it was chosen (config, default_currency, single, most_invoices, none)."""
    if cfg.reporting:
        return cfg.reporting, "config"
    if default_currency:
        return default_currency, "default_currency"
    import pyarrow.compute as pc

    found = pc.value_counts(_arrow(codes).drop_null())
    counts = pd.Series(
        found.field("counts").to_numpy(), index=found.field("values").to_pylist(), dtype="int64"
    )
    if counts.empty:
        return None, "none"
    if len(counts) == 1:
        return str(counts.index[0]), "single"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return str(ranked[0][0]), "most_invoices"


def _rates_for(
    codes: np.ndarray, names: list[str], reporting: str, cfg: CurrencyConfig, masks: dict[str, np.ndarray]
) -> np.ndarray:
    """Rate per row from integer currency ``codes`` into ``names`` (-1: empty = reporting).

    NaN where there is no rate (``no_fx_rate:<code>`` added to ``masks``).
    """
    rate = np.ones(len(codes))
    for i, code in enumerate(names):
        if not re.fullmatch(r"[A-Z]{3}", code):
            continue  # not a code at all: bad_currency (invoices suite)
        r = cfg.rate(code, reporting)
        if r == 1.0:
            continue
        rows = codes == i
        if r is None:
            rate[rows] = np.nan
            _flag(masks, f"no_fx_rate:{code}", rows)
        else:
            rate[rows] = r
    return rate


def _debtor_currency(
    inv: pd.DataFrame, inv_codes: np.ndarray, ok: np.ndarray, debtors: pd.Series
) -> np.ndarray:
    """Currency code of each of ``debtors``: the one of its accepted invoices when they all share one, else -1."""
    sel = np.flatnonzero(ok & (inv_codes >= 0))
    out = np.full(len(debtors), -1, dtype=np.int64)
    if not len(sel) or not len(debtors):
        return out
    import pyarrow as pa

    pairs = pa.table({"debtor_id": _arrow(inv["debtor_id"]).take(pa.array(sel)), "code": inv_codes[sel]})
    per = pairs.group_by("debtor_id").aggregate([("code", "min"), ("code", "max")])
    lo, hi = per["code_min"].to_numpy(), per["code_max"].to_numpy()
    single = pd.Series(
        per["debtor_id"].to_pandas(types_mapper=pd.ArrowDtype)[lo == hi].astype("string").to_numpy()
    )
    pos = _index_in(debtors, single)
    out[pos >= 0] = lo[lo == hi][pos[pos >= 0]]
    return out


def _convert_currencies(
    typed: dict[str, pd.DataFrame],
    masks: dict[str, dict[str, np.ndarray]],
    default_currency: str | None,
    cfg: CurrencyConfig,
    rules: RulesConfig,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Convert invoice and payment amounts into the reporting currency (in place in ``typed``).

    A payment is in its invoice's currency; unallocated cash (or cash naming an unknown invoice)
    is in the currency of the debtor's invoices when they share one, else ``default_currency``,
    else the reporting currency. Rows whose currency has no rate get ``no_fx_rate:<code>``.
    Returns, per table, the converted rows' originals (id, original_amount, original_currency,
    rate, amount; indexed by row) and the manifest's ``currency`` section. Events, statements and
    debtors' credit limits carry no currency and are taken as reporting-currency amounts.
    """
    if "invoices" not in typed:
        return {}, {"reporting": cfg.reporting or default_currency, "chosen_by": "no invoices"}
    inv = typed["invoices"]
    ok = _ok(masks["invoices"], len(inv))
    reporting, how = _reporting_currency(inv["currency"][ok], default_currency, cfg)
    section: dict[str, Any] = {"reporting": reporting, "chosen_by": how, "rates": {}, "converted_rows": {}}
    if reporting is None:
        return {}, section
    tables = [t for t in ("invoices", "payments") if t in typed]
    section["converted_rows"] = dict.fromkeys(tables, 0)
    section["no_rate_rows"] = {t: {} for t in tables}
    encoded = _arrow(inv["currency"]).dictionary_encode()
    names = [str(x) for x in encoded.dictionary.to_pylist()]
    fallback = default_currency or reporting
    if set(names) <= {reporting} and fallback == reporting:  # one currency: nothing to convert
        if inv["currency"].hasnans:
            inv["currency"] = inv["currency"].fillna(reporting)
        return {}, section
    if fallback not in names:
        names.append(fallback)
    inv_codes = (
        encoded.indices.fill_null(names.index(reporting) if reporting in names else -1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    codes: dict[str, np.ndarray] = {"invoices": inv_codes}
    if "payments" in typed:
        pay = typed["payments"]
        pos = _index_in(pay["invoice_id"], inv["invoice_id"])
        pay_codes = np.where(pos >= 0, inv_codes[np.maximum(pos, 0)], -1)
        loose = np.flatnonzero(pos < 0)  # unallocated or unknown invoice: the debtor's single currency
        pay_codes[loose] = _debtor_currency(inv, inv_codes, ok, pay["debtor_id"].iloc[loose])
        pay_codes[pay_codes < 0] = names.index(fallback)
        codes["payments"] = pay_codes
    fx: dict[str, pd.DataFrame] = {}
    key = {"invoices": "invoice_id", "payments": "payment_id"}
    for table, code in codes.items():
        frame = typed[table]
        rate = _rates_for(code, names, reporting, cfg, masks[table])
        moved = np.isfinite(rate) & (rate != 1.0)
        section["converted_rows"][table] = int(moved.sum())
        section["no_rate_rows"][table] = {
            r.split(":", 1)[1]: int(m.sum())
            for r, m in sorted(masks[table].items())
            if r.startswith("no_fx_rate:")
        }
        if table == "invoices":
            frame["currency"] = frame["currency"].where(~np.isfinite(rate), reporting)
        if not moved.any():
            continue
        original = frame["amount"].to_numpy(dtype=np.float64)
        converted = np.where(moved, np.round(original * np.nan_to_num(rate, nan=1.0), 2), original)
        frame["amount"] = converted
        # a converted amount is checked against the ceiling again (a rate can be absurd too)
        _flag(
            masks[table],
            "implausible_amount:amount",
            moved & (np.abs(converted) > rules.ceiling(table, "amount")),
        )
        rows = np.flatnonzero(moved)
        fx[table] = pd.DataFrame(
            {
                key[table]: frame[key[table]].iloc[rows].to_numpy(),
                "original_amount": original[rows],
                "original_currency": np.asarray(names, dtype=object)[code[rows]],
                "rate": rate[rows],
                "amount": converted[rows],
                "currency": reporting,
            },
            index=rows,
        )
        for i in np.unique(code[rows]):
            section["rates"][names[i]] = cfg.rate(names[i], reporting)
    section["rates"] = dict(sorted(section["rates"].items()))
    return fx, section


def _currency_warnings(section: dict[str, Any], tables: dict[str, Any]) -> list[str]:
    out = []
    if section.get("chosen_by") == "most_invoices":
        out.append(
            f"invoices are in several currencies and no reporting currency is configured: "
            f"{section['reporting']} (most invoices) was chosen. Set currency.reporting and "
            "currency.rates in conf/ews.yaml."
        )
    for table, counts in section.get("no_rate_rows", {}).items():
        for code, n in counts.items():
            out.append(
                f"{table}: {n:,} row(s) in {code} quarantined (no_fx_rate:{code}): add currency.rates.{code} "
                f"(value of 1 {code} in {section['reporting']}) to conf/ews.yaml."
            )
    return out


# ---------------------------------------------------------------- AR export plausibility


AR_MIN_INVOICES = 20


def _ar_open_items(accepted: dict[str, pd.DataFrame], as_of: dt.date) -> dict[str, Any]:
    """Open (never settled) invoices of an AR export: counts, share, and those due over a year ago."""
    inv = accepted.get("invoices")
    if inv is None or inv.empty:
        return {"invoices": 0, "open": 0, "open_share": 0.0, "due_over_a_year": 0, "open_due_over_a_year": 0}
    pay = accepted.get("payments")
    settled = _isin(inv["invoice_id"], pay["invoice_id"]) if pay is not None else np.zeros(len(inv), bool)
    old = (inv["due_date"] < pd.Timestamp(as_of) - pd.Timedelta(days=365)).to_numpy()
    return {
        "invoices": len(inv),
        "open": int((~settled).sum()),
        "open_share": round(float((~settled).mean()), 4),
        "due_over_a_year": int(old.sum()),
        "open_due_over_a_year": int((old & ~settled).sum()),
    }


def _ar_warnings(items: dict[str, Any] | None, rules: RulesConfig, source: SourceConfig) -> list[str]:
    """Warn when an AR export's open share is implausible (blank settlement dates read as open)."""
    if not items or not items["invoices"]:
        return []
    assert source.ar_export is not None
    column = source.ar_export.settled_on or source.ar_export.settled_amount
    fix = (
        f"a blank {column!r} means open. If this export holds settled invoices, check that {column!r} is the "
        "settlement column and is filled; an open-items export should hold few old invoices."
    )
    out = []
    n, n_open = items["invoices"], items["open"]
    if n < AR_MIN_INVOICES:
        return []  # shares of a handful of invoices say nothing
    if n_open == n:
        out.append(f"ar_export: none of the {n:,} invoices is settled, so all are treated as open; {fix}")
    elif items["open_share"] > rules.ar_max_open_share:
        out.append(
            f"ar_export: {n_open:,} of {n:,} invoices ({items['open_share']:.0%}) have no settlement and are "
            f"treated as open, more than rules.ar_max_open_share ({rules.ar_max_open_share:.0%}); {fix}"
        )
    n_old, old_open = items["due_over_a_year"], items["open_due_over_a_year"]
    if n_old >= AR_MIN_INVOICES // 2 and old_open / n_old > rules.ar_max_open_share and n_open != n:
        out.append(
            f"ar_export: {old_open:,} of {n_old:,} invoices due over a year ago are still open (they put "
            f"their debtors in default); {fix}"
        )
    return out


# Optional debtor attributes: a bad value is cleared (default) instead of rejecting the debtor.
OPTIONAL_ATTRIBUTES: tuple[str, ...] = ("name", "segment", "country", "credit_limit", "onboarded_on")
_REASON_COLUMN: dict[str, str] = {"bad_country": "country", "negative_credit_limit": "credit_limit"}


def _reason_column(reason: str) -> str | None:
    """The optional debtor attribute a debtors reason concerns (None: a reason about the row)."""
    column = _REASON_COLUMN.get(reason, reason.split(":", 1)[1] if ":" in reason else None)
    return column if column in OPTIONAL_ATTRIBUTES else None


def _clear_optional(
    frame: pd.DataFrame, masks: dict[str, np.ndarray], raw: _Raw
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Empty invalid optional debtor attributes instead of rejecting the row (``rules.optional_attributes``).

    Removes the attribute reasons from ``masks`` (in place) and returns the new frame and, per
    column, ``{"rows": n, "reasons": {reason: n}, "first_source_rows": [...]}`` counting the rows
    that are otherwise accepted.
    """
    attribute = {r: c for r in masks if (c := _reason_column(r)) is not None}
    if not attribute:
        return frame, {}
    n = len(frame)
    hits = {reason: masks.pop(reason) for reason in attribute}
    row_ok = _ok(masks, n)
    out = frame.copy()
    cleared: dict[str, Any] = {}
    for column in sorted(set(attribute.values())):
        reasons = {r: m for r, m in hits.items() if attribute[r] == column}
        hit = ~_ok(reasons, n)
        out[column] = out[column].mask(hit)
        counted = hit & row_ok
        if counted.any():
            cleared[column] = {
                "rows": int(counted.sum()),
                "reasons": {
                    r: int((m & row_ok).sum()) for r, m in sorted(reasons.items()) if (m & row_ok).any()
                },
                "first_source_rows": [int(r) for r in raw.source_row[counted][:5]],
            }
    return out, cleared


# What to check when every row of a table is rejected for one reason.
_EMPTY_HINTS: dict[str, str] = {
    "unparseable_date": "the dates do not match values.date_format (or date_formats) in the source config",
    "unparseable_number": "the numbers do not match values.decimal / values.thousands in the source config",
    "unparseable_bool": "add the file's spellings to values.true_values / values.false_values",
    "date_after_as_of": "every date is after the as-of date: check --as-of",
    "date_too_old": "every date is before rules.min_date: check the date format or rules.min_date",
    "missing_value": "the mapped column is empty: check the column mapping",
    "unknown_debtor": "no debtor id matches the debtors table: check both debtor_id mappings",
    "debtor_quarantined": "every debtor was rejected: see the debtors table first",
    "unknown_invoice": "no invoice id matches the invoices table: check both invoice_id mappings",
    "invoice_quarantined": "every invoice was rejected: see the invoices table first",
    "malformed_row": "rows do not split into the header's columns: check csv.delimiter and csv.quotechar",
}


def _refuse_empty_tables(tables: dict[str, Any], source: SourceConfig) -> None:
    """Raise :class:`TableError` when a table with rows has none accepted (a broken feed or mapping)."""
    limit = source.rules.refuse_empty_table_rows
    empty = [name for name, t in tables.items() if t["rows_in"] >= limit and not t["rows_accepted"]]
    if not empty:
        return
    lines = []
    for name in empty:
        t = tables[name]
        top = sorted(t["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        reasons = ", ".join(f"{k} ({v:,})" for k, v in top)
        hint = _EMPTY_HINTS.get(top[0][0].split(":", 1)[0], "") if top else ""
        lines.append(
            f"{name}: none of {t['rows_in']:,} rows accepted ({t['input']}); reasons: {reasons}"
            + (f". Likely cause: {hint}" if hint else "")
        )
    config = "the source config" if source.name != "files" else "the input files"
    raise TableError(
        "ingest refused: a table lost every row, which means a broken export or a wrong mapping in "
        f"{config}, not bad rows. Nothing was written.\n  " + "\n  ".join(lines) + "\n"
        "See the reasons above; fix the file or the config and run again."
    )


def _warnings(tables: dict[str, Any]) -> list[str]:
    """Human-readable warnings for the manifest and the CLI (values cleared, ...)."""
    out = []
    for name, t in tables.items():
        if t["rows_in"] and not t["rows_accepted"]:
            top = ", ".join(f"{k} ({v})" for k, v in sorted(t["reasons"].items(), key=lambda kv: -kv[1])[:3])
            out.append(f"{name}: none of {t['rows_in']} row(s) accepted ({top}); see quarantine/{name}.csv")
        for column, entry in t.get("values_cleared", {}).items():
            reasons = ", ".join(f"{k} ({v})" for k, v in entry["reasons"].items())
            out.append(
                f"{name}.{column}: {entry['rows']:,} invalid value(s) cleared, rows kept ({reasons}; "
                f"first source rows {entry['first_source_rows']}). Set rules.optional_attributes: "
                "quarantine to reject such rows instead."
            )
    return out


# ---------------------------------------------------------------- outputs


def _reasons(masks: dict[str, np.ndarray], n: int) -> pd.Series:
    """One ``"; "``-joined reason per rejected row (``<NA>`` for accepted rows), reasons sorted."""
    bad = ~_ok(masks, n)
    idx = np.flatnonzero(bad)
    text = np.full(len(idx), "", dtype=object)
    for reason in sorted(masks):
        hit = masks[reason][idx]
        text[hit] = np.where(text[hit] == "", reason, text[hit] + "; " + reason)
    out = pd.Series(pd.NA, index=range(n), dtype="string")
    out.iloc[idx] = text
    return out


def _text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.dt.strftime("%Y-%m-%d").astype("string")
    return col.astype("string")


def _quarantine_frame(
    raw: _Raw, typed: pd.DataFrame, reasons: pd.Series, rejected: np.ndarray
) -> pd.DataFrame:
    """Rejected rows: source_file, source_row, source_line (CSV), reason, the row's values, raw_line
    and detail (rows that could not be split into columns).

    Rows rejected by their own table's checks show the values as read; rows rejected by a
    cross-table check (their values all parsed) show the parsed values.
    """
    cols = list(raw.frame.columns)
    rows = np.flatnonzero(rejected)
    kept = raw.kept if raw.kept is not None else np.arange(len(typed))
    at = np.searchsorted(kept, rows)
    has_raw = at < len(kept)
    has_raw[has_raw] = kept[at[has_raw]] == rows[has_raw]
    q = pd.DataFrame(
        {
            "source_file": pd.Series([str(raw.file)] * len(rows), dtype="string"),
            "source_row": pd.Series(raw.source_row[rows], dtype="int64"),
            "source_line": pd.Series(
                raw.source_line[rows] if raw.source_line is not None else [pd.NA] * len(rows), dtype="Int64"
            ),
            "reason": reasons.iloc[rows].reset_index(drop=True).astype("string"),
        }
    )
    from_raw = raw.frame.iloc[at[has_raw]].reset_index(drop=True)
    from_typed = typed.iloc[rows[~has_raw]].reset_index(drop=True)
    for c in cols:
        values = pd.Series(pd.NA, index=range(len(rows)), dtype="string")
        values.iloc[np.flatnonzero(has_raw)] = _text(from_raw[c]).to_numpy()
        values.iloc[np.flatnonzero(~has_raw)] = _text(from_typed[c]).to_numpy()
        q[c] = values
    q["raw_line"] = pd.Series(pd.NA, index=range(len(q)), dtype="string")
    q["detail"] = pd.Series(pd.NA, index=range(len(q)), dtype="string")
    if raw.malformed is not None and len(raw.malformed):
        m = raw.malformed
        extra = pd.DataFrame(
            {
                "source_file": pd.Series([str(raw.file)] * len(m), dtype="string"),
                "source_row": m["source_row"].astype("int64").to_numpy(),
                "source_line": pd.Series(m["source_line"].to_numpy(), dtype="Int64"),
                "reason": pd.Series(m["reason"].to_numpy(), dtype="string"),
                "raw_line": m["raw_line"].astype("string").to_numpy(),
                "detail": pd.Series(m["detail"].to_numpy(), dtype="string"),
            }
            | {c: pd.Series(m[c].to_numpy(), dtype="string") for c in cols if c in m.columns}
        )
        q = pd.concat([q, extra], ignore_index=True)
        q = q.sort_values("source_row", kind="stable").reset_index(drop=True)
    return q


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    if reasons.empty:
        return {}
    counts = reasons.str.split("; ").explode().value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _input_paths(source: SourceConfig) -> list[Path]:
    """Every input file a source config reads."""
    paths = [src.path for src in source.tables.values()]
    paths += [blk.path for blk in (source.ar_export, source.uci_wide) if blk is not None]
    return paths


_OUTPUT_NAME = re.compile(r"^(?:quarantine/|fx/)?(?:" + "|".join(TABLES) + r")\.(?:parquet|csv)$")


def _stale_outputs(out: Path, outputs: dict[str, str]) -> list[str]:
    """Table files listed by the previous ingest's manifest in ``out`` that this run does not write
    (they would mislead a reader). Nothing that manifest does not list is ever removed."""
    try:
        previous = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("outputs") or {}
    except (OSError, ValueError, AttributeError):
        return []
    return sorted(k for k in previous if isinstance(k, str) and _OUTPUT_NAME.match(k) and k not in outputs)


def _publish(
    out: Path,
    stage: Path,
    accepted: dict[str, pd.DataFrame],
    quarantine: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    validator: Any,
    fx: dict[str, pd.DataFrame],
) -> None:
    """Write every output into ``stage``, then move them into ``out`` (manifest.json last)."""
    from pipelines.adapters.publish import publish_ingest

    with output_errors(out):
        stage.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, str] = {}
        for table, frame in sorted(fx.items()):  # converted rows: original amount, currency, rate
            path = write_csv_atomic(frame, stage / "fx" / f"{table}.csv")
            outputs[f"fx/{table}.csv"] = sha256_file(path)
        for table, frame in accepted.items():
            path = write_parquet_atomic(frame, stage / f"{table}.parquet")
            outputs[f"{table}.parquet"] = sha256_file(path)
            qpath = write_csv_atomic(quarantine[table], stage / "quarantine" / f"{table}.csv")
            outputs[f"quarantine/{table}.csv"] = sha256_file(qpath)
        manifest["outputs"] = outputs
        docs = validator.build_docs()
        manifest["data_docs"] = str(docs.relative_to(stage)) if docs is not None else None
        write_text_atomic(json.dumps(manifest, indent=2, sort_keys=False) + "\n", stage / "manifest.json")
    publish_ingest(stage, out, _stale_outputs(out, outputs))
