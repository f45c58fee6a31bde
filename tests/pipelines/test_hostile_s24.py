"""Hostile inputs, session 24 (s24-export; BENCHMARKS.md "Hostile inputs tried", "Session 24
(s24-export)"): a new user's walk with SAP FBL5N's line items saved as a spreadsheet, and DATEV's
leftovers from s23-hostile. Each test failed on the code before its fix (main b18b173) unless it
says it is a guard; every expected number is by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ledger import day_number, ledger_state, prepare_ledger
from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source
from pipelines.ingest.sources import check_inputs
from pipelines.sources.suggest import suggest_source

AS_OF = dt.date(2024, 6, 30)
ROOT = Path(__file__).resolve().parents[2]
FBL5N = ROOT / "tests" / "data" / "sources" / "sap_fbl5n.txt"


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


def _draft_and_ingest(tmp_path: Path, export: Path, out: Path | None = None, **kw):
    """`ews sources suggest` -> the draft on disk -> `ews config check`'s checks -> ingest."""
    draft = suggest_source(export)
    config = tmp_path / "draft.yaml"
    config.write_text(draft.text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    return draft, ingest_source(source, out, as_of=AS_OF, **kw)


def _sums(result) -> tuple[float, float, float]:
    """(invoiced, cash paid, credited) of the accepted rows, in cents."""
    inv = result.portfolio.invoices
    pay = result.portfolio.payments
    kind = pay["kind"].astype(str)
    return (
        round(float(inv["amount"].sum()), 2),
        round(float(pay.loc[kind == "cash", "amount"].sum()), 2),
        round(float(pay.loc[kind == "credit", "amount"].sum()), 2),
    )


# ----------------------------------------------------------------- 1. SAP FBL5N, saved as a spreadsheet

# tests/data/sources/sap_fbl5n.txt, by hand: 8 RV invoices, 1,190.00 + 2,380.00 + 1,234.56 +
# 5,000.00 + 10,000.00 + 800.00 + 12,345.67 + 1,000,000.00 = 1,032,950.23; cash (DZ) 3,570.00 +
# 1,234.56 (paid again after the returned debit) + 2,000.00 (part payment, open) + 9,000.00 +
# 500.00 (on account) + 1,000,000.00 = 1,016,304.56; credit memos (DG) 1,000.00 + 800.00 = 1,800.00.
# The DZ 1400000002 of 1,234.56 was returned: reversed by the AB 100000001, which cleared it.
SAMPLE_SUMS = (1032950.23, 1016304.56, 1800.00)
SAMPLE_STATE = {
    "90000001": (dt.date(2024, 2, 2), 0.0),  # DZ 1400000001 clears 90000001 and 90000002
    "90000002": (dt.date(2024, 2, 2), 0.0),
    "90000003": (dt.date(2024, 4, 5), 0.0),  # paid again on 05.04 after the returned debit
    "90000004": (None, 3000.0),  # 5,000.00 less the open part payment of 2,000.00
    "90000005": (dt.date(2024, 2, 20), 0.0),  # DG 1,000.00 + DZ 9,000.00
    "90000006": (dt.date(2024, 2, 10), 0.0),  # credited in full on 10.02 (cleared by hand on 12.02, AB)
    "90000007": (None, 11845.67),  # 12,345.67 less 500.00 on account
    "90000008": (dt.date(2024, 5, 15), 0.0),  # 1.000.000,00 and 1.000.000,00-
}


def test_a_returned_direct_debit_reversed_by_an_ab_document_is_no_cash(tmp_path: Path) -> None:
    """Before: the draft kept DZ and DG with the payments and left AB out; the returned debit's DZ
    (its clearing, the AB reversal, holds no invoice) was read as 1,234.56 of cash on account, the
    AB row filtered: cash 1,017,539.12, nothing quarantined. Now the draft keeps AB with the
    payments (credit, no cash): the reversal nets the DZ out, both quarantined."""
    draft, result = _draft_and_ingest(tmp_path, FBL5N)
    assert 'rows: {keep: {column: "Document Type", values: ["AB", "DG", "DZ"]}}' in draft.text
    assert 'credit: {column: "Document Type", values: ["DG", "AB"]}' in draft.text
    pay = result.manifest["tables"]["payments"]
    # 10 credit-side rows read, the DZ clearing two invoices split in two: 11 in = 9 + 2
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (18, 11, 9, 2)
    assert pay["reasons"] == {"reversal": 1, "reversed_payment": 1}
    assert _sums(result) == SAMPLE_SUMS
    assert _settlement(result.portfolio, AS_OF) == SAMPLE_STATE


def test_the_example_fbl5n_config_reads_the_sample_as_written(tmp_path: Path, monkeypatch) -> None:
    """conf/sources/example_sap_fbl5n.yaml (new) on its sample: the trailing minus, 1.000.000,00,
    cp1252 text, the clearing join, the AB reversal; sums and each invoice's state by hand."""
    monkeypatch.chdir(ROOT)
    source = load_config(ROOT / "conf" / "sources" / "example_sap_fbl5n.yaml", SourceConfig)
    check_inputs(source)
    result = ingest_source(source, None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    assert (inv["rows_read"], inv["rows_in"], inv["rows_accepted"], inv["rows_filtered"]) == (18, 8, 8, 10)
    assert _sums(result) == SAMPLE_SUMS
    assert _settlement(result.portfolio, AS_OF) == SAMPLE_STATE


def test_the_classic_lists_short_headings_date_the_clearing(tmp_path: Path) -> None:
    """The classic FBL5N list's short headings (DocumentNo, Typ, Doc. Date, Net due dt, Amount in
    LC, LCurr, Clrng doc., Clearing). Before: the join was drafted without `date` ('Clearing' was
    not read as the clearing date), so a payment counted on the invoice it cleared from its own
    date, before the clearing was known. Now `date: "Clearing"`, and the scope with it."""
    text = FBL5N.read_text(encoding="cp1252").splitlines()
    text[0] = "\t".join(
        [
            "Account",
            "Assignment",
            "DocumentNo",
            "Typ",
            "Doc. Date",
            "Pstng Date",
            "Net due dt",
            "Amount in LC",
        ]
        + ["LCurr", "Clrng doc.", "Clearing", "Text"]
    )
    export = tmp_path / "fbl5n_short.txt"
    export.write_text("\r\n".join(text) + "\r\n", encoding="cp1252")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'clearing: {column: "Clrng doc.", scope: ["Clearing"], date: "Clearing"}' in draft.text
    assert _sums(result) == SAMPLE_SUMS
    assert _settlement(result.portfolio, AS_OF) == SAMPLE_STATE
    # point in time: DG 1600000002 (10.02) counts on 90000006 from its clearing on 12.02 only
    allocated = result.portfolio.payments.set_index("payment_id")["allocated_on"]
    assert str(allocated["1600000002"])[:10] == "2024-02-12"


def test_the_fbl5n_sample_streamed_gives_the_same_bytes(tmp_path: Path) -> None:
    """Guard: the sample's ingest in memory and streamed in chunks of 2 rows writes the same tables,
    quarantine and manifest (less the GX chunk count; the Data Docs pages are per chunk)."""
    _draft_and_ingest(tmp_path, FBL5N, tmp_path / "mem", stream=False)
    _draft_and_ingest(tmp_path, FBL5N, tmp_path / "str", stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "str")


def _outputs(out: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and "data_docs" not in path.parts:  # GX's pages: one per validated chunk
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                for table in manifest["tables"].values():
                    table["validation"].pop("chunks", None)
                data = json.dumps(manifest, indent=1).encode()
            found[str(path.relative_to(out))] = data
    return found


@pytest.mark.parametrize("header", ["de"])
def test_german_headers_draft_the_same_join(tmp_path: Path, header: str) -> None:
    """Guard: the same sample under FBL5N's German headings drafts the same config (Konto,
    Belegnummer, Belegart, Ausgleichsbeleg, Ausgleichsdatum) and reads the same sums and states."""
    text = FBL5N.read_text(encoding="cp1252").splitlines()
    text[0] = "\t".join(
        ["Konto", "Zuordnung", "Belegnummer", "Belegart", "Belegdatum", "Buchungsdatum", "Nettofälligkeit"]
        + ["Betrag in Hauswährung", "Hauswährung", "Ausgleichsbeleg", "Ausgleichsdatum", "Text"]
    )
    export = tmp_path / "fbl5n_de.txt"
    export.write_text("\r\n".join(text) + "\r\n", encoding="cp1252")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'credit: {column: "Belegart", values: ["DG", "AB"]}' in draft.text
    assert _sums(result) == SAMPLE_SUMS
    assert _settlement(result.portfolio, AS_OF) == SAMPLE_STATE


# ------------------------------------------------------------- 3. DATEV's OPOS list: s23's leftovers

DATEV = ROOT / "tests" / "data" / "sources" / "datev_opos.csv"
DATEV_CONFIG = ROOT / "conf" / "sources" / "example_datev_opos.yaml"


def _datev(tmp_path: Path, rows: dict[str, tuple[str, str]] | None = None, extra: list[str] = ()) -> Path:
    """The s23 sample with a 'Belegfeld 2' column (DATEV's second document field: the due date as
    DDMMYY on the invoices, as DATEV's OPOS convention writes it), rows replaced by (line, Belegfeld
    2) and lines added (Belegfeld 2 included)."""
    lines = DATEV.read_text(encoding="cp1252").splitlines()
    out = [lines[0] + ";Belegfeld 2"]
    for line in lines[1:]:
        due = line.split(";")[3]
        line, ref = (rows or {}).get(line, (line, due[:2] + due[3:5] + due[8:10] if due else ""))
        out.append(f"{line};{ref}")
    out += list(extra)
    path = tmp_path / "opos.csv"
    path.write_text("\r\n".join(out) + "\r\n", encoding="cp1252")
    return path


# the credit note of 119.00 on RE24009, booked under its own number GS24001, its invoice in Belegfeld 2
CREDIT_NOTE = "10002;RE24009;20.03.2024;;;119,00;0,00;8400;Gutschrift Mängelrüge"
OWN_NUMBER = ("10002;GS24001;20.03.2024;;;119,00;0,00;8400;Gutschrift Mängelrüge", "RE24009")


def _datev_source(tmp_path: Path, export: Path, extra: str = "") -> SourceConfig:
    text = DATEV_CONFIG.read_text(encoding="utf-8").replace("tests/data/sources/datev_opos.csv", str(export))
    if extra:
        text = text.replace("    ids_from_rows: true", "    ids_from_rows: true\n" + extra, 1)
    config = tmp_path / "datev.yaml"
    config.write_text(text, encoding="utf-8")
    source = load_config(config, SourceConfig)
    check_inputs(source)
    return source


def test_a_credit_note_under_its_own_number_is_linked_through_belegfeld_2(tmp_path: Path) -> None:
    """s23's open item: GS24001 (119.00, credit) names no invoice of the list, so it was quarantined
    and RE24009 stayed open by 119.00. Before: `invoice_reference` was an unknown key. Now the row
    whose Rechnungsnummer names no invoice takes the invoice in Belegfeld 2 (RE24009); the other rows'
    Belegfeld 2 (a due date, 140224) is not read. Payments 7 = 7 + 0; RE24009: 119.00 credit on
    20.03 + 714.00 cash on 10.04 = 833.00, settled 2024-04-10; cash 7,728.30, credit 154.70 as the
    s23 sample."""
    export = _datev(tmp_path, {CREDIT_NOTE: OWN_NUMBER})
    text = export.read_text(encoding="cp1252")
    assert "GS24001;20.03.2024;;;119,00;0,00;8400;Gutschrift Mängelrüge;RE24009" in text
    source = _datev_source(tmp_path, export, '    invoice_reference: "Belegfeld 2"')
    result = ingest_source(source, None, as_of=AS_OF)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (7, 7, 0)
    assert pay["repairs"]["invoice_from_reference"] == 1
    assert _sums(result)[1:] == (7728.30, 154.70)
    assert _settlement(result.portfolio, AS_OF)["RE24009"] == (dt.date(2024, 4, 10), 0.0)


def test_without_the_reference_the_credit_note_stays_quarantined_and_is_named(tmp_path: Path) -> None:
    """The same list read by the example config without invoice_reference: GS24001 stays quarantined
    (invoice_before_export: 60 days after its debtor's first invoice) and RE24009 open by 119.00, but
    ingest now says why and names the fix. Before: no warning."""
    export = _datev(tmp_path, {CREDIT_NOTE: OWN_NUMBER})
    result = ingest_source(_datev_source(tmp_path, export), None, as_of=AS_OF)
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (7, 6, 1)
    assert pay["reasons"] == {"invoice_before_export": 1}
    assert _settlement(result.portfolio, AS_OF)["RE24009"] == (None, 119.0)
    said = [w for w in result.manifest["warnings"] if "invoice_reference" in w]
    assert len(said) == 1 and "1 payment naming an invoice number the export does not hold" in said[0]


def test_a_row_with_both_soll_and_haben_is_quarantined_in_both_tables(tmp_path: Path) -> None:
    """A booking with 500,00 in Sollbetrag and in Habenbetrag (RE24015). Before: read as an invoice of
    500.00 and as a payment of 500.00 on it (settled the day it was issued); `other_side` an unknown
    key. Now `other_side` on both tables (the example config) quarantines it both_sides in each:
    invoices 10 in = 9 + 1, payments 9 in = 7 + 2. A row with 0,00 on the other side is one-sided
    (RE24016 an invoice; its 0,00 credit a payment of 0, amount_not_positive as before)."""
    both = "10003;RE24015;25.05.2024;24.06.2024;500,00;500,00;0,00;8400;Fehlbuchung;"
    zero = "10003;RE24016;27.05.2024;26.06.2024;70,00;0,00;70,00;8400;Rechnung 24016;"
    export = _datev(tmp_path, extra=[both, zero])
    result = ingest_source(_datev_source(tmp_path, export), None, as_of=AS_OF)
    inv = result.manifest["tables"]["invoices"]
    pay = result.manifest["tables"]["payments"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (10, 9, 1)
    assert inv["reasons"] == {"both_sides": 1}
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (9, 7, 2)
    assert pay["reasons"] == {"both_sides": 1, "amount_not_positive": 1}
    assert "RE24015" not in set(result.portfolio.invoices["invoice_id"])
    assert any("both_sides" in w for w in result.manifest["warnings"])


def test_suggest_drafts_the_reference_and_the_other_side_of_a_datev_list(tmp_path: Path) -> None:
    """`ews sources suggest` on the list with Belegfeld 2 and the credit note under its own number.
    Before: no `other_side`, no `invoice_reference`: GS24001 quarantined. Now both drafted; payments
    7 = 7 + 0, 7,883.00 in all (the draft marks no credit: the Skonto and credit-note accounts stay
    the user's CHECK)."""
    export = _datev(tmp_path, {CREDIT_NOTE: OWN_NUMBER})
    draft, result = _draft_and_ingest(tmp_path, export)
    assert 'invoice_reference: "Belegfeld 2"' in draft.text
    assert 'other_side: "Habenbetrag"' in draft.text and 'other_side: "Sollbetrag"' in draft.text
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (7, 7, 0)
    assert round(float(result.portfolio.payments["amount"].sum()), 2) == 7883.00
    assert _settlement(result.portfolio, AS_OF)["RE24009"] == (dt.date(2024, 4, 10), 0.0)


def test_the_datev_list_streamed_gives_the_same_bytes(tmp_path: Path) -> None:
    """Guard: the list with the credit note under its own number (invoice_reference) and a row on both
    sides (other_side), in memory and streamed in chunks of 2 rows: the same tables, quarantine and
    manifest (less the GX chunk count); rows in = accepted + quarantined in each table."""
    both = "10003;RE24015;25.05.2024;24.06.2024;500,00;500,00;0,00;8400;Fehlbuchung;"
    export = _datev(tmp_path, {CREDIT_NOTE: OWN_NUMBER}, extra=[both])
    source = _datev_source(tmp_path, export, '    invoice_reference: "Belegfeld 2"')
    whole = ingest_source(source, tmp_path / "mem", as_of=AS_OF, stream=False)
    ingest_source(source, tmp_path / "str", as_of=AS_OF, stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "str")
    for t in whole.manifest["tables"].values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    assert whole.manifest["tables"]["payments"]["reasons"] == {"both_sides": 1}


# ------------------------------------------- 2. Business Central's Customer Ledger Entries, saved as CSV

BC = """Posting Date,Document Type,Document No.,Customer No.,Description,Due Date,Amount,Remaining Amount,Open,Closed at Date,Applies-to Doc. No.,Entry No.
01/05/2024,Invoice,103001,C10000,Invoice 103001,02/04/2024,"1,000.00",0.00,No,02/10/2024,,1001
01/10/2024,Invoice,103002,C10000,Invoice 103002,02/09/2024,500.00,200.00,Yes,,,1002
02/01/2024,Invoice,103003,C20000,Invoice 103003,03/02/2024,"2,000.00",0.00,No,03/05/2024,,1003
02/10/2024,Payment,G00001,C10000,Payment G00001,02/10/2024,"-1,000.00",0.00,No,02/10/2024,103001,1004
02/15/2024,Credit Memo,104001,C20000,Credit Memo 104001,02/15/2024,-250.00,0.00,No,02/15/2024,103003,1005
02/20/2024,Payment,G00002,C10000,Payment G00002,02/20/2024,-300.00,0.00,No,02/20/2024,103002,1006
03/05/2024,Payment,G00003,C20000,Payment G00003,03/05/2024,"-1,750.00",0.00,No,03/05/2024,103003,1007
04/01/2024,Payment,G00004,C20000,Payment G00004,04/01/2024,-400.00,-400.00,Yes,,,1008
04/10/2024,Invoice,103004,C20000,Invoice 103004,05/10/2024,"1,200.00","1,200.00",Yes,,,1009
"""


def test_a_business_central_ledger_with_applies_to_keeps_each_payment(tmp_path: Path) -> None:
    """Customer Ledger Entries with `Closed at Date` and `Applies-to Doc. No.` (no `Closed by Entry
    No.`). Before: drafted as an ar_export of the Invoice rows by `Closed at Date`: each closed invoice
    paid in full on its closing day (cash 3,000.00 in 2 payments), the part payment of 300.00 on
    103002, the credit memo of 250.00 and the 400.00 on account lost (103002 open 500.00, 103004
    1,200.00). Now two tables, the payments' invoice_id from Applies-to Doc. No., the memo marked
    credit: invoices 4,700.00, cash 3,450.00, credit 250.00; at 2024-06-30 103002 open 200.00 and
    103004 800.00 (the 400.00 on account applied to C20000's oldest open invoice). Also before: the
    date layout was guessed on the invoice rows alone (01/05, 02/04, ...: d/m/Y with a CHECK), so the
    payments of 02/15 and 02/20 were day_month_swapped; now m/d/Y, from every row."""
    export = tmp_path / "customer_ledger_entries.csv"
    export.write_text(BC, encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export)
    assert draft.kind == "invoices"
    assert 'invoice_id: "Applies-to Doc. No."' in draft.text
    assert 'credit: {column: "Document Type", values: ["Credit Memo"]}' in draft.text
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_read"], pay["rows_in"], pay["rows_accepted"], pay["rows_filtered"]) == (9, 5, 5, 4)
    assert _sums(result) == (4700.00, 3450.00, 250.00)
    assert _settlement(result.portfolio, AS_OF) == {
        "103001": (dt.date(2024, 2, 10), 0.0),
        "103002": (None, 200.0),
        "103003": (dt.date(2024, 3, 5), 0.0),
        "103004": (None, 800.0),
    }


def _fbl5n_with_reference(tmp_path: Path) -> Path:
    """The sample with FBL5N's `Invoice reference` column and an older open invoice 90000009."""
    lines = FBL5N.read_text(encoding="cp1252").splitlines()
    out = [lines[0] + "\tInvoice reference"]
    for line in lines[1:]:
        cells = line.split("\t")
        ref = {"1400000004": "90000004", "1600000001": "90000005", "1600000002": "90000006"}.get(cells[2], "")
        out.append(f"{line}\t{ref}")
    out.append("100001\t0000004719\t90000009\tRV\t15.04.2024\t15.04.2024\t15.05.2024\t1.500,00\tEUR\t\t\t\t")
    export = tmp_path / "fbl5n_ref.txt"
    export.write_text("\r\n".join(out) + "\r\n", encoding="cp1252")
    return export


def test_an_open_part_payment_lands_on_the_invoice_it_references(tmp_path: Path) -> None:
    """FBL5N's `Invoice reference` (REBZG): a part payment posted against an invoice stays an open item
    with no clearing document. The sample plus that column and an older open invoice 90000009 (15.04,
    1.500,00) of the same customer. Before (clearing alone): DZ 1400000004 (2.000,00 on 90000004) was
    cash on account, applied oldest first: 90000009 paid 20.05, 90000004 open 4,500.00. Now the draft
    maps `invoice_reference: "Invoice reference"` (allowed beside clearing for rows naming no clearing
    document): 90000004 open 3,000.00, 90000009 1,500.00; rows with a clearing document keep their join."""
    draft, result = _draft_and_ingest(tmp_path, _fbl5n_with_reference(tmp_path))
    assert 'invoice_reference: "Invoice reference"' in draft.text
    assert result.manifest["tables"]["payments"]["repairs"]["invoice_from_reference"] == 1
    state = _settlement(result.portfolio, AS_OF)
    assert state["90000004"] == (None, 3000.0)
    assert state["90000009"] == (None, 1500.0)
    assert {k: v for k, v in state.items() if k not in ("90000004", "90000009")} == {
        k: v for k, v in SAMPLE_STATE.items() if k != "90000004"
    }
    assert _sums(result) == (SAMPLE_SUMS[0] + 1500.00, SAMPLE_SUMS[1], SAMPLE_SUMS[2])


def test_the_referenced_fbl5n_streamed_gives_the_same_bytes(tmp_path: Path) -> None:
    """Guard: clearing with invoice_reference, in memory and streamed in chunks of 2 rows: the same
    tables, quarantine and manifest (less the GX chunk count)."""
    export = _fbl5n_with_reference(tmp_path)
    _draft_and_ingest(tmp_path, export, tmp_path / "mem", stream=False)
    _draft_and_ingest(tmp_path, export, tmp_path / "str", stream=True, chunk_rows=2, partitions=2, workers=1)
    assert _outputs(tmp_path / "mem") == _outputs(tmp_path / "str")
