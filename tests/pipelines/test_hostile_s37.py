"""Session 37 (s37-attack): misuse and hostile inputs a production credit team meets, through the real
``ews`` command line and the real MLflow store (BENCHMARKS.md, hostile section, "Session 37
(s37-attack)"). Every expected value is by hand."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.adapters import registry
from pipelines.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ingest" / "base"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _said(result) -> str:
    """A command's whole output (stdout and stderr), with no traceback in it."""
    assert "Traceback" not in result.output, result.output[-3000:]
    return _flat(result.output)


def _register(uri: str, versions: int = 1) -> MlflowClient:
    """``ews-pd`` with ``versions`` versions (no files behind them), the last one champion and challenger."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("ews-pd")
    for _ in range(versions):
        client.create_model_version("ews-pd", source=str(ROOT / "no-such-model-folder"))
    client.set_registered_model_alias("ews-pd", "champion", str(versions))
    client.set_registered_model_alias("ews-pd", "challenger", str(versions))
    return client


def _db(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///"))


def test_an_alias_naming_a_version_whose_record_is_gone_says_so(mlflow_uri: str) -> None:
    """The champion's version row removed from the store (by hand, or a partly restored copy) under its
    aliases. Before: "model 'ews-pd' has no alias 'champion'" (the alias is there) and `ews models list`
    "no versions of 'ews-pd' yet" (there was one)."""
    _register(mlflow_uri, versions=2)
    with sqlite3.connect(_db(mlflow_uri)) as con:
        con.execute("DELETE FROM model_versions WHERE name = 'ews-pd' AND version = 2")
    with pytest.raises(registry.NoChampionError) as err:
        registry.load_model_version("champion")
    said = str(err.value)
    assert said.startswith(
        f"model 'ews-pd' in {mlflow_uri}: aliases 'challenger' and 'champion' name version 2, which is no "
        "longer in the registry (its record was removed from the store): restore the store from a backup, or "
        "run `ews train --data DIR`"
    ), said
    assert "has no alias" not in said
    # version 1 is still there: the list shows it, and the message for it is as before
    listed = _said(runner.invoke(app, ["models", "list"], env={"COLUMNS": "400"}))
    assert "│ 1 " in listed and "no versions" not in listed, listed
    with sqlite3.connect(_db(mlflow_uri)) as con:
        con.execute("DELETE FROM model_versions WHERE name = 'ews-pd' AND version = 1")
    listed = _said(runner.invoke(app, ["models", "list"], env={"COLUMNS": "400"}))
    assert listed.startswith(
        f"no versions of 'ews-pd' left in {mlflow_uri}: aliases 'challenger' and 'champion' name version 2, "
        "which is no longer in the registry"
    ), listed
    assert "restore the store from a backup" in listed


def test_a_version_deleted_through_mlflow_is_named(mlflow_uri: str) -> None:
    """MLflow's UI or API deletes a version with its aliases. Before: "has no alias 'champion'" and
    "no versions of 'ews-pd' yet" / "no history for 'ews-pd' yet", as if nothing had ever been trained."""
    client = _register(mlflow_uri)
    client.delete_model_version("ews-pd", "1")
    with pytest.raises(registry.NoChampionError) as err:
        registry.load_model_version("champion")
    assert str(err.value).startswith(
        f"model 'ews-pd' has no alias 'champion' in {mlflow_uri} (version 1 of 'ews-pd' was deleted (with its "
        "aliases)): run `ews train --data DIR`"
    ), str(err.value)
    listed = _said(runner.invoke(app, ["models", "list"], env={"COLUMNS": "400"}))
    assert listed == (
        f"no versions of 'ews-pd' left in {mlflow_uri}: version 1 of 'ews-pd' was deleted (with its aliases): "
        "run `ews train --data DIR`, or restore the store from a backup"
    ), listed
    history = _said(runner.invoke(app, ["models", "history"], env={"COLUMNS": "400"}))
    assert history == "no history for 'ews-pd' left: version 1 of 'ews-pd' was deleted (with its aliases)"


def _damage_table(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage; the schema page (sqlite_master) stays sound."""
    with sqlite3.connect(db) as con:
        page = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(b"\x0d" + b"\xff" * 7 + b"\xa5" * (size - 8))


