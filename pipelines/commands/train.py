"""``ews train``: run the train flow on a data dir and print the outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.cli_options import (
    DATA_HELP,
    ENGINE_HELP,
    RAW_HELP,
    SCHEDULER_HELP,
    check_data_dir,
    check_engine,
)
from pipelines.console import console as ews_console
from pipelines.words import METRIC_WORDS, counted, metric_figure

# What ``ews train`` reports as a one-line user error (a book too small or too short, a config the
# data cannot meet): Prefect's task and flow-run logs then keep the message and drop the traceback.
TRAIN_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        data: Path = typer.Option(..., "--data", help=DATA_HELP),
        config: Path = typer.Option(
            Path("conf/train.yaml"),
            "--config",
            help="train config (kind: train): snapshots, out-of-time split, LightGBM, calibration, gate.",
        ),
        raw: bool = typer.Option(False, "--raw", help=RAW_HELP),
        engine: str | None = typer.Option(None, "--engine", help=ENGINE_HELP + " (feature building only)"),
        scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            "-v",
            help="also print why the challenger was chosen, the features left out, the queue key's evidence "
            "and every gate check (default: the figures and, last, each model's verdict in a sentence; the "
            "checks are kept in `ews models history --verbose`)",
        ),
    ) -> None:
        """Train, calibrate and evaluate a PD model, log it to MLflow and register it as `challenger`;
        then the payment-date model (`ews-paydate`, its own versions and aliases). The last lines
        are the verdict: for each model, promoted or not and why, in a sentence.

        Builds month-end snapshots (features + labels), splits them out of time (train, then
        calibration, then the latest fully observed snapshot as test), fits LightGBM and a WoE
        scorecard baseline, and moves the `champion` alias when the promotion gate in the config
        passes. A book too small for those windows (split.min_defaults each) gets the roll-rate
        model instead (PDs by days-past-due state; rollrate: in the config, docs/small_books.md).
        MLflow: MLFLOW_TRACKING_URI, else paths.mlflow_tracking_uri of the project config.
        Who trained is recorded on each registry event (`ews models history`, "by") as every ews command
        records who: the environment variable EWS_USER, else the login name (`ews train` has no --by).
        With --engine dask the snapshots are built one Dask task per debtor bucket; LightGBM
        always trains on this machine (lightgbm.dask has open hang and early-stopping issues).
        """
        from pipelines.commands.score import interrupt_said

        # Ctrl-C before the flows, between them or after: said too, as within them (s44-flake)
        at: dict[str, Any] = {}
        with interrupt_said(
            lambda: interrupted_training(config, at["before"]) if "before" in at else interrupted_before()
        ):
            check_data_dir(data, raw)
            check_payments(data)  # before anything imports Prefect (its log handlers keep the console)
            from pipelines.commands.score import bucket_bars, flow_runtime
            from pipelines.flows.train import run_train
            from pipelines.runtime import said_once

            console = ews_console()
            check_engine(engine)
            check_train_config(config)
            at["before"] = before = registry_state(config)
            try:
                with (
                    flow_runtime(
                        also=TRAIN_USER_ERRORS, interrupted=lambda: interrupted_training(config, before)
                    ),
                    # the small-book warning and the queue key in the summary below only; a refusal once, as "error:"
                    said_once(TRAIN_USER_ERRORS),
                    bucket_bars(console, f"training on {data} (snapshots, fit, calibrate, log)"),
                ):
                    result = run_train(data, config, raw, engine, scheduler)
            except TRAIN_USER_ERRORS as exc:
                typer.secho(
                    f"error: {str(exc).splitlines()[0] if len(str(exc)) > 400 else exc}", fg="red", err=True
                )
                from models.split import BookTooSmallError

                if isinstance(exc, BookTooSmallError) and "cannot train a PD model on this book yet" in str(
                    exc
                ):
                    # below the roll-rate minimum: the payment-date model needs no defaults, and `ews score`'s run
                    # without a PD model (pipelines.scoring.nomodel) publishes its cash-in forecast meanwhile
                    pay = train_paydate_step(
                        console, data, config, raw, engine, scheduler, verbose, before, pd_model=False
                    )
                    if not isinstance(pay, str):
                        console.print(verdict_said(f"ews-paydate v{pay.version}", pay))
                    else:
                        console.print(f"ews-paydate: {pay}", highlight=False)
                raise typer.Exit(2) from None
            if result.kind == "rollrate":
                print_rollrate(console, result, verbose)
            else:
                print_pd(console, result, verbose)
            pay = train_paydate_step(console, data, config, raw, engine, scheduler, verbose, before)
            print_verdicts(console, result, pay, verbose)


def registry_state(config: Path) -> dict[str, tuple[int | None, str | None]] | None:
    """Per model ``ews train`` registers (the train config's PD model, ``ews-paydate``): its latest
    version number and the version its ``champion`` alias names (None: none). None when the store
    cannot be read (what :func:`interrupted_training` then says is less precise)."""
    from pipelines.adapters.registry_view import PAYDATE_MODEL_NAME, read_versions, tracking_uri
    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig
    from pipelines.flows.train import load_project

    try:
        cfg = load_config(config, expect=TrainConfig)
        uri = tracking_uri(load_project(cfg, config).paths.mlflow_tracking_uri)
        state = {}
        for name in (cfg.model_name, PAYDATE_MODEL_NAME):
            records = read_versions(name, uri) or []
            numbers = [int(r.version) for r in records if str(r.version).isdigit()]
            champion = next((r.version for r in records if "champion" in r.aliases), None)
            state[name] = (max(numbers) if numbers else None, champion)
        return state
    except Exception:  # noqa: BLE001 - a store that cannot be read here is said by the command itself
        return None


AGAIN = "the same command again trains on the same data from the start and reaches the same verdicts"


def interrupted_before() -> str:
    """What ``ews train`` says when Ctrl-C stops it before it read the registry (its checks, the imports of
    its flows): nothing could be registered yet."""
    return f"no model version was registered (training had not started); {AGAIN}"


def interrupted_training(config: Path, before: dict[str, tuple[int | None, str | None]] | None) -> str:
    """What ``ews train`` says when Ctrl-C stops it (``pipelines.commands.score.said_interrupted``): the
    versions registered and the champions moved since it started (:func:`registry_state` then and
    now), and that the same command trains again from the start on the same data."""
    now = registry_state(config)
    if before is None or now is None:
        return f"see `ews models history` for what was registered before it; {AGAIN}"
    said = []
    for name, (latest, champion) in now.items():
        old_latest = before.get(name, (None, None))[0]
        if latest is not None and latest != old_latest:
            moved = "now champion" if str(champion) == str(latest) else "the champion unchanged"
            said.append(f"{name} v{latest} was registered ({moved})")
    if not said:
        champions = ", ".join(f"{n} v{c}" for n, (_l, c) in now.items() if c is not None)
        kept = f" (champions {champions})" if champions else ""
        return f"no model version was registered and no champion changed{kept}; {AGAIN}"
    return f"{'; '.join(said)} before the interrupt; {AGAIN}"


def print_pd(console: Console, result: Any, verbose: bool) -> None:
    """What ``ews train`` shows for a LightGBM or scorecard challenger: the metrics table and its windows,
    the queue key (a small book's model choice in its one short line); with ``verbose`` also why the
    challenger was chosen, the features left out and every gate check (the verdict is
    :func:`print_verdicts`')."""
    from pipelines.flows.train import said

    console.print(metrics_table(result))
    if result.headline:  # a small book's model choice: one short line, as the roll-rate model's
        console.print(f"challenger: {said(result)}")
    elif verbose:
        console.print(f"challenger: {result.selection}")
    console.print(windows_line(result.plan, result.shipped_calibration, result.fold_calibrated))
    if verbose and result.dropped:
        console.print(dropped_line(result.dropped), highlight=False)
    print_queue_key(console, result, verbose)
    if verbose:
        print_checks(console, result)


KIND_SAID = {"lightgbm": "LightGBM", "scorecard": "scorecard", "rollrate": "roll-rate model"}


def print_queue_key(console: Console, result: Any, verbose: bool) -> None:
    """The collections queue's key: its evidence in full with --verbose, else its first clause."""
    from pipelines.adapters.registry_view import short_reason

    reason = result.queue_key_reason if verbose else short_reason(result.queue_key_reason, limit=160)
    console.print(f"collections queue key: {reason}")


def print_checks(console: Console, result: Any) -> None:
    """Every check of a gate (``ews train --verbose``; always in ``ews models history --verbose``)."""
    console.print("gate", gate_verdict(result.promoted, result.gate_reasons))
    for reason in result.gate_reasons:
        console.print(f"  - {reason}")


def verdict_said(label: str, outcome: Any) -> Text:
    """A gate's decision in a line: ``label``, the verdict in its colour, then the registry's plain words
    (``outcome.gate_summary``; a pass's "Promoted: " dropped, the verdict says it), else the failed checks."""
    summary = outcome.gate_summary
    if outcome.promoted:
        text = (summary or "Promoted: every check passed.").removeprefix("Promoted: ")
        said = text[:1].upper() + text[1:]
    elif summary:
        said = summary
    else:
        said = (
            "Not promoted: "
            + "; ".join(r.removeprefix("FAIL ") for r in outcome.gate_reasons if r.startswith("FAIL "))
            + "."
        )
    return Text.assemble(f"{label}: gate ", gate_verdict(outcome.promoted, outcome.gate_reasons), f". {said}")


def print_verdicts(console: Console, result: Any, pay: Any, verbose: bool) -> None:
    """The last lines of ``ews train``: each model's gate verdict and why, in a sentence (s35-walk: on a
    5,000-debtor book the PD verdict came after 45 lines, and the payment-date flow's log and summary
    followed it), then what to do without a champion and where every check is."""
    console.print()
    console.print(
        verdict_said(f"ews-pd v{result.version} ({KIND_SAID.get(result.kind, result.kind)})", result)
    )
    if getattr(result, "level_note", ""):  # the test rows' PDs vs their defaults (s44-pdlevel)
        console.print(result.level_note, style="yellow", highlight=False)
    if (
        not result.promoted
        and result.champion_before is None
        and "ews models promote" not in result.gate_summary
    ):
        console.print(no_champion_said(result.version), style="yellow")  # the command that accepts it
    if pay is not None and not isinstance(pay, str):
        console.print(verdict_said(f"ews-paydate v{pay.version}", pay))
        from pipelines.words import cash_error_said

        cash = cash_error_said(pay.metrics.get("cash_wape"), pay.metrics.get("cash_weeks"))
        # the gate judges payment dates, not weekly totals; a version not promoted forecasts nothing (third
        # simulator 200 x 36 s77: refused v2's "off by 110%" read as the forecast the champion kept making)
        if pay.promoted and cash is not None and "rough guide" in cash:
            console.print(
                f"ews-paydate v{pay.version}'s cash-in forecast: {cash}", style="yellow", highlight=False
            )
    elif pay:  # not trained: why, in a line
        console.print(f"ews-paydate: {pay}", highlight=False)
    if not verbose:
        paydate = " [--name ews-paydate]" if pay is not None and not isinstance(pay, str) else ""
        console.print(f"every check: `ews models history -v{paydate}`; all: `ews train -v`", highlight=False)


def dropped_line(dropped: dict[str, str]) -> Text:
    """The features left out of the model, in words (it printed the Python dict
    ``{'overdue_amount_90p': 'constant', ...}``)."""
    names = ", ".join(f"{name} ({why} on the training rows)" for name, why in sorted(dropped.items()))
    return Text.assemble(("dropped features", "yellow"), f" (not used by the model): {names}")


def metric_cells(
    key: str, value: float, interval: tuple[float, float] | None, others: list[float]
) -> list[str]:
    """One row of a console metrics table: the metric in words, the value, its interval and the
    comparison columns, rates in % (two decimals, no space: the LightGBM table fits 80 columns), the
    other figures with four decimals."""
    name = METRIC_WORDS.get(key, (key.replace("_", " "), False))[0]

    def shown(v: float) -> str:
        return metric_figure(key, v)

    span = f"{shown(interval[0])}..{shown(interval[1])}" if interval else ""
    return [name, shown(value), span, *(shown(v) for v in others)]


def metrics_table(result: Any) -> Table:
    """The challenger's test metrics beside LightGBM's and the baseline's, with the debtor intervals;
    metric names in words, never cut (at 80 columns they read "test_capture_5p…", "test_default_ra…")."""
    table = Table(title=f"ews-pd v{result.version}  (run {result.run_id[:12]})")
    ci = (result.intervals or {}).get("challenger", {})
    table.add_column("metric", no_wrap=True)  # "metric (out of time)" cut the interval at 80 columns
    table.add_column(f"challenger: {result.kind}", justify="right")
    table.add_column("95% interval (debtors)", justify="right")
    table.add_column("LightGBM", justify="right")
    # a small book's LightGBM fitted on every labelled month-end is compared with the roll-rate model
    table.add_column("scorecard" if result.plan.get("calibration") else "roll-rate model", justify="right")
    lgbm = result.lightgbm_metrics or {}
    for key, value in result.metrics.items():
        others = [lgbm.get(key, float("nan")), result.baseline_metrics[key]]
        table.add_row(*metric_cells(key, value, ci.get(key), others))
    return table


def windows_line(plan: dict[str, list[str]], calibration: str = "none", fold_calibrated: bool = False) -> str:
    """The line under the metrics table: the test and calibration windows, or, for a small book's
    LightGBM fitted on every labelled month-end (no calibration window, ``rollrate.all_labelled``),
    that its test_* figures are the inner folds' out-of-time month-ends (an empty calibration window
    raised IndexError after the model was registered, and the payment-date model was never trained)
    and the registered model's calibrator (``calibration``: its method); ``fold_calibrated``: the fold
    models scored through their own calibrators (``models.smallbook.fold_calibrators``)."""
    from pipelines.flows.train import calibrator_words

    test, cal = plan["test"], plan.get("calibration") or []
    if not cal:
        return (
            f"no test window: every test_* figure is the inner folds' out-of-time month-ends {test[0]}..{test[-1]} "
            f"({len(test)}), the fold models {'each behind its own calibrator' if fold_calibrated else 'uncalibrated'}; "
            "the registered model is LightGBM fitted on every "
            f"labelled snapshot, {calibrator_words(calibration or 'none')}"
        )
    return (
        f"test window {test[0]}..{test[-1]} ({counted(len(test), 'snapshot')}); calibration {cal[0]}..{cal[-1]}; "
        "the registered model is refitted on every labelled snapshot"
    )


def gate_verdict(promoted: bool, reasons: Any = ()) -> Text:
    """The gate's verdict in its colour (green: now champion; yellow: champion unchanged, or promoted with
    a ``WARN`` check: a first model whose only failed check, the ECE limit, was kept as a warning; it read
    "passed: now champion. Promoted with a warning" before session 37)."""
    if promoted and any(str(r).startswith("WARN ") for r in reasons or ()):
        return Text("passed with a warning: now champion", "yellow")
    return Text("passed: now champion", "green") if promoted else Text("failed: champion unchanged", "yellow")


def check_payments(data: Path) -> None:
    """Before Prefect starts: an ingest folder of invoices without any payment (an open-items report
    ingested alone, such as Sage's aged debtors) is refused, exit 2: nothing was ever paid there, so
    every old invoice would be a default and the payment-date model has no settlement to learn from
    (it failed late, naming neither cause nor fix)."""
    manifest = Path(data) / "manifest.json"
    if not manifest.is_file():
        return
    try:
        tables = json.loads(manifest.read_text(encoding="utf-8")).get("tables", {})
    except (OSError, ValueError):
        return
    invoices = int(tables.get("invoices", {}).get("rows_accepted") or 0)
    payments = int(tables.get("payments", {}).get("rows_accepted") or 0)
    if invoices and not payments:
        typer.secho(
            f"error: {data} holds {invoices:,} invoices and no payments: nothing was ever paid there, so every "
            "invoice stays open (each one 90 days past due a default) and there is no payment history to learn "
            "from. An open-items report (aged debtors) gives today's balances only. Ingest the payments too "
            "(tables.payments in the source config, or --payments FILE), or an export with the date each invoice "
            "was paid (ar_export, settled_on); conf/sources/README.md",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)


def check_train_config(config: Path) -> None:
    """Before Prefect starts: the train config and the project config it names load (exit 2 with the
    loader's message otherwise). A missing or invalid file used to surface only after the temporary
    Prefect server had started (~30 s on a 2-core box, measured outside the project folder)."""
    from pipelines.adapters.registry_view import StoreUnreadableError, check_sqlite_store, tracking_uri
    from pipelines.config import ConfigError, load_config
    from pipelines.config.train import TrainConfig
    from pipelines.flows.train import load_project
    from pipelines.project_dir import who_ran

    try:
        project = load_project(load_config(config, expect=TrainConfig), config)
        uri = tracking_uri(project.paths.mlflow_tracking_uri)
        if uri.startswith("sqlite:///"):  # a damaged store: said now, not after the features (s36-attack)
            check_sqlite_store(Path(uri.removeprefix("sqlite:///")))
        who_ran()  # an EWS_USER on two lines: said now, not when the trained model is registered
    except (ConfigError, StoreUnreadableError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


ROLLRATE_BASELINE_NOTE = (
    "book's default rate: every debtor of a month-end at the default rate the book showed by then. It does not "
    "rank debtors: its AUC, Gini and KS compare month-ends only (near or below 0.5, 0 and 0); read its Brier "
    "score and log loss against the model's"
)


def print_rollrate(console: Console, result: Any, verbose: bool = True) -> None:
    """What ``ews train`` shows for the roll-rate model of a small book (its gate's checks with
    ``verbose``; the verdict is :func:`print_verdicts`')."""
    from pipelines.flows.train import said

    ci = (result.intervals or {}).get("challenger", {})
    console.print(said(result) if result.headline else result.selection.split(". ")[0], style="yellow")
    table = Table(title=f"ews-pd v{result.version}: roll-rate model  (run {result.run_id[:12]})")
    table.add_column("metric (out of time)")
    table.add_column("roll-rate", justify="right")
    table.add_column("95% interval (debtors)", justify="right")
    # the baseline: every debtor at the book's default rate known at the month-end (the gate's)
    table.add_column("book's default rate", justify="right")
    base = result.baseline_metrics or {}
    for key in ("auc", "gini", "ks", "brier", "ece", "logloss", "mean_pd", "default_rate"):
        value = result.metrics.get(key, float("nan"))
        table.add_row(*metric_cells(key, value, ci.get(key), [base.get(key, float("nan"))]))
    console.print(table)
    if base:  # its AUC below 0.5 read as a broken baseline (s34-walk: 0.4117, Gini -0.1766, KS 0.0000)
        console.print(ROLLRATE_BASELINE_NOTE, highlight=False)
    test = result.plan["test"]
    console.print(
        f"test month-ends {test[0]}..{test[-1]} ({len(test)}), each scored by the matrix fitted on the moves "
        "observed by it; the registered matrix uses every month-end"
    )
    print_queue_key(console, result, verbose)
    if verbose:
        print_checks(console, result)


def print_no_champion(console: Console, result: object) -> None:
    """A failed gate with no champion before it leaves the book with no model to score with: say so
    in plain words, and how to accept this version (a first-time user otherwise meets it only in
    `ews score`)."""
    if not result.promoted and getattr(result, "gate_summary", ""):
        console.print(result.gate_summary, style="yellow")
    if result.promoted or result.champion_before is not None:
        return
    console.print(no_champion_said(result.version), style="yellow")


def no_champion_said(version: str) -> str:
    """A failed gate on a book with no champion: what it means and the command that accepts ``version``."""
    return (
        "no champion yet: `ews score` runs without a PD model until a version is promoted. Training again on "
        f'the same data gives the same verdict; to accept v{version} as it is: ews models promote {version} --reason "..."'
    )


def holds_invoices(data: Path) -> bool:
    """False when ``data`` is an ``ews ingest`` folder whose manifest accepted no invoice (a statements
    book), or a raw folder without an invoices file; True otherwise (the flow then decides)."""
    manifest = Path(data) / "manifest.json"
    if manifest.is_file():
        try:
            tables = json.loads(manifest.read_text(encoding="utf-8")).get("tables", {})
        except (OSError, ValueError):
            return True
        return bool(tables.get("invoices", {}).get("rows_accepted"))
    return not Path(data).is_dir() or any(Path(data).glob("invoices.*"))


def train_paydate_step(
    console: Console,
    data: Path,
    config: Path,
    raw: bool,
    engine: str | None,
    scheduler: str | None,
    verbose: bool = True,
    before: dict[str, tuple[int | None, str | None]] | None = None,
    pd_model: bool = True,
) -> Any:
    """The second step of ``ews train``: the payment-date model (``ews-paydate``). A book too short
    for it is a warning: the PD model above is already registered (``pd_model`` False: the PD model was
    refused as too small, the payment-date model is trained alone). Returns the training's result, or
    why there is none (a sentence, for :func:`print_verdicts`). ``before``: the registry when ``ews
    train`` started (:func:`registry_state`), for what Ctrl-C says."""
    from pipelines.commands.score import bucket_bars, flow_runtime
    from pipelines.flows.train_paydate import run_train_paydate
    from pipelines.runtime import said_once

    if not holds_invoices(data):
        return (
            "skipped, the book has no invoices (monthly statements carry no "
            "invoice due dates to learn payment dates from); forecasts and cash-in need an invoice ledger"
        )
    try:
        with (
            flow_runtime(also=TRAIN_USER_ERRORS, interrupted=lambda: interrupted_training(config, before)),
            said_once(
                TRAIN_USER_ERRORS
            ),  # the short-history warning in the summary below only; an error once
            bucket_bars(console, "payment-date model (person-period rows, fit, evaluate, log)"),
        ):
            pay = run_train_paydate(data, config, raw, engine, scheduler)
    except TRAIN_USER_ERRORS as exc:
        typer.secho(
            f"warning: payment-date model not trained: {str(exc).splitlines()[0]}", fg="yellow", err=True
        )
        return "not trained (the warning above says why)" + (
            "; the PD model is registered" if pd_model else ""
        )
    m = pay.metrics
    if pay.history_note:  # one short line (only here); the flow-run log above has the note in full
        console.print(f"payment-date model: {pay.history_headline or pay.history_note}", style="yellow")
    console.print(
        f"ews-paydate v{pay.version}: held-out MAE {m['mae_days']:.2f} days (paid on due date "
        f"{m['due_date_mae_days']:.2f}, due date + mean lateness {m['due_plus_lateness_mae_days']:.2f}), "
        f"within 7 days {m['within_7d']:.1%}, p10-p90 coverage {m['coverage_80']:.1%}, weekly cash error "
        f"{m.get('cash_wape', float('nan')):.1%}",
    )
    if verbose:
        print_checks(console, pay)
    return pay
