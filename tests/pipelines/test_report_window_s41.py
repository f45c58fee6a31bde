"""Session 41 (lead, from s41-calib): the report's Calibration section names the test window its figures
were measured on. A small book's first model is judged on the latest labelled month-ends holding half its
defaults: on unseen s293 cut to 150 debtors one quarter, its worst (2.19 % defaulted against 0.62-1.34 %
in the others), and the report named neither the dates nor how many month-ends they were."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

METRICS = {"test_auc": 0.9612, "test_mean_pd": 0.0043, "test_default_rate": 0.0219, "test_rows": 1366.0,
           "test_defaults": 8.0}  # fmt: skip


def test_window_words_name_the_month_ends_rows_and_defaults() -> None:
    from pipelines.report import metrics_table, test_window_words

    # 2024-01-31, 02-29, 03-31: three month-ends; counts with a thousands separator
    assert test_window_words("2024-01-31..2024-03-31", METRICS) == (
        "Test window: 3 month-ends, 2024-01-31 to 2024-03-31 (1,366 rows, 8 defaults)."
    )
    # across a year end: 2023-11-30, 12-31, 2024-01-31, 02-29 are four
    assert test_window_words("2023-11-30..2024-02-29", {"test_rows": 40.0}) == (
        "Test window: 4 month-ends, 2023-11-30 to 2024-02-29 (40 rows)."
    )
    assert test_window_words("2024-03-31", METRICS) == (
        "Test window: the month-end 2024-03-31 (1,366 rows, 8 defaults)."
    )
    assert test_window_words("2024-03-31", {}) == "Test window: the month-end 2024-03-31."
    for missing in (None, "", "not a date", "2024-03-31..2024-01-31"):
        assert test_window_words(missing, METRICS) is None
    table = metrics_table({"kind": "rollrate", "metrics": METRICS, "test_as_of": "2024-01-31..2024-03-31"})
    assert table["window"].startswith("Test window: 3 month-ends")
    assert metrics_table({"kind": "rollrate", "metrics": METRICS})["window"] is None


def test_report_html_shows_the_window_under_the_calibration_table() -> None:
    from pipelines.report import render_report
    from tests.pipelines.test_report import CFG, scores

    today = scores([0.12, 0.02, 0.25, 0.5], ["a", "b", "c", "n"])

    def html(span: str | None) -> str:
        return render_report(
            as_of="2024-06-30", model={"name": "ews-pd", "version": "1", "alias": "champion", "kind": "rollrate",
            "metrics": METRICS, "test_as_of": span}, config_hash="0" * 64, scored=today,
            previous=None, previous_as_of=None, watchlist=today.assign(triggers="threshold", reason_1="late",
            pd_change=np.nan, band_prev=None).head(1), reason_columns=["reason_1"], counts={"scored": 4,
            "in_default": 0, "flagged": 1, "queue": 0, "expected_loss": 0.0, "bands": {}, "triggers": {}},
            drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
            calibration=pd.DataFrame({"mean_pd": [0.02, 0.1], "default_rate": [0.025, 0.09]}),
            waterfalls=[], cfg=CFG,
        )  # fmt: skip

    page = html("2024-01-31..2024-03-31")
    said = re.search(r'<p class="note" id="test-window">(.*?)</p>', page)
    assert said is not None and page.index('id="metrics-table"') < said.start() < page.index('id="drift"')
    assert said.group(1) == "Test window: 3 month-ends, 2024-01-31 to 2024-03-31 (1,366 rows, 8 defaults)."
    assert 'id="test-window"' not in html(None)
