"""Source mappings: value parsing quirks, AR export split, statements, UCI wide layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.schema import dtypes
from pipelines.config import load_config
from pipelines.config.project import CurrencyConfig
from pipelines.config.source import SourceConfig
from pipelines.ingest import TableError, ingest_source
from pipelines.sources.parse import parse_bools, parse_dates, parse_numbers, parse_text
from pipelines.sources.uci import read_uci, read_uci_statements, uci_long

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2024, 6, 30)
T = pd.Timestamp


def _load(name: str) -> SourceConfig:
    cfg = load_config(ROOT / "conf" / "sources" / f"{name}.yaml", expect=SourceConfig)
    # example paths are relative to the repository root; make them absolute for any cwd
    return cfg.with_paths(
        {k: ROOT / v.path for k, v in cfg.tables.items()}
        | ({"ar_export": ROOT / cfg.ar_export.path} if cfg.ar_export else {})
    )


# ---------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("fmt", "texts", "expected"),
    [
        ("ISO8601", ["2024-03-05", "2024-03-05T13:45:00", ""], [T("2024-03-05"), T("2024-03-05"), pd.NaT]),
        ("%m/%d/%Y", ["03/05/2024", "12/31/2023"], [T("2024-03-05"), T("2023-12-31")]),
        ("%d.%m.%Y", ["05.03.2024", "31.12.2023"], [T("2024-03-05"), T("2023-12-31")]),
    ],
)
def test_parse_dates_formats(fmt: str, texts: list[str], expected: list) -> None:
    parsed, bad, out_of_range = parse_dates(pd.Series(texts, dtype="string"), fmt)
    assert parsed.tolist() == expected
    assert not bad.any() and not out_of_range.any()
    assert str(parsed.dtype) == "datetime64[ns]"


def test_parse_dates_flags_unparseable_but_not_empty() -> None:
    parsed, bad, _ = parse_dates(
        pd.Series(["2024-02-30", None, "  ", "05.03.2024"], dtype="string"), "ISO8601"
    )
    assert bad.tolist() == [True, False, False, True]
    assert parsed.isna().all()


def test_parse_dates_keeps_written_date_of_mixed_offsets_and_flags_unstorable_days() -> None:
    texts = [
        "2024-02-01T23:30:00-12:00",
        "2024-01-15Z",
        "2024-03-01",
        "9999-12-31",
        "1500-01-01",
        "2024-02-30",
    ]
    parsed, bad, out_of_range = parse_dates(pd.Series(texts, dtype="string"), "ISO8601")
    assert parsed.tolist()[:3] == [T("2024-02-01"), T("2024-01-15"), T("2024-03-01")]
    assert parsed.iloc[3:].isna().all()
    assert out_of_range.tolist() == [False, False, False, True, True, False]
    assert bad.tolist() == [False, False, False, False, False, True]
    assert str(parsed.dtype) == "datetime64[ns]"


def test_parse_dates_typed_input_beyond_nanosecond_range() -> None:
    typed = pd.Series(np.array(["9999-12-31", "2024-01-01T15:00"], dtype="datetime64[us]"))
    parsed, bad, out_of_range = parse_dates(typed, "ISO8601")
    assert parsed.isna().tolist() == [True, False] and parsed.iloc[1] == T("2024-01-01")
    assert out_of_range.tolist() == [True, False] and not bad.any()


def test_parse_numbers_decimal_comma_thousands_and_sci() -> None:
    raw = pd.Series(["1.234,50", "5E+05", "-20", "", "12,5x", "2,5E+03"], dtype="string")
    values, bad = parse_numbers(raw, decimal=",", thousands=".")
    assert values.tolist()[:3] == [1234.5, 500000.0, -20.0]
    assert values.iloc[5] == 2500.0
    assert bad.tolist() == [False, False, False, False, True, False]


def test_parse_numbers_rejects_infinity_and_keeps_typed_input() -> None:
    _, bad = parse_numbers(pd.Series(["inf", "1e999", "3"], dtype="string"))
    assert bad.tolist() == [True, True, False]
    typed, bad = parse_numbers(pd.Series([1, 2, np.inf]))
    assert typed.iloc[:2].tolist() == [1.0, 2.0] and bad.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            ["Yes", "no", "Y", "n", "1", "0", "TRUE", "false"],
            [True, False, True, False, True, False, True, False],
        ),
    ],
)
def test_parse_bools_default_spellings(texts: list[str], expected: list[bool]) -> None:
    parsed, bad = parse_bools(
        pd.Series(texts, dtype="string"), ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")
    )
    assert parsed.tolist() == expected
    assert not bad.any()


def test_parse_bools_custom_spellings_and_unknown() -> None:
    parsed, bad = parse_bools(
        pd.Series(["Ja", "nein", "vielleicht", None], dtype="string"), ("ja",), ("nein",)
    )
    assert parsed.iloc[:2].tolist() == [True, False]
    assert bad.tolist() == [False, False, True, False]


def test_parse_text_trims_and_restores_float_ids() -> None:
    assert parse_text(pd.Series([" a ", "", None], dtype="string"))[0].tolist() == ["a", pd.NA, pd.NA]
    text, bad = parse_text(pd.Series([1001.0, 2.5, np.nan, 1e20, np.inf, -0.0]), is_id=True)
    assert text.tolist()[:4] == ["1001", "2.5", pd.NA, "100000000000000000000"]
    assert text.iloc[5] == "0"
    assert bad.tolist() == [False, False, False, False, True, False]


@pytest.mark.parametrize(
    ("cell", "kept"),
    [
        ("D 001~", "D 001~"),  # printable ASCII from space to tilde: returned as it is
        ("D1\tx", "D1\tx"),  # tab, line feed and carriage return are kept
        ("D1\x7f", "D1"),  # DEL: just above the printable range
        ("D1\x1f", "D1"),  # a control character just below it
        ("\ufeffD1\u200e", "D1"),  # byte-order mark, left-to-right mark
        ("Zürich", "Zürich"),  # other non-ASCII text is kept
    ],
)
def test_parse_text_drops_invisible_characters_at_either_end_of_the_byte_range(cell: str, kept: str) -> None:
    """Invisible characters are dropped whatever else the column holds (the check of the whole
    buffer that skips the search must not skip a control byte, DEL or a non-ASCII byte)."""
    texts = pd.Series(["I-100", cell, "I-200"], dtype="string")
    assert parse_text(texts)[0].tolist() == ["I-100", kept, "I-200"]


def test_parse_text_flags_float_artefacts_as_ids_only() -> None:
    raw = pd.Series(["NaN", "null", " d1 ", "inf", "None"], dtype="string")
    assert parse_text(raw, is_id=True)[1].tolist() == [True, True, False, True, True]
    assert not parse_text(raw)[1].any()


# ---------------------------------------------------------------- mapped sources


def test_ar_export_becomes_invoices_payments_and_debtors() -> None:
    fx = CurrencyConfig(reporting="EUR", rates={"GBP": 1.2})
    result = ingest_source(_load("example_ar_export"), None, as_of=AS_OF, currency=fx)
    inv = result.portfolio.invoices
    assert inv["invoice_id"].tolist() == ["4711", "4712", "4713", "4715", "4716"]
    # decimal comma, thousands, 5E+02; the GBP invoices converted at 1.2
    assert inv["amount"].tolist() == [1234.5, 500.0, 2000.0, 600.0, 360.0]
    assert inv["currency"].tolist() == ["EUR"] * 5  # empty -> default_currency; GBP converted
    assert inv["disputed"].tolist() == [False, True, False, False, False]  # Ja/Nein/N
    assert inv["issue_date"].iloc[0] == T("2024-01-05")  # d.m.Y
    pay = result.portfolio.payments
    assert pay.to_dict("list") == {
        "payment_id": ["4711-S", "4713-S"],
        "debtor_id": ["K1", "K2"],
        "invoice_id": ["4711", "4713"],
        "paid_on": [T("2024-02-03"), T("2024-03-20")],
        "amount": [1234.5, 1500.0],  # full settlement, partial settled amount
        "currency": [None, None],  # in the invoice's currency (the optional column is not mapped)
    }
    qi, qp = result.quarantine["invoices"], result.quarantine["payments"]
    # source rows count data rows after the skipped title line and the header
    assert dict(zip(qi["source_row"], qi["reason"], strict=True)) == {4: "unparseable_date:issue_date"}
    assert dict(zip(qp["source_row"], qp["reason"], strict=True)) == {
        4: "invoice_quarantined",
        6: "missing_value:paid_on",
    }
    deb = result.portfolio.debtors
    assert deb[["debtor_id", "name", "country"]].values.tolist() == [
        ["K1", "Müller GmbH", "DE"],
        ["K2", "Dupont SA", "FR"],
        ["K3", "Smith Ltd", "GB"],
    ]
    tables = result.manifest["tables"]
    assert tables["payments"]["rows_in"] == 4
    assert tables["invoices"]["columns"]["due_date"] == "Fällig"


def test_ar_export_part_payment_without_a_date_is_named_with_the_fix() -> None:
    """A settled amount without a settlement date (row 6 of the example: a part payment) is
    quarantined missing_value:paid_on; the run says why and what to map, not just "check the column
    mapping" (s16-robust's walk: 25 such rows went unexplained)."""
    result = ingest_source(_load("example_ar_export"), None, as_of=AS_OF)
    lines = [w for w in result.manifest["warnings"] if "no settlement date" in w]
    assert len(lines) == 1
    assert lines[0].startswith(
        "ar_export: 1 invoice with an amount settled ('Ausgleichsbetrag') but no settlement date"
    )
    assert "'Ausgeglichen am'" in lines[0] and "quarantine/payments.csv" in lines[0]


