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
releases it when the process dies, so a killed run never leaves a stale lock. Runs of different
dates may run at once, but a run reads the earlier runs at several moments (deltas, feed checks and
watch state from the latest one; the PD history from all): it notes them when it starts
(:func:`earlier_runs`) and is refused at publication when one was published, replaced or removed
meanwhile (:class:`EarlierRunsChangedError`); the check and the swap hold ``.locks/publish.lock``,
so no other publication falls between them.

Nothing outside OUTDIR is ever followed or deleted: :func:`check_out_dir` refuses (with
:class:`UnsafeOutputError`) an ``OUTDIR/<as_of>`` that is a symlink ews did not make, a file or a
folder that is not an ews run, and ``.staging``/``.versions``/``.locks`` entries that are symlinks.
OUTDIR itself may be a symlink (e.g. to a bigger disk): everything then stays inside its target.
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

from features.schema import TABLES
from pipelines.adapters.files import OutputError, output_errors, write_text_atomic
from pipelines.words import counted

__all__ = [
    "EarlierRunsChangedError",
    "RunLockedError",
    "UnsafeOutputError",
    "check_out_dir",
    "earlier_runs",
    "latest_before",
    "published_runs",
    "publish",
    "run_lock",
    "staging_dir",
]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RunLockedError(RuntimeError):
    """Another run for the same as-of date is in progress."""


class EarlierRunsChangedError(RunLockedError):
    """Another run published, replaced or removed an earlier date while this run read the earlier
    runs: publishing would mix two states of the folder."""


class UnsafeOutputError(OutputError):
    """Publishing would follow a link out of OUTDIR or replace something ews did not write."""


_HIDDEN = (".staging", ".versions", ".locks")


def _version_of(out_dir: Path, key: str, link: Path) -> Path | None:
    """The ``.versions/<key>.<id>`` folder the symlink ``link`` points to, if ews made that link.

    None when the link has another shape (ews did not make it) or its version is not a real folder.
    """
    target = os.readlink(link)
    parts = Path(target).parts
    if len(parts) != 2 or parts[0] != ".versions" or not parts[1].startswith(f"{key}."):
        return None
    version = out_dir / target
    if version.is_symlink() or not version.is_dir():
        return None
    return version


def _is_ews_link(out_dir: Path, key: str, link: Path) -> bool:
    """``link`` has the shape ews gives it, and points to a real folder or to nothing (dangling)."""
    parts = Path(os.readlink(link)).parts
    if len(parts) != 2 or parts[0] != ".versions" or not parts[1].startswith(f"{key}."):
        return False
    version = out_dir / parts[0] / parts[1]
    return not os.path.lexists(version) or _version_of(out_dir, key, link) is not None


def check_out_dir(out_dir: Path, as_of: date) -> None:
    """Refuse an OUTDIR whose run folder for ``as_of`` ews cannot replace without touching other data.

    Raises :class:`UnsafeOutputError` naming the path and the fix. Called before a run does any
    work, and again under the lock before publishing.
    """
    out_dir = Path(out_dir)
    key = as_of.isoformat()
    try:
        os.stat(out_dir)
    except FileNotFoundError:
        pass
    except OSError as exc:  # a symlink loop, a name too long: before the flow, not inside it
        from pipelines.sources.read import path_problem

        raise OutputError(f"--out {out_dir}: cannot write: {path_problem(exc)}") from None
    if out_dir.exists() and not out_dir.is_dir():
        raise UnsafeOutputError(f"--out {out_dir}: is a file, not a folder; give a folder for the runs")
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):  # found before the flow starts
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        raise OutputError(
            f"--out {out_dir}: cannot write: "
            + (
                f"{existing} is on a read-only file system; choose a folder on a writable disk"
                if read_only
                else f"{existing} is not writable for you; choose another folder or fix its permissions"
            )
        )
    if not out_dir.exists():
        return
    for name in _HIDDEN:
        hidden = out_dir / name
        if hidden.is_symlink() or (hidden.exists() and not hidden.is_dir()):
            raise UnsafeOutputError(
                f"{hidden}: is a {'symlink' if hidden.is_symlink() else 'file'}, not the folder ews keeps "
                "there; ews never writes through it. Remove it (a symlink's target is kept) or choose another --out",
            )
    target = out_dir / key
    if target.is_symlink():
        if not _is_ews_link(out_dir, key, target):
            raise UnsafeOutputError(
                f"{target}: is a symlink to {os.readlink(target)} that ews did not make; ews never follows "
                f"or deletes it. Remove the link (`rm {target}` keeps its target) or choose another --out",
            )
    elif target.exists() and (not target.is_dir() or not (target / "manifest.json").is_file()):
        what = "a folder that is not an ews run (no manifest.json)" if target.is_dir() else "a file"
        raise UnsafeOutputError(
            f"{target}: is {what}; ews would replace it with the run for {key}. "
            "Move it away or choose another --out",
        )


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
    check_out_dir(out_dir, as_of)
    locks = Path(out_dir) / ".locks"
    path = locks / f"{as_of.isoformat()}.lock"
    with output_errors(out_dir):
        locks.mkdir(parents=True, exist_ok=True)
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
        check_out_dir(out_dir, as_of)  # again, now that no other run can change it
        _cleanup_leftovers(Path(out_dir), as_of)
        try:
            yield path
        except OutputError as exc:
            _cleanup_leftovers(Path(out_dir), as_of)
            raise type(exc)(outside_staging(str(exc), Path(out_dir), as_of)) from None
        except BaseException:
            _cleanup_leftovers(Path(out_dir), as_of)  # this run's staging folder (and unpublished version)
            raise
    finally:
        os.close(fd)  # closing releases the flock


