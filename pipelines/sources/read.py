"""Read one input file into a raw frame, raising :class:`TableError` for table-level defects.

CSV cells are read as text (nothing is guessed); Parquet keeps its types. Table-level defects (file
missing, empty, unreadable, wrong encoding, wrong delimiter, duplicated or missing columns) stop
the run with a message that names the file, the column and the fix. Rows with the wrong number of
fields are not table-level: they come back in ``malformed`` and are quarantined.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.config.source import CsvOptions

__all__ = ["RawFile", "TableError", "preflight", "read_file"]

_DELIMITER_NAMES = {",": "comma ','", ";": "semicolon ';'", "\t": "tab '\\t'", "|": "pipe '|'"}


class TableError(ValueError):
    """A whole input table is unusable. The message names the file, the column and the fix."""


@dataclass
class RawFile:
    """One file as read: ``frame`` (file column names), 1-based ``source_row`` per frame row, and
    the rows that could not be split into the header's columns (``malformed``: source_row, raw_line)."""

    path: Path
    frame: pd.DataFrame
    source_row: np.ndarray
    malformed: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"source_row": pd.Series([], dtype="int64"), "raw_line": []})
    )

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.malformed)


def _check_path(path: Path, label: str) -> None:
    if not path.exists():
        raise TableError(
            f"{label}: file {path} not found. Check the path (relative paths start at the current directory)."
        )
    if path.is_dir():
        raise TableError(f"{label}: {path} is a folder, expected a file")
    if path.stat().st_size == 0:
        raise TableError(
            f"{label}: file {path} is empty (0 bytes). Export the table again with a header row and data."
        )


def preflight(path: Path, fmt: str, options: CsvOptions, label: str) -> list[str]:
    """Cheap table-level checks (exists, not empty, readable header) -> the file's column names.

    Lets ingest stop on a bad file before it spends time on the others.
    """
    path = Path(path)
    _check_path(path, label)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            names = list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise _parquet_error(path, label, exc) from None
        names = [n for n in names if not n.startswith("__index_level_")]
        _check_unique_columns(names, path, label)
        return names
    return _header(path, options, label)


def read_file(path: Path, fmt: str, options: CsvOptions, label: str) -> RawFile:
    """Read ``path`` as ``fmt`` (``csv`` or ``parquet``); ``label`` names the table in messages."""
    path = Path(path)
    _check_path(path, label)
    if fmt == "parquet":
        return _read_parquet(path, label)
    return _read_csv(path, options, label)


def _parquet_error(path: Path, label: str, exc: Exception) -> TableError:
    return TableError(
        f"{label}: {path} is not a readable Parquet file ({type(exc).__name__}: {exc}). "
        "If it is a CSV, name it .csv or set format: csv in the source config."
    )


def _read_parquet(path: Path, label: str) -> RawFile:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise _parquet_error(path, label, exc) from None
    frame = frame.reset_index(drop=True)
    _check_unique_columns(list(frame.columns), path, label)
    return RawFile(path, frame, np.arange(1, len(frame) + 1, dtype=np.int64))


def _first_bad_byte(path: Path, encoding: str) -> tuple[int, int, str]:
    """(line number, byte offset, offending bytes) of the first decoding error in ``path``."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return line, exc.start, data[exc.start : exc.start + 4].hex(" ")
    return 0, -1, ""


def _encoding_error(path: Path, options: CsvOptions, label: str) -> TableError:
    line, offset, bad = _first_bad_byte(path, options.encoding)
    where = f" at line {line} (byte {offset}: {bad})" if offset >= 0 else ""
    return TableError(
        f"{label}: {path} is not valid {options.encoding} text{where}. Wrong encoding: save the file as UTF-8, "
        "or set csv.encoding in the source config (e.g. latin-1 or cp1252 for Excel exports)."
    )


def _check_unique_columns(names: list[str], path: Path, label: str) -> None:
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dups:
        raise TableError(f"{label}: {path} has duplicated column name(s) {dups}. Rename them in the file.")


def _header(path: Path, options: CsvOptions, label: str) -> list[str]:
    try:
        with open(path, encoding=options.encoding, newline="") as fh:
            for _ in range(options.skip_rows):
                fh.readline()
            line = fh.readline()
    except UnicodeDecodeError:
        raise _encoding_error(path, options, label) from None
    line = line.lstrip("\ufeff").rstrip("\r\n")
    if not line.strip():
        raise TableError(
            f"{label}: {path} has no header line"
            + (f" after skipping {options.skip_rows} line(s)" if options.skip_rows else "")
            + ". The first line must name the columns."
        )
    names = next(csv.reader(io.StringIO(line), delimiter=options.delimiter, quotechar=options.quotechar))
    names = [n.strip() for n in names]
    if len(names) == 1:
        counts = {d: line.count(d) for d in _DELIMITER_NAMES if d != options.delimiter}
        best = max(counts, key=lambda d: counts[d])
        if counts[best] > 0:
            shown = "\\t" if best == "\t" else best
            raise TableError(
                f"{label}: {path} looks delimited by {_DELIMITER_NAMES[best]}, not "
                f"{_DELIMITER_NAMES.get(options.delimiter, repr(options.delimiter))}: the header was read as one "
                f"column {names[0][:60]!r}. Wrong delimiter: set csv.delimiter: '{shown}' in the source config "
                "(for `ews ingest --invoices ...` files, save them comma-separated)."
            )
    if any(not n for n in names):
        blank = [i + 1 for i, n in enumerate(names) if not n]
        raise TableError(
            f"{label}: {path} header has empty column name(s) at position(s) {blank}. Name every column."
        )
    _check_unique_columns(names, path, label)
    return names


def _read_csv(path: Path, options: CsvOptions, label: str) -> RawFile:
    names = _header(path, options, label)
    bad_rows: list[tuple[int | None, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=options.skip_rows + 1,
                encoding=options.encoding,
                use_threads=threads,
                block_size=1 << 24,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=options.quotechar,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=list(options.na_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    try:
        table = read(True)
        if bad_rows and any(number is None for number, _ in bad_rows):
            bad_rows.clear()  # re-read single-threaded: only then does pyarrow report line numbers
            table = read(False)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
            raise _encoding_error(path, options, label) from None
        raise TableError(f"{label}: {path} could not be read as CSV: {exc}") from None
    except UnicodeDecodeError:
        raise _encoding_error(path, options, label) from None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    n_total = len(frame) + len(bad_rows)
    # pyarrow numbers rows by line, header included; data rows are numbered from 1.
    bad_index = np.array([int(n) - 1 - options.skip_rows for n, _ in bad_rows], dtype=np.int64)
    keep = np.ones(n_total + 1, dtype=bool)
    keep[0] = False
    keep[bad_index[(bad_index >= 1) & (bad_index <= n_total)]] = False
    source_row = np.flatnonzero(keep)[: len(frame)].astype(np.int64)
    malformed = pd.DataFrame(
        {
            "source_row": pd.Series(bad_index, dtype="int64"),
            "raw_line": pd.Series([t for _, t in bad_rows], dtype="string"),
        }
    )
    return RawFile(path, frame, source_row, malformed)
