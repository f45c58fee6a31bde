"""Agreed payment plans in force on the as-of date, from the optional ``payment_plans`` table and
from analysts' overrides (status ``payment_plan`` in the audit log, :mod:`pipelines.scoring.overrides`).

A plan row (``features.schema.PAYMENT_PLANS``) is kept on ``as_of`` when it was agreed on or before
``as_of``, its ``status`` is ``active`` (or empty: the source keeps only live plans), and ``as_of``
is no later than its last instalment's due date plus :data:`GRACE_DAYS` (instalments are monthly
from ``first_due``). A ``broken``, ``completed`` or ``cancelled`` plan is not in force.
"""

from __future__ import annotations

import pandas as pd

GRACE_DAYS = 30
PLAN_STATUS = "payment_plan"  # the override status of an agreed plan
KEPT_STATUS = "active"


def plans_in_force(
    plans: pd.DataFrame | None, overrides: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.Series:
    """Text describing the plan in force per debtor (index ``debtor_id``), e.g.
    ``"6 x 250.00 from 2024-05-31 (payment_plans, agreed 2024-05-02)"``.

    ``plans``: the ``payment_plans`` table or None. ``overrides``: the analysts' decisions in
    force (:func:`pipelines.scoring.overrides.active_overrides`) or None; those with status
    ``payment_plan`` count. A plan from the table wins over an override for the same debtor (it
    carries the schedule).
    """
    day = pd.Timestamp(as_of).normalize()
    found: dict[str, str] = {}
    if overrides is not None and len(overrides):
        agreed = overrides.loc[overrides["status"] == PLAN_STATUS]
        for r in agreed.itertuples(index=False):
            found[str(r.debtor_id)] = f"override by {r.by} on {pd.Timestamp(r.at).date()}: {r.reason}"
    if plans is not None and len(plans):
        p = plans.copy()
        status = (
            p["status"].astype("string").str.strip().str.lower().fillna(KEPT_STATUS)
            if "status" in p
            else pd.Series(KEPT_STATUS, index=p.index, dtype="string")
        )
        n = p["installments"].astype("Int64").fillna(1).clip(lower=1).astype("int64")
        last_due = pd.Series(
            [f + pd.DateOffset(months=int(k) - 1) for f, k in zip(p["first_due"], n, strict=True)],
            index=p.index,
            dtype="datetime64[ns]",
        )
        kept = (
            (p["agreed_on"] <= day)
            & (status == KEPT_STATUS)
            & (day <= last_due + pd.Timedelta(days=GRACE_DAYS))
        ).fillna(False)
        p = p.loc[kept].assign(n_due=n[kept]).sort_values(["debtor_id", "agreed_on"], kind="stable")
        for r in p.drop_duplicates("debtor_id", keep="last").itertuples(index=False):
            amount = "" if pd.isna(r.installment_amount) else f" x {r.installment_amount:,.2f}"
            found[str(r.debtor_id)] = (
                f"{r.n_due}{amount} from {r.first_due.date()} (payment_plans, agreed {r.agreed_on.date()})"
            )
    return pd.Series(found, dtype="string").rename_axis("debtor_id").sort_index()
