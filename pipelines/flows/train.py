"""The ``train`` Prefect flow: ingest -> validate -> snapshots (features + labels) -> fit LightGBM and
the scorecard -> calibrate -> evaluate -> log to MLflow -> register as ``challenger`` -> gate ->
``champion``.

Tasks are coarse (one per step). The modelling itself is ``models.train.train_pd_model`` (pure);
MLflow access is ``pipelines.adapters.registry``. ``run_train`` is the plain-Python entry used by the CLI.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models.gate_words import ECE_WORDS
from pipelines.config import config_hash, load_config
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.feed_checks import FEED_REFERENCE_ARTIFACT, training_reference
from pipelines.ingest.decimals import feed_currency
from pipelines.ingest.staged import statement_balance_warning
from pipelines.runtime import SAID_IN_SUMMARY
from pipelines.words import counted

__all__ = [
    "DataError",
    "TrainResult",
    "build_dataset",
    "data_window",
    "git_commit",
    "load_project",
    "run_train",
    "snapshot_dates",
    "train",
]

ROOT = Path(__file__).resolve().parents[2]


class DataError(ValueError):
    """The data dir cannot support a training (no ledger, no history, too few defaults...)."""


@dataclass(frozen=True)
class TrainResult:
    """What a training produced: MLflow run, registered version, gate outcome and test figures
    (``metrics``: the challenger, of ``kind``; ``lightgbm_metrics``; ``baseline_metrics``: scorecard)."""

    run_id: str
    version: str
    promoted: bool
    gate_reasons: tuple[str, ...]
    champion_before: str | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    model_sha256: str
    plan: dict[str, list[str]]
    dropped: dict[str, str]
    kind: str = "lightgbm"
    selection: str = ""
    lightgbm_metrics: dict[str, float] | None = None
    intervals: dict[str, Any] | None = None
    queue_key: str = "pd"
    queue_key_reason: str = ""
    gate_summary: str = ""  # the decision in plain words (models.evaluate.gate_decision)
    shipped_calibration: str = ""  # the registered model's calibrator (method), when it has its own
    fold_calibrated: bool = False  # all-labelled path: each inner fold's model behind its own calibrator
    headline: str = ""  # a small book's model choice in one short line (``selection``: in full)
    level_note: str = ""  # the test rows' PDs vs their defaults, when the count rules the level out (s44)


# ------------------------------------------------------------------------------------- helpers


def git_commit(root: Path = ROOT) -> str:
    """``HEAD`` commit of the code (``+dirty`` when tracked files changed), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def data_window(portfolio: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First activity date (earliest invoice issue / statement period end) and last date seen in any
    table (issue, payment, event, statement dates). ``portfolio``: a ``Portfolio`` or a
    ``pipelines.engine.Book`` (an ingested folder: read from the Parquet statistics)."""
    from pipelines.engine import Book

    book = portfolio if isinstance(portfolio, Book) else Book(1, frames=portfolio)
    firsts, lasts = [], []
    cols = {
        "invoices": ("issue_date", ["issue_date"]),
        "statements": ("period_end", ["period_end"]),
        "payments": (None, ["paid_on"]),
        "events": (None, ["event_date"]),
    }
    for table, (first_col, last_cols) in cols.items():
        for col in last_cols:
            bounds = book.bounds(table, col)
            if bounds is None:
                continue
            if col == first_col:
                firsts.append(bounds[0])
            lasts.append(bounds[1])
    if not firsts:
        raise DataError("no invoices and no statements accepted: nothing to build training snapshots from")
    return pd.Timestamp(min(firsts)), pd.Timestamp(max(lasts))


def snapshot_dates(portfolio: Any, cfg: TrainConfig) -> list[pd.Timestamp]:
    """Month-end as-of dates from config, defaulting to the span the data supports."""
    from features.snapshots import month_ends

    first, last = data_window(portfolio)
    start = (
        pd.Timestamp(cfg.snapshots.start)
        if cfg.snapshots.start
        else first + pd.DateOffset(months=cfg.snapshots.min_history_months)
    )
    end = pd.Timestamp(cfg.snapshots.end) if cfg.snapshots.end else last
    if end < start:
        where = (
            f"snapshots.start {start.date()}"
            if cfg.snapshots.start
            else f"{cfg.snapshots.min_history_months} months of history after the first invoice or statement "
            f"({first.date()}; snapshots.min_history_months), i.e. {start.date()}"
        )
        upto = f"snapshots.end {end.date()}" if cfg.snapshots.end else f"the data end on {end.date()}"
        raise DataError(
            f"no training snapshot possible: the data span {first.date()}..{last.date()} and the first snapshot "
            f"needs {where}, but {upto}. Export a longer history (training needs the default horizon and "
            "out-of-time windows after the first snapshot: in practice a year or more), or set snapshots.start "
            "and snapshots.end in the train config (conf/train.yaml)"
        )
    snaps = [pd.Timestamp(s) for s in month_ends(start, end)]
    if not snaps:
        raise DataError(
            f"no month-end between {start.date()} and {end.date()} (data spans {first.date()}..{last.date()}); "
            "set snapshots.start/end in the train config or provide a longer history"
        )
    return snaps


def require_observed_labels(dataset: pd.DataFrame, observed_until: Any, horizon_days: int) -> None:
    """Refuse, with the dates and the way out, a modelling frame in which no snapshot's label
    horizon is observed (the export ends less than one horizon after the first snapshot)."""
    if dataset.empty or dataset["horizon_observed"].astype(bool).any():
        return
    snaps = pd.DatetimeIndex(dataset["as_of"].unique()).sort_values()
    end = pd.Timestamp(observed_until) if observed_until is not None else snaps[-1]
    need = snaps[0] + pd.Timedelta(days=horizon_days)
    months = max(1, math.ceil((need - end).days / 30.4))
    raise DataError(
        f"no training snapshot has an observed label: the data end on {end:%Y-%m-%d} and the label "
        f"horizon is {horizon_days} days (default_definition.horizon_days in the project config), so "
        f"even the first snapshot ({snaps[0]:%Y-%m-%d}; snapshots {snaps[0]:%Y-%m-%d}..{snaps[-1]:%Y-%m-%d}) "
        f"needs data until {need:%Y-%m-%d}. Export about {counted(months, 'more month')} of history (and "
        "more for the out-of-time windows), or shorten horizon_days, or start the snapshots earlier "
        "(snapshots.min_history_months or snapshots.start in the train config)"
    )


# A trade-receivables book whose debtor-month-ends default within 90 days this often is more likely a broken
# ingest than a book (fresh generated books 0.6-3.3 %; s43-walk's broken accounting-package ingest 36 %): scaled
# with the horizon, at most 50 %; judged from IMPLAUSIBLE_MIN_DEFAULTS labelled defaults (s44-attack).
IMPLAUSIBLE_DEFAULT_RATE = 0.10
IMPLAUSIBLE_MIN_DEFAULTS = 10


def default_rate_warning(dataset: pd.DataFrame, horizon_days: int) -> str | None:
    """The warning ``ews train`` gives when the modelling frame's default rate (labelled debtor-month-ends
    that default within the horizon) is above IMPLAUSIBLE_DEFAULT_RATE x horizon / 90 days, with the
    figure, the debtors in default at the last month-end and what usually causes it; else None. Before
    session 44 a 36 % rate (credit notes that never reached their invoices) trained without a word."""
    if dataset.empty or "label" not in dataset:
        return None
    labelled = dataset["label"].notna()
    if "horizon_observed" in dataset:
        labelled &= dataset["horizon_observed"].astype(bool)
    n = int(labelled.sum())
    defaults = int(dataset.loc[labelled, "label"].astype("int64").sum())
    limit = min(0.5, IMPLAUSIBLE_DEFAULT_RATE * horizon_days / 90)
    if defaults < IMPLAUSIBLE_MIN_DEFAULTS or defaults <= limit * n:
        return None
    now = ""
    if "in_default_at_asof" in dataset:
        last = dataset.loc[dataset["as_of"] == dataset["as_of"].max()]
        held = int(last["in_default_at_asof"].astype(bool).sum())
        now = (
            f"; {held:,} of the {counted(len(last), 'debtor')} are in default at the last month-end "
            f"({pd.Timestamp(last['as_of'].iloc[0]):%Y-%m-%d})"
        )
    return (
        f"implausible default rate: {defaults / n:.1%} of the {n:,} labelled debtor-month-ends default within "
        f"{horizon_days} days ({counted(defaults, 'default')}){now}. A trade-receivables book above "
        f"{limit:.0%} is rare: it usually means an ingest that left paid invoices open, such as payments or "
        "credit notes that did not reach their invoices (quarantined, or naming the invoice another way: see "
        "the ingest's quarantine/payments.csv and the invoice_reference mapping) or a payments export covering "
        "fewer months than the invoices. Check the ingest before relying on this model's PDs; if the book "
        "really defaults this often, nothing to do"
    )


def build_dataset(
    portfolio: Any, snapshots: list[pd.Timestamp], project: ProjectConfig, engine: Any = None
) -> pd.DataFrame:
    """Modelling frame: features joined to labels, one row per (debtor_id, as_of).

    Built debtor bucket by debtor bucket (``pipelines.engine.build_book``) on ``engine`` (default:
    this process). ``portfolio``: a ``pipelines.engine.Book`` or a ``Portfolio`` in memory.
    """
    from pipelines.engine import BUCKET_ROWS, Book, build_book

    book = portfolio if isinstance(portfolio, Book) else Book.in_memory(portfolio, BUCKET_ROWS)
    built = build_book(
        book,
        snapshots,
        project.default_definition.to_params(),
        labels=True,
        observed_until=book.last_observed(),
        engine=engine,
    )
    keep = ["debtor_id", "as_of", "label", "horizon_observed", "in_default_at_asof"]
    frame = built.features.merge(
        built.defaults[keep], on=["debtor_id", "as_of"], how="inner", validate="one_to_one"
    )
    return frame.sort_values(["as_of", "debtor_id"], kind="stable", ignore_index=True)


LOOK_AHEAD: dict[str, dict[str, str]] = {
    "train": {
        "rows": "training row",
        "history": "a limit cut after trouble there leaks into training",
        "cut": "a limit cut after a default teaches the model a sign that the next defaulters do not show "
        "before they default. Give ews the dated limits (debtor_history, README 'Dated master data') or leave "
        "credit_limit and utilisation out (features: {exclude: [credit_limit, utilisation]} in conf/train.yaml)",
    },
    "backtest": {
        "rows": "live debtor-month",
        "history": "limit_breach read a limit cut after trouble there before the cut, and the watchlist "
        "figures flatter it",
        "cut": "limit_breach read the cut at month-ends before the default and flagged those debtors early, "
        "which flatters the watchlist's precision and recall here. Give ews the dated limits (debtor_history, "
        "README 'Dated master data')",
    },
}
"""What a look-ahead in the debtors snapshot does to ``ews train`` and to ``ews backtest`` (whose
``limit_breach`` reads the limits valid at each month-end, session 34): the words of the two warnings."""


def _history_start(history: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(pd.to_datetime(history["valid_from"]).min())


def master_data_warning(
    history: pd.DataFrame | None, dataset: pd.DataFrame, use: str = "train", gaps_only: bool = False
) -> str | None:
    """One line when a ``debtor_history`` is given but some training rows (``dataset``: debtor_id,
    as_of) have no history row dated on or before their month-end, so they read today's debtors table
    (``features.master``); None without a history (the README's "one snapshot" paragraph) or when it
    covers every row. ``use``: ``train`` or ``backtest`` (its live debtor-months), :data:`LOOK_AHEAD`.
    ``gaps_only``: only the rows dated on or after the history's first ``valid_from`` count (a debtor
    the history leaves out while it dates others); the month-ends before the history starts are
    :func:`history_start_note`'s."""
    if history is None or history.empty or dataset.empty:
        return None
    from features.master import snapshot_rows

    snap = snapshot_rows(history, dataset[["debtor_id", "as_of"]])
    if gaps_only:
        snap &= (pd.to_datetime(dataset["as_of"]) >= _history_start(history)).to_numpy(dtype=bool)
    if not snap.any():
        return None
    rows = dataset.loc[snap, ["debtor_id", "as_of"]]
    debtors = rows["debtor_id"].astype("string").drop_duplicates().sort_values()
    ends = rows["as_of"].drop_duplicates().sort_values()
    words = LOOK_AHEAD[use]
    return (
        f"debtor_history: {counted(len(debtors), 'debtor')} at {counted(len(ends), 'month-end')} "
        f"({ends.iloc[0]:%Y-%m-%d} to {ends.iloc[-1]:%Y-%m-%d}; {len(rows):,} of {counted(len(dataset), words['rows'])}) "
        f"had no row valid by then and read today's debtors table instead (e.g. {', '.join(debtors.iloc[:3])}): "
        f"{words['history']}. Add a row dated on or before their first "
        "month-end (the onboarding values) to debtor_history"
    )


