"""Session 33 (s33-review): tests for mutants that survived the session's own tests (BENCHMARKS.md,
"Session 33 (s33-review)", H entries of benchmarks/review_mutations.py). Every expected value is by
hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

IMG = "<img src=x onerror=alert(7)>"


def test_a_rejected_row_of_several_columns_is_text_in_the_data_docs(tmp_path: Path) -> None:
    """H5 (ffc5b28): a uniqueness rule over two columns (statements: debtor_id and period_end) puts
    each rejected row into the page as a dict of its cells. Two statements of the debtor
    ``<img src=x onerror=alert(7)>`` for 2024-01-31 (balances 100 and 120: not exact copies) are both
    quarantined (duplicate_period), and the page shows the id as text inside that dict."""
    st = tmp_path / "statements.csv"
    st.write_text(
        "debtor_id,period_end,balance,amount_due,amount_paid,days_past_due,credit_limit\n"
        f'"{IMG}",2024-01-31,100,50,50,0,1000\n'
        f'"{IMG}",2024-01-31,120,50,50,0,1000\n'
        f'"{IMG}",2024-02-29,100,50,50,0,1000\n'
        "D2,2024-01-31,100,50,50,0,1000\n"
        "D2,2024-02-29,100,50,50,0,1000\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["ingest", "--statements", str(st), "--as-of", "2024-03-31", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    quarantined = (out / "quarantine" / "statements.csv").read_text(encoding="utf-8")
    assert quarantined.count("duplicate_period") == 2
    pages = "".join(p.read_text(encoding="utf-8") for p in (out / "data_docs").rglob("*.html"))
    assert IMG not in pages
    assert "{'debtor_id': '&lt;img src=x onerror=alert(7)&gt;'" in pages


INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount\n"
    "I1,D1,2024-01-02,2024-02-01,100.00\n"
    "I2,D2,2024-01-03,2024-02-02,250.50\n"
)


@pytest.mark.parametrize(
    ("head", "named", "iconv"),
    [
        (b"\x00\x00\xfe\xff", "is UTF-32 text (byte order mark 00 00 fe ff)", "iconv -f UTF-32 -t UTF-8"),
        (b"", "is UTF-32BE text without a byte order mark", "iconv -f UTF-32BE -t UTF-8"),
    ],
)
def test_big_endian_utf32_is_named_with_its_conversion(
    tmp_path: Path, head: bytes, named: str, iconv: str
) -> None:
    """H11 and H12 (0e9b6c2): UTF-32 big-endian, with its byte order mark 00 00 fe ff and without one
    (three zero bytes before each letter), is named with the iconv command that reads it: exit 2, no
    traceback, nothing written. test_hostile_s33 tries the little-endian forms only."""
    inv = tmp_path / "invoices.csv"
    inv.write_bytes(head + INVOICES.encode("utf-32-be"))
    pay = tmp_path / "payments.csv"
    pay.write_text("payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2024-02-10,100.00\n")
    args = ["ingest", "--invoices", str(inv), "--payments", str(pay), "--as-of", "2024-06-30", "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in said
    assert f"{inv} {named}" in said and iconv in said
    assert not (tmp_path / "out").exists()
