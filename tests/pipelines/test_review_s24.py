"""Session 24's review (s24-review; BENCHMARKS.md "Hostile inputs tried", "Session 24 (s24-review)"):
tests for what the mutation check of session 24's product commits found unpinned, and for what the
review fixed. Every expected number is by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.actions import latest_events, with_events
from pipelines.scoring.queue import build_queues
from tests.pipelines.test_nightly_queue import AS_OF, debtors


def _three_defaults() -> tuple[pd.DataFrame, pd.DataFrame]:
    """c (retail, insolvent), g (construction, no event) and h (construction, agency placement), each
    in default with 500 open 120 days past due; the oldest invoices joined with their events."""
    base = debtors()
    c = base.iloc[[2]]
    rows = pd.concat(
        [
            base,
            c.assign(debtor_id="g", name="G", segment="construction"),
            c.assign(debtor_id="h", name="H", segment="construction"),
        ],
        ignore_index=True,
    )
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    oldest = pd.DataFrame(
        {"debtor_id": pd.array(["c", "g", "h"], dtype="string"), "oldest_invoice_id": ["I1", "I2", "I3"],
         "oldest_due_date": pd.to_datetime(["2024-02-29"] * 3)}
    )  # fmt: skip
    events = pd.DataFrame(
        {"debtor_id": ["c", "h"], "event_date": pd.to_datetime(["2024-05-01", "2024-06-01"]),
         "kind": ["insolvency", "agency_placement"]}
    )  # fmt: skip
    return rows, with_events(oldest, latest_events(events, AS_OF))


def test_the_event_lgd_sets_the_recoverable_amount_and_others_keep_their_segments_lgd() -> None:
    """bba5218: the mutation check found the segment LGD of debtors without a listed event unpinned
    (the test's config had no segment LGD). c: 500 x (1 - 0.95) = 25 recoverable; g (no event) and h
    (agency placement, not in lgd_by_event) keep construction's 0.8: 500 x 0.2 = 100."""
    rows, oldest = _three_defaults()
    cfg = NightlyConfig.model_validate(
        {"queue": {"lgd": {"default": 0.5, "by_segment": {"construction": 0.8}}},
         "recovery": {"lgd_by_event": {"insolvency": 0.95}}}
    )  # fmt: skip
    _, r = build_queues(rows, oldest, cfg)
    got = r.set_index("debtor_id")
    assert got["lgd"].to_dict() == {"g": 0.8, "h": 0.8, "c": 0.95}
    assert got["recoverable_amount"].to_dict() == {"g": 100.0, "h": 100.0, "c": 25.0}
    assert r["debtor_id"].tolist() == ["g", "h", "c"]  # g and h tie: debtor_id orders them


@pytest.mark.parametrize(("lgd", "ok"), [(1.0, True), (0.0, False), (float("nan"), False)])
def test_an_event_lgd_lies_in_the_unit_interval_open_at_zero(lgd: float, ok: bool) -> None:
    """bba5218's (0, 1]: 1 (nothing recovered) is a valid LGD; 0 and NaN are refused, as queue.lgd's."""
    data = {"recovery": {"lgd_by_event": {"insolvency": lgd}}}
    if not ok:
        with pytest.raises(ValueError, match=r"LGD must lie in \(0, 1\]"):
            NightlyConfig.model_validate(data)
        return
    rows, oldest = _three_defaults()
    _, r = build_queues(rows, oldest, NightlyConfig.model_validate(data))
    got = r.set_index("debtor_id")
    assert got.loc["c", "lgd"] == 1.0 and got.loc["c", "recoverable_amount"] == 0.0
    assert got.loc["c", "recovery_priority"] == 0.0 and r["debtor_id"].tolist() == ["g", "h", "c"]


def test_the_reports_expected_loss_in_default_is_the_recovery_queues() -> None:
    """bba5218 gave the recovery queue an insolvency's LGD (0.95), but report.html's expected loss by
    band and segment still took queue.lgd (0.45) for every debtor: for one insolvent debtor with 1,000
    open the report said 450 lost, the recovery queue 950. Now the report takes the queue's LGD per
    debtor: the default band (b insolvent, c not) loses 1,000 x 0.95 + 1,000 x 0.45 = 1,400, the
    recovery queue's exposure x LGD; a (live, PD 0.1) 1,000 x 0.1 x 0.45 = 45."""
    from pipelines.engine import Book
    from pipelines.report.portfolio import build_portfolio
    from tests.pipelines.test_report import BOOK, CFG, scores

    scored = scores([0.1, 1.0, 1.0], ["a", "b", "c"], [False, True, True])
    scored["open_disputed_amount"], scored["dpd_current_max"] = 0.0, [5.0, 200.0, 200.0]
    scored[["overdue_amount_1_30", "overdue_amount_31_60", "overdue_amount_61_90"]] = 0.0
    scored["overdue_amount_90p"] = [0.0, 1000.0, 1000.0]
    oldest = pd.DataFrame(
        {"debtor_id": pd.array(["b", "c"], dtype="string"), "oldest_invoice_id": ["I1", "I2"],
         "oldest_due_date": pd.to_datetime(["2023-12-01", "2023-12-01"])}
    )  # fmt: skip
    events = pd.DataFrame(
        {"debtor_id": ["b"], "event_date": pd.to_datetime(["2024-03-01"]), "kind": ["insolvency"]}
    )
    _, r = build_queues(scored, with_events(oldest, latest_events(events, AS_OF)), CFG)
    lost = r["exposure"] * r["lgd"]  # the recovery queue's loss: exposure less what it can recover
    assert dict(zip(r["debtor_id"], lost, strict=True)) == {"c": 450.0, "b": 950.0}
    view = build_portfolio(Book.in_memory(BOOK, 100), AS_OF.date(), scored, pd.Index(["a"]), CFG, "EUR",
                           None, None, lgd=r.set_index("debtor_id")["lgd"])  # fmt: skip
    band = view.el_band["expected_loss"]
    assert band["default"] == pytest.approx(1400.0) == pytest.approx(lost.sum())
    assert band["total"] == pytest.approx(1445.0)
    assert view.el_segment["expected_loss"].to_dict() == pytest.approx({"retail": 1445.0, "total": 1445.0})


def test_a_payment_naming_a_known_invoice_keeps_it_whatever_its_reference_says(tmp_path) -> None:
    """e979d0f: invoice_reference is read only for a row whose Rechnungsnummer names no invoice of the
    list; the mutation that reads it for every row survived (no row had a known invoice and a reference
    naming another). Here the part payment of 1,000.00 on RE24007 carries RE24012 in Belegfeld 2: it
    stays on RE24007 (2,380.00 - 1,000.00 = 1,380.00 open), RE24012 stays open by its 595.00, and no
    row is repaired from its reference."""
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_hostile_s24 import _datev, _datev_source, _settlement

    part = "10001;RE24007;05.04.2024;;;1.000,00;1.380,00;1200;Teilzahlung Müller GmbH"
    export = _datev(tmp_path, {part: (part, "RE24012")})
    source = _datev_source(tmp_path, export, '    invoice_reference: "Belegfeld 2"')
    result = ingest_source(source, None, as_of=AS_OF.date())
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (7, 7, 0)
    assert "invoice_from_reference" not in pay["repairs"]
    state = _settlement(result.portfolio, AS_OF.date())
    assert (state["RE24007"], state["RE24012"]) == ((None, 1380.0), (None, 595.0))


def test_invoice_reference_needs_an_invoice_column_or_a_clearing_join_and_unscoped_invoices() -> None:
    """e979d0f / faf0d74: invoice_reference is read beside columns.invoice_id (DATEV) or beside a clearing
    join (SAP's Invoice reference on an open part payment), and refused without either, or beside
    invoices numbered per company code and year (id_scope): the key and the fix named. The FBL5N
    example with `invoice_reference: Text` added."""
    from pathlib import Path

    import yaml

    from pipelines.config.source import SourceConfig

    root = Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / "conf" / "sources" / "example_sap_fbl5n.yaml").read_text(encoding="utf-8"))
    data["tables"]["payments"]["invoice_reference"] = "Text"
    assert SourceConfig.model_validate(data).tables["payments"].invoice_reference == "Text"  # with clearing
    del data["tables"]["payments"]["clearing"]
    with pytest.raises(
        ValueError, match=r"tables\.payments\.invoice_reference: .*columns\.invoice_id or clearing"
    ):
        SourceConfig.model_validate(data)  # neither an invoice column nor a clearing join
    data["tables"]["payments"]["columns"]["invoice_id"] = "Assignment"
    assert SourceConfig.model_validate(data).tables["payments"].invoice_reference == "Text"
    data["tables"]["invoices"]["id_scope"] = ["Local Currency"]
    with pytest.raises(ValueError, match=r"tables\.payments\.invoice_reference: .*without id_scope"):
        SourceConfig.model_validate(data)


