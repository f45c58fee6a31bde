"""A kept history fed by an ERP's rolling export whose old open items are many, session 41
(s41-rolling; BENCHMARKS.md "Session 41 (s41-rolling)"). Hand-built ledgers; every expected number is
by hand. s40-small's third book s77 (27.6 % of its payments name no invoice, so its ERP's open items
before the 12-month window were a third of a month's invoices while the book's volume fell): the
span of the export (``history.span_start``: months with half the recent rate) began among the open
items, the paid invoices that had left the window were removed as cancelled (170 at 2024-03-31) and
the next exports were refused as partial. Each test fails on main aa34baa (the first two: the paid
invoices removed, no ``aged_out``; the third: refused with 36 missing of 96, the paid ones counted).

The ledger: debtors D01..D16, each with an invoice on the 5th and the 20th of March, April and May
2024 and on the 5th of June and July (the volume fell), 100.00. Night 1 (2024-06-30) is the whole
ledger: 7 invoices a debtor, 112, and the payments of the invoices of the 5th of March (P..0305,
04-01), April (P..0405, paid late on 06-10) and May (P..0505, 06-01): 48. The invoices of the 20th
are never paid by reference (a debtor paying on account). Night 2 (2024-07-31) is the ERP's rolling
export: the invoices issued from 2024-05-01 (4 a debtor) and, before the window, the invoices still
open (those of the 20th of March and April; the paid ones of the 5th have left it): 96 rows; the
payments of those invoices: P..0505 (06-01) and P..0605 (07-01), 32.

Today's invoices per month: March 16, April 16, May 32, June 16, July 16: the recent rate is 16, March
and April reach half of it, so the span starts in March, on the 20th (its rows before the 20th stay
under half the pace). The kept invoices of the 5th of April (16, paid by P..0405) are inside that span and
missing from today's export: before session 41 removed as cancelled, with their payments (P..0405
on 06-10, inside the payments' span, June-July, their invoices inside the invoices'). Paid kept
invoices inside the span per issue day (``history.paid_days``): 04-05 absent 16; 05-05 present 16;
06-05 present 16 (P..0605 today): the running sum of absent - present peaks at 04-05, so today's
export holds every invoice from 2024-04-06 (``open_items_end``) and the 16 are aged out."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from pipelines.adapters.files import read_portfolio
from pipelines.config.source import RulesConfig
from pipelines.ingest import TableError, ingest_files
from pipelines.ingest.history import open_items_end, paid_days, settled

NIGHT1 = dt.date(2024, 6, 30)
NIGHT2 = dt.date(2024, 7, 31)
RULES = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
INV = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
PAY = "payment_id,debtor_id,invoice_id,paid_on,amount\n"
DEBTORS = [f"D{k:02d}" for k in range(1, 17)]
PAID_ON = {3: "2024-04-01", 4: "2024-06-10", 5: "2024-06-01", 6: "2024-07-01"}


def _inv(d: str, month: int, day: int) -> str:
    return f"I{d[1:]}{month:02d}{day:02d},{d},2024-{month:02d}-{day:02d},2024-{month + 1:02d}-{day:02d},100.00,EUR\n"


def _pay(d: str, month: int) -> str:
    return f"P{d[1:]}{month:02d}05,{d},I{d[1:]}{month:02d}05,{PAID_ON[month]},100.00\n"


def _files(folder: Path, invoices: list[str], payments: list[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv", "debtors": folder / "deb.csv"}
    files["invoices"].write_text(INV + "".join(invoices))
    files["payments"].write_text(PAY + "".join(payments))
    files["debtors"].write_text("debtor_id,name\n" + "".join(f"{d},Name {d}\n" for d in DEBTORS))
    return files


def _night1(folder: Path) -> dict[str, Path]:
    return _files(
        folder,
        [_inv(d, m, day) for d in DEBTORS for m in (3, 4, 5, 6) for day in (5, 20) if m < 6 or day == 5],
        [_pay(d, m) for d in DEBTORS for m in (3, 4, 5)],
    )


def _night2(folder: Path, debtors: list[str] = DEBTORS, drop: tuple[str, ...] = ()) -> dict[str, Path]:
    """The rolling export of 2024-07-31 of ``debtors``, without the rows whose id is in ``drop``."""
    invoices = [_inv(d, m, 20) for d in debtors for m in (3, 4)]
    invoices += [_inv(d, m, day) for d in debtors for m in (5, 6, 7) for day in (5, 20) if m < 6 or day == 5]
    payments = [_pay(d, m) for d in debtors for m in (5, 6)]
    return _files(
        folder,
        [r for r in invoices if r.split(",")[0] not in drop],
        [r for r in payments if r.split(",")[0] not in drop],
    )


def _ingest(files: dict[str, Path], out: Path, as_of: dt.date):
    return ingest_files(files, out, as_of=as_of, settings=RULES, keep_history=True)


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".ingest.lock"
    }


def test_paid_invoices_that_left_the_window_are_aged_out_not_cancelled(tmp_path: Path) -> None:
    """Nothing is removed: the 16 paid invoices of 2024-04-05 and their 16 payments stay, counted
    ``aged_out``. Invoices: kept 112, replaced 80 (the open items of the 20th of March and April, 32,
    and May-June, 48; re-sent as kept), added 16 (July), rows 112 + 16 = 128. Payments: kept 48,
    replaced 16 (P..0505), added 16 (P..0605), rows 64. No warning of rows removed."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    result = _ingest(_night2(tmp_path / "n2"), out, NIGHT2)
    tables = result.manifest["history"]["tables"]
    assert tables["invoices"] == {
        "kept": 112,
        "replaced": 80,
        "unchanged": 80,
        "added": 16,
        "removed": 0,
        "aged_out": 16,
        "rows": 128,
    }
    assert tables["payments"] == {
        "kept": 48,
        "replaced": 16,
        "unchanged": 16,
        "added": 16,
        "removed": 0,
        "aged_out": 16,
        "rows": 64,
    }
    kept = read_portfolio(out)
    assert {f"I{d[1:]}0405" for d in DEBTORS} <= set(kept.invoices["invoice_id"])
    assert {f"P{d[1:]}0405" for d in DEBTORS} <= set(kept.payments["payment_id"])
    assert not any("removed from the history" in w for w in result.manifest["warnings"])