def history_start_note(history: pd.DataFrame | None, dataset: pd.DataFrame) -> str | None:
    """One line (said by ``ews train`` as information, not a warning) when training rows (``dataset``:
    debtor_id, as_of) fall before the ``debtor_history``'s first ``valid_from``: they read today's
    debtors table. With ``--keep-history`` the history starts at the first night's debtors table, so
    every training said so as a warning, for ever, of month-ends nobody can date (s39-walk: "453
    debtors at 20 month-ends" at 5 of 5 trainings); only older limits of the user's own change the
    fact. None without a history or when no row falls before it."""
    if history is None or history.empty or dataset.empty:
        return None
    start = _history_start(history)
    before = pd.to_datetime(dataset["as_of"]) < start
    if not before.any():
        return None
    ends = dataset.loc[before, "as_of"].drop_duplicates().sort_values()
    return (
        f"debtor_history starts on {start:%Y-%m-%d} (the first --keep-history ingest dates the debtors "
        f"table of its night): the {counted(len(ends), 'training month-end')} before it "
        f"({ends.iloc[0]:%Y-%m-%d} to {ends.iloc[-1]:%Y-%m-%d}; {int(before.sum()):,} of "
        f"{counted(len(dataset), 'training row')}) read today's debtors table. Nothing to do unless you "
        f"have older limits: then add debtor_history rows dated before {start:%Y-%m-%d} (README 'Dated "
        "master data')"
    )


