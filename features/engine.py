"""One unit of work: everything the flows need from one debtor bucket, from one ledger state.

:func:`build_bucket` takes the canonical tables of a set of debtors (a *bucket*: every row of each
of its debtors, in every table) and one or more as-of dates. It prepares the ledger once
(``features.ledger.prepare_ledger``) and, per as-of date T, derives the ledger state at T once;
from that one state it returns

- the features (``features.build.build_features``): one row per debtor existing at T;
- the in-default flag at T (the default definition: an open invoice at least ``dpd_threshold``
  days past due, or one of its events by T; statement accounts: the latest statement's dpd);
- with ``labels=True``, the default labels of ``features.labels`` (which also need the state at
  T + horizon, derived from the same prepared ledger);
- the oldest *open* overdue invoice per debtor: the open invoice with the earliest due date before
  T (smallest invoice_id on ties), read from the state, so it is never an invoice already paid.

Every output is per debtor, so a portfolio cut into buckets by debtor gives, bucket by bucket, the
rows of the whole book (:func:`combine` puts them back together, identical to one call over all
rows). That is what lets a local loop or a Dask cluster map this one function over buckets.
The module is pure: frames in, frames out; no disk, no config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalog import CATALOG, FUNCTIONS
from features.ledger import (
    MILLS,
    Ledger,
    LedgerState,
    _mills,
    _settled_days,
    day_number,
    ledger_state,
    prepare_ledger,
)
from features.master import attributes_at
from features.params import FAMILIES, DefaultDefinition, FeatureParams
from features.portfolio import PortfolioParts, combine_parts, ledger_parts, statement_parts
from features.schema import dtypes
from features.statements import MATERIAL_DPD, build_statement_features, material_dpd
from features.tables import Portfolio

__all__ = [
    "BucketResult",
    "as_of_dates",
    "build_bucket",
    "combine",
    "debtor_feature",
    "exists_mask",
    "last_observed_date",
    "ledger_columns",
]

_INF = np.iinfo(np.int64).max
OLDEST_COLUMNS = ["debtor_id", "as_of", "oldest_invoice_id", "oldest_due_date"]


@dataclass(frozen=True)
class BucketResult:
    """What :func:`build_bucket` returns for one bucket, each frame sorted by (as_of, debtor_id).

    ``features``: as ``features.build.build_features``. ``defaults``: ``debtor_id``, ``as_of``,
    ``in_default_at_asof`` (bool) and, when labels were asked for, ``label`` (Int64 1/0/<NA>),
    ``first_default_date`` and ``horizon_observed`` (as ``features.labels.build_labels``).
    ``oldest_open``: ``debtor_id``, ``as_of``, ``oldest_invoice_id``, ``oldest_due_date`` for the
    debtors with an open invoice past its due date at as_of (others absent). ``portfolio``: the
    report's additive portfolio sums (``features.portfolio.ledger_parts``) at the dates asked for
    with ``portfolio_dates`` (None when not asked for or the bucket has no invoices). ``at_state``:
    what the ``at_state`` function returned, one value per as-of date (empty when none was given).
    """

    features: pd.DataFrame
    defaults: pd.DataFrame
    oldest_open: pd.DataFrame
    portfolio: PortfolioParts | None = None
    at_state: tuple = ()


# ------------------------------------------------------------------------------ small helpers


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


def last_observed_date(portfolio: Portfolio) -> pd.Timestamp | None:
    """Latest issue_date, paid_on, allocated_on, event_date or period_end in the portfolio (None
    when empty): a ledger's clearing (a payment's ``allocated_on``) after its last payment shows that
    the export was taken on that day or later."""
    found = []
    for table, col in (
        ("invoices", "issue_date"),
        ("payments", "paid_on"),
        ("payments", "allocated_on"),
        ("events", "event_date"),
        ("statements", "period_end"),
    ):
        frame = getattr(portfolio, table)
        if frame is not None and col in frame and frame[col].notna().any():
            found.append(pd.Timestamp(frame[col].max()))
    return max(found) if found else None


def _has_rows(frame: pd.DataFrame | None) -> bool:
    return frame is not None and not frame.empty


def _keys(ids: pd.Index, t: pd.Timestamp) -> dict[str, object]:
    return {
        "debtor_id": pd.array(ids, dtype="string"),
        "as_of": np.full(len(ids), t.to_datetime64()).astype("datetime64[ns]"),
    }


# ------------------------------------------------------------------------ per state, per date


def debtor_feature(state: LedgerState, name: str) -> np.ndarray:
    """The ledger feature ``name`` per debtor code at ``state`` (float64, read-only), computed once
    per state: the PD's features and the payment-date model's debtor features read the same array."""
    return state.memo(("feature", name), lambda: np.array(FUNCTIONS[name](state), dtype=np.float64))


# MATERIAL_DPD (features.statements): with default_definition.min_open_amount (> 0), a column of the feature
# frame that is no model feature (models.train.NON_FEATURES): days past due at T of the oldest overdue invoice
# with more than the threshold open (0 without one); a statements book: the latest statement's days, 0 when
# it states a balance of at most the threshold. The days the default definition sees; the roll-rate states,
# the queues and the backtest read it.


def _ledger_features(
    ledger: Ledger,
    state: LedgerState,
    t: pd.Timestamp,
    names: list[str],
    params: FeatureParams,
    min_open: float = 0.0,
) -> pd.DataFrame:
    keep = exists_mask(ledger, state.T)
    cols = _keys(ledger.debtor_ids[keep], t)
    for name in names:
        cols[name] = debtor_feature(state, name)[keep]
    if min_open:
        material = np.where(state.inv_remaining > min_open, state.dpd_open, 0)
        cols[MATERIAL_DPD] = state.max_by(state.inv_code, material.astype(np.float64), fill=0.0)[keep]
    if "tenure" in params.families:  # the attributes valid at T (features.master)
        cols["segment"] = state.ledger.segment[keep]
        cols["country"] = state.ledger.country[keep]
    return pd.DataFrame(cols)


def _event_days(ledger: Ledger, kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    sel = np.isin(ledger.ev_kind.astype(str), list(kinds)) if len(ledger.ev_kind) else np.zeros(0, dtype=bool)
    return ledger.ev_code[sel], ledger.ev_date[sel]


def _in_default(ledger: Ledger, now: LedgerState, definition: DefaultDefinition) -> np.ndarray:
    """In default at T per debtor (invoice ledger + events), from the state at T."""
    T = now.T
    ev_code, ev_day = _event_days(ledger, definition.event_kinds)
    flag = np.zeros(ledger.n, dtype=bool)
    material = now.inv_remaining > definition.min_open_amount if definition.min_open_amount else now.open_mask
    flag[now.inv_code[material & (T - now.inv_due >= definition.dpd_threshold)]] = True
    flag[ev_code[ev_day <= T]] = True
    return flag


def _first_default(ledger: Ledger, T: int, definition: DefaultDefinition) -> np.ndarray:
    """First default day in (T, T + horizon] per debtor (or _INF), from rows dated <= T + horizon."""
    thr, H = definition.dpd_threshold, T + definition.horizon_days
    ev_code, ev_day = _event_days(ledger, definition.event_kinds)
    later = ledger_state(ledger, H)
    start = np.maximum(later.inv_due + thr, T + 1)
    settled = np.where(np.isnan(later.inv_settled), np.inf, later.inv_settled)
    if definition.min_open_amount:  # counts only while more than min_open_amount of it is open
        settled = np.minimum(settled, _material_until(later, definition.min_open_amount))
    hit = (start <= H) & (start < settled)
    first = np.full(ledger.n, _INF, dtype=np.int64)
    np.minimum.at(first, later.inv_code[hit], start[hit])
    ev_hit = (ev_day > T) & (ev_day <= H)
    np.minimum.at(first, ev_code[ev_hit], ev_day[ev_hit])
    return first


def _material_until(state: LedgerState, min_open: float) -> np.ndarray:
    """Per invoice of ``state``, the first day on which at most ``min_open`` of it is open (its
    payment pieces reach its amount less ``min_open``): -inf for an invoice of at most ``min_open``,
    inf while more than ``min_open`` of it stays open."""
    mills, floor = _mills(state.inv_amount), int(round(min_open * MILLS))
    left = np.rint(state.inv_remaining * MILLS).astype(np.int64)
    day = _settled_days(state.pc_inv, state.pc_date, _mills(state.pc_amount), mills - floor, left - floor)
    day = np.where(np.isnan(day), np.inf, day)
    day[mills <= floor] = -np.inf
    return day


def _statement_status(
    statements: pd.DataFrame, ids: pd.Index, T: int, definition: DefaultDefinition
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exists at T, in default at T, first default day in (T, T+h]) per debtor, from statements."""
    n, H = len(ids), T + definition.horizon_days
    code = np.asarray(ids.get_indexer(statements["debtor_id"].astype("string")), dtype=np.int64)
    day = day_number(statements["period_end"])
    dpd = statements["days_past_due"].to_numpy(dtype=np.float64, na_value=0.0)
    if definition.min_open_amount:  # a balance of at most the threshold: not past due (no balance: as stated)
        balance = (
            statements["balance"].to_numpy(dtype=np.float64, na_value=np.nan)
            if "balance" in statements
            else np.full(len(statements), np.nan)
        )
        dpd = material_dpd(dpd, balance, definition.min_open_amount)
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


