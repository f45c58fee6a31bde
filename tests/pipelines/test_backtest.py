"""Backtest figures on a hand-built ledger: capture, precision, recall and lead time worked out by hand.

Month-ends 2024-01-31, 02-29 and 03-31; default = 90 days past due; horizon 90 days. The PDs come
from a fixed table (the figures are what is tested here, not a model); only the threshold trigger
(PD >= 0.07) is on. Debtor Z's invoice of 2024-07-31 makes every horizon observed.

    debtor  invoice                          paid         PD    first default
    A       1000, due 2023-12-01             never        0.30  2024-02-29
    B       2000, due 2024-02-14             never        0.10  2024-05-14
    C        500, due 2023-12-31             2024-03-15   0.05  -
    D       3000, due 2024-01-19             2024-02-10   0.20  -
    E        800, due 2024-01-10             never        0.02  2024-04-09
    F        400, due 2024-03-20             2024-03-10   0.08  -

Live queue (overdue, not in default), exposure / days past due, bad = defaults within 90 days:
    Jan: A 1000/61 bad, C 500/31, D 3000/12, E 800/21 bad        top 20 % of 4 = 1 debtor
    Feb: B 2000/15 bad, C 500/60, E 800/50 bad                   top 1 (A in default, D paid)
    Mar: B 2000/46 bad, E 800/81 bad                             top 1 (C paid)
Expected-loss order tops: D (0 caught), B (2000), B (2000) -> 4000 / 7400 bad exposure.
Days-past-due order tops: A (1000), C (0), E (800) -> 1800 / 7400. Balance: D, B, B -> 4000 / 7400.
Oracle (true PDs below): A, B, B -> 5000 / 7400.
Watchlist (A, B, D, F flagged while live): Jan 4 flagged / 1 hit (A) of 2 bad (A, E); Feb 3 / 1 (B)
of 2 (B, E); Mar 3 / 1 (B) of 2 -> precision 3/10, recall 3/6.
Lead time: A flagged Jan 31 -> 29 days; B flagged Jan, Feb, Mar -> from Jan 31 to May 14 = 104 days;
E never flagged. Median 66.5 days over 2 of 3 defaults.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, pay, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import backtest_figures, leakage, replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402

CFG = NightlyConfig.model_validate(
    {
        "triggers": {
            "jump": {"enabled": False},
            "migration": {"enabled": False},
            "new_entrant": {"enabled": False},
        }
    }
)
DATES = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31")]
PD = {"A": 0.30, "B": 0.10, "C": 0.05, "D": 0.20, "E": 0.02, "F": 0.08}
TRUE_PD = {"A": 0.9, "B": 0.9, "C": 0.1, "D": 0.1, "E": 0.9, "F": 0.1}


def ledger():
    return portfolio(
        [
            inv("A1", "A", "2023-11-01", "2023-12-01", 1000.0),
            inv("B1", "B", "2024-01-15", "2024-02-14", 2000.0),
            inv("C1", "C", "2023-12-01", "2023-12-31", 500.0),
            inv("D1", "D", "2023-12-20", "2024-01-19", 3000.0),
            inv("E1", "E", "2024-01-01", "2024-01-10", 800.0),
            inv("F1", "F", "2024-01-20", "2024-03-20", 400.0),
            inv("Z1", "Z", "2024-07-31", "2024-08-30", 10.0),
        ],
        [
            pay("pC", "C", "2024-03-15", 500.0, "C1"),
            pay("pD", "D", "2024-02-10", 3000.0, "D1"),
            pay("pF", "F", "2024-03-10", 400.0, "F1"),
        ],
    )


def fixed_pd(live: pd.DataFrame) -> pd.Series:
    ids = live["debtor_id"].astype("string")
    return pd.Series(ids.map(PD).to_numpy(dtype="float64"), index=ids.to_numpy())


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return replay(ledger(), DATES, fixed_pd, CFG, DefaultDefinition())


def test_replay_rows_match_the_ledger(panel) -> None:
    p = panel.set_index(["as_of", "debtor_id"])
    jan, feb, mar = DATES
    assert set(panel["debtor_id"]) == set("ABCDEF")  # Z does not exist yet
    assert p.loc[(jan, "A"), "dpd"] == 61 and p.loc[(jan, "A"), "overdue_amount"] == 1000
    assert p.loc[(feb, "A"), "in_default"] and p.loc[(feb, "A"), "pd"] == 1.0
    assert p.loc[(jan, "B"), "overdue_amount"] == 0 and p.loc[(jan, "B"), "open_balance"] == 2000
    assert p.loc[(jan, "B"), "label"] == 0 and p.loc[(feb, "B"), "label"] == 1
    assert p.loc[(feb, "B"), "first_default_date"] == pd.Timestamp("2024-05-14")
    assert p.loc[(mar, "E"), "dpd"] == 81 and p.loc[(jan, "C"), "label"] == 0
    assert p.loc[(feb, "D"), "open_balance"] == 0
    assert p["horizon_observed"].all()
    flagged = panel.loc[panel["flagged"]].groupby("as_of")["debtor_id"].apply(lambda s: "".join(sorted(s)))
    assert flagged.tolist() == ["ABDF", "BDF", "BDF"]


def test_figures_by_hand(panel) -> None:
    truth = pd.DataFrame(
        [(d, t, TRUE_PD[d]) for d in TRUE_PD for t in DATES], columns=["debtor_id", "month_end", "oracle_pd"]
    )
    out = backtest_figures(panel, CFG, truth)
    f = out["figures"]
    assert f["queue_capture_top20"] == pytest.approx(4000 / 7400)
    assert f["dpd_capture_top20"] == pytest.approx(1800 / 7400)
    assert f["balance_capture_top20"] == pytest.approx(4000 / 7400)
    assert f["oracle_capture_top20"] == pytest.approx(5000 / 7400)
    assert f["watchlist_precision"] == pytest.approx(3 / 10)
    assert f["watchlist_recall"] == pytest.approx(3 / 6)
    assert f["lead_time_median_days"] == pytest.approx(66.5)
    assert f["lead_time_flagged_share"] == pytest.approx(2 / 3)
    assert f["lead_time_episode_median_days"] == pytest.approx(66.5)  # same here: no broken runs
    assert f["lead_time_episode_share"] == pytest.approx(2 / 3) and f["lead_time_episode_gap_months"] == 1
    assert f["lead_time_first_flag_median_days"] == pytest.approx(66.5)
    assert f["lead_time_first_flag_share"] == pytest.approx(2 / 3)
    assert f["bad_balance_in_queue"] == 7400 and f["months_with_observed_horizon"] == 3
    jan = out["months"][0]
    assert (jan["queue"], jan["queue_capture_top20"], jan["dpd_capture_top20"]) == (4, 0.0, 1000 / 1800)
    leads = out["lead_times"].set_index("debtor_id")
    assert leads.loc["B", "lead_days"] == 104 and leads.loc["A", "lead_days"] == 29
    assert not leads.loc["E", "flagged_last"]
    assert out["curves"]["queue"][-1] == pytest.approx(1.0)  # the whole queue catches everything


def test_reachable_lead_time_leaves_out_defaults_too_soon_after_the_replay_start(panel) -> None:
    """The replay starts at 2024-01-31, so a default within 60 days of its debtor's first live
    month-end cannot show a 60-day lead (s38-lead). By hand: A defaults on 2024-02-29 (A1 due
    2023-12-01 + 90 d), live at January only: 29 days of reach, left out. B defaults on 2024-05-14,
    live from January: reach 104 d, flagged since January (lead 104). E defaults on 2024-04-09 (E1
    due 2024-01-10 + 90 d), live January to March: reach 69 d, not flagged at March. So 2 reachable
    defaults, 1 of them flagged at the last month-end, median 104 d (the strict median over A and B
    is 66.5 d)."""
    out = backtest_figures(panel, CFG)
    f = out["figures"]
    assert f["defaults_reachable_for_lead_time"] == 2
    assert f["lead_time_reachable_share"] == pytest.approx(1 / 2)
    assert f["lead_time_reachable_median_days"] == pytest.approx(104.0)
    assert f["lead_time_median_days"] == pytest.approx(66.5)
    leads = out["lead_times"].set_index("debtor_id")
    assert leads["reach_days"].to_dict() == {"A": 29.0, "B": 104.0, "E": 69.0}
    assert (leads["first_live"] == pd.Timestamp("2024-01-31")).all()


def test_reachable_lead_time_starts_after_a_cured_default() -> None:
    """A debtor in default at a replayed month-end, cured, then defaulting again: its reach starts
    at the first live month-end after the cure, not at the replay's start. By hand: K live at
    January, in default at February (cured by March), live at March and April, defaults again on
    2024-06-15: reach = 2024-06-15 - 2024-03-31 = 76 d; flagged at March and April: lead 76 d."""
    from pipelines.backtest import _lead_times

    dates = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30")]
    due = pd.Timestamp("2024-06-15")
    panel = pd.DataFrame(
        {
            "as_of": dates,
            "debtor_id": pd.array(["K"] * 4, dtype="string"),
            "in_default": [False, True, False, False],
            "flagged": [True, False, True, True],
            "first_default_date": [pd.NaT, pd.NaT, due, due],
        }
    )
    leads = _lead_times(panel, dates).set_index("debtor_id")
    assert leads.loc["K", "first_live"] == pd.Timestamp("2024-03-31")
    assert leads.loc["K", "reach_days"] == 76.0 and leads.loc["K", "lead_days"] == 76.0


def test_queue_order_follows_the_days_past_due_weight(panel) -> None:
    # priority = EL x (1 + dpd / w), EL = PD x exposure x 0.45. Jan with w = 30: A 135 x (1 + 61/30)
    # = 409.5 beats D 270 x (1 + 12/30) = 378, so A (bad, 1000) tops the queue instead of D (0);
    # Feb B 90 x 1.5 = 135 > C 33.75 > E 19.2; Mar B 228 > E 26.6 -> 5000 / 7400. Without the
    # weight (null) the order is the expected loss: D, B, B -> 4000 / 7400. The default (90 days)
    # keeps D first in Jan: 270 x 1.13 = 306 > A 135 x 1.68 = 226.5.
    def capture(weight):
        cfg = CFG.model_copy(update={"queue": CFG.queue.model_copy(update={"dpd_weight_days": weight})})
        return backtest_figures(panel, cfg)["figures"]["queue_capture_top20"]

    assert capture(30.0) == pytest.approx(5000 / 7400)
    assert capture(None) == pytest.approx(4000 / 7400)
    assert capture(90.0) == pytest.approx(4000 / 7400)


def test_the_blend_key_and_both_keys_side_by_side(panel) -> None:
    """pay_pd 0.9 for A, none for the others (0). Jan with the blend: A (0.30 + 0.9) / 2 x 1000 x 0.45
    x (1 + 61/90) = 453 beats D (0.20 + 0) / 2 x 3000 x 0.45 x (1 + 12/90) = 153, so A's 1000 is caught;
    Feb and Mar every PD is halved alike: B tops as before -> 5000 / 7400 against the PD key's 4000."""
    p = panel.assign(pay_pd=panel["debtor_id"].map({"A": 0.9}).astype("float64"))
    blend = backtest_figures(p, CFG, key="blend")["figures"]
    assert blend["queue_capture_top20"] == pytest.approx(5000 / 7400)
    assert blend["blend_key_capture_top20"] == pytest.approx(5000 / 7400)
    assert blend["pd_key_capture_top20"] == pytest.approx(4000 / 7400)
    same = backtest_figures(p, CFG, key="pd")["figures"]
    assert same["queue_capture_top20"] == pytest.approx(4000 / 7400)
    assert same["blend_key_capture_top20"] == pytest.approx(5000 / 7400)
    assert "pd_key_capture_top20" not in backtest_figures(panel, CFG)["figures"]
    with pytest.raises(ValueError, match="pay_pd"):
        backtest_figures(panel, CFG, key="blend")


