"""``ews ingest``: read, validate and quarantine a source into canonical Parquet tables."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from pipelines.commands import after_today
from pipelines.config import ConfigError, load_config
from pipelines.config.project import load_project
from pipelines.config.source import SourceConfig
from pipelines.console import console as ews_console
from pipelines.console import plain
from pipelines.words import counted

HELP = """Read payment histories, validate them with Great Expectations and write canonical tables.

Either give files that already use the canonical column names (--invoices/--payments/...), or a
source config (--source conf/sources/NAME.yaml) that maps another export; see conf/sources/README.md.
Files are CSV, Parquet or Excel workbooks (.xlsx: its only sheet with data, or --sheet NAME), a
workbook read as the same sheet saved as CSV UTF-8.

Writes OUT/<table>/bucket=<k>/part-0.parquet (accepted rows, cut into debtor buckets by a stable
hash of debtor_id, sorted by debtor_id; a small book is one bucket), OUT/quarantine/<table>.csv
(every rejected row with its reason), OUT/manifest.json (rows in/accepted/quarantined, input hashes,
the bucket layout) and OUT/data_docs/index.html. `ews features`, `ews train` and `ews score` read OUT.

KEPT HISTORY (--keep-history): most ERPs export a rolling window (the last 6 or 12 months plus the
open items). With --keep-history, OUT is the ledger ews keeps: today's accepted rows are merged into
the tables OUT already holds, and `ews score --data OUT` reads the whole history seen so far. A row
of today's export replaces the kept row with the same id (invoice_id, payment_id, debtor_id; events by
debtor, date and kind): the ERP's revisions win. Kept rows older than today's export stay. A kept row
dated inside today's span that today's export lacks was deleted or cancelled in the ERP: it is
removed and counted (manifest.json history, and a warning); more than 10 % of a span at once is a
broken export and is refused. An export of another ledger (no currency in common, or most ids
unknown to the history) and an as-of date before the history's are refused (exit 2), OUT unchanged.
manifest.json's tables count today's rows (in = accepted + quarantined); its `history` section
counts the kept, replaced, added, removed and published rows. OUT/.history holds the history before
the latest date's merge, so a rerun for the same date writes the same bytes. An ingest without
--keep-history into a folder that holds a kept history is refused (it would replace the history with
today's export alone).

Exit code 0: ingested (even if rows were quarantined; warnings are printed and kept in the manifest).
Exit code 2: a table-level failure (missing file or column, empty file, wrong delimiter or encoding,
a table whose every row was rejected) or a bad config; the message says the fix.
"""


def _parse_paths(items: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(
                f"--path {item!r}: expected NAME=FILE, e.g. uci_wide=../shared/data/uci.csv"
            )
        key, value = item.split("=", 1)
        out[key.strip()] = Path(value.strip())
    return out


def reasons_said(manifest: dict) -> str:
    """The quarantine reasons the summary's "top reasons" column shows (3 per table), each once, with its
    words (``pipelines.words.reason_words``): "unparseable_date:issue_date = Issue date is not a date; ...";
    "" when none, or none has words."""
    from pipelines.words import reason_words

    shown: dict[str, str] = {}
    for t in manifest["tables"].values():
        for code, _n in sorted(t["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
            if reason_words(code) != code:
                shown.setdefault(code, reason_words(code))
    return "; ".join(f"{code} = {words}" for code, words in shown.items())


def print_summary(
    console: Console, manifest: dict, out: Path | None, definition: Any = None, project: Path | None = None
) -> None:
    """Rows in / accepted / quarantined per table, and where the outputs are."""
    table = Table(title=f"ingest {manifest['source']['name']} (as of {manifest['as_of']})")
    filtering = any("rows_filtered" in t for t in manifest["tables"].values())
    heads = (
        "table",
        "rows read" if filtering else "rows in",  # read = in + filtered (the manifest's rows_read)
        "accepted",
        "quarantined",
        *(("filtered",) if filtering else ()),
        "top reasons",
    )
    for col in heads:
        table.add_column(col, justify="right" if col.startswith(("rows", "acc", "quar", "filt")) else "left")
    for name, t in manifest["tables"].items():
        top = sorted(t["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        shown = [
            name,
            f"{t.get('rows_read', t['rows_in']):,}",
            f"{t['rows_accepted']:,}",
            f"{t['rows_quarantined']:,}",
        ]
        if filtering:
            shown.append(f"{t.get('rows_filtered', 0):,}")
        more = len(t["reasons"]) - len(top)  # the others are in quarantine/<table>.csv (s31: unsaid before)
        table.add_row(
            *shown,
            ", ".join(f"{k} ({v})" for k, v in top)
            + (f", {counted(more, 'more reason')}" if more > 0 else ""),
        )
    console.print(table)
    said = reasons_said(manifest)
    if said:  # the codes of the table in words, as report.html shows them (s34-walk)
        console.print(f"reasons: {said}", highlight=False, markup=False, soft_wrap=True)
    for name, t in manifest["tables"].items():
        if t.get("filtered"):
            why = ", ".join(
                f"{k} ({v:,})" for k, v in sorted(t["filtered"].items(), key=lambda kv: (-kv[1], kv[0]))
            )
            console.print(
                f"{name}: rows left out by the source config's row options: {why}",
                highlight=False,
            )
        for f in t.get("files") or []:  # more_files: each file's own count
            console.print(
                f"{name}: {f['key']}: {f['input']}: {f.get('rows_read', f['rows_in']):,} rows read = "
                f"{f['rows_accepted']:,} accepted + {f['rows_quarantined']:,} quarantined"
                + (f" + {sum(f['filtered'].values()):,} filtered" if f.get("filtered") else ""),
                highlight=False,
            )
        under = (t.get("repairs") or {}).get("invoice_from_listing", 0)
        if under:  # listed_under: QuickBooks' Invoices and Received Payments
            console.print(
                f"{name}: {counted(under, 'payment')} read onto the invoice they are listed under (listed_under)",
                highlight=False,
            )
        made = (t.get("repairs") or {}).get("payment_id_from_row", 0)
        if made:  # ids_from_rows: say it, so that the ids row-<hash>-<n> in the outputs are no surprise
            console.print(
                f"{name}: {counted(made, 'payment')} without a number got an id from their row (ids_from_rows: "
                "row-<hash>-<n>)",
                highlight=False,
            )
        taken = (t.get("repairs") or {}).get("invoice_from_reference", 0)
        if taken:  # invoice_reference: DATEV's Belegfeld 2, SAP's Invoice reference on an open part payment
            console.print(
                f"{name}: {counted(taken, 'payment')} took their invoice from invoice_reference (their own invoice number, "
                "or clearing document, named none)",
                highlight=False,
            )
        c1 = (t.get("repairs") or {}).get("read_as_cp1252", 0)
        if c1:  # s44-attack: latin-1 read the euro sign as a control character and refused the amounts
            console.print(
                f"{name}: read as Windows-1252 (cp1252), not latin-1: the file holds {counted(c1, 'character')} "
                "in bytes 0x80-0x9F (the euro sign, typographic quotes, dashes), control characters in latin-1; "
                "set csv.encoding: cp1252 in the source config to say so",
                highlight=False,
            )
        a = t.get("applied")
        if a and (
            a["payments_split"] or a["main_lines_left_out"]
        ):  # applied_amount: NetSuite's applied lines
            console.print(
                f"{name}: {counted(a['payments_split'], 'payment')} listed once per invoice split into each invoice's "
                f"part (applied_amount; +{counted(a['pieces_added'], 'row')} for what was left unapplied, "
                f"{counted(a['main_lines_left_out'], 'main line')} with nothing left out)",
                highlight=False,
            )
        c = t.get("clearing")
        if c:  # a payment split over the invoices it cleared: rows in = read - filtered + pieces added
            left = ", ".join(f"{k} ({v:,})" for k, v in c["unallocated"].items()) or "none"
            console.print(
                f"{name}: joined on {c['column']!r}: {counted(c['rows_allocated'], 'row')} on the invoices they cleared, "
                f"{c['rows_split']:,} split over several invoices (+{c['pieces_added']:,} rows: {t['rows_in']:,} "
                f"rows in); left unallocated: {left}",
                highlight=False,
            )
            if c.get("clearing_date_unreadable"):
                console.print(
                    f"{name}: {counted(c['clearing_date_unreadable'], 'allocated row')} with a clearing date cell "
                    "that is not a date (e.g. 0001-01-01, 00.00.0000): read as empty (the other row's "
                    "date, else applied from the payment date)",
                    highlight=False,
                )
    fx = manifest.get("currency") or {}
    if fx.get("reporting") and any(fx.get("converted_rows", {}).values()):
        moved = ", ".join(f"{t} {n:,}" for t, n in fx["converted_rows"].items() if n)
        rates = ", ".join(f"{c} {r:g}" for c, r in fx["rates"].items())
        console.print(
            f"amounts converted into {fx['reporting']} ({moved} rows; rates {rates})", highlight=False
        )
    kept = manifest.get("history")
    if kept:  # --keep-history: the merge's counts, apart from today's rows above
        base = (
            f"merged into the history as of {kept['base_as_of']}" if kept["base_as_of"] else "a new history"
        )
        parts = ", ".join(
            f"{t} {c['rows']:,} (kept {c['kept']:,}, replaced {c['replaced']:,}"
            # a rolling export re-sends rows as they were: "replaced 24,038" alone read as revisions
            + (f" ({c['unchanged']:,} re-sent unchanged)" if c.get("unchanged") else "")
            + f", added {c['added']:,}"
            + (f" of which {c['derived']:,} dated from today's debtors table" if c.get("derived") else "")
            + f", removed {c['removed']:,}"
            # paid invoices that left a rolling export's window, kept (not cancelled): s41-rolling
            + (f", aged out {c['aged_out']:,}" if c.get("aged_out") else "")
            + ")"
            for t, c in kept["tables"].items()
        )
        resolved = sum((kept.get("readmitted") or {}).values())
        console.print(
            f"history ({base}): {parts}"
            + (
                f"; {counted(resolved, 'row')} naming an invoice or debtor only the history holds accepted"
                if resolved
                else ""
            ),
            highlight=False,
            soft_wrap=True,
        )
    said = list(manifest.get("warnings", []))
    if manifest.get("short_paid_rests"):  # said only under a definition without a threshold
        from pipelines.ingest.staged import short_paid_warning

        said += short_paid_warning(manifest["short_paid_rests"], definition, str(project or "conf/ews.yaml"))
    if manifest.get("statements_without_balance"):  # said only under a definition with a threshold
        from pipelines.ingest.staged import statement_balance_warning

        said += statement_balance_warning(
            manifest["statements_without_balance"], definition, str(project or "conf/ews.yaml")
        )
    for warning in said:
        console.print(plain("warning:", "yellow"), warning, highlight=False, soft_wrap=True)
    for note in manifest.get("notes", []):  # said without alarm (an unchanged export of a quiet day)
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    currency = manifest.get("currency")
    accepted = any(t.get("rows_accepted") for t in manifest["tables"].values())
    if currency is not None and not currency.get("reporting") and accepted:
        # imported here: pipelines.ingest loads pandas, and `ews --help` must not (test_cli)
        from pipelines.ingest.currency import NO_CURRENCY

        console.print(plain("note:", "yellow"), NO_CURRENCY, highlight=False, soft_wrap=True)
    if out is not None:
        buckets = (manifest.get("layout") or {}).get("buckets", 1)

        # "(1 debtor bucket(s))" before session 29
        console.print(
            f"tables:     {out}/<table>/bucket=<k>/part-0.parquet ({counted(buckets, 'debtor bucket')})",
        )
        console.print(f"quarantine: {out}/quarantine/<table>.csv")
        console.print(f"manifest:   {out}/manifest.json")
        if any(k.startswith("fx/") for k in manifest.get("outputs", {})):
            console.print(f"converted:  {out}/fx/<table>.csv (original amount, currency and rate per row)")
        if manifest.get("data_docs"):
            console.print(f"data docs:  {out / manifest['data_docs']}")


class Terminated(BaseException):
    """SIGTERM reached ``ews ingest``: raised in its main process so that its cleanup runs (the
    staging and spill folders are removed; the output folder is left as it was)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"ews ingest got {signal.Signals(signum).name}")
        self.signum = signum


