"""Reason codes: the top risk-raising SHAP contributions of a debtor, as plain-language sentences.

Contributions come from LightGBM's built-in TreeSHAP (``Booster.predict(X, pred_contrib=True)``),
the same algorithm as ``shap.TreeExplainer`` without its overhead; for many rows, once per distinct
path pattern of each tree (:mod:`models.treeshap`, the same values to ~1e-15). They are in log-odds of the
booster's raw (uncalibrated) score: for every row, ``contributions.sum(axis=1) + expected_value``
equals ``booster.predict(X, raw_score=True)``. Calibration is monotone, so a contribution that
raises the raw score raises the PD.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.gate_words import counted

__all__ = [
    "Contributions",
    "ReasonText",
    "contributions",
    "group_of",
    "model_contributions",
    "pd_waterfall",
    "raw_to_pd",
    "reason_codes",
    "reasons_wide",
    "render_reason",
    "scorecard_contributions",
]


class ReasonText(Protocol):
    """What a reason needs from a feature's catalog entry (``features.catalog.FeatureInfo``):
    ``reason`` (template), and optionally ``missing`` (sentence for a missing value), ``direction``
    (+1 more is riskier, -1 less, 0 either) and ``group`` (reason group key)."""

    reason: str


@dataclass(frozen=True)
class Contributions:
    """SHAP contributions of one scored frame.

    ``values``: one row per input row (same index), one column per model feature, log-odds.
    ``expected_value``: the model's base value (log-odds), one per row (constant for a booster).
    """

    values: pd.DataFrame
    expected_value: np.ndarray

    @property
    def raw_score(self) -> np.ndarray:
        """Sum of contributions plus base value: the booster's raw score per row (log-odds)."""
        return self.values.to_numpy().sum(axis=1) + self.expected_value


PATTERN_ROWS = 5_000  # from this many rows, TreeSHAP runs once per distinct path pattern per tree


def contributions(booster: lgb.Booster, X: pd.DataFrame, pattern_rows: int = PATTERN_ROWS) -> Contributions:
    """TreeSHAP contributions of ``X`` (rows = debtors), with the columns of ``X`` in its own order.

    From ``pattern_rows`` rows on, LightGBM's TreeSHAP runs on one row per distinct path pattern of
    each tree (:func:`models.treeshap.pred_contrib`) instead of on every row: the same values (to
    ~1e-15 in log-odds), several times faster on a book.

    ``X`` is matched to the booster's features by name, so a model whose stored feature order
    differs from the frame's still gets each value in the right slot. Returns a
    :class:`Contributions` whose ``values`` frame is n_rows x n_features (log-odds).
    Raises ``ValueError`` when the columns of ``X`` are not the booster's features.
    """
    names = booster.feature_name()
    if sorted(X.columns) != sorted(names):
        missing = [c for c in names if c not in X.columns]
        extra = [c for c in X.columns if c not in names]
        raise ValueError(
            f"X does not match the booster's features (missing {missing}, extra {extra}); "
            "build it with pipelines.adapters.registry.prepare_X"
        )
    columns = list(X.columns)
    if len(X) == 0:
        return Contributions(pd.DataFrame(columns=columns, index=X.index, dtype="float64"), np.zeros(0))
    if len(X) >= pattern_rows:
        from models.treeshap import pred_contrib, to_matrix

        raw = pred_contrib(booster, to_matrix(booster, X))
    else:
        raw = np.asarray(booster.predict(X[names], pred_contrib=True))
    if raw.shape[1] != len(names) + 1:
        raise ValueError(
            f"pred_contrib returned {raw.shape[1]} columns for {len(names)} features; "
            "multiclass boosters are not supported"
        )
    values = pd.DataFrame(raw[:, :-1], index=X.index, columns=names)[columns]
    return Contributions(values, raw[:, -1].copy())


def _mean_woe(process: Any, variable: str) -> float:
    """Training-average WoE of one characteristic, as the scorecard's transform sees it (special and
    missing rows get WoE 0, optbinning's default), from the binning table's counts."""
    table = process.get_binned_variable(variable).binning_table.build().drop(index="Totals")
    woe = pd.to_numeric(table["WoE"], errors="coerce").fillna(0.0).to_numpy(dtype="float64", copy=True)
    woe[table["Bin"].astype(str).isin(["Special", "Missing"]).to_numpy()] = 0.0
    counts = table["Count"].to_numpy(dtype="float64")
    return float((counts * woe).sum() / counts.sum()) if counts.sum() else 0.0


