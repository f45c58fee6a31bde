"""Dated master data (``debtor_history``, features.master): the attributes valid at T, never later ones.

Expected values computed by hand from the tiny book below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.engine import build_bucket
from features.master import debtors_at, snapshot_rows
from features.tables import Portfolio

DATES = ["2024-01-31", "2024-02-29", "2024-03-31"]
COLS = ["debtor_id", "as_of", "credit_limit", "utilisation", "segment", "country"]


def _book(history: pd.DataFrame | None) -> Portfolio:
    s = lambda v: pd.array(v, dtype="string")  # noqa: E731
    invoices = pd.DataFrame(
        {
            "invoice_id": s(["I1", "I2"]),
            "debtor_id": s(["A", "B"]),
            "issue_date": pd.to_datetime(["2024-01-05", "2024-01-05"]),
            "due_date": pd.to_datetime(["2024-02-05", "2024-02-05"]),
            "amount": [100.0, 200.0],
            "currency": s(["EUR", "EUR"]),
            "disputed": [False, False],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": s([]),
            "debtor_id": s([]),
            "invoice_id": s([]),
            "paid_on": pd.to_datetime([]),
            "amount": pd.Series([], dtype="float64"),
        }
    )
    # the export day's snapshot: A's limit was cut to 0 after trouble
    debtors = pd.DataFrame(
        {
            "debtor_id": s(["A", "B"]),
            "segment": s(["x", "y"]),
            "country": s(["DE", "FR"]),
            "credit_limit": [0.0, 1000.0],
        }
    )
    return Portfolio(invoices=invoices, payments=payments, debtors=debtors, debtor_history=history)


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debtor_id": pd.array(["A", "A", "B"], dtype="string"),
            "valid_from": pd.to_datetime(["2023-06-01", "2024-03-15", "2024-02-01"]),
            "credit_limit": [500.0, 0.0, np.nan],  # B's row states no limit
            "segment": pd.array([None, "z", "w"], dtype="string"),
            "country": pd.array([None, None, None], dtype="string"),
        }
    )


def test_features_at_t_read_the_attributes_valid_at_t() -> None:
    got = build_bucket(_book(_history()), DATES).features[COLS]
    # A: 500 until 2024-03-15, then 0 (utilisation NaN without a positive limit); its segment is the
    # snapshot's x until its 2024-03-15 row states z. B: no row states a limit -> the snapshot's 1000;
    # its segment w from 2024-02-01. Utilisation = open balance / limit: A 100 / 500, B 200 / 1000.
    assert got["credit_limit"].tolist() == [500.0, 1000.0, 500.0, 1000.0, 0.0, 1000.0]
    np.testing.assert_allclose(got["utilisation"].to_numpy(), [0.2, 0.2, 0.2, 0.2, np.nan, 0.2])
    assert got["segment"].astype(str).tolist() == ["x", "y", "x", "w", "z", "w"]
    assert got["country"].astype(str).tolist() == ["DE", "FR"] * 3  # no row states a country
    snap = build_bucket(_book(None), DATES).features  # without a history: the snapshot at every T
    assert snap["credit_limit"].tolist() == [0.0, 1000.0] * 3
    assert snap["segment"].astype(str).tolist() == ["x", "y"] * 3


def test_history_rows_valid_after_t_change_nothing_at_t() -> None:
    T = ["2024-02-29"]
    base = build_bucket(_book(_history()), T).features
    later = _history()
    later = pd.concat(
        [
            later[later["valid_from"] <= "2024-02-29"],
            pd.DataFrame(  # rows dated after T, with values that would change every attribute
                {
                    "debtor_id": pd.array(["A", "B", "B"], dtype="string"),
                    "valid_from": pd.to_datetime(["2024-03-01", "2024-03-01", "2025-01-01"]),
                    "credit_limit": [1.0, 2.0, 3.0],
                    "segment": pd.array(["q", "q", "r"], dtype="string"),
                    "country": pd.array(["NL", "NL", "IT"], dtype="string"),
                }
            ),
        ],
        ignore_index=True,
    )
    got = build_bucket(_book(later), T).features
    cols = [c for c in base.columns if c not in ("segment", "country")]
    pd.testing.assert_frame_equal(got[cols], base[cols])
    for col in ("segment", "country"):  # same values (the categories hold the later rows' values too)
        assert got[col].astype(str).tolist() == base[col].astype(str).tolist()
    assert base["credit_limit"].tolist() == [500.0, 1000.0]


def test_snapshot_rows_are_those_before_the_debtors_first_history_row() -> None:
    keys = pd.DataFrame(
        {
            "debtor_id": ["A", "A", "B", "B", "C"],
            "as_of": pd.to_datetime(["2023-05-31", "2023-06-30", "2024-01-31", "2024-02-29", "2024-02-29"]),
        }
    )
    # A's first row 2023-06-01, B's 2024-02-01, C has none
    assert snapshot_rows(_history(), keys).tolist() == [True, False, True, False, True]
    assert snapshot_rows(None, keys).tolist() == [True] * 5


def test_debtors_table_on_a_day_holds_that_days_attributes() -> None:
    """What the nightly of that day reads (credit-limit policy, triggers): A's limit 500 until its
    2024-03-15 cut, B's segment w from 2024-02-01, its limit the table's own (its row states none)."""
    deb = _book(None).debtors
    on = {d: debtors_at(deb, _history(), d) for d in DATES}
    assert on["2024-01-31"]["credit_limit"].tolist() == [500.0, 1000.0]
    assert on["2024-01-31"]["segment"].tolist() == ["x", "y"]
    assert on["2024-02-29"]["segment"].tolist() == ["x", "w"]
    assert on["2024-03-31"]["credit_limit"].tolist() == [0.0, 1000.0]
    assert on["2024-03-31"]["segment"].tolist() == ["z", "w"]
    assert debtors_at(deb, None, "2024-01-31") is deb


def test_without_a_debtors_table_the_history_alone_gives_that_days_attributes() -> None:
    """A book given only a debtor_history: the nightly's debtors table of a day is the history's debtors
    with a row dated on or before it and the values then stated (before: None, so credit_limits.csv had
    no current limit and limit_breach's current-limit test never fired). By hand from _history(): on
    2024-03-31 A's latest limit is its 2024-03-15 cut to 0 and its segment z; B (first row 2024-02-01)
    states a segment w and no limit. On 2024-01-31 only A has a row: limit 500, no segment stated.
    Before 2023-06-01 no debtor has one."""
    late = debtors_at(None, _history(), "2024-03-31")
    assert late["debtor_id"].tolist() == ["A", "B"]
    assert late["credit_limit"].tolist()[0] == 0.0 and np.isnan(late["credit_limit"].tolist()[1])
    assert late["segment"].tolist() == ["z", "w"]
    assert late["country"].isna().all()
    early = debtors_at(None, _history(), "2024-01-31")
    assert early["debtor_id"].tolist() == ["A"] and early["credit_limit"].tolist() == [500.0]
    assert early["segment"].isna().all()
    assert len(debtors_at(None, _history(), "2023-05-31")) == 0
    assert debtors_at(None, None, "2024-01-31") is None


def test_the_reports_limit_is_the_one_valid_at_the_last_date() -> None:
    """ledger_parts (the report's per-debtor figures) read the limit valid at the last date, as the
    features do: on 2024-02-29 A's limit is 500 (dated 2023-06-01), not the snapshot's 0 (the cut of
    2024-03-15); on 2024-03-31 it is 0. B's rows state no limit: the snapshot's 1000 both days."""
    from features.ledger import prepare_ledger
    from features.portfolio import ledger_parts

    ledger = prepare_ledger(_book(_history()))
    ids = pd.Index(["A", "B"], dtype="string")
    feb = ledger_parts(ledger, [pd.Timestamp("2024-02-29")], ids=ids).limits
    mar = ledger_parts(ledger, [pd.Timestamp("2024-03-31")], ids=ids).limits
    assert feb.to_dict() == {"A": 500.0, "B": 1000.0}
    assert mar.to_dict() == {"A": 0.0, "B": 1000.0}
    snap = ledger_parts(prepare_ledger(_book(None)), [pd.Timestamp("2024-02-29")], ids=ids).limits
    assert snap.to_dict() == {"A": 0.0, "B": 1000.0}
