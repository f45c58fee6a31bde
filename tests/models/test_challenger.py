"""Rolling-origin folds for the LightGBM-or-scorecard choice (models.challenger, models.train)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from model_frames import make_fold_frame
from sklearn.metrics import roc_auc_score

from models.challenger import choose_on_folds, plan_folds, rule_evidence
from models.evaluate import choose_challenger, paired_difference, within_strata_auc
from models.split import SplitParams, snapshot_summary
from models.train import LGBMParams, TrainParams, _tied, fold_rows, train_pd_model

HORIZON = 90
# one-snapshot test window (~30 defaults): too few to separate the models; folds pool ~200 defaults
PARAMS = TrainParams(
    split=SplitParams(min_defaults=15, test_snapshots=1),
    lgbm=LGBMParams(n_estimators=40, learning_rate=0.1),
    calibration="sigmoid",
    bootstrap_samples=100,
    fold_defaults=200,
    max_folds=8,
    horizon_days=HORIZON,
)


def _summary(defaults: list[int], start: str = "2021-01-31") -> pd.DataFrame:
    snaps = pd.date_range(start, periods=len(defaults), freq="ME")
    return pd.DataFrame(
        {"rows": 1000, "labelled": 1000, "defaults": defaults, "horizon_observed": True},
        index=pd.DatetimeIndex(snaps, name="as_of"),
    )


@pytest.mark.parametrize("horizon", [30, 90, 180])
@pytest.mark.parametrize("width", [1, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_fold_fits_on_rows_within_a_horizon_of_its_evaluation(horizon, width, seed) -> None:
    rng = np.random.default_rng(seed)
    summary = _summary(rng.integers(2, 40, size=36).tolist())
    test = tuple(summary.index[-width:])
    folds = plan_folds(
        summary, test, SplitParams(min_defaults=20), horizon_days=horizon, target_defaults=10**6, max_folds=24
    )
    assert folds, "a 36-snapshot book fills at least the last fold"
    assert folds[-1].evaluation == test
    for fold in folds:
        first = fold.evaluation[0]
        fitted = [*fold.plan.train, *fold.plan.validation, *fold.plan.calibration]
        # strictly before first - horizon: every fitting label was known when the fold's window opened
        assert max(fitted) < first - pd.Timedelta(days=horizon)
        assert max(fold.plan.train) < min(fold.plan.validation) <= max(fold.plan.validation)
        assert max(fold.plan.validation) < min(fold.plan.calibration)
        for name in ("train", "validation", "calibration"):
            assert summary.loc[list(getattr(fold.plan, name)), "defaults"].sum() >= 20
    # evaluation windows tile back from the test window without gaps or overlaps
    evaluated = [ts for fold in folds for ts in fold.evaluation]
    assert evaluated == list(summary.index[summary.index >= evaluated[0]])
    assert all(len(f.evaluation) == width for f in folds[1:])


def test_folds_stop_at_the_target_at_max_folds_and_when_the_book_runs_out() -> None:
    summary = _summary([30] * 36)
    test = tuple(summary.index[-2:])
    params = SplitParams(min_defaults=20)
    # each fold evaluates 60 defaults: three reach 150
    assert len(plan_folds(summary, test, params, horizon_days=90, target_defaults=150, max_folds=10)) == 3
    assert len(plan_folds(summary, test, params, horizon_days=90, target_defaults=10**6, max_folds=4)) == 4
    # every earlier fold is fillable until the fitting snapshots run out; the earliest may be narrower
    every = plan_folds(summary, test, params, horizon_days=90, target_defaults=10**6, max_folds=24)
    first = every[0].evaluation[0]
    assert (
        summary.index.get_loc(first) <= 6 + 3
    )  # three 20-default windows take 3 snapshots, plus the horizon
    short = _summary([30] * 5)  # the test snapshot, two inside its horizon, two to fit on: not three
    assert (
        plan_folds(short, tuple(short.index[-1:]), params, horizon_days=90, target_defaults=200, max_folds=4)
        == []
    )


@pytest.fixture(scope="module")
def xor_frame() -> pd.DataFrame:
    return make_fold_frame("xor", 0.6)


@pytest.fixture(scope="module")
def xor_outcome(xor_frame):
    return train_pd_model(xor_frame, PARAMS)


def _single_window(outcome) -> str:
    test = outcome.test
    point = {
        "logloss": outcome.lightgbm_metrics["logloss"] - outcome.baseline_metrics["logloss"],
        "auc": outcome.lightgbm_metrics["auc"] - outcome.baseline_metrics["auc"],
    }
    assert len(test) == 500  # one snapshot
    return choose_challenger(outcome.intervals["lightgbm-scorecard"], point)[1]


def test_pooled_folds_find_the_lightgbm_win_that_the_test_window_alone_cannot(xor_outcome) -> None:
    assert _single_window(xor_outcome).startswith("no clear winner")
    assert xor_outcome.kind == "lightgbm"
    assert xor_outcome.selection.startswith("LightGBM has the lower log-loss")
    assert (
        "rolling-origin folds" in xor_outcome.selection
        and "that window alone: no clear winner" in xor_outcome.selection
    )
    folds = xor_outcome.folds
    assert len(folds) >= 4 and folds["defaults"].sum() >= 200
    low, high = xor_outcome.intervals["lightgbm-scorecard-folds"]["logloss"]
    assert high < 0
    # the last fold evaluates the test window itself
    assert folds["evaluation"].iloc[-1] == xor_outcome.plan.span("test")
    assert len(xor_outcome.fold_rows) == folds["rows"].sum()


def test_fold_tables_show_every_fold_fitted_a_horizon_before_it(xor_outcome) -> None:
    for _, row in xor_outcome.folds.iterrows():
        first = pd.Timestamp(row["evaluation"].split("..")[0])
        assert pd.Timestamp(row["fitted_through"]) < first - pd.Timedelta(days=HORIZON)


def test_rows_at_or_after_a_folds_origin_minus_the_horizon_never_move_its_scores(
    xor_frame, xor_outcome
) -> None:
    """Scramble every row a fold must not learn from (labels permuted within their snapshot, so the
    windows stay the same; features replaced by noise): that fold's PDs do not move."""
    rows = xor_outcome.fold_rows
    fold = 0
    own = rows[rows["fold"] == fold]
    first = own["as_of"].min()
    rng = np.random.default_rng(7)
    hidden = (xor_frame["as_of"] >= first - pd.Timedelta(days=HORIZON)) & ~xor_frame["as_of"].isin(
        own["as_of"]
    )
    scrambled = xor_frame.copy()
    for col in ("x0", "x1", "x2"):
        scrambled.loc[hidden, col] = rng.normal(size=int(hidden.sum()))
    for _, idx in scrambled[hidden].groupby("as_of").groups.items():
        scrambled.loc[idx, "label"] = rng.permutation(scrambled.loc[idx, "label"].to_numpy())
    assert not scrambled["label"].equals(xor_frame["label"])
    again = train_pd_model(scrambled, PARAMS)
    assert again.folds["evaluation"].tolist() == xor_outcome.folds["evaluation"].tolist()
    moved = again.fold_rows[again.fold_rows["fold"] == fold]
    np.testing.assert_array_equal(moved["pd_lightgbm"].to_numpy(), own["pd_lightgbm"].to_numpy())
    np.testing.assert_array_equal(moved["pd_scorecard"].to_numpy(), own["pd_scorecard"].to_numpy())
    # the later folds did learn from the scrambled rows
    later = again.fold_rows["fold"] > fold
    assert not np.array_equal(
        again.fold_rows.loc[later, "pd_lightgbm"], rows.loc[rows["fold"] > fold, "pd_lightgbm"]
    )


