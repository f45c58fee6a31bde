"""Session 33 (s33-review): tests for mutants that survived the session's own tests (BENCHMARKS.md,
"Session 33 (s33-review)", H entries of benchmarks/review_mutations.py). Every expected value is by
hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

IMG = "<img src=x onerror=alert(7)>"


def test_a_rejected_row_of_several_columns_is_text_in_the_data_docs(tmp_path: Path) -> None:
    """H5 (ffc5b28): a uniqueness rule over two columns (statements: debtor_id and period_end) puts
    each rejected row into the page as a dict of its cells. Two statements of the debtor
    ``<img src=x onerror=alert(7)>`` for 2024-01-31 (balances 100 and 120: not exact copies) are both
    quarantined (duplicate_period), and the page shows the id as text inside that dict."""
    st = tmp_path / "statements.csv"
    st.write_text(
        "debtor_id,period_end,balance,amount_due,amount_paid,days_past_due,credit_limit\n"
        f'"{IMG}",2024-01-31,100,50,50,0,1000\n'
        f'"{IMG}",2024-01-31,120,50,50,0,1000\n'
        f'"{IMG}",2024-02-29,100,50,50,0,1000\n'
        "D2,2024-01-31,100,50,50,0,1000\n"
        "D2,2024-02-29,100,50,50,0,1000\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["ingest", "--statements", str(st), "--as-of", "2024-03-31", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    quarantined = (out / "quarantine" / "statements.csv").read_text(encoding="utf-8")
    assert quarantined.count("duplicate_period") == 2
    pages = "".join(p.read_text(encoding="utf-8") for p in (out / "data_docs").rglob("*.html"))
    assert IMG not in pages
    assert "{'debtor_id': '&lt;img src=x onerror=alert(7)&gt;'" in pages


INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount\n"
    "I1,D1,2024-01-02,2024-02-01,100.00\n"
    "I2,D2,2024-01-03,2024-02-02,250.50\n"
)


@pytest.mark.parametrize(
    ("head", "named", "iconv"),
    [
        (b"\x00\x00\xfe\xff", "is UTF-32 text (byte order mark 00 00 fe ff)", "iconv -f UTF-32 -t UTF-8"),
        (b"", "is UTF-32BE text without a byte order mark", "iconv -f UTF-32BE -t UTF-8"),
    ],
)
def test_big_endian_utf32_is_named_with_its_conversion(
    tmp_path: Path, head: bytes, named: str, iconv: str
) -> None:
    """H11 and H12 (0e9b6c2): UTF-32 big-endian, with its byte order mark 00 00 fe ff and without one
    (three zero bytes before each letter), is named with the iconv command that reads it: exit 2, no
    traceback, nothing written. test_hostile_s33 tries the little-endian forms only."""
    inv = tmp_path / "invoices.csv"
    inv.write_bytes(head + INVOICES.encode("utf-32-be"))
    pay = tmp_path / "payments.csv"
    pay.write_text("payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-10,100.00\n")
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--as-of", "2024-06-30", "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in said
    assert f"{inv} {named}" in said and iconv in said
    assert not (tmp_path / "out").exists()


def test_the_quarantines_amounts_read_in_an_indian_grouping_and_by_shape_where_the_notation_fails() -> None:
    """H13, H16 and H17 (6fc52cf). An Indian export (decimal ".", thousands "," in lakh and crore):
    its manifest records the grouping, and the lost amounts "12,34,567.50" and "1,00,000" read
    1234567.5 and 100000 (by the thousands grouping both are unparseable). A German export's lost row
    "1,200.50" (the notation cannot read it: the ingest quarantined it) reads by its own shape: 1200.5."""
    import pandas as pd

    from pipelines.config.source import ValueOptions
    from pipelines.flows.nightly import written_amounts
    from pipelines.ingest import notation

    indian = notation(ValueOptions(decimal=".", thousands=",", thousands_grouping="indian"))
    assert indian == {"decimal": ".", "thousands": ",", "thousands_grouping": "indian"}
    assert notation(ValueOptions()) == {"decimal": ".", "thousands": None}
    assert written_amounts(pd.Series(["12,34,567.50", "1,00,000"]), indian).tolist() == [1234567.5, 100000.0]
    german = {"decimal": ",", "thousands": "."}
    assert written_amounts(pd.Series(["1,200.50", "2.500"]), german).tolist() == [1200.5, 2500.0]


def test_files_read_in_different_notations_give_no_single_notation() -> None:
    """H14 (6fc52cf): an invoices table of two files (more_files), one German and one English: no one
    notation reads both, so the nightly reads each lost row by its shape (None). Two files in the same
    notation: that notation."""
    from pipelines.flows.nightly import invoice_notation

    german = {"decimal": ",", "thousands": "."}
    english = {"decimal": ".", "thousands": ","}
    mixed = {"tables": {"invoices": {"values": german, "files": [{"values": german}, {"values": english}]}}}
    assert invoice_notation(mixed) is None
    same = {"tables": {"invoices": {"values": german, "files": [{"values": german}, {"values": german}]}}}
    assert invoice_notation(same) == german


MORE_FILES = """
kind: source
name: two_invoice_files
default_currency: EUR
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ",", thousands: "."}}
tables:
  invoices:
    path: {first}
    columns: {{invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}}
    more_files:
      - path: {second}
        columns: {{invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}}
