"""A kept ledger history, session 25 (s25-history; BENCHMARKS.md "Hostile inputs tried",
"Session 25 (s25-history)"): ``ews ingest --keep-history`` merges a rolling export into the history
the output folder holds. Hand-built ledgers; every expected number is by hand. Each test failed on
main 67dded9 (no ``keep_history``), and each rule's test fails on a mutation of its rule (the
commit names them)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.adapters.files import read_portfolio
from pipelines.adapters.publish import mixed_ingest
from pipelines.cli import app
from pipelines.config.source import RulesConfig
from pipelines.ingest import TableError, ingest_files

NIGHT1 = dt.date(2024, 3, 31)
NIGHT2 = dt.date(2024, 4, 30)
RULES = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
INV = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
PAY = "payment_id,debtor_id,invoice_id,paid_on,amount\n"
DEB = "debtor_id,name\nD1,Alpha\nD2,Beta\n"


def _files(folder: Path, invoices: str, payments: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv", "debtors": folder / "deb.csv"}
    files["invoices"].write_text(INV + invoices)
    files["payments"].write_text(PAY + payments)
    files["debtors"].write_text(DEB)
    return files


def _night1(folder: Path) -> dict[str, Path]:
    """The whole ledger as of 2024-03-31: five invoices, two payments."""
    return _files(
        folder,
        "I1,D1,2024-01-05,2024-02-04,100.00,EUR\n"
        "I2,D1,2024-02-10,2024-03-11,200.00,EUR\n"
        "I3,D2,2024-01-20,2024-02-19,50.00,EUR\n"
        "I4,D2,2024-03-15,2024-04-14,80.00,EUR\n"
        "I7,D1,2024-03-25,2024-04-24,40.00,EUR\n",
        "P1,D1,I1,2024-02-01,100.00\nP2,D2,I3,2024-03-01,50.00\n",
    )


def _night2(folder: Path) -> dict[str, Path]:
    """The rolling export of 2024-04-30: the invoices issued from 2024-03-15 (I4 revised in the ERP
    from 80.00 to 90.00; I7 cancelled there, so absent; I5 new) and the payments of April (P3 pays
    I2, issued before the window)."""
    return _files(
        folder,
        "I4,D2,2024-03-15,2024-04-14,90.00,EUR\nI5,D1,2024-04-02,2024-05-02,60.00,EUR\n",
        "P3,D1,I2,2024-04-05,200.00\nP4,D2,I4,2024-04-20,90.00\n",
    )


def _ingest(files: dict[str, Path], out: Path, as_of: dt.date, keep: bool = True):
    return ingest_files(files, out, as_of=as_of, settings=RULES, keep_history=keep)


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".ingest.lock"
    }


def test_revised_rows_win_older_rows_stay_and_a_cancelled_row_is_removed_and_counted(tmp_path: Path) -> None:
    """Night 2 merged into night 1: I4 at 90.00 (the ERP's revision wins), I1-I3 kept (older than
    the export's span: March and April, the months with at least half the recent rate, median(0, 1,
    1) = 1), I7 (2024-03-25, inside the span, absent today) removed, I5 added: 5 kept - 1 removed +
    1 added = 5 rows. P3 names I2, which only the history holds: accepted (a plain ingest
    quarantines it ``invoice_before_export``); P1 (2024-02-01) and P2 (2024-03-01), before the
    payments' span (April), stay: 2 + 2 = 4 payments. Today's counts still add up: 2 = 2 + 0."""
    _ingest(_night1(tmp_path / "n1"), tmp_path / "out", NIGHT1)
    result = _ingest(_night2(tmp_path / "n2"), tmp_path / "out", NIGHT2)
    kept = read_portfolio(tmp_path / "out")
    inv = kept.invoices.set_index("invoice_id")["amount"].to_dict()
    assert inv == {"I1": 100.0, "I2": 200.0, "I3": 50.0, "I4": 90.0, "I5": 60.0}
    assert sorted(kept.payments["payment_id"]) == ["P1", "P2", "P3", "P4"]
    history = result.manifest["history"]
    assert history["base_as_of"] == "2024-03-31"
    assert history["tables"]["invoices"] == {"kept": 5, "replaced": 1, "added": 1, "removed": 1, "rows": 5}
    assert history["tables"]["payments"] == {"kept": 2, "replaced": 0, "added": 2, "removed": 0, "rows": 4}
    assert history["tables"]["debtors"] == {
        "kept": 2,
        "replaced": 2,
        "unchanged": 2,  # re-sent as kept (s40-walk)
        "added": 0,
        "removed": 0,
        "rows": 2,
    }
    assert history["readmitted"] == {"payments": 1}
    pay = result.manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (2, 2, 0)
    assert any("1 invoices row of" in w and "I7" in w for w in result.manifest["warnings"])
    assert mixed_ingest(tmp_path / "out") is None  # score reads it: the files match the kept rows

    plain = _ingest(_night2(tmp_path / "n2"), tmp_path / "plain", NIGHT2, keep=False)
    assert plain.manifest["tables"]["payments"]["reasons"] == {"invoice_before_export": 1}


def test_a_payment_of_an_invoice_issued_before_the_window_is_not_removed(tmp_path: Path) -> None:
    """An export of "the window's invoices and their payments" lacks the payments of older invoices
    made inside its span. Night 1 holds P5 (2024-03-20) for I2 (issued 2024-02-10, before night 2's
    invoices, March and April) and P6 (2024-03-28) for I4 (inside them); night 2's payments (one in
    March, one in April: both months in the span) hold neither: P6 is removed (its invoice's payments
    are in the export), P5 stays."""
    files = _night1(tmp_path / "n1")
    files["payments"].write_text(
        PAY + "P1,D1,I1,2024-02-01,100.00\nP5,D1,I2,2024-03-20,50.00\nP6,D2,I4,2024-03-28,10.00\n"
    )
    _ingest(files, tmp_path / "out", NIGHT1)
    today = _night2(tmp_path / "n2")
    today["payments"].write_text(PAY + "P7,D2,I4,2024-03-18,5.00\nP4,D2,I4,2024-04-20,65.00\n")
    result = _ingest(today, tmp_path / "out", NIGHT2)
    assert sorted(read_portfolio(tmp_path / "out").payments["payment_id"]) == ["P1", "P4", "P5", "P7"]
    assert result.manifest["history"]["tables"]["payments"] == {
        "kept": 3,
        "replaced": 0,
        "added": 2,
        "removed": 1,
        "rows": 4,
    }


def test_old_open_items_in_an_export_do_not_widen_its_span(tmp_path: Path) -> None:
    """Night 1 (as of 2024-04-30): 3 invoices of D1 a month, January to April (B1-B12, the 5th, 15th
    and 25th). Night 2 (as of 2024-06-30) exports May and June (C1-C6, 3 a month) and the one old
    invoice still open, B2 (2024-01-15). Months of today's invoices: Jan 1, Feb-Apr 0, May 3, Jun 3;
    the recent rate is median(0, 3, 3) = 3, so the span is May-June (April, 0, ends the run): the 11
    kept invoices of January-April that today's export leaves out are not taken for cancelled.
    12 - 0 + 6 = 18 rows (B2 replaced)."""

    def rows(prefix: str, first_month: int, months: int) -> str:
        return "".join(
            f"{prefix}{3 * m + k + 1},D1,2024-{first_month + m:02d}-{5 + 10 * k:02d},2024-07-31,10.00,EUR\n"
            for m in range(months)
            for k in range(3)
        )

    out = tmp_path / "out"
    _ingest(
        _files(tmp_path / "n1", rows("B", 1, 4), "P1,D1,B1,2024-02-01,10.00\n"), out, dt.date(2024, 4, 30)
    )
    today = "B2,D1,2024-01-15,2024-07-31,10.00,EUR\n" + rows("C", 5, 2)
    result = _ingest(_files(tmp_path / "n2", today, "P9,D1,C1,2024-06-01,10.00\n"), out, dt.date(2024, 6, 30))
    assert result.manifest["history"]["tables"]["invoices"] == {
        "kept": 12,
        "replaced": 1,
        "unchanged": 1,  # B2 re-sent as it was (s40-walk)
        "added": 6,
        "removed": 0,
        "rows": 18,
    }


def test_a_rerun_for_the_same_date_writes_the_same_bytes_even_after_a_wrong_feed(tmp_path: Path) -> None:
    """Night 2 ingested, then again: every file (tables, manifest, quarantine, the base in
    .history) is the same. Then night 2 with a wrong feed (I5 missing), then the right one again:
    the same bytes as the first time, because each rerun merges into the base before that date
    (OUT/.history), not into its own result."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    _ingest(_night2(tmp_path / "n2"), out, NIGHT2)
    first = _tree(out)
    assert any(k.startswith(".history/invoices/") for k in first)
    _ingest(_night2(tmp_path / "n2"), out, NIGHT2)
    assert _tree(out) == first
    wrong = _night2(tmp_path / "wrong")
    wrong["invoices"].write_text(INV + "I4,D2,2024-03-15,2024-04-14,90.00,EUR\n")
    wrong["payments"].write_text(PAY + "P4,D2,I4,2024-04-20,90.00\n")
    _ingest(wrong, out, NIGHT2)
    assert "I5" not in set(read_portfolio(out).invoices["invoice_id"])
    _ingest(_night2(tmp_path / "n2"), out, NIGHT2)
    assert _tree(out) == first


