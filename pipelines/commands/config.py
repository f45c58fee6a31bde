"""``ews config check``: validate config files before a run does."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.config import ConfigError, config_hash, load_config
from pipelines.config.teams import TeamsConfig
from pipelines.console import console as ews_console
from pipelines.console import plain

# where the example source configs' sample exports live in a checkout of the repository
SAMPLES = "tests/data/sources/"


def _repository_sample(path: Path | str) -> bool:
    """A relative path into the repository's sample exports (:data:`SAMPLES`), which a project folder made
    by `ews init` does not hold."""
    return not Path(path).is_absolute() and Path(path).as_posix().startswith(SAMPLES)


def _teams_data_dir(data: Path | None) -> tuple[Path | None, str]:
    """The ingested folder whose debtors a teams file is checked against, and how to name it: --data,
    else the nightly config's ``data_dir`` (the folder `ews serve` scores)."""
    if data is not None:
        return data, f"--data {data}"
    nightly = Path("conf/nightly.yaml")
    if not nightly.is_file():
        return None, "no --data and no conf/nightly.yaml"
    try:
        folder = load_config(nightly).data_dir  # type: ignore[union-attr]
    except ConfigError:
        return None, "conf/nightly.yaml does not load"
    return folder, f"{folder} (data_dir of conf/nightly.yaml)"


