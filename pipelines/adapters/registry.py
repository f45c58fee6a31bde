"""MLflow adapter: log a training, register versions, run the promotion gate, load models back.

``models/`` stays pure (fit, calibrate, evaluate, explain); MLflow lives here. The tracking URI is
``MLFLOW_TRACKING_URI`` when set, else the one passed in (project config), else
``sqlite:///data/mlflow/mlflow.db``; run artifacts go to ``EWS_MLFLOW_ARTIFACTS`` when set, else the
folder passed in, else ``data/mlflow/artifacts``.

Registry conventions (registered model ``ews-pd``):

* every new version gets the alias ``challenger``; ``champion`` moves only when the promotion gate
  passes (:func:`record_gate`) or through a manual, reasoned :func:`promote`;
* every decision is written as model-version tags: flat ``ews.gate.*`` tags with the figures of
  both sides, and an ``ews.events`` JSON list of ``{"event", "at", "by", "reason", ...}`` entries
  (``challenger``, ``gate_failed``, ``champion``, ``retired``) from which :func:`champion_on`
  answers "which version was champion at time X".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.evaluate import METRIC_NAMES, GateDecision, classification_metrics
from models.train import TrainingOutcome, prepare_matrix
from pipelines.adapters import registry_view as view
from pipelines.adapters.registry_view import CHALLENGER, CHAMPION, EVENTS_TAG

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_MODEL_NAME",
    "EXPERIMENT_NAME",
    "LoadedModel",
    "LoggedTraining",
    "NoChampionError",
    "champion_on",
    "configure",
    "history",
    "list_versions",
    "load_model_version",
    "log_rollrate",
    "log_training",
    "prepare_X",
    "promote",
    "record_gate",
    "resolve_version",
    "score_version",
]

DEFAULT_MODEL_NAME = "ews-pd"
EXPERIMENT_NAME = "ews-train"
DEFAULT_ARTIFACTS = Path("data/mlflow/artifacts")
KIND_TAG = "ews.kind"  # lightgbm | scorecard | rollrate: what the version's estimator is
TRAINED_THROUGH_TAG = "ews.trained_through"  # latest labelled snapshot the shipped model learned from
# the gate's comparison with the champion in words (models.gate_words.comparison_words), and its figures as
# ews.gate.comparison.<rows|debtors|defaults|month_ends|first|last|logloss|logloss_low|...> (session 42)
COMPARISON_TAG = "ews.gate.comparison"
# the version's own out-of-time PDs on its test rows (debtor_id, as_of, y, pd): the next `ews train`'s gate
# compares its challenger with them on the rows both held out (pipelines.flows.train.champion_on_test)
TEST_ROWS_ARTIFACT = "evaluation/test_rows.csv"
DEFINITION_ARTIFACT = "definition.json"
DEFINITION_TAG = "ews.definition"


class NoChampionError(LookupError):
    """The requested alias or version does not exist in the registry."""


class ModelArtifactsError(NoChampionError):
    """A registered version exists but its files (model, schema, reference) cannot be read."""


class TrackingUnavailableError(ConnectionError):
    """The MLflow tracking server does not answer. The message names the server and the fix."""


PROBE_TIMEOUT_S = 5.0
# MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) made an unreachable server
# look like "no alias champion" after 264 s; ews uses these unless the user sets them.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
_REACHED: set[str] = set()


def check_tracking_server(uri: str) -> None:
    """Raise :class:`TrackingUnavailableError` when an http(s) tracking ``uri`` does not answer
    within :data:`PROBE_TIMEOUT_S` seconds (once per process and URI; local stores pass)."""
    if not uri.startswith(("http://", "https://")) or uri in _REACHED:
        return
    import requests

    fix = (
        "start it, or fix MLFLOW_TRACKING_URI (or paths.mlflow_tracking_uri in conf/ews.yaml); "
        "unset it to use the local SQLite store"
    )
    try:
        answer = requests.get(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as exc:
        raise TrackingUnavailableError(
            f"MLflow tracking server {view.public_uri(uri)} is unreachable ({type(exc).__name__}, "
            f"no answer within {PROBE_TIMEOUT_S:.0f} s): {fix}"
        ) from None
    if answer.status_code not in (200, 401, 403):  # 401/403: there, but wants credentials
        raise TrackingUnavailableError(
            f"{view.public_uri(uri)} answers, but not as an MLflow tracking server (HTTP {answer.status_code} "
            f"on /health): {fix}"
        )
    _REACHED.add(uri)


# ---------------------------------------------------------------------------------------------
# connection
# ---------------------------------------------------------------------------------------------


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow at the tracking store and return the URI in use.

    ``MLFLOW_TRACKING_URI`` (the caller's environment) wins over ``tracking_uri``; without either,
    the store this process was last configured with, else a SQLite file under data/. The folder of
    a local SQLite file is created. A tracking server (http/https) that does not answer raises
    :class:`TrackingUnavailableError` within seconds. The environment is left as it was: MLflow's
    setters also write ``MLFLOW_TRACKING_URI`` and ``MLFLOW_REGISTRY_URI`` into it, which a later
    call in this process (another project's URI) and every child process read as the user's own.
    """
    uri = view.tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    check_tracking_server(uri)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        view.check_sqlite_store(db)
        db.parent.mkdir(parents=True, exist_ok=True)
    callers = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    finally:
        for key, value in callers.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    view.remember_configured(uri)
    return uri


def _artifact_root(artifacts: str | Path | None) -> str:
    root = Path(os.environ.get("EWS_MLFLOW_ARTIFACTS") or artifacts or DEFAULT_ARTIFACTS).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root.as_uri()


def _experiment_id(name: str, artifacts: str | Path | None) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(name, artifact_location=_artifact_root(artifacts))


def _who(who: str | None) -> str:
    """Who a registry event is by: the person (or the scheduler's account) that ran the command, the
    same for every event of ``ews train`` and ``ews models promote``
    (:data:`pipelines.project_dir.WHO_RULE`)."""
    from pipelines.project_dir import who_ran

    return who_ran(who)


def _now(at: datetime | None) -> str:
    moment = at or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# ---------------------------------------------------------------------------------------------
