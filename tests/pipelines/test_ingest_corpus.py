"""Bad-input corpus: each file in tests/data/ingest has one kind of defect; the outcome is exact."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import TableError, ingest_files

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
BASE = DATA / "base"
AS_OF = dt.date(2024, 6, 30)
BASE_FILES = {t: BASE / f"{t}.csv" for t in ("debtors", "invoices", "payments", "events")}

# case -> (replaced tables, {table: {source_row: reason}}); every other row must be accepted.
INVOICE_CASES = {
    "inv_missing_debtor": {"invoices": {2: "missing_value:debtor_id"}},
    "inv_bad_date": {"invoices": {2: "unparseable_date:issue_date"}},
    "inv_bad_amount": {"invoices": {2: "unparseable_number:amount"}},
    "inv_due_before_issue": {"invoices": {2: "due_before_issue"}},
    "inv_amount_not_positive": {"invoices": {2: "amount_not_positive", 3: "amount_not_positive"}},
    "inv_duplicate_id": {"invoices": {2: "duplicate_id:invoice_id", 3: "duplicate_id:invoice_id"}},
    "inv_duplicate_row": {"invoices": {3: "duplicate_row"}},
    "inv_after_as_of": {"invoices": {2: "date_after_as_of:issue_date"}},
    "inv_too_old": {"invoices": {2: "date_too_old:due_date; date_too_old:issue_date"}},
    "inv_bad_currency": {"invoices": {2: "bad_currency"}},
    "inv_bad_boolean": {"invoices": {2: "unparseable_bool:disputed"}},
    "inv_unknown_debtor": {"invoices": {2: "unknown_debtor"}},
    "inv_malformed_row": {"invoices": {2: "malformed_row"}},
    "inv_two_defects": {"invoices": {2: "amount_not_positive; due_before_issue"}},
    # s20: two exports joined (cat jan.csv feb.csv): the second header is a row, named as such
    "inv_repeated_header": {"invoices": {2: "repeated_header"}},
    # s21: whole euros in #.##0 (1.500, 12.000) under the decimal dot would read 1.5 and 12.0
    "inv_thousands_as_decimal": {
        "invoices": {2: "thousands_as_decimal:amount", 3: "thousands_as_decimal:amount"}
    },
    # s21: the same shapes in Kuwaiti dinars are 3-decimal amounts: all accepted
    "inv_three_decimal_kwd": {},
    # s36: amounts as exports write them: SAP's trailing minus (a credit), a code before or after
    # (read; another currency's code refused), CR / hex / a per cent sign (not numbers), a plus sign
    # (read); I10 due ten years after its issue is kept (named by a warning, test_hostile_s36)
    "inv_amount_forms": {
        "invoices": {
            2: "amount_not_positive",
            5: "currency_sign_mismatch:amount",
            6: "unparseable_number:amount",
            7: "unparseable_number:amount",
            9: "unparseable_number:amount",
        }
    },
}
# s44-attack: amounts as spreadsheets and exports write them: accounting parentheses "(300)" read as a
# negative (amount_not_positive), "(1,234.56)" and "1 234.56" (a space or a no-break space grouping the
# thousands) in a file without a thousands separator are not numbers, "NaN" is an empty cell, inf and
# -Infinity are not numbers, 1e308 and 10^20 are implausible; I1 and I11 (250.5) accepted
INVOICE_CASES["inv_amounts_hostile_s44"] = {
    "invoices": {
        2: "amount_not_positive",
        3: "unparseable_number:amount",
        4: "unparseable_number:amount",
        5: "unparseable_number:amount",
        6: "missing_value:amount",
        7: "unparseable_number:amount",
        8: "unparseable_number:amount",
        9: "implausible_amount:amount",
        10: "implausible_amount:amount",
    }
}
# s44-attack: 2024/02/01 is read (I2); day-first 15/01/2024 is not ISO; 45306.5, an Excel serial with a
# time, is named; month 13 and 2023-02-29 (no leap year) are no dates; 2024-02-29 is (I7)
INVOICE_CASES["inv_dates_hostile_s44"] = {
    "invoices": {
        3: "unparseable_date:due_date; unparseable_date:issue_date",
        4: "excel_serial_date:issue_date",
        5: "unparseable_date:issue_date",
        6: "unparseable_date:issue_date",
    }
}
# s44-attack: invoice numbers that are spreadsheet formulas (=HYPERLINK, +cmd, @SUM) or paths (../../x,
# /etc/passwd) are text like any id: all accepted as written (test_hostile_ids_are_kept_as_written);
# the exports and quarantine files prefix formula cells with ' (pipelines.adapters.exports.neutralise)
INVOICE_CASES["inv_ids_hostile_s44"] = {}
PAYMENT_CASES = {
    # I99 paid 50 days after D1's first invoice: within rules.export_start_days (90), an invoice
    # issued before the file starts (s23-rolling; was unknown_invoice)
    "pay_unknown_invoice": {"payments": {2: "invoice_before_export"}},
    "pay_unknown_debtor": {"payments": {2: "unknown_debtor"}},
    "pay_overpays_invoice": {"payments": {2: "overpays_invoice"}},
    "pay_debtor_mismatch": {"payments": {2: "debtor_mismatch"}},
    "pay_after_as_of": {"payments": {2: "date_after_as_of:paid_on"}},
    "pay_missing_paid_on": {"payments": {2: "missing_value:paid_on"}},
    # s12: a negative payment matching no payment of the export (was amount_not_positive)
    "pay_not_positive": {"payments": {2: "reversal_unmatched"}},
    "pay_duplicate_id": {"payments": {1: "duplicate_id:payment_id", 2: "duplicate_id:payment_id"}},
    # s19: payments.kind is cash | credit (any case; empty = cash); "refund" is neither
    "pay_unknown_kind": {"payments": {2: "unknown_payment_kind"}},
    # s22: the file cut inside its last amount (30.27 -> 3, no final line break): it was a payment of 3.00
    "pay_cut_last_line": {"payments": {7: "cut_last_line"}},
    # s22: the same file uncut: no final line break alone is no defect (the UCI file has none)
    "pay_no_final_line_break": {},
}
CASES: dict[str, tuple[dict[str, str], dict[str, dict[int, str]]]] = {
    **{k: ({"invoices": k, "payments": "base/payments_i1"}, v) for k, v in INVOICE_CASES.items()},
    **{k: ({"payments": k}, v) for k, v in PAYMENT_CASES.items()},
    "pay_invoice_quarantined": (
        {"payments": "pay_invoice_quarantined", "invoices": "inv_i2_not_positive"},
        {"invoices": {2: "amount_not_positive"}, "payments": {2: "invoice_quarantined"}},
    ),
    "inv_debtor_quarantined": (
        {
            "invoices": "inv_debtor_quarantined",
            "debtors": "deb_quarantined_d3",
            "payments": "base/payments_i1",
        },
        {"debtors": {3: "negative_credit_limit"}, "invoices": {2: "debtor_quarantined"}},
    ),
    "deb_negative_limit": (
        {"debtors": "deb_negative_limit"},
        {
            "debtors": {1: "negative_credit_limit"},
            "invoices": {1: "debtor_quarantined", 2: "debtor_quarantined"},
            "payments": {1: "debtor_quarantined"},
        },
    ),
    "deb_bad_country": (
        {"debtors": "deb_bad_country"},
        {
            "debtors": {2: "bad_country"},
            "invoices": {3: "debtor_quarantined"},
            "payments": {2: "debtor_quarantined", 3: "debtor_quarantined"},
            "events": {1: "debtor_quarantined"},
        },
    ),
    "evt_unknown_kind": ({"events": "evt_unknown_kind"}, {"events": {1: "unknown_event_kind"}}),
    # s34: kinds as people and spreadsheets write them ('Agency placement', 'Write–off' with an en dash)
    # and a write-off booked as a credit (-80): all read, none quarantined
    "evt_kinds_as_written": ({"events": "evt_kinds_as_written"}, {}),
    # issue 10: one bad row never stops a run
    "inv_dates_hostile": (
        {"invoices": "inv_dates_hostile"},
        {
            "invoices": {
                4: "date_out_of_range:due_date",
                5: "date_out_of_range:due_date; date_out_of_range:issue_date",
                6: "date_too_late:due_date",
                7: "unparseable_date:issue_date",
                8: "excel_serial_date:issue_date",  # 45306: an Excel date serial, named (s10-robust)
                9: "date_out_of_range:issue_date",
            }
        },
    ),
    "pay_date_9999_evt_date_tz": (
        {"payments": "pay_date_9999", "events": "evt_date_tz"},
        {"payments": {2: "date_out_of_range:paid_on"}},
    ),
    "deb_unterminated_quote": (  # the quote swallowed D2 and every row cascaded to unknown_debtor
        {"debtors": "deb_unterminated_quote"},
        {
            "debtors": {1: "unterminated_quote"},
            "invoices": {1: "debtor_quarantined", 2: "debtor_quarantined"},
            "payments": {1: "debtor_quarantined"},
        },
    ),
    # s20: '00123 (Excel's text marker keeping the leading zeros) is the invoice 00123 the payment names
    "inv_excel_text_marker": (
        {"invoices": "inv_excel_text_marker", "payments": "pay_excel_text_marker"},
        {},
    ),
    "deb_bare_cr": ({"debtors": "deb_bare_cr"}, {}),  # a CR inside a name is not a line break
    "deb_multiline_value": ({"debtors": "deb_multiline_value"}, {}),  # quoted line breaks, CRLF, blank lines
    "inv_structure_hostile": (
        {"invoices": "inv_structure_hostile", "payments": "base/payments_i1"},
        {
            "invoices": {
                2: "unterminated_quote",
                4: "malformed_row",
                5: "malformed_row",
                6: "unparseable_number:amount",
                8: "malformed_row",
            }
        },
    ),
    # NUL, BOM and zero-width characters, trailing delimiters, blank and "NaN" ids, a 33,000-char name
    "deb_extra_attacks": (
        {"debtors": "deb_extra_attacks"},
        {"debtors": {3: "missing_value:debtor_id", 4: "missing_value:debtor_id"}},
    ),
    # CR-only line ends, padded and BOM-prefixed ids, -0, 1e400, a thousands separator in a dot file
    "inv_extra_attacks": (
        {"invoices": "inv_extra_attacks", "payments": "base/payments_i1"},
        {
            "invoices": {
                2: "amount_not_positive",
                4: "unparseable_number:amount",
                5: "unparseable_number:amount",
            }
        },
    ),
    "deb_date_out_of_range": (
        {"debtors": "deb_date_9999"},
        {
            "debtors": {2: "date_out_of_range:onboarded_on"},
            "invoices": {3: "debtor_quarantined"},
            "payments": {2: "debtor_quarantined", 3: "debtor_quarantined"},
            "events": {1: "debtor_quarantined"},
        },
    ),
}

# case -> (replaced tables, fragments the TableError message must contain)
TABLE_ERRORS: dict[str, tuple[dict[str, str], list[str]]] = {
    "empty_file": ({"invoices": "empty.csv"}, ["invoices: file", "empty.csv is empty (0 bytes)"]),
    "wrong_delimiter_semicolon": (
        {"invoices": "inv_semicolon.csv"},
        ["inv_semicolon.csv looks delimited by semicolon ';'", "Wrong delimiter", "csv.delimiter: ';'"],
    ),
    "wrong_delimiter_tab": (
        {"invoices": "inv_tab.csv"},
        ["inv_tab.csv looks delimited by tab", "csv.delimiter: '\\t'"],
    ),
    "wrong_encoding_latin1": (
        {"debtors": "deb_latin1.csv"},
        ["debtors:", "deb_latin1.csv is not valid utf-8 text at line 2", "csv.encoding", "latin-1"],
    ),
    "wrong_encoding_utf16": (
        {"invoices": "inv_utf16.csv"},
        # before s11: "is not valid utf-8 text at line 1 (byte 0: ff fe 69 00) ... latin-1 or cp1252"
        ["inv_utf16.csv is UTF-16 text (byte order mark ff fe;", 'save it from Excel as "CSV UTF-8'],
    ),
    "missing_column": (
        {"invoices": "inv_missing_column.csv"},
        ["inv_missing_column.csv lacks 1 required column ['due_date']", "tables.invoices.columns"],
    ),
    "duplicate_column": ({"invoices": "inv_duplicate_column.csv"}, ["1 duplicated column name ['amount']"]),
    "header_only_payments_beside_invoices": (
        {"invoices": "inv_ten_rows.csv", "payments": "pay_header_only.csv"},
        [
            "payments:",
            "pay_header_only.csv has a header but no rows, while invoices has 10 rows",
            "Nothing was written",
        ],
    ),
    # s21-chaos: the refusal said "no debtor id matches the debtors table: check both debtor_id mappings"
    "header_only_debtors_beside_invoices": (
        {"debtors": "deb_header_only.csv", "invoices": "inv_ten_rows.csv"},
        [
            "debtors:",
            "deb_header_only.csv has a header but no rows, while invoices has 10 rows",
            "leave the debtors table out",
            "Nothing was written",
        ],
    ),
    "blank_header_line": ({"invoices": "inv_blank_header.csv"}, ["inv_blank_header.csv has no header line"]),
    "not_parquet": (
        {"invoices": "not_parquet.parquet"},
        ["not_parquet.parquet is not a readable Parquet file"],
    ),
    "file_not_found": ({"payments": "no_such_file.csv"}, ["payments: file", "no_such_file.csv not found"]),
    # issue 10: say what the file really is (magic bytes) and the fix, not "not valid utf-8"
    "parquet_named_csv": (
        {"invoices": "inv_parquet_named_csv.csv"},
        ["inv_parquet_named_csv.csv is a Parquet file, not CSV text", "name it .parquet"],
    ),
    "gzip_named_csv": (
        {"invoices": "inv_gzip_named_csv.csv"},
        ["inv_gzip_named_csv.csv is gzip-compressed, not CSV text", "gunzip"],
    ),
    "xlsx_named_csv": (
        {"invoices": "inv_xlsx_named_csv.csv"},
        ["inv_xlsx_named_csv.csv is an Excel (.xlsx) workbook, not CSV text", "save the sheet as CSV"],
    ),
    "gzip_named_parquet": (
        {"invoices": "inv_gzip_named_parquet.parquet"},
        ["inv_gzip_named_parquet.parquet is gzip-compressed, not a Parquet file", "gunzip"],
    ),
}

# ``--keep-history`` (history/, README there): night 1 (2024-06-30) is D01..D20's invoices of January to June
# 2024 (one a month each, on the 10th, 100.00) and their payments (each on the 25th of its month); night 2
# (2024-07-31) is a rolling export from February: case -> (night 2's invoices file, fragments of the refusal).
# Paid kept invoices per month: January absent 20 (it left the window), the others present 20 each in the
# honest export (night2_invoices.csv, taken).
HISTORY = DATA / "history"
HISTORY_ERRORS: dict[str, tuple[str, list[str]]] = {
    # s41-rolling: a month dropped from the middle of the window (the span started after it: taken before)
    "history_month_missing": (
        "night2_inv_no_april.csv",
        [
            "night2_inv_no_april.csv): today's export lacks 20 of the 20 paid invoices the history holds "
            "issued in 2024-04,",
            "Export the invoices again with every month of the window (2024-04 included)",
            "Nothing was changed in",
        ],
    ),
    # s42-rolling: two months in a row (session 41 wanted a held month on both sides of each)
    "history_two_months_missing": (
        "night2_inv_no_april_may.csv",
        [
            "night2_inv_no_april_may.csv): today's export lacks 40 of the 40 paid invoices the history holds "
            "issued in 2024-04 and 2024-05 (2024-04: 20 of 20; 2024-05: 20 of 20),",
            "(2024-04 and 2024-05 included)",
        ],
    ),
    # s42-rolling: the month before the as-of month (no kept month after it; today's July invoices are)
    "history_last_month_missing": (
        "night2_inv_no_june.csv",
        [
            "night2_inv_no_june.csv): today's export lacks 20 of the 20 paid invoices the history holds issued "
            "in 2024-06, while it holds those of the month before it and invoices issued after",
        ],
    ),
}


def _history_night(name: str, invoices: str) -> dict[str, Path]:
    return {
        "debtors": HISTORY / "debtors.csv",
        "invoices": HISTORY / invoices,
        "payments": HISTORY / f"{name}_payments.csv",
    }


def _files(replace: dict[str, str]) -> dict[str, Path]:
    files = dict(BASE_FILES)
    for table, name in replace.items():
        files[table] = DATA / (name if "." in name else f"{name}.csv")
    return files


def _ingest_cli(files: dict[str, Path], out: Path, *extra: str) -> Result:
    """`ews ingest --out OUT --as-of AS_OF --<table> FILE ... [extra]` in process."""
    args = ["ingest", "--out", str(out), "--as-of", AS_OF.isoformat(), *extra]
    for table, path in files.items():
        args += [f"--{table.replace('_', '-')}", str(path)]  # payment_plans: --payment-plans
    return CliRunner().invoke(app, args)


def test_corpus_has_at_least_20_distinct_defects() -> None:
    assert len(CASES) + len(TABLE_ERRORS) >= 20
    row_reasons = {r for _, exp in CASES.values() for rows in exp.values() for r in rows.values()}
    assert len(row_reasons) >= 20


def test_clean_base_is_accepted_in_full() -> None:
    result = ingest_files(BASE_FILES, None, as_of=AS_OF)
    for table, t in result.manifest["tables"].items():
        assert t["rows_quarantined"] == 0, (table, t["reasons"])
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 3
    assert result.manifest["tables"]["payments"]["rows_accepted"] == 3


@pytest.mark.parametrize("case", sorted(CASES))
def test_row_level_defect_is_quarantined_with_exact_reason(case: str) -> None:
    replace, expected = CASES[case]
    # invalid optional debtor attributes reject the row here (the default clears them instead:
    # tests/pipelines/test_ingest_numbers.py)
    strict = RulesConfig(optional_attributes="quarantine")
    result = ingest_files(_files(replace), None, as_of=AS_OF, settings=strict)
    for table, t in result.manifest["tables"].items():
        q = result.quarantine[table]
        got = dict(zip(q["source_row"].tolist(), q["reason"].tolist(), strict=True))
        assert got == expected.get(table, {}), table
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
        assert len(result.portfolio.present()[table]) == t["rows_accepted"]


@pytest.mark.parametrize("case", sorted(TABLE_ERRORS))
def test_table_level_defect_stops_with_actionable_message(case: str) -> None:
    replace, fragments = TABLE_ERRORS[case]
    with pytest.raises(TableError) as info:
        ingest_files(_files(replace), None, as_of=AS_OF)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize("case", sorted(HISTORY_ERRORS))
def test_keep_history_defect_stops_with_actionable_message(case: str, tmp_path: Path) -> None:
    """Night 2's export with the defect is refused and the kept history is unchanged; the honest one is
    taken (nothing removed: January's 20 paid invoices left the window before the span)."""
    invoices, fragments = HISTORY_ERRORS[case]
    out = tmp_path / "out"
    quiet = RulesConfig(data_docs=False)
    ingest_files(
        _history_night("night1", "night1_invoices.csv"), out, as_of=AS_OF, settings=quiet, keep_history=True
    )
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    july = dt.date(2024, 7, 31)
    with pytest.raises(TableError) as info:
        ingest_files(_history_night("night2", invoices), out, as_of=july, settings=quiet, keep_history=True)
    said = " ".join(str(info.value).split())
    for fragment in fragments:
        assert fragment in said
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    result = ingest_files(
        _history_night("night2", "night2_invoices.csv"), out, as_of=july, settings=quiet, keep_history=True
    )
    assert result.manifest["history"]["tables"]["invoices"]["removed"] == 0
    assert result.manifest["history"]["tables"]["invoices"]["rows"] == 140


def test_cli_exit_2_names_the_invoices_file_and_the_missing_month(tmp_path: Path) -> None:
    """`ews ingest --keep-history` of night 2 without April: exit 2, the file and the month named, no
    traceback, the history as it was."""
    out = tmp_path / "out"
    first = _ingest_cli(_history_night("night1", "night1_invoices.csv"), out, "--keep-history", "--no-docs")
    assert first.exit_code == 0, first.output
    manifest = (out / "manifest.json").read_bytes()
    args = ["ingest", "--out", str(out), "--as-of", "2024-07-31", "--keep-history", "--no-docs"]
    for table, path in _history_night("night2", "night2_inv_no_april.csv").items():
        args += [f"--{table.replace('_', '-')}", str(path)]  # payment_plans: --payment-plans
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    flat = re.sub(r"\s+", " ", result.output)
    assert "night2_inv_no_april.csv): today's export lacks 20 of the 20 paid invoices" in flat
    assert "issued in 2024-04" in flat and "Traceback" not in result.output
    assert (out / "manifest.json").read_bytes() == manifest


def test_header_only_optional_table_is_empty_not_an_error() -> None:
    result = ingest_files(_files({"events": "header_only_events.csv"}), None, as_of=AS_OF)
    t = result.manifest["tables"]["events"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (0, 0, 0)
    assert len(result.portfolio.events) == 0


def test_statement_defects() -> None:
    result = ingest_files(
        {"debtors": BASE / "debtors.csv", "statements": DATA / "stm_defects.csv"}, None, as_of=AS_OF
    )
    q = result.quarantine["statements"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        1: "duplicate_period",
        2: "duplicate_period",
        3: "negative_days_past_due",
        4: "unparseable_number:days_past_due",
    }


def test_malformed_row_keeps_raw_line() -> None:
    result = ingest_files(
        _files({"invoices": "inv_malformed_row", "payments": "base/payments_i1"}), None, as_of=AS_OF
    )
    q = result.quarantine["invoices"]
    assert q["raw_line"].tolist() == ["I2,D1,2024-02-01,2024-03-02,200,EUR,false,extra"]
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1", "I3"]


@pytest.mark.parametrize(
    "case",
    [
        "wrong_delimiter_semicolon",
        "missing_column",
        "wrong_encoding_utf16",
        "gzip_named_csv",
        "header_only_payments_beside_invoices",
    ],
)
def test_cli_exit_2_names_file_and_fix(case: str, tmp_path: Path) -> None:
    replace, fragments = TABLE_ERRORS[case]
    files = _files(replace)
    result = _ingest_cli(files, tmp_path / "out")
    assert result.exit_code == 2, result.output
    flat = re.sub(r"\s+", " ", result.output)
    assert fragments[0] in flat and "Traceback" not in result.output
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_date_with_timezone_keeps_the_date_as_written() -> None:
    result = ingest_files(_files({"invoices": "inv_dates_hostile"}), None, as_of=AS_OF)
    inv = result.portfolio.invoices.set_index("invoice_id")
    assert inv["issue_date"].dt.strftime("%Y-%m-%d").to_dict() == {
        "I1": "2024-01-01",
        "I2": "2024-02-01",  # 23:30 at -12:00 is 2024-02-02 in UTC: the written date is kept
        "I3": "2024-01-15",
    }
    assert inv.loc["I2", "due_date"] == pd.Timestamp("2024-03-02")


def test_parquet_float_ids_become_exact_text_and_non_finite_ids_are_quarantined(tmp_path: Path) -> None:
    debtors = tmp_path / "debtors.parquet"
    pd.DataFrame({"debtor_id": [1001.0, 1e20, float("inf"), float("nan"), float("-inf")]}).to_parquet(debtors)
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,1001,2024-01-01,2024-01-31,100\n"
        "I2,100000000000000000000,2024-02-01,2024-03-02,200\n"
        "I3,inf,2024-02-01,2024-03-02,200\n"
    )
    payments = tmp_path / "payments.csv"
    payments.write_text("payment_id,debtor_id,invoice_id,paid_on,amount\nP1,1001,I1,2024-01-30,100\n")
    result = ingest_files({"debtors": debtors, "invoices": invoices, "payments": payments}, None, as_of=AS_OF)
    assert result.portfolio.debtors["debtor_id"].tolist() == ["1001", "100000000000000000000"]
    q = result.quarantine["debtors"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        3: "unparseable_id:debtor_id",
        4: "missing_value:debtor_id",
        5: "unparseable_id:debtor_id",
    }
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert result.quarantine["invoices"]["reason"].tolist() == ["unparseable_id:debtor_id"]
    for t in result.manifest["tables"].values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]


