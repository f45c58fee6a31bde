"""Session 35 (s35-attack): hostile and careless inputs through the real ``ews`` command line
(BENCHMARKS.md, hostile section, "Session 35 (s35-attack)"). Every expected value is by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.source import FileSource, SourceConfig
from pipelines.ingest import ingest_source

runner = CliRunner()

INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2024-01-05,2024-02-04,100.00,EUR
I2,D2,2024-02-05,2024-03-06,300.00,EUR
I3,D3,2024-03-01,2024-03-31,400.00,EUR
"""
PAYMENTS = """payment_id,debtor_id,invoice_id,paid_on,amount
P1,D1,I1,2024-02-01,100.00
"""


def _flat(text: str) -> str:
    return " ".join(text.split())


def _said(result) -> str:
    """A command's whole output (stdout and stderr), with no traceback in it."""
    assert "Traceback" not in result.output, result.output[-3000:]
    return _flat(result.output)


def _files(tmp_path: Path, **tables: str) -> dict[str, Path]:
    texts = {"invoices": INVOICES, "payments": PAYMENTS, **tables}
    paths = {}
    for table, text in texts.items():
        paths[table] = tmp_path / f"{table}.csv"
        paths[table].write_text(text, encoding="utf-8")
    return paths


def _ingest(tmp_path: Path, *extra: str, **tables: str):
    paths = _files(tmp_path, **tables)
    args = ["ingest", *[a for t, p in paths.items() for a in (f"--{t.replace('_', '-')}", str(p))], *extra]
    out = tmp_path / "out"
    result = runner.invoke(
        app, [*args, "--out", str(out), "--no-docs", "--as-of", "2024-06-30"], env={"COLUMNS": "400"}
    )
    return result, out


UNREADABLE_AMOUNTS = (
    "debtor_id,event_date,kind,amount\n"
    'D3,2024-04-01,write_off,"-1,250.50"\n'  # thousands separator in a canonical file (no thousands)
    "D2,2024-04-02,insolvency,abc\n"
    "D1,2024-04-03,agency_placement,1e400\n"  # overflows to infinity
    "D1,2024-04-04,write_off,75\n"
)


def test_an_event_whose_optional_amount_does_not_parse_keeps_its_event(tmp_path: Path) -> None:
    """The event's amount is optional and informational. Before: a row whose amount did not parse was
    quarantined whole (unparseable_number:amount), so D3's write-off and D2's insolvency were lost and
    both debtors scored as live (events 4 = 1 + 3). Now the amount is emptied and named (rows kept,
    values_cleared in the manifest, a warning with the source rows): 4 = 4 + 0, the events as read."""
    result, out = _ingest(tmp_path, events=UNREADABLE_AMOUNTS)
    said = _said(result)
    assert result.exit_code == 0, said
    assert "│ events │ 4 │ 4 │ 0 │" in said, said
    assert (
        "warning: events.amount: 3 invalid values cleared, rows kept (unparseable_number:amount (3); "
        "first source rows [1, 2, 3])"
    ) in said, said
    kept = pd.read_parquet(out / "events").sort_values("event_date")
    assert kept["debtor_id"].tolist() == ["D3", "D2", "D1", "D1"]
    assert kept["kind"].tolist() == ["write_off", "insolvency", "agency_placement", "write_off"]
    assert kept["amount"].isna().tolist() == [True, True, True, False]
    assert kept["amount"].iloc[3] == 75.0
    events = json.loads((out / "manifest.json").read_text())["tables"]["events"]
    assert (events["rows_in"], events["rows_accepted"], events["rows_quarantined"]) == (4, 4, 0)
    assert events["values_cleared"] == {
        "amount": {"rows": 3, "reasons": {"unparseable_number:amount": 3}, "first_source_rows": [1, 2, 3]}
    }


