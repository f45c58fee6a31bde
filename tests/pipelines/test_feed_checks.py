"""Feed checks on hand-made figures: limits, tiny-book tolerance, references, override record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ConfigError, load_config
from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import (
    FeedCheckError,
    evaluate_feed,
    feed_figures,
    payments_lag,
    previous_figures,
    short_history,
    stated_amounts,
    stated_checks,
    stated_ratios,
    table_lag,
    training_figures,
    training_reference,
)
from pipelines.ingest import ingest_dir

CFG = NightlyConfig()


def figures(**over: object) -> dict:
    """A 5,000-debtor book: 60,000 invoices, 51,000 payments, 6 % in default, exposure 2.4 M."""
    base = {
        "rows": {"invoices": 60_000, "payments": 51_000, "debtors": 5_000},
        "accepted": {"invoices": 60_000, "payments": 51_000, "debtors": 5_000},
        "quarantine_share": {"invoices": 0.0, "payments": 0.001, "debtors": 0.0},
        "payments_per_invoice": 0.85,
        "allocated_share": 0.97,
        "debtors": 5_000,
        "default_share": 0.06,
        "exposure": 2_400_000.0,
    }
    base.update(over)
    return base


def statuses(feed: dict) -> dict[str, str]:
    return {f"{c['check']} | {c['against']}": c["status"] for c in feed["checks"]}


def test_unchanged_feed_passes_every_check() -> None:
    feed = evaluate_feed(figures(), CFG, previous=("prev", figures()), training=("train", figures()))
    assert feed["status"] == "passed" and feed["override"] is None
    assert set(statuses(feed).values()) == {"ok"}
    # 3 absolute quarantine limits + per reference: 3 row counts, debtors, invoices per debtor, ppi,
    # allocated, default, exposure, 3 quarantine
    assert len(feed["checks"]) == 3 + 2 * 12


def test_empty_payments_is_refused_naming_each_check_with_figures() -> None:
    today = figures(
        rows={"invoices": 60_000, "payments": 0, "debtors": 5_000},
        accepted={"invoices": 60_000, "payments": 0, "debtors": 5_000},
        quarantine_share={"invoices": 0.0, "payments": None, "debtors": 0.0},
        payments_per_invoice=0.0,
        allocated_share=None,
        default_share=4_739 / 5_000,
        exposure=2_400_000.0 * 61,
    )
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, CFG, previous=("the previous run 2024-06-29", figures()), training=None)
    msg = str(info.value)
    assert "4 feed checks failed" in msg and "--accept-feed" in msg
    assert "rows.payments: 0 today vs 51,000 in the previous run 2024-06-29" in msg
    assert "payments_per_invoice: 0.000 today vs 0.850" in msg
    assert "default_share: 94.8% today vs 6.0%" in msg
    assert "exposure: 146,400,000 today vs 2,400,000" in msg
    assert info.value.feed["status"] == "failed"


def test_paid_per_invoiced_from_the_features_and_a_payments_file_in_cents_refused() -> None:
    """s30-hostile: a payments file in cents passed every check (each payment settled its invoice and
    left the rest on account). The figures: amount paid / amount invoiced in the 90 days up to the
    as-of date, over the debtors' feature rows (NaN as 0): (900 + 0 + 150) / (1,000 + 50 + 0) = 1.0
    (recorded); and the one checked since s31-hostile, the median of each debtor's own ratio over the
    debtors that both paid and were invoiced: 900 / 1,000 = 0.9 (D2 paid nothing, D3 was invoiced
    nothing), over 1 debtor."""
    from pipelines.feed_checks import recent_amounts, recent_ratios

    rows = pd.DataFrame(
        {"payment_amount_90d": [900.0, float("nan"), 150.0], "invoice_amount_90d": [1000.0, 50.0, 0.0]}
    )
    assert recent_amounts(rows) == (1050.0, 1050.0)
    assert recent_ratios(rows).tolist() == [0.9]
    assert recent_amounts(rows.drop(columns="payment_amount_90d")) is None  # a statements book: no figure
    assert recent_ratios(rows.drop(columns="payment_amount_90d")) is None
    scores = pd.DataFrame({"in_default": [False, False, True], "open_balance": [10.0, 0.0, 5.0]})
    today = feed_figures({}, None, scores, amounts=(1050.0, 1050.0), ratios=recent_ratios(rows))
    assert today["paid_per_invoiced_90d"] == 1.0
    assert (today["paid_per_invoiced_median_90d"], today["paid_per_invoiced_debtors"]) == (0.9, 1)
    assert "paid_per_invoiced_90d" not in feed_figures(
        {}, None, scores, amounts=(10.0, 0.0)
    )  # nothing invoiced
    assert "paid_per_invoiced_median_90d" not in feed_figures(
        {}, None, scores, ratios=recent_ratios(rows.iloc[1:])
    )

    def ppi(median: float, debtors: int = 4_000) -> dict:
        return figures(paid_per_invoiced_median_90d=median, paid_per_invoiced_debtors=debtors)

    ok = evaluate_feed(ppi(0.95), CFG, previous=("prev", ppi(1.02)), training=None)
    assert statuses(ok)["paid_per_invoiced_median_90d | prev"] == "ok"
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(ppi(97.0), CFG, previous=("the previous run", ppi(0.97)), training=None)
    assert "paid_per_invoiced_median_90d: 97.000 today vs 0.970 in the previous run" in str(info.value)
    # against the training data the limit is wider (x 10): 6.0 passes there, 5.0 fails against the previous run (x 4)
    wide = evaluate_feed(ppi(6.0), CFG, previous=None, training=("train", ppi(1.0)), accept=True)
    assert statuses(wide)["paid_per_invoiced_median_90d | train"] == "ok"
    narrow = evaluate_feed(ppi(5.0), CFG, previous=("prev", ppi(1.0)), training=None, accept=True)
    assert statuses(narrow)["paid_per_invoiced_median_90d | prev"] == "failed"
    # checked from 50 debtors behind the median on both sides; the sum's ratio is recorded, and checked
    # only against a reference from before s31-hostile (no median): a previous run, a trained model
    few = evaluate_feed(ppi(97.0, 49), CFG, previous=("prev", ppi(0.97)), training=None)
    assert statuses(few)["paid_per_invoiced_median_90d | prev"] == "too small to check"
    both = {
        "paid_per_invoiced_90d": 5.4,
        "paid_per_invoiced_median_90d": 1.0,
        "paid_per_invoiced_debtors": 4_000,
    }
    before = {**both, "paid_per_invoiced_90d": 1.0}
    summed = evaluate_feed(figures(**both), CFG, previous=("prev", figures(**before)), training=None)
    assert summed["status"] == "passed"
    older = evaluate_feed(
        figures(**both),
        CFG,
        previous=("prev", figures(paid_per_invoiced_90d=1.0)),
        training=None,
        accept=True,
    )
    assert statuses(older)["paid_per_invoiced_90d | prev"] == "failed"


def test_one_large_debtor_paying_its_backlog_does_not_move_the_checked_figure() -> None:
    """s31-hostile: on a concentrated book one debtor, invoiced 5,500 of 10,000 in the window, pays
    a 180-day backlog of 11,000 at once; the other 9 debtors each paid 450 of 500 (0.9). The sum's
    ratio goes from 4,050 / 10,000 = 0.405 (the night before, the large debtor paying nothing) to
    15,050 / 10,000 = 1.505, 3.7 times (5.4 on the third simulator's books): refused before. The
    median of the debtors' own ratios: 0.9 both nights (the night before, the large debtor paid
    nothing and is not in it; then it is 1 of 10, at 2.0)."""
    from pipelines.feed_checks import recent_amounts, recent_ratios

    before = pd.DataFrame(
        {"payment_amount_90d": [0.0] + [450.0] * 9, "invoice_amount_90d": [5_500.0] + [500.0] * 9}
    )
    after = before.assign(payment_amount_90d=[11_000.0] + [450.0] * 9)
    assert recent_amounts(before) == (4_050.0, 10_000.0) and recent_amounts(after) == (15_050.0, 10_000.0)
    assert float(np.median(recent_ratios(before))) == 0.9 and float(np.median(recent_ratios(after))) == 0.9


def test_growth_of_a_small_book_passes_and_tiny_tables_are_not_compared() -> None:
    # 100 debtors: 12 % more invoices and payments, 3 more debtors in default, events 4 -> 9 rows
    prev = figures(
        rows={"invoices": 1_200, "payments": 1_000, "events": 4},
        accepted={"invoices": 1_200, "payments": 1_000, "events": 4},
        quarantine_share={"invoices": 0.0, "payments": 0.0, "events": 0.0},
        debtors=100,
        default_share=0.05,
        exposure=150_000.0,
    )
    today = figures(
        rows={"invoices": 1_344, "payments": 1_120, "events": 9},
        accepted={"invoices": 1_344, "payments": 1_120, "events": 9},
        quarantine_share={"invoices": 0.0, "payments": 0.0, "events": 0.0},
        debtors=103,
        default_share=8 / 103,
        exposure=190_000.0,
    )
    feed = evaluate_feed(today, CFG, previous=("prev", prev), training=None)
    s = statuses(feed)
    assert feed["status"] == "passed"
    assert s["rows.events | prev"] == s["quarantine_share.events | prev"] == "too small to check"
    assert s["rows.invoices | prev"] == s["default_share | prev"] == s["exposure | prev"] == "ok"


def test_a_rise_of_events_publishes_a_fall_is_refused_and_other_tables_keep_their_limit() -> None:
    """A year-end clean-up posted 118 write_off events in a day: 33 events a month against 7 in the
    previous run (s25-history) refused the run as a broken feed. Events (``event_rows``) refuse a fall
    only: 7 -> 33 a month (x4.7) ok; 70 -> 33 (x0.47 < 0.67) failed; invoices x4.7 still failed by
    ``rows``. Same counts, by rows: 60 -> 282 events ok."""
    days = {"invoices": 365.0, "payments": 365.0, "events": 365.0}
    base = figures(days=days, span_rows={"invoices": 60_000, "payments": 51_000, "events": 84})
    base["rows"] = base["rows"] | {"events": 84}

    def today(events: int, invoices: int = 60_000) -> dict:
        t = figures(days={"invoices": 182.0, "payments": 182.0, "events": 182.0})
        t["rows"] = t["rows"] | {"events": events, "invoices": invoices}
        t["span_rows"] = {"invoices": invoices, "payments": 51_000, "events": events}
        return t

    cfg = NightlyConfig(feed_checks={"enabled": False})  # report the statuses, never refuse
    per_month = 30.4375
    up = evaluate_feed(today(198), cfg, previous=("prev", base), training=None)  # 33.1 vs 7.0 a month
    check = next(c for c in up["checks"] if c["check"] == "rows_per_month.events")
    assert check["status"] == "ok"
    assert check["value"] == pytest.approx(198 / 182 * per_month)
    assert check["reference"] == pytest.approx(84 / 365 * per_month)
    down_ref = base | {
        "rows": base["rows"] | {"events": 840},
        "span_rows": base["span_rows"] | {"events": 840},
    }
    down = evaluate_feed(today(198), cfg, previous=("prev", down_ref), training=None)  # 33.1 vs 70.0
    assert statuses(down)["rows_per_month.events | prev"] == "failed"
    inv = evaluate_feed(today(198, invoices=141_000), cfg, previous=("prev", base), training=None)
    assert statuses(inv)["rows_per_month.invoices | prev"] == "failed"

    whole_prev = figures()
    whole_prev["rows"] = whole_prev["rows"] | {"events": 60}
    whole_today = figures()
    whole_today["rows"] = whole_today["rows"] | {"events": 282}
    feed = evaluate_feed(whole_today, CFG, previous=("prev", whole_prev), training=("train", whole_prev))
    assert statuses(feed)["rows.events | prev"] == statuses(feed)["rows.events | train"] == "ok"


def test_a_table_that_vanished_fails_even_in_a_tiny_book() -> None:
    prev = figures(
        rows={"invoices": 30, "payments": 25}, accepted={"invoices": 30, "payments": 25}, debtors=5
    )
    today = figures(rows={"invoices": 31}, accepted={"invoices": 31}, debtors=5)
    with pytest.raises(FeedCheckError, match=r"rows.payments: 0 today vs 25 in prev"):
        evaluate_feed(today, CFG, previous=("prev", prev), training=None)


@pytest.mark.parametrize(
    ("share", "status"), [(0.40, "ok"), (0.4001, "failed"), (0.20, "ok"), (0.1999, "failed")]
)
def test_default_share_limit_is_ten_points_either_way(share: float, status: str) -> None:
    cfg = NightlyConfig(feed_checks={"enabled": False})  # report the statuses, never refuse
    feed = evaluate_feed(
        figures(default_share=share), cfg, previous=("prev", figures(default_share=0.30)), training=None
    )
    assert statuses(feed)["default_share | prev"] == status
    assert feed["status"] == ("passed" if status == "ok" else "failed (checks disabled in config)")


def test_accept_feed_records_who_when_and_which_checks(monkeypatch) -> None:
    monkeypatch.setenv("EWS_USER", "analyst.jo")
    today = figures(exposure=2_400_000.0 * 1000)
    feed = evaluate_feed(today, CFG, previous=("prev", figures()), training=("train", figures()), accept=True)
    assert feed["status"] == "accepted"
    over = feed["override"]
    assert over["by"] == "analyst.jo" and over["option"] == "--accept-feed"
    assert over["checks"] == ["exposure vs prev", "exposure vs train"]
    assert dt.datetime.fromisoformat(over["at"]).tzinfo is not None


def test_no_reference_passes_and_says_so() -> None:
    feed = evaluate_feed(figures(default_share=0.9), CFG, previous=None, training=None)
    assert feed["status"] == "passed" and feed["references"] == []
    assert feed["note"].startswith("no reference")


def test_training_snapshot_is_the_latest_on_or_before_the_as_of_date() -> None:
    ref = {
        "version": 1,
        "tables": figures(),
        "snapshots": [
            {"as_of": "2024-04-30", "debtors": 90, "default_share": 0.02, "exposure": 1.0},
            {"as_of": "2024-05-31", "debtors": 95, "default_share": 0.03, "exposure": 2.0},
        ],
    }
    fig, snap = training_figures(ref, dt.date(2024, 5, 30))
    assert snap == "2024-04-30" and fig["exposure"] == 1.0 and fig["payments_per_invoice"] == 0.85
    assert training_figures(ref, dt.date(2025, 1, 1))[1] == "2024-05-31"
    assert training_figures(ref, dt.date(2023, 1, 1))[1] == "2024-04-30"  # before training: the earliest
    assert training_figures(None, dt.date(2024, 5, 31)) == (None, "")


INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount
I1,D1,2024-05-01,2024-05-31,100.0
I2,D1,2024-05-02,2024-06-01,-5.0
I3,D2,2024-05-03,2024-06-02,250.0
I4,D2,2024-05-04,2024-06-03,80.0
"""
PAYMENTS = """payment_id,debtor_id,invoice_id,paid_on,amount
P1,D1,I1,2024-05-20,100.0
P2,D2,,2024-05-25,50.0
P3,D2,I3,2024-05-26,250.0
"""


