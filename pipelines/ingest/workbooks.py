"""Excel workbooks given to ``ews ingest`` (``.xlsx`` / ``.xlsm``, as a table file or in a source config).

Each workbook's sheet is first written as a UTF-8 CSV in a scratch folder by the converter of ``ews
sources suggest`` (:func:`pipelines.sources.suggest.excel_to_csv`: dates as ``YYYY-MM-DD``, numbers
with a ``.`` decimal point, a merged range over several rows given to each of its rows), and that
CSV is ingested as any CSV is: the same reader, rules, quarantine and outputs, in memory or streamed.
The manifest, the quarantine's ``source_file`` and every message name the workbook (and its sheet),
never the scratch CSV, and the manifest's input hash is the workbook's, so a rerun on the same
workbook writes the same bytes. The scratch folder is removed when the ingest ends.

Which sheet: ``sheets`` (``--sheet NAME``, or ``--sheet TABLE=NAME`` per table), else the file's ``sheet:``
in the source config, else the workbook's only visible sheet holding cells; a workbook with several
such sheets is refused with their names.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config.source import FileSource, SourceConfig
from pipelines.sources.read import TableError

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted .xlsx is an OLE container, not a zip


@dataclass(frozen=True)
class Converted:
    """One workbook sheet read as CSV: the workbook, the sheet taken, the scratch CSV, notes."""

    workbook: Path
    sheet: str
    csv: Path
    notes: list[str] = field(default_factory=list)


# scratch CSV (as str) -> what it was converted from, while an ingest runs (read by the manifest and
# quarantine writers, also in the forked workers of a streamed ingest)
_CONVERTED: dict[str, Converted] = {}


def shown(path: Path | str) -> str:
    """The path a user gave for ``path``: the workbook for a scratch CSV, else ``path`` itself."""
    c = _CONVERTED.get(str(path))
    return str(c.workbook) if c is not None else str(path)


def read_from(path: Path | str) -> Path:
    """The file whose bytes the user gave: the workbook for a scratch CSV (its hash is recorded)."""
    c = _CONVERTED.get(str(path))
    return c.workbook if c is not None else Path(path)


def sheet_of(path: Path | str) -> str | None:
    """The sheet read from the workbook behind a scratch CSV; None for any other file."""
    c = _CONVERTED.get(str(path))
    return c.sheet if c is not None else None


def notes() -> list[str]:
    """What the conversions of this ingest noted (hidden sheets or rows, merged ranges filled)."""
    return [n for c in _CONVERTED.values() for n in c.notes]


def _is_workbook(spec: Any) -> bool:
    return spec is not None and Path(spec.path).suffix.lower() in EXCEL_SUFFIXES


def has_workbooks(source: SourceConfig) -> bool:
    return any(_is_workbook(s) for _t, _k, s in source.table_files()) or _is_workbook(source.ar_export)


def _rewrite(source: SourceConfig, move: Callable[[str, FileSource], FileSource]) -> SourceConfig:
    """``source`` with each file spec replaced by ``move(key, spec)`` (tables, their more_files, the AR export)."""
    tables = {}
    for table, spec in source.tables.items():
        more = tuple(move(f"{table}.more_files[{k}]", m) for k, m in enumerate(spec.more_files))
        tables[table] = move(table, spec).model_copy(update={"more_files": more})
    update: dict[str, Any] = {"tables": tables}
    if source.ar_export is not None:
        update["ar_export"] = move("ar_export", source.ar_export)
    moved = source.model_copy(update=update)
    moved._clearing_joins()  # model_copy skips the validators (as SourceConfig.with_paths)
    return moved


def as_given(source: SourceConfig) -> SourceConfig:
    """``source`` with the workbooks' paths back in place of the scratch CSVs (its config hash is the
    hash of what the user configured)."""
    if not _CONVERTED:
        return source
    return _rewrite(
        source,
        lambda _key, spec: (
            spec.model_copy(update={"path": _CONVERTED[str(spec.path)].workbook, "format": None})
            if str(spec.path) in _CONVERTED
            else spec
        ),
    )


def _sheet_for(key: str, sheets: str | dict[str, str] | None) -> str | None:
    if isinstance(sheets, str):
        return sheets
    if sheets:
        return sheets.get(key.split(".", 1)[0])
    return None


def sheets_with_data(path: Path) -> tuple[list[str], list[str]]:
    """(visible sheets holding at least one cell, hidden sheets) of a readable workbook."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        filled, hidden = [], []
        for ws in book.worksheets:
            if getattr(ws, "sheet_state", "visible") != "visible":
                hidden.append(ws.title)
                continue
            if any(v not in (None, "") for row in ws.iter_rows(values_only=True) for v in row):
                filled.append(ws.title)
    finally:
        book.close()
    return filled, hidden