def test_unknown_invoices_of_a_ledger_with_payment_numbers_give_no_datev_advice(tmp_path) -> None:
    """e979d0f's warning (a credit note under its own number: map Belegfeld 2 as invoice_reference) is
    for ledgers whose payments have no numbers of their own (ids from rows) or that already read a
    reference; the mutation that gives it to every ledger survived. Canonical files, a payment P2
    naming an invoice the export does not hold: quarantined unknown_invoice, no such advice."""
    from pipelines.ingest import ingest_files

    inv = tmp_path / "invoices.csv"
    inv.write_text("invoice_id,debtor_id,issue_date,due_date,amount\n"
                   + "".join(f"I{i},D1,2024-01-{i + 1:02d},2024-02-{i + 1:02d},100\n" for i in range(6)),
                   encoding="utf-8")  # fmt: skip
    pay = tmp_path / "payments.csv"
    pay.write_text("payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I0,2024-02-01,100\n"
                   "P2,D1,X9,2024-05-01,50\n", encoding="utf-8")  # fmt: skip
    result = ingest_files({"invoices": inv, "payments": pay}, None, as_of=AS_OF.date())
    assert result.manifest["tables"]["payments"]["reasons"] == {"unknown_invoice": 1}
    assert not [w for w in result.manifest["warnings"] if "invoice_reference" in w]


