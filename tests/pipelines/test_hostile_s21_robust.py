"""Hostile inputs, session 21 (s21-robust; BENCHMARKS.md "Hostile inputs tried", "Session 21
(s21-robust)"): the items session 20 left open. Each test failed on the code before its fix (main
5f5473c) unless it says it is a guard; files are hand-written after the exports' layouts (not exports
from the systems named), expected figures computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

from hostile_sources import ingest_config as _ingest_config

# ---------------------------------------------------------------- item 1: 1.500 under decimal "."

# a German Excel sheet saved as CSV (semicolon, UTF-8 with BOM, CRLF) whose amounts are whole euros
# in #.##0: 1.500 is one thousand five hundred; the source config was written by hand with the
# decimal dot (or kept from an English export of the same system)
GERMAN = "\ufeff" + (
    "Rechnungsnummer;Kunde;Rechnungsdatum;Fällig am;Betrag;Währung\r\n"
    "RE-1001;K100;05.09.2024;05.10.2024;1.500;EUR\r\n"
    "RE-1002;K100;20.10.2024;19.11.2024;750;EUR\r\n"
    "RE-1003;K200;10.09.2024;10.10.2024;12.000;EUR\r\n"
    "RE-1004;K200;12.09.2024;12.10.2024;2.250;EUR\r\n"
)
GERMAN_CONFIG = """kind: source
name: rechnungen
rules: {{data_docs: false}}
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ".", thousands: null}}
tables:
  invoices:
    path: {path}
    columns: {{invoice_id: Rechnungsnummer, debtor_id: Kunde, issue_date: Rechnungsdatum, due_date: Fällig am,
               amount: Betrag, currency: Währung}}
"""


def test_whole_thousands_read_as_decimals_are_quarantined_with_the_fix(tmp_path: Path) -> None:
    """Before: 4 = 4 + 0, RE-1001 1.5, RE-1003 12.0, RE-1004 2.25 (16,500.00 euros read as 765.75,
    no warning). Now the three amounts written like 1.500 (every value with a dot has exactly three
    digits after it, in EUR) are quarantined thousands_as_decimal:amount, 4 = 1 + 3, with a
    warning naming the file's column, rows and the fix; 750 is accepted as 750."""
    result = _ingest_config(tmp_path, GERMAN, GERMAN_CONFIG, name="rechnungen.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (4, 1, 3)
    assert t["reasons"] == {"thousands_as_decimal:amount": 3}
    assert t["thousands_as_decimal"] == {
        "amount": {"rows": 3, "with_separator": 3, "examples": [[1, "1.500"], [3, "12.000"], [4, "2.250"]]}
    }
    assert result.portfolio.invoices.set_index("invoice_id")["amount"].to_dict() == {"RE-1002": 750.0}
    q = result.quarantine["invoices"]
    assert q["invoice_id"].tolist() == ["RE-1001", "RE-1003", "RE-1004"]
    assert q["amount"].tolist() == ["1.500", "12.000", "2.250"]  # as written
    assert q["detail"].str.contains("values.decimal: ','", regex=False).all()
    (warning,) = [w for w in result.manifest["warnings"] if "thousands_as_decimal" in w]
    for part in (
        "invoices.amount (column 'Betrag' of ",
        "rechnungen.csv",
        "3 of the 3 amounts written with a '.'",
        "row 1 '1.500' (read 1.5, meant 1500)",
        "row 3 '12.000' (read 12, meant 12000)",
        "values.decimal: ',' and values.thousands: '.'",
        "KWD",
    ):
        assert part in warning, (part, warning)


def test_the_fixed_config_reads_them_and_three_decimal_currencies_are_not_touched(tmp_path: Path) -> None:
    """Guards (pass on main too), all but the last part: with decimal ',' / thousands '.' the same file reads 1,500 /
    750 / 12,000 / 2,250 (4 = 4 + 0). The same amounts in Kuwaiti dinars (3 decimals) are 1.5 / 750
    / 12.0 / 2.25, accepted, no warning; so in a file without a currency column under
    default_currency: KWD. A file mixing the two: only its EUR rows of the shape are quarantined
    (2 of them, RE-1001 and RE-1003), the KWD row RE-1004 is read 2.25 dinars (and quarantined
    no_fx_rate:KWD: no rate into EUR is configured)."""
    fixed = GERMAN_CONFIG.replace('decimal: ".", thousands: null', 'decimal: ",", thousands: "."')
    result = _run(tmp_path / "a", GERMAN, fixed, name="rechnungen.csv")
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].to_dict()
    assert amounts == {"RE-1001": 1500.0, "RE-1002": 750.0, "RE-1003": 12000.0, "RE-1004": 2250.0}

    kwd = GERMAN.replace(";EUR", ";KWD")
    result = _run(tmp_path / "b", kwd, GERMAN_CONFIG, name="kwd.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], "thousands_as_decimal" in t) == (4, 4, False)
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].to_dict()
    assert amounts == {"RE-1001": 1.5, "RE-1002": 750.0, "RE-1003": 12.0, "RE-1004": 2.25}
    assert not [w for w in result.manifest["warnings"] if "thousands_as_decimal" in w]

    no_column = "\n".join(line.rsplit(";", 1)[0] for line in GERMAN.split("\r\n"))
    config = GERMAN_CONFIG.replace(", currency: Währung", "").replace(
        "rules:", "default_currency: KWD\nrules:"
    )
    result = _run(tmp_path / "c", no_column, config, name="kwd.csv")
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 4

    mixed = GERMAN.replace("2.250;EUR", "2.250;KWD")
    result = _run(tmp_path / "d", mixed, GERMAN_CONFIG, name="mixed.csv")
    t = result.manifest["tables"]["invoices"]
    assert t["reasons"]["thousands_as_decimal:amount"] == 2
    reasons = result.quarantine["invoices"].set_index("invoice_id")["reason"].to_dict()
    assert reasons["RE-1001"] == reasons["RE-1003"] == "thousands_as_decimal:amount"
    assert reasons["RE-1004"] == "no_fx_rate:KWD"  # read 2.25 dinars; no rate to EUR configured


