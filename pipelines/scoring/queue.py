"""The two queues of a nightly run.

- The collections queue holds live debtors: overdue and not in default. Its expected loss is
  PD x EAD x LGD, where EAD is the exposure (open balance); it is ranked by ``priority`` = expected
  loss x (1 + days past due / ``queue.dpd_weight_days``), or by expected loss when that is null.
  With the ``blend`` key (:func:`queue_key_for`) the PD in the priority is (PD + pay_pd) / 2,
  ``pay_pd`` being the payment-date model's own PD (``models.queue_key``); ``expected_loss`` stays
  PD x EAD x LGD.
- The recovery queue holds debtors already in default with an open balance, ranked by the
  recoverable amount (exposure x (1 - LGD)) weighted by age: halved every
  ``recovery.age_half_life_days`` days past due. A debtor whose governing event (an insolvency wins
  over later events, else the latest) has an LGD in ``recovery.lgd_by_event`` gets that LGD.

Each row carries its next action, why in words (``action_rule``) and, after the details, the rule of
``conf/nightly.yaml`` that chose it (``action_rule_id``; :mod:`pipelines.scoring.actions`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.config.nightly import NightlyConfig, QueueConfig
from pipelines.config.teams import Collector
from pipelines.scoring.actions import choose_actions
from pipelines.scoring.owners import assign_queues, near_spelling

AGING = ["overdue_amount_1_30", "overdue_amount_31_60", "overdue_amount_61_90", "overdue_amount_90p"]


def _looked_up(keys: pd.Series, table: dict[str, float], fallback: float | pd.Series) -> pd.Series:
    """``table``'s value per row of ``keys`` (missing keys and NA: ``fallback``), as float64."""
    found = keys.astype("string").map(pd.Series(table, dtype="float64")).astype("float64")
    return found.fillna(fallback)


def lgd_for(segment: pd.Series, cfg: QueueConfig) -> pd.Series:
    """LGD per row: the segment override when configured, else the default (share of EAD)."""
    return _looked_up(segment, cfg.lgd.by_segment, cfg.lgd.default)


def lgd_segments_note(cfg: QueueConfig, segments: pd.Series) -> str:
    """The keys of ``queue.lgd.by_segment`` that name no segment of ``segments`` (the scored debtors')
    but one the book spells otherwise (case or spaces, or a close spelling): the debtors of that
    segment take ``queue.lgd.default`` instead, and their expected loss and queue rank with it ("" when
    every key is found or none is near one). Compared exactly, as the teams file's names are."""
    have = sorted(set(segments.dropna().astype(str)))
    said = []
    for key in cfg.lgd.by_segment:
        if key in have:
            continue
        near = near_spelling(key, have)
        if near is not None:
            said.append(f"{key!r} (the book has {near!r})")
    if not said:
        return ""
    return (
        f"queue.lgd.by_segment names {'a segment' if len(said) == 1 else f'{len(said)} segments'} no debtor has: "
        f"{'; '.join(said)}: those debtors take queue.lgd.default ({cfg.lgd.default:g}), and their expected "
        "loss and queue rank with it. Segments are compared exactly, case included: write the book's spelling"
    )


def priority(expected_loss: pd.Series, dpd: pd.Series, cfg: QueueConfig) -> pd.Series:
    """The collections queue's ranking key: expected loss x (1 + days past due / ``dpd_weight_days``)
    (the expected loss itself when that is None). An invoice nearer the default threshold comes
    first at the same expected loss; measured in BENCHMARKS.md ("What lifts the live queue")."""
    if cfg.dpd_weight_days is None:
        return expected_loss.astype("float64")
    days = dpd.astype("float64").fillna(0.0).clip(lower=0.0)
    return expected_loss.astype("float64") * (1.0 + days / cfg.dpd_weight_days)


