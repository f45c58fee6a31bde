"""Loading a scorecard must not print cvxpy's broken-optional-solver message to the user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_optbinning_import_after_models_prints_nothing() -> None:
    # the order of an unpickled scorecard version: models.* classes first, then optbinning's
    code = "import models.calibrate, optbinning, cvxpy.settings as s; s.LOGGER.warning('importing solver X'); s.LOGGER.warning('kept')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "importing solver" not in done.stderr
    assert "kept" in done.stderr  # other cvxpy warnings still reach the log
