"""Which files an ingest reads and how their columns map onto the canonical tables.

Renames, the AR export split (one row per invoice -> invoices + derived payments) and the UCI
wide -> long reshaping. The readers and cell parsers themselves are in ``pipelines/sources/``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schema import TABLES
from pipelines.config.source import ARExportSource, FileSource, SourceConfig, ValueOptions
from pipelines.ingest.masks import isin, passing
from pipelines.sources.ar_export import split_ar_export
from pipelines.sources.read import RawFile, TableError, preflight, read_file, title_lines_hint
from pipelines.sources.rows import check_columns, shape_rows
from pipelines.sources.uci import REQUIRED as UCI_REQUIRED
from pipelines.sources.uci import read_uci
from pipelines.words import counted


@dataclass
class RawTable:
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
    # after slimming: the amount cells of every row as the file wrote them ("1,600.00"), for the rows a
    # later (cross-table) check rejects: the quarantine shows them, not the parsed 1600.0 (session 29)
    written: dict[str, pd.Series] | None = None
    rows_in: int = 0
    source_line: np.ndarray | None = None  # physical line of each row's record (CSV), else None
    repairs: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] | None = None  # rows left out by the input's row options, by reason
    negate_amount: bool = False  # the input writes amounts with the opposite sign
    clearing: dict[str, Any] | None = None  # tables.payments.clearing: the join's counts (manifest)
    applied: dict[str, int] | None = None  # tables.payments.applied_amount: the split's counts (manifest)
    decimal_suspects: dict[str, Any] | None = None  # amounts like 1.500 under decimal '.' (ingest.decimals)
    records: int = 0  # records of the file before the input's row options (more_files: source row offsets)
    parts: list[FilePart] | None = None  # more_files: each file's rows, options and counts (None: one file)

    def take(self, rows: np.ndarray, **changes: Any) -> RawTable:
        """These rows (positions) of the table, with their source rows, lines and read-level masks;
        ``changes``: other fields replaced too."""
        return replace(
            self,
            frame=self.frame.iloc[rows].reset_index(drop=True),
            source_row=self.source_row[rows],
            source_line=None if self.source_line is None else self.source_line[rows],
            pre_bad={r: m[rows] for r, m in self.pre_bad.items()},
            **changes,
        )

    def part_of(self, source_row: np.ndarray) -> np.ndarray:
        """Each row's file (index into ``parts``) from its source row (offset per file); zeros for one file."""
        if not self.parts:
            return np.zeros(len(source_row), dtype=np.int64)
        offsets = np.array([p.offset for p in self.parts], dtype=np.int64)
        # a file's rows are numbered from 1: its rows are (offset, next offset]
        return np.searchsorted(offsets, np.asarray(source_row, dtype=np.int64), side="left") - 1


@dataclass
class FilePart:
    """One file of a table read from several (``more_files``): its rows are the table's rows whose
    source row is above ``offset`` (the records of the files before it), up to the next file's."""

    path: Path
    offset: int
    values: ValueOptions
    negate_amount: bool
    column_map: dict[str, str]
    ignored_columns: list[str]
    rows_in: int
    filtered: dict[str, int] | None
    repairs: dict[str, int]
    label: str


# ---------------------------------------------------------------- loading + mapping


def _resolve_columns(
    present: list[str],
    table: str,
    mapping: dict[str, str],
    label: str,
    path: Path,
    made: tuple[str, ...] = (),
) -> dict[str, str]:
    """canonical -> file column for ``table``; raises TableError on a missing mapped/required column
    (``made``: required columns ingest makes when the file lacks them: ids_from_rows' payment_id)."""
    spec = TABLES[table]
    rename: dict[str, str] = {}
    for canonical in spec.names:
        src = mapping.get(canonical, canonical)
        if src in present:
            rename[canonical] = src
        elif canonical in mapping:
            hint = title_lines_hint(path, [mapping.get(c, c) for c in spec.names if c in mapping])
            raise TableError(
                f"{label}: {path} has no column {src!r} (mapped to {table}.{canonical} in the source "
                f"config). Columns in the file: {present}. {hint.strip() or 'Fix the mapping under columns.'}"
            )
    missing = [c for c in spec.required if c not in rename and c not in made]
    if missing:
        raise TableError(
            f"{label}: {path} lacks {counted(len(missing), 'required column')} {missing} for table {table}. "
            "Columns in the "
            f"file: {present}. {_header_hint(path, present, missing)}Fix: add them to the file, or map them in "
            f"a source config (tables.{table}.columns: {{{missing[0]}: <your column name>}})."
        )
    if not mapping and set(rename) == set(spec.required):
        _check_other_table(present, table, label, path)
    return rename


def _check_other_table(present: list[str], table: str, label: str, path: Path) -> None:
    """Refuse a canonical file holding another table's columns and none of ``table``'s own beyond its
    required ones: the invoices file given as ``--debtors`` was read as 2,867 debtor rows of ids
    alone (2,807 quarantined as copies), names, segments and credit limits gone without a word."""
    own = TABLES[table]
    for other, spec in TABLES.items():
        if other == table or set(spec.required) <= set(own.names) or not set(spec.required) <= set(present):
            continue
        extra = [c for c in own.names if c not in own.required]
        raise TableError(
            f"{label}: {path} holds the columns of the {other} table ({', '.join(spec.required)}) and none of "
            f"the {table} table's own besides {', '.join(own.required)} ({', '.join(extra)}): it looks like the "
            f"{other} file given for {table}. Fix: pass this file as --{other.replace('_', '-')} and the "
            f"{table} file as --{table.replace('_', '-')} (or leave it out)"
        )


# Letters of other scripts drawn like Latin ones (a header typed on a Cyrillic or Greek keyboard, or
# pasted from a document): 'аmount' with a Cyrillic a looks like 'amount' in every message.
_LOOKALIKE = str.maketrans(
    "аеорсухіјѕԁһӏАВЕКМНОРСТХІЈЅαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdhlABEKMHOPCTXIJSabeiknoptuxABEHIKMNOPTYX",
)


def _ascii_fold(name: str) -> str:
    """``name`` with look-alike letters of other scripts and full-width forms made Latin, lower case."""
    return unicodedata.normalize("NFKC", name).translate(_LOOKALIKE).strip().lower()


def _foreign(name: str) -> str:
    """The non-ASCII characters of ``name`` by code point and Unicode name."""
    return ", ".join(
        f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in dict.fromkeys(name) if not c.isascii()
    )


def _options(source: SourceConfig, spec: Any) -> tuple[Any, ValueOptions]:
    """The csv and value options of one input (``source.options_for``), with Excel's ``sep=`` first
    line read (:func:`pipelines.sources.read.excel_sep`)."""
    from pipelines.sources.read import excel_sep, windows_1252

    csv_opts, values = source.options_for(spec)
    csv_opts = excel_sep(spec.path, spec.file_format(), csv_opts)
    return windows_1252(spec.path, spec.file_format(), csv_opts), values


def _cp1252_note(source: SourceConfig, spec: Any, csv_opts: Any) -> dict[str, int]:
    """``{"read_as_cp1252": n}`` (the repairs key) when :func:`pipelines.sources.read.windows_1252` read a
    file configured latin-1 as cp1252: its n bytes 0x80-0x9F; else ``{}``."""
    from pipelines.sources.read import windows_1252_count

    if csv_opts.encoding != "cp1252" or source.options_for(spec)[0].encoding == "cp1252":
        return {}
    return {"read_as_cp1252": windows_1252_count(Path(spec.path))}