def scorecard_contributions(
    scorecard: Any, X: pd.DataFrame, categorical: Sequence[str] = ()
) -> Contributions:
    """Points per characteristic of an optbinning ``Scorecard`` (``models.scorecard.fit_scorecard``),
    relative to the training average, as :class:`Contributions` (log-odds of default).

    The scorecard's log-odds are ``intercept + sum_j coef_j * WoE_j(x)``; characteristic j
    contributes ``coef_j * (WoE_j(x) - mean training WoE_j)`` and the base value is the log-odds at
    the average points, so ``contributions.sum(axis=1) + expected_value`` equals the scorecard's
    log-odds exactly (the exact SHAP values of this additive model). Columns follow ``X``;
    characteristics the binning process did not select contribute 0.
    """
    frame = X.copy()
    for col in categorical:
        if col in frame.columns:
            frame[col] = frame[col].astype("object")
    process = scorecard.binning_process_
    coef = np.asarray(scorecard.estimator_.coef_, dtype="float64").ravel()
    intercept = float(np.ravel(scorecard.estimator_.intercept_)[0])
    selected = list(process.get_support(names=True))
    if len(selected) != len(coef):
        raise ValueError(
            f"scorecard has {len(coef)} coefficients for {len(selected)} selected characteristics"
        )
    missing = [c for c in selected if c not in frame.columns]
    if missing:
        raise ValueError(f"X lacks the scorecard's characteristics {missing}")
    values = pd.DataFrame(0.0, index=X.index, columns=list(X.columns))
    base = intercept
    if len(X):
        woe = process.transform(frame[process.variable_names], metric="woe")[selected].to_numpy(
            dtype="float64"
        )
    for j, name in enumerate(selected):
        mean = _mean_woe(process, name)
        base += coef[j] * mean
        if len(X):
            values[name] = coef[j] * (woe[:, j] - mean)
    return Contributions(values, np.full(len(X), base))


def model_contributions(
    kind: str, model: Any, X: pd.DataFrame, categorical: Sequence[str] = ()
) -> Contributions:
    """Contributions (log-odds) of the model a registry version holds, by its ``kind``:
    ``"lightgbm"`` -> TreeSHAP of the booster (:func:`contributions`), ``"scorecard"`` -> points per
    characteristic relative to the training average (:func:`scorecard_contributions`)."""
    if kind == "lightgbm":
        return contributions(model, X)
    if kind == "scorecard":
        return scorecard_contributions(model, X, categorical)
    raise ValueError(f"unknown model kind {kind!r}; expected 'lightgbm' or 'scorecard'")


def _humanize(feature: str) -> str:
    return feature.replace("_", " ")


def _late(days: float) -> str:
    """Signed days against the due date in words ("12 days after the due date")."""
    d = round(float(days))
    if d == 0:
        return "on the due date"
    unit = "day" if abs(d) == 1 else "days"
    return f"{abs(d):,} {unit} {'after' if d > 0 else 'before'} the due date"


def _status(code: float) -> str:
    """Statement payment status in words (-2 inactive, -1 paid in full, 0 revolving, k months late)."""
    k = round(float(code))
    if k <= -2:
        return "no activity"
    if k == -1:
        return "paid in full"
    if k == 0:
        return "revolving credit, paid on time"
    return f"{k} month{'s' if k != 1 else ''} late"


def _money(value: float, currency: str | None) -> str:
    amount = f"{float(value):,.0f}"
    return f"{currency} {amount}" if currency else amount


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# "only ..." sentences at a value of exactly 0 (s11-small: "only EUR 0 paid in the last 90 days" was the
# second commonest first reason on a 10,000-debtor book's watchlist)
ZERO_WORDS: tuple[tuple[str, str], ...] = (
    ("only {money} paid", "nothing paid"),
    ("only {value:.0f} payment(s)", "no payment"),
    ("paid only {value:.0%} of", "paid none of"),
    ("in only {value:.0f} of", "in none of"),
    ("only {money} of headroom", "no headroom"),
    ("only {money} of unapplied cash", "no unapplied cash"),
    ("only {value:.0f} statements", "no statements"),
    ("customer for only {span}", "customer since today"),
)


# a count in a template, said with its noun: "{value:.0f} invoice(s) overdue", "{value:.0f} days ago"
_COUNTED = re.compile(r"\{value:\.0f\} (?:([a-z]+(?: [a-z]+)?)\(s\)|(day|month|statement)s\b)")


