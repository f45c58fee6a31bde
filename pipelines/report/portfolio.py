"""The portfolio part of ``report.html``: DSO and aging at the last month-ends, expected loss by band
and segment, the PD distribution across runs, and a page per watchlist debtor.

DSO and aging come from the ledger state at each month-end (``features.portfolio``), one debtor
bucket at a time, summed over the buckets. In the nightly the scoring pass computes them, from the
ledger it prepares for the features anyway (:func:`figure_dates` says which dates; the result comes
back as :class:`BookSums`); only the open invoices of the debtors given a page are read again, for
those debtors alone (``Book.read_debtors``). Without sums, :func:`build_portfolio` maps its own
pass over the buckets (:func:`pipelines.engine.map_buckets`). The PD trends and each debtor's PD history read the earlier runs' ``scores.parquet``
in the output folder (the last ``report.history_runs`` runs before as-of). The payment-date
forecast (``invoice_forecast.parquet``), the cash forecast (``cash_forecast.csv``) and the credit
limits (``credit_limits.csv``) are read from the run's staging folder when the run wrote them; a
section whose file is absent is left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.portfolio import (
    AGING_BUCKETS,
    PortfolioParts,
    combine_parts,
    dso_table,
    expected_loss_by,
    portfolio_bucket,
    report_dates,
    statement_parts,
)
from features.tables import Portfolio
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.queue import lgd_for
from pipelines.scoring.watchlist import DEFAULT_BAND, HISTORY, NO_BAND_WORDS

__all__ = [
    "BookSums",
    "PortfolioView",
    "build_portfolio",
    "debtor_history",
    "detail_items",
    "figure_dates",
    "pd_history",
    "portfolio_parts",
    "read_run_outputs",
]

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
_NO_INVOICES = pd.DataFrame(
    {
        "invoice_id": pd.Series([], dtype="string"),
        "debtor_id": pd.Series([], dtype="string"),
        "issue_date": pd.Series([], dtype="datetime64[ns]"),
        "due_date": pd.Series([], dtype="datetime64[ns]"),
        "amount": pd.Series([], dtype="float64"),
    }
)


@dataclass(frozen=True)
class PortfolioView:
    """Everything the portfolio sections of the report show (amounts in ``currency``).

    ``dso``/``aging``: per date (:func:`features.portfolio.dso_table` / ``aging_table``);
    ``el_band``/``el_segment``: :func:`features.portfolio.expected_loss_by`; ``pd_trend``: one row
    per run (``as_of``, ``debtors``, ``p10`` ... ``p90``, ``mean`` over live debtors, ``share_<band>``);
    ``history``: ``as_of``, ``debtor_id``, ``pd``, ``band`` of the detail debtors across runs;
    ``open_items``: their open invoices at as-of; ``limits``: their credit limit from the debtors
    table; ``statements``: the book holds monthly statements, not invoices. The optional frames
    are the run's own outputs (None when the run did not write them).
    ``files``: what :func:`build_portfolio` wrote into the run (``portfolio_figures.csv``).
    """

    as_of: str
    currency: str | None
    window_days: int
    dso: pd.DataFrame
    aging: pd.DataFrame
    el_band: pd.DataFrame
    el_segment: pd.DataFrame
    pd_trend: pd.DataFrame
    history: pd.DataFrame
    open_items: pd.DataFrame
    limits: pd.Series
    invoice_forecast: pd.DataFrame | None = None
    cash_forecast: pd.DataFrame | None = None
    credit_limits: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    statements: bool = False  # a statements book: no invoices to show on the debtor pages
    mixed: bool = False  # invoices and statements: a debtor's latest statement counts beside its invoices
    # what paid_on_p10 / paid_on_p90 are, in words (the forecasting version's levels; "" without one)
    interval_words: str = ""
    # the forecasting version's weekly cash error on held-out weeks, in a sentence (""; without one)
    cash_error: str = ""
    # a book with statements too: the statement balances the cash-in forecast leaves out, in a sentence
    # (``pipelines.scoring.paydate.statements_not_forecast``; "" elsewhere)
    cash_left_out: str = ""


def _bucket_parts(
    book: Any, k: int, dates: list[pd.Timestamp], window_days: int, ids: pd.Index
) -> PortfolioParts | None:
    """:func:`features.portfolio.portfolio_bucket` on bucket ``k`` of ``book`` (None without ledger rows)."""
    from pipelines.engine import has_ledger

    if book.folder is not None:  # only the tables the figures read (no events)
        from pipelines.adapters.files import read_portfolio

        part = read_portfolio(book.folder, bucket=k, tables=("invoices", "payments", "debtors", "statements"))
    else:
        part = book.read(k)
    if part.invoices is None or part.invoices.empty:
        if part.statements is not None and not part.statements.empty:  # a statements book
            return statement_parts(part.statements, dates, window_days, ids)
        return None
    if not has_ledger(part):
        return None
    parts = portfolio_bucket(part, dates, window_days, ids)
    if part.statements is not None and not part.statements.empty:  # both: two accounts, the sums add up
        parts = combine_parts([parts, statement_parts(part.statements, dates, window_days)])
    return parts


def portfolio_parts(
    book: Any, dates: list[pd.Timestamp], window_days: int, ids: pd.Index, engine: Any = None
) -> PortfolioParts | None:
    """The portfolio sums of the whole book, bucket by bucket (None: the book has no invoices)."""
    from pipelines.engine import map_buckets

    found = map_buckets(_bucket_parts, book, dates, window_days, ids, engine=engine, step="portfolio")
    found = [p for p in found if p is not None]
    return combine_parts(found) if found else None


@dataclass(frozen=True)
class BookSums:
    """The portfolio sums of the whole book at ``dates``, computed by the scoring pass
    (``pipelines.scoring.score.score_bucket``); ``parts`` None when the book has no invoices or statements."""

    dates: tuple[pd.Timestamp, ...]
    parts: PortfolioParts | None


def detail_items(
    book: Any, ids: pd.Index, day: pd.Timestamp, window_days: int
) -> tuple[pd.DataFrame, pd.Series]:
    """(open invoices at ``day``, credit limits) of the debtors ``ids``, as
    :func:`portfolio_parts` gives them, from those debtors' rows only: a debtor's ledger state
    depends on its own rows alone."""
    found = None
    if len(ids):
        part = book.read_debtors(ids, ("invoices", "payments", "debtors"))
        if part.invoices is not None and not part.invoices.empty:
            found = combine_parts([portfolio_bucket(part, [day], window_days, ids)])
    if found is None:
        empty = portfolio_bucket(Portfolio(invoices=_NO_INVOICES), [day], window_days)
        return empty.open_items, empty.limits
    return found.open_items, found.limits


FIGURES_FILE = "portfolio_figures.csv"
FIGURE_COLUMNS = [
    "receivables",
    *AGING_BUCKETS,
    "open_invoices",
    "sales_window",
    "dso_standard",
    "dso_countback",
    "countback_capped",
    "window_days",
]


def _figures(parts: PortfolioParts, window_days: int) -> pd.DataFrame:
    """Per date: receivables, the aging buckets, DSO both ways (:data:`FIGURE_COLUMNS`)."""
    out = parts.at[[*AGING_BUCKETS, "open_invoices"]].join(dso_table(parts, window_days))
    out["window_days"] = window_days
    return out[FIGURE_COLUMNS]


def cached_figures(prev_dir: Path | None, dates: list[pd.Timestamp], window_days: int) -> pd.DataFrame:
    """The month-ends of ``dates`` that the previous run (``prev_dir``) already computed, from its
    ``portfolio_figures.csv`` (same DSO window only): a month-end's figures use rows dated up to that
    day, so a later run would find the same; each month-end is computed by the first run after it.
    Empty when there is no previous run or file (every date is then computed from the ledger)."""
    empty = pd.DataFrame(columns=FIGURE_COLUMNS, index=pd.DatetimeIndex([], name="date"))
    path = None if prev_dir is None else Path(prev_dir) / FIGURES_FILE
    if path is None or not path.exists():
        return empty
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", parse_dates=["date"])
    except (OSError, ValueError):
        return empty
    if not {"date", *FIGURE_COLUMNS} <= set(frame.columns):
        return empty
    ends = {d for d in dates if d.is_month_end}
    keep = frame["date"].isin(ends) & (frame["window_days"] == window_days)
    out = frame.loc[keep].drop_duplicates("date").set_index("date")[FIGURE_COLUMNS]
    return out.astype({"open_invoices": "int64", "countback_capped": "bool", "window_days": "int64"})


def _runs_before(out_dir: Path | None, as_of: str, limit: int) -> list[Path]:
    from pipelines.adapters.publish import published_runs

    if out_dir is None:
        return []
    return [p for p in published_runs(Path(out_dir)) if p.name < as_of][-limit:]


def _trend_row(
    as_of: str,
    pds: np.ndarray,
    live: np.ndarray,
    bands: pd.Series,
    names: list[str],
    seen: np.ndarray | None = None,
) -> dict:
    """``seen``: per debtor, an invoice, a payment or a statement by the run's date (its scores'
    ``has_history``; None: every debtor): a live debtor without one (a prospect, its PD read from empty
    features) is left out of the quantiles and the band shares, as of the band counts (session 39; before,
    20 prospects of a mixed book sat in band A)."""
    seen = np.ones(len(pds), dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    x = pds[live & seen]
    row: dict[str, Any] = {"as_of": as_of, "debtors": int(len(pds)), "live": int(live.sum())}
    qs = np.quantile(x, QUANTILES) if len(x) else [np.nan] * len(QUANTILES)
    row.update({f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, qs, strict=True)})
    row["mean"] = float(x.mean()) if len(x) else np.nan
    kept = ~(live & ~seen)
    shares = (bands[kept] if len(bands) == len(kept) else bands).astype("string").value_counts(normalize=True)
    row.update({f"share_{b}": float(shares.get(b, 0.0)) for b in names})
    return row


def pd_history(
    out_dir: Path | None, as_of: str, scored: pd.DataFrame, names: list[str], runs: int
) -> pd.DataFrame:
    """One row per run (the last ``runs`` earlier runs in ``out_dir``, then today's ``scored``): the
    PD quantiles and mean over live debtors and the share of debtors per band (``names``), leaving out the
    live debtors without a history (:func:`_trend_row`)."""
    rows = []
    for run in _runs_before(out_dir, as_of, runs):
        path = run / "scores.parquet"
        cols = [c for c in ("pd", "band", "in_default", HISTORY) if c in pq.read_schema(path).names]
        if "pd" not in cols:
            continue
        t = pq.read_table(path, columns=cols).to_pandas()
        live = ~t["in_default"].astype(bool).to_numpy() if "in_default" in t else np.ones(len(t), bool)
        bands = t["band"] if "band" in t else pd.Series([], dtype="string")
        seen = t[HISTORY].fillna(True).astype(bool).to_numpy() if HISTORY in t else None
        rows.append(
            _trend_row(
                run.name, t["pd"].to_numpy(dtype="float64"), live, bands.reset_index(drop=True), names, seen
            )
        )
    live = ~scored["in_default"].astype(bool).to_numpy()
    seen = scored[HISTORY].fillna(True).astype(bool).to_numpy() if HISTORY in scored else None
    bands = scored["band"].reset_index(drop=True)
    rows.append(_trend_row(as_of, scored["pd"].to_numpy(dtype="float64"), live, bands, names, seen))
    return pd.DataFrame(rows)


def debtor_history(
    out_dir: Path | None, as_of: str, scored: pd.DataFrame, ids: pd.Index, runs: int
) -> pd.DataFrame:
    """``as_of``, ``debtor_id``, ``pd``, ``band`` of the debtors ``ids`` in the last ``runs`` earlier
    runs and today (sorted by debtor, then date)."""
    wanted = pa.array(pd.Index(ids).astype(str).tolist(), pa.string())
    frames = []
    for run in _runs_before(out_dir, as_of, runs):
        path = run / "scores.parquet"
        if not {"debtor_id", "pd", "band"} <= set(pq.read_schema(path).names):
            continue
        t = pq.read_table(path, columns=["debtor_id", "pd", "band"])
        ids_col = pc.cast(t["debtor_id"], pa.string())
        t = t.filter(pc.is_in(ids_col, value_set=wanted)).to_pandas()
        frames.append(t.assign(as_of=run.name))
    today = scored.loc[scored["debtor_id"].isin(ids), ["debtor_id", "pd", "band"]].assign(as_of=as_of)
    frames.append(today)
    out = pd.concat(frames, ignore_index=True)
    out["debtor_id"] = out["debtor_id"].astype("string")
    out["band"] = out["band"].astype("string")
    return out[["as_of", "debtor_id", "pd", "band"]].sort_values(["debtor_id", "as_of"], ignore_index=True)


_LIMIT_COLUMNS = (
    "credit_limit_current",
    "credit_limit_recommended",
    "credit_limit_conservative",
    "credit_limit_aggressive",
    "credit_limit_rule",
)


def read_run_outputs(
    stage: Path | None, ids: pd.Index | None = None, skip_limits: bool = False, skip_forecast: bool = False
) -> dict[str, pd.DataFrame | None]:
    """The run's payment-date forecast (the invoices of ``ids`` only, when given), cash forecast and
    credit limits from ``stage`` (None when absent; ``skip_limits``: not ``credit_limits.csv``, the
    scores carry the limits; ``skip_forecast``: not ``invoice_forecast.parquet``, the caller has
    those rows). CSVs are read as ews writes them (UTF-8 with BOM)."""
    out: dict[str, pd.DataFrame | None] = {
        "invoice_forecast": None,
        "cash_forecast": None,
        "credit_limits": None,
    }
    if stage is None:
        return out
    stage = Path(stage)
    path = stage / "invoice_forecast.parquet"
    if not skip_forecast and path.exists():
        table = pq.read_table(path)
        if ids is not None and "debtor_id" in table.column_names:
            wanted = pa.array(pd.Index(ids).astype(str).tolist(), pa.string())
            table = table.filter(pc.is_in(pc.cast(table["debtor_id"], pa.string()), value_set=wanted))
        out["invoice_forecast"] = table.to_pandas()
    if (stage / "cash_forecast.csv").exists():
        out["cash_forecast"] = pd.read_csv(stage / "cash_forecast.csv", encoding="utf-8-sig")
    if not skip_limits and (stage / "credit_limits.csv").exists():
        out["credit_limits"] = pd.read_csv(
            stage / "credit_limits.csv", encoding="utf-8-sig", dtype={"debtor_id": "string"}
        )
    return out


def figure_dates(
    as_of: dt.date, cfg: NightlyConfig, out_dir: Path | None
) -> tuple[list[pd.Timestamp], pd.DataFrame]:
    """(the dates whose DSO and aging must be computed from the ledger, the figures of the other
    report dates read from the previous run in ``out_dir``): as-of itself always."""
    rc = cfg.report
    day = pd.Timestamp(as_of)
    dates = report_dates(day, rc.months)
    prev_dir = _runs_before(out_dir, day.date().isoformat(), 1)
    cached = cached_figures(prev_dir[0] if prev_dir else None, dates[:-1], rc.dso_window_days)
    return [d for d in dates if d not in cached.index], cached


def build_portfolio(
    book: Any,
    as_of: dt.date,
    scored: pd.DataFrame,
    detail_ids: pd.Index,
    cfg: NightlyConfig,
    currency: str | None,
    out_dir: Path | None = None,
    stage: Path | None = None,
    engine: Any = None,
    sums: BookSums | None = None,
    forecast: pd.DataFrame | None = None,
    forecast_note: str | None = None,
    lgd: pd.Series | None = None,
    interval_words: str = "",
    cash_error: str = "",
    cash_left_out: str = "",
) -> PortfolioView:
    """The portfolio figures of a nightly run (see the module docstring).

    ``scored``: today's scores (``debtor_id``, ``pd``, ``band``, ``in_default``, ``segment``,
    ``open_balance``); ``detail_ids``: the watchlist debtors given a debtor page. ``sums``: the
    scoring pass's portfolio sums at :func:`figure_dates`; without them (or for other dates) the
    buckets are read again. ``forecast``: the payment-date forecast rows of ``detail_ids``
    (``pipelines.scoring.paydate.forecast_rows``); without them they are read from ``stage``.
    ``forecast_note``: why there is no payment-date forecast tonight (a note of the report);
    ``interval_words``: what its p10-p90 is (``models.paydate.levels_in_words`` of the version's levels);
    ``cash_error``: its weekly cash error on held-out weeks in words (``pipelines.words.cash_error_said``);
    ``cash_left_out``: what the cash-in forecast leaves out of a book with statements too, in words.
    ``lgd``: the LGD per debtor_id of the recovery queue (an event's, ``recovery.lgd_by_event``, where
    it is not ``queue.lgd``'s), so the expected loss by band and segment is the queues'; debtors it
    does not name take ``queue.lgd``.
    """
    rc = cfg.report
    day = pd.Timestamp(as_of)
    key = day.date().isoformat()
    ids = pd.Index(pd.array(detail_ids, dtype="string"))
    todo, cached = figure_dates(as_of, cfg, out_dir)
    statements_book = (
        book.bounds("invoices", "issue_date") is None and book.bounds("statements", "period_end") is not None
    )
    if sums is not None and list(sums.dates) == todo and sums.parts is not None and not statements_book:
        items, limits = detail_items(book, ids, day, rc.dso_window_days)
        parts = replace(sums.parts, open_items=items, limits=limits)
    else:  # no sums from the scoring pass, or a statements book (the limits of its debtor pages are its statements')
        parts = portfolio_parts(book, todo, rc.dso_window_days, ids, engine)
    names = [b.name for b in cfg.bands] + [DEFAULT_BAND]
    el_frame = pd.DataFrame(
        {
            # a live debtor never invoiced has no band (scores' band empty): its own row, as the summary names it
            "band": scored["band"].astype("string").fillna(NO_BAND_WORDS),
            "segment": scored["segment"].astype("string") if "segment" in scored else pd.NA,
            "pd": scored["pd"].astype("float64"),
            "exposure": scored["open_balance"].astype("float64"),
            "lgd": lgd_for(
                scored["segment"] if "segment" in scored else pd.Series(pd.NA, index=scored.index), cfg.queue
            ),
        }
    )
    if lgd is not None and len(lgd):
        by_id = scored["debtor_id"].astype("string").map(lgd.astype("float64"))
        el_frame["lgd"] = by_id.astype("float64").fillna(el_frame["lgd"])
    outputs = read_run_outputs(
        stage, ids, skip_limits=_LIMIT_COLUMNS[1] in scored.columns, skip_forecast=forecast is not None
    )
    if forecast is not None:
        outputs["invoice_forecast"] = forecast
    if outputs["credit_limits"] is None and _LIMIT_COLUMNS[1] in scored.columns:  # the scores carry them
        cols = ["debtor_id", *[c for c in _LIMIT_COLUMNS if c in scored.columns]]
        outputs["credit_limits"] = scored.loc[scored["debtor_id"].isin(ids), cols].reset_index(drop=True)
    notes, files = ([forecast_note] if forecast_note else []), {}
    mixed_book = not statements_book and book.bounds("statements", "period_end") is not None
    if parts is None:
        notes.append("the book holds no invoices or statements: no DSO or aging")
        figures, items, limits = pd.DataFrame(), pd.DataFrame(), pd.Series([], dtype="float64")
    else:
        if statements_book:
            notes.append(
                "a statements book: receivables are the latest statements' balances, aged by their days "
                "past due; DSO reads the statements' new charges as sales"
            )
        elif mixed_book:
            notes.append(
                "invoices and statements: receivables add the open invoices and the latest statements' "
                "balances (aged by their days past due); DSO's sales add the statements' new charges"
            )
        figures = pd.concat([f for f in (cached, _figures(parts, rc.dso_window_days)) if len(f)]).sort_index()
        figures.index = pd.DatetimeIndex(figures.index, name="date").as_unit("ns")
        items, limits = parts.open_items, parts.limits
        if stage is not None:
            from pipelines.adapters.exports import write_csv

            files[FIGURES_FILE] = write_csv(figures.reset_index(), Path(stage) / FIGURES_FILE)
    return PortfolioView(
        as_of=key,
        currency=currency,
        window_days=rc.dso_window_days,
        dso=figures,
        aging=figures,
        el_band=expected_loss_by(el_frame, "band", order=names),
        el_segment=expected_loss_by(el_frame, "segment"),
        pd_trend=pd_history(out_dir, key, scored, names, rc.history_runs),
        history=debtor_history(out_dir, key, scored, ids, rc.history_runs),
        open_items=items,
        limits=limits,
        notes=notes,
        files=files,
        statements=statements_book,
        mixed=mixed_book,
        interval_words=interval_words,
        cash_error=cash_error,
        cash_left_out=cash_left_out,
        **outputs,
    )


# ------------------------------------------------------------------------------ page context


def _day(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _band_words(value: Any) -> str:
    """A band as a debtor page shows it: empty (a run at which the debtor had no invoice, payment or statement yet)
    is :data:`NO_BAND_WORDS`."""
    return NO_BAND_WORDS if value is None or pd.isna(value) else str(value)


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def _invoice_rows(items: pd.DataFrame, forecast: pd.DataFrame | None) -> pd.DataFrame:
    """Open invoices with the payment-date forecast columns when the run has them."""
    if forecast is None or items.empty:
        return items
    cols = [
        c
        for c in (
            "invoice_id",
            "expected_paid_on",
            "paid_on_p10",
            "paid_on_p90",
            "p_paid_30d",
            "p_paid_in_horizon",
        )
        if c in forecast.columns
    ]
    if "invoice_id" not in cols or len(cols) == 1:
        return items
    fc = forecast[cols].copy()
    fc["invoice_id"] = fc["invoice_id"].astype("string")
    return items.merge(fc.drop_duplicates("invoice_id"), on="invoice_id", how="left")


LIMIT_FIELDS = (
    ("credit_limit_current", "current"),
    ("credit_limit_recommended", "recommended"),
    ("credit_limit_conservative", "conservative"),
    ("credit_limit_aggressive", "aggressive"),
)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of plain values (dates as YYYY-MM-DD, missing as None), once."""
    cols = {}
    for c in columns:
        if c not in frame.columns:
            cols[c] = [None] * len(frame)
        elif pd.api.types.is_datetime64_any_dtype(frame[c]):
            cols[c] = (
                pd.to_datetime(frame[c])
                .dt.strftime("%Y-%m-%d")
                .astype(object)
                .where(frame[c].notna(), None)
                .tolist()
            )
        else:
            cols[c] = frame[c].astype(object).where(frame[c].notna(), None).tolist()
    return [dict(zip(columns, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def _grouped(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(str(r["debtor_id"]), []).append(r)
    return out


def debtor_pages(view: PortfolioView, ids: list[str], max_invoices: int = 12) -> dict[str, dict[str, Any]]:
    """Per debtor of ``ids``: PD/band history (with a sparkline), open invoices (most days past due
    first, at most ``max_invoices``) with their predicted payment dates, the credit limit(s)."""
    from pipelines.report.plots import sparkline_svg

    wanted = set(ids)
    hist = view.history[view.history["debtor_id"].isin(wanted)]
    histories = _grouped(_records(hist, ["debtor_id", "as_of", "pd", "band"]))
    items = _invoice_rows(view.open_items, view.invoice_forecast)
    has_forecast = "expected_paid_on" in items.columns
    invoices: dict[str, list[dict[str, Any]]] = {}
    if "debtor_id" in items.columns:  # absent when the book has no ledger at all
        items = items.sort_values(
            ["debtor_id", "dpd", "open_amount"], ascending=[True, False, False], kind="stable"
        )
        cols = ["debtor_id", "invoice_id", "due_date", "open_amount", "dpd", "disputed"]
        cols += ["expected_paid_on", "paid_on_p10", "paid_on_p90", "p_paid_30d", "p_paid_in_horizon"]
        invoices = _grouped(_records(items, cols))
    limits: dict[str, dict[str, Any]] = {}
    if view.credit_limits is not None and "debtor_id" in view.credit_limits:
        cl = view.credit_limits
        cl = cl[cl["debtor_id"].astype("string").isin(wanted)].drop_duplicates("debtor_id")
        for r in _records(cl, ["debtor_id", *[c for c, _ in LIMIT_FIELDS], "credit_limit_rule"]):
            shown = [(label, _num(r[c])) for c, label in LIMIT_FIELDS if c in cl.columns]
            limits[str(r["debtor_id"])] = {"amounts": shown, "rule": r["credit_limit_rule"] or ""}
    known = view.limits.dropna()
    for debtor, value in known.items():
        if str(debtor) not in limits:
            limits[str(debtor)] = {"amounts": [("current", float(value))], "rule": "from the debtors table"}
    pages = {}
    for debtor in ids:
        history = histories.get(debtor, [])
        inv = invoices.get(debtor, [])
        # a run without a PD model (pipelines.scoring.nomodel) has none: left out of the line, "-" in the table
        pds = [float("nan") if x["pd"] is None else float(x["pd"]) for x in history]
        known = [p for p in pds if p == p]
        pages[debtor] = {
            "spark": sparkline_svg(known) if known else "",
            "history": [
                {
                    "as_of": str(x["as_of"]),
                    "pd": p,
                    # a run without a PD model: no band (but default), and not for want of invoices
                    "band": "no PD model"
                    if p != p and _band_words(x["band"]) == NO_BAND_WORDS
                    else _band_words(x["band"]),
                }
                for x, p in zip(history[::-1], pds[::-1], strict=True)
            ],
            "invoices": [
                {
                    "invoice_id": str(r["invoice_id"]),
                    "due_date": r["due_date"],
                    "open_amount": float(r["open_amount"]),
                    "dpd": int(r["dpd"]),
                    "disputed": bool(r["disputed"]),
                    "expected_paid_on": r["expected_paid_on"] or "",
                    "p10": r["paid_on_p10"] or "",
                    "p90": r["paid_on_p90"] or "",
                    "p30": _num(r["p_paid_30d"]),
                    # expected_paid_on is the median given payment within the horizon: shown alone for an invoice
                    # more likely never paid in it, it read as a promise (s39-walk: "expected paid 2025-01-05"
                    # beside "P(paid 30 d) 43%" for an invoice with a 47 % chance of payment at all)
                    "p_in": _num(r["p_paid_in_horizon"]),
                }
                for r in inv[:max_invoices]
            ],
            "more_invoices": max(0, len(inv) - max_invoices),
            "open_total": float(sum(r["open_amount"] for r in inv)),
            "open_count": len(inv),
            "has_forecast": has_forecast,
            "statements": view.statements,
            "mixed": view.mixed,
            "limit": limits.get(debtor),
        }
    return pages


def _cash_total(cash: pd.DataFrame | None) -> pd.DataFrame | None:
    """The total rows of the cash forecast (segment "all"), by week; None when the file lacks them."""
    need = {"expected_cash", "cash_low_80", "cash_high_80"}
    if cash is None or not need <= set(cash.columns):
        return None
    total = cash[cash["segment"].astype(str) == "all"] if "segment" in cash else cash
    return total.sort_values("week" if "week" in total else "week_start").reset_index(drop=True)


def portfolio_context(view: PortfolioView, band_names: list[str], trend: bool = True) -> dict[str, Any]:
    """The template's ``portfolio`` object: figures, tables and plots (``trend`` False: no PD trend, a run
    without a PD model)."""
    from features.portfolio import AGING_BUCKETS
    from pipelines.report.plots import aging_svg, cash_forecast_svg, dso_svg, pd_trend_svg

    ctx: dict[str, Any] = {
        "currency": view.currency,
        "window_days": view.window_days,
        "notes": view.notes,
        "has_forecast": view.invoice_forecast is not None,
        "interval_words": view.interval_words,
    }
    if len(view.dso):
        dso = view.dso
        ctx["dso_svg"] = dso_svg(dso, view.window_days)
        ctx["dso_svg_narrow"] = dso_svg(dso, view.window_days, narrow=True)  # below 640 px
        ctx["dso_rows"] = [
            {
                "date": _day(t),
                "receivables": float(r.receivables),
                "sales_window": float(r.sales_window),
                "standard": _num(r.dso_standard),
                "countback": _num(r.dso_countback),
                "capped": bool(r.countback_capped),
            }
            for t, r in dso.iloc[::-1].iterrows()
        ]
        ctx["now"] = ctx["dso_rows"][0]
        ctx["aging_svg"] = aging_svg(view.aging, AGING_BUCKETS, view.currency)
        ctx["aging_svg_narrow"] = aging_svg(view.aging, AGING_BUCKETS, view.currency, narrow=True)
        ctx["aging_buckets"] = list(AGING_BUCKETS)
        ctx["aging_rows"] = [
            {
                "date": _day(t),
                "amounts": [float(r[b]) for b in AGING_BUCKETS],
                "receivables": float(r["receivables"]),
                "over_90": _num((r["91-180"] + r[">180"]) / r["receivables"])
                if r["receivables"] > 0
                else None,
            }
            for t, r in view.aging.iloc[::-1].iterrows()
        ]
    ctx["el_band"] = [{"key": k, **r} for k, r in view.el_band.to_dict("index").items()]
    ctx["el_segment"] = [{"key": k, **r} for k, r in view.el_segment.to_dict("index").items()]
    trend = view.pd_trend if trend else view.pd_trend.iloc[0:0]
    ctx["trend_runs"] = int(len(trend))
    ctx["trend_svg"] = pd_trend_svg(trend, band_names) if len(trend) else None
    ctx["trend_svg_narrow"] = pd_trend_svg(trend, band_names, narrow=True) if len(trend) > 1 else None
    ctx["trend_rows"] = trend.iloc[::-1].head(15).to_dict("records")
    cash = _cash_total(view.cash_forecast)
    if cash is not None:
        ctx["cash_svg"] = cash_forecast_svg(cash, view.currency)
        ctx["cash_svg_narrow"] = cash_forecast_svg(cash, view.currency, narrow=True)  # below 640 px
        ctx["cash_rows"] = [
            {
                "week": int(r["week"]) if "week" in r else i + 1,
                "start": _day(r.get("week_start")),
                "expected": float(r["expected_cash"]),
                "low": float(r["cash_low_80"]),
                "high": float(r["cash_high_80"]),
            }
            for i, r in enumerate(cash.to_dict("records"))
        ]
        ctx["cash_total"] = float(cash["expected_cash"].sum())
        ctx["cash_error"] = view.cash_error
        ctx["cash_left_out"] = view.cash_left_out
    return ctx
