"""The streamed ``--keep-history`` ingest at scale, session 28 (s28-scale; BENCHMARKS.md "Hostile inputs
tried", "Session 28 (s28-scale)"). Hand-built ledgers of ``test_history_s26``; every expected number is
by hand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.ingest import TableError, ingest_source
from tests.pipelines.test_history_s26 import (
    NIGHT1,
    NIGHT2,
    _book1,
    _book2,
    _files,
    _ingest,
    _kept,
    _other,
    _outputs,
    _source,
    _tree,
)


def _steps(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each Great Expectations validation (``Validator.validate``) and each other-ledger verdict
    (``history.foreign`` as the streamed ingest calls it) appends its name to ``log``, in this process or
    in a forked worker (which inherits the patches); the real ones run."""
    import pipelines.ingest.history_stream as history_stream
    from pipelines.validation import Validator

    validate, foreign = Validator.validate, history_stream.foreign

    def logged(name, real):
        def call(*args, **kwargs):
            with log.open("a") as fh:
                fh.write(f"{name}\n")
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(Validator, "validate", logged("gx", validate))
    monkeypatch.setattr(history_stream, "foreign", logged("ledger", foreign))


def test_another_ledger_is_refused_before_any_row_is_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed ingest into a kept history judged whether today's export is another ledger's only in the
    merge, after every partition was validated (at 200k debtors 1,048 s at load 15 before the refusal).
    Now it is judged as soon as the invoices are routed: X1..X25 again, 25 of 25 another book's (issued in
    April, 500.00 + k, of D9), is refused with the in-memory merge's line (25 of 25 ids differ in issue date
    and amount at once, e.g. X1: D1, 2024-03-01, 101.00 kept; D9, 2024-04-01, 501.00 today), the folder
    byte for byte as it was, and no Great Expectations suite ran (in this process or a worker); through the
    CLI exit 2, one line. Fails on main d90bde5 (4 suites ran before the refusal: ['gx', 'gx', 'gx', 'gx',
    'ledger'])."""
    import pipelines.ingest as ingest

    out, mem = tmp_path / "out", tmp_path / "mem"
    for folder in (out, mem):
        _ingest(_files(tmp_path / "n1", _kept()), folder, NIGHT1)
    before = _tree(out)
    files = _files(tmp_path / "n2", _other(25))
    with pytest.raises(TableError) as in_memory:
        _ingest(files, mem, NIGHT2)
    log = tmp_path / "steps.txt"
    _steps(monkeypatch, log)
    with pytest.raises(TableError) as streamed:
        ingest_source(
            _source(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=4, workers=2
        )
    said = str(streamed.value)
    assert said == str(in_memory.value).replace(str(mem), str(out))
    assert said.startswith(
        "--keep-history: 25 of today's 25 invoices whose ids the history holds differ from the kept invoice in "
        "issue date and amount at once (e.g. X1: D1, 2024-03-01, 101.00 in the history; D9, 2024-04-01, 501.00 "
        "today): another ledger numbered as the history's"
    )
    assert log.read_text().split() == ["ledger"]
    assert _tree(out) == before

    log.unlink()
    monkeypatch.setattr(ingest, "STREAM_ROWS", 0)
    args = ["ingest", "--invoices", str(files["invoices"]), "--debtors", str(files["debtors"])]
    args += ["--as-of", "2024-04-30", "--out", str(out), "--no-docs", "--keep-history"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == f"error: {said}", result.output
    assert log.read_text().split() == ["ledger"]
    assert _tree(out) == before


BAD_DATE = "I16,D1,2024-04-31,2024-05-31,15.00,EUR\n"  # no 31 April: quarantined unparseable_date


@pytest.mark.parametrize("quarantined", [0, 1])
def test_an_honest_rolling_night_passes_the_check_before_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quarantined: int
) -> None:
    """The rolling export of 2024-04-30 (I4 revised, I13 moved to another debtor, I7 cancelled, three new
    invoices, payments of invoices only the history holds, one payment of an unknown invoice) is the
    history's ledger: the check before validation takes it, before the suites. With every invoice
    accepted the merge does not judge them again (the same sample, the same values): one verdict. With an
    invoice quarantined (I16 dated 2024-04-31) the merge judges the accepted invoices again: a second
    verdict, after the suites. Either way the streamed night publishes the in-memory merge's tables and
    quarantine: invoices 9 kept, 1 removed (I7), 2 replaced (I4, I13), 3 added: 11; payments 5 in = 4
    accepted + 1 quarantined; invoices 5 + ``quarantined`` in. Fails on main d90bde5 (the one verdict after
    the suites); with the merge's check always run, the first case fails (2 verdicts)."""
    night2 = _book2(tmp_path / "n2")
    if quarantined:
        night2["invoices"].write_text(night2["invoices"].read_text() + BAD_DATE)
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(_source(_book1(tmp_path / "n1")), folder, as_of=NIGHT1, keep_history=True)
    want = ingest_source(_source(night2), mem, as_of=NIGHT2, keep_history=True).manifest
    log = tmp_path / "steps.txt"
    _steps(monkeypatch, log)
    got = ingest_source(
        _source(night2),
        out,
        as_of=NIGHT2,
        keep_history=True,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=2,
    ).manifest
    steps = log.read_text().split()
    assert steps[0] == "ledger" and "gx" in steps, steps
    assert steps.count("ledger") == 1 + quarantined, steps
    assert steps[-1] == ("ledger" if quarantined else "gx"), steps
    assert got["history"] == want["history"]
    assert got["history"]["tables"]["invoices"] == {
        "kept": 9,
        "replaced": 2,
        "added": 3,
        "removed": 1,
        "rows": 11,
    }
    inv, pay = got["tables"]["invoices"], got["tables"]["payments"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (
        5 + quarantined,
        5,
        quarantined,
    )
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 4, 1)
    assert _outputs(out) == _outputs(mem)
    assert os.path.isdir(out / ".history")


