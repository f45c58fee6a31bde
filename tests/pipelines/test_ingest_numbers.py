"""Numbers are never silently wrong, and a feed that loses a whole table is refused.

The corpus files live in ``tests/data/ingest/numbers`` (beside the row-defect corpus). Every case
runs the real CLI and checks the exit code, that the message carries no traceback, and that
``rows_in = rows_accepted + rows_quarantined`` for every table of the manifest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.adapters.files import read_portfolio
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
        "country": {
            "rows": 12,
            "reasons": {"bad_country": 12},
            "first_source_rows": [1, 2, 3, 4, 5],
            "examples": ["Germany", "France", "Deutschland"],  # the first 3 as written (s36-walk)
        },
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
    assert (
        "warning: debtors.country: 12 values not ISO-3166 alpha-2 country codes (ES, NL, GB), e.g. 'Germany', "
        "'France', 'Deutschland': cleared, rows kept"
    ) in text
    import pandas as pd

    debtors = read_portfolio(tmp_path / "out").debtors.set_index("debtor_id")
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
    assert any(w.startswith("events: none of 1 row accepted") for w in manifest["warnings"])


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


# ------------------------------------------------- currencies


FX = """
kind: project
currency:
  reporting: EUR
  rates: {USD: 0.92, JPY: 0.0062}
