"""A statements book (monthly statements, no invoices) through the nightly's pieces: the feed is
accepted, exposure and aging come from the latest statement, the credit-limit policy reads the
statements' new charges, and the report's debtor pages say there is no invoice detail."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.tables import Portfolio
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.flows.nightly import DataQualityError, validate
from pipelines.report import render_report
from pipelines.report.portfolio import build_portfolio
from pipelines.scoring.score import statement_exposure
from pipelines.scoring.watchlist import assign_bands

CFG = NightlyConfig()


def _table(rows: int) -> dict:
    return {"rows_in": rows, "rows_accepted": rows, "rows_quarantined": 0, "input_sha256": "0" * 64}


def test_a_statements_feed_is_accepted_and_an_empty_ledger_refused() -> None:
    feed = SimpleNamespace(manifest={"tables": {"statements": _table(12), "debtors": _table(3)}})
    assert validate.fn(feed, CFG)["statements"]["rows_accepted"] == 12
    with pytest.raises(DataQualityError, match="no accepted invoices or statements"):
        validate.fn(SimpleNamespace(manifest={"tables": {"debtors": _table(3)}}), CFG)


def test_exposure_aging_and_volume_from_the_latest_statement() -> None:
    frame = pd.DataFrame(
        {
            "st_balance_last": [1000.0, 500.0, 800.0, -20.0, np.nan],
            "st_dpd_last": [0.0, 45.0, 120.0, 10.0, np.nan],
            "st_spending_to_limit_6m": [0.25, -0.1, 0.5, np.nan, 0.1],
            "st_credit_limit": [2000.0, 1000.0, np.nan, 100.0, 300.0],
        }
    )
    got = statement_exposure(frame)
    np.testing.assert_array_equal(got["open_balance"], [1000.0, 500.0, 800.0, 0.0, np.nan])
    np.testing.assert_array_equal(
        got["overdue_amount"], [0.0, 500.0, 800.0, 0.0, 0.0]
    )  # whole balance when past due
    np.testing.assert_array_equal(got["overdue_amount_31_60"], [0.0, 500.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got["overdue_amount_90p"], [0.0, 0.0, 800.0, 0.0, 0.0])
    np.testing.assert_array_equal(got["overdue_amount_1_30"], [0.0] * 5)  # D4: past due, nothing open
    np.testing.assert_array_equal(got["dpd_current_max"], frame["st_dpd_last"].to_numpy())
    # new charges per month: 0.25 x 2000 = 500; negative charges count 0; no limit: unknown
    cycle = 365.25 / 12
    np.testing.assert_allclose(
        got["invoice_amount_90d"], [500 * 90 / cycle, 0.0, np.nan, np.nan, 30 * 90 / cycle]
    )
    np.testing.assert_array_equal(np.isnan(got["payment_terms_mean_365d"]), [False, False, True, True, False])
    assert statement_exposure(frame.drop(columns="st_dpd_last")) == {}  # an invoice book: untouched


def test_report_pages_of_a_statements_book_say_there_is_no_invoice_detail(tmp_path) -> None:
    statements = pd.DataFrame(
        {
            "debtor_id": pd.Series(["a", "a", "b"], dtype="string"),
            "period_end": pd.to_datetime(["2024-05-31", "2024-06-30", "2024-06-30"]),
            "balance": [900.0, 1000.0, 400.0],
            "amount_due": [900.0, 1000.0, 0.0],
            "amount_paid": [0.0, 0.0, 100.0],
            "days_past_due": pd.array([15, 45, 0], dtype="Int64"),
            "credit_limit": [2000.0, 2000.0, 500.0],
        }
    )
    today = pd.DataFrame({"debtor_id": pd.Series(["a", "b"], dtype="string"), "pd": [0.3, 0.01]})
    today["in_default"] = False
    today["band"] = assign_bands(today["pd"], CFG)
    today = today.assign(name=["Firm a", "Firm b"], segment="retail", as_of=pd.Timestamp("2024-06-30"),
                         open_balance=[1000.0, 400.0], overdue_amount=[1000.0, 0.0])  # fmt: skip
    book = Book.in_memory(Portfolio(statements=statements), 100)
    view = build_portfolio(book, pd.Timestamp("2024-06-30").date(), today, pd.Index(["a"]), CFG, "EUR",
                           tmp_path / "none", None)  # fmt: skip
    html = render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.head(1).assign(triggers="threshold", reason_1="late", pd_change=np.nan, band_prev=None),
        reason_columns=["reason_1"], counts={"scored": 2, "in_default": 0, "flagged": 1, "queue": 1,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=CFG,
        portfolio=view,
    )  # fmt: skip
    assert "holds monthly statements, not invoices: no invoice detail" in html
    assert "Open invoices (0" not in html and "No open invoice at as-of." not in html
    assert 'id="dso-table"' in html and "a statements book: receivables are the latest statements" in html
    assert view.aging.loc["2024-06-30", "receivables"] == 1400.0  # a's June balance 1,000 + b's 400


def test_a_statements_frame_gives_the_roll_rate_its_dpd_and_the_backtest_its_exposure() -> None:
    """A 400-debtor statements book crashed `ews train` (roll-rate path) with "error: 'dpd_current_max'"
    and `ews backtest` with KeyError 'open_balance'."""
    from features.statements import with_statement_dpd
    from pipelines.scoring.score import EXPOSURE, exposure_columns

    st = pd.DataFrame(
        {"st_dpd_last": [0.0, 61.0], "st_balance_last": [10.0, 20.0], "st_dpd_max_6m": [30.0, 61.0]}
    )
    aliased = with_statement_dpd(st)
    assert aliased["dpd_current_max"].tolist() == [0.0, 61.0]
    assert aliased["dpd_max_180d"].tolist() == [30.0, 61.0]  # rollrate.within_state's DPD of 6 statements
    invoices = pd.DataFrame({"dpd_current_max": [5.0], "st_dpd_last": [99.0], "open_balance": [7.0]})
    assert with_statement_dpd(invoices) is invoices  # an invoice book keeps its own
    got = exposure_columns(st)
    assert got["open_balance"].tolist() == [10.0, 20.0] and got["overdue_amount_61_90"].tolist() == [
        0.0,
        20.0,
    ]
    inv = exposure_columns(invoices)
    assert inv["open_balance"].tolist() == [7.0] and inv["dpd_current_max"].tolist() == [5.0]
    assert np.isnan(inv["overdue_amount"]).all() and set(EXPOSURE) <= set(inv)


def test_dso_and_aging_of_a_statements_book() -> None:
    """Receivables from the latest statement per debtor (45 days at most), aged by its days past due;
    sales = new charges = balance - (previous balance - amount paid)."""
    from features.portfolio import statement_parts

    statements = pd.DataFrame(
        {
            "debtor_id": pd.Series(["D1", "D1", "D2", "D3"], dtype="string"),
            "period_end": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-01-31", "2023-12-31"]),
            "balance": [100.0, 150.0, 200.0, 80.0],
            "amount_paid": [0.0, 50.0, 0.0, 0.0],
            "days_past_due": pd.array([0, 10, 40, 200], dtype="Int64"),
            "credit_limit": [500.0, 600.0, 300.0, 100.0],
        }
    )
    dates = [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]
    parts = statement_parts(statements, dates, 90, pd.Index(["D1", "X"], dtype="string"))
    at = parts.at
    # Jan: D1 100 current, D2 200 31-60, D3 80 >180 (its December statement is 31 days old)
    assert at.loc["2024-01-31", ["receivables", "current", "31-60", ">180", "open_invoices"]].tolist() == [
        380.0,
        100.0,
        200.0,
        80.0,
        3,
    ]
    # Feb: D1 150 1-30, D2 still 200 (29 days old), D3 gone (60 days); D1's new charges 150 - (100 - 50)
    assert at.loc["2024-02-29", ["receivables", "1-30", "31-60", ">180", "open_invoices"]].tolist() == [
        350.0,
        150.0,
        200.0,
        0.0,
        2,
    ]
    assert at["sales_window"].tolist() == [0.0, 100.0]
    assert parts.monthly_sales.to_dict() == {
        pd.Timestamp("2023-12-01"): 0.0,
        pd.Timestamp("2024-01-01"): 0.0,
        pd.Timestamp("2024-02-01"): 100.0,
    }
    assert parts.limits["D1"] == 600.0 and np.isnan(parts.limits["X"]) and parts.open_items.empty


def test_the_queue_key_of_a_statements_book_is_the_pd_without_a_payment_date_fit() -> None:
    """`ews train` said 'no payment-date model can be fitted from rows dated up to ...: no training
    rows' after reading every bucket; a statements book has no invoices to fit one from."""
    from pipelines.flows.queue_key import queue_key_evidence

    statements = pd.DataFrame(
        {
            "debtor_id": pd.Series(["a"], dtype="string"),
            "period_end": pd.to_datetime(["2024-06-30"]),
            "balance": [10.0],
            "days_past_due": pd.array([0], dtype="Int64"),
        }
    )
    outcome = SimpleNamespace(
        test=pd.DataFrame({"as_of": pd.to_datetime(["2024-06-30"]), "debtor_id": ["a"]})
    )
    book = Book.in_memory(Portfolio(statements=statements), 100)
    choice = queue_key_evidence(outcome, pd.DataFrame(), book, None, None)
    assert choice.key == "pd" and "holds no invoices (monthly statements)" in choice.reason
