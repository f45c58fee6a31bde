"""Population stability index (PSI) of the score and of features against a training reference.

A reference distribution is a :class:`Reference`: bin edges (numeric) or categories (categorical),
the share of training rows in each bin, and the share of missing values. PSI is
``sum((a - e) * ln(a / e))`` over the bins plus a missing bin, with shares floored at ``eps`` so
that an empty bin does not give an infinite value. Conventional reading: < 0.1 stable,
0.1-0.25 warning (moderate shift), > 0.25 alert (major shift).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "Reference",
    "binned_shares",
    "chance_psi",
    "coarsen",
    "drift_table",
    "psi",
    "reference_from_entry",
    "reference_from_values",
    "status",
]


@dataclass(frozen=True)
class Reference:
    """Training distribution of one variable.

    Numeric: ``edges`` (k+1 increasing values; the outer two are treated as -inf/+inf) and
    ``shares`` (k values); bins are ``[a, b)`` when ``closed="left"``, ``(a, b]`` when "right". Categorical: ``categories`` (k labels) and ``shares`` (k values; values
    outside the categories count in an extra "other" bin with reference share 0).
    ``missing`` is the share of missing values. Shares plus missing sum to 1.
    """

    shares: tuple[float, ...]
    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None
    missing: float = 0.0
    closed: Literal["left", "right"] = "left"

    def __post_init__(self) -> None:
        if (self.edges is None) == (self.categories is None):
            raise ValueError("a Reference needs exactly one of edges (numeric) or categories")
        k = len(self.edges) - 1 if self.edges is not None else len(self.categories or ())
        if len(self.shares) != k:
            raise ValueError(f"Reference has {len(self.shares)} shares for {k} bins")
        total = sum(self.shares) + self.missing
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"Reference shares plus missing must sum to 1, got {total:.6f}")


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """PSI between two vectors of bin shares (each sums to 1); shares floored at ``eps``."""
    e = np.clip(np.asarray(expected, dtype="float64"), eps, None)
    a = np.clip(np.asarray(actual, dtype="float64"), eps, None)
    if e.shape != a.shape:
        raise ValueError(f"expected and actual need the same number of bins: {e.shape} vs {a.shape}")
    return float(np.sum((a - e) * np.log(a / e)))


def binned_shares(values: pd.Series, ref: Reference) -> np.ndarray:
    """Shares of ``values`` in the reference's bins, then the missing bin (and "other" if categorical).

    Returns an array of k + 1 (numeric) or k + 2 (categorical) shares summing to 1 (0s when empty).
    """
    n = len(values)
    isna = values.isna().to_numpy()
    if ref.edges is not None:
        inner = np.asarray(ref.edges[1:-1], dtype="float64")
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[~isna]
        idx = np.searchsorted(inner, x, side="right" if ref.closed == "left" else "left")
        counts = np.bincount(idx, minlength=len(ref.shares)).astype("float64")
        out = np.append(counts, isna.sum())
    else:
        cats = list(ref.categories or ())
        codes = pd.Categorical(values.astype("string")[~isna], categories=cats).codes
        counts = np.bincount(codes[codes >= 0], minlength=len(cats)).astype("float64")
        out = np.concatenate([counts, [isna.sum(), (codes < 0).sum()]])
    return out / n if n else out


def _expected(ref: Reference) -> np.ndarray:
    base = [*ref.shares, ref.missing]
    return np.asarray(base + ([0.0] if ref.categories is not None else []), dtype="float64")


def status(value: float, warning: float = 0.1, alert: float = 0.25) -> str:
    """``ok`` (<= warning), ``warning`` (<= alert) or ``alert``."""
    if value > alert:
        return "alert"
    if value > warning:
        return "warning"
    return "ok"


def chance_psi(
    shares: np.ndarray, n: int, m: int | None, quantiles: Sequence[float] = (0.95, 0.99), n_sim: int = 2000
) -> list[float]:
    """The PSI that chance alone reaches, at each of ``quantiles``, between ``n`` rows today and a
    reference of ``m`` rows (None: a reference known exactly) drawn from one distribution (``shares``,
    the reference's bin shares): simulated (seeded), since the asymptotic (1/n + 1/m) x chi2(B - 1)
    is too low on sparse bins. E.g. a 100-debtor book (n 88, m 92, 8 bins of days past due): 95 %
    0.38, 99 % 0.50, where the fixed limits 0.1 / 0.25 flag 80 % / 23 % of unchanged nights."""
    p = np.clip(np.asarray(shares, dtype="float64"), 0.0, None)
    if n <= 0 or p.sum() <= 0:
        return [0.0 for _ in quantiles]
    p = p / p.sum()
    rng = np.random.default_rng(12345)
    a = rng.multinomial(n, p, size=n_sim) / n
    e = rng.multinomial(m, p, size=n_sim) / m if m else np.broadcast_to(p, a.shape)
    a, e = np.clip(a, 1e-4, None), np.clip(e, 1e-4, None)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    return [float(np.quantile(values, q)) for q in quantiles]


def coarsen(ref: Reference, width: float, start: float = 0.0) -> Reference:
    """A numeric reference with its bins merged so that no bin is narrower than ``width`` (from
    ``start``, the smallest possible value): an inner edge is kept only when it lies at least
    ``width`` above the last kept edge (or ``start``); the shares of merged bins are summed.

    For day counts that move with the weekday (days since the last invoice: nobody is at 0-1 days
    on a Sunday, a fifth of the book on a Wednesday), whose training quantiles give bins 1-2 days
    wide. E.g. edges 1, 2, 4, 6, 11, 20, 83 with width 7 keep 11, 20, 83."""
    if ref.edges is None:
        return ref
    kept: list[float] = []
    shares: list[float] = []
    acc, last = ref.shares[0], float(start)
    for j, edge in enumerate(ref.edges[1:-1]):
        if edge - last >= width:
            kept.append(float(edge))
            shares.append(acc)
            acc, last = 0.0, float(edge)
        acc += ref.shares[j + 1]
    shares.append(acc)
    return Reference(
        shares=tuple(shares), edges=(-np.inf, *kept, np.inf), missing=ref.missing, closed=ref.closed
    )


def drift_table(
    current: Mapping[str, pd.Series],
    reference: Mapping[str, Reference],
    warning: float = 0.1,
    alert: float = 0.25,
    calendar: Mapping[str, float] | None = None,
    reference_rows: int | None = None,
    min_width: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """PSI of each variable of ``current`` that has a reference.

    ``calendar``: variables that grow with the calendar for every debtor (account age), mapped to
    the time elapsed since the reference in their unit. Their values are moved back by it before
    binning, so the PSI measures a change of the book's make-up rather than its ageing, and their
    status is ``calendar``: they never raise a warning or an alert.

    ``min_width``: variables whose reference bins are merged to at least this width first
    (:func:`coarsen`; day counts that move with the weekday).

    Sample-size aware: a warning needs a PSI above ``warning`` and above the PSI chance alone
    reaches on 5 % of runs with these row counts (``n`` today, ``reference_rows`` in the reference;
    :func:`chance_psi`), an alert above ``alert`` and the 1 % level (``chance_psi`` column). On
    thousands of rows the chance levels are far below the limits and change nothing.

    Returns one row per variable in the order of ``current``: ``variable``, ``psi``, ``status``
    (ok/warning/alert/calendar), ``n`` (rows scored), ``missing_share`` (current),
    ``reference_missing`` and ``chance_psi``. Variables without a reference are skipped.
    """
    calendar = calendar or {}
    min_width = min_width or {}
    rows = []
    for name, values in current.items():
        ref = reference.get(name)
        if ref is None:
            continue
        if name in min_width:
            ref = coarsen(ref, float(min_width[name]))
        if name in calendar:
            values = pd.to_numeric(values, errors="coerce") - float(calendar[name])
        actual = binned_shares(values, ref)
        value = psi(_expected(ref), actual) if len(values) else float("nan")
        noise95, noise99 = chance_psi(_expected(ref), len(values), reference_rows)
        state = status(value, max(warning, noise95), max(alert, noise99)) if len(values) else "no data"
        rows.append(
            {
                "variable": name,
                "psi": value,
                "status": "calendar" if name in calendar and len(values) else state,
                "n": int(len(values)),
                "missing_share": float(values.isna().mean()) if len(values) else float("nan"),
                "reference_missing": ref.missing,
                "chance_psi": noise99,
            }
        )
    cols = ["variable", "psi", "status", "n", "missing_share", "reference_missing", "chance_psi"]
    return pd.DataFrame(rows, columns=cols)


def reference_from_values(values: pd.Series, bins: int = 10) -> Reference:
    """Build a reference from training values: equal-frequency edges (numeric) or the categories.

    Used to store the training distribution with a model and, in tests, to build references.
    """
    n = len(values)
    if n == 0:
        raise ValueError("cannot build a reference from an empty series")
    isna = values.isna()
    missing = float(isna.mean())
    present = values[~isna]
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or values.dtype == "string":
        counts = present.astype("string").value_counts(sort=False).sort_index()
        return Reference(
            shares=tuple((counts / n).tolist()),
            categories=tuple(counts.index.tolist()),
            missing=missing,
        )
    x = present.to_numpy(dtype="float64")
    if len(x) == 0:
        return Reference(shares=(0.0,), edges=(-np.inf, np.inf), missing=1.0)
    inner = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    edges: Sequence[float] = [-np.inf, *inner.tolist(), np.inf]
    idx = np.searchsorted(inner, x, side="right")
    counts = np.bincount(idx, minlength=len(edges) - 1) / n
    return Reference(shares=tuple(counts.tolist()), edges=tuple(float(e) for e in edges), missing=missing)


def reference_from_entry(entry: Mapping[str, Any]) -> Reference:
    """Convert one entry of the reference stored with a model (``models.evaluate.reference_distribution``).

    Such an entry is ``{"kind": "numeric", "cuts": [...], "proportions": [...], "missing": m}`` with
    bins ``(-inf, c1], ..., (ck, inf)`` and proportions of the non-missing rows, or
    ``{"kind": "categorical", "categories": [...], "proportions": [...], "missing": m}``.
    """
    missing = float(entry.get("missing", 0.0))
    props = np.asarray(entry.get("proportions", []), dtype="float64")
    present = 1.0 - missing
    if entry.get("kind") == "categorical":
        cats = tuple(str(c) for c in entry.get("categories", []))
        if props.sum() <= 0:
            return Reference(shares=tuple(0.0 for _ in cats), categories=cats, missing=1.0)
        shares = props / props.sum() * present
        return Reference(shares=tuple(shares.tolist()), categories=cats, missing=missing)
    cuts = [float(c) for c in entry.get("cuts", [])]
    if props.size == 0:
        return Reference(shares=(0.0,), edges=(-np.inf, np.inf), missing=1.0)
    if props.size != len(cuts) + 1:
        raise ValueError(f"reference entry has {props.size} proportions for {len(cuts) + 1} bins")
    shares = props / props.sum() * present if props.sum() > 0 else props
    return Reference(
        shares=tuple(shares.tolist()), edges=(-np.inf, *cuts, np.inf), missing=missing, closed="right"
    )
