"""The streamed ``--keep-history`` ingest's CPU, session 29 (s29-scale; BENCHMARKS.md "Hostile inputs tried",
"Session 29 (s29-scale)"). The hand-built six-debtor book of ``test_history_s26``; every expected number is
by hand."""

from __future__ import annotations

import os
from pathlib import Path

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _source


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system, t.children_user + t.children_system


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
    got = ingest_source(
        _source(_book2(tmp_path / "n2")),
        out,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=2,
    )
    after, kids_after = _cpu()
    assert got.manifest["layout"]["buckets"] == 5
    assert list(got.cpu) == list(got.timings)
    assert {"validate", "finish", "merge", "recut", "write"} <= set(got.cpu)
    assert min(got.cpu.values()) >= 0.0
    workers = kids_after - kids_before
    assert workers > 0.0  # the pool ran
    assert workers - 0.02 <= sum(got.cpu.values()) <= after - before + 0.02
