"""Credit memos in the payment-date model and the cash forecast (session 20, issue 13).

A credit memo (``payments.kind`` = credit) closes or reduces an invoice but brings no cash. Before
session 20 the pay-date model learned an invoice a memo closed as paid on the memo's day, and the
cash backtest counted that memo as cash (s19-review's probe: 1,000.00 credited in full 10 days after
T showed as 1,000 of cash in week 2). Every expected value below is computed by hand.

Book (debtor D1, T = 2024-03-31, all amounts EUR):

- I1: issued 03-01, due 03-31, 1,000.00; memo C1 of 1,000.00 on 04-10 (T + 10): credited in full;
- I2: issued 03-01, due 03-31, 1,000.00; memo C2 of 500.00 on 04-05 (T + 5), cash P2 500.00 on
  04-20 (T + 20): half credited after T, the rest paid;
- I3: issued 03-05, due 04-04, 800.00; memo C3 of 400.00 on 03-20 (before T), cash P3 400.00 on
  04-16 (T + 16): half credited before T, so 400.00 open at T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.ledger import day_number, ledger_state, prepare_ledger
from features.paydate import (
    evaluation_invoices,
    memo_share,
    open_invoices,
    person_periods,
    settlement_days,
    settlements,
    training_rows,
    training_window,
)
from features.tables import Portfolio
from models.paydate import actual_cash, cash_actuals, cash_amounts, cash_moments


def day(s: str) -> int:
    return int(day_number(pd.Timestamp(s)))


T = day("2024-03-31")
CUT = day("2024-06-30")  # 91 days after T: 13 observed weeks, more than the 8-week horizon


def memo_book(with_kind: bool = True) -> Portfolio:
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array(["I1", "I2", "I3"], dtype="string"),
            "debtor_id": pd.array(["D1"] * 3, dtype="string"),
            "issue_date": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-05"]),
            "due_date": pd.to_datetime(["2024-03-31", "2024-03-31", "2024-04-04"]),
            "amount": [1000.0, 1000.0, 800.0],
            "currency": pd.array(["EUR"] * 3, dtype="string"),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": pd.array(["C1", "C2", "P2", "C3", "P3"], dtype="string"),
            "debtor_id": pd.array(["D1"] * 5, dtype="string"),
            "invoice_id": pd.array(["I1", "I2", "I2", "I3", "I3"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-04-10", "2024-04-05", "2024-04-20", "2024-03-20", "2024-04-16"]),
            "amount": [1000.0, 500.0, 500.0, 400.0, 400.0],
            "kind": pd.array(["credit", "credit", "cash", "credit", "cash"], dtype="string"),
        }
    )
    if not with_kind:
        payments = payments.drop(columns="kind")
    return Portfolio(invoices=invoices, payments=payments)


def by_invoice(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("pos").reset_index(drop=True)


def test_settlements_say_which_invoice_a_memo_closed() -> None:
    """Judged at the cut: I1 closed by C1 on 04-10 (a memo: no cash that day); I2 and I3 settled
    by their cash payments (04-20, 04-16) although memos took part of them. Without ``kind`` every
    closing is cash (None): the ledger as before session 20."""
    ledger = prepare_ledger(memo_book())
    days, memo = settlements(ledger, CUT)
    np.testing.assert_array_equal(days - T, [10.0, 20.0, 16.0])  # ledger order I1, I2, I3
    assert memo.tolist() == [True, False, False]
    np.testing.assert_array_equal(settlement_days(ledger, CUT), days)
    plain_days, plain_memo = settlements(prepare_ledger(memo_book(with_kind=False)), CUT)
    assert plain_memo is None
    np.testing.assert_array_equal(plain_days, days)


def test_evaluation_counts_cash_only() -> None:
    """Open at T: I1 1,000.00, I2 1,000.00, I3 400.00 (its memo before T already took 400.00).
    Paid in cash: I1 never (NaN; closed on day 10), I2 on day 20, I3 on day 16. Cash each brought:
    I1 0 (credited in full), I2 1,000 - 500 = 500.00, I3 400.00. By week (day d in week
    (d - 1) // 7): week 1 (days 8-14) 0, week 2 (days 15-21) 500 + 400 = 900; before session 20
    the memo was cash: week 1 1,000 (I1), week 2 1,000 + 400 = 1,400."""
    ledger = prepare_ledger(memo_book())
    ev = by_invoice(evaluation_invoices(ledger, T, CUT, 8))
    np.testing.assert_array_equal(ev["open_amount"], [1000.0, 1000.0, 400.0])
    np.testing.assert_array_equal(ev["actual_days"], [np.nan, 20.0, 16.0])
    np.testing.assert_array_equal(ev["closed_days"], [10.0, 20.0, 16.0])
    np.testing.assert_array_equal(ev["cash_amount"], [0.0, 500.0, 400.0])
    assert actual_cash(*cash_actuals(ev), weeks=4).tolist() == [0.0, 0.0, 900.0, 0.0]
    # the old count, memo closures as cash in the week they closed
    assert actual_cash(ev["open_amount"], ev["closed_days"], weeks=4).tolist() == [0.0, 1000.0, 1400.0, 0.0]
    # a book without memos: no new columns, the settlement days as before
    plain = by_invoice(evaluation_invoices(prepare_ledger(memo_book(with_kind=False)), T, CUT, 8))
    assert "cash_amount" not in plain and "closed_days" not in plain
    np.testing.assert_array_equal(plain["actual_days"], [10.0, 20.0, 16.0])


def test_training_rows_censor_an_invoice_a_memo_closed() -> None:
    """Weeks after T: week k covers days 7k + 1 .. 7k + 7. I1's memo on day 10 falls in week 1:
    censored there, so one row (week 0), label 0 (``censor``, shipped). ``settle`` (before session
    20): label 1 in week 1, 2 rows, settled_day 10. ``open``: never settled, 8 zero rows (horizon 8
    weeks, all observed by the cut). I2 and I3 are paid in cash in week 2 (days 20, 16): 3 rows,
    label 1 in week 2, under every rule."""
    ledger = prepare_ledger(memo_book())
    want_cash = {1: ([0, 0, 1], [0, 0, 20]), 2: ([0, 0, 1], [0, 0, 16])}
    want_i1 = {"censor": ([0], [0]), "settle": ([0, 1], [0, 10]), "open": ([0] * 8, [0] * 8)}
    for rule, (labels, days) in want_i1.items():
        rows = training_rows(ledger, [T], CUT, 8, memos=rule)
        got = {r: (g["label"].tolist(), g["settled_day"].tolist()) for r, g in rows.groupby("row")}
        assert got == {0: (labels, days), **want_cash}, rule
    # the default is censor; without kind, a memo is a payment: the old labels (the behaviour
    # features differ: since session 19 they count cash only when kind says which rows are memos)
    assert training_rows(ledger, [T], CUT, 8).equals(training_rows(ledger, [T], CUT, 8, memos="censor"))
    keys = ["row", "period", "label", "settled_day"]
    plain = training_rows(prepare_ledger(memo_book(with_kind=False)), [T], CUT, 8)
    assert plain[keys].equals(training_rows(ledger, [T], CUT, 8, memos="settle")[keys])
    with pytest.raises(ValueError, match="unknown memo rule"):
        training_rows(ledger, [T], CUT, 8, memos="drop")


def test_a_cut_before_the_memo_sees_an_open_invoice() -> None:
    """At a cut of 2024-04-08 (day 8 after T, before C1 on day 10) I1 is open: one observed week,
    label 0, under every rule; the memo after the cut changes nothing."""
    ledger = prepare_ledger(memo_book())
    cut = day("2024-04-08")
    inv = open_invoices(ledger, ledger_state(ledger, T))
    settled, memo = settlements(ledger, cut)
    assert not memo[0] and np.isnan(settled[0])
    for rule in ("censor", "settle", "open"):
        rows = person_periods(inv, T, settled, cut, 8, None, memo, rule)
        assert rows.loc[rows["row"] == 0, "label"].tolist() == [0], rule


def test_rows_after_t_change_nothing_and_a_half_credited_invoice_expects_the_rest() -> None:
    """The invoice features at T are those of the ledger cut at T (memos after T unseen): I3's
    open amount is 400.00 (the memo before T counts), I1's and I2's 1,000.00. With a CDF of 0.5 by
    the end of week 1 and 1.0 by week 2 for every invoice, the forecast expects per week
    0.5 x (1,000 + 1,000 + 400) = 1,200.00: I3 only on the 400.00 left."""
    full = memo_book()
    cut = Portfolio(
        invoices=full.invoices,
        payments=full.payments.loc[full.payments["paid_on"] <= pd.Timestamp("2024-03-31")].reset_index(
            drop=True
        ),
    )
    a = open_invoices(prepare_ledger(full), ledger_state(prepare_ledger(full), T))
    b = open_invoices(prepare_ledger(cut), ledger_state(prepare_ledger(cut), T))
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(by_invoice(a)["open_amount"], [1000.0, 1000.0, 400.0])
    F = np.tile([0.5, 1.0], (3, 1))
    moments = cash_moments(a["open_amount"].to_numpy(), F, np.full(3, -1), [], weeks=2)
    assert moments["expected_cash"].tolist() == [1200.0, 1200.0]


def test_memo_share_by_hand() -> None:
    """Open at T and closed within 8 weeks by the cut: I1 1,000.00, I2 1,000.00, I3 400.00 (2,400.00).
    Memos dated after T on them: C1 1,000.00 and C2 500.00 (C3 is before T): 1,500.00, a share of
    0.625. A cut of 04-08 (before C1; none of them closed yet): (0, 0). Without memos: (0, 0)."""
    ledger = prepare_ledger(memo_book())
    assert memo_share(ledger, [T], CUT, 8) == (1500.0, 2400.0)
    assert memo_share(ledger, [T], day("2024-04-08"), 8) == (0.0, 0.0)
    assert memo_share(prepare_ledger(memo_book(with_kind=False)), [T], CUT, 8) == (0.0, 0.0)


def test_the_training_window_gives_rows_and_memo_share_from_one_state_per_day(monkeypatch) -> None:
    """s20-review / session 21: ``bucket_rows`` built the training rows of a window, then
    ``memo_share`` built the ledger state at the cut twice more and every snapshot's again. One
    window of 2 month-ends (02-29, 03-31) cut at 06-30: ledger states at 06-30, 02-29 and 03-31, 3 in
    all (before: 3 + 2 x 2 = 7 for the rows and the share). At 02-29 nothing is open (I1, I2 issued
    03-01); at 03-31 as in :func:`test_memo_share_by_hand`: (1,500.00, 2,400.00). The rows are
    :func:`training_rows`' own; without memos the sums are (0, 0)."""
    import features.paydate as fp

    ledger = prepare_ledger(memo_book())
    snaps = [day("2024-02-29"), T]
    built: list[int] = []
    real = fp.ledger_state
    monkeypatch.setattr(fp, "ledger_state", lambda ledger, at: built.append(int(at)) or real(ledger, at))
    rows, sums = training_window(ledger, snaps, CUT, 8)
    assert sorted(built) == sorted([CUT, *snaps])
    assert sums == (1500.0, 2400.0)
    monkeypatch.setattr(fp, "ledger_state", real)
    pd.testing.assert_frame_equal(rows, training_rows(ledger, snaps, CUT, 8))
    assert sums == memo_share(ledger, snaps, CUT, 8)
    plain = prepare_ledger(memo_book(with_kind=False))
    assert training_window(plain, snaps, CUT, 8)[1] == (0.0, 0.0)


def test_the_cash_forecast_takes_the_memo_share_off_the_open_amounts() -> None:
    """With a memo share of 0.25 (a quarter of the open amount closed by memos in the training
    window) the forecast expects 750.00 of 1,000.00 and 300.00 of 400.00; with the CDF above
    (0.5 by week 1, 1.0 by week 2): 0.5 x (750 + 750 + 300) = 900.00 a week. Share 0: the open
    amounts themselves (the same array: same bytes as before session 20)."""
    amount = np.array([1000.0, 1000.0, 400.0])
    assert cash_amounts(amount, 0.25).tolist() == [750.0, 750.0, 300.0]
    assert cash_amounts(amount, 0.0) is amount
    F = np.tile([0.5, 1.0], (3, 1))
    moments = cash_moments(cash_amounts(amount, 0.25), F, np.full(3, -1), [], weeks=2)
    assert moments["expected_cash"].tolist() == [900.0, 900.0]


def test_a_memo_closure_is_not_in_the_debtors_lateness_history() -> None:
    """s20-review's open item: the debtor-history features took I1, closed by memo C1 on 04-10, as
    settled 10 days after its due date. At 2024-05-15, with a new open invoice I4 (due 05-31), D1's
    invoices settled in cash are I2 (cash 04-20, due 03-31: 20 days late) and I3 (cash 04-16, due
    04-04: 12 days): mean 16, std 4, median 16, count 2, none early. Without ``kind`` every closing is
    cash, as before session 20: I1 counts (10, 20, 12): mean 14, count 3, median 12."""
    as_of = day("2024-05-15")

    def features(with_kind: bool) -> pd.Series:
        book = memo_book(with_kind)
        i4 = pd.DataFrame(
            {
                "invoice_id": pd.array(["I4"], dtype="string"),
                "debtor_id": pd.array(["D1"], dtype="string"),
                "issue_date": pd.to_datetime(["2024-05-01"]),
                "due_date": pd.to_datetime(["2024-05-31"]),
                "amount": [500.0],
                "currency": pd.array(["EUR"], dtype="string"),
            }
        )
        book = Portfolio(invoices=pd.concat([book.invoices, i4], ignore_index=True), payments=book.payments)
        ledger = prepare_ledger(book)
        rows = open_invoices(ledger, ledger_state(ledger, as_of), candidates=True)
        assert len(rows) == 1  # I4 only
        return rows.iloc[0]

    cash = features(True)
    assert cash["debtor_mean_lateness"] == 16.0
    assert cash["debtor_std_lateness"] == 4.0
    assert cash["debtor_settled_count"] == 2.0
    assert cash["debtor_early_share"] == 0.0
    assert cash["debtor_late_median"] == 16.0
    assert cash["late_last"] == 20.0  # I2, settled last (04-20)
    assert cash["days_since_settlement"] == as_of - day("2024-04-20")
    old = features(False)
    assert old["debtor_mean_lateness"] == 14.0
    assert old["debtor_settled_count"] == 3.0
    assert old["debtor_late_median"] == 12.0


def test_a_three_decimal_currency_keeps_its_thousandths() -> None:
    """s20-review / session 21: the ledger state counted in whole cents and the held-out
    ``cash_amount`` was rounded to 2 decimals, so a Kuwaiti dinar book lost its fils. D1, KWD:
    I1 1.125 issued 03-01, paid in cash 1.125 on 04-10; I2 2.500, memo C1 of 0.625 on 04-05, cash
    1.875 on 04-20. At T = 03-31 both are open: 1.125 and 2.500 (before: 1.12, rint(112.5) = 112).
    Cash they bring: 1.125 in week 2 (T + 10), 2.500 - 0.625 = 1.875 in week 3 (T + 20) (before:
    1.12 and 2.50 - 0.62 = 1.88). The memo share of the window: 0.625 of 3.625."""
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array(["I1", "I2"], dtype="string"),
            "debtor_id": pd.array(["D1", "D1"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-03-01", "2024-03-01"]),
            "due_date": pd.to_datetime(["2024-03-31", "2024-03-31"]),
            "amount": [1.125, 2.5],
            "currency": pd.array(["KWD"] * 2, dtype="string"),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": pd.array(["P1", "C1", "P2"], dtype="string"),
            "debtor_id": pd.array(["D1"] * 3, dtype="string"),
            "invoice_id": pd.array(["I1", "I2", "I2"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-04-10", "2024-04-05", "2024-04-20"]),
            "amount": [1.125, 0.625, 1.875],
            "kind": pd.array(["cash", "credit", "cash"], dtype="string"),
        }
    )
    ledger = prepare_ledger(Portfolio(invoices=invoices, payments=payments))
    assert ledger_state(ledger, T).inv_remaining.tolist() == [1.125, 2.5]
    inv = by_invoice(evaluation_invoices(ledger, T, CUT, 8))
    assert inv["open_amount"].tolist() == [1.125, 2.5]
    assert inv["cash_amount"].tolist() == [1.125, 1.875]
    assert actual_cash(*cash_actuals(inv), weeks=4).tolist() == [0.0, 1.125, 1.875, 0.0]
    assert memo_share(ledger, [T], CUT, 8) == (0.625, 3.625)
    later = ledger_state(ledger, day("2024-04-06"))  # after the memo, before any cash
    assert later.inv_remaining.tolist() == [1.125, 1.875]
