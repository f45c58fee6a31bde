"""Payment ids made from rows (``ids_from_rows``) and Xero's Running Balance: what an entry dated back
does to the ids, with and without ``ids_leave_out: [Running Balance]`` (session 26).

Reads a source config whose ``tables.payments`` is an Account Transactions export (benchmarks/
smb_exports.py ``--layout xero-at``) with ``ids_from_rows: true``, ingests it in memory as it is and
with the running balance left out of the ids, then again after inserting one invoice dated back
(``--back-date``, the sum added to the Running Balance of every row below it), and prints for each:
payments accepted, quarantined ``duplicate_row``, and how many accepted payment ids of the first
export are missing from the second.

    python benchmarks/running_balance_ids.py --config xero.yaml --as-of 2025-06-30 --back-date 2023-01-03
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
import tempfile
from pathlib import Path


def back_dated(path: Path, day: dt.date, amount: float, contact: str) -> str:
    """The export's text with a Receivable Invoice of ``amount`` dated ``day`` inserted before the first
    row dated after it, and ``amount`` added to the Running Balance of that row and every row below."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("Date,"))
    out = lines[: head + 1]
    inserted = False
    for line in lines[head + 1 :]:
        cells = next(csv.reader([line])) if line else []
        when = None
        if cells:
            try:
                when = dt.datetime.strptime(cells[0], "%d %b %Y").date()
            except ValueError:
                when = None
        if when is not None and not inserted and when > day:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(
                [
                    f"{day.day} {day:%b %Y}",
                    "Receivable Invoice",
                    contact,
                    "Late entry",
                    "INV-LATE",
                    f"{amount:,.2f}",
                    "",
                    "",
                ]
            )
            out.append(buf.getvalue())
            inserted = True
        if inserted and cells and len(cells) == 8 and cells[7]:
            balance = float(cells[7].replace(",", "")) + amount
            cells[7] = f"{balance:,.2f}"
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(cells)
            line = buf.getvalue()
        out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--config", type=Path, required=True, help="source config (tables.payments: Account Transactions)"
    )
    ap.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    ap.add_argument(
        "--back-date", type=dt.date.fromisoformat, required=True, help="the inserted invoice's date"
    )
    ap.add_argument("--amount", type=float, default=100.0)
    ap.add_argument("--contact", default="Company 0000001")
    a = ap.parse_args(argv)

    from pipelines.config import load_config
    from pipelines.config.source import SourceConfig
    from pipelines.ingest import ingest_source

    source = load_config(a.config, SourceConfig)
    pay = source.tables["payments"]
    later = Path(tempfile.mkdtemp()) / "later.csv"
    later.write_text(back_dated(Path(pay.path), a.back_date, a.amount, a.contact), encoding="utf-8")
    for label, leave in (
        ("Running Balance hashed", ()),
        ("ids_leave_out: [Running Balance]", ("Running Balance",)),
    ):
        spec = pay.model_copy(update={"ids_leave_out": leave})
        first = source.model_copy(update={"tables": {**source.tables, "payments": spec}})
        second = first.with_paths({"payments": later})
        ids = []
        for s in (first, second):
            r = ingest_source(s, None, as_of=a.as_of)
            t = r.manifest["tables"]["payments"]
            ids.append(set(r.portfolio.payments["payment_id"].astype(str)))
            print(
                f"{label}: {'back-dated' if s is second else 'as exported'}: accepted {t['rows_accepted']:,}, "
                f"duplicate_row {t['reasons'].get('duplicate_row', 0):,}, quarantined {t['rows_quarantined']:,}"
            )
        print(
            f"{label}: ids of the first export missing from the back-dated one: {len(ids[0] - ids[1]):,} of {len(ids[0]):,}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
