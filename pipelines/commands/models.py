"""``ews models list|history|promote|champion-on``: the champion/challenger registry in MLflow."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from pipelines.console import console as ews_console
from pipelines.project_dir import WHO_RULE

MODEL_HELP = "registered model name in MLflow"
PROJECT_HELP = (
    "project config file (kind: project) for the MLflow URI, relative to the project folder (`ews --project`); "
    "MLFLOW_TRACKING_URI overrides it"
)


def _uri(project: Path) -> str | None:
    from pipelines.config import load_config
    from pipelines.config.project import ProjectConfig

    if not project.exists():
        return None
    return load_config(project, expect=ProjectConfig).paths.mlflow_tracking_uri


def _runs_dir(project: Path) -> Path:
    from pipelines.config import load_config
    from pipelines.config.project import ProjectConfig

    if not project.exists():
        return ProjectConfig().paths.runs_dir
    return load_config(project, expect=ProjectConfig).paths.runs_dir


# ``ews models list --wide``'s headers in words (before session 28 the row keys: test_auc, test_ece, ...)
WIDE_HEADERS = {
    "test_as_of": "test window",
    "test_auc": "AUC",
    "test_ece": "ECE",
    "queue_key": "key",
    "champion_periods": "champion periods",
}


def _date_alone(when: str) -> bool:
    """``when`` names a day without a time: 2024-02-01, 20240201 (ISO's basic form) or 2024-W05-4;
    ``ews models champion-on`` reads each as the end of that day."""
    try:
        dt.date.fromisoformat(when)
    except ValueError:
        return False
    return True


def _print_table(console: Console, title: str, rows: list[dict], columns: list[str]) -> None:
    """Print the given columns of rows (values already formatted as text) as a rich table, headed by
    the columns' words (:data:`WIDE_HEADERS`)."""
    table = Table(title=title)
    for col in columns:
        table.add_column(WIDE_HEADERS.get(col, col))
    for row in rows:  # as text (the console reads no markup): a reason typed as '[/]' or '[link=...]'
        table.add_row(*(str(row[col]) for col in columns))
    console.print(table)


# ``ews models list``'s columns in 100 characters (session 27: the table was 144 wide): header -> row key
NARROW = {
    "version": "version",
    "aliases": "aliases",
    "created": "created",
    "AUC": "test_auc",
    "ECE": "test_ece",
    "gate": "gate",
    "key": "queue_key",
    "champion": "champion",
}


PAYDATE_NARROW = {  # the payment-date model has no AUC or ECE (it showed "nan") and no queue key
    "version": "version",
    "aliases": "aliases",
    "created": "created",
    "MAE, days": "test_mae_days",
    "p10-p90": "test_coverage_80",
    "gate": "gate",
    "champion": "champion",
}


def narrow_row(row: dict, columns: dict[str, str] = NARROW) -> dict:
    """A row of :func:`pipelines.adapters.registry_view.version_rows` for the 100-column table: the
    creation day, and of the champion periods only the last one's start ("since 2026-12-05", the
    champion now) or end ("until 2026-12-05"); ``--wide`` shows every period."""
    periods = [p for p in row["champion_periods"].split("; ") if p]
    said = ""
    if periods:
        start, end = periods[-1].split("..")
        said = f"since {start[:10]}" if end == "now" else f"until {end[:10]}"
    out = {**row, "created": row["created"].strftime("%Y-%m-%d"), "champion": said}
    return {header: str(out[key]) for header, key in columns.items()}


def _over_failed_gate(name: str, version: str, tracking_uri: str | None) -> str:
    """ ", over its failed gate (worse than champion v1: ...)" when ``version``'s gate failed, else "": a
    manual promotion of such a version said nothing of the failure (s37-walk D6); it still promotes."""
    from mlflow import MlflowClient

    from models.gate_words import failed_checks, without_figures

    tags = MlflowClient().get_model_version(name, str(version)).tags or {}
    if tags.get("ews.gate") != "failed":
        return ""
    fails = [without_figures(c) for c in failed_checks(tags.get("ews.gate.reasons", ""))]
    return f", over its failed gate ({'; '.join(fails) or 'no check recorded'})"


def deleted_note(name: str, versions: list[int]) -> str:
    """The line under ``ews models history`` when some of its versions were deleted through MLflow."""
    one = len(versions) == 1
    listed = ", ".join(f"v{v}" for v in versions)
    return (
        f"{listed} of {name!r} {'was' if one else 'were'} deleted through MLflow (with "
        f"{'its' if one else 'their'} aliases and model files); {'its' if one else 'their'} decisions above are "
        "what the store still holds"
    )


def history_event(row: dict) -> str:
    """An event of ``ews models history`` in words: ``champion (gate)``, ``queue_key (blend)``,
    ``champion (manual, was v1)``."""
    said = [w for w in (row["mode"], f"was v{row['previous']}" if row["previous"] else "") if w]
    return f"{row['event']} ({', '.join(said)})" if said else row["event"]


def windows_note(rows: list[dict[str, Any]], paydate: bool) -> str:
    """A line under `ews models list` when the versions' figures come from different test windows
    (s39-walk: v1 0.9260 and v2 0.9526 read as progress, on 2023-11-30..2024-09-30 and 2024-02-29..2024-12-31)."""
    windows = {str(r.get("test_as_of") or "") for r in rows} - {""}
    if len(windows) < 2:
        return ""
    figures = "MAE and coverage" if paydate else "AUC and ECE"
    return (
        f"{figures}: each version on its own test window ({len(windows)} different here; `--wide` shows them), so "
        "they do not compare versions; the gate compared each challenger with the champion on the same rows "
        "when it could (`ews models history --verbose`)"
    )


def register(app: typer.Typer) -> None:
    models_app = typer.Typer(
        help="Model registry: versions, aliases (champion / challenger), promotions and their history.",
        no_args_is_help=True,
    )
    app.add_typer(models_app, name="models")

    @models_app.command("list")
    def list_command(
        name: str = typer.Option("ews-pd", help=MODEL_HELP),
        project: Path = typer.Option(Path("conf/ews.yaml"), "--project-config", help=PROJECT_HELP),
        wide: bool = typer.Option(
            False,
            "--wide",
            help="every column: creation time, test window, each champion period in full (about 150 columns)",
        ),
    ) -> None:
        """Versions with aliases, test AUC/ECE, gate outcome, the queue key chosen at training (pd or
        blend) and since or until when each was champion, in 100 columns; --wide adds the test window
        and every champion period. For the payment-date model (--name ews-paydate): its held-out MAE
        in days and p10-p90 coverage instead of AUC/ECE, and no queue key."""
        from pipelines.adapters.registry_view import (
            lost_versions,
            public_uri,
            read_versions,
            tracking_uri,
            version_rows,
        )

        uri = _uri(project)
        rows = version_rows(read_versions(name, uri))
        if not rows:
            lost = lost_versions(name, uri).words
            where = public_uri(tracking_uri(uri))
            ews_console(width=200).print(
                f"no versions of {name!r} left in {where}: {lost}: run `ews train --data DIR`, or restore the "
                "store from a backup"
                if lost
                else f"no versions of {name!r} yet in {where}: run `ews train --data DIR`"
            )
            return
        from pipelines.adapters.registry_view import PAYDATE_MODEL_NAME

        paydate = name == PAYDATE_MODEL_NAME
        for row in rows:
            row["test_auc"], row["test_ece"] = f"{row['test_auc']:.4f}", f"{row['test_ece']:.4f}"
            row["test_mae_days"] = f"{row['test_mae_days']:.2f}"
            row["test_coverage_80"] = f"{row['test_coverage_80']:.1%}"
        if wide:
            for row in rows:
                row["created"] = row["created"].strftime("%Y-%m-%d %H:%M")
            columns = [
                "version",
                "aliases",
                "created",
                "test_as_of",
                *(("test_mae_days", "test_coverage_80") if paydate else ("test_auc", "test_ece")),
                "gate",
                *(() if paydate else ("queue_key",)),
            ]
            _print_table(ews_console(width=200), f"{name} versions", rows, [*columns, "champion_periods"])
            return
        _print_table(
            ews_console(width=None if sys.stdout.isatty() else 100),
            f"{name} versions (`ews models list --wide`: every column)",
            [narrow_row(row, PAYDATE_NARROW if paydate else NARROW) for row in rows],
            list(PAYDATE_NARROW if paydate else NARROW),
        )
        note = windows_note(rows, paydate)
        if note:
            ews_console(width=None if sys.stdout.isatty() else 100).print(note, highlight=False)

    @models_app.command("history")
    def history_command(
        name: str = typer.Option("ews-pd", help=MODEL_HELP),
        project: Path = typer.Option(Path("conf/ews.yaml"), "--project-config", help=PROJECT_HELP),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            "-v",
            help="every reason in full, with its figures (default: one short line each)",
        ),
    ) -> None:
        """Every registry decision, oldest first: new challenger, queue key (pd or blend, with its
        evidence), gate failed, champion, retired. Each reason in one short line; --verbose prints them
        in full (a small book's model choice runs to about 1,000 characters).

        The column after the event ("by") is who ran the command that made the decision (`ews train`
        for the challenger, queue key and gate, `ews models promote` for a manual champion), recorded
        as every ews command records who: --by NAME when given (`ews models promote`), else the
        environment variable EWS_USER, else the login name. A scheduled job records its own account
        (set EWS_USER=scheduler in its environment to say so)."""
        from pipelines.adapters.registry_view import decision_events, lost_versions, read_versions

        rows = decision_events(read_versions(name, _uri(project), deleted=True))
        if not rows:
            lost = lost_versions(name, _uri(project)).words
            typer.echo(f"no history for {name!r} left: {lost}" if lost else f"no history for {name!r} yet")
            return
        gone = sorted({int(row["version"]) for row in rows if row["deleted"]})
        for row in rows:
            row["at"] = row["at"].strftime("%Y-%m-%d %H:%M:%S")
            if row["deleted"]:  # s38-attack: a deleted version's decisions stay history, marked
                row["version"] = f"{row['version']} (deleted)"
        if verbose:
            columns = ["at", "version", "event", "by", "mode", "previous", "reason"]
            _print_table(ews_console(width=200), f"{name} decisions", rows, columns)
        else:
            typer.echo(
                f"{name} decisions, oldest first (`ews models history --verbose`: every reason in full)"
            )
            for row in rows:
                typer.echo(
                    f"{row['at'][:16]}  v{row['version']:<3} {history_event(row):<26} {row['by']:<12} {row['summary']}"
                )
                if row.get("comparison"):  # what the gate's comparison with the champion was worth (s42)
                    typer.echo(f"{'':<18}{row['comparison']}")
        if gone:
            typer.echo(deleted_note(name, gone))

    @models_app.command("champion-on")
    def champion_on_command(
        when: str = typer.Argument(
            ...,
            help="date or timestamp (UTC), e.g. 2026-03-31 or 2026-03-31T12:00; a date alone, as 2026-03-31 "
            "or 20260331, means the end of that day",
        ),
        name: str = typer.Option("ews-pd", help=MODEL_HELP),
        project: Path = typer.Option(Path("conf/ews.yaml"), "--project-config", help=PROJECT_HELP),
        runs: Path | None = typer.Option(
            None,
            "--runs",
            help="published nightly runs (OUTDIR); default: paths.runs_dir of the project config",
        ),
    ) -> None:
        """Which version was champion on WHEN, two ways: by registry time (who held the alias at the
        end of that day, UTC) and by as-of date (which version scored the published run for that
        date, or the latest run before it). A backfill scores old dates with today's champion, so
        the two can differ. Exit 1 when neither knows a version."""
        import pandas as pd

        from pipelines.adapters.publish import scored_by
        from pipelines.adapters.registry import champion_on

        try:
            # ISO only: pandas read '01.02.2024' (1 February to a German user) as 2024-01-02
            moment = pd.Timestamp(dt.datetime.fromisoformat(when))
        except ValueError:
            typer.secho(
                f"error: {when!r} is not a date/time; use YYYY-MM-DD[THH:MM], e.g. 2026-03-31",
                fg="red",
                err=True,
            )
            raise typer.Exit(2) from None
        # 2026-03-31T12:00+02:00: the same moment in UTC, as printed ("10:00:00+14:00 UTC" before s40-attack)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        # 2024-02-01 and 20240201 alike (before session 32 the basic form was read as midnight)
        if _date_alone(when):
            moment = moment + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        version = champion_on(moment, name, tracking_uri=_uri(project))
        runs_dir = runs or _runs_dir(project)
        run = scored_by(runs_dir, moment.date())
        by_time = f"v{version} held champion" if version else f"no champion of {name}"
        typer.echo(f"registry time: {by_time} at {moment} UTC")
        if run is None:
            typer.echo(f"scored runs:   no run as of {moment.date()} or earlier in {runs_dir}")
        else:
            day, model, manifest = run
            label = "as of" if day == moment.date().isoformat() else "latest run before, as of"
            typer.echo(f"scored runs:   {label} {day} scored by {model} ({manifest})")
        if version is None and run is None:
            raise typer.Exit(1)

    @models_app.command("promote")
    def promote_command(
        version: str = typer.Argument(..., help="model version number to make champion"),
        reason: str = typer.Option(..., "--reason", help="why (recorded on the version with who and when)"),
        name: str = typer.Option("ews-pd", help=MODEL_HELP),
        project: Path = typer.Option(Path("conf/ews.yaml"), "--project-config", help=PROJECT_HELP),
        by: str | None = typer.Option(None, "--by", help=f"who decides; recorded: {WHO_RULE}"),
    ) -> None:
        """Manual override: move `champion` to VERSION, bypassing the gate; logged as model-version tags.

        Who is recorded (`ews models history`, "by") as every ews command records who: --by NAME when
        given, else the environment variable EWS_USER, else the login name."""
        from pipelines.adapters.registry import promote

        if by is not None and not by.strip():
            typer.secho(
                "error: --by is empty; give the name of the person deciding, e.g. --by 'A. Jansen'",
                fg="red",
                err=True,
            )
            raise typer.Exit(2)
        try:
            previous = promote(version, reason, name=name, who=by, tracking_uri=_uri(project))
        except (ValueError, LookupError) as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from None
        over = _over_failed_gate(name, version, _uri(project))
        if previous is not None and str(previous) == str(version):  # it read "is champion (previous: 1)"
            typer.echo(f"{name} v{version} was already champion: nothing moved; reason recorded")
        else:
            typer.echo(
                f"{name} v{version} is champion (previous: {previous or 'none'}){over}; reason recorded"
            )
        from pipelines.adapters.registry import DEFAULT_MODEL_NAME, champion_version
        from pipelines.adapters.registry import promote_command as promote_line
        from pipelines.adapters.registry_view import PAYDATE_MODEL_NAME

        if name == DEFAULT_MODEL_NAME:  # a roll-back of "the model" moved the PD model alone (s34-walk)
            paydate = champion_version(PAYDATE_MODEL_NAME, tracking_uri=_uri(project))
            if paydate is not None:
                typer.echo(
                    f"{PAYDATE_MODEL_NAME} keeps its champion v{paydate} (payment dates, cash-in forecast, the "
                    f"queue's pay_pd); to move it too: {promote_line(PAYDATE_MODEL_NAME, 'N')} --reason '...' "
                    f"(its versions: ews models list --name {PAYDATE_MODEL_NAME})"
                )
