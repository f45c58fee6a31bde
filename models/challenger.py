"""More out-of-time evidence for the LightGBM-or-scorecard choice on a small book: rolling-origin folds.

On a small book the pooled test window holds too few defaults for the paired bootstrap of
``lightgbm - scorecard`` to tell the two apart, so :func:`models.evaluate.choose_challenger` falls back
to the scorecard even where LightGBM is clearly better on later rows. When the test window holds
fewer than ``target_defaults`` defaults, :func:`plan_folds` lays *folds* back in time from it: fold 0
evaluates the test window itself, fold 1 the same number of snapshots just before it, and so on.
For each fold both candidates are fitted again with the training protocol (train, validation for
early stopping, calibration window for the calibration method), on snapshots whose label horizon
ended before the fold's first evaluation snapshot: every fitting row has ``as_of < first - horizon``.
Their calibrated PDs on the evaluation rows are pooled over the folds, and the rule stays the same
(lower log-loss, then higher AUC, inside the 95 % debtor-bootstrap interval of the paired difference;
else the scorecard), with the AUC counted within folds (:func:`choose_on_folds`). The folds stop
when they hold ``target_defaults`` evaluation defaults, at ``max_folds``, or when the earlier
snapshots can no longer fill a fold's windows (the earliest fold may then evaluate fewer
snapshots, starting later, so that it still has enough to fit on).

Pure: summaries and frames in, plans and tables out. The fitting itself is ``models.train``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.evaluate import (
    bootstrap_intervals,
    choose_challenger,
    classification_metrics,
    paired_difference,
)
from models.split import SplitParams, SplitPlan, _pool

__all__ = ["Evidence", "Fold", "choose_on_folds", "fold_table", "plan_folds", "rule_evidence"]

KINDS = ("lightgbm", "scorecard")


def _fmt(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: ``plan`` is a :class:`models.split.SplitPlan` whose ``test`` is the
    fold's evaluation window and whose other windows all end before ``test[0] - horizon``."""

    plan: SplitPlan
    horizon_days: int

    @property
    def evaluation(self) -> tuple[pd.Timestamp, ...]:
        return self.plan.test

    @property
    def fitted_through(self) -> pd.Timestamp:
        """Latest snapshot any part of the fold was fitted on (the end of its calibration window)."""
        return max(self.plan.calibration)

    def describe(self) -> str:
        p = self.plan
        return (
            f"evaluates {p.span('test')}, fitted on {_fmt(p.train[0])}..{_fmt(p.validation[-1])} "
            f"(calibrated on {p.span('calibration')})"
        )


def _fold(
    usable: pd.DatetimeIndex,
    defaults: list[int],
    start: int,
    stop: int,
    params: SplitParams,
    horizon: pd.Timedelta,
    horizon_days: int,
) -> Fold | None:
    """The fold evaluating ``usable[start:stop]``, or None when the snapshots before its origin
    cannot fill calibration, validation and training (``min_defaults`` each)."""
    # fitting rows must have as_of < first evaluation snapshot - horizon: their labels were known by then
    fit_end = int(usable.searchsorted(usable[start] - horizon, side="left"))
    cal_start = _pool(defaults, fit_end, params.calibration_snapshots, params.min_defaults)
    if cal_start is None:
        return None
    val_start = _pool(defaults, cal_start, params.validation_snapshots, params.min_defaults)
    if val_start is None or val_start < 1:
        return None
    train_start = 0 if params.train_snapshots is None else max(0, cal_start - params.train_snapshots)
    if val_start - train_start < 1 or sum(defaults[train_start:val_start]) < params.min_defaults:
        return None
    plan = SplitPlan(
        train=tuple(usable[train_start:val_start]),
        validation=tuple(usable[val_start:cal_start]),
        calibration=tuple(usable[cal_start:fit_end]),
        test=tuple(usable[start:stop]),
    )
    return Fold(plan, horizon_days)