def test_a_cancelled_open_item_and_a_cancelled_paid_invoice_are_still_removed(tmp_path: Path) -> None:
    """Today's export also lacks I010420 (an open item before the window: unpaid, so cancelled, not
    aged out) and I010505 with its payment P010505 (inside the window: paid, but the export holds every
    invoice from 2024-04-06 on). Today's months: March 16, April 15, May 31, June 16, July 16: the
    same span (from 03-20). Paid kept invoices per day: 04-05 absent 16; 05-05 absent 1, present 15;
    06-05 present 16: running sums 16, 2, -14, so the window still starts on 04-06. Removed: 2
    invoices, 1 payment; aged out 16 and 16 as before. Invoices: replaced 78, rows 112 - 2 + 16 = 126;
    payments: replaced 15, added 16, rows 48 - 1 + 16 = 63."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    result = _ingest(_night2(tmp_path / "n2", drop=("I010420", "I010505", "P010505")), out, NIGHT2)
    tables = result.manifest["history"]["tables"]
    assert {k: tables["invoices"][k] for k in ("replaced", "added", "removed", "aged_out", "rows")} == {
        "replaced": 78,
        "added": 16,
        "removed": 2,
        "aged_out": 16,
        "rows": 126,
    }
    assert {k: tables["payments"][k] for k in ("replaced", "added", "removed", "aged_out", "rows")} == {
        "replaced": 15,
        "added": 16,
        "removed": 1,
        "aged_out": 16,
        "rows": 63,
    }
    kept = read_portfolio(out)
    assert not {"I010420", "I010505"} & set(kept.invoices["invoice_id"])
    assert "P010505" not in set(kept.payments["payment_id"])
    assert any("2 invoices rows of" in w and "I010420" in w for w in result.manifest["warnings"])


def test_an_export_lacking_a_quarter_of_its_customers_is_still_refused(tmp_path: Path) -> None:
    """Today's export of D01..D12 only (D13-D16 lost): the span is the same (March 12, April 12, May 24,
    June 12, July 12 rows: March reaches half of 12, from the 20th). Paid kept invoices per day: 04-05
    absent 16; 05-05 absent 4, present 12; 06-05 present 12 (D13-D16's P..0605 are not in the export, so
    their June invoices are not paid): running sums 16, 8, -4: the window starts on 04-06 and the 16
    invoices of 04-05 are aged out. Inside the span: 16 x 6 invoices issued from 03-20 - 16 aged out =
    80, of which D13-D16's 4 x 5 = 20 are missing (more than 10 %, and 20 rows): refused, the folder
    unchanged."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    before = _tree(out)
    with pytest.raises(TableError, match="lacks 20 of the 80 rows the history holds inside its span"):
        _ingest(_night2(tmp_path / "n2", debtors=DEBTORS[:12]), out, NIGHT2)
    assert _tree(out) == before