# logging a training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedTraining:
    """Where a training went: parent run, nested runs, registered version and model-file hash."""

    run_id: str
    version: str
    model_uri: str
    child_runs: dict[str, str]
    model_sha256: str


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key in sorted(value):
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    elif isinstance(value, list | tuple):
        out[prefix] = json.dumps(list(value), default=str)
    else:
        out[prefix] = str(value)


def _prefixed(metrics: Mapping[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}


def _interval_metrics(intervals: Mapping[str, tuple[float, float]], prefix: str) -> dict[str, float]:
    """``{prefix}{metric}_ci_low`` / ``_ci_high`` for every finite bound."""
    out = {}
    for metric, (low, high) in intervals.items():
        for bound, value in (("low", low), ("high", high)):
            if np.isfinite(value):
                out[f"{prefix}{metric}_ci_{bound}"] = float(value)
    return out


def _input_example(X: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    example = X.head(rows).copy()
    for col in example.columns:
        if isinstance(example[col].dtype, pd.CategoricalDtype):
            example[col] = example[col].astype("object")
    return example


def _requirements() -> list[str]:
    from importlib.metadata import version

    names = ("scikit-learn", "lightgbm", "pandas", "numpy", "cloudpickle", "mlflow")
    return [f"{n}=={version(n)}" for n in names] + ["ews"]


def log_training(
    outcome: TrainingOutcome,
    *,
    params: Mapping[str, Any],
    figures: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    card: str,
    provenance: Mapping[str, Any],
    warnings: list[str],
    scorecard_table: pd.DataFrame | None = None,
    documents: Mapping[str, Any] | None = None,
    definition: Mapping[str, Any] | None = None,
    name: str = DEFAULT_MODEL_NAME,
    experiment: str = EXPERIMENT_NAME,
    artifacts: str | Path | None = None,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    who: str | None = None,
) -> LoggedTraining:
    """Log a :class:`models.train.TrainingOutcome` as one parent run with nested ``lightgbm`` and
    ``scorecard`` runs, register the model as a new version of ``name`` and give it ``challenger``.

    ``params``: the whole resolved config (logged flattened as params); ``figures``: artifact path
    -> matplotlib figure; ``tables``: artifact path (``.csv``) -> frame; ``provenance``: data/config
    hashes and git commit (logged as JSON and as tags); ``warnings`` (e.g. dropped features) are
    logged as ``warnings.txt`` and the ``ews.warnings`` tag; ``documents``: artifact path (``.json``)
    -> JSON-able dict (e.g. the feed reference of the nightly feed checks). ``definition``: the default definition
    and label scale the labels were built with (``DefaultDefinition.as_record()``), logged as
    ``definition.json`` and the ``ews.definition`` tag; the nightly refuses a different one.
    """
    configure(tracking_uri)
    exp_id = _experiment_id(experiment, artifacts)
    flat: dict[str, str] = {}
    _flatten("", dict(params), flat)
    booster_text = outcome.model.booster_.model_to_string()
    if outcome.kind == "lightgbm":
        fingerprint = booster_text
    else:
        table = scorecard_table if scorecard_table is not None else pd.DataFrame()
        fingerprint = table.to_csv(index=False) + repr(outcome.final_estimator[-1].calibrator.__dict__)
    model_sha = hashlib.sha256(fingerprint.encode()).hexdigest()
    child: dict[str, str] = {}
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name or "train") as parent:
        mlflow.log_params(flat)
        tags = {f"ews.{k}": str(v) for k, v in provenance.items() if not isinstance(v, Mapping | list)}
        tags["ews.model_sha256"] = model_sha
        tags["ews.warnings"] = " | ".join(warnings) if warnings else "none"
        shipped_cal = getattr(outcome, "shipped_calibration", None)
        tags["ews.calibration"] = (shipped_cal or outcome.calibration).method
        tags["ews.kind"] = outcome.kind
        tags["ews.selection"] = outcome.selection
        mlflow.set_tags(tags)
        _log_small_book(outcome)
        with mlflow.start_run(experiment_id=exp_id, run_name="lightgbm", nested=True) as run:
            child["lightgbm"] = run.info.run_id
            choice = outcome.calibrations.get("lightgbm", outcome.calibration)
            mlflow.log_params(
                {
                    "best_iteration": outcome.best_iteration,
                    "calibration_method": choice.method,
                    "calibration_rule": choice.rule,
                    "n_features": len(outcome.feature_names),
                }
            )
            mlflow.log_metrics(_prefixed(outcome.lightgbm_metrics, "test_"))
            mlflow.log_metrics(_interval_metrics(outcome.intervals.get("lightgbm", {}), "test_"))
            mlflow.log_metrics(_prefixed(choice.oot_logloss, "calibration_oot_logloss_"))
            mlflow.log_metrics(_prefixed(choice.test_logloss, "calibration_test_logloss_"))
            mlflow.log_text(outcome.importance.to_csv(index=False), "feature_importance.csv")
            mlflow.log_text(booster_text, "model/booster.txt")
        # no scorecard on a small book's LightGBM fitted on every labelled month-end
        # (models.smallbook.all_labelled_outcome): its baseline_test_* are the roll-rate model's
        if outcome.scorecard is not None:
            with mlflow.start_run(experiment_id=exp_id, run_name="scorecard", nested=True) as run:
                child["scorecard"] = run.info.run_id
                choice = outcome.calibrations.get("scorecard", outcome.calibration)
                mlflow.log_params({"calibration_method": choice.method, "calibration_rule": choice.rule})
                mlflow.log_metrics(_prefixed(outcome.baseline_metrics, "test_"))
                mlflow.log_metrics(_interval_metrics(outcome.intervals.get("baseline", {}), "test_"))
                mlflow.log_metrics(_prefixed(choice.oot_logloss, "calibration_oot_logloss_"))
                mlflow.log_metrics(_prefixed(choice.test_logloss, "calibration_test_logloss_"))
                if scorecard_table is not None:
                    mlflow.log_text(scorecard_table.to_csv(index=False), "scorecard_table.csv")
        mlflow.log_params({"kind": outcome.kind, "calibration_method": outcome.calibration.method})
        mlflow.log_metrics(_prefixed(outcome.metrics, "test_"))
        mlflow.log_metrics(_prefixed(outcome.baseline_metrics, "baseline_test_"))
        mlflow.log_metrics(_prefixed(outcome.lightgbm_metrics, "lightgbm_test_"))
        mlflow.log_metrics(_prefixed(outcome.uncalibrated_metrics, "uncalibrated_test_"))
        for key, prefix in (
            ("challenger", "test_"),
            ("baseline", "baseline_test_"),
            ("lightgbm", "lightgbm_test_"),
            ("uncalibrated", "uncalibrated_test_"),
            ("lightgbm-scorecard", "lightgbm_minus_scorecard_test_"),
            ("lightgbm-scorecard-folds", "lightgbm_minus_scorecard_folds_"),
        ):
            mlflow.log_metrics(_interval_metrics(outcome.intervals.get(key, {}), prefix))
        mlflow.log_metrics(_prefixed(outcome.calibration.oot_logloss, "calibration_oot_logloss_"))
        mlflow.log_metrics(_prefixed(outcome.calibration.test_logloss, "calibration_test_logloss_"))
        shipped_cal = getattr(outcome, "shipped_calibration", None)
        if shipped_cal is not None:
            # the registered (refitted) model's own calibrator, chosen apart from the test figures'
            mlflow.log_params(
                {
                    "shipped_calibration_method": shipped_cal.method,
                    "shipped_calibration_rule": shipped_cal.rule,
                }
            )
            mlflow.log_metrics(_prefixed(shipped_cal.oot_logloss, "shipped_calibration_oof_logloss_"))
        mlflow.log_metric("ece_tolerance", outcome.ece_tolerance)
        mlflow.log_metric("best_iteration", outcome.best_iteration)
        if len(outcome.folds):
            # the rolling-origin folds the challenger was chosen on (models.challenger)
            mlflow.log_metrics(
                {
                    "challenger_folds": len(outcome.folds),
                    "challenger_fold_rows": int(outcome.folds["rows"].sum()),
                    "challenger_fold_defaults": int(outcome.folds["defaults"].sum()),
                }
            )
            mlflow.log_text(outcome.folds.to_csv(index=False), "challenger_folds.csv")
        for window, row in outcome.windows.iterrows():
            mlflow.log_metrics(
                {
                    f"{window}_rows": row["labelled"],
                    f"{window}_defaults": row["defaults"],
                    f"{window}_snapshots": row["snapshots"],
                }
            )
        for path, fig in figures.items():
            mlflow.log_figure(fig, path)
        for path, table in tables.items():
            mlflow.log_text(table.to_csv(index=False), path)
        mlflow.log_dict(outcome.schema, "feature_schema.json")
        mlflow.log_dict(outcome.reference, "reference.json")
        mlflow.log_dict(dict(provenance), "provenance.json")
        if definition is not None:
            mlflow.log_dict(dict(definition), DEFINITION_ARTIFACT)
            mlflow.set_tag(DEFINITION_TAG, json.dumps(dict(definition), sort_keys=True))
        mlflow.log_dict(outcome.plan.describe(), "split.json")
        mlflow.log_dict({"dropped": outcome.dropped, "warnings": warnings}, "dropped_features.json")
        for path, doc in (documents or {}).items():
            mlflow.log_dict(dict(doc), path)
        mlflow.log_text("\n".join(warnings) + ("\n" if warnings else ""), "warnings.txt")
        mlflow.log_text(card, "model_card.md")
        mlflow.log_text(test_pds_csv(outcome.test), TEST_ROWS_ARTIFACT)
        if outcome.kind == "lightgbm":
            mlflow.log_text(booster_text, "model/booster.txt")
        example = _input_example(outcome.X_test)
        signature = infer_signature(example, outcome.final_estimator.predict_proba(outcome.X_test.head(5)))
        with _pickle_note_once():
            info = mlflow.sklearn.log_model(
                outcome.final_estimator,
                name="model",
                signature=signature,
                input_example=example,
                serialization_format="cloudpickle",
                pip_requirements=_requirements(),
            )
        run_id = parent.info.run_id
    version = _register_challenger(
        name,
        info.model_uri,
        run_id,
        outcome,
        kind=outcome.kind,
        test_span=outcome.plan.span("test"),
        model_sha=model_sha,
        definition=definition,
        who=who,
    )
    return LoggedTraining(run_id, version, info.model_uri, child, model_sha)


def _register_challenger(
    name: str,
    model_uri: str,
    run_id: str,
    outcome: Any,
    *,
    kind: str,
    test_span: str,
    model_sha: str,
    definition: Mapping[str, Any] | None,
    who: str | None,
) -> str:
    """Register the logged model as a new version of ``name``, tag it with its test figures, kind,
    trained-through date and default definition, set the alias ``challenger`` and record why in the
    version's decision history. Returns the version."""
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="ews probability-of-default model (calibrated)")
    version = str(client.create_model_version(name, model_uri, run_id=run_id).version)
    for key in ("auc", "ece", "brier"):
        client.set_model_version_tag(name, version, f"ews.test_{key}", f"{outcome.metrics[key]:.6f}")
    client.set_model_version_tag(name, version, "ews.test_as_of", test_span)
    client.set_model_version_tag(name, version, "ews.model_sha256", model_sha)
    client.set_model_version_tag(name, version, KIND_TAG, kind)
    if outcome.train_last_as_of is not None:
        client.set_model_version_tag(
            name, version, TRAINED_THROUGH_TAG, outcome.train_last_as_of.strftime("%Y-%m-%d")
        )
    if definition is not None:
        client.set_model_version_tag(
            name, version, DEFINITION_TAG, json.dumps(dict(definition), sort_keys=True)
        )
    client.set_registered_model_alias(name, CHALLENGER, version)
    _append_event(
        client,
        name,
        version,
        {
            "event": CHALLENGER,
            "at": _now(None),
            "by": _who(who),
            "run_id": run_id,
            "reason": f"{kind}: {outcome.selection}",
        }
        | ({"summary": f"{kind}: {outcome.headline}"} if getattr(outcome, "headline", "") else {}),
    )
    return version


