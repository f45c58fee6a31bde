"""``kind: train`` config: shipped file, typed params, invalid examples with actionable messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_config import INVALID  # the shared table of invalid examples (tests/pipelines/test_config.py)

from pipelines.config import ConfigError, load_config
from pipelines.config.train import TrainConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
ROOT = CONF.parents[1]

TRAIN_INVALID = {
    "train_unknown_key.yaml": ["train_unknown_key.yaml", "lightgbm.num_leafs", "unknown key"],
    "train_oof_folds_one.yaml": [
        "train_oof_folds_one.yaml",
        "calibration",
        "calibration.oof_folds must be 0 (off) or at least 2",
    ],
    "train_bad_calibration.yaml": [
        "train_bad_calibration.yaml",
        "calibration.method",
        "'isotonic'",
        "'platt'",
    ],
    "train_split_order.yaml": [
        "train_split_order.yaml",
        "train_snapshots (3) must exceed validation_snapshots (3)",
    ],
    "train_paydate_horizon.yaml": [
        "train_paydate_horizon.yaml",
        "paydate.horizon_weeks",
        "greater than or equal to 13 (got 8)",
    ],
    "train_paydate_boosting.yaml": [
        "train_paydate_boosting.yaml",
        "paydate",
        "n_estimators x learning_rate = 20 x 0.05 = 1.00 is below 3",
        "raise n_estimators or learning_rate",
    ],
    "train_paydate_unknown_key.yaml": ["train_paydate_unknown_key.yaml", "paydate.trees", "unknown key"],
    "train_bad_dates.yaml": [
        "train_bad_dates.yaml",
        "snapshots",
        "2024-06-30 is before snapshots.start 2025-06-30",
    ],
    # s17-review: before, rollrate.challenge was silently skipped (no comparison, no message)
    "train_challenge_not_below.yaml": [
        "train_challenge_not_below.yaml",
        "rollrate.challenge_min_defaults 30",
        "split.min_defaults 30",
    ],
    # s21-small: rollrate.all_labelled (on by default) and rollrate.challenge are two ways to do one thing
    "train_challenge_and_all_labelled.yaml": [
        "train_challenge_and_all_labelled.yaml",
        "rollrate.challenge and rollrate.all_labelled are both true",
        "keep one",
    ],
    "train_all_labelled_trees.yaml": [
        "train_all_labelled_trees.yaml",
        "rollrate.all_labelled_trees [0, 50]",
        "tree counts >= 1",
    ],
    # session 18: an empty list passed `ews config check` (the silent state reads the last edge)
    "train_rollrate_no_edges.yaml": [
        "train_rollrate_no_edges.yaml",
        "rollrate",
        "rollrate.dpd_edges [] must be one or more increasing whole days past due",
    ],
}
INVALID.update(TRAIN_INVALID)


@pytest.mark.parametrize("name", sorted(TRAIN_INVALID))
def test_invalid_train_config_names_file_and_key(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONF / "invalid" / name)
    for fragment in TRAIN_INVALID[name]:
        assert fragment in str(info.value)


def test_shipped_train_config_is_the_default() -> None:
    shipped = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    assert shipped == TrainConfig()


def test_custom_values_reach_typed_params() -> None:
    cfg = load_config(CONF / "valid" / "train_custom.yaml", expect=TrainConfig)
    params = cfg.to_params()
    assert params.seed == 7
    assert params.split.test_as_of == pd.Timestamp("2025-03-31")
    assert (params.split.calibration_snapshots, params.split.gap_snapshots, params.split.train_snapshots) == (
        2,
        1,
        6,
    )
    assert (params.lgbm.n_estimators, params.lgbm.num_leaves, params.lgbm.max_depth) == (50, 7, 3)
    assert params.lgbm.reg_lambda == 5.0  # default kept
    assert (params.calibration, params.min_isotonic_defaults) == ("isotonic", 50)
    assert params.calibration_window_identity is True  # default False (s28-calib)
    assert params.calibration_window_prior == 10.0  # default 0, off (s30-calib)
    assert (params.pd_floor, params.pd_ceiling, params.split.test_snapshots) == (0.001, 0.99, 2)
    assert (params.bootstrap_samples, params.challenger) == (50, "lightgbm")
    gate = cfg.gate.to_params()
    assert (gate.min_auc, gate.ece_margin) == (0.6, 0.01)
    assert gate.ece_chance == params.ece_chance == "debtors"  # default rows (s29-calib)


def test_paydate_section_reaches_the_flow_and_the_model() -> None:
    from pipelines.flows.train_paydate import plan

    cfg = load_config(CONF / "valid" / "train_custom.yaml", expect=TrainConfig)
    p = cfg.paydate.to_params(cfg.seed)
    assert (p.horizon_weeks, p.n_estimators, p.learning_rate, p.seed) == (20, 40, 0.2, 7)
    assert (p.num_leaves, p.min_child_samples) == (31, 200)  # defaults kept
    assert p.interval == "shaped" and not p.weekday_median  # the defaults since session 8
    assert cfg.paydate.model_copy(update={"weekday_median": True}).to_params(7).weekday_median
    assert cfg.paydate.model_copy(update={"interval": "first"}).to_params(7).interval == "first"
    assert (
        cfg.paydate.train_snapshots,
        cfg.paydate.test_snapshots,
        cfg.paydate.max_invoices_per_snapshot,
    ) == (
        4,
        2,
        500,
    )

    from features.tables import Portfolio
    from pipelines.engine import Book

    inv = pd.DataFrame(
        {
            "invoice_id": ["i1", "i2"],
            "debtor_id": ["d1", "d1"],
            "issue_date": pd.to_datetime(["2023-01-05", "2025-06-01"]),
            "due_date": pd.to_datetime(["2023-02-04", "2025-07-01"]),
            "amount": [10.0, 10.0],
        }
    )
    pay = pd.DataFrame(
        {
            "debtor_id": ["d1"],
            "invoice_id": ["i1"],
            "paid_on": pd.to_datetime(["2025-06-30"]),
            "amount": [10.0],
        }
    )
    book = Book.in_memory(Portfolio(invoices=inv, payments=pay), 1000)
    got = plan(book, cfg, p.horizon_weeks).describe()
    # snapshots 2024-03-31..2025-06-30; test: the latest 2 followed by 20 weeks by 2025-06-30
    assert got["test"] == ["2024-12-31", "2025-01-31"]
    assert got["eval_train"] == ["2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30"]
    assert got["final_train"] == ["2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"]


def test_challenge_alone_still_means_the_session_17_comparison(tmp_path: Path) -> None:
    """A train config of session 20 with `rollrate: {challenge: true}` was refused after 31e3b06 turned
    rollrate.all_labelled on by default; it now loads with all_labelled off (its author's choice)."""
    path = tmp_path / "train.yaml"
    path.write_text("kind: train\nrollrate:\n  challenge: true\n", encoding="utf-8")
    rr = load_config(path, TrainConfig).rollrate
    assert (rr.challenge, rr.all_labelled) == (True, False)
    assert TrainConfig().rollrate.all_labelled is True and TrainConfig().rollrate.challenge is False
