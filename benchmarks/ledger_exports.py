"""Write a generated book (``ews generate --format csv``) as a customer ledger an ERP exports, and
check an ingest of it against the book.

Layouts (built from the vendors' documentation, not exported from the systems):

- ``fbl5n-en`` / ``fbl5n-de`` / ``fbl5n-short``: SAP FBL5N (customer line items, all items)
  saved as a spreadsheet: tab-delimited cp1252 text, ``31.12.2024`` dates, ``1.234,56`` amounts
  with SAP's trailing minus (``1.234,56-``). Invoices are RV, payments DZ, credit memos DG; an
  invoice paid in full is cleared by its last payment (``Clearing Document`` = that DZ, on the
  invoice and on every payment of it) or, when a credit memo settles it last, by an AB clearing
  document of its own (F-32: no line item of its own). Part payments of an invoice still open and
  payments on account are open items (no clearing). ``-short`` uses the short column headings of
  the classic list.
- ``bc``: Business Central's Customer Ledger Entries exported to Excel and saved as CSV
  (``Entry No.``, ``Posting Date``, ``Document Type`` Invoice / Payment / Credit Memo, ``Document
  No.``, ``Customer No.``, ``Due Date``, ``Amount``, ``Remaining Amount``, ``Open``,
  ``Applies-to Doc. No.``, ``Closed at Date``), US dates, ``1,234.56``, payments negative.

``--check DIR`` compares an ingested folder with the book: the invoices (id, debtor, dates,
amount), the sums of the payments, and each invoice's paid amount.

    python benchmarks/ledger_exports.py --book data/synth --layout fbl5n-en --out fbl5n.txt
    python benchmarks/ledger_exports.py --book data/synth --layout fbl5n-en --check data/ingested
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HEADERS = {
    "fbl5n-en": [
        "Account",
        "Assignment",
        "Document Number",
        "Document Type",
        "Document Date",
        "Posting Date",
        "Net due date",
        "Amount in local currency",
        "Local Currency",
        "Clearing Document",
        "Clearing date",
        "Text",
    ],
    "fbl5n-de": [
        "Konto",
        "Zuordnung",
        "Belegnummer",
        "Belegart",
        "Belegdatum",
        "Buchungsdatum",
        "Nettofälligkeit",
        "Betrag in Hauswährung",
        "Hauswährung",
        "Ausgleichsbeleg",
        "Ausgleichsdatum",
        "Text",
    ],
    "fbl5n-short": [
        "Account",
        "Assignment",
        "DocumentNo",
        "Typ",
        "Doc. Date",
        "Pstng Date",
        "Net due dt",
        "Amount in LC",
        "LCurr",
        "Clrng doc.",
        "Clearing",
        "Text",
    ],
}
TEXTS = {
    "fbl5n-de": ("Überweisung", "Gutschrift", "Storno Rücklastschrift"),
    "fbl5n-en": ("Incoming payment", "Credit memo", "Reversal: returned direct debit"),
}


def sap_amount(x: float) -> str:
    """1234.5 -> '1.234,50'; -1234.5 -> '1.234,50-' (SAP's trailing minus)."""
    s = f"{abs(x):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return s + "-" if x < 0 else s


def sap_date(d) -> str:
    return "" if pd.isna(d) else pd.Timestamp(d).strftime("%d.%m.%Y")


def read_book(book: Path):
    inv = pd.read_csv(book / "invoices.csv", dtype={"invoice_id": str, "debtor_id": str})
    pay = pd.read_csv(book / "payments.csv", dtype={"payment_id": str, "debtor_id": str, "invoice_id": str})
    for c in ("issue_date", "due_date"):
        inv[c] = pd.to_datetime(inv[c])
    pay["paid_on"] = pd.to_datetime(pay["paid_on"])
    if "kind" not in pay:
        pay["kind"] = "cash"
    return inv, pay


def bounced(inv: pd.DataFrame, pay: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Returned direct debits: for ``share`` of the invoices paid by one DZ, a first DZ of the same
    amount 14 days before it, reversed (FB08) 7 days later by an AB document that clears it; the
    invoice's own clearing is the later DZ's, as in the book. Neither row is cash."""
    cols = [
        "ref",
        "account",
        "assignment",
        "doc",
        "type",
        "doc_date",
        "post_date",
        "due",
        "amount",
        "clear_doc",
        "clear_date",
        "kind",
    ]
    if share <= 0:
        return pd.DataFrame(columns=cols)
    one = pay[pay["type"].eq("DZ") & pay["clear_doc"].eq(pay["doc"])]
    one = one[one.groupby("invoice_id")["doc"].transform("size").eq(1)]
    issue = one["invoice_id"].map(dict(zip(inv["invoice_id"], inv["issue_date"], strict=True)))
    one = one[(one["paid_on"] - pd.Timedelta(days=14)) >= issue]
    pick = one.sample(frac=share, random_state=seed).sort_values(["paid_on", "doc"], kind="stable")
    n = len(pick)
    first = pick["paid_on"] - pd.Timedelta(days=14)
    back = pick["paid_on"] - pd.Timedelta(days=7)
    dz = [str(1400900001 + k) for k in range(n)]
    ab = [str(100500001 + k) for k in range(n)]
    acct = pick["debtor_id"].map(account).to_numpy()
    rows_dz = pd.DataFrame(
        {
            "account": acct,
            "assignment": first.dt.strftime("%Y%m%d").to_numpy(),
            "doc": dz,
            "type": "DZ",
            "doc_date": first.to_numpy(),
            "post_date": first.to_numpy(),
            "due": first.to_numpy(),
            "amount": -pick["amount"].to_numpy(),
            "clear_doc": ab,
            "clear_date": back.to_numpy(),
            "kind": "bounced",
        }
    )
    rows_ab = pd.DataFrame(
        {
            "account": acct,
            "assignment": dz,
            "doc": ab,
            "type": "AB",
            "doc_date": back.to_numpy(),
            "post_date": back.to_numpy(),
            "due": back.to_numpy(),
            "amount": pick["amount"].to_numpy(),
            "clear_doc": ab,
            "clear_date": back.to_numpy(),
            "kind": "reversal",
        }
    )
    return pd.concat([rows_dz, rows_ab], ignore_index=True).reindex(columns=cols, fill_value="")


def ledger(inv: pd.DataFrame, pay: pd.DataFrame, bounce: float = 0.0, seed: int = 24) -> pd.DataFrame:
    """One row per document, in SAP terms (RV, DZ, DG), with the clearing of each."""
    inv = inv.sort_values(["issue_date", "invoice_id"], kind="stable").reset_index(drop=True)
    inv["doc"] = [str(90000001 + k) for k in range(len(inv))]
    pay = pay.sort_values(["paid_on", "payment_id"], kind="stable").reset_index(drop=True)
    cash = pay["kind"].eq("cash")
    pay["doc"] = ""
    pay.loc[cash, "doc"] = [str(1400000001 + k) for k in range(int(cash.sum()))]
    pay.loc[~cash, "doc"] = [str(1600000001 + k) for k in range(int((~cash).sum()))]
    pay["type"] = np.where(cash, "DZ", "DG")
    inv_doc = dict(zip(inv["invoice_id"], inv["doc"], strict=True))
    on = pay[pay["invoice_id"].notna()].sort_values(["invoice_id", "paid_on", "doc"], kind="stable")
    total = on.groupby("invoice_id")["amount"].sum()
    last = on.groupby("invoice_id").tail(1).set_index("invoice_id")
    full = total.index[total.values >= inv.set_index("invoice_id").loc[total.index, "amount"].values - 0.005]
    last = last.loc[full]  # part paid: the invoice and its payments stay open items
    by_memo = last["type"].ne("DZ")  # settled last by a credit memo: cleared by hand (F-32), an AB
    doc = last["doc"].copy()
    doc[by_memo] = [str(100000001 + k) for k in range(int(by_memo.sum()))]
    pay["clear_doc"] = pay["invoice_id"].map(doc).fillna("")
    pay["clear_date"] = pay["invoice_id"].map(last["paid_on"])
    inv["clear_doc"] = inv["invoice_id"].map(doc).fillna("")
    inv["clear_date"] = inv["invoice_id"].map(last["paid_on"])
    rows_inv = pd.DataFrame(
        {
            "account": inv["debtor_id"].map(account),
            "assignment": [f"{k + 4711:010d}" for k in range(len(inv))],
            "doc": inv["doc"],
            "type": "RV",
            "doc_date": inv["issue_date"],
            "post_date": inv["issue_date"],
            "due": inv["due_date"],
            "amount": inv["amount"],
            "clear_doc": inv["clear_doc"],
            "clear_date": inv["clear_date"],
            "kind": "invoice",
            "ref": "",
        }
    )
    rows_pay = pd.DataFrame(
        {
            "account": pay["debtor_id"].map(account),
            "assignment": np.where(
                pay["type"].eq("DZ"),
                pay["paid_on"].dt.strftime("%Y%m%d"),
                pay["invoice_id"].map(inv_doc).fillna(""),
            ),
            "doc": pay["doc"],
            "type": pay["type"],
            "doc_date": pay["paid_on"],
            "post_date": pay["paid_on"],
            "due": pay["paid_on"],
            "amount": -pay["amount"],
            "clear_doc": pay["clear_doc"],
            "clear_date": pay["clear_date"],
            "kind": pay["kind"],
            "ref": pay["invoice_id"].map(inv_doc).fillna(""),
        }
    )
    out = pd.concat([rows_inv, rows_pay, bounced(inv, pay, bounce, seed)], ignore_index=True)
    return out.sort_values(["account", "post_date", "doc"], kind="stable").reset_index(drop=True)


def account(debtor_id: str) -> str:
    return str(100000 + int(debtor_id.lstrip("D")))


def write_fbl5n(led: pd.DataFrame, layout: str, out: Path, reference: bool = False) -> None:
    texts = TEXTS.get(layout, TEXTS["fbl5n-en"])
    with open(out, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(HEADERS[layout] + (["Invoice reference"] if reference else []))
        for r in led.itertuples(index=False):
            text = {"DZ": texts[0], "DG": texts[1], "AB": texts[2]}.get(r.type, "")
            w.writerow(
                [
                    r.account,
                    r.assignment,
                    r.doc,
                    r.type,
                    sap_date(r.doc_date),
                    sap_date(r.post_date),
                    sap_date(r.due),
                    sap_amount(r.amount),
                    "EUR",
                    r.clear_doc,
                    sap_date(r.clear_date),
                    text,
                ]
                + ([r.ref] if reference else [])
            )


def write_bc(inv: pd.DataFrame, pay: pd.DataFrame, out: Path) -> int:
    """Business Central's Customer Ledger Entries as Excel shows them, saved as CSV (US): one entry per
    invoice, payment and credit memo; a payment or memo names its invoice in Applies-to Doc. No.;
    Remaining Amount and Open as of the last day of the book; Closed at Date on closed entries."""
    inv = inv.sort_values(["issue_date", "invoice_id"], kind="stable").reset_index(drop=True)
    inv["doc"] = [str(103001 + k) for k in range(len(inv))]
    doc = dict(zip(inv["invoice_id"], inv["doc"], strict=True))
    pay = pay.sort_values(["paid_on", "payment_id"], kind="stable").reset_index(drop=True)
    cash = pay["kind"].eq("cash")
    pay["doc"] = ""
    pay.loc[cash, "doc"] = [f"G{2001 + k:06d}" for k in range(int(cash.sum()))]
    pay.loc[~cash, "doc"] = [str(104001 + k) for k in range(int((~cash).sum()))]
    paid = pay.dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    last = pay.dropna(subset=["invoice_id"]).groupby("invoice_id")["paid_on"].max()
    remaining = (inv["amount"] - inv["invoice_id"].map(paid).fillna(0)).round(2).clip(lower=0)
    closed = remaining.le(0.005)
    rows = []
    for r, rem, c in zip(inv.itertuples(index=False), remaining, closed, strict=True):
        rows.append(
            (
                r.issue_date,
                "Invoice",
                r.doc,
                r.debtor_id,
                r.due_date,
                r.amount,
                rem,
                not c,
                last.get(r.invoice_id) if c else pd.NaT,
                "",
            )
        )
    for r in pay.itertuples(index=False):
        applied = isinstance(r.invoice_id, str)
        rows.append(
            (
                r.paid_on,
                "Payment" if r.kind == "cash" else "Credit Memo",
                r.doc,
                r.debtor_id,
                r.paid_on,
                -r.amount,
                0.0 if applied else -r.amount,
                not applied,
                r.paid_on if applied else pd.NaT,
                doc.get(r.invoice_id, "") if applied else "",
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=["post", "type", "doc", "cust", "due", "amount", "remaining", "open", "closed", "applies"],
    )
    frame = frame.sort_values(["post", "doc"], kind="stable").reset_index(drop=True)
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(
            [
                "Posting Date",
                "Document Type",
                "Document No.",
                "Customer No.",
                "Description",
                "Due Date",
                "Amount",
                "Remaining Amount",
                "Open",
                "Closed at Date",
                "Applies-to Doc. No.",
                "Entry No.",
            ]
        )
        for k, r in enumerate(frame.itertuples(index=False)):
            desc = {"Invoice": f"Invoice {r.doc}", "Payment": f"Payment {r.doc}"}.get(
                r.type, f"Credit Memo {r.doc}"
            )
            w.writerow(
                [
                    f"{r.post:%m/%d/%Y}",
                    r.type,
                    r.doc,
                    r.cust,
                    desc,
                    f"{r.due:%m/%d/%Y}",
                    f"{r.amount:,.2f}",
                    f"{r.remaining:,.2f}",
                    "Yes" if r.open else "No",
                    "" if pd.isna(r.closed) else f"{r.closed:%m/%d/%Y}",
                    r.applies,
                    1001 + k,
                ]
            )
    return len(frame)


def check(book: Path, folder: Path, layout: str = "fbl5n-en") -> int:
    from pipelines.adapters.files import read_portfolio

    inv, pay = read_book(book)
    port = read_portfolio(folder)
    got_inv, got_pay = port.invoices, port.payments
    inv_sorted = inv.sort_values(["issue_date", "invoice_id"], kind="stable").reset_index(drop=True)
    start = 103001 if layout == "bc" else 90000001
    inv_sorted["doc"] = [str(start + k) for k in range(len(inv_sorted))]
    cust = (lambda d: d) if layout == "bc" else account
    m = inv_sorted.merge(got_inv, left_on="doc", right_on="invoice_id", how="outer", indicator=True)
    bad = int((m["_merge"] != "both").sum())
    both = m[m["_merge"] == "both"]
    differ = int(
        (both["debtor_id_x"].map(cust) != both["debtor_id_y"].astype(str)).sum()
        + (both["issue_date_x"] != pd.to_datetime(both["issue_date_y"])).sum()
        + (both["due_date_x"] != pd.to_datetime(both["due_date_y"])).sum()
        + ((both["amount_x"] - both["amount_y"]).abs() > 0.005).sum()
    )
    print(
        f"invoices: book {len(inv):,} ({inv['amount'].sum():,.2f}), ingested {len(got_inv):,} "
        f"({got_inv['amount'].sum():,.2f}); unmatched {bad}, fields differing {differ}"
    )
    kinds = got_pay["kind"] if "kind" in got_pay else pd.Series("cash", index=got_pay.index)
    for k in ("cash", "credit"):
        print(
            f"payments {k}: book {int(pay['kind'].eq(k).sum()):,} "
            f"({pay.loc[pay['kind'].eq(k), 'amount'].sum():,.2f}), ingested rows "
            f"{int(kinds.eq(k).sum()):,} ({got_pay.loc[kinds.eq(k), 'amount'].sum():,.2f})"
        )
    want = pay.dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    want.index = want.index.map(dict(zip(inv_sorted["invoice_id"], inv_sorted["doc"], strict=True)))
    have = got_pay.dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    both_idx = want.index.union(have.index)
    d = (want.reindex(both_idx, fill_value=0) - have.reindex(both_idx, fill_value=0)).abs()
    print(
        f"per-invoice allocated sums: {int((d > 0.005).sum()):,} of {len(both_idx):,} invoices differ "
        f"(book allocated {want.sum():,.2f}, ingested allocated {have.sum():,.2f}, "
        f"ingested unallocated {got_pay.loc[got_pay['invoice_id'].isna(), 'amount'].sum():,.2f})"
    )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=Path, required=True, help="folder of ews generate --format csv")
    ap.add_argument("--layout", choices=[*HEADERS, "bc"], default="fbl5n-en")
    ap.add_argument("--out", type=Path, help="file to write")
    ap.add_argument("--check", type=Path, help="an ingested folder to compare with the book")
    ap.add_argument(
        "--bounced",
        type=float,
        default=0.0,
        help="share of invoices paid by one DZ that first got a returned direct debit "
        "(a DZ and the AB reversing it, 14 and 7 days before the payment)",
    )
    ap.add_argument("--seed", type=int, default=24, help="picks the bounced payments")
    ap.add_argument(
        "--invoice-reference",
        action="store_true",
        help="FBL5N: add the 'Invoice reference' column (REBZG: the invoice a DZ / DG was posted against)",
    )
    a = ap.parse_args(argv)
    if a.check:
        return check(a.book, a.check, a.layout)
    if not a.out:
        ap.error("--out or --check")
    inv, pay = read_book(a.book)
    if a.layout == "bc":
        n = write_bc(inv, pay, a.out)
        print(f"wrote {a.out}: {n:,} rows")
        return 0
    led = ledger(inv, pay, a.bounced, a.seed)
    write_fbl5n(led, a.layout, a.out, a.invoice_reference)
    print(f"wrote {a.out}: {len(led):,} rows ({led['type'].value_counts().to_dict()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
