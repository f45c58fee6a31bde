"""Session 37 review (s37-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches
(benchmarks/review_mutations.py, P entries)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
from typer.testing import CliRunner

from features.engine import build_bucket
from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.cli import app
from tests.features.ledgers import frame, inv, pay

D = dt.datetime


def _run(args: list[str]) -> object:
    return CliRunner().invoke(app, args, env={"COLUMNS": "300"})


def _workbook(path: Path, rows: list[list[object]], title: str = "Sheet1", hidden: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if hidden is not None:  # a lookup sheet the user hid (Excel: right-click > Hide)
        other = wb.create_sheet(hidden)
        other.append(["code", "meaning"])
        other.sheet_state = "hidden"
    wb.save(path)
    return path


INVOICE_HEADER = ["invoice_id", "debtor_id", "issue_date", "due_date", "amount"]
PAYMENTS = [
    ["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"],
    ["P-1", "C1", "INV-1", D(2024, 2, 3), 100],
]


def test_a_mixed_books_material_days_are_the_more_of_the_invoices_and_the_statements() -> None:
    """6660ebf, P4. A book with invoices and statements, min_open_amount 10, as of 2024-03-31. By hand:
    m1 paid its only invoice on time (0 days from the invoices) and its statement states 60 days on a
    balance of 500.00 (60 days, above the threshold); m2's invoice of 100.00 due 2024-01-31 is unpaid
    (60 days: February 29 + March 31) and its statement states 30 days on 5.00 (0: at most the threshold).
    dpd_material, the days the roll-rate states read, is the more of the two: 60 and 60 (with the
    invoices' alone m1 would read 0, current, while its statement is 60 days past due on 500.00)."""
    statements = [
        {
            "debtor_id": d,
            "period_end": pd.Timestamp("2024-03-31"),
            "balance": balance,
            "amount_due": balance,
            "amount_paid": 0.0,
            "days_past_due": dpd,
            "credit_limit": 2000.0,
        }
        for d, balance, dpd in (("m1", 500.0, 60.0), ("m2", 5.0, 30.0))
    ]
    book = Portfolio(
        invoices=frame(
            "invoices",
            [
                inv("I1", "m1", "2024-01-01", "2024-01-31", 100.0),
                inv("I2", "m2", "2024-01-01", "2024-01-31", 100.0),
            ],
        ),
        payments=frame("payments", [pay("P1", "m1", "2024-01-20", 100.0, "I1")]),
        statements=frame("statements", statements),
    )
    built = build_bucket(book, [pd.Timestamp("2024-03-31")], DefaultDefinition(min_open_amount=10.0))
    got = built.features.set_index("debtor_id")["dpd_material"].to_dict()
    assert got == {"m1": 60.0, "m2": 60.0}


def test_an_xlsx_table_of_several_files_counts_each_files_quarantined_rows(tmp_path: Path) -> None:
    """64a057f, P9. A source config's invoices in two workbooks (``more_files``). By hand: a.xlsx holds 3
    invoices, one of amount 0 (quarantined); b.xlsx 3, one due before issue and one of amount -5
    (quarantined). Per file in the manifest: 3 in = 2 accepted + 1 quarantined, 3 in = 1 + 2, as the same
    files saved as CSV read (before the lookup by the workbook's name, each workbook read 0 quarantined)."""
    a = [
        INVOICE_HEADER,
        ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1), 100],
        ["INV-2", "C1", D(2024, 1, 15), D(2024, 2, 14), 0],
        ["INV-3", "C2", D(2024, 2, 1), D(2024, 3, 1), 50],
    ]
    b = [
        INVOICE_HEADER,
        ["INV-7", "C3", D(2024, 1, 2), D(2024, 2, 1), 100],
        ["INV-8", "C3", D(2024, 1, 15), D(2023, 2, 14), 30],
        ["INV-9", "C3", D(2024, 1, 15), D(2024, 2, 14), -5],
    ]
    first, second = _workbook(tmp_path / "a.xlsx", a), _workbook(tmp_path / "b.xlsx", b)
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    (tmp_path / "src.yaml").write_text(
        f"kind: source\nname: two\ntables:\n  invoices:\n    path: {first}\n    more_files:\n"
        f"      - path: {second}\n  payments:\n    path: {payments}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = _run(["ingest", "--source", str(tmp_path / "src.yaml"), "--out", str(out), "--as-of", "2024-03-31"])
    assert res.exit_code == 0, res.output
    table = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tables"]["invoices"]
    assert (table["rows_in"], table["rows_accepted"], table["rows_quarantined"]) == (6, 3, 3)
    files = [(f["input"], f["rows_in"], f["rows_accepted"], f["rows_quarantined"]) for f in table["files"]]
    assert files == [(str(first), 3, 2, 1), (str(second), 3, 1, 2)]


def test_an_xlsx_missing_a_column_is_named_by_its_workbook_and_sheet(tmp_path: Path) -> None:
    """64a057f, P11. A refusal raised while the ingest reads a workbook's sheet names the workbook and the
    sheet the user knows, never the scratch CSV it was converted to (a path under the temporary folder,
    gone after the run)."""
    book = _workbook(
        tmp_path / "sales.xlsx",
        [INVOICE_HEADER[:4], ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1)]],
        title="Sales",
    )
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    res = _run(
        ["ingest", "--invoices", str(book), "--payments", str(payments), "--out", str(tmp_path / "o")]
        + ["--as-of", "2024-03-31", "--no-docs"]
    )
    said = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in said, said
    assert f"{book} (sheet 'Sales') lacks 1 required column ['amount']" in said, said
    assert "ews-xlsx-" not in said


