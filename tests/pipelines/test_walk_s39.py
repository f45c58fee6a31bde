"""Session 39 (s39-walk): a year of month-end runs on a 500-debtor book, read as its users would."""

from __future__ import annotations

import datetime as dt

import pandas as pd


def test_the_report_lists_an_override_without_a_band_with_an_empty_band(tmp_path) -> None:
    """s39-walk: four overrides after the 2025-01-31 run, one with --band C; the report's overrides
    table of 2025-02-28 showed the band "nan" for the three without one (pandas reads the log's null
    band as NaN, and NaN is truthy in the template's `o.band or ""`)."""
    from pipelines.scoring.overrides import Override, active_overrides, append_override
    from pipelines.scoring.watch_state import override_summary

    now = dt.datetime(2025, 2, 3, 9, 0, tzinfo=dt.UTC)
    reviewed = dt.date(2025, 1, 31)
    append_override(
        tmp_path, Override("D1", "escalated", "rumours", "anna", reviewed, 0.17, None, None), now=now
    )
    append_override(
        tmp_path,
        Override("D2", "under_review", "new management", "anna", reviewed, 0.12, "C", dt.date(2025, 6, 30)),
        now=now,
    )
    night = dt.date(2025, 2, 28)
    effects = (
        active_overrides(tmp_path, night).set_index("debtor_id").assign(suppressed=False, reflagged=False)
    )
    got = override_summary(tmp_path, night, pd.DataFrame({"debtor_id": ["D1", "D2"]}), effects)
    assert [(r["debtor_id"], r["band"]) for r in got["rows"]] == [("D2", "C"), ("D1", "")]


def test_the_first_night_of_a_new_champion_says_the_pd_changes_are_partly_the_models(tmp_path) -> None:
    """s39-walk: the quarterly retrain of 2025-03-31 promoted v2; that night's report compared v2's PDs with
    v1's of 2025-02-28 ("Largest PD increases", band moves, 9 PD jumps on the watchlist) and said nothing of the
    new model (header: "previous run: 2025-02-28"). Now the header and the changes section name the version
    that scored the previous run; a night scored by the same version says nothing more."""
    import re

    import numpy as np

    from pipelines.report import render_report
    from pipelines.scoring.watchlist import compare_with_previous
    from tests.pipelines.test_report import CFG, scores

    prev = scores([0.01, 0.02, 0.2], ["a", "b", "c"]).assign(model_version="1")
    today = scores([0.12, 0.02, 0.25], ["a", "b", "c"])
    scored = compare_with_previous(today, prev)

    def page(version: str) -> str:
        return render_report(
            as_of="2024-06-30", model={"name": "ews-pd", "version": version}, config_hash="0" * 64,
            scored=scored, previous=prev, previous_as_of="2024-05-31",
            watchlist=scored.assign(triggers="jump", reason_1="late").head(1), reason_columns=["reason_1"],
            counts={"scored": 3, "in_default": 0, "flagged": 1, "queue": 0, "expected_loss": 0.0, "bands": {},
                    "triggers": {}},
            drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
            calibration=None, waterfalls=[], cfg=CFG,
        )  # fmt: skip

    new = page("2")
    # a monthly book's previous run is a month old: the section read "Yesterday vs today" (s39-walk)
    assert "<h2>Changes since the previous run</h2>" in new and "Yesterday" not in new
    assert "previous run: 2024-05-31 (scored by version 1)" in re.sub(r"\s+", " ", new)
    said = re.search(r'<p class="note status-accepted" id="model-changed">(.*?)</p>', new)
    assert said is not None and said.group(1).startswith(
        "The previous run was scored by version 1 of ews-pd, tonight's by version 2:"
    )
    same = page("1")
    assert 'id="model-changed"' not in same and "scored by version" not in same
    assert np.isclose(scored["pd_change"].iloc[0], 0.11)


