"""Session 43 (s43-pdless): ``ews backtest`` replays the nightly without a PD model, on a hand-built ledger.

Before, ``ews backtest`` on a book with no PD model champion exited 2: a collections lead of a book too small to
train could not see whether its queue (days past due, then overdue amount) and its watchlist (limit_breach,
dpd_bucket, event) work. The ledger is test_backtest's (month-ends 2024-01-31, 02-29, 03-31; default = 90 days
past due; horizon 90 days) plus a payment plan for C and an agency placement for F, whose kind this project's
default definition leaves out (event_kinds: insolvency, write_off), so F stays live:

    debtor  invoice                      paid          days past due Jan / Feb / Mar   first default
    A       1000, due 2023-12-01         never         61 / default / default          2024-02-29
    B       2000, due 2024-02-14         never          0 / 15 / 46                    2024-05-14
    C        500, due 2023-12-31         2024-03-15    31 / 60 / 0                     -
    D       3000, due 2024-01-19         2024-02-10    12 / 0 / 0                      -
    E        800, due 2024-01-10         never         21 / 50 / 81                    2024-04-09
    F        400, due 2024-03-20         2024-03-10     0 / 0 / 0 (agency placement 2024-03-05)

C's plan: agreed 2024-01-15, 2 x 250 from 2024-01-31 (the second due 2024-02-29). An instalment counts as due
7 days after its due date: at Jan 31 none is due (kept), at Feb 29 the first is (250 due, 0 paid: broken), at
Mar 31 the plan is past its window (last instalment 02-29 + 30 days < 03-31: not in force).

Queue (live, overdue) and its order without a PD (days past due, then overdue amount); bad = defaults within 90 d:
    Jan: A 61 (1000 bad), C 31, E 21 (800 bad), D 12      top 20 % of 4 = 1: A -> 1000 of 1800
    Feb: C 60, E 50 (800 bad), B 15 (2000 bad)            top 1: C -> 0 of 2800
    Mar: E 81 (800 bad), B 46 (2000 bad)                  top 1: E -> 800 of 2800
    queue_capture_top20 = dpd_capture_top20 = 1800 / 7400; balance order (D, B, B) = 4000 / 7400.
Triggers (no PD): dpd_bucket ([30, 60, 90], against the previous month-end): Feb C 31 -> 60 (into 60+), E 21 -> 50
(into 30+); Mar B 15 -> 46, E 50 -> 81. event: Feb C (plan broken since Jan), Mar F (placement after Feb 29).
Flagged: Feb {C, E}, Mar {B, E, F}: 5 flagged live debtor-months, 3 of them bad (E Feb, B Mar, E Mar);
live debtor-months 6 + 5 + 5 = 16, bad 6 (A, E Jan; B, E Feb; B, E Mar): precision 3/5, recall 3/6.
Lead times (strict): B flagged at Mar only -> 2024-05-14 - 03-31 = 44 d; E flagged Feb and Mar -> 04-09 - 02-29 =
40 d; A never flagged: median 42 d over 2 of 3 defaults. dpd_bucket alone: fired 4, 3 bad, precision 3/4, recall
3/6, first firing B 44 d, E 40 d: median 42 d, 2 of 3 defaults. event alone: fired 2, none bad.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import frame, inv, pay, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import BacktestResult, backtest_figures, replay, write_backtest  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402

CFG = NightlyConfig()
DATES = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31")]
DEFINITION = DefaultDefinition(event_kinds=("insolvency", "write_off"))


def ledger():
    book = portfolio(
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
        events=[{"debtor_id": "F", "event_date": pd.Timestamp("2024-03-05"), "kind": "agency_placement"}],
    )
    plans = frame(
        "payment_plans",
        [
            {
                "debtor_id": "C",
                "agreed_on": pd.Timestamp("2024-01-15"),
                "first_due": pd.Timestamp("2024-01-31"),
                "installments": 2,
                "installment_amount": 250.0,
                "status": "active",
            }
        ],
    )
    from dataclasses import replace

    return replace(book, payment_plans=plans)


def no_score(live: pd.DataFrame) -> pd.Series:  # pragma: no cover - a run without a PD model scores nobody
    raise AssertionError("the replay without a PD model must not call the scorer")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return replay(ledger(), DATES, no_score, CFG, DEFINITION, no_model=True)


def by_month(panel: pd.DataFrame, column: str) -> list[str]:
    return [
        "".join(sorted(panel.loc[(panel["as_of"] == T) & panel[column], "debtor_id"].astype(str)))
        for T in DATES
    ]


def test_the_replay_has_no_pd_and_fires_the_triggers_that_need_none(panel) -> None:
    live = panel.loc[~panel["in_default"]]
    assert live["pd"].isna().all() and live["band"].isna().all()  # empty, never 0
    assert (panel.loc[panel["in_default"], "band"] == "default").all()
    assert by_month(panel, "trigger_dpd_bucket") == ["", "CE", "BE"]
    assert by_month(panel, "trigger_event") == ["", "C", "F"]
    assert by_month(panel, "flagged") == ["", "CE", "BEF"]
    for name in ("threshold", "jump", "migration", "new_entrant", "rank", "limit_breach"):
        assert not panel[f"trigger_{name}"].any(), name
    p = panel.set_index(["as_of", "debtor_id"])
    assert p.loc[(DATES[1], "C"), "plan_broken"].startswith("payment plan broken: 0.00 paid since 2024-01-15")
    assert p.loc[(DATES[0], "C"), "plan_broken"] == "" and p.loc[(DATES[2], "C"), "plan_broken"] == ""


def test_queue_and_watchlist_figures_by_hand(panel) -> None:
    out = backtest_figures(panel, CFG, key="dpd")
    f = out["figures"]
    assert f["queue_capture_top20"] == pytest.approx(1800 / 7400)
    assert f["dpd_capture_top20"] == pytest.approx(1800 / 7400)
    assert f["balance_capture_top20"] == pytest.approx(4000 / 7400)
    assert [m["queue_capture_top20"] for m in out["months"]] == pytest.approx([1000 / 1800, 0.0, 800 / 2800])
    assert f["watchlist_precision"] == pytest.approx(3 / 5)
    assert f["watchlist_recall"] == pytest.approx(3 / 6)
    assert f["lead_time_median_days"] == pytest.approx(42.0)
    assert f["lead_time_flagged_share"] == pytest.approx(2 / 3)
    leads = out["lead_times"].set_index("debtor_id")
    assert leads.loc["B", "lead_days"] == 44 and leads.loc["E", "lead_days"] == 40
    # the queue's order is the days past due: no paired queue - dpd figure (0 by construction)
    assert "queue_minus_dpd_capture_top20" not in out["intervals"]["figures"]


def test_each_trigger_on_its_own_by_hand(panel) -> None:
    t = backtest_figures(panel, CFG, key="dpd")["triggers"]
    assert set(t) == {"dpd_bucket", "event"}  # limit_breach never fired (no credit policy here)
    d = t["dpd_bucket"]
    assert (d["fired"], d["fired_defaulted"]) == (4, 3)
    assert d["precision"] == pytest.approx(3 / 4) and d["recall"] == pytest.approx(3 / 6)
    assert d["lead_time_first_fire_median_days"] == pytest.approx(42.0)
    assert d["lead_time_first_fire_share"] == pytest.approx(2 / 3) and d["defaults"] == 3
    e = t["event"]
    assert (e["fired"], e["fired_defaulted"], e["precision"], e["recall"]) == (2, 0, 0.0, 0.0)
    assert e["lead_time_first_fire_median_days"] is None and e["lead_time_first_fire_share"] == 0.0


def test_a_model_replay_keeps_its_triggers(panel) -> None:
    """The same ledger with a PD (all 0.01, below every band trigger): dpd_bucket and event stay off in a run
    with a PD model (with_pd_model false), so the model backtests' figures are unchanged."""
    flat = replay(
        ledger(),
        DATES,
        lambda live: pd.Series(0.01, index=live["debtor_id"].astype("string").to_numpy()),
        CFG,
        DEFINITION,
    )
    assert not flat[["trigger_dpd_bucket", "trigger_event"]].any().any()
    assert flat.loc[~flat["in_default"], "band"].notna().all()


