"""Analysts' overrides of the watchlist: an append-only, hash-chained audit log in the runs folder.

``OUTDIR/overrides.jsonl`` holds one JSON object per line, written by ``ews watchlist override``
and never rewritten::

    {"seq": 3, "debtor_id": "D042", "status": "cleared", "band": null, "reason": "...",
     "by": "anna", "at": "2026-01-05T10:22:31Z", "until": "2026-03-31", "run": "2026-01-04",
     "pd": 0.081, "prev": "<hash of line 2>", "hash": "<sha256 of this line without 'hash'>"}

- ``run`` is the as-of date of the latest published run when the override was entered (the run
  the analyst reviewed) and ``pd`` the debtor's PD in it. An override applies to the runs *after*
  ``run`` (as-of > run), so a rerun of an already published date gives the same outputs.
- ``until`` (inclusive, optional) ends the override: runs with as-of > until ignore it.
- For each debtor the latest line that applies wins; when that line has expired, the debtor has
  no active override (an older line does not come back).
- ``prev``/``hash`` chain the lines: changing, inserting or removing a line breaks the chain at
  that line, which :func:`read_log` reports (:class:`AuditLogError`). Each run's manifest records
  the number of lines and the last hash, so cutting lines off the end is found as well
  (:func:`check_head`).

Statuses: ``cleared`` (take the debtor off the watchlist until its PD jumps again relative to
``pd``), ``escalated`` and ``under_review`` (keep it on the watchlist), ``payment_plan`` (an
agreed plan until ``until``; read by the collections queue).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.words import counted

__all__ = [
    "AUDIT_LOG",
    "STATUSES",
    "AuditLogError",
    "Override",
    "OverrideError",
    "active_overrides",
    "append_override",
    "check_books",
    "check_head",
    "accept_log",
    "check_log",
    "check_unread_lines",
    "lines_ahead",
    "log_head",
    "read_log",
]

AUDIT_LOG = "overrides.jsonl"
STATUSES: tuple[str, ...] = ("cleared", "escalated", "under_review", "payment_plan")
_GENESIS = "0" * 64
_FIELDS = ("seq", "debtor_id", "status", "band", "reason", "by", "at", "until", "run", "pd", "prev")
COLUMNS = ["seq", "debtor_id", "status", "band", "reason", "by", "at", "until", "run", "pd"]


class OverrideError(ValueError):
    """A bad override request (unknown debtor or status, date in the past, empty reason...)."""


class AuditLogError(ValueError):
    """The audit log was changed after it was written (the hash chain is broken)."""


@dataclass(frozen=True)
class Override:
    """One override request, before it is chained and appended."""

    debtor_id: str
    status: str
    reason: str
    by: str
    run: dt.date
    pd: float | None = None
    band: str | None = None
    until: dt.date | None = None


def _line_hash(record: dict[str, Any]) -> str:
    """The line's hash over :data:`_FIELDS`, and ``book`` when the line has it (written since session 41: a line
    written before hashes as it did)."""
    fields = (*_FIELDS, "book") if "book" in record else _FIELDS
    body = json.dumps({k: record.get(k) for k in fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def read_log(runs_dir: str | Path, lines: int | None = None) -> list[dict[str, Any]]:
    """Every line of ``runs_dir/overrides.jsonl`` (empty list when there is none), checked; with
    ``lines``, the first ``lines`` lines only (what a nightly run found when it started: a line
    appended by ``ews watchlist override`` while it runs is the next run's).

    Raises :class:`AuditLogError` naming the first line that is not valid JSON, is out of
    sequence or whose hash chain does not hold."""
    path = Path(runs_dir) / AUDIT_LOG
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    prev = _GENESIS
    offset = 0  # bytes before this line
    with path.open("r", encoding="utf-8", newline="") as fh:
        for i, line in enumerate(fh, start=1):
            if lines is not None and i > lines:
                break
            where = f"{path} line {i}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if not line.endswith("\n"):  # only the last line can lack its end
                    raise AuditLogError(
                        f"{where}, the last, is cut short (no line end): an override whose writing never "
                        "completed (the disk filled up, or the machine stopped, while it was written); it was "
                        f"not recorded. Remove that line (`truncate -s {offset} {path}` keeps the "
                        f"{counted(i - 1, 'line')} before it), then enter that override again"
                    ) from None
                if i == 1 and line.startswith("\ufeff"):  # s40-attack: Notepad's "UTF-8 with BOM"
                    raise AuditLogError(
                        f"{path} starts with a byte order mark (U+FEFF): an editor saved it as 'UTF-8 with BOM'. "
                        f"Remove those 3 bytes (`tail -c +4 {path} > NEW`, then move NEW over it): the hash chain "
                        "then shows whether anything else was changed"
                    ) from None
                raise AuditLogError(
                    f"{where} is not a JSON object: the audit log was edited or damaged; restore it from a backup"
                ) from None
            offset += len(line.encode("utf-8"))
            if not isinstance(record, dict) or record.get("seq") != i or record.get("prev") != prev:
                raise AuditLogError(
                    f"{where}: out of sequence (a line was inserted or removed before it); restore the log from a backup"
                )
            if record.get("hash") != _line_hash(record):
                raise AuditLogError(
                    f"{where} (debtor {record.get('debtor_id')}) was changed after it was written "
                    "(its hash does not match); restore the log from a backup"
                )
            prev = record["hash"]
            records.append(record)
    return records


def log_head(runs_dir: str | Path, lines: int | None = None) -> dict[str, Any]:
    """``{"lines": n, "hash": last hash}`` of the checked log (what a run manifest records); with
    ``lines``, of its first ``lines`` lines (:func:`read_log`)."""
    records = read_log(runs_dir, lines)
    return {"lines": len(records), "hash": records[-1]["hash"] if records else _GENESIS}


def check_head(runs_dir: str | Path, head: dict[str, Any] | None, source: str) -> None:
    """Refuse a log shorter than, or diverging from, the ``head`` recorded in ``source`` (a run
    manifest): lines cut off the end break no chain, but they no longer match the recorded head."""
    if not head:
        return
    records = read_log(runs_dir)
    n = int(head.get("lines", 0))
    if n == 0:
        return
    path = Path(runs_dir) / AUDIT_LOG
    if len(records) < n or records[n - 1]["hash"] != head.get("hash"):
        raise AuditLogError(
            f"{path}: {source} recorded {counted(n, 'line')} ending in hash {str(head.get('hash'))[:12]}..., "
            f"the log now has {counted(len(records), 'line')} that do not match; lines were removed or replaced: "
            "restore the log from a backup"
        )


def append_override(
    runs_dir: str | Path, override: Override, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Append one override to the audit log (created when absent) and fsync it; returns the line.

    The file is opened in append mode only, under an exclusive lock, so concurrent writers never
    interleave and existing lines are never rewritten. A broken chain is refused (AuditLogError)."""

    from pipelines.adapters.book import folder_book

    book = folder_book(Path(runs_dir))[0]

    def line() -> dict[str, Any]:
        records = read_log(runs_dir)
        check_books(runs_dir, records)  # another book's log copied in: refused before a line is added to it
        at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        record: dict[str, Any] = {
            "seq": len(records) + 1,
            "debtor_id": override.debtor_id,
            "status": override.status,
            "band": override.band,
            "reason": override.reason,
            "by": override.by,
            "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "until": override.until.isoformat() if override.until else None,
            "run": override.run.isoformat(),
            "pd": None if override.pd is None else round(float(override.pd), 6),
            **({"book": book} if book else {}),  # the runs folder's book (OUTDIR/book.json), s41
            "prev": records[-1]["hash"] if records else _GENESIS,
        }
        record["hash"] = _line_hash(record)
        _check_clock(runs_dir, records, at)
        return record

    return _locked_append(Path(runs_dir) / AUDIT_LOG, line)


def check_books(runs_dir: str | Path, records: list[dict[str, Any]]) -> None:
    """Refuse a log holding a line entered in another book's runs folder: since session 41 each line records the
    book of the folder it was entered in (``book``: the id of ``OUTDIR/book.json``), so a log copied whole from
    another book's folder is named (s40-attack: it was accepted, its overrides acting on whatever debtors of this
    book share their ids). Lines written before session 41 carry no book, and a folder that records no book yet
    (no run published) has nothing to compare with: both pass. The ids a folder held before it was emptied and
    ingested anew (book.json's ``earlier_ids``) are its own."""
    from pipelines.adapters.book import BOOK_FILE, folder_book

    current, own, recorded = folder_book(Path(runs_dir))
    if not own:
        return
    path = Path(runs_dir) / AUDIT_LOG
    for record in records:
        other = record.get("book")
        if other is None or str(other) in own:
            continue
        i = int(record["seq"])
        raise AuditLogError(
            f"{path} line {i} (debtor {_written_out(str(record.get('debtor_id')))}, by "
            f"{_written_out(str(record.get('by')))}, at {_written_out(str(record.get('at')))}) was entered in the "
            f"runs folder of book {_written_out(str(other))[:40]}, but {runs_dir} holds the runs of book {current} "
            f"(--data {recorded.get('data_dir')}; {Path(runs_dir) / BOOK_FILE}): this log was copied from another "
            f"book's runs folder, and its overrides would act on the debtors of this book that share their ids. "
            f"Put this folder's own {AUDIT_LOG} back (from a backup, or remove it if this folder had none), then "
            "enter again with `ews watchlist override` any override meant for this book"
        )


def _check_clock(runs_dir: str | Path, records: list[dict[str, Any]], at: dt.datetime) -> None:
    """Refuse (:class:`OverrideError`, nothing written) a line this machine's clock would date more than
    :data:`CLOCK_SLACK` before the line above it or before a published run read the log: the nightly
    (:func:`check_unread_lines`) takes such a line for a backdated, forged one and refuses every run
    until the log is cut back. s40-attack: an analyst's laptop a day behind the server (a wrong time
    zone, a dead clock battery) got "override 1 ... applies from the next run", exit 0, and the next
    `ews score` stopped on it."""
    path = Path(runs_dir) / AUDIT_LOG
    stamp = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    fix = (
        "nothing was recorded. Set this machine's clock (and its time zone) right and enter the override "
        "again; the nightly takes a line dated that far back for a forged one and refuses to run"
    )
    if records:
        above = _when(records[-1].get("at"))
        if above is not None and at < above - CLOCK_SLACK and not _read_before_dated(runs_dir, len(records)):
            raise OverrideError(
                f"this machine's clock says {stamp}, {_span(above - at)} before line {len(records)} of {path} "
                f"(by {_written_out(str(records[-1].get('by')))}, at {records[-1].get('at')}); lines are appended "
                f"in time order, so one of the two clocks is off by more than {_span(CLOCK_SLACK)}: {fix} (if this "
                f"clock is right, line {len(records)} was dated by a clock running ahead: enter this override "
                f"after {(above - CLOCK_SLACK).strftime('%Y-%m-%d %H:%M UTC')})"
            )
    for manifest, head in _run_manifests(runs_dir):
        read_at = _when(head.get("read_at"))
        if read_at is not None and at < read_at - CLOCK_SLACK:
            raise OverrideError(
                f"this machine's clock says {stamp}, {_span(read_at - at)} before the run of "
                f"{manifest.parent.name} read {path} ({head.get('read_at')}, {manifest}): {fix}"
            )


def _read_before_dated(runs_dir: str | Path, i: int) -> str | None:
    """The run (its as-of date) that read line ``i`` of the log more than :data:`CLOCK_SLACK` before the time
    the line bears: proof that the clock of the machine it was entered on ran ahead (a run's clock is the runs
    folder's reference: the line existed when that run read the log); None when no run did. A later line is
    then held against that run's read, not against line ``i``'s time (s41: a line dated a day ahead refused
    every override on a right clock for that day, s40-attack)."""
    records = read_log(runs_dir, i)
    if len(records) < i:
        return None
    at = _when(records[i - 1].get("at"))
    if at is None:
        return None
    for manifest, head in _run_manifests(runs_dir):
        read_at = _when(head.get("read_at"))
        if head["lines"] >= i and read_at is not None and read_at < at - CLOCK_SLACK:
            return manifest.parent.name
    return None


def lines_ahead(
    runs_dir: str | Path, records: list[dict[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """The lines no published run has read yet that are dated more than :data:`CLOCK_SLACK` after ``now`` (the
    nightly's clock as it reads the log): entered on a machine whose clock runs ahead (or this machine's runs
    behind). Such a line is the analyst's own and applies as entered, so the run goes on and says so (the log,
    the manifest's ``overrides.clock_ahead``): until its time, `ews watchlist override` on a right clock is held
    against it, and only this run's read shows which clock was off (:func:`_read_before_dated`). Before session
    41 nothing said it (s40-attack). ``{"line", "by", "at", "ahead", "said"}`` per line."""
    seen = max((h["lines"] for _, h in _run_manifests(runs_dir)), default=0)
    path = Path(runs_dir) / AUDIT_LOG
    now = now.astimezone(dt.UTC)
    found = []
    for record in records[seen:]:
        at = _when(record.get("at"))
        if at is None or at <= now + CLOCK_SLACK:
            continue
        i = int(record["seq"])
        by = _written_out(str(record.get("by")))
        found.append(
            {
                "line": i,
                "by": by,
                "at": str(record.get("at")),
                "ahead": _span(at - now),
                "said": (
                    f"{path} line {i} (debtor {_written_out(str(record.get('debtor_id')))}, by {by}) is dated "
                    f"{_written_out(str(record.get('at')))}, {_span(at - now)} after this run's clock "
                    f"({now.strftime('%Y-%m-%d %H:%M:%S UTC')}): the clock of the machine it was entered on runs "
                    "ahead (or this machine's runs behind). The override applies as entered; set that machine's "
                    "clock (and its time zone) right. From this run on, later overrides are held against this "
                    "run's reading of the log, not against that line's time"
                ),
            }
        )
    return found


def _span(delta: dt.timedelta) -> str:
    """A time span in words, to the minute: '1 day 2 hours', '5 minutes'."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [counted(n, unit) for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute")) if n]
    return " ".join(parts[:2]) or "less than a minute"


def _written_out(text: str) -> str:
    """``text`` with control characters written out (``\\x1b``): a name or id read from a log line
    forged or written before ews refused them, in a message that a terminal prints."""
    return "".join(c if unicodedata.category(c) != "Cc" else repr(c)[1:-1] for c in text)


def _locked_append(path: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Append the line ``make()`` builds (it reads the file's last line under the lock) to the
    append-only, hash-chained file ``path`` (created when absent, its folder fsynced then), under an
    exclusive lock, whole or not at all (:func:`_append_whole`); returns it. The overrides log and the
    accepted-log file (:func:`accept_log`) are written only here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        record = make()
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        _append_whole(fd, _line_end_missing(path) + line.encode("utf-8"))
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return record


def _line_end_missing(path: Path) -> bytes:
    """``b"\\n"`` when ``path``'s last line has no line end, else ``b""``. An editor or a copy that drops
    the final line end leaves a log every reader still accepts (only the last line may lack it); the next
    line was then appended to that line, and every later run, override and history stopped on "line N is
    not a JSON object" (s40-attack). The missing end is written with the new line, under the lock."""
    with path.open("rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return b""
        fh.seek(-1, os.SEEK_END)
        return b"" if fh.read(1) == b"\n" else b"\n"


def _append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to the locked log ``fd`` whole and on disk, or not at all. A disk that fills
    mid-line makes ``write`` return short: before, the command said the override was recorded,
    the log kept half a line and every later run and override stopped on it ("line N is not a JSON
    object: the audit log was edited or damaged", s37-attack). On a short or failed write or fsync,
    the log is cut back to its size before and the error is raised (``OSError``: the caller names
    the file and the fix)."""
    import errno

    size = os.fstat(fd).st_size
    try:
        done = 0
        while done < len(data):
            wrote = os.write(fd, data[done:])
            if wrote == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += wrote
        os.fsync(fd)
    except OSError:
        os.ftruncate(fd, size)
        raise


def log_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The log lines as a frame (``COLUMNS``; ``run``/``until`` as datetime64 days (NaT: no end),
    ``at`` as UTC timestamps)."""
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    frame["seq"] = frame["seq"].astype("int64")
    frame["pd"] = frame["pd"].astype("float64")
    frame["run"] = pd.to_datetime(frame["run"])
    frame["until"] = pd.to_datetime(frame["until"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def active_overrides(runs_dir: str | Path, as_of: dt.date, lines: int | None = None) -> pd.DataFrame:
    """The override in force per debtor for the run as of ``as_of``: one row per debtor_id.

    Lines entered after reviewing a run before ``as_of`` (``run < as_of``) are considered; the
    latest one per debtor wins and is dropped when ``until < as_of``. Columns ``COLUMNS``
    (``pd``: the debtor's PD in the reviewed run, e.g. the PD at clearing). ``lines``: read the
    log's first ``lines`` lines only (:func:`read_log`)."""
    frame = log_frame(read_log(runs_dir, lines))
    day = pd.Timestamp(as_of)
    frame = frame.loc[frame["run"] < day]
    latest = frame.sort_values("seq").drop_duplicates("debtor_id", keep="last")
    return latest.loc[~(latest["until"] < day)].sort_values("debtor_id", kind="stable").reset_index(drop=True)


def _latest_run(runs_dir: Path) -> Path | None:
    from pipelines.adapters.publish import latest_before

    return latest_before(runs_dir, dt.date.max)


MAX_REASON_CHARS = 2_000
"""An override's reason is a note, not a document (an Excel cell holds at most 32,767 characters)."""
MAX_BY_CHARS = 100
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): in a
reason they reorder the text shown after them ("Trojan Source"); refused by :func:`check_reason`."""


def same_text_id(run: Path | None, debtor_id: str) -> str | None:
    """The one id of ``run``'s scores that is ``debtor_id`` in another Unicode form (``MÜLLER`` typed
    with U+00DC where the book's export wrote ``U`` + U+0308, NFD): the same text, which the user
    cannot type otherwise. None when there is no run, the id is there as typed, or no id or more
    than one matches."""
    if run is None:
        return None
    typed = unicodedata.normalize("NFC", debtor_id)
    ids = pd.read_parquet(run / "scores.parquet", columns=["debtor_id"])["debtor_id"].astype(str)
    if debtor_id in set(ids):
        return None
    same = sorted({i for i in ids if i != debtor_id and unicodedata.normalize("NFC", i) == typed})
    return same[0] if len(same) == 1 else None


def _near_id(run: Path, debtor_id: str) -> str:
    """The end of the unknown-debtor message: the run's id that differs from ``debtor_id`` only in
    case or surrounding spaces ('d0000390' for 'D0000390'), else "check the id"."""
    ids = pd.read_parquet(run / "scores.parquet", columns=["debtor_id"])["debtor_id"].astype(str)
    near = ids[ids.str.strip().str.casefold() == debtor_id.strip().casefold()]
    return f"did you mean {near.iloc[0]!r}?" if len(near) else "check the id"


def check_reason(reason: str, example: str = "'paid in full on 3 Jan'") -> None:
    """Refuse (:class:`OverrideError`) a reason of invisible characters alone, longer than
    :data:`MAX_REASON_CHARS` or holding control characters other than line breaks and tabs: the
    checks of ``ews watchlist override``, also for ``ews watchlist accept-log`` (s40-attack: it
    recorded and printed a --by of terminal escapes and a reason of zero-width spaces)."""
    # invisible characters alone (zero-width spaces, U+200B, a BOM) are no reason either: they were
    # logged as one and showed as nothing in the report and the exports
    if not any(not c.isspace() and unicodedata.category(c) != "Cf" for c in reason or ""):
        raise OverrideError(
            f"--reason is empty; say why (it is kept in the audit log), e.g. --reason {example}"
        )
    if len(reason.strip()) > MAX_REASON_CHARS:
        raise OverrideError(
            f"--reason is {len(reason.strip()):,} characters long; keep it to {MAX_REASON_CHARS:,} (it is "
            "shown in the watchlist exports and the report) and put documents in your case file"
        )
    turned = [c for c in dict.fromkeys(reason) if c in DIRECTION_CONTROLS]
    if turned:
        # s42-attack: 'paid in full' + U+202E + the text reversed was logged, and showed in the report,
        # the watchlist workbook and `ews watchlist history` as words nobody typed in that order
        names = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c)}" for c in turned)
        raise OverrideError(
            f"--reason holds a text direction control ({names}): the report, the exports and `ews watchlist "
            "history` would show the text after it in another order than it was typed. Type plain text"
        )
    control = [c for c in reason if unicodedata.category(c) == "Cc" and c not in "\n\t"]
    if control:
        raise OverrideError(
            f"--reason holds {counted(len(control), 'control character')} ({', '.join(sorted({repr(c) for c in control}))}; "
            "a terminal runs them as commands when `ews watchlist history` prints the reason): type plain "
            "text (line breaks and tabs are fine)"
        )


def check_by(by: str | None) -> None:
    """Refuse (:class:`OverrideError`) an empty ``--by``, or one longer than :data:`MAX_BY_CHARS` or
    holding tabs, line breaks or other control characters."""
    if not by or not by.strip():
        raise OverrideError("--by is empty; give the name of the person deciding, e.g. --by 'A. Jansen'")
    if len(by.strip()) > MAX_BY_CHARS or any(unicodedata.category(c)[0] == "C" for c in by.strip()):
        raise OverrideError(
            f"--by {by.strip()[:40]!r}: give a name on one line, at most {MAX_BY_CHARS} characters, "
            "without tabs, line breaks or other control characters, e.g. --by 'A. Jansen'"
        )


def new_override(
    runs_dir: str | Path,
    debtor_id: str,
    status: str,
    reason: str,
    by: str,
    until: dt.date | None = None,
    band: str | None = None,
    bands: list[str] | None = None,
    run: Path | None = None,
) -> Override:
    """Check an override request against the latest published run in ``runs_dir`` (or ``run``,
    the published run folder the analyst reviewed).

    Raises :class:`OverrideError` (one line naming the value and the fix) for an unknown status,
    an empty reason or name, an ``until`` on or before the as-of date of that run (it would be in
    force for no run; not the wall clock: a backfill reviews runs of earlier dates), a band not in ``bands`` or a debtor that is not in
    the latest published run."""
    runs_dir = Path(runs_dir)
    if status not in STATUSES:
        raise OverrideError(f"--status {status!r} is not a status; use one of: {', '.join(STATUSES)}")
    check_reason(reason)
    check_by(by)
    if band is not None and bands is not None and band not in bands:
        raise OverrideError(
            f"--band {band!r} is not a band of the nightly config; use one of: {', '.join(bands)}"
        )
    run = run or _latest_run(runs_dir)
    if run is None:
        raise OverrideError(
            f"{runs_dir}: no published run to override; run `ews score --out {runs_dir}` first or pass --out RUNS_DIR"
        )
    debtor_id = same_text_id(run, debtor_id) or debtor_id  # typed in another Unicode form (s37-attack)
    scores = pd.read_parquet(
        run / "scores.parquet",
        columns=["debtor_id", "pd", "in_default"],
        filters=[("debtor_id", "==", debtor_id)],
    )
    if scores.empty:
        raise OverrideError(
            f"debtor {debtor_id!r} is not in the latest published run {run} (scores.parquet); "
            + _near_id(run, debtor_id)
        )
    reviewed = dt.date.fromisoformat(run.name)
    if until is not None and until <= reviewed:  # in force for runs as of > reviewed and <= until
        first = reviewed + dt.timedelta(days=1)
        raise OverrideError(
            f"--until {until} is {'before the' if until < reviewed else 'the'} as-of date {reviewed} of the "
            f"run it overrides ({run}): an override applies to the runs after it; give {first} or "
            "later, or leave it out"
        )
    # no PD in default, nor in a run without a PD model: null, not NaN (no JSON; "PD nan%", s43-attack)
    pd_now = (
        None
        if bool(scores["in_default"].iloc[0]) or pd.isna(scores["pd"].iloc[0])
        else float(scores["pd"].iloc[0])
    )
    return Override(
        debtor_id=debtor_id,
        status=status,
        reason=reason.strip(),
        by=by.strip(),
        run=reviewed,
        pd=pd_now,
        band=band,
        until=until,
    )


def check_log(runs_dir: str | Path, previous_run: Path | None) -> None:
    """Refuse a broken audit log before a run does any work: the hash chain must hold and the log
    must still hold the lines the previous run's manifest recorded (``overrides.lines/hash``), and
    those every other published run in ``runs_dir`` recorded (s38-attack: a line rewritten with its
    hashes recomputed passed a backfill, whose previous run is older than the line, and a nightly
    whose previous manifest was rewritten too), unless ``ews watchlist accept-log`` accepted the log
    over that run's (:func:`accept_log`). Lines no published run has read yet are checked against the
    runs' times (:func:`check_unread_lines`). The chain has no secret: a line appended after the
    latest run read the log, dated after it and naming the latest run, by someone who can write the
    runs folder, is not found (README)."""
    records = read_log(runs_dir)
    check_books(runs_dir, records)
    accepted = accepted_heads(runs_dir, records)
    check_recorded_heads(runs_dir, records, accepted)
    check_unread_lines(runs_dir, records)
    manifest = None if previous_run is None else Path(previous_run) / "manifest.json"
    if manifest is not None and manifest.exists():  # a previous run not published as ews publishes
        head = json.loads(manifest.read_text(encoding="utf-8")).get("overrides")
        if (
            head
            and (Path(previous_run).name, int(head.get("lines", 0) or 0), str(head.get("hash"))) in accepted
        ):
            return
        check_head(runs_dir, head, str(manifest))


def _run_manifests(runs_dir: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """``(manifest path, its overrides head)`` of every published run in ``runs_dir``, oldest as-of first
    (an unreadable manifest is skipped: not this check's to judge)."""
    from pipelines.adapters.publish import published_runs

    found = []
    for run in published_runs(Path(runs_dir)):
        manifest = run / "manifest.json"
        try:
            body = json.loads(manifest.read_text(encoding="utf-8"))
            head = dict(body.get("overrides") or {})
            head["lines"] = int(head.get("lines") or 0)
            head["created_at"] = body.get("created_at")
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        found.append((manifest, head))
    return found


def recorded_heads(runs_dir: str | Path) -> list[tuple[int, str, Path]]:
    """``(lines, hash, manifest)`` of every published run in ``runs_dir`` whose manifest recorded a
    log of at least one line, fewest lines first."""
    heads = [(h["lines"], str(h.get("hash")), m) for m, h in _run_manifests(runs_dir) if h["lines"] > 0]
    return sorted(heads, key=lambda h: (h[0], str(h[2])))


ACCEPTED_LOG = "overrides.accepted.jsonl"
"""``ews watchlist accept-log`` appends here (append-only, hash-chained like the log): who accepted
the log as it is over the heads some published runs recorded, why, the accepted head and those runs."""
_ACCEPT_FIELDS = ("seq", "at", "by", "reason", "log", "replaces", "prev")


def _accept_hash(record: dict[str, Any]) -> str:
    body = json.dumps({k: record.get(k) for k in _ACCEPT_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def read_acceptances(runs_dir: str | Path) -> list[dict[str, Any]]:
    """Every line of ``runs_dir/overrides.accepted.jsonl`` (empty list when there is none), checked as
    :func:`read_log` checks the log (:class:`AuditLogError` naming the line)."""
    path = Path(runs_dir) / ACCEPTED_LOG
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    prev = _GENESIS
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if (
            not isinstance(record, dict)
            or record.get("seq") != i
            or record.get("prev") != prev
            or record.get("hash") != _accept_hash(record)
        ):
            raise AuditLogError(
                f"{path} line {i} was changed, inserted or removed after it was written: restore "
                f"{ACCEPTED_LOG} from a backup"
            )
        prev = record["hash"]
        records.append(record)
    return records


def accepted_heads(runs_dir: str | Path, records: list[dict[str, Any]]) -> set[tuple[str, int, str]]:
    """``(run as-of, lines, hash)`` of the recorded heads an acceptance replaced, for the acceptances
    whose accepted log is still the start of ``records`` (a log changed again after it is refused)."""
    out: set[tuple[str, int, str]] = set()
    for a in read_acceptances(runs_dir):
        n, digest = int(a["log"]["lines"]), a["log"]["hash"]
        if n > len(records) or (n and records[n - 1]["hash"] != digest):
            continue
        out.update((str(r["run"]), int(r["lines"]), str(r["hash"])) for r in a["replaces"])
    return out


def _differing(
    runs_dir: str | Path, records: list[dict[str, Any]], accepted: set[tuple[str, int, str]]
) -> list[tuple[int, str, Path]]:
    return [
        h
        for h in recorded_heads(runs_dir)
        if (len(records) < h[0] or records[h[0] - 1]["hash"] != h[1])
        and (h[2].parent.name, h[0], h[1]) not in accepted
    ]


def accept_log(runs_dir: str | Path, reason: str, by: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Accept the audit log as it is now over the heads that published runs recorded and it no longer
    starts with (an honest backup restored after those runs read a forged or mistaken line): append
    one line to ``overrides.accepted.jsonl`` (who, why, when, the log's head, the runs' heads it
    replaces) and return it. Refused (:class:`OverrideError`) when every run's head still matches or
    the reason or name is empty; the log's own chain must hold (:class:`AuditLogError`)."""
    runs_dir = Path(runs_dir)
    check_reason(reason, "'restored the 12 Jan backup: line 3 was forged'")
    check_by(by)
    records = read_log(runs_dir)
    bad = _differing(runs_dir, records, accepted_heads(runs_dir, records))
    if not bad:
        raise OverrideError(
            f"{runs_dir / AUDIT_LOG}: every published run in {runs_dir} read a log that this one starts with; "
            "there is nothing to accept"
        )

    def line() -> dict[str, Any]:
        before = read_acceptances(runs_dir)
        at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        record: dict[str, Any] = {
            "seq": len(before) + 1,
            "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "by": by.strip(),
            "reason": reason.strip(),
            "log": {"lines": len(records), "hash": records[-1]["hash"] if records else _GENESIS},
            "replaces": [
                {"run": m.parent.name, "lines": n, "hash": h}
                for n, h, m in sorted(bad, key=lambda b: str(b[2]))
            ],
            "prev": before[-1]["hash"] if before else _GENESIS,
        }
        record["hash"] = _accept_hash(record)
        return record

    return _locked_append(runs_dir / ACCEPTED_LOG, line)


def check_recorded_heads(
    runs_dir: str | Path, records: list[dict[str, Any]], accepted: set[tuple[str, int, str]] | None = None
) -> None:
    """Refuse a log that no longer starts with the lines a published run recorded (unless accepted over
    that run's head, :func:`accept_log`); name the lines that changed (between the longest head still
    matching and the shortest that does not), every run that read another log, and the two ways out:
    restore a backup, or accept this log and score those dates again."""
    if accepted is None:
        accepted = accepted_heads(runs_dir, records)
    heads = recorded_heads(runs_dir)
    bad = _differing(runs_dir, records, accepted)
    if not bad:
        return
    n, digest, source = bad[0]
    kept = max((h[0] for h in heads if h[0] < n and h not in bad), default=0)
    path, day = Path(runs_dir) / AUDIT_LOG, source.parent.name
    # the backup must satisfy every run that no longer matches: the one that recorded the most lines
    last_n, last_digest, last_source = bad[-1]
    last_day = last_source.parent.name
    if len(records) < n:
        said = f"the log now has {counted(len(records), 'line')}: lines were removed since"
    elif kept + 1 == n:
        said = f"the log's first {counted(n, 'line')} no longer end in it: line {n} was changed since"
    else:
        said = f"the log's first {counted(n, 'line')} no longer end in it: one of lines {kept + 1} to {n} was changed since"
    days = sorted({h[2].parent.name for h in bad})
    raise AuditLogError(
        f"{path}: {source} recorded {counted(n, 'line')} ending in hash {digest[:12]}... (the log as the run "
        f"of {day} read it); {said}"
        + (f" (the first {counted(kept, 'line')} still match what earlier runs recorded)" if kept else "")
        + f". Restore {AUDIT_LOG} from a backup taken after the run of {last_day} (its first "
        f"{counted(last_n, 'line')} end in hash {last_digest[:12]}...) and enter again with `ews watchlist override` "
        f"any override made after that backup. {'The run' if len(days) == 1 else 'The runs'} of {', '.join(days)} "
        f"read a log other than this one: if this log is the honest one (a backup restored after "
        f"{'it' if len(days) == 1 else 'they'} read a forged or mistaken line), accept it with "
        f"`ews watchlist accept-log --out {runs_dir} --reason TEXT` (recorded in {ACCEPTED_LOG}), then score "
        f"{'that date' if len(days) == 1 else 'those dates'} again (`ews score --data DATA --as-of DATE --out "
        f"{runs_dir}`) so that {'its' if len(days) == 1 else 'their'} outputs follow it"
    )


CLOCK_SLACK = dt.timedelta(minutes=5)
"""How far two clocks (the analyst's machine, the nightly's) may differ before a line's time is held
against a run's (:func:`check_unread_lines`)."""


def _when(text: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def check_unread_lines(runs_dir: str | Path, records: list[dict[str, Any]]) -> None:
    """Refuse a line that no published run has read yet (appended after the latest run read the log,
    which no recorded head covers) when its own fields contradict the runs' record, as no line
    ``ews watchlist override`` appends can:

    - it is dated (``at``) more than :data:`CLOCK_SLACK` before the line above it (lines are appended
      under a lock, in time order);
    - it is dated more than the slack before a run read the log (``overrides.read_at``), yet that run
      did not read it (it recorded fewer lines): a line appended later and backdated;
    - it names as the run reviewed (``run``) a date older than a run that was already published
      (``created_at``) when it was entered: the command always names the latest published run.

    A line dated after the latest run read the log and naming that run is what the command writes:
    without a secret that line cannot be told from a forged one (README)."""
    manifests = _run_manifests(runs_dir)
    seen = max((h["lines"] for _, h in manifests), default=0)
    path = Path(runs_dir) / AUDIT_LOG
    for record in records[seen:]:
        i = int(record["seq"])
        at = _when(record.get("at"))
        if at is None:
            raise AuditLogError(
                f"{path} line {i}: 'at' {record.get('at')!r} is not a time; restore the log from a backup"
            )
        where = (
            f"{path} line {i} (debtor {_written_out(str(record.get('debtor_id')))}, "
            f"by {_written_out(str(record.get('by')))}, at {_written_out(str(record.get('at')))})"
        )
        fix = (
            "no published run has read it yet, and `ews watchlist override` does not write such a line (a line "
            f"forged or copied in): cut the log back to the {counted(i - 1, 'line')} before it (`head -n {i - 1}` "
            f"of it into a new file, then move that over {AUDIT_LOG}) or restore it from a backup, and enter again "
            "with `ews watchlist override` any genuine override from that line on"
        )
        if i > 1:
            above = _when(records[i - 2].get("at"))
            if above is not None and at < above - CLOCK_SLACK and not _read_before_dated(runs_dir, i - 1):
                raise AuditLogError(
                    f"{where} is dated before line {i - 1} ({records[i - 2].get('at')}); {fix}"
                )
        for manifest, head in manifests:
            if head["lines"] >= i:
                continue
            read_at, created = _when(head.get("read_at")), _when(head.get("created_at"))
            if read_at is not None and at < read_at - CLOCK_SLACK:
                raise AuditLogError(
                    f"{where} is dated before the run of {manifest.parent.name} read the log ({head.get('read_at')}), "
                    f"yet that run read {counted(head['lines'], 'line')} only ({manifest}); {fix}"
                )
            if (
                created is not None
                and at > created + CLOCK_SLACK
                and str(record.get("run")) < manifest.parent.name
            ):
                raise AuditLogError(
                    f"{where} names the run of {record.get('run')} as the run reviewed, but the run of "
                    f"{manifest.parent.name} was published before it ({head.get('created_at')}) and an override "
                    f"names the latest published run; {fix}"
                )
