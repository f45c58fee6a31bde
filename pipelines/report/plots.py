"""Figures for report.html, returned as inline SVG text or base64 PNG (the page works offline)."""

from __future__ import annotations

import base64
import io

import matplotlib

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


def pd_distribution_svg(pd_values: np.ndarray, bands: list[tuple[str, float]]) -> str:
    """Histogram of PDs on a log axis with the band boundaries marked."""
    with matplotlib.rc_context(_SVG_RC):
        fig, ax = plt.subplots(figsize=(7, 3))
        x = np.clip(np.asarray(pd_values, dtype="float64"), 1e-4, 1.0)
        if len(x):
            ax.hist(x, bins=np.logspace(-4, 0, 49), color="#4c72b0", edgecolor="white", linewidth=0.3)
        ax.set_xscale("log")
        ax.set_xlabel("PD (log scale)")
        ax.set_ylabel("debtors")
        top = ax.get_ylim()[1]
        for name, lower in bands:
            if lower > 0:
                ax.axvline(lower, color="#c44e52", linestyle="--", linewidth=0.8)
            ax.text(max(lower, 1e-4) * 1.05, top * 0.92, name, color="#c44e52")
        ax.set_title("PD distribution of scored debtors (dashed: band lower bounds)")
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
