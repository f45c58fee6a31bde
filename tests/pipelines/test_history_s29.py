"""The streamed ``--keep-history`` ingest's CPU, session 29 (s29-scale; BENCHMARKS.md "Hostile inputs tried",
"Session 29 (s29-scale)"). The hand-built six-debtor book of ``test_history_s26``; every expected number is
by hand."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _outputs, _source


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system, t.children_user + t.children_system


def _night2(tmp_path: Path, out: Path, workers: int):
    """Night 2 streamed into ``out`` (6 partitions over the history's 3 buckets, chunks of 3 rows)."""
    from pipelines.ingest import ingest_source

    return ingest_source(
        _source(_book2(tmp_path / "n2")),
        out,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=workers,
    )


def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Night 1 in two folders; night 2 merged in memory into the first (the bytes to match)."""
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    ingest_source(_source(_book2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True)
    return mem, streamed


def test_each_step_of_a_streamed_merged_night_says_its_cpu_seconds(tmp_path: Path) -> None:
    """``IngestResult.cpu``: the CPU seconds of each step of ``timings`` (this process and the workers it
    waited for), so that a merged night's extra CPU can be split by step. Night 2 streamed into the history
    of night 1 with 2 workers over 6 partitions (the 11 + 7 merged ledger rows give 5 buckets of 4: the
    partitions are cut again into 5, a step of its own, ``recut``). The steps are those of ``timings``,
    none negative; together they hold every CPU second the workers spent (they count in the step that
    waited for them) and no more than the whole call used. Fails on main a5afe54 (no ``cpu``, no
    ``recut`` step: the re-cut counted in ``write``)."""
    from pipelines.ingest import ingest_source

    out = tmp_path / "out"
    ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    before, kids_before = _cpu()
    got = _night2(tmp_path, out, 2)
    after, kids_after = _cpu()
    assert got.manifest["layout"]["buckets"] == 5
    assert list(got.cpu) == list(got.timings)
    assert {"validate", "finish", "merge", "recut", "write"} <= set(got.cpu)
    assert min(got.cpu.values()) >= 0.0
    workers = kids_after - kids_before
    assert workers > 0.0  # the pool ran
    assert workers - 0.02 <= sum(got.cpu.values()) <= after - before + 0.02


def test_the_recut_hashes_each_partition_once_and_keeps_the_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-cut of a merged night (6 partitions into 5 buckets) hashed every debtor id twice: once to cut
    each partition file into the 5 buckets and once more per bucket, to sort it by (bucket, debtor), where
    every row is already in that bucket. Now each partition is cut by its bucket codes alone (its file is
    sorted by debtor) and each bucket sorted by debtor without its codes: bucket codes of 5 buckets are
    hashed 6 times per table, once per partition (main a5afe54: 6 + 5 = 11; fails there), and the night
    publishes the in-memory merge's bytes (every bucket and quarantine file)."""
    import pipelines.adapters.files as files
    from pipelines.ingest.stream import StreamRun

    mem, streamed = _two_folders(tmp_path)
    hashed: list[int] = []
    cutting = [False]
    codes, recut = files.bucket_codes, StreamRun.recut

    def counted(values, n):
        if cutting[0] and n > 1:
            hashed.append(n)
        return codes(values, n)

    def traced(self, n, tables=None):
        cutting[0] = True
        try:
            return recut(self, n, tables)
        finally:
            cutting[0] = False

    monkeypatch.setattr(files, "bucket_codes", counted)
    monkeypatch.setattr(StreamRun, "recut", traced)
    got = _night2(tmp_path, streamed, 1)
    assert got.manifest["layout"]["buckets"] == 5
    tables = len(got.manifest["history"]["tables"])
    assert tables == 3  # debtors, invoices, payments
    assert hashed == [5] * (6 * tables)
    assert _outputs(streamed) == _outputs(mem)


def test_bucket_parts_of_sorted_and_unsorted_frames() -> None:
    """``bucket_parts`` gives bucket k = the rows of bucket code k, sorted by debtor_id, stable (a
    missing id after every id, as before session 29), whether the frame comes sorted by
    debtor (the re-cut's bucket files: cut by bucket code alone since s29-scale), shuffled, or with a
    missing id (the sorted path must not take it); one bucket of a sorted frame is the frame."""
    import numpy as np
    import pandas as pd

    from pipelines.adapters.files import bucket_codes, bucket_parts

    ids = [f"D{k}" for k in (1, 1, 10, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9)]  # sorted as text: D1 < D10 < D2
    frame = pd.DataFrame(
        {"debtor_id": pd.Series(ids, dtype="string"), "amount": [float(k) for k in range(len(ids))]}
    )
    shuffled = frame.iloc[[5, 0, 12, 3, 1, 2, 4, 6, 7, 8, 9, 10, 11]].reset_index(drop=True)
    missing = frame.iloc[[0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 4]].reset_index(drop=True)
    missing.loc[12, "debtor_id"] = pd.NA  # last: a frame sorted but for its missing id
    for case in (frame, shuffled, missing):
        for n in (1, 3, 4):
            code = bucket_codes(case["debtor_id"], n)
            key = case["debtor_id"].fillna("\uffff")
            got = bucket_parts(case, n)
            assert len(got) == n
            for k in range(n):
                want = case.loc[code == k].assign(_key=key[code == k])
                want = want.sort_values("_key", kind="stable").drop(columns="_key").reset_index(drop=True)
                pd.testing.assert_frame_equal(got[k], want)
                assert np.all(bucket_codes(got[k]["debtor_id"], n) == k) if len(got[k]) else True
    assert [list(part["amount"]) for part in bucket_parts(frame, 1)] == [list(frame["amount"])]


def test_each_partition_merge_looks_up_only_the_moved_ids_its_history_may_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed merge replaces a kept row whose id moved to another debtor's partition (I13, D6's in the
    history, D4's tonight). Each partition's merge looked that up among the day's new ids of every
    partition (I5, I13, I14, I15 and the payments P3, P4, P6, P7: at 200k a hash table of 0.7-1.0M ids
    built per table and partition). Now a partition's merge gets only the new ids whose 64-bit hash a key
    of its own history has: I13 in the partition holding D6's history, nothing else anywhere (main a5afe54:
    all four invoices and four payments in each of the 6 partitions; fails there). The night publishes the
    in-memory merge's bytes, with I13 replaced (D4's) and not kept twice."""
    import pipelines.ingest.history_stream as history_stream
    from pipelines.adapters.files import read_portfolio

    mem, streamed = _two_folders(tmp_path)
    seen: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    real = history_stream.merge_part

    def logged(kept, today, starts, as_of, moved=None, recent_far=None, quarantined=None, open_items=None):
        held = tuple(sorted(kept["debtors"]["debtor_id"])) if "debtors" in kept else ()
        looked = {t: tuple(sorted(str(x) for x in ids)) for t, ids in (moved or {}).items()}
        seen.append((held, looked.get("invoices", ()), looked.get("payments", ())))
        return real(kept, today, starts, as_of, moved, recent_far, quarantined, open_items)

    monkeypatch.setattr(history_stream, "merge_part", logged)
    _night2(tmp_path, streamed, 1)
    assert len(seen) == 6
    assert [(inv, pay) for held, inv, pay in seen if "D6" in held] == [(("I13",), ())]
    assert [(inv, pay) for held, inv, pay in seen if "D6" not in held] == [((), ())] * 5
    assert _outputs(streamed) == _outputs(mem)
    inv = read_portfolio(streamed).invoices
    assert list(inv.loc[inv["invoice_id"] == "I13", "debtor_id"]) == ["D4"]


def test_the_far_invoice_lookup_compares_as_text_only_the_ids_whose_hash_is_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 4 of a streamed night looks up the invoice ids payments name outside their partition (here
    I2 and I11, which only the history holds, and the unknown I99) among tonight's spilled invoice ids. It
    made a Python string of every spilled id and probed a hash table with it (I4, I5, I13, I14, I15: 5
    probes; at 200k 9.9M ids, ~17 CPU-s of a 258 CPU-s merged night). Now only the spilled ids whose 64-bit
    hash (the spill's own) is a wanted id's are compared as text: none here (main a5afe54: 5; fails there).
    The night publishes the in-memory merge's bytes (P3 and P6 readmitted through the history, P8
    quarantined unknown_invoice)."""
    import sys

    mem, streamed = _two_folders(tmp_path)
    probed: list[str] = []
    real = pd.Index.get_indexer

    def counted(self, target, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "far_invoices":
            probed.extend(str(x) for x in target)
        return real(self, target, *args, **kwargs)

    monkeypatch.setattr(pd.Index, "get_indexer", counted)
    got = _night2(tmp_path, streamed, 1)
    assert probed == []
    assert got.manifest["history"]["readmitted"] == {"payments": 2}
    pay = got.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
    assert _outputs(streamed) == _outputs(mem)
