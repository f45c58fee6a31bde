"""Hostile inputs, session 16 (s16-ledger; BENCHMARKS.md "Hostile inputs tried", "Session 16
(s16-ledger)"): customer ledgers as ERPs export them, invoices and payments in one list, joined by
the clearing document (SAP FBL5N: ``Clearing Document``) or the closing entry (Business Central:
``Closed by Entry No.``), with part payments, a payment clearing 3 invoices, a credit memo, a
reversal and a dangling reference. Hand-built files; every expected figure is computed by hand in
the test (each scenario's comment), not by the code under test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ledger import day_number, ledger_state, prepare_ledger
from pipelines.config import ConfigError, load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source
from pipelines.ingest.sources import check_inputs

AS_OF = dt.date(2024, 12, 4)
N_REGULAR = 40  # customers with 4 invoices each: 3 paid in full by one payment each, the 4th open


def _de(x: float) -> str:
    """An amount as SAP's German spreadsheet export writes it: 1.234,50."""
    return f"{x:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _regular() -> list[tuple[str, str, dt.date, dt.date, float, dt.date | None, str]]:
    """(customer, invoice no., issue, due, amount, paid on, payment no.) of the regular customers."""
    out = []
    for c in range(N_REGULAR):
        for k in range(4):
            issue = dt.date(2024, 1 + 2 * k, 10)
            paid = issue + dt.timedelta(days=25) if k < 3 else None
            out.append(
                (
                    f"C{1000 + c}",
                    f"91{c:04d}{k:02d}",
                    issue,
                    issue + dt.timedelta(days=30),
                    1000.0 + 10 * c + k,
                    paid,
                    f"14{c:04d}{k:02d}",
                )
            )
    return out