def test_figures_of_an_ingested_feed_and_its_training_reference(tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(INVOICES)
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    result = ingest_dir(tmp_path, None, as_of=dt.date(2024, 6, 30))
    scores = pd.DataFrame(
        {"debtor_id": ["D1", "D2"], "in_default": [False, True], "open_balance": [0.0, 80.0]}
    )
    f = feed_figures(result.manifest["tables"], result.portfolio, scores)
    assert f["rows"] == {"invoices": 4, "payments": 3}
    assert f["accepted"] == {"invoices": 3, "payments": 3}
    assert f["quarantine_share"] == {"invoices": 0.25, "payments": 0.0}
    assert f["payments_per_invoice"] == 1.0  # 3 accepted payments / 3 accepted invoices
    assert f["allocated_share"] == pytest.approx(2 / 3)  # P2 names no invoice
    assert (f["debtors"], f["default_share"], f["exposure"]) == (2, 0.5, 80.0)
    assert f["default_exposure"] == 80.0  # D2, in default, owes 80.0
    dataset = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D1", "D2"],
            "as_of": pd.to_datetime(["2024-05-31", "2024-05-31", "2024-04-30", "2024-04-30"]),
            "in_default_at_asof": [False, False, False, True],
            "open_balance": [10.0, 20.0, 5.0, 7.5],
        }
    )
    ref = training_reference(result.manifest["tables"], result.portfolio, dataset)
    assert ref["snapshots"] == [
        # default_exposure (s24): the open balance of the debtors in default, D2's 7.5 on 04-30
        {
            "as_of": "2024-04-30",
            "debtors": 2,
            "default_share": 0.5,
            "exposure": 12.5,
            "default_exposure": 7.5,
        },
        {
            "as_of": "2024-05-31",
            "debtors": 2,
            "default_share": 0.0,
            "exposure": 30.0,
            "default_exposure": 0.0,
        },
    ]
    assert ref["tables"]["rows"] == f["rows"]


