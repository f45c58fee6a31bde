"""Session 32 (s32-ux): what credit analysts, collections leads and data scientists read."""

from __future__ import annotations

import pytest

# ---------------------------------------------------------------- the data scientist: champion-on's dates


@pytest.mark.parametrize("when", ["2024-02-01", "20240201", "2024-W05-4"])
def test_champion_on_reads_a_day_as_its_end_in_every_iso_form(mlflow_uri, when: str) -> None:
    """`ews models champion-on 20240201` (ISO's basic form) asked the registry at the start of the day,
    `2024-02-01` at its end (s31-review): a promotion made that day answered differently. Now a date
    alone, in any ISO form, means the end of the day (23:59:59.999999 UTC), as --help says."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", when, "--runs", "/nonexistent"])
    assert result.exit_code == 1, result.output  # no champion, no run: exit 1
    assert "no champion of ews-pd at 2024-02-01 23:59:59.999999 UTC" in result.output, result.output


def test_champion_on_with_a_time_keeps_the_time_and_help_says_a_day_is_its_end(mlflow_uri) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", "2024-02-01T00:00", "--runs", "/nonexistent"])
    assert "no champion of ews-pd at 2024-02-01 00:00:00 UTC" in result.output, result.output
    shown = CliRunner().invoke(app, ["models", "champion-on", "--help"], env={"COLUMNS": "200"})
    assert "20260331, means the end of that day" in " ".join(shown.output.split()), shown.output


# ---------------------------------------------------------------- everyone: codes read as words where people read


def test_every_action_status_trigger_and_event_code_has_words() -> None:
    """One table per kind of code (pipelines.words); a code added without words would show raw."""
    from typing import get_args

    from pipelines.config.nightly import Action, EventAction, EventKind
    from pipelines.scoring.actions import AGENCY, MONITOR_PLAN, RESOLVE_DISPUTE
    from pipelines.scoring.overrides import STATUSES
    from pipelines.scoring.watchlist import TRIGGERS
    from pipelines.words import ACTION_WORDS, EVENT_WORDS, STATUS_WORDS, TRIGGER_WORDS

    actions = {*get_args(Action), *get_args(EventAction), RESOLVE_DISPUTE, MONITOR_PLAN, AGENCY}
    for codes, words in (
        (actions, ACTION_WORDS),
        ({*STATUSES, "new", "under_review"}, STATUS_WORDS),  # watch_state's own two
        (set(TRIGGERS), TRIGGER_WORDS),
        (set(get_args(EventKind)), EVENT_WORDS),
    ):
        assert codes <= set(words), codes - set(words)
        for code in codes:
            assert "_" not in words[code] and words[code] != code and words[code][0].isupper(), (
                code,
                words[code],
            )


def test_words_of_a_triggers_cell_and_of_missing_values() -> None:
    import pandas as pd

    from pipelines.words import code_words, in_sentence, triggers_words, words_column

    assert triggers_words("threshold, limit_breach") == "High-risk band, Over the credit limit"
    assert triggers_words("override (under_review)") == "Override (under review)"
    assert (
        triggers_words("kept on the list after its flag of 2024-06-01")
        == "kept on the list after its flag of 2024-06-01"
    )
    assert triggers_words(None) == "" and code_words(float("nan"), "status") == ""
    assert (
        in_sentence("Among the highest PDs") == "among the highest PDs"
        and in_sentence("PD jump") == "PD jump"
    )
    got = words_column(pd.Series(["agency_referral", None, ""], dtype="string"), "action")
    assert got.iloc[0] == "Agency referral" and pd.isna(got.iloc[1]) and got.iloc[2] == ""


def test_the_queue_workbook_shows_actions_and_events_in_words_and_the_csv_keeps_the_codes(tmp_path) -> None:
    """s31-ux walk: collections_queue.xlsx's 'Next action' read payment_plan, agency_referral, legal_review.
    The workbook a collector opens reads words; the CSV/Parquet, read by programs, keep the codes."""
    import openpyxl
    import pandas as pd

    from pipelines.adapters.exports import write_queue

    frame = pd.DataFrame(
        {"rank": [1, 2], "debtor_id": ["D1", "D2"], "owner": ["anna", "ben"],
         "next_action": ["agency_referral", "monitor_plan"], "dispute_action": ["resolve_dispute", ""],
         "event": pd.Series(["insolvency", None], dtype="string"), "action_rule_id": ["queue.rules[2]", "payment_plan"],
         "exposure": [10.0, 20.0]}
    )  # fmt: skip
    files = write_queue(
        frame, tmp_path, "recovery_queue", "Recovery queue", pd.Timestamp("2025-06-29"), 100, "EUR"
    )
    sheet = openpyxl.load_workbook(files["recovery_queue.xlsx"])["all"]
    rows = list(sheet.iter_rows(values_only=True))
    head = list(rows[0])
    col = {h: [r[head.index(h)] for r in rows[1:3]] for h in head}
    assert col["Next action"] == ["Agency referral", "Monitor the payment plan"]
    assert col["Action on the disputed part"] == ["Resolve the dispute", None]  # an empty cell stays empty
    assert col["Event (insolvency, agency placement, write-off)"] == ["Insolvency", None]
    assert col["Rule in conf/nightly.yaml"] == [
        "queue.rules[2]",
        "payment_plan",
    ]  # for whoever tunes the rules
    assert openpyxl.load_workbook(files["recovery_queue.xlsx"])["anna"]["D2"].value == "Agency referral"
    csv = pd.read_csv(files["recovery_queue.csv"], encoding="utf-8-sig")
    assert csv["next_action"].tolist() == ["agency_referral", "monitor_plan"]
    assert pd.read_parquet(files["recovery_queue.parquet"])["event"].tolist()[0] == "insolvency"


def test_report_reads_triggers_and_statuses_in_words(tmp_path) -> None:
    """report.html showed "threshold, rank", "under_review" and the overrides' "escalated" as codes.
    The trigger filter keeps the codes as its values (the rows' data-triggers) and shows words."""
    from tests.pipelines.test_ux_s29 import _report

    row = {"seq": 1, "at": "2024-06-29 09:30", "debtor_id": "a", "status": "escalated", "band": None, "by": "anna",
           "reason": "called the CFO", "until": "", "run": "2024-06-29", "pd": 0.1}  # fmt: skip
    overrides = {"days": 30, "rate": 0.5, "debtors": 1, "flagged": 2, "since": "2024-06-01", "in_force": 1,
                 "kept_off": 0, "reflagged": 0, "rows": [row]}  # fmt: skip
    html = _report(tmp_path, "EUR", overrides, triggers="threshold, limit_breach", status="under_review")
    assert '<td data-label="triggers">High-risk band, Over the credit limit</td>' in html
    assert '<td data-label="status">Under review' in html
    assert '<option value="limit_breach">Over the credit limit</option>' in html
    assert 'data-triggers="threshold, limit_breach"' in html  # the filter's values stay codes
    table = html[html.index('id="overrides-table"') :]
    assert '<td data-label="status">Escalated</td>' in table[: table.index("</table>")]
    for code in ("under_review", ">escalated<", ">threshold<", "limit_breach<", ">rank<"):
        assert code not in html, code


def test_score_summary_and_watchlist_history_read_in_words(tmp_path) -> None:
    """`ews score` said "(by trigger: rank 13, limit_breach 5)"; `ews watchlist history` showed the triggers
    "threshold, jump", the status "under_review" and the override "cleared" as codes."""
    from pathlib import Path
    from types import SimpleNamespace

    import pandas as pd
    from rich.console import Console
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands.score import _summary
    from pipelines.scoring.overrides import Override, append_override
    from pipelines.scoring.watch_state import STATE_FILE
    from tests.pipelines.test_watch_overrides import NOW, RUN, publish_scores

    manifest = {
        "as_of": "2024-12-30", "model": {"name": "ews-pd", "version": "1"}, "timings_s": {"score": 0.58},
        "counts": {"scored": 300, "in_default": 11, "flagged": 18, "triggers": {"rank": 13, "limit_breach": 5,
                   "jump": 0}, "queue": 208, "expected_loss": 70788.4, "currency": "EUR"},
        "drift": {"status": "ok"}, "feed": {"references": ["the previous run"]},
    }  # fmt: skip
    console = Console(record=True, width=300)
    _summary(console, SimpleNamespace(manifest=manifest, path=Path("data/runs/2024-12-30")))
    assert "watchlist 18 debtors (by trigger: among the highest PDs 13, over the credit limit 5);" in (
        console.export_text()
    )

    run = publish_scores(tmp_path, RUN, [("D7", 0.31, False)])
    pd.DataFrame({"debtor_id": ["D7"], "triggers": ["threshold, jump"]}).to_parquet(run / "watchlist.parquet")
    pd.DataFrame(
        {"debtor_id": ["D7"], "status": ["under_review"], "days_on_list": [31], "owner": ["anna"]}
    ).to_parquet(run / STATE_FILE)
    append_override(
        tmp_path, Override("D7", "cleared", "paid in full", "anna", RUN, 0.31, None, None), now=NOW
    )
    res = CliRunner().invoke(
        app, ["watchlist", "history", "D7", "--out", str(tmp_path)], env={"COLUMNS": "120"}
    )
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "High-risk band, PD jump" in flat and "Under review" in flat, res.output
    assert "UTC Cleared (by anna" in flat, res.output
    for code in ("threshold", "under_review", "cleared"):
        assert code not in res.output, (code, res.output)


# ---------------------------------------------------------------- the analyst on a phone: an amount keeps its currency

# Every amount with its currency code ("2,179 EUR") whose text runs over more than one line.
CURRENCY_PROBE = """<script>
(function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var wrapped = [], seen = 0, re = /\\d[\\d,.]*[ \\u00a0]EUR\\b/g, n;
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while ((n = walker.nextNode())) {
    var m; re.lastIndex = 0;
    while ((m = re.exec(n.data))) {
      var r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      var rects = Array.from(r.getClientRects()).filter(function (x) { return x.width > 0; });
      if (!rects.length) continue;
      seen++;
      var tops = {}; rects.forEach(function (x) { tops[Math.round(x.top)] = 1; });
      if (Object.keys(tops).length > 1) wrapped.push((n.parentElement.closest("[id]") || {}).id + ": " + m[0]);
    }
  }
  var out = parent.document, pre = out.createElement("pre");
  pre.id = "currency-probe";
  pre.textContent = JSON.stringify({width: document.documentElement.clientWidth, seen: seen, wrapped: wrapped});
  out.body.appendChild(pre);
})();
</script>"""


@pytest.mark.parametrize("width", [420, 1280])
def test_an_amount_and_its_currency_stay_on_one_line(tmp_path, width: int) -> None:
    """s31-ux: at 420 px the watchlist's cards and the stacked tables wrapped "2,179 EUR" as "2,179" / "EUR"
    (the analyst's report: 25 of 257 amounts). Each shown amount's text now sits on one line, at 420 px
    and at a desktop width."""
    from tests.pipelines.chromium import CHROMIUM, framed_probe
    from tests.pipelines.test_ux_s29 import _report

    if CHROMIUM is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    page = _report(tmp_path, "EUR")
    got = framed_probe(page, width, CURRENCY_PROBE, tmp_path, "currency-probe")
    assert got["width"] == width and got["seen"] >= 20, got
    assert got["wrapped"] == [], got


# ---------------------------------------------------------------- everyone: `ews score` without the seconds per step


def test_the_score_summary_prints_the_seconds_per_step_with_verbose_only_and_loses_nothing_else() -> None:
    """`ews score` printed a 16-row table of seconds per step before its summary every night (s31-ux).
    Without --verbose: one title line, then the same lines as with it; manifest.json keeps timings_s."""
    from pathlib import Path
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    manifest = {
        "as_of": "2024-12-30", "model": {"name": "ews-pd", "version": "3"},
        "timings_s": {"load_champion": 1.34, "score": 0.58, "payment_dates": 43.85},
        "counts": {"scored": 300, "in_default": 11, "flagged": 28, "triggers": {"rank": 28}, "queue": 208,
                   "expected_loss": 70788.4, "currency": "EUR"},
        "drift": {"status": "ok"}, "feed": {"references": ["the previous run"]},
    }  # fmt: skip
    said = {}
    for verbose in (False, True):
        console = Console(record=True, width=100)
        _summary(console, SimpleNamespace(manifest=manifest, path=Path("runs/2024-12-30")), verbose=verbose)
        said[verbose] = console.export_text().splitlines()
    quiet, full = said[False], said[True]
    assert quiet[0] == "nightly 2024-12-30 with ews-pd v3", quiet
    assert not any("payment_dates" in line or "43.85" in line or "seconds" in line for line in quiet), quiet
    assert any("payment_dates" in line and "43.85" in line for line in full), full
    table_end = max(i for i, line in enumerate(full) if line.startswith("└"))
    assert quiet[1:] == full[table_end + 1 :]  # every other line kept, in the same order
    assert len(quiet) == 4, quiet  # title, counts, feed line, outputs


def test_the_steps_seconds_leave_the_console_of_a_run_without_verbose() -> None:
    """The flow's log said each step's seconds on the console too ("load_champion: 2.09 s, peak RSS 461
    MiB", 16 lines). Without --verbose `ews score` drops those records from Prefect's console handler
    (said_once(step_times=False)); the run log keeps them; other records pass."""
    import logging

    from pipelines.runtime import STEP_TIME, _DropSaidInSummary

    def record(extra: dict) -> logging.LogRecord:
        rec = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, "score: 2.70 s", None, None)
        rec.__dict__.update(extra)
        return rec

    assert not _DropSaidInSummary((), step_times=False).filter(record(STEP_TIME))
    assert _DropSaidInSummary((), step_times=True).filter(record(STEP_TIME))
    assert _DropSaidInSummary((), step_times=False).filter(record({}))


