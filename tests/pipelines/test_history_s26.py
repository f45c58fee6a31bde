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


# ------------------------------------------------------------------ the streamed merge

DEB6 = "debtor_id,name\n" + "".join(f"D{k},Name {k}\n" for k in range(1, 7))


def _ledger(folder: Path, invoices: str, payments: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv", "debtors": folder / "deb.csv"}
    files["invoices"].write_text(INV + invoices)
    files["payments"].write_text(PAY + payments)
    files["debtors"].write_text(DEB6)
    return files


def _book1(folder: Path) -> dict[str, Path]:
    """The whole ledger of six debtors as of 2024-03-31: nine invoices, three payments."""
    return _ledger(
        folder,
        "I1,D1,2024-01-05,2024-02-04,100.00,EUR\nI2,D1,2024-02-10,2024-03-11,200.00,EUR\n"
        "I3,D2,2024-01-20,2024-02-19,50.00,EUR\nI4,D2,2024-03-15,2024-04-14,80.00,EUR\n"
        "I7,D1,2024-03-25,2024-04-24,40.00,EUR\nI10,D3,2024-03-02,2024-04-01,70.00,EUR\n"
        "I11,D4,2024-03-05,2024-04-04,30.00,EUR\nI12,D5,2024-02-20,2024-03-21,60.00,EUR\n"
        "I13,D6,2024-03-20,2024-04-19,90.00,EUR\n",
        "P1,D1,I1,2024-02-01,100.00\nP2,D2,I3,2024-03-01,50.00\nP5,D3,I10,2024-03-10,70.00\n",
    )


def _book2(folder: Path) -> dict[str, Path]:
    """The rolling export of 2024-04-30 (invoices from 2024-03-15): I4 revised to 90.00, I13 moved
    from D6 to D4 in the ERP, I7 cancelled (absent), I5, I14, I15 new; April's payments, P3 and P6
    paying I2 and I11, which only the history holds; a payment of an unknown invoice (quarantined)."""
    return _ledger(
        folder,
        "I4,D2,2024-03-15,2024-04-14,90.00,EUR\nI5,D1,2024-04-02,2024-05-02,60.00,EUR\n"
        "I13,D4,2024-03-20,2024-04-19,90.00,EUR\nI14,D4,2024-04-10,2024-05-10,25.00,EUR\n"
        "I15,D6,2024-04-11,2024-05-11,35.00,EUR\n",
        "P3,D1,I2,2024-04-05,200.00\nP4,D2,I4,2024-04-20,90.00\nP6,D4,I11,2024-04-12,30.00\n"
        "P7,D4,I13,2024-04-25,90.00\nP8,D3,I99,2024-04-26,10.00\n",
    )


SMALL = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6, bucket_rows=4)


def _source(files: dict[str, Path]):
    from pipelines.config.source import FileSource, SourceConfig

    return SourceConfig(name="files", rules=SMALL, tables={t: FileSource(path=p) for t, p in files.items()})


def _outputs(folder: Path) -> dict[str, str]:
    """The published tables and quarantine files (the manifest differs in Great Expectations' batch
    count between the two ingests; its history section is compared apart)."""
    return {k: v for k, v in _tree(folder).items() if k.endswith((".parquet", ".csv"))}


@pytest.mark.parametrize("partitions", [1, 2, 6])
def test_a_streamed_ingest_keeps_the_history_as_the_in_memory_one(tmp_path: Path, partitions: int) -> None:
    """8bf79ef refused --keep-history for a streamed ingest (above 5,000,000 rows: a 1M-debtor book's
    nightly export could keep no history). The same two nights, the second streamed (one, two or six
    debtor partitions; the history has 3 buckets of 4 ledger rows), publish the same bytes as the
    in-memory merge: invoices 11 = 9 kept - 1 removed (I7) + 5 today - 2 replaced (I4 revised; I13,
    moved from D6 to D4, replaced in another partition: 1 of 3 and 4 of 6 against 0 and 3); payments 7 = 3 + 4 (P3, P6 readmitted
    through the history, P8 quarantined unknown_invoice: 5 in = 4 + 1). A rerun writes the same bytes."""
    from pipelines.ingest import ingest_source

    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    want = ingest_source(_source(_book2(tmp_path / "n2")), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        _source(_book2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=partitions,
        chunk_rows=3,
    ).manifest
    assert got["history"] == want["history"]
    assert want["history"]["tables"]["invoices"] == {
        "kept": 9,
        "replaced": 2,
        "added": 3,
        "removed": 1,
        "rows": 11,
    }
    assert want["history"]["tables"]["payments"] == {
        "kept": 3,
        "replaced": 0,
        "added": 4,
        "removed": 0,
        "rows": 7,
    }
    assert want["history"]["readmitted"] == {"payments": 2}
    pay = got["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
    assert got["warnings"] == want["warnings"] and any("I7" in w for w in got["warnings"])
    assert got["layout"] == want["layout"] and got["layout"]["buckets"] == 5  # 11 + 7 rows / 4
    assert _outputs(streamed) == _outputs(mem)
    inv = read_portfolio(streamed).invoices.set_index("invoice_id")
    assert (inv.loc["I4", "amount"], inv.loc["I13", "debtor_id"], "I7" in inv.index) == (90.0, "D4", False)
    before = _tree(streamed)
    ingest_source(
        _source(_book2(tmp_path / "n2")),
        streamed,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=partitions,
        chunk_rows=3,
    )
    assert _tree(streamed) == before
