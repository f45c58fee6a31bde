"""Nightly payment-date outputs: ``invoice_forecast.parquet`` / ``.csv``, ``cash_forecast.csv`` and
each debtor's ``expected_cash_30d`` and ``pay_pd`` in the collections queue, from the ``ews-paydate`` champion.

Per debtor bucket (``pipelines.engine.map_buckets``): the open invoices at the as-of date and their
features from one ledger state (``features.paydate.open_invoices``), weekly hazards in chunks
(``models.paydate.predict_hazards``), the per-invoice forecast and the bucket's cash moments per week
and segment. The nightly packs each bucket's forecast where it was made (:func:`pack_forecast`:
sorted, compressed Arrow rows and the CSV lines already formatted) and :func:`write_invoice_files`
merges the buckets by debtor into ``invoice_forecast.parquet`` / ``.csv`` one row group at a time,
so the flow process never holds the whole book's rows; the files are those the whole frame would
give. Cash moments are summed. Without a champion the nightly runs on and logs that the forecast
was skipped.
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines.words import amounts_in

__all__ = [
    "CASH_FILE",
    "INVOICE_COLUMNS",
    "INVOICE_FILE",
    "PackedForecast",
    "PaydateForecast",
    "forecast_book",
    "forecast_bucket",
    "forecast_rows",
    "forecast_state",
    "combine_forecasts",
    "forecaster_status",
    "pin_forecaster",
    "statements_book",
    "statement_balances",
    "statements_not_forecast",
    "STATEMENTS_NO_FORECAST",
    "load_forecaster",
    "pack_forecast",
    "pay_pd_of_invoices",
    "PaymentDateFiles",
    "payment_date_files",
    "paydate_outputs",
    "with_expected_cash",
    "write_cash_workbook",
    "write_invoice_files",
]

INVOICE_FILE = "invoice_forecast"
CASH_FILE = "cash_forecast.csv"
CASH_XLSX = "cash_forecast.xlsx"
INVOICE_COLUMNS = [
    "invoice_id",
    "debtor_id",
    "open_amount",
    "currency",
    "due_date",
    "expected_paid_on",
    "paid_on_p10",
    "paid_on_p90",
    "p_paid_30d",
    "p_paid_60d",
    "p_paid_90d",
    "p_paid_in_horizon",
    "segment",
]
CASH_WEEKS = 13
ROW_GROUP_ROWS = 1024 * 1024  # pyarrow's default row group of ``DataFrame.to_parquet``
BATCH_ROWS = 65_536  # rows per Arrow record batch of a packed bucket
CSV_BLOCK_BYTES = 1 << 20  # CSV bytes per compressed block of a packed bucket (whole debtors)
MERGE_RUNS = 65_536  # runs of debtors (one bucket's, next to each other) merged into the CSV at a time


@dataclass(frozen=True)
class PaydateForecast:
    """The whole book's forecast: ``invoices`` (:data:`INVOICE_COLUMNS`, by debtor then invoice id),
    ``cash`` (``cash_forecast.csv``) and ``expected_cash_30d`` per debtor_id."""

    invoices: pd.DataFrame
    cash: pd.DataFrame
    expected_cash_30d: pd.Series


@dataclass(frozen=True)
class PackedForecast:
    """One bucket's forecast, compact for the trip from a worker process (:func:`pack_forecast`).

    ``debtors``: ``expected_cash_30d`` per debtor, indexed by debtor_id in sorted order; ``rows``:
    the debtor's invoice rows (same order); ``table``: the rows of ``invoice_forecast`` (by debtor,
    then invoice id; ``p_paid_*`` rounded to 4 places) as a zstd-compressed Arrow IPC stream;
    ``csv``: the same rows as the CSV lines of ``invoice_forecast.csv``, in zstd blocks of whole
    debtors ``(compressed, size)``, with ``csv_bytes`` per debtor (None when pandas had to write the
    lines, ``pipelines.adapters.exports.csv_lines_and_ends``: the flow process then formats them);
    ``moments``: cash moments per week and segment; ``pay_pd``: :func:`pay_pd_of_invoices`' largest
    value per debtor (same index as ``debtors``), None when the forecast was made without a default
    definition."""

    debtors: pd.Series
    rows: np.ndarray
    table: bytes
    csv: list[tuple[bytes, int]] | None
    csv_bytes: np.ndarray | None
    moments: pd.DataFrame
    pay_pd: pd.Series | None = None


def _ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)
    return sink.getvalue().to_pybytes()


def _csv_blocks(lines: bytes, per_debtor: np.ndarray) -> list[tuple[bytes, int]]:
    """``lines`` cut after whole debtors into blocks of about :data:`CSV_BLOCK_BYTES`, each zstd-compressed."""
    import pyarrow as pa

    ends = np.cumsum(per_debtor)
    starts = ends - per_debtor
    first = np.flatnonzero(np.r_[True, np.diff(starts // CSV_BLOCK_BYTES) > 0]) if len(ends) else []
    cuts = [int(starts[i]) for i in first] + [len(lines)]
    view = memoryview(lines)
    return [
        (pa.compress(view[a:b], codec="zstd", asbytes=True), b - a)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]


def pack_forecast(part: tuple[pd.DataFrame, pd.DataFrame] | None) -> PackedForecast | None:
    """A bucket's forecast (:func:`forecast_state`) sorted by debtor and invoice id, rounded and
    packed as :class:`PackedForecast` (the CSV lines formatted here, so the workers do it in
    parallel); None for None."""
    import pyarrow as pa

    from pipelines.adapters.exports import csv_lines_and_ends

    if part is None:
        return None
    out, moments = part
    inv = out.sort_values(["debtor_id", "invoice_id"], kind="stable", ignore_index=True)
    debtors = inv.groupby("debtor_id", sort=True)["expected_cash_30d"].sum()
    pay_pd = inv.groupby("debtor_id", sort=True)["pay_pd"].max() if "pay_pd" in inv else None
    ids = inv["debtor_id"]
    change = (
        np.flatnonzero(np.r_[True, (ids.iloc[1:].to_numpy() != ids.iloc[:-1].to_numpy())]) if len(ids) else []
    )
    rows = np.diff(np.r_[change, len(ids)]).astype(np.int64)
    if len(rows) != len(debtors) or not ids.iloc[change].reset_index(drop=True).equals(
        pd.Series(debtors.index, dtype=ids.dtype)
    ):
        raise ValueError("payment-date forecast: a bucket's rows are not grouped by debtor_id")
    frame = _rounded(inv[INVOICE_COLUMNS])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    csv, csv_bytes = None, None
    lines, ends = csv_lines_and_ends(frame)
    if ends is not None:  # else pandas wrote the lines (a column of an unusual kind): the flow formats them
        last = ends[np.cumsum(rows) - 1] if len(rows) else ends[:0]
        csv_bytes = np.diff(np.r_[0, last]).astype(np.int64)
        csv = _csv_blocks(lines, csv_bytes)
    return PackedForecast(debtors, rows, _ipc(table), csv, csv_bytes, moments, pay_pd)


def _rounded(invoices: pd.DataFrame) -> pd.DataFrame:
    """``invoice_forecast`` as written: the probabilities rounded to 4 places."""
    return invoices.round({c: 4 for c in invoices.columns if c.startswith("p_paid_")})


def forecast_bucket(
    book: Any, k: int, as_of: pd.Timestamp, loaded: Any
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Bucket ``k``: (invoice forecast, cash moments per week and segment); None without invoices.
    Reads and prepares the bucket; the nightly's score pass calls :func:`forecast_state` instead,
    with the ledger it prepared for the features."""
    from features.ledger import day_number, ledger_state, prepare_ledger
    from pipelines.engine import has_ledger

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    ledger = prepare_ledger(part)
    return forecast_state(part.invoices, ledger, ledger_state(ledger, int(day_number(as_of))), loaded)


