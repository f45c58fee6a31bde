"""Session 8 (s8-robust): hostile inputs and faults, end to end through the ``ews`` commands.

Each test was written before its fix and fails without it. Small books, < 3 s each warm.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_days_past_due_above_ten_years_is_quarantined_and_rows_add_up(tmp_path: Path) -> None:
    """Before: a statement's days_past_due of 1,000,000, or an Excel date serial (45,321 =
    2024-01-30) in a mis-mapped DPD column, was accepted as data. The contract's ceiling is
    3,650 days (features/schema.py MAX_DAYS_PAST_DUE); 3,650 itself is kept."""
    from pipelines.ingest import ingest_files

    st = tmp_path / "statements.csv"
    st.write_text(
        "debtor_id,period_end,balance,days_past_due\n"
        "A,2024-01-31,100,0\n"
        "A,2024-02-29,100,3650\n"
        "B,2024-01-31,50,3651\n"
        "B,2024-02-29,50,1000000\n"
        "C,2024-01-31,70,45321\n"
        "C,2024-02-29,70,-1\n",
        encoding="utf-8",
    )
    result = ingest_files({"statements": st}, tmp_path / "out", as_of=dt.date(2024, 3, 31))
    entry = result.manifest["tables"]["statements"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (6, 2, 4)
    assert result.portfolio.statements["days_past_due"].tolist() == [0, 3650]
    text = (tmp_path / "out" / "quarantine" / "statements.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["debtor_id"], r["days_past_due"], r["reason"]) for r in rows] == [
        ("B", "3651", "implausible_days_past_due"),
        ("B", "1000000", "implausible_days_past_due"),
        ("C", "45321", "implausible_days_past_due"),
        ("C", "'-1", "negative_days_past_due"),
    ]


def test_xlsx_cells_longer_than_excel_holds_are_cut_visibly_and_said(tmp_path: Path) -> None:
    """Before: xlsxwriter cut a 50,001-character id to its first 32,767 characters without a
    word (s7-robust). Now the cell ends in a marker naming the full length, the "about" sheet
    and the ``cuts`` record say so, and the CSV and Parquet keep the whole text."""
    import openpyxl
    import pandas as pd

    from pipelines.adapters.exports import write_queue

    long_id = "D" + "9" * 50_000
    name = "=Müller " + "é" * 40_000
    frame = pd.DataFrame(
        {
            "rank": [1, 2],
            "debtor_id": pd.Series([long_id, "D2"], dtype="string"),
            "name": pd.Series([name, "short"], dtype="string"),
            "exposure": [10.0, 20.0],
        }
    )
    cuts: dict = {}
    files = write_queue(frame, tmp_path, "q", "Queue", pd.Timestamp("2024-06-30"), 10, "EUR", cuts=cuts)
    assert cuts == {"q.xlsx": {"debtor_id": 1, "name": 1}}
    wb = openpyxl.load_workbook(files["q.xlsx"])
    cell_id, cell_name = wb["all"]["B2"].value, wb["all"]["C2"].value
    marker_id = "...[cut: 50,001 characters; the CSV/Parquet hold the full text]"
    assert len(cell_id) == 32_767 and cell_id == long_id[: 32_767 - len(marker_id)] + marker_id
    # neutralised first ('=' -> "'="), so the full text is 40,009 characters
    assert cell_name.startswith("'=Müller é") and cell_name.endswith(
        "[cut: 40,009 characters; the CSV/Parquet hold the full text]"
    )
    assert len(cell_name) == 32_767 and wb["all"]["B3"].value == "D2"
    about = wb["about"]["A1"].value
    assert "2 cells longer than Excel's 32,767 characters cut" in about
    assert "debtor_id (1), name (1)" in about
    assert pd.read_parquet(files["q.parquet"])["debtor_id"].iloc[0] == long_id
    assert long_id in files["q.csv"].read_text(encoding="utf-8-sig")


def test_xlsx_merged_customer_cells_fill_down_and_hidden_rows_are_named(tmp_path: Path) -> None:
    """Before: a customer merged over its 3 invoice rows reached the CSV in the first row only (the
    other 2 were quarantined missing_value:debtor_id by ingest), and hidden rows went unmentioned.
    Now every row of a range spanning several rows gets its value (as Excel shows it); a title
    merged across one row stays in its first cell; hidden rows are named."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Open items"
    ws["A1"] = "Open items as of 31.03.2024"
    ws.merge_cells("A1:E1")
    ws.append(["Invoice", "Customer", "Invoice date", "Due date", "Amount"])
    for row in (
        ["INV1", "C1", "2024-01-05", "2024-02-04", 100],
        ["INV2", None, "2024-01-09", "2024-02-08", 250.5],
        ["INV3", None, "2024-01-10", "2024-02-09", 80],
        ["INV4", "C2", "2024-01-11", "2024-02-10", 40],
        ["INV5", "C2", "2024-01-12", "2024-02-11", 41],
    ):
        ws.append(row)
    ws.merge_cells("B3:B5")
    ws.row_dimensions[6].hidden = True
    ws.row_dimensions[7].hidden = True
    book.save(tmp_path / "ar.xlsx")
    result = CliRunner().invoke(
        app, ["sources", "suggest", str(tmp_path / "ar.xlsx"), "--out", str(tmp_path / "d.yaml")]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 merged range over several rows (B3:B5): each row of a range got the range's value" in said
    assert "2 hidden rows (Excel rows 6, 7;" in said
    from pipelines.sources.suggest import excel_to_csv  # the converter `ews sources suggest` used

    excel_to_csv(tmp_path / "ar.xlsx", tmp_path / "ar.csv")
    lines = (tmp_path / "ar.csv").read_text().splitlines()
    assert lines[0] == "Open items as of 31.03.2024,,,,"  # the one-row title is not spread
    assert [line.split(",")[1] for line in lines[2:]] == ["C1", "C1", "C1", "C2", "C2"]


def test_a_bucket_of_another_ingest_with_the_same_row_count_is_refused(tmp_path: Path) -> None:
    """Before: the mixed-folder check compared row counts only (s7-robust): a bucket holding other
    rows, as many as the manifest says, was read with exit 0. Now each bucket's size and Parquet
    footer digest are recorded at ingest and compared by the readers (footers only)."""
    import shutil

    from pipelines.adapters.publish import mixed_ingest
    from tests.pipelines.test_hostile_s4 import _ingest, _ledger

    old, new = tmp_path / "old", tmp_path / "new"
    assert _ingest(_ledger(tmp_path / "in12"), old).exit_code == 0  # 12 invoices, 12 payments
    files = _ledger(tmp_path / "in12b")  # the same book, one invoice and its payment of another amount
    for table in ("invoices", "payments"):
        files[table].write_text(files[table].read_text().replace("100.50", "100.75"), encoding="utf-8")
    assert _ingest(files, new).exit_code == 0
    args = ["features", "--data", str(old), "--as-of", "2024-04-30", "--out", str(tmp_path / "f.parquet")]
    assert mixed_ingest(old) is None and mixed_ingest(new) is None  # each folder as ingest wrote it
    bucket = "invoices/bucket=0/part-0.parquet"
    shutil.copyfile(new / bucket, old / bucket)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert (
        f"--data {old}: invoices/bucket=0/part-0.parquet is not the file this ingest wrote (its size or "
        "Parquet footer differs from the one recorded in manifest.json; same row count)" in said
    )
    assert "Run `ews ingest ... --out` into it again" in said and not (tmp_path / "f.parquet").exists()


def test_german_ar_export_with_currency_symbols_and_parentheses_suggests_and_ingests(tmp_path: Path) -> None:
    """A real AR export's shape: BOM, CRLF, ';', a title line, DD.MM.YYYY, '€1.234,50', '1.234,50 €',
    a credit note '(120,00)', an SAP trailing minus '45,00-', a 'Total' row. Before: the draft had no
    amount ('# amount: ???', decimal '.') and ingest quarantined every '€' amount unparseable_number."""
    export = tmp_path / "OP.csv"
    rows = [
        "Offene Posten per 31.03.2024",
        "Belegnr;Kunde;Belegdatum;Fällig;Betrag;Ausgeglichen am",
        "R1;K1;05.01.2024;04.02.2024;€1.234,50;10.02.2024",
        "R2;K1;09.01.2024;08.02.2024;2.000,00 €;",
        "R3;K2;10.01.2024;09.02.2024;€80,00;",
        "G1;K2;12.01.2024;12.01.2024;(120,00);",
        "G2;K1;13.01.2024;13.01.2024;45,00-;",
        "R4;K2;15.01.2024;14.02.2024;€ 99,90;",
        "Total;;;;€3.249,40;",
    ]
    export.write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8-sig"))
    draft = tmp_path / "op.yaml"
    result = CliRunner().invoke(app, ["sources", "suggest", str(export), "--out", str(draft)])
    assert result.exit_code == 0, result.output
    text = draft.read_text()
    assert 'amount: "Betrag"' in text and 'decimal: ","' in text and 'thousands: "."' in text
    out = tmp_path / "ing"
    args = ["ingest", "--source", str(draft), "--as-of", "2024-03-31", "--no-docs", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import json

    import pandas as pd

    inv = json.loads((out / "manifest.json").read_text())["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (7, 4, 3)
    got = pd.read_parquet(out / "invoices").sort_values("invoice_id")
    assert got["amount"].tolist() == [1234.5, 2000.0, 80.0, 99.9]
    q = pd.read_csv(out / "quarantine" / "invoices.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(zip(q["invoice_id"].fillna(""), q["reason"], strict=True)) == [
        ("G1", "amount_not_positive"),
        ("G2", "amount_not_positive"),
        ("Total", "totals_row"),  # s16-robust: was missing_value:debtor_id; :due_date; :issue_date
    ]


def test_a_payment_in_another_currency_than_its_invoice_is_quarantined(tmp_path: Path) -> None:
    """Before: a payments file's `currency` column was ignored (listed in ignored_columns only), so a
    USD payment of an EUR invoice was counted as EUR. Now the optional column is in the contract and
    a payment whose currency is not its invoice's is quarantined currency_mismatch, with a warning."""
    from pipelines.ingest import ingest_files

    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-05,2024-02-04,100,EUR\n"
        "I2,D1,2024-01-09,2024-02-08,250,EUR\n",
        encoding="utf-8",
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount,currency\n"
        "P1,D1,I1,2024-02-01,100,USD\n"
        "P2,D1,I2,2024-02-05,250,eur\n"
        "P3,D1,I2,2024-02-06,1,\n"
        "P4,D1,,2024-02-07,5,GBP\n",
        encoding="utf-8",
    )
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "payments")}
    result = ingest_files(files, tmp_path / "out", as_of=dt.date(2024, 3, 31))
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 2, 2)
    assert pay["reasons"] == {"currency_mismatch": 2} and pay["ignored_columns"] == []
    assert result.portfolio.payments["payment_id"].tolist() == ["P2", "P3"]
    assert result.manifest["warnings"][0].startswith(
        "payments: 2 rows quarantined (currency_mismatch): their currency column differs from the "
        "currency of the invoice they pay"
    )


