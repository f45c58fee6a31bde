"""Session 31 (s31-hostile): feeds valid row by row but wrong as a whole (BENCHMARKS.md, hostile
section). Hand-built frames; every expected value is by hand."""

from __future__ import annotations

import pandas as pd

from features.tables import Portfolio
from pipelines.engine import Book
from pipelines.flows.nightly import all_quarantined, not_scored_note


def test_debtors_whose_every_invoice_was_quarantined_are_found_and_the_others_are_not() -> None:
    """D1's two invoices were quarantined (no_fx_rate:USD), D2 has one quarantined and one accepted,
    D3 none quarantined, D9's one invoice quarantined and D9 not scored at all (left out of the debtors
    table, say): D1 was scored on no invoice at all, D9 vanished; both are named, D2 and D3 not."""
    accepted = pd.DataFrame(
        {
            "invoice_id": ["I3", "I4"],
            "debtor_id": pd.Series(["D2", "D3"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01", "2024-05-02"]),
            "due_date": pd.to_datetime(["2024-05-31", "2024-06-01"]),
            "amount": [10.0, 20.0],
        }
    )
    book = Book.in_memory(Portfolio(invoices=accepted), 1_000)
    quarantine = {
        "invoices": pd.DataFrame(
            {
                "invoice_id": ["I1", "I2", "I5", "I9"],
                "debtor_id": ["D1", "D1", "D2", "D9"],
                "reason": ["no_fx_rate:USD", "no_fx_rate:USD", "amount_not_positive", "no_fx_rate:USD"],
            }
        )
    }
    scores = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"], "pd": [0.01, 0.02, 0.03]})
    found = all_quarantined(book, quarantine, scores)
    assert found["debtor_id"].tolist() == ["D1", "D9"]
    assert found["reasons"].tolist() == ["no_fx_rate:USD (2)", "no_fx_rate:USD (1)"]
    assert not_scored_note(found).startswith(
        "2 debtors not scored tonight (D1, D9): every invoice quarantined (see quarantine/invoices.csv; "
        "D1: no_fx_rate:USD (2); D9: no_fx_rate:USD (1)). They are left out"
    )
    assert all_quarantined(book, {}, scores).empty  # no invoice quarantined
    blank = {
        "invoices": pd.DataFrame({"invoice_id": ["I7"], "debtor_id": [""], "reason": ["missing_debtor_id"]})
    }
    assert all_quarantined(book, blank, scores).empty  # a row without a debtor id names nobody
