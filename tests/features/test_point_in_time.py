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
