"""``ews watchlist override|history``: analysts' decisions on flagged debtors, with an audit log."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import typer
import typer.core
from rich import box
from rich.table import Table

from pipelines.commands import fail
from pipelines.console import console as ews_console
from pipelines.console import plain
from pipelines.project_dir import WHO_RULE, who_ran
from pipelines.words import code_words, triggers_words

OUT_HELP = "the runs folder (OUTDIR of `ews score`); the audit log is OUTDIR/overrides.jsonl"
CONFIG_HELP = "nightly config (kind: nightly): the bands --band may name"


# the statuses of pipelines.scoring.overrides.STATUSES (the --help named that module, s25-newuser)
STATUS_HELP = "cleared | escalated | under_review | payment_plan"


def typed_id(text: str) -> str:
    """A debtor id typed or pasted on the command line, cleaned as ingest cleans ids (trimmed,
    without byte-order marks, zero-width spaces or control characters)."""
    import re

    from pipelines.sources.parse import _INVISIBLE

    return re.sub(_INVISIBLE, "", text).strip()


def check_runs_folder(out: Path) -> None:
    """Exit 2 when ``--out`` names one published run (``data/runs/2024-12-31``) instead of the folder that
    holds the runs: `history` answered "debtor ... is in no published run ...; check the id" about a
    debtor of that very run, and `override` "run `ews score --out data/runs/2024-12-31` first"
    (session 32 walk)."""
    if (out / "scores.parquet").is_file():
        fail(
            f"--out {out} is the folder of one run (as of {out.name}); give the folder that holds the runs, "
            f"the --out of `ews score`: --out {out.parent}"
        )


class _DebtorIdCommand(typer.core.TyperCommand):
    """A command taking a debtor id: an id that starts with ``-`` (``-X12``) is read by the option
    parser as an unknown option; the error then says how to pass it (after ``--``)."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        given = list(args)  # the parser consumes ``args``
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:  # typer's own copy of click's NoSuchOption (typer._click, private)
            name = getattr(exc, "option_name", None)
            if type(exc).__name__ != "NoSuchOption" or not name or name.startswith("--"):
                raise
            import shlex

            token = next((a for a in given if a.startswith(name)), name)
            rest = shlex.join([a for a in given if a != token])
            exc.message = (
                f"No such option: {name}. If {token!r} is a debtor id, put it after '--' so that it is "
                f"not read as an option: ews watchlist {ctx.info_name} {rest} -- {shlex.quote(token)}"
            )
            raise


def _band_shown(band: object, model: object) -> str:
    """A run's band as `ews watchlist history` shows it: the analyst's with the model's beside it ("C (model B)");
    a run at which the debtor had no invoice, payment or statement yet has no band from the model (s41: the empty
    band read "<NA>", and beside an analyst's band the history stopped on an ambiguous comparison)."""
    import pandas as pd

    from pipelines.scoring.watchlist import NO_BAND_WORDS

    if pd.isna(band):
        return NO_BAND_WORDS
    if pd.isna(model):
        return f"{band} (model: no band, never invoiced)"
    return str(band) if band == model else f"{band} (model {model})"


