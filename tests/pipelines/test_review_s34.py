"""Session 34 review (s34-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.test_walk_s34 import _check, _project_with_debtors


def _ingest(tmp_path: Path, debtors: str) -> Path:
    """An `ews ingest` of a 2-debtor book whose debtors table is ``debtors`` (CSV text)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    raw = tmp_path / "raw2"
    raw.mkdir()
    (raw / "debtors.csv").write_text(debtors)
    (raw / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\nI1,D1,2025-01-01,2025-02-01,100.00\n"
        "I2,D2,2025-01-02,2025-02-02,50.00\n"
    )
    (raw / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2025-02-01,100.00\n"
    )
    out = tmp_path / "ingested2"
    args = ["ingest", "--invoices", str(raw / "invoices.csv"), "--payments", str(raw / "payments.csv")]
    args += ["--debtors", str(raw / "debtors.csv"), "--as-of", "2025-02-28", "--currency", "EUR", "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_teams_check_says_plainly_that_no_debtor_states_a_country(tmp_path, monkeypatch) -> None:
    """7660bab: a teams file split by country, checked against debtors that state a segment but no
    country, printed "no debtor ... has country 'DE' yet (country values there: )": an empty list, as if
    the debtors had been read and had other countries. Now the note says no debtor states a country, so
    the collector covers nobody by it (exit 0: a note, as for a country with no customer yet). A debtor
    without a segment adds no value to the list (mutation J2: 'None, retail')."""
    project = _project_with_debtors(tmp_path)
    folder = _ingest(tmp_path, "debtor_id,name,segment\nD1,A,retail\nD2,B,\n")
    teams = (
        "kind: teams\ncollectors:\n  - {name: Anna, countries: [DE], segments: [wholesale], capacity: 10}\n"
    )
    code, out = _check(project, teams, monkeypatch, "--data", str(folder))
    assert code == 0, out
    notes, ok = out.split(" ok conf/teams.yaml ")
    assert notes == (
        f"note conf/teams.yaml: Anna: no debtor in --data {folder} has segment 'wholesale' yet (segment values "
        f"there: retail) note conf/teams.yaml: Anna: country 'DE': no debtor in --data {folder} states a country, "
        "so Anna covers no debtor by it"
    )
    assert ok.endswith(f"(segments and countries checked against the debtors of --data {folder})")
