"""The ``ews`` command line.

Each module in ``pipelines/commands`` defines ``register(app)`` and adds its own commands, so
that commands can be added without touching this file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

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
    "watchlist accept-log": (
        'ews watchlist accept-log --reason "restored the 9 Jan backup: line 3 was forged" --out data/runs',
    ),
    "backtest": (
        "ews backtest --data data/synth --from 2025-01-31 --to 2025-09-30 --out data/backtest",
        "ews backtest --data data/synth --from 2025-01-31 --to 2025-09-30 --out data/backtest --model 3",
        "ews backtest --data data/synth --from 2025-01-31 --to 2025-09-30 --out data/backtest --refit-every 3",
    ),
    "config check": ("ews config check", "ews config check conf/nightly.yaml"),
    "config expectations": ("ews config expectations",),
    "demo": ("ews demo",),
}


# What an option's value is, in --help (typer 0.29 printed <bool> beside every flag, <str>, <path>,
# <int range>, <list[str]>): flags show nothing, a date option DATE, else the value's kind in words.
_KINDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}
_DATE_OPTIONS = frozenset({"--as-of", "--from", "--to", "--until", "--start"})
_NEW_LINE = re.compile(r"\s|[-*] |\d+\. ")  # an indented line (an example) or a list item keeps its line


class _PlainArgument(TyperArgument):
    """An argument shown by its name alone (``DEBTOR``), without typer's ``<str>`` beside it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:  # typer wrote a required argument as {debtor}
        return super()._usage_display_name().replace("{", "").replace("}", "")


def _plain_param(param: Any) -> None:
    """Give a parameter the help label above (once: a label already set is kept)."""
    if isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = param.name.upper()
        param.__class__ = _PlainArgument
    elif param.metavar is None:
        if param.is_flag:
            param.metavar = ""
        elif _DATE_OPTIONS.intersection(param.opts):
            param.metavar = "DATE"
        else:
            kind = param.bare_type()
            many = kind.startswith("list[")
            param.metavar = _KINDS.get(kind.removeprefix("list[").removesuffix("]"), "TEXT") + (
                "..." if many else ""
            )


def _reflow(text: str | None) -> str | None:
    """Join a docstring's wrapped lines, so that --help wraps them at the terminal's width (typer's rich
    mode keeps every line break after the first paragraph: at 80 columns a 95-character source line
    became a line and a stub). Blank lines, indented lines and list items stay as they are."""
    if not text:
        return text
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.split("\n"):
            if lines and not _NEW_LINE.match(line) and not _NEW_LINE.match(lines[-1]):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


class _PlainHelp:
    """--help without typer's type labels, its text wrapped to the terminal (commands and groups)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            _plain_param(param)
        return params


def _plain(cls: Any, default: type) -> type:
    """``cls`` (a command's own class, else typer's ``default``) with :class:`_PlainHelp` mixed in."""
    cls = cls if isinstance(cls, type) else default
    return cls if issubclass(cls, _PlainHelp) else type(cls.__name__, (_PlainHelp, cls), {})


class _WorkflowOrder(_PlainHelp, TyperGroup):
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
        "  ews init myproject && cd myproject   (writes conf/; says what to edit)\n\n"
        "  ews ingest --invoices inv.csv --payments pay.csv --out data/ingested\n\n"
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


def _example(line: str, width: int = 76) -> str:
    """An example as the epilog shows it: indented, cut before an option into lines ending in `` \\``
    so that it is copied whole from an 80-column terminal (rich wrapped it at any space)."""
    lines = ["  " + line]
    if len(lines[0]) > width:
        parts = re.split(r" (?=--)", line)
        lines = ["  " + parts[0]]
        for part in parts[1:]:
            if len(lines[-1]) + 1 + len(part) + 2 <= width:
                lines[-1] += " " + part
            else:
                lines[-1] += " \\"
                lines.append("      " + part)
    return "\n".join(lines)


def _run_in_project(typer_app: typer.Typer, prefix: str = "") -> None:
    """Every command runs inside the project folder and shows its examples under its help."""
    for info in typer_app.registered_commands:
        info.callback = in_project(info.callback, _project_root)
        info.cls = _plain(info.cls, TyperCommand)
        examples = EXAMPLES.get(f"{prefix}{_command_name(info)}")
        if examples:
            info.epilog = "Examples:\n\n" + "\n\n".join(_example(line) for line in examples)
    for group in typer_app.registered_groups:
        name = f"{prefix}{group.name} "
        group.cls = _plain(group.cls, TyperGroup)
        examples = [line for key, lines in EXAMPLES.items() if key.startswith(name) for line in lines]
        group.epilog = "Examples:\n\n" + "\n\n".join(_example(line) for line in examples)
        _run_in_project(group.typer_instance, name)


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)
_run_in_project(app)


def main() -> None:
    """Console entry point: user-facing errors become one red line and exit code 2.

    Heavy libraries (pandas, MLflow, Prefect, LightGBM) are imported inside the commands that use
    them, so that ``ews --help`` and the list commands answer quickly.
    """
    from pipelines.runtime import keep_freed_memory, pin_numeric_threads, quiet_mlflow_info

    keep_freed_memory()
    pin_numeric_threads()
    quiet_mlflow_info()
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
