"""A kept ledger history: ``ews ingest --keep-history`` merges today's accepted rows into the
tables the output folder already holds, so a rolling export (the last 6 or 12 months of an ERP)
does not shorten the history the features read.

Rules (each tested in ``tests/pipelines/test_history_s25.py``):

* a row of today's export replaces the kept row with the same key (:data:`KEYS`): amounts, dates
  or a debtor revised in the ERP win;
* kept rows older than today's export's span (:func:`_span_start`: the unbroken run of months up
  to the as-of date whose rows reach half the recent rate, so the old open items of an export or a
  mistyped early date do not widen it, starting inside its first month after the days whose rows
  stay under half the recent pace, so a window that starts mid-month keeps the days before it) stay;
* a kept row INSIDE today's span that today's export lacks was deleted or cancelled in the ERP: it
  is removed from the history and counted (``manifest.json`` ``history.tables.<table>.removed``, a
  warning with the first ids). Kept, a cancelled invoice would stay open, age past 90 days and put
  its debtor in default; quarantine is for the rows of today's input, and these are not. A kept
  payment counts as inside the span only when its invoice was issued inside the invoices' span (or
  it is unallocated): an export of "the window's invoices and their payments" leaves out the
  payments of older invoices, which are not deleted. A kept invoice inside the span that is paid
  (:func:`settled`) and issued before the day from which today's export holds the paid invoices it
  keeps (:func:`open_items_end`) aged out of the export's window: it stays, with its payments,
  counted ``aged_out`` (s41-rolling). More than :data:`MAX_REMOVED_SHARE` of the kept
  rows of a span removed at once is a broken export, not cancellations: refused, nothing changes; so
  is an export lacking months of its window (:func:`missing_months`);
* payments of today's export naming an invoice the history holds for the same debtor (the
  invoice was issued before today's window) are accepted, not ``invoice_before_export`` /
  ``unknown_invoice``; rows whose debtor only the history knows are not ``unknown_debtor``;
* an export of another ledger is refused (:func:`foreign`): no invoice currency in common with the
  history; more than half of today's invoices found in the history by id differing from the kept
  invoice in issue date and amount at once (:func:`_clashes`: two books both numbered
  INV-0001...); or fewer than half of today's invoices dated before the history's as-of date (or of
  today's debtors) known to it;
* an as-of date before the history's is refused (rows known later would enter an earlier date);
* today's debtors table dates the master data (:func:`derived_rows`): a ``debtor_history`` row,
  valid from the as-of date, for each debtor whose ``credit_limit``, ``segment`` or ``country``
  differs from what the history states for it that day (every debtor on the first night: nothing
  is stated yet). A team without an ERP change log builds its dated history by running ews
  nightly. A ``debtor_history`` row of the same debtor and date (``--debtor-history``) wins: the
  derived row is dropped.

The history as it stood before the latest date's merge is kept in ``OUT/.history/`` (hard links,
no copy), so a rerun for the same date merges into the same base and writes the same bytes.
``manifest.json`` keeps today's counts per table (rows in = accepted + quarantined) and states the
history's apart: ``history.tables.<table>`` = ``kept`` (rows of the base), ``replaced``, ``added``,
``removed``, ``aged_out`` (when any) and ``rows`` (published: kept - removed + added); ``debtor_history`` also ``derived``
(of ``added``, the rows derived from today's debtors table).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.master import ATTRIBUTES, stated_at
from pipelines.ingest.masks import index_in, isin, passing
from pipelines.ingest.rules import DUPLICATE_KEYS
from pipelines.sources.read import TableError
from pipelines.words import counted

BASE = ".history"
"""Sub-folder of ``--out`` holding the history as it stood before the latest date's merge."""
KEYS: dict[str, tuple[str, ...]] = DUPLICATE_KEYS
"""A row's key per table: the one ingest's duplicate check reads (an event by debtor, date and kind)."""
SPAN_DATES: dict[str, str] = {
    "invoices": "issue_date",
    "payments": "paid_on",
    "events": "event_date",
    "statements": "period_end",
}
"""The date that places a row in or out of today's span; debtors and payment plans are never removed."""
MAX_REMOVED_SHARE = 0.10
"""Refuse a merge that would remove more than this share of the kept rows inside a table's span."""
MIN_REMOVED = 20
"""... when at least this many rows (a small book's two cancellations are not a broken export)."""
SPAN_SHARE = 0.5
"""A month is in today's span when its rows reach this share of the recent rate (:func:`_span_start`)."""
RECENT_MONTHS = 3
MIN_OVERLAP = 20
"""Rows needed before the ids of today's export are compared with the history's."""
MAX_CLASH_SHARE = 0.5
"""Refuse an export when more than this share of its invoices whose ids the history holds differ
from the kept invoice in issue date and amount at once (:func:`_clashes`)."""
READMITTED = ("invoice_before_export", "unknown_invoice")


@dataclass
class History:
    """The base a merge starts from: the tables of ``folder`` (``OUT`` or ``OUT/.history``)."""

    folder: Path
    as_of: dt.date
    tables: dict[str, pd.DataFrame]


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def refuse_replacing_history(out: Path) -> None:
    """An ingest WITHOUT ``--keep-history`` into a folder that holds a kept history would replace
    months or years of merged exports with today's export alone, and the next night's PDs would read
    a short history: refused before any work (:class:`TableError`), the folder unchanged."""
    manifest = _manifest(Path(out))
    if manifest is None or "history" not in manifest or not manifest.get("outputs"):
        return
    raise TableError(
        f"--out {out}: holds a ledger history kept by --keep-history (as of {manifest.get('as_of')}); "
        "an ingest without --keep-history would replace it with today's export alone. Add "
        "--keep-history to merge today's export into it, or write to another --out folder (delete "
        f"{out} first to start the history over)"
    )


