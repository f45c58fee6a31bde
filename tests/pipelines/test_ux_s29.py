"""Session 29 (s29-ux): what users read and open. One word per metric in the gate's checks, the train
tables and the flow log (the gate said "calibration error (ECE)", the tables "ECE (calibration)")."""

from __future__ import annotations

from models.evaluate import GateThresholds, decision_summary, gate_decision


def test_the_gate_and_the_train_tables_name_the_ece_alike_from_one_table() -> None:
    """ECE 0.004 against 0.0055 + 0.005 = 0.0105 (passed) and 0.02 (failed): the check names the metric
    as `ews train`'s table row and report.html's calibration table do, read from the one table
    (``pipelines.words`` re-exports ``models.gate_words``'s, no copy). Before session 29 the gate wrote
    "ok calibration error (ECE) 0.0040 <= 0.0105" beside the table's "ECE (calibration)"."""
    import models.gate_words
    import pipelines.words
    from pipelines.commands.train import metric_cells

    assert pipelines.words.METRIC_WORDS is models.gate_words.METRIC_WORDS
    name = metric_cells("ece", 0.004, None, [])[0]
    assert name == pipelines.words.metric_words("test_ece") == "ECE (calibration)"
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    ok = gate_decision({"auc": 0.80, "ece": 0.004}, th, ece_tolerance=0.0055)
    assert ok.reasons[2] == (
        "ok ECE (calibration) 0.0040 <= 0.0105 (chance ECE of a calibrated model on these rows 0.0055 "
        "+ margin 0.005 (gate.ece_margin))"
    )
    failed = gate_decision({"auc": 0.80, "ece": 0.02}, th, ece_tolerance=0.0055)
    assert failed.reasons[2].startswith(f"FAIL {name} 0.0200 > 0.0105 (")
    assert not any("calibration error" in r for r in ok.reasons + failed.reasons)
    assert metric_cells("auc", 0.8, None, [])[0] == "AUC" and ok.reasons[1].startswith("ok AUC 0.8000")


def test_a_session_28_registry_reason_reads_in_the_one_wording() -> None:
    """A version registered in session 28 keeps "FAIL calibration error (ECE) 0.0200 > 0.0105 (...)": `ews
    models history` / `ews score`'s refusal (in_words) show it as the gate words it now, and the plain
    verdict still reads it as the ECE check."""
    from models.gate_words import in_words

    stored = (
        "ok AUC 0.8771 >= the floor 0.7000 (gate.min_auc); FAIL calibration error (ECE) 0.0200 > 0.0105 "
        "(chance ECE of a calibrated model on these rows 0.0055 + margin 0.005 (gate.ece_margin))"
    )
    assert in_words(stored) == (
        "ok AUC 0.8771 >= the floor 0.7000 (gate.min_auc); FAIL ECE (calibration) 0.0200 > 0.0105 "
        "(chance ECE of a calibrated model on these rows 0.0055 + margin 0.005 (gate.ece_margin))"
    )
    assert in_words("ok test_ece 0.0013 <= 0.0103 (x)") == "ok ECE (calibration) 0.0013 <= 0.0103 (x)"
    verdict = decision_summary(False, [stored.split("; ")[1]], {"mean_pd": 0.03, "default_rate": 0.01})
    assert verdict == (
        "Not promoted, the champion stays: its PDs missed the default rate of the test window "
        "(mean PD 3.00% vs 1.00% defaulted) by more than chance."
    )


def _cross_table_book(folder):
    """Debtor D1 only. I1 (D1, written 100.50) is paid by P1 (100.50); I2 names debtor D9, whom the
    debtors table lacks (unknown_debtor, a cross-table check), written "1600.00"; P2 pays I9, an invoice
    not in the export (invoice_before_export: a cross-table check too), written
    "75.10"."""
    folder.mkdir()
    (folder / "debtors.csv").write_text("debtor_id,name\nD1,One\n", encoding="utf-8")
    (folder / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-01-05,2024-02-04,100.50\n"
        "I2,D9,2024-01-06,2024-02-05,1600.00\n",
        encoding="utf-8",
    )
    (folder / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-01,100.50\nP2,D1,I9,2024-02-02,75.10\n",
        encoding="utf-8",
    )
    return {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}


