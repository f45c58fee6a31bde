"""Session 33 (s33-review): tests for mutants that survived the session's own tests (BENCHMARKS.md,
"Session 33 (s33-review)", H entries of benchmarks/review_mutations.py). Every expected value is by
hand."""

from __future__ import annotations

from pathlib import Path

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