def forecast_state(
    invoices: pd.DataFrame | None, ledger: Any, state: Any, loaded: Any, definition: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The forecast of one bucket from its prepared ledger (``features.ledger.prepare_ledger``) and
    its ledger state at the as-of date; ``invoices``: the bucket's invoices table (for ``currency``).
    With ``definition`` (``features.params.DefaultDefinition``), each invoice's ``pay_pd``
    (:func:`pay_pd_of_invoices`) too. None without invoices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from features.paydate import open_invoices
    from models.paydate import (
        DEFAULT_LEVELS,
        SHAPE_ANCHOR,
        cash_amounts,
        cash_moments,
        cdf_at_days,
        forecast_frame,
        weekly_cdf,
    )

    if invoices is None or invoices.empty:
        return None
    T = state.T
    inv = open_invoices(ledger, state)
    F, ends, Fw = weekly_cdf(
        loaded.booster, inv, T, loaded.horizon_weeks, loaded.features, loaded.fine_grid()
    )
    rows = ledger.inv_row[inv["pos"].to_numpy(dtype=np.int64)]
    code = inv["code"].to_numpy(dtype=np.int64)
    if "currency" in invoices:
        currency = invoices["currency"].astype("string").to_numpy(dtype=object, na_value=None)[rows]
    else:
        currency = np.full(len(rows), None, dtype=object)
    segment = state.ledger.segment  # valid at T (debtor_history, features.master), as the features read it
    seg_codes = np.asarray(segment.codes, dtype=np.int64)[code]
    names = [str(c) for c in segment.categories]
    out = pd.DataFrame(
        {
            "invoice_id": pd.array(
                np.asarray(pc.take(ledger.invoice_ids, pa.array(rows)).to_pandas(), dtype=object),
                dtype="string",
            ),
            "debtor_id": pd.array(ledger.debtor_ids[code], dtype="string"),
            "open_amount": inv["open_amount"].to_numpy(dtype=np.float64),
            "currency": pd.array(currency, dtype="string"),
            "due_date": inv["due"].to_numpy(dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]"),
        }
    )
    anchor = inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64)
    out = pd.concat(
        [
            out,
            forecast_frame(
                F,
                T,
                ends,
                Fw,
                loaded.interval,
                loaded.shape(),
                anchor,
                loaded.weekday_profile(),
                getattr(loaded, "interval_levels", DEFAULT_LEVELS),
            ),
        ],
        axis=1,
    )
    out["segment"] = pd.array(
        np.where(seg_codes >= 0, np.array(names + [""], dtype=object)[seg_codes], None), dtype="string"
    )
    amount = cash_amounts(out["open_amount"].to_numpy(), getattr(loaded, "memo_share", 0.0))
    moments = cash_moments(amount, Fw, seg_codes, names, CASH_WEEKS)
    out["expected_cash_30d"] = amount * cdf_at_days(Fw, 30)
    if definition is not None:
        out["pay_pd"] = open_invoices_pay_pd(Fw, inv, T, definition)
    return out, moments