def test_without_truth_no_oracle_and_unobserved_months_left_out(panel) -> None:
    late = panel.copy()
    late.loc[late["as_of"] == DATES[-1], "horizon_observed"] = False
    f = backtest_figures(late, CFG)["figures"]
    assert "oracle_capture_top20" not in f
    assert f["queue_capture_top20"] == pytest.approx(2000 / 4600)
    assert f["watchlist_precision"] == pytest.approx(2 / 7)


def test_a_broken_run_of_flags_shortens_the_lead_time_but_not_the_first_flag(panel) -> None:
    gap = panel.copy()
    gap.loc[(gap["as_of"] == DATES[1]) & (gap["debtor_id"] == "B"), "flagged"] = False
    leads = backtest_figures(gap, CFG)["lead_times"].set_index("debtor_id")
    assert leads.loc["B", "lead_days"] == 44  # run restarts on Mar 31: May 14 - Mar 31
    assert leads.loc["B", "episode_lead_days"] == 104  # one unflagged month-end is tolerated
    assert leads.loc["B", "first_flag_lead_days"] == 104  # first flag Jan 31
    gap.loc[(gap["as_of"] == DATES[0]) & (gap["debtor_id"] == "B"), "flagged"] = False
    gap.loc[(gap["as_of"] == DATES[1]) & (gap["debtor_id"] == "B"), "flagged"] = True
    gap.loc[(gap["as_of"] == DATES[2]) & (gap["debtor_id"] == "B"), "flagged"] = False
    leads = backtest_figures(gap, CFG)["lead_times"].set_index("debtor_id")
    # flagged Feb 29 only: not at the last month-end (no run), but the episode is still open
    assert not leads.loc["B", "flagged_last"] and leads.loc["B", "in_episode"]
    assert leads.loc["B", "episode_lead_days"] == 75  # May 14 - Feb 29
    gap.loc[(gap["as_of"] == DATES[1]) & (gap["debtor_id"] == "B"), "flagged"] = False
    gap.loc[(gap["as_of"] == DATES[0]) & (gap["debtor_id"] == "B"), "flagged"] = True
    leads = backtest_figures(gap, CFG)["lead_times"].set_index("debtor_id")
    # flagged Jan 31 only, then two unflagged month-ends: the episode closed before the default
    assert not leads.loc["B", "in_episode"] and leads.loc["B", "first_flag_lead_days"] == 104


