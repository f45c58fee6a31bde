"""Portfolio figures (features.portfolio): DSO both ways and aging against a hand computation.

The ledger (amounts in EUR):
  A: INV1 issued 2024-01-10 due 02-09, 300, paid 02-20 (allocated)
     INV2 issued 2024-02-15 due 03-16, 600, 200 paid 03-10 (allocated), 400 open
     INV3 issued 2024-03-05 due 03-20, 900, open
  B: INV4 issued 2023-12-01 due 12-31, 150, open
     INV5 issued 2024-03-31 due 04-30, 50, open
Monthly credit sales: Dec 150, Jan 300, Feb 600, Mar 950.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.portfolio import (
    AGING_BUCKETS,
    aging_table,
    combine_parts,
    countback_dso,
    dso_table,
    expected_loss_by,
    portfolio_bucket,
    report_dates,
)
from tests.features.ledgers import inv, pay, portfolio

INVOICES = [
    inv("INV1", "A", "2024-01-10", "2024-02-09", 300.0),
    inv("INV2", "A", "2024-02-15", "2024-03-16", 600.0),
    inv("INV3", "A", "2024-03-05", "2024-03-20", 900.0),
    inv("INV4", "B", "2023-12-01", "2023-12-31", 150.0),
    inv("INV5", "B", "2024-03-31", "2024-04-30", 50.0),
]
PAYMENTS = [pay("P1", "A", "2024-02-20", 300.0, "INV1"), pay("P2", "A", "2024-03-10", 200.0, "INV2")]
DATES = report_dates(pd.Timestamp("2024-03-31"), months=3)
T = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31")]


def test_report_dates() -> None:
    assert DATES == T
    assert report_dates(pd.Timestamp("2024-03-15"), months=2) == [*T[:2], pd.Timestamp("2024-03-15")]


def test_aging_by_hand() -> None:
    aging = aging_table(portfolio_bucket(portfolio(INVOICES, PAYMENTS), DATES))
    want = pd.DataFrame(
        # 01-31: INV1 300 not due, INV4 150 31 dpd; 02-29: INV2 600 not due, INV4 60 dpd;
        # 03-31: INV5 50 not due, INV2 400 15 dpd + INV3 900 11 dpd, INV4 91 dpd
        [[300, 0, 150, 0, 0, 0], [600, 0, 150, 0, 0, 0], [50, 1300, 0, 0, 150, 0]],
        index=pd.Index(T, name="date"),
        columns=list(AGING_BUCKETS),
        dtype="float64",
    )
    pd.testing.assert_frame_equal(aging[list(AGING_BUCKETS)], want)
    assert aging["receivables"].tolist() == [450.0, 750.0, 1500.0]
    assert aging["share_1-30"].iloc[-1] == pytest.approx(1300 / 1500)


def test_dso_by_hand() -> None:
    parts = portfolio_bucket(portfolio(INVOICES, PAYMENTS), DATES)
    assert parts.monthly_sales.to_dict() == {
        pd.Timestamp("2023-12-01"): 150.0,
        pd.Timestamp("2024-01-01"): 300.0,
        pd.Timestamp("2024-02-01"): 600.0,
        pd.Timestamp("2024-03-01"): 950.0,
    }
    dso = dso_table(parts, window_days=90)
    # standard: sales issued in (T-90, T]: 01-31: INV4 + INV1 = 450; 02-29: from 12-01 excluded, 300 + 600;
    # 03-31: from 01-01 excluded, 300 + 600 + 900 + 50
    assert dso["sales_window"].tolist() == [450.0, 900.0, 1850.0]
    assert dso["dso_standard"].tolist() == pytest.approx([90.0, 750 / 900 * 90, 1500 / 1850 * 90])
    # countback: 01-31: 450 - Jan 300 (31 d) = 150 = Dec sales -> 31 + 31;
    # 02-29: 750 - Feb 600 (29 d) = 150 of Jan 300 -> 29 + 15.5; 03-31: 1500 - 950 (31 d) = 550 of Feb 600
    assert dso["dso_countback"].tolist() == pytest.approx([62.0, 44.5, 31 + 550 / 600 * 29])
    assert not dso["countback_capped"].any()


def test_dso_mid_month_is_point_in_time() -> None:
    """As of 03-15 the month of T counts 15 days and only the sales issued by then (INV5 is later)."""
    dates = report_dates(pd.Timestamp("2024-03-15"), months=2)
    parts = portfolio_bucket(portfolio(INVOICES, PAYMENTS), dates)
    assert parts.monthly_sales[pd.Timestamp("2024-03-01")] == 900.0
    now = dso_table(parts).iloc[-1]
    assert now["receivables"] == 400 + 900 + 150
    assert now["dso_countback"] == pytest.approx(15 + 550 / 600 * 29)
    # rows after T change nothing
    later = portfolio(
        [*INVOICES, inv("INV6", "A", "2024-03-16", "2024-04-15", 5000.0)],
        [*PAYMENTS, pay("P3", "B", "2024-03-16", 150.0), pay("P4", "A", "2024-03-20", 400.0, "INV2")],
    )
    again = portfolio_bucket(later, dates)
    pd.testing.assert_frame_equal(again.at, parts.at)
    pd.testing.assert_series_equal(again.monthly_sales, parts.monthly_sales)


def test_countback_capped_when_sales_run_out() -> None:
    sales = pd.Series({pd.Timestamp("2024-02-01"): 100.0, pd.Timestamp("2024-03-01"): 100.0})
    assert countback_dso(500.0, pd.Timestamp("2024-03-31"), sales) == (31 + 29, True)
    assert countback_dso(500.0, pd.Timestamp("2024-03-31"), sales, max_months=1) == (31, True)
    assert countback_dso(0.0, pd.Timestamp("2024-03-31"), sales) == (0.0, False)


def test_buckets_sum_to_the_whole_book() -> None:
    whole = portfolio(INVOICES, PAYMENTS)
    a = portfolio([i for i in INVOICES if i["debtor_id"] == "A"], PAYMENTS)
    b = portfolio([i for i in INVOICES if i["debtor_id"] == "B"], [])
    ids = pd.Index(["A", "B"], dtype="string")
    one = portfolio_bucket(whole, DATES, ids=ids)
    both = combine_parts([portfolio_bucket(a, DATES, ids=ids), portfolio_bucket(b, DATES, ids=ids)])
    pd.testing.assert_frame_equal(both.at, one.at)
    pd.testing.assert_series_equal(both.monthly_sales, one.monthly_sales)
    pd.testing.assert_frame_equal(both.open_items, one.open_items.sort_values(
        ["debtor_id", "due_date", "invoice_id"], ignore_index=True))  # fmt: skip
    items = one.open_items.set_index("invoice_id")
    assert items["open_amount"].to_dict() == {"INV2": 400.0, "INV3": 900.0, "INV4": 150.0, "INV5": 50.0}
    assert items.loc["INV4", "dpd"] == 91 and items.loc["INV5", "dpd"] == -30


def test_open_items_only_for_the_debtors_asked() -> None:
    got = portfolio_bucket(portfolio(INVOICES, PAYMENTS), DATES, ids=pd.Index(["B", "nobody"]))
    assert got.open_items["invoice_id"].tolist() == ["INV4", "INV5"]
    assert got.limits.index.tolist() == ["B"]
    assert portfolio_bucket(portfolio(INVOICES, PAYMENTS), DATES).open_items.empty


def test_expected_loss_by_band() -> None:
    frame = pd.DataFrame(
        {
            "band": ["A", "A", "C", "default"],
            "pd": [0.01, 0.03, 0.2, 1.0],
            "exposure": [1000.0, 2000.0, 500.0, -5.0],
            "lgd": [0.5, 0.5, 0.4, 0.5],
        }
    )
    got = expected_loss_by(frame, "band", order=["A", "B", "C", "default"])
    assert got.index.tolist() == ["A", "B", "C", "default", "total"]
    assert got.loc["A", "expected_loss"] == pytest.approx(0.01 * 1000 * 0.5 + 0.03 * 2000 * 0.5)
    assert got.loc["C", "expected_loss"] == pytest.approx(40.0)
    assert got.loc["default", "exposure"] == 0.0  # negative exposure counts as 0
    assert got.loc["B", "debtors"] == 0 and np.isnan(got.loc["B", "el_rate"])
    assert got.loc["total", "expected_loss"] == pytest.approx(75.0)
    assert got["debtors"].dtype == "int64" and got.loc["total", "debtors"] == 4


# The one-walk open amounts (features.portfolio.open_mills_walk) against hand-computed thousandths and
# against one ledger state per date. Debtor C (amounts in EUR):
#   INV7 issued 01-05, 100; INV8 issued 01-20, 250; INV9 issued 02-10, 80
#   P5 01-10, 60, names no invoice (cash on account: INV7 takes it, oldest first)
#   P6 01-25, 100, names INV9 (issued only on 02-10): cash on account until then
#   P7 02-15, 300, names INV8 (overpaid: 250 applied, the rest is never applied to another invoice)
#   P8 02-20, 50, names INV4 of debtor B: another debtor's invoice, so cash on account of C
WALK_INVOICES = [
    inv("INV7", "C", "2024-01-05", "2024-02-04", 100.0),
    inv("INV8", "C", "2024-01-20", "2024-02-19", 250.0),
    inv("INV9", "C", "2024-02-10", "2024-03-11", 80.0),
    *INVOICES,
]
WALK_PAYMENTS = [
    pay("P5", "C", "2024-01-10", 60.0),
    pay("P6", "C", "2024-01-25", 100.0, "INV9"),
    pay("P7", "C", "2024-02-15", 300.0, "INV8"),
    pay("P8", "C", "2024-02-20", 50.0, "INV4"),
    *PAYMENTS,
]


def _walk_by_invoice(ledger, days: list[int]) -> list[dict[str, int]]:
    from features.portfolio import open_mills_walk

    out = []
    for issued, mills in open_mills_walk(ledger, days):
        pos = np.arange(len(ledger.inv_code)) if issued is None else issued
        ids = np.asarray(ledger.invoice_ids.to_pylist(), dtype=object)[ledger.inv_row[pos]]
        out.append(
            {i: int(c) for i, c in zip(ids, mills, strict=True) if i.startswith("INV") and i >= "INV7"}
        )
    return out


def test_one_walk_open_amounts_by_hand() -> None:
    from features.ledger import day_number, prepare_ledger

    ledger = prepare_ledger(portfolio(WALK_INVOICES, WALK_PAYMENTS))
    days = [int(day_number(pd.Timestamp(d))) for d in ("2024-01-31", "2024-02-12", "2024-02-29")]
    got = _walk_by_invoice(ledger, days)
    # 01-31: pool 60 (P5) + 100 (P6, INV9 not issued) = 160: INV7 100 -> 0, INV8 250 - 60 = 190
    assert got[0] == {"INV7": 0, "INV8": 190000}
    # 02-12: P6 now applies to INV9 (issued 02-10; 100 >= 80 -> INV9 0) and leaves the pool;
    # pool 60: INV7 100 - 60 = 40, INV8 250
    assert got[1] == {"INV7": 40000, "INV8": 250000, "INV9": 0}
    # 02-29: P7 pays INV8 in full; pool 60 + 50 (P8) = 110: INV7 100 -> 0, the 10 left has nowhere to go
    assert got[2] == {"INV7": 0, "INV8": 0, "INV9": 0}


def test_one_walk_equals_one_state_per_date() -> None:
    """Same thousandths, same invoices, same order as ledger_state at every date, on a random book with
    cash on account, payments before their invoice, other debtors' invoices and overpayments; and
    the same PortfolioParts sums (bit for bit) as the per-state computation."""
    from features.ledger import day_number, ledger_state, prepare_ledger
    from features.portfolio import ledger_parts, open_mills_walk

    rng = np.random.default_rng(5)
    n_inv, n_pay, debtors = 600, 500, [f"D{i}" for i in range(25)]
    issue = pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 300, n_inv), unit="D")
    invs = pd.DataFrame(
        {"invoice_id": [f"I{i:04d}" for i in range(n_inv)], "debtor_id": rng.choice(debtors, n_inv),
         "issue_date": issue, "due_date": issue + pd.to_timedelta(rng.integers(0, 60, n_inv), unit="D"),
         "amount": rng.integers(1, 100_000, n_inv) / 100.0}
    )  # fmt: skip
    named = rng.random(n_pay) < 0.6
    target = rng.integers(0, n_inv, n_pay)
    pays = pd.DataFrame(
        {"payment_id": [f"P{i:04d}" for i in range(n_pay)],
         "debtor_id": np.where(rng.random(n_pay) < 0.9, invs["debtor_id"].to_numpy()[target], rng.choice(debtors, n_pay)),
         "invoice_id": np.where(named, invs["invoice_id"].to_numpy()[target], None),
         "paid_on": pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 330, n_pay), unit="D"),
         "amount": rng.integers(1, 120_000, n_pay) / 100.0}
    )  # fmt: skip
    book = portfolio(invs.to_dict("records"), pays.to_dict("records"))
    ledger = prepare_ledger(book)
    dates = report_dates(pd.Timestamp("2024-03-20"), months=12)
    days = [int(day_number(t)) for t in dates]
    for T, (issued, mills) in zip(days, open_mills_walk(ledger, days), strict=True):
        state = ledger_state(ledger, T)
        assert (issued is None) == (state.inv_rows is None)
        if issued is not None:
            np.testing.assert_array_equal(issued, state.inv_rows)
        np.testing.assert_array_equal(mills / 1000.0, state.inv_remaining)
    walked = ledger_parts(ledger, dates)
    # the per-state computation of the same sums, written out once here
    for t, T in zip(dates, days, strict=True):
        s = ledger_state(ledger, T)
        rem = s.inv_remaining[s.open_mask]
        row = walked.at.loc[t]
        assert row["receivables"] == float(rem.sum())
        assert row["open_invoices"] == int(s.open_mask.sum())
        assert row["sales_window"] == float(s.inv_amount[s.in_window(s.inv_issue, 90)].sum())
        dpd = T - s.inv_due[s.open_mask].astype(np.int64)
        by = np.bincount(np.searchsorted([0, 30, 60, 90, 180], dpd), weights=rem, minlength=6)
        assert row[list(AGING_BUCKETS)].tolist() == by.tolist()
