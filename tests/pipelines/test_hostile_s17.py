"""Hostile inputs, session 17 (s17-robust; BENCHMARKS.md "Hostile inputs tried", "Session 17
(s17-robust)"): the clearing join's open items of session 16 (document numbers that restart per
fiscal year and company code, allocation order) and the others of its still-open list. Each test
failed on the code before its fix; hand-built files, expected figures computed by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pipelines.config import load_config
from pipelines.config.source import SourceConfig

LEDGER = """kind: source
name: fbl5n
csv: {{delimiter: ";"}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["RV"]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Customer, issue_date: Document Date, due_date: Net Due Date, amount: Amount}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["DZ"]}}}}
    negate_amount: true
    clearing: {{column: "Clearing Document"{clearing}}}
    columns: {{payment_id: Document Number, debtor_id: Customer, paid_on: Document Date, amount: Amount}}
"""

HEADER = "Company Code;Customer;Document Number;Document Type;Document Date;Net Due Date;Amount;Clearing Document;Clearing date\n"


def _ingest(tmp_path: Path, text: str, clearing: str = ""):
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / "ledger.csv"
    export.write_text(text, encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(LEDGER.format(path=export, clearing=clearing), encoding="utf-8")
    source = load_config(path, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=dt.date(2024, 12, 4))


def _pieces(result) -> dict[str, tuple[str | None, float]]:
    pay = result.portfolio.payments
    return {
        str(r.payment_id): (None if pd.isna(r.invoice_id) else str(r.invoice_id), float(r.amount))
        for r in pay.itertuples()
    }


# ---------------------------------------------------------------- item 3: allocation order


def test_a_short_payment_over_several_invoices_pays_the_oldest_due_first(tmp_path: Path) -> None:
    """K1's payment 1400000001 of 1,200.00 clears two invoices (1,500.00 in all; the 300.00 short is
    left open on one of them). The export lists the invoice due 2024-04-04 (500.00) before the one
    due 2024-03-31 (1,000.00). Before: file order, 500.00 on 9000002 and 700.00 on 9000001 (the older
    one left 300.00 open). Now oldest due first: by hand 1,000.00 on 9000001, 200.00 on 9000002 (300.00
    open); payments 3 read = 2 in (1 row + 1 piece) + 2 filtered, 2 accepted."""
    text = HEADER + (
        "1000;K1;9000002;RV;2024-03-05;2024-04-04;500.00;1400000001;2024-04-10\n"
        "1000;K1;9000001;RV;2024-03-01;2024-03-31;1000.00;1400000001;2024-04-10\n"
        "1000;K1;1400000001;DZ;2024-04-10;2024-04-10;-1200.00;1400000001;2024-04-10\n"
    )
    result = _ingest(tmp_path, text)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (3, 2, 2, 0)
    assert _pieces(result) == {
        "1400000001/9000001": ("9000001", 1000.0),
        "1400000001/9000002": ("9000002", 200.0),
    }


def test_payments_of_a_clearing_are_allocated_earliest_first(tmp_path: Path) -> None:
    """One clearing 1400000002 of invoices 9000001 (due 2024-03-31, 1,000.00) and 9000002 (due
    2024-04-30, 500.00) by a part payment 1400000001 of 2024-04-01 (1,000.00) and the final payment
    1400000002 of 2024-05-01 (500.00); the export is sorted by amount, the later payment first.
    Before: file order, the May payment's 500.00 on 9000001, then the April payment 500.00 on
    9000001 and 500.00 on 9000002: 9000001 settled on 2024-04-01 by two pieces, one of them paid a
    month after. Now earliest payment first: by hand the April 1,000.00 on 9000001, the May 500.00 on
    9000002 (no split: 2 payment rows in, 2 accepted)."""
    text = HEADER + (
        "1000;K1;9000001;RV;2024-03-01;2024-03-31;1000.00;1400000002;2024-05-01\n"
        "1000;K1;9000002;RV;2024-03-31;2024-04-30;500.00;1400000002;2024-05-01\n"
        "1000;K1;1400000002;DZ;2024-05-01;2024-05-01;-500.00;1400000002;2024-05-01\n"
        "1000;K1;1400000001;DZ;2024-04-01;2024-04-01;-1000.00;1400000002;2024-05-01\n"
    )
    result = _ingest(tmp_path, text)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 2, 2, 0)
    assert _pieces(result) == {"1400000002": ("9000002", 500.0), "1400000001": ("9000001", 1000.0)}


# ---------------------------------------------------------------- item 2: numbers per year / company


YEARS = HEADER + (
    # 2023: K1's invoice 9000001 (600.00) cleared by payment 1400000001 of 1,000.00 (400.00 on account)
    "1000;K1;9000001;RV;2023-11-20;2023-12-20;600.00;1400000001;2023-12-20\n"
    "1000;K1;1400000001;DZ;2023-12-20;2023-12-20;-1000.00;1400000001;2023-12-20\n"
    # 2024: the number range restarts: K2's invoice 9000002 (500.00) cleared by ITS payment 1400000001
    "1000;K2;9000002;RV;2024-01-05;2024-02-04;500.00;1400000001;2024-02-10\n"
    "1000;K2;1400000001;DZ;2024-02-10;2024-02-10;-500.00;1400000001;2024-02-10\n"
)


def test_a_clearing_number_of_two_fiscal_years_is_two_clearings_with_the_clearing_date_in_scope(
    tmp_path: Path,
) -> None:
    """SAP numbers documents per fiscal year: clearing document 1400000001 of 2023 (K1's) and of
    2024 (K2's) are different documents. Without a scope (before: the only way) the four rows are one
    clearing: K1's 2023 payment took its invoice's 600.00 and 400.00 of K2's invoice 9000002 (issued
    16 days after it, within prepayment_days); K2's payment then paid 9000002's other 100.00 and kept
    400.00 unallocated, its two pieces named as K1's: 4 in = 2 accepted + 2 quarantined
    duplicate_id:payment_id (9000002 left open, K2's payment lost). With ``scope: [Company Code,
    Clearing date]`` (a clearing document is its number and its date in its company code) by hand:
    K1's 1,000.00 -> 600.00 on 9000001 + 400.00 unallocated; K2's 500.00 whole on 9000002; payments
    4 read = 3 in (2 rows + 1 piece) + 2 filtered = 3 accepted + 0 quarantined."""
    before = _ingest(tmp_path, YEARS)
    pay = before.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["reasons"]) == (4, 2, {"duplicate_id:payment_id": 2})
    result = _ingest(tmp_path, YEARS, ', scope: ["Company Code", "Clearing date"]')
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 3, 3, 0)
    assert _pieces(result) == {
        "1400000001/9000001": ("9000001", 600.0),
        "1400000001/unallocated": (None, 400.0),
        "1400000001": ("9000002", 500.0),
    }


COMPANIES = HEADER + (
    "1000;K1;9000001;RV;2024-01-05;2024-02-04;700.00;1400000001;2024-02-10\n"
    "1000;K1;1400000001;DZ;2024-02-10;2024-02-10;-1000.00;1400000001;2024-02-10\n"
    "2000;K2;9000002;RV;2024-01-06;2024-02-05;300.00;1400000001;2024-02-10\n"
    "2000;K2;1400000002;DZ;2024-02-10;2024-02-10;-300.00;1400000001;2024-02-10\n"
)


def test_a_clearing_number_of_two_company_codes_is_two_clearings(tmp_path: Path) -> None:
    """The same clearing number 1400000001 on the same day in company codes 1000 (K1) and 2000 (K2):
    two documents (numbers are unique per company code). K1's payment of 1,000.00 pays its 700.00
    invoice, 300.00 on account. Without a scope (before) the rows are one clearing: K1's 1,000.00 took
    700.00 of 9000001 and K2's 300.00 invoice (a piece quarantined debtor_mismatch), K2's own payment
    none (unallocated). With ``scope: [Company Code]`` by hand: K1 700.00 on 9000001 + 300.00
    unallocated, K2's 300.00 whole on 9000002: 4 read = 3 in = 3 accepted."""
    before = _ingest(tmp_path, COMPANIES)
    pay = before.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["reasons"]) == (3, 2, {"debtor_mismatch": 1})
    result = _ingest(tmp_path, COMPANIES, ', scope: ["Company Code"]')
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 3, 3, 0)
    assert _pieces(result) == {
        "1400000001/9000001": ("9000001", 700.0),
        "1400000001/unallocated": (None, 300.0),
        "1400000002": ("9000002", 300.0),
    }