def test_an_event_whose_optional_amount_does_not_parse_keeps_its_event_streamed(tmp_path: Path) -> None:
    """The same file through the streamed ingest (2 partitions, chunks of 2 rows): the same rows kept."""
    paths = _files(tmp_path, events=UNREADABLE_AMOUNTS)
    source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in paths.items()})
    result = ingest_source(
        source, tmp_path / "out", as_of=dt.date(2024, 6, 30), stream=True, chunk_rows=2, partitions=2
    )
    events = result.manifest["tables"]["events"]
    assert (events["rows_in"], events["rows_accepted"], events["rows_quarantined"]) == (4, 4, 0)
    assert events["values_cleared"]["amount"]["rows"] == 3
    kept = pd.read_parquet(tmp_path / "out" / "events").sort_values("event_date")
    assert kept["kind"].tolist() == ["write_off", "insolvency", "agency_placement", "write_off"]
    assert kept["amount"].isna().tolist() == [True, True, True, False]


def test_payments_naming_an_invoice_without_its_leading_zeros_are_named(tmp_path: Path) -> None:
    """The invoices from the ERP (``00123``, ``0042``), the payments file saved through a spreadsheet
    (``123``, ``42``). Ids are compared as written, so both payments are quarantined and both invoices
    stay open: D1's 100 looks 147 days past due at 2024-06-30. Before, the only cause named was
    invoice_before_export ("invoices issued before the export began"); now a warning names the two
    spellings and the fix. A payment naming an id that no invoice spells (``I99``) is not named."""
    invoices = INVOICES.replace("I1,D1", "00123,D1").replace("I2,D2", "0042,D2")
    payments = PAYMENTS.replace(",I1,", ",123,") + "P2,D2,42,2024-03-01,300.00\nP3,D3,I99,2024-03-02,10.00\n"
    result, out = _ingest(tmp_path, invoices=invoices, payments=payments)
    said = _said(result)
    assert result.exit_code == 0, said
    assert "│ payments │ 3 │ 0 │ 3 │" in said, said
    assert (
        "warning: payments: 2 payments quarantined (unknown_invoice or invoice_before_export) naming an invoice of "
        "the invoices table with other leading zeros ('123' for '00123', '42' for '0042'): ids are compared as "
        "written"
    ) in said, said
    assert "'I99'" not in said


