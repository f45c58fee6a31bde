"""Default labels per (debtor_id, as_of), following the DESIGN default definition.

A debtor is in default on day t when an invoice is open at t with t - due_date >= dpd_threshold
(an invoice settled on day t is no longer open on t), or when an event of one of the definition's
kinds has happened by t. Statement-path accounts are in default on a period_end whose
days_past_due >= dpd_threshold (their state holds until the next statement).

For as-of T and horizon h:

- ``in_default_at_asof`` is judged from rows dated <= T only (the same state the features see);
- ``first_default_date`` is the first day in (T, T + h] on which the debtor is in default, judged
  from rows dated <= T + h only (later rows never change a label);
- ``horizon_observed`` is T + h <= ``observed_until`` (by default the last issue, payment, event or
  statement date in the data);
- ``label`` is 1 when ``first_default_date`` is set, else 0; <NA> when the debtor is already in
  default at T or the horizon is not fully observed.

Rows cover the debtors that exist at T (as in ``features.build``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from features.build import as_of_dates, exists_mask
from features.ledger import Ledger, day_number, ledger_state, prepare_ledger
from features.params import DefaultDefinition
from features.tables import Portfolio

__all__ = ["build_labels", "last_observed_date"]

_INF = np.iinfo(np.int64).max


def last_observed_date(portfolio: Portfolio) -> pd.Timestamp | None:
    """Latest issue_date, paid_on, event_date or period_end in the portfolio (None when empty)."""
    found = []
    for table, col in (
        ("invoices", "issue_date"),
        ("payments", "paid_on"),
        ("events", "event_date"),
        ("statements", "period_end"),
    ):
        frame = getattr(portfolio, table)
        if frame is not None and col in frame and frame[col].notna().any():
            found.append(pd.Timestamp(frame[col].max()))
    return max(found) if found else None


def _event_days(ledger: Ledger, kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    sel = np.isin(ledger.ev_kind.astype(str), list(kinds)) if len(ledger.ev_kind) else np.zeros(0, dtype=bool)
    return ledger.ev_code[sel], ledger.ev_date[sel]


def _ledger_status(ledger: Ledger, T: int, definition: DefaultDefinition) -> tuple[np.ndarray, np.ndarray]:
    """(in default at T, first default day in (T, T+h] or _INF) per debtor, from the invoice ledger."""
    n, thr, H = ledger.n, definition.dpd_threshold, T + definition.horizon_days
    ev_code, ev_day = _event_days(ledger, definition.event_kinds)

    now = ledger_state(ledger, T)
    in_default = np.zeros(n, dtype=bool)
    in_default[now.inv_code[now.open_mask & (T - now.inv_due >= thr)]] = True
    in_default[ev_code[ev_day <= T]] = True

    later = ledger_state(ledger, H)
    start = np.maximum(later.inv_due + thr, T + 1)
    settled = np.where(np.isnan(later.inv_settled), np.inf, later.inv_settled)
    hit = (start <= H) & (start < settled)
    first = np.full(n, _INF, dtype=np.int64)
    np.minimum.at(first, later.inv_code[hit], start[hit])
    ev_hit = (ev_day > T) & (ev_day <= H)
    np.minimum.at(first, ev_code[ev_hit], ev_day[ev_hit])
    return in_default, first


def _statement_status(
    statements: pd.DataFrame, ids: pd.Index, T: int, definition: DefaultDefinition
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exists at T, in default at T, first default day in (T, T+h]) per debtor, from statements."""
    n, H = len(ids), T + definition.horizon_days
    code = np.asarray(ids.get_indexer(statements["debtor_id"].astype("string")), dtype=np.int64)
    day = day_number(statements["period_end"])
    dpd = statements["days_past_due"].to_numpy(dtype=np.float64, na_value=0.0)
    bad = dpd >= definition.dpd_threshold
    past = day <= T
    exists = np.bincount(code[past], minlength=n) > 0
    # the latest statement on or before T decides the state at T
    latest = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, code[past], day[past])
    in_default = np.zeros(n, dtype=bool)
    on_latest = past & (day == latest[code])
    in_default[code[on_latest & bad]] = True
    first = np.full(n, _INF, dtype=np.int64)
    window = bad & (day > T) & (day <= H)
    np.minimum.at(first, code[window], day[window])
    return exists, in_default, first


def build_labels(
    portfolio: Portfolio,
    as_of: Sequence[date | pd.Timestamp | str],
    definition: DefaultDefinition = DefaultDefinition(),
    observed_until: date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Default labels, one row per (debtor_id, as_of) for debtors existing at as_of.

    Columns: ``debtor_id`` (string), ``as_of`` (datetime64[ns]), ``in_default_at_asof`` (bool),
    ``label`` (Int64 1/0/<NA>), ``first_default_date`` (datetime64[ns], NaT if none in the horizon),
    ``horizon_observed`` (bool). ``observed_until`` defaults to :func:`last_observed_date`.
    Sorted by (as_of, debtor_id). ``portfolio`` is not modified.
    """
    dates = as_of_dates(as_of)
    until = pd.Timestamp(observed_until) if observed_until is not None else last_observed_date(portfolio)
    if until is None:
        raise ValueError("portfolio has no dated rows: cannot build labels")
    has_ledger = any(f is not None and not f.empty for f in (portfolio.invoices, portfolio.payments))
    statements = (
        portfolio.statements if portfolio.statements is not None and not portfolio.statements.empty else None
    )
    ledger = prepare_ledger(portfolio)
    ids = ledger.debtor_ids
    if statements is not None:
        extra = pd.Index(pd.unique(statements["debtor_id"].astype("string").dropna()), dtype="string")
        if len(extra.difference(ids)):
            ledger = prepare_ledger(
                Portfolio(
                    invoices=portfolio.invoices,
                    payments=portfolio.payments,
                    events=portfolio.events,
                    debtors=pd.concat(
                        [
                            portfolio.debtors if portfolio.debtors is not None else pd.DataFrame(),
                            pd.DataFrame({"debtor_id": extra.difference(ids)}),
                        ],
                        ignore_index=True,
                    ),
                )
            )
            ids = ledger.debtor_ids
    frames = []
    for t in dates:
        T = int(day_number(t))
        exists = exists_mask(ledger, T) if has_ledger else np.zeros(ledger.n, dtype=bool)
        in_default, first = _ledger_status(ledger, T, definition)
        if statements is not None:
            s_exists, s_default, s_first = _statement_status(statements, ids, T, definition)
            exists |= s_exists
            in_default |= s_default
            first = np.minimum(first, s_first)
        observed = t + pd.Timedelta(days=definition.horizon_days) <= until
        k = int(exists.sum())
        first_k = first[exists]
        has_first = (first_k != _INF) & ~in_default[exists]
        first_dates = np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
        first_dates[has_first] = first_k[has_first].astype("datetime64[D]").astype("datetime64[ns]")
        label = pd.array(has_first.astype(np.int64), dtype="Int64")
        label[in_default[exists] | (not observed)] = pd.NA
        frames.append(
            pd.DataFrame(
                {
                    "debtor_id": pd.array(ids[exists], dtype="string"),
                    "as_of": np.full(k, t.to_datetime64()).astype("datetime64[ns]"),
                    "in_default_at_asof": in_default[exists],
                    "label": label,
                    "first_default_date": first_dates,
                    "horizon_observed": np.full(k, bool(observed)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(
        ["as_of", "debtor_id"], kind="stable", ignore_index=True
    )
