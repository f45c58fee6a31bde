"""Hostile inputs, session 14 (s14-robust; BENCHMARKS.md "Hostile inputs tried", "Session 14
(s14-robust)"). Each test was written before its fix and fails without it. Tiny hand-made files,
hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source

START = dt.date(2024, 1, 1)
LAST = dt.date(2024, 4, 9)  # the bulk: 1,000 invoices, ten a day from START (100 days)


def _ingest_invoices(tmp_path: Path, lines: list[str], as_of: dt.date):
    path = tmp_path / "invoices.csv"
    path.write_text("invoice_id,debtor_id,issue_date,due_date,amount\n" + "".join(lines), encoding="utf-8")
    return tmp_path / "out", _files(tmp_path, ("invoices",), as_of, tmp_path / "out").manifest


def _files(tmp_path: Path, tables: tuple[str, ...], as_of: dt.date, out: Path | None = None):
    """Ingest the canonical ``<table>.csv`` files of ``tmp_path``; the IngestResult."""
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False),
        tables={t: FileSource(path=tmp_path / f"{t}.csv") for t in tables},
    )
    return ingest_source(source, out, as_of=as_of)


def _drafted(tmp_path: Path, text: str, as_of: dt.date, out: Path | None = None):
    """Ingest through a draft source config as `ews sources suggest` wrote it; the IngestResult."""
    from pipelines.config import load_config

    config = tmp_path / "draft.yaml"
    config.write_text(text, encoding="utf-8")
    return ingest_source(load_config(config, SourceConfig), out, as_of=as_of)


def _bulk() -> list[str]:
    """1,000 invoices of 7 customers D0..D6, ten a day from 2024-01-01 to 2024-04-09."""
    days = [START + dt.timedelta(days=i // 10) for i in range(1000)]
    return [f"I{i},D{i % 7},{d},{d + dt.timedelta(days=30)},100\n" for i, d in enumerate(days)]


def test_a_new_customers_first_invoices_after_a_silence_are_not_cut_as_typos(tmp_path: Path) -> None:
    """The ledger is silent for 40 days after 2024-04-09, then a new customer D9 gets its first three
    invoices on 2024-05-19, 05-24 and 05-28 (3 days spanning 9 < 14: not a slow resumption by the
    s13 rule; 3 < 0.1 x 10 x 10 = 10 by pace). Before: 'probably mistyped dates', the export's end
    taken as 2024-04-09, so `ews score --as-of 2024-05-31` was refused as 52 days stale (exit 3).
    A mistyped date cannot make a customer that has no earlier row: rows of a debtor whose first
    dated row is after the silence are new business. Now: no warning, no late_rows, data window to
    2024-05-28, the as-of passes (3 days); rows in 1,003 = 1,003 accepted + 0 quarantined."""
    from pipelines.scoring.data_window import check_as_of, data_window

    new = [LAST + dt.timedelta(days=d) for d in (40, 45, 49)]
    assert new[-1] == dt.date(2024, 5, 28)
    lines = _bulk() + [f"N{k},D9,{d},{d + dt.timedelta(days=30)},250\n" for k, d in enumerate(new)]
    out, manifest = _ingest_invoices(tmp_path, lines, dt.date(2024, 5, 31))
    entry = manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (1003, 1003, 0)
    assert manifest.get("late_rows") is None
    assert not [w for w in manifest["warnings"] if w.startswith("dates:")]
    assert data_window(out) == (START, dt.date(2024, 5, 28))
    check_as_of(dt.date(2024, 5, 31), data_window(out), 35, out)  # no StaleDataError


def test_typos_of_known_customers_after_a_new_customer_are_still_cut(tmp_path: Path) -> None:
    """The same bulk and new customer D9 (one invoice, 2024-05-19, 40 days after the bulk), then two
    invoices of the known customer D3 typed a year late (2025-03-10, 2025-03-11: 296 silent days
    after D9's). The typos are cut at their own silence: the export's end is D9's day, 2 late rows;
    D9's row is not (its debtor has no row before the first silence)."""
    d9 = LAST + dt.timedelta(days=40)
    typos = [dt.date(2025, 3, 10), dt.date(2025, 3, 11)]
    lines = _bulk() + [f"N0,D9,{d9},{d9 + dt.timedelta(days=30)},250\n"]
    lines += [f"T{k},D3,{d},{d + dt.timedelta(days=30)},100\n" for k, d in enumerate(typos)]
    out, manifest = _ingest_invoices(tmp_path, lines, dt.date(2025, 3, 31))
    late = manifest["late_rows"]
    assert (late["export_end"], late["rows"], late["gap_days"]) == ("2024-05-19", 2, 295)
    assert late["examples"] == [
        "invoices.issue_date 2025-03-10 (invoice_id 'T0')",
        "invoices.issue_date 2025-03-11 (invoice_id 'T1')",
    ]


def test_export_end_takes_rows_of_debtors_new_after_the_silence_as_real() -> None:
    """export_end alone (per-day counts): the latest first day among the debtors with rows after
    the silence decides. A new debtor first seen after the gap: that gap is no cut; a debtor seen
    before it (a known customer's mistyped date): cut as in s11."""
    from pipelines.ingest.staged import export_end

    bulk = {START + dt.timedelta(days=i): 10 for i in range(100)}
    tail = {LAST + dt.timedelta(days=d): 1 for d in (40, 45, 49)}
    assert export_end({**bulk, **tail}) == (LAST, 3)  # by counts alone: typos
    assert export_end({**bulk, **tail}, newest_first=LAST + dt.timedelta(days=40)) is None
    assert export_end({**bulk, **tail}, newest_first=LAST - dt.timedelta(days=30)) == (LAST, 3)


NETSUITE = (
    "Type,Date,Document Number,Name,Due Date/Receive By,Amount,Amount Remaining,Status,Date Closed\n"
    "Invoice,1/6/2023,INV1,Acme Holdings : Berlin,2/5/2023,$932.17,$0.00,Paid In Full,3/1/2023\n"
    'Invoice,1/9/2023,INV2,Acme Holdings : Berlin,2/8/2023,"$5,056.71",$0.00,Paid In Full,2/27/2023\n'
    "Invoice,1/10/2023,INV3,Beta Group : Berlin,2/9/2023,$80.00,$80.00,Open,\n"
    "Invoice,1/11/2023,INV4,Acme Holdings : Berlin : Site 2,2/10/2023,$99.90,$99.90,Open,\n"
    "Invoice,1/12/2023,INV5,Acme Holdings,2/11/2023,$10.00,$10.00,Open,\n"
    "Invoice,1/13/2023,INV6,=Evil : Child,2/12/2023,$10.00,$10.00,Open,\n"
)


def test_netsuite_parent_child_names_are_one_debtor_each_through_ingest_and_exports(tmp_path: Path) -> None:
    """NetSuite names a sub-customer 'Parent : Child' (a job or a subsidiary; nested 'A : B : C').
    ews's decision: the debtor is the child, its id the full name (so 'Berlin' under two parents stays
    two debtors); the parent invoiced itself is a debtor of its own; there is no group level (the
    contract has no place for one), which the draft now says on the debtor line (before: nothing).
    The names survive the mapping, the ingest (6 rows = 6 accepted, 2 settlements) and the queue
    exports: CSV and XLSX cells are the names as written, the formula-leading one neutralised."""
    import openpyxl

    from pipelines.adapters.exports import write_queue
    from pipelines.adapters.files import read_portfolio
    from pipelines.sources.suggest import suggest_source

    export = tmp_path / "netsuite.csv"
    export.write_text(NETSUITE, encoding="utf-8")
    draft = suggest_source(export)
    line = next(x for x in draft.text.splitlines() if x.strip().startswith("debtor_id:"))
    assert (
        line.strip().startswith('debtor_id: "Name"')
        and "'Parent : Child': each full name is one debtor" in line
    )
    manifest = _drafted(tmp_path, draft.text, dt.date(2023, 3, 31), tmp_path / "out").manifest
    entry = manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (6, 6, 0)
    book = read_portfolio(tmp_path / "out")
    ids = sorted(book.invoices["debtor_id"].unique())
    assert ids == [
        "=Evil : Child",
        "Acme Holdings",
        "Acme Holdings : Berlin",
        "Acme Holdings : Berlin : Site 2",
        "Beta Group : Berlin",
    ]
    assert sorted(book.payments["invoice_id"]) == ["INV1", "INV2"]
    queue = pd.DataFrame({"rank": range(1, 6), "debtor_id": ids, "owner": "unassigned", "exposure": 10.0})
    files = write_queue(
        queue, tmp_path / "runs", "collections_queue", "Queue", pd.Timestamp("2023-03-31"), 100, "USD"
    )
    csv_ids = pd.read_csv(files["collections_queue.csv"], dtype=str, encoding="utf-8-sig")[
        "debtor_id"
    ].tolist()
    sheet = openpyxl.load_workbook(files["collections_queue.xlsx"])["all"]
    xlsx_ids = [sheet.cell(row=r, column=2).value for r in range(2, 7)]
    assert csv_ids == xlsx_ids == ["'=Evil : Child", *ids[1:]]
    from pipelines.commands.watchlist import typed_id

    assert typed_id(" Acme Holdings : Berlin : Site 2\u200b ") == "Acme Holdings : Berlin : Site 2"


def test_a_payment_above_its_invoice_settles_it_and_the_excess_stays_on_account(tmp_path: Path) -> None:
    """Over-payments as customers make them: 150 paid on an invoice of 100 (a round sum, fees
    added), 50 + 50 on one of 80 (the second payment crosses the amount). Before: the payment that
    took the invoice above its amount (+1 % + 0.01) was quarantined `overpays_invoice`, so the invoice
    stayed open: I1 was 56 days past due on 2024-03-31 and the debtor heading for a default it never
    made (one row, a false crisis). Now a payment is `overpays_invoice` only when its invoice was
    already paid in full before it (paid twice: P3); the one that crosses settles the invoice and its
    excess is credit on the account (70 = 50 + 20). Rows in 5 = 4 accepted + 1 quarantined."""
    from features.build import build_features

    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-01-05,2024-02-04,100\n"
        "I2,D1,2024-01-06,2024-02-05,100\n"
        "I3,D1,2024-01-07,2024-02-06,80\n"
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\n"
        "P1,D1,I1,2024-01-20,150\n"  # settles I1, 50 on account
        "P2,D1,I2,2024-01-25,100\n"
        "P3,D1,I2,2024-02-01,100\n"  # I2 paid twice: the second one stays out
        "P4,D1,I3,2024-01-26,50\n"
        "P5,D1,I3,2024-01-27,50\n"  # crosses 80: settles I3, 20 on account
    )
    result = _files(tmp_path, ("invoices", "payments"), dt.date(2024, 3, 31))
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
    assert result.quarantine["payments"][["payment_id", "reason"]].values.tolist() == [
        ["P3", "overpays_invoice"]
    ]
    feats = build_features(result.portfolio, [pd.Timestamp("2024-03-31")]).iloc[0]
    assert feats["open_balance"] == 0.0 and feats["dpd_current_max"] == 0.0
    assert feats["credit_on_account"] == 70.0


