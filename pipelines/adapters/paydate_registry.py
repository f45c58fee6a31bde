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

from models.evaluate import GateDecision, decision_summary
from pipelines.adapters import registry
from pipelines.adapters.registry import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT_NAME,
    ModelArtifactsError,
)
from pipelines.adapters.registry_view import PAYDATE_MODEL_NAME
from pipelines.words import counted

__all__ = [
    "PAYDATE_MODEL_NAME",
    "EvidenceMinimum",
    "LoadedPaydate",
    "PaydateChampion",
    "champion_failed",
    "champion_on_test",
    "LoggedPaydate",
    "gate_decision",
    "gate_paydate",
    "load_paydate",
    "log_paydate",
    "resolve_paydate",
]

SPEC_ARTIFACT = "paydate_spec.json"
BOOSTER_ARTIFACT = "model/booster.txt"
HELD_OUT_ARTIFACT = "model/held_out.txt"  # the held-out model (session 20), trained to the plan's eval_cut


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
    ``models.paydate.fit_weekday_profile``, None: evenly, as every version trained before session 8;
    ``memo_share``: the share of the open amount credit memos took in its training window, which the
    cash forecast takes off each open amount, ``models.paydate.cash_amounts``, 0 without memos and for
    every version trained before session 20; ``held_out_weekdays``: the weekday profile of its held-out
    model, fitted on that model's training rows (dated <= the plan's ``eval_cut``), which the gate of a
    later version predicts with, :func:`champion_on_test`; None without a profile and for every version
    trained before session 21; ``interval_levels``: the CDF levels its ``paid_on_p10`` / ``paid_on_p90``
    are read at, ``models.paydate.interval_levels``, stored with the version since session 35; a version
    trained before stored none and keeps 0.1 / 0.9); ``cash_wape`` / ``cash_weeks``: its weekly cash error
    on held-out weeks and how many weeks it rests on (its training run's metrics; None when not logged),
    said beside the cash-in forecast of report.html)."""

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
    memo_share: float = 0.0
    plan: dict[str, Any] = field(default_factory=dict)
    held_out_weekdays: list[float] | None = None
    interval_levels: tuple[float, float] = (0.1, 0.9)
    cash_wape: float | None = None
    cash_weeks: int | None = None

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
    held_out: lgb.Booster | None = None,
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
    of ``name`` with alias ``challenger``. ``held_out``: the held-out model whose test figures the
    metrics are (``model/held_out.txt``; the gate of a later version compares with it on its own
    test month-ends, :func:`champion_on_test`)."""
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
        if held_out is not None:
            mlflow.log_text(held_out.model_to_string(), HELD_OUT_ARTIFACT)
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
        {"event": CHALLENGER, "at": registry._now(None), "by": registry._who(None), "run_id": run_id}
        | ({"reason": challenger_said(metrics)} if challenger_said(metrics) else {}),
    )
    return LoggedPaydate(run_id, version, sha)


def challenger_said(metrics: Mapping[str, float]) -> str:
    """A new version's figures in one line for ``ews models history`` (its challenger event read empty
    beside the PD model's, s35-walk): held-out MAE against the better baseline, p10-p90 coverage."""
    keys = ("mae_days", "due_date_mae_days", "due_plus_lateness_mae_days", "coverage_80")
    if not all(k in metrics and pd.notna(metrics[k]) for k in keys):
        return ""
    base = min(float(metrics["due_date_mae_days"]), float(metrics["due_plus_lateness_mae_days"]))
    return (
        f"payment-date model: held-out MAE {float(metrics['mae_days']):.2f} days (better baseline {base:.2f}), "
        f"p10-p90 coverage {float(metrics['coverage_80']):.1%}"
    )