def limit_cut_warning(history: pd.DataFrame | None, dataset: pd.DataFrame, use: str = "train") -> str | None:
    """One line when the training rows that read the debtors snapshot (all of them without a
    ``debtor_history``) show a limit cut after trouble (``features.master.limit_cut_check``).
    ``use``: ``train`` or ``backtest``, :data:`LOOK_AHEAD`."""
    from features.master import limit_cut_check, snapshot_rows

    if dataset.empty:
        return None
    found = limit_cut_check(dataset.loc[snapshot_rows(history, dataset[["debtor_id", "as_of"]])])
    if found is None:
        return None
    rows = "training rows" if use == "train" else "live debtor-months"
    return (
        f"credit_limit looks cut after trouble: the {rows} of the {counted(found.debtors, 'debtor')} "
        f"that defaulted within the horizon had a median limit of {found.defaulting:.2f} x their own invoicing of "
        f"the last 365 days / 6, the others {found.others:.2f} x. The debtors table is one snapshot, read at every "
        f"past month-end: {LOOK_AHEAD[use]['cut']}"
    )


def _data_hash(manifest: dict[str, Any]) -> str:
    hashes = {name: t.get("input_sha256", "") for name, t in sorted(manifest.get("tables", {}).items())}
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------------------- tasks


@task(name="ingest", cache_policy=NO_CACHE)
def ingest(data_dir: Path, currency: Any = None, raw: bool = False) -> Any:
    """The feed (``pipelines.engine.open_feed``): an ``ews ingest --out`` folder read bucket by bucket,
    or with ``raw`` raw canonical files validated in memory (amounts in the project's reporting
    currency)."""
    from pipelines.engine import open_feed

    return open_feed(data_dir, raw=raw, currency=currency)


@task(name="validate", cache_policy=NO_CACHE)
def validate(result: Any) -> list[str]:
    """Refuse a feed with no ledger; return warnings about quarantined rows (recorded in MLflow)."""
    tables = result.manifest.get("tables", {})
    if not any(tables.get(t, {}).get("rows_accepted") for t in ("invoices", "statements")):
        raise DataError(
            "no accepted invoices or statements in the data dir; training needs a payment history"
        )
    warnings = []
    for name, t in sorted(tables.items()):
        if t.get("rows_quarantined"):
            warnings.append(
                f"{name}: {t['rows_quarantined']:,} of {counted(t['rows_in'], 'row')} quarantined at ingest"
            )
    return warnings


@task(name="snapshots", cache_policy=NO_CACHE)
def snapshots(book: Any, cfg: TrainConfig, project: ProjectConfig, engine: Any = None) -> pd.DataFrame:
    """Features and labels for every month-end snapshot (the modelling frame), bucket by bucket."""
    return build_dataset(book, snapshot_dates(book, cfg), project, engine)


@task(name="fit", cache_policy=NO_CACHE)
def fit(dataset: pd.DataFrame, cfg: TrainConfig, horizon_days: int = 90, definition: Any = None) -> Any:
    """Out-of-time split, LightGBM + scorecard, calibration and test evaluation; on a book that
    cannot fill the windows (and with ``rollrate.enabled``), the roll-rate model instead
    (:func:`fit_small_book`). ``definition``: the project's ``DefaultDefinition``."""
    return fit_pd(
        dataset,
        cfg,
        horizon_days,
        definition,
        small_book=lambda o: get_run_logger().warning(said(o), extra=SAID_IN_SUMMARY),
    )


WHY_IN_FULL = "why, with every figure: `ews models history --verbose`"


def said(outcome: Any) -> str:
    """What the train flow's log and console say about a small book's model: its headline (one short
    line) and where the reason stands in full. Before session 26 the log and the console printed the whole
    ``note`` (about 1,000 characters on a 300-debtor book); it stays on the version (``ews.selection``,
    ``warnings.txt``) and in ``ews models history --verbose``."""
    return f"{outcome.headline} ({WHY_IN_FULL})" if outcome.headline else outcome.note


def fit_pd(
    dataset: pd.DataFrame,
    cfg: TrainConfig,
    horizon_days: int = 90,
    definition: Any = None,
    small_book: Callable[[Any], None] | None = None,
) -> Any:
    """:func:`fit` outside a flow (``ews backtest --refit-every``'s walk-forward models): the
    LightGBM protocol, or on a book that cannot fill its windows the small book's model (the
    roll-rate model, or LightGBM on every labelled month-end), as ``ews train`` chooses it;
    ``small_book`` is called with that outcome (the train flow logs its note)."""
    from models.split import BookTooSmallError
    from models.train import train_pd_model

    try:
        return train_pd_model(dataset, cfg.to_params(horizon_days))
    except BookTooSmallError as exc:
        if not cfg.rollrate.enabled or definition is None:
            raise
        outcome = fit_small_book(dataset, cfg, definition, exc)
    if cfg.rollrate.all_labelled:
        outcome = all_labelled_small_book(outcome, dataset, cfg, definition, horizon_days)
    elif cfg.rollrate.challenge and cfg.rollrate.challenge_min_defaults < cfg.split.min_defaults:
        outcome = challenge_small_book(outcome, dataset, cfg, definition, horizon_days)
    if small_book is not None:
        small_book(outcome)
    return outcome


