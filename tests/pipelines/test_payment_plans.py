"""Payment plans kept or broken from the payments against the plan's schedule (by hand).

As of 2024-06-30; an instalment counts as due 7 days after its due date (cut-off 2024-06-23).

    debtor  plan                                   payments since agreed_on      due by T   kept?
    k       6 x 250 from 05-31, agreed 05-02       250 on 06-01                  1 x 250    yes
    m       6 x 250 from 05-31, agreed 05-02       100 on 05-20, 50 on 06-10     250        no: 150 of 250
    n       6 x 250 from 05-31, agreed 05-02       (300 on 04-30: before it)     250        no: 0 of 250
    o       6 x 250 from 06-25, agreed 06-01       none                          0          yes (nothing due yet)
    p       6 x ? from 05-31 (no amount)           none                          ?          yes, on its status
    q       status broken                          -                             -          no (status)
    r       3 x 100 from 04-30, agreed 04-15       100 on 05-01, 100 on 06-02    2 x 100    yes (07-01 ignored)
"""

from __future__ import annotations

import pandas as pd

from features.tables import Portfolio
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.scoring.actions import choose_actions
from pipelines.scoring.plans import broken_plans, check_plans, plan_payments, plans_in_force
from pipelines.scoring.queue import build_queues

AS_OF = pd.Timestamp("2024-06-30")
PLAN_K = "6 x 250.00 from 2024-05-31 (payment_plans, agreed 2024-05-02)"


def plans() -> pd.DataFrame:
    ids = list("kmnopqr")
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(ids, dtype="string"),
            "agreed_on": pd.to_datetime(
                ["2024-05-02"] * 3 + ["2024-06-01", "2024-05-02", "2024-05-02", "2024-04-15"]
            ),
            "first_due": pd.to_datetime(
                ["2024-05-31"] * 3 + ["2024-06-25", "2024-05-31", "2024-05-31", "2024-04-30"]
            ),
            "installment_amount": [250.0, 250.0, 250.0, 250.0, None, 250.0, 100.0],
            "installments": pd.array([6, 6, 6, 6, 6, 6, 3], dtype="Int64"),
            "status": pd.Series(["active"] * 5 + ["broken", None], dtype="string"),
        }
    )


def payments() -> pd.DataFrame:
    rows = [
        ("k", "2024-06-01", 250.0),
        ("m", "2024-05-20", 100.0),
        ("m", "2024-06-10", 50.0),
        ("n", "2024-04-30", 300.0),
        ("r", "2024-05-01", 100.0),
        ("r", "2024-06-02", 100.0),
        ("r", "2024-07-01", 100.0),
        ("z", "2024-06-01", 5000.0),  # another debtor
    ]
    frame = pd.DataFrame(rows, columns=["debtor_id", "paid_on", "amount"])
    return frame.assign(
        debtor_id=frame["debtor_id"].astype("string"), paid_on=pd.to_datetime(frame["paid_on"])
    )


def test_plans_are_checked_against_the_payments_since_they_were_agreed() -> None:
    got = check_plans(plans(), payments(), AS_OF)
    assert got.loc["k", ["due_count", "due", "paid"]].tolist() == [1, 250.0, 250.0]
    assert got.loc["m", ["due", "paid"]].tolist() == [250.0, 150.0] and got.loc["n", "paid"] == 0.0
    assert got.loc["o", ["due_count", "due"]].tolist() == [0, 0.0]
    assert got.loc["r", ["due_count", "due", "paid"]].tolist() == [2, 200.0, 200.0]
    assert got["kept"].to_dict() == {
        "k": True,
        "m": False,
        "n": False,
        "o": True,
        "p": True,
        "q": False,
        "r": True,
    }
    assert got.loc["m", "text"] == (
        "payment plan broken: 150.00 paid since 2024-05-02 of 250.00 due by 2024-06-30 (1 of 6 instalments): "
        + PLAN_K
    )
    assert got.loc["q", "text"].startswith("payment plan broken (status broken in payment_plans): 6 x 250.00")
    assert got.loc["p", "text"].endswith("; schedule not checked: no installment_amount")
    kept = plans_in_force(plans(), None, AS_OF, payments())
    assert kept.index.tolist() == ["k", "o", "p", "r"] and kept["k"] == PLAN_K
    assert broken_plans(plans(), payments(), AS_OF).index.tolist() == ["m", "n", "q"]
    # nobody paid anything: every plan with an instalment due is broken
    nobody = payments().iloc[0:0]
    assert plans_in_force(plans(), None, AS_OF, nobody).index.tolist() == ["o", "p"]