def test_suggest_drafts_the_scope_of_an_sap_clearing(tmp_path: Path) -> None:
    """`ews sources suggest` on the two-year export above (Company Code, Clearing date beside the
    Clearing Document). Before: `clearing: {column: "Clearing Document"}`, the four rows one
    clearing (2 of 4 payment rows quarantined duplicate_id). Now the draft scopes the number by the
    company code and the clearing date, and the draft ingests as the hand-written config above:
    3 in = 3 accepted, 9000002 paid by K2's payment."""
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "fbl5n.csv"
    export.write_text(YEARS, encoding="utf-8")
    draft = suggest_source(export)
    assert (
        'clearing: {column: "Clearing Document", scope: ["Company Code", "Clearing date"], date: "Clearing date"}'
        in draft.text
    )
    config = tmp_path / "draft.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    result = ingest_source(source, None, as_of=dt.date(2024, 12, 4))
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (3, 3, 0)
    assert _pieces(result)["1400000001"] == ("9000002", 500.0)


def test_a_scope_column_the_file_lacks_is_named(tmp_path: Path) -> None:
    """A ``clearing.scope`` column not in the file: the config check names it and the key."""
    import pytest

    from pipelines.sources.read import TableError

    with pytest.raises(TableError, match=r"no column 'Fiscal Year' \(tables.payments.clearing.scope\[0\]"):
        _ingest(tmp_path, YEARS, ', scope: ["Fiscal Year"]')


