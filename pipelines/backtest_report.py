"""``backtest.html``: the backtest's figures, capture curves, per-month capture and lead times on one
self-contained page (inline SVG from matplotlib; no script, no network)."""

from __future__ import annotations

from html import escape
from typing import Any

import matplotlib
import numpy as np

from pipelines.report.plots import _SVG_RC, _svg
from pipelines.words import LIST_RULE_WORDS, counted, in_sentence

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "queue": "ews queue (its priority order)",
    "dpd": "days past due",
    "balance": "open balance",
    "oracle": "true PD x exposure (oracle)",
}


NO_MODEL_QUEUE = "ews queue without a PD model (days past due, then overdue)"
"""The queue's line in a replay without a PD model (``mode: no_pd_model``): its order is the days past due."""


def _labels(no_model: bool = False) -> dict[str, str]:
    return {**LABELS, "queue": NO_MODEL_QUEUE} if no_model else LABELS


def _curves_svg(curves: dict[str, list[float]], no_model: bool = False) -> str:
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(6, 4))
        share = np.asarray(curves["share"])
        for name, label in _labels(no_model).items():
            if curves.get(name):
                ax.plot(share * 100, np.asarray(curves[name]) * 100, label=label)
        ax.plot([0, 100], [0, 100], color="grey", linestyle=":", label="random")
        ax.axvline(20, color="grey", linewidth=0.6)
        ax.set_xlabel("share of the live queue worked, top first (%)")
        ax.set_ylabel("share of defaulted exposure caught (%)")
        ax.legend(loc="lower right", fontsize=8)
        return _svg(fig)


def _monthly_svg(months: list[dict[str, Any]], no_model: bool = False) -> str:
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(7, 3))
        rows = [m for m in months if m.get("horizon_observed")]
        x = np.arange(len(rows))
        for name, label in _labels(no_model).items():
            y = [m.get(f"{name}_capture_top20") for m in rows]
            if any(v is not None for v in y):
                ax.plot(
                    x, [np.nan if v is None else v * 100 for v in y], marker="o", markersize=3, label=label
                )
        ax.set_xticks(x, [m["as_of"] for m in rows], rotation=60, fontsize=7)
        ax.set_ylabel("capture in top 20 % (%)")
        if ax.get_legend_handles_labels()[0]:  # no month with its horizon observed: no line, no legend
            ax.legend(fontsize=7)
        return _svg(fig)


def _intervals_svg(given: dict[str, dict[str, Any]]) -> str:
    """The shares of :func:`pipelines.backtest.figure_intervals` (captures, precision, recall) as
    points with their 95 % intervals as error bars, a hollow point when too thin to judge."""
    from pipelines.backtest import LABELS as FIGURE_LABELS
    from pipelines.backtest import share_figures

    keys = [k for k in share_figures(given) if given[k]["value"] is not None]
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(keys), 2) + 0.9))
        for i, k in enumerate(reversed(keys)):
            e = given[k]
            v = 100 * e["value"]
            if e["low"] is not None and e["high"] is not None:
                lo, hi = 100 * e["low"], 100 * e["high"]
                ax.errorbar(v, i, xerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="none", ecolor="#4c72b0",
                            capsize=3)  # fmt: skip
            face = "white" if e["thin"] else "#4c72b0"
            ax.plot(v, i, "o", color="#4c72b0", markerfacecolor=face)
        ax.set_yticks(range(len(keys)), [FIGURE_LABELS.get(k, k).strip() for k in reversed(keys)], fontsize=7)
        ax.set_xlim(-2, 102)
        ax.set_xlabel("% (point and 95 % interval by debtor bootstrap; hollow: too thin to judge)")
        return _svg(fig)


def _lead_svg(lead_days: np.ndarray, band: dict[str, Any] | None = None) -> str:
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(6, 3))
        if band and band.get("low") is not None and band.get("high") is not None:
            ax.axvspan(
                band["low"], band["high"], color="#c44e52", alpha=0.15, label="95 % interval of the median"
            )
        if len(lead_days):
            ax.hist(
                lead_days,
                bins=np.arange(0, max(lead_days.max(), 30) + 31, 30),
                color="#4c72b0",
                edgecolor="white",
            )
            ax.axvline(
                float(np.median(lead_days)), color="#c44e52", label=f"median {np.median(lead_days):.0f} d"
            )
            ax.legend(fontsize=8)
        ax.set_xlabel("days from first flag (unbroken run) to default")
        ax.set_ylabel("defaults")
        return _svg(fig)


