"""Shared fixtures: one Prefect test harness per session, MLflow pointed at tmp_path.

Test-suite speed (issue 12: the suite stays under 5 minutes on the 2-core CI box):

* ``mlflow_uri`` copies an empty MLflow database built once per run (:func:`seed_mlflow_db`)
  instead of letting MLflow create and migrate a new one in every test (~1.6 CPU-s each).
* The heaviest test files are collected first (:data:`HEAVY_FILES`) and xdist keeps that order
  (``--dist loadfile`` otherwise queues the files by their number of tests, so the few long
  end-to-end files started last and one worker idled while the other finished them).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Seconds per file, summed over its tests (quiet box, `pytest -n 2 --dist loadfile --durations=0`,
# BENCHMARKS.md "Session 6 (s6-suite)"). Only the order matters: heaviest first. Files not listed
# keep their collection order after these.
HEAVY_FILES = {
    "tests/pipelines/test_nightly_flow.py": 118,
    "tests/pipelines/test_train_flow.py": 46,
    "tests/pipelines/test_runtime.py": 41,
    "tests/pipelines/test_hostile_s4.py": 35,
    "tests/pipelines/test_ingest_corpus.py": 31,
    "tests/pipelines/adapters/test_registry.py": 23,
    "tests/pipelines/test_notebooks.py": 21,
    "tests/pipelines/test_train_rollrate.py": 20,
    "tests/pipelines/test_synthetic.py": 18,
    "tests/pipelines/test_output_safety.py": 15,
    "tests/models/test_challenger.py": 14,
    "tests/pipelines/test_ingest_stream.py": 13,
    "tests/pipelines/test_ingest.py": 13,
    "tests/pipelines/test_backtest_refit.py": 12,
    "tests/pipelines/test_ingest_numbers.py": 11,
    "tests/pipelines/test_train_small_book.py": 9,
    "tests/models/test_train.py": 9,
    "tests/pipelines/test_nightly_cli.py": 8,
    "tests/pipelines/test_report.py": 7,
    "tests/pipelines/test_project_dir.py": 7,
    "tests/pipelines/test_paydate_nightly.py": 6,
    "tests/test_layout.py": 5,
    "tests/pipelines/test_train_cli.py": 5,
    "tests/pipelines/test_synthetic_regimes.py": 5,
    "tests/pipelines/test_ingest_buckets.py": 5,
    "tests/features/test_point_in_time.py": 5,
}


def pytest_configure(config: pytest.Config) -> None:
    # xdist's --dist loadfile/loadscope reorders the files by number of tests unless told not to;
    # keep the order of pytest_collection_modifyitems below (heaviest first).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


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


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for the whole session (starting one costs 5-10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch, mlflow_template) -> str:
    """MLflow on a throwaway SQLite file; restores the environment afterwards."""
    uri = seed_mlflow_db(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("EWS_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    return uri


@pytest.fixture(scope="session")
def uci_path() -> Path:
    path = Path(os.environ.get("EWS_UCI_PATH", SHARED_DATA / "uci_credit_card.csv"))
    if not path.exists():
        pytest.skip(f"public UCI file not present at {path}")
    return path
