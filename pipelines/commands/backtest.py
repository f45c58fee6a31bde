"""``ews backtest``: replay the nightly scoring on past month-ends; capture of the queue, watchlist
precision / recall and lead time (:mod:`pipelines.backtest`)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines.cli_options import out_inside_data
from pipelines.commands import fail, parse_date
from pipelines.words import LIST_RULE_WORDS, counted

if TYPE_CHECKING:
    import pandas as pd

    from features.tables import Portfolio
    from pipelines.config.nightly import NightlyConfig


def _inside_the_data(data: Path, dates: list, d1: dt.date, d2: dt.date) -> list:
    """The month-ends of ``dates`` inside the dated rows of an ingested ``data`` (a raw folder:
    ``dates`` as given). None inside: exit 2 (before: a range after the data replayed 0 debtor-months
    with exit 0 and every figure empty; one before it replayed the debtors' master rows and called
    the model in-sample there). Some outside: left out, with a warning."""
    from pipelines.engine import is_ingested
    from pipelines.scoring.data_window import data_window

    window = data_window(data) if is_ingested(data) else None
    if window is None:
        return dates
    first, last = window
    inside = [d for d in dates if first <= d.date() <= last]
    if not inside:
        fail(
            f"no month-end from {d1} to {d2} lies inside the data of --data {data} (dated rows from {first} "
            f"to {last}): there is nothing to replay. Pass --from/--to between {first} and {last}"
        )
    if len(inside) < len(dates):
        outside = [d.date().isoformat() for d in dates if d not in inside]
        typer.secho(
            f"warning: {counted(len(outside), 'month-end')} outside the data of --data {data} ({first} to {last}) "
            f"left out: {', '.join(outside[:6])}{' ...' if len(outside) > 6 else ''}",
            fg="yellow",
            err=True,
        )
    return inside


TRUTH_COLUMNS = ("debtor_id", "month_end", "oracle_pd")


def _truth_problem(path: Path) -> str | None:
    """Why ``--truth`` cannot be read (not Parquet, columns missing), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError) as exc:
        return (
            f"--truth {path} is not a readable Parquet file ({str(exc).splitlines()[0][:120]}): give the "
            "truth.parquet that `ews generate` writes beside a synthetic book"
        )
    missing = [c for c in TRUTH_COLUMNS if c not in names]
    if missing:
        return (
            f"--truth {path} lacks {counted(len(missing), 'column')} {', '.join(missing)} (it has {', '.join(names[:8])}"
            f"{' ...' if len(names) > 8 else ''}): give the truth.parquet that `ews generate` writes"
        )
    return None


TRUTH_MIN_SHARE = 0.9
TRUTH_MAX_OTHER_SEGMENT = 0.1
"""--truth must hold at least 90 % of the book's debtors, at most 10 % of them in another segment."""


def _truth_mismatch(path: Path, portfolio) -> str | None:
    """Why ``--truth`` is not the truth of this book, or None: fewer than :data:`TRUTH_MIN_SHARE`
    of the book's debtors in it, or (the same ids, as every generated book has) other segments for
    more than :data:`TRUTH_MAX_OTHER_SEGMENT` of them. Before: another book's truth gave exit 0 and
    oracle figures of the wrong book."""
    import pandas as pd
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    truth = pd.read_parquet(path, columns=[c for c in ("debtor_id", "segment") if c in names])
    truth = truth.drop_duplicates("debtor_id").astype({"debtor_id": "string"}).set_index("debtor_id")
    book = portfolio.debtors
    if book is None or book.empty:
        ledger = [f["debtor_id"] for f in (portfolio.invoices, portfolio.statements) if f is not None]
        book = pd.DataFrame({"debtor_id": pd.concat(ledger).unique()}) if ledger else pd.DataFrame()
    if book.empty:
        return None
    ids = pd.Index(book["debtor_id"].astype("string").unique())
    found = ids.isin(truth.index)
    fix = "give the truth.parquet that `ews generate` wrote beside this book, or leave --truth out"
    if found.mean() < TRUTH_MIN_SHARE:
        missing = ids[~found][:3].tolist()
        return (
            f"--truth {path} is not the truth of --data: only {int(found.sum()):,} of its {len(ids):,} debtors "
            f"({found.mean():.0%}) are in it (not in it: {', '.join(map(repr, missing))}; it holds "
            f"{len(truth):,} debtors, e.g. {', '.join(map(repr, truth.index[:3].tolist()))}): {fix}"
        )
    if "segment" in truth and "segment" in book:
        both = book.drop_duplicates("debtor_id").astype({"debtor_id": "string"}).set_index("debtor_id")
        both = both[["segment"]].join(truth["segment"], rsuffix="_truth", how="inner").dropna()
        differ = both["segment"].astype(str) != both["segment_truth"].astype(str)
        if len(both) and differ.mean() > TRUTH_MAX_OTHER_SEGMENT:
            first = both.loc[differ].iloc[0]
            return (
                f"--truth {path} is not the truth of --data: the same debtor ids, but {int(differ.sum()):,} of "
                f"{len(both):,} debtors have another segment in it ({both.index[differ][0]!r}: "
                f"{first['segment']!r} in --data, {first['segment_truth']!r} in --truth): the truth of another "
                f"generated book; {fix}"
            )
    return None