def test_broken_lines_carry_their_physical_line_and_what_is_wrong() -> None:
    replace = {"invoices": "inv_structure_hostile", "payments": "base/payments_i1"}
    result = ingest_files(_files(replace), None, as_of=AS_OF)
    q = result.quarantine["invoices"]
    assert q["source_line"].tolist() == [3, 5, 6, 7, 9]
    detail = dict(zip(q["source_line"], q["detail"], strict=True))
    assert detail[3].startswith("line 3: a quote opens a value and is not closed")
    assert detail[5] == "line 5: 6 fields, the header has 7"
    assert detail[9] == "line 9: 8 fields, the header has 7"
    assert pd.isna(detail[7])  # parsed, but the amount is not a number
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1", "I2", "I3"]
    assert result.manifest["tables"]["invoices"]["repairs"] == {"trailing_delimiter": 1}


def test_bare_cr_keeps_the_debtor_and_is_counted() -> None:
    result = ingest_files(_files({"debtors": "deb_bare_cr"}), None, as_of=AS_OF)
    assert result.portfolio.debtors["name"].tolist() == ["Ac me", "Beta"]
    assert result.manifest["tables"]["debtors"]["repairs"] == {"stray_carriage_return": 1}
    assert result.manifest["tables"]["invoices"]["rows_accepted"] == 3


