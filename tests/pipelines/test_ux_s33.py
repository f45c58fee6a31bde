"""Session 33 (s33-ux): what users read: the backtest's list sizes, report.html's feed checks and drift
variables in words, the quarantine's amounts in the notation the ingest read, and the debtors scored
without some of their invoices named on their own rows of the exports."""

from __future__ import annotations

# ---------------------------------------------------------------- the backtest's list sizes in words


def test_the_backtests_list_size_lines_and_table_say_the_rule_in_words() -> None:
    """`ews backtest` printed "  rank  top 2%: ..." and "  rules top 2%: ..." (the rules' codes, s32-ux
    leftover); backtest.html's list-size table had a column "rule" holding "rank" / "rules"."""
    from pipelines.backtest_report import _list_sizes_table
    from pipelines.commands.backtest import list_size_lines

    row = {"share": 0.05, "list_share": 0.05, "precision": 0.1, "recall": 0.5, "lead_time_median_days": 30.0}
    rows = [{**row, "rule": "rank"}, {**row, "rule": "rules"}]
    lines = list_size_lines(rows)
    assert lines[1] == (
        "  Highest PDs alone, top 5%: list 5.0% of live debtors, precision 10.0%, recall 50.0%, strict lead 30 days"
    )
    assert lines[2].startswith("  Highest PDs + the other triggers, top 5%: list 5.0% of live debtors")
    assert not any(line.lstrip().startswith(("rank ", "rules ")) for line in lines)
    table = _list_sizes_table(rows)
    assert "<td>Highest PDs alone</td>" in table and "<td>Highest PDs + the other triggers</td>" in table
    assert "<td>rank</td>" not in table and "<td>rules</td>" not in table


# ---------------------------------------------------------------- the quarantine's amounts in the ingest's notation

SOURCE = """
kind: source
name: decimal_comma
default_currency: EUR
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ",", thousands: "."}}
tables:
  invoices:
    path: {path}
    columns: {{invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}}
"""


