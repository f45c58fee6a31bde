"""Ctrl-C at the moments test_interrupt_s41 does not choose (s44-flake: SIGINT sent to `ews train` at 0-20 s
after its start and after each of its log lines; BENCHMARKS.md "Session 44 (s44-flake)").

A KeyboardInterrupt raised inside ``exec()`` / ``eval()`` of a string (dataclasses and namedtuple build
their methods so while a module is imported) is marked by CPython as unhandled even when ews handles it:
`python -m pipelines.cli train` (as test_interrupt_s41 runs it) said "interrupted: ..." and asked for exit
130, and the interpreter then ended itself by SIGINT (returncode -2; the `ews` script, whose SystemExit ends
the process at once, exited 130). test_interrupt_s41's `assert rc == 130` failed so whenever its Ctrl-C
landed in an import. Fails on main 92c9def (returncode -2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a command as ews's are: a typer app, its flows inside flow_runtime. Its first Ctrl-C imports what
# reporting one takes (an exec of a string that completes, as a dataclass built on import, resets the
# mark); the second lands while a string is being executed, as in a dataclass being built
COMMAND = """
import typer
from pipelines.commands.score import flow_runtime

app = typer.Typer()


@app.command()
def train() -> None:
    try:
        with flow_runtime(interrupted=lambda: "nothing was registered; run it again"):
            raise KeyboardInterrupt
    except typer.Exit:
        pass
    with flow_runtime(interrupted=lambda: "nothing was registered; run it again"):
        exec("raise KeyboardInterrupt")


app()
"""


def _run_module(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    """``code`` run as ``python -m`` runs a module, as the tests run ews (``python -m pipelines.cli``): a
    script's SystemExit ends the process at once, a module's is checked against the mark afterwards."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # the session's API: flow_runtime starts no server of its own
    env.update(PYTHONPATH=str(ROOT), PREFECT_API_URL=PREFECT_API_URL.value(), COLUMNS="300")
    (tmp_path / "command_s44.py").write_text(code)
    return subprocess.run(
        [sys.executable, "-m", "command_s44"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ctrl_c_inside_an_exec_of_a_string_still_exits_130(prefect_harness, tmp_path: Path) -> None:
    done = _run_module(tmp_path, COMMAND)
    assert done.returncode == 130, (done.returncode, done.stderr[-3000:])  # -2 on 92c9def
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.splitlines() == ["interrupted: nothing was registered; run it again"] * 2
