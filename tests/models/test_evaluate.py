from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    DEBTOR_PATHS_QUANTILE,
    HEADLINE,
    METRIC_NAMES,
    GateThresholds,
    bootstrap_intervals,
    calibration_table,
    capture_rate,
    choose_challenger,
    classification_metrics,
    ece_noise,
    expected_calibration_error,
    gate_decision,
    reference_distribution,
    reference_proportions,
    segment_table,
)
from models.gate_words import ECE_WORDS


def test_ece_equal_frequency_bins_by_hand() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4]
    # bins {0.1, 0.2}: |0.15 - 0| ; {0.3, 0.4}: |0.35 - 1| -> (2*0.15 + 2*0.65) / 4
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.4)
    # perfectly calibrated constant PD
    assert expected_calibration_error([0, 1, 0, 1], [0.5] * 4) == pytest.approx(0.0)


def test_capture_rate_counts_defaulters_in_top_share() -> None:
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.linspace(0.9, 0.0, 10)  # row 0 riskiest
    assert capture_rate(y, p, 0.05) == pytest.approx(0.5)  # ceil(0.5) = 1 row: row 0
    assert capture_rate(y, p, 0.40) == pytest.approx(1.0)  # rows 0..3
    assert np.isnan(capture_rate(np.zeros(10), p, 0.1))


def test_classification_metrics_keys_and_values() -> None:
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert tuple(m) == METRIC_NAMES
    assert m["auc"] == 1.0 and m["gini"] == 1.0 and m["ks"] == 1.0
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.49 + 0.36) / 4)
    assert m["mean_pd"] == pytest.approx(0.25)
    assert m["default_rate"] == pytest.approx(0.5)
    expected_ll = -np.mean(np.log([0.9, 0.8, 0.3, 0.4]))
    assert m["logloss"] == pytest.approx(expected_ll)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="0/1"):
        classification_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        classification_metrics([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="equal length"):
        classification_metrics([0, 1, 1], [0.1, 0.2])


def test_segment_table_has_all_row_and_per_segment_counts() -> None:
    y = [0, 1, 0, 1, 0, 0]
    p = [0.1, 0.9, 0.2, 0.8, 0.3, 0.1]
    seg = pd.Series(["a", "a", "b", "b", "b", None])
    table = segment_table(y, p, seg).set_index("segment")
    assert list(table.index) == ["(missing)", "a", "b", "(all)"]
    assert table.loc["a", "rows"] == 2 and table.loc["a", "defaults"] == 1
    assert table.loc["(all)", "rows"] == 6 and table.loc["(all)", "defaults"] == 2
    assert table.loc["b", "auc"] == 1.0
    assert np.isnan(table.loc["(missing)", "auc"])


def test_calibration_table_quantile_bins() -> None:
    table = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], n_bins=2)
    assert table["mean_pd"].tolist() == pytest.approx([0.15, 0.35])
    assert table["default_rate"].tolist() == pytest.approx([0.0, 1.0])


def test_reference_distribution_numeric_and_categorical() -> None:
    values = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan, np.nan])
    entry = reference_distribution(values, n_bins=2)
    assert entry["cuts"] == pytest.approx([5.5])
    assert entry["proportions"] == pytest.approx([0.5, 0.5])
    assert entry["missing"] == pytest.approx(2 / 12)
    shifted = reference_proportions(pd.Series([1.0, 9, 10, 11]), entry)
    assert shifted.tolist() == pytest.approx([0.25, 0.75])
    cat = reference_distribution(pd.Series(["x", "y", "y", None], dtype="category"))
    assert cat["categories"] == ["x", "y"]
    assert cat["proportions"] == pytest.approx([1 / 3, 2 / 3])
    assert reference_proportions(pd.Series(["y", "z"]), cat).tolist() == pytest.approx([0.0, 1.0])


