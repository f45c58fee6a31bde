"""``ews config check``: validate config files before a run does."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipelines.config import ConfigError, config_hash, load_config

# where the example source configs' sample exports live in a checkout of the repository
SAMPLES = "tests/data/sources/"


def _repository_sample(path: Path | str) -> bool:
    """A relative path into the repository's sample exports (:data:`SAMPLES`), which a project folder made
    by `ews init` does not hold."""
    return not Path(path).is_absolute() and Path(path).as_posix().startswith(SAMPLES)


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and validate YAML config under conf/.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("check")
    def check(
        files: list[Path] = typer.Argument(  # noqa: B008
            None, help="YAML files to check. Default: every *.yaml under conf/."
        ),
    ) -> None:
        """Validate config files; exit 2 and name the file and key on the first bad one.

        A source config's input files that exist are read up to their headers: a mapped column or a
        row option (rows, fill_down) naming a column the file lacks fails the check. Inputs not found
        are named as not checked (exit 0: their paths may be given with --path at ingest)."""
        console = Console()
        paths = files or sorted(Path("conf").rglob("*.yaml"))
        if not paths:
            console.print(
                f"[red]no config files found[/] (looked for conf/**/*.yaml in {escape(str(Path.cwd()))}); outside the "
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
                console.print(f"[red]FAIL[/] {escape(str(exc))}", highlight=False)
                continue
            note = ""
            if cfg.kind == "source":  # the files' headers against the mapping and the row options
                from pipelines.ingest.sources import check_inputs
                from pipelines.sources.read import TableError

                try:
                    missing = check_inputs(cfg)  # type: ignore[arg-type]
                except TableError as exc:
                    failed += 1
                    console.print(f"[red]FAIL[/] {escape(f'{path}: {exc}')}", highlight=False, soft_wrap=True)
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
            console.print(
                f"[green]ok[/]   {escape(f'{path}  kind={cfg.kind}  hash={config_hash(cfg)[:12]}{note}')}",
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
            Console().print(f"wrote {path}", highlight=False)
