"""``ews sources suggest FILE``: draft a source config from an export, for the user to correct."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from pipelines.console import console as ews_console
from pipelines.console import plain

HELP = """Guess a source config (kind: source) from one CSV export and print or write it.

An Excel workbook (.xlsx, .xlsm) is read as `ews ingest` reads it: its first visible sheet (or --sheet
NAME), converted (UTF-8, ISO dates) for the draft; the draft names the workbook (and the sheet, when the
workbook has several with data), so each month's export is ingested as saved.

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
            help="an Excel workbook's sheet to map, by name (default: the first visible sheet); the draft names it",
        ),
    ) -> None:
        from pipelines.adapters.files import write_text_atomic
        from pipelines.ingest.workbooks import sheets_with_data
        from pipelines.sources.suggest import EXCEL_SUFFIXES, excel_to_csv
        from pipelines.sources.suggest_many import named_as_workbooks, suggest_sources

        err = ews_console(stderr=True)

        def fail(message: str) -> None:
            err.print(plain("error:", "red"), message, highlight=False, soft_wrap=True)
            raise typer.Exit(2)

        workbooks: dict[Path, tuple[Path, str | None]] = {}  # CSV copy -> (workbook, sheet to name)

        def _as_csv(file: Path) -> Path:
            """``file`` itself, or for an Excel workbook a scratch CSV copy of its sheet (the draft names
            the workbook: `ews ingest` reads it as it reads the copy)."""
            if file.suffix.lower() not in EXCEL_SUFFIXES:
                return file
            copy = scratch / str(len(workbooks)) / f"{file.stem}.csv"
            copy.parent.mkdir()
            converted = excel_to_csv(file, copy, 0 if sheet is None else sheet)
            taken, others = converted.name, converted.others
            filled, _hidden = sheets_with_data(file)
            # named in the draft when ingest would not take it by itself (several sheets with data)
            workbooks[copy] = (file, taken if sheet is not None or filled != [taken] else None)
            err.print(f"sheet {taken!r} of {file} read (the draft names the workbook)", highlight=False)
            for note in converted.notes:
                err.print(plain("note:", "yellow"), note, highlight=False, soft_wrap=True)
            if others and sheet is None:
                err.print(
                    plain("note:", "yellow"),
                    f"the workbook has {len(others) + 1} sheets; the first "
                    f"{'visible one ' if any('hidden sheet' in n for n in converted.notes) else ''}was taken. "
                    f"Others: {', '.join(repr(o) for o in others[:8])}{' ...' if len(others) > 8 else ''}. "
                    "Pick one with --sheet NAME (add --force to replace the draft)",
                    highlight=False,
                )
            return copy

        for file in files:
            if not file.is_file():
                fail(f"{file}: file not found")
        if out is not None and out.exists() and any(out.samefile(f) for f in files):
            fail(
                f"--out {out} is an input file: the draft would replace the export (even with --force); "
                "choose another --out, e.g. conf/sources/NAME.yaml"
            )
        if out is not None and out.exists() and not force:
            fail(f"{out} exists; pass --force to overwrite it, or choose another --out")
        read: list[Path] = []
        scratch = Path(tempfile.mkdtemp(prefix="ews-suggest-"))
        try:
            for file in files:
                read.append(_as_csv(file))
            draft = suggest_sources(read, name)
        except (ValueError, OSError, UnicodeError) as exc:
            said = str(exc)
            for copy, (workbook, _sheet) in workbooks.items():
                said = said.replace(str(copy), str(workbook))
            fail(said)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        text = named_as_workbooks(draft.text, workbooks) if workbooks else draft.text
        if out is None:
            typer.echo(text, nl=False)
            return
        write_text_atomic(text, out)
        err.print(f"draft {draft.kind} source written to {out}", highlight=False)
        err.print(f"next: check the GUESS/CHECK lines, then `ews config check {out}`", highlight=False)
