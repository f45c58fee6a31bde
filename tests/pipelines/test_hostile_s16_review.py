"""Hostile inputs, session 16 review (s16-review; BENCHMARKS.md "Hostile inputs tried", "Session 16
(s16-review)"): defects found in session 16's clearing join, each with the test that failed before
its fix. Hand-built files; expected figures computed by hand in each test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig

LEDGER = """kind: source
name: fbl5n
csv: {{delimiter: ";"}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["RV"]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Customer, issue_date: Document Date, due_date: Net Due Date, amount: Amount, currency: Currency}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["DZ"]}}}}
    negate_amount: true
    clearing: {{column: "Clearing Document"}}
    columns: {{payment_id: Document Number, debtor_id: Customer, paid_on: Document Date, amount: Amount, currency: Currency}}
"""


def test_path_override_of_one_side_of_a_clearing_join_is_refused(tmp_path: Path) -> None:
    """``ews ingest --source ... --path payments=NEW``: before, the copy skipped the config's checks,
    so tables.invoices still read the old file while the join took its invoice rows from the new
    one (the payments' file): invoices of one export, payments allocated by another's. Now refused
    with the fix, as the config check refuses the two paths written in the file."""
    config = tmp_path / "source.yaml"
    config.write_text(LEDGER.format(path=tmp_path / "ledger.csv"), encoding="utf-8")
    source = load_config(config, SourceConfig)
    with pytest.raises(ValueError, match=r"tables.invoices must read .*new\.csv too"):
        source.with_paths({"payments": tmp_path / "new.csv"})
    moved = source.with_paths({"payments": tmp_path / "new.csv", "invoices": tmp_path / "new.csv"})
    assert moved.tables["invoices"].path == moved.tables["payments"].path == tmp_path / "new.csv"


def _ingest(tmp_path: Path, text: str, config: str = LEDGER):
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / "ledger.csv"
    export.write_text(text, encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(config.format(path=export), encoding="utf-8")
    source = load_config(path, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=dt.date(2024, 12, 4))


HEADER = (
    "Customer;Document Number;Document Type;Document Date;Net Due Date;Amount;Currency;Clearing Document\n"
)


def test_a_clearing_of_two_currencies_allocates_a_payment_over_its_own_currency(tmp_path: Path) -> None:
    """A customer ledger with the amounts in document currency: K1's EUR payment 1400000001 of
    1,400.00 clears the USD invoice 9000001 (1,000.00 USD) and the EUR invoice 9000002 (500.00 EUR)
    (SAP clears across currencies in local currency). Before: the payment's cents were allocated
    over both invoices in file order, USD cents as EUR cents: 1,000.00 'EUR' on the USD invoice
    (quarantined currency_mismatch) and 400.00 on 9000002, which stayed 100.00 open though paid.
    Now a payment takes only the invoices of its own currency: by hand, 500.00 on 9000002 (paid in
    full) and 900.00 left unallocated (its row 1400000001/unallocated): 2 rows in = 2 accepted. The
    USD invoice gets no EUR money (it stays open: its USD amount is not known in EUR here)."""
    text = HEADER + (
        "K1;9000001;RV;2024-03-01;2024-03-31;1000.00;USD;1400000001\n"
        "K1;9000002;RV;2024-03-05;2024-04-04;500.00;EUR;1400000001\n"
        "K1;1400000001;DZ;2024-04-10;2024-04-10;-1400.00;EUR;1400000001\n"
    )
    result = _ingest(tmp_path, text)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (3, 2, 2, 0)
    payments = result.portfolio.payments.set_index("payment_id")
    assert payments.loc["1400000001/9000002", ["invoice_id", "amount", "currency"]].tolist() == [
        "9000002",
        500.0,
        "EUR",
    ]
    assert pd.isna(payments.loc["1400000001/unallocated", "invoice_id"])
    assert payments.loc["1400000001/unallocated", "amount"] == 900.0


def test_a_split_payment_without_a_number_is_quarantined_whole(tmp_path: Path) -> None:
    """K1's payment row of 1,500.00 has no document number but the clearing document of the two
    invoices it cleared (1,000.00 and 500.00). Before: split into '/9000001' and '/9000002', ids made
    from nothing, both accepted, while the same row clearing one invoice is quarantined
    missing_value:payment_id (two such rows in one clearing would share the ids). Now the row is not
    split: by hand, payments 1 read = 0 accepted + 1 quarantined (missing_value:payment_id), 2
    filtered; both invoices open."""
    text = HEADER + (
        "K1;9000001;RV;2024-03-01;2024-03-31;1000.00;EUR;1400000001\n"
        "K1;9000002;RV;2024-03-05;2024-04-04;500.00;EUR;1400000001\n"
        "K1;;DZ;2024-04-10;2024-04-10;-1500.00;EUR;1400000001\n"
    )
    result = _ingest(tmp_path, text)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (3, 1, 0, 1)
    assert pay["reasons"] == {"missing_value:payment_id": 1}
    assert pay["clearing"]["unallocated"] == {"no_payment_id": 1}


def test_the_iso_fallback_does_not_read_a_year_day_month_column_as_iso() -> None:
    """s16-robust's fallback reads a YYYY-MM-DD cell that fails the column's layout as ISO (Excel's
    real dates beside d/m/Y text). In a year-first dash layout (``%Y-%d-%m``) such text is the
    layout's own: '2024-13-04' is 13 April; '2024-04-13' (month 13) is a bad date there. Before: read
    silently as ISO, 13 April too. Now unparseable. A d/m/Y column keeps the fallback."""
    from pipelines.sources.parse import parse_dates

    cells = pd.Series(["2024-13-04", "2024-04-13"], dtype="string")
    parsed, bad, _ = parse_dates(cells, "%Y-%d-%m")
    assert parsed[0] == pd.Timestamp("2024-04-13") and pd.isna(parsed[1])
    assert bad.tolist() == [False, True]
    parsed, bad, _ = parse_dates(pd.Series(["13/04/2024", "2024-04-13"], dtype="string"), "%d/%m/%Y")
    assert parsed.tolist() == [pd.Timestamp("2024-04-13")] * 2 and bad.tolist() == [False, False]


def test_a_payment_on_account_is_not_allocated_to_an_invoice_issued_months_later(tmp_path: Path) -> None:
    """K1's payment of 1,000.00 on 2024-01-01 clears, with its one clearing document, the invoice
    9000001 of 2024-01-10 (600.00) and the invoice 9000002 of 2024-06-01 (400.00; cash on account
    applied when it came). Before: split in file order, its 400.00 piece on 9000002 dated 152 days
    before that invoice's issue, beyond prepayment_days (31): quarantined paid_before_issue, so
    9000002 stayed open for ever. Now a payment takes only the invoices issued no more than
    prepayment_days after it: by hand 600.00 on 9000001 and 400.00 left unallocated cash (on account,
    as it was): payments 3 read = 2 in (1 row + 1 piece) + 2 filtered, 2 accepted, 0 quarantined."""
    text = HEADER + (
        "K1;1400000001;DZ;2024-01-01;2024-01-01;-1000.00;EUR;1400000001\n"
        "K1;9000001;RV;2024-01-10;2024-02-09;600.00;EUR;1400000001\n"
        "K1;9000002;RV;2024-06-01;2024-07-01;400.00;EUR;1400000001\n"
    )
    result = _ingest(tmp_path, text)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (3, 2, 2, 0)
    payments = result.portfolio.payments.set_index("payment_id")
    assert payments.loc["1400000001/9000001", ["invoice_id", "amount"]].tolist() == ["9000001", 600.0]
    assert pd.isna(payments.loc["1400000001/unallocated", "invoice_id"])
    assert payments.loc["1400000001/unallocated", "amount"] == 400.0
