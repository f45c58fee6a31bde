"""Nothing outside the output folder is ever touched, and write failures end with one line (issue 10).

The symlink and ingest-over-input cases run the real ``ews`` command line in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.adapters.exports import write_csv, write_xlsx
from pipelines.adapters.files import FILE_MODE, OutputError, write_bytes_atomic, write_parquet_atomic
from pipelines.adapters.publish import (
    UnsafeOutputError,
    check_out_dir,
    latest_before,
    publish,
    run_lock,
    staging_dir,
)
from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests" / "data" / "ingest" / "base"
DAY = dt.date(2024, 6, 30)


def ews(*args: str, cwd: Path = ROOT, preexec=None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real ``ews`` command line (this checkout's code) in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
    )


def one_line_error(done: subprocess.CompletedProcess | object, needle: str) -> None:
    output = getattr(done, "stderr", "") + getattr(done, "stdout", "")
    assert done.returncode == 2 if hasattr(done, "returncode") else done.exit_code == 2, output
    assert "Traceback" not in output, output
    assert needle in output, output


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("invoices.csv", "payments.csv", "debtors.csv", "events.csv"):
        shutil.copy(BASE / name, folder / name)
    return folder


def ingest_args(inputs: Path, out: Path) -> list[str]:
    return [
        "ingest",
        "--invoices",
        str(inputs / "invoices.csv"),
        "--payments",
        str(inputs / "payments.csv"),
        "--as-of",
        DAY.isoformat(),
        "--no-docs",
        "--out",
        str(out),
    ]


# ------------------------------------------------------------------ nightly run folders


def test_score_refuses_a_run_folder_that_links_outside_outdir(tmp_path: Path) -> None:
    """Today: `OUTDIR/<as_of>` -> another folder was deleted by the run, with exit 0."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    out = tmp_path / "runs"
    out.mkdir()
    (out / DAY.isoformat()).symlink_to(victim)
    done = ews("score", "--data", str(BASE), "--raw", "--as-of", DAY.isoformat(), "--out", str(out))
    one_line_error(done, "that ews did not make")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert (out / DAY.isoformat()).is_symlink()


def published(out: Path, day: dt.date = DAY, text: str = "run") -> Path:
    with run_lock(out, day):
        stage = staging_dir(out, day)
        (stage / "scores.parquet").write_text(text)
        (stage / "manifest.json").write_text("{}")
        return publish(stage, out, day)


def test_link_planted_while_a_run_works_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    out = tmp_path / "runs"
    with pytest.raises(UnsafeOutputError, match="did not make"), run_lock(out, DAY):
        stage = staging_dir(out, DAY)
        (stage / "scores.parquet").write_text("x")
        (out / DAY.isoformat()).symlink_to(victim)  # after the start-of-run check
        publish(stage, out, DAY)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not list((out / ".staging").iterdir())  # the failed run's staging folder is gone


@pytest.mark.parametrize("hidden", [".staging", ".versions", ".locks"])
def test_hidden_folders_that_are_links_are_refused(tmp_path: Path, hidden: str) -> None:
    """Attack: `.staging -> elsewhere` made the cleanup delete `elsewhere/<as_of>.*`."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / f"{DAY.isoformat()}.abc").mkdir()
    out = tmp_path / "runs"
    out.mkdir()
    (out / hidden).symlink_to(victim)
    with pytest.raises(UnsafeOutputError, match="symlink"):
        published(out)
    assert (victim / f"{DAY.isoformat()}.abc").is_dir()


def test_run_folder_that_is_not_an_ews_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    (out / DAY.isoformat()).mkdir(parents=True)
    (out / DAY.isoformat() / "notes.txt").write_text("mine")
    with pytest.raises(UnsafeOutputError, match="not an ews run"):
        check_out_dir(out, DAY)
    (out / "2024-07-01").write_text("a file")
    with pytest.raises(UnsafeOutputError, match="is a file"):
        check_out_dir(out, dt.date(2024, 7, 1))
    file_out = tmp_path / "file"
    file_out.write_text("x")
    with pytest.raises(UnsafeOutputError, match="is a file, not a folder"):
        check_out_dir(file_out, DAY)


def test_version_link_to_outside_is_refused(tmp_path: Path) -> None:
    """Attack: the published link has ews's shape but its version folder is itself a link out."""
    out = tmp_path / "runs"
    published(out)
    link = out / DAY.isoformat()
    version = out / os.readlink(link)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    shutil.rmtree(version)
    version.symlink_to(victim)
    with pytest.raises(UnsafeOutputError):
        published(out, text="second")
    assert (victim / "precious.txt").read_text() == "keep me"