def _run(folder: Path, text: str, config: str, name: str):
    folder.mkdir()
    return _ingest_config(folder, text, config, name=name)


def test_payments_without_a_currency_take_their_invoices_currency(tmp_path: Path) -> None:
    """A payments file has no currency column: a payment is in its invoice's currency. Receipts of
    1.500 and 12.000 against EUR invoices (1,500 and 12,000 read right under the German config of the
    invoices? no: both files under decimal '.') are quarantined thousands_as_decimal:amount; the
    same receipts against KWD invoices are 1.5 and 12.0 dinars, accepted."""
    from hostile_sources import AS_OF

    from pipelines.config.source import SourceConfig
    from pipelines.ingest import ingest_source

    for code, expected in (("EUR", (2, 0, 2)), ("KWD", (2, 2, 0))):
        folder = tmp_path / code
        folder.mkdir()
        inv = folder / "invoices.csv"
        inv.write_text(
            "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
            f"I1,D1,2024-09-01,2024-10-01,1.500,{code}\n"
            f"I2,D1,2024-09-02,2024-10-02,12.000,{code}\n",
            encoding="utf-8",
        )
        pay = folder / "payments.csv"
        pay.write_text(
            "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-10-01,1.500\nP2,D1,I2,2024-10-02,12.000\n",
            encoding="utf-8",
        )
        source = SourceConfig.model_validate(
            {
                "kind": "source",
                "name": "files",
                "rules": {"data_docs": False},
                "tables": {"invoices": {"path": str(inv)}, "payments": {"path": str(pay)}},
            }
        )
        result = ingest_source(source, None, as_of=AS_OF)
        p = result.manifest["tables"]["payments"]
        assert (p["rows_in"], p["rows_accepted"], p["rows_quarantined"]) == expected, (code, p)


