"""Checks over the staged debtor buckets of an ingest, the same for the in-memory and the streamed
path (both stage ``<table>/bucket=<k>/part-0.parquet`` before publishing; every row of a debtor is
in one bucket, so per-bucket counts add up):

- :func:`late_dates`: a handful of rows dated long after the bulk of the export (a mistyped year
  such as 2026-11-30 in an export that ends 2026-06-30). Taken as the latest date, they made a stale
  export look fresh to ``ews score``'s data-lag check. The export's end (the last date before the
  gap) is recorded in the manifest (``late_rows``) and read by
  :func:`pipelines.scoring.data_window.data_window` and ``Book.last_observed``. Rows after the
  silence that read as a ledger that resumed slowly (:data:`RESUMED_MIN_SPAN_DAYS`) are not cut: the
  check is over the whole book, so one dormant customer coming back never trips it; a whole ledger
  back from a shutdown at a trickle should not be read as typos either, nor a new customer's first
  rows after the silence (a debtor with no earlier dated row: s14-robust).
- :func:`statement_gaps`: monthly statements with months missing between a debtor's first and last
  statement, or two statements in one calendar month (the statement features count calendar months:
  ``features/statements.py``).
- :func:`short_paid_rests`: debtors whose only overdue amount is short-paid rests (each below one currency
  unit or 1 % of its invoice), recorded in the manifest (``short_paid_rests``); ``ews ingest`` warns with
  :func:`short_paid_warning` when the project's ``default_definition.min_open_amount`` is 0.

Both only warn: rows are kept (they may be right) and ``rows_in = accepted + quarantined`` holds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.adapters.files import DATE_COLUMNS
from pipelines.words import counted

__all__ = [
    "LATE_GAP_DAYS",
    "day_counts",
    "expected_rows",
    "export_as_of",
    "export_end",
    "feed_lag",
    "late_dates",
    "resent_inputs",
    "short_paid_rests",
    "short_paid_warning",
    "statement_balance_warning",
    "statement_gaps",
    "statements_without_balance",
]

LATE_GAP_DAYS = 35
"""A silence longer than this (``max_data_lag_days``' default) between the bulk and a few later rows."""
LATE_MAX_SHARE = 0.01
LATE_MAX_ROWS = 100
"""The rows after the silence: at most 1 % of the dated rows and at most 100 ("a handful")."""
LATE_PACE_SHARE = 0.1
"""... and fewer than a tenth of what the bulk's pace over its last 90 days gives over their span
(at least 7 days): a business back from a long shutdown has its normal pace after the gap."""
RESUMED_MIN_DAYS = 3
RESUMED_MIN_SPAN_DAYS = 14
"""... unless they read as a ledger that resumed slowly (a business back from a shutdown, a seasonal
trade): on at least 3 distinct days spanning at least 14 days, with no silence of more than
:data:`LATE_GAP_DAYS` between them. Mistyped dates (a wrong year or month) are a day or a few
consecutive days, or isolated rows far apart."""
_ID_COLUMNS = {
    "invoices": "invoice_id",
    "payments": "payment_id",
    "events": "debtor_id",
    "statements": "debtor_id",
}


DISPUTED_WARN_SHARE = 0.5
DISPUTED_WARN_ROWS = 50
"""At least this many invoices, more than this share of them disputed: the ``disputed`` column is
most likely another flag (a status, paid / unpaid) or read the wrong way round (``values.true_values``
/ ``false_values``). Books dispute a few per cent of their invoices (a generated 150-debtor book 3.1 %);
s35-attack: every invoice of a 150-debtor book marked disputed was accepted without a word and every
row of the collections queue said resolve_dispute."""


def disputed_share(stage: Path) -> list[str]:
    """A warning when most of the staged invoices are disputed (:data:`DISPUTED_WARN_SHARE`); reads
    the invoices' ``disputed`` column one bucket at a time."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = disputed = 0
    for path in _files(stage, "invoices"):
        if "disputed" not in pq.read_schema(path).names:
            return []
        col = pq.read_table(path, columns=["disputed"]).column(0)
        rows += len(col)
        disputed += int(pc.sum(pc.cast(pc.fill_null(col, False), "int64")).as_py() or 0)
    if rows < DISPUTED_WARN_ROWS or disputed <= DISPUTED_WARN_SHARE * rows:
        return []
    return [
        f"invoices: {disputed:,} of {counted(rows, 'invoice')} ({disputed / rows:.0%}) are marked disputed: the "
        "collections queue then says resolve_dispute as the next action of nearly every debtor. Books dispute "
        "a few per cent: if the column mapped as disputed is another flag (a "
        "status, paid / unpaid) or is read the wrong way round, fix tables.invoices.columns.disputed or "
        "values.true_values / false_values in the source config and ingest again"
    ]


LONG_TERMS_DAYS = 365
"""An invoice due more than this many days after its issue date is named at ingest. B2B terms run
weeks (every simulated book: 14 to 90 days), so a due date more than a year out is most likely a
mistyped year (2034 for 2024, passed as it is before rules.max_date): such an invoice is not overdue
until then, so its debtor cannot reach days past due or default on it (s36-attack: accepted without a
word). Warned, not quarantined: a long instalment can be real."""
LONG_TERMS_EXAMPLES = 3


def long_terms(stage: Path) -> list[str]:
    """A warning naming the staged invoices due more than :data:`LONG_TERMS_DAYS` after their issue
    date (their count and the :data:`LONG_TERMS_EXAMPLES` longest), read one bucket at a time."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found = 0
    longest: list[tuple[int, str, str, str]] = []
    for path in _files(stage, "invoices"):
        dates = pq.read_table(path, columns=["issue_date", "due_date"])
        days = pc.days_between(dates.column("issue_date"), dates.column("due_date"))
        mask = pc.fill_null(pc.greater(days, LONG_TERMS_DAYS), False)
        hits = int(pc.sum(pc.cast(mask, "int64")).as_py() or 0)
        if not hits:
            continue
        found += hits
        ids = pq.read_table(path, columns=["invoice_id"]).column(0).filter(mask).to_pylist()
        rows = zip(
            days.filter(mask).to_pylist(),
            ids,
            dates.column("issue_date").filter(mask).to_pylist(),
            dates.column("due_date").filter(mask).to_pylist(),
            strict=True,
        )
        longest = sorted([*longest, *((-d, str(i), str(a)[:10], str(b)[:10]) for d, i, a, b in rows)])[
            :LONG_TERMS_EXAMPLES
        ]
    if not found:
        return []
    shown = "; ".join(f"{i} issued {a}, due {b}" for _, i, a, b in longest)
    return [
        f"invoices: {counted(found, 'invoice')} due more than a year after {'its' if found == 1 else 'their'} "
        f"issue date ({shown}{' ...' if found > len(longest) else ''}): a mistyped year? Such an invoice is not "
        "overdue until its due date, so its debtor cannot reach days past due or default on it before then. "
        "B2B terms run weeks: if these due dates are wrong, correct them in the export (or map "
        "tables.invoices.columns.due_date to the right column) and ingest again"
    ]


def _files(stage: Path, table: str) -> list[Path]:
    return sorted((stage / table).glob("bucket=*/part-0.parquet"))


def _dates(path: Path, column: str) -> Any:
    """The column of one bucket file as date32 (nulls dropped)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    col = pq.read_table(path, columns=[column]).column(0)
    return pc.drop_null(pc.cast(col, "date32") if str(col.type) != "date32[day]" else col)


def export_end(counts: dict[dt.date, int], newest_first: dt.date | None = None) -> tuple[dt.date, int] | None:
    """(the export's end, rows after it) when a few rows follow the bulk of the dated rows after a
    silence of more than :data:`LATE_GAP_DAYS` days (see the constants), else None.
    ``counts``: dated rows per day, all tables together. ``newest_first``: the latest first dated
    day among the debtors with rows after the silences (:func:`_newest_first_day`); a silence
    before it is no cut, since a mistyped date cannot make a customer that has no earlier row (a new
    customer's first invoices after a silence are new business, however few)."""
    days = sorted(counts)
    rows = np.array([counts[d] for d in days], dtype=np.int64)
    cap = min(LATE_MAX_ROWS, int(rows.sum() * LATE_MAX_SHARE))
    if cap < 1 or len(days) < 2:
        return None
    ordinal = np.array([d.toordinal() for d in days], dtype=np.int64)
    after = np.cumsum(rows[::-1])[::-1]  # rows on or after each day
    found = None
    for i in range(len(days) - 2, -1, -1):
        tail = int(after[i + 1])
        if tail > cap:
            break
        if ordinal[i + 1] - ordinal[i] <= LATE_GAP_DAYS:
            continue
        if newest_first is not None and newest_first > days[i]:
            continue  # a debtor first seen after this silence: real rows follow it
        pace = _pace(rows, ordinal, i)
        span = max(7, int(ordinal[-1] - ordinal[i + 1]) + 1)
        if tail < LATE_PACE_SHARE * pace * span and not _resumed(ordinal[i + 1 :]):
            found = (days[i], tail)  # keep looking back: two typos after one gap are cut together
    return found


def _pace(rows: np.ndarray, ordinal: np.ndarray, i: int) -> float:
    """Rows a day over the 90 days to day ``i``; when the days since the silence before ``i`` are a
    ledger that resumed slowly, the pace before that silence (a trickle is not the ledger's pace: a
    typed-wrong batch after it is still cut)."""
    silences = np.flatnonzero(np.diff(ordinal[: i + 1]) > LATE_GAP_DAYS)
    if len(silences) and _resumed(ordinal[silences[-1] + 1 : i + 1]):
        i = int(silences[-1])
    return float(rows[(ordinal > ordinal[i] - 90) & (ordinal <= ordinal[i])].sum() / 90)


def _resumed(late: np.ndarray) -> bool:
    """Whether the dated days after a silence (ordinals, increasing) read as a ledger that resumed:
    see :data:`RESUMED_MIN_SPAN_DAYS`. The days up to the next silence are judged: what follows it
    (typos after the resumed ledger, a second slow resumption) is judged at that silence."""
    silences = np.flatnonzero(np.diff(late) > LATE_GAP_DAYS)
    if len(silences):
        late = late[: silences[0] + 1]
    return len(late) >= RESUMED_MIN_DAYS and int(late[-1] - late[0]) >= RESUMED_MIN_SPAN_DAYS


def _newest_first_day(stage: Path, end: dt.date) -> dt.date | None:
    """The latest first dated day (all tables) among the debtors with a dated row after ``end``.
    Read only when a cut is found: the ids of the rows after ``end``, then those debtors' rows
    (every row of a debtor is in one bucket; buckets are sorted by ``debtor_id``, so the Parquet
    row-group statistics skip the rest)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    newest: dt.date | None = None
    buckets: dict[str, list[tuple[Path, str]]] = {}
    for table, column in DATE_COLUMNS.items():
        for path in _files(stage, table):
            buckets.setdefault(path.parent.name, []).append((path, column))
    for files in buckets.values():
        ids: set[str] = set()
        for path, column in files:
            col = pq.read_table(path, columns=[column]).column(0)
            after = pc.fill_null(pc.greater(pc.cast(col, "date32"), pa.scalar(end, pa.date32())), False)
            if pc.any(after).as_py():
                ids.update(pq.read_table(path, columns=["debtor_id"]).column(0).filter(after).to_pylist())
        if not ids:
            continue
        parts = [
            pq.read_table(path, columns=["debtor_id", column], filters=[("debtor_id", "in", sorted(ids))])
            .rename_columns(["debtor_id", "day"])
            .cast(pa.schema([("debtor_id", pa.large_string()), ("day", pa.date32())]))
            for path, column in files
        ]
        firsts = pa.concat_tables(parts).group_by("debtor_id").aggregate([("day", "min")]).column("day_min")
        day = pc.max(firsts).as_py()
        if day is not None:
            newest = day if newest is None else max(newest, day)
    return newest


def _names(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _allocated_days(stage: Path) -> dict[dt.date, int]:
    """Payments per day of ``allocated_on`` (a ledger's clearing date; a sparse column, absent from
    most books): the last observed date reads it, so the late-rows cut judges it too."""
    import pyarrow.compute as pc

    counts: dict[dt.date, int] = {}
    for path in _files(stage, "payments"):
        if "allocated_on" not in _names(path):
            continue
        vc = pc.value_counts(_dates(path, "allocated_on"))
        for day, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
            counts[day] = counts.get(day, 0) + n
    return counts


def day_counts(stage: Path) -> dict[str, dict[dt.date, int]]:
    """Dated rows per day of each table's staged buckets (``DATE_COLUMNS``)."""
    import pyarrow.compute as pc

    out: dict[str, dict[dt.date, int]] = {}
    for table, column in DATE_COLUMNS.items():
        counts = out.setdefault(table, {})
        for path in _files(stage, table):
            vc = pc.value_counts(_dates(path, column))
            for day, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
                counts[day] = counts.get(day, 0) + n
    return out


FEED_LAG_EXPECTED_ROWS = 7
"""A ledger table whose latest row is d days before the other's is warned about when its pace over
the 13 weeks before, weekday by weekday, gives more than this many rows in those d days (the chance
of none by luck is then under 0.1 %: e^-7): a payment feed a day behind the invoice feed, not a
quiet day, and not a weekend of a book whose payments are booked on working days only."""

FEED_LAG_WEEKS = 13


def expected_rows(counts: dict[dt.date, int], last: dt.date, days: int) -> tuple[float, float]:
    """(rows a day, rows expected in the ``days`` days after ``last``) of a table whose rows per day
    are ``counts``, by its pace over the :data:`FEED_LAG_WEEKS` weeks up to ``last``, weekday by
    weekday (a book booked on working days expects none on a weekend)."""
    span = 7 * FEED_LAG_WEEKS
    recent = [(d, n) for d, n in counts.items() if last - dt.timedelta(days=span) < d <= last]
    per_weekday = [0.0] * 7
    for d, n in recent:
        per_weekday[d.weekday()] += n / FEED_LAG_WEEKS
    expected = sum(per_weekday[(last + dt.timedelta(days=k)).weekday()] for k in range(1, days + 1))
    return sum(n for _, n in recent) / span, expected


def feed_lag(per_table: dict[str, dict[dt.date, int]], end: dt.date | None = None) -> list[str]:
    """A warning when the invoices or the payments stop days before the other table (one feed sent
    a day or more behind): the invoices paid in the missing days look unpaid, days past due and the
    queue run high (s14: 12 of 120 debtors' balances, up to 14 more days past due, for one day)."""
    inv, pay = per_table.get("invoices", {}), per_table.get("payments", {})
    if not inv or not pay:
        return []
    ends = {"invoices": max(inv), "payments": max(pay)}
    if end is not None:  # rows after the export's end (mistyped dates) do not count
        ends = {
            t: max((d for d in c if d <= end), default=ends[t])
            for t, c in (("invoices", inv), ("payments", pay))
        }
    behind, ahead = sorted(ends, key=lambda t: ends[t])
    lag = (ends[ahead] - ends[behind]).days
    if lag < 1:
        return []
    last = ends[behind]
    pace, expected = expected_rows(per_table[behind], last, lag)
    if expected <= FEED_LAG_EXPECTED_ROWS:
        return []
    one = behind[:-1]
    return [
        f"{behind}: the latest {one} is dated {last}, {counted(lag, 'day')} before the latest of the {ahead} "
        f"({ends[ahead]}), while the book has {pace:,.1f} {behind} a day: the {behind} feed looks "
        f"{counted(lag, 'day')} behind. "
        + (
            "Invoices paid since then look unpaid (days past due, the watchlist and the queue run high). "
            if behind == "payments"
            else "Payments of invoices issued since then name invoices the export does not hold (unknown_invoice). "
        )
        + f"Send both feeds up to the same day, or score {last} (`ews score --as-of {last}`)"
    ]


def late_dates(
    stage: Path, per_table: dict[str, dict[dt.date, int]] | None = None
) -> tuple[list[str], dict[str, Any] | None]:
    """(warnings, the manifest's ``late_rows`` entry or None) for the staged buckets in ``stage``
    (``per_table``: :func:`day_counts` of it, when read already)."""
    counts: dict[dt.date, int] = {}
    for table_counts in (day_counts(stage) if per_table is None else per_table).values():
        for day, n in table_counts.items():
            counts[day] = counts.get(day, 0) + n
    for day, n in _allocated_days(stage).items():  # a mistyped clearing date is cut like any other
        counts[day] = counts.get(day, 0) + n
    found = export_end(counts)
    if found is not None:  # judged again knowing which debtors are new after the silence
        found = export_end(counts, newest_first=_newest_first_day(stage, found[0]))
    if found is None:
        return [], None
    end, tail = found
    examples: list[str] = []
    for table, column in (*DATE_COLUMNS.items(), ("payments", "allocated_on")):
        for path in _files(stage, table):
            if column == "allocated_on" and column not in _names(path):
                continue
            frame = pd.read_parquet(path, columns=[_ID_COLUMNS[table], column])
            late = frame.loc[frame[column] > pd.Timestamp(end)].sort_values([column, _ID_COLUMNS[table]])
            examples += [
                f"{table}.{column} {pd.Timestamp(d).date()} ({_ID_COLUMNS[table]} {i!r})"
                for i, d in zip(late[_ID_COLUMNS[table]], late[column], strict=True)
            ]
    last = max(counts)
    gap = min(d for d in counts if d > end) - end
    entry = {
        "export_end": end.isoformat(),
        "last_date": last.isoformat(),
        "rows": tail,
        "gap_days": gap.days,
        "examples": examples[:5],
    }
    warning = (
        f"dates: {counted(tail, 'row')} dated after {end}, the end of the bulk of the export, after "
        f"{counted(gap.days, 'day')} with no dated row ({'; '.join(examples[:5])}{' ...' if len(examples) > 5 else ''}): "
        "probably mistyped dates. They are kept, but ews takes "
        f"{end} as the end of the export (manifest.json late_rows), so `ews score` measures the "
        "export's age from it and a stale export is not hidden by them. Correct these dates in the "
        "source system and export again; if they are right, the feed is thin after "
        f"{end} (an export cut short?)"
    )
    return [warning], entry


def statement_gaps(stage: Path) -> list[str]:
    """Warnings about statements that are not one per debtor and calendar month between a
    debtor's first and last statement: missing months, and two statements in one month."""
    missing_debtors = missing_months = extra = 0
    gap_examples: list[str] = []
    extra_examples: list[str] = []
    for path in _files(stage, "statements"):
        frame = pd.read_parquet(path, columns=["debtor_id", "period_end"]).dropna()
        if frame.empty:
            continue
        month = frame["period_end"].dt.year.to_numpy() * 12 + frame["period_end"].dt.month.to_numpy() - 1
        code = pd.factorize(frame["debtor_id"])[0]
        order = np.lexsort((frame["period_end"].to_numpy(), month, code))
        code, month = code[order], month[order]
        ids = frame["debtor_id"].to_numpy()[order]
        ends = frame["period_end"].to_numpy()[order]
        same = np.r_[False, code[1:] == code[:-1]]
        step = np.r_[0, np.diff(month)]
        gaps = same & (step > 1)
        twice = same & (step == 0)
        missing_debtors += len(np.unique(code[gaps]))
        missing_months += int((step[gaps] - 1).sum())
        extra += int(twice.sum())
        for i in np.flatnonzero(gaps)[: 3 - len(gap_examples)]:
            y, m = divmod(int(month[i - 1]) + 1, 12)
            gap_examples.append(f"{ids[i]!r} has none for {y:04d}-{m + 1:02d}")
        for i in np.flatnonzero(twice)[: 3 - len(extra_examples)]:
            extra_examples.append(
                f"{ids[i]!r} on {pd.Timestamp(ends[i - 1]).date()} and {pd.Timestamp(ends[i]).date()}"
            )
    out = []
    if missing_months:
        out.append(
            f"statements: {counted(missing_debtors, 'debtor')} missing {counted(missing_months, 'monthly statement')} "
            "between "
            f"their first and last one ({'; '.join(gap_examples)}{' ...' if missing_debtors > 3 else ''}). "
            "The statement features count calendar months (a missing month reads as no activity and "
            "breaks month-to-month streaks): export every month of every account, or check the export's "
            "filters"
        )
    if extra:
        out.append(
            f"statements: {counted(extra, 'statement')} in a calendar month that already has one for the same "
            f"debtor ({'; '.join(extra_examples)}{' ...' if extra > 3 else ''}): the statement features "
            "expect one statement per debtor and month, so that month counts twice in their windows. Export "
            "the month-end statements only (drop interim or mid-month statements)"
        )
    return out


def resent_inputs(
    out: Path, manifest: dict[str, Any], per_table: dict[str, dict[dt.date, int]] | None = None
) -> list[str]:
    """A warning when today's input files are, byte for byte, those of the ingest ``out`` holds for an
    earlier date (its ``manifest.json``'s SHA-256 of the inputs): yesterday's export sent again as
    today's. Nothing else tells: the rows are valid, both feeds end on the same day, and the scores
    only age a day (s30-hostile: 4 of 300 bands moved, 64 PDs up, no word).

    An honest export of a quiet day (a weekend of a book booked on working days) is the same bytes
    too: nothing was invoiced or paid since. ``per_table`` (:func:`day_counts` of today's staged
    tables) tells them apart: when the book's weekday pace over its last 13 weeks expects at most
    :data:`FEED_LAG_EXPECTED_ROWS` invoices and payments in the days since the earlier date
    (:func:`expected_rows`), it is said as a note (``manifest["notes"]``), not a warning; without
    ``per_table``, always a warning."""
    try:
        before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        then = dt.date.fromisoformat(before["as_of"])
        hashes = sorted(before["inputs"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    now = dt.date.fromisoformat(manifest["as_of"])
    if then >= now or not hashes or hashes != sorted(manifest["inputs"].values()):
        return []
    days = (now - then).days
    same = (
        f"inputs: today's {counted(len(hashes), 'input file')} are the same bytes as those ingested for {then} "
        f"(SHA-256 in manifest.json inputs), {counted(days, 'day')} before --as-of {now}"
    )
    counts: dict[dt.date, int] = {}
    for table in ("invoices", "payments"):
        for day, n in ((per_table or {}).get(table) or {}).items():
            counts[day] = counts.get(day, 0) + n
    if per_table is not None and counts:
        pace, expected = expected_rows(counts, then, days)
        if expected <= FEED_LAG_EXPECTED_ROWS:
            manifest.setdefault("notes", []).append(
                f"{same}: expected when nothing was invoiced or paid since {then} (the book's pace on "
                f"those weekdays over the last 13 weeks gives {expected:,.1f} invoices and payments in "
                f"{counted(days, 'day')}). If rows were booked since, export again"
            )
            return []
        said = (
            f": the book's pace on those weekdays over the last 13 weeks gives {expected:,.0f} invoices and "
            f"payments in {counted(days, 'day')} ({pace:,.1f} a day), and none is dated after {then}, so the "
            "export was probably not run again"
        )
    else:
        said = ": if the export was not run again"
    return [
        f"{same}{said}: the rows of the days after {then} are missing and the invoices paid since look "
        f"unpaid. Export again and ingest, or ingest these files with --as-of {then}"
    ]


STALE_EXPORT_DAYS = 7
"""Without --as-of, an export whose last dated row is more than this many days before today (the days
after which ``ews score`` warns that the as-of date lies after the data, ``WARN_LAG_DAYS``) is dated by
that row, not by today: a 2024 export ingested in 2026 was stamped "as of 2026-12-06" (s34-walk)."""


def _ar_at_end(stage: Path, manifest: dict[str, Any], end: dt.date) -> None:
    """An AR export dated by its end: its invoices due over a year before ``end`` and still open,
    counted as ingest counts them (:func:`pipelines.ingest.checks.ar_open_items`) bucket by bucket from
    the staged tables (a debtor's invoices and payments share a bucket), and the warning on them said
    again at that date."""
    from pipelines.ingest.checks import ar_old_warning, ar_open_items

    old = old_open = 0
    for path in _files(stage, "invoices"):
        tables = {"invoices": pd.read_parquet(path, columns=["invoice_id", "due_date"])}
        paid = stage / "payments" / path.parent.name / path.name
        if paid.is_file():
            tables["payments"] = pd.read_parquet(paid, columns=["invoice_id"])
        counts = ar_open_items(tables, end)
        old, old_open = old + counts["due_over_a_year"], old_open + counts["open_due_over_a_year"]
    items = manifest["ar_export"]
    items["due_over_a_year"], items["open_due_over_a_year"] = old, old_open
    said = "invoices due over a year ago are still open"
    manifest["warnings"] = [w for w in manifest["warnings"] if not (w.startswith("ar_export:") and said in w)]
    manifest["warnings"] += ar_old_warning(
        items, float(manifest["rules"]["ar_max_open_share"]), str(items.get("settlement_column", ""))
    )


def export_as_of(
    manifest: dict[str, Any], per_table: dict[str, dict[dt.date, int]], stage: Path | None = None
) -> None:
    """Without --as-of (``manifest["as_of_from"] == "today"``) and without a kept history (whose nights
    are dated by the day they were ingested): when the export ends more than :data:`STALE_EXPORT_DAYS`
    before today, the manifest's ``as_of`` is the export's end (the latest dated row, or ``late_rows``'
    end), ``as_of_from`` is ``export_end``, and a note says so. Rows dated after today were quarantined
    as before."""
    if manifest.get("as_of_from") != "today":
        return
    days = [d for counts in per_table.values() for d in counts]
    if not days:
        return
    late = manifest.get("late_rows")
    end = dt.date.fromisoformat(late["export_end"]) if late else max(days)
    today = dt.date.fromisoformat(manifest["as_of"])
    if (today - end).days <= STALE_EXPORT_DAYS:
        return
    if "history" in manifest:  # a kept history's night is dated today; an old first export said nothing (s43)
        first = not (manifest["history"] or {}).get("base_as_of")
        manifest.setdefault("notes", []).append(
            f"as of {today} (--keep-history dates each night by the day it is ingested), but the export's last "
            f"dated row is {end}, {(today - end).days:,} days before: if the export is of that day, date it so "
            + (
                f"(this is the history's first night: remove the --out folder and ingest "
                f"again with --as-of {end}; its debtors' values are dated {today} otherwise)"
                if first
                else f"with --as-of {end} next time (a history refuses an --as-of before its own)"
            )
        )
        return
    manifest["as_of"], manifest["as_of_from"] = end.isoformat(), "export_end"
    if "ar_export" in manifest and stage is not None:  # counted against today before (s35-walk): at the end
        _ar_at_end(stage, manifest, end)
    month_end = weekend_month_end(end)
    also = (
        f", or its month-end with `ews score --as-of {month_end}` (a {month_end:%A}: nothing is dated after "
        f"the {end:%A} before it)"
        if month_end is not None
        else ""
    )
    manifest.setdefault("notes", []).append(  # no word of today: a rerun on another day writes the same bytes
        f"as of {end}, the export's last dated row: no --as-of was given and the export ends more than "
        f"{counted(STALE_EXPORT_DAYS, 'day')} before the day of the ingest. Score it with `ews score --as-of {end}`"
        f"{also}; give --as-of to date the ingest otherwise"
    )


def weekend_month_end(end: dt.date) -> dt.date | None:
    """The month-end that follows ``end`` across weekend days only, else None: an export cut at the month-end
    when that falls on a weekend ends on the Friday before (Friday 2024-11-29 -> Saturday 2024-11-30; Friday
    2024-03-29 -> Sunday 2024-03-31), and a user who scores month-ends should be told that the month-end is
    as good a date (s36-walk W13). ``end`` itself a month-end, or a working day in between: None."""
    day = end
    while True:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:  # a working day without a dated row: not a weekend month-end cut
            return None
        if (day + dt.timedelta(days=1)).day == 1:
            return day


def staged_checks(stage: Path, manifest: dict[str, Any]) -> dict[str, dict[dt.date, int]]:
    """Add the warnings of :func:`late_dates` and :func:`statement_gaps` to ``manifest`` (and its
    ``late_rows`` entry when some rows follow the export's end), date an old export by its end
    (:func:`export_as_of`); returns the staged tables' rows per
    day (:func:`day_counts`, for :func:`resent_inputs`)."""
    per_table = day_counts(stage)
    warnings, late = late_dates(stage, per_table)
    if late is not None:
        manifest["late_rows"] = late
    end = dt.date.fromisoformat(late["export_end"]) if late is not None else None
    manifest["warnings"] += (
        warnings
        + feed_lag(per_table, end)
        + statement_gaps(stage)
        + disputed_share(stage)
        + long_terms(stage)
    )
    export_as_of(manifest, per_table, stage)
    rests = short_paid_rests(stage, dt.date.fromisoformat(manifest["as_of"]))
    if rests is not None:
        manifest["short_paid_rests"] = rests
    unstated = statements_without_balance(stage)
    if unstated is not None:
        manifest["statements_without_balance"] = unstated
    return per_table


def statements_without_balance(stage: Path) -> dict[str, int] | None:
    """``{"rows", "of"}``: the accepted statements that state no balance (the column unmapped or the cell
    empty), of all; None when every statement states one (or there are none). Under
    ``default_definition.min_open_amount`` such a statement's days past due decide alone
    (``features.statements.material_dpd``): :func:`statement_balance_warning` says so."""
    import pyarrow.parquet as pq

    rows = total = 0
    for path in _files(stage, "statements"):
        table = pq.read_table(path, columns=["balance"]) if "balance" in pq.read_schema(path).names else None
        n = pq.read_metadata(path).num_rows
        total += n
        rows += n if table is None else table.column(0).null_count
    return {"rows": rows, "of": total} if rows else None


def statement_balance_warning(unstated: dict[str, int] | None, definition: Any, source: str) -> list[str]:
    """The warning for the manifest's ``statements_without_balance`` when ``definition`` (the project's
    ``features.params.DefaultDefinition``, from ``source``) has a ``min_open_amount``; none otherwise."""
    threshold = getattr(definition, "min_open_amount", 0.0) if definition is not None else 0.0
    if not unstated or not threshold:
        return []
    rows = unstated["rows"]
    return [
        f"statements: {rows:,} of {counted(unstated['of'], 'statement')} state{'s' if rows == 1 else ''} no "
        "balance, so "
        f"default_definition.min_open_amount ({threshold:,.2f}, {source}) cannot apply to them: their "
        "days_past_due alone decide a default, the roll-rate state and the queues' days past due. Map the "
        "statements' balance column to apply the threshold"
    ]


SHORT_REST_UNITS = 1.0
SHORT_REST_SHARE = 0.01
SHORT_PAID_MIN_DEBTORS = 5
SHORT_PAID_MAX_ROWS = 2_000_000
"""A short-paid rest: an overdue invoice partly paid, of which less than 1.00 (one unit of the reporting
currency) or less than 1 % of its amount is open (bank charges, a cash discount taken late, rounding).
From 5 debtors whose only overdue amount is such rests, ingest records them (``short_paid_rests``): with
``default_definition.min_open_amount`` 0 each rest makes its debtor a default once it is
``dpd_threshold`` days past due (ced2858; s36-minopen measured what a threshold changes, BENCHMARKS.md).
The count reads the debtor buckets in order until 2,000,000 invoices are read (0.2 s for 55,000 invoices,
2.1 s for 654,000 at load 12; a 1M-debtor book of 49M invoices in 46 buckets reads its first 2, 2.1M invoices:
4.1 CPU-s, 29 s wall at load 14, 0.6 GiB, and says so; all 46 would take 82 CPU-s, 521 s wall:
benchmarks/short_paid_cost.py, session 37)."""


def short_paid_rests(stage: Path, as_of: dt.date) -> dict[str, Any] | None:
    """``{"debtors", "invoices", "amount", "example", "buckets_read", "buckets"}`` for the debtors whose every overdue open invoice
    at ``as_of`` is a short-paid rest (:data:`SHORT_REST_UNITS`, :data:`SHORT_REST_SHARE`), when at least
    :data:`SHORT_PAID_MIN_DEBTORS`; else None. Payments with an ``invoice_id`` paid on or before ``as_of``
    count toward their invoice; a debtor with payments without one (cash applied oldest first) is left
    out. E.g. 1,000.00 due 2024-01-31, 999.40 received: 0.60 open, a rest; 985.00 received: 15.00 (1.5 %),
    not one; an unpaid invoice is not one."""
    import pyarrow.parquet as pq

    from pipelines.ingest.masks import index_in

    day = pd.Timestamp(as_of)
    debtors = invoices = 0
    amount = 0.0
    example: str | None = None
    paths = {p.parent.name: p for p in _files(stage, "payments")}
    files = _files(stage, "invoices")
    rows = read = 0
    for path in files:
        if rows >= SHORT_PAID_MAX_ROWS:
            break
        inv = pd.read_parquet(path, columns=["invoice_id", "debtor_id", "due_date", "amount"])
        rows, read = rows + len(inv), read + 1
        pay_path = paths.get(path.parent.name)
        paid = pd.Series(dtype="float64")
        skip = pd.Index([], dtype="string")
        if pay_path is not None and "invoice_id" in pq.read_schema(pay_path).names:
            pay = pd.read_parquet(pay_path, columns=["debtor_id", "invoice_id", "paid_on", "amount"])
            pay = pay[pay["paid_on"] <= day]
            skip = pd.Index(pay.loc[pay["invoice_id"].isna(), "debtor_id"].unique())
            paid = pay.dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
        got = np.zeros(len(inv))
        # an Arrow lookup; the reindex on text ids took 2.73 CPU-s for 3.17M invoices, this 0.72 (s43-scale)
        if len(paid):
            at = index_in(inv["invoice_id"], paid.index.to_series())
            got[at >= 0] = paid.to_numpy(dtype="float64")[at[at >= 0]]
            got[np.isnan(got)] = 0.0
        total = inv["amount"].to_numpy(dtype="float64")
        rest = np.round(total - got, 6)
        overdue = (
            (inv["due_date"] < day).to_numpy() & (rest > 0.005) & ~inv["debtor_id"].isin(skip).to_numpy()
        )
        small = overdue & (got > 0) & ((rest < SHORT_REST_UNITS) | (rest < SHORT_REST_SHARE * total))
        frame = pd.DataFrame({"debtor_id": inv["debtor_id"].to_numpy()[overdue], "small": small[overdue]})
        only = frame.groupby("debtor_id")["small"].all()
        only = only.index[only.to_numpy(dtype=bool)]
        if not len(only):
            continue
        mine = small & inv["debtor_id"].isin(only).to_numpy()
        debtors += len(only)
        invoices += int(mine.sum())
        amount += float(rest[mine].sum())
        first = np.flatnonzero(mine)[0]
        if example is None:
            example = (
                f"{inv['invoice_id'].iloc[first]} of {inv['debtor_id'].iloc[first]}: {rest[first]:,.2f} of "
                f"{total[first]:,.2f} open, due {pd.Timestamp(inv['due_date'].iloc[first]).date()}"
            )
    if debtors < SHORT_PAID_MIN_DEBTORS:
        return None
    return {
        "debtors": debtors,
        "invoices": invoices,
        "amount": round(amount, 2),
        "example": example,
        "buckets_read": read,
        "buckets": len(files),
    }


def short_paid_warning(rests: dict[str, Any] | None, definition: Any, source: str) -> list[str]:
    """The warning for the manifest's ``short_paid_rests`` when ``definition`` (the project's
    ``features.params.DefaultDefinition``, from ``source``) has no ``min_open_amount``; none otherwise."""
    if not rests or definition is None or getattr(definition, "min_open_amount", 0.0):
        return []
    return [
        f"invoices: {counted(rests['debtors'], 'debtor')} owe nothing overdue but short-paid rests, each below "
        f"{SHORT_REST_UNITS:,.2f} or {SHORT_REST_SHARE:.0%} of its invoice ({counted(rests['invoices'], 'invoice')}, "
        f"{rests['amount']:,.2f} in all; e.g. {rests['example']})"
        + (
            f", counted in the first {rests['buckets_read']:,} of {counted(rests['buckets'], 'debtor bucket')}"
            if rests.get("buckets_read", 0) < rests.get("buckets", 0)
            else ""
        )
        + ". With default_definition.min_open_amount 0 "
        f"({source}) such a rest keeps its invoice open, and {definition.dpd_threshold} days after the due date it "
        "puts its debtor in default: out of the live scoring, into the recovery queue. If these rests are bank "
        "charges, discounts or rounding, set default_definition.min_open_amount (e.g. 10, in the reporting "
        "currency) and train again"
    ]