def test_separate_tables_with_per_file_overrides() -> None:
    result = ingest_source(_load("example_tables"), None, as_of=AS_OF)
    inv, pay = result.portfolio.invoices, result.portfolio.payments
    assert inv["amount"].tolist() == [1000.0, 250.75, 2500.0]
    assert inv["disputed"].tolist() == [False, True, False]
    assert inv["currency"].tolist() == ["EUR", "EUR", "EUR"]
    assert pay["paid_on"].tolist() == [T("2024-02-01"), T("2024-03-15"), T("2024-03-20")]  # m/d/Y override
    assert pay["amount"].tolist() == [1000.0, 2500.0, 100.0]
    assert result.manifest["tables"]["invoices"]["ignored_columns"] == ["Bemerkung"]


def test_statements_source_us_dates_and_sci_notation() -> None:
    result = ingest_source(_load("example_statements"), None, as_of=AS_OF)
    st = result.portfolio.statements
    assert {c: str(t) for c, t in st.dtypes.items()} == dtypes("statements")
    assert st["balance"].tolist() == [1500.0, 1400.0, -25.5]  # negative balance accepted
    assert st["credit_limit"].tolist() == [5000.0, 5000.0, 1000.0]
    assert st["days_past_due"].tolist() == [0, 30, 0]
    assert np.isnan(st["amount_due"].iloc[0])
    assert result.quarantine["statements"]["reason"].tolist() == ["unparseable_date:period_end"]


