"""The test window's queue rows that ``ews train`` chooses the queue key on (``pipelines.flows.queue_key``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipelines.config.nightly import QueueConfig
from pipelines.flows.queue_key import window_queue_rows


def test_queue_rows_are_the_live_overdue_test_rows_with_their_exposure() -> None:
    """Of four test rows: a in default and c not overdue are left out; b and d kept with the modelling
    frame's balance, days past due and the segment's LGD (construction 0.6, else the default 0.45)."""
    t = pd.Timestamp("2024-06-30")
    test = pd.DataFrame(
        {"debtor_id": ["a", "b", "c", "d"], "as_of": t, "y": [1, 0, 1, 1], "pd": [0.9, 0.1, 0.2, 0.3]}
    )
    dataset = pd.DataFrame(
        {
            "debtor_id": ["a", "b", "c", "d", "e"],
            "as_of": t,
            "open_balance": [100.0, 200.0, 300.0, 400.0, 500.0],
            "overdue_amount": [100.0, 50.0, 0.0, 10.0, 5.0],
            "dpd_current_max": [120.0, 12.0, 0.0, 45.0, 3.0],
            "in_default_at_asof": [True, False, False, False, False],
            "segment": ["retail", "construction", "retail", "retail", "retail"],
        }
    )
    cfg = QueueConfig.model_validate({"lgd": {"default": 0.45, "by_segment": {"construction": 0.6}}})
    rows = window_queue_rows(test, dataset, cfg)
    assert rows["debtor_id"].tolist() == ["b", "d"]
    assert rows["open_balance"].tolist() == [200.0, 400.0] and rows["dpd"].tolist() == [12.0, 45.0]
    assert rows["lgd"].tolist() == pytest.approx([0.6, 0.45]) and rows["label"].tolist() == [0, 1]
    assert rows["pd"].tolist() == [0.1, 0.3]
    above = window_queue_rows(test, dataset, cfg.model_copy(update={"min_overdue": 20.0}))
    assert above["debtor_id"].tolist() == ["b"]


def _tiny_book():
    from features.tables import Portfolio
    from pipelines.engine import Book
    from tests.pipelines.nightly_portfolio import make_portfolio

    tables = make_portfolio(n_debtors=120, months=20, seed=5)  # invoices from 2023-01, data end 2024-08-31
    return Book.in_memory(Portfolio(invoices=tables["invoices"], payments=tables["payments"]), 10**6)


def test_a_fold_cut_trains_on_the_latest_month_ends_without_the_held_out_windows() -> None:
    """Snapshots from the first invoice (2023-01-0x) + 3 months: 2023-04-30 on. Cut 2023-08-15: the
    month-ends up to a week before it are 2023-04-30..2023-07-31, the latest 4 kept. ``plan`` refuses
    that cut (no month-end followed by 26 observed weeks); the fold model (``full_only``) does not,
    and refuses a cut with fewer than min(``fold_min_snapshots``, ``train_snapshots``) month-ends
    before it."""
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import fit_paydate_at
    from pipelines.flows.train import DataError
    from pipelines.flows.train_paydate import final_snapshots, plan

    book = _tiny_book()
    cfg = TrainConfig.model_validate({"paydate": {"train_snapshots": 4}})
    days, cut = final_snapshots(book, cfg, pd.Timestamp("2023-08-15"))
    assert [str(pd.Timestamp(d, unit="D").date()) for d in days] == [
        "2023-04-30",
        "2023-05-31",
        "2023-06-30",
        "2023-07-31",
    ]
    assert pd.Timestamp(cut, unit="D") == pd.Timestamp("2023-08-15")
    with pytest.raises(DataError, match="observed weeks"):
        plan(book, cfg, 26, last=pd.Timestamp("2023-08-15"))
    with pytest.raises(DataError, match=r"3 month-ends before it to train on, fewer than 4 \(paydate"):
        fit_paydate_at(book, cfg, pd.Timestamp("2023-07-31"), full_only=True)


def test_fold_queue_rows_carry_each_folds_pd_and_a_pay_pd_cut_at_its_start() -> None:
    """Three folds of the challenger (2023-07-31 | 2023-08-31, 2023-09-30 | 2023-10-31), a scorecard
    challenger: the rows carry pd_scorecard (0.2), not pd_lightgbm (0.7); fold 0 is left out (3
    month-ends before its cut, 4 needed); fold 1's pay_pd comes from a payment-date model cut at
    2023-08-31 (not at fold 2's 2023-10-31, which gives other values), fold 2's from one cut there."""
    from types import SimpleNamespace

    from pipelines.config.nightly import QueueConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import fit_paydate_at, fold_queue_rows, pay_pd_at

    book = _tiny_book()
    cfg = TrainConfig.model_validate({"paydate": {"train_snapshots": 4}})
    definition = ProjectConfig().default_definition.to_params()
    ids = [f"C{i:05d}" for i in range(40)]
    dates = {0: ["2023-07-31"], 1: ["2023-08-31", "2023-09-30"], 2: ["2023-10-31"]}
    fold_rows = pd.concat(
        pd.DataFrame({"fold": f, "debtor_id": ids, "as_of": pd.Timestamp(t), "y": 0, "pd_lightgbm": 0.7, "pd_scorecard": 0.2})
        for f, ts in dates.items()
        for t in ts
    )  # fmt: skip
    dataset = fold_rows[["debtor_id", "as_of"]].assign(
        open_balance=100.0, overdue_amount=10.0, dpd_current_max=5.0, in_default_at_asof=False
    )
    outcome = SimpleNamespace(kind="scorecard", fold_rows=fold_rows)
    rows, skipped = fold_queue_rows(outcome, dataset, book, cfg, definition, QueueConfig())
    assert skipped == [
        "fold 0 (2023-07-31): payment-date model cut at 2023-07-31: 3 month-ends before it to train on, "
        "fewer than 4 (paydate.fold_min_snapshots, at most train_snapshots)"
    ]
    assert sorted(rows["fold"].unique()) == [1, 2] and len(rows) == 3 * 40 and (rows["pd"] == 0.2).all()
    keys = ["as_of", "debtor_id"]
    for fold, cut in ((1, "2023-08-31"), (2, "2023-10-31")):
        part = rows[rows["fold"] == fold].set_index(keys)["pay_pd"]
        at = [pd.Timestamp(t) for t in dates[fold]]
        own = pay_pd_at(book, at, fit_paydate_at(book, cfg, pd.Timestamp(cut), full_only=True), definition)
        own = own.set_index(keys)["pay_pd"].reindex(part.index)
        assert own.notna().sum() > 10
        pd.testing.assert_series_equal(part, own, check_names=False)
    later = fit_paydate_at(book, cfg, pd.Timestamp("2023-10-31"), full_only=True)
    other = pay_pd_at(book, [pd.Timestamp("2023-08-31")], later, definition).set_index(keys)["pay_pd"]
    first = rows[rows["fold"] == 1].set_index(keys)["pay_pd"]
    assert not np.allclose(first.reindex(other.index).to_numpy(), other.to_numpy(), equal_nan=True)


def test_fold_min_snapshots_sets_which_folds_a_short_history_keeps_and_they_train_on_all_of_it() -> None:
    """Session 24, on a book whose snapshots start at 2023-04-30: folds cut at 2023-11-30 (month-ends up
    to a week before it: 2023-04-30..2023-10-31, 7), 2023-12-31 (..2023-11-30, 8) and 2024-01-31 (9).
    The shipped settings (``paydate.train_snapshots`` 16, ``fold_min_snapshots`` 16) leave the three out
    (the test window then decides). With ``fold_min_snapshots`` 8 (pre-registered, not shipped) fold 0
    is left out and folds 1 and 2 are used; fold 1's model trains on all 8 month-ends before its cut:
    its ``pay_pd`` is that of a fold model trained with ``train_snapshots`` 8 (the latest 8), not of one
    trained on the latest 4."""
    from pipelines.config.nightly import QueueConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import fit_paydate_at, fold_queue_rows, pay_pd_at
    from pipelines.flows.train_paydate import final_snapshots

    book = _tiny_book()
    shipped = TrainConfig()
    assert (shipped.paydate.train_snapshots, shipped.paydate.fold_min_snapshots) == (16, 16)
    cfg = TrainConfig.model_validate({"paydate": {"fold_min_snapshots": 8}})
    days, _ = final_snapshots(book, cfg, pd.Timestamp("2023-12-31"))
    assert [str(pd.Timestamp(d, unit="D").date()) for d in days] == [
        f"2023-{m:02d}-{d}"
        for m, d in ((4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30))
    ]
    definition = ProjectConfig().default_definition.to_params()
    ids = [f"C{i:05d}" for i in range(40)]
    dates = {0: "2023-11-30", 1: "2023-12-31", 2: "2024-01-31"}
    fold_rows = pd.concat(
        pd.DataFrame({"fold": f, "debtor_id": ids, "as_of": pd.Timestamp(t), "y": 0, "pd_lightgbm": 0.3})
        for f, t in dates.items()
    )
    dataset = fold_rows[["debtor_id", "as_of"]].assign(
        open_balance=100.0, overdue_amount=10.0, dpd_current_max=5.0, in_default_at_asof=False
    )
    outcome = SimpleNamespace(kind="lightgbm", fold_rows=fold_rows)
    rows, skipped = fold_queue_rows(outcome, dataset, book, shipped, definition, QueueConfig())
    assert rows.empty and skipped == [
        f"fold {f} ({t}): payment-date model cut at {t}: {n} month-ends before it to train on, "
        "fewer than 16 (paydate.fold_min_snapshots, at most train_snapshots)"
        for (f, t), n in zip(dates.items(), (7, 8, 9), strict=True)
    ]
    rows, skipped = fold_queue_rows(outcome, dataset, book, cfg, definition, QueueConfig())
    assert skipped == [
        "fold 0 (2023-11-30): payment-date model cut at 2023-11-30: 7 month-ends before it to train on, "
        "fewer than 8 (paydate.fold_min_snapshots, at most train_snapshots)"
    ]
    assert sorted(rows["fold"].unique()) == [1, 2] and len(rows) == 2 * 40
    keys = ["as_of", "debtor_id"]
    cut = pd.Timestamp(dates[1])
    part = rows[rows["fold"] == 1].set_index(keys)["pay_pd"]
    for snapshots, same in ((8, True), (4, False)):
        other = TrainConfig.model_validate({"paydate": {"train_snapshots": snapshots}})
        own = pay_pd_at(book, [cut], fit_paydate_at(book, other, cut, full_only=True), definition)
        own = own.set_index(keys)["pay_pd"].reindex(part.index)
        assert own.notna().sum() > 10
        assert np.allclose(part.to_numpy(), own.to_numpy(), equal_nan=True) is same


def test_window_min_snapshots_fits_the_cut_model_a_short_history_has_no_held_out_windows_for() -> None:
    """Session 26: the cut payment-date model of the queue key's test window and of ``ews backtest``
    (``full_only`` False). Cut 2023-08-15 on a book whose snapshots start at 2023-04-30: ``plan``
    refuses it (no month-end followed by 26 observed weeks). With ``window_min_snapshots`` 0 (main's
    behaviour before session 26) no model: the DataError of the plan. With 1 (shipped) the model trains as the registered one on a
    short book, on the 4 month-ends up to a week before the cut (2023-04-30..2023-07-31): its ``pay_pd``
    is that of the fold model on the same month-ends. With 5 (more than the 4 there are) no model
    either. A cut the plan accepts is unchanged by the setting."""
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import fit_paydate_at, pay_pd_at
    from pipelines.flows.train import DataError

    book = _tiny_book()
    definition = ProjectConfig().default_definition.to_params()
    cut = pd.Timestamp("2023-08-15")
    at = [pd.Timestamp("2023-08-31"), pd.Timestamp("2023-09-30")]
    keys = ["as_of", "debtor_id"]
    assert TrainConfig().paydate.window_min_snapshots == 1  # shipped since session 26
    shipped = TrainConfig.model_validate({"paydate": {"train_snapshots": 4, "window_min_snapshots": 0}})
    with pytest.raises(DataError, match="observed weeks"):
        fit_paydate_at(book, shipped, cut)
    one = TrainConfig.model_validate({"paydate": {"train_snapshots": 4}})
    got = pay_pd_at(book, at, fit_paydate_at(book, one, cut), definition).set_index(keys)["pay_pd"]
    fold = TrainConfig.model_validate({"paydate": {"train_snapshots": 4, "fold_min_snapshots": 4}})
    want = pay_pd_at(book, at, fit_paydate_at(book, fold, cut, full_only=True), definition)
    assert len(got) > 10
    pd.testing.assert_series_equal(got, want.set_index(keys)["pay_pd"], check_names=False)
    five = TrainConfig.model_validate({"paydate": {"train_snapshots": 4, "window_min_snapshots": 5}})
    with pytest.raises(DataError, match="observed weeks"):
        fit_paydate_at(book, five, cut)
    late = pd.Timestamp("2024-04-30")
    a = pay_pd_at(book, [late], fit_paydate_at(book, shipped, late), definition)
    b = pay_pd_at(book, [late], fit_paydate_at(book, one, late), definition)
    pd.testing.assert_frame_equal(a, b)
