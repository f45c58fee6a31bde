"""A pip-installed ews (not a source checkout) finds its configuration.

Session 25 (s25-newuser): `pip install -c constraints.txt .` into a fresh venv, then `ews ingest` in a
project folder stopped with a traceback (FileNotFoundError: site-packages/conf/expectations/debtors.json):
the wheel shipped no conf/, so the Great Expectations suites and the starter configs were missing,
also after copying conf/ into the project by hand. The wheel now carries the repository's conf/ as
``pipelines/_conf`` (pyproject.toml), the suites are read from there, and `ews init DIR` writes the
starter conf/ into a project folder.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.commands.demo import SAMPLE_ARGS
from pipelines.commands.init import starter_files

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _shipped(rel: str) -> bool:
    """Does a package-data pattern of pipelines._conf ship conf/REL?"""
    return any(fnmatch.fnmatch(rel, pattern) for pattern in PYPROJECT["package-data"]["pipelines._conf"])


def test_pyproject_lists_every_package_and_ships_conf() -> None:
    listed = PYPROJECT["packages"]
    on_disk = find_packages(where=str(ROOT), include=["pipelines*", "features*", "models*"])
    assert sorted(p for p in listed if p != "pipelines._conf") == sorted(on_disk), (
        "a package was added or removed: update [tool.setuptools] packages in pyproject.toml"
    )
    assert "pipelines._conf" in listed and PYPROJECT["package-dir"] == {"pipelines._conf": "conf"}
    files = [p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*") if p.is_file()]
    assert "expectations/invoices.json" in files and "ews.yaml" in files
    assert [f for f in files if not _shipped(f)] == []


def _installed_layout(site: Path) -> None:
    """``site`` laid out as pip installs the wheel: the packages, conf/ as pipelines/_conf."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in ("features", "models", "pipelines"):
        shutil.copytree(ROOT / top, site / top, ignore=skip)
    for path in (ROOT / "conf").rglob("*"):
        rel = path.relative_to(ROOT / "conf").as_posix()
        if path.is_file() and _shipped(rel):
            (site / "pipelines" / "_conf" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, site / "pipelines" / "_conf" / rel)


INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount
I1,D1,2024-01-05,2024-02-04,1200
I2,D1,2024-02-05,2024-03-06,800
I3,D2,2024-01-10,2024-01-01,500
"""
PAYMENTS = """payment_id,debtor_id,invoice_id,paid_on,amount
P1,D1,I1,2024-02-01,1200
P2,D2,,2024-02-10,100
"""


def test_installed_ews_inits_a_project_and_ingests_outside_the_repository(tmp_path: Path) -> None:
    site, work = tmp_path / "site", tmp_path / "work"
    _installed_layout(site)
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"EWS_PROJECT", "PYTHONPATH"}}
    env["PYTHONPATH"] = str(site)

    def ews(*args: str, cwd: Path = work) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "pipelines.cli", *args]
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

    where = subprocess.run(
        [sys.executable, "-c", "import pipelines; print(pipelines.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip() == str(site / "pipelines" / "__init__.py")  # not the checkout

    done = ews("init", "acme")
    assert done.returncode == 0, done.stderr
    proj = work / "acme"
    for rel in ("conf/ews.yaml", "conf/train.yaml", "conf/nightly.yaml", "conf/credit.yaml"):
        assert (proj / rel).read_bytes() == (ROOT / rel).read_bytes()
    assert (proj / "conf/sources/README.md").read_bytes() == (ROOT / "conf/sources/README.md").read_bytes()
    assert "conf/ews.yaml: set currency.reporting" in done.stdout and "ews train --data" in done.stdout
    checked = ews("config", "check", cwd=proj)
    written = len(list(proj.glob("conf/**/*.yaml")))  # every config init wrote (11 before s25's 2 examples)
    assert written >= 11
    assert checked.returncode == 0 and checked.stdout.count("ok ") == written, checked.stdout + checked.stderr

    (proj / "in").mkdir()
    (proj / "in" / "invoices.csv").write_text(INVOICES)
    (proj / "in" / "payments.csv").write_text(PAYMENTS)
    args = ("--invoices", "in/invoices.csv", "--payments", "in/payments.csv", "--as-of", "2024-03-31")
    done = ews("ingest", *args, "--no-docs", "--out", "data/ingested", cwd=proj)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    tables = json.loads((proj / "data/ingested/manifest.json").read_text())["tables"]
    # I3 is due before its issue date: quarantined by the shipped invoices suite
    assert [tables["invoices"][k] for k in ("rows_in", "rows_accepted", "rows_quarantined")] == [3, 2, 1]
    assert [tables["payments"][k] for k in ("rows_in", "rows_accepted", "rows_quarantined")] == [2, 2, 0]

    done = ews("demo", "--out", "data/demo", cwd=proj)  # no data/sample: the built-in ledger, then how
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"ews generate {SAMPLE_ARGS} --out data/sample" in done.stdout


def test_init_refuses_an_existing_project_and_overwrites_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    proj = tmp_path / "proj"
    (proj / "conf").mkdir(parents=True)
    (proj / "conf" / "train.yaml").write_text("kind: train\n")
    done = runner.invoke(app, ["init", str(proj)])
    assert done.exit_code == 2
    assert "already has config files (conf/train.yaml exist); nothing was written" in done.output
    assert sorted(p.name for p in (proj / "conf").iterdir()) == ["train.yaml"]
    assert (proj / "conf" / "train.yaml").read_text() == "kind: train\n"

    fresh = tmp_path / "fresh"
    done = runner.invoke(app, ["init", str(fresh)])
    assert done.exit_code == 0, done.output
    assert sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file()) == sorted(
        starter_files()
    )
    done = runner.invoke(app, ["init", str(fresh)])
    assert (
        done.exit_code == 2
        and "is already an ews project (conf/ews.yaml exists); nothing was written" in done.output
    )

    (tmp_path / "file").write_text("x")
    done = runner.invoke(app, ["init", str(tmp_path / "file")])
    assert done.exit_code == 2 and "is a file, not a folder" in done.output


def test_the_demo_sample_command_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nsample:", 1)[1].split("\n\n", 1)[0]
    assert " ".join(recipe.replace("\\\n", " ").split()).endswith(f"generate {SAMPLE_ARGS} --out data/sample")
