"""Session 10 (s10-robust): hostile inputs found through the ``ews`` commands (BENCHMARKS.md
"Hostile inputs tried", "Session 10 (s10-robust)"). Each test was written before its fix and fails
without it. Tiny hand-made files in tmp_path; hand-computed expected values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source
from pipelines.sources.suggest import suggest_source

AS_OF = dt.date(2024, 12, 31)


def _ingest_draft(text: str):
    source = SourceConfig.model_validate(yaml.safe_load(text))
    return ingest_source(source, None, as_of=AS_OF)


def test_quickbooks_ar_aging_detail_drafts_and_ingests(tmp_path: Path) -> None:
    """Before: the draft took the title "A/R Aging Detail" as invoice_id and found no other column
    (skip_rows 0: the header's first cell is empty, so it was not seen as the header), and ingest
    refused the file: "header has empty column name(s) at position(s) [1]. Name every column."
    QuickBooks writes that nameless first column (its section labels) in every such export."""
    path = tmp_path / "AR Aging Detail.csv"
    path.write_text(
        "A/R Aging Detail\n"
        "Acme Ltd\n"
        '"As of December 31, 2024"\n'
        "\n"
        ",Date,Transaction Type,Num,Customer,Due Date,Amount,Open Balance\n"
        "Current\n"
        ',12/15/2024,Invoice,1001,"Smith, Jones & Co",01/14/2025,"1,250.00","1,250.00"\n'
        ",12/19/2024,Invoice,1002,O'Brien Ltd,01/18/2025,99.90,99.90\n"
        "1 - 30 days past due\n"
        ',11/22/2024,Invoice,1003,"Smith, Jones & Co",12/22/2024,"12,000.00","2,000.00"\n'
        'Total for Current,,,,,,"$13,349.90","$3,349.90"\n'
        "\n"
        '"Friday, January 03, 2025 10:15 AM GMT-08:00"\n',
        encoding="utf-8",
    )
    draft = suggest_source(path)
    assert draft.mapping == {
        "invoice_id": "Num",
        "debtor_id": "Customer",
        "due_date": "Due Date",
        "issue_date": "Date",
        "amount": "Amount",
    }
    assert "skip_rows: 4" in draft.text and "date_format: m/d/Y" in draft.text
    assert 'thousands: ","' in draft.text
    result = _ingest_draft(draft.text)
    inv = result.portfolio.invoices
    assert inv["invoice_id"].tolist() == ["1001", "1002", "1003"]
    assert inv["debtor_id"].tolist() == ["Smith, Jones & Co", "O'Brien Ltd", "Smith, Jones & Co"]
    assert inv["amount"].tolist() == [1250.0, 99.9, 12000.0]
    assert [str(d)[:10] for d in inv["issue_date"]] == ["2024-12-15", "2024-12-19", "2024-11-22"]
    entry = result.manifest["tables"]["invoices"]
    # the two section labels and the time stamp are malformed lines, the totals row lacks ids
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (7, 3, 4)
    assert "unnamed_1" in entry["ignored_columns"]


def test_xero_and_sage_exports_map_their_customer_and_dates(tmp_path: Path) -> None:
    """Before: Xero's "06 Jan 2023" dates were not seen as dates (issue_date, due_date: ???) and
    the debtor was its GL AccountCode (200 on every row) instead of *ContactName; Sage's customer
    account "A/C" was left out and the one-valued Type column ("SI") guessed as the debtor."""
    xero = tmp_path / "Invoices.csv"
    xero.write_text(
        "*ContactName,EmailAddress,*InvoiceNumber,*InvoiceDate,*DueDate,Total,InvoiceAmountPaid,"
        "Description,LineAmount,AccountCode,Currency,Status\n"
        '"Smith, Jones & Co",,INV-0001,06 Jan 2023,05 Feb 2023,932.17,932.17,line 1,500.00,200,GBP,PAID\n'
        '"Smith, Jones & Co",,INV-0001,06 Jan 2023,05 Feb 2023,932.17,932.17,line 2,432.17,200,GBP,PAID\n'
        "Müller GmbH,,INV-0002,09 Jan 2023,08 Feb 2023,56.71,0.00,line 1,56.71,200,GBP,AUTHORISED\n",
        encoding="utf-8",
    )
    draft = suggest_source(xero)
    assert draft.mapping["debtor_id"] == "*ContactName"
    assert (draft.mapping["issue_date"], draft.mapping["due_date"]) == ("*InvoiceDate", "*DueDate")
    assert 'date_format: "%d %b %Y"' in draft.text
    result = _ingest_draft(draft.text)
    inv = result.portfolio.invoices
    assert inv["invoice_id"].tolist() == ["INV-0001", "INV-0002"]  # the second line item: duplicate_row
    assert [str(d)[:10] for d in inv["due_date"]] == ["2023-02-05", "2023-02-08"]
    assert result.manifest["tables"]["invoices"]["reasons"] == {"duplicate_row": 1}

    sage = tmp_path / "activity.csv"
    sage.write_text(
        "No,Type,A/C,Name,Date,Ref,Details,Due,Amount,Paid,O/S\n"
        "1,SI,SMITH01,Smith Ltd,06/01/2023,1001,Goods,05/02/2023,932.17,932.17,0.00\n"
        "2,SI,SMITH01,Smith Ltd,09/01/2023,1002,Goods,08/02/2023,56.71,0.00,56.71\n"
        "3,SI,JONES02,Jones plc,10/01/2023,1003,Goods,09/02/2023,10.00,0.00,10.00\n",
        encoding="utf-8",
    )
    draft = suggest_source(sage)
    assert draft.mapping["debtor_id"] == "A/C" and draft.mapping["invoice_id"] == "Ref"


def test_debtor_ids_that_lost_their_leading_zeros_are_named(tmp_path: Path) -> None:
    """Before: a customer master saved through a spreadsheet (ids 7, 42 for 00007, 00042) gave
    "Likely cause: no debtor id matches the debtors table: check both debtor_id mappings" when every
    row was lost, and no word when some were: '42' beside '00042' became a second debtor, '123.0'
    (a spreadsheet's number) another. Ids stay text compared as written (the contract)."""
    import pytest

    from pipelines.ingest import ingest_files
    from pipelines.sources.read import TableError

    inv = tmp_path / "invoices.csv"
    inv.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,00042,2024-01-05,2024-02-04,100\n"
        "I2,42,2024-01-09,2024-02-08,250\n"
        "I3,00123,2024-01-10,2024-02-09,80\n"
        "I4,123.0,2024-01-11,2024-02-10,40\n"
        "I5,K1,2024-01-12,2024-02-11,41\n",
        encoding="utf-8",
    )
    result = ingest_files({"invoices": inv}, tmp_path / "out", as_of=dt.date(2024, 3, 31))
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 5
    (warning,) = result.manifest["warnings"]
    assert warning.startswith(
        "debtors: 2 debtor ids differing from another only by leading zeros ('00042' and '42'; "
        "'00123' and '123.0'): ids are compared as written (a spreadsheet read the ids as numbers"
    )
    # with a customer master written with the zeros: '42' and '123.0' are unknown_debtor, named
    (tmp_path / "debtors.csv").write_text("debtor_id,name\n00042,A\n00123,B\nK1,C\n", encoding="utf-8")
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "debtors")}
    result = ingest_files(files, tmp_path / "out2", as_of=dt.date(2024, 3, 31))
    entry = result.manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["reasons"]) == (5, 3, {"unknown_debtor": 2})
    (warning,) = result.manifest["warnings"]
    assert warning.startswith(
        "invoices: 2 rows quarantined unknown_debtor, naming a debtor of the customer master with other "
        "leading zeros ('42' for '00042', '123.0' for '00123'): ids are compared as written"
    )
    # every row lost: the refusal names the zeros instead of "check both debtor_id mappings"
    inv.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        + "".join(f"I{i},{d},2024-01-05,2024-02-04,10\n" for i, d in enumerate(["42", "123"] * 5)),
        encoding="utf-8",
    )
    with pytest.raises(TableError) as err:
        ingest_files(files, tmp_path / "out3", as_of=dt.date(2024, 3, 31))
    assert (
        "invoices: none of 10 rows accepted (" in str(err.value)
        and "reasons: unknown_debtor (10). Likely cause: 10 of these rows name a debtor of the debtors table "
        "with other leading zeros ('42' for '00042', '123' for '00123'): ids are compared as written"
        in str(err.value)
    )
    assert not (tmp_path / "out3" / "manifest.json").exists()