def _in_usd(files: dict[str, Path]) -> dict[str, Path]:
    files["invoices"].write_text(files["invoices"].read_text().replace(",EUR\n", ",USD\n"))
    return files


def test_the_check_before_validation_converts_the_invoices_as_the_history_holds_them(tmp_path: Path) -> None:
    """A ledger in USD ingested with reporting EUR (1 USD = 0.50 EUR): the history holds its invoices in
    EUR, halved (I4 40.00). Tonight's export is the same ledger in USD again; its invoices are judged as
    step 5 will store them (I4 revised to 90.00 USD is 45.00 EUR), not as read, or the night would be
    refused as another ledger with no currency in common (USD today, EUR kept). Streamed, the same tables,
    quarantine and history section as the in-memory merge; invoices 11 rows, I4 45.00."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.config.project import CurrencyConfig

    eur = CurrencyConfig(reporting="EUR", rates={"USD": 0.5})
    mem, out = tmp_path / "mem", tmp_path / "out"
    for folder in (mem, out):
        ingest_source(
            _source(_in_usd(_book1(tmp_path / "n1"))), folder, as_of=NIGHT1, keep_history=True, currency=eur
        )
    night2 = _in_usd(_book2(tmp_path / "n2"))
    want = ingest_source(_source(night2), mem, as_of=NIGHT2, keep_history=True, currency=eur).manifest
    got = ingest_source(
        _source(night2),
        out,
        as_of=NIGHT2,
        keep_history=True,
        currency=eur,
        stream=True,
        partitions=6,
        chunk_rows=3,
        workers=1,
    ).manifest
    assert got["history"] == want["history"]
    assert got["history"]["tables"]["invoices"]["rows"] == 11
    assert _outputs(out) == _outputs(mem)
    inv = read_portfolio(out).invoices.set_index("invoice_id")
    assert (inv.loc["I4", "amount"], inv.loc["I4", "currency"]) == (45.0, "EUR")


def test_a_frame_is_cut_into_buckets_with_one_gather(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bucket_parts`` cuts every table an ingest writes into debtor buckets (the streamed ingest's
    partitions, its merge, and the re-cut when the merged history needs another bucket count). It
    gathered the rows once per bucket, each gather a take over every Arrow-backed column; the re-cut of
    s27-merge's 200k history (21.3M invoices and payments, 10 partitions into 11 buckets,
    ``benchmarks/recut_scale.py``) took 24.5 CPU-s on main d90bde5, 16.9 with one gather, the same 22
    files byte for byte. Eight rows of five
    debtors into 4 buckets: ``DataFrame.take`` runs once (main: 4 times, fails), and each bucket holds
    the rows whose ``bucket_codes`` is k, sorted by debtor_id, the rows of a debtor in their order."""
    import pandas as pd

    from pipelines.adapters.files import bucket_codes, bucket_parts

    ids = ["D3", "D1", "D2", "D1", "D4", "D3", "D2", "D5"]
    frame = pd.DataFrame({"debtor_id": pd.Series(ids, dtype="string"), "row": range(8)})
    takes = []
    take = pd.DataFrame.take

    def counted(self, *args, **kwargs):
        takes.append(len(self))
        return take(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "take", counted)
    parts = bucket_parts(frame, 4)
    assert takes == [8]
    monkeypatch.undo()
    codes = bucket_codes(frame["debtor_id"], 4)
    assert sum(len(p) for p in parts) == 8
    for k, part in enumerate(parts):
        want = frame.loc[codes == k].sort_values("debtor_id", kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, want)