def base_of(out: Path, as_of: dt.date) -> tuple[Path, dt.date] | None:
    """Where the history to merge today's export of ``as_of`` into lies, and its as-of date:
    ``out`` when its tables are of an earlier date; for a rerun of ``out``'s own date, the base that
    date was merged into (``out/.history``, None when it had none). None for a folder without an
    ingest. Raises :class:`TableError` when ``out`` is of a later date. Reads the manifests only."""
    out = Path(out)
    manifest = _manifest(out)
    if manifest is None or not manifest.get("outputs"):
        return None
    held = dt.date.fromisoformat(manifest["as_of"])
    if held > as_of:
        raise TableError(
            f"--keep-history: {out} holds the history as of {held}, after --as-of {as_of}: merging an "
            "earlier export would put rows known later into an earlier date. Ingest as of "
            f"{held} or later, or into another --out folder"
        )
    folder = out
    if held == as_of and "history" in manifest:  # a rerun of the date: the base it was merged into
        if manifest["history"].get("base_as_of") is None:
            return None
        folder = out / BASE
        base = _manifest(folder)
        if base is None:
            raise TableError(
                f"--keep-history: {out / BASE} (the history before {as_of}'s merge) is missing or "
                f"unreadable, so {as_of} cannot be merged again. Ingest as of a later date"
            )
        held = dt.date.fromisoformat(base["as_of"])
    return folder, held


def load_history(out: Path, as_of: dt.date) -> History | None:
    """The history to merge today's export of ``as_of`` into (:func:`base_of`), its tables read."""
    from pipelines.adapters.files import read_portfolio

    base = base_of(out, as_of)
    if base is None:
        return None
    portfolio = read_portfolio(base[0])
    tables = {t: f for t, f in vars(portfolio).items() if isinstance(f, pd.DataFrame)}
    return History(base[0], base[1], tables)


def _keys(frame: pd.DataFrame, table: str) -> pd.Series:
    """One text key per row (the :data:`KEYS` columns, dates as YYYY-MM-DD, joined)."""
    key = None
    for col in KEYS[table]:
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        values = values.astype("string").fillna("")
        key = values if key is None else key + "\x1f" + values
    return pd.Series(key).reset_index(drop=True)


def _unchanged(replaced: pd.DataFrame, new: pd.DataFrame, table: str) -> int:
    """How many of the kept rows ``replaced`` (by a row of ``new`` with their key) come again with every
    field as kept: an ERP's rolling export re-sends a year of rows each night, and "replaced 24,038" read
    as 24,038 revisions (s39-walk F9) where 48 were. A kept row moved to another debtor partition (no row
    of ``new`` here) counts as changed; so does one whose key ``new`` holds twice."""
    cols = [c for c in replaced.columns if c in new.columns]
    if not len(new) or not cols:
        return 0
    # each replaced row paired with today's row of its key (a key today holds twice pairs with none) by
    # position, as the inner join on the key texts did (s44-scale: that join was 4.3 % of a merged night)
    keys = _keys(new, table)
    once = np.flatnonzero(~keys.duplicated(keep=False).to_numpy(dtype=bool))
    at = index_in(_keys(replaced, table), keys.iloc[once])
    mine = np.flatnonzero(at >= 0)
    theirs = once[at[mine]]
    same = np.ones(len(mine), dtype=bool)
    for c in cols:
        a = replaced[c].iloc[mine].reset_index(drop=True)
        b = new[c].iloc[theirs].reset_index(drop=True)
        equal = (a == b).fillna(False).to_numpy(dtype=bool) if len(mine) else np.zeros(0, dtype=bool)
        same &= equal | (a.isna().to_numpy() & b.isna().to_numpy())
    return min(int(same.sum()), len(replaced))


def _pair(frame: pd.DataFrame) -> pd.Series:
    """``invoice_id`` and ``debtor_id`` of each row as one text (a payment's invoice for its debtor)."""
    return (
        frame["invoice_id"].astype("string").fillna("")
        + "\x1f"
        + frame["debtor_id"].astype("string").fillna("")
    )


