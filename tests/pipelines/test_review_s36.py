"""Session 36 review (s36-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches
(benchmarks/review_mutations.py, L entries)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from nightly_portfolio import make_portfolio

from features.ledger import day_number, ledger_state, prepare_ledger
from features.params import DefaultDefinition
from features.paydate import FEATURES, PERIOD_DAYS, open_invoices, training_rows
from features.tables import Portfolio
from models.paydate import PaydateParams, fit_hazard
from pipelines.adapters.paydate_registry import LoadedPaydate
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.feed_checks import FeedCheckError, evaluate_feed

AS_OF = pd.Timestamp(dt.date(2024, 8, 31))


@pytest.fixture(scope="module")
def paydate_book():
    """240 debtors x 14 months and a small payment-date model fitted before the as-of date."""
    portfolio = Portfolio(**make_portfolio(n_debtors=240, months=14, seed=5))
    ledger = prepare_ledger(portfolio)
    snaps = [int(day_number(d)) for d in pd.date_range("2023-12-31", "2024-05-31", freq="ME")]
    rows = training_rows(ledger, snaps, int(day_number(pd.Timestamp("2024-06-30"))), 16)
    booster = fit_hazard(rows, PaydateParams(horizon_weeks=16, n_estimators=40, min_child_samples=50))
    loaded = LoadedPaydate("ews-paydate", "1", "champion", "run", booster, list(FEATURES), 16, PERIOD_DAYS)
    return portfolio, ledger, loaded


def _per_debtor(ledger, inv: pd.DataFrame, each: np.ndarray) -> pd.Series:
    ids = pd.array(ledger.debtor_ids[inv["code"].to_numpy(dtype=np.int64)], dtype="string")
    return pd.Series(each).groupby(pd.Series(ids), sort=True).max()


def test_pay_pd_of_the_score_pass_and_of_the_backtest_honour_min_open_amount(paydate_book) -> None:
    """df0d746: ``pay_pd`` is 0 for an invoice of which at most ``min_open_amount`` is open, in *both* places
    that compute it: the nightly's score pass (``forecast_state``: the queue's blend key) and
    ``queue_key.pay_pd_at`` (``ews backtest``'s pay_pd and the training's choice of the queue key). The
    commit's own test called only the shared helper, so either caller could drop the threshold unseen
    (mutations L3, L4). The threshold is the median open amount at the as-of date, so about half of the
    open invoices fall to 0; each debtor's value is then the largest pay_pd (threshold 0) over its invoices
    with more than the threshold open, 0 for a debtor with none."""
    from models.paydate import weekly_cdf
    from pipelines.flows.queue_key import pay_pd_at
    from pipelines.scoring.paydate import forecast_state, pack_forecast, pay_pd_by_debtor, pay_pd_of_invoices

    portfolio, ledger, loaded = paydate_book
    T = int(day_number(AS_OF))
    inv = open_invoices(ledger, ledger_state(ledger, T))
    plain = DefaultDefinition(dpd_threshold=60, horizon_days=90)
    _, _, Fw = weekly_cdf(loaded.booster, inv, T, loaded.horizon_weeks, loaded.features, loaded.fine_grid())
    each = pay_pd_of_invoices(Fw, inv["due"].to_numpy(), T, 60, 90)
    threshold = float(np.median(inv["open_amount"]))
    small = inv["open_amount"].to_numpy() <= threshold
    want = _per_debtor(ledger, inv, np.where(small, 0.0, each))
    # the threshold must matter: debtors whose largest pay_pd sits on a small rest, and some left untouched
    before = _per_debtor(ledger, inv, each)
    assert (want < before - 0.01).sum() >= 5 and ((want == before) & (want > 0.01)).sum() >= 5
    material = DefaultDefinition(dpd_threshold=60, horizon_days=90, min_open_amount=threshold)

    book = Book.in_memory(portfolio, 1_500)
    packed = []
    for k in range(book.buckets):
        part = book.read(k)
        led = prepare_ledger(part)
        packed.append(
            pack_forecast(forecast_state(part.invoices, led, ledger_state(led, T), loaded, material))
        )
    scored = pay_pd_by_debtor(packed)
    np.testing.assert_allclose(scored.to_numpy(), want.reindex(scored.index).to_numpy(), rtol=1e-12)

    replay = pay_pd_at(book, [AS_OF], loaded, material).set_index("debtor_id")["pay_pd"]
    assert replay.index.tolist() == want.index.tolist()
    np.testing.assert_allclose(replay.to_numpy(), want.to_numpy(), rtol=1e-12)
    # threshold 0 leaves every value as before
    again = pay_pd_at(book, [AS_OF], loaded, plain).set_index("debtor_id")["pay_pd"]
    np.testing.assert_allclose(again.to_numpy(), before.reindex(again.index).to_numpy(), rtol=1e-12)


def test_the_ece_interval_is_the_plain_spread_moved_and_the_other_intervals_are_plain() -> None:
    """e8abf29: the ECE's interval is the bootstrap's 2.5-97.5 % spread placed around the printed ECE (its width the
    plain percentiles' width), and every other headline interval keeps its plain percentiles (the gate reads the
    AUC interval of a first or roll-rate model). The plain percentiles are read off a paired difference, which
    keeps them: against b = the outcomes themselves (PD 1 for a defaulter, 0 otherwise) every replicate has
    b's ECE 0, Brier 0 and AUC 1, so the interval of a - b is a's plain interval (ECE, Brier) or a's less 1 (AUC).
    Mutations: the high end left at the plain percentile (L9); every metric moved, not only the ECE (L10)."""
    from models.evaluate import bootstrap_intervals, expected_calibration_error

    rng = np.random.default_rng(0)
    n = 400
    p = rng.uniform(0.05, 0.35, n)
    y = (rng.uniform(size=n) < p).astype(int)
    ci = bootstrap_intervals(
        y, {"a": p, "b": y.astype(float)}, [f"D{i}" for i in range(n)], pairs=[("a", "b")]
    )
    assert ci["b"]["ece"] == (0.0, 0.0) and ci["b"]["brier"] == (0.0, 0.0) and ci["b"]["auc"] == (1.0, 1.0)
    point = expected_calibration_error(y, p)
    low, high = ci["a"]["ece"]
    plain_low, plain_high = ci["a-b"]["ece"]
    assert 0.0 < low <= point <= high
    assert high - low == pytest.approx(plain_high - plain_low, abs=1e-12)
    assert plain_low > low  # moved down: the resamples' ECE reads higher than the sample's
    assert ci["a"]["brier"] == pytest.approx(ci["a-b"]["brier"], abs=1e-12)
    auc_low, auc_high = ci["a-b"]["auc"]
    assert ci["a"]["auc"] == pytest.approx((auc_low + 1.0, auc_high + 1.0), abs=1e-12)


def test_the_fitted_roll_rate_model_scores_an_immaterial_rest_as_current() -> None:
    """e792416: with ``min_open_amount`` the roll-rate model's own input names ``overdue_amount``
    (``feature_names_in_``: what the registry stores and the nightly and the backtest hand it through
    ``prepare_matrix``), so a debtor 75 days past due on 5.00 scores as current at the nightly, as it trained
    (mutation L14: the input without it, so scoring read the raw 75 days: the 61-89 bucket's PD). Book of
    tests/models/test_rollrate.py (A-D, 1,000.00 overdue each) plus E, 75 days past due on 5.00 at each
    month-end, never in default; threshold 10. At 2024-04-30 E and C (0 days past due) are both current, so
    their PDs are equal; without the threshold E sits in 61-89 with B's and D's bucket, a higher PD."""
    from dataclasses import replace

    from models.rollrate import RollRateModel
    from models.train import prepare_matrix
    from tests.models.test_rollrate import ENDS, PARAMS, book

    extra = pd.DataFrame(
        {"debtor_id": "E", "as_of": ENDS, "dpd_current_max": 75.0, "in_default_at_asof": False, "label": 0}
    )
    frame = book(extra)
    frame["overdue_amount"] = np.where(frame["debtor_id"] == "E", 5.0, 1000.0)
    material = RollRateModel(replace(PARAMS, min_open_amount=10.0)).fit(frame)
    names = [str(f) for f in material.feature_names_in_]
    assert "overdue_amount" in names
    last = frame[frame["as_of"] == ENDS[-1]].set_index("debtor_id")
    pd_at = pd.Series(material.predict_proba(prepare_matrix(last, names, {}))[:, 1], index=last.index)
    assert pd_at["E"] == pytest.approx(pd_at["C"], abs=1e-12)
    plain = RollRateModel(PARAMS).fit(frame)
    plain_names = [str(f) for f in plain.feature_names_in_]
    assert "overdue_amount" not in plain_names
    plain_pd = plain.predict_proba(prepare_matrix(last, plain_names, {}))[:, 1]
    assert plain_pd[last.index.get_loc("E")] > plain_pd[last.index.get_loc("C")] + 0.05


def test_the_train_config_hands_min_open_amount_to_the_roll_rate_model() -> None:
    """e792416: ``ews train`` builds the roll-rate model's parameters from the project's default definition
    (``RollRateConfig.to_params``); the threshold must reach them, or the states ignore it in every real
    training while the unit tests, which build ``RollRateParams`` themselves, pass (mutation L15)."""
    from pipelines.config.train import TrainConfig

    cfg = TrainConfig()
    assert cfg.rollrate.to_params(DefaultDefinition(min_open_amount=25.0), cfg).min_open_amount == 25.0
    assert cfg.rollrate.to_params(DefaultDefinition(), cfg).min_open_amount == 0.0


def _card(definition: DefaultDefinition) -> str:
    from models.evaluate import METRIC_NAMES
    from models.model_card import CardInfo, render_model_card

    windows = pd.DataFrame(
        {"snapshots": [3], "first": ["2024-01-31"], "last": ["2024-03-31"], "labelled": [300], "defaults": [9],
         "default_rate": [0.03]}, index=["test"],
    )  # fmt: skip
    segments = pd.DataFrame(
        {"segment": ["all"], "rows": [300], "defaults": [9], "auc": [0.8], "ece": [0.01], "mean_pd": [0.03],
         "default_rate": [0.03]}
    )  # fmt: skip
    metrics = {k: 0.5 for k in METRIC_NAMES}
    info = CardInfo("ews-pd", windows, definition, metrics, metrics, "isotonic", "rule", 10, 50, {}, segments,
                    "d", "c", "g")  # fmt: skip
    return render_model_card(info)


def test_the_model_card_states_the_materiality_threshold() -> None:
    """ced2858 / accd547: the default definition a model was trained with includes ``min_open_amount``; the model
    card's "Default definition" named only the days past due and the events, so a model trained to ignore
    rests of up to 50.00 read as one for which any rest counts. Threshold 0 (the default): no line."""
    card = _card(DefaultDefinition(min_open_amount=1250.0))
    section = card.split("## Default definition")[1].split("## Data windows")[0]
    assert "an invoice counts toward a default only while more than **1,250.00** of it is open" in section
    assert "min_open_amount" in section and "its balance is more than that" in section
    assert "more than" not in _card(DefaultDefinition()).split("## Data windows")[0]


def test_an_immaterial_rest_does_not_make_a_debtor_silent() -> None:
    """e792416: the silent flag (on by default: a live debtor with an overdue balance, 45 days without a payment
    and 30 without an invoice) reads the states' days past due, so a former customer whose only overdue rest is
    3.00 of bank charges (threshold 10) is current, not silent, as its label never defaults (mutation L17: the
    silent flag read the raw 45 days and raised its PD to the silent state's). By hand: 45 days past due, 100
    days without a payment or an invoice, 24 invoices in the last year (usual gap 15.2 days, twice 30.4 < 100),
    a tenure of 400 days; 3.00 overdue -> not silent, 10.01 -> silent; without the threshold both silent."""
    from dataclasses import replace

    from models.rollrate import silent_mask
    from tests.models.test_rollrate import PARAMS

    frame = pd.DataFrame(
        {"dpd_current_max": [45.0, 45.0], "overdue_amount": [3.0, 10.01], "days_since_last_payment": [100.0, 100.0],
         "tenure_days": [400.0, 400.0], "days_since_last_invoice": [100.0, 100.0],
         "invoice_count_365d": [24.0, 24.0], "overdue_invoice_count": [1.0, 1.0]}
    )  # fmt: skip
    silent = replace(PARAMS, silent=True)
    assert silent_mask(frame, replace(silent, min_open_amount=10.0)).tolist() == [False, True]
    assert silent_mask(frame, silent).tolist() == [True, True]


def test_ews_backfill_takes_the_verbose_its_refusal_points_to(tmp_path, monkeypatch) -> None:
    """c9956f5: a refused feed says "How each limit is counted: rerun with --verbose, or read ...". `ews
    backfill` runs the same refusal (``_run_one``) but had no --verbose: the rerun it pointed to failed with
    "No such option: --verbose". Now backfill takes --verbose and prints the whole refusal with it. The
    pre-checks and the flow are replaced (the refusal is tests/pipelines/test_walk_s36.py's hand case)."""
    import contextlib

    from typer.testing import CliRunner

    import pipelines.commands.score as score
    import pipelines.flows.nightly as nightly
    from pipelines.cli import app
    from tests.pipelines.test_walk_s36 import _refusal

    error = _refusal()

    def refused(**_: object) -> None:
        raise error

    for name in ("check_data_dir", "check_engine", "_check_out_dir", "_check_registry", "_check_as_of"):
        monkeypatch.setattr(score, name, lambda *a, **k: None)
    # flow_runtime takes interrupted= since s41 (cb3ebf1)
    monkeypatch.setattr(score, "flow_runtime", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(nightly, "preflight", lambda config: None)
    monkeypatch.setattr(nightly, "run", refused)
    args = ["backfill", "--data", str(tmp_path / "data"), "--from", "2024-12-17", "--to", "2024-12-17"]
    args += ["--out", str(tmp_path / "runs")]
    said = {}
    for verbose in (False, True):
        result = CliRunner().invoke(app, args + (["--verbose"] if verbose else []), env={"COLUMNS": "400"})
        assert result.exit_code == 3, result.output
        said[verbose] = " ".join(result.output.split())
    assert "rerun with --verbose" in said[False] and "0 usual payment days" not in said[False]
    assert "0 usual payment days" in said[True] and "rerun with --verbose" not in said[True]


def test_short_paid_rests_read_only_what_was_known_at_the_as_of_date(tmp_path) -> None:
    """9fd01b3: test_ingest_short_paid's book (6 debtors, 6 rests, 12.40 as of 2024-06-30) with three more
    debtors that are not "owing nothing overdue but short-paid rests" at the as-of date: D10 owes 1,000.00, of
    which 999.40 is paid on 2024-07-15, after the as-of date (ingest quarantines that payment as dated after
    --as-of, so the count's own paid_on filter is a second guard: mutation L18 removes it unseen); D11 has
    0.60 open and paid 0.60 of unallocated cash (applied oldest first it settles the rest: left out; mutation
    L19 counts it); D12 owes an unpaid invoice of 0.80 (a small invoice, not a short payment; mutation L20
    counts it). The manifest's count stays 6 debtors, 6 invoices, 12.40; payments 11 in = 10 + 1."""
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_ingest_short_paid import INVOICES, PAYMENTS, _project

    invoices = INVOICES + "".join(
        f"{i},{d},2024-01-01,2024-01-31,{amount},EUR\n"
        for i, d, amount in (("I10", "D10", "1000.00"), ("I11", "D11", "1000.00"), ("I12", "D12", "0.80"))
    )
    payments = (
        PAYMENTS + "P10,D10,I10,2024-07-15,999.40\nP11,D11,I11,2024-02-10,999.40\nP11u,D11,,2024-03-01,0.60\n"
    )
    (tmp_path / "invoices.csv").write_text(invoices, encoding="utf-8")
    (tmp_path / "payments.csv").write_text(payments, encoding="utf-8")
    out = tmp_path / "out"
    args = [
        "ingest",
        "--invoices",
        str(tmp_path / "invoices.csv"),
        "--payments",
        str(tmp_path / "payments.csv"),
    ]
    args += [
        "--project-config",
        str(_project(tmp_path, 0.0)),
        "--out",
        str(out),
        "--no-docs",
        "--as-of",
        "2024-06-30",
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output[-3000:]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    pays = manifest["tables"]["payments"]
    assert (pays["rows_in"], pays["rows_accepted"], pays["rows_quarantined"]) == (11, 10, 1)
    rests = manifest["short_paid_rests"]
    assert (rests["debtors"], rests["invoices"], rests["amount"]) == (6, 6, 12.40)


def test_an_explicit_empty_by_is_refused_even_with_ews_user_set(tmp_path) -> None:
    """e99f036: --by became optional (EWS_USER, else the login, when it is left out), but an override given
    with an empty --by is still refused, as the commit says, not recorded under EWS_USER (mutation L25:
    ``by or who_ran()``; the commit's test tried --by ' ' only, which the mutant also refuses)."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_watch_overrides import RUN, publish_scores

    publish_scores(tmp_path, RUN, [("D1", 0.08, False)])
    args = ["watchlist", "override", "D1", "--status", "escalated", "--reason", "rumours", "--by", ""]
    refused = CliRunner().invoke(app, [*args, "--out", str(tmp_path)], env={"EWS_USER": "A. Jansen"})
    assert refused.exit_code == 2 and "--by is empty" in refused.output, refused.output
    assert (
        not (tmp_path / "overrides.jsonl").exists() or not (tmp_path / "overrides.jsonl").read_text().strip()
    )


def test_the_calendar_rules_payments_lag_refusal_is_short_too() -> None:
    """c9956f5: the payments lag is judged by the calendar rule until runs are remembered (the first week of
    a new output folder); its refusal is the same two lines as the usual-days rule's, its long text kept
    for --verbose (mutation L23: the calendar rule's check without its short text, so a new user's first
    refusal was the ~800-character paragraph again). By hand (test_walk_s36's book, no previous run):
    payments stop on Friday 2024-12-06, invoices on Monday 16th, as of Tuesday 17th: 11 days behind; the
    longest silence between payment days in the 400 days before is a weekend, 2 days."""
    from tests.pipelines.test_walk_s36 import WORKING_DAYS, _lag

    assert len(WORKING_DAYS) > 60
    today = {
        "rows": {"invoices": 6_000, "payments": 5_000},
        "accepted": {"invoices": 6_000, "payments": 5_000},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
        "lags": {
            "invoices": _lag("2024-12-16", "2024-12-17"),
            "payments": _lag("2024-12-06", "2024-12-17") | {"file": "exports/payments.csv"},
        },
    }
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, NightlyConfig(), previous=None, training=None, as_of=dt.date(2024, 12, 17))
    lines = str(info.value).splitlines()
    line = next(x for x in lines if x.startswith("  - payments_lag_days"))
    assert line == (
        "  - payments_lag_days: the payments feed looks 11 days behind (usually at most 2): the latest payment in "
        "exports/payments.csv is dated 2024-12-06, the latest invoice 2024-12-16, so invoices paid since "
        "2024-12-06 would look unpaid."
    )
    assert lines[lines.index(line) + 1].startswith("    Fix: send the payments up to 2024-12-17")
    assert "its longest silence between payment days" in info.value.full
    assert "its longest silence between payment days" not in str(info.value)


@pytest.fixture(scope="module")
def small_pd_model():
    """A PD model trained on 600 debtors x 8 snapshots, 20 trees (as tests/pipelines/test_train_cli.py)."""
    from models.split import SplitParams
    from models.train import LGBMParams, TrainParams, train_pd_model
    from tests.pipelines.test_train_cli import model_frames

    frame = model_frames.make_modelling_frame(n_debtors=600, n_snapshots=8, seed=9)
    params = TrainParams(
        lgbm=LGBMParams(n_estimators=20), split=SplitParams(min_defaults=10), fold_defaults=0
    )
    return train_pd_model(frame, params)


def test_ews_models_promote_records_its_by(mlflow_uri, small_pd_model) -> None:
    """e99f036: `ews models promote` gained --by (who decides), which wins over EWS_USER; an empty one is
    refused (mutation L26: --by accepted but not handed to the registry, so EWS_USER was recorded)."""
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_train_cli import _log

    _log(small_pd_model)
    v2 = _log(small_pd_model)
    env = {"EWS_USER": "A. Jansen"}
    args = ["models", "promote", v2, "--reason", "committee"]
    refused = CliRunner().invoke(app, [*args, "--by", " "], env=env)
    assert refused.exit_code == 2 and "--by is empty" in refused.output, refused.output
    done = CliRunner().invoke(app, [*args, "--by", "C. Visser"], env=env)
    assert done.exit_code == 0, done.output
    assert MlflowClient().get_model_version("ews-pd", v2).tags["ews.promotion.by"] == "C. Visser"


def test_a_statements_books_queue_keeps_its_days_past_due_under_min_open_amount() -> None:
    """a4ff129: with ``min_open_amount`` the queues read the days past due of the oldest overdue invoice with
    more than the threshold open (``dpd_material``, 0 without one). A statements book has no invoices, yet its
    buckets' empty oldest-invoice frame carried the column, so every statement debtor's queue read 0 days past
    due: an account 60 days past due on 500.00 got a reminder instead of a final notice, and lost its days'
    weight in the priority. By hand (2024-03-31, balance 500.00, 60 days past due, not in default; the queue's
    actions: 31-60 days final_notice): 60 days and final_notice under threshold 0 and 10 alike."""
    from features.engine import build_bucket
    from features.statements import with_statement_dpd
    from pipelines.scoring.queue import build_queues
    from pipelines.scoring.score import exposure_columns
    from tests.features.test_labels import frame as table

    rows = [
        {"debtor_id": "s500", "period_end": pd.Timestamp(d), "balance": 500.0, "amount_due": 500.0,
         "amount_paid": 0.0, "days_past_due": dpd, "credit_limit": 2000.0}
        for d, dpd in {"2024-01-31": 0, "2024-02-29": 30, "2024-03-31": 60}.items()
    ]  # fmt: skip
    book = Portfolio(statements=table("statements", rows))
    for threshold in (0.0, 10.0):
        built = build_bucket(book, ["2024-03-31"], DefaultDefinition(min_open_amount=threshold))
        flags = built.defaults[["debtor_id", "in_default_at_asof"]].rename(
            columns={"in_default_at_asof": "in_default"}
        )
        scored = with_statement_dpd(built.features).merge(flags, on="debtor_id")
        scored = scored.assign(
            name=scored["debtor_id"], segment="retail", pd=0.05, band="C", **exposure_columns(scored)
        )
        q, r = build_queues(scored, built.oldest_open.drop(columns="as_of"), NightlyConfig())
        assert r.empty and q["debtor_id"].tolist() == ["s500"], threshold
        assert (q["dpd"].tolist(), q["next_action"].tolist()) == ([60.0], ["final_notice"]), threshold


def test_a_rest_equal_to_the_threshold_is_not_past_due_in_the_queue() -> None:
    """a4ff129: the queue reads the oldest overdue invoice with *more than* ``min_open_amount`` open, as the
    in-default flag does (mutation L28: ``>=``, so a rest of exactly the threshold was read as past due while
    its debtor was live). By hand, as of 2024-06-30: t owes 10.00 of an invoice of 1,000.00 due 2024-01-31
    (151 days), threshold 10: not in default, live, 0 days past due, no oldest invoice, the default action."""
    from features.engine import build_bucket
    from pipelines.scoring.queue import build_queues
    from tests.features.ledgers import inv, pay, portfolio

    book = portfolio(
        [inv("t1", "t", "2024-01-01", "2024-01-31", 1000.0)], [pay("pt", "t", "2024-02-10", 990.0, "t1")]
    )
    built = build_bucket(book, ["2024-06-30"], DefaultDefinition(min_open_amount=10.0))
    flags = built.defaults[["debtor_id", "in_default_at_asof"]].rename(
        columns={"in_default_at_asof": "in_default"}
    )
    assert not flags["in_default"].any()
    scored = built.features.merge(flags, on="debtor_id").assign(name="t", segment="retail", pd=0.05, band="C")
    q, r = build_queues(scored, built.oldest_open.drop(columns="as_of"), NightlyConfig())
    assert r.empty and q["debtor_id"].tolist() == ["t"]
    assert q["dpd"].tolist() == [0.0] and pd.isna(q["oldest_invoice_id"].iloc[0])
    assert q["next_action"].tolist() == ["reminder"]


def test_the_fitted_roll_rate_model_scores_by_the_material_days() -> None:
    """66f2771: with ``min_open_amount`` an invoice book's states read ``dpd_material`` (the days of the oldest
    overdue invoice with more than the threshold open); the fitted model's own input must name it, or the nightly
    and the backtest (``prepare_matrix`` on ``feature_names_in_``) score by the overdue-amount rule instead
    (mutation L33). By hand, threshold 10: W owes a 3.00 rest 75 days past due and 502.00 20 days past due
    (dpd_material 20, 1-30) and R owes 1,000.00 20 days past due: same state, same PD. By the overdue-amount rule
    W (505.00 > 10) would sit in 61-89 by the rest's 75 days."""
    from dataclasses import replace

    from models.rollrate import RollRateModel
    from models.train import prepare_matrix
    from tests.models.test_rollrate import PARAMS, book

    frame = book()
    frame["overdue_amount"] = 1000.0
    frame["dpd_material"] = frame["dpd_current_max"]
    model = RollRateModel(replace(PARAMS, min_open_amount=10.0)).fit(frame)
    names = [str(f) for f in model.feature_names_in_]
    assert "dpd_material" in names
    tonight = pd.DataFrame(
        {"debtor_id": ["W", "R"], "dpd_current_max": [75.0, 20.0], "dpd_material": [20.0, 20.0],
         "overdue_amount": [505.0, 1000.0], "in_default_at_asof": [False, False]}
    )  # fmt: skip
    pds = model.predict_proba(prepare_matrix(tonight, names, {}))[:, 1]
    assert pds[0] == pytest.approx(pds[1], abs=1e-12)
    rule = model.predict_proba(prepare_matrix(tonight.assign(dpd_material=75.0), names, {}))[:, 1]
    assert rule[0] > pds[0] + 0.05  # the 61-89 bucket's PD, had the rest's days been read


def test_ews_train_judges_the_test_window_by_the_unless_behind_rule(monkeypatch) -> None:
    """8cead36: the test window's key verdict is "the blend unless significantly behind" (``choose_key(...,
    unless_behind=True)``), passed by ``queue_key_evidence``, the function ``ews train`` calls; the commit's
    test called ``choose_key`` itself, so the training could keep the point rule unseen (mutation L35).
    A 120-debtor book (tests/pipelines/test_queue_key_flow.py's), a test window of 2024-03-31 and 2024-04-30
    with every debtor's PD 0.05 and balance, no pooled folds: the one verdict asked for is the window's, with
    the new rule."""
    from types import SimpleNamespace

    import models.queue_key as queue_key
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import queue_key_evidence
    from tests.pipelines.test_queue_key_flow import _tiny_book

    asked = []
    real = queue_key.choose_key

    def recorded(frame, **kwargs):
        asked.append(kwargs)
        return real(frame, **kwargs)

    monkeypatch.setattr(queue_key, "choose_key", recorded)
    book = _tiny_book()
    ids = [f"C{i:05d}" for i in range(120)]
    dates = [pd.Timestamp("2024-03-31"), pd.Timestamp("2024-04-30")]
    test = pd.DataFrame([{"debtor_id": d, "as_of": t, "y": 0, "pd": 0.05} for t in dates for d in ids])
    dataset = test[["debtor_id", "as_of"]].assign(
        open_balance=100.0, overdue_amount=10.0, dpd_current_max=5.0, in_default_at_asof=False
    )
    outcome = SimpleNamespace(kind="lightgbm", test=test, fold_rows=None)
    cfg = TrainConfig.model_validate({"paydate": {"train_snapshots": 4}})
    choice = queue_key_evidence(outcome, dataset, book, cfg, ProjectConfig())
    assert (
        len(asked) == 1 and asked[0].get("unless_behind") is True and asked[0]["where"] == "the test window"
    )
    assert choice.key == "blend"  # no defaulted rows to compare: the fallback


def test_the_limit_floor_reads_live_debtors_spares_the_current_limit_and_the_memory_sees_every_breach() -> (
    None
):
    """50d3c6a: the materiality floor of limit_breach is 0.5 x the median open balance of tonight's *live*
    debtors (mutation L36: every debtor, in default too); it applies to the recommended-limit test only, the
    current limit being the company's own (L38: to both); and the breach memory (``limit_over_on``) still
    records a breach under the floor (L37: only those above it, so a breach growing past the floor would read
    as new). By hand: live balances 924 (current limit 500, recommended 500), 2,000, 4,000, 6,000 and 8,000
    (limits 10,000), and four debtors in default at 100,000 each: the live median 4,000 -> floor 2,000 (with
    the defaulters, 8,000 -> 4,000). d0's 924 is over its current limit (500) and over 1.2 x 500 = 600."""
    from pipelines.scoring.watchlist import assign_bands, limit_excess, limit_over_on, material_exposure

    balances = [924.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0] + [100_000.0] * 4
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array([f"d{k}" for k in range(9)], dtype="string"),
            "as_of": pd.Timestamp("2024-06-30"),
            "pd": 0.001,
            "in_default": [False] * 5 + [True] * 4,
            "open_balance": balances,
            "credit_limit_current": [500.0] + [10_000.0] * 8,
            "credit_limit_recommended": [500.0] + [10_000.0] * 8,
            "credit_need": 1.0,
        }
    )
    cfg = NightlyConfig()
    frame["band"] = assign_bands(frame["pd"], cfg)
    assert material_exposure(frame, cfg) == 2_000.0
    over_current, over_recommended = limit_excess(frame, cfg, material_exposure(frame, cfg))
    assert over_current.tolist() == [True] + [False] * 4 + [True] * 4  # the defaulters' 100,000 over 10,000
    assert not over_recommended.iloc[0] and over_recommended.iloc[5:].all()
    memory = limit_over_on(frame, cfg)
    assert memory.iloc[0] == pd.Timestamp("2024-06-30") and memory.iloc[1:5].isna().all()
    only_recommended = frame.assign(credit_limit_current=float("nan"))
    assert limit_over_on(only_recommended, cfg).iloc[0] == pd.Timestamp("2024-06-30")  # under the floor, seen


def test_a_first_night_is_stale_only_when_every_ledger_table_is_silent() -> None:
    """6c16fe4: a first night's export is "a month old" (ledger_silence_days) only when invoices *and* payments
    are both silent past their usual silence; a payments feed alone behind is the payments-lag check's to judge
    (mutation L39: ``any``, so a payments feed a few days behind also read as a stale export). By hand
    (test_walk_s36's book paid and invoiced every working day): as of Tuesday 2024-12-17 the invoices end on
    Monday 16th (1 day), the payments on Friday 6th (11 days, usual 2): not stale; both ending on the 6th: stale."""
    from pipelines.feed_checks import LEDGER_SILENCE, ledger_silence
    from tests.pipelines.test_walk_s36 import _lag

    limit = NightlyConfig().feed_checks.payments_lag
    as_of = dt.date(2024, 12, 17)

    def status(invoices_end: str) -> str:
        lags = {"invoices": _lag(invoices_end, "2024-12-17"), "payments": _lag("2024-12-06", "2024-12-17")}
        check = next(c for c in ledger_silence({"lags": lags}, as_of, limit) if c.check == LEDGER_SILENCE)
        return check.status

    assert status("2024-12-16") == "ok"
    assert status("2024-12-06") == "failed"
