"""Session 44 (s44-pdless): the PD-less watchlist's limit_breach reads the overdue amount, and event's dispute part
is off by default, replayed on a hand-built ledger.

Before, a run without a PD model fired ``limit_breach`` when the exposure (open balance) went above the limit on
file, once per breach after 365 days within limits, and ``event`` on any open invoice newly disputed. On fresh small
books both fired at a precision below the base rate (s43-pdless: 0.7 % against 1.03 %; s44-pdless measured why:
the exposure test fires on a growing customer's fresh invoices, and a debtor drifting into default has been over
its limit for months, so its breach is never "new"). Now, without a PD model, ``limit_breach`` fires while the
overdue amount alone is above the limit on file (``triggers.limit_breach.without_pd_model: overdue``; ``exposure``
gives the test before), and the dispute part only with ``triggers.event.disputes: true``.

The ledger (month-ends 2024-01-31 .. 04-30; default = 90 days past due; limits on file in the debtors table):

    debtor  limit  invoices                                   exposure / overdue at Jan, Feb, Mar, Apr
    P       1000   1500 due 02-09, never paid                 1500/0, 1500/1500, 1500/1500, 1500/1500
    Q       1000   3000 issued 02-10, due 04-10, paid 04-05   -, 3000/0, 3000/0, 0/0
    R          0   5000 due 2023-12-31, never paid            5000/5000, 5000/5000, default (91 d), default
    S       2000   1500 due 02-10 paid 04-15;                 1500/0, 2500/1500, 2500/2500, 1000/1000
                   1000 issued 02-09 due 03-10, never paid
    T       none   800 issued 02-05 due 03-05, disputed,      -, 800/0, 800/800, 0/0
                   paid 04-20

limit_breach, overdue test (every run while overdue > limit): Jan -, Feb P (1500 > 1000), Mar P and S (2500 > 2000),
Apr P (S's overdue 1000 is within 2000 again); R has no limit on file (0), Q's 3000 is never overdue.
limit_breach, exposure test (new after 365 days within limits; nothing on the first run): Feb Q (3000 > 1000, absent
before) and S (2500 > 2000, 1500 before); P was over already at Jan; Mar, Apr nobody new.
event's dispute part: T's 800 newly disputed at Feb (absent before), not at Mar (disputed before): only with
``disputes: true``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, pay, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import replay  # noqa: E402
from pipelines.config.credit import load_credit_policy  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.scoring.watchlist import build_watchlist, limit_notes, overdue_over_limit, triggers  # noqa: E402

CFG = NightlyConfig()
DATES = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30")]


def ledger():
    return portfolio(
        [
            inv("P1", "P", "2024-01-10", "2024-02-09", 1500.0),
            inv("Q1", "Q", "2024-02-10", "2024-04-10", 3000.0),
            inv("R1", "R", "2023-12-01", "2023-12-31", 5000.0),
            inv("S1", "S", "2024-01-11", "2024-02-10", 1500.0),
            inv("S2", "S", "2024-02-09", "2024-03-10", 1000.0),
            inv("T1", "T", "2024-02-05", "2024-03-05", 800.0, disputed=True),
        ],
        [
            pay("pQ", "Q", "2024-04-05", 3000.0, "Q1"),
            pay("pS", "S", "2024-04-15", 1500.0, "S1"),
            pay("pT", "T", "2024-04-20", 800.0, "T1"),
        ],
        debtors=[
            {"debtor_id": "P", "credit_limit": 1000.0},
            {"debtor_id": "Q", "credit_limit": 1000.0},
            {"debtor_id": "R", "credit_limit": 0.0},
            {"debtor_id": "S", "credit_limit": 2000.0},
            {"debtor_id": "T", "credit_limit": None},
        ],
    )


def no_score(live: pd.DataFrame) -> pd.Series:  # pragma: no cover - a run without a PD model scores nobody
    raise AssertionError("the replay without a PD model must not call the scorer")


def replayed(cfg: NightlyConfig) -> pd.DataFrame:
    policy = load_credit_policy(None, [b.name for b in cfg.bands])
    return replay(ledger(), DATES, no_score, cfg, DefaultDefinition(), policy=policy, no_model=True)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return replayed(CFG)


def by_month(panel: pd.DataFrame, column: str) -> list[str]:
    return [
        "".join(sorted(panel.loc[(panel["as_of"] == T) & panel[column], "debtor_id"].astype(str)))
        for T in DATES
    ]


def test_the_ledger_reads_as_worked_out_by_hand(panel) -> None:
    rows = panel.set_index(["as_of", "debtor_id"])
    jan, feb, mar, apr = DATES
    got = {
        (T.month, d): (rows.loc[(T, d), "open_balance"], rows.loc[(T, d), "overdue_amount"])
        for T in DATES
        for d in "PS"
    }
    assert got == {
        (1, "P"): (1500, 0), (2, "P"): (1500, 1500), (3, "P"): (1500, 1500), (4, "P"): (1500, 1500),
        (1, "S"): (1500, 0), (2, "S"): (2500, 1500), (3, "S"): (2500, 2500), (4, "S"): (1000, 1000),
    }  # fmt: skip
    assert rows.loc[(feb, "Q"), "open_balance"] == 3000 and rows.loc[(mar, "Q"), "overdue_amount"] == 0
    assert bool(rows.loc[(mar, "R"), "in_default"]) and not bool(rows.loc[(feb, "R"), "in_default"])
    assert rows.loc[(feb, "R"), "credit_limit_current"] == 0
    assert rows.loc[(mar, "S"), "credit_limit_current"] == 2000
    assert rows.loc[(feb, "T"), "open_disputed_amount"] == 800


def test_without_a_pd_model_limit_breach_fires_while_the_overdue_amount_is_above_the_limit(panel) -> None:
    assert by_month(panel, "trigger_limit_breach") == ["", "P", "PS", "P"]
    # the dispute part is off: T's newly disputed invoice fires nothing
    assert by_month(panel, "trigger_event") == ["", "", "", ""]


def test_the_exposure_test_and_the_dispute_part_stay_one_setting_away() -> None:
    cfg = NightlyConfig.model_validate(
        {"triggers": {"limit_breach": {"without_pd_model": "exposure"}, "event": {"disputes": True}}}
    )
    p = replayed(cfg)
    assert by_month(p, "trigger_limit_breach") == ["", "QS", "", ""]  # the test before session 44
    assert by_month(p, "trigger_event") == ["", "T", "", ""]


def test_margin_and_min_excess_apply_to_the_overdue_amount() -> None:
    scored = pd.DataFrame(
        {
            "overdue_amount": [1500.0, 1100.0, 1060.0, 5000.0, 5000.0],
            "credit_limit_current": [1000.0, 1000.0, 1000.0, 0.0, float("nan")],
        }
    )
    assert overdue_over_limit(scored, CFG).tolist() == [True, True, True, False, False]
    # 1.05 x 1000 = 1050, and more than 20 above it: 1500 (450 over), 1100 (50 over) yes; 1060 (10 over) no
    cfg = NightlyConfig.model_validate(
        {"triggers": {"limit_breach": {"current_margin": 0.05, "min_excess": 20}}}
    )
    assert overdue_over_limit(scored, cfg).tolist() == [True, True, False, False, False]
    # a run with a PD model keeps the exposure test (no open_balance here: nothing to compare)
    assert not overdue_over_limit(scored.iloc[:0], CFG).any()


def test_the_watchlist_says_the_overdue_amount_beside_the_limit(panel) -> None:
    mar = panel.loc[panel["as_of"] == DATES[2]].reset_index(drop=True)
    prev = panel.loc[panel["as_of"] == DATES[1]].reset_index(drop=True)
    from pipelines.scoring.watchlist import compare_with_previous

    scored = compare_with_previous(mar.drop(columns=[c for c in mar if c.startswith("trigger_")]), prev)
    scored["name"] = scored["debtor_id"]
    flags = triggers(scored, CFG, has_previous=True, no_model=True)
    assert scored.loc[flags["trigger_limit_breach"], "debtor_id"].tolist() == ["P", "S"]
    notes = limit_notes(scored, CFG, pd.Series("EUR", index=scored.index), no_model=True)
    said = dict(zip(scored["debtor_id"], notes, strict=True))
    assert (
        said["S"] == "overdue EUR 2,500 is above the current credit limit of EUR 2,000 (exposure EUR 2,500)"
    )
    assert (
        said["P"] == "overdue EUR 1,500 is above the current credit limit of EUR 1,000 (exposure EUR 1,500)"
    )
    assert said["Q"] == "" and said["T"] == ""
    empty = pd.DataFrame(index=pd.Index([], dtype="string"))
    only = flags[["trigger_limit_breach"]].join(
        pd.DataFrame(False, index=flags.index, columns=[c for c in flags if c != "trigger_limit_breach"])
    )
    wl = build_watchlist(scored, only, empty, [], CFG, None, "EUR", no_model=True).set_index("debtor_id")
    assert wl.loc["S", "limit_note"] == (  # the watchlist's amounts are in the reporting currency
        "overdue EUR 2,500 is above the current credit limit of EUR 2,000 (exposure EUR 2,500)"
    )
    assert wl.loc["S", "triggers"] == "limit_breach"
    # a run with a PD model reads the exposure: Q's 3,000 above its 1,000 is the sentence there
    with_model = limit_notes(scored, CFG, pd.Series("EUR", index=scored.index))
    assert dict(zip(scored["debtor_id"], with_model, strict=True))["Q"] == (
        "exposure EUR 3,000 is above the current credit limit of EUR 1,000"
    )