def test_rows_a_cross_table_check_rejects_show_the_amount_as_written(tmp_path) -> None:
    """Quarantined rows rejected by their own table's checks showed their cells as read, those rejected
    by a cross-table check the parsed float as text: "1600.0" for a file's "1600.00", "75.1" for
    "75.10" (s28-ux left the Xero payment's "1,600.00" shown as "1600.0"). In memory and streamed."""
    import datetime as dt

    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source

    files = _cross_table_book(tmp_path / "in")
    source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in files.items()})
    import pandas as pd

    memory = ingest_source(source, None, as_of=dt.date(2024, 3, 31)).quarantine
    ingest_source(source, tmp_path / "out", as_of=dt.date(2024, 3, 31), stream=True, workers=1)
    streamed = {
        t: pd.read_csv(tmp_path / "out" / "quarantine" / f"{t}.csv", dtype=str, encoding="utf-8-sig")
        for t in ("invoices", "payments")
    }
    for quarantine in (memory, streamed):
        inv, pay = quarantine["invoices"], quarantine["payments"]
        assert inv[["invoice_id", "reason", "amount"]].values.tolist() == [
            ["I2", "unknown_debtor", "1600.00"]
        ]
        assert pay[["payment_id", "reason", "amount"]].values.tolist() == [
            ["P2", "invoice_before_export", "75.10"]
        ]


def _jpy_queue():
    import pandas as pd

    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "debtor_id": pd.Series(["D1", "D2", "D3"], dtype="string"),
            "owner": pd.Series(["anna", "ben", "anna"], dtype="string"),
            "currency": pd.Series(["JPY"] * 3, dtype="string"),
            "pd": [0.2, 0.1, 0.05],
            "exposure": [1_234_567.0, 200.0, 51.0],
            "expected_loss": [999.14, 9.0, 1.6],
        }
    )