def test_us_whole_thousands_under_a_decimal_comma_and_streamed_equals_in_memory(tmp_path: Path) -> None:
    """The mirror case: a US export's whole dollars in #,##0 (1,500, 12,000, 750) under a German
    config (decimal ',', no thousands) read 1.5 and 12.0; now quarantined thousands_as_decimal:amount
    (3 = 1 + 2) with the fix decimal '.' / thousands ','. The streamed ingest (chunks of 2 rows)
    writes the same files as the in-memory one (the manifest's Great Expectations batch count aside)."""
    from pipelines.config import load_config
    from pipelines.config.source import SourceConfig
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / "invoices.csv"
    export.write_text(
        'Invoice,Customer,Date,Due,Amount,Currency\nA1,C1,09/05/2024,10/05/2024,"1,500",USD\n'
        'A2,C1,09/06/2024,10/06/2024,750,USD\nA3,C2,09/07/2024,10/07/2024,"12,000",USD\n',
        encoding="utf-8",
    )
    config = tmp_path / "source.yaml"
    config.write_text(
        "kind: source\nname: us\nrules: {data_docs: false}\n"
        "values: {date_format: m/d/Y, decimal: ',', thousands: null}\n"
        f"tables:\n  invoices:\n    path: {export}\n"
        "    columns: {invoice_id: Invoice, debtor_id: Customer, issue_date: Date, due_date: Due, amount: Amount,"
        " currency: Currency}\n",
        encoding="utf-8",
    )
    source = load_config(config, SourceConfig)
    check_inputs(source)
    from hostile_sources import AS_OF

    outs = {}
    for name, options in (("memory", {}), ("stream", {"stream": True, "chunk_rows": 2, "workers": 1})):
        result = ingest_source(source, tmp_path / name, as_of=AS_OF, **options)
        t = result.manifest["tables"]["invoices"]
        assert (t["rows_in"], t["rows_accepted"], t["reasons"]) == (3, 1, {"thousands_as_decimal:amount": 2})
        (warning,) = [w for w in result.manifest["warnings"] if "thousands_as_decimal" in w]
        assert "values.decimal: '.' and values.thousands: ','" in warning, warning
        assert "row 1 '1,500' (read 1.5, meant 1500)" in warning, warning
        files = {}
        for path in sorted((tmp_path / name).rglob("*")):
            rel = str(path.relative_to(tmp_path / name))
            if path.is_file() and not rel.startswith("data_docs"):
                data = path.read_bytes()
                if rel == "manifest.json":
                    manifest = json.loads(data)
                    for table in manifest["tables"].values():
                        table["validation"].pop("chunks")
                    data = json.dumps(manifest, indent=1).encode()
                files[rel] = data
        outs[name] = files
    assert outs["memory"] == outs["stream"]


# ---------------------------------------------------------------- item 2: Indian lakh grouping (Tally)

# TallyPrime's Bills Receivable (Display > Statements of Accounts > Outstandings > Receivables, F12:
# Show Opening Amount) saved as CSV: amounts in lakh and crore (1,00,000.00 is one hundred thousand
# rupees, 12,34,567.50 is 1,234,567.50), dates like 1-Apr-24
TALLY = (
    "Date,Ref. No.,Party's Name,Opening Amount,Pending Amount,Due on,Overdue by days\n"
    '1-Apr-24,SI/24-25/001,Sharma Traders,"1,00,000.00","1,00,000.00",1-May-24,217\n'
    '15-Apr-24,SI/24-25/002,Sharma Traders,"12,34,567.50","2,34,567.50",15-May-24,203\n'
    '2-May-24,SI/24-25/003,Gupta & Sons,"5,000.00","5,000.00",1-Jun-24,186\n'
    "9-May-24,SI/24-25/004,Gupta & Sons,750.00,750.00,8-Jun-24,179\n"
    '20-May-24,SI/24-25/005,Gupta & Sons,"1,0,00.00","1,0,00.00",19-Jun-24,168\n'
)
TALLY_CONFIG = """kind: source
name: tally
rules: {{data_docs: false}}
default_currency: INR
values: {{date_format: "%d-%b-%y", decimal: ".", thousands: ","{grouping}}}
tables:
  invoices:
    path: {path}
    columns: {{invoice_id: Ref. No., debtor_id: Party's Name, issue_date: Date, due_date: Due on,
               amount: Opening Amount}}
"""


