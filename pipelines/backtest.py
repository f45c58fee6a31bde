"""``ews backtest``: replay the nightly scoring on past month-ends and measure the queue and watchlist.

For every month-end T from ``--from`` to ``--to`` the replay builds the features as of T (rows dated
<= T only, as the nightly), scores the live debtors with one registered model version, applies the
watchlist triggers of the nightly config against the previous month-end (``limit_breach`` too, with
the credit limits valid at T and the breach memory carried from month-end to month-end:
:func:`panel_limits`, :func:`flag_panel`), and ranks the **live
collections queue** (overdue and not in default at T) as the nightly does: by priority = expected
loss (PD x exposure x LGD) x (1 + days past due / ``queue.dpd_weight_days``).
The outcome at T is the nightly's label: a first default in (T, T + horizon].

Figures (pooled over the month-ends whose horizon is fully observed; per month in ``months``):

- ``queue_capture_top20``: of the exposure at T of the queue's debtors that defaulted within the
  horizon, the share held by the top 20 % of the queue (by count, rounded up) in the queue's
  order (priority, then expected loss). ``dpd_capture_top20``: the same queue in days-past-due order (oldest overdue invoice,
  ties by overdue amount), ``balance_capture_top20``: by open balance, and with a generator truth
  file ``oracle_capture_top20``: by true PD x exposure (the ceiling).
- ``watchlist_precision``: share of the live debtors flagged at T that defaulted within the
  horizon; ``watchlist_recall``: share of the live debtors that defaulted within the horizon and
  were flagged at T (debtor-months).
- ``lead_time_median_days``: for each default, the days from the first month-end of the unbroken
  run of flags that ends at the last month-end before it, to the default date; median over the
  defaults flagged at that last month-end (``lead_time_flagged_share``: how many of them were).
  Runs start at ``--from`` at the earliest, so long lead times are cut at the backtest's start.
  ``lead_time_episode_median_days``: the same with gaps tolerated: the episode open at the
  default (a flag at one of the last ``EPISODE_GAP_MONTHS`` + 1 month-ends before it) walked back
  over flagged month-ends and over at most ``EPISODE_GAP_MONTHS`` (1) unflagged month-ends in a
  row; median over the defaults with such an episode (``lead_time_episode_share``).
  ``lead_time_reachable_median_days``: the strict one over the defaults at least
  ``LEAD_TARGET_DAYS`` (60) days after the first replayed month-end their debtor was live at
  (``defaults_reachable_for_lead_time``; ``lead_time_reachable_share`` flagged at the last month-end):
  a default sooner cannot show 60 days in the replay (on short replays of contagion books 13 of 54
  and 36 of 115, s38-lead), a nightly that has run for months can.
  ``lead_time_first_flag_median_days``: from the first flag in the 365 days before the default,
  unbroken or not (median over the defaults flagged at all in that year: ``..._share``).
  All four are reported side by side; the target (60 days) is read on the strict one.
- ``watchlist_list_share``: flagged live debtor-months / live debtor-months (the list's size).
- ``list_sizes``: the same watchlist figures for lists of chosen sizes (:data:`LIST_SHARES`, ``ews
  backtest --list-shares``), re-flagged on the same PDs (:func:`list_size_figures`): for each share s
  the rank trigger at top s (held while in the top s x ``stay_top_share`` / ``top_share``, as
  configured) alone (``rule: rank``: the list a team sizes with ``triggers.rank.top_share``, the
  absolute triggers off) and beside the config's other triggers (``rule: rules``). A team reads its
  precision, recall and lead time at each size from its own history and sets ``triggers.rank``.

Leakage: a version tagged ``ews.trained_through`` S learned labels observed up to S + horizon.
Month-ends before that date are **in-sample** (the model saw what happened after them); the
output says so and names the cut a leak-free model needs (``snapshots.end`` in a train config).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from features.params import DefaultDefinition, FeatureParams
from features.tables import Portfolio
from pipelines.config.nightly import NightlyConfig
from pipelines.words import counted

__all__ = [
    "BacktestResult",
    "backtest_figures",
    "leakage",
    "list_size_figures",
    "model_scorer",
    "replay",
    "write_backtest",
]

TOP_SHARE = 0.2
LIST_SHARES = (0.02, 0.05, 0.10, 0.20)
"""The list sizes (shares of the live debtors) ``list_sizes`` reports by default."""
ABSOLUTE_TRIGGERS = ("threshold", "jump", "migration", "new_entrant", "limit_breach")
ORDERS = ("queue", "dpd", "balance", "oracle")

# PD per live debtor (index debtor_id) from the features as of one date (one row per debtor)
Scorer = Callable[[pd.DataFrame], pd.Series]


def model_scorer(loaded: Any, cfg: NightlyConfig) -> Scorer:
    """The nightly's scoring (:func:`pipelines.scoring.score.score_debtors`) with a loaded version."""
    from pipelines.adapters.registry import prepare_X
    from pipelines.scoring.score import score_debtors

    def score(live: pd.DataFrame) -> pd.Series:
        no_default = pd.Series(False, index=pd.Index(live["debtor_id"].astype("string")))
        scores, _ = score_debtors(live, no_default, None, loaded, prepare_X, cfg)
        return scores.set_index("debtor_id")["pd"]

    return score


def replay(
    portfolio: Portfolio,
    dates: Sequence[pd.Timestamp],
    score: Scorer,
    cfg: NightlyConfig,
    definition: DefaultDefinition,
    rows_per_partition: int = 4_000_000,
    extra: Sequence[str] = (),
    policy: Any = None,
    currency: str | None = None,
    no_model: bool = False,
) -> pd.DataFrame:
    """The nightly as of each of ``dates`` (ascending): one row per (as_of, debtor existing then).

    Columns: ``as_of``, ``debtor_id``, ``segment``, ``in_default``, ``pd`` (1.0 in default),
    ``band``, ``flagged`` (any trigger of ``cfg`` against the previous date, or kept on the list by
    ``cfg.watchlist.stay_days`` after its last trigger, as the nightly does), ``open_balance``,
    ``overdue_amount``, ``dpd`` (days past due of the oldest overdue open invoice), ``label``,
    ``first_default_date``, ``horizon_observed`` (the labels of ``features.engine.build_bucket``).
    Built debtor bucket by debtor bucket (about ``rows_per_partition`` ledger rows each), features
    and labels from one prepared ledger per bucket. ``extra``: feature columns carried as they are
    (to study other ranking keys on the same rows, ``benchmarks/queue_ranking.py``).

    ``policy`` (``pipelines.config.credit.load_credit_policy``): also the nightly's credit limits at
    each date (:func:`panel_limits`: the limits valid then, ``debtor_history`` else the debtors
    table; ``currency``: the reporting currency they are rounded in) and ``limit_over_ledger_on``
    (``pipelines.scoring.watchlist.ledger_memories``, one walk of each bucket's ledger), so that
    ``flagged`` includes the ``limit_breach`` trigger as the nightly fires it (before session 34 the
    backtest's watchlist left it out). None: no limits, ``limit_breach`` never fires.

    ``no_model``: the nightly without a PD model (:mod:`pipelines.scoring.nomodel`; ``score`` is not
    called): ``pd`` empty for the live debtors, ``band`` empty but ``default``, and the watchlist's
    triggers those of such a run (``limit_breach``, ``dpd_bucket``, ``event``). The rows also carry what
    ``dpd_bucket`` and ``event`` read: ``dpd_current_max``, ``open_disputed_amount``, the latest event
    known at T (``event``, ``event_on``: ``pipelines.scoring.actions.latest_events``) and ``plan_broken``
    (why the debtor's payment plan counts as broken at T: ``pipelines.scoring.plans.broken_plans`` of the
    ``payment_plans`` table against the payments; the previous month-end's is the one checked then), and
    each trigger's own flag (``trigger_<name>``, fired at T, before the list's holds).

    Runs with one BLAS thread (:func:`pipelines.runtime.one_blas_thread`), whoever calls it: the
    roll-rate model's PDs are matrix products, summed in another order on more threads."""
    from pipelines.runtime import one_blas_thread

    with one_blas_thread():
        return _replay(
            portfolio, dates, score, cfg, definition, rows_per_partition, extra, policy, currency, no_model
        )