def _header_hint(path: Path, present: list[str], missing: list[str]) -> str:
    """Why the required columns were not found, when it shows: names that differ only by letter case
    or spaces ('Invoice_Id'), or the canonical header further down the file (title lines above it)."""
    alike = {str(p).strip().lower(): str(p) for p in present}
    near = [f"{alike[m]!r} for {m!r}" for m in missing if m in alike]
    if near:
        return f"Column names are case-sensitive and exact: {', '.join(near)}. "
    folded = {_ascii_fold(str(p)): str(p) for p in present if not str(p).isascii()}
    near = [(folded[m], m) for m in missing if m in folded]
    if near:
        shown = ", ".join(f"{p!r} for {m!r} ({_foreign(p)})" for p, m in near)
        return f"These names only look like the required ones: {shown}: retype them in the header. "
    return title_lines_hint(path, missing)


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


Loader = Callable[[], dict[str, RawTable]]


def plan_loaders(
    source: SourceConfig, existing_only: bool = False
) -> tuple[dict[str, Loader], dict[str, str]]:
    """Check every input's header now; return a loader per input block and the block of each table.
    ``existing_only`` (``ews config check``): the inputs whose file is not found are passed over."""
    loaders: dict[str, Loader] = {}
    block_of: dict[str, str] = {}
    files: dict[str, list[tuple[str, Loader]]] = {}
    for table, key, spec in source.table_files():
        if existing_only and not Path(spec.path).exists():
            continue
        csv_opts, values = _options(source, spec)
        label = key if source.name != "files" else table
        present = check_columns(
            spec, preflight(spec.path, spec.file_format(), csv_opts, label), label, spec.path
        )
        made = ("payment_id",) if spec.ids_from_rows else ()
        rename = _resolve_columns(present, table, spec.columns, label, spec.path, made)
        join = _clearing_plan(source, spec, present, label) if spec.clearing is not None else None
        refs = None
        if spec.invoice_reference is not None:  # the invoices' numbers, read from their own input
            if spec.invoice_reference not in present:
                raise TableError(
                    f"{label}: {spec.path} has no column {spec.invoice_reference!r} ({label}.invoice_reference in "
                    f"the source config). Columns in the file: {present}. Fix the column name (as in the file's "
                    "header)."
                )
            inv = source.tables["invoices"]
            refs = (inv, _options(source, inv)[0])
        loader = _table_loader(table, spec, csv_opts, values, label, rename, present, join, refs)
        if note := _cp1252_note(source, spec, csv_opts):
            loader = _with_repairs(loader, note)
        files.setdefault(table, []).append((label, loader))
    for table, loads in files.items():
        loaders[f"tables.{table}"] = loads[0][1] if len(loads) == 1 else _combined(table, loads)
        block_of[table] = f"tables.{table}"
    if source.ar_export is not None and not (existing_only and not Path(source.ar_export.path).exists()):
        spec = source.ar_export
        csv_opts, values = _options(source, spec)
        present = check_columns(
            spec, preflight(spec.path, spec.file_format(), csv_opts, "ar_export"), "ar_export", spec.path
        )
        wanted = _ar_columns(present, spec, spec.path)
        loaders["ar_export"] = _ar_loader(spec, csv_opts, values, wanted, present)
        tables = ["invoices", "payments"]
        if "debtor_id" in wanted and set(wanted) & (set(TABLES["debtors"].names) - {"debtor_id"}):
            tables.append("debtors")
        block_of.update({t: "ar_export" for t in tables})
    if source.uci_wide is not None and not (existing_only and not Path(source.uci_wide.path).exists()):
        path = Path(source.uci_wide.path)
        present = preflight(path, "csv", source.csv, "uci_wide")
        missing = [c for c in UCI_REQUIRED if c not in present]
        if missing:
            raise TableError(
                f"uci_wide: {path} lacks {counted(len(missing), 'column')} {missing}; expected the layout of uci_credit_card.csv "
                "(ID, LIMIT_BAL, PAY_0, PAY_2..PAY_6, BILL_AMT1..6, PAY_AMT1..6)."
            )
        loaders["uci_wide"] = lambda: _load_uci(source)
        block_of.update({"statements": "uci_wide", "debtors": "uci_wide"})
    return loaders, block_of


def _with_repairs(loader: Loader, repairs: dict[str, int]) -> Loader:
    """``loader`` whose every table counts ``repairs`` besides its own."""

    def load() -> dict[str, RawTable]:
        tables = loader()
        for raw in tables.values():
            raw.repairs = {**raw.repairs, **repairs}
        return tables

    return load


