"""Session 40's year walk (s40-walk; /work/notes/s39-walk.md's open findings, the leftovers): what a credit and a
collections team saw month after month. Hand-built frames and ledgers; every expected value by hand.
Each test failed on main 4b2921c."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.credit import CreditPolicyConfig
from pipelines.config.nightly import NightlyConfig
from pipelines.config.source import RulesConfig
from pipelines.ingest import ingest_files
from pipelines.scoring.actions import choose_actions
from pipelines.scoring.limits import review_limits
from pipelines.scoring.queue import build_queues, event_memory

# ------------------------------------------------------------------ F9: ingest "replaced" of re-sent rows

INV = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
PAY = "payment_id,debtor_id,invoice_id,paid_on,amount\n"
DEB = "debtor_id,name\nD1,Alpha\nD2,Beta\n"
NIGHT1_INV = (
    "I1,D1,2024-01-05,2024-02-04,100.00,EUR\n"
    "I2,D1,2024-02-10,2024-03-11,200.00,EUR\n"
    "I3,D2,2024-01-20,2024-02-19,50.00,EUR\n"
    "I4,D2,2024-03-15,2024-04-14,80.00,EUR\n"
)
NIGHT1_PAY = "P1,D1,I1,2024-02-01,100.00\nP2,D2,I3,2024-03-01,50.00\n"


def _files(folder: Path, invoices: str, payments: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv", "debtors": folder / "deb.csv"}
    files["invoices"].write_text(INV + invoices)
    files["payments"].write_text(PAY + payments)
    files["debtors"].write_text(DEB)
    return files


def test_a_rolling_export_re_sending_rows_unchanged_is_not_read_as_revisions(tmp_path: Path) -> None:
    """Night 2 re-sends the whole ledger: I1-I3 as they were, I4 revised (80.00 -> 90.00), I5 new; P1, P2
    as they were, P3 new; D1, D2 as they were. Hand count: invoices kept 4, replaced 4 of which 3
    unchanged (I4 revised), added 1, rows 5; payments kept 2, replaced 2, both unchanged, added 1;
    debtors replaced 2, both unchanged. The console said "replaced 4" alone (s39-walk F9: "replaced
    24,038" for a year of rows re-sent by an ERP's rolling export)."""
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
    out = tmp_path / "out"
    ingest_files(
        _files(tmp_path / "n1", NIGHT1_INV, NIGHT1_PAY), out, as_of=dt.date(2024, 3, 31), settings=rules,
        keep_history=True,
    )  # fmt: skip
    night2 = _files(
        tmp_path / "n2",
        NIGHT1_INV.replace("2024-04-14,80.00", "2024-04-14,90.00")
        + "I5,D1,2024-04-10,2024-05-10,60.00,EUR\n",
        NIGHT1_PAY + "P3,D1,I2,2024-04-05,200.00\n",
    )
    args = ["ingest", "--invoices", str(night2["invoices"]), "--payments", str(night2["payments"])]
    args += ["--debtors", str(night2["debtors"]), "--as-of", "2024-04-30", "--out", str(out), "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--keep-history"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "invoices 5 (kept 4, replaced 4 (3 re-sent unchanged), added 1, removed 0)" in said
    assert "payments 3 (kept 2, replaced 2 (2 re-sent unchanged), added 1, removed 0)" in said
    import json

    tables = json.loads((out / "manifest.json").read_text())["history"]["tables"]
    assert tables["invoices"] == {
        "kept": 4,
        "replaced": 4,
        "unchanged": 3,
        "added": 1,
        "removed": 0,
        "rows": 5,
    }
    assert tables["debtors"]["unchanged"] == 2


# ------------------------------------------------------------------ F8: the debtor-history line of ews train


def test_month_ends_before_the_history_starts_are_said_as_information_not_a_warning() -> None:
    """A --keep-history history starts on the first night (2024-12-31): D1 and D2 have rows from then.
    Training rows at 2024-10-31 and 2024-11-30 (4 of 6) read today's debtors table: a fact nobody can
    change but with older limits, said as information; it was a warning at every training (s39-walk
    F8, 5 of 5). D3 has no row while the history dates the others at 2025-01-31: still a warning."""
    from pipelines.flows.train import history_start_note, master_data_warning

    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2"], dtype="string"),
            "valid_from": pd.to_datetime(["2024-12-31", "2024-12-31"]),
            "credit_limit": [500.0, 700.0],
        }
    )
    dataset = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2", "D1", "D2", "D1", "D2"], dtype="string"),
            "as_of": pd.to_datetime(["2024-10-31"] * 2 + ["2024-11-30"] * 2 + ["2025-01-31"] * 2),
        }
    )
    assert master_data_warning(history, dataset, gaps_only=True) is None
    assert history_start_note(history, dataset) == (
        "debtor_history starts on 2024-12-31 (the first --keep-history ingest dates the debtors table of its "
        "night): the 2 training month-ends before it (2024-10-31 to 2024-11-30; 4 of 6 training rows) read "
        "today's debtors table. Nothing to do unless you have older limits: then add debtor_history rows dated "
        "before 2024-12-31 (README 'Dated master data')"
    )
    gap = pd.concat(
        [
            dataset,
            pd.DataFrame(
                {"debtor_id": pd.array(["D3"], dtype="string"), "as_of": pd.to_datetime(["2025-01-31"])}
            ),
        ],
        ignore_index=True,
    )
    said = master_data_warning(history, gap, gaps_only=True)
    assert said is not None and said.startswith(
        "debtor_history: 1 debtor at 1 month-end (2025-01-31 to 2025-01-31; 1 of 7 training rows)"
    )
    # the backtest (and a caller without gaps_only) still counts every row, as before
    assert master_data_warning(history, dataset).startswith("debtor_history: 2 debtors at 2 month-ends")
    assert history_start_note(history, dataset.iloc[4:]) is None