def _fbl5n() -> str:
    """SAP FBL5N, cleared and open items, as exported to a spreadsheet (German separators). Regular
    customers: each paid invoice (RV) and its payment (DZ, negative) carry the payment's number as
    Clearing Document. Specials, by hand:

    - C2001: one payment 1400000900 of 2,000.00 clears 9000001 (500), 9000002 (700), 9000003 (800).
    - C2002: a part payment 1400000901 of 400.00 (20.03.) left open, then 1400000902 of 600.00
      (15.04.) clears the invoice 9000004 (1,000.00) and the part payment: all three cleared by
      1400000902. Invoice paid on 15.04., in two pieces.
    - C2003: a part payment 1400000903 of 500.00 on 10.05., still open, naming nothing: unallocated
      cash, applied to the only open invoice 9000005 (1,200.00): 700.00 open.
    - C2004: a credit memo (DG) 1700000001 of 150.00 on 05.05. and a payment 1400000904 of 750.00 on
      20.05. clear the invoice 9000006 (900.00).
    - C2005: the payment 1400000905 of 600.00 (01.06.) and its reversal 1400000906 (+600.00, 03.06.)
      clear each other: the invoice 9000007 (600.00) stays open.
    - C2006: a payment 1400000907 of 300.00 (20.06.) cleared by 1400000907 with an invoice not in
      the export (last year's): unallocated, then applied to the open invoice 9000008 (300.00).
    - C2007: the payment 1400000908 of 400.00 (25.03.) clears the newer invoice 9000010; the older
      9000009 (400.00, due 02.03.) stays open (in dispute, say). Unallocated, the payment would have
      settled the older one.
    """
    lines = [
        "Customer;Document Number;Document Type;Document Date;Posting Date;Net Due Date;"
        "Amount in Local Currency;Local Currency;Clearing Document;Clearing date"
    ]

    def row(cust, doc, typ, date, due, amount, clearing="", cleared=None):
        d = f"{date:%d.%m.%Y}"
        c = f"{cleared:%d.%m.%Y}" if cleared else ""
        lines.append(f"{cust};{doc};{typ};{d};{d};{due:%d.%m.%Y};{_de(amount)};EUR;{clearing};{c}")

    for cust, inv, issue, due, amount, paid, pay in _regular():
        row(cust, inv, "RV", issue, due, amount, pay if paid else "", paid)
        if paid:
            row(cust, pay, "DZ", paid, paid, -amount, pay, paid)
    d = dt.date
    row("C2001", "9000001", "RV", d(2024, 3, 1), d(2024, 3, 31), 500, "1400000900", d(2024, 4, 10))
    row("C2001", "9000002", "RV", d(2024, 3, 5), d(2024, 4, 4), 700, "1400000900", d(2024, 4, 10))
    row("C2001", "9000003", "RV", d(2024, 3, 8), d(2024, 4, 7), 800, "1400000900", d(2024, 4, 10))
    row("C2001", "1400000900", "DZ", d(2024, 4, 10), d(2024, 4, 10), -2000, "1400000900", d(2024, 4, 10))
    row("C2002", "9000004", "RV", d(2024, 3, 1), d(2024, 3, 31), 1000, "1400000902", d(2024, 4, 15))
    row("C2002", "1400000901", "DZ", d(2024, 3, 20), d(2024, 3, 20), -400, "1400000902", d(2024, 4, 15))
    row("C2002", "1400000902", "DZ", d(2024, 4, 15), d(2024, 4, 15), -600, "1400000902", d(2024, 4, 15))
    row("C2003", "9000005", "RV", d(2024, 4, 1), d(2024, 5, 1), 1200)
    row("C2003", "1400000903", "DZ", d(2024, 5, 10), d(2024, 5, 10), -500)
    row("C2004", "9000006", "RV", d(2024, 4, 20), d(2024, 5, 20), 900, "1400000904", d(2024, 5, 20))
    row("C2004", "1700000001", "DG", d(2024, 5, 5), d(2024, 5, 5), -150, "1400000904", d(2024, 5, 20))
    row("C2004", "1400000904", "DZ", d(2024, 5, 20), d(2024, 5, 20), -750, "1400000904", d(2024, 5, 20))
    row("C2005", "9000007", "RV", d(2024, 5, 15), d(2024, 6, 14), 600)
    row("C2005", "1400000905", "DZ", d(2024, 6, 1), d(2024, 6, 1), -600, "1400000906", d(2024, 6, 3))
    row("C2005", "1400000906", "DZ", d(2024, 6, 3), d(2024, 6, 3), 600, "1400000906", d(2024, 6, 3))
    row("C2006", "9000008", "RV", d(2024, 6, 1), d(2024, 7, 1), 300)
    row("C2006", "1400000907", "DZ", d(2024, 6, 20), d(2024, 6, 20), -300, "1400000907", d(2024, 6, 20))
    row("C2007", "9000009", "RV", d(2024, 2, 1), d(2024, 3, 2), 400)
    row("C2007", "9000010", "RV", d(2024, 3, 1), d(2024, 3, 31), 400, "1400000908", d(2024, 3, 25))
    row("C2007", "1400000908", "DZ", d(2024, 3, 25), d(2024, 3, 25), -400, "1400000908", d(2024, 3, 25))
    return "\n".join(lines) + "\n"


FBL5N_CONFIG = """kind: source
name: fbl5n
default_currency: EUR
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ",", thousands: "."}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["RV"]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Customer, issue_date: Document Date, due_date: Net Due Date, amount: Amount in Local Currency}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["DZ", "DG"]}}}}
    negate_amount: true
    clearing: {{column: "Clearing Document"}}
    columns: {{payment_id: Document Number, debtor_id: Customer, paid_on: Posting Date, amount: Amount in Local Currency}}
"""

# By hand: every invoice -> (settled on, open amount at AS_OF). Regular: k < 3 paid 25 days after
# issue, k = 3 open for its amount.
EXPECTED_SPECIAL = {
    "9000001": (dt.date(2024, 4, 10), 0.0),
    "9000002": (dt.date(2024, 4, 10), 0.0),
    "9000003": (dt.date(2024, 4, 10), 0.0),
    "9000004": (dt.date(2024, 4, 15), 0.0),
    "9000005": (None, 700.0),
    "9000006": (dt.date(2024, 5, 20), 0.0),
    "9000007": (None, 600.0),
    "9000008": (dt.date(2024, 6, 20), 0.0),
    "9000009": (None, 400.0),
    "9000010": (dt.date(2024, 3, 25), 0.0),
}


def _expected() -> dict[str, tuple[dt.date | None, float]]:
    out = {inv: (paid, 0.0 if paid else amount) for _, inv, _, _, amount, paid, _ in _regular()}
    return out | EXPECTED_SPECIAL


