"""Session 33 (s33-attack): hostile inputs nobody had tried (BENCHMARKS.md, hostile section). Hand-made
files run through the real ``ews`` command line; every expected value is by hand."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_rejected_values_are_text_in_the_data_docs_not_markup(tmp_path: Path) -> None:
    """Data Docs show each rejected value in an "Unexpected Value" table. Two invoices share the id
    ``<img src=x onerror=alert(1)>`` (duplicate_id) and an event's kind is ``<script>alert(2)</script>``
    (not a kind): both are quarantined, and the pages must show them as text (``&lt;img ...``), never
    as an element a browser runs when an analyst opens ``data_docs/index.html``."""
    inv = _write(
        tmp_path / "invoices.csv",
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        f'"{IMG}",D1,2024-01-02,2024-02-01,100.00\n'
        f'"{IMG}",D1,2024-01-03,2024-02-02,200.00\n'
        "I3,D1,2024-01-04,2024-02-03,300.00\n"
        "I4,D2,2024-01-05,2024-02-04,400.00\n",
    )
    pay = _write(
        tmp_path / "payments.csv",
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I3,2024-02-10,300.00\n",
    )
    ev = _write(tmp_path / "events.csv", f"debtor_id,event_date,kind,amount\nD2,2024-03-01,{SCRIPT},\n")
    out = tmp_path / "out"
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--events", str(ev)]
    result = CliRunner().invoke(app, [*args, "--as-of", "2024-06-30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    quarantined = (out / "quarantine" / "invoices.csv").read_text(encoding="utf-8")
    assert quarantined.count("duplicate_id:invoice_id") == 2
    pages = {p: p.read_text(encoding="utf-8") for p in (out / "data_docs").rglob("*.html")}
    assert pages
    for page, text in pages.items():
        assert IMG not in text, page
        assert SCRIPT not in text, page
    shown = "".join(pages.values())
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in shown