def test_exact_copies_of_a_kept_row_do_not_count_in_the_quarantine_share(tmp_path: Path) -> None:
    """A line-item export repeats each invoice on every line: the copies are quarantined
    duplicate_row (rows still add up) but lose nothing, so the share is of the other rows only."""
    lines = INVOICES.splitlines()
    copies = [lines[1]] * 3 + [lines[3]] * 2  # I1 three more times, I3 twice more
    (tmp_path / "invoices.csv").write_text("\n".join(lines + copies) + "\n")
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    result = ingest_dir(tmp_path, None, as_of=dt.date(2024, 6, 30))
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (9, 3, 6)
    assert inv["reasons"] == {"duplicate_row": 5, "amount_not_positive": 1}
    f = feed_figures(result.manifest["tables"], result.portfolio, pd.DataFrame({"in_default": [False]}))
    assert f["quarantine_share"]["invoices"] == 0.25  # (6 - 5) / (9 - 5): I2 alone, as without the copies
    assert f["rows"]["invoices"] == 9  # a feed sent twice still shows as rows delivered
    assert f["quarantined_rows"]["invoices"] == 1  # I2 alone: the copies are not rejected rows
    judged_from_one = CFG.model_copy(update={"max_quarantine_min_rows": 1})
    with pytest.raises(FeedCheckError, match=r"quarantine_share.invoices: 25.0% today"):  # I2 alone is 25 %
        evaluate_feed(f, judged_from_one, previous=None, training=None)
    halved = feed_figures(
        {"invoices": {**inv, "rows_in": 25, "rows_accepted": 19, "rows_quarantined": 6}},
        result.portfolio,
        pd.DataFrame({"in_default": [False]}),
    )
    assert halved["quarantine_share"]["invoices"] == 0.05  # (6 - 5) / (25 - 5)