def open_invoices_pay_pd(Fw: np.ndarray, inv: pd.DataFrame, T: int, definition: Any) -> np.ndarray:
    """:func:`pay_pd_of_invoices` of ``features.paydate.open_invoices``' rows ``inv`` under the default
    definition ``definition`` (its threshold, horizon and ``min_open_amount``)."""
    return pay_pd_of_invoices(
        Fw,
        inv["due"].to_numpy(dtype=np.int64),
        T,
        definition.dpd_threshold,
        definition.horizon_days,
        inv["open_amount"].to_numpy(dtype=np.float64),
        getattr(definition, "min_open_amount", 0.0),
    )


def pay_pd_of_invoices(
    Fw: np.ndarray,
    due: np.ndarray,
    T: int,
    dpd_threshold: int,
    horizon_days: int,
    open_amount: np.ndarray | None = None,
    min_open_amount: float = 0.0,
) -> np.ndarray:
    """The payment-date model's own PD of each open invoice at day T: the probability that it is still
    unpaid on the day it reaches ``dpd_threshold`` days past due, for an invoice that reaches it
    within ``horizon_days`` after T (0 for the others: past the threshold already, or later than the
    horizon). ``Fw``: the weekly CDF of the payment day (``models.paydate.weekly_cdf``, linear within a
    week: ``models.paydate.cdf_at``); ``due``: due days (days since the epoch). A debtor's value is the
    largest over its open invoices (they are taken as moving together), as measured in BENCHMARKS.md
    (s9-queue, s10-paypd). With ``min_open_amount`` (the default definition's materiality threshold)
    an invoice of which at most that much is open (``open_amount``) never makes a default: 0."""
    from models.paydate import cdf_at

    reach = np.asarray(due, dtype=np.int64) + int(dpd_threshold) - int(T)
    within = (reach >= 1) & (reach <= int(horizon_days))
    if not len(reach):
        return np.zeros(0)
    if min_open_amount and open_amount is not None:
        within &= np.asarray(open_amount, dtype=np.float64) > min_open_amount
    return np.where(within, 1.0 - cdf_at(Fw, np.maximum(reach, 1)), 0.0)


def forecast_book(book: Any, as_of: dt.date, loaded: Any, engine: Any = None) -> PaydateForecast:
    """:func:`forecast_bucket` over every bucket, combined."""
    from pipelines.engine import map_buckets

    day = pd.Timestamp(as_of)
    parts = map_buckets(forecast_bucket, book, day, loaded, engine=engine, step="payment dates")
    return combine_forecasts(parts, as_of, loaded)


def combine_forecasts(
    parts: list[tuple[pd.DataFrame, pd.DataFrame] | None], as_of: dt.date, loaded: Any
) -> PaydateForecast:
    """The buckets' forecasts (:func:`forecast_state`, None for buckets without invoices) as one."""
    from features.ledger import day_number
    from models.paydate import cash_intervals

    parts = [p for p in parts if p is not None]
    if parts:
        inv = pd.concat([p[0] for p in parts], ignore_index=True)
        moments = pd.concat([p[1] for p in parts], ignore_index=True)
    else:
        inv = _empty_invoices()
        moments = pd.DataFrame(columns=["week", "segment", "expected_cash", "variance", "invoices"])
    inv = inv.sort_values(["debtor_id", "invoice_id"], kind="stable", ignore_index=True)
    per_debtor = inv.groupby("debtor_id", sort=True)["expected_cash_30d"].sum()
    cash = cash_intervals(moments, int(day_number(pd.Timestamp(as_of))), CASH_WEEKS, loaded.cash_shock_sd)
    return PaydateForecast(inv[INVOICE_COLUMNS], cash, per_debtor)


def _empty_invoices() -> pd.DataFrame:
    """The forecast of a book without open invoices (float columns, no rows)."""
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in [*INVOICE_COLUMNS, "expected_cash_30d"]})


