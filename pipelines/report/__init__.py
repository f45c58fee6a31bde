"""``report.html``: a self-contained page for credit analysts (no network needed to open it).

It shows the watchlist (sortable, filterable), yesterday-vs-today changes, the PD distribution,
the model's calibration, the drift table, the input feed (rows quarantined per table and the feed
checks) and PD waterfalls of the riskiest flagged debtors (from the average debtor's PD to the
debtor's, one step per reason group, in PD points). With a :class:`pipelines.report.portfolio.PortfolioView`
it adds the portfolio sections (DSO, aging, expected loss by band and segment, the PD distribution
across runs, the cash forecast) and an expandable debtor page under the highest-PD watchlist rows
(PD and band history, open invoices with their predicted payment dates, limit, reasons). Amounts
carry their currency; the layout works from 420 px wide: below 640 px every table is one card per row ("label: value"), none scrolls sideways. Figures are inline SVG (matplotlib); the only
script is inline. Text from the data is HTML-escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from features.catalog import feature_words
from pipelines.config.nightly import NightlyConfig
from pipelines.feed_checks import check_words, format_figure
from pipelines.report.plots import calibration_svg, pd_distribution_svg, pd_waterfall_svg
from pipelines.report.portfolio import PortfolioView, debtor_pages, portfolio_context
from pipelines.scoring.ids import in_ids
from pipelines.scoring.watchlist import (
    DEFAULT_BAND,
    NO_BAND_WORDS,
    NO_PD_TRIGGERS,
    PDLESS_ONLY,
    TRIGGERS,
    rank_pool,
)
from pipelines.words import (
    NO_CURRENCY_CODE,
    code_words,
    counted,
    metric_figure,
    metric_words,
    reason_words,
    triggers_words,
)

__all__ = ["Waterfall", "changes_summary", "money", "render_report"]

_TEMPLATE_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Waterfall:
    """One per-debtor explanation: its reasons and its steps in PD (``models.reasons.pd_waterfall``:
    ``label``, ``pd_before``, ``pd_after``, ``pd_points``)."""

    debtor_id: str
    name: str
    pd: float
    band: str
    reasons: list[str]
    steps: pd.DataFrame


MOVER_MIN_CHANGE = 0.0001
"""The smallest PD rise the report lists among the largest increases: 0.01 percentage points, the
table's precision (before session 34 it listed rises shown as "+0.00 pp": 11 of 24 rows on a 300-debtor
book)."""


def _migration_rule(cfg: NightlyConfig) -> str:
    """Which band moves the watchlist's migration trigger counts, in words ("" when it is off): the changes
    section's "moved to a worse band" counts every worse move, the trigger only those landing in its
    ``min_band`` or worse (s40-review: "Moved to a worse band: 12" beside "41 moved to a worse band")."""
    m = cfg.triggers.migration
    if not m.enabled:
        return ""
    notches = f", by {m.min_notches} bands or more" if m.min_notches > 1 else ""
    return f"band {m.min_band} or worse{notches}"


def changes_summary(
    scored: pd.DataFrame, previous: pd.DataFrame | None, cfg: NightlyConfig, top: int
) -> dict[str, Any]:
    """Yesterday-vs-today figures from :func:`pipelines.scoring.watchlist.compare_with_previous` output.

    Returns counts (``new``, ``gone``, ``worse``, ``better``), the band migration matrix as HTML
    and the ``top`` largest PD increases of at least :data:`MOVER_MIN_CHANGE` among the debtors not in
    default today (``risen_unlisted``: those whose PD rose by less; ``defaulted``: the ids of the debtors
    that went into default since the previous run, whose PD is 1 by convention).
    """
    if previous is None or previous.empty:
        return {"has_previous": False}
    order = [b.name for b in cfg.bands] + [DEFAULT_BAND]
    rank = {name: i for i, name in enumerate(order)}
    both = scored[scored["in_previous"].astype(bool)]
    band_prev = previous.set_index("debtor_id")["band"].reindex(both["debtor_id"]).to_numpy()
    now_rank = both["band"].map(rank).to_numpy(dtype="float64")
    prev_rank = pd.Series(band_prev).map(rank).to_numpy(dtype="float64")
    # a live debtor never invoiced has no band (scores' band empty, pipelines.scoring.score.score_rows): its own
    # row and column, named as the summary names it (s40-review: before, 113 of them sat in band A here)
    prev_words = pd.Series(band_prev, dtype="string").fillna(NO_BAND_WORDS).to_numpy(dtype=object)
    now_words = both["band"].astype("string").fillna(NO_BAND_WORDS).to_numpy(dtype=object)
    if (prev_words == NO_BAND_WORDS).any() or (now_words == NO_BAND_WORDS).any():
        order = [*order, NO_BAND_WORDS]
    matrix = pd.crosstab(
        pd.Categorical(prev_words, categories=order),
        pd.Categorical(now_words, categories=order),
        dropna=False,
    )
    matrix.index.name, matrix.columns.name = "previous", "today"
    # a debtor that went into default since the last run has PD 1 by convention: it topped the largest
    # increases ("0.55% -> 100.00%, +99.45 pp") as if the model had said so (s35-walk); it is named apart
    defaulted = both["in_default"].astype(bool).to_numpy() & (prev_words != DEFAULT_BAND)
    live = both[~defaulted]
    rose = live["pd_change"] > 0
    shown = live["pd_change"] >= MOVER_MIN_CHANGE
    movers = live[shown].nlargest(top, "pd_change")
    movers = movers.assign(
        # a debtor without a name (a book keyed by customer name: no name column) printed "None" (s43-walk)
        name=movers["name"].astype("string").fillna("") if "name" in movers else "",
        band_prev=movers["band_prev"].astype("string").fillna(NO_BAND_WORDS),
        band=movers["band"].astype("string").fillna(NO_BAND_WORDS),
    )
    return {
        "has_previous": True,
        "new": int((~scored["in_previous"].astype(bool)).sum()),
        "gone": int((~in_ids(previous["debtor_id"], scored["debtor_id"])).sum()),
        "worse": int((now_rank > prev_rank).sum()),
        "better": int((now_rank < prev_rank).sum()),
        "migration_rule": _migration_rule(cfg),
        "matrix_html": matrix.to_html(table_id="migration-matrix", border=0),
        "movers": movers[["debtor_id", "name", "pd_prev", "pd", "pd_change", "band_prev", "band"]].to_dict(
            "records"
        ),
        "risen_unlisted": int((rose & ~shown).sum()),
        "defaulted": sorted(both.loc[defaulted, "debtor_id"].astype(str)),
    }


def previous_versions(previous: pd.DataFrame | None, model: dict[str, Any]) -> str:
    """The model version(s) that scored the previous run, when not tonight's ("1"; "" when the same or
    not known). The night a new champion first scores, its PD changes against the old model's PDs are
    partly the model's (s39-walk: a quarterly retrain's first night said nothing of it)."""
    if previous is None or "model_version" not in previous.columns:
        return ""
    before = sorted(set(previous["model_version"].dropna().astype(str)))
    return ", ".join(before) if before and before != [str(model.get("version"))] else ""


NBSP = "\u00a0"  # no-break space


def money(value: Any, currency: str | None, digits: int = 0) -> str:
    """An amount with thousands separators and its currency code ("12,345 EUR"); "" when missing."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return ""
    if f != f:
        return ""
    text = f"{f:,.{digits}f}"
    return f"{text} {currency}" if currency else text