# ---------------------------------------------------------------- item 1: point in time of a clearing

# K1's older invoice 9000001 (1,000.00, due 2024-02-09) is left open (disputed, say). The part payment
# 1400000001 of 400.00 (2024-03-20) stays open until 2024-04-15, when the final payment 1400000002
# (600.00) clears it with the newer invoice 9000002 (1,000.00, due 2024-03-31).
PIT_FULL = HEADER + (
    "1000;K1;9000001;RV;2024-01-10;2024-02-09;1000.00;;\n"
    "1000;K1;9000002;RV;2024-03-01;2024-03-31;1000.00;1400000002;2024-04-15\n"
    "1000;K1;1400000001;DZ;2024-03-20;2024-03-20;-400.00;1400000002;2024-04-15\n"
    "1000;K1;1400000002;DZ;2024-04-15;2024-04-15;-600.00;1400000002;2024-04-15\n"
)
# the same ledger exported on 2024-03-31: the part payment open, naming nothing yet
PIT_AT_T = HEADER + (
    "1000;K1;9000001;RV;2024-01-10;2024-02-09;1000.00;;\n"
    "1000;K1;9000002;RV;2024-03-01;2024-03-31;1000.00;;\n"
    "1000;K1;1400000001;DZ;2024-03-20;2024-03-20;-400.00;;\n"
)


def _features(result, as_of: str) -> pd.DataFrame:
    from features.build import build_features

    return build_features(result.portfolio, [as_of]).reset_index(drop=True)


