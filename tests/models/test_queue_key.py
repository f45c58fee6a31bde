"""The queue key chosen on out-of-time rows (``models.queue_key``): captures and choices by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from models.queue_key import blended_pd, choose_key, queue_orders, weighted_capture


def test_blended_pd_counts_a_missing_pay_pd_as_zero() -> None:
    got = blended_pd(np.array([0.1, 0.3, 0.02]), pd.Series([0.5, np.nan, 0.0]))
    np.testing.assert_allclose(got, [0.3, 0.15, 0.01])


def test_weighted_capture_by_hand() -> None:
    """One month-end, rows already in queue order. All weights 1: top ceil(0.2 x 5) = 1 row.
    Weights 3, 0, 2 (a bootstrap): total 5, cut ceil(1.0) = 1, the first row counts for 1 of its 3
    copies: 1 x 6 caught of 3 x 6 + 2 x 4 = 26."""
    bad = np.array([5.0, 0.0, 0.0, 0.0, 0.0])
    assert weighted_capture([np.arange(5)], bad, np.ones(5)) == 1.0
    assert weighted_capture([np.array([1, 0, 2, 3, 4])], bad, np.ones(5)) == 0.0
    bad3 = np.array([6.0, 0.0, 4.0])
    assert math.isclose(weighted_capture([np.arange(3)], bad3, np.array([3.0, 0.0, 2.0])), 6 / 26)
    # two month-ends pooled: 5 of 5 caught in the first, 0 of 10 in the second
    two = [np.arange(5), np.array([5, 6, 7, 8, 9])]
    bad10 = np.r_[bad, 0, 0, 0, 0, 10.0]
    assert math.isclose(weighted_capture(two, bad10, np.ones(10)), 5 / 15)
    assert math.isnan(weighted_capture([np.arange(3)], np.zeros(3), np.ones(3)))


def test_queue_orders_round_to_cents_then_break_ties_by_overdue_then_id() -> None:
    frame = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2024-01-31"] * 3 + ["2024-02-29"]),
            "debtor_id": ["b", "a", "c", "a"],
            "overdue_amount": [10.0, 10.0, 20.0, 1.0],
        }
    )
    # 5.004 and 5.001 both round to 5.00: c (overdue 20) first, then a before b by id
    got = queue_orders(frame, np.array([5.004, 5.001, 5.0, 1.0]))
    assert [list(o) for o in got] == [[2, 1, 0], [3]]
    # the expected loss breaks the tie before the overdue amount: b (3.0) before c (2.0) and a (1.0)
    got = queue_orders(frame, np.array([5.004, 5.001, 5.0, 1.0]), np.array([3.0, 1.0, 2.0, 0.0]))
    assert [list(o) for o in got] == [[0, 2, 1], [3]]
    # a 3-decimal reporting currency (KWD): the nightly ranks the priority in fils, so 5.004 > 5.001 > 5.000
    got = queue_orders(frame, np.array([5.004, 5.001, 5.0, 1.0]), places=3)
    assert [list(o) for o in got] == [[0, 1, 2], [3]]
    # a tie in the key broken by the expected loss in fils: b 2.0006 (2.001) before a 2.0004 (2.000);
    # in cents both are 2.00, the overdue amounts tie too, so a comes before b by its id
    key, tie = np.array([5.0, 5.0, 4.0, 1.0]), np.array([2.0006, 2.0004, 1.0, 0.0])
    assert [list(o) for o in queue_orders(frame, key, tie, places=3)] == [[0, 1, 2], [3]]
    assert [list(o) for o in queue_orders(frame, key, tie)] == [[1, 0, 2], [3]]


def _month(t: pd.Timestamp, start: int, defaulter_first_by: str) -> pd.DataFrame:
    """Five queue debtors at month-end t, one of them defaults (exposure 100, LGD 1, no days past due).
    The PD ranks the defaulter last; pay_pd ranks it first (``blend``) or ranks it last too (``pd``)."""
    ids = [f"D{start + i:03d}" for i in range(5)]
    pd_ = [0.10, 0.08, 0.07, 0.06, 0.05]  # the defaulter is the last
    pay = [0.0, 0.0, 0.0, 0.0, 0.9] if defaulter_first_by == "blend" else [0.9, 0.5, 0.4, 0.3, 0.0]
    return pd.DataFrame(
        {
            "as_of": t,
            "debtor_id": ids,
            "pd": pd_,
            "pay_pd": pay,
            "open_balance": 100.0,
            "overdue_amount": 50.0,
            "dpd": 0.0,
            "lgd": 1.0,
            "label": [0, 0, 0, 0, 1],
        }
    )


def test_the_blend_is_chosen_when_it_is_ahead_inside_its_interval() -> None:
    """40 month-ends x 5 debtors: the PD key's top row (1 of 5) never holds the defaulter, the
    blend's always does ((0.05 + 0.9) / 2 = 0.475 > (0.10 + 0) / 2): captures 1.0 vs 0.0."""
    days = pd.date_range("2021-01-31", periods=40, freq="ME")
    frame = pd.concat([_month(t, 5 * i, "blend") for i, t in enumerate(days)])
    got = choose_key(frame, 90.0, n_boot=100, seed=1, min_defaults=30)
    assert got.key == "blend" and got.capture_pd == 0.0 and got.capture_blend == 1.0
    assert got.delta == 1.0 and 0 < got.delta_low <= got.delta_high <= 1.0
    assert got.rows == 200 and got.defaults == 40 and got.reason.startswith("blend chosen")
    assert got.metrics()["queue_key_capture_blend"] == 1.0 and got.metrics()["queue_key_rows"] == 200.0


