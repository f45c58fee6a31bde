"""Roll-rate (provision-matrix) PD model: the small-book path.

IFRS 9's simplified approach for trade receivables and CECL's roll-rate method. Each debtor is, at
every month-end, in one state: its days-past-due bucket (``current``, then one bucket per pair of
``dpd_edges``, the last up to the default definition's DPD threshold) or ``default`` (the book's
default definition at that month-end; absorbing). Optionally ``current`` is split by a behavioural
flag (a feature > 0, e.g. "past due at some point in the last 90 days").

Fitting counts the debtors' moves between consecutive month-ends; a move counts only when both
month-ends are on or before the as-of date of the fit (no leakage). Each row of counts is smoothed
towards the pooled row (a Dirichlet prior of ``prior_strength`` pseudo-moves), so a bucket seen a
few times borrows from the whole book and no PD is exactly 0 or 1; the horizon PD of a state is the
probability of reaching ``default`` within the horizon's months (the matrix to that power; on a
statements book, the statements the horizon holds: :func:`horizon_steps`), made
non-decreasing from ``current`` through each past-due bucket (``monotone``: a run of states whose PDs
go down gets their weighted mean), then clipped to the calibration's PD floor and ceiling. The ranking is by state only: every debtor in one state
gets the same PD.

Pure: no MLflow, no Prefect. The estimator scores the model input the nightly prepares (the DPD
feature, and the flag feature when the split is on) like any registered model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from models.gate_words import counted

__all__ = [
    "DEFAULT_STATE",
    "RollRateModel",
    "RollRateOutcome",
    "RollRateParams",
    "RollRateTooSmallError",
    "assign_states",
    "check_book",
    "default_rate_known",
    "evaluate_rollrate",
    "horizon_months",
    "horizon_pd",
    "horizon_steps",
    "mixed_book",
    "smoothed_matrix",
    "state_names",
    "transition_counts",
]

DEFAULT_STATE = "default"
SILENT_STATE = "silent"
DPD_FEATURE = "dpd_current_max"
# a statements book's frame: the statements' DPD (features.statements) and no invoice feature
STATEMENT_DPD_FEATURE = "st_dpd_last"
INVOICE_FEATURE = "open_invoice_count"
# with the default definition's min_open_amount: the days past due of the oldest overdue invoice with more
# than it open (features.engine.MATERIAL_DPD, an invoice ledger); else (a statements book) a debtor whose whole
# overdue amount is at most it is current (there: the latest balance, whatever is overdue is part of it;
# features.statements.STATEMENT_ALIASES)
MATERIAL_DPD = "dpd_material"
MATERIAL_FEATURE = "overdue_amount"
# what the silent state reads (all known at T: payments paid_on <= T, invoices issued <= T)
SILENT_FEATURES = (
    "days_since_last_payment",
    "tenure_days",
    "days_since_last_invoice",
    "invoice_count_365d",
    "overdue_invoice_count",
)
# how a reason words the behavioural flag that splits ``current``
SPLIT_WORDS = {
    "dpd_max_90d": "past due at some point in the last 90 days",
    "days_late_mean_90d": "paid late on average in the last 90 days",
    "late30_count_90d": "paid an invoice more than 30 days late in the last 90 days",
}


class RollRateTooSmallError(ValueError):
    """The book is below the roll-rate model's own minimum (months, moves or defaults observed).
    ``figures``: the counts (``months``, ``moves``, ``moves_to_default``); ``short``: what is short,
    e.g. ``["1 move into default (need >= 3)"]``."""

    def __init__(self, message: str, figures: dict[str, int] | None = None, short: list[str] | None = None):
        super().__init__(message)
        self.figures = figures or {}
        self.short = short or []


@dataclass(frozen=True)
class RollRateParams:
    """States, prior and limits of the roll-rate model.

    ``dpd_edges``: upper edges (days) of the past-due buckets below the default threshold: (30, 60)
    with ``dpd_threshold`` 90 gives 1-30, 31-60 and 61-89 days past due. ``split_current``: a
    feature whose value > 0 moves a current debtor to ``current, late recently`` (None: no split).
    ``prior_strength``: pseudo-moves of the Dirichlet prior towards the pooled row. ``monotone``:
    PDs made non-decreasing along the state order (:func:`monotone_pd`). ``within_state``: features
    that resolve the PD inside a state (:class:`WithinState`; empty: one PD per state);
    ``within_penalty``: ridge penalty on their coefficients (per standard deviation);
    ``within_min_defaults``: fewest default labels the adjustment's fit needs.
    ``within_gain_sd``: prior standard deviation, around 1, of the scale on the adjustment fitted on
    the horizon's default labels (:func:`fit_gain`, at least 1, used only when checked out of time);
    0 (the default) keeps the scale at 1 (BENCHMARKS.md s13-rollrate: Brier and log-loss lower, ECE
    not, so not shipped on).
    ``silent`` (False here; ``conf/train.yaml`` turns it on): a live debtor with an overdue balance
    at most ``silent_max_dpd`` days past due (None: the last edge of ``dpd_edges``, 60; the last bucket already rolls into
    default) that has made no payment for at least ``silent_payment_days`` (N) days (never paid:
    its whole tenure) *and* issued no invoice for at least ``silent_invoice_days`` (M) and
    ``silent_invoice_gaps`` times its usual gap between invoices (the last year, or its tenure when
    shorter, over its invoices in it) is silent (:func:`silent_mask`): it stopped paying and
    buying. ``silent_as``: "overlay" (the default): every debtor keeps the PD of the model without
    silence, and a silent debtor gets the higher of that and its PD in a second model where
    ``silent`` is a state with its own transition row (:attr:`RollRateModel.silent_model_`):
    silence only raises a PD, nobody else's moves; "state": that second model is the model (silent
    debtors leave their buckets, which moves the buckets' own PDs; session 18 measured both).
    ``monotone`` orders the past-due buckets only, not ``silent``.
    ``min_open_amount``: the default definition's materiality threshold (0: none). The past-due states
    read the days of the oldest overdue invoice with more than it open, as the label and the in-default
    flag do (:func:`state_dpd`; a debtor with only rests of at most it is ``current``).
    ``min_months`` / ``min_transitions`` / ``min_default_transitions``: below any of them the book is
    refused (:class:`RollRateTooSmallError`). ``test_defaults``: default labels the out-of-time
    test window pools (capped at half of the book's labelled defaults).
    """

    dpd_edges: tuple[int, ...] = (30, 60)
    dpd_threshold: int = 90
    horizon_days: int = 90
    prior_strength: float = 10.0
    split_current: str | None = None
    monotone: bool = True
    within_state: tuple[str, ...] = ()
    within_penalty: float = 1.0
    within_min_defaults: int = 3
    within_gain_sd: float = 0.0
    # repr=False: a version fitted with the state off keeps the model fingerprint of before (registry)
    silent: bool = field(default=False, repr=False)
    silent_payment_days: int = field(default=45, repr=False)
    silent_invoice_days: int = field(default=30, repr=False)
    silent_invoice_gaps: float = field(default=2.0, repr=False)
    silent_max_dpd: int | None = field(default=None, repr=False)
    silent_as: str = field(default="overlay", repr=False)
    min_open_amount: float = field(default=0.0, repr=False)
    pd_floor: float = 1e-4
    pd_ceiling: float = 0.9999
    min_months: int = 6
    min_transitions: int = 200
    min_default_transitions: int = 3
    test_defaults: int = 30
    bootstrap_samples: int = 200
    seed: int = 42

    def __post_init__(self) -> None:
        edges = list(self.dpd_edges)
        if not edges or edges != sorted(set(edges)) or edges[0] < 1 or edges[-1] >= self.dpd_threshold:
            raise ValueError(
                f"rollrate.dpd_edges must be increasing whole days in [1, {self.dpd_threshold - 1}] "
                f"(below the DPD threshold of the default definition), got {edges}"
            )
        if self.prior_strength <= 0:
            raise ValueError(f"rollrate.prior_strength must be > 0, got {self.prior_strength}")
        if self.silent_as not in ("overlay", "state"):
            raise ValueError(f"rollrate silent_as must be 'overlay' or 'state', got {self.silent_as!r}")
        if self.silent_payment_days < 0 or self.silent_invoice_days < 0 or self.silent_invoice_gaps < 0:
            raise ValueError(
                "rollrate.silent_payment_days, silent_invoice_days and silent_invoice_gaps must be >= 0, got "
                f"{self.silent_payment_days}, {self.silent_invoice_days}, {self.silent_invoice_gaps}"
            )

    @property
    def feature_names(self) -> list[str]:
        names = [DPD_FEATURE] + ([self.split_current] if self.split_current else [])
        names += [f for f in (SILENT_FEATURES if getattr(self, "silent", False) else ()) if f not in names]
        names += (
            [MATERIAL_FEATURE] if _material(self) and MATERIAL_FEATURE not in names else []
        )  # + MATERIAL_DPD
        # when the frame has it (an invoice ledger; RollRateModel.fit's feature_names_in_)
        return names + [f for f in self.within_state if f not in names]


def _material(params: RollRateParams) -> bool:
    """Whether the states read the materiality threshold (a version pickled before it has none)."""
    return bool(getattr(params, "min_open_amount", 0.0))


def state_dpd(frame: pd.DataFrame, params: RollRateParams) -> np.ndarray:
    """Days past due per row of ``frame`` as the states read them: the DPD feature (missing: 0); in a book
    with invoices and statements whose model reads both (:func:`mixed_book`), the higher of it and the
    latest statement's days (:data:`STATEMENT_DPD_FEATURE`): before session 39 a debtor past due on its
    statement alone was ``current`` under ``min_open_amount`` 0 (e.g. no invoice, a statement at 45 days:
    31-60 now). With the
    definition's ``min_open_amount``: the days of the oldest overdue invoice with more than it open
    (:data:`MATERIAL_DPD`) when the frame has them, else 0 where the whole overdue amount
    (:data:`MATERIAL_FEATURE`) is at most the threshold: no invoice of such a debtor can make a default.
    E.g. threshold 10, a 3.00 rest 120 days past due and 500.00 30 days past due -> 30; 120 days past
    due with 3.00 overdue in all -> 0 (current); with 10.00 -> 0; with 10.01 -> 120."""
    dpd = np.nan_to_num(_column(frame, DPD_FEATURE), nan=0.0)
    if _material(params) and MATERIAL_DPD in frame.columns:
        return np.nan_to_num(_column(frame, MATERIAL_DPD), nan=0.0)
    if _material(params) and MATERIAL_FEATURE in frame.columns:
        overdue = np.nan_to_num(_column(frame, MATERIAL_FEATURE), nan=0.0)
        dpd = np.where(overdue <= params.min_open_amount, 0.0, dpd)
    elif not _material(params) and DPD_FEATURE in frame.columns and STATEMENT_DPD_FEATURE in frame.columns:
        # a book with invoices and statements: two accounts, a default by either (the label's), so the
        # higher of the oldest overdue invoice's days and the latest statement's (:func:`mixed_book`)
        dpd = np.fmax(dpd, np.nan_to_num(_column(frame, STATEMENT_DPD_FEATURE), nan=0.0))
    return dpd


def horizon_months(horizon_days: int) -> int:
    """Month-end steps in the label horizon: 90 days -> 3, 180 -> 6, 365 -> 12."""
    return max(1, round(horizon_days / 30.4375))


def statement_book(frame: pd.DataFrame) -> bool:
    """True when ``frame``'s DPD states come from monthly statements (a statements book: the
    statements' DPD feature and no invoice feature), before or after
    :func:`features.statements.with_statement_dpd`."""
    return STATEMENT_DPD_FEATURE in frame.columns and INVOICE_FEATURE not in frame.columns


def mixed_book(frame: pd.DataFrame) -> bool:
    """True when ``frame`` holds both the invoices' DPD feature and the statements' (a book with both,
    not a statements book whose invoice features are aliases of its statement ones): the states without
    a materiality threshold read the higher of the two (:func:`state_dpd`; with one, ``dpd_material``
    already is the higher)."""
    return (
        DPD_FEATURE in frame.columns and STATEMENT_DPD_FEATURE in frame.columns and not statement_book(frame)
    )


def horizon_steps(horizon_days: int, statements: bool = False) -> int:
    """Month-end steps of the matrix in the label horizon. An invoice book can go into default on
    any day, so its label at month-end T covers the horizon's months (:func:`horizon_months`: 90 days
    -> 3). A statements book is in default only on a statement's period end (``features.labels``:
    its state holds until the next statement), so the label of T sees the month-end statements in
    (T, T + horizon_days]: for 90 days 2 after 9 of the 12 month-ends of a year, 3 after the ends of
    November, December and January. Returns the count most month-ends of a year see (the smaller on
    a tie): 90 days -> 2, 180 -> 5, 365 -> 12 (BENCHMARKS.md s25-level: with the power 3 a
    statements book's roll-rate PDs were 2.41x its forward default rate on 14 fresh books, 1.69x with 2;
    those books held false defaults of ``ews generate``'s converter, s26-level: on corrected books the
    power-2 PDs sit at 0.59x. The power 3 was pre-registered on 24 fresh corrected books in s27-level
    and not met: level 0.86x -> 1.25x, log-loss not better, 2 over-predicting 36-month books
    significantly worse)."""
    if not statements:
        return horizon_months(horizon_days)
    ends = pd.date_range(
        "2021-01-31", periods=12 + math.ceil(horizon_days / 28), freq="ME"
    )  # 2021-22: no leap day
    span = pd.Timedelta(days=horizon_days)
    seen = [int(((ends > t) & (ends <= t + span)).sum()) for t in ends[:12]]
    values, counts = np.unique(seen, return_counts=True)
    return max(1, int(values[np.argmax(counts)]))


def state_names(params: RollRateParams) -> list[str]:
    """State labels in matrix order: current (split or not), the DPD buckets, then default."""
    names = ["current"] + (["current, late recently"] if params.split_current else [])
    lows = [1] + [e + 1 for e in params.dpd_edges]
    highs = [*params.dpd_edges, params.dpd_threshold - 1]
    names += [f"{lo}-{hi} days past due" for lo, hi in zip(lows, highs, strict=True)]
    if _silent_state(params):
        names.append(SILENT_STATE)
    return [*names, DEFAULT_STATE]


def _silent_state(params: RollRateParams) -> bool:
    """Whether ``silent`` is one of the states (on, as a state rather than an overlay). A version
    pickled before session 18 has none of these fields."""
    return bool(getattr(params, "silent", False)) and getattr(params, "silent_as", "overlay") == "state"


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def silence(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(days without a payment, days without an invoice, usual days between invoices)`` per row
    of ``frame`` (the :data:`SILENT_FEATURES`, known at the row's month-end). A debtor that never
    paid has gone without a payment for its whole tenure; the usual gap is the last year (or the
    whole tenure when shorter) over its invoices in that time (at least one)."""
    paid = _column(frame, "days_since_last_payment")
    paid = np.where(np.isnan(paid), _column(frame, "tenure_days"), paid)
    invoiced = _column(frame, "days_since_last_invoice")
    count = np.nan_to_num(_column(frame, "invoice_count_365d"), nan=0.0)
    span = np.fmin(_column(frame, "tenure_days"), 365.0)  # a debtor of 4 months: its 4 months
    span = np.where(np.isnan(span), 365.0, np.maximum(span, 1.0))
    return paid, invoiced, span / np.maximum(count, 1.0)


