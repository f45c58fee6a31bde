"""The roll-rate model (small books): moves, the smoothed matrix, the horizon PD, no leakage, reasons.

Every expectation is computed by hand from the 4-debtor book below (4 month-ends, horizon 1 month).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.rollrate import (
    RollRateModel,
    RollRateParams,
    RollRateTooSmallError,
    check_book,
    default_rate_known,
    horizon_months,
    horizon_pd,
    reason_frame,
    smoothed_matrix,
    state_names,
    transition_counts,
)

ENDS = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"])
D = True  # in default at the month-end
# per debtor: days past due at each month-end (None: in default), label (1 month horizon)
BOOK = {
    "A": ([0, 0, 10, 40], [0, 0, 0, None]),
    "B": ([15, 45, 75, None], [0, 0, 1, None]),
    "C": ([0, 0, 0, 0], [0, 0, 0, None]),
    "D": ([70, None, None, 0], [1, None, None, None]),
}
# states: 0 current, 1 1-30, 2 31-60, 3 61-89, 4 default
PARAMS = RollRateParams(horizon_days=30, prior_strength=10.0, pd_floor=1e-4, pd_ceiling=0.9999)


def book(extra: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = []
    for debtor, (dpds, labels) in BOOK.items():
        for t, dpd, label in zip(ENDS, dpds, labels, strict=True):
            rows.append(
                {
                    "debtor_id": debtor,
                    "as_of": t,
                    "dpd_current_max": 95.0 if dpd is None else float(dpd),
                    "in_default_at_asof": dpd is None,
                    "label": label,
                }
            )
    frame = pd.DataFrame(rows)
    if extra is not None:
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame.assign(label=frame["label"].astype("Int64"))


def test_states_and_moves_by_hand() -> None:
    assert state_names(PARAMS) == [
        "current",
        "1-30 days past due",
        "31-60 days past due",
        "61-89 days past due",
        "default",
    ]
    assert horizon_months(90) == 3 and horizon_months(30) == 1 and horizon_months(365) == 12
    counts = transition_counts(book(), PARAMS)
    expected = np.zeros((5, 5), dtype=int)
    expected[0, 0] = 4  # A: 0->0 once, C: 0->0 three times
    expected[0, 1] = 1  # A
    expected[1, 2] = 2  # A (10 -> 40), B (15 -> 45)
    expected[2, 3] = 1  # B (45 -> 75)
    expected[3, 4] = 2  # B (75 -> default), D (70 -> default); D's moves out of default are not counted
    np.testing.assert_array_equal(counts, expected)


def test_smoothed_matrix_by_hand() -> None:
    matrix = smoothed_matrix(transition_counts(book(), PARAMS), 10.0)
    # pooled row over the 10 moves: (4, 1, 2, 1, 2) / 10; each row (counts + 10 * pooled) / (n + 10)
    expected = np.array(
        [
            [8 / 15, 2 / 15, 2 / 15, 1 / 15, 2 / 15],  # current: (4,1,0,0,0) + (4,1,2,1,2), n = 5
            [4 / 12, 1 / 12, 4 / 12, 1 / 12, 2 / 12],  # 1-30: (0,0,2,0,0) + prior, n = 2
            [4 / 11, 1 / 11, 2 / 11, 2 / 11, 2 / 11],  # 31-60: (0,0,0,1,0) + prior, n = 1
            [4 / 12, 1 / 12, 2 / 12, 1 / 12, 4 / 12],  # 61-89: (0,0,0,0,2) + prior, n = 2
            [0, 0, 0, 0, 1],  # default is absorbing
        ]
    )
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-12)
    # no PD is 0 or 1: the current row never moved to default but gets 2/15 from the prior
    model = RollRateModel(PARAMS).fit(book())
    np.testing.assert_allclose(model.pd_, [2 / 15, 2 / 12, 2 / 11, 4 / 12], atol=1e-12)


def test_horizon_pd_by_hand() -> None:
    matrix = np.array([[0.9, 0.08, 0.02], [0.5, 0.3, 0.2], [0.0, 0.0, 1.0]])
    # 2 months from state 0: 0.02 now, or 0.9 * 0.02 + 0.08 * 0.2 the month after = 0.054
    # from state 1: 0.2 + 0.5 * 0.02 + 0.3 * 0.2 = 0.27
    np.testing.assert_allclose(horizon_pd(matrix, 2), [0.054, 0.27], atol=1e-12)
    np.testing.assert_allclose(horizon_pd(matrix, 1), [0.02, 0.2], atol=1e-12)
    # floor and ceiling: a state that never defaults (prior from a book without defaults) is floored
    params = RollRateParams(horizon_days=30, pd_floor=0.01, pd_ceiling=0.3)
    model = RollRateModel(params).fit(book())
    np.testing.assert_allclose(model.pd_, [2 / 15, 2 / 12, 2 / 11, 0.3], atol=1e-12)


def test_a_month_end_after_the_as_of_date_changes_nothing() -> None:
    cut = ENDS[2]
    before = RollRateModel(PARAMS).fit(book(), as_of=cut)
    # moves known by 2024-03-31: A 0->0, 0->1; B 1->2, 2->3; C 0->0 twice; D 3->4
    assert before.counts_[:4].sum() == 7 and before.counts_[0, 0] == 3 and before.counts_[3, 4] == 1
    later = pd.DataFrame(
        {
            "debtor_id": ["A", "B", "C", "D", "E"],
            "as_of": pd.Timestamp("2024-05-31"),
            "dpd_current_max": [80.0, 95.0, 50.0, 0.0, 0.0],
            "in_default_at_asof": [False, True, False, False, False],
            "label": [None] * 5,
        }
    )
    after = RollRateModel(PARAMS).fit(book(later), as_of=cut)
    np.testing.assert_array_equal(after.counts_, before.counts_)
    np.testing.assert_array_equal(after.pd_, before.pd_)
    np.testing.assert_array_equal(after.outcomes_, before.outcomes_)
    # and the full fit does see the later month-end: A 40 -> 80 is a move 31-60 -> 61-89
    full = RollRateModel(PARAMS).fit(book(later))
    assert full.counts_[2, 3] == before.counts_[2, 3] + 1  # A: 40 -> 80


def test_scores_and_reasons_are_by_state() -> None:
    model = RollRateModel(PARAMS).fit(book())
    X = pd.DataFrame({"dpd_current_max": [0.0, 20.0, 60.0, 61.0, np.nan]}, index=list("vwxyz"))
    np.testing.assert_allclose(
        model.predict_proba(X)[:, 1], [2 / 15, 2 / 12, 2 / 11, 4 / 12, 2 / 15], atol=1e-12
    )
    # month-ends whose 1-month horizon ended by 2024-04-30, per state:
    # 61-89: B at 2024-03-31 and D at 2024-01-31, both followed by a default -> 2 of 2
    reasons = reason_frame(model, X)
    assert reasons.loc[3, "reason"] == (
        "61-89 days past due; of the 2 times a debtor of this book was in that state at a month-end, "
        "2 were followed by a default within 1 month"
    )
    # 1-30: A at 2024-03-31, B at 2024-01-31; current: A twice, C three times; no default followed
    assert reasons.loc[1, "reason"].startswith("1-30 days past due; of the 2 times a debtor")
    assert reasons.loc[0, "reason"].startswith("no invoice past due; of the 5 times a debtor")
    assert reasons.loc[0, "reason"].endswith(", 0 were followed by a default within 1 month")
    # log-odds against the book's mean PD at the latest month-end: A 31-60, C current, D current
    base = (2 / 11 + 2 / 15 + 2 / 15) / 3
    assert model.base_pd_ == pytest.approx(base)
    assert reasons.loc[3, "contribution"] == pytest.approx(np.log(0.5) - np.log(base / (1 - base)))
    assert list(reasons["row"]) == list("vwxyz") and (reasons["rank"] == 1).all()


def test_split_current_by_a_flag() -> None:
    params = RollRateParams(horizon_days=30, split_current="dpd_max_90d")
    frame = book().assign(dpd_max_90d=lambda f: f.groupby("debtor_id")["dpd_current_max"].cummax())
    assert state_names(params)[:2] == ["current", "current, late recently"]
    counts = transition_counts(frame, params)
    # D's 0 at 2024-04-30 follows a default (not counted); A and C stay clean while current
    assert counts[0, 0] == 4 and counts[1].sum() == 0 and counts[0, 2] == 1
    model = RollRateModel(params).fit(frame)
    assert model.reason(1).startswith(
        "no invoice past due now, but past due at some point in the last 90 days"
    )


def test_below_the_minimum_the_book_is_refused_with_counts() -> None:
    assert check_book(
        book(), RollRateParams(min_months=4, min_transitions=10, min_default_transitions=2)
    ) == {
        "months": 4,
        "moves": 10,
        "moves_to_default": 2,
    }
    with pytest.raises(
        RollRateTooSmallError, match=r"4 month-ends \(need >= 6\), 10 month-end moves \(need >= 200\)"
    ):
        check_book(book(), RollRateParams())
    with pytest.raises(RollRateTooSmallError, match=r"2 moves into default \(need >= 3\)"):
        check_book(book(), RollRateParams(min_months=4, min_transitions=10))
    with pytest.raises(ValueError, match="rollrate.split_current: 'late_flag' is not a feature column"):
        check_book(book(), RollRateParams(split_current="late_flag"))


def test_pds_never_fall_from_one_past_due_state_to_the_next() -> None:
    """s11-small: on a 100-debtor book 'current' got a higher PD than '1-30 days past due' (0.24 %
    vs 0.22 %), and on short histories whole matrices ranked backwards (forward AUC 0.31-0.45)."""
    from models.rollrate import monotone_pd

    # pool-adjacent-violators by hand: (0.0024 x 863 + 0.0022 x 1430) / 2293 = 0.00227527...
    np.testing.assert_allclose(
        monotone_pd(np.array([0.0024, 0.0022, 0.024]), np.array([863.0, 1430.0, 257.0])),
        [5.2172 / 2293, 5.2172 / 2293, 0.024],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        monotone_pd(np.array([0.03, 0.01, 0.02, 0.5]), np.ones(4)), [0.02, 0.02, 0.02, 0.5]
    )
    # one move per debtor, 1-month horizon: current (3 stay, 1 defaults), 1-30 (4 cure), 31-60 -> 61-89,
    # 61-89 -> default; pooled row (7, 0, 0, 1, 2) / 10, prior 10
    moves = [(0, 0)] * 3 + [(0, None)] + [(15, 0)] * 4 + [(40, 70), (70, None)]
    frame = pd.DataFrame(
        [
            {"debtor_id": f"X{i}", "as_of": t, "dpd_current_max": 95.0 if d is None else float(d),
             "in_default_at_asof": d is None, "label": pd.NA}
            for i, pair in enumerate(moves)
            for t, d in zip(ENDS[:2], pair, strict=True)
        ]
    ).assign(label=lambda f: f["label"].astype("Int64"))  # fmt: skip
    free = RollRateModel(RollRateParams(horizon_days=30, monotone=False)).fit(frame)
    # current (1 + 10 x 0.2) / 14 = 3/14 above 1-30 (0 + 2) / 14; 31-60 2/11; 61-89 (1 + 2) / 11
    np.testing.assert_allclose(free.pd_, [3 / 14, 2 / 14, 2 / 11, 3 / 11], atol=1e-12)
    shipped = RollRateModel(RollRateParams(horizon_days=30)).fit(frame)
    # current and 1-30 pooled with weights 4 + 10 each: 5/28 (< 2/11, so 31-60 stays)
    np.testing.assert_allclose(shipped.pd_, [5 / 28, 5 / 28, 2 / 11, 3 / 11], atol=1e-12)


def test_the_gates_baseline_is_the_default_rate_known_at_the_cut() -> None:
    """The roll-rate gate's baseline (s19): live month-end rows whose 1-month horizon ended by the
    cut. At 2024-03-31: January (A 0, B 0, C 0, D 1 at 70 DPD) and February (A, B, C 0; D in default,
    no label) = 1 default in 7 rows; March's horizon ends 2024-04-30, after the cut. At 2024-04-30
    March counts too (A 0, B 1, C 0): 2 in 10. At 2024-02-29 no horizon has ended: the model's own
    mean PD at the cut."""
    frame = book()
    assert default_rate_known(RollRateModel(PARAMS).fit(frame, as_of="2024-03-31")) == pytest.approx(1 / 7)
    assert default_rate_known(RollRateModel(PARAMS).fit(frame, as_of="2024-04-30")) == pytest.approx(2 / 10)
    early = RollRateModel(PARAMS).fit(frame, as_of="2024-02-29")
    assert default_rate_known(early) == pytest.approx(early.base_pd_)


def test_states_honour_min_open_amount_as_the_labels_do() -> None:
    """s36-minopen: the states read the default definition's ``min_open_amount`` as the in-default flag does.
    By hand: four 1,000.00 invoices due 2024-01-31, received on 02-10 997.00 (3.00 open), 990.00 (10.00,
    exactly the threshold), 989.99 (10.01) and nothing; w owes the same 3.00 rest and 500.00 due 04-30. At
    2024-03-31 every 01-31 invoice is 60 days past due (bucket 31-60, state 2), w's 500.00 not yet due; at
    05-31 121 (>= 90), w's 500.00 31. Threshold 10: the 3.00 and 10.00 debtors are current (state 0) at both
    dates and not in default, the 10.01 and 1,000.00 ones in 31-60 then in default (4); w current, then 31-60
    by its 500.00 (2). Without the threshold in the states (the flags still with it) the 3.00 debtor sat in
    61-89 (3) at 05-31 for good, and w too. A statements book reads the latest balance: 120 days past due
    with a balance of 5.00 -> current; with 500.00 -> 61-89."""
    from features.engine import build_bucket
    from features.params import DefaultDefinition
    from features.statements import with_statement_dpd
    from models.rollrate import assign_states
    from tests.features.ledgers import inv, pay, portfolio

    paid = {"s": 997.0, "t": 990.0, "u": 989.99, "w": 997.0}
    ledger = portfolio(
        [inv(f"{d}1", d, "2024-01-01", "2024-01-31", 1000.0) for d in "stuvw"]
        + [inv("w2", "w", "2024-04-01", "2024-04-30", 500.0)],
        [pay(f"p{d}", d, "2024-02-10", amount, f"{d}1") for d, amount in paid.items()],
    )
    dates = [pd.Timestamp("2024-03-31"), pd.Timestamp("2024-05-31")]
    built = build_bucket(ledger, dates, DefaultDefinition(min_open_amount=10.0))
    frame = built.features.merge(
        built.defaults[["debtor_id", "as_of", "in_default_at_asof"]], on=["debtor_id", "as_of"]
    )
    frame = frame.sort_values(["as_of", "debtor_id"], ignore_index=True)
    assert frame["debtor_id"].tolist() == list("stuvw") * 2
    assert frame["dpd_current_max"].tolist() == [60] * 5 + [121] * 5
    assert frame["dpd_material"].tolist() == [0, 0, 60, 60, 0, 0, 0, 121, 121, 31]
    assert frame["overdue_amount"].round(2).tolist() == [
        3.0,
        10.0,
        10.01,
        1000.0,
        3.0,
        3.0,
        10.0,
        10.01,
        1000.0,
        503.0,
    ]
    assert frame["in_default_at_asof"].tolist() == [False] * 7 + [True, True, False]
    material = RollRateParams(min_open_amount=10.0)
    assert assign_states(frame, material).tolist() == [0, 0, 2, 2, 0, 0, 0, 4, 4, 2]
    assert assign_states(frame, RollRateParams()).tolist() == [2, 2, 2, 2, 2, 3, 3, 4, 4, 3]
    # without the column (e.g. a statements book): whole overdue amount at most the threshold -> current
    assert assign_states(frame.drop(columns="dpd_material"), material).tolist() == [
        0,
        0,
        2,
        2,
        0,
        0,
        0,
        4,
        4,
        3,
    ]
    assert "overdue_amount" in material.feature_names
    assert "overdue_amount" not in RollRateParams().feature_names
    latest = pd.DataFrame({"st_dpd_last": [120.0, 120.0], "st_balance_last": [5.0, 500.0]})
    statements = with_statement_dpd(latest)
    assert assign_states(statements, material).tolist() == [0, 3]


def test_a_statement_without_a_balance_keeps_its_days_in_the_label_the_state_and_the_queue() -> None:
    """s37 (s36-review F1): without a balance the threshold cannot be applied to a statement, so its days past
    due decide alone, in the label, the roll-rate state and the queues' days alike. By hand, threshold 10:
    three accounts 0, 30, 60, 90 days past due at the month-ends 2024-01-31 .. 04-30, balances 5.00, 500.00
    and none. At 03-31 (60 days): s5 states a balance of at most 10, so it is not past due (dpd_material 0,
    state 0, label 0: never in default); s500 and the account without a balance are 31-60 (state 2) and
    default on 04-30 (label 1). Before: the state read an unstated balance as 0, so sna was current (0)
    while its label defaulted. The nightly's queues read the same days (oldest-invoice frame, no invoice):
    s500 and sna at 60, s5 at 0."""
    from features.engine import build_bucket
    from features.params import DefaultDefinition
    from features.statements import with_statement_dpd
    from features.tables import Portfolio
    from models.rollrate import assign_states
    from tests.features.ledgers import statements

    book = Portfolio(
        statements=statements(
            {"s5": 5.0, "s500": 500.0, "sna": None},
            {"2024-01-31": 0, "2024-02-29": 30, "2024-03-31": 60, "2024-04-30": 90},
        )
    )
    built = build_bucket(
        book,
        [pd.Timestamp("2024-03-31")],
        DefaultDefinition(min_open_amount=10.0),
        labels=True,
        observed_until=pd.Timestamp("2024-12-31"),
    )
    frame = with_statement_dpd(built.features.merge(built.defaults, on=["debtor_id", "as_of"]))
    assert frame["debtor_id"].tolist() == ["s5", "s500", "sna"]
    assert frame["label"].tolist() == [0, 1, 1]
    assert frame["dpd_material"].tolist() == [0.0, 60.0, 60.0]
    assert assign_states(frame, RollRateParams(min_open_amount=10.0)).tolist() == [0, 2, 2]
    oldest = built.oldest_open
    assert oldest["debtor_id"].tolist() == ["s500", "sna"] and oldest["dpd_material"].tolist() == [60.0, 60.0]
    assert oldest["oldest_invoice_id"].isna().all()
    # threshold 0: no such column, the stated days everywhere (labels 1, 1, 1; states 2, 2, 2)
    plain = build_bucket(
        book, [pd.Timestamp("2024-03-31")], labels=True, observed_until=pd.Timestamp("2024-12-31")
    )
    assert "dpd_material" not in plain.features and plain.defaults["label"].tolist() == [1, 1, 1]
    assert assign_states(with_statement_dpd(plain.features), RollRateParams()).tolist() == [2, 2, 2]
