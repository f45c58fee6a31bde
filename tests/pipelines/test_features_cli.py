"""``ews features``: Parquet + JSON sidecar, labels joined, clear exit 2 on user errors."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from tests.features.ledgers import inv, pay, portfolio

runner = CliRunner()


def _data_dir(tmp_path):
    p = portfolio(
        [inv("i1", "a", "2024-01-01", "2024-01-31", 100.0), inv("i2", "b", "2024-02-01", "2024-03-02", 60.0)],
        [pay("p1", "a", "2024-03-10", 40.0), pay("p2", "b", "2024-02-20", 60.0, "i2")],
    )
    raw = tmp_path / "raw"
    raw.mkdir()
    p.invoices.to_parquet(raw / "invoices.parquet")
    p.payments.to_parquet(raw / "payments.parquet")
    from pipelines.ingest import ingest_dir

    ingest_dir(raw, tmp_path / "data")  # features read the ingested buckets
    return tmp_path / "data"


def test_features_with_labels_and_sidecar(tmp_path) -> None:
    data, out = _data_dir(tmp_path), tmp_path / "out" / "features.parquet"
    res = runner.invoke(
        app,
        [
            "features",
            "--data",
            str(data),
            "--as-of",
            "2024-01..2024-02,2024-03-31",
            "--labels",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    assert sorted(frame["as_of"].dt.strftime("%Y-%m-%d").unique()) == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
    ]
    a = frame[(frame["debtor_id"] == "a") & (frame["as_of"] == "2024-03-31")].iloc[0]
    assert a["open_balance"] == 60.0 and a["dpd_current_max"] == 60.0  # 40 of 100 paid; 01-31 -> 03-31
    assert pd.isna(a["label"]) and not a["horizon_observed"]  # data end 03-10 < 03-31 + 90 days
    side = json.loads(out.with_suffix(".json").read_text())
    assert set(side["columns"]) == set(frame.columns)
    assert side["columns"]["overdue_amount_90p"]["family"] == "exposure"
    assert side["columns"]["label"]["family"] == "label"
    assert side["default_definition"]["dpd_threshold"] == 90


def test_bad_as_of_and_missing_dir_exit_2(tmp_path) -> None:
    data = _data_dir(tmp_path)
    res = runner.invoke(
        app, ["features", "--data", str(data), "--as-of", "2024-13-01", "--out", str(tmp_path / "f.parquet")]
    )
    assert res.exit_code == 2 and "--as-of" in res.output
    res = runner.invoke(
        app,
        [
            "features",
            "--data",
            str(tmp_path / "nope"),
            "--as-of",
            "2024-01-31",
            "--out",
            str(tmp_path / "f.parquet"),
        ],
    )
    assert res.exit_code == 2 and "not a folder" in res.output
    res = runner.invoke(
        app,
        [
            "features",
            "--data",
            str(tmp_path / "raw"),
            "--as-of",
            "2024-01-31",
            "--out",
            str(tmp_path / "f.parquet"),
        ],
    )
    assert res.exit_code == 2 and "not an `ews ingest` output" in res.output and "--raw" in res.output
