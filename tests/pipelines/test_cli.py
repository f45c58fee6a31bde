"""The command line's habits: workflow order, an example in every --help that parses, lazy imports."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from pipelines.cli import EXAMPLES, WORKFLOW, app
from tests.conftest import seed_mlflow_db

ROOT = Path(__file__).resolve().parents[2]


def _leaves(group: TyperGroup, prefix: str = "") -> dict[str, object]:
    found: dict[str, object] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, TyperGroup):
            found.update(_leaves(cmd, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = cmd
    return found


def _parse(argv: list[str]) -> str:
    """Parse ``argv`` like the shell would run it, without running the command; returns its path."""
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("ews", argv)
    path = []
    while isinstance(cmd, TyperGroup):
        name, cmd, rest = cmd.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        path.append(name)
        ctx = cmd.make_context(name, rest, parent=ctx)
    return " ".join(path)


def test_every_command_has_an_example_and_every_example_names_a_command() -> None:
    leaves = _leaves(typer.main.get_command(app))
    missing = sorted(set(leaves) - set(EXAMPLES))
    assert not missing, f"add an example for {missing} to EXAMPLES in pipelines/cli.py"
    assert not set(EXAMPLES) - set(leaves), "EXAMPLES names a command that does not exist"


@pytest.mark.parametrize("example", [(k, line) for k, lines in sorted(EXAMPLES.items()) for line in lines])
def test_example_parses_against_the_command_options(example: tuple[str, str]) -> None:
    command, line = example
    argv = shlex.split(line)
    assert argv[0] == "ews"
    assert _parse(argv[1:]) == command


def test_a_wrong_option_in_an_example_would_fail_to_parse() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["models", "list", "--config", "conf/ews.yaml"])


def test_commands_are_listed_in_workflow_order() -> None:
    group = typer.main.get_command(app)
    listed = group.list_commands(typer.Context(group))
    assert listed[:5] == ["init", "generate", "sources", "ingest", "features"]
    assert [c for c in listed if c in WORKFLOW] == [c for c in WORKFLOW if c in listed]
    assert listed.index("train") < listed.index("models") < listed.index("score") < listed.index("backfill")


def test_help_and_list_commands_import_no_heavy_library(tmp_path: Path, mlflow_template: Path) -> None:
    """`ews --help`, command registration and `ews models list|history` on the local SQLite store load
    no pandas, MLflow, Prefect, LightGBM or GX."""
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from pipelines.cli import app\n"
        "for args in (['--help'], ['models', 'list', '--help'], ['score', '--help'], ['models', 'list'],\n"
        "             ['models', 'history']):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, args\n"
        "assert 'champion' in CliRunner().invoke(app, ['models', 'list']).output\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    from mlflow.tracking import MlflowClient

    uri = seed_mlflow_db(mlflow_template, tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # a real store with one version
    client.create_registered_model("ews-pd")
    version = client.create_model_version("ews-pd", str(tmp_path / "model"), run_id=None)
    client.set_registered_model_alias("ews-pd", "champion", version.version)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    heavy = {"pandas", "mlflow", "prefect", "lightgbm", "great_expectations", "sklearn", "shap"}
    assert not heavy & loaded


def test_config_options_mean_one_thing_everywhere() -> None:
    """`--project-config` is always the project config; `--config` always the command's own config."""
    seen = {"--config": set(), "--project-config": set()}
    for path, cmd in _leaves(typer.main.get_command(app)).items():
        for param in cmd.params:
            for flag in seen.keys() & set(param.opts):
                seen[flag].add(str(param.default))
                assert (str(param.default) == "conf/ews.yaml") == (flag == "--project-config"), (path, flag)
    assert seen["--project-config"] == {"conf/ews.yaml"}
    assert seen["--config"] >= {"conf/train.yaml", "conf/nightly.yaml"}