"""


def test_a_table_of_several_files_records_the_notation_of_each(tmp_path: Path) -> None:
    """H18 (6fc52cf): an invoices table of two German files (more_files). Each file's manifest entry
    records the notation it was read in, so the nightly reads the lost "2.500" (R2, due before issued,
    in the second file) as 2500 in that notation, not "amount unread" by the row's shape alone."""
    import json

    import pandas as pd

    from pipelines.flows.nightly import invoice_notation, lost_invoices, partly_quarantined

    head = "Beleg;Kunde;Datum;Faellig;Betrag\n"
    first = tmp_path / "a.csv"
    first.write_text(head + "R1;D1;01.03.2024;31.03.2024;1.000,00\n", encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text(head + "R2;D1;01.04.2024;01.03.2024;2.500\nR3;D2;01.04.2024;30.04.2024;300,00\n")
    source = tmp_path / "source.yaml"
    source.write_text(MORE_FILES.format(first=first, second=second), encoding="utf-8")
    out = tmp_path / "out"
    args = ["ingest", "--source", str(source), "--out", str(out), "--as-of", "2024-06-30", "--no-docs"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    invoices = manifest["tables"]["invoices"]
    assert (invoices["rows_in"], invoices["rows_accepted"], invoices["rows_quarantined"]) == (3, 2, 1)
    german = {"decimal": ",", "thousands": "."}
    assert [f["values"] for f in invoices["files"]] == [german, german]
    assert invoice_notation(manifest) == german
    lost = lost_invoices({"invoices": out / "quarantine" / "invoices.csv"}, invoices["reasons"])
    scores = pd.DataFrame({"debtor_id": ["D1", "D2"], "pd": [0.1, 0.2]})
    found = partly_quarantined(lost, scores, invoice_notation(manifest))
    assert found.to_dict(orient="records") == [{"debtor_id": "D1", "invoices": 1, "amounts": "2,500.00"}]


def test_generate_and_config_check_print_what_the_user_typed_as_typed(tmp_path: Path) -> None:
    """09c6cb9 left the print sites of ``ews generate`` and ``ews config check`` reading user text as
    rich markup: ``--format '[/]'`` and a config mapping a column to ``Betrag [/b]`` ended in
    rich.errors.MarkupError (a traceback), and ``--out 'g[old]'`` printed the next command with the
    folder ``g`` (``[old]`` read as a style): a command that finds no file. By hand: the refusal names
    '[/]'; the FAIL line names the column 'Betrag [/b]'; the next command names g[old]/invoices.parquet."""
    runner = CliRunner()
    bad = runner.invoke(app, ["generate", "--format", "[/]", "--out", str(tmp_path / "x")])
    said = " ".join(bad.output.split())
    assert bad.exit_code == 2 and "Traceback" not in said, bad.output
    assert "--format must be parquet or csv, got '[/]'" in said
    source = tmp_path / "s.yaml"
    source.write_text(
        f"kind: source\nname: x\ntables:\n  invoices:\n    path: {tmp_path / 'inv.csv'}\n"
        '    columns: {invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: "Betrag [/b]"}\n',
        encoding="utf-8",
    )
    (tmp_path / "inv.csv").write_text("Beleg,Kunde,Datum,Faellig,Betrag\n", encoding="utf-8")
    check = runner.invoke(app, ["config", "check", str(source)])
    said = " ".join(check.output.split())
    assert check.exit_code == 2 and "Traceback" not in said, check.output
    assert "FAIL" in said and "Betrag [/b]" in said
    out = tmp_path / "g[old]"
    made = runner.invoke(
        app, ["generate", "--debtors", "20", "--months", "3", "--seed", "3235", "--out", str(out)]
    )
    said = " ".join(made.output.split())
    assert made.exit_code == 0, made.output
    assert f"--invoices {out}/invoices.parquet" in said


def test_the_ledger_is_not_read_for_a_debtor_in_default() -> None:
    """H20 (f88f14f): limit_breach never fires for a debtor in default, so the ledger's month-ends
    cannot decide its flag and are not read for it (the point of ledger_candidates: read only what can
    decide a flag). G and L: limit 10,000, within it in the previous run (9,000 on 2024-06-14), over
    it tonight (11,000 on 06-15), no run memory; G is in default, L is live: L only is a candidate."""
    import pandas as pd

    from pipelines.scoring.watchlist import compare_with_previous, ledger_candidates
    from tests.pipelines.test_nightly_triggers import CFG, scores

    def night(day: str, balance: float) -> pd.DataFrame:
        frame = scores([("G", 0.005, True), ("L", 0.005, False)])
        return frame.assign(
            as_of=pd.Timestamp(day),
            open_balance=balance,
            credit_limit_current=10_000.0,
            credit_limit_recommended=50_000.0,
            credit_need=10_000.0,
            limit_over_on=pd.NaT,
        )

    scored = compare_with_previous(night("2024-06-15", 11_000.0), night("2024-06-14", 9_000.0))
    got = ledger_candidates(scored, CFG, has_previous=True)
    assert dict(zip(scored["debtor_id"], got, strict=True)) == {"G": False, "L": True}


def test_the_ledgers_month_ends_read_the_limit_valid_then_from_debtor_history() -> None:
    """H21 (f88f14f): the ledger memory judges each month-end's open balance against the limit valid
    then (debtor_history, else the debtors table), as the scoring pass did before f88f14f. H's limit
    was 10,000 from 2024-01-01 and is 20,000 from 2024-06-01 (the debtors table says 20,000). Its one
    invoice of 12,000 (issued 04-01, due 05-31) is open on 04-30 and 05-31: over the 10,000 valid then
    (by the debtors table alone it never was). Tonight 06-15 it owes 21,000 (within 19,000 on 06-14):
    over, unseen, no run memory, so its ledger is read; the last month-end over is 05-31, and the
    breach is not new (rearm_days 365)."""
    import pandas as pd

    from features.tables import Portfolio
    from pipelines.engine import Book
    from pipelines.scoring.watchlist import (
        book_ledger_memory,
        compare_with_previous,
        triggers,
        with_ledger_memory,
    )
    from tests.features.ledgers import frame, inv
    from tests.pipelines.test_nightly_triggers import CFG, scores

    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["H", "H"], dtype="string"),
            "valid_from": pd.to_datetime(["2024-01-01", "2024-06-01"]),
            "credit_limit": [10_000.0, 20_000.0],
        }
    )
    book = Portfolio(
        invoices=frame("invoices", [inv("H1", "H", "2024-04-01", "2024-05-31", 12_000.0)]),
        payments=frame("payments", []),
        debtors=frame("debtors", [{"debtor_id": "H", "credit_limit": 20_000.0}]),
        debtor_history=frame("debtor_history", history.to_dict("records")),
    )

    def night(day: str, balance: float) -> pd.DataFrame:
        return scores([("H", 0.005, False)]).assign(
            as_of=pd.Timestamp(day),
            open_balance=balance,
            credit_limit_current=20_000.0,
            credit_limit_recommended=50_000.0,
            credit_need=20_000.0,
            limit_over_on=pd.NaT,
        )

    scored = compare_with_previous(night("2024-06-15", 21_000.0), night("2024-06-14", 19_000.0))
    over = book_ledger_memory(Book.in_memory(book, 10**6), scored, CFG, has_previous=True)
    assert str(over["H"].date()) == "2024-05-31"
    fired = triggers(with_ledger_memory(scored, over), CFG, has_previous=True)["trigger_limit_breach"]
    assert fired.tolist() == [False]


