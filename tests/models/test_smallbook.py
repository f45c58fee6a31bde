"""The small-book rule (``models.smallbook``): roll-rate model or a feature model, on pooled folds.

The decision is checked on hand-built fold figures; the roll-rate side of the folds on the 4-debtor
book of ``test_rollrate.py``, whose PDs are computed by hand (horizon 1 month, prior 10 moves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.rollrate import RollRateModel
from models.smallbook import SmallBookChoice, choose_small_book, rollrate_on_folds
from tests.models.test_rollrate import PARAMS, book


@pytest.mark.parametrize(
    ("logloss", "auc", "expected", "says"),
    [
        ((-0.010, -0.002), (-0.05, +0.08), "feature", "LightGBM has the lower log-loss"),
        ((-0.010, -0.002), (+0.01, +0.08), "feature", "LightGBM has the lower log-loss"),
        ((-0.010, -0.002), (-0.09, -0.01), "rollrate", "the measures disagree"),
        ((+0.001, +0.009), (+0.01, +0.08), "rollrate", "the roll-rate model has the lower log-loss"),
        ((-0.004, +0.003), (+0.01, +0.08), "feature", "log-loss tied; LightGBM ranks better"),
        ((-0.004, +0.003), (-0.08, -0.01), "rollrate", "log-loss tied; the roll-rate model ranks better"),
        ((-0.004, +0.003), (-0.02, +0.08), "rollrate", "no clear winner, so the simpler roll-rate model"),
        # an interval touching 0 is not clear
        ((-0.010, 0.0), (0.0, +0.08), "rollrate", "no clear winner"),
    ],
)
def test_the_rule_on_hand_built_fold_figures(logloss, auc, expected, says) -> None:
    point = {"logloss": (logloss[0] + logloss[1]) / 2, "auc": (auc[0] + auc[1]) / 2}
    choice, reason = choose_small_book({"logloss": logloss, "auc": auc}, point, "lightgbm")
    assert choice == expected
    assert reason.startswith(says), reason
    assert "(LightGBM - roll-rate, 95% debtor bootstrap)" in reason
    assert f"[{logloss[0]:+.4f}, {logloss[1]:+.4f}]" in reason and f"[{auc[0]:+.4f}, {auc[1]:+.4f}]" in reason


def test_the_scorecard_is_named_when_it_is_the_feature_model() -> None:
    choice, reason = choose_small_book(
        {"logloss": (-0.01, -0.001), "auc": (-0.01, 0.02)}, {"logloss": -0.005, "auc": 0.005}, "scorecard"
    )
    assert choice == "feature" and reason.startswith("the scorecard has the lower log-loss")


def _fold_rows() -> pd.DataFrame:
    march, april = pd.Timestamp("2024-03-31"), pd.Timestamp("2024-04-30")
    return pd.DataFrame(
        {
            "fold": [0, 0, 0, 1, 1],
            "debtor_id": ["A", "B", "C", "A", "C"],
            "as_of": [march, march, march, april, april],
            "y": [0, 1, 0, 0, 0],
        }
    )


def test_each_fold_gets_the_rollrate_model_fitted_on_the_moves_known_at_its_first_month_end() -> None:
    frame = book()
    p = rollrate_on_folds(frame, _fold_rows(), PARAMS)
    # fold 0 (first month-end 2024-03-31): moves Jan->Feb and Feb->Mar only. current: 3 stay + 1 to
    # 1-30; 1-30: 1 to 31-60; 31-60: 1 to 61-89; 61-89: 1 to default (D); pooled row (3,1,1,1,1)/7.
    # Horizon 1 month: PD = (to default + 10 x 1/7) / (moves + 10)
    current, b61 = (10 / 7) / 14, (1 + 10 / 7) / 11
    b1 = (10 / 7) / 11
    np.testing.assert_allclose(p[:3], [b1, b61, current], rtol=1e-9)  # A at 10 DPD, B at 75, C current
    # fold 1 (2024-04-30) also counts the Mar->Apr moves: its own model
    rows = frame[(frame["as_of"] == "2024-04-30") & frame["debtor_id"].isin(["A", "C"])]
    expected = RollRateModel(PARAMS).fit(frame, as_of="2024-04-30").predict_proba(rows)[:, 1]
    np.testing.assert_allclose(p[3:], expected, rtol=1e-12)


def test_a_fold_never_sees_a_month_end_after_its_first_one() -> None:
    before = rollrate_on_folds(book(), _fold_rows(), PARAMS)
    later = book()
    # scramble everything dated after fold 0's first month-end: fold 0 must not move
    april = later["as_of"] == pd.Timestamp("2024-04-30")
    later.loc[april, "dpd_current_max"] = [80.0, 95.0, 85.0, 75.0]
    later.loc[april, "in_default_at_asof"] = [False, True, False, False]
    after = rollrate_on_folds(later, _fold_rows(), PARAMS)
    np.testing.assert_array_equal(before[:3], after[:3])
    assert not np.allclose(before[3:], after[3:])


def test_the_record_for_mlflow() -> None:
    rows = _fold_rows().assign(pd_feature=0.1, pd_rollrate=0.2)
    choice = SmallBookChoice(
        "feature",
        "why",
        False,
        15,
        feature_kind="lightgbm",
        intervals={"logloss": (-0.02, -0.01), "auc": (0.0, 0.1)},
        point={"logloss": -0.015, "auc": 0.05},
        rows=rows,
    )
    rec = choice.record()
    assert rec["small_book_choice"] == "feature" and rec["small_book_feature_kind"] == "lightgbm"
    assert (
        rec["small_book_folds"] == 2
        and rec["small_book_fold_rows"] == 5
        and rec["small_book_fold_defaults"] == 1
    )
    assert rec["feature_minus_rollrate_folds_logloss_ci_high"] == -0.01
    floor = SmallBookChoice("rollrate", "too small", True, 15).record()
    assert floor == {
        "small_book_choice": "rollrate (floor)",
        "small_book_min_defaults": 15,
        "small_book_feature_kind": "none",
    }
