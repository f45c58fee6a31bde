"""CLI command groups; each module defines ``register(app: typer.Typer)``."""

from __future__ import annotations

import datetime as dt
from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """End a command on a user error: ``error: MESSAGE`` in red on stderr, exit ``code`` (2 by
    default), no traceback (the exception being handled, if any, is not chained)."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code) from None


def parse_date(value: str, option: str) -> dt.date:
    """The ISO date given to ``option``; a clear error (exit 2) otherwise."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2024-06-30")


def after_today(dates: list[dt.date]) -> tuple[dt.date, list[dt.date]]:
    """(today in UTC, the ``dates`` after it): a date one day ahead is allowed, for the time zones
    east of UTC where that day has begun."""
    today = dt.datetime.now(dt.UTC).date()
    return today, [d for d in dates if d > today + dt.timedelta(days=1)]