def test_indian_grouping_is_read_with_thousands_grouping_indian(tmp_path: Path) -> None:
    """Before (and now without the option): 1,00,000.00 and 12,34,567.50 are unparseable_number with
    thousands ',' (a 3-digit separator; the deliberate rule of test_ingest_numbers), 5 = 2 + 3. With
    values.thousands_grouping: indian: 1,00,000.00 = 100,000.00, 12,34,567.50 = 1,234,567.50, 5,000.00
    and 750.00 as before; the malformed 1,0,00.00 stays unparseable_number (5 = 4 + 1). 123,456.00
    (western grouping) under indian is unparseable too."""
    import pandas as pd

    from pipelines.sources.parse import parse_numbers

    before = _run(tmp_path / "a", TALLY, TALLY_CONFIG.replace("{grouping}", ""), name="bills.csv")
    t = before.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["reasons"]) == (5, 2, {"unparseable_number:amount": 3})

    config = TALLY_CONFIG.replace("{grouping}", ", thousands_grouping: indian")
    result = _run(tmp_path / "b", TALLY, config, name="bills.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["reasons"]) == (5, 4, {"unparseable_number:amount": 1})
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].to_dict()
    assert amounts == {
        "SI/24-25/001": 100000.0,
        "SI/24-25/002": 1234567.5,
        "SI/24-25/003": 5000.0,
        "SI/24-25/004": 750.0,
    }
    q = result.quarantine["invoices"]
    assert q["invoice_id"].tolist() == ["SI/24-25/005"] and q["amount"].tolist() == ["1,0,00.00"]
    values, bad = parse_numbers(
        pd.Series(["1,00,00,000", "-2,50,000.75", "123,456.00", "1,0,00", "12,3,456"], dtype="string"),
        ".",
        ",",
        "indian",
    )
    assert bad.tolist() == [False, False, True, True, True]
    assert values.tolist()[:2] == [10000000.0, -250000.75]


