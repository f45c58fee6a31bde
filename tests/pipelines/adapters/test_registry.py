from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from model_frames import make_modelling_frame
from sklearn.metrics import roc_auc_score

from models.evaluate import GateThresholds, gate_decision
from models.scorecard import scorecard_table
from models.split import SplitParams
from models.train import LGBMParams, TrainParams, train_pd_model
from pipelines.adapters import registry


def _train(kind: str):
    frame = make_modelling_frame(n_debtors=800, n_snapshots=8, seed=5)
    params = TrainParams(
        lgbm=LGBMParams(n_estimators=30),
        split=SplitParams(min_defaults=20),
        bootstrap_samples=20,
        challenger=kind,
    )
    return train_pd_model(frame, params)


@pytest.fixture(scope="module")
def outcome():
    return _train("lightgbm")


@pytest.fixture(scope="module")
def scorecard_outcome():
    return _train("scorecard")


LENIENT = GateThresholds(min_auc=0.5, ece_margin=0.2)


def _gate(metrics, **kw):
    return gate_decision(metrics, LENIENT, ece_tolerance=0.0, **kw)


def _log(outcome, **kw):
    return registry.log_training(
        outcome,
        params={"train": {"seed": 42, "lightgbm": {"num_leaves": 15}}, "tags": ["a", "b"]},
        figures={},
        tables={"evaluation/segments.csv": outcome.segments},
        card="# card\n",
        provenance={"data_hash": "d" * 64, "config_hash": "c" * 64, "git_commit": "abc"},
        warnings=["feature constant_col dropped: constant on the training rows"],
        **kw,
    )


def test_log_training_writes_runs_artifacts_and_challenger(mlflow_uri, tmp_path, outcome) -> None:
    logged = _log(outcome)
    assert mlflow.get_tracking_uri() == mlflow_uri
    client = MlflowClient()
    run = client.get_run(logged.run_id)
    assert run.data.params["train.lightgbm.num_leaves"] == "15"
    assert run.data.params["tags"] == '["a", "b"]'
    assert run.data.metrics["test_auc"] == pytest.approx(outcome.metrics["auc"])
    assert run.data.metrics["baseline_test_ece"] == pytest.approx(outcome.baseline_metrics["ece"])
    assert {f"test_{k}" for k in outcome.metrics} <= set(run.data.metrics)
    assert run.data.tags["ews.data_hash"] == "d" * 64 and run.data.tags["ews.git_commit"] == "abc"
    assert "constant_col" in run.data.tags["ews.warnings"]
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{logged.run_id}'"
    )
    assert {c.info.run_name for c in children} == {"lightgbm", "scorecard"}
    scorecard_run = client.get_run(logged.child_runs["scorecard"])
    assert scorecard_run.data.metrics["test_auc"] == pytest.approx(outcome.baseline_metrics["auc"])
    names = {a.path for a in client.list_artifacts(logged.run_id)}
    assert {"feature_schema.json", "reference.json", "model_card.md", "provenance.json", "model"} <= names
    for prefix in ("test_", "baseline_test_", "uncalibrated_test_"):
        for bound in ("low", "high"):
            assert (
                f"{prefix}auc_ci_{bound}" in run.data.metrics
                and f"{prefix}ece_ci_{bound}" in run.data.metrics
            )
    assert (
        run.data.metrics["test_auc_ci_low"] <= outcome.metrics["auc"] <= run.data.metrics["test_auc_ci_high"]
    )
    assert run.data.tags["ews.kind"] == "lightgbm" and run.data.params["calibration_method"]
    assert {a.path for a in client.list_artifacts(logged.run_id, "model")} >= {"model/booster.txt"}
    # artifacts live under EWS_MLFLOW_ARTIFACTS (tmp_path), not in the repo
    assert (tmp_path / "mlartifacts").is_dir() and any((tmp_path / "mlartifacts").rglob("booster.txt"))
    mv = client.get_model_version("ews-pd", logged.version)
    assert mv.run_id == logged.run_id
    assert str(client.get_model_version_by_alias("ews-pd", "challenger").version) == logged.version
    text = outcome.model.booster_.model_to_string()
    assert logged.model_sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_no_champion_until_gate_passes_then_load(mlflow_uri, outcome) -> None:
    logged = _log(outcome)
    with pytest.raises(registry.NoChampionError, match="no alias 'champion'.*ews train"):
        registry.load_model_version("champion")
    assert registry.record_gate(logged.version, _gate(outcome.metrics), champion_version=None) is True
    loaded = registry.load_model_version()
    assert (loaded.version, loaded.alias, loaded.run_id) == (logged.version, "champion", logged.run_id)
    assert loaded.feature_names == outcome.feature_names
    assert loaded.categorical_features == ["segment"]
    assert loaded.reference["top_features"] == outcome.reference["top_features"]
    assert loaded.metrics["test_auc"] == pytest.approx(outcome.metrics["auc"])
    assert isinstance(loaded.booster, lgb.Booster) and loaded.kind == "lightgbm"
    raw = outcome.X_test.reset_index(drop=True).assign(debtor_id="x")
    X = registry.prepare_X(raw, loaded)
    shipped = outcome.final_estimator.predict_proba(outcome.X_test)[:, 1]
    np.testing.assert_allclose(loaded.predict_pd(X), shipped)
    np.testing.assert_allclose(loaded.raw_score(X), loaded.booster.predict(X, raw_score=True))
    # both at once: the same bits with one LightGBM pass (the pipeline's cast leaves X as it is)
    scorer = loaded.estimator[-1].scorer
    calls: list[int] = []
    predict = scorer.predict
    scorer.predict = lambda data, **kw: calls.append(len(data)) or predict(data, **kw)
    both = loaded.pd_and_raw(X)
    del scorer.predict
    assert calls == [len(X)]
    assert both[0].tobytes() == loaded.predict_pd(X).tobytes()
    assert both[1].tobytes() == loaded.raw_score(X).tobytes()
    contrib = loaded.booster.predict(X, pred_contrib=True)
    assert contrib.shape == (len(X), len(loaded.feature_names) + 1)
    with pytest.raises(ValueError, match="dpd_max_90d"):
        registry.prepare_X(raw.drop(columns="dpd_max_90d"), loaded)
    metrics = registry.score_version(loaded, raw, outcome.test["y"])
    assert metrics["auc"] == pytest.approx(roc_auc_score(outcome.test["y"], shipped))
    with pytest.raises(registry.NoChampionError, match="no version '99'"):
        registry.load_model_version("99")


