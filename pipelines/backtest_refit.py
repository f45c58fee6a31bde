"""Walk-forward models for ``ews backtest --refit-every N``: a model refitted every N month-ends of
the replay, each trained only on labels observed by its refit date.

A model refitted on month-end R learns from the snapshots S with S + horizon <= R: their features
use rows dated <= S and their label (first default in (S, S + horizon]) is known by R. It scores
the month-ends from R up to the next refit. So no model ever saw a label after a date it scores,
unlike one registered version trained once (:func:`pipelines.backtest.leakage` checks that case).
The training is ``ews train``'s (:func:`pipelines.flows.train.fit_pd`: out-of-time split,
LightGBM and scorecard, calibration, challenger choice; on a book too small for those windows the
small book's model, roll-rate or LightGBM on every labelled month-end) with the train config's
settings; nothing is logged to MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig

__all__ = ["Refit", "refit_dates", "walk_forward"]


@dataclass(frozen=True)
class Refit:
    """One walk-forward model: refitted on ``on``, scoring ``on`` .. the next refit."""

    on: pd.Timestamp
    trained_through: pd.Timestamp  # latest snapshot learned from (its label known by ``on``)
    kind: str
    rows: int
    test_auc: float
    loaded: Any  # a pipelines.adapters.registry.LoadedModel (not registered)

    def record(self) -> dict[str, Any]:
        return {
            "refit_on": self.on.date().isoformat(),
            "trained_through": self.trained_through.date().isoformat(),
            "labels_seen_until": None,  # filled by walk_forward (trained_through + horizon)
            "kind": self.kind,
            "rows": self.rows,
            "test_auc": round(self.test_auc, 4),
        }


def refit_dates(dates: Sequence[pd.Timestamp], every: int) -> list[pd.Timestamp]:
    """Every ``every``-th date of ``dates`` (ascending), starting with the first."""
    if every < 1:
        raise ValueError(f"--refit-every must be at least 1 month, got {every}")
    return [pd.Timestamp(d) for d in list(dates)[::every]]


def _loaded(outcome: Any, on: pd.Timestamp) -> Any:
    """A training outcome as the registry would load it: the feature model's final estimator, or
    the roll-rate model itself (``kind`` rollrate, scored through its ``predict_proba``); names,
    categories and categorical columns from the outcome's schema, as :func:`load_model_version`."""
    from pipelines.adapters.registry import LoadedModel

    booster = outcome.model.booster_ if outcome.kind == "lightgbm" else None
    schema = outcome.schema
    estimator = getattr(outcome, "final_estimator", None)  # a roll-rate outcome has none
    return LoadedModel(
        name="walk-forward",
        version=f"refit {on.date()}",
        alias=None,
        run_id="",
        estimator=outcome.model if estimator is None else estimator,
        booster=booster,
        feature_names=list(schema["feature_names"]),
        categorical_features=list(schema["categorical"]),
        categories={f["name"]: list(f["categories"]) for f in schema["features"] if f["dtype"] == "category"},
        reference=outcome.reference,
        metrics=dict(outcome.metrics),
        schema=schema,
        kind=outcome.kind,
    )


def walk_forward(
    portfolio: Any,
    dates: Sequence[pd.Timestamp],
    every: int,
    train_cfg: TrainConfig,
    project: ProjectConfig,
    progress: Any = None,
) -> tuple[list[Refit], dict[str, Any]]:
    """Fit the walk-forward models for replaying ``dates`` (ascending month-ends).

    The modelling frame is built once, for the month-ends from ``snapshots.start`` of
    ``train_cfg`` (default: the data's first month-end plus ``min_history_months``) to the last
    refit date minus the horizon. Returns (the refits, ascending, and the leakage record for
    ``backtest.json``). Raises ``ValueError`` naming the refit date when its labelled history
    cannot fill the out-of-time windows (too few defaults), with the fix. Runs with one BLAS thread
    (:func:`pipelines.runtime.one_blas_thread`) whoever calls it, as ``ews train`` does."""
    from pipelines.runtime import one_blas_thread

    with one_blas_thread():
        return _walk_forward(portfolio, dates, every, train_cfg, project, progress)