def test_the_first_run_after_the_upgrade_compares_a_runs_old_figures_by_whole_rows() -> None:
    """fd7922f compares the previous run by rows per month when today's span is shorter, and a run
    published before session 24 carries days from each table's first date and no span_rows. A migrated
    ledger (730 sparse days of 5 invoices, then 365 dense ones of 30: 14,600 rows in 1,095 days) scored
    one day on (14,630 rows; its dense span 366 days, 10,980 rows) read as 10,980 x 30.4375 / 366 =
    913.1 a month vs 14,600 x 30.4375 / 1,095 = 405.8 (2.25 > 1.5): refused, though nothing changed.
    Against such a run: whole rows, 14,630 vs 14,600 (1.002), as before session 24. A run of this code
    carries span_rows and is compared per month (test_rolling_s24)."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import evaluate_feed
    from tests.pipelines.test_rolling_s24 import _figures

    today = _figures(14_630, 14_630, (366, 366), span_rows=(10_980, 10_980))
    old_run = _figures(14_600, 14_600, (1_095, 1_095))
    feed = evaluate_feed(today, NightlyConfig(), previous=("the previous run", old_run), training=None)
    checks = {c["check"]: (c["value"], c["reference"], c["status"]) for c in feed["checks"]}
    assert feed["status"] == "passed", checks
    assert checks["rows.invoices"] == (14_630, 14_600, "ok") and "rows_per_month.invoices" not in checks
    # the training's old figures keep their rows per month (s23-rolling): 913.1 vs 405.8 inside 0.25 to 4
    feed = evaluate_feed(today, NightlyConfig(), previous=None, training=("the training data", old_run))
    got = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
    assert got["rows_per_month.invoices"] == pytest.approx((913.125, 405.833), abs=0.001)


def test_day_counts_of_a_bucketed_folder_add_up_every_bucket(tmp_path) -> None:
    """fd7922f: an ingested folder of several buckets gives the rows per day of all of them (a span read
    from the first bucket only survived the mutation check: the suite's folders hold one bucket). Three
    buckets of the nightly test book: the counts sum to the invoices, and per day to the whole table's."""
    import json

    from pipelines.adapters.files import bucket_codes, bucket_file, day_counts, write_bucket_atomic
    from pipelines.engine import Book
    from tests.pipelines.nightly_portfolio import typed_tables

    invoices = typed_tables(n_debtors=240, months=14, seed=5)["invoices"]
    codes = bucket_codes(invoices["debtor_id"], 3)
    for k in range(3):
        write_bucket_atomic(
            invoices.loc[codes == k].reset_index(drop=True), bucket_file(tmp_path, "invoices", k)
        )
    (tmp_path / "manifest.json").write_text(json.dumps({"layout": {"buckets": 3}}))
    book = Book.ingested(tmp_path)
    assert book.buckets == 3 and len(set(codes.tolist())) == 3
    got = book.day_counts("invoices", "issue_date")
    assert int(got.sum()) == len(invoices)
    pd.testing.assert_series_equal(got, day_counts(invoices["issue_date"].to_numpy(dtype="datetime64[ns]")))


def test_a_short_burst_at_the_end_does_not_shorten_the_span_to_itself() -> None:
    """fd7922f's densest stretch is one of at least 91 days (SPAN_MIN_DAYS); the mutation to 1 day
    survived. A year at 10 rows a day whose last 31 days (December) hold 100 a day: the densest stretch
    of >= 91 days from a month's first day is October..December, (61 x 10 + 3,100) / 92 = 40.3 a day;
    September..December reaches 3/4 of it ((91 x 10 + 3,100) / 122 = 32.9 >= 30.2), August does not
    (28.2): the span is 122 days, 4,010 rows. With a 1-day stretch December alone (100 a day) would set
    the bar at 75 and the span at 31 days."""
    from pipelines.feed_checks import dense_span

    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    counts = pd.Series(np.where(days >= pd.Timestamp("2025-12-01"), 100, 10), index=days, dtype="int64")
    assert dense_span(counts, pd.Timestamp("2025-12-31")) == (122, 4_010)


def test_an_fbl5n_payment_with_a_clearing_document_keeps_its_join_whatever_its_reference_says(
    tmp_path,
) -> None:
    """faf0d74 reads invoice_reference only for rows that name no clearing document; the mutation that
    reads it on every row survived (the sample's referenced rows that had one cleared the same invoice).
    Here the returned direct debit DZ 1400000002 (1,234.56, cleared by its AB reversal 100000001) names
    90000003 in Invoice reference, as SAP keeps the invoice a direct debit was collected for. It stays
    unallocated beside its reversal, so the two still net out (reversal / reversed_payment) and the cash
    is the book's 1,016,304.56; read from the reference it would sit on 90000003 apart from its reversal,
    counted as cash (+1,234.56), the reversal unmatched."""
    from tests.pipelines.test_hostile_s24 import SAMPLE_SUMS, _draft_and_ingest, _fbl5n_with_reference, _sums

    export = _fbl5n_with_reference(tmp_path)
    lines = export.read_text(encoding="cp1252").splitlines()
    lines = [
        line[: -len("\t")] + "\t90000003" if line.split("\t")[2] == "1400000002" else line for line in lines
    ]
    export.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    assert "Direct debit\t90000003" in export.read_text(encoding="cp1252")
    _, result = _draft_and_ingest(tmp_path, export)
    pay = result.manifest["tables"]["payments"]
    assert pay["reasons"] == {"reversal": 1, "reversed_payment": 1}
    assert pay["repairs"]["invoice_from_reference"] == 1  # the open part payment 1400000004 only
    assert _sums(result)[1:] == SAMPLE_SUMS[1:]


def test_the_night_a_large_debtor_defaults_is_published() -> None:
    """0134d69's default_exposure refused a rise above 4 x the previous run's: 25 debtors in default owing
    250,000 and the next night one more owing 1,000,000 (1,250,000: 5.0) was refused ("Fix the feed"),
    the night the largest default has to reach the watchlist and the queues. On lognormal books of 1,000
    debtors (sigma 2, /work/bench/s24-review/probe_default_exposure.py) the largest debtor's default alone
    gave a median 5.9. Now only a fall is refused (0.25; a rise is checked up to 1000): published, and the
    rolling export's fall (596,438 vs 6,362,090) still refused (test_rolling_s24)."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import evaluate_feed
    from tests.pipelines.test_rolling_s24 import _book

    previous = ("the previous run", _book(250_000.0, 25, debtors=1_000))
    feed = evaluate_feed(
        _book(1_250_000.0, 26, debtors=1_000), NightlyConfig(), previous=previous, training=None
    )
    checks = {c["check"]: (c["value"], c["reference"], c["status"]) for c in feed["checks"]}
    assert feed["status"] == "passed" and checks["default_exposure"] == (1_250_000.0, 250_000.0, "ok")


def test_ews_score_prints_the_short_history_warning(tmp_path) -> None:
    """b859af3: `ews score` prints the feed's short-history warning; the mutation that drops the console
    line survived (test_feed_checks, rolling_s24 and nightly_cli: 43 passed). The summary of a run whose
    manifest carries feed.history (12 vs 36 months) prints it after the feed line, before the outputs."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import _summary

    note = "short history: today's invoices cover 12 months, the champion learned from 36; ..."
    manifest = {
        "as_of": "2025-12-31",
        "model": {"name": "ews-pd", "version": "3"},
        "timings_s": {"score": 1.0},
        "counts": {"scored": 10, "in_default": 1, "flagged": 2, "triggers": {}, "queue": 3, "expected_loss": 5.0},
        "drift": {"status": "ok"},
        "feed": {"status": "passed", "references": ["the training data"], "override": None, "note": note,
                 "history": {"feed_months": 12.0, "training_months": 36.0, "note": note}},
    }  # fmt: skip
    console = Console(record=True, width=400)
    _summary(console, SimpleNamespace(manifest=manifest, path=tmp_path / "2025-12-31"))
    text = console.export_text()
    assert f"warning: {note}" in text
    assert text.index("warning: short history") < text.index("outputs: ")
