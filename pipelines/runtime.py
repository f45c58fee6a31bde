"""Process hygiene around Prefect runs started by the ``ews`` command line.

* :func:`ensure_prefect_api`: without ``PREFECT_API_URL``, Prefect 3 starts a temporary API server (a
  ``uvicorn`` child process, about 200 MB) the first time a flow needs it, and stops it from an
  ``atexit`` hook. A ``kill -9`` of ``ews`` skips that hook and leaves the server running with
  parent 1. Here the server is started from the main thread before the flow, through Prefect's own
  ``SubprocessASGIServer`` (so the flows reuse it), with a parent-death signal (Linux
  ``prctl(PR_SET_PDEATHSIG, SIGTERM)``): the kernel stops it whenever ews ends, however it ends.
  A normal exit still stops it through Prefect's ``atexit`` hook, after the run logs are sent.
  Elsewhere (macOS) only the normal stop applies; start a shared server (`prefect server start`)
  and set ``PREFECT_API_URL`` there.
  Prefect's own "Starting temporary server ... See https://docs.prefect.io ..." and "Stopping
  temporary server" lines are not printed: ews starts and stops that server itself, and the lines
  told a credit analyst to read about running a Prefect server before every command. Every flow and
  task run line is kept; a server that fails to start is still reported (with its last words).
* :func:`keep_freed_memory`: on Linux, freed memory is kept for reuse by the process instead of
  being given back to the system at once (glibc's ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD``, and
  Arrow's buffers from the same allocator). The ingest and the nightly allocate and free frames of
  tens of MB per debtor bucket; each time the memory went back to the system, the next frame faulted
  it in again and the kernel zeroed it: at 1M debtors that was ~190 of ~700 CPU-s, system time
  (BENCHMARKS.md, "Session 13 (s13-scale)"). Results are the same bytes.
* :func:`pin_numeric_threads`: one BLAS thread in ews and the workers it starts, whatever the caller's
  environment: a matrix product split over threads sums in another order, and the same ``ews train``
  gave the roll-rate model's PDs in other last bits under another ``OPENBLAS_NUM_THREADS``
  (BENCHMARKS.md, "Session 23 (s23-determinism)"). LightGBM has its own pin (``lgbm.n_jobs``, 1).
  :func:`one_blas_thread` does the same for one block: the Python entry points (``run_train``,
  ``run_train_paydate``, the nightly flow) run under it, whoever calls them.
* :func:`quiet_user_errors`: Prefect logs every exception that ends a task or flow run with its
  traceback. For user errors (bad config, unusable feed, unsafe output folder...) the command line
  prints one line instead, so the flow-run log keeps the message and drops the traceback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace
from typing import Any

__all__ = [
    "PrefectUnavailableError",
    "die_with_parent",
    "ensure_prefect_api",
    "is_prefect_api_failure",
    "blas_threads",
    "keep_freed_memory",
    "one_blas_thread",
    "pin_numeric_threads",
    "prefect_database_problem",
    "prefect_failure",
    "quiet_user_errors",
    "release_freed_memory",
    "startup_failure",
]

_PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 120  # Prefect's default (20 s) is too short for a first start on a busy machine


MALLOC_SETTINGS = {
    # glibc reads these when a process starts (worker processes spawned later inherit them);
    # this process gets the same values through mallopt() below
    "MALLOC_MMAP_THRESHOLD_": 1 << 30,  # blocks up to 1 GiB from the heap, not a fresh mmap each
    "MALLOC_TRIM_THRESHOLD_": 2**31 - 1,  # the heap's free top is kept (2 GiB: mallopt's int limit)
}
_MALLOPT = {"MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_TRIM_THRESHOLD_": -1}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
_TUNABLE = {"MALLOC_MMAP_THRESHOLD_": "mmap_threshold", "MALLOC_TRIM_THRESHOLD_": "trim_threshold"}


def keep_freed_memory() -> dict[str, str]:
    """Keep freed memory in the process for reuse (Linux with glibc; elsewhere nothing is done).

    Sets glibc's mmap and trim thresholds in this process (``mallopt``) and in the environment (for
    the worker processes it starts), and Arrow's default memory pool to the system allocator
    (``ARROW_DEFAULT_MEMORY_POOL=system``), so Arrow's buffers are kept the same way. A variable the
    user has set already (or its ``GLIBC_TUNABLES`` entry) is left as it is. Arrow's pool is switched
    only together with a threshold applied here: with the user's own thresholds, or a C library whose
    ``mallopt`` sets nothing, Arrow keeps its own allocator (its buffers would otherwise follow
    thresholds ews did not choose). Returns the settings applied. Call it before the work starts (the
    command line does, in :func:`pipelines.cli.main`)."""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return {}
    applied: dict[str, str] = {}
    for name, value in MALLOC_SETTINGS.items():
        if name in os.environ or f"glibc.malloc.{_TUNABLE[name]}=" in os.environ.get("GLIBC_TUNABLES", ""):
            continue  # the user's own value (GLIBC_TUNABLES is glibc's newer spelling of it)
        if mallopt(_MALLOPT[name], ctypes.c_int(value)) == 1:
            os.environ[name] = applied[name] = str(value)
            _KEPT.append(name)
    if applied and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = applied["ARROW_DEFAULT_MEMORY_POOL"] = "system"
        if "pyarrow" in sys.modules:  # imported already: it has read the variable
            import pyarrow as pa

            pa.set_memory_pool(pa.system_memory_pool())
    return applied


_KEPT: list[str] = []  # the settings keep_freed_memory applied in this process


def release_freed_memory() -> None:
    """Give the free memory this process keeps back to the system (glibc's ``malloc_trim``), when
    :func:`keep_freed_memory` set the thresholds here. The nightly calls it after each of its
    steps: within a step freed frames are reused, and what the step leaves free does not add to
    the next step's peak (kept memory is also fragmented: without it the 1M nightly's process
    peaked ~400 MiB higher). A process started by one that did (a served flow run, the ingest
    child) has the thresholds from its environment, and is trimmed too."""
    trim = str(MALLOC_SETTINGS["MALLOC_TRIM_THRESHOLD_"])
    if _KEPT or (sys.platform.startswith("linux") and os.environ.get("MALLOC_TRIM_THRESHOLD_") == trim):
        getattr(ctypes.CDLL(None), "malloc_trim", lambda _: 0)(0)


class PrefectUnavailableError(RuntimeError):
    """The temporary Prefect API server did not come up, or failed during the run. The message says
    what to do."""


# The temporary server's database grows with every run (flow and task runs, their logs): below this
# much free room (disk space, or a process-wide file-size limit above the file's size) it is refused
# before it starts, instead of failing with HTTP 500 and tracebacks half-way (s21-chaos).
PREFECT_DB_ROOM = 64 << 20
SERVER_LINES = 200  # the temporary server's last output lines kept (shown only in a failure's diagnosis)
_server_output: Any = None  # collections.deque of those lines while ews runs the server


def prefect_database() -> Any:
    """The file of the temporary Prefect server's SQLite database (a ``Path``), or None when the
    server uses another database (PostgreSQL)."""
    from pathlib import Path

    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_HOME

    url = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if not url:
        return Path(PREFECT_HOME.value()) / "prefect.db"
    if not url.startswith("sqlite") or ":memory:" in url or "///" not in url:
        return None
    return Path(url.split("///", 1)[1].split("?", 1)[0])


def _kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 1 << 30 else f"{n / (1 << 30):,.1f} GiB"


def prefect_database_problem() -> str | None:
    """Why the temporary server's SQLite database cannot grow, or None: its folder is not writable,
    its disk has less than :data:`PREFECT_DB_ROOM` free, or the process's file-size limit
    (``ulimit -f``, RLIMIT_FSIZE; the server inherits it) leaves it less room than that."""
    import resource
    import shutil

    db = prefect_database()
    if db is None:
        return None
    folder = db.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    size = db.stat().st_size if db.is_file() else 0
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    fix = (
        "free disk space there, or set PREFECT_HOME to a folder on another disk (or PREFECT_API_URL to a running "
        "Prefect server)"
    )
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable (permission denied or a read-only disk): {fix}"
    if free is not None and free < PREFECT_DB_ROOM:
        return (
            f"its disk has {_kib(free)} free (ews needs {PREFECT_DB_ROOM >> 20} MiB there for the run's records): "
            + fix
        )
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY and soft < size + PREFECT_DB_ROOM:
        return (
            f"the file-size limit of this process (ulimit -f: {_kib(soft)}) leaves it no room to grow (it holds "
            f"{_kib(size)}; ews needs {PREFECT_DB_ROOM >> 20} MiB more): raise the limit (ulimit -f unlimited), "
            "or set PREFECT_API_URL to a Prefect server started without it"
        )
    return None


_SQLALCHEMY_WRAPPED = re.compile(r"^sqlalchemy\.exc\.\w+: \((\w+(?:\.\w+)*)\) (.*)$")


def _server_said() -> str:
    """The temporary server's last error line (an exception's last line), or ''."""
    lines = list(_server_output or ())
    for line in reversed(lines):
        text = line.strip()
        if (
            text
            and not text.startswith(("File ", "^", "(Background", "Traceback", "The above"))
            and ("Error" in text or "error" in text or "full" in text)
        ):
            if ": " in text and not text.startswith(("sqlite3", "sqlalchemy", "OSError", "PermissionError")):
                text = text.split(" - ", 1)[-1]
            # SQLAlchemy's wrapper of a driver error is read as the driver's own line: the server prints
            # the driver's first and the wrapper last, and which of them ews has read when the run
            # stops depends on timing (a CI run at low load read only the first)
            text = _SQLALCHEMY_WRAPPED.sub(r"\1: \2", text)
            return text[:200]
    return ""


def startup_failure(error: str, said: str, waited: float) -> str:
    """One line for a temporary server that did not start: Prefect's error (its first line), the
    server's last error line when it printed one, and the two ways out. A busy machine (session 32:
    load 12-16 on 2 cores, several runs sharing one ``PREFECT_HOME``) can take longer than the wait
    to start it, so the line says how long ews waited and how to wait longer."""
    return (
        f"the temporary Prefect API server did not start within {waited:g} s ({error.splitlines()[0]}"
        + (f"; the server said: {said}" if said else "")
        + "); on a busy machine wait longer with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=600, or start"
        " a server with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
    )


def is_prefect_api_failure(exc: BaseException) -> bool:
    """True for a Prefect API that failed under a run: an HTTP 5xx answer or no answer at all
    (the temporary server gone)."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def prefect_failure(exc: BaseException, outcome: str) -> str:
    """One line for a Prefect API failure during a run (HTTP 5xx, the server gone): what failed, the
    server's last error, ``outcome`` (what the run left: "nothing was published for ..."), the cause
    when ews can tell it (:func:`prefect_database_problem`) and the fix. Prefect's own complaints
    about the logs it can no longer send are silenced from here on (the process is ending)."""
    import re

    from prefect.settings import PREFECT_API_URL

    logging.raiseExceptions = False  # Prefect's log worker: "--- Error logging to API ---" at exit
    status = getattr(getattr(exc, "response", None), "status_code", None)
    try:
        request = getattr(exc, "request", None)
    except RuntimeError:  # an httpx error without its request
        request = None
    what = f"HTTP {status}" if status else type(exc).__name__
    if request is not None:
        path = re.sub(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", request.url.path
        )
        what += f" on {request.method} {path}"
    if PREFECT_API_URL.value():
        return (
            f"the Prefect API at {PREFECT_API_URL.value()} failed during the run ({what}); {outcome}. See that "
            "server's log, then run again"
        )
    said = _server_said()
    db = prefect_database()
    problem = prefect_database_problem()
    where = f"its database {db}" if db is not None else "its database"
    return (
        f"the temporary Prefect API server failed during the run ({what}"
        + (f"; the server said: {said}" if said else "")
        + f"); {outcome}. "
        + (
            f"Cause: {where}: {problem}"
            if problem
            else f"Likely cause: {where} could not be written (a full disk?): free disk space there or set "
            "PREFECT_HOME to a folder on another disk, then run again"
        )
    )


