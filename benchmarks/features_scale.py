"""Feature building at scale: one as-of date over a large ledger, or a stack of monthly snapshots.

Reads a folder of canonical Parquet tables (``benchmarks/features_data.py`` output, or a generator
/ ingest output dir), builds ``features.build.build_features`` and reports wall time per step
(read, prepare + state + features inside build_features, labels optional) and the peak RSS of the
process (which includes the loaded tables).

Reading keeps only the columns the features use and the rows dated <= the last as-of date (rows
after it cannot enter any feature), as Arrow tables. With ``--partition-rows N`` (default
500,000; 0 = one call over everything) the tables are sorted by ``debtor_id`` (a no-op check
when the files already are, as the generator writes them) and cut into contiguous debtor ranges of
about N invoice + payment rows; ``build_features`` runs on each range (zero-copy slices) and the
results are concatenated. Every feature is per debtor, so the frame is the same as one call over
everything (``--check`` asserts it); the working memory is that of one range. When the ledger
files' row groups are in debtor order (Parquet statistics), they are streamed: read row group by
row group in a background thread while the ranges are built, so only a few ranges are in memory
(``--no-stream``: read whole tables first; ``--plain-read``: the old path, every column into
pandas and one call). ``--labels`` reads whole tables (labels need rows after the as-of date).

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/features_scale.py --data data/bench/gen_1m \
        --as-of 2023-12-31
    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/features_scale.py --data data/bench/feat_100k \
        --months 12 --end 2024-12-31 --labels

Prints the figures, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import queue
import resource
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.build import build_features
from features.labels import build_labels
from features.snapshots import month_ends
from features.tables import Portfolio


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (GiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# columns the feature builder reads, and the date column that dates each row (None: static table)
COLUMNS = {
    "invoices": (["invoice_id", "debtor_id", "issue_date", "due_date", "amount", "disputed"], "issue_date"),
    "payments": (["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"], "paid_on"),
    "debtors": (["debtor_id", "segment", "country", "credit_limit", "onboarded_on"], None),
    "events": (["debtor_id", "event_date", "kind", "amount"], "event_date"),
}


def read_tables(
    folder: Path, until: pd.Timestamp | None = None, only: tuple[str, ...] = tuple(COLUMNS)
) -> dict[str, pa.Table]:
    """Arrow tables with only the needed columns and (``until``) only rows dated <= until."""
    tables = {}
    for name in only:
        wanted, date_col = COLUMNS[name]
        path = folder / f"{name}.parquet"
        if not path.is_file():
            continue
        present = set(pq.read_schema(path).names)
        cols = [c for c in wanted if c in present]
        filters = (
            [(date_col, "<=", until.to_pydatetime())] if until is not None and date_col in present else None
        )
        tables[name] = pq.read_table(path, columns=cols, filters=filters)
    return tables


def read(folder: Path) -> Portfolio:
    """All columns of every table as pandas frames (the plain path, ``--partition-rows 0 --all-columns``)."""
    frames = {}
    for name in ("invoices", "payments", "debtors", "events"):
        path = folder / f"{name}.parquet"
        if path.is_file():
            frames[name] = pq.read_table(path).to_pandas()
    return Portfolio(**frames)


def sort_by_debtor(table: pa.Table) -> pa.Table:
    """``table`` ordered by debtor_id, stable (returned as is when it already is).

    Sorts int32 codes of the ids (ranks among the distinct ids) with numpy's run-adaptive stable
    sort rather than the strings themselves: ledgers are usually nearly in debtor order."""
    ids = table["debtor_id"]
    if len(ids) < 2 or pc.all(pc.greater_equal(ids[1:], ids[:-1])).as_py():
        return table
    uniq = pc.unique(ids)
    uniq = pc.take(uniq, pc.sort_indices(uniq))
    codes = pc.fill_null(pc.index_in(ids, value_set=uniq), len(uniq)).to_numpy()
    return table.take(np.argsort(codes, kind="stable"))


def _lower_bound(ids: pa.ChunkedArray, value: str) -> int:
    """First row whose debtor_id is >= value (``ids`` sorted); binary search, O(log n) scalar reads."""
    return bisect.bisect_left(range(len(ids)), value, key=lambda i: ids[i].as_py())


def debtor_ranges(tables: dict[str, pa.Table], partition_rows: int) -> list[dict[str, pa.Table]]:
    """Cut debtor-sorted tables into contiguous debtor ranges of about ``partition_rows`` ledger rows.

    Boundaries are debtor ids taken at even steps of the larger ledger table; each table is cut at
    the first row >= each boundary, so every debtor's rows (in every table) land in one range.
    """
    ledger_rows = sum(tables[n].num_rows for n in ("invoices", "payments") if n in tables)
    parts = max(1, math.ceil(ledger_rows / partition_rows)) if partition_rows > 0 else 1
    if parts == 1:
        return [tables]
    big = max((n for n in ("invoices", "payments") if n in tables), key=lambda n: tables[n].num_rows)
    big_ids = tables[big]["debtor_id"]
    first = big_ids[0].as_py()
    # every range then holds at least one row of the larger table
    bounds = sorted({big_ids[len(big_ids) * k // parts].as_py() for k in range(1, parts)} - {first})
    cuts = {
        name: [0] + [_lower_bound(t["debtor_id"], b) for b in bounds] + [t.num_rows]
        for name, t in tables.items()
    }
    return [
        {name: t.slice(cuts[name][p], cuts[name][p + 1] - cuts[name][p]) for name, t in tables.items()}
        for p in range(len(bounds) + 1)
    ]


class UnsortedError(Exception):
    """A ledger file is not sorted by debtor_id: the streaming reader cannot cut it into ranges."""


def _row_groups(path: Path, table: str, until: pd.Timestamp | None) -> Iterator[pa.Table]:
    """Row groups of ``path`` (needed columns, rows dated <= until), each sorted by debtor_id.

    Raises UnsortedError when a row group holds a debtor id below the last id of the one before
    (then no cut is safe)."""
    wanted, date_col = COLUMNS[table]
    pf = pq.ParquetFile(path)
    cols = [c for c in wanted if c in set(pf.schema_arrow.names)]
    last = None
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i, columns=cols)
        if t.num_rows == 0:
            continue
        t = sort_by_debtor(t)  # a row group out of order inside is sorted on its own
        ids = t["debtor_id"]
        if last is not None and ids[0].as_py() < last:
            raise UnsortedError(f"{path}: row group {i} starts before the end of the one before it")
        last = ids[-1].as_py()
        if until is not None and date_col in cols:
            t = t.filter(
                pc.less_equal(t[date_col], pa.scalar(until.to_pydatetime(), t.schema.field(date_col).type))
            )
        yield t


def streamable(folder: Path) -> bool:
    """Whether the ledger files' row groups are in debtor order (Parquet min/max statistics: each
    row group starts at or after the end of the one before; no statistics: assume yes, the reader
    checks as it goes)."""
    for name in ("invoices", "payments"):
        path = folder / f"{name}.parquet"
        if not path.is_file():
            continue
        md = pq.ParquetFile(path).metadata
        col = md.schema.names.index("debtor_id") if "debtor_id" in md.schema.names else None
        last = None
        for i in range(md.num_row_groups):
            stats = md.row_group(i).column(col).statistics if col is not None else None
            if stats is None or not stats.has_min_max:
                return True
            if last is not None and stats.min < last:
                return False
            last = stats.max
    return True


def _cut(table: pa.Table, bound: str | None) -> tuple[pa.Table, pa.Table]:
    """Rows with debtor_id < bound, and the rest (bound None: everything, nothing)."""
    at = table.num_rows if bound is None else _lower_bound(table["debtor_id"], bound)
    return table.slice(0, at), table.slice(at)


def stream_ranges(
    folder: Path, until: pd.Timestamp | None, partition_rows: int
) -> Iterator[dict[str, pa.Table]]:
    """Debtor ranges of debtor-sorted files, read row group by row group (bounded memory).

    Invoice row groups lead: after each one, payments are read until they pass the last invoice
    debtor id; the rows of debtors before it are cut out (every table), split by
    :func:`debtor_ranges` and yielded. A range without invoice or payment rows is merged into the
    next one (``build_features`` needs ledger rows), the last into the one before.
    """
    static = {}
    for name in ("debtors", "events"):
        if (folder / f"{name}.parquet").is_file():
            static[name] = sort_by_debtor(read_tables(folder, until, only=(name,))[name])
    ledger = [n for n in ("invoices", "payments") if (folder / f"{n}.parquet").is_file()]
    gens = {n: _row_groups(folder / f"{n}.parquet", n, until) for n in ledger}
    buf: dict[str, pa.Table | None] = dict.fromkeys(ledger)
    done = dict.fromkeys(ledger, False)

    def pull(name: str) -> None:
        t = next(gens[name], None)
        if t is None:
            done[name] = True
        else:
            buf[name] = t if buf[name] is None else pa.concat_tables([buf[name], t])

    def last_id(name: str) -> str | None:
        t = buf[name]
        return t["debtor_id"][-1].as_py() if t is not None and t.num_rows else None

    pending: dict[str, pa.Table] | None = None
    while True:
        lead = next((n for n in ledger if not done[n]), None)
        if lead is not None:
            pull(lead)
        bound = None if lead is None or done[lead] else last_id(lead)
        if bound is None and lead is not None and not done[lead]:
            continue  # empty row group after the date filter
        for other in ledger:
            while not done[other] and (bound is None or (last_id(other) or "") < bound):
                pull(other)
        part: dict[str, pa.Table] = {}
        for name in ledger:
            if buf[name] is not None:
                part[name], buf[name] = _cut(buf[name], bound)
        for name, t in static.items():
            part[name], static[name] = _cut(t, bound)
        if pending is None:
            pending = part
        elif _ledger_rows(part) == 0 or _ledger_rows(pending) == 0:
            pending = {
                n: pa.concat_tables([t[n] for t in (pending, part) if n in t]) for n in {*pending, *part}
            }
        else:
            yield from debtor_ranges(pending, partition_rows)
            pending = part
        if bound is None:
            break
    if pending is not None and _ledger_rows(pending):
        yield from debtor_ranges(pending, partition_rows)


def _ledger_rows(tables: dict[str, pa.Table]) -> int:
    return sum(tables[n].num_rows for n in ("invoices", "payments") if n in tables)


def prefetch(items: Iterator[dict[str, pa.Table]], depth: int = 4) -> Iterator[dict[str, pa.Table]]:
    """``items`` produced by a background thread (reading overlaps building; Parquet decoding
    releases the GIL), at most ``depth`` ahead."""
    q: queue.Queue = queue.Queue(depth)
    end = object()

    def run() -> None:
        try:
            for item in items:
                q.put(item)
            q.put(end)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    threading.Thread(target=run, daemon=True).start()
    while (item := q.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item


def to_portfolio(tables: dict[str, pa.Table]) -> Portfolio:
    """pandas frames of Arrow tables (strings stay Arrow-backed)."""
    return Portfolio(**{name: t.to_pandas() for name, t in tables.items()})


def build_by_ranges(ranges: Iterable[dict[str, pa.Table]], dates: list[pd.Timestamp]) -> pd.DataFrame:
    """``build_features`` per debtor range, concatenated in (as_of, debtor_id) order.

    ``segment``/``country`` get the union of the ranges' categories (sorted), which is what a single
    call gives (it takes the categories of the whole debtors table)."""
    feats = []
    for tables in ranges:
        feats.append(build_features(to_portfolio(tables), dates))
    cat_cols = [c for c in feats[0].columns if isinstance(feats[0][c].dtype, pd.CategoricalDtype)]
    cats = {c: sorted(set().union(*(set(f[c].cat.categories) for f in feats))) for c in cat_cols}
    out = pd.concat(feats, ignore_index=True)
    del feats
    for c in cat_cols:
        out[c] = out[c].astype(pd.CategoricalDtype(cats[c]))
    if len(dates) > 1 or not out["debtor_id"].is_monotonic_increasing:
        out = out.sort_values(["as_of", "debtor_id"], kind="stable", ignore_index=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", help="one as-of date (YYYY-MM-DD)")
    parser.add_argument("--months", type=int, help="number of month-end snapshots ending at --end")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--labels", action="store_true", help="also time build_labels")
    parser.add_argument(
        "--partition-rows",
        type=int,
        default=500_000,
        help="invoice + payment rows per contiguous debtor range (0: one build_features call)",
    )
    parser.add_argument(
        "--plain-read", action="store_true", help="read every column into pandas, one call (the old path)"
    )
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="read whole tables first, then cut ranges (default: stream row groups in a background thread)",
    )
    parser.add_argument("--check", action="store_true", help="assert the frame equals one call over all rows")
    args = parser.parse_args()
    if args.months:
        end = pd.Timestamp(args.end)
        dates = month_ends(end - pd.DateOffset(months=args.months) + pd.Timedelta(days=1), end)
    else:
        dates = [pd.Timestamp(args.as_of)]

    stream = not (args.plain_read or args.labels or args.no_stream)
    if stream and not streamable(args.data):
        print("ledger row groups are not in debtor order: reading whole tables, then sorting")
        stream = False
    t0 = time.perf_counter()
    tables = None
    if args.plain_read:
        portfolio = read(args.data)
        n_inv = len(portfolio.invoices)
        n_pay = len(portfolio.payments) if portfolio.payments is not None else 0
    elif not stream:
        tables = read_tables(args.data, None if args.labels else max(dates))
        n_inv = tables["invoices"].num_rows if "invoices" in tables else 0
        n_pay = tables["payments"].num_rows if "payments" in tables else 0
    t_read = time.perf_counter() - t0
    rss_loaded = peak_rss_gib()
    if not stream:
        print(
            f"read {n_inv:,} invoices, {n_pay:,} payments in {t_read:.1f} s (peak RSS {rss_loaded:.2f} GiB)"
        )

    t0 = time.perf_counter()
    if args.plain_read:
        feats = build_features(portfolio, dates)
        n_ranges = 1
    else:
        if stream:
            ranges: Iterable[dict[str, pa.Table]] = prefetch(
                stream_ranges(args.data, max(dates), args.partition_rows)
            )
        else:
            tables = {name: t for name, t in ((n, sort_by_debtor(t)) for n, t in tables.items())}
            ranges = debtor_ranges(tables, args.partition_rows)
        counted: list[int] = [0, 0, 0]

        def count(items: Iterable[dict[str, pa.Table]]) -> Iterator[dict[str, pa.Table]]:
            for r in items:
                counted[0] += 1
                counted[1] += r["invoices"].num_rows if "invoices" in r else 0
                counted[2] += r["payments"].num_rows if "payments" in r else 0
                yield r

        try:
            feats = build_by_ranges(count(ranges), dates)
        except UnsortedError as exc:  # files not sorted by debtor: read whole tables and sort them
            print(f"{exc}: reading whole tables instead of streaming")
            stream = False
            counted[0] = 0
            tables = {n: sort_by_debtor(t) for n, t in read_tables(args.data, max(dates)).items()}
            n_inv = tables["invoices"].num_rows if "invoices" in tables else 0
            n_pay = tables["payments"].num_rows if "payments" in tables else 0
            feats = build_by_ranges(count(debtor_ranges(tables, args.partition_rows)), dates)
        del ranges
        n_ranges = counted[0]
        if stream:
            n_inv, n_pay = counted[1], counted[2]
    t_feat = time.perf_counter() - t0
    print(
        f"build_features{' (reading streamed alongside)' if stream else ''}: {len(dates)} as-of date(s), "
        f"{n_inv:,} invoices, {n_pay:,} payments, {n_ranges} debtor range(s), {len(feats):,} rows x "
        f"{feats.shape[1] - 2} columns in {t_feat:.1f} s; peak RSS {peak_rss_gib():.2f} GiB"
    )
    out = {
        "benchmark": "features_scale",
        "data": str(args.data),
        "mode": "plain" if args.plain_read else ("streamed" if stream else "read-then-ranges"),
        "invoices": n_inv,
        "payments": n_pay,
        "debtors_rows": int(feats["debtor_id"].nunique()),
        "as_of_dates": [str(d.date()) for d in dates],
        "rows": len(feats),
        "columns": int(feats.shape[1] - 2),
        "debtor_ranges": n_ranges,
        "read_seconds": None if stream else round(t_read, 2),
        "peak_rss_gib_after_read": None if stream else round(rss_loaded, 2),
        "build_features_seconds": round(t_feat, 2),
        "total_seconds": round(t_read + t_feat, 2),
    }
    if stream and args.check:  # read afresh: the check also covers the streaming reader
        tables = read_tables(args.data, max(dates))
    if tables is not None and (args.labels or args.check):
        portfolio = to_portfolio(tables)
    if args.check:
        t0 = time.perf_counter()
        pd.testing.assert_frame_equal(feats, build_features(portfolio, dates))
        out["check_single_call_equal"] = True
        print(f"--check: same frame as one build_features call ({time.perf_counter() - t0:.1f} s)")
    if args.labels:
        t0 = time.perf_counter()
        labels = build_labels(portfolio, dates)
        out["build_labels_seconds"] = round(time.perf_counter() - t0, 2)
        out["label_rate"] = float(labels["label"].astype("Float64").mean())
        print(f"build_labels in {out['build_labels_seconds']} s")
    out["peak_rss_gib"] = round(peak_rss_gib(), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