def _defaults_frame(
    ids: pd.Index,
    t: pd.Timestamp,
    exists: np.ndarray,
    in_default: np.ndarray,
    first: np.ndarray | None,
    observed: bool,
) -> pd.DataFrame:
    cols = _keys(ids[exists], t)
    cols["in_default_at_asof"] = in_default[exists]
    if first is not None:
        k = int(exists.sum())
        first_k = first[exists]
        has_first = (first_k != _INF) & ~in_default[exists]
        first_dates = np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
        first_dates[has_first] = first_k[has_first].astype("datetime64[D]").astype("datetime64[ns]")
        label = pd.array(has_first.astype(np.int64), dtype="Int64")
        label[in_default[exists] | (not observed)] = pd.NA
        cols["label"] = label
        cols["first_default_date"] = first_dates
        cols["horizon_observed"] = np.full(k, bool(observed))
    return pd.DataFrame(cols)


def _oldest_open(ledger: Ledger, state: LedgerState, t: pd.Timestamp, min_open: float = 0.0) -> pd.DataFrame:
    """The open invoice with the earliest due date before T per debtor (smallest invoice_id on ties).
    With the definition's ``min_open`` (> 0): only invoices with more than it open, and a column
    ``dpd_material`` (its days past due at T), so that the queue's days past due and actions read the
    invoices that can make a default (a debtor with only rests of at most ``min_open`` has no row)."""
    open_ = state.open_mask & (state.inv_remaining > min_open) if min_open else state.open_mask
    sel = np.flatnonzero(open_ & (state.inv_due < state.T))
    if not len(sel) or ledger.invoice_ids is None:
        return _empty_oldest(bool(min_open))
    code = state.inv_code[sel]
    due = state.inv_due[sel].astype(np.int64)
    earliest = np.full(ledger.n, _INF, dtype=np.int64)
    np.minimum.at(earliest, code, due)
    sel = sel[due == earliest[code]]
    pos = sel if state.inv_rows is None else state.inv_rows[sel]
    ids = pc.take(ledger.invoice_ids, pa.array(ledger.inv_row[pos]))
    cand = pa.table({"code": pa.array(state.inv_code[sel]), "id": ids})
    cand = cand.sort_by([("code", "ascending"), ("id", "ascending")])
    c = cand["code"].to_numpy()
    first = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, dtype=bool)
    rows = np.flatnonzero(first)
    codes = c[rows]
    out = pd.DataFrame(_keys(ledger.debtor_ids[codes], t))
    out["oldest_invoice_id"] = pd.array(cand["id"].take(pa.array(rows)), dtype="string")
    out["oldest_due_date"] = earliest[codes].astype("datetime64[D]").astype("datetime64[ns]")
    if min_open:
        out["dpd_material"] = (state.T - earliest[codes]).astype(np.float64)
    return out


