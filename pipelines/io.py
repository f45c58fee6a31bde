"""Small storage adapters: atomic writes, file hashes, and reading an ingested portfolio back.

Everything here writes to a temporary file in the destination folder first and then moves it into
place with :func:`os.replace`, so a reader never sees a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import TABLES, dtypes
from features.tables import Portfolio

__all__ = [
    "conform",
    "find_table_files",
    "read_portfolio",
    "sha256_file",
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


def _atomic_target(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(tmp)


def write_bytes_atomic(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(text.encode("utf-8"), path)


def write_parquet_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (index dropped) as Parquet atomically.

    The output is deterministic: the same frame always gives the same bytes.
    """
    path = Path(path)
    fd, tmp = _atomic_target(path)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="snappy")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
