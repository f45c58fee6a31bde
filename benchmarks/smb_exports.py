"""Write a generated book (``ews generate --format csv``) as the exports a small business's accountant
takes out of QuickBooks Online or Xero, and check an ingest of them against the book.

The layouts are SAMPLES BUILT FROM DOCUMENTATION (Intuit's report reference, the Xero CSV column
lists quoted in BENCHMARKS.md, session 25), not files exported from QuickBooks or Xero:

- ``qbo-tlc``: QuickBooks Online "Transaction List by Customer" exported to CSV: three title lines
  (company, report name, date range) and a blank line above the header; a nameless first column
  holding each customer's name on a row of its own above its transactions and ``Total for
  <customer>`` below them; a grand ``TOTAL`` row; ``Accrual Basis`` and a time stamp below the
  table. Columns ``Date, Transaction Type, Num, Posting, Memo/Description, Account, Due Date,
  Amount`` (Due Date added with Customize). Invoices, payments and credit memos; ``12/31/2024``
  dates; ``1,234.56`` amounts, negatives in parentheses ``(1,234.56)`` (the report's number
  format), totals with ``$``. A payment's ``Num`` is the customer's cheque number when one was
  typed, else empty; a payment applied to several invoices is one row (the report does not name
  the invoices). Some customer names carry a comma (``Company 0000007, Inc.``).
- ``qbo-irp``: QuickBooks Online "Invoices and Received Payments" (session 26), in the layout public
  parsers of its CSV read (Intuit's documentation of the layout was not found): title lines (report
  name, company, date range) and a blank line; ``,Date,Transaction type,Memo/Description,Transaction
  number,Amount``; each customer's name on a row of its own, no total rows; invoices and payments
  only (no credit memos), payments positive and without a number; a time stamp below the table. Each
  invoice is followed by the payments applied to it, as the report's name says (``--irp-order
  nested``), payments on account at the top of the customer's rows; or every row of a customer in
  date order (``--irp-order dated``: the order does not tell which invoice a payment paid).
- ``qbo-aging``: QuickBooks Online "A/R Aging Detail" at the book's last day: open invoices with
  their ``Open Balance`` (payments and credits applied oldest invoice first, as ews applies
  unallocated cash), grouped in the report's aging sections. Only for ``--check`` (what is open).
- ``xero-invoices``: Xero's Sales > Invoices export (one row per invoice line, the invoice's
  fields repeated: ``ContactName, EmailAddress, ..., InvoiceNumber, Reference, InvoiceDate,
  DueDate, Total, TaxTotal, InvoiceAmountPaid, InvoiceAmountDue, ..., LineAmount, AccountCode,
  TaxType, TaxAmount, ..., Currency, Type, Sent, Status``), ``31/12/2024`` dates; statuses
  ``PAID`` / ``AUTHORISED``, plus ``VOIDED`` and ``DRAFT`` invoices that are not receivables
  (never in the book), and the credit notes (``Type`` = ``Sales credit note``, ``CN-`` numbers).
- ``xero-payments``: the payments each invoice received (``Date, ContactName, InvoiceNumber,
  Reference, Amount, Account``; cash on account has no invoice number).
- ``xero-at``: Xero's Account Transactions report of the receivable account exported to CSV: three
  title lines and a blank line, ``Date, Source, Contact, Description, Reference, Debit, Credit,
  Running Balance`` (Contact added to the columns), the account's name on a row of its own,
  ``Total Accounts Receivable`` and ``Closing Balance`` rows; ``Receivable Invoice`` (debit, the
  invoice number in Reference), ``Receivable Payment`` and ``Receivable Credit Note`` (credit; a
  payment's Reference empty, a credit note's its own number); ``2 Jan 2023`` dates, ``1,234.56``.
  The payments name no invoice here.
- ``sage50``: Sage 50's customer activity as CSV (``No, Type, A/C, Name, Date, Ref, Details, Due,
  Amount, Paid, O/S``): Sage's transaction codes (SI invoice, SR receipt, SA payment on account,
  SC credit), ``31/12/2024`` dates, amounts positive; a receipt's Ref is the cheque number or empty
  (as ``qbo-tlc``'s Num); Paid / O/S as at the book's last day (oldest invoice first).

``--check DIR`` compares an ingested folder with the book: invoices (count, sum), cash and credit
(count, sum), and what each customer owes at the book's last day (invoiced less paid and
credited; the sum and how many customers differ).

    python benchmarks/smb_exports.py --book data/synth --layout qbo-tlc --out qbo_tlc.csv
    python benchmarks/smb_exports.py --book data/synth --layout qbo-tlc --check data/ingested
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd

COMPANY = "Craig's Design and Landscaping Services"


def read_book(book: Path):
    inv = pd.read_csv(book / "invoices.csv", dtype={"invoice_id": str, "debtor_id": str})
    pay = pd.read_csv(book / "payments.csv", dtype={"payment_id": str, "debtor_id": str, "invoice_id": str})
    for c in ("issue_date", "due_date"):
        inv[c] = pd.to_datetime(inv[c])
    pay["paid_on"] = pd.to_datetime(pay["paid_on"])
    if "kind" not in pay:
        pay["kind"] = "cash"
    inv = inv.sort_values(["issue_date", "invoice_id"], kind="stable").reset_index(drop=True)
    pay = pay.sort_values(["paid_on", "payment_id"], kind="stable").reset_index(drop=True)
    return inv, pay


def name(debtor_id: str) -> str:
    """The customer's display name: every 7th carries a comma, every 11th an ampersand."""
    n = int(debtor_id.lstrip("D"))
    base = f"Company {n:07d}"
    if n % 7 == 0:
        return base + ", Inc."
    if n % 11 == 0:
        return base.replace("Company", "Smith & Sons")
    return base


