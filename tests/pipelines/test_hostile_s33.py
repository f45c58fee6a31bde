"""Session 33 (s33-attack): hostile inputs nobody had tried (BENCHMARKS.md, hostile section). Hand-made
files run through the real ``ews`` command line; every expected value is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_rejected_values_are_text_in_the_data_docs_not_markup(tmp_path: Path) -> None:
    """Data Docs show each rejected value in an "Unexpected Value" table. Two invoices share the id
    ``<img src=x onerror=alert(1)>`` (duplicate_id) and an event's kind is ``<script>alert(2)</script>``
    (not a kind): both are quarantined, and the pages must show them as text (``&lt;img ...``), never
    as an element a browser runs when an analyst opens ``data_docs/index.html``."""
    inv = _write(
        tmp_path / "invoices.csv",
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        f'"{IMG}",D1,2024-01-02,2024-02-01,100.00\n'
        f'"{IMG}",D1,2024-01-03,2024-02-02,200.00\n'
        "I3,D1,2024-01-04,2024-02-03,300.00\n"
        "I4,D2,2024-01-05,2024-02-04,400.00\n",
    )
    pay = _write(
        tmp_path / "payments.csv",
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I3,2024-02-10,300.00\n",
    )
    ev = _write(tmp_path / "events.csv", f"debtor_id,event_date,kind,amount\nD2,2024-03-01,{SCRIPT},\n")
    out = tmp_path / "out"
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--events", str(ev)]
    result = CliRunner().invoke(app, [*args, "--as-of", "2024-06-30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    quarantined = (out / "quarantine" / "invoices.csv").read_text(encoding="utf-8")
    assert quarantined.count("duplicate_id:invoice_id") == 2
    pages = {p: p.read_text(encoding="utf-8") for p in (out / "data_docs").rglob("*.html")}
    assert pages
    for page, text in pages.items():
        assert IMG not in text, page
        assert SCRIPT not in text, page
    shown = "".join(pages.values())
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in shown


INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount,currency,disputed\n"
    "I1,D1,2024-01-02,2024-02-01,100.00,EUR,false\n"
    "I2,D2,2024-01-03,2024-02-02,250.50,EUR,true\n"
)
PAYMENTS = "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-10,100.00\n"


@pytest.mark.parametrize(
    ("codec", "named", "iconv"),
    [
        ("utf-16-le", "is UTF-16LE text without a byte order mark", "iconv -f UTF-16LE -t UTF-8"),
        ("utf-16-be", "is UTF-16BE text without a byte order mark", "iconv -f UTF-16BE -t UTF-8"),
        ("utf-32", "is UTF-32 text (byte order mark ff fe 00 00)", "iconv -f UTF-32 -t UTF-8"),
        ("utf-32-le", "is UTF-32LE text without a byte order mark", "iconv -f UTF-32LE -t UTF-8"),
    ],
)
def test_utf16_without_a_mark_and_utf32_are_named_with_the_right_conversion(
    tmp_path: Path, codec: str, named: str, iconv: str
) -> None:
    """UTF-16 without a byte order mark is valid UTF-8 (a zero byte after each letter): before, ingest
    read it, cleaned the zeros out of the ids, and refused every row for its dates and flags ("add the
    file's spellings to values.true_values"); UTF-32 with its mark ff fe 00 00 was called UTF-16 with
    an iconv command that garbles it. Now: exit 2, the encoding and its iconv name, no traceback."""
    inv = tmp_path / "invoices.csv"
    inv.write_bytes(INVOICES.encode(codec))
    pay = _write(tmp_path / "payments.csv", PAYMENTS)
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--as-of", "2024-06-30"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--no-docs"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in said
    assert f"{inv} {named}" in said and iconv in said
    assert not (tmp_path / "out").exists()


def test_suggest_drafts_the_encoding_of_utf16_without_a_mark_and_ingest_reads_it(tmp_path: Path) -> None:
    """`ews sources suggest` read UTF-16LE without a mark as UTF-8 and drafted column names with a
    zero after each letter ('i s s u e _ d a t e' unmapped). Now it drafts ``encoding: utf-16le``,
    and ingest with that draft reads both invoices with their amounts (100.00 and 250.50)."""
    inv = tmp_path / "invoices.csv"
    inv.write_bytes(INVOICES.encode("utf-16-le"))
    draft = tmp_path / "draft.yaml"
    result = CliRunner().invoke(app, ["sources", "suggest", str(inv), "--out", str(draft)])
    assert result.exit_code == 0, result.output
    assert "encoding: utf-16le" in draft.read_text(encoding="utf-8")
    out = tmp_path / "out"
    args = ["ingest", "--source", str(draft), "--out", str(out), "--as-of", "2024-06-30", "--no-docs"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    got = pd.concat(pd.read_parquet(p) for p in sorted((out / "invoices").rglob("*.parquet")))
    assert sorted(got["amount"].tolist()) == [100.0, 250.5]
    assert sorted(got["debtor_id"].astype(str).tolist()) == ["D1", "D2"]


@pytest.mark.parametrize("given", ["invoices", "payments"])
def test_a_ledger_file_given_as_the_debtors_file_is_refused(tmp_path: Path, given: str) -> None:
    """``--debtors invoices.csv`` (or payments.csv): before, exit 0 with a debtors table of ids alone
    (one row per debtor kept, the other rows quarantined as copies): the customer master's names and
    credit limits silently missing. Now exit 2 naming the file, the table it looks like and the fix;
    nothing written. A real customer master of ids alone is still read (2 debtors)."""
    inv = _write(tmp_path / "invoices.csv", INVOICES)
    pay = _write(tmp_path / "payments.csv", PAYMENTS)
    wrong = inv if given == "invoices" else pay
    out = tmp_path / "out"
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--as-of", "2024-06-30", "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--debtors", str(wrong), "--out", str(out)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in said
    assert f"debtors: {wrong} holds the columns of the {given} table" in said
    assert f"Fix: pass this file as --{given} and the debtors file as --debtors" in said
    assert not out.exists()
    ids = _write(tmp_path / "ids.csv", "debtor_id\nD1\nD2\n")
    result = CliRunner().invoke(app, [*args, "--debtors", str(ids), "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.concat(pd.read_parquet(p) for p in sorted((out / "debtors").rglob("*.parquet")))
    assert sorted(got["debtor_id"].astype(str).tolist()) == ["D1", "D2"]


def test_text_with_rich_markup_is_printed_as_typed_not_read_as_markup(tmp_path: Path) -> None:
    """ews prints through rich, which reads ``[...]`` as markup: ``[/bold]`` with nothing open raised
    MarkupError (a traceback, exit 1) and ``[link=URL]x[/link]`` became a hidden link. An override
    by ``[/bold]`` was logged and then the command crashed (a user retries: logged twice); a debtor id
    ``D[/]1`` crashed ``ews watchlist history``. Now both exit 0 and print the text as typed."""
    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    pd.DataFrame(
        {
            "debtor_id": pd.Series(["D[/]1"], dtype="string"),
            "pd": [0.09],
            "in_default": [False],
            "band": ["D"],
        }
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)
    reason = "paid [link=http://evil.example]here[/link] [red]today[/red]"
    args = ["watchlist", "override", "D[/]1", "--status", "cleared", "--reason", reason, "--by", "[/bold]"]
    result = CliRunner().invoke(app, [*args, "--out", str(runs)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "override 1: D[/]1 -> Cleared by [/bold] (PD 9.00% in run 2024-08-31;" in result.output
    assert len((runs / "overrides.jsonl").read_text(encoding="utf-8").splitlines()) == 1
    result = CliRunner().invoke(
        app, ["watchlist", "history", "D[/]1", "--out", str(runs)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.output
    assert "D[/]1: runs in" in result.output and reason in result.output and "by [/bold]" in result.output


def test_an_ingest_error_naming_markup_is_one_line(tmp_path: Path) -> None:
    """The error line of ``ews ingest`` is printed through rich: a missing file in a folder named
    ``a[/]b`` and a header ``amount [/b]`` (no amount column) each ended in a MarkupError traceback.
    Now exit 2 with the path / column as typed."""
    pay = _write(tmp_path / "payments.csv", PAYMENTS)
    out = str(tmp_path / "out")
    missing = tmp_path / "a[/]b" / "invoices.csv"
    result = CliRunner().invoke(
        app, ["ingest", "--invoices", str(missing), "--payments", str(pay), "--out", out]
    )
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"invoices: file {missing} not found" in said and "Traceback" not in said
    inv = _write(tmp_path / "invoices.csv", INVOICES.replace(",amount,", ",amount [/b],", 1))
    result = CliRunner().invoke(app, ["ingest", "--invoices", str(inv), "--payments", str(pay), "--out", out])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "lacks 1 required column ['amount']" in said and "'amount [/b]'" in said


def test_a_reason_with_terminal_control_characters_is_refused_and_an_old_one_shown_inert(
    tmp_path: Path,
) -> None:
    """``--reason $'call back\\e[2J\\e]8;;http://evil\\e\\\\here\\e]8;;\\e\\\\'`` was logged and printed raw by
    ``ews watchlist history``: another analyst's terminal cleared its screen and showed a hidden link.
    Now it is refused (exit 2, nothing logged); a reason with a line break and a tab is kept; and a
    reason already in an older log is printed with its control characters written out (\\x1b)."""
    from pipelines.scoring.overrides import Override, append_override

    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": pd.Series(["D1"], dtype="string"), "pd": [0.09], "in_default": [False], "band": ["D"]}
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)
    hostile = "call back\x1b[2J\x1b]8;;http://evil\x1b\\here\x1b]8;;\x1b\\"
    args = ["watchlist", "override", "D1", "--status", "cleared", "--by", "Ann", "--out", str(runs)]
    result = CliRunner().invoke(app, [*args, "--reason", hostile], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "--reason holds 5 control characters ('\\x1b'; a terminal runs them" in result.output
    assert not (runs / "overrides.jsonl").exists()
    result = CliRunner().invoke(app, [*args, "--reason", "paid:\n\tinvoice 7"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    old = Override("D1", "escalated", hostile, "Bob", dt.date(2024, 8, 31), 0.09, None, None)
    append_override(runs, old)
    result = CliRunner().invoke(
        app, ["watchlist", "history", "D1", "--out", str(runs)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "call back\\x1b[2J\\x1b]8;;http://evil\\x1b\\here" in result.output
    assert "paid:" in result.output and "invoice 7" in result.output


def test_canonical_files_with_two_digit_years_point_at_sources_suggest(tmp_path: Path) -> None:
    """Every date written ``02/01/24`` (Excel's short date) in canonical files (10 invoices, the
    refusal's minimum): every row refused, and the hint said to fix values.date_format "in the source
    config", which ``ews ingest --invoices`` does not have. Now it also names ``ews sources suggest
    FILE`` (which drafts ``%d/%m/%y``)."""
    rows = "".join(f"I{i},D{i},{i:02d}/01/24,{i:02d}/02/24,100.00\n" for i in range(1, 11))
    inv = _write(tmp_path / "invoices.csv", "invoice_id,debtor_id,issue_date,due_date,amount\n" + rows)
    pay = _write(tmp_path / "payments.csv", PAYMENTS)
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--as-of", "2024-06-30", "--no-docs"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "unparseable_date:due_date (10)" in said
    assert f"`ews sources suggest {inv}` drafts one with the file's own date and number formats" in said


def test_a_sample_cell_with_line_breaks_cannot_write_lines_into_the_draft(tmp_path: Path) -> None:
    """``ews sources suggest`` shows sample values in a comment after each mapped column. A quoted cell
    holding line breaks ended that comment, and its next lines became YAML of the draft: here a row
    filter that drops every invoice of amount 250.50 (a valid config; ``ews config check`` said ok).
    Now the breaks are written out (``\\n``) inside the comment, and the draft has no ``rows`` key."""
    cell = 'I1\n    rows: {drop: {column: amount, values: ["250.50"]}}\n    columns:\n      invoice_id: "invoice_id" #'
    body = "".join(f"I{i},D{i},2024-01-{i:02d},2024-02-{i:02d},250.50\n" for i in range(2, 12))
    quoted = '"' + cell.replace('"', '""') + '"'
    inv = _write(
        tmp_path / "inv.csv",
        f"invoice_id,debtor_id,issue_date,due_date,amount\n{quoted},D1,2024-01-01,2024-02-01,100.00\n{body}",
    )
    draft = tmp_path / "draft.yaml"
    result = CliRunner().invoke(app, ["sources", "suggest", str(inv), "--out", str(draft)])
    assert result.exit_code == 0, result.output
    parsed = yaml.safe_load(draft.read_text(encoding="utf-8"))
    assert "rows" not in parsed["tables"]["invoices"]
    assert parsed["tables"]["invoices"]["columns"]["amount"] == "amount"
    assert "# matched by name; e.g. I1\\n    rows: {drop:" in draft.read_text(encoding="utf-8")


def test_sources_suggest_never_writes_its_draft_over_the_export(tmp_path: Path) -> None:
    """``ews sources suggest inv.csv --out inv.csv --force`` replaced the user's export with the draft
    (whose ``path`` then named the draft itself). Now exit 2, one line, the export's bytes unchanged."""
    inv = _write(tmp_path / "invoices.csv", INVOICES)
    before = inv.read_bytes()
    result = CliRunner().invoke(app, ["sources", "suggest", str(inv), "--out", str(inv), "--force"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"--out {inv} is an input file: the draft would replace the export" in said
    assert "Traceback" not in said
    assert inv.read_bytes() == before


def test_an_override_reason_of_invisible_characters_is_empty(tmp_path: Path) -> None:
    """``--reason`` of two zero-width spaces and a no-break space was logged as a reason (it shows as
    nothing in the report and the exports): an override without a why. Now "--reason is empty"
    (exit 2, nothing logged); a reason with a zero-width space inside words is kept."""
    runs = tmp_path / "runs"
    (runs / "2024-08-31").mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": pd.Series(["D1"], dtype="string"), "pd": [0.09], "in_default": [False], "band": ["D"]}
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)
    args = ["watchlist", "override", "D1", "--status", "cleared", "--by", "Ann", "--out", str(runs)]
    result = CliRunner().invoke(app, [*args, "--reason", "\u200b\u200b\u00a0"])
    assert result.exit_code == 2, result.output
    assert "--reason is empty" in result.output
    assert not (runs / "overrides.jsonl").exists()
    result = CliRunner().invoke(app, [*args, "--reason", "paid\u200bin full"])
    assert result.exit_code == 0, result.output


def test_the_demos_closing_lines_print_an_out_folder_as_typed(tmp_path: Path) -> None:
    """s33-review: ``ews demo --out 'g[old]'`` printed its closing paths through rich markup: 'g[old]/runs'
    read as 'g/runs' (a wrong path to open), and an --out folder with '[/]' ended in a traceback after
    the whole demo had run."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import where_to_look

    out = tmp_path / "g[old]" / "x[/]" / "runs"
    runs = [out / "2025-12-30", out / "2025-12-31"]
    cfg = SimpleNamespace(schedule=SimpleNamespace(cron="0 2 * * *", timezone="Europe/Amsterdam"))
    console = Console(record=True, width=400)
    where_to_look(console, runs, out.parent / "teams.yaml", out, "D[/]1", "sqlite:///m.db", cfg)
    text = console.export_text()
    assert f"report:            {out / '2025-12-31' / 'report.html'}  (open in a browser" in text
    assert f"teams (demo):      {out.parent / 'teams.yaml'}  (owners" in text
    assert f"ews watchlist history D[/]1 --out {out}   (log: {out / 'overrides.jsonl'})" in text
