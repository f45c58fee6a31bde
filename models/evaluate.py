"""Evaluation of PD models: discrimination, calibration, capture, segment tables, drift references.

Everything here is pure: arrays/frames in, numbers/frames out. ``y`` is a 0/1 default label per
row; ``p`` a PD in [0, 1] per row (the probability of default within the label horizon).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

__all__ = [
    "METRIC_NAMES",
    "GateDecision",
    "GateThresholds",
    "calibration_table",
    "capture_rate",
    "classification_metrics",
    "expected_calibration_error",
    "gate_decision",
    "ks_statistic",
    "reference_distribution",
    "reference_proportions",
    "segment_table",
]

# Keys of :func:`classification_metrics`, in reporting order. MLflow names are ``test_<key>``.
METRIC_NAMES: tuple[str, ...] = (
    "auc",
    "gini",
    "ks",
    "brier",
    "logloss",
    "ece",
    "capture_5pct",
    "capture_10pct",
    "mean_pd",
    "default_rate",
)


def _as_arrays(y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series):
    ya = np.asarray(y, dtype="float64")
    pa = np.asarray(p, dtype="float64")
    if ya.shape != pa.shape or ya.ndim != 1:
        raise ValueError(f"y and p must be 1-d and of equal length, got shapes {ya.shape} and {pa.shape}")
    if ya.size == 0:
        raise ValueError("cannot evaluate on zero rows")
    if np.isnan(ya).any() or not np.isin(ya, (0.0, 1.0)).all():
        raise ValueError("y must contain only 0/1 labels (no missing values)")
    if np.isnan(pa).any() or (pa < 0).any() or (pa > 1).any():
        raise ValueError("p must be probabilities in [0, 1] without missing values")
    return ya, pa


def _order_by_risk(p: np.ndarray) -> np.ndarray:
    """Row order by descending PD; ties keep input order (deterministic)."""
    return np.argsort(-p, kind="stable")


def expected_calibration_error(
    y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series, n_bins: int = 10
) -> float:
    """ECE over ``n_bins`` equal-frequency bins of PD.

    Bin edges are the PD quantiles at 1/n_bins, 2/n_bins, ...; tied PDs (e.g. isotonic plateaus)
    always share a bin, so bins are equal in size up to ties. The ECE is the row-weighted mean of
    ``|mean(p) - mean(y)|`` over non-empty bins. Unit: probability (0..1).
    """
    ya, pa = _as_arrays(y, p)
    inner = np.quantile(pa, np.linspace(0, 1, n_bins + 1)[1:-1])
    idx = np.searchsorted(inner, pa, side="right")
    count = np.bincount(idx, minlength=n_bins).astype("float64")
    sum_p = np.bincount(idx, weights=pa, minlength=n_bins)
    sum_y = np.bincount(idx, weights=ya, minlength=n_bins)
    filled = count > 0
    return float(np.abs(sum_p[filled] - sum_y[filled]).sum() / ya.size)


def capture_rate(
    y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series, share: float
) -> float:
    """Share of all defaulters found in the top ``share`` of rows by PD (``ceil(share * n)`` rows).

    Returns NaN when there are no defaulters. Ties at the cut are broken by input order.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    ya, pa = _as_arrays(y, p)
    total = ya.sum()
    if total == 0:
        return float("nan")
    top = _order_by_risk(pa)[: math.ceil(share * ya.size)]
    return float(ya[top].sum() / total)


def ks_statistic(
    y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series
) -> float:
    """Kolmogorov-Smirnov distance between the PD distributions of defaulters and the others (0..1)."""
    ya, pa = _as_arrays(y, p)
    if ya.min() == ya.max():
        return float("nan")
    fpr, tpr, _ = roc_curve(ya, pa)
    return float(np.max(tpr - fpr))