def _log_small_book(outcome: Any) -> None:
    """A small book's roll-rate-or-feature-model choice (``models.smallbook``), when it was made:
    params ``small_book_*`` (choice, minimum, the feature model's kind), the tag
    ``ews.small_book_reason``, metrics ``small_book_fold_*`` and ``feature_minus_rollrate_folds_*``
    (point and 95 % interval), the per-fold table ``evaluation/small_book_folds.csv``."""
    choice = getattr(outcome, "small_book", None)
    if choice is None:
        return
    record = choice.record()
    mlflow.log_params({k: v for k, v in record.items() if isinstance(v, str) or k.endswith("min_defaults")})
    mlflow.log_metrics(
        {k: float(v) for k, v in record.items() if not isinstance(v, str) and not k.endswith("min_defaults")}
    )
    mlflow.set_tag("ews.small_book_reason", choice.reason)
    if len(choice.table):
        mlflow.log_text(choice.table.to_csv(index=False), "evaluation/small_book_folds.csv")


def log_rollrate(
    outcome: Any,
    *,
    params: Mapping[str, Any],
    figures: Mapping[str, Any],
    card: str,
    provenance: Mapping[str, Any],
    warnings: list[str],
    documents: Mapping[str, Any] | None = None,
    definition: Mapping[str, Any] | None = None,
    name: str = DEFAULT_MODEL_NAME,
    experiment: str = EXPERIMENT_NAME,
    artifacts: str | Path | None = None,
    tracking_uri: str | None = None,
    who: str | None = None,
) -> LoggedTraining:
    """Log a :class:`models.rollrate.RollRateOutcome` (the small-book path) as one run and register
    it as a new version of ``name`` with ``ews.kind = rollrate`` and the alias ``challenger``.

    Params: the resolved config, the states and the prior; metrics: the out-of-time test figures
    (``test_*``, ``test_*_ci_low/high``), the book's counts; artifacts: ``rollrate/transition_counts.csv``
    (moves, rows from / columns to), ``rollrate/matrix.csv`` (smoothed), ``rollrate/states.csv``
    (PD and observed outcomes per state), ``evaluation/test_rows.csv``, the calibration curve, the
    feature schema, the drift reference and the model (scikit-learn flavour, like the other kinds)."""
    configure(tracking_uri)
    exp_id = _experiment_id(experiment, artifacts)
    model = outcome.model
    flat: dict[str, str] = {}
    _flatten("", dict(params), flat)
    counts_csv = model.transition_table().to_csv()
    fingerprint = counts_csv + model.matrix_table().to_csv() + repr(model.params)
    silent = getattr(model.params, "silent", False)
    if silent:  # the silent state's rule (its fields are left out of the params' repr)
        rule = model.params
        fingerprint += repr(
            (
                rule.silent_payment_days,
                rule.silent_invoice_days,
                rule.silent_invoice_gaps,
                rule.silent_max_dpd,
                getattr(rule, "silent_as", "overlay"),
            )
        )
    quiet_model = getattr(model, "silent_model_", None)
    if quiet_model is not None:  # the overlay's state model
        fingerprint += quiet_model.transition_table().to_csv() + quiet_model.matrix_table().to_csv()
    within = getattr(model, "within_", None)
    if within is not None:  # the resolution inside the states: its fitted numbers and whether it is used
        fingerprint += repr(
            (within.kept, within.coef.tolist(), within.shift.tolist(), within.centre.tolist())
        )
        if getattr(within, "gain", 1.0) != 1.0:  # the scale on the adjustment (s13; none before it)
            fingerprint += repr(within.gain)
    model_sha = hashlib.sha256(fingerprint.encode()).hexdigest()
    with mlflow.start_run(experiment_id=exp_id, run_name="train") as run:
        mlflow.log_params(flat)
        mlflow.log_params(
            {
                "kind": "rollrate",
                "rollrate_states": json.dumps(model.states_),
                "rollrate_prior_strength": model.params.prior_strength,
                "rollrate_monotone": getattr(model.params, "monotone", False),
                "rollrate_horizon_months": model.months_,
                "rollrate_within_state": json.dumps(list(getattr(model.params, "within_state", ()))),
                "rollrate_within_used": bool(
                    getattr(model, "within_", None) is not None and model.within_.kept
                ),
                "rollrate_within_gain": float(getattr(getattr(model, "within_", None), "gain", 1.0)),
            }
        )
        if silent:
            mlflow.log_params(
                {
                    "rollrate_silent": True,
                    "rollrate_silent_payment_days": model.params.silent_payment_days,
                    "rollrate_silent_invoice_days": model.params.silent_invoice_days,
                    "rollrate_silent_invoice_gaps": model.params.silent_invoice_gaps,
                    "rollrate_silent_max_dpd": model.params.silent_max_dpd or model.params.dpd_edges[-1],
                    "rollrate_silent_as": getattr(model.params, "silent_as", "overlay"),
                }
            )
        if quiet_model is not None:  # the state model behind the overlay: its moves, matrix and PDs
            mlflow.log_text(quiet_model.transition_table().to_csv(), "rollrate/silent_transition_counts.csv")
            mlflow.log_text(quiet_model.matrix_table().to_csv(), "rollrate/silent_matrix.csv")
            mlflow.log_text(quiet_model.state_table().to_csv(index=False), "rollrate/silent_states.csv")
        tags = {f"ews.{k}": str(v) for k, v in provenance.items() if not isinstance(v, Mapping | list)}
        tags.update(
            {
                "ews.model_sha256": model_sha,
                "ews.warnings": " | ".join(warnings) if warnings else "none",
                "ews.calibration": "none (transition frequencies)",
                KIND_TAG: "rollrate",
                "ews.selection": outcome.selection,
            }
        )
        mlflow.set_tags(tags)
        _log_small_book(outcome)
        mlflow.log_metrics(_prefixed(outcome.metrics, "test_"))
        mlflow.log_metrics(_interval_metrics(outcome.intervals.get("challenger", {}), "test_"))
        mlflow.log_metrics(_prefixed(outcome.baseline_metrics, "baseline_test_"))
        mlflow.log_metric("ece_tolerance", outcome.ece_tolerance)
        mlflow.log_metrics({f"book_{k}": float(v) for k, v in outcome.counts.items()})
        mlflow.log_metrics({"test_rows": len(outcome.test), "test_defaults": int(outcome.test["y"].sum())})
        mlflow.log_text(counts_csv, "rollrate/transition_counts.csv")
        mlflow.log_text(model.matrix_table().to_csv(), "rollrate/matrix.csv")
        mlflow.log_text(model.state_table().to_csv(index=False), "rollrate/states.csv")
        mlflow.log_text(outcome.test.to_csv(index=False), TEST_ROWS_ARTIFACT)
        mlflow.log_text(outcome.calibration_curve.to_csv(index=False), "evaluation/calibration_curve.csv")
        for path, fig in figures.items():
            mlflow.log_figure(fig, path)
        mlflow.log_dict(outcome.schema, "feature_schema.json")
        mlflow.log_dict(outcome.reference, "reference.json")
        mlflow.log_dict(dict(provenance), "provenance.json")
        if definition is not None:
            mlflow.log_dict(dict(definition), DEFINITION_ARTIFACT)
            mlflow.set_tag(DEFINITION_TAG, json.dumps(dict(definition), sort_keys=True))
        mlflow.log_dict({"test": [f"{d:%Y-%m-%d}" for d in outcome.test_window]}, "split.json")
        for path, doc in (documents or {}).items():
            mlflow.log_dict(dict(doc), path)
        mlflow.log_text("\n".join(warnings) + ("\n" if warnings else ""), "warnings.txt")
        mlflow.log_text(card, "model_card.md")
        example = pd.DataFrame({c: [0.0, 15.0, 45.0, 75.0] for c in model.feature_names_in_})
        signature = infer_signature(example, model.predict_proba(example))
        with _pickle_note_once():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                serialization_format="cloudpickle",
                pip_requirements=_requirements(),
            )
        run_id = run.info.run_id
    window = outcome.test_window
    version = _register_challenger(
        name,
        info.model_uri,
        run_id,
        outcome,
        kind="rollrate",
        test_span=f"{window[0]:%Y-%m-%d}" + (f"..{window[-1]:%Y-%m-%d}" if len(window) > 1 else ""),
        model_sha=model_sha,
        definition=definition,
        who=who,
    )
    return LoggedTraining(run_id, version, info.model_uri, {}, model_sha)