def _settlement(portfolio, as_of: dt.date) -> dict[str, tuple[dt.date | None, float]]:
    """Each invoice's settlement day and open amount at ``as_of``, as the features see them."""
    ledger = prepare_ledger(portfolio)
    state = ledger_state(ledger, int(day_number(pd.Timestamp(as_of))))
    rows = ledger.inv_row if state.inv_rows is None else ledger.inv_row[state.inv_rows]
    ids = portfolio.invoices["invoice_id"].to_numpy()[rows]
    out = {}
    for inv, settled, remaining in zip(ids, state.inv_settled, state.inv_remaining, strict=True):
        day = None if np.isnan(settled) else dt.date(1970, 1, 1) + dt.timedelta(days=int(settled))
        out[str(inv)] = (day, round(float(remaining), 2))
    return out


def _ingest(tmp_path: Path, text: str, config: str, name: str):
    export = tmp_path / name
    export.write_text(text, encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(config.format(path=export), encoding="utf-8")
    source = load_config(path, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=AS_OF)


def test_an_fbl5n_ledger_is_joined_on_the_clearing_document(tmp_path: Path) -> None:
    """Before: `clearing` was an unknown key; read without it the 130 payment rows name no invoice
    (unallocated: applied to each customer's oldest open invoice first): C2007's payment settles
    the older invoice 9000009 and leaves 9000010 open (asserted below with the option removed). Now
    each payment row takes the invoices its clearing document cleared: 300 rows read; payments: 130
    payment rows (129 DZ + 1 DG), the 2,000.00 split over its 3 invoices (2 pieces added: 132 rows
    in = 130 accepted + 2 quarantined: the reversal pair of C2005 nets), 170 RV rows filtered; the
    settlement days and open amounts equal the hand computation."""
    result = _ingest(tmp_path, _fbl5n(), FBL5N_CONFIG, "fbl5n.csv")
    inv, pay = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
    assert (inv["rows_read"], inv["rows_accepted"], inv["rows_quarantined"], inv["rows_filtered"]) == (
        300,
        170,
        0,
        130,
    )
    assert (pay["rows_read"], pay["rows_in"], pay["rows_filtered"]) == (300, 132, 170)
    assert (pay["rows_accepted"], pay["reasons"]) == (130, {"reversal": 1, "reversed_payment": 1})
    clearing = pay["clearing"]
    assert clearing["column"] == "Clearing Document"
    # allocated rows: 120 regular + C2001 1 + C2002 2 + C2004 2 + C2007 1 = 126 rows; C2003 names
    # nothing; C2005's pair and C2006's payment clear no invoice of the file
    assert clearing["rows_allocated"] == 126
    assert clearing["rows_split"] == 1 and clearing["pieces_added"] == 2
    assert clearing["unallocated"] == {"no_clearing": 1, "clears_no_invoice": 3}
    payments = result.portfolio.payments.set_index("payment_id")
    assert payments.loc["1400000900/9000001", ["invoice_id", "amount"]].tolist() == ["9000001", 500.0]
    assert payments.loc["1400000900/9000002", ["invoice_id", "amount"]].tolist() == ["9000002", 700.0]
    assert payments.loc["1400000900/9000003", ["invoice_id", "amount"]].tolist() == ["9000003", 800.0]
    assert payments.loc["1400000901", "invoice_id"] == "9000004"
    assert payments.loc["1700000001", ["invoice_id", "amount"]].tolist() == ["9000006", 150.0]
    assert pd.isna(payments.loc["1400000903", "invoice_id"])
    assert payments.loc[f"14{0:04d}{0:02d}", "invoice_id"] == "91000000"
    assert _settlement(result.portfolio, AS_OF) == _expected()
    from rich.console import Console

    from pipelines.commands.ingest import print_summary

    console = Console(record=True, width=300)
    print_summary(console, result.manifest, None)
    assert (
        "payments: joined on 'Clearing Document': 126 rows on the invoices they cleared, 1 split over "
        "several invoices (+2 rows: 132 rows in); left unallocated: clears_no_invoice (3), no_clearing (1)"
    ) in console.export_text()
    before = _ingest(
        tmp_path,
        _fbl5n(),
        FBL5N_CONFIG.replace('    clearing: {{column: "Clearing Document"}}\n', ""),
        "fbl5n.csv",
    )
    assert "clearing" not in before.manifest["tables"]["payments"]
    got = _settlement(before.portfolio, AS_OF)
    assert (got["9000009"], got["9000010"]) == ((dt.date(2024, 3, 25), 0.0), (None, 400.0))


BC_HEADER = (
    "Entry No.,Posting Date,Document Type,Document No.,Customer No.,Description,Amount,Remaining Amount,"
    "Due Date,Open,Closed by Entry No.,Closed at Date,Closed by Amount\n"
)


def _bc() -> str:
    """Business Central's Customer Ledger Entries with the closing columns shown. The same business
    as :func:`_fbl5n`, as BC links it: the entry closed by another names it in `Closed by Entry No.`
    (0 = none). Regular: the invoice is closed by its payment's entry. C2001: the 3 invoices closed
    by the payment's entry. C2002: the part payment (400) applied to the invoice (closed by the
    invoice's entry), the invoice later closed by the 600 payment. C2003: the 500 part payment
    applied to the invoice (closed by its entry, which stays open: 700.00). C2004: the credit memo
    (150) applied to the invoice, the invoice closed by the 750 payment. C2005: payment and reversal
    closed by each other. C2006: a payment closed by entry 99999, not in the export. C2007: the newer
    invoice closed by the payment, the older one open."""
    rows: list[str] = []
    entry = [0]

    def add(date, typ, doc, cust, amount, due, closed_by=0, closed_at=None):
        entry[0] += 1
        at = f"{closed_at:%m/%d/%Y}" if closed_at else ""
        rows.append(
            f'{entry[0]},{date:%m/%d/%Y},{typ},{doc},{cust},{typ},"{amount:,.2f}",0.00,{due:%m/%d/%Y},'
            f"{'No' if closed_at else 'Yes'},{closed_by},{at},0.00\n"
        )
        return entry[0]

    def fix(no: int, closed_by: int, closed_at: dt.date) -> None:
        cells = rows[no - 1].split(",")
        rows[no - 1] = ",".join(cells[:-4] + ["No", str(closed_by), f"{closed_at:%m/%d/%Y}", "0.00\n"])

    for cust, inv, issue, due, amount, paid, pay in _regular():
        i = add(issue, "Invoice", inv, cust, amount, due)
        if paid:
            p = add(paid, "Payment", pay, cust, -amount, paid, 0, paid)
            fix(i, p, paid)
    d = dt.date
    invs = [
        add(d(2024, 3, day), "Invoice", f"900000{k + 1}", "C2001", a, d(2024, 3, day) + dt.timedelta(30))
        for k, (day, a) in enumerate([(1, 500), (5, 700), (8, 800)])
    ]
    p = add(d(2024, 4, 10), "Payment", "1400000900", "C2001", -2000, d(2024, 4, 10), 0, d(2024, 4, 10))
    for i in invs:
        fix(i, p, d(2024, 4, 10))
    i = add(d(2024, 3, 1), "Invoice", "9000004", "C2002", 1000, d(2024, 3, 31))
    add(d(2024, 3, 20), "Payment", "1400000901", "C2002", -400, d(2024, 3, 20), i, d(2024, 3, 20))
    p = add(d(2024, 4, 15), "Payment", "1400000902", "C2002", -600, d(2024, 4, 15), 0, d(2024, 4, 15))
    fix(i, p, d(2024, 4, 15))
    i = add(d(2024, 4, 1), "Invoice", "9000005", "C2003", 1200, d(2024, 5, 1))
    add(d(2024, 5, 10), "Payment", "1400000903", "C2003", -500, d(2024, 5, 10), i, d(2024, 5, 10))
    i = add(d(2024, 4, 20), "Invoice", "9000006", "C2004", 900, d(2024, 5, 20))
    add(d(2024, 5, 5), "Credit Memo", "1700000001", "C2004", -150, d(2024, 5, 5), i, d(2024, 5, 5))
    p = add(d(2024, 5, 20), "Payment", "1400000904", "C2004", -750, d(2024, 5, 20), 0, d(2024, 5, 20))
    fix(i, p, d(2024, 5, 20))
    add(d(2024, 5, 15), "Invoice", "9000007", "C2005", 600, d(2024, 6, 14))
    p = add(d(2024, 6, 1), "Payment", "1400000905", "C2005", -600, d(2024, 6, 1))
    r = add(d(2024, 6, 3), "Payment", "1400000906", "C2005", 600, d(2024, 6, 3), p, d(2024, 6, 3))
    fix(p, r, d(2024, 6, 3))
    add(d(2024, 6, 1), "Invoice", "9000008", "C2006", 300, d(2024, 7, 1))
    add(d(2024, 6, 20), "Payment", "1400000907", "C2006", -300, d(2024, 6, 20), 99999, d(2024, 6, 20))
    add(d(2024, 2, 1), "Invoice", "9000009", "C2007", 400, d(2024, 3, 2))
    i = add(d(2024, 3, 1), "Invoice", "9000010", "C2007", 400, d(2024, 3, 31))
    p = add(d(2024, 3, 25), "Payment", "1400000908", "C2007", -400, d(2024, 3, 25), 0, d(2024, 3, 25))
    fix(i, p, d(2024, 3, 25))
    return BC_HEADER + "".join(rows)


BC_CONFIG = """kind: source
name: bc
default_currency: EUR
values: {{date_format: m/d/Y, thousands: ","}}
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["Invoice"]}}}}
    columns: {{invoice_id: Document No., debtor_id: Customer No., issue_date: Posting Date, due_date: Due Date, amount: Amount}}
  payments:
    path: {path}
    rows: {{keep: {{column: "Document Type", values: ["Payment", "Credit Memo"]}}}}
    negate_amount: true
    clearing: {{column: "Closed by Entry No.", key: "Entry No."}}
    columns: {{payment_id: Document No., debtor_id: Customer No., paid_on: Posting Date, amount: Amount}}
"""


def test_a_business_central_ledger_is_joined_on_closed_by_entry_no(tmp_path: Path) -> None:
    """The same business in BC's shape: entries linked by `Closed by Entry No.` to `Entry No.`, in
    both directions (an invoice closed by its payment; a part payment or credit memo closed by the
    invoice it was applied to). 300 rows, payments 132 rows in (the 2,000.00 in 3 pieces) = 130 + 2
    (the reversal pair); C2003's part payment is applied to its invoice here (BC links it): 127 rows
    allocated; C2005's pair and C2006's dangling 99999 clear no invoice (3). The same settlement days
    and open amounts."""
    result = _ingest(tmp_path, _bc(), BC_CONFIG, "cle.csv")
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_filtered"]) == (300, 132, 170)
    assert (pay["rows_accepted"], pay["reasons"]) == (130, {"reversal": 1, "reversed_payment": 1})
    assert pay["clearing"]["rows_allocated"] == 127
    assert pay["clearing"]["unallocated"] == {"clears_no_invoice": 3}
    payments = result.portfolio.payments.set_index("payment_id")
    assert payments.loc["1400000903", "invoice_id"] == "9000005"
    assert payments.loc["1700000001", ["invoice_id", "amount"]].tolist() == ["9000006", 150.0]
    assert _settlement(result.portfolio, AS_OF) == _expected()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("clearing: {column: Nope}", "tables.payments.clearing.column"),
        ("clearing: {column: Clearing Document, key: Nope}", "tables.payments.clearing.key"),
    ],
)
def test_a_clearing_column_the_file_lacks_is_named(tmp_path: Path, change: str, expected: str) -> None:
    export = tmp_path / "fbl5n.csv"
    export.write_text(_fbl5n(), encoding="utf-8")
    config = FBL5N_CONFIG.format(path=export).replace('clearing: {column: "Clearing Document"}', change)
    path = tmp_path / "source.yaml"
    path.write_text(config, encoding="utf-8")
    source = load_config(path, SourceConfig)
    with pytest.raises(Exception, match="Nope") as err:
        check_inputs(source)
    assert expected in str(err.value) and "Columns in the file" in str(err.value)