class Version:
    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags


def test_leakage_names_the_in_sample_month_ends_and_the_cut() -> None:
    seen = leakage(Version({"ews.trained_through": "2023-12-31"}), DATES, 90)
    assert seen["labels_seen_until"] == "2024-03-30" and seen["in_sample"] == ["2024-01-31", "2024-02-29"]
    # a month-end, as a train config's snapshots.end is (s27-ux: it said 2023-11-02): its labels, 90 days
    # on, are all seen by the first month-end, 2024-01-31 (2023-10-31 + 90 days = 2024-01-29)
    assert seen["leak_free_end"] == "2023-10-31"
    assert leakage(Version({}), DATES[1:], 90)["leak_free_end"] == "2023-11-30"  # + 90 d = 2024-02-28
    assert leakage(Version({"ews.trained_through": "2023-10-31"}), DATES, 90)["in_sample"] == []
    assert leakage(Version({}), DATES, 90)["in_sample"] is None
    # a roll-rate matrix through 2024-02-29 saw the moves up to that month-end only (before: + 90 days,
    # "labels observed up to 2024-05-29", past the data of a book ending on 2024-02-29)
    roll = leakage(Version({"ews.trained_through": "2024-02-29", "ews.kind": "rollrate"}), DATES, 90)
    assert roll["labels_seen_until"] == "2024-02-29" and roll["in_sample"] == ["2024-01-31"]


def test_stay_days_keep_a_flag_between_triggers_and_lengthen_the_run() -> None:
    """C (PD 0.05) is flagged only on Jan 31 by a hand-made 0.08 PD; with stay_days 30 it stays on
    Feb 29 (29 days after its trigger) but not on Mar 31 (60 days)."""
    pds = {**PD, "C": 0.05}

    def score(live: pd.DataFrame) -> pd.Series:
        ids = live["debtor_id"].astype("string")
        T = pd.Timestamp(live["as_of"].iloc[0])
        values = [0.08 if (d == "C" and T == DATES[0]) else pds[d] for d in ids]
        return pd.Series(values, index=ids.to_numpy(), dtype="float64")

    stay = CFG.model_copy(update={"watchlist": CFG.watchlist.model_copy(update={"stay_days": 30})})
    band = CFG.model_copy(update={"watchlist": CFG.watchlist.model_copy(update={"stay_band": "C"})})
    # stay_band C: C's PD 0.05 stays in band C (>= 0.03), so it stays on the list after Jan 31
    for cfg, expected in (
        (CFG, [True, False, False]),
        (stay, [True, True, False]),
        (band, [True, True, True]),
    ):
        p = replay(ledger(), DATES, score, cfg, DefaultDefinition())
        assert p.loc[p["debtor_id"] == "C", "flagged"].tolist() == expected


