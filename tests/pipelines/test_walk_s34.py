"""Session 34 (s34-walk): a new user's day in the three roles, on books of 300 to 2,000 debtors.

Each test is one place the walk tripped over; its docstring says what was seen and what is now."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def _project_with_debtors(tmp_path: Path) -> Path:
    """`ews init` + an ingest of a 4-debtor book (segments retail / services, countries DE / FR / AT)
    into data/ingested, the folder the nightly config scores."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "debtors.csv").write_text(
        "debtor_id,name,segment,country\nD1,A,retail,DE\nD2,B,services,FR\nD3,C,retail,AT\nD4,D,services,DE\n"
    )
    (raw / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        + "".join(f"I{k},D{k},2025-01-0{k},2025-02-0{k},100.00\n" for k in range(1, 5))
    )
    (raw / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2025-02-01,100.00\n"
    )
    nightly = project / "conf" / "nightly.yaml"
    text = nightly.read_text()
    assert "data_dir: data/sample" in text
    nightly.write_text(text.replace("data_dir: data/sample", "data_dir: data/ingested", 1))
    result = CliRunner().invoke(
        app,
        [
            "--project",
            str(project),
            "ingest",
            "--invoices",
            str(raw / "invoices.csv"),
            "--payments",
            str(raw / "payments.csv"),
            "--debtors",
            str(raw / "debtors.csv"),
            "--as-of",
            "2025-02-28",
            "--currency",
            "EUR",
            "--no-docs",
            "--out",
            str(project / "data" / "ingested"),
        ],
    )
    assert result.exit_code == 0, result.output
    return project


def _check(project: Path, teams: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from pipelines.cli import app

    (project / "conf" / "teams.yaml").write_text(teams)
    monkeypatch.chdir(project)
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(app, ["config", "check", "conf/teams.yaml", *args], terminal_width=400)
    return result.exit_code, re.sub(r"\s+", " ", result.output).strip()


def test_config_check_names_teams_countries_and_segments_no_debtor_has(tmp_path, monkeypatch) -> None:
    """Walk (300-debtor book, seed 3263): conf/teams.yaml gave Anna `countries: [DE, AT, ch]` and Ben
    `[FR, NL, BE, UK, IT, PL]`; `ews config check` said "ok", and the nightly gave the Swiss and British
    debtors to 'unassigned' (ews stores countries in capitals; the United Kingdom is GB). Now the check
    fails on a country that is not a code as ews stores it, and on a segment or country that differs from
    the debtors' only in case or a typo; a value no debtor has and nothing resembles is a note."""
    project = _project_with_debtors(tmp_path)
    teams = (
        "kind: teams\ncollectors:\n"
        "  - {name: Anna, countries: [DE, ch, AT], capacity: 10}\n"
        "  - {name: Ben, countries: [FR, UK, ES], segments: [Retail, services], capacity: 8}\n"
    )
    code, out = _check(project, teams, monkeypatch)
    assert code == 2, out
    assert out == (
        "note conf/teams.yaml: Ben: no debtor in data/ingested (data_dir of conf/nightly.yaml) has country 'ES' "
        "yet (country values there: AT, DE, FR) "
        "FAIL conf/teams.yaml: Anna: country 'ch' is not a country code ews stores (write 'CH': countries are "
        "compared exactly, as ingest stores them); Ben: country 'UK' is not a country code ews stores (the ISO "
        "code is 'GB'); Ben: segment 'Retail': no debtor in data/ingested (data_dir of conf/nightly.yaml) has "
        "it, they have 'retail' (segment values are compared exactly, case included: as written Ben covers none "
        "of them). Edit conf/teams.yaml"
    )
    # a file that names only values the debtors have passes, and says what it was checked against
    good = (
        "kind: teams\ncollectors:\n  - {name: Anna, countries: [DE, AT], segments: [retail], capacity: 10}\n"
    )
    code, out = _check(project, good, monkeypatch)
    assert code == 0, out
    assert out.startswith("ok conf/teams.yaml kind=teams hash=")
    assert out.endswith(
        "(segments and countries checked against the debtors of data/ingested (data_dir of conf/nightly.yaml))"
    )
    # --data names another folder; one that is no ingest output leaves the values unchecked, and says so
    code, out = _check(project, good, monkeypatch, "--data", str(tmp_path / "raw"))
    assert code == 0, out
    assert out.endswith(
        f"(segments and countries not checked against debtors: --data {tmp_path / 'raw'} is not an `ews ingest` "
        "folder; pass --data DIR)"
    )


def test_the_owner_note_names_the_countries_of_a_teams_file_split_by_country() -> None:
    """Walk (300-debtor book, seed 3263): a teams file split by country alone (Anna DE, Ben FR) left the
    Spanish debtors unowned, and `ews score` said "10 of 194 collections queue rows went to 'unassigned':
    no collector in the teams file covers them (segments construction, manufacturing, retail, services,
    wholesale)": every segment of the book, none of them the cause. Now it names the countries of the
    unowned rows, and the segments only when a collector names segments. By hand: 3 queue rows, D2 (ES)
    is nobody's."""
    import pandas as pd

    from pipelines.config.teams import Collector
    from pipelines.scoring.owners import assign_owners, coverage_gaps, owner_gaps_note

    collectors = (
        Collector(name="Anna", countries=("DE",), capacity=5),
        Collector(name="Ben", countries=("FR",), capacity=5),
    )
    queue = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3"],
            "segment": ["retail", "services", "retail"],
            "country": ["DE", "ES", "FR"],
        }
    )
    q = queue.join(assign_owners(queue, collectors, None, "collections"))
    assert q["owner"].tolist() == ["Anna", "unassigned", "Ben"]
    gaps = coverage_gaps(collectors, queue, {"collections": q})
    assert gaps["uncovered"] == [] and gaps["uncovered_countries"] == ["ES"]
    assert owner_gaps_note(gaps) == (
        "1 of 3 collections queue rows went to 'unassigned': no collector in the teams file covers them "
        "(countries ES)"
    )


