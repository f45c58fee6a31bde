"""Point-in-time feature frames: one row per (debtor_id, as_of), shared by training and nightly scoring.

Features as of T use only invoices issued <= T, payments made <= T, events dated <= T, statements
with period_end <= T, and the static debtor attributes (see ``features.ledger`` for how payments
are applied). A debtor appears at T once it exists: its first invoice is issued <= T or it was
onboarded <= T (statement path: it has a statement dated <= T).

The computation is :func:`features.engine.build_bucket` (the one engine); this is its features-only
entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from features.engine import _build, as_of_dates, exists_mask, ledger_columns
from features.params import DefaultDefinition, FeatureParams
from features.tables import Portfolio

__all__ = ["as_of_dates", "build_features", "exists_mask", "ledger_columns"]


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
    return _build(
        portfolio,
        as_of_dates(as_of),
        DefaultDefinition(),
        params,
        features=True,
        defaults=False,
        labels=False,
        oldest=False,
        observed_until=None,
    ).features
