"""Which book a runs folder (or a backtest folder) belongs to, so that two books' runs never mix.

``ews ingest --out DATA`` gives the book an id (``book_id`` in ``DATA/manifest.json``): on the first
ingest into DATA a digest of its input files, kept by every later ingest into it. The first run published into OUTDIR
records that id and DATA's path in ``OUTDIR/book.json``; every later run, backfill and backtest with
that OUTDIR refuses a --data that is another book (:class:`BookMismatchError`: exit 2, before any
work). A folder of raw files (``--raw``, or a folder ``ews ingest`` never wrote) has no id: it is
known by its path. Before session 39 nothing identified the book: ``ews score --data B --out A_runs``
scored B, compared it with A's last run (PD changes, band migrations, days on the list) and
published it among A's runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = [
    "BOOK_FILE",
    "BookMismatchError",
    "book_id_for",
    "book_of",
    "check_book",
    "folder_book",
    "record_book",
]

BOOK_FILE = "book.json"


class BookMismatchError(ValueError):
    """--data is another book than the one whose runs --out holds."""


def book_id_for(out: Path, inputs: dict[str, str]) -> str:
    """The book id an ingest into ``out`` publishes: the one its previous ingest recorded there, else
    one derived from this first ingest's input files (``inputs``: file -> sha256, the manifest's): the
    same files ingested into two folders give the same bytes (a rerun is byte-identical), another
    book's files another id."""
    try:
        before = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8")).get("book_id")
    except (OSError, ValueError, AttributeError):
        before = None
    if isinstance(before, str) and before:
        return before
    digest = hashlib.sha256(json.dumps(sorted(inputs.values())).encode("utf-8")).hexdigest()
    return digest[:32]


def book_of(data: Path) -> dict[str, Any]:
    """``{"book_id": id or None, "data_dir": absolute path}`` of a --data folder."""
    data = Path(data)
    try:
        book_id = json.loads((data / "manifest.json").read_text(encoding="utf-8")).get("book_id")
    except (OSError, ValueError, AttributeError):
        book_id = None
    return {
        "book_id": book_id if isinstance(book_id, str) and book_id else None,
        "data_dir": str(data.resolve()),
    }


def _recorded(out: Path) -> dict[str, Any] | None:
    path = Path(out) / BOOK_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BookMismatchError(
            f"{path} is not readable JSON ({exc}); it records which book's runs {out} holds: restore it from "
            f"a backup, or remove it if {out} holds the runs of one book only (the next run records its --data)"
        ) from None
    return body if isinstance(body, dict) else {}


def _same(recorded: dict[str, Any], book: dict[str, Any]) -> bool:
    """The recorded book, by its id or by its folder. The recorded folder itself is always the same book:
    every ingest into a folder keeps its id, so another id there means the folder was emptied and
    ingested anew (a nightly script that clears it first), not that another book was put there (which
    would have kept the id and passed as well). Refusing it stopped every night of such a script (s40)."""
    if recorded.get("data_dir") == book["data_dir"]:  # also a raw folder, or one ingested before s39
        return True
    if recorded.get("book_id") and book["book_id"]:
        return bool(recorded["book_id"] == book["book_id"])
    return False


def check_book(out: Path, data: Path, what: str = "runs") -> None:
    """Refuse ``--data`` when ``--out`` records another book (``OUTDIR/book.json``); nothing when it
    records none yet. ``what``: what the folder holds, for the message (``runs``, ``backtest``)."""
    out = Path(out)
    recorded = _recorded(out)
    if not recorded:
        return
    book = book_of(data)
    if _same(recorded, book):
        return

    def named(b: dict[str, Any]) -> str:
        return f"book {b['book_id']}" if b.get("book_id") else "a folder of raw files"

    first = f", first run {recorded['first_run']}" if recorded.get("first_run") else ""
    raise BookMismatchError(
        f"--out {out} holds the {what} of {named(recorded)} (--data {recorded.get('data_dir')}{first}; "
        f"{out / BOOK_FILE}), but --data {data} is {named(book)} ({book['data_dir']}): the {what} of two books "
        f"would mix (tonight's PDs compared with another book's last run). Give this book a folder of its own "
        f"(--out another folder). If it is the same book, moved or ingested anew into another folder, remove "
        f"{out / BOOK_FILE} and run again: the next run records --data {data}"
    )


def record_book(out: Path, data: Path, first_run: str | None = None) -> None:
    """Record ``data``'s book in ``OUTDIR/book.json`` (atomically) when the folder records none yet, or
    records this folder's path without the id an ingest has since given it (a folder ingested before
    s39, or emptied and ingested anew), keeping the first run."""
    from pipelines.adapters.files import write_text_atomic

    out = Path(out)
    recorded = _recorded(out)
    book = book_of(data)
    if recorded:  # recorded again only for its own folder holding an id it does not record yet
        anew = recorded.get("data_dir") == book["data_dir"] and book["book_id"]
        if not anew or recorded.get("book_id") == book["book_id"]:
            return
    # the ids this folder held before (ingested anew): an override entered under one of them is this book's
    # (pipelines.scoring.overrides.check_books)
    earlier = [
        *(recorded or {}).get("earlier_ids", []),
        *([recorded["book_id"]] if (recorded or {}).get("book_id") else []),
    ]
    body = {
        **book,
        **({"earlier_ids": earlier} if earlier else {}),
        "first_run": (recorded or {}).get("first_run") or first_run,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_text_atomic(json.dumps(body, indent=2) + "\n", out / BOOK_FILE)


def folder_book(out: Path) -> tuple[str | None, set[str], dict[str, Any]]:
    """(the book id ``OUTDIR/book.json`` records, with the ids the folder held before it was ingested anew,
    the whole record): ``(None, set(), {})`` when it records none (no run published yet, a folder of raw files,
    an unreadable file: :func:`check_book` names that one)."""
    try:
        recorded = _recorded(Path(out)) or {}
    except BookMismatchError:
        return None, set(), {}
    current = recorded.get("book_id") if isinstance(recorded.get("book_id"), str) else None
    earlier = {str(x) for x in recorded.get("earlier_ids") or [] if isinstance(x, str)}
    return current, ({current} | earlier) if current else earlier, recorded
