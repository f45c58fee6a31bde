"""Out-of-time split of a stack of as-of snapshots into train / validation / calibration / test.

Snapshots are ordered in time, and only snapshots whose label horizon is fully observed are used.
The test window pools the latest observed snapshots (ending at ``test_as_of`` when named), as many
as it takes to hold ``min_defaults`` default labels, or a fixed count from config. Calibration pools
the snapshots just before it the same way, then validation (the time-later slice of training used
for early stopping), and training takes everything earlier. A snapshot never appears in two
windows: train < validation < calibration < test, strictly. Random splits across snapshots leak
future information and are not offered. On a large book each window is one or a few snapshots; on
a small book the windows widen until their counts are usable, and a book too small for that is
refused with the counts and what would be needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "WINDOWS",
    "BookTooSmallError",
    "SplitParams",
    "SplitPlan",
    "check_defaults",
    "plan_split",
    "snapshot_summary",
]

WINDOWS: tuple[str, ...] = ("train", "validation", "calibration", "test")


class BookTooSmallError(ValueError):
    """The observed snapshots cannot fill the out-of-time windows with ``min_defaults`` each (the
    message gives the counts); ``ews train`` then falls back to the roll-rate model when allowed."""


@dataclass(frozen=True)
class SplitParams:
    """Boundaries of the out-of-time split, counted in snapshots (e.g. month-ends).

    ``test_as_of`` None ends the test window at the latest snapshot with a fully observed horizon.
    ``test_snapshots`` / ``calibration_snapshots`` / ``validation_snapshots``: a fixed count, or
    None to pool the fewest snapshots holding ``min_defaults`` default labels. ``gap_snapshots``
    leaves that many snapshots unused between training and calibration and between calibration and
    test (to keep label horizons from overlapping the next window). ``train_snapshots`` None uses
    every earlier snapshot (the validation slice included). ``min_defaults`` is the fewest default
    labels accepted in each window; an automatic test window pools until it also holds
    ``test_defaults_share`` of all observed default labels, so that the comparisons made on it have
    power on a large book without starving the other windows of a small one.
    """

    test_as_of: pd.Timestamp | None = None
    test_snapshots: int | None = None
    calibration_snapshots: int | None = None
    validation_snapshots: int | None = None
    train_snapshots: int | None = None
    gap_snapshots: int = 0
    min_defaults: int = 30
    test_defaults_share: float = 0.2

    def __post_init__(self) -> None:
        for name in ("test_snapshots", "calibration_snapshots", "validation_snapshots"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or empty (auto), got {value}")
        if self.gap_snapshots < 0:
            raise ValueError(f"gap_snapshots must be >= 0, got {self.gap_snapshots}")
        if self.min_defaults < 1:
            raise ValueError(f"min_defaults must be >= 1, got {self.min_defaults}")
        v = self.validation_snapshots
        if self.train_snapshots is not None and v is not None and self.train_snapshots <= v:
            raise ValueError(
                f"train_snapshots ({self.train_snapshots}) must exceed validation_snapshots "
                f"({v}): the validation slice is the end of the training window"
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

    def span(self, name: str) -> str:
        """``first..last`` of a window (one date when it holds one snapshot)."""
        snaps = getattr(self, name)
        first, last = _fmt(snaps[0]), _fmt(snaps[-1])
        return first if first == last else f"{first}..{last}"


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


def _pool(defaults: list[int], end: int, fixed: int | None, min_defaults: int) -> int | None:
    """Start index of a window ending before ``end`` (exclusive): ``fixed`` snapshots, or the fewest
    holding ``min_defaults`` defaults. None when the snapshots run out first."""
    if fixed is not None:
        return end - fixed if end - fixed >= 0 else None
    total = 0
    for start in range(end - 1, -1, -1):
        total += defaults[start]
        if total >= min_defaults:
            return start
    return None


def _too_small(
    summary: pd.DataFrame, snaps: pd.DatetimeIndex, params: SplitParams, filled: list[str]
) -> BookTooSmallError:
    part = summary.loc[snaps]
    defaults, labelled = int(part["defaults"].sum()), int(part["labelled"].sum())
    need = 4 * params.min_defaults
    # whole snapshots overshoot each window's minimum, so a book needs somewhat more than 4 x min_defaults
    factor = max(math.ceil(need / max(defaults, 1) * 10) / 10, 1.2)
    needed = (
        f"Needed: about {factor}x the defaults (a longer history or more debtors)"
        if defaults
        else f"Needed: at least {need} default labels, and this book has none: no debtor reached the default "
        "definition (default_definition in the project config: dpd_threshold, event_kinds) within the "
        "label horizon. Check that definition and that overdue invoices, payments and credit events are in "
        "the data, or use a longer history or more debtors"
    )
    return BookTooSmallError(
        f"the book is too small for an out-of-time evaluation: {len(snaps)} snapshots with observed labels "
        f"({_fmt(snaps[0])}..{_fmt(snaps[-1])}) hold {defaults} default labels among {labelled:,} rows, and the "
        f"train, validation, calibration and test windows need >= {params.min_defaults} defaults each "
        f"(>= {need} in all, plus {2 * params.gap_snapshots} gap snapshots). Filled before running out: "
        f"{'; '.join(filled) or 'none'}. {needed}; or a lower split.min_defaults (each window's figures then "
        "carry wide intervals)"
    )


def plan_split(summary: pd.DataFrame, params: SplitParams) -> SplitPlan:
    """Assign snapshots to windows.

    ``summary`` is :func:`snapshot_summary` output (index ``as_of``; ``defaults``,
    ``horizon_observed``). Raises ``ValueError`` when the named test snapshot is absent or its
    horizon is not fully observed, or when the observed snapshots cannot fill the windows (the
    message gives the counts and what would be needed).
    """
    snaps = pd.DatetimeIndex(summary.index).sort_values()
    observed = summary["horizon_observed"].reindex(snaps).to_numpy(dtype=bool)
    done = snaps[observed]
    if params.test_as_of is None:
        if len(done) == 0:
            raise ValueError(
                f"no snapshot has a fully observed label horizon (snapshots {_fmt(snaps[0])}..{_fmt(snaps[-1])}); "
                "the data must extend at least one horizon past the first snapshot"
            )
        last = done[-1]
    else:
        last = pd.Timestamp(params.test_as_of)
        if last not in snaps:
            raise ValueError(
                f"test_as_of {_fmt(last)} is not one of the snapshots ({_fmt(snaps[0])}..{_fmt(snaps[-1])}); "
                "pick a snapshot date (e.g. a month-end) or leave test_as_of empty"
            )
        if last not in done:
            latest = _fmt(done[-1]) if len(done) else "none"
            raise ValueError(
                f"test window {_fmt(last)}: the label horizon is not fully observed yet, so its labels are "
                f"incomplete; latest fully observed snapshot: {latest}. Set test_as_of to it or leave it empty"
            )
    usable = done[done <= last]
    defaults = summary["defaults"].reindex(usable).astype("int64").tolist()
    target = max(params.min_defaults, math.ceil(params.test_defaults_share * sum(defaults)))
    try:
        return _windows(summary, usable, defaults, params, target)
    except BookTooSmallError:
        if target == params.min_defaults:
            raise
        # a small book: the share would starve the earlier windows; pool the test window to min_defaults
        return _windows(summary, usable, defaults, params, params.min_defaults)


def _windows(
    summary: pd.DataFrame,
    usable: pd.DatetimeIndex,
    defaults: list[int],
    params: SplitParams,
    test_target: int,
) -> SplitPlan:
    gap = params.gap_snapshots
    filled: list[str] = []

    def window(name: str, end: int, fixed: int | None, target: int) -> int:
        start = _pool(defaults, end, fixed, target)
        if start is None or (name == "validation" and start < 1):
            raise _too_small(summary, usable, params, filled)
        filled.append(f"{name}: {end - start} snapshots, {sum(defaults[start:end])} defaults")
        return start

    test_start = window("test", len(usable), params.test_snapshots, test_target)
    cal_end = test_start - gap
    cal_start = window("calibration", cal_end, params.calibration_snapshots, params.min_defaults)
    fit_end = cal_start - gap
    val_start = window("validation", fit_end, params.validation_snapshots, params.min_defaults)
    train_start = 0 if params.train_snapshots is None else max(0, fit_end - params.train_snapshots)
    if val_start - train_start < 1 or sum(defaults[train_start:val_start]) < params.min_defaults:
        filled.append(
            f"train: {val_start - train_start} snapshots, {sum(defaults[train_start:val_start])} defaults"
        )
        raise _too_small(summary, usable, params, filled)
    return SplitPlan(
        train=tuple(usable[train_start:val_start]),
        validation=tuple(usable[val_start:fit_end]),
        calibration=tuple(usable[cal_start:cal_end]),
        test=tuple(usable[test_start:]),
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
            "validation": "raise validation_snapshots or leave it empty (auto)",
            "calibration": "raise calibration_snapshots or leave it empty (auto)",
            "test": "raise test_snapshots or leave it empty (auto), or use a larger portfolio",
        }
        worst = short.index[0]
        names = list(short.index)
        # "the test window", "the validation and test windows" ("the test window(s)" before session 30)
        said = (
            names[0] + " window" if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]} windows"
        )
        raise BookTooSmallError(
            f"too few defaults in the {said} "
            f"(need >= {min_defaults} each; {counts}). "
            f"Widen the window: {hints[worst]}, or lower split.min_defaults"
        )
    return table