def test_bootstrap_intervals_resample_debtors() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    debtor = np.repeat(np.arange(400), 5)
    y = (rng.random(n) < 0.1).astype(int)
    good = np.clip(0.1 + 0.5 * (y - 0.1) + rng.normal(0, 0.05, n), 0.001, 0.999)
    noise = np.clip(rng.random(n), 0.001, 0.999)
    ci = bootstrap_intervals(y, {"good": good, "noise": noise}, debtor, pairs=[("good", "noise")], n_boot=100)
    for name, p in (("good", good), ("noise", noise)):
        point = classification_metrics(y, p)
        for metric in HEADLINE:
            low, high = ci[name][metric]
            assert low <= high
            assert low - 0.01 <= point[metric] <= high + 0.01
    assert ci["good"]["auc"][0] > 0.9 and ci["noise"]["auc"][0] < 0.5 < ci["noise"]["auc"][1]
    assert ci["good-noise"]["auc"][0] > 0.3 and ci["good-noise"]["logloss"][1] < 0
    # a perfect ranking has the degenerate interval (1, 1)
    perfect = bootstrap_intervals(y, {"p": np.where(y == 1, 0.9, 0.1)}, debtor, n_boot=20)
    assert perfect["p"]["auc"] == (1.0, 1.0)
    # resampling whole debtors: 2 debtors with identical rows cannot move the AUC at all
    twin = bootstrap_intervals([0, 1, 0, 1], {"p": [0.2, 0.8, 0.2, 0.8]}, ["A", "A", "B", "B"], n_boot=20)
    assert twin["p"]["auc"] == (1.0, 1.0)


def test_ece_interval_holds_the_printed_ece() -> None:
    """s35-walk W13: `ews train` printed "ECE 0.0031, 95% interval 0.0033..0.0072". A resample's binned
    ECE reads higher than the sample's, so the plain percentiles can lie wholly above the point."""
    # 20 debtors, one row each: 10 at PD 0.12 with 1 default, 10 at PD 0.5 with 5 defaults. Tied PDs
    # share a bin: |10 * 0.12 - 1| + |10 * 0.5 - 5| = 0.2 over 20 rows -> ECE 0.01 by hand.
    p = np.array([0.12] * 10 + [0.5] * 10)
    y = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5)
    assert expected_calibration_error(y, p) == pytest.approx(0.01)
    ci = bootstrap_intervals(y, {"m": p}, [f"D{i}" for i in range(20)], seed=0)
    low, high = ci["m"]["ece"]
    # before session 36 the percentile interval was about (0.016, 0.233): the point below it
    assert 0.0 <= low <= 0.01 < high


def test_ece_noise_shrinks_with_the_sample() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.uniform(0.01, 0.1, 100), rng.uniform(0.01, 0.1, 100_000)
    assert ece_noise(small) > 0.02 > 0.005 > ece_noise(large)


def test_debtor_paths_by_hand() -> None:
    # s29-calib: one debtor, PD 0.5 at three consecutive month-ends, a 3-month horizon. Each row implies
    # the monthly hazard h = 1 - 0.5 ** (1/3) over its next 3 months, so months 1..5 (Feb..Jun) all
    # carry h and the chance of a default by the end of month m is 1 - 0.5 ** (m/3)
    from models.evaluate import _DebtorPaths

    when = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"])
    paths = _DebtorPaths(np.full(3, 0.5), np.array(["A", "A", "A"]), when, 3)
    by = [0.0] + [1 - 0.5 ** (m / 3) for m in range(1, 6)]  # 0, 0.2063, 0.3700, 0.5, 0.6031, 0.6850
    assert paths.by_month[0] == pytest.approx(by)
    # the draw's uniform u picks the first month whose chance exceeds it: u 0.45 -> month 3 (Apr), a 1
    # at all three month-ends; u 0.30 -> month 2 (Mar): a 1 at Jan and Feb, the Mar row in default;
    # u 0.10 -> month 1: a 1 at Jan only; u 0.90 -> no default within the rows' horizons
    for u, y, kept in (
        (0.45, [1, 1, 1], [1, 1, 1]),
        (0.30, [1, 1, 0], [1, 1, 0]),
        (0.10, [1, 0, 0], [1, 0, 0]),
        (0.90, [0, 0, 0], [1, 1, 1]),
    ):
        seed = next(s for s in range(10_000) if abs(np.random.default_rng(s).random() - u) < 0.02)
        got_y, got_kept = paths.draw(np.random.default_rng(seed))
        assert (got_y.tolist(), got_kept.astype(int).tolist()) == (y, kept)


