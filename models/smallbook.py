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
from models.gate_words import counted
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
    all_labelled: bool = False
    trees: int = 0
    fold_logloss: dict[str, float] = field(default_factory=dict)
    fold_calibrated: bool = False
    folds_left_out: tuple[str, ...] = ()

    def fold_scoring(self) -> str:
        """How the inner folds' LightGBM models score their rows, in words (model card, gate)."""
        if self.fold_calibrated:
            return (
                "each behind its own calibrator (none / sigmoid / beta, chosen as the registered model's, on "
                "debtor-grouped out-of-fold scores of the fold's training rows)" + self.left_out_words()
            )
        return "uncalibrated (raw probabilities: the registered model's calibrator sits on the refit's scale)"

    def left_out_words(self) -> str:
        """``""``, or the inner folds left out of the comparison because they have no calibrator of
        their own (:func:`all_labelled_choice` with ``calibrate``), counted and named."""
        if not self.folds_left_out:
            return ""
        n = len(self.folds_left_out)
        return (
            f"; {n} inner fold{'s' if n > 1 else ''} left out of the comparison, without a calibrator of "
            f"{'their' if n > 1 else 'its'} own (a raw fold would mix two scales in the pooled figures): "
            + "; ".join(self.folds_left_out)
        )

    def record(self) -> dict[str, Any]:
        """Flat figures for MLflow (params and metrics). ``all_labelled`` (``rollrate.all_labelled``):
        also the path, the tree count and each candidate tree count's pooled fold log-loss; then
        ``small_book_min_defaults`` is the fold-defaults floor of :func:`all_labelled_rule`."""
        out: dict[str, Any] = {
            "small_book_choice": self.choice if not self.floor else "rollrate (floor)",
            "small_book_min_defaults": self.min_defaults,
            "small_book_feature_kind": self.feature_kind or "none",
        }
        if self.all_labelled:
            out["small_book_path"] = "all_labelled"
            out["small_book_trees"] = self.trees
            out["small_book_folds_left_out"] = len(self.folds_left_out)
            out.update({f"small_book_fold_logloss_{k}": float(v) for k, v in self.fold_logloss.items()})
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


# ---------------------------------------------------------------------------------------------
# The feature model fitted on every labelled month-end (session 21; BENCHMARKS.md s20-smallfm, s21-small)
# ---------------------------------------------------------------------------------------------

TREE_COUNTS: tuple[int, ...] = (25, 50, 100, 150, 200, 300)


