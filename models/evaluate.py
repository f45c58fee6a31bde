"""Evaluation of PD models: discrimination, calibration, capture, segment tables, drift references.

Everything here is pure: arrays/frames in, numbers/frames out. ``y`` is a 0/1 default label per
row; ``p`` a PD in [0, 1] per row (the probability of default within the label horizon).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from models.bootstrap import debtor_draws, percentile_interval
from models.gate_words import ECE_WORDS, KIND_WORDS, OLDER_DATA, in_words

__all__ = [
    "METRIC_NAMES",
    "GateDecision",
    "GateThresholds",
    "HEADLINE",
    "bootstrap_intervals",
    "choose_challenger",
    "paired_difference",
    "within_strata_auc",
    "ece_noise",
    "calibration_table",
    "capture_rate",
    "classification_metrics",
    "decision_summary",
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
# bootstrap intervals, resampling debtors
# ---------------------------------------------------------------------------------------------

# Metrics that get a bootstrap interval (the headline figures of a training).
HEADLINE: tuple[str, ...] = ("auc", "logloss", "brier", "ece", "capture_5pct")
# Metrics whose resampled values sit above the point: the binned ECE sums |mean PD - default rate| per
# bin, and a replicate's bins hold fewer distinct debtors, so chance adds to every bin (unseen small
# s208: ECE 0.0031, percentile interval 0.0033..0.0072, the point below its own interval; s35-walk W13).
# Their interval is the bootstrap spread placed around the point (see :func:`bootstrap_intervals`).
UPWARD_BIASED: tuple[str, ...] = ("ece",)


class _Weighted:
    """Precomputed orderings of one PD vector so each bootstrap replicate costs O(rows)."""

    def __init__(self, y: np.ndarray, p: np.ndarray, n_bins: int = 10):
        self.y, self.p = y, p
        levels, self.level = np.unique(p, return_inverse=True)
        self.n_levels = levels.size
        inner = np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1])
        self.bin = np.searchsorted(inner, p, side="right")
        self.n_bins = n_bins
        self.desc = _order_by_risk(p)
        clipped = np.clip(p, 1e-15, 1 - 1e-15)
        self.nll = -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
        self.sq = (p - y) ** 2

    def metrics(self, w: np.ndarray) -> dict[str, float]:
        y = self.y
        total = w.sum()
        pos_w = np.bincount(self.level, weights=w * y, minlength=self.n_levels)
        neg_w = np.bincount(self.level, weights=w * (1 - y), minlength=self.n_levels)
        n_pos, n_neg = pos_w.sum(), neg_w.sum()
        if n_pos > 0 and n_neg > 0:
            below = np.cumsum(neg_w) - neg_w
            auc = float((pos_w * (below + 0.5 * neg_w)).sum() / (n_pos * n_neg))
        else:
            auc = float("nan")
        cnt = np.bincount(self.bin, weights=w, minlength=self.n_bins)
        sp = np.bincount(self.bin, weights=w * self.p, minlength=self.n_bins)
        sy = np.bincount(self.bin, weights=w * y, minlength=self.n_bins)
        ece = float(np.abs(sp - sy)[cnt > 0].sum() / total)
        wd = w[self.desc]
        cut = int(np.searchsorted(np.cumsum(wd), 0.05 * total, side="left")) + 1
        captured = (wd[:cut] * y[self.desc][:cut]).sum()
        return {
            "auc": auc,
            "logloss": float((w * self.nll).sum() / total),
            "brier": float((w * self.sq).sum() / total),
            "ece": ece,
            "capture_5pct": float(captured / n_pos) if n_pos > 0 else float("nan"),
        }


def bootstrap_intervals(
    y: Sequence[int] | np.ndarray,
    preds: Mapping[str, np.ndarray],
    groups: Sequence[Any] | np.ndarray | pd.Series,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, tuple[float, float]]]:
    """Percentile bootstrap intervals of the :data:`HEADLINE` metrics, resampling *debtors*.

    ``y``: 0/1 per row; ``preds``: model name -> PD per row (same rows); ``groups``: debtor id per
    row (all rows of a drawn debtor enter the replicate, so the snapshots of one debtor stay
    together). Every model is evaluated on the same replicates, so ``pairs`` ``(a, b)`` also get
    intervals of the paired difference ``metric(a) - metric(b)`` under the key ``"a-b"``.
    Returns ``{name: {metric: (low, high)}}``. ECE bins are those of the full sample.

    The metrics of :data:`UPWARD_BIASED` (the ECE) get a median-bias-corrected percentile interval:
    the replicates' 2.5th and 97.5th percentiles shifted by the point minus the replicates' median,
    ``(max(0, point - (median - q_low)), point + (q_high - median))``. Their plain percentiles measure
    the resampling's bias as much as the chance: the point could lie below them. This interval always
    holds the point, and its width is the bootstrap's. A paired difference keeps its plain percentiles
    (the bias of the two models' ECEs largely cancels; benchmark rules were judged on them).
    """
    ya = np.asarray(y, dtype="float64")
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), sort=False)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    if n_groups < 2:
        raise ValueError(f"bootstrap by debtor needs at least 2 debtors, got {n_groups}")
    prepared = {name: _Weighted(ya, _as_arrays(ya, p)[1]) for name, p in preds.items()}
    draws: dict[str, list[dict[str, float]]] = {name: [] for name in prepared}
    for counts in debtor_draws(n_groups, n_boot, seed):
        w = counts.astype("float64")[codes]
        for name, prep in prepared.items():
            draws[name].append(prep.metrics(w))
    tail = (1 - level) / 2 * 100
    out: dict[str, dict[str, tuple[float, float]]] = {}

    def interval(values: np.ndarray, point: float | None = None) -> tuple[float, float]:
        if np.isnan(values).all():
            return (float("nan"), float("nan"))
        lo, mid, hi = np.nanpercentile(values, [tail, 50, 100 - tail])
        if point is None or not np.isfinite(point):
            return (float(lo), float(hi))
        return (float(max(point - (mid - lo), 0.0)), float(point + (hi - mid)))

    whole = np.ones(ya.size)
    frames = {name: pd.DataFrame(rows) for name, rows in draws.items()}
    for name, frame in frames.items():
        point = prepared[name].metrics(whole)
        out[name] = {
            m: interval(frame[m].to_numpy(), point[m] if m in UPWARD_BIASED else None) for m in HEADLINE
        }
    for a, b in pairs:
        diff = frames[a] - frames[b]
        out[f"{a}-{b}"] = {m: interval(diff[m].to_numpy()) for m in HEADLINE}
    return out


def _within_auc(parts: Sequence[tuple[_Weighted, np.ndarray]], w: np.ndarray) -> float:
    """Pair-weighted mean of the per-stratum weighted AUCs (pairs of one stratum only)."""
    num = den = 0.0
    for prep, idx in parts:
        ws = w[idx]
        pairs = float((ws * prep.y).sum() * (ws * (1 - prep.y)).sum())
        if pairs > 0:
            num += prep.metrics(ws)["auc"] * pairs
            den += pairs
    return num / den if den > 0 else float("nan")


def _strata_parts(y: np.ndarray, p: np.ndarray, strata: np.ndarray) -> list[tuple[_Weighted, np.ndarray]]:
    return [
        (_Weighted(y[idx], p[idx]), idx) for idx in (np.flatnonzero(strata == s) for s in np.unique(strata))
    ]


def within_strata_auc(
    y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray, strata: Sequence[Any] | np.ndarray
) -> float:
    """AUC over the (defaulter, non-defaulter) pairs that share a stratum.

    Equal to the mean of the per-stratum AUCs weighted by their numbers of pairs; a single stratum
    gives the plain AUC. Rolling-origin folds are scored by *different* models, each calibrated on its
    own window: a pair across two folds compares those models' levels, not a ranking, so pooled
    folds are ranked within each fold only. NaN when no stratum holds both classes.
    """
    ya, pa = _as_arrays(y, p)
    codes, _ = pd.factorize(pd.Series(np.asarray(strata, dtype=object)), sort=True)
    return _within_auc(_strata_parts(ya, pa, codes), np.ones(ya.size))


def paired_difference(
    y: Sequence[int] | np.ndarray,
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    groups: Sequence[Any] | np.ndarray | pd.Series,
    strata: Sequence[Any] | np.ndarray | None = None,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Point value and paired debtor-bootstrap interval of ``a - b`` in log-loss and AUC.

    ``y``: 0/1 per row; ``a``, ``b``: the two models' PDs on the same rows; ``groups``: debtor id per
    row (a drawn debtor brings all its rows, in every stratum); ``strata``: e.g. the rolling-origin
    fold of each row (None = one stratum). Log-loss is the mean over all rows (a sum of per-row
    terms, so pooling strata is exact); AUC counts only pairs within a stratum
    (:func:`within_strata_auc`). Returns ``({"logloss", "auc"}, {"logloss": (low, high), "auc": ...})``.
    """
    ya, pa = _as_arrays(y, a)
    pb = _as_arrays(ya, b)[1]
    if pa.size != pb.size:
        raise ValueError(f"a and b have {pa.size} and {pb.size} rows")
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), sort=False)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    if n_groups < 2:
        raise ValueError(f"bootstrap by debtor needs at least 2 debtors, got {n_groups}")
    stratum = (
        np.zeros(ya.size, dtype="int64")
        if strata is None
        else pd.factorize(pd.Series(np.asarray(strata, dtype=object)), sort=True)[0]
    )
    parts = {k: _strata_parts(ya, p, stratum) for k, p in (("a", pa), ("b", pb))}
    nll = {k: _Weighted(ya, p).nll for k, p in (("a", pa), ("b", pb))}
    d_nll = nll["a"] - nll["b"]

    def diff(w: np.ndarray) -> tuple[float, float]:
        return (
            float((w * d_nll).sum() / w.sum()),
            _within_auc(parts["a"], w) - _within_auc(parts["b"], w),
        )

    point_ll, point_auc = diff(np.ones(ya.size))
    draws = np.empty((n_boot, 2))
    for i, counts in enumerate(debtor_draws(n_groups, n_boot, seed)):
        draws[i] = diff(counts.astype("float64")[codes])
    ci = {name: percentile_interval(draws[:, j], level) for j, name in enumerate(("logloss", "auc"))}
    return {"logloss": point_ll, "auc": point_auc}, ci