def money(x: float, paren: bool = True) -> str:
    s = f"{abs(x):,.2f}"
    return f"({s})" if x < 0 and paren else ("-" + s if x < 0 else s)


def numbering(inv: pd.DataFrame, pay: pd.DataFrame):
    """Invoice and credit memo numbers share one sequence (QuickBooks' sales forms), by date."""
    docs = pd.concat(
        [
            pd.DataFrame({"key": "I" + inv["invoice_id"], "date": inv["issue_date"]}),
            pd.DataFrame(
                {
                    "key": "P" + pay.loc[pay["kind"].eq("credit"), "payment_id"],
                    "date": pay.loc[pay["kind"].eq("credit"), "paid_on"],
                }
            ),
        ]
    ).sort_values(["date", "key"], kind="stable")
    return dict(zip(docs["key"], (str(1001 + k) for k in range(len(docs))), strict=True))


def cheque_numbers(pay: pd.DataFrame, seed: int) -> pd.Series:
    """A third of the cash payments carry the customer's cheque number (each customer's own run from
    1001: two customers' cheques can share a number); the others have an empty Num."""
    rng = np.random.default_rng(seed)
    typed = pay["kind"].eq("cash") & (rng.random(len(pay)) < 1 / 3)
    out = pd.Series("", index=pay.index)
    run = pay.loc[typed].groupby("debtor_id").cumcount() + 1001
    out.loc[typed] = run.astype(str)
    return out