def outside_staging(message: str, out_dir: Path, as_of: date) -> str:
    """An output error's ``message`` without the staging folder it names (removed by the time the
    user reads it): ``OUT/.staging/<as_of>.<id>/scores.csv: cannot write: CAUSE; FIX`` becomes
    ``--out OUT: cannot write: CAUSE (scores.csv of the run for <as_of>; its staging folder was
    removed, nothing was published); FIX``. Other messages are returned as they are."""
    staging = re.escape(str(out_dir / ".staging")) + "/" + re.escape(as_of.isoformat()) + r"\.[0-9a-f]{32}/"
    found = re.match(f"^{staging}(.+?): cannot write: (.*?)(; [^;]*)?$", message, re.S)
    if found is None:
        return re.sub(staging, "", message)
    name, cause, fix = found.group(1), found.group(2), found.group(3) or ""
    return (
        f"--out {out_dir}: cannot write: {re.sub(staging, '', cause)} ({name} of the run for {as_of.isoformat()}; "
        f"its staging folder was removed, nothing was published){fix}"
    )


def run_in_progress(out_dir: Path, as_of: date) -> str | None:
    """The :class:`RunLockedError` message when another process holds the lock for ``as_of``, else
    None: probed (a shared lock, released at once) by ``ews score`` / ``backfill`` before Prefect
    starts, so that a second run is refused in a second instead of after the flow's start-up. The
    flow's :func:`run_lock` stays the guard."""
    path = Path(out_dir) / ".locks" / f"{as_of.isoformat()}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            return (
                f"another nightly run for {as_of.isoformat()} is in progress (pid {holder}, lock {path}); "
                "wait for it to finish"
            )
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


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
        return _version_of(out_dir, as_of.isoformat(), target)
    return None


def staging_dir(out_dir: Path, as_of: date) -> Path:
    """A fresh, empty staging folder for ``as_of`` (same file system as the published folder)."""
    path = Path(out_dir) / ".staging" / f"{as_of.isoformat()}.{uuid.uuid4().hex}"
    with output_errors(out_dir):
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


def earlier_runs(out_dir: Path, as_of: date) -> dict[str, str]:
    """The published runs before ``as_of``, each with what identifies its version (the ``.versions``
    folder its link names; for a plain folder its manifest's change time and size)."""
    found = {}
    key = as_of.isoformat()
    for run in published_runs(Path(out_dir)):
        if run.name >= key:
            break
        if run.is_symlink():
            found[run.name] = os.readlink(run)
        else:
            manifest = run / "manifest.json"
            st = manifest.stat() if manifest.exists() else run.stat()
            found[run.name] = f"folder {st.st_mtime_ns} {st.st_size}"
    return found


