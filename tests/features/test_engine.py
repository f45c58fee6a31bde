"""features.engine.build_bucket: one ledger state gives features, flags, labels and the oldest open invoice."""

from __future__ import annotations

import pandas as pd

import features.catalog
from features.build import build_features
from features.engine import build_bucket, debtor_feature
from features.labels import build_labels
from features.params import DefaultDefinition
from features.paydate import open_invoices
from tests.features.ledgers import inv, pay, portfolio

T = pd.Timestamp("2024-06-30")


def oldest(p, t=T) -> dict[str, tuple[str, pd.Timestamp]]:
    got = build_bucket(p, [t]).oldest_open
    return {r.debtor_id: (r.oldest_invoice_id, r.oldest_due_date) for r in got.itertuples()}


def test_oldest_open_invoice_skips_a_paid_invoice_with_the_same_due_date() -> None:
    """Issue 11 item 7: A paid and B open, same due date -> B (A sorts first by id)."""
    p = portfolio(
        [
            inv("A", "d", "2024-04-01", "2024-05-01", 100.0),
            inv("B", "d", "2024-04-01", "2024-05-01", 50.0),
            inv("C", "d", "2024-05-01", "2024-05-31", 70.0),  # open, due later
        ],
        [pay("p1", "d", "2024-05-02", 100.0, "A")],
    )
    assert oldest(p) == {"d": ("B", pd.Timestamp("2024-05-01"))}


def test_oldest_open_invoice_ties_and_partial_payments() -> None:
    p = portfolio(
        [
            inv("I2", "a", "2024-05-01", "2024-06-25", 10.0),
            inv("I1", "a", "2024-05-01", "2024-06-25", 10.0),  # same due date: smallest id wins
            inv("I3", "a", "2024-06-01", "2024-06-28", 10.0),
            inv("J1", "b", "2024-06-01", "2024-07-15", 10.0),  # not yet due: b has none
            inv("K1", "c", "2024-01-01", "2024-01-31", 10.0),  # paid in part: still open
            inv("K2", "c", "2024-02-01", "2024-02-29", 10.0),
            inv("L1", "e", "1700-01-01", "1700-02-01", 10.0),  # far in the past: no overflow
        ],
        [pay("p1", "c", "2024-03-01", 4.0)],  # unallocated: applied to K1 first, K1 stays open
    )
    assert oldest(p) == {
        "a": ("I1", pd.Timestamp("2024-06-25")),
        "c": ("K1", pd.Timestamp("2024-01-31")),
        "e": ("L1", pd.Timestamp("1700-02-01")),
    }
    # due today is not overdue; the day after it is
    assert "a" not in oldest(p, pd.Timestamp("2024-06-25"))
    assert oldest(p, pd.Timestamp("2024-06-26"))["a"] == ("I1", pd.Timestamp("2024-06-25"))


def test_bucket_outputs_equal_the_features_and_labels_functions() -> None:
    p = portfolio(
        [
            inv("a1", "a", "2024-01-01", "2024-01-31", 100.0),
            inv("b1", "b", "2024-01-01", "2024-01-31", 100.0),
            inv("c1", "c", "2023-09-01", "2023-10-01", 50.0),
        ],
        [pay("pb", "b", "2024-04-29", 100.0)],
    )
    dates = [pd.Timestamp("2024-02-29"), pd.Timestamp("2024-03-31")]
    until = pd.Timestamp("2024-12-31")
    got = build_bucket(p, dates, DefaultDefinition(), labels=True, observed_until=until)
    pd.testing.assert_frame_equal(got.features, build_features(p, dates))
    pd.testing.assert_frame_equal(got.defaults, build_labels(p, dates, DefaultDefinition(), until))
    flags = build_bucket(p, dates).defaults
    assert list(flags.columns) == ["debtor_id", "as_of", "in_default_at_asof"]
    assert flags["in_default_at_asof"].tolist() == got.defaults["in_default_at_asof"].tolist()
    assert got.oldest_open["oldest_invoice_id"].tolist() == ["a1", "b1", "c1"] * 2  # b pays on 04-29


def test_debtor_features_are_computed_once_per_state(monkeypatch) -> None:
    """The payment-date forecast reads the PD's ledger features of the same state
    (``debtor_feature``): ``open_invoice_count`` is computed once per bucket state, not twice. By hand
    at T: a has a1 and a2 open (a3 paid), b has b1 open: 2, 2, 1 per open invoice."""
    calls = []
    count = features.catalog.FUNCTIONS["open_invoice_count"]
    monkeypatch.setitem(
        features.catalog.FUNCTIONS, "open_invoice_count", lambda s: calls.append(1) or count(s)
    )
    p = portfolio(
        [
            inv("a1", "a", "2024-05-01", "2024-05-31", 100.0),
            inv("a2", "a", "2024-06-01", "2024-07-01", 50.0),
            inv("a3", "a", "2024-04-01", "2024-05-01", 70.0),
            inv("b1", "b", "2024-06-01", "2024-07-01", 30.0),
        ],
        [pay("p1", "a", "2024-05-02", 70.0, "a3")],
    )
    seen = {}

    def forecast(ledger, state):
        seen["first"] = debtor_feature(state, "open_invoice_count")
        seen["open"] = open_invoices(ledger, state)

    built = build_bucket(p, [T], at_state=forecast)
    assert built.features.set_index("debtor_id")["open_invoice_count"].to_dict() == {"a": 2.0, "b": 1.0}
    assert seen["open"]["open_invoice_count"].tolist() == [2.0, 2.0, 1.0]
    assert len(calls) == 1
    assert not seen["first"].flags.writeable