@dataclass(frozen=True)
class PaydateChampion:
    """The current ``ews-paydate`` champion on the challenger's held-out invoices
    (:func:`champion_on_test`): ``version`` (None: no champion); ``mae_days`` / ``challenger_mae_days``
    on the test month-ends it never saw (``month_ends``, ``invoices``); ``interval``: the 95 % paired
    debtor-bootstrap interval of challenger - champion MAE (:func:`models.paydate.mae_difference_interval`);
    ``note``: why there is no fair comparison (it trained on the outcomes of every test month-end);
    ``problem``: it cannot predict them (the gate fails: a human decides); ``older``: the challenger's
    training month-ends end before the champion's (:func:`models.gate_words.older_data`, e.g. a
    training for a backtest): the gate fails whatever the figures."""

    version: str | None = None
    mae_days: float = float("nan")
    challenger_mae_days: float = float("nan")
    interval: tuple[float, float] | None = None
    month_ends: tuple[str, ...] = ()
    invoices: int = 0
    note: str | None = None
    problem: str | None = None
    older: str | None = None


def _predicted_days(loaded: LoadedPaydate, inv: pd.DataFrame, T: int) -> np.ndarray:
    """``expected_paid_on`` of a registered version (days after T) as the nightly reads it."""
    from models.paydate import median_days, weekly_cdf

    F, ends, _ = weekly_cdf(loaded.booster, inv, T, loaded.horizon_weeks, loaded.features, loaded.fine_grid())
    return median_days(F, ends, loaded.weekday_profile(), T)


def _held_out(loaded: LoadedPaydate) -> lgb.Booster | None:
    """The held-out model logged with ``loaded`` (None for versions logged before session 20)."""
    if "eval_cut" not in loaded.plan:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=loaded.run_id, artifact_path=HELD_OUT_ARTIFACT, dst_path=tmp
            )
            return lgb.Booster(model_file=local)
    except (MlflowException, OSError, lgb.basic.LightGBMError):
        return None


