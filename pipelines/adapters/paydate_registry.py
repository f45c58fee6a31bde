"""MLflow for the payment-date model: its own registered model ``ews-paydate`` with its own aliases.

It follows the conventions of :mod:`pipelines.adapters.registry` (and reuses its functions): every
new version gets ``challenger``; ``champion`` moves when the gate passes (:func:`gate_paydate`,
recorded with ``registry.record_gate``) or through ``registry.promote(..., name="ews-paydate")``;
decisions are ``ews.events`` tags. A version carries the LightGBM booster (``model/booster.txt``,
also logged in MLflow's ``lightgbm`` flavour) and ``paydate_spec.json`` (features, horizon, period).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.evaluate import GateDecision
from pipelines.adapters import registry
from pipelines.adapters.registry import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT_NAME,
    ModelArtifactsError,
)

__all__ = [
    "PAYDATE_MODEL_NAME",
    "LoadedPaydate",
    "LoggedPaydate",
    "gate_decision",
    "gate_paydate",
    "load_paydate",
    "log_paydate",
]

PAYDATE_MODEL_NAME = "ews-paydate"
SPEC_ARTIFACT = "paydate_spec.json"
BOOSTER_ARTIFACT = "model/booster.txt"


@dataclass(frozen=True)
class LoggedPaydate:
    run_id: str
    version: str
    model_sha256: str


@dataclass(frozen=True)
class LoadedPaydate:
    """A registered payment-date version ready to predict: the booster and its spec
    (``features``: input columns in order; ``horizon_weeks``; ``period_days``; ``cash_shock_sd``: the
    relative sd of the shared weekly cash shock, ``models.paydate.estimate_cash_shock``, 0 for a
    version trained before it was estimated; ``grid``: the fine hazard periods, None for weeks;
    ``interval``: the rule of ``paid_on_p10`` / ``paid_on_p90``, ``models.paydate.interval_days``,
    ``first`` for a version trained before session 8; ``day_shape``: the within-week shape of the
    ``shaped`` rule, ``models.paydate.fit_day_shape``, None without one; ``weekdays``: the share of
    settlements per weekday that ``expected_paid_on`` spreads each week by,
    ``models.paydate.fit_weekday_profile``, None: evenly, as every version trained before session 8)."""

    name: str
    version: str
    alias: str | None
    run_id: str
    booster: lgb.Booster
    features: list[str]
    horizon_weeks: int
    period_days: int
    tags: dict[str, str] = field(default_factory=dict)
    cash_shock_sd: float = 0.0
    grid: dict[str, Any] | None = None
    interval: str = "first"
    day_shape: list[list[float]] | None = None
    weekdays: list[float] | None = None

    def shape(self) -> np.ndarray | None:
        """The version's within-week shape as an array (classes x 7), None without one."""
        return None if not self.day_shape else np.asarray(self.day_shape, dtype=np.float64)

    def weekday_profile(self) -> np.ndarray | None:
        """The version's weekday profile of the median as an array (7), None without one."""
        return None if not self.weekdays else np.asarray(self.weekdays, dtype=np.float64)

    def fine_grid(self) -> Any:
        """The version's hazard periods (``features.paydate.FineGrid``), None for weeks (every
        version trained before session 5b)."""
        from features.paydate import FineGrid

        return None if not self.grid else FineGrid(**self.grid)


