"""Session 42 (s42-review): tests for mutants of session 42's commits that survived their own tests.

Each test names the commit and the mutant (benchmarks/review_mutations.py, I entries) it catches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.scoring.watchlist import compare_with_previous, triggers  # noqa: E402

DATES = [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]


def test_the_backtest_keeps_band_default_for_a_never_invoiced_debtor_in_default() -> None:
    """20df69c blanked the replay's band of a live debtor never invoiced by T; mutant I2 blanked it for one
    in default too (every test passed). Hand-built: A invoiced 2023-12-01 (1,000, due 12-31, never paid;
    PD 0.10: band D); X in the debtors table only, never invoiced, an insolvency event on 2024-01-15: in
    default from January on, no history (no invoice, payment or statement), band "default" as in the
    nightly's scores (pipelines.scoring.score: only live prospects lose their band)."""
    book = portfolio(
        [inv("A1", "A", "2023-12-01", "2023-12-31", 1000.0)],
        [],
        debtors=[
            {"debtor_id": d, "credit_limit": 5_000.0, "onboarded_on": pd.Timestamp("2023-11-01")}
            for d in "AX"
        ],
        events=[{"debtor_id": "X", "event_date": pd.Timestamp("2024-01-15"), "kind": "insolvency"}],
    )

    def pds(live: pd.DataFrame) -> pd.Series:
        ids = live["debtor_id"].astype("string")
        return pd.Series(0.10, index=ids.to_numpy(), dtype="float64")

    panel = replay(book, DATES, pds, NightlyConfig(), DefaultDefinition()).set_index(["as_of", "debtor_id"])
    for day in DATES:
        assert bool(panel.loc[(day, "X"), "in_default"]) and not bool(panel.loc[(day, "X"), "has_history"])
        assert panel.loc[(day, "X"), "band"] == "default"
        assert panel.loc[(day, "A"), "band"] == "D"