def test_invoices_without_any_payments_table_are_named_as_all_open(tmp_path: Path) -> None:
    """QuickBooks Online's "Invoice List" report (title lines, a nameless first column, m/d/Y,
    "1,392.74", `Parent:Child` customers) lists paid invoices beside open ones, with today's "Open
    balance" only. Drafted and ingested as it comes: 24 = 24 + 0 and, before, no word, though no
    invoice is paid in ews: every one open, the paid ones past due 90 days defaults. Now a warning
    names it, and the ignored 'Open balance' column; with a payments table there is none."""
    from pipelines.sources.suggest import suggest_source

    lines = ["Invoice List", "Craig's Design and Landscaping Services", "All Dates", ""]
    lines.append(",Date,No.,Customer,Memo/Description,Due date,Amount,Open balance")
    for i in range(24):
        issue = dt.date(2024, 1, 2) + dt.timedelta(days=7 * i)
        due = issue + dt.timedelta(days=30)
        customer = ["Amy's Bird Sanctuary", "Freeman Sporting Goods:0969 Ocean View Road", "Cool Cars"][i % 3]
        amount = f'"1,{100 + i}.50"'
        lines.append(
            f",{issue:%m/%d/%Y},{1001 + i},{customer},,{due:%m/%d/%Y},{amount},{amount if i > 20 else '0.00'}"
        )
    lines += ["", "", "Thursday, Dec 04, 2024 09:12:44 AM GMT-08:00"]
    export = tmp_path / "invoice_list.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    draft = suggest_source(export)
    assert draft.mapping == {
        "debtor_id": "Customer",
        "due_date": "Due date",
        "issue_date": "Date",
        "amount": "Amount",
        "invoice_id": "No.",
    }
    manifest = _drafted(tmp_path, draft.text, dt.date(2024, 12, 4)).manifest
    entry = manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"]) == (25, 24)  # the time stamp line: malformed_row
    found = [w for w in manifest["warnings"] if "no payments table" in w]
    assert len(found) == 1 and "24 invoices accepted" in found[0] and "'Open balance' is ignored" in found[0]
    # with a payments table (even one payment), nothing is said
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        + "".join(f"I{i},D{i % 3},2024-01-{i + 1:02d},2024-02-{i + 1:02d},100\n" for i in range(24))
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D0,I0,2024-01-20,100\n"
    )
    assert not _files(tmp_path, ("invoices", "payments"), dt.date(2024, 12, 4)).manifest["warnings"]


