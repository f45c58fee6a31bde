"""``ews sources suggest``: the draft of a never-seen export passes ``config check`` and ingests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DE = (
    ROOT / "tests" / "data" / "sources" / "ar_export_de.csv"
)  # ';', cp1252, title line, d.m.Y, 1.234,50, Ja/Nein
US = ROOT / "tests" / "data" / "ingest" / "numbers" / "ar_export_us.csv"  # ',', m/d/Y, "1,234.50", Yes/No
PAYMENTS = ROOT / "tests" / "data" / "sources" / "eu_payments.csv"
INVOICES = ROOT / "tests" / "data" / "sources" / "eu_invoices.csv"


def _suggest_check_ingest(export: Path, tmp_path: Path) -> tuple[dict, object]:
    import json

    draft = tmp_path / "draft.yaml"
    runner = CliRunner()
    made = runner.invoke(app, ["sources", "suggest", str(export), "--out", str(draft)])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(app, ["config", "check", str(draft)])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "out"
    ran = runner.invoke(
        app, ["ingest", "--source", str(draft), "--out", str(out), "--as-of", "2024-06-30", "--no-docs"]
    )
    assert ran.exit_code == 0, ran.output
    assert "Traceback" not in ran.output
    manifest = json.loads((out / "manifest.json").read_text())
    for t in manifest["tables"].values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    return manifest, load_config(draft)


def test_german_ar_export_draft_matches_the_hand_written_example(tmp_path: Path) -> None:
    manifest, cfg = _suggest_check_ingest(DE, tmp_path)
    assert (cfg.csv.delimiter, cfg.csv.encoding, cfg.csv.skip_rows) == (";", "cp1252", 1)
    assert (cfg.values.date_format, cfg.values.decimal, cfg.values.thousands) == ("d.m.Y", ",", ".")
    assert cfg.values.true_values[0] == "Ja" and cfg.values.false_values[0] == "Nein"
    hand = load_config(ROOT / "conf" / "sources" / "example_ar_export.yaml")
    assert cfg.ar_export.columns == hand.ar_export.columns
    assert (cfg.ar_export.settled_on, cfg.ar_export.settled_amount) == ("Ausgeglichen am", "Ausgleichsbetrag")
    # the same rows as the hand-written config: 31.02.2024 is unparseable; no GBP rate in conf/ews.yaml
    assert manifest["tables"]["invoices"]["reasons"] == {
        "no_fx_rate:GBP": 2,
        "unparseable_date:issue_date": 1,
    }
    assert manifest["tables"]["debtors"]["rows_accepted"] == 3


def test_english_ar_export_draft_ingests_every_row(tmp_path: Path) -> None:
    manifest, cfg = _suggest_check_ingest(US, tmp_path)
    assert (cfg.csv.delimiter, cfg.csv.encoding, cfg.csv.skip_rows) == (",", "utf-8", 0)
    assert (cfg.values.date_format, cfg.values.decimal, cfg.values.thousands) == ("m/d/Y", ".", ",")
    assert cfg.ar_export.columns["invoice_id"] == "Invoice No" and cfg.ar_export.settled_on == "Paid Date"
    assert {t: v["rows_accepted"] for t, v in manifest["tables"].items()} == {
        "debtors": 3,
        "invoices": 6,
        "payments": 4,
    }


def test_separate_files_are_drafted_as_tables(tmp_path: Path) -> None:
    from pipelines.sources.suggest import suggest_source

    pay = suggest_source(PAYMENTS)
    assert pay.kind == "payments"
    assert pay.mapping == {
        "invoice_id": "Rechnung",
        "payment_id": "Zahlung",
        "debtor_id": "Kunde",
        "paid_on": "Valuta",
        "amount": "Betrag",
    }
    inv = suggest_source(INVOICES)
    assert (
        inv.kind == "invoices" and inv.mapping["due_date"] == "Faellig" and inv.mapping["amount"] == "Summe"
    )
    assert "add tables.payments" in inv.text


def test_headers_in_an_unknown_language_are_guessed_from_the_values(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Nr;Klient;Wystawiona;Termin;Kwota\n"
        "F1;A;2024-01-05;2024-02-04;100,50\nF2;A;2024-02-05;2024-03-06;20,00\nF3;B;2024-01-10;2024-02-09;5,25\n",
        encoding="utf-8",
    )
    manifest, cfg = _suggest_check_ingest(path, tmp_path)
    assert cfg.tables["invoices"].columns == {
        "invoice_id": "Nr",
        "debtor_id": "Klient",
        "issue_date": "Wystawiona",
        "due_date": "Termin",
        "amount": "Kwota",
    }
    text = (tmp_path / "draft.yaml").read_text()
    assert "GUESS: first column with unique values" in text and "GUESS: first date column" in text
    assert manifest["tables"]["invoices"]["rows_accepted"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such.csv"], "no_such.csv: file not found"),
        (["book.xlsx"], "book.xlsx: not a readable Excel workbook"),
        ([str(US), "--out", "{existing}"], "exists; pass --force"),
    ],
)
def test_suggest_user_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "book.xlsx").write_bytes(b"PK\x03\x04")
    existing = tmp_path / "existing.yaml"
    existing.write_text("kind: source\n")
    args = [a.format(existing=existing) for a in args]
    args = [str(tmp_path / a) if a == "book.xlsx" else a for a in args]
    result = CliRunner().invoke(app, ["sources", "suggest", *args])
    assert result.exit_code == 2
    assert message in re.sub(r"\s+", " ", result.output)
    assert "Traceback" not in result.output


def test_draft_quotes_every_spelling_and_path(tmp_path: Path) -> None:
    from pipelines.sources.suggest import suggest_source

    copy = tmp_path / "yes no.csv"
    shutil.copy(US, copy)
    text = suggest_source(copy).text
    assert 'true_values: ["Yes", "Y"]' in text and 'false_values: ["No", "N"]' in text
    assert f'path: "{copy}"' in text


def test_statement_export_is_drafted_as_statements(tmp_path: Path) -> None:
    statements = ROOT / "tests" / "data" / "sources" / "statements_us.csv"
    manifest, cfg = _suggest_check_ingest(statements, tmp_path)
    hand = load_config(ROOT / "conf" / "sources" / "example_statements.yaml")
    assert cfg.tables["statements"].columns == hand.tables["statements"].columns
    assert cfg.values.date_format == "m/d/Y"  # one bad date (13/31/2024) among four does not hide it
    assert manifest["tables"]["statements"]["reasons"] == {"unparseable_date:period_end": 1}


def test_excel_workbook_is_drafted_and_ingested_as_saved(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Open items"
    ws.append(["Open items as of 30 June 2024"])  # a title row above the header
    ws.append(["Invoice No", "Customer", "Invoice Date", "Due Date", "Amount", "Disputed", "Paid Date"])
    for i in range(6):
        issue = dt.datetime(2024, 1, 5) + dt.timedelta(days=20 * i)
        paid = issue + dt.timedelta(days=25) if i % 2 == 0 else None
        ws.append(
            [f"INV-{i}", f"C{i % 3}", issue, issue + dt.timedelta(days=30), 100.5 * (i + 1), "No", paid]
        )
    xlsx = tmp_path / "open_items.xlsx"
    book.save(xlsx)
    manifest, cfg = _suggest_check_ingest(xlsx, tmp_path)
    assert not (tmp_path / "open_items.csv").exists()  # session 38: the draft names the workbook itself
    assert cfg.ar_export.path == xlsx and cfg.ar_export.sheet is None and cfg.csv.skip_rows == 1
    assert cfg.values.date_format == "iso" and cfg.ar_export.settled_on == "Paid Date"
    assert {t: v["rows_accepted"] for t, v in manifest["tables"].items()} == {"invoices": 6, "payments": 3}