def _counted_words(template: str, value: float) -> str:
    """``template`` with each count of :data:`_COUNTED` written by ``pipelines.words.counted``: "1 invoice
    overdue", "1 day past due", "1,204 days" (before session 30 "1 invoice(s) overdue", "1 days past due")."""
    n = round(float(value))
    return _COUNTED.sub(lambda m: counted(n, m.group(1) or m.group(2)), template)


def _span(days: float) -> str:
    """A duration in days as an analyst says it: "20 days", "8 months", "2.5 years" (the tenure reason
    read "customer for only 912 days" before session 40)."""
    if days < 60:
        return f"{days:.0f} day" + ("" if round(days) == 1 else "s")
    if days < 730:
        return f"{days / (365.25 / 12):.0f} months"
    return f"{days / 365.25:.1f} years"


def render_reason(
    info: ReasonText | None,
    feature: str,
    value: Any,
    currency: str | None = None,
    typical: float | None = None,
) -> str:
    """The plain sentence for one feature value: the catalog template, or its missing-value sentence.

    ``typical``: the book's typical value of the feature (:func:`reason_codes`' centre); a feature of
    direction 0 whose catalog entry has ``above`` / ``below`` sentences is worded by the one of its
    side, which says what the value means for risk ("buys more often than most customers: 77 invoices
    in the last year (typical 40), ..."), where the bare fact read as if it were a risk in itself.
    Never returns the catalog description. A value the template cannot format gives
    "<feature name>: <value>"; a missing value without a missing sentence gives
    "<feature name>: not available".
    """
    if _is_missing(value):
        missing = getattr(info, "missing", "") or ""
        return missing or f"{_humanize(feature)}: not available"
    template = getattr(info, "reason", "") or ""
    sided = (
        typical is not None
        and math.isfinite(typical)
        and isinstance(value, int | float | np.number)
        and math.isfinite(value)
        and value != typical
        and int(getattr(info, "direction", 0) or 0) == 0
    )
    if sided:
        template = (getattr(info, "above", "") if value > typical else getattr(info, "below", "")) or template
    if not template:
        return f"{_humanize(feature)}: {value}"
    if isinstance(value, int | float | np.number) and value == 0:
        for only, none in ZERO_WORDS:  # "only EUR 0 paid" -> "nothing paid"
            template = template.replace(only, none)
    if isinstance(value, int | float | np.number) and math.isfinite(value):
        template = _counted_words(template, value)
    try:
        kwargs: dict[str, Any] = {"value": value}
        if isinstance(value, int | float | np.number):
            kwargs.update(money=_money(value, currency), late=_late(value), status=_status(value))
            if math.isfinite(value):
                kwargs["span"] = _span(float(value))
        if typical is not None and math.isfinite(typical):
            kwargs.update(typical=typical, typical_money=_money(typical, currency))
        return template.format(**kwargs)
    except (ValueError, TypeError, KeyError, IndexError):
        return f"{_humanize(feature)}: {value}"


