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
    "forecast_state",
    "combine_forecasts",
    "load_forecaster",
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
    invoices: pd.DataFrame | None, ledger: Any, state: Any, loaded: Any
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The forecast of one bucket from its prepared ledger (``features.ledger.prepare_ledger``) and
    its ledger state at the as-of date; ``invoices``: the bucket's invoices table (for ``currency``).
    None without invoices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from features.paydate import open_invoices
    from models.paydate import cash_moments, cdf_at_days, forecast_frame, weekly_cdf

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
    out = pd.concat([out, forecast_frame(F, T, ends, Fw)], axis=1)
    out["segment"] = pd.array(
        np.where(seg_codes >= 0, np.array(names + [""], dtype=object)[seg_codes], None), dtype="string"
    )
    amount = out["open_amount"].to_numpy()
    moments = cash_moments(amount, Fw, seg_codes, names, CASH_WEEKS)
    out["expected_cash_30d"] = amount * cdf_at_days(Fw, 30)
    return out, moments


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
        inv = pd.DataFrame({c: pd.Series(dtype="float64") for c in [*INVOICE_COLUMNS, "expected_cash_30d"]})
        moments = pd.DataFrame(columns=["week", "segment", "expected_cash", "variance", "invoices"])
    inv = inv.sort_values(["debtor_id", "invoice_id"], kind="stable", ignore_index=True)
    per_debtor = inv.groupby("debtor_id", sort=True)["expected_cash_30d"].sum()
    cash = cash_intervals(moments, int(day_number(pd.Timestamp(as_of))), CASH_WEEKS, loaded.cash_shock_sd)
    return PaydateForecast(inv[INVOICE_COLUMNS], cash, per_debtor)


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
    build)."""
    from features.paydate import FEATURES
    from pipelines.adapters.paydate_registry import load_paydate
    from pipelines.adapters.registry import NoChampionError

    logger = _logger()
    try:
        loaded = load_paydate(tracking_uri=tracking_uri)
    except NoChampionError as exc:
        logger.info("payment dates and cash forecast skipped: %s", str(exc).splitlines()[0])
        return None
    unknown = [f for f in loaded.features if f not in FEATURES]
    if unknown:
        logger.warning(
            "payment dates and cash forecast skipped: %s v%s expects features this code does not build (%s); "
            "retrain with `ews train`",
            loaded.name,
            loaded.version,
            ", ".join(unknown[:5]),
        )
        return None
    return loaded


@task(name="payment-dates", cache_policy=NO_CACHE)
def paydate_outputs(
    stage: Path,
    book: Any,
    as_of: dt.date,
    queue: pd.DataFrame,
    tracking_uri: str | None,
    currency: str | None = None,
    engine: Any = None,
    scored: tuple[Any, list[tuple[pd.DataFrame, pd.DataFrame] | None]] | None = None,
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """With an ``ews-paydate`` champion: write ``invoice_forecast.parquet``/``.csv`` and
    ``cash_forecast.csv`` into ``stage`` and return the collections ``queue`` with
    ``expected_cash_30d`` (0 for debtors without open invoices) and the files written. Without one:
    the queue unchanged, no files, and a log line saying so.

    ``scored``: (the champion from :func:`load_forecaster`, the buckets' forecasts made in the score
    pass, ``pipelines.scoring.score.score_bucket(..., paydate=)``): then no bucket is read again;
    without it, every bucket is read and forecast here."""
    from pipelines.adapters.exports import write_csv, write_parquet

    logger = _logger()
    if scored is not None:
        loaded, parts = scored
        fc = combine_forecasts(parts, as_of, loaded)
    else:
        loaded = load_forecaster(tracking_uri)
        if loaded is None:
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
