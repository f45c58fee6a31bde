"""Feeds valid row by row but wrong as a whole, sent to the nightly (s30-hostile; BENCHMARKS.md "Hostile
inputs tried", "Session 30 (s30-hostile)"). Each test failed on main before its fix unless it says it is a
guard. The probes that found them: ``benchmarks/hostile_nights.py``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, SMALL, _files, _kept, _outputs


def _strict(files: dict[str, Path]):
    """A source of ``files`` that rejects a debtor row with an invalid optional attribute."""
    from pipelines.config.source import FileSource, SourceConfig

    rules = SMALL.model_copy(update={"optional_attributes": "quarantine"})
    return SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})


def test_invoices_of_a_debtor_only_the_suite_rejects_do_not_make_a_streamed_night_another_ledger(
    tmp_path: Path,
) -> None:
    """s29-review's open item. Under ``rules.optional_attributes: quarantine`` the Great Expectations
    suite rejects a master row whose country is not ISO-3166 alpha-2 or whose credit_limit is negative;
    in memory that debtor's invoices are quarantined ``debtor_quarantined`` and the merge's check reads
    the accepted ones. The streamed check before validation knew only the reasons it computes itself
    (parsing, plausibility, ids), so it counted those invoices as today's. Two nights of one ledger:
    X1..X25 of D1, and J1..J30 of March of D7 (country "Germany") and K1..K30 of D8 (credit_limit -5),
    whose master rows the ERP keeps wrong. Night 1 quarantines J and K, so the history never holds them;
    night 2 (the same export) in memory: 25 accepted, all the history's, merged. Streamed it was refused
    as another ledger ("60 of today's 85 invoices issued on or before 2024-03-31 ... are not in the
    history"). Now streamed = in memory: rows in 85 = 25 accepted + 60 quarantined, the same files."""
    from pipelines.ingest import ingest_source

    jj = "".join(f"J{k},D7,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 31))
    kk = "".join(f"K{k},D8,2024-03-{k:02d},2024-04-30,{40 + k}.00,EUR\n" for k in range(1, 31))
    master = "debtor_id,name,country,credit_limit\nD1,Alpha,DE,100\nD2,Beta,FR,100\nD9,Other,IT,100\n"
    master += "D7,Gamma,Germany,100\nD8,Delta,DE,-5\n"

    def night(folder: Path) -> dict[str, Path]:
        files = _files(folder, _kept() + jj + kk)
        files["debtors"].write_text(master)
        return files

    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        first = ingest_source(_strict(night(tmp_path / "n1")), folder, as_of=NIGHT1, keep_history=True)
    assert first.manifest["tables"]["debtors"]["reasons"] == {"bad_country": 1, "negative_credit_limit": 1}
    files = night(tmp_path / "n2")
    want = ingest_source(_strict(files), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        _strict(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=4, workers=2
    ).manifest
    inv = got["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (85, 25, 60)
    assert inv["reasons"] == {"debtor_quarantined": 60}
    assert want["tables"]["invoices"] == {**want["tables"]["invoices"], **{k: inv[k] for k in ("rows_accepted", "reasons")}}  # fmt: skip
    assert _outputs(out) == _outputs(mem)


def test_kept_rows_whose_row_today_is_quarantined_stay_in_the_history(tmp_path: Path) -> None:
    """A night whose export still holds a debtor's invoices but in a currency without a rate (the ERP
    switched D2 to USD): they are quarantined ``no_fx_rate:USD``, and so is their payment
    (in its invoice's currency). The merge took the kept rows for cancelled ones ("are not in today's
    export (deleted or cancelled in the ERP) and were removed from the history"): U1..U3 and PU1 left
    the history and D2 was scored as owing nothing, a silent all-clear (probe: hostile_nights.py
    ``currency``). Now a kept row whose key is among today's quarantined rows stays as it was (counted
    ``quarantined``, warned), in memory and streamed alike; the history is night 1's."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _source

    uu = "".join(f"U{k},D2,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 4))
    pay = "PU1,D2,U1,2024-03-20,5.00\n"
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(
            _source(_files(tmp_path / "n1", _kept() + uu, pay)), folder, as_of=NIGHT1, keep_history=True
        )
    files = _files(tmp_path / "n2", _kept() + uu.replace("EUR", "USD"), pay)
    runs = {}
    for folder, streamed in ((mem, {}), (out, {"stream": True, "partitions": 4, "workers": 2})):
        runs[folder] = ingest_source(
            _source(files), folder, as_of=NIGHT2, keep_history=True, **streamed
        ).manifest
    for m in runs.values():
        assert m["tables"]["invoices"]["reasons"] == {"no_fx_rate:USD": 3}
        assert m["tables"]["payments"]["reasons"] == {"no_fx_rate:USD": 1}  # in its invoice's currency
        h = m["history"]["tables"]
        assert h["invoices"] == {
            "kept": 28,
            "replaced": 25,
            "unchanged": 25,  # D1's rows re-sent as kept (s40-walk)
            "added": 0,
            "removed": 0,
            "rows": 28,
            "quarantined": 3,
        }
        assert h["payments"] == {
            "kept": 1,
            "replaced": 0,
            "added": 0,
            "removed": 0,
            "rows": 1,
            "quarantined": 1,
        }
        said = [w for w in m["warnings"] if w.startswith("history:")]
        assert said == [
            "history: 3 invoices rows of the kept history, in today's export but quarantined there (see "
            "quarantine/invoices.csv): the kept rows stay as they were, neither replaced nor removed as "
            "cancelled (manifest.json history.tables.invoices.quarantined)",
            "history: 1 payments row of the kept history, in today's export but quarantined there (see "
            "quarantine/payments.csv): the kept rows stay as they were, neither replaced nor removed as "
            "cancelled (manifest.json history.tables.payments.quarantined)",
        ]
    book = read_portfolio(out)
    assert sorted(book.invoices.loc[book.invoices["debtor_id"] == "D2", "invoice_id"]) == ["U1", "U2", "U3"]
    assert book.invoices.loc[book.invoices["invoice_id"] == "U1", "amount"].tolist() == [11.0]
    assert book.payments["payment_id"].tolist() == ["PU1"]
    assert _outputs(out) == _outputs(mem)


def test_yesterdays_files_sent_again_as_todays_are_named(tmp_path: Path) -> None:
    """The ERP job did not run: last night's files are ingested again with today's --as-of. Every row
    is valid and both feeds end on the same day, so nothing said a word and the scores aged a day
    (probe ``yesterday``, 300 x 24 book: 4 of 300 bands moved, 64 PDs up). Now the ingest warns when its
    input files are the same bytes as those of the ingest the folder holds for an earlier date, in
    memory and streamed; a rerun of the same date and a new export say nothing."""
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _source

    files = _files(tmp_path / "n", _kept(), "P1,D1,X1,2024-03-20,101.00\n")
    # the pace (s31-hostile): 25 invoices 03-01..03-25 and a payment on Wed 03-20, 26 rows in the 13
    # weeks to Sun 03-31 (0.3 a day); by weekday (Mon..Sun) 4, 3, 4, 3, 4, 4, 4 rows: 04-01..04-28 are 4
    # weeks (4 x 26 / 13 = 8), Mon 04-29 and Tue 04-30 (4 + 3) / 13: 8.5 expected, above 7: a warning
    said = (
        "inputs: today's 3 input files are the same bytes as those ingested for 2024-03-31 (SHA-256 in "
        "manifest.json inputs), 30 days before --as-of 2024-04-30: the book's pace on those weekdays over "
        "the last 13 weeks gives 9 invoices and payments in 30 days (0.3 a day), and none is dated after "
        "2024-03-31, so the export was probably not run again: the rows of the days after 2024-03-31 are "
        "missing and the invoices paid since look unpaid. Export again and ingest, or ingest these files "
        "with --as-of 2024-03-31"
    )
    for name, streamed in (("mem", {}), ("out", {"stream": True, "partitions": 4, "workers": 2})):
        out = tmp_path / name
        first = ingest_source(_source(files), out, as_of=NIGHT1, **streamed).manifest
        assert not [w for w in first["warnings"] if w.startswith("inputs:")]
        again = ingest_source(_source(files), out, as_of=NIGHT2, **streamed).manifest
        assert [w for w in again["warnings"] if w.startswith("inputs:")] == [said]
        rerun = ingest_source(_source(files), out, as_of=NIGHT2, **streamed).manifest
        assert not [w for w in rerun["warnings"] if w.startswith("inputs:")]
    new = _files(tmp_path / "new", _kept(), "P1,D1,X1,2024-03-20,101.00\nP2,D1,X2,2024-04-02,102.00\n")
    later = ingest_source(_source(new), tmp_path / "mem", as_of=dt.date(2024, 5, 31)).manifest
    assert not [w for w in later["warnings"] if w.startswith("inputs:")]


def test_an_unchanged_export_of_a_quiet_weekend_is_a_note_not_a_warning(tmp_path: Path) -> None:
    """s31-hostile: the resent-files warning fired on an honest unchanged export too: a book booked on
    working days sends Friday's bytes again on Saturday (nothing invoiced or paid). Invoices of D1 on
    every working day from Mon 2024-01-01 to Fri 2024-03-29 (13 weeks), each paid 28 days later (the
    same weekday) up to the 29th: no row on a Saturday or Sunday. By hand, per working day of the 13
    weeks: 13 invoices and 9 payments (those of invoices up to Fri 03-01), (13 + 9) / 13 = 1.692 rows.
    The same files on Sat 03-30: 0.0 expected, a note naming the earlier date; on Mon 04-01 (Sat, Sun,
    Mon): 1.7, a note; Wed 04-03: 3 x 1.692 = 5.1, a note; Fri 04-05: 5 x 1.692 = 8.5 > 7, a warning
    (its pace 110 rows in 91 days, 1.2 a day)."""
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _source

    day, invoices, payments = dt.date(2024, 1, 1), [], []
    while day <= dt.date(2024, 3, 29):
        if day.weekday() < 5:
            k = len(invoices) + 1
            invoices.append(f"W{k},D1,{day},{day + dt.timedelta(days=30)},{100 + k}.00,EUR\n")
            paid = day + dt.timedelta(days=28)  # a Monday's invoice is paid on a Monday
            if paid <= dt.date(2024, 3, 29):
                payments.append(f"Q{k},D1,W{k},{paid},{100 + k}.00\n")
        day += dt.timedelta(days=1)
    files = _files(tmp_path / "n", "".join(invoices), "".join(payments))
    friday = dt.date(2024, 3, 29)
    for later, warned, expected in (
        (dt.date(2024, 3, 30), False, "0.0 invoices and payments in 1 day)"),
        (dt.date(2024, 4, 1), False, "1.7 invoices and payments in 3 days)"),
        (dt.date(2024, 4, 3), False, "5.1 invoices and payments in 5 days)"),
        (dt.date(2024, 4, 5), True, "8 invoices and payments in 7 days (1.2 a day)"),
    ):
        out = tmp_path / f"out_{later}"
        ingest_source(_source(files), out, as_of=friday)
        m = ingest_source(_source(files), out, as_of=later).manifest
        warnings = [w for w in m["warnings"] if w.startswith("inputs:")]
        notes = [n for n in m.get("notes", []) if n.startswith("inputs:")]
        assert bool(warnings) is warned and bool(notes) is not warned, later
        text = (warnings or notes)[0]
        assert (
            text.startswith(
                f"inputs: today's 3 input files are the same bytes as those ingested for {friday} (SHA-256 in "
                f"manifest.json inputs), {(later - friday).days} day"
            )
            and expected in text
        ), text
        if not warned:
            assert f"expected when nothing was invoiced or paid since {friday}" in text