def test_report_figures_of_a_book_with_every_debtor_in_default() -> None:
    """Before: `ews score --accept-feed` of a book whose 300 debtors are all in default (an
    insolvency event each) ended in exit 1 with three Prefect tracebacks from the report:
    ValueError "Data cannot be log-scaled because all values are <= 0" (the PD trend of live
    debtors is NaN when there are none), and a matplotlib UserWarning for the empty histogram."""
    import warnings

    import numpy as np
    import pandas as pd

    from pipelines.report.plots import pd_distribution_svg, pd_trend_svg
    from pipelines.report.portfolio import pd_history

    scored = pd.DataFrame({"pd": [1.0, 1.0], "band": ["E", "E"], "in_default": [True, True]})
    trend = pd_history(None, "2024-12-31", scored, ["A", "E"], 12)
    assert np.isnan(trend.loc[0, "p50"]) and trend.loc[0, "share_E"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = pd_trend_svg(trend, ["A", "E"])
        assert "no live debtors in these runs" in svg
        assert pd_distribution_svg(np.array([]), [("A", 0.0), ("E", 0.2)]).startswith("<svg")


def test_excel_date_serials_are_named_and_read_with_date_format_excel(tmp_path: Path) -> None:
    """Before: a date column saved as General (45321 for 2024-01-30) lost every row as
    unparseable_date with "Likely cause: the dates do not match values.date_format", and no
    date_format could read it (s4-robust: "Excel serials have no date_format")."""
    import pytest

    from pipelines.ingest import ingest_files
    from pipelines.sources.read import TableError

    # 45292 = 2024-01-01, 45322 = 2024-01-31, 45351 = 2024-02-29 (hand-counted from 1899-12-30)
    rows = [("I1", "45292", "45322"), ("I2", "45322.75", "45351"), ("I3", "2024-02-01", "45351")]
    rows += [(f"J{i}", "45292", "45322") for i in range(8)]
    inv = tmp_path / "invoices.csv"
    inv.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        + "".join(f"{i},D1,{a},{b},10\n" for i, a, b in rows),
        encoding="utf-8",
    )
    with pytest.raises(TableError) as err:
        ingest_files({"invoices": inv}, None, as_of=AS_OF)
    said = str(err.value)
    assert "reasons: excel_serial_date:due_date (11), excel_serial_date:issue_date (10)" in said
    assert "Likely cause: the dates are Excel date serial numbers (45321 = 2024-01-30" in said
    assert "to excel in a source config" in said
    source = SourceConfig.model_validate(
        {
            "kind": "source",
            "name": "serials",
            "default_currency": "EUR",
            "values": {"date_format": "excel"},
            "tables": {"invoices": {"path": str(inv)}},
        }
    )
    result = ingest_source(source, None, as_of=AS_OF)
    inv_out = result.portfolio.invoices.set_index("invoice_id")
    assert [str(d)[:10] for d in inv_out.loc[["I1", "I2", "I3"], "issue_date"]] == [
        "2024-01-01",
        "2024-01-31",  # the time of day (.75) dropped
        "2024-02-01",  # a cell Excel kept as a date (ISO text) is read too
    ]
    assert [str(d)[:10] for d in inv_out.loc[["I1", "I2", "I3"], "due_date"]] == [
        "2024-01-31",
        "2024-02-29",
        "2024-02-29",
    ]
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 11


