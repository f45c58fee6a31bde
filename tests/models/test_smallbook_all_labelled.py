"""A small book's LightGBM fitted on every labelled month-end (``models.smallbook.all_labelled_*``,
``rollrate.all_labelled``): the session-21 rule on hand-built fold figures, the inner folds, and that
no fold's model reads a label that was not known at the fold's first month-end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from models.smallbook import all_labelled_folds, all_labelled_rule, inner_folds, known_at
from models.train import LGBMParams, TrainParams


@pytest.mark.parametrize(
    ("diff", "defaults", "expected", "says"),
    [
        (-0.00005, 25, "feature", "LightGBM has the lower pooled fold log-loss (-0.00005)"),
        (-0.01, 80, "feature", "LightGBM has the lower pooled fold log-loss (-0.01000)"),
        # the floor: 24 defaults are too few whatever the log-loss says
        (-0.01, 24, "rollrate", "the inner folds hold 24 defaults, fewer than 25"),
        (-0.01, 0, "rollrate", "the inner folds hold 0 defaults, fewer than 25"),
        # a tie is not lower
        (0.0, 40, "rollrate", "LightGBM's pooled fold log-loss is not lower (+0.00000)"),
        (+0.002, 40, "rollrate", "LightGBM's pooled fold log-loss is not lower (+0.00200)"),
    ],
)
def test_the_rule_on_hand_built_fold_figures(diff, defaults, expected, says) -> None:
    choice, reason = all_labelled_rule(diff, defaults, 25)
    assert choice == expected
    assert reason.startswith(says), reason


def _ends(n: int) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in pd.date_range("2023-01-31", periods=n, freq="ME")]


def test_inner_folds_are_the_last_labelled_month_ends_in_consecutive_groups() -> None:
    ends = _ends(8)
    frame = pd.DataFrame({"as_of": ends, "label": pd.array([0, 1, 0, 0, 1, 0, None, None], dtype="Int64")})
    # labelled: Jan..Jun 2023; the last 5 in folds of 2: [Feb, Mar], [Apr, May], [Jun]
    assert inner_folds(frame, 5, 2) == [[ends[1], ends[2]], [ends[3], ends[4]], [ends[5]]]
    assert inner_folds(frame, 6, 3) == [ends[0:3], ends[3:6]]


def test_known_at_masks_every_label_whose_horizon_ends_after_the_cut() -> None:
    ends = _ends(6)
    frame = pd.DataFrame(
        {"as_of": ends, "label": pd.array([1] * 6, dtype="Int64"), "horizon_observed": [True] * 6}
    )
    past = known_at(frame, ends[4], 90)  # 2023-05-31: Jan..Feb known (+90 d <= May 31), Mar..May not
    assert list(past["as_of"]) == ends[:5]
    assert past["label"].notna().tolist() == [True, True, False, False, False]
    assert past["horizon_observed"].tolist() == [True, True, False, False, False]


def _synthetic(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ends, debtors = _ends(16), 300
    parts = []
    for t in ends:
        x1, x2 = rng.normal(size=debtors), rng.normal(size=debtors)
        p = 1 / (1 + np.exp(-(-2.5 + 1.2 * x1 - 0.6 * x2)))
        parts.append(
            pd.DataFrame(
                {
                    "debtor_id": [f"D{i:03d}" for i in range(debtors)],
                    "as_of": t,
                    "x1": x1,
                    "x2": x2,
                    "segment": rng.choice(["a", "b"], debtors),
                    "label": pd.array((rng.random(debtors) < p).astype(int), dtype="Int64"),
                    "horizon_observed": True,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    last = frame["as_of"] > ends[-4]  # the last 3 month-ends: horizon not over yet
    frame.loc[last, "label"] = pd.NA
    frame.loc[last, "horizon_observed"] = False
    return frame


PARAMS = TrainParams(lgbm=LGBMParams(min_child_samples=20), categorical=("segment",), horizon_days=90)


def test_no_fold_reads_a_label_unknown_at_its_first_month_end() -> None:
    frame = _synthetic()
    rows, folds = all_labelled_folds(frame, PARAMS, 6, 2, trees=(25, 50))
    assert len(folds) == 3 and rows.groupby("fold")["as_of"].nunique().tolist() == [2, 2, 2]
    first = folds[-1][0]
    last_fold = rows["fold"] == 2
    # flip every label of the two month-ends before the last fold's first one (their 90-day horizon
    # ends after it): the last fold's scores must not move
    unknown = (frame["as_of"] < first) & (frame["as_of"] + pd.Timedelta(days=90) > first)
    assert frame.loc[unknown, "as_of"].nunique() == 2
    flipped = frame.copy()
    flipped.loc[unknown, "label"] = 1 - flipped.loc[unknown, "label"]
    again, _ = all_labelled_folds(flipped, PARAMS, 6, 2, trees=(25, 50))
    for n in (25, 50):
        np.testing.assert_array_equal(
            again.loc[last_fold, f"pd_feature_{n}"].to_numpy(),
            rows.loc[last_fold, f"pd_feature_{n}"].to_numpy(),
        )
    # ... while flipping labels that were known at it does move them (the check can fail)
    known = frame["as_of"] + pd.Timedelta(days=90) <= first
    moved = frame.copy()
    moved.loc[known, "label"] = 1 - moved.loc[known, "label"]
    other, _ = all_labelled_folds(moved, PARAMS, 6, 2, trees=(25,))
    assert not np.allclose(other.loc[last_fold, "pd_feature_25"], rows.loc[last_fold, "pd_feature_25"])


def test_a_fold_model_scores_at_each_tree_count_of_one_fit() -> None:
    frame = _synthetic(1)
    rows, _ = all_labelled_folds(frame, PARAMS, 4, 2, trees=(10, 40))
    # fewer trees: less spread away from the base rate
    assert rows["pd_feature_10"].std() < rows["pd_feature_40"].std()
    wider = dataclasses.replace(PARAMS, pd_floor=0.2, pd_ceiling=0.3)
    clipped, _ = all_labelled_folds(frame, wider, 4, 2, trees=(40,))
    assert clipped["pd_feature_40"].between(0.2, 0.3).all()


def test_raw_fold_scores_are_the_log_odds_of_the_fold_pds_and_change_nothing_else() -> None:
    """``raw=True`` (``benchmarks/small_calib.py``) adds each fold model's raw score; the PDs are its
    logistic transform, clipped, and the same as without it (``ews train`` does not ask for them)."""
    from scipy.special import expit

    frame = _synthetic(1)
    plain, folds = all_labelled_folds(frame, PARAMS, 4, 2, trees=(10, 40))
    rows, again = all_labelled_folds(frame, PARAMS, 4, 2, trees=(10, 40), raw=True)
    assert folds == again and not any(c.startswith("raw_") for c in plain.columns)
    pd.testing.assert_frame_equal(rows[plain.columns], plain)
    for n in (10, 40):
        expected = np.clip(expit(rows[f"raw_feature_{n}"]), PARAMS.pd_floor, PARAMS.pd_ceiling)
        np.testing.assert_allclose(rows[f"pd_feature_{n}"], expected, rtol=0, atol=1e-12)
    assert rows["raw_feature_10"].std() < rows["raw_feature_40"].std()


# --- session 22: the all-labelled LightGBM's calibrator (rollrate.all_labelled_calibration) --------------


def _choice(frame: pd.DataFrame, trees: int = 40):
    from models.smallbook import SmallBookChoice, _fold_table

    rows, _ = all_labelled_folds(frame, PARAMS, 6, 2, trees=(trees,))
    rows["pd_feature"] = rows[f"pd_feature_{trees}"]
    rows["pd_rollrate"] = float(rows["y"].mean())
    rows = rows[["fold", "debtor_id", "as_of", "y", "pd_feature", "pd_rollrate"]]
    return SmallBookChoice(
        "feature",
        "hand-built",
        False,
        25,
        feature_kind="lightgbm",
        intervals={"logloss": (-0.01, 0.01), "auc": (-0.1, 0.1)},
        point={"logloss": 0.0, "auc": 0.0},
        rows=rows,
        table=_fold_table(rows),
        all_labelled=True,
        trees=trees,
    )


def test_the_shipped_pd_is_the_refit_calibrator_on_the_raw_score_or_the_raw_pd_when_off() -> None:
    from models.smallbook import AllLabelledFit, all_labelled_outcome
    from models.train import prepare_matrix

    frame = _synthetic(2)
    choice = _choice(frame)
    labelled = frame[frame["label"].notna()]
    fit = AllLabelledFit.fit(frame, PARAMS, 40)
    raw = fit.model.predict(prepare_matrix(labelled, fit.kept, fit.categories), raw_score=True)

    off = all_labelled_outcome(frame, PARAMS, choice, calibrate=False)
    assert (
        off.shipped_calibration.method == "none" and "all_labelled_calibration is off" in off.calibration.rule
    )
    # off: the raw LightGBM probability, clipped, as before session 22
    np.testing.assert_array_equal(off.final_estimator.predict_proba(labelled)[:, 1], fit.predict(labelled))

    on = all_labelled_outcome(frame, PARAMS, choice, calibrate=True)
    cal = on.final_estimator.named_steps["calibrated"].calibrator
    assert on.shipped_calibration.method in ("none", "sigmoid", "beta")
    assert on.shipped_calibration.method == cal.method
    assert "5-fold out-of-fold raw scores (by debtor) of the refit" in on.shipped_calibration.rule
    assert set(on.shipped_calibration.oot_logloss) == {"none", "sigmoid", "beta"}
    expected = np.clip(cal.predict(raw), PARAMS.pd_floor, PARAMS.pd_ceiling)
    np.testing.assert_allclose(on.final_estimator.predict_proba(labelled)[:, 1], expected, rtol=0, atol=1e-12)
    # the booster is the same either way; the fold rows keep the fold models' raw probabilities
    assert on.model.booster_.model_to_string() == off.model.booster_.model_to_string()
    np.testing.assert_array_equal(on.test["pd"], off.test["pd"])


def test_the_refit_calibrator_corrects_a_level_the_raw_model_misses() -> None:
    """LightGBM with many trees on 300 debtors x 13 labelled month-ends is over-confident; the
    chosen map (sigmoid or beta, picked over the identity on held-out month-ends) is flatter, so on
    fresh rows of the same process its log-loss is lower than the raw model's."""
    from sklearn.metrics import log_loss

    from models.smallbook import AllLabelledFit, all_labelled_refit_calibrator

    frame = _synthetic(3)
    deep = dataclasses.replace(PARAMS, lgbm=LGBMParams(min_child_samples=5, num_leaves=31))
    cal, how = all_labelled_refit_calibrator(frame, deep, 300)
    assert how.method in ("sigmoid", "beta"), how
    assert how.oot_logloss[how.method] < how.oot_logloss["none"]
    fit = AllLabelledFit.fit(frame, deep, 300)
    fresh = _synthetic(4)
    fresh = fresh[fresh["label"].notna()]
    y = fresh["label"].astype(int).to_numpy()
    raw_pd = fit.predict(fresh)
    cal_pd = np.clip(cal.predict(fit.raw(fresh)), deep.pd_floor, deep.pd_ceiling)
    assert log_loss(y, cal_pd) < log_loss(y, raw_pd)