def test_a_quarantine_of_grouped_whole_amounts_reads_in_the_notation_the_ingest_read(tmp_path) -> None:
    """A German export (decimal ",", thousands "."): D1's invoices R1 1.000,00 (kept), R2 "2.500" and R3
    "1.500" (both with a due date before the issue date: quarantined). The lost rows alone show no
    notation: s32's ``written_amounts`` guessed from them and said "amount unread" (s32-review leftover
    5). The ingest now records the notation it read (manifest ``values``) and the nightly reads the lost
    amounts in it: 2,500 + 1,500 = 4,000.00 (by hand)."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.flows.nightly import invoice_notation, lost_invoices, partly_quarantined

    data = tmp_path / "rechnungen.csv"
    data.write_text(
        "Beleg;Kunde;Datum;Faellig;Betrag\n"
        "R1;D1;01.03.2024;31.03.2024;1.000,00\n"
        "R2;D1;01.04.2024;01.03.2024;2.500\n"
        "R3;D1;01.05.2024;01.04.2024;1.500\n",
        encoding="utf-8",
    )
    source = tmp_path / "source.yaml"
    source.write_text(SOURCE.format(path=data), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["ingest", "--source", str(source), "--out", str(out), "--as-of", "2024-06-30", "--no-docs"]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    invoices = manifest["tables"]["invoices"]
    assert (invoices["rows_accepted"], invoices["rows_quarantined"]) == (1, 2)
    assert invoices["values"] == {"decimal": ",", "thousands": "."}
    assert invoice_notation(manifest) == {"decimal": ",", "thousands": "."}
    lost = lost_invoices({"invoices": out / "quarantine" / "invoices.csv"}, invoices["reasons"])
    assert sorted(lost["amount"].tolist()) == ["1.500", "2.500"]  # as the file wrote them
    scores = pd.DataFrame({"debtor_id": ["D1"], "pd": [0.1]})
    found = partly_quarantined(lost, scores, invoice_notation(manifest))
    # no currency column in the file (default_currency): the amounts name none, as in session 32
    assert found.to_dict(orient="records") == [{"debtor_id": "D1", "invoices": 2, "amounts": "4,000.00"}]
    # an ingest folder from before (no values in its manifest): each row's own shape, as in session 32
    assert invoice_notation({"tables": {"invoices": {}}}) is None
    assert partly_quarantined(lost, scores)["amounts"].tolist() == ["amount unread"]


def test_written_amounts_in_a_given_notation_and_the_ingests_own_suspicion() -> None:
    """Hand values. Decimal "," / thousands ".": "1.500" 1500, "12.000" 12000, "-0,50" -0.5, "1.200,50"
    1200.5. Decimal "." / thousands ",": "1.500" 1.5 as the ingest read it, but a row quarantined
    ``thousands_as_decimal:amount`` (the ingest: "read 1.5, meant 1500") 1500. A row the notation
    cannot read ("1.2.3") keeps the row-shape reading (NaN here)."""
    import math

    import pandas as pd

    from pipelines.flows.nightly import written_amounts

    german = {"decimal": ",", "thousands": "."}
    got = written_amounts(pd.Series(["1.500", "12.000", "-0,50", "1.200,50"]), german).tolist()
    assert got == [1500.0, 12000.0, -0.5, 1200.5]
    english = {"decimal": ".", "thousands": ","}
    reasons = pd.Series(["thousands_as_decimal:amount", "no_fx_rate:USD", "no_fx_rate:USD"])
    got = written_amounts(pd.Series(["1.500", "1.500", "1.2.3"]), english, reasons).tolist()
    assert got[:2] == [1500.0, 1.5] and math.isnan(got[2])


# ---------------------------------------------------------------- report.html: feed checks and drift variables in words


def _feed_report(tmp_path) -> str:
    """report.html with three feed checks (the payments feed 9 days behind: failed and accepted; the
    payments' rows; the invoices' quarantine) and two drift variables."""
    import pandas as pd

    from pipelines.report import render_report
    from tests.pipelines.test_report import CFG, scores

    checks = [
        {"check": "rows.payments", "against": "the previous run 2024-06-29", "value": 500.0, "reference": 510.0,
         "limit": "ratio 0.67 to 1.5", "status": "ok"},
        {"check": "payments_lag_days", "against": "the book's usual lag", "value": 9.0, "reference": 3.0,
         "limit": "at most 4 days behind", "status": "failed"},
        {"check": "quarantine_share.invoices", "against": "the absolute limit", "value": 0.01, "reference": None,
         "limit": "at most 20%", "status": "ok"},
    ]  # fmt: skip
    feed = {"status": "accepted", "references": ["the previous run 2024-06-29"], "note": "", "checks": checks,
            "override": {"by": "jo", "at": "2024-06-30T06:00:00+00:00",
                         "checks": ["payments_lag_days vs the book's usual lag"]}}  # fmt: skip
    drift = pd.DataFrame(
        {"variable": ["score", "dpd_max_180d", "utilisation"], "psi": [0.02, 0.31, 0.01],
         "status": ["ok", "alert", "ok"], "missing_share": [0.0, 0.0, 0.5], "reference_missing": [0.0, 0.0, 0.5]}
    )  # fmt: skip
    today = scores([0.12, 0.02], ["a", "b"])
    return render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.iloc[:0].assign(triggers="", reason_1=""),
        reason_columns=["reason_1"], counts={"scored": 2, "in_default": 0, "flagged": 0, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=drift, calibration=None, waterfalls=[],
        cfg=CFG, feed=feed,
    )  # fmt: skip


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def test_the_reports_feed_checks_read_in_words_with_what_to_do(tmp_path) -> None:
    """report.html's "Input feed" table listed ``payments_lag_days``, ``quarantine_share.invoices`` as its
    checks, and the override line "overriding: payments_lag_days vs ..." (s32-ux: not done). Now each
    check is named in words, with its code small and grey beside it; a failed check says what to do;
    the list under the table says what each check measures."""
    feed = _section(_feed_report(tmp_path), "feed")
    table = feed[feed.index('id="feed-table"') :]
    table = table[: table.index("</table>")]
    assert 'Payments feed behind<code class="code">payments_lag_days</code>' in table
    assert 'Rows in the payments file<code class="code">rows.payments</code>' in table
    assert 'Rows quarantined in the invoices file<code class="code">quarantine_share.invoices</code>' in table
    assert 'data-label="check">payments_lag_days<' not in table and ">rows.payments</td>" not in table
    # the failed (accepted) check says what to do; the passed ones do not
    assert table.count("What to do:") == 1
    assert "What to do: Send the payments up to the as-of date" in table
    assert "overriding: Payments feed behind vs the book&#39;s usual lag." in feed
    words = feed[feed.index('id="feed-words"') :]
    assert "Rows quarantined in the invoices file" in words and "Open quarantine/invoices.csv" in words


def test_the_reports_drift_variables_read_in_words_with_their_names(tmp_path) -> None:
    """report.html's drift table listed feature names (``dpd_max_180d``) and ``score``: now the feature
    catalog's description in words, the name small and grey below it (hand-written expected words)."""
    drift = _section(_feed_report(tmp_path), "drift")
    assert (
        "Highest days past due reached by any invoice on a day in the last 180 days"
        '<code class="code">dpd_max_180d</code>' in drift
    )
    assert 'Open balance against credit limit<code class="code">utilisation</code>' in drift
    assert ">dpd_max_180d</td>" not in drift
    # the model's own score, the first row of every run's drift table (the demo's report read "score")
    assert 'PD of the debtors not in default<code class="code">score</code>' in drift