def test_the_console_says_when_the_previous_run_was_scored_by_another_version(tmp_path) -> None:
    """s39-walk: `ews score --as-of 2025-03-31` printed "nightly 2025-03-31 with ews-pd v2" and "PD jump 9"
    although 2025-02-28 was scored by v1. The manifest now records the previous run's version
    (`previous_model_version`) and the first line says it; the same version (or no previous run) adds nothing."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    def first_line(previous: str | None) -> str:
        manifest = {
            "as_of": "2025-03-31", "model": {"name": "ews-pd", "version": "2"}, "timings_s": {"score": 1.0},
            "previous_run": "2025-02-28" if previous else None, "previous_model_version": previous,
            "counts": {"scored": 10, "in_default": 1, "flagged": 2, "triggers": {"jump": 2}, "queue": 3,
                       "expected_loss": 5.0},
            "drift": {"status": "ok"},
        }  # fmt: skip
        console = Console(record=True, width=400)
        _summary(console, SimpleNamespace(manifest=manifest, path=tmp_path / "2025-03-31"))
        return console.export_text().splitlines()[0]

    assert first_line("1") == (
        "nightly 2025-03-31 with ews-pd v2 (the previous run, 2025-02-28, was scored by v1: tonight's PD changes, "
        "PD jumps and band moves are partly the new model's, not the debtors')"
    )
    assert first_line("2") == first_line(None) == "nightly 2025-03-31 with ews-pd v2"


def test_watchlist_history_prints_no_band_for_an_override_without_one(tmp_path) -> None:
    """s39-walk: `ews watchlist history D0000010` printed "(by A. Jansen, run reviewed 2025-01-31, PD then
    21.10%, band nan)" for an override recorded without --band; with --band C it says "band C"."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.scoring.overrides import Override, append_override

    runs = tmp_path / "runs"
    (runs / "2025-01-31").mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": pd.Series(["D1", "D2"], dtype="string"), "pd": [0.21, 0.13], "in_default": [False, False],
         "band": ["E", "D"]}
    ).to_parquet(runs / "2025-01-31" / "scores.parquet", index=False)  # fmt: skip
    reviewed = dt.date(2025, 1, 31)
    append_override(
        runs, Override("D1", "cleared", "paid on 3 Feb", "A. Jansen", reviewed, 0.211, None, None)
    )
    append_override(runs, Override("D2", "under_review", "watching", "A. Jansen", reviewed, 0.129, "C", None))
    said = {}
    for debtor in ("D1", "D2"):
        result = CliRunner().invoke(
            app, ["watchlist", "history", debtor, "--out", str(runs)], env={"COLUMNS": "300"}
        )
        assert result.exit_code == 0, result.output
        said[debtor] = result.output
    assert "(by A. Jansen, run reviewed 2025-01-31, PD then 21.10%)" in said["D1"] and "nan" not in said["D1"]
    assert "(by A. Jansen, run reviewed 2025-01-31, PD then 12.90%, band C)" in said["D2"]


def test_a_flagged_debtor_back_in_the_queue_keeps_its_watchlist_owner(tmp_path) -> None:
    """s39-walk: D0000025 (escalated) was Chloe's in the queue of 2025-02-28; on 2025-03-31 nothing was
    overdue, so it left the queue, and the watchlist kept Chloe as its owner; on 2025-04-30 it was overdue
    again and the queue gave it to Ben (the lowest load), who then also owned it on the watchlist. Last
    night's owners are now read from the queues, then the watchlist: D2 stays Chloe's. A queue's owner wins
    over the watchlist's (D1), and an 'unassigned' watchlist owner is no owner (D3 is spread by capacity)."""
    from pipelines.config.teams import Collector
    from pipelines.scoring.owners import assign_owners, last_night_owners

    night = tmp_path / "2025-03-31"
    night.mkdir()

    def frame(ids: list[str], owners: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {"debtor_id": pd.Series(ids, dtype="string"), "owner": pd.Series(owners, dtype="string")}
        )

    frame(["D1"], ["Anna"]).to_parquet(night / "collections_queue.parquet")
    frame(["D1", "D2", "D3"], ["Ben", "Chloe", "unassigned"]).to_parquet(night / "watchlist.parquet")
    previous = last_night_owners(night)
    assert previous.to_dict() == {"D1": "Anna", "D2": "Chloe", "D3": "unassigned"}
    assert last_night_owners(None) is None
    team = [
        Collector(name="Anna", capacity=5),
        Collector(name="Ben", capacity=5),
        Collector(name="Chloe", capacity=5),
    ]
    tonight = pd.DataFrame(
        {"debtor_id": pd.Series(["D2", "D1", "D3"], dtype="string"), "segment": "construction"}
    )
    got = assign_owners(tonight, team, previous, "collections")
    # D2 keeps Chloe, D1 keeps Anna; D3 goes to the lowest load: Ben (0 of 5)
    assert got["owner"].tolist() == ["Chloe", "Anna", "Ben"]