class _Rows:
    """The rows of a packed bucket (:attr:`PackedForecast.table`), handed out in order."""

    def __init__(self, data: bytes) -> None:
        import pyarrow as pa

        self.reader = pa.ipc.open_stream(pa.py_buffer(data))
        self.buf: Any = None

    def take(self, n: int) -> Any:
        import pyarrow as pa

        pieces = []
        while n > 0:
            if self.buf is None or self.buf.num_rows == 0:
                self.buf = pa.Table.from_batches([self.reader.read_next_batch()])
            piece = self.buf.slice(0, n)
            self.buf = self.buf.slice(piece.num_rows)
            pieces.append(piece)
            n -= piece.num_rows
        return pa.concat_tables(pieces)


class _Lines:
    """The CSV bytes of a packed bucket (:attr:`PackedForecast.csv`), handed out in order."""

    def __init__(self, blocks: list[tuple[bytes, int]]) -> None:
        self.blocks = blocks
        self.next = 0
        self.buf = memoryview(b"")
        self.pos = 0

    def take(self, n: int) -> list[memoryview]:
        import pyarrow as pa

        pieces = []
        while n > 0:
            if self.pos == len(self.buf):
                data, size = self.blocks[self.next]
                self.next += 1
                self.buf = memoryview(pa.decompress(data, size, codec="zstd", asbytes=True))
                self.pos = 0
            piece = self.buf[self.pos : self.pos + n]
            self.pos += len(piece)
            pieces.append(piece)
            n -= len(piece)
        return pieces


