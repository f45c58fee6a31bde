"""Hostile inputs found in session 6 (BENCHMARKS.md "Hostile inputs tried", "Session 6 (s6-robust)"):
each test is one finding, written before its fix. Tiny files in tmp_path; hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source

AS_OF = dt.date(2024, 6, 30)


def _excel_csv(path: Path, lines: list[str]) -> Path:
    """What Excel (German locale) writes for "CSV (Trennzeichen-getrennt)": BOM, `;`, CRLF."""
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


def test_excel_saved_csv_with_padding_columns_rows_and_a_totals_row(tmp_path: Path) -> None:
    """Before: exit 2 "header has empty column name(s) at position(s) [6, 7]. Name every column."
    for a file Excel saved with two formatted empty columns; rows of `;` only were quarantined."""
    inv = _excel_csv(
        tmp_path / "Rechnungen.csv",
        [
            "Belegnr;Kundennr;Belegdatum;Fällig;Betrag;Währung;;",
            "00042;0007;15/01/2024;14/02/2024;1.234,50;EUR;;",
            "00043;0007;01/02/2024;02/03/2024;99,90;EUR;;",
            "00044;0100;13/02/2024;14/03/2024;12.000,00;EUR;;",
            "Summe;;;;13.334,40;;;",
            ";;;;;;;",
            ";;;;;;;",
        ],
    )
    pay = _excel_csv(
        tmp_path / "Zahlungen.csv",
        ["Zahlungsnr;Kundennr;Belegnr;Valuta;Zahlbetrag;", "0001;0007;00042;20/02/2024;1.000,00;", ";;;;;"],
    )
    source = SourceConfig.model_validate(
        {
            "kind": "source",
            "name": "excel",
            "default_currency": "EUR",
            "csv": {"delimiter": ";"},
            "values": {"date_format": "d/m/Y", "decimal": ",", "thousands": "."},
            "tables": {
                "invoices": {
                    "path": str(inv),
                    "columns": {
                        "invoice_id": "Belegnr",
                        "debtor_id": "Kundennr",
                        "issue_date": "Belegdatum",
                        "due_date": "Fällig",
                        "amount": "Betrag",
                        "currency": "Währung",
                    },
                },
                "payments": {
                    "path": str(pay),
                    "columns": {
                        "payment_id": "Zahlungsnr",
                        "debtor_id": "Kundennr",
                        "invoice_id": "Belegnr",
                        "paid_on": "Valuta",
                        "amount": "Zahlbetrag",
                    },
                },
            },
        }
    )
    result = ingest_source(source, None, as_of=AS_OF)
    inv_out = result.portfolio.invoices
    assert inv_out["invoice_id"].tolist() == ["00042", "00043", "00044"]  # leading zeros kept
    assert inv_out["debtor_id"].tolist() == ["0007", "0007", "0100"]
    assert inv_out["amount"].tolist() == [1234.5, 99.9, 12000.0]
    assert [str(d)[:10] for d in inv_out["due_date"]] == ["2024-02-14", "2024-03-02", "2024-03-14"]
    assert result.portfolio.payments["amount"].tolist() == [1000.0]
    q = result.quarantine["invoices"]
    assert q["invoice_id"].tolist() == ["Summe"]  # the totals row, named by its reasons
    assert q["reason"].iloc[0] == "totals_row"  # s16-robust: was missing_value:debtor_id ...
    tables = result.manifest["tables"]
    assert (tables["invoices"]["rows_in"], tables["invoices"]["rows_accepted"]) == (4, 3)
    assert tables["invoices"]["repairs"] == {"trailing_delimiter": 4, "empty_record": 2}
    assert (tables["payments"]["rows_in"], tables["payments"]["rows_quarantined"]) == (1, 0)
    assert tables["payments"]["repairs"] == {"trailing_delimiter": 1, "empty_record": 1}
    for t in tables.values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]


def test_value_under_a_nameless_column_stays_a_malformed_row(tmp_path: Path) -> None:
    """The padding repair only drops empty fields: a value under a nameless column is not lost."""
    inv = _excel_csv(
        tmp_path / "inv.csv",
        [
            "invoice_id;debtor_id;issue_date;due_date;amount;;",
            "I1;D1;2024-01-15;2024-02-14;10;;",
            "I2;D1;2024-01-16;2024-02-15;20;;note",
        ],
    )
    source = SourceConfig.model_validate(
        {
            "kind": "source",
            "name": "x",
            "default_currency": "EUR",
            "csv": {"delimiter": ";"},
            "tables": {"invoices": {"path": str(inv)}},
        }
    )
    result = ingest_source(source, None, as_of=AS_OF)
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1"]
    q = result.quarantine["invoices"]
    assert q[["reason", "detail"]].values.tolist() == [
        ["malformed_row", "line 3: 7 fields, the header has 5"]
    ]


def test_suggest_maps_a_paid_amount_column_of_a_payments_file(tmp_path: Path) -> None:
    """Before: `Zahlbetrag` was taken as an AR export's settled amount and dropped, so the draft had
    `# amount: ???` and `decimal: "."` for `1.000,00`."""
    pay = _excel_csv(
        tmp_path / "Zahlungen.csv",
        [
            "Zahlungsnr;Kundennr;Belegnr;Valuta;Zahlbetrag",
            "0001;0007;00042;20/02/2024;1.000,00",
            "0002;0007;00043;21/02/2024;99,90",
            "0003;0100;;22/02/2024;12.000,00",
        ],
    )
    draft = tmp_path / "draft.yaml"
    made = CliRunner().invoke(app, ["sources", "suggest", str(pay), "--out", str(draft)])
    assert made.exit_code == 0, made.output
    cfg = SourceConfig.model_validate(__import__("yaml").safe_load(draft.read_text()))
    assert cfg.tables["payments"].columns["amount"] == "Zahlbetrag"
    assert (cfg.values.decimal, cfg.values.thousands, cfg.values.date_format) == (",", ".", "d/m/Y")


def _tiny_book(folder: Path) -> dict[str, Path]:
    """Two debtors, 6 invoices paid 10 days late (canonical CSV)."""
    folder.mkdir(parents=True, exist_ok=True)
    inv = ["invoice_id,debtor_id,issue_date,due_date,amount\n"]
    pay = ["payment_id,debtor_id,invoice_id,paid_on,amount\n"]
    for i in range(6):
        issue = dt.date(2024, 1, 1) + dt.timedelta(days=9 * i)
        inv.append(f"I{i},D{i % 2},{issue},{issue + dt.timedelta(days=30)},{100 + i}\n")
        pay.append(f"P{i},D{i % 2},I{i},{issue + dt.timedelta(days=40)},{100 + i}\n")
    files = {"invoices": folder / "invoices.csv", "payments": folder / "payments.csv"}
    files["invoices"].write_text("".join(inv))
    files["payments"].write_text("".join(pay))
    return files


def test_sigterm_of_a_streamed_ingest_leaves_no_working_files(tmp_path: Path, monkeypatch) -> None:
    """Before: SIGTERM (kill, systemd/docker stop) ended `ews ingest` without its cleanup: the
    streamed run's `.spill-<id>` working files (GBs at 1M debtors) stayed in --out for ever, as did
    those a kill -9 left: the next ingest removed `.staging-*` but not `.spill-*`. Now: exit 143,
    one line, the previous outputs unchanged, and the next ingest removes a kill -9's spill."""
    import os
    import signal

    import pipelines.ingest as ingest_pkg
    from pipelines.ingest.stream import StreamRun

    files = _tiny_book(tmp_path / "in")
    out = tmp_path / "out"
    args = ["ingest", "--out", str(out), "--as-of", AS_OF.isoformat(), "--no-docs", "--currency", "EUR"]
    args += ["--invoices", str(files["invoices"]), "--payments", str(files["payments"])]
    monkeypatch.setattr(ingest_pkg, "STREAM_ROWS", 0)  # this tiny book takes the streamed path
    assert CliRunner().invoke(app, args).exit_code == 0

    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    before = snapshot()
    left_by_kill_9 = out / ".spill-0123456789abcdef0123456789abcdef"
    left_by_kill_9.mkdir()
    (left_by_kill_9 / "typed-invoices-0.pkl").write_bytes(b"x" * 100)
    original = StreamRun.shared_ids  # between routing and validation, the spill written

    def terminated(self):
        assert any(p.name.startswith(".spill-") and p != left_by_kill_9 for p in out.iterdir())
        os.kill(os.getpid(), signal.SIGTERM)
        return original(self)

    monkeypatch.setattr(StreamRun, "shared_ids", terminated)

    def not_handled(signum, frame):  # what the test sees if ews leaves SIGTERM to Python's default
        raise RuntimeError("SIGTERM not handled by ews ingest")

    previous = signal.signal(signal.SIGTERM, not_handled)
    try:
        result = CliRunner().invoke(app, args)
        assert signal.getsignal(signal.SIGTERM) is not_handled  # restored after the command
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 143, (result.output, result.exception)
    assert "stopped: ews ingest got SIGTERM; nothing was published" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert snapshot() == before  # the kill -9 spill went with the recovery at the start of the run
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".ingest.lock"]