def test_features_before_a_clearing_do_not_see_it(tmp_path: Path) -> None:
    """Features as of 2024-03-31 from the export of 2024-12 must equal those from the export as it
    was on 2024-03-31 (DESIGN: nothing after T). Before (the join keeps the final clearing only),
    the part payment sat on 9000002 from its own day on: at T 9000001 1,000.00 open and 9000002
    600.00, while the export of T (the payment open, applied oldest first) gives 9000001 600.00 and
    9000002 1,000.00: the which-invoice was known 16 days early (e.g. overdue_amount differs). With
    ``clearing.date`` the part payment carries allocated_on 2024-04-15 and is cash on account until
    then: by hand at T 9000001 600.00 open, 9000002 1,000.00 open (the T export's state); at
    2024-04-30 9000002 paid on 2024-04-15 and 9000001 1,000.00 open (the full export's)."""
    from features.ledger import day_number, ledger_state, prepare_ledger

    for sub in ("t", "b", "n"):
        (tmp_path / sub).mkdir()
    at_t = _ingest(tmp_path / "t", PIT_AT_T)
    before = _ingest(tmp_path / "b", PIT_FULL)
    assert not _features(before, "2024-03-31").equals(_features(at_t, "2024-03-31"))
    now = _ingest(tmp_path / "n", PIT_FULL, ', date: "Clearing date"')
    pay = now.portfolio.payments.set_index("payment_id")
    assert pay.loc["1400000001", "allocated_on"] == pd.Timestamp("2024-04-15")
    pd.testing.assert_frame_equal(_features(now, "2024-03-31"), _features(at_t, "2024-03-31"))

    def open_amounts(result, day: str) -> dict[str, float]:
        ledger = prepare_ledger(result.portfolio)
        state = ledger_state(ledger, int(day_number(pd.Timestamp(day))))
        ids = ledger.invoice_ids.to_pylist()
        rows = ledger.inv_row if state.inv_rows is None else ledger.inv_row[state.inv_rows]
        return {ids[r]: float(v) for r, v in zip(rows, state.inv_remaining, strict=True)}

    assert open_amounts(now, "2024-03-31") == {"9000001": 600.0, "9000002": 1000.0}
    assert open_amounts(now, "2024-04-30") == {"9000001": 1000.0, "9000002": 0.0}


def test_allocations_after_t_can_be_scrambled_without_changing_features_at_t() -> None:
    """DESIGN's point-in-time test for ``allocated_on``: payments applied after T (allocated_on > T)
    have their invoice_id moved to another invoice of the debtor: the features at T are unchanged
    (they are cash on account at T, applied oldest first), while the features after the allocation
    do change. Canonical tables, by hand: debtor D1, invoices I1 (2024-01-05, due 02-04, 500.00) and
    I2 (2024-02-01, due 03-02, 300.00); payment P1 (2024-02-10, 300.00) applied to I2 on 2024-03-15."""
    from features.build import build_features
    from features.tables import Portfolio

    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array(["I1", "I2"], dtype="string"),
            "debtor_id": pd.array(["D1", "D1"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-01-05", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-02-04", "2024-03-02"]),
            "amount": [500.0, 300.0],
        }
    )

    def payments(invoice: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "payment_id": pd.array(["P1"], dtype="string"),
                "debtor_id": pd.array(["D1"], dtype="string"),
                "invoice_id": pd.array([invoice], dtype="string"),
                "paid_on": pd.to_datetime(["2024-02-10"]),
                "allocated_on": pd.to_datetime(["2024-03-15"]),
                "amount": [300.0],
            }
        )

    on_i2 = build_features(
        Portfolio(invoices=invoices, payments=payments("I2")), ["2024-02-29", "2024-03-31"]
    )
    on_i1 = build_features(
        Portfolio(invoices=invoices, payments=payments("I1")), ["2024-02-29", "2024-03-31"]
    )
    t = on_i2["as_of"] == pd.Timestamp("2024-02-29")
    pd.testing.assert_frame_equal(on_i2[t].reset_index(drop=True), on_i1[t].reset_index(drop=True))
    assert not on_i2[~t].reset_index(drop=True).equals(on_i1[~t].reset_index(drop=True))


# ---------------------------------------------------------------- item 4: override --until


def _published(runs: Path, day: str) -> None:
    (runs / day).mkdir(parents=True)
    pd.DataFrame({"debtor_id": ["D1"], "pd": [0.2], "in_default": [False]}).to_parquet(
        runs / day / "scores.parquet"
    )


