"""``ews init DIR``: start a project folder with the documented starter ``conf/`` that ships with ews.

A pip-installed ews has no repository checkout to copy ``conf/`` from; this writes the shipped
project, training, nightly and credit configs and the example source configs (with their README)
into ``DIR/conf/``, refuses to overwrite a file that is there, and says what to edit next. The
Great Expectations suites stay in the package (``ews ingest`` reads them from there).
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.commands import fail

# what each starter file is for, in the order a new user reads them
STARTER: dict[str, str] = {
    "conf/ews.yaml": "project: reporting currency and FX rates, default definition, MLflow location",
    "conf/train.yaml": "training: snapshots, out-of-time split, LightGBM, calibration, promotion gate",
    "conf/nightly.yaml": "nightly: risk bands, watchlist triggers, queues, feed checks, schedule",
    "conf/credit.yaml": "credit-limit policy (months of need per band, caps)",
    "conf/sources/": "how to map your own exports (README.md) and one example per export kind",
}


def starter_files() -> dict[str, Path]:
    """Project-relative path -> shipped file, for every file ``ews init`` writes."""
    from pipelines.project_dir import shipped_conf

    root = shipped_conf()
    files = {f"conf/{p.name}": p for p in sorted(root.glob("*.yaml"))}
    for p in sorted((root / "sources").iterdir()):
        if p.is_file() and p.suffix in {".yaml", ".md"}:
            files[f"conf/sources/{p.name}"] = p
    return files


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        folder: Path = typer.Argument(
            ..., help="the project folder to start (created when missing; an existing folder keeps its files)"
        ),
    ) -> None:
        """Start a project: write the documented starter conf/ into FOLDER and say what to edit next.

        Writes conf/ews.yaml, conf/train.yaml, conf/nightly.yaml, conf/credit.yaml and conf/sources/
        (a README on mapping your own exports and an example per export kind), the files a source
        checkout has under conf/. Every later command run in FOLDER (or a sub-folder, or with
        `ews --project FOLDER`) reads them. Nothing is overwritten: a file already there stops the
        command (exit 2) with its name.
        """
        from pipelines.adapters.files import write_bytes_atomic

        if folder.exists() and not folder.is_dir():
            fail(f"{folder}: is a file, not a folder; give the folder to start the project in")
        files = starter_files()
        there = [rel for rel in files if (folder / rel).exists()]
        if there:
            what = (
                "is already an ews project (conf/ews.yaml exists)"
                if "conf/ews.yaml" in there
                else f"already has config files ({', '.join(there)} exist)"
            )
            fail(f"{folder} {what}; nothing was written. Edit its conf/, or give a new folder to `ews init`")
        for rel, shipped in files.items():
            write_bytes_atomic(shipped.read_bytes(), folder / rel)
        where = folder.resolve()
        typer.echo(f"started an ews project in {where}:")
        for rel, what in STARTER.items():
            typer.echo(f"  {rel:<19} {what}")
        typer.echo(
            "\nNext (from inside the folder, or with `ews --project FOLDER`):\n"
            f"  1. cd {where}\n"
            "  2. conf/ews.yaml: set currency.reporting (and rates when you invoice in several "
            "currencies); check default_definition (default = 90 days past due, 90-day horizon)\n"
            "  3. map your export: `ews sources suggest EXPORT.csv --out conf/sources/mine.yaml`, "
            "then `ews config check`\n"
            "     (files already in the canonical columns need no mapping: `ews ingest --help`)\n"
            "  4. ews ingest --source conf/sources/mine.yaml --out data/ingested\n"
            "  5. ews train --data data/ingested\n"
            "  6. ews score --data data/ingested --as-of YYYY-MM-DD --out data/runs\n"
            "  For `ews serve`, set data_dir in conf/nightly.yaml (data/sample) to the folder it "
            "should score every night.\n"
            "  No data yet? `ews generate --debtors 150 --months 30 --out data/generated` writes a "
            "synthetic book to try the steps on."
        )