def _check_earlier(out_dir: Path, as_of: date, earlier: dict[str, str]) -> None:
    now = earlier_runs(out_dir, as_of)
    if now == earlier:
        return
    changes = [f"published {d}" for d in sorted(set(now) - set(earlier))]
    changes += [f"replaced {d}" for d in sorted(set(now) & set(earlier)) if now[d] != earlier[d]]
    changes += [f"removed {d}" for d in sorted(set(earlier) - set(now))]
    raise EarlierRunsChangedError(
        f"while this run for {as_of.isoformat()} read the earlier runs in {out_dir}, another run "
        f"{', '.join(changes)}: its deltas, feed checks, watchlist state and PD history would mix two states "
        f"of the folder, so nothing was published; run {as_of.isoformat()} again once the other run has ended"
    )


@contextmanager
def _publish_lock(out_dir: Path) -> Iterator[None]:
    """Held while a run checks the earlier runs and swaps its folder in (milliseconds; waits)."""
    locks = Path(out_dir) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / "publish.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def publish(staging: Path, out_dir: Path, as_of: date, earlier: dict[str, str] | None = None) -> Path:
    """Make ``staging`` the published ``out_dir/<as_of>`` in one atomic rename; returns that path.

    Call while holding :func:`run_lock`. The previous version is deleted only after the swap.
    ``earlier``: the :func:`earlier_runs` the run read; :class:`EarlierRunsChangedError` when they
    changed since (checked under the folder's publish lock, with the swap).
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, as_of)
    with output_errors(out_dir), _publish_lock(out_dir):
        if earlier is not None:
            _check_earlier(out_dir, as_of, earlier)
        return _swap_in(staging, out_dir, as_of)


def _swap_in(staging: Path, out_dir: Path, as_of: date) -> Path:
    key = as_of.isoformat()
    _fsync_tree(staging)
    versions = out_dir / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = versions / f"{key}.{uuid.uuid4().hex}"
    os.rename(staging, version)
    target = out_dir / key
    previous = _current_version(out_dir, as_of)
    if target.exists() and not target.is_symlink():
        # an ews run folder as a plain folder (e.g. copied by hand; check_out_dir refused anything
        # else): keep it as a version so the swap stays a rename
        legacy = versions / f"{key}.legacy-{uuid.uuid4().hex}"
        os.rename(target, legacy)
        previous = legacy
    link = out_dir / f".{key}.link-{uuid.uuid4().hex}"
    os.symlink(os.path.relpath(version, out_dir), link)
    os.replace(link, target)
    _fsync_dir(out_dir)
    if previous is not None and not previous.is_symlink() and previous.resolve() != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    return target


def published_runs(out_dir: Path) -> list[Path]:
    """The complete published run folders in ``out_dir``, oldest as-of first.

    Only complete runs count (the folder holds ``scores.parquet``); links ews did not make are ignored.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    dates = sorted(
        p.name
        for p in out_dir.iterdir()
        if _DATE.match(p.name)
        and (not p.is_symlink() or _version_of(out_dir, p.name, p) is not None)
        and (p / "scores.parquet").exists()
    )
    return [out_dir / d for d in dates]


def latest_before(out_dir: Path, as_of: date) -> Path | None:
    """The published run folder with the latest as-of date strictly before ``as_of`` (or None)."""
    key = as_of.isoformat()
    runs = [p for p in published_runs(out_dir) if p.name < key]
    return runs[-1] if runs else None


# ------------------------------------------------------------------ ingest output folders
#
# ``ews ingest --out DIR`` writes plain files that `ews score --data DIR` reads directly, so DIR is
# not versioned like a run folder. Everything is written into ``DIR/.staging-<id>/`` first; only
# when all of it is there are the files moved into DIR one rename each (manifest.json last, as the
# commit mark). A failure removes the staging folder and leaves DIR as it was.

INGEST_DIRS = ("quarantine", "data_docs", "fx", *TABLES)


