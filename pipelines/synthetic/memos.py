"""Credit memos in a generated book (``ews generate --credit-memos SHARE``).

A credit memo is a payments row with ``kind`` = credit (``features.schema.PAYMENT_KINDS``): it
reduces what is open but brings no cash (returns, price corrections). With ``SHARE`` > 0 a seeded
share of each chunk's invoices that the book shows fully paid, every payment allocated to them, gets
one memo, dated after the invoice is issued (uniform between the day after issue and the day before
its last cash payment, at least the day after issue):

- wholly credited (half of the chosen invoices with a single cash payment): the memo holds the
  invoice's amount and the cash payment is dropped: the invoice closes at the memo's date, no cash;
- partly credited (the others): the memo holds 10-50 % of the last cash payment, which is lowered by
  as much: the invoice still closes on its last cash payment, with less cash.

Only invoices the book pays in full are touched, so no invoice becomes overdue and the defaults,
labels and ``truth.parquet`` stay those of the book without memos. Every other row is unchanged;
payments gain the column ``kind`` (``cash`` / ``credit``). With ``SHARE`` 0 nothing is called: a book
is byte-identical to one generated before the option existed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["add_credit_memos"]

FULL_SHARE = 0.5  # of the chosen invoices with one cash payment: credited in full
PARTIAL = (0.1, 0.5)  # share of the last cash payment a partial memo holds
_SALT = 0x4D454D4F  # "MEMO": a stream apart from the book's and the defects'


def add_credit_memos(
    tables: dict[str, pa.Table], share: float, seed: int, chunk: int
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """``tables`` of one chunk with credit memos on a ``share`` of its fully paid invoices; returns
    the new tables and the counts ``{"full": ..., "partial": ...}``."""
    if not 0.0 < share <= 0.5:
        raise ValueError(f"credit memo share must be in (0, 0.5], got {share}")
    inv = tables["invoices"].to_pandas()
    pay_table = tables["payments"]
    pay = pay_table.to_pandas()
    cents = np.rint(pay["amount"].to_numpy(dtype=np.float64) * 100).astype(np.int64)
    allocated = pay["invoice_id"].notna().to_numpy()
    day = pay["paid_on"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    key = pay["invoice_id"].where(allocated, "")
    by = pd.DataFrame({"inv": key, "cents": cents, "day": day, "row": np.arange(len(pay))})[allocated]
    agg = by.groupby("inv", sort=False).agg(
        paid=("cents", "sum"), count=("cents", "size"), last=("day", "max"), last_row=("row", "max")
    )
    inv_cents = np.rint(inv["amount"].to_numpy(dtype=np.float64) * 100).astype(np.int64)
    issue = inv["issue_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    a = agg.reindex(inv["invoice_id"])
    full_paid = (a["paid"].to_numpy() == inv_cents) & a["paid"].notna().to_numpy()
    # every payment of an unallocated payer has no invoice_id: those invoices have none here
    rng = np.random.default_rng([seed, chunk, _SALT])
    u_pick, u_full, u_day, u_frac = (rng.random(len(inv)) for _ in range(4))
    chosen = full_paid & (u_pick < share)
    idx = np.flatnonzero(chosen)
    count = a["count"].to_numpy()[idx].astype(np.int64)
    last = a["last"].to_numpy()[idx].astype(np.int64)
    last_row = a["last_row"].to_numpy()[idx].astype(np.int64)
    full = (count == 1) & (u_full[idx] < FULL_SHARE)
    last_cents = cents[last_row]
    partial_ok = last_cents >= 2
    keep = full | partial_ok
    idx, last, last_row, full, last_cents = (
        idx[keep],
        last[keep],
        last_row[keep],
        full[keep],
        last_cents[keep],
    )
    lo = issue[idx] + 1
    hi = np.maximum(lo, last - 1)
    memo_day = lo + np.floor(u_day[idx] * (hi - lo + 1)).astype(np.int64)
    frac = PARTIAL[0] + (PARTIAL[1] - PARTIAL[0]) * u_frac[idx]
    memo_cents = np.where(
        full, inv_cents[idx], np.clip(np.rint(frac * last_cents), 1, np.maximum(last_cents - 1, 1))
    ).astype(np.int64)
    new_cents = cents.copy()
    new_cents[last_row[~full]] -= memo_cents[~full]
    drop = np.zeros(len(pay), dtype=bool)
    drop[last_row[full]] = True
    cash = pay.assign(amount=new_cents / 100.0, kind="cash").loc[~drop]
    ids = inv["invoice_id"].to_numpy(dtype=object)[idx]
    memos = pd.DataFrame(
        {
            "payment_id": ["C" + str(i)[1:] for i in ids],
            "debtor_id": inv["debtor_id"].to_numpy(dtype=object)[idx],
            "invoice_id": ids,
            "paid_on": memo_day.astype("datetime64[D]").astype(pay["paid_on"].dtype),
            "amount": memo_cents / 100.0,
            "kind": "credit",
        }
    )
    out = pd.concat([cash, memos], ignore_index=True)
    out = out.sort_values(["debtor_id", "paid_on", "payment_id"], kind="stable", ignore_index=True)
    schema = pay_table.schema.append(pa.field("kind", pa.string()))
    tables = {
        **tables,
        "payments": pa.Table.from_pandas(out[schema.names], schema=schema, preserve_index=False),
    }
    return tables, {"full": int(full.sum()), "partial": int((~full).sum())}
