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
* :func:`quiet_user_errors`: Prefect logs every exception that ends a task or flow run with its
  traceback. For user errors (bad config, unusable feed, unsafe output folder...) the command line
  prints one line instead, so the flow-run log keeps the message and drops the traceback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace
from typing import Any

__all__ = ["PrefectUnavailableError", "ensure_prefect_api", "quiet_user_errors"]

_PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 120  # Prefect's default (20 s) is too short for a first start on a busy machine


class PrefectUnavailableError(RuntimeError):
    """The temporary Prefect API server did not come up. The message says what to do."""


def _death_signal_preexec(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when ``parent`` dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


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
    # The server's telemetry heartbeat writes to the fresh SQLite database while it is being
    # migrated on a first run ("database is locked" with a traceback); ews never phones home anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    preexec = _death_signal_preexec(os.getpid())
    real = srv.subprocess
    if preexec is not None:
        # Prefect's module calls subprocess.Popen(...) to start uvicorn; add the preexec_fn to it only.
        srv.subprocess = SimpleNamespace(**{**vars(real), "Popen": partial(real.Popen, preexec_fn=preexec)})
    try:
        # start() registers server.stop with atexit: it runs after Prefect has sent the run logs
        server.start(timeout=max(STARTUP_TIMEOUT_S, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    except RuntimeError as exc:
        server.stop()
        raise PrefectUnavailableError(
            f"the temporary Prefect API server did not start ({str(exc).splitlines()[0]}); "
            "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        ) from None
    finally:
        srv.subprocess = real


class _DropUserTraceback(logging.Filter):
    def __init__(self, kinds: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.kinds = kinds

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and isinstance(exc, self.kinds):
            record.exc_info = None  # the message itself names the exception
            record.exc_text = None
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