def test_previous_run_without_feed_section_uses_inputs_and_scores() -> None:
    manifest = {"inputs": {"invoices": {"rows_in": 10, "rows_accepted": 9, "rows_quarantined": 1}}}
    scores = pd.DataFrame({"in_default": [True, False, False, False], "open_balance": [1.0, 2.0, None, 3.0]})
    f = previous_figures(manifest, scores)
    assert f["rows"] == {"invoices": 10} and f["quarantine_share"] == {"invoices": 0.1}
    assert (f["debtors"], f["default_share"], f["exposure"], f["allocated_share"]) == (4, 0.25, 6.0, None)
    assert previous_figures({"feed": {"figures": {"exposure": 5.0}}}, None) == {"exposure": 5.0}


def test_shipped_config_documents_the_code_defaults() -> None:
    shipped = load_config(Path(__file__).resolve().parents[2] / "conf" / "nightly.yaml", expect=NightlyConfig)
    assert shipped.feed_checks == CFG.feed_checks and shipped.feed_checks.enabled


def test_config_keeps_defaults_for_keys_left_out(tmp_path: Path) -> None:
    path = tmp_path / "nightly.yaml"
    path.write_text("kind: nightly\nfeed_checks:\n  previous:\n    rows: {max_ratio: 3}\n")
    cfg = load_config(path, expect=NightlyConfig)
    rows = cfg.feed_checks.previous.rows
    assert (rows.min_ratio, rows.max_ratio, rows.min_basis) == (0.67, 3.0, 50)
    assert cfg.feed_checks.previous.exposure == CFG.feed_checks.previous.exposure
    assert cfg.feed_checks.training == CFG.feed_checks.training
    path.write_text("kind: nightly\nfeed_checks:\n  training:\n    exposure: {max_ratio: 0.9}\n")
    with pytest.raises(ConfigError, match=r"feed_checks.training.exposure: .*min_ratio < 1 < max_ratio"):
        load_config(path, expect=NightlyConfig)


