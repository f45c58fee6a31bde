"""Session 36 (s36-attack): hostile and careless inputs through the real ``ews`` command line
(BENCHMARKS.md, hostile section, "Session 36 (s36-attack)"). Every expected value is by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _said(result) -> str:
    """A command's whole output (stdout and stderr), with no traceback in it."""
    assert "Traceback" not in result.output, result.output[-3000:]
    return _flat(result.output)


def _table(out: Path, table: str) -> pd.DataFrame:
    parts = sorted((out / table).glob("bucket=*/*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts]).sort_values(
        list(pd.read_parquet(parts[0]).columns[:1])
    )


def _suggest_and_ingest(tmp_path: Path, name: str, text: str) -> tuple[str, Path]:
    export = tmp_path / f"{name}.csv"
    export.write_text(text, encoding="utf-8")
    draft = tmp_path / f"{name}.yaml"
    said = _said(
        runner.invoke(app, ["sources", "suggest", str(export), "--out", str(draft)], env={"COLUMNS": "400"})
    )
    assert draft.exists(), said
    out = tmp_path / f"out_{name}"
    result = runner.invoke(
        app, ["ingest", "--source", str(draft), "--out", str(out), "--no-docs", "--as-of", "2024-06-30"]
    )
    _said(result)
    assert result.exit_code == 0, result.output
    return draft.read_text(encoding="utf-8"), out


# A Polish AR export (one row per invoice, the day and amount it was paid): its currency column is
# headed 'Waluta'; a DATEV-style one 'WKZ' (Waehrungskennzeichen), a header no list can hold.
POLISH = (
    "Numer faktury;Kontrahent;Data wystawienia;Termin płatności;Kwota brutto;Waluta;Data zapłaty;Kwota zapłacona\n"
    "FV/1/2024;K1;15.01.2024;14.02.2024;1 234,56;PLN;10.02.2024;1 234,56\n"
    "FV/2/2024;K2;20.01.2024;19.02.2024;980,00;PLN;;\n"
    "FV/3/2024;K1;01.02.2024;02.03.2024;12 500,00;PLN;01.03.2024;12 500,00\n"
)
CODED = (
    "Rechnungsnummer;Kundennummer;Belegdatum;Fällig;Betrag;Gruppe;WKZ\n"
    "R1;K1;15.01.2024;14.02.2024;1.234,56;all;CHF\n"
    "R2;K2;20.01.2024;19.02.2024;980,00;all;CHF\n"
    "R3;K1;01.02.2024;02.03.2024;500,00;all;CHF\n"
)


def test_a_currency_column_headed_in_another_language_is_mapped(tmp_path: Path) -> None:
    """Before: the draft left 'Waluta' unmapped and wrote ``default_currency: EUR``; the PLN invoices
    were ingested as EUR without a word (a reporting currency of EUR with a PLN rate would have taken
    them at about 4 times their value). 'Data zapłaty' / 'Kwota zapłacona' were not read as the day
    and amount paid either, so every invoice stayed open."""
    draft, out = _suggest_and_ingest(tmp_path, "pl", POLISH)
    assert 'currency: "Waluta"' in draft
    assert "\ndefault_currency: EUR" not in draft
    inv = _table(out, "invoices")
    assert inv["currency"].tolist() == ["PLN", "PLN", "PLN"]
    assert inv["amount"].tolist() == [1234.56, 980.00, 12500.00]
    pay = _table(out, "payments")  # FV/1 and FV/3 paid in full on their day; FV/2 open
    assert pay["invoice_id"].tolist() == ["FV/1/2024", "FV/3/2024"]
    assert pay["paid_on"].astype(str).tolist() == ["2024-02-10", "2024-03-01"]
    assert pay["amount"].tolist() == [1234.56, 12500.00]


def test_a_currency_column_is_mapped_by_its_values(tmp_path: Path) -> None:
    """Before: 'WKZ' (CHF on every row) was left unmapped and every row read as EUR. A group column
    written 'all' is no Albanian lek (ALL): codes are taken as written, in capitals."""
    draft, out = _suggest_and_ingest(tmp_path, "wkz", CODED)
    assert 'currency: "WKZ"  # GUESS: every value is a currency code' in draft
    inv = _table(out, "invoices")
    assert inv[["invoice_id", "currency"]].values.tolist() == [["R1", "CHF"], ["R2", "CHF"], ["R3", "CHF"]]


def _damaged_stores(tmp_path: Path) -> dict[str, Path]:
    """An SQLite file cut short (SQLITE_CORRUPT: 'database disk image is malformed') and a file that is
    no database at all (SQLITE_NOTADB), as MLflow stores."""
    import os
    import sqlite3

    cut = tmp_path / "cut.db"
    con = sqlite3.connect(cut)
    for i in range(40):
        con.execute(f"CREATE TABLE t{i} (a TEXT)")
        con.executemany(f"INSERT INTO t{i} VALUES (?)", [("x" * 200,)] * 50)
    con.commit()
    con.close()
    os.truncate(cut, 4 * 4096)
    page = tmp_path / "page.db"
    page.write_bytes(b"<html><body>Not Found</body></html>\n" * 100)
    return {"database disk image is malformed": cut, "file is not a database": page}


def _ews_process(*args: str, store: Path, cwd: Path, user: str | None = None) -> tuple[int, str]:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "EWS_PROJECT": str(root),
        "COLUMNS": "400",
        "MLFLOW_TRACKING_URI": f"sqlite:///{store}",
    }
    if user is not None:
        env["EWS_USER"] = user
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_damaged_mlflow_store_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """Before: `ews models list`, `ews score` and `ews models promote` ended in SQLAlchemy's traceback
    ("database disk image is malformed" / "file is not a database"), exit 1; `ews train` built every
    feature first, then printed Prefect's traceback. Now exit 2, one line naming the file, the cause
    and the fix; `ews score` and `ews train` stop before Prefect starts."""
    data = Path(__file__).resolve().parents[1] / "data" / "ingest" / "base"
    for cause, store in _damaged_stores(tmp_path).items():
        for args in (
            ("models", "list"),
            ("score", "--data", str(data), "--raw", "--as-of", "2024-06-30", "--out", str(tmp_path / "runs")),
            ("train", "--data", str(data), "--raw"),
            ("models", "promote", "1", "--reason", "back to the last good one", "--by", "A. Jansen"),
        ):
            code, output = _ews_process(*args, store=store, cwd=tmp_path)
            assert code == 2, output
            assert "Traceback" not in output, output[-3000:]
            said = _flat(output)
            assert f"error: the MLflow store {store.resolve()} cannot be read: {cause}" in said, said
            assert "Restore it from a backup" in said
            assert "Starting temporary server" not in said
        assert not (tmp_path / "runs").exists()


