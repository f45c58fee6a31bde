"""The collections queue's ranking key, chosen at training time on out-of-time evidence.

Two keys rank the live queue (overdue, not in default): ``pd`` = PD x exposure x LGD x (1 + days past
due / ``dpd_weight_days``), the key shipped since session 4, and ``blend`` = the same with the PD
replaced by (PD + pay_pd) / 2, where ``pay_pd`` is the payment-date model's own PD of the debtor
(the chance an open invoice is still unpaid when it reaches the default threshold within the
horizon; 0 for a debtor without such an invoice). On 16 generated books the blend caught more of the
defaulted balance on 12 and less on 4 (BENCHMARKS.md, s9-queue): a trade per book, so ``ews train``
chooses per book (:func:`choose_key`) on rows where the PD model and a payment-date model both
predict out of time: the challenger's pooled rolling-origin folds when it was chosen on them, else
the test window. The blend is chosen when its pooled ``queue_capture_top20`` is ahead of the PD
key's (with at least ``min_defaults`` defaulted queue rows); the 95 % debtor-bootstrap interval of
the difference is reported with it; with fewer defaulted rows no comparison is made and the blend
is taken (``fallback``). Session 12 asked for the interval above 0 on the test window alone, and kept
the PD key without evidence: too little to leave the PD key on most books; on pooled folds that rule
lost a significant gain on one of 16 books, the point rule was significantly worse than it on none
of 28, and the blend where the evidence is too thin on none of 10 (BENCHMARKS.md, s14-queue); the PD key
there instead, pre-registered on 6 fresh such books in session 37, was behind the blend forward
(-0.051 [-0.107, -0.004], BENCHMARKS.md s37-fallback): the blend stays.
``need_interval=True`` gives the interval rule, ``fallback="pd"`` the old default. On the test window
alone (no pooled folds) ``ews train`` passes ``unless_behind=True`` (session 36, s36-key): the blend
unless it is significantly behind there; on 36-month books the folds' payment-date models are skipped
and a window of 2-5 month-ends decides, where the PD key's uncertain leads did not hold in the later
months (BENCHMARKS.md).

The capture is ``ews backtest``'s ``queue_capture_top20``: per month-end, the share of the exposure
of the queue's debtors that defaulted within the horizon held by the top 20 % of the queue (by count,
rounded up), pooled over the month-ends. Pure: no MLflow, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KEYS = ("pd", "blend")
TOP_SHARE = 0.2
BLEND_PRIOR = (
    "ahead of the PD key on 7 of 10 generated books whose evidence was this thin, significantly on 3, "
    "significantly behind on none (BENCHMARKS.md, s14-queue); on 18 such books of two simulators since, "
    "the PD key was significantly behind it on 2 and significantly ahead on none (s37-fallback)"
)


WINDOW_EVIDENCE = (
    "a lead of the PD key this uncertain on a few month-ends did not hold in the later months "
    "(BENCHMARKS.md, s36-key)"
)


def blended_pd(pd_: Any, pay_pd: Any) -> np.ndarray:
    """(PD + pay_pd) / 2 per row; a missing ``pay_pd`` (no open invoice) counts as 0."""
    pay = pd.Series(np.asarray(pay_pd, dtype="float64")).fillna(0.0).to_numpy()
    return (np.asarray(pd_, dtype="float64") + pay) / 2.0


def queue_orders(
    frame: pd.DataFrame, key: np.ndarray, tie: np.ndarray | None = None, places: int = 2
) -> list[np.ndarray]:
    """Per month-end (``as_of``), the positions of ``frame``'s rows in the queue's order: ``key``
    rounded to ``places`` decimals as the nightly's ``priority`` (the reporting currency's: 2, or 3
    for KWD, BHD, ..., ``pipelines.ingest.decimals.money_places``), ties by ``tie`` (the expected
    loss, rounded alike; none: skipped), then overdue amount, then debtor_id (as
    ``pipelines.scoring.queue``)."""
    order = pd.DataFrame(
        {
            "k": np.round(np.asarray(key, dtype="float64"), places),
            "e": np.zeros(len(frame)) if tie is None else np.round(np.asarray(tie, dtype="float64"), places),
            "o": frame["overdue_amount"].astype("float64").to_numpy(),
            "d": frame["debtor_id"].astype("string").to_numpy(),
            "t": frame["as_of"].to_numpy(),
            "i": np.arange(len(frame)),
        }
    )
    order = order.sort_values(
        ["t", "k", "e", "o", "d"], ascending=[True, False, False, False, True], kind="stable"
    )
    return [g.to_numpy() for _, g in order.groupby("t", sort=True)["i"]]


def weighted_capture(orders: list[np.ndarray], bad: np.ndarray, w: np.ndarray) -> float:
    """Pooled share of the bad balance in the top 20 % of each month-end's queue, rows weighted by
    ``w`` (a bootstrap's debtor counts; all 1: the plain figure, the top ceil(0.2 x n) rows): the
    first rows whose cumulative weight reaches ceil(0.2 x total weight), the row straddling the cut
    counted in part. NaN without bad balance."""
    top = total = 0.0
    for idx in orders:
        ww = w[idx]
        cut = math.ceil(TOP_SHARE * ww.sum())
        cum = np.cumsum(ww)
        take = np.clip(cut - (cum - ww), 0.0, ww)
        b = bad[idx]
        top += float((take * b).sum())
        total += float((ww * b).sum())
    return top / total if total else float("nan")


@dataclass(frozen=True)
class KeyChoice:
    """The key chosen (``key``: ``pd`` or ``blend``) and its evidence: the pooled captures of both
    keys, the difference blend - pd with its 95 % debtor-bootstrap interval, the queue's rows,
    debtors, defaulted rows and month-ends, and ``reason`` (one plain sentence)."""

    key: str
    reason: str
    capture_pd: float = float("nan")
    capture_blend: float = float("nan")
    delta: float = float("nan")
    delta_low: float = float("nan")
    delta_high: float = float("nan")
    rows: int = 0
    defaults: int = 0
    snapshots: list[str] = field(default_factory=list)
    folds: int = 1
    window: KeyChoice | None = None

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics (``queue_key_*``; NaN ones left out); a choice made on pooled
        folds also gives the test window's alone (``window``) as ``queue_key_window_*``."""
        values = {
            "queue_key_capture_pd": self.capture_pd,
            "queue_key_capture_blend": self.capture_blend,
            "queue_key_delta": self.delta,
            "queue_key_delta_low": self.delta_low,
            "queue_key_delta_high": self.delta_high,
            "queue_key_rows": float(self.rows),
            "queue_key_defaults": float(self.defaults),
            "queue_key_folds": float(self.folds),
        }
        out = {k: float(v) for k, v in values.items() if np.isfinite(v)}
        if self.window is not None:
            out |= {k.replace("queue_key_", "queue_key_window_"): v for k, v in self.window.metrics().items()}
        return out


def keep_pd(reason: str, **figures: Any) -> KeyChoice:
    """The PD key, with why the blend was not chosen."""
    return KeyChoice("pd", reason, **figures)


def choose_key(
    frame: pd.DataFrame,
    dpd_weight_days: float | None = 90.0,
    n_boot: int = 200,
    seed: int = 0,
    min_defaults: int = 30,
    where: str = "the test window",
    need_interval: bool = False,
    fallback: str = "blend",
    places: int = 2,
    unless_behind: bool = False,
) -> KeyChoice:
    """The queue key for a model from its out-of-time rows.

    ``frame``: the live queue rows of the test window, one per (``as_of``, ``debtor_id``), with
    ``pd`` (the model's out-of-time PD), ``pay_pd`` (from a payment-date model fitted only on rows
    dated up to the window's start; NaN = no open invoice), ``open_balance``, ``overdue_amount``,
    ``dpd``, ``lgd`` and ``label`` (default within the horizon). The blend is chosen when its pooled
    capture is above the PD key's, with at least ``min_defaults`` defaulted rows in the queue; else
    the PD key. The difference comes with a 95 % interval (Poisson bootstrap of debtors, one weight
    per debtor for every month-end and both keys: paired; ``n_boot`` replicates, ``seed``);
    ``need_interval``: the blend only when that interval is above 0 (session 12's rule). With fewer
    defaulted rows (no comparison possible), ``fallback``: ``blend`` (the key ahead on most generated
    books; such books are small, where the PD model is weakest) or ``pd`` (before session 14). ``where``:
    the rows in words (the test window, or pooled rolling-origin folds: then ``frame`` has a ``fold``
    column, each month-end in one fold, and the capture is pooled over every month-end of every fold).
    ``places``: the decimals the nightly rounds the priority to (:func:`queue_orders`).
    ``unless_behind`` (the test window's rule since session 36): the blend unless it is significantly
    behind, i.e. unless the whole interval is below 0; a lead of the PD key inside its interval keeps
    the blend (:data:`WINDOW_EVIDENCE`)."""
    if frame.empty:
        if fallback == "blend":
            return KeyChoice("blend", f"no live queue rows in {where}; the blend, {BLEND_PRIOR}")
        return keep_pd(f"no live queue rows in {where}")
    f = frame.reset_index(drop=True)
    y = f["label"].fillna(0).astype(int).to_numpy() == 1
    ob = f["open_balance"].astype("float64").clip(lower=0.0).fillna(0.0).to_numpy()
    bad = np.where(y, ob, 0.0)
    snaps = sorted(pd.Timestamp(t).date().isoformat() for t in f["as_of"].unique())
    folds = int(f["fold"].nunique()) if "fold" in f.columns else 1
    base = {"rows": int(len(f)), "defaults": int(y.sum()), "snapshots": snaps, "folds": folds}
    if y.sum() < min_defaults or not bad.sum():
        few = f"{int(y.sum())} defaulted rows in the queue of {where} (fewer than {min_defaults})"
        if fallback == "blend":
            return KeyChoice("blend", f"{few}: too few to compare the keys; the blend, {BLEND_PRIOR}", **base)
        return keep_pd(f"{few}: too few to choose the blend", **base)
    dpd = f["dpd"].astype("float64").fillna(0.0).clip(lower=0.0).to_numpy()
    w = 1.0 + dpd / dpd_weight_days if dpd_weight_days else np.ones(len(f))
    lgd = f["lgd"].astype("float64").to_numpy()
    pd_ = f["pd"].astype("float64").to_numpy()
    el = pd_ * ob * lgd
    orders = {
        "pd": queue_orders(f, el * w, el, places),
        "blend": queue_orders(f, blended_pd(pd_, f["pay_pd"]) * ob * lgd * w, el, places),
    }
    ones = np.ones(len(f))
    cap = {k: weighted_capture(o, bad, ones) for k, o in orders.items()}
    codes, uniq = pd.factorize(f["debtor_id"].astype("string"))
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        wb = rng.poisson(1.0, len(uniq)).astype("float64")[codes]
        diffs.append(weighted_capture(orders["blend"], bad, wb) - weighted_capture(orders["pd"], bad, wb))
    d = np.asarray([x for x in diffs if np.isfinite(x)])
    lo, hi = (float(v) for v in np.quantile(d, [0.025, 0.975])) if len(d) else (float("nan"),) * 2
    delta = cap["blend"] - cap["pd"]
    figures = dict(
        capture_pd=cap["pd"], capture_blend=cap["blend"], delta=delta, delta_low=lo, delta_high=hi, **base
    )
    said = (
        f"queue capture on {where} ({snaps[0]}..{snaps[-1]}, {len(f):,} queue rows, "
        f"{int(y.sum())} defaulted): blend {cap['blend']:.4f} vs PD {cap['pd']:.4f}, "
        f"difference {delta:+.4f} [95 % {lo:+.4f}, {hi:+.4f}]"
    )
    if unless_behind:
        if not hi < 0:
            if delta > 0:
                return KeyChoice("blend", f"blend chosen: {said}", **figures)
            return KeyChoice(
                "blend",
                f"blend chosen, not significantly behind the PD key: {said}; {WINDOW_EVIDENCE}",
                **figures,
            )
        return keep_pd(f"PD key kept (the blend is significantly behind): {said}", **figures)
    if (lo > 0) if need_interval else (delta > 0):
        return KeyChoice("blend", f"blend chosen: {said}", **figures)
    why = "the blend is not ahead inside its interval" if need_interval else "the blend is not ahead"
    return keep_pd(f"PD key kept ({why}): {said}", **figures)