def test_a_feed_shorter_than_the_training_history_publishes_with_a_warning() -> None:
    """12 months of invoices (365 days) against a training on 36 (1,096): rows per month the same,
    so every check passes, and the run says its history is short: 365 / 30.4375 = 12.0 months, 1,096 /
    30.4375 = 36.0. 92 days shorter warns, 91 does not (SHORT_HISTORY_DAYS); a feed longer than the
    training (a year later, whole ledger) does not."""

    def spanned(days: int, invoices: int) -> dict:
        return figures(
            rows={"invoices": invoices, "payments": 51_000, "debtors": 5_000},
            days={"invoices": days},
            span_rows={"invoices": invoices},
        )

    feed = evaluate_feed(spanned(365, 20_000), CFG, previous=None, training=("train", spanned(1_096, 60_000)))
    assert feed["status"] == "passed"
    assert feed["history"]["feed_months"] == 12.0 and feed["history"]["training_months"] == 36.0
    assert feed["note"] == feed["history"]["note"]
    assert feed["note"].startswith(
        "short history: today's invoices cover 12 months, the champion learned from 36;"
    )
    assert short_history(spanned(1_004, 55_000), spanned(1_096, 60_000)) is not None  # 92 days shorter
    assert short_history(spanned(1_005, 55_000), spanned(1_096, 60_000)) is None  # 91 days shorter
    assert short_history(spanned(1_461, 80_000), spanned(1_096, 60_000)) is None
    # no training reference, or one without spans (before session 24, a statements book): no warning
    assert short_history(spanned(365, 20_000), None) is None
    assert short_history(spanned(365, 20_000), figures()) is None
    # a training reference from before session 24: days from the first date, no span_rows (a migrated
    # ledger's whole feed spans 16 dense months against 35 from its first date): not compared
    old = figures(days={"invoices": 1_066})
    assert short_history(spanned(487, 20_000), old) is None
    assert short_history(spanned(487, 20_000), {**old, "span_rows": {"invoices": 60_000}}) is not None
    feed = evaluate_feed(spanned(365, 20_000), CFG, previous=None, training=None)
    assert "history" not in feed and feed["note"].startswith("no reference")


def test_table_lag_is_the_days_since_the_latest_row_and_the_longest_silence_before_it() -> None:
    """Rows on Mon 1, Tue 2, Fri 5, Mon 8, Tue 9 January 2024 and one after the end (20th): at Fri 12
    the latest row is the 9th, 3 days before; the silences between rows are 0, 2 (Wed-Thu), 2
    (Sat-Sun) and 0 days: usual 2; 5 dated days. No weekday held rows on 4 of its 8 weeks before the
    9th (Monday and Tuesday 2, Friday 1): every day is a usual day, so the same 3 and 2 in usual days."""
    days = pd.to_datetime(
        ["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-20"]
    )
    counts = pd.Series([3, 1, 4, 2, 5, 1], index=days)
    assert table_lag(counts, pd.Timestamp("2024-01-12")) == {
        "last": "2024-01-09",
        "lag": 3,
        "usual": 2,
        "days": 5,
        # s36-walk: every silence ends in the 90 days to the 9th; the longest, 2 days, from Wed 3rd
        "hole": 2,
        "hole_from": "2024-01-03",
        "year_usual": 0,
        "year_days": 0,
        "weekdays": "1111111",
        "lag_usual_days": 3,
        "usual_usual_days": 2,
    }
    assert (
        table_lag(counts, pd.Timestamp("2023-12-31")) is None
        and table_lag(None, pd.Timestamp("2024-01-12")) is None
    )
    # a silence more than LAG_WINDOW_DAYS (400) before the latest row is not the book's usual any more
    old = pd.Series([1, 1, 1], index=pd.to_datetime(["2022-01-01", "2022-03-01", "2023-06-01"]))
    assert table_lag(old, pd.Timestamp("2023-06-01"))["usual"] == 0  # 2022-03-01 -> 2023-06-01: 457 days