def test_paid_days_and_open_items_end_by_hand() -> None:
    """``settled``: by the payments naming the invoice for its debtor up to the as-of date, today's row
    of a payment id winning over the kept one; unallocated cash settles nothing. ``open_items_end``:
    the day after the peak of the running sum of absent - present; None when it never rises above 0."""
    ts = pd.Timestamp
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "B", "C", "D"],
            "debtor_id": ["X", "X", "X", "Y"],
            "issue_date": [ts("2024-01-05"), ts("2024-01-06"), ts("2024-02-01"), ts("2024-02-02")],
            "amount": [100.0, 50.0, 80.0, 10.0],
        }
    )
    kept_pay = pd.DataFrame(
        {
            "payment_id": ["p1", "p2", "p3", "p4", "p5"],
            "debtor_id": ["X", "X", "X", "X", "Y"],
            "invoice_id": ["A", "B", "C", None, "C"],
            "paid_on": [
                ts("2024-02-01"),
                ts("2024-02-01"),
                ts("2024-03-01"),
                ts("2024-02-01"),
                ts("2024-02-10"),
            ],
            "amount": [60.0, 50.0, 80.0, 500.0, 80.0],
        }
    )
    today_pay = kept_pay.iloc[:1].assign(amount=100.0)  # p1 revised to 100.00: A paid in full
    # A: p1 100.00 (today's row); B: p2 50.00; C: p3 after the as-of date, p5 is Y's (another debtor);
    # D: nothing (p4 names no invoice)
    assert settled(inv, [kept_pay, today_pay], dt.date(2024, 2, 29)).tolist() == [True, True, False, False]
    assert settled(inv, [kept_pay], dt.date(2024, 2, 29)).tolist() == [False, True, False, False]
    days = paid_days(
        {"invoices": inv, "payments": kept_pay},
        {"invoices": inv.iloc[[0]], "payments": today_pay},
        ts("2024-01-06"),
        dt.date(2024, 3, 31),
    )
    # from 01-06: B (absent, paid by p2) and C (absent, paid by p3 on 03-01); A is before the start
    assert days.to_dict("index") == {
        ts("2024-01-06"): {"absent": 1, "present": 0},
        ts("2024-02-01"): {"absent": 1, "present": 0},
    }
    assert open_items_end(days) == ts("2024-02-02")
    grid = pd.DataFrame(
        {"absent": [3, 0, 1, 0], "present": [0, 5, 0, 4]},
        index=pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-01", "2024-02-10"]),
    )
    assert open_items_end(grid) == ts("2024-01-11")  # running sums 3, -2, -1, -5
    assert open_items_end(grid.assign(absent=[0, 0, 1, 0])) is None  # 0, -5, -4, -8: never above 0


def _monthly(folder: Path, months: tuple[int, ...], paid_through: int) -> dict[str, Path]:
    """D01..D25, one invoice each on the 10th of each of ``months`` (I<debtor><month>), each paid on the 25th
    of its month (P<debtor><month>) up to month ``paid_through``."""
    debtors = [f"D{k:02d}" for k in range(1, 26)]
    invoices = [
        f"I{d[1:]}{m:02d},{d},2024-{m:02d}-10,2024-{m + 1:02d}-10,100.00,EUR\n"
        for d in debtors
        for m in months
    ]
    payments = [
        f"P{d[1:]}{m:02d},{d},I{d[1:]}{m:02d},2024-{m:02d}-25,100.00\n" for d in debtors for m in months
    ]
    files = _files(
        folder, invoices, [r for r, m in zip(payments, months * 25, strict=True) if m <= paid_through]
    )
    files["debtors"].write_text("debtor_id,name\n" + "".join(f"{d},Name {d}\n" for d in debtors))
    return files