# ---------------------------------------------------------------------------------------------
# decisions
# ---------------------------------------------------------------------------------------------


def _events(client: MlflowClient, name: str, version: str) -> list[dict[str, Any]]:
    raw = client.get_model_version(name, version).tags.get(EVENTS_TAG)
    return json.loads(raw) if raw else []


def _append_event(client: MlflowClient, name: str, version: str, event: dict[str, Any]) -> None:
    events = [*_events(client, name, version), event]
    client.set_model_version_tag(name, version, EVENTS_TAG, json.dumps(events, sort_keys=True))


def _champion_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _move_champion(
    client: MlflowClient, name: str, version: str, *, by: str, at: str, reason: str, mode: str, figures: dict
) -> None:
    previous = _champion_version(client, name)
    if previous is not None and previous != version:
        _append_event(
            client,
            name,
            previous,
            {"event": "retired", "at": at, "by": by, "replaced_by": version, "reason": reason},
        )
    client.set_registered_model_alias(name, CHAMPION, version)
    _append_event(
        client,
        name,
        version,
        {
            "event": CHAMPION,
            "at": at,
            "by": by,
            "mode": mode,
            "reason": reason,
            "previous": previous,
            "figures": figures,
        },
    )


def record_gate(
    version: str,
    decision: GateDecision,
    *,
    champion_version: str | None,
    name: str = DEFAULT_MODEL_NAME,
    who: str | None = None,
    at: datetime | None = None,
    tracking_uri: str | None = None,
    without_champion: str = "`ews score` cannot run",
) -> bool:
    """Write the gate decision on ``version`` as tags; move ``champion`` to it when it passed.

    The history's reason leads with the decision in plain words (``decision.summary``, else the
    failed checks); when it failed and ``name`` has no champion, it also says what is missing until
    one is promoted (``without_champion``) and the exact command that accepts ``version``.

    Tags: ``ews.gate`` (passed/failed), ``ews.gate.reasons``, ``ews.gate.at``, ``ews.gate.by``,
    ``ews.gate.challenger.<metric>``, ``ews.gate.champion.version`` and ``ews.gate.champion.<metric>``
    (figures of the champion on the same test rows), and with ``decision.comparison``
    :data:`COMPARISON_TAG` (the comparison in words) and its figures. Returns ``decision.passed``.
    """
    configure(tracking_uri)
    client = MlflowClient()
    by, when = _who(who), _now(at)
    tags = {
        "ews.gate": "passed" if decision.passed else "failed",
        "ews.gate.reasons": "; ".join(decision.reasons),
        "ews.gate.at": when,
        "ews.gate.by": by,
        "ews.gate.champion.version": champion_version or "none",
    }
    for key in ("auc", "ece", "brier", "mae_days"):  # mae_days: the payment-date gate's
        if key in decision.challenger:
            tags[f"ews.gate.challenger.{key}"] = f"{decision.challenger[key]:.6f}"
        if decision.champion and key in decision.champion:
            tags[f"ews.gate.champion.{key}"] = f"{decision.champion[key]:.6f}"
    if decision.comparison:  # the comparison with the champion and what it is worth (session 42)
        from models.gate_words import comparison_words

        tags[COMPARISON_TAG] = comparison_words(decision.comparison)
        for key, value in decision.comparison.items():
            if key != "version":
                tags[f"{COMPARISON_TAG}.{key}"] = f"{value:.6f}" if isinstance(value, float) else str(value)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    figures = {
        "challenger": decision.challenger,
        "champion": decision.champion,
        "champion_version": champion_version,
    }
    reason = "; ".join(decision.reasons)
    summary = gate_summary(decision, name, version, champion_version, without_champion)
    if summary:  # the decision in plain words first (ews models history)
        reason = f"{summary} Checks: {reason}"
    if decision.passed:
        _move_champion(client, name, version, by=by, at=when, reason=reason, mode="gate", figures=figures)
    else:
        _append_event(
            client,
            name,
            version,
            {"event": "gate_failed", "at": when, "by": by, "reason": reason, "figures": figures},
        )
    return decision.passed


