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


_KILL_DURING_PUBLISH = """
import os, signal, sys
from pathlib import Path
import pipelines.adapters.publish as publish
from pipelines.ingest import ingest_files

real, moves = os.replace, []
def replace(src, dst):  # kill -9 this process after two files of the new ingest are in place
    if ".staging-" in str(src) and ".staging-" not in str(dst):  # published, not staged
        moves.append(dst)
        if len(moves) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
publish.os.replace = replace
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
ingest_files(files, out, as_of=__import__("datetime").date(2024, 6, 30))
"""


def _consistent(out: Path) -> bool:
    import hashlib
    import json

    outputs = json.loads((out / "manifest.json").read_text())["outputs"]
    return all(hashlib.sha256((out / k).read_bytes()).hexdigest() == v for k, v in outputs.items())


def test_kill_9_while_publishing_an_ingest_is_refused_then_put_right(tmp_path: Path) -> None:
    """Before: kill -9 between the moves left new invoices beside old payments and the old
    manifest (read with exit 0), and a .staging-* folder that no later run removed."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "out"
    assert _ingest(_ledger(tmp_path / "v1", n=12), out).exit_code == 0
    _ledger(tmp_path / "v2", n=16)
    done = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_PUBLISH, str(tmp_path / "v2"), str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not _consistent(out)  # the state a reader would have trusted
    # a real `ews features` (in a child: in process it would set up Prefect's log handler on
    # CliRunner's stream, which later tests find closed)
    features = ["features", "--data", str(out), "--as-of", "2024-05-31", "--out", str(tmp_path / "f.parquet")]
    refused = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *features],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2 and "stopped while publishing" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    # the next ingest (any inputs) completes the interrupted one, cleans up, then runs
    assert _ingest(_ledger(tmp_path / "v3", n=14), out).exit_code == 0
    assert _consistent(out) and not [p.name for p in out.iterdir() if p.name.startswith((".staging", ".pub"))]
    from pipelines.engine import open_feed

    assert open_feed(out).manifest["tables"]["invoices"]["rows_in"] == 14


def test_second_ingest_into_the_same_folder_is_refused_while_one_runs(tmp_path: Path) -> None:
    import fcntl
    import os

    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / ".ingest.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = _ingest(_ledger(tmp_path / "in"), out)
    finally:
        os.close(fd)
    assert result.exit_code == 2, result.output
    assert "another `ews ingest` into this folder is in progress; wait for it" in _flat(result.output)


def test_failed_ingest_into_a_new_folder_leaves_no_folder(tmp_path: Path) -> None:
    files = _ledger(tmp_path / "in")
    files["payments"].write_text(PAYMENT_HEADER, encoding="utf-8")
    assert _ingest(files, tmp_path / "new").exit_code == 2
    assert not (tmp_path / "new").exists()


def test_score_as_of_outside_the_data_is_refused_before_the_flow(tmp_path: Path, mlflow_uri) -> None:
    """Before: 4 years after the export, the run built every feature and was refused by the feed
    checks as default_share 80 % (the cause unnamed; with --accept-feed it published the crisis);
    before the first row it was refused as exposure 0. (A champion is registered, without files: a
    registry without one is refused first, since s7-robust.)"""
    from tests.pipelines.test_runtime import champion_without_files

    champion_without_files(mlflow_uri)
    data = tmp_path / "data"
    assert _ingest(_ledger(tmp_path / "in"), data).exit_code == 0  # dates 2024-01-01 .. 2024-04-27
    nightly = tmp_path / "nightly.yaml"
    nightly.write_text(f"kind: nightly\nproject: {tmp_path / 'ews.yaml'}\nmax_data_lag_days: 30\n")
    (tmp_path / "ews.yaml").write_text("kind: project\n")
    base = ["score", "--data", str(data), "--out", str(tmp_path / "runs"), "--config", str(nightly)]
    late = CliRunner().invoke(app, [*base, "--as-of", "2028-01-31"])
    assert late.exit_code == 3, late.output
    flat = _flat(late.output)
    assert "--as-of 2028-01-31 is 1,374 days after the latest invoice, payment or event" in flat
    assert "(2024-04-27)" in flat and "score a date up to 2024-05-27" in flat and "--accept-feed" in flat
    early = CliRunner().invoke(app, [*base, "--as-of", "2023-06-30"])
    assert early.exit_code == 2 and "before the first dated row" in _flat(early.output), early.output
    assert "Flow run" not in late.output + early.output and not (tmp_path / "runs" / "2028-01-31").exists()


def test_watchlist_override_trims_a_pasted_id_like_ingest_does(tmp_path: Path) -> None:
    """Before: ' D1 ' (or D1 with a zero-width space, pasted from a spreadsheet) was 'not in the
    latest published run', although ingest trims both from every id."""
    import pandas as pd

    folder = tmp_path / "2024-08-31"
    folder.mkdir()
    scores = pd.DataFrame({"debtor_id": ["D1"], "pd": [0.08], "in_default": [False], "band": ["D"]})
    scores.to_parquet(folder / "scores.parquet", index=False)
    args = ["--status", "escalated", "--reason", "x", "--by", "a", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, ["watchlist", "override", " D1\u200b ", *args])
    assert result.exit_code == 0, result.output
    assert '"debtor_id":"D1"' in (tmp_path / "overrides.jsonl").read_text()
    history = CliRunner().invoke(app, ["watchlist", "history", "\ufeffD1 ", "--out", str(tmp_path)])
    assert history.exit_code == 0 and "Escalated" in history.output, history.output


def test_sources_suggest_recognises_a_debtors_file(tmp_path: Path) -> None:
    """Before: a customer master file (debtor_id, name, segment, country, credit_limit, onboarded_on,
    every column by its canonical name) was drafted as tables.invoices with four required columns
    marked missing."""
    from pipelines.sources.suggest import suggest_source

    path = tmp_path / "customers.csv"
    path.write_text(
        "debtor_id,name,segment,country,credit_limit,onboarded_on\n"
        + "".join(f"D{i},Müller {i} GmbH,retail,DE,{1000 * i},2021-03-0{i}\n" for i in range(1, 8)),
        encoding="cp1252",
    )
    draft = suggest_source(path)
    assert draft.kind == "debtors", draft.text
    assert draft.mapping == {
        c: c for c in ("debtor_id", "name", "segment", "country", "credit_limit", "onboarded_on")
    }
    assert "tables:\n  debtors:" in draft.text and "???" not in draft.text


def test_sources_suggest_on_a_header_only_file_says_so(tmp_path: Path) -> None:
    """Before: 'no column looks like any canonical column' for a header of canonical names."""
    path = tmp_path / "invoices.csv"
    path.write_text(INVOICE_HEADER, encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "suggest", str(path), "--out", str(tmp_path / "d.yaml")])
    assert result.exit_code == 2, result.output
    assert "has a header but no data rows" in _flat(result.output) and "Traceback" not in result.output
