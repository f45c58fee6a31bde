"""Out-of-time split of a stack of as-of snapshots into train / validation / calibration / test.

Snapshots are ordered in time. The test window is one snapshot: the latest whose label horizon is
fully observed (or the one named in config). Calibration takes the snapshots just before it, and
training everything earlier; the last training snapshots form the time-later validation slice used
for early stopping. A snapshot never appears in two windows, and no window ever precedes a window
that is fitted before it: train < validation < calibration < test, strictly. Random splits across
snapshots leak future information and are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["WINDOWS", "SplitParams", "SplitPlan", "check_defaults", "plan_split", "snapshot_summary"]

WINDOWS: tuple[str, ...] = ("train", "validation", "calibration", "test")


@dataclass(frozen=True)
class SplitParams:
    """Boundaries of the out-of-time split, counted in snapshots (e.g. month-ends).

    ``test_as_of`` None picks the latest snapshot with a fully observed horizon. ``gap_snapshots``
    leaves that many snapshots unused between training and calibration and between calibration and
    test (to keep label horizons from overlapping the next window). ``train_snapshots`` None uses
    every earlier snapshot (the validation slice included). ``min_defaults`` is the fewest default
    labels accepted in each window.
    """

    test_as_of: pd.Timestamp | None = None
    calibration_snapshots: int = 3
    validation_snapshots: int = 2
    train_snapshots: int | None = None
    gap_snapshots: int = 0
    min_defaults: int = 30

    def __post_init__(self) -> None:
        if self.calibration_snapshots < 1:
            raise ValueError(f"calibration_snapshots must be >= 1, got {self.calibration_snapshots}")
        if self.validation_snapshots < 1:
            raise ValueError(f"validation_snapshots must be >= 1, got {self.validation_snapshots}")
        if self.gap_snapshots < 0:
            raise ValueError(f"gap_snapshots must be >= 0, got {self.gap_snapshots}")
        if self.train_snapshots is not None and self.train_snapshots <= self.validation_snapshots:
            raise ValueError(
                f"train_snapshots ({self.train_snapshots}) must exceed validation_snapshots "
                f"({self.validation_snapshots}): the validation slice is the end of the training window"
            )


@dataclass(frozen=True)
class SplitPlan:
    """Which snapshot (as-of date) belongs to which window. Each tuple is sorted ascending."""

    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    calibration: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]

    def window_of(self, as_of: pd.Series) -> pd.Series:
        """Window name per row of an ``as_of`` column; rows in no window get ``<NA>``."""
        mapping = {ts: name for name in WINDOWS for ts in getattr(self, name)}
        return pd.Series(pd.to_datetime(as_of).map(mapping), index=as_of.index, dtype="string")

    def describe(self) -> dict[str, list[str]]:
        """JSON-safe ``{window: [YYYY-MM-DD, ...]}``."""
        return {name: [ts.strftime("%Y-%m-%d") for ts in getattr(self, name)] for name in WINDOWS}


def snapshot_summary(labels: pd.DataFrame) -> pd.DataFrame:
    """Per as-of snapshot: ``rows``, ``labelled`` rows, ``defaults`` and ``horizon_observed``.

    ``labels`` follows ``features.labels.build_labels`` (columns ``as_of``, ``label`` Int64 with NA,
    ``horizon_observed`` bool). A snapshot counts as observed only when every row is.
    Returns one row per snapshot, indexed by ``as_of`` ascending.
    """
    missing = {"as_of", "label", "horizon_observed"} - set(labels.columns)
    if missing:
        raise ValueError(f"labels frame lacks columns {sorted(missing)}")
    grouped = labels.assign(
        _labelled=labels["label"].notna(), _default=labels["label"].fillna(0).astype("int64")
    ).groupby("as_of", sort=True)
    return pd.DataFrame(
        {
            "rows": grouped.size(),
            "labelled": grouped["_labelled"].sum().astype("int64"),
            "defaults": grouped["_default"].sum().astype("int64"),
            "horizon_observed": grouped["horizon_observed"].all().astype(bool),
        }
    )


def _fmt(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def plan_split(summary: pd.DataFrame, params: SplitParams) -> SplitPlan:
    """Assign snapshots to windows.

    ``summary`` is :func:`snapshot_summary` output (index ``as_of``, column ``horizon_observed``).
    Raises ``ValueError`` when the named test snapshot is absent or its horizon is not fully
    observed, or when there are too few observed snapshots for the requested windows.
    """
    snaps = pd.DatetimeIndex(summary.index).sort_values()
    observed = summary["horizon_observed"].reindex(snaps)
    if params.test_as_of is None:
        done = snaps[observed.to_numpy(dtype=bool)]
        if len(done) == 0:
            raise ValueError(
                f"no snapshot has a fully observed label horizon (snapshots {_fmt(snaps[0])}..{_fmt(snaps[-1])}); "
                "the data must extend at least one horizon past the first snapshot"
            )
        test = done[-1]
    else:
        test = pd.Timestamp(params.test_as_of)
        if test not in snaps:
            raise ValueError(
                f"test_as_of {_fmt(test)} is not one of the snapshots ({_fmt(snaps[0])}..{_fmt(snaps[-1])}); "
                "pick a snapshot date (e.g. a month-end) or leave test_as_of empty"
            )
        if not bool(observed.loc[test]):
            done = snaps[observed.to_numpy(dtype=bool)]
            latest = _fmt(done[-1]) if len(done) else "none"
            raise ValueError(
                f"test window {_fmt(test)}: the label horizon is not fully observed yet, so its labels are "
                f"incomplete; latest fully observed snapshot: {latest}. Set test_as_of to it or leave it empty"
            )
    earlier = snaps[snaps < test]
    gap = params.gap_snapshots
    cal_end = len(earlier) - gap
    cal_start = cal_end - params.calibration_snapshots
    train_end = cal_start - gap
    need = params.validation_snapshots + 1
    if cal_start < 0 or train_end < need:
        raise ValueError(
            f"too few snapshots before the test snapshot {_fmt(test)}: have {len(earlier)}, need at least "
            f"{need + params.calibration_snapshots + 2 * gap} (train >= {need} incl. {params.validation_snapshots} "
            f"validation, {params.calibration_snapshots} calibration, 2 x {gap} gap). Start the snapshots earlier "
            "or reduce calibration_snapshots / validation_snapshots"
        )
    train_start = 0 if params.train_snapshots is None else max(0, train_end - params.train_snapshots)
    fit = earlier[train_start:train_end]
    v = params.validation_snapshots
    return SplitPlan(
        train=tuple(fit[:-v]),
        validation=tuple(fit[-v:]),
        calibration=tuple(earlier[cal_start:cal_end]),
        test=(test,),
    )


def check_defaults(summary: pd.DataFrame, plan: SplitPlan, min_defaults: int) -> pd.DataFrame:
    """Labelled rows and defaults per window; raise ``ValueError`` when a window has too few defaults.

    Returns a frame indexed by window with ``snapshots``, ``first``, ``last``, ``labelled``,
    ``defaults`` and ``default_rate``. The error gives the counts of every window and suggests
    widening the short one.
    """
    rows = []
    for name in WINDOWS:
        snaps = list(getattr(plan, name))
        part = summary.loc[snaps]
        labelled, defaults = int(part["labelled"].sum()), int(part["defaults"].sum())
        rows.append(
            {
                "window": name,
                "snapshots": len(snaps),
                "first": _fmt(snaps[0]),
                "last": _fmt(snaps[-1]),
                "labelled": labelled,
                "defaults": defaults,
                "default_rate": defaults / labelled if labelled else float("nan"),
            }
        )
    table = pd.DataFrame(rows).set_index("window")
    short = table[table["defaults"] < min_defaults]
    if len(short):
        counts = ", ".join(f"{w}: {r.defaults} defaults / {r.labelled} rows" for w, r in table.iterrows())
        hints = {
            "train": "start the snapshots earlier",
            "validation": "raise validation_snapshots",
            "calibration": "raise calibration_snapshots",
            "test": "use a larger portfolio or a longer horizon",
        }
        worst = short.index[0]
        raise ValueError(
            f"too few defaults in the {', '.join(short.index)} window(s) (need >= {min_defaults} each; {counts}). "
            f"Widen the window: {hints[worst]}, or lower split.min_defaults"
        )
    return table