def write_invoice_files(parts: list[PackedForecast | None], stage: Path) -> dict[str, Path]:
    """``invoice_forecast.parquet`` and ``.csv`` in ``stage`` from the buckets' packed forecasts,
    merged by debtor_id (each debtor's rows are in one bucket, already in invoice order): one
    Parquet row group (:data:`ROW_GROUP_ROWS`) at a time and the CSV lines the buckets formatted,
    so the memory is that of one row group, not of the book. The bytes are those of
    ``write_parquet`` / ``write_csv`` on the whole sorted frame (tests/pipelines/test_paydate_nightly.py)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.adapters.exports import CSV_BOM, csv_lines, write_csv, write_parquet
    from pipelines.adapters.files import atomic_path

    pq_path, csv_path = stage / f"{INVOICE_FILE}.parquet", stage / f"{INVOICE_FILE}.csv"
    found = [p for p in parts if p is not None]
    parts = [p for p in found if len(p.rows)]
    if not parts:  # no open invoice: the empty frame as the whole-frame writers got it
        empty = (
            pa.ipc.open_stream(pa.py_buffer(found[0].table)).read_all().to_pandas()
            if found
            else _rounded(_empty_invoices()[INVOICE_COLUMNS])
        )
        return {pq_path.name: write_parquet(empty, pq_path), csv_path.name: write_csv(empty, csv_path)}
    ids = pd.concat([p.debtors.index.to_series() for p in parts], ignore_index=True)
    if ids.duplicated().any():
        raise ValueError(
            "payment-date forecast: a debtor_id appears in two buckets (the buckets are cut by debtor)"
        )
    order = np.asarray(ids.argsort(kind="stable"))
    part_of = np.repeat(np.arange(len(parts)), [len(p.rows) for p in parts])[order]
    rows_of = np.concatenate([p.rows for p in parts])[order]
    row_part = np.repeat(part_of, rows_of)
    schema = pa.ipc.open_stream(pa.py_buffer(parts[0].table)).schema
    rows = [_Rows(p.table) for p in parts]
    lines_here = any(p.csv is None for p in parts)  # lines pandas wrote: formatted here, in row groups
    with ExitStack() as stack:
        writer = stack.enter_context(
            pq.ParquetWriter(stack.enter_context(atomic_path(pq_path)), schema, compression="zstd")
        )
        fh = (
            stack.enter_context(open(stack.enter_context(atomic_path(csv_path)), "wb"))
            if lines_here
            else None
        )
        for start in range(0, len(row_part), ROW_GROUP_ROWS):
            which = row_part[start : start + ROW_GROUP_ROWS]
            counts = np.bincount(which, minlength=len(parts))
            cat = pa.concat_tables([rows[j].take(int(counts[j])) for j in np.flatnonzero(counts)])
            at = np.empty(len(which), dtype=np.int64)
            at[np.argsort(which, kind="stable")] = np.arange(len(which))
            chunk = cat.take(pa.array(at)).combine_chunks()
            writer.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
            if fh is not None:
                fh.write((CSV_BOM if start == 0 else b"") + csv_lines(chunk.to_pandas(), header=start == 0))
    if lines_here:
        return {pq_path.name: pq_path, csv_path.name: csv_path}
    bytes_of = np.concatenate([p.csv_bytes for p in parts])[order]
    change = np.flatnonzero(np.r_[True, part_of[1:] != part_of[:-1]])
    run_part, run_bytes = part_of[change], np.add.reduceat(bytes_of, change)
    lines = [_Lines(p.csv) for p in parts]
    header = csv_lines(pd.DataFrame(columns=INVOICE_COLUMNS), header=True)
    with atomic_path(csv_path) as tmp, open(tmp, "wb") as fh:
        fh.write(CSV_BOM + header)
        for s in range(0, len(run_part), MERGE_RUNS):
            fh.write(_merged_lines(lines, run_part[s : s + MERGE_RUNS], run_bytes[s : s + MERGE_RUNS]))
    return {pq_path.name: pq_path, csv_path.name: csv_path}


def _merged_lines(lines: list[_Lines], part: np.ndarray, size: np.ndarray) -> Any:
    """The next ``size[r]`` bytes of bucket ``part[r]``'s lines for every run r, in run order: each
    bucket's bytes taken at once, then the runs copied out of them in compiled code
    (``pipelines.scoring.runs``; without numba, piece by piece)."""
    try:
        from pipelines.scoring.runs import gather_runs
    except (ImportError, RuntimeError):  # numba missing, or no cache directory it may write to
        return b"".join(
            piece for j, n in zip(part.tolist(), size.tolist(), strict=True) for piece in lines[j].take(n)
        )
    need = np.zeros(len(lines), dtype=np.int64)
    np.add.at(need, part, size)
    src = b"".join(piece for j in np.flatnonzero(need) for piece in lines[j].take(int(need[j])))
    by = np.argsort(part, kind="stable")  # the runs as they lie in src: by bucket, then in order
    starts = np.empty(len(part), dtype=np.int64)
    starts[by] = np.cumsum(size[by]) - size[by]
    return gather_runs(np.frombuffer(src, dtype=np.uint8), starts, size)


def forecast_rows(parts: list[PackedForecast | None], ids: Any) -> pd.DataFrame | None:
    """The rows of ``invoice_forecast`` for the debtors ``ids``, as reading them back from the
    written Parquet file gives them (by debtor, then invoice id; the file's column types), taken
    from the buckets' packed forecasts: only the buckets holding them are decoded, and the whole
    file is never read. None when no bucket holds a row (the caller reads the file)."""
    import pyarrow as pa

    found = [p for p in parts if p is not None and len(p.rows)]
    if not found:
        return None
    wanted = pd.Index(pd.array(ids, dtype="string"))
    tables, owners = [], []
    for p in found:
        hit = np.flatnonzero(p.debtors.index.isin(wanted))
        if not len(hit):
            continue
        starts = np.r_[0, np.cumsum(p.rows)[:-1]]
        at = np.concatenate([np.arange(starts[h], starts[h] + p.rows[h]) for h in hit])
        tables.append(pa.ipc.open_stream(pa.py_buffer(p.table)).read_all().take(pa.array(at)))
        owners.append(pd.Series(np.repeat(p.debtors.index[hit].to_numpy(), p.rows[hit]), dtype="string"))
    if not tables:
        return pa.ipc.open_stream(pa.py_buffer(found[0].table)).schema.empty_table().to_pandas()
    order = np.asarray(pd.concat(owners, ignore_index=True).argsort(kind="stable"))  # as the file's merge
    return pa.concat_tables(tables).take(pa.array(order)).to_pandas()


def _logger() -> Any:
    """The flow run's logger, or this module's outside a flow run."""
    import logging

    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def load_forecaster(tracking_uri: str | None) -> Any:
    """The ``ews-paydate`` champion (``pipelines.adapters.paydate_registry.load_paydate``), or None
    with a log line saying why the forecast is skipped (no champion, or features this code does not
    build): :func:`forecaster_status`'s model."""
    return forecaster_status(tracking_uri)[0]


STATEMENTS_NO_FORECAST = (
    "a statements book: monthly statements carry no invoice due dates to forecast payment dates from, "
    "so ews trains no payment-date model for it"
)
"""Why a statements book's runs have no payment-date forecast (the manifest, the report, the log). Before
session 34 they said "model 'ews-paydate' has no alias 'champion' ...: run `ews train --data DIR`", which
trains none for such a book (s34-walk)."""


def statement_balances(frame: pd.DataFrame) -> tuple[float, int] | None:
    """(sum, accounts) of the latest statements' balances above 0 (``st_balance_last``, as the exposure
    reads them: ``pipelines.scoring.score.statement_exposure``) over the rows of a feature frame of one
    as-of date (a debtor bucket's: one of a book with invoices and statements may hold statement accounts
    alone); None when it has no statement features. The payment-date model forecasts open invoices only
    (a statements book has none: no forecast at all), so these balances are not in ``cash_forecast.csv``
    (:func:`statements_not_forecast`)."""
    if "st_balance_last" not in frame:
        return None
    balance = np.clip(frame["st_balance_last"].to_numpy(dtype="float64", na_value=np.nan), 0.0, None)
    balance = np.nan_to_num(balance, nan=0.0)
    return float(balance.sum()), int((balance > 0).sum())


def statements_not_forecast(balances: tuple[float, int] | None, currency: str | None) -> str:
    """The sentence of a book with invoices and statements (the cash forecast workbook's "about" sheet,
    report.html's cash section, the log): the cash-in forecast covers the open invoices only, and how much
    of the statement accounts' balances it leaves out; "" without statement balances. Before session 39
    nothing said so: the 13 weeks' total read as the whole book's."""
    if not balances or not balances[1]:
        return ""
    from pipelines.ingest.decimals import shown_places

    total, accounts = balances
    amount = f"{total:,.{shown_places(currency)}f}" + (f" {currency}" if currency else "")
    return (
        f"The cash-in forecast covers the open invoices only: the statement accounts' balances, {amount} on "
        f"{accounts:,} account{'' if accounts == 1 else 's'} (their latest statements), are not forecast (a "
        "monthly statement carries no invoice due dates to predict payment dates from); add them by hand "
        "when you need the whole book's cash-in"
    )


def statements_book(tables: dict[str, Any]) -> bool:
    """True when an ingest's ``manifest.json`` ``tables`` accepted statements and no invoice (``ews train``
    skips the payment-date model of such a book: ``pipelines.commands.train.holds_invoices``)."""
    return bool((tables.get("statements") or {}).get("rows_accepted")) and not (
        tables.get("invoices") or {}
    ).get("rows_accepted")


def forecaster_status(tracking_uri: str | None, pinned: str | None = None) -> tuple[Any, str]:
    """(the ``ews-paydate`` champion, "") or (None, why the payment-date forecast is skipped: no
    champion, or features this code does not build), the why also logged; the nightly writes it into
    the manifest and the report. ``pinned``: the champion's version as the nightly resolved it at its
    start (:func:`pin_forecaster`), loaded by number so that a training promoting a new version while
    the run reads its feed does not pair it with the PD model of before (s38-attack)."""
    import dataclasses

    from features.paydate import FEATURES
    from pipelines.adapters.paydate_registry import load_paydate
    from pipelines.adapters.registry import CHAMPION, NoChampionError

    logger = _logger()
    try:
        loaded = load_paydate(pinned or CHAMPION, tracking_uri=tracking_uri)
    except NoChampionError as exc:
        why = str(exc).splitlines()[0]
        logger.info("payment dates and cash forecast skipped: %s", why)
        return None, why
    if pinned:  # loaded by number: it is the champion the run started with
        loaded = dataclasses.replace(loaded, alias=CHAMPION)
    unknown = [f for f in loaded.features if f not in FEATURES]
    if unknown:
        why = (
            f"{loaded.name} v{loaded.version} expects features this code does not build "
            f"({', '.join(unknown[:5])}); retrain with `ews train`"
        )
        logger.warning("payment dates and cash forecast skipped: %s", why)
        return None, why
    return loaded, ""


def pin_forecaster(tracking_uri: str | None) -> tuple[str | None, str]:
    """(the version the ``ews-paydate`` champion alias points at now, "") or (None, why there is none):
    the nightly's resolution at its start, read with the PD champion's (s38-attack)."""
    from pipelines.adapters.paydate_registry import resolve_paydate
    from pipelines.adapters.registry import NoChampionError

    try:
        return resolve_paydate(tracking_uri=tracking_uri), ""
    except NoChampionError as exc:
        return None, str(exc).splitlines()[0]


@dataclass(frozen=True)
class PaymentDateFiles:
    """What :func:`payment_date_files` wrote: the files by name, and ``expected_cash_30d`` per
    debtor_id (the collections queue's column, :func:`with_expected_cash`)."""

    files: dict[str, Path]
    expected_cash_30d: pd.Series
    pay_pd: pd.Series | None = None


@task(name="payment-date-files", cache_policy=NO_CACHE)
def payment_date_files(
    stage: Path,
    as_of: dt.date,
    loaded: Any,
    parts: list[PackedForecast | None],
    currency: str | None = None,
    statements: tuple[float, int] | None = None,
) -> PaymentDateFiles:
    """``invoice_forecast.parquet``/``.csv`` and ``cash_forecast.csv`` in ``stage`` from the
    buckets' packed forecasts (``parts``, made by ``loaded``, the ``ews-paydate`` champion), and
    ``expected_cash_30d`` per debtor. Needs nothing but the score pass: the nightly runs it beside
    the watchlist and queue steps (most of it is Arrow's work, which does not hold the GIL). ``statements``:
    a book with statements too, the balances the forecast leaves out (:func:`statement_balances`), said in
    the workbook's "about" sheet and the log (:func:`statements_not_forecast`)."""
    from features.ledger import day_number
    from models.paydate import cash_intervals
    from pipelines.adapters.exports import write_csv
    from pipelines.ingest.decimals import shown_places

    found = [p for p in parts if p is not None]
    moments = (
        pd.concat([p.moments for p in found], ignore_index=True)
        if found
        else pd.DataFrame(columns=["week", "segment", "expected_cash", "variance", "invoices"])
    )
    cash = cash_intervals(moments, int(day_number(pd.Timestamp(as_of))), CASH_WEEKS, loaded.cash_shock_sd)
    places = shown_places(currency)  # a 3-decimal currency (KWD, ...) keeps its third decimal, JPY none
    cash = cash.round({"expected_cash": places, "cash_low_80": places, "cash_high_80": places})
    if currency:
        cash["currency"] = pd.Series(currency, index=cash.index, dtype="string")
    files = write_invoice_files(found, stage)
    files[CASH_FILE] = write_csv(cash, stage / CASH_FILE)
    left_out = statements_not_forecast(statements, currency)
    files[CASH_XLSX] = write_cash_workbook(
        cash, stage / CASH_XLSX, as_of, currency, f"{loaded.name} v{loaded.version}", left_out
    )
    per_debtor = pd.concat([p.debtors for p in found]) if found else pd.Series(dtype="float64")
    _logger().info(
        forecast_line(
            int(sum(p.rows.sum() for p in found)),
            f"{loaded.name} v{loaded.version}",
            float(cash.loc[cash["segment"] == "all", "expected_cash"].sum()),
            currency,
        )
    )
    if left_out:
        _logger().warning("%s", left_out)
    return PaymentDateFiles(files, per_debtor, pay_pd_by_debtor(found))


SEGMENT_COLUMN = "expected_cash:"  # + the segment: cash_forecast.xlsx's column of one segment
NO_SEGMENT = "(no segment)"  # the column of the debtors without a segment (cash_intervals leaves them out)
XLSX_COLUMNS_MAX = 16_384  # Excel's columns per sheet


def cash_weeks(cash: pd.DataFrame) -> pd.DataFrame:
    """``cash_forecast.xlsx``'s rows: one per week, the whole book's expected cash-in and its 80 %
    interval, then each segment's expected cash-in in a column of its own (``expected_cash:<segment>``,
    0 in a week without its invoices) and, when some debtors have no segment, their cash
    (``expected_cash:(no segment)``: the book's less the segments'). The CSV's row per week and segment
    would double every week's cash in a totals row; here the columns add up to the book's. More segments
    than Excel's columns hold: no segment columns (:func:`write_cash_workbook` says so).

    One pivot over the rows: before, each segment filtered every row (3,000 segments: 22 CPU-s; the
    columns past Excel's 16,384th were dropped without a word, s30-review)."""
    book = cash.loc[cash["segment"] == "all"]
    out = book[["week", "week_start", "week_end", "expected_cash", "cash_low_80", "cash_high_80"]]
    out = out.reset_index(drop=True)
    named = cash.loc[cash["segment"] != "all"]
    names = named["segment"].astype(str)
    if not len(named) or names.nunique() + 1 > XLSX_COLUMNS_MAX - len(out.columns):
        return out
    per = (
        pd.DataFrame(
            {"week": named["week"].to_numpy(), "segment": names.to_numpy(), "cash": named["expected_cash"]}
        )
        .pivot_table(index="week", columns="segment", values="cash", aggfunc="sum", sort=True)
        .reindex(out["week"])
        .fillna(0.0)
    )
    cols = {SEGMENT_COLUMN + str(c): per[c].to_numpy(dtype="float64") for c in per.columns}
    whole = out["expected_cash"].to_numpy(dtype="float64")
    rest = whole - per.to_numpy(dtype="float64").sum(axis=1)
    rest = np.where(np.abs(rest) > 1e-9 * np.maximum(np.abs(whole), 1.0), np.maximum(rest, 0.0), 0.0)
    if rest.any():
        cols[SEGMENT_COLUMN + NO_SEGMENT] = rest
    return pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)