def write_qbo_tlc(inv, pay, out: Path, seed: int) -> int:
    num = numbering(inv, pay)
    chq = cheque_numbers(pay, seed)
    rows = []
    for r in inv.itertuples(index=False):
        rows.append(
            (r.debtor_id, r.issue_date, 0, "Invoice", num["I" + r.invoice_id], r.due_date, r.amount, "")
        )
    for r, c in zip(pay.itertuples(index=False), chq, strict=True):
        if r.kind == "credit":
            rows.append(
                (
                    r.debtor_id,
                    r.paid_on,
                    1,
                    "Credit Memo",
                    num["P" + r.payment_id],
                    pd.NaT,
                    -r.amount,
                    "Credit",
                )
            )
        else:
            rows.append((r.debtor_id, r.paid_on, 2, "Payment", c, pd.NaT, -r.amount, ""))
    f = pd.DataFrame(rows, columns=["d", "date", "o", "type", "num", "due", "amount", "memo"])
    f["name"] = f["d"].map(name)
    f = f.sort_values(["name", "date", "o", "num"], kind="stable")
    first, last = inv["issue_date"].min(), max(inv["issue_date"].max(), pay["paid_on"].max())
    n = 0
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([COMPANY])
        w.writerow(["Transaction List by Customer"])
        w.writerow([f"{first:%B} {first.day}, {first.year} - {last:%B} {last.day}, {last.year}"])
        w.writerow([])
        w.writerow(
            [
                "",
                "Date",
                "Transaction Type",
                "Num",
                "Posting",
                "Memo/Description",
                "Account",
                "Due Date",
                "Amount",
            ]
        )
        for cust, g in f.groupby("name", sort=False):
            w.writerow([cust, "", "", "", "", "", "", "", ""])
            for r in g.itertuples(index=False):
                w.writerow(
                    [
                        "",
                        f"{r.date:%m/%d/%Y}",
                        r.type,
                        r.num,
                        "Yes",
                        r.memo,
                        "Accounts Receivable (A/R)",
                        "" if pd.isna(r.due) else f"{r.due:%m/%d/%Y}",
                        money(r.amount),
                    ]
                )
                n += 1
            tot = g["amount"].sum()
            w.writerow([f"Total for {cust}", "", "", "", "", "", "", "", "$" + money(round(tot, 2))])
        w.writerow(["TOTAL", "", "", "", "", "", "", "", "$" + money(round(f["amount"].sum(), 2))])
        w.writerow([])
        w.writerow([])
        w.writerow(["Accrual Basis Saturday, December 5, 2026  09:15 AM GMT-08:00"])
    return n


def write_qbo_irp(inv, pay, out: Path, order: str = "nested") -> int:
    """QuickBooks Online's Invoices and Received Payments (see the module docstring)."""
    num = numbering(inv, pay)
    cash = pay[pay["kind"].eq("cash")]
    rows = []  # (customer name, group key, date, order within, type, number, amount)
    for k, r in enumerate(inv.itertuples(index=False)):
        rows.append(
            (
                name(r.debtor_id),
                r.invoice_id,
                r.issue_date,
                0,
                k,
                "Invoice",
                num["I" + r.invoice_id],
                r.amount,
            )
        )
    for k, r in enumerate(cash.itertuples(index=False)):
        on = r.invoice_id if isinstance(r.invoice_id, str) and r.invoice_id else ""
        rows.append((name(r.debtor_id), on, r.paid_on, 1, k, "Payment", "", r.amount))
    f = pd.DataFrame(rows, columns=["name", "inv", "date", "o", "k", "type", "num", "amount"])
    if order == "nested":  # each invoice, then its payments; payments on account first
        first = f[f["type"].eq("Invoice")].set_index("inv")["date"]
        f["key"] = f["inv"].map(first)
        f["top"] = f["inv"].eq("").astype(int)
        f = f.sort_values(
            ["name", "top", "key", "inv", "o", "date", "k"],
            ascending=[True, False, True, True, True, True, True],
            kind="stable",
        )
    else:
        f = f.sort_values(["name", "date", "o", "k"], kind="stable")
    first_day, last_day = inv["issue_date"].min(), max(inv["issue_date"].max(), pay["paid_on"].max())
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Invoices and Received Payments"])
        w.writerow([COMPANY])
        w.writerow(
            [
                f"{first_day:%B} {first_day.day}, {first_day.year} - {last_day:%B} {last_day.day}, {last_day.year}"
            ]
        )
        w.writerow([])
        w.writerow(["", "Date", "Transaction type", "Memo/Description", "Transaction number", "Amount"])
        for cust, g in f.groupby("name", sort=False):
            w.writerow([cust, "", "", "", "", ""])
            for r in g.itertuples(index=False):
                memo = "Services" if r.type == "Invoice" else ""
                w.writerow(["", f"{r.date:%m/%d/%Y}", r.type, memo, r.num, money(r.amount)])
        w.writerow([])
        w.writerow([])
        w.writerow([])
        w.writerow(["Saturday, December 5, 2026  09:15 AM GMT-08:00"])
    return len(f)


