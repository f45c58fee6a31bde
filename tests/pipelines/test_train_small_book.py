"""Training succeeds with the shipped default config on a 1,000-debtor generated book (36 months)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.train import train_pd_model
from pipelines.config import load_config
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.flows.train import build_dataset, snapshot_dates
from pipelines.ingest import ingest_dir
from pipelines.synthetic import GeneratorParams, generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book1000")
    generate(GeneratorParams(debtors=1000, months=36, seed=0), out)
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    portfolio = ingest_dir(out, None).portfolio
    return cfg, build_dataset(portfolio, snapshot_dates(portfolio, cfg), ProjectConfig())


def test_default_config_trains_on_a_1000_debtor_book(small_book) -> None:
    cfg, frame = small_book
    outcome = train_pd_model(frame, cfg.to_params())
    windows = outcome.windows
    assert (windows["defaults"] >= cfg.split.min_defaults).all()
    assert windows.loc["test", "snapshots"] > 1  # pooled: one month holds too few defaults
    assert outcome.train_last_as_of == frame.loc[frame["label"].notna(), "as_of"].max()
    p = outcome.final_estimator.predict_proba(outcome.X_test)[:, 1]
    live = p[outcome.test["y"].to_numpy() == 0]
    assert np.unique(live).size >= min(1000, live.size / 5)
    assert p.min() >= cfg.calibration.pd_floor and p.max() <= cfg.calibration.pd_ceiling
    assert outcome.metrics["auc"] >= outcome.uncalibrated_metrics["auc"] - 0.002
    assert outcome.intervals["challenger"]["auc"][0] > 0.5


def test_a_book_below_what_is_possible_is_refused_with_counts(small_book) -> None:
    cfg, frame = small_book
    short = frame[frame["as_of"] >= frame["as_of"].max() - np.timedelta64(400, "D")]
    with pytest.raises(
        ValueError, match=r"too small for an out-of-time evaluation: \d+ snapshots .* hold \d+ default"
    ):
        train_pd_model(short, cfg.to_params())


def test_an_export_shorter_than_one_horizon_is_refused_with_its_dates() -> None:
    """UCI-like: statements to 2005-09-30, snapshots from 2005-07-31, a 90-day horizon."""
    import pandas as pd

    from pipelines.flows.train import DataError, require_observed_labels

    frame = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2005-07-31", "2005-08-31", "2005-09-30"] * 2),
            "horizon_observed": [False] * 6,
        }
    )
    with pytest.raises(DataError) as refused:
        require_observed_labels(frame, pd.Timestamp("2005-09-30"), 90)
    said = str(refused.value)
    # 2005-07-31 + 90 days = 2005-10-29; 29 days short -> about 1 more month
    for text in (
        "data end on 2005-09-30",
        "horizon is 90 days",
        "needs data until 2005-10-29",
        "about 1 more",
    ):
        assert text in said, said
    require_observed_labels(frame.assign(horizon_observed=[True] + [False] * 5), None, 90)  # one is enough


def test_a_history_shorter_than_the_first_snapshot_is_refused_with_its_dates() -> None:
    """Two months of invoices (first 2024-09-05, last payment 2024-11-05) and the default 3 months of
    history before the first snapshot: 2024-12-05 is after the data end. Before: month_ends' bare
    "snapshot end 2024-11-05 is before start 2024-12-05"."""
    import pandas as pd

    from features.tables import Portfolio
    from pipelines.flows.train import DataError

    frames = Portfolio(
        invoices=pd.DataFrame(
            {
                "invoice_id": ["I1", "I2"],
                "debtor_id": ["D1", "D1"],
                "issue_date": pd.to_datetime(["2024-09-05", "2024-10-20"]),
                "due_date": pd.to_datetime(["2024-10-05", "2024-11-19"]),
                "amount": [100.0, 50.0],
            }
        ),
        payments=pd.DataFrame(
            {
                "payment_id": ["P1"],
                "debtor_id": ["D1"],
                "invoice_id": ["I1"],
                "paid_on": pd.to_datetime(["2024-11-05"]),
                "amount": [100.0],
            }
        ),
    )
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    with pytest.raises(DataError) as refused:
        snapshot_dates(frames, cfg)
    said = str(refused.value)
    for text in (
        "data span 2024-09-05..2024-11-05",
        "3 months of history after the first invoice or statement (2024-09-05",
        "i.e. 2024-12-05",
        "the data end on 2024-11-05",
        "Export a longer history",
        "snapshots.start",
    ):
        assert text in said, said
    with pytest.raises(DataError, match="snapshots.start 2025-01-31, but snapshots.end 2024-12-31"):
        snapshot_dates(
            frames,
            cfg.model_copy(
                update={
                    "snapshots": cfg.snapshots.model_copy(update={"start": "2025-01-31", "end": "2024-12-31"})
                }
            ),
        )