class _StopOnTerm:
    """Turn SIGTERM into :class:`Terminated` in this process while ingest runs (Python's default
    ends the process at once, without its cleanup: the working files of a streamed ingest stayed in
    the output folder). A forked worker process that inherits it ends as the signal says."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if os.getpid() != self.pid:  # a forked worker: die of the signal, the parent reports it
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def register(app: typer.Typer) -> None:
    @app.command("ingest", help=HELP)
    def ingest(
        out: Path = typer.Option(..., "--out", help="output folder (created; earlier outputs replaced)"),
        source: Path | None = typer.Option(None, "--source", help="source config YAML (kind: source)"),
        invoices: Path | None = typer.Option(None, "--invoices", help="canonical invoices CSV/Parquet/XLSX"),
        payments: Path | None = typer.Option(None, "--payments", help="canonical payments CSV/Parquet/XLSX"),
        debtors: Path | None = typer.Option(
            None, "--debtors", help="canonical debtors CSV/Parquet/XLSX (optional)"
        ),
        events: Path | None = typer.Option(
            None, "--events", help="canonical events CSV/Parquet/XLSX (optional)"
        ),
        statements: Path | None = typer.Option(
            None, "--statements", help="canonical statements CSV/Parquet/XLSX"
        ),
        payment_plans: Path | None = typer.Option(
            None, "--payment-plans", help="canonical payment_plans CSV/Parquet/XLSX (optional: agreed plans)"
        ),
        debtor_history: Path | None = typer.Option(
            None,
            "--debtor-history",
            help="canonical debtor_history CSV/Parquet/XLSX (optional: dated credit_limit / segment / country, "
            "read point in time by the features)",
        ),
        path: list[str] = typer.Option(  # noqa: B008
            [],
            "--path",
            metavar="NAME=FILE",
            help="with --source: override an input path, NAME=FILE (table, ar_export or uci_wide)",
        ),
        as_of: str | None = typer.Option(
            None,
            "--as-of",
            help="YYYY-MM-DD; rows dated after it are quarantined. Default: today (UTC), or the export's "
            "last dated row when that is more than 7 days before today (an old export; said in the "
            "output). With --keep-history the default is today",
        ),
        currency: str | None = typer.Option(
            None, "--currency", help="ISO-4217 for empty currency cells (files mode)"
        ),
        docs: bool = typer.Option(True, "--docs/--no-docs", help="build Great Expectations Data Docs (HTML)"),
        keep_history: bool = typer.Option(
            False,
            "--keep-history",
            help="merge today's accepted rows into the tables --out already holds (a rolling export of the "
            "last months keeps the history seen before it; see KEPT HISTORY above)",
        ),
        sheet: list[str] = typer.Option(  # noqa: B008
            [],
            "--sheet",
            metavar="NAME|TABLE=NAME",
            help="an Excel workbook's sheet (.xlsx inputs are read directly): NAME for every workbook, or "
            "TABLE=NAME for one (repeat). Default: the workbook's only sheet with data",
        ),
        project: Path = typer.Option(
            Path("conf/ews.yaml"),
            "--project-config",
            help="project config file (kind: project): reporting currency and FX rates",
        ),
    ) -> None:
        from pipelines.ingest import TableError, ingest_files, ingest_source
        from pipelines.ingest.stream import WorkerDiedError

        console = ews_console()
        err = ews_console(stderr=True)

        def fail(message: str) -> None:
            err.print(plain("error:", "red"), message, highlight=False, soft_wrap=True)
            raise typer.Exit(2)

        as_of_date = None
        if as_of:
            try:
                as_of_date = dt.date.fromisoformat(as_of)
            except ValueError:
                fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD")
            today, future = after_today([as_of_date])
            if future:
                fail(
                    f"--as-of {as_of_date} is in the future: today is {today} (UTC). Rows dated after today "
                    "would be accepted, and one such date (a typo, a pre-dated invoice) hides how old the "
                    f"export is from `ews score`'s data-lag check. Ingest as of a date up to {today}, or "
                    "leave --as-of out (today)"
                )
        files = {
            k: v
            for k, v in {
                "invoices": invoices,
                "payments": payments,
                "debtors": debtors,
                "events": events,
                "statements": statements,
                "payment_plans": payment_plans,
                "debtor_history": debtor_history,
            }.items()
            if v is not None
        }
        if source is not None and files:
            fail("give either --source or table files (--invoices ...), not both")
        if source is None and not files:
            fail("nothing to ingest: give --source conf/sources/NAME.yaml or --invoices F --payments F ...")
        if path and source is None:
            fail("--path only applies to --source")
        sheets: str | dict[str, str] | None = None
        if len(sheet) == 1 and "=" not in sheet[0]:
            sheets = sheet[0]
        elif sheet:
            if any("=" not in s for s in sheet):
                fail(
                    "--sheet: give one NAME for every workbook, or TABLE=NAME for each (e.g. --sheet invoices=Sales)"
                )
            sheets = {k.strip(): v.strip() for k, _, v in (s.partition("=") for s in sheet)}
        stop = _StopOnTerm()
        try:
            with console.status(plain("ingesting ...")) as status:

                def progress(msg: str) -> None:
                    status.update(plain(f"ingest: {msg} ..."))

                project_cfg = load_project(project)
                fx = project_cfg.currency
                if source is not None:
                    cfg = load_config(source, expect=SourceConfig)
                    if path:
                        cfg = cfg.with_paths(_parse_paths(path))
                    if not docs:
                        cfg = cfg.model_copy(
                            update={"rules": cfg.rules.model_copy(update={"data_docs": False})}
                        )
                    result = ingest_source(
                        cfg,
                        out,
                        as_of=as_of_date,
                        currency=fx,
                        progress=progress,
                        workers=project_cfg.compute.ingest_workers,
                        keep_history=keep_history,
                        sheets=sheets,
                    )
                else:
                    from pipelines.config.source import RulesConfig

                    result = ingest_files(
                        files,
                        out,
                        as_of=as_of_date,
                        settings=RulesConfig(data_docs=docs),
                        default_currency=currency,
                        currency=fx,
                        progress=progress,
                        workers=project_cfg.compute.ingest_workers,
                        keep_history=keep_history,
                        sheets=sheets,
                    )
        except (TableError, ConfigError) as exc:
            fail(str(exc))
        except WorkerDiedError as exc:  # a worker process was killed: one line, nothing published
            fail(exc.says(project, out))
        except ValueError as exc:  # e.g. --path naming an input the source does not have
            fail(str(exc))
        except Terminated as exc:  # kill, systemd stop, docker stop: the cleanup above has run
            from pipelines.adapters.publish import interrupted_ingest

            told = (
                interrupted_ingest(out)
                or f"nothing was published, the previous outputs in {out} are unchanged"
            )
            err.print(plain("stopped:", "red"), f"{exc}; {told}", highlight=False, soft_wrap=True)
            raise typer.Exit(128 + exc.signum) from None
        finally:
            stop.restore()
        print_summary(console, result.manifest, out, project_cfg.default_definition.to_params(), project)