def lags(pay_last: str, pay_usual: int, inv_last: str, inv_usual: int, as_of: str, days: int = 250) -> dict:
    """The ``lags`` figure of a feed: the latest payment and invoice, their usual silences."""
    end = dt.date.fromisoformat(as_of)
    return {
        "lags": {
            "invoices": {
                "last": inv_last,
                "lag": (end - dt.date.fromisoformat(inv_last)).days,
                "usual": inv_usual,
                "days": days,
            },
            "payments": {
                "last": pay_last,
                "lag": (end - dt.date.fromisoformat(pay_last)).days,
                "usual": pay_usual,
                "days": days,
                "file": "exports/payments.csv",
            },
        }
    }


def test_a_payments_feed_behind_its_usual_silence_is_refused_naming_file_dates_and_usual_lag() -> None:
    """Payments up to Tue 24 December, invoices up to Tue 31st (as-of): 7 days behind, against a
    book whose longest silence between payment days in the year is 2 days (weekends): 7 > 2 + 1,
    refused. 3 days behind (2 + 1) passes, and so does a ledger whose invoices are silent beyond
    their own usual too (a shutdown: the data-lag check's)."""
    as_of = dt.date(2024, 12, 31)
    today = figures(**lags("2024-12-24", 2, "2024-12-31", 2, "2024-12-31"))
    previous = (
        "the previous run 2024-12-30",
        figures(**lags("2024-12-30", 2, "2024-12-30", 2, "2024-12-30")),
    )
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, CFG, previous=previous, training=None, as_of=as_of)
    text = info.value.full  # how the usual lag is counted: `ews score --verbose` (s36-walk)
    assert (
        "payments_lag_days: the latest payment in exports/payments.csv is dated 2024-12-24, 7 days before --as-of "
        "2024-12-31 and 7 days before the latest invoice (2024-12-31); the book's usual lag is at most 2 days "
        "(its longest silence between payment days in the 400 days before it; 0 days in the previous run 2024-12-30)"
    ) in text
    assert "`ews score --as-of 2024-12-24`" in text and "--accept-feed" in text
    assert (
        statuses(evaluate_feed(today, CFG, previous=previous, training=None, as_of=as_of, accept=True))[
            "payments_lag_days | the book's usual lag"
        ]
        == "failed"
    )
    ok = figures(**lags("2024-12-28", 2, "2024-12-31", 2, "2024-12-31"))  # 3 days: 2 usual + 1
    assert (
        statuses(evaluate_feed(ok, CFG, previous=None, training=None, as_of=as_of))[
            "payments_lag_days | the book's usual lag"
        ]
        == "ok"
    )
    shut = figures(**lags("2024-12-24", 2, "2024-12-23", 2, "2024-12-31"))  # invoices 8 days silent too
    assert evaluate_feed(shut, CFG, previous=None, training=None, as_of=as_of)["status"] == "passed"
    few = figures(
        **lags("2024-12-24", 2, "2024-12-31", 2, "2024-12-31", days=19)
    )  # under 20 payment days a year
    assert (
        statuses(evaluate_feed(few, CFG, previous=None, training=None, as_of=as_of))[
            "payments_lag_days | the book's usual lag"
        ]
        == "too small to check"
    )


def test_the_training_datas_longer_silence_is_the_usual_lag() -> None:
    """A book whose training data held a 9-day silence (a Christmas shutdown) the last year of
    today's feed does not: 7 days behind passes (7 <= 9 + 1) and says whose silence it used."""
    today = figures(**lags("2024-12-24", 2, "2024-12-31", 2, "2024-12-31"))
    training = (
        "the training data of ews-pd v1 (snapshot 2024-11-30)",
        figures(**lags("2023-12-31", 9, "2023-12-31", 2, "2023-12-31")),
    )
    check = payments_lag(today, dt.date(2024, 12, 31), CFG.feed_checks.payments_lag, None, training)
    assert check is not None and (check.status, check.value, check.reference) == ("ok", 7, 9)
    assert "in the training data of ews-pd v1 (snapshot 2024-11-30), 9 days" in check.limit


def test_a_debtors_file_in_cents_is_refused_per_debtor_against_the_previous_run() -> None:
    """30 debtors with limits 1,000 .. 30,000 last night. Tonight's file in cents: every limit x 100,
    the median ratio 100 (> 10): refused, naming the column, the file and the debtors. An honest night
    where 3 of them got a 50 % higher limit and one was cut to half: median ratio 1.0, ok. 19 debtors on
    both nights (min_basis 20): too small to check."""
    ids = [f"D{i}" for i in range(1, 31)]
    previous = pd.DataFrame({"debtor_id": ids, "credit_limit_current": [1_000.0 * i for i in range(1, 31)]})
    cents = pd.DataFrame({"debtor_id": ids, "credit_limit": [100_000.0 * i for i in range(1, 31)]})
    ratios = stated_ratios(cents, previous, None)
    assert ratios == {"credit_limit": (100.0, 30, "per debtor")}
    limit = CFG.feed_checks.stated_amounts
    [check] = stated_checks(ratios, "the previous run 2024-12-30", limit, "exports/debtors.csv")
    assert check.status == "failed" and check.check == "stated.credit_limit"
    assert check.describe().startswith(
        "stated.credit_limit: the debtors' credit_limit in exports/debtors.csv is 100 times the previous run "
        "2024-12-30's (per debtor, 30 debtors stating it on both nights): a file in cents, or in thousands?"
    )
    honest = cents.assign(credit_limit=[1_000.0 * i for i in range(1, 31)])
    honest.loc[:2, "credit_limit"] *= 1.5
    honest.loc[29, "credit_limit"] /= 2
    [ok] = stated_checks(stated_ratios(honest, previous, None), "prev", limit)
    assert (ok.status, ok.value) == ("ok", 1.0)
    few = stated_ratios(cents.head(19), previous, None)
    assert stated_checks(few, "prev", limit)[0].status == "too small to check"
    with pytest.raises(FeedCheckError, match=r"stated.credit_limit: the debtors' credit_limit is 100 times"):
        evaluate_feed(
            figures(), CFG, previous=("the previous run 2024-12-30", figures()), training=None, stated=ratios
        )