def test_damage_deep_in_the_store_is_one_line_naming_the_file(mlflow_uri: str, tmp_path: Path) -> None:
    """A damaged table page behind a sound schema page. Before: `ews models list` said "no versions of
    'ews-pd' yet" and `ews score` "no model 'ews-pd' is registered there yet: run `ews train`" (exit 0
    and 2: a registered champion taken for an empty registry, and a fix that writes into the damaged
    file). Now exit 2, one line naming the file, that it is damaged and how to recover; `ews score`
    stops before Prefect starts."""
    _register(mlflow_uri)
    db = _db(mlflow_uri)
    _damage_table(db, "model_version_tags")
    for args in (
        ("models", "list"),
        ("score", "--data", str(DATA), "--raw", "--as-of", "2024-06-30", "--out", str(tmp_path / "runs")),
    ):
        code, output = _ews_process(*args, uri=mlflow_uri, cwd=tmp_path)
        assert code == 2, output
        assert "Traceback" not in output and "Starting temporary server" not in output, output[-3000:]
        said = _flat(output)
        assert said.startswith(f"error: the MLflow store {db.resolve()} "), said
        # SQLite stops its check at this page ("malformed") or lists it, as the damage falls
        assert "cannot be read: database disk image is malformed (the file is damaged" in said or (
            "is damaged: SQLite's check of its pages found " in said
        ), said
        assert "Restore it from a backup; or move it away and retrain (`ews train --data DIR`)" in said
    assert not (tmp_path / "runs").exists()