def test_debtor_path_labels_are_calibrated_and_clustered() -> None:
    # 2,000 debtors at 6 month-ends with a constant PD each: the drawn labels' rate is the PD's, and a
    # defaulting debtor carries a 1 at ~2.4 of its month-ends (up to 3 in the horizon before its
    # default), so the chance ECE of a calibrated PD is larger than with row-by-row labels
    from models.evaluate import _DebtorPaths

    rng = np.random.default_rng(5)
    p = np.repeat(rng.uniform(0.005, 0.05, 2000), 6)
    debtors = np.repeat(np.arange(2000), 6)
    when = np.tile(pd.date_range("2024-01-31", periods=6, freq="ME").to_numpy(), 2000)
    paths = _DebtorPaths(p, debtors, when, 3)
    draw = np.random.default_rng(6)
    rate, per = [], []
    for _ in range(300):
        y, kept = paths.draw(draw)
        rate.append(y[kept].sum() / p[kept].sum())
        per.append(y[kept].sum() / np.unique(debtors[kept & (y == 1)]).size)
    assert 0.97 < np.mean(rate) < 1.03
    assert 2.0 < np.mean(per) < 3.0
    rows, paths_chance = ece_noise(p), ece_noise(p, debtors=debtors, as_of=when)
    assert paths_chance > 1.3 * rows


def test_gate_ece_limit_with_debtor_paths_has_no_margin() -> None:
    # gate.ece_chance debtors: the limit of a window-trained model is the 99th percentile of the
    # debtor-path chance alone; rows (shipped): the row chance + gate.ece_margin. Small books keep rows.
    rows = GateThresholds(min_auc=0.7, ece_margin=0.005)
    debtors = GateThresholds(min_auc=0.7, ece_margin=0.005, ece_chance="debtors")
    figures = {"auc": 0.8, "ece": 0.006}
    assert gate_decision(figures, rows, ece_tolerance=0.005).passed  # 0.006 <= 0.005 + 0.005
    refused = gate_decision(figures, debtors, ece_tolerance=0.005)
    assert not refused.passed and refused.reasons[2] == (
        f"FAIL {ECE_WORDS} 0.0060 > 0.0050 (chance ECE of a calibrated model on these rows, labels "
        "drawn as debtor paths, 99th percentile 0.0050 (gate.ece_chance debtors))"
    )
    assert DEBTOR_PATHS_QUANTILE == 0.99
    assert gate_decision(figures, debtors, ece_tolerance=0.005, kind="scorecard").passed is False
    small = gate_decision(figures, debtors, ece_tolerance=0.005, kind="rollrate", auc_interval=(0.7, 0.9))
    assert small.passed and "+ margin 0.005" in small.reasons[2]


def test_challenger_choice_by_logloss_then_auc_then_scorecard() -> None:
    point = {"logloss": -0.01, "auc": 0.02}
    assert choose_challenger({"logloss": (-0.02, -0.001), "auc": (-0.01, 0.05)}, point)[0] == "lightgbm"
    assert choose_challenger({"logloss": (0.001, 0.02), "auc": (0.01, 0.05)}, point)[0] == "scorecard"
    assert choose_challenger({"logloss": (-0.02, 0.01), "auc": (0.001, 0.05)}, point)[0] == "lightgbm"
    kind, why = choose_challenger({"logloss": (-0.02, 0.01), "auc": (-0.01, 0.05)}, point)
    assert kind == "scorecard" and why.startswith("no clear winner")


def test_gate_refuses_a_challenger_worse_than_the_baseline() -> None:
    th = GateThresholds(min_auc=0.7, ece_margin=0.005)
    worse = ({"logloss": (0.001, 0.004), "auc": (-0.03, 0.01)}, {"logloss": 0.002, "auc": -0.01})
    decision = gate_decision({"auc": 0.8, "ece": 0.01}, th, ece_tolerance=0.01, vs_baseline=worse)
    assert not decision.passed
    assert any(
        r.startswith("FAIL worse than the scorecard baseline: higher log-loss") for r in decision.reasons
    )
    tied = ({"logloss": (-0.001, 0.004), "auc": (-0.03, 0.01)}, {"logloss": 0.001, "auc": -0.01})
    assert gate_decision({"auc": 0.8, "ece": 0.01}, th, ece_tolerance=0.01, vs_baseline=tied).passed
    lower_auc = ({"logloss": (-0.001, 0.004), "auc": (-0.03, -0.01)}, {"logloss": 0.001, "auc": -0.02})
    assert not gate_decision({"auc": 0.8, "ece": 0.01}, th, ece_tolerance=0.01, vs_champion=lower_auc).passed