def test_the_pd_key_is_kept_when_the_blend_is_behind_or_unsure() -> None:
    days = pd.date_range("2021-01-31", periods=40, freq="ME")
    frame = pd.concat([_month(t, 5 * i, "pd") for i, t in enumerate(days)])
    got = choose_key(frame, 90.0, n_boot=100, seed=1, min_defaults=30)
    # blend: (0.10 + 0.9) / 2 = 0.5 first, the defaulter (0.05 + 0) / 2 last: both keys catch 0
    assert got.key == "pd" and got.capture_pd == 0.0 and got.capture_blend == 0.0 and got.delta == 0.0
    assert got.reason.startswith("PD key kept")
    # 10 defaulted rows: no comparison; the blend by default (session 14), the PD key with fallback="pd"
    few = choose_key(frame.iloc[:50], 90.0, n_boot=10, seed=1, min_defaults=30)
    assert few.key == "blend" and few.defaults == 10 and "fewer than 30" in few.reason
    assert "too few to compare the keys; the blend" in few.reason and np.isnan(few.delta)
    # the reason gives the evidence for the blend on thin books up to session 37's check of the PD key there
    assert (
        "on 18 such books of two simulators since, the PD key was significantly behind it on 2" in few.reason
    )
    old = choose_key(frame.iloc[:50], 90.0, n_boot=10, seed=1, min_defaults=30, fallback="pd")
    assert old.key == "pd" and old.reason.endswith("too few to choose the blend")
    assert choose_key(frame.iloc[:0]).key == "blend" and choose_key(frame.iloc[:0], fallback="pd").key == "pd"


def test_the_dpd_weight_enters_both_keys() -> None:
    """One month-end: A (PD 0.10, 0 DPD) vs the defaulter B (PD 0.06, 90 DPD): PD key A 10 < B 0.06 x
    100 x 2 = 12, so B is first in the PD key with the weight and second without it."""
    frame = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2024-01-31"),
            "debtor_id": ["A", "B", "C", "D", "E"],
            "pd": [0.10, 0.06, 0.01, 0.01, 0.01],
            "pay_pd": 0.0,
            "open_balance": 100.0,
            "overdue_amount": 50.0,
            "dpd": [0.0, 90.0, 0.0, 0.0, 0.0],
            "lgd": 1.0,
            "label": [0, 1, 0, 0, 0],
        }
    )
    assert choose_key(frame, 90.0, n_boot=5, min_defaults=1).capture_pd == 1.0
    assert choose_key(frame, None, n_boot=5, min_defaults=1).capture_pd == 0.0


