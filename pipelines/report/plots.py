"""Figures for report.html, returned as inline SVG text or base64 PNG (the page works offline)."""

from __future__ import annotations

import base64
import io

import matplotlib
import matplotlib.axis
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "ews", "font.size": 9}


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_SVG_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _png_b64(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pd_distribution_svg(pd_values: np.ndarray, bands: list[tuple[str, float]], narrow: bool = False) -> str:
    """Histogram of PDs on a log axis with the band boundaries marked. ``narrow``: a phone's chart."""
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(NARROW_WIDTH, 3) if narrow else (7, 3))
        x = np.clip(np.asarray(pd_values, dtype="float64"), 1e-4, 1.0)
        if len(x):
            ax.hist(x, bins=np.logspace(-4, 0, 49), color="#4c72b0", edgecolor="white", linewidth=0.3)
        else:  # no live debtor: the axis the histogram would have had (log of an empty axis warns)
            ax.set_xlim(1e-4, 1.0)
        ax.set_xscale("log")
        _percent_log_axis(ax.xaxis)
        ax.set_xlabel("PD (log scale)")
        ax.set_ylabel("debtors")
        top = ax.get_ylim()[1]
        for name, lower in bands:
            if lower > 0:
                ax.axvline(lower, color="#c44e52", linestyle="--", linewidth=0.8)
            ax.text(max(lower, 1e-4) * 1.05, top * 0.92, name, color="#c44e52")
        ax.set_title(
            "PD distribution (dashed: band lower bounds)"
            if narrow
            else "PD distribution of scored debtors (dashed: band lower bounds)"
        )
        return _svg(fig)


def calibration_svg(table: pd.DataFrame) -> str:
    """Reliability curve: mean predicted PD vs observed default rate per bin (model's test window)."""
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(4.2, 4))
        hi = float(max(table["mean_pd"].max(), table["default_rate"].max(), 0.01)) * 1.05
        ax.plot([0, hi], [0, hi], color="grey", linestyle=":", label="perfect")
        ax.plot(table["mean_pd"], table["default_rate"], marker="o", color="#4c72b0", label="model")
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_xlabel("mean predicted PD")
        ax.set_ylabel("observed default rate")
        ax.legend(loc="upper left")
        ax.set_title("Calibration on the model's test window")
        return _svg(fig)


def pd_waterfall_svg(steps: pd.DataFrame, title: str = "") -> str:
    """Waterfall of one debtor in PD: from the average debtor's PD (bottom) to this debtor's (top),
    one bar per reason group (``models.reasons.pd_waterfall`` output), labelled in PD points."""
    with matplotlib.rc_context(_SVG_RC):
        n = len(steps)
        fig, ax = plt.subplots(figsize=(7, 0.42 * (n + 2) + 0.8))
        base = float(steps["pd_before"].iloc[0]) * 100 if n else 0.0
        final = float(steps["pd_after"].iloc[-1]) * 100 if n else 0.0
        labels = [f"average debtor: PD {base:.2f}%"]
        ax.barh(0, base, color="#8c8c8c", height=0.6)
        for i, row in enumerate(steps.itertuples(index=False), start=1):
            left = min(row.pd_before, row.pd_after) * 100
            width = abs(row.pd_points) * 100
            color = "#c44e52" if row.pd_points > 0 else "#4c72b0"
            ax.barh(i, width, left=left, color=color, height=0.6)
            ax.text(
                max(row.pd_before, row.pd_after) * 100, i, f"  {row.pd_points * 100:+.2f} pp", va="center"
            )
            labels.append(str(row.label))
        labels.append(f"this debtor: PD {final:.2f}%")
        ax.barh(n + 1, final, color="#2f2f2f", height=0.6)
        ax.set_yticks(range(n + 2), labels)
        ax.invert_yaxis()
        ax.set_xlabel("PD (%), each step in percentage points (pp)")
        ax.set_xlim(0, max(base, final, *(steps[["pd_before", "pd_after"]].max() * 100)) * 1.25 + 0.01)
        if title:
            ax.set_title(title)
        return _svg(fig)


def _percent_log_axis(axis: matplotlib.axis.Axis) -> None:
    """PD on a log axis labelled "0.1%", "1%" (plain text: no mathtext to lay out, which is slow)."""
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v * 100:g}%"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _amount_axis(ax: plt.Axes, currency: str | None) -> None:
    """Thousands separators on the y axis, labelled with the currency."""
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylabel(f"amount ({currency})" if currency else "amount")


def _date_labels(dates: pd.Index | pd.Series) -> list[str]:
    return [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]


# A phone's chart (``narrow=True``; report.html shows it below 640 px in place of the 7-inch one, whose text
# is shrunk to 5-7 px in a 360 px column, s37-walk): 4.2 inches wide, legends at 8 pt, at most 6 date labels
NARROW_WIDTH = 4.2
NARROW_LEGEND = 8