def test_workbooks_without_a_currency_say_so_once_in_their_about_sheet(tmp_path) -> None:
    """Walk (book A without its currency column, no currency.reporting): report.html said once that amounts
    carry no code, but collections_queue.xlsx, recovery_queue.xlsx and credit_limits.xlsx headed "Exposure at
    default", "Expected loss" over bare numbers and their "about" sheets said nothing of a currency (with
    one: "Amounts in EUR."). Now the about sheet says it once. And a 1-debtor book's credit_limits.xlsx
    said "1 debtors"."""
    import datetime as dt

    import openpyxl
    import pandas as pd

    from pipelines.adapters.exports import write_queue
    from pipelines.scoring.limits import write_credit_limits
    from tests.pipelines.adapters.test_exports import queue_frame
    from tests.pipelines.test_credit_limits import POLICY, add_credit_limits, scores_frame

    said = (
        "Amounts carry no currency code: the data name none and conf/ews.yaml sets no currency.reporting. Name it "
        "there (currency: {reporting: EUR}, your currency's ISO code); the next run writes it beside every amount."
    )
    files = write_queue(
        queue_frame(),
        tmp_path,
        "collections_queue",
        "Collections queue",
        pd.Timestamp("2024-06-30"),
        100,
        None,
    )
    about = openpyxl.load_workbook(files["collections_queue.xlsx"])["about"]["A1"].value
    assert about == (
        f"Collections queue, as of 2024-06-30: 3 debtors. {said} All rows are in this workbook. One sheet per "
        "owner follows the sheet 'all'. Printed, each sheet holds the columns 'Rank' to 'Why this action' on "
        "landscape pages (its print area; clear it to print every column)."  # s38-walk 139be44: the call list
    )
    header = [c.value for c in openpyxl.load_workbook(files["collections_queue.xlsx"])["all"][1]]
    assert "Exposure at default" in header  # no code to add: the about sheet says why

    scored = add_credit_limits(scores_frame().assign(open_balance=[500.0, 8000.0, 500.0]), None, POLICY)
    write_credit_limits(scored.head(1), tmp_path, dt.datetime(2024, 6, 30), None, xlsx_rows=10)
    about = openpyxl.load_workbook(tmp_path / "credit_limits.xlsx")["about"]["A1"].value
    assert about.endswith(f"As of 2024-06-30: 1 debtor. {said} All debtors are in this workbook.")