def test_no_calibrator_when_a_debtor_fold_holds_every_default() -> None:
    """One defaulting debtor: the debtor fold holding it leaves the other folds' fit without a
    default, so no out-of-fold score can be made and the refit gets no calibrator."""
    from models.smallbook import all_labelled_outcome, all_labelled_refit_calibrator

    frame = _synthetic(5)
    frame.loc[frame["label"].notna(), "label"] = 0
    frame.loc[frame["label"].notna() & (frame["debtor_id"] == "D007"), "label"] = 1
    assert all_labelled_refit_calibrator(frame, PARAMS, 25) is None
    choice = _choice(frame, 25)
    outcome = all_labelled_outcome(frame, PARAMS, choice, calibrate=True)
    assert outcome.shipped_calibration.method == "none"
    assert "out-of-fold scores leave a fold without a class" in outcome.shipped_calibration.rule


# --- session 23: the inner folds score the pipeline that ships (BENCHMARKS.md s23-folds) ---------------


def test_out_of_fold_raw_at_several_tree_counts_is_each_count_fitted_alone() -> None:
    """``at``: the first ``n`` trees of each debtor fold's fit of ``best`` trees are the fit of ``n``
    trees (same seed, same rows), so one fit per debtor fold serves every candidate tree count."""
    from models.train import out_of_fold_raw, prepare_matrix

    frame = _synthetic(6)
    labelled = frame[frame["label"].notna()]
    X = prepare_matrix(labelled, ["x1", "x2"], {})
    y = labelled["label"].astype(int).to_numpy()
    debtors = labelled["debtor_id"].astype("string").to_numpy()
    both = out_of_fold_raw("lightgbm", X, y, debtors, 40, [], PARAMS, at=(10, 40))
    assert both.shape == (len(y), 2)
    for i, n in enumerate((10, 40)):
        np.testing.assert_allclose(
            both[:, i], out_of_fold_raw("lightgbm", X, y, debtors, n, [], PARAMS), atol=1e-12
        )
    assert not np.allclose(both[:, 0], both[:, 1])