def champion_on_test(
    tests: list[tuple[int, pd.DataFrame]],
    predicted: list[np.ndarray],
    horizon_weeks: int,
    *,
    name: str = PAYDATE_MODEL_NAME,
    tracking_uri: str | None = None,
    last_month_end: str | None = None,
) -> PaydateChampion:
    """The current champion and the challenger on the same held-out invoices: the challenger's test
    month-ends ``tests`` (T, ``features.paydate.evaluation_invoices``), ``predicted``: its held-out
    model's ``expected_paid_on`` per month-end (days after T). The champion predicts them with its
    own held-out model (logged since session 20, trained on rows dated <= its plan's ``eval_cut``), on
    the month-ends not before that cut: it saw none of their outcomes, so both are out of time (the
    champion's is trained on older rows when its data ended earlier). With ``paydate.weekday_median``
    the champion's median is spread by its held-out model's weekday profile (logged since session 21,
    fitted on the same rows), not by the final model's, which counts the settlements of the compared
    invoices up to the final cut; a session-20 version with a profile but not its held-out one gets a
    ``note``. A version logged before
    session 20 has only its registered model, trained through its ``ews.trained_through`` day: the
    month-ends from that day on. As the PD gate (``pipelines.flows.train.champion_on_test``): no
    champion, no comparison; one that saw every test month-end, a ``note``; one that cannot predict
    them, a ``problem``. ``last_month_end``: the challenger's last training month-end (its plan's
    ``final_train``); before the champion's, the challenger learned from older data: ``older``."""
    from features.ledger import day_number
    from models.gate_words import older_data
    from models.paydate import PERIOD_DAYS, mae_difference_interval, point_metrics

    try:
        loaded = load_paydate(CHAMPION, name, tracking_uri)
    except ModelArtifactsError as exc:
        version = registry._champion_version(MlflowClient(), name)
        return PaydateChampion(version, problem=str(exc))
    except registry.NoChampionError:
        return PaydateChampion()
    theirs_end = (loaded.plan.get("final_train") or [None])[-1]
    if last_month_end and theirs_end and pd.Timestamp(last_month_end) < pd.Timestamp(theirs_end):
        return PaydateChampion(loaded.version, older=older_data(loaded.version, last_month_end, theirs_end))
    held_out = _held_out(loaded)
    if held_out is not None:  # its held-out model, trained on rows dated <= its plan's eval_cut
        through, which = str(loaded.plan["eval_cut"]), "held-out model"
        if loaded.weekdays and not loaded.held_out_weekdays:
            # paydate.weekday_median on, logged in session 20: only the final model's profile is
            # known, fitted through the final cut, past the month-ends compared (their outcomes)
            return PaydateChampion(
                loaded.version,
                note=f"champion v{loaded.version}'s weekday profile of the median was fitted through "
                f"{loaded.plan.get('final_cut', loaded.tags.get(registry.TRAINED_THROUGH_TAG, 'its data end'))}, "
                "after the test month-ends, and its held-out model's was not logged: no fair comparison, "
                "the gate relies on the other checks",
            )
        # the held-out model with its own weekday profile (None: evenly, as it was evaluated)
        loaded = replace(loaded, booster=held_out, weekdays=loaded.held_out_weekdays)
    else:  # a version logged before session 20: the registered model, trained through its data's end
        through = (
            loaded.tags.get(registry.TRAINED_THROUGH_TAG)
            or loaded.tags.get("ews.test_as_of", "").split("..")[-1]
        )
        which = "registered model"
    start = int(day_number(pd.Timestamp(through))) if through else None
    keep = [i for i, (T, _) in enumerate(tests) if start is None or start <= T]
    if not keep:
        return PaydateChampion(
            loaded.version,
            note=f"champion v{loaded.version}'s {which} trained through {through}, after every test month-end: "
            "no fair comparison, the gate relies on the other checks",
        )
    try:
        theirs = [_predicted_days(loaded, tests[i][1], tests[i][0]) for i in keep]
    except (ValueError, KeyError) as exc:
        return PaydateChampion(
            loaded.version, problem=f"champion v{loaded.version} cannot predict the test invoices: {exc}"
        )
    ours = np.concatenate([np.asarray(predicted[i], dtype=np.float64) for i in keep])
    theirs_all = np.concatenate(theirs)
    actual = np.concatenate([tests[i][1]["actual_days"].to_numpy(dtype=np.float64) for i in keep])
    code = np.concatenate([tests[i][1]["code"].to_numpy(dtype=np.int64) for i in keep])
    H = horizon_weeks * PERIOD_DAYS
    return PaydateChampion(
        loaded.version,
        mae_days=point_metrics(theirs_all, actual, H)["mae_days"],
        challenger_mae_days=point_metrics(ours, actual, H)["mae_days"],
        interval=mae_difference_interval(ours, theirs_all, actual, code, H),
        month_ends=tuple(str(pd.Timestamp(tests[i][0], unit="D").date()) for i in keep),
        invoices=int(len(actual)),
    )


def _vs_champion(champion: PaydateChampion) -> tuple[bool, str]:
    """The champion check of :func:`gate_decision`: (passed, reason without its ok/FAIL word)."""
    if champion.older is not None:
        return False, champion.older
    if champion.problem is not None:
        return False, f"champion comparison impossible: {champion.problem}"
    if champion.version is None:
        return True, "no current champion"
    if champion.interval is None:
        return True, champion.note or f"champion v{champion.version}: no comparison"
    low, high = (float(v) for v in champion.interval)
    diff = champion.challenger_mae_days - champion.mae_days
    on = (
        f"on {counted(champion.invoices, 'held-out invoice')} of {counted(len(champion.month_ends), 'test month-end')} "
        f"{champion.month_ends[0]}..{champion.month_ends[-1]} it never saw"
    )
    shown = (
        f"MAE {champion.challenger_mae_days:.2f} vs {champion.mae_days:.2f} days of champion v{champion.version}: "
        f"difference {diff:+.2f} [95 % {low:+.2f}, {high:+.2f}] {on}"
    )
    if not (np.isfinite(low) and np.isfinite(high)):  # fail closed: nothing says it is not worse
        return False, f"champion comparison impossible: no interval of the MAE difference ({shown})"
    if low > 0:
        return False, f"worse than the champion: higher MAE with the whole interval above 0 ({shown})"
    return True, f"not worse than the champion ({shown})"


