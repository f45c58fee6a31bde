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
from typer.core import TyperGroup

from pipelines import commands
from pipelines.config import ConfigError
from pipelines.project_dir import ProjectNotFoundError, find_project, in_project

# `ews --help` lists the commands in the order of the work: data in, features, model, nightly, upkeep.
WORKFLOW = (
    "init",
    "generate",
    "sources",
    "ingest",
    "features",
    "train",
    "models",
    "score",
    "backfill",
    "serve",
    "watchlist",
    "backtest",
    "config",
    "demo",
)

# One or more examples per command (`ews COMMAND --help` shows them); tests/pipelines/test_cli.py parses
# every example against the command's options, so they stay valid.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("ews init ~/ews-acme",),
    "generate": ("ews generate --debtors 2000 --months 24 --seed 7 --out data/generated",),
    "sources suggest": ("ews sources suggest exports/ar_open_items.csv --out conf/sources/erp.yaml",),
    "ingest": (
        "ews ingest --invoices exports/invoices.csv --payments exports/payments.csv --out data/ingested",
        "ews ingest --source conf/sources/example_ar_export.yaml --out data/ingested --as-of 2024-06-30",
    ),
    "features": (
        "ews features --data data/ingested --as-of 2024-01..2024-06 --out data/features.parquet --labels",
    ),
    "train": (
        "ews train --data data/ingested --config conf/train.yaml",
        "ews train --data data/ingested --engine dask",
    ),
    "models list": ("ews models list",),
    "models history": ("ews models history --name ews-pd",),
    "models champion-on": ("ews models champion-on 2026-03-31",),
    "models promote": ('ews models promote 3 --reason "challenger reviewed by the credit committee"',),
    "score": (
        "ews score --data data/ingested --as-of 2025-12-30 --out data/runs",
        "ews score --data data/ingested --as-of 2025-12-30 --scheduler tcp://dask-scheduler:8786",
    ),
    "backfill": ("ews backfill --data data/ingested --from 2025-12-01 --to 2025-12-31 --freq weekly",),
    "serve": ("ews serve --dry-run",),
    "watchlist override": (
        'ews watchlist override D00042 --status cleared --reason "paid in full on 3 March" --by anna',
    ),
    "watchlist history": ("ews watchlist history D00042 --out data/runs",),
    "backtest": (
        "ews backtest --data data/synth --from 2025-01-31 --to 2025-09-30 --out data/backtest",
        "ews backtest --data data/synth --from 2025-01-31 --to 2025-09-30 --out data/backtest --model 3",
    ),
    "config check": ("ews config check", "ews config check conf/nightly.yaml"),
    "config expectations": ("ews config expectations",),
    "demo": ("ews demo",),
}


class _WorkflowOrder(TyperGroup):
    """Lists commands in :data:`WORKFLOW` order (unknown ones last, by name)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(WORKFLOW)}
        return sorted(super().list_commands(ctx), key=lambda name: (rank.get(name, len(rank)), name))


app = typer.Typer(
    cls=_WorkflowOrder,
    name="ews",
    help=(
        "ews: early-warning system for B2B receivables and credit portfolios.\n\n"
        "Ingest payment histories, build point-in-time features, train and calibrate PD models "
        "(MLflow), score the portfolio nightly and export the watchlist and collections queue."
    ),
    epilog=(
        "A first run, in workflow order:\n\n"
        "  ews init myproject && cd myproject   (writes a starter conf/; says what to edit)\n\n"
        "  ews ingest --invoices invoices.csv --payments payments.csv --out data/ingested\n\n"
        "  ews train --data data/ingested\n\n"
        "  ews score --data data/ingested --as-of 2025-12-30\n\n"
        "Or all of it on a sample book: ews demo"
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


def _command_name(info: typer.models.CommandInfo) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def _run_in_project(typer_app: typer.Typer, prefix: str = "") -> None:
    """Every command runs inside the project folder and shows its examples under its help."""
    for info in typer_app.registered_commands:
        info.callback = in_project(info.callback, _project_root)
        examples = EXAMPLES.get(f"{prefix}{_command_name(info)}")
        if examples:
            info.epilog = "Examples:\n\n" + "\n\n".join(f"  {line}" for line in examples)
    for group in typer_app.registered_groups:
        name = f"{prefix}{group.name} "
        examples = [line for key, lines in EXAMPLES.items() if key.startswith(name) for line in lines]
        group.epilog = "Examples:\n\n" + "\n\n".join(f"  {line}" for line in examples)
        _run_in_project(group.typer_instance, name)


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)
_run_in_project(app)


def main() -> None:
    """Console entry point: user-facing errors become one red line and exit code 2.

    Heavy libraries (pandas, MLflow, Prefect, LightGBM) are imported inside the commands that use
    them, so that ``ews --help`` and the list commands answer quickly.
    """
    from pipelines.runtime import keep_freed_memory, pin_numeric_threads

    keep_freed_memory()
    pin_numeric_threads()
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
    except (OSError, RuntimeError) as exc:  # a path given by the user that no file can have
        if not _path_error(exc):
            raise
        from pipelines.sources.read import path_problem

        name = getattr(exc, "filename", None) or str(exc).removeprefix("Symlink loop from ").strip("'")
        typer.secho(f"error: {name}: {path_problem(exc)}", fg=typer.colors.RED, err=True)
        sys.exit(2)


def _path_error(exc: BaseException) -> bool:
    """A symlink loop or a name too long: the path typed is wrong (Python 3.11's pathlib raises
    RuntimeError("Symlink loop from ...") where 3.13 raises OSError ELOOP)."""
    import errno

    if isinstance(exc, RuntimeError):
        return str(exc).startswith("Symlink loop from")
    return getattr(exc, "errno", None) in (errno.ELOOP, errno.ENAMETOOLONG)


if __name__ == "__main__":
    main()