RULES = LIST_RULE_WORDS  # "Highest PDs alone", "Highest PDs + the other triggers"


def _values(rows: list[dict[str, Any]], key: str, scale: float = 100.0) -> list[float]:
    return [np.nan if r[key] is None else r[key] * scale for r in rows]


def _list_sizes_svg(rows: list[dict[str, Any]]) -> str:
    """Precision and recall (left axis) and the strict lead time (right axis) against the list's
    actual size, one line per rule."""
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        lead_ax = ax.twinx()
        for rule, words in RULES.items():
            label = in_sentence(words)
            mine = [r for r in rows if r["rule"] == rule and r["list_share"] is not None]
            if not mine:
                continue
            x = np.array([r["list_share"] for r in mine]) * 100
            style = "-" if rule == "rank" else "--"
            ax.plot(
                x, _values(mine, "precision"), style, marker="o", color="#4c72b0", label=f"precision, {label}"
            )
            ax.plot(x, _values(mine, "recall"), style, marker="s", color="#55a868", label=f"recall, {label}")
            lead_ax.plot(
                x, _values(mine, "lead_time_median_days", 1.0), style, marker="^", color="#c44e52",
                label=f"strict lead, {label}",
            )  # fmt: skip
        lead_ax.axhline(60, color="#c44e52", linewidth=0.6, linestyle=":")
        ax.set_xlabel("list size: flagged live debtors a month-end (% of the live debtors)")
        ax.set_ylabel("precision / recall (%)")
        lead_ax.set_ylabel("median strict lead (days)")
        handles = ax.get_legend_handles_labels()
        more = lead_ax.get_legend_handles_labels()
        if handles[0] or more[0]:
            ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=6, loc="upper left")
        return _svg(fig)


