"""Session 30's payment-date candidate ``own`` (issue 13; pre-registered, not met, not shipped): each
debtor's level from the model's own recent errors on it, and the forecast read at that level. Used by
``benchmarks/paydate_candidate.py`` (the ``own*`` candidates) and ``benchmarks/paydate_own.py``; moved here
from ``models.paydate`` in session 31 so the product holds no model code it does not use (BENCHMARKS.md,
"Session 30 (s30-paydate)"). Tests: ``tests/benchmarks/test_paydate_own_lib.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from features.paydate import FEATURES  # noqa: E402
from models.paydate import MEDIAN_FLOOR, cdf_at, cdf_weeks, predict_hazards, quantile_days  # noqa: E402


def median_at_level(F: np.ndarray, q: float | np.ndarray = 0.5) -> np.ndarray:
    """The q-quantile given paid within the horizon (a level or one per row; at least the p10 level
    ``MEDIAN_FLOOR``), days after T: ``models.paydate.median_days`` (weeks, no weekday profile) read at
    ``q`` instead of 0.5, e.g. at the level of :func:`own_residual_levels`."""
    if not F.shape[1]:
        return np.full(F.shape[0], np.nan)
    level = np.maximum(MEDIAN_FLOOR, np.reshape(q, (-1, 1)) * F[:, -1:])
    return quantile_days(F / level, 1.0)


OWN_RESIDUAL_MONTHS = 3  # month-ends before T whose open invoices :func:`own_residual_levels` reads
OWN_RESIDUAL_PRIOR = 5.0  # pseudo-invoices at level 0.5 it shrinks each debtor's mean towards
OWN_RESIDUAL_WEIGHT = 1.0  # the level's distance from 0.5 is the shrunk mean's times this
OWN_RESIDUAL_CLIP = (0.2, 0.8)  # the level stays inside these (and so inside the p10-p90 interval)


def residual_pits(F: np.ndarray, days: np.ndarray, seen: np.ndarray | float) -> np.ndarray:
    """Where each invoice's settlement fell in the model's distribution **given paid within the
    horizon** (G = F / F_H, the distribution ``models.paydate.median_days`` reads), from what was seen
    ``seen`` days after the as-of date of ``F``: settled on day a <= seen (``days``, days after that
    date): the mid PIT (G(a - 1) + G(a)) / 2; not settled by then (``days`` NaN or > seen): G(seen)
    and 1 averaged (the mean PIT beyond G(seen) were the model right). NaN where F_H < 0.1 (no
    median forecast). A well calibrated model gives 0.5 on average; a debtor paying later than the
    model says, more; earlier, less."""
    F = np.asarray(F, dtype=np.float64)
    d = np.asarray(days, dtype=np.float64)
    seen = np.broadcast_to(np.asarray(seen, dtype=np.float64), d.shape)
    end = F[:, -1] if F.shape[1] else np.zeros(len(d))
    ok = end >= MEDIAN_FLOOR
    G = F / np.where(ok, end, 1.0)[:, None]
    paid = ~np.isnan(d) & (d <= seen)
    day = np.where(paid, d, seen)
    mid = 0.5 * (cdf_at(G, day - 1.0) + cdf_at(G, day))
    beyond = 0.5 * (np.minimum(cdf_at(G, seen), 1.0) + 1.0)
    return np.where(ok, np.where(paid, mid, beyond), np.nan)


def debtor_levels(
    code: np.ndarray,
    pits: np.ndarray,
    n: int,
    prior: float = OWN_RESIDUAL_PRIOR,
    weight: float = OWN_RESIDUAL_WEIGHT,
    center: bool = False,
) -> np.ndarray:
    """Per debtor code 0..n-1: the mean of its invoices' PITs (:func:`residual_pits`, NaN left out)
    shrunk towards 0.5 by ``prior`` pseudo-invoices, m = (sum + prior / 2) / (count + prior); the level
    0.5 + ``weight`` x (m - 0.5), clipped to :data:`OWN_RESIDUAL_CLIP`; 0.5 for a debtor without one.
    ``center``: m less the mean of m over the debtors with a PIT, plus 0.5 (the debtor's own part only,
    not the book's shared level)."""
    pits = np.asarray(pits, dtype=np.float64)
    ok = ~np.isnan(pits)
    c = np.asarray(code, dtype=np.int64)[ok]
    s = np.bincount(c, weights=pits[ok], minlength=n)
    k = np.bincount(c, minlength=n)
    den = k + prior
    m = np.where(den > 0, (s + 0.5 * prior) / np.where(den > 0, den, 1.0), 0.5)
    if center and (k > 0).any():
        m = np.where(k > 0, m - m[k > 0].mean() + 0.5, 0.5)
    level = 0.5 + weight * (m - 0.5)
    return np.clip(level, *OWN_RESIDUAL_CLIP)


def own_residual_levels(
    ledger,
    booster: lgb.Booster,
    T: int,
    horizon: int,
    features: list[str] | tuple[str, ...] = FEATURES,
    months: int = OWN_RESIDUAL_MONTHS,
    prior: float = OWN_RESIDUAL_PRIOR,
    weight: float = OWN_RESIDUAL_WEIGHT,
    center: bool = False,
    boosters: dict[int, lgb.Booster] | None = None,
) -> np.ndarray:
    """Per debtor code (``ledger.n`` of them): the level at which to read its forecasts as of T
    (:func:`median_at_level`), from the model's own errors on the debtor's recent invoices (session
    30's candidate, issue 13). Rows dated after T change nothing.

    For the month-ends S of the ``months`` months before T, the invoices open at S are forecast by
    ``booster`` as of S; each invoice counts once, at the earliest of those S at which it was open.
    Its :func:`residual_pits` is read from its settlement as of T (rows dated <= T: T - S days seen;
    an invoice a credit memo closed by T is left out). The debtor's level is :func:`debtor_levels` of
    those PITs: above 0.5 where the model was early for it, below where it was late. ``boosters``: a
    model per month-end S (e.g. each trained on data up to S: out-of-sample residuals); ``booster``
    for the month-ends it lacks."""
    from features.ledger import ledger_state
    from features.paydate import open_invoices, settlements
    from features.snapshots import month_ends

    n = ledger.n
    day = pd.Timestamp(T, unit="D")
    ends = [
        int(e.value // 86_400_000_000_000) for e in month_ends(day - pd.DateOffset(months=months + 1), day)
    ]
    ends = [S for S in ends if S < T][-months:]
    settled, memo = settlements(ledger, T)
    taken = np.zeros(len(ledger.inv_code), dtype=bool)
    codes, pits = [], []
    for S in ends:
        inv = open_invoices(ledger, ledger_state(ledger, S))
        pos = inv["pos"].to_numpy(dtype=np.int64)
        first = ~taken[pos]
        taken[pos] = True
        if memo is not None:
            first &= ~memo[pos]
        if not first.any():
            continue
        inv, pos = inv.loc[first].reset_index(drop=True), pos[first]
        model = (boosters or {}).get(S, booster)
        F = cdf_weeks(predict_hazards(model, inv, S, horizon, features=features))
        pits.append(residual_pits(F, settled[pos] - S, float(T - S)))
        codes.append(inv["code"].to_numpy(dtype=np.int64))
    if not pits:
        return np.full(n, 0.5)
    return debtor_levels(np.concatenate(codes), np.concatenate(pits), n, prior, weight, center)
