"""Options shared by `ews features`, `ews train`, `ews score` and `ews backfill`: where the data
comes from (an `ews ingest` folder, or --raw files) and which engine runs the debtor buckets.
Light on purpose: imported when the CLI starts."""

from __future__ import annotations

import os
from pathlib import Path

import typer

DATA_HELP = "an `ews ingest --out` folder (with --raw: a folder of raw canonical files)"
RAW_HELP = (
    "--data holds raw canonical files (invoices.csv/.parquet, ...): validate them in memory on this run "
    "instead of reading an `ews ingest --out` folder"
)
ENGINE_HELP = "local (debtor buckets one after the other) or dask; default: compute.engine of conf/ews.yaml"
SCHEDULER_HELP = "Dask scheduler address (tcp://HOST:8786) of an existing cluster; implies --engine dask"


def check_data_dir(data: Path, raw: bool = False) -> None:
    """--data must be a folder; without --raw, an `ews ingest` output (else exit 2 with the fix)."""
    from pipelines.engine import is_ingested

    if not data.is_dir():
        typer.secho(
            f"error: --data {data} is not a folder; point it at an `ews ingest --out` folder",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    if not raw and not is_ingested(data) and is_ingested(data.resolve().parent):
        typer.secho(  # a table's folder (data/ingested/invoices): the fix is its parent, not a new ingest
            f"error: --data {data} is a folder inside the `ews ingest` output {data.parent}: pass "
            f"--data {data.parent}",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    if not raw and not is_ingested(data):
        typer.secho(
            f"error: --data {data} is not an `ews ingest` output (no manifest.json listing ingested tables). "
            f"Validate it once: `ews ingest --invoices {data}/invoices.csv ... --out {data}-ingested` (or "
            "`ews ingest --source CONFIG --out DIR`) and pass that folder; or add --raw to validate the raw "
            "files in memory on every run",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    from pipelines.adapters.publish import interrupted_ingest, mixed_ingest

    if not raw and (message := interrupted_ingest(data) or mixed_ingest(data)) is not None:
        typer.secho(f"error: --data {message}", fg="red", err=True)
        raise typer.Exit(2)
    from pipelines.scoring.data_window import data_window

    if not raw and data_window(data) is None:  # before any flow: train and score started one first
        typer.secho(
            f"error: --data {data} holds no dated invoice, payment, event or statement (an ingest of the "
            "debtors table alone?): there is nothing to build features from. Ingest the ledger too "
            "(--invoices and --payments, or --statements) into that folder",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)


def check_engine(engine: str | None) -> None:
    """--engine is local or dask (exit 2 otherwise)."""
    if engine not in (None, "local", "dask"):
        typer.secho(f"error: --engine {engine!r}: use local or dask", fg="red", err=True)
        raise typer.Exit(2)


def out_inside_data(out: Path, data: Path, what: str, suggestion: str) -> str | None:
    """The refusal when ``--out`` is ``--data`` or a folder or file inside it, else None (s44-attack: a
    folder inside was accepted, s43 refused only the folder itself). ``what``: what the command writes
    there (its outputs would sit among the ingested tables and go with them when that folder is deleted to
    ingest the book over, as `ews ingest` advises for a history started again; `ews features` could write
    over a table's part file). Paths are compared resolved, so a symlink into --data is inside too."""
    inside, folder = Path(os.path.realpath(out)), Path(os.path.realpath(data))
    if inside != folder and folder not in inside.parents:
        return None
    where = "is the --data folder" if inside == folder else f"is inside the --data folder {data}"
    return (
        f"--out {out} {where}: {what} would sit among the ingested tables and go with them when that folder "
        f"is deleted to ingest the book over. Write outside {data}, e.g. --out {suggestion}"
    )