def test_an_export_lacking_a_month_inside_its_window_is_refused(tmp_path: Path) -> None:
    """Night 1 (2024-06-30): January-June, 25 invoices a month, each paid in its month. Night 2
    (2024-07-31), a rolling export from 2024-02-01 (February-July, the payments of those invoices) without
    April's invoices: its months are February 25, March 25, April 0, May-July 25, so the span's unbroken
    run ends at April, starts in May, and the kept April rows were outside it: the export was taken
    (aa34baa and candidate A). Paid kept invoices per month: January absent 25 (left the window),
    February-March present 25, April absent 25, May-June present 25: April, between two held months, is
    missing: refused, the folder unchanged. With April the export is taken and nothing is removed (January's
    25 paid invoices are before the span)."""
    out = tmp_path / "out"
    _ingest(_monthly(tmp_path / "n1", (1, 2, 3, 4, 5, 6), 6), out, NIGHT1)
    before = _tree(out)
    with pytest.raises(
        TableError, match="lacks 25 of the 25 paid invoices the history holds issued in 2024-04"
    ):
        _ingest(_monthly(tmp_path / "n2", (2, 3, 5, 6, 7), 6), out, NIGHT2)
    assert _tree(out) == before
    result = _ingest(_monthly(tmp_path / "n3", (2, 3, 4, 5, 6, 7), 6), out, NIGHT2)
    assert result.manifest["history"]["tables"]["invoices"]["removed"] == 0
    assert result.manifest["history"]["tables"]["invoices"]["rows"] == 175