def test_a_fold_fitted_for_one_kind_scores_as_when_both_are_fitted(xor_frame, xor_outcome) -> None:
    """``fold_rows(kinds=...)`` (the small-book comparison reads one kind): only that kind is fitted,
    and its PDs are bit for bit those of the fold fitted for both kinds."""
    summary = snapshot_summary(xor_frame[["as_of", "label", "horizon_observed"]])
    folds = plan_folds(
        summary,
        xor_outcome.plan.test,
        PARAMS.split,
        horizon_days=HORIZON,
        target_defaults=PARAMS.fold_defaults,
        max_folds=PARAMS.max_folds,
    )
    assert len(folds) == len(xor_outcome.folds)  # the folds the training pooled
    labelled = xor_frame[xor_frame["label"].notna()]
    both = xor_outcome.fold_rows[xor_outcome.fold_rows["fold"] == 0]
    args = (labelled, folds[:1], xor_outcome.feature_names, xor_outcome.categories, xor_outcome.categorical)
    for kind, other in (("lightgbm", "scorecard"), ("scorecard", "lightgbm")):
        rows, trees = fold_rows(*args, PARAMS, kinds=(kind,))
        assert f"pd_{other}" not in rows.columns
        np.testing.assert_array_equal(rows[f"pd_{kind}"].to_numpy(), both[f"pd_{kind}"].to_numpy())
        np.testing.assert_array_equal(rows["y"].to_numpy(), both["y"].to_numpy())
        assert trees == ([int(xor_outcome.folds["lightgbm_trees"].iloc[0])] if kind == "lightgbm" else [None])
    with pytest.raises(ValueError, match="kinds must be a non-empty subset"):
        fold_rows(*args, PARAMS, kinds=("rollrate",))