HOSTILE_USER = "mallory\n\x1b[2J\x1b[31mRED\x07"


def test_who_ran_refuses_a_name_on_two_lines_or_with_terminal_codes(monkeypatch) -> None:
    """Before: EWS_USER (or --by of `ews models promote`) was recorded as typed in the registry, and
    `ews models history` printed it over two lines, ringing the terminal's bell."""
    import pytest

    from pipelines.config import ConfigError
    from pipelines.project_dir import who_ran

    monkeypatch.setenv("EWS_USER", HOSTILE_USER)
    with pytest.raises(
        ConfigError, match=r"^EWS_USER 'mallory\\n.* \(21 characters\) is recorded as who ran"
    ):
        who_ran()
    with pytest.raises(ConfigError, match=r"^--by 'x{40}\.\.\.' \(1,000 characters\)"):
        who_ran("x" * 1000)
    assert who_ran("A. Jansen") == "A. Jansen"  # --by wins over EWS_USER
    monkeypatch.setenv("EWS_USER", "Zoë O'Brien-Łukasz 🙂")
    assert who_ran() == "Zoë O'Brien-Łukasz 🙂"


def test_train_with_a_two_line_ews_user_stops_before_prefect(tmp_path: Path) -> None:
    """Before: `ews train` built the features and fitted, then recorded the name as typed."""
    data = Path(__file__).resolve().parents[1] / "data" / "ingest" / "base"
    code, output = _ews_process(
        "train", "--data", str(data), "--raw", store=tmp_path / "mlflow.db", cwd=tmp_path, user=HOSTILE_USER
    )
    assert code == 2, output
    assert "Traceback" not in output and "Starting temporary server" not in output, output[-3000:]
    assert "error: EWS_USER 'mallory\\n" in output and "give a name on one line" in output, output