"""


def _currency_files() -> dict[str, Path]:
    return {
        "debtors": NUM / "deb_currencies.csv",
        "invoices": NUM / "inv_currencies.csv",
        "payments": NUM / "pay_currencies.csv",
    }


def test_amounts_are_converted_into_the_reporting_currency(tmp_path: Path) -> None:
    import pandas as pd

    from features.build import build_features

    project = tmp_path / "ews.yaml"
    project.write_text(FX, encoding="utf-8")
    code, text, manifest = _run(tmp_path, _currency_files(), "--project-config", str(project))
    assert code == 0, text
    out = tmp_path / "out"
    # GBP has no rate; '$' is no currency code (ambiguous symbol); 'eur' and '€' are EUR
    assert _reasons(out, "invoices") == {4: "no_fx_rate:GBP", 7: "bad_currency"}
    assert _reasons(out, "payments") == {3: "no_fx_rate:GBP"}
    p = read_portfolio(out)
    inv = p.invoices.set_index("invoice_id")
    assert inv["amount"].to_dict() == {
        "I1": 100.0,
        "I2": 138.0,
        "I3": 6200.0,
        "I5": 50.0,
        "I6": 70.0,
        "I8": 368.0,
    }
    assert set(inv["currency"]) == {"EUR"}
    # P1 is in its invoice's USD; P2 (unallocated, D1 bills in 3 currencies) in EUR; P4 (unallocated,
    # D3 bills only in USD) in USD
    assert p.payments.set_index("payment_id")["amount"].to_dict() == {"P1": 138.0, "P2": 10.0, "P4": 92.0}
    fx = pd.read_csv(out / "fx" / "invoices.csv")
    assert fx[["invoice_id", "original_amount", "original_currency", "rate"]].values.tolist() == [
        ["I2", 150.0, "USD", 0.92],
        ["I3", 1000000.0, "JPY", 0.0062],
        ["I8", 400.0, "USD", 0.92],
    ]
    assert pd.read_csv(out / "fx" / "payments.csv")["payment_id"].tolist() == ["P1", "P4"]
    assert manifest["currency"]["reporting"] == "EUR" and manifest["currency"]["chosen_by"] == "config"
    assert manifest["currency"]["converted_rows"] == {"invoices": 3, "payments": 2}
    assert "amounts converted into EUR" in text
    assert "invoices: 1 row in GBP quarantined (no_fx_rate:GBP): add currency.rates.GBP" in text
    # by hand: D1 owes 100 + 138 + 6200 EUR, paid 138 on I2 and 10 on account -> 6290 (not 1,000,250)
    feats = build_features(p, [pd.Timestamp(AS_OF)]).reset_index().set_index("debtor_id")
    assert feats.loc["D1", "open_balance"] == pytest.approx(6290.0)
    assert feats.loc["D3", "open_balance"] == pytest.approx(276.0)


def test_without_rates_the_minority_currencies_are_quarantined_not_summed(tmp_path: Path) -> None:
    code, text, manifest = _run(tmp_path, _currency_files(), "--project-config", str(tmp_path / "none.yaml"))
    assert code == 2 and "none.yaml: config file not found" in text  # an explicit --project must exist
    code, text, manifest = _run(tmp_path, _currency_files())  # conf/ews.yaml: no rates
    assert code == 0, text
    assert manifest["currency"]["chosen_by"] == "most_invoices" and manifest["currency"]["reporting"] == "EUR"
    assert _reasons(tmp_path / "out", "invoices") == {
        2: "no_fx_rate:USD",
        3: "no_fx_rate:JPY",
        4: "no_fx_rate:GBP",
        7: "bad_currency",
        8: "no_fx_rate:USD",
    }
    assert "no reporting currency is configured: EUR (most invoices) was chosen" in text


def test_ledger_refuses_to_sum_across_currencies() -> None:
    import pandas as pd

    from features.ledger import prepare_ledger
    from tests.features.ledgers import inv, portfolio

    p = portfolio(
        [inv("i1", "a", "2024-01-01", "2024-01-31", 100.0), inv("i2", "a", "2024-01-02", "2024-02-01", 5.0)]
    )
    mixed = p.invoices.assign(currency=pd.array(["EUR", "JPY"], dtype="string"))
    with pytest.raises(ValueError, match=r"invoices hold 2 currencies \(\['EUR', 'JPY'\]\)"):
        prepare_ledger(type(p)(invoices=mixed, payments=p.payments))


@pytest.mark.parametrize(
    ("currency", "message"),
    [
        ("{rates: {USD: 0.9}}", "rates are given without reporting"),
        ("{reporting: EUR, rates: {usd: 0.9}}", "'usd' is not an ISO-4217 code"),
        ("{reporting: EUR, rates: {USD: -1}}", "USD: rate must be a positive number"),
        ("{reporting: EUR, rates: {EUR: 2}}", "rates.EUR must be 1"),
        ("{reporting: euro}", "String should match pattern"),
    ],
)
def test_bad_currency_config_is_named(currency: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "ews.yaml"
    path.write_text(f"kind: project\ncurrency: {currency}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert message in re.sub(r"\s+", " ", result.output)


# ------------------------------------------------- YAML: Yes / No / On / Off stay text


def test_unquoted_yes_no_on_off_in_a_source_config_are_spellings_not_booleans(tmp_path: Path) -> None:
    config = f"""
kind: source
name: yes_no
values:
  true_values: [Yes, On, true]
  false_values: [No, Off, N]
tables:
  invoices: {{path: {NUM / "inv_yes_no.csv"}}}
  payments: {{path: {BASE / "payments_i1.csv"}}}
"""
    code, text, manifest = _run_source(tmp_path, config)
    assert code == 0, text

    inv = read_portfolio(tmp_path / "out").invoices
    assert inv["disputed"].tolist() == [False, True, False]
    from pipelines.config import load_config

    cfg = load_config(tmp_path / "source.yaml")
    assert cfg.values.true_values == ("Yes", "On", "true") and cfg.values.false_values == ("No", "Off", "N")


@pytest.mark.parametrize(
    ("yaml_text", "fragments"),
    [
        (
            "name: 2024",
            ["name: expected text, but YAML read the unquoted value as a number (2024)", '"2024"'],
        ),
        (
            "name: x\ncsv: {na_values: [true]}",
            ["csv.na_values.0: expected text, but YAML read the unquoted value as a boolean", '"true"'],
        ),
    ],
)
def test_unquoted_value_where_text_is_expected_says_to_quote_it(
    yaml_text: str, fragments: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "source.yaml"
    path.write_text(f"kind: source\n{yaml_text}\ntables: {{invoices: {{path: x.csv}}}}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    flat = re.sub(r"\s+", " ", result.output)
    for fragment in fragments:
        assert fragment in flat
    assert "put it in quotes" in flat


# ------------------------------------------------- AR export: implausible share of open invoices

AR = """
kind: source
name: settled_only
default_currency: EUR
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ",", thousands: "."}}
ar_export:
  path: {path}
  columns: {{invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}}
  settled_on: Ausgeglichen am
