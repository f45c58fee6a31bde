"""Point-in-time feature frames: one row per (debtor_id, as_of), shared by training and nightly scoring.

Features as of T use only invoices issued <= T, payments made <= T, events dated <= T, statements
with period_end <= T, and the static debtor attributes (see ``features.ledger`` for how payments
are applied). A debtor appears at T once it exists: its first invoice is issued <= T or it was
onboarded <= T (statement path: it has a statement dated <= T).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from features.catalog import CATALOG, FUNCTIONS
from features.ledger import Ledger, day_number, ledger_state, prepare_ledger
from features.params import FAMILIES, FeatureParams
from features.statements import build_statement_features
from features.tables import Portfolio

__all__ = ["as_of_dates", "build_features", "exists_mask", "ledger_columns"]


def as_of_dates(as_of: Sequence[date | pd.Timestamp | str]) -> list[pd.Timestamp]:
    """Distinct as-of dates as midnight timestamps, ascending. Raises ``ValueError`` when empty."""
    if isinstance(as_of, (str, date, pd.Timestamp)):
        raise TypeError("as_of must be a sequence of dates, e.g. [date(2024, 6, 30)]")
    dates = sorted({pd.Timestamp(a).normalize() for a in as_of})
    if not dates:
        raise ValueError("no as-of date given")
    return dates


def ledger_columns(params: FeatureParams = FeatureParams()) -> list[str]:
    """Invoice-ledger feature columns computed for ``params``, in catalog order."""
    order = {fam: i for i, fam in enumerate(FAMILIES)}
    names = [n for n, info in CATALOG.items() if info.family in params.families and n in FUNCTIONS]
    return sorted(names, key=lambda n: order[CATALOG[n].family])


def exists_mask(ledger: Ledger, T: int) -> np.ndarray:
    """Debtors that exist at day T: first invoice issued <= T or onboarded <= T (bool, length n)."""
    with np.errstate(invalid="ignore"):
        return (ledger.first_invoice <= T) | (ledger.onboarded <= T)


def _has_rows(frame: pd.DataFrame | None) -> bool:
    return frame is not None and not frame.empty


def _ledger_features(ledger: Ledger, dates: list[pd.Timestamp], params: FeatureParams) -> pd.DataFrame:
    names = ledger_columns(params)
    frames = []
    for t in dates:
        T = int(day_number(t))
        state = ledger_state(ledger, T)
        keep = exists_mask(ledger, T)
        cols: dict[str, object] = {
            "debtor_id": pd.array(ledger.debtor_ids[keep], dtype="string"),
            "as_of": pd.Series(np.full(int(keep.sum()), t), dtype="datetime64[ns]").to_numpy(),
        }
        for name in names:
            cols[name] = np.asarray(FUNCTIONS[name](state), dtype=np.float64)[keep]
        if "tenure" in params.families:
            cols["segment"] = ledger.segment[keep]
            cols["country"] = ledger.country[keep]
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def build_features(
    portfolio: Portfolio,
    as_of: Sequence[date | pd.Timestamp | str],
    params: FeatureParams = FeatureParams(),
) -> pd.DataFrame:
    """Feature frame for every debtor existing at each as-of date.

    ``portfolio``: canonical tables (not modified). ``as_of``: one or more dates. Returns one row per
    (debtor_id, as_of) with columns ``debtor_id`` (string), ``as_of`` (datetime64[ns]), the numeric
    features (float64, described in ``features.catalog.CATALOG``) and ``segment``/``country``
    (category), sorted by (as_of, debtor_id). Statement features (``st_*``) are added when the
    portfolio carries statements (outer-joined on the keys).
    """
    dates = as_of_dates(as_of)
    has_ledger = _has_rows(portfolio.invoices) or _has_rows(portfolio.payments)
    has_statements = params.include_statements and _has_rows(portfolio.statements)
    if not has_ledger and not has_statements:
        raise ValueError("portfolio has no invoices, payments or statements: nothing to build features from")
    out: pd.DataFrame | None = None
    if has_ledger:
        out = _ledger_features(prepare_ledger(portfolio), dates, params)
    if has_statements:
        st = build_statement_features(portfolio.statements, dates)
        if out is None:
            out = st
            if _has_rows(portfolio.debtors) and "tenure" in params.families:
                static = prepare_ledger(Portfolio(debtors=portfolio.debtors))
                lookup = pd.DataFrame(
                    {
                        "debtor_id": pd.array(static.debtor_ids, dtype="string"),
                        "segment": static.segment,
                        "country": static.country,
                    }
                )
                out = out.merge(lookup, on="debtor_id", how="left")
        else:
            out = out.merge(st, on=["debtor_id", "as_of"], how="outer")
    if out is None:  # unreachable: guarded above
        raise ValueError("no feature source")
    return out.sort_values(["as_of", "debtor_id"], kind="stable", ignore_index=True)
