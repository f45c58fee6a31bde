"""report.html: self-contained, escaped, with every section; checked in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.drift import drift_table, reference_from_values
from models.reasons import contributions, pd_waterfall, raw_to_pd
from pipelines.config.nightly import NightlyConfig
from pipelines.report import Waterfall, changes_summary, render_report
from pipelines.scoring.watchlist import assign_bands, build_watchlist, compare_with_previous, triggers

CFG = NightlyConfig()
REASONS = ["reason_1", "reason_2"]


def scores(pds: list[float], ids: list[str], defaults: list[bool] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"debtor_id": pd.Series(ids, dtype="string"), "pd": pds})
    frame["in_default"] = defaults or [False] * len(ids)
    frame["band"] = assign_bands(frame["pd"], CFG).where(~frame["in_default"], "default")
    frame["name"] = [f"Firm {i}" for i in ids]
    frame["segment"] = "retail"
    frame["as_of"] = pd.Timestamp("2024-06-30")
    frame["open_balance"] = 1000.0
    frame["overdue_amount"] = 50.0
    return frame


FEED = {
    "status": "accepted",
    "references": ["the previous run 2024-06-29"],
    "note": "",
    "checks": [
        {
            "check": "exposure",
            "against": "the previous run 2024-06-29",
            "value": 4_000.0,
            "reference": 1_000.0,
            "limit": "ratio 0.5 to 2, checked from 20 debtors",
            "status": "failed",
        },
        {
            "check": "default_share",
            "against": "the previous run 2024-06-29",
            "value": 0.25,
            "reference": 0.2,
            "limit": "+10/-10 points, checked from 50 debtors",
            "status": "too small to check",
        },
    ],
    "override": {
        "by": "<b>jo</b>",
        "at": "2024-06-30T06:00:00+00:00",
        "checks": ["exposure vs the previous run"],
    },
}


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    prev = scores([0.01, 0.02, 0.2, 1.0], ["a", "b", "c", "z"], [False, False, False, True])
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    today.loc[3, "name"] = "<script>window.hacked=1</script>=cmd"
    scored = compare_with_previous(today, prev)
    flags = triggers(scored, CFG, has_previous=True)
    reasons = pd.DataFrame(
        {"reason_1": ["5 invoices paid late", "x", "y", "z"], "reason_2": ["", "", "", "w"]},
        index=today["debtor_id"],
    )
    wl = build_watchlist(scored, flags, reasons, REASONS)
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"late": rng.poisson(2, 300).astype(float), "util": rng.random(300)})
    y = (rng.random(300) < 0.1 + 0.05 * X["late"]).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, lgb.Dataset(X, y), 10)
    c = contributions(booster, X.head(1))
    steps = pd_waterfall(
        c.values.iloc[0],
        float(c.expected_value[0]),
        raw_to_pd(np.array([]), np.array([])),
        {},
        {"late": "Late"},
    )
    wf = [Waterfall("a", "Firm a", 0.12, "D", ["5 invoices paid late"], steps)]
    drift = drift_table(
        {"score": today["pd"]}, {"score": reference_from_values(pd.Series(rng.beta(1, 20, 2000)))}, 0.1, 0.25
    )
    html = render_report(
        as_of="2024-06-30",
        model={"name": "ews-pd", "version": "7", "alias": "champion", "metrics": {"test_auc": 0.81}},
        config_hash="f" * 64,
        scored=scored,
        previous=prev,
        previous_as_of="2024-06-29",
        watchlist=wl,
        reason_columns=REASONS,
        counts={
            "scored": 4,
            "in_default": 0,
            "flagged": len(wl),
            "queue": 2,
            "expected_loss": 99.0,
            "bands": {"D": 1, "E": 2},
            "triggers": {"threshold": 3},
            "flagged_previous": 1,
        },
        drift=drift,
        calibration=pd.DataFrame({"mean_pd": [0.02, 0.1], "default_rate": [0.025, 0.09]}),
        waterfalls=wf,
        cfg=CFG,
        feed=FEED,
        inputs={
            "invoices": {"rows_in": 40, "rows_accepted": 38, "rows_quarantined": 2, "quarantine_share": 0.05}
            | {"reasons": {"amount_not_positive": 2}},
        },
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_is_self_contained_and_escaped(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    assert "<script>window.hacked" not in html and "&lt;script&gt;window.hacked=1&lt;/script&gt;" in html
    # nothing is fetched from the network: no external src/href
    assert not re.search(r"""(src|href)=["']https?://""", html)
    for section in (
        "watchlist-table",
        "migration-matrix",
        "movers-table",
        "drift-table",
        "band-counts",
        "trigger-counts",
        "quarantine-table",
        "feed-table",
        "feed-override",
    ):
        assert f'id="{section}"' in html
    assert "<b>jo</b>" not in html and "&lt;b&gt;jo&lt;/b&gt;" in html
    assert "amount_not_positive: 2" in html and ">5.0%<" in html  # quarantine figures
    assert ">4,000<" in html and ">1,000<" in html and ">25.0%<" in html  # feed-check figures
    assert "data:image/png" not in html and html.count("<svg") >= 3  # distribution, calibration, waterfall
    assert "log-odds" not in html  # the waterfall speaks PD
    assert 'href="#wf-d' in html  # the watchlist row links to its waterfall


def test_changes_summary_counts() -> None:
    prev = scores([0.01, 0.2, 0.5], ["a", "b", "gone"])
    today = scores([0.08, 0.02, 0.3], ["a", "b", "new"])
    got = changes_summary(compare_with_previous(today, prev), prev, CFG, top=5)
    assert (got["new"], got["gone"], got["worse"], got["better"]) == (1, 1, 1, 1)
    assert [m["debtor_id"] for m in got["movers"]] == ["a"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    shot = report_html.parent / "report.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1800",
        f"--screenshot={shot}", "--dump-dom", report_html.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # the inline script ran: the filter counter is filled in, and the injected name stayed text
    assert re.search(r'id="wl-shown">3 of 3 rows shown<', dom), dom[:500]
    assert "window.hacked" in dom and "<script>window.hacked" not in dom
    assert 'id="model-version">7<' in dom
    assert re.search(r'id="feed-status"[^>]*>accepted<', dom)
    # the waterfall is in PD: average debtor's PD, one step per group in pp, the debtor's PD
    assert "average debtor: PD" in dom and "this debtor: PD" in dom and "Late" in dom
    assert re.search(r"[+-]\d+\.\d\d pp", dom)
    assert dom.count("<tr") >= 10
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