def test_wrong_mapping_names_the_column_and_the_fix(tmp_path: Path) -> None:
    cfg = _load("example_tables")
    bad = cfg.tables["invoices"].model_copy(
        update={"columns": {**cfg.tables["invoices"].columns, "amount": "Betrag"}}
    )
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, "invoices": bad}})
    with pytest.raises(
        TableError, match=r"tables.invoices: .*eu_invoices.csv has no column 'Betrag' .*Fix the mapping"
    ):
        ingest_source(cfg, None, as_of=AS_OF)


def test_with_paths_rejects_unknown_input() -> None:
    with pytest.raises(ValueError, match="has no input 'events'"):
        _load("example_tables").with_paths({"events": Path("x.csv")})


# ---------------------------------------------------------------- UCI wide layout


def _uci_wide() -> pd.DataFrame:
    row = {
        "ID": "7",
        "LIMIT_BAL": "5E+05",
        "SEX": "1",
        "EDUCATION": "5",
        "MARRIAGE": "0",
        "AGE": "29",
        # Sep ... Apr
        "PAY_0": "2", "PAY_2": "1", "PAY_3": "0", "PAY_4": "-1", "PAY_5": "-2", "PAY_6": "3",
        "BILL_AMT1": "600", "BILL_AMT2": "500", "BILL_AMT3": "400", "BILL_AMT4": "-159", "BILL_AMT5": "200", "BILL_AMT6": "100",
        "PAY_AMT1": "60", "PAY_AMT2": "50", "PAY_AMT3": "40", "PAY_AMT4": "30", "PAY_AMT5": "20", "PAY_AMT6": "10",
        "DEFAULT": "1",
    }  # fmt: skip
    return pd.DataFrame([row])


