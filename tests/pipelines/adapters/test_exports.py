"""CSV / XLSX / Parquet exports: formula-injection neutralisation, Excel-friendly encoding, formats."""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipelines.adapters.exports import (
    headers,
    neutralise,
    watchlist_export,
    write_csv,
    write_parquet,
    write_queue,
    write_xlsx,
)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "debtor_id": pd.Series(["D1", "D2", "D3"], dtype="string"),
            "name": ['=HYPERLINK("http://x")', "+31 Müller GmbH", "@SUM(A1)"],
            "note": pd.Series(["-2+3", "plain", None], dtype="string"),
            "pd": [0.1234, 0.5, np.nan],
            "pd_change": [-0.02, 0.0, 0.01],
            "expected_loss": [1234.5, -5.0, 0.0],
            "oldest_due_date": pd.to_datetime(["2024-06-01", None, "2024-05-31"]),
        }
    )


def test_neutralise_prefixes_only_dangerous_text() -> None:
    out = neutralise(frame())
    assert out["name"].tolist() == ['\'=HYPERLINK("http://x")', "'+31 Müller GmbH", "'@SUM(A1)"]
    assert out["note"].tolist()[:2] == ["'-2+3", "plain"] and pd.isna(out["note"].iloc[2])
    assert out["expected_loss"].tolist() == [1234.5, -5.0, 0.0]  # numbers are not text
    assert neutralise(pd.DataFrame({"x": ["\tcmd", "\rcmd", "ok=1"]}))["x"].tolist() == [
        "'\tcmd",
        "'\rcmd",
        "ok=1",
    ]


def test_csv_has_bom_iso_dates_and_no_formulas(tmp_path) -> None:
    path = write_csv(frame(), tmp_path / "q.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "rank",
        "debtor_id",
        "name",
        "note",
        "pd",
        "pd_change",
        "expected_loss",
        "oldest_due_date",
    ]
    assert rows[1][2] == '\'=HYPERLINK("http://x")' and rows[2][2] == "'+31 Müller GmbH"
    assert rows[1][7] == "2024-06-01" and rows[2][7] == "" and rows[3][7] == "2024-05-31"
    assert rows[2][6] == "-5"  # a negative number stays a number
    assert rows[1][4] == "0.1234" and rows[1][6] == "1234.5"
    assert not any(cell[:1] in "=+@" and cell for row in rows[1:] for cell in row)


def test_xlsx_frozen_header_autofilter_formats_and_text_cells(tmp_path) -> None:
    path = write_xlsx(frame(), tmp_path / "q.xlsx", as_of=pd.Timestamp("2024-06-30").to_pydatetime())
    ws = openpyxl.load_workbook(path).active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H4"
    assert [c.value for c in ws[1]] == list(frame().columns)
    assert ws["A1"].font.bold
    name = ws["C2"]
    assert name.value == '\'=HYPERLINK("http://x")' and name.data_type == "s"
    assert ws["E2"].value == 0.1234 and ws["E2"].number_format == "0.00%"
    assert ws["G2"].number_format == "#,##0.00"
    assert (
        ws["H2"].value == pd.Timestamp("2024-06-01").to_pydatetime()
        and ws["H2"].number_format == "yyyy-mm-dd"
    )
    assert ws["H3"].value is None and ws["E4"].value is None
    assert ws["A2"].value == 1 and ws["A2"].number_format == "0"


def test_parquet_round_trip_and_byte_identical(tmp_path) -> None:
    a = write_parquet(frame(), tmp_path / "a.parquet")
    b = write_parquet(frame(), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a), frame())
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind


def test_xlsx_note_sheet(tmp_path) -> None:
    path = write_xlsx(
        frame().head(2), tmp_path / "top.xlsx", sheet="collections queue", note="top 2 of 3 rows"
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["collections queue", "about"]
    assert wb["about"]["A1"].value == "top 2 of 3 rows"
    assert wb["collections queue"].max_row == 3


def queue_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "debtor_id": pd.Series(["D1", "D2", "D3"], dtype="string"),
            "owner": pd.Series(["anna", "ben", "anna"], dtype="string"),
            "next_action": pd.Series(["call", "resolve_dispute", "reminder"], dtype="string"),
            "action_rule": pd.Series(
                ["30+ days past due: call", "whole overdue balance in dispute", "=1+1"],
                dtype="string",
            ),
            "pd": [0.2, 0.1, 0.05],
            "exposure": [1_234_567.891, 200.0, 50.5],
            "expected_loss": [111.11, 9.0, 1.14],
        }
    )


