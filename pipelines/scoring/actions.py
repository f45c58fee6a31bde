"""Next action per queue row, from collections practice, and the rule that chose it.

Order of precedence for one row:

0. an event dated on or before the as-of date (``events`` table; :func:`latest_events`) whose kind
   has an action in ``event_actions`` (``conf/nightly.yaml``): an insolvency gives ``file_claim``
   (collection is stayed: no notice, agency or legal action), an agency placement
   ``agency_follow_up``, a write-off ``written_off_recovery`` (``action_rule`` names the event and
   its date);
1. an agreed payment plan that is kept -> ``monitor_plan`` (a broken plan: the rules below, and
   ``action_rule`` says why the plan counts as broken);
2. the whole overdue balance is in dispute -> ``resolve_dispute``;
3. the first configured rule whose conditions all hold (``queue.rules`` / ``recovery.rules``);
   a row with any disputed balance skips ``agency_referral`` rules: a dispute is resolved, never
   referred to an agency;
4. the configured ``default_action``.

A row with a disputed balance and an undisputed overdue part gets the action for the undisputed
part in ``next_action`` and ``resolve_dispute`` in ``dispute_action`` for the disputed part.

``action_rule`` says why in words a collector reads ("60+ days past due: final notice"); ``action_rule_id``
names the rule in ``conf/nightly.yaml`` for whoever tunes the rules (``queue.rules[1]``,
``event_actions.insolvency``, ``default_action``, ``payment_plan``, ``dispute``). Before session 27
``action_rule`` read "queue.rules[1]: days past due >= 60".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pipelines.config.nightly import ActionRule
from pipelines.ingest.decimals import HALF_UNIT, shown_places
from pipelines.words import ACTION_WORDS, code_words, in_sentence

RESOLVE_DISPUTE = "resolve_dispute"
MONITOR_PLAN = "monitor_plan"
AGENCY = "agency_referral"


# rule field -> (quantity compared, operator); the quantities are prepared in choose_actions
CONDITIONS: dict[str, tuple[str, str]] = {
    "min_dpd": ("dpd", ">="),
    "max_dpd": ("dpd", "<="),
    "min_pd": ("pd", ">="),
    "min_expected_loss": ("expected_loss", ">="),
    "min_overdue": ("undisputed", ">="),
    "min_exposure": ("exposure", ">="),
    "max_exposure": ("exposure", "<="),
}
# an amount condition in words: (field, what is compared, "or more" / "or less")
AMOUNT_WORDS = (
    ("min_expected_loss", "expected loss", "or more"),
    ("min_overdue", "undisputed overdue", "or more"),
    ("min_exposure", "balance", "or more"),
    ("max_exposure", "balance", "or less"),
)

# when one debtor has several events, an insolvency decides (the stay binds whatever came later);
# otherwise the latest event, and on one day the more severe kind
EVENT_ORDER = {"agency_placement": 0, "write_off": 1, "insolvency": 2}


def latest_events(events: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per debtor with an event dated on or before ``as_of``: ``debtor_id``, ``event`` (its
    kind) and ``event_on`` (its date): the latest insolvency if there is one, else the latest event
    (on one day: write-off before agency placement). Events after ``as_of`` are not known yet."""
    out = pd.DataFrame(
        {
            "debtor_id": pd.array([], dtype="string"),
            "event": pd.array([], dtype="string"),
            "event_on": pd.Series([], dtype="datetime64[ns]"),
        }
    )
    if events is None or events.empty:
        return out
    e = events.loc[
        pd.to_datetime(events["event_date"]) <= pd.Timestamp(as_of), ["debtor_id", "event_date", "kind"]
    ]
    e = e.loc[e["kind"].astype("string").isin(list(EVENT_ORDER))]
    if e.empty:
        return out
    kind = e["kind"].astype("string")
    e = e.assign(
        debtor_id=e["debtor_id"].astype("string"),
        event=kind,
        event_on=pd.to_datetime(e["event_date"]).astype("datetime64[ns]"),
        insolvent=(kind == "insolvency").astype("int8"),
        order=kind.map(EVENT_ORDER).astype("int8"),
    )
    e = e.sort_values(["debtor_id", "insolvent", "event_on", "order"], kind="stable")
    last = e.drop_duplicates("debtor_id", keep="last")
    return last[["debtor_id", "event", "event_on"]].sort_values("debtor_id", ignore_index=True)