def _pair_codes(left: pd.DataFrame, right: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pair` of each row of ``left`` and of ``right`` as one int64 code, equal where the two
    texts are: the invoice and debtor ids coded over both frames together (a missing id as the empty
    text). :func:`settled` groups and looks up these codes; grouping the joined texts was 13.7 % of a
    streamed merged night at 200k (s43-scale), and it gives the same groups."""
    n = len(left)
    code: np.ndarray | None = None
    for col in ("invoice_id", "debtor_id"):
        both = pd.concat([left[col], right[col]], ignore_index=True).astype("string").fillna("")
        c, uniques = pd.factorize(both)
        c = c.astype(np.int64)
        code = c if code is None else code * len(uniques) + c
    assert code is not None
    return code[:n], code[n:]


def _known_debtors(tables: dict[str, pd.DataFrame]) -> pd.Index:
    ids = [f["debtor_id"] for t, f in tables.items() if t in ("debtors", "invoices", "statements")]
    return pd.Index(pd.concat(ids).astype("string").unique()) if ids else pd.Index([], dtype="string")


def readmit(
    history: History | None, typed: dict[str, pd.DataFrame], masks: dict[str, dict[str, np.ndarray]]
) -> dict[str, int]:
    """Clear today's references the history resolves: a payment's ``invoice_before_export`` /
    ``unknown_invoice`` when the history holds its invoice for the same debtor, and any table's
    ``unknown_debtor`` when the history knows the debtor. Rows with another reason stay
    quarantined. Returns the rows cleared per table."""
    cleared: dict[str, int] = {}
    if history is None:
        return cleared
    known = _known_debtors(history.tables)
    for table, m in masks.items():
        if "unknown_debtor" in m and len(known):
            hit = m["unknown_debtor"] & isin(typed[table]["debtor_id"], pd.Series(known))
            if hit.any():
                m["unknown_debtor"] = m["unknown_debtor"] & ~hit
                cleared[table] = cleared.get(table, 0) + int(hit.sum())
    inv = history.tables.get("invoices")
    pay = typed.get("payments")
    if inv is None or pay is None or "payments" not in masks:
        return cleared
    held = isin(_pair(pay), _pair(inv)) & pay["invoice_id"].notna().to_numpy()
    m = masks["payments"]
    for reason in READMITTED:
        if reason in m:
            hit = m[reason] & held
            if hit.any():
                m[reason] = m[reason] & ~hit
                cleared["payments"] = cleared.get("payments", 0) + int(hit.sum())
    return cleared


def foreign(history: History, today: dict[str, pd.DataFrame], out: Path) -> str | None:
    """Why today's export is not of the history's ledger (one line), or None."""
    fix = (
        f"An export of another ledger is not merged into {out}'s history: ingest it into its own --out "
        f"folder (or delete {out} first to start the history over with it)"
    )
    h_inv, t_inv = history.tables.get("invoices"), today.get("invoices")
    if h_inv is not None and t_inv is not None and len(h_inv) and len(t_inv):
        h_cur = set(h_inv["currency"].dropna().astype(str))
        t_cur = set(t_inv["currency"].dropna().astype(str))
        if h_cur and t_cur and not h_cur & t_cur:
            return (
                f"--keep-history: today's invoices are in {', '.join(sorted(t_cur))}, the history's in "
                f"{', '.join(sorted(h_cur))}: no currency in common. {fix}"
            )
        clash = _clashes(h_inv, t_inv)
        if clash is not None:
            return f"{clash} {fix}"
        seen = t_inv.loc[t_inv["issue_date"] <= pd.Timestamp(history.as_of)]
        if len(seen) >= MIN_OVERLAP:
            found = int(isin(seen["invoice_id"], h_inv["invoice_id"]).sum())
            if found * 2 < len(seen):
                return (
                    f"--keep-history: {len(seen) - found:,} of today's {len(seen):,} invoices issued on or before "
                    f"{history.as_of} (the history's as-of date) are not in the history: their ids are another "
                    f"ledger's. {fix}"
                )
            return None
    if t_inv is not None and len(t_inv):
        debtors = pd.Index(t_inv["debtor_id"].astype("string").unique())
        known = _known_debtors(history.tables)
        if len(debtors) >= MIN_OVERLAP and len(known):
            found = int(isin(pd.Series(debtors), pd.Series(known)).sum())
            if found * 2 < len(debtors):
                return (
                    f"--keep-history: {len(debtors) - found:,} of the {len(debtors):,} debtors of today's invoices "
                    f"are not in the history: their ids are another ledger's. {fix}"
                )
    return None


def _clashes(kept: pd.DataFrame, today: pd.DataFrame) -> str | None:
    """Why today's invoices are another ledger's whose ids collide with the history's (two books
    both numbered INV-0001...), or None. A revision in the ERP changes an invoice's amount or its
    dates, not both at once: an invoice whose issue date AND amount differ from the kept row with
    its id is another invoice. The debtor is not asked for: books numbered per customer (ews
    generate's I<debtor><n>) give a colliding id the same debtor. More than :data:`MAX_CLASH_SHARE`
    of today's invoices found in the history (from :data:`MIN_OVERLAP`) so: another ledger."""
    at = index_in(today["invoice_id"], kept["invoice_id"])
    found = at >= 0
    n = int(found.sum())
    if n < MIN_OVERLAP:
        return None
    old, new = kept.iloc[at[found]].reset_index(drop=True), today.loc[found].reset_index(drop=True)
    clash = ~(old["issue_date"] == new["issue_date"]).fillna(False).to_numpy(dtype=bool)
    clash &= ~(old["amount"] == new["amount"]).fillna(False).to_numpy(dtype=bool)
    k = int(clash.sum())
    if k <= MAX_CLASH_SHARE * n:
        return None
    o, t = old.iloc[int(np.flatnonzero(clash)[0])], new.iloc[int(np.flatnonzero(clash)[0])]
    return (
        f"--keep-history: {k:,} of today's {n:,} invoices whose ids the history holds differ from the kept "
        f"invoice in issue date and amount at once (e.g. {t['invoice_id']}: {o['debtor_id']}, "
        f"{o['issue_date'].date()}, {o['amount']:,.2f} in the history; {t['debtor_id']}, {t['issue_date'].date()}, "
        f"{t['amount']:,.2f} today): another ledger numbered as the history's (an ERP's revision changes an "
        "invoice's amount or its dates, not both)."
    )


def day_counts(frame: pd.DataFrame | None, column: str, as_of: dt.date) -> pd.Series:
    """Rows per day of ``column`` up to ``as_of`` (index: the days; empty without rows): what
    :func:`span_start` reads. Counts of parts of a table add up to the whole table's."""
    if frame is None or not len(frame):
        return pd.Series([], dtype="int64")
    days = frame[column].dropna()
    return days[days <= pd.Timestamp(as_of)].value_counts()


def _span_start(frame: pd.DataFrame | None, column: str, as_of: dt.date) -> pd.Timestamp | None:
    """:func:`span_start` of the rows of ``frame``."""
    return span_start(day_counts(frame, column, as_of), as_of)


def span_start(per_day: pd.Series, as_of: dt.date) -> pd.Timestamp | None:
    """The first day of today's span of a table, from its rows per day up to the as-of date
    (:func:`day_counts`): the first month of the unbroken run of months,
    ending at the as-of month, whose rows reach :data:`SPAN_SHARE` of the recent rate (the median of
    the last :data:`RECENT_MONTHS` months' rows, up to the as-of month; their largest when that is 0).
    An export's open items issued before its window are a fraction of a month's invoices, and a
    mistyped early date a handful: neither widens the span, so the kept rows of those months are not
    taken for cancelled. (The feed checks' ``dense_span`` takes any month from which the whole
    stretch reaches 3/4 of the rate: three sparse months before a 12-month window still pass it.)
    Inside the run's first month the span starts on the day before which the month's rows stay
    below that share of the recent pace (:func:`_first_dense_day`): a window starting mid-month
    (``the last 365 days``) leaves the kept rows of the days before it, which are not in today's
    export because they are paid, not because they were cancelled.
    None without rows."""
    per_day = per_day[per_day > 0]
    if not len(per_day):
        return None
    end = pd.Timestamp(as_of).to_period("M")
    days = pd.DatetimeIndex(per_day.index)
    months = per_day.groupby(days.to_period("M")).sum()
    counts = months.reindex(pd.period_range(min(months.index.min(), end), end, freq="M"), fill_value=0)
    recent = counts.iloc[-RECENT_MONTHS:]
    rate = float(recent.median()) or float(recent.max())
    first = end
    for month, rows in zip(counts.index[-2::-1], counts.to_numpy()[-2::-1], strict=True):
        if rows == 0 or rows < SPAN_SHARE * rate:
            break
        first = month
    return _first_dense_day(per_day, first, rate, pd.Timestamp(as_of))


def _first_dense_day(per_day: pd.Series, month: pd.Period, rate: float, as_of: pd.Timestamp) -> pd.Timestamp:
    """The day today's span starts inside its first ``month`` (``per_day``: rows per day): the
    latest day before which that
    month's rows stay below :data:`SPAN_SHARE` of the recent pace (``rate`` rows a month). A window
    that starts on the 10th holds, on the days before, only the invoices still open (a few a day):
    its span starts once the rows from the 10th have made up the pace (a few days later: the safe
    side, a cancellation of those days is not seen), and the kept rows of the 1st to the 9th (paid,
    so not exported) stay. A window from the 1st starts there (its first days reach the pace). Before
    session 25's review the whole month counted once its rows reached half the recent rate (a
    window starting on the 1st to about the 15th of it), and the kept rows of its first days were
    removed as cancelled: each night of a "last 365 days" export removed another day of history."""
    start = month.to_timestamp()
    end = min(month.to_timestamp(how="end").normalize(), as_of)
    n = (end - start).days + 1
    per_day = per_day.groupby(pd.DatetimeIndex(per_day.index)).sum()
    counts = per_day.reindex(pd.date_range(start, end), fill_value=0).to_numpy()
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])  # rows before each day of the month
    pace = SPAN_SHARE * rate / month.days_in_month
    sparse = before < pace * np.arange(n)
    sparse[0] = True
    return start + pd.Timedelta(days=int(np.flatnonzero(sparse)[-1]))


SETTLED_SLACK = 0.005
"""An invoice is paid when the payments naming it reach its amount less this (a cent's rounding)."""


def settled(invoices: pd.DataFrame, payments: list[pd.DataFrame | None], as_of: dt.date) -> np.ndarray:
    """Per row of ``invoices``: paid in full by ``as_of`` by the payments naming it for its debtor (cash
    and credit memos; a payment id in several frames counted once, the last frame's row: today's wins
    over the kept one). Unallocated cash settles nothing here: an ERP's open items are the invoices its
    own allocations leave open (ews's ledger applies such cash oldest first, :mod:`features.ledger`;
    the ERP's export does not)."""
    cols = ["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"]
    frames = [f[cols] for f in payments if f is not None and len(f) and set(cols) <= set(f.columns)]
    if not frames or not len(invoices):
        return np.zeros(len(invoices), dtype=bool)
    pay = pd.concat(frames, ignore_index=True)
    pay = pay.loc[~(pay.duplicated("payment_id", keep="last") & pay["payment_id"].notna())]
    pay = pay.loc[pay["invoice_id"].notna() & (pay["paid_on"] <= pd.Timestamp(as_of)).fillna(False)]
    if not len(pay):
        return np.zeros(len(invoices), dtype=bool)
    pay_code, inv_code = _pair_codes(pay, invoices)
    paid = pay["amount"].groupby(pay_code).sum()
    got = np.nan_to_num(paid.reindex(inv_code).to_numpy(dtype="float64"), nan=0.0)
    amount = invoices["amount"].to_numpy(dtype="float64", na_value=np.nan)
    return (got >= amount - SETTLED_SLACK) & ~np.isnan(amount)


def paid_days(
    kept_tables: dict[str, pd.DataFrame],
    today: dict[str, pd.DataFrame],
    start: pd.Timestamp | None,
    as_of: dt.date,
    moved: pd.Index | None = None,
) -> pd.DataFrame:
    """The kept invoices issued from ``start`` (None: the first) to ``as_of`` and paid by then
    (:func:`settled`, by the kept and today's payments), per issue day: how many today's export holds
    (``present``: by id, or among ``moved``, today's ids of other debtor partitions) and lacks
    (``absent``). Counts of the partitions of a book add up to the whole book's
    (:func:`open_items_end` and :func:`missing_months` read them)."""
    inv = kept_tables.get("invoices")
    empty = pd.DataFrame({"absent": [], "present": []}, dtype="int64", index=pd.DatetimeIndex([], name="day"))
    if inv is None or not len(inv):
        return empty
    day = inv["issue_date"]
    inside = (day <= pd.Timestamp(as_of)).to_numpy(dtype=bool, na_value=False)
    if start is not None:
        inside = inside & (day >= start).to_numpy(dtype=bool, na_value=False)
    if not inside.any():
        return empty
    inv = inv.loc[inside]
    inv = inv.loc[settled(inv, [kept_tables.get("payments"), today.get("payments")], as_of)]
    if not len(inv):
        return empty
    new = today.get("invoices")
    present = np.zeros(len(inv), dtype=bool)
    if new is not None and len(new):
        present |= isin(inv["invoice_id"], new["invoice_id"])
    if moved is not None and len(moved):
        present |= isin(inv["invoice_id"], pd.Series(moved))
    frame = pd.DataFrame({"day": inv["issue_date"].to_numpy(), "present": present.astype("int64")})
    frame["absent"] = 1 - frame["present"]
    return frame.groupby("day")[["absent", "present"]].sum()


MIN_MISSING_MONTH = 5
"""A month whose every paid kept invoice today's export lacks is missing from this many (a small book's
month holds fewer than :data:`MIN_REMOVED`); a month held holds at least this many (:func:`missing_months`)."""


def missing_months(
    per_day: pd.DataFrame | None, as_of: dt.date, latest: pd.Timestamp | None = None
) -> list[tuple[pd.Period, int, int]]:
    """The calendar months missing from today's export (:func:`paid_days` of the whole kept history,
    summed over the book; ``latest``: the last issue day of today's invoices up to the as-of date).
    A month is *lacked* when today's export lacks most of its paid kept invoices (at least
    :data:`MIN_REMOVED` of them, or every one of at least :data:`MIN_MISSING_MONTH`), *held* when it
    holds most of them (at least :data:`MIN_MISSING_MONTH`). Missing: a run of lacked months before the
    as-of month that comes right after a held month and before a held month or a day of today's
    invoices. An ERP's rolling export holds every invoice of its window, so its months hold their paid
    invoices; the months before the window hold none of them (open items only), so they are lacked
    but no held month comes before them. A month dropped from the middle of the window ends the
    unbroken run of :func:`span_start`, so its kept rows were outside the span: neither removed nor
    counted, and the export was taken (s41-rolling: 6 of 6 such exports of three fresh books). Session 41
    caught one month between two held months of at least 20 lacked invoices; two months in a row, the
    month before the as-of month (no kept month after it at a monthly ingest) and a small book's month
    went through (s42-rolling). The window's first month is not caught: an export without it reads as a
    shorter window, and the history keeps that month's rows as they were (outside the span). Returns
    (month, paid kept invoices lacked, held) per missing month, oldest first."""
    if per_day is None or not len(per_day):
        return []
    months = per_day.groupby(pd.DatetimeIndex(per_day.index).to_period("M"))[["absent", "present"]].sum()
    end = pd.Timestamp(as_of).to_period("M")
    months = months.reindex(pd.period_range(months.index.min(), end, freq="M"), fill_value=0)
    absent, present = months["absent"].to_numpy(), months["present"].to_numpy()
    held = (present > absent) & (present >= MIN_MISSING_MONTH)
    lacked = (absent > present) & ((absent >= MIN_REMOVED) | ((present == 0) & (absent >= MIN_MISSING_MONTH)))
    after = pd.Timestamp(latest).to_period("M") if latest is not None and not pd.isna(latest) else None
    gaps: list[tuple[pd.Period, int, int]] = []
    k = 1
    while k < len(months) - 1:  # a run starts after a held month and ends before the as-of month
        if not (held[k - 1] and lacked[k]):
            k += 1
            continue
        j = k
        while j + 1 < len(months) - 1 and lacked[j + 1]:
            j += 1
        if held[j + 1] or (after is not None and after > months.index[j]):
            gaps += [(months.index[i], int(absent[i]), int(present[i])) for i in range(k, j + 1)]
        k = j + 1
    return gaps


def refuse_missing_month(
    per_day: pd.DataFrame | None,
    as_of: dt.date,
    out: Path,
    latest: pd.Timestamp | None = None,
    source: str | None = None,
) -> None:
    """Raises :class:`TableError` when today's invoices lack a month (:func:`missing_months`), naming
    the invoices' input ``source`` (as the manifest shows it), the months and the fix."""
    gaps = missing_months(per_day, as_of, latest)
    if not gaps:
        return
    absent = sum(a for _m, a, _p in gaps)
    total = sum(a + p for _m, a, p in gaps)
    names = [m.strftime("%Y-%m") for m, _a, _p in gaps]
    months = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    each = (
        ""
        if len(gaps) == 1
        else " ("
        + "; ".join(f"{n}: {a:,} of {a + p:,}" for n, (_m, a, p) in zip(names, gaps, strict=True))
        + ")"
    )
    where = f"invoices ({source})" if source else "invoices"
    raise TableError(
        f"--keep-history: {where}: today's export lacks {absent:,} of the {total:,} paid invoices the "
        f"history holds issued in {months}{each}, while it holds those of the month before"
        f"{' them' if len(gaps) > 1 else ' it'} and invoices issued after: "
        f"{'months' if len(gaps) > 1 else 'a month'} missing from a broken or partial export, not cancellations. "
        f"Nothing was changed in {out}. Export the invoices again with every month of the window "
        f"({months} included), with their payments, and run the same ingest again"
    )


def open_items_end(per_day: pd.DataFrame | None) -> pd.Timestamp | None:
    """Where today's export stops being open items alone (:func:`paid_days`, summed over the book): the
    day after the leading run of days whose paid kept invoices today's export lacks more than it holds
    (the day after the largest running sum of absent - present), None when there is no such run. An
    ERP's rolling export holds every invoice of its window and, before it, only the invoices still
    open: the paid ones of those days are not in it because they are paid and left the window, not
    because they were cancelled. Those open items can reach half a month's invoices (a book whose
    volume fell by a third, 27.6 % of its payments naming no invoice: s40-small's third book s77), and
    then the span of :func:`span_start` begins among them. A partial export lacks the paid and the
    open invoices of its days alike (a customer group: a fifth of every day), so its running sum falls
    from the first days on and the span stays as it was."""
    if per_day is None or not len(per_day):
        return None
    per_day = per_day.sort_index()
    gain = np.cumsum((per_day["absent"] - per_day["present"]).to_numpy())
    k = int(np.argmax(gain))
    if gain[k] <= 0:
        return None
    return pd.Timestamp(per_day.index[k]) + pd.Timedelta(days=1)


def merge(
    history: History | None,
    today: dict[str, pd.DataFrame],
    as_of: dt.date,
    out: Path,
    quarantined: dict[str, pd.DataFrame] | None = None,
    source: str | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any], list[str]]:
    """Today's accepted tables merged into ``history``: (published tables, the manifest's
    ``history`` section, warnings). ``quarantined``: per table, the key columns of today's quarantined
    rows (:func:`quarantined_keys`). ``source``: the invoices' input, named by a refusal. Raises
    :class:`TableError` for another ledger's export, months missing from it or a merge removing too much."""
    if history is None:
        published = dict(today)
        derived = None
        if "debtors" in today:  # the first night dates every debtor's attributes
            frame, derived = with_derived(today.get(DATED), today["debtors"], as_of)
            if derived or DATED in today:  # no table of nothing
                published[DATED] = frame
        counts = {
            t: {"kept": 0, "replaced": 0, "added": len(f), "removed": 0, "rows": len(f)}
            for t, f in sorted(published.items())
        }
        if DATED in counts and derived is not None:
            counts[DATED]["derived"] = derived
        return published, {"base_as_of": None, "tables": counts}, []
    why = foreign(history, today, out)
    if why is not None:
        raise TableError(why)
    starts = {t: _span_start(today.get(t), c, as_of) for t, c in SPAN_DATES.items()}
    paid_until = None
    if starts.get("invoices") is not None:
        per_day = paid_days(history.tables, today, None, as_of)
        days = day_counts(today.get("invoices"), "issue_date", as_of)
        latest = days.index.max() if len(days) else None
        refuse_missing_month(per_day, as_of, out, latest, source)
        paid_until = open_items_end(per_day.loc[per_day.index >= starts["invoices"]])
    part = merge_part(history.tables, today, starts, as_of, quarantined=quarantined, open_items=paid_until)
    return part.tables, part.section(history.as_of), part.verdict(starts, as_of, out)


@dataclass
class Merged:
    """A merge of kept and today's tables (of the whole book, or of one debtor partition of it:
    :func:`merge_part`); ``add`` sums the partitions'."""

    tables: dict[str, pd.DataFrame]
    counts: dict[str, dict[str, int]]
    removed_ids: dict[str, list[str]]

    def add(self, other: Merged) -> None:
        for table, c in other.counts.items():
            mine = self.counts.setdefault(table, dict.fromkeys(c, 0))
            for k, v in c.items():
                mine[k] = mine.get(k, 0) + v
        for table, ids in other.removed_ids.items():
            self.removed_ids.setdefault(table, []).extend(ids)

    def section(self, base_as_of: dt.date) -> dict[str, Any]:
        """The manifest's ``history`` section (``inside``, the refusal's basis, left out)."""
        tables = {
            t: {
                k: c[k]
                for k in (
                    "kept",
                    "replaced",
                    "unchanged",
                    "added",
                    "removed",
                    "aged_out",
                    "rows",
                    "quarantined",
                    "derived",
                )
                if k in c
            }
            for t, c in sorted(self.counts.items())
        }
        for c in tables.values():
            for k in ("quarantined", "unchanged", "aged_out"):  # stated when some rows are
                if not c.get(k, 1):
                    del c[k]
        return {"base_as_of": base_as_of.isoformat(), "tables": tables}

    def verdict(self, starts: dict[str, pd.Timestamp | None], as_of: dt.date, out: Path) -> list[str]:
        """The warnings of the rows removed; raises :class:`TableError` when a table's export lacks
        more than :data:`MAX_REMOVED_SHARE` of the kept rows inside its span."""
        warnings = []
        for table in sorted(self.counts):
            c = self.counts[table]
            removed, n_in = c["removed"], c.get("inside", 0)
            if removed >= MIN_REMOVED and removed > MAX_REMOVED_SHARE * n_in:
                raise TableError(
                    f"--keep-history: {table}: today's export lacks {removed:,} of the {n_in:,} rows the "
                    f"history holds inside its span (from {starts[table].date()} "
                    f"to {as_of}), more than {MAX_REMOVED_SHARE:.0%}: a broken or partial export, not "
                    f"cancellations. Nothing was changed in {out}. Fix the export and ingest again"
                )
            if c.get("quarantined"):
                warnings.append(
                    f"history: {counted(c['quarantined'], f'{table} row')} of the kept history, in today's export but "
                    f"quarantined there (see quarantine/{table}.csv): the kept rows stay as they were, neither "
                    f"replaced nor removed as cancelled (manifest.json history.tables.{table}.quarantined)"
                )
            if removed:
                ids = self.removed_ids.get(table, [])[:5]
                warnings.append(
                    f"history: {counted(removed, f'{table} row')} of the kept history dated inside today's span "
                    f"(from {starts[table].date()}) missing from today's export (deleted or cancelled in the ERP), "
                    f"removed from the history (e.g. {', '.join(ids)}; manifest.json "
                    f"history.tables.{table}.removed)"
                )
        return warnings


# reasons by which today's row says the ERP itself cancelled it: the payment bounced (its reversal is in
# the same export, both quarantined so the invoice is open again: rules.net_reversals) or the row was
# voided to 0.00 (QuickBooks Online keeps a voided invoice in its reports at 0.00). A kept row with such a
# row today is removed as cancelled, as before 42134c6 (s30-review).
CANCELLED_REASONS = ("reversed_payment", "amount_not_positive")


def quarantined_keys(table: str, typed: pd.DataFrame, masks: dict[str, np.ndarray]) -> pd.DataFrame | None:
    """The key columns (:data:`KEYS`) of ``table``'s quarantined rows (``typed``, parsed; ``masks``, the
    rows' reasons; rows whose key has an empty part, and rows with a reason of
    :data:`CANCELLED_REASONS`, left out), for :func:`merge_part`'s ``quarantined``."""
    quarantined = ~passing(masks, len(typed))
    for reason in CANCELLED_REASONS:
        if reason in masks:
            quarantined &= ~np.asarray(masks[reason], dtype=bool)
    if table not in KEYS or not quarantined.any() or not set(KEYS[table]) <= set(typed.columns):
        return None
    rows = typed.loc[quarantined, list(KEYS[table])]
    return rows.loc[rows.notna().all(axis=1)].reset_index(drop=True)


def merge_part(
    kept_tables: dict[str, pd.DataFrame],
    today: dict[str, pd.DataFrame],
    starts: dict[str, pd.Timestamp | None],
    as_of: dt.date,
    moved: dict[str, pd.Index] | None = None,
    recent_far: pd.Index | None = None,
    quarantined: dict[str, pd.DataFrame] | None = None,
    open_items: pd.Timestamp | None = None,
) -> Merged:
    """Today's tables merged into the kept ones, table by table (every rule of the module
    docstring but the refusals: :meth:`Merged.verdict`). For one debtor partition of a streamed
    ingest (:mod:`pipelines.ingest.history_stream`): ``moved``, per table keyed by one id, today's
    ids of OTHER partitions that the kept rows here may hold (their row moved to another debtor);
    ``recent_far``, invoice ids of other partitions issued inside the invoices' span (for a kept
    payment naming one); ``quarantined``, per table the key columns of today's quarantined rows (of every
    partition): a kept row with such a key is in today's export, so it stays as it was (counted
    ``quarantined``). Before, it was removed as cancelled: a night whose rows of one debtor were
    quarantined (an invoice currency without a rate) took that debtor's open invoices and payments
    out of the history, and the debtor was scored as owing nothing (s30-hostile).
    ``open_items``: the day from which today's export holds every invoice of the invoices' span
    (:func:`open_items_end`; None: from its start): a kept invoice issued before it and paid
    (:func:`settled`) that today's export lacks aged out of the export's window, it was not
    cancelled: it stays, counted ``aged_out``, and so do its payments (before session 41 both were
    removed as cancelled, and a month later the export was refused as partial: s40-small's third
    book s77). An unpaid one missing is removed as before."""
    from pipelines.adapters.files import conform

    merged: dict[str, pd.DataFrame] = {}
    counts: dict[str, dict[str, int]] = {}
    removed_ids: dict[str, list[str]] = {}
    aged_ids: pd.Series | None = None  # kept invoices aged out of today's export (``open_items``)
    for table in sorted(set(kept_tables) | set(today)):  # invoices before payments
        kept = kept_tables.get(table)
        new = today.get(table)
        if kept is None or not len(kept):
            # sorted as below: a debtor partition of a streamed merge without kept rows of the table
            # (new debtors only) published today's row order where the in-memory merge sorted them
            merged[table] = (
                None
                if new is None
                else new.sort_values(list(KEYS[table]), kind="stable").reset_index(drop=True)
            )
            n = len(new) if new is not None else 0
            counts[table] = {"kept": 0, "replaced": 0, "added": n, "removed": 0, "rows": n, "inside": 0}
            continue
        if new is None:
            new = kept.iloc[:0]
        kept_keys, new_keys = _keys(kept, table), _keys(new, table)
        replaced = isin(kept_keys, new_keys)
        if moved and table in moved and len(moved[table]):
            replaced |= isin(kept_keys, pd.Series(moved[table]))
        inside = _inside(table, kept, starts, as_of, kept_tables, today, recent_far, aged_ids)
        aged = np.zeros(len(kept), dtype=bool)
        if table == "invoices" and open_items is not None:
            early = (kept["issue_date"] < open_items).to_numpy(dtype=bool, na_value=False)
            aged = inside & ~replaced & early
            if aged.any():
                aged = aged & settled(kept, [kept_tables.get("payments"), today.get("payments")], as_of)
            aged_ids = kept.loc[aged, "invoice_id"]
        elif table == "payments" and aged_ids is not None and len(aged_ids):
            aged = _inside(table, kept, starts, as_of, kept_tables, today, recent_far) & ~inside & ~replaced
        inside = inside & ~aged
        stay = np.zeros(len(kept), dtype=bool)
        if quarantined and table in quarantined and len(quarantined[table]):
            stay = isin(kept_keys, _keys(quarantined[table], table)) & ~replaced
        removed = inside & ~replaced & ~stay
        if removed.any():
            removed_ids[table] = kept.loc[removed, KEYS[table][0]].astype(str).head(5).tolist()
        rest = kept.loc[~replaced & ~removed]
        same = _unchanged(kept.loc[replaced], new, table) if replaced.any() else 0
        both = pd.concat([rest, new], ignore_index=True) if len(rest) else new
        both = both.sort_values(list(KEYS[table]), kind="stable").reset_index(drop=True)
        merged[table] = conform(both, table)
        counts[table] = {
            "kept": len(kept),
            "replaced": int(replaced.sum()),
            "added": len(new) - int(replaced.sum()),
            "removed": int(removed.sum()),
            "rows": len(merged[table]),
            "inside": int(inside.sum()),
            "quarantined": int(stay.sum()),
            "unchanged": same,
            "aged_out": int(aged.sum()),
        }
    if "debtors" in today:  # today's debtors table dates the attributes that changed (derived_rows)
        frame, derived = with_derived(merged.get(DATED), today["debtors"], as_of)
        if derived or DATED in kept_tables or DATED in today:  # no table of nothing
            merged[DATED] = frame.sort_values(list(KEYS[DATED]), kind="stable").reset_index(drop=True)
            zero = ("kept", "replaced", "added", "removed", "rows", "inside")
            c = counts.setdefault(DATED, dict.fromkeys(zero, 0))
            c["added"] += derived
            c["rows"] += derived
            c["derived"] = derived
            merged = dict(sorted(merged.items()))
    return Merged(merged, counts, removed_ids)


DATED = "debtor_history"
"""The table the debtors table's changes are dated into (:func:`derived_rows`)."""


def derived_rows(debtors: pd.DataFrame, history: pd.DataFrame | None, as_of: dt.date) -> pd.DataFrame:
    """``debtor_history`` rows derived from today's debtors table (canonical; ``--keep-history``): one
    per debtor some attribute of which (:data:`features.master.ATTRIBUTES`), as today's table states it
    (an empty cell states nothing), differs from what ``history`` states for the debtor on ``as_of``
    (:func:`features.master.stated_at`; nothing stated counts as a change, so the first night dates
    every debtor), valid from ``as_of``, with today's three values.

    Why ``as_of`` and not earlier, on the first night too: the export of ``as_of`` says what the ERP
    held that day, not since when. Dated earlier, the month-ends before it would read a value first
    seen on ``as_of`` (a limit cut in the weeks before, after the debtor's trouble: the snapshot's
    look-ahead, DESIGN's point-in-time rule), and the training's warning for month-ends without a
    dated row (``pipelines.flows.train.master_data_warning``) would not say so."""
    from pipelines.adapters.files import conform

    ids = pd.Index(debtors["debtor_id"].astype("string"))
    known = stated_at(history, as_of, ids) if history is not None and len(history) else pd.DataFrame()
    changed = np.zeros(len(debtors), dtype=bool)
    for col in ATTRIBUTES:
        now = debtors[col].reset_index(drop=True)
        stated = now.notna().to_numpy()
        if col not in known:
            changed |= stated
        elif col == "credit_limit":
            changed |= stated & ~(now.to_numpy("float64") == known[col].to_numpy("float64", na_value=np.nan))
        else:
            same = (now.astype("string") == known[col].astype("string")).fillna(False)
            changed |= stated & ~same.to_numpy(dtype=bool)
    rows = debtors.loc[changed, ["debtor_id", *ATTRIBUTES]].assign(valid_from=pd.Timestamp(as_of))
    return conform(rows, DATED)


def with_derived(
    history: pd.DataFrame | None, debtors: pd.DataFrame, as_of: dt.date
) -> tuple[pd.DataFrame, int]:
    """``history`` (``debtor_history``: the kept rows merged with today's given ones, or None) with
    :func:`derived_rows` appended, those of a (debtor, date) it holds left out (a given row wins: an
    ERP's change log dates the change itself; a derived row is read off two exports), and how many
    were appended."""
    from pipelines.adapters.files import conform

    rows = derived_rows(conform(debtors, "debtors"), history, as_of)
    if history is None or not len(history):
        return rows, len(rows)
    rows = rows.loc[~isin(_keys(rows, DATED), _keys(history, DATED))]
    return conform(pd.concat([history, rows], ignore_index=True), DATED), len(rows)


def _inside(
    table: str,
    kept: pd.DataFrame,
    starts: dict[str, pd.Timestamp | None],
    as_of: dt.date,
    kept_tables: dict[str, pd.DataFrame],
    today: dict[str, pd.DataFrame],
    recent_far: pd.Index | None = None,
    aged: pd.Series | None = None,
) -> np.ndarray:
    """Kept rows dated inside today's span of ``table`` (none for a table without one); a payment of
    an invoice of ``aged`` (aged out of today's export: :func:`merge_part`) is not."""
    start = starts.get(table)
    if table not in SPAN_DATES or start is None:
        return np.zeros(len(kept), dtype=bool)
    day = kept[SPAN_DATES[table]]
    inside = ((day >= start) & (day <= pd.Timestamp(as_of))).to_numpy(dtype=bool, na_value=False)
    if table == "payments":  # a payment of an invoice issued before the invoices' span may be left out
        inv_start = starts.get("invoices")
        frames = [
            f[["invoice_id", "issue_date"]]
            for f in (kept_tables.get("invoices"), today.get("invoices"))
            if f is not None
        ]
        issued = pd.concat(frames) if frames else pd.DataFrame(columns=["invoice_id", "issue_date"])
        if inv_start is None or (not len(issued) and (recent_far is None or not len(recent_far))):
            return inside & kept["invoice_id"].isna().to_numpy()
        recent = issued.loc[issued["issue_date"] >= inv_start, "invoice_id"].astype("string")
        if recent_far is not None and len(recent_far):
            recent = pd.concat([recent, pd.Series(recent_far, dtype="string")])
        own = kept["invoice_id"].isna().to_numpy() | isin(kept["invoice_id"], recent)
        if aged is not None and len(aged):
            own = own & ~isin(kept["invoice_id"], aged)
        inside = inside & own
    return inside


def link_base(history: History | None, stage: Path) -> list[str]:
    """Hard-link the base tables and manifest into ``stage/.history`` (moved into ``OUT/.history``
    with the ingest). Returns the paths written, relative to ``stage``."""
    if history is None:
        return []
    written = []
    src = history.folder
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or not (rel == Path("manifest.json") or rel.parts[0] in KEYS):
            continue  # the tables and the manifest; not quarantine/, data_docs/ or dot folders
        dst = stage / BASE / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dst)
        except OSError:  # another file system: copy
            import shutil

            shutil.copy2(path, dst)
        written.append(str(Path(BASE) / rel))
    return written


def stale_base(out: Path, written: list[str]) -> list[str]:
    """Files under ``OUT/.history`` that the new base does not hold (removed at publication)."""
    old = Path(out) / BASE
    if not old.is_dir():
        return []
    keep = set(written)
    return sorted(
        str(p.relative_to(out))
        for p in old.rglob("*")
        if not p.is_dir() and str(p.relative_to(out)) not in keep
    )


def _stated(values: pd.Series, kind: str, default_currency: str | None, column: str) -> int:
    """Kept rows whose ``column`` states something an export without the column would not: a true
    flag (``disputed``), a currency other than the one empty cells take, a kind other than cash,
    else any value."""
    if kind == "bool":
        return int(values.fillna(False).astype(bool).sum())
    present = values.notna()
    if column == "currency" and default_currency:
        present &= values.astype("string") != default_currency
    if column == "kind":
        present &= values.astype("string") != "cash"
    return int(present.sum())


def _footers_state_nothing(folder: Path, column: str, kind: str, default_currency: str | None) -> bool:
    """True when the Parquet footers of the files ``pd.read_parquet(folder)`` reads prove that
    :func:`_stated` would count 0 rows of ``column``: each row group holding it is all nulls by its
    statistics, or its values run from min to max within false (``bool``), the default currency
    (``currency``) or ``cash`` (``kind``). False when they do not prove it (a value stated, a row group
    without statistics, a file the footers cannot be read of): then the column is read, as before.
    A generated book's payments hold ``allocated_on``, ``currency`` and ``kind`` all null: at 1M
    debtors the read of their 42.7M cells cost each ``--keep-history`` night (BENCHMARKS.md,
    "Session 43 (s43-scale)")."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    only = {"currency": default_currency, "kind": "cash"}.get(column) if kind != "bool" else None
    try:
        dataset = ds.dataset(folder, format="parquet", partitioning="hive", ignore_prefixes=[".", "_"])
        if column not in dataset.schema.names:
            return False  # the read decides, as before
        for fragment in dataset.get_fragments():
            md = fragment.metadata
            names = md.schema.names
            if column not in names:
                continue  # read as nulls
            if fragment.physical_schema.field(column).type == pa.null():
                continue  # every cell null: no statistics written
            idx = names.index(column)
            for i in range(md.num_row_groups):
                group = md.row_group(i)
                stats = group.column(idx).statistics
                if stats is None or not stats.has_null_count:
                    return False
                if stats.null_count == group.num_rows:
                    continue
                if not stats.has_min_max:
                    return False
                if kind == "bool" and stats.max is False:
                    continue
                if only is not None and stats.min == only and stats.max == only:
                    continue
                return False
    except (OSError, ValueError, KeyError):
        return False
    return True


def refuse_lost_columns(
    base: Path, given: dict[str, set[str]], out: Path, files: dict[str, str], default_currency: str | None
) -> None:
    """Refuse (:class:`TableError`, before any work) a rolling export that lost an optional column the
    kept history holds values of: merged, each re-sent row would take the empty cell or the default
    (s42-attack, a night's invoices without ``disputed``: 99 disputed invoices of the history cleared;
    payments without ``invoice_id``: 2,482 allocations turned into unallocated cash; a debtors table
    without ``credit_limit``: every limit emptied; each exit 0 without a word). ``given``: the columns
    today's inputs give per table (:func:`pipelines.ingest.sources.given_columns`); ``files``: a table's
    input, named in the message. Reads only the columns concerned of the history in ``base``, and
    only when the Parquet footers do not prove the column states nothing (:func:`_footers_state_nothing`)."""
    from features.schema import TABLES

    for table, columns in given.items():
        folder = Path(base) / table
        if table == "debtor_history" or not folder.is_dir():  # its empty cells state nothing, by design
            continue
        spec = TABLES[table]
        for column in spec.columns:
            if column.required or column.name in columns:
                continue
            if _footers_state_nothing(folder, column.name, column.kind, default_currency):
                continue
            try:
                kept = pd.read_parquet(folder, columns=[column.name])[column.name]
            except (OSError, ValueError, KeyError):  # a history without the column (pyarrow's ArrowInvalid)
                continue
            n = _stated(kept, column.kind, default_currency, column.name)
            if not n:
                continue
            what = "marked true" if column.kind == "bool" else "with a value"
            raise TableError(
                f"--keep-history: {files.get(table, table)} ({table}) has no column {column.name!r}, and the "
                f"history in {out} holds it for {counted(n, 'row')} {what}: merged, every row today's export "
                f"re-sends would lose it (an export whose columns changed). Export the column again, or map "
                f"the column it is now called in a source config (tables.{table}.columns: "
                f"{{{column.name}: <its name>}}); if your system no longer gives it, start the history over "
                "in another --out folder. Nothing was written"
            )