"""


def test_ar_export_with_mostly_blank_settlement_dates_warns(tmp_path: Path) -> None:
    code, text, manifest = _run_source(tmp_path, AR.format(path=NUM / "ar_settled_blank_dates.csv"))
    assert code == 0, text
    assert manifest["ar_export"] == {
        "invoices": 24,
        "open": 18,
        "open_share": 0.75,
        "due_over_a_year": 24,
        "open_due_over_a_year": 18,
        "settlement_column": "Ausgeglichen am",  # s36-walk: to count again at an old export's end
    }
    assert "ar_export: 18 of 24 invoices (75%) have no settlement and are treated as open" in text
    assert "a blank 'Ausgeglichen am' means open" in text
    assert "ar_export: 18 of 24 invoices due over a year ago are still open" in text
    assert len(manifest["warnings"]) == 2


def test_ar_export_with_no_settlement_at_all_warns(tmp_path: Path) -> None:
    code, text, manifest = _run_source(tmp_path, AR.format(path=NUM / "ar_no_settlement.csv"))
    assert code == 0, text
    assert manifest["ar_export"]["open"] == 24
    assert manifest["warnings"] == [
        "ar_export: none of the 24 invoices is settled, so all are treated as open; a blank 'Ausgeglichen am' "
        "means open. If this export holds settled invoices, check that 'Ausgeglichen am' is the settlement "
        "column and is filled; an open-items export should hold few old invoices."
    ]


def test_ar_export_with_plausible_open_share_is_quiet(tmp_path: Path) -> None:
    config = AR.format(path=NUM / "ar_settled_blank_dates.csv").replace("settled_only", "lenient")
    config = config.replace("default_currency: EUR", "default_currency: EUR\nrules: {ar_max_open_share: 0.8}")
    code, text, manifest = _run_source(tmp_path, config)
    assert code == 0, text
    assert manifest["warnings"] == [] and manifest["ar_export"]["open"] == 18


# ------------------------------------------------- extra attacks: amounts written as text


def test_amounts_written_as_text_or_misgrouped_are_never_misread(tmp_path: Path) -> None:
    base = f"""
kind: source
name: text_amounts
default_currency: EUR
csv: {{delimiter: ";"}}
values: {{date_format: d.m.Y, decimal: ",", thousands: {{thousands}}}}
tables:
  invoices:
    path: {NUM / "inv_amount_text_de.csv"}
    columns: {{invoice_id: Beleg, debtor_id: Kunde, issue_date: Datum, due_date: Faellig, amount: Betrag}}
