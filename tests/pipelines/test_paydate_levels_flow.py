"""A payment-date version stores the CDF levels of its p10-p90 and is read back with them (session 35,
issue 13): ``ews train``'s payment-date flow on a small book (real LightGBM, MLflow on SQLite, a
temporary Prefect API), then what the nightly, the gate and ``ews models history`` read. A version
logged without levels (before session 35) keeps 0.1 / 0.9."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from nightly_portfolio import write_portfolio

ROOT = Path(__file__).resolve().parents[2]

TRAIN_YAML = """kind: train
project: {project}
paydate:
  train_snapshots: 8
  test_snapshots: 3
  max_invoices_per_snapshot: 400
  n_estimators: 20
  learning_rate: 0.2
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory, prefect_harness, mlflow_template):
    """80 debtors x 20 months, ingested, and its payment-date version (the flow of `ews train`)."""
    import os

    from tests.conftest import seed_mlflow_db

    tmp = tmp_path_factory.mktemp("levels")
    old_cwd, old_env = Path.cwd(), dict(os.environ)
    os.chdir(ROOT)
    uri = seed_mlflow_db(mlflow_template, tmp / "mlflow.db")
    os.environ.update(
        {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri, "EWS_MLFLOW_ARTIFACTS": str(tmp / "art")}
    )
    try:
        import mlflow

        from pipelines.flows.train_paydate import run_train_paydate
        from pipelines.ingest import ingest_dir

        mlflow.set_tracking_uri(uri)
        data = tmp / "data"
        ingest_dir(write_portfolio(tmp / "raw", n_debtors=80, months=20, seed=3), data)
        cfg = tmp / "train.yaml"
        cfg.write_text(TRAIN_YAML.format(project=ROOT / "conf" / "ews.yaml"))
        yield {"data": data, "uri": uri, "result": run_train_paydate(data, cfg)}
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)


def test_a_small_books_version_stores_and_reads_back_its_levels(small) -> None:
    """80 debtors: fewer than 150 with a paid held-out invoice, so (0.08, 0.92). The version's spec and
    params hold them, ``load_paydate`` reads them back, the gate's coverage line and the registry's
    history say them in words, and the held-out coverage the gate judged is read at them."""
    import mlflow

    from pipelines.adapters import registry
    from pipelines.adapters.paydate_registry import load_paydate

    result = small["result"]
    back = load_paydate(result.version, tracking_uri=small["uri"])
    assert back.interval_levels == (0.08, 0.92)
    assert mlflow.get_run(result.run_id).data.params["paydate.interval_levels"] == "[0.08, 0.92]"
    assert (result.metrics["interval_level_low"], result.metrics["interval_level_high"]) == (0.08, 0.92)
    words = "p10-p90 here is the 8th to the 92nd percentile of the predicted payment date"
    coverage = [r for r in result.gate_reasons if "p10-p90 coverage" in r]
    assert len(coverage) == 1 and coverage[0].endswith(words), result.gate_reasons
    reasons = registry.history("ews-paydate", tracking_uri=small["uri"])["reason"]
    assert reasons.str.contains(words, regex=False).any()


def test_the_nightly_reads_the_versions_levels(small) -> None:
    """The invoice forecast of the stored version against the same booster read at 0.1 / 0.9: the same
    expected_paid_on (the median is not touched), p10 never later, p90 never earlier, and wider on
    some invoices."""
    from pipelines.adapters.paydate_registry import load_paydate
    from pipelines.engine import Book
    from pipelines.scoring.paydate import forecast_book

    back = load_paydate(small["result"].version, tracking_uri=small["uri"])
    book = Book.ingested(small["data"])
    as_of = dt.date.fromisoformat(str(book.last_observed())[:10])
    wide = forecast_book(book, as_of, back).invoices
    plain = forecast_book(book, as_of, dataclasses.replace(back, interval_levels=(0.1, 0.9))).invoices
    assert len(wide) > 50
    assert wide["expected_paid_on"].equals(plain["expected_paid_on"])
    lo_w, lo_p = wide["paid_on_p10"].to_numpy(), plain["paid_on_p10"].to_numpy()
    hi_w, hi_p = wide["paid_on_p90"].to_numpy(), plain["paid_on_p90"].to_numpy()
    both = ~np.isnat(lo_w) & ~np.isnat(lo_p)
    assert (lo_w[both] <= lo_p[both]).all() and (lo_w[both] < lo_p[both]).any()
    both = ~np.isnat(hi_w) & ~np.isnat(hi_p)
    assert (hi_w[both] >= hi_p[both]).all() and (hi_w[both] > hi_p[both]).any()


def test_a_version_without_stored_levels_keeps_the_old_ones(mlflow_uri) -> None:
    """A spec logged before session 35 (no ``interval_levels``): 0.1 / 0.9, as every such version read."""
    import lightgbm as lgb
    import pandas as pd

    from pipelines.adapters.paydate_registry import load_paydate, log_paydate, spec_record

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(pd.DataFrame(x, columns=["a", "b"]), label=(x[:, 0] > 0).astype(int)),
        num_boost_round=3,
    )
    logged = log_paydate(
        booster,
        spec=spec_record(["a", "b"], 26, 7),
        metrics={"mae_days": 5.0},
        params={},
        tables={},
        provenance={},
        tracking_uri=mlflow_uri,
    )
    assert load_paydate(logged.version, tracking_uri=mlflow_uri).interval_levels == (0.1, 0.9)