def test_gate_ece_tolerance_scales_with_the_window() -> None:
    th = GateThresholds(min_auc=0.7, ece_margin=0.005)
    # ECE 0.05 passes on a window where chance alone gives 0.07 (a 100-row book) ...
    small = gate_decision({"auc": 0.8, "ece": 0.05}, th, ece_tolerance=0.07)
    assert small.passed and "ok ECE (calibration) 0.0500 <= 0.0750" in small.reasons[2]
    # ... and fails where chance gives 0.002 (a large book)
    large = gate_decision({"auc": 0.8, "ece": 0.05}, th, ece_tolerance=0.002)
    assert not large.passed and large.reasons[2].startswith("FAIL ECE (calibration) 0.0500 > 0.0070")
    low = gate_decision({"auc": 0.65, "ece": 0.0}, th, ece_tolerance=0.01)
    assert not low.passed and "FAIL AUC 0.6500 < the floor 0.7000 (gate.min_auc)" in low.reasons
    blocked = gate_decision(
        {"auc": 0.9, "ece": 0.0}, th, ece_tolerance=0.01, champion_problem="missing columns"
    )
    assert not blocked.passed and blocked.reasons[-1].startswith("FAIL champion comparison impossible")


def test_the_rollrate_auc_floor_uses_the_interval() -> None:
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    figures = {"auc": 0.66, "ece": 0.004}
    ok = gate_decision(figures, th, ece_tolerance=0.0, kind="rollrate", auc_interval=(0.55, 0.71))
    # s11-small: "0.5899 [0.4398, 0.7174] reaches min_auc 0.7000" read as if 0.59 reached 0.70
    assert ok.passed and ok.reasons[1] == (
        "ok AUC 0.6600 [0.5500, 0.7100]: the 95% debtor interval reaches the floor 0.7000 (gate.min_auc), though the point "
        "estimate is below it (too few test defaults to tell)"
    )
    assert ok.reasons[3] == "ok no scorecard baseline: the book is too small to fit one out of time"
    below = gate_decision(figures, th, ece_tolerance=0.0, kind="rollrate", auc_interval=(0.55, 0.69))
    assert not below.passed and below.reasons[1].startswith("FAIL AUC 0.6600 [0.5500, 0.6900]")
    # without an interval (LightGBM, scorecard) the point AUC is held to the floor
    assert not gate_decision(figures, th, ece_tolerance=0.0).passed
    # the first roll-rate model of a book (no champion): an ECE of 0.0122 > 0.0055 + 0.005 is a warning
    late = {"auc": 0.9227, "ece": 0.0122}
    kw = {"ece_tolerance": 0.0055, "kind": "rollrate", "auc_interval": (0.8746, 0.9602)}
    assert not gate_decision(late, th, **kw).passed
    first = gate_decision(late, th, **kw, first_model=True)
    assert first.passed and first.reasons[2] == (
        "WARN ECE (calibration) 0.0122 > 0.0105 (chance ECE of a calibrated model on these rows 0.0055 + margin 0.005 (gate.ece_margin))"
    )
    assert first.reasons[-1].startswith(
        "ok promoted with the ECE warning above: the first model of this book (no champion yet; without one "
        "the nightly scores nothing); the shipped matrix is refitted on the moves of every month-end"
    )


# the roll-rate model's baseline: every debtor at the book's default rate known at the month-end
RATE = "the book's default rate"