def test_the_small_book_folds_score_the_feature_models_kind(xor_frame, xor_outcome) -> None:
    """``models.smallbook._folds_at`` fits the feature model's kind alone: with the training's own
    folds (the same minimum; the last two of them) its PDs are that kind's column of the training's
    pooled fold rows."""
    from models.smallbook import _folds_at

    as_scorecard = dataclasses.replace(xor_outcome, kind="scorecard")
    rows, n = _folds_at(
        xor_frame, as_scorecard, dataclasses.replace(PARAMS, max_folds=2), PARAMS.split.min_defaults
    )
    pooled = xor_outcome.fold_rows
    last_two = pooled[pooled["fold"] >= len(xor_outcome.folds) - 2]
    assert n == 2 and len(rows) == len(last_two) > 0
    assert list(rows.columns) == ["fold", "debtor_id", "as_of", "y", "pd_feature"]
    np.testing.assert_array_equal(rows["pd_feature"].to_numpy(), last_two["pd_scorecard"].to_numpy())
    np.testing.assert_array_equal(rows["as_of"].to_numpy(), last_two["as_of"].to_numpy())
    np.testing.assert_array_equal(rows["y"].to_numpy(), last_two["y"].to_numpy())


def test_pooled_folds_find_a_clear_scorecard_win_that_the_test_window_alone_cannot() -> None:
    # LightGBM held to two stumps cannot follow a six-feature additive signal; the scorecard can
    frame = make_fold_frame("additive", 0.6, n_features=6)
    params = TrainParams(
        **{**PARAMS.__dict__, "lgbm": LGBMParams(n_estimators=2, num_leaves=2, learning_rate=0.1)}
    )
    outcome = train_pd_model(frame, params)
    assert _single_window(outcome).startswith("no clear winner")
    assert outcome.kind == "scorecard"
    assert outcome.selection.startswith("the scorecard has the lower log-loss")
    assert outcome.intervals["lightgbm-scorecard-folds"]["logloss"][0] > 0


