"""``ews sources suggest FILE``: draft a source config from an export, for the user to correct."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.console import console as ews_console
from pipelines.console import plain

HELP = """Guess a source config (kind: source) from one CSV export and print or write it.

An Excel workbook (.xlsx) is first converted: its first visible sheet is written beside it as FILE.csv
(UTF-8, ISO dates), which the draft then reads.

Detects the encoding, delimiter and title lines, then per column the date layout, the decimal
separator, yes/no spellings, and which canonical column it is (from the header's wording, else the
values). A file with invoice columns and a settlement-date column becomes an ar_export; a payments
file tables.payments; else tables.invoices. A ledger mixing document types (Invoice / Payment /
Credit Memo, SAP's RV / DZ) gets a row filter per table (rows: keep, and negate_amount for payments
written negative; with SAP's Clearing Document or BC's Closed by Entry No., clearing and the credit
memos, section 6c); a report grouped by customer gets fill_down (conf/sources/README.md, section 6b).
Every guess carries a comment (GUESS / CHECK): correct it, then `ews config check FILE` and
`ews ingest --source FILE --out DIR`.

Several exports of one ledger (Xero's invoice export and Account Transactions; QuickBooks' Invoices
and Received Payments and Transaction List by Customer) give one config: the invoices from the file
that has every required column, the cash payments and the credit memos each from one file (the
first whose rows name the invoice they settle), the others as more_files (section 6b).
"""


def register(app: typer.Typer) -> None:
    sources_app = typer.Typer(help="Onboard a new export: draft its source config.", no_args_is_help=True)
    app.add_typer(sources_app, name="sources")

    @sources_app.command("suggest", help=HELP)
    def suggest(
        files: list[Path] = typer.Argument(
            ..., help="the export (CSV) to map; several exports of one ledger: one config"
        ),
        out: Path | None = typer.Option(
            None, "--out", help="write the draft here (e.g. conf/sources/NAME.yaml)"
        ),
        name: str | None = typer.Option(None, "--name", help="source name; default: from the file name"),
        force: bool = typer.Option(False, "--force", help="overwrite --out if it exists"),
        sheet: str | None = typer.Option(
            None,
            "--sheet",
            help="an Excel workbook's sheet to map, by name (default: the first visible sheet)",
        ),
    ) -> None:
        from pipelines.adapters.files import write_text_atomic
        from pipelines.sources.suggest import EXCEL_SUFFIXES, excel_to_csv
        from pipelines.sources.suggest_many import suggest_sources

        err = ews_console(stderr=True)

        def fail(message: str) -> None:
            err.print(plain("error:", "red"), message, highlight=False, soft_wrap=True)
            raise typer.Exit(2)

        def _as_csv(file: Path) -> Path:
            """``file`` itself, or for an Excel workbook the CSV copy of its sheet (written beside it)."""
            source_file = file
            if file.suffix.lower() in EXCEL_SUFFIXES:  # ingest reads CSV: convert the first sheet once
                source_file = file.with_suffix(".csv")
                if source_file.exists() and not force:
                    fail(f"{source_file} exists (the CSV copy of {file}); pass --force to overwrite it")
                converted = excel_to_csv(file, source_file, 0 if sheet is None else sheet)
                taken, others = converted.name, converted.others
                err.print(
                    f"sheet {taken!r} of {file} written as {source_file} (UTF-8 CSV)",
                    highlight=False,
                )
                for note in converted.notes:
                    err.print(plain("note:", "yellow"), note, highlight=False, soft_wrap=True)
                if others and sheet is None:
                    err.print(
                        plain("note:", "yellow"),
                        f"the workbook has {len(others) + 1} sheets; the first "
                        f"{'visible one ' if any('hidden sheet' in n for n in converted.notes) else ''}was taken. "
                        f"Others: {', '.join(repr(o) for o in others[:8])}{' ...' if len(others) > 8 else ''}. "
                        "Pick one with --sheet NAME (add --force to replace the CSV and the draft)",
                        highlight=False,
                    )
            return source_file

        for file in files:
            if not file.is_file():
                fail(f"{file}: file not found")
        inputs = [*files, *(f.with_suffix(".csv") for f in files if f.suffix.lower() in EXCEL_SUFFIXES)]
        if out is not None and out.exists() and any(out.samefile(f) for f in inputs if f.exists()):
            fail(
                f"--out {out} is an input file: the draft would replace the export (even with --force); "
                "choose another --out, e.g. conf/sources/NAME.yaml"
            )
        if out is not None and out.exists() and not force:
            fail(f"{out} exists; pass --force to overwrite it, or choose another --out")
        read: list[Path] = []
        try:
            for file in files:
                read.append(_as_csv(file))
            draft = suggest_sources(read, name)
        except (ValueError, OSError, UnicodeError) as exc:
            fail(str(exc))
        if out is None:
            typer.echo(draft.text, nl=False)
            return
        write_text_atomic(draft.text, out)
        err.print(f"draft {draft.kind} source written to {out}", highlight=False)
        err.print(f"next: check the GUESS/CHECK lines, then `ews config check {out}`", highlight=False)