def queue_key_for(setting: str, tags: dict[str, str] | None, pay_pd: pd.Series | None) -> tuple[str, str]:
    """(key, why) of the collections queue's priority: ``setting`` is ``queue.priority`` (``auto``,
    ``pd`` or ``blend``), ``tags`` the PD model version's tags (``ews.queue_key``: the key chosen at
    training, ``pipelines.flows.queue_key``), ``pay_pd`` per debtor_id or None without an
    ``ews-paydate`` champion (then always ``pd``)."""
    chosen = (tags or {}).get("ews.queue_key", "")
    if setting == "pd":
        return "pd", "queue.priority: pd"
    if setting == "auto" and chosen != "blend":
        why = "chose pd at training" if chosen else "records no queue key (trained before it was chosen)"
        return "pd", f"queue.priority: auto; the model version {why}"
    source = (
        "queue.priority: blend"
        if setting == "blend"
        else "queue.priority: auto; the model version chose blend at training"
    )
    if pay_pd is None:
        return "pd", f"{source}, but no ews-paydate champion gives pay_pd: ranked by the PD"
    return "blend", source


def text_by_debtor(ids: pd.Series, values: pd.Series | None) -> pd.Series:
    """``values`` (text indexed by debtor_id) looked up for ``ids``; "" where absent (same index)."""
    if values is None or values.empty:
        return pd.Series("", index=ids.index, dtype="string")
    found = values.astype("string").reindex(pd.Index(ids.to_numpy())).to_numpy(dtype=object)
    return pd.Series(found, index=ids.index, dtype="string").fillna("")


def _common(
    rows: pd.DataFrame,
    oldest: pd.DataFrame,
    plans: pd.Series | None,
    cfg: QueueConfig,
    broken: pd.Series | None = None,
) -> pd.DataFrame:
    q = rows.copy()
    q["exposure"] = q["open_balance"].astype("float64").fillna(0.0).clip(lower=0.0)
    q["lgd"] = lgd_for(q["segment"], cfg)
    q["dpd"] = q["dpd_current_max"]
    q["disputed_amount"] = q["open_disputed_amount"].astype("float64").fillna(0.0)
    ids = q["debtor_id"].astype("string")
    q["plan"] = text_by_debtor(ids, plans)
    q["plan_broken"] = text_by_debtor(ids, broken)
    # the feature frame carries the same dpd_material since 66f2771 (the roll-rate states read it): the oldest
    # invoice's is kept, so the merge does not split the column into _x / _y and lose it
    q = q.drop(columns="dpd_material", errors="ignore").merge(oldest, on="debtor_id", how="left")
    if "dpd_material" in q:  # default_definition.min_open_amount: rests of at most it are not past due here
        q["dpd"] = q.pop("dpd_material").fillna(0.0)
    return q


