"""Session 35 (s35-walk): the leftovers a new user trips over, and a second user's day on fresh books.

Each test is one place a walk tripped over; its docstring says what was seen and what is now."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.pipelines.chromium import CHROMIUM


def _old_export(folder: Path) -> dict[str, Path]:
    """A 2024 export by hand: invoices issued 2024-03-01 and 2024-05-10, the first paid 2024-06-14 (the
    last dated row of the export)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-03-01,2024-03-31,100.00\n"
        "I2,D2,2024-05-10,2024-06-09,250.00\n"
    )
    (folder / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-06-14,100.00\n"
    )
    return {"invoices": folder / "invoices.csv", "payments": folder / "payments.csv"}


def test_ews_ingest_dates_an_old_export_by_its_last_row(tmp_path) -> None:
    """s34-walk leftover: `ews ingest` without --as-of stamped today's date on an old export (a 2024 export
    ingested on 2026-12-06 read "ingest files (as of 2026-12-06)", and `ews score --as-of` that date is
    refused as 705 days after the data). Now an export whose last dated row is more than 7 days old is
    dated by that row, and the output says so and how to score it."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    files = _old_export(tmp_path / "raw")
    result = CliRunner().invoke(
        app,
        ["--project", str(project), "ingest", "--invoices", str(files["invoices"]), "--payments",
         str(files["payments"]), "--currency", "EUR", "--no-docs", "--out", str(tmp_path / "out")],
        terminal_width=400,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["as_of"] == "2024-06-14"
    assert manifest["as_of_from"] == "export_end"
    assert "ingest files (as of 2024-06-14)" in result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: as of ")]
    assert len(notes) == 1
    assert notes[0].startswith("note: as of 2024-06-14, the export's last dated row: no --as-of was given")
    assert "`ews score --as-of 2024-06-14`" in notes[0]


def test_an_as_of_given_a_fresh_export_and_a_kept_history_keep_their_dates(tmp_path) -> None:
    """The other cases stay as they were: --as-of given is the date; an export whose last row is within 7
    days of today is dated today (a nightly's export of yesterday); a kept history's nights are dated by
    the day they were ingested (its derived debtor_history rows and the merge order read that date)."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    settings = RulesConfig(data_docs=False)
    files = _old_export(tmp_path / "raw")
    given = ingest_files(files, tmp_path / "given", as_of=dt.date(2024, 6, 30), settings=settings,
                         default_currency="EUR")  # fmt: skip
    assert (given.manifest["as_of"], given.manifest["as_of_from"]) == ("2024-06-30", "--as-of")
    assert not given.manifest.get("notes")

    today = dt.datetime.now(dt.UTC).date()
    recent = today - dt.timedelta(days=3)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "invoices.csv").write_text(
        f"invoice_id,debtor_id,issue_date,due_date,amount\nI1,D1,{recent},{recent + dt.timedelta(days=30)},100.00\n"
    )
    (fresh / "payments.csv").write_text(
        f"payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,{recent},40.00\n"
    )
    files_fresh = {"invoices": fresh / "invoices.csv", "payments": fresh / "payments.csv"}
    run = ingest_files(files_fresh, tmp_path / "fresh_out", settings=settings, default_currency="EUR")
    after = dt.datetime.now(dt.UTC).date()  # the ingest ran between `today` and now (midnight UTC, s44-flake)
    assert run.manifest["as_of_from"] == "today" and run.manifest["as_of"] in {
        today.isoformat(),
        after.isoformat(),
    }

    kept = ingest_files(
        files, tmp_path / "kept", settings=settings, default_currency="EUR", keep_history=True
    )
    assert (kept.manifest["as_of"], kept.manifest["as_of_from"]) == (today.isoformat(), "today")


def test_models_history_says_who_ran_each_decision_the_same_way(tmp_path, monkeypatch) -> None:
    """s34-walk leftover: `ews models history`'s "by" column read "ews train" for the queue-key event and
    the login name for the challenger, gate and promotion events of the same training: two meanings in one
    column. Now every event names who ran the command (EWS_USER, else the login), as --help says. A real
    MLflow registry (SQLite): one version, its challenger event, its queue key, a manual promotion."""
    from types import SimpleNamespace

    from mlflow import MlflowClient

    from pipelines.adapters.registry import promote, record_queue_key
    from pipelines.adapters.registry_view import decision_events, read_versions

    monkeypatch.setenv("EWS_USER", "s.walker")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(client.create_experiment("ews", artifact_location=(tmp_path / "a").as_uri()))
    client.create_registered_model("ews-pd")
    (tmp_path / "model").mkdir()
    client.create_model_version("ews-pd", (tmp_path / "model").as_uri(), run_id=run.info.run_id)
    choice = SimpleNamespace(key="pd", reason="the PD alone ranked the held-out queue as well", metrics=dict)
    record_queue_key(run.info.run_id, "1", choice, tracking_uri=uri)
    promote("1", "first model", tracking_uri=uri)
    events = decision_events(read_versions("ews-pd", uri))
    assert [e["event"] for e in events] == ["queue_key", "champion"]
    assert [e["by"] for e in events] == ["s.walker", "s.walker"]