def test_backtest_json_and_html_say_it_is_a_no_model_replay(panel, tmp_path) -> None:
    out = backtest_figures(panel, CFG, key="dpd")
    result = BacktestResult(
        figures=out["figures"],
        months=out["months"],
        curves=out["curves"],
        lead_times=out["lead_times"],
        leakage={"no_model": True, "why": "--no-model"},
        settings={"queue_key": "dpd", "currency": "EUR"},
        triggers=out["triggers"],
        mode="no_pd_model",
    )
    write_backtest(result, tmp_path)
    body = json.loads((tmp_path / "backtest.json").read_text())
    assert body["mode"] == "no_pd_model" and body["triggers"]["dpd_bucket"]["fired"] == 4
    assert "no_pd_model" in body["definitions"]["mode"]
    html = (tmp_path / "backtest.html").read_text()
    assert "Backtest of the queue and the watchlist without a PD model" in html
    assert "No PD model (--no-model): the nightly without one replayed" in html
    assert "Days past due into a later bucket (dpd_bucket)" in html
    assert "Watchlist by list size" not in html  # the rank trigger needs a PD
    # the queue's own line and column say its order (before: "ews queue (its priority order)")
    assert "top 20 % catch: ews queue without a PD model (days past due, then overdue)" in html
    assert "its priority order" not in html