def test_every_feature_reads_in_words_without_a_formula() -> None:
    """s33-ux left some drift variables technical in report.html: "Amount invoiced in 90 days against
    (amount in 365 days x 90/365)", "Least-squares slope of the balance over the last 6 months", "Debtor
    country, ISO-3166 alpha-2", "Statements with days past due > 0 ...", "Recovered payment status ...".
    Now no feature of the catalog reads with brackets, comparison or arithmetic signs, or a statistician's
    term; the words are written beside each such function (``@feature(..., words=...)``)."""
    import re

    from features.catalog import CATALOG, feature_words

    formula = re.compile(
        r"[()<>=/_]| x | - |ISO|[Ll]east-squares|slope|standard deviation|percentile|capped|[Rr]ecovered"
    )
    technical = {name: feature_words(name) for name in CATALOG if formula.search(feature_words(name))}
    assert technical == {}
    assert feature_words("invoice_amount_trend_90_365") == (
        "Amount invoiced in the last 90 days against the usual 90 days of the last year"
    )
    assert (
        feature_words("st_balance_trend_6m")
        == "How fast the balance rose or fell over the last 6 months, per month"
    )
    assert feature_words("country") == "Debtor country"
    # the words replace the description only where one is given: the others keep s33's reading of it
    assert (
        feature_words("dpd_max_180d")
        == "Highest days past due reached by any invoice on a day in the last 180 days"
    )


def test_the_largest_pd_increases_leave_out_rises_the_table_shows_as_zero() -> None:
    """Walk (300-debtor book, seed 3263, night 2): report.html's "Largest PD increases" listed 24 debtors,
    11 of them "+0.00 pp" (rises under 0.005 percentage points), as if they were news. Now it lists rises
    of 0.01 pp or more and counts the others. By hand: a rises 7 pp (listed), b 0.004 pp and c 0.002 pp
    (not listed: 2 debtors), d falls."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.report import changes_summary
    from pipelines.scoring.watchlist import compare_with_previous
    from tests.pipelines.test_report import scores

    prev = scores([0.01, 0.2, 0.5, 0.3], ["a", "b", "c", "d"])
    today = scores([0.08, 0.20004, 0.50002, 0.1], ["a", "b", "c", "d"])
    got = changes_summary(compare_with_previous(today, prev), prev, NightlyConfig(), top=5)
    assert [m["debtor_id"] for m in got["movers"]] == ["a"]
    assert got["risen_unlisted"] == 2


def test_ews_serve_starts_the_temporary_prefect_server_as_the_other_commands_do(tmp_path) -> None:
    """Walk (the data scientist, `ews serve` as the README says, no PREFECT_API_URL): Prefect started its
    own temporary server, with its telemetry heartbeat on, and two tracebacks ("sqlite3.OperationalError:
    database is locked") reached the console while other runs used the database. `ews score` and
    `ews train` start that server through ews (telemetry off, ended with the ews process); now `ews serve`
    does too. Checked on the real server process: its environment turns telemetry off."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL" and "ANALYTICS" not in k}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "--project", str(project), "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while b"being served" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        children = subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True
        ).stdout.splitlines()
        servers = [int(line.split()[0]) for line in children if "uvicorn" in line or "prefect.server" in line]
        assert len(servers) == 1, children
        environ = Path(f"/proc/{servers[0]}/environ").read_bytes().split(b"\0")
        assert b"PREFECT_SERVER_ANALYTICS_ENABLED=false" in environ
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert b"Traceback" not in log.read_bytes(), log.read_text()[-3000:]


def test_the_payment_reversal_reasons_read_in_words() -> None:
    """Walk (the repository's example SAP FBL5N export, `ews ingest --source conf/sources/example_sap_fbl5n.yaml`):
    its bounced payment is quarantined `reversal` + `reversed_payment`; report.html's feed table read the
    second in words and the first as its code, as it did `reversal_unmatched` and `currency_mismatch`."""
    from pipelines.words import reason_words

    assert reason_words("reversal") == "A negative payment reversing an earlier one"
    assert reason_words("reversed_payment") == "A payment and its reversal"
    assert reason_words("reversal_unmatched") == "A negative payment matching no earlier payment"
    assert reason_words("currency_mismatch") == "Paid in another currency than its invoice"


