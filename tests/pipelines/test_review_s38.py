"""Review tests of session 38 (s38-review): behaviours a one-line edit could break unseen.

The first three pin session 37's surviving mutants of 02a6315 (never-invoiced debtors, "prospects",
left out of the drift, the feed checks' own-months re-judgement and the backtest's under-floor figure;
/work/notes/s37-review.md P31, P33, P35). Expected values are worked out by hand in each test."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import OWN_MONTHS, evaluate_feed

# ------------------------------------------------------------------ P31: the drift leaves prospects out


def test_the_drift_of_a_feature_counts_only_debtors_with_a_history() -> None:
    """4 debtors with a history (feature 1, 2, 3, 4) and 2 prospects (feature 0): the drift of the
    feature reads the 4 (n 4); the reference's bins (-inf, 2.5], (2.5, inf) hold 50 % each, as the 4
    do: PSI 0. Counting the prospects too would read 6 values, 4 of them <= 2.5."""
    from pipelines.flows.nightly import drift

    ids = ["A", "B", "C", "D", "P1", "P2"]
    scored = pd.DataFrame(
        {
            "debtor_id": pd.Series(ids, dtype="string"),
            "as_of": pd.Timestamp("2024-06-30"),
            "pd": [0.1, 0.2, 0.3, 0.4, 0.05, 0.05],
            "in_default": False,
            "has_history": [True, True, True, True, False, False],
        }
    )
    X = pd.DataFrame({"feat": [1.0, 2.0, 3.0, 4.0, 0.0, 0.0]}, index=pd.Index(ids, dtype="string"))
    entry = {"kind": "numeric", "cuts": [2.5], "proportions": [0.5, 0.5], "missing": 0.0}
    loaded = SimpleNamespace(reference={"features": {"feat": entry}, "top_features": ["feat"]})
    table = drift.fn(scored, X, loaded, NightlyConfig())
    row = table.set_index("variable").loc["feat"]
    assert int(row["n"]) == 4
    assert row["psi"] == pytest.approx(0.0, abs=1e-9)


# ----------------------------------------------- P33: the own-months re-judgement over debtors with history


def _figures(debtors: int, with_history: int, invoices_90d: int) -> dict:
    return {
        "rows": {"invoices": 60_000, "debtors": debtors},
        "accepted": {"invoices": 60_000, "debtors": debtors},
        "quarantine_share": {"invoices": 0.0, "debtors": 0.0},
        "debtors": debtors,
        "debtors_with_history": with_history,
        "invoices_90d": invoices_90d,
    }


def test_the_own_months_rejudgement_counts_debtors_with_history_as_the_check_did() -> None:
    """A book of 2,500 invoiced debtors at the snapshot and tonight, plus 1,500 prospects added to its
    debtors table since (4,000 rows). invoices_per_debtor_90d reads 8,250 / 2,500 = 3.3 vs 13,500 /
    2,500 = 5.4 (0.61 < 0.67: failed), then the book's own months: 150 invoices a day up to the
    snapshot (13,500 in its 90 days = the training data's), then a gradual fall, and 2,500 debtors
    with a history vs 2,500 (ratio 1): passed. Reading the 4,000 rows there (1.6 > 1.5) would refuse
    the night for prospects the check itself left out."""
    days = pd.date_range("2023-07-01", "2024-09-30", freq="D")
    counts = pd.Series(150, index=days)
    start = pd.Timestamp("2024-04-03")
    for stop, n in [
        ("2024-05-03", 135),
        ("2024-06-02", 120),
        ("2024-07-02", 110),
        ("2024-08-01", 100),
        ("2024-08-31", 90),
        ("2024-09-30", 85),
    ]:
        counts[(days > start) & (days <= pd.Timestamp(stop))] = n
        start = pd.Timestamp(stop)
    training = ("the training data of ews-pd v1 (snapshot 2024-03-31)", _figures(2_500, 2_500, 13_500))
    feed = evaluate_feed(
        _figures(4_000, 2_500, 8_250),
        NightlyConfig(),
        previous=None,
        training=training,
        as_of=dt.date(2024, 9, 30),
        invoice_days=counts,
        snapshot=dt.date(2024, 3, 31),
    )
    assert feed["status"] == "passed"
    assert feed["judged"] == {"invoices_per_debtor_90d": OWN_MONTHS}


# --------------------------------------------------- P35: the backtest's under-floor figure ranks the pool


def test_the_under_floor_figure_ranks_only_debtors_with_a_history() -> None:
    """One month-end: 10 invoiced debtors with PDs 0.01 .. 0.10 and 10 prospects at PD 0.005. The top
    20 % of the 10 ranked are the PDs 0.10 and 0.09; under a floor of 0.095 only 0.09 is under it: 1
    row. Ranking the 20 live rows would take the top 4 (0.10 .. 0.07) and count 3 under the floor."""
    from pipelines.backtest import _under_floor

    panel = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2024-06-30"),
            "debtor_id": [f"D{i:02d}" for i in range(20)],
            "pd": [0.01 * (i + 1) for i in range(10)] + [0.005] * 10,
            "in_default": False,
            "has_history": [True] * 10 + [False] * 10,
        }
    )
    under = _under_floor(panel, 0.2, 0.095)
    assert under.tolist() == [False] * 8 + [True] + [False] * 11


# ------------------------------------------- 9e30030: a capture of 100 % summed in another order than its total


def test_a_capture_of_all_the_bad_balance_gets_the_binomial_bound_whatever_the_sums_rounding() -> None:
    """One month-end, 15 live debtors in the queue; the 3 that default (open 123.45, 678.91 and 2,345.67)
    have the highest PDs: the top 20 % (ceil(0.2 x 15) = 3 rows) holds all the bad balance, capture 100 %
    of 3 defaulted debtors. The queue sums them in its order (2,345.67 first), the total in the panel's
    (123.45 first): 0.9999999999999999 in floating point. The interval must still reach the exact bound
    of 3 of 3: low <= 0.025 ** (1 / 3) = 0.2924 (without it the replicates' 2.5th percentile, 0.78)."""
    from pipelines.backtest import backtest_figures

    T = pd.Timestamp("2024-06-30")
    bal = [123.45, 678.91, 2345.67] + [500.0] * 12
    panel = pd.DataFrame(
        {
            "as_of": T,
            "debtor_id": pd.array([f"D{i:02d}" for i in range(15)], dtype="string"),
            "pd": [0.50, 0.51, 0.52] + [0.01] * 12,
            "open_balance": bal,
            "overdue_amount": bal,
            "segment": "sme",
            "dpd": 30.0,
            "label": [1, 1, 1] + [0] * 12,
            "horizon_observed": True,
            "in_default": False,
            "flagged": [True] * 3 + [False] * 12,
            "first_default_date": [T + pd.Timedelta(days=40)] * 3 + [pd.NaT] * 12,
        }
    )
    out = backtest_figures(panel, NightlyConfig(), n_boot=200, seed=0)
    entry = out["intervals"]["figures"]["queue_capture_top20"]
    assert out["figures"]["queue_capture_top20"] == pytest.approx(1.0, abs=1e-12)
    assert (entry["value"], entry["n"]) == (1.0, 3)
    assert entry["low"] <= round(0.025 ** (1 / 3), 6) and entry["high"] == 1.0


# ------------------------------------- 79d1129: the backup to restore satisfies every run that recorded the log


def test_a_forged_line_read_by_several_runs_asks_for_a_backup_after_the_latest_of_them(tmp_path) -> None:
    """Five override lines; the run of 5 January read 2, the run of 10 January 3, the run of 12 January
    all 5. Line 3 rewritten with every hash after it recomputed: the runs of 10 and 12 January no longer
    match. A backup taken after 10 January but before 12 January (3 or 4 lines) would be refused again
    (12 January recorded 5 lines): the advice names the run of 12 January and its 5 lines."""
    import datetime as dt
    import json
    from datetime import UTC

    from pipelines.scoring.overrides import AuditLogError, Override, append_override, check_log, log_head
    from tests.pipelines.test_hostile_s38 import _forged

    runs = tmp_path / "runs"

    def publish(day: str, lines: int):
        folder = runs / day
        folder.mkdir(parents=True)
        (folder / "scores.parquet").write_bytes(b"")
        (folder / "manifest.json").write_text(json.dumps({"as_of": day, "overrides": log_head(runs, lines)}))
        return folder

    for i in range(5):
        when = dt.datetime(2026, 1, 4 + i, 10, tzinfo=UTC)
        append_override(
            runs, Override(f"D{i}", "escalated", "call booked", "anna", dt.date(2026, 1, 4)), now=when
        )
    publish("2026-01-05", 2)
    jan10 = publish("2026-01-10", 3)
    jan12 = publish("2026-01-12", 5)
    log = runs / "overrides.jsonl"
    log.write_text(_forged(log.read_text().splitlines(), 3, status="cleared"))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan12)
    said = str(err.value)
    assert f"{jan10 / 'manifest.json'} recorded 3 lines ending in hash " in said, said  # where it changed
    assert "line 3 was changed since" in said, said
    head = json.loads((jan12 / "manifest.json").read_text())["overrides"]
    assert (
        f"Restore overrides.jsonl from a backup taken after the run of 2026-01-12 (its first 5 lines end in "
        f"hash {head['hash'][:12]}...)" in said
    ), said


# ---------------------------------------------- 5d05aab: a version deleted through MLflow, dated by its deletion


def test_the_deletion_of_a_version_is_dated_by_the_store_not_by_its_creation() -> None:
    """v1 created 2026-03-01 08:00 UTC, promoted at 09:00, deleted through MLflow on 2026-04-01 12:00 (the
    store's last update of its row). The history reads champion, then deleted on 1 April: dated by its
    creation the deletion would come before the promotion it ended."""
    import json
    from datetime import UTC, datetime

    from pipelines.adapters.registry_view import EVENTS_TAG, VersionRecord, decision_events

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)

    promoted = {
        "at": "2026-03-01T09:00:00+00:00",
        "event": "champion",
        "by": "anna",
        "mode": "manual",
        "reason": "first",
    }
    record = VersionRecord(
        version="1",
        created_ms=ms("2026-03-01T08:00:00"),
        run_id="",
        tags={EVENTS_TAG: json.dumps([promoted])},
        aliases=(),
        deleted=True,
        deleted_ms=ms("2026-04-01T12:00:00"),
    )
    events = decision_events([record])
    assert [(e["event"], e["at"]) for e in events] == [
        ("champion", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("deleted", datetime(2026, 4, 1, 12, 0, tzinfo=UTC)),
    ]


def test_a_line_removed_after_a_later_run_read_it_is_refused_on_a_backfill(tmp_path) -> None:
    """Three override lines; the run of 5 January read 2, the run of 10 January all 3. Line 3 removed (the
    log cut back to 2 lines: no chain breaks). A backfill of 7 January, whose previous run (5 January)
    recorded 2 lines, must still refuse it: the run of 10 January recorded 3."""
    import datetime as dt
    import json
    from datetime import UTC

    from pipelines.scoring.overrides import AuditLogError, Override, append_override, check_log, log_head

    runs = tmp_path / "runs"

    def publish(day: str, lines: int):
        folder = runs / day
        folder.mkdir(parents=True)
        (folder / "scores.parquet").write_bytes(b"")
        (folder / "manifest.json").write_text(json.dumps({"as_of": day, "overrides": log_head(runs, lines)}))
        return folder

    for i in range(3):
        when = dt.datetime(2026, 1, 4 + i, 10, tzinfo=UTC)
        append_override(
            runs, Override(f"D{i}", "escalated", "call booked", "anna", dt.date(2026, 1, 4)), now=when
        )
    jan5 = publish("2026-01-05", 2)
    jan10 = publish("2026-01-10", 3)
    log = runs / "overrides.jsonl"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:2]))
    with pytest.raises(AuditLogError) as err:
        check_log(runs, jan5)
    said = str(err.value)
    assert f"{jan10 / 'manifest.json'} recorded 3 lines ending in hash " in said, said
    assert "the log now has 2 lines: lines were removed since" in said, said