def test_quoted_line_breaks_stay_in_one_value() -> None:
    result = ingest_files(_files({"debtors": "deb_multiline_value"}), None, as_of=AS_OF)
    names = result.portfolio.debtors["name"].tolist()
    assert names == ["Acme\nHarbour Road 1, Hamburg", 'Beta "Wholesale"']
    assert result.manifest["tables"]["debtors"]["rows_in"] == 2


def test_cli_keeps_the_rest_when_one_debtor_line_is_broken(tmp_path: Path) -> None:
    files = _files({"debtors": "deb_unterminated_quote"})
    result = _ingest_cli(files, tmp_path / "out", "--no-docs")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    for t in manifest["tables"].values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    assert manifest["tables"]["debtors"]["rows_in"] == 2
    q = pd.read_csv(tmp_path / "out" / "quarantine" / "debtors.csv")
    assert q[["source_row", "source_line", "reason"]].values.tolist() == [[1, 2, "unterminated_quote"]]
    assert manifest["tables"]["events"]["rows_accepted"] == 1  # D2's event is not lost to the quote


def test_invisible_characters_never_split_an_id() -> None:
    result = ingest_files(_files({"debtors": "deb_extra_attacks"}), None, as_of=AS_OF)
    deb = result.portfolio.debtors.set_index("debtor_id")
    assert deb.index.tolist() == ["D1", "D2", "D9", "d1", "D3"]  # ids are case-sensitive
    assert deb.loc["D1", "name"] == "Acme" and deb.loc["D2", "name"] == "Beta"
    assert len(deb.loc["D9", "name"]) == 33000
    assert deb.loc["D2", "credit_limit"] == 0.0
    assert result.manifest["tables"]["debtors"]["repairs"] == {"trailing_delimiter": 7}
    inv = ingest_files(
        _files({"invoices": "inv_extra_attacks", "payments": "base/payments_i1"}), None, as_of=AS_OF
    )
    assert inv.portfolio.invoices[["invoice_id", "debtor_id"]].values.tolist() == [["I1", "D1"], ["I3", "D2"]]
    assert inv.quarantine["invoices"]["debtor_id"].tolist()[0] == "\ufeffD2"  # shown as read