def test_queue_workbook_headers_totals_widths_and_owner_sheets(tmp_path) -> None:
    files = write_queue(
        queue_frame(),
        tmp_path,
        "collections_queue",
        "Collections queue",
        pd.Timestamp("2024-06-30"),
        100,
        "EUR",
    )
    wb = openpyxl.load_workbook(files["collections_queue.xlsx"], data_only=True)
    assert wb.sheetnames == ["all", "anna", "ben", "about"]
    ws = wb["all"]
    assert [c.value for c in ws[1]] == [
        "Rank",
        "Debtor ID",
        "Owner",
        "Next action",
        "Why this action",
        "PD",
        "Exposure at default (EUR)",
        "Expected loss (EUR)",
    ]
    # totals row under the data: the amounts summed (a SUBTOTAL that follows the filter)
    assert ws["A5"].value == "Total (3 rows)" and ws["A5"].font.bold
    assert ws["G5"].value == pytest.approx(1_234_818.39) and ws["H5"].value == pytest.approx(121.25)
    assert ws["F5"].value is None  # PDs are not summed
    assert ws.auto_filter.ref == "A1:H4"
    formulas = openpyxl.load_workbook(files["collections_queue.xlsx"])["all"]
    assert formulas["G5"].value == "=SUBTOTAL(109,G2:G4)"
    # widths fitted: the long rule text is wider than the debtor id; "1,234,567.89" fits
    width = {k: v.width for k, v in ws.column_dimensions.items()}
    assert width["E"] > width["B"] and width["G"] >= len("1,234,567.89")
    assert width["E"] <= 60
    # one sheet per owner, same header and totals; text still neutralised
    anna = wb["anna"]
    assert [r[0].value for r in anna.iter_rows(min_row=2)] == [1, 3, "Total (2 rows)"]
    assert anna["H4"].value == pytest.approx(112.25)
    assert anna["E3"].value == "'=1+1" and anna["E3"].data_type == "s"
    assert "Amounts in EUR" in wb["about"]["A1"].value
    # CSV and Parquet keep the machine names (one name per quantity across files)
    head = files["collections_queue.csv"].read_text(encoding="utf-8-sig").splitlines()[0]
    assert head == "rank,debtor_id,owner,next_action,action_rule,pd,exposure,expected_loss"
    assert list(pd.read_parquet(files["collections_queue.parquet"]).columns) == list(queue_frame().columns)


def test_headers_name_the_currency_of_amounts_only() -> None:
    got = headers(["debtor_id", "exposure", "pd", "recoverable_amount", "mystery"], "GBP")
    assert got == {
        "debtor_id": "Debtor ID",
        "exposure": "Exposure at default (GBP)",
        "pd": "PD",
        "recoverable_amount": "Recoverable amount (GBP)",
        "mystery": "mystery",
    }
    assert headers(["exposure"], None) == {"exposure": "Exposure at default"}


def test_watchlist_csv_does_not_repeat_itself() -> None:
    wl = pd.DataFrame(
        {
            "debtor_id": ["D1"],
            "triggers": ["threshold, jump"],
            "reason_1": ["a"],
            "reason_2": ["b"],
            "reasons": ["a; b"],
            "open_balance": [10.0],
            "trigger_threshold": [True],
            "trigger_jump": [True],
        }
    )
    assert list(watchlist_export(wl).columns) == ["debtor_id", "triggers", "reason_1", "reason_2", "exposure"]


def test_published_names_and_back() -> None:
    from pipelines.adapters.exports import internal, published

    frame = pd.DataFrame({"debtor_id": ["D1"], "open_balance": [10.0], "open_disputed_amount": [2.0],
                          "dpd_current_max": [31.0], "overdue_amount": [5.0]})  # fmt: skip
    out = published(frame)
    assert list(out.columns) == ["debtor_id", "exposure", "disputed_amount", "dpd", "overdue_amount"]
    assert list(internal(out).columns) == list(frame.columns)
    assert list(internal(frame).columns) == list(frame.columns)  # a run published before the rename