def test_stated_turnover_is_compared_by_its_median_when_the_previous_run_kept_no_value_per_debtor() -> None:
    """annual_turnover is not in the scores: the previous run's figure stated_amounts holds its
    median (250,000 over 40 debtors); tonight's median 2,500 (thousands sent as... hundredths): 0.01,
    refused; the previous run's credit_limit_current compared per debtor as before."""
    today = pd.DataFrame(
        {
            "debtor_id": [f"D{i}" for i in range(40)],
            "annual_turnover": [2_500.0] * 40,
            "net_worth": [None] * 40,
        }
    )
    assert stated_amounts(today) == {"annual_turnover": {"median": 2_500.0, "debtors": 40}}
    previous = {"stated_amounts": {"annual_turnover": {"median": 250_000.0, "debtors": 40}}}
    ratios = stated_ratios(
        today, pd.DataFrame({"debtor_id": ["D1"], "credit_limit_current": [5.0]}), previous
    )
    assert ratios == {"annual_turnover": (0.01, 40, "of the medians")}
    assert stated_checks(ratios, "prev", CFG.feed_checks.stated_amounts)[0].status == "failed"
    assert stated_ratios(today, None, None) == {}  # no previous figure: nothing to compare


def test_a_debtors_file_in_cents_on_a_first_run_is_refused_against_the_training_datas_medians() -> None:
    """No previous run (a new output folder): the stated amounts' medians are compared with those the
    training reference recorded. Training: credit_limit median 20,000 over 300 debtors; tonight's file
    in cents: 2,000,000 over 300: ratio 100, refused. An honest night (median 21,000: 1.05) passes."""
    train = (
        "the training data of ews-pd v1 (snapshot 2024-11-30)",
        figures(stated_amounts={"credit_limit": {"median": 20_000.0, "debtors": 300}}),
    )
    cents = figures(stated_amounts={"credit_limit": {"median": 2_000_000.0, "debtors": 300}})
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(cents, CFG, previous=None, training=train, stated_file="exports/debtors.csv")
    assert (
        "stated.credit_limit: the debtors' credit_limit in exports/debtors.csv is 100 times the training data of "
        "ews-pd v1 (snapshot 2024-11-30)'s (of the medians, 300 debtors stating it on both nights)"
    ) in str(info.value)
    honest = figures(stated_amounts={"credit_limit": {"median": 21_000.0, "debtors": 310}})
    ok = evaluate_feed(honest, CFG, previous=None, training=train)
    assert statuses(ok)["stated.credit_limit | the training data of ews-pd v1 (snapshot 2024-11-30)"] == "ok"


def test_the_training_reference_records_the_debtors_stated_amounts(tmp_path: Path) -> None:
    """feed_reference.json keeps the medians of the training feed's stated amounts (debtors table)."""
    from features.tables import Portfolio

    debtors = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"], "credit_limit": [1_000.0, 3_000.0, None]})
    ref = training_reference({}, Portfolio(debtors=debtors), pd.DataFrame(columns=["as_of"]))
    assert ref["tables"]["stated_amounts"] == {"credit_limit": {"median": 2_000.0, "debtors": 2}}