def test_cli_exit_0_without_traceback_when_every_table_is_hostile(tmp_path: Path) -> None:
    """The rows that used to stop a run (9999-12-31, mixed offsets, BOMs, NULs) in one CLI ingest."""
    files = _files(
        {
            "debtors": "deb_extra_attacks",
            "invoices": "inv_dates_hostile",
            "payments": "pay_date_9999",
            "events": "evt_date_tz",
        }
    )
    result = _ingest_cli(files, tmp_path / "out", "--no-docs")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    tables = manifest["tables"]
    for t in tables.values():
        assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    assert [tables[t]["rows_accepted"] for t in ("debtors", "invoices", "payments", "events")] == [5, 3, 2, 1]
    assert tables["invoices"]["reasons"]["date_out_of_range:due_date"] == 2
    assert tables["payments"]["reasons"] == {"date_out_of_range:paid_on": 1}
    q = pd.read_csv(tmp_path / "out" / "quarantine" / "invoices.csv", dtype=str)
    assert q.loc[q["invoice_id"] == "I4", "due_date"].tolist() == ["9999-12-31"]  # as read


def test_payments_without_a_currency_take_their_invoice_or_debtor_currency_in_a_eur_kwd_book() -> None:
    """s22 (s21-review's open item): a book with EUR and KWD invoices whose payments carry no
    currency. Before, every payment counted as a 2-decimal one for the thousands check: 5 of 5
    dotted amounts of the shape 1.500, so all five were quarantined thousands_as_decimal, the KWD
    payments 12.500 / 5.250 / 3.125 too. Now a payment takes its invoice's class (P1, P2), else its
    debtor's (P3, unallocated: D2's invoices are all KWD): the KWD payments are kept, and the EUR
    ones (1.500 and 2.250 under decimal '.', 2 of 2 EUR dotted amounts: whole euros grouped by
    thousands) are still quarantined."""
    from pipelines.config.project import CurrencyConfig

    files = _files({"invoices": "inv_eur_kwd", "payments": "pay_eur_kwd_no_currency"})
    result = ingest_files(
        files, None, as_of=AS_OF, currency=CurrencyConfig(reporting="EUR", rates={"KWD": 3.0})
    )
    q = result.quarantine["payments"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        4: "thousands_as_decimal:amount",
        5: "thousands_as_decimal:amount",
    }
    pay = result.portfolio.payments.set_index("payment_id")
    assert pay["amount"].round(3).to_dict() == {"P1": 37.5, "P2": 15.75, "P3": 9.38}  # KWD x 3.0, in cents
    assert result.quarantine["invoices"].empty