# the list-size table's columns: (key of backtest.json's list_sizes, header); shares shown in %
LIST_COLUMNS = (
    ("rule", "flagged"),
    ("top_share", "top share"),
    ("stay_top_share", "held while in the top"),
    ("list_share", "list size (share of live debtors)"),
    ("under_floor_share", "in the top share but under the PD floor (left off)"),
    ("list_share_max", "largest month"),
    ("flagged_per_month", "flagged a month-end"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("lead_time_median_days", "strict lead, median (days)"),
    ("lead_time_flagged_share", "flagged at the last month-end"),
)
# the per-month table's columns (keys of backtest.json's months)
MONTH_COLUMNS = (
    ("as_of", "month-end"),
    ("live", "live debtors"),
    ("flagged", "flagged"),
    ("defaults", "live debtors that defaulted within the horizon"),
    ("queue", "in the queue"),
    ("bad_balance", "bad balance in the queue"),
)


def _share(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _cell(value: Any, key: str, places: int = 2) -> str:
    """A table cell's text: shares in %, amounts at the currency's decimals, counts with separators."""
    if "share" in key or key.endswith(("_top20", "precision", "recall")):
        return _share(value)
    if key.endswith("_days") and value is not None:
        return f"{value:,.1f}"
    if key == "rule":  # "Highest PDs alone", not "rank"
        return RULES.get(str(value), _fmt(value))
    if key == "bad_balance" and value is not None:
        return f"{value:,.{places}f}"
    if key == "flagged_per_month" and value is not None:
        return f"{value:,.1f}"
    return _fmt(value)


def _table(table_id: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]], places: int = 2) -> str:
    """A table with a header row (``<thead>``): below 640 px each row is a card of "header: value"
    lines (class ``stack``, labels from ``pipelines.report.stacked``); the first column left, numbers right."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = "".join(
        "<tr>"
        + "".join(
            ("<td>" if i == 0 else "<td class='num'>") + escape(_cell(r.get(key), key, places)) + "</td>"
            for i, (key, _) in enumerate(columns)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table id='{table_id}' class='stack'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _floor_words(rows: list[dict[str, Any]]) -> str:
    """The rank trigger's PD floor in plain words: it, not only the top share, decides each list's size."""
    floor = next((r["min_pd"] for r in rows if r.get("min_pd") is not None), None)
    if floor is None:
        return ""
    return (
        f"<p id='pd-floor'>The rank trigger never flags a PD under {floor:.2%} (<code>triggers.rank.min_pd</code>): "
        "a list is smaller than its top share when PDs inside that share lie under this floor (the column "
        "'in the top share but under the PD floor'). Lower the floor to fill the list, raise it to keep "
        "low PDs off it.</p>"
    )


def _list_sizes_table(rows: list[dict[str, Any]]) -> str:
    return _table("list_sizes", list(LIST_COLUMNS), rows)


# each trigger on its own (backtest.json triggers): (key, header)
TRIGGER_COLUMNS = (
    ("trigger", "trigger"),
    ("fired", "fired (live debtor-months)"),
    ("fired_defaulted", "of which defaulted within the horizon"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("lead_time_first_fire_median_days", "first firing before the default, median (days)"),
    ("lead_time_first_fire_share", "defaults it fired on in the year before"),
    ("defaults", "defaults seen"),
)


def _triggers_table(triggers: dict[str, Any]) -> str:
    """Each trigger on its own, in words (``pipelines.words.TRIGGER_WORDS``) with its code."""
    from pipelines.words import TRIGGER_WORDS

    if not triggers:
        return ""
    rows = [
        {**t, "trigger": f"{TRIGGER_WORDS.get(name, name)} ({name})"}
        | {"lead_time_first_fire_median_days": t["lead_time_first_fire_median_days"]}
        for name, t in triggers.items()
    ]
    return (
        "<h2>Each trigger on its own</h2>\n<p id='trigger-words'>What each trigger fired on at the month-ends "
        "(before the list's holds), the share of those debtors that defaulted within the horizon (precision), "
        "the share of the defaults it fired on (recall) and how long before a default it first fired. The replay "
        "runs at month-ends: a debtor that crossed a days-past-due bucket and paid within the month fires in a "
        "nightly, not here.</p>\n" + _table("triggers", list(TRIGGER_COLUMNS), rows)
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_backtest(result: Any, note: str) -> str:
    """The page as one HTML string (text from the data escaped). It reads at 420 px without scrolling
    sideways (before session 27 it was 1,399 px wide at any width): the plots shrink to the window and,
    below 640 px, every table is one card per row ("header: value" lines)."""
    from pipelines.backtest import LABELS as FIGURE_LABELS
    from pipelines.backtest import QUEUE_MINUS_DPD, QUEUE_OVER_ORACLE, figure_text, interval_value
    from pipelines.ingest.decimals import money_places
    from pipelines.report import stacked

    f = result.figures
    currency = result.settings.get("currency")
    places = money_places(currency)
    intervals = getattr(result, "intervals", None) or {}
    given = intervals.get("figures", {})
    least = intervals.get("min_defaults", 0)
    after = {"dpd_capture_top20": QUEUE_MINUS_DPD, "oracle_capture_top20": QUEUE_OVER_ORACLE}
    listed = []
    for k, v in f.items():
        listed.append((k, figure_text(k, v, currency, places)))
        if after.get(k) in given:
            listed.append((after[k], interval_value(after[k], given[after[k]]["value"])))

    def span(k: str) -> str:
        e = given.get(k)
        if e is None or e["low"] is None or e["high"] is None:
            return ""
        return f"[{interval_value(k, e['low'])}, {interval_value(k, e['high'])}]"

    def rests(k: str) -> str:
        e = given.get(k)
        if e is None:
            return ""
        return e["rests_on"] + (f": too thin to judge (fewer than {least})" if e["thin"] else "")

    rows = "".join(
        ("<tr><td class='sub'>" if FIGURE_LABELS.get(k, k).startswith(" ") else "<tr><td>")
        + f"{escape(FIGURE_LABELS.get(k, k).strip())}</td>"
        + f"<td class='num'>{escape(text)}</td><td class='num'>{escape(span(k))}</td>"
        + f"<td>{escape(rests(k))}</td><td><code>{escape(k)}</code></td></tr>"
        for k, text in listed
    )
    how = (
        f"<p id='intervals'>95 % intervals by debtor bootstrap: {escape(counted(intervals['samples'], 'replicate'))}, "
        "each drawing the debtors with replacement with all their month-ends (<code>backtest.bootstrap_samples</code> "
        f"in the nightly config). A figure resting on fewer than {least} defaulted debtors (or lead times) is too "
        "thin to judge (<code>backtest.min_defaults</code>): a queue that caught all of 8 defaults may catch far "
        "fewer of the next 8.</p>"
        if given and intervals.get("samples")
        else ""
    )
    chart = (
        f"<h2>Figures with their 95 % intervals</h2>\n{_intervals_svg(given)}"
        if given and intervals.get("samples")
        else ""
    )
    money = f" ({escape(currency)})" if currency else ""
    months = [(k, label + (money if k == "bad_balance" else "")) for k, label in MONTH_COLUMNS]
    no_model = getattr(result, "mode", "pd_model") == "no_pd_model"
    months += [(f"{o}_capture_top20", f"top 20 % catch: {label}") for o, label in _labels(no_model).items()]
    months = [(k, label) for k, label in months if any(k in m for m in result.months)]
    settings = "".join(f"<li>{escape(k)}: {escape(str(v))}</li>" for k, v in result.settings.items())
    leads = result.lead_times
    lead_days = leads.loc[leads["flagged_last"], "lead_days"].to_numpy(dtype="float64")
    warn = "warn" if "IN-SAMPLE" in note or "may have seen" in note else "ok"
    title = " without a PD model" if no_model else ""
    sizes = (
        ""
        if no_model  # the rank trigger re-flags by PD: nothing to re-flag
        else f"""<h2>Watchlist by list size</h2>
