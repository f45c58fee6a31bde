"""The ``train-paydate`` Prefect flow: the payment-date hazard model, trained out of time, logged to
MLflow as ``ews-paydate`` (its own versions and aliases), gated, and made ``champion`` when it passes.

Plan (:func:`plan`, month-end snapshots as the PD model's, ``snapshots`` of the train config; the
counts and model settings are the ``paydate`` section of ``conf/train.yaml``):

- test: the latest ``paydate.test_snapshots`` month-ends T whose whole horizon is observed;
- evaluation model: trained on the ``paydate.train_snapshots`` month-ends up to a week before the first
  test snapshot C, from rows dated <= C only (person-period rows censored at C); it predicts the test
  snapshots, which gives the held-out figures (MAE in days, share within 7 days, p10-p90 coverage,
  the two baselines, the weekly cash backtest);
- registered model: the same settings refitted on the latest ``paydate.train_snapshots`` month-ends, from
  every row up to the last observed date (as the PD model is refitted on every labelled snapshot).

Rows are built debtor bucket by debtor bucket (``pipelines.engine.map_buckets``), at most
``paydate.max_invoices_per_snapshot`` open invoices per snapshot (a seeded sample, split over buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines.config import config_hash, load_config
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.flows.train import DataError, _data_hash, data_window, git_commit, load_project
from pipelines.runtime import SAID_IN_SUMMARY

__all__ = ["PaydatePlan", "PaydateTrainResult", "plan", "run_train_paydate", "train_paydate"]


@dataclass(frozen=True)
class PaydatePlan:
    """Days since the epoch: evaluation training snapshots and cut, test snapshots, final training
    snapshots and cut (the last observed day)."""

    eval_train: list[int]
    eval_cut: int
    test: list[int]
    final_train: list[int]
    final_cut: int

    def describe(self) -> dict[str, list[str] | str]:
        def day(d: int) -> str:
            return str(pd.Timestamp(d, unit="D").date())

        return {
            "eval_train": [day(d) for d in self.eval_train],
            "eval_cut": day(self.eval_cut),
            "test": [day(d) for d in self.test],
            "final_train": [day(d) for d in self.final_train],
            "final_cut": day(self.final_cut),
        }


@dataclass(frozen=True)
class PaydateTrainResult:
    run_id: str
    version: str
    promoted: bool
    gate_reasons: tuple[str, ...]
    metrics: dict[str, float]
    plan: dict[str, Any]
    rows: int
    gate_summary: str = ""  # the decision in plain words (failed without a champion: how to accept it)
    history_note: str = ""  # trained on fewer month-ends than paydate.train_snapshots (:func:`history_note`)
    history_headline: str = (
        ""  # the same in one short line (:func:`history_headline`): the console's and the WARNING's
    )


def _month_end_days(
    book: Any, cfg: TrainConfig, last: pd.Timestamp | None
) -> tuple[list[int], int, pd.Timestamp, pd.Timestamp]:
    """The training month-ends as days (``snapshots`` of the train config, up to ``last`` or the
    data's end), the last day, and the first and last month-end's bounds (for messages)."""
    from features.ledger import day_number
    from features.snapshots import month_ends

    first, data_last = data_window(book)
    last = min(pd.Timestamp(last), data_last) if last is not None else data_last
    start = (
        pd.Timestamp(cfg.snapshots.start)
        if cfg.snapshots.start
        else first + pd.DateOffset(months=cfg.snapshots.min_history_months)
    )
    end = pd.Timestamp(cfg.snapshots.end) if cfg.snapshots.end else last
    snaps = [int(day_number(s)) for s in month_ends(start, min(end, last))] if start <= end else []
    return snaps, int(day_number(last)), start, last


def final_snapshots(book: Any, cfg: TrainConfig, last: pd.Timestamp | None = None) -> tuple[list[int], int]:
    """The month-ends (days) the registered model trains on when the data end on ``last``, the
    latest ``paydate.train_snapshots`` at least one period before it, and its cut (the last day):
    :class:`PaydatePlan`'s ``final_train`` and ``final_cut``, without the held-out windows that
    :func:`plan` also needs."""
    from features.paydate import PERIOD_DAYS

    snaps, last_day, _, _ = _month_end_days(book, cfg, last)
    return [s for s in snaps if s <= last_day - PERIOD_DAYS][-cfg.paydate.train_snapshots :], last_day


def plan(book: Any, cfg: TrainConfig, horizon_weeks: int, last: pd.Timestamp | None = None) -> PaydatePlan:
    """The snapshots of :class:`PaydatePlan`; raises :class:`DataError` when the history is too short.
    ``last``: plan as if the data ended on that day (a backtest of the plan; default: the data's end)."""
    from features.paydate import PERIOD_DAYS

    snaps, last_day, start, last = _month_end_days(book, cfg, last)
    span = PERIOD_DAYS * horizon_weeks
    test = [s for s in snaps if s + span <= last_day][-cfg.paydate.test_snapshots :]
    if not test:
        raise DataError(
            f"payment-date model: no month-end between {start.date()} and {last.date()} is followed by "
            f"{horizon_weeks} observed weeks; it needs a longer history"
        )
    eval_train = [s for s in snaps if s <= test[0] - PERIOD_DAYS][-cfg.paydate.train_snapshots :]
    if not eval_train:
        raise DataError(
            f"payment-date model: no month-end before the first test snapshot {pd.Timestamp(test[0], unit='D').date()} "
            "to train on; it needs a longer history"
        )
    return PaydatePlan(eval_train, test[0], test, *final_snapshots(book, cfg, last))


def history_note(p: PaydatePlan, train_snapshots: int) -> str:
    """Empty when the held-out and the registered model both train on ``train_snapshots`` month-ends;
    else what a short history gave them: the plan takes the latest ``paydate.train_snapshots``
    month-ends, or all there are (it refuses only when there is none before the first test month-end)."""
    held_out, final = len(p.eval_train), len(p.final_train)
    if held_out >= train_snapshots and final >= train_snapshots:
        return ""
    if final >= train_snapshots:  # it read "the history is shorter ...: the registered model trains on 16"
        return (
            f"the history before the test month-ends is shorter than paydate.train_snapshots ({train_snapshots} "
            f"month-ends): the held-out model behind the figures trains on {held_out} (month-end"
            f"{'s' if held_out != 1 else ''} from {_day(p.eval_train[0])}, the first with "
            f"snapshots.min_history_months of history), the registered model on all {final}; the gate below "
            "judges them"
        )
    return (
        f"the history is shorter than paydate.train_snapshots ({train_snapshots} month-ends): the registered "
        f"model trains on {final} month-end{'s' if final != 1 else ''} and the held-out model behind its "
        f"figures on {held_out} (month-end{'s' if held_out != 1 else ''} from {_day(p.eval_train[0])}, the first with "
        "snapshots.min_history_months of history); the gate below judges them"
    )


def history_headline(p: PaydatePlan, train_snapshots: int) -> str:
    """:func:`history_note` in one short line (about 75 characters), what the console and the flow-run
    log's WARNING say; the full note follows in the log at INFO. Before session 27 the WARNING was the
    whole note (about 330 characters)."""
    held_out, final = len(p.eval_train), len(p.final_train)
    if held_out >= train_snapshots and final >= train_snapshots:
        return ""
    ends = "month-end" if held_out == 1 else "month-ends"
    if final >= train_snapshots:  # only the held-out check is short ("model on 16 (of 16 wanted)" before s29)
        return f"short history: held-out check on {held_out} {ends} (of {train_snapshots} wanted), model on all {final}"
    return (
        f"short history: held-out check on {held_out} {ends}, model on {final} (of {train_snapshots} wanted)"
    )


def _day(d: int) -> str:
    return str(pd.Timestamp(d, unit="D").date())


def bucket_rows(
    book: Any,
    k: int,
    p: PaydatePlan,
    horizon: int,
    max_invoices: int,
    seed: int,
    grid: Any = None,
    memos: str = "censor",
) -> dict[str, Any] | None:
    """Bucket ``k``: training rows of the evaluation and of the final model, and the test invoices
    (``grid``: the hazard periods, ``PaydateParams.grid()``; ``memos``: how an invoice a credit memo
    closed counts, ``features.paydate.MEMO_RULES``; the flow: ``censor``)."""
    from features.ledger import prepare_ledger
    from features.paydate import evaluation_invoices, training_window
    from pipelines.engine import has_ledger

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    ledger = prepare_ledger(part)
    # the rows and the memo share of a window from the same ledger states
    eval_rows, eval_memo = training_window(
        ledger, p.eval_train, p.eval_cut, horizon, max_invoices, seed, grid=grid, memos=memos
    )
    final_rows, final_memo = training_window(
        ledger, p.final_train, p.final_cut, horizon, max_invoices, seed, grid=grid, memos=memos
    )
    return {
        "eval": eval_rows,
        "final": final_rows,
        "test": [(T, evaluation_invoices(ledger, T, p.final_cut, horizon)) for T in p.test],
        "debtors": len(ledger.debtor_ids),  # codes 0..n-1 of this bucket
        # (credited, closed) of each window: the share of the open amount credit memos took
        "memo": {"eval": eval_memo, "final": final_memo},
    }


@task(name="paydate-rows", cache_policy=NO_CACHE)
def build_rows(
    book: Any,
    p: PaydatePlan,
    horizon: int,
    seed: int,
    max_invoices: int,
    engine: Any = None,
    grid: Any = None,
) -> dict[str, Any]:
    """Person-period rows and test invoices of the whole book, bucket by bucket (at most
    ``max_invoices`` open invoices per training snapshot, split over the buckets)."""
    from pipelines.engine import map_buckets

    per_bucket = max(1, max_invoices // max(1, book.buckets))
    parts = [
        r
        for r in map_buckets(
            bucket_rows, book, p, horizon, per_bucket, seed, grid, engine=engine, step="payment dates"
        )
        if r is not None
    ]
    if not parts:
        raise DataError("payment-date model: no bucket holds invoices")
    # debtor codes count from 0 in every bucket: shifted per bucket so that ``code`` names one debtor
    # across the book (the held-out coverage's bootstrap resamples by it)
    shift = list(accumulate([0] + [r["debtors"] for r in parts[:-1]]))
    tests = [
        (
            T,
            pd.concat(
                [
                    r["test"][i][1].assign(code=r["test"][i][1]["code"] + s)
                    for r, s in zip(parts, shift, strict=True)
                ],
                ignore_index=True,
            ),
        )
        for i, T in enumerate(p.test)
    ]
    memo = {}
    for window in ("eval", "final"):  # the buckets' sums, then the share (0 without memos)
        credited = sum(r["memo"][window][0] for r in parts)
        closed = sum(r["memo"][window][1] for r in parts)
        memo[window] = credited / closed if closed > 0 else 0.0
    return {
        "eval": pd.concat([r["eval"] for r in parts], ignore_index=True),
        "final": pd.concat([r["final"] for r in parts], ignore_index=True),
        "test": tests,
        "memo_share": memo,
    }


def version_levels(rows: dict[str, Any]) -> tuple[float, float]:
    """The CDF levels of the version's p10-p90 (``models.paydate.interval_levels``), from the debtors with
    a paid invoice in its held-out month-ends (the gate's ``paid_debtors``)."""
    from models.paydate import interval_levels

    paid = pd.concat([inv.loc[inv["actual_days"].notna(), "code"] for _, inv in rows["test"]]).nunique()
    return interval_levels(int(paid))


@task(name="paydate-fit-evaluate", cache_policy=NO_CACHE)
def fit_and_evaluate(
    rows: dict[str, Any], params: Any, levels: tuple[float, float] | None = None
) -> tuple[Any, dict[str, float], pd.DataFrame, pd.DataFrame, list[Any], Any]:
    """Fit the evaluation model, score the held-out snapshots, then refit on every row (final).
    The p10-p90 is read at ``levels`` (the version's, :func:`version_levels`; None: 0.1 / 0.9), in
    ``metrics`` as ``interval_level_low`` / ``_high``: the gate judges the interval the nightly writes.
    Also returns the held-out model's ``expected_paid_on`` (days after T) per test snapshot (the
    champion comparison of the gate reads them) and the held-out model (logged with the version: a
    later challenger's gate compares with it)."""
    from models.paydate import (
        DEFAULT_LEVELS,
        evaluate,
        fit_day_shape,
        fit_hazard,
        fit_weekday_profile,
        median_days,
        weekly_cdf,
    )

    features, grid, H = params.features(), params.grid(), params.horizon_weeks
    levels = DEFAULT_LEVELS if levels is None else (float(levels[0]), float(levels[1]))
    held_out = fit_hazard(rows["eval"], params, features)
    outs = [weekly_cdf(held_out, inv, T, H, features, grid) for T, inv in rows["test"]]
    weekdays = fit_weekday_profile(rows["eval"]) if grid is None and params.weekday_median else None
    metrics, per_snapshot, cash = evaluate(
        held_out,
        rows["test"],
        H,
        features=features,
        cdfs=[o[0] for o in outs],
        grids=None if grid is None else [(o[1], o[2]) for o in outs],
        interval=params.interval,
        shape=fit_day_shape(rows["eval"]) if grid is None else None,
        weekdays=weekdays,
        memo_share=rows.get("memo_share", {}).get("eval", 0.0),
        levels=levels,
    )
    metrics["interval_level_low"], metrics["interval_level_high"] = levels
    predicted = [median_days(o[0], o[1], weekdays, T) for o, (T, _) in zip(outs, rows["test"], strict=True)]
    final = fit_hazard(rows["final"], params, features)
    return final, metrics, per_snapshot, cash, predicted, held_out


@flow(name="train-paydate", log_prints=True)
def train_paydate(
    data_dir: Path, cfg: TrainConfig, project: ProjectConfig, raw: bool = False, engine: str = "local"
) -> PaydateTrainResult:
    """Train, evaluate out of time, log, register and gate the payment-date model on the data dir."""
    from dataclasses import asdict

    from features.paydate import PERIOD_DAYS
    from models.paydate import fit_day_shape, fit_weekday_profile
    from pipelines.adapters.paydate_registry import (
        EvidenceMinimum,
        champion_on_test,
        gate_paydate,
        log_paydate,
        spec_record,
    )
    from pipelines.cluster import PrefectDaskEngine
    from pipelines.engine import open_feed
    from pipelines.runtime import blas_threads

    logger = get_run_logger()
    params = cfg.paydate.to_params(cfg.seed)
    feed = open_feed(Path(data_dir), raw=raw, currency=project.currency)
    p = plan(feed.book, cfg, params.horizon_weeks)
    rows = build_rows(
        feed.book,
        p,
        params.horizon_weeks,
        params.seed,
        cfg.paydate.max_invoices_per_snapshot,
        PrefectDaskEngine() if engine == "dask" else None,
        params.grid(),
    )
    note = history_note(p, cfg.paydate.train_snapshots)
    if note:
        logger.warning(
            "payment-date model: %s", history_headline(p, cfg.paydate.train_snapshots), extra=SAID_IN_SUMMARY
        )
        logger.info("payment-date model, in full: %s", note)
    logger.info(
        f"payment-date rows: {len(rows['eval']):,} held-out training rows, {len(rows['final']):,} final rows, "
        f"{sum(len(inv) for _, inv in rows['test']):,} test invoices"
    )
    levels = version_levels(rows)
    booster, metrics, per_snapshot, cash, predicted, held_out = fit_and_evaluate(rows, params, levels)
    # the evidence the gate's figures rest on (with the invoice and debtor counts of the evaluation)
    metrics = {
        **metrics,
        "test_month_ends": float(len(p.test)),
        "heldout_month_ends": float(len(p.eval_train)),
    }
    described = p.describe()
    champion = champion_on_test(
        rows["test"],
        predicted,
        params.horizon_weeks,
        tracking_uri=project.paths.mlflow_tracking_uri,
        last_month_end=(described["final_train"] or [None])[-1],
    )
    grid = params.grid()
    spec = spec_record(
        list(params.features()),
        params.horizon_weeks,
        PERIOD_DAYS,
        grid=None if grid is None else asdict(grid),
        interval=params.interval,
        day_shape=fit_day_shape(rows["final"]).tolist() if grid is None else None,
        weekdays=fit_weekday_profile(rows["final"]).tolist()
        if grid is None and params.weekday_median
        else None,
        # the held-out model's own profile (its rows, dated <= eval_cut): a later gate predicts with it
        **(
            {"held_out_weekdays": fit_weekday_profile(rows["eval"]).tolist()}
            if grid is None and params.weekday_median
            else {}
        ),
        interval_levels=[metrics["interval_level_low"], metrics["interval_level_high"]],
        trained_through=described["final_cut"],
        test_as_of=f"{described['test'][0]}..{described['test'][-1]}",
        plan=described,
        cash_shock_sd=metrics.get("cash_shock_sd", 0.0),
        **({"memo_share": rows["memo_share"]["final"]} if rows["memo_share"]["final"] > 0 else {}),
    )
    provenance = {
        "data_hash": _data_hash(feed.manifest),
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "blas_threads": blas_threads(),
        "data_dir": str(Path(data_dir).resolve()),
        "rows": int(len(rows["final"])),
    }
    # re-ingested while the rows were read bucket by bucket: a version of two ingests (s39-audit)
    feed.check_unchanged("Run `ews train` again", "registered (payment-date model)")
    logged = log_paydate(
        booster,
        held_out=held_out,
        spec=spec,
        metrics=metrics,
        params={
            "paydate": {
                **cfg.paydate.model_dump(),
                "seed": params.seed,
                # the leaves per tree rows_per_leaf gave the held-out and the registered model
                "leaves_eval": params.leaves_for(len(rows["eval"])),
                "leaves_final": params.leaves_for(len(rows["final"])),
                # the CDF levels of paid_on_p10 / paid_on_p90 (models.paydate.interval_levels)
                "interval_levels": [metrics["interval_level_low"], metrics["interval_level_high"]],
            },
            "plan": described,
        },
        tables={"evaluation/paydate_snapshots.csv": per_snapshot, "evaluation/cash_backtest.csv": cash},
        provenance=provenance,
        experiment=cfg.experiment,
        artifacts=project.paths.mlflow_artifacts,
        tracking_uri=project.paths.mlflow_tracking_uri,
    )
    decision = gate_paydate(
        logged.version,
        metrics,
        tracking_uri=project.paths.mlflow_tracking_uri,
        champion=champion,
        minimum=EvidenceMinimum(
            cfg.paydate.gate_min_heldout_snapshots,
            cfg.paydate.gate_min_test_snapshots,
            cfg.paydate.gate_min_debtors,
        ),
    )
    logger.info(
        "registered ews-paydate v%s: test MAE %.2f days (baselines: due date %.2f, due + lateness %.2f), "
        "p10-p90 coverage %.1f%%; gate %s",
        logged.version,
        metrics["mae_days"],
        metrics["due_date_mae_days"],
        metrics["due_plus_lateness_mae_days"],
        100 * metrics["coverage_80"],
        "passed: champion" if decision.passed else "failed: champion unchanged",
    )
    return PaydateTrainResult(
        run_id=logged.run_id,
        version=logged.version,
        promoted=decision.passed,
        gate_reasons=decision.reasons,
        metrics=metrics,
        plan=described,
        rows=int(len(rows["final"])),
        gate_summary=decision.summary,
        history_note=note,
        history_headline=history_headline(p, cfg.paydate.train_snapshots),
    )


def run_train_paydate(
    data_dir: Path,
    config_path: Path = Path("conf/train.yaml"),
    raw: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
) -> PaydateTrainResult:
    """:func:`train_paydate` with the train config (and its project config), on the configured engine,
    with one BLAS thread while it runs (:func:`pipelines.runtime.one_blas_thread`)."""
    from pipelines.cluster import EngineSettings, task_runner
    from pipelines.runtime import one_blas_thread

    config_path = Path(config_path)
    cfg = load_config(config_path, expect=TrainConfig)
    project = load_project(cfg, config_path)
    settings = EngineSettings.from_config(project.compute, engine, scheduler)
    flow_fn = (
        train_paydate.with_options(task_runner=task_runner(settings))
        if settings.kind == "dask"
        else train_paydate
    )
    with one_blas_thread():
        return flow_fn(Path(data_dir), cfg, project, raw, settings.kind)
