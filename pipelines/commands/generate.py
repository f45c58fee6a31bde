"""``ews generate``: write a synthetic portfolio with known ground truth (oracle PD)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.console import console as ews_console
from pipelines.console import plain
from pipelines.synthetic.regimes import REGIMES

# ews ingest's option per generated table, in the order its --help lists them
INGEST_OPTIONS = {
    "invoices": "--invoices",
    "payments": "--payments",
    "debtors": "--debtors",
    "events": "--events",
    "statements": "--statements",
    "payment_plans": "--payment-plans",
}


def next_steps(
    out: Path, start: dt.date, months: int, today: dt.date | None = None, currency: str | None = None
) -> str:
    """What a generated book covers and the `ews ingest` command that reads it (s25-newuser: a new user
    had to guess both the as-of date to score and which files ingest takes). A history that ends
    after ``today`` (UTC; the contagion regime's 48 months from 2023-01-01) cannot be scored at its
    end: ingest (as of today) quarantines its later rows and a future ``--as-of`` is refused, so the
    lines say so and give the ``--start`` that ends it by today (s25-review). ``currency``: the book's
    currency; statements carry no currency column, so their ingest names it (``--currency``): without
    it every amount of the statements walk was written without a code (session 32)."""
    import pandas as pd

    def last_day(first: dt.date) -> dt.date:
        return (pd.Timestamp(first) + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()

    end = last_day(start)
    today = today or dt.datetime.now(dt.UTC).date()
    files = [
        f"{option} {path}"
        for table, option in INGEST_OPTIONS.items()
        for path in sorted(out.glob(f"{table}.*"))
        if path.suffix in {".parquet", ".csv"}
    ]
    if currency and any(out.glob("statements.*")):
        files.append(f"--currency {currency}")
    ingest = f"next: ews ingest {' '.join(files)} --out data/ingested"
    if end > today:
        fits = ((pd.Timestamp(today) + pd.Timedelta(days=1)).to_period("M") - months).to_timestamp().date()
        return (
            f"history {start.isoformat()} .. {end.isoformat()}: it ends after today ({today.isoformat()}), so "
            f"`ews ingest` (as of today) quarantines its rows dated after today (date_after_as_of) and a "
            f"future --as-of is refused. For a book to score at its end, generate it again with --start "
            f"{fits.isoformat()} (ends {last_day(fits).isoformat()}); "
            f"this one scores as of {today.isoformat()} or earlier.\n{ingest}"
        )
    return (
        f"history {start.isoformat()} .. {end.isoformat()}: score as of {end.isoformat()} or earlier "
        f"(`ews score --as-of {end.isoformat()}`); truth.parquet is for `ews backtest --truth`.\n{ingest}"
    )


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_cmd(
        regime: str = typer.Option(
            "base",
            "--regime",
            help=f"Named dynamics and book defaults: {', '.join(REGIMES)} (README, 'Generate synthetic data').",
        ),
        debtors: int | None = typer.Option(
            None,
            "--debtors",
            min=1,
            help="Number of debtors (active at start + onboarded); default per regime.",
        ),
        months: int | None = typer.Option(
            None,
            "--months",
            min=1,
            max=240,
            help="Months of history (month-end snapshots); default per regime.",
        ),
        seed: int = typer.Option(
            0, "--seed", min=0, help="Random seed: same seed and options = identical tables."
        ),
        out: Path = typer.Option(..., "--out", help="Output folder (created; existing tables are replaced)."),
        fmt: str = typer.Option("parquet", "--format", help="Ledger table format: parquet or csv."),
        ledger: str = typer.Option(
            "invoices",
            "--ledger",
            help="invoices: invoices and payments; statements: one monthly statement per debtor and "
            "month-end instead (balance, amount due, amount paid, days past due, credit limit), read off "
            "the same generated ledger, as a bank or leasing export would give it.",
        ),
        defects: float = typer.Option(
            0.0, "--defects", min=0.0, max=0.49, help="Share of extra corrupted rows in invoices/payments."
        ),
        credit_memos: float = typer.Option(
            0.0,
            "--credit-memos",
            min=0.0,
            max=0.5,
            help="Share of fully paid invoices that get a credit memo (a payments row with kind=credit, "
            "dated after the invoice): half of those with one payment credited in full (no cash), the others "
            "partly (10-50 % of the last payment). 0 (default): no memos, the book as before.",
        ),
        start: str = typer.Option("2023-01-01", "--start", help="First day of the history (YYYY-MM-01)."),
        annual_default_rate: float | None = typer.Option(
            None,
            "--annual-default-rate",
            help="Target default rate per debtor-year (0-0.5); default per regime.",
        ),
        volume_scale: float | None = typer.Option(
            None,
            "--volume-scale",
            help="Multiplier of invoice volumes (1.4 = ~4 invoices per debtor-month); default per regime.",
        ),
    ) -> None:
        """Generate a synthetic receivables portfolio with known ground truth.

        Writes debtors, invoices, payments and events (parquet or csv), or with --ledger statements debtors,
        statements and events, plus truth.parquet and generate-summary.json.

        truth.parquet has one row per debtor per month-end: latent health, oracle PD (probability of default
        within 90 days given the latent state) and the realised first-default date.

        The oracle's AUC against the realised labels (the ceiling for any model) is printed.
        """
        from pipelines.synthetic import generate, regime_params

        console = ews_console()
        if fmt not in ("parquet", "csv"):
            console.print(f"--format must be parquet or csv, got {fmt!r}", style="red")
            raise typer.Exit(2)
        if ledger not in ("invoices", "statements"):
            console.print(f"--ledger must be invoices or statements, got {ledger!r}", style="red")
            raise typer.Exit(2)
        if ledger == "statements" and credit_memos:
            console.print("--credit-memos adds payment rows: not with --ledger statements", style="red")
            raise typer.Exit(2)
        if ledger == "statements" and defects:
            console.print(
                "--defects corrupts invoice and payment rows: not with --ledger statements", style="red"
            )
            raise typer.Exit(2)
        try:
            start_date = dt.date.fromisoformat(start)
            params = regime_params(
                regime,
                debtors=debtors,
                months=months,
                seed=seed,
                start=start_date,
                annual_default_rate=annual_default_rate,
                volume_scale=volume_scale,
            )
        except ValueError as exc:
            console.print(plain(f"invalid option: {exc}", "red"), "(see ews generate --help)")
            raise typer.Exit(2) from None
        t0 = time.perf_counter()
        with Progress(
            TextColumn("generating", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("debtors", markup=False),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("gen", total=params.debtors)
            summary = generate(
                params,
                out,
                fmt=fmt,
                defects=defects,
                credit_memos=credit_memos,
                progress=lambda done, total: bar.update(task, completed=done),
            )
        if ledger == "statements":
            from pipelines.synthetic.statements import convert_to_statements

            summary = convert_to_statements(out, fmt, summary)
        rows = ", ".join(f"{k} {v:,}" for k, v in summary["rows"].items())
        d, o = summary["defaults"], summary["oracle"]
        console.print(
            plain("wrote", "green"),
            f"{out}  (regime {params.regime}, {params.debtors:,} debtors x {params.months} months; "
            f"{rows}) in {time.perf_counter() - t0:.1f} s",
        )
        rate = "n/a" if d["realised_annual_rate"] is None else f"{d['realised_annual_rate']:.2%}"
        auc = "n/a (no defaults observed)" if o["auc"] is None else f"{o['auc']:.3f}"
        console.print(
            f"default rate: realised {rate} per year (configured {d['configured_annual_rate']:.2%}); "
            f"oracle AUC {auc} on {o['rows_scored']:,} debtor-months with {o['positives']:,} defaults "
            f"within {o['horizon_days']} days"
        )
        if summary["defects_injected"]:
            console.print(f"defects injected: {summary['defects_injected']}")
        console.print(
            next_steps(out, params.start, params.months, currency=params.currency),
            highlight=False,
            soft_wrap=True,
        )
