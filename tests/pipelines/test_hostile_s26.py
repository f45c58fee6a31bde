"""Hostile inputs, session 26 (s26-erp; BENCHMARKS.md "Hostile inputs tried", "Session 26 (s26-erp)"):
the open items of s25-smb's walk with the small businesses' ledgers. The sample files are built from
documentation (and what public parsers of the reports read), not exported from QuickBooks or Xero.
Each test failed on the code before its fix (main 8bf79ef) unless it says it is a guard; every
expected number is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from pipelines.ingest import ingest_source
from pipelines.sources.read import TableError
from pipelines.sources.suggest import suggest_source
from tests.pipelines.test_hostile_s25 import ROOT, XERO_AT

AS_OF = dt.date(2024, 3, 31)


# ------------------------------------------------------------------ Xero's running balance


def _back_dated(tmp_path: Path) -> Path:
    """The Account Transactions sample with an invoice of 100.00 entered afterwards but dated 8 Jan
    2024 (INV-0005, Carbon & Sons): every row below it carries a running balance 100.00 higher."""
    lines = XERO_AT.read_text(encoding="utf-8-sig").splitlines()
    out = []
    for line in lines:
        if line.startswith("10 Jan 2024"):
            out.append('8 Jan 2024,Receivable Invoice,Carbon & Sons,Call-out,INV-0005,100.00,,"1,300.00"')
        out.append(line)
    shifted = {
        '"2,434.56"': '"2,534.56"',
        '"3,234.56"': '"3,334.56"',
        '"3,000.00"\n': '"3,100.00"\n',
        '"5,500.00"': '"5,600.00"',
        '"3,500.00"': '"3,600.00"',
        '"2,500.00"\n': '"2,600.00"\n',
        '"1,500.00"\n': '"1,600.00"\n',
    }
    text = "\n".join(out) + "\n"
    body, _, tail = text.partition("Total Accounts Receivable")
    for old, new in shifted.items():
        body = body.replace(old, new)
    path = tmp_path / "xero_account_transactions_later.csv"
    path.write_text(body + "Total Accounts Receivable" + tail, encoding="utf-8")
    return path


def test_a_back_dated_entry_leaves_the_payment_ids_of_later_rows_alone(tmp_path: Path, monkeypatch) -> None:
    """Xero's Account Transactions carry a Running Balance, which was hashed into every payment's id
    (`ids_from_rows`): an entry dated back changed the balance, and so the id, of every later row (in
    a kept history: 5 payments removed and added again; refused when they pass 10 % of the span). Now
    the draft names the column in `ids_leave_out` (so does conf/sources/example_xero.yaml), and the
    ids read from both exports are the same; the two equal payments of Beta Supply Co. on 20 Feb 2024
    (500.00 each, adjacent) stay two payments."""
    draft = suggest_source(XERO_AT)
    payments = draft.text.split("  payments:", 1)[1]
    assert 'ids_leave_out: ["Running Balance"]' in payments
    monkeypatch.chdir(ROOT)
    source = load_config(ROOT / "conf" / "sources" / "example_xero.yaml", SourceConfig)
    before = ingest_source(source, None, as_of=AS_OF)
    later = source.with_paths({"payments": _back_dated(tmp_path)})
    after = ingest_source(later, None, as_of=AS_OF)
    ids_before = sorted(before.portfolio.payments["payment_id"])
    ids_after = sorted(after.portfolio.payments["payment_id"])
    assert len(ids_before) == 5  # 4 payments and the credit note CN-0001
    assert ids_before == ids_after
    pay = before.portfolio.payments
    beta = pay.loc[(pay["debtor_id"] == "Beta Supply Co.") & (pay["kind"].astype(str) == "cash")]
    assert sorted(p.rsplit("-", 1)[1] for p in beta["payment_id"]) == ["1", "2"]
    assert after.manifest["tables"]["payments"]["filtered"]["Source: Receivable Invoice"] == 5  # 4 + INV-0005


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "at.yaml"
    path.write_text(
        "kind: source\nname: at\ncsv: {skip_rows: 4}\n"
        'values: {date_format: "%d %b %Y", thousands: ","}\n'
        f"tables:\n  payments:\n    path: {XERO_AT}\n"
        "    rows: {keep: {column: Source, values: [Receivable Payment]}}\n"
        f"{extra}"
        "    columns: {debtor_id: Contact, paid_on: Date, amount: Credit}\n",
        encoding="utf-8",
    )
    return path


def test_ids_leave_out_needs_ids_from_rows_and_a_column_of_the_file(tmp_path: Path) -> None:
    """`ids_leave_out` without `ids_from_rows` is refused by the config check, naming both keys; a
    column the file lacks stops the ingest naming the key, the column and the file's columns."""
    with pytest.raises(ValueError) as err:
        load_config(_config(tmp_path, "    ids_leave_out: [Running Balance]\n"), SourceConfig)
    assert "ids_leave_out" in str(err.value) and "ids_from_rows: true" in str(err.value)
    source = load_config(
        _config(tmp_path, "    ids_from_rows: true\n    ids_leave_out: [Balance]\n"), SourceConfig
    )
    with pytest.raises(TableError) as err:
        ingest_source(source, None, as_of=AS_OF)
    assert "'Balance' (tables.payments.ids_leave_out[0]" in str(err.value)
    assert "'Running Balance'" in str(err.value)
