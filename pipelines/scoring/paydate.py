"""Nightly payment-date outputs: ``invoice_forecast.parquet`` / ``.csv``, ``cash_forecast.csv`` and
each debtor's ``expected_cash_30d`` in the collections queue, from the ``ews-paydate`` champion.

Per debtor bucket (``pipelines.engine.map_buckets``): the open invoices at the as-of date and their
features from one ledger state (``features.paydate.open_invoices``), weekly hazards in chunks
(``models.paydate.predict_hazards``), the per-invoice forecast and the bucket's cash moments per week
and segment. Buckets are combined by concatenation (invoices) and by summing moments (cash), so the
work is vectorised and bounded by one bucket at any book size. Without a champion the nightly runs
on and logs that the forecast was skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

__all__ = [
    "CASH_FILE",
    "INVOICE_COLUMNS",
    "INVOICE_FILE",
    "PaydateForecast",
    "forecast_book",
    "forecast_bucket",
    "paydate_outputs",
]

INVOICE_FILE = "invoice_forecast"
CASH_FILE = "cash_forecast.csv"
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


@dataclass(frozen=True)
class PaydateForecast:
    """The whole book's forecast: ``invoices`` (:data:`INVOICE_COLUMNS`, by debtor then invoice id),
    ``cash`` (``cash_forecast.csv``) and ``expected_cash_30d`` per debtor_id."""

    invoices: pd.DataFrame
    cash: pd.DataFrame
    expected_cash_30d: pd.Series


def forecast_bucket(
    book: Any, k: int, as_of: pd.Timestamp, loaded: Any
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Bucket ``k``: (invoice forecast, cash moments per week and segment); None without invoices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from features.ledger import day_number, ledger_state, prepare_ledger
    from features.paydate import open_invoices
    from models.paydate import cash_moments, cdf_at_days, cdf_weeks, forecast_frame, predict_hazards
    from pipelines.engine import has_ledger

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    ledger = prepare_ledger(part)
    T = int(day_number(as_of))
    inv = open_invoices(ledger, ledger_state(ledger, T))
    F = cdf_weeks(predict_hazards(loaded.booster, inv, T, loaded.horizon_weeks, features=loaded.features))
    rows = ledger.inv_row[inv["pos"].to_numpy(dtype=np.int64)]
    code = inv["code"].to_numpy(dtype=np.int64)
    if "currency" in part.invoices:
        currency = part.invoices["currency"].astype("string").to_numpy(dtype=object, na_value=None)[rows]
    else:
        currency = np.full(len(rows), None, dtype=object)
    seg_codes = np.asarray(ledger.segment.codes, dtype=np.int64)[code]
    names = [str(c) for c in ledger.segment.categories]
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
    out = pd.concat([out, forecast_frame(F, T)], axis=1)
    out["segment"] = pd.array(
        np.where(seg_codes >= 0, np.array(names + [""], dtype=object)[seg_codes], None), dtype="string"
    )
    amount = out["open_amount"].to_numpy()
    moments = cash_moments(amount, F, seg_codes, names, CASH_WEEKS)
    out["expected_cash_30d"] = amount * cdf_at_days(F, 30)
    return out, moments


def forecast_book(book: Any, as_of: dt.date, loaded: Any, engine: Any = None) -> PaydateForecast:
    """:func:`forecast_bucket` over every bucket, combined."""
    from features.ledger import day_number
    from models.paydate import cash_intervals
    from pipelines.engine import map_buckets

    day = pd.Timestamp(as_of)
    parts = [
        r
        for r in map_buckets(forecast_bucket, book, day, loaded, engine=engine, step="payment dates")
        if r is not None
    ]
    if parts:
        inv = pd.concat([p[0] for p in parts], ignore_index=True)
        moments = pd.concat([p[1] for p in parts], ignore_index=True)
    else:
        inv = pd.DataFrame({c: pd.Series(dtype="float64") for c in [*INVOICE_COLUMNS, "expected_cash_30d"]})
        moments = pd.DataFrame(columns=["week", "segment", "expected_cash", "variance", "invoices"])
    inv = inv.sort_values(["debtor_id", "invoice_id"], kind="stable", ignore_index=True)
    per_debtor = inv.groupby("debtor_id", sort=True)["expected_cash_30d"].sum()
    cash = cash_intervals(moments, int(day_number(day)), CASH_WEEKS, loaded.cash_shock_sd)
    return PaydateForecast(inv[INVOICE_COLUMNS], cash, per_debtor)


def _logger() -> Any:
    """The flow run's logger, or this module's outside a flow run."""
    import logging

    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


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
    """With an ``ews-paydate`` champion: write ``invoice_forecast.parquet``/``.csv`` and
    ``cash_forecast.csv`` into ``stage`` and return the collections ``queue`` with
    ``expected_cash_30d`` (0 for debtors without open invoices) and the files written. Without one:
    the queue unchanged, no files, and a log line saying so."""
    from pipelines.adapters.exports import write_csv, write_parquet
    from pipelines.adapters.paydate_registry import load_paydate
    from pipelines.adapters.registry import NoChampionError

    logger = _logger()
    try:
        loaded = load_paydate(tracking_uri=tracking_uri)
    except NoChampionError as exc:
        logger.info("payment dates and cash forecast skipped: %s", str(exc).splitlines()[0])
        return queue, {}
    from features.paydate import FEATURES

    unknown = [f for f in loaded.features if f not in FEATURES]
    if unknown:
        logger.warning(
            "payment dates and cash forecast skipped: %s v%s expects features this code does not build (%s); "
            "retrain with `ews train`",
            loaded.name,
            loaded.version,
            ", ".join(unknown[:5]),
        )
        return queue, {}
    fc = forecast_book(book, as_of, loaded, engine)
    cash = fc.cash.round({"expected_cash": 2, "cash_low_80": 2, "cash_high_80": 2})
    invoices = fc.invoices.round({c: 4 for c in fc.invoices.columns if c.startswith("p_paid_")})
    if currency:
        cash["currency"] = pd.Series(currency, index=cash.index, dtype="string")
    files = {
        f"{INVOICE_FILE}.parquet": write_parquet(invoices, stage / f"{INVOICE_FILE}.parquet"),
        f"{INVOICE_FILE}.csv": write_csv(invoices, stage / f"{INVOICE_FILE}.csv"),
        CASH_FILE: write_csv(cash, stage / CASH_FILE),
    }
    out = queue.copy()
    if "debtor_id" in out:
        ids = out["debtor_id"].astype("string")
        out["expected_cash_30d"] = (
            ids.map(fc.expected_cash_30d).astype("float64").fillna(0.0).round(2).to_numpy()
        )
    logger.info(
        "payment dates: %d open invoices forecast with %s v%s; expected cash in 13 weeks %.2f",
        len(invoices),
        loaded.name,
        loaded.version,
        float(cash.loc[cash["segment"] == "all", "expected_cash"].sum()),
    )
    return out, files
