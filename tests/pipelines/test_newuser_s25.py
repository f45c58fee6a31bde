"""Session 25 (s25-newuser): a new user's first day on a 150- and a 2,000-debtor book, read as the user
reads it. Each test pins one place where the console misled or spoke in another unit than the report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from rich.console import Console

from pipelines.config.nightly import NightlyConfig
from pipelines.flows.nightly import TRIGGERS, _counts
from tests.pipelines.test_watch_overrides import RUN, invoke, publish_scores

# the 150 x 30 book's second night (seed 25150, 2025-06-30): what `ews score` printed
TRIGGER_COUNTS = {"threshold": 1, "jump": 0, "migration": 0, "new_entrant": 0, "limit_breach": 5, "rank": 13}


def _printed(counts: dict) -> str:
    from pipelines.commands.score import _summary

    manifest = {
        "as_of": "2025-06-30",
        "model": {"name": "ews-pd", "version": "1"},
        "timings_s": {"score": 1.0},
        "counts": counts,
        "drift": {"status": "ok"},
        "feed": {"status": "passed", "references": ["the training data"], "override": None},
    }
    console = Console(record=True, width=400)
    _summary(console, SimpleNamespace(manifest=manifest, path=Path("runs/2025-06-30")))
    return console.export_text()


def test_score_summary_names_the_currency_and_reads_the_triggers_as_words() -> None:
    """It printed `watchlist 16 {"threshold": 1, "jump": 0, ...}; queue 78 (expected loss 11,795)`:
    a JSON dict and an amount without its currency, where the report says 11,795 EUR."""
    counts = {"scored": 150, "in_default": 6, "flagged": 16, "triggers": TRIGGER_COUNTS, "queue": 78}
    text = _printed({**counts, "currency": "EUR", "expected_loss": 11794.84})
    assert (
        "scored 150 debtors (6 in default); watchlist 16 debtors (by trigger: among the highest PDs 13, over the "
        "credit limit 5, high-risk band 1); collections queue 78 debtors (expected loss 11,795 EUR); drift ok"
    ) in text
    assert "{" not in text
    # a manifest written before session 25 has no currency: the amount alone, no "None"
    old = _printed({**counts, "expected_loss": 11794.84, "triggers": dict.fromkeys(TRIGGER_COUNTS, 0)})
    assert "watchlist 16 debtors; collections queue 78 debtors (expected loss 11,795); drift ok" in old


def test_manifest_counts_record_the_currency_of_their_amounts() -> None:
    """manifest.json's counts held expected_loss 11794.84 and recoverable_amount 134654.9 and no
    currency anywhere in the manifest."""
    scored = pd.DataFrame(
        {"debtor_id": ["A", "B", "C"], "pd": [0.01, 0.2, 1.0], "band": ["A", "E", "default"],
         "in_default": [False, False, True]}
    )  # fmt: skip
    flags = pd.DataFrame({f"trigger_{t}": [False, t == "threshold", False] for t in TRIGGERS})
    wl = {"flags": flags, "watchlist": scored.iloc[[1]]}
    q = pd.DataFrame({"next_action": ["call", "reminder"], "expected_loss": [10.004, 5.0]})
    rq = pd.DataFrame({"next_action": ["legal_review"], "recoverable_amount": [100.0]})
    cfg = NightlyConfig()
    got = _counts(scored, wl, q, rq, None, cfg, "KWD")
    assert got["currency"] == "KWD" and got["expected_loss"] == 15.004  # KWD keeps 3 decimals
    got = _counts(scored, wl, q, rq, None, cfg, "EUR")
    assert got["currency"] == "EUR" and got["expected_loss"] == 15.0
    assert _counts(scored, wl, q, rq, None, cfg)["currency"] is None


def test_override_confirms_the_pd_as_the_report_shows_it(tmp_path) -> None:
    """`ews watchlist override` answered `(PD 0.017404 in run 2025-06-29; ...)` about a debtor the
    report lists at 1.74%."""
    publish_scores(tmp_path, RUN, [("D0000036", 0.017404, False)])
    res = invoke(
        "watchlist", "override", "D0000036", "--status", "cleared", "--reason", "paid", "--by", "anna",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "(PD 1.74% in run 2024-08-31; until further notice)" in res.output
    res = invoke("watchlist", "history", "D0000036", "--out", str(tmp_path))
    assert "1.74%" in res.output and "PD then 1.74%" in res.output and "0.0174" not in res.output


def test_queue_workbook_says_why_today_within_capacity_is_empty(tmp_path) -> None:
    """The 150-debtor book's collections_queue.xlsx had a 'Today (within capacity)' column blank in all
    89 rows, and nothing said why (no conf/teams.yaml: no collector has a capacity)."""
    import openpyxl

    from pipelines.adapters.exports import write_queue

    frame = pd.DataFrame(
        {"rank": [1, 2], "debtor_id": ["D1", "D2"], "owner": ["unassigned"] * 2,
         "within_capacity": pd.Series([pd.NA, pd.NA], dtype="boolean"), "exposure": [10.0, 20.0]}
    )  # fmt: skip
    stamp = pd.Timestamp("2025-06-29")
    files = write_queue(frame, tmp_path / "a", "collections_queue", "Collections queue", stamp, 100, "EUR")
    about = openpyxl.load_workbook(files["collections_queue.xlsx"])["about"]["A1"].value
    assert (
        "'Today (within capacity)' is empty: no collector has a daily capacity (give each one in "
        "conf/teams.yaml, the nightly config's teams key)."
    ) in about
    frame["within_capacity"] = pd.Series([True, False], dtype="boolean")  # capacities known: no note
    files = write_queue(frame, tmp_path / "b", "collections_queue", "Collections queue", stamp, 100, "EUR")
    about = openpyxl.load_workbook(files["collections_queue.xlsx"])["about"]["A1"].value
    assert "is empty" not in about and "Amounts in EUR." in about


def test_generate_says_what_the_book_covers_and_the_ingest_command_that_reads_it(
    tmp_path, monkeypatch
) -> None:
    """`ews generate` said '150 debtors x 30 months' and stopped: the user had to find the history's
    last day (the --as-of to score) and which of the written files `ews ingest` takes, and how."""
    import shlex

    from typer.testing import CliRunner

    from pipelines.cli import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["generate", "--debtors", "40", "--months", "14", "--seed", "25", "--start", "2024-03-01"]
    res = runner.invoke(app, [*args, "--format", "csv", "--out", "gen"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    # 14 months from 2024-03-01: March 2024 .. April 2025, whose last day is 2025-04-30
    assert "history 2024-03-01 .. 2025-04-30: score as of 2025-04-30 or earlier" in res.output
    line = next(x for x in res.output.splitlines() if x.startswith("next: "))
    assert line == (
        "next: ews ingest --invoices gen/invoices.csv --payments gen/payments.csv --debtors gen/debtors.csv "
        "--events gen/events.csv --out data/ingested"
    )
    done = runner.invoke(app, [*shlex.split(line.removeprefix("next: ews ")), "--no-docs"])
    assert done.exit_code == 0, done.output  # the command printed is one ews runs as it is
    assert (tmp_path / "data" / "ingested" / "manifest.json").is_file()


def test_train_metrics_table_at_80_columns_cuts_no_metric_name_and_drops_read_as_words() -> None:
    """The 2,000 x 36 book's `ews train` (seed 252000) printed, at 80 columns, 'test_capture_5p…' and
    'test_default_ra…', and `dropped features: {'overdue_amount_90p': 'constant', ...}` (a Python dict)."""
    from pipelines.commands.train import dropped_line, metrics_table

    keys = ["auc", "gini", "ks", "brier", "logloss", "ece", "capture_5pct", "capture_10pct", "mean_pd",
            "default_rate"]  # fmt: skip
    metrics = dict.fromkeys(keys, 0.9288)
    result = SimpleNamespace(
        version="1", run_id="db95ed64688a0000", kind="lightgbm", plan={"calibration": ["2025-01-31"]},
        intervals={"challenger": {"auc": (0.8959, 0.9576)}}, metrics=metrics, lightgbm_metrics=metrics,
        baseline_metrics=metrics,
    )  # fmt: skip
    console = Console(record=True, width=80)
    console.print(metrics_table(result))
    text = console.export_text()
    # in words since s27-ux (it printed the MLflow keys test_auc ...), rates in %
    for name in ("AUC", "Gini", "KS", "Brier score", "log loss", "ECE (calibration)", "capture in top 5 %",
                 "capture in top 10 %", "mean PD", "default rate"):  # fmt: skip
        assert f"│ {name} " in text, name
    assert "…" not in text and "0.8959..0.9576" in text and "92.88%" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    console = Console(record=True, width=200)
    console.print(dropped_line({"overdue_amount_90p": "constant", "credit_on_account": "constant"}))
    assert console.export_text().strip() == (
        "dropped features (not used by the model): credit_on_account (constant on the training rows), "
        "overdue_amount_90p (constant on the training rows)"
    )


def test_report_metrics_sit_beside_the_models_the_champion_was_chosen_against() -> None:
    """The report's Calibration section listed the champion's figures alone (test_auc 0.9288 and,
    each on a row of its own, test_auc_ci_low / _ci_high), while MLflow held the scorecard's beside
    them (baseline_test_auc 0.9062): the 2,000 x 36 book's figures, by hand."""
    from pipelines.report import metrics_table

    model = {
        "kind": "lightgbm",
        "metrics": {"test_auc": 0.9288, "test_auc_ci_low": 0.8959, "test_auc_ci_high": 0.9576,
                    "test_gini": 0.8575, "test_rows": 12736.0},
        "compared": {"baseline_test_auc": 0.9062, "baseline_test_gini": 0.8124, "lightgbm_test_auc": 0.9288},
    }  # fmt: skip
    got = metrics_table(model)
    assert got["columns"] == ["scorecard"] and got["note"] is None  # LightGBM's own column: the model
    assert got["rows"] == [
        {
            "name": "test_auc",
            "label": "AUC",
            "value": "0.9288",
            "interval": "0.8959..0.9576",
            "others": ["0.9062"],
        },
        {"name": "test_gini", "label": "Gini", "value": "0.8575", "interval": "", "others": ["0.8124"]},
        {"name": "test_rows", "label": "rows", "value": "12,736", "interval": "", "others": [""]},
    ]
    scorecard = metrics_table({**model, "kind": "scorecard"})  # a scorecard champion: beside LightGBM
    assert scorecard["columns"] == ["LightGBM"] and scorecard["rows"][0]["others"] == ["0.9288"]
    rollrate = metrics_table({"kind": "rollrate", "metrics": {"test_auc": 0.9464}})
    assert rollrate["columns"] == [] and "compared with the book's default rate" in rollrate["note"]
    assert "`" not in rollrate["note"]  # the report is HTML: backticks showed as they are