def test_a_unicode_line_separator_in_a_sample_cell_cannot_write_lines_into_the_draft(tmp_path: Path) -> None:
    """17696fd wrote out control characters in the draft's comments, but YAML also ends a line at
    U+2028 (LINE SEPARATOR) and U+2029 (PARAGRAPH SEPARATOR), which are not control characters: a
    cell 'I1<U+2028>default_currency: JPY #' still wrote that key into the draft (PyYAML read
    default_currency JPY). Now both are written out (\\u2028) and the draft keeps its own currency."""
    import yaml

    cell = "I1\u2028default_currency: JPY #\u2029tables: {} #"
    body = "".join(f"I{i},D{i},2024-01-{i:02d},2024-02-{i:02d},250.50\n" for i in range(2, 12))
    inv = tmp_path / "inv.csv"
    inv.write_text(
        f"invoice_id,debtor_id,issue_date,due_date,amount\n{cell},D1,2024-01-01,2024-02-01,100.00\n{body}",
        encoding="utf-8",
    )
    draft = tmp_path / "draft.yaml"
    result = CliRunner().invoke(app, ["sources", "suggest", str(inv), "--out", str(draft)])
    assert result.exit_code == 0, result.output
    text = draft.read_text(encoding="utf-8")
    parsed = yaml.safe_load(text)
    assert parsed.get("default_currency") != "JPY"
    assert parsed["tables"]["invoices"]["columns"]["amount"] == "amount"
    assert "\u2028" not in text and "\u2029" not in text
    assert "I1\\u2028default_currency: JPY #\\u2029tables: {} #" in text