def challenge_small_book(
    rollrate: Any, dataset: pd.DataFrame, cfg: TrainConfig, definition: Any, horizon_days: int
) -> Any:
    """The roll-rate outcome ``rollrate`` of a small book, or LightGBM/the scorecard trained at
    ``rollrate.challenge_min_defaults`` per window when it is better on pooled rolling-origin folds
    (:func:`models.smallbook.small_book_choice`). Either way the outcome carries ``small_book`` (the
    choice, for MLflow) and the reason in its ``note`` and ``selection``."""
    import dataclasses

    from features.statements import with_statement_dpd
    from models.smallbook import small_book_choice

    choice = small_book_choice(
        dataset,
        cfg.to_params(horizon_days),
        cfg.rollrate.to_params(definition, cfg),
        cfg.rollrate.challenge_min_defaults,
        rollrate_frame=with_statement_dpd(dataset),
        fold_defaults=cfg.rollrate.challenge_fold_defaults,
    )
    if choice.choice == "feature":
        feature = choice.feature
        note = (
            f"{rollrate.note.split('; about')[0]}; but {NAMES_SHIPPED[feature.kind]} trained at "
            f"{choice.min_defaults} defaults per window is better out of time, so it ships: {choice.reason}"
        )
        headline = (
            f"{rollrate.headline.removesuffix(ROLLRATE_HEADLINE)}: {NAMES_SHIPPED[feature.kind]}, trained at "
            f"{choice.min_defaults} defaults per window, better than the roll-rate model out of time"
        )
        return dataclasses.replace(
            feature,
            selection=f"{note}. Within the feature models: {feature.selection}",
            note=note,
            small_book=choice,
            headline=headline,
        )
    note = f"{rollrate.note}. Roll-rate model kept: {choice.reason}"
    return dataclasses.replace(
        rollrate, note=note, selection=f"{note}. {rollrate.selection.split('. ', 1)[-1]}", small_book=choice
    )


NAMES_SHIPPED = {"lightgbm": "LightGBM", "scorecard": "the scorecard"}

NO_TEST_WINDOW = (
    "no test window: a small book's LightGBM fitted on every labelled month-end, so every test_* figure "
    "is the inner folds' out-of-time rows"
)


def all_labelled_small_book(
    rollrate: Any, dataset: pd.DataFrame, cfg: TrainConfig, definition: Any, horizon_days: int
) -> Any:
    """The roll-rate outcome ``rollrate`` of a small book, or LightGBM fitted on every labelled
    month-end when the rule of :func:`models.smallbook.all_labelled_choice` picks it on the inner
    folds (``rollrate.all_labelled``). Either way the outcome carries ``small_book`` (the choice and
    the fold figures, for MLflow) and the reason in its ``note`` and ``selection``."""
    import dataclasses

    from features.statements import with_statement_dpd
    from models.smallbook import all_labelled_choice

    rr = cfg.rollrate
    choice = all_labelled_choice(
        dataset,
        cfg.to_params(horizon_days),
        rr.to_params(definition, cfg),
        rollrate_frame=with_statement_dpd(dataset),
        months=rr.all_labelled_months,
        per_fold=rr.all_labelled_fold_months,
        min_fold_defaults=rr.all_labelled_min_fold_defaults,
        trees=tuple(rr.all_labelled_trees),
        calibrate=rr.all_labelled_calibration,
    )
    if choice.choice == "feature":
        method = choice.feature.shipped_calibration.method
        note = (
            f"{rollrate.note.split('; about')[0]}; but LightGBM fitted on every labelled month-end "
            f"({choice.trees} trees, {calibrator_words(method)}) ships: {choice.reason}; {NO_TEST_WINDOW}"
        )
        headline = (
            f"{rollrate.headline.removesuffix(ROLLRATE_HEADLINE)}: LightGBM fitted on every labelled month-end, "
            "better than the roll-rate model on the inner folds (no test window: its test figures are the folds')"
        )
        return dataclasses.replace(choice.feature, selection=note, note=note, headline=headline)
    note = f"{rollrate.note}. Roll-rate model kept: {choice.reason}"
    return dataclasses.replace(
        rollrate, note=note, selection=f"{note}. {rollrate.selection.split('. ', 1)[-1]}", small_book=choice
    )


def calibrator_words(method: str) -> str:
    """How a small book's all-labelled LightGBM is calibrated, in the words of the train line, the
    history and the gate: ``no calibrator`` or ``calibrator <method>`` (the refit's out-of-fold scores)."""
    if method == "none":
        return "no calibrator"
    return (
        f"calibrator {method}, chosen on the refit's out-of-fold scores (rollrate.all_labelled_calibration)"
    )


def has_no_test_window(outcome: Any) -> bool:
    """True for :func:`all_labelled_small_book`'s LightGBM (its ``test`` is the inner folds)."""
    choice = getattr(outcome, "small_book", None)
    return bool(getattr(choice, "all_labelled", False)) and choice.choice == "feature"


def fit_small_book(dataset: pd.DataFrame, cfg: TrainConfig, definition: Any, why: Exception) -> Any:
    """The roll-rate model (``models.rollrate``) of a book too small for the LightGBM protocol,
    with ``note``: one line with the counts, why, and what a larger book would give. Below the
    roll-rate model's own minimum, :class:`models.split.BookTooSmallError` with both messages."""
    import dataclasses

    from features.statements import with_statement_dpd
    from models.rollrate import RollRateTooSmallError, evaluate_rollrate
    from models.split import BookTooSmallError, snapshot_summary

    try:
        outcome = evaluate_rollrate(
            with_statement_dpd(dataset), cfg.rollrate.to_params(definition, cfg), cfg.features.segment_column
        )
    except RollRateTooSmallError as small:
        raise BookTooSmallError(small_book_refusal(dataset, definition, small, why)) from None
    summary = snapshot_summary(dataset)
    observed = summary[summary["horizon_observed"]]
    defaults, rows = int(observed["defaults"].sum()), int(observed["labelled"].sum())
    need = 4 * cfg.split.min_defaults
    factor = max(math.ceil(need / max(defaults, 1) * 10) / 10, 1.2)
    note = (
        f"small book: {defaults} default labels among {rows:,} labelled rows cannot fill the 4 out-of-time "
        f"windows of the LightGBM/scorecard protocol (split.min_defaults {cfg.split.min_defaults} each), so "
        f"ews trains the roll-rate model: PDs by days-past-due state from {outcome.counts['moves']:,} "
        f"month-end moves ({outcome.counts['moves_to_default']} into default); about {factor}x the "
        "defaults (more debtors or a longer history) would train LightGBM or the scorecard on the behavioural features, which also rank "
        "debtors within a state"
    )
    headline = (
        f"small book: {defaults} default labels, too few for LightGBM or the scorecard (about {need} needed)"
        + ROLLRATE_HEADLINE
    )
    return dataclasses.replace(
        outcome, note=note, selection=f"{note}. {outcome.selection}", headline=headline
    )


ROLLRATE_HEADLINE = ": roll-rate model, PDs by days-past-due state"


