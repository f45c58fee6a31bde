"""Ctrl-C during a command that runs flows, session 41 (s41-rolling; BENCHMARKS.md "Session 41
(s41-rolling)"). s40-attack stopped `ews score` with SIGINT: exit 130, no traceback, nothing published,
no Prefect server left, but the user read only Prefect's "Crash detected! Execution was aborted by an
interrupt signal." Now ews says in one sentence what happened: what was and was not published or
registered, and that the same command again gives the same result. The subprocess test fails on main
aa34baa (no "interrupted:" line)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.commands import train as train_command
from pipelines.commands.score import interrupted_run

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_ctrl_c_during_ews_train_says_what_happened_and_exits_130(tmp_path: Path) -> None:
    """`ews train` in its own process group with its temporary Prefect server, as a user runs it in a
    terminal; Ctrl-C (SIGINT to the group, as a terminal sends it) once the flow run began. Exit 130,
    the last line "interrupted: no model version was registered and no champion changed; the same
    command again trains on the same data from the start and reaches the same verdicts", no traceback,
    the registry still without ews-pd, the server process ended."""
    from pipelines.adapters.registry_view import read_versions

    project = tmp_path / "acme"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    raw = project / "raw"
    gen = ["generate", "--debtors", "60", "--months", "24", "--seed", "3643", "--out", str(raw)]
    assert runner.invoke(app, gen).exit_code == 0
    inputs = [f"--{t}={raw / f'{t}.parquet'}" for t in ("invoices", "payments", "debtors", "events")]
    ingest = runner.invoke(app, ["ingest", *inputs, "--no-docs", "--out", str(project / "data" / "ingested")])
    assert ingest.exit_code == 0, ingest.output
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL" and not k.startswith("MLFLOW_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600",
        PYTHONPATH=str(ROOT),
        COLUMNS="300",
    )
    log = tmp_path / "train.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "train", "--data", "data/ingested"],
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # a shell's background job ignores SIGINT, and a child inherits that: a terminal's does not
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 900
        while b"Beginning flow run" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        servers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert rc == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    last = " ".join(text.strip().splitlines()[-1].split())
    assert last == (
        "interrupted: no model version was registered and no champion changed; the same command again "
        "trains on the same data from the start and reaches the same verdicts"
    ), text[-3000:]
    assert read_versions("ews-pd", f"sqlite:///{project / 'data' / 'mlflow' / 'mlflow.db'}") is None
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_alive(p) for p in servers)


def test_what_an_interrupted_score_says_follows_the_published_link(tmp_path: Path) -> None:
    """`OUTDIR/<as_of>` is a link to the published folder: the same link as when the command started
    (or none) means nothing was published; another one, the run was published before the interrupt."""
    day = dt.date(2025, 6, 30)
    target = tmp_path / "2025-06-30"
    said = interrupted_run(tmp_path, day, None)
    assert said == (
        f"nothing was published for 2025-06-30 ({target} does not exist); the same command again gives "
        "the same result"
    )
    target.symlink_to(".v1")
    assert interrupted_run(tmp_path, day, ".v1") == (
        f"nothing was published for 2025-06-30 ({target} is as it was); the same command again gives "
        "the same result"
    )
    assert interrupted_run(tmp_path, day, None) == (
        f"the run for 2025-06-30 was published ({target}) before the interrupt; the same command again "
        "publishes the same result"
    )


def test_what_an_interrupted_training_says_follows_the_registry(monkeypatch, tmp_path: Path) -> None:
    """Before: ews-pd v3 champion, ews-paydate v2 champion. Now ews-pd v4 registered and promoted,
    ews-paydate v3 registered, its gate not passed (or not reached): both named; nothing new: the
    champions named; a store not read: `ews models history`."""
    before = {"ews-pd": (3, "3"), "ews-paydate": (2, "2")}
    now = {"ews-pd": (4, "4"), "ews-paydate": (3, "2")}
    monkeypatch.setattr(train_command, "registry_state", lambda config: now)
    again = "the same command again trains on the same data from the start and reaches the same verdicts"
    assert train_command.interrupted_training(tmp_path, before) == (
        "ews-pd v4 was registered (now champion); ews-paydate v3 was registered (the champion unchanged) "
        f"before the interrupt; {again}"
    )
    monkeypatch.setattr(train_command, "registry_state", lambda config: before)
    assert train_command.interrupted_training(tmp_path, before) == (
        f"no model version was registered and no champion changed (champions ews-pd v3, ews-paydate v2); {again}"
    )
    assert train_command.interrupted_training(tmp_path, None) == (
        f"see `ews models history` for what was registered before it; {again}"
    )