BC_HEADER = (
    "Posting Date,Document Type,Document No.,Customer No.,Customer Name,Description,Original Amount,"
    "Amount,Remaining Amount,Due Date,Open,Closed at Date,Entry No.\n"
)


def _bc_ledger(with_payments: bool) -> str:
    """Dynamics 365 Business Central's Customer Ledger Entries, opened in Excel and saved as CSV
    (US dates, "4,386.49"), with 'Closed at Date' added to the page: 21 invoices of 3 customers, 14
    paid (a payment entry each, negative), 1 credit memo per customer (negative)."""
    rows = []
    for i in range(21):
        issue = dt.date(2024, 9, 2) + dt.timedelta(days=3 * i)
        due, paid = issue + dt.timedelta(days=30), issue + dt.timedelta(days=25)
        num, who = f"1,{100 + i}.00", f"C{i % 3},Cust {i % 3}"
        closed, rest, open_ = (f"{paid:%m/%d/%Y}", "0.00", "No") if i < 14 else ("", f'"{num}"', "Yes")
        rows.append(
            f'{issue:%m/%d/%Y},Invoice,1030{i:02d},{who},Invoice,"{num}","{num}",{rest},{due:%m/%d/%Y},{open_},{closed},{2 * i}\n'
        )
        if with_payments and i < 14:
            rows.append(
                f'{paid:%m/%d/%Y},Payment,G0{i:02d},{who},Payment,"-{num}","-{num}",0.00,{paid:%m/%d/%Y},No,'
                f"{paid:%m/%d/%Y},{2 * i + 1}\n"
            )
    if with_payments:
        rows += [
            f"11/20/2024,Credit Memo,CM{k},C{k},Cust {k},Credit,-50.00,-50.00,-50.00,11/20/2024,Yes,,{90 + k}\n"
            for k in range(3)
        ]
    return BC_HEADER + "".join(rows)


