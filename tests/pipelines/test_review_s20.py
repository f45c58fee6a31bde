"""Review of session 20's product code (s20-review; BENCHMARKS.md "Hostile inputs tried", "Session 20
(s20-review)"). Each test failed on main before its fix unless it says it is a guard; the inputs are
hand-written and the expected figures computed by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hostile_sources import ingest_config as _ingest_config

# ---------------------------------------------------------------- 3-decimal currencies in suggest

# a Kuwaiti ledger: the dinar has 3 decimals (1 KWD = 1,000 fils), every amount is written with them
KWD = (
    "Invoice No,Customer,Invoice Date,Due Date,Amount,Currency\n"
    "INV-1,C100,2024-09-05,2024-10-05,12.000,KWD\n"
    "INV-2,C100,2024-10-20,2024-11-19,1.500,KWD\n"
    "INV-3,C200,2024-09-10,2024-10-10,250.750,KWD\n"
    "INV-4,C200,2024-09-12,2024-10-12,3.125,KWD\n"
)


def test_suggest_reads_a_three_decimal_currency_as_decimals(tmp_path: Path) -> None:
    """d4b6585 drafted decimal "," thousands "." for a column whose every dotted value looks like a
    whole number grouped by thousands (1.500, 12.000). A dinar export writes every amount with 3
    decimals: 12.000 is twelve dinars, 250.750 is 250 dinars 750 fils. On main the draft read them
    as 12,000 / 1,500 / 250,750 / 3,125 (x 1,000, no warning). Only a value written without a dot
    (750: #.##0 writes the hundreds bare) or with two groups (1.500.000) shows the thousands dot;
    by hand the ingest of the draft reads 12.0, 1.5, 250.75, 3.125 (4 = 4 + 0)."""
    from pipelines.sources.suggest import _number, suggest_source

    export = tmp_path / "invoices_kwd.csv"
    export.write_text(KWD, encoding="utf-8")
    draft = suggest_source(export).text
    assert 'decimal: "."' in draft and "thousands: null" in draft, draft
    # nothing in the sample tells the dinar's 12.000 from a German 12.000: the draft says so
    assert "# CHECK: 'Amount' writes every amount like 1.500 or 12.000" in draft, draft
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _ingest_config(tmp_path, KWD, escaped, name="invoices_kwd.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (4, 4, 0)
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].astype(float).to_dict()
    assert amounts == {"INV-1": 12.0, "INV-2": 1.5, "INV-3": 250.75, "INV-4": 3.125}
    # the evidence of a thousands dot: a bare hundreds value, or two groups
    assert _number(pd.Series(["1.500", "12.000", "750"])) == (",", ".")
    assert _number(pd.Series(["1.500", "1.250.000"])) == (",", ".")
    assert _number(pd.Series(["1.500", "12.000", "2.250"])) == (".", None)
    # with the evidence, or with a value like 1.5, no CHECK line: d4b6585's German sample, a plain one
    german = tmp_path / "rechnungen.csv"
    german.write_text(KWD.replace("250.750", "750").replace(",KWD", ",EUR"), encoding="utf-8")
    assert "CHECK: 'Amount'" not in suggest_source(german).text
    plain = tmp_path / "plain.csv"
    plain.write_text(KWD.replace("250.750", "250.75"), encoding="utf-8")
    assert "CHECK: 'Amount'" not in suggest_source(plain).text


# ---------------------------------------------------------------- amounts rewritten by the new source options

NS_HEADER = "Date,Type,Document Number,Name,Due Date/Receive By,Amount,Applied To Transaction,Applied To Link Amount\n"
NS_CONFIG = """kind: source
name: netsuite
rules: {{data_docs: false}}
values: {{date_format: m/d/Y, thousands: ","}}
default_currency: CURRENCY
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: Type, values: [Invoice]}}}}
    columns: {{invoice_id: Document Number, debtor_id: Name, issue_date: Date, due_date: Due Date/Receive By, amount: Amount}}
  payments:
    path: {path}
    rows: {{keep: {{column: Type, values: [Payment]}}}}
    invoice_prefix: "Invoice #"
    applied_amount: "Applied To Link Amount"
    columns: {{payment_id: Document Number, debtor_id: Name, paid_on: Date, amount: Amount, invoice_id: Applied To Transaction}}