def _table_loader(
    table: str,
    spec: FileSource,
    csv_opts: Any,
    values: ValueOptions,
    label: str,
    rename: dict[str, str],
    present: list[str],
    join: _ClearingPlan | None = None,
    refs: tuple[FileSource, Any] | None = None,
) -> Loader:
    def load() -> dict[str, RawTable]:
        whole = read_file(spec.path, spec.file_format(), csv_opts, label)
        raw, filtered = _shaped(whole, spec, csv_opts, label)
        pre_bad: dict[str, np.ndarray] = {}
        if spec.debit is not None and "amount" in rename:  # Odoo: amount = Credit - Debit
            raw, pre_bad = _net_debit(raw, rename["amount"], spec.debit, values)
        frame = raw.frame
        used = set(rename.values()) | ({spec.debit} if spec.debit is not None else set())
        mapped = pd.DataFrame({c: frame[src].reset_index(drop=True) for c, src in rename.items()})
        source_row, source_line, summary = raw.source_row, raw.source_line, None
        repairs = raw.repairs
        if spec.id_scope:  # numbers that restart per company code and year: qualified by those cells
            from pipelines.sources.rowids import scoped_ids

            own = "invoice_id" if table == "invoices" else "payment_id"
            if own in mapped:
                used |= set(spec.id_scope)
                mapped[own], scope_bad = scoped_ids(
                    mapped[own], frame, spec.id_scope, tuple(csv_opts.na_values)
                )
                pre_bad = {**pre_bad, **scope_bad}
        if spec.invoice_prefix is not None and "invoice_id" in mapped:  # NetSuite: 'Invoice #INV1001'
            cells = mapped["invoice_id"].astype("string")
            trimmed = cells.str.strip()
            mapped["invoice_id"] = cells.where(
                ~trimmed.str.startswith(spec.invoice_prefix).fillna(False),
                trimmed.str.slice(len(spec.invoice_prefix)),
            )
        if spec.other_side is not None:  # DATEV: an amount in Sollbetrag and in Habenbetrag
            used.add(spec.other_side)
            own = rename.get("amount")
            pre_bad = {**pre_bad, **_both_sides(frame, own, spec.other_side, values)}
        if refs is not None and spec.invoice_reference is not None and "invoice_id" in mapped:  # DATEV
            used.add(spec.invoice_reference)
            mapped["invoice_id"], taken = _by_reference(
                mapped["invoice_id"], frame[spec.invoice_reference], _invoice_numbers(refs, whole, spec)
            )
            if taken:
                repairs = {**repairs, "invoice_from_reference": taken}
        if spec.credit is not None:  # a ledger's credit memos: payments.kind credit, the other rows cash
            from pipelines.sources.rows import matches_in

            used |= set(spec.credit.columns())
            mapped["kind"] = pd.array(
                np.where(matches_in(frame, spec.credit), "credit", "cash"), dtype="string"
            )
        if spec.currency is not None and "currency" not in mapped:  # the file's one currency (Xero's base)
            mapped["currency"] = pd.array([spec.currency] * len(mapped), dtype="string")
        hashed = frame
        if spec.listed_under is not None and "debtor_id" in rename:  # QuickBooks: under the invoice it paid
            used |= {spec.listed_under.column, spec.listed_under.number}
            mapped["invoice_id"], under = _listed_under(
                whole, spec, csv_opts, label, raw, rename["debtor_id"]
            )
            repairs = {**repairs, "invoice_from_listing": int(under.notna().sum())}
            hashed = frame.assign(**{"\x00listed under": under.to_numpy()})  # one payment split over two
        if spec.ids_from_rows:  # payments exported without a number (QuickBooks' empty Num)
            from pipelines.sources.rowids import ids_from_rows

            mapped["payment_id"], made = ids_from_rows(
                hashed,
                mapped.get("payment_id"),
                rename.get("payment_id"),
                tuple(csv_opts.na_values),
                spec.ids_leave_out,
            )
            if made:
                repairs = {**repairs, "payment_id_from_row": made}
        applied = None
        if spec.applied_amount is not None and {"payment_id", "invoice_id", "amount"} <= set(mapped.columns):
            used.add(spec.applied_amount)  # NetSuite: one payment listed once per invoice it was applied to
            mapped, source_row, source_line, pre_bad, applied, left_out = _split_applied(
                mapped, frame[spec.applied_amount], source_row, source_line, pre_bad, values
            )
            filtered = dict(filtered or {})
            if left_out:
                filtered["payment_main_line"] = left_out
        if join is not None:
            mapped, source_row, source_line, summary, pos = _joined(
                join, whole, raw, mapped, values, csv_opts
            )
            pre_bad = {k: m[pos] for k, m in pre_bad.items()}
            used |= {
                join.column,
                join.key,
                *join.scope,
                *([join.clearing_date] if join.clearing_date else []),
            }
            filtered = filtered if filtered is not None else {}
            if refs is not None and spec.invoice_reference is not None:  # SAP: an open part payment's REBZG
                used.add(spec.invoice_reference)
                cleared = frame[join.column].iloc[pos].fillna("").astype(str).str.strip()
                mapped["invoice_id"], taken = _by_reference(
                    mapped["invoice_id"],
                    frame[spec.invoice_reference].iloc[pos].reset_index(drop=True),
                    _invoice_numbers(refs, whole, spec),
                    only=cleared.isin(["", "0"]).to_numpy(dtype=bool),
                )
                if taken:
                    repairs = {**repairs, "invoice_from_reference": taken}
        return {
            table: RawTable(
                table=table,
                frame=mapped,
                source_row=source_row,
                file=raw.path,
                values=values,
                malformed=_canonical_malformed(raw.malformed, rename),
                ignored_columns=[c for c in present if c not in used],
                column_map={c: src for c, src in rename.items() if c != src},
                rows_in=len(mapped) + len(raw.malformed),
                source_line=source_line,
                repairs=repairs,
                filtered=filtered,
                negate_amount=spec.negate_amount,
                clearing=summary,
                pre_bad=pre_bad,
                applied=applied,
                records=whole.rows_in,
            )
        }

    return load


def _combined(table: str, loads: list[tuple[str, Loader]]) -> Loader:
    """``more_files``: the table's files read one after the other into one :class:`RawTable`, each
    file's source rows offset by the records of the files before it (:meth:`RawTable.part_of` gives
    a row's file back), its options and counts kept in ``parts``."""

    def load() -> dict[str, RawTable]:
        raws = [(label, loader()[table]) for label, loader in loads]
        offset = 0
        parts: list[FilePart] = []
        frames, rows, lines, malformed = [], [], [], []
        for label, raw in raws:
            parts.append(
                FilePart(
                    path=raw.file,
                    offset=offset,
                    values=raw.values,
                    negate_amount=raw.negate_amount,
                    column_map=raw.column_map,
                    ignored_columns=raw.ignored_columns,
                    rows_in=raw.rows_in,
                    filtered=raw.filtered,
                    repairs=raw.repairs,
                    label=label,
                )
            )
            frames.append(raw.frame)
            rows.append(raw.source_row.astype(np.int64) + offset)
            lines.append(raw.source_line)
            if raw.malformed is not None and len(raw.malformed):
                m = raw.malformed.copy()
                m["source_row"] = m["source_row"].astype("int64") + offset
                malformed.append(m)
            offset += max(raw.records, int(raw.source_row.max()) if len(raw.source_row) else 0, raw.rows_in)
        columns = list(dict.fromkeys(c for f in frames for c in f.columns))
        if "kind" in columns:  # a file without `credit` holds cash only (its rows' kind is cash)
            frames = [
                f if "kind" in f.columns else f.assign(kind=pd.array(["cash"] * len(f), dtype="string"))
                for f in frames
            ]
        frame = pd.concat(
            [
                f.reindex(columns=columns).astype({c: "string" for c in columns if c not in f.columns})
                for f in frames
            ],
            ignore_index=True,
        )
        n = [len(f) for f in frames]
        pre_bad: dict[str, np.ndarray] = {}
        for k, (_label, raw) in enumerate(raws):
            for reason, mask in raw.pre_bad.items():
                if reason not in pre_bad:
                    pre_bad[reason] = np.zeros(len(frame), dtype=bool)
                start = sum(n[:k])
                pre_bad[reason][start : start + n[k]] = mask
        filtered: dict[str, int] | None = None
        repairs: dict[str, int] = {}
        applied: dict[str, int] | None = None
        for _label, raw in raws:
            if raw.filtered is not None:
                filtered = filtered or {}
                for key, v in raw.filtered.items():
                    filtered[key] = filtered.get(key, 0) + v
            for key, v in raw.repairs.items():
                repairs[key] = repairs.get(key, 0) + v
            if raw.applied:
                applied = applied or {}
                for key, v in raw.applied.items():
                    applied[key] = applied.get(key, 0) + v
        first = raws[0][1]
        return {
            table: replace(
                first,
                frame=frame,
                source_row=np.concatenate(rows) if rows else np.zeros(0, np.int64),
                source_line=None if any(x is None for x in lines) else np.concatenate(lines),
                malformed=pd.concat(malformed, ignore_index=True) if malformed else first.malformed,
                rows_in=sum(raw.rows_in for _label, raw in raws),
                repairs=dict(sorted(repairs.items())),
                filtered=dict(sorted(filtered.items())) if filtered is not None else None,
                applied=applied,
                pre_bad=pre_bad,
                negate_amount=False,
                records=offset,
                parts=parts,
            )
        }

    return load