def test_aliases_move_only_when_the_gate_passes_and_history_answers_dates(mlflow_uri, outcome) -> None:
    t = [datetime(2026, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4)]
    v1 = _log(outcome).version
    registry.record_gate(v1, _gate(outcome.metrics), champion_version=None, at=t[0])
    # v2 is clearly worse than the champion on the same test rows: gate fails, champion stays
    v2 = _log(outcome).version
    worse = dict(outcome.metrics, auc=outcome.metrics["auc"] - 0.05)
    lower = ({"logloss": (-0.01, 0.01), "auc": (-0.08, -0.02)}, {"logloss": 0.0, "auc": -0.05})
    failed = _gate(worse, champion=outcome.metrics, vs_champion=lower)
    assert registry.record_gate(v2, failed, champion_version=v1, who="ci", at=t[1]) is False
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("ews-pd", "champion").version) == v1
    assert str(client.get_model_version_by_alias("ews-pd", "challenger").version) == v2
    tags = client.get_model_version("ews-pd", v2).tags
    assert tags["ews.gate"] == "failed" and tags["ews.gate.champion.version"] == v1
    assert float(tags["ews.gate.champion.auc"]) == pytest.approx(outcome.metrics["auc"], abs=1e-6)
    assert (
        "FAIL worse than the champion: lower AUC" in tags["ews.gate.reasons"] and tags["ews.gate.by"] == "ci"
    )
    # v3 passes within the margin: champion moves, v1 is retired
    v3 = _log(outcome).version
    same = ({"logloss": (-0.01, 0.01), "auc": (-0.01, 0.01)}, {"logloss": 0.0, "auc": 0.0})
    ok = _gate(outcome.metrics, champion=outcome.metrics, vs_champion=same)
    assert registry.record_gate(v3, ok, champion_version=v1, at=t[2]) is True
    assert str(client.get_model_version_by_alias("ews-pd", "champion").version) == v3
    # manual override back to v2, with a reason
    with pytest.raises(ValueError, match="needs a reason"):
        registry.promote(v2, "  ")
    previous = registry.promote(v2, "regulator asked for the v2 feature set", who="anna", at=t[3])
    assert previous == v3
    assert str(client.get_model_version_by_alias("ews-pd", "champion").version) == v2
    tags = client.get_model_version("ews-pd", v2).tags
    assert tags["ews.promotion.by"] == "anna" and tags["ews.promotion.reason"].startswith("regulator")
    assert registry.champion_on("2025-12-31") is None
    assert registry.champion_on(datetime(2026, 1, 2, 13, tzinfo=UTC)) == v1
    assert registry.champion_on("2026-01-03T12:00:00") == v3
    assert registry.champion_on(pd.Timestamp("2026-02-01", tz="UTC")) == v2
    events = registry.history()
    flow = events[events["event"].isin(["champion", "retired", "gate_failed"])][["version", "event"]]
    assert flow.values.tolist() == [
        [v1, "champion"],
        [v2, "gate_failed"],
        [v1, "retired"],
        [v3, "champion"],
        [v3, "retired"],
        [v2, "champion"],
    ]
    listing = registry.list_versions().set_index("version")
    assert listing.loc[v2, "aliases"] == "champion" and listing.loc[v3, "aliases"] == "challenger"
    assert listing.loc[v1, "gate"] == "passed" and listing.loc[v2, "gate"] == "failed"
    assert listing.loc[v1, "champion_periods"] == "2026-01-01 12:00..2026-01-03 12:00"
    assert listing.loc[v2, "champion_periods"] == "2026-01-04 12:00..now"
    # `ews models list|history` read the SQLite store directly: the same records as MLflow's client
    from pipelines.adapters import registry_view

    direct = registry_view._from_sqlite(Path(mlflow_uri.removeprefix("sqlite:///")), "ews-pd")
    assert direct == registry_view._from_client("ews-pd", None)
    assert [r.version for r in direct] == [v1, v2, v3] and direct[1].aliases == ("champion",)
    assert registry_view._from_sqlite(Path(mlflow_uri.removeprefix("sqlite:///")), "other") is None