def test_a_test_window_with_enough_defaults_keeps_the_single_window_path(xor_frame) -> None:
    params = TrainParams(**{**PARAMS.__dict__, "fold_defaults": 20})  # the one-snapshot window holds ~30
    outcome = train_pd_model(xor_frame, params)
    assert outcome.windows.loc["test", "defaults"] >= 20
    assert outcome.folds.empty and outcome.fold_rows.empty
    assert "lightgbm-scorecard-folds" not in outcome.intervals
    assert "on the test window" in outcome.selection and "rolling-origin" not in outcome.selection
    # the gate compares on what the rule saw: the test window's paired intervals
    ev = outcome.evidence
    assert ev.kind == outcome.kind and ev.folds == 1 and ev.where.startswith("the test window ")
    assert ev.versus()[0] == {m: outcome.intervals["lightgbm-scorecard"][m] for m in ("logloss", "auc")}
    assert ev.point["logloss"] == outcome.lightgbm_metrics["logloss"] - outcome.baseline_metrics["logloss"]
    assert (ev.rows, ev.defaults) == (len(outcome.test), int(outcome.test["y"].sum()))


def test_the_gate_gets_the_pooled_folds_the_rule_chose_on(xor_outcome) -> None:
    ev, rows = xor_outcome.evidence, xor_outcome.fold_rows
    assert ev.kind == xor_outcome.kind == "lightgbm" and ev.reason == xor_outcome.selection
    assert ev.intervals == xor_outcome.intervals["lightgbm-scorecard-folds"]
    assert (ev.rows, ev.defaults, ev.folds) == (len(rows), int(rows["y"].sum()), len(xor_outcome.folds))
    assert (
        ev.where
        == f"the {ev.folds} pooled rolling-origin folds ({ev.rows:,} rows, {ev.defaults} defaults, AUC within folds)"
    )
    # point log-loss difference: the mean over all pooled rows of the per-row log-loss differences
    y = rows["y"].to_numpy()
    nll = {
        k: -(y * np.log(rows[f"pd_{k}"]) + (1 - y) * np.log(1 - rows[f"pd_{k}"]))
        for k in ("lightgbm", "scorecard")
    }
    assert ev.point["logloss"] == pytest.approx(float((nll["lightgbm"] - nll["scorecard"]).mean()), abs=1e-12)
    assert ev.point["auc"] == pytest.approx(
        within_strata_auc(y, rows["pd_lightgbm"], rows["fold"])
        - within_strata_auc(y, rows["pd_scorecard"], rows["fold"])
    )
    # the benchmarks' replay from saved rows gives the same decision and intervals
    window = xor_outcome.test.rename(columns={"pd_baseline": "pd_scorecard"})
    again = rule_evidence(window, rows, n_boot=PARAMS.bootstrap_samples, seed=PARAMS.seed)
    assert (again.kind, again.intervals, again.point) == (ev.kind, ev.intervals, ev.point)


def test_pooled_folds_are_ranked_within_each_fold() -> None:
    """Two folds, each ranked perfectly by its own model, at PD levels 20x apart: every pair inside a
    fold is in order (AUC 1), but the low fold's defaulter sits below the high fold's non-defaulters."""
    y = np.array([1, 0, 0, 1, 0, 0])
    p = np.array([0.02, 0.01, 0.01, 0.40, 0.20, 0.20])
    fold = np.array([0, 0, 0, 1, 1, 1])
    # pooled: 0.02 beats 2 of the 4 non-defaulters, 0.40 all 4: 6 of 8 pairs
    assert roc_auc_score(y, p) == pytest.approx(0.75)
    assert within_strata_auc(y, p, fold) == pytest.approx(1.0)
    assert within_strata_auc(y, p, np.zeros(6)) == pytest.approx(0.75)  # one stratum: the plain AUC
    # fold 1 half right (0.30 > 0.20, 0.10 < 0.20): (1.0 x 2 pairs + 0.5 x 2 pairs) / 4
    y2, p2 = np.array([1, 0, 0, 1, 1, 0]), np.array([0.02, 0.01, 0.01, 0.30, 0.10, 0.20])
    assert within_strata_auc(y2, p2, fold) == pytest.approx(0.75)