def log_paydate(
    booster: lgb.Booster,
    *,
    spec: Mapping[str, Any],
    metrics: Mapping[str, float],
    params: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    provenance: Mapping[str, Any],
    name: str = PAYDATE_MODEL_NAME,
    experiment: str = EXPERIMENT_NAME,
    artifacts: str | Path | None = None,
    tracking_uri: str | None = None,
) -> LoggedPaydate:
    """One MLflow run (``paydate``) with params, test metrics, tables and the booster; a new version
    of ``name`` with alias ``challenger``."""
    registry.configure(tracking_uri)
    exp_id = registry._experiment_id(experiment, artifacts)
    text = booster.model_to_string()
    sha = hashlib.sha256(text.encode()).hexdigest()
    flat: dict[str, str] = {}
    registry._flatten("", dict(params), flat)
    with mlflow.start_run(experiment_id=exp_id, run_name="paydate") as run:
        mlflow.log_params(flat)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})
        tags = {f"ews.{k}": str(v) for k, v in provenance.items() if not isinstance(v, Mapping | list)}
        mlflow.set_tags({**tags, "ews.model_sha256": sha, "ews.kind": "paydate-hazard"})
        for path, table in tables.items():
            mlflow.log_text(table.to_csv(index=False), path)
        mlflow.log_dict(dict(spec), SPEC_ARTIFACT)
        mlflow.log_dict(dict(provenance), "provenance.json")
        mlflow.log_text(text, BOOSTER_ARTIFACT)
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=registry._requirements())
        run_id = run.info.run_id
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name,
            description="ews payment-date model: weekly discrete-time hazard (LightGBM) per open invoice",
        )
    mv = client.create_model_version(name, info.model_uri, run_id=run_id)
    version = str(mv.version)
    for key in ("mae_days", "within_7d", "coverage_80"):
        if key in metrics:
            client.set_model_version_tag(name, version, f"ews.test_{key}", f"{metrics[key]:.6f}")
    client.set_model_version_tag(name, version, "ews.model_sha256", sha)
    client.set_model_version_tag(name, version, registry.KIND_TAG, "paydate-hazard")
    if "trained_through" in spec:
        client.set_model_version_tag(
            name, version, registry.TRAINED_THROUGH_TAG, str(spec["trained_through"])
        )
    if "test_as_of" in spec:
        client.set_model_version_tag(name, version, "ews.test_as_of", str(spec["test_as_of"]))
    client.set_registered_model_alias(name, CHALLENGER, version)
    registry._append_event(
        client,
        name,
        version,
        {"event": CHALLENGER, "at": registry._now(None), "by": registry._who(None), "run_id": run_id},
    )
    return LoggedPaydate(run_id, version, sha)


def gate_decision(
    metrics: Mapping[str, float], coverage_band: tuple[float, float] = (0.7, 0.9)
) -> GateDecision:
    """Promote when the test MAE in days is not worse than the better baseline's and the p10-p90
    coverage is within ``coverage_band``. With ``mae_diff_ci_low`` / ``_high`` (the 95 % paired
    debtor-bootstrap interval of model - better baseline, :func:`models.paydate.mae_difference_interval`)
    the MAE fails only when that interval lies wholly above 0; without it (a version logged before
    session 19) the point MAE must be below the baseline's. With ``coverage_80_ci_low`` / ``_high``
    (a debtor-bootstrap 95 % interval, :func:`models.paydate.coverage_interval`) the coverage fails
    only when that interval lies wholly outside the band: on a small book a few debtors move it by
    several points."""
    mae = float(metrics["mae_days"])
    base = min(float(metrics["due_date_mae_days"]), float(metrics["due_plus_lateness_mae_days"]))
    mae_text = f"MAE {mae:.2f} days vs the better baseline {base:.2f}"
    if "mae_diff_ci_low" in metrics and "mae_diff_ci_high" in metrics:
        d_low, d_high = float(metrics["mae_diff_ci_low"]), float(metrics["mae_diff_ci_high"])
        mae_ok = not d_low > 0
        mae_text += f": difference {mae - base:+.2f} days [95 % {d_low:+.2f}, {d_high:+.2f}]"
        if not mae_ok:
            mae_text += ", worse with the whole interval above 0"
        elif not mae < base:
            mae_text += ", not significantly worse"
    else:
        mae_ok = mae < base
    cover = float(metrics["coverage_80"])
    band = f"band {coverage_band[0]:.0%}..{coverage_band[1]:.0%}"
    if "coverage_80_ci_low" in metrics and "coverage_80_ci_high" in metrics:
        low, high = float(metrics["coverage_80_ci_low"]), float(metrics["coverage_80_ci_high"])
        cover_ok = high >= coverage_band[0] and low <= coverage_band[1]
        cover_text = f"p10-p90 coverage {cover:.1%} [95 % {low:.1%}, {high:.1%}] ({band})"
    else:
        cover_ok = coverage_band[0] <= cover <= coverage_band[1]
        cover_text = f"p10-p90 coverage {cover:.1%} ({band})"
    checks = [
        (mae_ok, mae_text),
        (cover_ok, cover_text),
    ]
    reasons = tuple(("ok " if ok else "FAIL ") + text for ok, text in checks)
    passed = all(ok for ok, _ in checks)
    return GateDecision(passed, reasons, challenger={k: float(v) for k, v in metrics.items()})


