"""Session 40 (s40-review): tests for mutants of session 40's commits that their own tests let through
(benchmarks/review_mutations.py, F entries)."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pandas as pd
import yaml

from tests.pipelines.test_walk_s40 import S293_METRICS, S293_REASONS

ROOT = Path(__file__).resolve().parents[2]


def test_report_gate_warning_reads_the_warned_checks_only() -> None:
    """F2 (5195272): a champion whose gate FAILED (promoted by hand, `ews models promote`) was not
    "promoted with a warning as the first model of this book"; only WARN checks are that warning."""
    from pipelines.report import metrics_table

    failed = S293_REASONS.replace("WARN ECE", "FAIL ECE")
    assert (
        metrics_table({"kind": "rollrate", "metrics": S293_METRICS, "gate_reasons": failed})["warning"]
        is None
    )
    # a FAIL beside the WARN: the warning names the WARN check alone (the ECE check, in words), not the AUC
    both = S293_REASONS.replace("ok AUC 0.9612", "FAIL AUC 0.9612")
    said = metrics_table({"kind": "rollrate", "metrics": S293_METRICS, "gate_reasons": both})["warning"]
    assert (
        said is not None and "(mean PD 0.43% vs 2.19% defaulted)" in said and "ranks too poorly" not in said
    )


def test_the_nightly_report_says_the_champion_was_promoted_with_a_warning(
    prefect_harness, mlflow_uri, tmp_path
) -> None:
    """F1 (5195272): the nightly passes the champion's ``ews.gate.reasons`` to the report. 5195272's tests
    rendered the report from a hand-built model dict; dropping the nightly's ``gate_reasons`` left them
    passing. A 100-debtor book's roll-rate v1, its ECE check stored as the WARN a first model gets: the
    nightly's report.html says so in the header and in Calibration, with the version's own test figures."""
    from mlflow.tracking import MlflowClient

    from pipelines.flows.nightly import nightly
    from pipelines.flows.train import run_train
    from pipelines.ingest import ingest_dir
    from pipelines.synthetic import GeneratorParams, generate

    raw = tmp_path / "book100"
    generate(GeneratorParams(debtors=100, months=24, seed=3, annual_default_rate=0.08), raw)
    ingest_dir(raw, raw / "ingested")
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "train",
                "project": str(ROOT / "conf" / "ews.yaml"),
                "evaluation": {"bootstrap_samples": 50},
            }
        )
    )
    result = run_train(raw / "ingested", config)
    assert result.kind == "rollrate" and result.promoted, result.gate_reasons
    client = MlflowClient()
    mv = client.get_model_version("ews-pd", result.version)
    reasons = mv.tags["ews.gate.reasons"]
    ece = re.search(r"(?:^|; )(ok|WARN) ECE \(calibration\)", reasons)
    assert ece is not None, reasons
    warned = reasons[: ece.start(1)] + "WARN" + reasons[ece.end(1) :]
    client.set_model_version_tag("ews-pd", result.version, "ews.gate.reasons", warned)
    metrics = client.get_run(mv.run_id).data.metrics
    mean_pd, rate = metrics["test_mean_pd"], metrics["test_default_rate"]
    assert rate > 0  # the sentence with both figures (a test window without a default has another one)

    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(f"kind: nightly\nproject: {ROOT / 'conf' / 'ews.yaml'}\nreport:\n  waterfalls: 2\n")
    last = pd.Timestamp(result.plan["test"][-1]) + pd.offsets.MonthEnd(3)
    nightly(as_of=last.date(), config_path=cfg, data_dir=raw / "ingested", out_dir=tmp_path / "runs")
    page = (tmp_path / "runs" / last.strftime("%Y-%m-%d") / "report.html").read_text()
    header = page[page.index("<header>") : page.index("</header>")]
    assert '<a href="#gate-warning">promoted with a warning</a>' in header
    said = re.search(r'<p class="note" id="gate-warning"><b>(.*?)</b></p>', page, re.S)
    assert said is not None
    assert page.index('id="calibration"') < said.start() < page.index('id="drift"')
    assert htmllib.unescape(said.group(1)).startswith(
        "Promoted with a warning at training, as the first model of this book: its PDs missed the default rate "
        f"of the test window (mean PD {mean_pd:.2%} vs {rate:.2%} defaulted) by more than chance."
    )


def _mixed_limit_book():
    """Limits 10,000.00 each; as of 2024-06-15 the month-ends of the last 365 days count (rearm_days 365).
    M, S as test_mixed_s40's limit_breach book (over at 2024-04-30 only: M by its invoice 6,000.00 + statement
    5,000.00, S by its statement of 12,000.00). J: an invoice of 12,000.00 (2024-04-01, unpaid), no statement:
    over at 2024-04-30 and 2024-05-31. N: the same invoice and a statement of -3,000.00 (a credit) at 2024-04-30:
    the statement's balance counts clipped at 0, as tonight's exposure reads it (12,000.00, over at both
    month-ends), not netted against the invoices (9,000.00, never over)."""
    from features.tables import Portfolio
    from tests.features.ledgers import frame, inv

    statements = frame(
        "statements",
        [
            {"debtor_id": d, "period_end": pd.Timestamp(t), "balance": b, "credit_limit": 10_000.0}
            for d, t, b in [
                ("M", "2024-04-30", 5_000.0),
                ("M", "2024-05-31", 0.0),
                ("S", "2024-05-31", 8_000.0),
                ("S", "2024-04-30", 12_000.0),
                ("N", "2024-04-30", -3_000.0),
            ]
        ],
    )
    invoices = frame(
        "invoices",
        [
            inv("M1", "M", "2024-04-01", "2024-05-01", 6_000.0),
            inv("J1", "J", "2024-04-01", "2024-05-01", 12_000.0),
            inv("N1", "N", "2024-04-01", "2024-05-01", 12_000.0),
        ],
    )
    debtors = frame("debtors", [{"debtor_id": d, "credit_limit": 10_000.0} for d in "JMNS"])
    return Portfolio(invoices=invoices, statements=statements, debtors=debtors)


MIXED_MEMORY = {"J": "2024-05-31", "M": "2024-04-30", "N": "2024-05-31", "S": "2024-04-30"}


def test_mixed_book_limit_memory_counts_invoices_alone_and_clips_a_credit_statement() -> None:
    """F12 / F8 (187524a): in a book with both accounts, a debtor without a statement keeps its invoices' memory
    (a missing statement adds 0, not NaN), and a statement in credit adds 0 (clipped) rather than cutting the
    open invoices. 187524a's own test has neither case (I never over, no negative statement)."""
    from features.ledger import prepare_ledger
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import ledger_memory

    book = _mixed_limit_book()
    memory = ledger_memory(
        prepare_ledger(book), pd.Timestamp("2024-06-15"), NightlyConfig(), statements=book.statements
    )
    assert {d: (str(v.date()) if pd.notna(v) else None) for d, v in memory.items()} == MIXED_MEMORY


