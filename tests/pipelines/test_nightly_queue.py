"""The two queues: live vs in default, ranking, action rules (disputes, payment plans), oldest invoice."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.actions import choose_actions, latest_events, with_events
from pipelines.scoring.overrides import active_overrides, append_override, new_override
from pipelines.scoring.plans import plans_in_force
from pipelines.scoring.queue import build_queues

AS_OF = pd.Timestamp("2024-06-30")


def debtors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(["a", "b", "c", "d", "e"], dtype="string"),
            "name": ["A", "B", "C", "D", "E"],
            "segment": ["retail", "construction", "retail", "retail", "retail"],
            "in_default": [False, False, True, False, False],
            "pd": [0.10, 0.05, 1.0, 0.50, 0.02],
            "band": ["D", "C", "default", "E", "B"],
            "open_balance": [1000.0, 10000.0, 500.0, 800.0, 100.0],
            "overdue_amount": [100.0, 2000.0, 500.0, 0.0, 50.0],
            "overdue_amount_1_30": [100.0, 0.0, 0.0, 0.0, 50.0],
            "overdue_amount_31_60": [0.0, 2000.0, 0.0, 0.0, 0.0],
            "overdue_amount_61_90": [0.0, 0.0, 0.0, 0.0, 0.0],
            "overdue_amount_90p": [0.0, 0.0, 500.0, 0.0, 0.0],
            "open_disputed_amount": [0.0, 300.0, 0.0, 0.0, np.nan],
            "dpd_current_max": [5.0, 40.0, 120.0, 0.0, 3.0],
            "as_of": AS_OF,
        }
    )


def test_live_and_defaulted_debtors_go_to_separate_queues() -> None:
    cfg = NightlyConfig.model_validate(
        {"queue": {"lgd": {"default": 0.5, "by_segment": {"construction": 0.8}}}}
    )
    q, r = build_queues(
        debtors(), pd.DataFrame(columns=["debtor_id", "oldest_invoice_id", "oldest_due_date"]), cfg
    )
    # live EL: a 0.10*1000*0.5=50; b 0.05*10000*0.8=400; d not overdue; e 0.02*100*0.5=1
    assert q["debtor_id"].tolist() == ["b", "a", "e"]
    assert q["expected_loss"].tolist() == pytest.approx([400.0, 50.0, 1.0])
    assert q["rank"].tolist() == [1, 2, 3]
    assert q.set_index("debtor_id").loc["b", "disputed_amount"] == 300.0
    assert q.set_index("debtor_id").loc["e", "disputed_amount"] == 0.0
    assert q["exposure"].tolist() == [10000.0, 1000.0, 100.0]
    # c is in default: recovery queue only, recoverable 500*(1-0.5)=250 halved after 365 days past due
    assert r["debtor_id"].tolist() == ["c"] and r["rank"].tolist() == [1]
    assert r["recoverable_amount"].iloc[0] == 250.0
    assert r["recovery_priority"].iloc[0] == pytest.approx(round(250.0 * 0.5 ** (120 / 365), 2))
    assert r["next_action"].iloc[0] == "agency_referral"  # 120 days past due, not disputed


def same_exposure() -> pd.DataFrame:
    """Live a, b, e with the same exposure (1000) and 5, 80, 60 days past due."""
    return debtors().assign(
        pd=[0.10, 0.10, 1.0, 0.50, 0.09],
        segment="retail",
        open_balance=[1000.0, 1000.0, 500.0, 800.0, 1000.0],
        overdue_amount=[100.0, 100.0, 500.0, 0.0, 100.0],
        dpd_current_max=[5.0, 80.0, 120.0, 0.0, 60.0],
    )


def test_collections_ranked_by_expected_loss_weighted_by_days_past_due() -> None:
    frame = same_exposure()
    none = pd.DataFrame(columns=["debtor_id", "oldest_invoice_id", "oldest_due_date"])
    # EL = PD x 1000 x 0.45: a 45, b 45, e 40.5; priority = EL x (1 + dpd / 90):
    # a 45 x 1.0556 = 47.5, b 45 x 1.8889 = 85, e 40.5 x 1.6667 = 67.5
    q, _ = build_queues(frame, none, NightlyConfig())
    assert q["debtor_id"].tolist() == ["b", "e", "a"]
    assert q["priority"].tolist() == pytest.approx([85.0, 67.5, 47.5])
    assert q["expected_loss"].tolist() == pytest.approx([45.0, 40.5, 45.0])
    # with the weight off (null): expected loss, ties by overdue amount then debtor_id -> a, b, e
    off = NightlyConfig.model_validate({"queue": {"dpd_weight_days": None}})
    q, _ = build_queues(frame, none, off)
    assert q["debtor_id"].tolist() == ["a", "b", "e"]
    assert q["priority"].tolist() == pytest.approx(q["expected_loss"].tolist())
    with pytest.raises(ValueError, match="dpd_weight_days"):
        NightlyConfig.model_validate({"queue": {"dpd_weight_days": 0}})


def test_the_blend_key_ranks_by_pd_and_pay_pd() -> None:
    """key blend: the priority's PD is (PD + pay_pd) / 2; expected_loss stays PD x exposure x LGD.
    EL = PD x 1000 x 0.45 (a 45, b 45, e 40.5); blended PD a (0.10 + 0) / 2 = 0.05, b (0.10 + 0.30) / 2
    = 0.20, e (0.09 + 0.95) / 2 = 0.52 (a has no pay_pd: 0); priority = blended EL x (1 + dpd / 90):
    a 22.5 x 1.0556 = 23.75, b 90 x 1.8889 = 170, e 234 x 1.6667 = 390."""
    frame = same_exposure()
    none = pd.DataFrame(columns=["debtor_id", "oldest_invoice_id", "oldest_due_date"])
    pay = pd.Series([0.30, 0.95, 0.5], index=pd.Index(["b", "e", "c"], dtype="string"))
    q, r = build_queues(frame, none, NightlyConfig(), pay_pd=pay, key="blend")
    assert q["debtor_id"].tolist() == ["e", "b", "a"]
    assert q["priority"].tolist() == pytest.approx([390.0, 170.0, 23.75])
    assert q["expected_loss"].tolist() == pytest.approx([40.5, 45.0, 45.0])
    same, r_pd = build_queues(frame, none, NightlyConfig(), pay_pd=pay, key="pd")  # pay_pd unused
    assert same["debtor_id"].tolist() == ["b", "e", "a"] and same["priority"].tolist() == pytest.approx(
        [85.0, 67.5, 47.5]
    )
    pd.testing.assert_frame_equal(r, r_pd)  # the recovery queue does not use the key


def test_queue_key_for_reads_the_setting_the_version_and_pay_pd() -> None:
    from pipelines.scoring.queue import queue_key_for

    pay = pd.Series([0.1], index=pd.Index(["a"], dtype="string"))
    blend = {"ews.queue_key": "blend"}
    assert queue_key_for("auto", blend, pay)[0] == "blend"
    assert queue_key_for("auto", {"ews.queue_key": "pd"}, pay) == (
        "pd",
        "queue.priority: auto; the model version chose pd at training",
    )
    assert "records no queue key" in queue_key_for("auto", {}, pay)[1]
    assert queue_key_for("pd", blend, pay)[0] == "pd" and queue_key_for("blend", {}, pay)[0] == "blend"
    key, why = queue_key_for("auto", blend, None)
    assert key == "pd" and "no ews-paydate champion" in why
    assert NightlyConfig().queue.priority == "auto"
    with pytest.raises(ValueError, match="priority"):
        NightlyConfig.model_validate({"queue": {"priority": "mean"}})


def test_recovery_ranked_by_recoverable_amount_weighted_by_age() -> None:
    frame = debtors().assign(
        in_default=True,
        pd=1.0,
        open_balance=[1000.0, 1000.0, 3000.0, 0.0, 1000.0],
        dpd_current_max=[30.0, 395.0, 1095.0, 100.0, 30.0],
        segment="retail",
        open_disputed_amount=0.0,
    )
    _, r = build_queues(frame, pd.DataFrame(columns=["debtor_id"]), NightlyConfig())
    # recoverable = exposure * 0.55; priority halves every 365 days: a, e 550*0.94; b 550*0.47;
    # c 1650*0.125 = 206; d has nothing open -> absent
    assert r["debtor_id"].tolist() == ["a", "e", "b", "c"]
    assert r["next_action"].tolist() == [
        "final_notice",
        "final_notice",
        "agency_referral",
        "write_off_review",
    ]


def rows(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "dpd": [0.0] * n,
        "pd": [0.01] * n,
        "expected_loss": [0.0] * n,
        "exposure": [1000.0] * n,
        "overdue_amount": [100.0] * n,
        "disputed_amount": [0.0] * n,
        "plan": [""] * n,
    }
    return pd.DataFrame({**base, **cols})


def test_live_rules_in_order_with_their_own_thresholds() -> None:
    cfg = NightlyConfig().queue
    frame = rows(dpd=[95.0, 65.0, 35.0, 35.0, 10.0, 10.0, 2.0], pd=[0.01, 0.01, 0.2, 0.01, 0.08, 0.01, 0.5])
    got = choose_actions(frame, cfg.rules, cfg.default_action, "queue.rules")
    assert got["next_action"].tolist() == [
        "agency_referral",
        "final_notice",
        "payment_plan",
        "call",
        "call",
        "reminder",
        "reminder",  # PD 50 % but only 2 days late: the call rule needs 8 days past due
    ]
    # in words a collector reads (s27-ux: it read "queue.rules[1]: days past due >= 60"); the rule's
    # place in conf/nightly.yaml beside it, for whoever tunes the rules
    assert got["action_rule"].tolist() == [
        "90+ days past due: agency referral",
        "60+ days past due: final notice",
        "30+ days past due and PD 15% or more: offer a payment plan",  # pipelines.words (session 32)
        "30+ days past due: call",
        "8+ days past due and PD 7% or more: call",
        "no rule matched: reminder (the default action)",
        "no rule matched: reminder (the default action)",
    ]
    assert got["action_rule_id"].tolist() == [
        *(f"queue.rules[{i}]" for i in range(5)),
        "queue.default_action",
        "queue.default_action",
    ]
    assert not got["action_rule"].str.contains(r"\.rules|>=|\[").any()
    assert (got["dispute_action"] == "").all()


def test_recovery_rules_by_age_and_amount() -> None:
    cfg = NightlyConfig().recovery
    frame = rows(
        dpd=[800.0, 200.0, 200.0, 130.0, 130.0, 95.0, 17.0],
        exposure=[50_000.0, 200.0, 5_000.0, 20_000.0, 5_000.0, 5_000.0, 5_000.0],
    )
    got = choose_actions(frame, cfg.rules, cfg.default_action, "recovery.rules")
    assert got["next_action"].tolist() == [
        "write_off_review",
        "write_off_review",
        "agency_referral",
        "legal_review",
        "agency_referral",
        "agency_referral",
        "final_notice",  # in default after 17 days (short definition): a final notice, not an agency
    ]
    assert got["action_rule"].iloc[1] == "180+ days past due and balance 250.00 or less: write-off review"
    assert got["action_rule"].iloc[3] == "120+ days past due and balance 10,000.00 or more: legal review"
    assert got["action_rule_id"].tolist()[:4] == [f"recovery.rules[{i}]" for i in (0, 1, 3, 2)]


def test_disputes_get_resolve_dispute_and_never_agency_referral() -> None:
    cfg = NightlyConfig().recovery
    frame = rows(
        dpd=[100.0, 100.0, 100.0, 17.0],
        overdue_amount=[500.0, 500.0, 500.0, 500.0],
        disputed_amount=[500.0, 200.0, 0.0, 600.0],
    )
    got = choose_actions(frame, cfg.rules, cfg.default_action, "recovery.rules")
    # whole overdue in dispute -> resolve it; part in dispute -> action for the undisputed part
    # (agency skipped), resolve_dispute for the disputed part
    assert got["next_action"].tolist() == [
        "resolve_dispute",
        "final_notice",
        "agency_referral",
        "resolve_dispute",
    ]
    assert got["dispute_action"].tolist() == ["", "resolve_dispute", "", ""]
    assert got["action_rule"].iloc[0] == "whole overdue balance in dispute"
    assert got["action_rule_id"].iloc[0] == "dispute"
    assert got["action_rule"].iloc[1].endswith("(agency referral skipped: balance in dispute)")
    live = choose_actions(frame, NightlyConfig().queue.rules, "reminder", "queue.rules")
    assert "agency_referral" not in set(live["next_action"][frame["disputed_amount"] > 0])


def test_kept_payment_plan_gets_monitor_plan_before_any_rule() -> None:
    cfg = NightlyConfig().queue
    frame = rows(dpd=[95.0, 95.0], disputed_amount=[100.0, 0.0], plan=["6 x 100.00 from 2024-06-01", ""])
    got = choose_actions(frame, cfg.rules, cfg.default_action, "queue.rules")
    assert got["next_action"].tolist() == ["monitor_plan", "agency_referral"]
    assert got["action_rule"].iloc[0] == "payment plan kept: 6 x 100.00 from 2024-06-01"
    assert got["action_rule_id"].tolist() == ["payment_plan", "queue.rules[0]"]


def test_latest_events_known_at_as_of_insolvency_first() -> None:
    events = pd.DataFrame(
        {
            "debtor_id": ["a", "a", "b", "b", "c", "d", "d"],
            "event_date": pd.to_datetime(
                ["2024-03-01", "2024-05-01", "2024-04-01", "2024-04-01", "2024-07-02", "2024-01-05", "2024-06-01"]
            ),
            "kind": ["insolvency", "agency_placement", "agency_placement", "write_off", "insolvency",
                     "agency_placement", "write_off"],
        }
    )  # fmt: skip
    got = latest_events(events, AS_OF)
    # a: the insolvency decides though a placement came later; b: one day, the write-off is the more
    # severe; c: its insolvency is after as-of (not known yet); d: the latest
    assert got["debtor_id"].tolist() == ["a", "b", "d"]
    assert got["event"].tolist() == ["insolvency", "write_off", "write_off"]
    assert got["event_on"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-01", "2024-04-01", "2024-06-01"]
    assert latest_events(None, AS_OF).empty and latest_events(events.iloc[:0], AS_OF).empty


def test_events_set_the_action_before_plans_disputes_and_rules() -> None:
    """An insolvent debtor is not dunned or sent to an agency: the claim is filed; a debtor already
    with an agency or written off is followed up, not referred or reviewed again."""
    cfg = NightlyConfig()
    events = cfg.event_actions.model_dump()
    on = pd.to_datetime(["2024-06-01", "2024-05-15", "2024-04-30", None, "2024-06-20"])
    frame = rows(
        dpd=[23.0, 130.0, 800.0, 130.0, 95.0],
        exposure=[50_000.0, 20_000.0, 5_000.0, 20_000.0, 5_000.0],
        overdue_amount=[100.0, 100.0, 100.0, 100.0, 500.0],
        disputed_amount=[0.0, 0.0, 0.0, 0.0, 100.0],
        plan=["3 x 100.00 from 2024-05-01", "", "", "", ""],
        event=pd.array(
            ["insolvency", "agency_placement", "write_off", pd.NA, "agency_placement"], dtype="string"
        ),
        event_on=on,
    )
    rc = cfg.recovery
    got = choose_actions(frame, rc.rules, rc.default_action, "recovery.rules", 2, events)
    assert got["next_action"].tolist() == [
        "file_claim",  # before its payment plan and the default action (final_notice at 23 days)
        "agency_follow_up",  # not legal_review at 130 days and 20,000
        "written_off_recovery",  # not write_off_review at 800 days
        "legal_review",  # no event: the rules
        "agency_follow_up",
    ]
    assert got["action_rule"].iloc[0] == "insolvency on 2024-06-01: file a creditor's claim"
    assert got["action_rule"].iloc[1] == "agency placement on 2024-05-15: follow up with the agency"
    assert got["action_rule_id"].tolist()[:3] == [
        "event_actions.insolvency",
        "event_actions.agency_placement",
        "event_actions.write_off",
    ]
    # in words since session 32 (it read "written off recovery")
    assert got["action_rule"].iloc[2] == "write-off on 2024-04-30: recovery after write-off"
    assert got["dispute_action"].tolist() == ["", "", "", "", "resolve_dispute"]
    # a kind mapped to null sets nothing: the rules decide; without event_actions nothing changes
    off = {**events, "agency_placement": None}
    got = choose_actions(frame, rc.rules, rc.default_action, "recovery.rules", 2, off)
    assert got["next_action"].tolist()[1] == "legal_review"
    plain = choose_actions(frame, rc.rules, rc.default_action, "recovery.rules")
    assert plain["next_action"].tolist() == ["monitor_plan", "legal_review", "write_off_review",
                                             "legal_review", "final_notice"]  # fmt: skip
    # mapped to agency_referral, a debtor with a balance in dispute still is not referred
    agency = {**events, "agency_placement": "agency_referral"}
    got = choose_actions(frame, rc.rules, rc.default_action, "recovery.rules", 2, agency)
    assert (
        got["next_action"].tolist()[1] == "agency_referral"
        and got["next_action"].iloc[4] == "final_notice"  # the agency rule skipped too: the default
    )


def test_recovery_queue_shows_the_event_and_its_action() -> None:
    oldest = pd.DataFrame(
        {"debtor_id": pd.array(["c"], dtype="string"), "oldest_invoice_id": ["I1"],
         "oldest_due_date": pd.to_datetime(["2024-02-29"])}
    )  # fmt: skip
    events = pd.DataFrame(
        {"debtor_id": ["c"], "event_date": pd.to_datetime(["2024-06-10"]), "kind": ["insolvency"]}
    )
    _, r = build_queues(debtors(), with_events(oldest, latest_events(events, AS_OF)), NightlyConfig())
    row = r.set_index("debtor_id").loc["c"]
    assert row["next_action"] == "file_claim" and row["event"] == "insolvency"
    assert row["event_on"] == pd.Timestamp("2024-06-10") and row["oldest_invoice_id"] == "I1"
    assert row["action_rule"] == "insolvency on 2024-06-10: file a creditor's claim"
    assert row["action_rule_id"] == "event_actions.insolvency" and r.columns[-1] == "action_rule_id"
    # without events the columns are there, empty, and the rules decide (120 days: agency referral)
    _, r = build_queues(debtors(), oldest, NightlyConfig())
    assert r["event"].isna().all() and r["event_on"].isna().all()
    assert r["next_action"].tolist() == ["agency_referral"]


def test_insolvency_lgd_ranks_the_insolvent_claim_below_a_collectable_default() -> None:
    """Two defaults of the same size and age: the insolvent one recovers 500 x (1 - 0.95) = 25, the
    other 500 x (1 - 0.45) = 275 (queue.lgd), so the collectable one comes first."""
    two = pd.concat([debtors(), debtors().iloc[[2]].assign(debtor_id="f", name="F")], ignore_index=True)
    two["debtor_id"] = two["debtor_id"].astype("string")
    oldest = pd.DataFrame(
        {"debtor_id": pd.array(["c", "f"], dtype="string"), "oldest_invoice_id": ["I1", "I2"],
         "oldest_due_date": pd.to_datetime(["2024-02-29", "2024-02-29"])}
    )  # fmt: skip
    events = pd.DataFrame(
        {"debtor_id": ["c", "c"], "event_date": pd.to_datetime(["2024-05-01", "2024-06-10"]),
         "kind": ["insolvency", "agency_placement"]}
    )  # fmt: skip
    joined = with_events(oldest, latest_events(events, AS_OF))
    _, r = build_queues(two, joined, NightlyConfig())
    assert r["debtor_id"].tolist() == ["f", "c"]
    got = r.set_index("debtor_id")
    # the insolvency governs c although an agency placement came later
    assert got.loc["c", "event"] == "insolvency" and got.loc["c", "lgd"] == 0.95
    assert got.loc["c", "recoverable_amount"] == 25.0
    assert got.loc["f", "lgd"] == 0.45 and got.loc["f", "recoverable_amount"] == 275.0
    assert got.loc["c", "recovery_priority"] == pytest.approx(round(25.0 * 0.5 ** (120 / 365), 2))
    # {} (or a kind not listed) keeps queue.lgd: the two tie on amount, then debtor_id orders them
    off = NightlyConfig.model_validate({"recovery": {"lgd_by_event": {}}})
    _, r = build_queues(two, joined, off)
    assert r["debtor_id"].tolist() == ["c", "f"] and r["lgd"].tolist() == [0.45, 0.45]
    agency = NightlyConfig.model_validate({"recovery": {"lgd_by_event": {"agency_placement": 0.7}}})
    _, r = build_queues(two, joined, agency)
    assert r["lgd"].tolist() == [0.45, 0.45]  # c's governing event is the insolvency, not listed
    with pytest.raises(ValueError, match="LGD must lie in"):
        NightlyConfig.model_validate({"recovery": {"lgd_by_event": {"insolvency": 1.5}}})
    with pytest.raises(ValueError, match="insolvency"):
        NightlyConfig.model_validate({"recovery": {"lgd_by_event": {"bankruptcy": 0.9}}})


def plan_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(["a", "b", "c", "d", "e"], dtype="string"),
            "agreed_on": pd.to_datetime(
                ["2024-05-02", "2024-05-02", "2024-05-02", "2024-07-15", "2023-01-10"]
            ),
            "first_due": pd.to_datetime(
                ["2024-05-31", "2024-05-31", "2024-05-31", "2024-07-31", "2023-01-31"]
            ),
            "installment_amount": [250.0, 100.0, 100.0, 100.0, 100.0],
            "installments": pd.array([6, 6, 6, 6, 3], dtype="Int64"),
            "status": pd.Series(["active", "broken", None, "active", "active"], dtype="string"),
        }
    )


def test_plans_in_force_from_table_and_overrides(tmp_path) -> None:
    (tmp_path / "2024-06-29").mkdir()  # a published run the analysts reviewed
    pd.DataFrame({"debtor_id": ["b", "f", "g"], "pd": [0.1, 0.2, 0.3], "in_default": False}).to_parquet(
        tmp_path / "2024-06-29" / "scores.parquet"
    )
    now = dt.datetime(2024, 6, 29, 9, 0, tzinfo=dt.UTC)

    def decide(debtor: str, status: str, reason: str, until: dt.date | None = None) -> None:
        new = new_override(tmp_path, debtor, status, reason, "anna")
        # an override that ended on the reviewed run's own day (in force for no run: new_override
        # refuses it since s17-review; a log written before holds such lines)
        append_override(tmp_path, dataclasses.replace(new, until=until), now=now)

    decide("f", "payment_plan", "3 monthly instalments agreed by phone")
    decide("b", "payment_plan", "new plan", until=dt.date(2024, 6, 29))
    decide("g", "payment_plan", "plan")
    decide("g", "cleared", "paid in full")
    got = plans_in_force(plan_table(), active_overrides(tmp_path, AS_OF.date()), AS_OF)
    # a: active; b: broken in the table and its override ended on 06-29; c: empty status = active;
    # d: agreed after as_of; e: last instalment 2023-03-31 + 30 days grace is long past;
    # f: override; g: the latest decision (cleared) replaced the plan
    assert got.index.tolist() == ["a", "c", "f"]
    assert got["a"] == "6 x 250.00 from 2024-05-31 (payment_plans, agreed 2024-05-02)"
    assert got["f"] == "override by anna on 2024-06-29: 3 monthly instalments agreed by phone"


def test_queue_rows_carry_plan_and_dispute_actions() -> None:
    frame = debtors().assign(open_disputed_amount=[40.0, 2000.0, 0.0, 0.0, 0.0])
    plans = pd.Series({"e": "override by anna on 2024-06-10: agreed"}, dtype="string")
    q, _ = build_queues(frame, pd.DataFrame(columns=["debtor_id"]), NightlyConfig(), plans)
    got = q.set_index("debtor_id")
    assert got.loc["b", "next_action"] == "resolve_dispute"  # 2000 overdue, all disputed
    assert got.loc["b", "dispute_action"] == ""
    # a: 60 of 100 overdue undisputed -> the rule for that part, resolve_dispute for the 40 disputed
    assert got.loc["a", "next_action"] == "reminder" and got.loc["a", "dispute_action"] == "resolve_dispute"
    assert got.loc["e", "next_action"] == "monitor_plan"
    assert got.loc["e", "plan"] == "override by anna on 2024-06-10: agreed"


def test_an_event_dated_on_the_as_of_day_is_known_the_next_day_is_not() -> None:
    """s23-review: the events' as-of boundary, as the ledger's (``event_date <= T``,
    features/ledger.py): an insolvency dated 2024-06-30 (the as-of date) sets file_claim; one dated
    2024-07-01 is not known yet, so the debtor's earlier agency placement (2024-06-29) decides.
    Fails with ``<`` in :func:`latest_events` (the insolvency on the day left out)."""
    events = pd.DataFrame(
        {
            "debtor_id": ["e", "f", "f"],
            "event_date": pd.to_datetime(["2024-06-30", "2024-06-29", "2024-07-01"]),
            "kind": ["insolvency", "agency_placement", "insolvency"],
        }
    )
    got = latest_events(events, AS_OF)
    assert got["debtor_id"].tolist() == ["e", "f"]
    assert got["event"].tolist() == ["insolvency", "agency_placement"]
    assert got["event_on"].dt.strftime("%Y-%m-%d").tolist() == ["2024-06-30", "2024-06-29"]


def test_the_queues_days_past_due_honour_min_open_amount() -> None:
    """s36-minopen: with ``default_definition.min_open_amount`` the queues read the oldest overdue invoice with
    more than it open, as the in-default flag does. By hand, as of 2024-06-30 (2024-01-31 is 151 days
    back, 2024-05-31 30): s owes only a 3.00 rest of an invoice due 01-31; w the same 3.00 rest and 500.00
    due 05-31; u 15.00 of an invoice due 01-31. Threshold 10: s and w are live, u is in default (15 > 10,
    151 >= 90). s: no invoice that can make a default is overdue -> 0 days past due, no oldest invoice,
    the default action (reminder), where the rest's 151 days sent it to agency referral; w: its 500.00,
    30 days -> call (PD 0.05 < 0.15: not a payment plan); u: recovery, 151 days. Threshold 0: s and w are
    in default too, and every queue reads the feature's 151 days."""
    from features.engine import build_bucket
    from features.params import DefaultDefinition
    from tests.features.ledgers import inv, pay, portfolio

    book = portfolio(
        [
            inv("s1", "s", "2024-01-01", "2024-01-31", 1000.0),
            inv("w1", "w", "2024-01-01", "2024-01-31", 1000.0),
            inv("w2", "w", "2024-05-01", "2024-05-31", 500.0),
            inv("u1", "u", "2024-01-01", "2024-01-31", 1000.0),
        ],
        [
            pay("ps", "s", "2024-02-10", 997.0, "s1"),
            pay("pw", "w", "2024-02-10", 997.0, "w1"),
            pay("pu", "u", "2024-02-10", 985.0, "u1"),
        ],
    )

    def queues(min_open: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        built = build_bucket(book, [AS_OF], DefaultDefinition(min_open_amount=min_open))
        scored = built.features.merge(
            built.defaults[["debtor_id", "in_default_at_asof"]].rename(
                columns={"in_default_at_asof": "in_default"}
            ),
            on="debtor_id",
        )
        scored = scored.assign(name=scored["debtor_id"], segment="retail", pd=0.05, band="C")
        scored.loc[scored["in_default"], "pd"] = 1.0
        return build_queues(scored, built.oldest_open.drop(columns="as_of"), NightlyConfig())

    q, r = queues(10.0)
    q = q.set_index("debtor_id")
    assert sorted(q.index) == ["s", "w"] and r["debtor_id"].tolist() == ["u"]
    assert (
        q.loc["s", "dpd"] == 0.0
        and pd.isna(q.loc["s", "oldest_invoice_id"])
        and q.loc["s", "next_action"] == "reminder"
    )
    assert (
        q.loc["w", "dpd"] == 30.0
        and q.loc["w", "oldest_invoice_id"] == "w2"
        and q.loc["w", "next_action"] == "call"
    )
    assert r["dpd"].tolist() == [151.0] and r["oldest_invoice_id"].tolist() == ["u1"]
    assert "dpd_material" not in q.columns and "dpd_material" not in r.columns
    q0, r0 = queues(0.0)
    assert q0.empty and sorted(r0["debtor_id"]) == ["s", "u", "w"] and r0["dpd"].tolist() == [151.0] * 3
    assert sorted(r0["oldest_invoice_id"]) == ["s1", "u1", "w1"]


def test_a_statements_books_queue_reads_the_days_its_label_reads_under_min_open_amount() -> None:
    """s37 (s36-review): a statements book has no invoice, so before session 37 its queues read the stated days
    past due even under ``min_open_amount``, while its label read a balance of at most the threshold as not
    past due. By hand, as of 2024-03-31, threshold 10, three accounts 60 days past due with balances 5.00,
    500.00 and none: s5 is 0 days past due in the queue (its statement states at most 10.00: nothing can
    be overdue that counts), so it gets the default action (reminder), not the final notice of 60 days; s500 60
    (final_notice). sna (no balance: the threshold cannot apply, the stated days decide; the other tests show its
    label and state) has no exposure known, so it is in no live queue. Threshold 0: s5 and s500 at 60, final notice."""
    from features.engine import build_bucket
    from features.params import DefaultDefinition
    from features.tables import Portfolio
    from pipelines.scoring.score import exposure_columns
    from tests.features.ledgers import statements

    book = Portfolio(
        statements=statements(
            {"s5": 5.0, "s500": 500.0, "sna": None}, {"2024-01-31": 0, "2024-02-29": 30, "2024-03-31": 60}
        )
    )

    def queue(min_open: float) -> pd.DataFrame:
        built = build_bucket(book, [pd.Timestamp("2024-03-31")], DefaultDefinition(min_open_amount=min_open))
        scored = built.features[["debtor_id"]].assign(
            in_default=built.defaults["in_default_at_asof"].to_numpy(),
            name=built.features["debtor_id"],
            segment="retail",
            pd=0.05,
            band="C",
            **exposure_columns(built.features),
        )
        q, r = build_queues(scored, built.oldest_open.drop(columns="as_of"), NightlyConfig())
        assert r.empty
        return q.set_index("debtor_id")

    q = queue(10.0)
    assert sorted(q.index) == ["s5", "s500"]  # sna: no balance, no exposure known (not in the live queue)
    assert q.loc[["s5", "s500"], "dpd"].tolist() == [0.0, 60.0]
    assert q.loc["s5", "next_action"] == "reminder" and q.loc["s500", "next_action"] == "final_notice"
    q0 = queue(0.0)
    assert (
        q0.loc[["s5", "s500"], "dpd"].tolist() == [60.0, 60.0]
        and q0.loc["s5", "next_action"] == "final_notice"
    )