NO_FORECAST = "the nightly writes no invoice or cash-in forecast (the PD scores are not affected)"


def gate_paydate(
    version: str,
    metrics: Mapping[str, float],
    *,
    name: str = PAYDATE_MODEL_NAME,
    tracking_uri: str | None = None,
) -> GateDecision:
    """:func:`gate_decision` recorded on ``version`` (``registry.record_gate``: tags, events, and
    ``champion`` moved when it passed); returned with the plain sentence ``ews models history`` shows
    (when it failed without a champion: what is missing and the command that accepts it)."""
    decision = gate_decision(metrics)
    registry.configure(tracking_uri)
    previous = registry._champion_version(MlflowClient(), name)
    registry.record_gate(
        version,
        decision,
        champion_version=previous,
        name=name,
        tracking_uri=tracking_uri,
        without_champion=NO_FORECAST,
    )
    return replace(decision, summary=registry.gate_summary(decision, name, version, previous, NO_FORECAST))


def load_paydate(
    alias_or_version: str = CHAMPION, name: str = PAYDATE_MODEL_NAME, tracking_uri: str | None = None
) -> LoadedPaydate:
    """Load a registered payment-date version by alias or number. Raises
    ``registry.NoChampionError`` when it does not exist (the nightly then skips the forecast)."""
    uri = registry.configure(tracking_uri)
    client = MlflowClient()
    key = str(alias_or_version)
    hint = "run `ews train --data DIR` (it trains the payment-date model after the PD model)"
    mv = registry.find_version(client, name, key, uri, hint)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path=BOOSTER_ARTIFACT, dst_path=tmp
            )
            booster = lgb.Booster(model_file=local)
        spec = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{SPEC_ARTIFACT}")
    except (MlflowException, OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
        raise ModelArtifactsError(
            f"model {name!r} version {mv.version} is registered but its files cannot be read "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'missing'}); retrain with `ews train`"
        ) from None
    return LoadedPaydate(
        name=name,
        version=str(mv.version),
        alias=None if key.isdigit() else key,
        run_id=mv.run_id,
        booster=booster,
        features=list(spec["features"]),
        horizon_weeks=int(spec["horizon_weeks"]),
        period_days=int(spec["period_days"]),
        tags=dict(mv.tags),
        cash_shock_sd=float(spec.get("cash_shock_sd", 0.0)),
        grid=spec.get("grid") or None,
        interval=str(spec.get("interval", "first")),
        day_shape=spec.get("day_shape") or None,
        weekdays=spec.get("weekdays") or None,
    )


def spec_record(features: list[str], horizon_weeks: int, period_days: int, **extra: Any) -> dict[str, Any]:
    """The ``paydate_spec.json`` of a version."""
    return {
        "features": list(features),
        "horizon_weeks": int(horizon_weeks),
        "period_days": int(period_days),
        **{k: json.loads(json.dumps(v, default=str)) for k, v in extra.items()},
    }