def test_override_until_is_checked_against_the_run_not_the_wall_clock(tmp_path: Path) -> None:
    """A backfill: the latest published run is as of 2024-11-30 (the box's clock says 2026). Before:
    `--until 2024-12-31` refused 'is in the past (today is 2026-...)', so no plan could be recorded
    for the backfilled month. Now `until` is checked against the as-of date of the run reviewed:
    2024-12-31 accepted (and in force for the run of 2024-12-31: as-of > run, <= until); 2024-11-29
    refused, naming the run's date; exit 2 and one
    line in the CLI."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.scoring.overrides import OverrideError, active_overrides, append_override, new_override

    runs = tmp_path / "runs"
    _published(runs, "2024-11-30")
    plan = new_override(runs, "D1", "payment_plan", "3 instalments", "anna", until=dt.date(2024, 12, 31))
    append_override(runs, plan)
    assert active_overrides(runs, dt.date(2024, 12, 31))["until"].tolist() == [pd.Timestamp("2024-12-31")]
    assert active_overrides(runs, dt.date(2025, 1, 31)).empty
    # 2024-11-30 itself is refused: in force for no run (test_override_until_the_reviewed_runs_own_date_is_refused)
    import pytest

    with pytest.raises(
        OverrideError, match="--until 2024-11-29 is before the as-of date 2024-11-30 of the run"
    ):
        new_override(runs, "D1", "cleared", "x", "anna", until=dt.date(2024, 11, 29))
    res = CliRunner().invoke(
        app,
        ["watchlist", "override", "D1", "--status", "cleared", "--reason", "x", "--by", "a",
         "--until", "2024-11-29", "--out", str(runs)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and "2024-11-30" in res.output


# ---------------------------------------------------------------- item 5: group rows, payment ids


def test_an_account_row_with_a_phone_number_beside_its_balance_is_a_group_row(tmp_path: Path) -> None:
    """Sage 50's Aged Debtors (Detailed) shape of s16-robust with the account's telephone number on
    its row (text cells: '0044-20-7946-0958', 'Tel. 01234 567890'; a number written with spaces
    only, '+44 20 7946 0958', already read as an amount), a column no transaction row fills.
    Before: the two account rows were quarantined (a text cell beside the balance: no group row):
    9 read = 3 accepted + 3 quarantined + 3 filtered. Now by hand 9 = 3 + 1 (the row without a Ref,
    as in s16) + 5 filtered (group_balance 2, group_total 3), each invoice on its account. A
    document type beside the group (a column the transactions use) still makes a bad detail row."""
    from pipelines.ingest import ingest_source

    text = (
        "A/C,Name,Telephone,Credit Limit,No,Type,Date,Ref,Due,Balance\n"
        "ACME01,Acme Ltd,0044-20-7946-0958,5000.00,,,,,,330.00\n"
        ",,,,101,SI,01/10/2024,INV-1,31/10/2024,200.00\n"
        ",,,,102,SI,05/10/2024,INV-2,04/11/2024,130.00\n"
        ",,,,,,,,Totals:,330.00\n"
        'BETA02,Beta GmbH,Tel. 01234 567890,"2,000.00",,,,,,70.00\n'
        ",,,,103,SI,07/10/2024,INV-3,06/11/2024,70.00\n"
        ",,,,104,SI,09/10/2024,,08/11/2024,15.00\n"
        ",,,,,,,,Totals:,85.00\n"
        ",,,,,,,,Grand Totals:,415.00\n"
    )
    export = tmp_path / "sage.csv"
    config = tmp_path / "source.yaml"
    config.write_text(
        f"kind: source\nname: sage\ntables:\n  invoices:\n    path: {export}\n    fill_down: [A/C, Name]\n"
        "    columns: {invoice_id: Ref, debtor_id: A/C, issue_date: Date, due_date: Due, amount: Balance}\n"
        "    values: {date_format: d/m/Y, thousands: ','}\n",
        encoding="utf-8",
    )

    def run(body: str):
        export.write_text(body, encoding="utf-8")
        result = ingest_source(load_config(config, SourceConfig), None, as_of=dt.date(2024, 12, 4))
        inv = result.manifest["tables"]["invoices"]
        return result, (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"])

    result, counts = run(text)
    assert counts == (9, 3, 1, 5)
    inv = result.manifest["tables"]["invoices"]
    assert inv["filtered"] == {"group_balance": 2, "group_total": 3}
    assert inv["reasons"] == {"missing_value:invoice_id": 1}
    got = result.portfolio.invoices.sort_values("invoice_id")
    assert got["debtor_id"].tolist() == ["ACME01", "ACME01", "BETA02"]
    # the edge of s16: a row naming its account with a document type and no Ref stays a bad row
    _, counts = run(
        text.replace(",,,,,,,,Grand Totals:", "ACME01,Acme Ltd,,,105,SI,,,,40.00\n,,,,,,,,Grand Totals:")
    )
    assert counts == (10, 3, 2, 5)


# ---------------------------------------------------------------- item 6: a new user's walk (Xero)

XERO_PAYMENTS = (
    "Date,ContactName,InvoiceNumber,Reference,Amount,Account\n"
    '13/02/2023,Acme Ltd,INV-0001,,"2,185.73",090 - Business Bank Account\n'
    '27/02/2023,Acme Ltd,INV-0002,,"2,809.59",090 - Business Bank Account\n'
    "28/02/2023,Beta GmbH,INV-0003,,500.00,090 - Business Bank Account\n"
    "28/02/2023,Beta GmbH,INV-0003,,500.00,090 - Business Bank Account\n"
    "03/03/2023,Gamma SA,INV-0004,,120.00,090 - Business Bank Account\n"
    "10/03/2023,Delta BV,INV-0005,,99.95,090 - Business Bank Account\n"
)


def test_suggest_drafts_a_xero_payments_file_as_payments(tmp_path: Path) -> None:
    """Xero's payments received as a user exports them (hand-built after its shape): the date, the
    contact, the invoice paid, an empty Reference, the amount and the bank account it went to; no
    payment number, no due date. Before: drafted as **invoices** (issue_date: Date, due_date
    missing) with debtor_id: Account (the bank account, one value for every row): config check
    failed on due_date and every payment would have been one debtor's invoice. Now: a payments
    draft, debtor_id: ContactName (a customer column with several values before one with a single
    value), invoice_id: InvoiceNumber, paid_on: Date, ids_from_rows (no payment number); ingest by
    hand 6 rows = 6 accepted (the two equal payments of Beta are adjacent: two payments), 1,000.00
    paid on INV-0003."""
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "xero_payments.csv"
    export.write_text(XERO_PAYMENTS, encoding="utf-8")
    draft = suggest_source(export)
    assert draft.kind == "payments"
    assert draft.mapping == {
        "debtor_id": "ContactName",
        "invoice_id": "InvoiceNumber",
        "paid_on": "Date",
        "amount": "Amount",
    }
    assert "ids_from_rows: true" in draft.text
    config = tmp_path / "draft.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    result = ingest_source(source, None, as_of=dt.date(2024, 12, 4))
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (6, 6, 0)
    got = result.portfolio.payments
    assert got.loc[got["invoice_id"] == "INV-0003", "amount"].sum() == 1000.0
    assert sorted(got["debtor_id"].unique()) == ["Acme Ltd", "Beta GmbH", "Delta BV", "Gamma SA"]


def test_suggest_keeps_a_one_customer_column_beside_a_reference_column(tmp_path: Path) -> None:
    """s17-review: 5346542 lets a customer-named column with one value give way to another with
    several (Xero's payments: Account, the bank account, before ContactName). A one-customer sample
    (one customer's ledger, or the first 2,000 rows of an export sorted by customer) with a
    Customer Reference column (the customer's PO number, a new value on every row) then drafted
    debtor_id: Customer Reference: every invoice its own debtor. 0822d69 drafted Customer. Now the
    one-value column gives way only to a column whose values repeat (a customer has several rows;
    Xero's ContactName does): debtor_id Customer, 30 invoices of one debtor."""
    from pipelines.sources.suggest import suggest_source

    rows = ["Invoice No,Customer,Customer Reference,Date,Due Date,Amount"]
    rows += [
        f"INV-{i:04d},ACME Ltd,PO-{1000 + i},{i % 28 + 1:02d}/03/2024,{i % 28 + 1:02d}/04/2024,{100 + i}.00"
        for i in range(30)
    ]
    export = tmp_path / "acme.csv"
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    draft = suggest_source(export)
    assert draft.kind == "invoices"
    assert draft.mapping["debtor_id"] == "Customer"


def test_override_until_the_reviewed_runs_own_date_is_refused(tmp_path: Path) -> None:
    """s17-review: an override recorded on the run of 2024-11-30 applies to runs after it (as-of >
    2024-11-30) up to ``until`` (inclusive), so ``--until 2024-11-30`` puts it in force for no run at
    all. Before: accepted, logged, and silently never applied (active_overrides empty on every date
    after the run); now refused with the run's date and the first date that works, exit 2, one line.
    The day after the run (2024-12-01) is in force for the run of 2024-12-01 only."""
    import pytest
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.scoring.overrides import OverrideError, active_overrides, append_override, new_override

    runs = tmp_path / "runs"
    _published(runs, "2024-11-30")
    with pytest.raises(OverrideError, match=r"--until 2024-11-30 .* give 2024-12-01 or later"):
        new_override(runs, "D1", "cleared", "x", "anna", until=dt.date(2024, 11, 30))
    res = CliRunner().invoke(
        app,
        ["watchlist", "override", "D1", "--status", "cleared", "--reason", "x", "--by", "a",
         "--until", "2024-11-30", "--out", str(runs)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and "2024-12-01" in res.output
    append_override(runs, new_override(runs, "D1", "cleared", "x", "anna", until=dt.date(2024, 12, 1)))
    assert active_overrides(runs, dt.date(2024, 12, 1))["debtor_id"].tolist() == ["D1"]
    assert active_overrides(runs, dt.date(2024, 12, 2)).empty


def test_an_unreadable_clearing_date_does_not_drop_the_payment(tmp_path: Path) -> None:
    """s17-review: ``clearing.date`` only dates an allocation; a cell that is not a date must not cost
    the payment. Business Central's OData export writes a blank date as 0001-01-01, SAP tables
    dumps as 00.00.0000 / 0000-00-00. Before: the payment of 1,000.00 was quarantined
    (date_out_of_range:allocated_on or unparseable_date:allocated_on; with the bad cell on the
    INVOICE row the payment row was quarantined for a value its own row does not hold), its invoice
    left open. Now an unreadable cell counts as empty: the invoice row's date is used (a), else
    none: the payment is applied from its paid day, as without clearing.date (b, c); counted in the
    join summary (clearing_date_unreadable) and said on the ingest line. By hand: 1 payment row in =
    1 accepted + 0 quarantined in each case."""
    D = ', date: "Clearing date"'
    cases = {
        # (a) the payment row's own cell is BC's blank date, the invoice row's is readable
        "a": ("2024-04-15", "0001-01-01", pd.Timestamp("2024-04-15")),
        # (b) the invoice row's cell is garbage, the payment row's empty
        "b": ("garbage", "", pd.NaT),
        # (c) both unreadable
        "c": ("0000-00-00", "00.00.0000", pd.NaT),
    }
    for name, (inv_cell, pay_cell, want) in cases.items():
        (tmp_path / name).mkdir()
        text = HEADER + (
            f"1000;K1;9000001;RV;2024-03-01;2024-03-31;1000.00;1400000001;{inv_cell}\n"
            f"1000;K1;1400000001;DZ;2024-04-10;2024-04-10;-1000.00;1400000001;{pay_cell}\n"
        )
        result = _ingest(tmp_path / name, text, D)
        pay = result.manifest["tables"]["payments"]
        assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (1, 1, 0), name
        assert pay["clearing"]["clearing_date_unreadable"] == 1, name
        row = result.portfolio.payments.iloc[0]
        assert row["invoice_id"] == "9000001" and row["amount"] == 1000.0, name
        assert (pd.isna(row["allocated_on"]) and pd.isna(want)) or row["allocated_on"] == want, name