def small_book_refusal(dataset: pd.DataFrame, definition: Any, small: Any, why: Exception) -> str:
    """The refusal of a book below even the roll-rate minimum, plain first: the book's size and
    defaults, what the smallest model needs, what to do; then both detailed messages. ``small``: the
    :class:`models.rollrate.RollRateTooSmallError` (its ``figures`` and ``short``)."""
    figures = getattr(small, "figures", {}) or {}
    if not figures or not getattr(small, "short", None):
        return f"{why}; {small}"
    ends = pd.to_datetime(dataset["as_of"])
    k = figures["moves_to_default"]
    kinds = [{"write_off": "write-off"}.get(k_, k_.replace("_", " ")) for k_ in definition.event_kinds]
    events = " or ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
    what = f"{definition.dpd_threshold}+ days past due" + (f", or a {events} event" if events else "")
    return (
        f"cannot train a PD model on this book yet: {counted(dataset['debtor_id'].nunique(), 'debtor')} over "
        f"{counted(ends.nunique(), 'month-end')} ({ends.min().date()}..{ends.max().date()}) show {k} move"
        f"{'' if k == 1 else 's'} into default ({what}) from one month-end to the next. The smallest "
        f"model ews trains (the roll-rate model) is short of: {'; '.join(small.short)}. What to do: "
        + (
            "no debtor of this book has reached default yet, so there is nothing to learn a PD from: "
            "check the default definition (default_definition in conf/ews.yaml: dpd_threshold, event_kinds) "
            "and that overdue invoices and credit events are in the export; else export a longer history "
            "or train again when defaults have happened. Details: "
            if k == 0
            else "export a longer history if your system holds one, or train again when more months are in; "
            "the roll-rate minimums can be lowered in the train config (rollrate.min_default_transitions, "
            "min_months, min_transitions), but PDs then rest on one or two defaults. Details: "
        )
        + f"{why}; {small}"
    )


@dataclass(frozen=True)
class ChampionOnTest:
    """The current champion on the challenger's test rows it never trained on.

    ``pd``: its PD per test row (NaN on rows it trained on); ``note``: why no comparison is
    possible (e.g. it trained on every test row); ``problem``: it cannot score the rows at all;
    ``older``: the challenger learned from older data (:func:`models.gate_words.older_data`): kept
    as champion whatever the figures. ``held_pd``: the champion's own out-of-time PD per test row where
    it held the row out too (its logged test rows; NaN elsewhere; None: no such row): the gate compares
    on those rows first (candidate F, session 42). ``no_rows``: no row held out by both and none after its
    training: the champion stays."""

    version: str | None = None
    pd: Any = None
    note: str | None = None
    problem: str | None = None
    older: str | None = None
    held_pd: Any = None
    no_rows: bool = False


def held_out_pds(keys: pd.DataFrame, logged: pd.DataFrame | None) -> Any:
    """The champion's own out-of-time PD per row of ``keys`` (the challenger's test rows: ``debtor_id``,
    ``as_of``) from its logged test rows (``registry.TEST_ROWS_ARTIFACT``), NaN where it did not hold the
    row out; None when it logged none or shares no row."""
    import numpy as np

    if logged is None or not len(logged):
        return None
    mine = pd.DataFrame(
        {
            "debtor_id": keys["debtor_id"].astype("string").to_numpy(),
            "as_of": pd.to_datetime(keys["as_of"]).to_numpy(),
        }
    )
    theirs = logged.assign(debtor_id=logged["debtor_id"].astype("string")).drop_duplicates(
        ["debtor_id", "as_of"]
    )
    p = mine.merge(theirs[["debtor_id", "as_of", "pd"]], on=["debtor_id", "as_of"], how="left")["pd"]
    p = p.to_numpy(dtype="float64", na_value=np.nan)
    return p if np.isfinite(p).any() else None


@task(name="champion-on-test", cache_policy=NO_CACHE)
def champion_on_test(
    outcome: Any, dataset: pd.DataFrame, cfg: TrainConfig, project: ProjectConfig
) -> ChampionOnTest:
    """The current champion's PDs on the challenger's test rows that are later than every snapshot
    the champion learned from (its ``ews.trained_through`` tag; older versions: their test window)."""
    import numpy as np

    from features.statements import with_statement_dpd
    from models.gate_words import older_data
    from pipelines.adapters.registry import (
        TRAINED_THROUGH_TAG,
        NoChampionError,
        load_model_version,
        load_test_pds,
        prepare_X,
    )

    try:
        loaded = load_model_version(
            "champion", cfg.model_name, tracking_uri=project.paths.mlflow_tracking_uri
        )
    except NoChampionError:
        return ChampionOnTest()
    through_tag = (
        loaded.tags.get(TRAINED_THROUGH_TAG) or loaded.tags.get("ews.test_as_of", "").split("..")[-1]
    )
    through = pd.Timestamp(through_tag) if through_tag else None
    mine = getattr(outcome, "train_last_as_of", None)
    if through is not None and mine is not None and pd.Timestamp(mine) < through:
        # e.g. a training for `ews backtest --model` (snapshots.end before the champion's): never promoted
        return ChampionOnTest(
            loaded.version, older=older_data(loaded.version, f"{mine.date()}", f"{through.date()}")
        )
    keys = outcome.test[["debtor_id", "as_of"]]
    held = held_out_pds(keys, load_test_pds(loaded))
    unseen = (keys["as_of"] > through).to_numpy() if through is not None else np.ones(len(keys), dtype=bool)
    if not unseen.any():
        if held is not None:
            return ChampionOnTest(loaded.version, held_pd=held)
        return ChampionOnTest(
            loaded.version,
            note=f"champion v{loaded.version} trained on every test row (through {through.date()}) and held "
            "none of them out: no row to compare on, so the champion stays",
            no_rows=True,
        )
    # as the nightly scores it: a statements book's roll-rate champion reads its DPD from the statements
    # (every retrain of gen 120 x 36 s3526 statements was refused, "champion v1 cannot score the test rows:
    # model input lacks 2 feature columns ['dpd_current_max', 'dpd_max_180d']"; s40-small)
    rows = keys[unseen].merge(with_statement_dpd(dataset), on=["debtor_id", "as_of"], how="left")
    try:
        p = np.full(len(keys), np.nan)
        p[unseen] = loaded.predict_pd(prepare_X(rows, loaded))
    except ValueError as exc:
        return ChampionOnTest(
            loaded.version, problem=f"champion v{loaded.version} cannot score the test rows: {exc}"
        )
    return ChampionOnTest(loaded.version, pd=p, held_pd=held)