def test_loaded_model_is_frozen_dataclass() -> None:
    assert dataclasses.is_dataclass(registry.LoadedModel)
    assert registry.LoadedModel.__dataclass_params__.frozen


def test_a_scorecard_champion_loads_and_scores(mlflow_uri, scorecard_outcome) -> None:
    out = scorecard_outcome
    logged = _log(out, scorecard_table=scorecard_table(out.scorecard))
    assert registry.record_gate(logged.version, _gate(out.metrics, kind="scorecard"), champion_version=None)
    loaded = registry.load_model_version()
    assert loaded.kind == "scorecard" and loaded.booster is None and loaded.scorecard is not None
    X = registry.prepare_X(out.X_test.reset_index(drop=True), loaded)
    p = loaded.predict_pd(X)
    np.testing.assert_allclose(p, out.final_estimator.predict_proba(out.X_test)[:, 1])
    assert ((p >= 1e-4) & (p <= 0.9999)).all()
    # the raw score is the scorecard's logit, and calibration keeps its order
    raw = loaded.raw_score(X)
    assert roc_auc_score(out.test["y"], p) == pytest.approx(roc_auc_score(out.test["y"], raw), abs=0.002)
    assert [a.tobytes() for a in loaded.pd_and_raw(X)] == [p.tobytes(), raw.tobytes()]
    assert MlflowClient().get_model_version("ews-pd", logged.version).tags["ews.kind"] == "scorecard"


def test_loaded_model_matches_columns_by_name() -> None:
    """Issue 10: a version whose stored feature order differs from the fitted order. LightGBM reads
    columns by position, so without alignment the PDs would silently belong to other features."""
    import lightgbm as lgb

    from pipelines.adapters.registry import LoadedModel

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.normal(size=300)})
    y = (X["a"] + 0.5 * rng.normal(size=300) > 0).astype(int)
    est = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    loaded = LoadedModel(
        name="m",
        version="1",
        alias=None,
        run_id="r",
        estimator=est,
        booster=est.booster_,
        feature_names=["c", "a", "b"],
        categorical_features=[],
        categories={},
        reference={},
        metrics={},
    )
    stored_order = X[loaded.feature_names]
    expected = est.predict_proba(X)[:, 1]
    assert not np.allclose(est.predict_proba(stored_order)[:, 1], expected)  # positional: wrong
    np.testing.assert_allclose(loaded.predict_pd(stored_order), expected)
    np.testing.assert_allclose(loaded.raw_score(stored_order), est.booster_.predict(X, raw_score=True))


def test_missing_artifacts_give_a_clear_message(mlflow_uri, tmp_path, outcome) -> None:
    """Issue 10: deleted artifact files gave `MlflowException: No such artifact: ''`."""
    import shutil

    logged = _log(outcome)
    shutil.rmtree(tmp_path / "mlartifacts")
    with pytest.raises(registry.ModelArtifactsError, match="cannot be read from") as err:
        registry.load_model_version(logged.version)
    assert "ews models promote" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, registry.NoChampionError)  # handled wherever a missing model is


