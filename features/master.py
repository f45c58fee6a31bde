"""Dated master data: the debtor attributes valid at T (point in time), from ``debtor_history``.

The debtors table is one snapshot (the export day's). A credit team that cut a debtor's limit after
trouble shows that cut at every past month-end when the snapshot is applied to them: a look-ahead.
The optional ``debtor_history`` table (``features.schema.DEBTOR_HISTORY``: ``debtor_id``,
``valid_from`` and any of ``credit_limit``, ``segment``, ``country``) dates the attributes. At T
each attribute reads the latest history row with ``valid_from <= T`` that states it (an as-of join,
attribute by attribute: an empty cell states nothing); a debtor with no such row reads the
snapshot's value. Rows valid after T change nothing at T.

The join is vectorised: the history is sorted once by (debtor, valid_from); per T one pass over
its rows picks each debtor's last row dated <= T. Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from features.ledger import Ledger

__all__ = [
    "ATTRIBUTES",
    "LimitCut",
    "MasterHistory",
    "attributes_at",
    "debtors_at",
    "limit_cut_check",
    "prepare_master",
    "snapshot_rows",
    "stated_at",
]

ATTRIBUTES: tuple[str, ...] = ("credit_limit", "segment", "country")
"""The debtor attributes a ``debtor_history`` row may date (the ones the PD model reads)."""


@dataclass(frozen=True, eq=False)
class MasterHistory:
    """``debtor_history`` as arrays sorted by (debtor code, valid_from day).

    ``limit``: float64, NaN where the row states no limit. ``segment`` / ``country``: int64 codes
    into the ledger's categories, -1 where the row states none.
    """

    code: np.ndarray
    day: np.ndarray
    limit: np.ndarray
    segment: np.ndarray
    country: np.ndarray


def history_values(history: pd.DataFrame | None, col: str) -> set[str]:
    """The distinct values a history states for the text attribute ``col`` (for the categories)."""
    if history is None or history.empty or col not in history:
        return set()
    return {str(v) for v in history[col].dropna().astype("string").unique()}


def prepare_master(
    history: pd.DataFrame | None, ids: pa.Array, segments: list[str], countries: list[str]
) -> MasterHistory | None:
    """``history`` (canonical ``debtor_history``) as a :class:`MasterHistory` over the debtor codes of
    ``ids`` (rows of debtors outside ``ids``, or without a ``valid_from``, are left out: ingest
    quarantines them). ``segments`` / ``countries``: the ledger's categories (they include the
    history's values). None when there is no usable row."""
    if history is None or history.empty:
        return None
    pos = pc.index_in(pa.array(history["debtor_id"].astype("string"), from_pandas=True), value_set=ids)
    code = np.asarray(pos.to_numpy(zero_copy_only=False), dtype=np.float64)
    when = np.asarray(history["valid_from"], dtype="datetime64[ns]")
    keep = ~np.isnan(code) & ~np.isnat(when)
    if not keep.any():
        return None
    code = code[keep].astype(np.int64)
    day = when[keep].astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, code))
    limit = (
        history["credit_limit"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        if "credit_limit" in history
        else np.full(len(code), np.nan)
    )

    def codes(col: str, cats: list[str]) -> np.ndarray:  # -1 where the row states none
        if col not in history:
            return np.full(len(code), -1, dtype=np.int64)
        vals = history[col].astype("string").to_numpy(dtype=object, na_value=None)[keep]
        return np.asarray(pd.Categorical(vals, categories=cats).codes, dtype=np.int64)

    return MasterHistory(
        code=code[order],
        day=day[order],
        limit=limit[order],
        segment=codes("segment", segments)[order],
        country=codes("country", countries)[order],
    )


def _last_at(m: MasterHistory, T: int, stated: np.ndarray) -> np.ndarray:
    """Per debtor with one, the row (position in ``m``) of its latest stating row dated <= T."""
    rows = np.flatnonzero(stated & (m.day <= T))
    if not len(rows):
        return rows
    c = m.code[rows]
    return rows[np.r_[c[1:] != c[:-1], True]]  # rows are sorted by (code, day): the last of each run


def attributes_at(ledger: Ledger, T: int) -> Ledger:
    """``ledger`` with ``credit_limit``, ``segment`` and ``country`` as valid at day ``T`` (the ledger
    itself when it has no history). The other arrays are shared, not copied."""
    m = ledger.master
    if m is None:
        return ledger
    limit = ledger.credit_limit.copy()
    last = _last_at(m, T, ~np.isnan(m.limit))
    limit[m.code[last]] = m.limit[last]
    cats = {}
    for name, values in (("segment", m.segment), ("country", m.country)):
        snap: pd.Categorical = getattr(ledger, name)
        codes = np.asarray(snap.codes, dtype=np.int64).copy()
        last = _last_at(m, T, values >= 0)
        codes[m.code[last]] = values[last]
        cats[name] = pd.Categorical.from_codes(codes, categories=snap.categories)
    return replace(ledger, credit_limit=limit, segment=cats["segment"], country=cats["country"])


def snapshot_rows(history: pd.DataFrame | None, keys: pd.DataFrame) -> np.ndarray:
    """Rows of ``keys`` (``debtor_id``, ``as_of``: e.g. a modelling frame's) whose debtor has no
    ``debtor_history`` row dated on or before ``as_of``: their attributes are the snapshot's (bool,
    one per row; all True without a history)."""
    if history is None or history.empty:
        return np.ones(len(keys), dtype=bool)
    dated = history.loc[history["valid_from"].notna(), ["debtor_id", "valid_from"]]
    first = dated.groupby(dated["debtor_id"].astype("string"))["valid_from"].min()
    since = first.reindex(pd.Index(keys["debtor_id"].astype("string"))).to_numpy(dtype="datetime64[ns]")
    as_of = np.asarray(keys["as_of"], dtype="datetime64[ns]")
    return np.isnat(since) | (since > as_of)


def stated_at(history: pd.DataFrame, day: object, ids: pd.Index | None = None) -> pd.DataFrame:
    """Per debtor, each attribute of :data:`ATTRIBUTES` as the history states it on ``day``: the value
    of the latest row dated <= ``day`` that states it, missing where no such row does (an empty cell
    states nothing). One row per debtor of ``ids`` (text), in that order; default: every debtor with
    a row dated <= ``day``, sorted. Columns ``debtor_id`` and the attributes the history has."""
    when = pd.Timestamp(day)
    hist = history.loc[history["valid_from"].notna() & (history["valid_from"] <= when)]
    hist = hist.assign(debtor_id=hist["debtor_id"].astype("string")).sort_values(
        ["debtor_id", "valid_from"], kind="stable"
    )
    if ids is None:
        ids = pd.Index(hist["debtor_id"].drop_duplicates(), dtype="string")
    out = {"debtor_id": pd.Series(ids, dtype="string")}
    for col in ATTRIBUTES:
        if col in hist:
            stated = hist.loc[hist[col].notna()].drop_duplicates("debtor_id", keep="last")
            out[col] = stated.set_index("debtor_id")[col].reindex(ids).reset_index(drop=True)
    return pd.DataFrame(out)


def debtors_at(
    debtors: pd.DataFrame | None, history: pd.DataFrame | None, day: object
) -> pd.DataFrame | None:
    """The debtors table with each attribute of :data:`ATTRIBUTES` as valid on ``day`` (the latest
    stating history row dated <= ``day``, else the table's own value): what the nightly of that day
    reads for the credit-limit policy and the triggers. ``debtors`` itself without a history. Without
    a debtors table, the history's debtors with a row dated <= ``day`` and the values it states then
    (before, the nightly of a book given only a ``debtor_history`` had no current limit: its
    ``credit_limits.csv`` showed none and limit_breach never fired)."""
    if history is None or history.empty:
        return debtors
    if debtors is None:
        got = stated_at(history, day)
        return got.assign(
            **{
                c: got[c].astype("float64" if c == "credit_limit" else "string")
                for c in got
                if c != "debtor_id"
            }
        )
    ids = pd.Index(debtors["debtor_id"].astype("string"))
    stated = stated_at(history, day, ids).set_axis(debtors.index)
    out = {}
    for col in ATTRIBUTES:
        if col not in stated or col not in debtors:
            continue
        value = stated[col]
        if value.notna().any():
            out[col] = value.where(value.notna(), debtors[col]).astype(debtors[col].dtype)
    return debtors.assign(**out) if out else debtors


LIMIT_CUT_RATIO = 0.75
"""The snapshot looks cut after trouble when the defaulting rows' median limit / own invoicing is below
this share of the other rows' (explored on s31's books: cut 0.52-0.59, set at onboarding 0.98-1.16)."""
LIMIT_CUT_MIN_DEBTORS = 20
"""Defaulting debtors (with a limit and invoicing) needed before the check says anything."""


@dataclass(frozen=True)
class LimitCut:
    """What :func:`limit_cut_check` found: medians of ``credit_limit / (invoice_amount_365d / 6)``."""

    defaulting: float
    others: float
    rows: int
    debtors: int

    @property
    def share(self) -> float:
        """The defaulting rows' median as a share of the others' (1 = alike)."""
        return self.defaulting / self.others


def limit_cut_check(frame: pd.DataFrame) -> LimitCut | None:
    """Does the snapshot's ``credit_limit`` look cut after trouble? On labelled rows (``label``,
    ``credit_limit``, ``invoice_amount_365d``, ``debtor_id``; e.g. a modelling frame read from one
    snapshot), a limit against the debtor's own invoicing of the last 365 days / 6 (about 1 for a
    limit of two months' volume): the rows whose debtor defaults within the horizon against the
    others, medians. Returns the figures when the defaulting rows' median is below
    :data:`LIMIT_CUT_RATIO` of the others' with at least :data:`LIMIT_CUT_MIN_DEBTORS` defaulting
    debtors, else None. A limit set when the debtor was onboarded shows no such gap; one cut after
    the default, read at every past month-end, does."""
    need = {"label", "credit_limit", "invoice_amount_365d", "debtor_id"}
    if not need <= set(frame.columns):
        return None
    label = frame["label"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    limit = frame["credit_limit"].to_numpy(dtype=np.float64, na_value=np.nan)
    volume = frame["invoice_amount_365d"].to_numpy(dtype=np.float64, na_value=np.nan) / 6.0
    ok = ~np.isnan(label) & ~np.isnan(limit) & (volume > 0)
    if not ok.any():
        return None
    ratio = limit[ok] / volume[ok]
    pos = label[ok] == 1
    debtors = int(pd.unique(frame["debtor_id"].to_numpy()[ok][pos]).size)
    if debtors < LIMIT_CUT_MIN_DEBTORS or pos.all():
        return None
    found = LimitCut(float(np.median(ratio[pos])), float(np.median(ratio[~pos])), int(pos.sum()), debtors)
    return found if found.others > 0 and found.share < LIMIT_CUT_RATIO else None