def _listed_under(
    whole: RawFile, spec: FileSource, csv_opts: Any, label: str, raw: RawFile, customer: str
) -> tuple[pd.Series, pd.Series]:
    """``listed_under``: each payment row's invoice number, the nearest invoice row above it (in the
    file as read, its customer filled down) of the same customer; <NA> above the customer's first
    invoice (cash on account). Returned twice: as the payments' invoice_id, and as cells for the id
    hash (a payment split over two invoices is listed twice, once under each)."""
    from pipelines.config.source import RowCondition
    from pipelines.sources.parse import parse_text
    from pipelines.sources.rows import matches_in

    assert spec.listed_under is not None
    under = spec.listed_under
    filled, _ = _shaped(whole, spec.model_copy(update={"rows": None}), csv_opts, label)
    frame = filled.frame
    invoice = matches_in(frame, RowCondition(column=under.column, values=under.values))
    numbers = parse_text(frame[under.number], is_id=True)[0].astype("string")
    who = frame[customer].astype("string").str.strip() if customer in frame else None
    rows = filled.source_row[invoice]
    at = np.searchsorted(rows, raw.source_row, side="left") - 1  # the invoice row above each payment
    ok = at >= 0
    take = np.maximum(at, 0)
    inv_number = numbers[invoice].to_numpy(dtype=object)[take] if invoice.any() else np.full(len(at), None)
    if who is not None and invoice.any():
        mine = raw.frame[customer].astype("string").str.strip().to_numpy(dtype=object)
        theirs = who[invoice].to_numpy(dtype=object)[take]
        ok &= mine == theirs
    out = pd.Series(np.where(ok, inv_number, None), dtype="string")
    return out, out


def _both_sides(
    frame: pd.DataFrame, own: str | None, other: str, values: ValueOptions
) -> dict[str, np.ndarray]:
    """``other_side``: the rows with an amount other than 0 in their own amount column and in the other
    side's (a booking on both sides of a two-sided ledger: read as an invoice and as a payment of it, it
    would count twice). A cell that is not a number counts as filled (its own reason says more)."""
    from pipelines.sources.parse import parse_numbers

    def filled(column: str) -> np.ndarray:
        cells = frame[column]
        parsed, bad = parse_numbers(cells, values.decimal, values.thousands, values.thousands_grouping)
        number = parsed.to_numpy(dtype="float64", na_value=np.nan)
        written = cells.fillna("").astype(str).str.strip().ne("").to_numpy(dtype=bool)
        return written & (np.asarray(bad, dtype=bool) | (np.isfinite(number) & (number != 0)))

    both = filled(other) & (filled(own) if own is not None and own in frame else True)
    return {"both_sides": both} if both.any() else {}


def _invoice_numbers(refs: tuple[FileSource, Any], whole: Any, spec: FileSource) -> set[str]:
    """The invoice numbers of tables.invoices (its rows as filtered), as ingest writes ids."""
    from pipelines.sources.parse import parse_text

    inv, inv_csv = refs
    same = inv.path == spec.path  # read once: the payments read the same file
    raw_whole = whole if same else read_file(inv.path, inv.file_format(), inv_csv, "tables.invoices")
    raw, _ = _shaped(raw_whole, inv, inv_csv, "tables.invoices")
    column = inv.columns.get("invoice_id", "invoice_id")
    if column not in raw.frame:
        return set()
    ids, _ = parse_text(raw.frame[column], is_id=True)
    return {str(v) for v in ids.dropna().tolist()}


# the words of a reference cell: split at spaces and , ; : ( ) [ ] (an invoice number keeps its - / # .)
_REFERENCE_WORDS = re.compile(r"[\s,;:()\[\]]+")


def _one_number(text: str, numbers: set[str]) -> str | None:
    """The one invoice number of ``numbers`` among the words of a reference cell (a word's leading and
    trailing dots left out); None when it names none or several."""
    words = {w.strip(".") for w in _REFERENCE_WORDS.split(text)} & numbers
    return words.pop() if len(words) == 1 else None


def _by_reference(
    own: pd.Series, ref: pd.Series, numbers: set[str], only: np.ndarray | None = None
) -> tuple[pd.Series, int]:
    """``invoice_reference``: a row whose invoice_id names no invoice of the export takes the invoice its
    reference cell names, when that one is an invoice of the export; other rows keep theirs. ``only``:
    the rows that may (with clearing: those that name no clearing document)."""
    from pipelines.sources.parse import parse_text

    mine = parse_text(own, is_id=True)[0].astype("string")
    theirs = parse_text(ref, is_id=True)[0].astype("string")
    # Arrow look-ups against the numbers as one array: pandas' ``isin`` with a set made an Arrow scalar
    # of every invoice number per call (s44-scale: 8.5 of 17 CPU-s for 100,000 payments)
    ids = pd.Series(list(numbers), dtype="string")
    known = isin(mine, ids)
    named = isin(theirs, ids)
    # a reference written as text around the number ('Credit against INV-10234', 're: INV-10234.'): the
    # one invoice number of the export among its words (s43-walk: quarantined unknown_invoice before,
    # and each credited invoice stayed open by the credit, a default 90 days after its due date)
    rows = np.flatnonzero(~known & ~named & theirs.notna().to_numpy(dtype=bool))
    if len(rows):  # one pass over the texts, one write (each cell written alone copied the column: s44-scale)
        found = [_one_number(text, numbers) for text in theirs.iloc[rows].tolist()]
        hit = np.fromiter((f is not None for f in found), dtype=bool, count=len(found))
        if hit.any():
            theirs = theirs.copy()
            theirs.iloc[rows[hit]] = [f for f in found if f is not None]
            named[rows[hit]] = True
    take = ~known & named & (True if only is None else only)
    out = own.astype("string").copy()
    out[take] = theirs[take]
    return out, int(take.sum())


def _split_applied(
    mapped: pd.DataFrame,
    applied: pd.Series,
    source_row: np.ndarray,
    source_line: np.ndarray | None,
    pre_bad: dict[str, np.ndarray],
    values: ValueOptions,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, dict[str, np.ndarray], dict[str, int], int]:
    """``tables.payments.applied_amount`` (:func:`pipelines.sources.applied.split_applied`): the rows
    after the split, their source rows and lines, the row marks moved with them, the counts for the
    manifest and the number of main lines left out."""
    from pipelines.sources.applied import split_applied
    from pipelines.sources.parse import write_mills

    sp = split_applied(
        mapped["payment_id"],
        mapped["invoice_id"],
        mapped["amount"],
        applied.reset_index(drop=True),
        values.decimal,
        values.thousands,
        values.thousands_grouping,
    )
    pos = sp.positions
    out = mapped.iloc[pos].reset_index(drop=True)
    changed = np.asarray([v is not None for v in sp.payment_id], dtype=bool)
    if changed.any():
        ids = out["payment_id"].astype("string")
        ids[changed] = [v for v in sp.payment_id if v is not None]
        out["payment_id"] = ids
        mills = np.asarray([v for v in sp.amount if v is not None], dtype=np.int64)
        out["amount"] = write_mills(out["amount"], changed, mills, values.decimal)
        if sp.no_invoice.any():
            invoices = out["invoice_id"].astype("string")
            invoices[sp.no_invoice] = pd.NA
            out["invoice_id"] = invoices
    bad = {k: m[pos] for k, m in pre_bad.items()}
    for reason, mask in sp.bad.items():
        bad[reason] = bad.get(reason, np.zeros(len(pos), dtype=bool)) | mask
    lines = None if source_line is None else source_line[pos]
    return out, source_row[pos], lines, bad, sp.summary(), sp.main_lines_left_out


