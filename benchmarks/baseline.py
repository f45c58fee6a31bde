"""A deliberately simple challenger for measurement only: 16 hand-written features + plain LightGBM.

Written the way a data scientist would in half an hour, straight from the canonical tables
(``Portfolio.invoices`` / ``payments`` / ``debtors``), without any of ``features/``: invoice and
payment counts and amounts over 90/365 days, the debtor balance, an overdue proxy (balance minus
what is not yet due), days since the last payment and invoice, mean and maximum days late of
allocated payments, the share of part-payments, and the segment. Unallocated cash only reduces the
balance. The model is ``LGBMClassifier`` with near-default settings and no early stopping,
calibration or refit: it is fitted once on the rows it is given. Never shipped; used by
``benchmarks/regimes.py`` to check that ews beats it on the same rows and dates.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["BASELINE_FEATURES", "baseline_features", "fit_baseline", "plain_lgbm"]

BASELINE_FEATURES: tuple[str, ...] = (
    "inv_cnt_90",
    "inv_cnt_365",
    "inv_amt_90",
    "inv_amt_365",
    "pay_amt_90",
    "pay_amt_365",
    "balance",
    "balance_to_inv_365",
    "overdue_proxy",
    "overdue_to_inv_90",
    "days_since_pay",
    "days_since_inv",
    "late_mean_180",
    "late_max_365",
    "partial_share_365",
    "segment",
)
_DAY = np.timedelta64(1, "D")


def _days(values: pd.Series) -> np.ndarray:
    return ((values.to_numpy("datetime64[ns]") - np.datetime64("1970-01-01")) / _DAY).astype(np.float64)


def baseline_features(portfolio, as_of: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """One row per (debtor_id, as_of) for every debtor in ``portfolio.debtors`` at every date."""
    deb = portfolio.debtors
    ids = pd.Index(deb["debtor_id"].astype(str))
    n = len(ids)
    inv, pay = portfolio.invoices, portfolio.payments
    ic = ids.get_indexer(inv["debtor_id"].astype(str))
    pc = ids.get_indexer(pay["debtor_id"].astype(str))
    issue, due, amt = _days(inv["issue_date"]), _days(inv["due_date"]), inv["amount"].to_numpy(float)
    paid, pamt = _days(pay["paid_on"]), pay["amount"].to_numpy(float)
    inv_pos = pd.Index(inv["invoice_id"].astype(str)).get_indexer(pay["invoice_id"].astype(str).fillna(""))
    alloc = (inv_pos >= 0) & pay["invoice_id"].notna().to_numpy()
    late = np.where(alloc, paid - due[np.maximum(inv_pos, 0)], np.nan)
    part = np.where(alloc, pamt < amt[np.maximum(inv_pos, 0)] - 0.005, False)

    def total(codes: np.ndarray, mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes[mask], weights=None if w is None else w[mask], minlength=n).astype(float)

    def last(codes: np.ndarray, days: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.full(n, -np.inf)
        np.maximum.at(out, codes[mask], days[mask])
        return np.where(np.isfinite(out), out, np.nan)

    frames = []
    for t in as_of:
        T = float((np.datetime64(pd.Timestamp(t).to_datetime64(), "ns") - np.datetime64("1970-01-01")) / _DAY)
        mi, mp = issue <= T, paid <= T
        f: dict[str, np.ndarray] = {
            "inv_cnt_90": total(ic, mi & (issue > T - 90)),
            "inv_cnt_365": total(ic, mi & (issue > T - 365)),
            "inv_amt_90": total(ic, mi & (issue > T - 90), amt),
            "inv_amt_365": total(ic, mi & (issue > T - 365), amt),
            "pay_amt_90": total(pc, mp & (paid > T - 90), pamt),
            "pay_amt_365": total(pc, mp & (paid > T - 365), pamt),
        }
        balance = total(ic, mi, amt) - total(pc, mp, pamt)
        overdue = np.maximum(balance - total(ic, mi & (due > T), amt), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f["balance"] = balance
            f["balance_to_inv_365"] = balance / f["inv_amt_365"]
            f["overdue_proxy"] = overdue
            f["overdue_to_inv_90"] = overdue / f["inv_amt_90"]
            f["days_since_pay"] = T - last(pc, paid, mp)
            f["days_since_inv"] = T - last(ic, issue, mi)
            m180 = mp & alloc & (paid > T - 180)
            f["late_mean_180"] = total(pc, m180, late) / total(pc, m180)
            m365 = mp & alloc & (paid > T - 365)
            f["late_max_365"] = np.where(total(pc, m365) > 0, -last(pc, -late, m365), np.nan)
            f["partial_share_365"] = total(pc, m365, part.astype(float)) / total(pc, m365)
        frame = pd.DataFrame(f)
        frame.insert(0, "as_of", pd.Timestamp(t))
        frame.insert(0, "debtor_id", ids.to_numpy())
        frame["segment"] = deb["segment"].astype("category").to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def plain_lgbm(seed: int = 0) -> lgb.LGBMClassifier:
    """Near-default LightGBM: 300 trees, learning rate 0.05, 31 leaves, no early stopping."""
    return lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def fit_baseline(X: pd.DataFrame, y: np.ndarray, seed: int = 0) -> lgb.LGBMClassifier:
    """Plain LightGBM on the given rows (all of them: no validation, calibration or refit)."""
    return plain_lgbm(seed).fit(X, y)
