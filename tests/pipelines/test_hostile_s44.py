"""Attacks of session 44 (s44-attack; BENCHMARKS.md "Session 44 (s44-attack)"). Hand-built ledgers and
the bad-input corpus's clean base (tests/data/ingest/base: D1..D3, I1..I3, P1..P3, as of 2024-06-30); every
expected number is by hand.

`--out` inside `--data` (left by session 43, which refused only `--out` equal to `--data`): `ews score`,
`backfill` and `backtest` wrote their outputs into the ingest output, where deleting the folder to ingest the
book over takes them along (the audit log too), and `ews features --out DATA/invoices/bucket=0/part-0.parquet`
wrote the features over the ingested invoices (gen 3732: 4,060 invoice rows replaced by 79 feature rows; the
next `ews score` refused the folder as a mix of two ingests)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import ingest_files

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests" / "data" / "ingest" / "base"
AS_OF = dt.date(2024, 6, 30)
RULES = RulesConfig(data_docs=False)


def _ingested(tmp_path: Path) -> Path:
    data = tmp_path / "ingested"
    files = {t: BASE / f"{t}.csv" for t in ("debtors", "invoices", "payments", "events")}
    ingest_files(files, data, as_of=AS_OF, settings=RULES)
    return data


def _said(output: str) -> str:
    return " ".join(output.split())


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("command", "out_name", "what"),
    [
        ("score", "runs", "the runs and the analysts' audit log (overrides.jsonl)"),
        ("backfill", "runs", "the runs and the analysts' audit log (overrides.jsonl)"),
        ("backtest", "bt", "backtest.json, backtest.html and the book's record"),
        ("features", "invoices/bucket=0/part-0.parquet", "the features file and its column sidecar"),
    ],
)
def test_out_inside_the_data_folder_is_refused_before_any_work(
    command: str, out_name: str, what: str, tmp_path: Path
) -> None:
    data = _ingested(tmp_path)
    before = _tree(data)
    out = data / out_name
    dates = {
        "score": ["--as-of", "2024-06-30"],
        "backfill": ["--from", "2024-05-01", "--to", "2024-06-30"],
        "backtest": ["--from", "2024-03-31", "--to", "2024-06-30"],
        "features": ["--as-of", "2024-06-30"],
    }[command]
    result = CliRunner().invoke(app, [command, "--data", str(data), *dates, "--out", str(out)])
    assert result.exit_code == 2, result.output
    said = _said(result.output)
    assert f"--out {out} is inside the --data folder {data}: {what}" in said, said
    beside = tmp_path / ("runs" if out_name == "runs" else "backtest" if command == "backtest" else out.name)
    assert f"Write outside {data}, e.g. --out {os.path.realpath(beside.parent)}/{beside.name}" in said, said
    assert "Traceback" not in result.output
    assert _tree(data) == before  # nothing written: the invoices' part file is the ingest's


def test_out_through_a_symlink_into_the_data_folder_is_refused(tmp_path: Path) -> None:
    """`--out link/runs` where link -> the ingest output: inside --data once resolved."""
    data = _ingested(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(data, target_is_directory=True)
    result = CliRunner().invoke(
        app, ["score", "--data", str(data), "--as-of", "2024-06-30", "--out", str(link / "runs")]
    )
    assert result.exit_code == 2, result.output
    assert f"--out {link / 'runs'} is inside the --data folder {data}" in _said(result.output)
    assert not (data / "runs").exists()


def test_nightly_config_refuses_out_dir_inside_data_dir(tmp_path: Path) -> None:
    text = (ROOT / "conf" / "nightly.yaml").read_text(encoding="utf-8")
    path = tmp_path / "nightly.yaml"
    path.write_text(text.replace("out_dir: data/runs ", "out_dir: data/sample/runs ", 1), encoding="utf-8")
    checked = CliRunner().invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 2, checked.output
    assert "out_dir 'data/sample/runs' is inside data_dir 'data/sample'" in _said(checked.output)
    path.write_text(text.replace("out_dir: data/runs ", "out_dir: data/sample-runs ", 1), encoding="utf-8")
    beside = CliRunner().invoke(app, ["config", "check", str(path)])  # a name that starts alike is beside
    assert beside.exit_code == 0, beside.output


def _frame(labels: list[float | None], in_default_last: int, last_rows: int) -> pd.DataFrame:
    """A modelling frame: the given labels at 2024-01-31, then ``last_rows`` unlabelled rows at 2024-02-29
    of which ``in_default_last`` are in default."""
    first = pd.DataFrame(
        {
            "debtor_id": [f"D{i}" for i in range(len(labels))],
            "as_of": pd.Timestamp("2024-01-31"),
            "label": pd.array(labels, dtype="Int64"),
            "horizon_observed": True,
            "in_default_at_asof": False,
        }
    )
    last = pd.DataFrame(
        {
            "debtor_id": [f"D{i}" for i in range(last_rows)],
            "as_of": pd.Timestamp("2024-02-29"),
            "label": pd.array([None] * last_rows, dtype="Int64"),
            "horizon_observed": False,
            "in_default_at_asof": [i < in_default_last for i in range(last_rows)],
        }
    )
    return pd.concat([first, last], ignore_index=True)


def test_train_warns_of_an_implausible_default_rate() -> None:
    """s43-walk: `ews train` fitted LightGBM on a 36.36 % test default rate (credit notes that never
    reached their invoices) without a word. 36 of 100 labelled rows default (4 more rows in default at
    T are not labelled): 36.0 %, above 10 % at 90 days; 30 of the 40 debtors of the last month-end are in
    default."""
    from pipelines.flows.train import default_rate_warning

    frame = _frame([1] * 36 + [0] * 64 + [None] * 4, in_default_last=30, last_rows=40)
    said = default_rate_warning(frame, 90)
    assert said is not None
    assert said.startswith(
        "implausible default rate: 36.0% of the 100 labelled debtor-month-ends default within 90 days "
        "(36 defaults); 30 of the 40 debtors are in default at the last month-end (2024-02-29). A "
        "trade-receivables book above 10% is rare: it usually means an ingest that left paid invoices open"
    ), said
    assert (
        "quarantine/payments.csv" in said and "if the book really defaults this often, nothing to do" in said
    )
    # a 180-day horizon doubles the limit: 36 % is still above 20 %; 365 days: 40.6 %, not above
    assert "above 20% is rare" in (default_rate_warning(frame, 180) or "")
    assert default_rate_warning(frame, 365) is None


def test_no_default_rate_warning_at_a_plausible_rate_or_too_few_defaults() -> None:
    from pipelines.flows.train import default_rate_warning

    # 10 of 100 is 10 %: at the limit, not above it
    assert default_rate_warning(_frame([1] * 10 + [0] * 90, 0, 1), 90) is None
    # 11 of 100 is above it
    assert default_rate_warning(_frame([1] * 11 + [0] * 89, 0, 1), 90) is not None
    # 9 of 20 (45 %) rests on fewer than 10 defaults: a tiny book's noise, no warning
    assert default_rate_warning(_frame([1] * 9 + [0] * 11, 0, 1), 90) is None