def test_backtest_json_defines_each_lead_time(panel) -> None:
    import json

    from pipelines.backtest import BacktestResult

    out = backtest_figures(panel, CFG)
    body = json.loads(
        BacktestResult(out["figures"], out["months"], out["curves"], out["lead_times"], {}).to_json()
    )
    medians = [k for k in body["figures"] if k.startswith("lead_time") and k.endswith("median_days")]
    assert len(medians) == 4 and set(medians) <= set(body["definitions"])
    assert "at most 1 unflagged month-end" in body["definitions"]["lead_time_episode_median_days"]


def test_rank_trigger_and_stay_top_share_on_a_hand_built_panel() -> None:
    """4 live debtors, all in band B (no threshold, jump or migration fires); rank trigger top 0.25
    (rank 1 of 4), stay_top_share 0.5 (rank <= 2). X ranks 1st in January (flagged), 2nd in
    February (kept), 3rd in March (off); Y ranks 1st from February (flagged by rank); W ranks 2nd
    in March but never entered. Without stay_top_share X is flagged in January only."""
    from pipelines.backtest import flag_panel
    from pipelines.scoring.watchlist import assign_bands

    pds = {"X": (0.029, 0.02, 0.015), "Y": (0.02, 0.025, 0.025), "W": (0.015, 0.015, 0.02), "V": (0, 0, 0)}
    rows = [(T, d, pds[d][i]) for i, T in enumerate(DATES) for d in pds]
    panel = pd.DataFrame(rows, columns=["as_of", "debtor_id", "pd"]).assign(in_default=False)
    panel["debtor_id"] = panel["debtor_id"].astype("string")
    rank = {"triggers": {"rank": {"enabled": True, "top_share": 0.25}}}
    panel["band"] = assign_bands(panel["pd"], NightlyConfig.model_validate(rank))
    for stay, expected_x in ((0.5, [True, True, False]), (None, [True, False, False])):
        cfg = NightlyConfig.model_validate({**rank, "watchlist": {"stay_top_share": stay}})
        flags = flag_panel(panel, DATES, cfg).groupby(panel["debtor_id"]).agg(list).to_dict()
        assert flags["X"] == expected_x
        assert flags["Y"] == [False, True, True] and flags["W"] == flags["V"] == [False] * 3


def _list_size_panel() -> pd.DataFrame:
    """10 live debtors at 3 month-ends, PDs fixed by hand; D1, D6 and D9 default on 2024-04-15, 04-20
    and 04-25 (label 1 at every month-end: each date is within 90 days of 2024-01-31)."""
    from pipelines.scoring.watchlist import assign_bands

    pds = {
        "D0": (0.50, 0.50, 0.50), "D1": (0.40, 0.40, 0.40), "D2": (0.30, 0.30, 0.30),
        "D3": (0.20, 0.20, 0.20), "D4": (0.10, 0.10, 0.10), "D5": (0.05, 0.05, 0.05),
        "D6": (0.60, 0.35, 0.045), "D7": (0.03, 0.03, 0.03), "D8": (0.02, 0.02, 0.02),
        "D9": (0.01, 0.01, 0.01),
    }  # fmt: skip
    default_on = {"D1": "2024-04-15", "D6": "2024-04-20", "D9": "2024-04-25"}
    rows = [(T, d, pds[d][i]) for i, T in enumerate(DATES) for d in pds]
    p = pd.DataFrame(rows, columns=["as_of", "debtor_id", "pd"])
    p["debtor_id"] = p["debtor_id"].astype("string")
    p["in_default"] = False
    p["horizon_observed"] = True
    p["first_default_date"] = pd.to_datetime(p["debtor_id"].map(default_on))
    p["label"] = p["first_default_date"].notna().astype("Int64")
    p["band"] = assign_bands(p["pd"], NightlyConfig())
    return p