def test_clearing_needs_the_invoices_of_the_same_file(tmp_path: Path) -> None:
    export = tmp_path / "fbl5n.csv"
    export.write_text(_fbl5n(), encoding="utf-8")
    config = FBL5N_CONFIG.format(path=export).replace(
        "  payments:\n    path: " + str(export), "  payments:\n    path: " + str(tmp_path / "other.csv")
    )
    path = tmp_path / "source.yaml"
    path.write_text(config, encoding="utf-8")
    with pytest.raises(ConfigError, match="clearing.*same file"):
        load_config(path, SourceConfig)


def _draft_and_ingest(tmp_path: Path, text: str, name: str):
    """`ews sources suggest` -> the draft on disk -> `ews config check`'s checks -> ingest."""
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / name
    export.write_text(text, encoding="utf-8")
    draft = suggest_source(export)
    config = tmp_path / "draft.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    return draft, ingest_source(source, None, as_of=AS_OF)


def test_suggest_drafts_the_clearing_join_of_an_fbl5n_ledger(tmp_path: Path) -> None:
    """Before: drafted as an ar_export of the RV rows (each cleared invoice paid in full on its
    clearing date; the DG credit memo and the part payments left out). Now: invoices and payments of
    the same file, the payments keeping DZ and the credit memo type DG, joined on the `Clearing
    Document`: the same counts and settlement days as the hand-written config."""
    draft, result = _draft_and_ingest(tmp_path, _fbl5n(), "fbl5n.csv")
    assert draft.kind == "invoices"
    assert (
        'clearing: {column: "Clearing Document", scope: ["Clearing date"], date: "Clearing date"}'
        in draft.text
    )
    assert 'values: ["DG", "DZ"]' in draft.text
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_filtered"]) == (
        300,
        132,
        130,
        170,
    )
    assert _settlement(result.portfolio, AS_OF) == _expected()