def silent_mask(frame: pd.DataFrame, params: RollRateParams) -> np.ndarray:
    """Per row: an overdue balance at most ``silent_max_dpd`` days past due (``dpd_current_max``
    in (0, the last of ``dpd_edges``] by default), no payment for at least
    ``silent_payment_days`` and no invoice for at least ``max(silent_invoice_days,
    silent_invoice_gaps x usual gap)`` days (:func:`silence`). All False when the state is off or
    the frame lacks a :data:`SILENT_FEATURES` column (e.g. a statements book: no payments).
    E.g. N 45, M 30, 2 gaps: 50 days without a payment, 40 without an invoice, 24 invoices in the
    last year (gap 15.2 days, 2 gaps 30.4) -> silent; with 6 invoices (2 gaps 121.7 days) -> not;
    a debtor of 120 days with 6 invoices (gap 20, 2 gaps 40) -> silent."""
    if not getattr(params, "silent", False) or any(c not in frame.columns for c in SILENT_FEATURES):
        return np.zeros(len(frame), dtype=bool)
    dpd = state_dpd(frame, params)
    top = getattr(params, "silent_max_dpd", None)
    top = params.dpd_edges[-1] if top is None else top
    paid, invoiced, gap = silence(frame)
    need = np.maximum(float(params.silent_invoice_days), params.silent_invoice_gaps * gap)
    with np.errstate(invalid="ignore"):
        return (dpd > 0) & (dpd <= top) & (paid >= params.silent_payment_days) & (invoiced >= need)


