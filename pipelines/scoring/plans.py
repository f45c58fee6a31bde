"""Agreed payment plans in force on the as-of date, from the optional ``payment_plans`` table and
from analysts' overrides (status ``payment_plan`` in the audit log, :mod:`pipelines.scoring.overrides`).

A plan row (``features.schema.PAYMENT_PLANS``) is in its window on ``as_of`` when it was agreed on
or before ``as_of``, its ``status`` is ``active`` (or empty: the source keeps only live plans), and
``as_of`` is no later than its last instalment's due date plus :data:`GRACE_DAYS` (instalments are
monthly from ``first_due``). A ``completed`` or ``cancelled`` plan is not in force.

In its window a plan is **kept** when the debtor's payments since the plan was agreed (value dates
``agreed_on`` .. ``as_of``, from ``first_due`` when that came first, at most ``PLAN_LEAD_DAYS`` before; any invoice; cash only: a credit memo, ``payments.kind`` = credit, reduces
what is owed but pays no instalment) cover the instalments due by ``as_of``: those whose due
date is at least :data:`LATE_DAYS` days before ``as_of``, times ``installment_amount`` (the
reporting currency, as the payments after ingest). It is **broken** when they do not, or when its
``status`` is ``broken``: the debtor then gets the normal action rules and the rule says the plan
was broken (:func:`broken_plans`). A plan without ``installment_amount`` cannot be checked against
payments: it is kept on its status, and its text says so. Plans from overrides carry no schedule.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.schema import PLAN_LEAD_DAYS
from features.tables import credit_memos
from pipelines.ingest.decimals import HALF_UNIT

GRACE_DAYS = 30
LATE_DAYS = 7  # an instalment counts as due this many days after its due date
PLAN_STATUS = "payment_plan"  # the override status of an agreed plan
KEPT_STATUS = "active"
BROKEN_STATUS = "broken"
DTYPES = ("string", "datetime64[ns]", "float64")


def check_plans(
    plans: pd.DataFrame | None, payments: pd.DataFrame | None, as_of: pd.Timestamp, places: int = 2
) -> pd.DataFrame:
    """The latest plan per debtor in its window on ``as_of``, checked against the payments.

    One row per debtor (index ``debtor_id``): ``agreed_on``, ``first_due``, ``installments``,
    ``installment_amount``, ``due_count`` (instalments due by ``as_of``), ``due`` (their amount;
    NaN without ``installment_amount``), ``paid`` (payments since ``agreed_on``; cash only: a credit
    memo, ``kind`` = credit, pays no instalment), ``kept`` (bool)
    and ``text`` (the plan, or why it counts as broken). ``payments``: ``debtor_id``, ``paid_on``,
    ``amount`` (the payments of at least these debtors; empty: nobody paid) or None (not checked:
    a plan is kept on its status alone, as without ``installment_amount``). ``places``: the reporting
    currency's decimals (``pipelines.ingest.decimals.money_places``): ``paid`` is rounded to them,
    the texts print amounts with them, and a plan is short by more than half that unit."""
    cols = [
        "agreed_on",
        "first_due",
        "installments",
        "installment_amount",
        "due_count",
        "due",
        "paid",
        "kept",
        "text",
    ]
    empty = pd.DataFrame(columns=cols, index=pd.Index([], dtype="string", name="debtor_id"))
    if plans is None or not len(plans):
        return empty
    day = pd.Timestamp(as_of).normalize()
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
    window = (
        (p["agreed_on"] <= day)
        & status.isin([KEPT_STATUS, BROKEN_STATUS])
        & (day <= last_due + pd.Timedelta(days=GRACE_DAYS))
    ).fillna(False)
    p = p.loc[window].assign(installments=n[window], status=status[window])
    p = p.sort_values(["debtor_id", "agreed_on"], kind="stable").drop_duplicates("debtor_id", keep="last")
    if p.empty:
        return empty
    cutoff = day - pd.Timedelta(days=LATE_DAYS)
    due_count = []
    for first, k in zip(p["first_due"], p["installments"], strict=True):
        dates = [first + pd.DateOffset(months=i) for i in range(int(k))]
        due_count.append(sum(d <= cutoff for d in dates))
    p["due_count"] = due_count
    amount = (
        p["installment_amount"].astype("float64")
        if "installment_amount" in p
        else pd.Series(float("nan"), index=p.index)
    )
    p["installment_amount"] = amount
    p["due"] = p["due_count"] * amount if payments is not None else float("nan")
    ids = p["debtor_id"].astype("string")
    p["counted_from"] = _counted_from(p)
    paid = pd.Series(0.0, index=p.index)
    if payments is not None and len(payments):
        pay = payments.loc[
            payments["debtor_id"].astype("string").isin(set(ids)) & ~credit_memos(payments),
            ["debtor_id", "paid_on", "amount"],
        ]
        pay = pay.assign(debtor_id=pay["debtor_id"].astype("string"))
        start = pay["debtor_id"].map(pd.Series(p["counted_from"].to_numpy(), index=ids.to_numpy()))
        mine = pay.loc[(pay["paid_on"] >= start) & (pay["paid_on"] <= day)]
        paid = ids.map(mine.groupby("debtor_id")["amount"].sum()).astype("float64").fillna(0.0)
        paid.index = p.index
    p["paid"] = paid.round(places)
    half = HALF_UNIT[places]
    checked = p["due"].notna()
    short = checked & (p["paid"] < p["due"] - half)
    p["kept"] = (p["status"] != BROKEN_STATUS) & ~short
    texts = []
    for r in p.itertuples(index=False):
        each = "" if pd.isna(r.installment_amount) else f" x {r.installment_amount:,.{places}f}"
        plan = (
            f"{r.installments}{each} from {r.first_due.date()} (payment_plans, agreed {r.agreed_on.date()})"
        )
        if r.status == BROKEN_STATUS:
            texts.append(f"payment plan broken (status broken in payment_plans): {plan}")
        elif pd.isna(r.due) and payments is not None:
            texts.append(f"{plan}; schedule not checked: no installment_amount")
        elif pd.isna(r.due):
            texts.append(plan)
        elif r.paid < r.due - half:
            texts.append(
                f"payment plan broken: {r.paid:,.{places}f} paid since {r.counted_from.date()} of "
                f"{r.due:,.{places}f} due by "
                f"{day.date()} ({r.due_count} of {r.installments} instalments): {plan}"
            )
        else:
            texts.append(plan)
    p["text"] = texts
    return p.set_index(ids.rename("debtor_id"))[cols]


def _counted_from(p: pd.DataFrame) -> pd.Series:
    """The first value date of the payments that count toward each plan: ``agreed_on``, or its first due
    date when that came first (a plan entered days after its first instalment: that instalment, paid on
    time, was read as missing and the plan broken at once), at most ``PLAN_LEAD_DAYS`` before ``agreed_on``
    (ingest quarantines a plan whose first instalment is earlier; one kept from before stays bounded)."""
    earliest = p["agreed_on"] - pd.Timedelta(days=PLAN_LEAD_DAYS)
    return p["first_due"].clip(lower=earliest, upper=p["agreed_on"]).fillna(p["agreed_on"])


def plan_payments(book: Any, plans: pd.DataFrame | None) -> pd.DataFrame | None:
    """The payments (``debtor_id``, ``paid_on``, ``amount``) of the debtors with a row in
    ``plans``, read from ``book`` (a ``pipelines.engine.Book``): only their debtor buckets and rows,
    cash only (a credit memo, ``payments.kind`` = credit, pays no instalment). None without plans."""
    cols = ["debtor_id", "paid_on", "amount"]
    if plans is None or not len(plans):
        return None
    ids = sorted(set(plans["debtor_id"].astype("string").dropna()))
    if book.frames is not None:
        pay = book.frames.payments
        if pay is None:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, DTYPES, strict=True)})
        frame = pay.loc[pay["debtor_id"].astype("string").isin(ids) & ~credit_memos(pay), cols]
    else:
        import pyarrow.parquet as pq

        from pipelines.adapters.files import bucket_codes, bucket_file

        buckets = sorted(set(bucket_codes(pd.Series(ids, dtype="string"), book.buckets).tolist()))
        paths = [bucket_file(book.folder, "payments", k) for k in buckets]
        paths = [q for q in paths if q.is_file()] or [
            q for q in [book.folder / "payments.parquet"] if q.is_file()
        ]
        parts = []
        for q in paths:
            kind = ["kind"] if "kind" in pq.read_schema(q).names else []
            part = pq.read_table(q, columns=cols + kind, filters=[("debtor_id", "in", ids)]).to_pandas()
            parts.append(part.loc[~credit_memos(part), cols])
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "debtor_id": frame["debtor_id"].astype("string").to_numpy(),
            "paid_on": pd.to_datetime(frame["paid_on"]).to_numpy(dtype="datetime64[ns]"),
            "amount": frame["amount"].astype("float64").to_numpy(),
        }
    )


def with_plan_payments(statics: Any, book: Any) -> Any:
    """``statics`` (a ``Portfolio`` with ``payment_plans``) plus the payments of its plan debtors
    (:func:`plan_payments`), for checking the plans against their schedules."""
    import dataclasses

    return dataclasses.replace(statics, payments=plan_payments(book, getattr(statics, "payment_plans", None)))


def broken_plans(
    plans: pd.DataFrame | None, payments: pd.DataFrame | None, as_of: pd.Timestamp, places: int = 2
) -> pd.Series:
    """Why the plan of each debtor whose plan is broken on ``as_of`` counts as broken (index
    ``debtor_id``; :func:`check_plans`, ``places`` its decimals)."""
    checked = check_plans(plans, payments, as_of, places)
    return checked.loc[~checked["kept"].astype(bool), "text"].astype("string").sort_index()


def plans_in_force(
    plans: pd.DataFrame | None,
    overrides: pd.DataFrame | None,
    as_of: pd.Timestamp,
    payments: pd.DataFrame | None = None,
    places: int = 2,
) -> pd.Series:
    """Text describing the plan kept per debtor (index ``debtor_id``), e.g.
    ``"6 x 250.00 from 2024-05-31 (payment_plans, agreed 2024-05-02)"``.

    ``plans``: the ``payment_plans`` table or None. ``payments``: the debtors' payments
    (``debtor_id``, ``paid_on``, ``amount``) checked against each plan's schedule
    (:func:`check_plans`); None: not checked (status only). ``overrides``: the analysts' decisions in
    force (:func:`pipelines.scoring.overrides.active_overrides`) or None; those with status
    ``payment_plan`` count. A plan from the table wins over an override for the same debtor (it
    carries the schedule), kept or broken. ``places``: the decimals of the amounts (:func:`check_plans`).
    """
    day = pd.Timestamp(as_of).normalize()
    found: dict[str, str] = {}
    agreed_at: dict[str, pd.Timestamp] = {}
    if overrides is not None and len(overrides):
        agreed = overrides.loc[overrides["status"] == PLAN_STATUS]
        for r in agreed.itertuples(index=False):
            found[str(r.debtor_id)] = f"override by {r.by} on {pd.Timestamp(r.at).date()}: {r.reason}"
            agreed_at[str(r.debtor_id)] = pd.Timestamp(r.at).tz_localize(None).normalize()
    checked = check_plans(plans, payments, day, places)
    for debtor, r in checked.iterrows():
        if bool(r["kept"]):
            found[str(debtor)] = str(r["text"])
        elif str(debtor) not in agreed_at or agreed_at[str(debtor)] <= r["agreed_on"]:
            found.pop(str(debtor), None)  # broken; an override agreed after it still stands
    return pd.Series(found, dtype="string").rename_axis("debtor_id").sort_index()


TABLE_PLAN = "(payment_plans, agreed "
"""How a kept plan of the ``payment_plans`` table ends in the queues' ``plan`` column (:func:`check_plans`)."""