def test_a_customer_ledger_of_several_document_types_is_named_and_its_invoices_settle(tmp_path: Path) -> None:
    """Business Central's Customer Ledger Entries as exported hold invoices, payments and credit memos
    in one list. Before: drafted as invoices with no word, ingest read every row as an invoice (the
    14 payments and 3 credit memos quarantined amount_not_positive, warned as credit notes) and none
    of the 21 invoices was paid: all open. Now the draft says the column mixes document types and
    what to export; 'Closed at Date' is read as the settlement, so the invoice rows alone make an
    ar_export whose 14 paid invoices settle: invoices 21 = 21 + 0, payments 14 derived."""
    from pipelines.sources.suggest import suggest_source

    mixed = tmp_path / "cle_all.csv"
    mixed.write_text(_bc_ledger(with_payments=True), encoding="utf-8")
    draft = suggest_source(mixed)
    # s15: the draft keeps the invoice rows itself (a row filter) instead of a CHECK
    assert "# column 'Document Type' mixes document types (Credit Memo, Invoice, Payment)" in draft.text
    assert 'rows: {keep: {column: "Document Type", values: ["Invoice"]}}' in draft.text
    mixed_manifest = _drafted(tmp_path, draft.text, dt.date(2024, 12, 4)).manifest
    assert mixed_manifest["tables"]["invoices"]["filtered"] == {
        "Document Type: Credit Memo": 3,
        "Document Type: Payment": 14,
    }
    assert mixed_manifest["tables"]["payments"]["rows_accepted"] == 14
    invoices_only = tmp_path / "cle_invoices.csv"
    invoices_only.write_text(_bc_ledger(with_payments=False), encoding="utf-8")
    draft = suggest_source(invoices_only)
    assert draft.kind == "ar_export" and 'settled_on: "Closed at Date"' in draft.text
    assert "mixes document types" not in draft.text  # one type: nothing to say
    manifest = _drafted(tmp_path, draft.text, dt.date(2024, 12, 4)).manifest
    inv, pay = manifest["tables"]["invoices"], manifest["tables"]["payments"]
    assert (inv["rows_in"], inv["rows_accepted"], pay["rows_accepted"]) == (21, 21, 14)
    assert manifest["ar_export"]["open"] == 7