def test_an_amount_signed_in_another_currency_than_its_row_is_quarantined(tmp_path: Path) -> None:
    """Before: the sign was stripped and never compared, so `$250.00` on an EUR row was read as
    250 EUR. Now a sign the row's currency cannot be is quarantined currency_sign_mismatch:amount; a
    row without a currency takes the one its sign names unambiguously (here EUR from `€`)."""
    from pipelines.ingest import ingest_files

    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-05,2024-02-04,€100.00,EUR\n"
        "I2,D1,2024-01-09,2024-02-08,$250.00,EUR\n"
        "I3,D1,2024-01-10,2024-02-09,300 EUR,EUR\n"
        "I4,D1,2024-01-11,2024-02-10,400 GBP,EUR\n"
        "I5,D1,2024-01-12,2024-02-11,€40.00,\n"
        "I6,D1,2024-01-13,2024-02-12,60,EUR\n",
        encoding="utf-8",
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount,currency\n"
        "P1,D1,I1,2024-02-01,€100.00,EUR\nP2,D1,I3,2024-02-02,£5.00,EUR\n",
        encoding="utf-8",
    )
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "payments")}
    result = ingest_files(files, tmp_path / "out", as_of=dt.date(2024, 3, 31))
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (6, 4, 2)
    assert inv["reasons"] == {"currency_sign_mismatch:amount": 2}
    accepted = result.portfolio.invoices.sort_values("invoice_id")
    assert accepted["invoice_id"].tolist() == ["I1", "I3", "I5", "I6"]
    assert accepted["amount"].tolist() == [100.0, 300.0, 40.0, 60.0]
    assert set(accepted["currency"]) == {"EUR"}
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (2, 1, 1)
    assert pay["reasons"] == {"currency_sign_mismatch:amount": 1}