def register(app: typer.Typer) -> None:
    watch_app = typer.Typer(
        help="The watchlist's memory: analysts' overrides (append-only audit log) and a debtor's history.",
        no_args_is_help=True,
    )
    app.add_typer(watch_app, name="watchlist")

    @watch_app.command("override", cls=_DebtorIdCommand)
    def override(
        debtor: str = typer.Argument(..., help="debtor_id as in the latest published run"),
        status: str = typer.Option(..., "--status", help=STATUS_HELP),
        reason: str = typer.Option("", "--reason", help="why (kept in the audit log); required"),
        by: str | None = typer.Option(None, "--by", help=f"who decides; recorded: {WHO_RULE}"),
        until: str | None = typer.Option(None, "--until", help="last day the override applies (YYYY-MM-DD)"),
        band: str | None = typer.Option(
            None, "--band", help="risk band set by the analyst (a band of the config)"
        ),
        out: Path = typer.Option(Path("data/runs"), "--out", help=OUT_HELP),
        config: Path = typer.Option(Path("conf/nightly.yaml"), "--config", help=CONFIG_HELP),
    ) -> None:
        """Record an analyst's decision on a debtor; runs after the latest published one respect it.

        cleared: off the watchlist until its PD jumps again (triggers.jump) above its PD now;
        escalated / under_review: kept on the watchlist; payment_plan: an agreed plan until --until.
        Appends one line to OUTDIR/overrides.jsonl (hash-chained, fsynced, never rewritten).
        Exit 2 with one line for an unknown debtor or status, --until on or before the as-of date of the
        latest published run (the run reviewed; not today: a backfill works) or an empty reason.
        Who decides is recorded as every ews command records who: --by NAME when given, else the
        environment variable EWS_USER, else the login name."""
        from pipelines.config import load_config
        from pipelines.config.nightly import NightlyConfig
        from pipelines.scoring.overrides import AuditLogError, OverrideError, append_override, new_override

        debtor = typed_id(debtor)
        check_runs_folder(out)
        day = None
        if until is not None:
            try:
                day = dt.date.fromisoformat(until)
            except ValueError:
                fail(f"--until {until!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-31")
        bands = None
        if band is not None:
            bands = [b.name for b in load_config(config, expect=NightlyConfig).bands]
        from pipelines.adapters.files import OutputError, output_errors

        try:
            who = by if by is not None else who_ran()  # an explicit empty --by is refused as before
            request = new_override(out, debtor, status, reason, who, until=day, band=band, bands=bands)
            with output_errors(out / "overrides.jsonl", "--out"):  # a read-only folder, a full disk
                line = append_override(out, request)
        except OutputError as exc:
            fail(f"{exc}; the override was not recorded (the log is as it was)")
        except (OverrideError, AuditLogError) as exc:
            fail(str(exc))
        # a debtor in default (PD None) is in the recovery queue, on no watchlist: the override waits until it
        # is live again (s43-walk: "PD n/a", and an analyst took the escalation as acted on)
        now = f"PD {'n/a' if line['pd'] is None else format(line['pd'], '.2%')} in run {line['run']}"
        if line["pd"] is None and _in_default(out / str(line["run"]), str(line.get("debtor_id") or debtor)):
            now = (
                f"in default in run {line['run']}: in the recovery queue, not on the watchlist, so this applies "
                "if it is live again"
            )
        ews_console().print(
            f"override {line['seq']}: {debtor} ->",
            plain(code_words(status, "status"), "bold"),
            f"by {line['by']} ({now}; until {line['until'] or 'further notice'}); applies from the next run. "
            f"Log: {out / 'overrides.jsonl'}",
        )

    @watch_app.command("accept-log")
    def accept_log_command(
        reason: str = typer.Option(
            "", "--reason", help="why this log is the honest one (recorded); required"
        ),
        by: str | None = typer.Option(None, "--by", help=f"who accepts it; recorded: {WHO_RULE}"),
        out: Path = typer.Option(Path("data/runs"), "--out", help=OUT_HELP),
    ) -> None:
        """Accept OUTDIR/overrides.jsonl as it is now over the log that published runs read (after
        restoring an honest backup once runs had read a forged or mistaken line).

        The nightly refuses a log that no longer starts with what a published run read, naming those
        runs. When the log now is the honest one, this appends who, why, when, the log's head and the
        runs it replaces to OUTDIR/overrides.accepted.jsonl (hash-chained, never rewritten); the runs
        go on, and each later manifest counts the acceptances. Score the dates it names again (`ews score
        --data DATA --as-of DATE --out OUTDIR`): their outputs were computed with the other log.
        Exit 2 when every run's head still matches (nothing to accept) or the reason is empty."""
        from pipelines.adapters.files import OutputError, output_errors
        from pipelines.scoring.overrides import ACCEPTED_LOG, AuditLogError, OverrideError, accept_log

        check_runs_folder(out)
        try:
            who = by if by is not None else who_ran()
            with output_errors(out / ACCEPTED_LOG, "--out"):
                line = accept_log(out, reason, who)
        except OutputError as exc:
            fail(f"{exc}; nothing was accepted")
        except (OverrideError, AuditLogError) as exc:
            fail(str(exc))
        days = [r["run"] for r in line["replaces"]]
        ews_console().print(
            f"accepted {out / 'overrides.jsonl'} ({line['log']['lines']} lines) by {line['by']} over the log "
            f"the {'run' if len(days) == 1 else 'runs'} of {', '.join(days)} read; recorded in "
            f"{out / ACCEPTED_LOG}. Score {'that date' if len(days) == 1 else 'those dates'} again "
            f"(`ews score --data DATA --as-of DATE --out {out}`): {'its' if len(days) == 1 else 'their'} "
            "outputs were computed with the other log.",
            highlight=False,
        )

    @watch_app.command("history", cls=_DebtorIdCommand)
    def history(
        debtor: str = typer.Argument(..., help="debtor_id"),
        out: Path = typer.Option(Path("data/runs"), "--out", help=OUT_HELP),
    ) -> None:
        """A debtor's PD, band, flags, status and overrides over the published runs."""
        import pandas as pd

        from pipelines.adapters.publish import latest_before
        from pipelines.scoring.overrides import AuditLogError, same_text_id
        from pipelines.scoring.watch_state import debtor_history

        debtor = typed_id(debtor)
        check_runs_folder(out)
        try:
            # typed in another Unicode form than the book's ids (s37-attack)
            debtor = same_text_id(latest_before(out, dt.date.max), debtor) or debtor
            runs, overrides = debtor_history(out, debtor)
        except AuditLogError as exc:
            fail(str(exc))
        if runs.empty and overrides.empty and not out.is_dir():
            fail(
                f"--out {out}: no such folder; give the runs folder of `ews score --out` (default data/runs)"
            )
        if runs.empty and overrides.empty:
            fail(
                f"debtor {debtor!r} is in no published run under {out} and has no override; check the id and --out"
            )
        console = ews_console()
        # dates, PDs, bands and statuses are never cut (an 80-column terminal showed "2025-11…");
        # triggers and owners wrap
        table = Table(
            title=f"{debtor}: runs in {out}",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        # the triggers wrap between words, never inside one: "override (escalated)" showed its ")" on a
        # line of its own at 80 columns before session 30
        word = (
            max((len(w) for t in runs["triggers"].map(triggers_words) for w in t.split()), default=9)
            if len(runs)
            else 9
        )
        for col in ("as of", "PD", "band", "flag", "triggers", "status", "days on list", "owner"):
            table.add_column(
                col,
                no_wrap=col in {"as of", "PD", "band", "flag", "status"},
                overflow="fold",
                min_width={"triggers": min(max(9, word), 14), "owner": 10}.get(col),
            )
        for r in runs.itertuples(index=False):
            table.add_row(
                r.as_of,
                "default" if r.in_default else f"{r.pd:.2%}",  # as in the report and the queues
                _band_shown(r.band, r.model_band),
                "yes" if r.flagged else "",
                triggers_words(
                    r.triggers
                ),  # in words (pipelines.words); they read as codes before session 32
                code_words(r.status, "status"),
                "" if str(r.days_on_list) in {"<NA>", "nan"} else str(r.days_on_list),
                str(r.owner),
            )
        console.print(table)
        if overrides.empty:
            console.print("no overrides")
            return
        # one paragraph per override: nine columns did not fit 80 characters (dates and the reason
        # were cut to "2026-12…" and "pa…")
        console.print(f"{debtor}: overrides (audit log)", style="bold")
        for o in overrides.itertuples(index=False):
            facts = [f"by {_visible(str(o.by))}", f"run reviewed {o.run.date().isoformat()}"]
            if o.pd == o.pd:
                facts.append(f"PD then {o.pd:.2%}")
            if not pd.isna(o.band) and o.band:  # the log's null band reads NaN: "band nan" before s39
                facts.append(f"band {o.band}")
            if not pd.isna(o.until):
                facts.append(f"until {o.until.date().isoformat()}")
            console.print(
                f"#{o.seq} {o.at.strftime('%Y-%m-%d %H:%M')} UTC  {code_words(o.status, 'status')}  ({', '.join(facts)})\n"
                f"    {_visible(o.reason)}",
                highlight=False,
            )


def _visible(text: str) -> str:
    """``text`` with control characters other than line breaks and tabs written out (``\\x1b``): a
    reason logged before ews refused them must not drive the terminal that prints it."""
    return "".join(c if c in "\n\t" or unicodedata.category(c) != "Cc" else repr(c)[1:-1] for c in text)


def demo_override(console, runs_dir: Path, run: Path) -> str | None:
    """The demo's analyst: clear the lowest-PD debtor flagged by the threshold trigger in ``run``
    (as if the customer had paid), so that the next run shows it kept off the watchlist."""
    import pandas as pd

    from pipelines.scoring.overrides import append_override, new_override

    wl = pd.read_parquet(run / "watchlist.parquet")
    hits = wl.loc[wl["trigger_threshold"].astype(bool)] if "trigger_threshold" in wl else wl
    if hits.empty:
        return None
    debtor = str(hits.iloc[-1]["debtor_id"])  # the watchlist is sorted by PD, highest first
    reason = "demo: the customer's CFO confirmed payment of the overdue invoices this week"
    line = append_override(runs_dir, new_override(runs_dir, debtor, "cleared", reason, "ews demo", run=run))
    console.print(
        f"override {line['seq']}:",
        plain(debtor, "bold"),
        f"cleared by 'ews demo' after reviewing the run of {line['run']} "
        f"(PD {line['pd']:.2%}); the next run keeps it off the watchlist unless its PD jumps "
        f"(`ews watchlist override --help`)",
    )
    return debtor


def _in_default(run: Path, debtor: str) -> bool:
    """Whether ``debtor`` is in default in the published run folder ``run`` (its scores.parquet)."""
    import pandas as pd

    try:
        scores = pd.read_parquet(
            run / "scores.parquet", columns=["debtor_id", "in_default"], filters=[("debtor_id", "==", debtor)]
        )
    except (OSError, ValueError, KeyError):
        return False
    return bool(len(scores)) and bool(scores["in_default"].iloc[0])