def test_uci_long_maps_one_account_by_hand() -> None:
    st, bad = uci_long(_uci_wide())
    assert st["period_end"].dt.strftime("%Y-%m-%d").tolist() == [
        "2005-04-30", "2005-05-31", "2005-06-30", "2005-07-31", "2005-08-31", "2005-09-30",
    ]  # fmt: skip
    assert st["balance"].tolist() == [100.0, 200.0, -159.0, 400.0, 500.0, 600.0]
    assert st["amount_paid"].tolist() == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    due = st["amount_due"].tolist()
    assert np.isnan(due[0]) and due[1:] == [100.0, 200.0, 0.0, 400.0, 500.0]  # previous balance, clipped
    assert st["days_past_due"].tolist() == [90, 0, 0, 0, 30, 60]
    assert st["credit_limit"].unique().tolist() == [500000.0]
    assert st["debtor_id"].unique().tolist() == ["7"]
    assert not any(m.any() for m in bad.values())


def test_uci_unparseable_cell_is_flagged_for_its_period_only() -> None:
    wide = _uci_wide()
    wide.loc[0, "BILL_AMT3"] = "n/a?"
    _, bad = uci_long(wide)
    assert bad["balance"].tolist() == [False, False, False, True, False, False]  # June
    assert bad["amount_due"].tolist() == [False, False, False, False, True, False]  # July uses June


def test_uci_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match=r"lacks 1 column \['PAY_AMT6'\]"):
        uci_long(_uci_wide().drop(columns="PAY_AMT6"))


def test_uci_labels_and_undocumented_codes(tmp_path: Path) -> None:
    path = tmp_path / "uci.csv"
    _uci_wide().to_csv(path, index=False)
    data = read_uci(path)
    assert data.labels.to_dict("list") == {
        "debtor_id": ["7"],
        "as_of": [T("2005-09-30")],
        "default_next_month": [1],
    }
    assert data.attributes[
        ["education", "education_documented", "marriage", "marriage_documented"]
    ].values.tolist() == [[5, False, 0, False]]
    st, debtors = read_uci_statements(path)
    assert len(st) == 6 and debtors["credit_limit"].tolist() == [500000.0]
    assert "DEFAULT" not in st.columns and "default_next_month" not in st.columns


@pytest.mark.shared_data
def test_uci_round_trip_keeps_every_statement(uci_path: Path, tmp_path: Path) -> None:
    cfg = load_config(ROOT / "conf" / "sources" / "uci.yaml", expect=SourceConfig).with_paths(
        {"uci_wide": uci_path}
    )
    cfg = cfg.model_copy(update={"rules": cfg.rules.model_copy(update={"data_docs": False})})
    result = ingest_source(cfg, tmp_path / "uci", as_of=dt.date(2005, 9, 30))
    st = result.manifest["tables"]["statements"]
    assert (st["rows_in"], st["rows_accepted"], st["rows_quarantined"]) == (180_000, 180_000, 0)
    deb = result.manifest["tables"]["debtors"]
    assert (deb["rows_in"], deb["rows_accepted"]) == (30_000, 30_000)
    from pipelines.adapters.files import read_portfolio

    back = read_portfolio(tmp_path / "uci").statements
    assert len(back) == 180_000
    assert back["debtor_id"].nunique() == 30_000
    assert (back["balance"] < 0).sum() > 0  # negative balances kept
    assert back.loc[back["debtor_id"] == "7", "credit_limit"].unique().tolist() == [500000.0]  # "5E+05"
    labels = read_uci(uci_path).labels
    assert labels["default_next_month"].mean() == pytest.approx(0.2212)


def test_cli_ingest_source_with_path_override(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app

    export = ROOT / "tests" / "data" / "sources" / "ar_export_de.csv"
    args = ["ingest", "--source", str(ROOT / "conf" / "sources" / "example_ar_export.yaml")]
    args += ["--path", f"ar_export={export}", "--as-of", "2024-06-30", "--out", str(tmp_path), "--no-docs"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    # conf/ews.yaml has no GBP rate: K3's two GBP invoices are quarantined, never summed with EUR
    assert {t: v["rows_accepted"] for t, v in manifest["tables"].items()} == {
        "debtors": 3,
        "invoices": 3,
        "payments": 2,
    }
    assert manifest["tables"]["invoices"]["reasons"]["no_fx_rate:GBP"] == 2
    assert "add currency.rates.GBP" in result.output
    assert manifest["source"]["name"] == "example_ar_export"
    bad = CliRunner().invoke(app, [*args[:3], "--path", "events=x.csv", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "has no input 'events'" in bad.output
