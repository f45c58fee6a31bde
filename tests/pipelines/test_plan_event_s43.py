"""Session 43 (s43-pdless): a payment plan that breaks fires the watchlist's ``event`` trigger, once, on the run
where it breaks (s42-pdless "not done": before, a broken plan changed the queue's action only).

Plans (``payment_plans``), each agreed 2024-04-20 with instalments monthly from ``first_due``; an instalment is
due 7 days after its due date; runs on 2024-05-31, 06-30 and 07-31 (cutoffs 05-24, 06-23, 07-24):

    debtor  plan                  paid                       05-31          06-30            07-31
    x       3 x 100 from 05-10    100 on 05-12               100 of 100     100 of 200:      100 of 300:
                                                             kept           BROKEN -> fires  broken, no news
    y       3 x 100 from 05-10    100 on 05-12, 100 on 06-08 kept           kept             200 of 300: broken
    w       2 x 100 from 05-01    nothing                    0 of 100:      broken           not in force
                                                             broken         (no news)        (06-01 + 30 d < 07-31)
    s       as y                  as y                       kept           kept             200 of 300: broken
            (with ``status: broken`` in the table at 06-30: the status test)
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.flows.nightly import with_plan_news
from pipelines.scoring.plans import kept_in_queues, plan_news
from pipelines.scoring.watchlist import build_watchlist, compare_with_previous, triggers

CFG = NightlyConfig()
RUNS = [pd.Timestamp(d) for d in ("2024-05-31", "2024-06-30", "2024-07-31")]


def plans(s_status: str = "active") -> pd.DataFrame:
    rows = [
        ("x", "2024-05-10", 3, "active"),
        ("y", "2024-05-10", 3, "active"),
        ("w", "2024-05-01", 2, "active"),
        ("s", "2024-05-10", 3, s_status),
    ]
    return pd.DataFrame(
        {
            "debtor_id": pd.array([r[0] for r in rows], dtype="string"),
            "agreed_on": pd.to_datetime(["2024-04-20"] * len(rows)),
            "first_due": pd.to_datetime([r[1] for r in rows]),
            "installments": pd.array([r[2] for r in rows], dtype="Int64"),
            "installment_amount": [100.0] * len(rows),
            "status": pd.array([r[3] for r in rows], dtype="string"),
        }
    )


PAYMENTS = pd.DataFrame(
    {
        "debtor_id": pd.array(["x", "y", "y", "s", "s"], dtype="string"),
        "paid_on": pd.to_datetime(["2024-05-12", "2024-05-12", "2024-06-08", "2024-05-12", "2024-06-08"]),
        "amount": [100.0] * 5,
    }
)


def night(day: pd.Timestamp) -> pd.DataFrame:
    """Scores of a run without a PD model: every debtor live, 10 days past due, nothing disputed."""
    ids = ["x", "y", "w", "s", "n"]
    return pd.DataFrame(
        {
            "debtor_id": pd.array(ids, dtype="string"),
            "as_of": day,
            "pd": np.nan,
            "band": pd.array([pd.NA] * len(ids), dtype="string"),
            "in_default": False,
            "dpd_current_max": 10.0,
            "open_disputed_amount": 0.0,
            "open_balance": 1000.0,
            "overdue_amount": 500.0,
            "name": ids,
        }
    )


def fired_on(day: pd.Timestamp, prev: pd.Timestamp, table: pd.DataFrame, prev_dir=None) -> list[str]:
    scored = compare_with_previous(night(day), night(prev))
    statics = SimpleNamespace(payment_plans=table, payments=PAYMENTS)
    scored = with_plan_news(scored, statics, night(prev), prev_dir, day.date(), "EUR")
    flags = triggers(scored, CFG, has_previous=True, no_model=True)
    return sorted(scored.loc[flags["trigger_event"], "debtor_id"].astype(str))


def test_a_plan_fires_on_the_run_where_it_breaks_and_not_again() -> None:
    assert fired_on(RUNS[1], RUNS[0], plans()) == ["x"]  # y kept, w broken already at 05-31
    # x still broken: no news; y and s (y's twin) short tonight (200 of 300); w out of force
    assert fired_on(RUNS[2], RUNS[1], plans()) == ["s", "y"]


def test_plan_news_by_hand() -> None:
    news = plan_news(plans(), PAYMENTS, RUNS[1], RUNS[0])
    assert sorted(news.index) == ["w", "x"]
    assert news.loc["x", "plan_broken"] == (
        "payment plan broken: 100.00 paid since 2024-04-20 of 200.00 due by 2024-06-30 (2 of 3 instalments): "
        "3 x 100.00 from 2024-05-10 (payment_plans, agreed 2024-04-20)"
    )
    assert news.loc["x", "plan_broken_prev"] == ""
    assert news.loc["w", "plan_broken_prev"].startswith(
        "payment plan broken: 0.00 paid since 2024-04-20 of 100.00"
    )
    assert plan_news(plans(), PAYMENTS, RUNS[1], None).empty  # the first run: nothing to compare
    assert plan_news(None, PAYMENTS, RUNS[1], RUNS[0]).empty


def test_a_status_broken_entered_between_two_runs_fires_once_when_the_previous_queue_showed_the_plan_kept(
    tmp_path,
) -> None:
    """The table carries no history of its status: checked as of 05-31, today's ``status: broken`` reads broken
    then too. The previous run's collections queue showed s's plan kept (its ``plan`` text), so it is news."""
    pd.DataFrame(
        {
            "debtor_id": pd.array(["s", "n"], dtype="string"),
            "plan": pd.array(
                ["3 x 100.00 from 2024-05-10 (payment_plans, agreed 2024-04-20)", ""], dtype="string"
            ),
        }
    ).to_parquet(tmp_path / "collections_queue.parquet")
    assert kept_in_queues(tmp_path) == {"s"}
    assert fired_on(RUNS[1], RUNS[0], plans("broken"), tmp_path) == ["s", "x"]
    assert fired_on(RUNS[1], RUNS[0], plans("broken")) == ["x"]  # no previous queue: not told apart


def test_the_watchlist_says_which_plan_broke() -> None:
    scored = compare_with_previous(night(RUNS[1]), night(RUNS[0]))
    statics = SimpleNamespace(payment_plans=plans(), payments=PAYMENTS)
    scored = with_plan_news(scored, statics, night(RUNS[0]), None, RUNS[1].date(), "EUR")
    flags = triggers(scored, CFG, has_previous=True, no_model=True)
    empty = pd.DataFrame(index=pd.Index([], dtype="string"))
    wl = build_watchlist(scored, flags, empty, [], CFG, None, "EUR").set_index("debtor_id")
    assert list(wl.index) == ["x"] and wl.loc["x", "triggers"] == "event"
    assert wl.loc["x", "news_note"].startswith("payment plan broken: 100.00 paid since 2024-04-20 of 200.00")
    with_model = triggers(scored, CFG, has_previous=True, no_model=False)
    assert not with_model[
        "trigger_event"
    ].any()  # runs with a PD model: only with triggers.event.with_pd_model
