"""Is the as-of date inside the data? Checked before a nightly run starts (``ews score``, ``ews backfill``).

An as-of date before every dated row has nothing to score; one long after the latest row ages every
open invoice without the payments that were never delivered: a book of 1,000 debtors scored four
years after its export showed 80 % of debtors in default (BENCHMARKS.md, "Hostile inputs tried
(session 4)"). Both are refused with the dates, before any feature is built.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pipelines.words import counted

__all__ = ["AsOfOutsideDataError", "StaleDataError", "check_as_of", "data_window"]


class AsOfOutsideDataError(ValueError):
    """The as-of date is before every dated row of the data (nothing to score). For users."""


class StaleDataError(ValueError):
    """The as-of date is more than ``max_data_lag_days`` after the latest dated row. For users."""


def data_window(folder: Path) -> tuple[dt.date, dt.date] | None:
    """(first, last) date of an ingested folder over issue_date, paid_on, event_date and
    period_end, from the Parquet statistics; None when it holds no dated row. ``last`` is the
    export's end recorded by ingest when a few rows are dated long after it (``late_rows`` in
    manifest.json: a mistyped 2026-11-30 in an export that ends 2026-06-30 made it look fresh)."""
    from pipelines.adapters.files import DATE_COLUMNS, column_bounds, late_rows_end

    found = [b for t, c in DATE_COLUMNS.items() if (b := column_bounds(folder, t, c)) is not None]
    if not found:
        return None
    last = max(pd.Timestamp(b[1]) for b in found)
    if (end := late_rows_end(folder)) is not None:
        last = min(last, end)
    return min(pd.Timestamp(b[0]) for b in found).date(), last.date()


def _late_note(data: Path) -> str:
    """How many rows dated after the export's end were left out of its end, if any."""
    from pipelines.adapters.files import late_rows

    late = late_rows(data)
    if not late:
        return ""
    return (
        f", the export's end: {counted(late.get('rows', 0), 'row')} dated up to {late.get('last_date')} after "
        f"{counted(late.get('gap_days', 0), 'day')} without any, taken as mistyped dates (manifest.json late_rows)"
    )


WARN_LAG_DAYS = 7
"""An as-of date more than this many days after the latest dated row is scored with a warning: an
800-debtor book scored 31 days after its export (inside max_data_lag_days) went from 17 to 239
debtors on the watchlist, every invoice due in the missing month looking unpaid (BENCHMARKS.md,
"Hostile inputs tried", session 6)."""


def check_as_of(
    as_of: dt.date, window: tuple[dt.date, dt.date] | None, max_lag_days: int, data: Path
) -> str | None:
    """Raise :class:`AsOfOutsideDataError` or :class:`StaleDataError` (one line, with the dates);
    return a warning when the as-of date is more than :data:`WARN_LAG_DAYS` after the data."""
    if window is None:
        return None
    first, last = window
    if as_of < first:
        raise AsOfOutsideDataError(
            f"--as-of {as_of} is before the first dated row of --data {data} ({first}; data from {first} "
            f"to {last}): there is nothing to score. Use a date from {first} to {last}"
        )
    lag = (as_of - last).days
    if lag > max_lag_days:
        raise StaleDataError(
            f"--as-of {as_of} is {lag:,} days after the latest invoice, payment or event in --data {data} "
            f"({last}{_late_note(data)}): every open invoice would age {lag:,} days without the payments the export does "
            f"not hold. Ingest a newer export, score a date up to {last + dt.timedelta(days=max_lag_days)} "
            "(max_data_lag_days in the nightly config), or pass --accept-feed to score it anyway"
        )
    if lag > WARN_LAG_DAYS:
        return (
            f"--as-of {as_of} is {lag:,} days after the latest invoice, payment or event in --data {data} "
            f"({last}): invoices due since then look unpaid, so days past due, the watchlist and the "
            "queue run high. Score the date of the export, or ingest a newer one"
        )
    return None
