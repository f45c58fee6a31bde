"""``ews score``, ``ews backfill`` and ``ews serve``: run or schedule the nightly flow."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.cli_options import (
    DATA_HELP,
    ENGINE_HELP,
    RAW_HELP,
    SCHEDULER_HELP,
    check_data_dir,
    check_engine,
    out_inside_data,
)
from pipelines.commands import after_today, fail, parse_date
from pipelines.console import console as ews_console
from pipelines.console import plain, plain_flow_logs
from pipelines.words import code_words, counted, in_sentence

CONFIG_HELP = "nightly config (kind: nightly): bands, triggers, queue rules, drift limits, schedule."
ACCEPT_FEED_HELP = (
    "publish even when feed checks fail (a table vanished or doubled, units changed, the default share "
    "jumped...); the override is recorded in manifest.json with who accepted, as every ews command "
    "records who: the environment variable EWS_USER, else the login name. Without it a refused feed "
    "exits with code 3."
)


def _user_errors() -> tuple[type[BaseException], ...]:
    from pipelines.adapters.book import BookMismatchError
    from pipelines.adapters.files import OutputError
    from pipelines.adapters.publish import RunLockedError
    from pipelines.adapters.registry import NoChampionError, TrackingUnavailableError
    from pipelines.config import ConfigError
    from pipelines.engine import NotIngestedError
    from pipelines.feed_checks import FeedCheckError
    from pipelines.flows.nightly import DataQualityError
    from pipelines.runtime import PrefectUnavailableError
    from pipelines.scoring.overrides import AuditLogError
    from pipelines.scoring.score import IncompatibleModelError
    from pipelines.sources.read import TableError

    return (
        NoChampionError,
        IncompatibleModelError,
        DataQualityError,
        FeedCheckError,
        RunLockedError,
        TableError,
        OutputError,
        ConfigError,
        PrefectUnavailableError,
        TrackingUnavailableError,
        AuditLogError,
        NotIngestedError,
        BookMismatchError,
    )


def prefect_api_failures() -> tuple[type[BaseException], ...]:
    """The exception kinds of a Prefect API that fails under a run (logged by Prefect without a
    traceback; :func:`flow_runtime` turns them into one line)."""
    import httpx

    return (httpx.HTTPStatusError, httpx.TransportError)


EXIT_INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C (SIGINT), as a shell reports a process ended by it (128 + 2)."""


def said_interrupted(what: str) -> None:
    """Ctrl-C stopped a command that runs flows: ``what`` happened (one sentence: what was and was not
    published or registered, and that the same command again gives the same result) on stderr, exit
    :data:`EXIT_INTERRUPTED`, no traceback. Prefect's own lines came before it ("Crash detected! Execution
    was aborted by an interrupt signal", s40-attack: all the user saw); its events worker's note at exit
    about the run events it still holds for the API is not the user's to read."""
    import logging

    logging.getLogger("EventsWorker").setLevel(logging.ERROR)
    ews_console(stderr=True).print(plain("interrupted:", "red"), what, highlight=False, soft_wrap=True)
    _interrupt_handled()
    raise typer.Exit(EXIT_INTERRUPTED)


def _interrupt_handled() -> None:
    """CPython (3.11, 3.12) marks a KeyboardInterrupt raised inside ``exec()`` / ``eval()`` of a string as
    unhandled even when it is caught; run as a module (``python -m pipelines.cli``, as the tests run ews),
    the interpreter then ends itself by SIGINT after everything else has run, whatever exit code was asked
    for. dataclasses and namedtuple build their methods so while a module is imported: Ctrl-C landing in
    such an import (s44-flake: `ews train` interrupted ~3.5 s after its start, Prefect imported inside
    flow_runtime) said "interrupted: ..." and asked for exit 130, and the process ended by signal 2 (-2 to
    its parent; a shell shows 130 either way; the `ews` script's SystemExit ends it at once, with 130).
    The mark is reset by the next ``exec`` of a string that completes: the interrupt was handled here."""
    exec("pass", {})  # the reset described above


@contextmanager
def flow_runtime(
    also: tuple[type[BaseException], ...] = (), interrupted: Callable[[], str] | None = None
) -> Iterator[None]:
    """Around commands that run flows: a Prefect API that dies with this process, and user errors
    logged by Prefect without a traceback (see :mod:`pipelines.runtime`). ``also``: further
    exception kinds the command reports as one-line user errors (``ews train``: ValueError).
    ``interrupted``: what the command says when Ctrl-C stops it (:func:`said_interrupted`; called
    then, so it can look at what was published); without it Ctrl-C ends the command as Python does
    (``ews serve``, which Ctrl-C stops by design)."""
    with interrupt_said(interrupted, passed=()), _flow_runtime(also):
        yield


@contextmanager
def interrupt_said(
    interrupted: Callable[[], str] | None, passed: tuple[type[BaseException], ...] = (typer.Exit,)
) -> Iterator[None]:
    """Ctrl-C within the block ends the command with :func:`said_interrupted` (``interrupted()``), also
    when it surfaced as another error. Around a whole command (``passed``: its own exits, an interrupt
    :func:`flow_runtime` already reported among them, go through as they are), so that Ctrl-C outside
    its flows says what happened too: `ews train` stopped while importing its flows printed a traceback
    ("PydanticSerializationError: ... KeyboardInterrupt", exit 1), and stopped between its two flows
    or while printing its verdicts it exited 130 without a word, ews-pd already registered (s44-flake).
    ``interrupted`` None: Ctrl-C ends the command as Python does."""
    with _sigint_seen() as seen:
        try:
            yield
        except KeyboardInterrupt:
            if interrupted is None:
                raise
            said_interrupted(interrupted())
        except passed:
            raise
        except Exception as exc:
            # Ctrl-C inside Prefect's task engine while it was setting a task run up: its clean-up raised
            # ValueError("Task run is not set") in place of the KeyboardInterrupt, which `ews train`
            # printed as "error: Task run is not set" with exit 2 (CI on 2e59af3, once in ~50 runs)
            if interrupted is None or not (seen() or _caused_by_interrupt(exc)):
                raise
            said_interrupted(interrupted())
        else:
            # Prefect's flow engine drops a KeyboardInterrupt that lands once the flow's own code has
            # returned ("BaseException was raised after user code finished executing", at debug level):
            # `ews train` interrupted as its PD flow finished went on to train the payment-date model and
            # exited 0 (s44-flake). The SIGINT itself was recorded: the command stops here
            if interrupted is not None and seen():
                said_interrupted(interrupted())


