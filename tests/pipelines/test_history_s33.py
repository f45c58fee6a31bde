"""``ews ingest --keep-history`` dates the master data from each night's debtors table, session 33
(s33-history): a team without an ERP change log builds its ``debtor_history`` by running ews nightly.
The six-debtor book of ``test_history_s26`` with limits, segments and countries; every expected row is
by hand. The in-memory and the streamed merge publish the same bytes (as ``test_history_s26`` /
``test_history_s27`` check for the ledger tables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.adapters.files import read_portfolio
from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _outputs, _source, _tree

DEB1 = (
    "debtor_id,name,credit_limit,segment,country\n"
    "D1,Name 1,1000,retail,DE\nD2,Name 2,500,retail,FR\nD3,Name 3,300,,DE\n"
    "D4,Name 4,,wholesale,\nD5,Name 5,200,wholesale,NL\nD6,Name 6,100,retail,DE\n"
)
# night 2: D1's limit cut to 0; D3 states a segment (none before); D5 moved to BE (but a given row of
# the same day wins); D2, D4 and D6 unchanged (D4's empty cells state nothing)
DEB2 = (
    "debtor_id,name,credit_limit,segment,country\n"
    "D1,Name 1,0,retail,DE\nD2,Name 2,500,retail,FR\nD3,Name 3,300,construction,DE\n"
    "D4,Name 4,,wholesale,\nD5,Name 5,200,wholesale,BE\nD6,Name 6,100,retail,DE\n"
)
# given on night 2: D5's limit of that very day (wins over the derived row), D6's limit from 04-15 (the
# same 100 as the table: no derived row), a row dated after the as-of date (quarantined)
HIST2 = "debtor_id,valid_from,credit_limit\nD5,2024-04-30,250\nD6,2024-04-15,100\nD6,2024-05-05,90\n"


def _night1(folder: Path) -> dict[str, Path]:
    files = _book1(folder)
    files["debtors"].write_text(DEB1)
    return files


def _night2(folder: Path) -> dict[str, Path]:
    files = _book2(folder)
    files["debtors"].write_text(DEB2)
    files["debtor_history"] = folder / "hist.csv"
    files["debtor_history"].write_text(HIST2)
    return files


def _rows(folder: Path) -> list[tuple]:
    """The published debtor_history as (debtor, valid_from, limit, segment, country), None where empty."""
    h = read_portfolio(folder).debtor_history
    h = h.astype(object).where(h.notna(), None)
    return sorted(
        (r.debtor_id, r.valid_from.date().isoformat(), r.credit_limit, r.segment, r.country)
        for r in h.itertuples(index=False)
    )


NIGHT1_ROWS = [
    ("D1", "2024-03-31", 1000.0, "retail", "DE"),
    ("D2", "2024-03-31", 500.0, "retail", "FR"),
    ("D3", "2024-03-31", 300.0, None, "DE"),
    ("D4", "2024-03-31", None, "wholesale", None),
    ("D5", "2024-03-31", 200.0, "wholesale", "NL"),
    ("D6", "2024-03-31", 100.0, "retail", "DE"),
]
NIGHT2_ROWS = sorted(
    [
        *NIGHT1_ROWS,
        ("D1", "2024-04-30", 0.0, "retail", "DE"),
        ("D3", "2024-04-30", 300.0, "construction", "DE"),
        ("D5", "2024-04-30", 250.0, None, None),
        ("D6", "2024-04-15", 100.0, None, None),
    ]
)


@pytest.mark.parametrize("partitions", [1, 2, 6])
def test_each_night_dates_the_attributes_that_changed(tmp_path: Path, partitions: int) -> None:
    """Night 1 (the first): one row per debtor, valid from that night's as-of date (not earlier: the
    export says what the ERP held that day, not since when). Night 2: rows for D1 (limit cut) and D3
    (segment stated), none for D2, D4, D6 (unchanged; D6's given row of 04-15 already states its 100),
    D5's derived row dropped for the given row of the same day. 10 rows = 6 kept + 2 given + 2
    derived; the given table's rows in 3 = 2 accepted + 1 quarantined (dated after the as-of date).
    The streamed merge (1, 2 or 6 partitions) publishes the same bytes; a rerun of night 2 too.
    Fails on main ab47a2b: no debtor_history is derived (the table is absent after night 1)."""
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    first = {}
    for out in (mem, streamed):
        first[out] = ingest_source(_source(_night1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    assert _rows(mem) == NIGHT1_ROWS
    assert first[mem].manifest["history"]["tables"]["debtor_history"] == {
        "kept": 0,
        "replaced": 0,
        "added": 6,
        "removed": 0,
        "rows": 6,
        "derived": 6,
    }
    want = ingest_source(_source(_night2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        _source(_night2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=partitions,
        chunk_rows=3,
    ).manifest
    assert _rows(mem) == NIGHT2_ROWS
    assert want["history"]["tables"]["debtor_history"] == {
        "kept": 6,
        "replaced": 0,
        "added": 4,
        "removed": 0,
        "rows": 10,
        "derived": 2,
    }
    assert got["history"] == want["history"]
    h = got["tables"]["debtor_history"]
    assert (h["rows_in"], h["rows_accepted"], h["rows_quarantined"]) == (3, 2, 1)
    assert _outputs(streamed) == _outputs(mem)
    before = _tree(streamed)
    ingest_source(
        _source(_night2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=partitions,
        chunk_rows=3,
    )
    assert _tree(streamed) == before


@pytest.mark.parametrize("workers", [1, 2])
def test_a_streamed_first_night_dates_every_debtor_as_the_in_memory_one(tmp_path: Path, workers: int) -> None:
    """The first night streamed (no history to merge into: the rows are derived partition by partition,
    in the ingest's worker processes with 2 workers) publishes the same bytes as the in-memory first
    night: the 6 rows of NIGHT1_ROWS. Night 2 then merges into it as into the in-memory one."""
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    want = ingest_source(_source(_night1(tmp_path / "n1")), mem, as_of=NIGHT1, keep_history=True).manifest
    got = ingest_source(
        _source(_night1(tmp_path / "n1")),
        streamed,
        as_of=NIGHT1,
        keep_history=True,
        stream=True,
        partitions=3,
        chunk_rows=3,
        workers=workers,
    ).manifest
    assert got["history"] == want["history"]
    assert _outputs(streamed) == _outputs(mem)
    assert _rows(streamed) == NIGHT1_ROWS
    ingest_source(_source(_night2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True)
    ingest_source(
        _source(_night2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=3,
        chunk_rows=3,
        workers=workers,
    )
    assert _rows(streamed) == NIGHT2_ROWS
    assert _outputs(streamed) == _outputs(mem)