def test_a_hidden_sheet_beside_the_table_is_not_a_second_sheet_with_data(tmp_path: Path) -> None:
    """64a057f, P12. A workbook with its invoices on one sheet and a hidden lookup sheet (a common
    spreadsheet habit): ingested from its only visible sheet, no --sheet needed (counting the hidden
    sheet refused it as '2 sheets with data')."""
    book = _workbook(
        tmp_path / "inv.xlsx",
        [INVOICE_HEADER, ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1), 100]],
        title="Invoices",
        hidden="Lists",
    )
    payments = _workbook(tmp_path / "pay.xlsx", PAYMENTS)
    out = tmp_path / "o"
    res = _run(
        ["ingest", "--invoices", str(book), "--payments", str(payments), "--out", str(out)]
        + ["--as-of", "2024-03-31", "--no-docs"]
    )
    assert res.exit_code == 0, res.output
    table = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tables"]["invoices"]
    assert table["sheet"] == "Invoices" and table["rows_accepted"] == 1


def _one_run(runs: Path, ids: list[str]) -> None:
    (runs / "2024-08-31").mkdir(parents=True)
    n = len(ids)
    pd.DataFrame(
        {"debtor_id": ids, "pd": [0.08] * n, "in_default": [False] * n, "band": ["D"] * n}
    ).to_parquet(runs / "2024-08-31" / "scores.parquet", index=False)


def _override(runs: Path, debtor: str) -> object:
    args = [
        "watchlist",
        "override",
        debtor,
        "--status",
        "escalated",
        "--reason",
        "legal letter sent",
        "--by",
        "ben",
    ]
    return _run([*args, "--out", str(runs)])


def test_an_override_typed_as_a_books_id_stays_on_that_id_beside_its_other_unicode_form(
    tmp_path: Path,
) -> None:
    """cf73c46, P24. A book holding 'MÜLLER-01' in both forms, two debtors (NFC: U+00DC; NFD: 'U' +
    U+0308). The analyst types the NFC id, which is in the run as written: the override is that debtor's,
    not moved to the other form's (which is another debtor of the book)."""
    from pipelines.scoring.overrides import read_log

    nfc, nfd = "M\u00dcLLER-01", "MU\u0308LLER-01"
    runs = tmp_path / "runs"
    _one_run(runs, [nfd, nfc])
    result = _override(runs, nfc)
    assert result.exit_code == 0, result.output
    assert [r["debtor_id"] for r in read_log(runs)] == [nfc]


def test_an_override_typed_in_a_form_two_ids_of_the_book_share_is_refused(tmp_path: Path) -> None:
    """cf73c46, P25. 'Å-1' is written in the run as the Angstrom sign (U+212B) and as 'A' + a combining
    ring (U+030A): two debtors, both 'Å-1' (U+00C5) in NFC. The analyst types U+00C5, which is in the run
    in neither form: which debtor is meant cannot be told, so nothing is recorded (exit 2), rather than
    the override landing on one of them."""
    from pipelines.scoring.overrides import read_log

    runs = tmp_path / "runs"
    _one_run(runs, ["\u212b-1", "A\u030a-1"])
    result = _override(runs, "\u00c5-1")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert read_log(runs) == []


def test_the_watchlist_xlsx_holds_the_top_rows_and_says_the_csv_holds_all(tmp_path: Path) -> None:
    """9637faf, P17. 3 debtors on the list and queue.xlsx_max_rows 2: watchlist.xlsx holds the first 2
    rows (the list's order), its about sheet counts 3 debtors and says the CSV holds all; the CSV holds 3."""
    from pipelines.adapters.exports import write_watchlist

    wl = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2025-11-30"] * 3),
            "debtor_id": ["D1", "D2", "D3"],
            "pd": [0.25, 0.125, 0.0625],
            "triggers": ["threshold", "jump", "rank"],
            "status": ["new", "new", "new"],
            "reasons": ["x", "y", "z"],
        }
    )
    write_watchlist(wl, tmp_path, dt.datetime(2025, 11, 30), xlsx_rows=2)
    book = openpyxl.load_workbook(tmp_path / "watchlist.xlsx")
    ids = [r[1] for r in book["watchlist"].iter_rows(min_row=2, values_only=True)]
    assert ids == ["D1", "D2"]
    about = book["about"]["A1"].value
    assert "3 debtors" in about and "holds the top 2; watchlist.csv holds all" in about
    assert pd.read_csv(tmp_path / "watchlist.csv", encoding="utf-8-sig")["debtor_id"].tolist() == [
        "D1",
        "D2",
        "D3",
    ]


def test_history_mask_reads_a_dated_invoice_payment_or_statement_by_hand() -> None:
    """0ad2cee, P30. Per row of a feature frame: an invoice (days_since_last_invoice not NaN), a payment
    (days_since_last_payment not NaN) or at least one statement (st_months_observed > 0) by the as-of
    date is a history; NaN everywhere, or 0 statements observed, is none (a prospect of the debtors
    table). By hand: [invoice 10 d] yes, [payment 3 d] yes, [3 statements] yes, [nothing] no,
    [0 statements, nothing else] no."""
    import numpy as np

    from pipelines.scoring.score import history_mask

    nan = np.nan
    frame = pd.DataFrame(
        {
            "days_since_last_invoice": [10.0, nan, nan, nan, nan],
            "days_since_last_payment": [nan, 3.0, nan, nan, nan],
            "st_months_observed": [nan, nan, 3.0, nan, 0.0],
        }
    )
    assert history_mask(frame).tolist() == [True, True, True, False, False]