def _capture_server_output(popen: Callable[..., Any]) -> Callable[..., Any]:
    """``Popen`` for the temporary server with its output read by a thread of ews into memory (the
    last :data:`SERVER_LINES` lines): its tracebacks (HTTP 500 from a database that cannot be
    written) no longer reach the user's terminal, and a failure's message can quote its last error.
    A pipe, not a file: it works on a full disk and under a file-size limit."""
    import collections
    import subprocess
    import threading

    global _server_output
    _server_output = lines = collections.deque(maxlen=SERVER_LINES)

    def start(*args: Any, **kwargs: Any) -> Any:
        proc = popen(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
        pipe = proc.stdout
        proc.stdout = None  # Prefect's start-up error reads it to its end: the thread reads it instead

        def drain() -> None:
            for raw in iter(pipe.readline, b""):
                lines.append(raw.decode("utf-8", "replace").rstrip())
            pipe.close()

        threading.Thread(target=drain, name="prefect-server-output", daemon=True).start()
        return proc

    return start


def _death_signal_preexec(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when ``parent`` dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    return partial(die_with_parent, parent)


def die_with_parent(parent: int) -> None:
    """Called in a child process: the kernel sends it SIGTERM when ``parent`` (the thread that
    started it) ends, however it ends (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing is done).
    Exits at once when ``parent`` is gone already. The temporary Prefect server gets it before its
    ``exec``, the local engine's worker processes (:class:`pipelines.engine.LocalPool`) at start-up:
    without it a ``kill -9`` of ``ews score`` left them computing their debtor bucket with parent 1."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


SERVER_BANNERS = ("Starting temporary server on ", "Stopping temporary server on ")


class _DropServerBanner(logging.Filter):
    """Drops Prefect's start and stop lines of the temporary server that ews manages itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and str(record.msg).startswith(SERVER_BANNERS))


_BANNER_FILTER = _DropServerBanner()


def ensure_prefect_api() -> None:
    """Make sure the flows of this process talk to a Prefect API that cannot outlive it.

    Uses ``PREFECT_API_URL`` when it is set (a shared server or Cloud) and does nothing else then.
    Call it from the main thread: the parent-death signal follows the thread that started the child.
    """
    from prefect.server.api import server as srv
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    )

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    server = srv.SubprocessASGIServer()  # the instance Prefect's clients use when no URL is set
    if server.running:
        return
    problem = prefect_database_problem()
    if problem is not None:
        raise PrefectUnavailableError(
            f"the temporary Prefect API server cannot keep its records: its database {prefect_database()}: "
            f"{problem}; nothing was run"
        )
    # The server's telemetry heartbeat writes to the fresh SQLite database while it is being
    # migrated on a first run ("database is locked" with a traceback); ews never phones home anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # on the "prefect" logger itself (Prefect's get_logger()): the records its children log, flow and
    # task runs included, pass through its handlers, not its filters
    logging.getLogger("prefect").addFilter(_BANNER_FILTER)
    preexec = _death_signal_preexec(os.getpid())
    real = srv.subprocess
    # Prefect's module calls subprocess.Popen(...) to start uvicorn; add the preexec_fn and the
    # output capture to it only. Its own session: a Ctrl-C in the terminal (SIGINT to the whole
    # foreground group) stopped the server before ews had stopped what still talks to it, and
    # `ews serve`'s runner printed tracebacks ("Service exceeded error threshold"); ews stops it
    # after its runs (atexit), and the parent-death signal still ends it with ews.
    popen = real.Popen if preexec is None else partial(real.Popen, preexec_fn=preexec, start_new_session=True)
    srv.subprocess = SimpleNamespace(**{**vars(real), "Popen": _capture_server_output(popen)})
    waited = max(STARTUP_TIMEOUT_S, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    try:
        # start() registers server.stop with atexit: it runs after Prefect has sent the run logs
        server.start(timeout=waited)
    except RuntimeError as exc:
        server.stop()
        raise PrefectUnavailableError(startup_failure(str(exc), _server_said(), waited)) from None
    finally:
        srv.subprocess = real


BLAS_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def quiet_mlflow_info() -> None:
    """MLflow's own INFO lines stay off an ews command's console, unless ``MLFLOW_LOGGING_LEVEL`` is set:
    the first `ews train` of a new project printed "2026/12/06 09:59:56 INFO mlflow.store.db.utils:
    Creating initial MLflow database tables..." and "Updating database tables" in MLflow's own format
    beside ews's lines (session 32 walk). Its warnings and errors still show."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def pin_numeric_threads() -> int:
    """One BLAS thread in this process (``threadpoolctl``) and in the worker processes it starts
    (the BLAS libraries' variables, set even when the caller set them: the figures must not depend
    on them). On the same book, ``ews train`` under ``OPENBLAS_NUM_THREADS`` 1 and 2 chose the same
    model, but 267 of 4,408 roll-rate fold PDs differed by up to 4e-17. Returns
    :func:`blas_threads`. Call it before the work starts (:func:`pipelines.cli.main` does)."""
    from threadpoolctl import threadpool_limits

    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    threadpool_limits(limits=1, user_api="blas")  # kept: not used as a context manager
    return blas_threads()


@contextmanager
def one_blas_thread() -> Iterator[int]:
    """:func:`pin_numeric_threads` for the length of a block, for the product's Python entry points
    (``run_train``, ``run_train_paydate``, the nightly flow and its ``run``), which a notebook or a
    scheduler may call without the command line: one BLAS thread in this process (``threadpoolctl``)
    and in the worker processes started inside the block (the BLAS libraries' variables); both put
    back as the caller had them afterwards. Yields :func:`blas_threads` (1), for the run's record.
    OpenMP (LightGBM) is pinned by ``lgbm.n_jobs`` (1 in ``conf/train.yaml``), not here."""
    from threadpoolctl import threadpool_limits

    saved = {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}
    os.environ.update({name: "1" for name in BLAS_THREAD_VARIABLES})
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield blas_threads()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def blas_threads() -> int:
    """The threads of the BLAS libraries loaded in this process (the largest; 0 when none is)."""
    from threadpoolctl import threadpool_info

    return max((int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"), default=0)


class _DropUserTraceback(logging.Filter):
    def __init__(self, kinds: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.kinds = kinds

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and isinstance(exc, self.kinds):
            record.exc_info = None  # the message itself names the exception
            record.exc_text = None
            record.ews_user_error = exc  # for said_once: the command prints it as its own "error:" line
        return True


_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


@contextmanager
def quiet_user_errors(kinds: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Within the block, Prefect logs exceptions of ``kinds`` as one line, without the traceback."""
    filt = _DropUserTraceback(kinds)
    loggers: list[Any] = [logging.getLogger(name) for name in _LOGGERS]
    for logger in loggers:
        logger.addFilter(filt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(filt)


# A flow-run log record that a command prints again in its own summary: ``logger.warning(text,
# extra=SAID_IN_SUMMARY)``. Within :func:`said_once` the console leaves it out (the summary says it);
# Prefect's API log (its UI, `ews serve`'s runs) and a flow called from Python keep it.
SAID_IN_SUMMARY = {"ews_said_in_summary": True}
# A step's seconds and memory (``pipelines.flows.nightly.StepMeter``): in the API log and manifest.json
# (``timings_s``); within ``said_once(step_times=False)`` (`ews score` without --verbose) not on the console.
STEP_TIME = {"ews_step_time": True}


class _DropSaidInSummary(logging.Filter):
    def __init__(self, errors: tuple[type[BaseException], ...], step_times: bool = True) -> None:
        super().__init__()
        self.errors = errors
        self.step_times = step_times
        self.said: list[str] = []  # the user errors' texts already left out

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "ews_said_in_summary", False):
            return False
        if not self.step_times and getattr(record, "ews_step_time", False):
            return False
        exc = getattr(record, "ews_user_error", None)
        # what the command prints in full (it keeps the first line of a longer text of several lines)
        if (
            exc is not None
            and isinstance(exc, self.errors)
            and ("\n" not in str(exc) or len(str(exc)) <= 400)
        ):
            self.said.append(str(exc)[:200])
            return False
        # the task's and the flow's "Finished in state Failed('... encountered an exception ...: TEXT')"
        return not any(t and t in record.getMessage() for t in self.said)


@contextmanager
def said_once(errors: tuple[type[BaseException], ...] = (), step_times: bool = True) -> Iterator[None]:
    """Within the block, Prefect's console handler drops the records logged with
    :data:`SAID_IN_SUMMARY`: ``ews train`` printed its small-book and short-history warnings twice,
    in the flow-run log and again in the summary under the metrics table (session 31). With
    ``errors``, the kinds of user error the command prints itself as one ``error:`` line (within
    :func:`quiet_user_errors`), it drops the run log's copies of that error too: a book too short to
    train showed its 1,400-character refusal four times (the task's error, its failed state, the
    flow's error, then the command's line). ``step_times`` False: the steps' seconds
    (:data:`STEP_TIME`) are left out too (`ews score` without --verbose: 16 lines every night)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    filt = _DropSaidInSummary(errors, step_times)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    for handler in handlers:
        handler.addFilter(filt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(filt)