def test_calibrated_fold_pds_are_the_fold_models_behind_their_own_out_of_fold_calibrator() -> None:
    """``calibrate``: each fold's PD is its raw score through the calibrator chosen (none / sigmoid /
    beta) on debtor-grouped out-of-fold raw scores of the fold's OWN training rows (labels known at
    its first month-end), rebuilt here step by step; a label the fold could not know moves nothing."""
    from models.calibrate import SHIPPED_METHODS, choose_calibration
    from models.smallbook import AllLabelledFit
    from models.train import out_of_fold_raw, prepare_matrix

    frame = _synthetic(7)
    deep = dataclasses.replace(PARAMS, lgbm=LGBMParams(min_child_samples=5, num_leaves=31))
    plain, folds = all_labelled_folds(frame, deep, 6, 2, trees=(25, 200))
    rows, again = all_labelled_folds(frame, deep, 6, 2, trees=(25, 200), raw=True, calibrate=True)
    assert folds == again
    pd.testing.assert_frame_equal(
        rows[["fold", "debtor_id", "as_of", "y"]], plain[["fold", "debtor_id", "as_of", "y"]]
    )
    methods = set()
    for k, ends in enumerate(folds):
        known = known_at(frame, ends[0], 90)
        fit = AllLabelledFit.fit(known, deep, 200)
        lab = known[known["label"].notna()]
        debtors = lab["debtor_id"].astype("string").to_numpy()
        y = lab["label"].astype(int).to_numpy()
        X = prepare_matrix(lab, fit.kept, fit.categories)
        part = rows["fold"] == k
        for n in (25, 200):
            oof = out_of_fold_raw("lightgbm", X, y, debtors, n, list(fit.categorical), deep)
            cal, how = choose_calibration(
                oof,
                y,
                deep.calibration,
                times=lab["as_of"].to_numpy(),
                groups=debtors,
                seed=deep.seed,
                min_isotonic_defaults=deep.min_isotonic_defaults,
                pd_floor=deep.pd_floor,
                pd_ceiling=deep.pd_ceiling,
                candidates=SHIPPED_METHODS,
            )
            methods.add(how.method)
            expected = np.clip(
                cal.predict(rows.loc[part, f"raw_feature_{n}"].to_numpy()), deep.pd_floor, deep.pd_ceiling
            )
            np.testing.assert_allclose(rows.loc[part, f"pd_feature_{n}"].to_numpy(), expected, atol=1e-12)
    # the deep trees are over-confident: a map other than the identity is chosen, so the PDs moved
    assert methods - {"none"}
    assert not np.allclose(rows["pd_feature_200"], plain["pd_feature_200"])
    # the last fold: flipping the labels it could not know yet (and its own rows') moves none of its PDs
    first = folds[-1][0]
    unknown = frame["as_of"] + pd.Timedelta(days=90) > first
    flipped = frame.copy()
    flipped.loc[unknown, "label"] = 1 - flipped.loc[unknown, "label"]
    moved, _ = all_labelled_folds(flipped, deep, 6, 2, trees=(25, 200), calibrate=True)
    last = rows["fold"] == len(folds) - 1
    for n in (25, 200):
        np.testing.assert_array_equal(
            moved.loc[last, f"pd_feature_{n}"].to_numpy(), rows.loc[last, f"pd_feature_{n}"].to_numpy()
        )


