from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.split import SplitParams, check_defaults, plan_split, snapshot_summary


def _summary(n: int, observed: int | None = None, defaults: int = 50) -> pd.DataFrame:
    snaps = pd.date_range("2024-01-31", periods=n, freq="ME")
    observed = n if observed is None else observed
    return pd.DataFrame(
        {
            "rows": 100,
            "labelled": 100,
            "defaults": defaults,
            "horizon_observed": [i < observed for i in range(n)],
        },
        index=pd.Index(snaps, name="as_of"),
    )


def _d(*days: str) -> tuple[pd.Timestamp, ...]:
    return tuple(pd.Timestamp(d) for d in days)


FIXED = {"test_snapshots": 1, "calibration_snapshots": 3, "validation_snapshots": 2}


def test_fixed_plan_by_hand() -> None:
    plan = plan_split(_summary(10, observed=8), SplitParams(**FIXED))
    # observed: Jan..Aug; test = Aug; calibration = May, Jun, Jul; validation = Mar, Apr; train = Jan, Feb
    assert plan.test == _d("2024-08-31")
    assert plan.calibration == _d("2024-05-31", "2024-06-30", "2024-07-31")
    assert plan.validation == _d("2024-03-31", "2024-04-30")
    assert plan.train == _d("2024-01-31", "2024-02-29")


def test_automatic_windows_pool_until_they_hold_enough_defaults() -> None:
    # 12 observed month-ends with 10 defaults each (+ 1 unobserved): 120 defaults in all
    summary = _summary(13, observed=12, defaults=10)
    plan = plan_split(summary, SplitParams(min_defaults=20, test_defaults_share=0.25))
    # test: 25% of 120 = 30 defaults -> Oct, Nov, Dec; then 20 defaults each -> 2 snapshots
    assert plan.test == _d("2024-10-31", "2024-11-30", "2024-12-31")
    assert plan.calibration == _d("2024-08-31", "2024-09-30")
    assert plan.validation == _d("2024-06-30", "2024-07-31")
    assert plan.train[0] == pd.Timestamp("2024-01-31") and plan.train[-1] == pd.Timestamp("2024-05-31")
    assert plan.span("test") == "2024-10-31..2024-12-31"


def test_book_too_small_is_refused_with_counts_and_need() -> None:
    summary = _summary(10, defaults=3)
    with pytest.raises(ValueError) as info:
        plan_split(summary, SplitParams(min_defaults=10))
    msg = str(info.value)
    assert "10 snapshots with observed labels (2024-01-31..2024-10-31) hold 30 default labels" in msg
    assert ">= 10 defaults each (>= 40 in all" in msg and "about 1.4x the defaults" in msg
    assert "test: 4 snapshots, 12 defaults; calibration: 4 snapshots, 12 defaults" in msg


def test_a_book_without_any_default_is_told_so_not_a_factor() -> None:
    """Before: 'Needed: about 40.0x the defaults' for a book with 0 defaults (s7-robust)."""
    with pytest.raises(ValueError) as info:
        plan_split(_summary(10, defaults=0), SplitParams(min_defaults=10))
    msg = str(info.value)
    assert "hold 0 default labels" in msg and "x the defaults" not in msg
    assert "Needed: at least 40 default labels, and this book has none: no debtor reached the default" in msg
    assert "(default_definition in the project config: dpd_threshold, event_kinds)" in msg


def test_gap_and_train_length() -> None:
    plan = plan_split(
        _summary(12), SplitParams(gap_snapshots=1, train_snapshots=4, **{**FIXED, "calibration_snapshots": 2})
    )
    assert plan.test == _d("2024-12-31")
    assert plan.calibration == _d("2024-09-30", "2024-10-31")  # Nov skipped
    assert plan.validation == _d("2024-06-30", "2024-07-31")  # Aug skipped
    assert plan.train == _d("2024-04-30", "2024-05-31")


def test_named_test_snapshot_must_be_observed() -> None:
    with pytest.raises(ValueError, match="2024-09-30: the label horizon is not fully observed.*2024-08-31"):
        plan_split(_summary(10, observed=8), SplitParams(test_as_of=pd.Timestamp("2024-09-30")))
    with pytest.raises(ValueError, match="not one of the snapshots"):
        plan_split(_summary(10), SplitParams(test_as_of=pd.Timestamp("2024-09-15")))


def test_too_few_snapshots_is_explained() -> None:
    with pytest.raises(ValueError, match="too small for an out-of-time evaluation: 5 snapshots"):
        plan_split(_summary(5), SplitParams(**FIXED))


def test_too_few_defaults_gives_counts_and_advice() -> None:
    summary = _summary(10)
    summary.loc[pd.Timestamp("2024-10-31"), "defaults"] = 7
    plan = plan_split(summary, SplitParams(**FIXED))
    with pytest.raises(ValueError) as info:
        check_defaults(summary, plan, min_defaults=30)
    msg = str(info.value)
    assert (
        "too few defaults in the test window (need >= 30 each;" in msg
        and "test: 7 defaults / 100 rows" in msg
    )
    assert "calibration: 150 defaults / 300 rows" in msg and "Widen" in msg
    table = check_defaults(summary, plan, min_defaults=5)
    assert table.loc["calibration", "defaults"] == 150 and table.loc["test", "default_rate"] == 0.07
    # two short windows are named together, in the windows' order ("in 2 windows (validation, test; ..." in s30-ux)
    with pytest.raises(
        ValueError, match=r"too few defaults in the validation and test windows \(need >= 120 each"
    ):
        check_defaults(summary, plan, min_defaults=120)


def test_snapshot_summary_counts() -> None:
    labels = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2024-01-31"] * 3 + ["2024-02-29"] * 2),
            "label": pd.array([1, 0, pd.NA, 0, pd.NA], dtype="Int64"),
            "horizon_observed": [True, True, True, True, False],
        }
    )
    s = snapshot_summary(labels)
    assert s["labelled"].tolist() == [2, 1]
    assert s["defaults"].tolist() == [1, 0]
    assert s["horizon_observed"].tolist() == [True, False]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 30),
    unobserved=st.integers(0, 4),
    cal=st.integers(1, 6),
    val=st.integers(1, 4),
    gap=st.integers(0, 3),
    train=st.one_of(st.none(), st.integers(2, 12)),
)
def test_split_never_trains_on_a_later_snapshot(n, unobserved, cal, val, gap, train) -> None:
    if train is not None and train <= val:
        train = val + 1
    params = SplitParams(
        test_snapshots=1,
        calibration_snapshots=cal,
        validation_snapshots=val,
        gap_snapshots=gap,
        train_snapshots=train,
        min_defaults=1,
    )
    summary = _summary(n, observed=max(n - unobserved, 0))
    try:
        plan = plan_split(summary, params)
    except ValueError:
        return
    windows = [plan.train, plan.validation, plan.calibration, plan.test]
    assert all(len(w) for w in windows)
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert max(earlier) < min(later)
    assert len(set().union(*map(set, windows))) == sum(map(len, windows))
    assert all(summary.loc[list(w), "horizon_observed"].all() for w in windows)
    assert len(plan.calibration) == cal and len(plan.validation) == val
