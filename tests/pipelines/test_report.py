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
from pipelines.adapters.exports import write_csv
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.report import Waterfall, changes_summary, render_report
from pipelines.report.portfolio import build_portfolio
from pipelines.scoring.watchlist import assign_bands, build_watchlist, compare_with_previous, triggers
from pipelines.words import reason_words
from tests.features.ledgers import inv, pay, portfolio

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


LONG = "5 invoices paid late in the last 180 days, on average 23 days after their due date"
BOOK = portfolio(
    [
        inv("INV-A1", "a", "2024-04-01", "2024-05-16", 700.0),  # 45 DPD at 06-30
        inv("INV-A2", "a", "2024-06-10", "2024-07-10", 300.0),
        inv("INV-B1", "b", "2024-05-01", "2024-05-31", 1000.0),
        inv("INV-C1", "c", "2024-03-01", "2024-03-31", 1000.0),
        inv("INV-N1", "n", "2024-06-01", "2024-07-01", 1000.0),
    ],
    [pay("P-B1", "b", "2024-06-05", 1000.0, "INV-B1"), pay("P-A1", "a", "2024-06-20", 100.0, "INV-A2")],
)


def run_outputs(out: Path, stage: Path) -> None:
    """Two earlier runs in ``out`` and the optional outputs of the other nightly steps in ``stage``."""
    for day, pds in (("2024-06-28", [0.03, 0.02, 0.15, 0.4]), ("2024-06-29", [0.01, 0.02, 0.2, 1.0])):
        (out / day).mkdir(parents=True)
        scores(pds, ["a", "b", "c", "z"], [False, False, False, pds[-1] == 1.0]).to_parquet(
            out / day / "scores.parquet"
        )
    stage.mkdir(parents=True)
    pd.DataFrame(
        {
            "invoice_id": ["INV-A1", "INV-A2"],
            "debtor_id": ["a", "a"],
            "open_amount": [700.0, 200.0],
            "currency": ["EUR", "EUR"],
            "due_date": pd.to_datetime(["2024-05-16", "2024-07-10"]),
            "expected_paid_on": pd.to_datetime(["2024-07-19", "2024-07-26"]),
            "paid_on_p10": pd.to_datetime(["2024-07-05", "2024-07-12"]),
            "paid_on_p90": pd.to_datetime([None, "2024-09-06"]),
            "p_paid_30d": [0.61, 0.55],
            "p_paid_60d": [0.8, 0.8],
            "p_paid_90d": [0.85, 0.9],
        }
    ).to_parquet(stage / "invoice_forecast.parquet")
    weeks = pd.date_range("2024-07-01", periods=13, freq="7D")
    write_csv(  # as the nightly's steps write them: UTF-8 with BOM, CRLF
        pd.DataFrame(
            {
                "week": list(range(1, 14)) * 2,
                "week_start": list(weeks) * 2,
                "segment": ["all"] * 13 + ["retail"] * 13,
                "expected_cash": [100.0 * w for w in range(1, 14)] * 2,
                "cash_low_80": [60.0 * w for w in range(1, 14)] * 2,
                "cash_high_80": [140.0 * w for w in range(1, 14)] * 2,
            }
        ),
        stage / "cash_forecast.csv",
    )
    write_csv(
        pd.DataFrame(
            {
                "debtor_id": ["a"],
                "credit_limit_current": [4000.0],
                "credit_limit_recommended": [5000.0],
                "credit_limit_conservative": [2500.0],
                "credit_limit_aggressive": [7500.0],
                "credit_limit_rule": ["band D: 1.0 x need"],
            }
        ),
        stage / "credit_limits.csv",
    )


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    run_outputs(root / "out", root / "stage")
    prev = scores([0.01, 0.02, 0.2, 1.0], ["a", "b", "c", "z"], [False, False, False, True])
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    today.loc[3, "name"] = "<script>window.hacked=1</script>=cmd"
    scored = compare_with_previous(today, prev)
    flags = triggers(scored, CFG, has_previous=True)
    reasons = pd.DataFrame(
        {"reason_1": ["5 invoices paid late", "x", LONG, "z"], "reason_2": [LONG, "", "", "w"]},
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
    view = build_portfolio(
        Book.in_memory(BOOK, 4),  # several buckets
        pd.Timestamp("2024-06-30").date(),
        scored,
        wl["debtor_id"],
        CFG,
        "EUR",
        root / "out",
        root / "stage",
    )
    html = render_report(
        as_of="2024-06-30",
        model={
            "name": "ews-pd",
            "version": "7",
            "alias": "champion",
            "metrics": {"test_auc": 0.81, "test_rows": 3180.0, "test_defaults": 13.0},
        },
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
            | {"reasons": {"amount_not_positive": 1, "missing_value:due_date": 1}},
        },
        portfolio=view,
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
    quarantine = html[html.index('id="quarantine-table"') :]
    quarantine = quarantine[: quarantine.index("</table>")]
    assert ">5.0%<" in quarantine  # quarantine figures; the reasons in words, each code small beside it
    # the count beside the words, the code below them (s37-walk: ": 2,028" stood alone under the code at 420 px)
    assert 'Amount zero or negative: 1<code class="code">amount_not_positive</code>' in quarantine
    assert 'Due date is missing: 1<code class="code">missing_value:due_date</code>' in quarantine
    assert ">4,000<" in html and ">1,000<" in html and ">25.0%<" in html  # feed-check figures
    assert "data:image/png" not in html and html.count("<svg") >= 3  # distribution, calibration, waterfall
    assert "log-odds" not in html  # the waterfall speaks PD
    # model metrics: counts as integers (before: 3180.0000 and 13.0000), figures with 4 decimals
    metrics = html[html.index('id="metrics-table"') :]
    metrics = metrics[: metrics.index("</table>")]
    assert ">3,180<" in metrics and ">13<" in metrics and ">0.8100<" in metrics and ".0000" not in metrics
    assert "this model" in metrics and "95% interval (debtors)" in metrics  # s25-newuser: headed columns
    assert "This version logged no other model" in html  # (the apostrophe is escaped)
    assert 'href="#wf-d' in html  # the watchlist row links to its waterfall
    assert "&#9656;why</a>" in html and "&#9656;wf<" not in html  # s25-newuser: "wf" meant nothing


def test_quarantine_reasons_read_as_words() -> None:
    """Session 33: report.html's quarantine table listed the reasons as codes ("missing_value:due_date")."""
    assert reason_words("duplicate_row") == "Exact copy of another row"
    assert reason_words("missing_value:paid_on") == "Paid on is missing"
    assert reason_words("excel_serial_date:issue_date") == "Issue date is an Excel serial number"
    assert reason_words("date_after_as_of:valid_from") == "Valid from is after the run's date"
    assert reason_words("unknown_debtor") == "Debtor not in the debtors table"
    # a code that is not listed, or listed without the column its words need, reads as it is
    assert reason_words("default_currency:EUR") == "default_currency:EUR"
    assert reason_words("missing_value") == "missing_value"


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


# Measures the layout after load, with the first debtor page opened, and writes it into the DOM.
PROBE = """<script>
(function () {
  var W = document.documentElement.clientWidth;
  function boxed(el) {  // inside a box that scrolls or clips sideways
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  }
  var rows = Array.prototype.map.call(document.querySelectorAll("#watchlist-table > tbody > tr:not(.wl-detail)"),
    function (tr) { return Math.round(tr.getBoundingClientRect().height); });
  var why = Array.prototype.map.call(document.querySelectorAll("#watchlist-table td.why"),  // the reasons' right edge
    function (td) { return Math.round(td.getBoundingClientRect().right); });
  document.querySelectorAll("#watchlist-table details.more").forEach(function (d) { d.open = true; });
  var cards = document.querySelectorAll(".debtor-card"), c = null, text = "";
  cards.forEach(function (card) {  // the widest extent and the smallest height of the opened pages
    var r = card.getBoundingClientRect();
    c = c ? {left: Math.min(c.left, r.left), right: Math.max(c.right, r.right), height: Math.min(c.height, r.height)}
          : {left: r.left, right: r.right, height: r.height};
    text += card.innerText + " | ";
  });
  var over = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if ((r.width || r.height) && r.right > W + 1 && !boxed(el) && !el.closest("svg")) {
      over.push(el.tagName + "#" + el.id + "." + el.className + " right=" + Math.round(r.right));
    }
  });
  var out = parent.document, pre = out.createElement("pre");
  pre.id = "layout-probe";
  pre.textContent = JSON.stringify({width: W, scroll_width: document.documentElement.scrollWidth,
    over: over.slice(0, 10), rows: rows, why: why, text: text, pages: cards.length, card: c});
  out.body.appendChild(pre);
})();
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 420])
def test_report_layout_at_desktop_and_phone_width(report_html: Path, tmp_path: Path, width: int) -> None:
    """No element wider than the window outside a sideways-scrolling box, watchlist rows of a sane
    height (they were 300 px gaps at 420 px), and an opened debtor page fits the window.

    Headless Chromium keeps windows at least 500 px wide, so the page is shown in a ``width`` px
    frame (srcdoc: same origin, the probe reports to the outer page, whose DOM is dumped)."""
    import html as html_lib
    import json

    page = report_html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    frame = tmp_path / "frame.html"
    frame.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;width:'
        f'{width}px;height:30000px" srcdoc="{html_lib.escape(page, quote=True)}"></iframe></body></html>',
        "utf-8",
    )
    shot = report_html.parent / f"report-{width}.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={max(width, 500)},2400",
        f"--screenshot={shot}", "--dump-dom", frame.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-1000:]
    got = json.loads(html_lib.unescape(found.group(1)))
    assert got["width"] == width
    assert got["scroll_width"] <= width and got["over"] == [], got
    # sane heights: a desktop row, or at 420 px a card holding every column, the reasons included
    assert len(got["rows"]) == 3 and max(got["rows"]) <= (120 if width > 640 else 200), got["rows"]
    # the reasons are read without scrolling sideways (at 420 px the rows are cards, one per debtor)
    assert len(got["why"]) == 3 and max(got["why"]) <= width, got["why"]
    card = got["card"]
    assert got["pages"] == 3
    assert card["height"] > 100 and card["left"] >= 0 and card["right"] <= width, card
    assert got["text"].count("INV-A1") and "2024-07-19" in got["text"]  # the page: invoices, predicted dates
    assert shot.exists() and shot.stat().st_size > 20_000


def test_portfolio_sections_and_debtor_pages(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    for section in (
        "dso-table",
        "aging-table",
        "el-band-table",
        "el-segment-table",
        "cash-table",
        "trend-table",
    ):
        assert f'id="{section}"' in html
    # as-of 06-30: receivables 700 + 200 (a) + 1,000 (c) + 1,000 (n); sales issued after 04-01: 2,300
    assert 'id="receivables-now">2,900\u00a0EUR<' in html  # a no-break space (session 32)
    assert re.search(r'id="dso-standard-now">113\.5 d<', html)  # 2,900 / 2,300 x 90
    # amounts carry the currency, counts are integers
    assert ">1,000\u00a0EUR<" in html and ">99\u00a0EUR<" in html
    assert re.search(r'<td data-label="band">total</td><td data-label="debtors" class="num">4</td>', html)
    # debtor a's page: three runs of history, invoices with predicted dates, the recommended limit
    start = html.index('id="debtor-d2"')
    page = html[start : html.index("</div></td></tr>", start)]
    assert page.count('<td data-label="run">2024-06-') == 3 and "<svg" in page
    assert "INV-A1" in page and "2024-07-19" in page and "2024-07-05 &ndash; after horizon" in page
    assert "recommended: <b>5,000\u00a0EUR</b>" in page and "band D: 1.0 x need" in page
    assert ">61%<" in page and "INV-C1" not in page


def test_portfolio_without_the_optional_outputs(tmp_path: Path) -> None:
    """No earlier run, no forecast, no credit limits: the sections they feed are left out."""
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    book = portfolio(BOOK.invoices.to_dict("records"), BOOK.payments.to_dict("records"),
                     debtors=[{"debtor_id": "a", "credit_limit": 1500.0}])  # fmt: skip
    view = build_portfolio(Book.in_memory(book, 100), pd.Timestamp("2024-06-30").date(), today,
                           pd.Index(["a", "n"]), CFG, "USD", tmp_path / "none", None)  # fmt: skip
    assert view.invoice_forecast is None and view.cash_forecast is None and view.credit_limits is None
    assert view.pd_trend["as_of"].tolist() == ["2024-06-30"]
    assert view.open_items["invoice_id"].tolist() == ["INV-A1", "INV-A2", "INV-N1"]
    assert view.limits.to_dict() == {"a": 1500.0, "n": pytest.approx(float("nan"), nan_ok=True)}
    pd.testing.assert_series_equal(
        view.aging.loc[pd.Timestamp("2024-06-30"), ["current", "31-60", "91-180"]],
        pd.Series([1200.0, 700.0, 1000.0], index=["current", "31-60", "91-180"]),
        check_names=False,
    )
    wl = today.assign(triggers="threshold", reason_1="late", pd_change=np.nan, band_prev=None)
    html = render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=wl[wl["debtor_id"].isin(["a", "n"])],
        reason_columns=["reason_1"], counts={"scored": 4, "in_default": 0, "flagged": 2, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=CFG,
        portfolio=view,
    )  # fmt: skip
    assert 'id="cash-table"' not in html and "expected paid" not in html and 'id="dso-table"' in html
    assert "current: <b>1,500\u00a0USD</b>" in html and "from the debtors table" in html
    assert "No limit known for this debtor." in html  # n
    # with credit limits in the scores (the nightly's credit_limits step), the pages read them there
    limited = today.assign(
        credit_limit_current=1000.0, credit_limit_recommended=2000.0, credit_limit_rule="r"
    )
    view = build_portfolio(Book.in_memory(book, 100), pd.Timestamp("2024-06-30").date(), limited,
                           pd.Index(["a", "n"]), CFG, "USD", None, None)  # fmt: skip
    assert view.credit_limits["debtor_id"].tolist() == ["a", "n"]
    assert view.credit_limits["credit_limit_recommended"].tolist() == [2000.0, 2000.0]


def test_a_first_run_with_nobody_flagged_says_so(tmp_path: Path) -> None:
    """s11-small: the first run of a 100-debtor book flagged nobody and showed an empty watchlist
    table, 'Override rate: 0.0% -- 0 ... of 0', a near-empty 'PD distribution across runs' plot and
    'How each of the 0 flagged debtors ...' with nothing under it."""
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    book = portfolio(BOOK.invoices.to_dict("records"), BOOK.payments.to_dict("records"))
    view = build_portfolio(Book.in_memory(book, 100), pd.Timestamp("2024-06-30").date(), today,
                           pd.Index([]), CFG, "EUR", tmp_path / "none", None)  # fmt: skip
    overrides = {"days": 30, "rate": 0.0, "debtors": 0, "flagged": 0, "since": "2024-06-01", "in_force": 0,
                 "kept_off": 0, "reflagged": 0, "rows": []}  # fmt: skip
    html = render_report(
        as_of="2024-06-30", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None, watchlist=today.head(0).assign(triggers="", reason_1=""),
        reason_columns=["reason_1"], counts={"scored": 4, "in_default": 0, "flagged": 0, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=CFG,
        portfolio=view, overrides=overrides,
    )  # fmt: skip
    assert 'id="wl-empty"' in html and "No debtor is on the watchlist tonight" in html
    assert "the first run in this output folder" in html
    assert (
        'id="override-rate">none flagged<' in html and "0.0%" not in html.split('id="override-rate"')[1][:40]
    )
    assert 'id="pd-trend-first"' in html and 'id="pd-trend"' not in html
    assert 'id="wf-none"' in html and "How each of the 0" not in html


def test_month_end_figures_are_reused_from_the_previous_run(tmp_path: Path) -> None:
    """A run keeps the month-ends its predecessor computed (portfolio_figures.csv) and computes only
    the new dates; the figures equal a computation from the ledger alone."""
    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])
    book, ids = Book.in_memory(BOOK, 100), pd.Index(["a"])
    first = tmp_path / "out" / "2024-05-31"
    first.mkdir(parents=True)
    today.to_parquet(first / "scores.parquet")
    build_portfolio(book, pd.Timestamp("2024-05-31").date(), today, ids, CFG, "EUR", None, first)
    written = pd.read_csv(first / "portfolio_figures.csv", encoding="utf-8-sig")
    assert len(written) == 12 and written["date"].iloc[-1] == "2024-05-31"
    fresh = build_portfolio(book, pd.Timestamp("2024-06-30").date(), today, ids, CFG, "EUR", None, None)
    again = build_portfolio(book, pd.Timestamp("2024-06-30").date(), today, ids, CFG, "EUR", tmp_path / "out")
    pd.testing.assert_frame_equal(again.dso, fresh.dso, check_freq=False)
    assert again.dso.loc["2024-05-31", "receivables"] == 2700.0
    written.loc[written["date"] == "2024-05-31", "receivables"] = 1234.0  # the cache is what is read
    written.to_csv(first / "portfolio_figures.csv", index=False)
    tampered = build_portfolio(
        book, pd.Timestamp("2024-06-30").date(), today, ids, CFG, "EUR", tmp_path / "out"
    )
    assert tampered.dso.loc["2024-05-31", "receivables"] == 1234.0
    assert tampered.dso.loc["2024-06-30", "receivables"] == 2900.0  # as-of is always computed


# Every box that scrolls sideways (its content wider than itself) and how each table is laid out.
SIDEWAYS_PROBE = """<script>
(function () {
  document.querySelectorAll("#watchlist-table details.more").forEach(function (d) { d.open = true; });
  var boxes = [], tables = {}, unlabelled = 0;
  document.querySelectorAll("body *").forEach(function (el) {
    var o = getComputedStyle(el).overflowX;
    if ((o === "auto" || o === "scroll") && el.scrollWidth > el.clientWidth + 1) {
      var t = el.querySelector("table");
      boxes.push((el.id || el.className) + " " + el.scrollWidth + ">" + el.clientWidth + " " + (t ? t.id || t.className : ""));
    }
  });
  document.querySelectorAll("table").forEach(function (t) {
    var r = t.getBoundingClientRect();
    tables[t.id || t.className] = {display: getComputedStyle(t).display, right: Math.round(r.right)};
  });
  document.querySelectorAll("table.stack > tbody > tr > td").forEach(function (td) {
    if (!td.getAttribute("data-label")) unlabelled++;
  });
  var out = parent.document, pre = out.createElement("pre");
  pre.id = "sideways-probe";
  pre.textContent = JSON.stringify({width: document.documentElement.clientWidth, boxes: boxes, tables: tables,
    unlabelled: unlabelled, stacked: document.querySelectorAll("table.stack").length});
  out.body.appendChild(pre);
})();
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 420])
def test_no_table_scrolls_sideways_at_420_px(report_html: Path, tmp_path: Path, width: int) -> None:
    """s26-ux: at 420 px the DSO, aging, expected-loss, cash, drift, quarantine, feed-check, movers and the
    debtor pages' tables scrolled sideways inside their boxes (issue 13: usable at a 420 px width). Now every
    such table is one card per row ("label: value", labels from its header), so no box is wider than the
    window; at 1,280 px they stay tables."""
    from tests.pipelines.chromium import framed_probe

    got = framed_probe(
        report_html.read_text(encoding="utf-8"), width, SIDEWAYS_PROBE, tmp_path, "sideways-probe"
    )
    assert got["width"] == width
    assert got["boxes"] == [], got["boxes"]  # nothing scrolls sideways, at either width
    assert got["stacked"] >= 12 and got["unlabelled"] == 0, got
    tables = got["tables"]
    for name in (
        "dso-table",
        "aging-table",
        "el-band-table",
        "cash-table",
        "feed-table",
        "drift-table",
        "movers-table",
    ):
        assert tables[name]["right"] <= width, (name, tables[name])
        assert tables[name]["display"] == ("table" if width > 640 else "block"), (name, tables[name])


