"""Review of session 21's product code (s21-review; BENCHMARKS.md "Hostile inputs tried", "Session 21
(s21-review)"). Each test failed on main before its fix unless it says it is a guard; the inputs are
hand-written and the expected figures computed by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hostile_sources import AS_OF

# ---------------------------------------------------------------- 1.500 in a dinar book's debtors


def _files_source(tables: dict[str, Path]):
    from pipelines.config.source import SourceConfig

    return SourceConfig.model_validate(
        {
            "kind": "source",
            "name": "files",
            "rules": {"data_docs": False},
            "tables": {t: {"path": str(p)} for t, p in tables.items()},
        }
    )


def test_a_dinar_books_credit_limits_are_read_alike_in_memory_and_streamed(tmp_path: Path) -> None:
    """A Kuwaiti book: the invoices are all in KWD (3 decimals), the debtors file has no currency
    (credit limits 5.000 and 12.500 dinars, written with the fils). ingest.decimals takes a row
    without a currency in its invoices' currency, so the credit limits are 5.0 and 12.5 dinars, as
    the streamed ingest read them. On main the in-memory ingest checked the debtors before it had
    read the invoices (no invoice currency known yet): both limits were taken for whole thousands
    (thousands_as_decimal:credit_limit) and cleared, rows kept, 2 values lost. Now both ingests
    read 5.0 / 12.5 and the invoices 1.5 / 12.0, nothing cleared or quarantined."""
    from pipelines.ingest import ingest_source

    (tmp_path / "debtors.csv").write_text(
        "debtor_id,name,credit_limit\nD1,Al Noor,5.000\nD2,Gulf Co,12.500\n"
    )
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-09-01,2024-10-01,1.500,KWD\nI2,D2,2024-09-02,2024-10-02,12.000,KWD\n"
    )
    source = _files_source({"debtors": tmp_path / "debtors.csv", "invoices": tmp_path / "invoices.csv"})
    for name, options in (("memory", {}), ("stream", {"stream": True, "chunk_rows": 2, "workers": 1})):
        out = tmp_path / name
        result = ingest_source(source, out, as_of=AS_OF, **options)
        d = result.manifest["tables"]["debtors"]
        assert (d["rows_in"], d["rows_accepted"], d["rows_quarantined"]) == (2, 2, 0), (name, d)
        assert not d.get("cleared") and "thousands_as_decimal" not in d, (name, d)
        assert not [w for w in result.manifest["warnings"] if "thousands_as_decimal" in w], name
        debtors = pd.read_parquet(out / "debtors")
        assert debtors.set_index("debtor_id")["credit_limit"].to_dict() == {"D1": 5.0, "D2": 12.5}, name
        invoices = result.manifest["tables"]["invoices"]
        assert (invoices["rows_accepted"], invoices["rows_quarantined"]) == (2, 0), name


# ---------------------------------------------------------------- 1.500 € (a decorated #.##0 export)


def test_whole_thousands_with_a_currency_sign_or_in_parentheses_are_quarantined(tmp_path: Path) -> None:
    """s21-robust's German sheet (1.500, 750, 12.000, 2.250 EUR under values.decimal '.'), but saved
    with Excel's currency format #.##0 € (1.500 €, 750 €, ...), or with one amount a credit in
    parentheses ((1.500)). The parse reads them without the decoration: 1.5, 12.0, 2.25 EUR. On main
    ingest.decimals looked at the text as written, so "1.500 €" had no shape (4 = 4 + 0, 16,500.00
    euros read as 765.75 without a word), and one "(1.500)" among three was enough to take the
    column below 90 % (2 of 3): 12.000 and 2.250 accepted as 12.0 and 2.25. Now the shape is judged
    on the text as the parse reads it: € file 4 = 1 + 3 (750 accepted), the warning showing the
    amounts as read ('1.500'); parentheses file: 12.000 and 2.250 quarantined thousands_as_decimal
    (and (1.500), -1,500, is a negative invoice amount either way)."""
    from hostile_sources import ingest_config
    from test_hostile_s21_robust import GERMAN, GERMAN_CONFIG

    euro = GERMAN
    for amount in ("1.500", "750", "12.000", "2.250"):
        euro = euro.replace(f";{amount};", f";{amount} €;")
    (tmp_path / "a").mkdir()
    result = ingest_config(tmp_path / "a", euro, GERMAN_CONFIG, name="rechnungen.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["reasons"]) == (4, 1, {"thousands_as_decimal:amount": 3})
    assert result.portfolio.invoices["amount"].tolist() == [750.0]
    (warning,) = [w for w in result.manifest["warnings"] if "thousands_as_decimal" in w]
    assert "row 1 '1.500' (read 1.5, meant 1500)" in warning, warning

    (tmp_path / "b").mkdir()
    paren = GERMAN.replace(";1.500;", ";(1.500);")
    result = ingest_config(tmp_path / "b", paren, GERMAN_CONFIG, name="rechnungen.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"]) == (4, 1)
    reasons = result.quarantine["invoices"].set_index("invoice_id")["reason"].to_dict()
    assert reasons["RE-1003"] == reasons["RE-1004"] == "thousands_as_decimal:amount", reasons
    assert result.portfolio.invoices["amount"].tolist() == [750.0]