def test_queue_headers_read_without_internal_names() -> None:
    """The 150-debtor book's queue workbook: 'Chance an open invoice reaches default days overdue unpaid'
    (no sense as English) and a priority header naming the internal column 'pay_pd'."""
    from pipelines.adapters.exports import headers

    got = headers(["pay_pd", "priority"], "EUR", "blend")
    assert got["pay_pd"] == "Chance an open invoice is still unpaid at the default threshold (days past due)"
    assert "pay_pd" not in got["priority"] and "unpaid-at-threshold chance" in got["priority"]


def test_no_help_names_a_source_file_or_module() -> None:
    """`ews watchlist override --help` listed the statuses as '(pipelines.scoring.overrides.STATUSES)' and
    `ews generate --help` sent the user to 'pipelines/synthetic/regimes.py': files a pip user never sees."""
    import re

    import typer
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands.watchlist import STATUS_HELP
    from pipelines.scoring.overrides import STATUSES

    assert STATUS_HELP == " | ".join(STATUSES)
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    leaves: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:  # typer's own click: no isinstance on click.Group
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
        else:
            leaves.append(path)

    walk(group, [])
    assert len(leaves) >= 19  # every command and sub-command
    runner = CliRunner()
    found = []
    module = re.compile(r"\b(?:pipelines|features|models)(?:/[\w/]+\.py|\.[a-z_]+\.[\w.]+)")
    for path in leaves:
        if path == ["config", "expectations"]:  # a developer's command: it writes the schema's suites
            continue
        text = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}).output
        found += [(path, m) for m in module.findall(text)]
    assert found == []
