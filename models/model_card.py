"""Model card (markdown) for a trained PD model: use, data window, default definition, metrics, limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from features.params import DefaultDefinition
from models.evaluate import METRIC_NAMES

__all__ = ["CardInfo", "render_model_card"]


@dataclass(frozen=True)
class CardInfo:
    """What the card reports. ``windows`` is ``models.split.check_defaults`` output (index = window)."""

    model_name: str
    windows: pd.DataFrame
    definition: DefaultDefinition
    metrics: Mapping[str, float]
    baseline_metrics: Mapping[str, float]
    calibration_method: str
    calibration_rule: str
    n_features: int
    best_iteration: int
    dropped: Mapping[str, str]
    segments: pd.DataFrame
    data_hash: str
    config_hash: str
    git_commit: str


def _fmt(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.4f}"


def render_model_card(info: CardInfo) -> str:
    """The model card as markdown text."""
    d = info.definition
    lines = [
        f"# Model card: {info.model_name}",
        "",
        "## Intended use",
        "",
        "Ranks and quantifies the probability that a B2B debtor enters default within the label horizon, "
        "for early warning (watchlist) and for ranking the collections queue by expected loss. "
        "Debtors already in default at the as-of date are out of scope (they go straight to collections). "
        "Not intended for credit-granting decisions on new applicants without separate validation.",
        "",
        "## Default definition",
        "",
        f"- in default on day t: an invoice open at t at least **{d.dpd_threshold} days** past due, "
        f"or an event of kind {', '.join(d.event_kinds)} by t;",
        f"- label at as-of T: 1 when the first default falls in (T, T + **{d.horizon_days} days**].",
        "",
        "## Data windows (out of time)",
        "",
        "| window | snapshots | first | last | labelled rows | defaults | default rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for window, row in info.windows.iterrows():
        lines.append(
            f"| {window} | {row['snapshots']} | {row['first']} | {row['last']} | {row['labelled']:,} "
            f"| {row['defaults']:,} | {row['default_rate']:.2%} |"
        )
    lines += [
        "",
        f"LightGBM with {info.best_iteration} trees (early stopping on the validation window), "
        f"{info.n_features} features; calibrated with **{info.calibration_method}** "
        f"({info.calibration_rule}) on the calibration window. Baseline: WoE scorecard (optbinning) "
        "with logistic regression, fitted on train + validation, not recalibrated.",
        "",
        "## Test metrics against the baseline",
        "",
        "| metric | model | baseline |",
        "|---|---|---|",
    ]
    for key in METRIC_NAMES:
        lines.append(f"| test_{key} | {_fmt(info.metrics[key])} | {_fmt(info.baseline_metrics[key])} |")
    lines += [
        "",
        "### By segment (model)",
        "",
        "| segment | rows | defaults | AUC | ECE | mean PD | default rate |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for _, row in info.segments.iterrows():
        lines.append(
            f"| {row['segment']} | {row['rows']:,} | {row['defaults']:,} | {_fmt(row['auc'])} | {_fmt(row['ece'])} "
            f"| {_fmt(row['mean_pd'])} | {_fmt(row['default_rate'])} |"
        )
    lines += ["", "## Limitations", ""]
    lines.append(
        "- Trained on one portfolio's history; PDs are calibrated to the calibration window's default rate "
        "and drift as conditions change (monitor the PSI of the score and top features)."
    )
    lines.append(
        "- Labels need a full horizon: the newest snapshots cannot be evaluated; the test window is a "
        "single snapshot, so its metrics carry sampling noise (see rows and defaults above)."
    )
    lines.append(
        "- Adjacent windows can have overlapping label horizons unless split.gap_snapshots covers the horizon."
    )
    if info.dropped:
        dropped = ", ".join(f"{k} ({v})" for k, v in sorted(info.dropped.items()))
        lines.append(f"- Features dropped as uninformative on the training rows: {dropped}.")
    lines += [
        "",
        "## Provenance",
        "",
        f"- data hash: `{info.data_hash}`",
        f"- config hash: `{info.config_hash}`",
        f"- git commit: `{info.git_commit}`",
        "",
    ]
    return "\n".join(lines)