def _caused_by_interrupt(exc: BaseException) -> bool:
    """A KeyboardInterrupt among the exceptions ``exc`` was raised from or while handling."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


@contextmanager
def _sigint_seen() -> Iterator[Callable[[], bool]]:
    """Within the block, SIGINT is recorded before the handler in place (Python's, which raises
    KeyboardInterrupt) runs; yields whether one came. Only the main thread can set handlers: elsewhere
    (a flow called from a thread), or when SIGINT is ignored or handled outside Python, nothing is
    recorded and the exception chain alone tells."""
    import signal
    import threading

    came: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # ignored (a shell's background job) or set outside Python: left as it is
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield lambda: False
        return

    def record(signum: int, frame: Any) -> Any:
        came.append(signum)
        return previous(signum, frame)

    signal.signal(signal.SIGINT, record)
    try:
        yield lambda: bool(came)
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _flow_runtime(also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    import logging

    from pipelines.runtime import (
        PrefectUnavailableError,
        ensure_prefect_api,
        is_prefect_api_failure,
        prefect_failure,
        quiet_user_errors,
    )

    with quiet_user_errors(_user_errors() + also + prefect_api_failures()):
        try:
            ensure_prefect_api()
        except PrefectUnavailableError as exc:
            fail(str(exc))
        # Prefect's log worker writes "--- Error logging to API ---" and a traceback to stderr when a
        # batch of run logs cannot be sent (its handler honours logging.raiseExceptions). A server
        # whose database fails mid-run refused the logs before the flow's next state change: that
        # traceback reached the user ahead of the one-line error (s25-review, under load). The run's
        # own failure is reported by prefect_failure below; the logs' is not the user's to read.
        # Kept off when the API failed (the process is ending and the worker flushes at exit, as
        # prefect_failure says); put back after a run that ended or failed otherwise.
        raising, logging.raiseExceptions = logging.raiseExceptions, False
        try:
            with plain_flow_logs():  # a logged path such as 'r:smile:s' printed as typed
                yield
        except Exception as exc:
            if is_prefect_api_failure(exc):
                fail(prefect_failure(exc, "the run stopped"))
            logging.raiseExceptions = raising
            raise
        logging.raiseExceptions = raising


# "count": "3/8 debtor buckets", "2/5 dates"; empty on a run's title line (whose bar pulses)
BUCKET_COLUMNS = (
    TextColumn("{task.description}", markup=False),  # a title names the --data folder: text as typed
    BarColumn(),
    TextColumn("{task.fields[count]}", markup=False),
    TimeElapsedColumn(),
)


@contextmanager
def bucket_bars(console: Console, title: str, progress: Progress | None = None) -> Iterator[Progress]:
    """Progress bars for a flow run: a line for ``title``, then one bar per step ("features",
    "scoring") advanced per debtor bucket as the engine finishes it (local or Dask). Pass the
    ``progress`` of an enclosing display (backfill) to add the bars to it."""
    from contextlib import nullcontext

    from pipelines.engine import bucket_progress

    with (
        nullcontext(progress) if progress is not None else Progress(*BUCKET_COLUMNS, console=console) as bars
    ):
        if progress is None:
            bars.add_task(title, total=None, count="")
        rows: dict[str, Any] = {}

        def report(step: str, done: int, total: int) -> None:
            row = rows.get(step)
            if row is None or done < bars.tasks[row].completed:  # a new pass over the buckets
                rows[step] = row = bars.add_task(f"  {step}", total=total, count="")
            bars.update(row, completed=done, total=total, count=f"{done}/{total} debtor buckets")

        try:
            with bucket_progress(report):
                yield bars
        finally:
            for row in rows.values():
                if progress is not None:
                    bars.remove_task(row)


def _check_tracking(config: Path) -> None:
    """Before starting Prefect: an unreachable MLflow tracking server fails in seconds, in one line."""
    from pipelines.adapters.registry import TrackingUnavailableError, configure
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig

    cfg = load_config(config, expect=NightlyConfig)
    uri = (
        load_config(cfg.project, expect=ProjectConfig).paths.mlflow_tracking_uri
        if cfg.project.exists()
        else None
    )
    try:
        configure(uri)
    except TrackingUnavailableError as exc:
        fail(str(exc))


def _registry_target(config: Path) -> tuple[str, str, str | None] | None:
    """``(model_name, model_alias, project tracking URI)`` read from the YAML files as written, with
    the configs' defaults; None when a file does not read as a mapping of the expected types (the
    full validation, which imports Prefect for the cron and costs a second more, names the problem)."""
    from pipelines.config import ConfigError, _read_yaml
    from pipelines.config.nightly import NightlyConfig

    defaults = {key: field.default for key, field in NightlyConfig.model_fields.items()}
    try:
        raw = _read_yaml(config)
        if raw.get("kind") != "nightly":
            return None
        name = raw.get("model_name", defaults["model_name"])
        alias = raw.get("model_alias", defaults["model_alias"])
        project = Path(raw.get("project", defaults["project"]))
        paths = _read_yaml(project).get("paths", {}) if project.exists() else {}
        uri = paths.get("mlflow_tracking_uri") if isinstance(paths, dict) else None
    except (ConfigError, TypeError, ValueError, OSError):
        return None
    if (
        not isinstance(name, str)
        or not isinstance(alias, (str, int))
        or not isinstance(uri, (str, type(None)))
    ):
        return None
    return name, str(alias), uri


def _check_registry(config: Path, require_model: bool = True) -> bool:
    """Before Prefect starts: the tracking store answers (:func:`_check_tracking`, once) and the model
    version to score (alias ``champion``) exists in it. The local SQLite store is read without MLflow
    or Prefect, before the tracking check, so a project that never trained fails in about a second
    (before: 14-20 CPU-s of Prefect server, flow and features, then the same error); a tracking
    server is read through MLflow, so an unreachable one fails first. Other problems of the version
    (unreadable files, a definition mismatch) are still found by preflight and the flow."""
    from pipelines.adapters.registry_view import tracking_uri

    target = _registry_target(config)
    local = target is not None and tracking_uri(target[2]).startswith("sqlite:///")
    if not local:
        _check_tracking(config)
    none = False
    if target is not None:
        none = _require_version(config, *target, require_model=require_model)
    if local:
        _check_tracking(config)
    return none


def _require_version(
    config: Path, name: str, key: str, given: str | None, require_model: bool = True
) -> bool:
    """Exit 2 with the command to run when ``name`` has no version or alias ``key`` in the store; but
    True (the run without a PD model, :mod:`pipelines.scoring.nomodel`) when ``require_model`` is off,
    ``key`` is ``champion`` and no version is champion (none registered, or none promoted: a book's
    first version refused by its gate) and the store lost none. False: the version exists."""
    from pipelines.adapters.registry_view import lost_versions, public_uri, read_versions, tracking_uri

    records = read_versions(name, given)
    if any((r.version == key) if key.isdigit() else (key in r.aliases) for r in records or []):
        return False
    hint = (
        "run `ews train --data DIR` (the gate promotes a passing model) or `ews models promote VERSION --reason ...`"
        if key == "champion"
        else "see `ews models list`"
    )
    where = f"{public_uri(tracking_uri(given))} (model_name / model_alias in {config})"
    lost = lost_versions(name, given)
    if not require_model and key == "champion" and not lost.words:
        return True
    if key in lost.dangling:
        fail(f"model {name!r} in {where}: {lost.words}: restore the store from a backup, or {hint}")
    if records is None:
        hint = f"no model {name!r} is registered there yet: {hint}"
        # a 101-debtor book refused at 18 and 21 months got "run `ews train`" each night (s40-small)
        if key == "champion":
            hint += (
                ". If `ews train` refused this book as too small (its smallest model, the roll-rate model, "
                "needs 3 moves into default by default: rollrate.min_default_transitions in the train config), "
                "nothing can be scored until it trains: run `ews train` again as months come in; its "
                "refusal names what is missing. Meanwhile `ews score` without --require-model publishes the "
                "ledger's outputs, with PD, band and expected loss empty"
            )
    elif key == "champion" and records:
        hint = _unpromoted_hint(name, records)
    if lost.words:
        hint = f"{lost.words}; {hint}"
    fail(f"model {name!r} has no {'version' if key.isdigit() else 'alias'} {key!r} in {where}: {hint}")
    return False  # fail() exits


NO_MODEL_SAID = (
    "no PD model is registered yet ({where}): this run publishes what the ledger gives (aging, DSO, the "
    "collections queue by days past due, the recovery queue, actions, owners, limits on file) with PD, band "
    "and expected loss empty; report.html says why and what the first model needs. `ews train` registers "
    "one as soon as the book allows; the next run uses it. --require-model refuses such a run (exit 2)"
)


def _unpromoted_hint(name: str, records: list) -> str:
    """What to do when versions exist but none is champion: the latest version, why its gate failed
    (retraining on the same data repeats the verdict) and the command that accepts it."""
    latest = max(records, key=lambda r: int(r.version) if str(r.version).isdigit() else -1)
    tags = latest.tags or {}
    kind = tags.get("ews.kind", "")
    auc = tags.get("ews.test_auc")
    what = ", ".join(x for x in (kind, f"test AUC {float(auc):.4f}" if auc else "") if x)
    from models.gate_words import failed_checks

    fails = failed_checks(tags.get("ews.gate.reasons", ""))
    verdict = (
        f"failed its promotion gate: {'; '.join(fails)}"
        if tags.get("ews.gate") == "failed" and fails
        else "is not champion"
    )
    return (
        f"{name} v{latest.version}{f' ({what})' if what else ''} is registered but {verdict}. Training again "
        "on the same data gives the same verdict. To score with it anyway, accept it: "
        f'`ews models promote {latest.version} --reason "..."` (kept in `ews models history`); or change the '
        "data or the train config and run `ews train` again"
    )


def _check_not_future(dates: list[dt.date]) -> None:
    """Refuse an as-of date after today (UTC, plus one day for the time zones ahead of it)."""
    today, future = after_today(dates)
    if not future:
        return
    more = f" ({len(future):,} dates of this run are)" if len(future) > 1 else ""
    fail(
        f"--as-of {future[0]} is in the future{more}: today is {today} (UTC). A score needs the "
        f"day to be over and its invoices, payments and events ingested: score a date up to {today}"
    )


def _check_as_of(data: Path, raw: bool, dates: list[dt.date], config: Path, accept_feed: bool) -> None:
    """Before any work: every as-of date lies inside the ingested data (exit 2 before the first
    dated row, exit 3 more than max_data_lag_days after the last one unless --accept-feed) and is
    not in the future (exit 2, also with --accept-feed or --raw; :func:`_check_not_future`)."""
    if raw:
        _check_not_future(dates)
        return  # a raw folder is validated in the flow; its dates are not known before
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import EXIT_FEED_REFUSED
    from pipelines.scoring.data_window import AsOfOutsideDataError, StaleDataError, check_as_of, data_window

    lag = load_config(config, expect=NightlyConfig).max_data_lag_days
    window = data_window(data)  # None (no dated row) was refused by check_data_dir
    late: list[str] = []  # dates scored with a warning: said once, after every date passed
    for day in dates:
        try:
            if warning := check_as_of(day, window, lag, data):
                late.append(warning)
        except AsOfOutsideDataError as exc:
            fail(str(exc))
        except StaleDataError as exc:
            if not accept_feed:
                fail(str(exc), EXIT_FEED_REFUSED)
            typer.secho(f"warning: {exc} (accepted with --accept-feed)", fg="yellow", err=True)
    _check_not_future(dates)  # after the data's own checks: a lag refusal (exit 3) says more
    if late:
        more = f" (and {counted(len(late) - 1, 'later date')} of this run)" if len(late) > 1 else ""
        typer.secho(f"warning: {late[0]}{more}", fg="yellow", err=True)


def _check_out_dir(out: Path, dates: list[dt.date]) -> None:
    """Before any work: refuse an OUTDIR whose run folders ews could not replace safely, or where
    another run for one of the dates is in progress (its lock is held)."""
    from pipelines.adapters.files import OutputError
    from pipelines.adapters.publish import check_out_dir, run_in_progress

    try:
        for day in dates:
            check_out_dir(out, day)
    except OutputError as exc:
        fail(str(exc))
    for day in dates:
        if (busy := run_in_progress(out, day)) is not None:
            fail(str(busy))


def _check_book(out: Path, data: Path) -> None:
    """Before any work: refuse a --data that is another book than the runs in --out (OUTDIR/book.json), or
    that is the --out folder itself."""
    from pipelines.adapters.book import BookMismatchError, check_book

    if out.resolve() == data.resolve():  # s43-attack: accepted, runs and audit log inside the ingest output
        fail(
            f"--out {out} is the --data folder: the runs (and the analysts' audit log, overrides.jsonl) would sit "
            "among the ingested tables, and deleting that folder to ingest the book over, as `ews ingest` "
            f"advises for a history started again, would delete them too. Give the runs a folder of their own, "
            f"e.g. --out {data.parent / 'runs'}"
        )

    beside = Path(os.path.realpath(data)).parent / "runs"
    if said := out_inside_data(
        out, data, "the runs and the analysts' audit log (overrides.jsonl)", str(beside)
    ):
        fail(said)  # s44-attack: a folder inside --data was accepted
    try:
        check_book(out, data)
    except BookMismatchError as exc:
        fail(str(exc))


def interrupted_run(out: Path, day: dt.date, before: str | None) -> str:
    """What ``ews score`` says when Ctrl-C stops it (:func:`said_interrupted`): whether the run for ``day``
    was published before the interrupt (``OUTDIR/<day>`` now names another folder than ``before``, the
    one it named when the command started: publication swaps that link at once, so a run is published
    whole or not at all). Either way the same command again publishes the same result (s40-attack: a
    rerun after Ctrl-C wrote the same files but the manifest's times)."""
    target = Path(out) / day.isoformat()
    after = os.readlink(target) if target.is_symlink() else None
    if after is not None and after != before:
        return (
            f"the run for {day} was published ({target}) before the interrupt; the same command again "
            "publishes the same result"
        )
    kept = f"{target} is as it was" if before is not None else f"{target} does not exist"
    return f"nothing was published for {day} ({kept}); the same command again gives the same result"


def _published(out: Path, day: dt.date) -> str | None:
    target = Path(out) / day.isoformat()
    return os.readlink(target) if target.is_symlink() else None


def _run_one(
    as_of: dt.date,
    data: Path,
    out: Path,
    config: Path,
    raw: bool = False,
    accept_feed: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    verbose: bool = False,
    require_model: bool = False,
) -> Any:
    from pipelines.feed_checks import EXIT_FEED_REFUSED, FeedCheckError
    from pipelines.flows.nightly import preflight, run
    from pipelines.runtime import is_prefect_api_failure, prefect_failure

    target = Path(out) / as_of.isoformat()
    before = os.readlink(target) if target.is_symlink() else None
    try:
        preflight(config)  # a definition mismatch is refused before any flow run (no traceback)
        return run(
            as_of=as_of,
            config_path=config,
            data_dir=data,
            out_dir=out,
            raw=raw,
            accept_feed=accept_feed,
            engine=engine,
            scheduler=scheduler,
            require_model=require_model,
        )
    except FeedCheckError as exc:
        said = exc.full if verbose else str(exc)
        if not verbose and exc.full != str(exc):  # the figures behind a short check are kept
            said += (
                f"\nHow each limit is counted: rerun with --verbose, or read "
                f"{Path(out) / '.rejected' / f'{as_of}.feed_checks.json'}."
            )
        fail(f"{as_of}: {said}", EXIT_FEED_REFUSED)
    except _user_errors() as exc:
        fail(str(exc))
    except Exception as exc:
        if not is_prefect_api_failure(exc):
            raise
        after = os.readlink(target) if target.is_symlink() else None
        done = (
            f"the run for {as_of} was published ({target}) before the failure"
            if after is not None and after != before
            else f"nothing was published for {as_of}"
        )
        fail(prefect_failure(exc, done))


def _money(amount: float, currency: str | None, named: bool = True) -> str:
    """``13,248 EUR``: a whole amount with its currency (a manifest from before session 25 has none);
    ``named`` False (the run knew no currency): "13,248, currency not named" (the flow's log says how
    to name it; before session 30 the bare figure)."""
    if currency:
        return f"{amount:,.0f} {currency}"
    return f"{amount:,.0f}" if named else f"{amount:,.0f}, currency not named"


def _by_trigger(triggers: dict[str, int]) -> str:
    """`` (by trigger: among the highest PDs 13, over the credit limit 5)``: the triggers that flagged
    someone, most first, in words (they read "rank 13, limit_breach 5" before session 32)."""
    fired = sorted(((n, k) for k, n in triggers.items() if n), key=lambda x: (-x[0], x[1]))
    said = ", ".join(f"{in_sentence(code_words(k, 'trigger'))} {n:,}" for n, k in fired)
    return f" (by trigger: {said})" if fired else ""


def _drifted(drift: dict[str, Any]) -> str:
    """`` (days_since_last_invoice PSI 0.11)``: the variables behind a drift warning or alert, the largest
    PSI first, at most 3 (s39-walk: the console said "drift warning" and nothing more; the report's Drift
    section names them in words)."""
    hit = [v for v in drift.get("variables") or [] if v.get("status") in ("warning", "alert")]
    hit.sort(key=lambda v: -float(v.get("psi") or 0.0))
    said = ", ".join(f"{v['variable']} PSI {float(v['psi']):.2f}" for v in hit[:3])
    more = f" and {len(hit) - 3} more" if len(hit) > 3 else ""
    return f" ({said}{more}; report.html, Drift)" if hit else ""


def _summary(console: Console, result: Any, verbose: bool = False) -> None:
    """What a run did, in a few lines; ``verbose``: the seconds per step first (a table of 16 rows that
    `ews score` printed every night before session 32; manifest.json keeps them, ``timings_s``)."""
    from pipelines.scoring.nomodel import MODE as NO_MODEL_MODE

    m = result.manifest
    c = m["counts"]
    none = m.get("mode") == NO_MODEL_MODE  # no PD model registered yet (pipelines.scoring.nomodel)
    title = (
        f"nightly {m['as_of']} without a PD model"
        if none
        else f"nightly {m['as_of']} with {m['model']['name']} v{m['model']['version']}"
    )
    before = m.get("previous_model_version")
    if not none and before is not None and str(before) != str(m["model"]["version"]):
        title += (
            f" (the previous run, {m['previous_run']}, was scored by v{before}: tonight's PD changes, PD jumps "
            "and band moves are partly the new model's, not the debtors')"
        )
    if not verbose:
        console.print(title, highlight=False)
    else:
        # the title on a line of its own: as the table's title it wrapped inside the 2-column table's width
        console.print(f"{title}: seconds per step")
        table = Table()
        table.add_column("step")
        table.add_column("seconds", justify="right")
        for step, secs in m["timings_s"].items():
            table.add_row(step, f"{secs:.2f}")
        console.print(table)
    if none:
        console.print(
            f"{counted(c['scored'], 'debtor')} ({c['in_default']:,} in default), no PD; watchlist "
            f"{counted(c['flagged'], 'debtor')}{_by_trigger(c['triggers'])}; collections queue "
            f"{counted(c['queue'], 'debtor')} by days past due; recovery queue {counted(c['recovery'], 'debtor')}"
            + _moves_said(c.get("moves_into_default")),
            highlight=False,
        )
    else:
        console.print(
            f"scored {counted(c['scored'], 'debtor')} ({c['in_default']:,} in default); watchlist "
            f"{counted(c['flagged'], 'debtor')}{_by_trigger(c['triggers'])}; collections queue "
            f"{counted(c['queue'], 'debtor')} (expected loss "
            f"{_money(c['expected_loss'], c.get('currency'), named='currency' not in c or bool(c['currency']))}); "
            f"drift {m['drift']['status']}{_drifted(m['drift'])}",
            highlight=False,
        )
    if c.get("live_without_history"):
        n = c["live_without_history"]
        console.print(
            f"{counted(n, 'debtor')} of the debtors table {'has' if n == 1 else 'have'} no invoice, payment or "
            "statement yet (prospects?): scored, but never flagged and not counted in the rank trigger's top "
            "share or the drift",
            highlight=False,
        )
    ties = c.get("rank_ties")
    if ties:
        console.print(
            plain("rank trigger:", "bold yellow"),
            f"{counted(ties['flagged'], 'debtor')} flagged for a top share of "
            f"{ties['asked']:,}: the model gives only {ties['distinct_pds']:,} distinct PDs tonight, and a PD "
            "tied with one inside the share is flagged too (a small-book roll-rate model?). Lower "
            "triggers.rank.top_share or raise triggers.rank.min_pd in the nightly config",
            highlight=False,
        )
    feed = m.get("feed") or {}
    if feed.get("override"):
        console.print(
            plain("feed checks failed and were accepted", "bold yellow"),
            f"(--accept-feed by {feed['override']['by']}): " + "; ".join(feed["override"]["checks"]),
        )
    elif not feed.get("references"):
        console.print(f"feed checks: {feed.get('note') or 'no reference'}")
    if feed.get("own_months"):  # a check outside the training limit, judged by the book's own months
        console.print(plain("warning:", "bold yellow"), "feed checks:", feed["own_months"], highlight=False)
    if feed.get("history"):
        console.print(plain("warning:", "bold yellow"), feed["history"]["note"], highlight=False)
    if c.get("owners"):
        from pipelines.scoring.owners import owner_gaps_note

        console.print(plain("owners:", "bold yellow"), owner_gaps_note(c["owners"]), highlight=False)
    if c.get("lgd_segments"):
        console.print(plain("LGD:", "bold yellow"), c["lgd_segments"], highlight=False)
    if feed.get("write_offs"):
        console.print(f"feed checks: {feed['write_offs']}", highlight=False)
    console.print("outputs:", plain(str(result.path), "bold"), f" (open {result.path / 'report.html'})")


def where_to_look(
    console: Console, runs: list[Path], teams: Path, out: Path, cleared: str | None, uri: str, cfg: Any
) -> None:
    """``ews demo``'s closing lines: where each output is and how to open the MLflow and Prefect UIs.
    Printed as typed: an ``--out`` folder such as ``g[old]`` or ``x[/]`` is a path, not rich markup
    (s33-review: the lines read it as markup, a traceback after the whole demo or a wrong path)."""

    def say(text: str) -> None:
        console.print(plain(text), highlight=False)

    console.rule("where to look")
    say(f"report:            {runs[-1] / 'report.html'}  (open in a browser; works offline)")
    say(
        f"watchlist:         {runs[-1] / 'watchlist.xlsx'}  (in words; watchlist.csv: the same rows with codes)"
    )
    say(f"collections queue: {runs[-1] / 'collections_queue.xlsx'}  (live debtors; one sheet per owner)")
    say(f"recovery queue:    {runs[-1] / 'recovery_queue.xlsx'}  (debtors in default)")
    say(f"teams (demo):      {teams}  (owners and daily capacity)")
    say(f"run manifest:      {runs[-1] / 'manifest.json'}   previous day: {runs[0]}")
    if cleared:
        say(
            f"override + audit:  ews watchlist history {cleared} --out {out}   (log: {out / 'overrides.jsonl'})"
        )
    say(
        f"MLflow UI:         .venv/bin/mlflow ui --backend-store-uri {uri} --port 5000  -> http://127.0.0.1:5000"
    )
    say(
        "Prefect UI:        .venv/bin/prefect server start  -> http://127.0.0.1:4200  "
        "(the demo's train and nightly runs are in the local Prefect database)"
    )
    say(
        f"schedule:          `ews serve` runs the nightly flow at '{cfg.schedule.cron}' ({cfg.schedule.timezone})"
    )


def demo_train_and_score(
    console: Console,
    data_dir: Path,
    out: Path,
    config: Path = Path("conf/nightly.yaml"),
    train_config: Path = Path("conf/train.yaml"),
) -> dict[str, Any]:
    """The scoring half of ``ews demo``: train on ``data_dir``, make that version champion, run the
    nightly flow for the day before the last observed date and for that date (so the second run has
    deltas), then print where the outputs are and how to open the MLflow and Prefect UIs.
    ``data_dir`` is an ``ews ingest`` output: training and scoring read its debtor buckets.

    Returns ``{"version", "runs": [Path, Path], "seconds": {...}}``.
    """
    import time

    from pipelines.adapters.registry import configure, promote
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import Book
    from pipelines.flows.nightly import run
    from pipelines.flows.train import run_train

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    with console.status(
        plain("training: features for every month-end, LightGBM + scorecard, calibration, MLflow ...")
    ):
        trained = run_train(data_dir, train_config)
    seconds["train"] = round(time.perf_counter() - t, 1)
    console.print(
        "trained",
        plain(f"ews-pd v{trained.version}", "bold"),
        f"in {seconds['train']:.0f} s: test AUC {trained.metrics['auc']:.3f}, "
        f"ECE {trained.metrics['ece']:.4f} (scorecard AUC {trained.baseline_metrics['auc']:.3f}); "
        f"gate {'passed -> champion' if trained.promoted else 'not passed: ' + '; '.join(trained.gate_reasons)}",
    )
    if not trained.promoted:
        promote(trained.version, "ews demo: use the model just trained on the sample")
        console.print(
            f"promoted v{trained.version} to champion by hand (`ews models promote`), reason recorded"
        )

    t = time.perf_counter()
    with console.status(
        plain("payment-date model: person-period rows, LightGBM hazard, held-out evaluation ...")
    ):
        from pipelines.flows.train_paydate import run_train_paydate

        pay = run_train_paydate(data_dir, train_config)
    seconds["train_paydate"] = round(time.perf_counter() - t, 1)
    console.print(
        "trained",
        plain(f"ews-paydate v{pay.version}", "bold"),
        f"in {seconds['train_paydate']:.0f} s: held-out MAE "
        f"{pay.metrics['mae_days']:.1f} days (due date + mean lateness {pay.metrics['due_plus_lateness_mae_days']:.1f}), "
        f"p10-p90 coverage {pay.metrics['coverage_80']:.0%}",
    )
    if not pay.promoted:
        promote(pay.version, "ews demo: use the payment-date model just trained", name="ews-paydate")

    last = Book.ingested(data_dir).last_observed()
    if last is None:
        raise ValueError(f"{data_dir}: no dated rows to score")
    days = [last.date() - dt.timedelta(days=1), last.date()]
    runs: list[Path] = []
    cleared = None
    config = demo_nightly_config(config, out.parent)
    for day in days:
        t = time.perf_counter()
        with console.status(plain(f"nightly flow as of {day} ...")):
            result = run(as_of=day, config_path=config, data_dir=data_dir, out_dir=out)
        seconds[f"nightly {day}"] = round(time.perf_counter() - t, 1)
        _summary(console, result)
        runs.append(result.path)
        if len(runs) == 1:  # an analyst reviews the first run: one override, respected by the second
            from pipelines.commands.watchlist import demo_override

            cleared = demo_override(console, out, result.path)
    show_queues(console, runs[-1])

    cfg = load_config(config, expect=NightlyConfig)
    where_to_look(console, runs, config.parent / "teams.yaml", out, cleared, configure(None), cfg)
    return {"version": trained.version, "runs": runs, "seconds": seconds}


DEMO_TEAMS = """kind: teams
# Demo collectors (ews demo): who works which debtors, and how many per day.
collectors:
  - {name: Anna, countries: [DE, AT], capacity: 40}
  - {name: Bruno, countries: [FR, BE, NL], capacity: 30}
  - {name: Carmen, countries: [ES, IT, PL], capacity: 25}
  - {name: Dieter, capacity: 15, queues: [collections]}
  - {name: Recovery desk, capacity: 20, queues: [recovery]}
"""


def demo_nightly_config(config: Path, folder: Path) -> Path:
    """``config`` with ``teams`` pointing at a demo roster written to ``folder/teams.yaml``; the
    copy is ``folder/nightly.yaml``."""
    import yaml

    from pipelines.adapters.files import write_text_atomic

    teams = write_text_atomic(DEMO_TEAMS, folder / "teams.yaml")
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["teams"] = str(teams)
    text = "# ews demo: conf/nightly.yaml with the demo teams\n" + yaml.safe_dump(raw, sort_keys=False)
    return write_text_atomic(text, folder / "nightly.yaml")


def show_queues(console: Console, run: Path, rows: int = 5) -> None:
    """The two queues of ``run``: their top rows, with the amounts the XLSX has (exposure, and the
    expected loss or the recoverable amount, in the queue's currency), and the rows per owner. Fits
    100 columns: the action and its rule wrap between words."""
    import pandas as pd
    from rich import box

    from pipelines.adapters.exports import LABELS

    # (stem, its amounts, the rank key said under the table); before s39-audit the console showed no amount,
    # only the rank key (a priority, or an age-weighted recoverable amount) beside an XLSX with "Exposure (EUR)"
    for stem, amounts, value in (
        ("collections_queue", ("exposure", "expected_loss"), "priority"),
        ("recovery_queue", ("exposure", "recoverable_amount"), "recovery_priority"),
    ):
        q = pd.read_parquet(run / f"{stem}.parquet")
        codes = sorted({str(c) for c in q["currency"].dropna() if str(c)}) if "currency" in q else []
        unit = f" ({codes[0]})" if len(codes) == 1 else ""  # one reporting currency per run
        table = Table(
            title=f"{stem} ({counted(len(q), 'debtor')}): top {rows}",
            caption=f"ranked by {LABELS.get(value, value).lower()} (in the XLSX)",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
        )
        # headed as the XLSX heads them (pipelines.adapters.exports.LABELS; the columns' names before session 32)
        heads = {
            "dpd": "Days past due",
            "exposure": f"Exposure{unit}",
            "expected_loss": f"Expected loss{unit}",
            "recoverable_amount": f"Recoverable{unit}",
        }
        numbers = ("rank", *amounts, "dpd")
        cells = [
            [
                str(r.rank),
                str(r.debtor_id),
                str(r.owner),
                code_words(r.next_action, "action"),
                *("" if pd.isna(getattr(r, a)) else f"{getattr(r, a):,.0f}" for a in amounts),
                "" if pd.isna(r.dpd) else f"{r.dpd:.0f}",
                str(r.action_rule),
            ]
            for r in q.head(rows).itertuples(index=False)
        ]
        columns = ("rank", "debtor_id", "owner", "next_action", *amounts, "dpd", "action_rule")
        for i, col in enumerate(columns):
            head = heads.get(col, LABELS.get(col, col))
            # numbers and ids get their width and are never cut or folded (their headers wrap between
            # words); the owner, the action and its rule share the rest, the rule twice as much
            fixed = col in (*numbers, "debtor_id")
            whole = max((len(c[i]) for c in cells), default=1)
            table.add_column(
                head,
                justify="right" if col in numbers else "left",
                min_width=max(whole, *(len(w) for w in head.split())) if fixed else None,
                max_width=max(whole, len(head)) if fixed else None,
                ratio=None if fixed else (2 if col == "action_rule" else 1),
                overflow="fold",
            )
        for row in cells:
            table.add_row(*row)
        console.print(table)
        per_owner = q.groupby("owner", sort=True).agg(
            rows=("debtor_id", "size"), today=("within_capacity", "sum")
        )
        console.print(
            "owners: "
            + "; ".join(f"{o} {int(n.rows):,} ({int(n.today):,} today)" for o, n in per_owner.iterrows())
        )


REQUIRE_MODEL_HELP = (
    "exit 2 when no PD model is registered (by default such a run publishes the ledger's outputs with PD, "
    "band and expected loss empty, and says so)"
)


def _check_not_lost(config: Path, out: Path, day: dt.date) -> None:
    """Exit 2 when the run would go on without a PD model but the last run in ``out`` before ``day`` was
    scored by one (:func:`pipelines.scoring.nomodel.model_before`): the store or config points elsewhere."""
    from pipelines.adapters.registry_view import public_uri, tracking_uri
    from pipelines.scoring.nomodel import lost_model_words, model_before

    before = model_before(out, day)
    if before is None:
        return
    target = _registry_target(config)
    name = target[0] if target else "ews-pd"
    where = public_uri(tracking_uri(target[2] if target else None))
    fail(lost_model_words(f"no version of {name!r} is champion in {where}", before))


def _moves_said(moves: dict[str, int] | None) -> str:
    """The console's count of a run without a PD model beside the first model's minimum, e.g. "; 1 of the 3
    moves into default the first PD model needs" (manifest counts.moves_into_default; "" without it)."""
    if not moves or moves.get("moves") is None:
        return ""
    if moves["moves"] >= moves["needed"]:  # a book scored before its first `ews train`
        return (
            f"; {moves['moves']:,} moves into default, at least the {moves['needed']:,} the first PD model needs: "
            "run ews train"
        )
    return f"; {moves['moves']:,} of the {moves['needed']:,} moves into default the first PD model needs"


def _say_no_model(config: Path) -> None:
    """The notice of a run without a PD model, on stderr before the flow starts."""
    from pipelines.adapters.registry_view import public_uri, read_versions, tracking_uri

    target = _registry_target(config)
    where = public_uri(tracking_uri(target[2] if target else None))
    records = read_versions(target[0], target[2]) if target else None
    said = NO_MODEL_SAID.format(where=where)
    if records:  # registered, none promoted (a first version refused by its gate)
        said = said.replace("no PD model is registered yet", "no PD model is champion yet", 1)
        said += f". {_unpromoted_hint(target[0], records)}"
    typer.secho(f"notice: {said}", fg="yellow", err=True)


def build_deployment(config: Path) -> Any:
    """The Prefect deployment of the nightly flow with the config's cron and time zone."""
    from prefect.schedules import Cron

    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import is_ingested
    from pipelines.flows.nightly import nightly

    cfg = load_config(config, expect=NightlyConfig)
    return nightly.to_deployment(
        name="nightly",
        schedules=[Cron(cfg.schedule.cron, timezone=cfg.schedule.timezone)],
        parameters={
            "config_path": str(config.resolve()),
            "data_dir": str(cfg.data_dir.resolve()),
            "out_dir": str(cfg.out_dir.resolve()),
            "raw": not is_ingested(cfg.data_dir),
        },
        description="Score the portfolio as of yesterday (schedule time zone) and publish OUTDIR/<as_of>/.",
        tags=["ews", "nightly"],
    )


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        data: Path = typer.Option(..., "--data", help=DATA_HELP),
        as_of: str = typer.Option(..., "--as-of", help="score as of this date (YYYY-MM-DD)"),
        out: Path = typer.Option(
            Path("data/runs"), "--out", help="OUTDIR; the run is published as OUTDIR/<as_of>/"
        ),
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
        raw: bool = typer.Option(False, "--raw", help=RAW_HELP),
        engine: str | None = typer.Option(None, "--engine", help=ENGINE_HELP),
        scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
        trusted_input: bool = typer.Option(
            False, "--trusted-input", hidden=True, help="no effect: an ingested --data is the default"
        ),
        accept_feed: bool = typer.Option(False, "--accept-feed", help=ACCEPT_FEED_HELP),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            help="also print each step's seconds and memory (always in manifest.json, timings_s, and "
            "in the Prefect run log), and on a refused feed how each limit is counted",
        ),
        require_model: bool = typer.Option(False, "--require-model", help=REQUIRE_MODEL_HELP),
    ) -> None:
        """Run the nightly flow once for one as-of date.

        Scores every debtor with the champion model, then publishes scores, the watchlist (with reason
        codes), the collections and recovery queues and credit limits (CSV/XLSX, the queues also Parquet),
        the invoice and cash-in forecasts (with an ews-paydate champion), report.html and manifest.json
        atomically into OUTDIR/<as_of>/. Without any registered PD model (a book `ews train` refused as
        too small) the run publishes the ledger's outputs with PD, band and expected loss empty (exit 0,
        a notice; --require-model: exit 2). Exit 2 with a message when versions exist but none is
        champion, the features do not fit the model, the feed is unusable or the date is locked.
        Exit 3 when feed checks refuse the feed (see README, "Feed checks"); --accept-feed overrides."""
        day = parse_date(as_of, "--as-of")
        # Ctrl-C during the checks before the flow or while the summary is printed: said too (s44-flake)
        at: dict[str, str | None] = {}
        with interrupt_said(
            lambda: interrupted_run(out, day, at["before"] if "before" in at else _published(out, day))
        ):
            check_data_dir(data, raw)
            check_engine(engine)
            _check_out_dir(out, [day])
            _check_book(out, data)
            if raw or accept_feed:  # no data-lag refusal can speak first
                _check_not_future([day])
            none = _check_registry(config, require_model)
            if none:
                _check_not_lost(config, out, day)
            _check_as_of(data, raw, [day], config, accept_feed)
            if none:
                _say_no_model(config)
            console = ews_console()
            from pipelines.runtime import said_once

            # said_once: a warning the summary repeats (the owners' gaps) is left out of the console's flow log
            # without --verbose, the steps' seconds stay in the manifest and the run log (not on the console)
            at["before"] = before = _published(out, day)
            with (
                flow_runtime(interrupted=lambda: interrupted_run(out, day, before)),
                said_once(step_times=verbose),
                bucket_bars(console, f"nightly flow for {day}"),
            ):
                result = _run_one(
                    day, data, out, config, raw, accept_feed, engine, scheduler, verbose, require_model
                )
            _summary(console, result, verbose)

    @app.command("backfill")
    def backfill(
        data: Path = typer.Option(..., "--data", help=DATA_HELP),
        start: str = typer.Option(..., "--from", help="first as-of date (YYYY-MM-DD)"),
        end: str = typer.Option(..., "--to", help="last as-of date (YYYY-MM-DD), inclusive"),
        out: Path = typer.Option(Path("data/runs"), "--out", help="OUTDIR; one folder per as-of date"),
        freq: str = typer.Option("daily", "--freq", help="daily | weekly | month-end"),
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
        accept_feed: bool = typer.Option(False, "--accept-feed", help=ACCEPT_FEED_HELP),
        raw: bool = typer.Option(False, "--raw", help=RAW_HELP),
        engine: str | None = typer.Option(None, "--engine", help=ENGINE_HELP),
        scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
        verbose: bool = typer.Option(
            False, "--verbose", help="on a date refused by the feed checks, how each limit is counted"
        ),
        require_model: bool = typer.Option(False, "--require-model", help=REQUIRE_MODEL_HELP),
    ) -> None:
        """Run the nightly flow for every date from --from to --to.

        Dates run oldest first, so that each run's deltas compare with the one before. Reruns of a date replace it atomically.
        A date refused by the feed checks stops the backfill with exit 3 (earlier dates stay published)."""
        d1, d2 = parse_date(start, "--from"), parse_date(end, "--to")
        if d2 < d1:
            fail(f"--to {d2} is before --from {d1}")
        rule = {"daily": "D", "weekly": "W-SUN", "month-end": "ME"}.get(freq)
        if rule is None:
            fail(f"--freq {freq!r}: use daily, weekly or month-end")
        check_data_dir(data, raw)
        check_engine(engine)
        import pandas as pd

        dates = [ts.date() for ts in pd.date_range(d1, d2, freq=rule)]
        if not dates:
            fail(f"no {freq} dates between {d1} and {d2}")
        _check_out_dir(out, dates)
        _check_book(out, data)
        if raw or accept_feed:  # no data-lag refusal can speak first
            _check_not_future(dates)
        none = _check_registry(config, require_model)
        if none:
            _check_not_lost(config, out, dates[0])
        _check_as_of(data, raw, dates, config, accept_feed)
        if none:
            _say_no_model(config)
        console = ews_console()
        at: dict[str, Any] = {"day": dates[0], "done": 0, "before": _published(out, dates[0])}

        def interrupted() -> str:
            done = f"{counted(at['done'], 'earlier date')} published, " if at["done"] else ""
            return f"stopped at {at['day']}, {done}{interrupted_run(out, at['day'], at['before'])}"

        with flow_runtime(interrupted=interrupted), Progress(*BUCKET_COLUMNS, console=console) as progress:
            task = progress.add_task("backfill", total=len(dates), count=f"0/{len(dates)} dates")
            for i, day in enumerate(dates):
                at.update(day=day, done=i, before=_published(out, day))
                progress.update(task, description=f"nightly {day}", count=f"{i}/{len(dates)} dates")
                with bucket_bars(console, f"nightly {day}", progress):
                    result = _run_one(
                        day, data, out, config, raw, accept_feed, engine, scheduler, verbose, require_model
                    )
                c = result.manifest["counts"]
                progress.console.print(
                    f"{day}: {c['scored']:,} scored, {c['flagged']:,} flagged -> {result.path}"
                )
                progress.update(task, advance=1, count=f"{i + 1}/{len(dates)} dates")

    @app.command("serve")
    def serve(
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the deployment and schedule, then exit"),
    ) -> None:
        """Deploy the nightly flow on a cron schedule and serve it until stopped.

        Uses Prefect's own scheduler with the config's cron and explicit time zone (default 02:00
        Europe/Amsterdam); stop with Ctrl-C.
        Each run scores yesterday's date. To watch the runs in the Prefect UI, start a server first
        with `prefect server start` and set PREFECT_API_URL to the address it prints (by default
        http://127.0.0.1:4200/api); without it ews starts a temporary server that ends with this
        command."""
        deployment = build_deployment(config)
        sched = deployment.schedules[0].schedule
        ews_console().print(
            "deployment ",
            plain(f"nightly/{deployment.name}", "bold"),
            f": cron '{sched.cron}' timezone {sched.timezone}; parameters {json.dumps(deployment.parameters)}",
            sep="",
        )
        data_dir = Path(deployment.parameters["data_dir"])
        if not data_dir.exists():  # s35-walk: a fresh `ews init` project serves data/sample, which it lacks
            ews_console(stderr=True).print(
                plain("warning:", "yellow"),
                f"data_dir {data_dir} ({config}) does not exist: every run fails until it does. Set data_dir "
                "to the folder your nightly `ews ingest --out` writes (e.g. data/ingested)",
                highlight=False,
                soft_wrap=True,
            )
        if dry_run:
            return
        from prefect import serve as prefect_serve

        # the temporary API server ews starts for its other flows (s34-walk: Prefect's own, started here
        # before, sent telemetry into its SQLite file while other runs used it: "database is locked"
        # and two tracebacks on the console; and it outlived a killed `ews serve`)
        with flow_runtime():
            prefect_serve(deployment)
