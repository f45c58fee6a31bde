"""The queue key of a trained PD model, chosen on the training's test window (``models.queue_key``).

``ews train`` fits, besides the registered payment-date model, one **cut at the first test
snapshot**: trained as the registered one (``paydate`` settings of the train config, the latest
``paydate.train_snapshots`` month-ends) but from rows dated up to that day only, so that its
``pay_pd`` on every test snapshot is out of time, as the PD model's test predictions are. The live
queue of each test snapshot (overdue, not in default, overdue amount above the default
``queue.min_overdue``) is ranked by both keys with the default queue settings (LGD, days-past-due
weight) and the blend is chosen unless it is significantly behind the PD key (its debtor-bootstrap
interval of blend - PD wholly below 0; session 36: the PD key's uncertain leads on a window of a few
month-ends did not hold in the later months).
The same cut model gives ``ews backtest`` its ``pay_pd`` (:func:`fit_paydate_at`).

When the challenger was chosen on pooled rolling-origin folds (``outcome.fold_rows``: the test
window held fewer than ``evaluation.fold_defaults`` defaults), the key is chosen on those folds
pooled (:func:`fold_queue_rows`): each fold's rows carry the PD of the shipped kind from the models
fitted for that fold (on snapshots whose horizon ended before it) and ``pay_pd`` from a
payment-date model cut at the fold's first month-end, so every figure is out of time. That model
trains on the latest ``paydate.train_snapshots`` month-ends before the cut, or on all of them when the
history is shorter, as the registered model does on a short book; a fold with fewer than
``paydate.fold_min_snapshots`` (16, all of ``train_snapshots``) before its cut is left out; with fewer
than two folds left, the test window decides, as before.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.words import counted

__all__ = ["fit_paydate_at", "fold_queue_rows", "pay_pd_at", "queue_key_evidence", "window_queue_rows"]


def _final_rows(
    book: Any, k: int, train: list[int], cut: int, horizon: int, per_bucket: int, seed: int, grid: Any
) -> pd.DataFrame | None:
    from features.ledger import prepare_ledger
    from features.paydate import training_rows
    from pipelines.engine import has_ledger

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    return training_rows(prepare_ledger(part), train, cut, horizon, per_bucket, seed, grid=grid)


def fit_paydate_at(
    book: Any,
    train_cfg: Any,
    cut: pd.Timestamp,
    engine: Any = None,
    full_only: bool = False,
    cache: dict[pd.Timestamp, Any] | None = None,
) -> Any:
    """A payment-date model as ``ews train`` fits the registered one, from rows dated up to ``cut``
    only (outcomes censored at ``cut``; the latest ``paydate.train_snapshots`` month-ends up to a week
    before it), in a ``LoadedPaydate`` (not registered). Raises ``DataError`` when the history up to
    ``cut`` is too short for the plan (``ews train``'s, with its held-out windows) or, with
    ``full_only``, when fewer than ``paydate.fold_min_snapshots`` month-ends (at most
    ``train_snapshots``) precede it (the held-out windows are then not needed: a rolling-origin fold's
    model, trained as the registered one, on the latest ``train_snapshots`` of them or on all when
    fewer). Without ``full_only`` (the test window's and ``ews backtest``'s model), a history too short
    for the plan's held-out windows still gives the model trained as the registered one when
    ``paydate.window_min_snapshots`` is N >= 1 and at least N month-ends precede the cut (0: the
    plan's DataError).
    ``cache``: models by cut, filled and reused (both ways train on the same month-ends)."""
    from features.paydate import PERIOD_DAYS
    from models.paydate import fit_day_shape, fit_hazard
    from pipelines.adapters.paydate_registry import LoadedPaydate
    from pipelines.engine import map_buckets
    from pipelines.flows.train import DataError
    from pipelines.flows.train_paydate import final_snapshots, plan

    params = train_cfg.paydate.to_params(train_cfg.seed)
    if full_only:
        # the latest train_snapshots month-ends before the cut, or all of them on a short history
        # (as the registered model trains on a short book); at least fold_min_snapshots (default: all)
        final_train, final_cut = final_snapshots(book, train_cfg, cut)
        need = min(train_cfg.paydate.fold_min_snapshots, train_cfg.paydate.train_snapshots)
        if len(final_train) < need:
            raise DataError(
                f"payment-date model cut at {pd.Timestamp(cut).date()}: {counted(len(final_train), 'month-end')} "
                f"before it to train on, fewer than {need} (paydate.fold_min_snapshots, at most "
                "train_snapshots)"
            )
    else:
        try:
            p = plan(book, train_cfg, params.horizon_weeks, last=cut)
        except DataError:
            # too short for the held-out windows: trained as the registered model on a short book,
            # with at least paydate.window_min_snapshots month-ends (0: no model)
            final_train, final_cut = final_snapshots(book, train_cfg, cut)
            need = train_cfg.paydate.window_min_snapshots
            if not need or len(final_train) < need:
                raise
        else:
            final_train, final_cut = p.final_train, p.final_cut
    if cache is not None and pd.Timestamp(cut) in cache:
        return cache[pd.Timestamp(cut)]
    per_bucket = max(1, train_cfg.paydate.max_invoices_per_snapshot // max(1, book.buckets))
    grid = params.grid()
    parts = [
        r
        for r in map_buckets(
            _final_rows,
            book,
            final_train,
            final_cut,
            params.horizon_weeks,
            per_bucket,
            params.seed,
            grid,
            engine=engine,
            step="payment dates (cut)",
        )
        if r is not None
    ]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if rows.empty:
        raise DataError(f"payment-date model cut at {pd.Timestamp(cut).date()}: no training rows")
    features = list(params.features())
    loaded = LoadedPaydate(
        name="ews-paydate (cut, not registered)",
        version="0",
        alias=None,
        run_id="",
        booster=fit_hazard(rows, params, features),
        features=features,
        horizon_weeks=params.horizon_weeks,
        period_days=PERIOD_DAYS,
        interval=params.interval,
        day_shape=fit_day_shape(rows).tolist() if grid is None else None,
        grid=None if grid is None else asdict(grid),
    )
    if cache is not None:
        cache[pd.Timestamp(cut)] = loaded
    return loaded


def _bucket_pay_pd(book: Any, k: int, dates: list[int], loaded: Any, definition: Any) -> pd.DataFrame | None:
    from features.ledger import ledger_state, prepare_ledger
    from features.paydate import open_invoices
    from models.paydate import weekly_cdf
    from pipelines.engine import has_ledger
    from pipelines.scoring.paydate import open_invoices_pay_pd

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    ledger = prepare_ledger(part)
    out = []
    for T in dates:
        inv = open_invoices(ledger, ledger_state(ledger, T))
        if inv.empty:
            continue
        _, _, Fw = weekly_cdf(
            loaded.booster, inv, T, loaded.horizon_weeks, loaded.features, loaded.fine_grid()
        )
        each = open_invoices_pay_pd(Fw, inv, T, definition)
        ids = pd.array(ledger.debtor_ids[inv["code"].to_numpy(dtype=np.int64)], dtype="string")
        per = pd.Series(each).groupby(pd.Series(ids), sort=True).max()
        out.append(
            pd.DataFrame(
                {
                    "as_of": pd.Timestamp(T, unit="D"),
                    "debtor_id": per.index.astype("string"),
                    "pay_pd": per.to_numpy(),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else None


def pay_pd_at(
    book: Any, dates: list[pd.Timestamp], loaded: Any, definition: Any, engine: Any = None
) -> pd.DataFrame:
    """``pay_pd`` per (``as_of``, ``debtor_id``) with an open invoice at each of ``dates``, from
    ``loaded`` (``pipelines.scoring.paydate.pay_pd_of_invoices``, the largest per debtor), as the
    nightly's score pass computes it."""
    from features.ledger import day_number
    from pipelines.engine import map_buckets

    days = [int(day_number(pd.Timestamp(d))) for d in dates]
    parts = [
        r
        for r in map_buckets(_bucket_pay_pd, book, days, loaded, definition, engine=engine, step="pay_pd")
        if r is not None
    ]
    if not parts:
        return pd.DataFrame({"as_of": pd.Series(dtype="datetime64[ns]"), "debtor_id": pd.Series(dtype="string"),
                             "pay_pd": pd.Series(dtype="float64")})  # fmt: skip
    out = pd.concat(parts, ignore_index=True)
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out.sort_values(["as_of", "debtor_id"], ignore_index=True)


def window_queue_rows(test: pd.DataFrame, dataset: pd.DataFrame, queue_cfg: Any) -> pd.DataFrame:
    """The live queue rows of the test window: ``test`` (``debtor_id``, ``as_of``, ``y``, ``pd``:
    the model's out-of-time PDs) joined to the modelling frame's exposure columns, kept when not in
    default and overdue above ``queue_cfg.min_overdue``; with ``lgd`` (``queue_cfg.lgd``), ``dpd``,
    ``open_balance``, ``overdue_amount`` and ``label``. With ``default_definition.min_open_amount`` the
    ``dpd`` is the frame's ``dpd_material`` (the oldest overdue invoice with more than it open), as the
    nightly's queues read it (before session 36 the rest's days, ``dpd_current_max``)."""
    from features.engine import MATERIAL_DPD
    from pipelines.scoring.queue import lgd_for

    cols = ["debtor_id", "as_of", "open_balance", "overdue_amount", "dpd_current_max", "in_default_at_asof"]
    if "segment" in dataset.columns:
        cols.append("segment")
    if MATERIAL_DPD in dataset.columns:  # min_open_amount: the days the nightly's queues read
        cols.append(MATERIAL_DPD)
    keys = test[["debtor_id", "as_of", "y", "pd"]].assign(
        debtor_id=test["debtor_id"].astype("string"), as_of=pd.to_datetime(test["as_of"])
    )
    right = dataset[cols].assign(
        debtor_id=dataset["debtor_id"].astype("string"), as_of=pd.to_datetime(dataset["as_of"])
    )
    rows = keys.merge(right, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    live = ~rows["in_default_at_asof"].fillna(False).astype(bool)
    live &= rows["overdue_amount"].astype("float64").fillna(0.0) > queue_cfg.min_overdue
    q = rows.loc[live].reset_index(drop=True)
    segment = q["segment"] if "segment" in q.columns else pd.Series(pd.NA, index=q.index, dtype="string")
    return pd.DataFrame(
        {
            "as_of": q["as_of"],
            "debtor_id": q["debtor_id"],
            "pd": q["pd"].astype("float64"),
            "open_balance": q["open_balance"].astype("float64"),
            "overdue_amount": q["overdue_amount"].astype("float64"),
            "dpd": q[MATERIAL_DPD if MATERIAL_DPD in q.columns else "dpd_current_max"].astype("float64"),
            "lgd": lgd_for(segment, queue_cfg).to_numpy(),
            "label": q["y"].astype("int64"),
        }
    )


def fold_queue_rows(
    outcome: Any,
    dataset: pd.DataFrame,
    book: Any,
    cfg: Any,
    definition: Any,
    queue_cfg: Any,
    engine: Any = None,
    cache: dict[pd.Timestamp, Any] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The live queue rows of the challenger's pooled rolling-origin folds (``outcome.fold_rows``;
    the PD of ``outcome.kind``, ``pd_lightgbm`` or ``pd_scorecard``) with ``fold`` and ``pay_pd``
    from a payment-date model cut at each fold's first month-end; and the folds left out, with why
    (no payment-date model from the rows dated up to that day). Empty without fold rows.
    ``cache``: :func:`fit_paydate_at`'s."""
    from pipelines.flows.train import DataError

    folds = getattr(outcome, "fold_rows", None)
    column = "pd_lightgbm" if outcome.kind == "lightgbm" else "pd_scorecard"
    if folds is None or folds.empty or column not in folds.columns:
        return pd.DataFrame(), []
    parts, skipped = [], []
    for fold, part in folds.groupby("fold", sort=True):
        dates = sorted(pd.to_datetime(part["as_of"]).unique())
        cut = pd.Timestamp(dates[0])
        try:
            loaded = fit_paydate_at(book, cfg, cut, engine, full_only=True, cache=cache)
        except DataError as exc:
            skipped.append(f"fold {fold} ({cut.date()}): {exc}")
            continue
        rows = window_queue_rows(part.assign(pd=part[column]), dataset, queue_cfg)
        pay = pay_pd_at(book, [pd.Timestamp(d) for d in dates], loaded, definition, engine)
        parts.append(rows.merge(pay, on=["as_of", "debtor_id"], how="left").assign(fold=int(fold)))
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), skipped


def _where(outcome: Any) -> str:
    """The rows of ``outcome.test`` in words: a small book's LightGBM fitted on every labelled
    month-end (``rollrate.all_labelled``) has no test window, its ``test`` is the inner folds."""
    from pipelines.flows.train import has_no_test_window

    return (
        "the inner folds' out-of-time month-ends (no test window)"
        if has_no_test_window(outcome)
        else "the test window"
    )


def queue_key_evidence(
    outcome: Any,
    dataset: pd.DataFrame,
    book: Any,
    cfg: Any,
    project: Any,
    engine: Any = None,
    currency: str | None = None,
) -> Any:
    """The :class:`models.queue_key.KeyChoice` of a trained PD model (``outcome``: ``train_pd_model``
    or the roll-rate model, with ``test``): on the challenger's pooled rolling-origin folds when it
    was chosen on two or more (:func:`fold_queue_rows`), else on its test window with a
    payment-date model cut at the window's first snapshot; the PD key, with why, when no
    payment-date model can be fitted. The test window's own verdict is always computed: on pooled
    folds it is appended to the reason and kept as ``window`` (metrics ``queue_key_window_*``); the
    fold ending with the test window reuses its payment-date model (same cut, same month-ends).
    ``currency``: the reporting currency (ingest's): the queues' order is read at its decimals, as the
    nightly ranks them."""
    from models.queue_key import choose_key, keep_pd
    from pipelines.config.nightly import QueueConfig
    from pipelines.flows.train import DataError
    from pipelines.ingest.decimals import money_places

    queue_cfg = QueueConfig()
    test = outcome.test
    dates = sorted(pd.to_datetime(test["as_of"]).unique())
    if not dates:
        return keep_pd("no test window")
    if book.bounds("invoices", "issue_date") is None:
        return keep_pd(
            "the book holds no invoices (monthly statements): no payment-date model, ranked by the PD"
        )
    definition = project.default_definition.to_params()
    rule = dict(
        dpd_weight_days=queue_cfg.dpd_weight_days,
        n_boot=cfg.evaluation.bootstrap_samples,
        seed=cfg.seed,
        min_defaults=cfg.split.min_defaults,
        places=money_places(currency),
    )
    models: dict[pd.Timestamp, Any] = {}
    cut = pd.Timestamp(dates[0])
    try:
        loaded = fit_paydate_at(book, cfg, cut, engine, cache=models)
    except DataError as exc:
        window = keep_pd(f"no payment-date model can be fitted from rows dated up to {cut.date()}: {exc}")
    else:
        rows = window_queue_rows(test, dataset, queue_cfg)
        pay = pay_pd_at(book, [pd.Timestamp(d) for d in dates], loaded, definition, engine)
        window = choose_key(
            rows.merge(pay, on=["as_of", "debtor_id"], how="left"),
            where=_where(outcome),
            unless_behind=True,
            **rule,
        )
    pooled, skipped = fold_queue_rows(outcome, dataset, book, cfg, definition, queue_cfg, engine, models)
    if not pooled.empty and pooled["fold"].nunique() >= 2:
        left_out = f" (left out: {'; '.join(skipped)})" if skipped else ""
        where = f"the challenger's {pooled['fold'].nunique()} pooled rolling-origin folds{left_out}"
        choice = choose_key(pooled, where=where, **rule)
        return replace(
            choice, reason=f"{choice.reason}; the test window alone: {window.reason}", window=window
        )
    if skipped:
        return replace(
            window, reason=f"{window.reason} (the folds' payment-date models: {'; '.join(skipped)})"
        )
    return window
