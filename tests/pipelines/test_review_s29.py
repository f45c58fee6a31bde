"""Session 29's product code and s28-review's open items under attack (s29-review; BENCHMARKS.md
"Hostile inputs tried", "Session 29 (s29-review)"). Each test failed on main before its fix unless it
says it is a guard. The probes that found them: ``benchmarks/review_probes_s29.py``."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.test_history_s26 import DEB, NIGHT1, NIGHT2, _source

TWICE = "D7,Gamma\nD7,Gamma GmbH\n"
"""A debtor the customer master lists twice with other attributes: both rows are rejected, and its
invoices and payments with them (``debtor_quarantined``), in every night the ERP keeps the defect."""


def _night(folder: Path, invoices: str) -> dict[str, Path]:
    from tests.pipelines.test_history_s26 import _files

    files = _files(folder, invoices)
    files["debtors"].write_text(DEB + TWICE)
    return files


def test_invoices_of_a_rejected_master_row_do_not_make_a_streamed_night_another_ledger(
    tmp_path: Path,
) -> None:
    """s28-review's open item. The streamed check before validation kept an invoice whenever today's
    debtors table had a row for its debtor, also when that row is rejected. In memory such invoices are
    quarantined ``debtor_quarantined`` (never readmitted through the history) and the merge's check reads
    the accepted ones. Two nights of one ledger: X1..X25 of D1, and J1..J30 of March of D7, whose master
    row the ERP exports twice with other names. Night 1 quarantines J1..J30, so the history never holds
    them; night 2 (the same export) in memory: 25 accepted, all the history's, merged. Streamed it was
    refused: "30 of today's 55 invoices issued on or before 2024-03-31 ... are not in the history".
    Now the check leaves out the invoices of debtors whose every row today fails the checks it can run
    before validation (parsing, plausibility, duplicate rows, and one id on rows that differ):
    streamed = in memory, rows in 55 = 25 accepted + 30 quarantined."""
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _kept, _outputs

    jj = "".join(f"J{k},D7,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 31))
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(_source(_night(tmp_path / "n1", _kept() + jj)), folder, as_of=NIGHT1, keep_history=True)
    files = _night(tmp_path / "n2", _kept() + jj)
    want = ingest_source(_source(files), mem, as_of=NIGHT2, keep_history=True).manifest
    got = ingest_source(
        _source(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=4, workers=2
    ).manifest
    inv = got["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (55, 25, 30)
    assert inv["reasons"] == {"debtor_quarantined": 30}
    assert want["tables"]["invoices"]["rows_accepted"] == 25
    assert _outputs(out) == _outputs(mem)


def test_invoices_of_a_debtor_whose_bad_attribute_is_cleared_stay_in_the_streamed_check(
    tmp_path: Path,
) -> None:
    """Guard of the fix above (passes on main): a master row with an unreadable credit_limit is kept by
    default (``rules.optional_attributes: clear`` empties the value), so its invoices are accepted and
    count in the other-ledger check. A night of another ledger (Y1..Y30 of March, of D8, whose limit is
    ``lots``) beside X1..X25 of the history is refused streamed as in memory, "30 of today's 55 invoices";
    with the attribute's reason taken as a rejection the check before validation left Y1..Y30 out, every
    invoice was accepted, the merge's check was skipped as settled, and the other ledger was merged."""
    import pytest

    from pipelines.ingest import ingest_source
    from pipelines.sources.read import TableError
    from tests.pipelines.test_history_s26 import _files, _kept, _tree

    yy = "".join(f"Y{k},D8,2024-03-{k:02d},2024-04-30,{10 + k}.00,EUR\n" for k in range(1, 31))
    master = "debtor_id,name,credit_limit\nD1,Alpha,100\nD2,Beta,100\nD9,Other,100\nD8,Eta,lots\n"
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(_source(_files(tmp_path / "n1", _kept())), folder, as_of=NIGHT1, keep_history=True)
    files = _files(tmp_path / "n2", _kept() + yy)
    files["debtors"].write_text(master)
    before = _tree(out)
    for folder, streamed in ((mem, {}), (out, {"stream": True, "partitions": 4, "workers": 2})):
        with pytest.raises(TableError, match="30 of today's 55 invoices issued on or before 2024-03-31"):
            ingest_source(_source(files), folder, as_of=NIGHT2, keep_history=True, **streamed)
    assert _tree(out) == before