def test_a_jpy_queue_is_written_in_whole_yen_and_its_workbook_shows_no_decimals(tmp_path) -> None:
    """A yen has no decimals: the queue wrote expected losses 999.14 and 1.6 (ranked at 2 decimals)
    and the workbook formatted every yen amount #,##0.00 ("200.00"). Now 999 and 2 in the CSV, the
    Parquet and the workbook, format #,##0, the totals 1,234,818 and 1,010 (999 + 9 + 2) by hand; a
    KWD queue keeps #,##0.000, a EUR one #,##0.00."""
    import openpyxl
    import pandas as pd

    from pipelines.adapters.exports import write_queue

    files = write_queue(_jpy_queue(), tmp_path, "collections_queue", "Collections queue", pd.Timestamp("2024-06-30"), 100, "JPY")  # fmt: skip
    csv = (tmp_path / "collections_queue.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv[1:] == ["1,D1,anna,JPY,0.2,1234567,999", "2,D2,ben,JPY,0.1,200,9", "3,D3,anna,JPY,0.05,51,2"]
    assert pd.read_parquet(files["collections_queue.parquet"])["expected_loss"].tolist() == [999.0, 9.0, 2.0]
    ws = openpyxl.load_workbook(files["collections_queue.xlsx"])["all"]
    assert [ws.cell(1, j).value for j in (6, 7)] == ["Exposure at default (JPY)", "Expected loss (JPY)"]
    assert ws["F2"].number_format == ws["G2"].number_format == "#,##0"
    assert ws["G2"].value == 999 and ws["G5"].value == "=SUBTOTAL(109,G2:G4)"
    values = openpyxl.load_workbook(files["collections_queue.xlsx"], data_only=True)["all"]
    assert (values["F5"].value, values["G5"].value) == (1_234_818, 1_010)
    for currency, fmt in (("KWD", "#,##0.000"), ("EUR", "#,##0.00")):
        out = tmp_path / currency
        out.mkdir()
        frame = _jpy_queue().assign(currency=currency)
        got = write_queue(frame, out, "collections_queue", "Collections queue", pd.Timestamp("2024-06-30"), 100, currency)  # fmt: skip
        sheet = openpyxl.load_workbook(got["collections_queue.xlsx"])["all"]
        assert sheet["G2"].number_format == fmt and sheet["G2"].value == 999.14


def test_jpy_credit_limits_and_cash_in_whole_yen_with_every_amount_totalled(tmp_path) -> None:
    """Debtor a invoiced 36,504 in the 365-day window (the default since session 41; 9,001 in 90 days before):
    36,504 / 365 = 100.0110 a day, 3,044.08 a month (x 365.25 / 12) and a need of 3,000.33 at 30 days' terms; in
    yen 3044 and 3000 (they read 3044.08 and 3000.33).
    credit_limits.xlsx totalled 3 of its 7 amounts; now all 7, as the queues, and the forecast's log
    line says the 13 weeks' cash in whole yen."""
    import datetime as dt

    import openpyxl
    import pandas as pd

    from pipelines.config.credit import CreditPolicyConfig
    from pipelines.scoring.limits import add_credit_limits, write_credit_limits
    from pipelines.scoring.paydate import forecast_line
    from tests.pipelines.test_credit_limits import scores_frame

    scored = add_credit_limits(
        scores_frame().assign(invoice_amount_365d=[36_504.0, 73_000.0, 0.0]), None, CreditPolicyConfig()
    )
    for currency, need in (("JPY", ("3044", "3000")), ("EUR", ("3044.08", "3000.33"))):
        out = tmp_path / currency
        out.mkdir()
        files = write_credit_limits(scored, out, dt.datetime(2024, 6, 30), currency, xlsx_rows=10)
        rows = pd.read_csv(files["credit_limits.csv"], dtype=str, encoding="utf-8-sig").set_index("debtor_id")
        assert (rows.loc["a", "invoiced_per_month"], rows.loc["a", "credit_need"]) == need
    ws = openpyxl.load_workbook(tmp_path / "JPY" / "credit_limits.xlsx")["credit limits"]
    head = [c.value for c in ws[1]]
    money = [j for j, h in enumerate(head, start=1) if str(h).endswith("(JPY)")]
    filled = [j for j in money if ws.cell(2, j).value is not None]  # no debtors table: no current limit
    assert (
        len(money) == 7 and len(filled) == 6 and all(ws.cell(2, j).number_format == "#,##0" for j in filled)
    )
    assert all(str(ws.cell(5, j).value).startswith("=SUBTOTAL(109,") for j in money), [
        ws.cell(5, j).value for j in money
    ]
    assert forecast_line(708, "ews-paydate v1", 3_892_206.59, "JPY").endswith("13 weeks 3,892,207 JPY")
    assert forecast_line(708, "ews-paydate v1", 3_892_206.59, "EUR").endswith("13 weeks 3,892,206.59 EUR")


def test_the_walks_counts_and_the_payment_date_short_history_read_right() -> None:
    """The README walk on a fresh 100 x 24 book printed "(1 debtor bucket(s))" after `ews ingest`, and
    `ews train` "short history: held-out check on 12 month-ends, model on 16 (of 16 wanted)": only the
    held-out check was short, the note said "the history is shorter than paydate.train_snapshots (16
    month-ends): the registered model trains on 16 month-ends"."""
    from pathlib import Path

    from rich.console import Console

    from pipelines.commands.ingest import print_summary
    from pipelines.flows.train_paydate import PaydatePlan, history_headline, history_note

    console = Console(record=True, width=200)
    manifest = {"source": {"name": "files"}, "tables": {}, "layout": {"buckets": 1}, "as_of": "2024-12-31"}
    print_summary(console, manifest, Path("data/ingested"))
    assert "part-0.parquet (1 debtor bucket)\n" in console.export_text()
    day = 19000  # 2022-01-08; month-ends 30 days apart are enough for the words
    plan = PaydatePlan([day + 30 * i for i in range(12)], day + 360, [day + 390], [day + 30 * i for i in range(16)], day + 500)  # fmt: skip
    assert (
        history_headline(plan, 16)
        == "short history: held-out check on 12 month-ends (of 16 wanted), model on all 16"
    )
    assert history_note(plan, 16).startswith(
        "the history before the test month-ends is shorter than paydate.train_snapshots (16 month-ends): the "
        "held-out model behind the figures trains on 12 (month-ends from 2022-01-08"
    )
    assert history_note(plan, 16).endswith("the registered model on all 16; the gate below judges them")
    both = PaydatePlan([day], day + 30, [day + 60], [day, day + 30], day + 100)
    assert (
        history_headline(both, 16)
        == "short history: held-out check on 1 month-end, model on 2 (of 16 wanted)"
    )


def _report(tmp_path, currency: str, overrides: dict | None = None, **watchlist: object) -> str:
    """report.html of test_report's book (debtor a owes INV-A1 700) in ``currency``; ``watchlist``:
    columns of the watchlist's rows (default: triggers "threshold")."""
    import pandas as pd

    from pipelines.engine import Book
    from pipelines.report import render_report
    from pipelines.report.portfolio import build_portfolio
    from tests.pipelines.test_report import BOOK, CFG, portfolio, scores

    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    book = portfolio(BOOK.invoices.to_dict("records"), BOOK.payments.to_dict("records"))
    wl = today.assign(**{"triggers": "threshold", "reason_1": "late", "pd_change": float("nan"), "band_prev": None,
                         **watchlist})  # fmt: skip
    view = build_portfolio(Book.in_memory(book, 100), pd.Timestamp("2024-06-30").date(), today,
                           pd.Index(["a", "n"]), CFG, currency, tmp_path / "none", None)  # fmt: skip
    return render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=wl[wl["debtor_id"].isin(["a", "n"])],
        reason_columns=["reason_1"], counts={"scored": 4, "in_default": 0, "flagged": 2, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=CFG,
        portfolio=view, overrides=overrides,
    )  # fmt: skip


def test_a_debtor_pages_open_invoices_show_the_currencys_decimals(tmp_path) -> None:
    """report.html's debtor pages wrote every open invoice with two decimals: "700.00 JPY" (a yen has
    none), and a dinar's fils were cut ("700.00 KWD"). Debtor a owes INV-A1 700 (test_report's book)."""
    # the amount and its currency joined by a no-break space (session 32: "EUR" wrapped alone at 420 px)
    for currency, shown in (
        ("JPY", ">700\u00a0JPY<"),
        ("KWD", ">700.000\u00a0KWD<"),
        ("EUR", ">700.00\u00a0EUR<"),
    ):
        html = _report(tmp_path, currency)
        row = html[html.index(">INV-A1</td>") :]
        row = row[: row.index("</tr>")]  # the debtor page's invoice row
        assert shown in row, (currency, row)


def test_the_overrides_section_counts_in_words(tmp_path) -> None:
    """The overrides section said "1 debtor(s) overridden of 2 ... 1 override(s) in force tonight; 0 cleared
    debtor(s) kept off the list" (the walk's report: "0 debtor(s) overridden of 8")."""
    overrides = {"days": 30, "rate": 0.5, "debtors": 1, "flagged": 2, "since": "2024-06-01", "in_force": 1,
                 "kept_off": 0, "reflagged": 0, "rows": []}  # fmt: skip
    html = _report(tmp_path, "EUR", overrides)
    text = " ".join(html[html.index('<section id="overrides">') :].split())
    assert "1 debtor overridden of 2 on the watchlist" in text
    assert "1 override in force tonight; 0 cleared debtors kept off the list" in text
    assert "(s)" not in text[: text.index("</section>")]


def test_ews_score_help_names_what_it_publishes() -> None:
    """`ews score --help` said it publishes "scores, watchlist (with SHAP reason codes), collections queue
    (CSV/XLSX/Parquet), report.html and manifest.json": no recovery queue, credit limits or forecasts, and
    a small book's roll-rate reasons are not SHAP's."""
    import re

    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["score", "--help"], terminal_width=200)
    text = re.sub(r"\s+", " ", result.output.replace("│", " "))
    assert result.exit_code == 0 and "SHAP" not in text
    for words in (
        "the collections and recovery queues and credit limits",
        "the invoice and cash-in forecasts",
    ):
        assert words in text, text[:600]


