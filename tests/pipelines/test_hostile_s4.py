"""Hostile inputs found in session 4 (BENCHMARKS.md "Hostile inputs tried (session 4)"): each test
is one finding, written before its fix. Small books built in tmp_path; real `ews` commands."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from typer.testing import CliRunner, Result

from pipelines.cli import app

AS_OF = dt.date(2024, 6, 30)
INVOICE_HEADER = "invoice_id,debtor_id,issue_date,due_date,amount,currency,disputed\n"
PAYMENT_HEADER = "payment_id,debtor_id,invoice_id,paid_on,amount\n"


def _ledger(folder: Path, n: int = 12) -> dict[str, Path]:
    """Two debtors and ``n`` invoices, each paid in full 10 days after its due date."""
    folder.mkdir(parents=True, exist_ok=True)
    inv, pay = [INVOICE_HEADER], [PAYMENT_HEADER]
    for i in range(n):
        issue = dt.date(2024, 1, 1) + dt.timedelta(days=7 * i)
        due, paid = issue + dt.timedelta(days=30), issue + dt.timedelta(days=40)
        debtor = f"D{i % 2 + 1}"
        inv.append(f"I{i},{debtor},{issue},{due},{100 + i}.50,EUR,false\n")
        pay.append(f"P{i},{debtor},I{i},{paid},{100 + i}.50\n")
    files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
    files["debtors"].write_text("debtor_id,name\nD1,One\nD2,Two\n", encoding="utf-8")
    files["invoices"].write_text("".join(inv), encoding="utf-8")
    files["payments"].write_text("".join(pay), encoding="utf-8")
    return files


def _ingest(files: dict[str, Path], out: Path, *extra: str) -> Result:
    args = ["ingest", "--out", str(out), "--as-of", AS_OF.isoformat(), "--no-docs", *extra]
    for table, path in files.items():
        args += [f"--{table}", str(path)]
    return CliRunner().invoke(app, args)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_header_only_invoices_beside_payments_is_refused(tmp_path: Path) -> None:
    """Before: exit 0, invoices 0 rows, 89 % of the payments quarantined as unknown_invoice."""
    files = _ledger(tmp_path / "in")
    files["invoices"].write_text(INVOICE_HEADER, encoding="utf-8")
    result = _ingest(files, tmp_path / "out")
    assert result.exit_code == 2, result.output
    flat = _flat(result.output)
    assert "invoices: " in flat and "has a header but no rows" in flat and "payments has 12" in flat
    assert "Traceback" not in result.output and not (tmp_path / "out" / "manifest.json").exists()


def test_header_only_payments_beside_invoices_is_refused(tmp_path: Path) -> None:
    files = _ledger(tmp_path / "in")
    files["payments"].write_text(PAYMENT_HEADER, encoding="utf-8")
    result = _ingest(files, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "payments: " in _flat(result.output) and "has a header but no rows" in _flat(result.output)


def test_small_header_only_book_is_still_ingested(tmp_path: Path) -> None:
    """Below rules.refuse_empty_table_rows (10) rows on the other side, nothing is refused."""
    files = _ledger(tmp_path / "in", n=4)
    files["payments"].write_text(PAYMENT_HEADER, encoding="utf-8")
    result = _ingest(files, tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_train_on_a_too_small_book_logs_no_traceback(tmp_path: Path, prefect_harness, mlflow_uri) -> None:
    """Before: exit 2 with the right message, but Prefect's task and flow-run logs printed two
    tracebacks (models/split.py) above it."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    from tests.conftest import ROOT

    files = _ledger(tmp_path / "in", n=40)
    assert _ingest(files, tmp_path / "data").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "train", "--data", str(tmp_path / "data")],
        cwd=ROOT,
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "error: " in output and "Traceback" not in output, output
