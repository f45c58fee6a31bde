"""Credit-limit recommendations: a documented rule (``conf/credit.yaml``, ``docs/credit_limits.md``),
not a model.

Per debtor, from figures known at the as-of date T:

- ``invoiced``: the amount invoiced in the ``volume_window_days`` before T (the point-in-time features
  ``invoice_amount_90d`` / ``invoice_amount_365d``: only invoices issued in (T - window, T]);
- ``terms_days``: the mean days from issue to due date of its invoices of the last 365 days
  (``payment_terms_mean_365d``), at least ``min_terms_days``;
- ``credit_need`` = invoiced / days x terms_days (= monthly volume x terms in months: what the
  debtor owes at any time when it buys at its recent pace and pays on terms), days = the window, or for a
  customer younger than the window its tenure (``tenure_days``), at least ``young_floor_days`` (session 42: a
  customer onboarded 40 days ago was divided by 365 days; null: always the window);
- each variant = need x its factor of the debtor's risk band, at most the caps known for the debtor
  (``turnover_ratio`` x ``annual_turnover``, ``net_worth_ratio`` x ``net_worth``, ``max_limit``),
  rounded down to a multiple of the currency's step (:func:`round_step`: ``round_to`` for a currency
  worth half a euro to two euros, the same step in another currency's units on the 1-2-5 series);
- a debtor in default gets 0; a debtor without invoices in the window follows ``no_history``; a debtor
  never invoiced (``has_history`` False: a prospect) follows ``prospect_limit`` (none: no limit, set by hand).

``credit_limit_rule`` names the rule that set the recommended limit. Everything is vectorised
(one pass of numpy over the debtors; about a second at 1M debtors, see BENCHMARKS.md).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config.credit import CreditPolicyConfig
from pipelines.scoring.watchlist import HISTORY
from pipelines.words import amounts_in, counted

__all__ = [
    "CREDIT_LIMITS_TITLE",
    "DAYS_PER_MONTH",
    "INVOICE_TENURE",
    "LIMIT_COLUMNS",
    "VARIANTS",
    "add_credit_limits",
    "credit_limits_table",
    "recommend_limits",
    "review_limits",
    "round_step",
    "volume_days",
    "write_credit_limits",
]

DAYS_PER_MONTH = 365.25 / 12
VARIANTS: tuple[str, ...] = ("recommended", "conservative", "aggressive")
LIMIT_COLUMNS: list[str] = [
    "invoiced_per_month",
    "terms_days",
    "credit_need",
    "credit_limit_current",
    *[f"credit_limit_{v}" for v in VARIANTS],
    "credit_limit_rule",
]
# the scores' column of the days a debtor's invoices can span by T (pipelines.scoring.score.exposure_columns:
# the feature tenure_days; NaN where statements carry the volume): young customers' divisor (volume_days)
INVOICE_TENURE = "invoice_tenure_days"
# which bound set the recommended limit: code offsets per band
_UNCAPPED, _TURNOVER, _NET_WORTH, _MAX = range(4)


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g} %"


def _rule_texts(policy: CreditPolicyConfig) -> list[str]:
    """Every rule text, in code order: 4 per band (uncapped, then each cap), then the special rules."""
    caps = policy.caps
    out = []
    for band, f in policy.bands.items():
        base = (
            f"band {band}: need x {f.recommended:g} "
            f"(conservative x {f.conservative:g}, aggressive x {f.aggressive:g})"
        )
        out += [
            base,
            f"{base}, capped at {_pct(caps.turnover_ratio or 0)} of annual turnover",
            f"{base}, capped at {_pct(caps.net_worth_ratio or 0)} of net worth",
            f"{base}, capped at the maximum limit {caps.max_limit or 0:,.0f}",
        ]
    window = f"no invoice in the last {policy.volume_window_days} days"
    out += [
        "in default: 0",
        f"{window}: 0",
        f"{window}: current limit kept",
        f"{window} and no current limit: 0",
        "never invoiced: no basis for a limit, set it by hand (or credit.prospect_limit)",
        f"never invoiced: the starting limit {policy.prospect_limit or 0:,.0f} (credit.prospect_limit), at most "
        "the caps",
        f"the previous run's limit kept: the computed one is within {_pct(policy.review.keep_within or 0)} of it "
        "in the same band (credit.review)",
    ]
    return out


# Units of a currency per euro, to the accuracy a rounding step needs (an order of magnitude and its
# first digit; not a rate to convert with). Currencies worth half a euro to two euros are absent: their
# step is round_to as written (EUR, USD, GBP, CHF, CAD, AUD, NZD, SGD, JOD, BGN, ...).
UNITS_PER_EUR: dict[str, float] = {
    "AED": 4.0, "ARS": 1000.0, "BHD": 0.41, "BRL": 6.2, "CLP": 1000.0, "CNY": 7.8, "COP": 4500.0,
    "CZK": 25.0, "DKK": 7.46, "EGP": 53.0, "HKD": 8.5, "HUF": 400.0, "IDR": 17500.0, "ILS": 4.0,
    "INR": 90.0, "ISK": 150.0, "JPY": 160.0, "KES": 140.0, "KRW": 1500.0, "KWD": 0.33, "MAD": 10.8,
    "MXN": 21.0, "MYR": 4.8, "NGN": 1700.0, "NOK": 11.7, "OMR": 0.42, "PEN": 4.1, "PHP": 63.0,
    "PKR": 300.0, "PLN": 4.3, "QAR": 3.95, "RON": 5.0, "RUB": 100.0, "SAR": 4.05, "SEK": 11.3,
    "THB": 37.0, "TRY": 40.0, "TWD": 35.0, "UAH": 45.0, "VND": 27000.0, "ZAR": 20.0,
}  # fmt: skip


def round_step(policy: CreditPolicyConfig, currency: str | None) -> float:
    """The step limits in ``currency`` are rounded down to: ``round_to_by_currency[currency]`` when given,
    else ``round_to`` for a currency worth half a euro to two euros (or not named), else ``round_to`` in
    the currency's units (:data:`UNITS_PER_EUR`) to the nearest of 1, 2 or 5 x a power of ten.

    With the default 500: EUR, USD, GBP 500; JPY 100,000 (500 x 160 = 80,000); KWD 200 (165); SEK 5,000;
    INR 50,000. Before session 30 every currency's step was 500 of its own units: 500 yen (about 3 EUR)
    and 500 dinars (about 1,500 EUR)."""
    code = (currency or "").upper()
    if code in policy.round_to_by_currency:
        return float(policy.round_to_by_currency[code])
    units = UNITS_PER_EUR.get(code)
    if units is None:
        return float(policy.round_to)
    raw = policy.round_to * units
    power = 10.0 ** np.floor(np.log10(raw))
    nice = [m * power for m in (1.0, 2.0, 5.0, 10.0)]
    return float(min(nice, key=lambda v: abs(np.log10(v / raw))))


def _floor_to(values: np.ndarray, step: float) -> np.ndarray:
    """Round down to a multiple of ``step``; within a millionth of a step of the next multiple counts
    as that multiple (float noise: 2999.9999999997 with step 500 is 3000)."""
    return np.floor(np.round(values / step, 6)) * step


def _positions(values: pd.Series | pd.Index, keys: pd.Series | pd.Index | list[str]) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (text), -1 where absent; the first on duplicate keys.
    A hash join in Arrow: about 0.1 s for 1M values (pandas' get_indexer on text is ~20x slower)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(x: pd.Series | pd.Index | list[str]) -> pa.Array:
        return pa.array(pd.Series(x, dtype="string"), type=pa.string(), from_pandas=True)

    found = pc.index_in(arrow(values), value_set=arrow(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def volume_days(inputs: pd.DataFrame, policy: CreditPolicyConfig) -> np.ndarray:
    """The days each debtor's invoiced amount is divided by (float per row): the window
    (``volume_window_days``), or for a debtor whose ``tenure_days`` is shorter, its tenure, at least
    ``young_floor_days`` (never above the window). NaN or missing tenure, or ``young_floor_days`` null: the
    window. E.g. window 365, floor 30: tenure 40 -> 40, tenure 10 -> 30, tenure 400 -> 365."""
    window = float(policy.volume_window_days)
    tenure = _column(inputs, "tenure_days")
    if policy.young_floor_days is None:
        return np.full(len(inputs), window)
    floor = min(float(policy.young_floor_days), window)
    return np.where(np.isnan(tenure), window, np.clip(tenure, floor, window))


def recommend_limits(
    inputs: pd.DataFrame, policy: CreditPolicyConfig, currency: str | None = None
) -> pd.DataFrame:
    """The limits of every debtor of ``inputs`` (same index), by ``policy``, rounded down to the step of
    ``currency`` (the reporting currency; :func:`round_step`).

    ``inputs`` columns: ``band`` (risk band name; ignored in default), ``in_default`` (bool),
    ``invoiced`` (amount invoiced in the policy's window before T), ``terms_days`` (mean payment
    terms, days), and optionally ``tenure_days`` (days the debtor's invoices can span by T: its
    tenure; NaN or missing: the whole window, as for a statements account whose volume is a rate), ``credit_limit`` (current limit), ``annual_turnover`` and
    ``net_worth`` (missing or NaN: unknown) and ``has_history`` (False: never invoiced, a prospect; missing:
    True). Returns :data:`LIMIT_COLUMNS`: ``invoiced_per_month``,
    ``terms_days`` (as used), ``credit_need``, ``credit_limit_current`` and the three variants
    (float, currency units) and ``credit_limit_rule`` (text).

    ``inputs`` without a ``band`` column: a run without a PD model (:mod:`pipelines.scoring.nomodel`), no
    debtor has a risk band, so the three variants (each the need x a factor of the band) are empty, in
    default too, and ``credit_limit_rule`` reads :data:`NO_MODEL_RULE` (in default: the policy's rule for it);
    the volume, terms, need and current limit as with a band. (A column of empty bands is a model's run
    whose debtors have none: the never-invoiced get ``prospect_limit``, those in default 0.)
    """
    n = len(inputs)
    names = list(policy.bands)
    in_default = inputs["in_default"].fillna(False).to_numpy(dtype=bool)
    # never invoiced: no volume, no terms, no history behind its band (none since session 41); the starting
    # limit or none
    seen = inputs["has_history"] if "has_history" in inputs else pd.Series(True, index=inputs.index)
    prospect = ~seen.fillna(True).to_numpy(dtype=bool) & ~in_default
    banded = "band" in inputs
    code = _positions(inputs["band"], names) if banded else np.full(n, -1, dtype=np.int64)
    unknown = (code < 0) & ~in_default & ~prospect & banded
    if unknown.any():
        bad = sorted({str(b) for b in inputs["band"].to_numpy(dtype=object)[unknown]})
        raise ValueError(
            f"{counted(len(bad), 'risk band')} {bad} without factors in the credit policy (bands: {names})"
        )
    code = np.where(code < 0, 0, code)

    invoiced = _column(inputs, "invoiced")
    history = np.nan_to_num(invoiced, nan=0.0) > 0
    terms = np.maximum(np.nan_to_num(_column(inputs, "terms_days"), nan=0.0), policy.min_terms_days)
    terms = np.where(history, terms, np.nan)
    per_day = np.where(history, invoiced / volume_days(inputs, policy), 0.0)
    need = per_day * np.nan_to_num(terms, nan=0.0)

    caps = policy.caps
    bounds = np.full((3, n), np.inf)
    if caps.turnover_ratio is not None:
        bounds[0] = np.nan_to_num(caps.turnover_ratio * _column(inputs, "annual_turnover"), nan=np.inf)
    if caps.net_worth_ratio is not None:
        worth = caps.net_worth_ratio * _column(inputs, "net_worth")
        bounds[1] = np.maximum(np.nan_to_num(worth, nan=np.inf), 0.0)
    if caps.max_limit is not None:
        bounds[2] = caps.max_limit
    cap = bounds.min(axis=0)
    binding = bounds.argmin(axis=0)  # which cap is the lowest (first on ties)

    current = _column(inputs, "credit_limit")
    out = pd.DataFrame(index=inputs.index)
    out["invoiced_per_month"] = per_day * DAYS_PER_MONTH
    out["terms_days"] = terms
    out["credit_need"] = need
    out["credit_limit_current"] = current
    keep = policy.no_history == "keep_current"
    kept = np.nan_to_num(current, nan=0.0)
    step = round_step(policy, currency)
    start = policy.prospect_limit
    starting = np.nan if start is None else _floor_to(np.minimum(start, cap), step)
    for variant in VARIANTS:
        if not banded:
            out[f"credit_limit_{variant}"] = np.full(n, np.nan)
            continue
        factor = np.array([getattr(f, variant) for f in policy.bands.values()], dtype="float64")[code]
        limit = _floor_to(np.minimum(need * factor, cap), step)
        if keep:
            limit = np.where(history, limit, kept)
        else:
            limit = np.where(history, limit, 0.0)
        limit = np.where(prospect, starting, limit)
        out[f"credit_limit_{variant}"] = np.where(in_default, 0.0, limit)

    rec_factor = np.array([f.recommended for f in policy.bands.values()], dtype="float64")[code]
    capped = need * rec_factor > cap
    rule = code * 4 + np.where(capped, binding + 1, _UNCAPPED)
    special = 4 * len(names)
    no_hist = special + 1 if not keep else np.where(np.isnan(current), special + 3, special + 2)
    rule = np.where(history, rule, no_hist)
    rule = np.where(prospect, special + 4 + (start is not None), rule)
    rule = np.where(in_default, special, rule)
    texts = _rule_texts(policy)
    if not banded:
        rules = np.where(in_default, texts[special], NO_MODEL_RULE).astype(object)
        out["credit_limit_rule"] = pd.Categorical(rules)
        return out
    out["credit_limit_rule"] = pd.Categorical.from_codes(rule, categories=texts)
    return out


NO_MODEL_RULE = "no PD model yet: no risk band, so no recommended limit (the current limit on file and the need are shown)"


def current_limits_only(
    scored: pd.DataFrame,
    debtors: pd.DataFrame | None,
    policy: CreditPolicyConfig,
    currency: str | None = None,
) -> pd.DataFrame:
    """:func:`add_credit_limits` of a run without a PD model (:mod:`pipelines.scoring.nomodel`): the
    current limit on file, the invoiced volume, terms and need as the policy reads them, and the three
    limit variants empty (each is the need x a factor of the debtor's risk band, and there is no band:
    :func:`recommend_limits` without one); ``credit_limit_rule`` says so. The ``limit_breach`` trigger then
    compares the exposure with the current limit only (its recommended-limit test needs a recommendation)."""
    return add_credit_limits(scored, debtors, policy, currency, banded=False)


def run_limits(
    scored: pd.DataFrame,
    debtors: pd.DataFrame | None,
    previous: pd.DataFrame | None,
    policy: CreditPolicyConfig,
    currency: str | None = None,
    no_model: bool = False,
) -> pd.DataFrame:
    """The nightly's credit-limit step, one place for the nightly and the limit_breach memory of its debtor
    buckets: :func:`add_credit_limits` then :func:`review_limits` (the previous run's limit kept), or without a
    PD model (``no_model``) :func:`current_limits_only`."""
    if no_model:
        return current_limits_only(scored, debtors, policy, currency)
    return review_limits(add_credit_limits(scored, debtors, policy, currency), previous, policy)


def add_credit_limits(
    scored: pd.DataFrame,
    debtors: pd.DataFrame | None,
    policy: CreditPolicyConfig,
    currency: str | None = None,
    banded: bool = True,
) -> pd.DataFrame:
    """``scored`` (the nightly's scores: ``debtor_id``, ``band``, ``in_default`` and the features
    ``invoice_amount_90d``/``_365d`` and ``payment_terms_mean_365d``) with :data:`LIMIT_COLUMNS`
    appended. ``debtors``: the debtors table, for ``credit_limit``, ``annual_turnover`` and
    ``net_worth`` (None or absent columns: unknown); ``has_history`` when ``scored`` has it (a prospect
    follows ``prospect_limit``). ``currency``: the reporting currency, whose step
    the limits are rounded to (:func:`round_step`). ``banded`` False: a run without a PD model, the
    bands are not read (:func:`recommend_limits` without a band: the variants empty)."""
    inputs = pd.DataFrame(
        {
            "in_default": scored["in_default"],
            "invoiced": _column(scored, f"invoice_amount_{policy.volume_window_days}d"),
            "terms_days": _column(scored, "payment_terms_mean_365d"),
            "tenure_days": _column(scored, INVOICE_TENURE),
        },
        index=scored.index,
    )
    if banded:
        inputs.insert(0, "band", scored["band"])
    if HISTORY in scored:  # False: never invoiced (pipelines.scoring.score.history_mask)
        inputs["has_history"] = scored[HISTORY].astype("boolean")
    attrs = ["credit_limit", "annual_turnover", "net_worth"]
    if debtors is not None and len(debtors) and any(c in debtors.columns for c in attrs):
        pos = _positions(scored["debtor_id"], debtors["debtor_id"])  # debtor_id is unique (data contract)
        for col in attrs:
            if col in debtors.columns:
                values = _column(debtors, col)
                inputs[col] = np.where(pos >= 0, values[np.maximum(pos, 0)], np.nan)
    limits = recommend_limits(inputs, policy, currency)
    out = scored.drop(columns=[c for c in LIMIT_COLUMNS if c in scored.columns])
    return pd.concat([out, limits], axis=1)


def review_limits(
    scored: pd.DataFrame, previous: pd.DataFrame | None, policy: CreditPolicyConfig
) -> pd.DataFrame:
    """``scored`` (with :data:`LIMIT_COLUMNS`, :func:`add_credit_limits`) where the previous run's
    recommendation holds (``credit.review.keep_within``): every variant of the previous run's scores
    (``previous``: ``debtor_id``, ``band``, ``in_default``, ``credit_limit_<variant>``) replaces
    tonight's when the debtor is in the same band and live on both nights, both recommendations are
    positive, tonight's is within ``keep_within`` of the previous one (previous / (1 + k) <= new <=
    previous x (1 + k)), no cap set tonight's below the previous one, and the debtor is not over its
    current limit (``open_balance`` > ``credit_limit_current`` > 0) with a lower limit tonight. The
    rule then reads "the previous run's limit kept". Without a previous run, a review or limits: as is.
    The previous run's recommendation may itself be a kept one: the limit moves when the computed one
    leaves the band around the limit last set, not the one computed last month."""
    k = policy.review.keep_within
    need = {"debtor_id", "band", "in_default", "credit_limit_recommended"}
    if (
        k is None
        or previous is None
        or not need <= set(previous.columns)
        or "credit_limit_rule" not in scored
    ):
        return scored
    pos = _positions(scored["debtor_id"], previous["debtor_id"])
    found = pos >= 0
    at = np.maximum(pos, 0)

    def before(col: str) -> np.ndarray:
        if col not in previous.columns:
            return np.full(len(scored), np.nan)
        values = _column(previous, col)
        return np.where(found, values[at], np.nan)

    old = before("credit_limit_recommended")
    new = _column(scored, "credit_limit_recommended")
    band_then = previous["band"].astype("string").to_numpy(dtype=object, na_value=None)[at]
    same_band = found & (scored["band"].astype("string").to_numpy(dtype=object, na_value=None) == band_then)
    live_then = found & ~previous["in_default"].astype("boolean").fillna(True).to_numpy(dtype=bool)[at]
    live = ~scored["in_default"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        near = (old > 0) & (new > 0) & (new <= old * (1 + k)) & (new >= old / (1 + k))
    rule = scored["credit_limit_rule"].astype("string").fillna("")
    band_rule = rule.str.startswith("band ").to_numpy(dtype=bool)
    capped = rule.str.contains("capped at", regex=False).to_numpy(dtype=bool)
    exposure = np.nan_to_num(_column(scored, "open_balance"), nan=0.0)
    current = np.nan_to_num(_column(scored, "credit_limit_current"), nan=0.0)
    over = (current > 0) & (exposure > current)
    keep = same_band & live_then & live & near & band_rule
    keep &= ~(capped & (old > new)) & ~(over & (new < old))
    if not keep.any():
        return scored
    out = scored.copy()
    for variant in VARIANTS:
        col = f"credit_limit_{variant}"
        then = before(col)
        held = keep & ~np.isnan(then)
        out[col] = np.where(held, then, _column(out, col))
    texts = (
        list(out["credit_limit_rule"].cat.categories) if hasattr(out["credit_limit_rule"], "cat") else None
    )
    kept_text = _rule_texts(policy)[-1]
    if texts is not None and kept_text not in texts:  # rules of another policy's texts
        texts.append(kept_text)
    codes = out["credit_limit_rule"].astype("string").mask(pd.Series(keep, index=out.index), kept_text)
    out["credit_limit_rule"] = pd.Categorical(codes, categories=texts) if texts else codes
    return out


def credit_limits_table(scored: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    """The rows of ``credit_limits.csv``: one per debtor, largest exposure first, with the currency
    of every amount."""
    cols = [
        "as_of",
        "debtor_id",
        "name",
        "segment",
        "band",
        "pd",
        "in_default",
        "currency",
        "exposure",
        *LIMIT_COLUMNS,
    ]
    frame = scored.rename(columns={"open_balance": "exposure"})
    if HISTORY in frame:  # a debtor never invoiced: its band and PD have no history behind them (none shown)
        never = ~frame[HISTORY].astype("boolean").fillna(True).to_numpy(dtype=bool)
        if "in_default" in frame:  # an event can put a debtor in default before its first invoice
            never &= ~frame["in_default"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if never.any():
            frame = frame.assign(
                band=frame["band"].astype("string").mask(never),
                pd=frame["pd"].astype("float64").mask(never),
            )
    frame = frame[[c for c in cols if c in frame.columns]]
    if not frame["debtor_id"].is_monotonic_increasing:  # the nightly's scores already are
        frame = frame.sort_values("debtor_id", kind="stable")
    # a stable sort on exposure alone keeps debtor_id order among equal exposures (and NaN last)
    exposure = frame["exposure"].to_numpy(dtype="float64", na_value=np.nan) if "exposure" in frame else None
    order = np.arange(len(frame)) if exposure is None else np.argsort(-exposure, kind="stable")
    out = frame.iloc[order].reset_index(drop=True)
    out.insert(
        out.columns.get_loc("in_default") + 1 if "in_default" in out else len(out.columns),
        "currency",
        pd.Series(currency or "", index=out.index, dtype="string"),
    )
    out["credit_limit_rule"] = out["credit_limit_rule"].astype("string")
    from pipelines.adapters.exports import AMOUNTS
    from pipelines.ingest.decimals import shown_places

    # amounts at the currency's decimals (before session 26: invoiced_per_month 494970.725618 in the CSV;
    # before session 29 a JPY book's 1988036.49 yen)
    places = shown_places(currency)
    return out.round({c: places for c in out.columns if c in AMOUNTS})


CREDIT_LIMITS_TITLE = (
    "Credit limits: need (recent monthly invoiced volume x payment terms) x a factor per risk band, capped "
    "by turnover and net worth when known, 0 in default. A rule, not a model: see docs/credit_limits.md"
)


def write_credit_limits(
    scored: pd.DataFrame,
    stage: Path,
    as_of: datetime,
    currency: str | None,
    xlsx_rows: int,
    cuts: dict[str, dict[str, int]] | None = None,
) -> dict[str, Path]:
    """``credit_limits.csv`` (every debtor, largest exposure first, with a ``currency`` column) and
    ``credit_limits.xlsx`` (the top ``xlsx_rows``, human headers with the currency, an "about"
    sheet); nothing when ``scored`` carries no limits."""
    from pipelines.adapters.exports import AMOUNTS, headers, write_csv, write_xlsx
    from pipelines.ingest.decimals import shown_places

    if "credit_limit_recommended" not in scored.columns:
        return {}
    table = credit_limits_table(scored, currency)
    shown = (
        f"This workbook holds the {xlsx_rows:,} largest exposures; credit_limits.csv holds all."
        if len(table) > xlsx_rows
        else "All debtors are in this workbook."
    )
    note = f"{CREDIT_LIMITS_TITLE}. As of {as_of.date()}: {counted(len(table), 'debtor')}. {amounts_in(currency)} {shown}"
    return {
        "credit_limits.csv": write_csv(table, stage / "credit_limits.csv"),
        "credit_limits.xlsx": write_xlsx(
            table.head(xlsx_rows).drop(columns="currency"),
            stage / "credit_limits.xlsx",
            "credit limits",
            as_of,
            note=note,
            labels=headers(list(table.columns), currency),
            # every amount summed, as in the queues (the volume, the need and two of the limits had no total)
            totals=tuple(c for c in table.columns if c in AMOUNTS),
            cuts=cuts,
            places=shown_places(currency),
        ),
    }