def gate_summary(
    decision: GateDecision,
    name: str,
    version: str,
    champion_version: str | None,
    without_champion: str = "`ews score` cannot run",
) -> str:
    """The decision in plain words as ``ews models history`` shows it: ``decision.summary`` (for a
    failed gate without one, e.g. the payment-date gate's, the failed checks); when the gate failed
    and ``name`` has no champion, :func:`accept_hint` after it."""
    summary = decision.summary
    if not summary and not decision.passed:
        summary = "Not promoted: " + "; ".join(r[5:] for r in decision.reasons if r.startswith("FAIL ")) + "."
    if not decision.passed and champion_version is None:
        summary = f"{summary} {accept_hint(name, version, without_champion)}"
    return summary


def promote_command(name: str, version: str) -> str:
    """The command that makes ``version`` of ``name`` champion by hand (without its reason)."""
    return f"ews models promote {version}" + ("" if name == DEFAULT_MODEL_NAME else f" --name {name}")


def promote_hint(name: str, version: str, keeps: str = "forecasting") -> str:
    """How to use ``version`` anyway after a gate that refused it against the champion (``keeps``:
    what the champion goes on doing, "scoring" for the PD model)."""
    return (
        f"The champion keeps {keeps}; to use v{version} anyway: "
        f'`{promote_command(name, version)} --reason "..."` (the reason is kept in `ews models history`).'
    )