def test_suggest_drafts_thousands_grouping_indian_and_config_check_names_a_missing_separator(
    tmp_path: Path,
) -> None:
    """`ews sources suggest` on the Tally file drafts thousands ',' with thousands_grouping: indian
    (before: the amount columns were no numbers, so the draft mapped amount to Overdue by days and
    said thousands: null); the draft ingests the whole file as the hand-written config (5 = 4 + 1). thousands_grouping: indian without a
    separator is a config error naming the fix."""
    import pydantic
    import pytest

    from pipelines.config.source import ValueOptions
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "bills.csv"
    export.write_text(TALLY.rsplit("20-May-24", 1)[0], encoding="utf-8")  # the four good rows
    draft = suggest_source(export).text
    assert 'thousands: ","' in draft and "thousands_grouping: indian" in draft, draft
    assert 'amount: "Opening Amount"' in draft and "default_currency: INR" in draft, draft
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _run(tmp_path / "d", TALLY, escaped, name="bills.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["reasons"]) == (5, 4, {"unparseable_number:amount": 1})
    with pytest.raises(pydantic.ValidationError, match="thousands: ','"):
        ValueOptions(thousands_grouping="indian")


# ---------------------------------------------------------------- item 3: the rank trigger off, its hold too


def test_turning_the_rank_trigger_off_turns_its_hold_off(tmp_path: Path) -> None:
    """`triggers.rank.enabled: false` alone (the shipped watchlist.stay_top_share 0.20 left as it
    is). 21 live debtors: X at PD 0.08 (band D: the threshold trigger fires) at the first month-end,
    0.02 (band B, no trigger) at the second; 20 others at 0.0050-0.0088 (band A). Before: X stayed
    on the list at the second month-end (its PD the highest of 21, inside the top 0.20 x 21 = 4.2).
    Now: off, as with the rules before session 20; with the rank trigger on (the default) X is
    flagged at both (by rank at the second: top 0.10 x 21 = 2.1)."""
    import pandas as pd

    from pipelines.backtest import flag_panel
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import assign_bands

    months = [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-02-28")]
    rows = [(months[0], "X", 0.08), (months[1], "X", 0.02)]
    rows += [(T, f"k{k:02d}", 0.0050 + 0.0002 * (k - 1)) for T in months for k in range(1, 21)]
    panel = pd.DataFrame(rows, columns=["as_of", "debtor_id", "pd"]).assign(in_default=False)
    panel["debtor_id"] = panel["debtor_id"].astype("string")
    off = NightlyConfig.model_validate({"triggers": {"rank": {"enabled": False}}})
    panel["band"] = assign_bands(panel["pd"], off)
    assert off.watchlist.stay_top_share == 0.20
    by = flag_panel(panel, months, off).groupby(panel["debtor_id"]).agg(list).to_dict()
    assert by["X"] == [True, False]
    assert not any(v[0] or v[1] for k, v in by.items() if k != "X")
    on = flag_panel(panel, months, NightlyConfig()).groupby(panel["debtor_id"]).agg(list).to_dict()
    assert on["X"] == [True, True]


# ---------------------------------------------------------------- item 4: the reversal warning for refunds


def test_the_reversal_warning_says_what_a_refund_does(tmp_path: Path) -> None:
    """s20's Odoo journal (refunds of Acme's 200.00 overpayment and of Delta's 100.00 credit note,
    both cash on account: no invoice). Before: "2 negative payment(s) (reversed or bounced payments,
    charge-backs) netted out the payment they reverse (same debtor and invoice ...): ..., so those
    invoices are open again": no invoice reopens here. Now the warning names refunds and says both
    outcomes: an invoice a cancelled payment paid is open again, a refund of cash on account only
    takes that cash off the account; every invoice's open amount is as before (the refunds touch
    unallocated rows only: the accepted payments are 1,000 / 700 / 480 / 20 / 300 on invoices)."""
    from test_hostile_s20 import ODOO_REFUNDS, _odoo_config

    config = _odoo_config(
        also=", also: {column: Journal, values: [Bank]}",
        writeoff=", Miscellaneous Operations",
        debit="\n    debit: Debit",
    )
    result = _ingest_config(tmp_path, ODOO_REFUNDS, config)
    (warning,) = [w for w in result.manifest["warnings"] if "(reversal, reversed_payment)" in w]
    assert warning == (
        "payments: 2 negative payments (a bounced or reversed payment, a charge-back, a refund) cancelling an earlier "
        "payment of the same debtor and amount, made to the same invoice or to no invoice: both rows are "
        "quarantined (reversal, reversed_payment), so neither counts. An invoice the cancelled payment paid is "
        "open again; a refund of cash on account (an overpayment, a credit note paid back) only takes that cash "
        "off the account; see quarantine/payments.csv"
    )
    assert "those invoices are open again" not in " ".join(result.manifest["warnings"])
    assert result.portfolio.payments["invoice_id"].notna().all()


# ---------------------------------------------------------------- item 5: a new user's walk, Zoho Books

ROOT = Path(__file__).resolve().parents[2]
ZOHO = ROOT / "tests" / "data" / "sources"


def test_zoho_books_exports_are_drafted_and_ingested(tmp_path: Path) -> None:
    """Zoho Books' Invoices export (one row per item line) and Payments Received export (one row per
    invoice a payment was applied to), hand-written after the exports' layouts: 8 invoice rows (INV-000101
    on two item lines, INV-000104 Void, INV-000106 Draft), 4 payment rows (payment 1 of 1,750.00 applied
    1,250.00 + 500.00, payment 3 an advance of 200.00 on no invoice).

    Before, `ews sources suggest`: the invoices file was drafted as a *payments* table (its 'Payment
    Terms' matched payment_id); the payments file's paid_on was 'Invoice Date' (the applied invoice's
    date, not the payment's 'Date') and it had no applied_amount, so payment 1 was two rows of 1,750.00
    with one id (duplicate_id, both quarantined). Now: an invoices table keyed by 'Invoice Number' (what the
    payments name; 'Invoice ID' is Zoho's internal key) without the Void and Draft rows, payments dated
    'Date' and split by 'Amount Applied to Invoice'. By hand: invoices 8 read = 2 filtered + 6 in = 5
    accepted + 1 duplicate_row (INV-000101's second line), amounts 1,250.00 / 800.00 / 2,400.00 / 300.00
    / 975.50; payments 4 = 4: 1/INV-000101 1,250.00 and 1/INV-000102 500.00 on 2024-10-08, 2 300.00,
    3 200.00 unallocated (cash 2,250.00 = 1,750 + 300 + 200); open INV-000102 300.00, INV-000103
    2,400.00, INV-000107 975.50, as the export's Balance says. conf/sources/example_zoho_books.yaml
    (the drafts joined) ingests the same."""
    import shutil

    import pandas as pd

    from pipelines.config import load_config
    from pipelines.config.source import SourceConfig
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs
    from pipelines.sources.suggest import suggest_source

    drafts = {}
    for name in ("zoho_invoices.csv", "zoho_customer_payments.csv"):
        shutil.copy(ZOHO / name, tmp_path / name)
        drafts[name] = suggest_source(tmp_path / name)
    inv, pay = drafts["zoho_invoices.csv"], drafts["zoho_customer_payments.csv"]
    assert inv.kind == "invoices" and pay.kind == "payments"
    assert inv.mapping["invoice_id"] == "Invoice Number" and "payment_id" not in inv.mapping
    assert 'rows: {drop: {column: "Invoice Status", values: ["Draft", "Void"]}}' in inv.text
    assert pay.mapping["paid_on"] == "Date" and pay.mapping["invoice_id"] == "Invoice Number"
    assert 'applied_amount: "Amount Applied to Invoice"' in pay.text
    # the user joins the two drafts: the payments table under the invoices' tables block
    block = pay.text[pay.text.index("  payments:") :].split("\n# ")[0]
    text = inv.text.replace("tables:\n", "tables:\n" + block.rstrip() + "\n", 1)
    config = tmp_path / "zoho.yaml"
    config.write_text(text, encoding="utf-8")
    from hostile_sources import AS_OF

    example = ROOT / "conf" / "sources" / "example_zoho_books.yaml"
    for source in (load_config(config, SourceConfig), load_config(example, SourceConfig)):
        check_inputs(source)
        result = ingest_source(source, None, as_of=AS_OF)
        i, p = result.manifest["tables"]["invoices"], result.manifest["tables"]["payments"]
        assert (i["rows_read"], i["rows_filtered"], i["rows_in"], i["rows_accepted"]) == (8, 2, 6, 5)
        assert i["reasons"] == {"duplicate_row": 1}
        assert (p["rows_in"], p["rows_accepted"], p["rows_quarantined"]) == (4, 4, 0)
        amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].to_dict()
        assert amounts == {
            "INV-000101": 1250.0,
            "INV-000102": 800.0,
            "INV-000103": 2400.0,
            "INV-000105": 300.0,
            "INV-000107": 975.5,
        }
        frame = result.portfolio.payments
        payments = {
            str(pid): (None if pd.isna(inv) else str(inv), float(amount))
            for pid, inv, amount in zip(
                frame["payment_id"], frame["invoice_id"], frame["amount"], strict=True
            )
        }
        assert payments == {
            "1/INV-000101": ("INV-000101", 1250.0),
            "1/INV-000102": ("INV-000102", 500.0),
            "2": ("INV-000105", 300.0),
            "3": (None, 200.0),
        }
        assert (
            str(result.portfolio.payments.set_index("payment_id").loc["1/INV-000101", "paid_on"].date())
            == "2024-10-08"
        )