# ---------------------------------------------------------------- a new user: a generated statements book


def test_a_generated_statements_book_says_to_ingest_it_with_its_currency(tmp_path) -> None:
    """Walk (seed 3158, `ews generate --ledger statements`): the "next:" line's ingest wrote every amount
    without a currency (statements have no currency column; the ingest printed its 'no currency named'
    note and the report, queues and limits carried no EUR). The line now names the book's currency;
    an invoice book carries it in its rows and needs none."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    out = tmp_path / "stmts"
    args = ["generate", "--debtors", "20", "--months", "3", "--seed", "3158", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--ledger", "statements"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert f"--statements {out / 'statements.parquet'} --currency EUR --out data/ingested" in res.output
    inv = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "inv")], env={"COLUMNS": "400"})
    assert inv.exit_code == 0 and "--currency" not in inv.output, inv.output


# ---------------------------------------------------------------- the collections lead: --out one run's folder


@pytest.mark.parametrize("command", ["history", "override"])
def test_watchlist_out_naming_one_run_says_to_give_the_runs_folder(tmp_path, command: str) -> None:
    """Walk (seed 3157): `ews watchlist history D0000555 --out data/runs/2024-12-31` (the folder of the run
    report.html came from) said "debtor 'D0000555' is in no published run under data/runs/2024-12-31 ...;
    check the id and --out" about a debtor of that very run; `override` said to run `ews score --out
    data/runs/2024-12-31` first. Both now name the folder to give, exit 2, and write nothing."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_watch_overrides import RUN, publish_scores

    run = publish_scores(tmp_path, RUN, [("D0000555", 0.09, False)])
    args = ["watchlist", command, "D0000555", "--out", str(run)]
    if command == "override":
        args += ["--status", "cleared", "--reason", "paid", "--by", "anna"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    assert (
        f"error: --out {run} is the folder of one run (as of 2024-08-31); give the folder that holds the "
        f"runs, the --out of `ews score`: --out {tmp_path}"
    ) in " ".join(res.output.split())
    assert "Traceback" not in res.output and not (run / "overrides.jsonl").exists()
    assert not (tmp_path / "overrides.jsonl").exists()


# ---------------------------------------------------------------- a new user: the first command that opens the registry


def test_a_new_registry_is_created_without_mlflows_info_lines(tmp_path) -> None:
    """Walk (a new project, `ews train`): the console began with MLflow's "2026/12/06 09:59:56 INFO
    mlflow.store.db.utils: Creating initial MLflow database tables..." and "Updating database tables",
    in MLflow's format. `ews models promote 1` on a new registry shows the same lines before its one
    error line; now only the error line (MLFLOW_LOGGING_LEVEL WARNING unless the user set it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "EWS_PROJECT": str(root),
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "models", "promote", "1", "--reason", "x"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 2 and (tmp_path / "mlflow.db").exists(), output  # the registry was created
    assert output.strip() == "error: model 'ews-pd' has no version '1'; see `ews models list`", output


def test_the_demos_queue_tables_read_in_words(tmp_path) -> None:
    """`ews demo` printed its queues headed by the column names (next_action, debtor_id, action_rule) with
    the actions as codes; now headed and filled as the XLSX are."""
    import pandas as pd
    from rich.console import Console

    from pipelines.commands.score import show_queues

    base = {"rank": [1], "debtor_id": ["D1"], "owner": ["anna"], "within_capacity": [True], "dpd": [95.0],
            "currency": ["EUR"], "exposure": [5000.0], "expected_loss": [900.0], "recoverable_amount": [2750.0]}  # fmt: skip
    pd.DataFrame(
        {
            **base,
            "next_action": ["final_notice"],
            "priority": [1200.0],
            "action_rule": ["60+ days past due: final notice"],
        }
    ).to_parquet(tmp_path / "collections_queue.parquet")
    pd.DataFrame({**base, "next_action": ["agency_follow_up"], "recovery_priority": [800.0],
                  "action_rule": ["agency placement on 2024-05-15: follow up with the agency"]}).to_parquet(
        tmp_path / "recovery_queue.parquet"
    )  # fmt: skip
    console = Console(record=True, width=250)
    show_queues(console, tmp_path)
    text = console.export_text()
    for said in (
        "Next action",
        "Debtor ID",
        "Why this action",
        "Days past due",
        "Final notice",
        "Follow up with the agency",
    ):
        assert said in text, (said, text)
    for code in ("next_action", "debtor_id", "action_rule", "final_notice", "agency_follow_up"):
        assert code not in text, (code, text)