def plan_folds(
    summary: pd.DataFrame,
    test: Sequence[pd.Timestamp],
    params: SplitParams,
    *,
    horizon_days: int,
    target_defaults: int,
    max_folds: int,
) -> list[Fold]:
    """Rolling-origin folds ending with the test window, oldest first (see the module doc).

    ``summary``: :func:`models.split.snapshot_summary` (index ``as_of``; ``defaults``,
    ``horizon_observed``); ``test``: the snapshots of the main test window; ``params``: the split's
    ``min_defaults`` and fixed window counts, used for each fold's windows. Each fold evaluates
    ``len(test)`` snapshots (the earliest one possibly fewer); folds are added until their
    evaluation windows hold ``target_defaults`` defaults or ``max_folds`` are planned. An empty
    list when not even the test window can be refitted under the horizon rule.
    """
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    snaps = pd.DatetimeIndex(summary.index).sort_values()
    observed = summary["horizon_observed"].reindex(snaps).to_numpy(dtype=bool)
    last = pd.Timestamp(max(test))
    usable = snaps[observed & (snaps <= last)]
    defaults = summary["defaults"].reindex(usable).astype("int64").tolist()
    width = len(test)
    horizon = pd.Timedelta(days=horizon_days)
    folds: list[Fold] = []
    pooled, stop = 0, len(usable)
    while stop > 0 and len(folds) < max_folds and pooled < target_defaults:
        wanted = max(stop - width, 0)
        found = None
        # a later origin leaves more to fit on: the earliest fold may evaluate fewer snapshots
        for start in range(wanted, stop):
            found = _fold(usable, defaults, start, stop, params, horizon, horizon_days)
            if found is not None:
                break
        if found is None:
            break
        folds.append(found)
        pooled += sum(defaults[start:stop])
        if start > wanted:
            break
        stop = start
    return folds[::-1]


def fold_table(folds: Sequence[Fold], rows: pd.DataFrame, trees: Sequence[int]) -> pd.DataFrame:
    """One row per fold: ``fold``, ``evaluation`` (span), ``fitted_through``, ``calibration`` (span),
    ``rows``, ``defaults``, LightGBM trees and both candidates' ``auc`` / ``logloss`` on the fold.

    ``rows``: the pooled evaluation rows (``fold``, ``y``, ``pd_lightgbm``, ``pd_scorecard``)."""
    out = []
    for i, (fold, n_trees) in enumerate(zip(folds, trees, strict=True)):
        part = rows[rows["fold"] == i]
        y = part["y"].to_numpy()
        entry = {
            "fold": i,
            "evaluation": fold.plan.span("test"),
            "fitted_through": _fmt(fold.fitted_through),
            "calibration": fold.plan.span("calibration"),
            "rows": int(len(part)),
            "defaults": int(y.sum()),
            "lightgbm_trees": int(n_trees),
        }
        for kind in ("lightgbm", "scorecard"):
            m = classification_metrics(y, part[f"pd_{kind}"].to_numpy())
            entry[f"{kind}_auc"], entry[f"{kind}_logloss"] = m["auc"], m["logloss"]
        out.append(entry)
    return pd.DataFrame(out)


def choose_on_folds(
    rows: pd.DataFrame, *, n_boot: int, seed: int
) -> tuple[str, str, dict[str, tuple[float, float]]]:
    """The challenger rule on the pooled fold rows (``fold``, ``y``, ``pd_lightgbm``,
    ``pd_scorecard``, ``debtor_id``): :func:`models.evaluate.choose_challenger` on the paired debtor
    bootstrap of :func:`models.evaluate.paired_difference`, log-loss over all pooled rows and AUC
    *within folds*. Each fold is scored by its own models with their own calibration; a pair of rows
    from two folds compares those models' PD levels, not a ranking. On a small book the folds'
    calibration windows can miss the level by a factor of 2 or more, and with K folds of similar
    size only about 1/K of the pooled pairs share a fold (BENCHMARKS.md, s5-pd).
    The reason also counts the folds where LightGBM has the lower log-loss and the higher AUC.

    Returns ``(kind, reason, intervals of lightgbm - scorecard)`` (``logloss``, ``auc`` within folds).
    """
    return _fold_rule(rows, n_boot=n_boot, seed=seed)[:3]


def _fold_rule(
    rows: pd.DataFrame, *, n_boot: int, seed: int
) -> tuple[str, str, dict[str, tuple[float, float]], dict[str, float]]:
    """:func:`choose_on_folds` and the point values of the differences."""
    point, diff = paired_difference(
        rows["y"].to_numpy(),
        rows["pd_lightgbm"].to_numpy(dtype="float64"),
        rows["pd_scorecard"].to_numpy(dtype="float64"),
        rows["debtor_id"].astype("string").to_numpy(),
        rows["fold"].to_numpy(),
        n_boot=n_boot,
        seed=seed,
    )
    kind, reason = choose_challenger(diff, point, auc_name="AUC difference within folds")
    ll_wins = auc_wins = 0
    folds = sorted(rows["fold"].unique())
    for fold in folds:
        part = rows[rows["fold"] == fold]
        m = {k: classification_metrics(part["y"].to_numpy(), part[f"pd_{k}"].to_numpy()) for k in KINDS}
        ll_wins += int(m["lightgbm"]["logloss"] < m["scorecard"]["logloss"])
        auc_wins += int(m["lightgbm"]["auc"] > m["scorecard"]["auc"])
    reason += (
        f"; LightGBM has the lower log-loss in {ll_wins} of {len(folds)} folds and the higher AUC in "
        f"{auc_wins} of {len(folds)}"
    )
    return kind, reason, diff, point


