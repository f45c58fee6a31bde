"""The rank trigger's pool (session 36, s36-watch): never-invoiced debtors of the debtors table
(prospects) do not count in the top share and no trigger flags them; a dormant customer counts.

Hand-built book for the pool (month-ends 2024-02-29 and 2024-03-31; only the rank trigger on, top
share 0.10, its hold stay_top_share 0.20, min_pd 0.005):

    L0..L9   one invoice each, 2024-01-05, due 2024-02-04, paid 2024-02-01   PD 0.010 .. 0.055
    OLD      one invoice 2021-03-01, paid 2021-03-20 (dormant: nothing open since)   PD 0.006
    P0..P9   the debtors table only, onboarded 2023-06-01 (prospects)                PD 0.0003

Pool: L0..L9 and OLD = 11 debtors; top 10 %: rank <= 1.1, so L9 alone. Counting the 10 prospects,
21 live debtors: rank <= 2.1, L9 and L8 (14 -> 22 on s35-attack's 150-debtor book with 75
prospects)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, pay, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import flag_panel, replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.scoring.watchlist import assign_bands, compare_with_previous, triggers  # noqa: E402

RANK_ONLY = NightlyConfig.model_validate(
    {
        "triggers": {
            name: {"enabled": False}
            for name in ("threshold", "jump", "migration", "new_entrant", "limit_breach")
        }
    }
)
DATES = [pd.Timestamp("2024-02-29"), pd.Timestamp("2024-03-31")]
PD = {**{f"L{k}": 0.010 + 0.005 * k for k in range(10)}, "OLD": 0.006, **{f"P{k}": 0.0003 for k in range(10)}}


def _book():
    ledger = [f"L{k}" for k in range(10)]
    return portfolio(
        [inv(f"I{d}", d, "2024-01-05", "2024-02-04", 1000.0) for d in ledger]
        + [inv("IOLD", "OLD", "2021-03-01", "2021-03-31", 800.0)],
        [pay(f"p{d}", d, "2024-02-01", 1000.0, f"I{d}") for d in ledger]
        + [pay("pOLD", "OLD", "2021-03-20", 800.0, "IOLD")],
        debtors=[{"debtor_id": d, "onboarded_on": pd.Timestamp("2020-01-01")} for d in [*ledger, "OLD"]]
        + [{"debtor_id": f"P{k}", "onboarded_on": pd.Timestamp("2023-06-01")} for k in range(10)],
    )


def _fixed_pd(live: pd.DataFrame) -> pd.Series:
    ids = live["debtor_id"].astype("string")
    return pd.Series(ids.map(PD).to_numpy(dtype="float64"), index=ids.to_numpy())


def test_prospects_are_scored_but_left_out_of_the_rank_triggers_pool_and_a_dormant_customer_is_not() -> None:
    panel = replay(_book(), DATES, _fixed_pd, RANK_ONLY, DefaultDefinition())
    feb = panel.loc[panel["as_of"] == DATES[0]].set_index("debtor_id")
    # every debtor of the debtors table is scored (21 live), but only the 11 with a dated row count
    assert len(feb) == 21 and not feb["in_default"].any()
    assert feb["has_history"].to_dict() == {
        **{d: True for d in PD if d[0] in "LO"},
        **{f"P{k}": False for k in range(10)},
    }
    fired = panel.loc[panel["flagged"]].groupby("as_of")["debtor_id"].apply(lambda s: " ".join(sorted(s)))
    assert fired.reindex(DATES, fill_value="").tolist() == ["L9", "L9"]
    # the same book without its prospects flags the same debtors
    bare = _book()
    bare = type(bare)(
        invoices=bare.invoices,
        payments=bare.payments,
        debtors=bare.debtors.loc[~bare.debtors["debtor_id"].str.startswith("P")],
    )
    alone = replay(bare, DATES, _fixed_pd, RANK_ONLY, DefaultDefinition())
    assert alone.loc[alone["flagged"], "debtor_id"].tolist() == ["L9", "L9"]


def test_the_stay_top_share_hold_counts_the_pool_too() -> None:
    """X is the highest PD on night 1 (flagged) and the 3rd highest of the 10-debtor pool on night 2:
    outside the top 20 % of 10 (rank <= 2), so off the list. Counting 10 prospects (20 live debtors,
    rank <= 4) kept it on."""
    ids = ["X", *[f"k{k}" for k in range(9)], *[f"P{k}" for k in range(10)]]
    night1 = {"X": 0.05, **{f"k{k}": 0.010 + 0.001 * k for k in range(9)}}
    night2 = {"X": 0.016, **{f"k{k}": 0.010 + 0.001 * k for k in range(7)}, "k7": 0.030, "k8": 0.040}
    rows = []
    for T, pds in zip(DATES, (night1, night2), strict=True):
        rows += [(T, d, pds.get(d, 0.0003), not d.startswith("P")) for d in ids]
    panel = pd.DataFrame(rows, columns=["as_of", "debtor_id", "pd", "has_history"]).assign(in_default=False)
    panel["debtor_id"] = panel["debtor_id"].astype("string")
    panel["band"] = assign_bands(panel["pd"], RANK_ONLY)
    by = flag_panel(panel, DATES, RANK_ONLY).groupby(panel["debtor_id"]).agg(list).to_dict()
    assert by["X"] == [True, False]
    assert by["k8"] == [False, True] and sum(v[1] for v in by.values()) == 1


def test_a_prospect_the_model_reads_as_high_risk_is_not_flagged_by_any_trigger() -> None:
    """On an unseen-simulator book the model read never-invoiced prospects as "no invoices in the last
    year" and put 279 of 300 in bands D-E: the threshold trigger listed them, with nothing to watch.
    P (no history, PD 0.30) fires nothing; L (a ledger debtor, the same PD) fires threshold and rank
    (the top 10 % of the 10 debtors with a history: rank <= 1)."""
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array(["L", "P", *[f"k{k}" for k in range(9)]], dtype="string"),
            "pd": [0.30, 0.30, *[0.001] * 9],
            "in_default": False,
            "has_history": [True, False, *[True] * 9],
        }
    )
    frame["band"] = assign_bands(frame["pd"], RANK_ONLY)
    flags = triggers(compare_with_previous(frame, None), NightlyConfig(), has_previous=False)
    fired = flags.any(axis=1).set_axis(frame["debtor_id"])
    assert fired.to_dict() == {"L": True, "P": False, **{f"k{k}": False for k in range(9)}}
    assert flags.loc[0, "trigger_threshold"] and flags.loc[0, "trigger_rank"]


def test_on_a_book_a_dormant_customer_read_as_high_risk_is_flagged_and_a_prospect_is_not() -> None:
    """The hand-built book above, replayed with the shipped triggers and PDs set by hand: OLD (a
    dormant customer: one invoice in 2021, paid, nothing since) and P0 (a prospect: the debtors table
    only) both at PD 0.30. OLD has a history: band E, and the threshold trigger (band D or worse) lists
    it at both month-ends; P0 has none: no band (as the nightly's scores since session 41; the replay
    gave it E until session 42) and it is never listed (main listed it: nothing to watch)."""
    pds = {**PD, "OLD": 0.30, "P0": 0.30}

    def high(live: pd.DataFrame) -> pd.Series:
        ids = live["debtor_id"].astype("string")
        return pd.Series(ids.map(pds).to_numpy(dtype="float64"), index=ids.to_numpy())

    panel = replay(_book(), DATES, high, NightlyConfig(), DefaultDefinition())
    by = panel.set_index(["debtor_id", "as_of"])
    assert by.loc["OLD", "band"].tolist() == ["E", "E"]
    assert by.loc["P0", "band"].isna().all()
    assert by.loc["OLD", "flagged"].tolist() == [True, True]
    assert by.loc["P0", "flagged"].tolist() == [False, False]
    assert by.loc["OLD", "has_history"].tolist() == [True, True]
    assert by.loc["P0", "has_history"].tolist() == [False, False]