def _night(day: str, rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """Scores of a run without a PD model: (debtor, days past due, disputed amount), all live."""
    frame = pd.DataFrame(rows, columns=["debtor_id", "dpd_current_max", "open_disputed_amount"])
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    frame["in_default"] = False
    frame["as_of"] = pd.Timestamp(day)
    frame["pd"] = np.nan
    frame["band"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["open_balance"] = 1000.0
    frame["overdue_amount"] = 1000.0
    return frame


def test_the_no_pd_triggers_at_their_boundaries() -> None:
    """2b8cbcf's dpd_bucket and event triggers at the edges its tests left open (mutants I16-I18 passed
    test_pdless_triggers_s42). Previous run 2024-05-31, tonight 2024-06-30, buckets [30, 60, 90]:
    k 29 -> 30 days past due: 30 is the 30+ bucket's first day, so it crossed (I16: "not yet past 30");
    o 60 -> 60: no move. m's agency placement is dated 2024-05-31, the previous run's as-of date: that run
    already knew it (events up to its as-of), so it is not news tonight (I17); q's is dated 06-01: news.
    n is absent from the previous run and disputes 250 tonight: newly disputed (I18: its missing previous
    amount read as disputed)."""
    previous = _night("2024-05-31", [("k", 29, 0), ("o", 60, 0), ("m", 0, 0), ("q", 0, 0)])
    today = _night("2024-06-30", [("k", 30, 0), ("o", 60, 0), ("m", 0, 0), ("q", 0, 0), ("n", 0, 250)])
    events = pd.DataFrame(
        {
            "debtor_id": pd.array(["m", "q"], dtype="string"),
            "event": pd.array(["agency_placement", "agency_placement"], dtype="string"),
            "event_on": pd.to_datetime(["2024-05-31", "2024-06-01"]),
        }
    )
    scored = compare_with_previous(today, previous)
    scored = scored.merge(events, on="debtor_id", how="left").set_axis(scored.index)
    # the dispute part is off by default since s44-pdless (triggers.event.disputes): read here switched on
    disputes = NightlyConfig.model_validate({"triggers": {"event": {"disputes": True}}})
    flags = triggers(scored, disputes, has_previous=True, no_model=True)
    flags = flags.set_axis(scored["debtor_id"].tolist())
    assert flags.index[flags["trigger_dpd_bucket"]].tolist() == ["k"]
    assert flags.index[flags["trigger_event"]].tolist() == ["q", "n"]


def test_the_nightlys_watchlist_step_hands_the_latest_events_to_the_event_trigger() -> None:
    """2b8cbcf's flow step (pipelines.flows.nightly.watchlist) merges each debtor's latest event (the queue's
    ``oldest`` frame: debtor_id, event, event_on, one row per debtor, cut at the as-of date) into the scores
    before the triggers; mutant I20 (that merge skipped) passed test_pdless_triggers_s42 and test_nomodel_s41
    (whose book has no live debtor with an event). A run without a PD model, previous run 2024-05-31: q's
    agency placement of 2024-06-01 is news (event), m's of 2024-05-31 was known to the previous run; r has an
    overdue invoice and no event (its row of the frame has none); k crossed 29 -> 30 days past due."""
    from pipelines.flows.nightly import watchlist
    from pipelines.scoring.nomodel import NoModel

    previous = _night("2024-05-31", [("k", 29, 0), ("m", 0, 0), ("q", 0, 0), ("r", 10, 0)])
    today = _night("2024-06-30", [("k", 30, 0), ("m", 0, 0), ("q", 0, 0), ("r", 10, 0)])
    scored = compare_with_previous(today, previous)
    oldest = pd.DataFrame(
        {
            "debtor_id": pd.array(["k", "m", "q", "r"], dtype="string"),
            "event": pd.array([pd.NA, "agency_placement", "agency_placement", pd.NA], dtype="string"),
            "event_on": pd.to_datetime([None, "2024-05-31", "2024-06-01", None]),
        }
    )
    X = pd.DataFrame(index=pd.Index(scored["debtor_id"], name="debtor_id"))
    got = watchlist.fn(scored, X, NoModel("ews-pd", "none registered"), NightlyConfig(), True, events=oldest)
    wl = got["watchlist"].set_index("debtor_id")
    assert sorted(wl.index) == ["k", "q"]
    assert wl.loc["q", "triggers"] == "event"
    assert wl.loc["q", "news_note"] == "agency_placement event on 2024-06-01"
    assert wl.loc["k", "triggers"] == "dpd_bucket"


def test_the_gate_counts_the_debtors_of_the_rows_both_held_out(mlflow_uri: str) -> None:
    """b2719d1's comparison with the champion counts rows, debtors, defaults and month-ends on the rows both
    models held out; mutant I34 (debtors counted over every test row) passed test_gate_s42, whose champion
    held out every row. Here champion v1 trained on D4's rows (its PD NaN there): the rows both held out are
    the 6 of D1-D3 at the two month-ends, 3 debtors, 2 defaults (D1 at 01-31, D2 at 02-29). Log-loss,
    challenger minus champion, on those 6 rows: the default rows 0.5 vs 0.25, the others 0.1 each:
    2 x (-ln 0.5 + ln 0.25) / 6 = -ln 2 / 3 = -0.2310."""
    from types import SimpleNamespace

    from mlflow.tracking import MlflowClient

    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows import train as train_flow

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    for _ in range(2):
        client.create_model_version("ews-pd", source=str(Path(__file__).parent / "no-such-model-folder"))
    test = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3", "D4"] * 2,
            "as_of": pd.to_datetime(["2024-01-31"] * 4 + ["2024-02-29"] * 4),
            "y": [1, 0, 0, 0, 0, 1, 0, 0],
            "pd": [0.5, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1],
        }
    )
    outcome = SimpleNamespace(
        kind="rollrate",
        test=test,
        metrics={"auc": 1.0, "ece": 0.0, "mean_pd": 0.2, "default_rate": 0.25},
        ece_tolerance=0.05,
        intervals={"challenger": {"auc": (0.9, 1.0)}},
    )
    champion = train_flow.ChampionOnTest(
        version="1", pd=np.array([0.25, 0.1, 0.1, np.nan, 0.1, 0.25, 0.1, np.nan])
    )
    decision = train_flow.gate.fn(
        SimpleNamespace(version="2"), outcome, champion, TrainConfig(), ProjectConfig()
    )
    c = decision.comparison
    assert {k: c[k] for k in ("rows", "debtors", "defaults", "month_ends", "first", "last")} == {
        "rows": 6,
        "debtors": 3,
        "defaults": 2,
        "month_ends": 2,
        "first": "2024-01-31",
        "last": "2024-02-29",
    }
    assert c["logloss"] == pytest.approx(-np.log(2) / 3)


def test_gate_f_does_not_hold_an_equal_log_loss_against_the_challenger(mlflow_uri: str) -> None:
    """Candidate F (26302e1) keeps the champion unless the challenger's point log-loss on the rows both held
    out is no higher; identical PDs (a roll-rate retrain scoring the same month-ends alike) are not held
    against it. Mutant I43 (``> 0`` read as ``>= 0``: an equal log-loss refused) passed test_gate_s42_f; s42-gate
    measured that a strict win refuses 34 of 36 honest retrains. The champion's held-out PDs here are the
    challenger's own, row for row: difference 0, promoted."""
    from types import SimpleNamespace

    from mlflow.tracking import MlflowClient

    from pipelines.adapters import registry
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows import train as train_flow
    from tests.pipelines.test_gate_s42_f import _outcome

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    for _ in range(2):
        client.create_model_version("ews-pd", source=str(Path(__file__).parent / "no-such-model-folder"))
    registry.promote("1", "first model")
    outcome = _outcome()
    same = train_flow.ChampionOnTest(version="1", held_pd=outcome.test["pd"].to_numpy(dtype="float64"))
    decision = train_flow.gate.fn(SimpleNamespace(version="2"), outcome, same, TrainConfig(), ProjectConfig())
    assert decision.passed, decision.reasons
