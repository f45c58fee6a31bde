"""The feed check ``invoices_per_debtor_90d`` of a book with invoices and monthly statements (s39-mixed):
its statement accounts alone issue no invoice, so the figure divides by the debtors with an invoice or a
payment, not by every debtor with a history.

Hand-made figures. The champion's training data, snapshot 2024-05-31: 100 invoice debtors (D000..D099,
days_since_last_invoice 10, 12 invoices each in the 90 days up to it: 1,200) and 50 statement accounts
alone (S000..S049: no invoice, 12 statements observed). Tonight (2024-06-30) the same invoices (1,200 in
90 days) and the revolving book grown to 150 statement accounts (250 debtors with a history: 250 / 150 =
1.67, inside the training limit of 0.67 to 4 for ``debtors``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.feed_checks import (
    FeedCheckError,
    evaluate_feed,
    feed_figures,
    invoice_debtors,
    training_reference,
)
from tests.pipelines.test_feed_prospects import AS_OF, CFG, INVOICES, PAYMENTS


def _frame(statement_accounts: int, as_of: str) -> pd.DataFrame:
    n = 100 + statement_accounts
    return pd.DataFrame(
        {
            "debtor_id": [f"D{k:03d}" for k in range(100)] + [f"S{k:03d}" for k in range(statement_accounts)],
            "as_of": pd.Timestamp(as_of),
            "in_default_at_asof": [False] * n,
            "in_default": [False] * n,
            "open_balance": 1_000.0,
            "invoice_count_90d": [12.0] * 100 + [np.nan] * statement_accounts,
            "days_since_last_invoice": [10.0] * 100 + [np.nan] * statement_accounts,
            "st_months_observed": [0.0] * 100 + [12.0] * statement_accounts,
        }
    )


def test_invoice_debtors_of_a_mixed_frame_and_none_elsewhere() -> None:
    assert invoice_debtors(_frame(50, "2024-05-31")) == 100
    assert invoice_debtors(_frame(50, "2024-05-31").drop(columns="st_months_observed")) is None


def test_statement_accounts_growing_do_not_read_as_invoices_missing(tmp_path) -> None:
    """By hand: over the debtors with an invoice, 1,200 / 100 = 12.0 tonight and in the training data:
    passed. Before session 39 (over every debtor with a history): 1,200 / 250 = 4.8 against 1,200 / 150
    = 8.0, a ratio of 0.60 under the limit's 0.67: refused ("invoices are missing from the feed")."""
    from pipelines.feed_checks import training_figures
    from pipelines.ingest import ingest_dir

    (tmp_path / "invoices.csv").write_text(INVOICES)
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    result = ingest_dir(tmp_path, None, as_of=AS_OF)
    ref = training_reference(result.manifest["tables"], result.portfolio, _frame(50, "2024-05-31"))
    figures, _ = training_figures(ref, AS_OF)
    assert (figures["debtors_with_history"], figures["debtors_with_invoices"]) == (150, 100)
    train = ("the training data", {**figures, "rows": {}, "quarantine_share": {}})
    tonight = _frame(150, "2024-06-30").assign(has_history=True)
    today = feed_figures({}, None, tonight, recent_invoices=1_200, invoiced=invoice_debtors(tonight))
    today = {**today, "rows": {}, "quarantine_share": {}}
    feed = evaluate_feed(today, CFG, previous=None, training=train)
    assert feed["status"] == "passed"
    got = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
    assert got["invoices_per_debtor_90d"] == (12.0, 12.0) and got["debtors"] == (250, 150)
    # a champion trained before session 39 (no debtors_with_invoices): over every debtor with a history
    old = ("the training data", {k: v for k, v in train[1].items() if k != "debtors_with_invoices"})
    with pytest.raises(
        FeedCheckError, match=r"invoices_per_debtor_90d: 4\.8 today vs 8\.0 in the training data"
    ):
        evaluate_feed(today, CFG, previous=None, training=old)