<p>The same PDs, re-flagged with the rank trigger at each top share of the live debtors (held while in the
top share x stay_top_share / top_share), alone and beside the other triggers: choose the list a team can work
and set <code>triggers.rank</code> in the nightly config (see backtest.json, definitions.list_sizes).</p>
{_floor_words(getattr(result, "list_sizes", []))}
{_list_sizes_svg(getattr(result, "list_sizes", []))}
{_list_sizes_table(getattr(result, "list_sizes", []))}"""
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ews backtest</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 20px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0; }} td, th {{ border-bottom: 1px solid #ddd; padding: 3px 8px; }}
th {{ text-align: left; vertical-align: bottom; font-size: 13px; max-width: 140px; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.sub {{ padding-left: 22px; }}
.warn {{ background: #fdecea; border-left: 4px solid #c44e52; padding: 8px; }}
.ok {{ background: #eaf6ea; border-left: 4px solid #55a868; padding: 8px; }}
p, li {{ overflow-wrap: anywhere; }}
svg {{ max-width: 100%; height: auto; }}
@media (max-width: 640px) {{
  body {{ margin: 10px; }}
  h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; }}
  /* each table row as a card: the first cell as its heading, then "header: value" lines */
  table.stack, table.stack > tbody {{ display: block; width: 100%; }}
  table.stack > thead {{ display: none; }}
  table.stack > tbody > tr {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
                             gap: 0 10px; padding: 6px 0; border-bottom: 1px solid #ccc; }}
  table.stack > tbody > tr > td {{ border: 0; padding: 1px 2px; min-width: 0; text-align: left;
                                  overflow-wrap: anywhere; }}
  table.stack > tbody > tr > td[data-label]::before {{ content: attr(data-label) ": "; color: #566; font-size: 11px; }}
  table.stack > tbody > tr > td:first-child {{ grid-column: 1 / -1; font-weight: 600; }}
}}
</style></head><body>
<h1>Backtest of the queue and the watchlist{title}</h1>
<p class="{warn}" id="leakage">{escape(note)}</p>
<ul>{settings}</ul>
<h2>Figures (pooled over month-ends with a fully observed horizon)</h2>
{how}
<table id="figures" class="stack"><thead><tr><th>figure</th><th>value</th><th>95 % interval</th><th>rests on</th>
<th>key in backtest.json</th></tr></thead>
<tbody>{rows}</tbody></table>
{chart}
<h2>Capture curves of the live queue</h2>
{_curves_svg(result.curves, no_model)}
<h2>Capture in the top 20 % per month-end</h2>
{_monthly_svg(result.months, no_model)}
<h2>Lead time of the watchlist</h2>
{_lead_svg(lead_days, given.get("lead_time_median_days"))}
{_triggers_table(getattr(result, "triggers", {}))}
{sizes}
<h2>Per month-end</h2>
{_table("months", months, result.months, places)}
</body></html>
"""
    return stacked(page)