def test_csv_cells_are_pandas_to_csv_byte_for_byte(tmp_path, monkeypatch) -> None:
    """``write_csv`` formats the cells column by column (Arrow) instead of pandas' per-value
    ``to_csv``; the bytes are the same for every kind it formats, in pieces too: floats at 12
    significant digits (-0.0, inf, 1e16, 1e-05, binary noise, float32), integers, booleans, nullable
    ones, days of datetimes (a time of day, before 1970, NaT), text that must be quoted (comma,
    quote, line breaks), formulas, empty and missing text; a timedelta column falls back to to_csv."""
    from pipelines.adapters import exports

    f = pd.DataFrame(
        {
            "x": [0.1 + 0.2, -0.0, np.inf, -np.inf, 1e16, 1e-05, np.nan, 123456789.123456789, 2.5, 0.0],
            "f32": np.array([0.1, 1 / 3, np.nan, 7, -2.5, 1e-8, 3e38, 0, 1, 2], dtype=np.float32),
            "n": np.arange(-5, 5, dtype=np.int64) * 10**12,
            "u": np.arange(10, dtype=np.uint8),
            "b": [True, False] * 5,
            "nb": pd.array([True, None, False] + [True] * 7, dtype="boolean"),
            "ni": pd.array([1, None, -3] + [4] * 7, dtype="Int64"),
            "d": pd.to_datetime(
                ["2024-01-31 23:59", None, "1969-12-31 12:00", "2262-04-11 00:00", "1677-09-22 00:00"]
                + ["2020-02-29 00:00"] * 5
            ),
            "s": pd.array(
                ["a,b", 'say "hi"', "line\r\nbreak", "=1+1", "", None, "Müller", " x", "-5", "\tt"],
                dtype="string",
            ),
            "o": ["plain", None, np.nan, "7", "a\nb", "x", "y", "z", "w", "v"],
        }
    )
    want = "\ufeff" + neutralise(f).to_csv(index=False, **exports.CSV_FORMAT)
    monkeypatch.setattr(exports, "CSV_CHUNK_ROWS", 3)
    assert write_csv(f, tmp_path / "a.csv").read_bytes() == want.encode("utf-8")
    lines, ends = exports.csv_lines_and_ends(f)
    by_rows = [
        len(neutralise(f.iloc[: k + 1]).to_csv(index=False, header=False, **exports.CSV_FORMAT).encode())
        for k in range(10)
    ]
    assert (
        lines.startswith(b"0.3,0.10000000149,-5000000000000,0,True,True,1,2024-01-31,")
        and list(ends) == by_rows
    )
    td = f.assign(t=pd.to_timedelta(np.arange(10), unit="D"))
    assert exports.csv_lines_and_ends(td)[1] is None
    assert write_csv(td, tmp_path / "t.csv").read_bytes() == (
        "\ufeff" + neutralise(td).to_csv(index=False, **exports.CSV_FORMAT)
    ).encode("utf-8")
    assert write_csv(f.iloc[:0], tmp_path / "e.csv").read_bytes() == (
        "\ufeff" + neutralise(f.iloc[:0]).to_csv(index=False, **exports.CSV_FORMAT)
    ).encode("utf-8")


def test_float_cells_of_ten_thousandths_as_python_formats_them() -> None:
    """Floats that are a decimal of at most 4 places and 12 significant digits (cents, rounded
    probabilities) are formatted without Python (``_ten_thousandths``), the others one by one; every
    cell is ``"%.12g" % x``: the fast path's edges (1e-4, 99999999.9999, -0.5, 0.0, 1e8 = 10^12
    ten-thousandths, 5e-5, -0.0, 1e-5), binary noise (0.1 + 0.2), float32 and float16 values, and
    random cents, ten-thousandths and other floats."""
    from pipelines.adapters.exports import CSV_FORMAT, csv_cells

    fmt = CSV_FORMAT["float_format"]  # "%.12g", what pandas' to_csv applies to each float
    rng = np.random.default_rng(5)
    edges = [1e-4, -1e-4, 99999999.9999, -99999999.9999, -0.5, 0.5, 0.0, 1e8, 5e-5, -0.0, 1e-5, 0.1 + 0.2]
    values = np.r_[
        edges,
        [2.5, -12.34, 100.0, 0.0101, 1234567.8, 3.0001, np.nan, np.inf, -np.inf, 1e300],
        rng.integers(-(10**10), 10**10, 3000) / 100,
        rng.integers(-(10**12) + 1, 10**12, 3000) / 1e4,
        rng.normal(0, 1e4, 3000),
    ]
    for dtype in (np.float64, np.float32, np.float16):
        with np.errstate(over="ignore"):
            x = values.astype(dtype)
        got = csv_cells(pd.Series(x)).to_pylist()
        assert got == ["" if np.isnan(v) else fmt % v for v in x.tolist()], dtype
    got = csv_cells(pd.Series(edges)).to_pylist()
    assert got == [
        "0.0001",
        "-0.0001",
        "99999999.9999",
        "-99999999.9999",
        "-0.5",
        "0.5",
        "0",
        "100000000",
    ] + [
        "5e-05",
        "-0",
        "1e-05",
        "0.3",
    ]


def test_amount_headers_read_once_with_the_currency() -> None:
    """s11-small: the queue workbook read 'Priority (expected loss x days-past-due weight) (EUR)'."""
    from pipelines.adapters.exports import headers

    got = headers(["priority", "exposure", "pd", "expected_cash_30d"], "EUR")
    assert got == {
        "priority": "Priority: expected loss x days-past-due weight (EUR)",
        "exposure": "Exposure at default (EUR)",
        "pd": "PD",
        "expected_cash_30d": "Expected cash in 30 days (EUR)",
    }
    assert headers(["priority"], None) == {"priority": "Priority: expected loss x days-past-due weight"}


def test_the_priority_header_names_the_key_that_ranks_the_queue() -> None:
    """s12-queue: a queue ranked by the blend was headed 'expected loss x days-past-due weight'."""
    from pipelines.adapters.exports import headers

    blend = (  # s25-newuser: it said "pay_pd", a column name the workbook does not show
        "Priority: expected loss (at the mean of the PD and the unpaid-at-threshold chance) x days-past-due "
        "weight (EUR)"
    )
    assert headers(["priority", "pd"], "EUR", "blend") == {"priority": blend, "pd": "PD"}
    assert headers(["priority"], "EUR", "pd") == headers(["priority"], "EUR")