def test_the_choice_reads_calibrated_fold_pds_when_the_shipped_model_is_calibrated() -> None:
    """``all_labelled_choice(calibrate=True)``: the tree count and the kind rule read the calibrated
    fold PDs (``all_labelled_folds(calibrate=True)``), with ``calibrate=False`` the raw ones."""
    from models.rollrate import RollRateParams
    from models.smallbook import all_labelled_choice

    frame = _synthetic(7)
    # the roll-rate model's state input: days past due from x1 (0 / 45 / 75 days), nobody in default
    frame["dpd_current_max"] = np.select([frame["x1"] > 1.5, frame["x1"] > 0.5], [75.0, 45.0], 0.0)
    frame["in_default_at_asof"] = False
    deep = dataclasses.replace(
        PARAMS, lgbm=LGBMParams(min_child_samples=5, num_leaves=31), bootstrap_samples=20
    )
    for calibrate in (False, True):
        choice = all_labelled_choice(frame, deep, RollRateParams(), trees=(25, 200), calibrate=calibrate)
        folds, _ = all_labelled_folds(frame, deep, 6, 2, trees=(25, 200), calibrate=calibrate)
        np.testing.assert_array_equal(
            choice.rows["pd_feature"].to_numpy(), folds[f"pd_feature_{choice.trees}"].to_numpy()
        )


