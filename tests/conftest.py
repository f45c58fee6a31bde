"""Shared fixtures: one Prefect test harness per session, MLflow pointed at tmp_path.

Test-suite speed (issue 12: the suite stays under 5 minutes on the 2-core CI box):

* ``mlflow_uri`` copies an empty MLflow database built once per run (:func:`seed_mlflow_db`)
  instead of letting MLflow create and migrate a new one in every test (~1.6 CPU-s each).
* The heaviest test files are collected first (:data:`HEAVY_FILES`) and xdist keeps that order
  (``--dist loadfile`` otherwise queues the files by their number of tests, so the few long
  end-to-end files started last and one worker idled while the other finished them).
* Under xdist, ONE Prefect API server serves every worker (:class:`SharedPrefectServer`): the
  controller starts it in ``pytest_configure``, hands its URL to the workers through
  ``workerinput`` and stops it in ``pytest_unconfigure``; it dies with the controller even when
  pytest is killed (``PR_SET_PDEATHSIG``). Without xdist, ``prefect_harness`` starts Prefect's own
  test harness when a test first asks for it, as before.
"""

from __future__ import annotations

import fcntl
import importlib.util
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Seconds per file, summed over its tests (`pytest -n 2 --dist loadfile`, main 31fa2c5 with s19-suite's
# commits, load 6.4-8.3, BENCHMARKS.md "Session 19 (s19-suite)"). Only the order matters: heaviest first.
# Files not listed keep their collection order after these, so a new file that takes more than ~5 s
# belongs here: listed too late, a 40 s file started last on one worker while the other idled (s18:
# test_train_rollrate_challenge, 40 s of idle).
HEAVY_FILES = {
    "tests/pipelines/test_nightly_flow.py": 98,
    "tests/pipelines/test_train_flow.py": 58,
    "tests/pipelines/test_train_rollrate_challenge.py": 40,
    "tests/pipelines/test_runtime.py": 39,
    "tests/pipelines/test_notebooks.py": 28,
    "tests/pipelines/test_ingest_corpus.py": 23,
    "tests/models/test_challenger.py": 22,
    "tests/models/test_train.py": 22,
    "tests/pipelines/adapters/test_registry.py": 20,
    "tests/pipelines/test_hostile_s4.py": 19,
    "tests/pipelines/test_ingest_stream.py": 19,
    "tests/pipelines/test_output_safety.py": 16,
    "tests/pipelines/test_backtest_refit.py": 15,
    "tests/pipelines/test_ingest.py": 15,
    "tests/pipelines/test_train_rollrate_silent.py": 15,
    "tests/pipelines/test_train_small_book.py": 14,
    "tests/pipelines/test_train_rollrate.py": 12,
    "tests/pipelines/test_synthetic.py": 11,
    "tests/models/test_paydate.py": 10,
    "tests/pipelines/test_ingest_numbers.py": 10,
    "tests/pipelines/test_report.py": 7,
    "tests/pipelines/test_train_cli.py": 7,
    "tests/pipelines/test_hostile_s10.py": 6,
    "tests/pipelines/test_hostile_s11.py": 6,
    "tests/pipelines/test_hostile_s18.py": 6,
    "tests/pipelines/test_nightly_cli.py": 6,
    "tests/test_layout.py": 6,
    "tests/features/test_point_in_time.py": 5,
    "tests/pipelines/test_hostile_s15.py": 5,
    "tests/pipelines/test_hostile_s17.py": 5,
    "tests/pipelines/test_ingest_buckets.py": 5,
    "tests/pipelines/test_project_dir.py": 5,
    "tests/models/test_treewalk.py": 4,
    "tests/pipelines/test_hostile_s8.py": 4,
    "tests/pipelines/test_paydate_nightly.py": 4,
    "tests/pipelines/test_synthetic_regimes.py": 4,
    "tests/pipelines/test_hostile_s16.py": 3,
}


PREFECT_URL_KEY = "ews_prefect_api_url"  # workerinput keys: the shared server's API URL and pid
PREFECT_PID_KEY = "ews_prefect_pid"
STARTUP_TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"  # the one ews commands read


def prefect_startup_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds to wait for the Prefect test server: 120, or longer when the environment asks
    (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=600`` on a busy box, as for ews commands)."""
    try:
        asked = float(environ.get(STARTUP_TIMEOUT_VARIABLE, "") or 0)
    except ValueError:
        asked = 0.0
    return max(120.0, asked)


PREFECT_STARTUP_TIMEOUT = prefect_startup_timeout()


def _die_with_parent() -> None:  # runs in the child between fork and exec (Linux)
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SharedPrefectServer:
    """A Prefect API server on a temporary SQLite database, started (not waited for) by the xdist
    controller and shared by its workers: the same command Prefect's ``prefect_test_harness``
    runs, once per run instead of once per worker (its start-up and idle loop cost ~10 CPU-s)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ews-test-prefect-"))
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            "PREFECT_HOME": str(self.folder / "home"),
            # the telemetry heartbeat writes to the fresh database during its migration ("database is
            # locked" at start-up under load, session 32); ews's own server turns it off too
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.folder / 'prefect.db'}",
        }
        env.pop("PREFECT_API_URL", None)
        self.log = open(self.folder / "server.log", "wb")  # noqa: SIM115 -- closed in stop()
        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.origin is not None, "prefect is not installed"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parents[1])]
            + ["--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _uses_prefect(config: pytest.Config) -> bool:
    """Whether any test file or conftest under the run's arguments asks for ``prefect_harness``
    (a plain text scan, a few ms). A wrong "no" only costs speed: workers then start their own."""
    for arg in config.args or [str(ROOT / "tests")]:
        path = Path(arg.split("::", 1)[0])
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        files = path.rglob("*.py") if path.is_dir() else [path] if path.suffix == ".py" else []
        if any("prefect_harness" in f.read_text(errors="ignore") for f in files if f.name != "conftest.py"):
            return True
    return False


CLI_COLUMNS = "400"
"""The terminal width at which every ``CliRunner`` invocation renders the CLI's rich output (s39-audit).
Outside a terminal rich takes ``COLUMNS``, else 80; at 80 it folded a long tmp path inside the word, so
a test that joins the output's words (``" ".join(output.split())``) saw the path cut in two and failed
on a CI machine whose pytest tmp folder was longer (CI38a: /tmp/pytest-of-root/pytest-1035/popen-gw1/).
A test that sets its own width (``invoke(..., env={"COLUMNS": "80"})``, ``CliRunner(env=...)``,
``monkeypatch.setenv("COLUMNS", ...)``) keeps it; the caller's shell's COLUMNS is not read."""

_click_make_env = CliRunner.make_env


def _wide_make_env(
    self: CliRunner, overrides: Mapping[str, str | None] | None = None
) -> Mapping[str, str | None]:
    env = dict(_click_make_env(self, overrides))
    if "COLUMNS" not in env and "COLUMNS" not in os.environ:
        env["COLUMNS"] = CLI_COLUMNS
    return env


CliRunner.make_env = _wide_make_env  # every test's CliRunner: typer's (it no longer subclasses click's)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.pop("COLUMNS", None)  # a test's width never comes from the shell that runs pytest
    # xdist's --dist loadfile/loadscope reorders the files by number of tests unless told not to;
    # keep the order of pytest_collection_modifyitems below (heaviest first).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    xdist_controller = not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))
    if xdist_controller and not config.option.collectonly and _uses_prefect(config):
        config.stash[_PREFECT] = SharedPrefectServer()


_PREFECT = pytest.StashKey[SharedPrefectServer]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker where the shared Prefect server listens."""
    server = node.config.stash.get(_PREFECT, None)
    if server is not None:
        node.workerinput[PREFECT_URL_KEY] = server.api_url
        node.workerinput[PREFECT_PID_KEY] = server.process.pid


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_PREFECT, None)
    if server is not None:
        server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heaviest files first (stable: the tests of a file keep their order and stay together)."""
    items.sort(key=lambda item: -HEAVY_FILES.get(item.nodeid.split("::", 1)[0], 0))


def shared_path(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``name`` under a folder of this test run, built once by ``build(path)`` and shared by every
    xdist worker (the file-lock pattern pytest-xdist documents). Consumers must not change it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # pytest-of-USER/pytest-N: one per run, shared by its workers
    target = base / "shared" / name
    target.parent.mkdir(exist_ok=True)
    with open(target.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not target.exists():
            building = target.parent / f"{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            build(building)
            os.replace(building, target)
    return target


def _empty_mlflow_db(folder: Path) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}").search_experiments()  # creates + migrates


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty, migrated MLflow SQLite database: copy it, never open it."""
    return shared_path(tmp_path_factory, "mlflow-empty", _empty_mlflow_db) / "mlflow.db"


def seed_mlflow_db(template: Path, db: Path) -> str:
    """Put a copy of the empty ``template`` database at ``db``; returns its tracking URI. MLflow
    finds its tables there, as in a project that has trained before, instead of migrating a new file."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)
    return f"sqlite:///{db}"


def _wait_for_shared_server(url: str, pid: int) -> None:
    import httpx
    import psutil

    deadline = time.monotonic() + PREFECT_STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:  # an exited server stays a zombie until the controller reaps it at the end
            exited = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            exited = True
        if exited:
            pytest.fail(
                f"the shared Prefect test server (pid {pid}, {url}) exited during start-up", pytrace=False
            )
        time.sleep(0.1)
    pytest.fail(
        f"the shared Prefect test server at {url} did not answer within {PREFECT_STARTUP_TIMEOUT:.0f} s",
        pytrace=False,
    )


def reopen_prefect_console() -> int:
    """Point each Prefect console handler left on a closed stream at ``sys.stderr``; returns how many.

    Prefect binds its console handler to ``sys.stderr`` when its logging is first set up (the first
    ``import prefect``). When that first import is a test's in-process ``ews`` command (``ews train``
    imports its flow before it reads --config), ``sys.stderr`` is CliRunner's stream, closed when the
    command returns: every later record of the worker reaching that handler (a library's INFO or
    WARNING, Prefect's own) printed "--- Logging error --- Traceback ... ValueError: I/O operation on
    closed file" into the next command's output (s38-flake: 4-5 of test_hostile_s34's tests under
    ``-n 2`` after test_train_cli ran on the same worker)."""
    handlers_module = sys.modules.get("prefect.logging.handlers")
    if handlers_module is None:  # Prefect not imported in this process: nothing bound yet
        return 0
    import logging

    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    handlers = {
        id(h): h
        for lg in loggers
        if isinstance(lg, logging.Logger)
        for h in lg.handlers
        if isinstance(h, handlers_module.PrefectConsoleHandler) and getattr(h.stream, "closed", False)
    }
    for handler in handlers.values():
        handler.stream = handler.console.file = sys.stderr  # not setStream(): it flushes the closed one
    return len(handlers)


@pytest.fixture(autouse=True)
def _prefect_console_on_an_open_stream() -> None:
    """Before each test: :func:`reopen_prefect_console` (a few microseconds when Prefect is not loaded)."""
    reopen_prefect_console()


@pytest.fixture(scope="session")
def prefect_harness(request):
    """A temporary Prefect API for the whole session: under xdist the controller's shared server,
    otherwise Prefect's own test harness (starting one costs 5-10 s)."""
    workerinput = getattr(request.config, "workerinput", {})
    if PREFECT_URL_KEY not in workerinput:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=int(PREFECT_STARTUP_TIMEOUT)):
            yield
        return

    url = workerinput[PREFECT_URL_KEY]
    _wait_for_shared_server(url, workerinput[PREFECT_PID_KEY])
    # Prefect's console log handler takes sys.stderr when its logging is first set up (the first
    # `import prefect.main`); here that is the session's stream, as prefect_test_harness does. Left
    # to a test's first in-process `ews` command, it took CliRunner's stream, closed when the command
    # returned, and every later flow of the worker failed ("I/O operation on closed file").
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    # as prefect_test_harness does, also for contexts copied before the fixture ran
    with (
        temporary_settings(updates={PREFECT_API_URL: url}),
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield

        async def drain() -> None:  # send the buffered logs and events before the worker exits
            try:
                result = APILogWorker.instance().drain()
                if inspect.isawaitable(result):
                    await result
            except RuntimeError:  # never started
                pass
            result = EventsWorker.drain_all()
            if inspect.isawaitable(result):
                await result

        run_coro_as_sync(drain())


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch, mlflow_template) -> str:
    """MLflow on a throwaway SQLite file; restores the environment afterwards. MLflow's own
    process-wide store (its globals, set by an earlier test's in-process ``ews``) is this test's too:
    a test that runs ``ews`` in a child process and reads the result with ``MlflowClient()`` read
    another test's registry before (s23-determinism: ews-pd v1 "not found", or another test's model)."""
    import mlflow

    uri = seed_mlflow_db(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setenv("EWS_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


@pytest.fixture(scope="session")
def uci_path() -> Path:
    path = Path(os.environ.get("EWS_UCI_PATH", SHARED_DATA / "uci_credit_card.csv"))
    if not path.exists():
        pytest.skip(f"public UCI file not present at {path}")
    return path