def test_an_in_sample_backtest_names_a_registered_version_that_saw_none_of_its_outcomes() -> None:
    """s39-walk: `ews backtest --from 2025-01-31 --to 2025-12-31` with the champion v5 (roll-rate, trained
    through 2025-12-31) was IN-SAMPLE on 11 month-ends and said to train a model with snapshots.end <=
    2024-10-31; v1 (roll-rate, trained through 2024-12-31) was in the registry and `--model 1` was out of
    sample for all 12. Now the note names it. By hand: a roll-rate version saw outcomes up to its
    trained_through, a LightGBM one up to trained_through + 90 days; v1 (2024-12-31, roll-rate) and v2
    (2024-09-30, LightGBM: labels to 2024-12-29) are out of sample from 2025-01-31, v3 (2025-03-31) is not,
    v4 was trained under a 15-day definition and v5 was deleted."""
    import json
    from types import SimpleNamespace

    from features.params import DefaultDefinition
    from pipelines.backtest import leak_free_versions, leakage, leakage_note

    here = DefaultDefinition()
    other = json.dumps({**here.as_record(), "dpd_threshold": 15})

    def rec(v: str, through: str, kind: str, definition: str | None = None, deleted: bool = False):
        tags = {"ews.trained_through": through, "ews.kind": kind}
        if definition:
            tags["ews.definition"] = definition
        return SimpleNamespace(version=v, tags=tags, deleted=deleted)

    records = [
        rec("1", "2024-12-31", "rollrate", json.dumps(here.as_record())),
        rec("2", "2024-09-30", "lightgbm"),
        rec("3", "2025-03-31", "rollrate"),
        rec("4", "2024-06-30", "rollrate", other),
        rec("5", "2024-06-30", "rollrate", deleted=True),
    ]
    dates = list(pd.date_range("2025-01-31", "2025-12-31", freq="ME"))
    got = leak_free_versions(records, dates, 90, here)
    assert got == [("2", "2024-12-29"), ("1", "2024-12-31")]
    champion = SimpleNamespace(tags={"ews.trained_through": "2025-12-31", "ews.kind": "rollrate"})
    leak = leakage(champion, dates, 90)
    assert len(leak["in_sample"]) == 11
    note = leakage_note({**leak, "leak_free_versions": got})
    assert (
        "the figures there flatter it. Version 2 in the registry saw none of these outcomes (labels observed up to "
        "2024-12-29): pass --model 2. Or train a model with snapshots.end <= 2024-10-31" in note
    )
    assert "the figures there flatter it. Train a model with" in leakage_note(leak)


