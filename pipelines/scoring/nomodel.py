"""The nightly without a PD model (issues 11/13: a book too small to train).

A 100-120-customer book gets no PD model for its first one to two years: ``ews train`` refuses it below the
roll-rate model's minimum (3 moves into default by default). Until then the nightly runs in this mode when no
version of the PD model is registered at all (``ews score --require-model`` keeps the refusal, exit 2): it
publishes what the ledger supports and leaves every model figure empty, never 0 or invented:

- scores.parquet: exposure, overdue amounts, days past due, in default (the project's default definition) per
  debtor; ``pd``, ``raw_score`` and ``band`` empty (``band`` reads ``default`` for a debtor in default: the
  definition's verdict, not a model's);
- the collections queue of live overdue debtors ranked by days past due (the oldest overdue invoice's), then
  the overdue amount, then debtor_id: the order ``ews backtest`` reports as ``dpd_capture_top20`` (the baseline
  a model's queue is measured against); ``pd``, ``band``, ``expected_loss`` and ``priority`` empty; the action
  rules that need no PD fire as usual (a rule with ``min_pd`` never matches: there is no PD to compare);
- the recovery queue, dispute / payment-plan / event actions and owners as with a model (none of them reads a PD);
- credit_limits: the current limits on file and the need (invoiced volume x terms); the recommended limits are a
  factor per risk band, so they are empty;
- the watchlist with the triggers that need no PD: ``limit_breach`` against the current limits on file,
  ``dpd_bucket`` (the queue's days past due into a later bucket since the previous run) and ``event`` (an event,
  a new dispute or a payment plan broken since the previous run); the others compare PDs or bands and stay off;
  ``ews backtest --no-model`` replays this run on past month-ends (``pipelines.backtest.replay``);
- the payment-date files when an ``ews-paydate`` champion exists (it needs no defaults), else said;
- report.html with the notice at its top: no PD model yet, why (the counts) and what the first one needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.words import counted

MODE = "no_pd_model"
"""The manifest's ``mode`` of a run without a PD model (a run with one: ``pd_model``)."""
KEY = "dpd"
"""The collections queue's ranking key without a PD: days past due, then the overdue amount."""
KEY_WHY = (
    "no PD model yet: ranked by days past due (the oldest overdue invoice's), then the overdue amount "
    "(the order ews backtest reports as dpd_capture_top20)"
)


@dataclass(frozen=True)
class NoModel:
    """The stand-in for a loaded model version when none is registered (:mod:`pipelines.scoring.nomodel`).

    ``name``: the PD model's registry name (``model_name`` of the nightly config); ``why``: the registry's
    words (which store, which name). No version, run, features, reference or tags."""

    name: str
    why: str
    registered: bool = False  # versions exist, none champion (a first version its gate refused)
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    kind: str = "none"
    definition: dict[str, Any] | None = None
    feature_names: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    reference: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def is_no_model(loaded: Any) -> bool:
    """True for the :class:`NoModel` stand-in."""
    return isinstance(loaded, NoModel)


