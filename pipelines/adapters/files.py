"""Small storage adapters: atomic writes, file hashes, and reading an ingested portfolio back.

Every output file of ews goes through :func:`atomic_path`: it is written to a temporary file in the
destination folder and then moved into place with :func:`os.replace`, so a reader never sees a
half-written file, and it gets one mode, :data:`FILE_MODE` (0644 minus the umask). ``os.replace``
swaps a symlink at the destination itself and never writes through it.

:class:`OutputError` is the user-facing form of a failed write (read-only folder, a file in the way,
a full disk): one line naming the path, the cause and the fix.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import TABLES, dtypes
from features.tables import Portfolio

__all__ = [
    "FILE_MODE",
    "OutputError",
    "atomic_path",
    "conform",
    "find_table_files",
    "read_portfolio",
    "output_errors",
    "sha256_file",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
]

# File suffixes recognised when looking for canonical tables in a folder, in order of preference.
TABLE_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (streamed, constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    try:  # Linux: read it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o644 & ~_umask()
"""Mode of every output file: readable by the team, as any file the user creates (umask applied)."""


class OutputError(ValueError):
    """An output could not be written (a file in the way, no permission, disk full). For users."""


_FIXES = {
    errno.ENOSPC: "free disk space or choose a folder on another disk",
    errno.EDQUOT: "free space within your quota or choose another folder",
    errno.EFBIG: "the file is larger than this system allows; choose another folder or raise the file-size limit",
    errno.EACCES: "the folder is not writable for you; choose another folder or fix its permissions",
    errno.EPERM: "the folder is not writable for you; choose another folder or fix its permissions",
    errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
    errno.EEXIST: "a file is in the way; give a folder path",
    errno.ENOTDIR: "a file is in the way (part of the path is a file, not a folder); give a folder path",
    errno.EISDIR: "a folder is in the way of an output file; move it away",
}


@contextmanager
def output_errors(path: str | Path, option: str | None = "--out") -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into :class:`OutputError` naming ``option`` ``path``."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        cause = exc.strerror or str(exc) or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        fix = _FIXES.get(exc.errno or 0, "check the path, its permissions and the free disk space")
        name = f"{option} {path}" if option else str(path)
        raise OutputError(f"{name}: cannot write: {cause}{where}; {fix}") from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it gets :data:`FILE_MODE` and replaces
    ``path`` in one rename, on failure it is removed. Parent folders are created.

    An ``OSError`` while writing (disk full, no permission...) becomes an :class:`OutputError`.
    """
    path = Path(path)
    with output_errors(path, None):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    tmp = Path(name)
    try:
        with output_errors(path, None):
            yield tmp
            os.chmod(tmp, FILE_MODE)  # mkstemp creates 0600; outputs are meant to be shared
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(text.encode("utf-8"), path)


def write_parquet_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (index dropped) as Parquet atomically.

    The output is deterministic: the same frame always gives the same bytes.
    """
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="snappy")
    return Path(path)


def write_csv_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (index dropped) as UTF-8 CSV atomically."""
    return write_text_atomic(df.to_csv(index=False, lineterminator="\n"), path)


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return a copy of ``df`` with exactly the canonical columns and dtypes of ``table``.

    Columns are put in contract order; extra columns are dropped. Values must already be valid for
    their dtype (this is the last step of ingest, and what :func:`read_portfolio` applies on read).
    Missing canonical columns raise ``ValueError`` naming them.
    """
    spec = TABLES[table]
    missing = [c for c in spec.names if c not in df.columns]
    if missing:
        raise ValueError(f"{table}: missing canonical column(s) {missing}; present: {list(df.columns)}")
    out = {}
    for name, dtype in dtypes(table).items():
        col = df[name]
        if dtype == "datetime64[ns]":
            col = _storable_dates(pd.to_datetime(col), table, name)
        else:
            col = col.astype(dtype)
        out[name] = col.reset_index(drop=True)
    return pd.DataFrame(out)


def _storable_dates(col: pd.Series, table: str, name: str) -> pd.Series:
    """``col`` as ``datetime64[ns]`` days; a day outside 1677-09-22..2262-04-11 raises ``TableError``."""
    from pipelines.sources.parse import EARLIEST_DATE, LATEST_DATE
    from pipelines.sources.read import TableError

    if getattr(col.dt, "tz", None) is not None:
        col = col.dt.tz_localize(None)
    if col.dtype != "datetime64[ns]":
        outside = ((col < EARLIEST_DATE) | (col > LATEST_DATE)).to_numpy(dtype=bool, na_value=False)
        if outside.any():
            rows = np.flatnonzero(outside)
            raise TableError(
                f"{table}.{name}: {len(rows)} date(s) outside 1677-09-22..2262-04-11 (first: row "
                f"{rows[0] + 1}, {col.iloc[rows[0]]}). These tables were not checked by `ews ingest`: run "
                "`ews ingest --out DIR` on them first (it quarantines such rows) and use DIR."
            )
    return col.astype("datetime64[ns]").dt.normalize()


def find_table_files(folder: str | Path) -> dict[str, Path]:
    """Canonical table files present in ``folder``: ``{table: path}`` (``invoices.parquet`` or ``.csv``...)."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for table in TABLES:
        for suffix in TABLE_SUFFIXES:
            candidate = folder / f"{table}{suffix}"
            if candidate.is_file():
                found[table] = candidate
                break
    return found


def read_portfolio(folder: str | Path) -> Portfolio:
    """Read ``<folder>/{invoices,payments,debtors,events,statements}.parquet`` written by ingest.

    Absent tables are ``None``. Frames come back with the canonical dtypes of ``features.schema``.
    Raises ``FileNotFoundError`` when the folder holds none of them.
    """
    folder = Path(folder)
    frames: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        path = folder / f"{table}.parquet"
        if path.is_file():
            frames[table] = conform(pd.read_parquet(path), table)
    if not frames:
        raise FileNotFoundError(
            f"{folder}: no ingested tables found (expected invoices.parquet, payments.parquet, ... "
            "written by `ews ingest --out DIR`)"
        )
    return Portfolio(**frames)