def _watchlist_rows(watchlist: pd.DataFrame, reason_columns: list[str], limit: int) -> list[dict[str, Any]]:
    top = watchlist.head(limit).reset_index(drop=True)
    rows = top.to_dict("records")
    reasons = top.reindex(columns=reason_columns).fillna("").astype(str).to_numpy()
    for i, row in enumerate(rows):
        notes = [row.get("limit_note"), row.get("news_note")]  # the PD-free triggers' sentences first
        row["reasons"] = [n for n in notes if isinstance(n, str) and n] + [r for r in reasons[i] if r]
        row["anchor"] = f"d{i}"
        row["band_prev"] = "" if pd.isna(row.get("band_prev")) else row["band_prev"]
        model = row.get("model_band")  # an analyst's --band: "C (model B)", as the watchlist says it
        row["band_shown"] = (
            f"{row['band']} (model {model})"
            if isinstance(model, str) and model and model != row.get("band")
            else row.get("band")
        )
        row["name"] = "" if pd.isna(row.get("name")) else row["name"]
    return rows


def shown_triggers(cfg: NightlyConfig, no_model: bool) -> list[str]:
    """The triggers the report counts and filters by: without a PD model those that read no PD
    (:data:`NO_PD_TRIGGERS`); with one every trigger but ``dpd_bucket`` and ``event`` unless their
    ``with_pd_model`` is on."""
    if no_model:
        return [t for t in TRIGGERS if t in NO_PD_TRIGGERS]
    return [t for t in TRIGGERS if t not in PDLESS_ONLY or getattr(cfg.triggers, t).with_pd_model]


