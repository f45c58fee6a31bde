"""An Excel user's check of a run's money columns in a 0-decimal (JPY) or 3-decimal (KWD) currency.

    book SRC DST --currency JPY --factor 100    a copy of an `ews generate` book (parquet) in another
                                                currency: every amount x factor, rounded to the
                                                currency's decimals (factor 100 from cents to yen and
                                                0.1 to fils are exact: no payment drifts off its invoice)
    check RUN_DIR --currency JPY                 per export (both queues, credit_limits,
                                                invoice_forecast, cash_forecast): the most decimals of
                                                an amount in the CSV, the XLSX number format of each
                                                amount column, and the totals row recomputed from the
                                                rows (openpyxl)

Session 29 (s29-ux), BENCHMARKS.md hostile-inputs section. Prints one line per file and column.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

PLACES = {"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "OMR": 3}
AMOUNT_TABLES = {
    "invoices": ["amount"],
    "payments": ["amount"],
    "debtors": ["credit_limit"],
    "events": ["amount"],
}
EXPORTS = ("collections_queue", "recovery_queue", "credit_limits", "invoice_forecast", "cash_forecast")


def book(src: Path, dst: Path, currency: str, factor: float) -> None:
    import pandas as pd

    places = PLACES.get(currency, 2)
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.parquet")):
        frame = pd.read_parquet(path)
        for col in AMOUNT_TABLES.get(path.stem, []):
            if col in frame:
                frame[col] = (frame[col] * factor).round(places)
        if "currency" in frame:
            frame["currency"] = currency
        frame.to_parquet(dst / path.name, index=False)
        print(
            f"{path.stem}: {len(frame):,} rows"
            + (f", amounts x {factor} in {currency}" if path.stem in AMOUNT_TABLES else "")
        )


def decimals(text: str) -> int:
    m = re.fullmatch(r"-?\d+(?:\.(\d+))?", text.strip())
    return len(m.group(1) or "") if m else -1


def check(run: Path, currency: str) -> int:
    import openpyxl

    amounts = set()
    from pipelines.adapters.exports import AMOUNTS

    amounts |= set(AMOUNTS) | {"open_amount", "expected_cash", "cash_low_80", "cash_high_80"}
    bad = 0
    for name in EXPORTS:
        path = run / f"{name}.csv"
        if not path.exists():
            print(f"{name}.csv: absent")
            continue
        rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
        cols = [c for c in (rows[0].keys() if rows else []) if c in amounts]
        most = {c: max((decimals(r[c]) for r in rows if r[c] != ""), default=None) for c in cols}
        cur = {r.get("currency") for r in rows} - {None}
        print(f"{name}.csv: {len(rows)} rows, currency {sorted(cur)}; most decimals per amount: {most}")
        xlsx = run / f"{name}.xlsx"
        if not xlsx.exists():
            print(f"{name}.xlsx: not written")
            continue
        wb = openpyxl.load_workbook(xlsx)
        ws = wb.worksheets[0]
        stored = list(openpyxl.load_workbook(xlsx, data_only=True).worksheets[0].iter_rows(values_only=True))[
            -1
        ]
        head = [c.value for c in ws[1]]
        last = ws.max_row
        total_row = [c.value for c in ws[last]]
        body = list(ws.iter_rows(min_row=2, max_row=last - 1, values_only=True))
        print(f"{name}.xlsx sheet {ws.title!r}: {len(body)} rows, totals row {total_row[0]!r}")
        for j, h in enumerate(head):
            if "(" + currency + ")" not in str(h):
                continue
            fmt = ws.cell(2, j + 1).number_format if body else None
            formula = total_row[j]
            summed = sum(v for r in body if isinstance((v := r[j]), int | float))
            places = PLACES.get(currency, 2)
            kept = stored[j]
            same = kept is None or round(float(kept), places) == round(summed, places)
            bad += not same
            print(
                f"  {h!r}: format {fmt!r}; total {formula!r} stored {kept!r}, rows summed {summed:,.{places}f}"
                + ("" if same else "  MISMATCH")
            )
    print(f"totals that differ from their rows' sum: {bad}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("book", help="a copy of a generated book in another currency")
    b.add_argument("src", type=Path)
    b.add_argument("dst", type=Path)
    b.add_argument("--currency", required=True)
    b.add_argument("--factor", type=float, required=True)
    c = sub.add_parser("check", help="the money columns of a run folder's exports")
    c.add_argument("run", type=Path)
    c.add_argument("--currency", required=True)
    a = p.parse_args(argv)
    if a.cmd == "book":
        book(a.src, a.dst, a.currency.upper(), a.factor)
        return 0
    return check(a.run, a.currency.upper())


if __name__ == "__main__":
    sys.exit(main())