def _replay(
    portfolio: Portfolio,
    dates: Sequence[pd.Timestamp],
    score: Scorer,
    cfg: NightlyConfig,
    definition: DefaultDefinition,
    rows_per_partition: int,
    extra: Sequence[str],
    policy: Any,
    currency: str | None,
    no_model: bool = False,
) -> pd.DataFrame:
    from features.engine import MATERIAL_DPD
    from pipelines.engine import Book, bucket_result
    from pipelines.scoring.score import LIMIT_INPUTS, exposure_columns, history_mask
    from pipelines.scoring.watchlist import (
        HISTORY,
        LEDGER_MEMORY,
        assign_bands,
        ledger_memories,
        rearm_month_ends,
    )

    book = Book.in_memory(portfolio, rows_per_partition)
    until = book.last_observed()
    # limit_breach's memory from the ledger's month-ends (the nightly reads it for a few debtors)
    walk = policy is not None and any(rearm_month_ends(T, cfg) for T in dates)
    parts = []
    for k in range(book.buckets):
        built = bucket_result(
            book, k, list(dates), definition, FeatureParams(), True, until,
            at_state=(lambda ledger, state: ledger) if walk else None,
        )  # fmt: skip
        if built is None:
            continue
        feats, labels = built.features, built.defaults
        memories = None
        if walk:  # a statement's balance counts in the open balance (alone or beside the invoices), as the
            # nightly reads it (before session 40 a bucket with an invoice read the invoices alone)
            part = book.read(k)
            statements = (
                part.statements if part.statements is not None and not part.statements.empty else None
            )
            memories = ledger_memories(built.at_state[0], list(dates), cfg, statements)
        for i, T in enumerate(dates):
            f = feats.loc[feats["as_of"] == T].reset_index(drop=True)
            exposure = exposure_columns(f)  # the invoice features, or a statements book's latest statement
            lab = labels.loc[labels["as_of"] == T].set_index("debtor_id")
            ids = f["debtor_id"].astype("string")
            in_default = ids.map(lab["in_default_at_asof"]).fillna(False).astype(bool).to_numpy()
            pd_all = np.ones(len(f))
            live = f.loc[~in_default]
            if no_model:  # no PD (pipelines.scoring.nomodel): empty, never 0
                pd_all[~in_default] = np.nan
            elif len(live):
                pd_all[~in_default] = score(live).reindex(ids[~in_default]).to_numpy(dtype="float64")
            limits: dict[str, Any] = {}
            if policy is not None:  # the credit-limit policy's inputs, as the nightly's scores carry them
                limits = {c: exposure[c] for c in LIMIT_INPUTS}
                limits[LEDGER_MEMORY] = (
                    ids.map(memories[i]).to_numpy(dtype="datetime64[ns]")
                    if memories is not None
                    else np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
                )
            parts.append(
                pd.DataFrame(
                    {
                        "as_of": T,
                        "debtor_id": ids.to_numpy(),
                        "segment": f["segment"].astype("string").to_numpy() if "segment" in f else pd.NA,
                        "in_default": in_default,
                        "pd": pd_all,
                        "open_balance": exposure["open_balance"],
                        "overdue_amount": exposure["overdue_amount"],
                        # the nightly's queues read the oldest invoice with more than min_open_amount
                        # open (engine dpd_material; a statements bucket has none): the same days here
                        "dpd": (
                            f[MATERIAL_DPD].to_numpy() if MATERIAL_DPD in f else exposure["dpd_current_max"]
                        ),
                        HISTORY: history_mask(f),
                        # what the dpd_bucket and event triggers read (pipelines.scoring.watchlist)
                        "dpd_current_max": exposure["dpd_current_max"],
                        "open_disputed_amount": exposure["open_disputed_amount"],
                        "label": ids.map(lab["label"]).astype("Int64").to_numpy(),
                        "first_default_date": ids.map(lab["first_default_date"]).to_numpy(
                            dtype="datetime64[ns]"
                        ),
                        "horizon_observed": ids.map(lab["horizon_observed"])
                        .fillna(False)
                        .to_numpy(dtype=bool),
                        **limits,
                        **{c: f[c].to_numpy() for c in extra},
                    }
                )
            )
    panel = pd.concat(parts, ignore_index=True).sort_values(["as_of", "debtor_id"], ignore_index=True)
    panel["debtor_id"] = panel["debtor_id"].astype("string")
    if until is not None:
        # a default after the book's last observed day is an open invoice projected past the data's end
        # (no payment can be seen there), not a default seen: the lead times counted them (s27-ux: 204 of
        # the 212 "defaults seen live" of the README walk's book, --to at its last day, fell after that day)
        seen = panel["first_default_date"] <= pd.Timestamp(until)
        panel["first_default_date"] = panel["first_default_date"].where(seen)
    panel = with_news(panel, portfolio, dates, currency)
    panel["band"] = assign_bands(panel["pd"], cfg).where(~panel["in_default"], "default").astype("string")
    if no_model:  # no PD, no band (but the default definition's verdict)
        panel["band"] = panel["band"].where(panel["in_default"].to_numpy(dtype=bool))
    # a live debtor never invoiced by T (a prospect) has no band, as in the nightly's scores
    # (pipelines.scoring.score.score_frame): its PD is the model's reading of empty features
    panel["band"] = panel["band"].mask(
        ~panel[HISTORY].to_numpy(dtype=bool) & ~panel["in_default"].to_numpy(dtype=bool)
    )
    if policy is not None:
        panel = panel_limits(panel, portfolio, dates, policy, currency, no_model)
    flagged, fired = fire_panel(panel, dates, cfg, no_model)
    panel["flagged"] = flagged
    for col in fired.columns:
        panel[col] = fired[col]
    return panel


def with_news(
    panel: pd.DataFrame, portfolio: Portfolio, dates: Sequence[pd.Timestamp], currency: str | None
) -> pd.DataFrame:
    """``panel`` with the latest event known at each date (``event``, ``event_on``:
    ``pipelines.scoring.actions.latest_events``, as the nightly's queue reads it) and ``plan_broken`` (why
    the debtor's plan of the ``payment_plans`` table counts as broken at that date,
    ``pipelines.scoring.plans.broken_plans`` against the cash payments; "" when kept or none): what the
    ``event`` trigger reads. Same rows, same order."""
    from features.tables import credit_memos
    from pipelines.ingest.decimals import money_places
    from pipelines.scoring.actions import latest_events
    from pipelines.scoring.plans import broken_plans

    events = getattr(portfolio, "events", None)
    plans = getattr(portfolio, "payment_plans", None)
    payments = getattr(portfolio, "payments", None)
    if payments is not None and plans is not None and len(plans):
        payments = payments.loc[~credit_memos(payments), ["debtor_id", "paid_on", "amount"]]
    places = money_places(currency)
    kinds, ons, broken = [], [], []
    for T in dates:
        at = panel["as_of"] == T
        ids = panel.loc[at, "debtor_id"].astype("string")
        latest = latest_events(events, T).set_index("debtor_id")
        keys = pd.Index(ids.to_numpy())
        kinds.append(pd.Series(latest["event"].reindex(keys).to_numpy(dtype=object), index=ids.index))
        on = latest["event_on"].astype("datetime64[ns]").reindex(keys).to_numpy(dtype="datetime64[ns]")
        ons.append(pd.Series(on, index=ids.index))
        why = broken_plans(plans, payments, T, places) if plans is not None and len(plans) else None
        said = why.reindex(keys).fillna("").to_numpy(dtype=object) if why is not None else ""
        broken.append(pd.Series(said, index=ids.index, dtype="object"))
    out = panel.copy()
    out["event"] = pd.concat(kinds).reindex(panel.index).astype("string") if kinds else pd.NA
    out["event_on"] = pd.concat(ons).reindex(panel.index).astype("datetime64[ns]") if ons else pd.NaT
    out["plan_broken"] = pd.concat(broken).reindex(panel.index).astype("string") if broken else ""
    return out


def panel_limits(
    panel: pd.DataFrame,
    portfolio: Portfolio,
    dates: Sequence[pd.Timestamp],
    policy: Any,
    currency: str | None,
    no_model: bool = False,
) -> pd.DataFrame:
    """``panel`` (:func:`replay`'s rows with ``band`` and the policy's inputs) with the nightly's credit
    limits (``pipelines.scoring.limits.add_credit_limits``) at each of ``dates``, from the debtors
    table with the attributes valid on that date (``features.master.debtors_at``: the latest
    ``debtor_history`` row dated on or before it, else the table's own value), as the nightly of
    that date reads them; ``no_model``: those of a run without a PD model
    (``pipelines.scoring.limits.run_limits``: the limit on file and the need). Same rows, same order."""
    from features.master import debtors_at
    from pipelines.scoring.limits import add_credit_limits, review_limits, run_limits

    parts: list[pd.DataFrame] = []
    for T in dates:
        rows = panel.loc[panel["as_of"] == T]
        at = debtors_at(portfolio.debtors, portfolio.debtor_history, T)
        # credit.review reads the previous date's limits, as the nightly reads the previous run's
        if no_model:
            parts.append(run_limits(rows, at, parts[-1] if parts else None, policy, currency, no_model=True))
            continue
        parts.append(
            review_limits(add_credit_limits(rows, at, policy, currency), parts[-1] if parts else None, policy)
        )
    return pd.concat(parts).loc[panel.index]


def flag_panel(
    panel: pd.DataFrame, dates: Sequence[pd.Timestamp], cfg: NightlyConfig, no_model: bool = False
) -> pd.Series:
    """``flagged`` per row of :func:`replay`'s panel (same index): :func:`fire_panel`'s first part."""
    return fire_panel(panel, dates, cfg, no_model)[0]


