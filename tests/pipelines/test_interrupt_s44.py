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
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def sigint_as_a_terminal_sends_it():
    """Python's own SIGINT handler for the test (pytest started as a shell's background job inherits SIGINT
    ignored, and the os.kill of a test would be ignored too; s44-review), put back after."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


AGAIN = "the same command again trains on the same data from the start and reaches the same verdicts"


def _quiet_train(monkeypatch, tmp_path: Path) -> Path:
    """`ews train`'s checks stood in for (the data folder is not read): only where Ctrl-C lands matters."""
    from pipelines.commands import train as train_command

    for check in ("check_data_dir", "check_payments", "check_engine", "check_train_config"):
        monkeypatch.setattr(train_command, check, lambda *a, **k: None)
    return tmp_path


def test_ctrl_c_between_the_two_flows_of_ews_train_says_what_was_registered(
    prefect_harness, monkeypatch, tmp_path: Path
) -> None:
    """The PD model's flow done (ews-pd v1 registered and champion), Ctrl-C while its figures are printed,
    before the payment-date flow: exit 130 and what was registered. 92c9def: exit 130 without a word."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands import train as train_command
    from pipelines.flows import train as train_flow

    _quiet_train(monkeypatch, tmp_path)
    states = iter(
        [
            {"ews-pd": (None, None), "ews-paydate": (None, None)},
            {"ews-pd": (1, "1"), "ews-paydate": (None, None)},
        ]
    )
    monkeypatch.setattr(train_command, "registry_state", lambda config: next(states))
    monkeypatch.setattr(train_flow, "run_train", lambda *a, **k: type("Result", (), {"kind": "rollrate"})())

    def printing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "print_rollrate", printing)
    monkeypatch.setattr(
        train_command, "train_paydate_step", lambda *a, **k: pytest.fail("the second flow ran")
    )
    done = CliRunner().invoke(app, ["train", "--data", str(tmp_path)])
    assert done.exit_code == 130, done.output
    assert " ".join(done.output.strip().splitlines()[-1].split()) == (
        f"interrupted: ews-pd v1 was registered (now champion) before the interrupt; {AGAIN}"
    )


def test_ctrl_c_that_an_import_turned_into_another_error_before_training_is_the_interrupt(
    prefect_harness, sigint_as_a_terminal_sends_it, monkeypatch, tmp_path: Path
) -> None:
    """Ctrl-C while `ews train` imported its flows (before flow_runtime): pydantic's serializer turned the
    KeyboardInterrupt into "PydanticSerializationError: Error calling function `_ser_model`: KeyboardInterrupt"
    (a ValueError, its chain lost), and ews printed its traceback, exit 1 (s44-flake: 2 of 16 runs
    interrupted 2-4 s after the start). Now exit 130, nothing registered."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands import train as train_command

    _quiet_train(monkeypatch, tmp_path)

    def importing(config):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # Python raises KeyboardInterrupt at once; the sleep only if it did not
        except KeyboardInterrupt:
            pass
        raise ValueError("Error calling function `_ser_model`: KeyboardInterrupt: ")

    monkeypatch.setattr(train_command, "check_train_config", importing)
    done = CliRunner().invoke(app, ["train", "--data", str(tmp_path)])
    assert done.exit_code == 130, (done.output, done.exception)
    assert " ".join(done.output.strip().splitlines()[-1].split()) == (
        f"interrupted: no model version was registered (training had not started); {AGAIN}"
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_while_ews_score_prints_its_summary_says_the_run_was_published(
    prefect_harness, monkeypatch, tmp_path: Path
) -> None:
    """The run published (OUTDIR/2025-06-30 links to its folder), Ctrl-C while the summary is printed: exit
    130 and that the run was published. 92c9def: exit 130 without a word."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands import score

    for check in ("check_data_dir", "check_engine", "_check_out_dir", "_check_book", "_check_as_of"):
        monkeypatch.setattr(score, check, lambda *a, **k: None)
    monkeypatch.setattr(score, "_check_registry", lambda *a, **k: False)
    out = tmp_path / "runs"
    out.mkdir()

    def published(day, *args, **kwargs):
        (out / day.isoformat()).symlink_to(".versions/2025-06-30.1")
        return "result"

    def summary(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(score, "_run_one", published)
    monkeypatch.setattr(score, "_summary", summary)
    done = CliRunner().invoke(
        app, ["score", "--data", str(tmp_path), "--as-of", "2025-06-30", "--out", str(out)]
    )
    assert done.exit_code == 130, (done.output, done.exception)
    assert " ".join(done.output.strip().splitlines()[-1].split()) == (
        f"interrupted: the run for 2025-06-30 was published ({out / '2025-06-30'}) before the interrupt; the same "
        "command again publishes the same result"
    )


def _ctrl_c(flow, flow_run, state) -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # Python raises KeyboardInterrupt at once; the sleep only if it did not


def test_ctrl_c_that_prefect_drops_once_the_flow_returned_still_stops_the_command(
    prefect_harness, sigint_as_a_terminal_sends_it, capsys
) -> None:
    """Prefect's flow engine drops a KeyboardInterrupt that lands after the flow's own code returned
    ("BaseException was raised after user code finished executing"): here in a real flow's completion
    hook. s44-flake: `ews train` interrupted 0.5 s after "registered ews-pd" trained the payment-date model
    and exited 0. Now the SIGINT recorded stops the command when the flow returns. 92c9def: the flow
    returned 1 and the command went on."""
    import typer
    from prefect import flow

    from pipelines.commands.score import flow_runtime

    @flow(on_completion=[_ctrl_c])
    def finished() -> int:
        return 1

    with pytest.raises(typer.Exit) as ended:
        with flow_runtime(interrupted=lambda: "nothing was registered; run it again"):
            assert finished() == 1  # the flow returned: Prefect dropped the interrupt
    assert ended.value.exit_code == 130
    said = ["interrupted:", "nothing", "was", "registered;", "run", "it", "again"]
    assert capsys.readouterr().err.split()[-7:] == said
