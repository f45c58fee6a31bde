"""The roll-rate model's ``silent`` state (session 18): which debtor is silent at a month-end, read
from the real feature engine on a hand-built ledger (dates either side of the limits; a payment
after T changes nothing), and the state's transition row and PD on a tiny panel, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from models.rollrate import (
    SILENT_FEATURES,
    RollRateModel,
    RollRateParams,
    reason_frame,
    state_names,
    states_in,
    transition_counts,
)
from tests.features.ledgers import inv, pay, portfolio

T = pd.Timestamp("2024-06-30")
# 1-month horizon: the panel's outcomes below are known by its last month-end
SILENT = RollRateParams(
    horizon_days=30,
    silent=True,
    silent_payment_days=45,
    silent_invoice_days=30,
    silent_invoice_gaps=2.0,
    within_state=(),
    silent_as="state",
)
# the product's default: the overlay (a silent debtor gets the higher of its PD and the state model's)
OVERLAY = RollRateParams(**{**SILENT.__dict__, "silent_as": "overlay"})


def _regular(debtor: str, last_issue: str, paid_on: str | None, later: list[dict] = ()) -> tuple[list, list]:
    """11 invoices every 10 days from 2024-01-05 (30-day terms) and one issued ``last_issue``: the
    first 9 paid in full on ``paid_on`` (None: never paid), the 10th (due 2024-05-04) and 11th (due
    2024-05-14) open, so 57 days past due at T with 2 invoices overdue; tenure 177 days, 12 invoices
    in it: usual gap 14.75 days, 2 gaps 29.5, so the 30-day minimum binds."""
    invoices, payments = [], []
    for k in range(11):
        issue = pd.Timestamp("2024-01-05") + pd.Timedelta(days=10 * k)
        invoices.append(
            inv(f"{debtor}{k}", debtor, str(issue.date()), str((issue + pd.Timedelta(days=30)).date()), 100)
        )
        if k < 9 and paid_on is not None:
            payments.append(pay(f"{debtor}p{k}", debtor, paid_on, 100, f"{debtor}{k}"))
    last = pd.Timestamp(last_issue)
    invoices.append(inv(f"{debtor}L", debtor, last_issue, str((last + pd.Timedelta(days=30)).date()), 100))
    return invoices, payments + list(later)


def _ledger() -> pd.DataFrame:
    parts = [
        _regular("A", "2024-05-31", "2024-05-16"),  # 45 days without a payment, 30 without an invoice
        _regular("B", "2024-05-31", "2024-05-17"),  # 44 days without a payment
        _regular("C", "2024-06-01", "2024-05-16"),  # 29 days without an invoice
        # A's ledger plus a payment after T: still silent, the same features
        _regular("D", "2024-05-31", "2024-05-16", [pay("Dlate", "D", "2024-07-10", 100, "D9")]),
    ]
    invoices = [i for p in parts for i in p[0]]
    payments = [x for p in parts for x in p[1]]
    # E never paid: 3 invoices on 2024-04-04 (due 2024-05-04): tenure 87 days, gap 29, 2 gaps 58
    invoices += [inv(f"E{k}", "E", "2024-04-04", "2024-05-04", 100) for k in range(3)]
    # F orders seldom: 3 invoices in 177 days (gap 59, 2 gaps 118), the last 87 days ago; the
    # first two paid on 2024-04-01 (90 days): silent by the 30-day minimum alone, not by its own gap
    invoices += [
        inv("F0", "F", "2024-01-05", "2024-02-04", 100),
        inv("F1", "F", "2024-03-05", "2024-04-04", 100),
        inv("F2", "F", "2024-04-04", "2024-05-04", 100),
    ]
    payments += [pay("Fp0", "F", "2024-04-01", 100, "F0"), pay("Fp1", "F", "2024-04-01", 100, "F1")]
    # G: A's ledger with the 10th and 11th invoices paid too: nothing overdue, so current, not silent
    g_inv, g_pay = _regular("G", "2024-05-31", "2024-05-16")
    g_pay += [pay("Gp9", "G", "2024-05-16", 100, "G9"), pay("Gp10", "G", "2024-05-16", 100, "G10")]
    return build_features(portfolio(invoices + g_inv, payments + g_pay), [T]).set_index("debtor_id")


def test_the_silent_state_on_a_hand_built_ledger() -> None:
    f = _ledger()
    expected = {  # days without a payment, days without an invoice, invoices of the year, tenure, DPD
        "A": (45, 30, 12, 177, 57),
        "B": (44, 30, 12, 177, 57),
        "C": (45, 29, 12, 177, 57),
        "D": (45, 30, 12, 177, 57),
        "E": (np.nan, 87, 3, 87, 57),
        "F": (90, 87, 3, 177, 57),
        "G": (45, 30, 12, 177, 0),
    }
    got = f.loc[list(expected), ["days_since_last_payment", "days_since_last_invoice", "invoice_count_365d"]]
    got = got.assign(tenure=f["tenure_days"], dpd=f["dpd_current_max"])
    np.testing.assert_array_equal(got.to_numpy(), np.array(list(expected.values()), dtype="float64"))
    assert f.loc["A", "overdue_invoice_count"] == 2 and f.loc["E", "overdue_invoice_count"] == 3

    states = dict(zip(f.index, states_in(f, RollRateModel(SILENT).fit(_panel())), strict=True))
    assert states == {
        "A": "silent",
        "B": "31-60 days past due",  # 44 < 45 days without a payment
        "C": "31-60 days past due",  # 29 < 30 days without an invoice
        "D": "silent",  # the payment of 2024-07-10 is after T
        "E": "silent",  # never paid in its 87 days, 87 >= 2 x 29 days without an invoice
        "F": "31-60 days past due",  # 87 < 2 x 59 days: its own rhythm
        "G": "current",  # nothing overdue
    }
    # the 30-day minimum alone (no usual gap) makes F silent too; off, nobody is
    alone = RollRateParams(**{**SILENT.__dict__, "silent_invoice_gaps": 0.0})
    assert states_in(f.loc[["F"]], RollRateModel(alone).fit(_panel())) == ["silent"]
    off = RollRateModel(RollRateParams(within_state=())).fit(_panel())
    assert "silent" not in states_in(f, off) and "silent" not in off.states_

    # the reason in the debtor's own figures
    model = RollRateModel(SILENT).fit(_panel())
    reasons = reason_frame(model, f.loc[["A", "E"]])
    assert reasons.loc[0, "reason"].startswith(
        "silent: no payment for 45 days and no new invoice for 30 days while 2 invoices are overdue "
        "(oldest 57 days past due); of the 3 times a debtor of this book was in that state at a month-end, "
        "1 was followed by a default within 1 month"
    )
    assert reasons.loc[1, "reason"].startswith(
        "silent: no payment in its 87 days as a customer and no new invoice for 87 days while 3 invoices"
    )


ENDS = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"])
# per debtor: days past due per month-end (None: in default), silent or not, label (1-month horizon)
PANEL = {
    "A": ([0, 10, 40, 0], [0, 0, 1, 0], [0, 0, 0, None]),
    "B": ([20, 50, 55, None], [0, 1, 1, 0], [0, 0, 1, None]),
    "C": ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, None]),
    "D": ([15, 45, 75, None], [0, 0, 0, 0], [0, 0, 1, None]),
}


def _panel() -> pd.DataFrame:
    rows = []
    for debtor, (dpds, quiet, labels) in PANEL.items():
        for t, dpd, q, label in zip(ENDS, dpds, quiet, labels, strict=True):
            rows.append(
                {
                    "debtor_id": debtor,
                    "as_of": t,
                    "dpd_current_max": 95.0 if dpd is None else float(dpd),
                    "in_default_at_asof": dpd is None,
                    "label": label,
                    # silent: 60 days without a payment, 90 without an invoice (2 usual gaps of
                    # 365 / 12 days: 60.8); else 5 days
                    "days_since_last_payment": 60.0 if q else 5.0,
                    "tenure_days": 400.0,
                    "days_since_last_invoice": 90.0 if q else 5.0,
                    "invoice_count_365d": 12.0,
                    "overdue_invoice_count": 2.0 if (dpd or 0) > 0 else 0.0,
                }
            )
    frame = pd.DataFrame(rows)
    return frame.assign(label=frame["label"].astype("Int64"))


def test_the_silent_transition_row_and_pd_by_hand() -> None:
    params = RollRateParams(**{**SILENT.__dict__, "prior_strength": 12.0})
    names = state_names(params)
    assert names == [
        "current",
        "1-30 days past due",
        "31-60 days past due",
        "61-89 days past due",
        "silent",
        "default",
    ]
    # states: A 0,1,4,0  B 1,4,4,5 (50 and 55 days past due, silent)  C 0,0,0,0  D 1,2,3,5
    expected = np.zeros((6, 6), dtype=int)
    expected[0, 0] = 3  # C three times
    expected[0, 1] = 1  # A
    expected[1, 4] = 2  # A (10 -> 40 silent), B (20 -> 50 silent)
    expected[1, 2] = 1  # D
    expected[4, 0] = 1  # A pays up: silent -> current
    expected[4, 4] = 1  # B stays silent
    expected[4, 5] = 1  # B silent -> default
    expected[2, 3] = 1  # D
    expected[3, 5] = 1  # D
    np.testing.assert_array_equal(transition_counts(_panel(), params), expected)
    # pooled row over the 12 moves: (4, 1, 1, 1, 3, 2) / 12; prior 12 pseudo-moves = those counts
    model = RollRateModel(params).fit(_panel())
    silent_row = np.array([1 + 4, 0 + 1, 0 + 1, 0 + 1, 1 + 3, 1 + 2]) / (3 + 12)
    np.testing.assert_allclose(model.matrix_[4], silent_row, atol=1e-12)
    # 1-month PDs: current 2/16, 1-30 2/15, 31-60 2/13, 61-89 3/13 (already non-decreasing), silent
    # 3/15 = 0.2: below 61-89's 0.2308 and left there (silent is outside the monotone order; pooled
    # into the chain it would be the weighted mean of the two)
    np.testing.assert_allclose(model.pd_, [2 / 16, 2 / 15, 2 / 13, 3 / 13, 3 / 15], atol=1e-12)
    # observed outcomes in the silent state: A at 2024-03-31 (0), B at 2024-02-29 (0) and 2024-03-31 (1)
    np.testing.assert_array_equal(model.outcomes_[4], [3, 1])
    # the silent features are the model's inputs (the nightly prepares them)
    assert list(model.feature_names_in_) == ["dpd_current_max", *SILENT_FEATURES]


def test_the_last_past_due_bucket_stays_itself() -> None:
    """A silent debtor 70 days past due stays in 61-89 (silent_max_dpd: null = the last edge, 60);
    with silent_max_dpd 89 (session 18's first rule) it is silent; 60 days past due is silent."""
    frame = _panel()
    frame.loc[(frame["debtor_id"] == "B") & (frame["as_of"] == ENDS[2]), "dpd_current_max"] = 70.0
    row = frame[(frame["debtor_id"] == "B") & (frame["as_of"] == ENDS[2])]
    assert states_in(row, RollRateModel(SILENT).fit(frame)) == ["61-89 days past due"]
    v1 = RollRateParams(**{**SILENT.__dict__, "silent_max_dpd": 89})
    assert states_in(row, RollRateModel(v1).fit(frame)) == ["silent"]
    at60 = row.assign(dpd_current_max=60.0)
    assert states_in(at60, RollRateModel(SILENT).fit(frame)) == ["silent"]


def test_the_overlay_only_raises_silent_debtors_by_hand() -> None:
    """Overlay: the model without silence (states A 0,1,2,0; B 1,2,2,5; C 0,0,0,0; D 1,2,3,5; 12
    moves, pooled (4, 1, 4, 1, 2) / 12, prior 12) scores everyone; a silent debtor gets the higher
    of that and the silent state model's PD (above: silent 3/15)."""
    params = RollRateParams(**{**OVERLAY.__dict__, "prior_strength": 12.0})
    model = RollRateModel(params).fit(_panel())
    assert model.states_ == state_names(RollRateParams()) and model.silent_model_ is not None
    # without silence: current (3,1,0,0,0)+prior n 4 -> 2/16; 1-30 (0,0,3,0,0) -> 2/15;
    # 31-60 (1,0,1,1,1) -> 3/16; 61-89 (0,0,0,0,1) -> 3/13
    np.testing.assert_allclose(model.pd_, [2 / 16, 2 / 15, 3 / 16, 3 / 13], atol=1e-12)
    plain = RollRateModel(RollRateParams(**{**params.__dict__, "silent": False})).fit(_panel())
    np.testing.assert_array_equal(model.pd_, plain.pd_)
    march = _panel()[lambda f: f["as_of"] == ENDS[2]].set_index("debtor_id")
    # A (40 days, silent): 3/16 -> 3/15; B (55 days, silent): 3/16 -> 3/15; C, D as without silence
    np.testing.assert_allclose(model.predict_proba(march)[:, 1], [3 / 15, 3 / 15, 2 / 16, 3 / 13], atol=1e-12)
    np.testing.assert_array_equal(model.raised_by_silence(march), [True, True, False, False])
    reasons = reason_frame(model, march)
    assert reasons.loc[0, "value"] == "silent" and reasons.loc[0, "reason"] == (
        "silent: no payment for 60 days and no new invoice for 90 days while 2 invoices are overdue "
        "(oldest 40 days past due); of the 3 times a debtor of this book was in that state at a month-end, "
        "1 was followed by a default within 1 month"
    )
    assert reasons.loc[2, "reason"].startswith("no invoice past due; of the ")
    assert reasons.loc[3, "reason"].startswith("61-89 days past due; of the ")
    # the silent features are inputs of the overlay model too (the nightly prepares them)
    assert list(model.feature_names_in_) == ["dpd_current_max", *SILENT_FEATURES]


def test_a_frame_without_payments_leaves_the_state_out() -> None:
    frame = _panel().drop(columns=["days_since_last_payment"])
    model = RollRateModel(SILENT).fit(frame)
    assert "silent" not in model.states_ and list(model.feature_names_in_) == ["dpd_current_max"]
    overlay = RollRateModel(OVERLAY).fit(frame)
    assert overlay.silent_model_ is None and list(overlay.feature_names_in_) == ["dpd_current_max"]


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="silent_payment_days"):
        RollRateParams(silent=True, silent_payment_days=-1)