def test_suggest_drafts_the_clearing_join_of_a_business_central_ledger(tmp_path: Path) -> None:
    """BC with `Closed by Entry No.` and `Entry No.` shown: the join on them, Credit Memo rows with the
    payments (before: an ar_export of the Invoice rows by `Closed at Date`, the part payments and the
    credit memo left out)."""
    draft, result = _draft_and_ingest(tmp_path, _bc(), "cle.csv")
    assert draft.kind == "invoices"
    assert 'clearing: {column: "Closed by Entry No.", key: "Entry No.", date: "Closed at Date"}' in draft.text
    assert 'values: ["Credit Memo", "Payment"]' in draft.text
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_filtered"]) == (
        300,
        132,
        130,
        170,
    )
    assert _settlement(result.portfolio, AS_OF) == _expected()


def test_suggest_drafts_a_german_fbl5n_ledger(tmp_path: Path) -> None:
    """FBL5N with German headers (Kunde, Belegnummer, Belegart, Ausgleichsbeleg, ...)."""
    german = _fbl5n().replace(
        "Customer;Document Number;Document Type;Document Date;Posting Date;Net Due Date;"
        "Amount in Local Currency;Local Currency;Clearing Document;Clearing date",
        "Kunde;Belegnummer;Belegart;Belegdatum;Buchungsdatum;Nettofälligkeit;Betrag in Hauswährung;"
        "Hauswährung;Ausgleichsbeleg;Ausgleichsdatum",
    )
    draft, result = _draft_and_ingest(tmp_path, german, "fbl5n_de.csv")
    assert (
        'clearing: {column: "Ausgleichsbeleg", scope: ["Ausgleichsdatum"], date: "Ausgleichsdatum"}'
        in draft.text
    )
    assert _settlement(result.portfolio, AS_OF) == _expected()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  invoices:\n",
            '  invoices:\n    clearing: {column: "Clearing Document"}\n',
            "tables.invoices.clearing: clearing applies to tables.payments",
        ),
        (
            "paid_on: Posting Date,",
            "paid_on: Posting Date, invoice_id: Clearing Document,",
            "either columns.invoice_id or clearing",
        ),
    ],
)
def test_a_misplaced_clearing_is_refused_with_the_fix(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    export = tmp_path / "fbl5n.csv"
    export.write_text(_fbl5n(), encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(FBL5N_CONFIG.format(path=export).replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(path, SourceConfig)


def test_clearing_on_an_ar_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "source.yaml"
    path.write_text(
        "kind: source\nname: x\nar_export:\n  path: x.csv\n  settled_on: Clearing date\n"
        "  clearing: {column: Clearing Document}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="clearing applies to tables.payments"):
        load_config(path, SourceConfig)