def classification_metrics(
    y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series
) -> dict[str, float]:
    """The standard PD metrics, keyed as in :data:`METRIC_NAMES`.

    auc, gini (= 2 auc - 1), ks, brier, logloss, ece (10 equal-frequency bins),
    capture_5pct / capture_10pct (share of defaulters in the top 5% / 10% by PD),
    mean_pd and default_rate. Ranking metrics are NaN when only one class is present.
    """
    ya, pa = _as_arrays(y, p)
    both = ya.min() != ya.max()
    auc = float(roc_auc_score(ya, pa)) if both else float("nan")
    clipped = np.clip(pa, 1e-15, 1 - 1e-15)
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(ya, pa),
        "brier": float(brier_score_loss(ya, pa)),
        "logloss": float(log_loss(ya, clipped, labels=[0, 1])),
        "ece": expected_calibration_error(ya, pa),
        "capture_5pct": capture_rate(ya, pa, 0.05),
        "capture_10pct": capture_rate(ya, pa, 0.10),
        "mean_pd": float(pa.mean()),
        "default_rate": float(ya.mean()),
    }


def segment_table(
    y: Sequence[int] | np.ndarray | pd.Series,
    p: Sequence[float] | np.ndarray | pd.Series,
    segments: Sequence[Any] | pd.Series,
) -> pd.DataFrame:
    """Metrics per segment plus an ``(all)`` row.

    One row per segment value (missing segment shown as ``(missing)``): ``segment``, ``rows``,
    ``defaults`` and the :func:`classification_metrics` columns.
    """
    ya, pa = _as_arrays(y, p)
    seg = pd.Series(np.asarray(segments, dtype=object)).where(pd.notna(np.asarray(segments, dtype=object)))
    seg = seg.fillna("(missing)").astype(str).to_numpy()
    if seg.shape != ya.shape:
        raise ValueError(f"segments has {seg.size} rows, y has {ya.size}")
    rows = []
    for name in [*sorted(set(seg)), "(all)"]:
        mask = np.ones_like(ya, dtype=bool) if name == "(all)" else seg == name
        m = classification_metrics(ya[mask], pa[mask])
        rows.append({"segment": name, "rows": int(mask.sum()), "defaults": int(ya[mask].sum()), **m})
    return pd.DataFrame(rows)


def calibration_table(
    y: Sequence[int] | np.ndarray | pd.Series, p: Sequence[float] | np.ndarray | pd.Series, n_bins: int = 10
) -> pd.DataFrame:
    """Reliability curve on equal-frequency PD bins (``sklearn.calibration.calibration_curve``).

    Columns ``mean_pd`` and ``default_rate`` per non-empty bin, ordered by PD.
    """
    ya, pa = _as_arrays(y, p)
    rate, mean_pd = calibration_curve(ya, pa, n_bins=n_bins, strategy="quantile")
    return pd.DataFrame({"mean_pd": mean_pd, "default_rate": rate})


# ---------------------------------------------------------------------------------------------
# reference distributions for drift (PSI) -- stored as reference.json by the train flow
# ---------------------------------------------------------------------------------------------


def reference_distribution(values: pd.Series, n_bins: int = 10) -> dict[str, Any]:
    """Bins and proportions describing one variable on the reference sample (JSON-safe).

    Numeric: ``{"kind": "numeric", "cuts": [...], "proportions": [...], "missing": share}`` where
    bins are ``(-inf, c1], (c1, c2], ..., (ck, inf)`` on quantile cut points (duplicates removed)
    and ``proportions`` are shares of the non-missing rows. Categorical / string:
    ``{"kind": "categorical", "categories": [...], "proportions": [...], "missing": share}``.
    Compare new data with :func:`reference_proportions`.
    """
    n = len(values)
    if n == 0:
        raise ValueError("reference sample is empty")
    missing = float(values.isna().mean())
    if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values):
        counts = values.dropna().astype(str).value_counts().sort_index()
        total = counts.sum()
        props = (counts / total).tolist() if total else []
        return {
            "kind": "categorical",
            "categories": counts.index.tolist(),
            "proportions": props,
            "missing": missing,
        }
    present = values.dropna().astype("float64").to_numpy()
    if present.size == 0:
        return {"kind": "numeric", "cuts": [], "proportions": [], "missing": missing}
    cuts = np.unique(np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1]))
    entry = {"kind": "numeric", "cuts": cuts.tolist(), "proportions": [], "missing": missing}
    entry["proportions"] = reference_proportions(values, entry).tolist()
    return entry


