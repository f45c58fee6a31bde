"""report.html's Calibration table prints rates as ``ews train`` does (s36-walk W10: the report showed
mean PD 0.0071, default rate 0.0088 and capture 0.5714 where ``ews train`` printed 0.71%, 0.88%, 57.14%)."""

from __future__ import annotations


def test_report_metrics_print_rates_in_percent_as_ews_train_does() -> None:
    from pipelines.commands.train import metric_cells
    from pipelines.report import metrics_table

    model = {
        "kind": "lightgbm",
        "metrics": {
            "test_mean_pd": 0.0071,
            "test_default_rate": 0.0088,
            "test_capture_5pct": 0.5714,
            "test_capture_5pct_ci_low": 0.4,
            "test_capture_5pct_ci_high": 0.7125,
            "test_ece": 0.0031,
            "test_ece_ci_low": 0.0012,
            "test_ece_ci_high": 0.0052,
            "test_defaults": 58.0,
        },
        "compared": {"baseline_test_capture_5pct": 0.5},
    }
    rows = {r["name"]: r for r in metrics_table(model)["rows"]}
    assert rows["test_mean_pd"]["value"] == "0.71%"
    assert rows["test_default_rate"]["value"] == "0.88%"
    capture = rows["test_capture_5pct"]
    assert (capture["value"], capture["interval"], capture["others"]) == (
        "57.14%",
        "40.00%..71.25%",
        ["50.00%"],
    )
    assert (rows["test_ece"]["value"], rows["test_ece"]["interval"]) == ("0.0031", "0.0012..0.0052")
    assert rows["test_defaults"]["value"] == "58"
    # the same text as the console table of ews train (its keys are bare)
    assert metric_cells("mean_pd", 0.0071, (0.005, 0.01), [0.0088])[1:] == ["0.71%", "0.50%..1.00%", "0.88%"]
    assert metric_cells("auc", 0.8, None, [])[1] == "0.8000"
