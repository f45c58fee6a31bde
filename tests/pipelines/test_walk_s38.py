"""Session 38 walk (s38-walk): the leftovers of s37-walk and what a small book's users tripped on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, uri: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "EWS_PROJECT": str(ROOT),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def test_promoting_a_version_whose_gate_failed_says_which_check_failed(tmp_path: Path) -> None:
    """Walk (s37-walk D6): `ews models promote 2 --reason ...` of a version the gate kept out said "ews-pd v2
    is champion (previous: 1); reason recorded", no word of the failure. Now the one line names the failed
    check (without its figures) and still promotes: a manual override. A real MLflow registry (SQLite),
    the gate's tags as `record_gate` writes them; a version whose gate passed says nothing more."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (tmp_path / "model").mkdir()
    client.create_registered_model("ews-pd")
    for _ in range(3):
        client.create_model_version("ews-pd", (tmp_path / "model").as_uri())
    client.set_registered_model_alias("ews-pd", "champion", "1")
    reasons = (
        "ok challenger is the LightGBM model; ok AUC 0.8681 >= the floor 0.7000 (gate.min_auc); "
        "FAIL worse than champion v1: higher log-loss with the whole interval above 0 (log-loss +0.0165 "
        "[+0.0105, +0.0218], AUC -0.0010 [-0.0100, +0.0080] vs champion v1, on the test month-ends after v1's "
        "training (2 month-ends, 2025-08-31..2025-09-30: 2,950 rows, 41 defaults))"
    )
    client.set_model_version_tag("ews-pd", "2", "ews.gate", "failed")
    client.set_model_version_tag("ews-pd", "2", "ews.gate.reasons", reasons)
    client.set_model_version_tag("ews-pd", "3", "ews.gate", "passed")
    client.set_model_version_tag("ews-pd", "3", "ews.gate.reasons", "ok challenger is the LightGBM model")

    said = _cli(tmp_path, uri, "models", "promote", "2", "--reason", "the analysts trust v2")
    assert said == (
        "ews-pd v2 is champion (previous: 1), over its failed gate (worse than champion v1: higher log-loss "
        "with the whole interval above 0); reason recorded"
    )
    assert str(client.get_model_version_by_alias("ews-pd", "champion").version) == "2"
    said = _cli(tmp_path, uri, "models", "promote", "3", "--reason", "back to the gate's choice")
    assert said == "ews-pd v3 is champion (previous: 2); reason recorded"


def _open_items(path: Path, invoices: int, notes_sheet: bool) -> None:
    """A workbook as an ERP exports it: a 'Read me' sheet (when ``notes_sheet``), then 'Open items' with
    ``invoices`` rows, every second one paid 25 days after its issue."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    if notes_sheet:
        ws.title = "Read me"
        ws.append(["Exported from the ERP; amounts in EUR"])
        ws = book.create_sheet("Open items")
    else:
        ws.title = "Open items"
    ws.append(["Invoice No", "Customer", "Invoice Date", "Due Date", "Amount", "Paid Date"])
    for i in range(invoices):
        issue = dt.datetime(2024, 1, 5) + dt.timedelta(days=15 * i)
        paid = issue + dt.timedelta(days=25) if i % 2 == 0 else None
        ws.append([f"INV-{i}", f"C{i % 3}", issue, issue + dt.timedelta(days=30), 100.5 * (i + 1), paid])
    book.save(path)


def test_a_workbooks_draft_names_the_workbook_and_its_sheet_and_next_months_export_ingests_as_saved(
    tmp_path: Path,
) -> None:
    """Leftover of s37-walk: `ews sources suggest FILE.xlsx` wrote FILE.csv beside the workbook and drafted a
    config naming FILE.csv, so each month's workbook had to be converted again although `ews ingest` reads
    workbooks. Now the draft names the workbook, and its sheet (`sheet:`, new in source configs) when the
    workbook has several sheets with data (ingest refuses to guess between them); no CSV is written beside
    it; `ews config check` reads the workbook's headers (it refused the .xlsx as "not CSV text"). The next
    month's workbook, saved under the same name, is ingested with the same config. By hand: 6 invoices,
    3 of them paid (INV-0, 2, 4), then 8 invoices, 4 paid (INV-0, 2, 4, 6)."""
    import json

    import yaml
    from typer.testing import CliRunner

    from pipelines.cli import app

    book = tmp_path / "open items.xlsx"
    _open_items(book, 6, notes_sheet=True)
    draft = tmp_path / "draft.yaml"
    runner = CliRunner()
    made = runner.invoke(app, ["sources", "suggest", str(book), "--sheet", "Open items", "--out", str(draft)])
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.yaml", "open items.xlsx"]  # no CSV beside
    spec = yaml.safe_load(draft.read_text())["ar_export"]
    assert (spec["path"], spec["sheet"]) == (str(book), "Open items")
    assert 'description: "drafted from open items.xlsx"' in draft.read_text()
    checked = runner.invoke(app, ["config", "check", str(draft)])
    assert checked.exit_code == 0 and "(headers checked)" in checked.output, checked.output

    def ingest(out: str) -> dict:
        ran = runner.invoke(app, ["ingest", "--source", str(draft), "--out", str(tmp_path / out), "--no-docs",
                                  "--as-of", "2024-06-30"])  # fmt: skip
        assert ran.exit_code == 0, ran.output
        manifest = json.loads((tmp_path / out / "manifest.json").read_text())
        return {t: (v["rows_accepted"], v["rows_quarantined"]) for t, v in manifest["tables"].items()}

    assert ingest("june") == {"invoices": (6, 0), "payments": (3, 0)}
    _open_items(book, 8, notes_sheet=True)  # next month's export, saved over the last one
    assert ingest("july") == {"invoices": (8, 0), "payments": (4, 0)}

    # one sheet: ingest takes it by itself, and the draft pins no sheet name (an ERP may date it)
    single = tmp_path / "single.xlsx"
    _open_items(single, 6, notes_sheet=False)
    made = runner.invoke(app, ["sources", "suggest", str(single)])
    assert made.exit_code == 0, made.output
    spec = yaml.safe_load(made.stdout)["ar_export"]
    assert spec["path"] == str(single) and "sheet" not in spec


def test_a_sheet_beside_a_csv_path_is_refused_with_the_fix(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from pipelines.config.source import FileSource

    with pytest.raises(
        ValidationError, match=r"sheet: 'Open items' applies to an Excel workbook .*remove the sheet"
    ):
        FileSource(path=tmp_path / "inv.csv", sheet="Open items")
    assert FileSource(path=tmp_path / "inv.XLSX", sheet="Open items").sheet == "Open items"
