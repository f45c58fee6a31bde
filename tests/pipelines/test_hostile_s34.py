"""Session 34 (s34-attack): hostile and careless inputs through the real ``ews`` command line
(BENCHMARKS.md, hostile section, "Session 34 (s34-attack)"). Every expected value is by hand.

The first tests are the guard for rich markup at every print site (``pipelines/console.py``): ews
prints through rich, which reads ``[...]`` as markup and ``:name:`` as an emoji code. Sessions 33 and
34 found user text (paths, ``--out`` folders, column names, ids, reasons, owner and segment names)
crashing a command (``MarkupError``, a traceback) or printed altered, site by site."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# What a user may type or an export may hold, read by rich as markup or an emoji: an unopened
# closing tag (MarkupError), a style, a hidden link and an emoji code.
W = "a[/]b[old]c[link=http://evil.example]d[/link]e:warning:"
MARKUP_TAG = re.compile(
    r"\[/?(?:bold|b|i|dim|italic|underline|reverse|red|green|yellow|blue|cyan|magenta|white|black|link)\b[^\]]*\]|\[/\]"
)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _rich_problems(path: Path, tree: ast.AST) -> list[str]:
    """Why ``path`` could print user text through rich as markup (an empty list: it cannot)."""
    where = path.relative_to(ROOT)
    docs = _docstrings(tree)
    problems = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module == "rich.markup":
            problems.append(f"{line}: imports rich.markup (with markup off, escape() prints its backslashes)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if MARKUP_TAG.search(node.value):
                problems.append(f"{line}: markup in a string, printed as typed: {node.value[:60]!r}")
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        kw = {k.arg: k.value for k in node.keywords}
        if name == "Console" and where.as_posix() != "pipelines/console.py":
            problems.append(f"{line}: a rich Console made outside pipelines/console.py (markup on)")
        if name == "TextColumn" and not (
            isinstance(kw.get("markup"), ast.Constant) and kw["markup"].value is False
        ):
            problems.append(f"{line}: TextColumn without markup=False (it reads a task's text as markup)")
        if name in ("status", "update") and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if isinstance(first, ast.JoinedStr) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str)
            ):
                problems.append(
                    f"{line}: a status line as a str (the spinner reads it as markup): use plain()"
                )
        for key in ("markup", "emoji"):
            if isinstance(kw.get(key), ast.Constant) and kw[key].value is True:
                problems.append(f"{line}: {key}=True")
    return problems


def test_no_print_site_of_the_cli_reads_user_text_as_rich_markup() -> None:
    """The guard: every console comes from ``pipelines.console.console`` (markup and emoji codes off),
    no string of ``pipelines/`` holds a markup tag (it would print as typed now), nothing imports
    ``rich.markup.escape``, progress text columns read no markup and status lines are Text. Before
    this session: 19 consoles made with markup on in 11 command modules, 34 escape() calls, 5
    progress text columns and 12 status lines reading markup (``ews train --data 'ing[/]x'``: a MarkupError
    traceback after 19 s)."""
    problems = []
    for path in sorted((ROOT / "pipelines").rglob("*.py")):
        problems += _rich_problems(path, ast.parse(path.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_the_guard_sees_each_way_markup_comes_back() -> None:
    """The guard itself, on hand-written lines: each one is a way user text was read as markup."""
    cases = {
        "from rich.console import Console\nc = Console()\n": "a rich Console made outside",
        "from rich.markup import escape\n": "imports rich.markup",
        "c.print(f'[red]error:[/] {x}')\n": "markup in a string",
        "c.print('[bold]x[/bold]')\n": "markup in a string",
        "TextColumn('{task.description}')\n": "TextColumn without markup=False",
        "c.status(f'reading {data} ...')\n": "a status line as a str",
        "st.update(f'refitted on {day}')\n": "a status line as a str",
        "c.print(x, markup=True)\n": "markup=True",
        "c.print(x, emoji=True)\n": "emoji=True",
    }
    for source, said in cases.items():
        (problem,) = _rich_problems(ROOT / "pipelines" / "x.py", ast.parse(source))
        assert said in problem, (source, problem)
    fine = "def f():\n    '''a docstring may say [/] and [bold]'''\n    c.status(plain('x'))\n    c.print(t, markup=False)\n"
    assert _rich_problems(ROOT / "pipelines" / "x.py", ast.parse(fine)) == []


def _said(result) -> str:
    """A command's whole output (stdout and stderr), with no traceback in it."""
    output = result.output
    assert "Traceback" not in output and "MarkupError" not in output, output[-3000:]
    return output


