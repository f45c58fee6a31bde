"""Collections queue: expected-loss ranking, aging, oldest invoice and next-action rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig, QueueConfig
from pipelines.scoring.queue import build_queue, next_action, oldest_overdue_invoice

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


def test_ranked_by_expected_loss_including_defaults() -> None:
    cfg = QueueConfig.model_validate({"lgd": {"default": 0.5, "by_segment": {"construction": 0.8}}})
    q = build_queue(
        debtors(), pd.DataFrame(columns=["debtor_id", "oldest_invoice_id", "oldest_due_date"]), cfg
    )
    # EL: a 0.10*1000*0.5=50; b 0.05*10000*0.8=400; c 1.0*500*0.5=250; d not overdue; e 0.02*100*0.5=1
    assert q["debtor_id"].tolist() == ["b", "c", "a", "e"]
    assert q["expected_loss"].tolist() == pytest.approx([400.0, 250.0, 50.0, 1.0])
    assert q["rank"].tolist() == [1, 2, 3, 4]
    assert q.set_index("debtor_id").loc["c", "status"] == "in_default"
    assert q.set_index("debtor_id").loc["b", "disputed_amount"] == 300.0
    assert q.set_index("debtor_id").loc["e", "disputed_amount"] == 0.0


def test_next_action_first_matching_rule_wins() -> None:
    cfg = NightlyConfig().queue
    frame = pd.DataFrame(
        {
            "in_default": [True, False, False, False, False, False, False],
            "dpd": [0, 95, 65, 20, 35, 2, 2],
            "pd": [1.0, 0.01, 0.01, 0.2, 0.01, 0.08, 0.01],
            "expected_loss": [0.0] * 7,
            "overdue_amount": [1.0] * 7,
        }
    )
    assert next_action(frame, cfg).tolist() == [
        "agency_referral",
        "agency_referral",
        "payment_plan",
        "payment_plan",
        "call",
        "call",
        "reminder",
    ]


def test_oldest_overdue_invoice_matches_due_date_from_dpd() -> None:
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.Series(["I2", "I1", "I3", "I4"], dtype="string"),
            "debtor_id": pd.Series(["a", "a", "a", "b"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01", "2024-05-01", "2024-06-01", "2024-07-15"]),
            "due_date": pd.to_datetime(["2024-06-25", "2024-06-25", "2024-06-28", "2024-08-15"]),
        }
    )
    feats = pd.DataFrame({"debtor_id": ["a", "b"], "dpd_current_max": [5.0, 0.0]})
    got = oldest_overdue_invoice(invoices, feats, AS_OF)
    assert got["oldest_invoice_id"].tolist() == ["I1"]  # tie on due date -> smallest id
    assert got["oldest_due_date"].tolist() == [pd.Timestamp("2024-06-25")]


def test_oldest_invoice_survives_absurd_days_past_due_and_extreme_dates() -> None:
    """A statement with 10^12 days past due, or an invoice due in 1700, never overflows a timestamp."""
    invoices = pd.DataFrame(
        {
            "debtor_id": pd.Series(["a", "b", "a"], dtype="string"),
            "invoice_id": pd.Series(["i2", "old", "i1"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-01-01", "1700-01-01", "2024-01-01"]),
            "due_date": pd.to_datetime(["2024-01-31", "1700-02-01", "2024-01-31"]),
        }
    )
    dpd_b = float((AS_OF - pd.Timestamp("1700-02-01")).days)
    feats = pd.DataFrame({"debtor_id": ["a", "b", "c", "d"], "dpd_current_max": [151.0, dpd_b, 1e12, np.inf]})
    got = oldest_overdue_invoice(invoices, feats, AS_OF)
    assert got["oldest_invoice_id"].tolist() == ["i1", "old"]  # ties: smallest invoice_id
    assert got["oldest_due_date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("1700-02-01")]
