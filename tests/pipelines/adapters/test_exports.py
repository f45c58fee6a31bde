"""CSV / XLSX / Parquet exports: formula-injection neutralisation, Excel-friendly encoding, formats."""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd

from pipelines.adapters.exports import neutralise, write_csv, write_parquet, write_xlsx


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