def test_list_sizes_by_hand() -> None:
    """The shipped rules (rank top 10 %, held in the top 20 %, threshold band D = PD >= 0.07, jump,
    migration, new entrant, limit breach) re-flagged at other list sizes. Ranks of the 10 live
    debtors (highest PD first): Jan D6 D0 D1 D2 D3 D4 D5 D7 D8 D9; Feb D0 D1 D6 D2 ...; Mar D0 D1 D2
    D3 D4 D5 D6 D7 D8 D9. Defaulted debtor-months: D1, D6, D9 x 3 = 9.

    rank alone, top 10 % (rank 1), held in the top 20 % (rank <= 2): Jan D6; Feb D0 (D6 3rd: off);
    Mar D0 -> 3 flagged, 1 hit (D6 in Jan): precision 1/3, recall 1/9; no default flagged at its
    last month-end (Mar 31): no lead time, share 0 of 3.
    rank alone, top 20 % (rank <= 2), held in the top 40 % (rank <= 4): Jan D6 D0; Feb D0 D1 + D6
    held (3rd); Mar D0 D1 (D6 7th) -> 7 flagged (7 / 30 live debtor-months), 4 hits (D6 Jan, Feb;
    D1 Feb, Mar): precision 4/7, recall 4/9; D1's run Feb 29 - Mar 31 -> 2024-04-15: 46 days, 1 of 3.
    rank alone, top 50 % (rank <= 5), held in the top 100 %: Jan D6 D0 D1 D2 D3; Feb D0 D1 D6 D2 D3;
    Mar D0-D4 + D6 held -> 16 flagged, 6 hits (D1, D6 each month): precision 6/16, recall 6/9;
    leads D1 Jan 31 -> Apr 15 = 75 d, D6 Jan 31 -> Apr 20 = 80 d: median 77.5, 2 of 3.
    beside the other triggers, top 10 %: the threshold adds band D and up (PD >= 0.07): Jan D0-D4
    and D6, Feb the same, Mar D0-D4 (D6 at 0.045 is band C; nothing rises, so no jump, migration or
    new entrant) -> 17 flagged, 5 hits (D1 x 3, D6 Jan, Feb): precision 5/17, recall 5/9; D1 75 d."""
    from pipelines.backtest import list_size_figures

    panel = _list_size_panel()
    rows = {(r["rule"], r["share"]): r for r in list_size_figures(panel, NightlyConfig(), [0.1, 0.2, 0.5])}
    expected = {
        ("rank", 0.1): (0.2, 3 / 30, 1 / 3, 1 / 9, None, 0.0),
        ("rank", 0.2): (0.4, 7 / 30, 4 / 7, 4 / 9, 46.0, 1 / 3),
        ("rank", 0.5): (1.0, 16 / 30, 6 / 16, 6 / 9, 77.5, 2 / 3),
        ("rules", 0.1): (0.2, 17 / 30, 5 / 17, 5 / 9, 75.0, 1 / 3),
    }
    keys = ("stay_top_share", "list_share", "precision", "recall", "lead_time_median_days",
            "lead_time_flagged_share")  # fmt: skip
    for case, (stay, share, precision, recall, lead, lead_share) in expected.items():
        r = rows[case]
        assert [r[k] for k in keys if k != "lead_time_median_days"] == pytest.approx(
            [stay, share, precision, recall, lead_share]
        ), case
        assert r["lead_time_median_days"] == (None if lead is None else pytest.approx(lead)), case
    assert rows[("rank", 0.2)]["list_share_max"] == pytest.approx(3 / 10)
    assert rows[("rank", 0.5)]["flagged_per_month"] == pytest.approx(16 / 3)
    # top 50 % beside the threshold: D4 (0.10, band D) added in Jan and Feb -> 18 flagged, the same 6 hits
    assert rows[("rules", 0.5)]["precision"] == pytest.approx(6 / 18)


def test_list_sizes_without_a_hold_and_the_config_rule_unchanged() -> None:
    """stay_top_share null: no hold at any size (rank top 20 %: Jan D6 D0, Feb D0 D1, Mar D0 D1 ->
    6 flagged, 3 hits (D6 Jan, D1 Feb, Mar): 3/6, 3/9). The 'rules' row at the configured top share
    is the config's own watchlist: the same precision, recall and lead time as backtest_figures."""
    from pipelines.backtest import flag_panel, list_size_config, list_size_figures

    panel = _list_size_panel()
    off = NightlyConfig.model_validate({"watchlist": {"stay_top_share": None}})
    row = [r for r in list_size_figures(panel, off, [0.2]) if r["rule"] == "rank"][0]
    assert row["stay_top_share"] is None
    assert (row["precision"], row["recall"]) == pytest.approx((3 / 6, 3 / 9))
    cfg = NightlyConfig()
    assert list_size_config(cfg, 0.1, "rules") == cfg
    flagged = panel.assign(flagged=flag_panel(panel, DATES, cfg), open_balance=100.0, overdue_amount=0.0,
                           dpd=0.0, segment="s")  # fmt: skip
    f = backtest_figures(flagged, cfg)["figures"]
    same = [r for r in list_size_figures(panel, cfg, [0.1]) if r["rule"] == "rules"][0]
    assert (same["precision"], same["recall"], same["lead_time_median_days"]) == pytest.approx(
        (f["watchlist_precision"], f["watchlist_recall"], f["lead_time_median_days"])
    )
    assert f["watchlist_list_share"] == pytest.approx(same["list_share"]) == pytest.approx(17 / 30)
    with pytest.raises(ValueError, match="rule must be"):
        list_size_config(cfg, 0.1, "other")
    # March's horizon not observed: counted out of precision, recall and the list's size (as the
    # backtest's own figures), not out of the runs. Rank top 20 %, held in the top 40 %: Jan D6 D0,
    # Feb D0 D1 D6 -> 5 of 20 live debtor-months, 3 hits of 6: 3/5, 3/6; D1's lead still 46 days
    late = panel.assign(horizon_observed=panel["as_of"] < DATES[2])
    row = [r for r in list_size_figures(late, cfg, [0.2]) if r["rule"] == "rank"][0]
    assert (row["list_share"], row["precision"], row["recall"]) == pytest.approx((5 / 20, 3 / 5, 3 / 6))
    assert row["lead_time_median_days"] == pytest.approx(46.0) and row["flagged_per_month"] == pytest.approx(
        2.5
    )