def test_a_payments_feed_posted_two_days_late_every_night_is_its_usual_lag() -> None:
    """A book paid every day (longest silence 0) whose cash is applied two days after the bank's value
    date: tonight's latest payment is Sun 29 December, as-of Tue 31st, lag 2 > 0 + 1. The training feed
    showed the same delay (its latest payment 2 days before its last invoice, lag 2): the usual lag is
    0 + 2, allowed 0 + 2 + 1 = 3, ok. A week more behind (lag 9 > 3) is refused and says whose delay it
    allowed. Without the training feed's delay, lag 2 is refused until payments_lag.delay_days says 2;
    a training export 30 days behind counts for 7 days at most (9 > 0 + 7 + 1)."""
    as_of = dt.date(2024, 12, 31)
    limit = CFG.feed_checks.payments_lag
    training = (
        "the training data of ews-pd v1 (snapshot 2024-11-30)",
        figures(**lags("2024-11-28", 0, "2024-11-30", 0, "2024-11-30")),
    )
    today = figures(**lags("2024-12-29", 0, "2024-12-31", 0, "2024-12-31"))
    check = payments_lag(today, as_of, limit, None, training)
    assert check is not None and (check.status, check.value, check.reference) == ("ok", 2, 2)
    assert check.limit == (
        "at most 3 days behind (the longest silence between payment days in the 400 days before it, 0 days, "
        "+ the posting delay seen in the training data of ews-pd v1 (snapshot 2024-11-30), 2 days + 1), "
        "checked from 20 payment days a year"
    )
    stale = figures(**lags("2024-12-22", 0, "2024-12-31", 0, "2024-12-31"))
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(stale, CFG, previous=None, training=training, as_of=as_of)
    assert (
        "the book's usual lag is at most 2 days (its longest silence between payment days in the 400 days "
        "before it, 0 days, + the posting delay seen in the training data of ews-pd v1 (snapshot 2024-11-30), "
        "2 days): the payments feed looks 9 days behind"
    ) in info.value.full
    assert "feed_checks.payments_lag.delay_days" in str(info.value)
    assert payments_lag(today, as_of, limit, None, None).status == "failed"  # type: ignore[union-attr]
    told = limit.model_copy(update={"delay_days": 2})
    check = payments_lag(today, as_of, told, None, None)
    assert check is not None and (check.status, check.reference) == ("ok", 2)
    assert "+ the posting delay of payments_lag.delay_days, 2 days + 1" in check.limit
    far = ("the training data", figures(**lags("2024-10-31", 0, "2024-11-30", 0, "2024-11-30")))
    check = payments_lag(stale, as_of, limit, None, far)
    assert check is not None and (check.status, check.reference) == ("failed", 7)


def test_the_payments_lag_is_counted_from_the_as_of_date_on_a_book_invoiced_once_a_month() -> None:
    """Invoices run on the 2nd of each month (their usual silence 31 days); payments daily until the
    feed stopped on Fri 20 December; as-of Tue 31st. The latest payment is 18 days AFTER the latest
    invoice, but 11 days before the as-of date: 11 > 0 + 0 + 1, refused (counted from the latest
    invoice it would never be behind)."""
    as_of = dt.date(2024, 12, 31)
    today = figures(**lags("2024-12-20", 0, "2024-12-02", 31, "2024-12-31"))
    check = payments_lag(today, as_of, CFG.feed_checks.payments_lag, None, None)
    assert check is not None and (check.status, check.value, check.reference) == ("failed", 11, 0)
    assert "and 0 days before the latest invoice (2024-12-02)" in check.detail


def _table(rows_in: int, quarantined: int, copies: int = 0) -> dict:
    reasons = {"duplicate_row": copies} if copies else {}
    if quarantined - copies:
        reasons["first_due_before_agreed"] = quarantined - copies
    return {"rows_in": rows_in, "rows_accepted": rows_in - quarantined, "rows_quarantined": quarantined,
            "reasons": reasons}  # fmt: skip


@pytest.mark.parametrize(
    ("rows_in", "quarantined", "copies", "status"),
    [
        (3, 1, 0, "too small to check"),  # one bad plan of 3 (33 %): before, the whole nightly refused
        (3, 3, 0, "too small to check"),  # 100 % of 3: in quarantine with their reasons, the run goes on
        (10, 4, 0, "too small to check"),  # 40 %, 4 rows: below max_quarantine_min_rows (5)
        (10, 5, 0, "failed"),  # 50 %, 5 rows: judged, refused
        (10, 6, 2, "too small to check"),  # 4 of 8 (50 %) without the 2 exact copies: 4 rows, not 6
        (30, 9, 4, "ok"),  # 5 rows, (9 - 4) / (30 - 4) = 19.2 %: within the share
        (100, 5, 0, "ok"),  # 5 %: within the share
    ],
)
def test_the_quarantine_share_is_judged_from_max_quarantine_min_rows_rejected_rows(
    rows_in: int, quarantined: int, copies: int, status: str
) -> None:
    """s43-attack: one bad plan of a 3-row payment_plans table (33 %) refused the whole nightly (exit 3).
    The absolute limit now judges a table from max_quarantine_min_rows (5) rejected rows, exact copies not
    counted; a table below stays in quarantine and the check reads "too small to check"."""
    tables = {"invoices": _table(100, 0), "payment_plans": _table(rows_in, quarantined, copies)}
    f = feed_figures(tables, None, pd.DataFrame({"in_default": [False]}))
    assert f["quarantined_rows"] == {"invoices": 0, "payment_plans": quarantined - copies}
    feed = evaluate_feed(f, CFG, previous=None, training=None, accept=status == "failed")
    got = {c["check"]: c["status"] for c in feed["checks"]}
    assert got["quarantine_share.payment_plans"] == status
    if status != "failed":  # the run goes on: nothing refused
        assert evaluate_feed(f, CFG, previous=None, training=None)["checks"]