def _walk_forward(
    portfolio: Any,
    dates: Sequence[pd.Timestamp],
    every: int,
    train_cfg: TrainConfig,
    project: ProjectConfig,
    progress: Any,
) -> tuple[list[Refit], dict[str, Any]]:
    from features.snapshots import month_ends
    from pipelines.flows.train import build_dataset, data_window, fit_pd

    horizon = pd.Timedelta(days=project.default_definition.horizon_days)
    refits = refit_dates(dates, every)
    first, _ = data_window(portfolio)
    start = (
        pd.Timestamp(train_cfg.snapshots.start)
        if train_cfg.snapshots.start
        else first + pd.DateOffset(months=train_cfg.snapshots.min_history_months)
    )
    last = refits[-1] - horizon
    snaps = [pd.Timestamp(s) for s in month_ends(start, last)] if last >= start else []
    if not snaps:
        raise ValueError(
            f"no month-end with a label observed by {refits[0].date()} (history from {first.date()}): "
            "start the backtest later (--from) to leave a training history"
        )
    frame = build_dataset(portfolio, snaps, project)
    out = []
    for on in refits:
        rows = frame.loc[frame["as_of"] + horizon <= on]
        if rows.empty:
            raise ValueError(
                f"refit on {on.date()}: no snapshot has its label observed yet; start later (--from)"
            )
        try:
            # as `ews train` fits it: on a book too small for the out-of-time windows, the small
            # book's model (roll-rate, or LightGBM on every labelled month-end)
            outcome = fit_pd(
                rows, train_cfg, project.default_definition.horizon_days, project.default_definition
            )
        except ValueError as exc:
            raise ValueError(
                f"refit on {on.date()} ({rows['as_of'].nunique()} snapshots up to {rows['as_of'].max().date()}): "
                f"{str(exc).splitlines()[0]}; start the backtest later (--from) or lower split.min_defaults "
                "in the train config"
            ) from None
        through = pd.Timestamp(rows["as_of"].max())
        out.append(
            Refit(on, through, outcome.kind, len(rows), float(outcome.metrics.get("auc", float("nan"))),
                  _loaded(outcome, on))
        )  # fmt: skip
        if progress is not None:
            progress(on)
    records = []
    for r in out:
        rec = r.record()
        rec["labels_seen_until"] = (r.trained_through + horizon).date().isoformat()
        records.append(rec)
    in_sample = []  # by construction empty: the model of d learned labels known by its refit date <= d
    for d in dates:
        used = [rec for r, rec in zip(out, records, strict=True) if r.on <= d][-1]
        if pd.Timestamp(used["labels_seen_until"]) > d:
            in_sample.append(d.date().isoformat())
    leak = {
        "walk_forward": records,
        "refit_every_months": every,
        "in_sample": in_sample,
        "trained_through": max(rec["trained_through"] for rec in records),
        "labels_seen_until": max(rec["labels_seen_until"] for rec in records),
        "leak_free_end": None,
    }
    return out, leak


def walk_forward_scorer(refits: Sequence[Refit], cfg: NightlyConfig) -> Any:
    """A :data:`pipelines.backtest.Scorer` scoring each month-end with the latest refit on or
    before it (the features frame's ``as_of``)."""
    from pipelines.backtest import model_scorer

    scorers = [(r.on, model_scorer(r.loaded, cfg)) for r in refits]

    def score(live: pd.DataFrame) -> pd.Series:
        when = pd.Timestamp(live["as_of"].iloc[0])
        usable = [s for on, s in scorers if on <= when]
        if not usable:
            raise ValueError(f"no walk-forward model refitted on or before {when.date()}")
        return usable[-1](live)

    return score
