"""Each invoice's open amount at an as-of date, as the features see it, in the book ingested as
canonical tables (payments on the invoices they paid) and in the ingests of its QuickBooks / Xero /
Sage 50 exports (benchmarks/smb_exports.py; cash on account applied oldest invoice first; session 26:
QuickBooks' Invoices and Received Payments read with listed_under, its payments on their invoices).

    python benchmarks/smb_per_invoice.py --book BOOK --canonical DIR qbo=DIR xero=DIR sage=DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smb_exports as sx

from features.ledger import day_number, ledger_state, prepare_ledger
from pipelines.adapters.files import read_portfolio


def state(port, as_of="2025-06-30"):
    led = prepare_ledger(port)
    st = ledger_state(led, int(day_number(pd.Timestamp(as_of))))
    rows = led.inv_row if st.inv_rows is None else led.inv_row[st.inv_rows]
    ids = port.invoices["invoice_id"].to_numpy()[rows]
    return pd.Series(np.round(st.inv_remaining, 2), index=ids.astype(str))


ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--book", type=Path, required=True, help="folder of ews generate --format csv")
ap.add_argument("--canonical", type=Path, required=True, help="the book ingested as canonical tables")
ap.add_argument("--as-of", default="2025-06-30")
ap.add_argument("ingests", nargs="+", help="LAYOUT=DIR, LAYOUT one of qbo, xero, sage")
a = ap.parse_args()
inv, pay = sx.read_book(a.book)
want = state(read_portfolio(a.canonical), a.as_of)
num = sx.numbering(inv, pay)
maps = {
    "qbo": {r.invoice_id: num["I" + r.invoice_id] for r in inv.itertuples()},
    "xero": {r.invoice_id: f"INV-{k + 1:05d}" for k, r in enumerate(inv.itertuples())},
    "sage": {r.invoice_id: str(1001 + k) for k, r in enumerate(inv.itertuples())},
}
for name, folder in (x.split("=", 1) for x in a.ingests):
    have = state(read_portfolio(Path(folder)), a.as_of)
    w = want.copy()
    w.index = w.index.map(maps[name])
    both = w.index.intersection(have.index)
    d = (w[both] - have[both]).abs()
    open_w, open_h = (w[both] > 0.005), (have[both] > 0.005)
    print(
        f"{name} ({folder}): {len(both):,} invoices; open amount differs on {int((d > 0.005).sum()):,}; open in the book and settled in the ingest {int((open_w & ~open_h).sum()):,}, the other way {int((~open_w & open_h).sum()):,}; open sum book {w[both].sum():,.2f} ingest {have[both].sum():,.2f}"
    )