def test_feature_words_say_the_as_of_notation_in_words() -> None:
    """Every catalog feature in words: no interval notation, no "T" for the as-of date, no column
    name, and a name not in the catalog as it is."""
    import re

    from features.catalog import CATALOG, feature_words

    assert feature_words("tenure_days") == "Days from the start of the relationship to the as-of date"
    assert feature_words("days_late_mean_90d") == (
        "Amount-weighted mean days late of payments made in the last 90 days"
    )
    assert feature_words("not_a_feature") == "not_a_feature"
    for name in CATALOG:
        said = feature_words(name)
        assert said and not re.search(r"\(T-|T\]|<=|\bT\b|_", said), (name, said)


# ---------------------------------------------------------------- each export row names its debtor's quarantined invoices


def test_each_export_row_names_its_debtors_quarantined_invoices(tmp_path) -> None:
    """s32-hostile item 5: a debtor scored without some of its invoices looked as if it owed less, and
    only the manifest, the log and the report's feed note said so. D1 lost 2 invoices (100.00 + 1,200.50
    USD as written), D3 one (-5 EUR); D2 none. The queue's three files and the watchlist's carry, on
    each row, the count and the amounts per currency after the exposure, empty for D2; the XLSX heads
    them in words and fits their widths as the other columns'."""
    import openpyxl
    import pandas as pd

    from pipelines.adapters.exports import watchlist_export, write_queue
    from pipelines.flows.nightly import partly_quarantined, with_partly

    rows = pd.DataFrame(
        {
            "debtor_id": ["D1", "D1", "D3"],
            "reason": ["no_fx_rate:USD", "no_fx_rate:USD", "amount_not_positive"],
            "amount": ["100.00", "1,200.50", "-5"],
            "currency": ["USD", "USD", "EUR"],
        }
    )
    scores = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"], "pd": [0.1, 0.2, 0.3]})
    partly = partly_quarantined(rows, scores)
    queue = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "debtor_id": pd.Series(["D2", "D1", "D3"], dtype="string"),
            "owner": pd.Series(["anna"] * 3, dtype="string"),
            "pd": [0.2, 0.1, 0.3],
            "exposure": [5_000.0, 2_000.0, 700.0],
            "expected_loss": [450.0, 90.0, 94.5],
        }
    )
    q = with_partly(queue, partly)
    assert list(q.columns) == ["rank", "debtor_id", "owner", "pd", "exposure", "quarantined_invoices",
                               "quarantined_amounts", "expected_loss"]  # fmt: skip
    files = write_queue(q, tmp_path, "collections_queue", "Collections queue", pd.Timestamp("2024-06-30"),
                        100, "EUR")  # fmt: skip
    lines = files["collections_queue.csv"].read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].split(",")[5:7] == ["quarantined_invoices", "quarantined_amounts"]
    assert lines[1].startswith("1,D2,anna,0.2,5000,,,")  # none lost: empty
    assert lines[2].startswith('2,D1,anna,0.1,2000,2,"1,300.50 USD",')
    assert lines[3].startswith("3,D3,anna,0.3,700,1,'-5.00 EUR,")  # a text cell never starts a formula
    back = pd.read_parquet(files["collections_queue.parquet"])
    assert back["quarantined_invoices"].tolist()[1:] == [2, 1] and pd.isna(back["quarantined_invoices"][0])
    assert back["quarantined_amounts"].tolist()[1:] == ["1,300.50 USD", "-5.00 EUR"]
    ws = openpyxl.load_workbook(files["collections_queue.xlsx"])["all"]
    assert [ws.cell(1, j).value for j in (6, 7)] == [
        "Invoices quarantined tonight (not in its exposure)",
        "Their amounts, per currency",
    ]
    assert (ws["F2"].value, ws["G2"].value) == (None, None)
    assert (ws["F3"].value, ws["G3"].value) == (2, "1,300.50 USD") and ws["F3"].number_format == "0"
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert widths["F"] and widths["G"] and widths["G"] >= len("1,300.50 USD")
    assert ws["F5"].value is None  # not summed in the totals row
    # the watchlist: after its open balance (published "exposure"), empty for a debtor without any
    wl = pd.DataFrame({"debtor_id": pd.Series(["D1", "D2"], dtype="string"), "triggers": ["threshold"] * 2,
                       "open_balance": [2_000.0, 5_000.0], "band": ["C", "C"]})  # fmt: skip
    shown = watchlist_export(with_partly(wl, partly))
    assert list(shown.columns) == ["debtor_id", "triggers", "exposure", "quarantined_invoices",
                                   "quarantined_amounts", "band"]  # fmt: skip
    assert shown["quarantined_invoices"].tolist()[0] == 2 and pd.isna(shown["quarantined_invoices"][1])
    # no debtor lost an invoice: the columns are there, empty
    none = with_partly(queue, partly.iloc[:0])
    assert none["quarantined_invoices"].isna().all() and none["quarantined_amounts"].isna().all()