def champion_failed(champion: PaydateChampion | None) -> bool:
    """The challenger fails :func:`gate_decision`'s check against ``champion`` (worse with the whole
    interval above 0, no interval, or a champion that cannot predict the invoices): the flag
    :func:`gate_paydate` reads, from the same check, not from its reason's words."""
    return champion is not None and not _vs_champion(champion)[0]


@dataclass(frozen=True)
class EvidenceMinimum:
    """The fewest of each count the payment-date gate's figures must rest on for a version to be
    promoted (``paydate.gate_min_*`` of ``conf/train.yaml``; 0: no minimum): the month-ends the
    held-out model trained on (``heldout_month_ends``), the test month-ends (``test_month_ends``) and
    the debtors with a test invoice paid within the horizon (``paid_debtors``)."""

    heldout_month_ends: int = 0
    test_month_ends: int = 0
    paid_debtors: int = 0


EVIDENCE_KEYS = ("test_month_ends", "heldout_month_ends", "invoices", "paid_in_horizon", "paid_debtors")


def _evidence(metrics: Mapping[str, float], minimum: EvidenceMinimum) -> tuple[bool, str] | None:
    """The evidence check of :func:`gate_decision`: (passed, reason without its ok/FAIL word), None
    when ``metrics`` lack the counts (a version logged before session 25)."""
    if not all(k in metrics and np.isfinite(float(metrics[k])) for k in EVIDENCE_KEYS):
        return None
    n = {k: int(metrics[k]) for k in EVIDENCE_KEYS}
    shown = (
        f"{counted(n['invoices'], 'held-out invoice')} ({n['paid_in_horizon']:,} paid within the horizon, "
        f"of {counted(n['paid_debtors'], 'debtor')}) on {counted(n['test_month_ends'], 'test month-end')}, "
        f"the held-out model trained on {counted(n['heldout_month_ends'], 'month-end')}"
    )
    short = [
        f"{what} {have} < paydate.{key} {need}{fix}"
        for what, have, key, need, fix in (
            (
                "held-out model's month-ends",
                n["heldout_month_ends"],
                "gate_min_heldout_snapshots",
                minimum.heldout_month_ends,
                f" (about {counted(minimum.heldout_month_ends - n['heldout_month_ends'], 'more month')} of history)",
            ),
            (
                "test month-ends",
                n["test_month_ends"],
                "gate_min_test_snapshots",
                minimum.test_month_ends,
                f" (about {counted(minimum.test_month_ends - n['test_month_ends'], 'more month')} of history)",
            ),
            (
                "debtors with a paid test invoice",
                n["paid_debtors"],
                "gate_min_debtors",
                minimum.paid_debtors,
                " (a book with more paying debtors)",
            ),
        )
        if have < need
    ]
    if short:
        return False, f"too little evidence: {shown}; needs {', '.join(short)}"
    return True, f"evidence: {shown}"


