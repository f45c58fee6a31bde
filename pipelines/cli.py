"""The ``ews`` command line.

Each module in ``pipelines/commands`` defines ``register(app)`` and adds its own commands, so
that commands can be added without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from pipelines import commands
from pipelines.config import ConfigError

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

for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main() -> None:
    """Console entry point: user-facing errors become one red line and exit code 2."""
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"config error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