def test_an_excel_saved_csv_with_serial_dates_is_drafted_and_read(tmp_path: Path) -> None:
    """A German Excel CSV as saved: UTF-8 BOM, ';', CRLF, '1.017,25', ids with leading zeros, the
    date columns formatted General (serials: 45321 = 2024-01-30) and a 'Summe' totals row. Before:
    the draft left issue_date and due_date '???' (the serials are numbers; `values.date_format:
    excel` existed for ingest only) and ingest refused the table. Now both are mapped by name with
    date_format excel; ingest 13 = 12 + 1 (the totals row), dates and zeros as in the sheet. A
    number column not named like a date (the amount) is never read as dates."""
    from pipelines.sources.suggest import suggest_source

    rows = ["Rechnungsnr;Kunde;Belegdatum;Fällig;Betrag"]
    for i in range(12):
        rows.append(f"R{i + 1:04d};{i % 3 + 1:07d};{45321 + 2 * i};{45351 + 2 * i};1.{17 * i:03d},25")
    rows.append("Summe;;;;12.345,00")
    export = tmp_path / "rechnungen.csv"
    export.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    draft = suggest_source(export)
    assert "date_format: excel" in draft.text
    assert draft.mapping == {
        "debtor_id": "Kunde",
        "due_date": "Fällig",
        "issue_date": "Belegdatum",
        "amount": "Betrag",
        "invoice_id": "Rechnungsnr",
    }
    result = _drafted(tmp_path, draft.text, dt.date(2024, 12, 4))
    entry = result.manifest["tables"]["invoices"]
    assert (entry["rows_in"], entry["rows_accepted"], entry["rows_quarantined"]) == (13, 12, 1)
    first = result.portfolio.invoices.sort_values("invoice_id").iloc[0]
    assert (first["debtor_id"], first["issue_date"], first["due_date"], first["amount"]) == (
        "0000001",
        pd.Timestamp("2024-01-30"),
        pd.Timestamp("2024-02-29"),
        1000.25,
    )


