"""Session 31 (s31-ux): what the three users read and do, walked on books ews had never seen."""

from __future__ import annotations

import pytest

from pipelines.config.nightly import NightlyConfig
from tests.pipelines.test_backtest import DATES, Version, _list_size_panel

# ---------------------------------------------------------------- the backtest's list sizes name the PD floor


def _floored() -> NightlyConfig:
    """The rank trigger with a PD floor of 0.25 and no hold (each month-end's list is its own)."""
    return NightlyConfig.model_validate(
        {"triggers": {"rank": {"min_pd": 0.25}}, "watchlist": {"stay_top_share": None}}
    )


def test_list_sizes_count_the_debtors_the_pd_floor_left_off() -> None:
    """The hand panel of test_backtest (10 live debtors, 3 month-ends), rank alone at the top 50 %
    (rank <= 5), PD floor 0.25. Jan: D6 .60 D0 .50 D1 .40 D2 .30 | D3 .20 under the floor; Feb: D0 D1
    D6 .35 D2 | D3; Mar: D0 D1 D2 | D3 .20, D4 .10 -> 11 flagged of 30 live debtor-months, 4 inside the
    top 50 % but under the floor. Before: the row gave list 11/30 and never said why it was not 15/30."""
    from pipelines.backtest import list_size_figures

    rows = {(r["rule"], r["share"]): r for r in list_size_figures(_list_size_panel(), _floored(), [0.5])}
    rank = rows[("rank", 0.5)]
    assert rank["list_share"] == pytest.approx(11 / 30)
    assert rank["min_pd"] == pytest.approx(0.25)
    assert rank["under_floor_share"] == pytest.approx(4 / 30)


def test_the_backtests_list_lines_and_page_name_the_pd_floor(tmp_path) -> None:
    """`ews backtest` printed 'rank  top 20%: list 19.6% of live debtors' (demo book, seed 3133) with no
    word of triggers.rank.min_pd, which kept the other 0.4 % off the list; backtest.html neither."""
    from pipelines.backtest import BacktestResult, backtest_figures, leakage, list_size_figures
    from pipelines.backtest_report import render_backtest
    from pipelines.commands.backtest import list_size_lines

    rows = [
        {"rule": "rank", "share": 0.2, "list_share": 0.196, "precision": 0.044, "recall": 1.0,
         "lead_time_median_days": 77.0, "min_pd": 0.005, "under_floor_share": 0.004},
        {"rule": "rules", "share": 0.2, "list_share": 0.2, "precision": 0.044, "recall": 1.0,
         "lead_time_median_days": 77.0, "min_pd": 0.005, "under_floor_share": 0.0},
    ]  # fmt: skip
    lines = list_size_lines(rows)
    assert lines[0] == (
        "Watchlist at other sizes: the live debtors with the highest PDs (the rank trigger at each top share; "
        "a PD of at least 0.50%, triggers.rank.min_pd), alone or with the other triggers"
    )
    assert lines[1] == (
        "  Highest PDs alone, top 20%: list 19.6% of live debtors (0.4% more were in the top 20% with a PD "
        "under 0.50%), "
        "precision 4.4%, recall 100.0%, strict lead 77 days"
    )
    assert (
        lines[2]
        == "  Highest PDs + the other triggers, top 20%: list 20.0% of live debtors, precision 4.4%, recall 100.0%, "
        "strict lead 77 days"
    )

    from pipelines.backtest import flag_panel

    panel = _list_size_panel()
    flagged = panel.assign(
        flagged=flag_panel(panel, DATES, _floored()),
        open_balance=100.0,
        overdue_amount=0.0,
        dpd=0.0,
        segment="s",
    )
    out = backtest_figures(flagged, _floored())
    result = BacktestResult(
        figures=out["figures"],
        months=out["months"],
        curves=out["curves"],
        lead_times=out["lead_times"],
        leakage=leakage(Version({"ews.trained_through": "2023-12-31"}), DATES, 90),
        settings={"data": "d", "currency": "EUR"},
        list_sizes=list_size_figures(panel, _floored(), [0.5]),
    )
    page = render_backtest(result, "")
    assert "The rank trigger never flags a PD under 25.00% (<code>triggers.rank.min_pd</code>)" in page
    assert "<th>in the top share but under the PD floor (left off)</th>" in page
    assert "13.3 %" in page  # 4 of 30 live debtor-months, as the table shows shares


# ---------------------------------------------------------------- the data scientist: champion-on reads ISO dates only