def kept_in_queues(prev_dir: Any) -> set[str]:
    """The debtors whose ``payment_plans`` plan the queues of the run in ``prev_dir`` showed as kept (their
    ``plan`` column: a kept table plan's text); empty without that run or those files."""
    from pathlib import Path

    if prev_dir is None:
        return set()
    kept: set[str] = set()
    for name in ("collections_queue.parquet", "recovery_queue.parquet"):
        path = Path(prev_dir) / name
        if not path.is_file():
            continue
        import pyarrow.parquet as pq

        if "plan" not in pq.read_schema(path).names:
            continue
        q = pd.read_parquet(path, columns=["debtor_id", "plan"])
        shown = q["plan"].astype("string").fillna("").str.contains(TABLE_PLAN, regex=False)
        kept |= set(q.loc[shown.to_numpy(dtype=bool), "debtor_id"].astype(str))
    return kept


def plan_news(
    plans: pd.DataFrame | None,
    payments: pd.DataFrame | None,
    as_of: pd.Timestamp,
    prev_as_of: pd.Timestamp | None,
    kept_before: set[str] | None = None,
    places: int = 2,
) -> pd.DataFrame:
    """The payment-plan part of the watchlist's ``event`` trigger: per debtor with a plan of the table
    (index ``debtor_id``), ``plan_broken`` (why its plan counts as broken tonight, :func:`broken_plans`;
    "" when kept or not in force) and ``plan_broken_prev`` (the same as of the previous run: the plan
    checked on ``prev_as_of`` against tonight's table and payments, "" when it was kept or not yet in force
    then, and "" for the debtors of ``kept_before``, whose plan the previous run's queues showed as kept
    (:func:`kept_in_queues`: a ``status: broken`` entered since, which a check of today's table as of the
    earlier date cannot tell)). The trigger fires where the first says something and the second does not:
    once, on the run where the plan breaks. Empty without plans or without a previous run."""
    cols = ["plan_broken", "plan_broken_prev"]
    empty = pd.DataFrame(columns=cols, index=pd.Index([], dtype="string", name="debtor_id"), dtype="string")
    if plans is None or not len(plans) or prev_as_of is None:
        return empty
    now = broken_plans(plans, payments, as_of, places)
    before = broken_plans(plans, payments, prev_as_of, places)
    before = before.loc[~before.index.isin(list(kept_before or ()))]
    ids = now.index.union(before.index)
    if not len(ids):
        return empty
    out = pd.DataFrame(
        {"plan_broken": now.reindex(ids).fillna(""), "plan_broken_prev": before.reindex(ids).fillna("")},
        index=ids.astype("string").rename("debtor_id"),
    )
    return out.astype("string")
