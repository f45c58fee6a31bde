"""Session 36 (s36-walk): the leftovers a user trips over, and a user's first month on a small export.

Each test is one place a walk tripped over; its docstring says what was seen and what is now."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import typer

from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import FeedCheckError, evaluate_feed, table_lag

WORKING_DAYS = pd.Series(1, index=pd.bdate_range("2024-09-02", "2024-12-31"))


def _lag(last: str, as_of: str) -> dict:
    return table_lag(WORKING_DAYS[WORKING_DAYS.index <= last], pd.Timestamp(as_of))


def _refusal() -> FeedCheckError:
    """A book paid and invoiced every working day; on Tuesday 17 December 2024 its payments stop on
    Friday 6th (7 usual payment days, 11 days), its invoices on Monday 16th; the run of 4 December
    lagged 3 usual payment days."""
    pay = _lag("2024-12-06", "2024-12-17") | {"file": "exports/payments.csv"}
    today = {
        "rows": {"invoices": 6_000, "payments": 5_000},
        "accepted": {"invoices": 6_000, "payments": 5_000},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
        "lags": {"invoices": _lag("2024-12-16", "2024-12-17"), "payments": pay},
    }
    then = _lag("2024-12-13", "2024-12-16") | {"published": {"2024-12-04": 3, "2024-12-16": 1}}
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(
            today,
            NightlyConfig(),
            previous=("the previous run 2024-12-16", {"lags": {"payments": then}}),
            training=None,
            as_of=dt.date(2024, 12, 17),
        )
    return info.value


def test_the_payments_lag_refusal_is_short_and_its_figures_are_behind_verbose() -> None:
    """s35-walk W4: the refusal was one ~900-character paragraph that said "0 usual payment days" five
    times (the limit's make-up twice). Now two lines: how far behind against the usual lag, the file
    and both dates, then the fix; the make-up of the limit is in ``full`` (`ews score --verbose`)."""
    error = _refusal()
    line = next(x for x in str(error).splitlines() if x.startswith("  - payments_lag_days"))
    fix = str(error).splitlines()[str(error).splitlines().index(line) + 1]
    assert line == (
        "  - payments_lag_days: the payments feed looks 7 usual payment days (Mon-Fri; 11 days) behind (usually "
        "at most 3): the latest payment in exports/payments.csv is dated 2024-12-06, the latest invoice "
        "2024-12-16, so invoices paid since 2024-12-06 would look unpaid."
    )
    assert fix.startswith(
        "    Fix: send the payments up to 2024-12-17, or score 2024-12-06 (`ews score --as-of 2024-12-06`)"
    )
    assert len(line) + len(fix) < 500 and "0 usual payment days" not in str(error)
    assert (
        "0 usual payment days" in error.full and "the largest payments lag of the run published" in error.full
    )


def test_ews_score_says_where_the_refusals_figures_are(tmp_path: Path, monkeypatch, capsys) -> None:
    """Without --verbose `ews score` prints the short refusal and where the rest is; with it, the whole."""
    import pipelines.flows.nightly as nightly
    from pipelines.commands.score import _run_one

    error = _refusal()

    def refused(**_: object) -> None:
        raise error

    monkeypatch.setattr(nightly, "preflight", lambda config: None)
    monkeypatch.setattr(nightly, "run", refused)
    day = dt.date(2024, 12, 17)
    for verbose in (False, True):
        with pytest.raises(typer.Exit) as done:
            _run_one(day, tmp_path / "data", tmp_path / "runs", tmp_path / "nightly.yaml", verbose=verbose)
        assert done.value.exit_code == 3
        said = capsys.readouterr().err
        assert ("0 usual payment days" in said) is verbose
        pointer = (
            f"rerun with --verbose, or read {tmp_path / 'runs' / '.rejected' / '2024-12-17.feed_checks.json'}"
        )
        assert (pointer in " ".join(said.split())) is not verbose


def test_who_is_recorded_by_one_rule_in_every_command(tmp_path: Path) -> None:
    """s35-walk W7: `ews watchlist override` required --by while `ews train`, `ews models promote` and
    `--accept-feed` recorded EWS_USER or the login: two ways of naming the person. Now one rule, said in
    the --help of every command that records who: --by when given, else EWS_USER, else the login name."""
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_watch_overrides import RUN, publish_scores

    publish_scores(tmp_path, RUN, [("D1", 0.08, False), ("D2", 0.30, False)])

    def override(debtor: str, *by: str) -> object:
        args = ["watchlist", "override", debtor, "--status", "escalated", "--reason", "rumours", *by]
        return CliRunner().invoke(app, [*args, "--out", str(tmp_path)], env={"EWS_USER": "A. Jansen"})

    assert override("D1").exit_code == 0  # before: exit 2, "--by is empty"
    assert override("D2", "--by", "B. Berg").exit_code == 0
    refused = override("D2", "--by", " ")
    assert refused.exit_code == 2 and "--by is empty" in refused.output
    lines = [json.loads(x) for x in (tmp_path / "overrides.jsonl").read_text().splitlines()]
    assert [(x["debtor_id"], x["by"]) for x in lines] == [("D1", "A. Jansen"), ("D2", "B. Berg")]
    for command in (["watchlist", "override"], ["models", "promote"], ["models", "history"], ["train"],
                    ["score"], ["backfill"]):  # fmt: skip
        said = " ".join(CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output.split())
        assert "EWS_USER, else the login name" in said, command


def test_an_old_ar_exports_open_items_are_counted_at_its_end(tmp_path: Path) -> None:
    """s35-walk: an AR export ingested without --as-of is dated by its last dated row when that is more
    than 7 days old, but its "invoices due over a year ago are still open" count was made against
    today. 10 invoices of 2023 (settled 28 days after issue) and 20 of 2024 (the first 4 settled), the
    last issued 2024-05-20 (the export's end). Due before 2023-05-21: R100-R103, 4, all settled; 16 of 30
    open (53 %: the open-share warning stands). Against today (after 2025) all 30 were "due over a year
    ago", 16 open: a warning that they put their debtors in default."""
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app

    lines = ["Beleg;Kunde;Datum;Faellig;Betrag;Ausgeglichen am"]
    for i in range(30):
        old = i < 10
        issued = (
            dt.date(2023, 1, 2) + dt.timedelta(days=30 * i)
            if old
            else dt.date(2024, 1, 8) + dt.timedelta(days=7 * (i - 10))
        )
        settled = f"{issued + dt.timedelta(days=28):%d.%m.%Y}" if old or i < 14 else ""
        due = issued + dt.timedelta(days=30)
        lines.append(
            f"R{100 + i if old else 190 + i};K{i % 5 + 1};{issued:%d.%m.%Y};{due:%d.%m.%Y};{100 + i},00;{settled}"
        )
    (tmp_path / "opos.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "ar.yaml").write_text(
        "kind: source\nname: old_ar\ndefault_currency: EUR\ncsv: {delimiter: ';'}\n"
        "values: {date_format: d.m.Y, decimal: ',', thousands: '.'}\n"
        f"ar_export:\n  path: {tmp_path / 'opos.csv'}\n"
        "  columns: {invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}\n"
        "  settled_on: Ausgeglichen am\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["ingest", "--source", str(tmp_path / "ar.yaml"), "--out", str(out), "--no-docs"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["as_of"], manifest["as_of_from"]) == ("2024-05-20", "export_end")
    items = manifest["ar_export"]
    assert (items["invoices"], items["open"], items["due_over_a_year"], items["open_due_over_a_year"]) == (
        30,
        16,
        4,
        0,
    )
    said = [w for w in manifest["warnings"] if w.startswith("ar_export:")]
    assert len(said) == 1 and "16 of 30 invoices (53%) have no settlement" in said[0]


def test_a_receipts_journals_applied_to_column_is_the_invoice_it_paid(tmp_path: Path) -> None:
    """Walk: `ews sources suggest` of an invoice list, a payments journal and a customer list left the
    journal's 'Applied To' (the invoice each receipt paid) out ("columns not mapped: Applied To"): every
    payment would be unallocated cash. And each table's block kept its own file's note, "payments come
    from another file: add tables.payments", above the tables.payments the draft then held."""
    import yaml

    from pipelines.sources.suggest_many import suggest_sources

    (tmp_path / "invoices.csv").write_text(
        "Invoice No.,Customer No.,Invoice Date,Due Date,Total\n"
        + "".join(
            f"INV-{i},C-{i % 3},0{1 + i % 9}/03/2024,0{1 + i % 9}/04/2024,{100 + i}.00\n" for i in range(12)
        )
    )
    (tmp_path / "journal.csv").write_text(
        "Receipt No.,Date,Customer No.,Applied To,Amount\n"
        + "".join(f"R-{i},1{i % 9}/04/2024,C-{i % 3},INV-{i},{100 + i}.00\n" for i in range(10))
    )
    (tmp_path / "customers.csv").write_text(
        "Customer No.,Customer Name,Country\nC-0,Alpha,DE\nC-1,Beta,NL\nC-2,Gamma,FR\n"
    )
    draft = suggest_sources([tmp_path / "invoices.csv", tmp_path / "journal.csv", tmp_path / "customers.csv"])
    tables = yaml.safe_load(draft.text)["tables"]
    assert tables["payments"]["columns"]["invoice_id"] == "Applied To"
    assert set(tables) == {"invoices", "payments", "debtors"}
    assert "come from another file" not in draft.text and "the customer master: add" not in draft.text


def test_country_names_cleared_are_named_with_the_fix(tmp_path: Path) -> None:
    """Walk: a customer list with country names ('Spain') ingested with "debtors.country: 250 invalid
    values cleared, rows kept (bad_country (250); first source rows [1, 2, 3, 4, 5])": not which
    values, nor that ews wants the 2-letter code. Now the values as the file wrote them and the fix."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    (tmp_path / "debtors.csv").write_text(
        "debtor_id,name,country\nD1,A,Spain\nD2,B,Netherlands\nD3,C,DE\nD4,D,spain\n"
    )
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        + "".join(f"I{k},D{k},2024-01-0{k},2024-02-0{k},100\n" for k in range(1, 5))
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-01,100\n"
    )
    args = ["ingest", "--as-of", "2024-03-01", "--out", str(tmp_path / "out"), "--no-docs"]
    for table in ("invoices", "payments", "debtors"):
        args += [f"--{table}", str(tmp_path / f"{table}.csv")]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert (
        "debtors.country: 3 values not ISO-3166 alpha-2 country codes (ES, NL, GB), e.g. 'Spain', 'Netherlands', "
        "'spain': cleared, rows kept (first source rows [1, 2, 4]). Export the code instead of the name"
    ) in said


def _first_night(inv: pd.Series, pay: pd.Series, as_of: str, previous: tuple | None = None) -> list:
    """The failed checks of a night judged on a book's day counts alone (``accept``: nothing raised)."""
    lags = {"invoices": table_lag(inv, pd.Timestamp(as_of)), "payments": table_lag(pay, pd.Timestamp(as_of))}
    lags["payments"]["file"] = "exports/payments.csv"
    today = {
        "rows": {"invoices": 6_000, "payments": 5_000},
        "accepted": {"invoices": 6_000, "payments": 5_000},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
        "lags": lags,
    }
    feed = evaluate_feed(
        today,
        NightlyConfig(),
        previous=previous,
        training=None,
        as_of=dt.date.fromisoformat(as_of),
        accept=True,
    )
    return [c for c in feed["checks"] if c["status"] == "failed"]


def test_a_first_night_on_an_export_a_month_old_is_refused_against_its_own_year() -> None:
    """Task 5: a first night (no previous run) on an export a month old was published; only `ews score`'s
    data-lag warning said so (refused from 35 days). A book invoiced and paid every working day from Mon 2
    September 2024 to Fri 13 December; its longest silence is 2 days (weekends). Scored as of 15 January
    2025: both tables silent 33 days > max(7, 2 + 1): refused, naming both dates and the fix. As of Mon 16
    December (3 days) it passes; with a previous run (the nights after) the check is not made."""
    inv = pay = WORKING_DAYS[WORKING_DAYS.index <= "2024-12-13"]
    failed = _first_night(inv, pay, "2025-01-15")
    assert [(c["check"], c["value"], c["reference"]) for c in failed] == [("ledger_silence_days", 33, 2)]
    assert failed[0]["short"].startswith(
        "the export looks 33 days old: its latest invoice is dated 2024-12-13 and its latest payment 2024-12-13, "
        "while in the year before invoices never stopped for more than 2 days nor payments for more than 2 days."
    )
    assert "`ews score --as-of 2024-12-13`" in failed[0]["short"]
    assert _first_night(inv, pay, "2024-12-16") == []
    then = {"lags": {"payments": _lag("2024-12-13", "2024-12-16")}}
    assert not [
        c
        for c in _first_night(inv, pay, "2025-01-15", ("the previous run", then))
        if c["check"].startswith("ledger")
    ]


def test_a_first_night_on_an_export_with_a_month_missing_is_refused() -> None:
    """Task 5: the invoices of Tue 15 October to Thu 14 November 2024 missing (31 days: the working day
    before is Mon 14 October, the next Fri 15 November), the payments whole. As of Tue 31 December the 90
    days to it start Wed 2 October; the silences ending on or before it (Tue 3 September .. Wed 2 October,
    22 of them) are at most 2 days: 31 >= 21 and > 2 x 2: invoices_hole_days refused, the payments pass."""
    inv = WORKING_DAYS[(WORKING_DAYS.index < "2024-10-15") | (WORKING_DAYS.index > "2024-11-14")]
    failed = _first_night(inv, WORKING_DAYS, "2024-12-31")
    assert [(c["check"], c["value"], c["reference"]) for c in failed] == [("invoices_hole_days", 31, 2)]
    assert failed[0]["short"].startswith(
        "no invoice from 2024-10-15 to 2024-11-14 (31 days) in the 90 days to 2024-12-31, while in the year before "
        "invoices never stopped for more than 2 days: a month missing from the export?"
    )
    short = WORKING_DAYS[(WORKING_DAYS.index < "2024-10-15") | (WORKING_DAYS.index > "2024-11-01")]
    assert (
        _first_night(short, WORKING_DAYS, "2024-12-31") == []
    )  # 20 days (Oct 15 - Nov 3): under three weeks


NAV_PROBE = """<script>
(function () {
  var links = Array.prototype.slice.call(document.querySelectorAll("nav a"));
  var pre = parent.document.createElement("pre");
  pre.id = "nav-probe";
  pre.textContent = JSON.stringify(links.map(function (a) { return [a.textContent, a.getClientRects().length]; }));
  parent.document.body.appendChild(pre);
})();
</script>"""


def test_the_reports_section_links_do_not_break_inside_a_name_at_420_px(tmp_path) -> None:
    """Walk (report.html of the 250-customer book at 420 px): the section link "PD distribution" read "PD"
    at the end of one line and "distribution" on the next, as if two links. Each link now stays whole."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.report import render_report
    from tests.pipelines.chromium import CHROMIUM, framed_probe
    from tests.pipelines.test_report import scores

    if CHROMIUM is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    today = scores([0.08, 0.2], ["a", "b"])
    page = render_report(
        as_of="2024-06-30", model={"name": "ews-pd", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.head(0).assign(triggers="", reason_1=""),
        reason_columns=["reason_1"], counts={"scored": 2, "in_default": 0, "flagged": 0, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}},
        drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
        calibration=None, waterfalls=[], cfg=NightlyConfig(),
    )  # fmt: skip
    for width in (420, 380, 340):  # where the links wrap differs with the page's sections
        links = framed_probe(page, width, NAV_PROBE, tmp_path, "nav-probe")
        assert "PD distribution" in [name for name, _ in links]
        assert [name for name, rects in links if rects != 1] == [], (width, links)
