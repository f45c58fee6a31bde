"""``ews demo``: the main job end to end on embedded defaults.

Stage 1 (ingest + validation): the committed sample in ``data/sample/`` when present, otherwise a
tiny built-in ledger written to ``data/demo/input/``. Outputs go to ``data/demo/``.
Stage 2 (with the sample): train and promote a model (MLflow) on the ingested tables
(``data/demo/ingest``, validated once), then run the nightly flow on them for the day before the
last date in the data and for that date, publishing ``data/demo/runs/<as_of>/``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines.config.project import CurrencyConfig
from pipelines.console import console as ews_console
from pipelines.console import plain

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_DIR = Path("data/sample")
# the committed sample's `ews generate` options (Makefile `sample`, data/sample/README.md)
SAMPLE_ARGS = (
    "--debtors 5000 --months 36 --seed 7 --annual-default-rate 0.09 --volume-scale 0.3 --start 2023-01-01"
)
DEMO_DIR = Path("data/demo")


def builtin_ledger() -> dict[str, pd.DataFrame]:
    """A tiny hand-made ledger (3 debtors) with two deliberately bad rows to show quarantine."""
    import pandas as pd

    debtors = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3"],
            "name": ["Acme GmbH", "Borealis SA", "Cobalt Ltd"],
            "segment": ["manufacturing", "retail", "logistics"],
            "country": ["DE", "FR", "GB"],
            "credit_limit": [50000.0, 20000.0, 10000.0],
            "onboarded_on": ["2023-01-15", "2023-03-01", "2023-06-10"],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"],
            "debtor_id": ["D1", "D1", "D2", "D2", "D3", "D3", "D3", "D1"],
            "issue_date": [
                "2024-01-05",
                "2024-02-05",
                "2024-01-10",
                "2024-03-10",
                "2024-01-20",
                "2024-02-20",
                "2024-03-20",
                "2024-04-05",
            ],
            "due_date": [
                "2024-02-04",
                "2024-03-06",
                "2024-02-09",
                "2024-04-09",
                "2024-02-19",
                "2024-03-21",
                "2024-03-01",  # before its issue date -> quarantined
                "2024-05-05",
            ],
            "amount": [1200.0, 800.0, 5000.0, 2500.0, 900.0, 1100.0, 700.0, 1500.0],
            "currency": ["EUR", "EUR", "EUR", "EUR", "GBP", "GBP", "GBP", "EUR"],
            "disputed": [False, False, False, True, False, False, False, False],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "debtor_id": ["D1", "D1", "D2", "D3", "D3", "D9"],  # D9 is unknown -> quarantined
            "invoice_id": ["I1", "I2", "I3", "I5", None, None],
            "paid_on": ["2024-02-01", "2024-03-20", "2024-04-15", "2024-03-30", "2024-04-02", "2024-04-02"],
            "amount": [1200.0, 800.0, 2000.0, 900.0, 300.0, 100.0],
        }
    )
    events = pd.DataFrame(
        {"debtor_id": ["D3"], "event_date": ["2024-05-15"], "kind": ["agency_placement"], "amount": [1800.0]}
    )
    return {"debtors": debtors, "invoices": invoices, "payments": payments, "events": events}


# The built-in ledger bills D3 in GBP: converted into EUR at ingest (in a real project: conf/ews.yaml).
DEMO_CURRENCY = CurrencyConfig(reporting="EUR", rates={"GBP": 1.17})


def demo_inputs(root: Path = Path("."), out: Path = DEMO_DIR) -> tuple[dict[str, Path], str]:
    """The demo's input files and a label for where they came from.

    The committed sample under ``root/data/sample`` when present; otherwise the built-in ledger,
    written as CSV to ``root/out/input``.
    """
    from pipelines.adapters.files import find_table_files, write_csv_atomic

    sample = find_table_files(root / SAMPLE_DIR)
    if "invoices" in sample and "payments" in sample:
        return sample, f"committed sample {root / SAMPLE_DIR}"
    folder = root / out / "input"
    files = {}
    for table, frame in builtin_ledger().items():
        files[table] = write_csv_atomic(frame, folder / f"{table}.csv")
    return files, f"built-in ledger written to {folder}"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(DEMO_DIR, "--out", help="where the demo writes its outputs"),
        as_of: str | None = typer.Option(
            None, "--as-of", help="YYYY-MM-DD, the ingest's as-of date; default as `ews ingest`'s"
        ),
    ) -> None:
        """Run the main job end to end on embedded defaults and print where the outputs are."""
        from pipelines.adapters.files import OutputError, find_table_files
        from pipelines.commands.ingest import print_summary
        from pipelines.ingest import TableError, ingest_files

        console = ews_console()
        files, origin = demo_inputs(Path("."), out)
        console.print(plain("ews demo", "bold"), f": input = {origin}", sep="")
        as_of_date = dt.date.fromisoformat(as_of) if as_of else None
        try:
            with console.status(plain("ingest + Great Expectations validation ...")):
                result = ingest_files(files, out / "ingest", as_of=as_of_date, currency=DEMO_CURRENCY)
        except (TableError, OutputError) as exc:
            console.print(plain("error:", "red"), str(exc))
            raise typer.Exit(2) from None
        print_summary(console, result.manifest, out / "ingest")

        # stage 2: train + promote, then the nightly flow for the last two dates (so there are deltas)
        sample = find_table_files(SAMPLE_DIR)
        if "invoices" not in sample:
            console.print(
                plain(f"no sample in {SAMPLE_DIR}", "yellow"),
                "(a source checkout commits one): the built-in ledger is "
                "too small to train on. Write the sample here, then run `ews demo` again to train and score:\n"
                f"  ews generate {SAMPLE_ARGS} --out {SAMPLE_DIR}",
                highlight=False,
                soft_wrap=True,
            )
            return
        from pipelines.commands.score import _user_errors, demo_train_and_score, flow_runtime

        started = time.perf_counter()
        try:
            with flow_runtime():
                demo_train_and_score(console, out / "ingest", out / "runs")
        except _user_errors() as exc:
            console.print(plain("error:", "red"), str(exc))
            raise typer.Exit(2) from None
        console.print(
            plain("ews demo", "bold"),
            f"finished: training + two nightly runs in {time.perf_counter() - started:.0f} s",
        )