def test_backtest_refit_every_runs_past_its_imports(tmp_path) -> None:
    """s39-walk: `ews backtest --refit-every 3` on the walk's book ended in a traceback, "ImportError: cannot
    import name 'view' from 'pipelines.adapters'" (67ebd4b imported a module that does not exist; no test ran
    the command with --refit-every). On a ledger of 2024-01-01..2024-04-27 a walk-forward from 2024-01-31
    has no month-end whose 90-day label is observed by then: now the command's own refusal (exit 2), as
    walk_forward words it, not a traceback."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_hostile_s4 import _ingest, _ledger

    data = tmp_path / "data"
    assert _ingest(_ledger(tmp_path / "in"), data).exit_code == 0
    args = ["backtest", "--data", str(data), "--out", str(tmp_path / "bt"), "--from", "2024-01-31"]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}", "COLUMNS": "300"}
    result = CliRunner().invoke(app, [*args, "--to", "2024-03-31", "--refit-every", "1"], env=env)
    assert result.exit_code == 2, result.output
    assert "no month-end with a label observed by 2024-01-31" in " ".join(result.output.split())


def test_a_debtor_page_says_if_paid_beside_the_date_of_an_invoice_unlikely_to_be_paid(tmp_path) -> None:
    """s39-walk: D0000049's page (2024-12-31) showed invoice I000004900061 "expected paid 2025-01-05,
    p10-p90 2025-01-02 - after horizon, P(paid 30 d) 43%": expected_paid_on is the median given payment within
    the horizon, and its p_paid_in_horizon was 0.47. Now a date whose invoice is more likely never paid in the
    horizon reads "2024-07-19 if paid (47% chance)"; INV-A2 (90 %) keeps its date alone."""
    import datetime as dt

    import numpy as np

    from pipelines.engine import Book
    from pipelines.report import render_report
    from pipelines.report.portfolio import build_portfolio
    from tests.pipelines.test_report import BOOK, CFG, run_outputs, scores

    run_outputs(tmp_path / "out", tmp_path / "stage")
    fc = pd.read_parquet(tmp_path / "stage" / "invoice_forecast.parquet")
    fc.assign(p_paid_in_horizon=[0.47, 0.9]).to_parquet(tmp_path / "stage" / "invoice_forecast.parquet")
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    view = build_portfolio(Book.in_memory(BOOK, 4), dt.date(2024, 6, 30), today, pd.Index(["a"]), CFG, "EUR",
                           tmp_path / "out", tmp_path / "stage")  # fmt: skip
    html = render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.assign(triggers="threshold", reason_1="late",
        pd_change=np.nan, band_prev=None).head(1), reason_columns=["reason_1"], counts={"scored": 4,
        "in_default": 0, "flagged": 1, "queue": 0, "expected_loss": 0.0, "bands": {}, "triggers": {}},
        drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
        calibration=None, waterfalls=[], cfg=CFG, portfolio=view,
    )  # fmt: skip
    row = html[html.index("INV-A1") : html.index("</tr>", html.index("INV-A1"))]
    assert "2024-07-19 if paid (47% chance)</td>" in row
    row = html[html.index("INV-A2") : html.index("</tr>", html.index("INV-A2"))]
    assert "2024-07-26</td>" in row and "if paid" not in row


def test_the_console_names_the_variables_behind_a_drift_warning(tmp_path) -> None:
    """s39-walk: `ews score --as-of 2025-08-31` ended its summary with "drift warning" and nothing more; the
    manifest held days_since_last_invoice at PSI 0.115 (warning). Now the line names the variables that
    warned or alerted, the largest PSI first; "drift ok" stays as it was."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    def said(variables: list[dict]) -> str:
        status = "warning" if any(v["status"] == "warning" for v in variables) else "ok"
        manifest = {
            "as_of": "2025-08-31", "model": {"name": "ews-pd", "version": "3"}, "timings_s": {"score": 1.0},
            "counts": {"scored": 10, "in_default": 1, "flagged": 2, "triggers": {}, "queue": 3, "expected_loss": 5.0},
            "drift": {"status": status, "variables": variables},
        }  # fmt: skip
        console = Console(record=True, width=400)
        _summary(console, SimpleNamespace(manifest=manifest, path=tmp_path / "2025-08-31"))
        return console.export_text()

    ok = {"variable": "score", "psi": 0.0408, "status": "ok"}
    cal = {"variable": "tenure_days", "psi": 0.3, "status": "calendar"}
    warn = {"variable": "days_since_last_invoice", "psi": 0.115, "status": "warning"}
    warn2 = {"variable": "dpd_max_180d", "psi": 0.2, "status": "warning"}
    assert (
        "; drift warning (dpd_max_180d PSI 0.20, days_since_last_invoice PSI 0.12; report.html, Drift)\n"
        in said([ok, cal, warn, warn2])
    )
    assert said([ok, cal]).split("\n")[1].endswith("; drift ok")


def test_models_list_says_when_the_versions_figures_come_from_different_test_windows() -> None:
    """s39-walk: `ews models list` on a year of quarterly retrains showed AUC 0.9260, 0.9526, 0.8914, ... as if
    the versions were compared; each was measured on its own test window. Two windows: the note; one window
    (or one version): none."""
    from pipelines.commands.models import windows_note

    rows = [{"test_as_of": "2023-11-30..2024-09-30"}, {"test_as_of": "2024-02-29..2024-12-31"}]
    assert windows_note(rows, paydate=False) == (
        "AUC and ECE: each version on its own test window (2 different here; `--wide` shows them), so they do "
        "not compare versions; the gate compared each challenger with the champion on the same rows when it "
        "could (`ews models history --verbose`)"
    )
    assert windows_note(rows, paydate=True).startswith(
        "MAE and coverage: each version on its own test window"
    )
    assert windows_note(rows[:1] * 2, paydate=False) == "" and windows_note([], paydate=False) == ""
