"""Collections queue: overdue and in-default debtors ranked by expected loss, with a next action."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.config.nightly import QueueConfig

AGING = ["overdue_amount_1_30", "overdue_amount_31_60", "overdue_amount_61_90", "overdue_amount_90p"]


def lgd_for(segment: pd.Series, cfg: QueueConfig) -> pd.Series:
    """LGD per row: the segment override when configured, else the default (share of EAD)."""
    by_seg = pd.Series(cfg.lgd.by_segment, dtype="float64")
    return segment.astype("string").map(by_seg).astype("float64").fillna(cfg.lgd.default)


def next_action(frame: pd.DataFrame, cfg: QueueConfig) -> pd.Series:
    """First matching rule's action per row, else ``cfg.default_action``.

    ``frame`` needs ``in_default`` (bool), ``dpd`` (days past due of the oldest overdue invoice),
    ``pd``, ``expected_loss`` and ``overdue_amount``.
    """
    action = pd.Series(pd.NA, index=frame.index, dtype="string")
    dpd = frame["dpd"].astype("float64").fillna(0.0)
    for rule in cfg.rules:
        match = pd.Series(True, index=frame.index)
        if rule.in_default is not None:
            match &= frame["in_default"].astype(bool) == rule.in_default
        if rule.min_dpd is not None:
            match &= dpd >= rule.min_dpd
        if rule.min_pd is not None:
            match &= frame["pd"] >= rule.min_pd
        if rule.min_expected_loss is not None:
            match &= frame["expected_loss"] >= rule.min_expected_loss
        if rule.min_overdue is not None:
            match &= frame["overdue_amount"] >= rule.min_overdue
        action = action.mask(action.isna() & match, rule.action)
    return action.fillna(cfg.default_action)


def oldest_overdue_invoice(
    invoices: pd.DataFrame | None, debtors: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The oldest overdue open invoice per debtor, from the features' ``dpd_current_max``.

    ``debtors``: ``debtor_id`` and ``dpd_current_max`` (days past due of the oldest open overdue
    invoice, from ``features.build``). The invoice is the one whose due date is
    ``as_of - dpd_current_max`` days (the smallest invoice_id on ties). Returns ``debtor_id``,
    ``oldest_invoice_id`` and ``oldest_due_date``; debtors without overdue invoices are absent.
    """
    cols = ["debtor_id", "oldest_invoice_id", "oldest_due_date"]
    if invoices is None or invoices.empty:
        return pd.DataFrame(columns=cols)
    d = debtors[["debtor_id", "dpd_current_max"]].dropna()
    dpd = d["dpd_current_max"].astype("float64").to_numpy()
    keep = np.isfinite(dpd) & (dpd > 0)
    # whole days since 1970, in int64: an absurd dpd (from a statement, say) matches no invoice and
    # never overflows a timestamp
    as_of_day = as_of.to_datetime64().astype("datetime64[D]").astype(np.int64)
    target = pd.Series(
        as_of_day - np.clip(np.round(dpd[keep]), 0, 10**7).astype(np.int64),
        index=pd.Index(d["debtor_id"].astype("string").to_numpy()[keep]),
    )
    # map each invoice to its debtor's target due day (no large merge), keep the exact matches
    due_target = invoices["debtor_id"].astype("string").map(target).to_numpy(dtype="float64", na_value=np.nan)
    due_day = invoices["due_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    due_ok = invoices["due_date"].notna().to_numpy()
    hit = invoices.loc[
        due_ok & (due_day == due_target) & (invoices["issue_date"] <= as_of).to_numpy(),
        ["debtor_id", "invoice_id", "due_date"],
    ]
    hit = hit.sort_values(["debtor_id", "invoice_id"], kind="stable").drop_duplicates("debtor_id")
    hit = hit.rename(columns={"invoice_id": "oldest_invoice_id", "due_date": "oldest_due_date"})
    return hit[cols].reset_index(drop=True)


def build_queue(scored: pd.DataFrame, oldest: pd.DataFrame, cfg: QueueConfig) -> pd.DataFrame:
    """Every debtor with overdue exposure above ``cfg.min_overdue`` or in default, by expected loss.

    ``scored``: one row per debtor with ``debtor_id``, ``name``, ``segment``, ``in_default``,
    ``pd`` (1.0 for debtors in default), ``band``, ``open_balance`` (EAD, currency),
    ``overdue_amount``, the aging buckets, ``open_disputed_amount`` and ``dpd_current_max``.
    ``oldest``: output of :func:`oldest_overdue_invoice`. Expected loss = PD x EAD x LGD
    (currency, rounded to cents). Ranked by expected loss, then overdue amount, then debtor_id; ``rank`` starts at 1.
    """
    in_queue = (scored["overdue_amount"].fillna(0.0) > cfg.min_overdue) | scored["in_default"].astype(bool)
    q = scored.loc[in_queue].copy()
    q["status"] = np.where(q["in_default"].astype(bool), "in_default", "overdue")
    q["ead"] = q["open_balance"].fillna(0.0).clip(lower=0.0)
    q["lgd"] = lgd_for(q["segment"], cfg)
    q["expected_loss"] = (q["pd"] * q["ead"] * q["lgd"]).round(2)
    q["dpd"] = q["dpd_current_max"]
    q["disputed_amount"] = q["open_disputed_amount"].fillna(0.0)
    q["next_action"] = next_action(q, cfg)
    q = q.merge(oldest, on="debtor_id", how="left")
    q = q.sort_values(
        ["expected_loss", "overdue_amount", "debtor_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
    q.insert(0, "rank", np.arange(1, len(q) + 1, dtype="int64"))
    cols = [
        "rank",
        "as_of",
        "debtor_id",
        "name",
        "segment",
        "status",
        "next_action",
        "pd",
        "band",
        "ead",
        "lgd",
        "expected_loss",
        "overdue_amount",
        *AGING,
        "dpd",
        "oldest_invoice_id",
        "oldest_due_date",
        "disputed_amount",
    ]
    return q[[c for c in cols if c in q.columns]]
