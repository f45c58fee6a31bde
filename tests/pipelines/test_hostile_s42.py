"""Attacks of session 42 (s42-attack; BENCHMARKS.md "Session 42 (s42-attack)"). Hand-built ledgers;
every expected number is by hand. Each test fails on main 7de4095.

Header drift in a rolling ``--keep-history`` feed: a night's export that lost an optional column was
merged with exit 0 and no word, and each re-sent row took the empty cell or the default. On a fresh
generator book (3669, 80 debtors x 12 months; night 1 to 2023-11-30, night 2 to 2023-12-29): the 99
disputed invoices of the history cleared (invoices without ``disputed``), the 2,482 payments naming
their invoice turned into unallocated cash (payments without ``invoice_id``), the 80 credit limits
emptied (debtors without ``credit_limit``), 3,216 invoices' currency blanked (invoices without
``currency``). Now refused before any work, naming the file, the column, the rows and the fix.

The ledger: debtors D1, D2, D3 (limits 5,000, 6,000, 7,000); invoices I1 (D1, disputed), I2 (D2),
I3 (D3), issued in June 2024, 100.00 EUR each; payments P1 (D2, I2) and P2 (D3, I3). Night 1 is
2024-06-30; night 2 (2024-07-31) re-sends them and adds I4 (D1, July)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.adapters.files import read_portfolio
from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import TableError, ingest_files

NIGHT1 = dt.date(2024, 6, 30)
NIGHT2 = dt.date(2024, 7, 31)
RULES = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
INVOICES = [
    ("I1", "D1", "2024-06-03", "2024-07-03", "true"),
    ("I2", "D2", "2024-06-04", "2024-07-04", "false"),
    ("I3", "D3", "2024-06-05", "2024-07-05", "false"),
]
I4 = ("I4", "D1", "2024-07-02", "2024-08-01", "false")
PAYMENTS = [("P1", "D2", "I2", "2024-06-20"), ("P2", "D3", "I3", "2024-06-21")]


def _night(
    folder: Path, night2: bool, drop: tuple[str, str] | None = None, disputed: bool = True
) -> dict[str, Path]:
    """The ledger's files for a night; ``drop``: (table, column) left out of that table's file;
    ``disputed``: I1 disputed."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = INVOICES if disputed else [(*row[:4], "false") for row in INVOICES]
    invoices = pd.DataFrame(
        rows + ([I4] if night2 else []),
        columns=["invoice_id", "debtor_id", "issue_date", "due_date", "disputed"],
    ).assign(amount="100.00", currency="EUR")
    payments = pd.DataFrame(PAYMENTS, columns=["payment_id", "debtor_id", "invoice_id", "paid_on"]).assign(
        amount="100.00"
    )
    debtors = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"], "credit_limit": ["5000", "6000", "7000"]})
    frames = {"invoices": invoices, "payments": payments, "debtors": debtors}
    if drop is not None:
        frames[drop[0]] = frames[drop[0]].drop(columns=[drop[1]])
    files = {}
    for table, frame in frames.items():
        files[table] = folder / f"{table}.csv"
        frame.to_csv(files[table], index=False)
    return files


def _kept(tmp_path: Path) -> Path:
    out = tmp_path / "ledger"
    ingest_files(_night(tmp_path / "n1", False), out, as_of=NIGHT1, settings=RULES, keep_history=True)
    return out


@pytest.mark.parametrize(
    ("drop", "said"),
    [
        (("invoices", "disputed"), "holds it for 1 row marked true"),
        (("payments", "invoice_id"), "holds it for 2 rows with a value"),
        (("debtors", "credit_limit"), "holds it for 3 rows with a value"),
        (("invoices", "currency"), "holds it for 3 rows with a value"),
    ],
)
def test_a_rolling_export_that_lost_a_column_the_history_holds_is_refused(
    tmp_path: Path, drop: tuple[str, str], said: str
) -> None:
    """Before: exit 0, I1's dispute cleared / P1 and P2 unallocated / the three limits emptied / the
    three invoices' EUR blanked. Now: refused, the file, the column and the kept rows named, the
    folder as it was (the history as of night 1, I1 still disputed)."""
    out = _kept(tmp_path)
    files = _night(tmp_path / "n2", True, drop)
    with pytest.raises(TableError) as caught:
        ingest_files(files, out, as_of=NIGHT2, settings=RULES, keep_history=True)
    message = str(caught.value)
    assert f"{files[drop[0]]} ({drop[0]}) has no column {drop[1]!r}" in message
    assert said in message
    assert f"tables.{drop[0]}.columns: {{{drop[1]}: <its name>}}" in message
    assert "Nothing was written" in message
    assert json.loads((out / "manifest.json").read_text())["as_of"] == "2024-06-30"
    kept = read_portfolio(out)
    assert kept.invoices.set_index("invoice_id")["disputed"].to_dict() == {
        "I1": True,
        "I2": False,
        "I3": False,
    }
    assert kept.payments["invoice_id"].tolist() == ["I2", "I3"]
    assert kept.debtors["credit_limit"].tolist() == [5000.0, 6000.0, 7000.0]