SUB_CENT = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2024-01-05,2024-02-04,300.125,EUR
I2,D2,2024-01-05,2024-02-04,1234.5599999999,EUR
I3,D3,2024-01-05,2024-02-04,100.0000,EUR
I4,D3,2024-01-06,2024-02-05,0.009,EUR
"""
SUB_CENT_PAID = """payment_id,debtor_id,invoice_id,paid_on,amount
P1,D1,I1,2024-02-01,300.12
P2,D2,I2,2024-02-01,1234.56
P3,D3,I3,2024-02-01,100.00
"""


def test_an_invoice_with_more_decimals_than_its_currency_is_read_down_to_the_cent(tmp_path: Path) -> None:
    """An invoice of 300.125 EUR paid 300.12: before, 0.005 stayed open for good, and at 2024-06-30 D1
    was 147 days past due and in default (recovery queue), without a word. Now the amount is read down
    to the cent (300.12), counted and warned; 1234.5599999999 is a float's noise (read 1234.56, not
    changed) and 100.0000 has no extra digit. 0.009 EUR is below a cent: read as 0.00 and quarantined
    amount_not_positive (an invoice of nothing), not kept open for good; only accepted rows are counted."""
    result, out = _ingest(tmp_path, invoices=SUB_CENT, payments=SUB_CENT_PAID)
    said = _said(result)
    assert result.exit_code == 0, said
    assert "│ invoices │ 4 │ 3 │ 1 │ amount_not_positive (1) │" in said, said
    assert (
        "warning: invoices.amount: 1 amount with more decimals than the currency has (first source rows [1]) "
        "read down to the currency's smallest unit"
    ) in said, said
    kept = pd.read_parquet(out / "invoices").set_index("invoice_id")["amount"].to_dict()
    assert kept["I1"] == 300.12 and kept["I2"] == 1234.5599999999 and kept["I3"] == 100.0
    features = tmp_path / "f.parquet"
    run = runner.invoke(
        app, ["features", "--data", str(out), "--as-of", "2024-06-30", "--labels", "--out", str(features)]
    )
    assert run.exit_code == 0, run.output
    f = pd.read_parquet(features).set_index("debtor_id")
    assert f.loc["D1", "open_balance"] == 0.0 and not f.loc["D1", "in_default_at_asof"]


def test_yen_and_dinar_amounts_are_read_down_to_their_own_unit(tmp_path: Path) -> None:
    """JPY has no minor unit (400.5 JPY is read 400), KWD three (12.3456 read 12.345, 12.345 kept)."""
    for code, rows, want in (
        ("JPY", ["400.5", "400"], [400.0, 400.0]),
        ("KWD", ["12.3456", "12.345"], [12.345, 12.345]),
    ):
        folder = tmp_path / code
        folder.mkdir()
        invoices = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + "".join(
            f"I{k},D{k},2024-01-05,2024-02-04,{a},{code}\n" for k, a in enumerate(rows, 1)
        )
        payments = "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D2,I2,2024-02-01,1\n"
        result, out = _ingest(folder, invoices=invoices, payments=payments)
        said = _said(result)
        assert result.exit_code == 0, said
        assert "warning: invoices.amount: 1 amount with more decimals than the currency has" in said, said
        kept = pd.read_parquet(out / "invoices").sort_values("invoice_id")["amount"].tolist()
        assert kept == want, (code, kept)


def test_amounts_below_the_currency_unit_read_alike_streamed(tmp_path: Path) -> None:
    """The streamed ingest (2 partitions, chunks of 2 rows) reads and counts them as the in-memory one."""
    paths = _files(tmp_path, invoices=SUB_CENT, payments=SUB_CENT_PAID)
    source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in paths.items()})
    result = ingest_source(
        source, tmp_path / "out", as_of=dt.date(2024, 6, 30), stream=True, chunk_rows=2, partitions=2
    )
    cleared = result.manifest["tables"]["invoices"]["values_cleared"]["amount"]
    assert cleared["rows"] == 1 and cleared["first_source_rows"] == [1], cleared
    kept = pd.read_parquet(tmp_path / "out" / "invoices").set_index("invoice_id")["amount"].to_dict()
    assert kept["I1"] == 300.12


def test_a_config_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    """``dpd_threshold: 90`` and on the next line ``dpd_threshold: 30`` (a value changed by adding a
    line instead of editing one): YAML keeps the last, so ``ews config check`` said ok and the default
    definition was 30 days. Now exit 2, naming the file, the key and both lines; a merge key's
    override (``<<: *base`` then ``x: 3``) is still YAML's meaning and reads."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "conf" / "ews.yaml").read_text(encoding="utf-8")
    assert "\n  dpd_threshold: 90" in text
    twice = tmp_path / "ews.yaml"
    twice.write_text(text.replace("\n  dpd_threshold: 90", "\n  dpd_threshold: 90\n  dpd_threshold: 30", 1))
    line = text.split("\n  dpd_threshold: 90")[0].count("\n") + 2  # 1-based line of the first one
    result = runner.invoke(app, ["config", "check", str(twice)], env={"COLUMNS": "400"})
    said = _said(result)
    assert result.exit_code == 2, said
    assert f"FAIL {twice}: not valid YAML" in said, said
    assert f"the key 'dpd_threshold' is written twice (lines {line} and {line + 1})" in said, said
    from pipelines.config import parse_yaml

    assert parse_yaml("a: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")["c"] == {"x": 3, "y": 2}


