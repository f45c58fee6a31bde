"""Session 35 review (s35-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches
(benchmarks/review_mutations.py, K entries)."""

from __future__ import annotations

import datetime as dt
import json
import types

from tests.pipelines.test_walk_s35 import _old_export


def _clock(monkeypatch, day: dt.date) -> None:
    """Make ``pipelines.ingest`` read ``day`` as today (UTC); nothing else of the clock changes."""
    import pipelines.ingest as ingest_pkg

    class _Now(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(day.year, day.month, day.day, 12, tzinfo=tz)

    fake = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("__")})
    fake.datetime = _Now
    monkeypatch.setattr(ingest_pkg, "dt", fake)


def test_an_old_export_ingested_on_another_day_writes_the_same_manifest(tmp_path, monkeypatch) -> None:
    """dbcf954: an old export without --as-of is dated by its last row (2024-06-14), so ingesting it again on
    another day is a rerun for the same as-of date and must write the same manifest.json bytes (README:
    "Re-running on the same inputs and as-of date writes byte-identical files"). The note carried today's
    date and the days since the export's end, so the manifest changed every day."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    files = _old_export(tmp_path / "raw")
    texts = []
    for day in (dt.date(2026, 12, 6), dt.date(2027, 3, 1)):
        _clock(monkeypatch, day)
        out = tmp_path / "out"  # the same folder: a rerun
        run = ingest_files(files, out, settings=RulesConfig(data_docs=False), default_currency="EUR")
        assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-06-14", "export_end")
        texts.append((out / "manifest.json").read_bytes())
    assert texts[0] == texts[1]
    notes = json.loads(texts[0])["notes"]
    assert len(notes) == 1 and "`ews score --as-of 2024-06-14`" in notes[0]


def test_an_old_export_is_dated_by_its_end_on_the_streamed_path_too(tmp_path, monkeypatch) -> None:
    """dbcf954: the streamed ingest (inputs above STREAM_ROWS: every large book) must date an old export by
    its last dated row as the in-memory one does (mutation: the streamed manifest built without
    ``as_of_from``, so it kept today's date)."""
    import pipelines.ingest as ingest_pkg
    from pipelines.config.source import RulesConfig

    monkeypatch.setattr(ingest_pkg, "STREAM_ROWS", 0)  # this tiny book takes the streamed path
    files = _old_export(tmp_path / "raw")
    run = ingest_pkg.ingest_files(files, tmp_path / "out", settings=RulesConfig(data_docs=False),
                                  default_currency="EUR")  # fmt: skip
    assert "layout" in run.manifest and (tmp_path / "out" / "manifest.json").exists()
    assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-06-14", "export_end")
    assert (
        sum(n.startswith("as of 2024-06-14, the export's last dated row") for n in run.manifest["notes"]) == 1
    )


def test_an_old_export_with_a_mistyped_late_row_is_dated_by_the_bulk_end(tmp_path) -> None:
    """dbcf954: an old export whose bulk ends 2024-04-29 and one payment typed a year late (2025-04-19 for
    2024-04-19) is dated by the bulk's end (late_rows' export_end), not by the typo (mutation: ``max(days)``
    instead of late_rows' end dated it 2025-04-19, a date with no data in the year before it).

    By hand: 120 invoices, one a day from 2024-01-01 (day 119 is 2024-04-29, 2024 a leap year), 100 of
    them paid 10 days after issue (2024-01-11 .. 2024-04-19); 221 dated rows, so at most 2 late rows
    (1 %); the typo follows a silence of 355 days."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    raw = tmp_path / "raw"
    raw.mkdir()
    start = dt.date(2024, 1, 1)
    inv = ["invoice_id,debtor_id,issue_date,due_date,amount"]
    pay = ["payment_id,debtor_id,invoice_id,paid_on,amount"]
    for k in range(120):
        issued = start + dt.timedelta(days=k)
        inv.append(f"I{k},D{k % 40},{issued},{issued + dt.timedelta(days=30)},100.00")
        if k < 100:
            pay.append(f"P{k},D{k % 40},I{k},{issued + dt.timedelta(days=10)},100.00")
    pay.append("P120,D20,I100,2025-04-19,100.00")  # I100 (D20, issued 2024-04-10): its year mistyped
    (raw / "invoices.csv").write_text("\n".join(inv) + "\n")
    (raw / "payments.csv").write_text("\n".join(pay) + "\n")
    files = {"invoices": raw / "invoices.csv", "payments": raw / "payments.csv"}
    run = ingest_files(files, tmp_path / "out", settings=RulesConfig(data_docs=False), default_currency="EUR")
    assert run.manifest["late_rows"]["export_end"] == "2024-04-29"
    assert run.manifest["late_rows"]["rows"] == 1
    assert (run.manifest["as_of"], run.manifest["as_of_from"]) == ("2024-04-29", "export_end")


def test_two_payments_naming_one_invoice_without_its_zeros_are_counted_as_two(tmp_path) -> None:
    """e62d3c6: the warning counts the payments quarantined, not the distinct ids they name: D1 paid its
    invoice 00123 (100.00) in two parts, 40.00 and 60.00, both naming "123" (mutation: the distinct
    pairs counted, "1 payment"). By hand: payments 3 in = 1 accepted (I2) + 2 quarantined."""
    from tests.pipelines.test_hostile_s35 import INVOICES, _ingest, _said

    invoices = INVOICES.replace("I1,D1", "00123,D1")
    payments = (
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,123,2024-02-01,40.00\n"
        "P2,D1,123,2024-02-15,60.00\nP3,D2,I2,2024-03-01,300.00\n"
    )
    result, _out = _ingest(tmp_path, invoices=invoices, payments=payments)
    said = _said(result)
    assert result.exit_code == 0, said
    assert "│ payments │ 3 │ 1 │ 2 │" in said, said
    assert (
        "warning: payments: 2 payments quarantined (unknown_invoice or invoice_before_export) naming an invoice of "
        "the invoices table with other leading zeros ('123' for '00123')"
    ) in said, said


def test_an_amount_read_down_is_kept_under_optional_attributes_quarantine(tmp_path) -> None:
    """8555cb9: an invoice amount read down to the cent is a note, never a rejection, also under
    ``rules.optional_attributes: quarantine`` (mutation: the note handled only under ``clear``, so 300.125 EUR
    was quarantined below_currency_unit:amount and D1's invoice lost). By hand (test_hostile_s35's SUB_CENT):
    4 invoices in = 3 accepted + 1 quarantined (0.009 EUR read 0.00: amount_not_positive); I1 kept as 300.12."""
    import pandas as pd

    from pipelines.config.source import FileSource, RulesConfig, SourceConfig
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_hostile_s35 import SUB_CENT, SUB_CENT_PAID, _files

    paths = _files(tmp_path, invoices=SUB_CENT, payments=SUB_CENT_PAID)
    rules = RulesConfig(data_docs=False, optional_attributes="quarantine")
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in paths.items()})
    result = ingest_source(source, tmp_path / "out", as_of=dt.date(2024, 6, 30))
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (4, 3, 1)
    assert inv["reasons"] == {"amount_not_positive": 1}
    assert inv["values_cleared"]["amount"]["rows"] == 1
    kept = pd.read_parquet(tmp_path / "out" / "invoices").set_index("invoice_id")["amount"].to_dict()
    assert kept["I1"] == 300.12


def test_another_ledger_with_sub_cent_amounts_is_refused_streamed_as_in_memory(tmp_path) -> None:
    """8555cb9: the streamed --keep-history ingest judges whether today's export is another ledger on its
    parsed invoices; an amount read down to the cent is read, not rejected, there too (mutation: the note
    left among the rejections, so every invoice of an export whose amounts carry a third decimal left the
    sample, the check had nothing to compare and another ledger was merged into the history). Night 2: X1..X25
    again, 25 of 25 another book's (test_history_s26._other) with amounts 501.0051 .. (4 decimals; 3 would read as thousands): refused streamed with
    the in-memory line."""
    import pytest

    from pipelines.ingest import TableError, ingest_source
    from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _files, _ingest, _kept, _other, _source

    out, mem = tmp_path / "out", tmp_path / "mem"
    for folder in (out, mem):
        _ingest(_files(tmp_path / "n1", _kept()), folder, NIGHT1)
    files = _files(tmp_path / "n2", _other(25).replace(".00,EUR", ".0051,EUR"))
    with pytest.raises(TableError) as in_memory:
        _ingest(files, mem, NIGHT2)
    with pytest.raises(TableError) as streamed:
        ingest_source(_source(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=2)
    assert "another ledger numbered as the history's" in str(in_memory.value)
    assert str(streamed.value) == str(in_memory.value).replace(str(mem), str(out))


def test_in_default_at_the_as_of_date_needs_more_than_min_open_amount_open() -> None:
    """ced2858: in default at T needs *more than* ``min_open_amount`` open, as the label does (mutation: ``>=``
    in the in-default flag, so a rest equal to the threshold kept its debtor in default and out of the live
    scoring; test_labels checked the boundary on the label only). By hand: 1,000.00 due 2024-01-31, 990.00
    received 2024-02-10, 10.00 open; at 2024-05-31 it is 121 days past due (>= 90): with a threshold of 10 not
    in default (10 is not more than 10), with 9.99 in default."""
    import pandas as pd

    from features.labels import build_labels
    from features.params import DefaultDefinition
    from tests.features.ledgers import inv, pay, portfolio

    book = portfolio(
        [inv("i1", "d", "2024-01-01", "2024-01-31", 1000.0)], [pay("p1", "d", "2024-02-10", 990.0, "i1")]
    )
    on = pd.Timestamp("2024-05-31")
    flags = {
        m: bool(
            build_labels(
                book, [on], DefaultDefinition(min_open_amount=m), observed_until=pd.Timestamp("2024-12-31")
            )
            .set_index("debtor_id")
            .loc["d", "in_default_at_asof"]
        )
        for m in (10.0, 9.99)
    }
    assert flags == {10.0: False, 9.99: True}


def test_the_books_own_months_never_read_invoices_issued_after_the_night() -> None:
    """124ecb3: the own-months judgement reads the data folder's invoices per issue day, which holds invoices
    issued after the night when it was ingested later (a backfill, `ews score` of a past date); those must
    not count (mutation: a block without its upper end, so the last 30 days also counted the 92,000
    invoices issued 2024-10-01..12-31 and the honest gradual fall was refused). By hand: the same verdict
    and the same words with and without 1,000 invoices a day after 2024-09-30; and the refused book (one
    invoice in the last 30 days) stays refused with the same line."""
    import pandas as pd
    import pytest

    from pipelines.feed_checks import FeedCheckError
    from tests.pipelines.test_own_months_s35 import figures, invoice_days, judged, one_in_the_last_month

    later = pd.Series(1_000, index=pd.date_range("2024-10-01", "2024-12-31", freq="D"), dtype="int64")
    assert judged(figures(8_250), pd.concat([invoice_days(), later])) == judged(
        figures(8_250), invoice_days()
    )
    said = []
    for days in (one_in_the_last_month(), pd.concat([one_in_the_last_month(), later])):
        with pytest.raises(FeedCheckError) as refused:
            judged(figures(5_701), days)
        said.append(str(refused.value))
    assert said[0] == said[1]
    assert "holds 1 invoice issued in the 30 days to 2024-09-30, 0.00 times the 2,700" in said[0]