def with_pay_pd(panel, portfolio, dates, leak, train_config: Path, cfg, definition):
    """(panel with ``pay_pd``, the payment-date model's cut, problem or None): the payment-date model
    fitted as ``ews train`` fits it (``--train-config``'s ``paydate``), from rows dated up to the day
    the PD version's labels were seen until (``leak["labels_seen_until"]``; without it, the first
    month-end replayed), and its ``pay_pd`` per debtor at each month-end
    (``pipelines.flows.queue_key``)."""
    import pandas as pd

    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig
    from pipelines.engine import Book
    from pipelines.flows.queue_key import fit_paydate_at, pay_pd_at
    from pipelines.flows.train import DataError

    cut = pd.Timestamp(leak.get("labels_seen_until") or min(dates))
    train_cfg = load_config(train_config, expect=TrainConfig)
    book = Book.in_memory(portfolio, cfg.partition_rows)
    try:
        loaded = fit_paydate_at(book, train_cfg, cut)
    except DataError as exc:
        return panel, cut.date().isoformat(), f"no payment-date model from rows up to {cut.date()} ({exc})"
    pay = pay_pd_at(book, list(dates), loaded, definition)
    out = panel.merge(pay, on=["as_of", "debtor_id"], how="left")
    return out, cut.date().isoformat(), None


def threshold_settings(definition, recorded: dict | None, model: str | None, refits: bool) -> dict:
    """backtest.json's ``min_open_amount`` (the replay's: its labels, in-default rows and queue days read it),
    ``model_min_open_amount`` (the one the scoring model, or with ``refits`` the champion ``model``, was
    trained with, from its ``recorded`` definition; None when not recorded or there is none) and, when the
    two differ or the model's is unknown, ``min_open_amount_note`` saying so in words. A model whose recorded
    threshold differs is refused before the replay (``check_definition``); an older model records none, and
    walk-forward refits train with the replay's while the champion may not have."""
    ours = float(definition.min_open_amount)
    out: dict = {"min_open_amount": ours, "model_min_open_amount": None}
    if recorded is not None:
        out["model_min_open_amount"] = float(recorded.get("min_open_amount", 0.0))
    theirs = out["model_min_open_amount"]
    if model is None or theirs == ours:
        return out
    who = f"the champion {model}" if refits else model
    if theirs is None:
        out["min_open_amount_note"] = (
            f"this replay used default_definition.min_open_amount {ours:,.2f}; {who} records no default "
            "definition (trained before it was recorded), so the threshold it was trained with is unknown"
        )
    else:
        out["min_open_amount_note"] = (
            f"this replay used default_definition.min_open_amount {ours:,.2f}"
            + (" (the refits trained with it)" if refits else "")
            + f"; {who} was trained with {theirs:,.2f}: its labels, in-default debtors and queue days differ "
            "from these"
        )
    return out


def parse_shares(value: str) -> list[float]:
    """``--list-shares``: comma-separated shares of the live debtors in (0, 1], e.g. 0.02,0.05,0.1,0.2;
    a clear error (exit 2) otherwise."""
    shares = []
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        try:
            share = float(part.rstrip("%")) / (100 if part.endswith("%") else 1)
        except ValueError:
            fail(
                f"--list-shares {value!r}: {part!r} is not a number; give shares of the live debtors, e.g. 0.02,0.05,0.1,0.2"
            )
        if not 0 < share <= 1:
            fail(
                f"--list-shares {value!r}: {part!r} is not a share in (0, 1]; e.g. 0.05 or 5% for the top 5 %"
            )
        shares.append(share)
    if not shares:
        fail(f"--list-shares {value!r} names no share; e.g. 0.02,0.05,0.1,0.2")
    return sorted(set(shares))