def _net_debit(raw: Any, amount: str, debit: str, values: ValueOptions) -> tuple[Any, dict[str, np.ndarray]]:
    """``tables.payments.debit``: each row's amount cell replaced by the credit (``amount``) less the
    debit, written as text in the file's decimal notation, where the debit cell holds a number other
    than 0 (elsewhere the cell stays as written, so a file without debits reads as before). A debit
    that is not a number marks the row ``unparseable_number:debit`` (quarantined, not read as 0)."""
    import dataclasses

    from pipelines.sources.parse import parse_numbers, to_mills, write_mills

    frame = raw.frame
    deb, deb_bad = parse_numbers(frame[debit], values.decimal, values.thousands, values.thousands_grouping)
    cred, cred_bad = parse_numbers(frame[amount], values.decimal, values.thousands, values.thousands_grouping)
    d = deb.to_numpy(dtype="float64", na_value=np.nan)
    c = cred.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.asarray(deb_bad, dtype=bool)
    rows = ~bad & np.isfinite(d) & (d != 0) & ~np.asarray(cred_bad, dtype=bool)
    if not rows.any():
        return raw, ({"unparseable_number:debit": bad} if bad.any() else {})
    mills = (to_mills(np.nan_to_num(c[rows])) - to_mills(d[rows])).astype(np.int64)
    frame = frame.copy()
    frame[amount] = write_mills(frame[amount], rows, mills, values.decimal)
    return dataclasses.replace(raw, frame=frame), ({"unparseable_number:debit": bad} if bad.any() else {})


@dataclass
class _ClearingPlan:
    """What the payments' clearing join needs: the invoices' input and the columns of both."""

    invoices: FileSource
    inv_csv: Any
    inv_label: str
    column: str
    key: str
    invoice_id: str
    invoice_amount: str
    payment_id: str
    payment_amount: str
    negate: bool
    invoice_currency: str | None = None
    payment_currency: str | None = None
    default_currency: str | None = None
    issue_date: str | None = None  # the invoices' issue date column and its pandas format
    issue_format: str = "ISO8601"
    paid_on: str | None = None  # the payments' date column and its pandas format
    paid_format: str = "ISO8601"
    prepayment_days: int = 0
    due_date: str | None = None  # the invoices' due date column and its pandas format
    due_format: str = "ISO8601"
    scope: tuple[str, ...] = ()  # columns qualifying references and keys (clearing.scope)
    clearing_date: str | None = None  # the day a row was cleared (clearing.date): payments.allocated_on
    cleared_format: str = "ISO8601"  # its pandas format (allocated_on's: paid_on's unless given)
    payment_scoped: bool = False  # tables.payments.id_scope: the pieces are named by the qualified ids


def _clearing_plan(source: SourceConfig, spec: FileSource, present: list[str], label: str) -> _ClearingPlan:
    """The join of ``tables.payments.clearing`` (the config validated that tables.invoices reads the
    same file); raises TableError naming a column the file lacks."""
    assert spec.clearing is not None
    inv = source.tables["invoices"]
    inv_csv, inv_values = _options(source, inv)
    _, pay_values = _options(source, spec)
    key = spec.clearing.key or spec.columns.get("payment_id", "payment_id")
    wanted = {
        f"{label}.clearing.column": spec.clearing.column,
        f"{label}.clearing.key": key,
        "tables.invoices.columns.invoice_id": inv.columns.get("invoice_id", "invoice_id"),
        "tables.invoices.columns.amount": inv.columns.get("amount", "amount"),
    }
    for i, column in enumerate(spec.clearing.scope):
        wanted[f"{label}.clearing.scope[{i}]"] = column
    if spec.clearing.date is not None:
        wanted[f"{label}.clearing.date"] = spec.clearing.date
    for where, column in wanted.items():
        if column not in present:
            raise TableError(
                f"{label}: {spec.path} has no column {column!r} ({where} in the source config). Columns in "
                f"the file: {present}. Fix the column name (as in the file's header)."
            )
    return _ClearingPlan(
        invoices=inv,
        inv_csv=inv_csv,
        inv_label="tables.invoices",
        column=spec.clearing.column,
        key=key,
        invoice_id=wanted["tables.invoices.columns.invoice_id"],
        invoice_amount=wanted["tables.invoices.columns.amount"],
        payment_id=spec.columns.get("payment_id", "payment_id"),
        payment_amount=spec.columns.get("amount", "amount"),
        negate=spec.negate_amount,
        invoice_currency=inv.columns.get("currency") if "currency" in inv.columns else None,
        payment_currency=spec.columns.get("currency") if "currency" in spec.columns else None,
        default_currency=source.default_currency,
        issue_date=inv.columns.get("issue_date", "issue_date"),
        issue_format=inv_values.strptime("issue_date"),
        paid_on=spec.columns.get("paid_on", "paid_on"),
        paid_format=pay_values.strptime("paid_on"),
        prepayment_days=source.rules.prepayment_days,
        due_date=inv.columns.get("due_date", "due_date"),
        due_format=inv_values.strptime("due_date"),
        scope=spec.clearing.scope,
        clearing_date=spec.clearing.date,
        cleared_format=pay_values.strptime("allocated_on"),
        payment_scoped=bool(spec.id_scope),
    )


def _days(frame: pd.DataFrame, column: str | None, fmt: str) -> np.ndarray | None:
    """A date column as day numbers (NaN where empty or unparseable: no constraint), None without it."""
    from pipelines.sources.parse import parse_dates

    if column is None or column not in frame:
        return None
    parsed, _, _ = parse_dates(frame[column], fmt)
    days = parsed.to_numpy(dtype="datetime64[D]").astype("datetime64[D]")
    out = days.astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out