def test_the_command_replays_without_a_model_and_says_so(tmp_path) -> None:
    """``ews backtest --no-model`` on raw canonical files: exit 0, backtest.json ``mode: no_pd_model``, the queue
    key ``dpd``, the console's no-model sentence; ``--no-model`` with ``--model`` is refused (exit 2)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    root = Path(__file__).resolve().parents[2]
    data = root / "tests/data/ingest/base"
    args = ["backtest", "--data", str(data), "--from", "2024-01-31", "--to", "2024-03-31"]
    res = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "bt"), "--no-model"], env={"COLUMNS": "300"}
    )
    assert res.exit_code == 0, res.output
    body = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert body["mode"] == "no_pd_model" and body["settings"]["queue_key"] == "dpd"
    assert body["settings"]["model"] == "no PD model (the nightly without one)" and body["list_sizes"] == []
    flat = " ".join(res.output.split())
    assert "No PD model (--no-model): the nightly without one replayed" in flat and "Traceback" not in flat
    res = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "bt2"), "--no-model", "--model", "1"], env={"COLUMNS": "300"}
    )
    assert res.exit_code == 2 and "--no-model and --model exclude each other" in res.output


def test_with_no_pd_model_champion_the_command_replays_without_one(tmp_path, monkeypatch) -> None:
    """A project whose registry holds no version of the PD model (a book ``ews train`` refused as too small):
    before, ``ews backtest`` exited 2 (no champion); now it says so and replays the run ``ews score`` makes."""
    import shutil

    from typer.testing import CliRunner

    from pipelines.cli import app

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    data = root / "tests/data/ingest/base"
    args = ["backtest", "--data", str(data), "--from", "2024-01-31", "--to", "2024-03-31", "--out", "bt"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "no PD model: no version of 'ews-pd' is registered in" in flat
    assert "Replaying the nightly without one (as `ews score` runs it)" in flat
    assert json.loads((tmp_path / "bt" / "backtest.json").read_text())["mode"] == "no_pd_model"