def reference_proportions(values: pd.Series, entry: Mapping[str, Any]) -> np.ndarray:
    """Shares of ``values`` (non-missing) in the bins of a :func:`reference_distribution` entry.

    Returns one share per bin (same length as ``entry["proportions"]``); unseen categories are
    ignored. An all-missing input yields zeros.
    """
    present = values.dropna()
    if entry["kind"] == "categorical":
        cats = list(entry["categories"])
        counts = present.astype(str).value_counts().reindex(cats, fill_value=0).to_numpy(dtype="float64")
    else:
        cuts = np.asarray(entry["cuts"], dtype="float64")
        idx = np.searchsorted(cuts, present.astype("float64").to_numpy(), side="left")
        counts = np.bincount(idx, minlength=cuts.size + 1).astype("float64")
    total = counts.sum()
    return counts / total if total else counts


# ---------------------------------------------------------------------------------------------
# promotion gate
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateThresholds:
    """Promotion gate. ``min_auc`` and ``max_ece`` are absolute; the margins are vs the champion
    evaluated on the same test window (challenger AUC >= champion AUC - ``max_auc_drop`` and
    challenger ECE <= champion ECE + ``max_ece_increase``)."""

    min_auc: float = 0.70
    max_ece: float = 0.02
    max_auc_drop: float = 0.005
    max_ece_increase: float = 0.01


@dataclass(frozen=True)
class GateDecision:
    """Outcome of :func:`gate_decision`; ``reasons`` are human-readable, one per check."""

    passed: bool
    reasons: tuple[str, ...]
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] | None = None


def gate_decision(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    thresholds: GateThresholds,
    *,
    champion_problem: str | None = None,
) -> GateDecision:
    """Decide whether the challenger may become champion.

    ``challenger``/``champion`` hold :func:`classification_metrics` keys (``auc``, ``ece``) computed
    on the same test rows. ``champion`` None means there is no champion yet (only absolute checks).
    ``champion_problem`` (e.g. the champion cannot score the new features) fails the gate: the
    comparison cannot be made, so a human must decide with ``ews models promote``.
    """
    reasons: list[str] = []
    ok = True
    auc, ece = float(challenger["auc"]), float(challenger["ece"])
    if not auc >= thresholds.min_auc:
        ok = False
        reasons.append(f"FAIL test_auc {auc:.4f} < min_auc {thresholds.min_auc:.4f}")
    else:
        reasons.append(f"ok test_auc {auc:.4f} >= min_auc {thresholds.min_auc:.4f}")
    if not ece <= thresholds.max_ece:
        ok = False
        reasons.append(f"FAIL test_ece {ece:.4f} > max_ece {thresholds.max_ece:.4f}")
    else:
        reasons.append(f"ok test_ece {ece:.4f} <= max_ece {thresholds.max_ece:.4f}")
    if champion_problem is not None:
        ok = False
        reasons.append(f"FAIL champion comparison impossible: {champion_problem}")
    elif champion is None:
        reasons.append("ok no current champion")
    else:
        c_auc, c_ece = float(champion["auc"]), float(champion["ece"])
        floor = c_auc - thresholds.max_auc_drop
        if not auc >= floor:
            ok = False
            reasons.append(
                f"FAIL test_auc {auc:.4f} < champion {c_auc:.4f} - margin {thresholds.max_auc_drop}"
            )
        else:
            reasons.append(
                f"ok test_auc {auc:.4f} >= champion {c_auc:.4f} - margin {thresholds.max_auc_drop}"
            )
        ceiling = c_ece + thresholds.max_ece_increase
        if not ece <= ceiling:
            ok = False
            reasons.append(
                f"FAIL test_ece {ece:.4f} > champion {c_ece:.4f} + margin {thresholds.max_ece_increase}"
            )
        else:
            reasons.append(
                f"ok test_ece {ece:.4f} <= champion {c_ece:.4f} + margin {thresholds.max_ece_increase}"
            )
    return GateDecision(
        passed=ok,
        reasons=tuple(reasons),
        challenger={k: float(v) for k, v in challenger.items()},
        champion=None if champion is None else {k: float(v) for k, v in champion.items()},
    )
