"""The roll-rate model or a feature model on a small book, chosen on pooled rolling-origin folds.

A book that cannot fill the four out-of-time windows at ``split.min_defaults`` (30) each gets the
roll-rate model (``models.rollrate``). The roll-rate states are days-past-due buckets: on a book where
defaults come from debtors going silent at 0-59 DPD they miss most of the risk (BENCHMARKS.md,
s16-unseen), while on ``ews generate``'s books, where distress shows as DPD, the roll-rate is as good
as or better than LightGBM trained with a lower minimum (s6-small, s16-unseen). So the choice is made
per book, on its own out-of-time evidence. The rule (pre-registered in session 17, before it was
measured on the unseen simulator's books):

1. **Floor.** The feature model is tried only when the book fills the four windows at
   ``min_defaults`` (``rollrate.challenge_min_defaults``, 15) defaults each *and* the earlier
   snapshots give at least two rolling-origin folds at that minimum (``models.challenger``: each fold
   refits LightGBM and the scorecard, with their calibration, on snapshots whose label horizon ended
   before the fold's first evaluation snapshot). Below it only the roll-rate model is tried.
2. **Feature model.** ``models.train.train_pd_model`` with that minimum: LightGBM or the scorecard
   as its own challenger rule picks it on those folds, refitted on every labelled snapshot.
3. **Roll-rate on the same rows.** For each fold, the roll-rate model fitted on the month-end moves
   (and the labels) known at the fold's first evaluation snapshot, scoring the fold's rows: no fold
   sees its own future (the feature models see even less: labels known 90 days before it).
4. **Decision**, as the challenger rule (``models.evaluate.choose_challenger``), with the roll-rate
   model as the simpler one: the paired debtor bootstrap (95 %) of ``feature - roll-rate`` on the
   pooled fold rows, log-loss over all rows, AUC within folds. The feature model ships when its
   log-loss is lower with the interval below 0 (unless its AUC is at the same time significantly
   lower: the measures disagree), or when the log-loss is tied and its AUC is higher with the
   interval above 0. Otherwise, including every unclear case, the roll-rate model.

The comparison folds may use their own, lower per-window minimum (``fold_defaults``,
``rollrate.challenge_fold_defaults``: 10 in ``conf/train.yaml``). This was added *after* the rule
above was first measured (at 15 the unseen simulator's small books gave fewer than 2 folds), and was
then checked on fresh seeds; both are in BENCHMARKS.md "Session 17 (s17-small)". The option is off by
default (``rollrate.challenge``): it changed the shipped model on 1 of 37 books, not significantly.

Pure: frames and parameters in, a :class:`SmallBookChoice` out; logging is ``pipelines``' job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.evaluate import classification_metrics, paired_difference, paired_rule
from models.rollrate import RollRateModel, RollRateParams

__all__ = ["SmallBookChoice", "choose_small_book", "rollrate_on_folds", "small_book_choice"]

NAMES = {"lightgbm": "LightGBM", "scorecard": "the scorecard"}


def choose_small_book(
    diff: Mapping[str, tuple[float, float]], point: Mapping[str, float], feature_kind: str
) -> tuple[str, str]:
    """``"feature"`` or ``"rollrate"`` from the paired bootstrap of ``feature - roll-rate``.

    ``diff``: 95 % intervals of the differences (``logloss``, ``auc`` within folds); ``point``: the
    point differences; ``feature_kind``: ``lightgbm`` or ``scorecard`` (named in the reason).
    Lower log-loss wins when its interval excludes 0; otherwise higher AUC when its interval
    excludes 0; otherwise, and when the two measures disagree, the simpler roll-rate model (the
    challenger rule's :func:`models.evaluate.paired_rule`). Returns ``(choice, reason)``."""
    name = NAMES.get(feature_kind, feature_kind)
    wins, reason = paired_rule(
        diff,
        point,
        richer=name,
        simpler="roll-rate model",
        label=f"{name} - roll-rate",
        auc_name="AUC difference within folds",
    )
    return ("feature" if wins else "rollrate"), reason


def rollrate_on_folds(frame: pd.DataFrame, fold_rows: pd.DataFrame, params: RollRateParams) -> np.ndarray:
    """The roll-rate PD of each pooled fold row (``fold``, ``debtor_id``, ``as_of``): per fold, the
    model fitted on ``frame`` as of the fold's first evaluation snapshot (moves and labels known by
    then), scoring the fold's rows (their state inputs taken from ``frame``)."""
    keys = ["debtor_id", "as_of"]
    inputs = frame.assign(debtor_id=frame["debtor_id"].astype("string"))
    rows = fold_rows[["fold", *keys]].assign(debtor_id=fold_rows["debtor_id"].astype("string"))
    rows = rows.reset_index(drop=True).assign(_pos=np.arange(len(fold_rows)))
    merged = rows.merge(inputs, on=keys, how="left", validate="many_to_one")
    out = np.full(len(fold_rows), np.nan)
    for _, part in merged.groupby("fold", sort=True):
        first = pd.Timestamp(part["as_of"].min())
        model = RollRateModel(params).fit(frame, as_of=first)
        out[part["_pos"].to_numpy()] = model.predict_proba(part)[:, 1]
    return out


@dataclass(frozen=True)
class SmallBookChoice:
    """What :func:`small_book_choice` decided and on what.

    ``choice``: ``"feature"`` (ship ``feature``, a ``models.train.TrainingOutcome``) or
    ``"rollrate"``; ``reason``: one sentence with the counts and intervals; ``floor``: True when the
    feature model could not be compared (below the floor: ``feature`` may still be None);
    ``intervals`` / ``point``: ``feature - roll-rate`` (``logloss``, ``auc`` within folds);
    ``rows``: the pooled fold rows (``fold``, ``debtor_id``, ``as_of``, ``y``, ``pd_feature``,
    ``pd_rollrate``); ``table``: one row per fold with both models' AUC and log-loss."""

    choice: str
    reason: str
    floor: bool
    min_defaults: int
    feature: Any = None
    feature_kind: str = ""
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    point: dict[str, float] = field(default_factory=dict)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    def record(self) -> dict[str, Any]:
        """Flat figures for MLflow (params and metrics)."""
        out: dict[str, Any] = {
            "small_book_choice": self.choice if not self.floor else "rollrate (floor)",
            "small_book_min_defaults": self.min_defaults,
            "small_book_feature_kind": self.feature_kind or "none",
        }
        if len(self.rows):
            out["small_book_folds"] = int(self.rows["fold"].nunique())
            out["small_book_fold_rows"] = int(len(self.rows))
            out["small_book_fold_defaults"] = int(self.rows["y"].sum())
            for m in ("logloss", "auc"):
                out[f"feature_minus_rollrate_folds_{m}"] = float(self.point[m])
                out[f"feature_minus_rollrate_folds_{m}_ci_low"] = float(self.intervals[m][0])
                out[f"feature_minus_rollrate_folds_{m}_ci_high"] = float(self.intervals[m][1])
        return out


def _fold_table(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for fold, part in rows.groupby("fold", sort=True):
        y = part["y"].to_numpy()
        entry = {
            "fold": int(fold),
            "first": pd.Timestamp(part["as_of"].min()).strftime("%Y-%m-%d"),
            "rows": len(part),
            "defaults": int(y.sum()),
        }
        for name in ("feature", "rollrate"):
            m = classification_metrics(y, part[f"pd_{name}"].to_numpy())
            entry[f"{name}_auc"], entry[f"{name}_logloss"] = m["auc"], m["logloss"]
        out.append(entry)
    return pd.DataFrame(out)


def _folds_at(frame: pd.DataFrame, feature: Any, params: Any, fold_defaults: int) -> tuple[pd.DataFrame, int]:
    """The feature model's kind refitted on rolling-origin folds whose windows hold ``fold_defaults``
    defaults each (``models.challenger.plan_folds`` back from ``feature``'s test window; each fold
    fitted, early-stopped and calibrated only on snapshots whose horizon ended before it). Only that
    kind is fitted: the other is not compared here. Returns the pooled rows (``fold``,
    ``debtor_id``, ``as_of``, ``y``, ``pd_feature``) and the fold count."""
    from models.challenger import plan_folds
    from models.split import snapshot_summary
    from models.train import fold_rows

    fold_params = dataclasses.replace(
        params, split=dataclasses.replace(params.split, min_defaults=fold_defaults)
    )
    summary = snapshot_summary(frame[["as_of", "label", "horizon_observed"]])
    folds = plan_folds(
        summary,
        feature.plan.test,
        fold_params.split,
        horizon_days=params.horizon_days,
        target_defaults=params.fold_defaults,
        max_folds=params.max_folds,
    )
    if len(folds) < 2:
        return pd.DataFrame(), len(folds)
    labelled = frame[frame["label"].notna()]
    pooled, _ = fold_rows(
        labelled,
        folds,
        feature.feature_names,
        feature.categories,
        feature.categorical,
        fold_params,
        kinds=(feature.kind,),
    )
    rows = pooled[["fold", "debtor_id", "as_of", "y"]].copy()
    rows["pd_feature"] = pooled[f"pd_{feature.kind}"].to_numpy()
    return rows, len(folds)


def small_book_choice(
    frame: pd.DataFrame,
    train_params: Any,
    rollrate_params: RollRateParams,
    min_defaults: int,
    rollrate_frame: pd.DataFrame | None = None,
    fold_defaults: int | None = None,
) -> SmallBookChoice:
    """The rule of the module doc on a book that cannot fill the windows at
    ``train_params.split.min_defaults``. ``frame``: the modelling frame (``train_pd_model``'s input);
    ``rollrate_frame``: the same rows as the roll-rate model reads them (default ``frame``);
    ``min_defaults``: the lower per-window minimum of the feature model; ``fold_defaults``: the
    per-window minimum of the comparison folds (None: ``min_defaults``, the folds of the feature
    model's own challenger rule; lower: folds planned and refitted at that minimum, see
    :func:`_folds_at`)."""
    from models.split import BookTooSmallError
    from models.train import train_pd_model

    rr_frame = frame if rollrate_frame is None else rollrate_frame
    low = dataclasses.replace(
        train_params,
        split=dataclasses.replace(train_params.split, min_defaults=min_defaults),
        challenger="auto",
    )
    try:
        feature = train_pd_model(frame, low)
    except BookTooSmallError as exc:
        why = str(exc).split(". ")[0]
        return SmallBookChoice(
            "rollrate",
            f"only the roll-rate model was tried: LightGBM and the scorecard cannot fill their windows "
            f"even at {min_defaults} defaults each ({why})",
            True,
            min_defaults,
        )
    at = min_defaults if fold_defaults is None else fold_defaults
    if at == min_defaults and len(feature.fold_rows) and feature.fold_rows["fold"].nunique() >= 2:
        rows = feature.fold_rows[["fold", "debtor_id", "as_of", "y"]].copy()
        rows["pd_feature"] = feature.fold_rows[f"pd_{feature.kind}"].to_numpy(dtype="float64")
    elif at == min_defaults:
        rows = pd.DataFrame()
    else:
        rows, _ = _folds_at(frame, feature, low, at)
    if len(rows) == 0:
        return SmallBookChoice(
            "rollrate",
            f"only the roll-rate model was tried: at {at} defaults per window the snapshots "
            "give fewer than 2 rolling-origin folds to compare it with LightGBM or the scorecard on",
            True,
            min_defaults,
            feature=feature,
            feature_kind=feature.kind,
        )
    rows["pd_rollrate"] = rollrate_on_folds(rr_frame, rows, rollrate_params)
    point, ci = paired_difference(
        rows["y"].to_numpy(),
        rows["pd_feature"].to_numpy(),
        rows["pd_rollrate"].to_numpy(),
        rows["debtor_id"].astype("string").to_numpy(),
        rows["fold"].to_numpy(),
        n_boot=train_params.bootstrap_samples,
        seed=train_params.seed,
    )
    choice, why = choose_small_book(ci, point, feature.kind)
    n_folds, n_def = int(rows["fold"].nunique()), int(rows["y"].sum())
    reason = (
        f"{why}; on {n_folds} pooled rolling-origin folds ({len(rows):,} rows, {n_def} defaults; "
        f"{NAMES[feature.kind]} ships trained at {min_defaults} defaults per window, the folds' at {at}, each fold "
        "fitted only on snapshots before it, the roll-rate model on the moves known at its first month-end)"
    )
    return SmallBookChoice(
        choice,
        reason,
        False,
        min_defaults,
        feature=feature,
        feature_kind=feature.kind,
        intervals=dict(ci),
        point=dict(point),
        rows=rows,
        table=_fold_table(rows),
    )