def _ranked(q: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    q = q.sort_values([*by, "debtor_id"], ascending=[False] * len(by) + [True], kind="stable")
    q = q.reset_index(drop=True)
    q.insert(0, "rank", np.arange(1, len(q) + 1, dtype="int64"))
    return q[[c for c in ["rank", *columns] if c in q.columns]]


IDENTITY = ["as_of", "debtor_id", "name", "segment", "country", "currency"]
ACTION = ["next_action", "action_rule", "dispute_action"]
RISK = ["exposure", "lgd", "expected_loss"]
EVENT = ["event", "event_on"]  # recovery queue: the latest event (kind, date) known at as-of
DETAIL = ["overdue_amount", "disputed_amount", *AGING, "dpd", "oldest_invoice_id", "oldest_due_date", "plan"]


def event_memory(
    rows: pd.DataFrame, previous: pd.DataFrame | None, as_of: pd.Timestamp | dt.date
) -> pd.Series:
    """Per row of ``rows`` (``debtor_id``, ``event``, ``event_on``; same index): the day the recovery
    queue first gave an action for the row's event: the previous run's ``event_action_since`` when its
    recovery queue (``previous``) held the debtor with the same event kind and date, else ``as_of``
    (NaT for a row without an event). A run of an ews before session 40 (no such column) or no run:
    the memory starts tonight."""
    day = pd.Timestamp(as_of)
    has = rows["event"].notna().to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
    out[has] = day
    need = {"debtor_id", "event", "event_on", "event_action_since"}
    if previous is None or not need <= set(previous.columns) or not has.any():
        return out
    prev = previous.loc[previous["event"].notna(), list(need)].copy()
    prev["debtor_id"] = prev["debtor_id"].astype("string")
    prev = prev.drop_duplicates("debtor_id").set_index("debtor_id")
    ids = rows["debtor_id"].astype("string")
    then = prev.reindex(ids)
    same = (
        (
            then["event"].astype("string").to_numpy(dtype=object, na_value=None)
            == rows["event"].astype("string").to_numpy(dtype=object, na_value=None)
        )
        & (pd.to_datetime(then["event_on"]).to_numpy() == pd.to_datetime(rows["event_on"]).to_numpy())
        & pd.to_datetime(then["event_action_since"]).notna().to_numpy()
        & has
    )
    carried = pd.to_datetime(then["event_action_since"]).to_numpy()
    return out.mask(pd.Series(same, index=rows.index), pd.Series(carried, index=rows.index))


def build_queues(
    scored: pd.DataFrame,
    oldest: pd.DataFrame,
    cfg: NightlyConfig,
    plans: pd.Series | None = None,
    collectors: Sequence[Collector] = (),
    previous_owner: pd.Series | None = None,
    broken: pd.Series | None = None,
    pay_pd: pd.Series | None = None,
    key: str = "pd",
    places: int = 2,
    as_of: pd.Timestamp | None = None,
    previous_recovery: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(collections queue, recovery queue) from one row per debtor.

    ``scored``: ``debtor_id``, ``name``, ``segment``, ``in_default``, ``pd`` (1.0 for debtors in
    default), ``band``, ``open_balance`` (currency), ``overdue_amount``, the aging buckets,
    ``open_disputed_amount`` and ``dpd_current_max``; optional ``country``, ``currency``,
    ``top_reason``. ``oldest``: the oldest open overdue invoice per debtor (``debtor_id``,
    ``oldest_invoice_id``, ``oldest_due_date``; optional ``event``, ``event_on``: the debtor's
    latest event at as-of, :func:`pipelines.scoring.actions.with_events`: it sets the action per
    ``cfg.event_actions`` in both queues, and both are columns of the recovery queue). ``plans``:
    text of the payment plan in force per debtor_id (:func:`pipelines.scoring.plans.plans_in_force`)
    or None; ``broken``: why the plan of a debtor counts as broken
    (:func:`pipelines.scoring.plans.broken_plans`), said in its ``action_rule``.

    Collections: live debtors whose overdue amount exceeds ``queue.min_overdue``; expected loss =
    PD x exposure x LGD (rounded to ``places`` decimals, the reporting currency's: 2, or 3 for KWD,
    BHD, ..., ``pipelines.ingest.decimals.money_places``); ranked by :func:`priority` (expected loss
    weighted by days past due; rounded alike), then expected loss, overdue amount and debtor_id. Recovery: debtors in default with a positive exposure; ``recoverable_amount`` =
    exposure x (1 - LGD), ``recovery_priority`` = that x 0.5 ** (days past due / half life);
    ranked by priority, then exposure, then debtor_id. ``rank`` starts at 1 in each queue.

    ``owner`` and ``within_capacity`` come from :func:`pipelines.scoring.owners.assign_queues`
    with ``collectors`` (none: every row ``unassigned``) and last night's owner per debtor_id: a
    collector working both queues has one daily capacity, split between them.

    ``key`` ``blend`` (:func:`queue_key_for`): the priority's PD is (PD + ``pay_pd``) / 2 (``pay_pd``
    per debtor_id, 0 where absent; ``models.queue_key.blended_pd``); ``expected_loss`` is unchanged.

    The recovery queue's memory of events (with ``as_of``): ``event_action_since``, the day the queue
    first gave an action for the row's event: carried from ``previous_recovery`` (the previous run's
    recovery queue: ``debtor_id``, ``event``, ``event_on``, ``event_action_since``) when it held the
    debtor with the same event, else ``as_of``; ``event_actions.follow_up`` moves the action on by the
    days since (:func:`pipelines.scoring.actions.choose_actions`).
    """
    qc, rc = cfg.queue, cfg.recovery
    default = scored["in_default"].astype(bool)
    live = ~default & (scored["overdue_amount"].astype("float64").fillna(0.0) > qc.min_overdue)
    dead = default & (scored["open_balance"].astype("float64").fillna(0.0) > 0.0)

    c = _common(scored.loc[live], oldest, plans, qc, broken)
    el = c["pd"] * c["exposure"] * c["lgd"]
    c["expected_loss"] = el.round(places)
    order = ["priority", "expected_loss", "overdue_amount"]
    if key == "dpd":  # no PD model (pipelines.scoring.nomodel): days past due, then the overdue amount
        c["expected_loss"] = np.nan  # never 0: there is no PD
        c["dpd"] = c["dpd"].astype("float64").fillna(0.0)
        order = ["dpd", "overdue_amount"]
    if key == "blend":
        from models.queue_key import blended_pd

        ids = c["debtor_id"].astype("string")
        pay = ids.map(pay_pd) if pay_pd is not None else pd.Series(np.nan, index=c.index)
        el = pd.Series(blended_pd(c["pd"], pay), index=c.index) * c["exposure"] * c["lgd"]
    c["priority"] = priority(el, c["dpd"], qc).round(places) if key != "dpd" else np.nan
    events = cfg.event_actions.actions()
    c = pd.concat([c, choose_actions(c, qc.rules, qc.default_action, "queue.rules", places, events)], axis=1)
    collections = _ranked(
        c,
        order,
        [*IDENTITY, *ACTION, "top_reason", "pd", "band", *RISK, "priority", *DETAIL, "action_rule_id"],
    )

    r = _common(scored.loc[dead], oldest, plans, qc, broken)
    if "event" in r:  # the governing event's LGD (recovery.lgd_by_event), else the segment's
        r["lgd"] = _looked_up(r["event"], rc.lgd_by_event, r["lgd"])
    r["expected_loss"] = (r["exposure"] * r["lgd"]).round(places)
    r["recoverable_amount"] = (r["exposure"] * (1.0 - r["lgd"])).round(places)
    age = r["dpd"].astype("float64").fillna(0.0).clip(lower=0.0)
    r["recovery_priority"] = (r["recoverable_amount"] * 0.5 ** (age / rc.age_half_life_days)).round(places)
    follow = None
    if as_of is not None and "event" in r:
        r["event_action_since"] = event_memory(r, previous_recovery, as_of)
        r["event_action_days"] = (pd.Timestamp(as_of) - r["event_action_since"]).dt.days
        follow = {k: [(s.days, s.action) for s in v] for k, v in cfg.event_actions.follow_up.items()}
    r = pd.concat(
        [r, choose_actions(r, rc.rules, rc.default_action, "recovery.rules", places, events, follow)], axis=1
    )
    for column, dtype in (
        ("event", "string"),
        ("event_on", "datetime64[ns]"),
        ("event_action_since", "datetime64[ns]"),
    ):
        if column not in r:  # ``oldest`` without the events' columns
            r[column] = pd.Series(pd.NA if dtype == "string" else pd.NaT, index=r.index, dtype=dtype)
    recovery = _ranked(
        r,
        ["recovery_priority", "exposure"],
        [
            *IDENTITY,
            *ACTION,
            "exposure",
            "lgd",
            "recoverable_amount",
            "recovery_priority",
            *DETAIL,
            *EVENT,
            "event_action_since",
            "action_rule_id",
        ],
    )
    pairs = ((collections, "collections"), (recovery, "recovery"))
    for (frame, _), owners in zip(pairs, assign_queues(pairs, collectors, previous_owner), strict=True):
        at = frame.columns.get_loc("debtor_id") + 1
        frame.insert(at, "owner", owners["owner"])
        frame.insert(at + 1, "within_capacity", owners["within_capacity"])
    return collections, recovery
