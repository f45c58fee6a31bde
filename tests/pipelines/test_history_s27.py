"""The streamed ``--keep-history`` merge at scale, session 27 (s27-merge; BENCHMARKS.md "Hostile inputs
tried", "Session 27 (s27-merge)"): its per-partition steps run in the streamed ingest's worker
processes, and the schema of a table's empty partition comes from the Parquet metadata. The
hand-built six-debtor book of ``test_history_s26``; every expected number is by hand."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import pytest

from pipelines.adapters.files import read_portfolio
from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _outputs, _source, _tree


def _pids(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each call of the streamed merge's ``merge_part`` appends the id of the process it ran in to
    ``log`` (a forked worker inherits the patched module)."""
    import pipelines.ingest.history_stream as history_stream

    real = history_stream.merge_part

    def logged(*args, **kwargs):
        with log.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(history_stream, "merge_part", logged)


def test_the_streamed_merge_runs_in_the_ingest_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session 26's streamed merge ran in the ingest's own process, one partition after the other (+299
    CPU-s at 1M beside a pool of idle workers). With 2 workers the 6 partitions of night 2 are merged in
    the worker processes (6 calls, none in this process); with 1 worker all 6 here. Both publish the
    same bytes (every file, the manifest and OUT/.history too), a rerun of the night too, and rows in =
    accepted + quarantined (payments 5 = 4 + 1). Fails on main bdd629d (the 6 calls in this process)."""
    from pipelines.ingest import ingest_source

    log = tmp_path / "pids.txt"
    _pids(monkeypatch, log)
    trees = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
        log.unlink(missing_ok=True)
        got = ingest_source(
            _source(_book2(tmp_path / "n2")),
            out,
            as_of=NIGHT2,
            keep_history=True,
            stream=True,
            partitions=6,
            chunk_rows=3,
            workers=workers,
        ).manifest
        pids = log.read_text().split()
        assert len(pids) == 6
        if workers == 1:
            assert set(pids) == {str(os.getpid())}
        else:
            assert str(os.getpid()) not in pids
        pay = got["tables"]["payments"]
        assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
        assert got["history"]["tables"]["invoices"]["rows"] == 11  # 9 kept - 1 removed + 5 - 2 replaced
        trees[workers] = _tree(out)
    assert trees[1] == trees[2]
    assert any(k.startswith(".history/") for k in trees[2])
    ingest_source(
        _source(_book2(tmp_path / "n2")),
        tmp_path / "w2",
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=2,
    )
    assert _tree(tmp_path / "w2") == trees[2]


def _whole_reads(monkeypatch: pytest.MonkeyPatch, in_merge: bool) -> Counter[str]:
    """Counts the Parquet files read whole (``pq.read_table`` without ``columns``) by this process, during
    the streamed merge (``in_merge``) or outside it; the reads themselves go on as before."""
    import pyarrow.parquet as pq

    import pipelines.ingest.history_stream as history_stream

    whole: Counter[str] = Counter()
    merging = False
    read_table, merge_streamed = pq.read_table, history_stream.merge_streamed

    def counted(source, *args, **kwargs):
        if merging == in_merge and kwargs.get("columns") is None:
            whole[str(source)] += 1
        return read_table(source, *args, **kwargs)

    def merge(*args, **kwargs):
        nonlocal merging
        merging = True
        try:
            return merge_streamed(*args, **kwargs)
        finally:
            merging = False

    monkeypatch.setattr(pq, "read_table", counted)
    monkeypatch.setattr(history_stream, "merge_streamed", merge)
    return whole


EVENTS = "debtor_id,event_date,kind,amount\nD1,2024-03-10,agency_placement,0\n"


def test_an_empty_partition_takes_its_schema_from_the_parquet_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """To write a table's partition that has no rows, session 26's merge read bucket 0 of every table
    whole, of the history and of today's stage (at 1M about 2M rows each), then read them again to merge
    partition 0. Now the empty frame comes from the file's schema: during the merge no bucket file is
    read whole more than once (3 partitions, 3 history buckets). Night 1 holds an event of D1; night 2's
    export has no events file, so the partitions without D1 write an empty events bucket: the same bytes
    as the in-memory merge (events 1 kept, 0 added). Fails on main bdd629d (bucket 0 read twice)."""
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        files = _book1(tmp_path / "n1")
        files["events"] = tmp_path / "n1" / "ev.csv"
        files["events"].write_text(EVENTS)
        ingest_source(_source(files), out, as_of=NIGHT1, keep_history=True)
    want = ingest_source(_source(_book2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True).manifest

    whole = _whole_reads(monkeypatch, in_merge=True)
    got = ingest_source(
        _source(_book2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=3,
        chunk_rows=3,
        workers=1,
    ).manifest
    assert whole, "the merge read no bucket whole"
    assert max(whole.values()) == 1, whole.most_common(3)
    assert got["history"] == want["history"]
    assert want["history"]["tables"]["events"] == {
        "kept": 1,
        "replaced": 0,
        "added": 0,
        "removed": 0,
        "rows": 1,
    }
    assert _outputs(streamed) == _outputs(mem)
    events = read_portfolio(streamed).events
    assert (len(events), events["debtor_id"].iloc[0], events["event_date"].iloc[0]) == (
        1,
        "D1",
        dt.datetime(2024, 3, 10),
    )


def test_readmission_reads_only_the_historys_id_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 5 of a streamed ingest with a history readmits a payment whose invoice only the history holds
    (P3 of I2, P6 of I11) and a row whose debtor only it knows. Session 26 read the history's debtors,
    invoices and statements of each partition whole for it (every column; a 1M book's bucket is about 1M
    invoices); it needs debtor_id and invoice_id only. Outside the merge no file of the history is read
    whole now (on main bdd629d: the 3 debtors and 3 invoices buckets, once each), and P3 and P6 are still
    readmitted (2 payments; 5 in = 4 accepted + 1 quarantined)."""
    from pipelines.ingest import ingest_source

    out = tmp_path / "streamed"
    ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    whole = _whole_reads(monkeypatch, in_merge=False)
    got = ingest_source(
        _source(_book2(tmp_path / "n2")),
        out,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=3,
        chunk_rows=3,
        workers=1,
    ).manifest
    history = [p for p in whole if Path(p).is_relative_to(out) and ".staging" not in p]
    assert history == []
    assert got["history"]["readmitted"] == {"payments": 2}
    pay = got["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
