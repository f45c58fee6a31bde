"""The write-offs that explain a ``default_exposure`` fall are those of the debtors in default IN
THE REFERENCE, session 26 (s26-history; BENCHMARKS.md "Hostile inputs tried", "Session 26
(s26-history)"). d366d1c counted, against the training data, the write-offs of every debtor in
default today, also of those that defaulted after the training snapshot, whose exposure was never
in the reference's ``default_exposure`` (s25-review). Each test fails on 8bf79ef; every expected
number is by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.adapters.files import conform
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.flows.nightly import _written_off

AS_OF = dt.date(2025, 12, 31)
SNAPSHOT = "2025-06-30"


def _book() -> Book:
    """D1: three invoices of 1,000.00 due 2025-01-31, open on 2025-06-30 (150 days past due: in
    default at the snapshot); credit memos of 100.00 (2025-11-30), 300.00 (12-15), 200.00 (12-31)
    and a write_off event of 400.00 (12-20) after the snapshot: max(600, 400) = 600.
    D4: one invoice of 5,000.00 issued 2025-08-01 (after the snapshot: not in default there, not
    even a debtor yet), written off by an event of 5,000.00 on 2025-12-20: 5,000.
    D5: an invoice due 2025-05-31 (30 days past due on 2025-06-30: not in default at the snapshot),
    a credit memo of 700.00 on 2025-12-01."""
    inv = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I7", "I8"],
            "debtor_id": ["D1", "D1", "D1", "D4", "D5"],
            "issue_date": pd.to_datetime(["2025-01-01"] * 3 + ["2025-08-01", "2025-05-01"]),
            "due_date": pd.to_datetime(["2025-01-31"] * 3 + ["2025-08-31", "2025-05-31"]),
            "amount": [1_000.0, 1_000.0, 1_000.0, 5_000.0, 1_000.0],
        }
    )
    pay = pd.DataFrame(
        {
            "payment_id": ["M0", "M1", "M2", "M5"],
            "debtor_id": ["D1", "D1", "D1", "D5"],
            "invoice_id": ["I3", "I1", "I2", "I8"],
            "paid_on": pd.to_datetime(["2025-11-30", "2025-12-15", "2025-12-31", "2025-12-01"]),
            "amount": [100.0, 300.0, 200.0, 700.0],
            "kind": ["credit"] * 4,
        }
    )
    events = pd.DataFrame(
        {
            "debtor_id": ["D1", "D4"],
            "event_date": pd.to_datetime(["2025-12-20", "2025-12-20"]),
            "kind": ["write_off", "write_off"],
            "amount": [400.0, 5_000.0],
        }
    )
    portfolio = Portfolio(
        invoices=conform(inv, "invoices"), payments=conform(pay, "payments"), events=conform(events, "events")
    )
    return Book.in_memory(portfolio, 1_000_000)


def _figures(default_exposure: float) -> dict:
    return {"rows": {}, "quarantine_share": {}, "debtors": 3, "default_exposure": default_exposure}


def test_against_the_training_only_debtors_in_default_at_its_snapshot_explain_a_fall() -> None:
    """Today D1, D4 and D5 are in default; default_exposure 1,000 vs the training snapshot's 20,000
    (0.05 < 0.1: read). Only D1 was in default on 2025-06-30: 600 (8bf79ef: 600 + 5,000 + 700 =
    6,300, which put the ratio at 0.365 and passed a fall the clean-up of new defaults cannot explain)."""
    scores = pd.DataFrame({"debtor_id": ["D1", "D4", "D5"], "in_default": [True, True, True]})
    out = _written_off(
        _book(), scores, AS_OF, NightlyConfig(), None, None, SNAPSHOT, _figures(20_000.0), _figures(1_000.0)
    )
    assert out == {"training": pytest.approx(600.0)}


def test_the_snapshots_default_follows_the_projects_definition() -> None:
    """With a 30-day threshold D5's invoice (due 2025-05-31) is 30 days past due on 2025-06-30: in
    default at the snapshot too, 600 + 700 = 1,300."""
    scores = pd.DataFrame({"debtor_id": ["D1", "D4", "D5"], "in_default": [True, True, True]})
    out = _written_off(
        _book(),
        scores,
        AS_OF,
        NightlyConfig(),
        None,
        None,
        SNAPSHOT,
        _figures(20_000.0),
        _figures(1_000.0),
        DefaultDefinition(dpd_threshold=30),
    )
    assert out == {"training": pytest.approx(1_300.0)}


def test_against_the_previous_run_only_its_debtors_in_default_explain_a_fall() -> None:
    """The previous run (2025-11-30) recorded D1 in default, not D4 nor D5 (its scores, given); today
    D1 and D4 are in default. Since 2025-11-30 D1 wrote off max(300 + 200, 400) = 500 (the memo of
    11-30 is not after it). 8bf79ef added today's D4: 5,500."""
    scores = pd.DataFrame({"debtor_id": ["D1", "D4", "D5"], "in_default": [True, True, False]})
    before = pd.DataFrame({"debtor_id": ["D1", "D4", "D5"], "in_default": [True, False, False]})
    out = _written_off(
        _book(),
        scores,
        AS_OF,
        NightlyConfig(),
        ("2025-11-30", {}, before),
        ("the previous run 2025-11-30", _figures(6_000.0)),
        SNAPSHOT,
        None,
        _figures(1_000.0),
    )
    assert out == {"previous": pytest.approx(500.0)}