COUNT_METRICS = ("_rows", "_defaults", "_snapshots")


def metric_text(key: str, value: float) -> str:
    """A model metric as the report prints it: counts (``test_rows``, ``test_defaults``,
    ``test_snapshots``) as integers with thousands separators, rates in % and every other figure with
    4 decimals (:func:`pipelines.words.metric_figure`, as ``ews train`` prints them)."""
    v = float(value)
    if key.endswith(COUNT_METRICS) and np.isfinite(v):
        return f"{round(v):,}"
    return metric_figure(key, v)


# the other models whose test figures a version logs beside its own (pipelines.flows.train), by prefix
COMPARED = (("lightgbm_", "LightGBM", "lightgbm"), ("baseline_", "scorecard", "scorecard"))
CI = ("_ci_low", "_ci_high")


def metrics_table(model: dict[str, Any]) -> dict[str, Any]:
    """The champion's test figures with their 95 % debtor intervals, beside the figures of the models
    it was chosen against (LightGBM, the scorecard baseline: ``model["compared"]``), one row per
    figure; ``note`` says why there is no comparison (a roll-rate model is compared with the book's
    default rate). Before session 25 the report listed the champion's figures alone, each interval
    bound on a row of its own."""
    metrics, compared = model.get("metrics", {}), model.get("compared") or {}
    # a small book's LightGBM fitted on every labelled month-end logs the roll-rate model's figures
    # as its baseline_test_* (no scorecard on that path; ``baseline``, set by the nightly)
    rollrate = model.get("baseline") == "rollrate"
    named = [
        ("baseline_", "roll-rate model", "rollrate")
        if rollrate and prefix == "baseline_"
        else (prefix, label, kind)
        for prefix, label, kind in COMPARED
    ]
    columns = [
        (prefix, label)
        for prefix, label, kind in named
        if kind != model.get("kind") and any(k.startswith(prefix) for k in compared)
    ]
    rows = []
    defaults = metrics.get("test_defaults")
    for key, value in metrics.items():
        if key.endswith(CI):
            continue
        low, high = metrics.get(f"{key}{CI[0]}"), metrics.get(f"{key}{CI[1]}")
        rows.append(
            {
                "name": key,
                "label": metric_words(key),  # the template's text (it printed the key before session 28)
                "value": _of_few(key, value, defaults),
                "interval": ""
                if low is None or high is None
                else f"{metric_figure(key, low)}..{metric_figure(key, high)}",
                "others": [
                    _of_few(key, compared[f"{prefix}{key}"], defaults) if f"{prefix}{key}" in compared else ""
                    for prefix, _ in columns
                ],
            }
        )
    note = None
    if not columns:
        note = (
            "A roll-rate model is compared with the book's default rate (log-loss and AUC differences: "
            "run ews models history)."
            if model.get("kind") == "rollrate"
            else "This version logged no other model's test figures to compare with."
        )
    return {
        "columns": [label for _, label in columns],
        "rows": rows,
        "note": note,
        "warning": gate_warning(model),
        "window": test_window_words(model.get("test_as_of"), metrics),
        "comparison": gate_comparison_words(model),
    }