def open_items(inv, pay, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each invoice's open balance at as_of, every payment and credit applied oldest invoice first per
    customer (what a ledger applying unallocated cash would show; per customer the sum is exact)."""
    inv = inv[inv["issue_date"] <= as_of]
    paid = pay[pay["paid_on"] <= as_of].groupby("debtor_id")["amount"].sum()
    out = []
    for d, g in inv.sort_values(["debtor_id", "due_date", "issue_date", "invoice_id"], kind="stable").groupby(
        "debtor_id"
    ):
        left = float(paid.get(d, 0.0))
        for r in g.itertuples(index=False):
            take = min(left, r.amount)
            left -= take
            o = round(r.amount - take, 2)
            if o > 0.005:
                out.append((d, r.invoice_id, r.issue_date, r.due_date, r.amount, o))
    return pd.DataFrame(out, columns=["debtor_id", "invoice_id", "issue_date", "due_date", "amount", "open"])


def write_qbo_aging(inv, pay, out: Path) -> int:
    as_of = max(inv["issue_date"].max(), pay["paid_on"].max())
    num = numbering(inv, pay)
    o = open_items(inv, pay, as_of)
    o["past"] = (as_of - o["due_date"]).dt.days
    bins = [
        (-(10**6), 0, "Current"),
        (1, 30, "1 - 30 days past due"),
        (31, 60, "31 - 60 days past due"),
        (61, 90, "61 - 90 days past due"),
        (91, 10**6, "91 or more days past due"),
    ]
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([COMPANY])
        w.writerow(["A/R Aging Detail"])
        w.writerow([f"As of {as_of:%B} {as_of.day}, {as_of.year}"])
        w.writerow([])
        w.writerow(
            [
                "",
                "Date",
                "Transaction Type",
                "Num",
                "Customer",
                "Due Date",
                "Past Due",
                "Amount",
                "Open Balance",
            ]
        )
        for lo, hi, label in bins:
            g = o[(o["past"] >= lo) & (o["past"] <= hi)].sort_values(
                ["due_date", "invoice_id"], kind="stable"
            )
            if g.empty:
                continue
            w.writerow([label] + [""] * 8)
            for r in g.itertuples(index=False):
                w.writerow(
                    [
                        "",
                        f"{r.issue_date:%m/%d/%Y}",
                        "Invoice",
                        num["I" + r.invoice_id],
                        name(r.debtor_id),
                        f"{r.due_date:%m/%d/%Y}",
                        max(r.past, 0),
                        money(r.amount),
                        money(r.open),
                    ]
                )
            w.writerow(
                [
                    f"Total for {label}",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "$" + money(g["amount"].sum()),
                    "$" + money(g["open"].sum()),
                ]
            )
        w.writerow(
            ["TOTAL", "", "", "", "", "", "", "$" + money(o["amount"].sum()), "$" + money(o["open"].sum())]
        )
        w.writerow([])
        w.writerow([])
        w.writerow(["Saturday, December 5, 2026  09:15 AM GMT-08:00"])
    return len(o)


XERO_HEAD = [
    "ContactName", "EmailAddress", "POAddressLine1", "POCity", "POPostalCode", "POCountry", "InvoiceNumber",
    "Reference", "InvoiceDate", "DueDate", "Total", "TaxTotal", "InvoiceAmountPaid", "InvoiceAmountDue",
    "InventoryItemCode", "Description", "Quantity", "UnitAmount", "Discount", "LineAmount", "AccountCode",
    "TaxType", "TaxAmount", "TrackingName1", "TrackingOption1", "Currency", "Type", "Sent", "Status",
]  # fmt: skip


def write_xero_invoices(inv, pay, out: Path, seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    as_of = max(inv["issue_date"].max(), pay["paid_on"].max())
    paid = pay[pay["kind"].eq("cash")].dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    cred = pay[pay["kind"].eq("credit")].dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    recs = []
    for k, r in enumerate(inv.itertuples(index=False)):
        p = round(float(paid.get(r.invoice_id, 0.0)), 2)
        c = round(float(cred.get(r.invoice_id, 0.0)), 2)
        due = round(max(r.amount - p - c, 0.0), 2)
        recs.append(
            (
                r.debtor_id,
                f"INV-{k + 1:05d}",
                r.issue_date,
                r.due_date,
                r.amount,
                p,
                due,
                "Sales invoice",
                "PAID" if due <= 0.005 else "AUTHORISED",
                r.currency,
            )
        )
    memos = pay[pay["kind"].eq("credit")]
    for k, r in enumerate(memos.itertuples(index=False)):
        recs.append(
            (
                r.debtor_id,
                f"CN-{k + 1:05d}",
                r.paid_on,
                r.paid_on,
                r.amount,
                0.0,
                0.0,
                "Sales credit note",
                "PAID",
                "EUR",
            )
        )
    # invoices that are not receivables: voided after issue, and drafts never approved
    picks = inv.sample(n=max(len(inv) // 100, 2), random_state=seed)
    for k, r in enumerate(picks.itertuples(index=False)):
        st = "VOIDED" if k % 2 == 0 else "DRAFT"
        recs.append(
            (
                r.debtor_id,
                f"INV-V{k + 1:04d}" if st == "VOIDED" else "",
                r.issue_date,
                r.due_date,
                round(r.amount * 1.5, 2),
                0.0,
                0.0 if st == "VOIDED" else round(r.amount * 1.5, 2),
                "Sales invoice",
                st,
                r.currency,
            )
        )
    f = pd.DataFrame(
        recs, columns=["d", "num", "date", "due", "total", "paid", "owed", "type", "status", "cur"]
    )
    f = f[f["date"] <= as_of].sort_values(["date", "num"], kind="stable")
    n = 0
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(XERO_HEAD)
        for r in f.itertuples(index=False):
            lines = 1 + int(rng.integers(0, 3))
            cut = np.round(r.total * np.sort(rng.random(lines - 1)), 2)
            parts = np.diff(np.concatenate([[0.0], cut, [r.total]]))
            nm = name(r.d)
            for j, part in enumerate(parts):
                w.writerow(
                    [
                        nm, f"accounts@{r.d.lower()}.example", "1 Main Street", "Wellington", "6011", "NZ", r.num,
                        f"PO {r.d[-4:]}-{j}" if j == 0 else f"PO {r.d[-4:]}-0", f"{r.date:%d/%m/%Y}", f"{r.due:%d/%m/%Y}",
                        f"{r.total:.2f}", "0.00", f"{r.paid:.2f}", f"{r.owed:.2f}", "", f"Services line {j + 1}", "1.0000",
                        f"{part:.2f}", "", f"{part:.2f}", "200", "Tax Exempt", "0.00", "", "", r.cur, r.type,
                        "Sent" if r.status != "DRAFT" else "", r.status,
                    ]
                )  # fmt: skip
                n += 1
    return n, len(f)


def write_xero_payments(inv, pay, out: Path) -> int:
    num = {r.invoice_id: f"INV-{k + 1:05d}" for k, r in enumerate(inv.itertuples(index=False))}
    cash = pay[pay["kind"].eq("cash")]
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["Date", "ContactName", "InvoiceNumber", "Reference", "Amount", "Account"])
        for r in cash.itertuples(index=False):
            i = num.get(r.invoice_id, "") if isinstance(r.invoice_id, str) else ""
            w.writerow(
                [
                    f"{r.paid_on:%d/%m/%Y}",
                    name(r.debtor_id),
                    i,
                    "Direct credit" if i else "On account",
                    f"{r.amount:.2f}",
                    "090 - Business Bank Account",
                ]
            )
    return len(cash)


def write_xero_at(inv, pay, out: Path) -> int:
    num = {r.invoice_id: f"INV-{k + 1:05d}" for k, r in enumerate(inv.itertuples(index=False))}
    cn = {}
    for k, r in enumerate(pay[pay["kind"].eq("credit")].itertuples(index=False)):
        cn[r.payment_id] = f"CN-{k + 1:05d}"
    rows = [
        (r.issue_date, 0, "Receivable Invoice", r.debtor_id, "Services", num[r.invoice_id], r.amount, 0.0)
        for r in inv.itertuples(index=False)
    ]
    for r in pay.itertuples(index=False):
        if r.kind == "credit":
            rows.append(
                (
                    r.paid_on,
                    1,
                    "Receivable Credit Note",
                    r.debtor_id,
                    "Credit note",
                    cn[r.payment_id],
                    0.0,
                    r.amount,
                )
            )
        else:
            rows.append(
                (r.paid_on, 2, "Receivable Payment", r.debtor_id, "Payment received", "", 0.0, r.amount)
            )
    f = pd.DataFrame(rows, columns=["date", "o", "src", "d", "desc", "ref", "debit", "credit"]).sort_values(
        ["date", "o", "ref", "d"], kind="stable"
    )
    first, last = f["date"].min(), f["date"].max()
    bal = 0.0
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["Account Transactions"])
        w.writerow([COMPANY.replace("Services", "Ltd")])
        w.writerow([f"For the period {first.day} {first:%B %Y} to {last.day} {last:%B %Y}"])
        w.writerow([])
        w.writerow(
            ["Date", "Source", "Contact", "Description", "Reference", "Debit", "Credit", "Running Balance"]
        )
        w.writerow(["Accounts Receivable", "", "", "", "", "", "", ""])
        for r in f.itertuples(index=False):
            bal = round(bal + r.debit - r.credit, 2)
            w.writerow(
                [f"{r.date.day} {r.date:%b %Y}", r.src, name(r.d), r.desc, r.ref, f"{r.debit:,.2f}" if r.debit else "", f"{r.credit:,.2f}" if r.credit else "", f"{bal:,.2f}"]
            )  # fmt: skip
        w.writerow(
            [
                "Total Accounts Receivable",
                "",
                "",
                "",
                "",
                f"{f['debit'].sum():,.2f}",
                f"{f['credit'].sum():,.2f}",
                f"{bal:,.2f}",
            ]
        )
        w.writerow(["Closing Balance", "", "", "", "", "", "", f"{bal:,.2f}"])
    return len(f)


def write_sage50(inv, pay, out: Path, seed: int) -> int:
    as_of = max(inv["issue_date"].max(), pay["paid_on"].max())
    open_by = open_items(inv, pay, as_of).set_index("invoice_id")["open"]
    chq = cheque_numbers(pay, seed)
    rows = [
        (
            r.issue_date,
            0,
            "SI",
            r.debtor_id,
            str(1001 + k),
            "Services",
            r.due_date,
            r.amount,
            float(open_by.get(r.invoice_id, 0.0)),
        )
        for k, r in enumerate(inv.itertuples(index=False))
    ]
    n_cn = 0
    for r, c in zip(pay.itertuples(index=False), chq, strict=True):
        if r.kind == "credit":
            n_cn += 1
            rows.append((r.paid_on, 1, "SC", r.debtor_id, f"CN{n_cn}", "Credit", r.paid_on, r.amount, 0.0))
        else:
            kind = "SR" if isinstance(r.invoice_id, str) else "SA"
            rows.append(
                (r.paid_on, 2, kind, r.debtor_id, c, "Cheque" if c else "BACS", r.paid_on, r.amount, 0.0)
            )
    f = pd.DataFrame(rows, columns=["date", "o", "type", "d", "ref", "det", "due", "amount", "os"])
    f = f.sort_values(["date", "o", "d"], kind="stable").reset_index(drop=True)
    with open(out, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["No", "Type", "A/C", "Name", "Date", "Ref", "Details", "Due", "Amount", "Paid", "O/S"])
        for k, r in enumerate(f.itertuples(index=False)):
            acct = "C" + r.d.lstrip("D")[-5:]
            w.writerow(
                [k + 1, r.type, acct, name(r.d), f"{r.date:%d/%m/%Y}", r.ref, r.det, f"{r.due:%d/%m/%Y}", f"{r.amount:.2f}", f"{r.amount - r.os:.2f}", f"{r.os:.2f}"]
            )  # fmt: skip
    return len(f)


def check(book: Path, folder: Path) -> int:
    from pipelines.adapters.files import read_portfolio

    inv, pay = read_book(book)
    as_of = max(inv["issue_date"].max(), pay["paid_on"].max())
    port = read_portfolio(folder)
    gi, gp = port.invoices, port.payments
    print(
        f"invoices: book {len(inv):,} ({inv['amount'].sum():,.2f}), ingested {len(gi):,} ({gi['amount'].sum():,.2f})"
    )
    kinds = gp["kind"] if "kind" in gp else pd.Series("cash", index=gp.index)
    for k in ("cash", "credit"):
        b = pay["kind"].eq(k)
        print(
            f"payments {k}: book {int(b.sum()):,} ({pay.loc[b, 'amount'].sum():,.2f}), "
            f"ingested {int(kinds.eq(k).sum()):,} ({gp.loc[kinds.eq(k), 'amount'].sum():,.2f})"
        )
    names = {name(d): d for d in inv["debtor_id"].unique()}
    names |= {"C" + d.lstrip("D")[-5:]: d for d in inv["debtor_id"].unique()}  # sage50's account codes
    want = (
        inv.groupby("debtor_id")["amount"].sum().sub(pay.groupby("debtor_id")["amount"].sum(), fill_value=0)
    )
    have = gi.groupby("debtor_id")["amount"].sum().sub(gp.groupby("debtor_id")["amount"].sum(), fill_value=0)
    have.index = have.index.map(lambda x: names.get(x, x))
    idx = want.index.union(have.index)
    d = (want.reindex(idx, fill_value=0) - have.reindex(idx, fill_value=0)).abs()
    print(
        f"owed per customer at {as_of:%Y-%m-%d} (invoiced - paid - credited): book {want.sum():,.2f}, "
        f"ingested {have.sum():,.2f}; {int((d > 0.005).sum())} of {len(idx)} customers differ"
    )
    o = open_items(inv, pay, as_of)
    print(f"open items (A/R Aging Detail, oldest first): {len(o):,} invoices, {o['open'].sum():,.2f}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=Path, required=True, help="folder of ews generate --format csv")
    ap.add_argument(
        "--layout",
        choices=["qbo-tlc", "qbo-irp", "qbo-aging", "xero-invoices", "xero-payments", "xero-at", "sage50"],
        default="qbo-tlc",
    )
    ap.add_argument("--out", type=Path, help="file to write")
    ap.add_argument("--check", type=Path, help="an ingested folder to compare with the book")
    ap.add_argument(
        "--seed", type=int, default=25, help="cheque numbers, invoice lines, voided / draft picks"
    )
    ap.add_argument(
        "--irp-order",
        choices=["nested", "dated"],
        default="nested",
        help="qbo-irp: each invoice followed by its payments, or each customer's rows in date order",
    )
    a = ap.parse_args(argv)
    if a.check:
        return check(a.book, a.check)
    if not a.out:
        ap.error("--out or --check")
    inv, pay = read_book(a.book)
    if a.layout == "qbo-tlc":
        print(f"wrote {a.out}: {write_qbo_tlc(inv, pay, a.out, a.seed):,} transactions")
    elif a.layout == "qbo-irp":
        print(f"wrote {a.out}: {write_qbo_irp(inv, pay, a.out, a.irp_order):,} transactions")
    elif a.layout == "qbo-aging":
        print(f"wrote {a.out}: {write_qbo_aging(inv, pay, a.out):,} open invoices")
    elif a.layout == "xero-invoices":
        n, k = write_xero_invoices(inv, pay, a.out, a.seed)
        print(f"wrote {a.out}: {n:,} lines of {k:,} invoices and credit notes")
    elif a.layout == "sage50":
        print(f"wrote {a.out}: {write_sage50(inv, pay, a.out, a.seed):,} transactions")
    elif a.layout == "xero-at":
        print(f"wrote {a.out}: {write_xero_at(inv, pay, a.out):,} transactions")
    else:
        print(f"wrote {a.out}: {write_xero_payments(inv, pay, a.out):,} payments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