def write_cash_workbook(
    cash: pd.DataFrame, path: Path, as_of: dt.date, currency: str | None, model: str, left_out: str = ""
) -> Path:
    """``cash_forecast.xlsx``: :func:`cash_weeks` with human headers, the currency's decimals, dates as
    dates and a totals row of the expected cash-in (the book's and each segment's) over the weeks; the
    interval's ends are per week and do not add up, so they have none. An "about" sheet says so, and
    ``left_out`` (:func:`statements_not_forecast`) after it."""
    from pipelines.adapters.exports import write_xlsx
    from pipelines.ingest.decimals import shown_places

    weeks = cash_weeks(cash)
    code = f" ({currency})" if currency else ""
    segments = [c for c in weeks.columns if c.startswith(SEGMENT_COLUMN)]
    labels = {
        "week": "Week",
        "week_start": "From",
        "week_end": "To",
        "expected_cash": f"Expected cash-in{code}",
        "cash_low_80": f"Low end of the 80 % interval{code}",
        "cash_high_80": f"High end of the 80 % interval{code}",
        **{c: f"{c.removeprefix(SEGMENT_COLUMN)}: expected cash-in{code}" for c in segments},
    }
    named = cash.loc[cash["segment"] != "all", "segment"].astype(str).nunique()
    each = (
        "each segment's expected cash-in (the segments"
        + (f" and {NO_SEGMENT}, the debtors without one," if SEGMENT_COLUMN + NO_SEGMENT in segments else "")
        + " add up to the whole book)"
        if segments or not named
        else f"no column per segment: the book's {named:,} segments do not fit in an Excel sheet's "
        f"{XLSX_COLUMNS_MAX:,} columns (cash_forecast.csv has them)"
    )
    note = (
        f"Expected cash-in per week over the next {len(weeks)} weeks, as of {as_of}, from the open invoices' "
        f"predicted payment dates ({model}). One row per week: the whole book and its 80 % interval, then "
        f"{each}. The totals row sums the "
        "expected cash-in over the weeks; the interval's ends hold for one week each and do not add up, so "
        "they have no total. "
        + f"{amounts_in(currency)} "
        + "cash_forecast.csv holds the same weeks with each segment's interval."
        + (f" {left_out}." if left_out else "")
    )
    return write_xlsx(
        weeks,
        path,
        "cash forecast",
        dt.datetime.combine(as_of, dt.time()),
        note=note,
        labels=labels,
        totals=("expected_cash", *segments),
        places=shown_places(currency),
        amounts=("expected_cash", "cash_low_80", "cash_high_80", *segments),
    )


