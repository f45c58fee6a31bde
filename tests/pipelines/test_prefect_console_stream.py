"""The test session's isolation from Prefect's console handler (s38-flake, ``tests/conftest.py``).

test_hostile_s34 failed 4-5 of its 10 tests in ``-n 2`` batches when test_train_cli had run before it on
the same worker, and passed alone: ``ews train --config MISSING`` in CliRunner was the worker's first
``import prefect``, which bound Prefect's console handler to CliRunner's stderr, closed when the command
returned; a later command's library log line (Great Expectations' INFO "Created temporary directory")
then printed "--- Logging error --- Traceback ... I/O operation on closed file" into its output.

Here the same two steps run in a pytest of their own (a fresh process, the repository's conftest as a
plugin, real Prefect): the second test fails without ``reopen_prefect_console``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TWO_TESTS = """
import logging
import sys

from typer.testing import CliRunner

from pipelines.cli import app


def test_an_in_process_command_is_the_first_import_of_prefect(tmp_path, monkeypatch):
    assert "prefect.main" not in sys.modules
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    result = CliRunner().invoke(app, ["train", "--data", "raw", "--raw", "--config", "none.yaml"])
    assert result.exit_code == 2 and "config file not found" in result.output, result.output
    assert "prefect.main" in sys.modules  # its logging was set up inside the runner


def test_a_later_command_logs_a_line_without_a_traceback():
    with CliRunner().isolation() as (stdout, stderr, _output):
        logging.getLogger("s38.library").warning("a library line")  # reaches Prefect's handler on root
        sys.stdout.flush()  # the runner's text streams buffer what they are given
        sys.stderr.flush()
        said = (stdout.getvalue() + stderr.getvalue()).decode()
    assert "Traceback" not in said and "Logging error" not in said, said
"""


def test_a_command_that_first_imports_prefect_leaves_no_closed_stream_to_later_tests(tmp_path: Path) -> None:
    (tmp_path / "test_two.py").write_text(TWO_TESTS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:xdist"]
        + ["-q", "-o", "addopts=", "test_two.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EWS_PROJECT": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    assert "2 passed" in said, said[-4000:]