@task(name="log-and-register", cache_policy=NO_CACHE)
def log_and_register(
    outcome: Any,
    cfg: TrainConfig,
    project: ProjectConfig,
    provenance: dict[str, Any],
    warnings: list[str],
    feed_reference: dict[str, Any] | None = None,
) -> Any:
    """Figures, tables, model card and model to MLflow; new registry version with alias ``challenger``.

    ``feed_reference``: the training feed's figures for the nightly feed checks (``feed_reference.json``)."""
    from models import plots
    from models.model_card import CardInfo, render_model_card
    from models.scorecard import scorecard_table
    from pipelines.adapters import registry

    if outcome.kind == "rollrate":
        return _log_rollrate(outcome, cfg, project, provenance, warnings, feed_reference)
    test = outcome.test
    y = test["y"].to_numpy()
    if has_no_test_window(outcome):
        curves = {
            "LightGBM (inner folds, each fold's calibrator)"
            if outcome.small_book.fold_calibrated
            else "LightGBM (inner folds, uncalibrated)": test["pd"],
            "roll-rate (inner folds)": test["pd_baseline"],
        }
        roc, calibration = curves, curves
    else:
        roc = {"LightGBM (calibrated)": test["pd_lightgbm"], "scorecard (calibrated)": test["pd_baseline"]}
        calibration = {
            f"{outcome.kind} (calibrated)": test["pd"],
            f"{outcome.kind} (uncalibrated)": test["pd_raw"],
            "LightGBM" if outcome.kind == "scorecard" else "scorecard": test[
                "pd_lightgbm" if outcome.kind == "scorecard" else "pd_baseline"
            ],
        }
    figures = {
        "plots/roc.png": plots.roc_figure(y, roc),
        "plots/calibration.png": plots.calibration_figure(y, calibration),
        "plots/feature_importance.png": plots.importance_figure(outcome.importance),
        "plots/shap_summary.png": plots.shap_summary_figure(
            outcome.model.booster_,
            outcome.X_test.sample(min(2000, len(outcome.X_test)), random_state=cfg.seed),
        ),
    }
    metrics_table = pd.DataFrame(
        {
            "metric": [f"test_{k}" for k in outcome.metrics],
            "challenger": list(outcome.metrics.values()),
            "uncalibrated": [outcome.uncalibrated_metrics[k] for k in outcome.metrics],
            "lightgbm": [outcome.lightgbm_metrics[k] for k in outcome.metrics],
            "baseline": [outcome.baseline_metrics[k] for k in outcome.metrics],
        }
    )
    tables = {
        "evaluation/metrics.csv": metrics_table,
        "evaluation/segments.csv": outcome.segments,
        "evaluation/baseline_segments.csv": outcome.baseline_segments,
        "evaluation/windows.csv": outcome.windows.reset_index(),
        "evaluation/calibration_curve.csv": outcome.calibration_curve,
        "evaluation/feature_importance.csv": outcome.importance,
    }
    card = render_model_card(
        CardInfo(
            model_name=cfg.model_name,
            windows=outcome.windows,
            definition=project.default_definition.to_params(),
            metrics=outcome.metrics,
            baseline_metrics=outcome.baseline_metrics,
            calibration_method=outcome.calibration.method,
            calibration_rule=outcome.calibration.rule,
            shipped_calibration=(
                f"**{outcome.shipped_calibration.method}** ({outcome.shipped_calibration.rule})"
                if getattr(outcome, "shipped_calibration", None) is not None
                else ""
            ),
            n_features=len(outcome.feature_names),
            best_iteration=outcome.best_iteration,
            dropped=outcome.dropped,
            segments=outcome.segments,
            kind=outcome.kind,
            selection=outcome.selection,
            no_test_window=NO_TEST_WINDOW if has_no_test_window(outcome) else "",
            fold_scoring=outcome.small_book.fold_scoring() if has_no_test_window(outcome) else "",
            intervals=outcome.intervals,
            trained_through=outcome.train_last_as_of.strftime("%Y-%m-%d")
            if outcome.train_last_as_of is not None
            else "",
            data_hash=provenance["data_hash"],
            config_hash=provenance["config_hash"],
            git_commit=provenance["git_commit"],
        )
    )
    params = {"train": cfg.model_dump(mode="json"), "project": project.model_dump(mode="json")}
    try:
        return registry.log_training(
            outcome,
            params=params,
            figures=figures,
            tables=tables,
            card=card,
            provenance=provenance,
            warnings=warnings,
            scorecard_table=None if outcome.scorecard is None else scorecard_table(outcome.scorecard),
            documents={FEED_REFERENCE_ARTIFACT: feed_reference} if feed_reference else None,
            definition=project.default_definition.to_params().as_record(),
            name=cfg.model_name,
            experiment=cfg.experiment,
            artifacts=project.paths.mlflow_artifacts,
            tracking_uri=project.paths.mlflow_tracking_uri,
        )
    finally:
        for fig in figures.values():
            plt.close(fig)


def _log_rollrate(
    outcome: Any,
    cfg: TrainConfig,
    project: ProjectConfig,
    provenance: dict[str, Any],
    warnings: list[str],
    feed_reference: dict[str, Any] | None,
) -> Any:
    """The roll-rate model of a small book to MLflow (``registry.log_rollrate``)."""
    from models import plots
    from models.rollrate import describe
    from pipelines.adapters import registry

    test = outcome.test
    figures = {
        "plots/calibration.png": plots.calibration_figure(
            test["y"].to_numpy(), {"roll-rate (out of time)": test["pd"]}
        )
    }
    try:
        return registry.log_rollrate(
            outcome,
            params={"train": cfg.model_dump(mode="json"), "project": project.model_dump(mode="json")},
            figures=figures,
            card=describe(outcome),
            provenance=provenance,
            warnings=[*warnings, outcome.note],
            documents={FEED_REFERENCE_ARTIFACT: feed_reference} if feed_reference else None,
            definition=project.default_definition.to_params().as_record(),
            name=cfg.model_name,
            experiment=cfg.experiment,
            artifacts=project.paths.mlflow_artifacts,
            tracking_uri=project.paths.mlflow_tracking_uri,
        )
    finally:
        for fig in figures.values():
            plt.close(fig)


def paired(y: Any, a: Any, b: Any, groups: Any, cfg: TrainConfig) -> tuple[dict, dict]:
    """Debtor-bootstrap intervals and point values of ``metric(a) - metric(b)`` (log-loss, AUC)."""
    from models.evaluate import bootstrap_intervals, classification_metrics

    ci = bootstrap_intervals(
        y,
        {"a": a, "b": b},
        groups,
        pairs=[("a", "b")],
        n_boot=cfg.evaluation.bootstrap_samples,
        seed=cfg.seed,
    )["a-b"]
    ma, mb = classification_metrics(y, a), classification_metrics(y, b)
    return ci, {k: ma[k] - mb[k] for k in ("logloss", "auc")}


@task(name="queue-key", cache_policy=NO_CACHE)
def queue_key(
    outcome: Any,
    dataset: pd.DataFrame,
    book: Any,
    cfg: TrainConfig,
    project: ProjectConfig,
    currency: str | None = None,
) -> Any:
    """The collections queue's key for this model, chosen on its pooled folds or test window
    (``pipelines.flows.queue_key.queue_key_evidence``; ``currency``: ``pipelines.ingest.decimals.feed_currency``)."""
    from pipelines.flows.queue_key import queue_key_evidence

    return queue_key_evidence(outcome, dataset, book, cfg, project, currency=currency)