def test_pooled_folds_count_every_month_end_of_every_fold() -> None:
    """The 40 month-ends of the blend case split into two folds of 20: the same captures (pooled over
    month-ends), the fold count recorded, the rows named in the reason; fold 0 alone (20 defaulted
    rows) is too few."""
    days = pd.date_range("2021-01-31", periods=40, freq="ME")
    frame = pd.concat([_month(t, 5 * i, "blend").assign(fold=i // 20) for i, t in enumerate(days)])
    where = "the challenger's 2 pooled rolling-origin folds"
    got = choose_key(frame, 90.0, n_boot=100, seed=1, min_defaults=30, where=where)
    assert got.key == "blend" and (got.capture_pd, got.capture_blend) == (0.0, 1.0) and got.folds == 2
    assert got.reason.startswith(
        f"blend chosen: queue capture on {where} (2021-01-31..2024-04-30, 200 queue rows"
    )
    assert got.metrics()["queue_key_folds"] == 2.0
    one = choose_key(
        frame[frame["fold"] == 0], 90.0, n_boot=10, min_defaults=30, where="fold 0", fallback="pd"
    )
    assert (
        one.key == "pd"
        and one.folds == 1
        and one.reason.startswith("20 defaulted rows in the queue of fold 0")
    )
    both = dataclasses.replace(got, window=one).metrics()  # the test window's own verdict beside the folds'
    assert both["queue_key_window_defaults"] == 20.0 and both["queue_key_defaults"] == 40.0
    assert "queue_key_window_delta" not in both  # too few defaulted rows: no comparison made


def test_the_point_rule_takes_a_lead_the_interval_rule_cannot_confirm() -> None:
    """40 month-ends where neither key catches the defaulter, one where only the blend does: captures
    0 and 100 / (41 x 100) = 1/41. A bootstrap leaves that one debtor out with chance e^-1 > 2.5 %, so
    the interval's low end is 0: the point rule (shipped) takes the blend, the interval rule
    (``need_interval``, session 12's) keeps the PD key."""
    days = pd.date_range("2021-01-31", periods=41, freq="ME")
    frame = pd.concat([_month(t, 5 * i, "blend" if i == 40 else "pd") for i, t in enumerate(days)])
    got = choose_key(frame, 90.0, n_boot=200, seed=3, min_defaults=30)
    assert got.key == "blend" and math.isclose(got.capture_blend, 1 / 41) and got.capture_pd == 0.0
    assert got.delta_low == 0.0 and got.delta_high > 0
    strict = choose_key(frame, 90.0, n_boot=200, seed=3, min_defaults=30, need_interval=True)
    assert strict.key == "pd" and strict.reason.startswith(
        "PD key kept (the blend is not ahead inside its interval)"
    )


def _pd_month(t: pd.Timestamp, start: int) -> pd.DataFrame:
    """Five queue debtors at month-end t; the defaulter (D start+4) has the highest PD (0.10) and no
    pay_pd; D start has PD 0.05 and pay_pd 0.9. PD key: the defaulter first (caught). Blend: D start
    (0.05 + 0.9) / 2 = 0.475 first, the defaulter (0.10 + 0) / 2 = 0.05 behind it (missed)."""
    return pd.DataFrame(
        {
            "as_of": t,
            "debtor_id": [f"D{start + i:03d}" for i in range(5)],
            "pd": [0.05, 0.06, 0.07, 0.08, 0.10],
            "pay_pd": [0.9, 0.0, 0.0, 0.0, 0.0],
            "open_balance": 100.0,
            "overdue_amount": 50.0,
            "dpd": 0.0,
            "lgd": 1.0,
            "label": [0, 0, 0, 0, 1],
        }
    )


def test_the_window_rule_keeps_the_blend_unless_it_is_significantly_behind() -> None:
    """Session 36 (s36-key), the test window's rule: 40 month-ends where neither key catches the
    defaulter (``_month`` "pd": both put D0 first) and one where only the PD key does: captures
    PD 100 / (41 x 100) = 1/41, blend 0, difference -1/41. A bootstrap leaves that one debtor out
    with chance e^-1 > 2.5 %, so the interval's high end is 0, not below it: today's point rule keeps
    the PD key, the window rule takes the blend. 40 month-ends where only the PD key catches: PD 1,
    blend 0, every replicate -1: significantly behind, the PD key under both rules."""
    days = pd.date_range("2021-01-31", periods=41, freq="ME")
    frame = pd.concat(
        [_pd_month(t, 5 * i) if i == 40 else _month(t, 5 * i, "pd") for i, t in enumerate(days)]
    )
    point = choose_key(frame, 90.0, n_boot=200, seed=3, min_defaults=30)
    assert point.key == "pd" and math.isclose(point.capture_pd, 1 / 41) and point.capture_blend == 0.0
    assert point.delta_low < 0 and point.delta_high == 0.0
    got = choose_key(frame, 90.0, n_boot=200, seed=3, min_defaults=30, unless_behind=True)
    assert got.key == "blend" and math.isclose(got.delta, -1 / 41)
    assert got.reason.startswith("blend chosen, not significantly behind the PD key: queue capture on ")
    assert got.reason.endswith("did not hold in the later months (BENCHMARKS.md, s36-key)")
    behind = pd.concat([_pd_month(t, 5 * i) for i, t in enumerate(days[:40])])
    for rule in (False, True):
        kept = choose_key(behind, 90.0, n_boot=50, seed=3, min_defaults=30, unless_behind=rule)
        assert kept.key == "pd" and (kept.capture_pd, kept.capture_blend) == (1.0, 0.0)
        assert kept.delta_high < 0  # every replicate behind (a replicate may weigh D0 0: blend catches it)
    assert kept.reason.startswith("PD key kept (the blend is significantly behind): queue capture on ")
    # a tie (both keys catch nothing): the point rule keeps the PD key, the window rule the blend
    tie = pd.concat([_month(t, 5 * i, "pd") for i, t in enumerate(days[:40])])
    assert choose_key(tie, 90.0, n_boot=20, min_defaults=30).key == "pd"
    assert choose_key(tie, 90.0, n_boot=20, min_defaults=30, unless_behind=True).key == "blend"
    # the blend ahead: "blend chosen" as before, without the window's note
    ahead = pd.concat([_month(t, 5 * i, "blend") for i, t in enumerate(days[:40])])
    won = choose_key(ahead, 90.0, n_boot=20, min_defaults=30, unless_behind=True)
    assert won.key == "blend" and won.reason.startswith("blend chosen: ") and "s36-key" not in won.reason
