"""XLSX rows prepared column by column give the very bytes xlsxwriter's ``write_row`` gives."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.adapters import exports
from pipelines.adapters.exports import _stream_rows, neutralise, write_xlsx

TEXTS = [
    "plain",
    "",
    None,
    " leading space",
    "trailing\t",
    "a & b < c > d \"quoted\" 'single'",
    "line\nbreak",
    "ctrl\x01\x1f char",
    "_x0041_ looks escaped",
    "=1+1",
    "-minus",
    "@at",
    "ünïcødé €",
    "<r>not rich</r> tail",
    "\u00a0nbsp lead",
    "x\ufffe",
]


def _frame(n: int = len(TEXTS)) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    pds = rng.random(n)
    pds[::5] = np.nan
    amounts = rng.lognormal(8, 2, n)
    amounts[1] = 0.30000000000000004
    amounts[2] = -0.0
    amounts[3] = 1e16 + 2
    amounts[4] = 123456789012.345678
    amounts[6] = np.nan
    dates = pd.Series(pd.date_range("2023-01-31", periods=n, freq="D")).astype("datetime64[ns]")
    dates[3] = pd.NaT
    dates[5] = pd.Timestamp("2024-02-29 13:45:30.123456789")
    counts = pd.array([i * 7 if i % 4 else None for i in range(n)], dtype="Int64")
    return pd.DataFrame(
        {
            "rank": np.arange(1, n + 1),
            "debtor_id": pd.array([f"D{i:04d}" for i in range(n)], dtype="string"),
            "name": pd.array(texts, dtype="string"),
            "owner": pd.array([("ann", "bob", None)[i % 3] for i in range(n)], dtype="string"),
            "pd": pds,
            "exposure": amounts,
            "dpd": counts,
            "oldest_due_date": dates,
            "in_default": np.arange(n) % 3 == 0,
            "plan": pd.array([True, False, None] * (n // 3) + [True] * (n % 3), dtype="boolean"),
            "big": np.arange(n, dtype=np.int64) * 10**15,
            "segment": pd.Categorical([("sme", "corp")[i % 2] for i in range(n)]),
            "empty": pd.Series([np.nan] * n),
            "objects": pd.Series([1, "two", 3.5, None] * (n // 4) + [None] * (n % 4), dtype=object),
        }
    )


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _both(frame: pd.DataFrame, tmp_path: Path, **kwargs) -> tuple[bytes, bytes]:
    stamp = datetime(2024, 6, 30)
    (tmp_path / "fast").mkdir(exist_ok=True)
    (tmp_path / "slow").mkdir(exist_ok=True)
    fast = write_xlsx(frame, tmp_path / "fast" / "q.xlsx", "all", stamp, note="about", **kwargs)
    slow = write_xlsx(frame, tmp_path / "slow" / "q.xlsx", "all", stamp, note="about", fast=False, **kwargs)
    return fast.read_bytes(), slow.read_bytes()


@pytest.mark.parametrize("rows", [16, 1, 45])
def test_columnar_rows_are_byte_identical_to_write_row(tmp_path: Path, rows: int, monkeypatch) -> None:
    monkeypatch.setattr(exports, "_CHUNK_ROWS", 7)  # several chunks of rows
    frame = _frame(max(rows, 16)).head(rows)
    import xlsxwriter.worksheet

    calls = []
    real = xlsxwriter.worksheet.Worksheet.write_row
    monkeypatch.setattr(
        xlsxwriter.worksheet.Worksheet, "write_row", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    fast, slow = _both(
        frame, tmp_path, totals=("exposure",), split_by="owner", labels={"exposure": "Exposure (EUR)"}
    )
    if fast != slow:  # name the part that differs
        a, b = _entries(tmp_path / "fast" / "q.xlsx"), _entries(tmp_path / "slow" / "q.xlsx")
        assert a.keys() == b.keys()
        assert [k for k in a if a[k] != b[k]] == []
    assert fast == slow
    # every write_row call came from the slow workbook (sheet "all" + one per owner)
    assert len(calls) == rows + frame["owner"].notna().sum()
    sheet = _entries(tmp_path / "fast" / "q.xlsx")["xl/worksheets/sheet1.xml"].decode()
    assert f'<row r="{rows + 1}">' in sheet and "SUBTOTAL" in sheet
    if rows >= 16:
        assert "_x0001__x001F_" in sheet and "_x005F_x0041_" in sheet and 'xml:space="preserve"' in sheet
        assert "a &amp; b &lt; c &gt; d" in sheet and "'=1+1" in sheet


def test_blank_rows_and_the_cases_xlsxwriter_writes_itself(tmp_path: Path) -> None:
    frame = _frame(32).drop(columns="objects")
    blank = frame.drop(columns=["rank", "big", "in_default"])
    blank.loc[3:6, :] = None  # whole rows blank: no <row> element either way
    blank.loc[29:, :] = None  # and at the end
    assert _both(blank, tmp_path)[0] == _both(blank, tmp_path)[1]
    for col, value in (
        ("exposure", np.inf),
        ("oldest_due_date", pd.Timestamp("1900-02-01")),
        ("name", "y" * 20_000),
        ("name", "<r>rich</r>"),
    ):
        odd = frame.copy()
        odd.loc[2, col] = value
        fast, slow = _both(odd, tmp_path)
        assert fast == slow, col
    assert _both(frame.iloc[:0], tmp_path)[0] == _both(frame.iloc[:0], tmp_path)[1]


def test_fast_path_is_taken_and_falls_back_whole(tmp_path: Path) -> None:
    import xlsxwriter

    frame = neutralise(_frame(8).drop(columns="objects"))
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet()
    ws.write_string(0, 0, "head")
    assert _stream_rows(ws, frame, 1, [None] * len(frame.columns))
    assert ws.previous_row == 8
    ws2 = wb.add_worksheet()
    ws2.write_string(0, 0, "head")
    assert not _stream_rows(
        ws2, neutralise(_frame(8)).assign(objects=[1, "a"] * 4), 1, [None] * 14
    )  # an object column: write_row
    assert ws2.previous_row == 0
    wb.close()