def _date_ticks(ax: plt.Axes, dates: pd.Index | pd.Series | list, narrow: bool) -> None:
    """Date labels under ``ax``'s positions 0..n-1: every date as 2024-06-30 (the 7-inch chart, rotated),
    or on a phone's chart at most 6 of them (the last date always), upright, as "Jun 24" (month-ends),
    else "28 Jun" (nightly runs of one month), else "28 Jun 24"."""
    x = np.arange(len(dates))
    if not narrow:
        ax.set_xticks(x, _date_labels(dates), rotation=45, ha="right")
        return
    step = max(1, -(-len(dates) // 6))
    keep = x[::-1][::step][::-1]  # counted back from the last date, which is always labelled
    days = [pd.Timestamp(dates[k]) for k in keep]
    for layout in ("%b %y", "%d %b", "%d %b %y"):
        labels = [d.strftime(layout) for d in days]
        if len(set(labels)) == len(labels):
            break
    ax.set_xticks(keep, labels)


def dso_svg(dso: pd.DataFrame, window_days: int, narrow: bool = False) -> str:
    """Standard and countback DSO (days) at each date of ``dso`` (``features.portfolio.dso_table``).
    ``narrow``: a phone's chart."""
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(NARROW_WIDTH, 3) if narrow else (7, 2.8))
        x = np.arange(len(dso))
        ax.plot(
            x, dso["dso_standard"], marker="o", color="#4c72b0", label=f"standard ({window_days}-day sales)"
        )
        ax.plot(x, dso["dso_countback"], marker="s", color="#dd8452", label="countback")
        capped = dso["countback_capped"].to_numpy(dtype=bool)
        if capped.any():
            ax.plot(
                x[capped], dso["dso_countback"][capped], "v", color="#c44e52", label="countback: lower bound"
            )
        _date_ticks(ax, dso.index, narrow)
        ax.set_ylabel("days")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower left", fontsize=NARROW_LEGEND if narrow else 8)
        ax.set_title(
            "DSO at each month-end and today"
            if narrow
            else "Days sales outstanding at each month-end and today"
        )
        return _svg(fig)


AGING_COLORS = ("#55a868", "#c9d96f", "#f2c14e", "#e8833a", "#c44e52", "#7a1f2b")


def aging_svg(
    aging: pd.DataFrame, buckets: tuple[str, ...], currency: str | None, narrow: bool = False
) -> str:
    """Open receivables per aging bucket (stacked bars) at each date of ``aging``. ``narrow``: a phone's chart."""
    with matplotlib.rc_context(_SVG_RC):
        return _svg(aging_figure(aging, buckets, currency, narrow))


def aging_figure(
    aging: pd.DataFrame, buckets: tuple[str, ...], currency: str | None, narrow: bool = False
) -> plt.Figure:
    """:func:`aging_svg`'s figure. The legend sits above the axes, not over the bars (s34-walk: at the
    top left, inside, it covered the first months' bars whenever the book's receivables were level);
    on a phone's chart in 3 columns, the amounts as 2.5M / 750k."""
    fig, ax = plt.subplots(figsize=(NARROW_WIDTH, 3.4) if narrow else (7, 3))
    x = np.arange(len(aging))
    bottom = np.zeros(len(aging))
    for name, color in zip(buckets, AGING_COLORS, strict=True):
        values = aging[name].to_numpy(dtype="float64")
        ax.bar(x, values, bottom=bottom, color=color, label=name if name == "current" else f"{name} DPD")
        bottom += values
    _date_ticks(ax, aging.index, narrow)
    _amount_axis(ax, currency)
    if narrow:
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_compact_amount))
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=NARROW_LEGEND, ncol=3, frameon=False)
        ax.set_title("Open receivables by days past due", pad=34)
        return fig
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=6, frameon=False)
    ax.set_title("Open receivables by days past due", pad=22)
    return fig