def test_a_date_column_mixing_layouts_by_row_is_named_in_the_draft(tmp_path: Path) -> None:
    """Dates written in several layouts by row (ISO, 05/02/2024, 02/25/2024, an Excel serial 45352,
    31/03/2024): no layout reads most of the column, so ``ews sources suggest`` drafted
    "# issue_date: ???  # CHECK: required, no column found" beside a column named issue_date, and listed
    it as ignored. Now the draft names that column and why it is not mapped."""
    inv = tmp_path / "inv.csv"
    inv.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-05,2024-02-04,100.00,EUR\nI2,D1,05/02/2024,06/03/2024,200.00,EUR\n"
        "I3,D2,02/25/2024,03/26/2024,300.00,EUR\nI4,D3,45352,45382,400.00,EUR\n"
        "I5,D3,31/03/2024,30/04/2024,50.00,EUR\n",
        encoding="utf-8",
    )
    draft = tmp_path / "draft.yaml"
    result = runner.invoke(app, ["sources", "suggest", str(inv), "--out", str(draft)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, _said(result)
    text = draft.read_text(encoding="utf-8")
    assert "no column found" not in text, text
    assert (
        '# issue_date: "issue_date"  # CHECK: required; this column is named like it, but its values are not '
        "dates in one layout (e.g. 2024-01-05, 05/02/2024, 02/25/2024): no date_format reads them all"
    ) in text, text
    assert '# due_date: "due_date"  # CHECK: required; this column is named like it' in text, text


def _disputed_book(n: int, disputed: int) -> str:
    rows = "".join(
        f"I{k},D{k % 3 + 1},2024-01-05,2024-02-04,10.00,EUR,{'true' if k < disputed else 'false'}\n"
        for k in range(n)
    )
    return "invoice_id,debtor_id,issue_date,due_date,amount,currency,disputed\n" + rows


def test_an_export_with_most_invoices_disputed_is_named(tmp_path: Path) -> None:
    """A disputed column mapped from another flag, or read the wrong way round: s35-attack marked all 10,256
    invoices of a 150-debtor book disputed; ingest accepted them without a word and every one of the 99 rows
    of the collections queue said resolve_dispute. Now more than half of at least 50 invoices disputed is
    named (31 of 60); 30 of 60, or 49 of 49 (too few invoices to tell), say nothing."""
    said = {}
    for name, n, disputed in (("most", 60, 31), ("half", 60, 30), ("few", 49, 49)):
        folder = tmp_path / name
        folder.mkdir()
        result, _out = _ingest(
            folder, invoices=_disputed_book(n, disputed), payments=PAYMENTS.replace("I1", "I0")
        )
        said[name] = _said(result)
        assert result.exit_code == 0, said[name]
    assert "warning: invoices: 31 of 60 invoices (52%) are marked disputed" in said["most"], said["most"]
    assert "are marked disputed" not in said["half"] and "are marked disputed" not in said["few"]


def test_a_collector_named_with_a_trailing_space_is_refused(tmp_path: Path) -> None:
    """``Anna`` and ``Anna `` (a space typed after the name) passed ``ews config check``: two collectors
    whose names read alike in the queue's owner column and sheets. Now refused, naming the name; names with
    spaces inside them (``Anna B``) are still names."""
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        'kind: teams\ncollectors:\n  - {name: Anna, capacity: 10}\n  - {name: "Anna ", capacity: 5}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "check", str(teams)], env={"COLUMNS": "400"})
    said = _said(result)
    assert result.exit_code == 2, said
    assert "collectors: a name starts or ends with a space: ['Anna ']" in said, said
    teams.write_text(
        'kind: teams\ncollectors:\n  - {name: Anna, capacity: 10}\n  - {name: "Anna B", capacity: 5}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "check", str(teams)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, _said(result)


def test_one_invoice_id_on_two_debtors_is_named_with_its_article(tmp_path: Path) -> None:
    """The same invoice number on two debtors' rows: both quarantined duplicate_id:invoice_id, as before;
    the warning read "2 rows sharing a invoice_id"."""
    invoices = INVOICES.replace("I2,D2", "I1,D2")
    result, _out = _ingest(tmp_path, invoices=invoices)
    said = _said(result)
    assert result.exit_code == 0, said
    assert "│ invoices │ 3 │ 1 │ 2 │ duplicate_id:invoice_id (2) │" in said, said
    assert "warning: invoices: 2 rows sharing an invoice_id with another row of other values" in said, said