def _one_early_defaulter(quiet_months: int, seed: int = 11) -> pd.DataFrame:
    """``_synthetic``'s 16 month-ends x 300 debtors, where up to month-end ``quiet_months`` (exclusive)
    only D000 defaults (at the 3rd and 4th month-ends): an inner fold whose training rows end there has
    2 defaults of 1 debtor, so a debtor-grouped out-of-fold fold has no default and the fold gets no
    calibrator of its own. The roll-rate model's state input as in the test above."""
    frame = _synthetic(seed)
    early = frame["as_of"] < _ends(16)[quiet_months]
    frame.loc[early, "label"] = 0
    frame.loc[early & (frame["debtor_id"] == "D000") & frame["as_of"].isin(_ends(16)[2:4]), "label"] = 1
    frame["dpd_current_max"] = np.select([frame["x1"] > 1.5, frame["x1"] > 0.5], [75.0, 45.0], 0.0)
    frame["in_default_at_asof"] = False
    return frame


DEEP = dataclasses.replace(PARAMS, lgbm=LGBMParams(min_child_samples=5, num_leaves=31), bootstrap_samples=20)


def test_a_fold_without_its_own_calibrator_is_left_out_of_the_pooled_comparison() -> None:
    """s23-review: a fold whose training rows leave a debtor fold without a default got no calibrator
    and kept its RAW PDs while the other folds were calibrated, so the tree count and the kind were
    chosen on a pooled log-loss of two scales, and the record said "each behind its own calibrator".
    Now that fold is left out (both models' rows), named in the reason and counted."""
    from sklearn.metrics import log_loss

    from models.rollrate import RollRateParams
    from models.smallbook import AllLabelledFit, all_labelled_choice, fold_calibrators

    # inner folds: [Aug, Sep], [Oct, Nov], [Dec 2023, Jan 2024]; fold 0 knows the labels of Jan..May
    # 2023 (5 x 300 = 1,500 rows: D000's 2 defaults), fold 1 those of Jan..Jul (defaults of many debtors)
    frame = _one_early_defaulter(quiet_months=5)
    ends = _ends(16)
    known = known_at(frame, ends[7], 90)
    assert fold_calibrators(known, AllLabelledFit.fit(known, DEEP, 200), DEEP, (25, 200)) == {}

    choice = all_labelled_choice(frame, DEEP, RollRateParams(), trees=(25, 200), calibrate=True)
    assert sorted(choice.rows["as_of"].unique()) == ends[9:13]  # not fold 0's Aug and Sep
    assert sorted(choice.rows["fold"].unique()) == [1, 2]
    assert choice.record()["small_book_folds_left_out"] == 1
    assert choice.folds_left_out == (
        "2023-08-31..2023-09-30 (its 1,500 training rows hold 2 defaults of 1 debtor: the 5 debtor-grouped "
        "out-of-fold folds, or the calibrator's own folds, leave one without a default)",
    )
    assert "; 1 fold left out, without a calibrator of their own: 2023-08-31..2023-09-30 (" in choice.reason
    assert "evaluated 2023-10-31..2023-11-30, 2023-12-31..2024-01-31;" in choice.reason
    assert (
        "; 1 inner fold left out of the comparison, without a calibrator of its own" in choice.fold_scoring()
    )
    # every pooled figure is on the calibrated scale: the folds that have their calibrators, nothing raw
    folds, _ = all_labelled_folds(frame, DEEP, 6, 2, trees=(25, 200), calibrate=True)
    assert folds.groupby("fold")["fold_calibrated"].first().tolist() == [False, True, True]
    kept = folds[folds["fold_calibrated"]]
    for n in (25, 200):
        expected = log_loss(kept["y"], kept[f"pd_feature_{n}"], labels=[0, 1])
        assert choice.fold_logloss[str(n)] == pytest.approx(expected, rel=1e-12)


def test_fewer_than_two_folds_with_their_own_calibrator_leave_only_the_roll_rate_model() -> None:
    """Folds 0 and 1 know only D000's 2 defaults: one fold is left, nothing to compare on."""
    from models.rollrate import RollRateParams
    from models.smallbook import all_labelled_choice

    frame = _one_early_defaulter(quiet_months=7)
    choice = all_labelled_choice(frame, DEEP, RollRateParams(), trees=(25, 200), calibrate=True)
    assert choice.floor and choice.choice == "rollrate"
    assert choice.reason.startswith(
        "only the roll-rate model was tried: the last 6 labelled month-ends give 1 inner fold with labels of "
        "both kinds known at their first month-end and a calibrator of their own, with "
    )
    assert (
        "(2 left out: 2023-08-31..2023-09-30 (its 1,500 training rows hold 2 defaults of 1 debtor"
        in choice.reason
    )
    assert "; 2023-10-31..2023-11-30 (its 2,100 training rows hold 2 defaults of 1 debtor" in choice.reason
    assert choice.record()["small_book_folds_left_out"] == 2
