"""Risk bands, early-warning deltas against the previous run, and the watchlist triggers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.nightly import NightlyConfig

DEFAULT_BAND = "default"
TRIGGERS: tuple[str, ...] = (
    "threshold",
    "jump",
    "migration",
    "new_entrant",
    "limit_breach",
    "rank",
    "dpd_bucket",
    "event",
)
# the triggers that read no PD: the ones a run without a PD model fires (dpd_bucket and event by default only
# there: triggers.<name>.with_pd_model)
NO_PD_TRIGGERS: tuple[str, ...] = ("limit_breach", "dpd_bucket", "event")
PDLESS_ONLY: tuple[str, ...] = (
    "dpd_bucket",
    "event",
)  # in runs with a PD model only with their with_pd_model
DPD = "dpd_current_max"  # days past due of the oldest overdue open invoice (scores.parquet)
DISPUTED = "open_disputed_amount"
# why the debtor's payment plan counts as broken tonight ("" or missing: none broken;
# pipelines.scoring.plans.broken_plans), and <PLAN_BROKEN>_prev the same in the previous run: for event
PLAN_BROKEN = "plan_broken"
# carried from the previous run as <name>_prev for dpd_bucket and event
NEWS_PREV = (DPD, DISPUTED, PLAN_BROKEN)
AS_OF_PREV = "as_of_prev"  # the previous run's as-of date (event: an event dated after it is news)
EVENT_ON = "event_on"  # the debtor's latest event's date (pipelines.scoring.actions.latest_events), for event
LIMIT_INPUTS = ("open_balance", "credit_limit_current", "credit_limit_recommended")
# True when the debtor has an invoice, a payment or a statement dated on or before the as-of date
# (pipelines.scoring.score.history_mask): the rank trigger's pool leaves the others out
HISTORY = "has_history"
# the manifest's band counts (counts.bands): live debtors without a history (prospects), in no band
NO_HISTORY_BAND = "no_history"
# ... and how the report and the exports name it: such a debtor's band is empty in scores.parquet (score_rows)
NO_BAND_WORDS = "never invoiced: no band"
LIMIT_MEMORY = "limit_over_on"  # the last run's as-of date at which the debtor was over a limit
LEDGER_MEMORY = (
    "limit_over_ledger_on"  # the last month-end within rearm_days the ledger shows over the current limit
)
LIMIT_PREV = (*LIMIT_INPUTS, "credit_need", LIMIT_MEMORY)  # carried from the previous run as <name>_prev
# limit_over_on of the debtors a run did not score (every invoice quarantined, absent from the export)
UNSCORED_MEMORY_FILE = "limit_memory.parquet"


def assign_bands(pd_values: pd.Series, cfg: NightlyConfig) -> pd.Series:
    """Band name per PD (same index). A band holds PD >= its ``min_pd`` up to the next band's."""
    bounds = np.array([b.min_pd for b in cfg.bands])
    names = np.array([b.name for b in cfg.bands], dtype=object)
    idx = np.searchsorted(bounds, pd_values.to_numpy(dtype="float64"), side="right") - 1
    return pd.Series(names[np.clip(idx, 0, len(names) - 1)], index=pd_values.index, dtype="string")


def in_top_share(pd_values: pd.Series, live: pd.Series, share: float, min_pd: float) -> pd.Series:
    """True for the live rows whose PD is among the highest ``share`` of the live rows and at least
    ``min_pd``: rank (highest PD first, ties share their best rank) <= ``share`` x the live count.
    E.g. 10 live debtors, share 0.2: the two highest PDs (and any PD tied with the second)."""
    live = live.astype(bool)
    values = pd_values.astype("float64").where(live)
    rank = values.rank(ascending=False, method="min")
    top = (rank <= share * int(live.sum()) + 1e-9) & (values >= min_pd)
    return (live & top.fillna(False)).astype(bool)


def rank_pool(scored: pd.DataFrame) -> pd.Series:
    """The debtors the rank trigger ranks (its ``top_share``), its ``stay_top_share`` hold and the
    drift of tonight's PDs count: live (not in default) and with an invoice, a payment or a statement
    by the as-of date (:data:`HISTORY`; every live debtor when the frame does not carry it). A debtor
    of the debtors table that was never invoiced (a prospect) has a PD the model read from empty
    features: counting it made the top 10 % larger and listed more ledger debtors (75 prospects added
    to a 150-debtor book: 14 -> 22 on the list, s35-attack). A dormant customer (invoiced years ago,
    nothing open) stays in: its PD is read from its own history."""
    live = ~scored["in_default"].astype(bool)
    if HISTORY not in scored.columns:
        return live
    return live & scored[HISTORY].fillna(True).astype(bool)


def rank_ties(pd_values: pd.Series, live: pd.Series, share: float, min_pd: float) -> dict[str, int] | None:
    """When PDs tied with the last one inside ``share`` make :func:`in_top_share` flag more than
    the share asks for (a model with few distinct PDs, e.g. the roll-rate model of small books):
    ``{"asked": floor(share x live), "flagged": n, "distinct_pds": k}``; else None."""
    flagged = int(in_top_share(pd_values, live, share, min_pd).sum())
    asked = int(np.floor(share * int(live.astype(bool).sum()) + 1e-9))
    if flagged <= max(asked, 1) * 1.5:
        return None
    distinct = int(pd_values.astype("float64")[live.astype(bool)].nunique())
    return {"asked": asked, "flagged": flagged, "distinct_pds": distinct}


def _band_rank(bands: pd.Series, cfg: NightlyConfig) -> pd.Series:
    """0 = safest band; <NA> for in-default or missing bands."""
    order = {b.name: i for i, b in enumerate(cfg.bands)}
    return bands.map(order).astype("Int64")


