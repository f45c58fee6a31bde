"""Score every eligible debtor with a loaded model version: PD, band, raw score and feature hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.statements import with_statement_dpd
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.limits import INVOICE_TENURE
from pipelines.scoring.watchlist import DEFAULT_BAND, HISTORY, assign_bands
from pipelines.words import counted

EXPOSURE = [
    "open_balance",
    "overdue_amount",
    "overdue_amount_1_30",
    "overdue_amount_31_60",
    "overdue_amount_61_90",
    "overdue_amount_90p",
    "open_disputed_amount",
    "dpd_current_max",
]
# the credit-limit policy's inputs (pipelines.scoring.limits): invoiced volume, payment terms and the days the
# invoices can span (a young customer's divisor, limits.volume_days) at T
LIMIT_INPUTS = ["invoice_amount_90d", "invoice_amount_365d", "payment_terms_mean_365d", INVOICE_TENURE]
# the feature INVOICE_TENURE is read from (features.tenure: T - the earlier of onboarding and first invoice)
TENURE_FEATURE = "tenure_days"


class IncompatibleModelError(ValueError):
    """The features built today do not match the model's signature."""


class DefinitionMismatchError(IncompatibleModelError):
    """The project's default definition differs from the one the model was trained with."""


def check_definition(loaded: Any, definition: Any, source: str) -> None:
    """Refuse to score when ``definition`` (``features.params.DefaultDefinition``, from ``source``)
    differs from the one recorded with the model. Models logged before definitions were recorded
    (``loaded.definition`` None) pass."""
    recorded = getattr(loaded, "definition", None)
    if not recorded:
        return
    diffs = definition.differences(recorded)
    if diffs:
        raise DefinitionMismatchError(
            f"{source}: default_definition differs from the one {loaded.name} v{loaded.version} was trained "
            f"with ({'; '.join(diffs)}); its PDs would mean something else. Set default_definition back, or "
            "retrain with `ews train` under the new definition."
        )


def check_compatible(features: pd.DataFrame, loaded: Any) -> None:
    """Raise :class:`IncompatibleModelError` naming the missing columns or the wrong dtypes."""
    missing = [c for c in loaded.feature_names if c not in features.columns]
    if missing:
        raise IncompatibleModelError(
            f"the features built for scoring lack {counted(len(missing), 'column')} the model "
            f"{loaded.name} v{loaded.version} was trained on: {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}. Retrain (`ews train`) with the current feature code, "
            "or promote a compatible version (`ews models promote`)."
        )
    wrong = []
    for col in loaded.feature_names:
        is_cat = col in loaded.categorical_features
        dtype = features[col].dtype
        ok = (
            isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or pd.api.types.is_object_dtype(dtype)
            if is_cat
            else pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        )
        if not ok:
            wrong.append(f"{col} ({dtype}, model expects {'categorical' if is_cat else 'numeric'})")
    if wrong:
        raise IncompatibleModelError(
            f"feature types differ from model {loaded.name} v{loaded.version}: {wrong[:10]}; retrain with `ews train`"
        )


