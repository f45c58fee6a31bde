"""Numbers are never silently wrong, and a feed that loses a whole table is refused.

The corpus files live in ``tests/data/ingest/numbers`` (beside the row-defect corpus). Every case
runs the real CLI and checks the exit code, that the message carries no traceback, and that
``rows_in = rows_accepted + rows_quarantined`` for every table of the manifest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
NUM = DATA / "numbers"
BASE = DATA / "base"
AS_OF = "2024-06-30"


def _run(tmp_path: Path, files: dict[str, Path], *extra: str) -> tuple[int, str, dict | None]:
    out = tmp_path / "out"
    args = ["ingest", "--out", str(out), "--as-of", AS_OF, "--no-docs", *extra]
    for table, path in files.items():
        args += [f"--{table}", str(path)]
    result = CliRunner().invoke(app, args)
    return _checked(result, out)


def _run_source(tmp_path: Path, config: str, *extra: str) -> tuple[int, str, dict | None]:
    path = tmp_path / "source.yaml"
    path.write_text(config, encoding="utf-8")
    out = tmp_path / "out"
    args = ["ingest", "--source", str(path), "--out", str(out), "--as-of", AS_OF, "--no-docs", *extra]
    return _checked(CliRunner().invoke(app, args), out)


def _checked(result, out: Path) -> tuple[int, str, dict | None]:
    text = re.sub(r"\s+", " ", result.output)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    manifest = None
    if (out / "manifest.json").is_file():
        manifest = json.loads((out / "manifest.json").read_text())
        for table, t in manifest["tables"].items():
            assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"], table
    return result.exit_code, text, manifest


def _reasons(out: Path, table: str) -> dict[int, str]:
    import pandas as pd

    q = pd.read_csv(out / "quarantine" / f"{table}.csv", dtype=str)
    return dict(zip(q["source_row"].astype(int), q["reason"], strict=True))


# ------------------------------------------------- invalid optional attributes, empty tables


def test_invalid_optional_attributes_are_cleared_and_counted(tmp_path: Path) -> None:
    files = {
        "debtors": NUM / "deb_country_names.csv",
        "invoices": NUM / "inv_12.csv",
        "payments": NUM / "pay_12.csv",
    }
    code, text, manifest = _run(tmp_path, files)
    assert code == 0, text
    deb = manifest["tables"]["debtors"]
    assert deb["rows_accepted"] == 12 and deb["rows_quarantined"] == 0
    assert deb["values_cleared"] == {
        "country": {"rows": 12, "reasons": {"bad_country": 12}, "first_source_rows": [1, 2, 3, 4, 5]},
        "credit_limit": {
            "rows": 2,
            "reasons": {"negative_credit_limit": 1, "unparseable_number:credit_limit": 1},
            "first_source_rows": [3, 4],
        },
        "onboarded_on": {
            "rows": 1,
            "reasons": {"date_after_as_of:onboarded_on": 1},
            "first_source_rows": [5],
        },
    }
    assert manifest["tables"]["invoices"]["rows_accepted"] == 12
    assert "warning: debtors.country: 12 invalid value(s) cleared" in text
    import pandas as pd

    debtors = pd.read_parquet(tmp_path / "out" / "debtors.parquet").set_index("debtor_id")
    assert debtors["country"].isna().all()
    assert pd.isna(debtors.loc["D3", "credit_limit"]) and debtors.loc["D2", "credit_limit"] == 2000
    assert pd.isna(debtors.loc["D5", "onboarded_on"])


def test_optional_attributes_quarantine_refuses_a_feed_that_loses_every_debtor(tmp_path: Path) -> None:
    config = f"""
kind: source
name: strict
rules: {{optional_attributes: quarantine}}
tables:
  debtors: {{path: {NUM / "deb_country_names.csv"}}}
  invoices: {{path: {NUM / "inv_12.csv"}}}
  payments: {{path: {NUM / "pay_12.csv"}}}