def _ews_process(*args: str, uri: str, cwd: Path) -> tuple[int, str]:
    """``ews ARGS`` in a child process (the console entry point, which turns user errors into one line)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EWS_PROJECT": str(ROOT), "COLUMNS": "400"}
    env["MLFLOW_TRACKING_URI"] = uri
    env.pop("PREFECT_API_URL", None)  # the session harness sets it in this process only
    env["PREFECT_HOME"] = str(cwd / "prefect")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_damaged_page_of_a_table_is_found_before_any_query(tmp_path: Path) -> None:
    """The check reads every page (SQLite's quick_check), not the schema page alone: a table's damaged
    page is named, with the file and the way back, where before the check passed it."""
    from pipelines.adapters.registry_view import StoreUnreadableError, check_sqlite_store

    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE tags (version TEXT, key TEXT, value TEXT)")
        con.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(str(i), "k", "v" * 300) for i in range(200)])
    _damage_table(db, "tags")
    with pytest.raises(StoreUnreadableError) as err:
        check_sqlite_store(db)
    said = str(err.value)
    assert said.startswith(
        f"the MLflow store {db.resolve()} is damaged: SQLite's check of its pages found "
    ), said
    assert "Restore it from a backup; or move it away and retrain (`ews train --data DIR`)" in said
    assert "\n" not in said


def _runs_with_one_override(tmp_path: Path) -> Path:
    """A runs folder holding one published-looking run (2024-08-31) and a log of one override."""
    import datetime as dt

    import pandas as pd

    from pipelines.scoring.overrides import Override, append_override

    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": ["D1", "D2"], "pd": [0.08, 0.02], "in_default": [False, False], "band": ["D", "B"]}
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)
    append_override(
        runs, Override("D1", "under_review", "asked sales", "anna", dt.date(2024, 8, 31), pd=0.08)
    )
    return runs


def test_an_override_on_a_disk_that_fills_mid_line_is_not_recorded(tmp_path: Path) -> None:
    """Measured on a full tmpfs: `ews watchlist override` said "override 12: ... applies from the next
    run" (exit 0) while the disk took half its line; every later run, override and history then
    stopped on "line 12 is not a JSON object: the audit log was edited or damaged; restore it from a
    backup". Here the file-size limit (ulimit -f) stops the line 100 bytes in, as a full disk does:
    now exit 2 in one line, and the log keeps its bytes."""
    import resource

    runs = _runs_with_one_override(tmp_path)
    log = runs / "overrides.jsonl"
    before = log.read_bytes()
    limit = len(before) + 100

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400", "PYTHONDONTWRITEBYTECODE": "1"}
    args = ["watchlist", "override", "D2", "--status", "escalated", "--reason", "legal letter sent"]
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args, "--by", "ben", "--out", str(runs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_files,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert _flat(output).startswith(f"error: --out {log}: cannot write: File too large;"), output
    assert output.strip().endswith("the override was not recorded (the log is as it was)"), output
    assert log.read_bytes() == before


def test_a_log_whose_last_line_was_cut_short_says_how_to_recover(tmp_path: Path) -> None:
    """A log written before the fix above (or cut by a power loss): its last line has no end. Before:
    "line 2 is not a JSON object: the audit log was edited or damaged; restore it from a backup" (there
    is rarely a backup of the runs folder's log). Now it names the cut line and the exact command
    that keeps the whole lines; after it, the log reads again."""
    from pipelines.scoring.overrides import AuditLogError, read_log

    runs = _runs_with_one_override(tmp_path)
    log = runs / "overrides.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole + b'{"seq":2,"debtor_id":"D2","status":"escal')
    with pytest.raises(AuditLogError) as err:
        read_log(runs)
    said = str(err.value)
    assert said.startswith(f"{log} line 2, the last, is cut short (no line end)"), said
    assert f"`truncate -s {len(whole)} {log}` keeps the 1 line before it" in said, said
    os.truncate(log, len(whole))
    assert [r["debtor_id"] for r in read_log(runs)] == ["D1"]
    # a damaged line that is not the last stays an edit: restore from a backup
    lines = whole.decode().splitlines(keepends=True)
    log.write_text(lines[0][:40] + "\n" + lines[0], encoding="utf-8")
    with pytest.raises(
        AuditLogError, match="line 1 is not a JSON object: the audit log was edited or damaged"
    ):
        read_log(runs)


# One customer, 'MÜLLER-01', written by one system with 'Ü' as one character (NFC, U+00DC) and by
# another as 'U' and a combining diaeresis (NFD, U+0308): the two print alike.
NFC_ID, NFD_ID = "M\u00dcLLER-01", "MU\u0308LLER-01"


def _write_ledger(tmp_path: Path, invoice_ids: tuple[str, str], master: str | None) -> dict[str, Path]:
    files = {
        "invoices": "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        f"I1,{invoice_ids[0]},2024-01-05,2024-02-04,100.00,EUR\n"
        f"I2,{invoice_ids[1]},2024-02-05,2024-03-06,200.00,EUR\n"
        "I3,D2,2024-02-05,2024-03-06,300.00,EUR\n",
        "payments": f"payment_id,debtor_id,invoice_id,paid_on,amount\nP1,{invoice_ids[0]},I1,2024-02-01,100.00\n",
    }
    if master is not None:
        files["debtors"] = f"debtor_id,name,country\n{master},Müller GmbH,DE\nD2,Two,DE\n"
    paths = {}
    for table, text in files.items():
        paths[table] = tmp_path / f"{table}.csv"
        paths[table].write_text(text, encoding="utf-8")
    return paths


def _ingest(tmp_path: Path, paths: dict[str, Path]) -> str:
    args = [a for t, p in paths.items() for a in (f"--{t}", str(p))]
    result = runner.invoke(
        app,
        ["ingest", *args, "--out", str(tmp_path / "out"), "--no-docs", "--as-of", "2024-06-30"],
        env={"COLUMNS": "400"},
    )
    said = _said(result)
    assert result.exit_code == 0, said
    return said


UNICODE_RULE = (
    "ids are compared character by character (an accented letter such as 'Ü' is one character in Unicode's "
    "NFC form and the letter with a combining accent in NFD"
)


def test_a_debtor_id_in_another_unicode_form_than_the_master_is_named(tmp_path: Path) -> None:
    """The master (NFC) and the invoices (NFD). Before: both invoices quarantined unknown_debtor without
    a word, 'MÜLLER-01' shown beside 'MÜLLER-01' in the quarantine file. Now named, with the codes."""
    said = _ingest(tmp_path, _write_ledger(tmp_path, (NFD_ID, NFD_ID), master=NFC_ID))
    assert (
        "warning: invoices: 2 rows quarantined unknown_debtor, naming a debtor of the customer master in "
        "characters that look the same but are other Unicode characters ('MU\\u0308LLER-01' for "
        "'M\\xdcLLER-01'): " + UNICODE_RULE
    ) in said, said


def test_one_customer_in_two_unicode_forms_without_a_master_is_named(tmp_path: Path) -> None:
    """No customer master: I1's debtor in NFC, I2's in NFD. Before: two debtors, each with half the
    customer's exposure, without a word. Now the split is named (the rows are kept, as for case)."""
    paths = _write_ledger(tmp_path, (NFC_ID, NFD_ID), master=None)
    said = _ingest(tmp_path, paths)
    assert (
        "warning: debtors: 1 debtor id differing from another only by Unicode form ('MU\\u0308LLER-01' and "
        "'M\\xdcLLER-01'): " + UNICODE_RULE
    ) in said, said
    import datetime as dt

    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source

    source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in paths.items()})
    streamed = ingest_source(
        source, tmp_path / "out_streamed", as_of=dt.date(2024, 6, 30), stream=True, chunk_rows=2, partitions=2
    )
    assert any(
        w.startswith("debtors: 1 debtor id differing from another only by Unicode form")
        for w in streamed.manifest["warnings"]
    ), streamed.manifest["warnings"]