def fire_panel(
    panel: pd.DataFrame, dates: Sequence[pd.Timestamp], cfg: NightlyConfig, no_model: bool = False
) -> tuple[pd.Series, pd.DataFrame]:
    """``flagged`` per row of :func:`replay`'s panel (same index): any trigger of ``cfg`` against
    the previous date, or kept on the list by ``cfg.watchlist`` (``stay_days`` after the last
    trigger, ``stay_band`` while the band stays at or above it, ``stay_top_share`` while the PD stays
    in that top share of the live debtors), as the nightly does. Needs
    ``as_of``, ``debtor_id``, ``pd``, ``band`` and ``in_default``; with the credit limits
    (:func:`panel_limits`, ``limit_over_ledger_on``) also ``limit_breach`` with its memory as the
    nightly keeps it: ``limit_over_on`` carried from one date to the next, for the debtors absent at a
    date too (``pipelines.scoring.watchlist.unscored_limit_memory``). Recomputing it with another
    config re-scores nothing (``ews backtest --config``). With the columns the ``dpd_bucket`` and ``event``
    triggers read (:func:`replay`: ``dpd_current_max``, ``open_disputed_amount``, ``event``, ``event_on``,
    ``plan_broken``) those fire as in the nightly: in a run without a PD model (``no_model``), else only with
    their ``with_pd_model``. Returns (``flagged``, each trigger's flag at its date: ``trigger_<name>`` columns,
    same index, fired before the list's holds)."""
    from pipelines.scoring.watch_state import holding, stay_on_list
    from pipelines.scoring.watchlist import (
        EVENT_ON,
        HISTORY,
        LEDGER_MEMORY,
        LIMIT_INPUTS,
        NEWS_PREV,
        compare_with_previous,
        limit_over_on,
        triggers,
        unscored_limit_memory,
        with_unscored_memory,
    )

    columns = ["debtor_id", "pd", "band", "in_default", *([HISTORY] if HISTORY in panel.columns else [])]
    limits = {*LIMIT_INPUTS, "credit_need", LEDGER_MEMORY} <= set(panel.columns)
    if limits:  # (and the overdue amount: limit_breach's test in a run without a PD model)
        columns += ["as_of", *LIMIT_INPUTS, "credit_need", LEDGER_MEMORY]
        columns += [c for c in ("overdue_amount",) if c in panel.columns]
    news = [c for c in (*NEWS_PREV, EVENT_ON, "event") if c in panel.columns]
    if news:  # the dpd_bucket and event triggers' inputs, and the date an event is news after
        columns += [c for c in ("as_of", *news) if c not in columns]
    flagged, fired_all = [], []
    previous, state, unscored = None, None, None
    for T in dates:
        today = panel.loc[panel["as_of"] == T, columns]
        scored = compare_with_previous(today, previous)
        if limits:  # limit_breach's memory, as the nightly's credit_limits step keeps it
            scored = with_unscored_memory(scored, unscored)
            scored = scored.assign(limit_over_on=limit_over_on(scored, cfg))
            unscored = unscored_limit_memory(previous, unscored, scored, cfg)
        each = triggers(scored, cfg, has_previous=previous is not None, no_model=no_model)
        fired_all.append(each.set_axis(today.index))
        fired = each.any(axis=1).to_numpy()
        live = ~today["in_default"].to_numpy(dtype=bool)
        hold = holding(today, cfg)
        stay = stay_on_list(today["debtor_id"], live, fired, state, T.date(), cfg.watchlist.stay_days, hold)
        on = fired | stay
        flagged.append(pd.Series(on, index=today.index))
        last = pd.Series(pd.NaT, index=today.index, dtype="datetime64[ns]")
        if state is not None:
            carried = state.set_index("debtor_id")["last_trigger_on"].reindex(today["debtor_id"]).to_numpy()
            last[:] = carried
        last[fired] = T
        state = pd.DataFrame({"debtor_id": today["debtor_id"], "on_list": on, "last_trigger_on": last})
        previous = scored[[c for c in scored.columns if not c.endswith("_prev")]] if limits else today
    on_list = pd.concat(flagged).reindex(panel.index).fillna(False).astype(bool)
    fired_frame = pd.concat(fired_all).reindex(panel.index).fillna(False).astype(bool)
    return on_list, fired_frame


def _capture(frame: pd.DataFrame, key: list[str], ascending: list[bool]) -> tuple[float, float]:
    """(bad exposure in the top 20 % of ``frame`` ordered by ``key``, bad exposure in all of it)."""
    ranked = frame.sort_values(key + ["debtor_id"], ascending=ascending + [True], kind="stable")
    top = math.ceil(TOP_SHARE * len(ranked))
    bad = ranked["bad_balance"].to_numpy()
    return float(bad[:top].sum()), float(bad.sum())


def _order_keys(order: str) -> tuple[list[str], list[bool]]:
    return {
        "queue": (["priority", "expected_loss", "overdue_amount"], [False, False, False]),
        "pd_key": (["priority_pd_key", "expected_loss", "overdue_amount"], [False, False, False]),
        "blend_key": (["priority_blend_key", "expected_loss", "overdue_amount"], [False, False, False]),
        "dpd": (["dpd", "overdue_amount"], [False, False]),
        "balance": (["open_balance"], [False]),
        "oracle": (["oracle_el"], [False]),
    }[order]


def _curve(frame: pd.DataFrame, order: str, grid: np.ndarray) -> np.ndarray:
    """Bad exposure caught by the first ceil(g x n) debtors of the queue, per grid share g."""
    key, asc = _order_keys(order)
    ranked = frame.sort_values(key + ["debtor_id"], ascending=asc + [True], kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(ranked["bad_balance"].to_numpy())])
    return cum[np.ceil(grid * len(ranked)).astype(int)]


EPISODE_GAP_MONTHS = 1
LEAD_TARGET_DAYS = 60
"""The early-warning lead the watchlist aims at (issue 11: a median of at least 60 days). A default sooner
than this after the first replayed month-end its debtor was live at cannot show it in a replay that starts at
``--from`` (``lead_time_reachable_median_days`` leaves those out; a nightly running for months has no such start)."""


def _lead_times(
    panel: pd.DataFrame, dates: list[pd.Timestamp], gap: int = EPISODE_GAP_MONTHS
) -> pd.DataFrame:
    """One row per (debtor, default date) seen from a live month-end:

    - ``flagged_last``, ``first_flag``, ``lead_days``: flagged at the last month-end before the
      default, and the start of the **unbroken** run of flagged month-ends ending there;
    - ``in_episode``, ``episode_start``, ``episode_lead_days``: the **episode** open at the
      default: a flag at one of the last ``gap`` + 1 month-ends before it, walked back over
      flagged month-ends and over gaps of at most ``gap`` unflagged month-ends in a row;
    - ``any_flag``, ``first_flag_lead_days``: the first flag in the 365 days before the default,
      whatever came between;
    - ``first_live``, ``reach_days``: the first of the replayed month-ends in a row at which the
      debtor was live up to the last one before the default, and the days from it to the default:
      the longest strict lead a flag could show (the replay starts at ``dates[0]``)."""
    pos = {d: i for i, d in enumerate(dates)}
    live = panel.loc[~panel["in_default"]]
    hit = live.loc[live["first_default_date"].notna()]
    rows = []
    # the live month-ends of the debtors that default (the only ones looked up): (debtor, as_of) -> flagged,
    # a dict rather than a MultiIndex lookup per month-end (s39-scale: 1M debtors)
    mine = live.loc[live["debtor_id"].isin(hit["debtor_id"].unique())]
    keys = zip(mine["debtor_id"], mine["as_of"], strict=True)
    flags = dict(zip(keys, mine["flagged"].to_numpy(dtype=bool), strict=True))
    alive = flags.keys()

    def on(debtor: str, i: int) -> bool:
        return i >= 0 and bool(flags.get((debtor, dates[i]), False))

    lasts = hit.groupby(["debtor_id", "first_default_date"], sort=True)["as_of"].max()
    for (debtor, when), last_as_of in lasts.items():
        year = [d for d in dates if when - pd.Timedelta(days=365) <= d < when]
        early = next((d for d in year if bool(flags.get((debtor, d), False))), None)
        any_lead = float((when - early).days) if early is not None else np.nan
        last = pos[last_as_of]
        run_start, run_lead = pd.NaT, np.nan
        if on(debtor, last):
            i = last
            while on(debtor, i - 1):
                i -= 1
            run_start, run_lead = dates[i], float((when - dates[i]).days)
        ep_start, ep_lead = pd.NaT, np.nan
        recent = [i for i in range(last, last - gap - 1, -1) if on(debtor, i)]
        if recent:
            i = recent[0]
            while True:
                back = next((j for j in range(i - 1, i - gap - 2, -1) if on(debtor, j)), None)
                if back is None:
                    break
                i = back
            ep_start, ep_lead = dates[i], float((when - dates[i]).days)
        i = last  # the live month-ends in a row up to the last one: the longest run a flag could make
        while i > 0 and (debtor, dates[i - 1]) in alive:
            i -= 1
        first_live = dates[i]
        rows.append(
            (debtor, when, on(debtor, last), run_start, run_lead, bool(recent), ep_start, ep_lead,
             early is not None, any_lead, first_live, float((when - first_live).days))
        )  # fmt: skip
    cols = [
        "debtor_id",
        "default_date",
        "flagged_last",
        "first_flag",
        "lead_days",
        "in_episode",
        "episode_start",
        "episode_lead_days",
        "any_flag",
        "first_flag_lead_days",
        "first_live",
        "reach_days",
    ]
    return pd.DataFrame(rows, columns=cols)


def _median(values: pd.Series) -> float | None:
    return float(values.median()) if len(values) else None


