"""Default labels by hand: DPD trigger, events, exclusion of debtors already in default, horizon."""

from __future__ import annotations

import pandas as pd
import pytest

from features.labels import build_labels, last_observed_date
from features.params import DefaultDefinition
from features.snapshots import month_ends
from tests.features.ledgers import frame, inv, pay, portfolio, statements

UNTIL = pd.Timestamp("2024-12-31")


def lab(frame_: pd.DataFrame, debtor: str, as_of: str) -> pd.Series:
    sel = frame_[(frame_["debtor_id"] == debtor) & (frame_["as_of"] == pd.Timestamp(as_of))]
    assert len(sel) == 1
    return sel.iloc[0]


@pytest.fixture(scope="module")
def ledger():
    return portfolio(
        [
            inv("a1", "a", "2024-01-01", "2024-01-31", 100.0),  # never paid: default on 04-30 (leap year)
            inv("b1", "b", "2024-01-01", "2024-01-31", 100.0),  # paid on day 89 past due: never in default
            inv("c1", "c", "2023-09-01", "2023-10-01", 50.0),  # in default since 2023-12-30
            inv("d1", "d", "2024-02-01", "2024-03-01", 10.0),
        ],
        [pay("pb", "b", "2024-04-29", 100.0), pay("pd", "d", "2024-03-01", 10.0, "d1")],
        events=[
            {"debtor_id": "d", "event_date": pd.Timestamp("2024-05-15"), "kind": "insolvency", "amount": None}
        ],
    )


def test_dpd_trigger_event_and_exclusion(ledger) -> None:
    labels = build_labels(
        ledger, [pd.Timestamp("2024-02-29"), pd.Timestamp("2024-03-31")], observed_until=UNTIL
    )
    a = lab(labels, "a", "2024-02-29")
    assert a["label"] == 1 and a["first_default_date"] == pd.Timestamp("2024-04-30")
    assert not a["in_default_at_asof"] and a["horizon_observed"]
    b = lab(labels, "b", "2024-02-29")
    assert b["label"] == 0 and pd.isna(b["first_default_date"])
    c = lab(labels, "c", "2024-02-29")
    assert c["in_default_at_asof"] and pd.isna(c["label"]) and pd.isna(c["first_default_date"])
    d = lab(labels, "d", "2024-02-29")  # insolvency 05-15 is 76 days after 02-29
    assert d["label"] == 1 and d["first_default_date"] == pd.Timestamp("2024-05-15")
    assert labels["label"].dtype == "Int64" and labels["in_default_at_asof"].dtype == bool


