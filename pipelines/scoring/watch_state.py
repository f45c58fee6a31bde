"""Watchlist memory across runs: first flagged on, days on the list, owner, status and overrides.

Each run writes ``watch_state.parquet``: one row per debtor on tonight's watchlist or with an
override in force (:func:`pipelines.scoring.overrides.active_overrides`). The next run reads the
previous run's file to carry the episode on:

- a debtor flagged tonight that was on the previous run's list keeps its ``first_flagged_on``;
  otherwise its episode starts tonight. ``days_on_list`` = as-of - first_flagged_on (days).
- ``status``: the override's ``escalated`` / ``under_review`` / ``payment_plan`` when one is in force
  (a plan does not keep a debtor on the list; flagged, it reads as the plan the queue follows); else ``new`` on
  the first night of an episode and ``under_review`` after it. A debtor cleared by an analyst is
  kept off the list (``on_list`` false, status ``cleared``) until its PD rises by the jump trigger
  (``triggers.jump`` of the nightly config) above its PD at clearing; it is then flagged again as
  ``new`` and that clearing no longer applies (``void_seq``).
- ``escalated`` and ``under_review`` keep a live debtor on the list when no trigger fires, and so
  does a ``--band`` override at or above the threshold band (trigger column ``trigger_override``).
- ``watchlist.stay_days`` (nightly config, default 0) keeps a live debtor on the list that many days
  after its last trigger (``last_trigger_on``; trigger column ``trigger_stay``), so a one-night
  jump or migration does not drop off the next night; ``watchlist.stay_band`` keeps it on while
  its band stays at or above that band (enter at the threshold band, leave below this one), and
  ``watchlist.stay_top_share`` while its PD stays among that share of the highest PDs of the night's
  live debtors (enter by the ``rank`` trigger's ``top_share``, leave outside this one). A clearing
  still takes it off.
- ``owner``: tonight's queue owner when the debtor is in the queue, else the previous owner,
  else ``unassigned``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.ids import in_ids
from pipelines.scoring.plans import PLAN_STATUS

__all__ = ["STATE_FILE", "UNASSIGNED", "apply_overrides", "debtor_history", "watch_state", "with_state"]

STATE_FILE = "watch_state.parquet"
UNASSIGNED = "unassigned"
KEEPS_ON_LIST = ("escalated", "under_review")
MEMORY_TRIGGERS = ("trigger_stay", "trigger_override")  # not tonight's triggers: the list's memory

STATE_COLUMNS = [
    "as_of",
    "debtor_id",
    "on_list",
    "status",
    "first_flagged_on",
    "days_on_list",
    "owner",
    "pd",
    "band",
    "override_seq",
    "override_status",
    "override_band",
    "override_by",
    "override_reason",
    "override_until",
    "cleared_pd",
    "void_seq",
    "last_trigger_on",
]


def _jumped(pd_now: pd.Series, pd_then: pd.Series, cfg: NightlyConfig) -> pd.Series:
    """The jump trigger's test between two PDs (same index), False where either is missing."""
    j = cfg.triggers.jump
    rise = pd_now - pd_then
    rel = rise / pd_then.where(pd_then > 0)
    hit = (rise >= j.abs_min) & ((rel >= j.rel_min) | (pd_then == 0))
    return hit.fillna(False).astype(bool)


def stay_on_list(
    ids: pd.Series,
    live: np.ndarray,
    fired: np.ndarray,
    previous: pd.DataFrame | None,
    as_of: dt.date,
    stay_days: int,
    holding: np.ndarray | None = None,
) -> np.ndarray:
    """True for the live debtors of ``ids`` that no trigger flags tonight but that were on the
    previous list and either had their last trigger at most ``stay_days`` days before ``as_of``
    or are ``holding`` (same length as ``ids``: band at or above ``watchlist.stay_band``, see
    :func:`holding_band`; None: nobody).

    ``previous``: a watch state (``debtor_id``, ``on_list``, ``last_trigger_on``) or None."""
    if previous is None or previous.empty or "on_list" not in previous.columns:
        return np.zeros(len(ids), dtype=bool)
    prev = previous.set_index(previous["debtor_id"].astype("string"))
    key = pd.Index(ids.astype("string"))
    was_on = prev["on_list"].reindex(key).fillna(False).to_numpy(dtype=bool)
    keep = np.zeros(len(ids), dtype=bool) if holding is None else np.asarray(holding, dtype=bool)
    if stay_days and "last_trigger_on" in prev.columns:
        age = (pd.Timestamp(as_of) - pd.to_datetime(prev["last_trigger_on"].reindex(key))).dt.days
        keep = keep | (age <= stay_days).fillna(False).to_numpy(dtype=bool)
    return live & ~fired & was_on & keep