def pooled_counts(rows: pd.DataFrame) -> tuple[int, int]:
    """``(rows, defaults)`` of the pooled evaluation rows."""
    return int(len(rows)), int(np.asarray(rows["y"]).sum())


@dataclass(frozen=True)
class Evidence:
    """The body of evidence the challenger rule judged on, kept so that the gate compares the
    challenger with the other kind on the *same* rows, intervals and point values (issue 9 part 4:
    the rule can never pick a kind that the gate then finds significantly worse than the other).

    ``kind``, ``reason``: the rule's decision; ``where``: the rows in words (the test window, or the
    pooled rolling-origin folds); ``intervals`` / ``point``: ``lightgbm - scorecard`` (``logloss``,
    ``auc``; within folds on pooled folds); ``rows``, ``defaults``, ``folds`` (1 = the test window).
    """

    kind: str
    reason: str
    where: str
    intervals: dict[str, tuple[float, float]]
    point: dict[str, float]
    rows: int
    defaults: int
    folds: int = 1

    def versus(self) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
        """``(intervals, point)`` of ``lightgbm - scorecard``: the gate's ``vs_baseline`` of a
        LightGBM challenger (a scorecard challenger is the baseline itself)."""
        return dict(self.intervals), dict(self.point)


def window_evidence(window: pd.DataFrame, *, n_boot: int, seed: int, where: str) -> Evidence:
    """The rule on one window (``debtor_id``, ``y``, ``pd_lightgbm``, ``pd_scorecard``): the paired
    debtor bootstrap of :func:`models.evaluate.bootstrap_intervals` (the replicates depend only on
    the debtors and the seed, so they are those of the training's own intervals)."""
    y = window["y"].to_numpy()
    preds = {k: window[f"pd_{k}"].to_numpy(dtype="float64") for k in KINDS}
    ci = bootstrap_intervals(
        y,
        preds,
        window["debtor_id"].astype("string").to_numpy(),
        pairs=[("lightgbm", "scorecard")],
        n_boot=n_boot,
        seed=seed,
    )["lightgbm-scorecard"]
    m = {k: classification_metrics(y, p) for k, p in preds.items()}
    point = {x: m["lightgbm"][x] - m["scorecard"][x] for x in ("logloss", "auc")}
    kind, reason = choose_challenger(ci, point)
    return Evidence(
        kind, reason, where, {x: ci[x] for x in ("logloss", "auc")}, point, len(window), int(y.sum())
    )


def folds_evidence(rows: pd.DataFrame, *, n_boot: int, seed: int, where: str) -> Evidence:
    """The rule on pooled fold rows (:func:`choose_on_folds`), as :class:`Evidence`."""
    kind, reason, ci, point = _fold_rule(rows, n_boot=n_boot, seed=seed)
    return Evidence(
        kind,
        reason,
        where,
        dict(ci),
        dict(point),
        int(len(rows)),
        int(np.asarray(rows["y"]).sum()),
        int(rows["fold"].nunique()),
    )


def rule_evidence(window: pd.DataFrame, folds: pd.DataFrame | None, *, n_boot: int, seed: int) -> Evidence:
    """The rule's evidence from saved rows (benchmarks): the pooled folds when there are two or
    more, else the test window."""
    if folds is not None and folds["fold"].nunique() >= 2:
        rows = folds.assign(debtor_id=folds["debtor_id"].astype("string"))
        n_def = int(rows["y"].sum())
        where = f"{rows['fold'].nunique()} pooled rolling-origin folds ({len(rows):,} rows, {n_def} defaults)"
        return folds_evidence(rows, n_boot=n_boot, seed=seed, where=where)
    where = f"the test window ({len(window):,} rows, {int(window['y'].sum())} defaults)"
    return window_evidence(window, n_boot=n_boot, seed=seed, where=where)
