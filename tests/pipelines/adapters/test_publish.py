"""Atomic publication: lock per date, swap by rename, and a run killed mid-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from pipelines.adapters.publish import RunLockedError, latest_before, publish, run_lock, staging_dir

ROOT = Path(__file__).resolve().parents[3]
DAY = date(2024, 6, 30)


def write_run(out: Path, text: str, day: date = DAY) -> Path:
    with run_lock(out, day):
        stage = staging_dir(out, day)
        (stage / "scores.parquet").write_text(text)
        (stage / "manifest.json").write_text("{}")
        return publish(stage, out, day)


def test_publish_replaces_previous_version_and_cleans_up(tmp_path) -> None:
    first = write_run(tmp_path, "v1")
    assert (first / "scores.parquet").read_text() == "v1"
    second = write_run(tmp_path, "v2")
    assert second == tmp_path / "2024-06-30"
    assert (second / "scores.parquet").read_text() == "v2"
    assert len(list((tmp_path / ".versions").iterdir())) == 1  # the old version is gone
    assert not list((tmp_path / ".staging").iterdir())


def test_lock_stops_a_second_run_for_the_same_date(tmp_path) -> None:
    with run_lock(tmp_path, DAY):
        with pytest.raises(
            RunLockedError, match=f"another nightly run for 2024-06-30 is in progress \\(pid {os.getpid()}"
        ):
            with run_lock(tmp_path, DAY):
                pass
        with run_lock(tmp_path, date(2024, 7, 1)):  # another date is fine
            pass
    with run_lock(tmp_path, DAY):  # released
        pass


def test_latest_before_ignores_incomplete_and_later_runs(tmp_path) -> None:
    write_run(tmp_path, "a", date(2024, 6, 28))
    write_run(tmp_path, "b", date(2024, 7, 2))
    (tmp_path / "2024-06-29").mkdir()  # no scores.parquet: not a complete run
    assert latest_before(tmp_path, DAY) == tmp_path / "2024-06-28"
    assert latest_before(tmp_path, date(2024, 6, 28)) is None


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from pathlib import Path
    from pipelines.adapters.publish import publish, run_lock, staging_dir

    out = Path(sys.argv[1]); day = date(2024, 6, 30)
    with run_lock(out, day):
        stage = staging_dir(out, day)
        (stage / "scores.parquet").write_text("half-written new run")
        (out / "READY").write_text(str(stage))   # tell the test we are mid-way
        time.sleep(60)                             # killed here
        (stage / "manifest.json").write_text("{}")
        publish(stage, out, day)
    """
)


def test_run_killed_mid_way_leaves_previous_outputs_intact(tmp_path) -> None:
    previous = write_run(tmp_path, "previous complete run")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "READY").exists():
            assert proc.poll() is None, "writer exited early"
            assert time.monotonic() < deadline, "writer never got mid-way"
            time.sleep(0.05)
        # while it runs, the date is locked for anyone else
        with pytest.raises(RunLockedError):
            with run_lock(tmp_path, DAY):
                pass
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (previous / "scores.parquet").read_text() == "previous complete run"
    assert (previous / "manifest.json").exists()
    assert Path((tmp_path / "READY").read_text()).exists()  # the half-written staging folder is left
    # the next run takes the lock (released by the kernel), cleans the leftovers and publishes
    rerun = write_run(tmp_path, "rerun")
    assert (rerun / "scores.parquet").read_text() == "rerun"
    assert not Path((tmp_path / "READY").read_text()).exists()