def _sentences(
    feature: str,
    values: pd.Series,
    currency: pd.Series | None,
    catalog: Mapping[str, ReasonText],
    typical: float | None = None,
) -> np.ndarray:
    """Sentence per value of one feature; each distinct (value, currency) is formatted once."""
    info = catalog.get(feature)
    obj = values.astype(object).where(values.notna(), None)
    keys = pd.DataFrame({"v": obj.to_numpy(), "c": None if currency is None else currency.to_numpy()})
    codes = keys.groupby(["v", "c"], dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(codes).first().to_numpy()
    v, c = keys["v"].to_numpy(dtype=object), keys["c"].to_numpy(dtype=object)  # no per-cell pandas lookups
    texts = np.array(
        [render_reason(info, feature, v[i], None if pd.isna(c[i]) else c[i], typical) for i in first],
        dtype=object,
    )
    return texts[codes]


def _sane(
    arr: np.ndarray, X: pd.DataFrame, catalog: Mapping[str, ReasonText], centre: pd.Series
) -> np.ndarray:
    """True where a positive contribution agrees with the feature's risk direction.

    Direction +1 (more is riskier): the value must lie above ``centre``; -1: below it; 0 or a
    categorical feature: any value. A missing value passes (its sentence says what is missing).
    """
    ok = np.ones(arr.shape, dtype=bool)
    for j, feature in enumerate(X.columns):
        direction = int(getattr(catalog.get(feature), "direction", 0) or 0)
        col = X[feature]
        if direction == 0 or not pd.api.types.is_numeric_dtype(col.dtype):
            continue
        v = col.to_numpy(dtype="float64", na_value=np.nan)
        c = float(centre.get(feature, np.nan))
        if math.isnan(c):
            continue
        ok[:, j] = np.isnan(v) | (direction * (v - c) > 0)
    return ok


def group_of(feature: str, catalog: Mapping[str, ReasonText]) -> str:
    """The reason group of ``feature`` (catalog ``group``), or the feature itself."""
    return getattr(catalog.get(feature), "group", "") or feature


def reason_codes(
    contrib: Contributions,
    X: pd.DataFrame,
    catalog: Mapping[str, ReasonText],
    top_n: int = 4,
    *,
    centre: pd.Series | None = None,
    currency: str | pd.Series | None = None,
) -> pd.DataFrame:
    """Top ``top_n`` risk-raising reason groups per row, one sentence each.

    ``X`` holds the feature values shown in the sentences (same index and columns as the
    contributions). A contribution counts only when it is > 0 (raises the PD) and the value points
    the way of the feature's catalog ``direction`` relative to ``centre`` (typical value per
    feature, e.g. the median of tonight's scored debtors; default: the median of ``X``). Features of
    one catalog ``group`` (the 90/180/365-day variants of one behaviour) are summed into one
    reason, worded by the member with the largest contribution. ``currency``: ISO code for
    amounts, one for all rows or a Series per row label of ``X``.

    Returns a long frame, one row per (input row, rank): ``row`` (index label of ``X``), ``rank``
    (1 = strongest), ``group``, ``feature`` (the member worded), ``value`` (as text),
    ``contribution`` (sum over the group, log-odds) and ``reason``. Sorted by input order then rank.
    A row may get fewer than ``top_n`` reasons.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    cols = ["row", "rank", "group", "feature", "value", "contribution", "reason"]
    values = contrib.values
    if not values.index.equals(X.index) or list(values.columns) != list(X.columns):
        raise ValueError("contributions and X must share index and columns")
    n, f = values.shape
    if n == 0 or f == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols}).astype(
            {"rank": "int64", "contribution": "float64"}
        )
    if centre is None:
        centre = X.median(numeric_only=True)
    arr = values.to_numpy(dtype="float64")
    masked = np.where((arr > 0) & _sane(arr, X, catalog, centre), arr, 0.0)
    groups = [group_of(c, catalog) for c in X.columns]
    names, gcode = np.unique(np.array(groups, dtype=object), return_inverse=True)
    g = len(names)
    sums = np.zeros((n, g))
    leader = np.zeros((n, g), dtype=np.int64)
    for k in range(g):
        members = np.flatnonzero(gcode == k)
        block = masked[:, members]
        sums[:, k] = block.sum(axis=1)
        leader[:, k] = members[np.argmax(block, axis=1)]
    k_top = min(top_n, g)
    order = np.argsort(-sums, axis=1, kind="stable")[:, :k_top]
    top = np.take_along_axis(sums, order, axis=1)
    keep = (top > 0).ravel()
    row_pos = np.repeat(np.arange(n), k_top)[keep]
    group_pos = order.ravel()[keep]
    feat_pos = leader[row_pos, group_pos]
    rank = np.tile(np.arange(1, k_top + 1), n)[keep]

    if isinstance(currency, pd.Series):
        curr = currency.reindex(X.index).astype(object)
    else:
        curr = pd.Series(currency, index=X.index, dtype=object)
    reason = np.empty(len(row_pos), dtype=object)
    value_text = np.empty(len(row_pos), dtype=object)
    for j in np.unique(feat_pos):
        sel = np.flatnonzero(feat_pos == j)
        feature = values.columns[j]
        vals = X[feature].iloc[row_pos[sel]]
        typical = centre.get(feature, np.nan)
        typical = float(typical) if isinstance(typical, int | float | np.number) else None
        reason[sel] = _sentences(feature, vals, curr.iloc[row_pos[sel]], catalog, typical)
        value_text[sel] = vals.astype("string").fillna("").to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "row": X.index.to_numpy()[row_pos],
            "rank": rank.astype("int64"),
            "group": names[group_pos].astype(object),
            "feature": values.columns.to_numpy()[feat_pos],
            "value": value_text,
            "contribution": top.ravel()[keep],
            "reason": reason,
        }
    )


def raw_to_pd(raw: np.ndarray, pd_values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The published PD as a function of the model's raw score (log-odds), read off scored rows.

    Calibration is monotone, so the pairs ``(raw, pd)`` of tonight's debtors trace it: the function
    interpolates between them (clamped at the ends). With fewer than two distinct raw scores it
    falls back to the logistic function (uncalibrated PD).
    """
    raw = np.asarray(raw, dtype="float64")
    pdv = np.asarray(pd_values, dtype="float64")
    ok = np.isfinite(raw) & np.isfinite(pdv)
    xs, inverse = np.unique(raw[ok], return_inverse=True)
    if len(xs) < 2:
        return lambda x: 1.0 / (1.0 + np.exp(-np.asarray(x, dtype="float64")))
    ys = np.bincount(inverse, weights=pdv[ok]) / np.bincount(inverse)
    ys = np.maximum.accumulate(ys)
    return lambda x: np.interp(np.asarray(x, dtype="float64"), xs, ys)


def pd_waterfall(
    contributions_row: pd.Series,
    base_value: float,
    to_pd: Callable[[np.ndarray], np.ndarray],
    catalog: Mapping[str, ReasonText],
    titles: Mapping[str, str] | None = None,
    max_steps: int = 8,
    min_points: float = 5e-5,
) -> pd.DataFrame:
    """One debtor's explanation as steps in PD, from the average debtor's PD to this debtor's.

    ``contributions_row``: log-odds contributions by feature (one row of :class:`Contributions`);
    features of one catalog group form one step, labelled by ``titles[group]``. The ``max_steps``
    largest groups (by absolute log-odds) come first, the rest form "all other factors". Steps are
    applied in that order along the raw score, and each step's ``pd_points`` is the change of
    ``to_pd`` (raw score -> PD) it causes, so ``pd_before`` of the first step is the base PD and
    ``pd_after`` of the last is the debtor's PD. A group whose step moves the PD by less than
    ``min_points`` (PD units; default 0.005 percentage points, e.g. on a flat stretch of the
    calibration) joins "all other factors" with its PD points. Columns: ``label``, ``log_odds``,
    ``pd_before``, ``pd_after``, ``pd_points`` (all PDs in [0, 1]).
    """
    titles = titles or {}
    groups = pd.Series({f: group_of(f, catalog) for f in contributions_row.index})
    sums = contributions_row.astype("float64").groupby(groups).sum()
    order = sums.abs().sort_values(ascending=False, kind="stable").index
    top = sums[order[:max_steps]]
    labels = [titles.get(g, g.replace("_", " ")) for g in top.index]
    steps = top.to_numpy()
    rest = float(sums[order[max_steps:]].sum())
    if len(order) > max_steps:
        labels.append("all other factors")
        steps = np.append(steps, rest)
    path = float(base_value) + np.concatenate([[0.0], np.cumsum(steps)])
    pds = np.asarray(to_pd(path), dtype="float64")
    points = np.diff(pds)
    other = np.array([label == "all other factors" for label in labels])
    fold = other | (np.abs(points) < min_points)
    if fold.any():
        labels = [label for label, f in zip(labels, fold, strict=True) if not f] + ["all other factors"]
        steps = np.append(steps[~fold], steps[fold].sum())
        points = np.append(points[~fold], points[fold].sum())
    after = pds[0] + np.cumsum(points)
    return pd.DataFrame(
        {
            "label": labels,
            "log_odds": steps,
            "pd_before": np.concatenate([[pds[0]], after[:-1]]),
            "pd_after": after,
            "pd_points": points,
        }
    )


def reasons_wide(long: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Pivot :func:`reason_codes` output to one row per ``row``: ``reason_1..reason_<top_n>`` (text,
    empty when there are fewer reasons) and ``reasons`` (all of them joined with "; ")."""
    names = [f"reason_{i}" for i in range(1, top_n + 1)]
    if long.empty:
        return pd.DataFrame(columns=[*names, "reasons"], dtype="string")
    wide = long.pivot(index="row", columns="rank", values="reason").reindex(columns=range(1, top_n + 1))
    wide.columns = names
    wide = wide.astype("string").fillna("")
    joined = wide[names[0]]
    for name in names[1:]:
        joined = joined.str.cat(wide[name], sep="; ")
    wide["reasons"] = joined.str.replace(r"(; )+$", "", regex=True)
    wide.index.name = None
    return wide
