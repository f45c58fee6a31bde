"""A kept ledger history at scale and its thin checks, session 26 (s26-history; BENCHMARKS.md
"Hostile inputs tried", "Session 26 (s26-history)"). Hand-built ledgers; every expected number is
by hand. Each test fails on main 8bf79ef (the commit that adds it names how)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.adapters.files import read_portfolio
from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import TableError, ingest_files

NIGHT1 = dt.date(2024, 3, 31)
NIGHT2 = dt.date(2024, 4, 30)
RULES = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
INV = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
PAY = "payment_id,debtor_id,invoice_id,paid_on,amount\n"
DEB = "debtor_id,name\nD1,Alpha\nD2,Beta\nD9,Other\n"


def _files(folder: Path, invoices: str, payments: str = "") -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv", "debtors": folder / "deb.csv"}
    files["invoices"].write_text(INV + invoices)
    files["payments"].write_text(PAY + payments)
    files["debtors"].write_text(DEB)
    return files


def _ingest(files: dict[str, Path], out: Path, as_of: dt.date):
    return ingest_files(files, out, as_of=as_of, settings=RULES, keep_history=True)


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".ingest.lock"
    }


def _kept(n: int = 25) -> str:
    """The history's ledger: X1..Xn of D1, issued 2024-03-01.., 100.00 + k each."""
    return "".join(f"X{k},D1,2024-03-{k:02d},2024-04-30,{100 + k}.00,EUR\n" for k in range(1, n + 1))


def _other(clashing: int, n: int = 25, debtor: str = "D9") -> str:
    """An export of 2024-04-30 whose ids are X1..Xn again: the first ``clashing`` of another book
    (issued in April, 500.00 + k; of ``debtor``), the others the kept invoice revised in the ERP:
    the odd ones in amount only (90.00 + k), the even ones in issue date only (a day later)."""
    rows = []
    for k in range(1, n + 1):
        if k <= clashing:
            rows.append(f"X{k},{debtor},2024-04-{k:02d},2024-05-30,{500 + k}.00,EUR\n")
        elif k % 2:
            rows.append(f"X{k},D1,2024-03-{k:02d},2024-04-30,{90 + k}.00,EUR\n")
        else:
            rows.append(f"X{k},D1,2024-03-{k + 1:02d},2024-04-30,{100 + k}.00,EUR\n")
    return "".join(rows)


@pytest.mark.parametrize("debtor", ["D9", "D1"])
def test_another_ledger_numbered_as_the_historys_is_refused(tmp_path: Path, debtor: str) -> None:
    """Another book numbered X1..X25 too (its invoices issued in April after the history's as-of,
    other amounts; of another debtor, or of D1 too: books numbered per customer) passed every check
    on 8bf79ef and replaced the 25 kept invoices with its own. 25 of 25 ids found in the history
    differ in issue date and amount at once: refused, exit 2, one line with the first clash and the
    fix, the folder byte for byte as it was."""
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", _kept()), out, NIGHT1)
    before = _tree(out)
    files = _files(tmp_path / "n2", _other(25, debtor=debtor))
    says = (
        "25 of today's 25 invoices whose ids the history holds differ from the kept invoice in issue date and "
        f"amount at once (e.g. X1: D1, 2024-03-01, 101.00 in the history; {debtor}, 2024-04-01, 501.00 today)"
    )
    with pytest.raises(TableError, match=r"25 of today's 25 invoices whose ids the history holds differ"):
        _ingest(files, out, NIGHT2)
    assert _tree(out) == before
    args = ["ingest", "--invoices", str(files["invoices"]), "--debtors", str(files["debtors"])]
    args += ["--as-of", "2024-04-30", "--out", str(out), "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--keep-history"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert says in text and "another ledger" in text and "Traceback" not in result.output
    assert _tree(out) == before


@pytest.mark.parametrize(("clashing", "refused"), [(13, True), (12, False), (0, False)])
def test_the_clash_share_above_half_refuses(tmp_path: Path, clashing: int, refused: bool) -> None:
    """13 of 25 clashing (52 %) is refused; 12 of 25 (48 %, at most half) is taken, as is an export
    whose 25 ids are the kept invoices revised in the ERP, 13 in amount and 12 in issue date (0
    clash). Taken, the kept rows are replaced by today's (25 kept, 25 replaced)."""
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", _kept()), out, NIGHT1)
    files = _files(tmp_path / "n2", _other(clashing))
    if refused:
        with pytest.raises(TableError, match="13 of today's 25 invoices whose ids the history holds differ"):
            _ingest(files, out, NIGHT2)
        return
    result = _ingest(files, out, NIGHT2)
    counts = result.manifest["history"]["tables"]["invoices"]
    assert (counts["kept"], counts["replaced"], counts["rows"]) == (25, 25, 25)
    inv = read_portfolio(out).invoices
    assert float(inv.loc[inv["invoice_id"] == "X25", "amount"].iloc[0]) == 115.0  # 90 + 25