def _check_workbook(path: Path, label: str) -> None:
    """Stop a workbook that cannot be opened, in one line with the fix."""
    import zipfile

    if not path.is_file():
        raise TableError(f"{label}: file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_OLE):
        raise TableError(
            f"{label}: {path} is password-protected (an encrypted workbook): ews cannot read it. Open it in "
            "Excel, remove the password (File > Info > Protect Workbook > Encrypt with Password: clear it), "
            "save it, then run `ews ingest` again"
        )
    from pipelines.sources.suggest import zip_bomb_problem

    if (bomb := zip_bomb_problem(path)) is not None:  # before testzip, which unpacks every part
        raise TableError(f"{label}: {bomb}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        names, bad = [], "?"
    if not names and head[:2] != b"PK":  # s44-attack: a CSV named .xlsx was "damaged, cut short, or ..."
        from pipelines.sources.read import sniff

        found = sniff(path)
        what, fix = found if found is not None else ("text (a CSV file?)", f"name it {path.stem}.csv")
        raise TableError(f"{label}: {path} is {what}, not an Excel workbook: {fix}")
    if bad is not None or "xl/workbook.xml" not in names:
        raise TableError(
            f"{label}: {path} is not a readable Excel workbook (damaged, cut short, or another file named "
            f"{path.suffix}): open it in Excel and save it again as .xlsx, or export it again"
        )


def _convert(key: str, spec: FileSource, sheet: str | None, folder: Path) -> Converted:
    from pipelines.sources.suggest import excel_to_csv

    path = Path(spec.path)
    label = f"tables.{key}" if key != "ar_export" else "ar_export"
    _check_workbook(path, label)
    try:
        filled, hidden = sheets_with_data(path)
    except Exception as exc:  # openpyxl's own errors on a zip that is not quite a workbook
        raise TableError(
            f"{label}: {path} is not a readable Excel workbook ({type(exc).__name__}): open it in Excel and "
            "save it again as .xlsx, or export it again"
        ) from None
    if sheet is None:
        if len(filled) > 1:
            raise TableError(
                f"{label}: {path} has {len(filled)} sheets with data ({', '.join(repr(n) for n in filled)}): "
                f"say which one holds the table, e.g. --sheet {filled[0]!r} (or --sheet "
                f"{key.split('.', 1)[0]}={filled[0]!r} for this file only; in a source config: sheet: "
                f"{filled[0]!r} beside its path)"
            )
        if not filled:
            also = f" (hidden sheets: {', '.join(repr(h) for h in hidden)}: --sheet NAME reads one)"
            raise TableError(f"{label}: {path} has no sheet with data" + (also if hidden else ""))
        sheet = filled[0]
    target = folder / f"{len(_CONVERTED)}" / f"{path.stem}.csv"
    target.parent.mkdir(parents=True)
    try:
        made = excel_to_csv(path, target, sheet)
    except ValueError as exc:
        said = str(exc).replace("then run `ews sources suggest` again", "then run `ews ingest` again")
        raise TableError(f"{label}: {said}") from None
    found = [n for n in made.notes if "hidden sheet" not in n]  # the sheet is said in the manifest
    return Converted(path, made.name, target, [f"{path}: {n}" for n in found])


@contextmanager
def workbooks_as_csv(
    source: SourceConfig, sheets: str | dict[str, str] | None = None, missing_ok: bool = False
) -> Iterator[SourceConfig]:
    """``source`` with each workbook replaced by a scratch CSV of its sheet, for the time of the block.
    ``sheets``: one sheet name for every workbook, or per table (``{"invoices": "Invoices"}``).
    ``missing_ok``: a workbook not found is left in place (`ews config check` names it as not checked).
    Messages raised in the block name the workbook and its sheet, not the scratch CSV."""
    if not has_workbooks(source):
        if sheets:
            raise TableError("--sheet applies to Excel workbooks (.xlsx): no input is one")
        yield source
        return
    folder = Path(tempfile.mkdtemp(prefix="ews-xlsx-"))
    try:

        def move(key: str, spec: FileSource) -> FileSource:
            if not _is_workbook(spec) or (missing_ok and not Path(spec.path).is_file()):
                return spec
            made = _convert(key, spec, _sheet_for(key, sheets) or spec.sheet, folder)
            _CONVERTED[str(made.csv)] = made
            return spec.model_copy(update={"path": made.csv, "format": "csv"})

        converted = _rewrite(source, move)
        try:
            yield converted
        except TableError as exc:
            raise TableError(_named(str(exc))) from None
    finally:
        _CONVERTED.clear()
        shutil.rmtree(folder, ignore_errors=True)


def _named(message: str) -> str:
    for csv_path, c in _CONVERTED.items():
        message = message.replace(csv_path, f"{c.workbook} (sheet {c.sheet!r})")
    return message