def test_a_first_rollrate_model_is_refused_when_significantly_worse() -> None:
    """s19: the first roll-rate model of a book was promoted whatever failed (s11-small's 1,000 x 15
    book: test AUC 0.380 [0.235, 0.516], promoted with a WARN). It now passes what any first model
    passes: the AUC floor on its interval and not worse than its baseline (here the book's default
    rate); only an ECE-only failure is a warning. Failures that chance explains do not block."""
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    kw = {"ece_tolerance": 0.0055, "kind": "rollrate", "first_model": True, "baseline_name": RATE}
    tied = ({"logloss": (-0.004, 0.001), "auc": (-0.10, 0.02)}, {"logloss": -0.001, "auc": -0.04})
    # the whole AUC interval below the floor: refused, in plain words
    weak = gate_decision({"auc": 0.38, "ece": 0.004}, th, **kw, auc_interval=(0.235, 0.516), vs_baseline=tied)
    assert not weak.passed and weak.reasons[1] == (
        "FAIL AUC 0.3800 [0.2350, 0.5160]: the whole interval is below the floor 0.7000 (gate.min_auc)"
    )
    assert weak.summary == (
        "Not promoted, and this book has no champion yet: it ranks too poorly (test AUC 0.38, below the floor 0.70)."
    )
    # significantly worse than the book's default rate (log-loss), AUC interval reaching the floor
    worse = ({"logloss": (0.002, 0.009), "auc": (-0.05, 0.30)}, {"logloss": 0.005, "auc": 0.2})
    bad = gate_decision({"auc": 0.70, "ece": 0.004}, th, **kw, auc_interval=(0.55, 0.82), vs_baseline=worse)
    assert not bad.passed and bad.reasons[3] == (
        "FAIL worse than the book's default rate: higher log-loss with the whole interval above 0 (log-loss "
        "+0.0050 [+0.0020, +0.0090], AUC +0.2000 [-0.0500, +0.3000] vs the book's default rate)"
    )
    assert bad.summary == (
        "Not promoted, and this book has no champion yet: it is worse than giving every debtor the book's "
        "default rate."
    )
    # ... and when that failure comes with an ECE failure, the ECE is not a mere warning either
    both = gate_decision({"auc": 0.70, "ece": 0.02}, th, **kw, auc_interval=(0.55, 0.82), vs_baseline=worse)
    assert not both.passed and both.reasons[2].startswith("FAIL ECE (calibration) 0.0200 > 0.0105")
    # chance-level at small n: AUC 0.66 [0.55, 0.71] reaches the floor, the default rate is not
    # significantly better, only the ECE fails: promoted with the warning
    small = gate_decision({"auc": 0.66, "ece": 0.0122}, th, **kw, auc_interval=(0.55, 0.71), vs_baseline=tied)
    assert small.passed and small.reasons[2].startswith("WARN ECE (calibration) 0.0122 > 0.0105")
    assert small.reasons[3] == (
        "ok not worse than the book's default rate (log-loss -0.0010 [-0.0040, +0.0010], AUC -0.0400 "
        "[-0.1000, +0.0200] vs the book's default rate)"
    )
    # with a champion the ECE limit holds for a roll-rate model too
    kept = {k: v for k, v in kw.items() if k != "first_model"}
    assert not gate_decision(
        {"auc": 0.66, "ece": 0.0122},
        th,
        **kept,
        auc_interval=(0.55, 0.71),
        vs_baseline=tied,
        champion_note="x",
    ).passed


def test_the_rule_never_picks_lightgbm_when_its_auc_is_significantly_lower() -> None:
    # s12: log-loss favours LightGBM, AUC the scorecard, both intervals clear of 0: the gate would
    # refuse a LightGBM challenger ("lower AUC with the whole interval below 0"), so the rule does not
    # pick it
    point = {"logloss": -0.004, "auc": -0.02}
    kind, why = choose_challenger({"logloss": (-0.006, -0.001), "auc": (-0.03, -0.005)}, point)
    assert kind == "scorecard"
    assert why.startswith(
        "the measures disagree (LightGBM has the lower log-loss, the scorecard ranks better)"
    )


@pytest.mark.parametrize("ll", [(-0.02, -0.01), (-0.02, 0.01), (0.01, 0.02)])
@pytest.mark.parametrize("auc", [(-0.05, -0.01), (-0.05, 0.01), (0.01, 0.05)])
def test_whatever_the_rule_picks_the_gate_finds_not_worse_on_the_same_evidence(ll, auc) -> None:
    # every sign pattern of the two intervals (below 0, across 0, above 0): a LightGBM pick is never
    # refused as worse than the scorecard when the gate sees the rule's own intervals and points
    th = GateThresholds(min_auc=0.7, ece_margin=0.005)
    diff = {"logloss": ll, "auc": auc}
    point = {"logloss": sum(ll) / 2, "auc": sum(auc) / 2}
    kind, _ = choose_challenger(diff, point)
    vs = (diff, point) if kind == "lightgbm" else None
    decision = gate_decision({"auc": 0.8, "ece": 0.0}, th, ece_tolerance=0.01, kind=kind, vs_baseline=vs)
    assert decision.passed, decision.reasons
    # LightGBM only where it is better on one measure and not worse on the other
    assert (kind == "lightgbm") == (
        (ll[1] < 0 and not auc[1] < 0) or (not ll[0] > 0 and auc[0] > 0 and ll[1] >= 0)
    )