def holding_band(bands: pd.Series, cfg: NightlyConfig) -> np.ndarray | None:
    """True where the band is ``cfg.watchlist.stay_band`` or worse; None when it is not set."""
    stay = cfg.watchlist.stay_band
    if stay is None:
        return None
    order = {b.name: i for i, b in enumerate(cfg.bands)}
    rank = bands.astype("string").map(order).astype("float64")
    return (rank >= cfg.band_index(stay)).fillna(False).to_numpy(dtype=bool)


def holding(scored: pd.DataFrame, cfg: NightlyConfig) -> np.ndarray | None:
    """What keeps a flagged debtor on the list tonight (``stay_on_list``'s ``holding``): its band at
    or above ``watchlist.stay_band`` (:func:`holding_band`, needs ``band``) or its PD among the
    highest ``watchlist.stay_top_share`` of tonight's live debtors with a history
    (``pipelines.scoring.watchlist.rank_pool``) and at least
    ``triggers.rank.min_pd`` (needs ``pd`` and ``in_default``; the rank trigger's hysteresis, so off
    while ``triggers.rank.enabled`` is false); None when neither is set."""
    from pipelines.scoring.watchlist import in_top_share, rank_pool

    band = holding_band(scored["band"], cfg) if "band" in scored.columns else None
    # the rank trigger's hold: turning the trigger off turns it off too (before, `enabled: false` alone
    # left every debtor flagged by another trigger on the list while its PD was in the top fifth)
    share = cfg.watchlist.stay_top_share if cfg.triggers.rank.enabled else None
    if share is None:
        return band
    top = in_top_share(scored["pd"], rank_pool(scored), share, cfg.triggers.rank.min_pd).to_numpy(dtype=bool)
    return top if band is None else band | top


def _prev_void(previous: pd.DataFrame | None) -> pd.Series:
    if previous is None or "void_seq" not in previous.columns:
        return pd.Series(dtype="Int64")
    return previous.set_index(previous["debtor_id"].astype("string"))["void_seq"].astype("Int64")