def test_credit_notes_among_invoices_are_quarantined_with_a_warning_saying_how_to_load_them(
    tmp_path: Path,
) -> None:
    """Before: a credit note (negative invoice) was quarantined as amount_not_positive without a
    word in the summary: the invoice it reduces then counts in full, unknown to the user."""
    from pipelines.ingest import ingest_files

    files = _tiny_book(tmp_path / "in")
    with files["invoices"].open("a") as fh:
        fh.write("CN1,D0,2024-02-10,2024-02-10,-40\nCN2,D1,2024-02-11,2024-02-11,0\n")
    manifest = ingest_files(files, None, as_of=AS_OF, default_currency="EUR").manifest
    invoices = manifest["tables"]["invoices"]
    assert (invoices["rows_in"], invoices["rows_accepted"], invoices["reasons"]) == (
        8,
        6,
        {"amount_not_positive": 2},
    )
    (warning,) = [w for w in manifest["warnings"] if "amount_not_positive" in w]
    assert warning.startswith("invoices: 2 rows with an amount <= 0 quarantined (amount_not_positive)")
    assert "Export credit notes as payments of the invoice they correct" in warning


def test_an_as_of_weeks_after_the_data_is_scored_with_a_warning() -> None:
    """Before: an 800-debtor book scored 31 days after its latest row (inside max_data_lag_days 35)
    passed without a word while its watchlist went from 17 to 239 debtors (every invoice due in the
    missing month looked unpaid). Now a warning from 8 days of lag; the refusal above 35 is unchanged."""
    import pytest

    from pipelines.scoring.data_window import StaleDataError, check_as_of

    window = (dt.date(2023, 1, 2), dt.date(2024, 12, 31))
    data = Path("data/ingested")
    assert check_as_of(dt.date(2024, 12, 31), window, 35, data) is None
    assert check_as_of(dt.date(2025, 1, 7), window, 35, data) is None  # 7 days: a weekly export
    warning = check_as_of(dt.date(2025, 1, 31), window, 35, data)
    assert warning is not None and warning.startswith(
        "--as-of 2025-01-31 is 31 days after the latest invoice, payment or event in --data data/ingested "
        "(2024-12-31): invoices due since then look unpaid"
    )
    assert "8 days after" in str(check_as_of(dt.date(2025, 1, 8), window, 35, data))
    with pytest.raises(StaleDataError, match="36 days after"):
        check_as_of(dt.date(2025, 2, 5), window, 35, data)