def test_outdir_that_is_a_symlink_works_inside_its_target(tmp_path: Path) -> None:
    """OUTDIR itself may be a link (e.g. to a bigger disk); everything stays inside the target."""
    disk = tmp_path / "disk"
    disk.mkdir()
    out = tmp_path / "runs"
    out.symlink_to(disk)
    published(out, text="one")
    published(out, text="two")  # replaces the first version
    assert (out / DAY.isoformat() / "scores.parquet").read_text() == "two"
    assert len(list((disk / ".versions").iterdir())) == 1
    assert latest_before(out, dt.date(2024, 7, 1)) == out / DAY.isoformat()


def test_foreign_dated_link_is_not_read_as_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    published(out)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    (elsewhere / "scores.parquet").write_text("not ours")
    (out / "2024-06-29").symlink_to(elsewhere)
    (out / "2024-07-01").symlink_to(elsewhere)
    assert latest_before(out, dt.date(2024, 7, 2)) == out / DAY.isoformat()


@pytest.mark.parametrize("as_of", ["../x", "2024-06-30/../../x", "2024-13-01"])
def test_as_of_path_traversal_is_refused(tmp_path: Path, as_of: str) -> None:
    result = CliRunner().invoke(
        app, ["score", "--data", str(BASE), "--raw", "--as-of", as_of, "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2 and "is not a date" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "runs").exists()


def test_outdir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "runs"
    target.write_text("x")
    result = CliRunner().invoke(
        app, ["score", "--data", str(BASE), "--raw", "--as-of", DAY.isoformat(), "--out", str(target)]
    )
    one_line_error(result, "is a file, not a folder")


# ------------------------------------------------------------------ ingest output folders


def test_ingest_refuses_out_equal_to_input_folder(tmp_path: Path) -> None:
    """Today: `--out` = the input folder deleted debtors/events and overwrote invoices."""
    inputs = copy_inputs(tmp_path / "in")
    write_parquet_atomic(pd.DataFrame({"debtor_id": ["D1"]}), inputs / "debtors.parquet")
    before = tree_digest(inputs)
    done = ews(*ingest_args(inputs, inputs))
    one_line_error(done, "holds the input")
    assert tree_digest(inputs) == before
    # out containing the inputs' folder is refused the same way
    done = ews(*ingest_args(inputs, tmp_path))
    one_line_error(done, "holds the input")
    assert tree_digest(inputs) == before


def test_ingest_into_a_folder_inside_the_input_folder_works(tmp_path: Path) -> None:
    inputs = copy_inputs(tmp_path / "in")
    before = tree_digest(inputs)
    result = CliRunner().invoke(app, ingest_args(inputs, inputs / "ingested"))
    assert result.exit_code == 0, result.output
    assert (inputs / "ingested" / "invoices" / "bucket=0" / "part-0.parquet").is_file()
    assert {k: v for k, v in tree_digest(inputs).items() if not k.startswith("ingested")} == before
    assert not list((inputs / "ingested").glob(".staging-*"))


def test_ingest_keeps_files_it_did_not_write(tmp_path: Path) -> None:
    """Attack: `--out` at a folder holding someone's debtors.parquet and a quarantine link."""
    inputs = copy_inputs(tmp_path / "in")
    out = tmp_path / "shared"
    out.mkdir()
    (out / "debtors.parquet").write_bytes(b"someone else's file")
    result = CliRunner().invoke(app, ingest_args(inputs, out))
    assert result.exit_code == 0, result.output
    assert (out / "debtors.parquet").read_bytes() == b"someone else's file"
    # a rerun with debtors removes only what the previous ingest itself wrote
    args = ingest_args(inputs, out)
    args[1:1] = ["--debtors", str(inputs / "debtors.csv")]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (out / "quarantine" / "debtors.csv").is_file()
    assert CliRunner().invoke(app, ingest_args(inputs, out)).exit_code == 0
    assert (out / "debtors.parquet").read_bytes() == b"someone else's file"  # never ews's
    assert not (out / "debtors" / "bucket=0" / "part-0.parquet").exists()
    assert not (out / "quarantine" / "debtors.csv").exists()

    victim = tmp_path / "victim"
    victim.mkdir()
    shutil.rmtree(out / "quarantine")
    (out / "quarantine").symlink_to(victim)
    result = CliRunner().invoke(app, ingest_args(inputs, out))
    one_line_error(result, "ews never writes through it")
    assert list(victim.iterdir()) == []


def test_ingest_out_is_a_file_or_under_a_file(tmp_path: Path) -> None:
    inputs = copy_inputs(tmp_path / "in")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    one_line_error(CliRunner().invoke(app, ingest_args(inputs, blocker)), "is a file, not a folder")
    one_line_error(CliRunner().invoke(app, ingest_args(inputs, blocker / "sub")), "is a file, not a folder")
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; not testable as root")
def test_ingest_out_read_only_folder(tmp_path: Path) -> None:
    inputs = copy_inputs(tmp_path / "in")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line_error(CliRunner().invoke(app, ingest_args(inputs, ro / "out")), "not writable")
    finally:
        ro.chmod(0o755)


def _file_size_limit() -> None:
    """In the child: files may not grow past 2 kB (EFBIG), like a disk that fills up mid-run."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))


def test_ingest_disk_full_midway_keeps_previous_outputs(tmp_path: Path) -> None:
    """A write that fails mid-way (file-size limit: EFBIG, the closest to ENOSPC without root)
    gives one line, leaves the previous outputs as they were and removes the staging folder."""
    inputs = copy_inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ingest_args(inputs, out)).exit_code == 0
    before = tree_digest(out)
    big = pd.read_csv(inputs / "invoices.csv")
    big = pd.concat([big] * 400, ignore_index=True)
    big["invoice_id"] = [f"I{i}" for i in range(len(big))]
    big.to_csv(inputs / "invoices.csv", index=False)  # its parquet output exceeds the limit
    done = ews(*ingest_args(inputs, out), preexec=_file_size_limit)
    one_line_error(done, "cannot write")
    assert tree_digest(out) == before
    assert not list(out.glob(".staging-*"))


def test_one_file_mode_for_every_output(tmp_path: Path) -> None:
    """Ingest outputs were 0600 and nightly exports 0644; now all get FILE_MODE (0644 - umask)."""
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "=y"]})
    paths = [
        write_parquet_atomic(frame, tmp_path / "a.parquet"),
        write_bytes_atomic(b"x", tmp_path / "b.bin"),
        write_csv(frame, tmp_path / "c.csv"),
        write_xlsx(frame, tmp_path / "d.xlsx"),
    ]
    inputs = copy_inputs(tmp_path / "in")
    assert CliRunner().invoke(app, ingest_args(inputs, tmp_path / "out")).exit_code == 0
    paths += [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert FILE_MODE == 0o644 & ~os.umask(os.umask(0))
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in paths} == {oct(FILE_MODE)}


def test_output_error_is_a_user_error() -> None:
    assert issubclass(OutputError, ValueError) and issubclass(UnsafeOutputError, OutputError)


def _can_mount_privately() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_privately(), reason="needs root and unshare to mount a tiny tmpfs")
def test_ingest_onto_a_full_disk_is_one_line(tmp_path: Path) -> None:
    """A real ENOSPC: `ews ingest` onto a 24 kB tmpfs mounted in a private mount namespace (it
    disappears with the process). Exit 2, one line, no staging folder left."""
    inputs = copy_inputs(tmp_path / "in")
    big = pd.read_csv(inputs / "invoices.csv")
    big = pd.concat([big] * 3000, ignore_index=True)
    big["invoice_id"] = [f"I{i}" for i in range(len(big))]
    big.to_csv(inputs / "invoices.csv", index=False)
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    cmd = " ".join([sys.executable, "-m", "pipelines.cli", *ingest_args(inputs, out)])
    script = f"mount -t tmpfs -o size=24k tmpfs {disk} && {cmd}; rc=$?; ls -A {out}; exit $rc"
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    one_line_error(done, "No space left on device")
    assert ".staging-" not in done.stdout  # `ls -A OUT` inside the namespace lists nothing left


def test_nightly_write_failure_is_an_output_error_and_cleans_staging(tmp_path: Path) -> None:
    """A write that fails inside a run (here a folder in the way of an export) raises OutputError
    (one line for the CLI), and the lock removes the run's staging folder; the published run stays."""
    out = tmp_path / "runs"
    published(out, text="previous")
    with pytest.raises(OutputError, match="cannot write"), run_lock(out, DAY):
        stage = staging_dir(out, DAY)
        (stage / "watchlist.csv").mkdir()
        write_csv(pd.DataFrame({"a": [1]}), stage / "watchlist.csv")
    assert not list((out / ".staging").iterdir())
    assert (out / DAY.isoformat() / "scores.parquet").read_text() == "previous"