"""
    # thousands not set: '1.234' can only be 1234 with a forgotten thousands separator, never 1.234
    code, text, manifest = _run_source(tmp_path, base.replace("{thousands}", "null"))
    assert code == 0, text
    assert _reasons(tmp_path / "out", "invoices") == {
        1: "unparseable_number:amount",  # 1.234,56 EUR: the unit is dropped (s8), the '.' still misgrouped
        2: "unparseable_number:amount",  # 1.234
        4: "amount_not_positive",  # a credit note is not an invoice
        6: "unparseable_number:amount",  # 12.000,00
    }  # € 12,00 reads 12.0 since s8 (a currency symbol or code around the number is dropped)
    code, text, manifest = _run_source(tmp_path, base.replace("{thousands}", '"."'))
    assert code == 0, text
    assert _reasons(tmp_path / "out", "invoices") == {4: "amount_not_positive"}

    inv = read_portfolio(tmp_path / "out").invoices.set_index("invoice_id")
    assert inv["amount"].to_dict() == {"R1": 1234.56, "R2": 1234.0, "R3": 1.5, "R5": 12.0, "R6": 12000.0}


def test_thousands_separator_must_group_three_digits(tmp_path: Path) -> None:
    import pandas as pd

    from pipelines.sources.parse import parse_numbers

    values, bad = parse_numbers(
        pd.Series(["1,234.50", "1,5", "12,345,678", "1234.5"], dtype="string"), ".", ","
    )
    assert bad.tolist() == [False, True, False, False]  # '1,5' is a decimal comma, not 15
    assert values.tolist()[0] == 1234.5 and values.tolist()[2] == 12345678.0


def test_space_thousands_also_read_french_non_breaking_spaces() -> None:
    """French Excel groups thousands with U+00A0 (or U+202F since Windows 10): with
    ``thousands: " "`` both read like a space; without a thousands separator they stay unparseable."""
    import pandas as pd

    from pipelines.sources.parse import parse_numbers

    text = pd.Series(
        ["1\u00a0234,50", "12\u202f345\u202f678", "1 234,5", "99,90", "1\u00a023,4"], dtype="string"
    )
    values, bad = parse_numbers(text, ",", " ")
    assert bad.tolist() == [False, False, False, False, True]  # '1 23,4' does not group three digits
    assert values.tolist()[:4] == [1234.5, 12345678.0, 1234.5, 99.9]
    _, unset = parse_numbers(text, ",", None)
    assert unset.tolist()[:3] == [True, True, True]


def test_an_absurd_fx_rate_cannot_push_an_amount_past_the_ceiling(tmp_path: Path) -> None:
    project = tmp_path / "ews.yaml"
    project.write_text("kind: project\ncurrency: {reporting: EUR, rates: {USD: 1.0e9, JPY: 0.0062}}\n")
    code, text, manifest = _run(tmp_path, _currency_files(), "--project-config", str(project))
    assert code == 0, text
    reasons = _reasons(tmp_path / "out", "invoices")
    assert (
        reasons[2] == "implausible_amount:amount" and reasons[8] == "implausible_amount:amount"
    )  # 150 and 400 USD


def test_train_and_nightly_ingest_convert_with_the_project_rates(tmp_path: Path) -> None:
    import datetime as dt
    import shutil

    from pipelines.config.project import CurrencyConfig
    from pipelines.flows import nightly, train

    data = tmp_path / "data"
    data.mkdir()
    for table, path in _currency_files().items():
        shutil.copy(path, data / f"{table}.csv")
    fx = CurrencyConfig(reporting="EUR", rates={"USD": 0.92, "JPY": 0.0062})
    for result in (
        nightly.ingest.fn(data, dt.date(2024, 6, 30), True, fx),  # --raw: validated in memory
        train.ingest.fn(data, fx, True),
    ):
        inv = result.book.read(0).invoices.set_index("invoice_id")
        assert inv.loc["I3", "amount"] == 6200.0 and set(inv["currency"]) == {"EUR"}
        assert result.manifest["currency"]["converted_rows"] == {"invoices": 3, "payments": 2}


@pytest.mark.parametrize(
    ("text", "decimal", "thousands"),
    [
        ("(-100.00)", ".", None),  # a sign inside the parentheses: which one was meant?
        ("-100-", ".", None),
        ("10%", ".", None),
        ("1 234,50", ",", None),  # space grouping with thousands unset
        ("1.234.567", ",", None),
        ("12,34,567", ".", ","),  # Indian grouping is not a 3-digit thousands separator
        ("0x1F", ".", None),
        ("1e400", ".", None),
    ],
)
def test_number_spellings_that_must_not_be_guessed(text: str, decimal: str, thousands: str | None) -> None:
    import pandas as pd

    from pipelines.sources.parse import parse_numbers

    values, bad = parse_numbers(pd.Series([text], dtype="string"), decimal, thousands)
    assert bad.tolist() == [True] and values.isna().all()


def test_accounting_negatives_and_currency_signs_are_read_with_their_sign() -> None:
    """Session 8: ``(100.00)`` (accounting) and ``100-`` (SAP) are -100, never +100; a currency
    symbol or ISO code around the number is dropped. Before: all unparseable_number."""
    import pandas as pd

    from pipelines.sources.parse import parse_numbers

    text = ["(100.00)", "100-", "€1,234.50", "1,234.50 USD", "-$45.00", "($1,000.00)", "EUR", "12.5 kg"]
    values, bad = parse_numbers(pd.Series(text, dtype="string"), ".", ",")
    assert bad.tolist() == [False] * 6 + [True, True]
    assert values.tolist()[:6] == [-100.0, -100.0, 1234.5, 1234.5, -45.0, -1000.0]


def test_turnover_and_net_worth_are_read_negative_turnover_cleared(tmp_path: Path) -> None:
    """The credit-limit caps' debtor attributes: a negative annual_turnover is cleared (an optional
    attribute), a negative net_worth is a valid figure (a company with more debt than assets)."""
    debtors = tmp_path / "debtors.csv"
    rows = [f"D{i},Debtor {i},{100_000 * i},{50_000 - 10_000 * i}" for i in range(1, 13)]
    rows[2] = "D3,Debtor 3,-5,-20000"
    debtors.write_text("debtor_id,name,annual_turnover,net_worth\n" + "\n".join(rows) + "\n")
    code, text, manifest = _run(
        tmp_path, {"debtors": debtors, "invoices": NUM / "inv_12.csv", "payments": NUM / "pay_12.csv"}
    )
    assert code == 0, text
    assert manifest["tables"]["debtors"]["values_cleared"] == {
        "annual_turnover": {"rows": 1, "reasons": {"negative_annual_turnover": 1}, "first_source_rows": [3]}
    }
    got = read_portfolio(tmp_path / "out").debtors.set_index("debtor_id")
    assert got.loc["D2", "annual_turnover"] == 200_000 and got.loc["D2", "net_worth"] == 30_000
    assert pd_isna(got.loc["D3", "annual_turnover"]) and got.loc["D3", "net_worth"] == -20_000
    assert str(got["net_worth"].dtype) == "float64"


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_conversion_into_a_three_decimal_reporting_currency_keeps_the_mills(tmp_path: Path) -> None:
    """150 USD at 0.30712 KWD is 46.068 KWD (by hand): rounded to cents it was 46.07, and the payment of
    the same 150 USD converted alike, so only the third decimal tells the two apart."""
    (tmp_path / "ews.yaml").write_text(
        "kind: project\ncurrency:\n  reporting: KWD\n  rates: {USD: 0.30712}\n", encoding="utf-8"
    )
    files = {
        "debtors": tmp_path / "deb.csv",
        "invoices": tmp_path / "inv.csv",
        "payments": tmp_path / "pay.csv",
    }
    files["debtors"].write_text("debtor_id,name\nD1,Acme\n", encoding="utf-8")
    files["invoices"].write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-01,2024-01-31,10,KWD\n"
        "I2,D1,2024-02-01,2024-03-02,150,USD\n"
        "I3,D1,2024-02-05,2024-03-06,7,USD\n",
        encoding="utf-8",
    )
    files["payments"].write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I2,2024-02-20,100\n", encoding="utf-8"
    )
    code, text, manifest = _run(tmp_path, files, "--project-config", str(tmp_path / "ews.yaml"))
    assert code == 0, text
    p = read_portfolio(tmp_path / "out")
    # 150 x 0.30712 = 46.068; 7 x 0.30712 = 2.14984 -> 2.150; 100 x 0.30712 = 30.712
    assert p.invoices.set_index("invoice_id")["amount"].to_dict() == {"I1": 10.0, "I2": 46.068, "I3": 2.15}
    assert p.payments.set_index("payment_id")["amount"].to_dict() == {"P1": 30.712}
    assert manifest["currency"]["reporting"] == "KWD"
