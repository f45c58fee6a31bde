"""The roll-rate horizon of a statements book (BENCHMARKS.md s25-level).

A statements book is in default only on a statement's period end, so the 90-day label of a
month-end sees 2 statements at most month-ends: the matrix goes to the power 2 there, 3 on an
invoice book. Every expectation is computed by hand from the book below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.statements import with_statement_dpd
from models.rollrate import RollRateModel, RollRateParams, horizon_steps, statement_book

ENDS = pd.date_range("2024-01-31", periods=6, freq="ME")
# days past due at each month-end (None: in default; 95 days past due)
BOOK = {
    "C": [0, 0, 0, 0, 0, 0],  # current -> current 5 times
    "A": [15, 15, 45],  # 1-30 -> 1-30, 1-30 -> 31-60
    "B": [45, 45, 75],  # 31-60 -> 31-60, 31-60 -> 61-89
    "D": [75, 75, None],  # 61-89 -> 61-89, 61-89 -> default
}
# prior almost 0: the matrix is the counts' shares. Per state, half stays and half rolls one bucket on:
#   1-30:  0.5 stay, 0.5 -> 31-60;  31-60: 0.5 stay, 0.5 -> 61-89;  61-89: 0.5 stay, 0.5 -> default
PARAMS = RollRateParams(horizon_days=90, prior_strength=1e-9, pd_floor=1e-4, pd_ceiling=0.9999)


def frame(dpd_column: str, invoices: bool) -> pd.DataFrame:
    rows = []
    for debtor, dpds in BOOK.items():
        for t, dpd in zip(ENDS, dpds, strict=False):
            row = {
                "debtor_id": debtor,
                "as_of": t,
                dpd_column: 95.0 if dpd is None else float(dpd),
                "in_default_at_asof": dpd is None,
                # D defaults at the third month-end: its two rows before it are followed by a default
                "label": pd.NA if dpd is None else int(debtor == "D"),
            }
            if invoices:
                row["open_invoice_count"] = 1.0
            rows.append(row)
    out = pd.DataFrame(rows)
    return out.assign(label=out["label"].astype("Int64"))


def test_steps_in_the_horizon_by_hand() -> None:
    # invoices: the horizon's months, round(days / 30.4375)
    assert [horizon_steps(h) for h in (30, 90, 180, 365)] == [1, 3, 6, 12]
    # statements, 90 days: Jan 31 + 90 = May 1 sees Feb 28, Mar 31, Apr 30 (3); Feb 28 + 90 = May 29
    # sees Mar 31, Apr 30 (2); likewise 2 after the ends of Feb..Oct, 3 after Nov, Dec, Jan -> 2
    # 180 days: Jan 31 + 180 = Jul 30 sees Feb..Jun (5), Jun 30 + 180 = Dec 27 sees Jul..Nov (5) -> 5
    assert [horizon_steps(h, statements=True) for h in (30, 90, 180, 365)] == [1, 2, 5, 12]


def test_statements_book_is_recognised_before_and_after_the_alias() -> None:
    st = frame("st_dpd_last", invoices=False)
    assert statement_book(st) and statement_book(with_statement_dpd(st))
    assert not statement_book(frame("dpd_current_max", invoices=True))


def test_statements_book_reaches_default_within_two_statements() -> None:
    st = with_statement_dpd(frame("st_dpd_last", invoices=False))
    model = RollRateModel(PARAMS).fit(st)
    assert model.months_ == 2
    # 2 steps: 1-30 cannot reach default (3 buckets away) -> the floor; 31-60 -> 61-89 -> default
    # = 0.5 x 0.5; 61-89: 1 - 0.5^2
    np.testing.assert_allclose(model.pd_, [1e-4, 1e-4, 0.25, 0.75], atol=1e-6)
    scored = st.loc[st["as_of"] == ENDS[1], ["dpd_current_max"]].assign(in_default_at_asof=False)
    np.testing.assert_allclose(model.predict_proba(scored)[:, 1], [1e-4, 1e-4, 0.25, 0.75], atol=1e-6)


def test_invoice_book_keeps_three_months() -> None:
    model = RollRateModel(PARAMS).fit(frame("dpd_current_max", invoices=True))
    assert model.months_ == 3
    # 3 steps: 1-30: 0.5^3; 31-60: 0.5^2 (by step 2) + 2 x 0.5^3 (a stay, then the 2 rolls) = 0.5;
    # 61-89: 1 - 0.5^3
    np.testing.assert_allclose(model.pd_, [1e-4, 0.125, 0.5, 0.875], atol=1e-6)


@pytest.mark.parametrize("invoices", [False, True])
def test_the_reason_words_keep_the_label_horizon(invoices: bool) -> None:
    column = "dpd_current_max" if invoices else "st_dpd_last"
    model = RollRateModel(PARAMS).fit(with_statement_dpd(frame(column, invoices)))
    # the words count the label's outcomes, whose horizon is 90 days on either ledger: at 61-89, D's
    # Jan 31 and Feb 29 rows (label 1) and B's Mar 31 row (label 0; Mar 31 + 90 = Jun 29, known by Jun 30)
    assert model.reason(3).endswith(
        "of the 3 times a debtor of this book was in that state at a month-end, 2 were followed by a "
        "default within 3 months"
    )


def mixed_frame() -> pd.DataFrame:
    """The book above as a book with invoices and statements (``open_invoice_count`` on every row): A and
    B are past due on their statements alone (no invoice overdue: ``dpd_current_max`` NaN, their days in
    ``st_dpd_last``); C and D on their invoices (no statement: ``st_dpd_last`` NaN)."""
    rows = frame("dpd_current_max", invoices=True)
    on_statement = rows["debtor_id"].isin(["A", "B"])
    return rows.assign(
        st_dpd_last=rows["dpd_current_max"].where(on_statement),
        dpd_current_max=rows["dpd_current_max"].mask(on_statement),
    )


def test_a_mixed_book_reads_the_days_of_either_account() -> None:
    """By hand: read the higher of the two accounts' days, the mixed book has the moves of the invoice
    book above (1-30: 0.125, 31-60: 0.5, 61-89: 0.875, three monthly steps). Before session 39 the states
    under ``min_open_amount`` 0 read ``dpd_current_max`` alone: A's and B's six rows were ``current``
    (A's 45 days and B's 75 days too), so 1-30 and 31-60 had no move (the prior's 0.159 each) and 61-89
    held D's alone; the rows below scored 1e-4, 0.159, 0.159 (1-30: the invoice's 20 days), 1e-4."""
    model = RollRateModel(PARAMS).fit(mixed_frame())
    assert model.months_ == 3
    np.testing.assert_allclose(model.pd_, [1e-4, 0.125, 0.5, 0.875], atol=1e-6)
    assert "st_dpd_last" in list(model.feature_names_in_)
    scored = pd.DataFrame(
        {"dpd_current_max": [np.nan, 15.0, 20.0, np.nan], "st_dpd_last": [45.0, np.nan, 75.0, np.nan]}
    )
    # 45 days on the statement: 31-60; 15 on the invoice: 1-30; 20 / 75: the higher, 61-89; none: current
    np.testing.assert_allclose(model.predict_proba(scored)[:, 1], [0.5, 0.125, 0.875, 1e-4], atol=1e-6)


def test_a_statements_book_keeps_its_one_dpd_input() -> None:
    """A statements book (no invoice feature) reads its statements' days through the alias alone, as
    before: no second DPD input in the model."""
    model = RollRateModel(PARAMS).fit(with_statement_dpd(frame("st_dpd_last", invoices=False)))
    assert list(model.feature_names_in_) == ["dpd_current_max"]