def test_stacked_labels_each_cell_with_its_column_header() -> None:
    from pipelines.report import stacked

    html = (
        '<table class="stack" id="t"><thead><tr><th>date</th><th class="num">sales, last 90 d</th>'
        '<th>p10&ndash;p90</th></tr></thead><tbody><tr><td>2024-06-30</td><td class="num">1 EUR</td>'
        '<td data-label="own">x</td></tr></tbody></table><table id="u"><thead><tr><th>a</th></tr></thead>'
        "<tbody><tr><td>1</td></tr></tbody></table>"
    )
    assert stacked(html) == html.replace("<td>2024", '<td data-label="date">2024').replace(
        '<td class="num">1 EUR', '<td data-label="sales, last 90 d" class="num">1 EUR'
    )


def test_stacked_survives_a_nested_table_and_colspan_cells() -> None:
    """s27-ux: ``stacked`` matched ``<table class="stack">...</table>`` with a regular expression, so a
    table nested in a cell ended the outer table at the inner ``</table>`` (the outer rows after it kept
    no label) and a ``colspan`` cell took one label and shifted every label after it by one. Parsed now:
    labels by hand below."""
    from pipelines.report import stacked

    html = (
        '<table class="stack" id="o"><thead><tr><th>a</th><th>b</th><th>c &amp; d</th></tr></thead><tbody>'
        '<tr><td colspan="2">wide</td><td>z</td></tr>'
        "<tr><td>1</td><td><table><thead><tr><th>x</th></tr></thead><tbody><tr><td>in</td></tr></tbody>"
        '</table></td><td class="num">3</td></tr>'
        '<tr><td>4</td><td><table class="stack"><thead><tr><th>y</th></tr></thead><tbody><tr><td>deep</td>'
        "</tr></tbody></table></td><td>6</td></tr>"
        '</tbody></table><table class="stack"><thead><tr><th colspan="2">ab</th><th>c</th></tr></thead>'
        "<tbody><tr><td>p</td><td>q</td><td>r</td></tr></tbody></table>"
    )
    want = (
        '<table class="stack" id="o"><thead><tr><th>a</th><th>b</th><th>c &amp; d</th></tr></thead><tbody>'
        '<tr><td colspan="2">wide</td><td data-label="c &amp; d">z</td></tr>'
        '<tr><td data-label="a">1</td><td data-label="b"><table><thead><tr><th>x</th></tr></thead><tbody>'
        '<tr><td>in</td></tr></tbody></table></td><td data-label="c &amp; d" class="num">3</td></tr>'
        '<tr><td data-label="a">4</td><td data-label="b"><table class="stack"><thead><tr><th>y</th></tr>'
        '</thead><tbody><tr><td data-label="y">deep</td></tr></tbody></table></td>'
        '<td data-label="c &amp; d">6</td></tr>'
        '</tbody></table><table class="stack"><thead><tr><th colspan="2">ab</th><th>c</th></tr></thead>'
        '<tbody><tr><td data-label="ab">p</td><td data-label="ab">q</td><td data-label="c">r</td></tr>'
        "</tbody></table>"
    )
    assert stacked(html) == want
    # a script's text is not markup: nothing in it is labelled
    script = (
        '<table class="stack"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>'
    )
    page = f"<script>var t = '<td>';</script>{script}"
    assert stacked(page) == page.replace("<tr><td>1", '<tr><td data-label="a">1')