def pd_trend_svg(trend: pd.DataFrame, band_names: list[str], narrow: bool = False) -> str:
    """PD distribution per run: median with the 25-75 % and 10-90 % ranges (live debtors, log
    scale), and the share of debtors per band below. ``narrow``: a phone's chart (the band legend
    under the bars, not beside them)."""
    legend = NARROW_LEGEND if narrow else 7
    with matplotlib.rc_context(_SVG_RC):
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(NARROW_WIDTH, 5.2) if narrow else (7, 4.6), sharex=True, height_ratios=(3, 2)
        )
        x = np.arange(len(trend))
        clip = lambda c: np.clip(trend[c].to_numpy(dtype="float64"), 1e-4, 1.0)  # noqa: E731
        if np.isfinite(clip("p50")).any():
            top.fill_between(x, clip("p10"), clip("p90"), color="#4c72b0", alpha=0.18, label="10-90 %")
            top.fill_between(x, clip("p25"), clip("p75"), color="#4c72b0", alpha=0.35, label="25-75 %")
            top.plot(x, clip("p50"), marker="o", markersize=3, color="#1d3557", label="median")
            top.plot(x, clip("mean"), linestyle="--", color="#c44e52", label="mean")
            top.set_yscale("log")
            _percent_log_axis(top.yaxis)
            top.legend(loc="upper left", fontsize=legend, ncol=2 if narrow else 4)
        else:  # every debtor in default in every run: no live PD to draw (a log axis of NaN raises)
            top.text(
                0.5, 0.5, "no live debtors in these runs", ha="center", va="center", transform=top.transAxes
            )
            top.set_yticks([])
        top.set_ylabel("PD (live debtors)")
        top.set_title("PD distribution across runs")
        base = np.zeros(len(trend))
        colors = plt.get_cmap("RdYlGn_r")(np.linspace(0.05, 0.95, len(band_names)))
        for name, color in zip(band_names, colors, strict=True):
            col = f"share_{name}"
            values = trend[col].to_numpy(dtype="float64") * 100 if col in trend else np.zeros(len(trend))
            bottom.bar(x, values, bottom=base, color=color, label=name, width=0.8)
            base += values
        bottom.set_ylabel("% of debtors")
        bottom.set_ylim(0, 100)
        if narrow:
            bottom.legend(loc="upper left", bbox_to_anchor=(0.0, -0.3), fontsize=legend, title="band",
                          title_fontsize=legend, ncol=min(len(band_names), 4), frameon=False)  # fmt: skip
            _date_ticks(bottom, list(pd.to_datetime(trend["as_of"].astype(str))), narrow)
            return _svg(fig)
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title="band")
        step = max(1, len(trend) // 12)
        bottom.set_xticks(x[::step], list(trend["as_of"].astype(str))[::step], rotation=45, ha="right")
        return _svg(fig)


def _compact_amount(v: float, _pos: object = None) -> str:
    """An axis amount in few characters for a phone's chart: 2,500,000 -> "2.5M", 750,000 -> "750k"."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M".replace(".0M", "M")
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    return f"{v:,.0f}"


def cash_forecast_svg(cash: pd.DataFrame, currency: str | None, narrow: bool = False) -> str:
    """Expected cash-in per week (total) with its 80 % interval. ``narrow``: the phone's version (below
    640 px report.html shows it instead): 4.2 inches wide, so that its text is shown near its own size
    in a 360 px column (the 7-inch chart is shrunk to about half there: 5-6 px text, s37-walk), weeks
    numbered 1..13 under a "week" label and amounts as 2.5M / 750k."""
    if narrow:
        with matplotlib.rc_context(_SVG_RC):
            fig, ax = plt.subplots(figsize=(4.2, 3.2))
            x = np.arange(len(cash))
            ax.fill_between(
                x, cash["cash_low_80"], cash["cash_high_80"], color="#55a868", alpha=0.25, step="mid",
                label="80 % interval",
            )  # fmt: skip
            ax.bar(x, cash["expected_cash"], color="#55a868", width=0.6, label="expected")
            weeks = [str(int(w)) for w in cash["week"]] if "week" in cash else [str(i + 1) for i in x]
            ax.set_xticks(x, weeks)
            ax.set_xlabel("week")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_compact_amount))
            ax.set_ylabel(f"amount ({currency})" if currency else "amount")
            ax.legend(loc="upper right", fontsize=8)
            ax.set_title("Expected cash-in per week")
            return _svg(fig)
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(7, 2.8))
        x = np.arange(len(cash))
        ax.fill_between(
            x,
            cash["cash_low_80"],
            cash["cash_high_80"],
            color="#55a868",
            alpha=0.25,
            step="mid",
            label="80 % interval",
        )
        ax.bar(x, cash["expected_cash"], color="#55a868", width=0.6, label="expected")
        labels = [f"W{int(w)}" for w in cash["week"]] if "week" in cash else [str(i + 1) for i in x]
        ax.set_xticks(x, labels)
        _amount_axis(ax, currency)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title("Expected cash-in per week, next 13 weeks")
        return _svg(fig)


def sparkline_svg(values: list[float], width: int = 160, height: int = 36) -> str:
    """A tiny PD line (hand-written SVG, no matplotlib: one per debtor page); last point marked."""
    v = np.asarray(values, dtype="float64")
    if len(v) == 0:
        return ""
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    span = hi - lo if hi > lo else 1.0
    xs = np.linspace(4, width - 4, len(v)) if len(v) > 1 else np.array([width / 2])
    ys = height - 4 - (v - lo) / span * (height - 8)
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="PD across runs"><polyline fill="none" stroke="#1d3557" stroke-width="1.5" points="{pts}"/>'
        f'<circle cx="{xs[-1]:.1f}" cy="{ys[-1]:.1f}" r="2.5" fill="#c44e52"/></svg>'
    )