def accept_hint(name: str, version: str, without_champion: str = "`ews score` cannot run") -> str:
    """What a failed gate means when ``name`` has no champion, and the exact command that accepts
    ``version`` anyway (the gate's verdict does not change when the same data is trained again)."""
    command = promote_command(name, version)
    return (
        f"Until a version of {name} is champion, {without_champion}; training again on the same data gives "
        f'the same verdict. To accept v{version} as it is: `{command} --reason "..."` (the reason is kept '
        "in `ews models history`)."
    )


QUEUE_KEY_TAG = "ews.queue_key"


def record_queue_key(
    run_id: str,
    version: str,
    choice: Any,
    *,
    name: str = DEFAULT_MODEL_NAME,
    at: datetime | None = None,
    tracking_uri: str | None = None,
) -> None:
    """The collections queue's key chosen for ``version`` at training time
    (``models.queue_key.KeyChoice``): param ``queue_key`` and metrics ``queue_key_*`` on the run, tags
    ``ews.queue_key`` (``pd`` or ``blend``, read by the nightly's ``queue.priority: auto``) and
    ``ews.queue_key.reason`` on the version, and a ``queue_key`` event in its history."""
    configure(tracking_uri)
    client = MlflowClient()
    client.log_param(run_id, "queue_key", choice.key)
    for key, value in choice.metrics().items():
        client.log_metric(run_id, key, value)
    client.set_model_version_tag(name, version, QUEUE_KEY_TAG, choice.key)
    client.set_model_version_tag(name, version, f"{QUEUE_KEY_TAG}.reason", choice.reason[:4000])
    _append_event(
        client,
        name,
        version,
        {
            "event": "queue_key",
            "at": _now(at),
            "by": _who(None),  # "ews train" before s35, beside the login of the same training's other events
            "mode": choice.key,
            "reason": choice.reason,
        },
    )


def _run_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    data = client.get_run(run_id).data.metrics
    return {k: float(v) for k, v in data.items()}


def champion_version(name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None) -> str | None:
    """The version of ``name`` that holds ``champion``, else None (no such model, or no champion)."""
    configure(tracking_uri)
    return _champion_version(MlflowClient(), name)


def promote(
    version: str,
    reason: str,
    *,
    name: str = DEFAULT_MODEL_NAME,
    who: str | None = None,
    at: datetime | None = None,
    tracking_uri: str | None = None,
) -> str | None:
    """Manual override: make ``version`` the champion, recording who, when, why and the test figures
    of both versions (each from its own training run). Returns the previous champion version.

    Raises ``ValueError`` for an empty reason and :class:`NoChampionError` for an unknown version.
    """
    if not reason or not reason.strip():
        raise ValueError("a promotion needs a reason (--reason '...'); it is recorded on the model version")
    control = sorted({repr(c) for c in reason if unicodedata.category(c) == "Cc" and c not in "\n\t"})
    if control:  # as an override's reason (overrides.py): ESC ] 0; ... BEL retitled the terminal (s36-attack)
        raise ValueError(
            f"--reason holds control characters ({', '.join(control)}; a terminal runs them as commands when "
            "`ews models history` prints the reason): type plain text (line breaks and tabs are fine)"
        )
    configure(tracking_uri)
    client = MlflowClient()
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise NoChampionError(f"model {name!r} has no version {version!r}; see `ews models list`") from None
    previous = _champion_version(client, name)
    keys = [f"test_{k}" for k in METRIC_NAMES]
    mine = {k: v for k, v in _run_metrics(client, mv.run_id).items() if k in keys}
    theirs: dict[str, float] | None = None
    if previous is not None:
        prev_mv = client.get_model_version(name, previous)
        theirs = {k: v for k, v in _run_metrics(client, prev_mv.run_id).items() if k in keys}
    figures = {
        "challenger": mine,
        "champion": theirs,
        "champion_version": previous,
        "note": "figures from each version's own training run (test windows may differ)",
    }
    by, when = _who(who), _now(at)
    client.set_model_version_tag(name, str(version), "ews.promotion.manual", when)
    client.set_model_version_tag(name, str(version), "ews.promotion.reason", reason.strip())
    client.set_model_version_tag(name, str(version), "ews.promotion.by", by)
    _move_champion(
        client, name, str(version), by=by, at=when, reason=reason.strip(), mode="manual", figures=figures
    )
    return previous


# ---------------------------------------------------------------------------------------------
# reading the registry
# ---------------------------------------------------------------------------------------------


HISTORY_COLUMNS = ["at", "version", "event", "by", "mode", "reason", "previous", "deleted"]
VERSION_COLUMNS = [
    "version",
    "created",
    "aliases",
    "test_auc",
    "test_ece",
    "test_as_of",
    "gate",
    "champion_periods",
    "run_id",
]


