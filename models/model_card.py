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
    kind: str = "lightgbm"
    selection: str = ""
    intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None = None
    trained_through: str = ""
    shipped_calibration: str = ""
    # a small book's LightGBM fitted on every labelled month-end (rollrate.all_labelled): why there is
    # no test window; the windows are then its inner folds and the baseline the roll-rate model
    no_test_window: str = ""
    fold_scoring: str = (
        "uncalibrated (raw probabilities: the registered model's calibrator sits on the refit's scale)"
    )


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
        *(
            [
                f"- an invoice counts toward a default only while more than **{d.min_open_amount:,.2f}** of it "
                "is open (default_definition.min_open_amount; a statement: while its balance is more than that);"
            ]
            if d.min_open_amount
            else []
        ),
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
    if info.no_test_window:
        lines += [
            "",
            f"Registered model: **{info.kind}** ({info.selection}). LightGBM: {info.best_iteration} trees (the "
            f"count with the lowest pooled log-loss on the inner folds above), {info.n_features} features, fitted on "
            f"every labelled snapshot (through {info.trained_through}); calibration: **{info.calibration_method}** "
            f"({info.calibration_rule}). {info.no_test_window[0].upper()}{info.no_test_window[1:]}: each fold's "
            f"model was fitted on the labels known at its first month-end and scores {info.fold_scoring}; baseline: "
            "the roll-rate model on the same rows.",
            "",
            "## Inner-fold (out-of-time) metrics against the roll-rate model",
            "",
            "| metric | model | 95% interval (debtor bootstrap) | baseline |",
            "|---|---|---|---|",
        ]
    else:
        lines += [
            "",
            f"Registered model: **{info.kind}** ({info.selection}). LightGBM: {info.best_iteration} trees "
            f"(early stopping on the validation window), {info.n_features} features; baseline: WoE scorecard "
            "(optbinning) with logistic regression. Test figures come from models fitted on train + validation "
            "only; each is calibrated on its raw score with "
            f"**{info.calibration_method}** ({info.calibration_rule}). The registered model is then refitted on "
            f"every labelled snapshot (through {info.trained_through or 'the test window'}) with the same "
            f"settings; its own calibrator: {info.shipped_calibration or 'fitted on the out-of-time scores of the calibration and test windows'}.",
            "",
            "## Test metrics against the baseline",
            "",
            "| metric | model | 95% interval (debtor bootstrap) | baseline |",
            "|---|---|---|---|",
        ]
    ci = (info.intervals or {}).get("challenger", {})
    for key in METRIC_NAMES:
        low_high = f"{_fmt(ci[key][0])}..{_fmt(ci[key][1])}" if key in ci else ""
        lines.append(
            f"| test_{key} | {_fmt(info.metrics[key])} | {low_high} | {_fmt(info.baseline_metrics[key])} |"
        )
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
        "- Labels need a full horizon: the newest snapshots cannot be evaluated; the test window pools the "
        "latest observed snapshots until it holds enough defaults, and its metrics carry the intervals above."
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