def _ews(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``ews ARGS`` in its own process, as a user runs it (a flow run in this process leaves Prefect's
    console handler on a closed stream of the CliRunner, whose logging errors then reach later commands'
    output), on this tree's code; exit 0 required. ``.output``: stdout and stderr."""
    from prefect.settings import PREFECT_API_URL

    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env={
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "EWS_PROJECT": str(ROOT),
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "400",
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    done.output = done.stdout + done.stderr
    assert done.returncode == 0, done.output[-5000:]
    return done


def _book_with_markup(tmp_path: Path, seed: int) -> tuple[Path, str, str]:
    """``ews generate`` into a folder named like markup, one debtor id and one segment rewritten to
    markup-looking text: (the folder, the id, the segment)."""
    folder = tmp_path / W / "g"
    args = ["generate", "--debtors", "100", "--months", "18", "--seed", str(seed), "--format", "csv"]
    result = runner.invoke(app, [*args, "--out", str(folder)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert f"wrote {folder}  (regime base" in said
    assert f"--invoices {folder / 'invoices.csv'} --payments" in said  # the next command, as typed
    debtor, segment = "D[/]1:warning:", "retail [/] [b]x[/b] :warning:"
    for table in ("debtors", "invoices", "payments", "events"):
        path = folder / f"{table}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["debtor_id"] = frame["debtor_id"].replace("D0000001", debtor)
        if table == "debtors":
            frame["segment"] = frame["segment"].replace("retail", segment)
        frame.to_csv(path, index=False)
    return folder, debtor, segment


def test_markup_looking_text_in_every_field_of_a_nightly_is_printed_as_typed(
    prefect_harness, mlflow_uri, tmp_path
) -> None:
    """A book whose folders, a debtor id, a segment, a teams file's segments, an override's reason and
    --by and a registry reason all look like rich markup (``[/]``, ``[b]``, ``[link=...]``) or hold an
    emoji code (``:warning:``), through generate, ingest, train, score, features, backtest, watchlist,
    models and serve --dry-run. Before: ``ews train --data`` of such a folder ended in a MarkupError
    traceback (its progress bar's title) and so did ``ews backtest`` and ``ews features`` (a status /
    progress line naming --data); ``:warning:`` was printed as an emoji everywhere, escaped or not."""
    env = {"COLUMNS": "400"}
    raw, debtor, segment = _book_with_markup(tmp_path, 3259)
    ing = tmp_path / W / "ing"
    inputs = [f"--{t}={raw / f'{t}.csv'}" for t in ("invoices", "payments", "debtors", "events")]
    result = runner.invoke(app, ["ingest", *inputs, "--no-docs", "--out", str(ing)], env=env)
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert f"tables:     {ing}/<table>/bucket=<k>/part-0.parquet (1 debtor bucket)" in said
    assert f"manifest:   {ing}/manifest.json" in said

    result = _ews("train", "--data", str(ing), cwd=tmp_path)
    said = _said(result)
    assert f"training on {ing} (snapshots, fit, calibrate, log)" in said
    assert "gate passed: now champion" in said

    teams = tmp_path / "teams.yaml"
    roster = {"kind": "teams", "collectors": [
        {"name": "Anna", "capacity": 5, "segments": ["construction"]},
        {"name": "Bruno", "capacity": 5, "segments": [segment.upper()]},  # the case differs: named
    ]}  # fmt: skip
    teams.write_text(yaml.safe_dump(roster), encoding="utf-8")
    nightly = yaml.safe_load((ROOT / "conf" / "nightly.yaml").read_text(encoding="utf-8"))
    nightly.update(project=str(ROOT / "conf" / "ews.yaml"), teams=str(teams), data_dir=str(ing))
    nightly["queue"]["lgd"]["by_segment"] = {segment.upper(): 0.9, "construction": 0.6}  # LGD: see below
    config = tmp_path / "nightly.yaml"
    config.write_text(yaml.safe_dump(nightly, sort_keys=False), encoding="utf-8")
    runs = tmp_path / W / "runs"
    args = ["score", "--data", str(ing), "--as-of", "2024-06-30", "--out", str(runs), "--config", str(config)]
    result = _ews(*args, cwd=tmp_path)
    said = _said(result)
    assert f"outputs: {runs / '2024-06-30'}  (open {runs / '2024-06-30' / 'report.html'})" in said
    # the flow-run log printed by Prefect's console handler (emoji codes on: "published .../e⚠/runs/...")
    assert f"published {runs / '2024-06-30'}" in said and "⚠" not in said, said[-3000:]
    owners = _flat(said.split("owners:", 1)[1])
    assert f", {segment}, " in owners or f", {segment})" in owners, owners  # an uncovered segment
    assert f"Bruno: segment {segment.upper()!r} (the book has {segment!r})" in owners, owners
    # an LGD keyed by the segment in another case was not applied, without a word (s34-attack)
    lgd = _flat(said.split("LGD:", 1)[1])
    assert lgd.startswith(
        f"queue.lgd.by_segment names a segment no debtor has: {segment.upper()!r} (the book has {segment!r}): "
        "those debtors take queue.lgd.default (0.45)"
    ), lgd

    reason = f"paid, see {W}"
    args = ["watchlist", "override", debtor, "--status", "cleared", "--reason", reason, "--by", "B[/]y :x:"]
    result = runner.invoke(app, [*args, "--out", str(runs)], env=env)
    assert result.exit_code == 0, result.output
    assert f"override 1: {debtor} -> Cleared by B[/]y :x: (PD " in _said(result)
    assert f"Log: {runs / 'overrides.jsonl'}" in _flat(result.output)
    result = runner.invoke(app, ["watchlist", "history", debtor, "--out", str(runs)], env=env)
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert f"{debtor}: runs in" in said and "".join(str(runs).split()) in "".join(
        said.split()
    )  # a title wraps
    assert f"{debtor}: overrides (audit log)" in said
    assert f"    {reason}" in said and "(by B[/]y :x:, run reviewed 2024-06-30" in said

    feats = tmp_path / W / "f.parquet"
    result = _ews("features", "--data", str(ing), "--as-of", "2024-06-30", "--out", str(feats), cwd=tmp_path)
    assert f"-> {feats}  (columns: {feats.with_suffix('.json')})" in _said(result)

    out = tmp_path / W / "bt"
    args = ["backtest", "--data", str(ing), "--from", "2024-01-31", "--to", "2024-02-29", "--out", str(out)]
    result = _ews(*args, "--config", str(config), cwd=tmp_path)
    assert f"outputs: {out / 'backtest.json'}  {out / 'backtest.html'}" in _said(result)

    result = runner.invoke(app, ["models", "promote", "1", "--reason", reason], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["models", "history"], env=env)
    assert result.exit_code == 0, result.output
    assert reason in _said(result)

    result = _ews("serve", "--dry-run", "--config", str(config), cwd=tmp_path)
    assert f'"data_dir": "{ing}"' in _said(result)


def test_markup_and_emoji_codes_in_files_headers_and_folders_are_printed_as_typed(tmp_path: Path) -> None:
    """``ews sources suggest`` / ``config check`` / ``ingest --source`` on an export in a folder named
    ``x[/]y:warning:``, with headers that look like markup or hold an emoji code, ingested into
    ``o[/]:warning:``. Before: the ingest's closing lines (printed with markup=False since 09c6cb9)
    still turned ``:warning:`` into an emoji (``o[/]⚠/manifest.json``, a path that does not exist),
    and so did every line that escaped its text; the error naming a missing column too."""
    folder = tmp_path / "x[/]y:warning:"
    folder.mkdir(parents=True)
    inv = folder / "inv[b].csv"
    inv.write_text(
        "Beleg [/b],Kunde :warning:,Datum,Fällig [link=http://e.x]x[/link],Betrag\n"
        "I1,D[/]1,2024-01-05,2024-02-04,100.50\nI2,D2:smile:,2024-02-05,2024-03-06,200.00\n",
        encoding="utf-8",
    )
    draft = folder / "d[/]:smile:.yaml"
    result = runner.invoke(app, ["sources", "suggest", str(inv), "--out", str(draft)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"draft invoices source written to {draft}" in _said(result)
    result = runner.invoke(app, ["config", "check", str(draft)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"ok   {draft}  kind=source" in _said(result)
    out = tmp_path / "o[/]:warning:"
    args = ["ingest", "--source", str(draft), "--out", str(out), "--no-docs", "--as-of", "2024-06-30"]
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert f"manifest:   {out}/manifest.json" in said and "⚠" not in said and "😄" not in said
    bad = folder / "bad.yaml"
    bad.write_text(draft.read_text(encoding="utf-8").replace('amount: "Betrag"', 'amount: "Betrag :smile:"'))
    result = runner.invoke(app, ["config", "check", str(bad)], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    said = _flat(_said(result))
    assert "FAIL" in said and "'Betrag :smile:'" in said and "😄" not in said, said


INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2024-01-05,2024-02-04,100.00,EUR
I2,D2,2024-02-05,2024-03-06,300.00,EUR
I3,D3,2024-03-01,2024-03-31,400.00,EUR
"""
PAYMENTS = """payment_id,debtor_id,invoice_id,paid_on,amount
P1,D1,I1,2024-02-01,100.00
"""


def _ingest(tmp_path: Path, *extra: str) -> tuple[object, Path]:
    inv, pay = tmp_path / "inv.csv", tmp_path / "pay.csv"
    inv.write_text(INVOICES, encoding="utf-8")
    pay.write_text(PAYMENTS, encoding="utf-8")
    out = tmp_path / "out"
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), *extra, "--out", str(out), "--no-docs"]
    result = runner.invoke(app, [*args, "--as-of", "2024-06-30"], env={"COLUMNS": "400"})
    return result, out


def test_event_kinds_written_with_a_space_or_a_hyphen_are_read_and_unknown_ones_warned(
    tmp_path: Path,
) -> None:
    """An events export as people write it: ``Write-off``, ``agency placement``, ``AGENCY-PLACEMENT``.
    Before: each was quarantined unknown_event_kind, so the debtor's default event was lost and it was
    scored as live: here 4 = 0 accepted + 4 quarantined with "none of 4 rows accepted" and no cause; with
    one ``insolvency`` among three such rows, 4 = 1 + 3 and no word at all. Now they are the contract's
    words (4 = 3 + 1), and a kind that is none of them (``insolvent``) is quarantined with a warning."""
    events = tmp_path / "ev.csv"
    events.write_text(
        "debtor_id,event_date,kind,amount\nD1,2024-04-01,Write-off,10\nD2,2024-04-02,agency placement,\n"
        "D3,2024-04-03,AGENCY-PLACEMENT,\nD3,2024-04-04,insolvent,\n",
        encoding="utf-8",
    )
    result, out = _ingest(tmp_path, "--events", str(events))
    assert result.exit_code == 0, result.output
    said = _flat(_said(result))
    assert "│ events │ 4 │ 3 │ 1 │ unknown_event_kind (1) │" in said, said
    assert (
        "warning: events: 1 row of a kind ews does not read quarantined (unknown_event_kind): if it is a "
        "write-off, an agency placement or an insolvency under another name, its debtor is not in default by it"
    ) in said
    kept = pd.read_parquet(out / "events").sort_values("event_date")
    assert kept["kind"].tolist() == ["write_off", "agency_placement", "agency_placement"]
    assert kept["debtor_id"].tolist() == ["D1", "D2", "D3"]
    quarantined = pd.read_csv(out / "quarantine" / "events.csv", dtype=str)
    assert quarantined[["debtor_id", "kind", "reason"]].values.tolist() == [
        ["D3", "insolvent", "unknown_event_kind"]
    ]


def test_event_kinds_written_with_a_typographic_dash_are_read(tmp_path: Path) -> None:
    """A spreadsheet's autocorrect turns ``write-off`` into ``write\u2013off`` (en dash) or ``write\u2014off``
    (em dash), and some exports write a minus sign (U+2212). s34-review: those rows were quarantined
    unknown_event_kind (3 = 0 + 3), the debtors' default events lost. Now 3 = 3 + 0, all write_off."""
    events = tmp_path / "ev.csv"
    events.write_text(
        "debtor_id,event_date,kind,amount\nD1,2024-04-01,Write\u2013off,10\nD2,2024-04-02,write\u2014off,\n"
        "D3,2024-04-03,WRITE \u2212 OFF,\n",
        encoding="utf-8",
    )
    result, out = _ingest(tmp_path, "--events", str(events))
    assert result.exit_code == 0, result.output
    assert "│ events │ 3 │ 3 │ 0 │" in _flat(_said(result)), _flat(_said(result))
    kept = pd.read_parquet(out / "events").sort_values("event_date")
    assert kept["kind"].tolist() == ["write_off", "write_off", "write_off"]


def test_a_write_off_booked_as_a_negative_amount_keeps_its_event(tmp_path: Path) -> None:
    """ERPs book a write-off as a credit: ``write_off,-400``. The amount is optional and only says how
    much the event concerns (the feed checks read it as what was written off), but its sign had the
    whole row quarantined (negative_amount), so the debtor's default event was lost and it was scored
    as live: events 2 = 1 + 1, no warning. Now the amount is read as its size: 2 = 2 + 0, 400."""
    events = tmp_path / "ev.csv"
    events.write_text(
        "debtor_id,event_date,kind,amount\nD3,2024-05-01,write_off,-400\nD2,2024-05-02,insolvency,300\n",
        encoding="utf-8",
    )
    result, out = _ingest(tmp_path, "--events", str(events))
    assert result.exit_code == 0, result.output
    assert "│ events │ 2 │ 2 │ 0 │" in _flat(_said(result))
    kept = pd.read_parquet(out / "events").sort_values("event_date")
    assert kept[["debtor_id", "kind", "amount"]].values.tolist() == [
        ["D3", "write_off", 400.0],
        ["D2", "insolvency", 300.0],
    ]


def test_an_lgd_keyed_by_a_segment_in_another_spelling_is_named() -> None:
    """``queue.lgd.by_segment: {Construction: 0.9}`` on a book whose segment is ``construction``: the
    debtors took queue.lgd.default (0.45), their expected loss halved, without a word. Keys found
    exactly, or near no segment (a segment of next year), say nothing."""
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_segments_note

    segments = pd.Series(["construction", "retail", None, "retail"], dtype="string")
    cfg = QueueConfig.model_validate(
        {"lgd": {"default": 0.45, "by_segment": {"Construction": 0.9, "retail": 0.5}}}
    )
    assert lgd_segments_note(cfg, segments) == (
        "queue.lgd.by_segment names a segment no debtor has: 'Construction' (the book has 'construction'): "
        "those debtors take queue.lgd.default (0.45), and their expected loss and queue rank with it. "
        "Segments are compared exactly, case included: write the book's spelling"
    )
    cfg = QueueConfig.model_validate({"lgd": {"default": 0.4, "by_segment": {" retail": 0.5, "retial": 0.6}}})
    assert lgd_segments_note(cfg, segments).startswith(
        "queue.lgd.by_segment names 2 segments no debtor has: ' retail' (the book has 'retail'); 'retial' "
        "(the book has 'retail'): those debtors take queue.lgd.default (0.4)"
    )
    cfg = QueueConfig.model_validate({"lgd": {"by_segment": {"construction": 0.9, "mining": 0.7}}})
    assert lgd_segments_note(cfg, segments) == ""


def test_a_folder_whose_name_holds_a_colon_is_a_folder_not_a_uri(tmp_path: Path, monkeypatch) -> None:
    """A user in their project folder ingests into ``AR:2024`` and scores it. pyarrow reads a relative
    path whose first part holds a colon after two letters or more as a URI of that scheme: ``ews ingest
    --out AR:2024`` stopped with "error: Unrecognized filesystem type in URI: AR:2024/.staging-.../
    invoices/bucket=0/part-0.parquet" (the folder was fine), and ``ews score`` / ``ews train --data``
    of such a folder (copied, or a link) ended in that ArrowInvalid as a traceback. Now such a path is
    made absolute before the command runs: the ingest publishes, the score passes its check of the
    folder and goes on to the registry (no model here and --require-model: exit 2, one line)."""
    project = tmp_path / "p"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    monkeypatch.chdir(project)
    monkeypatch.delenv("EWS_PROJECT", raising=False)
    (project / "inv.csv").write_text(INVOICES, encoding="utf-8")
    (project / "pay.csv").write_text(PAYMENTS, encoding="utf-8")
    args = ["ingest", "--invoices", "inv.csv", "--payments", "pay.csv", "--out", "AR:2024", "--no-docs"]
    result = runner.invoke(app, [*args, "--as-of", "2024-03-01"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["score", "--data", "AR:2024", "--as-of", "2024-03-01", "--require-model"],
        env={"COLUMNS": "400"},
    )
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    said = _flat(_said(result))
    assert said.startswith("error: model 'ews-pd' has no alias 'champion'"), said


def test_prefects_console_handler_prints_a_logged_path_as_typed() -> None:
    """Prefect's console handler prints flow-run log lines through a rich console with markup off but
    emoji codes on: the nightly's "published .../r:smile:s/2024-06-30" read "r😄s" (``ews score --out
    r:smile:s``, by hand). Within ``plain_flow_logs`` (entered by every flow command) the line is as
    typed, and the handler's console is as before afterwards. Prefect's own handler class, on a stream."""
    import io
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    from pipelines.console import plain_flow_logs

    stream = io.StringIO()
    handler = PrefectConsoleHandler(stream=stream)
    logger = logging.getLogger("s34.flow")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with plain_flow_logs():
            logger.warning("published runs/r:smile:s/2024-06-30")
        logger.warning("after r:smile:s")
    finally:
        logger.removeHandler(handler)
    said = stream.getvalue()
    assert "published runs/r:smile:s/2024-06-30" in said, said
    assert "after r😄s" in said, said  # the handler's own setting, put back
