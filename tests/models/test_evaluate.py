from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    METRIC_NAMES,
    GateThresholds,
    calibration_table,
    capture_rate,
    classification_metrics,
    expected_calibration_error,
    gate_decision,
    reference_distribution,
    reference_proportions,
    segment_table,
)


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


def test_gate_absolute_and_relative_checks() -> None:
    th = GateThresholds(min_auc=0.7, max_ece=0.02, max_auc_drop=0.01, max_ece_increase=0.005)
    assert gate_decision({"auc": 0.75, "ece": 0.01}, None, th).passed
    low = gate_decision({"auc": 0.65, "ece": 0.01}, None, th)
    assert not low.passed and any(r.startswith("FAIL test_auc 0.6500 < min_auc") for r in low.reasons)
    assert not gate_decision({"auc": 0.75, "ece": 0.03}, None, th).passed
    # within the margin of the champion: passes; beyond it: fails
    assert gate_decision({"auc": 0.745, "ece": 0.01}, {"auc": 0.75, "ece": 0.01}, th).passed
    worse = gate_decision({"auc": 0.735, "ece": 0.01}, {"auc": 0.75, "ece": 0.01}, th)
    assert not worse.passed and worse.champion == {"auc": 0.75, "ece": 0.01}
    assert not gate_decision({"auc": 0.75, "ece": 0.016}, {"auc": 0.75, "ece": 0.01}, th).passed
    blocked = gate_decision({"auc": 0.9, "ece": 0.0}, None, th, champion_problem="missing columns")
    assert not blocked.passed and "missing columns" in blocked.reasons[-1]