def _hand_folds(lightgbm: list[tuple[float, float]], scorecard: list[tuple[float, float]]) -> pd.DataFrame:
    """200 debtors in every fold, debtor i defaulting in fold f when (i + 7 f) % 10 == 0 (20 per fold);
    per fold, each model gives every defaulter one PD and every non-defaulter another."""
    parts = []
    for f, ((lg_d, lg_n), (sc_d, sc_n)) in enumerate(zip(lightgbm, scorecard, strict=True)):
        i = np.arange(200)
        y = ((i + 7 * f) % 10 == 0).astype(int)
        parts.append(
            pd.DataFrame(
                {
                    "fold": f,
                    "debtor_id": [f"D{k}" for k in i],
                    "y": y,
                    "pd_lightgbm": np.where(y == 1, lg_d, lg_n),
                    "pd_scorecard": np.where(y == 1, sc_d, sc_n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


GOOD, FLAT = (0.5, 0.05), (0.1, 0.1)  # perfect ranking vs one PD at the default rate
# per row, GOOD - FLAT in log-loss: defaulters ln(0.1 / 0.5), non-defaulters ln(0.9 / 0.95)
GOOD_MINUS_FLAT = 0.1 * np.log(0.1 / 0.5) + 0.9 * np.log(0.9 / 0.95)  # -0.2096
# ranks perfectly but too high on non-defaulters: 0.1 ln(0.1 / 0.5) + 0.9 ln(0.9 / (1 - b)) = 0
TIED_LOGLOSS = (0.5, 1 - 0.9 * 0.2 ** (1 / 9))  # b = 0.2474


@pytest.mark.parametrize(
    ("lightgbm", "scorecard", "kind", "why", "logloss", "auc"),
    [
        ([GOOD] * 3, [FLAT] * 3, "lightgbm", "LightGBM has the lower log-loss", GOOD_MINUS_FLAT, 0.5),
        ([FLAT] * 3, [GOOD] * 3, "scorecard", "the scorecard has the lower log-loss", -GOOD_MINUS_FLAT, -0.5),
        # the same log-loss, but LightGBM ranks every fold perfectly: the AUC breaks the tie
        ([TIED_LOGLOSS] * 3, [FLAT] * 3, "lightgbm", "log-loss tied; LightGBM ranks better", 0, 0.5),
        # fold 0 won by LightGBM, fold 1 by the scorecard by as much, fold 2 identical: a tie
        (
            [GOOD, FLAT, FLAT],
            [FLAT, GOOD, FLAT],
            "scorecard",
            "no clear winner, so the simpler scorecard",
            0,
            0,
        ),
    ],
)
def test_the_fold_rule_on_hand_made_folds(lightgbm, scorecard, kind, why, logloss, auc) -> None:
    rows = _hand_folds(lightgbm, scorecard)
    point, ci = paired_difference(
        rows["y"], rows["pd_lightgbm"], rows["pd_scorecard"], rows["debtor_id"], rows["fold"], n_boot=100
    )
    assert point["logloss"] == pytest.approx(logloss, abs=1e-12)
    assert point["auc"] == pytest.approx(auc, abs=1e-12)
    assert ci["logloss"][0] <= point["logloss"] <= ci["logloss"][1]
    got, reason, diff = choose_on_folds(rows, n_boot=100, seed=0)
    assert (got, diff) == (kind, ci) and reason.startswith(why)
    if why.startswith("LightGBM"):
        assert diff["logloss"][1] < 0 and reason.endswith(
            "lower log-loss in 3 of 3 folds and the higher AUC in 3 of 3"
        )
    if why.startswith("log-loss tied"):
        assert ci["logloss"][0] < 0 < ci["logloss"][1] and ci["auc"] == (0.5, 0.5)
    if why.startswith("no clear"):
        assert ci["logloss"][0] < 0 < ci["logloss"][1] and ci["auc"][0] < 0 < ci["auc"][1]
        assert reason.endswith("lower log-loss in 1 of 3 folds and the higher AUC in 1 of 3")


# ---------------------------------------------------------------------------------------------
# evaluation.tie_folds (s35-tie): no clear winner -> the rule judges again on every fold the book allows
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logloss", "auc", "tied"),
    [
        ((-0.0033, 0.0029), (-0.0010, 0.0438), True),  # unseen large s176's two folds (s34-regimes)
        ((-0.0030, 0.0007), (0.0071, 0.0370), False),  # its four folds: LightGBM ranks better
        ((-0.0088, -0.0016), (-0.0038, 0.0598), False),  # lower log-loss
        ((0.0002, 0.0040), (-0.0100, 0.0100), False),  # the scorecard's lower log-loss
        ((-0.0010, 0.0010), (-0.0300, -0.0010), False),  # the scorecard ranks better
        ((-0.0010, 0.0), (0.0, 0.0200), True),  # an interval ending at 0 is not clear of it
    ],
)
def test_a_tie_is_both_intervals_holding_zero_as_the_rule_reads_them(logloss, auc, tied) -> None:
    ci = {"logloss": logloss, "auc": auc}
    assert _tied(ci) is tied
    reason = choose_challenger(ci, {"logloss": sum(logloss) / 2, "auc": sum(auc) / 2})[1]
    assert reason.startswith("no clear winner") is tied


def test_a_tied_test_window_is_judged_again_on_every_fold_the_book_allows(xor_frame) -> None:
    # the one-snapshot window (~30 defaults, >= fold_defaults 20) ties; 8 folds (max_folds) find LightGBM
    params = dataclasses.replace(PARAMS, fold_defaults=20)
    before = train_pd_model(xor_frame, params)
    assert before.kind == "scorecard" and before.selection.startswith("no clear winner")
    assert before.folds.empty and before.evidence.folds == 1
    after = train_pd_model(xor_frame, dataclasses.replace(params, tie_folds=True))
    assert after.kind == after.evidence.kind == "lightgbm"
    assert len(after.folds) == after.evidence.folds == PARAMS.max_folds
    assert (
        "every fold the book allows, because with less evidence there was no clear winner" in after.selection
    )
    assert after.intervals["lightgbm-scorecard-folds"]["logloss"][1] < 0
    # the last fold evaluates the tied test window itself
    assert after.folds["evaluation"].iloc[-1] == after.plan.span("test")


def test_tied_folds_are_extended_by_the_earlier_folds_only() -> None:
    # a weaker interaction: the 2 folds pooled to 35 defaults tie; every fold (8) gives LightGBM the
    # lower log-loss. The 2 folds already fitted are reused: the pooled rows equal those of a training
    # that planned all 8 folds at once.
    frame = make_fold_frame("xor", 0.45)
    params = dataclasses.replace(PARAMS, fold_defaults=35)
    before = train_pd_model(frame, params)
    assert before.kind == "scorecard" and len(before.folds) == 2
    assert before.selection.startswith("no clear winner")
    after = train_pd_model(frame, dataclasses.replace(params, tie_folds=True))
    assert after.kind == "lightgbm" and len(after.folds) == 8
    assert after.selection.startswith("LightGBM has the lower log-loss")
    at_once = train_pd_model(frame, dataclasses.replace(params, fold_defaults=10**6))
    pd.testing.assert_frame_equal(after.fold_rows, at_once.fold_rows)
    pd.testing.assert_frame_equal(after.folds, at_once.folds)
    assert after.evidence.intervals == at_once.evidence.intervals
    # the folds of the tied training are the latest two of the eight, scored alike
    last_two = after.fold_rows[after.fold_rows["fold"] >= 6].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        last_two.assign(fold=last_two["fold"] - 6), before.fold_rows.reset_index(drop=True)
    )