def _silent_server():
    """A socket that accepts connections and never answers (a hung tracking server)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_unreachable_tracking_server_fails_fast(monkeypatch) -> None:
    """Issue 10: an unreachable MLFLOW_TRACKING_URI failed after 264 s as 'no alias champion'."""
    import socket

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now: connection refused
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:secret@127.0.0.1:{port}")
    with pytest.raises(registry.TrackingUnavailableError, match="is unreachable") as err:
        registry.load_model_version("champion")
    assert "secret" not in str(err.value)
    hung = _silent_server()
    # the probe waits PROBE_TIMEOUT_S (5 s) for an answer; 1 s here spares the suite 4 s of idle
    # wall (the real 5 s wait, in a subprocess: test_runtime.py's hung-server test)
    assert registry.PROBE_TIMEOUT_S == 5.0
    monkeypatch.setattr(registry, "PROBE_TIMEOUT_S", 1.0)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{hung.getsockname()[1]}")
        with pytest.raises(registry.TrackingUnavailableError, match="no answer within 1 s"):
            registry.list_versions()
    finally:
        hung.close()


def test_pd_and_raw_runs_the_model_twice_when_a_step_changes_the_input() -> None:
    """A pipeline step that moves ``a`` by 1: the PD is of the moved rows, the raw score of ``X``
    as given, so both passes run (and give what predict_pd and raw_score give)."""
    import lightgbm as lgb
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from models.calibrate import CalibratedPD, fit_calibrator
    from pipelines.adapters.registry import LoadedModel

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = (X["a"] + 0.5 * rng.normal(size=300) > 0).astype(int)
    est = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    raw = est.predict(X, raw_score=True)
    model = CalibratedPD(est, fit_calibrator(raw, y.to_numpy(), "sigmoid"))
    shift = FunctionTransformer(lambda f: f.assign(a=f["a"] + 1.0))
    pipe = Pipeline([("shift", shift), ("model", model)])
    loaded = LoadedModel("m", "1", None, "r", pipe, est.booster_, ["a", "b"], [], {}, {}, {})
    pd_, raw_ = loaded.pd_and_raw(X)
    assert pd_.tobytes() == loaded.predict_pd(X).tobytes() and raw_.tobytes() == raw.tobytes()
    assert not np.array_equal(pd_, model.pd_from_raw(raw))  # not the PD of the unmoved rows


def test_a_failed_gate_without_a_champion_says_why_and_the_command_that_accepts_it(
    mlflow_uri, tmp_path
) -> None:
    """s18-firstrun: a new user's first `ews train` whose gate fails leaves nothing to score with.
    Before, `ews models history` said "Not promoted, the champion stays: ..." (there was none) and no
    command; the payment-date gate's history had no plain sentence at all."""
    from models.evaluate import GateDecision
    from pipelines.adapters.paydate_registry import gate_paydate

    registry.configure(mlflow_uri)
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    for name in ("ews-pd", "ews-paydate"):
        client.create_registered_model(name)
        for _ in range(2):
            client.create_model_version(name, source=str(tmp_path / "model"))
    # hand-built: the test AUC interval wholly below the floor (0.62 [0.55, 0.68] < 0.70), no champion
    th = GateThresholds(min_auc=0.70, ece_margin=0.005)
    low = {"auc": 0.62, "ece": 0.001, "mean_pd": 0.02, "default_rate": 0.02}
    refused = gate_decision(low, th, ece_tolerance=0.002, auc_interval=(0.55, 0.68), first_model=True)
    assert not refused.passed
    assert refused.summary == (
        "Not promoted, and this book has no champion yet: it ranks too poorly (test AUC 0.62, below the floor 0.70)."
    )
    assert registry.record_gate("1", refused, champion_version=None, tracking_uri=mlflow_uri) is False
    reason = registry.history(tracking_uri=mlflow_uri)["reason"].iloc[-1]
    assert reason.startswith(
        "Not promoted, and this book has no champion yet: it ranks too poorly (test AUC 0.62, below the floor 0.70). "
        "Until a version of ews-pd is champion, `ews score` cannot run; training again on the same data gives "
        'the same verdict. To accept v1 as it is: `ews models promote 1 --reason "..."` (the reason is kept in '
        "`ews models history`). Checks: ok challenger is the LightGBM model; FAIL AUC 0.6200 [0.5500, 0.6800]: the whole "
        "interval is below the floor 0.7000 (gate.min_auc)"
    )
    # with a champion the hint is not given (it stays and scores)
    with_champion = gate_decision(low, th, ece_tolerance=0.002, auc_interval=(0.55, 0.68), champion_note="x")
    assert with_champion.summary.startswith("Not promoted, the champion stays: it ranks too poorly")
    registry.record_gate("2", with_champion, champion_version="1", tracking_uri=mlflow_uri)
    assert "ews models promote" not in registry.history(tracking_uri=mlflow_uri)["reason"].iloc[-1]
    # the payment-date gate: coverage 62.0 % with its interval [58.0 %, 66.0 %] wholly under the 70-90 % band
    pay = {
        "mae_days": 9.0,
        "due_date_mae_days": 15.0,
        "due_plus_lateness_mae_days": 12.0,
        "coverage_80": 0.62,
        "coverage_80_ci_low": 0.58,
        "coverage_80_ci_high": 0.66,
    }
    first = gate_paydate("1", pay, tracking_uri=mlflow_uri)
    hint = (
        "Until a version of ews-paydate is champion, the nightly writes no invoice or cash-in forecast (the PD "
        "scores are not affected); training again on the same data gives the same verdict. To accept v1 as it "
        'is: `ews models promote 1 --name ews-paydate --reason "..."` (the reason is kept in `ews models history`).'
    )
    assert not first.passed
    assert first.summary == (
        "Not promoted: p10-p90 coverage 62.0% [95 % 58.0%, 66.0%] (band 70%..90%). " + hint
    )
    assert (
        registry.history("ews-paydate", tracking_uri=mlflow_uri)["reason"]
        .iloc[-1]
        .startswith(first.summary + " Checks: ok MAE 9.00")
    )
    # the command it names works: v1 becomes the payment-date champion
    registry.promote("1", "reviewed", name="ews-paydate", tracking_uri=mlflow_uri)
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == "1"
    second = gate_paydate("2", pay, tracking_uri=mlflow_uri)
    assert second.summary == "Not promoted: p10-p90 coverage 62.0% [95 % 58.0%, 66.0%] (band 70%..90%)."
    assert (
        GateDecision(True, ("ok x",)).summary == ""
        and gate_paydate("2", {**pay, "coverage_80_ci_high": 0.75}, tracking_uri=mlflow_uri).passed
    )


