"""Session 42 (s42-pdless): watchlist triggers that need no PD, on hand-made two-night score frames.

Before, a run without a PD model had one trigger, ``limit_breach``: a debtor going from 25 to 95 days past due,
or an agency placement the default definition does not count, left the watchlist empty. ``dpd_bucket``: the
days past due of the oldest overdue open invoice (``dpd_current_max``) in a higher bucket of
``triggers.dpd_bucket.buckets`` ([30, 60, 90]) than in the previous run. ``event``: an event dated after the
previous run's as-of date, or an open invoice newly disputed. Both fire in runs without a PD model, and in runs
with one only with their ``with_pd_model``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.config.nightly import NightlyConfig
from pipelines.report import shown_triggers
from pipelines.scoring.watchlist import build_watchlist, compare_with_previous, triggers

CFG = NightlyConfig()
# the dispute part of event is off by default since session 44 (s44-pdless); these tests read it switched on
DISPUTES = NightlyConfig.model_validate({"triggers": {"event": {"disputes": True}}})
PREV_DAY, DAY = pd.Timestamp("2024-05-31"), pd.Timestamp("2024-06-30")


def night(day: pd.Timestamp, rows: list[tuple[str, float, float, bool]]) -> pd.DataFrame:
    """Scores of a run without a PD model: (debtor, days past due, disputed amount, in default)."""
    frame = pd.DataFrame(rows, columns=["debtor_id", "dpd_current_max", "open_disputed_amount", "in_default"])
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    frame["as_of"] = day
    frame["pd"] = np.nan
    frame["band"] = pd.Series(pd.NA, index=frame.index, dtype="string").where(~frame["in_default"], "default")
    frame["open_balance"] = 1000.0
    frame["overdue_amount"] = 1000.0
    return frame


PREVIOUS = night(
    PREV_DAY,
    [
        ("a", 25, 0, False),  # -> 35: into 30+
        ("b", 35, 0, False),  # -> 59: same bucket
        ("c", 59, 0, False),  # -> 95: skips 60+, into 90+ (one flag)
        ("d", 95, 0, False),  # -> 40: paid the oldest, a lower bucket
        ("e", 10, 0, False),  # -> 10, newly disputes 400
        ("f", 10, 300, False),  # -> 10, still disputes (more)
        ("g", 0, 0, False),  # -> 0, an agency placement on 06-10 (not in this definition's event_kinds)
        ("h", 0, 0, False),  # -> 0, an agency placement on 05-20, before the previous run
        ("i", 80, 0, False),  # -> in default at 100 days: no trigger (the recovery queue)
    ],
)
TODAY = night(
    DAY,
    [
        ("a", 35, 0, False),
        ("b", 59, 0, False),
        ("c", 95, 0, False),
        ("d", 40, 0, False),
        ("e", 10, 400, False),
        ("f", 10, 500, False),
        ("g", 0, 0, False),
        ("h", 0, 0, False),
        ("i", 100, 0, True),
        ("j", 45, 0, False),  # new tonight (absent from the previous run) at 45 days: into 30+
    ],
)
EVENTS = pd.DataFrame(
    {
        "debtor_id": pd.array(["g", "h"], dtype="string"),
        "event": pd.array(["agency_placement", "agency_placement"], dtype="string"),
        "event_on": pd.to_datetime(["2024-06-10", "2024-05-20"]),
    }
)


def flagged(previous: pd.DataFrame | None, cfg: NightlyConfig = CFG, no_model: bool = True) -> pd.DataFrame:
    scored = compare_with_previous(TODAY, previous)
    scored = scored.merge(EVENTS, on="debtor_id", how="left").set_axis(scored.index)
    flags = triggers(scored, cfg, has_previous=previous is not None, no_model=no_model)
    return flags.set_axis(scored["debtor_id"].tolist())


def test_days_past_due_crossing_into_a_later_bucket_fires_once_per_crossing() -> None:
    out = flagged(PREVIOUS)
    got = out.index[out["trigger_dpd_bucket"]].tolist()
    assert got == ["a", "c", "j"]  # b same bucket, d fell back, i in default
    assert not out[["trigger_threshold", "trigger_jump", "trigger_migration", "trigger_rank"]].any().any()


def test_a_new_event_or_a_new_dispute_fires_event() -> None:
    out = flagged(PREVIOUS, DISPUTES)
    # e disputes 400 tonight, 0 before; g's placement is dated after 05-31; f disputed already; h's is old
    assert out.index[out["trigger_event"]].tolist() == ["e", "g"]
    # the dispute part only with triggers.event.disputes (off by default since s44-pdless: below the base rate)
    out = flagged(PREVIOUS)
    assert out.index[out["trigger_event"]].tolist() == ["g"]


def test_the_first_run_fires_neither_and_a_run_with_a_pd_model_only_when_asked() -> None:
    assert not flagged(None)[["trigger_dpd_bucket", "trigger_event"]].any().any()
    with_model = flagged(PREVIOUS, no_model=False)
    assert not with_model[["trigger_dpd_bucket", "trigger_event"]].any().any()
    asked = NightlyConfig.model_validate(
        {
            "triggers": {
                "dpd_bucket": {"with_pd_model": True},
                "event": {"with_pd_model": True, "disputes": True},
            }
        }
    )
    out = flagged(PREVIOUS, asked, no_model=False)
    assert out.index[out["trigger_dpd_bucket"]].tolist() == ["a", "c", "j"]
    assert out.index[out["trigger_event"]].tolist() == ["e", "g"]
    off = NightlyConfig.model_validate({"triggers": {"dpd_bucket": {"enabled": False}}})
    assert not flagged(PREVIOUS, off)["trigger_dpd_bucket"].any()


def test_the_buckets_come_from_the_config_not_the_default_definition() -> None:
    cfg = NightlyConfig.model_validate({"triggers": {"dpd_bucket": {"buckets": [15, 45]}}})
    out = flagged(PREVIOUS, cfg)
    # 15 / 45: a 25 -> 35 (same bucket 15-44), b 35 -> 59 (into 45+), c 59 -> 95 (same 45+), j 0 -> 45 (into 45+)
    assert out.index[out["trigger_dpd_bucket"]].tolist() == ["b", "j"]
    for bad in ([60, 30], [0, 30], [30, 30]):
        with pytest.raises(ValidationError, match="ascending order"):
            NightlyConfig.model_validate({"triggers": {"dpd_bucket": {"buckets": bad}}})


def test_the_watchlist_says_what_moved_in_a_sentence() -> None:
    scored = compare_with_previous(TODAY, PREVIOUS)
    scored = scored.merge(EVENTS, on="debtor_id", how="left").set_axis(scored.index)
    scored["name"] = scored["debtor_id"]
    flags = triggers(scored, DISPUTES, has_previous=True, no_model=True)
    empty = pd.DataFrame(index=pd.Index([], dtype="string"))
    wl = build_watchlist(scored, flags, empty, [], DISPUTES, None, "EUR").set_index("debtor_id")
    assert sorted(wl.index) == ["a", "c", "e", "g", "j"]
    assert wl.loc["a", "news_note"] == "35 days past due, 25 in the previous run: now past 30"
    assert wl.loc["c", "news_note"] == "95 days past due, 59 in the previous run: now past 90"
    assert wl.loc["j", "news_note"] == "45 days past due, 0 in the previous run: now past 30"
    assert wl.loc["e", "news_note"] == "EUR 400 newly disputed"
    assert wl.loc["g", "news_note"] == "agency_placement event on 2024-06-10"
    assert wl.loc["a", "triggers"] == "dpd_bucket" and wl.loc["g", "triggers"] == "event"


def test_the_report_counts_the_triggers_that_can_fire() -> None:
    assert shown_triggers(CFG, no_model=True) == ["limit_breach", "dpd_bucket", "event"]
    assert shown_triggers(CFG, no_model=False) == [
        "threshold", "jump", "migration", "new_entrant", "limit_breach", "rank"
    ]  # fmt: skip
    asked = NightlyConfig.model_validate({"triggers": {"event": {"with_pd_model": True}}})
    assert shown_triggers(asked, no_model=False)[-1] == "event"


def test_the_notice_says_the_moves_into_default_beside_the_minimum_they_are_compared_with() -> None:
    """The PD-less notice said the debtors in default tonight beside a minimum that counts moves into default
    from one month-end to the next (s41-pdless's "not done"): now one figure, the moves, against the minimum."""
    from pipelines.commands.score import _moves_said
    from pipelines.scoring.nomodel import NoModel, notice

    none = NoModel("ews-pd", "no version of 'ews-pd' is registered in sqlite:///x.db")
    book = pd.DataFrame({"in_default": [False, False, True]})
    said = notice(none, book, "2024-01-05", "2024-06-30", 3, moves=2)
    assert (
        "This book has 3 debtors over 6 months of dated history (from 2024-01-05) and 2 moves into default from "
        "one month-end to the next so far, of the 3 the smallest PD model ews trains (the roll-rate model) needs "
        "(rollrate.min_default_transitions in the train config; `ews train` counts the same moves and names what "
        "else is missing when it refuses). Tonight's run" in said
    )
    assert "in default tonight" not in said
    enough = notice(none, book, "2024-01-05", "2024-06-30", 3, moves=13)
    assert " and 13 moves into default from one month-end to the next so far, enough for the 3 " in enough
    assert "refuses): run `ews train`. Tonight's run" in enough
    unknown = notice(none, book, "2024-01-05", "2024-06-30", 3)  # a book over MOVES_MAX_DEBTORS
    assert ", 1 debtor in default tonight. The smallest PD model" in unknown
    assert (
        _moves_said({"moves": 1, "needed": 3}) == "; 1 of the 3 moves into default the first PD model needs"
    )
    assert _moves_said({"moves": 13, "needed": 3}) == (
        "; 13 moves into default, at least the 3 the first PD model needs: run ews train"
    )
    assert _moves_said(None) == ""