def test_horizon_boundaries(ledger) -> None:
    # a defaults on 04-30: inside (01-31, 04-30] at the right edge; outside for T = 04-30 (already in default)
    labels = build_labels(
        ledger, [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-04-30")], observed_until=UNTIL
    )
    assert lab(labels, "a", "2024-01-31")["label"] == 1
    assert lab(labels, "a", "2024-04-30")["in_default_at_asof"]
    short = build_labels(ledger, [pd.Timestamp("2024-01-31")], DefaultDefinition(horizon_days=89), UNTIL)
    assert lab(short, "a", "2024-01-31")["label"] == 0  # 04-30 is day 90 after 01-31


def test_threshold_and_event_kinds_come_from_the_definition(ledger) -> None:
    strict = DefaultDefinition(dpd_threshold=30, event_kinds=("write_off",))
    labels = build_labels(ledger, [pd.Timestamp("2024-02-29")], strict, observed_until=UNTIL)
    a = lab(labels, "a", "2024-02-29")  # 02-29 is 29 days past due: default the next day
    assert not a["in_default_at_asof"] and a["first_default_date"] == pd.Timestamp("2024-03-01")
    assert lab(labels, "d", "2024-02-29")["label"] == 0  # insolvency no longer counts


def test_unobserved_horizon_gives_na(ledger) -> None:
    labels = build_labels(ledger, [pd.Timestamp("2024-03-31")], observed_until=pd.Timestamp("2024-05-31"))
    assert not labels["horizon_observed"].any() and labels["label"].isna().all()
    assert last_observed_date(ledger) == pd.Timestamp("2024-05-15")


def test_statement_path_labels() -> None:
    rows = [
        {
            "debtor_id": "s",
            "period_end": pd.Timestamp(d),
            "balance": 1.0,
            "amount_due": 1.0,
            "amount_paid": 0.0,
            "days_past_due": dpd,
            "credit_limit": 10.0,
        }
        for d, dpd in [("2024-01-31", 0), ("2024-02-29", 30), ("2024-03-31", 60), ("2024-04-30", 90)]
    ]
    from features.tables import Portfolio

    p = Portfolio(statements=frame("statements", rows))
    labels = build_labels(p, [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-04-30")], observed_until=UNTIL)
    assert lab(labels, "s", "2024-01-31")["label"] == 1
    assert lab(labels, "s", "2024-01-31")["first_default_date"] == pd.Timestamp("2024-04-30")
    assert lab(labels, "s", "2024-04-30")["in_default_at_asof"]


def test_min_open_amount_on_statements_reads_the_balance() -> None:
    """s36-minopen: a statement states amounts, not invoices; whatever is overdue is part of its balance, so a
    statement whose balance is at most ``min_open_amount`` cannot have more than that overdue and does not
    count toward a default. By hand, five accounts 0, 30, 60, 90, 120 days past due at the month-ends
    2024-01-31 .. 05-31 (day 90 on 04-30), balances 5.00, 10.00 (exactly the threshold), 15.00, 1,000.00 and
    none stated. Threshold 10: the 5.00 and 10.00 accounts never default (label 0 at 01-31, not in default at
    05-31); 15.00, 1,000.00 and the one without a balance (taken as stated) default on 04-30. Threshold 0:
    all five do."""
    from features.tables import Portfolio

    balances = {"s5": 5.0, "s10": 10.0, "s15": 15.0, "s1000": 1000.0, "sna": None}
    ends = {"2024-01-31": 0, "2024-02-29": 30, "2024-03-31": 60, "2024-04-30": 90, "2024-05-31": 120}
    p = Portfolio(statements=statements(balances, ends))
    dates = [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-05-31")]
    material = build_labels(p, dates, DefaultDefinition(min_open_amount=10.0), observed_until=UNTIL)
    for debtor in ("s5", "s10"):
        assert lab(material, debtor, "2024-01-31")["label"] == 0, debtor
        assert pd.isna(lab(material, debtor, "2024-01-31")["first_default_date"]), debtor
        assert not lab(material, debtor, "2024-05-31")["in_default_at_asof"], debtor
    any_rest = build_labels(p, dates, observed_until=UNTIL)
    day_90 = pd.Timestamp("2024-04-30")
    for debtor in balances:
        for labels in (any_rest, material) if debtor not in ("s5", "s10") else (any_rest,):
            assert lab(labels, debtor, "2024-01-31")["first_default_date"] == day_90, debtor
            assert lab(labels, debtor, "2024-05-31")["in_default_at_asof"], debtor


def test_month_ends() -> None:
    assert month_ends("2024-01-15", "2024-03-31") == [
        pd.Timestamp("2024-01-31"),
        pd.Timestamp("2024-02-29"),
        pd.Timestamp("2024-03-31"),
    ]
    assert month_ends("2024-02-01", "2024-02-28") == []
    with pytest.raises(ValueError, match="before start"):
        month_ends("2024-03-01", "2024-01-01")


def test_min_open_amount_is_a_materiality_threshold() -> None:
    # every invoice 1,000.00 (r: 15.00) due 2024-01-31: day 90 past due is 2024-04-30 (leap year)
    book = portfolio(
        [
            inv("s1", "s", "2024-01-01", "2024-01-31", 1000.0),  # 985 received: 15 of bank charges left open
            inv("p1", "p", "2024-01-01", "2024-01-31", 1000.0),  # 500 open on 04-30, 10 after 05-10
            inv("q1", "q", "2024-01-01", "2024-01-31", 1000.0),  # 10 open from 04-29, a day before day 90
            inv("r1", "r", "2024-01-01", "2024-01-31", 15.0),  # never paid, but only 15
        ],
        [
            pay("s", "s", "2024-02-10", 985.0, "s1"),
            pay("p", "p", "2024-02-10", 500.0, "p1"),
            pay("p2", "p", "2024-05-10", 490.0, "p1"),
            pay("q", "q", "2024-02-10", 500.0, "q1"),
            pay("q2", "q", "2024-04-29", 490.0, "q1"),
        ],
    )
    dates = [pd.Timestamp("2024-02-29"), pd.Timestamp("2024-05-31")]
    any_rest = build_labels(book, dates, observed_until=UNTIL)
    material = build_labels(book, dates, DefaultDefinition(min_open_amount=20.0), observed_until=UNTIL)
    for debtor in "spqr":  # without the threshold every rest defaults on day 90
        assert lab(any_rest, debtor, "2024-02-29")["first_default_date"] == pd.Timestamp("2024-04-30")
        assert lab(any_rest, debtor, "2024-05-31")["in_default_at_asof"]
    p = lab(material, "p", "2024-02-29")  # 500 open on day 90: in default, and still at 05-31 (10 open
    assert p["label"] == 1 and p["first_default_date"] == pd.Timestamp("2024-04-30")  # but defaulted)
    for debtor in "sqr":  # 15, 10 and 15 open on day 90: never in default with a threshold of 20
        row = lab(material, debtor, "2024-02-29")
        assert row["label"] == 0 and pd.isna(row["first_default_date"]), debtor
        assert not lab(material, debtor, "2024-05-31")["in_default_at_asof"], debtor
    assert not lab(material, "p", "2024-05-31")["in_default_at_asof"]  # 10 open at 05-31: below 20 now
    at_ten = build_labels(book, dates[:1], DefaultDefinition(min_open_amount=10.0), observed_until=UNTIL)
    assert lab(at_ten, "q", "2024-02-29")["label"] == 0  # 10 open is not more than 10
    assert lab(at_ten, "s", "2024-02-29")["label"] == 1  # 15 open is


def test_min_open_amount_in_the_model_record() -> None:
    old = DefaultDefinition().as_record()  # a model trained before the threshold existed
    assert "min_open_amount" not in old and DefaultDefinition().differences(old) == []
    assert DefaultDefinition(min_open_amount=20.0).differences(old) == [
        "min_open_amount: 20.0 here, 0.0 in the model"
    ]
    stored = DefaultDefinition(min_open_amount=20.0).as_record()
    assert (
        stored["min_open_amount"] == 20.0
        and DefaultDefinition(min_open_amount=20.0).differences(stored) == []
    )
    with pytest.raises(ValueError, match="min_open_amount"):
        DefaultDefinition(min_open_amount=-1.0)