def test_an_override_into_a_folder_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    """Before: `ews watchlist override ... --out RUNS` on a read-only file system (the runs folder
    of a read-only project mount) ended in exit 1 with an OSError traceback from os.open. The
    same error path, reached here without root-only mounts: the log's place taken by a folder."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    import pandas as pd

    pd.DataFrame({"debtor_id": ["D1"], "pd": [0.08], "in_default": [False], "band": ["D"]}).to_parquet(
        runs / "2024-08-31" / "scores.parquet", index=False
    )
    (runs / "overrides.jsonl").mkdir()
    res = CliRunner().invoke(
        app,
        [
            "watchlist",
            "override",
            "D1",
            "--status",
            "escalated",
            "--reason",
            "x",
            "--by",
            "a",
            "--out",
            str(runs),
        ],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert f"--out {runs / 'overrides.jsonl'}: cannot write: Is a directory" in res.output
    assert "a folder is in the way of an output file; move it away" in res.output


def test_suggest_names_a_binary_file_instead_of_a_traceback(tmp_path: Path) -> None:
    """Before: `ews sources suggest` on an old Excel .xls (the UCI file's original format), on one
    named .csv, or on random bytes printed a Python traceback (`_csv.Error: new-line character
    seen in unquoted field`); ingest already named such files."""
    import openpyxl
    from typer.testing import CliRunner

    from pipelines.cli import app

    ole2 = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00\r\x01\n\x02" * 200
    (tmp_path / "credit.xls").write_bytes(ole2)
    (tmp_path / "credit_named.csv").write_bytes(ole2)
    rnd = __import__("random").Random(3)
    (tmp_path / "noise.csv").write_bytes(bytes(rnd.randrange(256) for _ in range(3000)))
    book = openpyxl.Workbook()
    book.active.append(["invoice_id", "amount"])
    book.save(tmp_path / "book_named.csv")
    expected = {
        "credit.xls": "is an old Excel (.xls) workbook, not CSV text: save the sheet as CSV UTF-8 in Excel",
        "credit_named.csv": "is an old Excel (.xls) workbook, not CSV text",
        "noise.csv": "not readable as CSV text (",
        "book_named.csv": "is an Excel (.xlsx) workbook, not CSV text: name it .xlsx, then `ews sources suggest`",
    }
    for name, text in expected.items():
        res = CliRunner().invoke(app, ["sources", "suggest", str(tmp_path / name)], env={"COLUMNS": "300"})
        assert res.exit_code == 2, (name, res.output)
        assert text in res.output and "Traceback" not in res.output, (name, res.output)


def test_a_sqlite_tracking_uri_with_two_slashes_is_a_config_error(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Before: `paths.mlflow_tracking_uri: sqlite://data/mlflow/mlflow.db` (two slashes, a typo of
    the default) passed `ews config check` and `ews score` ended in exit 1 with SQLAlchemy's
    traceback "ArgumentError: Invalid SQLite URL"; the same from MLFLOW_TRACKING_URI."""
    import pytest

    from pipelines.cli import main
    from pipelines.config import ConfigError, load_config
    from pipelines.config.project import ProjectConfig

    project = tmp_path / "ews.yaml"
    project.write_text("kind: project\npaths:\n  mlflow_tracking_uri: sqlite://data/mlflow/mlflow.db\n")
    with pytest.raises(ConfigError) as err:
        load_config(project, expect=ProjectConfig)
    assert "paths.mlflow_tracking_uri" in str(err.value)
    assert "'sqlite://data/mlflow/mlflow.db' is not a SQLite file URL: write sqlite:/// then" in str(
        err.value
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite://")  # in memory: the registry would vanish
    monkeypatch.setattr("sys.argv", ["ews", "models", "list"])
    with pytest.raises(SystemExit) as done:
        main()
    said = capsys.readouterr().err
    assert done.value.code == 2 and "Traceback" not in said
    assert said.startswith(
        "config error: MLFLOW_TRACKING_URI (environment): 'sqlite://' is not a SQLite file URL"
    )


def test_an_uncalculated_workbook_is_refused_instead_of_empty_amounts(tmp_path: Path) -> None:
    """Before: an .xlsx written by a program (openpyxl: formulas without values; xlsxwriter: 0 as a
    placeholder and "recalculate on load") was converted with empty / 0 amounts where the formulas
    stood, and the draft then mapped `amount` to the `net` column, silently (VAT left out)."""
    import openpyxl
    import xlsxwriter
    from typer.testing import CliRunner

    from pipelines.cli import app

    header = ["invoice_id", "debtor_id", "issue_date", "due_date", "net", "amount"]
    book = openpyxl.Workbook()
    book.active.append(header)
    book.active.append(["I1", "D1", "2024-01-15", "2024-02-14", 100, "=E2*1.19"])
    book.save(tmp_path / "openpyxl.xlsx")
    wb = xlsxwriter.Workbook(str(tmp_path / "xlsxwriter.xlsx"))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, header)
    ws.write_row(1, 0, ["I1", "D1", "2024-01-15", "2024-02-14", 100])
    ws.write_formula(1, 5, "=E2*1.19")  # cached value 0 until a spreadsheet calculates it
    wb.close()
    for name in ("openpyxl", "xlsxwriter"):
        res = CliRunner().invoke(
            app, ["sources", "suggest", str(tmp_path / f"{name}.xlsx")], env={"COLUMNS": "300"}
        )
        assert res.exit_code == 2, (name, res.output)
        sheet = "Sheet" if name == "openpyxl" else "Sheet1"
        assert f"sheet '{sheet}' has 1 formula cell without a calculated value (F2)" in res.output
        assert "Open it in Excel or LibreOffice, save it" in res.output and "Traceback" not in res.output
        assert not (tmp_path / f"{name}.csv").exists()
    book = openpyxl.Workbook()  # the same values typed in: converted as before
    book.active.append(header)
    book.active.append(["I1", "D1", "2024-01-15", "2024-02-14", 100, 119])
    book.save(tmp_path / "values.xlsx")
    res = CliRunner().invoke(
        app, ["sources", "suggest", str(tmp_path / "values.xlsx")], env={"COLUMNS": "300"}
    )
    assert res.exit_code == 0, res.output
    from pipelines.sources.suggest import excel_to_csv  # the converter `ews sources suggest` used

    excel_to_csv(tmp_path / "values.xlsx", tmp_path / "values.csv")
    assert (tmp_path / "values.csv").read_text().splitlines()[1] == "I1,D1,2024-01-15,2024-02-14,100,119"


def test_score_into_a_read_only_out_is_refused_before_the_flow(tmp_path: Path) -> None:
    """Before: `ews score --out RUNS` with RUNS on a read-only file system started Prefect's server
    and the flow, then said "cannot write: Read-only file system (...lock)" (46.8 s wall, 11.8
    CPU-s at load 3-7). Now the same one line comes from the checks before the flow, in under a
    second. A real read-only mount in a private mount namespace (root only; skipped otherwise)."""
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount")
    root = Path(__file__).resolve().parents[2]
    disk = tmp_path / "disk"
    (disk / "runs").mkdir(parents=True)
    cmd = [sys.executable, "-m", "pipelines.cli", "score", "--data", str(root / "tests/data/ingest/base")]
    cmd += ["--raw", "--as-of", "2024-06-30", "--out", str(disk / "runs")]
    script = f"mount --bind {disk} {disk} && mount -o remount,bind,ro {disk} && " + " ".join(cmd)
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount" in done.stderr and "permission denied" in done.stderr.lower():
        pytest.skip("no private mounts here")
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert (
        f"error: --out {disk / 'runs'}: cannot write: {disk / 'runs'} is on a read-only file system" in said
    )
    assert "Traceback" not in said and "prefect" not in said.lower()


def test_a_memory_limit_dask_cannot_read_is_a_config_error(tmp_path: Path) -> None:
    """Before: `compute.memory_limit: lots` passed `ews config check` and `ews score` (exit 0): it
    is read only by `--engine dask`, whose LocalCluster would then stop on it."""
    import pytest

    from pipelines.config import ConfigError, load_config
    from pipelines.config.project import ProjectConfig

    project = tmp_path / "ews.yaml"
    for value in ("4GiB", "500 MB", "auto", "0.5", "2e9"):
        project.write_text(f"kind: project\ncompute:\n  memory_limit: {value}\n")
        assert load_config(project, expect=ProjectConfig).compute.memory_limit == value
    project.write_text("kind: project\ncompute:\n  memory_limit: lots\n")
    with pytest.raises(ConfigError) as err:
        load_config(project, expect=ProjectConfig)
    assert "compute.memory_limit" in str(err.value)
    assert "'lots' is not a memory amount Dask reads: write e.g. 4GiB, 500MB, auto" in str(err.value)


def test_backtest_names_a_truth_file_it_cannot_use_before_the_replay(tmp_path: Path) -> None:
    """Before: `ews backtest --truth FILE` with a CSV (or any non-Parquet file) replayed every
    month-end, then ended in exit 1 with pyarrow's traceback "Parquet magic bytes not found"; a
    Parquet file without the truth columns likewise (KeyError-like ArrowInvalid)."""
    import pandas as pd
    from typer.testing import CliRunner

    from pipelines.cli import app

    root = Path(__file__).resolve().parents[2]
    csv_truth = tmp_path / "truth.csv"
    csv_truth.write_text("debtor_id,month_end,oracle_pd\nD1,2024-05-31,0.1\n")
    other = tmp_path / "other.parquet"
    pd.DataFrame({"debtor_id": ["D1"], "pd": [0.1]}).to_parquet(other)
    data = root / "tests/data/ingest/base"
    for truth, text in [
        (csv_truth, f"--truth {csv_truth} is not a readable Parquet file (Parquet magic bytes not found"),
        (other, f"--truth {other} lacks 2 columns month_end, oracle_pd (it has debtor_id, pd)"),
    ]:
        args = ["backtest", "--data", str(data), "--from", "2024-04-30", "--to", "2024-05-31"]
        res = CliRunner().invoke(
            app, [*args, "--out", str(tmp_path / "bt"), "--truth", str(truth)], env={"COLUMNS": "300"}
        )
        assert res.exit_code == 2, res.output
        assert text in res.output and "Traceback" not in res.output
        assert not (tmp_path / "bt").exists()


def test_features_at_a_date_outside_the_data_are_named(tmp_path: Path) -> None:
    """Before: `ews features --as-of 1900-01-31` on a book of 2024 said "no bucket holds invoices,
    payments or statements: nothing to build features from" (it holds them), and a date years
    after the data was built without a word (s4-robust, "not fixed")."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_features_cli import _data_dir

    data = _data_dir(tmp_path)  # invoices 2024-01-01 / 02-01, payments 02-20 / 03-10
    out = str(tmp_path / "f.parquet")
    runner = CliRunner()
    res = runner.invoke(app, ["features", "--data", str(data), "--as-of", "1900-01-31", "--out", out])
    assert res.exit_code == 2, res.output
    assert (
        "--as-of 1900-01-31 is before the first dated row of --data" in res.output
        and "(data from 2024-01-01 to 2024-03-10): there is nothing to build features from" in res.output
    )
    res = runner.invoke(
        app, ["features", "--data", str(data), "--as-of", "2024-04-14,2024-06-30", "--out", out]
    )
    assert res.exit_code == 0, res.output  # 04-14 is 35 days after 03-10: no warning; 06-30 is 112
    assert "warning: --as-of 2024-06-30 is 112 days after the latest invoice, payment or event" in res.output
    assert "2024-04-14" not in res.output.split("warning:")[1]


def test_the_local_engine_does_not_import_prefect() -> None:
    """Before: `pipelines.cluster` imported Prefect at module level, so `ews features` (local
    engine, no flow) paid Prefect's import (1.73 -> 0.72 CPU-s for a 300-debtor book) and Prefect
    replaced the root logger's handlers with a console handler bound to the stderr of that moment:
    in one test process, test_features_cli before test_sources_suggest gave 5 failures ("Logging
    error ... I/O operation on closed file" from a later ingest's GX log line)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = (
        "import logging, sys; import pipelines.cluster, pipelines.commands.features; "
        "from pipelines.cluster import EngineSettings, open_engine; "
        "print('prefect' in sys.modules, [type(h).__name__ for h in logging.getLogger().handlers])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False []"


def test_ingest_as_of_a_future_date_is_refused(tmp_path: Path) -> None:
    """Before: `ews ingest --as-of 2030-01-01` accepted rows dated up to 2030: one invoice typed
    2029-06-01 in a book ending 2024-12-31 became the data's "latest row", and `ews score --as-of
    2026-06-30` then passed the data-lag check (546 days stale) without a word."""
    import datetime as dt_

    from typer.testing import CliRunner

    from pipelines.cli import app

    inv = tmp_path / "invoices.csv"
    inv.write_text("invoice_id,debtor_id,issue_date,due_date,amount\nI1,D1,2029-06-01,2029-07-01,10\n")
    future = (dt_.datetime.now(dt_.UTC).date() + dt_.timedelta(days=2)).isoformat()
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["ingest", "--invoices", str(inv), "--as-of", future, "--out", str(out)], env={"COLUMNS": "300"}
    )
    assert res.exit_code == 2, res.output
    assert f"--as-of {future} is in the future: today is" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_a_line_item_export_is_named_with_its_cost_at_scoring(tmp_path: Path) -> None:
    """Before: a Xero invoice export (one row per invoice line, the invoice's columns repeated) gave
    2,251 of 5,251 rows duplicate_row without a word; the nightly then refuses every feed whose
    quarantine share is above max_quarantine_share (20 %). Now ingest says so (>= 10 copies, > 5 %)."""
    from pipelines.ingest import ingest_files

    lines = ["invoice_id,debtor_id,issue_date,due_date,amount"]
    for i in range(12):  # 12 invoices of 2 lines each: 12 copies of 24 rows (50 %)
        lines += [f"I{i},D1,2024-01-05,2024-02-04,{10 + i}"] * 2
    inv = tmp_path / "invoices.csv"
    inv.write_text("\n".join(lines) + "\n")
    result = ingest_files({"invoices": inv}, None, as_of=AS_OF)
    entry = result.manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["reasons"]) == (24, 12, {"duplicate_row": 12})
    (warning,) = [w for w in result.manifest["warnings"] if "duplicate_row" in w]
    assert warning.startswith("invoices: 12 of 24 rows (50%) are copies of another row in the mapped columns")
    assert "do not count in the feed checks' quarantine share" in warning
    assert entry["rows_quarantined"] == 12  # rows in = accepted + quarantined: the copies stay in quarantine
    inv.write_text("\n".join(lines[:20] + [f"J{i},D1,2024-01-05,2024-02-04,5" for i in range(200)]) + "\n")
    result = ingest_files({"invoices": inv}, None, as_of=AS_OF)  # 9 copies: not named
    assert result.manifest["tables"]["invoices"]["reasons"] == {"duplicate_row": 9}
    assert not [w for w in result.manifest["warnings"] if "duplicate_row" in w]