def notice(
    loaded: NoModel,
    scored: pd.DataFrame,
    first_day: Any = None,
    as_of: Any = None,
    min_defaults: int = 3,
    moves: int | None = None,
) -> str:
    """The report's and the manifest's first words of a run without a PD model: none yet, why (the book's
    counts tonight) and what the first one needs. ``first_day``: the first dated row of the data (None:
    unknown); ``min_defaults``: the roll-rate model's ``min_default_transitions`` (the train config's; 3 by
    default); ``moves``: the book's moves into default from one month-end to the next by tonight, as `ews
    train` counts them (:func:`default_moves`), the one figure said beside that minimum (before session 42
    the notice said the debtors in default tonight, which the minimum does not count); None: unknown."""
    n = int(len(scored))
    in_default = int(scored["in_default"].astype(bool).sum()) if "in_default" in scored else 0
    span = ""
    if first_day is not None and as_of is not None:
        days = (pd.Timestamp(as_of) - pd.Timestamp(first_day)).days + 1
        months = max(int(round(days / (365.25 / 12))), 0)  # 2023-01-02..2024-06-30: 18 months
        span = f" over {counted(months, 'month')} of dated history (from {pd.Timestamp(first_day).date()})"
    needs = (
        "The first model needs a version that passes its promotion gate (`ews train` as months come in), or one "
        'accepted as it is (`ews models promote VERSION --reason "..."`)'
        if loaded.registered
        else f"The smallest PD model ews trains (the roll-rate model) needs at least {min_defaults} moves into "
        "default from one month-end to the next (rollrate.min_default_transitions in the train config); `ews "
        "train` names what is missing when it refuses"
    )
    said = f"This book has {counted(n, 'debtor')}{span}, {counted(in_default, 'debtor')} in default tonight. {needs}."
    if moves is not None and not loaded.registered:
        enough = moves >= min_defaults  # e.g. a book scored before its first `ews train`
        said = (
            f"This book has {counted(n, 'debtor')}{span} and {moves:,} move{'' if moves == 1 else 's'} into "
            f"default from one month-end to the next so far, {'enough for' if enough else 'of'} the "
            f"{min_defaults} the smallest PD model ews trains (the roll-rate model) needs "
            "(rollrate.min_default_transitions in the train config; `ews train` counts the same moves and names "
            f"what else is missing when it refuses){': run `ews train`' if enough else ''}."
        )
    return (
        f"No PD model yet: {loaded.why}. {said} Tonight's run is the ledger's: aging, DSO, exposure, the collections queue by days past "
        "due, the recovery queue, actions, owners and the watchlist's checks that need no PD (over the limit on "
        "file, days past due into a later bucket, a new event or dispute); "
        "PD, band, expected loss and recommended limits are empty until `ews train` registers the first model, "
        "which the next run then uses without any other step"
    )


def model_before(out_dir: Path, as_of: Any) -> str | None:
    """``"ews-pd v3 (the run of 2024-06-30)"`` when the latest run published in ``out_dir`` before ``as_of``
    was scored by a PD model (its manifest names one); None without an earlier run or when it had none. A
    book that had a PD model and has none tonight lost it (another tracking store, another ``model_name``,
    a champion alias removed): :func:`lost_model_words`, not a run without a PD model."""
    from pipelines.adapters.publish import latest_before

    run = latest_before(Path(out_dir), pd.Timestamp(as_of).date())
    if run is None:
        return None
    try:
        model = json.loads((run / "manifest.json").read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(model, dict) or not model.get("version"):
        return None
    return f"{model.get('name')} v{model['version']} (the run of {run.name})"


def lost_model_words(why: str, before: str) -> str:
    """The refusal of a run without a PD model in a runs folder whose last run had one (:func:`model_before`):
    a store or config pointed elsewhere would otherwise turn every later night into a run without PDs, exit 0."""
    return (
        f"{why}, but the previous run was scored by {before}: the tracking store or model_name is not the one "
        "that run used (check paths.mlflow_tracking_uri / MLFLOW_TRACKING_URI and model_name), or the champion "
        "alias was removed. A run without a PD model is for a book that never had one: point the config back "
        'at the store, or promote a version (`ews models promote VERSION --reason "..."`)'
    )


def default_moves(book: Any, as_of: Any, project: Any, train: Any) -> int:
    """The book's moves into default from one month-end to the next by ``as_of``, counted as `ews train`
    counts them for the roll-rate model's minimum (``models.rollrate.check_book``'s ``moves_to_default``):
    the train config's (``train``) snapshot month-ends up to ``as_of``, the modelling frame's states, a move
    from a state that is not default at one month-end to default at the next. 0 when no snapshot month-end
    is on or before ``as_of`` yet. Builds the features of every such month-end (a small book's, as `ews
    train` does)."""
    from features.statements import with_statement_dpd
    from models.rollrate import transition_counts
    from pipelines.flows.train import DataError, build_dataset, snapshot_dates

    try:
        dates = [d for d in snapshot_dates(book, train) if d <= pd.Timestamp(as_of)]
    except DataError:
        return 0
    if not dates:
        return 0
    frame = build_dataset(book, dates, project)
    params = train.rollrate.to_params(project.default_definition.to_params(), train)
    counts = transition_counts(with_statement_dpd(frame), params)
    return int(counts[:-1, -1].sum())