def score_debtors(
    features: pd.DataFrame,
    in_default: pd.Series,
    names: pd.Series | None,
    loaded: Any,
    prepare_X: Any,
    cfg: NightlyConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PD per debtor of ``features`` (one row per debtor; ``debtor_id`` column).

    ``in_default``: bool per debtor_id (index) -- those debtors get PD 1.0 and band ``default``
    and are not passed to the model. ``names``: debtor name per debtor_id (index) or None.
    ``prepare_X(frame, loaded)`` builds the model input. Returns (scores, X) where scores is sorted
    by debtor_id with ``debtor_id``, ``as_of``, ``name``, ``segment``, ``in_default``, ``pd``
    (calibrated, [0, 1]), ``band`` (empty for a live debtor never invoiced: ``has_history`` False), ``raw_score`` (log-odds, NaN in default), ``model_name``,
    ``model_version``, ``feature_hash``, ``feature_snapshot_hash`` and the exposure columns; X is
    the model input of the live (not in default) debtors, indexed by debtor_id.
    """
    scores, X = score_rows(features, in_default, names, loaded, prepare_X, cfg)
    return with_snapshot_hash(scores, X.columns), X


def score_rows(
    features: pd.DataFrame,
    in_default: pd.Series,
    names: pd.Series | None,
    loaded: Any,
    prepare_X: Any,
    cfg: NightlyConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`score_debtors` without ``feature_snapshot_hash``: every column is per row, so a debtor
    bucket is scored on its own (:func:`with_snapshot_hash` adds the hash over all buckets)."""
    from pipelines.scoring.nomodel import is_no_model

    features = with_statement_dpd(features)  # a roll-rate model of a statements book reads its DPD
    none = is_no_model(loaded)  # no PD model registered yet (pipelines.scoring.nomodel): PD and band empty
    if not none:
        check_compatible(features, loaded)
    frame = features.sort_values("debtor_id", kind="stable").reset_index(drop=True)
    ids = frame["debtor_id"].astype("string")
    default = ids.map(in_default.astype(bool)).fillna(False).astype(bool).to_numpy()
    if none:  # the feature rows hashed as they are; the model input has no column
        X_all = pd.DataFrame(index=pd.RangeIndex(len(frame)))
        rows_hash = pd.util.hash_pandas_object(frame.drop(columns="as_of", errors="ignore"), index=False)
    else:
        X_all = prepare_X(frame, loaded)
        rows_hash = pd.util.hash_pandas_object(X_all, index=False)
    X_all.index = pd.Index(ids.to_numpy(), name="debtor_id")
    X = X_all.loc[~default]
    both = getattr(loaded, "pd_and_raw", None)  # the model run once (LoadedModel); else twice
    if none:
        pd_live, raw_live = np.full(len(X), np.nan), np.full(len(X), np.nan)
    elif not len(X):
        pd_live, raw_live = np.zeros(0), np.zeros(0)
    elif both is not None:
        pd_live, raw_live = both(X)
    else:
        pd_live, raw_live = loaded.predict_pd(X), loaded.raw_score(X)

    pd_all = np.full(len(frame), np.nan) if none else np.ones(len(frame))
    raw_all = np.full(len(frame), np.nan)
    pd_all[~default] = np.clip(pd_live, 0.0, 1.0)
    raw_all[~default] = raw_live
    scores = pd.DataFrame(
        {
            "debtor_id": ids.to_numpy(),
            "as_of": pd.to_datetime(frame["as_of"]).astype("datetime64[ns]").to_numpy(),
            "name": (ids.map(names) if names is not None else pd.Series(pd.NA, index=ids.index)).astype(
                "string"
            ),
            "segment": frame["segment"].astype("string") if "segment" in frame else pd.NA,
            "in_default": default,
            "pd": pd_all,
        }
    )
    scores["debtor_id"] = scores["debtor_id"].astype("string")
    bands = (
        assign_bands(scores["pd"], cfg) if not none else pd.Series(pd.NA, index=scores.index, dtype="string")
    )
    scores["band"] = bands.where(~scores["in_default"], DEFAULT_BAND).astype("string")
    scores["raw_score"] = raw_all
    scores["model_name"] = pd.Series(pd.NA if none else loaded.name, index=scores.index, dtype="string")
    version = pd.NA if none else str(loaded.version)
    scores["model_version"] = pd.Series(version, index=scores.index, dtype="string")
    scores["feature_hash"] = rows_hash.to_numpy()
    for col, values in exposure_columns(frame).items():
        scores[col] = values
    scores[HISTORY] = history_mask(frame)
    # a live debtor never invoiced (no invoice, payment or statement by T: a prospect) has no band: its PD is the
    # model's reading of empty features. Every output says so (s40-review: the report's migration table counted
    # 113 such debtors in band A while its summary and credit_limits.csv said "no band")
    never = ~scores[HISTORY].to_numpy(dtype=bool) & ~scores["in_default"].to_numpy(dtype=bool)
    scores["band"] = scores["band"].mask(never)
    return scores, X


# the features that say a debtor has a dated row by T: NaN (or 0 statements) when it has none
HISTORY_FEATURES = ("days_since_last_invoice", "days_since_last_payment", "st_months_observed")


def history_mask(frame: pd.DataFrame) -> np.ndarray:
    """True per row of a feature frame where the debtor has an invoice, a payment or a statement
    dated on or before the as-of date (``pipelines.scoring.watchlist.HISTORY``); False for a debtor
    of the debtors table with none (a prospect: onboarded, never invoiced). True everywhere when the
    frame carries none of :data:`HISTORY_FEATURES` (feature families switched off): no basis to
    leave anyone out."""
    cols = [c for c in HISTORY_FEATURES if c in frame.columns]
    if not cols:
        return np.ones(len(frame), dtype=bool)
    seen = np.zeros(len(frame), dtype=bool)
    for c in cols:
        values = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64")
        seen |= (values > 0) if c == "st_months_observed" else ~np.isnan(values)
    return seen


def exposure_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """:data:`EXPOSURE` and :data:`LIMIT_INPUTS` of each row of a feature frame (float64; NaN when
    absent): the invoice features, or for a statements book :func:`statement_exposure`. A book with
    both (:func:`mixed_exposure`): a debtor's invoices and statements are two accounts."""
    derived = statement_exposure(frame)
    if "open_balance" in frame and derived:
        return mixed_exposure(frame, derived)
    own = {INVOICE_TENURE: TENURE_FEATURE}  # the scores' name: the feature it is read from
    return {
        col: derived[col]
        if col in derived
        else (
            frame[own.get(col, col)].astype("float64").to_numpy()
            if own.get(col, col) in frame
            else np.full(len(frame), np.nan)
        )
        for col in EXPOSURE + LIMIT_INPUTS
    }


def mixed_exposure(frame: pd.DataFrame, statement: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The exposure columns of a book with both invoices and statements (``statement``: its
    :func:`statement_exposure`): a debtor's open invoices and its latest statement are two accounts,
    so the amounts (open balance, overdue, each aging bucket, disputed) add up, and its days past due
    are the higher of the two, as its default is by either (``features.engine``: ``dpd_material``).
    A debtor with one of the two reads that one (NaN only without either). The credit-limit inputs
    add up alike: the amounts invoiced (the statements' new charges), and the payment terms as the
    mean of the two weighted by the 365 days' amounts (so need = the sum of the two accounts' needs).
    E.g. open invoices 100.00, 60 days past due and a statement of 500.00, 30 days past due: open
    balance and overdue 600.00 (31-60: 100.00, 1-30: 500.00), 60 days past due."""

    def col(name: str) -> tuple[np.ndarray, np.ndarray]:
        own = frame[name].astype("float64").to_numpy() if name in frame else np.full(len(frame), np.nan)
        return own, statement.get(name, np.full(len(frame), np.nan))

    def added(own: np.ndarray, other: np.ndarray) -> np.ndarray:  # NaN only where neither has the figure
        return np.where(np.isnan(own) & np.isnan(other), np.nan, np.nan_to_num(own) + np.nan_to_num(other))

    out = {name: added(*col(name)) for name in EXPOSURE + LIMIT_INPUTS if name != INVOICE_TENURE}
    out["dpd_current_max"] = np.fmax(*col("dpd_current_max"))
    # a young customer's divisor is its invoices' tenure; where statements carry a volume (a monthly rate) the
    # sum keeps the window
    tenure, _ = col(TENURE_FEATURE)
    _, rated = col("invoice_amount_365d")
    out[INVOICE_TENURE] = np.where(np.nan_to_num(rated) > 0, np.nan, tenure)
    (terms, cycle), (volume, charges) = col("payment_terms_mean_365d"), col("invoice_amount_365d")
    w_own = np.where(np.isnan(terms), 0.0, np.nan_to_num(volume))
    w_other = np.where(np.isnan(cycle), 0.0, np.nan_to_num(charges))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w_own * np.nan_to_num(terms) + w_other * np.nan_to_num(cycle)) / (w_own + w_other)
    out["payment_terms_mean_365d"] = np.where(
        w_own + w_other > 0, mean, np.where(np.isnan(terms), cycle, terms)
    )
    return out


def statement_exposure(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The exposure columns of a statements book (no invoices), from each debtor's latest statement
    on or before T: ``open_balance`` = its balance (clipped at 0), ``dpd_current_max`` = its days past
    due. A statement gives one days-past-due figure per account, so an account past due counts its
    whole balance as overdue, in the aging bucket of those days; no part of it is known to be
    disputed. For the credit-limit policy, the amount "invoiced" is the new charges on the statements
    (mean per month over the last 6, from ``st_spending_to_limit_6m`` x ``st_credit_limit``) and the
    payment terms are one statement cycle. Empty when the frame has no statement features
    (``st_balance_last``, ``st_dpd_last``)."""
    if "st_balance_last" not in frame or "st_dpd_last" not in frame:
        return {}
    balance = np.clip(frame["st_balance_last"].to_numpy(dtype="float64", na_value=np.nan), 0.0, None)
    dpd = frame["st_dpd_last"].to_numpy(dtype="float64", na_value=np.nan)
    overdue = np.where(np.nan_to_num(dpd) > 0, np.nan_to_num(balance), 0.0)
    out = {"open_balance": balance, "overdue_amount": overdue, "dpd_current_max": dpd}
    edges = {
        "overdue_amount_1_30": (0, 30),
        "overdue_amount_31_60": (30, 60),
        "overdue_amount_61_90": (60, 90),
    }
    for col, (low, high) in edges.items():
        out[col] = np.where((dpd > low) & (dpd <= high), overdue, 0.0)
    out["overdue_amount_90p"] = np.where(dpd > 90, overdue, 0.0)
    out["open_disputed_amount"] = np.zeros(len(frame))
    # the credit-limit policy's volume x terms: new charges per month (the mean over the last 6
    # statements, from the features' share of the limit) over one statement cycle
    if "st_spending_to_limit_6m" in frame and "st_credit_limit" in frame:
        per_month = np.clip(
            frame["st_spending_to_limit_6m"].to_numpy(dtype="float64", na_value=np.nan)
            * frame["st_credit_limit"].to_numpy(dtype="float64", na_value=np.nan),
            0.0,
            None,
        )
        cycle = 365.25 / 12
        out["invoice_amount_90d"] = per_month * 90 / cycle
        out["invoice_amount_365d"] = per_month * 365 / cycle
        out["payment_terms_mean_365d"] = np.where(np.isnan(per_month), np.nan, cycle)
    out[INVOICE_TENURE] = np.full(len(frame), np.nan)  # a rate: divided by the whole window
    return out


def with_snapshot_hash(scores: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """``scores`` (all debtors, in debtor_id order) with ``feature_snapshot_hash``: a SHA-256 of the
    model input's column names and every row's ``feature_hash``, after ``feature_hash``."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, columns)).encode())
    digest.update(scores["feature_hash"].to_numpy(dtype=np.uint64).tobytes())
    out = scores.copy()
    out.insert(
        out.columns.get_loc("feature_hash") + 1,
        "feature_snapshot_hash",
        pd.Series(digest.hexdigest(), index=out.index, dtype="string"),
    )
    return out


@dataclass(frozen=True)
class ScoredBucket:
    """One debtor bucket scored: :func:`score_rows` output, the oldest open overdue invoice per
    debtor (``features.engine``) with its latest event (``pipelines.scoring.actions.with_events``),
    the main invoice currency of the live debtors, the report's portfolio sums (``features.portfolio.PortfolioParts``; None when not asked for) and the
    payment-date forecast (``pipelines.scoring.paydate.forecast_state``, packed by
    ``pack_forecast``; None when not asked for or without invoices; once combined, the list of the
    buckets' packed forecasts), and the invoices its debtors were issued in the
    :data:`pipelines.feed_checks.RECENT_DAYS` days up to the as-of date (the feed check
    ``invoices_per_debtor``; None for a book without invoice features, e.g. statements) and the
    amounts they paid and were invoiced in those days (``paid_per_invoiced_90d``; the same None)."""

    scores: pd.DataFrame
    X: pd.DataFrame
    oldest: pd.DataFrame
    currency: pd.Series
    portfolio: Any = None
    paydate: Any = None
    recent_invoices: int | None = None
    recent_amounts: tuple[float, float] | None = None
    recent_ratios: np.ndarray | None = (
        None  # each debtor's paid / invoiced (``paid_per_invoiced_median_90d``)
    )
    ledger: tuple[pd.Index, pd.Series | None] | None = None  # limit_breach's candidates and month-ends
    # the bucket's debtors with an invoice or a payment (the feed check invoices_per_debtor_90d's denominator
    # of a book with invoices and statements, ``pipelines.feed_checks.invoice_debtors``; None without invoice
    # features); once combined, None unless a bucket holds statements (``statement_balances``)
    invoice_debtors: int | None = None
    # the same book: its latest statements' balances (sum, accounts), which the cash-in forecast leaves out
    # (``pipelines.scoring.paydate.statement_balances``); None elsewhere
    statement_balances: tuple[float, int] | None = None


def score_bucket(
    book: Any,
    k: int,
    as_of: pd.Timestamp,
    definition: Any,
    loaded: Any,
    cfg: NightlyConfig,
    portfolio_dates: tuple[pd.Timestamp, ...] = (),
    paydate: Any = None,
    ledger: Any = None,
) -> ScoredBucket | None:
    """Bucket ``k`` of ``book`` (``pipelines.engine.Book``): features, in-default flags and oldest
    open invoice from one ledger state (``features.engine.build_bucket``), then PDs with ``loaded``;
    with ``portfolio_dates``, the report's portfolio sums at those dates from the same ledger
    (DSO window ``cfg.report.dso_window_days``); with ``paydate`` (an ``ews-paydate`` champion), the
    payment-date forecast of the bucket's open invoices from the same ledger state
    (``pipelines.scoring.paydate.forecast_state``, packed: ``pack_forecast``); with ``ledger`` (a
    ``pipelines.scoring.watchlist.LedgerAsk``), the ``limit_breach`` trigger's ledger candidates and
    their month-ends from the bucket's rows (``bucket_ledger_memory``). None when the bucket
    holds no ledger rows."""
    from features.engine import build_bucket
    from pipelines.adapters.registry import prepare_X
    from pipelines.engine import has_rows_to_build
    from pipelines.feed_checks import invoice_debtors, recent_amounts, recent_invoices, recent_ratios
    from pipelines.scoring.actions import latest_events, with_events
    from pipelines.scoring.paydate import statement_balances
    from pipelines.scoring.watchlist import debtor_currency

    part = book.read(k)
    if not has_rows_to_build(book, part):
        return None
    at_state = None
    if paydate is not None:
        from pipelines.scoring.paydate import forecast_state, pack_forecast

        def at_state(ledger: Any, state: Any) -> Any:  # packed here: the workers sort and format the rows
            return pack_forecast(forecast_state(part.invoices, ledger, state, paydate, definition))

    built = build_bucket(
        part,
        [as_of],
        definition,
        portfolio_dates=portfolio_dates,
        window_days=cfg.report.dso_window_days,
        at_state=at_state,
        book_ledger=book.ledger_rows,  # a bucket of statement accounts alone: the columns of the book's model
        book_statements=book.statement_rows,  # and a bucket of invoice debtors alone of a book with statements
    )
    flags = built.defaults.set_index(built.defaults["debtor_id"].astype("string"))["in_default_at_asof"]
    names = None
    if part.debtors is not None and "name" in part.debtors:
        names = part.debtors.set_index(part.debtors["debtor_id"].astype("string"))["name"]
    scores, X = score_rows(built.features, flags, names, loaded, prepare_X, cfg)
    found = None
    if ledger is not None and len(scores):
        from pipelines.scoring.watchlist import bucket_ledger_memory

        found = bucket_ledger_memory(part, scores, k, ledger, cfg)
    return ScoredBucket(
        scores=scores,
        X=X,
        oldest=with_events(built.oldest_open.drop(columns="as_of"), latest_events(part.events, as_of)),
        currency=debtor_currency(part.invoices, X.index),
        portfolio=built.portfolio,
        paydate=built.at_state[0] if built.at_state else None,
        recent_invoices=recent_invoices(built.features),
        recent_amounts=recent_amounts(built.features),
        recent_ratios=recent_ratios(built.features),
        ledger=found,
        invoice_debtors=invoice_debtors(built.features, statements=True),  # combine_scored decides
        statement_balances=statement_balances(built.features),
    )


def combine_scored(buckets: list[ScoredBucket | None]) -> ScoredBucket:
    """The scored buckets as one, in debtor_id order, with ``feature_snapshot_hash`` over all rows.
    Identical to scoring the whole book at once."""
    found = [b for b in buckets if b is not None]
    if not found:
        raise ValueError("no debtor bucket holds invoices, payments or statements: nothing to score")

    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=False)

    scores = cat([b.scores for b in found]).sort_values("debtor_id", kind="stable", ignore_index=True)
    X = cat([b.X for b in found]).sort_index(kind="stable")
    oldest = cat([b.oldest for b in found]).sort_values("debtor_id", kind="stable", ignore_index=True)
    currency = pd.concat([b.currency for b in found]).sort_index(kind="stable")
    parts = [b.portfolio for b in found if b.portfolio is not None]
    portfolio = None
    if parts:
        from features.portfolio import combine_parts

        portfolio = combine_parts(parts)
    paydate = [b.paydate for b in found]
    recent = [b.recent_invoices for b in found if b.recent_invoices is not None]
    amounts = [b.recent_amounts for b in found if b.recent_amounts is not None]
    ratios = [b.recent_ratios for b in found if b.recent_ratios is not None]
    invoiced = [b.invoice_debtors for b in found if b.invoice_debtors is not None]
    balances = [b.statement_balances for b in found if b.statement_balances is not None]
    asked = [b.ledger for b in found if b.ledger is not None]
    ledger = None
    if asked:
        memories = [m for _, m in asked if m is not None]
        ledger = (pd.Index(np.concatenate([i.to_numpy() for i, _ in asked]), dtype="string"),
                  pd.concat(memories) if memories else None)  # fmt: skip
    return ScoredBucket(
        with_snapshot_hash(scores, X.columns),
        X,
        oldest,
        currency,
        portfolio,
        paydate,
        sum(recent) if recent else None,
        (sum(a[0] for a in amounts), sum(a[1] for a in amounts)) if amounts else None,
        np.concatenate(ratios) if ratios else None,
        ledger,
        # a book with statements too (a bucket with statement features): every bucket's invoice debtors,
        # those of a bucket without a statement account too (s39-review)
        sum(invoiced) if invoiced and balances else None,
        (sum(b[0] for b in balances), sum(b[1] for b in balances)) if balances else None,
    )