def _scope(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray | None:
    """Each row's cells of the ``clearing.scope`` columns, trimmed and joined (None without any)."""
    if not columns:
        return None
    parts = [frame[c].astype("string").str.strip().fillna("") for c in columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + "\x1e" + part
    return text.to_numpy(dtype=object)


def _joined(
    join: _ClearingPlan,
    whole: RawFile,
    raw: RawFile,
    mapped: pd.DataFrame,
    values: ValueOptions,
    csv_opts: Any,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, dict[str, Any], np.ndarray]:
    """The payments with the invoice each cleared (:func:`pipelines.sources.clearing.join_clearing`):
    a payment clearing several invoices split into one row per invoice, on its own source row (the
    last item: each output row's position in ``mapped``). Ids qualified by ``id_scope`` (the
    invoices' and the payments') name the invoices and the pieces."""
    from pipelines.sources.clearing import join_clearing

    inv_raw, _ = _shaped(whole, join.invoices, join.inv_csv, join.inv_label)
    invoice_ids = None
    if join.invoices.id_scope:
        from pipelines.sources.rowids import scoped_ids

        invoice_ids, _ = scoped_ids(
            inv_raw.frame[join.invoice_id],
            inv_raw.frame,
            join.invoices.id_scope,
            tuple(join.inv_csv.na_values),
        )
    payment_ids = mapped["payment_id"] if "payment_id" in mapped and join.payment_scoped else None
    result = join_clearing(
        inv_raw.frame,
        raw.frame,
        column=join.column,
        key=join.key,
        invoice_id=join.invoice_id,
        invoice_amount=join.invoice_amount,
        payment_id=join.payment_id,
        payment_amount=join.payment_amount,
        decimal=values.decimal,
        thousands=values.thousands,
        grouping=values.thousands_grouping,
        negate=join.negate,
        invoice_currency=join.invoice_currency,
        payment_currency=join.payment_currency,
        default_currency=join.default_currency,
        issue_day=_days(inv_raw.frame, join.issue_date, join.issue_format),
        paid_day=_days(raw.frame, join.paid_on, join.paid_format),
        prepayment_days=join.prepayment_days,
        due_day=_days(inv_raw.frame, join.due_date, join.due_format),
        invoice_scope=_scope(inv_raw.frame, join.scope),
        payment_scope=_scope(raw.frame, join.scope),
        clearing_date=join.clearing_date,
        invoice_cleared_day=_days(inv_raw.frame, join.clearing_date, join.cleared_format),
        payment_cleared_day=_days(raw.frame, join.clearing_date, join.cleared_format),
        invoice_ids=invoice_ids,
        payment_ids=payment_ids,
    )
    pos = result.positions
    out = mapped.iloc[pos].reset_index(drop=True)
    out["invoice_id"] = pd.array(result.invoice_id, dtype="string")
    if join.clearing_date is not None:  # the day each allocation was made: before it, cash on account
        out["allocated_on"] = pd.array(result.allocated_on, dtype="string")
    for column, new in (("payment_id", result.payment_id), ("amount", result.amount)):
        given = pd.Series(new, dtype="object")
        if given.notna().any():
            out[column] = out[column].astype("string").where(given.isna().to_numpy(), given.astype("string"))
    source_line = None if raw.source_line is None else raw.source_line[pos]
    summary = result.summary(join.column, join.key)
    if result.scope_split:  # said by the ingest's warnings (pipelines.ingest.checks.table_warnings)
        summary["scope_differs"]["examples"] = _scope_examples(join, inv_raw, raw, result.scope_split)
    return out, raw.source_row[pos], source_line, summary, pos


def _scope_examples(
    join: _ClearingPlan, inv_raw: RawFile, raw: RawFile, split: list[tuple[list[int], list[int]]]
) -> list[str]:
    """The first clearings the scope split (see :func:`pipelines.sources.clearing.join_clearing`):
    the clearing reference, the lines of its payment and invoice rows, and the scope columns whose
    cells differ between them, with the cells."""

    def where(rows: RawFile, positions: list[int]) -> str:
        lines = rows.source_line if rows.source_line is not None else rows.source_row
        word = "line" if rows.source_line is not None else "row"
        nums = [str(int(lines[k])) for k in positions[:5]] + (["..."] if len(positions) > 5 else [])
        return f"{word}{'s' if len(positions) > 1 else ''} {', '.join(nums)}"

    def cells(frame: pd.DataFrame, column: str, positions: list[int]) -> list[str]:
        text = frame[column].iloc[positions].astype("string").str.strip().fillna("")
        return list(dict.fromkeys(text.tolist()))

    out = []
    for ps, is_ in split[:5]:
        number = cells(raw.frame, join.column, ps)[0]
        differ = []
        for column in join.scope:
            mine, theirs = cells(raw.frame, column, ps), cells(inv_raw.frame, column, is_)
            if set(mine) != set(theirs):
                shown = ", ".join(repr(v) if v else "empty" for v in mine)
                other = ", ".join(repr(v) if v else "empty" for v in theirs)
                differ.append(f"{column!r} {shown} on the payment's, {other} on the invoices'")
        out.append(
            f"{join.column} {number!r}: payment {where(raw, ps)}, invoice {where(inv_raw, is_)} ("
            + ("; ".join(differ) or "the scope cells differ")
            + ")"
        )
    return out


def _shaped(
    raw: RawFile, spec: FileSource, csv_opts: Any, label: str
) -> tuple[RawFile, dict[str, int] | None]:
    """The file with the input's row options applied (:func:`pipelines.sources.rows.shape_rows`) and
    the rows left out by reason; None when the input has no row options."""
    if not (spec.fill_down or spec.rows is not None):
        return raw, None
    return shape_rows(raw, spec, tuple(csv_opts.na_values), csv_opts.delimiter, label)


def _ar_loader(
    spec: ARExportSource, csv_opts: Any, values: ValueOptions, wanted: dict[str, str], present: list[str]
) -> Loader:
    def load() -> dict[str, RawTable]:
        raw, filtered = _shaped(
            read_file(spec.path, spec.file_format(), csv_opts, "ar_export"), spec, csv_opts, "ar_export"
        )
        frame, scope_bad = raw.frame, {}
        if spec.id_scope:  # numbers that restart per company code and year: qualified by those cells
            from pipelines.sources.rowids import scoped_ids

            frame = frame.copy()
            frame[wanted["invoice_id"]], scope_bad = scoped_ids(
                frame[wanted["invoice_id"]], frame, spec.id_scope, tuple(csv_opts.na_values)
            )
        parts = split_ar_export(
            frame,
            wanted,
            spec.settled_on,
            spec.settled_amount,
            spec.payment_id_suffix,
            values.decimal,
            values.thousands,
            values.thousands_grouping,
        )
        used = set(wanted.values()) | {c for c in (spec.settled_on, spec.settled_amount) if c}
        used |= set(spec.id_scope)
        ignored = [c for c in present if c not in used]
        out: dict[str, RawTable] = {}
        for table, (frame, positions) in parts.items():
            malformed = _canonical_malformed(raw.malformed, wanted) if table == "invoices" else None
            out[table] = RawTable(
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
                filtered=filtered if table == "invoices" else None,
                pre_bad={k: m[positions] for k, m in scope_bad.items()} if table == "invoices" else {},
            )
        return out

    return load


def _canonical_malformed(malformed: pd.DataFrame, rename: dict[str, str]) -> pd.DataFrame:
    """The malformed rows with their salvaged values under canonical column names."""
    fixed = ["source_row", "source_line", "raw_line", "reason", "detail"]
    values = {c: malformed[src] for c, src in rename.items() if src in malformed.columns and c not in fixed}
    return pd.DataFrame({**{c: malformed[c] for c in fixed}, **values})


def _load_uci(source: SourceConfig) -> dict[str, RawTable]:
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
        "statements": RawTable(
            "statements",
            data.statements,
            np.repeat(rows, 6),
            path,
            ValueOptions(),
            pre_bad={f"unparseable_number:{c}": m for c, m in data.unparseable.items()},
            rows_in=len(data.statements),
        ),
        "debtors": RawTable(
            "debtors",
            data.debtors,
            rows,
            path,
            ValueOptions(),
            pre_bad={"unparseable_number:credit_limit": data.unparseable["credit_limit"][::6]},
            rows_in=len(data.debtors),
        ),
    }


# the columns whose cells a quarantined row shows as written even when a later check rejects it
WRITTEN_COLUMNS = ("amount",)


def slim(raw: RawTable, masks: dict[str, np.ndarray]) -> RawTable:
    """Keep only the raw values of rows rejected so far (quarantine shows them as read), and the
    text of every row's amount cell (:data:`WRITTEN_COLUMNS`, when read as text: a CSV's "1,600.00";
    a Parquet file's numbers are their own text): a row a cross-table check rejects later
    (``currency_mismatch``, ``unknown_debtor``, ...) shows it as the file wrote it."""
    kept = np.flatnonzero(~passing(masks, len(raw.frame)))
    written = {
        c: raw.frame[c].reset_index(drop=True)
        for c in WRITTEN_COLUMNS
        if c in raw.frame.columns and not pd.api.types.is_numeric_dtype(raw.frame[c].dtype)
    }
    return replace(
        raw, frame=raw.frame.iloc[kept].reset_index(drop=True), kept=kept, pre_bad={}, written=written or None
    )


def check_inputs(source: SourceConfig) -> list[tuple[str, Path]]:
    """What ``ews config check`` checks of a source's files: each existing input's header against the
    mapping and the row options (:class:`TableError` on the first problem). The inputs not found are
    returned as (block, path): their headers cannot be checked (the paths may be given with
    ``--path`` at ingest); the others are checked all the same."""
    missing = [(block, Path(p)) for block, p in input_blocks(source) if not Path(p).exists()]
    plan_loaders(source, existing_only=True)
    return missing


def input_blocks(source: SourceConfig) -> list[tuple[str, Path]]:
    """Every input of a source config as (block, file): ``tables.<t>``, ``ar_export``, ``uci_wide``."""
    out = [(key, Path(src.path)) for _t, key, src in source.table_files()]
    out += [
        (name, Path(blk.path))
        for name, blk in (("ar_export", source.ar_export), ("uci_wide", source.uci_wide))
        if blk is not None
    ]
    return out


def input_paths(source: SourceConfig) -> list[Path]:
    """Every input file a source config reads."""
    paths = [src.path for _t, _key, src in source.table_files()]
    paths += [blk.path for blk in (source.ar_export, source.uci_wide) if blk is not None]
    return paths


# ---------------------------------------------------------------- chunked reading (streamed ingest)

ChunkLoader = Callable[[], Iterator[dict[str, RawTable]]]


class NotStreamable(Exception):
    """A CSV turned out not to be one record per line (quoted line breaks, broken rows, stray
    carriage returns): it must be read whole by the line-by-line reader instead."""


def chunk_loaders(
    source: SourceConfig, chunk_rows: int
) -> tuple[dict[str, ChunkLoader], dict[str, str], dict[str, ChunkLoader]]:
    """Like :func:`plan_loaders`, but each loader yields the block's tables in chunks of at most
    ``chunk_rows`` rows. A Parquet table file is read one slice of row groups at a time and a CSV
    table file one block of lines at a time (memory holds one chunk); a CSV that is not one record
    per line raises :class:`NotStreamable` (possibly after some chunks): the third dict then holds
    the loader that reads it whole with the line-by-line repairs. The AR export and the UCI file
    are read whole, as by :func:`plan_loaders`, and then handed on in chunks.

    Every chunk is a :class:`RawTable` whose ``source_row`` / ``source_line`` / ``pre_bad`` cover
    its rows; the table-level fields (file, mapping, ``malformed``, ``rows_in``, repairs) are those
    of the whole table.
    """
    loaders, block_of = plan_loaders(source)
    out: dict[str, ChunkLoader] = {}
    whole: dict[str, ChunkLoader] = {}
    for block, load in loaders.items():
        table = block.removeprefix("tables.") if block.startswith("tables.") else None
        spec = source.tables.get(table) if table is not None else None  # type: ignore[call-overload]
        whole[block] = _sliced(load, chunk_rows)
        if spec is not None and spec.shapes_rows():
            out[block] = whole[block]  # rows filtered or filled down: the file is read whole
        elif spec is not None and table is not None and spec.file_format() == "parquet":
            out[block] = _parquet_chunks(source, table, spec, chunk_rows)
        elif spec is not None and table is not None:
            out[block] = _csv_chunks(source, table, spec, chunk_rows)
        else:
            out[block] = whole[block]
    return out, block_of, whole


def _sliced(load: Loader, chunk_rows: int) -> ChunkLoader:
    def chunks() -> Iterator[dict[str, RawTable]]:
        tables = load()
        for table, raw in tables.items():
            n = len(raw.frame)
            for start in range(0, max(n, 1), chunk_rows):
                stop = min(start + chunk_rows, n)
                yield {
                    table: replace(
                        raw,
                        frame=raw.frame.iloc[start:stop].reset_index(drop=True),
                        source_row=raw.source_row[start:stop],
                        source_line=None if raw.source_line is None else raw.source_line[start:stop],
                        pre_bad={k: m[start:stop] for k, m in raw.pre_bad.items()},
                    )
                }
            tables[table] = raw = replace(raw, frame=raw.frame.iloc[:0])  # let the memory go

    return chunks


def _parquet_chunks(source: SourceConfig, table: str, spec: FileSource, chunk_rows: int) -> ChunkLoader:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.sources.read import _parquet_error

    _csv, values = source.options_for(spec)
    label = f"tables.{table}" if source.name != "files" else table
    path = Path(spec.path)
    present = preflight(path, "parquet", _csv, label)
    rename = _resolve_columns(present, table, spec.columns, label, path)
    used = set(rename.values())

    def chunks() -> Iterator[dict[str, RawTable]]:
        try:
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            total = pf.metadata.num_rows
            batches = pf.iter_batches(
                batch_size=chunk_rows, columns=sorted(used, key=present.index), use_pandas_metadata=True
            )
            start = 0
            for batch in batches:
                frame = pa.Table.from_batches([batch]).replace_schema_metadata(schema.metadata).to_pandas()
                frame = frame.reset_index(drop=True)
                rows = np.arange(start + 1, start + len(frame) + 1, dtype=np.int64)
                start += len(frame)
                yield _chunk_table(table, frame, rename, present, path, values, rows, total)
            if total == 0:
                frame = schema.empty_table().to_pandas()
                yield _chunk_table(
                    table, frame, rename, present, path, values, np.zeros(0, dtype=np.int64), 0
                )
        except (OSError, pa.ArrowException) as exc:
            raise _parquet_error(path, label, exc) from None

    return chunks


def parquet_pieces(
    source: SourceConfig, block: str, chunk_rows: int
) -> list[tuple[int, int, Callable[[], dict[str, RawTable]]]] | None:
    """The chunks of a Parquet table block as ``(first row, rows, reader)``, cut at row-group
    boundaries (runs of row groups of about ``chunk_rows`` rows), so that each chunk can be read on
    its own, in any process. None: not a Parquet table file, or one row group (read it in batches
    with :func:`chunk_loaders`). Each reader returns what the batch reader returns for those rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.sources.read import _parquet_error

    table = block.removeprefix("tables.") if block.startswith("tables.") else None
    spec = source.tables.get(table) if table is not None else None  # type: ignore[call-overload]
    if spec is None or table is None or spec.file_format() != "parquet" or spec.shapes_rows():
        return None
    _csv, values = source.options_for(spec)
    label = f"tables.{table}" if source.name != "files" else table
    path = Path(spec.path)
    present = preflight(path, "parquet", _csv, label)
    rename = _resolve_columns(present, table, spec.columns, label, path)
    columns = sorted(set(rename.values()), key=present.index)
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as exc:
        raise _parquet_error(path, label, exc) from None
    if meta.num_row_groups < 2:
        return None
    total = meta.num_rows
    runs: list[list[int]] = [[]]
    sizes = [0]
    for g in range(meta.num_row_groups):
        if sizes[-1] >= chunk_rows:
            runs.append([])
            sizes.append(0)
        runs[-1].append(g)
        sizes[-1] += meta.row_group(g).num_rows

    def reader(groups: list[int], start: int) -> Callable[[], dict[str, RawTable]]:
        def read() -> dict[str, RawTable]:
            try:
                pf = pq.ParquetFile(path)
                got = pf.read_row_groups(groups, columns=columns, use_pandas_metadata=True)
                frame = (
                    got.replace_schema_metadata(pf.schema_arrow.metadata).to_pandas().reset_index(drop=True)
                )
            except (OSError, pa.ArrowException) as exc:
                raise _parquet_error(path, label, exc) from None
            rows = np.arange(start + 1, start + len(frame) + 1, dtype=np.int64)
            return _chunk_table(table, frame, rename, present, path, values, rows, total)

        return read

    out = []
    start = 0
    for groups, n in zip(runs, sizes, strict=True):
        out.append((start, n, reader(groups, start)))
        start += n
    return out


def _csv_chunks(source: SourceConfig, table: str, spec: FileSource, chunk_rows: int) -> ChunkLoader:
    """A clean CSV (one record per physical line, every record with the header's fields) read in
    blocks by pyarrow, with the cell conversion of the whole-file reader; anything else raises
    :class:`NotStreamable`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from pipelines.sources.read import (
        UNLIKE_KEY,
        _count_lines,
        _encoding_error,
        _has_empty_record,
        _tail_lines,
        cut_last_value,
        last_value_note,
    )
    from pipelines.sources.read import header_lines as read_header_lines

    csv_opts, values = _options(source, spec)
    label = f"tables.{table}" if source.name != "files" else table
    path = Path(spec.path)
    present = preflight(path, "csv", csv_opts, label)
    rename = _resolve_columns(present, table, spec.columns, label, path)
    header_lines = read_header_lines(path, csv_opts)

    def chunks() -> Iterator[dict[str, RawTable]]:
        lines, stray_cr = _count_lines(path, csv_opts.encoding)
        if lines is None or stray_cr:
            raise NotStreamable(table)
        tail = _tail_lines(path, csv_opts.encoding, header_lines)
        if tail is not None and cut_last_value(
            tail, len(present), csv_opts.delimiter, csv_opts.quotechar, csv_opts.na_values
        ):
            raise NotStreamable(table)  # the line-by-line read quarantines the cut record
        unlike = None if tail is None else last_value_note(tail, len(present), csv_opts)
        repairs = {} if unlike is None else {UNLIKE_KEY: unlike}  # as the whole read notes it
        repairs.update(_cp1252_note(source, spec, csv_opts))
        expected = lines - header_lines
        bad: list[int | None] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            bad.append(row.number)
            return "skip"

        def chunk(frame: pd.DataFrame, start: int) -> dict[str, RawTable]:
            rows = np.arange(start + 1, start + len(frame) + 1, dtype=np.int64)
            return _chunk_table(
                table, frame, rename, present, path, values, rows, expected, rows + header_lines, repairs
            )

        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(
                    column_names=present,
                    skip_rows=header_lines,
                    encoding=csv_opts.encoding,
                    use_threads=True,
                    block_size=min(1 << 24, max(1 << 12, 64 * chunk_rows)),
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=csv_opts.delimiter,
                    quote_char=csv_opts.quotechar,
                    newlines_in_values=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in present},
                    null_values=list(csv_opts.na_values),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            start = 0
            pending: list[pa.RecordBatch] = []
            for batch in reader:
                if bad or _has_empty_record(batch):  # `;;;;` lines are blank lines of the whole read
                    raise NotStreamable(table)
                pending.append(batch)
                if sum(len(b) for b in pending) >= chunk_rows:
                    frame = pa.Table.from_batches(pending).to_pandas(
                        types_mapper={pa.string(): pd.StringDtype()}.get
                    )
                    pending = []
                    yield chunk(frame, start)
                    start += len(frame)
            if bad:
                raise NotStreamable(table)
            if pending or start == 0:
                frame = pa.Table.from_batches(pending, reader.schema).to_pandas(
                    types_mapper={pa.string(): pd.StringDtype()}.get
                )
                yield chunk(frame, start)
                start += len(frame)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
                raise _encoding_error(path, csv_opts, label) from None
            raise NotStreamable(table) from None
        except UnicodeDecodeError:
            raise _encoding_error(path, csv_opts, label) from None
        if start != expected:
            raise NotStreamable(table)

    return chunks


def estimated_rows(source: SourceConfig) -> dict[str, int]:
    """Rows per canonical table, cheaply: Parquet metadata, else the file's line count (an upper
    bound for CSV: quoted line breaks count twice); an AR export counts for invoices and payments."""
    import pyarrow.parquet as pq

    def rows(path: Path, fmt: str) -> int:
        if fmt == "parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        count = 0
        with open(path, "rb") as fh:
            while block := fh.read(1 << 24):
                count += block.count(b"\n")
        return max(count - 1, 0)

    out: dict[str, int] = {}
    for table, _key, spec in source.table_files():
        out[table] = out.get(table, 0) + rows(Path(spec.path), spec.file_format())
    if source.ar_export is not None:
        n = rows(Path(source.ar_export.path), source.ar_export.file_format())
        out["invoices"] = out["payments"] = out["debtors"] = n
    if source.uci_wide is not None:
        n = rows(Path(source.uci_wide.path), "csv")
        out["debtors"], out["statements"] = n, 6 * n
    return out


def _chunk_table(
    table: str,
    frame: pd.DataFrame,
    rename: dict[str, str],
    present: list[str],
    path: Path,
    values: Any,
    rows: np.ndarray,
    rows_in: int,
    source_line: np.ndarray | None = None,
    repairs: dict[str, int] | None = None,
) -> dict[str, RawTable]:
    """One chunk of a streamed input as ``{table: RawTable}``: canonical names, source rows."""
    used = set(rename.values())
    return {
        table: RawTable(
            table=table,
            frame=pd.DataFrame({c: frame[src] for c, src in rename.items()}),
            source_row=rows,
            file=path,
            values=values,
            ignored_columns=[c for c in present if c not in used],
            column_map={c: src for c, src in rename.items() if c != src},
            rows_in=rows_in,
            source_line=source_line,
            repairs=dict(repairs or {}),
        )
    }


def given_columns(source: SourceConfig) -> dict[str, set[str]]:
    """The canonical columns today's inputs give, per table of ``tables`` (headers only, read again: a
    few bytes per file). A column counts as given when a file of the table has it (mapped or by its
    canonical name) or a file's option makes it: a clearing join or an invoice reference (``invoice_id``,
    ``allocated_on``), ``credit`` (``kind``), a file's ``currency``. AR exports and the UCI layout are
    left out (their columns are derived). For ``--keep-history``'s check of columns a rolling export
    lost (:func:`pipelines.ingest.history.refuse_lost_columns`)."""
    given: dict[str, set[str]] = {}
    for table, key, spec in source.table_files():
        csv_opts, _ = _options(source, spec)
        label = key if source.name != "files" else table
        present = check_columns(
            spec, preflight(spec.path, spec.file_format(), csv_opts, label), label, spec.path
        )
        columns = given.setdefault(table, set())
        columns.update(c for c in TABLES[table].names if spec.columns.get(c, c) in present)
        if spec.clearing is not None or spec.invoice_reference is not None or spec.listed_under is not None:
            columns.update({"invoice_id", "allocated_on"})
        if spec.credit is not None:
            columns.add("kind")
        if spec.currency is not None:
            columns.add("currency")
    return given
