"""Session 29's product code and s28-review's open items under attack (s29-review; BENCHMARKS.md
"Hostile inputs tried", "Session 29 (s29-review)"). Each test failed on main before its fix unless it
says it is a guard. The probes that found them: ``benchmarks/review_probes_s29.py``."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.test_history_s26 import DEB, NIGHT1, NIGHT2, _source

TWICE = "D7,Gamma\nD7,Gamma GmbH\n"
"""A debtor the customer master lists twice with other attributes: both rows are rejected, and its
invoices and payments with them (``debtor_quarantined``), in every night the ERP keeps the defect."""


def _night(folder: Path, invoices: str) -> dict[str, Path]:
    from tests.pipelines.test_history_s26 import _files

    files = _files(folder, invoices)
    files["debtors"].write_text(DEB + TWICE)
    return files


def test_invoices_of_a_rejected_master_row_do_not_make_a_streamed_night_another_ledger(
    tmp_path: Path,
) -> None:
    """s28-review's open item. The streamed check before validation kept an invoice whenever today's
    debtors table had a row for its debtor, also when that row is rejected. In memory such invoices are
    quarantined ``debtor_quarantined`` (never readmitted through the history) and the merge's check reads
    the accepted ones. Two nights of one ledger: X1..X25 of D1, and J1..J30 of March of D7, whose master
    row the ERP exports twice with other names. Night 1 quarantines J1..J30, so the history never holds
    them; night 2 (the same export) in memory: 25 accepted, all the history's, merged. Streamed it was
    refused: "30 of today's 55 invoices issued on or before 2024-03-31 ... are not in the history".
    Now the check leaves out the invoices of debtors whose every row today fails the checks it can run
    before validation (parsing, plausibility, duplicate rows, and one id on rows that differ):
    streamed = in memory, rows in 55 = 25 accepted + 30 quarantined."""
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _kept, _outputs

    jj = "".join(f"J{k},D7,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 31))
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(_source(_night(tmp_path / "n1", _kept() + jj)), folder, as_of=NIGHT1, keep_history=True)
    files = _night(tmp_path / "n2", _kept() + jj)
    want = ingest_source(_source(files), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        _source(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=4, workers=2
    ).manifest
    inv = got["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (55, 25, 30)
    assert inv["reasons"] == {"debtor_quarantined": 30}
    assert want["tables"]["invoices"]["rows_accepted"] == 25
    assert _outputs(out) == _outputs(mem)


def test_invoices_of_a_debtor_whose_bad_attribute_is_cleared_stay_in_the_streamed_check(
    tmp_path: Path,
) -> None:
    """Guard of the fix above (passes on main): a master row with an unreadable credit_limit is kept by
    default (``rules.optional_attributes: clear`` empties the value), so its invoices are accepted and
    count in the other-ledger check. A night of another ledger (Y1..Y30 of March, of D8, whose limit is
    ``lots``) beside X1..X25 of the history is refused streamed as in memory, "30 of today's 55 invoices";
    with the attribute's reason taken as a rejection the check before validation left Y1..Y30 out, every
    invoice was accepted, the merge's check was skipped as settled, and the other ledger was merged."""
    import pytest

    from pipelines.ingest import ingest_source
    from pipelines.sources.read import TableError
    from tests.pipelines.test_history_s26 import _files, _kept, _tree

    yy = "".join(f"Y{k},D8,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 31))
    master = "debtor_id,name,credit_limit\nD1,Alpha,100\nD2,Beta,100\nD9,Other,100\nD8,Eta,lots\n"
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(_source(_files(tmp_path / "n1", _kept())), folder, as_of=NIGHT1, keep_history=True)
    files = _files(tmp_path / "n2", _kept() + yy)
    files["debtors"].write_text(master)
    before = _tree(out)
    for folder, streamed in ((mem, {}), (out, {"stream": True, "partitions": 4, "workers": 2})):
        with pytest.raises(TableError, match="30 of today's 55 invoices issued on or before 2024-03-31"):
            ingest_source(_source(files), folder, as_of=NIGHT2, keep_history=True, **streamed)
    assert _tree(out) == before


def test_due_pace_windows_end_where_the_docstring_says() -> None:
    """Guard (passes on main; fails under V5 and V8). 896469f's ``due_pace_<W>`` (candidate): the window is the invoices due in (T - W, T], the reference
    those due in (T - W - 90, T - W]. Its tests pass with either end of both closed (mutations V5, V8).
    D5 at T = 2024-06-30, W = 60: B0 due 2024-02-01 (= T - 150: out of the reference), 1 day late; B1 due
    2024-05-01 (= T - 60: in the reference, not the window), 20 days late; B2 due 2024-06-20, paid
    2024-06-25 (age 10 at T). Window B2: 1 - share of {B1: 20} at most 10 = 1 - 0 -> 1.0 (B0 in the
    reference: 1 - 1/2; B1 in the window: (1 - 0 + 1 - 1) / 2). W = 30: window B2, reference
    (2024-03-02, 2024-05-31] = {B1} -> 1.0. B3 (due after T) is the open invoice that carries them."""
    import numpy as np

    from features.ledger import ledger_state, prepare_ledger
    from features.paydate import open_invoices
    from tests.models.test_paydate import _book_of, _by_invoice, day

    rows = [
        ("B0", "D5", "2024-02-01", "2024-02-02"),
        ("B1", "D5", "2024-05-01", "2024-05-21"),
        ("B2", "D5", "2024-06-20", "2024-06-25"),
        ("B3", "D5", "2024-07-15", None),
    ]
    ledger = prepare_ledger(_book_of(rows))
    got = _by_invoice(ledger, open_invoices(ledger, ledger_state(ledger, day("2024-06-30")), candidates=True))
    assert list(got.index) == ["B3"]
    np.testing.assert_allclose(got.loc["B3", ["due_pace_60", "due_pace_30"]].to_numpy(float), [1.0, 1.0])


def test_due_pace_leaves_out_an_invoice_a_credit_memo_closed() -> None:
    """Guard (passes on main; fails under V6). 896469f's docstring: "An invoice a credit memo closed is left out"; its tests have no memo, so
    keeping such invoices passed them (mutation V6). The memo book of test_paydate_memos (I1 closed by
    memo C1 on 04-10; I2 settled in cash on 04-20, I3 on 04-16) with I0 due 2024-02-15 paid in cash 10 days
    late and I4 due 2024-05-31 open. At 2024-05-15, W = 60: reference (2024-01-16, 2024-03-16] = {I0: 10};
    window I2 (age 45): 1 - 1, I3 (age 41): 1 - 1 -> 0.0. With I1 kept: (0 - 1 + 0 + 0) / 3 = -1/3."""
    import pandas as pd

    from features.ledger import ledger_state, prepare_ledger
    from features.paydate import open_invoices
    from features.tables import Portfolio
    from tests.models.test_paydate_memos import day, memo_book

    book = memo_book()
    more = pd.DataFrame(
        {
            "invoice_id": pd.array(["I0", "I4"], dtype="string"),
            "debtor_id": pd.array(["D1", "D1"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-01-16", "2024-05-01"]),
            "due_date": pd.to_datetime(["2024-02-15", "2024-05-31"]),
            "amount": [300.0, 500.0],
            "currency": pd.array(["EUR", "EUR"], dtype="string"),
        }
    )
    p0 = pd.DataFrame(
        {
            "payment_id": pd.array(["P0"], dtype="string"),
            "debtor_id": pd.array(["D1"], dtype="string"),
            "invoice_id": pd.array(["I0"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-02-25"]),
            "amount": [300.0],
            "kind": pd.array(["cash"], dtype="string"),
        }
    )
    book = Portfolio(
        invoices=pd.concat([book.invoices, more], ignore_index=True),
        payments=pd.concat([book.payments, p0], ignore_index=True),
    )
    ledger = prepare_ledger(book)
    rows = open_invoices(ledger, ledger_state(ledger, day("2024-05-15")), candidates=True)
    assert len(rows) == 1  # I4
    assert rows.iloc[0]["due_pace_60"] == 0.0


def test_a_jpy_credit_limits_file_writes_every_amount_in_whole_yen(tmp_path: Path) -> None:
    """Guard (passes on main; fails under V13). 312aa57 rounds every amount of credit_limits.csv to the
    currency's decimals; its test checks the volume and the need only, so rounding those two alone (as
    before) passed it. Exposure 1,000.56 and a current limit of 2,500.25 yen are written 1001 and 2500; the
    volume 9,001 / 90 x 365.25 / 12 = 3,044.09 -> 3044."""
    import datetime as dt

    import pandas as pd

    from pipelines.config.credit import CreditPolicyConfig
    from pipelines.scoring.limits import add_credit_limits, write_credit_limits
    from tests.pipelines.test_credit_limits import scores_frame

    scored = scores_frame().assign(
        invoice_amount_90d=[9001.0, 9000.0, 9000.0], open_balance=[1000.56, 8000.0, 500.0]
    )
    debtors = pd.DataFrame(
        {"debtor_id": pd.array(["a", "b", "c"], dtype="string"), "credit_limit": [2500.25, 1.0, 1.0]}
    )
    files = write_credit_limits(
        add_credit_limits(scored, debtors, CreditPolicyConfig()),
        tmp_path,
        dt.datetime(2024, 6, 30),
        "JPY",
        xlsx_rows=10,
    )
    rows = pd.read_csv(files["credit_limits.csv"], dtype=str, encoding="utf-8-sig").set_index("debtor_id")
    assert rows.loc["a", ["exposure", "credit_limit_current", "invoiced_per_month"]].tolist() == [
        "1001",
        "2500",
        "3044",
    ]


def test_a_streamed_ingest_cut_again_into_fewer_buckets_writes_the_in_memory_bytes(tmp_path: Path) -> None:
    """Guard (passes on main; fails under V18 and V19). 79aae14's re-cut writes each new bucket from the
    pieces of every old partition, each sorted by debtor, through ``bucket_parts(frame, 1)``; its tests have
    six debtors, so the pieces came in debtor order and writing them unsorted passed (V19). Its step 4
    compares only the spilled ids whose hash is a wanted id's; dropping one wanted id per id partition
    passed too (V18). 40 debtors D01..D40 with one invoice each (I01..I40, 100.00 + k), 8 payments of D01..D08
    each naming D(k+20)'s invoice (debtor_mismatch in memory) and 8 paying their own: streamed over 6
    partitions into the buckets of 16 rows the in-memory ingest writes, the same bytes (every bucket and the
    quarantine); rows in = accepted + quarantined (16 = 8 + 8)."""
    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source
    from pipelines.ingest.rules import RulesConfig
    from tests.pipelines.test_history_s26 import _outputs

    folder = tmp_path / "in"
    folder.mkdir()
    debtors = "debtor_id,name\n" + "".join(f"D{k:02d},Firm {k}\n" for k in range(1, 41))
    invoices = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + "".join(
        f"I{k:02d},D{k:02d},2024-03-01,2024-03-31,{100 + k}.00,EUR\n" for k in range(1, 41)
    )
    payments = "payment_id,debtor_id,invoice_id,paid_on,amount\n" + "".join(
        f"P{k:02d},D{k:02d},I{k + 20:02d},2024-03-20,10.00\nQ{k:02d},D{k:02d},I{k:02d},2024-03-21,20.00\n"
        for k in range(1, 9)
    )
    files = {"debtors": folder / "deb.csv", "invoices": folder / "inv.csv", "payments": folder / "pay.csv"}
    for (_t, path), text in zip(files.items(), (debtors, invoices, payments), strict=True):
        path.write_text(text)
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6, bucket_rows=16)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    import datetime as dt

    as_of = dt.date(2024, 3, 31)
    want = ingest_source(source, tmp_path / "mem", as_of=as_of).manifest
    got = ingest_source(source, tmp_path / "out", as_of=as_of, stream=True, partitions=6, workers=1).manifest
    pay = got["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (16, 8, 8)
    assert pay["reasons"] == {"debtor_mismatch": 8}
    assert got["layout"]["buckets"] == want["layout"]["buckets"] == 3
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "mem")