LONG_TERMS = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2024-01-05,2024-02-04,100.00,EUR
I2,D2,2024-02-05,2034-03-06,300.00,EUR
I3,D3,2024-03-01,2025-03-01,400.00,EUR
I4,D3,2024-03-02,2025-03-03,500.00,EUR
I5,D1,2024-03-02,2025-03-02,600.00,EUR
"""
# by hand: I2 3,682 days (10 years + 30 days, 3 leap days); I3 2024-03-01 -> 2025-03-01 = 365 days
# (no 29 February in between): not warned; I4 2024-03-02 -> 2025-03-03 = 366 days; I5 365 days
LONG_TERMS_WARNING = (
    "invoices: 2 invoices due more than a year after their issue date (I2 issued 2024-02-05, due 2034-03-06; "
    "I4 issued 2024-03-02, due 2025-03-03): a mistyped year?"
)


def _ledger(tmp_path: Path, invoices: str) -> dict[str, Path]:
    texts = {
        "invoices": invoices,
        "payments": "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-01,100.00\n",
    }
    paths = {}
    for table, text in texts.items():
        paths[table] = tmp_path / f"{table}.csv"
        paths[table].write_text(text, encoding="utf-8")
    return paths


def test_an_invoice_due_years_after_its_issue_is_named(tmp_path: Path) -> None:
    """Before: I2, due 2034 (2024 mistyped), was accepted without a word: not overdue for ten years, so
    D2 could never reach days past due or default on it. Rows are kept (a long instalment can be real)."""
    paths = _ledger(tmp_path, LONG_TERMS)
    args = [a for t, p in paths.items() for a in (f"--{t}", str(p))]
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["ingest", *args, "--out", str(out), "--no-docs", "--as-of", "2024-06-30"],
        env={"COLUMNS": "400"},
    )
    said = _said(result)
    assert result.exit_code == 0, said
    assert LONG_TERMS_WARNING in said, said
    assert _table(out, "invoices")["invoice_id"].tolist() == ["I1", "I2", "I3", "I4", "I5"]


def test_an_invoice_due_years_after_its_issue_is_named_streamed(tmp_path: Path) -> None:
    """The streamed ingest (2 partitions, chunks of 2 rows): the same warning, the same examples."""
    import datetime as dt

    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source

    paths = _ledger(tmp_path, LONG_TERMS)
    source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in paths.items()})
    result = ingest_source(
        source, tmp_path / "out", as_of=dt.date(2024, 6, 30), stream=True, chunk_rows=2, partitions=2
    )
    assert any(w.startswith(LONG_TERMS_WARNING) for w in result.manifest["warnings"]), result.manifest[
        "warnings"
    ]


def test_one_payment_listed_per_invoice_is_told_its_own_fix(tmp_path: Path) -> None:
    """P1 paid I1 (100.00) and I2 (200.00) in one transfer, written once per invoice under one id:
    both rows are quarantined duplicate_id (as before). Before, the only fix told was "export each
    payment_id once (the latest version)", which would drop one part and leave its invoice open."""
    paths = _ledger(
        tmp_path,
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-05,2024-02-04,100.00,EUR\nI2,D1,2024-02-05,2024-03-06,200.00,EUR\n"
        "I3,D2,2024-02-05,2024-03-06,300.00,EUR\n",
    )
    paths["payments"].write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\n"
        "P1,D1,I1,2024-03-10,100.00\nP1,D1,I2,2024-03-10,200.00\nP2,D2,I3,2024-03-01,300.00\n",
        encoding="utf-8",
    )
    args = [a for t, p in paths.items() for a in (f"--{t}", str(p))]
    result = runner.invoke(
        app,
        ["ingest", *args, "--out", str(tmp_path / "out"), "--no-docs", "--as-of", "2024-06-30"],
        env={"COLUMNS": "400"},
    )
    said = _said(result)
    assert "payments: 2 rows sharing a payment_id with another row of other values" in said, said
    assert (
        "give each part its own payment_id (P1-1, P1-2), or map the export's part column as applied_amount"
        in said
    )


# A Swiss export as Windows / Excel in de-CH write it today: thousands grouped with U+2019 (’), the
# typographic apostrophe (CLDR), where older ones wrote the ASCII apostrophe (1'234.50).
SWISS = (
    "Rechnungsnummer;Kundennummer;Belegdatum;Fällig;Betrag;Währung\n"
    "R1;K1;15.01.2024;14.02.2024;1\u2019234.50;CHF\n"
    "R2;K2;20.01.2024;19.02.2024;980.00;CHF\n"
    "R3;K1;01.02.2024;02.03.2024;12\u2019500.00;CHF\n"
    "R4;K2;03.02.2024;04.03.2024;1\u2019500.00;CHF\n"
)


def test_swiss_amounts_grouped_with_the_typographic_apostrophe_are_read(tmp_path: Path) -> None:
    """Before: the draft found no amount column ("# amount: ???  # CHECK: required, no column found"
    beside 'Betrag'), and ``thousands: "'"`` left 1’234.50 unparseable (each such invoice quarantined)."""
    from pipelines.sources.parse import parse_numbers

    draft, out = _suggest_and_ingest(tmp_path, "ch", SWISS)
    assert 'amount: "Betrag"' in draft and 'thousands: "\'"' in draft, draft
    inv = _table(out, "invoices")
    assert inv[["invoice_id", "amount"]].values.tolist() == [
        ["R1", 1234.50],
        ["R2", 980.00],
        ["R3", 12500.00],
        ["R4", 1500.00],
    ]
    values, bad = parse_numbers(pd.Series(["1\u2019234.50", "1'234.50", "-12\u2019500"]), ".", "'")
    assert values.tolist() == [1234.50, 1234.50, -12500.0] and not bad.any()


def test_a_promotion_reason_with_terminal_codes_is_refused(tmp_path: Path) -> None:
    """Before: `ews models promote 1 --reason $'rolled back\\a\\e]0;pwned\\a after review'` was recorded
    and `ews models history` printed it raw (the OSC sequence retitles the terminal, the bell rings),
    as override reasons did before session 33."""
    code, output = _ews_process(
        "models",
        "promote",
        "1",
        "--reason",
        "rolled back\x07\x1b]0;pwned\x07 after review",
        "--by",
        "A. Jansen",
        store=tmp_path / "mlflow.db",
        cwd=tmp_path,
    )
    assert code == 2, output
    assert "Traceback" not in output
    said = _flat(output)
    assert "error: --reason holds control characters ('\\x07', '\\x1b'; a terminal runs them" in said, said
