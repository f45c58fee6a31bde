"""Read one input file into a raw frame, raising :class:`TableError` for table-level defects.

CSV cells are read as text (nothing is guessed); Parquet keeps its types. Table-level defects (file
missing, empty, unreadable, wrong encoding, wrong delimiter, duplicated or missing columns) stop
the run with a message that names the file, the column and the fix. Rows with the wrong number of
fields are not table-level: they come back in ``malformed`` and are quarantined.

A CSV is first read by pyarrow. When its physical lines do not match the records read (a quoted
value spans lines, a quote is never closed, a stray carriage return splits a record, blank lines),
the file is read again line by line: a quoted value may span lines only if the joined record has
the header's number of fields, and otherwise the line that opened the quote is quarantined
(``unterminated_quote``) and the lines after it are read on their own. A carriage return that is
not part of a line ending is read as a space. Every quarantined line carries its physical line
number (``source_line``, header and skipped lines counted).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.config.source import CsvOptions
from pipelines.words import counted

__all__ = ["RawFile", "TableError", "preflight", "read_file"]

_DELIMITER_NAMES = {",": "comma ','", ";": "semicolon ';'", "\t": "tab '\\t'", "|": "pipe '|'"}


class TableError(ValueError):
    """A whole input table is unusable. The message names the file, the column and the fix."""


def title_lines_hint(path: Path, names: list[str]) -> str:
    """'The header is on line N ...' when a line of the file's first 30 below its first holds every one
    of ``names`` (columns a config or the contract names; ``unnamed_<k>`` left out): a report's title
    lines above its header (QuickBooks, Xero: company, report name, dates), read as the header. ''
    when no line does, or for Parquet."""
    names = [n for n in names if n and not n.startswith("unnamed_")]
    if not names or path.suffix.lower() in (".parquet", ".pq"):
        return ""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            head = [fh.readline() for _ in range(30)]
    except OSError:
        return ""
    for number, line in enumerate(head[1:], start=2):
        cells = {c.strip().strip('"').strip() for c in line.replace(";", ",").replace("\t", ",").split(",")}
        if all(m in cells for m in names):
            return (
                f"The header is on line {number}: the file starts with {counted(number - 1, 'other line')} (a title such "
                f"as {head[0].strip()[:60]!r}): delete them, or set csv.skip_rows: {number - 1} in a source config "
                "(`ews sources suggest FILE` drafts one). "
            )
    return ""


# A quoted value may hold line breaks (addresses); one spanning more lines than this is taken for
# an unterminated quote.
MAX_LINES_PER_RECORD = 20


def _malformed_frame(
    rows: list[tuple[int, int, str, str, str]],
    names: list[str] | None = None,
    options: CsvOptions | None = None,
) -> pd.DataFrame:
    """``(source_row, source_line, raw_line, reason, detail)`` tuples as the ``malformed`` frame.

    With ``names``, it also has one column per header name holding the values that can be told
    apart in spite of the damage: the leading fields before the first one with a quote character
    (so that a debtor id on a broken line is still known, and its invoices are not called unknown).
    """
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    out = pd.DataFrame(
        {
            "source_row": pd.Series(cols[0], dtype="int64"),
            "source_line": pd.Series(cols[1], dtype="int64"),
            "raw_line": pd.Series(cols[2], dtype="string"),
            "reason": pd.Series(cols[3], dtype="string"),
            "detail": pd.Series(cols[4], dtype="string"),
        }
    )
    if names and options is not None:
        lead: list[list[str]] = []
        for line in cols[2]:
            fields = line.split(options.delimiter)[: len(names)]
            quoted = [k for k, f in enumerate(fields) if options.quotechar in f]
            lead.append(fields[: quoted[0]] if quoted else fields)
        for k, name in enumerate(names):
            values = [
                f[k].strip() if k < len(f) and f[k].strip() not in options.na_values else None for f in lead
            ]
            out[name] = pd.Series(values, dtype="string")
    return out


@dataclass
class RawFile:
    """One file as read: ``frame`` (file column names), 1-based ``source_row`` per frame row (the
    record's number among the data records), ``source_line`` (the physical line where the record
    starts, header counted; None for Parquet), the records that could not be split into the header's
    columns (``malformed``: source_row, source_line, raw_line, reason, detail) and ``repairs``
    (counts of values repaired while reading, e.g. ``stray_carriage_return``)."""

    path: Path
    frame: pd.DataFrame
    source_row: np.ndarray
    malformed: pd.DataFrame = field(default_factory=lambda: _malformed_frame([]))
    source_line: np.ndarray | None = None
    repairs: dict[str, int] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.malformed)


def _check_path(path: Path, label: str) -> None:
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long, no permission
        raise TableError(f"{label}: {path} cannot be opened: {path_problem(exc)}") from None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise TableError(
            f"{label}: {path} is {kind}, not a file: ews reads each input twice (hash, then rows), so save the "
            "table to a file first and pass that file"
        )
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


def path_problem(exc: BaseException) -> str:
    """One line for an OS error about a path itself (a symlink loop, a name too long), with the fix."""
    import errno

    code = getattr(exc, "errno", None)
    if code == errno.ELOOP or "Symlink loop" in str(exc):
        return "a symbolic link loop (a link that points back at itself, directly or through other links): fix or remove the link"
    if code == errno.ENAMETOOLONG:
        return "the name is too long for the file system (at most 255 bytes per name): choose a shorter name"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied: fix the permissions or choose another path"
    return str(getattr(exc, "strerror", None) or exc)


# (magic bytes at offset 0, what the file is, the fix); checked when a file is read as CSV or Parquet
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PAR1", "a Parquet file", "name it .parquet, or set format: parquet in the source config"),
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip FILE), then ingest the file inside"),
    (b"BZh", "bzip2-compressed", "decompress it first (bunzip2 FILE)"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz FILE)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it first (unzstd FILE)"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel (.xls) workbook",
        "save the sheet as CSV UTF-8 in Excel",
    ),
    (b"%PDF", "a PDF document", "export the table itself as CSV"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV or Parquet"),
)


def sniff(path: Path) -> tuple[str, str] | None:
    """What a file really is from its first bytes, and the fix, when it is not text or Parquet
    as its name claims: ``("gzip-compressed", "decompress it first ...")``; None for plain text."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    for magic, what, fix in _MAGIC:
        if head.startswith(magic):
            return what, fix
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        try:
            names = zipfile.ZipFile(path).namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "an Excel (.xlsx) workbook", "save the sheet as CSV UTF-8 in Excel (File > Save As)"
        if "[Content_Types].xml" in names:
            return "an Office document (zip)", "export the table as CSV"
        return "a zip archive", "unzip it first, then ingest the file inside"
    return None