def test_queue_figures_keep_a_three_decimal_currencys_thousandths() -> None:
    """s23: ``ews backtest`` rounded the expected loss and the priority to cents whatever the
    currency. A Kuwaiti dinar book (3 decimals), as of 2024-01-31, LGD 1, no days-past-due weight:

        debtor  invoice                     paid         PD    expected loss   bad
        P       10.014, due 2023-12-15      never        0.50  5.007           yes (90 dpd 03-14)
        Q       20.024, due 2023-12-15      2024-02-10   0.25  5.006           no

    In fils P ranks first: the top 20 % of the queue (1 of 2) holds P's 10.014, capture 1.0. In
    cents both read 5.01 (priority and expected loss), the next key, the overdue amount, puts Q
    first: capture 0.0, and the bad balance 10.01."""
    book = portfolio(
        [
            inv("P1", "P", "2023-11-15", "2023-12-15", 10.014),
            inv("Q1", "Q", "2023-11-15", "2023-12-15", 20.024),
            inv("Z1", "Z", "2024-07-31", "2024-08-30", 1.0),
        ],
        [pay("pQ", "Q", "2024-02-10", 20.024, "Q1")],
    )
    pds = {"P": 0.5, "Q": 0.25}

    def score(live: pd.DataFrame) -> pd.Series:
        ids = live["debtor_id"].astype("string")
        return pd.Series(ids.map(pds).to_numpy(dtype="float64"), index=ids.to_numpy())

    queue = CFG.queue.model_copy(
        update={"dpd_weight_days": None, "lgd": CFG.queue.lgd.model_copy(update={"default": 1.0})}
    )
    cfg = CFG.model_copy(update={"queue": queue})
    panel = replay(book, [pd.Timestamp("2024-01-31")], score, cfg, DefaultDefinition())
    fils = backtest_figures(panel, cfg, places=3)["figures"]
    assert fils["queue_capture_top20"] == 1.0 and fils["bad_balance_in_queue"] == 10.014
    cents = backtest_figures(panel, cfg, places=2)["figures"]
    assert cents["queue_capture_top20"] == 0.0 and cents["bad_balance_in_queue"] == 10.01
    assert backtest_figures(panel, cfg)["figures"] == cents  # 2 decimals unless told


def test_replay_scores_with_one_blas_thread_and_gives_the_callers_threads_back() -> None:
    """``ews backtest`` called from Python (a notebook) scores like the command line: one BLAS thread
    while the model scores (the roll-rate PDs are matrix products), the caller's threads afterwards."""
    from threadpoolctl import threadpool_limits

    from pipelines.runtime import blas_threads

    seen: list[int] = []

    def score(live: pd.DataFrame) -> pd.Series:
        seen.append(blas_threads())
        return fixed_pd(live)

    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("this BLAS runs one thread whatever it is asked")
        replay(ledger(), DATES, score, CFG, DefaultDefinition())
        after = blas_threads()
    assert seen and set(seen) == {1}
    assert after == 2


def test_defaults_after_the_books_last_day_are_not_defaults_seen() -> None:
    """s27-ux: the README walk's backtest printed "Defaults seen live (for the lead times) 212" beside
    "Queue debtor-months that defaulted 18": 204 of the 212 were open invoices projected past the
    data's last day (2024-12-31), where no payment can be seen. The ledger without
    Z ends on 2024-03-15 (C's payment): A's default of 2024-02-29 is seen; B's (2024-05-14) and E's
    (2024-04-09) fall after the end. Lead time: A flagged from Jan 31, 29 days."""
    from pipelines.backtest import figure_lines

    book = ledger()
    book = type(book)(invoices=book.invoices.loc[book.invoices["debtor_id"] != "Z"], payments=book.payments)
    short = replay(book, DATES, fixed_pd, CFG, DefaultDefinition())
    p = short.set_index(["as_of", "debtor_id"])
    assert p.loc[(DATES[0], "A"), "first_default_date"] == pd.Timestamp("2024-02-29")
    assert pd.isna(p.loc[(DATES[1], "B"), "first_default_date"])
    assert pd.isna(p.loc[(DATES[0], "E"), "first_default_date"])
    out = backtest_figures(short, CFG)
    f = out["figures"]
    assert f["defaults_for_lead_time"] == 1  # 3 before: A, B and E
    assert out["lead_times"]["debtor_id"].tolist() == ["A"]
    assert f["lead_time_median_days"] == 29 and f["lead_time_flagged_share"] == 1.0
    # the two counts say what they count, the horizon's one under the live debtor-months it is part of
    keys = list(f)
    assert keys.index("defaults_in_horizon") == keys.index("debtor_months_live") + 1
    lines = dict(zip(keys, figure_lines(f), strict=True))
    assert lines["defaults_for_lead_time"].startswith("Lead times: defaults seen (any month-end)")
    assert lines["defaults_in_horizon"].startswith("  of which defaulted within the horizon")
    assert "Queue" not in lines["defaults_in_horizon"]


def test_the_console_figures_read_in_their_units_with_the_json_key() -> None:
    """``ews backtest`` printed raw keys and values (s25-newuser: ``bad_balance_in_queue 739613.35``
    without a currency, shares as fractions). Each line: a label, the value in its unit, the key."""
    from pipelines.backtest import figure_lines

    lines = figure_lines(
        {
            "queue_capture_top20": 0.61234,
            "watchlist_precision": 0.0789,
            "watchlist_list_share": None,
            "lead_time_median_days": 62.5,
            "defaults_in_horizon": 1234,
            "bad_balance_in_queue": 739613.35,
        },
        "EUR",
        2,
    )
    assert [line.split("  (")[-1] for line in lines] == [
        "queue_capture_top20)",
        "watchlist_precision)",
        "watchlist_list_share)",
        "lead_time_median_days)",
        "defaults_in_horizon)",
        "bad_balance_in_queue)",
    ]
    assert lines[0].startswith("Queue: bad balance caught by its top 20 %") and "61.2 %" in lines[0]
    assert "7.9 %" in lines[1] and "n/a" in lines[2] and "62.5 days" in lines[3]
    assert "1,234" in lines[4] and "739,613.35 EUR" in lines[5]


# the page's width, every table's layout and its cells without a label, written into the outer page
PAGE_PROBE = """<script>
(function () {
  var tables = {}, unlabelled = 0;
  document.querySelectorAll("table").forEach(function (t) {
    tables[t.id] = {display: getComputedStyle(t).display, right: Math.round(t.getBoundingClientRect().right)};
  });
  document.querySelectorAll("table.stack > tbody > tr > td").forEach(function (td) {
    if (!td.getAttribute("data-label")) unlabelled++;
  });
  var svgs = Array.prototype.map.call(document.querySelectorAll("svg"),
    function (s) { return Math.round(s.getBoundingClientRect().right); });
  var out = parent.document, pre = out.createElement("pre");
  pre.id = "page-probe";
  pre.textContent = JSON.stringify({width: document.documentElement.clientWidth,
    scroll_width: document.documentElement.scrollWidth, tables: tables, svgs: svgs, unlabelled: unlabelled});
  out.body.appendChild(pre);
})();
</script>"""


