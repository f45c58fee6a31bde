"""``benchmarks/aging_check.py``: the ledger cut at T, aged to T + 15 days by the production feature code,
and the figures of the falls, checked by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.tables import Portfolio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    from aging_check import book_name, dpd_only, ledger_until, parse_book, state_of, summarise, write_scores
finally:
    sys.path.pop(0)

T = pd.Timestamp("2025-02-28")
UP = T + pd.Timedelta(days=15)  # 2025-03-15


def book() -> Portfolio:
    """D1: I1 100 due Jan 31, 40 paid Feb 10, the other 60 on Mar 5 (after T); I2 50 issued Feb 20, due
    Mar 7 (inside the 15 days); I3 70 issued Mar 3 (after T). An insolvency on Mar 10 (after T)."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "debtor_id": ["D1"] * 3,
            "issue_date": pd.to_datetime(["2025-01-01", "2025-02-20", "2025-03-03"]),
            "due_date": pd.to_datetime(["2025-01-31", "2025-03-07", "2025-04-02"]),
            "amount": [100.0, 50.0, 70.0],
            "currency": ["EUR"] * 3,
            "disputed": [False] * 3,
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2"],
            "debtor_id": ["D1", "D1"],
            "invoice_id": ["I1", "I1"],
            "paid_on": pd.to_datetime(["2025-02-10", "2025-03-05"]),
            "amount": [40.0, 60.0],
            "currency": ["EUR", "EUR"],
        }
    )
    events = pd.DataFrame(
        {
            "debtor_id": ["D1"],
            "event_date": pd.to_datetime(["2025-03-10"]),
            "kind": ["insolvency"],
            "amount": [np.nan],
        }
    )
    return Portfolio(invoices=invoices, payments=payments, events=events)


def test_ledger_cut_at_t_ages_every_feature_by_hand() -> None:
    """Nothing after T: at Mar 15 I1's 60 is 43 days past due (Mar 15 - Jan 31), I2's 50 is 8 days past
    due, 110 open and overdue, the last payment 33 days ago (Feb 10), 2 invoices open. The full ledger
    (the Mar 5 payment and the Mar 3 invoice) gives other figures."""
    cut = ledger_until(book(), T)
    assert list(cut.invoices["invoice_id"]) == ["I1", "I2"]
    assert list(cut.payments["payment_id"]) == ["P1"]
    assert cut.events.empty
    row = build_features(cut, [UP]).iloc[0]
    assert row["dpd_current_max"] == 43
    assert row["open_balance"] == 110
    assert row["overdue_amount"] == 110
    assert row["overdue_amount_31_60"] == 60
    assert row["overdue_amount_1_30"] == 50
    assert row["open_invoice_count"] == 2
    assert row["days_since_last_payment"] == 33
    full = build_features(book(), [UP]).iloc[0]
    assert full["days_since_last_payment"] == 10
    assert full["dpd_current_max"] == 8


def test_states_and_falls_by_hand() -> None:
    """States: 0 DPD with an invoice open -> current, 0 DPD with nothing open -> none, 1-30, 31-60,
    61-89. Falls: PDs 0.10 -> 0.09 (1 point), 0.20 -> 0.198 (0.2 point), 0.30 -> 0.31 (a rise),
    0.40 -> 0.40: 2 of 4 fall, 1 of 4 by more than 0.5 point; median fall 0.6 point, p90 0.92."""
    dpd = pd.Series([0, 0, 5, 45, 70])
    open_count = pd.Series([1, 0, 1, 2, 1])
    states = state_of(dpd, open_count)
    assert states.isna().tolist() == [False, True, False, False, False]
    assert states.dropna().tolist() == ["current", "1-30", "31-60", "61-89"]
    s = summarise(np.array([0.10, 0.20, 0.30, 0.40]), np.array([0.09, 0.198, 0.31, 0.40]), 0.005)
    assert s["rows"] == 4
    assert s["falls"] == 0.5
    assert s["falls_material"] == 0.25
    assert s["rises"] == 0.25
    assert s["fall_median_pts"] == 0.6
    assert s["fall_p90_pts"] == 0.92


def test_dpd_only_moves_the_past_due_rows_days_columns() -> None:
    """Session 37's partial check: a row 40 days past due (mean 30, 90-day max 35, 365-day max 70) ->
    55, 45, 55, 70; a current row (0) stays."""
    rows = pd.DataFrame(
        {
            "dpd_current_max": [40.0, 0.0],
            "dpd_mean_overdue": [30.0, 0.0],
            "dpd_max_90d": [35.0, 10.0],
            "dpd_max_180d": [np.nan, 10.0],
            "dpd_max_365d": [70.0, 10.0],
            "overdue_amount": [500.0, 0.0],
        }
    )
    out = dpd_only(rows, 15)
    assert out.iloc[0].tolist() == [55.0, 45.0, 55.0, 55.0, 70.0, 500.0]
    assert out.iloc[1].tolist() == rows.iloc[1].tolist()


def test_book_specs_with_and_without_a_size() -> None:
    assert parse_book("stress:3352") == ("stress", 3352, None, None)
    assert parse_book("third:64:2000x36") == ("third", 64, 2000, 36)
    assert parse_book("quiet:3450:1000X24") == ("quiet", 3450, 1000, 24)
    assert book_name("third", 64, 2000, 36) == "third-2000x36-s64"
    assert book_name("stress", 3352, None, None) == "stress-s3352"
    for bad, words in (
        ("third", "expected KIND:SEED"),
        ("third:x", "expected KIND:SEED"),
        ("third:64:2000", "DEBTORSxMONTHS"),
        ("unseen-large:266:5000x36", "variant's size"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_book(bad)


def test_scores_of_two_commits_share_one_file(tmp_path: Path) -> None:
    """main writes ``old``, the candidate ``new`` on the same rows: one file with both columns; a run
    on other rows is refused, the file left as it was."""
    rows = pd.DataFrame(
        {
            "debtor_id": ["a", "b", "a"],
            "as_of": pd.to_datetime(["2025-01-31", "2025-01-31", "2025-02-28"]),
            "y": [0, 1, 0],
            "oracle": [0.01, 0.4, np.nan],
        }
    )
    path = tmp_path / "third-s64.parquet"
    write_scores(path, rows.assign(old=[0.02, 0.30, 0.05]), "old")
    both = write_scores(path, rows.assign(new=[0.03, 0.20, 0.01]), "new")
    back = pd.read_parquet(path)
    assert list(back.columns) == ["debtor_id", "as_of", "y", "oracle", "old", "new"]
    assert back["old"].tolist() == [0.02, 0.30, 0.05] and back["new"].tolist() == [0.03, 0.20, 0.01]
    assert both.equals(back)
    with pytest.raises(ValueError, match="other forward rows"):
        write_scores(path, rows.iloc[:2].assign(other=[0.1, 0.2]), "other")
    assert list(pd.read_parquet(path).columns) == ["debtor_id", "as_of", "y", "oracle", "old", "new"]