def history(name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None) -> pd.DataFrame:
    """Every recorded decision, oldest first: ``at`` (UTC), ``version``, ``event``, ``by``, ``mode``,
    ``reason``, ``previous``, ``deleted`` (the version was deleted through MLflow since: its decisions
    stay history). Empty frame when the model is not registered."""
    events = view.decision_events(view.read_versions(name, tracking_uri, deleted=True))
    frame = pd.DataFrame(events, columns=HISTORY_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def champion_on(
    when: datetime | pd.Timestamp | str, name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None
) -> str | None:
    """The version that held ``champion`` at ``when`` (naive times are UTC), or None if none did."""
    moment = pd.Timestamp(when)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    events = history(name, tracking_uri)
    events = events[events["at"] <= moment]
    promotions = events[events["event"] == CHAMPION]
    if promotions.empty:
        return None
    last = promotions.iloc[-1]
    # a champion deleted through MLflow took its alias with it: none held it after (s38-attack)
    gone = events[
        (events["event"] == "deleted") & (events["version"] == last["version"]) & (events["at"] >= last["at"])
    ]
    return None if len(gone) else str(last["version"])


def list_versions(name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None) -> pd.DataFrame:
    """One row per version: ``version``, ``created`` (UTC), ``aliases``, ``test_auc``, ``test_ece``,
    ``test_as_of``, ``gate``, ``champion_periods`` (``from..until`` spans), ``run_id``."""
    frame = pd.DataFrame(view.version_rows(view.read_versions(name, tracking_uri)), columns=VERSION_COLUMNS)
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return frame


# ---------------------------------------------------------------------------------------------
# loading a model for scoring
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A registered version ready to score.

    ``kind``: ``"lightgbm"`` or ``"scorecard"`` (the ``ews.kind`` tag; versions logged before it
    existed are LightGBM). ``predict_pd(prepare_X(frame, self))`` is the calibrated PD (within the
    floor and ceiling the version was trained with); ``raw_score(X)`` the model's log-odds.
    ``booster`` is the native LightGBM model for ``kind == "lightgbm"`` (``booster.predict(X,
    pred_contrib=True)`` gives SHAP contributions on the raw scale, one column per feature in
    ``feature_names`` order plus the bias) and None for a scorecard, whose reasons come from its
    points per characteristic (``scorecard``: the fitted optbinning model, else None).
    """

    name: str
    version: str
    alias: str | None
    run_id: str
    estimator: Any
    booster: lgb.Booster | None
    feature_names: list[str]
    categorical_features: list[str]
    categories: dict[str, list[str]]
    reference: dict[str, Any]
    metrics: dict[str, float]
    schema: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    kind: str = "lightgbm"
    # default definition + label scale the model was trained with (None: logged before it was recorded)
    definition: dict[str, Any] | None = None

    @property
    def scorecard(self) -> Any:
        """The fitted optbinning scorecard of a ``kind == "scorecard"`` version, else None."""
        last = self.estimator[-1] if hasattr(self.estimator, "steps") else self.estimator
        return getattr(last, "scorer", None) if self.kind == "scorecard" else None

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated PD per row of the prepared model input ``X`` (columns matched by name)."""
        fitted = getattr(self.estimator, "feature_names_in_", None)
        return np.asarray(self.estimator.predict_proba(_by_name(X, fitted))[:, 1], dtype="float64")

    def pd_and_raw(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(predict_pd(X), raw_score(X))``, the model run once when it can be: when the last step
        turns a raw score into the PD (``pd_from_raw``) and the steps before it leave ``X`` as it
        is (same columns, dtypes and values), the PD is that of the raw score already computed
        (the same bits; a 1M book's bucket: one LightGBM pass of ~0.3 CPU-s instead of two)."""
        raw = self.raw_score(X)
        last = self.estimator[-1] if hasattr(self.estimator, "steps") else self.estimator
        from_raw = getattr(last, "pd_from_raw", None)
        if from_raw is not None:
            Xt = _by_name(X, getattr(self.estimator, "feature_names_in_", None))
            if hasattr(self.estimator, "steps"):
                Xt = self.estimator[:-1].transform(Xt)
            same = Xt is X or (
                isinstance(Xt, pd.DataFrame)
                and list(Xt.columns) == list(X.columns)
                and Xt.dtypes.equals(X.dtypes)
                and Xt.equals(X)
            )
            if same:
                return np.asarray(from_raw(raw), dtype="float64"), raw
        return self.predict_pd(X), raw

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The model's log-odds per row of ``X`` (before calibration)."""
        last = self.estimator[-1] if hasattr(self.estimator, "steps") else self.estimator
        if hasattr(last, "raw_score"):
            return np.asarray(last.raw_score(X), dtype="float64")
        if self.booster is None:
            raise ValueError(f"model {self.name} v{self.version} has no raw score")
        X = _by_name(X, self.booster.feature_name())
        return np.asarray(self.booster.predict(X, raw_score=True), dtype="float64")


def _by_name(X: pd.DataFrame, names: Any) -> pd.DataFrame:
    """``X`` with its columns in the order ``names`` (the order a model was fitted with), when both
    hold the same columns; else ``X`` unchanged (the model then reports the mismatch itself)."""
    if names is None:
        return X
    names = [str(n) for n in names]
    if list(X.columns) == names or sorted(X.columns) != sorted(names):
        return X
    return X[names]


def recorded_definition(
    alias_or_version: str = CHAMPION, name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None
) -> tuple[str, dict[str, Any] | None]:
    """``(version, definition)`` of an alias or version, from its tags only (no model download):
    the default definition it was trained with, None when it predates recording. Raises
    :class:`NoChampionError` like :func:`load_model_version`."""
    uri = configure(tracking_uri)
    client = MlflowClient()
    key = str(alias_or_version)
    try:
        mv = (
            client.get_model_version(name, key)
            if key.isdigit()
            else client.get_model_version_by_alias(name, key)
        )
    except MlflowException:
        raise NoChampionError(
            f"model {name!r} has no {'version' if key.isdigit() else 'alias'} {key!r} in {uri}: see `ews models list`"
        ) from None
    raw = mv.tags.get(DEFINITION_TAG)
    return str(mv.version), json.loads(raw) if raw else None


def find_version(client: MlflowClient, name: str, key: str, uri: str, hint: str) -> Any:
    """The model version ``key`` (a number, or an alias) of ``name``. A missing one raises
    :class:`NoChampionError` ending with ``hint``; a store that fails otherwise raises
    :class:`TrackingUnavailableError`."""
    try:
        if key.isdigit():
            return client.get_model_version(name, key)
        return client.get_model_version_by_alias(name, key)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise TrackingUnavailableError(
                f"MLflow tracking store {view.public_uri(uri)} failed: {str(exc).splitlines()[0][:300]}"
            ) from None
        lost = view.lost_versions(name, uri)
        if key in lost.dangling:
            raise NoChampionError(
                f"model {name!r} in {uri}: {lost.words}: restore the store from a backup, or {hint}"
            ) from None
        raise NoChampionError(
            f"model {name!r} has no {'version' if key.isdigit() else 'alias'} {key!r} in {uri}"
            + (f" ({lost.words})" if lost.words else "")
            + f": {hint}"
        ) from None


def _load_hint(key: str) -> str:
    """What a missing ``key`` (an alias or a version number) of the PD model tells the user to do."""
    return (
        "run `ews train --data DIR` (the gate promotes a passing model) or `ews models promote VERSION --reason ...`"
        if key == CHAMPION
        else "see `ews models list`"
    )


def resolve_version(
    alias_or_version: str = CHAMPION, name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None
) -> str:
    """The version number an alias points at now (a number is returned as the store holds it), without
    loading the model: the nightly resolves its aliases once, at its start, and loads those versions
    (s38-attack). Raises :class:`NoChampionError` like :func:`load_model_version`."""
    uri = configure(tracking_uri)
    key = str(alias_or_version)
    return str(find_version(MlflowClient(), name, key, uri, _load_hint(key)).version)


def load_model_version(
    alias_or_version: str = CHAMPION, name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None
) -> LoadedModel:
    """Load a registered version by alias (``champion``, ``challenger``) or version number.

    Raises :class:`NoChampionError` naming the tracking URI when the alias/version does not exist.
    """
    uri = configure(tracking_uri)
    client = MlflowClient()
    key = str(alias_or_version)
    mv = find_version(client, name, key, uri, _load_hint(key))
    alias = None if key.isdigit() else key
    version = str(mv.version)
    run_id = mv.run_id
    kind = mv.tags.get(KIND_TAG, "lightgbm")
    try:
        estimator, booster, schema, reference = _load_artifacts(name, version, run_id, kind)
    except (MlflowException, OSError, ValueError, KeyError) as exc:
        try:  # a version registered from a path by hand has no run
            where = client.get_run(run_id).info.artifact_uri if run_id else f"{mv.source} (no run)"
        except MlflowException:
            where = f"run {run_id}"
        raise ModelArtifactsError(
            f"model {name!r} version {version} is registered but its files cannot be read from {where} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] or 'missing'}). Restore that folder "
            "(EWS_MLFLOW_ARTIFACTS, default data/mlflow/artifacts), promote another version "
            "(`ews models promote VERSION --reason ...`) or retrain (`ews train`)"
        ) from None
    metrics = _run_metrics(client, run_id)
    categories = {f["name"]: list(f["categories"]) for f in schema["features"] if f["dtype"] == "category"}
    return LoadedModel(
        name=name,
        version=version,
        alias=alias,
        run_id=run_id,
        estimator=estimator,
        booster=booster,
        feature_names=list(schema["feature_names"]),
        categorical_features=list(schema["categorical"]),
        categories=categories,
        reference=reference,
        metrics=metrics,
        schema=schema,
        tags=dict(mv.tags),
        kind=kind,
        definition=json.loads(mv.tags[DEFINITION_TAG]) if DEFINITION_TAG in mv.tags else None,
    )


def _load_artifacts(name: str, version: str, run_id: str, kind: str) -> tuple[Any, Any, dict, dict]:
    """The estimator, LightGBM booster (or None), feature schema and drift reference of a version."""
    estimator = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    booster = None
    if kind == "lightgbm":
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="model/booster.txt", dst_path=tmp
            )
            booster = lgb.Booster(model_file=local)
    schema = mlflow.artifacts.load_dict(f"runs:/{run_id}/feature_schema.json")
    reference = mlflow.artifacts.load_dict(f"runs:/{run_id}/reference.json")
    return estimator, booster, schema, reference


@contextlib.contextmanager
def _pickle_note_once() -> Iterator[None]:
    """Silence MLflow's warning that a cloudpickled model runs code when loaded, printed on every
    ``ews train``: ews loads only models it logged itself, and README ("Train and manage models")
    says the registry must be writable by trusted users only."""
    log = logging.getLogger("mlflow.sklearn")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def prepare_X(frame: pd.DataFrame, loaded: LoadedModel) -> pd.DataFrame:
    """The exact model input for ``loaded`` from a feature frame (one row per debtor).

    Columns in model order, float64 numerics, categoricals with the training categories (unseen
    values become missing). Raises ``ValueError`` naming missing columns.
    """
    return prepare_matrix(frame, loaded.feature_names, loaded.categories)


def test_pds_csv(test: pd.DataFrame) -> str:
    """A version's out-of-time test rows as :data:`TEST_ROWS_ARTIFACT` holds them: debtor, month-end,
    label and the PD its evaluation scored (the test window's, or a small book's inner folds')."""
    rows = test[["debtor_id", "as_of", "y", "pd"]]
    return rows.assign(as_of=pd.to_datetime(rows["as_of"]).dt.strftime("%Y-%m-%d")).to_csv(index=False)


def load_test_pds(loaded: LoadedModel) -> pd.DataFrame | None:
    """The out-of-time test rows a version logged (:data:`TEST_ROWS_ARTIFACT`: ``debtor_id``,
    ``as_of``, ``y``, ``pd``), or None for a version logged without them (a LightGBM or scorecard
    version before session 42)."""
    import io

    try:
        text = mlflow.artifacts.load_text(f"runs:/{loaded.run_id}/{TEST_ROWS_ARTIFACT}")
    except (MlflowException, OSError):  # logged before session 42 (or by hand without it)
        return None
    rows = pd.read_csv(
        io.StringIO(text), usecols=["debtor_id", "as_of", "y", "pd"], dtype={"debtor_id": "string"}
    )
    return rows.assign(as_of=pd.to_datetime(rows["as_of"]))


def score_version(loaded: LoadedModel, frame: pd.DataFrame, y: np.ndarray | pd.Series) -> dict[str, float]:
    """:func:`models.evaluate.classification_metrics` of ``loaded`` on ``frame`` with labels ``y``."""
    return classification_metrics(np.asarray(y, dtype="int64"), loaded.predict_pd(prepare_X(frame, loaded)))