def test_config_check_in_a_fresh_project_says_the_examples_are_examples(tmp_path, monkeypatch) -> None:
    """`ews init` then `ews config check` printed, for each of the 9 example source configs, every sample
    file it names as "tests/data/sources/... not found" (wrapped over 2-4 lines each): the samples live in
    the repository, not in a project. Now one short note each; a path of the user's own (uci.yaml's
    ../shared/data/uci_credit_card.csv) is still named as not found."""
    import re

    from typer.testing import CliRunner

    from pipelines.cli import app

    project = tmp_path / "acme"
    assert CliRunner().invoke(app, ["init", str(project)]).exit_code == 0
    monkeypatch.chdir(project)
    monkeypatch.setenv("COLUMNS", "300")  # one line per file
    result = CliRunner().invoke(app, ["config", "check"], terminal_width=300)
    lines = result.output.splitlines()
    examples = [line for line in lines if "conf/sources/example_" in line]
    assert result.exit_code == 0 and len(examples) == 9, result.output
    for line in examples:
        assert "not found" not in line and re.search(
            r"\(an example: its sample files? (is|are) in the ews repository's tests/data/sources/, not here\)$",
            line,
        ), line
    assert "example_xero.yaml" in examples[7] and examples[7].endswith("sample files are in the ews repository's tests/data/sources/, not here)")  # fmt: skip
    (uci,) = [line for line in lines if "conf/sources/uci.yaml" in line]
    assert uci.endswith("(headers not checked: uci_wide: ../shared/data/uci_credit_card.csv not found)")