# ------------------------------------------------------------------ F2: the recovery queue's memory of events

AS_OF = pd.Timestamp("2025-06-30")


def _rows(**cols: object) -> pd.DataFrame:
    n = len(next(iter(cols.values())))  # type: ignore[arg-type]
    base = {
        "dpd": [700.0] * n,
        "pd": [1.0] * n,
        "expected_loss": [1000.0] * n,
        "exposure": [5000.0] * n,
        "overdue_amount": [5000.0] * n,
        "disputed_amount": [0.0] * n,
        "plan": [""] * n,
    }
    return pd.DataFrame({**base, **cols})


def test_an_event_action_moves_on_with_the_days_the_recovery_queue_has_given_it() -> None:
    """Insolvency of 2023-08-08, first given an action by the recovery queue on 2025-06-01 (29 days):
    file a claim; since 2025-05-01 (60 days): follow up the claim; since 2023-06-30 (731 days): write-off
    review. An agency placement given since 2024-06-30 (365 days): write-off review; since 2025-01-31
    (150 days): follow up with the agency. No memory (NaN days): the event's action, as before."""
    cfg = NightlyConfig()
    since = pd.to_datetime(["2025-06-01", "2025-05-01", "2023-06-30", "2024-06-30", "2025-01-31", None])
    frame = _rows(
        event=pd.array(["insolvency"] * 3 + ["agency_placement"] * 2 + ["insolvency"], dtype="string"),
        event_on=pd.to_datetime(["2023-08-08"] * 3 + ["2023-08-02"] * 2 + ["2023-08-08"]),
        event_action_since=since,
        event_action_days=(AS_OF - since).days,
    )
    follow = {k: [(s.days, s.action) for s in v] for k, v in cfg.event_actions.follow_up.items()}
    rc = cfg.recovery
    got = choose_actions(
        frame, rc.rules, rc.default_action, "recovery.rules", 2, cfg.event_actions.actions(), follow
    )
    assert got["next_action"].tolist() == [
        "file_claim",
        "claim_follow_up",
        "write_off_review",
        "write_off_review",
        "agency_follow_up",
        "file_claim",
    ]
    assert got["action_rule"].iloc[1] == (
        "insolvency on 2023-08-08: follow up the creditor's claim (60+ days since the recovery queue first "
        "said file a creditor's claim, on 2025-05-01)"
    )
    assert got["action_rule_id"].tolist() == [
        "event_actions.insolvency",
        "event_actions.follow_up.insolvency[0]",
        "event_actions.follow_up.insolvency[1]",
        "event_actions.follow_up.agency_placement[0]",
        "event_actions.agency_placement",
        "event_actions.insolvency",
    ]
    # follow_up {}: the event's action every night (the rules before session 40)
    plain = choose_actions(
        frame, rc.rules, rc.default_action, "recovery.rules", 2, cfg.event_actions.actions()
    )
    assert plain["next_action"].tolist() == ["file_claim"] * 3 + ["agency_follow_up"] * 2 + ["file_claim"]