def gate_decision(
    metrics: Mapping[str, float],
    coverage_band: tuple[float, float] = (0.7, 0.9),
    champion: PaydateChampion | None = None,
    minimum: EvidenceMinimum | None = None,
) -> GateDecision:
    """Promote when the test MAE in days is not worse than the better baseline's and the p10-p90
    coverage is within ``coverage_band``. With ``mae_diff_ci_low`` / ``_high`` (the 95 % paired
    debtor-bootstrap interval of model - better baseline, :func:`models.paydate.mae_difference_interval`)
    the MAE fails only when that interval lies wholly above 0, or is not a number (fail closed);
    without it (a version logged before session 19) the point MAE must be below the baseline's. With
    ``coverage_80_ci_low`` / ``_high``
    (a debtor-bootstrap 95 % interval, :func:`models.paydate.coverage_interval`) the coverage fails
    only when that interval lies wholly outside the band: on a small book a few debtors move it by
    several points. ``champion`` (:func:`champion_on_test`, session 20): the challenger also fails
    when its MAE is worse than the current champion's on the same held-out invoices with the whole
    paired interval above 0 (or no interval: fail closed), or when the champion cannot predict them.
    With the evidence counts in ``metrics`` (:data:`EVIDENCE_KEYS`, session 25) the first check names
    them, and fails when one is below ``minimum`` (:class:`EvidenceMinimum`; None: no minimum), saying
    what is missing."""
    mae = float(metrics["mae_days"])
    base = min(float(metrics["due_date_mae_days"]), float(metrics["due_plus_lateness_mae_days"]))
    mae_text = f"MAE {mae:.2f} days vs the better baseline {base:.2f}"
    if "mae_diff_ci_low" in metrics and "mae_diff_ci_high" in metrics:
        d_low, d_high = float(metrics["mae_diff_ci_low"]), float(metrics["mae_diff_ci_high"])
        mae_ok = bool(d_low <= 0 and np.isfinite(d_high))  # NaN fails closed
        mae_text += f": difference {mae - base:+.2f} days [95 % {d_low:+.2f}, {d_high:+.2f}]"
        if not np.isfinite(d_low) or not np.isfinite(d_high):
            mae_text += ", no interval: not shown to be not worse"
        elif not mae_ok:
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
    if "interval_level_low" in metrics and "interval_level_high" in metrics:  # stored since session 35
        from models.paydate import levels_in_words

        levels = (float(metrics["interval_level_low"]), float(metrics["interval_level_high"]))
        cover_text += f"; p10-p90 here is {levels_in_words(levels)}"
    checks = [
        (mae_ok, mae_text),
        (cover_ok, cover_text),
    ]
    evidence = _evidence(metrics, minimum or EvidenceMinimum())
    if evidence is not None:
        checks.insert(0, evidence)
    if champion is not None:
        checks.append(_vs_champion(champion))
    reasons = tuple(("ok " if ok else "FAIL ") + text for ok, text in checks)
    passed = all(ok for ok, _ in checks)
    compared = champion is not None and champion.interval is not None
    challenger = {k: float(v) for k, v in metrics.items()}
    return GateDecision(
        passed,
        reasons,
        challenger=challenger,
        champion={"mae_days": float(champion.mae_days)} if compared else None,
        # a pass in the PD gate's words ("Promoted: every check passed."; `ews models history` showed the
        # first check, "ok evidence: ...", s35-walk); a failure's words come from registry.gate_summary
        summary=decision_summary(True, reasons, challenger) if passed else "",
    )


NO_FORECAST = "the nightly writes no invoice or cash-in forecast (the PD scores are not affected)"


def gate_paydate(
    version: str,
    metrics: Mapping[str, float],
    *,
    name: str = PAYDATE_MODEL_NAME,
    tracking_uri: str | None = None,
    champion: PaydateChampion | None = None,
    minimum: EvidenceMinimum | None = None,
) -> GateDecision:
    """:func:`gate_decision` recorded on ``version`` (``registry.record_gate``: tags, events, and
    ``champion`` moved when it passed); returned with the plain sentence ``ews models history`` shows
    (when it failed without a champion: what is missing and the command that accepts it; when it
    failed against the champion, :func:`models.evaluate` 's plain words as the PD gate's, and the
    command that promotes it anyway). ``champion``: :func:`champion_on_test`."""
    decision = gate_decision(metrics, champion=champion, minimum=minimum)
    if champion_failed(champion):  # refused against the champion: the command that promotes it anyway
        decision = replace(
            decision,
            summary=decision_summary(False, decision.reasons, decision.challenger)
            + f" {registry.promote_hint(name, version)}",
        )
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