def gate_comparison_words(model: dict[str, Any]) -> str | None:
    """How this version's gate compared it with the champion it replaced and what that comparison was
    worth (``model["gate_comparison"]``: its ``ews.gate.comparison`` tag, session 42), or None (a first
    model, a version promoted by hand without a gate, or one trained before session 42). On small books'
    retrains that comparison called 14 of 25 retrains worse that were not, and missed 3 of 11 that were
    (BENCHMARKS.md "Session 42 (s42-gate)"); the report showed the champion's figures without a word of it."""
    said = str(model.get("gate_comparison") or "").strip()
    return f"Its gate at training: {said}" if said else None


def test_window_words(span: str | None, metrics: dict[str, Any]) -> str | None:
    """Which month-ends the figures above were measured on (the version's ``ews.test_as_of`` tag,
    ``first..last``), with the rows and defaults they hold; None without the tag. s41-calib measured
    that a small book's first model is judged on a short, recent window (unseen s293 / 150 debtors:
    one quarter, the book's worst, 2.19 % defaulted against 0.62-1.34 % in the others) and the report
    named neither its dates nor its length."""
    if not span:
        return None
    first, _, last = str(span).partition("..")
    try:
        start, end = pd.Timestamp(first), pd.Timestamp(last or first)
    except ValueError:
        return None
    if start > end:
        return None
    counts = [
        f"{metric_text(k, metrics[k])} {word}"
        for k, word in (("test_rows", "rows"), ("test_defaults", "defaults"))
        if k in metrics and np.isfinite(float(metrics[k]))
    ]
    if start == end:
        where = f"the month-end {start.date()}"
    else:
        ends = len(pd.date_range(start, end, freq="ME"))
        where = f"{ends} month-ends, {start.date()} to {end.date()}"
    return f"Test window: {where}" + (f" ({', '.join(counts)})" if counts else "") + "."


FEW_DEFAULTS = 30  # split.min_defaults' default: below it a capture share is a handful of debtors


def _of_few(key: str, value: float, defaults: float | None) -> str:
    """:func:`metric_text`, and for a capture share on a test window of fewer than :data:`FEW_DEFAULTS`
    defaults the count it is a share of: a 105-debtor book's roll-rate v1 read "capture in top 5 %:
    60.00%" on 5 defaults (3 of them; s40-small)."""
    text = metric_text(key, value)
    if "_capture_" not in f"_{key}" or defaults is None or not np.isfinite(float(value)):
        return text
    n = round(float(defaults))
    if not 0 < n < FEW_DEFAULTS:
        return text
    return f"{text} ({round(float(value) * n)} of {n} defaults)"


def gate_warning(model: dict[str, Any]) -> str | None:
    """What the champion's gate warned of at training, in plain words (``model["gate_reasons"]``: its
    ``ews.gate.reasons`` tag), or None. A book's first model is promoted whatever its WARN checks say
    (without a champion nothing is scored): a 150-debtor book's roll-rate v1 had mean PD 0.43 % against
    2.19 % defaulted on its test window, and the report showed the two figures without a word (s40-small)."""
    from models.evaluate import _plain

    reasons = [r.strip() for r in str(model.get("gate_reasons") or "").split("; ")]
    metrics = model.get("metrics", {})
    figures = {k: metrics[f"test_{k}"] for k in ("auc", "mean_pd", "default_rate") if f"test_{k}" in metrics}
    manual = model.get("promotion") or {}
    failed = [_plain(r, figures) for r in reasons if r.startswith("FAIL ")]
    if model.get("gate") == "failed" and manual.get("at") and failed:
        # promoted by hand over its gate (`ews models promote N --reason`): the report said nothing of the
        # failed check nor of who overrode it (s43-walk: a roll-rate v2 refused for its mean PD, promoted)
        return (
            f"Promoted by hand over its failed gate by {manual.get('by') or 'someone'} on "
            f"{str(manual['at'])[:10]} (ews models promote): {'; '.join(failed)}. Reason given: "
            f"\u201c{manual.get('reason') or ''}\u201d (every check: ews models history --verbose)."
        )
    warned = [_plain(r, figures) for r in reasons if r.startswith("WARN ")]
    if not warned:
        return None
    return (
        f"Promoted with a warning at training, as the first model of this book: {'; '.join(warned)}. "
        "Its PDs are published as they are; the next training on more months is judged again "
        "(every check: ews models history --verbose)."
    )