def backtest_figures(
    panel: pd.DataFrame,
    cfg: NightlyConfig,
    truth: pd.DataFrame | None = None,
    key: str = "pd",
    places: int = 2,
    n_boot: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """The backtest's figures from :func:`replay`'s panel (see the module docstring).

    ``truth``: the generator's ``truth.parquet`` (``debtor_id``, ``month_end``, ``oracle_pd``) or
    None. ``key``: the priority's PD as the nightly's (``pipelines.scoring.queue.queue_key_for``):
    ``pd``, or ``blend`` = (PD + ``pay_pd``) / 2 from the panel's ``pay_pd`` column; ``dpd``: the run
    without a PD model (:data:`pipelines.scoring.nomodel.KEY`), whose queue is ranked by days past due, then
    the overdue amount (``queue_capture_top20`` is then ``dpd_capture_top20``'s order, and the paired queue
    minus days-past-due figure is left out). With the panel's ``trigger_<name>`` columns (:func:`replay`)
    also ``triggers``: per trigger that fired, :func:`trigger_figures`. With that column
    the queue is also measured in both keys' orders (``pd_key_capture_top20``,
    ``blend_key_capture_top20``). ``places``: the decimals of the reporting currency
    (``pipelines.ingest.decimals.money_places``) to which the expected loss, the priorities and
    ``bad_balance_in_queue`` are rounded, as the nightly's queue rounds them. ``n_boot`` > 0: also
    ``intervals`` (:func:`figure_intervals`: 95 % debtor-bootstrap intervals of the headline figures,
    ``n_boot`` replicates drawn with ``seed``, and what each figure rests on; ``ews backtest`` passes
    the nightly config's ``backtest.bootstrap_samples``); 0: only the counts. Returns ``{"figures":
    {...}, "months": [...], "curves": {...}, "lead_times": frame, "intervals": {...}}``."""
    from models.queue_key import blended_pd
    from pipelines.scoring.queue import lgd_for, priority

    dates = sorted(panel["as_of"].unique())
    dates = [pd.Timestamp(d) for d in dates]
    p = panel.copy()
    scale = p["open_balance"].clip(lower=0) * lgd_for(p["segment"], cfg.queue)
    el = p["pd"] * scale
    p["expected_loss"] = el.round(places)
    orders = ["queue", "dpd", "balance"]
    if "pay_pd" in p.columns:
        blend_el = pd.Series(blended_pd(p["pd"], p["pay_pd"]), index=p.index) * scale
        p["priority_pd_key"] = priority(el, p["dpd"], cfg.queue).round(places)
        p["priority_blend_key"] = priority(blend_el, p["dpd"], cfg.queue).round(places)
        orders += ["pd_key", "blend_key"]
        if key == "blend":
            el = blend_el
    elif key == "blend":
        raise ValueError("the blend key needs the panel's pay_pd column")
    p["priority"] = priority(el, p["dpd"], cfg.queue).round(places)
    alias = {"queue": "dpd"} if key == "dpd" else {}  # no PD: the queue's own order is the days past due
    p["bad_balance"] = np.where(p["label"].fillna(0).astype(int) == 1, p["open_balance"].clip(lower=0), 0.0)
    if truth is not None:
        t = truth[["debtor_id", "month_end", "oracle_pd"]].rename(columns={"month_end": "as_of"})
        t = t.assign(debtor_id=t["debtor_id"].astype("string"), as_of=pd.to_datetime(t["as_of"]))
        p = p.merge(t, on=["debtor_id", "as_of"], how="left")
        p["oracle_el"] = p["oracle_pd"].astype("float64").fillna(0.0) * p["open_balance"].clip(lower=0)
        orders.append("oracle")
    p["dpd"] = p["dpd"].fillna(0.0)
    observed = p["horizon_observed"] & ~p["in_default"]
    queue = p.loc[observed & (p["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue)]
    grid = np.linspace(0, 1, 51)
    caught = {o: 0.0 for o in orders}
    total = 0.0
    curves = {o: np.zeros(len(grid)) for o in orders}
    months = []
    for T in dates:
        q = queue.loc[queue["as_of"] == T]
        live = p.loc[observed & (p["as_of"] == T)]
        row: dict[str, Any] = {"as_of": T.date().isoformat(), "horizon_observed": bool(len(live))}
        if len(live):
            bad, flag = live["label"] == 1, live["flagged"]
            row.update(live=len(live), flagged=int(flag.sum()), defaults=int(bad.sum()), queue=len(q))
            row.update(flagged_defaults=int((flag & bad).sum()), bad_balance=float(q["bad_balance"].sum()))
            for o in orders:
                top, all_ = _capture(q, *_order_keys(alias.get(o, o)))
                caught[o] += top
                row[f"{o}_capture_top20"] = top / all_ if all_ else None
                curves[o] += _curve(q, alias.get(o, o), grid) if len(q) else 0.0
            total += row["bad_balance"]
        months.append(row)
    scored = [m for m in months if m["horizon_observed"]]
    flagged = sum(m["flagged"] for m in scored)
    defaults = sum(m["defaults"] for m in scored)
    hits = sum(m["flagged_defaults"] for m in scored)
    live_months = sum(m["live"] for m in scored)
    leads = _lead_times(p, dates)
    was = leads.loc[leads["flagged_last"]]
    reach = leads.loc[leads["reach_days"] >= LEAD_TARGET_DAYS]
    figures: dict[str, Any] = {
        **{f"{o}_capture_top20": (caught[o] / total if total else None) for o in orders},
        "watchlist_precision": hits / flagged if flagged else None,
        "watchlist_recall": hits / defaults if defaults else None,
        "watchlist_list_share": flagged / live_months if live_months else None,
        "lead_time_median_days": _median(was["lead_days"]),
        "lead_time_flagged_share": len(was) / len(leads) if len(leads) else None,
        "lead_time_episode_median_days": _median(leads.loc[leads["in_episode"], "episode_lead_days"]),
        "lead_time_episode_share": float(leads["in_episode"].mean()) if len(leads) else None,
        "lead_time_episode_gap_months": EPISODE_GAP_MONTHS,
        "lead_time_first_flag_median_days": _median(leads.loc[leads["any_flag"], "first_flag_lead_days"]),
        "lead_time_first_flag_share": float(leads["any_flag"].mean()) if len(leads) else None,
        "lead_time_reachable_median_days": _median(reach.loc[reach["flagged_last"], "lead_days"]),
        "lead_time_reachable_share": float(reach["flagged_last"].mean()) if len(reach) else None,
        "defaults_for_lead_time": int(len(leads)),
        "defaults_reachable_for_lead_time": int(len(reach)),
        "months": len(dates),
        "months_with_observed_horizon": len(scored),
        "debtor_months_live": int(sum(m["live"] for m in scored)),
        "defaults_in_horizon": int(
            defaults
        ),  # of the live debtor-months (s27-ux: it was labelled "Queue ...")
        "queue_debtor_months": int(sum(m["queue"] for m in scored)),
        "bad_balance_in_queue": round(total, places),
    }
    curve_out = {o: (curves[o] / total).round(6).tolist() if total else [] for o in orders}
    intervals = figure_intervals(
        p.loc[observed], queue, orders, was, figures, n_boot, seed, cfg.backtest.min_defaults, alias
    )
    out = {"figures": figures, "months": months, "curves": {"share": grid.round(4).tolist(), **curve_out},
           "lead_times": leads, "intervals": intervals}  # fmt: skip
    fired = [c for c in p.columns if c.startswith("trigger_")]
    if fired:
        out["triggers"] = trigger_figures(p, dates, fired)
    return out


def trigger_figures(panel: pd.DataFrame, dates: list[pd.Timestamp], columns: Sequence[str]) -> dict[str, Any]:
    """Each watchlist trigger on its own (``trigger_<name>`` columns of :func:`replay`: fired at that
    month-end, before the list's holds), for the triggers that fired at least once: over the live
    debtor-months with an observed horizon, ``fired`` (debtor-months), ``precision`` (of those, the ones
    whose debtor defaulted within the horizon) and ``recall`` (of the live debtor-months that defaulted
    within the horizon, the ones it fired on); over the defaults seen (as the watchlist's lead times,
    ``defaults``), ``lead_time_first_fire_median_days`` (days from its first firing in the 365 days before
    the default to the default, median over the defaults it fired on in that year; ``..._share`` of the
    defaults). A trigger fires on the news of one month-end (a bucket crossed, an event), so its lead time
    is read from its first firing, not from an unbroken run of flags."""
    live = panel.loc[~panel["in_default"].to_numpy(dtype=bool)]
    observed = live.loc[live["horizon_observed"].to_numpy(dtype=bool)]
    bad = (observed["label"] == 1).to_numpy(dtype=bool)
    out: dict[str, Any] = {}
    for col in columns:
        on = observed[col].to_numpy(dtype=bool)
        if not live[col].any():
            continue
        flagged = live.assign(flagged=live[col].to_numpy(dtype=bool))
        leads = _lead_times(flagged, dates)
        first = leads.loc[leads["any_flag"], "first_flag_lead_days"]
        out[col.removeprefix("trigger_")] = {
            "fired": int(on.sum()),
            "fired_defaulted": int((on & bad).sum()),
            "precision": float((on & bad).sum() / on.sum()) if on.sum() else None,
            "recall": float((on & bad).sum() / bad.sum()) if bad.sum() else None,
            "lead_time_first_fire_median_days": _median(first),
            "lead_time_first_fire_share": float(leads["any_flag"].mean()) if len(leads) else None,
            "defaults": int(len(leads)),
        }
    return out


LEVEL = 0.95
# the figures given an interval, each with what it rests on (distinct debtors, or lead times)
RESTS_ON = {
    "capture": ("defaulted debtor", " in the queue"),
    "watchlist_precision": ("flagged debtor", " that defaulted"),
    "watchlist_recall": ("defaulted debtor", ""),
    "lead_time_median_days": ("lead time", ""),
}
QUEUE_MINUS_DPD = "queue_minus_dpd_capture_top20"
QUEUE_OVER_ORACLE = "queue_over_oracle_capture_top20"


class _Ranked:
    """One capture order of the queue, flat for the replicates: the rows' debtor codes in that order (as
    :func:`_capture`), month-end after month-end, where each month-end starts, and the rows whose bad
    balance adds to a capture (the others hold exactly 0: a replicate reads them only in the weights)."""

    def __init__(self, queue: pd.DataFrame, order: str, codes: np.ndarray, bad: np.ndarray):
        key, asc = _order_keys(order)
        ranked = queue.assign(_row=np.arange(len(queue))).sort_values(
            ["as_of", *key, "debtor_id"], ascending=[True, *asc, True], kind="stable"
        )
        rows = ranked["_row"].to_numpy()
        months = ranked["as_of"].to_numpy()
        self.codes, bad = codes[rows], bad[rows]
        self.starts = (
            np.flatnonzero(np.r_[True, months[1:] != months[:-1]]) if len(rows) else np.zeros(0, int)
        )
        self.ends = np.r_[self.starts[1:], len(rows)][: len(self.starts)] - 1  # each month-end's last row
        month = np.repeat(np.arange(len(self.starts)), np.diff(np.r_[self.starts, len(rows)]))
        # every row but an exact +0.0 (a -0.0 or NaN bad balance too, as the sums would read it)
        self.rows = np.flatnonzero((bad != 0) | np.isnan(bad) | np.signbit(bad))
        self.bad, self.month = bad[self.rows], month[self.rows]
        self._sum = np.zeros(len(rows))  # the rows' terms in this order: 0.0 but at self.rows

    def capture(self, counts: np.ndarray) -> float:
        """The pooled share of the drawn bad balance in the top 20 % of each month-end's drawn weight,
        the row at the cut counted in part (as :func:`models.queue_key.weighted_capture`, all month-ends
        at once); NaN without bad balance.

        The weights, their running sums and each month-end's cut are whole numbers, exact in any order;
        the two sums of money add every row's term in this order, as numpy sums the whole column (s39-scale:
        the same bits as summing ``w * bad`` over all the rows, at a quarter of the passes)."""
        if not len(self.codes):
            return float("nan")
        w = np.take(
            counts, self.codes
        )  # the rows' weights (a 32-bit ``counts`` is read ~4x faster at 1M debtors)
        cum = np.cumsum(w, dtype=np.int64)
        ahead = cum[self.starts] - w[self.starts]  # the weight of the month-ends before each
        cut = np.ceil(TOP_SHARE * (cum[self.ends] - ahead).astype("float64"))
        wk = w[self.rows].astype("float64")
        self._sum[self.rows] = wk * self.bad
        total = float(self._sum.sum())
        if not total:
            return float("nan")
        before = (cum[self.rows] - w[self.rows] - ahead[self.month]).astype("float64")
        self._sum[self.rows] = np.clip(cut[self.month] - before, 0.0, wk) * self.bad
        return float(self._sum.sum()) / total


def share_figures(keys: Any) -> list[str]:
    """The share figures among ``keys`` (captures, precision, recall): not the paired difference or ratio."""
    return [
        k
        for k in keys
        if k.endswith(("_top20", "_precision", "_recall")) and "_minus_" not in k and "_over_" not in k
    ]


SHARE_TOLERANCE = 1e-9
"""A share this close to 100 % (0 %) is read as exactly there by :func:`_at_bounds` (float sums)."""


def _at_bounds(point: float | None, low: float, high: float, n: int) -> tuple[float, float]:
    """At a share of exactly 100 % (0 %) the replicates cannot go above (below) it, and on few debtors
    they often all read it: 8 defaulted debtors all caught give [100 %, 100 %]. There the interval
    reaches at least the exact (Clopper-Pearson) bound of n of n (0 of n) debtors: low <= 0.025 ** (1 / n)
    (high >= 1 - that), e.g. 63.1 % for 8 of 8, 82.4 % for 19 of 19, and its other end is 100 % (0 %), as
    that bound's interval (every replicate may read below a 100 % point). ``n``: the share's debtors."""
    if point is None or n < 1:
        return low, high
    bound = ((1 - LEVEL) / 2) ** (1 / n)
    # a capture's caught and total balances are summed in two orders: all caught can read 0.9999999999999999
    if point >= 1.0 - SHARE_TOLERANCE:
        low, high = min(low, bound), 1.0
    elif point <= SHARE_TOLERANCE:
        low, high = 0.0, max(high, 1 - bound)
    return low, high


def _weighted_median(values: np.ndarray, times: np.ndarray) -> float:
    """The median of ``values``, each repeated ``times`` (a replicate's debtor counts); NaN if none."""
    drawn = np.repeat(values, times)
    return float(np.median(drawn)) if drawn.size else float("nan")


def figure_intervals(
    live: pd.DataFrame,
    queue: pd.DataFrame,
    orders: Sequence[str],
    was: pd.DataFrame,
    figures: dict[str, Any],
    n_boot: int,
    seed: int,
    min_defaults: int,
    alias: dict[str, str] | None = None,
) -> dict[str, Any]:
    """95 % intervals of the headline figures by a debtor bootstrap (:func:`models.bootstrap.debtor_draws`):
    each replicate draws the panel's debtors with replacement and weighs every row of a debtor (all its
    month-ends, its lead times) by the times it was drawn; the same replicate serves every figure, so
    ``queue_minus_dpd_capture_top20`` (and ``queue_over_oracle_capture_top20`` with the truth) are paired.

    ``live``: the live debtor-months with an observed horizon (``label``, ``flagged``); ``queue``: those
    in the queue, with the order keys and ``bad_balance``; ``orders``: the capture orders measured;
    ``was``: the lead times of the defaults flagged at their last month-end (``lead_days``);
    ``figures``: the point figures; ``alias``: an order measured in another's keys (``{"queue": "dpd"}``
    without a PD model: the queue minus days-past-due figure, 0 by construction, is then left out). A capture of a replicate keeps the top 20 % of each month-end's
    weight (:meth:`_Ranked.capture`); the lead time's is the median of the drawn lead times. A share
    at exactly 100 % or 0 % reaches at least the exact binomial bound of its debtors (:func:`_at_bounds`).

    Returns ``level``, ``samples``, ``seed``, ``by``, ``min_defaults`` and ``figures``: per figure
    ``value``, ``low``, ``high`` (None without replicates or below 2 debtors), ``n`` and ``rests_on`` (``n``
    in words: distinct defaulted debtors, flagged debtors that defaulted, or lead times) and ``thin``
    (``n`` < ``min_defaults``)."""
    from models.bootstrap import debtor_draws, percentile_interval

    ids = pd.Index(sorted(set(live["debtor_id"].astype(str)) | set(was["debtor_id"].astype(str))))
    live_codes = ids.get_indexer(live["debtor_id"].astype(str))
    queue_codes = ids.get_indexer(queue["debtor_id"].astype(str))
    lead_codes = ids.get_indexer(was["debtor_id"].astype(str))
    bad_live = (live["label"] == 1).to_numpy(dtype=bool)
    flag = live["flagged"].to_numpy(dtype=bool)
    q_bad = queue["bad_balance"].to_numpy(dtype="float64")
    lead_days = was["lead_days"].to_numpy(dtype="float64")

    def debtors(codes: np.ndarray, mask: np.ndarray) -> int:
        return int(np.unique(codes[mask]).size)

    n_queue = debtors(queue_codes, q_bad > 0)
    captures = [o for o in orders if f"{o}_capture_top20" in figures]
    rests = {f"{o}_capture_top20": (n_queue, RESTS_ON["capture"]) for o in captures}
    rests["watchlist_precision"] = (debtors(live_codes, bad_live & flag), RESTS_ON["watchlist_precision"])
    rests["watchlist_recall"] = (debtors(live_codes, bad_live), RESTS_ON["watchlist_recall"])
    rests["lead_time_median_days"] = (len(was), RESTS_ON["lead_time_median_days"])
    points = {k: figures.get(k) for k in rests}
    alias = alias or {}
    if "dpd" in captures and points["queue_capture_top20"] is not None and alias.get("queue") != "dpd":
        rests[QUEUE_MINUS_DPD] = (n_queue, RESTS_ON["capture"])
        points[QUEUE_MINUS_DPD] = points["queue_capture_top20"] - points["dpd_capture_top20"]
    if "oracle" in captures and figures.get("oracle_capture_top20"):
        rests[QUEUE_OVER_ORACLE] = (n_queue, RESTS_ON["capture"])
        points[QUEUE_OVER_ORACLE] = points["queue_capture_top20"] / points["oracle_capture_top20"]
    ranked = {o: _Ranked(queue, alias.get(o, o), queue_codes, q_bad) for o in captures}
    # per debtor: flagged debtor-months that defaulted, flagged, defaulted (a replicate weighs debtors)
    per_debtor = [
        np.bincount(live_codes, weights=m, minlength=len(ids)) for m in (bad_live & flag, flag, bad_live)
    ]
    draws: dict[str, list[float]] = {k: [] for k in rests}
    for counts in debtor_draws(len(ids), n_boot if len(ids) >= 2 else 0, seed):
        table = counts.astype(np.int32)  # a debtor is drawn fewer than 2**31 times
        cap = {o: ranked[o].capture(table) for o in captures}
        for o in captures:
            draws[f"{o}_capture_top20"].append(cap[o])
        hits, flagged, bad = (float(counts @ m) for m in per_debtor)
        draws["watchlist_precision"].append(hits / flagged if flagged else np.nan)
        draws["watchlist_recall"].append(hits / bad if bad else np.nan)
        draws["lead_time_median_days"].append(_weighted_median(lead_days, counts[lead_codes]))
        if QUEUE_MINUS_DPD in draws:
            draws[QUEUE_MINUS_DPD].append(cap["queue"] - cap["dpd"])
        if QUEUE_OVER_ORACLE in draws:
            draws[QUEUE_OVER_ORACLE].append(cap["queue"] / cap["oracle"] if cap["oracle"] else np.nan)

    def number(v: Any) -> float | None:
        return round(float(v), 6) if v is not None and np.isfinite(v) else None

    # a share's denominator in debtors: defaulted debtors (captures, recall), flagged debtors (precision)
    basis = {k: n for k, (n, _) in rests.items()} | {"watchlist_precision": debtors(live_codes, flag)}
    out = {}
    for k, (n, (word, tail)) in rests.items():
        low, high = percentile_interval(np.asarray(draws[k]), LEVEL) if draws[k] else (None, None)
        if low is not None and k in share_figures(rests):
            low, high = _at_bounds(points.get(k), low, high, basis[k])
        out[k] = {
            "value": number(points.get(k)),
            "low": number(low),
            "high": number(high),
            "n": n,
            "rests_on": counted(n, word) + tail,
            "thin": n < min_defaults,
        }
    return {
        "level": LEVEL,
        "samples": int(n_boot),
        "seed": int(seed),
        "by": "debtor",
        "min_defaults": int(min_defaults),
        "figures": out,
    }


def list_size_config(cfg: NightlyConfig, share: float, rule: str) -> NightlyConfig:
    """``cfg`` with the rank trigger on at ``top_share`` = ``share``, held while in the top ``share``
    x ``stay_top_share`` / ``top_share`` of ``cfg`` (capped at 1; no hold when ``stay_top_share`` is
    null). ``rule`` ``rank``: every other trigger and ``stay_band`` off (a list of about ``share`` of
    the live debtors); ``rules``: the other triggers as configured."""
    t, w = cfg.triggers, cfg.watchlist
    ratio = w.stay_top_share / t.rank.top_share if w.stay_top_share is not None else None
    stay = min(1.0, ratio * share) if ratio is not None else None
    update: dict[str, Any] = {"rank": t.rank.model_copy(update={"enabled": True, "top_share": share})}
    hold: dict[str, Any] = {"stay_top_share": stay}
    if rule == "rank":
        update |= {name: getattr(t, name).model_copy(update={"enabled": False}) for name in ABSOLUTE_TRIGGERS}
        hold["stay_band"] = None
    elif rule != "rules":
        raise ValueError(f"rule must be 'rank' or 'rules', got {rule!r}")
    return cfg.model_copy(
        update={"triggers": t.model_copy(update=update), "watchlist": w.model_copy(update=hold)}
    )


def list_size_figures(
    panel: pd.DataFrame, cfg: NightlyConfig, shares: Sequence[float] = LIST_SHARES
) -> list[dict[str, Any]]:
    """The watchlist's figures for lists of each size in ``shares``, re-flagged on ``panel``'s PDs
    (:func:`replay`'s rows; nothing is re-scored) with :func:`list_size_config`, rule ``rank`` then
    ``rules`` per share. Each row: ``share``, ``rule``, ``top_share``, ``stay_top_share``,
    ``list_share`` (flagged live debtor-months / live debtor-months, month-ends with an observed
    horizon), ``list_share_max`` (the largest month-end's), ``flagged_per_month`` (mean),
    ``precision``, ``recall``, ``lead_time_median_days`` (strict) and ``lead_time_flagged_share``,
    as the backtest's watchlist figures; ``min_pd``, the rank trigger's PD floor
    (``triggers.rank.min_pd``), and ``under_floor_share``: live debtor-months whose PD ranked inside
    the top share but lay under that floor, and were not on the list (the floor, not the share,
    decided their place; same denominator as ``list_share``)."""
    dates = [pd.Timestamp(d) for d in sorted(panel["as_of"].unique())]
    observed = (panel["horizon_observed"] & ~panel["in_default"]).to_numpy(dtype=bool)
    bad = (panel["label"].fillna(0).astype(int) == 1).to_numpy()
    as_of = panel["as_of"].to_numpy()
    months = sorted(set(as_of[observed]))
    live_per_month = np.array([int((observed & (as_of == T)).sum()) for T in months])
    out = []
    for share in shares:
        for rule in ("rank", "rules"):
            c = list_size_config(cfg, float(share), rule)
            flagged = flag_panel(panel, dates, c).to_numpy(dtype=bool)
            on = flagged & observed
            per_month = np.array([int((on & (as_of == T)).sum()) for T in months])
            n_live, n_on = int(observed.sum()), int(on.sum())
            hits, defaults = int((on & bad).sum()), int((observed & bad).sum())
            leads = _lead_times(panel.assign(flagged=flagged), dates)
            was = leads.loc[leads["flagged_last"]]
            floored = _under_floor(panel, float(share), c.triggers.rank.min_pd) & observed & ~flagged
            out.append(
                {
                    "share": float(share),
                    "rule": rule,
                    "top_share": float(share),
                    "stay_top_share": c.watchlist.stay_top_share,
                    "list_share": n_on / n_live if n_live else None,
                    "list_share_max": float((per_month / live_per_month).max()) if len(months) else None,
                    "flagged_per_month": float(per_month.mean()) if len(months) else None,
                    "precision": hits / n_on if n_on else None,
                    "recall": hits / defaults if defaults else None,
                    "lead_time_median_days": _median(was["lead_days"]),
                    "lead_time_flagged_share": len(was) / len(leads) if len(leads) else None,
                    "min_pd": float(c.triggers.rank.min_pd),
                    "under_floor_share": int(floored.sum()) / n_live if n_live else None,
                }
            )
    return out


def _under_floor(panel: pd.DataFrame, share: float, min_pd: float) -> np.ndarray:
    """Per row of ``panel``: the PD ranks inside the top ``share`` of its month-end's live debtors
    (:func:`~pipelines.scoring.watchlist.in_top_share` without a floor) but lies under ``min_pd``."""
    from pipelines.scoring.watchlist import in_top_share, rank_pool

    out = pd.Series(False, index=panel.index)
    for _, month in panel.groupby("as_of", sort=False):
        live = rank_pool(month)
        ranked = in_top_share(month["pd"], live, share, 0.0)
        out.loc[month.index] = ranked & ~in_top_share(month["pd"], live, share, min_pd)
    return out.to_numpy(dtype=bool)


def leakage(loaded: Any, dates: Sequence[pd.Timestamp], horizon_days: int) -> dict[str, Any]:
    """Which month-ends the version saw the outcome of: ``trained_through`` S (tag
    ``ews.trained_through``; None when absent), ``labels_seen_until`` S + horizon, the in-sample
    dates (< S + horizon) and the ``snapshots.end`` a leak-free model for ``dates`` needs. A roll-rate
    version (``ews.kind`` rollrate) saw outcomes up to S itself: its matrix counts the moves between
    month-ends up to S."""
    tags = getattr(loaded, "tags", None) or {}
    tag = tags.get("ews.trained_through")
    first = min(dates)
    # the last month-end whose labels (horizon_days after it) are all seen by the first date: a train
    # config's snapshots.end is a month-end (it read 2023-11-02 before session 27)
    cut = (
        (first - pd.Timedelta(days=horizon_days) + pd.Timedelta(days=1) - pd.offsets.MonthEnd(1))
        .date()
        .isoformat()
    )
    if not tag:
        return {"trained_through": None, "labels_seen_until": None, "in_sample": None, "leak_free_end": cut}
    # a roll-rate matrix counts the moves observed by its last month-end, no label beyond it (s11-small:
    # "labels observed up to 2026-03-31" for a book whose data end on 2025-12-31)
    rollrate = tags.get("ews.kind") == "rollrate"
    seen = pd.Timestamp(tag) + pd.Timedelta(days=0 if rollrate else horizon_days)
    inside = [d.date().isoformat() for d in dates if d < seen]
    return {
        "trained_through": tag,
        "labels_seen_until": seen.date().isoformat(),
        "in_sample": inside,
        "leak_free_end": cut,
    }


def leak_free_versions(
    records: Sequence[Any] | None, dates: Sequence[pd.Timestamp], horizon_days: int, definition: Any
) -> list[tuple[str, str]]:
    """The registered versions that saw the outcome of none of ``dates`` (``(version, labels seen
    until)``, the latest first): ``records`` are :func:`pipelines.adapters.registry_view.read_versions`'
    rows; deleted versions, versions without ``ews.trained_through`` and versions trained under another
    default definition than ``definition`` are left out. s39-walk: a year of quarterly retrains replayed
    with the champion was IN-SAMPLE on 11 of 12 month-ends, and the note said to train a model of older
    data, while v1, in the registry, was out of sample for all 12."""
    found = []
    for r in records or []:
        if getattr(r, "deleted", False) or not r.tags.get("ews.trained_through"):
            continue
        recorded = r.tags.get("ews.definition")
        try:
            if recorded and definition is not None and definition.differences(json.loads(recorded)):
                continue
        except (ValueError, TypeError, AttributeError):
            continue
        leak = leakage(SimpleNamespace(tags=r.tags), dates, horizon_days)
        if leak["in_sample"] == []:
            found.append((str(r.version), str(leak["labels_seen_until"])))
    return sorted(found, key=lambda v: int(v[0]) if v[0].isdigit() else 0, reverse=True)


DEFINITIONS: dict[str, str] = {
    "queue_capture_top20": "share of the open balance at T of the live-queue debtors that defaulted within "
    "the horizon held by the top 20 % of the queue (by count, rounded up) in the queue's order: priority = "
    "PD x open balance x LGD x (1 + days past due / queue.dpd_weight_days), or expected loss when that is "
    "null, the PD being (PD + pay_pd) / 2 with the blend key (settings.queue_key, as the nightly's "
    "queue.priority); pooled over the month-ends with an observed horizon",
    "oracle_capture_top20": "the same queue ordered by the generator's true PD x open balance (the ceiling)",
    "pd_key_capture_top20": "the same queue ranked with the PD key (PD in the priority; with --compare-keys "
    "or the blend key)",
    "blend_key_capture_top20": "the same queue ranked with the blend key ((PD + pay_pd) / 2 in the priority; "
    "pay_pd from a payment-date model fitted on rows up to the PD version's labels_seen_until)",
    "watchlist_precision": "flagged live debtor-months that defaulted within the horizon / flagged live debtor-months",
    "watchlist_recall": "flagged live debtor-months that defaulted within the horizon / live debtor-months that did",
    "lead_time_median_days": "strict: days from the first month-end of the unbroken run of flagged month-ends "
    "that ends at the last month-end before the default, to the default; median over the defaults flagged "
    "at that last month-end (lead_time_flagged_share of all defaults seen live); runs start at --from at the earliest",
    "lead_time_episode_median_days": f"episode: as strict, but the run may have gaps of at most "
    f"{counted(EPISODE_GAP_MONTHS, 'unflagged month-end')} in a row and needs a flag at one of the last "
    f"{EPISODE_GAP_MONTHS + 1} month-ends before the default (lead_time_episode_share)",
    "lead_time_first_flag_median_days": "first flag: days from the first flagged month-end in the 365 days "
    "before the default, whatever came between (lead_time_first_flag_share)",
    "lead_time_reachable_median_days": f"strict, over the defaults at least {LEAD_TARGET_DAYS} days after the first "
    "replayed month-end their debtor was live at (defaults_reachable_for_lead_time; lead_time_reachable_share of them "
    f"flagged at the last month-end): a default sooner cannot show a {LEAD_TARGET_DAYS}-day lead in a replay that "
    "starts at --from, while a nightly running for months has no such start",
    "watchlist_list_share": "flagged live debtor-months / live debtor-months: the list's size as a share of the live book",
    "intervals": "95 % intervals by debtor bootstrap (backtest.bootstrap_samples replicates of the nightly config, "
    "seeded by backtest.bootstrap_seed: a rerun gives the same bytes): each replicate draws as many debtors as the "
    "backtest has, with replacement, and weighs all the month-ends (and lead times) of a debtor by the times it was "
    "drawn; a capture keeps the top 20 % of each month-end's weight (the row at the cut in part), the lead time is "
    "the median of the drawn lead times; low / high are the 2.5th and 97.5th percentiles of the replicates. n: what "
    "the figure rests on (rests_on: distinct defaulted debtors, or lead times); thin: n below backtest.min_defaults, "
    "too few to judge the figure. A share at exactly 100 % (0 %) cannot be exceeded by a replicate, and on few "
    "debtors every replicate may read it: there the interval reaches at least the exact binomial (Clopper-Pearson) "
    "bound of n of n (0 of n) debtors, 0.025 ** (1 / n) (e.g. [63.1 %, 100 %] for 8 of 8; n: the defaulted "
    "debtors, for the precision the flagged debtors)",
    "mode": "pd_model: the nightly replayed with a PD model version (or walk-forward refits); no_pd_model: the "
    "nightly without a PD model replayed (ews backtest --no-model, or no PD model champion: a book too small to "
    "train), as such a run publishes: no PD, band or expected loss, the collections queue ranked by days past due "
    "then the overdue amount (queue_capture_top20 is that order, the same as dpd_capture_top20), the watchlist "
    "triggers that need no PD (limit_breach, dpd_bucket, event); list_sizes, the oracle's ratio and the queue minus "
    "days-past-due order are left out",
    "triggers": "each watchlist trigger that fired, on its own (fired at a month-end, before the list's holds): "
    "fired (live debtor-months with an observed horizon), fired_defaulted, precision (fired_defaulted / fired), "
    "recall (fired_defaulted / the live debtor-months that defaulted within the horizon), "
    "lead_time_first_fire_median_days (days from the trigger's first firing in the 365 days before a default to "
    "the default, median over the defaults it fired on; lead_time_first_fire_share of the defaults seen). "
    "The replay fires at month-ends: dpd_bucket compares one month-end's days past due with the previous "
    "month-end's (a nightly compares consecutive nights, so a crossing cured within the month fires there and "
    "not here); event reads the events dated after the previous month-end and the payment plans broken since "
    "(checked at each month-end against the payments), and the invoices disputed since with "
    "triggers.event.disputes; limit_breach without a PD model: the overdue amount above the limit on file, at "
    "every month-end while it lasts",
    "queue_minus_dpd_capture_top20": "queue_capture_top20 - dpd_capture_top20, with its paired interval (both "
    "orders on the same replicates)",
    "queue_over_oracle_capture_top20": "queue_capture_top20 / oracle_capture_top20 (the target: >= 0.95), with its "
    "paired interval",
    "defaults_for_lead_time": "defaults (debtor, first default day) on or before the book's last observed day, each "
    "within the horizon after a month-end where the debtor was live, at any replayed month-end (also those whose "
    "horizon is not wholly observed): the lead-time shares are shares of these",
    "debtor_months_live": "live (not in default) debtor-months at the month-ends with an observed horizon",
    "defaults_in_horizon": "of debtor_months_live, those whose debtor defaulted within the horizon (the watchlist "
    "recall's denominator); a debtor defaulting counts once per month-end it was live in the horizon before",
    "list_sizes": "the watchlist's precision, recall and strict lead time for lists of each share s of the live "
    "debtors (settings.list_shares), re-flagged on the same PDs: rule 'rank' = the rank trigger alone at "
    "triggers.rank.top_share s, held while in the top s x stay_top_share / top_share (the absolute triggers "
    "off); rule 'rules' = the same rank trigger beside the config's other triggers. list_share: the list's "
    "actual size (ties and the hold make it larger than s, the PD floor min_pd = triggers.rank.min_pd smaller: "
    "under_floor_share, the live debtor-months inside the top s whose PD was under the floor and that were "
    "not on the list); set triggers.rank in the nightly config to the size chosen",
}


LABELS: dict[str, str] = {
    "queue_capture_top20": "Queue: bad balance caught by its top 20 %",
    "oracle_capture_top20": "  the same, ordered by the true PD (ceiling)",
    "dpd_capture_top20": "  the same, ordered by days past due",
    QUEUE_MINUS_DPD: "  queue minus days-past-due order",
    QUEUE_OVER_ORACLE: "  queue / the ceiling (target 0.95 x)",
    "balance_capture_top20": "  the same, ordered by balance",
    "pd_key_capture_top20": "  the same, PD key",
    "blend_key_capture_top20": "  the same, blend key",
    "watchlist_precision": "Watchlist precision (flags that defaulted)",
    "watchlist_recall": "Watchlist recall (defaults that were flagged)",
    "watchlist_list_share": "Watchlist size (share of live debtor-months)",
    "lead_time_median_days": "Lead time, median (strict)",
    "lead_time_flagged_share": "  defaults flagged at the last month-end",
    "lead_time_episode_median_days": "Lead time, median (episode)",
    "lead_time_episode_share": "  defaults flagged in an episode",
    "lead_time_episode_gap_months": "  episode gap allowed (month-ends)",
    "lead_time_first_flag_median_days": "Lead time, median (first flag in 365 days)",
    "lead_time_first_flag_share": "  defaults flagged at least once",
    "lead_time_reachable_median_days": f"Lead time, median (strict, {LEAD_TARGET_DAYS}+ d into replay)",
    "lead_time_reachable_share": "  of those, flagged at the last month-end",
    "defaults_for_lead_time": "Lead times: defaults seen (any month-end)",
    "defaults_reachable_for_lead_time": f"  of which {LEAD_TARGET_DAYS}+ days into the replay",
    "months": "Month-ends replayed",
    "months_with_observed_horizon": "  with an observed horizon",
    "debtor_months_live": "Live debtor-months",
    "queue_debtor_months": "Queue debtor-months",
    "defaults_in_horizon": "  of which defaulted within the horizon",
    "bad_balance_in_queue": "Bad balance in the queue",
}
"""How ``ews backtest`` prints its figures (:func:`figure_lines`); backtest.json keeps the keys."""


def figure_text(key: str, value: Any, currency: str | None = None, places: int = 2) -> str:
    """A figure in its unit: shares as percentages, days, the bad balance with its currency, counts
    with thousands separators ("n/a" when there is none)."""
    if value is None:
        return "n/a"
    if key == "bad_balance_in_queue":
        return f"{value:,.{places}f}" + (f" {currency}" if currency else "")
    if key.endswith(("_top20", "_share", "_precision", "_recall")):
        return f"{100 * value:.1f} %"
    if key.endswith("_days"):
        return f"{value:,.1f} days"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def interval_value(key: str, value: float | None) -> str:
    """A figure of :func:`figure_intervals` in its unit: the paired difference in percentage points
    ("+12.5 pts"), the ratio to the ceiling as "0.950 x", the others as :func:`figure_text`."""
    if value is None:
        return "n/a"
    if key == QUEUE_MINUS_DPD:
        return f"{100 * value:+.1f} pts"
    if key == QUEUE_OVER_ORACLE:
        return f"{value:.3f} x"
    return figure_text(key, value)


def interval_words(key: str, entry: dict[str, Any], min_defaults: int) -> str:
    """The 95 % interval (left out without replicates) and what the figure rests on, e.g. "[62.0 %,
    100.0 %] on 8 defaulted debtors in the queue: too thin to judge (fewer than 10)"."""
    span = ""
    if entry["low"] is not None and entry["high"] is not None:
        span = f"[{interval_value(key, entry['low'])}, {interval_value(key, entry['high'])}] "
    thin = f": too thin to judge (fewer than {min_defaults})" if entry["thin"] else ""
    return f"{span}on {entry['rests_on']}{thin}"


def figure_lines(
    figures: dict[str, Any],
    currency: str | None = None,
    places: int = 2,
    intervals: dict[str, Any] | None = None,
) -> list[str]:
    """One line per figure for the console: a plain label, the value in its unit
    (:func:`figure_text`) and the backtest.json key, so a reader can find its definition there. With
    ``intervals`` (:func:`figure_intervals`) a headline figure also gives its 95 % interval and what it
    rests on ("too thin to judge" below ``min_defaults``), the queue minus days-past-due order follows
    the days-past-due figure and the queue / the ceiling follows the oracle's."""
    given = (intervals or {}).get("figures", {})
    least = (intervals or {}).get("min_defaults", 0)
    after = {"dpd_capture_top20": QUEUE_MINUS_DPD, "oracle_capture_top20": QUEUE_OVER_ORACLE}

    def line(key: str, text: str) -> str:
        extra = f" {interval_words(key, given[key], least)}" if key in given else ""
        return f"{LABELS.get(key, key):46s} {text:>18s}{extra}  ({key})"

    lines = []
    for key, value in figures.items():
        lines.append(line(key, figure_text(key, value, currency, places)))
        derived = after.get(key)
        if derived in given:
            lines.append(line(derived, interval_value(derived, given[derived]["value"])))
    if given and intervals and intervals.get("samples"):
        lines.append(
            f"Intervals: 95 % by debtor bootstrap, {counted(intervals['samples'], 'replicate')} "
            "(backtest.bootstrap_samples in the nightly config); a figure on fewer than "
            f"{counted(least, 'defaulted debtor')} (or lead times) is too thin to judge (backtest.min_defaults)"
        )
    return lines


@dataclass
class BacktestResult:
    """What ``ews backtest`` writes: figures, per-month rows, curves, leakage and settings."""

    figures: dict[str, Any]
    months: list[dict[str, Any]]
    curves: dict[str, list[float]]
    lead_times: pd.DataFrame
    leakage: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    list_sizes: list[dict[str, Any]] = field(default_factory=list)
    intervals: dict[str, Any] = field(default_factory=dict)
    triggers: dict[str, Any] = field(default_factory=dict)
    mode: str = "pd_model"

    def to_json(self) -> str:
        body = {
            "mode": self.mode,
            "figures": self.figures,
            "triggers": self.triggers,
            "intervals": self.intervals,
            "definitions": DEFINITIONS,
            "leakage": self.leakage,
            "settings": self.settings,
            "list_sizes": self.list_sizes,
            "months": self.months,
            "curves": self.curves,
        }
        return json.dumps(body, indent=2, default=str) + "\n"


# what a training for a leak-free backtest does to production (s31: the gate promoted it before)
CHAMPION_KEPT = "the champion keeps scoring and forecasting"


def leakage_note(leak: dict[str, Any]) -> str:
    """One sentence on what the model saw (shown in backtest.html and printed by the CLI)."""
    if leak.get("no_model"):
        return (
            f"No PD model ({leak.get('why')}): the nightly without one replayed, as `ews score` runs it on a book "
            "too small to train. The queue is ranked by days past due, then the overdue amount (queue_capture_top20 "
            "is that order); the watchlist has the triggers that need no PD (limit_breach, dpd_bucket, event). "
            "Nothing was learned from these outcomes."
        )
    if leak.get("walk_forward"):
        fits = leak["walk_forward"]
        verdict = "IN-SAMPLE on " + ", ".join(leak["in_sample"]) if leak["in_sample"] else "out of sample"
        return (
            f"Walk-forward: {len(fits)} models refitted every {counted(leak['refit_every_months'], 'month-end')} "
            f"({fits[0]['refit_on']} .. {fits[-1]['refit_on']}); each learned only labels observed by its "
            f"refit date and scores the month-ends from there to the next refit: {verdict}."
        )
    if leak.get("in_sample") is None:
        return (
            "The model records no training cut (ews.trained_through): it may have seen these months. "
            f"For a leak-free backtest train with snapshots.end <= {leak['leak_free_end']} and pass --model "
            f"(such a model of older data is registered, not promoted: {CHAMPION_KEPT})."
        )
    if leak["in_sample"]:
        return (
            f"IN-SAMPLE: the model learned labels observed up to {leak['labels_seen_until']} (trained through "
            f"{leak['trained_through']}), so it saw the outcome of {len(leak['in_sample'])} of these month-ends "
            f"({leak['in_sample'][0]} .. {leak['in_sample'][-1]}); the figures there flatter it. "
            + (
                f"Version {leak['leak_free_versions'][0][0]} in the registry saw none of these outcomes (labels "
                f"observed up to {leak['leak_free_versions'][0][1]}): pass --model {leak['leak_free_versions'][0][0]}. "
                "Or train"
                if leak.get("leak_free_versions")
                else "Train"
            )
            + f" a model with snapshots.end <= {leak['leak_free_end']} in a train config (`ews train --config ...`) "
            f"and pass --model VERSION; that model of older data is registered, not promoted: {CHAMPION_KEPT}."
        )
    return f"Out of sample: the model learned labels observed up to {leak['labels_seen_until']}, before every month-end here."


ROW_COLUMNS = ["as_of", "debtor_id", "segment", "in_default", "pd", "band", "flagged", "open_balance",
               "overdue_amount", "dpd", "label", "first_default_date", "horizon_observed",
               "pay_pd", "credit_limit_current", "credit_limit_recommended"]  # fmt: skip


def write_backtest(result: BacktestResult, out: Path, panel: pd.DataFrame | None = None) -> dict[str, Path]:
    """``backtest.json`` and a self-contained ``backtest.html`` (inline SVG plots) in ``out``;
    with ``panel`` (:func:`replay`'s rows) also ``backtest_rows.parquet``: one row per debtor and
    month-end (PD, band, flag, balances, label; ``pay_pd`` when the panel has it), to audit or
    re-cut the figures."""
    from pipelines.adapters.files import atomic_path, write_text_atomic
    from pipelines.backtest_report import render_backtest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "backtest.json": write_text_atomic(result.to_json(), out / "backtest.json"),
        "backtest.html": write_text_atomic(
            render_backtest(result, leakage_note(result.leakage)), out / "backtest.html"
        ),
    }
    if panel is not None:
        with atomic_path(out / "backtest_rows.parquet") as tmp:
            panel[[c for c in ROW_COLUMNS if c in panel.columns]].to_parquet(tmp, index=False)
        files["backtest_rows.parquet"] = out / "backtest_rows.parquet"
    return files


def month_end_dates(start: dt.date, end: dt.date) -> list[pd.Timestamp]:
    """Calendar month-ends from ``start`` to ``end`` (inclusive)."""
    from features.snapshots import month_ends

    return month_ends(start, end)