def test_a_night_published_with_accept_feed_teaches_the_payments_lag_nothing() -> None:
    """H33 (038dbb6): only nights whose payments_lag_days passed are remembered; a night published with
    --accept-feed over a failed one must not widen the lag of the nights after it. Mon-Fri book
    (test_lag_s33's); Tuesday 17 December with the payments to Friday 6th: 7 usual payment days behind,
    refused, accepted: the run's memory keeps 4th and 16th only."""
    import datetime as dt

    from pipelines.feed_checks import evaluate_feed
    from tests.pipelines.test_lag_s33 import CFG, TRAINING, _feed, _lag

    training = (TRAINING, {"lags": {"payments": _lag("2024-11-29", "2024-11-29")}})
    prev_lags = _lag("2024-12-13", "2024-12-16") | {"published": {"2024-12-04": 3, "2024-12-16": 1}}
    previous = ("the previous run 2024-12-16", {"lags": {"payments": prev_lags}})
    behind = _feed("2024-12-06", "2024-12-16", "2024-12-17")
    feed = evaluate_feed(
        behind, CFG, previous=previous, training=training, as_of=dt.date(2024, 12, 17), accept=True
    )
    assert feed["status"] != "passed"
    assert feed["figures"]["lags"]["payments"]["published"] == {"2024-12-04": 3, "2024-12-16": 1}