"""
    code, text, manifest = _run_source(tmp_path, config)
    assert code == 2 and manifest is None
    assert "ingest refused: a table lost every row" in text
    assert "debtors: none of 12 rows accepted" in text and "bad_country (12)" in text
    assert "invoices: none of 12 rows accepted" in text and "debtor_quarantined (12)" in text


def test_every_date_unparseable_refuses_with_the_date_format_hint(tmp_path: Path) -> None:
    files = {"invoices": NUM / "inv_12_german_dates.csv", "payments": NUM / "pay_12.csv"}
    code, text, manifest = _run(tmp_path, files)
    assert code == 2 and manifest is None
    assert "invoices: none of 12 rows accepted" in text
    assert "unparseable_date:due_date (12)" in text and "values.date_format" in text
    assert not (tmp_path / "out").exists()


def test_small_table_losing_every_row_only_warns(tmp_path: Path) -> None:
    files = {"invoices": BASE / "invoices.csv", "payments": DATA / "pay_unknown_invoice.csv"}
    code, text, manifest = _run(tmp_path, {**files, "events": DATA / "evt_unknown_kind.csv"})
    assert code == 0, text
    assert manifest["tables"]["events"]["rows_accepted"] == 0
    assert any(w.startswith("events: none of 1 row(s) accepted") for w in manifest["warnings"])


# ------------------------------------------------- implausible and non-finite amounts


def test_amounts_above_the_ceiling_or_not_finite_are_quarantined(tmp_path: Path) -> None:
    files = {
        "debtors": BASE / "debtors.csv",
        "invoices": NUM / "inv_huge_amounts.csv",
        "payments": NUM / "pay_huge_amounts.csv",
    }
    code, text, manifest = _run(tmp_path, files)
    assert code == 0, text
    assert _reasons(tmp_path / "out", "invoices") == {
        2: "implausible_amount:amount",
        4: "unparseable_number:amount",
        5: "implausible_amount:amount",
        6: "unparseable_number:amount",
        7: "amount_not_positive; implausible_amount:amount",
    }
    assert _reasons(tmp_path / "out", "payments") == {2: "implausible_amount:amount"}
    assert manifest["tables"]["invoices"]["rows_accepted"] == 2


def test_ceiling_is_configurable_per_column(tmp_path: Path) -> None:
    config = f"""
kind: source
name: ceiling
rules: {{max_amounts: {{invoices.amount: 250}}}}
tables:
  invoices: {{path: {BASE / "invoices.csv"}}}
  payments: {{path: {BASE / "payments_i1.csv"}}}
"""
    code, text, manifest = _run_source(tmp_path, config)
    assert code == 0, text
    assert _reasons(tmp_path / "out", "invoices") == {3: "implausible_amount:amount"}


def test_unknown_ceiling_column_is_a_config_error(tmp_path: Path) -> None:
    config = f"""
kind: source
name: ceiling
rules: {{max_amounts: {{invoices.amout: 250}}}}
tables:
  invoices: {{path: {BASE / "invoices.csv"}}}
"""
    code, text, _ = _run_source(tmp_path, config)
    assert code == 2
    assert "rules.max_amounts: Value error, 'invoices.amout' is not an amount column" in text


def test_parquet_infinite_and_huge_floats_are_quarantined(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    inv = pd.read_csv(BASE / "invoices.csv")
    inv["amount"] = [100.0, np.inf, 1.797e308]
    inv.to_parquet(tmp_path / "invoices.parquet")
    files = {"invoices": tmp_path / "invoices.parquet", "payments": BASE / "payments_i1.csv"}
    code, text, manifest = _run(tmp_path, files)
    assert code == 0, text
    assert _reasons(tmp_path / "out", "invoices") == {
        2: "unparseable_number:amount",
        3: "implausible_amount:amount",
    }


# ------------------------------------------------- payments dated before their invoice


def test_payment_long_before_its_invoice_is_quarantined(tmp_path: Path) -> None:
    files = {
        "debtors": BASE / "debtors.csv",
        "invoices": BASE / "invoices.csv",
        "payments": NUM / "pay_before_issue.csv",
    }
    code, text, manifest = _run(tmp_path, files)
    assert code == 0, text
    # P1: 4 years before I1; P2: 17 days before I2 (a prepayment, within rules.prepayment_days);
    # P4: unallocated cash 5 years before the debtor's first invoice
    assert _reasons(tmp_path / "out", "payments") == {1: "paid_before_issue", 4: "paid_before_first_invoice"}
    assert manifest["tables"]["payments"]["rows_accepted"] == 2


def test_prepayment_tolerance_is_configurable(tmp_path: Path) -> None:
    config = f"""
kind: source
name: strict_prepayments
rules: {{prepayment_days: 0}}
tables:
  invoices: {{path: {BASE / "invoices.csv"}}}
  payments: {{path: {NUM / "pay_before_issue.csv"}}}
"""
    code, text, _ = _run_source(tmp_path, config)
    assert code == 0, text
    assert _reasons(tmp_path / "out", "payments") == {
        1: "paid_before_issue",
        2: "paid_before_issue",
        4: "paid_before_first_invoice",
    }