def _not_promoted(client: MlflowClient, name: str) -> str:
    """Why ``name`` has versions but no champion, as the nightly's note says it (session 25): its
    latest version's gate refused it (e.g. too little evidence); empty when there is no version
    (or the store cannot list them)."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return ""
    if not versions:
        return ""
    latest = max(versions, key=lambda mv: int(mv.version))
    verdict = {"failed": "was refused by its gate", "passed": "passed its gate"}.get(
        str(latest.tags.get("ews.gate")), "has no gate decision"
    )
    return (
        f"its latest version v{latest.version} {verdict} and none is champion; `ews models history --name "
        f'{name}` says why; to use it anyway: `{registry.promote_command(name, str(latest.version))} --reason "..."`'
    )


def _find_paydate(key: str, name: str, tracking_uri: str | None) -> Any:
    """The model version ``key`` (an alias or a number) of ``name``; a missing one raises
    ``registry.NoChampionError`` saying what to do (train, or why no version is champion)."""
    uri = registry.configure(tracking_uri)
    client = MlflowClient()
    hint = (
        "run `ews train --data DIR` (it trains the payment-date model after the PD model, and alone when it "
        "refuses a PD model as too small)"
    )
    if key == CHAMPION:
        hint = _not_promoted(client, name) or hint
    return registry.find_version(client, name, key, uri, hint)


def resolve_paydate(
    alias_or_version: str = CHAMPION, name: str = PAYDATE_MODEL_NAME, tracking_uri: str | None = None
) -> str:
    """The version number an alias of ``name`` points at now, without loading it (the nightly resolves
    both models' aliases at its start: s38-attack). Raises ``registry.NoChampionError`` as
    :func:`load_paydate`."""
    return str(_find_paydate(str(alias_or_version), name, tracking_uri).version)


def load_paydate(
    alias_or_version: str = CHAMPION, name: str = PAYDATE_MODEL_NAME, tracking_uri: str | None = None
) -> LoadedPaydate:
    """Load a registered payment-date version by alias or number. Raises
    ``registry.NoChampionError`` when it does not exist (the nightly then skips the forecast)."""
    mv = _find_paydate(str(alias_or_version), name, tracking_uri)
    key = str(alias_or_version)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path=BOOSTER_ARTIFACT, dst_path=tmp
            )
            booster = lgb.Booster(model_file=local)
        spec = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{SPEC_ARTIFACT}")
        run_metrics = MlflowClient().get_run(mv.run_id).data.metrics
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
        memo_share=float(spec.get("memo_share", 0.0)),
        plan=dict(spec.get("plan") or {}),
        held_out_weekdays=spec.get("held_out_weekdays") or None,
        interval_levels=stored_levels(spec),
        cash_wape=run_metrics.get("cash_wape"),
        cash_weeks=int(run_metrics["cash_weeks"]) if "cash_weeks" in run_metrics else None,
    )


def stored_levels(spec: Mapping[str, Any]) -> tuple[float, float]:
    """The interval levels a version's spec stored (``interval_levels``, since session 35), else 0.1 /
    0.9: what every version trained before read."""
    from models.paydate import DEFAULT_LEVELS

    levels = spec.get("interval_levels")
    return (float(levels[0]), float(levels[1])) if levels else DEFAULT_LEVELS


def spec_record(features: list[str], horizon_weeks: int, period_days: int, **extra: Any) -> dict[str, Any]:
    """The ``paydate_spec.json`` of a version."""
    return {
        "features": list(features),
        "horizon_weeks": int(horizon_weeks),
        "period_days": int(period_days),
        **{k: json.loads(json.dumps(v, default=str)) for k, v in extra.items()},
    }