def test_a_column_that_states_nothing_the_history_holds_is_no_reason_to_refuse(tmp_path: Path) -> None:
    """No disputed invoice kept (I1 undisputed on night 1): night 2 without the column is merged, I4
    added. A column the empty cells fill alike (currency EUR, --currency EUR) is merged too."""
    out = tmp_path / "ledger"
    night1 = _night(tmp_path / "n1", False, disputed=False)
    ingest_files(night1, out, as_of=NIGHT1, settings=RULES, keep_history=True)
    files = _night(tmp_path / "n2", True, ("invoices", "disputed"), disputed=False)
    ingest_files(files, out, as_of=NIGHT2, settings=RULES, keep_history=True)
    assert sorted(read_portfolio(out).invoices["invoice_id"]) == ["I1", "I2", "I3", "I4"]
    out2 = _kept(tmp_path / "b")
    files = _night(tmp_path / "b" / "n2", True, ("invoices", "currency"))
    ingest_files(files, out2, as_of=NIGHT2, settings=RULES, keep_history=True, default_currency="EUR")
    assert read_portfolio(out2).invoices["currency"].tolist() == ["EUR"] * 4


def test_ews_ingest_says_the_lost_column_in_one_line(tmp_path: Path) -> None:
    """Through the CLI: exit 2, one line, no traceback."""
    out = _kept(tmp_path)
    files = _night(tmp_path / "n2", True, ("payments", "invoice_id"))
    args = [f"--{t}={p}" for t, p in files.items()]
    result = CliRunner().invoke(
        app, ["ingest", *args, "--as-of", "2024-07-31", "--keep-history", "--no-docs", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "has no column 'invoice_id'" in result.output
    assert "2 rows with a value" in result.output


def _check_teams(tmp_path: Path, names: list[str]) -> tuple[int, str]:
    teams = tmp_path / "teams.yaml"
    lines = "".join(f"  - {{name: {json.dumps(n)}, capacity: 10}}\n" for n in names)
    teams.write_text(f"kind: teams\ncollectors:\n{lines}", encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(teams)], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.split())


def test_a_collector_named_unassigned_in_another_case_is_refused(tmp_path: Path) -> None:
    """A collector ``Unassigned`` passed ``ews config check`` (only ``unassigned`` was reserved); the
    nightly of a book with rows nobody covers then stopped writing the queue's workbook: xlsxwriter's
    DuplicateWorksheetName "Sheetname 'unassigned', with case ignored, is already in use" (a sheet per
    owner; Excel's sheet names ignore case). Now refused at the config, naming the name."""
    from pipelines.adapters.exports import write_xlsx

    code, said = _check_teams(tmp_path, ["Unassigned", "Ben"])
    assert code == 2, said
    assert "collectors: ['Unassigned'] is reserved (any case) for the rows nobody covers" in said, said
    # what the check keeps from: the workbook of a queue owned by 'Unassigned' and 'unassigned'
    queue = pd.DataFrame(
        {"debtor_id": ["D1", "D2"], "owner": ["Unassigned", "unassigned"], "exposure": [1.0, 2.0]}
    )
    with pytest.raises(Exception, match="already in use"):
        write_xlsx(queue, tmp_path / "q.xlsx", "all", split_by="owner")


@pytest.mark.parametrize(
    ("names", "said"),
    [
        (
            ["Zo\u00eb", "Zoe\u0308"],
            "names must be unique (Excel sheet names ignore case; a letter with an accent",
        ),
        (["Anna\u200b", "Anna"], "'Anna\\u200b' hold invisible or control characters"),
        (["Anna\nBerg", "Ben"], "'Anna\\nBerg' hold invisible or control characters"),
    ],
)
def test_collectors_that_read_alike_or_hide_characters_are_refused(
    tmp_path: Path, names: list[str], said: str
) -> None:
    """``Zoë`` typed twice, once with the accent as a character of its own (NFD): two collectors, two
    owners and two sheets that read alike; ``Anna`` + a zero-width space beside ``Anna``; a line break
    inside a sheet's name. Each passed ``ews config check`` before; now exit 2 naming the name."""
    code, text = _check_teams(tmp_path, names)
    assert code == 2, text
    assert said in text, text
    code, text = _check_teams(tmp_path, ["Zoë", "Anna Berg"])  # accents and spaces inside stay names
    assert code == 0, text


def test_an_override_reason_with_a_text_direction_control_is_refused() -> None:
    """``--reason 'paid in full \\u202e(noitpecxe)'`` (RIGHT-TO-LEFT OVERRIDE) was logged and shown as
    "paid in full (exception)" reversed from what was typed: the report, the watchlist workbook and
    `ews watchlist history` show the text after the control in another order. Now refused (the checks
    of `ews watchlist override` and `accept-log`), naming the character; right-to-left words typed as
    such (Hebrew) are still a reason."""
    from pipelines.scoring.overrides import OverrideError, check_reason

    with pytest.raises(OverrideError, match=r"U\+202E RIGHT-TO-LEFT OVERRIDE"):
        check_reason("paid in full \u202e(noitpecxe)")
    with pytest.raises(OverrideError, match=r"U\+2066 LEFT-TO-RIGHT ISOLATE"):
        check_reason("agreed \u2066plan\u2069")
    check_reason("Zahlung \u05e9\u05dc\u05d5\u05dd erhalten")