def compared_with(
    version: str, vs_champion: tuple[dict, dict], y: Any, groups: Any, month_ends: list[Any]
) -> dict[str, Any]:
    """The gate's comparison with champion ``version`` as :func:`models.gate_words.comparison_words`
    reads it: the compared rows' count, debtors (``groups``), defaults (``y``), month-ends and the
    challenger - champion log-loss and AUC with their 95 % paired debtor intervals (``vs_champion``:
    :func:`paired`'s ``(intervals, point)``)."""
    intervals, point = vs_champion
    return {
        "version": version,
        "rows": int(len(y)),
        "debtors": int(pd.Series(groups).nunique()),
        "defaults": int(y.sum()),
        "month_ends": len(month_ends),
        "first": f"{pd.Timestamp(month_ends[0]).date()}",
        "last": f"{pd.Timestamp(month_ends[-1]).date()}",
        **{
            f"{k}{suffix}": float(v)
            for k in ("logloss", "auc")
            for suffix, v in (("", point[k]), ("_low", intervals[k][0]), ("_high", intervals[k][1]))
        },
    }


@task(name="gate", cache_policy=NO_CACHE)
def gate(
    logged: Any, outcome: Any, champion: ChampionOnTest, cfg: TrainConfig, project: ProjectConfig
) -> Any:
    """Sample-size aware promotion gate; moves ``champion`` when it passes; decision stored as tags.

    A LightGBM challenger is compared with the scorecard on the evidence the challenger rule used
    (``outcome.evidence``: the test window, or the pooled rolling-origin folds), so the rule and the
    gate cannot disagree; with the kind fixed by config, on the test window. The champion is
    compared on the test rows it never trained on."""
    import dataclasses

    import numpy as np

    from models.evaluate import classification_metrics, gate_decision
    from models.gate_words import champion_rows, comparison_words, held_out_rows
    from pipelines.adapters.registry import promote_hint, record_gate

    test = outcome.test
    y, groups = test["y"].to_numpy(), test["debtor_id"].astype("string").to_numpy()
    vs_baseline, evidence = None, getattr(outcome, "evidence", None)
    if outcome.kind == "lightgbm" and evidence is not None:
        vs_baseline = evidence.versus()
    elif outcome.kind in ("lightgbm", "rollrate") and "pd_baseline" in test.columns:
        # LightGBM: the scorecard; roll-rate: the book's default rate known at each test month-end
        vs_baseline = paired(y, test["pd"].to_numpy(), test["pd_baseline"].to_numpy(), groups, cfg)
    vs_champion, champion_metrics, note, champion_evidence = None, None, champion.note, None
    comparison: dict[str, Any] | None = None
    held_out = False
    other = champion.pd
    if champion.held_pd is not None:
        both = np.isfinite(champion.held_pd)
        if y[both].min() < y[both].max():  # both classes on the rows both held out: compared there (F)
            other, held_out = champion.held_pd, True
    if other is not None:
        seen = np.isfinite(other)
        ys = y[seen]
        if ys.min() == ys.max():
            note = (
                f"champion v{champion.version} compared on {int(seen.sum())} unseen test rows without both "
                "classes: no fair comparison, the gate relies on the other checks"
            )
        else:
            champion_metrics = classification_metrics(ys, other[seen])
            vs_champion = paired(ys, test["pd"].to_numpy()[seen], other[seen], groups[seen], cfg)
            compared = sorted(pd.to_datetime(test["as_of"].to_numpy()[seen]).unique())
            months = [f"{d.date()}" for d in compared]
            champion_evidence = (
                held_out_rows(
                    str(champion.version), months, int(seen.sum()), int(ys.sum()), len(set(groups[seen]))
                )
                if held_out
                else champion_rows(str(champion.version), months, int(seen.sum()), int(ys.sum()))
            )
            comparison = compared_with(str(champion.version), vs_champion, ys, groups[seen], compared)
            comparison["held_out"] = held_out  # each model's own out-of-time PDs (candidate F)
    if (
        comparison is None
        and champion.version is not None
        and champion.older is None
        and champion.problem is None
    ):
        comparison = {"version": str(champion.version), "none": note or "no test row to compare on"}
    first = champion.version is None and champion.problem is None
    decision = gate_decision(
        outcome.metrics,
        cfg.gate.to_params(),
        ece_tolerance=outcome.ece_tolerance,
        kind=outcome.kind,
        vs_baseline=vs_baseline,
        champion=champion_metrics,
        vs_champion=vs_champion,
        champion_note=note,
        champion_problem=champion.problem,
        champion_evidence=champion_evidence,
        champion_must_win=held_out,
        champion_no_rows=champion.no_rows,
        older_data=champion.older,
        # the AUC floor on the 95% interval: a small book's roll-rate model, and any first model
        auc_interval=outcome.intervals["challenger"]["auc"] if outcome.kind == "rollrate" or first else None,
        baseline_evidence=None if evidence is None else evidence.where,
        first_model=first,
        baseline_name="the book's default rate"
        if outcome.kind == "rollrate"
        else "the roll-rate model"
        if has_no_test_window(outcome)
        else "the scorecard baseline",
        no_test_window=has_no_test_window(outcome),
        shipped_calibrator=calibrator_words(outcome.shipped_calibration.method)
        if has_no_test_window(outcome)
        else None,
        fold_scoring="each behind its own out-of-fold calibrator" + outcome.small_book.left_out_words()
        if has_no_test_window(outcome) and outcome.small_book.fold_calibrated
        else "uncalibrated",
    )
    if has_no_test_window(outcome):
        # every test_* line reads the inner folds' out-of-time rows: said in the decision itself
        decision = dataclasses.replace(
            decision, reasons=(decision.reasons[0], f"ok {NO_TEST_WINDOW}", *decision.reasons[1:])
        )
    if comparison is not None:  # what the comparison was worth, said with the decision (session 42)
        decision = dataclasses.replace(
            decision, comparison=comparison, summary=f"{decision.summary} {comparison_words(comparison)}"
        )
    kept_by_f = any(
        r.startswith(("FAIL not better than the champion", f"FAIL {champion.note}")) for r in decision.reasons
    )
    if champion.older or kept_by_f:
        # kept whatever the figures, or on the held-out rows (F): how to make it champion if that is meant
        decision = dataclasses.replace(
            decision, summary=f"{decision.summary} {promote_hint(cfg.model_name, logged.version, 'scoring')}"
        )
    record_gate(
        logged.version,
        decision,
        champion_version=champion.version,
        name=cfg.model_name,
        tracking_uri=project.paths.mlflow_tracking_uri,
    )
    return decision


# ---------------------------------------------------------------------------------------- flow