def chain_states(params: RollRateParams) -> np.ndarray:
    """Codes of the states ``monotone`` orders: current (split or not) and the past-due buckets
    (not ``silent``, not ``default``)."""
    names = state_names(params)
    return np.array([i for i, n in enumerate(names[:-1]) if n != SILENT_STATE], dtype=np.int64)


def assign_states(frame: pd.DataFrame, params: RollRateParams) -> np.ndarray:
    """State code per row (index into :func:`state_names`). ``frame`` holds the DPD feature, the
    split feature when on, the :data:`SILENT_FEATURES` when ``silent`` is on (:func:`silent_mask`:
    such a row is ``silent`` instead of its past-due bucket), and optionally
    ``in_default_at_asof`` (True -> default). A missing DPD counts as not past due; with the
    definition's ``min_open_amount`` the DPD of :func:`state_dpd`."""
    dpd = state_dpd(frame, params)
    split = 1 if params.split_current else 0
    # 0 -> current; (0, e1] -> first bucket; ...; > last edge -> last bucket
    bucket = np.searchsorted(np.asarray(params.dpd_edges, dtype="float64"), dpd, side="left")
    code = np.where(dpd > 0, 1 + split + bucket, 0).astype(np.int64)
    if split:
        flag = pd.to_numeric(frame[params.split_current], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        code[(code == 0) & (np.nan_to_num(flag, nan=0.0) > 0)] = 1
    if _silent_state(params):
        code[silent_mask(frame, params)] = len(state_names(params)) - 2
    if "in_default_at_asof" in frame.columns:
        default = frame["in_default_at_asof"].fillna(False).to_numpy(dtype=bool)
        code[default] = len(state_names(params)) - 1
    return code


def transition_counts(frame: pd.DataFrame, params: RollRateParams, as_of: Any = None) -> np.ndarray:
    """Moves between consecutive month-ends, as an S x S count matrix (row: state at t, column:
    state at the next month-end). Only rows dated on or before ``as_of`` (default: all) are read,
    so a move counts only when both month-ends are known by then. Moves out of ``default`` are
    not counted (absorbing). ``frame``: one row per (debtor_id, as_of) with the state inputs."""
    rows = frame if as_of is None else frame[frame["as_of"] <= pd.Timestamp(as_of)]
    n_states = len(state_names(params))
    counts = np.zeros((n_states, n_states), dtype=np.int64)
    if rows.empty:
        return counts
    snaps = np.sort(rows["as_of"].unique())
    pos = pd.Series(np.arange(len(snaps)), index=pd.DatetimeIndex(snaps))
    order = rows.sort_values(["debtor_id", "as_of"], kind="stable")
    code = assign_states(order, params)
    step = pos.reindex(pd.DatetimeIndex(order["as_of"])).to_numpy()
    ids = order["debtor_id"].astype("string").to_numpy()
    nxt = (ids[1:] == ids[:-1]) & (step[1:] == step[:-1] + 1) & (code[:-1] != n_states - 1)
    np.add.at(counts, (code[:-1][nxt], code[1:][nxt]), 1)
    return counts


def next_states(frame: pd.DataFrame, code: np.ndarray) -> np.ndarray:
    """Per row of ``frame`` (``debtor_id``, ``as_of``; ``code``: its state), the debtor's state at
    the next month-end of the frame, or -1 when the frame has no row of that debtor there."""
    snaps = np.sort(frame["as_of"].unique())
    step = np.searchsorted(snaps, frame["as_of"].to_numpy())
    ids = frame["debtor_id"].astype("string").to_numpy()
    order = np.lexsort((step, ids))
    out = np.full(len(frame), -1, dtype=np.int64)
    a, b = order[:-1], order[1:]
    follows = (ids[a] == ids[b]) & (step[b] == step[a] + 1)
    out[a[follows]] = code[b[follows]]
    return out


def smoothed_matrix(counts: np.ndarray, prior_strength: float) -> np.ndarray:
    """Row-stochastic matrix: each non-default row is ``(counts + a * pooled) / (row total + a)``
    with ``pooled`` the share of every destination over all moves; the default row stays in
    default. Raises ``ValueError`` when no move was observed."""
    n = counts.shape[0]
    moves = counts[: n - 1].astype("float64")
    total = moves.sum()
    if total <= 0:
        raise ValueError("no month-end moves observed: the roll-rate matrix cannot be estimated")
    pooled = moves.sum(axis=0) / total
    matrix = np.zeros((n, n))
    matrix[: n - 1] = (moves + prior_strength * pooled) / (moves.sum(axis=1, keepdims=True) + prior_strength)
    matrix[n - 1, n - 1] = 1.0
    return matrix


def horizon_pd(matrix: np.ndarray, months: int) -> np.ndarray:
    """Probability of reaching the absorbing last state within ``months`` steps, per non-default
    state (the last column of the matrix to the power ``months``)."""
    power = np.linalg.matrix_power(matrix, months)
    return power[:-1, -1].copy()


def monotone_pd(pd_: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``pd_`` made non-decreasing along the state order (current, then each past-due bucket) by
    weighted pool-adjacent-violators: a run of states whose PDs go down is replaced by the
    ``weights``-weighted mean of their PDs. E.g. PDs (0.0024, 0.0022, 0.024) with weights
    (863, 1430, 257) -> (0.002275, 0.002275, 0.024)."""
    blocks: list[list[float]] = []  # [weighted sum, weight, size]
    for p, w in zip(pd_.astype("float64"), weights.astype("float64"), strict=True):
        blocks.append([p * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w2, n = blocks.pop()
            blocks[-1] = [blocks[-1][0] + s, blocks[-1][1] + w2, blocks[-1][2] + n]
    return np.concatenate([np.full(int(n), s / w) for s, w, n in blocks])


# ---------------------------------------------------------------------------------------------
# resolution inside a state (issue 9: min(1,000, n/5) distinct PDs among the live debtors)
# ---------------------------------------------------------------------------------------------


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def within_inputs(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The adjustment's inputs, rows x features: ``sign(x) log(1 + |x|)`` of each feature (days and
    counts are skewed; a 200-days-late debtor is not 20x a 10-days-late one); NaN stays NaN."""
    cols = [
        pd.to_numeric(frame[f], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) for f in features
    ]
    x = np.column_stack(cols) if cols else np.zeros((len(frame), 0))
    return np.sign(x) * np.log1p(np.abs(x))


def state_bands(level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per state, the log-odds band a debtor's adjusted PD must stay in so that the states keep
    their order: from half-way to the next lower state level to half-way to the next higher one
    (unbounded at the ends). States sharing one level (pooled by ``monotone``) share one band.
    E.g. levels (-6, -4, -4, -1) -> lows (-inf, -5, -5, -2.5), highs (-5, -2.5, -2.5, inf)."""
    lo = np.full(len(level), -np.inf)
    hi = np.full(len(level), np.inf)
    for s, v in enumerate(level):
        below, above = level[level < v], level[level > v]
        if below.size:
            lo[s] = (below.max() + v) / 2
        if above.size:
            hi[s] = (above.min() + v) / 2
    return lo, hi


def squash(level: np.ndarray, u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``level + u`` kept strictly inside ``(lo, hi)`` without ties: above the level,
    ``level + (hi - level) tanh(u / (hi - level))``, below it the same towards ``lo`` (an infinite
    end leaves that side as it is). Slope 1 at ``u = 0``, strictly increasing, so the order of the
    debtors inside a state is kept. E.g. level -5, band (-6, -4): u = 0.1 -> -4.9003, u = 3 -> -4.0050."""
    up = np.where(np.isfinite(hi), hi - level, np.inf)
    down = np.where(np.isfinite(lo), level - lo, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        above = np.where(np.isinf(up), u, up * np.tanh(u / up))
        below = np.where(np.isinf(down), u, down * np.tanh(u / down))
    return level + np.where(u >= 0, above, below)


@dataclass(frozen=True)
class WithinState:
    """A debtor's PD inside its state: ``logit PD = level[s] + shift[s] + sum_k coef[k] * z[k]``,
    kept strictly inside the state's band (:func:`state_bands`, :func:`squash`), where ``z[k] = (x[k] - centre[s, k]) /
    scale[k]`` is the transformed feature (:func:`within_inputs`, a missing value taken as the
    state's median ``fill[s, k]``) centred on the state's mean and scaled by the pooled
    within-state standard deviation. ``coef >= 0``: a feature can only raise the PD of a debtor
    whose value is above its state's mean (the features are risk-raising: days past due, overdue
    share, days late). The band is kept with :func:`squash` (no ties at its ends). ``shift[s]`` makes the state's mean PD over the fit's rows equal to the
    state PD, so the matrix's calibration is kept. ``kept``: whether the adjustment is used (False:
    one PD per state); ``note``: why. ``gain``: the scale on the adjustment (:func:`fit_gain`; the
    terms are ``gain * coef[k] * z[k]``); a version registered before the scale existed has none
    and reads the class default 1.0, so it scores as it did."""

    features: tuple[str, ...]
    level: np.ndarray
    fill: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    shift: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    kept: bool
    note: str
    gain: float = 1.0

    def terms(self, x: np.ndarray, code: np.ndarray) -> np.ndarray:
        """``gain * coef[k] * z[k]`` per row and feature (log-odds)."""
        filled = np.where(np.isnan(x), self.fill[code], x)
        return (filled - self.centre[code]) / self.scale * (self.coef * self.gain)

    def logodds(self, x: np.ndarray, code: np.ndarray) -> np.ndarray:
        """Adjusted log-odds per row (``code``: live state per row)."""
        if not self.kept:
            return self.level[code]
        u = self.shift[code] + self.terms(x, code).sum(axis=1)
        return squash(self.level[code], u, self.lo[code], self.hi[code])


def _fit_coef(state: np.ndarray, z: np.ndarray, y: np.ndarray, n_states: int, penalty: float) -> np.ndarray:
    """Ridge logistic coefficients >= 0 of ``z``, with one free intercept per state (``state``:
    code per row): coordinate Newton steps, the coefficients projected on >= 0 (convex problem)."""
    coef = np.zeros(z.shape[1])
    icpt = np.zeros(n_states)
    for _ in range(100):
        step = 0.0
        for s in range(n_states):
            m = state == s
            if not m.any():
                continue
            p = _sigmoid(icpt[s] + z[m] @ coef)
            grad, hess = float((y[m] - p).sum()), float((p * (1 - p)).sum()) + 1e-6
            delta = float(np.clip(grad / hess, -5, 5))
            icpt[s] += delta
            step = max(step, abs(delta))
        for k in range(z.shape[1]):
            p = _sigmoid(icpt[state] + z @ coef)
            grad = float(z[:, k] @ (y - p)) - penalty * coef[k]
            hess = float((z[:, k] ** 2) @ (p * (1 - p))) + penalty
            new = max(0.0, coef[k] + grad / hess)
            step = max(step, abs(new - coef[k]))
            coef[k] = new
        if step < 1e-8:
            break
    return coef


def _calibrate_shift(level: float, lo: float, hi: float, adj: np.ndarray, params: RollRateParams) -> float:
    """The shift c with mean(PD) = sigmoid(level), PD = sigmoid(squash(level, c + adj, lo, hi))
    clipped to the PD floor and ceiling (bisection)."""
    target = float(_sigmoid(np.array(level)))
    a, b = -30.0, 30.0
    for _ in range(80):
        c = (a + b) / 2
        pd_ = _sigmoid(squash(np.array(level), c + adj, np.array(lo), np.array(hi)))
        if np.clip(pd_, params.pd_floor, params.pd_ceiling).mean() < target:
            a = c
        else:
            b = c
    return (a + b) / 2


def fit_within_state(
    x: np.ndarray,
    code: np.ndarray,
    nxt: np.ndarray,
    level: np.ndarray,
    features: Sequence[str],
    params: RollRateParams,
) -> WithinState:
    """Fit :class:`WithinState` on the month-end rows of live debtors (``x``: transformed inputs,
    ``code``: state, ``nxt``: state at the next month-end, -1 when unknown; ``level``: logit of the
    state PDs). The coefficients are those of rolling forward (a worse state or default at the next
    month-end) on the features, with one intercept per state: the moves the matrix counts, so a
    book with few default labels still has hundreds of events. Centres, scale and the calibration
    shifts come from every row; ``kept`` is True here (the out-of-time check is the caller's)."""
    n_states, k = len(level), x.shape[1]
    fill = np.zeros((n_states, k))
    centre = np.zeros((n_states, k))
    finite = np.isfinite(x)
    overall = np.array([np.median(x[finite[:, j], j]) if finite[:, j].any() else 0.0 for j in range(k)])
    for s in range(n_states):
        rows = x[code == s]
        for j in range(k):
            v = rows[:, j][np.isfinite(rows[:, j])]
            fill[s, j] = float(np.median(v)) if v.size else overall[j]
    filled = np.where(np.isnan(x), fill[code], x)
    for s in range(n_states):
        if (code == s).any():
            centre[s] = filled[code == s].mean(axis=0)
    dev = filled - centre[code]
    scale = np.sqrt((dev**2).mean(axis=0)) if len(x) else np.ones(k)
    usable = scale > 1e-9
    scale = np.where(usable, scale, 1.0)
    z = dev / scale
    coef = np.zeros(k)
    moved = nxt >= 0
    if usable.any() and moved.any():
        rolled = (nxt[moved] > code[moved]).astype("float64")
        coef[usable] = _fit_coef(code[moved], z[moved][:, usable], rolled, n_states, params.within_penalty)
    if params.monotone:
        lo, hi = state_bands(level)
    else:
        lo, hi = np.full(n_states, -np.inf), np.full(n_states, np.inf)
    adj = z @ coef
    shift = np.array(
        [
            _calibrate_shift(level[s], lo[s], hi[s], adj[code == s], params) if (code == s).any() else 0.0
            for s in range(n_states)
        ]
    )
    return WithinState(tuple(features), level, fill, centre, scale, coef, shift, lo, hi, True, "")


GAIN_MAX = 4.0


def fit_gain(adj: np.ndarray, state: np.ndarray, y: np.ndarray, sd: float) -> tuple[float, float, float]:
    """``(gain, mle, information)``: the slope of the horizon's default labels ``y`` on the
    within-state adjustment ``adj`` (log-odds per row, at gain 1; ``state``: code per row) with one
    free intercept per state, ``logit P(y) = a[state] + g adj`` (maximum likelihood, Newton), shrunk
    towards 1 by its precision: ``gain = (mle * info + 1 / sd**2) / (info + 1 / sd**2)`` with
    ``info`` = 1 / the variance of the estimate (observed information, the intercepts profiled out),
    clipped to [0, GAIN_MAX]. The adjustment is fitted on one-month rolls; a 3-month PD compounds
    them, so the labels' slope is above 1 (1.64 on the s12 benchmark books). States whose rows are
    all 0 or all 1 say nothing about the slope and are left out; when none is left, the adjustment
    does not vary, or ``sd`` is 0: ``(1.0, nan, 0.0)``.

    E.g. one state, 10 rows at adj +0.5 with 4 defaults and 10 at -0.5 with 1: mle = logit 0.4 -
    logit 0.1 = 1.79176, variance 1 / (10 x 0.4 x 0.6) + 1 / (10 x 0.1 x 0.9) = 1.52778, info
    0.65455; sd 0.5: gain = (1.79176 x 0.65455 + 4) / 4.65455 = 1.11134."""
    if sd <= 0 or not len(y):
        return 1.0, float("nan"), 0.0
    y = y.astype("float64")
    codes = np.unique(state)
    keep = np.zeros(len(y), dtype=bool)
    for s in codes:
        m = state == s
        if 0 < y[m].sum() < m.sum():
            keep |= m
    a, yk = adj[keep], y[keep]
    if not keep.any() or np.ptp(a) <= 1e-12:
        return 1.0, float("nan"), 0.0
    _, idx = np.unique(state[keep], return_inverse=True)
    n_s = int(idx.max()) + 1
    design = np.column_stack([np.eye(n_s)[idx], a])
    rate = np.array([yk[idx == s].mean() for s in range(n_s)])
    beta = np.concatenate([np.log(rate / (1 - rate)), [1.0]])
    for _ in range(100):
        p = _sigmoid(design @ beta)
        grad = design.T @ (yk - p)
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(n_s + 1)
        step = np.linalg.solve(hess, grad)
        step *= min(1.0, 2.0 / max(1e-12, float(np.abs(step).max())))  # at most 2 log-odds a step
        beta += step
        beta[-1] = float(np.clip(beta[-1], -2 * GAIN_MAX, 2 * GAIN_MAX))
        if np.abs(step).max() < 1e-10:
            break
    p = _sigmoid(design @ beta)
    hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(n_s + 1)
    mle = float(beta[-1])
    info = float(1.0 / np.linalg.inv(hess)[-1, -1])
    prior = 1.0 / sd**2
    gain = (mle * info + prior) / (info + prior)
    return float(np.clip(gain, 0.0, GAIN_MAX)), mle, info


def rescale(
    w: WithinState, gain: float, x: np.ndarray, code: np.ndarray, params: RollRateParams
) -> WithinState:
    """``w`` with the scale ``gain`` on its adjustment and the shifts solved again so that each
    state's mean PD over the fit's rows (``x``, ``code``) stays the state's PD."""
    adj = replace(w, gain=1.0).terms(x, code).sum(axis=1) * gain
    shift = np.array(
        [
            _calibrate_shift(w.level[s], w.lo[s], w.hi[s], adj[code == s], params)
            if (code == s).any()
            else 0.0
            for s in range(len(w.level))
        ]
    )
    return replace(w, gain=float(gain), shift=shift)


def _logloss_worse(
    y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray, groups: np.ndarray, params: RollRateParams
) -> tuple[float, float, float]:
    """(difference, low, high) of the log-loss of ``p_new`` minus ``p_old`` on the same rows, with a
    95 % bootstrap interval resampling debtors (``groups``)."""

    def loss(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    diff = loss(p_new) - loss(p_old)
    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    n_groups = int(codes.max()) + 1
    per = np.bincount(codes, weights=diff, minlength=n_groups)
    size = np.bincount(codes, minlength=n_groups).astype("float64")
    rng = np.random.default_rng(params.seed)
    draws = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=params.bootstrap_samples)
    reps = (draws @ per) / (draws @ size)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return float(diff.mean()), float(lo), float(hi)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


class RollRateModel(ClassifierMixin, BaseEstimator):
    """Roll-rate PD model: ``fit(frame, as_of=...)`` on the modelling frame (``debtor_id``,
    ``as_of``, the state inputs, ``in_default_at_asof``; ``label`` for the counts shown in the
    reasons), ``predict_proba(X)[:, 1]`` = horizon PD of each row's state (rows not in default).

    Fitted attributes: ``states_``, ``counts_`` (moves), ``matrix_`` (smoothed), ``pd_``
    (published PD per non-default state), ``outcomes_`` (per non-default state: the times a
    debtor was in it at a month-end whose horizon ended by the as-of date, and how many of those
    were followed by a default within the horizon), ``base_pd_`` (the mean PD of the live debtors at the latest month-end), ``as_of_``,
    ``months_`` and ``feature_names_in_``.
    """

    def __init__(self, params: RollRateParams = RollRateParams()) -> None:
        self.params = params

    def fit(self, frame: pd.DataFrame, y: Any = None, as_of: Any = None) -> RollRateModel:
        p = self.params
        if getattr(p, "silent", False) and any(c not in frame.columns for c in SILENT_FEATURES):
            # no payments / invoices to read silence from (e.g. a statements book): the state is left out
            p = self.params = replace(p, silent=False)
        rows = frame if as_of is None else frame[frame["as_of"] <= pd.Timestamp(as_of)]
        cut = pd.Timestamp(rows["as_of"].max())
        self.silent_model_ = None
        if getattr(p, "silent", False) and not _silent_state(p):  # the overlay: a second model with the state
            self.silent_model_ = RollRateModel(replace(p, silent_as="state")).fit(frame, as_of=as_of)
        self.states_ = state_names(p)
        self.counts_ = transition_counts(rows, p)
        self.matrix_ = smoothed_matrix(self.counts_, p.prior_strength)
        self.months_ = horizon_steps(p.horizon_days, statement_book(rows))
        pd_ = horizon_pd(self.matrix_, self.months_)
        if getattr(
            p, "monotone", False
        ):  # a later past-due state never gets a lower PD (weights: moves + prior); silent is outside the order
            chain = chain_states(p)
            pd_[chain] = monotone_pd(pd_[chain], self.counts_[chain].sum(axis=1) + p.prior_strength)
        self.pd_ = np.clip(pd_, p.pd_floor, p.pd_ceiling)
        n_live = len(self.states_) - 1
        code = assign_states(rows, p)
        known = np.zeros(len(rows), dtype=bool)
        if "label" in rows.columns:
            ends = pd.to_datetime(rows["as_of"]) + pd.Timedelta(days=p.horizon_days)
            known = rows["label"].notna().to_numpy() & (ends <= cut).to_numpy()
        labels = rows["label"].fillna(0).astype("int64").to_numpy() if "label" in rows.columns else code * 0
        live = known & (code < n_live)
        self.outcomes_ = np.column_stack(
            [
                np.bincount(code[live], minlength=n_live)[:n_live],
                np.bincount(code[live], weights=labels[live], minlength=n_live)[:n_live].astype(np.int64),
            ]
        )
        present = [f for f in p.within_state if f in rows.columns]
        self.within_ = self._fit_within(rows, code, known, labels, present) if present else None
        at_cut = (rows["as_of"] == cut).to_numpy() & (code < n_live)
        base = [DPD_FEATURE] + ([p.split_current] if p.split_current else [])
        base += [f for f in (SILENT_FEATURES if getattr(p, "silent", False) else ()) if f not in base]
        base += [
            c
            for c in (MATERIAL_DPD, MATERIAL_FEATURE)
            if _material(p) and c in rows.columns and c not in base
        ]
        if not _material(p) and mixed_book(rows):  # the statements' days too, read at scoring (state_dpd)
            base.append(STATEMENT_DPD_FEATURE)
        self.feature_names_in_ = np.asarray(base + [f for f in present if f not in base], dtype=object)
        self.base_pd_ = float(self.pd_.mean())
        if at_cut.any():
            self.base_pd_ = float(self._pd(rows[at_cut], code[at_cut]).mean())
        self.as_of_ = cut
        self.classes_ = np.array([0, 1])
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "pd_")

    def _fit_within(
        self, rows: pd.DataFrame, code: np.ndarray, known: np.ndarray, labels: np.ndarray, features: list[str]
    ) -> WithinState:
        """:class:`WithinState` on the month-ends of live debtors, kept only when it does not make
        the out-of-time log-loss worse: fitted on what was known at the start of a hold-out (the
        latest month-ends whose horizon has ended, pooled until they hold a third of those
        month-ends' default labels, at least one, leaving two before them), compared there with
        one PD per state (worse = the 95 % debtor-bootstrap interval of the log-loss difference
        wholly above 0); the shipped adjustment is fitted on every month-end. ``features``: the
        ``within_state`` features the frame holds (a book without them keeps one PD per state)."""
        p = self.params
        feats = list(features)
        level = _logit(self.pd_)
        n_live = len(self.states_) - 1
        live = code < n_live
        x_all = within_inputs(rows, feats)
        nxt = next_states(rows, code)
        dates = rows["as_of"].to_numpy()
        full = fit_within_state(x_all[live], code[live], nxt[live], level, feats, p)
        if not (full.coef > 0).any():
            note = "not used: inside the states the features do not raise the odds of rolling forward"
            return replace(full, kept=False, note=note)
        use = known & live
        y, d = labels[use].astype("float64"), dates[use]
        ends = np.unique(d)
        n_def = int(y.sum())
        need, held, total = max(1, math.ceil(n_def / 3)), 0, 0.0
        while held < len(ends) - 2 and total < need:
            held += 1
            total += y[d == ends[-held]].sum()
        if held == 0:
            note = (
                f"not used: {len(ends)} month-end{'' if len(ends) == 1 else 's'} with known outcomes leave no "
                "out-of-time check"
            )
            return replace(full, kept=False, note=note)
        start = ends[-held]
        before = live & (dates <= start)
        early_nxt = np.where(dates[before] < start, nxt[before], -1)  # moves known at the start
        early = fit_within_state(x_all[before], code[before], early_nxt, level, feats, p)
        check = use & (dates >= start)
        yc = labels[check].astype("float64")
        p_new = np.clip(_sigmoid(early.logodds(x_all[check], code[check])), p.pd_floor, p.pd_ceiling)
        ids = rows["debtor_id"].astype("string").to_numpy()[check]
        diff, lo, hi = _logloss_worse(yc, p_new, self.pd_[code[check]], ids, p)
        span = pd.Timestamp(start).strftime("%Y-%m-%d") + (
            f"..{pd.Timestamp(ends[-1]):%Y-%m-%d}" if held > 1 else ""
        )
        shown = (
            f"log-loss {diff:+.5f} [{lo:+.5f}, {hi:+.5f}] against one PD per state on {span} "
            f"({int(check.sum()):,} rows, {int(yc.sum())} default{'' if int(yc.sum()) == 1 else 's'})"
        )
        if lo > 1e-12:  # (a difference of rounding only is not worse)
            return replace(full, kept=False, note=f"not used: out of time it was worse ({shown})")
        note = f"used: out of time it was not worse ({shown})"
        if p.within_gain_sd <= 0:
            return replace(full, note=note)
        return self._scaled(
            full, early, note, x_all, code, labels, dates, use, live, before, check, p_new, ids
        )

    def _scaled(
        self,
        full: WithinState,
        early: WithinState,
        note: str,
        x_all: np.ndarray,
        code: np.ndarray,
        labels: np.ndarray,
        dates: np.ndarray,
        use: np.ndarray,
        live: np.ndarray,
        before: np.ndarray,
        check: np.ndarray,
        p_new: np.ndarray,
        ids: np.ndarray,
    ) -> WithinState:
        """``full`` with the scale on its adjustment (:func:`fit_gain`, at least 1: the adjustment is
        fitted on one-month rolls and a horizon PD compounds them), used only when checked out of time:
        the hold-out's model (``early``, fitted on what was known at the hold-out's start, scoring
        ``p_new`` on the hold-out rows ``check``) rescaled by the scale fitted on the labels known at
        that start must be above 1 and not make the hold-out's log-loss worse (the same 95 % debtor
        interval as the adjustment's own check); the shipped scale is fitted on every known label."""
        p = self.params
        y = labels.astype("float64")
        seen = use & (dates + np.timedelta64(p.horizon_days, "D") <= dates[check].min())
        g_early, _, _ = fit_gain(
            early.terms(x_all[seen], code[seen]).sum(axis=1), code[seen], y[seen], p.within_gain_sd
        )
        if g_early <= 1.0:
            return replace(
                full, note=f"{note}; scale 1 (fitted before the hold-out: {g_early:.2f}, at most 1)"
            )
        scaled = rescale(early, g_early, x_all[before], code[before], p)
        p_scaled = np.clip(_sigmoid(scaled.logodds(x_all[check], code[check])), p.pd_floor, p.pd_ceiling)
        diff, lo, hi = _logloss_worse(y[check], p_scaled, p_new, ids, p)
        shown = f"log-loss {diff:+.5f} [{lo:+.5f}, {hi:+.5f}] against scale 1"
        if lo > 1e-12:
            return replace(
                full, note=f"{note}; scale 1: {g_early:.2f} fitted before the hold-out was worse ({shown})"
            )
        gain, mle, info = fit_gain(
            full.terms(x_all[use], code[use]).sum(axis=1), code[use], y[use], p.within_gain_sd
        )
        gain = max(1.0, gain)
        return replace(
            rescale(full, gain, x_all[live], code[live], p),
            note=f"{note}; scale {gain:.2f} (labels' slope {mle:.2f}, information {info:.1f}; on the hold-out "
            f"{g_early:.2f}: {shown})",
        )

    def logodds_parts(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(code, state, parts)`` per row of ``X``: the state, the state's share of the published
        log-odds (its level, plus the calibration shift when the PD is resolved inside states) and
        each ``within_state`` feature's share (rows x features, 0 without the adjustment), which
        sum to the log-odds of :meth:`predict_proba` (the state's share also takes the PD floor /
        ceiling). A feature's share is its term scaled by the state band's clip when one applies. A
        debtor whose PD the silent overlay raised gets the silent model's shares (its PD is that
        model's), none when that model does not resolve PDs inside its states."""
        code = self.state_of(X)
        w = getattr(self, "within_", None)
        published = self._pd(X, code)
        final = _logit(published)
        if w is None or not w.kept:
            return code, final, np.zeros((len(X), len(w.features) if w is not None else 0))
        terms = w.terms(within_inputs(X, w.features), code)
        level, lo, hi = w.level[code], w.lo[code], w.hi[code]
        state = squash(level, w.shift[code], lo, hi)  # the state's PD for a debtor at its state's mean
        raw = terms.sum(axis=1)
        adj = squash(level, w.shift[code] + raw, lo, hi) - state
        scale = np.divide(adj, raw, out=np.zeros_like(adj), where=raw != 0)
        parts = terms * scale[:, None]
        quiet_model = getattr(self, "silent_model_", None)
        if quiet_model is not None:  # a PD raised by the silent overlay is the silent model's: its shares
            raised = published > self._pd_without_silence(X, code)
            if raised.any():
                qw = getattr(quiet_model, "within_", None)
                same = qw is not None and qw.kept and tuple(qw.features) == tuple(w.features)
                parts[raised] = quiet_model.logodds_parts(X[raised])[2] if same else 0.0
        return code, final - parts.sum(axis=1), parts

    def _pd(self, X: pd.DataFrame, code: np.ndarray) -> np.ndarray:
        """Published PD per row: the state's, or resolved inside the state (:class:`WithinState`);
        with the silent overlay, a silent debtor's is the higher of that and the silent model's."""
        p = self._pd_without_silence(X, code)
        quiet_model = getattr(self, "silent_model_", None)
        if quiet_model is None:
            return p
        quiet = silent_mask(X, quiet_model.params)
        if quiet.any():
            rows = X[quiet]
            p[quiet] = np.maximum(p[quiet], quiet_model._pd(rows, quiet_model.state_of(rows)))
        return p

    def _pd_without_silence(self, X: pd.DataFrame, code: np.ndarray) -> np.ndarray:
        w = getattr(self, "within_", None)
        if w is None or not w.kept:
            return np.array(self.pd_[code], dtype="float64")
        p = _sigmoid(w.logodds(within_inputs(X, w.features), code))
        return np.clip(p, self.params.pd_floor, self.params.pd_ceiling)

    def raised_by_silence(self, X: pd.DataFrame) -> np.ndarray:
        """Per row of ``X``: True when the silent overlay raised the debtor's PD."""
        if getattr(self, "silent_model_", None) is None:
            return np.zeros(len(X), dtype=bool)
        code = self.state_of(X)
        return self._pd(X, code) > self._pd_without_silence(X, code)

    def state_of(self, X: pd.DataFrame) -> np.ndarray:
        """State code per row of the model input (live debtors: never ``default``)."""
        code = assign_states(X.drop(columns="in_default_at_asof", errors="ignore"), self.params)
        return np.minimum(code, len(self.states_) - 2)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self._pd(X, self.state_of(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of the published PD."""
        p = self._pd(X, self.state_of(X))
        return np.log(p / (1.0 - p))

    def reason(self, code: int, what: str | None = None) -> str:
        """The sentence for one state: what it is (``what``: a debtor's own wording of it, see
        :func:`silent_words`) and what this book saw from it."""
        n, k = (int(v) for v in self.outcomes_[code])
        name = self.states_[code]
        flag = self.params.split_current or ""
        recently = SPLIT_WORDS.get(flag, f"flagged by {flag.replace('_', ' ')}")
        p = self.params
        what = what or {
            "current": "no invoice past due",
            "current, late recently": f"no invoice past due now, but {recently}",
            SILENT_STATE: f"silent: an overdue balance, no payment for {getattr(p, 'silent_payment_days', 0)}+ "
            f"days and no new invoice for {getattr(p, 'silent_invoice_days', 0)}+ days",
        }.get(name, name)
        label_months = horizon_months(self.params.horizon_days)  # the label's horizon, not the matrix power
        within = f"{label_months} month{'s' if label_months != 1 else ''}"
        if n == 0:
            return (
                f"{what}; no debtor of this book was seen in that state long enough before the latest data "
                f"to know the outcome, so its PD ({self.pd_[code]:.2%}) leans on the book's average"
            )
        times = "time" if n == 1 else "times"
        were = "was" if k == 1 else "were"
        return (
            f"{what}; of the {_fmt_int(n)} {times} a debtor of this book was in that state at a month-end, "
            f"{_fmt_int(k)} {were} followed by a default within {within}"
        )

    def transition_table(self) -> pd.DataFrame:
        """The move counts as a frame (rows: from, columns: to), ``default`` row included (zeros)."""
        return pd.DataFrame(self.counts_, index=pd.Index(self.states_, name="from"), columns=self.states_)

    def matrix_table(self) -> pd.DataFrame:
        """The smoothed monthly matrix, rows: from, columns: to."""
        return pd.DataFrame(self.matrix_, index=pd.Index(self.states_, name="from"), columns=self.states_)

    def state_table(self) -> pd.DataFrame:
        """Per non-default state: moves out, smoothed monthly default rate, horizon PD and the
        observed outcomes (``observed``: debtor month-ends in the state with a known outcome;
        ``defaulted``: those followed by a default within the horizon)."""
        live = self.states_[:-1]
        return pd.DataFrame(
            {
                "state": live,
                "moves": self.counts_[:-1].sum(axis=1),
                "moves_to_default": self.counts_[:-1, -1],
                "monthly_default_rate": self.matrix_[:-1, -1],
                "pd": self.pd_,
                "observed": self.outcomes_[:, 0],
                "defaulted": self.outcomes_[:, 1],
            }
        )


def silent_words(X: pd.DataFrame) -> np.ndarray:
    """Per row of ``X`` (the :data:`SILENT_FEATURES` and the DPD feature), the plain words of its
    silence, e.g. "no payment for 75 days and no new invoice for 64 days while 3 invoices are
    overdue (oldest 41 days past due)"; a debtor that never paid: "no payment in its 75 days as a
    customer ..."."""
    never = np.isnan(_column(X, "days_since_last_payment"))
    paid, invoiced, _ = silence(X)
    count = np.nan_to_num(_column(X, "overdue_invoice_count"), nan=0.0)
    dpd = np.nan_to_num(_column(X, DPD_FEATURE), nan=0.0)
    out = []
    for nv, pdays, idays, k, d in zip(never, paid, invoiced, count, dpd, strict=True):
        pay = (
            f"no payment in its {pdays:.0f} days as a customer" if nv else f"no payment for {pdays:.0f} days"
        )
        inv = f"no new invoice for {idays:.0f} days"
        many = f"{k:.0f} invoices are" if k != 1 else "1 invoice is"
        out.append(f"silent: {pay} and {inv} while {many} overdue (oldest {d:.0f} days past due)")
    return np.asarray(out, dtype=object)


def reason_frame(
    model: RollRateModel,
    X: pd.DataFrame,
    centre: pd.Series | None = None,
    currency: str | pd.Series | None = None,
) -> pd.DataFrame:
    """Reasons per row of the model input ``X``, in :func:`models.reasons.reason_codes`' long form
    (``row``, ``rank``, ``group``, ``feature``, ``value``, ``contribution`` in log-odds, ``reason``):
    rank 1 is the debtor's state and what the book saw from it (contribution against the book's mean
    PD); when the PD is resolved inside the state, the within-state features that raise this
    debtor's PD above its state's follow, worded by the catalog like any feature's reason
    (``centre`` and ``currency`` as in :func:`models.reasons.reason_codes`)."""
    code, state, parts = model.logodds_parts(X)
    base = math.log(model.base_pd_ / (1.0 - model.base_pd_))
    from features.catalog import CATALOG

    group = getattr(CATALOG.get(DPD_FEATURE), "group", "") or DPD_FEATURE
    texts = np.array([model.reason(c) for c in range(len(model.states_) - 1)], dtype=object)
    texts = texts[code] if len(X) else np.zeros(0, dtype=object)
    values = np.asarray(model.states_, dtype=object)[code]
    quiet = values == SILENT_STATE
    if quiet.any():  # the silent state in the debtor's own figures
        sc = int(code[quiet][0])
        texts[quiet] = [model.reason(sc, what) for what in silent_words(X[quiet])]
    raised = model.raised_by_silence(X) if len(X) else np.zeros(0, dtype=bool)
    if raised.any():  # the overlay: the silent state's sentence, from the silent model
        holder = model.silent_model_
        sc = holder.states_.index(SILENT_STATE)
        texts[raised] = [holder.reason(sc, what) for what in silent_words(X[raised])]
        values = values.copy()
        values[raised] = SILENT_STATE
    first = pd.DataFrame(
        {
            "row": X.index.to_numpy(),
            "rank": np.ones(len(X), dtype="int64"),
            "group": np.full(len(X), group, dtype=object),
            "feature": np.full(len(X), DPD_FEATURE, dtype=object),
            "value": values,
            "contribution": state - base,
            "reason": texts,
        }
    )
    w = getattr(model, "within_", None)
    if w is None or not w.kept or not len(X):
        return first
    from models.reasons import Contributions, reason_codes

    feats = list(w.features)
    values = pd.DataFrame(parts, index=X.index, columns=feats)
    shown = X[feats]
    typical = centre.reindex(feats) if centre is not None else None
    more = reason_codes(
        Contributions(values, np.zeros(len(X))), shown, CATALOG, len(feats), centre=typical, currency=currency
    )
    more["rank"] = more["rank"] + 1
    order = pd.Series(np.arange(len(X)), index=X.index)
    both = pd.concat([first, more], ignore_index=True)
    both["_at"] = order.reindex(both["row"]).to_numpy()
    return both.sort_values(["_at", "rank"], kind="stable").drop(columns="_at").reset_index(drop=True)


def rollrate_contributions(model: RollRateModel, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(values, expected_value) of :class:`models.reasons.Contributions`: the log-odds gap between
    the book's mean PD and the debtor's state on the DPD column, each ``within_state`` feature's
    share of the resolution inside the state on its own column (:meth:`RollRateModel.logodds_parts`),
    0 on the others; they sum to the published PD's log-odds."""
    _, state, parts = model.logodds_parts(X)
    base = math.log(model.base_pd_ / (1.0 - model.base_pd_))
    values = pd.DataFrame(0.0, index=X.index, columns=list(X.columns))
    values[DPD_FEATURE] = state - base
    w = getattr(model, "within_", None)
    for k, name in enumerate(w.features if w is not None and w.kept else ()):
        values[name] = values[name].to_numpy() + parts[:, k]
    return values, np.full(len(X), base)


# ---------------------------------------------------------------------------------------------
# minimum, out-of-time evaluation
# ---------------------------------------------------------------------------------------------


def check_book(frame: pd.DataFrame, params: RollRateParams) -> dict[str, int]:
    """Counts the roll-rate model needs (month-ends, moves, moves into default); raise
    :class:`RollRateTooSmallError` with them when the book is below its minimum. A
    ``split_current`` that is not a column of ``frame`` raises ``ValueError`` naming it."""
    if params.split_current and params.split_current not in frame.columns:
        raise ValueError(
            f"rollrate.split_current: {params.split_current!r} is not a feature column; use one of the "
            "features (e.g. days_late_mean_90d, dpd_max_90d) or null"
        )
    counts = transition_counts(frame, params)
    figures = {
        "months": int(frame["as_of"].nunique()),
        "moves": int(counts[:-1].sum()),
        "moves_to_default": int(counts[:-1, -1].sum()),
    }
    short = []
    if figures["months"] < params.min_months:
        short.append(
            f"{figures['months']} month-end{'' if figures['months'] == 1 else 's'} (need >= {params.min_months})"
        )
    if figures["moves"] < params.min_transitions:
        short.append(f"{figures['moves']} month-end moves (need >= {params.min_transitions})")
    if figures["moves_to_default"] < params.min_default_transitions:
        k = figures["moves_to_default"]
        short.append(
            f"{k} move{'' if k == 1 else 's'} into default (need >= {params.min_default_transitions})"
        )
    if short:
        raise RollRateTooSmallError(
            "the book is also too small for the roll-rate model: " + ", ".join(short) + ". A longer "
            "history or more debtors is needed (rollrate.min_months / min_transitions / "
            "min_default_transitions in the train config)",
            figures,
            short,
        )
    return figures


@dataclass(frozen=True)
class RollRateOutcome:
    """A roll-rate training: the shipped model (fitted on every month-end), the out-of-time test
    (``test``: ``debtor_id``, ``as_of``, ``segment``, ``y``, ``pd``, ``state``, ``pd_baseline``;
    each test month-end scored by the matrix fitted on the moves observed by it, and at the book's
    default rate known then, :func:`default_rate_known`, the gate's baseline), ``metrics`` with ``intervals`` (debtor
    bootstrap), ``ece_tolerance`` (chance ECE on the test rows), the book's ``counts``, and the
    ``test_window`` / ``fit_months`` description."""

    model: RollRateModel
    metrics: dict[str, float]
    intervals: dict[str, dict[str, tuple[float, float]]]
    test: pd.DataFrame
    ece_tolerance: float
    counts: dict[str, int]
    test_window: tuple[pd.Timestamp, ...]
    calibration_curve: pd.DataFrame
    reference: dict[str, Any]
    schema: dict[str, Any]
    kind: str = "rollrate"
    selection: str = ""
    train_last_as_of: pd.Timestamp | None = None
    state_counts: dict[str, int] = field(default_factory=dict)
    note: str = ""
    small_book: Any = None  # models.smallbook.SmallBookChoice when the feature model was tried
    headline: str = ""  # the choice in one short line (``note`` and ``selection``: the detail)

    @property
    def baseline_metrics(self) -> dict[str, float]:
        """The baseline's figures on the same test rows: every debtor at the book's default rate known
        at its month-end (``pd_baseline``, the gate's baseline), as :func:`classification_metrics`
        (the standard asks for AUC, Gini, KS, Brier and ECE beside the baseline's; before session 26
        the roll-rate path logged and showed none)."""
        from models.evaluate import classification_metrics

        if "pd_baseline" not in self.test.columns or not len(self.test):
            return {}
        return classification_metrics(self.test["y"].to_numpy(), self.test["pd_baseline"].to_numpy())


def default_rate_known(fitted: RollRateModel) -> float:
    """The gate's baseline for a roll-rate model: the book's default rate known at the model's cut,
    i.e. the share of live month-end rows whose horizon ended by then that went into default
    (``outcomes_``; no label of a later horizon), clipped to the PD bounds; without such rows the
    model's own mean PD at the cut. Every debtor of that month-end gets it: no ranking."""
    rows, defaults = (int(v) for v in fitted.outcomes_.sum(axis=0))
    rate = defaults / rows if rows else fitted.base_pd_
    return float(np.clip(rate, fitted.params.pd_floor, fitted.params.pd_ceiling))


def _test_window(labelled: pd.DataFrame, target: int, keep_months: int) -> list[pd.Timestamp]:
    """The latest labelled month-ends pooled until they hold ``target`` defaults, leaving at least
    ``keep_months`` month-ends of the frame before them for the fit."""
    per = labelled.groupby("as_of")["label"].sum().sort_index()
    dates = list(per.index)
    chosen: list[pd.Timestamp] = []
    total = 0
    for ts in reversed(dates):
        if len(dates) - len(chosen) <= keep_months:
            break
        chosen.insert(0, pd.Timestamp(ts))
        total += int(per[ts])
        if total >= target:
            break
    return chosen


def evaluate_rollrate(
    frame: pd.DataFrame, params: RollRateParams, segment_column: str = "segment"
) -> RollRateOutcome:
    """Out-of-time evaluation, then the shipped model on every month-end of ``frame`` (the train
    flow's modelling frame). Raises :class:`RollRateTooSmallError` below the model's minimum."""
    from models.evaluate import (
        bootstrap_intervals,
        calibration_table,
        classification_metrics,
        ece_noise,
        reference_distribution,
    )
    from models.train import feature_schema, prepare_matrix

    counts = check_book(frame, params)
    labelled = frame[frame["label"].notna() & frame["horizon_observed"].astype(bool)]
    n_def = int(labelled["label"].astype("int64").sum())
    target = max(1, min(params.test_defaults, n_def // 2))
    window = _test_window(labelled, target, params.min_months)
    if not window:
        raise RollRateTooSmallError(
            f"the book has no labelled month-end after its first {params.min_months}: no out-of-time "
            "test is possible; a longer history is needed"
        )
    parts = []
    for ts in window:
        fitted = RollRateModel(params).fit(frame, as_of=ts)
        rows = labelled[labelled["as_of"] == ts]
        seg = rows[segment_column] if segment_column in rows.columns else pd.Series("(all)", index=rows.index)
        parts.append(
            pd.DataFrame(
                {
                    "debtor_id": rows["debtor_id"].astype("string").to_numpy(),
                    "as_of": rows["as_of"].to_numpy(),
                    "segment": seg.astype("string").to_numpy(),
                    "y": rows["label"].astype("int64").to_numpy(),
                    "pd": fitted.predict_proba(rows)[:, 1],
                    "state": np.asarray(fitted.states_, dtype=object)[fitted.state_of(rows)],
                    "pd_baseline": default_rate_known(fitted),
                }
            )
        )
    test = pd.concat(parts, ignore_index=True)
    y, p = test["y"].to_numpy(), test["pd"].to_numpy()
    metrics = classification_metrics(y, p)
    ci = bootstrap_intervals(
        y, {"rollrate": p}, test["debtor_id"].to_numpy(), n_boot=params.bootstrap_samples, seed=params.seed
    )["rollrate"]
    model = RollRateModel(params).fit(frame)
    names = [str(f) for f in model.feature_names_in_]
    latest = frame[(frame["as_of"] == frame["as_of"].max()) & ~frame["in_default_at_asof"].astype(bool)]
    ref_rows = prepare_matrix(latest if len(latest) else labelled, names, {})
    reference = {
        "sample": {"rows": len(ref_rows), "as_of": [model.as_of_.strftime("%Y-%m-%d")]},
        "score": reference_distribution(pd.Series(model.predict_proba(ref_rows)[:, 1]), 10),
        "top_features": names,
        "features": {c: reference_distribution(ref_rows[c], 10) for c in names},
        "medians": {c: float(m) for c, m in ref_rows.median().items() if np.isfinite(m)},
    }
    span = f"{window[0]:%Y-%m-%d}..{window[-1]:%Y-%m-%d}" if len(window) > 1 else f"{window[0]:%Y-%m-%d}"
    selection = (
        f"roll-rate model ({len(model.states_)} states, prior {params.prior_strength:g} moves): "
        f"{counts['moves']:,} month-end moves, {counts['moves_to_default']} into default; "
        f"tested out of time on {span} ({len(test):,} rows, {int(y.sum())} default{'' if int(y.sum()) == 1 else 's'}), "
        "each month-end "
        "scored by the matrix fitted on the moves observed by it"
    )
    if getattr(model.params, "silent", False):
        holder = model.silent_model_ if model.silent_model_ is not None else model
        s = holder.states_.index(SILENT_STATE)
        rule = (
            f"an overdue balance up to {params.silent_max_dpd or params.dpd_edges[-1]} days past due, no payment "
            f"for {params.silent_payment_days}+ days, no invoice for {params.silent_invoice_days}+ days and "
            f"{params.silent_invoice_gaps:g}+ usual gaps"
        )
        moves = f"{counted(int(holder.counts_[s].sum()), 'move')} out of it, PD {holder.pd_[s]:.2%}"
        selection += (
            f"; a silent debtor ({rule}) gets the higher of its PD and the silent state's ({moves})"
            if model.silent_model_ is not None
            else f"; state 'silent' ({rule}): {moves}"
        )
    w = model.within_
    if w is not None:
        selection += f"; PD inside each state by {', '.join(w.features)}: {w.note}"
    return RollRateOutcome(
        model=model,
        metrics=metrics,
        intervals={"challenger": ci},
        test=test,
        ece_tolerance=ece_noise(p, seed=params.seed),
        counts=counts,
        test_window=tuple(window),
        calibration_curve=calibration_table(y, p),
        reference=reference,
        schema=feature_schema(names, {}),
        selection=selection,
        train_last_as_of=model.as_of_,
        state_counts={
            s: int(n) for s, n in zip(model.states_[:-1], model.counts_[:-1].sum(axis=1), strict=True)
        },
    )


def describe(outcome: RollRateOutcome) -> str:
    """A short model card (markdown) for the registry."""
    m, ci = outcome.metrics, outcome.intervals["challenger"]
    table = outcome.model.state_table()
    lines = [
        "# ews-pd: roll-rate model",
        "",
        "Used because the book cannot fill the out-of-time windows of the LightGBM protocol. Ranks by "
        "days-past-due state; inside a state, "
        + (
            f"by {', '.join(outcome.model.within_.features)} ({outcome.model.within_.note})."
            if outcome.model.within_ is not None and outcome.model.within_.kept
            else "every debtor gets the state's PD"
            + (f" ({outcome.model.within_.note})." if outcome.model.within_ is not None else ".")
        ),
        "",
        f"- moves observed: {outcome.counts['moves']:,} ({outcome.counts['moves_to_default']} into default)",
        f"- out-of-time test: {outcome.selection}",
        f"- AUC {m['auc']:.4f} [{ci['auc'][0]:.4f}, {ci['auc'][1]:.4f}], Brier {m['brier']:.5f}, "
        f"ECE {m['ece']:.4f} [{ci['ece'][0]:.4f}, {ci['ece'][1]:.4f}]",
        "",
        "| state | moves | into default | PD |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.state} | {r.moves} | {r.moves_to_default} | {r.pd:.4f} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"


def states_in(X: pd.DataFrame, model: RollRateModel) -> Sequence[str]:
    """State name per row of ``X`` (for tables and tests)."""
    return list(np.asarray(model.states_, dtype=object)[model.state_of(X)])
