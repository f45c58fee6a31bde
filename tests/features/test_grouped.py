"""features/grouped.py: per-debtor reductions, values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from features.grouped import max_by, ratio, sum_by

# three debtors; debtor 1 has no rows
CODE = np.array([0, 2, 0, 2, 2])
VALUES = np.array([10.0, 1.0, 5.0, 7.0, 2.0])


def test_sum_by_counts_and_sums_with_zero_for_a_debtor_without_rows() -> None:
    np.testing.assert_array_equal(sum_by(CODE, 3), [2.0, 0.0, 3.0])
    np.testing.assert_array_equal(sum_by(CODE, 3, VALUES), [15.0, 0.0, 10.0])
    assert sum_by(CODE, 3).dtype == np.float64


def test_max_by_takes_the_fill_the_caller_gives() -> None:
    np.testing.assert_array_equal(max_by(CODE, 3, VALUES, fill=0.0), [10.0, 0.0, 7.0])
    out = max_by(CODE, 3, VALUES, fill=np.nan)
    assert out[0] == 10.0 and np.isnan(out[1]) and out[2] == 7.0


def test_max_by_has_no_default_fill() -> None:
    with pytest.raises(TypeError):
        max_by(CODE, 3, VALUES)  # type: ignore[call-arg]


def test_max_by_of_negative_values_is_not_the_fill() -> None:
    out = max_by(np.array([0, 0]), 2, np.array([-3.0, -1.0]), fill=0.0)
    np.testing.assert_array_equal(out, [-1.0, 0.0])


def test_ratio_is_nan_where_the_denominator_is_zero() -> None:
    out = ratio(np.array([1.0, 2.0, 0.0]), np.array([4.0, 0.0, 2.0]))
    assert out[0] == 0.25 and np.isnan(out[1]) and out[2] == 0.0