@pytest.mark.parametrize("when", ["01.02.2024", "02/01/2024", "1 Feb 2024"])
def test_champion_on_refuses_a_date_it_would_read_another_way(mlflow_uri, when: str) -> None:
    """`ews models champion-on 01.02.2024` (1 February to a German analyst) answered for 2024-01-02:
    pandas read the day as the month. Now any date that is not YYYY-MM-DD[THH:MM] is refused, exit 2."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", when, "--runs", "/nonexistent"])
    assert result.exit_code == 2, result.output
    assert f"error: {when!r} is not a date/time; use YYYY-MM-DD[THH:MM], e.g. 2026-03-31" in result.output
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(app, ["models", "champion-on", "2024-02-01", "--runs", "/nonexistent"])
    assert ok.exit_code == 1 and "no champion of ews-pd at 2024-02-01 23:59:59.999999 UTC" in ok.output


# ---------------------------------------------------------------- the analyst: a German export's customer names


def test_a_customer_number_column_named_nr_brings_the_name_beside_it(tmp_path) -> None:
    """A small German company's AR export ('Kundennr.' and 'Kunde' side by side, ';', 1.720,81,
    dd.mm.yyyy): `ews sources suggest` mapped 'Kundennr.' to debtor_id and left 'Kunde' (the name)
    unmapped, so the watchlist, the queues and report.html showed no debtor names (walk on
    benchmarks/third_book.py seed 32, 120 debtors). 'Nr.' is German for number, as 'No.' in English."""
    import pandas as pd

    from tests.pipelines.test_sources_suggest import _suggest_check_ingest

    export = tmp_path / "Offene_Posten.csv"
    export.write_text(
        "Rechnungsnr.;Kundennr.;Kunde;Rechnungsdatum;Fälligkeit;Betrag;Währung;Bezahlt am\n"
        "R-1;K1;Müller GmbH;01.01.2024;31.01.2024;1.720,81;EUR;28.01.2024\n"
        "R-2;K1;Müller GmbH;01.02.2024;02.03.2024;980,00;EUR;\n"
        "R-3;K2;Schmidt AG;15.01.2024;14.02.2024;2.500,00;EUR;20.02.2024\n",
        encoding="utf-8",
    )
    manifest, cfg = _suggest_check_ingest(export, tmp_path)
    assert cfg.ar_export.columns["debtor_id"] == "Kundennr."
    assert cfg.ar_export.columns.get("name") == "Kunde"
    assert manifest["tables"]["debtors"]["rows_accepted"] == 2
    names = pd.read_parquet(tmp_path / "out" / "debtors").sort_values("debtor_id")["name"].tolist()
    assert names == ["Müller GmbH", "Schmidt AG"]


# ---------------------------------------------------------------- the collections lead: what a teams file leaves unowned


def test_a_teams_file_whose_segment_differs_in_case_is_named_with_the_rows_left_unassigned() -> None:
    """Walk (demo book, seed 3133): conf/teams.yaml gave Ben `segments: [retail, Services]`; the book's
    segment is 'services', so its 49 queue rows, with those of segments nobody covers, went to
    'unassigned' (382 of 604) and `ews score` said nothing. By hand: 5 queue rows, Anna covers
    construction, Ben retail and 'Services'; rows of services (2) and logistics (1) are unassigned;
    the recovery queue's one construction row goes to Anna. 'DE ' (a space) is close to DE; 'PL' has
    no debtor and nothing close: no mistake, not named."""
    import pandas as pd

    from pipelines.config.teams import Collector
    from pipelines.scoring.owners import assign_owners, coverage_gaps, owner_gaps_note

    collectors = (
        Collector(name="Anna", segments=("construction",), countries=("DE ", "PL"), capacity=5),
        Collector(name="Ben", segments=("retail", "Services"), capacity=5),
    )
    queue = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3", "D4", "D5"],
            "segment": ["construction", "services", "retail", "services", "logistics"],
            "country": ["DE", "DE", "FR", "FR", "DE"],
        }
    )
    recovery = pd.DataFrame({"debtor_id": ["D6"], "segment": ["construction"], "country": ["DE"]})
    scored = pd.concat([queue, recovery], ignore_index=True)
    q = queue.join(assign_owners(queue, collectors, None, "collections"))
    rq = recovery.join(assign_owners(recovery, collectors, None, "recovery"))
    # Anna's countries 'DE ' matches no row exactly: she covers none of them
    assert q["owner"].tolist() == ["unassigned", "unassigned", "Ben", "unassigned", "unassigned"]
    gaps = coverage_gaps(collectors, scored, {"collections": q, "recovery": rq})
    assert gaps["unassigned"] == {"collections": 4, "recovery": 1}
    assert gaps["uncovered"] == ["construction", "logistics", "services"]
    assert gaps["uncovered_countries"] == ["DE", "FR"]  # Anna names countries: the unowned rows' (s34-walk)
    assert gaps["unknown"] == [
        "Ben: segment 'Services' (the book has 'services')",
        "Anna: country 'DE ' (the book has 'DE')",
    ]
    assert owner_gaps_note(gaps) == (
        "4 of 5 collections queue rows and 1 of 1 recovery queue row went to 'unassigned': no collector in the "
        "teams file covers them (segments construction, logistics, services; countries DE, FR); the teams file "
        "names values no "
        "debtor has: Ben: segment 'Services' (the book has 'services'); Anna: country 'DE ' (the book has 'DE') "
        "(names are compared exactly, case included)"
    )
    assert coverage_gaps((), scored, {"collections": q}) == {}


# ---------------------------------------------------------------- the collections lead: overrides and history


def test_an_override_of_an_id_in_the_wrong_case_names_the_id_of_the_run(tmp_path) -> None:
    """Walk (demo book): `ews watchlist override d0000390 ...` said "... not in the latest published run
    ...; check the id" while D0000390 was on the watchlist. Now it names it; an id with no near match
    still says "check the id"."""
    import datetime as dt

    from tests.pipelines.test_watch_overrides import invoke, publish_scores

    publish_scores(tmp_path, dt.date(2024, 8, 31), [("D0000390", 0.17, False), ("D0000037", 0.16, False)])
    res = invoke("watchlist", "override", "d0000390", "--status", "cleared", "--reason", "paid", "--by", "anna",
                 "--out", str(tmp_path))  # fmt: skip
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.strip().endswith("(scores.parquet); did you mean 'D0000390'?"), res.output
    res = invoke("watchlist", "override", "D9", "--status", "cleared", "--reason", "paid", "--by", "anna",
                 "--out", str(tmp_path))  # fmt: skip
    assert res.exit_code == 2 and res.output.strip().endswith("(scores.parquet); check the id"), res.output


def test_history_with_an_out_folder_that_does_not_exist_says_so(tmp_path) -> None:
    """`ews watchlist history D0000390 --out nowhere` said "debtor 'D0000390' is in no published run
    under nowhere and has no override; check the id and --out": the id was right, the folder absent."""
    from tests.pipelines.test_watch_overrides import invoke

    res = invoke("watchlist", "history", "D0000390", "--out", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"--out {tmp_path / 'nowhere'}: no such folder" in res.output, res.output
    assert "check the id" not in res.output


def test_ews_scores_summary_prints_the_owners_line_before_the_outputs(tmp_path) -> None:
    """The summary of a run whose manifest carries counts.owners (the walk's teams file) prints it once,
    after the counts, before the outputs line (the flow-run log's WARNING is left out of the console)."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    owners = {
        "unassigned": {"collections": 382, "recovery": 0},
        "rows": {"collections": 604, "recovery": 42},
        "unknown": ["Ben: segment 'Services' (the book has 'services')"],
        "uncovered": ["logistics", "services"],
    }
    manifest = {
        "as_of": "2024-12-31",
        "model": {"name": "ews-pd", "version": "1"},
        "timings_s": {"score": 1.0},
        "counts": {"scored": 1000, "in_default": 42, "flagged": 240, "triggers": {}, "queue": 604,
                   "expected_loss": 5.0, "owners": owners},
        "drift": {"status": "ok"},
        "feed": {"status": "passed", "references": ["the training data"], "override": None, "note": ""},
    }  # fmt: skip
    console = Console(record=True, width=400)
    _summary(console, SimpleNamespace(manifest=manifest, path=tmp_path / "2024-12-31"))
    text = console.export_text()
    line = (
        "owners: 382 of 604 collections queue rows went to 'unassigned': no collector in the teams file covers "
        "them (segments logistics, services); the teams file names values no debtor has: Ben: segment "
        "'Services' (the book has 'services') (names are compared exactly, case included)"
    )
    assert text.count(line) == 1, text
    assert text.index("owners: ") < text.index("outputs: ")


# ---------------------------------------------------------------- the analyst's workbooks


def test_credit_limits_workbook_shows_payment_terms_in_whole_days(tmp_path) -> None:
    """credit_limits.xlsx showed 'Payment terms (days)' as 30.00 and 14.00 (#,##0.00, the amounts'
    format); days read as days: format 0, the value kept (a mean of 37.5 days shows 38)."""
    import datetime as dt

    import openpyxl

    from pipelines.scoring.limits import write_credit_limits
    from tests.pipelines.test_credit_limits import POLICY, add_credit_limits, scores_frame

    # every debtor invoiced in the 365-day window (the default since session 41), so each has terms (c, in
    # default, 36,500 on 30-day terms: 30 days, limit 0)
    frame = scores_frame().assign(
        open_balance=[500.0, 8000.0, 500.0], invoice_amount_365d=[36_500.0, 73_000.0, 36_500.0]
    )
    scored = add_credit_limits(frame, None, POLICY)
    write_credit_limits(scored, tmp_path, dt.datetime(2024, 6, 30), "EUR", xlsx_rows=10)
    sheet = openpyxl.load_workbook(tmp_path / "credit_limits.xlsx")["credit limits"]
    header = [c.value for c in sheet[1]]
    col = header.index("Payment terms (days)") + 1
    cells = [sheet.cell(row=r, column=col) for r in range(2, 5)]
    assert [c.number_format for c in cells] == ["0", "0", "0"]
    assert all(isinstance(c.value, int | float) for c in cells)
    amounts = header.index("Exposure at default (EUR)") + 1
    assert sheet.cell(row=2, column=amounts).number_format == "#,##0.00"


# ---------------------------------------------------------------- ews train's refusal, once


def test_a_book_too_short_to_train_is_refused_once(prefect_harness, mlflow_uri, tmp_path) -> None:
    """Walk: the analyst's export cut to 5 months (120 debtors, 4 month-ends): `ews train` printed its
    1,400-character refusal four times, as the task's ERROR, the task's failed state, the flow's ERROR
    and the failed flow's state, before the command's own `error:` line. Now once, the `error:` line."""
    from pipelines.ingest import ingest_dir
    from pipelines.synthetic import GeneratorParams, generate
    from tests.pipelines.test_ux_s26 import _ews

    raw = tmp_path / "book"
    generate(GeneratorParams(debtors=40, months=4, seed=5), raw)
    ingest_dir(raw, raw / "ingested")
    done = _ews("train", "--data", str(raw / "ingested"), cwd=tmp_path, columns=400)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    (error,) = [line for line in output.splitlines() if line.startswith("error: ")]
    text = error.removeprefix("error: ")[:80]
    assert len(text) == 80 and output.count(text) == 1, output[-5000:]


# ---------------------------------------------------------------- the data scientist: ews models history


def test_a_retirement_names_the_version_that_replaced_it() -> None:
    """Walk (demo book): after the gate made v2 champion, `ews models history` showed
    "v1   retired   root   Promoted: every check passed." (v2's promotion reason on v1's line)."""
    import json

    from pipelines.adapters.registry_view import EVENTS_TAG, VersionRecord, decision_events

    events = [
        {"event": "retired", "at": "2026-12-06T07:03:00+00:00", "by": "root", "replaced_by": "2",
         "reason": "Promoted: every check passed. Checks: ok a; ok b"},
    ]  # fmt: skip
    record = VersionRecord("1", 0, "r", {EVENTS_TAG: json.dumps(events)}, ())
    (row,) = decision_events([record])
    assert row["summary"] == "replaced by v2, whose promotion said: Promoted: every check passed."
    assert row["reason"] == "Promoted: every check passed. Checks: ok a; ok b"  # --verbose: as recorded


# ---------------------------------------------------------------- the analyst's ingest summary


def test_the_ingest_summary_says_how_many_reasons_it_left_out() -> None:
    """Walk: the German export with 5 bad rows (6 reasons) printed "amount_not_positive (1),
    due_before_issue (1), duplicate_row (1)" under "top reasons" for 5 quarantined rows: the other 3
    reasons (unparseable_date, unparseable_number, missing_value) unsaid. Now ", 3 more reasons"."""
    from pathlib import Path

    from rich.console import Console

    from pipelines.commands.ingest import print_summary

    reasons = {"amount_not_positive": 1, "due_before_issue": 1, "duplicate_row": 1,
               "missing_value:debtor_id": 1, "unparseable_date:issue_date": 1, "unparseable_number:amount": 1}  # fmt: skip
    table = {"rows_in": 205, "rows_accepted": 200, "rows_quarantined": 5, "reasons": reasons}
    two = {
        "rows_in": 197,
        "rows_accepted": 195,
        "rows_quarantined": 2,
        "reasons": {"duplicate_row": 1, "x": 1},
    }
    manifest = {"source": {"name": "offene_posten"}, "tables": {"invoices": table, "payments": two},
                "layout": {"buckets": 1}, "as_of": "2026-12-06"}  # fmt: skip
    console = Console(record=True, width=300)
    print_summary(console, manifest, Path("data/bad"))
    lines = console.export_text().splitlines()
    (invoices,) = [line for line in lines if "│ invoices" in line]
    assert "amount_not_positive (1), due_before_issue (1), duplicate_row (1), 3 more reasons" in invoices
    (payments,) = [line for line in lines if "│ payments" in line]
    assert "duplicate_row (1), x (1) " in payments + " " and "more reason" not in payments