def list_size_lines(list_sizes: list[dict]) -> list[str]:
    """The watchlist at other list sizes, in percent and days (before session 26: fractions such as
    '0.023, 0.111, 0.333, 24.0' under a header naming the columns)."""

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1%}"

    floor = next((row["min_pd"] for row in list_sizes if row.get("min_pd") is not None), None)
    # the rank trigger's PD floor decides a list's size as much as the top share (session 31)
    floored = f"; a PD of at least {floor:.2%}, triggers.rank.min_pd" if floor else ""
    lines = [
        "Watchlist at other sizes: the live debtors with the highest PDs (the rank trigger at each top share"
        f"{floored}), alone or with the other triggers"
    ]
    for row in list_sizes:
        lead = row["lead_time_median_days"]
        under = row.get("under_floor_share")
        left_off = (
            f" ({pct(under)} more were in the top {row['share']:.0%} with a PD under {floor:.2%})"
            if under
            else ""
        )
        # words, not the rule's code: "rank  top 2%" / "rules top 2%" before session 33
        said = LIST_RULE_WORDS.get(row["rule"], row["rule"])
        lines.append(
            f"  {said}, top {row['share']:.0%}: list {pct(row['list_share'])} of live debtors{left_off}, "
            f"precision {pct(row['precision'])}, recall {pct(row['recall'])}, "
            f"strict lead {_days(lead)}"
        )
    return lines


def trigger_lines(triggers: dict) -> list[str]:
    """Each trigger on its own (backtest.json ``triggers``), in percent and days: what it fired on, how
    many of those defaulted within the horizon, and how early its first firing came."""
    from pipelines.words import TRIGGER_WORDS

    if not triggers:
        return []

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1%}"

    lines = ["Each trigger on its own (fired at a month-end; backtest.json triggers):"]
    for name, t in triggers.items():
        share = t["lead_time_first_fire_share"]
        lines.append(
            f"  {TRIGGER_WORDS.get(name, name)} ({name}): fired on {counted(t['fired'], 'live debtor-month')}, "
            f"precision {pct(t['precision'])}, recall {pct(t['recall'])}, first firing a median "
            f"{_days(t['lead_time_first_fire_median_days'])} before the default ({pct(share)} of "
            f"{counted(t['defaults'], 'default')})"
        )
    return lines


def _days(lead: float | None) -> str:
    """A median lead in days as the summary above it shows it: "24 days", "1 day", "11.5 days" (before
    session 30 "12 days" for a median of 11.5 the summary line printed as 11.5)."""
    if lead is None:
        return "n/a"
    return counted(int(lead), "day") if float(lead).is_integer() else f"{lead:,.1f} days"