def test_promoting_a_pd_version_says_the_payment_date_champion_stays(tmp_path) -> None:
    """Walk (the data scientist rolls back: `ews models promote 1 --reason ...` after v2 of both models was
    promoted): ews-pd went back to v1 and the console said only that; ews-paydate v2 kept forecasting and
    ranking the queue's blend, unsaid. Now the promotion of an ews-pd version names the ews-paydate
    champion and the command that moves it. A real MLflow registry (SQLite) with versions registered
    directly; `ews models promote` in a subprocess, as a user runs it."""
    import os
    import subprocess
    import sys

    from mlflow import MlflowClient

    root = Path(__file__).resolve().parents[2]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (tmp_path / "model").mkdir()
    for name, versions in (("ews-pd", 2), ("ews-paydate", 2)):
        client.create_registered_model(name)
        for _ in range(versions):
            client.create_model_version(name, (tmp_path / "model").as_uri())
        client.set_registered_model_alias(name, "champion", "2")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "EWS_PROJECT": str(root),
        "PYTHONPATH": str(root),
    }

    def promote(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "models", "promote", *args, "--reason", "roll back"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return " ".join(done.stdout.split())

    assert promote("1") == (
        "ews-pd v1 is champion (previous: 2); reason recorded "
        "ews-paydate keeps its champion v2 (payment dates, cash-in forecast, the queue's pay_pd); to move it "
        "too: ews models promote N --name ews-paydate --reason '...' (its versions: ews models list --name "
        "ews-paydate)"
    )
    # moving ews-paydate itself says nothing more
    assert (
        promote("1", "--name", "ews-paydate") == "ews-paydate v1 is champion (previous: 2); reason recorded"
    )


def test_the_roll_rate_table_says_why_the_books_default_rate_ranks_no_debtor() -> None:
    """Walk (300-debtor book, seed 3263): `ews train`'s roll-rate table put the book's default rate at AUC
    0.4117, Gini -0.1766, KS 0.0000 beside the model, read by a new user as a broken baseline. It gives
    every debtor of a month-end one PD, so it ranks month-ends, not debtors; one line under the table now
    says so and which figures to compare."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.train import print_rollrate

    metrics = {"auc": 0.9071, "gini": 0.8142, "ks": 0.8076, "brier": 0.0084, "ece": 0.0059, "logloss": 0.0371,
               "mean_pd": 0.0079, "default_rate": 0.0092}  # fmt: skip
    base = {**metrics, "auc": 0.4117, "gini": -0.1766, "ks": 0.0}
    result = SimpleNamespace(
        headline="small book", selection="", version="1", run_id="99ba6404cf71", metrics=metrics,
        intervals={}, baseline_metrics=base, plan={"test": ["2024-04-30", "2024-09-30"]}, queue_key_reason="x",
        promoted=True, gate_reasons=[], gate_summary="", champion_before="1",
    )  # fmt: skip
    console = Console(record=True, width=300)
    print_rollrate(console, result)
    text = console.export_text()
    assert (
        "book's default rate: every debtor of a month-end at the default rate the book showed by then. It does "
        "not rank debtors: its AUC, Gini and KS compare month-ends only (near or below 0.5, 0 and 0); read its "
        "Brier score and log loss against the model's"
    ) in text
    assert text.index("log loss") < text.index("It does not rank debtors") < text.index("test month-ends")


def test_limit_breach_reads_past_month_ends_of_a_statements_book() -> None:
    """Walk (statements 1,500 x 24, seed 30, a new output folder): night 1 (2024-11-30) flagged no
    limit_breach (no previous run: no basis to call a breach new), night 2 (2024-12-31) flagged 189
    debtors, 147 of them over their current limit, and the watchlist went from 144 to 314 debtors. An
    invoice book reads the past month-ends from its ledger (a debtor over its limit in the last year is in
    the same breach); a statements book read nothing (no invoices). Now the latest statement's balance at
    each month-end. By hand, limits 10,000, tonight 2024-06-15 (month-ends read: up to 2024-05-31):
    A 12,000 on 04-30 then 8,000 on 05-31 -> over on 04-30; B 9,000 / 9,500 -> never; C 5,000 on 03-31
    and 11,000 on 05-20 (no statement on 05-31: the 05-20 one stands) -> over on 05-31; D no statement."""
    import pandas as pd

    from features.ledger import prepare_ledger
    from features.tables import Portfolio
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import ledger_memory
    from tests.features.ledgers import frame

    rows = [
        ("A", "2024-05-31", 8_000.0),  # out of order on purpose
        ("A", "2024-04-30", 12_000.0),
        ("B", "2024-04-30", 9_000.0),
        ("B", "2024-05-31", 9_500.0),
        ("C", "2024-03-31", 5_000.0),
        ("C", "2024-05-20", 11_000.0),
    ]
    statements = frame(
        "statements",
        [
            {"debtor_id": d, "period_end": pd.Timestamp(t), "balance": b, "credit_limit": 10_000.0}
            for d, t, b in rows
        ],
    )
    debtors = frame("debtors", [{"debtor_id": d, "credit_limit": 10_000.0} for d in "ABCD"])
    book = Portfolio(statements=statements, debtors=debtors)
    memory = ledger_memory(
        prepare_ledger(book), pd.Timestamp("2024-06-15"), NightlyConfig(), statements=statements
    )
    assert {d: (str(v.date()) if pd.notna(v) else None) for d, v in memory.items()} == {
        "A": "2024-04-30", "B": None, "C": "2024-05-31", "D": None,
    }  # fmt: skip
    # the nightly's path: A, B, C within their limits in the previous run (06-14), all three over tonight;
    # A and C were over at a month-end of the last year (the same breach), B is a new one
    from pipelines.engine import Book
    from pipelines.scoring.watchlist import (
        book_ledger_memory,
        compare_with_previous,
        triggers,
        with_ledger_memory,
    )
    from tests.pipelines.test_nightly_triggers import scores

    def night(day: str, balance: float) -> pd.DataFrame:
        return scores([(d, 0.005, False) for d in "ABC"]).assign(
            as_of=pd.Timestamp(day), open_balance=balance, credit_limit_current=10_000.0,
            credit_limit_recommended=50_000.0, credit_need=10_000.0,
        )  # fmt: skip

    scored = compare_with_previous(night("2024-06-15", 10_500.0), night("2024-06-14", 9_000.0))
    cfg = NightlyConfig()
    over = book_ledger_memory(Book.in_memory(book, 10**6), scored, cfg, has_previous=True)
    fired = triggers(with_ledger_memory(scored, over), cfg, has_previous=True)["trigger_limit_breach"]
    assert dict(zip(scored["debtor_id"], fired, strict=True)) == {"A": False, "B": True, "C": False}


def test_a_statements_books_limit_note_names_the_reporting_currency() -> None:
    """Walk (statements 1,500 x 24, seed 30, ingested with --currency EUR): the watchlist's currency column
    read EUR, the summary "expected loss 179,496 EUR", but each limit_breach note "exposure 28,154 is more
    than 20 % above the recommended limit of 5,000": the notes took the currency of each debtor's invoices,
    and a statements book has none. Now a debtor without one reads the reporting currency."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import build_watchlist, compare_with_previous, triggers
    from tests.pipelines.test_nightly_triggers import scores

    today = scores([("S1", 0.005, False)]).assign(
        as_of=pd.Timestamp("2024-12-31"), name="x", segment="retail", overdue_amount=0.0,
        open_balance=28_154.0, credit_limit_current=30_000.0, credit_limit_recommended=5_000.0, credit_need=5_000.0,
    )  # fmt: skip
    always = NightlyConfig.model_validate({"triggers": {"limit_breach": {"when": "always"}}})
    scored = compare_with_previous(today, None)
    flags = triggers(scored, always, has_previous=False)
    wl = build_watchlist(scored, flags, pd.DataFrame(), ["reasons"], always, None, reporting="EUR")
    assert wl["limit_note"].tolist() == [
        "exposure EUR 28,154 is more than 20 % above the recommended limit of EUR 5,000"
    ]
    # no currency known at all: the amounts stay bare, as before
    bare = build_watchlist(scored, flags, pd.DataFrame(), ["reasons"], always, None)
    assert bare["limit_note"].tolist() == [
        "exposure 28,154 is more than 20 % above the recommended limit of 5,000"
    ]


def test_a_statements_books_run_says_why_it_has_no_payment_date_forecast() -> None:
    """Walk (statements 1,500 x 24, seed 30): `ews train` said "payment-date model: skipped, the book has no
    invoices", then each nightly's report and manifest said "no payment-date forecast ... (model 'ews-paydate'
    has no alias 'champion' in sqlite:///data/mlflow/mlflow.db: run `ews train --data DIR` (it trains the
    payment-date model after the PD model))": advice that trains none for such a book. Now a statements book
    (statements accepted, no invoice) is said to be one."""
    from pipelines.flows.nightly import no_forecast_note
    from pipelines.scoring.paydate import STATEMENTS_NO_FORECAST, statements_book

    assert statements_book({"statements": {"rows_accepted": 31_641}, "debtors": {"rows_accepted": 1_500}})
    assert statements_book({"statements": {"rows_accepted": 10}, "invoices": {"rows_accepted": 0}})
    assert not statements_book({"invoices": {"rows_accepted": 25_734}, "payments": {"rows_accepted": 24_966}})
    assert not statements_book({"statements": {"rows_accepted": 0}})
    assert no_forecast_note(STATEMENTS_NO_FORECAST) == (
        "no payment-date forecast: invoice_forecast and cash_forecast are not written and the queue has no "
        "expected_cash_30d (a statements book: monthly statements carry no invoice due dates to forecast payment "
        "dates from, so ews trains no payment-date model for it); the PDs, the watchlist and the collections "
        "queue ranked by the PD are published"
    )


def test_ews_ingest_says_its_quarantine_reasons_in_words(tmp_path) -> None:
    """Walk (the repository's example exports, `ews ingest --source conf/sources/example_ar_export.yaml`):
    the summary's "top reasons" column read codes only ("no_fx_rate:GBP (2), unparseable_date:issue_date (1)")
    while report.html says them in words. The codes stay (quarantine/<table>.csv's reason column holds them);
    one line under the table now says each in words. By hand: 3 invoices, one dated 31.02.2025 (not a date),
    one issued after it falls due."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2025-01-02,2025-02-01,100.00\n"
        "I2,D1,31.02.2025,2025-03-01,100.00\n"
        "I3,D2,2025-01-20,2025-01-10,100.00\n"
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2025-02-01,100.00\n"
    )
    result = CliRunner().invoke(
        app,
        ["--project", str(project), "ingest", "--invoices", str(tmp_path / "invoices.csv"), "--payments",
         str(tmp_path / "payments.csv"), "--as-of", "2025-02-28", "--currency", "EUR", "--no-docs", "--out",
         str(tmp_path / "out")],
        terminal_width=400,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if line.startswith("reasons: ")]
    assert said == [
        "reasons: due_before_issue = Due before it was issued; unparseable_date:issue_date = Issue date is not a date"
    ]


def test_the_aging_charts_legend_covers_no_bar() -> None:
    """Walk (2,000-debtor book, seed 3264, report.html at 1,280 px): the aging chart's legend sat inside the
    axes at the top left, over the first months' bars (receivables level over the year, the tallest bars
    reach the top). Now it sits above the axes, under the title. A level book by hand: 12 month-ends of
    100 current + 10 in each other bucket."""
    import matplotlib
    import pandas as pd

    from features.portfolio import AGING_BUCKETS
    from pipelines.report.plots import _SVG_RC, aging_figure

    dates = pd.date_range("2024-01-31", periods=12, freq="ME")
    aging = pd.DataFrame({b: [100.0 if b == "current" else 10.0] * 12 for b in AGING_BUCKETS}, index=dates)
    with matplotlib.rc_context(_SVG_RC):
        fig = aging_figure(aging, AGING_BUCKETS, "EUR")
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        covered = [p for p in ax.patches if p.get_window_extent().overlaps(legend)]
        assert covered == [] and not ax.title.get_window_extent().overlaps(legend)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "current", "1-30 DPD", "31-60 DPD", "61-90 DPD", "91-180 DPD", ">180 DPD",
        ]  # fmt: skip
        matplotlib.pyplot.close(fig)