def ece_noise(
    p: Sequence[float] | np.ndarray,
    *,
    n_sim: int = 200,
    quantile: float = 0.95,
    seed: int = 0,
    debtors: Sequence[Any] | np.ndarray | None = None,
    as_of: Sequence[Any] | np.ndarray | None = None,
    horizon_months: int = 3,
) -> float:
    """The ECE a *perfectly calibrated* model would show on these rows by chance alone.

    Labels are drawn from ``p`` ``n_sim`` times and the ``quantile`` of the resulting ECE (same bins
    as :func:`expected_calibration_error`) is returned. It shrinks with the number of rows and
    defaults: about 0.07 on a 100-row window, under 0.005 on 100,000 rows.

    Without ``debtors``: each row's label is an independent ``Bernoulli(p)``. With ``debtors`` and
    ``as_of`` (the rows' month-ends): labels are drawn as debtor paths (:class:`_DebtorPaths`), as
    the labels of a window of several month-ends are: one default of a debtor is a 1 at each of its
    month-ends within the ``horizon_months`` before it, and its later rows are gone (in default).
    """
    pa = np.asarray(p, dtype="float64")
    prep = _Weighted(np.zeros_like(pa), pa)
    rng = np.random.default_rng(seed)
    cnt = np.bincount(prep.bin, minlength=prep.n_bins)
    sp = np.bincount(prep.bin, weights=pa, minlength=prep.n_bins)
    paths = None if debtors is None else _DebtorPaths(pa, debtors, as_of, horizon_months)
    values = []
    for _ in range(n_sim):
        if paths is None:
            y = (rng.random(pa.size) < pa).astype("float64")
            sy = np.bincount(prep.bin, weights=y, minlength=prep.n_bins)
            values.append(np.abs(sp - sy)[cnt > 0].sum() / pa.size)
            continue
        y, kept = paths.draw(rng)
        sy = np.bincount(prep.bin[kept], weights=y[kept], minlength=prep.n_bins)
        spk = np.bincount(prep.bin[kept], weights=pa[kept], minlength=prep.n_bins)
        values.append(np.abs(spk - sy).sum() / max(int(kept.sum()), 1))
    return float(np.quantile(values, quantile))


