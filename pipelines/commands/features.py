"""``ews features``: point-in-time features (and optionally labels) for one or more as-of dates."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines.cli_options import (
    DATA_HELP,
    ENGINE_HELP,
    RAW_HELP,
    SCHEDULER_HELP,
    check_data_dir,
    check_engine,
    out_inside_data,
)
from pipelines.commands import after_today, fail
from pipelines.words import counted

if TYPE_CHECKING:
    import pandas as pd

HELP = """Build point-in-time features for every debtor at one or more as-of dates.

Features as of T use only invoices issued, payments made, events and statements dated on or before
T. --data is an `ews ingest --out` folder, read one debtor bucket at a time (with --raw: a folder of
raw canonical files, validated in memory as in `ews ingest`; rejected rows are left out and counted).
--engine dask runs one task per debtor bucket on a Dask cluster (--scheduler ADDRESS, or a fresh
LocalCluster sized by compute in conf/ews.yaml); the output is byte-identical to --engine local.

--as-of takes dates separated by commas (2024-06-30,2024-07-31) and/or month-end ranges
(2024-01..2024-12 = every month-end from January to December 2024).

Writes OUT (Parquet, one row per debtor_id and as_of) and OUT with suffix .json describing every
column (family, window, unit, description, reason template, direction). With --labels the default
labels of the project config's default definition are joined on (in_default_at_asof, label,
first_default_date, horizon_observed).

Exit code 2 on a user error (bad date, missing data dir or table); the message says the fix.
"""


def _check_dates_in_data(data: Path, dates: list[pd.Timestamp]) -> None:
    """An as-of date before the ingested data's first dated row stops (exit 2; before: "no bucket
    holds invoices ...", about data that has them); one more than ``max_data_lag_days`` (35) after
    its last row is built with a warning (every open invoice ages without its payments; `ews score`
    refuses such a date)."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.data_window import data_window

    window = data_window(data)
    if window is None:
        return
    first, last = window
    early = [d.date() for d in dates if d.date() < first]
    if early:
        fail(
            f"--as-of {early[0]} is before the first dated row of --data {data} (data from {first} to "
            f"{last}): there is nothing to build features from. Use dates from {first} to {last}"
        )
    today, future = after_today([d.date() for d in dates])
    if future:
        more = f" ({len(future):,} of the dates are)" if len(future) > 1 else ""
        fail(
            f"--as-of {future[0]} is in the future{more}: today is {today} (UTC), and the data end on {last}. "
            f"Features describe a day that is over: use dates up to {today}"
        )
    lag = NightlyConfig.model_fields["max_data_lag_days"].default
    late = [d.date() for d in dates if (d.date() - last).days > lag]
    if late:
        more = f" (and {counted(len(late) - 1, 'later date')})" if len(late) > 1 else ""
        typer.secho(
            f"warning: --as-of {late[0]}{more} is {(late[0] - last).days:,} days after the latest invoice, "
            f"payment or event in --data {data} ({last}): every open invoice ages without the payments the "
            "export does not hold, so these features describe no real state (`ews score` refuses such a date)",
            fg="yellow",
            err=True,
        )


def _unwritable(out: Path) -> str | None:
    """Why no file can be written at ``out`` (a name too long, a symlink loop on the way), before
    the features are built: before, the build ran, then OutputError's traceback (exit 1)."""
    import os

    from pipelines.sources.read import path_problem

    for path in (out, out.with_suffix(".json")):
        try:
            os.stat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return path_problem(exc)
    return None


def parse_as_of(text: str) -> list[pd.Timestamp]:
    """``"2024-06-30,2024-01..2024-03"`` -> sorted distinct dates (ranges expand to month-ends)."""
    import pandas as pd

    from features.snapshots import month_ends

    dates: set[pd.Timestamp] = set()
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        try:
            if ".." in item:
                lo, hi = item.split("..", 1)
                start = pd.Timestamp(lo.strip())
                end = pd.Timestamp(hi.strip()) + pd.offsets.MonthEnd(0)
                found = month_ends(start, end)
                if not found:
                    raise ValueError(f"no month-end in {item}")
                dates.update(found)
            else:
                dates.add(pd.Timestamp(item).normalize())
        except ValueError as exc:
            raise typer.BadParameter(
                f"--as-of {item!r}: {exc}. Use YYYY-MM-DD dates separated by commas or a month range "
                "YYYY-MM..YYYY-MM"
            ) from None
    if not dates:
        raise typer.BadParameter("--as-of: give at least one date, e.g. 2024-06-30")
    return sorted(dates)


