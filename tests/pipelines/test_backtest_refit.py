"""Walk-forward models of ``ews backtest --refit-every``: each refit learns only labels observed by
its refit date, and each month-end is scored by the latest refit on or before it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.backtest import model_scorer
from pipelines.backtest_refit import refit_dates, walk_forward, walk_forward_scorer
from pipelines.config import load_config
from pipelines.config.nightly import NightlyConfig
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.flows.train import build_dataset
from pipelines.ingest import ingest_dir
from pipelines.synthetic import generate
from pipelines.synthetic.regimes import regime_params

ROOT = Path(__file__).resolve().parents[2]
DATES = [pd.Timestamp(d) for d in ("2024-06-30", "2024-07-31", "2024-08-31")]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("stress400")
    generate(regime_params("stress", debtors=300, months=24, seed=3), out)
    portfolio = ingest_dir(out, None).portfolio
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    small = cfg.model_copy(
        update={
            "split": cfg.split.model_copy(update={"min_defaults": 8}),
            "evaluation": cfg.evaluation.model_copy(update={"bootstrap_samples": 10, "fold_defaults": 0}),
            "lightgbm": cfg.lightgbm.model_copy(update={"n_estimators": 40}),
            # 2 out-of-fold refits for each refit's shipped calibrator, not 5 (not what this file tests)
            "calibration": cfg.calibration.model_copy(update={"oof_folds": 2}),
        }
    )
    seen: list[pd.Timestamp] = []
    refits, leak = walk_forward(portfolio, DATES, 2, small, ProjectConfig(), seen.append)
    feats = build_dataset(portfolio, [pd.Timestamp("2024-05-31"), *DATES], ProjectConfig())
    return portfolio, refits, leak, seen, feats


def test_refit_dates_every_n() -> None:
    assert refit_dates(DATES, 2) == [DATES[0], DATES[2]]
    assert refit_dates(DATES, 1) == DATES
    with pytest.raises(ValueError, match="at least 1 month"):
        refit_dates(DATES, 0)


def test_each_refit_learns_only_labels_observed_by_its_date(fitted) -> None:
    _, refits, leak, seen, _ = fitted
    assert [r.on for r in refits] == [DATES[0], DATES[2]] and seen == [DATES[0], DATES[2]]
    for r in refits:
        assert r.trained_through + pd.Timedelta(days=90) <= r.on  # label of the last snapshot known
        assert r.trained_through + pd.Timedelta(days=120) > r.on  # and the latest such snapshot
    assert refits[1].rows > refits[0].rows  # the later model learned from more snapshots
    assert leak["in_sample"] == [] and leak["refit_every_months"] == 2
    assert [w["refit_on"] for w in leak["walk_forward"]] == ["2024-06-30", "2024-08-31"]
    assert leak["walk_forward"][0]["labels_seen_until"] <= "2024-06-30"


def test_each_month_end_is_scored_by_the_latest_refit(fitted) -> None:
    _, refits, _, _, feats = fitted
    cfg = NightlyConfig()
    score = walk_forward_scorer(refits, cfg)

    def live(T: pd.Timestamp) -> pd.DataFrame:
        return feats.loc[(feats["as_of"] == T) & ~feats["in_default_at_asof"]].head(60)

    first, second = (model_scorer(r.loaded, cfg) for r in refits)
    pd.testing.assert_series_equal(score(live(DATES[1])), first(live(DATES[1])))  # June's model in July
    pd.testing.assert_series_equal(score(live(DATES[2])), second(live(DATES[2])))
    assert not score(live(DATES[2])).equals(first(live(DATES[2])))  # the two models differ
    with pytest.raises(ValueError, match="no walk-forward model refitted on or before 2024-05-31"):
        score(live(pd.Timestamp("2024-05-31")))


def test_too_early_a_start_is_refused_with_the_fix(fitted) -> None:
    portfolio = fitted[0]
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    with pytest.raises(ValueError, match=r"no month-end with a label observed by 2023-06-30 .*--from"):
        walk_forward(portfolio, [pd.Timestamp("2023-06-30")], 1, cfg, ProjectConfig())
    with pytest.raises(
        ValueError, match=r"refit on 2023-09-30 \(3 snapshots .*too small.*start the backtest later"
    ):
        walk_forward(portfolio, [pd.Timestamp("2023-09-30")], 1, cfg, ProjectConfig())


def test_a_book_too_small_for_the_windows_refits_the_small_books_model(fitted) -> None:
    """s25-newuser: `ews backtest --refit-every 3` on a small book exited 2 ("too small for an
    out-of-time evaluation") while `ews train` trains the roll-rate model on the same book, so a
    small book had no leak-free backtest. With the default windows (30 defaults each) this 300-debtor
    book cannot fill them: each refit is now the small book's model, as `ews train` fits it, still
    trained only on labels observed by its date, and it scores the month-end."""
    portfolio, _, _, _, feats = fitted
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    cfg = cfg.model_copy(update={"rollrate": cfg.rollrate.model_copy(update={"all_labelled": False})})
    refits, leak = walk_forward(portfolio, [DATES[2]], 1, cfg, ProjectConfig())
    (r,) = refits
    assert r.kind == "rollrate" and leak["in_sample"] == []
    assert r.trained_through + pd.Timedelta(days=90) <= r.on
    live = feats.loc[(feats["as_of"] == DATES[2]) & ~feats["in_default_at_asof"]]
    pds = model_scorer(r.loaded, NightlyConfig())(live)
    assert len(pds) == len(live) and pds.between(0.0, 1.0, inclusive="neither").all()
    assert pds.nunique() > 4  # resolved inside the states, not one PD per state


def test_walk_forward_fits_with_one_blas_thread_and_gives_the_callers_threads_back(fitted) -> None:
    """Called from Python (a notebook), the walk-forward refits run as `ews train` does, with one
    BLAS thread (s25-review: not pinned outside the command line); the caller's threads afterwards.
    The refit's roll-rate model is a matrix product: its PDs depend on the summation order."""
    from threadpoolctl import threadpool_limits

    from pipelines.runtime import blas_threads

    portfolio = fitted[0]
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    cfg = cfg.model_copy(update={"rollrate": cfg.rollrate.model_copy(update={"all_labelled": False})})
    seen: list[int] = []
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("this BLAS runs one thread whatever it is asked")
        walk_forward(portfolio, [DATES[2]], 1, cfg, ProjectConfig(), lambda _on: seen.append(blas_threads()))
        after = blas_threads()
    assert seen == [1] and after == 2