def wide_text(head: bytes) -> tuple[str, str] | None:
    """(what, iconv's name) for text whose characters take 2 or 4 bytes (UTF-16 / UTF-32, with or
    without a byte order mark), from the file's first 8 bytes; None for any 8-bit text. Without a
    mark, UTF-16 of plain letters is valid UTF-8 (a zero byte after each letter) and was read as
    such: every date and flag unparseable, the encoding never named."""
    for mark, name in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if head.startswith(mark):
            return f"{name} text (byte order mark {mark.hex(' ')})", name
    if len(head) < 8:
        return None
    zero = [b == 0 for b in head[:8]]
    for pattern, name in (
        ((0, 1, 1, 1) * 2, "UTF-32LE"),
        ((1, 1, 1, 0) * 2, "UTF-32BE"),
        ((0, 1) * 4, "UTF-16LE"),
        ((1, 0) * 4, "UTF-16BE"),
    ):
        if zero == [bool(z) for z in pattern]:
            return f"{name} text without a byte order mark (zero bytes between the letters)", name
    return None


def _check_format(path: Path, fmt: str, label: str, encoding: str = "utf-8") -> None:
    """Stop a file whose bytes say it is something else than ``fmt``, naming what it is; also CSV
    text in UTF-16 / UTF-32 when ``encoding`` is an 8-bit one."""
    found = sniff(path)
    if (
        found is None
        and fmt != "parquet"
        and not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    ):
        with open(path, "rb") as fh:
            wide = wide_text(fh.read(8))
        if wide is not None:
            raise _wide_text_error(path, label, wide, encoding)
    if found is None or (fmt == "parquet" and found[0] == "a Parquet file"):
        return
    what, fix = found
    if fmt != "parquet" and what == "a Parquet file":
        raise TableError(f"{label}: {path} is a Parquet file, not CSV text: {fix}.")
    raise TableError(
        f"{label}: {path} is {what}, not {'a Parquet file' if fmt == 'parquet' else 'CSV text'}: {fix}."
    )


