"""The streamed ``--keep-history`` merge's quarantined keys, session 31 (s31-scale; BENCHMARKS.md
"Session 31 (s31-scale)"). The hand-built six-debtor book of ``test_history_s26``; every expected number
is by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _ledger, _outputs, _source

# night 2 of test_history_s26 (_book2) with three rows quarantined no_fx_rate:USD whose keys the history
# holds: I10 (D3's, sent again in USD), I7 (D1's in the history, sent under D3 in USD: moved to another
# debtor and quarantined) and P5 (D3's payment of I10, in its invoice's currency)
INVOICES2 = (
    "I4,D2,2024-03-15,2024-04-14,90.00,EUR\nI5,D1,2024-04-02,2024-05-02,60.00,EUR\n"
    "I13,D4,2024-03-20,2024-04-19,90.00,EUR\nI14,D4,2024-04-10,2024-05-10,25.00,EUR\n"
    "I15,D6,2024-04-11,2024-05-11,35.00,EUR\n"
    "I10,D3,2024-03-02,2024-04-01,70.00,USD\nI7,D3,2024-03-25,2024-04-24,40.00,USD\n"
)
PAYMENTS2 = (
    "P3,D1,I2,2024-04-05,200.00\nP4,D2,I4,2024-04-20,90.00\nP6,D4,I11,2024-04-12,30.00\n"
    "P7,D4,I13,2024-04-25,90.00\nP8,D3,I99,2024-04-26,10.00\nP5,D3,I10,2024-03-10,70.00\n"
)


def _night2(tmp_path: Path, out: Path, **streamed):
    from pipelines.ingest import ingest_source

    files = _ledger(tmp_path / "n2", INVOICES2, PAYMENTS2)
    return ingest_source(_source(files), out, as_of=NIGHT2, keep_history=True, **streamed).manifest


@pytest.mark.parametrize("workers", [1, 2])
def test_each_partition_merge_gets_only_the_quarantined_keys_its_history_may_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Each partition's merge of a streamed night looked up every quarantined key of the night
    (s30-review: at 1M debtors with 5 % of the rows quarantined, a text key and a hash table of every
    quarantined key per table and partition). Now a partition's merge gets only the quarantined keys
    whose 64-bit hash a key of its own history has: I7 where D1's history is (its row today is D3's),
    I10 and P5 where D3's is, nothing elsewhere, P8 (an unknown invoice's payment, in no history)
    nowhere. On main ee7fce7 every one of the 6 partitions got I10, I7 and P5, P8 (fails there).

    The night publishes the in-memory merge's bytes, which keeps all three rows as they were (counted
    ``quarantined``): invoices 12 = 9 kept - 2 replaced (I4 revised, I13 moved to D4) + 5 today, none
    removed (I7, inside today's span, is in today's export: quarantined, not cancelled); payments
    7 = 3 kept + 4 today (P3, P6 readmitted through the history; P5 and P8 quarantined)."""
    import pipelines.ingest.history_stream as history_stream
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    want = _night2(tmp_path, mem)
    seen: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    real = history_stream.merge_part

    def logged(kept, today, starts, as_of, moved=None, recent_far=None, quarantined=None, open_items=None):
        held = tuple(sorted(kept["debtors"]["debtor_id"])) if "debtors" in kept else ()
        got = {t: tuple(sorted(f[f.columns[0]].astype(str))) for t, f in (quarantined or {}).items()}
        seen.append((held, got.get("invoices", ()), got.get("payments", ())))
        return real(kept, today, starts, as_of, moved, recent_far, quarantined, open_items)

    monkeypatch.setattr(history_stream, "merge_part", logged)
    got = _night2(tmp_path, streamed, stream=True, partitions=6, chunk_rows=3, workers=workers)
    if workers == 1:  # the wrapper is seen in this process only
        assert len(seen) == 6
        for held, inv, pay in seen:
            assert inv == tuple(sorted((["I7"] if "D1" in held else []) + (["I10"] if "D3" in held else [])))
            assert pay == (("P5",) if "D3" in held else ())
    for m in (want, got):
        assert m["tables"]["invoices"]["reasons"] == {"no_fx_rate:USD": 2}
        # P8 names no known invoice: its currency is its debtor's, D3's, whose invoices today are in USD
        assert m["tables"]["payments"]["reasons"] == {"no_fx_rate:USD": 2}
        h = m["history"]["tables"]
        assert h["invoices"] == {
            "kept": 9,
            "replaced": 2,
            "added": 3,
            "removed": 0,
            "rows": 12,
            "quarantined": 2,
        }
        assert h["payments"] == {
            "kept": 3,
            "replaced": 0,
            "added": 4,
            "removed": 0,
            "rows": 7,
            "quarantined": 1,
        }
    assert got["history"] == want["history"]
    assert _outputs(streamed) == _outputs(mem)


def test_debtors_same_ids_counts_the_previous_runs_debtors_scored_today_under_the_same_id() -> None:
    """``debtors_same_ids`` (3218f1a): of the previous run's 5 scored debtors, D1 and D3 are scored
    today under the same id; D2 as C-D2 (renamed), 007 as 7 (leading zeros stripped) and D4 (gone) are
    not: 2, whatever the columns' dtypes (the previous scores' Arrow strings, today's objects). No
    previous run's ids: None. The count now goes through Arrow (0.3 CPU-s at 1M debtors; pandas'
    string isin of the inline expression took 6.2, BENCHMARKS "Session 31 (s31-scale)"); before,
    ``same_ids`` was that inline expression in the nightly flow (fails there: no such function)."""
    from pipelines.feed_checks import same_ids

    previous = pd.DataFrame({"debtor_id": pd.array(["D1", "D2", "D3", "D4", "007"], dtype="string")})
    today = pd.DataFrame({"debtor_id": ["D1", "C-D2", "D3", "D5", "7"]}, dtype=object)
    assert same_ids(previous, today) == 2
    assert same_ids(None, today) is None
    assert same_ids(pd.DataFrame({"pd": [0.1]}), today) is None