def with_events(oldest: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``oldest`` (one row per debtor with an open overdue invoice) joined with :func:`latest_events`
    (outer: a debtor with an event and nothing overdue gets a row), sorted by debtor_id."""
    merged = oldest.merge(events, on="debtor_id", how="outer")
    return merged.sort_values("debtor_id", kind="stable", ignore_index=True)


def action_words(action: str) -> str:
    """An action name as a collector says it inside a sentence, from the one table of
    :data:`pipelines.words.ACTION_WORDS`: ``final_notice`` -> "final notice", ``written_off_recovery``
    -> "recovery after write-off" (before session 32 the code with spaces: "written off recovery")."""
    said = code_words(action, "action")
    return (
        in_sentence(said)
        if str(action) in ACTION_WORDS
        else said.replace("write_off", "write-off").replace("_", " ")
    )


def describe_rule(rule: ActionRule, places: int = 2) -> str:
    """A rule's conditions and action in words, e.g. "60+ days past due: final notice",
    "30+ days past due and PD 15% or more: payment plan", "180+ days past due and balance 250.00 or
    less: write-off review" (it read "queue.rules[1]: days past due >= 60" before session 27).
    ``places``: the decimals the reporting currency is said with (``pipelines.ingest.decimals.shown_places``:
    0 for JPY, 2 for EUR, 3 for KWD): amounts are written with them (before session 28 without decimals,
    so ``max_exposure: 0.4`` read "balance 0 or less" in any currency)."""
    parts = []
    low, high = rule.min_dpd, rule.max_dpd
    if low is not None and high is not None:
        parts.append(f"{low:,}-{high:,} days past due")
    elif low is not None:
        parts.append(f"{low:,}+ days past due")
    elif high is not None:
        parts.append(f"at most {high:,} days past due")
    if rule.min_pd is not None:
        parts.append(f"PD {rule.min_pd * 100:g}% or more")
    for field, words, side in AMOUNT_WORDS:
        value = getattr(rule, field)
        if value is not None:
            parts.append(f"{words} {value:,.{places}f} {side}")
    return f"{' and '.join(parts) or 'always'}: {action_words(rule.action)}"


def _matches(rule: ActionRule, values: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    match = pd.Series(True, index=index)
    for field, (quantity, op) in CONDITIONS.items():
        bound = getattr(rule, field)
        if bound is not None:
            match &= values[quantity] >= bound if op == ">=" else values[quantity] <= bound
    return match.fillna(False).astype(bool)


def choose_actions(
    frame: pd.DataFrame,
    rules: Sequence[ActionRule],
    default_action: str,
    where: str,
    places: int = 2,
    event_actions: Mapping[str, str | None] | None = None,
    follow_up: Mapping[str, Sequence[tuple[int, str]]] | None = None,
) -> pd.DataFrame:
    """``next_action``, ``action_rule`` (why, in words), ``action_rule_id`` (which rule of the config)
    and ``dispute_action`` per row of ``frame`` (same index).

    ``frame`` needs ``dpd`` (days past due of the oldest overdue invoice), ``pd``,
    ``expected_loss``, ``exposure``, ``overdue_amount``, ``disputed_amount`` (open disputed
    balance, currency) and ``plan`` (text describing a kept payment plan; empty or missing when
    none) and optional ``plan_broken`` (why the debtor's payment plan counts as broken,
    :func:`pipelines.scoring.plans.broken_plans`: appended to ``action_rule``). ``where`` names the
    rule list in ``action_rule_id`` (e.g. ``queue.rules``: ``queue.rules[1]``, ``queue.default_action``). ``places``: the decimals of the reporting
    currency (``pipelines.ingest.decimals.money_places``): an amount below half its smallest unit
    (half a cent; half a fils for KWD) counts as zero. ``event_actions``: action per event kind
    (``conf/nightly.yaml`` ``event_actions``; None or a kind mapped to None: no action), applied to
    rows whose optional ``event`` / ``event_on`` columns (:func:`latest_events`) name one. A rule's
    amounts in ``action_rule`` take the decimals the optional ``currency`` column's currency is said
    with (:func:`describe_rule`; JPY 0), else ``places``. ``follow_up``: per event kind, (days, action)
    steps in increasing days (``event_actions.follow_up``): a row whose optional ``event_action_days``
    (days since the recovery queue first gave an action for its event, on ``event_action_since``) is
    at least a step's days gets the step's action instead of the event's.
    """
    half = HALF_UNIT[places]
    idx = frame.index
    # a rule's amounts in words with the reporting currency's own decimals (the rows' currency column)
    code = frame["currency"].dropna() if "currency" in frame else pd.Series(dtype="string")
    amount_places = shown_places(str(code.iloc[0])) if len(code) else places
    dpd = frame["dpd"].astype("float64").fillna(0.0)
    disputed = frame["disputed_amount"].astype("float64").fillna(0.0).clip(lower=0.0)
    overdue = frame["overdue_amount"].astype("float64").fillna(0.0)
    undisputed = (overdue - disputed).clip(lower=0.0)
    in_dispute = disputed > half
    plan = frame["plan"].astype("string").fillna("") if "plan" in frame else pd.Series("", index=idx)

    action = pd.Series(pd.NA, index=idx, dtype="string")
    why = pd.Series(pd.NA, index=idx, dtype="string")
    rule_id = pd.Series(pd.NA, index=idx, dtype="string")

    if event_actions and "event" in frame:
        kind = frame["event"].astype("string")
        act = kind.map(lambda k: event_actions.get(k) if isinstance(k, str) else None).astype("string")
        hit = act.notna() & ~(in_dispute & (act == AGENCY))  # a dispute is never referred to an agency
        on = pd.to_datetime(frame["event_on"]).dt.strftime("%Y-%m-%d")
        action[hit] = act[hit]
        said = act[hit].map(action_words).astype("string")
        what = kind[hit].map(action_words).astype("string")  # "write-off on 2024-08-30: ..."
        why[hit] = what + " on " + on[hit] + ": " + said
        rule_id[hit] = "event_actions." + kind[hit]
        if follow_up and "event_action_days" in frame:
            days = pd.to_numeric(frame["event_action_days"], errors="coerce")
            since = pd.to_datetime(frame["event_action_since"]).dt.strftime("%Y-%m-%d")
            for k, steps in follow_up.items():
                for i, (after, step) in enumerate(steps):
                    moved = hit & (kind == k).fillna(False) & (days >= after).fillna(False)
                    if not moved.any():
                        continue
                    action[moved] = step
                    why[moved] = (
                        kind[moved].map(action_words).astype("string")
                        + " on "
                        + on[moved]
                        + ": "
                        + action_words(step)
                        + f" ({after}+ days since the recovery queue first said "
                        + act[moved].map(action_words).astype("string")
                        + ", on "
                        + since[moved]
                        + ")"
                    )
                    rule_id[moved] = f"event_actions.follow_up.{k}[{i}]"

    on_plan = action.isna() & (plan != "")
    action[on_plan] = MONITOR_PLAN
    why[on_plan] = "payment plan kept: " + plan[on_plan]
    rule_id[on_plan] = "payment_plan"

    whole = action.isna() & in_dispute & (undisputed <= half)
    action[whole] = RESOLVE_DISPUTE
    why[whole] = "whole overdue balance in dispute"
    rule_id[whole] = "dispute"

    values = {
        "dpd": dpd,
        "undisputed": undisputed,
        **{c: frame[c].astype("float64") for c in ("pd", "expected_loss", "exposure")},
    }
    skipped = pd.Series(False, index=idx)
    for i, rule in enumerate(rules):
        hit = action.isna() & _matches(rule, values, idx)
        if rule.action == AGENCY:
            skipped |= hit & in_dispute
            hit &= ~in_dispute
        action[hit] = rule.action
        why[hit] = describe_rule(rule, amount_places)
        rule_id[hit] = f"{where}[{i}]"
    rest = action.isna()
    action[rest] = default_action
    why[rest] = f"no rule matched: {action_words(default_action)} (the default action)"
    rule_id[rest] = f"{where.rsplit('.', 1)[0]}.default_action"
    why[skipped] = why[skipped] + " (agency referral skipped: balance in dispute)"
    if "plan_broken" in frame:
        broken = frame["plan_broken"].astype("string").fillna("")
        hit = (broken != "") & (action != MONITOR_PLAN)
        why[hit] = why[hit] + "; " + broken[hit]

    dispute_action = pd.Series(
        np.where(in_dispute & (action != RESOLVE_DISPUTE), RESOLVE_DISPUTE, ""), index=idx, dtype="string"
    )
    return pd.DataFrame(
        {
            "next_action": action,
            "action_rule": why,
            "action_rule_id": rule_id,
            "dispute_action": dispute_action,
        }
    )
