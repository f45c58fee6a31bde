"""The payment-date gate against the current ``ews-paydate`` champion (session 20, issue 13).

Before session 20 the gate compared a challenger with the two baselines only: a version whose MAE
was worse than the champion's replaced it whenever it was not significantly worse than a baseline
(s19-review), and a NaN ``mae_diff_ci_low`` passed. Now, on the same held-out invoices (the test
month-ends the champion never saw), a challenger whose MAE is worse with the whole paired
debtor-bootstrap interval above 0 is not promoted; no interval fails closed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.ledger import day_number, prepare_ledger
from features.paydate import FEATURES, evaluation_invoices, training_rows
from features.tables import Portfolio
from models.paydate import PaydateParams, fit_hazard
from pipelines.adapters import registry
from pipelines.adapters.paydate_registry import (
    PaydateChampion,
    _predicted_days,
    champion_on_test,
    gate_decision,
    gate_paydate,
    load_paydate,
    log_paydate,
    spec_record,
)

PASSING = {  # better than the baselines (interval below 0), coverage in band
    "mae_days": 8.0,
    "due_date_mae_days": 15.0,
    "due_plus_lateness_mae_days": 12.0,
    "mae_diff_ci_low": -5.0,
    "mae_diff_ci_high": -3.0,
    "coverage_80": 0.80,
    "coverage_80_ci_low": 0.77,
    "coverage_80_ci_high": 0.83,
}


def champion(low: float, high: float) -> PaydateChampion:
    return PaydateChampion("1", 7.0, 8.0, (low, high), ("2024-04-30", "2024-05-31"), 120)


def test_gate_against_the_champion_by_hand() -> None:
    """Challenger MAE 8.00 vs the champion's 7.00 on 120 invoices of 2 month-ends: difference +1.00.
    Interval [+0.40, +1.60] wholly above 0: refused; [-0.20, +1.60]: not significantly worse, promoted;
    no interval (NaN): refused (fail closed). No champion, or one that trained on every test
    month-end (a note): the other checks decide. One that cannot predict: refused."""
    worse = gate_decision(PASSING, champion=champion(0.4, 1.6))
    assert not worse.passed
    assert worse.reasons[-1] == (
        "FAIL worse than the champion: higher MAE with the whole interval above 0 (MAE 8.00 vs 7.00 days of "
        "champion v1: difference +1.00 [95 % +0.40, +1.60] on 120 held-out invoices of 2 test month-ends "
        "2024-04-30..2024-05-31 it never saw)"
    )
    assert worse.champion == {"mae_days": 7.0}
    fine = gate_decision(PASSING, champion=champion(-0.2, 1.6))
    assert fine.passed and fine.reasons[-1].startswith("ok not worse than the champion (MAE 8.00 vs 7.00")
    nan = gate_decision(PASSING, champion=champion(float("nan"), float("nan")))
    assert not nan.passed
    assert nan.reasons[-1].startswith(
        "FAIL champion comparison impossible: no interval of the MAE difference"
    )
    assert gate_decision(PASSING, champion=PaydateChampion()).reasons[-1] == "ok no current champion"
    note = PaydateChampion("1", note="champion v1 trained through 2024-06-30, after every test month-end")
    assert gate_decision(PASSING, champion=note).passed
    broken = gate_decision(PASSING, champion=PaydateChampion("1", problem="champion v1 cannot predict: x"))
    assert not broken.passed and broken.reasons[-1] == (
        "FAIL champion comparison impossible: champion v1 cannot predict: x"
    )
    assert gate_decision(PASSING).reasons == gate_decision(PASSING, champion=None).reasons
    assert len(gate_decision(PASSING).reasons) == 2  # without a comparison, the checks as before


def test_a_nan_baseline_interval_fails_closed() -> None:
    """s19-review: a NaN ``mae_diff_ci_low`` passed the MAE check (``not nan > 0``)."""
    for low, high in ((float("nan"), -3.0), (-5.0, float("nan")), (float("nan"), float("nan"))):
        d = gate_decision({**PASSING, "mae_diff_ci_low": low, "mae_diff_ci_high": high})
        assert not d.passed
        assert d.reasons[0].startswith("FAIL MAE 8.00 days vs the better baseline 12.00") and d.reasons[
            0
        ].endswith("no interval: not shown to be not worse")
    assert gate_decision(PASSING).passed


def book() -> Portfolio:
    """60 debtors, 2 invoices a month from 2023-01, 30-day terms, each debtor 0-30 days late."""
    rng = np.random.default_rng(5)
    n, k = 60, 36
    d = np.repeat(np.arange(n), k)
    issue = pd.Timestamp("2023-01-02") + pd.to_timedelta(
        np.tile(np.arange(k) * 15, n) + rng.integers(0, 10, n * k), unit="D"
    )
    due = issue + pd.Timedelta(days=30)
    paid = due + pd.to_timedelta(
        np.round(rng.uniform(0, 30, n)[d] + rng.normal(0, 3, n * k)).astype(int), unit="D"
    )
    ids = [f"I{i:05d}" for i in range(n * k)]
    debtors = np.array([f"D{i:03d}" for i in range(n)])[d]
    amount = np.round(rng.lognormal(7, 0.5, n * k), 2)
    end = pd.Timestamp("2024-06-30")
    keep = np.asarray(paid <= end)
    return Portfolio(
        invoices=pd.DataFrame(
            {"invoice_id": ids, "debtor_id": debtors, "issue_date": issue, "due_date": due, "amount": amount}
        ).loc[np.asarray(issue <= end)],
        payments=pd.DataFrame(
            {
                "payment_id": [f"P{i:05d}" for i in range(int(keep.sum()))],
                "debtor_id": debtors[keep],
                "invoice_id": np.asarray(ids)[keep],
                "paid_on": paid[keep],
                "amount": amount[keep],
            }
        ),
    )


def register(booster, through: str, uri: str, held_out=None, eval_cut: str | None = None) -> str:
    plan = {} if eval_cut is None else {"eval_cut": eval_cut}
    spec = spec_record(list(FEATURES), 8, 7, trained_through=through, test_as_of=through, plan=plan)
    logged = log_paydate(
        booster,
        held_out=held_out,
        spec=spec,
        metrics=PASSING,
        params={},
        tables={},
        provenance={},
        tracking_uri=uri,
    )
    return logged.version


@pytest.mark.filterwarnings("ignore")
def test_a_challenger_worse_than_the_champion_is_not_promoted(mlflow_uri) -> None:
    """A real champion (LightGBM, registered in MLflow): its held-out model trained on rows dated <=
    2024-02-29 (its plan's eval_cut), its registered model through 2024-06-30. The challenger's
    held-out invoices at T = 2024-03-31, after that cut. A challenger predicting exactly the
    champion's held-out days: the difference is 0 on every draw, interval [0, 0], promoted. One
    predicting 20 days later on every invoice: its error is larger on every paid invoice, refused,
    with the plain sentence and the command that promotes it anyway (which then works). A champion
    whose held-out model was trained through 2024-04-30 saw the outcomes: no comparison (a note). A
    version logged before session 20 (no held-out model) is compared with its registered model from
    its trained_through day: through 2024-06-30, no comparison; through 2024-02-29, compared."""
    day = lambda s: int(day_number(pd.Timestamp(s)))  # noqa: E731
    ledger = prepare_ledger(book())
    params = PaydateParams(
        horizon_weeks=8, n_estimators=15, rows_per_leaf=0, num_leaves=7, min_child_samples=20
    )
    snaps = [day(s) for s in ("2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31")]
    held = fit_hazard(training_rows(ledger, snaps, day("2024-02-29"), 8), params)
    final = fit_hazard(
        training_rows(ledger, [*snaps, day("2024-02-29"), day("2024-03-31")], day("2024-06-30"), 8), params
    )
    T = day("2024-03-31")
    tests = [(T, evaluation_invoices(ledger, T, day("2024-06-30"), 8))]
    assert tests[0][1]["actual_days"].notna().sum() > 20
    registry.configure(mlflow_uri)
    v1 = register(final, "2024-06-30", mlflow_uri, held_out=held, eval_cut="2024-02-29")
    registry.promote(v1, "first", name="ews-paydate", tracking_uri=mlflow_uri)
    loaded = load_paydate("champion", tracking_uri=mlflow_uri)
    theirs = _predicted_days(loaded, tests[0][1], T)
    ours_held = _predicted_days(replace(loaded, booster=held), tests[0][1], T)

    same = champion_on_test(tests, [ours_held], 8, tracking_uri=mlflow_uri)
    assert same.version == v1 and same.interval == (0.0, 0.0) and same.mae_days == same.challenger_mae_days
    assert same.month_ends == ("2024-03-31",) and same.invoices == len(tests[0][1])

    late = champion_on_test(tests, [ours_held + 20.0], 8, tracking_uri=mlflow_uri)
    assert late.interval[0] > 0 and late.challenger_mae_days > late.mae_days
    v2 = register(final, "2024-06-30", mlflow_uri, held_out=held, eval_cut="2024-04-30")
    refused = gate_paydate(v2, PASSING, tracking_uri=mlflow_uri, champion=late)
    assert not refused.passed
    assert refused.summary == (
        "Not promoted, the champion stays: it is worse than the current champion. The champion keeps "
        f'forecasting; to use v{v2} anyway: `ews models promote {v2} --name ews-paydate --reason "..."` '
        "(the reason is kept in `ews models history`)."
    )
    history = registry.history("ews-paydate", tracking_uri=mlflow_uri)
    assert history["reason"].iloc[-1].startswith(refused.summary + " Checks: ok MAE 8.00")
    assert "FAIL worse than the champion: higher MAE" in history["reason"].iloc[-1]
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == v1
    assert (
        client.get_model_version("ews-paydate", v2).tags["ews.gate.champion.mae_days"]
        == f"{late.mae_days:.6f}"
    )
    registry.promote(v2, "reviewed", name="ews-paydate", tracking_uri=mlflow_uri)  # the command it names
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == v2

    seen = champion_on_test(tests, [ours_held + 20.0], 8, tracking_uri=mlflow_uri)  # v2: held out to 04-30
    assert seen.interval is None
    assert seen.note.startswith(f"champion v{v2}'s held-out model trained through 2024-04-30, after every")
    assert gate_decision(PASSING, champion=seen).passed

    for through, compared in (("2024-06-30", False), ("2024-02-29", True)):  # versions before session 20
        old = register(final, through, mlflow_uri)
        registry.promote(old, "old", name="ews-paydate", tracking_uri=mlflow_uri)
        legacy = champion_on_test(tests, [theirs + 20.0], 8, tracking_uri=mlflow_uri)
        if compared:
            assert legacy.interval[0] > 0 and legacy.month_ends == ("2024-03-31",)
        else:
            assert legacy.interval is None and "registered model trained through 2024-06-30" in legacy.note


def test_the_refusal_against_the_champion_is_a_flag_not_words() -> None:
    """Session 21: ``gate_paydate`` told a refusal against the champion by matching its reason's first
    words, and built the sentence with the private ``models.evaluate._summary``. ``champion_failed``
    reads the check itself: worse with the interval above 0, no interval, or a champion that cannot
    predict: True; not worse, no champion, a note, or no comparison asked: False.
    ``decision_summary`` is the PD gate's plain sentence."""
    from models.evaluate import decision_summary
    from pipelines.adapters.paydate_registry import champion_failed

    assert champion_failed(champion(0.4, 1.6))
    assert champion_failed(champion(float("nan"), float("nan")))
    assert champion_failed(PaydateChampion("1", problem="champion v1 cannot predict: x"))
    assert not champion_failed(champion(-0.2, 1.6))
    assert not champion_failed(PaydateChampion())
    assert not champion_failed(PaydateChampion("1", note="champion v1 trained through 2024-06-30"))
    assert not champion_failed(None)
    # the MAE check fails, the champion's passes: refused, but not against the champion
    worse_than_baseline = {**PASSING, "mae_diff_ci_low": 0.5, "mae_diff_ci_high": 1.0}
    d = gate_decision(worse_than_baseline, champion=champion(-0.2, 1.6))
    assert not d.passed and not champion_failed(champion(-0.2, 1.6))
    refused = gate_decision(PASSING, champion=champion(0.4, 1.6))
    assert decision_summary(False, refused.reasons, refused.challenger) == (
        "Not promoted, the champion stays: it is worse than the current champion."
    )


WEDNESDAY = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # 0 = Monday
FRIDAY = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.filterwarnings("ignore")
def test_the_champion_predicts_with_its_held_out_models_weekday_profile(mlflow_uri) -> None:
    """s20-review's open item: with ``paydate.weekday_median`` the gate predicted the champion's held-out
    model with the weekday profile of its final model, fitted on rows through the final cut
    (2024-06-30), which hold the settlements of the compared invoices (T = 2024-03-31, a Sunday). A
    profile is logged for the held-out model now (``held_out_weekdays``). Here the held-out profile puts
    every settlement on a Wednesday and the final one on a Friday: the champion's ``expected_paid_on``
    is then a Wednesday, T + 3 + 7j (j whole weeks), every day of it; with the final profile a Friday,
    T + 5 + 7j. A challenger predicting exactly the Wednesdays ties it: interval [0, 0] (before: the
    champion's Fridays, a different MAE). A session-20 version with a profile but no held-out one: a
    note, no comparison (its only profile saw the outcomes)."""
    day = lambda s: int(day_number(pd.Timestamp(s)))  # noqa: E731
    ledger = prepare_ledger(book())
    params = PaydateParams(
        horizon_weeks=8, n_estimators=15, rows_per_leaf=0, num_leaves=7, min_child_samples=20
    )
    snaps = [day(s) for s in ("2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31")]
    held = fit_hazard(training_rows(ledger, snaps, day("2024-02-29"), 8), params)
    final = fit_hazard(
        training_rows(ledger, [*snaps, day("2024-02-29"), day("2024-03-31")], day("2024-06-30"), 8), params
    )
    T = day("2024-03-31")
    assert pd.Timestamp(T, unit="D").day_name() == "Sunday"
    tests = [(T, evaluation_invoices(ledger, T, day("2024-06-30"), 8))]
    plan = {"eval_cut": "2024-02-29", "final_cut": "2024-06-30"}

    def register_with(**profiles) -> str:
        spec = spec_record(
            list(FEATURES), 8, 7, trained_through="2024-06-30", test_as_of="2024-06-30", plan=plan, **profiles
        )
        logged = log_paydate(
            final,
            held_out=held,
            spec=spec,
            metrics=PASSING,
            params={},
            tables={},
            provenance={},
            tracking_uri=mlflow_uri,
        )
        registry.promote(logged.version, "test", name="ews-paydate", tracking_uri=mlflow_uri)
        return logged.version

    registry.configure(mlflow_uri)
    v1 = register_with(weekdays=FRIDAY, held_out_weekdays=WEDNESDAY)
    loaded = load_paydate("champion", tracking_uri=mlflow_uri)
    assert loaded.held_out_weekdays == WEDNESDAY and loaded.weekdays == FRIDAY
    wednesdays = _predicted_days(replace(loaded, booster=held, weekdays=WEDNESDAY), tests[0][1], T)
    fridays = _predicted_days(replace(loaded, booster=held), tests[0][1], T)
    paid = ~np.isnan(wednesdays)
    assert paid.sum() > 20
    assert set((wednesdays[paid] % 7).astype(int)) == {3} and set((fridays[paid] % 7).astype(int)) == {5}
    same = champion_on_test(tests, [wednesdays], 8, tracking_uri=mlflow_uri)
    assert same.version == v1 and same.interval == (0.0, 0.0)
    assert same.mae_days == same.challenger_mae_days

    v2 = register_with(weekdays=FRIDAY)  # session 20: the final profile only
    legacy = champion_on_test(tests, [wednesdays], 8, tracking_uri=mlflow_uri)
    assert legacy.version == v2 and legacy.interval is None
    assert legacy.note == (
        f"champion v{v2}'s weekday profile of the median was fitted through 2024-06-30, after the test "
        "month-ends, and its held-out model's was not logged: no fair comparison, the gate relies on the "
        "other checks"
    )
    assert gate_decision(PASSING, champion=legacy).passed

    register_with()  # no profile (the default): evenly, as before
    even = _predicted_days(replace(loaded, booster=held, weekdays=None), tests[0][1], T)
    assert champion_on_test(tests, [even], 8, tracking_uri=mlflow_uri).interval == (0.0, 0.0)


@pytest.mark.filterwarnings("ignore")
def test_a_model_of_older_data_never_replaces_the_payment_date_champion(mlflow_uri) -> None:
    """s31-ux: the ews-paydate version trained for `ews backtest --model` (snapshots.end 2023-12-31)
    was promoted over the champion of the whole book, like the PD model's. Champion v1 here: its
    registered model trained on month-ends through 2024-03-31 (its plan's final_train). A challenger
    whose last training month-end is 2024-01-31 is refused whatever its figures (PASSING, and the
    champion's own held-out predictions: it would tie), with the reason and the command that promotes
    it by hand; one whose last is 2024-03-31 too (the same data) is compared as before: interval [0, 0]."""
    day = lambda s: int(day_number(pd.Timestamp(s)))  # noqa: E731
    ledger = prepare_ledger(book())
    params = PaydateParams(
        horizon_weeks=8, n_estimators=15, rows_per_leaf=0, num_leaves=7, min_child_samples=20
    )
    snaps = ["2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31"]
    held = fit_hazard(training_rows(ledger, [day(s) for s in snaps], day("2024-02-29"), 8), params)
    final_train = [*snaps, "2024-02-29", "2024-03-31"]
    final = fit_hazard(training_rows(ledger, [day(s) for s in final_train], day("2024-06-30"), 8), params)
    T = day("2024-03-31")
    tests = [(T, evaluation_invoices(ledger, T, day("2024-06-30"), 8))]
    plan = {"eval_cut": "2024-02-29", "final_train": final_train, "final_cut": "2024-06-30"}
    spec = spec_record(list(FEATURES), 8, 7, trained_through="2024-06-30", test_as_of="2024-03-31", plan=plan)
    registry.configure(mlflow_uri)
    v1 = log_paydate(
        final,
        held_out=held,
        spec=spec,
        metrics=PASSING,
        params={},
        tables={},
        provenance={},
        tracking_uri=mlflow_uri,
    ).version
    registry.promote(v1, "the model of the whole book", name="ews-paydate", tracking_uri=mlflow_uri)
    loaded = load_paydate("champion", tracking_uri=mlflow_uri)
    ties = _predicted_days(replace(loaded, booster=held), tests[0][1], T)

    same = champion_on_test(tests, [ties], 8, tracking_uri=mlflow_uri, last_month_end="2024-03-31")
    assert same.older is None and same.interval == (0.0, 0.0)
    older = champion_on_test(tests, [ties], 8, tracking_uri=mlflow_uri, last_month_end="2024-01-31")
    assert older.version == v1 and older.interval is None
    v2 = log_paydate(
        final,
        held_out=held,
        spec=spec,
        metrics=PASSING,
        params={},
        tables={},
        provenance={},
        tracking_uri=mlflow_uri,
    ).version
    refused = gate_paydate(v2, PASSING, tracking_uri=mlflow_uri, champion=older)
    assert not refused.passed
    assert refused.reasons[-1] == (
        "FAIL older data than champion v1: trained on month-ends through 2024-01-31, v1 through 2024-03-31 "
        "(e.g. a training for `ews backtest --model`, with an earlier snapshots.end); the gate never replaces "
        "a champion with a model of older data"
    )
    assert refused.summary == (
        "Not promoted, the champion stays: it learned from older data than v1 (to 2024-01-31 vs 2024-03-31). The champion keeps forecasting; to use v2 anyway: "
        '`ews models promote 2 --name ews-paydate --reason "..."` (the reason is kept in `ews models history`).'
    )
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == v1
    assert str(client.get_model_version_by_alias("ews-paydate", "challenger").version) == v2
    last = registry.history("ews-paydate", tracking_uri=mlflow_uri).iloc[-1]
    assert (last["version"], last["event"]) == (v2, "gate_failed")
    assert last["reason"].startswith(refused.summary + " Checks: ok MAE 8.00")
