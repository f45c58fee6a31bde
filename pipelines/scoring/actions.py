"""Next action per queue row, from collections practice, and the rule that chose it.

Order of precedence for one row:

1. an agreed payment plan that is kept -> ``monitor_plan`` (a broken plan: the rules below, and
   ``action_rule`` says why the plan counts as broken);
2. the whole overdue balance is in dispute -> ``resolve_dispute``;
3. the first configured rule whose conditions all hold (``queue.rules`` / ``recovery.rules``);
   a row with any disputed balance skips ``agency_referral`` rules: a dispute is resolved, never
   referred to an agency;
4. the configured ``default_action``.

A row with a disputed balance and an undisputed overdue part gets the action for the undisputed
part in ``next_action`` and ``resolve_dispute`` in ``dispute_action`` for the disputed part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.config.nightly import ActionRule
from pipelines.ingest.decimals import HALF_UNIT

RESOLVE_DISPUTE = "resolve_dispute"
MONITOR_PLAN = "monitor_plan"
AGENCY = "agency_referral"


# rule field -> (quantity compared, operator, words); the quantities are prepared in choose_actions
CONDITIONS: dict[str, tuple[str, str, str]] = {
    "min_dpd": ("dpd", ">=", "days past due"),
    "max_dpd": ("dpd", "<=", "days past due"),
    "min_pd": ("pd", ">=", "PD"),
    "min_expected_loss": ("expected_loss", ">=", "expected loss"),
    "min_overdue": ("undisputed", ">=", "undisputed overdue"),
    "min_exposure": ("exposure", ">=", "exposure"),
    "max_exposure": ("exposure", "<=", "exposure"),
}


def describe_rule(rule: ActionRule, where: str) -> str:
    """``where`` plus the rule's conditions in words, e.g. ``queue.rules[1]: days past due >= 60``."""
    parts = []
    for field, (_, op, words) in CONDITIONS.items():
        value = getattr(rule, field)
        if value is not None:
            shown = f"{value * 100:g}%" if field == "min_pd" else f"{value:,.0f}"
            parts.append(f"{words} {op} {shown}")
    return f"{where}: {' and '.join(parts) or 'always'}"


def _matches(rule: ActionRule, values: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    match = pd.Series(True, index=index)
    for field, (quantity, op, _) in CONDITIONS.items():
        bound = getattr(rule, field)
        if bound is not None:
            match &= values[quantity] >= bound if op == ">=" else values[quantity] <= bound
    return match.fillna(False).astype(bool)


def choose_actions(
    frame: pd.DataFrame, rules: Sequence[ActionRule], default_action: str, where: str, places: int = 2
) -> pd.DataFrame:
    """``next_action``, ``action_rule`` and ``dispute_action`` per row of ``frame`` (same index).

    ``frame`` needs ``dpd`` (days past due of the oldest overdue invoice), ``pd``,
    ``expected_loss``, ``exposure``, ``overdue_amount``, ``disputed_amount`` (open disputed
    balance, currency) and ``plan`` (text describing a kept payment plan; empty or missing when
    none) and optional ``plan_broken`` (why the debtor's payment plan counts as broken,
    :func:`pipelines.scoring.plans.broken_plans`: appended to ``action_rule``). ``where`` names the
    rule list in ``action_rule`` (e.g. ``queue.rules``). ``places``: the decimals of the reporting
    currency (``pipelines.ingest.decimals.money_places``): an amount below half its smallest unit
    (half a cent; half a fils for KWD) counts as zero.
    """
    half = HALF_UNIT[places]
    idx = frame.index
    dpd = frame["dpd"].astype("float64").fillna(0.0)
    disputed = frame["disputed_amount"].astype("float64").fillna(0.0).clip(lower=0.0)
    overdue = frame["overdue_amount"].astype("float64").fillna(0.0)
    undisputed = (overdue - disputed).clip(lower=0.0)
    in_dispute = disputed > half
    plan = frame["plan"].astype("string").fillna("") if "plan" in frame else pd.Series("", index=idx)

    action = pd.Series(pd.NA, index=idx, dtype="string")
    why = pd.Series(pd.NA, index=idx, dtype="string")

    on_plan = plan != ""
    action[on_plan] = MONITOR_PLAN
    why[on_plan] = "payment plan kept: " + plan[on_plan]

    whole = action.isna() & in_dispute & (undisputed <= half)
    action[whole] = RESOLVE_DISPUTE
    why[whole] = "whole overdue balance in dispute"

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
        text = describe_rule(rule, f"{where}[{i}]")
        action[hit] = rule.action
        why[hit] = text
    rest = action.isna()
    action[rest] = default_action
    why[rest] = "no rule matched: default action"
    why[skipped] = why[skipped] + " (agency referral skipped: balance in dispute)"
    if "plan_broken" in frame:
        broken = frame["plan_broken"].astype("string").fillna("")
        hit = (broken != "") & (action != MONITOR_PLAN)
        why[hit] = why[hit] + "; " + broken[hit]

    dispute_action = pd.Series(
        np.where(in_dispute & (action != RESOLVE_DISPUTE), RESOLVE_DISPUTE, ""), index=idx, dtype="string"
    )
    return pd.DataFrame({"next_action": action, "action_rule": why, "dispute_action": dispute_action})
