"""A rolling export at scale for ``ews ingest --keep-history`` (BENCHMARKS.md, "Session 27 (s27-merge)"):
nightly 12-month windows cut from a longer generated book, with invoices removed and revised in the
ERP, and the kept history compared with the whole feed. Parquet in and out (pyarrow), for books of
millions of rows (``benchmarks/history_nights.py`` does the same on CSVs with pandas).

    feeds BOOK OUT --nights D1,D2,D3 [--months 12] [--remove 30] [--revise 30] [--seed 2727]
        for each night D: the ledger as the ERP knew it on D, exported as a rolling window of N months
        (as history_nights.py): the invoices issued from the first day of the month N-1 months before
        D's month, plus older invoices still open on D (paid below their amount by D); the payments
        paid in the window; the events dated in it; the debtors whole. From the second night on, the
        ERP removes ``--remove`` invoices (and their payments) and revises the amount of ``--revise``
        others (+1.00), drawn (``--seed``) among the invoices issued from the window's second month to
        two months before D; the changes stay in the later nights. OUT/D/{table}.parquet, and
        OUT/whole: the ledger up to the last night with every change applied (what a whole feed of
        that night sends). A JSON line per night: rows per table, the ids changed.
    window KEPT WHOLE --first-night D [--months 12] [--parts 10]
        the kept history of rolling nights against the whole feed's ingest cut to what the exports ever
        sent (the first night's window: invoices issued from its first month or still open on D, the
        payments paid from that month that name such an invoice), read by debtor range from folders
        whose bucket counts differ (a 1M book: 55 vs 58); rows, keys on one side only, rows that differ
    tables A B
        two ingested folders (``ews ingest --out``), bucket by bucket: rows, rows whose key is on one
        side only, rows whose values differ (each bucket sorted by the table's key), and whether the
        bucket files are the same bytes

    python benchmarks/rolling_scale.py feeds /work/bench/s27-merge/gen_r200k /work/bench/s27-merge/feeds \\
        --nights 2023-12-31,2024-01-31,2024-02-29
    python benchmarks/rolling_scale.py tables OUT_KEPT OUT_WHOLE
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

KEYS = {
    "invoices": ["invoice_id"],
    "payments": ["payment_id"],
    "events": ["debtor_id", "event_date", "kind"],
    "debtors": ["debtor_id"],
}


def _day(value: str) -> pa.Scalar:
    import datetime as dt

    return pa.scalar(dt.date.fromisoformat(value), type=pa.date32())


def _dates(table: pa.Table, column: str) -> pa.Array:
    """``column`` as day dates (the generated book's columns may be timestamps or dates)."""
    return pc.cast(table[column], pa.date32()) if table[column].type != pa.date32() else table[column]


def _month_start(night: str, back: int) -> str:
    m = np.datetime64(night[:7], "M") - back
    return str(m.astype("datetime64[D]"))


def export(book: dict[str, pa.Table], night: str, months: int) -> dict[str, pa.Table]:
    """The rolling export of ``night`` (see the module docstring)."""
    start, end = _day(_month_start(night, months - 1)), _day(night)
    inv, pay, ev = book["invoices"], book["payments"], book["events"]
    inv = inv.filter(pc.less_equal(_dates(inv, "issue_date"), end))
    pay = pay.filter(pc.less_equal(_dates(pay, "paid_on"), end))
    paid = pay.group_by("invoice_id").aggregate([("amount", "sum")])
    at = pc.index_in(inv["invoice_id"], value_set=paid["invoice_id"])
    got = pc.fill_null(pc.take(paid["amount_sum"], at), 0.0)
    still_open = pc.greater(pc.subtract(pc.cast(inv["amount"], pa.float64()), got), 0.005)
    issued = _dates(inv, "issue_date")
    keep = pc.or_(pc.greater_equal(issued, start), still_open)
    return {
        "invoices": inv.filter(keep),
        "payments": pay.filter(pc.greater_equal(_dates(pay, "paid_on"), start)),
        "events": ev.filter(
            pc.and_(
                pc.greater_equal(_dates(ev, "event_date"), start),
                pc.less_equal(_dates(ev, "event_date"), end),
            )
        ),
        "debtors": book["debtors"],
    }


def _apply(book: dict[str, pa.Table], removed: set[str], revised: set[str]) -> dict[str, pa.Table]:
    """The ERP's ledger after the changes: ``removed`` invoices and their payments gone, ``revised``
    invoices +1.00."""
    inv, pay = book["invoices"], book["payments"]
    if removed:
        gone = pa.array(sorted(removed), type=inv["invoice_id"].type)
        inv = inv.filter(pc.invert(pc.is_in(inv["invoice_id"], value_set=gone)))
        named = pc.fill_null(pc.is_in(pay["invoice_id"], value_set=gone), False)
        pay = pay.filter(pc.invert(named))
    if revised:
        hit = pc.is_in(inv["invoice_id"], value_set=pa.array(sorted(revised), type=inv["invoice_id"].type))
        amount = inv["amount"]
        new = pc.if_else(hit, pc.add(amount, pa.scalar(1.0, amount.type)), amount)
        inv = inv.set_column(inv.schema.get_field_index("amount"), "amount", new)
    return {**book, "invoices": inv, "payments": pay}


def _parts(book_dir: Path, rows_per_part: int) -> list[tuple[str, str | None]]:
    """Debtor-id ranges [lo, hi) of about ``rows_per_part`` invoices each (one range for a small book):
    every step of a feed is per debtor, so a book of 60M invoices is cut range by range in a few GiB."""
    n = pq.ParquetFile(book_dir / "invoices.parquet").metadata.num_rows
    k = max(1, -(-n // rows_per_part))
    ids = pq.read_table(book_dir / "debtors.parquet", columns=["debtor_id"])["debtor_id"]
    ids = pc.take(ids, pc.sort_indices(ids))
    cut = [ids[len(ids) * i // k].as_py() for i in range(k)]
    return [(lo, cut[i + 1] if i + 1 < k else None) for i, lo in enumerate(cut)]


def _read(book_dir: Path, table: str, lo: str, hi: str | None) -> pa.Table:
    import pyarrow.dataset as ds

    where = pc.field("debtor_id") >= lo
    if hi is not None:
        where = where & (pc.field("debtor_id") < hi)
    return ds.dataset(book_dir / f"{table}.parquet").to_table(filter=where)


class _Out:
    """One Parquet file per night and table, written range by range."""

    def __init__(self) -> None:
        self.writers: dict[Path, pq.ParquetWriter] = {}
        self.rows: dict[Path, int] = {}

    def write(self, folder: Path, tables: dict[str, pa.Table]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            path = folder / f"{name}.parquet"
            if path not in self.writers:
                self.writers[path] = pq.ParquetWriter(path, table.schema)
                self.rows[path] = 0
            self.writers[path].write_table(table, row_group_size=1_000_000)
            self.rows[path] += table.num_rows

    def close(self, folder: Path) -> dict[str, int]:
        rows = {}
        for path in [p for p in self.writers if p.parent == folder]:
            self.writers.pop(path).close()
            rows[path.stem] = self.rows[path]
        return rows


def feeds(
    book_dir: Path,
    out: Path,
    nights: list[str],
    months: int,
    remove: int,
    revise: int,
    seed: int,
    rows_per_part: int = 5_000_000,
) -> None:
    rng = np.random.default_rng(seed)
    removed: set[str] = set()
    revised: set[str] = set()
    plan = []
    inv = pq.read_table(book_dir / "invoices.parquet", columns=["invoice_id", "issue_date"])
    for n, night in enumerate(nights):
        changed: dict[str, list[str]] = {"removed": [], "revised": []}
        if n > 0:
            issued = _dates(inv, "issue_date")
            lo, hi = _day(_month_start(night, months - 2)), _day(_month_start(night, 2))
            pool = inv.filter(pc.and_(pc.greater_equal(issued, lo), pc.less(issued, hi)))["invoice_id"]
            # sorted and drawn in Arrow: a Python set of a 1M book's ~40M ids took ~20 GiB (OOM)
            done = pa.array(sorted(removed | revised), type=pool.type)
            pool = pool.filter(pc.invert(pc.is_in(pool, value_set=done)))
            ids = pc.take(pool, pc.sort_indices(pool))
            pick = rng.choice(len(ids), size=remove + revise, replace=False)
            changed["removed"] = sorted(pc.take(ids, pa.array(pick[:remove])).to_pylist())
            changed["revised"] = sorted(pc.take(ids, pa.array(pick[remove:])).to_pylist())
            removed |= set(changed["removed"])
            revised |= set(changed["revised"])
        plan.append((night, changed, set(removed), set(revised)))
    del inv
    end = _day(nights[-1])
    date = {"invoices": "issue_date", "payments": "paid_on", "events": "event_date"}
    written = _Out()
    for lo, hi in _parts(book_dir, rows_per_part):
        book = {t: _read(book_dir, t, lo, hi) for t in KEYS}
        for night, _, gone, plus in plan:
            written.write(out / night, export(_apply(book, gone, plus), night, months))
        last = _apply(book, removed, revised)
        whole = {
            t: tb.filter(pc.less_equal(_dates(tb, date[t]), end)) if t in date else tb
            for t, tb in last.items()
        }
        written.write(out / "whole", whole)
    for night, changed, _, _ in plan:
        print(json.dumps({"night": night, "rows": written.close(out / night), **changed}), flush=True)
    print(json.dumps({"whole": nights[-1], "rows": written.close(out / "whole")}), flush=True)


def _sorted(path: Path, key: list[str]) -> pa.Table:
    table = pq.read_table(path)
    return table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in key]))


def tables(a: Path, b: Path) -> None:
    for table, key in KEYS.items():
        fa = sorted((a / table).glob("bucket=*/part-0.parquet"))
        fb = sorted((b / table).glob("bucket=*/part-0.parquet"))
        if len(fa) != len(fb) or not fa:
            print(f"{table}: bucket files {len(fa)} vs {len(fb)}")
            continue
        rows_a = rows_b = one_side = differ = 0
        same_bytes = True
        for pa_, pb_ in zip(fa, fb, strict=True):
            same_bytes &= (
                hashlib.sha256(pa_.read_bytes()).digest() == hashlib.sha256(pb_.read_bytes()).digest()
            )
            x, y = _sorted(pa_, key), _sorted(pb_, key)
            rows_a, rows_b = rows_a + x.num_rows, rows_b + y.num_rows
            kx = x.select(key).to_pandas().apply(tuple, axis=1) if len(key) > 1 else x[key[0]].to_pandas()
            ky = y.select(key).to_pandas().apply(tuple, axis=1) if len(key) > 1 else y[key[0]].to_pandas()
            if x.num_rows == y.num_rows and kx.equals(ky):
                cols = [c for c in x.column_names if c in y.column_names]
                if not x.select(cols).equals(y.select(cols)):
                    xs, ys = x.select(cols).to_pandas(), y.select(cols).to_pandas()
                    differ += int(((xs != ys) & ~(xs.isna() & ys.isna())).any(axis=1).sum())
            else:
                one_side += len(set(kx) ^ set(ky))
        print(
            f"{table}: rows {rows_a:,} vs {rows_b:,}, keys on one side only {one_side:,}, rows whose values "
            f"differ {differ:,}, bucket files the same bytes: {same_bytes} ({len(fa)} buckets)"
        )
    for name in (a, b):
        m = json.loads((name / "manifest.json").read_text())
        print(name, "history:", json.dumps((m.get("history") or {}).get("tables")))


def _ranges(folder: Path, parts: int) -> list[tuple[str, str | None]]:
    ids = pq.read_table(folder / "debtors", columns=["debtor_id"])["debtor_id"]
    ids = pc.take(ids, pc.sort_indices(ids))
    cut = [ids[len(ids) * i // parts].as_py() for i in range(parts)]
    return [(lo, cut[i + 1] if i + 1 < parts else None) for i, lo in enumerate(cut)]


def _split(folder: Path, table: str, cuts: list[str], work: Path) -> list[Path]:
    """Each bucket file of ``folder/table`` cut by debtor range into one file per range under ``work``:
    one read of the folder, where a filtered read per range would read it once per range."""
    work.mkdir(parents=True, exist_ok=True)
    paths = [work / f"r{i}.parquet" for i in range(len(cuts))]
    writers: dict[int, pq.ParquetWriter] = {}
    bounds = pa.array(cuts[1:], type=pa.large_string())
    for f in sorted((folder / table).glob("bucket=*/part-0.parquet")):
        got = pq.read_table(f)
        at = np.searchsorted(
            np.asarray(bounds.to_pylist(), dtype=object),
            np.asarray(got["debtor_id"].to_pylist(), dtype=object),
            side="right",
        )
        for i in np.unique(at):
            piece = got.filter(pa.array(at == i))
            if i not in writers:
                writers[i] = pq.ParquetWriter(paths[i], piece.schema)
            writers[i].write_table(piece)
    for w in writers.values():
        w.close()
    return paths


def _sorted_file(path: Path, table: str) -> pa.Table:
    got = pq.read_table(path)
    return got.take(pc.sort_indices(got, sort_keys=[(k, "ascending") for k in KEYS[table]]))


def _compare(a: pa.Table, b: pa.Table, key: str) -> tuple[int, int]:
    """(keys on one side only, rows with a key on both sides whose values differ); both sorted by ``key``."""
    one_side = 0
    if not a[key].equals(b[key]):
        both = pc.is_in(a[key], value_set=b[key])
        one_side = (a.num_rows - pc.sum(both).as_py()) + (
            b.num_rows - pc.sum(pc.is_in(b[key], value_set=a[key])).as_py()
        )
        a, b = a.filter(both), b.filter(pc.is_in(b[key], value_set=a[key]))
    cols = [c for c in a.column_names if c in b.column_names]
    if a.select(cols).equals(b.select(cols)):
        return one_side, 0
    xs, ys = a.select(cols).to_pandas(), b.select(cols).to_pandas()
    return one_side, int(((xs != ys) & ~(xs.isna() & ys.isna())).any(axis=1).sum())


def window(kept: Path, whole: Path, first_night: str, months: int, parts: int, work: Path) -> dict:
    cuts = [lo for lo, _ in _ranges(whole, parts)]
    files = {
        (side, table): _split(folder, table, cuts, work / side / table)
        for side, folder in (("kept", kept), ("whole", whole))
        for table in ("invoices", "payments")
    }
    print("split by debtor range", flush=True)
    start = pa.scalar(np.datetime64(_month_start(first_night, months - 1), "ns"))
    night = pa.scalar(np.datetime64(first_night, "ns") + np.timedelta64(1, "D"))
    out: dict[str, list[int]] = {t: [0, 0, 0, 0] for t in ("invoices", "payments")}
    for i in range(parts):
        inv = _sorted_file(files["whole", "invoices"][i], "invoices")
        pay = _sorted_file(files["whole", "payments"][i], "payments")
        early = (
            pay.filter(pc.less(pay["paid_on"], night)).group_by("invoice_id").aggregate([("amount", "sum")])
        )
        got = pc.fill_null(
            pc.take(early["amount_sum"], pc.index_in(inv["invoice_id"], early["invoice_id"])), 0.0
        )
        still_open = pc.greater(pc.subtract(inv["amount"], got), 0.005)
        sent = inv.filter(pc.or_(pc.greater_equal(inv["issue_date"], start), still_open))
        # on-account payments name no invoice (is_in gives false on a null)
        named = pc.or_(
            pc.is_null(pay["invoice_id"]), pc.is_in(pay["invoice_id"], value_set=sent["invoice_id"])
        )
        expected = {
            "invoices": sent,
            "payments": pay.filter(pc.and_(pc.greater_equal(pay["paid_on"], start), named)),
        }
        for table, want in expected.items():
            have = _sorted_file(files["kept", table][i], table)
            one_side, differ = _compare(have, want, KEYS[table][0])
            row = out[table]
            row[0], row[1], row[2], row[3] = (
                row[0] + have.num_rows,
                row[1] + want.num_rows,
                row[2] + one_side,
                row[3] + differ,
            )
        print(f"range {i + 1}/{parts}: {json.dumps(out)}", flush=True)
    for table, (a, b, one, diff) in out.items():
        print(
            f"{table}: kept {a:,} vs the whole feed's sent rows {b:,}, keys on one side only {one:,}, rows that differ {diff:,}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("feeds", help="write the nightly rolling exports and the whole feed")
    f.add_argument("book", type=Path, help="a generated book (Parquet: invoices, payments, debtors, events)")
    f.add_argument("out", type=Path)
    f.add_argument("--nights", required=True, help="comma-separated YYYY-MM-DD")
    f.add_argument("--months", type=int, default=12)
    f.add_argument(
        "--remove", type=int, default=30, help="invoices the ERP removes each night from the second"
    )
    f.add_argument("--revise", type=int, default=30, help="invoices whose amount it revises (+1.00)")
    f.add_argument("--seed", type=int, default=2727)
    f.add_argument(
        "--rows-per-part",
        type=int,
        default=5_000_000,
        help="cut the book into debtor ranges of about this many invoices (at 5M: 5.3 GiB peak RSS on a 1M x 15 book)",
    )
    t = sub.add_parser("tables", help="two ingested folders bucket by bucket")
    t.add_argument("a", type=Path)
    t.add_argument("b", type=Path)
    w = sub.add_parser("window", help="a kept history against the whole feed cut to the first night's window")
    w.add_argument("kept", type=Path)
    w.add_argument("whole", type=Path)
    w.add_argument("--first-night", required=True, help="YYYY-MM-DD of the first rolling export")
    w.add_argument("--months", type=int, default=12)
    w.add_argument("--parts", type=int, default=10, help="debtor ranges compared one at a time (memory)")
    w.add_argument("--work", type=Path, required=True, help="scratch folder for the tables cut by range")
    args = ap.parse_args()
    if args.cmd == "window":
        print(json.dumps(window(args.kept, args.whole, args.first_night, args.months, args.parts, args.work)))
    elif args.cmd == "feeds":
        feeds(
            args.book,
            args.out,
            args.nights.split(","),
            args.months,
            args.remove,
            args.revise,
            args.seed,
            args.rows_per_part,
        )
    else:
        tables(args.a, args.b)


if __name__ == "__main__":
    main()
