"""The ``ews`` command line.

Each module in ``pipelines/commands`` defines ``register(app)`` and adds its own commands, so
that commands can be added without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import typer

from pipelines import commands
from pipelines.config import ConfigError
from pipelines.project_dir import ProjectNotFoundError, find_project, in_project

app = typer.Typer(
    name="ews",
    help=(
        "ews: early-warning system for B2B receivables and credit portfolios.\n\n"
        "Ingest payment histories, build point-in-time features, train and calibrate PD models "
        "(MLflow), score the portfolio nightly and export the watchlist and collections queue."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_PROJECT: dict[str, Path | None] = {}  # set for each invocation by the callback below


@app.callback()
def _project(
    project: Path | None = typer.Option(
        None,
        "--project",
        help=(
            "the ews project folder (the one holding conf/ews.yaml). Default: $EWS_PROJECT, else the "
            "first folder with conf/ews.yaml from the current directory upwards. Config defaults and the "
            "paths inside configs are relative to it; paths you type stay relative to where you are."
        ),
    ),
) -> None:
    try:
        _PROJECT["root"] = find_project(project)
    except ProjectNotFoundError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _project_root() -> Path | None:
    return _PROJECT.get("root")


def _run_in_project(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        info.callback = in_project(info.callback, _project_root)
    for group in typer_app.registered_groups:
        _run_in_project(group.typer_instance)


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)
_run_in_project(app)


def main() -> None:
    """Console entry point: user-facing errors become one red line and exit code 2.

    Heavy libraries (pandas, MLflow, Prefect, LightGBM) are imported inside the commands that use
    them, so that ``ews --help`` and the list commands answer quickly.
    """
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"config error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except (
        ConnectionError
    ) as exc:  # pipelines.adapters.registry.TrackingUnavailableError: MLflow does not answer
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
