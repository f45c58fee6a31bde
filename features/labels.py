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

import pandas as pd

from features.engine import _build, as_of_dates, last_observed_date
from features.params import DefaultDefinition, FeatureParams
from features.tables import Portfolio

__all__ = ["build_labels", "last_observed_date"]


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
    Sorted by (as_of, debtor_id). ``portfolio`` is not modified. The computation is
    :func:`features.engine.build_bucket`'s (one prepared ledger for every date).
    """
    return _build(
        portfolio,
        as_of_dates(as_of),
        definition,
        FeatureParams(),
        features=False,
        defaults=True,
        labels=True,
        oldest=False,
        observed_until=pd.Timestamp(observed_until) if observed_until is not None else None,
    ).defaults