@flow(name="train", log_prints=True)
def train(
    data_dir: Path, cfg: TrainConfig, project: ProjectConfig, raw: bool = False, engine: str = "local"
) -> TrainResult:
    """Train, calibrate, evaluate, log, register and gate a PD model on the data dir (an ``ews
    ingest`` output; ``raw``: raw canonical files validated in memory). ``engine="dask"``: the
    snapshots are built one task per debtor bucket on the flow's ``DaskTaskRunner``; LightGBM then
    trains on this node (``lightgbm.dask`` has open hang and early-stopping issues)."""
    from pipelines.cluster import PrefectDaskEngine
    from pipelines.runtime import blas_threads

    logger = get_run_logger()
    result = ingest(Path(data_dir), project.currency, raw)
    warnings = validate(result)
    for unstated in statement_balance_warning(
        result.manifest.get("statements_without_balance"), project.default_definition, "the project config"
    ):  # said once: the threshold cannot apply to statements without a balance
        logger.warning(unstated)
        warnings.append(unstated)
    dataset = snapshots(result.book, cfg, project, PrefectDaskEngine() if engine == "dask" else None)
    logger.info(
        f"modelling frame: {counted(len(dataset), 'row')}, {counted(dataset['as_of'].nunique(), 'month-end snapshot')}"
    )
    require_observed_labels(dataset, result.book.last_observed(), project.default_definition.horizon_days)
    if implausible := default_rate_warning(dataset, project.default_definition.horizon_days):
        logger.warning(implausible)
        warnings.append(implausible)
    history = result.book.read_tables(("debtor_history",)).debtor_history
    started = history_start_note(history, dataset)
    if started:  # a fact of the history's start, no warning (s39-walk F8)
        logger.info(started)
    said = (master_data_warning(history, dataset, gaps_only=True), limit_cut_warning(history, dataset))
    for said_master in said:
        if said_master:
            logger.warning(said_master)
            warnings.append(said_master)
    outcome = fit(
        dataset, cfg, project.default_definition.horizon_days, project.default_definition.to_params()
    )
    for col, why in sorted(getattr(outcome, "dropped", {}).items()):
        warnings.append(f"feature {col} dropped: {why} on the training rows")
    champion = champion_on_test(outcome, dataset, cfg, project)
    # the amounts' currency as `ews score` finds it: the manifest's, the data's, the project config's
    book = result.book
    currency = feed_currency(
        result.manifest, (book.read(k).invoices for k in range(book.buckets)), project.currency.reporting
    )
    key = queue_key(outcome, dataset, book, cfg, project, currency)
    logger.info("queue key: %s", key.reason, extra=SAID_IN_SUMMARY)
    provenance = {
        "data_hash": _data_hash(result.manifest),
        "config_hash": config_hash(cfg),
        "project_config_hash": config_hash(project),
        "git_commit": git_commit(),
        "code_dir": str(ROOT),
        "blas_threads": blas_threads(),
        "data_dir": str(Path(data_dir).resolve()),
        "inputs": {
            n: t.get("input_sha256", "") for n, t in sorted(result.manifest.get("tables", {}).items())
        },
        "rows": int(len(dataset)),
        "snapshots": int(dataset["as_of"].nunique()),
    }
    feed_ref = training_reference(
        result.manifest.get("tables", {}),
        result.book,
        dataset,
        (result.manifest.get("history") or {}).get("tables"),
    )
    result.check_unchanged("Run `ews train` again", "registered")  # re-ingested while it read (s38-attack)
    logged = log_and_register(outcome, cfg, project, provenance, warnings, feed_ref)
    from pipelines.adapters.registry import record_queue_key

    record_queue_key(
        logged.run_id,
        logged.version,
        key,
        name=cfg.model_name,
        tracking_uri=project.paths.mlflow_tracking_uri,
    )
    decision = gate(logged, outcome, champion, cfg, project)
    level_note = level_note_of(outcome)
    if level_note:
        logger.info(level_note, extra=SAID_IN_SUMMARY)
    logger.info(
        "registered %s v%s, %s (AUC %.4f, %s %.4f out of time); gate %s",
        cfg.model_name,
        logged.version,
        outcome.kind,
        outcome.metrics["auc"],
        ECE_WORDS,
        outcome.metrics["ece"],
        "passed: champion" if decision.passed else "failed: champion unchanged",
    )
    return TrainResult(
        run_id=logged.run_id,
        version=logged.version,
        promoted=decision.passed,
        gate_reasons=decision.reasons,
        champion_before=champion.version,
        metrics=outcome.metrics,
        baseline_metrics=getattr(outcome, "baseline_metrics", {}),
        model_sha256=logged.model_sha256,
        plan=outcome.plan.describe()
        if hasattr(outcome, "plan")
        else {"test": [f"{d:%Y-%m-%d}" for d in outcome.test_window]},
        dropped=getattr(outcome, "dropped", {}),
        kind=outcome.kind,
        selection=outcome.selection,
        lightgbm_metrics=getattr(outcome, "lightgbm_metrics", None),
        intervals=outcome.intervals,
        queue_key=key.key,
        queue_key_reason=key.reason,
        gate_summary=decision.summary,
        shipped_calibration=getattr(getattr(outcome, "shipped_calibration", None), "method", "") or "",
        fold_calibrated=bool(getattr(getattr(outcome, "small_book", None), "fold_calibrated", False)),
        headline=getattr(outcome, "headline", ""),
        level_note=level_note,
    )


def level_note_of(outcome: Any) -> str:
    """:func:`models.evaluate.level_said` on the outcome's out-of-time rows (``test``: ``y``, ``pd``; the
    inner folds of an all-labelled LightGBM), "" when their count allows the PDs' sum."""
    from models.evaluate import level_said

    test = getattr(outcome, "test", None)
    if test is None or not len(test) or "y" not in test.columns or "pd" not in test.columns:
        return ""
    where = "the inner folds" if has_no_test_window(outcome) else "the test window"
    return level_said(test["y"].to_numpy(), test["pd"].to_numpy(), where)


def run_train(
    data_dir: Path,
    config_path: Path = Path("conf/train.yaml"),
    raw: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
) -> TrainResult:
    """Load the train config (and the project config it names) and run the flow, on the engine of
    the project config's ``compute`` or of ``engine``/``scheduler`` (``dask``: prefect-dask's
    ``DaskTaskRunner`` on the scheduler address or a fresh LocalCluster for this run). One BLAS
    thread while it runs (:func:`pipelines.runtime.one_blas_thread`, for callers other than
    the command line)."""
    from pipelines.cluster import EngineSettings, task_runner
    from pipelines.runtime import one_blas_thread

    config_path = Path(config_path)
    cfg = load_config(config_path, expect=TrainConfig)
    project = load_project(cfg, config_path)
    settings = EngineSettings.from_config(project.compute, engine, scheduler)
    flow_fn = train.with_options(task_runner=task_runner(settings)) if settings.kind == "dask" else train
    with one_blas_thread():
        return flow_fn(Path(data_dir), cfg, project, raw, settings.kind)


def load_project(cfg: TrainConfig, config_path: Path) -> ProjectConfig:
    """The project config named by ``cfg.project``: relative to the working directory, else to the
    train config's folder. The shipped default path may be absent (built-in defaults are used)."""
    path = cfg.project
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, config_path.parent / path]
    candidates.append(config_path.parent / path.name)
    for candidate in candidates:
        if candidate.exists():
            return load_config(candidate, expect=ProjectConfig)
    if path == Path("conf/ews.yaml"):
        return ProjectConfig()
    return load_config(candidates[0], expect=ProjectConfig)