def test_a_backfill_into_stale_dates_warns_once(tmp_path: Path, monkeypatch, capsys) -> None:
    """The warning above, for a backfill of 28 daily dates 8-35 days after the data: one line with
    the count (it was 28 lines); a run refused further on prints the refusal only."""
    import pytest
    import typer

    import pipelines.scoring.data_window as window_mod
    from pipelines.commands.score import _check_as_of

    conf = Path(__file__).resolve().parents[2] / "conf" / "nightly.yaml"
    monkeypatch.setattr(window_mod, "data_window", lambda _data: (dt.date(2023, 1, 2), dt.date(2024, 12, 31)))
    days = [dt.date(2024, 12, 31) + dt.timedelta(days=k) for k in range(36)]  # lag 0..35
    _check_as_of(tmp_path, False, days, conf, accept_feed=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: --as-of 2025-01-08 is 8 days after")
    assert lines[0].endswith("(and 27 later dates of this run)")
    with pytest.raises(typer.Exit):
        _check_as_of(tmp_path, False, [*days, dt.date(2025, 2, 5)], conf, accept_feed=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --as-of 2025-02-05 is 36 days after")


def test_suggest_reads_two_digit_years(tmp_path: Path) -> None:
    """Before: dates in Excel's short format (`15/01/24`) were not seen as dates, so the draft had
    `date_format: iso` and `# issue_date: ???` / `# due_date: ???` for columns named Belegdatum / Fällig."""
    import yaml

    def draft(lines: list[str]) -> tuple[SourceConfig, str]:
        path = _excel_csv(tmp_path / "inv.csv", lines)
        out = tmp_path / "draft.yaml"
        made = CliRunner().invoke(app, ["sources", "suggest", str(path), "--out", str(out), "--force"])
        assert made.exit_code == 0, made.output
        return SourceConfig.model_validate(yaml.safe_load(out.read_text())), out.read_text()

    header = "Belegnr;Kundennr;Belegdatum;Fällig;Betrag"
    cfg, _ = draft([header, "0001;07;15/01/24;14/02/24;1.234,50", "0002;08;13/02/24;14/03/24;99,90"])
    assert cfg.values.date_format == "%d/%m/%y"
    assert {"issue_date": "Belegdatum", "due_date": "Fällig"}.items() <= cfg.tables[
        "invoices"
    ].columns.items()
    cfg, _ = draft([header, "0001;07;01/15/24;02/14/24;1.234,50", "0002;08;02/13/24;03/14/24;99,90"])
    assert cfg.values.date_format == "%m/%d/%y"
    _, text = draft([header, "0001;07;01/02/24;03/04/24;1.234,50", "0002;08;05/06/24;07/08/24;99,90"])
    assert "CHECK: day and month order is ambiguous" in text


def test_suggest_reads_apostrophe_and_space_thousands(tmp_path: Path) -> None:
    """Before: `1'234.50` (Swiss) and `1 234,50` (French) were not numbers to the draft, so an
    amount column named Betrag / Amount was left `# amount: ???` with `decimal: "."`."""
    import yaml

    for amounts, expected in (
        (["1'234.50", "99.90", "12'000.00"], (".", "'")),
        (["1 234,50", "99,90"], (",", " ")),
        (["1\u202f234,50", "99,90", "12\u00a0000,00"], (",", " ")),  # French Excel's non-breaking spaces
    ):
        rows = [f"000{k};07;15.01.2024;14.02.2024;{a}" for k, a in enumerate(amounts)]
        path = _excel_csv(tmp_path / "inv.csv", ["Rechnung;Kunde;Datum;Faellig;Betrag", *rows])
        out = tmp_path / "draft.yaml"
        made = CliRunner().invoke(app, ["sources", "suggest", str(path), "--out", str(out), "--force"])
        assert made.exit_code == 0, made.output
        cfg = SourceConfig.model_validate(yaml.safe_load(out.read_text()))
        assert (cfg.values.decimal, cfg.values.thousands) == expected
        assert cfg.tables["invoices"].columns["amount"] == "Betrag"
