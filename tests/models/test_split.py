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


def test_default_plan_by_hand() -> None:
    plan = plan_split(_summary(10, observed=8), SplitParams())
    # observed: Jan..Aug; test = Aug; calibration = May, Jun, Jul; validation = Mar, Apr; train = Jan, Feb
    assert plan.test == _d("2024-08-31")
    assert plan.calibration == _d("2024-05-31", "2024-06-30", "2024-07-31")
    assert plan.validation == _d("2024-03-31", "2024-04-30")
    assert plan.train == _d("2024-01-31", "2024-02-29")


def test_gap_and_train_length() -> None:
    plan = plan_split(_summary(12), SplitParams(gap_snapshots=1, train_snapshots=4, calibration_snapshots=2))
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
    with pytest.raises(ValueError, match="have 4, need at least 6"):
        plan_split(_summary(5), SplitParams())


def test_too_few_defaults_gives_counts_and_advice() -> None:
    summary = _summary(10)
    summary.loc[pd.Timestamp("2024-10-31"), "defaults"] = 7
    plan = plan_split(summary, SplitParams())
    with pytest.raises(ValueError) as info:
        check_defaults(summary, plan, min_defaults=30)
    msg = str(info.value)
    assert "test window" in msg and "test: 7 defaults / 100 rows" in msg
    assert "calibration: 150 defaults / 300 rows" in msg and "Widen" in msg
    table = check_defaults(summary, plan, min_defaults=5)
    assert table.loc["calibration", "defaults"] == 150 and table.loc["test", "default_rate"] == 0.07


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
        calibration_snapshots=cal, validation_snapshots=val, gap_snapshots=gap, train_snapshots=train
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