def test_a_payment_plan_of_120000_instalments_is_quarantined(tmp_path: Path) -> None:
    """An amount typed into `installments` (120000). Before: accepted, and every nightly run then
    stopped after its scoring (2 min 24 s on a 300-debtor book) with a traceback ending in "ValueError:
    year 12024 is out of range" from the plan's last due date. Now quarantined implausible_installments;
    1,200 (a hundred years) is the last count kept."""
    paths = _write_ledger(tmp_path, ("D1", "D1"), master=None)
    paths["payment-plans"] = tmp_path / "plans.csv"
    paths["payment-plans"].write_text(
        "debtor_id,agreed_on,first_due,installment_amount,installments,status\n"
        "D1,2024-04-01,2024-05-01,50.00,6,active\n"
        "D2,2024-04-01,2024-05-01,250.00,120000,active\n"
        "D2,2024-05-01,2024-06-01,25.00,1200,active\n",
        encoding="utf-8",
    )
    said = _ingest(tmp_path, paths)
    out = tmp_path / "out"
    kept = pd.concat(pd.read_parquet(p) for p in sorted((out / "payment_plans").glob("bucket=*/*.parquet")))
    assert sorted(kept["installments"].tolist()) == [6, 1200], said
    q = pd.read_csv(out / "quarantine" / "payment_plans.csv", dtype=str)
    assert q[["source_row", "reason"]].values.tolist() == [["2", "implausible_installments"]]


def test_an_override_typed_in_another_unicode_form_than_the_books_id_finds_the_debtor(tmp_path: Path) -> None:
    """The book's id came in NFD ('MU' + U+0308 + 'LLER-01', from the ERP's export); the analyst types
    'MÜLLER-01' (NFC, as keyboards do). Before: "debtor 'MÜLLER-01' is not in the latest published run
    ...; check the id" for an id that prints the same, and no way to type the other form. Now the
    override is recorded under the book's id (the form the nightly matches); history finds it too."""
    import pandas as pd

    from pipelines.scoring.overrides import read_log

    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": [NFD_ID, "D2"], "pd": [0.08, 0.02], "in_default": [False, False], "band": ["D", "B"]}
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)
    args = ["watchlist", "override", NFC_ID, "--status", "escalated", "--reason", "legal letter sent"]
    result = runner.invoke(app, [*args, "--by", "ben", "--out", str(runs)], env={"COLUMNS": "400"})
    said = _said(result)
    assert result.exit_code == 0, said
    assert [r["debtor_id"] for r in read_log(runs)] == [NFD_ID]
    result = runner.invoke(app, ["watchlist", "history", NFC_ID, "--out", str(runs)], env={"COLUMNS": "400"})
    said = _said(result)
    assert result.exit_code == 0, said
    assert "legal letter sent" in said and "2024-08-31" in said
