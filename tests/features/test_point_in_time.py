"""Property: features as of T do not change when every row dated after T is deleted or scrambled;
labels as of T do not change when rows after T + horizon are deleted or scrambled."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from features.labels import build_labels
from features.params import DefaultDefinition
from features.tables import Portfolio
from tests.features.ledgers import frame

START = pd.Timestamp("2023-10-01")
SPAN = 300  # days: covers 2024-02-29
DEBTORS = ["d0", "d1", "d2"]
DEFINITION = DefaultDefinition(dpd_threshold=30, horizon_days=60)


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[Portfolio, pd.Timestamp, int]:
    n_inv = draw(st.integers(0, 8))
    invoices = []
    for i in range(n_inv):
        issue = draw(st.integers(0, SPAN))
        invoices.append(
            {
                "invoice_id": f"i{i}",
                "debtor_id": draw(st.sampled_from(DEBTORS)),
                "issue_date": START + pd.Timedelta(days=issue),
                "due_date": START + pd.Timedelta(days=issue + draw(st.sampled_from([0, 14, 30, 60]))),
                "amount": float(draw(st.integers(1, 500))),
                "disputed": draw(st.booleans()),
            }
        )
    payments = []
    for j in range(draw(st.integers(0, 10))):
        target = draw(st.one_of(st.none(), st.sampled_from([f"i{i}" for i in range(max(n_inv, 1))])))
        debtor = draw(st.sampled_from(DEBTORS))
        if target is not None and n_inv and draw(st.booleans()):
            debtor = invoices[int(target[1:])]["debtor_id"]
        payments.append(
            {
                "payment_id": f"p{j}",
                "debtor_id": debtor,
                "invoice_id": target,
                "paid_on": START + pd.Timedelta(days=draw(st.integers(0, SPAN + 60))),
                "amount": float(draw(st.integers(1, 400))),
            }
        )
    events = [
        {
            "debtor_id": draw(st.sampled_from(DEBTORS)),
            "event_date": START + pd.Timedelta(days=draw(st.integers(0, SPAN + 60))),
            "kind": draw(st.sampled_from(["write_off", "insolvency", "agency_placement"])),
            "amount": None,
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    debtors = [
        {
            "debtor_id": d,
            "segment": "retail",
            "country": "NL",
            "credit_limit": 500.0,
            "onboarded_on": START + pd.Timedelta(days=draw(st.integers(0, SPAN))),
        }
        for d in DEBTORS
        if draw(st.booleans())
    ]
    p = Portfolio(
        invoices=frame("invoices", invoices),
        payments=frame("payments", payments),
        events=frame("events", events),
        debtors=frame("debtors", debtors),
    )
    T = START + pd.Timedelta(days=draw(st.integers(0, SPAN)))
    return p, T, draw(st.integers(0, 2**31 - 1))


def cut_and_scramble(p: Portfolio, cut: pd.Timestamp, seed: int) -> Portfolio:
    """Delete half of the rows dated after ``cut`` and scramble the rest (dates stay after ``cut``)."""
    rng = np.random.default_rng(seed)

    def after(df: pd.DataFrame, col: str) -> np.ndarray:
        return (df[col] > cut).to_numpy()

    inv = p.invoices.copy()
    late = after(inv, "issue_date")
    inv = inv[~late | (rng.random(len(inv)) < 0.5)].reset_index(drop=True)
    late = after(inv, "issue_date")
    k = int(late.sum())
    inv.loc[late, "amount"] = rng.integers(1, 900, k).astype(float)
    inv.loc[late, "debtor_id"] = rng.choice(DEBTORS, k)
    inv.loc[late, "due_date"] = inv.loc[late, "issue_date"] + pd.to_timedelta(
        rng.integers(0, 90, k), unit="D"
    )
    inv.loc[late, "disputed"] = rng.random(k) < 0.5
    extra_inv = pd.DataFrame(
        {
            "invoice_id": pd.array(["x0", "x1"], dtype="string"),
            "debtor_id": pd.array(["d0", "d9"], dtype="string"),
            "issue_date": [cut + pd.Timedelta(days=1), cut + pd.Timedelta(days=5)],
            "due_date": [cut + pd.Timedelta(days=1), cut + pd.Timedelta(days=35)],
            "amount": [77.0, 5.0],
            "currency": pd.array(["EUR", "EUR"], dtype="string"),
            "disputed": [True, False],
        }
    )
    inv = pd.concat([inv, extra_inv], ignore_index=True)

    pay = p.payments.copy()
    late = after(pay, "paid_on")
    pay = pay[~late | (rng.random(len(pay)) < 0.5)].reset_index(drop=True)
    late = after(pay, "paid_on")
    k = int(late.sum())
    pay.loc[late, "amount"] = rng.integers(1, 900, k).astype(float)
    pay.loc[late, "invoice_id"] = pd.array(rng.choice(["i0", "i1", "x0", None], k), dtype="string")
    extra_pay = pd.DataFrame(
        {
            "payment_id": pd.array(["q0", "q1"], dtype="string"),
            "debtor_id": pd.array(["d0", "d1"], dtype="string"),
            "invoice_id": pd.array([None, "i0"], dtype="string"),
            "paid_on": [cut + pd.Timedelta(days=1), cut + pd.Timedelta(days=2)],
            "amount": [1000.0, 3.0],
        }
    )
    pay = pd.concat([pay, extra_pay], ignore_index=True)

    ev = p.events.copy()
    ev = ev[~after(ev, "event_date")].reset_index(drop=True)
    extra_ev = pd.DataFrame(
        {
            "debtor_id": pd.array(["d0", "d1", "d2"], dtype="string"),
            "event_date": [cut + pd.Timedelta(days=1)] * 3,
            "kind": pd.array(["insolvency", "write_off", "agency_placement"], dtype="string"),
            "amount": [np.nan] * 3,
        }
    )
    ev = pd.concat([ev, extra_ev], ignore_index=True)
    return Portfolio(invoices=inv, payments=pay, events=ev, debtors=p.debtors)


def _exists(p: Portfolio, T: pd.Timestamp) -> bool:
    issued = (p.invoices["issue_date"] <= T).any()
    onboarded = p.debtors is not None and (p.debtors["onboarded_on"] <= T).any()
    return bool(issued or onboarded)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_features_ignore_rows_after_as_of(case: tuple[Portfolio, pd.Timestamp, int]) -> None:
    p, T, seed = case
    if not _exists(p, T) or (p.invoices.empty and p.payments.empty):
        return
    before = build_features(p, [T])
    after = build_features(cut_and_scramble(p, T, seed), [T])
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_labels_use_only_the_horizon(case: tuple[Portfolio, pd.Timestamp, int]) -> None:
    p, T, seed = case
    if not _exists(p, T) or (p.invoices.empty and p.payments.empty):
        return
    until = START + pd.Timedelta(days=SPAN + 60)
    horizon_end = T + pd.Timedelta(days=DEFINITION.horizon_days)
    before = build_labels(p, [T], DEFINITION, observed_until=until)
    after = build_labels(cut_and_scramble(p, horizon_end, seed), [T], DEFINITION, observed_until=until)
    pd.testing.assert_frame_equal(before, after)
    # the in-default flag is judged from rows dated <= T only
    flags = build_labels(cut_and_scramble(p, T, seed), [T], DEFINITION, observed_until=until)
    pd.testing.assert_series_equal(before["in_default_at_asof"], flags["in_default_at_asof"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_features_do_not_depend_on_row_order(case: tuple[Portfolio, pd.Timestamp, int]) -> None:
    p, T, seed = case
    if not _exists(p, T) or (p.invoices.empty and p.payments.empty):
        return
    shuffled = Portfolio(
        invoices=p.invoices.sample(frac=1.0, random_state=seed % 2**32),
        payments=p.payments.sample(frac=1.0, random_state=seed % 2**32),
        events=p.events,
        debtors=p.debtors,
    )
    pd.testing.assert_frame_equal(build_features(p, [T]), build_features(shuffled, [T]))


def test_pay_date_rows_of_an_invoice_cleared_after_t_with_cash_paid_before_it() -> None:
    """s17-review: a payment paid before T and applied to its invoice after T (``allocated_on``) is
    cash on account at T, so its invoice is open at T; the pay-date model's training rows and
    evaluation must then see the invoice settled when it was applied, after T. Debtor D1: I1 (issued
    2024-01-05, due 02-04, 500.00), I2 (issued 02-01, due 03-02, 300.00); P1 (paid 2024-02-10,
    300.00) applied to I2 on 2024-03-15. At T = 2024-02-29 P1 sits on I1 (oldest first): I1 200.00
    and I2 300.00 open. Before: settled on 02-10 (P1's paid day, < T) as judged at the cut, so I2
    was 'never paid' in training (8 zero weeks) and its evaluation days were -19. By hand: I2 settled
    on 2024-03-15, 15 days after T: label 1 in week (15 - 1) // 7 = 2 (0-based), so 3 rows;
    evaluation 15 days; I1 never settled: 8 zero weeks, NaN days. Without allocated_on, P1 is on I2
    from 02-10: I2 not open at T (one invoice)."""
    from features.ledger import day_number, prepare_ledger
    from features.paydate import evaluation_invoices, training_rows

    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array(["I1", "I2"], dtype="string"),
            "debtor_id": pd.array(["D1", "D1"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-01-05", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-02-04", "2024-03-02"]),
            "amount": [500.0, 300.0],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": pd.array(["P1"], dtype="string"),
            "debtor_id": pd.array(["D1"], dtype="string"),
            "invoice_id": pd.array(["I2"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-02-10"]),
            "allocated_on": pd.to_datetime(["2024-03-15"]),
            "amount": [300.0],
        }
    )
    T, cut = (int(day_number(pd.Timestamp(d))) for d in ("2024-02-29", "2024-06-30"))
    ledger = prepare_ledger(Portfolio(invoices=invoices, payments=payments))
    ev = evaluation_invoices(ledger, T, cut, 8).sort_values("pos")
    assert ev["pos"].tolist() == [0, 1]  # I1, I2 (sorted by issue day)
    np.testing.assert_array_equal(ev["actual_days"].to_numpy(), [np.nan, 15.0])
    rows = training_rows(ledger, [T], cut, 8)
    i1, i2 = rows[rows["row"] == 0], rows[rows["row"] == 1]
    assert i1["label"].tolist() == [0] * 8
    assert i2["label"].tolist() == [0, 0, 1] and i2["settled_day"].tolist() == [0, 0, 15]

    plain = prepare_ledger(Portfolio(invoices=invoices, payments=payments.drop(columns="allocated_on")))
    assert evaluation_invoices(plain, T, cut, 8)["pos"].tolist() == [0]