@pytest.mark.parametrize("width", [1280, 420])
def test_backtest_page_reads_at_420_px_without_scrolling_sideways(panel, tmp_path, width: int) -> None:
    """s27-ux: backtest.html was 1,399 px wide at any window width (the README walk's book: the
    per-month table of raw keys, the list-size table, the plots at their fixed size), so a phone
    scrolled sideways. Now the plots shrink to the window and below 640 px each table is one card per
    row ("header: value"); at 1,280 px they stay tables, and nothing is wider than the window."""
    from pipelines.backtest import BacktestResult, leakage_note, list_size_figures
    from pipelines.backtest_report import render_backtest
    from tests.pipelines.chromium import CHROMIUM, framed_probe

    if CHROMIUM is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    out = backtest_figures(panel, CFG, n_boot=50)  # s38-btci: the intervals' columns and chart fit too
    leak = leakage(Version({"ews.trained_through": "2023-12-31"}), DATES, 90)
    result = BacktestResult(
        figures=out["figures"],
        months=out["months"],
        curves=out["curves"],
        lead_times=out["lead_times"],
        leakage=leak,
        settings={"data": "/a/long/path/to/the/ingested/folder/of/the/book", "currency": "EUR"},
        list_sizes=list_size_figures(panel, CFG, [0.02, 0.05, 0.1, 0.2]),
        intervals=out["intervals"],
    )
    page = render_backtest(result, leakage_note(leak))
    got = framed_probe(page, width, PAGE_PROBE, tmp_path, "page-probe")
    assert got["width"] == width and got["scroll_width"] <= width, got
    assert set(got["tables"]) == {"figures", "list_sizes", "months"}
    for name, table in got["tables"].items():
        assert table["right"] <= width, (name, table)
        assert table["display"] == ("table" if width > 640 else "block"), (name, table)
    assert len(got["svgs"]) >= 5 and max(got["svgs"]) <= width, got["svgs"]
    assert got["unlabelled"] == 0
    # the figures in their units, as the console gives them; the bad balance with its currency
    assert "54.1 %" in page and "7,400.00 EUR" in page


LIMIT_CFG = NightlyConfig.model_validate(
    {
        "triggers": {
            **{
                name: {"enabled": False} for name in ("threshold", "jump", "migration", "new_entrant", "rank")
            },
            # margin 10: only the current limit can be breached here (exposure < 11 x the recommended)
            "limit_breach": {"enabled": True, "when": "new", "rearm_days": 365, "margin": 10.0},
        },
        "watchlist": {"stay_top_share": None, "stay_days": 0, "stay_band": None},
    }
)
LIMIT_DATES = [pd.Timestamp(d) for d in ("2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31")]


def _limit_book():
    """Current limit 1,000 each (D: 5,000 in the debtors table, 1,000 by its debtor_history until
    2024-05-14). Open balance at the month-ends, by hand:

    - A: 1,500 on 01-31 (before --from), 0 on 02-29, 1,500 on 03-31, 0 after;
    - B: no row before 03-05; 1,500 on 03-31, 0 on 04-30, 1,500 on 05-31;
    - C: 0 until 1,200 on 05-31;
    - D: 0 on 02-29, 1,500 on 03-31, 04-30 and 05-31 (its limit 1,000 then 5,000 from 05-15)."""
    from ledgers import frame

    from features.tables import Portfolio

    book = portfolio(
        [
            inv("A1", "A", "2024-01-10", "2024-02-09", 1500.0),
            inv("A2", "A", "2024-03-10", "2024-04-09", 1500.0),
            inv("B1", "B", "2024-03-05", "2024-04-04", 1500.0),
            inv("B2", "B", "2024-05-05", "2024-06-04", 1500.0),
            inv("C0", "C", "2024-01-05", "2024-02-04", 500.0),
            inv("C1", "C", "2024-05-10", "2024-06-09", 1200.0),
            inv("D0", "D", "2024-01-05", "2024-02-04", 500.0),
            inv("D1", "D", "2024-03-20", "2024-06-18", 1500.0),
        ],
        [
            pay("pA1", "A", "2024-02-15", 1500.0, "A1"),
            pay("pA2", "A", "2024-04-15", 1500.0, "A2"),
            pay("pB1", "B", "2024-04-10", 1500.0, "B1"),
            pay("pC0", "C", "2024-02-01", 500.0, "C0"),
            pay("pD0", "D", "2024-02-01", 500.0, "D0"),
        ],
        debtors=[{"debtor_id": d, "credit_limit": 5000.0 if d == "D" else 1000.0} for d in "ABCD"],
    )
    history = frame(
        "debtor_history",
        [
            {"debtor_id": "D", "valid_from": pd.Timestamp("2024-01-01"), "credit_limit": 1000.0},
            {"debtor_id": "D", "valid_from": pd.Timestamp("2024-05-15"), "credit_limit": 5000.0},
        ],
    )
    return Portfolio(
        **{**{n: getattr(book, n) for n in ("invoices", "payments", "debtors")}, "debtor_history": history}
    )


def _low_pd(live: pd.DataFrame) -> pd.Series:
    ids = live["debtor_id"].astype("string")
    return pd.Series(0.001, index=ids.to_numpy(), dtype="float64")


