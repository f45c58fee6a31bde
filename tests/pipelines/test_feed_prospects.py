"""Feed checks and never-invoiced debtors (session 37, s37-prospects): prospects added to the debtors
table do not refuse a feed; half the ledger's debtors gone still does.

Hand-made figures. The champion's training data, snapshot 2024-05-31: 100 debtors (D000..D099), each
with an invoice on record (days_since_last_invoice 10) and 12 invoices issued in the 90 days up to
it; 5 in default. Invoices per debtor, 90 days: 1,200 / 100 = 12.0.

Tonight (2024-06-30), the same ledger (1,200 invoices in 90 days, 5 in default) and 50 prospects in
the debtors table (scored, no invoice, payment or statement: has_history False). Counted over every
scored debtor: 1,200 / 150 = 8.0 against 12.0, a ratio of 0.667 under the limit's 0.67: refused
(s36-watch: "invoices_per_debtor_90d: 9.1 today vs 13.8 in the training data"). Over the debtors with
a history: 1,200 / 100 = 12.0 against 12.0, and 100 debtors against 100."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import (
    FeedCheckError,
    evaluate_feed,
    feed_figures,
    training_figures,
    training_reference,
)
from pipelines.ingest import ingest_dir

CFG = NightlyConfig()
AS_OF = dt.date(2024, 6, 30)
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount\nI1,D000,2024-05-01,2024-05-31,100.0\n"
PAYMENTS = "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D000,I1,2024-05-20,100.0\n"


def _training(tmp_path: Path) -> tuple[str, dict]:
    (tmp_path / "invoices.csv").write_text(INVOICES)
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    result = ingest_dir(tmp_path, None, as_of=AS_OF)
    dataset = pd.DataFrame(
        {
            "debtor_id": [f"D{k:03d}" for k in range(100)],
            "as_of": pd.Timestamp("2024-05-31"),
            "in_default_at_asof": [k < 5 for k in range(100)],
            "open_balance": 1_000.0,
            "invoice_count_90d": 12.0,
            "days_since_last_invoice": 10.0,
        }
    )
    ref = training_reference(result.manifest["tables"], result.portfolio, dataset)
    figures, snapshot = training_figures(ref, AS_OF)
    assert snapshot == "2024-05-31" and figures is not None
    return "the training data", {**figures, "rows": {}, "quarantine_share": {}}


def _tonight(ledger_with_history: int, recent: int) -> dict:
    """100 ledger debtors (``ledger_with_history`` of them with a dated row, 5 in default) and 50
    prospects, ``recent`` invoices issued in the last 90 days."""
    n = 150
    scores = pd.DataFrame(
        {
            "debtor_id": [f"D{k:03d}" for k in range(100)] + [f"PROSPECT{k}" for k in range(50)],
            "in_default": [k < 5 for k in range(n)],
            "open_balance": [1_000.0] * 100 + [0.0] * 50,
            "has_history": [k < ledger_with_history for k in range(n)],
        }
    )
    today = feed_figures({}, None, scores, recent_invoices=recent)
    return {**today, "rows": {}, "quarantine_share": {}}


def test_prospects_in_the_debtors_table_do_not_refuse_the_feed(tmp_path: Path) -> None:
    train = _training(tmp_path)
    today = _tonight(100, 1_200)
    feed = evaluate_feed(today, CFG, previous=None, training=train)
    assert feed["status"] == "passed"
    got = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
    assert got["invoices_per_debtor_90d"] == (12.0, 12.0)
    assert got["debtors"] == (100, 100)
    assert got["default_share"] == (0.05, 0.05)
    assert (today["debtors"], today["debtors_with_history"]) == (150, 100)
    assert today["default_share_with_history"] == 0.05  # 5 of 100; 5 of 150 over every debtor
    assert train[1]["debtors_with_history"] == 100  # from the training rows' days_since_last_invoice
    # a champion trained before session 37 has no debtors_with_history: compared over every scored
    # debtor, as before, and the prospects refuse the feed until `ews train`
    old = {k: v for k, v in train[1].items() if "with_history" not in k}
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, CFG, previous=None, training=("the training data", old))
    assert "invoices_per_debtor_90d: 8.0 today vs 12.0 in the training data" in str(info.value)


def test_half_the_ledgers_debtors_gone_is_still_refused(tmp_path: Path) -> None:
    """50 of the 100 ledger debtors lost every row (their invoices and payments; the debtors table
    whole), so 600 invoices in 90 days: the debtors with a history fall to 50 of 100 (ratio 0.5, under
    0.67). Invoices per debtor with a history stay 600 / 50 = 12.0: the book's size catches it."""
    train = _training(tmp_path)
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(_tonight(50, 600), CFG, previous=None, training=train)
    assert "debtors: 50 today vs 100 in the training data" in str(info.value)