"""


def _payments(result) -> dict[str, tuple[str | None, float]]:
    return {
        str(r.payment_id): (None if pd.isna(r.invoice_id) else str(r.invoice_id), float(r.amount))
        for r in result.portfolio.payments.itertuples()
    }


def test_applied_amount_keeps_the_fils_of_a_three_decimal_currency(tmp_path: Path) -> None:
    """f694c5e split a NetSuite payment by its applied lines in whole cents. A Kuwaiti payment of
    1.250 KWD applied 0.625 + 0.625 (two invoices of 0.625): 62.5 cents each rounded to 62 (half to
    even), so on main the payment became 0.62 + 0.62 and an invented unallocated piece of 0.01 (cash
    on account that was never paid). By hand: two pieces of 0.625, nothing unallocated, 1.250 in
    all; 2 read = 2 in, no piece added. A 2-decimal split (USD 100.00 on 60.00 + 40.00, with 0.00
    unapplied) keeps its figures."""
    text = NS_HEADER + (
        "1/15/2024,Invoice,INV1,C1,2/14/2024,0.625,,\n"
        "1/16/2024,Invoice,INV2,C1,2/15/2024,0.625,,\n"
        "2/1/2024,Payment,P1,C1,,1.250,Invoice #INV1,0.625\n"
        "2/1/2024,Payment,P1,C1,,1.250,Invoice #INV2,0.625\n"
    )
    result = _ingest_config(tmp_path, text, NS_CONFIG.replace("CURRENCY", "KWD"))
    assert _payments(result) == {"P1/INV1": ("INV1", 0.625), "P1/INV2": ("INV2", 0.625)}
    assert result.manifest["tables"]["payments"]["applied"]["pieces_added"] == 0
    usd = NS_HEADER + (
        "1/15/2024,Invoice,INV1,C1,2/14/2024,60.00,,\n"
        "1/16/2024,Invoice,INV2,C1,2/15/2024,90.00,,\n"
        "2/1/2024,Payment,P1,C1,,110.10,Invoice #INV1,60.00\n"
        "2/1/2024,Payment,P1,C1,,110.10,Invoice #INV2,40.05\n"
    )
    result = _ingest_config(tmp_path, usd, NS_CONFIG.replace("CURRENCY", "USD"))
    assert _payments(result) == {
        "P1/INV1": ("INV1", 60.0),
        "P1/INV2": ("INV2", 40.05),
        "P1/unallocated": (None, 10.05),
    }


def test_applied_amount_one_invoice_with_an_empty_applied_cell_is_the_whole_payment(tmp_path: Path) -> None:
    """A payment listed with its main line (no invoice) and one applied line whose applied cell is
    empty. split_applied meant this as "the whole payment is its invoice's", but it tested the
    cell's text, and an empty CSV cell is read as missing (str: '<NA>'): on main both rows were
    quarantined (duplicate_id, unreadable_applied_amount), the 100.00 lost. By hand: P1/INV1 100.00,
    the main line left out (nothing unapplied): 3 read = 1 in + 2 filtered (the invoice's row, the
    main line)."""
    from hostile_sources import counts

    text = NS_HEADER + (
        "1/15/2024,Invoice,INV1,C1,2/14/2024,100.00,,\n"
        "2/1/2024,Payment,P1,C1,,100.00,,\n"
        "2/1/2024,Payment,P1,C1,,100.00,Invoice #INV1,\n"
    )
    result = _ingest_config(tmp_path, text, NS_CONFIG.replace("CURRENCY", "USD"))
    assert _payments(result) == {"P1/INV1": ("INV1", 100.0)}
    assert counts(result, "payments") == (3, 1, 0, 2)


ODOO_KWD = (
    "Date,Journal Entry,Journal,Partner,Reference,Due Date,Debit,Credit\n"
    "2024-01-05,INV/1,Customer Invoices,Acme,,2024-02-04,10.000,0.000\n"
    "2024-02-01,BNK/1,Bank,Acme,INV/1,2024-02-01,0.000,12.345\n"
    "2024-02-20,BNK/2,Bank,Acme,INV/1,2024-02-20,12.345,0.000\n"
    "2024-02-21,BNK/3,Bank,Acme,INV/1,2024-02-21,0.500,3.125\n"
)
ODOO_CONFIG = """kind: source
name: odoo
rules: {{data_docs: false}}
default_currency: KWD
tables:
  invoices:
    path: {path}
    rows: {{keep: {{column: Journal, values: [Customer Invoices]}}}}
    columns: {{invoice_id: Journal Entry, debtor_id: Partner, issue_date: Date, due_date: Due Date, amount: Debit}}
  payments:
    path: {path}
    rows: {{keep: {{column: Debit, values: ["0.000"], also: {{column: Journal, values: [Bank]}}}}}}
    debit: Debit
    columns: {{payment_id: Journal Entry, debtor_id: Partner, invoice_id: Reference, paid_on: Date, amount: Credit}}