def test_ews_ingest_says_the_invoices_aged_out(tmp_path: Path) -> None:
    """`ews ingest --keep-history` prints the merge's counts: "invoices 128 (kept 112, replaced 80 (80
    re-sent unchanged), added 16, removed 0, aged out 16)" and the same for the payments (64: kept 48,
    replaced 16, added 16, aged out 16)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    files = _night2(tmp_path / "n2")
    args = [f"--{t}={files[t]}" for t in ("invoices", "payments", "debtors")]
    result = CliRunner().invoke(
        app, ["ingest", *args, "--as-of", "2024-07-31", "--keep-history", "--no-docs", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert (
        "invoices 128 (kept 112, replaced 80 (80 re-sent unchanged), added 16, removed 0, aged out 16)"
        in said
    )
    assert (
        "payments 64 (kept 48, replaced 16 (16 re-sent unchanged), added 16, removed 0, aged out 16)" in said
    )


def test_the_streamed_merge_ages_out_and_refuses_as_the_in_memory_one(tmp_path: Path) -> None:
    """The streamed ingest (above 5,000,000 rows; here forced, 3 debtor partitions, the history in buckets
    of 40 ledger rows) reads the paid kept invoices per day of each partition and sums them: night 2
    publishes the same bytes as the in-memory merge, with the same counts (16 invoices and 16 payments
    aged out), and the export lacking April (the month test above) is refused with the same words."""
    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source

    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6, bucket_rows=40)

    def source(files: dict[str, Path]) -> SourceConfig:
        return SourceConfig(
            name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()}
        )

    def published(folder: Path) -> dict[str, str]:
        return {k: v for k, v in _tree(folder).items() if k.endswith((".parquet", ".csv"))}

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(source(_night1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    want = ingest_source(source(_night2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        source(_night2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=3,
        chunk_rows=50,
    ).manifest
    assert got["history"] == want["history"]
    assert got["history"]["tables"]["invoices"]["aged_out"] == 16
    assert got["history"]["tables"]["payments"]["aged_out"] == 16
    assert published(streamed) == published(mem)

    for out in (mem, streamed):
        ingest_source(
            source(_monthly(tmp_path / "m1", (1, 2, 3, 4, 5, 6), 6)),
            out / "m",
            as_of=NIGHT1,
            keep_history=True,
        )
    gap = source(_monthly(tmp_path / "m2", (2, 3, 5, 6, 7), 6))
    with pytest.raises(
        TableError, match="lacks 25 of the 25 paid invoices the history holds issued in 2024-04"
    ):
        ingest_source(gap, mem / "m", as_of=NIGHT2, keep_history=True)
    with pytest.raises(
        TableError, match="lacks 25 of the 25 paid invoices the history holds issued in 2024-04"
    ):
        ingest_source(
            gap, streamed / "m", as_of=NIGHT2, keep_history=True, stream=True, partitions=3, chunk_rows=50
        )


def test_a_paid_invoice_cancelled_on_the_day_the_export_starts_holding_every_invoice_is_removed(
    tmp_path: Path,
) -> None:
    """The day boundary of ``open_items_end`` (s41-review's mutant U27: ``<`` read as ``<=`` kept this
    invoice, and every test passed). Night 1 also holds an invoice of each debtor issued on 2024-04-06
    (I..0406, due 05-06, 100.00), paid on 2024-06-15 (P..0406): 128 invoices, 64 payments. Night 2's
    export holds them and their payments, but D01's (I010406 and P010406: credited in the ERP). Today's
    invoices per month: March 16, April 31, May 32, June 16, July 16: the recent rate is 16, the span
    starts on 03-20 as before. Payments: June 31, July 16: from 06-01. Paid kept invoices per day from
    03-20: 04-05 absent 16; 04-06 absent 1, present 15; 05-05 present 16; 06-05 present 16: running sums
    16, 2, -14, -30, so the export holds every invoice from 2024-04-06 (``open_items_end``), the very day
    I010406 was issued: it is not before that day, so it did not age out: it and its payment (06-15,
    inside the payments' span, its invoice inside the invoices') are removed. Not a missing month:
    April's paid kept invoices are absent 17, present 15 (not held), March's absent 16. Invoices: kept
    128, replaced 80 + 15 = 95, added 16, removed 1, aged out 16 (04-05), rows 128 - 1 + 16 = 143.
    Payments: kept 64, replaced 16 + 15 = 31, added 16, removed 1, aged out 16, rows 64 - 1 + 16 = 79."""
    extra_inv = [f"I{d[1:]}0406,{d},2024-04-06,2024-05-06,100.00,EUR\n" for d in DEBTORS]
    extra_pay = [f"P{d[1:]}0406,{d},I{d[1:]}0406,2024-06-15,100.00\n" for d in DEBTORS]
    out = tmp_path / "out"
    n1 = _night1(tmp_path / "n1")
    for table, rows in (("invoices", extra_inv), ("payments", extra_pay)):
        n1[table].write_text(n1[table].read_text() + "".join(rows))
    _ingest(n1, out, NIGHT1)
    n2 = _night2(tmp_path / "n2")
    for table, rows in (("invoices", extra_inv[1:]), ("payments", extra_pay[1:])):
        n2[table].write_text(n2[table].read_text() + "".join(rows))
    result = _ingest(n2, out, NIGHT2)
    tables = result.manifest["history"]["tables"]
    assert {
        k: tables["invoices"][k] for k in ("kept", "replaced", "added", "removed", "aged_out", "rows")
    } == {
        "kept": 128,
        "replaced": 95,
        "added": 16,
        "removed": 1,
        "aged_out": 16,
        "rows": 143,
    }
    assert {
        k: tables["payments"][k] for k in ("kept", "replaced", "added", "removed", "aged_out", "rows")
    } == {
        "kept": 64,
        "replaced": 31,
        "added": 16,
        "removed": 1,
        "aged_out": 16,
        "rows": 79,
    }
    kept = read_portfolio(out)
    assert "I010406" not in set(kept.invoices["invoice_id"])
    assert "P010406" not in set(kept.payments["payment_id"])
    assert {f"I{d[1:]}0406" for d in DEBTORS[1:]} <= set(kept.invoices["invoice_id"])