def test_a_remembered_lag_counts_up_to_the_usual_silence_plus_7() -> None:
    """H34 (038dbb6): tonight may lag as much as the largest remembered lag, capped at the usual silence
    + 7 usual payment days (a feed a week behind stays refused even if a long lag once passed). Mon-Fri
    book paid every working day (silence 0), a run of 4 December remembered at 12; Wednesday 18th with
    the payments to Thursday 5th: 9 usual payment days (6th, 9th-13th, 16th-18th) > min(12, 0 + 7) + 1:
    refused, reference 7."""
    import datetime as dt

    from pipelines.feed_checks import payments_lag
    from tests.pipelines.test_lag_s33 import LIMIT, _feed, _lag

    prev_lags = _lag("2024-12-17", "2024-12-17") | {"published": {"2024-12-04": 12}}
    previous = ("the previous run 2024-12-17", {"lags": {"payments": prev_lags}})
    check = payments_lag(
        _feed("2024-12-05", "2024-12-18", "2024-12-18"), dt.date(2024, 12, 18), LIMIT, previous
    )
    assert (check.status, check.value, check.reference) == ("failed", 9, 7)


def test_a_weekday_with_payments_on_4_of_the_last_8_is_a_usual_payment_day() -> None:
    """H35 (038dbb6): a weekday is a usual payment day when it held payments on at least 4 of the 8 same
    weekdays up to the latest payment. Payments every Monday to Friday from 28 October to Friday 20
    December 2024 (8 of each) and on 4 of the 8 Saturdays in that window (26 Oct, 9 and 23 Nov, 7 Dec),
    never on Sunday: Monday to Saturday are usual (1111110, "Mon-Sat")."""
    import pandas as pd

    from pipelines.feed_checks import usual_weekdays, weekday_names

    working = pd.bdate_range("2024-10-28", "2024-12-20")
    saturdays = pd.to_datetime(["2024-10-26", "2024-11-09", "2024-11-23", "2024-12-07"])
    days = working.union(saturdays)
    mask = usual_weekdays(days, pd.Timestamp("2024-12-20"))
    assert mask == [1, 1, 1, 1, 1, 1, 0]
    assert weekday_names("".join(map(str, mask))) == "Mon-Sat"


def test_a_whole_ledger_quiet_is_not_the_payments_feed_behind_in_usual_days_either() -> None:
    """H36 (038dbb6): with runs remembered (usual payment days), the payments feed is judged behind only
    while the invoices are inside their own usual silence, as in calendar days: a whole ledger quiet (both
    feeds end on Friday 13 December, tonight Wednesday 18th: the invoices 5 days behind, beyond their
    weekend 2 + 1) is the data-lag check's, not payments_lag_days'. Payments 3 usual payment days
    behind > 0 + 1, but passed; the same payments with the invoices to the 18th: refused."""
    import datetime as dt

    from pipelines.feed_checks import payments_lag
    from tests.pipelines.test_lag_s33 import LIMIT, _feed, _lag

    previous = (
        "the previous run 2024-12-17",
        {
            "lags": {
                "payments": _lag("2024-12-17", "2024-12-17")
                | {"published": {"2024-12-04": 0, "2024-12-11": 0}}
            }
        },
    )
    as_of = dt.date(2024, 12, 18)
    quiet = payments_lag(_feed("2024-12-13", "2024-12-13", "2024-12-18"), as_of, LIMIT, previous)
    assert (quiet.status, quiet.value, quiet.reference) == ("ok", 3, 0)
    behind = payments_lag(_feed("2024-12-13", "2024-12-18", "2024-12-18"), as_of, LIMIT, previous)
    assert (behind.status, behind.value, behind.reference) == ("failed", 3, 0)


