"""A runs folder's book (OUTDIR/book.json, s39-audit / s40-attack a51b78d) when the data folder is emptied
and ingested anew: a nightly script that clears ``data/ingested`` before ``ews ingest`` gets a new book id
in the same folder every night. Before, `ews score` refused every such night as "another book"
(exit 2, "remove book.json"); the recorded folder is now always the same book, and its new id is recorded
(so the folder moved later is still known by it). Another folder with another id is still refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def test_the_recorded_folder_emptied_and_ingested_anew_stays_the_same_book(tmp_path: Path) -> None:
    from nightly_portfolio import write_portfolio

    from pipelines.adapters.book import BOOK_FILE, BookMismatchError, check_book, record_book
    from pipelines.ingest import ingest_dir

    raw_1 = write_portfolio(tmp_path / "raw_1", n_debtors=30, months=6)
    raw_2 = write_portfolio(tmp_path / "raw_2", n_debtors=30, months=7)  # next month's whole export
    data, runs = tmp_path / "data", tmp_path / "runs"
    ingest_dir(raw_1, data)
    first = json.loads((data / "manifest.json").read_text())["book_id"]
    record_book(runs, data, "2024-06-30")

    shutil.rmtree(data)  # the nightly script clears the folder, then ingests the whole export
    ingest_dir(raw_2, data)
    second = json.loads((data / "manifest.json").read_text())["book_id"]
    assert second != first  # a digest of other input files

    check_book(runs, data)  # before: BookMismatchError, every night
    record_book(runs, data, "2024-07-31")
    recorded = json.loads((runs / BOOK_FILE).read_text())
    assert (recorded["book_id"], recorded["data_dir"], recorded["first_run"]) == (
        second,
        str(data.resolve()),
        "2024-06-30",
    )
    moved = tmp_path / "moved" / "data"
    shutil.copytree(data, moved)
    check_book(runs, moved)  # known by the id recorded last
    other = tmp_path / "other"
    ingest_dir(write_portfolio(tmp_path / "raw_o", n_debtors=30, months=6, seed=4001), other)
    with pytest.raises(BookMismatchError):
        check_book(runs, other)
    record_book(runs, other, "2024-08-31")  # another folder never rebinds the runs
    assert json.loads((runs / BOOK_FILE).read_text())["book_id"] == second