def test_the_backtest_reads_a_mixed_books_limit_memory_as_the_nightly() -> None:
    """F10 (187524a): ews backtest's replay gives limit_over_ledger_on from both accounts of a mixed book, as the
    nightly's book_ledger_memory does (before 187524a a bucket with an invoice read its invoices alone: M and S
    None). No test of 187524a ran the backtest on a mixed book."""
    from features.params import DefaultDefinition
    from pipelines.backtest import replay
    from pipelines.config.credit import load_credit_policy
    from tests.pipelines.test_backtest import LIMIT_CFG

    policy = load_credit_policy(None, [b.name for b in LIMIT_CFG.bands])
    T = pd.Timestamp("2024-06-15")

    def low(live: pd.DataFrame) -> pd.Series:
        return pd.Series(0.001, index=live["debtor_id"].astype("string").to_numpy(), dtype="float64")

    panel = replay(_mixed_limit_book(), [T], low, LIMIT_CFG, DefaultDefinition(), policy=policy)
    got = panel.set_index("debtor_id")["limit_over_ledger_on"]
    assert {d: (str(v.date()) if pd.notna(v) else None) for d, v in got.items()} == MIXED_MEMORY


def test_a_statements_column_named_current_is_not_taken_for_a_currency() -> None:
    """1ef0942 (s40-attack) says a statements file's ignored currency column is ignored, matching "curr"
    anywhere in the name: an aging export's ignored "Current" (the amount not yet due), "current_balance",
    "Recurring" or "concurrent_limit" read as "the file's column 'Current' is ignored ... If any statement is
    in another currency, convert its amounts", a currency warning about a column that holds no currency."""
    from pipelines.ingest.currency import currency_warnings

    def warned(column: str) -> bool:
        said = currency_warnings({"reporting": "EUR"}, {"statements": {"ignored_columns": [column]}})
        return any(f"the file's column {column!r} is ignored" in w for w in said)

    for column in ("Current", "current_balance", "Days Current", "Recurring", "concurrent_limit"):
        assert not warned(column), column
    for column in ("currency", "Currency", "StatementCurrency", "curr_code", "CCY", "Währung", "Waluta"):
        assert warned(column), column