def _teams_against_debtors(cfg: TeamsConfig, data: Path | None) -> tuple[list[str], list[str], str]:
    """(problems that fail the check, notes, the ok line's note) for a teams file: its countries as
    codes (:func:`~pipelines.config.teams.country_code_problems`), then each segment and country
    against the debtors and dated master data of the ingested folder (``data`` or the nightly's
    ``data_dir``). Before session 34 `ews config check` passed 'ch', 'UK' or 'Services' while the
    nightly gave those debtors to 'unassigned'."""
    from pipelines.adapters.files import column_values
    from pipelines.config.teams import country_code_problems
    from pipelines.engine import is_ingested
    from pipelines.scoring.owners import unknown_coverage

    codes = country_code_problems(cfg.collectors)
    problems = [line for _name, _value, line in codes]
    folder, where = _teams_data_dir(data)
    if folder is None or not folder.is_dir() or not is_ingested(folder):
        why = where if folder is None else f"{where} is not an `ews ingest` folder"
        return problems, [], f"  (segments and countries not checked against debtors: {why}; pass --data DIR)"
    have = {}
    for column in ("segment", "country"):
        found = [column_values(folder, table, column) for table in ("debtors", "debtor_history")]
        have[column] = set().union(*(f for f in found if f is not None))
    if not have["segment"] and not have["country"]:
        return problems, [], f"  (segments and countries not checked: no debtor in {where} states one)"
    notes = []
    said = {(name, value) for name, value, _line in codes}
    for name, column, value, near in unknown_coverage(cfg.collectors, have["segment"], have["country"]):
        if column == "country" and (name, value) in said:
            continue  # said as a code
        if near is not None:
            problems.append(
                f"{name}: {column} {value!r}: no debtor in {where} has it, they have {near!r} ({column} "
                f"values are compared exactly, case included: as written {name} covers none of them)"
            )
        elif not have[column]:  # "(country values there: )" before (s34-review)
            notes.append(
                f"{name}: {column} {value!r}: no debtor in {where} states a {column}, so {name} covers no debtor "
                f"by it"
            )
        else:
            listed = sorted(have[column])
            shown = ", ".join(listed[:12]) + (f" and {len(listed) - 12:,} more" if len(listed) > 12 else "")
            notes.append(
                f"{name}: no debtor in {where} has {column} {value!r} yet ({column} values there: {shown})"
            )
    return problems, notes, f"  (segments and countries checked against the debtors of {where})"


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and validate YAML config under conf/.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("check")
    def check(
        files: list[Path] = typer.Argument(  # noqa: B008
            None, help="YAML files to check. Default: every *.yaml under conf/."
        ),
        data: Path | None = typer.Option(  # noqa: B008
            None,
            "--data",
            help="an `ews ingest --out` folder whose debtors a teams file's segments and countries are "
            "checked against. Default: data_dir of conf/nightly.yaml",
        ),
    ) -> None:
        """Validate config files; exit 2 and name the file and key on the first bad one.

        A source config's input files that exist are read up to their headers: a mapped column or a
        row option (rows, fill_down) naming a column the file lacks fails the check. Inputs not found
        are named as not checked (exit 0: their paths may be given with --path at ingest).

        A teams file's countries must be codes as ews stores them (two capitals: 'DE', not 'de',
        'Germany' or 'UK'), and each segment or country is looked up in the debtors of --data: one
        that differs from a debtor's only in case, spaces or a typo fails the check; one no debtor has
        (a country with no customer yet) is named in a note."""
        console = ews_console()
        paths = files or sorted(Path("conf").rglob("*.yaml"))
        if not paths:
            console.print(
                plain("no config files found", "red"),
                f"(looked for conf/**/*.yaml in {Path.cwd()}); outside the "
                "project folder pass `ews --project DIR` or set EWS_PROJECT=DIR",
                highlight=False,
            )
            raise typer.Exit(2)
        failed = 0
        for path in paths:
            try:
                cfg = load_config(path)
            except ConfigError as exc:
                failed += 1
                console.print(plain("FAIL", "red"), str(exc), highlight=False)
                continue
            note = ""
            if cfg.kind == "source":  # the files' headers against the mapping and the row options
                from pipelines.ingest.sources import check_inputs
                from pipelines.ingest.workbooks import workbooks_as_csv
                from pipelines.sources.read import TableError

                try:  # a workbook's sheet is read as `ews ingest` reads it (before session 38: refused)
                    with workbooks_as_csv(cfg, missing_ok=True) as readable:  # type: ignore[arg-type]
                        missing = check_inputs(readable)
                except TableError as exc:
                    failed += 1
                    console.print(plain("FAIL", "red"), f"{path}: {exc}", highlight=False, soft_wrap=True)
                    continue
                note = "  (headers checked)"
                if missing:  # the inputs that exist are checked all the same
                    from pipelines.ingest.sources import input_blocks

                    found = [b for b, _p in input_blocks(cfg) if b not in {m for m, _q in missing}]  # type: ignore[arg-type]
                    absent = "; ".join(f"{b}: {p} not found" for b, p in missing)
                    note = (
                        f"  (headers checked: {', '.join(found)}; not checked: {absent})"
                        if found
                        else f"  (headers not checked: {absent})"
                    )
                    if not found and all(_repository_sample(p) for _b, p in missing):
                        # `ews init`'s examples read the repository's samples: one short note each (a fresh
                        # project's check printed 10 wrapped "... not found" notes before session 29)
                        files = "file is" if len({str(q) for _b, q in missing}) == 1 else "files are"
                        note = (
                            f"  (an example: its sample {files} in the ews repository's {SAMPLES}, not here)"
                        )
            if cfg.kind == "teams":  # the values against the debtors ews will assign
                problems, notes, note = _teams_against_debtors(cfg, data)  # type: ignore[arg-type]
                for line in notes:
                    console.print(plain("note", "yellow"), f"{path}: {line}", highlight=False, soft_wrap=True)
                if problems:
                    failed += 1
                    console.print(
                        plain("FAIL", "red"),
                        f"{path}: " + "; ".join(problems) + f". Edit {path}",
                        highlight=False,
                        soft_wrap=True,
                    )
                    continue
            console.print(
                plain("ok", "green"),
                f"  {path}  kind={cfg.kind}  hash={config_hash(cfg)[:12]}{note}",
                highlight=False,
            )
        if failed:
            raise typer.Exit(2)

    @config_app.command("expectations")
    def expectations(
        out: Path = typer.Option(
            Path("conf/expectations"), "--out", help="folder for the suites, one <table>.json per table"
        ),
    ) -> None:
        """Write the Great Expectations suites generated from the data contract (features/schema.py).

        The committed conf/expectations/*.json are this command's output; edit the schema, then run it.
        `ews ingest` reads the suites shipped with ews, not this folder, unless a source config's
        `rules.expectations_dir` names it (to validate with suites of your own).
        """
        from pipelines.validation import write_suites

        for path in write_suites(out):
            ews_console().print(f"wrote {path}", highlight=False)