def apply_overrides(
    flags: pd.DataFrame,
    scored: pd.DataFrame,
    overrides: pd.DataFrame | None,
    previous: pd.DataFrame | None,
    cfg: NightlyConfig,
    as_of: dt.date | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tonight's triggers (``pipelines.scoring.watchlist.triggers``) after the watchlist's memory
    (``trigger_stay``: :func:`stay_on_list` with ``cfg.watchlist.stay_days``, given ``as_of``) and
    the overrides in force.

    ``scored``: rows aligned with ``flags`` (``debtor_id``, ``pd``, ``in_default``); ``overrides``:
    :func:`pipelines.scoring.overrides.active_overrides`; ``previous``: the previous run's
    watch state or None. Returns (flags with added ``trigger_stay`` and ``trigger_override`` columns, the override
    effects: one row per debtor with an override, indexed by debtor_id, columns ``seq``,
    ``status``, ``band``, ``by``, ``reason``, ``until``, ``cleared_pd``, ``suppressed``,
    ``reflagged``, ``void_seq``). New frames; the inputs are not modified."""
    out = flags.copy()
    live_all = ~scored["in_default"].astype(bool).to_numpy()
    out["trigger_stay"] = False
    if as_of is not None:
        out["trigger_stay"] = stay_on_list(
            scored["debtor_id"],
            live_all,
            flags.to_numpy().any(axis=1),
            previous,
            as_of,
            cfg.watchlist.stay_days,
            holding(scored, cfg),
        )
    out["trigger_override"] = False
    cols = [
        "seq",
        "status",
        "band",
        "by",
        "reason",
        "until",
        "cleared_pd",
        "suppressed",
        "reflagged",
        "void_seq",
    ]
    if overrides is None or overrides.empty:
        return out, pd.DataFrame(columns=cols, index=pd.Index([], dtype="string", name="debtor_id"))
    ids = scored["debtor_id"].astype("string")
    ov = overrides.set_index(overrides["debtor_id"].astype("string"))
    ov = ov.loc[ov.index.isin(ids)]
    pos = pd.Series(np.arange(len(ids)), index=ids.to_numpy()).reindex(ov.index).to_numpy()
    live = ~scored["in_default"].astype(bool).to_numpy()[pos]
    pd_now = pd.Series(scored["pd"].to_numpy(dtype="float64")[pos], index=ov.index)
    fired = out.drop(columns="trigger_override").to_numpy()[pos].any(axis=1)

    eff = pd.DataFrame(index=ov.index)
    eff["seq"] = ov["seq"].astype("Int64")
    for c in ("status", "band", "by", "reason", "until"):
        eff[c] = ov[c]
    cleared = (ov["status"] == "cleared").to_numpy()
    eff["cleared_pd"] = ov["pd"].astype("float64").where(cleared)
    void_before = (_prev_void(previous).reindex(ov.index) == eff["seq"]).fillna(False).to_numpy(dtype=bool)
    jumped = _jumped(pd_now, eff["cleared_pd"], cfg).to_numpy()
    # a clearing ends when the PD jumps above the PD at clearing (then stays void for good)
    void = cleared & (void_before | (jumped & fired & live))
    suppress = cleared & ~void & live & fired
    eff["suppressed"] = suppress
    eff["reflagged"] = cleared & void & ~void_before
    eff["void_seq"] = eff["seq"].where(void)

    keep = np.isin(ov["status"].to_numpy(), KEEPS_ON_LIST)
    band_rank = {b.name: i for i, b in enumerate(cfg.bands)}
    over_band = ov["band"].map(band_rank).astype("float64").to_numpy()
    band_flag = (over_band >= cfg.band_index(cfg.triggers.threshold.band)) & ~cleared
    rows = out.index[pos]
    out.loc[rows[suppress], :] = False
    out.loc[rows, "trigger_override"] = (keep | band_flag) & live
    return out.astype(bool), eff


def _previous_frame(previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None or previous.empty:
        return pd.DataFrame(
            {"on_list": pd.Series(dtype=bool), "first_flagged_on": [], "owner": pd.Series(dtype="string")},
            index=pd.Index([], dtype="string"),
        )
    return previous.set_index(previous["debtor_id"].astype("string"))


def watch_state(
    watchlist: pd.DataFrame,
    scored: pd.DataFrame,
    effects: pd.DataFrame,
    previous: pd.DataFrame | None,
    as_of: dt.date,
    owners: pd.Series | None = None,
) -> pd.DataFrame:
    """Tonight's watch state (``STATE_COLUMNS``, sorted by debtor_id): the debtors on
    ``watchlist`` plus those with an override in ``effects`` (:func:`apply_overrides`).

    ``owners``: owner per debtor_id from tonight's queue (or None)."""
    prev = _previous_frame(previous)
    on_ids = pd.Index(watchlist["debtor_id"].astype("string").unique())
    ids = on_ids.union(pd.Index(effects.index.astype("string"))).sort_values()
    st = pd.DataFrame(index=pd.Index(ids, dtype="string", name="debtor_id"))
    st["as_of"] = pd.Timestamp(as_of)
    st["on_list"] = in_ids(st.index, on_ids)
    was_on = prev["on_list"].reindex(st.index).fillna(False).astype(bool)
    carried = pd.to_datetime(prev["first_flagged_on"].reindex(st.index))
    first = carried.where(was_on & st["on_list"], pd.Timestamp(as_of)).where(st["on_list"])
    st["first_flagged_on"] = first
    st["days_on_list"] = (pd.Timestamp(as_of) - first).dt.days.astype("Int64")

    eff = effects.reindex(st.index)
    status = pd.Series(np.where(st["days_on_list"].fillna(0) > 0, "under_review", "new"), index=st.index)
    keep = eff["status"].isin(KEEPS_ON_LIST).fillna(False).astype(bool)
    status = status.where(~keep, eff["status"])
    plan = (eff["status"] == PLAN_STATUS).fillna(False).astype(bool)  # reads as the queue's monitor_plan
    status = status.where(~plan, PLAN_STATUS)
    cleared = (eff["status"] == "cleared").fillna(False).astype(bool) & eff["void_seq"].isna()
    status = status.where(~cleared, "cleared")
    off = ~st["on_list"] & ~cleared
    status = status.where(~off, eff["status"])  # off the list with another override: its status
    st["status"] = status.astype("string")

    owner = pd.Series(pd.NA, index=st.index, dtype="string")
    if owners is not None:
        owner = owners.astype("string").reindex(st.index)
    owner = owner.fillna(prev["owner"].astype("string").reindex(st.index)).fillna(UNASSIGNED)
    st["owner"] = owner.astype("string")

    sc = scored.set_index(scored["debtor_id"].astype("string"))
    st["pd"] = sc["pd"].reindex(st.index).astype("float64")
    st["band"] = sc["band"].reindex(st.index).astype("string")
    st["override_seq"] = eff["seq"].astype("Int64")
    st["override_status"] = eff["status"].astype("string")
    st["override_band"] = eff["band"].astype("string")
    st["override_by"] = eff["by"].astype("string")
    st["override_reason"] = eff["reason"].astype("string")
    st["override_until"] = pd.to_datetime(eff["until"])
    st["cleared_pd"] = eff["cleared_pd"].astype("float64")
    st["void_seq"] = eff["void_seq"].astype("Int64")
    own = [c for c in watchlist.columns if c.startswith("trigger_") and c not in MEMORY_TRIGGERS]
    fired_ids = watchlist.loc[watchlist[own].any(axis=1), "debtor_id"].astype("string") if own else []
    carried_last = (
        pd.to_datetime(prev["last_trigger_on"].reindex(st.index)) if "last_trigger_on" in prev else None
    )
    last = pd.Series(pd.NaT, index=st.index, dtype="datetime64[ns]") if carried_last is None else carried_last
    last = last.where(~in_ids(st.index, fired_ids), pd.Timestamp(as_of)).where(st["on_list"])
    st["last_trigger_on"] = last
    out = st.reset_index()
    out["debtor_id"] = out["debtor_id"].astype("string")
    return out[STATE_COLUMNS]


WATCHLIST_STATE_COLUMNS = [
    "status",
    "first_flagged_on",
    "days_on_list",
    "owner",
    "override_band",
    "override_by",
    "override_reason",
    "override_until",
]


def with_state(watchlist: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """The watchlist with its state columns (``WATCHLIST_STATE_COLUMNS``) after ``triggers``; a
    debtor on the list by an override alone gets triggers ``override (<status>)``."""
    st = state.set_index(state["debtor_id"].astype("string"))[WATCHLIST_STATE_COLUMNS]
    wl = watchlist.join(st, on="debtor_id")
    if "trigger_override" in wl.columns:
        only = wl["trigger_override"].astype(bool) & (wl["triggers"].fillna("") == "")
        label = "override (" + wl["status"].astype(str) + ")"
        wl["triggers"] = wl["triggers"].where(~only, label)
    if "trigger_stay" in wl.columns:
        # in words, with the day of the flag that keeps it there (before session 26 the cell read
        # "stay (watchlist.stay_days or stay_band)": config keys, not what happened)
        only = wl["trigger_stay"].astype(bool) & (wl["triggers"].fillna("") == "")
        label = pd.Series("kept on the list after an earlier flag", index=wl.index, dtype="string")
        if "last_trigger_on" in state.columns:
            last = pd.to_datetime(state.set_index(state["debtor_id"].astype("string"))["last_trigger_on"])
            day = wl["debtor_id"].astype("string").map(last.dt.strftime("%Y-%m-%d")).astype("string")
            label = label.where(day.isna(), "kept on the list after its flag of " + day)
        wl["triggers"] = wl["triggers"].where(~only, label)
    cols = list(watchlist.columns)
    if "band" in wl.columns:
        # the band in force is the analyst's (``--band``), the model's beside it: "band B" read on after
        # an analyst set C (s39-walk F3); the queues, credit limits and scores keep the model's band
        wl["model_band"] = wl["band"].astype("string")
        set_by = wl["override_band"].astype("string")
        wl["band"] = set_by.where(set_by.notna() & (set_by != ""), wl["model_band"])
        cols.insert(cols.index("band") + 1, "model_band")
    at = cols.index("triggers") + 1 if "triggers" in cols else len(cols)
    order = cols[:at] + WATCHLIST_STATE_COLUMNS + cols[at:]
    return wl[order].reset_index(drop=True)


def debtor_history(runs_dir: str | Path, debtor_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One debtor over the published runs in ``runs_dir``, and its overrides.

    Returns (runs: one row per run holding the debtor, oldest first, with ``as_of``, ``pd``,
    ``band`` (an analyst's ``--band`` in force that run, else the model's), ``model_band``, ``in_default``, ``flagged``, ``triggers``, ``status``, ``days_on_list``, ``owner``;
    overrides: the debtor's audit-log lines, ``pipelines.scoring.overrides.COLUMNS``)."""
    from pipelines.adapters.publish import published_runs
    from pipelines.scoring.overrides import log_frame, read_log

    rows = []
    key = [("debtor_id", "==", debtor_id)]
    for run in published_runs(Path(runs_dir)):
        sc = pd.read_parquet(run / "scores.parquet", columns=["pd", "band", "in_default"], filters=key)
        if sc.empty:
            continue
        row = {"as_of": run.name, **sc.iloc[0].to_dict(), "flagged": False, "triggers": ""}
        row.update(status="", days_on_list=pd.NA, owner="", model_band=row["band"])
        if (run / "watchlist.parquet").exists():
            wl = pd.read_parquet(run / "watchlist.parquet", filters=key)
            if len(wl):
                row.update(flagged=True, triggers=str(wl["triggers"].iloc[0]))
        if (run / STATE_FILE).exists():
            st = pd.read_parquet(run / STATE_FILE, filters=key)
            if len(st):
                row.update(
                    status=st["status"].iloc[0],
                    days_on_list=st["days_on_list"].iloc[0],
                    owner=st["owner"].iloc[0],
                )
                set_by = st["override_band"].iloc[0] if "override_band" in st else None
                if isinstance(set_by, str) and set_by:  # the analyst's band in force that run
                    row["band"] = set_by
        rows.append(row)
    cols = [
        "as_of",
        "pd",
        "band",
        "model_band",
        "in_default",
        "flagged",
        "triggers",
        "status",
        "days_on_list",
        "owner",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    log = log_frame(read_log(runs_dir))
    return frame, log.loc[log["debtor_id"] == debtor_id].reset_index(drop=True)


def override_summary(
    runs_dir: str | Path,
    as_of: dt.date,
    watchlist: pd.DataFrame,
    effects: pd.DataFrame,
    days: int = 30,
    lines: int | None = None,
) -> dict[str, object]:
    """The report's overrides section: the audit-log lines entered after reviewing a run of the
    last ``days`` days before ``as_of``, or in force tonight (``effects``), newest first, and the
    override rate.

    Override rate = debtors overridden in that window / debtors on a watchlist of a run in it
    (tonight's included) or overridden. Only the log and published runs before ``as_of`` are read,
    so a rerun of a date gives the same section. ``lines``: the log's first ``lines`` lines only (those
    the run found when it started, :func:`pipelines.scoring.overrides.read_log`)."""
    from pipelines.adapters.publish import published_runs
    from pipelines.scoring.overrides import log_frame, read_log

    day = pd.Timestamp(as_of)
    since = day - pd.Timedelta(days=days)
    log = log_frame(read_log(runs_dir, lines))
    # entered after reviewing a run of the window, or in force tonight (a monthly book's override of the
    # previous month-end, 31 days back: before session 30 "No overrides in this period" beside "1
    # override in force tonight")
    in_force = log["seq"].isin(effects["seq"]) if "seq" in effects else False
    recent = log.loc[((log["run"] >= since) | in_force) & (log["run"] < day)].sort_values(
        "seq", ascending=False
    )
    flagged = set(watchlist["debtor_id"].astype(str))
    for run in published_runs(Path(runs_dir)):
        if since <= pd.Timestamp(run.name) < day and (run / "watchlist.parquet").exists():
            flagged |= set(
                pd.read_parquet(run / "watchlist.parquet", columns=["debtor_id"])["debtor_id"].astype(str)
            )
    overridden = set(recent["debtor_id"].astype(str))
    base = flagged | overridden
    rows = [
        {
            "seq": int(r.seq),
            "at": r.at.strftime("%Y-%m-%d %H:%M"),
            "debtor_id": r.debtor_id,
            "status": r.status,
            # before s39: "nan" for an override without --band (the log's null band read as NaN)
            "band": "" if pd.isna(r.band) else str(r.band),
            "by": r.by,
            "reason": r.reason,
            "until": "" if pd.isna(r.until) else r.until.date().isoformat(),
            "run": r.run.date().isoformat(),
            "pd": None if pd.isna(r.pd) else float(r.pd),
        }
        for r in recent.itertuples(index=False)
    ]
    return {
        "days": days,
        "since": since.date().isoformat(),
        "rows": rows,
        "debtors": len(overridden),
        "flagged": len(base),
        "rate": len(overridden) / len(base) if base else 0.0,
        "in_force": int(len(effects)),
        "kept_off": int(effects["suppressed"].sum()) if len(effects) else 0,
        "reflagged": int(effects["reflagged"].sum()) if len(effects) else 0,
    }