def compare_with_previous(today: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``pd_prev``, ``band_prev``, ``pd_change`` and ``in_previous`` to today's scores.

    ``today`` and ``previous`` are score frames (``debtor_id``, ``pd``, ``band``, ``in_default``).
    ``previous`` is None on the first run. Debtors in default in the previous run get no
    ``pd_prev`` (their PD was not an early-warning estimate). Returns a new frame, same rows.
    """
    out = today.copy()
    if previous is None or previous.empty:
        out["pd_prev"] = np.nan
        out["band_prev"] = pd.Series(pd.NA, index=out.index, dtype="string")
        out["in_previous"] = False
    else:
        prev = previous[["debtor_id", "pd", "band", "in_default"]].rename(
            columns={"pd": "pd_prev", "band": "band_prev", "in_default": "_prev_default"}
        )
        out = out.merge(prev, on="debtor_id", how="left", validate="one_to_one")
        if set(LIMIT_INPUTS) <= set(previous.columns):  # for limit_breach's "new" test
            cols = [c for c in LIMIT_PREV if c in previous.columns]
            limits = previous[["debtor_id", *cols]].rename(columns={c: f"{c}_prev" for c in cols})
            out = out.merge(limits, on="debtor_id", how="left", validate="one_to_one")
        news = [c for c in NEWS_PREV if c in previous.columns and f"{c}_prev" not in out.columns]
        if news:  # for the dpd_bucket and event triggers
            carried = previous[["debtor_id", *news]].rename(columns={c: f"{c}_prev" for c in news})
            out = out.merge(carried, on="debtor_id", how="left", validate="one_to_one")
        if "as_of" in previous.columns and len(previous):
            out[AS_OF_PREV] = pd.to_datetime(previous["as_of"]).max()
        out["in_previous"] = out["_prev_default"].notna()
        out.loc[out["_prev_default"].fillna(False).astype(bool), "pd_prev"] = np.nan
        out = out.drop(columns="_prev_default")
        out["band_prev"] = out["band_prev"].astype("string")
        out.index = today.index
    out["pd_change"] = out["pd"] - out["pd_prev"]
    return out


def triggers(
    scored: pd.DataFrame, cfg: NightlyConfig, has_previous: bool, no_model: bool = False
) -> pd.DataFrame:
    """Boolean column per trigger (``trigger_<name>``) for the output of :func:`compare_with_previous`.

    Debtors in default never trigger (they go to the collections queue instead), nor do debtors
    with no invoice, payment or statement by the as-of date (:func:`rank_pool`: a prospect of the
    debtors table has nothing to watch; on an unseen-simulator book the model read 279 of 300 such
    prospects as band D-E, "no invoices in the last year", s36-watch). ``new_entrant`` needs a
    previous run: on the first run nobody is "new". ``dpd_bucket`` and ``event`` (:func:`dpd_crossed`,
    :func:`news`) need the previous run too, and fire in a run with a PD model only with their
    ``with_pd_model`` (``no_model``: the run has none, :mod:`pipelines.scoring.nomodel`).
    """
    t = cfg.triggers
    live = rank_pool(scored)  # live, with a history
    rank = _band_rank(scored["band"], cfg)
    rank_prev = _band_rank(scored["band_prev"], cfg)
    pd_now = scored["pd"].astype("float64")
    pd_prev = scored["pd_prev"].astype("float64")
    out = pd.DataFrame(index=scored.index)

    out["trigger_threshold"] = (
        live & t.threshold.enabled & (rank >= cfg.band_index(t.threshold.band)).fillna(False)
    )
    rise = pd_now - pd_prev
    rel = rise / pd_prev.where(pd_prev > 0)
    jump = (rise >= t.jump.abs_min) & ((rel >= t.jump.rel_min) | (pd_prev == 0))
    out["trigger_jump"] = live & t.jump.enabled & jump.fillna(False)
    migrated = (rank - rank_prev >= t.migration.min_notches) & (rank >= cfg.band_index(t.migration.min_band))
    out["trigger_migration"] = live & t.migration.enabled & migrated.fillna(False).astype(bool)
    new = ~scored["in_previous"].astype(bool) & (rank >= cfg.band_index(t.new_entrant.band)).fillna(False)
    out["trigger_new_entrant"] = live & t.new_entrant.enabled & has_previous & new
    if overdue_limit_test(cfg, no_model):  # the overdue amount alone above the limit on file, while it lasts
        breach = overdue_over_limit(scored, cfg)
    else:
        over_current, over_recommended = limit_excess(scored, cfg, material_exposure(scored, cfg))
        breach = over_current | over_recommended
        if t.limit_breach.when == "new":
            breach &= unseen_breach(scored, cfg, has_previous) & ~recent_limit_breach(scored, cfg)
    out["trigger_limit_breach"] = live & t.limit_breach.enabled & breach
    out["trigger_rank"] = t.rank.enabled & in_top_share(pd_now, live, t.rank.top_share, t.rank.min_pd)
    on = t.dpd_bucket.enabled and has_previous and (no_model or t.dpd_bucket.with_pd_model)
    out["trigger_dpd_bucket"] = live & on & dpd_crossed(scored, cfg)
    on = t.event.enabled and has_previous and (no_model or t.event.with_pd_model)
    new_event, disputed, broke = news(scored, t.event.disputes)
    out["trigger_event"] = live & on & (new_event | disputed | broke)
    return out.astype(bool)


def overdue_limit_test(cfg: NightlyConfig, no_model: bool) -> bool:
    """True when ``limit_breach`` reads the overdue amount (:func:`overdue_over_limit`): in a run without a PD
    model with ``triggers.limit_breach.without_pd_model: overdue`` (the default since session 44)."""
    return bool(no_model) and cfg.triggers.limit_breach.without_pd_model == "overdue"


def overdue_over_limit(scored: pd.DataFrame, cfg: NightlyConfig) -> pd.Series:
    """``limit_breach`` in a run without a PD model (:func:`overdue_limit_test`): the overdue amount
    (``overdue_amount``) above the current limit on file (a positive ``credit_limit_current``; 0 or empty is
    "no limit on file") x (1 + ``current_margin``) by more than ``min_excess``, on every run while it lasts.
    The exposure test (open balance above the limit, new after ``rearm_days`` within it) fired on a growing
    customer's fresh invoices and at a precision below the base rate on small books; a debtor whose unpaid
    overdue invoices alone exceed the credit it was given defaulted within 90 days ~10x as often as the book
    (s44-pdless, BENCHMARKS.md). All False without the columns."""
    lb = cfg.triggers.limit_breach
    if not {"overdue_amount", "credit_limit_current"} <= set(scored.columns):
        return pd.Series(False, index=scored.index)
    overdue = pd.to_numeric(scored["overdue_amount"], errors="coerce").astype("float64").fillna(0.0)
    current = pd.to_numeric(scored["credit_limit_current"], errors="coerce").astype("float64")
    over = (current > 0) & (overdue - current * (1 + lb.current_margin) > lb.min_excess)
    return over.fillna(False).astype(bool)


def dpd_bucket(days: pd.Series, cfg: NightlyConfig) -> pd.Series:
    """The bucket of ``days`` past due per row: 0 below the first of ``triggers.dpd_bucket.buckets``,
    i past the i-th (30 -> 1, 60 -> 2, 90 -> 3 with [30, 60, 90]); missing days count as 0."""
    bounds = np.asarray(cfg.triggers.dpd_bucket.buckets, dtype="float64")
    values = pd.to_numeric(days, errors="coerce").fillna(0.0).to_numpy(dtype="float64")
    return pd.Series(np.searchsorted(bounds, values, side="right"), index=days.index)


def dpd_crossed(scored: pd.DataFrame, cfg: NightlyConfig) -> pd.Series:
    """True where the days past due (:data:`DPD`) are in a higher bucket (:func:`dpd_bucket`) than in
    the previous run (``<DPD>_prev``, :func:`compare_with_previous`; a debtor absent from it counts as 0
    days). All False without both columns (a first run, or a previous run without the column). It reads the
    oldest open overdue invoice of any size, also with ``default_definition.min_open_amount`` above 0 (the
    queue's days then leave a rest of at most that out: s43-pdless's rule M to read those was not met)."""
    prev = f"{DPD}_prev"
    if DPD not in scored.columns or prev not in scored.columns:
        return pd.Series(False, index=scored.index)
    return dpd_bucket(scored[DPD], cfg) > dpd_bucket(scored[prev], cfg)


def _said(values: pd.Series) -> pd.Series:
    """True where a text column says something (not missing, not ""); a boolean column as it is."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    return values.astype("string").fillna("").str.strip().str.len().gt(0).astype(bool)


def news(scored: pd.DataFrame, disputes: bool = True) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(an event dated after the previous run's as-of date and by tonight's, an open invoice newly
    disputed, a payment plan broken since the previous run) per row: :data:`EVENT_ON` after
    :data:`AS_OF_PREV`; :data:`DISPUTED` above 0 tonight and 0 in the previous run (or absent from it;
    all False unless ``disputes``: ``triggers.event.disputes``, off by default since session 44);
    :data:`PLAN_BROKEN` said tonight and ``<PLAN_BROKEN>_prev`` not (the plan counted as kept, or was
    not in force, in the previous run: ``pipelines.scoring.plans.plan_news``). All False where the
    columns are missing."""
    none = pd.Series(False, index=scored.index)
    event = none
    if EVENT_ON in scored.columns and AS_OF_PREV in scored.columns:
        on = pd.to_datetime(scored[EVENT_ON])
        upto = pd.to_datetime(scored["as_of"]) if "as_of" in scored.columns else on
        event = ((on > pd.to_datetime(scored[AS_OF_PREV])) & (on <= upto)).fillna(False).astype(bool)
    disputed = none
    prev = f"{DISPUTED}_prev"
    if disputes and DISPUTED in scored.columns and prev in scored.columns:
        now = pd.to_numeric(scored[DISPUTED], errors="coerce").fillna(0.0)
        before = pd.to_numeric(scored[prev], errors="coerce").fillna(0.0)
        disputed = ((now > 0) & (before <= 0)).astype(bool)
    broke = none
    prev = f"{PLAN_BROKEN}_prev"
    if PLAN_BROKEN in scored.columns and prev in scored.columns:
        broke = (_said(scored[PLAN_BROKEN]) & ~_said(scored[prev])).astype(bool)
    return event, disputed, broke


def news_notes(scored: pd.DataFrame, cfg: NightlyConfig, currency: pd.Series | None = None) -> pd.Series:
    """The plain sentence of the ``dpd_bucket`` and ``event`` triggers per row ("" where neither holds),
    e.g. "62 days past due, 45 in the previous run: now past 60", "agency_placement event on 2025-03-12",
    "EUR 1,200 newly disputed". ``currency``: per row (same index) or None."""
    out = pd.Series("", index=scored.index, dtype="object")
    bounds = cfg.triggers.dpd_bucket.buckets
    crossed = dpd_crossed(scored, cfg)
    for i in np.flatnonzero(crossed.to_numpy()):
        row = scored.iloc[i]
        now = float(row[DPD])
        prev = row.get(f"{DPD}_prev")
        prev = 0.0 if pd.isna(prev) else float(prev)
        past = max(b for b in bounds if b <= now)
        out.iloc[i] = f"{now:,.0f} days past due, {prev:,.0f} in the previous run: now past {past}"
    event, disputed, broke = news(scored, cfg.triggers.event.disputes)
    for i in np.flatnonzero((event | disputed | broke).to_numpy()):
        row = scored.iloc[i]
        said = []
        if event.iloc[i]:
            kind = row.get("event")
            said.append(
                f"{kind if isinstance(kind, str) else 'an'} event on {pd.Timestamp(row[EVENT_ON]).date()}"
            )
        if disputed.iloc[i]:
            money = _money(
                pd.Series([row[DISPUTED]]), pd.Series([None if currency is None else currency.iloc[i]])
            )
            said.append(f"{money.iloc[0]} newly disputed")
        if broke.iloc[i]:  # "payment plan broken: 0.00 paid since 2024-05-02 of 500.00 due by ..."
            said.append(str(row[PLAN_BROKEN]))
        out.iloc[i] = "; ".join(x for x in [out.iloc[i], *said] if x)
    return out


def limit_excess(scored: pd.DataFrame, cfg: NightlyConfig, floor: float = 0.0) -> tuple[pd.Series, pd.Series]:
    """The two tests of the ``limit_breach`` trigger per row: exposure (``open_balance``) above the
    current limit x (1 + current_margin) (only a positive ``credit_limit_current`` counts: 0 or empty
    is "no limit on file"), and above ``credit_limit_recommended`` x (1 + margin) where the debtor
    has a need (``credit_need`` > 0: a recommendation of 0 for want of recent invoices is no basis to
    flag); each by more than ``min_excess``; the second only for an exposure of at least ``floor``
    (the trigger's materiality floor, :func:`material_exposure`; the memory of breaches, which
    decides whether tonight's is new, reads every breach: the floor only takes entries off the list).
    Both False when the scores carry no credit limits
    (``pipelines.scoring.limits``)."""
    lb = cfg.triggers.limit_breach
    if not set(LIMIT_INPUTS) <= set(scored.columns):
        no = pd.Series(False, index=scored.index)
        return no, no
    exposure = scored["open_balance"].astype("float64").fillna(0.0)
    current = scored["credit_limit_current"].astype("float64")
    recommended = scored["credit_limit_recommended"].astype("float64")
    has_need = scored["credit_need"].astype("float64") > 0 if "credit_need" in scored else True
    over_current = (current > 0) & (exposure - current * (1 + lb.current_margin) > lb.min_excess)
    over_recommended = has_need & (exposure - recommended * (1 + lb.margin) > lb.min_excess)
    over_recommended &= exposure >= floor
    return over_current.fillna(False).astype(bool), over_recommended.fillna(False).astype(bool)


def material_exposure(scored: pd.DataFrame, cfg: NightlyConfig) -> float:
    """The smallest exposure the recommended-limit test of ``limit_breach`` flags tonight: the larger
    of ``min_exposure`` and ``min_exposure_share`` x the median open balance of the live debtors of
    ``scored`` with an open balance (0 when there are none)."""
    lb = cfg.triggers.limit_breach
    floor = float(lb.min_exposure)
    if lb.min_exposure_share > 0 and len(scored) and "open_balance" in scored.columns:
        live = ~scored["in_default"].astype(bool) if "in_default" in scored else True
        balance = scored["open_balance"].astype("float64")
        open_ = balance[live & (balance > 0)]
        if len(open_):
            floor = max(floor, float(lb.min_exposure_share) * float(open_.median()))
    return floor


def unseen_breach(scored: pd.DataFrame, cfg: NightlyConfig, has_previous: bool) -> pd.Series:
    """``when: new``'s test against the previous run alone: True where there is a previous run with
    limits (else no basis to call a breach new: all False) and the debtor was not over a limit in it
    (:func:`previous_limit_breach`)."""
    known = has_previous and {f"{c}_prev" for c in LIMIT_INPUTS} <= set(scored.columns)
    return known & ~previous_limit_breach(scored, cfg)


def ledger_candidates(scored: pd.DataFrame, cfg: NightlyConfig, has_previous: bool) -> pd.Series:
    """The debtors whose ``limit_breach`` flag tonight :data:`LEDGER_MEMORY` can decide, so the only
    ones whose ledger :func:`ledger_memory` needs to read: live, over a limit tonight, within them in
    the previous run (:func:`unseen_breach`) and with no run memory (``limit_over_on``) within
    ``rearm_days``. All False unless limit_breach is on with ``when: new`` and month-ends to read
    (:func:`rearm_month_ends`). Every other debtor's flag is the same whatever the ledger says."""
    no = pd.Series(False, index=scored.index)
    if not len(scored) or not rearm_month_ends(scored["as_of"].iloc[0], cfg):
        return no
    over_current, over_recommended = limit_excess(scored, cfg)
    live = ~scored["in_default"].astype(bool)
    runs = recent_limit_breach(scored, cfg, (f"{LIMIT_MEMORY}_prev",))
    return (
        live & (over_current | over_recommended) & unseen_breach(scored, cfg, has_previous) & ~runs
    ).astype(bool)


def previous_limit_breach(scored: pd.DataFrame, cfg: NightlyConfig) -> pd.Series:
    """True where the debtor was already over a limit in the previous run (the ``<name>_prev``
    columns of :func:`compare_with_previous`, judged by today's rule). False on a first run, for a
    debtor absent from the previous run, and when the previous run carried no limits."""
    names = [c for c in LIMIT_PREV if f"{c}_prev" in scored.columns]
    if not set(LIMIT_INPUTS) <= set(names):
        return pd.Series(False, index=scored.index)
    before = scored[[f"{c}_prev" for c in names]].rename(columns={f"{c}_prev": c for c in names})
    over_current, over_recommended = limit_excess(before, cfg)
    return over_current | over_recommended


def recent_limit_breach(
    scored: pd.DataFrame,
    cfg: NightlyConfig,
    columns: tuple[str, ...] = (f"{LIMIT_MEMORY}_prev", LEDGER_MEMORY),
) -> pd.Series:
    """True where the previous run's ``limit_over_on`` (the last run at which the debtor was over a
    limit) or :data:`LEDGER_MEMORY` (the last month-end at which the ledger shows its open balance over
    its current limit, :func:`rearm_month_ends`) lies at most ``triggers.limit_breach.rearm_days`` days
    before tonight's ``as_of``: a debtor going in and out of breach stays in the same breach, flagged
    once, from the first pair of runs on. False with ``rearm_days`` 0, without ``as_of``, and where
    neither date is known (a previous run written before ``limit_over_on``, a debtor never over).
    ``columns``: the dates read (default both)."""
    days = cfg.triggers.limit_breach.rearm_days
    recent = pd.Series(False, index=scored.index)
    if not days or "as_of" not in scored.columns:
        return recent
    for column in columns:
        if column in scored.columns:
            age = (pd.to_datetime(scored["as_of"]) - pd.to_datetime(scored[column])).dt.days
            recent |= (age <= days).fillna(False).astype(bool)
    return recent


def rearm_month_ends(as_of: object, cfg: NightlyConfig) -> list[pd.Timestamp]:
    """The month-ends before ``as_of`` and at most ``triggers.limit_breach.rearm_days`` days before it,
    at which the ledger is read for :data:`LEDGER_MEMORY` (``features.portfolio.over_limit_on``);
    none unless limit_breach is on with ``when: new`` and ``rearm_days`` > 0."""
    lb = cfg.triggers.limit_breach
    if not (lb.enabled and lb.when == "new" and lb.rearm_days):
        return []
    day = pd.Timestamp(as_of).normalize()
    ends = pd.date_range(day - pd.Timedelta(days=lb.rearm_days), day, freq="ME")
    return [t for t in ends if t < day]


def limit_over_on(scored: pd.DataFrame, cfg: NightlyConfig) -> pd.Series:
    """``limit_over_on`` per row of :func:`compare_with_previous`'s output with the credit limits: the
    as-of date when a live debtor is over a limit tonight (:func:`limit_excess`), else the previous run's
    date (``limit_over_on_prev``; NaT when it had none). Written to scores.parquet, so that the next
    run can tell a breach that comes back within ``rearm_days`` from a new one."""
    as_of = pd.to_datetime(scored["as_of"]).astype("datetime64[ns]")
    before = pd.Series(pd.NaT, index=scored.index, dtype="datetime64[ns]")
    if f"{LIMIT_MEMORY}_prev" in scored.columns:
        before = pd.to_datetime(scored[f"{LIMIT_MEMORY}_prev"]).astype("datetime64[ns]")
    over_current, over_recommended = limit_excess(scored, cfg)
    over = (over_current | over_recommended) & ~scored["in_default"].astype(bool)
    return as_of.where(over, before).rename(LIMIT_MEMORY)


def unscored_limit_memory(
    previous: pd.DataFrame | None, carried: pd.DataFrame | None, scored: pd.DataFrame, cfg: NightlyConfig
) -> pd.DataFrame:
    """``debtor_id`` and ``limit_over_on`` of the debtors missing from tonight's ``scored`` whose last
    night over a limit lies within ``rearm_days`` of tonight's as-of, from the previous run's scores or
    from what it carried itself (:data:`UNSCORED_MEMORY_FILE`, same columns); sorted by debtor_id. A
    run writes it beside scores.parquet, so a debtor left out for a night (every invoice quarantined,
    absent from an export) keeps its breach's memory (:func:`with_unscored_memory`). Empty with
    ``rearm_days`` 0."""
    out = pd.DataFrame(
        {"debtor_id": pd.Series([], dtype="string"), LIMIT_MEMORY: pd.Series([], dtype="datetime64[ns]")}
    )
    frames = [
        f[["debtor_id", LIMIT_MEMORY]] for f in (previous, carried) if f is not None and LIMIT_MEMORY in f
    ]
    if not frames or not cfg.triggers.limit_breach.rearm_days or not len(scored):
        return out
    both = pd.concat([out, *frames], ignore_index=True).astype(out.dtypes.to_dict())
    age = (pd.Timestamp(scored["as_of"].iloc[0]) - both[LIMIT_MEMORY]).dt.days
    gone = ~both["debtor_id"].isin(scored["debtor_id"].astype("string"))
    both = both.loc[gone & (age <= cfg.triggers.limit_breach.rearm_days).fillna(False).astype(bool)]
    both = both.sort_values(["debtor_id", LIMIT_MEMORY], kind="stable").drop_duplicates(
        "debtor_id", keep="last"
    )
    return both.reset_index(drop=True)


def with_unscored_memory(scored: pd.DataFrame, carried: pd.DataFrame | None) -> pd.DataFrame:
    """``scored`` (:func:`compare_with_previous`'s output) with ``limit_over_on_prev`` taken from
    ``carried`` (the previous run's :data:`UNSCORED_MEMORY_FILE`) for the debtors it does not know:
    a debtor the previous run did not score keeps the memory of its breach (s33-limit: it was lost,
    and its breach counted as new again the night it came back)."""
    if carried is None or not len(carried):
        return scored
    column = f"{LIMIT_MEMORY}_prev"
    dates = carried.set_index(carried["debtor_id"].astype("string"))[LIMIT_MEMORY]
    back = pd.to_datetime(dates.reindex(pd.Index(scored["debtor_id"].astype("string")))).to_numpy(
        "datetime64[ns]"
    )
    if column not in scored.columns:
        return scored.assign(**{column: back})
    before = pd.to_datetime(scored[column]).to_numpy("datetime64[ns]")
    return scored.assign(**{column: np.where(np.isnat(before), back, before)})


def ledger_memory(
    ledger: Any, as_of: object, cfg: NightlyConfig, statements: pd.DataFrame | None = None
) -> pd.Series:
    """:data:`LEDGER_MEMORY` of every debtor of a prepared ledger (``features.ledger.prepare_ledger``):
    the last of :func:`rearm_month_ends` at which its open balance was over its current limit
    (``features.portfolio.over_limit_days`` with ``current_margin`` and ``min_excess``), NaT where none
    (index debtor_id). The nightly reads it for :func:`ledger_candidates` only (:func:`book_ledger_memory`).
    ``statements``: the statements of the debtors read, whose latest statement's balance is the open balance
    of a statements book and adds to the open invoices in a book with both
    (``features.portfolio.statement_over_limit_days``)."""
    return ledger_memories(ledger, [pd.Timestamp(as_of)], cfg, statements)[0]


def ledger_memories(
    ledger: Any, dates: list[pd.Timestamp], cfg: NightlyConfig, statements: pd.DataFrame | None = None
) -> list[pd.Series]:
    """:func:`ledger_memory` as of each of ``dates`` (one Series each, in that order), from one walk
    of the ledger over all their month-ends: ``ews backtest`` replays the nightly at many month-ends
    (``pipelines.backtest``)."""
    from features.ledger import day_number
    from features.portfolio import over_limit_days, statement_over_limit_days

    lb = cfg.triggers.limit_breach
    ends = [rearm_month_ends(T, cfg) for T in dates]
    union = sorted({t for each in ends for t in each})
    days = [int(day_number(t)) for t in union]
    if statements is not None:
        over = statement_over_limit_days(ledger, statements, days, lb.current_margin, lb.min_excess)
    else:
        over = over_limit_days(ledger, days, lb.current_margin, lb.min_excess)
    column = {t: j for j, t in enumerate(union)}
    ids = pd.Index(ledger.debtor_ids, dtype="string", name="debtor_id")
    out = []
    for each in ends:
        last = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
        for t in each:  # ascending: the last month-end over the limit wins
            last[over[:, column[t]]] = np.datetime64(t.to_datetime64(), "ns")
        out.append(pd.Series(last, index=ids, name=LEDGER_MEMORY))
    return out


def book_ledger_memory(
    book: Any, scored: pd.DataFrame, cfg: NightlyConfig, has_previous: bool
) -> pd.Series | None:
    """:func:`ledger_memory` of :func:`ledger_candidates` only, from their rows of ``book``
    (``pipelines.engine.Book.read_debtors``: invoices, payments, the debtors table and debtor_history);
    None when there is none. Every other debtor's flag is the same whatever its ledger says, so a
    nightly reads a few debtors' rows, not the month-ends of the whole book (s33-limit)."""
    ids = scored.loc[ledger_candidates(scored, cfg, has_previous).to_numpy(), "debtor_id"].astype("string")
    if not len(ids):
        return None
    from features.ledger import prepare_ledger

    tables = ("invoices", "payments", "statements", "debtors", "debtor_history")
    part = book.read_debtors(pd.Index(ids), tables)
    invoices = part.invoices is not None and not part.invoices.empty
    statements = part.statements if part.statements is not None and not part.statements.empty else None
    if not invoices and statements is None:
        return None
    # a statements book: the balance of the latest statement at each month-end (s34-walk); a book with both:
    # the open invoices plus that balance (before session 40 the invoices alone whenever the debtors read
    # held one: a statement account's breach read as new every time)
    return ledger_memory(prepare_ledger(part), scored["as_of"].iloc[0], cfg, statements=statements)


@dataclass(frozen=True)
class LedgerAsk:
    """What each scoring bucket needs to find :func:`ledger_candidates` itself and read their
    month-ends from the rows it holds (:func:`bucket_ledger_memory`), so that the nightly reads no
    debtor's rows a second time (s34-btlimit: the read cost about 13 CPU-s at 1M debtors whatever
    the candidates, and after a month without runs more than the walk it saved). ``previous`` and
    ``carried``: the previous run's scores and its :data:`UNSCORED_MEMORY_FILE`, one frame (or None)
    per debtor bucket (``pipelines.adapters.files.bucket_codes``); ``policy`` and ``currency``: the
    credit policy and the reporting currency tonight's limits are computed with; ``no_model``: a run
    without a PD model (``pipelines.scoring.nomodel``), whose limits are the ones on file
    (``pipelines.scoring.limits.current_limits_only``)."""

    previous: tuple[pd.DataFrame, ...]
    carried: tuple[pd.DataFrame | None, ...]
    policy: Any
    currency: str | None
    no_model: bool = False


def ledger_ask(
    previous: pd.DataFrame | None,
    carried: pd.DataFrame | None,
    buckets: int,
    policy: Any,
    currency: str | None,
    as_of: object,
    cfg: NightlyConfig,
) -> LedgerAsk | None:
    """The :class:`LedgerAsk` of tonight's run; None when no debtor's flag can need the ledger (no
    previous run, no month-end to read: :func:`rearm_month_ends`) or the currency is not known
    before scoring (the nightly then reads the candidates' rows after it, :func:`book_ledger_memory`)."""
    if previous is None or not currency or not rearm_month_ends(as_of, cfg):
        return None
    from pipelines.adapters.files import bucket_codes

    def split(frame: pd.DataFrame | None) -> tuple[pd.DataFrame | None, ...]:
        if frame is None:
            return (None,) * buckets
        code = bucket_codes(frame["debtor_id"].astype("string"), buckets)
        return tuple(frame.loc[code == k].reset_index(drop=True) for k in range(buckets))

    kept = previous[["debtor_id", *[c for c in (*LIMIT_PREV, "pd", "band", "in_default") if c in previous]]]
    return LedgerAsk(split(kept), split(carried), policy, currency)  # type: ignore[arg-type]


def bucket_ledger_memory(
    part: Any, scores: pd.DataFrame, k: int, ask: LedgerAsk, cfg: NightlyConfig
) -> tuple[pd.Index, pd.Series | None]:
    """(the debtors of bucket ``k`` that :func:`ledger_candidates` names tonight, their
    :func:`ledger_memory` or None when there is none) from the bucket's own rows ``part``: its
    ``scores`` (``pipelines.scoring.score.score_rows``) compared with the previous run, with
    tonight's credit limits (``pipelines.scoring.limits.add_credit_limits``, the attributes valid
    on the as-of date: ``features.master.debtors_at``) and the carried memory, as the nightly's
    credit-limit step builds them for the whole book."""
    from features.master import debtors_at
    from pipelines.engine import Book
    from pipelines.scoring.limits import run_limits

    as_of = scores["as_of"].iloc[0]
    scored = compare_with_previous(scores, ask.previous[k])
    debtors = debtors_at(part.debtors, part.debtor_history, as_of)
    # the nightly's credit-limit step (with or without a PD model)
    scored = run_limits(scored, debtors, ask.previous[k], ask.policy, ask.currency, ask.no_model)
    scored = with_unscored_memory(scored, ask.carried[k])
    ids = pd.Index(scored.loc[ledger_candidates(scored, cfg, True).to_numpy(), "debtor_id"].astype("string"))
    return ids, book_ledger_memory(Book(buckets=1, frames=part), scored, cfg, True)


def scored_ledger_memory(
    found: tuple[pd.Index, pd.Series | None] | None,
    book: Any,
    scored: pd.DataFrame,
    cfg: NightlyConfig,
    has_previous: bool,
) -> pd.Series | None:
    """:func:`ledger_memory` of tonight's :func:`ledger_candidates` of ``scored``: from what the
    scoring buckets read (``found``: the debtors they named and their memory, :func:`bucket_ledger_memory`
    combined), reading from ``book`` only the candidates they did not name (none when they asked
    what the nightly asks; every candidate when ``found`` is None: :func:`book_ledger_memory`)."""
    if found is None:
        return book_ledger_memory(book, scored, cfg, has_previous)
    named, over = found
    wanted = ledger_candidates(scored, cfg, has_previous).to_numpy()
    ids = scored["debtor_id"].astype("string")
    missing = wanted & ~ids.isin(named).to_numpy()
    parts = [] if over is None else [over.reindex(pd.Index(ids[wanted & ~missing]))]
    if missing.any():
        read = book_ledger_memory(book, scored.loc[missing], cfg, has_previous)
        if read is not None:
            parts.append(read)
    return pd.concat(parts) if parts else None


def with_ledger_memory(scored: pd.DataFrame, over: pd.Series | None) -> pd.DataFrame:
    """``scored`` with :data:`LEDGER_MEMORY` per debtor from ``over`` (index debtor_id:
    :func:`ledger_memory`'s dates; NaT for a debtor it does not hold, and for every debtor when
    ``over`` is None: no ledger read)."""
    if over is None:
        over = pd.Series([], index=pd.Index([], dtype="string"), dtype="datetime64[ns]")
    dates = over.reindex(pd.Index(scored["debtor_id"].astype("string"))).to_numpy(dtype="datetime64[ns]")
    return scored.assign(**{LEDGER_MEMORY: dates})


def _money(values: pd.Series, currency: pd.Series) -> pd.Series:
    amount = values.map(lambda v: f"{v:,.0f}").astype("string")
    code = currency.astype("string").fillna("")
    return (code + " ").where(code != "", "") + amount


def limit_notes(
    scored: pd.DataFrame,
    cfg: NightlyConfig,
    currency: pd.Series | None = None,
    floor: float | None = None,
    no_model: bool = False,
) -> pd.Series:
    """The plain sentence of the ``limit_breach`` trigger per row ("" where it does not fire), e.g.
    "exposure EUR 12,500 is above the current credit limit of EUR 10,000". ``currency``: the
    currency per row (same index), or None; ``floor``: the night's materiality floor
    (:func:`material_exposure` of the whole book; None: of ``scored``). ``no_model``: a run without a PD model,
    whose test is the overdue amount's (:func:`overdue_limit_test`): "overdue EUR 12,500 is above the current
    credit limit of EUR 10,000 (exposure EUR 30,000)"."""
    notes = pd.Series("", index=scored.index, dtype="string")
    if overdue_limit_test(cfg, no_model):
        hit = overdue_over_limit(scored, cfg)
        if not hit.any():
            return notes
        rows = scored.loc[hit]
        code = currency.reindex(rows.index) if currency is not None else pd.Series(pd.NA, index=rows.index)
        overdue = _money(rows["overdue_amount"].astype("float64"), code)
        current = _money(rows["credit_limit_current"].astype("float64"), code)
        exposure = _money(rows["open_balance"].astype("float64").fillna(0.0), code)
        above = " is above the current credit limit of "
        if cfg.triggers.limit_breach.current_margin:
            above = f" is more than {cfg.triggers.limit_breach.current_margin * 100:g} % above the current credit limit of "
        notes.loc[hit] = "overdue " + overdue + above + current + " (exposure " + exposure + ")"
        return notes
    over_current, over_recommended = limit_excess(
        scored, cfg, material_exposure(scored, cfg) if floor is None else floor
    )
    hit = over_current | over_recommended
    if not hit.any():
        return notes
    rows = scored.loc[hit]
    code = currency.reindex(rows.index) if currency is not None else pd.Series(pd.NA, index=rows.index)
    exposure = _money(rows["open_balance"].astype("float64"), code)
    current = _money(rows["credit_limit_current"].astype("float64").fillna(0.0), code)
    recommended = _money(rows["credit_limit_recommended"].astype("float64"), code)
    margin = f"{cfg.triggers.limit_breach.margin * 100:g} %"
    above_current = "exposure " + exposure + " is above the current credit limit of " + current
    if cfg.triggers.limit_breach.current_margin:
        extra = f"{cfg.triggers.limit_breach.current_margin * 100:g} %"
        above_current = (
            "exposure "
            + exposure
            + " is more than "
            + extra
            + " above the current credit limit of "
            + current
        )
    above_rec = (
        "exposure " + exposure + " is more than " + margin + " above the recommended limit of " + recommended
    )
    both = above_current + " and more than " + margin + " above the recommended limit of " + recommended
    oc, orec = over_current.loc[hit], over_recommended.loc[hit]
    notes.loc[hit] = both.where(oc & orec, above_current.where(oc, above_rec))
    return notes


def debtor_currency(invoices: pd.DataFrame | None, debtor_ids: pd.Index) -> pd.Series:
    """ISO-4217 code per debtor of ``debtor_ids``: the currency of most of its invoices (ties: the
    alphabetically first); missing when the invoices carry no currency."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pd.Series(pd.NA, index=debtor_ids, dtype="object")
    if invoices is None or "currency" not in invoices.columns or len(debtor_ids) == 0:
        return out
    pairs = pa.table(
        {
            "debtor_id": pa.array(invoices["debtor_id"].astype("string"), from_pandas=True),
            "currency": pa.array(invoices["currency"].astype("string"), from_pandas=True),
        }
    )
    wanted = pa.array(pd.Series(debtor_ids, dtype="string"), from_pandas=True)
    pairs = pairs.filter(
        pc.and_(pc.is_in(pairs["debtor_id"], value_set=wanted), pc.is_valid(pairs["currency"]))
    )
    counts = pairs.group_by(["debtor_id", "currency"]).aggregate([([], "count_all")])
    counts = counts.sort_by(
        [("debtor_id", "ascending"), ("count_all", "descending"), ("currency", "ascending")]
    )
    d = counts["debtor_id"].to_numpy(zero_copy_only=False)
    first = np.r_[True, d[1:] != d[:-1]] if len(d) else np.zeros(0, dtype=bool)
    top = pd.Series(counts["currency"].to_numpy(zero_copy_only=False)[first], index=d[first], dtype="string")
    return top.reindex(debtor_ids).astype("object").where(lambda s: s.notna(), None)


def trigger_labels(flags: pd.DataFrame) -> pd.Series:
    """Comma-separated names of the triggers that fired per row ("" when none)."""
    label = pd.Series("", index=flags.index, dtype="string")
    for name in TRIGGERS:
        hit = flags[f"trigger_{name}"]
        label = label.where(~hit, label.where(label == "", label + ", ") + name)
    return label


def build_watchlist(
    scored: pd.DataFrame,
    flags: pd.DataFrame,
    reasons: pd.DataFrame,
    reason_columns: list[str],
    cfg: NightlyConfig | None = None,
    currency: pd.Series | None = None,
    reporting: str | None = None,
    no_model: bool = False,
) -> pd.DataFrame:
    """The flagged debtors, highest PD first, with triggers, deltas, exposure and reasons.

    ``scored``: output of :func:`compare_with_previous` plus ``name``, ``open_balance`` and
    ``overdue_amount``; ``flags``: output of :func:`triggers`; ``reasons``: indexed by debtor_id,
    columns ``reason_columns`` (from ``models.reasons.reasons_wide``). With ``cfg`` and the credit
    limits in ``scored``: ``limit_note``, the plain sentence of the ``limit_breach`` trigger
    (:func:`limit_notes`; ``currency``: per debtor_id, or None; ``no_model``: a run without a PD model, whose
    ``limit_breach`` reads the overdue amount). ``currency`` column: the currency of
    every amount of the row, ``reporting`` (ingest's reporting currency; "" when unknown), as the
    queues carry it (before session 27 the watchlist's amounts had no currency).
    """
    flagged = flags.any(axis=1)
    wl = scored.loc[flagged].copy()
    wl["triggers"] = trigger_labels(flags.loc[flagged])
    wl["currency"] = pd.Series(reporting or "", index=wl.index, dtype="string")
    if cfg is not None and "trigger_limit_breach" in flags.columns and set(LIMIT_INPUTS) <= set(wl.columns):
        per_row = None if currency is None else currency.reindex(wl["debtor_id"]).set_axis(wl.index)
        if (
            reporting
        ):  # a debtor without invoices (a statements book): its amounts are the reporting currency's
            known = pd.Series(reporting, index=wl.index, dtype="string")
            per_row = known if per_row is None else per_row.astype("string").fillna(reporting)
        floor = material_exposure(scored, cfg)  # the whole night's, not the list's
        wl["limit_note"] = limit_notes(wl, cfg, per_row, floor, no_model).where(
            flags.loc[flagged, "trigger_limit_breach"], ""
        )
    news_on = [c for c in ("trigger_dpd_bucket", "trigger_event") if c in flags.columns]
    if cfg is not None and news_on:  # the sentence of the dpd_bucket and event triggers
        fired = flags.loc[flagged, news_on].any(axis=1)
        codes = None if currency is None else currency.reindex(wl["debtor_id"]).set_axis(wl.index)
        if reporting:
            codes = pd.Series(reporting, index=wl.index, dtype="string")  # the watchlist's amounts' currency
        wl["news_note"] = news_notes(wl, cfg, codes).where(fired, "")
    for col in flags.columns:
        wl[col] = flags.loc[flagged, col]
    reasons = reasons.reindex(columns=reason_columns)
    if reasons.empty:  # nobody flagged (e.g. every debtor in default): no reasons, RangeIndex
        reasons.index = pd.Index([], dtype=scored["debtor_id"].dtype)
    wl = wl.join(reasons, on="debtor_id")
    for col in reason_columns:
        wl[col] = wl[col].astype("string").fillna("")
    cols = [
        "as_of",
        "debtor_id",
        "name",
        "segment",
        "currency",
        "pd",
        "pd_prev",
        "pd_change",
        "band_prev",
        "band",
        "triggers",
        "limit_note",
        "news_note",
        *reason_columns,
        "open_balance",
        "overdue_amount",
        "credit_limit_current",
        "credit_limit_recommended",
        *flags.columns,
    ]
    wl = wl[[c for c in cols if c in wl.columns]]
    return wl.sort_values(["pd", "debtor_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