NOT_LISTED_PROBE = """<script>
(function () {
  var W = document.documentElement.clientWidth, box = document.getElementById("changes");
  var lines = Array.prototype.filter.call(box.querySelectorAll("p.note"), function (p) {
    return p.innerText.indexOf("Not listed") === 0;
  }).map(function (p) {
    var r = p.getBoundingClientRect(), s = getComputedStyle(p);
    return {text: p.innerText, height: Math.round(r.height), right: Math.round(r.right),
            shown: s.display !== "none" && s.visibility !== "hidden"};
  });
  var rows = Array.prototype.map.call(box.querySelectorAll("#movers-table > tbody > tr"), function (tr) {
    return tr.cells[0].innerText;
  });
  var pre = parent.document.createElement("pre");
  pre.id = "not-listed-probe";
  pre.textContent = JSON.stringify({width: W, lines: lines, rows: rows});
  parent.document.body.appendChild(pre);
})();
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [420, 1280])
def test_the_not_listed_line_shows_in_the_page(tmp_path, width: int) -> None:
    """s34 leftover: report.html's "Not listed: N debtors whose PD rose by less than 0.01 pp." (3805c3c) was
    tested on the summary's count only, never in the page. Loaded in headless Chromium at 420 and 1,280 px:
    the line is shown once in "Yesterday vs today", inside the window, under a movers table that lists a
    alone. By hand: a rises 7 pp (listed), b 0.004 pp and c 0.002 pp (not listed: 2 debtors), d falls."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.report import render_report
    from pipelines.scoring.watchlist import compare_with_previous
    from tests.pipelines.chromium import framed_probe
    from tests.pipelines.test_report import scores

    prev = scores([0.01, 0.2, 0.5, 0.3], ["a", "b", "c", "d"])
    today = scores([0.08, 0.20004, 0.50002, 0.1], ["a", "b", "c", "d"])
    html = render_report(
        as_of="2024-06-30", model={"name": "ews-pd", "version": "1"}, config_hash="0" * 64,
        scored=compare_with_previous(today, prev), previous=prev, previous_as_of="2024-06-29",
        watchlist=today.head(0).assign(triggers="", reason_1=""), reason_columns=["reason_1"],
        counts={"scored": 4, "in_default": 0, "flagged": 0, "queue": 0, "expected_loss": 0.0, "bands": {},
                "triggers": {}},
        drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
        calibration=None, waterfalls=[], cfg=NightlyConfig(),
    )  # fmt: skip
    got = framed_probe(html, width, NOT_LISTED_PROBE, tmp_path, "not-listed-probe")
    assert got["rows"] == ["a"]
    assert [line["text"] for line in got["lines"]] == [
        "Not listed: 2 debtors whose PD rose by less than 0.01 pp."
    ]
    line = got["lines"][0]
    assert line["shown"] and line["height"] > 0 and line["right"] <= got["width"]


