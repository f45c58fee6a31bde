"""Attacks of session 43 (s43-attack; BENCHMARKS.md "Session 43 (s43-attack)"). Hand-built ledgers;
every expected number is by hand. Each test fails on main c7b8c1d.

Payment plans dated before they were agreed (left by s42-attack): a plan whose first instalment fell
due a year before it was agreed was accepted, then, its last instalment long past, silently not in
force; a plan entered ten days after its first instalment read as broken at once although that
instalment was paid on its due date (only payments since ``agreed_on`` counted). Now a first due date
more than 31 days (one monthly instalment) before ``agreed_on`` is quarantined
``first_due_before_agreed``; within 31 days the payments count from the first due date.

The ledger: debtors D1..D4, one invoice each (I1..I4, 1,000.00, issued 2024-03-01, due 2024-03-31).
Payments: D2 pays 100.00 on 2024-05-01 and 100.00 on 2024-06-01 (its plan's two instalments, the
first before the plan was entered on 2024-05-11)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import ingest_files
from pipelines.scoring.plans import check_plans

AS_OF = dt.date(2024, 6, 30)
RULES = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
# debtor, agreed_on, first_due, installment_amount, installments
PLANS = [
    ("D1", "2024-05-15", "2023-05-15", "100", "6"),  # a year typed wrong: 365 days before
    ("D2", "2024-05-11", "2024-05-01", "100", "6"),  # entered 10 days after its first instalment
    ("D3", "2024-05-15", "2024-04-05", "100", "6"),  # 40 days before: quarantined
    ("D4", "2024-05-15", "2024-04-14", "100", "6"),  # 31 days before: the tolerance, accepted
]


def _files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = ["D1", "D2", "D3", "D4"]
    frames = {
        "debtors": pd.DataFrame({"debtor_id": ids}),
        "invoices": pd.DataFrame(
            {
                "invoice_id": [f"I{i}" for i in range(1, 5)],
                "debtor_id": ids,
                "issue_date": "2024-03-01",
                "due_date": "2024-03-31",
                "amount": "1000.00",
            }
        ),
        "payments": pd.DataFrame(
            {
                "payment_id": ["P1", "P2"],
                "debtor_id": ["D2", "D2"],
                "invoice_id": ["I2", "I2"],
                "paid_on": ["2024-05-01", "2024-06-01"],
                "amount": ["100.00", "100.00"],
            }
        ),
        "payment_plans": pd.DataFrame(
            PLANS, columns=["debtor_id", "agreed_on", "first_due", "installment_amount", "installments"]
        ),
    }
    files = {}
    for table, frame in frames.items():
        files[table] = folder / f"{table}.csv"
        frame.to_csv(files[table], index=False)
    return files


def test_a_plan_whose_first_instalment_is_over_a_month_before_it_was_agreed_is_quarantined(
    tmp_path: Path,
) -> None:
    """D1 (365 days before) and D3 (40 days) quarantined first_due_before_agreed; D2 (10 days) and D4
    (31 days: the limit) accepted. Rows in 4 = accepted 2 + quarantined 2."""
    result = ingest_files(_files(tmp_path / "in"), None, as_of=AS_OF, settings=RULES, default_currency="EUR")
    assert result.portfolio.payment_plans["debtor_id"].tolist() == ["D2", "D4"]
    q = result.quarantine["payment_plans"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        1: "first_due_before_agreed",
        3: "first_due_before_agreed",
    }
    m = result.manifest["tables"]["payment_plans"]
    assert (m["rows_in"], m["rows_accepted"], m["rows_quarantined"]) == (4, 2, 2)


def test_a_plan_entered_days_after_its_first_instalment_counts_that_instalment(tmp_path: Path) -> None:
    """D2: 6 x 100 from 2024-05-01, agreed 2024-05-11; as of 2024-06-30 (cut-off 06-23) two instalments
    are due (05-01, 06-01) = 200.00; paid 100 on 05-01 and 100 on 06-01 = 200.00: kept. On main only
    the 06-01 payment (since agreed_on) counted: "100.00 paid since 2024-05-11 of 200.00", broken."""
    result = ingest_files(_files(tmp_path / "in"), None, as_of=AS_OF, settings=RULES, default_currency="EUR")
    book = result.portfolio
    checked = check_plans(book.payment_plans, book.payments, pd.Timestamp(AS_OF))
    d2 = checked.loc["D2"]
    assert (d2["due_count"], d2["due"], d2["paid"], bool(d2["kept"])) == (2, 200.0, 200.0, True)
    # D4: 6 x 100 from 2024-04-14, agreed 2024-05-15: three due (04-14, 05-14, 06-14) = 300.00, nothing
    # paid since 04-14 (D4 pays nothing): broken, and the text says the day the count starts
    d4 = checked.loc["D4"]
    assert d4["text"] == (
        "payment plan broken: 0.00 paid since 2024-04-14 of 300.00 due by 2024-06-30 (3 of 6 instalments): "
        "6 x 100.00 from 2024-04-14 (payment_plans, agreed 2024-05-15)"
    )


def test_a_plan_kept_from_before_the_rule_counts_at_most_31_days_before_it_was_agreed() -> None:
    """A history ingested before the rule may hold a plan a year early (D1: 24 x 100 from 2023-05-15,
    agreed 2024-05-15, in force). A year of ordinary payments must not count as instalments: the count
    starts 31 days before agreed_on (2024-04-14). Due by 06-23: 14 instalments (2023-05-15 .. 2024-06-15)
    = 1,400.00; paid since 2024-04-14: 500.00 (the 2024-01-10 payment of 5,000.00 is before): broken."""
    plans = pd.DataFrame(
        {
            "debtor_id": pd.Series(["D1"], dtype="string"),
            "agreed_on": pd.to_datetime(["2024-05-15"]),
            "first_due": pd.to_datetime(["2023-05-15"]),
            "installment_amount": [100.0],
            "installments": pd.array([24], dtype="Int64"),
            "status": pd.Series([None], dtype="string"),
        }
    )
    payments = pd.DataFrame(
        {
            "debtor_id": pd.Series(["D1", "D1"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-01-10", "2024-05-20"]),
            "amount": [5000.0, 500.0],
        }
    )
    r = check_plans(plans, payments, pd.Timestamp(AS_OF)).loc["D1"]
    assert (r["due_count"], r["due"], r["paid"], bool(r["kept"])) == (14, 1400.0, 500.0, False)
    assert "500.00 paid since 2024-04-14 of 1,400.00" in r["text"]


def _pdless_run(tmp_path: Path) -> Path:
    """A published run without a PD model: scores.parquet with PD empty (as `ews score` writes it)."""
    runs = tmp_path / "runs"
    run = runs / "2024-06-30"
    run.mkdir(parents=True)
    pd.DataFrame(
        {"debtor_id": pd.Series(["D1"], dtype="string"), "pd": [float("nan")], "in_default": [False]}
    ).to_parquet(run / "scores.parquet")
    (run / "manifest.json").write_text(json.dumps({"as_of": "2024-06-30"}))
    return runs


def test_an_override_in_a_run_without_a_pd_model_writes_json_and_says_no_pd(tmp_path: Path) -> None:
    """Before: the line held "pd":NaN (no JSON: JavaScript's JSON.parse, Go, PostgreSQL's jsonb refuse
    it) and the command said "PD nan%". Now null, and "PD n/a"."""
    runs = _pdless_run(tmp_path)
    result = CliRunner().invoke(
        app,
        ["watchlist", "override", "D1", "--status", "escalated", "--reason", "called", "--by", "ann"]
        + ["--out", str(runs)],
    )
    assert result.exit_code == 0, result.output
    assert "PD n/a in run 2024-06-30" in result.output
    assert "nan" not in result.output.lower()
    line = (runs / "overrides.jsonl").read_text(encoding="utf-8")
    assert "NaN" not in line

    def strict(constant: str) -> None:
        raise ValueError(constant)

    assert json.loads(line, parse_constant=strict)["pd"] is None


CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize(
    ("file", "line", "typed", "key"),
    [
        ("ews.yaml", "  dpd_threshold: 90", "  dpd_threshold: true", "default_definition.dpd_threshold"),
        ("nightly.yaml", "max_data_lag_days: 35", "max_data_lag_days: true", "max_data_lag_days"),
        ("nightly.yaml", "max_quarantine_share: 0.2", "max_quarantine_share: false", "max_quarantine_share"),
    ],
)
def test_a_boolean_where_a_number_goes_is_refused(
    tmp_path: Path, file: str, line: str, typed: str, key: str
) -> None:
    """Before: `dpd_threshold: true` passed `ews config check` as a default after 1 day past due,
    `max_data_lag_days: true` as 1 day, `max_quarantine_share: false` as 0 (every quarantined row
    refused). Now exit 2 naming the file and the key."""
    text = (CONF / file).read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / file
    path.write_text(text.replace(line, typed, 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"- {key}: expected a number, but YAML read the unquoted value as a boolean" in result.output
    # the number itself, and a boolean field's true, still pass
    path.write_text(text.replace("enabled: true", "enabled: false"), encoding="utf-8")
    assert CliRunner().invoke(app, ["config", "check", str(path)]).exit_code == 0


def test_a_debtor_dropped_from_the_debtors_table_is_named_with_its_open_balance(tmp_path: Path) -> None:
    """Debtors D1, D2; invoices I1 (D1, 100.00), I2 (D3, 500.00), I3 (D3, 300.00); P1 pays 200.00 of I2.
    D3 is not in the debtors table: I2, I3 and P1 quarantined unknown_debtor (as on main), and now a
    warning names D3: 2 invoices, 800.00 invoiced, 200.00 paid, 600.00 open. Before: the table's counts
    only (gen 3694 with D0000030 left out: 225 invoices, 354,490.12 open, no word)."""
    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"debtor_id": ["D1", "D2"]}).to_csv(folder / "debtors.csv", index=False)
    pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "debtor_id": ["D1", "D3", "D3"],
            "issue_date": "2024-05-01",
            "due_date": "2024-05-31",
            "amount": ["100.00", "500.00", "300.00"],
        }
    ).to_csv(folder / "invoices.csv", index=False)
    pd.DataFrame(
        {"payment_id": ["P1"], "debtor_id": ["D3"], "invoice_id": ["I2"], "paid_on": ["2024-06-01"]}
        | {"amount": ["200.00"]}
    ).to_csv(folder / "payments.csv", index=False)
    files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
    result = ingest_files(files, None, as_of=AS_OF, settings=RULES, default_currency="EUR")
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1"]
    said = [w for w in result.manifest["warnings"] if "missing from the debtors table" in w]
    assert said == [
        "invoices: 2 invoices of 1 debtor missing from the debtors table quarantined (unknown_debtor) with 1 "
        "payment, 600.00 open in all: D3 (2 invoices, 800.00 invoiced, 200.00 paid, 600.00 open). They are left "
        "out of features, scoring and the queues. A customer master that dropped a customer who still owes "
        "money does this: add the debtor to the debtors table (or ingest without --debtors); see "
        "quarantine/invoices.csv"
    ]
    # the streamed ingest (debtor partitions, two forked workers) says the same
    from pipelines.config.source import FileSource, SourceConfig
    from pipelines.ingest import ingest_source

    source = SourceConfig(name="files", rules=RULES, tables={t: FileSource(path=p) for t, p in files.items()})
    streamed = ingest_source(
        source, tmp_path / "streamed", as_of=AS_OF, stream=True, chunk_rows=2, partitions=2, workers=2
    ).manifest
    assert [w for w in streamed["warnings"] if "missing from the debtors table" in w] == said
    # without the debtors table nobody is missing from it
    files.pop("debtors")
    result = ingest_files(files, None, as_of=AS_OF, settings=RULES, default_currency="EUR")
    assert not [w for w in result.manifest["warnings"] if "missing from the debtors table" in w]


def test_data_given_as_a_folder_inside_an_ingest_output_names_the_output(tmp_path: Path) -> None:
    """`ews score --data data/ingested/invoices` (a table's folder): before, "not an `ews ingest` output ...
    Validate it once: `ews ingest --invoices data/ingested/invoices/invoices.csv ...`", a file that does
    not exist. Now: pass its parent."""
    out = tmp_path / "ingested"
    ingest_files(_files(tmp_path / "in"), out, as_of=AS_OF, settings=RULES, default_currency="EUR")
    result = CliRunner().invoke(
        app,
        ["score", "--data", str(out / "invoices"), "--as-of", "2024-06-30", "--out", str(tmp_path / "runs")],
    )
    assert result.exit_code == 2, result.output
    assert (
        f"--data {out / 'invoices'} is a folder inside the `ews ingest` output {out}: pass --data {out}"
        in (" ".join(result.output.split()))
    )
    assert not (tmp_path / "runs").exists()


def test_runs_into_the_data_folder_are_refused(tmp_path: Path) -> None:
    """`ews score --data X --out X`: before, exit 0 with the run, .versions, book.json and later the audit
    log among the ingested tables (gen 3694), where deleting the folder to start a history over (what
    `ews ingest` advises) deletes them too. Now exit 2 before any work; nightly.yaml alike."""
    data = tmp_path / "ingested"
    ingest_files(_files(tmp_path / "in"), data, as_of=AS_OF, settings=RULES, default_currency="EUR")
    before = sorted(p.name for p in data.iterdir())
    result = CliRunner().invoke(
        app, ["score", "--data", str(data), "--as-of", "2024-06-30", "--out", f"{data}/"]
    )
    assert result.exit_code == 2, result.output
    assert f"--out {data} is the --data folder" in " ".join(result.output.split())
    assert sorted(p.name for p in data.iterdir()) == before
    text = (CONF / "nightly.yaml").read_text(encoding="utf-8")
    path = tmp_path / "nightly.yaml"
    path.write_text(text.replace("out_dir: data/runs ", "out_dir: ./data/sample/ ", 1), encoding="utf-8")
    checked = CliRunner().invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 2, checked.output
    assert "out_dir 'data/sample' is data_dir" in " ".join(checked.output.split())
