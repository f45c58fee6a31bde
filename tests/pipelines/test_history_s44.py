"""The merged ``--keep-history`` night's settlement state, session 44 (s44-scale; BENCHMARKS.md "Session 44
(s44-scale)"): the same answers from integer codes and from fewer look-ups. Every expected number is by
hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.ingest.history import settled
from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _outputs, _source


def test_settled_pairs_each_payment_with_its_invoice_of_the_same_debtor() -> None:
    """``settled`` groups the payments by (invoice, debtor) as integer codes (s44) where it grouped the
    joined texts: invoice A of X and invoice A of Y are two invoices; a payment id sent twice counts
    once (the last row); a payment after the as-of date or naming no invoice settles nothing; a missing
    debtor id pairs with a missing one; half a cent short is paid (0.005 slack), a cent short is not."""
    ts = pd.Timestamp
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "A", "B", "C", "D", "E"],
            "debtor_id": ["X", "Y", "X", None, "X", "Y"],
            "amount": [100.0, 30.0, 50.0, 20.0, 10.0, 40.0],
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": ["p1", "p2", "p3", "p3", "p4", "p5", "p6", "p7", "p8"],
            "debtor_id": ["X", "Y", "X", "X", None, "X", "Y", "Y", "X"],
            "invoice_id": ["A", "A", "B", "B", "C", None, "E", "E", "D"],
            "paid_on": [ts("2024-01-10")] * 6 + [ts("2024-01-10"), ts("2024-03-01"), ts("2024-01-10")],
            "amount": [99.996, 20.0, 50.0, 49.0, 20.0, 500.0, 39.99, 0.01, 9.99],
        }
    )
    # A/X: 99.996 (paid, within 0.005); A/Y: 20 of 30 (A/X's cash is not Y's); B: p3's last row 49.00 of
    # 50; C/<none>: 20 (paid); D: 9.99 of 10 (short by a cent); E: 39.99 by the as-of date, p7 later.
    assert settled(inv, [pay], dt.date(2024, 1, 31)).tolist() == [True, False, False, True, False, False]
    assert settled(inv, [pay], dt.date(2024, 3, 31)).tolist() == [True, False, False, True, False, True]
    # today's row of p3 (50.00) wins over the kept one: B paid
    today = pay.iloc[[2]]
    got = settled(inv, [pay.iloc[[0, 1, 3, 4, 5, 6, 7, 8]], today], dt.date(2024, 1, 31)).tolist()
    assert got == [True, False, True, True, False, False]


def _moved_book1(folder: Path) -> dict[str, Path]:
    """``_book1`` and I20 of D6 (issued 2024-03-16, 40.00), paid by P20 on 2024-03-25."""
    files = _book1(folder)
    files["invoices"].write_text(files["invoices"].read_text() + "I20,D6,2024-03-16,2024-04-15,40.00,EUR\n")
    files["payments"].write_text(files["payments"].read_text() + "P20,D6,I20,2024-03-25,40.00\n")
    return files


def _moved_book2(folder: Path) -> dict[str, Path]:
    """``_book2`` with I20 again, now D4's in the ERP (moved, as I13)."""
    files = _book2(folder)
    files["invoices"].write_text(files["invoices"].read_text() + "I20,D4,2024-03-16,2024-04-15,40.00,EUR\n")
    return files


def test_each_partition_counts_its_paid_invoices_with_only_the_moved_ids_its_history_may_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed merged night counts per partition the paid kept invoices today's export holds
    (``paid_days``, for the missing-month check and where the export stops being open items alone); an
    invoice that moved to another debtor's partition is held through the day's new ids of every
    partition. Each partition looked that up among all of them (I5, I13, I14, I15, I20 in each partition;
    at 1M a hash table of ~4M ids built 47 times). Now only the new ids whose 64-bit hash a kept invoice
    of the partition has: I13 and I20 where D6's history is, none elsewhere (fails on main 92c9def).
    The counts are those of every new id: paid kept invoices by issue day: I1 01-05, I3 01-20, I2 02-10
    (P3 today), I10 03-02, I11 03-05 (P6 today) lacked; I4 03-15 (in today's export, P4 90.00 >= 80.00)
    and I20 03-16 (P20; today D4's) held. The night publishes the in-memory merge's bytes."""
    import pipelines.ingest.history_stream as history_stream
    from pipelines.ingest import ingest_source

    every: dict[str, pd.Index] = {}
    real_hashed = history_stream.hashed

    def keep_moved(moved):
        every.update(moved)
        return real_hashed(moved)

    seen: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    counts: list[pd.DataFrame] = []
    real = history_stream.paid_days

    def logged(kept, today, start, as_of, moved=None):
        held = tuple(sorted(kept["invoices"]["invoice_id"])) if "invoices" in kept else ()
        seen.append((held, tuple(sorted(str(x) for x in (moved if moved is not None else [])))))
        got = real(kept, today, start, as_of, moved)
        pd.testing.assert_frame_equal(got, real(kept, today, start, as_of, every.get("invoices")))
        counts.append(got)
        return got

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(_source(_moved_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    ingest_source(_source(_moved_book2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True)
    monkeypatch.setattr(history_stream, "hashed", keep_moved)
    monkeypatch.setattr(history_stream, "paid_days", logged)
    ingest_source(
        _source(_moved_book2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=1,
    )
    assert sorted(every["invoices"]) == ["I13", "I14", "I15", "I20", "I5"]
    assert [m for held, m in seen if "I13" in held] == [("I13", "I20")]
    assert {m for held, m in seen if "I13" not in held} == {()}
    ts = pd.Timestamp
    total = pd.concat(counts).groupby(level=0).sum()
    assert total.to_dict("index") == {
        ts("2024-01-05"): {"absent": 1, "present": 0},
        ts("2024-01-20"): {"absent": 1, "present": 0},
        ts("2024-02-10"): {"absent": 1, "present": 0},
        ts("2024-03-02"): {"absent": 1, "present": 0},
        ts("2024-03-05"): {"absent": 1, "present": 0},
        ts("2024-03-15"): {"absent": 0, "present": 1},
        ts("2024-03-16"): {"absent": 0, "present": 1},
    }
    assert _outputs(streamed) == _outputs(mem)


def test_unchanged_counts_the_replaced_rows_sent_again_as_kept() -> None:
    """``_unchanged`` pairs each replaced kept row with today's row of its key by position (s44) where it
    joined the key texts: I1 as kept (counted), I2 another amount, I3 as kept with no due date on both
    sides (counted), I4 twice today (paired with neither: changed), I5 not in today's rows (moved to
    another partition: changed), I6 today only (not a replaced row)."""
    from pipelines.ingest.history import _unchanged

    ts = pd.Timestamp
    kept = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4", "I5"],
            "due_date": [ts("2024-02-01"), ts("2024-02-02"), pd.NaT, ts("2024-02-04"), ts("2024-02-05")],
            "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        },
        index=[7, 3, 9, 1, 4],
    )
    today = pd.DataFrame(
        {
            "invoice_id": ["I6", "I4", "I3", "I2", "I1", "I4"],
            "due_date": [
                ts("2024-02-06"),
                ts("2024-02-04"),
                pd.NaT,
                ts("2024-02-02"),
                ts("2024-02-01"),
                ts("2024-02-04"),
            ],
            "amount": [60.0, 40.0, 30.0, 21.0, 10.0, 40.0],
            "currency": ["EUR"] * 6,
        }
    )
    assert _unchanged(kept, today, "invoices") == 2
    assert _unchanged(kept.iloc[[0]], today, "invoices") == 1
    assert _unchanged(kept, today.iloc[:0], "invoices") == 0