def test_rich_still_keeps_the_emoji_setting_plain_flow_logs_turns_off() -> None:
    """s34 leftover: ``pipelines.console.plain_flow_logs`` turns emoji codes off in Prefect's console handler
    by setting rich's private ``Console._emoji`` (Prefect's ``PrefectConsoleHandler.emit`` calls
    ``self.console.print(message, soft_wrap=True)``; rich offers ``emoji=`` only to ``Console(...)`` and
    ``Console.print(...)``, and the handler's theme and highlighter cannot be read back publicly to build
    another console). Searched: no public setter in rich 15 or Prefect 3's logging settings. This pins the
    two facts it relies on, by name, so that an upgrade of rich or Prefect fails here with the cause rather
    than printing "r😄s" for a folder r:smile:s: the console carries ``_emoji``, print() honours it, and
    Prefect's handler prints through its public ``console`` with the emoji setting left to it."""
    import inspect
    import io
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler
    from rich.console import Console

    console = Console(file=io.StringIO(), emoji=True)
    assert getattr(console, "_emoji", None) is True, (
        "rich.console.Console no longer keeps its emoji setting in _emoji: pipelines.console.plain_flow_logs "
        "cannot turn emoji codes off in Prefect's console handler; find the new place"
    )
    console._emoji = False  # noqa: SLF001 (what plain_flow_logs does)
    console.print("runs/r:smile:s", soft_wrap=True)
    assert console.file.getvalue() == "runs/r:smile:s\n", "rich's print() no longer reads Console._emoji"

    handler = PrefectConsoleHandler(stream=io.StringIO())
    assert isinstance(handler.console, Console), "Prefect's console handler no longer prints through .console"
    emit = inspect.getsource(PrefectConsoleHandler.emit)
    assert "self.console.print(" in emit and "emoji" not in emit, emit
    record = logging.LogRecord("s35", logging.WARNING, __file__, 1, "runs/r:smile:s", None, None)
    handler.console._emoji = False  # noqa: SLF001
    handler.emit(record)
    assert handler.stream.getvalue().strip().endswith("runs/r:smile:s"), handler.stream.getvalue()