def test_the_backtest_replays_limit_breach_on_a_hand_built_ledger() -> None:
    """The backtest fires limit_breach as the nightly of each month-end would (session 34: it left
    it out). 02-29: first run, nothing is new. 03-31: B (absent the month before) and D (over the
    1,000 its debtor_history gives then, not the snapshot's 5,000) are new breaches; A is over again
    but was over at 01-31, a month-end before --from that only the ledger shows (rearm 365 days).
    04-30: nobody over. 05-31: C is new; B is over again but was at 03-31 (the memory carried
    through 04-30); D is within the 5,000 valid from 05-15."""
    from pipelines.config.credit import load_credit_policy

    # the 90-day volume window this ledger was built for (365 is the default since session 41): over 365 days the
    # same invoices are a need a quarter as large (x 90 / 365), and 11 x it no longer sits above every exposure
    policy = load_credit_policy(None, [b.name for b in LIMIT_CFG.bands]).model_copy(
        update={"volume_window_days": 90}
    )
    p = replay(_limit_book(), LIMIT_DATES, _low_pd, LIMIT_CFG, DefaultDefinition(), policy=policy)
    fired = p.loc[p["flagged"]].groupby("as_of")["debtor_id"].apply(lambda s: "".join(sorted(s)))
    assert fired.reindex(LIMIT_DATES, fill_value="").tolist() == ["", "BD", "", "C"]
    rows = p.set_index(["as_of", "debtor_id"])
    mar, may = LIMIT_DATES[1], LIMIT_DATES[3]
    assert rows.loc[(mar, "A"), "limit_over_ledger_on"] == pd.Timestamp("2024-01-31")
    assert (
        rows.loc[(mar, "D"), "credit_limit_current"] == 1000
        and rows.loc[(may, "D"), "credit_limit_current"] == 5000
    )
    # margin 10 keeps the recommended test silent: 11 x the recommended limit is above every exposure
    assert (rows["open_balance"] <= 11 * rows["credit_limit_recommended"]).all()
    # without the policy (before session 34, and benchmarks that pass none): no limit, no fire
    assert not replay(_limit_book(), LIMIT_DATES, _low_pd, LIMIT_CFG, DefaultDefinition())["flagged"].any()


def test_limit_breach_memory_is_carried_from_one_replayed_month_end_to_the_next() -> None:
    """A hand-built panel: R is over its recommended limit (x 1.2) on 02-29, within on 03-31, over
    again on 04-30; the ledger's month-ends say nothing (current-limit breaches only), so only the
    run memory carried from 02-29 keeps 04-30 from being a new breach. S is over from 03-31 on:
    new on 03-31 only. T is absent on 03-31: its memory of 02-29 is carried over the gap."""
    from pipelines.backtest import flag_panel

    cfg = LIMIT_CFG.model_copy(
        update={
            "triggers": LIMIT_CFG.triggers.model_copy(
                update={"limit_breach": LIMIT_CFG.triggers.limit_breach.model_copy(update={"margin": 0.2})}
            )
        }
    )
    dates = LIMIT_DATES[:3]
    exposure = {
        "R": (200.0, 100.0, 200.0),
        "S": (100.0, 200.0, 200.0),
        "T": (200.0, None, 200.0),
        "U": (100.0,) * 3,
    }
    rows = [
        (T, d, 0.001, "A", False, e[i], 0.0, 100.0, 100.0, pd.NaT)
        for i, T in enumerate(dates)
        for d, e in exposure.items()
        if e[i] is not None
    ]
    panel = pd.DataFrame(
        rows,
        columns=["as_of", "debtor_id", "pd", "band", "in_default", "open_balance", "credit_limit_current",
                 "credit_limit_recommended", "credit_need", "limit_over_ledger_on"],
    )  # fmt: skip
    panel = panel.astype({"debtor_id": "string", "limit_over_ledger_on": "datetime64[ns]"})
    flags = flag_panel(panel, dates, cfg)
    fired = panel.loc[flags].groupby("as_of")["debtor_id"].apply(lambda s: "".join(sorted(s)))
    assert fired.reindex(dates, fill_value="").tolist() == ["", "S", ""]


def test_backtest_settings_record_the_thresholds_and_say_when_the_models_differs() -> None:
    """s37: backtest.json records the min_open_amount the replay used and the model's (from its recorded
    definition), with a note in words when they differ or the model's is unknown. By hand: replay at 10,
    a model recorded at 10 -> both 10.0, no note; a model recording no definition -> None and a note that
    it is unknown; walk-forward, the champion recorded without the key (trained at 0) -> 0.0 and a note
    naming 10.00 and 0.00; no model named -> None, no note."""
    from features.params import DefaultDefinition
    from pipelines.commands.backtest import threshold_settings

    ten = DefaultDefinition(min_open_amount=10.0)
    same = threshold_settings(ten, ten.as_record(), "ews-pd v3", False)
    assert same == {"min_open_amount": 10.0, "model_min_open_amount": 10.0}
    old = threshold_settings(ten, None, "ews-pd v1", False)
    assert old["model_min_open_amount"] is None
    assert old["min_open_amount_note"] == (
        "this replay used default_definition.min_open_amount 10.00; ews-pd v1 records no default definition "
        "(trained before it was recorded), so the threshold it was trained with is unknown"
    )
    champion = threshold_settings(ten, DefaultDefinition().as_record(), "ews-pd v2", True)
    assert champion["model_min_open_amount"] == 0.0
    assert champion["min_open_amount_note"].startswith(
        "this replay used default_definition.min_open_amount 10.00 (the refits trained with it); the champion "
        "ews-pd v2 was trained with 0.00: "
    )
    assert threshold_settings(ten, None, None, True) == {
        "min_open_amount": 10.0,
        "model_min_open_amount": None,
    }