def test_two_projects_in_one_process_each_register_in_their_own_store(
    tmp_path, monkeypatch, mlflow_template, outcome
) -> None:
    """Two projects' stores (their ``paths.mlflow_tracking_uri``), no ``MLFLOW_TRACKING_URI`` of the
    user's, one process (a notebook, ``ews serve``, a test worker): each model is v1 of its own store.
    Before s23-determinism MLflow's setters wrote the first store into ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI``; ``configure`` then read it back as the user's own, so the second project
    registered v2 in the first store (its gate compared with the first project's champion), and a
    child process started afterwards inherited the first store."""
    import os

    from tests.conftest import seed_mlflow_db

    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("EWS_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    a = seed_mlflow_db(mlflow_template, tmp_path / "a" / "mlflow.db")
    b = seed_mlflow_db(mlflow_template, tmp_path / "b" / "mlflow.db")

    first, second = _log(outcome, tracking_uri=a), _log(outcome, tracking_uri=b)

    assert (first.version, second.version) == ("1", "1")
    for uri, run_id in ((a, first.run_id), (b, second.run_id)):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        assert [(str(v.version), v.run_id) for v in client.search_model_versions("name='ews-pd'")] == [
            ("1", run_id)
        ]
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_configure_keeps_the_callers_environment(tmp_path, monkeypatch) -> None:
    """The user's ``MLFLOW_TRACKING_URI`` wins and stays; a call naming no store stays on this
    process's last one (``ews demo`` prints the store its training used); MLflow's own globals follow."""
    import os

    from pipelines.adapters import registry_view

    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(registry_view, "_CONFIGURED", [])
    monkeypatch.chdir(tmp_path)  # the default store is relative: data/mlflow/mlflow.db
    a, b = (f"sqlite:///{tmp_path / name / 'mlflow.db'}" for name in ("a", "b"))
    assert registry.configure(None) == registry_view.DEFAULT_TRACKING_URI
    assert registry.configure(a) == a and registry.configure(b) == b
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (b, b)
    assert registry.configure(None) == b
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", a)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///elsewhere.db")
    assert registry.configure(b) == a
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (a, a)
    assert (os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_REGISTRY_URI"]) == (
        a,
        "sqlite:///elsewhere.db",
    )