def _empty_oldest(material: bool = False) -> pd.DataFrame:
    cols = {
        "debtor_id": pd.array([], dtype="string"),
        "as_of": pd.Series([], dtype="datetime64[ns]"),
        "oldest_invoice_id": pd.array([], dtype="string"),
        "oldest_due_date": pd.Series([], dtype="datetime64[ns]"),
    }
    if material:
        cols["dpd_material"] = pd.Series([], dtype="float64")
    return pd.DataFrame(cols)


def _statement_oldest(features: pd.DataFrame) -> pd.DataFrame:
    """The oldest-invoice frame of a statements book under the threshold: no invoice, and ``dpd_material``
    (the latest statement's days past due, 0 when it states a balance of at most the threshold) of each
    account past due by it (the others read 0, as a debtor without an overdue invoice does)."""
    rows = features.loc[features[MATERIAL_DPD].to_numpy(dtype=np.float64, na_value=0.0) > 0]
    out = _empty_oldest(True).reindex(range(len(rows)))
    out["debtor_id"] = pd.array(rows["debtor_id"].to_numpy(), dtype="string")
    out["as_of"] = rows["as_of"].to_numpy(dtype="datetime64[ns]")
    out["oldest_invoice_id"] = pd.array([pd.NA] * len(rows), dtype="string")
    out["oldest_due_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out[MATERIAL_DPD] = rows[MATERIAL_DPD].to_numpy(dtype=np.float64)
    return _concat_sorted([out])


def _mixed_oldest(invoices: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The oldest-invoice frame of a book with invoices and statements under the threshold: one row per
    debtor past due by either (``features``' ``dpd_material``: the higher of its oldest material
    invoice's and its latest statement's days), with that oldest invoice and its due date where it has
    one (none where only its statement is past due). E.g. an invoice 60 days past due and a statement
    of 500.00 at 90 days: the invoice, 90 days; a statement alone at 45 days: no invoice, 45 days."""
    rows = _statement_oldest(features)
    ids = invoices[["debtor_id", "as_of", "oldest_invoice_id", "oldest_due_date"]]
    out = rows.drop(columns=["oldest_invoice_id", "oldest_due_date"]).merge(
        ids, on=["debtor_id", "as_of"], how="left"
    )
    return _concat_sorted([out[list(invoices.columns)]])


def _no_statements() -> pd.DataFrame:
    """An empty canonical statements table (the statement columns of a bucket without a statement account)."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes("statements").items()})


def _concat_sorted(frames: list[pd.DataFrame]) -> pd.DataFrame:
    out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return out.sort_values(["as_of", "debtor_id"], kind="stable", ignore_index=True)


def _statement_features(
    portfolio: Portfolio,
    dates: list[pd.Timestamp],
    params: FeatureParams,
    ledger_feats: pd.DataFrame | None,
    min_open: float = 0.0,
) -> pd.DataFrame:
    """Statement features outer-joined onto the ledger features (or alone, with the static attributes);
    with ``min_open`` (> 0) one ``dpd_material``: the higher of the invoices' and the statements' days."""
    st = build_statement_features(portfolio.statements, dates, min_open)
    if ledger_feats is not None:
        both = MATERIAL_DPD in ledger_feats and MATERIAL_DPD in st
        out = ledger_feats.merge(st, on=["debtor_id", "as_of"], how="outer", suffixes=("", "_st"))
        if both:  # a default by either path is a default: the more days past due of the two
            out[MATERIAL_DPD] = np.fmax(out[MATERIAL_DPD], out.pop(f"{MATERIAL_DPD}_st"))
        return out
    if _has_rows(portfolio.debtors) and "tenure" in params.families:
        static = prepare_ledger(Portfolio(debtors=portfolio.debtors, debtor_history=portfolio.debtor_history))
        lookup = pd.concat(  # the attributes valid at each as-of date (features.master)
            [
                pd.DataFrame(
                    {
                        **_keys(static.debtor_ids, t),
                        "segment": (at := attributes_at(static, int(day_number(t)))).segment,
                        "country": at.country,
                    }
                )
                for t in dates
            ],
            ignore_index=True,
        )
        st = st.merge(lookup, on=["debtor_id", "as_of"], how="left")
    return st


# ------------------------------------------------------------------------------------- driver


def _build(
    portfolio: Portfolio,
    dates: list[pd.Timestamp],
    definition: DefaultDefinition,
    params: FeatureParams,
    *,
    features: bool,
    defaults: bool,
    labels: bool,
    oldest: bool,
    observed_until: pd.Timestamp | None,
    portfolio_dates: Sequence[pd.Timestamp] = (),
    window_days: int = 90,
    at_state: Callable[[Ledger, LedgerState], object] | None = None,
    book_ledger: bool = False,
    book_statements: bool = False,
) -> BucketResult:
    # book_ledger: the whole book holds invoices or payments, so a bucket of statement accounts alone builds the
    # invoice features too (those of debtors without an invoice), as one call over the whole book does;
    # book_statements: the whole book holds statements, so a bucket without one builds the statement columns
    # too (empty for its debtors, as one call gives a debtor without a statement)
    has_ledger = _has_rows(portfolio.invoices) or _has_rows(portfolio.payments) or book_ledger
    statements = portfolio.statements if _has_rows(portfolio.statements) else None
    st_features = features and params.include_statements and (statements is not None or book_statements)
    if features and not has_ledger and not st_features:
        raise ValueError("portfolio has no invoices, payments or statements: nothing to build features from")
    until = observed_until if observed_until is not None else last_observed_date(portfolio)
    if labels and until is None:
        raise ValueError("portfolio has no dated rows: cannot build labels")

    ledger = prepare_ledger(portfolio)  # once for every date and every output
    names = ledger_columns(params)
    feats, flags, olds, extra = [], [], [], []
    sums = list(portfolio_dates) if _has_rows(portfolio.invoices) or statements is not None else []
    for t in dates:
        T = int(day_number(t))
        state = ledger_state(ledger, T)  # once per date: features, flags and oldest invoice read it
        if features and has_ledger:
            feats.append(_ledger_features(ledger, state, t, names, params, definition.min_open_amount))
        if defaults or labels:
            exists = exists_mask(ledger, T) if has_ledger else np.zeros(ledger.n, dtype=bool)
            in_default = _in_default(ledger, state, definition)
            first = _first_default(ledger, T, definition) if labels else None
            if statements is not None:
                s_exists, s_default, s_first = _statement_status(statements, ledger.debtor_ids, T, definition)
                exists |= s_exists
                in_default |= s_default
                first = np.minimum(first, s_first) if first is not None else None
            observed = until is not None and t + pd.Timedelta(days=definition.horizon_days) <= until
            flags.append(_defaults_frame(ledger.debtor_ids, t, exists, in_default, first, observed))
        if oldest and has_ledger:
            olds.append(_oldest_open(ledger, state, t, definition.min_open_amount))
        if at_state is not None:
            extra.append(at_state(ledger, state))
        del state
    parts = ledger_parts(ledger, sums, window_days) if sums and _has_rows(portfolio.invoices) else None
    if sums and statements is not None:
        # invoices and statements: the statements' balances and new charges add to the invoices' (two
        # accounts); a bucket of statement accounts alone gives theirs (before session 39 none: at scale
        # a bucket of a mixed book without an invoice was left out of the report's DSO and aging)
        st_parts = statement_parts(statements, sums, window_days)
        parts = st_parts if parts is None else combine_parts([parts, st_parts])

    feat_frame = pd.DataFrame()
    if features:
        ledger_feats = pd.concat(feats, ignore_index=True) if feats else None
        with_st = portfolio if statements is not None else replace(portfolio, statements=_no_statements())
        feat_frame = (
            _statement_features(with_st, dates, params, ledger_feats, definition.min_open_amount)
            if st_features
            else ledger_feats
        )
        feat_frame = feat_frame.sort_values(["as_of", "debtor_id"], kind="stable", ignore_index=True)
    if olds and st_features and MATERIAL_DPD in feat_frame:
        # invoices and statements: the queues read the days the label and roll-rate state read, the
        # higher of the oldest material invoice's and the latest statement's (_statement_features)
        oldest_frame = _mixed_oldest(_concat_sorted(olds), feat_frame)
    elif olds:
        oldest_frame = _concat_sorted(olds)
    elif oldest and MATERIAL_DPD in feat_frame:
        # a statements book has no invoice: under the threshold its queues read the latest statement's days
        # (features.statements.material_dpd) as its label and roll-rate state do, not the stated ones
        oldest_frame = _statement_oldest(feat_frame)
    else:
        oldest_frame = _empty_oldest(bool(definition.min_open_amount) and has_ledger)
    return BucketResult(
        features=feat_frame,
        defaults=_concat_sorted(flags) if flags else pd.DataFrame(),
        oldest_open=oldest_frame,
        portfolio=parts,
        at_state=tuple(extra),
    )


def build_bucket(
    portfolio: Portfolio,
    as_of: Sequence[date | pd.Timestamp | str],
    definition: DefaultDefinition = DefaultDefinition(),
    params: FeatureParams = FeatureParams(),
    *,
    labels: bool = False,
    observed_until: date | pd.Timestamp | None = None,
    portfolio_dates: Sequence[date | pd.Timestamp] = (),
    window_days: int = 90,
    at_state: Callable[[Ledger, LedgerState], object] | None = None,
    book_ledger: bool = False,
    book_statements: bool = False,
) -> BucketResult:
    """Features, in-default flags, (optionally) labels and the oldest open overdue invoice of a bucket.

    ``portfolio``: the canonical tables of a set of debtors, every row of each (not modified).
    ``as_of``: one or more dates. ``labels``: also the default labels (needs rows up to T + horizon).
    ``observed_until``: the last date observed in the *whole* book (sets ``horizon_observed``);
    pass it when the bucket is part of a larger book, default: the bucket's own last date.
    ``portfolio_dates``: also the report's portfolio sums at these dates (DSO over ``window_days``),
    from the same prepared ledger (one walk for all dates). ``at_state(ledger, state)``: called with
    the prepared ledger and the ledger state of each as-of date, so that other per-bucket work (the
    nightly's payment-date forecast) reads and prepares the bucket once; its results are returned
    in ``BucketResult.at_state``, in date order. ``book_ledger``: the whole book holds invoices or payments
    (``pipelines.engine.Book.ledger_rows``); a bucket of a book with invoices and statements that holds
    statement accounts alone then gets the invoice features too, of debtors without an invoice (the columns and
    values of one call over the whole book; before session 40 it got the statement features alone, which the
    book's model refused). ``book_statements``: the whole book holds statements (``Book.statement_rows``); a
    bucket without a statement account then gets the statement columns too, empty (before session 40 it lacked
    them, and a mixed book's model, which reads ``st_dpd_last``, refused it). Default: the bucket's own tables
    decide.
    Raises ``ValueError`` when the bucket holds no invoices, payments or statements.
    """
    return _build(
        portfolio,
        as_of_dates(as_of),
        definition,
        params,
        features=True,
        defaults=True,
        labels=labels,
        oldest=True,
        observed_until=pd.Timestamp(observed_until) if observed_until is not None else None,
        portfolio_dates=[pd.Timestamp(d).normalize() for d in portfolio_dates],
        window_days=window_days,
        at_state=at_state,
        book_ledger=book_ledger,
        book_statements=book_statements,
    )


def _union_categories(frames: list[pd.DataFrame]) -> dict[str, pd.CategoricalDtype]:
    cols = [c for c in frames[0].columns if isinstance(frames[0][c].dtype, pd.CategoricalDtype)]
    return {
        c: pd.CategoricalDtype(sorted(set().union(*(set(f[c].cat.categories) for f in frames if c in f))))
        for c in cols
    }


def combine(results: Sequence[BucketResult]) -> BucketResult:
    """The results of disjoint buckets as one result, identical to one call over all their rows.

    Rows are put in (as_of, debtor_id) order; ``segment``/``country`` get the union of the buckets'
    categories (sorted), as one call over the whole book gives.
    """
    parts = [r.portfolio for r in results if r.portfolio is not None]
    portfolio = combine_parts(parts) if parts else None
    results = [r for r in results if not r.features.empty or not r.defaults.empty]
    if not results:
        raise ValueError("no bucket holds invoices, payments or statements: nothing to build features from")
    if len(results) == 1:
        return replace(results[0], portfolio=portfolio)
    feats = [r.features for r in results]
    cats = _union_categories(feats)
    feats = [f.astype(cats) if cats else f for f in feats]
    return BucketResult(
        features=_concat_sorted(feats),
        defaults=_concat_sorted([r.defaults for r in results]),
        oldest_open=_concat_sorted([r.oldest_open for r in results]),
        portfolio=portfolio,
    )
