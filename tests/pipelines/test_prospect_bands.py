"""The band counts of a run (the manifest's counts.bands, report.html's band table) and the report's PD
distribution read the debtors with an invoice, a payment or a statement by the as-of date: a prospect of
the debtors table (never invoiced) has a band read from empty features and is counted apart (s39-mixed)."""

from __future__ import annotations

import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.flows.nightly import _counts
from pipelines.scoring.watchlist import TRIGGERS


def _scored() -> pd.DataFrame:
    """d1 (A) and d2 (B) live with a history, d3 in default, p1 and p2 prospects whose empty features read
    PD 0.5 % (band A) and 2 % (band B)."""
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(["d1", "d2", "d3", "p1", "p2"], dtype="string"),
            "pd": [0.005, 0.02, 1.0, 0.005, 0.02],
            "band": ["A", "B", "default", "A", "B"],
            "in_default": [False, False, True, False, False],
            "has_history": [True, True, True, False, False],
        }
    )


def test_the_band_counts_leave_prospects_out_and_count_them_apart() -> None:
    """By hand: A 1 (d1), B 1 (d2), C-E 0, default 1 (d3), never invoiced 2 (p1, p2): 5 in all, the
    debtors scored. Before session 39: A 2, B 2 (the prospects in their empty features' bands)."""
    flags = pd.DataFrame({f"trigger_{t}": [False] * 5 for t in TRIGGERS})
    q = pd.DataFrame(
        {"next_action": pd.Series([], dtype="string"), "expected_loss": pd.Series([], dtype="float64")}
    )
    rq = pd.DataFrame(
        {"next_action": pd.Series([], dtype="string"), "recoverable_amount": pd.Series([], dtype="float64")}
    )
    c = _counts(_scored(), {"flags": flags, "watchlist": flags.iloc[:0]}, q, rq, None, NightlyConfig(), "EUR")
    assert c["bands"] == {"A": 1, "B": 1, "C": 0, "D": 0, "E": 0, "default": 1, "no_history": 2}
    assert sum(c["bands"].values()) == c["scored"] == 5 and c["live_without_history"] == 2


def test_the_report_says_never_invoiced_and_draws_the_pd_distribution_without_them(monkeypatch) -> None:
    """report.html's band table names the prospects' row "never invoiced: no band"; the PD distribution
    draws d1 and d2 alone (2 debtors; before: 4 with the prospects)."""
    import numpy as np

    from pipelines.report import render_report

    cfg = NightlyConfig()
    scored = _scored().assign(
        name=lambda f: f["debtor_id"], segment="retail", as_of=pd.Timestamp("2024-03-31")
    )
    counts = {"scored": 5, "in_default": 1, "flagged": 0, "queue": 0, "expected_loss": 0.0,
              "bands": {"A": 1, "B": 1, "C": 0, "D": 0, "E": 0, "default": 1, "no_history": 2}, "triggers": {}}  # fmt: skip
    drawn = []
    import pipelines.report as report

    real = report.pd_distribution_svg

    def spy(values, *args, **kwargs):  # the values the chart is drawn from
        drawn.append(np.asarray(values).tolist())
        return real(values, *args, **kwargs)

    monkeypatch.setattr(report, "pd_distribution_svg", spy)
    html = render_report(
        as_of="2024-03-31", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=scored,
        previous=None, previous_as_of=None, watchlist=scored.iloc[:0].assign(triggers="", reason_1="",
        pd_change=np.nan, band_prev=None), reason_columns=["reason_1"], counts=counts,
        drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
        calibration=None, waterfalls=[], cfg=cfg,
    )  # fmt: skip
    assert '<td>never invoiced: no band</td><td class="num">2</td>' in html
    assert drawn and all(sorted(d) == [0.005, 0.02] for d in drawn)


def test_the_pd_trend_leaves_prospects_out_of_its_quantiles_and_band_shares(tmp_path) -> None:
    """report.html's PD across runs, by hand, the five debtors above with the prospects' empty features read
    at PD 30 %. Today (2024-03-31) and an earlier run (2024-02-29) with has_history: the live debtors with a
    history are d1 (0.5 %) and d2 (2 %): median and mean 1.25 %; band shares over d1, d2, d3: A 1/3, B 1/3.
    A run without has_history (2024-01-31, before session 37) counts every live debtor, as before: 0.5, 2,
    30, 30 %: median 16 %, mean 15.625 %; shares over all five: A 2/5, B 2/5. Before session 39 every row
    read as that one."""
    import pytest

    from pipelines.report.portfolio import pd_history

    scored = _scored().assign(pd=[0.005, 0.02, 1.0, 0.3, 0.3])
    old = tmp_path / "runs" / "2024-01-31"
    new = tmp_path / "runs" / "2024-02-29"
    for run, frame in ((old, scored.drop(columns="has_history")), (new, scored)):
        run.mkdir(parents=True)
        frame.to_parquet(run / "scores.parquet")
    trend = pd_history(tmp_path / "runs", "2024-03-31", scored, ["A", "B"], 12).set_index("as_of")
    assert list(trend.index) == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert trend["p50"].tolist() == pytest.approx([0.16, 0.0125, 0.0125])
    assert trend["mean"].tolist() == pytest.approx([0.15625, 0.0125, 0.0125])
    assert trend["share_A"].tolist() == pytest.approx([2 / 5, 1 / 3, 1 / 3])
    assert trend["share_B"].tolist() == pytest.approx([2 / 5, 1 / 3, 1 / 3])
    assert trend["debtors"].tolist() == [5, 5, 5] and trend["live"].tolist() == [4, 4, 4]