def limit_warnings(portfolio: Portfolio, panel: pd.DataFrame, cfg: NightlyConfig) -> list[str]:
    """What ``ews train`` says of the limits a look-ahead may hold (``pipelines.flows.train``:
    month-ends without a ``debtor_history`` row; a snapshot whose limits look cut after trouble), said
    of the backtest's live debtor-months, whose ``limit_breach`` read the limit valid at each
    month-end (``pipelines.backtest.panel_limits``). Empty when the trigger is off or the panel has no
    limits."""
    from pipelines.flows.train import limit_cut_warning, master_data_warning

    if not cfg.triggers.limit_breach.enabled or "credit_limit_current" not in panel.columns:
        return []
    live = panel.loc[~panel["in_default"].to_numpy(dtype=bool)]
    rows = live[["debtor_id", "as_of", "label", "invoice_amount_365d"]].assign(
        credit_limit=live["credit_limit_current"]
    )
    history = portfolio.debtor_history
    said = (master_data_warning(history, rows, "backtest"), limit_cut_warning(history, rows, "backtest"))
    return [s for s in said if s]


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        data: Path = typer.Option(
            ..., "--data", help="an `ews ingest --out` folder, or raw canonical files (validated in memory)"
        ),
        start: str = typer.Option(..., "--from", help="first as-of date; month-ends from here (YYYY-MM-DD)"),
        end: str = typer.Option(..., "--to", help="last as-of date, inclusive (YYYY-MM-DD)"),
        out: Path = typer.Option(..., "--out", help="folder for backtest.json and backtest.html"),
        model: str | None = typer.Option(
            None, "--model", help="registry version number (default: the nightly config's alias, champion)"
        ),
        truth: Path | None = typer.Option(
            None, "--truth", help="generator truth file (default: DATA/truth.parquet when present)"
        ),
        config: Path = typer.Option(
            Path("conf/nightly.yaml"), "--config", help="nightly config: triggers, LGD"
        ),
        refit_every: int = typer.Option(
            0,
            "--refit-every",
            min=0,
            help="walk-forward: refit a model every N month-ends on the labels observed by then "
            "(no registry model; 0: one registered version, --model)",
        ),
        train_config: Path = typer.Option(
            Path("conf/train.yaml"), "--train-config", help="with --refit-every: the training settings"
        ),
        rows: bool = typer.Option(
            False,
            "--rows",
            help="also write backtest_rows.parquet: PD, flag, balances, label per debtor-month",
        ),
        compare_keys: bool = typer.Option(
            False,
            "--compare-keys",
            help="also measure the queue with both keys, PD and (PD + pay_pd) / 2 (fits a payment-date "
            "model; done anyway when the queue's key is the blend)",
        ),
        no_model_run: bool = typer.Option(
            False,
            "--no-model",
            help="replay the nightly without a PD model (a book too small to train; done anyway when no PD "
            "model is champion): queue by days past due, then the overdue amount; triggers limit_breach, "
            "dpd_bucket and event",
        ),
        list_shares: str = typer.Option(
            "0.02,0.05,0.10,0.20",
            "--list-shares",
            help="list sizes (shares of the live debtors) at which to report the watchlist's precision, "
            "recall and lead time (list_sizes: the rank trigger at each top share, alone and beside the "
            "other triggers), to choose triggers.rank.top_share",
        ),
    ) -> None:
        """Replay the nightly scoring on past month-ends and measure the queue and the watchlist.

        Writes backtest.json and backtest.html: queue_capture_top20 (share of the exposure that
        defaulted within the horizon held by the top 20 % of the live queue in its priority order),
        dpd/balance/oracle capture, watchlist precision and recall, lead time, each with a 95 %
        interval by debtor bootstrap and the defaults it rests on (too thin to judge below
        backtest.min_defaults of the nightly config). Says when the model saw the outcome of the
        month-ends it scores (in-sample), and which training cut avoids it. Without a PD model (--no-model,
        or none champion yet) it replays the run without one: the days-past-due queue and the triggers that
        need no PD, each trigger's precision, recall and lead time."""
        import pandas as pd

        from pipelines.backtest import (
            BacktestResult,
            backtest_figures,
            figure_lines,
            leakage,
            leakage_note,
            list_size_figures,
            model_scorer,
            month_end_dates,
            replay,
            write_backtest,
        )
        from pipelines.config import load_config
        from pipelines.config.nightly import NightlyConfig
        from pipelines.config.project import ProjectConfig
        from pipelines.console import console as ews_console
        from pipelines.console import plain
        from pipelines.ingest import ingest_dir
        from pipelines.ingest.decimals import feed_currency, money_places

        d1, d2 = parse_date(start, "--from"), parse_date(end, "--to")
        shares = parse_shares(list_shares)
        if d2 < d1:
            fail(f"--to {d2} is before --from {d1}")
        dates = month_end_dates(d1, d2)
        if not dates:
            fail(f"no month-end between {d1} and {d2}; widen --from/--to")
        if not data.is_dir():
            fail(f"--data {data} is not a folder; point it at canonical files (invoices.parquet, ...)")
        beside = Path(os.path.realpath(data)).parent / "backtest"
        if said := out_inside_data(
            out, data, "backtest.json, backtest.html and the book's record", str(beside)
        ):
            fail(said)  # s44-attack: accepted, written into the ingest output
        from pipelines.adapters.book import BookMismatchError, check_book, record_book

        try:
            check_book(out, data, "backtest")  # --out holds another book's backtest (s39-audit)
        except BookMismatchError as exc:
            fail(str(exc))
        dates = _inside_the_data(data, dates, d1, d2)
        cfg = load_config(config, expect=NightlyConfig)
        project = load_config(cfg.project, expect=ProjectConfig)
        from pipelines.config.credit import load_credit_policy

        policy = load_credit_policy(cfg.credit, [b.name for b in cfg.bands])  # limit_breach's limits
        definition = project.default_definition.to_params()
        truth = (
            truth
            if truth is not None
            else (data / "truth.parquet" if (data / "truth.parquet").exists() else None)
        )
        if truth is not None and not truth.exists():
            fail(f"--truth {truth} not found")
        if truth is not None:  # before the replay: a wrong file would stop it at the end
            fail_on = _truth_problem(truth)
            if fail_on:
                fail(fail_on)
        console = ews_console()
        if refit_every and model is not None:
            fail("--model and --refit-every exclude each other: walk-forward fits its own models")
        if no_model_run and (model is not None or refit_every):
            fail(
                f"--no-model and {'--model' if model is not None else '--refit-every'} exclude each other: "
                "--no-model replays the nightly without a PD model"
            )
        from pipelines.adapters.registry import NoChampionError, load_model_version  # MLflow: seconds
        from pipelines.scoring.score import IncompatibleModelError, check_definition

        loaded, none_why = None, None
        if no_model_run:
            none_why = "--no-model"
        try:
            if not refit_every and not no_model_run:
                loaded = load_model_version(
                    model or cfg.model_alias, cfg.model_name, project.paths.mlflow_tracking_uri
                )
                check_definition(loaded, definition, f"{cfg.project} (default_definition)")
        except NoChampionError as exc:
            missing = None
            if model is None:  # as the nightly: no version champion yet, none lost (pipelines.flows.nightly)
                from pipelines.flows.nightly import no_model

                missing = no_model(cfg, project.paths.mlflow_tracking_uri)
            if missing is None:
                fail(str(exc))
            none_why = missing.why
            typer.secho(
                f"no PD model: {missing.why}. Replaying the nightly without one (as `ews score` runs it): "
                "the queue by days past due, the triggers that need no PD",
                fg="yellow",
                err=True,
            )
        except IncompatibleModelError as exc:
            fail(str(exc))
        thresholds = threshold_settings(
            definition,
            getattr(loaded, "definition", None),
            loaded and f"{loaded.name} v{loaded.version}",
            False,
        )
        train_cfg = None
        if refit_every:
            from pipelines.adapters import registry_view as view
            from pipelines.adapters.registry import TrackingUnavailableError, recorded_definition
            from pipelines.config.train import TrainConfig

            uri = view.tracking_uri(project.paths.mlflow_tracking_uri)
            store = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
            try:  # the champion the nightly scores with: its threshold, from its tags (no store made)
                if store is None or store.exists():
                    version, recorded = recorded_definition(cfg.model_alias, cfg.model_name, uri)
                    thresholds = threshold_settings(
                        definition, recorded, f"{cfg.model_name} v{version}", True
                    )
            except (NoChampionError, TrackingUnavailableError):
                pass

            train_cfg = load_config(train_config, expect=TrainConfig)
        from pipelines.adapters.files import read_portfolio
        from pipelines.engine import is_ingested

        with console.status(plain(f"reading {data} ...")):
            if is_ingested(data):  # an `ews ingest` output: validated already
                portfolio = read_portfolio(data)
                manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
            else:  # raw canonical files: validated in memory
                ingested = ingest_dir(data, None, as_of=max(d2, dt.datetime.now(dt.UTC).date()))
                portfolio, manifest = ingested.portfolio, ingested.manifest
        # amounts rounded to the reporting currency's decimals, found as `ews score` finds it
        currency = feed_currency(manifest, [portfolio.invoices], project.currency.reporting)
        places = money_places(currency)
        if truth is not None and (wrong := _truth_mismatch(truth, portfolio)):
            fail(wrong)  # before the replay
        if none_why is not None:  # the nightly without a PD model (pipelines.scoring.nomodel)
            from pipelines.scoring.nomodel import KEY as NO_MODEL_KEY

            scorer, label = None, "no PD model (the nightly without one)"
            leak = {"no_model": True, "why": none_why}
        elif loaded is not None:
            scorer, label = model_scorer(loaded, cfg), f"{loaded.name} v{loaded.version}"
            leak = leakage(loaded, dates, definition.horizon_days)
            if leak.get("in_sample"):  # name a registered version that saw none of these outcomes (s39-walk)
                from pipelines.adapters.registry_view import read_versions
                from pipelines.backtest import leak_free_versions

                try:
                    records = read_versions(cfg.model_name, project.paths.mlflow_tracking_uri)
                except Exception:  # noqa: BLE001 - a hint only: the backtest runs without it
                    records = None
                leak["leak_free_versions"] = leak_free_versions(
                    records, dates, definition.horizon_days, definition
                )
        else:
            from pipelines.backtest_refit import walk_forward, walk_forward_scorer

            with console.status(
                plain(f"walk-forward: fitting a model every {counted(refit_every, 'month-end')} ...")
            ) as st:
                try:
                    refits, leak = walk_forward(
                        portfolio, dates, refit_every, train_cfg, project,
                        lambda on: st.update(plain(f"walk-forward: refitted on {on.date()} ...")),
                    )  # fmt: skip
                except ValueError as exc:
                    fail(str(exc))
            scorer = walk_forward_scorer(refits, cfg)
            label = f"walk-forward, refit every {counted(refit_every, 'month-end')}"
        with console.status(plain(f"replaying {counted(len(dates), 'month-end')} with {label} ...")):
            panel = replay(
                portfolio,
                dates,
                scorer,
                cfg,
                definition,
                cfg.partition_rows,
                policy=policy,
                currency=currency,
                no_model=none_why is not None,
            )
        if thresholds.get("min_open_amount_note"):
            typer.secho(f"warning: {thresholds['min_open_amount_note']}", fg="yellow", err=True)
        said_limits = limit_warnings(portfolio, panel, cfg)
        for line in said_limits:
            typer.secho(f"warning: {line}", fg="yellow", err=True)
        truth_frame = (
            pd.read_parquet(truth, columns=["debtor_id", "month_end", "oracle_pd"]) if truth else None
        )
        from pipelines.scoring.queue import queue_key_for

        tags = loaded.tags if loaded is not None else None
        key, key_why = queue_key_for(cfg.queue.priority, tags, pd.Series(dtype="float64"))
        if none_why is not None:
            from pipelines.scoring.nomodel import KEY_WHY

            key, key_why = NO_MODEL_KEY, KEY_WHY
        paydate_cut = None
        if none_why is None and (key == "blend" or compare_keys):
            with console.status(
                plain("payment-date model cut at the PD model's labels, pay_pd per month-end ...")
            ):
                panel, paydate_cut, problem = with_pay_pd(
                    panel, portfolio, dates, leak, train_config, cfg, definition
                )
            if problem:
                key, key_why = "pd", f"{key_why}; {problem}: ranked by the PD"
                console.print(problem, style="yellow")
        with console.status(
            plain(
                f"95 % intervals: {counted(cfg.backtest.bootstrap_samples, 'debtor-bootstrap replicate')} ..."
            )
        ):
            res = backtest_figures(
                panel,
                cfg,
                truth_frame,
                key,
                places,
                n_boot=cfg.backtest.bootstrap_samples,
                seed=cfg.backtest.bootstrap_seed,
            )
        result = BacktestResult(
            figures=res["figures"],
            months=res["months"],
            curves=res["curves"],
            lead_times=res["lead_times"],
            leakage=leak,
            settings={
                "data": str(data),
                "from": d1.isoformat(),
                "to": d2.isoformat(),
                "model": label,
                "refit_every_months": refit_every,
                "truth": str(truth) if truth else None,
                "horizon_days": definition.horizon_days,
                "dpd_threshold": definition.dpd_threshold,
                **thresholds,
                "top_share": 0.2,
                "config": str(config),
                "queue_key": key,
                "queue_key_why": key_why,
                "paydate_cut": paydate_cut,
                "list_shares": shares,
                "currency": currency,
                "limits_from": "debtor_history, else the debtors table"
                if portfolio.debtor_history is not None and len(portfolio.debtor_history)
                else "the debtors table (one snapshot)",
                "limit_warnings": said_limits,
            },
            # no PD: no list re-flagged by PD (the rank trigger needs one)
            list_sizes=list_size_figures(panel, cfg, shares) if none_why is None else [],
            intervals=res["intervals"],
            triggers=res.get("triggers", {}),
            mode="no_pd_model" if none_why is not None else "pd_model",
        )
        files = write_backtest(result, out, panel if rows else None)
        record_book(out, data)  # OUT/book.json: the next backtest into OUT must be this book
        for line in figure_lines(result.figures, currency, places, result.intervals):
            console.print(line, highlight=False, soft_wrap=True)
        for line in list_size_lines(result.list_sizes) if result.list_sizes else []:
            console.print(line, highlight=False)
        for line in trigger_lines(result.triggers):
            console.print(line, highlight=False, soft_wrap=True)
        note = leakage_note(leak)
        console.print(note, style=f"bold {'red' if 'IN-SAMPLE' in note else 'green'}")
        console.print("outputs: " + "  ".join(str(f) for f in files.values()))