def sidecar(frame: pd.DataFrame, as_of: list[pd.Timestamp], meta: dict) -> dict:
    """JSON description of every column of ``frame`` plus run metadata."""
    from features.catalog import describe

    columns = describe(frame.columns)
    for name, info in columns.items():
        info["dtype"] = str(frame[name].dtype)
        info["missing_share"] = round(float(frame[name].isna().mean()), 6) if len(frame) else 0.0
    return {
        "as_of": [str(t.date()) for t in as_of],
        "rows": len(frame),
        **meta,
        "columns": columns,
    }


def register(app: typer.Typer) -> None:
    @app.command("features", help=HELP)
    def features_command(
        data: Path = typer.Option(..., "--data", help=DATA_HELP),
        as_of: str = typer.Option(
            ...,
            "--as-of",
            metavar="DATES",
            help="dates YYYY-MM-DD[,...] and/or month ranges YYYY-MM..YYYY-MM",
        ),
        out: Path = typer.Option(..., "--out", help="output Parquet file; the column sidecar is OUT.json"),
        labels: bool = typer.Option(False, "--labels", help="join the default labels"),
        config: Path = typer.Option(
            Path("conf/ews.yaml"),
            "--project-config",
            help="project config file (kind: project) with the default definition, as in `ews ingest` and `ews models`",
        ),
        raw: bool = typer.Option(False, "--raw", help=RAW_HELP),
        engine: str | None = typer.Option(None, "--engine", help=ENGINE_HELP),
        scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
    ) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from features.params import DefaultDefinition
        from pipelines.adapters.files import write_parquet_atomic, write_text_atomic
        from pipelines.cluster import EngineSettings, open_engine
        from pipelines.config import ConfigError
        from pipelines.config.project import load_project
        from pipelines.console import console as ews_console
        from pipelines.console import plain
        from pipelines.engine import build_book, open_feed
        from pipelines.ingest import TableError

        dates = parse_as_of(as_of)
        check_data_dir(data, raw)
        check_engine(engine)
        if not raw:
            _check_dates_in_data(data, dates)
        if out.suffix != ".parquet":
            fail(f"--out {out} must end in .parquet")
        beside = Path(os.path.realpath(data)).parent / out.name
        what = (
            "the features file and its column sidecar (named as a table's part file, it replaces those rows)"
        )
        if said := out_inside_data(out, data, what, str(beside)):
            fail(
                said
            )  # s44-attack: --out DATA/invoices/bucket=0/part-0.parquet wrote features over the invoices
        if problem := _unwritable(out):
            fail(f"--out {out}: cannot write: {problem}")
        definition = None
        try:
            project = load_project(config)
        except (ConfigError, FileNotFoundError) as exc:
            fail(str(exc))
        if labels:
            definition = project.default_definition.to_params()
        settings = EngineSettings.from_config(project.compute, engine, scheduler)
        console = ews_console(stderr=True)
        timings: dict[str, float] = {}
        try:
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(f"reading {data}", total=None)
                t0 = time.perf_counter()
                result = open_feed(data, raw=raw, currency=project.currency)
                timings["ingest_seconds"] = round(time.perf_counter() - t0, 3)
                what = "features and labels" if definition is not None else "features"
                progress.update(
                    task,
                    description=f"{what} at {counted(len(dates), 'as-of date')}, "
                    f"{counted(result.book.buckets, 'debtor bucket')}, {settings.kind} engine",
                )
                t0 = time.perf_counter()
                with open_engine(settings) as runner:
                    built = build_book(
                        result.book,
                        dates,
                        definition or DefaultDefinition(),
                        labels=definition is not None,
                        observed_until=result.book.last_observed(),
                        engine=runner,
                    )
                frame = built.features
                if definition is not None:
                    frame = frame.merge(
                        built.defaults, on=["debtor_id", "as_of"], how="left", validate="one_to_one"
                    )
                timings["features_seconds"] = round(time.perf_counter() - t0, 3)
            # an `ews ingest` into --data while its buckets were read: a mix of two ingests (s39-audit)
            result.check_unchanged("Run `ews features` again", f"written to {out}")
        except (TableError, ValueError) as exc:
            fail(str(exc))
        quarantined = {
            name: t.get("rows_quarantined", 0) for name, t in result.manifest.get("tables", {}).items()
        }
        meta = {"data": str(data), "quarantined_rows": quarantined, **timings}
        if definition is not None:
            meta["default_definition"] = {
                "dpd_threshold": definition.dpd_threshold,
                "horizon_days": definition.horizon_days,
                "event_kinds": list(definition.event_kinds),
            }
        out.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(frame, out)
        side = out.with_suffix(".json")
        write_text_atomic(json.dumps(sidecar(frame, dates, meta), indent=2, default=str), side)
        n_feat = sum(1 for c in frame.columns if c not in {"debtor_id", "as_of"})
        console.print(f"{len(frame):,} rows x {n_feat} columns -> {out}  (columns: {side})")
        if any(quarantined.values()):
            console.print(plain("quarantined rows left out", "yellow"), f": {quarantined}", sep="")