def test_a_broken_plan_gets_the_normal_rule_which_says_the_plan_was_broken() -> None:
    cfg = NightlyConfig().queue
    why = broken_plans(plans(), payments(), AS_OF)
    frame = pd.DataFrame(
        {
            "dpd": [35.0, 35.0],
            "pd": [0.01, 0.01],
            "expected_loss": [0.0, 0.0],
            "exposure": [1000.0, 1000.0],
            "overdue_amount": [100.0, 100.0],
            "disputed_amount": [0.0, 0.0],
            "plan": [PLAN_K, ""],
            "plan_broken": ["", why["m"]],
        }
    )
    got = choose_actions(frame, cfg.rules, cfg.default_action, "queue.rules")
    assert got["next_action"].tolist() == ["monitor_plan", "call"]
    assert got["action_rule"].iloc[1] == "30+ days past due: call; " + why["m"]


def test_queue_rows_of_kept_and_broken_plans() -> None:
    ids = ["k", "m"]
    scored = pd.DataFrame(
        {
            "debtor_id": pd.Series(ids, dtype="string"),
            "name": ids,
            "segment": "retail",
            "in_default": False,
            "pd": [0.02, 0.02],
            "band": "B",
            "open_balance": [1500.0, 1500.0],
            "overdue_amount": [250.0, 250.0],
            "overdue_amount_1_30": [250.0, 250.0],
            "overdue_amount_31_60": 0.0,
            "overdue_amount_61_90": 0.0,
            "overdue_amount_90p": 0.0,
            "open_disputed_amount": 0.0,
            "dpd_current_max": [30.0, 30.0],
        }
    )
    kept = plans_in_force(plans(), None, AS_OF, payments())
    q, _ = build_queues(
        scored,
        pd.DataFrame(columns=["debtor_id"]),
        NightlyConfig(),
        kept,
        broken=broken_plans(plans(), payments(), AS_OF),
    )
    got = q.set_index("debtor_id")
    assert got.loc["k", "next_action"] == "monitor_plan" and got.loc["k", "plan"] == PLAN_K
    assert got.loc["m", "next_action"] == "call" and got.loc["m", "plan"] == ""
    assert "payment plan broken: 150.00 paid" in got.loc["m", "action_rule"]
    assert "plan_broken" not in q.columns


def test_plan_payments_reads_only_the_plan_debtors() -> None:
    book = Book.in_memory(Portfolio(payments=payments().assign(payment_id=[f"p{i}" for i in range(8)])), 10)
    got = plan_payments(book, plans())
    assert sorted(got["debtor_id"].unique()) == ["k", "m", "n", "r"] and len(got) == 7
    assert plan_payments(book, None) is None


def test_plan_payments_from_an_ingested_folder_reads_the_plan_debtors_buckets(tmp_path) -> None:
    import json

    from pipelines.adapters.files import bucket_file, bucket_parts, write_bucket_atomic

    (tmp_path / "manifest.json").write_text(json.dumps({"layout": {"buckets": 3}}))
    for k, part in enumerate(bucket_parts(payments(), 3)):
        write_bucket_atomic(part, bucket_file(tmp_path, "payments", k))
    got = plan_payments(Book.ingested(tmp_path), plans())
    assert sorted(got["debtor_id"].unique()) == ["k", "m", "n", "r"] and len(got) == 7
    assert got["paid_on"].dtype == "datetime64[ns]" and got["amount"].sum() == 1000.0