def test_corpus_s35_amounts_read_without_losing_rows() -> None:
    """s35-attack's two silent losses, in the corpus: an invoice of 200.005 EUR (more decimals than
    the currency has) is kept and read as 200.00, so a payment of 200.00 settles it; an event whose
    amount does not parse ('abc') keeps its event (the agency placement, a default) with no amount."""
    result = ingest_files(_files({"invoices": "inv_amount_below_unit"}), None, as_of=AS_OF)
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (3, 3, 0)
    assert sorted(result.portfolio.invoices["amount"].tolist()) == [100.0, 200.0, 300.0]
    assert t["values_cleared"]["amount"]["reasons"] == {"below_currency_unit:amount": 1}
    result = ingest_files(_files({"events": "evt_amount_unreadable"}), None, as_of=AS_OF)
    t = result.manifest["tables"]["events"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (1, 1, 0)
    events = result.portfolio.events
    assert events["kind"].tolist() == ["agency_placement"] and events["amount"].isna().all()


def test_payment_plans_dated_over_a_month_before_they_were_agreed_are_quarantined(tmp_path: Path) -> None:
    """s43-attack's rule in the corpus: a plan whose first instalment falls due more than 31 days before it
    was agreed (row 3: a year typed wrong; row 4: 32 days) is quarantined first_due_before_agreed; 10 days
    (row 2, a plan entered after its first instalment) and exactly 31 days (row 5) are accepted. Before
    session 43 every row was accepted and the year-early plan was silently never in force."""
    files = {**BASE_FILES, "payment_plans": DATA / "plan_first_due_before_agreed.csv"}
    result = ingest_files(files, None, as_of=AS_OF)
    q = result.quarantine["payment_plans"]
    assert dict(zip(q["source_row"].tolist(), q["reason"].tolist(), strict=True)) == {
        3: "first_due_before_agreed",
        4: "first_due_before_agreed",
    }
    t = result.manifest["tables"]["payment_plans"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (5, 3, 2)
    kept = result.portfolio.payment_plans
    assert sorted(zip(kept["debtor_id"], kept["first_due"].dt.strftime("%Y-%m-%d"), strict=True)) == [
        ("D1", "2024-05-10"),
        ("D1", "2024-05-15"),
        ("D2", "2024-04-21"),
    ]
    cli = _ingest_cli(files, tmp_path / "out", "--no-docs")
    assert cli.exit_code == 0, cli.output
    assert "Traceback" not in cli.output
    assert "first_due_before_agreed" in cli.output


def test_hostile_ids_are_kept_as_written() -> None:
    """s44-attack: the formula and path invoice numbers of inv_ids_hostile_s44.csv are read as written,
    neither evaluated, shortened nor refused (ids are opaque text)."""
    result = ingest_files(
        _files({"invoices": "inv_ids_hostile_s44", "payments": "base/payments_i1"}), None, as_of=AS_OF
    )
    assert result.portfolio.invoices["invoice_id"].tolist() == [
        "I1",
        '=HYPERLINK("http://example.com","x")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "../../x",
        "/etc/passwd",
    ]