def test_the_recovery_queue_carries_when_it_first_gave_an_events_action() -> None:
    """The previous run's recovery queue held c (insolvency of 2024-06-10) since 2024-04-30, and d with an
    agency placement of 2024-05-01 (tonight d's latest event is another: a write-off): c keeps
    2024-04-30 (61 days to 2024-06-30: follow up the claim), d starts tonight, e (no event) has none."""
    prev = pd.DataFrame(
        {
            "debtor_id": ["c", "d"],
            "event": ["insolvency", "agency_placement"],
            "event_on": pd.to_datetime(["2024-06-10", "2024-05-01"]),
            "event_action_since": pd.to_datetime(["2024-04-30", "2024-05-31"]),
        }
    )
    rows = pd.DataFrame(
        {
            "debtor_id": pd.array(["c", "d", "e"], dtype="string"),
            "event": pd.array(["insolvency", "write_off", pd.NA], dtype="string"),
            "event_on": pd.to_datetime(["2024-06-10", "2024-06-20", None]),
        }
    )
    day = pd.Timestamp("2024-06-30")
    got = event_memory(rows, prev, day)
    assert got.tolist()[:2] == [pd.Timestamp("2024-04-30"), day] and pd.isna(got.iloc[2])
    assert event_memory(rows, None, day).tolist()[:2] == [day, day]  # no previous run: starts tonight
    # through the queue: c in default with an insolvency, 61 days of memory
    scored = pd.DataFrame(
        {
            "debtor_id": pd.Series(["c"], dtype="string"),
            "name": ["C"],
            "segment": ["retail"],
            "in_default": [True],
            "pd": [1.0],
            "band": ["default"],
            "open_balance": [500.0],
            "overdue_amount": [500.0],
            "overdue_amount_1_30": [0.0],
            "overdue_amount_31_60": [0.0],
            "overdue_amount_61_90": [0.0],
            "overdue_amount_90p": [500.0],
            "open_disputed_amount": [0.0],
            "dpd_current_max": [120.0],
            "as_of": day,
        }
    )
    oldest = pd.DataFrame(
        {
            "debtor_id": pd.array(["c"], dtype="string"),
            "oldest_invoice_id": ["I1"],
            "oldest_due_date": pd.to_datetime(["2024-02-29"]),
            "event": pd.array(["insolvency"], dtype="string"),
            "event_on": pd.to_datetime(["2024-06-10"]),
        }
    )
    _, r = build_queues(scored, oldest, NightlyConfig(), as_of=day, previous_recovery=prev)
    row = r.set_index("debtor_id").loc["c"]
    assert row["next_action"] == "claim_follow_up" and row["event_action_since"] == pd.Timestamp("2024-04-30")
    _, first = build_queues(scored, oldest, NightlyConfig(), as_of=day)
    assert first["next_action"].tolist() == ["file_claim"]
    assert first["event_action_since"].tolist() == [day]


# ------------------------------------------------------------------ F1: credit-limit review (hold)