def test_a_report_grouped_by_customer_is_named_in_the_draft(tmp_path: Path) -> None:
    """Xero's Aged Receivables Detail as exported: 4 title lines, the contact on a row of its own
    above its invoices, one column per ageing bucket, a 'Total <contact>' row. Before: drafted with
    debtor_id 'Invoice Date' (the column the contact rows fill) and issue_date '???', no word on why;
    ingest then refused the table. Now the draft says the report is grouped by customer and what to
    export instead."""
    from pipelines.sources.suggest import suggest_source

    lines = ["Aged Receivables Detail", "Demo Company (UK)", "As at 30 November 2024", ""]
    lines.append("Invoice Date,Invoice Number,Invoice Reference,Due Date,Current,1 Month,Older,Total")
    for k, contact in enumerate(["Acme Ltd", "Beta Trading", "Carbon & Sons"]):
        lines.append(contact)
        lines += [f"0{i + 1} Oct 2024,INV-{k}{i},PO {i},0{i + 1} Nov 2024,,100.00,,100.00" for i in range(2)]
        lines += [f"Total {contact},,,,,200.00,,200.00", ""]
    export = tmp_path / "aged.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = suggest_source(export).text
    # s15: the draft fills the contact down into a column of its own (test_hostile_s15)
    assert "# the report is grouped by customer ('Acme Ltd', 'Beta Trading', 'Carbon & Sons' on rows" in text
    assert 'fill_down: [{column: "Invoice Date", into: "Customer"}]' in text


def test_a_payment_feed_a_day_behind_the_invoice_feed_is_named() -> None:
    """The 120-debtor base book (`ews generate --debtors 120 --months 24 --seed 21`) with its
    payments cut a day before its invoices: 12 payments missing, 12 debtors' open balance higher (up
    to 18,335.52), 7 up to 14 more days past due, and before, no word (the feed checks' ratios barely
    move). Hand-made per-day counts: invoices 10 a day to 2024-12-31; payments 8 a day to 12-30 (8 >
    7 expected in the missing day: warned); 2 a day (2 expected: a quiet day, not warned) unless 4
    days are missing (8 > 7); the invoices behind the payments likewise; rows after the export's end
    (mistyped dates) do not count."""
    from pipelines.ingest.staged import feed_lag

    end = dt.date(2024, 12, 31)

    def daily(n: int, last: dt.date) -> dict[dt.date, int]:
        return {last - dt.timedelta(days=k): n for k in range(120)}

    (warning,) = feed_lag({"invoices": daily(10, end), "payments": daily(8, end - dt.timedelta(days=1))})
    assert warning.startswith(
        "payments: the latest payment is dated 2024-12-30, 1 day before the latest of the invoices "
        "(2024-12-31), while the book has 8.0 payments a day: the payments feed looks 1 day behind. "
        "Invoices paid since then look unpaid"
    )
    assert feed_lag({"invoices": daily(10, end), "payments": daily(2, end - dt.timedelta(days=1))}) == []
    assert len(feed_lag({"invoices": daily(10, end), "payments": daily(2, end - dt.timedelta(days=4))})) == 1
    (warning,) = feed_lag({"invoices": daily(10, end - dt.timedelta(days=1)), "payments": daily(8, end)})
    assert warning.startswith("invoices: the latest invoice is dated 2024-12-30, 1 day before")
    typo = {**daily(10, end - dt.timedelta(days=1)), dt.date(2026, 11, 30): 1}
    assert feed_lag({"invoices": typo, "payments": daily(8, end - dt.timedelta(days=1))}, end) == []
    assert feed_lag({"invoices": daily(10, end), "payments": daily(8, end)}) == []
    # payments booked Monday to Friday only (10 a working day: 7.1 a day on average), invoices to
    # Sunday 2024-12-29, payments to Friday 12-27: none expected on the weekend, not warned (by the
    # average pace, 14.3 > 7, it was); with Monday 12-30 missing too, 10 expected: warned
    workdays = {d: n for d, n in daily(10, dt.date(2024, 12, 27)).items() if d.weekday() < 5}
    assert feed_lag({"invoices": daily(10, dt.date(2024, 12, 29)), "payments": workdays}) == []
    (warning,) = feed_lag({"invoices": daily(10, dt.date(2024, 12, 30)), "payments": workdays})
    assert warning.startswith("payments: the latest payment is dated 2024-12-27, 3 days before")