def forecast_line(invoices: int, model: str, cash: float, currency: str | None) -> str:
    """The nightly log's line on the payment-date forecast, counts and amounts as the console prints them
    (before session 26: '2393 open invoices ...; expected cash in 13 weeks 13692482.03', no currency)."""
    from pipelines.ingest.decimals import shown_places

    amount = f"{cash:,.{shown_places(currency)}f}" + (f" {currency}" if currency else "")
    return f"payment dates: {invoices:,} open invoices forecast with {model}; expected cash in the next 13 weeks {amount}"


def pay_pd_by_debtor(parts: list[PackedForecast | None]) -> pd.Series | None:
    """``pay_pd`` per debtor_id over the buckets' packed forecasts (None when they carry none)."""
    found = [p.pay_pd for p in parts if p is not None and p.pay_pd is not None]
    if not found:
        return None
    return pd.concat(found).sort_index(kind="stable")


def with_expected_cash(
    queue: pd.DataFrame, per_debtor: pd.Series, pay_pd: pd.Series | None = None, places: int = 2
) -> pd.DataFrame:
    """The collections ``queue`` with ``expected_cash_30d`` (``per_debtor``, rounded to ``places``
    decimals, the reporting currency's: ``pipelines.ingest.decimals.money_places``; 0 for debtors
    without open invoices) and, when given, ``pay_pd`` (per debtor_id, rounded to 4 places as the
    ``p_paid_*`` of ``invoice_forecast``; 0 for debtors without open invoices)."""
    out = queue.copy()
    if "debtor_id" in out:
        ids = out["debtor_id"].astype("string")
        out["expected_cash_30d"] = ids.map(per_debtor).astype("float64").fillna(0.0).round(places).to_numpy()
        if pay_pd is not None:
            out["pay_pd"] = ids.map(pay_pd).astype("float64").fillna(0.0).round(4).to_numpy()
    return out