def _limits(rec: list[float], band: list[str], **more: object) -> pd.DataFrame:
    n = len(rec)
    frame = pd.DataFrame(
        {
            "debtor_id": [f"D{i}" for i in range(n)],
            "band": band,
            "in_default": [False] * n,
            "open_balance": [0.0] * n,
            "credit_limit_current": [10_000.0] * n,
            "credit_limit_recommended": rec,
            "credit_limit_conservative": [r / 2 for r in rec],
            "credit_limit_aggressive": [r * 2 for r in rec],
            "credit_limit_rule": pd.Categorical(["band A: need x 2"] * n),
        }
    )
    for k, v in more.items():
        frame[k] = v
    return frame


def test_a_recommendation_within_the_review_share_keeps_the_previous_runs_limit() -> None:
    """keep_within 0.25, previous recommendations 10,000 each. Tonight: D0 12,000 (within 12,500):
    kept, every variant (5,000 / 20,000); D1 13,000: above 12,500, moves; D2 8,000 (8,000 = 10,000 /
    1.25): kept; D3 9,000 but band B since A: moves; D4 9,000 while over its current limit (exposure
    12,000 > 10,000) and lower: moves (no stale higher limit); D5 in default (0): moves; D6 9,000 capped:
    moves; D7 0 (no invoice in the window): moves; D8 new tonight: as computed."""
    policy = CreditPolicyConfig.model_validate({"review": {"keep_within": 0.25}})
    prev = _limits([10_000.0] * 8, ["A"] * 8)
    band, capped = "band A: need x 2", "band A: need x 2, capped at 10 % of annual turnover"
    rules = [band] * 5 + ["in default: 0", capped, "no invoice in the last 90 days: 0", band]
    now = _limits(
        [12_000.0, 13_000.0, 8_000.0, 9_000.0, 9_000.0, 0.0, 9_000.0, 0.0, 7_000.0],
        ["A", "A", "A", "B", "A", "A", "A", "A", "A"],
        open_balance=[0.0, 0.0, 0.0, 0.0, 12_000.0, 0.0, 0.0, 0.0, 0.0],
        in_default=[False] * 5 + [True] + [False] * 3,
    )
    now["credit_limit_rule"] = pd.Categorical(rules)
    got = review_limits(now, prev, policy)
    assert got["credit_limit_recommended"].tolist() == [
        10_000.0, 13_000.0, 10_000.0, 9_000.0, 9_000.0, 0.0, 9_000.0, 0.0, 7_000.0,
    ]  # fmt: skip
    assert got["credit_limit_conservative"].tolist()[:3] == [5_000.0, 6_500.0, 5_000.0]
    kept = "the previous run's limit kept: the computed one is within 25 % of it in the same band (credit.review)"
    assert (got["credit_limit_rule"].astype(str) == kept).tolist() == [True, False, True] + [False] * 6
    # the default since session 41 is the same 0.25 (the same result); null: as computed; without a previous
    # run: as computed
    pd.testing.assert_frame_equal(review_limits(now, prev, CreditPolicyConfig()), got)
    off = CreditPolicyConfig.model_validate({"review": {"keep_within": None}})
    assert review_limits(now, prev, off) is now
    assert review_limits(now, None, policy) is now


# ------------------------------------------------------------------ F3: an analyst's --band is the band shown


