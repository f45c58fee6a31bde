"""``ews score``, ``ews backfill`` and ``ews serve``: run or schedule the nightly flow."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

CONFIG_HELP = "nightly config (kind: nightly): bands, triggers, queue rules, drift limits, schedule."


def _user_errors() -> tuple[type[BaseException], ...]:
    from models.registry import NoChampionError
    from pipelines.flows.nightly import DataQualityError
    from pipelines.publish import RunLockedError
    from pipelines.scoring.score import IncompatibleModelError
    from pipelines.sources.read import TableError

    return (NoChampionError, IncompatibleModelError, DataQualityError, RunLockedError, TableError)


def _parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        typer.secho(
            f"error: {option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2024-06-30", fg="red", err=True
        )
        raise typer.Exit(2) from None


def _check_data_dir(data: Path) -> None:
    if not data.is_dir():
        typer.secho(
            f"error: --data {data} is not a folder; point it at canonical files (invoices.parquet, ...)",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)


def _run_one(as_of: dt.date, data: Path, out: Path, config: Path) -> Any:
    from pipelines.flows.nightly import nightly

    try:
        return nightly(as_of=as_of, config_path=config, data_dir=data, out_dir=out)
    except _user_errors() as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


def _summary(console: Console, result: Any) -> None:
    m = result.manifest
    c = m["counts"]
    table = Table(title=f"nightly {m['as_of']}  (model {m['model']['name']} v{m['model']['version']})")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for step, secs in m["timings_s"].items():
        table.add_row(step, f"{secs:.2f}")
    console.print(table)
    console.print(
        f"scored {c['scored']:,} debtors ({c['in_default']:,} in default); watchlist {c['flagged']:,} "
        f"{json.dumps(c['triggers'])}; queue {c['queue']:,} (expected loss {c['expected_loss']:,.0f}); "
        f"drift {m['drift']['status']}"
    )
    console.print(f"outputs: [bold]{result.path}[/]  (open {result.path / 'report.html'})")


def build_deployment(config: Path) -> Any:
    """The Prefect deployment of the nightly flow with the config's cron and time zone."""
    from prefect.schedules import Cron

    from pipelines.config import load_config
    from pipelines.config.nightly import Model as NightlyConfig
    from pipelines.flows.nightly import nightly

    cfg = load_config(config, expect=NightlyConfig)
    return nightly.to_deployment(
        name="nightly",
        schedules=[Cron(cfg.schedule.cron, timezone=cfg.schedule.timezone)],
        parameters={
            "config_path": str(config.resolve()),
            "data_dir": str(cfg.data_dir.resolve()),
            "out_dir": str(cfg.out_dir.resolve()),
        },
        description="Score the portfolio as of yesterday (schedule time zone) and publish OUTDIR/<as_of>/.",
        tags=["ews", "nightly"],
    )


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        data: Path = typer.Option(
            ..., "--data", help="data dir with canonical files (invoices, payments, ...)"
        ),
        as_of: str = typer.Option(..., "--as-of", help="score as of this date (YYYY-MM-DD)"),
        out: Path = typer.Option(
            Path("data/runs"), "--out", help="OUTDIR; the run is published as OUTDIR/<as_of>/"
        ),
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
    ) -> None:
        """Run the nightly flow once for one as-of date.

        Scores every debtor with the champion model, then publishes scores, watchlist (with SHAP reason codes), collections queue (CSV/XLSX/Parquet), report.html
        and manifest.json atomically into OUTDIR/<as_of>/. Exit 2 with a message when there is no
        champion, the features do not fit the model, the feed is unusable or the date is locked."""
        day = _parse_date(as_of, "--as-of")
        _check_data_dir(data)
        console = Console()
        with console.status(f"nightly flow for {day} ..."):
            result = _run_one(day, data, out, config)
        _summary(console, result)

    @app.command("backfill")
    def backfill(
        data: Path = typer.Option(..., "--data", help="data dir with canonical files"),
        start: str = typer.Option(..., "--from", help="first as-of date (YYYY-MM-DD)"),
        end: str = typer.Option(..., "--to", help="last as-of date (YYYY-MM-DD), inclusive"),
        out: Path = typer.Option(Path("data/runs"), "--out", help="OUTDIR; one folder per as-of date"),
        freq: str = typer.Option("daily", "--freq", help="daily | weekly | month-end"),
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
    ) -> None:
        """Run the nightly flow for every date from --from to --to.

        Dates run oldest first, so that each run's deltas compare with the one before. Reruns of a date replace it atomically."""
        d1, d2 = _parse_date(start, "--from"), _parse_date(end, "--to")
        if d2 < d1:
            typer.secho(f"error: --to {d2} is before --from {d1}", fg="red", err=True)
            raise typer.Exit(2)
        rule = {"daily": "D", "weekly": "W-SUN", "month-end": "ME"}.get(freq)
        if rule is None:
            typer.secho(f"error: --freq {freq!r}: use daily, weekly or month-end", fg="red", err=True)
            raise typer.Exit(2)
        _check_data_dir(data)
        dates = [ts.date() for ts in pd.date_range(d1, d2, freq=rule)]
        if not dates:
            typer.secho(f"error: no {freq} dates between {d1} and {d2}", fg="red", err=True)
            raise typer.Exit(2)
        console = Console()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("backfill", total=len(dates))
            for day in dates:
                progress.update(task, description=f"nightly {day}")
                result = _run_one(day, data, out, config)
                c = result.manifest["counts"]
                progress.console.print(
                    f"{day}: {c['scored']:,} scored, {c['flagged']:,} flagged -> {result.path}"
                )
                progress.advance(task)

    @app.command("serve")
    def serve(
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the deployment and schedule, then exit"),
    ) -> None:
        """Deploy the nightly flow on a cron schedule and serve it until stopped.

        Uses Prefect's own scheduler with the config's cron and explicit time zone (default 02:00
        Europe/Amsterdam); stop with Ctrl-C.
        Each run scores yesterday's date. Watch runs in the Prefect UI (`prefect server start`)."""
        deployment = build_deployment(config)
        sched = deployment.schedules[0].schedule
        Console().print(
            f"deployment [bold]nightly/{deployment.name}[/]: cron '{sched.cron}' timezone {sched.timezone}; "
            f"parameters {json.dumps(deployment.parameters)}"
        )
        if dry_run:
            return
        from prefect import serve as prefect_serve

        prefect_serve(deployment)