def known_at(frame: pd.DataFrame, cut: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """The modelling frame as it stood on ``cut``: rows up to it, labels whose horizon ends after it
    masked (``label`` NA, ``horizon_observed`` False)."""
    past = frame[frame["as_of"] <= cut].copy()
    unseen = past["as_of"] + pd.Timedelta(days=horizon_days) > cut
    past.loc[unseen, "label"] = pd.NA
    past.loc[unseen, "horizon_observed"] = False
    return past


def inner_folds(frame: pd.DataFrame, months: int, per_fold: int) -> list[list[pd.Timestamp]]:
    """The last ``months`` labelled month-ends of ``frame`` in folds of ``per_fold`` consecutive ones
    (the earliest first)."""
    labelled = sorted(frame.loc[frame["label"].notna(), "as_of"].unique())[-months:]
    return [[pd.Timestamp(t) for t in labelled[i : i + per_fold]] for i in range(0, len(labelled), per_fold)]


@dataclass(frozen=True)
class AllLabelledFit:
    """ews's LightGBM (the train config's parameters, ``trees`` trees, no early stopping) fitted on
    every labelled row of a frame, the features selected on those rows (``models.train.feature_set``);
    ``predict``: the raw LightGBM probability clipped to ``[pd_floor, pd_ceiling]``."""

    model: Any
    kept: list[str]
    dropped: dict[str, str]
    categorical: list[str]
    categories: dict[str, list[str]]
    pd_floor: float
    pd_ceiling: float

    @classmethod
    def fit(cls, frame: pd.DataFrame, params: Any, trees: int) -> AllLabelledFit:
        from models.train import _lgbm, feature_set, prepare_matrix

        labelled = frame[frame["label"].notna()]
        kept, dropped, categorical, categories = feature_set(frame, labelled, params)
        model = _lgbm(params.lgbm, trees, params.seed).fit(
            prepare_matrix(labelled, kept, categories), labelled["label"].astype(int).to_numpy()
        )
        return cls(model, kept, dropped, categorical, categories, params.pd_floor, params.pd_ceiling)

    def predict(self, rows: pd.DataFrame, trees: int | None = None) -> np.ndarray:
        from models.train import prepare_matrix

        X = prepare_matrix(rows, self.kept, self.categories)
        return np.clip(self.model.predict_proba(X, num_iteration=trees)[:, 1], self.pd_floor, self.pd_ceiling)

    def raw(self, rows: pd.DataFrame, trees: int | None = None) -> np.ndarray:
        """LightGBM's raw score (log-odds) of ``rows`` with the first ``trees`` trees."""
        from models.train import prepare_matrix

        X = prepare_matrix(rows, self.kept, self.categories)
        return np.asarray(self.model.predict(X, raw_score=True, num_iteration=trees), dtype="float64")


def fold_calibrators(
    known: pd.DataFrame, fitted: AllLabelledFit, params: Any, trees: tuple[int, ...]
) -> dict[int, Any]:
    """The shipped model's calibrator rebuilt for one inner fold's model (session 23, BENCHMARKS.md
    s23-folds): for each tree count of ``trees``, :func:`models.calibrate.choose_calibration` (none /
    sigmoid / beta, rolling origin over the month-ends) on debtor-grouped out-of-fold raw scores
    (``models.train.out_of_fold_raw``, ``params.calibration_oof_folds`` folds) of LightGBM with
    ``fitted``'s features over the labelled rows of ``known`` (the fold's training rows only).
    Empty when a debtor fold lacks a class; a tree count whose choice fails is left out (raw PD)."""
    from models.train import oof_calibration, out_of_fold_raw, prepare_matrix

    labelled = known[known["label"].notna()]
    X = prepare_matrix(labelled, fitted.kept, fitted.categories)
    y = labelled["label"].astype(int).to_numpy()
    debtors = labelled["debtor_id"].astype("string").to_numpy()
    oof = out_of_fold_raw("lightgbm", X, y, debtors, max(trees), list(fitted.categorical), params, at=trees)
    if oof is None:
        return {}
    out = {}
    for i, n in enumerate(trees):
        try:
            out[n], _ = oof_calibration(oof[:, i], y, labelled, params)
        except ValueError:  # no rolling-origin or debtor fold with both classes
            continue
    return out


def all_labelled_folds(
    frame: pd.DataFrame,
    params: Any,
    months: int,
    per_fold: int,
    trees: tuple[int, ...] = TREE_COUNTS,
    raw: bool = False,
    calibrate: bool = False,
) -> tuple[pd.DataFrame, list[list[pd.Timestamp]]]:
    """The inner rolling-origin folds of :func:`inner_folds`: for each, :class:`AllLabelledFit` on
    the rows and labels known at the fold's first month-end (:func:`known_at`, ``params.horizon_days``)
    scores the fold's labelled rows at every tree count of ``trees``. Returns the pooled rows
    (``fold``, ``debtor_id``, ``as_of``, ``y``, ``pd_feature_<trees>``; with ``raw`` also each fold
    model's raw score ``raw_feature_<trees>``, for ``benchmarks/small_calib.py``) and the folds. A fold whose
    first month-end knows no label of each kind yet (a short history: the first labelled month-ends
    come less than a horizon after the first snapshot) has nothing to fit on and is left out.
    ``calibrate`` (``rollrate.all_labelled_calibration``): each fold's PDs go through the fold's own
    :func:`fold_calibrators`, as the shipped refit's do through its calibrator, so the tree count and the
    kind are chosen on the pipeline that ships (raw fold PDs sit below their rows' default rate: held-out
    LightGBM on a rare outcome, BENCHMARKS.md s23-folds). A fold that gets no calibrator for some tree
    count (:func:`fold_calibrators`: a debtor fold of its training rows without a default) keeps its
    raw PDs at every tree count and ``fold_calibrated`` False (a column added with ``calibrate``):
    :func:`all_labelled_choice` leaves it out, so the pooled figures are on one scale (session 24)."""
    keys = ["debtor_id", "as_of"]
    columns = ["fold", *keys, "y", *[f"pd_feature_{n}" for n in trees]]
    columns += [f"raw_feature_{n}" for n in trees] if raw else []
    columns += ["fold_calibrated"] if calibrate else []
    parts, kept = [], []
    for ends in inner_folds(frame, months, per_fold):
        known = known_at(frame, ends[0], params.horizon_days)
        if known["label"].dropna().nunique() < 2:
            continue
        part = frame[frame["as_of"].isin(ends) & frame["label"].notna()]
        entry = part[keys].assign(fold=len(kept), y=part["label"].astype(int).to_numpy())
        fitted = AllLabelledFit.fit(known, params, max(trees))
        maps = fold_calibrators(known, fitted, params, trees) if calibrate else {}
        whole = all(n in maps for n in trees)  # every tree count on the calibrated scale, or none
        for n in trees:
            entry[f"pd_feature_{n}"] = (
                np.clip(maps[n].predict(fitted.raw(part, n)), params.pd_floor, params.pd_ceiling)
                if whole
                else fitted.predict(part, n)
            )
        for n in trees if raw else ():
            entry[f"raw_feature_{n}"] = fitted.raw(part, n)
        if calibrate:
            entry["fold_calibrated"] = whole
        parts.append(entry)
        kept.append(ends)
    if not parts:
        return pd.DataFrame(columns=columns), kept
    return pd.concat(parts, ignore_index=True)[columns], kept


def all_labelled_refit_calibrator(
    frame: pd.DataFrame, params: Any, trees: int, fitted: AllLabelledFit | None = None
) -> tuple[Any, Any] | None:
    """The large book's calibrator of a refit (``models.train._shipped_calibrator``'s path) for the
    all-labelled LightGBM: debtor-grouped out-of-fold raw scores (``calibration_oof_folds`` folds) of
    LightGBM with ``trees`` trees over every labelled row of ``frame`` (the shipped model's features,
    :class:`AllLabelledFit`), then :func:`models.calibrate.choose_calibration` (none / sigmoid / beta,
    rolling origin over the month-ends). ``fitted``: the shipped fit (its features), else refitted.
    None when a fold lacks a class (then: no calibrator)."""
    from models.train import prepare_matrix, refit_oof_calibration

    labelled = frame[frame["label"].notna()]
    fitted = AllLabelledFit.fit(frame, params, trees) if fitted is None else fitted
    X = prepare_matrix(labelled, fitted.kept, fitted.categories)
    y = labelled["label"].astype(int).to_numpy()
    try:
        return refit_oof_calibration("lightgbm", X, y, labelled, trees, list(fitted.categorical), params)
    except ValueError:  # no rolling-origin or debtor fold with both classes
        return None


def all_labelled_rule(logloss_diff: float, fold_defaults: int, min_fold_defaults: int) -> tuple[str, str]:
    """The session-21 rule (pre-registered, BENCHMARKS.md s21-small): the feature model when the
    pooled inner-fold rows hold at least ``min_fold_defaults`` defaults *and* its pooled fold
    log-loss minus the roll-rate model's (``logloss_diff``) is below 0 in point; else the roll-rate
    model. Returns ``(choice, reason)``."""
    if fold_defaults < min_fold_defaults:
        return "rollrate", (
            f"the inner folds hold {fold_defaults} defaults, fewer than {min_fold_defaults} "
            "(rollrate.all_labelled_min_fold_defaults): too few to choose on, so the roll-rate model"
        )
    if logloss_diff < 0:
        return "feature", f"LightGBM has the lower pooled fold log-loss ({logloss_diff:+.5f})"
    return (
        "rollrate",
        f"LightGBM's pooled fold log-loss is not lower ({logloss_diff:+.5f}), so the roll-rate model",
    )


def _no_calibrator(frame: pd.DataFrame, ends: list[pd.Timestamp], params: Any) -> str:
    """Why an inner fold (month-ends ``ends``) has no calibrator of its own, in words: what its
    training rows (the labels known at its first month-end) hold."""
    known = known_at(frame, ends[0], params.horizon_days)
    lab = known[known["label"].notna()]
    defaults = lab["label"].astype(int)
    n = int(defaults.sum())
    span = f"{ends[0]:%Y-%m-%d}" if len(ends) == 1 else f"{ends[0]:%Y-%m-%d}..{ends[-1]:%Y-%m-%d}"
    return (
        f"{span} (its {counted(len(lab), 'training row')} hold {counted(n, 'default')} of "
        f"{counted(lab.loc[defaults == 1, 'debtor_id'].nunique(), 'debtor')}: the {params.calibration_oof_folds} debtor-grouped "
        "out-of-fold folds, or the calibrator's own folds, leave one without a default)"
    )


def all_labelled_choice(
    frame: pd.DataFrame,
    train_params: Any,
    rollrate_params: RollRateParams,
    *,
    rollrate_frame: pd.DataFrame | None = None,
    months: int = 6,
    per_fold: int = 2,
    min_fold_defaults: int = 25,
    trees: tuple[int, ...] = TREE_COUNTS,
    calibrate: bool = False,
) -> SmallBookChoice:
    """LightGBM fitted on every labelled month-end of a small book, or the roll-rate model
    (``rollrate.all_labelled``; BENCHMARKS.md s20-smallfm, s21-small).

    1. **Inner folds** (:func:`all_labelled_folds`): the last ``months`` labelled month-ends in folds
       of ``per_fold``, each scored by LightGBM fitted on what was known at its first month-end, and
       by the roll-rate model fitted likewise (:func:`rollrate_on_folds`, on ``rollrate_frame``).
    2. **Tree count**: the one of ``trees`` with the lowest pooled fold log-loss.
    3. **Kind**: :func:`all_labelled_rule` (``min_fold_defaults``). The paired debtor-bootstrap
       intervals of ``LightGBM - roll-rate`` (log-loss; AUC within folds) are reported, not used.
    4. **Shipped** when chosen: LightGBM with that tree count refitted on every labelled row; with
       ``calibrate`` (``rollrate.all_labelled_calibration``) behind :func:`all_labelled_refit_calibrator`
       (the large book's refit calibrator, on debtor-grouped out-of-fold raw scores of the refit),
       else no calibrator (the raw probability, clipped); as a ``models.train.TrainingOutcome`` whose
       ``test`` rows are the inner folds' out-of-time rows (there is no test window): see
       :func:`all_labelled_outcome`.

    The tree count and the kind are chosen on the same folds (a mild optimism of the choice)."""
    rr_frame = frame if rollrate_frame is None else rollrate_frame
    rows, folds = all_labelled_folds(frame, train_params, months, per_fold, trees, calibrate=calibrate)
    left_out: list[str] = []
    if calibrate:  # a fold without its own calibrator is left out: every pooled figure on one scale
        gaps = sorted(int(k) for k in rows.loc[~rows["fold_calibrated"].astype(bool), "fold"].unique())
        left_out = [_no_calibrator(frame, folds[k], train_params) for k in gaps]
        folds = [ends for k, ends in enumerate(folds) if k not in gaps]
        rows = rows[~rows["fold"].isin(gaps)].drop(columns="fold_calibrated").reset_index(drop=True)
    y = rows["y"].to_numpy()
    n_def = int(y.sum())
    if len(folds) < 2 or n_def == 0 or n_def == len(y):
        return SmallBookChoice(
            "rollrate",
            f"only the roll-rate model was tried: the last {months} labelled month-ends give "
            f"{counted(len(folds), 'inner fold')} with labels of both kinds known at their first month-end"
            + (" and a calibrator of their own" if calibrate else "")
            + f", with {n_def} defaults among {len(y):,} rows, nothing to compare on"
            + (f" ({len(left_out)} left out: " + "; ".join(left_out) + ")" if left_out else ""),
            True,
            min_fold_defaults,
            feature_kind="lightgbm",
            all_labelled=True,
            folds_left_out=tuple(left_out),
        )
    rows["pd_rollrate"] = rollrate_on_folds(rr_frame, rows, rollrate_params)
    losses = {str(n): classification_metrics(y, rows[f"pd_feature_{n}"].to_numpy())["logloss"] for n in trees}
    best = int(min(losses, key=losses.get))
    losses["rollrate"] = classification_metrics(y, rows["pd_rollrate"].to_numpy())["logloss"]
    rows["pd_feature"] = rows[f"pd_feature_{best}"]
    rows = rows[["fold", "debtor_id", "as_of", "y", "pd_feature", "pd_rollrate"]]
    point, ci = paired_difference(
        y,
        rows["pd_feature"].to_numpy(),
        rows["pd_rollrate"].to_numpy(),
        rows["debtor_id"].astype("string").to_numpy(),
        rows["fold"].to_numpy(),
        n_boot=train_params.bootstrap_samples,
        seed=train_params.seed,
    )
    choice, why = all_labelled_rule(float(point["logloss"]), n_def, min_fold_defaults)
    spans = ", ".join(
        f"{t[0]:%Y-%m-%d}" if len(t) == 1 else f"{t[0]:%Y-%m-%d}..{t[-1]:%Y-%m-%d}" for t in folds
    )
    reason = (
        f"{why}; on {len(folds)} pooled inner rolling-origin folds ({len(rows):,} rows, {n_def} defaults; "
        f"evaluated {spans}; log-loss {point['logloss']:+.5f} [{ci['logloss'][0]:+.5f}, {ci['logloss'][1]:+.5f}], "
        f"AUC within folds {point['auc']:+.4f} [{ci['auc'][0]:+.4f}, {ci['auc'][1]:+.4f}], LightGBM - roll-rate; "
        f"LightGBM with {best} trees, fitted on every labelled month-end, each fold's on the labels known at its "
        + ("first month-end behind its own out-of-fold calibrator" if calibrate else "first month-end")
        + ", the roll-rate model on the moves known then"
        + (
            f"; {counted(len(left_out), 'fold')} left out, without a calibrator of their own: "
            + "; ".join(left_out)
            if left_out
            else ""
        )
        + ")"
    )
    out = SmallBookChoice(
        choice,
        reason,
        False,
        min_fold_defaults,
        feature_kind="lightgbm",
        intervals=dict(ci),
        point=dict(point),
        rows=rows,
        table=_fold_table(rows),
        all_labelled=True,
        trees=best,
        fold_logloss=losses,
        fold_calibrated=calibrate,
        folds_left_out=tuple(left_out),
    )
    if choice == "feature":
        out = dataclasses.replace(
            out, feature=all_labelled_outcome(frame, train_params, out, calibrate=calibrate)
        )
    return out


def all_labelled_outcome(
    frame: pd.DataFrame, params: Any, choice: SmallBookChoice, calibrate: bool = False
) -> Any:
    """The shipped ``models.train.TrainingOutcome`` of :func:`all_labelled_choice`: LightGBM with
    ``choice.trees`` trees fitted on every labelled row of ``frame``, behind the calibrator of
    :func:`all_labelled_refit_calibrator` (``calibrate``, ``rollrate.all_labelled_calibration``: the
    large book's refit calibrator, none / sigmoid / beta) or, without ``calibrate``, the identity
    (``none``: the raw probability, clipped), so the registry, the gate and the nightly (TreeSHAP
    reasons) treat it as any LightGBM. The fold rows' ``pd`` is what the choice read: each fold
    model's raw probability, or, when the folds were calibrated (``choice.fold_calibrated``), the fold
    model behind its own calibrator (:func:`fold_calibrators`; the refit's sits on the refit's scale). There is no test window: ``test`` and every ``test_*`` figure
    are the inner folds' out-of-time rows (``pd``: each fold's model; ``pd_baseline``: the roll-rate
    model on the same rows, the baseline the gate compares with through ``evidence``); ``windows``:
    one row per inner fold plus the rows the shipped model was fitted on; ``plan``: train = the
    month-ends before the folds, test = the folds' month-ends."""
    from sklearn.pipeline import Pipeline

    from models.calibrate import CalibratedPD, CalibrationChoice, ScoreCalibrator
    from models.challenger import Evidence
    from models.evaluate import bootstrap_intervals, calibration_table, ece_noise, segment_table
    from models.split import SplitPlan
    from models.train import (
        FeatureCaster,
        TrainingOutcome,
        _importance,
        drift_reference,
        feature_schema,
        prepare_matrix,
    )

    labelled = frame[frame["label"].notna()]
    fitted = AllLabelledFit.fit(frame, params, choice.trees)
    y_all = labelled["label"].astype(int).to_numpy()
    X_all = prepare_matrix(labelled, fitted.kept, fitted.categories)
    got = all_labelled_refit_calibrator(frame, params, choice.trees, fitted) if calibrate else None
    if got is not None:
        calibrator, calibration = got
    else:
        calibrator = ScoreCalibrator("none").fit(fitted.model.predict(X_all, raw_score=True), y_all)
        rule = "none: the raw LightGBM probability, clipped; " + (
            f"the refit's {params.calibration_oof_folds}-fold out-of-fold scores leave a fold without a "
            "class (rollrate.all_labelled_calibration)"
            if calibrate
            else "rollrate.all_labelled_calibration is off"
        )
        calibration = CalibrationChoice(method="none", rule=rule)
    shipped = CalibratedPD(
        fitted.model, calibrator, "lightgbm", tuple(fitted.categorical), params.pd_floor, params.pd_ceiling
    )
    final = Pipeline(
        [("prepare", FeatureCaster(list(fitted.kept), fitted.categories)), ("calibrated", shipped)]
    )

    rows = choice.rows
    keys = ["debtor_id", "as_of"]
    fold_frame = rows[keys].merge(frame, on=keys, how="left", validate="one_to_one")
    y = rows["y"].to_numpy()
    p, p_rr = rows["pd_feature"].to_numpy(), rows["pd_rollrate"].to_numpy()
    seg_col = params.segment_column
    segments = (
        fold_frame[seg_col].astype("string")
        if seg_col in fold_frame.columns
        else pd.Series("(all)", index=rows.index)
    )
    test = pd.DataFrame(
        {
            "debtor_id": rows["debtor_id"].to_numpy(),
            "as_of": rows["as_of"].to_numpy(),
            "segment": segments.astype("string").to_numpy(),
            "y": y,
            "pd": p,
            "pd_raw": p,
            "pd_lightgbm": p,
            "pd_baseline": p_rr,
        }
    )
    ci = bootstrap_intervals(
        y,
        {"lightgbm": p, "rollrate": p_rr},
        rows["debtor_id"].astype("string").to_numpy(),
        n_boot=params.bootstrap_samples,
        seed=params.seed,
    )
    metrics = classification_metrics(y, p)
    baseline = classification_metrics(y, p_rr)
    fold_ends = tuple(sorted(pd.Timestamp(t) for t in rows["as_of"].unique()))
    ends = tuple(sorted(pd.Timestamp(t) for t in labelled["as_of"].unique()))
    plan = SplitPlan(
        train=tuple(t for t in ends if t < fold_ends[0]), validation=(), calibration=(), test=fold_ends
    )
    table = choice.table
    windows = pd.DataFrame(
        [
            {
                "window": f"fold_{int(r['fold'])}",
                "snapshots": int(rows.loc[rows["fold"] == r["fold"], "as_of"].nunique()),
                "first": r["first"],
                "last": pd.Timestamp(rows.loc[rows["fold"] == r["fold"], "as_of"].max()).strftime("%Y-%m-%d"),
                "labelled": int(r["rows"]),
                "defaults": int(r["defaults"]),
                "default_rate": r["defaults"] / r["rows"] if r["rows"] else float("nan"),
            }
            for _, r in table.iterrows()
        ]
        + [
            {
                "window": "fitted_on",
                "snapshots": len(ends),
                "first": ends[0].strftime("%Y-%m-%d"),
                "last": ends[-1].strftime("%Y-%m-%d"),
                "labelled": len(labelled),
                "defaults": int(y_all.sum()),
                "default_rate": float(y_all.mean()),
            }
        ]
    ).set_index("window")
    importance = _importance(fitted.model, fitted.kept)
    n_folds, n_def = int(rows["fold"].nunique()), int(y.sum())
    where = (
        f"the {n_folds} pooled inner rolling-origin folds ({len(rows):,} rows, {n_def} defaults, AUC within folds; "
        "no test window: a small book fitted on every labelled month-end)"
    )
    evidence = Evidence(
        "lightgbm",
        choice.reason,
        where,
        {m: tuple(choice.intervals[m]) for m in ("logloss", "auc")},
        {m: float(choice.point[m]) for m in ("logloss", "auc")},
        len(rows),
        n_def,
        n_folds,
    )
    return TrainingOutcome(
        final_estimator=final,
        model=fitted.model,
        scorecard=None,
        calibration=calibration,
        feature_names=list(fitted.kept),
        categorical=list(fitted.categorical),
        categories=fitted.categories,
        dropped=fitted.dropped,
        plan=plan,
        windows=windows,
        best_iteration=choice.trees,
        metrics=metrics,
        baseline_metrics=baseline,
        uncalibrated_metrics=metrics,
        segments=segment_table(y, p, test["segment"]),
        baseline_segments=segment_table(y, p_rr, test["segment"]),
        calibration_curve=calibration_table(y, p),
        test=test,
        X_test=prepare_matrix(fold_frame, fitted.kept, fitted.categories),
        importance=importance,
        reference=drift_reference(
            frame, labelled, plan, fitted.kept, fitted.categories, final, importance, params
        ),
        schema=feature_schema(fitted.kept, fitted.categories),
        kind="lightgbm",
        lightgbm_metrics=metrics,
        calibrations={"lightgbm": calibration},
        shipped_calibration=calibration,
        intervals={
            "challenger": ci["lightgbm"],
            "uncalibrated": ci["lightgbm"],
            "lightgbm": ci["lightgbm"],
            "baseline": ci["rollrate"],
        },
        ece_tolerance=ece_noise(p, seed=params.seed),
        train_last_as_of=pd.Timestamp(labelled["as_of"].max()),
        evidence=evidence,
        small_book=choice,
    )