def test_a_book_with_few_payment_days_is_too_small_to_check_even_with_runs_remembered() -> None:
    """H37 (038dbb6): payments_lag_days is not checked with fewer than min_days (20) payment days in the
    year, runs remembered or not. Payments on the 10 working days 2 to 13 December 2024; tonight Wednesday
    18th, invoices to the 18th, runs of 4th and 11th remembered at 0: "too small to check", where the
    usual-days rule would refuse 3 usual payment days > 0 + 1."""
    import datetime as dt

    import pandas as pd

    from pipelines.feed_checks import payments_lag, table_lag
    from tests.pipelines.test_lag_s33 import LIMIT, _lag

    few = pd.Series(1, index=pd.bdate_range("2024-12-02", "2024-12-13"))
    pay = table_lag(few, pd.Timestamp("2024-12-18"))
    assert pay["days"] == 10
    tonight = {"lags": {"invoices": _lag("2024-12-18", "2024-12-18"), "payments": pay}}
    previous = (
        "the previous run 2024-12-17",
        {
            "lags": {
                "payments": table_lag(few, pd.Timestamp("2024-12-17"))
                | {"published": {"2024-12-04": 0, "2024-12-11": 0}}
            }
        },
    )
    check = payments_lag(tonight, dt.date(2024, 12, 18), LIMIT, previous)
    assert check.status == "too small to check"


def test_every_quarantine_reason_reads_in_words() -> None:
    """47eed35 named the quarantine reasons in words for report.html, but not two the ingest writes:
    ``no_fx_rate:<code>`` (an amount in a currency without a rate: s32-hostile's 21 debtors' USD
    invoices) and ``malformed_row`` (a line the CSV reader could not split) still read as codes. By
    hand: "No exchange rate for USD", "A line that does not split into the header's columns"; and
    every reason of the GX suites and of the ingest's code has words."""
    import json
    import re

    from pipelines.words import REASON_WORDS, reason_words

    assert reason_words("no_fx_rate:USD") == "No exchange rate for USD"
    assert reason_words("malformed_row") == "A line that does not split into the header's columns"
    root = Path(__file__).resolve().parents[2]
    kinds = {
        e["meta"]["reason"].split(":")[0]
        for p in (root / "conf" / "expectations").glob("*.json")
        for e in json.loads(p.read_text(encoding="utf-8"))["expectations"]
    }
    code = " ".join(p.read_text(encoding="utf-8") for p in (root / "pipelines").rglob("*.py"))
    kinds |= set(re.findall(r'flag\(masks, f?"([a-z_]+)[:"{]', code))
    assert sorted(k for k in kinds if k not in REASON_WORDS) == []


def test_an_empty_cell_of_a_later_row_states_nothing() -> None:
    """H26 (s33-history, features.master.stated_at): each attribute is the value of the latest row
    dated on or before the day that states it; an empty cell states nothing. A: 2024-01-01 limit 500,
    segment x, country DE; 2024-02-01 limit 300 and nothing else. On 2024-03-01: limit 300, segment x,
    country DE (by hand), without a debtors table too (the nightly's debtors_at(None, ...))."""
    import pandas as pd

    from features.master import debtors_at, stated_at

    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["A", "A"], dtype="string"),
            "valid_from": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "credit_limit": [500.0, 300.0],
            "segment": pd.array(["x", None], dtype="string"),
            "country": pd.array(["DE", None], dtype="string"),
        }
    )
    got = stated_at(history, "2024-03-01")
    assert got.to_dict("records") == [
        {"debtor_id": "A", "credit_limit": 300.0, "segment": "x", "country": "DE"}
    ]
    table = debtors_at(None, history, "2024-03-01")
    assert table[["credit_limit", "segment", "country"]].iloc[0].tolist() == [300.0, "x", "DE"]