def test_a_debtor_gone_into_default_is_named_apart_from_the_largest_pd_increases() -> None:
    """Walk (500-debtor book, seed 3298, night 2024-12-31): report.html's "Largest PD increases" began with
    the 3 debtors that went into default since the last run, "0.55% -> 100.00%, +99.45 pp" (a debtor in
    default has PD 1 by convention, not by the model), above the live debtors whose PD rose. Now they are
    named apart in one line, and the table ranks the live debtors. By hand: a 1 % -> in default, b 20 %
    -> 30 % (+10 pp), c in default on both nights, d 5 % -> 6 % (+1 pp)."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.report import changes_summary
    from pipelines.scoring.watchlist import compare_with_previous
    from tests.pipelines.test_report import scores

    prev = scores([0.01, 0.2, 1.0, 0.05], ["a", "b", "c", "d"], [False, False, True, False])
    today = scores([1.0, 0.3, 1.0, 0.06], ["a", "b", "c", "d"], [True, False, True, False])
    got = changes_summary(compare_with_previous(today, prev), prev, NightlyConfig(), top=5)
    assert [m["debtor_id"] for m in got["movers"]] == ["b", "d"]
    assert got["defaulted"] == ["a"]
    assert got["risen_unlisted"] == 0
    assert pd.Series([m["pd_change"] for m in got["movers"]]).round(6).tolist() == [0.1, 0.01]


def _trained(promoted: bool, pay_promoted: bool, champion_before: str | None = None):
    """A LightGBM training and a payment-date training as the flows return them, figures by hand (book B's
    first training: AUC 0.8828 [0.8451, 0.9207], ...)."""
    from pipelines.flows.train import TrainResult
    from pipelines.flows.train_paydate import PaydateTrainResult

    metrics = {"auc": 0.8828, "brier": 0.0054, "logloss": 0.0283, "ece": 0.0019}
    checks = (
        "ok challenger is the LightGBM model",
        "ok AUC 0.8828 [0.8451, 0.9207]: the 95% debtor interval reaches the floor 0.7000 (gate.min_auc)",
        "ok ECE (calibration) 0.0019 <= 0.0060 (chance ECE 0.0010 + margin 0.005 (gate.ece_margin))",
        "ok not worse than the scorecard baseline"
        if promoted
        else "FAIL worse than champion v1: higher log-loss",
        "ok no current champion" if champion_before is None else f"ok champion v{champion_before} compared",
    )
    pd_result = TrainResult(
        run_id="debb3884a13b00", version="2", promoted=promoted, gate_reasons=checks,
        champion_before=champion_before, metrics=metrics, baseline_metrics=dict(metrics), model_sha256="0" * 64,
        plan={"test": ["2025-04-30", "2025-09-30"], "calibration": ["2025-02-28", "2025-03-31"]},
        dropped={"credit_on_account": "constant"}, kind="lightgbm", selection="LightGBM has the lower log-loss",
        lightgbm_metrics=dict(metrics), queue_key="blend",
        queue_key_reason="blend chosen: queue capture on 2 pooled folds: blend 0.9451 vs PD 0.9300; the test window "
        "alone: PD key kept",
        gate_summary="Promoted: every check passed." if promoted
        else "Not promoted, the champion stays: worse than champion v1: higher log-loss.",
    )  # fmt: skip
    pay = PaydateTrainResult(
        run_id="r", version="2", promoted=pay_promoted,
        gate_reasons=("ok MAE 8.80 days vs the better baseline 12.08", "ok p10-p90 coverage 76.0%"),
        metrics={"mae_days": 8.8, "due_date_mae_days": 20.5, "due_plus_lateness_mae_days": 12.08,
                 "within_7d": 0.565, "coverage_80": 0.76, "cash_wape": 0.129},
        plan={}, rows=10_928, gate_summary="",
    )  # fmt: skip
    return pd_result, pay


def test_ews_train_ends_with_each_models_verdict_in_a_sentence() -> None:
    """s34-walk leftover: `ews train` printed about 45 lines (the metrics, why the challenger, the windows,
    the queue key's evidence, every gate check) before "gate passed: now champion", and the payment-date
    flow's log and summary came after it: the verdict scrolled away. Now the last lines are each model's
    verdict and why in a sentence, then where every check is; the detail is printed with --verbose."""
    from rich.console import Console

    from pipelines.commands.train import print_pd, print_verdicts

    for verbose in (False, True):
        result, pay = _trained(promoted=True, pay_promoted=True)
        console = Console(record=True, width=80)
        print_pd(console, result, verbose)
        print_verdicts(console, result, pay, verbose)
        lines = [line.rstrip() for line in console.export_text().splitlines()]
        tail = lines[-3:] if not verbose else lines[-2:]
        assert tail[0] == "ews-pd v2 (LightGBM): gate passed: now champion. Every check passed."
        assert tail[1] == "ews-paydate v2: gate passed: now champion. Every check passed."
        checks = [line for line in lines if line.startswith("  - ")]
        assert len(checks) == (5 if verbose else 0)
        assert ("challenger: LightGBM has the lower log-loss" in lines) is verbose
    assert lines[-1].startswith("ews-paydate v2") and not any("every check:" in line for line in lines)

    result, pay = _trained(promoted=False, pay_promoted=True, champion_before="1")
    console = Console(record=True, width=200)
    print_verdicts(console, result, pay, verbose=False)
    said = console.export_text().splitlines()
    assert said[1] == (
        "ews-pd v2 (LightGBM): gate failed: champion unchanged. Not promoted, the champion stays: worse than "
        "champion v1: higher log-loss."
    )
    assert said[-1] == "every check: `ews models history -v [--name ews-paydate]`; all: `ews train -v`"


TITLE_PROBE = """<script>
(function () {
  var h1 = document.querySelector("h1"), walker = document.createTreeWalker(h1, NodeFilter.SHOW_TEXT);
  var node, lines = 0;
  while ((node = walker.nextNode())) {
    var at = node.data.indexOf("2024-06-30");
    if (at >= 0) {
      var range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + 10);
      lines = Array.prototype.filter.call(range.getClientRects(), function (r) { return r.width > 0; }).length;
    }
  }
  var pre = parent.document.createElement("pre");
  pre.id = "title-probe";
  pre.textContent = JSON.stringify({lines: lines, right: Math.round(h1.getBoundingClientRect().right),
                                    width: document.documentElement.clientWidth});
  parent.document.body.appendChild(pre);
})();
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_the_reports_title_keeps_its_date_on_one_line_at_420_px(tmp_path) -> None:
    """Walk (report.html of the 500-debtor book at 420 px): the title read "Early-warning report -- as of
    2024-" and "12-31" on the next line (the browser breaks after a hyphen). The date now stays whole."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.report import render_report
    from tests.pipelines.chromium import framed_probe
    from tests.pipelines.test_report import scores

    today = scores([0.08, 0.2], ["a", "b"])
    html = render_report(
        as_of="2024-06-30", model={"name": "ews-pd", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.head(0).assign(triggers="", reason_1=""),
        reason_columns=["reason_1"], counts={"scored": 2, "in_default": 0, "flagged": 0, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}},
        drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
        calibration=None, waterfalls=[], cfg=NightlyConfig(),
    )  # fmt: skip
    got = framed_probe(html, 420, TITLE_PROBE, tmp_path, "title-probe")
    assert got["lines"] == 1, got
    assert got["right"] <= got["width"], got


def test_models_list_of_the_payment_date_model_shows_its_own_figures(tmp_path) -> None:
    """Walk (the data scientist, 500-debtor book, `ews models list --name ews-paydate`): the AUC and ECE
    columns read "nan" for every version and the queue-key column was empty: a payment-date model has
    neither. Now its held-out MAE in days and its p10-p90 coverage, the tags its training writes
    (ews.test_mae_days, ews.test_coverage_80). A real MLflow registry (SQLite), two versions by hand:
    MAE 8.80 / 7.87 days, coverage 76.0 % / 81.8 %."""
    import os
    import subprocess
    import sys

    from mlflow import MlflowClient

    root = Path(__file__).resolve().parents[2]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (tmp_path / "model").mkdir()
    client.create_registered_model("ews-paydate")
    for version, (mae, coverage) in enumerate(((8.8, 0.76), (7.87, 0.818)), start=1):
        client.create_model_version("ews-paydate", (tmp_path / "model").as_uri())
        client.set_model_version_tag("ews-paydate", str(version), "ews.test_mae_days", f"{mae:.6f}")
        client.set_model_version_tag("ews-paydate", str(version), "ews.test_coverage_80", f"{coverage:.6f}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "EWS_PROJECT": str(root),
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "models", "list", "--name", "ews-paydate"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [
        [c.strip() for c in line.strip("│").split("│")] for line in done.stdout.splitlines() if "│" in line
    ]
    head = next(line for line in done.stdout.splitlines() if "┃" in line and "version" in line)
    assert [c.strip() for c in head.strip("┃").split("┃")] == [
        "version", "aliases", "created", "MAE, days", "p10-p90", "gate", "champion"
    ]  # fmt: skip
    assert [(r[0], r[3], r[4]) for r in rows] == [("1", "8.80", "76.0%"), ("2", "7.87", "81.8%")]
    assert "nan" not in done.stdout


def test_ews_serve_warns_when_the_folder_it_scores_does_not_exist(tmp_path) -> None:
    """Walk (the data scientist, `ews serve --dry-run` in the project of the README's steps): the deployment
    named data_dir data/sample, the `ews init` default, a folder the project does not have (its ingest
    wrote data/ingested), and said nothing: every 02:00 run would fail. Now a warning names the folder,
    the config and the fix; with data_dir set to the ingested folder, none."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    result = CliRunner().invoke(app, ["--project", str(project), "serve", "--dry-run"], terminal_width=400)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert (
        f"warning: data_dir {project / 'data' / 'sample'} (conf/nightly.yaml) does not exist: every run fails "
        "until it does. Set data_dir to the folder your nightly `ews ingest --out` writes (e.g. data/ingested)"
    ) in said
    (project / "data" / "ingested").mkdir(parents=True)
    nightly = project / "conf" / "nightly.yaml"
    nightly.write_text(nightly.read_text().replace("data_dir: data/sample", "data_dir: data/ingested", 1))
    result = CliRunner().invoke(app, ["--project", str(project), "serve", "--dry-run"], terminal_width=400)
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_the_payment_date_models_history_reads_as_the_pd_models(tmp_path) -> None:
    """Walk (the data scientist, book ews generate 5,000 x 36 s3299, `ews models history --name ews-paydate`):
    each challenger event's reason was empty and each gate promotion read "ok evidence: 101,393 held-out
    invoices ..." (its first check), where the PD model's read its figures and "Promoted: every check
    passed.". Now the same. A real MLflow registry (SQLite) and a real LightGBM booster (tiny); figures by
    hand: MAE 8.00 days against the better baseline min(15.00, 12.00) = 12.00, coverage 80.0 %."""
    import lightgbm as lgb
    import numpy as np

    from pipelines.adapters.paydate_registry import gate_paydate, log_paydate
    from pipelines.adapters.registry_view import decision_events, read_versions

    metrics = {"mae_days": 8.0, "due_date_mae_days": 15.0, "due_plus_lateness_mae_days": 12.0,
               "mae_diff_ci_low": -5.0, "mae_diff_ci_high": -3.0, "coverage_80": 0.80,
               "coverage_80_ci_low": 0.77, "coverage_80_ci_high": 0.83}  # fmt: skip
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                        lgb.Dataset(x, (x[:, 0] > 0.5).astype(int)), 2)  # fmt: skip
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logged = log_paydate(booster, spec={}, metrics=metrics, params={}, tables={}, provenance={},
                         artifacts=tmp_path / "artifacts", tracking_uri=uri)  # fmt: skip
    decision = gate_paydate(logged.version, metrics, tracking_uri=uri)
    assert decision.passed
    events = decision_events(read_versions("ews-paydate", uri))
    assert [(e["event"], e["summary"]) for e in events] == [
        (
            "challenger",
            "payment-date model: held-out MAE 8.00 days (better baseline 12.00), p10-p90 coverage 80.0%",
        ),
        ("champion", "Promoted: every check passed."),
    ]
