"""Atomic publication of a nightly run folder ``OUTDIR/<as_of>/``.

Layout::

    OUTDIR/
      2024-06-30 -> .versions/2024-06-30.3f9c...   (symlink: what readers see)
      .versions/2024-06-30.3f9c.../                (complete, immutable run outputs)
      .staging/2024-06-30.<id>/                    (a run being written; never read)
      .locks/2024-06-30.lock                       (held by the run for that date)

A run writes everything into a staging folder, renames it into ``.versions/`` and then swaps the
``OUTDIR/<as_of>`` symlink with one ``rename`` (``os.replace``), which POSIX makes atomic: a reader
sees either the previous complete folder or the new one, never a mix. A run killed at any point
leaves the previous folder in place; its leftovers are removed by the next run for that date.
A non-blocking ``flock`` on ``.locks/<as_of>.lock`` stops two runs for the same date; the kernel
releases it when the process dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

__all__ = ["RunLockedError", "latest_before", "publish", "run_lock", "staging_dir"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RunLockedError(RuntimeError):
    """Another run for the same as-of date is in progress."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def run_lock(out_dir: Path, as_of: date) -> Iterator[Path]:
    """Hold the lock for ``as_of`` under ``out_dir`` for the duration of the block.

    Raises :class:`RunLockedError` at once (no waiting) when another process holds it.
    """
    locks = Path(out_dir) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{as_of.isoformat()}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"another nightly run for {as_of.isoformat()} is in progress (pid {holder}, lock {path}); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _cleanup_leftovers(Path(out_dir), as_of)
        yield path
    finally:
        os.close(fd)  # closing releases the flock


def _cleanup_leftovers(out_dir: Path, as_of: date) -> None:
    """Remove staging folders and unreferenced versions of ``as_of`` (called under the lock)."""
    key = as_of.isoformat()
    live = _current_version(out_dir, as_of)
    for parent in (out_dir / ".staging", out_dir / ".versions"):
        if not parent.is_dir():
            continue
        for child in parent.glob(f"{key}.*"):
            if live is not None and child.resolve() == live.resolve():
                continue
            if child.is_symlink() or child.is_file():
                child.unlink(missing_ok=True)
            else:
                shutil.rmtree(child, ignore_errors=True)
    for link in out_dir.glob(f".{key}.link-*"):
        link.unlink(missing_ok=True)


def _current_version(out_dir: Path, as_of: date) -> Path | None:
    target = out_dir / as_of.isoformat()
    if target.is_symlink():
        return out_dir / os.readlink(target)
    return None


def staging_dir(out_dir: Path, as_of: date) -> Path:
    """A fresh, empty staging folder for ``as_of`` (same file system as the published folder)."""
    path = Path(out_dir) / ".staging" / f"{as_of.isoformat()}.{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def publish(staging: Path, out_dir: Path, as_of: date) -> Path:
    """Make ``staging`` the published ``out_dir/<as_of>`` in one atomic rename; returns that path.

    Call while holding :func:`run_lock`. The previous version is deleted only after the swap.
    """
    out_dir = Path(out_dir)
    key = as_of.isoformat()
    _fsync_tree(staging)
    versions = out_dir / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = versions / f"{key}.{uuid.uuid4().hex}"
    os.rename(staging, version)
    target = out_dir / key
    previous = _current_version(out_dir, as_of)
    if target.exists() and not target.is_symlink():
        # a plain folder (e.g. copied by hand): keep it as a version so the swap stays a rename
        legacy = versions / f"{key}.legacy-{uuid.uuid4().hex}"
        os.rename(target, legacy)
        previous = legacy
    link = out_dir / f".{key}.link-{uuid.uuid4().hex}"
    os.symlink(os.path.relpath(version, out_dir), link)
    os.replace(link, target)
    _fsync_dir(out_dir)
    if previous is not None and previous.resolve() != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    return target


def latest_before(out_dir: Path, as_of: date) -> Path | None:
    """The published run folder with the latest as-of date strictly before ``as_of`` (or None).

    Only complete runs count (the folder holds ``scores.parquet``).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    key = as_of.isoformat()
    dates = sorted(
        (
            p.name
            for p in out_dir.iterdir()
            if _DATE.match(p.name) and p.name < key and (p / "scores.parquet").exists()
        ),
        reverse=True,
    )
    return out_dir / dates[0] if dates else None