def test_an_analysts_band_is_the_band_shown_with_the_models_beside_it(tmp_path: Path) -> None:
    """D1 under review with --band C, the model's band B; D2 without an override (band D). The
    watchlist said band B beside override_band C (s39-walk F3: D0000362 on 2025-03-31 and 04-30);
    now band C, model_band B; D2 D and D. ``ews watchlist history`` reads "C (model B)"."""
    from pipelines.adapters.exports import watchlist_export
    from pipelines.scoring.watch_state import STATE_FILE, with_state

    wl = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2"], dtype="string"),
            "pd": [0.09, 0.20],
            "band_prev": ["B", "D"],
            "band": ["B", "D"],
            "triggers": ["override (under_review)", "threshold"],
        }
    )
    state = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2"], dtype="string"),
            "status": ["under_review", "new"],
            "first_flagged_on": pd.to_datetime(["2025-02-28", "2025-03-31"]),
            "days_on_list": pd.array([31, 0], dtype="Int64"),
            "owner": ["Anna", "Ben"],
            "override_band": pd.array(["C", pd.NA], dtype="string"),
            "override_by": pd.array(["A. Jansen", pd.NA], dtype="string"),
            "override_reason": pd.array(["insolvency rumours", pd.NA], dtype="string"),
            "override_until": pd.to_datetime(["2025-06-30", None]),
        }
    )
    got = with_state(wl, state).set_index("debtor_id")
    assert got["band"].tolist() == ["C", "D"] and got["model_band"].tolist() == ["B", "D"]
    assert list(watchlist_export(got.reset_index()).columns)[:5] == [
        "debtor_id",
        "pd",
        "band_prev",
        "band",
        "model_band",
    ]
    # the history: the run's scores say B, its watch state C
    run = tmp_path / "2025-03-31"
    run.mkdir()
    pd.DataFrame({"debtor_id": ["D1"], "pd": [0.09], "band": ["B"], "in_default": [False]}).to_parquet(
        run / "scores.parquet"
    )
    state.assign(as_of=pd.Timestamp("2025-03-31")).to_parquet(run / STATE_FILE)
    result = CliRunner().invoke(app, ["watchlist", "history", "D1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "C (model B)" in result.output


# ------------------------------------------------------------------ F7: reasons that read like an analyst's


def test_either_way_features_say_their_side_of_the_book_and_what_it_means() -> None:
    """The unseen book's LightGBM reasons read "77 invoices in the last year", "payment terms average 14
    days", "last invoice 11 days ago" (facts, no comparison with the book) and "customer for only 912
    days" (s39-walk F7). With the book's typical value (the centre of reason_codes): the side and what it
    means; without it (a caller that has none), the fact as before."""
    import numpy as np

    from features.catalog import CATALOG
    from models.reasons import Contributions, reason_codes, render_reason

    def said(feature: str, value: float, typical: float | None) -> str:
        return render_reason(CATALOG[feature], feature, value, "EUR", typical)

    assert said("invoice_count_365d", 77, 40.0) == (
        "buys more often than most customers: 77 invoices in the last year (typical 40), a larger exposure at stake"
    )
    assert said("payment_terms_mean_365d", 14, 30.0) == (
        "short payment terms: 14 days on average (typical 30), little room before an invoice is overdue"
    )
    assert said("days_since_last_invoice", 140, 25.0) == (
        "no new invoice for 140 days (typical 25): the customer may have stopped buying"
    )
    assert said("credit_limit", 5_000, 20_000.0) == (
        "low credit limit of EUR 5,000 (typical EUR 20,000): the credit team already holds this customer short"
    )
    assert said("tenure_days", 912, 2_000.0) == "a short track record: customer for only 2.5 years"
    assert said("tenure_days", 240, 2_000.0) == "a short track record: customer for only 8 months"
    assert said("invoice_count_365d", 77, None) == "77 invoices in the last year"
    assert said("invoice_count_365d", 40, 40.0) == "40 invoices in the last year"  # at the typical value
    X = pd.DataFrame({"invoice_count_365d": [77.0, 3.0]}, index=["A", "B"])
    contrib = Contributions(pd.DataFrame({"invoice_count_365d": [0.4, 0.4]}, index=["A", "B"]), np.zeros(2))
    long = reason_codes(contrib, X, CATALOG, centre=pd.Series({"invoice_count_365d": 40.0}))
    assert long["reason"].tolist() == [
        "buys more often than most customers: 77 invoices in the last year (typical 40), a larger exposure at stake",
        "buys less often than most customers: 3 invoices in the last year (typical 40), little trading to judge by",
    ]
