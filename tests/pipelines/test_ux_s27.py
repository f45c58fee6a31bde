"""Session 27 (s27-ux): what a credit analyst, a collections lead and a new user read in the console.
Figures by hand."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console


def _text(renderable, width: int = 120) -> list[str]:
    console = Console(record=True, width=width)
    console.print(renderable)
    return console.export_text().splitlines()


def _row(lines: list[str], name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``."""
    line = next(line for line in lines if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_the_roll_rate_table_names_its_metrics_in_words_and_rates_in_percent() -> None:
    """The README walk's roll-rate table read "test_mean_pd 0.0070" and "test_default_rate 0.0076"
    (fractions, config-style names). Now: "mean PD 0.70%", beside the book's default rate (the
    baseline column of fff0e7b); AUC, Gini, KS, Brier keep four decimals."""
    from pipelines.commands.train import print_rollrate

    metrics = {"auc": 0.8771, "gini": 0.7542, "ks": 0.61, "brier": 0.0075, "ece": 0.0013, "logloss": 0.0375,
               "mean_pd": 0.0070, "default_rate": 0.0076}  # fmt: skip
    base = {**metrics, "auc": 0.5, "gini": 0.0, "mean_pd": 0.0081}
    result = SimpleNamespace(
        headline="small book", selection="", version="1", run_id="6ac677d9a7ce00", metrics=metrics,
        intervals={"challenger": {"auc": (0.7708, 0.9463), "mean_pd": (0.0061, 0.0079)}},
        baseline_metrics=base, plan={"test": ["2024-03-31", "2024-09-30"]}, queue_key_reason="x",
        promoted=True, gate_reasons=[], gate_summary="", champion_before="1",
    )  # fmt: skip
    console = Console(record=True, width=120)
    print_rollrate(console, result)
    lines = console.export_text().splitlines()
    assert _row(lines, "AUC") == ["AUC", "0.8771", "0.7708..0.9463", "0.5000"]
    assert _row(lines, "mean PD") == ["mean PD", "0.70%", "0.61%..0.79%", "0.81%"]
    assert _row(lines, "default rate") == ["default rate", "0.76%", "", "0.76%"]
    assert _row(lines, "ECE (calibration)")[1] == "0.0013"
    assert not any("test_" in line for line in lines)


def test_the_lightgbm_table_reads_the_same_way() -> None:
    """The larger books' table beside LightGBM and the scorecard: the same names and units."""
    from pipelines.commands.train import metrics_table

    metrics = {"auc": 0.81, "capture_5pct": 0.3125, "default_rate": 0.0214}
    result = SimpleNamespace(
        version="3", run_id="abcdef123456", kind="lightgbm", metrics=metrics, plan={"calibration": ["x"]},
        intervals={"challenger": {"auc": (0.79, 0.83)}}, lightgbm_metrics=metrics,
        baseline_metrics={"auc": 0.74, "capture_5pct": 0.25, "default_rate": 0.0214},
    )  # fmt: skip
    lines = _text(metrics_table(result))
    assert _row(lines, "AUC") == ["AUC", "0.8100", "0.7900..0.8300", "0.8100", "0.7400"]
    assert _row(lines, "capture in top 5 %")[1:] == ["31.25%", "", "31.25%", "25.00%"]
    assert _row(lines, "default rate")[1] == "2.14%" and "scorecard" in lines[2]