def test_first_model_promotes_with_a_warning_when_the_ece_limit_is_the_only_failure() -> None:
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    # s11-small's 3,000 x 36 contagion book: ECE 0.0105 > 0.0016 + 0.005, mean PD 2.2x the default rate
    late = {"auc": 0.9223, "ece": 0.0105, "mean_pd": 0.0154, "default_rate": 0.0070}
    shown = (
        "ECE (calibration) 0.0105 > 0.0066 (chance ECE of a calibrated model on these rows 0.0016 + margin 0.005 (gate.ece_margin); "
        "mean PD 1.54% vs 0.70% defaulted on the test window)"
    )
    kept = gate_decision(late, th, ece_tolerance=0.0016)
    assert not kept.passed and kept.reasons[2] == f"FAIL {shown}"
    first = gate_decision(late, th, ece_tolerance=0.0016, first_model=True)
    assert first.passed and first.reasons[2] == f"WARN {shown}"
    assert first.reasons[-1].startswith(
        "ok promoted with the ECE warning above: the first model of this book"
    )
    # not when anything else fails too: worse than the scorecard on the rule's evidence, or below the floor
    worse = ({"logloss": (0.001, 0.004), "auc": (-0.03, 0.01)}, {"logloss": 0.002, "auc": -0.01})
    both = gate_decision(
        late,
        th,
        ece_tolerance=0.0016,
        vs_baseline=worse,
        baseline_evidence="the 2 pooled rolling-origin folds (10,000 rows, 300 defaults, AUC within folds)",
        first_model=True,
    )
    assert not both.passed and both.reasons[2] == f"FAIL {shown}"
    assert both.reasons[3] == (
        "FAIL worse than the scorecard baseline: higher log-loss with the whole interval above 0 (log-loss "
        "+0.0020 [+0.0010, +0.0040], AUC -0.0100 [-0.0300, +0.0100] vs the scorecard baseline, on the 2 pooled "
        "rolling-origin folds (10,000 rows, 300 defaults, AUC within folds))"
    )
    low = gate_decision({**late, "auc": 0.65}, th, ece_tolerance=0.0016, first_model=True)
    assert not low.passed and "FAIL AUC 0.6500 < the floor 0.7000 (gate.min_auc)" in low.reasons
    # a champion exists (first_model False): the ECE limit holds
    assert not gate_decision(late, th, ece_tolerance=0.0016, champion_note="x").passed


def test_the_decision_in_plain_words() -> None:
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    late = {"auc": 0.9223, "ece": 0.0105, "mean_pd": 0.0169, "default_rate": 0.0077}
    assert (
        gate_decision({**late, "ece": 0.001}, th, ece_tolerance=0.0016).summary
        == "Promoted: every check passed."
    )
    assert gate_decision(late, th, ece_tolerance=0.0016, first_model=True).summary == (
        "Promoted with a warning, as the first model of this book (without a champion nothing is scored): its "
        "PDs missed the default rate of the test window (mean PD 1.69% vs 0.77% defaulted) by more than chance."
    )
    worse = ({"logloss": (0.001, 0.004), "auc": (-0.03, 0.01)}, {"logloss": 0.002, "auc": -0.01})
    refused = gate_decision({**late, "auc": 0.65}, th, ece_tolerance=0.0016, vs_baseline=worse)
    assert refused.summary == (
        "Not promoted, the champion stays: it ranks too poorly (test AUC 0.65, below the floor 0.70); its PDs missed "
        "the default rate of the test window (mean PD 1.69% vs 0.77% defaulted) by more than chance; it is worse "
        "than the simpler scorecard."
    )