def test_a_jpy_runs_queue_sums_are_the_sums_of_its_whole_yen_rows() -> None:
    """The console, report.html and manifest.json summed the queue's 2-decimal expected losses (the JPY
    walk: "expected loss 466,861 JPY") while the workbook's totals row sums the whole-yen rows (466,864).
    By hand: 99,914 + 133,989 + 0 = 233,903 (not 233,903.91 -> 233,904); recoverable 10 + 21 = 31. EUR keeps
    its cents."""
    import pandas as pd

    from pipelines.config.nightly import NightlyConfig
    from pipelines.flows.nightly import _counts
    from pipelines.scoring.watchlist import TRIGGERS

    scored = pd.DataFrame(
        {"debtor_id": pd.array(["a", "b", "c"], dtype="string"), "pd": [0.1, 0.2, 0.3],
         "in_default": [False, False, True], "band": ["A", "B", "default"]}
    )  # fmt: skip
    wl = {"flags": pd.DataFrame({f"trigger_{t}": [False] * 3 for t in TRIGGERS}), "watchlist": pd.DataFrame()}
    q = pd.DataFrame(
        {"expected_loss": [99914.05, 133989.46, 0.4], "next_action": ["call", "call", "reminder"]}
    )
    rq = pd.DataFrame({"recoverable_amount": [10.4, 20.6], "next_action": ["x", "y"]})
    jpy = _counts(scored, wl, q, rq, None, NightlyConfig(), "JPY")
    assert (jpy["expected_loss"], jpy["recoverable_amount"]) == (233903.0, 31.0)
    eur = _counts(scored, wl, q, rq, None, NightlyConfig(), "EUR")
    assert (eur["expected_loss"], eur["recoverable_amount"]) == (233903.91, 31.0)


def test_a_debtor_pages_invoice_not_yet_due_says_when_it_falls_due(tmp_path) -> None:
    """A debtor page's open invoice not yet due showed its days past due as a negative number: INV-A2, due
    2024-07-10, read "-10" at 2024-06-30 (the walk's pages: "-8", "-30"). Now "due in 10 d"; INV-A1, 45 days
    past due, still "45"."""
    html = _report(tmp_path, "EUR")
    for invoice, dpd in (("INV-A2", ">due in 10 d<"), ("INV-A1", ">45<")):
        row = html[html.index(f">{invoice}</td>") :]
        row = row[: row.index("</tr>")]
        assert dpd in row and ">-10<" not in row, row
