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


def waterfall_png(
    contributions: np.ndarray,
    base_value: float,
    values: np.ndarray,
    feature_names: list[str],
    max_display: int = 10,
) -> str:
    """SHAP waterfall (log-odds) of one debtor, drawn by ``shap.plots.waterfall``; base64 PNG."""
    import shap

    explanation = shap.Explanation(
        values=np.asarray(contributions, dtype="float64"),
        base_values=float(base_value),
        data=np.asarray(values, dtype=object),
        feature_names=list(feature_names),
    )
    plt.figure()
    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.set_size_inches(7, 0.45 * min(max_display, len(feature_names)) + 1.5)
    return _png_b64(fig)