def check_ingest_out(out_dir: Path, inputs: list[Path]) -> None:
    """Refuse an ingest ``--out`` that is a file, sits under a file, is not writable, holds one of
    the ``inputs`` (ingest would replace or delete it) or has its sub-folders as symlinks."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: is a file, not a folder; give a folder for the ingested tables")
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"--out {out_dir}: {existing} is a file, not a folder; give a folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"--out {out_dir}: {existing} is not writable for you; choose another folder or fix its permissions"
        )
    root = out_dir.resolve()
    for path in inputs:
        real = Path(path).resolve()
        if real == root or root in real.parents:
            raise OutputError(
                f"--out {out_dir}: holds the input {path}, which ingest would replace or delete. "
                f"Write the ingested tables to another folder, e.g. --out {out_dir / 'ingested'}"
            )
    for name in INGEST_DIRS:
        sub = out_dir / name
        if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
            raise OutputError(
                f"{sub}: is a {'symlink' if sub.is_symlink() else 'file'} where ingest keeps a folder; "
                "ews never writes through it. Remove it or choose another --out"
            )


INGEST_LOCK = ".ingest.lock"
PUBLISHING = ".publishing"  # present while (or because) an ingest's files are being moved into place
_INGEST_LEFTOVER = re.compile(r"^\.(staging|trash)-[0-9a-f]{32}$")
_INGEST_SPILL = re.compile(r"^\.spill-[0-9a-f]{32}$")  # a streamed ingest's working files (stream.Spill)


class IngestLockedError(OutputError):
    """Another ``ews ingest`` into the same ``--out`` folder is in progress."""


def interrupted_ingest(folder: Path) -> str | None:
    """A one-line message when an ingest into ``folder`` stopped while moving its files into place
    (kill -9, power loss, a full disk): its tables may not match manifest.json. None otherwise."""
    if not (Path(folder) / PUBLISHING).exists():
        return None
    return (
        f"{folder}: an `ews ingest` into this folder stopped while publishing its tables (killed, or the "
        "disk filled up), so they may not match manifest.json; nothing reads it until an ingest completes. "
        "Run the same `ews ingest ... --out` command again"
    )


def mixed_ingest(folder: Path) -> str | None:
    """A one-line message when the tables of ingested ``folder`` are not the ones its manifest.json
    lists (bucket files copied in from another ingest, one deleted, a folder assembled by hand): the
    rows in each table's Parquet footers against the manifest's accepted rows, and every bucket file
    against the manifest's outputs, then (ingests that record ``bucket_footers``) each bucket's size
    and Parquet footer digest against the one recorded at ingest: a bucket of another ingest with
    the same row count differs there. Footers only: milliseconds at 1M debtors. None when they match
    (or the manifest lists no outputs)."""
    import json

    import pyarrow.parquet as pq

    from pipelines.adapters.files import parquet_footer_digest

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # read and reported by the readers
    outputs = manifest.get("outputs")
    if not isinstance(outputs, dict):
        return None
    fix = "Run `ews ingest ... --out` into it again (or into an empty folder) instead of copying files between ingests"
    kept = ((manifest.get("history") or {}).get("tables")) or {}  # --keep-history: the merged rows
    tables = {
        **(manifest.get("tables") or {}),
        **{t: {"rows_accepted": c.get("rows")} for t, c in kept.items()},
    }
    for table, info in tables.items():
        files = sorted((folder / table).glob("bucket=*/part-0.parquet"))
        listed = sorted(rel for rel in outputs if rel.startswith(f"{table}/bucket="))
        names = [str(f.relative_to(folder)) for f in files]
        if names != listed:
            odd = sorted(set(names) ^ set(listed))
            return (
                f"{folder}: the {table} files do not match its manifest.json ({', '.join(odd[:3])} "
                f"{'not listed there' if odd[0] in names else 'listed there but missing'}). {fix}"
            )
        want = info.get("rows_accepted") if isinstance(info, dict) else None
        got = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if isinstance(want, int) and got != want:
            return (
                f"{folder}: {table} holds {counted(got, 'row')} in {counted(len(files), 'bucket file')} while its manifest.json "
                f"says this ingest {'kept' if table in kept else 'accepted'} {want:,}: the files come from "
                f"different `ews ingest` runs. {fix}"
            )
        footers = manifest.get("bucket_footers")
        if isinstance(footers, dict):  # ingests since session 8: size and footer of each bucket file
            for f, name in zip(files, names, strict=True):
                if name in footers and parquet_footer_digest(f) != footers[name]:
                    return (
                        f"{folder}: {name} is not the file this ingest wrote (its size or Parquet footer "
                        f"differs from the one recorded in manifest.json; same row count): the files come "
                        f"from different `ews ingest` runs. {fix}"
                    )
    return None


@contextmanager
def ingest_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``OUT/.ingest.lock`` (non-blocking ``flock``) for a whole ingest into ``out_dir``.

    Under the lock, what a killed ingest left is put right first: an interrupted publication is
    completed from its staging folder (it holds a complete, validated ingest) and leftover
    ``.staging-*`` / ``.trash-*`` / ``.spill-*`` folders are removed. A folder this call created is removed again
    when the ingest fails before writing anything into it.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    with output_errors(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / INGEST_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestLockedError(
                f"--out {out_dir}: another `ews ingest` into this folder is in progress; "
                "wait for it to finish, or write to another folder"
            ) from None
        _recover_ingest(out_dir)  # the lock file stays empty: reruns leave byte-identical folders
        try:
            yield
        except BaseException:
            if created and {p.name for p in out_dir.iterdir()} <= {INGEST_LOCK}:
                (out_dir / INGEST_LOCK).unlink(missing_ok=True)
                out_dir.rmdir()
            raise
    finally:
        os.close(fd)  # closing releases the flock


def _recover_ingest(out_dir: Path) -> None:
    """Called under the ingest lock: finish an interrupted publication, remove leftovers."""
    import json

    marker = out_dir / PUBLISHING
    if marker.is_file():
        try:
            note = json.loads(marker.read_text(encoding="utf-8"))
            staging = out_dir / str(note["staging"])
            stale = [str(k) for k in note.get("stale", [])]
        except (OSError, ValueError, KeyError, TypeError):
            staging, stale = None, []
        if (
            staging is not None
            and _INGEST_LEFTOVER.match(staging.name)
            and (staging / "manifest.json").is_file()
        ):
            publish_ingest(staging, out_dir, stale)  # roll forward: removes the marker at the end
        elif staging is not None and not staging.exists():
            marker.unlink(missing_ok=True)  # its manifest was in place; only the marker was left
    with output_errors(out_dir):
        for child in out_dir.iterdir():
            if _INGEST_LEFTOVER.match(child.name) or _INGEST_SPILL.match(child.name):
                if child.is_symlink() or not child.is_dir():
                    child.unlink(missing_ok=True)
                else:
                    shutil.rmtree(child, ignore_errors=True)


def ingest_staging(out_dir: Path) -> Path:
    """The path (not yet created) of a fresh staging folder inside ``out_dir``."""
    return Path(out_dir) / f".staging-{uuid.uuid4().hex}"


def publish_ingest(staging: Path, out_dir: Path, stale: list[str]) -> None:
    """Move every file of ``staging`` into ``out_dir``, remove the ``stale`` outputs of an earlier
    ingest (relative paths), write ``manifest.json`` last, and remove ``staging``.

    Sub-folders in :data:`INGEST_DIRS` are swapped whole (``data_docs``) or file by file
    (``quarantine``, the table buckets); a rename replaces a symlink itself and never writes through it.
    """
    import json

    out_dir = Path(out_dir)
    with output_errors(out_dir):
        _fsync_tree(staging)
        # readers refuse the folder while this marker exists; a killed publication is completed by
        # the next ingest (ingest_lock) from the staging folder named here
        write_text_atomic(json.dumps({"staging": staging.name, "stale": stale}) + "\n", out_dir / PUBLISHING)
        for path in sorted(staging.rglob("*")):
            rel = path.relative_to(staging)
            if path.is_dir() or rel.parts[0] == "data_docs" or rel == Path("manifest.json"):
                continue
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, out_dir / rel)
        for rel in stale:
            (out_dir / rel).unlink(missing_ok=True)
        docs = staging / "data_docs"
        if docs.is_dir():
            old = out_dir / "data_docs"
            trash = out_dir / f".trash-{uuid.uuid4().hex}"
            if old.is_dir():
                os.rename(old, trash)
            os.rename(docs, old)
            shutil.rmtree(trash, ignore_errors=True)
        if (staging / "manifest.json").exists():
            os.replace(staging / "manifest.json", out_dir / "manifest.json")
        _fsync_dir(out_dir)
        (out_dir / PUBLISHING).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def scored_by(out_dir: Path, as_of: date) -> tuple[str, str, Path] | None:
    """Which model version scored the published run for ``as_of`` or, when there is none, the
    latest run before it: ``(run as-of date, "name vVERSION", manifest path)``, or None when
    ``out_dir`` holds no complete run on or before ``as_of``."""
    import json

    out_dir = Path(out_dir)
    exact = out_dir / as_of.isoformat()
    run = exact if (exact / "scores.parquet").exists() else latest_before(out_dir, as_of)
    if run is None or not (run / "manifest.json").exists():
        return None
    model = json.loads((run / "manifest.json").read_text(encoding="utf-8")).get("model", {})
    return run.name, f"{model.get('name', '?')} v{model.get('version', '?')}", run / "manifest.json"