"""


def test_odoo_debit_keeps_the_fils_of_a_three_decimal_currency(tmp_path: Path) -> None:
    """076982c wrote Credit - Debit in whole cents. A Kuwaiti bank journal: a payment of 12.345, its
    refund of 12.345 (debit side) and a row with both sides (3.125 - 0.500). On main the refund
    read -12.34 and the last row 2.62 (both lost their fils: 12.345 - 12.34, 2.625 - 2.62). By hand:
    the refund nets the payment (reversal / reversed_payment, -12.345 / 12.345), BNK/3 is 2.625."""
    result = _ingest_config(tmp_path, ODOO_KWD, ODOO_CONFIG)
    assert _payments(result) == {"BNK/3": ("INV/1", 2.625)}
    q = result.quarantine["payments"].set_index("source_row")
    assert q["reason"].to_dict() == {2: "reversed_payment", 3: "reversal"}
    assert q["amount"].astype(str).to_dict() == {2: "12.345", 3: "-12.345"}


# ---------------------------------------------------------------- the clearing join in a 3-decimal currency


def test_clearing_keeps_the_fils_of_a_three_decimal_currency() -> None:
    """The clearing join (``tables.payments.clearing``, SAP FBL5N / Business Central) allocated in
    whole cents: a KWD payment of 1.250 clearing two invoices of 0.625 became 0.62 + 0.62 (62.5 cents
    rounded half to even) and an invented 0.01 of unallocated cash. In thousandths, by hand: 0.625 +
    0.625, no third piece; a 2-decimal clearing writes its pieces with 2 decimals as before."""
    from pipelines.sources.clearing import join_clearing

    def join(inv_amounts: list[str], pay_amount: str):
        invoices = pd.DataFrame(
            {
                "Doc": [f"INV{k + 1}" for k in range(len(inv_amounts))],
                "Amount": inv_amounts,
                "Clearing": ["CL1"] * len(inv_amounts),
            }
        )
        payments = pd.DataFrame({"Doc": ["P1"], "Amount": [pay_amount], "Clearing": ["CL1"]})
        return join_clearing(
            invoices,
            payments,
            column="Clearing",
            key="Doc",
            invoice_id="Doc",
            invoice_amount="Amount",
            payment_id="Doc",
            payment_amount="Amount",
        )

    kwd = join(["0.625", "0.625"], "1.250")
    assert kwd.payment_id == ["P1/INV1", "P1/INV2"]
    assert kwd.amount == ["0.625", "0.625"]
    assert kwd.invoice_id == ["INV1", "INV2"]
    part = join(["3.125", "2.000"], "4.500")  # 3.125 whole, 1.375 of the second
    assert part.amount == ["3.125", "1.375"]
    eur = join(["60.00", "40.05"], "110.10")  # the rest, 10.05, stays unallocated
    assert eur.payment_id == ["P1/INV1", "P1/INV2", "P1/unallocated"]
    assert eur.amount == ["60.00", "40.05", "10.05"]