def drift_words(variable: str) -> str:
    """A drift table's variable in words: the model's ``score`` (the PDs of the debtors not in default,
    ``pipelines.flows.nightly.drift``) or a feature (:func:`features.catalog.feature_words`)."""
    return "PD of the debtors not in default" if variable == "score" else feature_words(variable)


def render_report(
    *,
    as_of: str,
    model: dict[str, Any],
    config_hash: str,
    scored: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_as_of: str | None,
    watchlist: pd.DataFrame,
    reason_columns: list[str],
    counts: dict[str, Any],
    drift: pd.DataFrame,
    calibration: pd.DataFrame | None,
    waterfalls: list[Waterfall],
    cfg: NightlyConfig,
    feed: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    portfolio: PortfolioView | None = None,
    currency: str | None = None,
    no_model: str | None = None,
) -> str:
    """The report as one HTML string. ``no_model``: the notice of a run without a PD model
    (:mod:`pipelines.scoring.nomodel`; its PD sections are left out). ``model``: name, version, alias, metrics (dict of floats).

    ``portfolio``: :func:`pipelines.report.portfolio.build_portfolio` (None: no portfolio sections
    and no debtor pages); ``currency``: the currency of every amount (default: the portfolio's).

    ``overrides``: :func:`pipelines.scoring.watch_state.override_summary` (None: no section).
    ``feed``: the manifest's ``feed`` section (feed checks); ``inputs``: rows in / accepted /
    quarantined per table (the manifest's ``inputs``)."""
    env = Environment(loader=FileSystemLoader(_TEMPLATE_DIR), autoescape=select_autoescape(["html", "j2"]))
    currency = currency or (portfolio.currency if portfolio is not None else None)
    # an amount and its currency joined by a no-break space: at 420 px the watchlist's cards and the stacked
    # tables broke "2,179 EUR" into "2,179" / "EUR" (s31-ux); the page's text, not its CSS, keeps them together
    env.filters["money"] = lambda v, digits=0: money(v, currency, digits).replace(" ", NBSP)
    from pipelines.ingest.decimals import shown_places

    # an amount to the unit (a debtor page's open invoices): the currency's decimals, JPY none, KWD three
    # (before session 29 two for every currency: "700.00 JPY", a dinar's 12.345 shown 12.35)
    env.filters["money_exact"] = lambda v: money(v, currency, shown_places(currency)).replace(" ", NBSP)
    env.filters["count"] = lambda v: f"{int(v):,}"
    env.filters["counted"] = counted  # "1 override", "0 debtors" (the overrides section said "debtor(s)")
    # codes in words (pipelines.words): "Among the highest PDs", "Under review" (they read "rank", "under_review")
    env.filters["trigger_words"] = triggers_words
    env.filters["reason_words"] = reason_words
    env.filters["status_words"] = lambda v: code_words(v, "status")
    template = env.get_template("template.html.j2")
    # the PD distribution as the band counts (counts.bands): debtors with a history, no prospect (rank_pool)
    live = scored.loc[rank_pool(scored), "pd"].to_numpy(dtype="float64")
    changes = changes_summary(scored, previous, cfg, cfg.report.top_changes)
    changes["previous_as_of"] = previous_as_of
    changes["previous_versions"] = previous_versions(previous, model)
    changes["flagged_prev"] = counts.get("flagged_previous", 0)
    # the first run of a book's first model after runs without one (pipelines.scoring.nomodel): nothing to compare
    changes["previous_no_model"] = bool(
        not no_model and previous is not None and len(previous) and previous["pd"].isna().all()
    )
    rows = _watchlist_rows(watchlist, reason_columns, cfg.report.max_watchlist_rows)
    anchors = {r["debtor_id"]: r["anchor"] for r in rows}
    pages: dict[str, Any] = {}
    port_ctx = None
    if portfolio is not None:
        band_names = [b.name for b in cfg.bands] + [DEFAULT_BAND]
        port_ctx = portfolio_context(portfolio, band_names, trend=not no_model)
        detail_ids = [r["debtor_id"] for r in rows[: cfg.report.debtor_details]]
        pages = debtor_pages(portfolio, detail_ids)
    for r in rows:
        r["page"] = pages.get(r["debtor_id"])
    wf = [
        {
            "debtor_id": w.debtor_id,
            "anchor": anchors.get(w.debtor_id, f"w{i}"),
            "name": w.name,
            "pd": w.pd,
            "band": w.band,
            "reasons": w.reasons,
            "svg": pd_waterfall_svg(w.steps),
        }
        for i, w in enumerate(waterfalls)
    ]
    return folded(
        stacked(
            template.render(
                as_of=as_of,
                model=model,
                metrics=metrics_table(model),
                config_hash=config_hash,
                counts=counts,
                band_names=[b.name for b in cfg.bands],
                trigger_names=shown_triggers(cfg, bool(no_model)),
                watchlist=rows,
                watchlist_total=len(watchlist),
                waterfall_ids={w["debtor_id"] for w in wf if w["debtor_id"] in anchors},
                waterfalls=wf,
                changes=changes,
                pd_svg=None
                if no_model
                else pd_distribution_svg(live, [(b.name, b.min_pd) for b in cfg.bands]),
                pd_svg_narrow=None
                if no_model
                else pd_distribution_svg(live, [(b.name, b.min_pd) for b in cfg.bands], narrow=True),
                calibration_svg=calibration_svg(calibration)
                if calibration is not None and len(calibration)
                else None,
                drift=[{**r, "words": drift_words(str(r["variable"]))} for r in drift.to_dict("records")],
                drift_limits={"warning": cfg.drift.warning, "alert": cfg.drift.alert},
                feed=_feed_view(feed),
                inputs=inputs or {},
                overrides=overrides,
                portfolio=port_ctx,
                currency=currency,
                no_currency=NO_CURRENCY_CODE,  # the workbooks' sentence (pipelines.words), one text
                history_runs=cfg.report.history_runs,
                no_model=no_model,
            )
        )
    )