def test_a_month_first_feed_under_a_day_first_config_is_named(tmp_path: Path) -> None:
    """Every date written m/d/Y while the source config says d/m/Y. Before: the rows with a day > 12
    were quarantined unparseable_date with no word on the cause, and those with a day <= 12 were
    accepted wrong by months. Now they are day_month_swapped:<column> with a warning naming the fix."""
    (tmp_path / "inv.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,01/15/2024,02/14/2024,100\n"  # 15 Jan: only month-first
        "I2,D1,03/04/2024,04/03/2024,50\n"  # reads both ways: taken as 3 April / 4 March -> due before issue
        "I3,D1,02/05/2024,03/06/2024,70\n",  # reads both ways: 2 May / 3 June, accepted (wrong)
        encoding="utf-8",
    )
    (tmp_path / "src.yaml").write_text(
        "kind: source\nname: mdy\ndefault_currency: EUR\nvalues: {date_format: d/m/Y}\n"
        f"tables:\n  invoices: {{path: {tmp_path / 'inv.csv'}}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = [
        "ingest",
        "--source",
        str(tmp_path / "src.yaml"),
        "--as-of",
        "2024-12-31",
        "--no-docs",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import json

    inv = json.loads((out / "manifest.json").read_text())["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (3, 1, 2)
    assert inv["reasons"] == {
        "day_month_swapped:issue_date": 1,
        "day_month_swapped:due_date": 1,
        "due_before_issue": 1,
    }
    said = " ".join(result.output.split())
    assert "invoices.issue_date: 1 row quarantined (day_month_swapped:issue_date)" in said
    assert "Set values.date_format (or values.date_formats.issue_date) to the month-first layout" in said


def test_an_as_of_date_in_the_future_is_refused_before_the_flow(tmp_path: Path, monkeypatch) -> None:
    """Before: `ews score --as-of` a date after today ran the flow (with --raw, or with
    --accept-feed past the data-lag refusal) and published a run for a day not yet over
    (measured: exit 0 for 2027-06-30, 24.3+2.2 CPU-s). Now refused before the registry is read."""
    import pipelines.commands.score as score_cmd

    def no_flow(*args, **kwargs):
        raise AssertionError("the flow runtime was started")

    monkeypatch.setattr(score_cmd, "flow_runtime", no_flow)
    monkeypatch.chdir(ROOT)
    today = dt.datetime.now(dt.UTC).date()
    later = today + dt.timedelta(days=30)
    data = ROOT / "tests" / "data" / "ingest" / "base"
    out = tmp_path / "runs"
    for extra in (["--as-of", str(later)], ["--from", str(today), "--to", str(later)]):
        command = "score" if extra[0] == "--as-of" else "backfill"
        result = CliRunner().invoke(
            app, [command, "--data", str(data), "--raw", *extra, "--accept-feed", "--out", str(out)]
        )
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        after = dt.datetime.now(
            dt.UTC
        ).date()  # the command ran between `today` and now (midnight UTC, s44-flake)
        assert any(
            f"--as-of {later if command == 'score' else day + dt.timedelta(days=2)} is in the future" in said
            and f"today is {day} (UTC)" in said
            and f"score a date up to {day}" in said
            for day in {today, after}
        ), said
        assert not out.exists()


def test_a_second_score_of_a_date_in_progress_is_refused_before_prefect(tmp_path: Path, monkeypatch) -> None:
    """Before: the second of two `ews score` runs of one date into one --out started Prefect's
    server and the flow (46 s wall at load 8) before the flow's lock refused it. Now the lock is
    probed first; the flow's lock stays the guard."""
    import pipelines.commands.score as score_cmd
    from pipelines.adapters.publish import run_lock

    def no_flow(*args, **kwargs):
        raise AssertionError("the flow runtime was started")

    monkeypatch.setattr(score_cmd, "flow_runtime", no_flow)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "runs"
    data = ROOT / "tests" / "data" / "ingest" / "base"
    args = ["score", "--data", str(data), "--raw", "--as-of", "2024-06-30", "--out", str(out)]
    with run_lock(out, dt.date(2024, 6, 30)):  # a run of that date in progress (this process)
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"another nightly run for 2024-06-30 is in progress (pid {__import__('os').getpid()}" in said


def test_one_customer_spelled_in_two_cases_is_warned_not_split_silently(tmp_path: Path) -> None:
    """Invoices without a customer master: 'K1' on two invoices, 'k1' on one, 'K2 ' padded. Before:
    'k1' became a second debtor without a word (its exposure and days past due split from K1's).
    Ids stay case-sensitive (the contract); the manifest and the CLI now warn with the ids."""
    from pipelines.ingest import ingest_files

    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,K1,2024-01-05,2024-02-04,100\n"
        "I2,K1,2024-01-09,2024-02-08,250\n"
        "I3,k1,2024-01-10,2024-02-09,80\n"
        "I4,K2 ,2024-01-11,2024-02-10,40\n"
        "I5,K2,2024-01-12,2024-02-11,41\n",
        encoding="utf-8",
    )
    result = ingest_files(
        {"invoices": tmp_path / "invoices.csv"}, tmp_path / "out", as_of=dt.date(2024, 3, 31)
    )
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 5
    assert sorted(set(result.portfolio.invoices["debtor_id"])) == ["K1", "K2", "k1"]  # K2 trimmed
    assert result.manifest["warnings"] == [
        "debtors: 1 debtor id differing from another only by letter case ('K1' and 'k1'): ids are "
        "case-sensitive, so each spelling is a separate debtor and the customer's invoices, exposure and "
        "days past due are split between them. Spell each id one way in every export (and in the customer "
        "master), then ingest again"
    ]
    # with a customer master, 'k1' is quarantined unknown_debtor and the near match is named
    (tmp_path / "debtors.csv").write_text("debtor_id,name\nK1,One\nK2,Two\n", encoding="utf-8")
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "debtors")}
    result = ingest_files(files, tmp_path / "out2", as_of=dt.date(2024, 3, 31))
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["reasons"]) == (5, 4, {"unknown_debtor": 1})
    assert result.manifest["warnings"] == [
        "invoices: 1 row quarantined unknown_debtor, naming a debtor of the customer master in another letter "
        "case ('k1' for 'K1'): ids are case-sensitive. Spell them as in the master and ingest again; see "
        "quarantine/invoices.csv"
    ]