# ``gate.ece_chance: debtors``: the percentile of the debtor-path chance ECE that is the gate's limit
DEBTOR_PATHS_QUANTILE = 0.99


class _DebtorPaths:
    """Default labels drawn from PDs as debtor paths (:func:`ece_noise` with debtors).

    A row's PD is the chance of a default within ``horizon`` months after its month-end, so it
    implies a constant monthly hazard ``1 - (1 - p) ** (1 / horizon)`` over those months. A calendar
    month's hazard is the mean of the hazards of the debtor's rows whose horizon covers it (none: 0).
    One draw picks each debtor's first default month (one uniform against its cumulative chance); a
    row is labelled 1 when that month falls within its horizon and is dropped when it falls in or
    before the row's own month (the debtor was in default at the month-end, so unlabelled). A debtor whose PD does not change is drawn exactly
    calibrated row by row; a PD that moves linearly month to month nearly so."""

    def __init__(self, p: np.ndarray, debtors: Any, as_of: Any, horizon: int):
        if as_of is None or len(debtors) != p.size or len(as_of) != p.size:
            raise ValueError("debtors and as_of must be given together, one per PD")
        when = pd.DatetimeIndex(pd.to_datetime(np.asarray(as_of)))
        month = np.asarray(when.year * 12 + when.month, dtype="int64")
        code = pd.factorize(np.asarray(debtors))[0]
        col = month - month.min()
        shape = (int(code.max()) + 1, int(col.max()) + horizon + 1)
        total, count = np.zeros(shape), np.zeros(shape)
        monthly = 1 - (1 - p) ** (1 / horizon)
        for ahead in range(1, horizon + 1):
            np.add.at(total, (code, col + ahead), monthly)
            np.add.at(count, (code, col + ahead), 1.0)
        hazard = np.divide(total, count, out=np.zeros(shape), where=count > 0)
        # the chance of a default by the end of each month: one uniform per debtor picks its month
        self.by_month = 1 - np.cumprod(1 - hazard, axis=1)
        self.code, self.col, self.horizon = code, col, horizon

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(y, kept)`` per row: the drawn label, and whether the row is still labelled."""
        u = rng.random(self.by_month.shape[0])
        first = (self.by_month <= u[:, None]).sum(axis=1)[self.code]  # == span: no default
        y = ((first > self.col) & (first <= self.col + self.horizon)).astype("float64")
        return y, first > self.col


# ---------------------------------------------------------------------------------------------
# which model competes, and the promotion gate
# ---------------------------------------------------------------------------------------------


def _ci(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def paired_rule(
    diff: Mapping[str, tuple[float, float]],
    point: Mapping[str, float],
    *,
    richer: str,
    simpler: str,
    label: str,
    auc_name: str = "AUC difference",
) -> tuple[bool, str]:
    """The richer model or the simpler one, from the paired bootstrap of ``richer - simpler``.

    ``diff``: 95 % intervals of the differences (``logloss``, ``auc``); ``point``: the point
    differences; ``richer`` / ``simpler``: the models' names in the reason (``simpler`` without its
    article: "the simpler scorecard"); ``label``: the difference as the reason shows it. Lower
    log-loss wins when its interval excludes 0; otherwise higher AUC wins when its interval excludes
    0; otherwise, and when the two measures disagree (lower log-loss, AUC significantly lower), the
    simpler model. Returns ``(richer wins, reason)``."""
    ll, auc = diff["logloss"], diff["auc"]
    shown = (
        f"log-loss difference {point['logloss']:+.4f} {_ci(ll)}, {auc_name} {point['auc']:+.4f} {_ci(auc)}"
        f" ({label}, 95% debtor bootstrap)"
    )
    if ll[1] < 0 and auc[1] < 0:
        return False, (
            f"the measures disagree ({richer} has the lower log-loss, the {simpler} ranks better), so "
            f"the simpler {simpler}: {shown}"
        )
    if ll[1] < 0:
        return True, f"{richer} has the lower log-loss: {shown}"
    if ll[0] > 0:
        return False, f"the {simpler} has the lower log-loss: {shown}"
    if auc[0] > 0:
        return True, f"log-loss tied; {richer} ranks better: {shown}"
    if auc[1] < 0:
        return False, f"log-loss tied; the {simpler} ranks better: {shown}"
    return False, f"no clear winner, so the simpler {simpler}: {shown}"


def choose_challenger(
    diff: Mapping[str, tuple[float, float]], point: Mapping[str, float], auc_name: str = "AUC difference"
) -> tuple[str, str]:
    """LightGBM or the scorecard, from the paired bootstrap of ``lightgbm - scorecard`` on the test window.

    ``diff``: intervals of the differences (``logloss``, ``auc``); ``point``: the point differences.
    Lower log-loss wins when its interval excludes 0; otherwise higher AUC wins when its interval
    excludes 0; otherwise the scorecard, because it is simpler. LightGBM never wins while its AUC
    is lower with the whole interval below 0: the gate refuses a challenger that is significantly
    worse than the scorecard on either measure (:func:`gate_decision`), so the rule must not pick
    one (the measures disagree: the simpler scorecard). Returns ``(kind, reason)``.
    ``auc_name`` names the AUC in the reason (pooled folds: "AUC difference within folds",
    :func:`paired_difference`). The rule is :func:`paired_rule`'s.
    """
    wins, reason = paired_rule(
        diff, point, richer="LightGBM", simpler="scorecard", label="LightGBM - scorecard", auc_name=auc_name
    )
    return ("lightgbm" if wins else "scorecard"), reason


def count_interval(defaults: int) -> tuple[float, float]:
    """Exact (Garwood) 95 % interval of the expected number of defaults that ``defaults`` observed
    ones allow (Poisson; a sum of small PDs): ``chi2(0.025, 2k) / 2`` to ``chi2(0.975, 2k + 2) / 2``.
    E.g. 8 -> (3.454, 15.763); 0 -> (0.0, 3.689)."""
    from scipy.stats import chi2

    k = int(defaults)
    low = 0.0 if k == 0 else float(chi2.ppf(0.025, 2 * k)) / 2
    return low, float(chi2.ppf(0.975, 2 * k + 2)) / 2


def level_said(
    y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray, where: str = "the test window"
) -> str:
    """A sentence when the PDs of ``where``'s rows (labels ``y``) add up to a number of defaults the
    observed count rules out at 95 % (:func:`count_interval`), else "". ``ews train`` prints it under
    the gate's verdict (issue 9: the walk's first roll-rate model, mean PD 0.11 % vs 0.63 % defaulted
    on its test window, 5.7x low, passed every check without a word; s44-pdlevel)."""
    ya, pa = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    rows, defaults, expected = len(ya), int(ya.sum()), float(pa.sum())
    if rows == 0:
        return ""
    low, high = count_interval(defaults)
    if low <= expected <= high:
        return ""
    said = f"PD level: on {where} the PDs add up to {expected:.1f} defaults where "
    if not defaults:
        return (
            said + f"none of {rows:,} live debtor-months defaulted (mean PD {pa.mean():.2%}): more than the "
            f"{high:.1f} that no default allows by chance (95 %)"
        )
    return (
        said + f"{defaults:,} of {rows:,} live debtor-months defaulted (mean PD {pa.mean():.2%} vs "
        f"{defaults / rows:.2%}): {'fewer' if expected < low else 'more'} than the {low:.1f}-{high:.1f} that "
        f"{defaults:,} defaults allow by chance (95 %), {expected / defaults:.2f}x what happened there"
    )


@dataclass(frozen=True)
class GateThresholds:
    """Promotion gate, sample-size aware.

    ``min_auc``: floor of the challenger's test AUC. ``ece_margin``: added to the ECE that a
    perfectly calibrated model would show on the test rows by chance (:func:`ece_noise`, 95th
    percentile), so the tolerance widens on small windows and narrows on large ones. Comparisons
    with the baseline and the champion fail only when the challenger is worse with the whole
    bootstrap interval of the paired difference (log-loss higher, or AUC lower).
    """

    min_auc: float = 0.70
    ece_margin: float = 0.005
    ece_chance: str = "rows"


@dataclass(frozen=True)
class GateDecision:
    """Outcome of :func:`gate_decision`; ``reasons`` are human-readable, one per check."""

    passed: bool
    reasons: tuple[str, ...]
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] | None = None
    summary: str = ""
    # the comparison with the champion and what it is worth (models.gate_words.comparison_words; the train
    # flow's gate fills it, session 42): stored as ews.gate.comparison* tags
    comparison: dict[str, Any] | None = None


def _plain(reason: str, challenger: Mapping[str, float], where: str = "the test window") -> str:
    """One failed or warned check in plain words (``where``: the rows the test_* figures read). Reads
    the checks as :func:`gate_decision` words them and as it did before (``test_auc``, ``test_ece``,
    ``min_auc`` before session 28, "calibration error (ECE)" in it: a registry keeps the older versions'
    reasons; :func:`models.gate_words.in_words`)."""
    check = in_words(reason).split(" ", 1)[-1]
    if check.startswith("AUC "):
        floor = re.search(r"(?:min_auc|floor) (\d\.\d+)", reason)
        return (
            f"it ranks too poorly (test AUC {float(challenger.get('auc', float('nan'))):.2f}, below the floor"
            + (f" {float(floor.group(1)):.2f})" if floor else ")")
        )
    if check.startswith(ECE_WORDS):
        if challenger.get("default_rate", 0) > 0 and "mean_pd" in challenger:
            return (
                f"its PDs missed the default rate of {where} (mean PD {float(challenger['mean_pd']):.2%} "
                f"vs {float(challenger['default_rate']):.2%} defaulted) by more than chance"
            )
        return "its PDs are further from the observed default rates than chance allows"
    if "worse than the scorecard" in reason:
        return "it is worse than the simpler scorecard"
    if "worse than the book's default rate" in reason:
        return "it is worse than giving every debtor the book's default rate"
    if "worse than the champion" in reason:
        return "it is worse than the current champion"
    if "not better than the champion" in reason:
        return "it does not beat the current champion on the rows both held out"
    if "no row to compare on" in reason:
        return "no test row could compare it with the current champion"
    if "champion comparison impossible" in reason:
        return "the current champion cannot be compared with it"
    older = re.match(rf"{OLDER_DATA}(\S+): trained on month-ends through (\S+), v\S+ through (\S+) ", check)
    if older:  # short: the dates stay in `ews models history`'s one line (110 characters)
        return f"it learned from older data than v{older[1]} (to {older[2]} vs {older[3]})"
    return reason.split(" ", 1)[-1]


def decision_summary(
    passed: bool,
    reasons: Sequence[str],
    challenger: Mapping[str, float],
    first_model: bool = False,
    where: str = "the test window",
) -> str:
    """The decision in one plain sentence (``ews models history`` puts it before the checks), from
    the ``ok`` / ``WARN`` / ``FAIL`` reasons of a gate (this module's, or the payment-date gate's,
    ``pipelines.adapters.paydate_registry``). ``first_model``: there is no champion to stay (the
    registry adds how to accept the version)."""
    warned = [_plain(r, challenger, where) for r in reasons if r.startswith("WARN ")]
    failed = [_plain(r, challenger, where) for r in reasons if r.startswith("FAIL ")]
    if not passed and first_model:
        return "Not promoted, and this book has no champion yet: " + "; ".join(failed) + "."
    if not passed:
        return "Not promoted, the champion stays: " + "; ".join(failed) + "."
    if warned:
        return (
            "Promoted with a warning, as the first model of this book (without a champion nothing is "
            "scored): " + "; ".join(warned) + "."
        )
    return "Promoted: every check passed."


def _worse(
    name: str, diff: Mapping[str, tuple[float, float]], point: Mapping[str, float], on: str | None = None
) -> tuple[bool, str]:
    ll, auc = diff["logloss"], diff["auc"]
    shown = f"log-loss {point['logloss']:+.4f} {_ci(ll)}, AUC {point['auc']:+.4f} {_ci(auc)} vs {name}"
    if on:
        shown += f", on {on}"
    if ll[0] > 0:
        return True, f"FAIL worse than {name}: higher log-loss with the whole interval above 0 ({shown})"
    if auc[1] < 0:
        return True, f"FAIL worse than {name}: lower AUC with the whole interval below 0 ({shown})"
    return False, f"ok not worse than {name} ({shown})"


def gate_decision(
    challenger: Mapping[str, float],
    thresholds: GateThresholds,
    *,
    ece_tolerance: float,
    kind: str = "lightgbm",
    vs_baseline: tuple[Mapping[str, tuple[float, float]], Mapping[str, float]] | None = None,
    champion: Mapping[str, float] | None = None,
    vs_champion: tuple[Mapping[str, tuple[float, float]], Mapping[str, float]] | None = None,
    champion_note: str | None = None,
    champion_problem: str | None = None,
    champion_evidence: str | None = None,
    champion_must_win: bool = False,
    champion_no_rows: bool = False,
    older_data: str | None = None,
    auc_interval: tuple[float, float] | None = None,
    baseline_evidence: str | None = None,
    first_model: bool = False,
    baseline_name: str = "the scorecard baseline",
    no_test_window: bool = False,
    shipped_calibrator: str | None = None,
    fold_scoring: str = "uncalibrated",
) -> GateDecision:
    """Decide whether the challenger may become champion.

    ``challenger``: :func:`classification_metrics` of the challenger on the pooled test window.
    ``ece_tolerance``: the chance ECE of a calibrated model on those rows (:func:`ece_noise`); the
    margin from ``thresholds`` is added. ``vs_baseline`` / ``vs_champion``: ``(intervals, point)``
    of the paired differences challenger - other (``logloss``, ``auc``) on the same rows; None when
    the challenger is the baseline itself, or when no comparison with the champion is possible
    (``champion_note`` says why, e.g. the champion trained on every test row); ``champion_evidence``
    names the rows ``vs_champion`` was measured on (:func:`models.gate_words.champion_rows`). ``champion_problem``
    (the champion cannot score the rows) fails the gate: a human decides with ``ews models promote``.
    ``older_data`` (:func:`models.gate_words.older_data`: the challenger's training month-ends end
    before the champion's, e.g. a model trained for a backtest) fails it too, whatever the figures.
    ``auc_interval``: the 95 % debtor-bootstrap interval of the test AUC; when given (the roll-rate
    model of a small book, whose test window holds a handful of defaults, and the first model of any
    book, ``pipelines.flows.train.gate``), the AUC floor fails only when the whole interval lies below
    it. ``baseline_name``: what ``vs_baseline`` compares with (the roll-rate model: "the book's
    default rate", every debtor at the default rate known at the month-end,
    :func:`models.rollrate.evaluate_rollrate`).

    ``baseline_evidence``: the body of evidence ``vs_baseline`` was measured on, named in the reason
    (the challenger rule's own: the test window, or the pooled rolling-origin folds when the test
    window was underpowered, :class:`models.challenger.Evidence`), so the rule and the gate never
    judge LightGBM against the scorecard on different rows. ``first_model`` (no champion yet): when
    the ECE limit is the *only* failed check, it is kept as a ``WARN`` and the model is promoted.
    Without a champion the nightly scores nothing, and the shipped model is refitted on every labelled
    snapshot, the test window included, with its own calibrator (``calibration.oof_folds``: chosen on
    out-of-fold scores of that refit; 0: the window calibrator refitted on the calibration and test
    windows), so a level missed on the test window (e.g. after a shock) is the evaluation model's, not
    the shipped one's (a roll-rate model's shipped matrix is refitted on the moves of every month-end,
    the test window's included). A model worse than its baseline or with its whole AUC interval below
    the floor is still refused, the first roll-rate model of a small book included (before session
    19 that one was promoted whatever failed).
    """
    reasons: list[str] = [f"ok challenger is the {KIND_WORDS.get(kind, kind)} model"]
    ok = True
    auc, ece = float(challenger["auc"]), float(challenger["ece"])
    floor = f"{thresholds.min_auc:.4f} (gate.min_auc)"
    if auc_interval is not None:
        low, high = (float(v) for v in auc_interval)
        shown = f"AUC {auc:.4f} [{low:.4f}, {high:.4f}]"
        if not high >= thresholds.min_auc:
            ok = False
            reasons.append(f"FAIL {shown}: the whole interval is below the floor {floor}")
        else:
            reasons.append(
                f"ok {shown}: the 95% debtor interval reaches the floor {floor}"
                + (
                    ", though the point estimate is below it (too few test defaults to tell)"
                    if auc < thresholds.min_auc
                    else ""
                )
            )
    elif not auc >= thresholds.min_auc:
        ok = False
        reasons.append(f"FAIL AUC {auc:.4f} < the floor {floor}")
    else:
        reasons.append(f"ok AUC {auc:.4f} >= the floor {floor}")
    if thresholds.ece_chance == "debtors" and kind in ("lightgbm", "scorecard") and not no_test_window:
        # the out-of-time windows' test rows: the 99th percentile of the debtor-path chance, no margin
        limit = ece_tolerance
        rule = (
            f"chance ECE of a calibrated model on these rows, labels drawn as debtor paths, "
            f"{DEBTOR_PATHS_QUANTILE * 100:g}th percentile {ece_tolerance:.4f} (gate.ece_chance debtors)"
        )
    else:
        limit = ece_tolerance + thresholds.ece_margin
        rule = (
            f"chance ECE of a calibrated model on these rows {ece_tolerance:.4f} + margin "
            f"{thresholds.ece_margin} (gate.ece_margin)"
        )
    if no_test_window and shipped_calibrator:
        # the fold rows are scored by the fold models (raw, or each behind its own calibrator); the shipped
        # model has its own
        rule += f"; the inner folds' models, {fold_scoring}; the shipped model: {shipped_calibrator}"
    ece_failed = not ece <= limit
    if ece_failed:
        ok = False
        level = ""
        if "mean_pd" in challenger and "default_rate" in challenger and challenger["default_rate"] > 0:
            level = (
                f"; mean PD {float(challenger['mean_pd']):.2%} vs {float(challenger['default_rate']):.2%} "
                "defaulted on the test window"
            )
        reasons.append(f"FAIL {ECE_WORDS} {ece:.4f} > {limit:.4f} ({rule}{level})")
    else:
        reasons.append(f"ok {ECE_WORDS} {ece:.4f} <= {limit:.4f} ({rule})")
    if vs_baseline is None and kind == "rollrate":
        reasons.append("ok no scorecard baseline: the book is too small to fit one out of time")
    elif vs_baseline is None:
        reasons.append("ok the challenger is the scorecard baseline itself")
    else:
        worse, why = _worse(baseline_name, *vs_baseline, on=baseline_evidence)
        ok = ok and not worse
        reasons.append(why)
    if older_data is not None:
        ok = False
        reasons.append(f"FAIL {older_data}")
    elif champion_problem is not None:
        ok = False
        reasons.append(f"FAIL champion comparison impossible: {champion_problem}")
    elif vs_champion is not None and champion_must_win:
        # candidate F: on the rows both held out the champion stays unless the challenger wins at the point
        worse, why = _worse("the champion", *vs_champion, on=champion_evidence)
        if not worse and float(vs_champion[1]["logloss"]) > 0:
            worse, why = (
                True,
                "FAIL not better than the champion: higher log-loss at the point estimate"
                + why[len("ok not worse than the champion") :],
            )
        ok = ok and not worse
        reasons.append(why)
    elif vs_champion is not None:
        worse, why = _worse("the champion", *vs_champion, on=champion_evidence)
        ok = ok and not worse
        reasons.append(why)
    elif champion_no_rows:
        ok = False
        reasons.append(f"FAIL {champion_note}")
    else:
        reasons.append(f"ok {champion_note or 'no current champion'}")
    only_ece = ece_failed and sum(r.startswith("FAIL ") for r in reasons) == 1
    if first_model and not ok and only_ece:
        reasons = [
            r.replace("FAIL ", "WARN ", 1) if r.startswith(f"FAIL {ECE_WORDS}") else r for r in reasons
        ]
        shipped = (
            "the shipped matrix is refitted on the moves of every month-end, the test window's included"
            if kind == "rollrate"
            else "the shipped model is LightGBM fitted on every labelled month-end, the inner folds' "
            "included, without a calibrator (rollrate.all_labelled): the level it missed on the folds is "
            "not corrected"
            if no_test_window and (shipped_calibrator or "no calibrator") == "no calibrator"
            else "the shipped model is LightGBM fitted on every labelled month-end, the inner folds' "
            f"included, with its own {shipped_calibrator}"
            if no_test_window
            else "the shipped model is refitted on every labelled snapshot, the test window included, with "
            "its own calibrator (calibration.oof_folds)"
        )
        reasons.append(
            "ok promoted with the ECE warning above: the first model of this book (no champion yet; without "
            f"one the nightly scores nothing); {shipped}, and the next `ews train` is held to the limit "
            "against this champion"
        )
        ok = True
    return GateDecision(
        passed=ok,
        reasons=tuple(reasons),
        challenger={k: float(v) for k, v in challenger.items()},
        champion=None if champion is None else {k: float(v) for k, v in champion.items()},
        summary=decision_summary(
            ok, reasons, challenger, first_model, "the inner folds" if no_test_window else "the test window"
        ),
    )