class _StackLabels(HTMLParser):
    """Finds, in one parse of a page, the ``<td>`` start tags of every ``class="stack"`` table that
    need a ``data-label``: the header of the cell's column, counted with ``colspan`` (a header or a
    cell spanning n columns takes n). Tables nest: a table inside a cell is its own table and its
    cells do not count in the outer row. ``found``: (offset of the tag in the page, its text, label)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        # getpos() counts lines by "\n" alone (str.splitlines also breaks at \r, \x0c, \x85, U+2028...: a
        # debtor's name holding one shifted every later offset and those cells lost their labels)
        self.starts = [0]
        for line in page.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.tables: list[dict[str, Any]] = []  # innermost last
        self.found: list[tuple[int, str, str]] = []
        self.header: list[str] | None = None  # the text of the <th> being read

    @staticmethod
    def _span(attrs: list[tuple[str, str | None]]) -> int:
        value = dict(attrs).get("colspan") or "1"
        return int(value) if value.strip().isdigit() and int(value) > 0 else 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            classes = (dict(attrs).get("class") or "").split()
            self.tables.append({"stack": "stack" in classes, "part": "", "labels": [], "row": [], "col": 0})
            return
        if not self.tables:
            return
        t = self.tables[-1]
        if tag in ("thead", "tbody", "tfoot"):
            t["part"] = tag
        elif tag == "tr":
            t["row"], t["col"] = [], 0
        elif tag == "th" and t["part"] == "thead":
            self.header = []
            t["span"] = self._span(attrs)
        elif tag in ("td", "th"):
            span, at = self._span(attrs), t["col"]
            t["col"] += span
            known = dict(attrs)
            if tag == "td" and t["stack"] and t["labels"] and span == 1 and "data-label" not in known:
                label = t["labels"][at] if at < len(t["labels"]) else ""
                if label:
                    line, column = self.getpos()
                    self.found.append((self.starts[line - 1] + column, self.get_starttag_text() or "", label))

    def handle_data(self, data: str) -> None:
        if self.header is not None:
            self.header.append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self.tables:
            return
        t = self.tables[-1]
        if tag == "th" and self.header is not None:
            text = " ".join("".join(self.header).split())
            t["row"].extend([text] * t.pop("span", 1))
            self.header = None
        elif tag == "tr" and t["part"] == "thead":
            t["labels"] = t["row"]  # the last header row names the columns
        elif tag == "thead":
            t["part"] = ""
        elif tag == "table":
            self.tables.pop()


# the report's tables folded on a phone (at most 640 px wide) when they hold at least FOLD_ROWS rows: the
# summary's counts stay open, the watchlist shows its first WATCHLIST_ROWS debtors (the page's script)
FOLD_ROWS = 6
NEVER_FOLDED = frozenset({"watchlist-table", "band-counts", "trigger-counts"})
# tables that stand side by side under one heading: their folded summary says which is which (s38-walk: the
# expected loss's two tables read "Show the table (7 rows)" twice on a phone)
FOLD_WHAT = {"el-band-table": "the table by band", "el-segment-table": "the table by segment"}
_TABLE_WITH_ID = re.compile(r'<table\b[^>]*\bid="([^"]+)"[^>]*>.*?</table>', re.S)


def folded(html: str, min_rows: int = FOLD_ROWS) -> str:
    """Every table with an id and at least ``min_rows`` body rows (but :data:`NEVER_FOLDED`) inside a
    ``<details class="fold" open>`` whose summary says what it holds ("Show the table (24 rows)"). Open:
    on a desktop nothing changes (the summary is hidden there); the page's script closes them when the
    window is at most 640 px wide, so a phone reader scrolls past one line per table instead of its cards
    and opens it with one tap (session 28: report.html was 22,781 px long at 420 px, the README walk's).
    A table nested in another (a debtor page's) has no id and is left as it is."""
    out, at = [], 0
    for match in _TABLE_WITH_ID.finditer(html):
        table, table_id = match.group(0), match.group(1)
        if table_id in NEVER_FOLDED or "<table" in table[6:]:
            continue
        body = table.split("<tbody", 1)[1] if "<tbody" in table else table
        rows = body.count("<tr")
        if rows < min_rows:
            continue
        out.append(html[at : match.start()])
        out.append(
            f'<details class="fold" open><summary>Show {FOLD_WHAT.get(table_id, "the table")} ({rows:,} rows)'
            f"</summary>{table}</details>"
        )
        at = match.end()
    out.append(html[at:])
    return "".join(out)


def stacked(html: str) -> str:
    """Give every cell of a ``class="stack"`` table the header of its column as ``data-label``, which the
    page shows as "label: value" when the table is stacked into one card per row (at most 640 px wide: the
    tables scrolled sideways at 420 px). Cells that carry a label already keep it; a table without a
    ``<thead>`` is left as it is; a cell spanning columns (``colspan`` > 1) gets none.

    The page is parsed (:class:`_StackLabels`), not matched with a regular expression: before session 27
    a table nested in a cell cut its outer table at the inner ``</table>``, and a ``colspan`` cell
    shifted every label after it. Only the labelled ``<td>`` tags change; every other byte is kept."""
    parser = _StackLabels(html)
    parser.feed(html)
    parser.close()
    out, at = [], 0
    for offset, text, label in parser.found:
        if html.startswith(text, offset) and text.startswith("<td"):
            out.append(html[at:offset])
            out.append(f'<td data-label="{escape(label, quote=True)}"{text[3:]}')
            at = offset + len(text)
    out.append(html[at:])
    return "".join(out)


def _feed_view(feed: dict[str, Any] | None) -> dict[str, Any] | None:
    """The feed-check rows with their figures formatted for the page."""
    if feed is None:
        return None
    rows = [
        {
            **c,
            "value_text": format_figure(c["check"], c["value"]),
            "ref_text": format_figure(c["check"], c["reference"]),
            "words": check_words(c["check"]),  # "Rows in the payments file", not rows.payments
        }
        for c in feed.get("checks", [])
    ]
    rows.sort(key=lambda r: r["status"] != "failed")  # failed checks first, otherwise in run order
    words = {r["check"]: r["words"] for r in rows if r["words"]["means"]}
    view = {**feed, "rows": rows, "words": list(words.values())}
    if feed.get("override"):  # "exposure vs the previous run ..." -> "Open balance vs the previous run ..."
        said = []
        for text in feed["override"].get("checks", []):
            code, vs, against = str(text).partition(" vs ")
            said.append(f"{check_words(code)['name']}{vs}{against}")
        view["override"] = {**feed["override"], "said": said}
    return view