def _foreign(folder: Path, currency: str, prefix: str) -> dict[str, Path]:
    """25 invoices of debtor D1 issued 2024-03-01..25 (before the history's as-of 2024-03-31), one
    payment."""
    rows = "".join(f"{prefix}{k},D1,2024-03-{k:02d},2024-04-30,10.00,{currency}\n" for k in range(1, 26))
    return _files(folder, rows, f"Q1,D1,{prefix}1,2024-03-10,5.00\n")


@pytest.mark.parametrize(
    ("currency", "prefix", "says"),
    [
        ("USD", "I", "today's invoices are in USD, the history's in EUR: no currency in common"),
        ("EUR", "X", "25 of today's 25 invoices issued on or before 2024-03-31"),
    ],
)
def test_an_export_of_another_ledger_is_refused_and_the_history_is_unchanged(
    tmp_path: Path, currency: str, prefix: str, says: str
) -> None:
    """Another book's export (another currency; or 25 invoices dated before the history's as-of
    none of whose ids it holds) into a history: exit 2, one line naming the folder and the fix, no
    traceback; every file of the history as it was."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    before = _tree(out)
    files = _foreign(tmp_path / "other", currency, prefix)
    with pytest.raises(TableError, match=says):
        _ingest(files, out, NIGHT2)
    assert _tree(out) == before
    args = ["ingest", "--invoices", str(files["invoices"]), "--payments", str(files["payments"])]
    args += ["--debtors", str(files["debtors"]), "--as-of", "2024-04-30", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-docs", "--keep-history"])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split()) and "Traceback" not in result.output
    assert "another ledger" in " ".join(result.output.split())
    assert _tree(out) == before
    night2 = _night2(tmp_path / "n2")
    args = ["ingest", "--invoices", str(night2["invoices"]), "--payments", str(night2["payments"])]
    args += ["--debtors", str(night2["debtors"]), "--as-of", "2024-04-30", "--out", str(out), "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--keep-history"])
    assert result.exit_code == 0, result.output
    assert (
        "history (merged into the history as of 2024-03-31): debtors 2 (kept 2, replaced 2 (2 re-sent unchanged), added 0, "
        "removed 0), "
        "invoices 5 (kept 5, replaced 1, added 1, removed 1), payments 4 (kept 2, replaced 0, added 2, removed 0); "
        "1 row naming an invoice or debtor only the history holds accepted"
    ) in " ".join(result.output.split())


def test_an_earlier_as_of_than_the_historys_is_refused(tmp_path: Path) -> None:
    """A history as of 2024-04-30 would put rows known then into 2024-04-15: refused, unchanged."""
    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    _ingest(_night2(tmp_path / "n2"), out, NIGHT2)
    before = _tree(out)
    with pytest.raises(TableError, match="holds the history as of 2024-04-30, after --as-of 2024-04-15"):
        _ingest(_night2(tmp_path / "n2"), out, dt.date(2024, 4, 15))
    assert _tree(out) == before


def test_an_export_lacking_more_than_a_tenth_of_its_span_is_refused(tmp_path: Path) -> None:
    """Night 1: 40 invoices of D1 issued 2024-03-01..2024-03-20 (two a day). Night 2's export
    (as of 2024-04-30, March its only month with rows: the span) holds 18 of them: 22 kept rows
    inside its span missing (of 40: 55 %,
    above 10 % and 20 rows): a broken export, refused. Holding 21 of them (19 missing, under 20
    rows) it is taken, and the 19 are removed."""
    rows = [f"A{k},D1,2024-03-{(k + 1) // 2:02d},2024-04-30,10.00,EUR\n" for k in range(1, 41)]
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", "".join(rows), ""), out, NIGHT1)
    before = _tree(out)
    with pytest.raises(TableError, match="lacks 22 of the 40 rows the history holds inside its span"):
        _ingest(_files(tmp_path / "n2", "".join(rows[:18]), ""), out, NIGHT2)
    assert _tree(out) == before
    result = _ingest(_files(tmp_path / "n3", "".join(rows[:21]), ""), out, NIGHT2)
    assert result.manifest["history"]["tables"]["invoices"] == {
        "kept": 40,
        "replaced": 21,
        "unchanged": 21,  # re-sent as they were (s40-walk)
        "added": 0,
        "removed": 19,
        "rows": 21,
    }


def test_feed_figures_of_a_kept_history_count_its_rows_and_todays_quarantine() -> None:
    """With a kept history the feed checks compare what is scored: rows and accepted rows are the
    history's (5 invoices, 4 payments: payments per invoice 4 / 5 = 0.8), the quarantine share
    today's export's (1 of 4 payments rejected: 0.25)."""
    from pipelines.feed_checks import feed_figures

    tables = {
        "invoices": {"rows_in": 2, "rows_accepted": 2, "rows_quarantined": 0, "reasons": {}},
        "payments": {"rows_in": 4, "rows_accepted": 3, "rows_quarantined": 1, "reasons": {"bad_date": 1}},
    }
    kept = {"invoices": {"rows": 5}, "payments": {"rows": 4}}
    scores = pd.DataFrame({"in_default": [False], "open_balance": [10.0]})
    figures = feed_figures(tables, None, scores, kept=kept)
    assert figures["rows"] == {"invoices": 5, "payments": 4}
    assert figures["accepted"] == {"invoices": 5, "payments": 4}
    assert figures["payments_per_invoice"] == pytest.approx(0.8)
    assert figures["quarantine_share"]["payments"] == pytest.approx(0.25)


def test_a_plain_ingest_into_a_kept_history_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    """s25-history's open item: a nightly job that forgets --keep-history once replaced the kept
    history with that night's rolling export without a word (the next night's features read a short
    history). Refused with the fix, exit 2 on the command line, every file of the folder unchanged;
    a folder written by a plain ingest is still replaced by a plain ingest, as before."""
    _ingest(_night1(tmp_path / "n1"), tmp_path / "out", NIGHT1)
    before = _tree(tmp_path / "out")
    files = _night2(tmp_path / "n2")
    with pytest.raises(TableError, match="kept by --keep-history.*Add --keep-history"):
        _ingest(files, tmp_path / "out", NIGHT2, keep=False)
    assert _tree(tmp_path / "out") == before

    args = ["ingest", "--out", str(tmp_path / "out"), "--as-of", str(NIGHT2), "--no-docs"]
    args += [f"--{t}={p}" for t, p in files.items()]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output and "--keep-history" in done.output
    assert _tree(tmp_path / "out") == before

    _ingest(_night1(tmp_path / "p1"), tmp_path / "plain", NIGHT1, keep=False)
    _ingest(files, tmp_path / "plain", NIGHT2, keep=False)  # no kept history: replaced, as before
    assert sorted(read_portfolio(tmp_path / "plain").invoices["invoice_id"]) == ["I4", "I5"]