@task(name="payment-dates", cache_policy=NO_CACHE)
def paydate_outputs(
    stage: Path,
    book: Any,
    as_of: dt.date,
    queue: pd.DataFrame,
    tracking_uri: str | None,
    currency: str | None = None,
    engine: Any = None,
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """The forecast in its own pass over the book (the nightly makes it in the score pass instead
    and calls :func:`payment_date_files`): with an ``ews-paydate`` champion, every bucket read and
    forecast, ``invoice_forecast.parquet``/``.csv`` and ``cash_forecast.csv`` written into ``stage``,
    and the collections ``queue`` returned with ``expected_cash_30d`` (0 for debtors without open
    invoices), with the files written. Without one: the queue unchanged, no files, and a log line
    saying so."""
    from pipelines.engine import map_buckets

    loaded = load_forecaster(tracking_uri)
    if loaded is None:
        return queue, {}
    parts = map_buckets(
        _packed_bucket, book, pd.Timestamp(as_of), loaded, engine=engine, step="payment dates"
    )
    from pipelines.ingest.decimals import money_places

    written = payment_date_files.fn(stage, as_of, loaded, parts, currency)
    return with_expected_cash(queue, written.expected_cash_30d, places=money_places(currency)), written.files


def _packed_bucket(book: Any, k: int, as_of: pd.Timestamp, loaded: Any) -> PackedForecast | None:
    """:func:`forecast_bucket` packed (:func:`pack_forecast`) where it ran."""
    return pack_forecast(forecast_bucket(book, k, as_of, loaded))