def test_ingest_warns_about_a_payment_feed_a_day_behind(tmp_path: Path) -> None:
    """The warning reaches the manifest (both ingest paths run staged_checks): 300 invoices, 3 a day to
    2024-04-09, each paid 10 days after issue up to 2024-04-08 (the feed of 04-09 not sent: 3 a day,
    1 day missing: not warned by pace alone, 3 <= 7) and the same with the last 3 days missing (9 > 7)."""
    lines = [
        f"I{i},D{i % 7},{START + dt.timedelta(days=i // 3)},{START + dt.timedelta(days=i // 3 + 30)},100\n"
        for i in range(300)
    ]
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n" + "".join(lines)
    )

    def warned(cut: dt.date) -> list[str]:
        pays = [f"P{i},D{i % 7},I{i},{START + dt.timedelta(days=i // 3 + 10)},100\n" for i in range(300)]
        pays = [p for p in pays if dt.date.fromisoformat(p.split(",")[3]) <= cut]
        (tmp_path / "payments.csv").write_text(
            "payment_id,debtor_id,invoice_id,paid_on,amount\n" + "".join(pays)
        )
        manifest = _files(tmp_path, ("invoices", "payments"), LAST, tmp_path / "out").manifest
        return [w for w in manifest["warnings"] if "feed looks" in w]

    assert warned(LAST - dt.timedelta(days=1)) == []
    (warning,) = warned(LAST - dt.timedelta(days=3))
    assert warning.startswith(
        "payments: the latest payment is dated 2024-04-06, 3 days before the latest of the invoices (2024-04-09)"
    )


def test_a_payment_sent_again_corrected_is_named(tmp_path: Path) -> None:
    """A daily feed that sends yesterday's payment again with a corrected amount (P2: 100 then 90, one
    payment_id). Exact copies of yesterday's rows are harmless (duplicate_row, the first kept: on the
    120-debtor book the buckets were byte-identical); a corrected copy quarantines both (duplicate_id),
    so I2 looks unpaid: before, without a word. Rows in 3 = 1 + 2, now with a warning saying why."""
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\nI1,D1,2024-01-05,2024-02-04,100\nI2,D1,2024-01-06,2024-02-05,100\n"
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\n"
        "P1,D1,I1,2024-01-20,100\nP2,D1,I2,2024-01-21,100\nP2,D1,I2,2024-01-21,90\n"
    )
    manifest = _files(tmp_path, ("invoices", "payments"), dt.date(2024, 3, 31)).manifest
    pay = manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["reasons"]) == (3, 1, {"duplicate_id:payment_id": 2})
    (warning,) = [w for w in manifest["warnings"] if "duplicate_id" in w]
    assert warning.startswith(
        "payments: 2 rows sharing a payment_id with another row of other values (duplicate_id:payment_id): "
        "every copy is quarantined and those payments do not count, so the invoices they paid look unpaid."
    )