def excel_sep(path: Path, fmt: str, options: CsvOptions) -> CsvOptions:
    """``options`` for a CSV whose first line is Excel's ``sep=;`` hint (Excel writes and reads it):
    that line skipped and its delimiter used. Before, the header was read as one column 'sep='."""
    if fmt != "csv" or options.skip_rows or not Path(path).is_file():  # never open a FIFO: it would block
        return options
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return options  # named by the path checks
    found = re.match(rb"^(?:\xef\xbb\xbf)?sep=([,;|\t])\r?\n", head)
    if found is None:
        return options
    return options.model_copy(update={"skip_rows": 1, "delimiter": found.group(1).decode()})


# Bytes 0x80-0x9F: control characters in latin-1 (ISO-8859-1), printable in Windows-1252 (Excel's "CSV" on
# Windows): the euro sign, typographic quotes and dashes, the ellipsis. Five are undefined in Windows-1252.
_C1 = re.compile(rb"[\x80-\x9f]")
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def windows_1252_count(path: Path) -> int:
    """The bytes 0x80-0x9F of ``path`` (0 when it holds one of the five Windows-1252 leaves undefined).
    Read once per file version: an ingest asks for a table's options several times (its loader, the
    invoice numbers a payments table refers to, the streamed read, the repairs note), and each asked
    for a whole pass over a latin-1-configured export."""
    import os

    st = os.stat(path)
    return _c1_count(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _c1_count(path: str, size: int, mtime_ns: int) -> int:
    """:func:`windows_1252_count` of the file at ``path`` as it is at ``size`` and ``mtime_ns`` (the key)."""
    found = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            if _NOT_CP1252.search(block):
                return 0
            found += len(_C1.findall(block))
    return found


def windows_1252(path: Path, fmt: str, options: CsvOptions) -> CsvOptions:
    """``options`` read as cp1252 when they say latin-1 and the file holds bytes 0x80-0x9F, all defined in
    Windows-1252 (s44-attack: latin-1, the example configs' setting and the first encoding ews's advice
    named, read "1.234,56 €" as a number followed by a control character, so every amount written with the
    euro sign was quarantined unparseable_number, and "Müller „Bau“ – Nord" kept three control
    characters). Latin-1 and Windows-1252 agree on every other byte, so nothing else changes."""
    if fmt != "csv" or not Path(path).is_file():  # never open a FIFO: it would block
        return options
    try:
        if codecs.lookup(options.encoding).name != "iso8859-1" or not windows_1252_count(path):
            return options
    except (LookupError, OSError):
        return options  # named by the path and encoding checks
    return options.model_copy(update={"encoding": "cp1252"})


def preflight(path: Path, fmt: str, options: CsvOptions, label: str) -> list[str]:
    """Cheap table-level checks (exists, not empty, readable header) -> the file's column names.

    Lets ingest stop on a bad file before it spends time on the others.
    """
    path = Path(path)
    _check_path(path, label)
    _check_format(path, fmt, label, options.encoding)
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
    _check_format(path, fmt, label, options.encoding)
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


def _wide_text_error(path: Path, label: str, wide: tuple[str, str], encoding: str) -> TableError:
    what, name = wide
    source = '; Excel\'s "Unicode Text" or a PowerShell export' if name == "UTF-16" else ""
    what = what[:-1] + source + ")"
    return TableError(
        f"{label}: {path} is {what}, not {encoding.upper() if encoding.lower() == 'utf-8' else encoding}: "
        f'save it from Excel as "CSV UTF-8 (comma delimited)", or convert it '
        f"(iconv -f {name} -t UTF-8 FILE > FILE.utf8.csv)"
    )


def _encoding_error(path: Path, options: CsvOptions, label: str) -> TableError:
    with open(path, "rb") as fh:
        wide = wide_text(fh.read(8))
    if wide is not None:
        return _wide_text_error(path, label, wide, options.encoding)
    line, offset, bad = _first_bad_byte(path, options.encoding)
    where = f" at line {line} (byte {offset}: {bad})" if offset >= 0 else ""
    return TableError(
        f"{label}: {path} is not valid {options.encoding} text{where}. Wrong encoding: save the file as UTF-8, "
        "or set csv.encoding in the source config (e.g. cp1252 for Excel exports on Windows, or latin-1; "
        "`ews sources suggest FILE` drafts one that names it)."
    )


def _check_unique_columns(names: list[str], path: Path, label: str) -> None:
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dups:
        raise TableError(
            f"{label}: {path} has {counted(len(dups), 'duplicated column name')} {dups}. Rename them in the file."
        )


def _header_record(path: Path, options: CsvOptions, label: str) -> tuple[str, int]:
    """The header record after ``skip_rows`` lines, and the physical lines it spans: a quoted header
    cell may hold a line break (``"Invoice\nNo"``, a spreadsheet cell with wrapped text).

    The rule (as csv reads quotes): a quote opens a value only at the start of a field (``12" pipe``
    is a character), and the header is joined over lines only while such a quote is open. A joined
    header must also have as many fields as the record after it; else the quote was a stray one (a
    header cell ``"Amount`` never closed) and the first line alone is the header, so that no data
    line is swallowed into it."""
    delim, quote = options.delimiter, options.quotechar
    try:
        with open(path, encoding=options.encoding, newline="") as fh:
            for _ in range(options.skip_rows):
                fh.readline()
            line = fh.readline()
            span, stray = 1, False
            while _quote_open(line, delim, quote) and span < MAX_LINES_PER_RECORD:
                more = fh.readline()
                if not more:
                    break
                line, span = line + more, span + 1
            if span > 1 and not _quote_open(line, delim, quote):
                after = fh.readline()  # the record after the joined header (itself possibly joined)
                for _ in range(MAX_LINES_PER_RECORD - 1):
                    if not _quote_open(after, delim, quote):
                        break
                    more = fh.readline()
                    if not more:
                        break
                    after += more
                fields = len(_split_fields(line.rstrip("\r\n"), delim, quote))
                if after.strip() and fields != len(_split_fields(after.rstrip("\r\n"), delim, quote)):
                    stray = True
    except UnicodeDecodeError:
        raise _encoding_error(path, options, label) from None
    if stray or _quote_open(line, delim, quote):  # never closed, or a stray
        # quote: the first line alone (_header reads its quote as a character)
        line, span = line.splitlines(keepends=True)[0] if line else line, 1
    return line.lstrip("\ufeff").rstrip("\r\n"), span


def header_lines(path: Path, options: CsvOptions) -> int:
    """Physical lines above the first data record: ``skip_rows`` and the header's own."""
    return options.skip_rows + _header_record(path, options, "")[1]


def _header(path: Path, options: CsvOptions, label: str) -> list[str]:
    line, _span = _header_record(path, options, label)
    if not line.strip():
        raise TableError(
            f"{label}: {path} has no header line"
            + (f" after skipping {counted(options.skip_rows, 'line')}" if options.skip_rows else "")
            + ". The first line must name the columns."
        )
    if _quote_open(line, options.delimiter, options.quotechar):  # a stray quote that never closes
        # (`"Amount` in a header line): a character, dropped, not the start of a value that would
        # take the rest of the line
        names = [n.replace(options.quotechar, "") for n in line.split(options.delimiter)]
    else:
        names = next(csv.reader(io.StringIO(line), delimiter=options.delimiter, quotechar=options.quotechar))
    from pipelines.sources.parse import _INVISIBLE

    # as in the values: a zero-width space or direction mark in a name would hide the column; a line
    # break inside a quoted name (wrapped text in a spreadsheet cell) reads as one space
    names = [re.sub(_INVISIBLE, "", n).strip() for n in names]
    names = [re.sub(r"\s*[\r\n]+\s*", " ", n) if ("\n" in n or "\r" in n) else n for n in names]
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
    while len(names) > 1 and not names[-1] and any(names[:-1]):
        # trailing delimiters (Excel writes one per formatted empty column: `a;b;;;`); rows ending
        # in empty fields are repaired, a value under a nameless column stays a malformed row
        names = names[:-1]
    # a nameless column elsewhere (QuickBooks' first column holds its section labels) cannot be
    # mapped, so it is read as ``unnamed_<position>`` and ignored like any column not mapped
    names = [n or f"unnamed_{i + 1}" for i, n in enumerate(names)]
    _check_unique_columns(names, path, label)
    return names


# A file cut while it was written or copied (a full disk, a transfer stopped early) ends inside a
# record: the fields it lost are missing (a malformed row), but a cut inside the last field reads
# as a value (`30.27` cut to `3`). Many exports end without a line break (the UCI file does), so
# that alone is no defect: the last record is quarantined (``cut_last_line``) only when the file
# ends without a line break AND its last value ends unlike the last field of each of the records
# above it, which all end alike (see :func:`_end_form`), as one of them cut short would (a prefix).
CUT_CHECK_ROWS = 100  # the records above the last one that show its column's form
CUT_MIN_ROWS = 5  # fewer (non-empty) values above it: not judged


def _end_form(value: str) -> str:
    """The form of the end of a value: its last character that is not a digit (a letter as ``a``)
    and a ``9`` per digit after it: ``30.27`` -> ``.99``, ``-5.00`` -> ``.99``, ``1,234.50`` ->
    ``.99``, ``2025-06-30`` -> ``-99``, ``INV-0012`` -> ``-9999``, ``Acme GmbH`` -> ``a``;
    digits only -> ``''``. A value cut short loses its end: ``3`` (``''``), ``30.2`` (``.9``),
    ``2025-06-3`` (``-9``)."""
    k = len(value)
    while k and value[k - 1] in "0123456789":
        k -= 1
    if k == 0:
        return ""
    c = value[k - 1]
    return ("a" if c.isalpha() else c) + "9" * (len(value) - k)


def _shortened(form: str, full: str) -> bool:
    """Whether a value ending in ``form`` can be a value ending in ``full`` cut short (a prefix of
    it): not when ``full`` is digits only (a prefix of digits is digits, and ends alike), nor when
    both end in the same character and ``form`` has at least as many digits after it (``INV-10000``
    is no cut of an ``INV-9999``, ``30.275`` none of a ``30.27``)."""
    if not full:
        return False
    return form[:1] != full[:1] or len(form) < len(full)


def _last_field(line: str, ncols: int, delim: str, quote: str) -> str | None:
    """The value of the last column in a line of the header's fields (trailing delimiters allowed;
    quoted values before it, as generated exports quote their ids), stripped; None for any other
    line and for a quoted last value."""
    if not line:
        return None
    if quote in line:
        if quote in line.rsplit(delim, 1)[-1] or _quote_open(line, delim, quote):
            return None
        fields = _split_fields(line, delim, quote)
    else:
        fields = line.split(delim)
    if len(fields) < ncols or any(f.strip() for f in fields[ncols:]):
        return None
    return fields[ncols - 1].strip()


def cut_last_value(
    lines: list[str], ncols: int, delim: str, quote: str, na_values: Any = ()
) -> tuple[str, str, int] | None:
    """``(value, a value above, values compared)`` when the last of ``lines`` (data lines of a file
    that ends without a line break) looks cut inside its last field: the last
    :data:`CUT_CHECK_ROWS` plain records above it (at least :data:`CUT_MIN_ROWS` with a value in
    that column) all end in one form and the last value ends as a value of that form cut short
    (:func:`_shortened`). None otherwise."""
    if not lines:
        return None
    value = _last_field(lines[-1], ncols, delim, quote)
    if not value or value in na_values:
        return None
    forms: set[str] = set()
    example = ""
    seen = 0
    for line in reversed(lines[:-1]):
        above = _last_field(line, ncols, delim, quote)
        if not above or above in na_values:
            continue
        forms.add(_end_form(above))
        if len(forms) > 1:
            return None
        example = example or above
        seen += 1
        if seen == CUT_CHECK_ROWS:
            break
    if seen < CUT_MIN_ROWS or not _shortened(_end_form(value), forms.pop()):
        return None
    return value, example, seen


UNLIKE_SHARE = 0.05  # a last value whose end form fewer than this share of the values above share
UNLIKE_KEY = "last_value_unlike_column"  # RawFile.repairs: counted, not repaired (a warning)


def unlike_last_value(
    lines: list[str], ncols: int, delim: str, quote: str, na_values: Any = ()
) -> int | None:
    """For a file that ends without a line break whose column's values end in several forms (an
    export that drops trailing zeros: ``1796.2``, ``1321.3``, ``30.27``), so that
    :func:`cut_last_value` cannot judge it: the number of values above the last (of the last
    :data:`CUT_CHECK_ROWS`, at least 20) that end as it does, when that is under
    :data:`UNLIKE_SHARE` of them and its form is that of the column's most frequent form cut short
    (``30`` or ``3`` under mostly ``.99``). The row is kept: ingest only warns. None otherwise."""
    if not lines:
        return None
    value = _last_field(lines[-1], ncols, delim, quote)
    if not value or value in na_values:
        return None
    counts: dict[str, int] = {}
    seen = 0
    for line in reversed(lines[:-1]):
        above = _last_field(line, ncols, delim, quote)
        if not above or above in na_values:
            continue
        form = _end_form(above)
        counts[form] = counts.get(form, 0) + 1
        seen += 1
        if seen == CUT_CHECK_ROWS:
            break
    if seen < 20 or len(counts) < 2:
        return None
    top = min(counts, key=lambda f: (-counts[f], f))
    form = _end_form(value)
    same = counts.get(form, 0)
    if same >= UNLIKE_SHARE * seen or not _shortened(form, top):
        return None
    return same


def _tail_lines(path: Path, encoding: str, skip: int) -> list[str] | None:
    """The data lines at the end of a file that ends without a line break (enough of them for
    :func:`cut_last_value`); None when it ends with one, or for encodings where a line break is not
    the byte 0x0A (those files are read line by line, which judges the whole text)."""
    if "\n\r".encode(encoding, errors="replace") != b"\n\r":
        return None
    size = path.stat().st_size
    want = 4 * (CUT_CHECK_ROWS + 2)
    block = 1 << 16
    with open(path, "rb") as fh:
        fh.seek(max(size - 1, 0))
        if fh.read(1) in (b"\n", b"\r", b""):
            return None
        while True:
            start = max(size - block, 0)
            fh.seek(start)
            data = fh.read(size - start)
            if start == 0 or data.count(b"\n") >= want:
                break
            block *= 4
    text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
    if "\n" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    else:  # classic Mac: CR ends the lines
        lines = text.split("\r")
    return lines[skip:] if start == 0 else lines[1:]  # the first line of a block may be a part


def _read_csv(path: Path, options: CsvOptions, label: str) -> RawFile:
    names = _header(path, options, label)
    skip = header_lines(path, options)
    tail = _tail_lines(path, options.encoding, skip)
    if tail is not None and cut_last_value(
        tail, len(names), options.delimiter, options.quotechar, options.na_values
    ):
        return _read_csv_by_lines(path, options, label, names)  # it quarantines the cut record
    raw = _read_csv_whole(path, options, label, names, skip)
    unlike = None if tail is None else last_value_note(tail, len(names), options)
    if unlike is not None and UNLIKE_KEY not in raw.repairs:
        raw.repairs = {**raw.repairs, UNLIKE_KEY: unlike}
    return raw


def last_value_note(tail: list[str], ncols: int, options: CsvOptions) -> int | None:
    """:func:`unlike_last_value` of a file's tail lines with its options."""
    return unlike_last_value(tail, ncols, options.delimiter, options.quotechar, options.na_values)


def _read_csv_whole(path: Path, options: CsvOptions, label: str, names: list[str], skip: int) -> RawFile:
    try:
        table, bad_rows = _read_arrow(path, options, names, skip=skip, encoding=options.encoding)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
            raise _encoding_error(path, options, label) from None
        return _read_csv_by_lines(path, options, label, names)
    except UnicodeDecodeError:
        raise _encoding_error(path, options, label) from None
    lines, stray_cr = _count_lines(path, options.encoding)
    if bad_rows or lines is None or stray_cr or lines - skip != table.num_rows or _has_empty_record(table):
        return _read_csv_by_lines(path, options, label, names)
    # one physical line per record, each with the header's fields
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    source_row = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawFile(path, frame, source_row, source_line=source_row + skip)


def _has_empty_record(table: pa.Table | pa.RecordBatch) -> bool:
    """True when some record has no value at all (a line of delimiters: `;;;;`, Excel's padding)."""
    import pyarrow.compute as pc

    if table.num_rows == 0 or table.num_columns == 0:
        return False
    empty = pc.is_null(table.column(0))
    for col in table.columns[1:]:
        empty = pc.and_(empty, pc.is_null(col))
    return bool(pc.any(empty).as_py())


# pyarrow's read block; a record longer than about two blocks cannot be read in blocks (_read_csv_by_lines)
READ_BLOCK = 1 << 24


def _read_arrow(
    source: Path | io.BytesIO,
    options: CsvOptions,
    names: list[str],
    *,
    skip: int | None = None,
    encoding: str = "utf-8",
    block_size: int | None = None,
) -> tuple[pa.Table, list[tuple[int | None, str]]]:
    """pyarrow's read of ``source`` as text columns, and the rows it skipped (line number or None, text)."""
    bad_rows: list[tuple[int | None, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number, row.text))
        return "skip"

    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=options.skip_rows + 1 if skip is None else skip,
            encoding=options.encoding if skip is None else encoding,
            use_threads=True,
            block_size=block_size or READ_BLOCK,
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
    return table, bad_rows


def _count_lines(path: Path, encoding: str) -> tuple[int | None, int]:
    """(physical lines without trailing blank lines, carriage returns that end no line) of ``path``.

    Counted on the bytes, in blocks. ``None`` lines for encodings where a line break is not the
    byte 0x0A (UTF-16, UTF-32): those files are always read line by line.
    """
    if "\n\r".encode(encoding, errors="replace") != b"\n\r":
        return None, 0
    lf = cr = crlf = 0
    size = 0
    last = b""
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            size += len(block)
            lf += block.count(b"\n")
            n_cr = block.count(b"\r")
            if n_cr or last == b"\r":
                cr += n_cr
                crlf += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
            last = block[-1:]
            tail = (tail + block[-4096:])[-4096:]  # not a copy of each 16 MiB block (0.8 CPU-s per GiB)
    body = tail.rstrip(b"\r\n")
    if len(body) == 0 and size > len(tail):
        return None, 0  # more than 4 KiB of trailing line breaks: let the line reader sort it out
    if lf == 0:  # classic Mac: CR ends the lines
        return cr - tail[len(body) :].count(b"\r") + (1 if body else 0), 0
    return lf - tail[len(body) :].count(b"\n") + (1 if body else 0), cr - crlf


def _split_fields(record: str, delim: str, quote: str) -> list[str]:
    if quote not in record:
        return record.split(delim)
    return next(csv.reader([record], delimiter=delim, quotechar=quote))


def _quote_open(record: str, delimiter: str, quote: str) -> bool:
    """True when ``record`` ends inside a quoted value (a quote opens a value only at its start)."""
    inside = False
    at_start = True
    k, n = 0, len(record)
    while k < n:
        c = record[k]
        if inside:
            if c == quote:
                if k + 1 < n and record[k + 1] == quote:
                    k += 2
                    continue
                inside = False
        elif c == quote and at_start:
            inside = True
        else:
            at_start = c == delimiter
            k += 1
            continue
        at_start = False
        k += 1
    return inside


def _repair_records(
    lines: list[str], first: int, ncols: int, delim: str, quote: str
) -> tuple[dict[int, str], list[tuple[int, str, str, str]], list[tuple[int, int]], dict[str, int]]:
    """Decide the lines that are not plain records (a quote, or the wrong number of delimiters).

    Returns the records to use instead of a line (``{line index: record}``: a quoted value joined
    over lines, a trailing delimiter removed), the broken lines (index, text, reason, detail), the
    line ranges a quoted value took after its first line, and the repair counts.
    """
    nd = ncols - 1
    special = [
        i for i in range(first, len(lines)) if lines[i] and (quote in lines[i] or lines[i].count(delim) != nd)
    ]
    fixed: dict[int, str] = {}
    bad: list[tuple[int, str, str, str]] = []
    consumed: list[tuple[int, int]] = []
    repairs: dict[str, int] = {}

    def complete(line: str) -> bool:
        return quote not in line and line.count(delim) == nd

    next_free = first
    for i in special:
        if i < next_free:
            continue
        line = lines[i]
        j, record = i, line
        if quote in line:
            while (
                _quote_open(record, delim, quote) and j + 1 < len(lines) and j - i + 1 < MAX_LINES_PER_RECORD
            ):
                j += 1
                record += "\n" + lines[j]
            if j > i and (_quote_open(record, delim, quote) or complete(lines[i + 1])):
                j, record = i, line  # the quote never closes, or the next line is a record of its own
        if _quote_open(record, delim, quote):
            detail = f"line {i + 1}: a quote opens a value and is not closed on this line; the next lines are read on their own"
            bad.append((i, line, "unterminated_quote", detail))
            next_free = i + 1
            continue
        fields = _split_fields(record, delim, quote)
        if len(fields) > ncols and not any(fields[ncols:]):  # trailing delimiters (empty fields)
            repairs["trailing_delimiter"] = repairs.get("trailing_delimiter", 0) + 1
            for _ in range(len(fields) - ncols):
                record = record[: record.rfind(delim)]
            del fields[ncols:]
        if len(fields) != ncols:
            if j > i:  # the joined lines do not form one record: only the first line is broken
                detail = f"line {i + 1}: a quote opened here closes only on line {j + 1}, giving {counted(len(fields), 'field')} instead of {ncols}; the next lines are read on their own"
                bad.append((i, line, "unterminated_quote", detail))
                next_free = i + 1
                continue
            bad.append(
                (
                    i,
                    line,
                    "malformed_row",
                    f"line {i + 1}: {counted(len(fields), 'field')}, the header has {ncols}",
                )
            )
        else:
            if record != line:
                fixed[i] = record
            if j > i:
                consumed.append((i + 1, j))
        next_free = j + 1
    return fixed, bad, consumed, repairs


def _read_csv_by_lines(path: Path, options: CsvOptions, label: str, names: list[str]) -> RawFile:
    """Read a damaged CSV record by record; see the module docstring for the rules."""
    try:
        text = path.read_bytes().decode(options.encoding)
    except UnicodeDecodeError:
        raise _encoding_error(path, options, label) from None
    text = text.removeprefix("\ufeff")
    if "\n" in text:
        lines = text.split("\n")
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    else:
        lines = text.split("\r")
    while lines and lines[-1] == "":
        lines.pop()
    delim, quote = options.delimiter, options.quotechar
    stray_cr = sum(line.count("\r") for line in lines) if "\r" in text else 0
    lines = [line.replace("\r", " ") for line in lines] if stray_cr else lines
    first = header_lines(path, options)
    padding = 0
    for i in range(first, len(lines)):  # a line of delimiters only (`;;;;`) is a blank line
        if lines[i] and not lines[i].replace(delim, ""):
            lines[i] = ""
            padding += 1
    fixed, bad, consumed, repairs = _repair_records(lines, first, len(names), delim, quote)
    last = len(lines) - 1
    if text[-1:] not in ("\n", "\r") and last >= first and last not in {i for i, *_ in bad}:
        cut = cut_last_value(lines[first:], len(names), delim, quote, options.na_values)
        if cut is not None and not any(lo <= last <= hi for lo, hi in consumed):
            value, example, seen = cut
            detail = (
                f"line {last + 1}: the file ends inside this line (no line break after it), and its last value "
                f"{value!r} ({names[-1]}) ends unlike the {seen} values above it (such as {example!r}): the file "
                "was probably cut off while it was written or copied, and rows after this one may be missing "
                "too; export the file again"
            )
            bad.append((last, lines[last], "cut_last_line", detail))
    if padding:
        repairs["empty_record"] = padding
    if stray_cr:
        repairs["stray_carriage_return"] = stray_cr
    # records start on non-empty lines that no quoted value before them took
    start = np.fromiter((len(line) > 0 for line in lines), dtype=bool, count=len(lines))
    start[:first] = False
    for lo, hi in consumed:
        start[lo : hi + 1] = False
    row_of = np.cumsum(start)
    good_mask = start.copy()
    good_mask[[i for i, *_ in bad]] = False
    good_idx = np.flatnonzero(good_mask)
    good = (
        [fixed.get(i, lines[i]) for i in good_idx.tolist()]
        if fixed
        else [lines[i] for i in good_idx.tolist()]
    )
    good_row = row_of[good_idx]
    good_line = good_idx + 1
    bad = [(int(row_of[i]), i + 1, line, reason, detail) for i, line, reason, detail in bad]
    # the intact records, one per line again, go through pyarrow for the same cell conversion
    buffer = io.BytesIO(("\n".join(good) + "\n").encode("utf-8"))
    if good:
        try:
            table, still_bad = _read_arrow(buffer, options, names, skip=0)
        except pa.ArrowInvalid as exc:  # a record longer than a block (s44-attack: a 50 MB cell stopped the
            if "straddl" not in str(exc):  # ingest with pyarrow's "straddling object ... block boundaries")
                raise
            buffer.seek(0)  # the records are in memory already: one block holds them all
            whole = min(len(buffer.getbuffer()) + 1, (1 << 31) - 1)
            table, still_bad = _read_arrow(buffer, options, names, skip=0, block_size=whole)
        if still_bad:  # pragma: no cover - every record above has the header's field count
            raise TableError(f"{label}: {path} could not be read as CSV near line {good_line[0]}")
        frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    else:
        frame = pd.DataFrame({n: pd.Series([], dtype="string") for n in names})
    return RawFile(
        path,
        frame,
        good_row.astype(np.int64),
        _malformed_frame(bad, names, options),
        source_line=good_line.astype(np.int64),
        repairs=repairs,
    )
