"""Session 27's product code under attack (s27-review; BENCHMARKS.md "Hostile inputs tried",
"Session 27 (s27-review)"). Each test failed on main before its fix unless it says it is a guard.
The probes that found them: ``benchmarks/review_probes_s27.py``."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _source, _tree

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- kill -9 during the streamed merge

SLOW_MERGE = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import pipelines.ingest.history_stream as history_stream
from pipelines.ingest import ingest_source
from tests.pipelines.test_history_s26 import NIGHT2, _book2, _source

here = Path({here!r})

def slow(self, p):  # a long debtor partition of a 1M book
    (here / f"worker-{{os.getpid()}}").touch()
    time.sleep(120)

history_stream.MergeJob.merge = slow
ingest_source(
    _source(_book2(here / "n2")), here / "out", as_of=NIGHT2, keep_history=True,
    stream=True, partitions=6, chunk_rows=3, workers=2,
)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kill_9_during_the_streamed_merge_leaves_no_worker_holding_the_ingest_lock(tmp_path: Path) -> None:
    """A streamed ``--keep-history`` ingest merges its partitions in 2 forked worker processes
    (80a05d8). Before: a kill -9 of ews (or the OOM killer) left them alive with parent 1 for ever
    (waiting for work that never comes), and they hold OUT/.ingest.lock (the inherited ``flock``):
    every later ingest into OUT said "another `ews ingest` into this folder is in progress" until
    someone found and killed them (probe: a 300-debtor book, orphans still there 10 minutes on).
    Now they get SIGTERM from the kernel when ews dies (``runtime.die_with_parent``, as the local
    engine's workers): gone within 15 s, the published tables unchanged, and the rerun of the night
    publishes the same bytes as a night that was never killed."""
    from pipelines.ingest import ingest_source

    night = {}
    for name in ("out", "clean"):
        ingest_source(_source(_book1(tmp_path / "n1")), tmp_path / name, as_of=NIGHT1, keep_history=True)
    before = {k: v for k, v in _tree(tmp_path / "out").items() if not k.startswith(".")}
    parent = subprocess.Popen(
        [sys.executable, "-c", SLOW_MERGE.format(root=str(ROOT), here=str(tmp_path))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while len(workers) < 2:
            assert parent.poll() is None, parent.stderr.read().decode() if parent.stderr else ""
            assert time.monotonic() < deadline, "the two merge workers did not start"
            workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
            time.sleep(0.1)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "merge workers still running after the kill"
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
    assert {k: v for k, v in _tree(tmp_path / "out").items() if not k.startswith(".")} == before
    streamed = {"stream": True, "partitions": 6, "chunk_rows": 3, "workers": 2}
    for name in ("out", "clean"):  # the rerun is not refused as "in progress", and is the clean night
        got = ingest_source(
            _source(_book2(tmp_path / "n2")),  # the killed run's input, as the nightly reruns it
            tmp_path / name,
            as_of=NIGHT2,
            keep_history=True,
            **streamed,
        ).manifest
        night[name] = got["history"]["tables"]["invoices"]["rows"]
    assert night == {"out": 11, "clean": 11}  # 9 kept - 1 removed + 5 - 2 replaced
    assert _tree(tmp_path / "out") == _tree(tmp_path / "clean")  # the kill's working files removed too


# ---------------------------------------------------------------- report.html's labels after a name with a line separator


def test_stacked_labels_cells_after_a_name_holding_a_line_separator() -> None:
    """``stacked`` (2164958) found each cell by the parser's (line, column), turned into an offset with
    ``str.splitlines``, which also breaks lines at \\r, \\x0c, \\x85 and U+2028 while the parser counts
    "\\n" only. A debtor's name holding one (the watchlist table, before every other stack table of
    report.html) shifted every later offset: those cells got no label (2 of the 4 here, with each of
    the four characters). Labels by hand."""
    from pipelines.report import stacked

    for odd in ("\r", "\x0c", "\x85", "\u2028"):
        page = (
            '<table class="stack"><thead><tr><th>name</th><th>PD</th></tr></thead>\n<tbody>\n'
            f"<tr><td>Acme{odd}Ltd</td><td>0.12</td></tr>\n<tr><td>Beta</td><td>0.03</td></tr>\n</tbody></table>\n"
        )
        want = (
            '<table class="stack"><thead><tr><th>name</th><th>PD</th></tr></thead>\n<tbody>\n'
            f'<tr><td data-label="name">Acme{odd}Ltd</td><td data-label="PD">0.12</td></tr>\n'
            '<tr><td data-label="name">Beta</td><td data-label="PD">0.03</td></tr>\n</tbody></table>\n'
        )
        assert stacked(page) == want, repr(odd)


# ---------------------------------------------------------------- the sampled other-ledger check accepts an honest night


def test_an_honest_night_passes_the_sampled_other_ledger_check(tmp_path: Path, monkeypatch) -> None:
    """Above ``SAMPLE_ROWS`` invoices the streamed merge's other-ledger check compares the invoices of
    one id in ``every`` on both sides (3bd613d: ``MergeJob.today_invoices`` / ``kept_ids``). Every test
    so far checked that it refuses another ledger; none that it takes the same ledger: with today's
    invoices left whole against the history's sample (mutation S9) 116 of the 150 invoices issued
    before the history's date were "not in the history" and an honest night was refused as another
    ledger. Here SAMPLE_ROWS 50 (one id in 4 of 160) stands for 2,000,000 at 1M: night 1 holds X1..X150
    (D1, D2), night 2 the same 150 and X151..X160 of April, streamed (2 partitions): accepted, 160 kept
    (150 replaced + 10 added), the same history section as the in-memory merge."""
    import pipelines.ingest.history_stream as history_stream
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _files

    def book(n: int) -> str:
        rows = []
        for k in range(1, n + 1):
            day = (
                dt.date(2024, 1, 1) + dt.timedelta(days=(k - 1) * 90 // 150)
                if k <= 150
                else dt.date(2024, 4, k - 145)
            )
            rows.append(f"X{k},D{1 + k % 2},{day},{day + dt.timedelta(days=30)},{100 + k}.00,EUR\n")
        return "".join(rows)

    monkeypatch.setattr(history_stream, "SAMPLE_ROWS", 50)
    seen: list[int] = []
    real = history_stream.foreign

    def counted(history, today, out):
        seen.append(len(today["invoices"]))
        return real(history, today, out)

    monkeypatch.setattr(history_stream, "foreign", counted)
    got = {}
    for name, options in (("mem", {}), ("streamed", {"stream": True, "partitions": 2, "chunk_rows": 40})):
        out = tmp_path / name
        ingest_source(_source(_files(tmp_path / "n1", book(150))), out, as_of=NIGHT1, keep_history=True)
        got[name] = ingest_source(
            _source(_files(tmp_path / "n2", book(160))), out, as_of=NIGHT2, keep_history=True, **options
        ).manifest["history"]
    assert seen and seen[0] < 80, seen  # a sample (one id in 4 of 160 invoices), not the 160
    assert got["streamed"]["tables"]["invoices"] == {
        "kept": 150,
        "replaced": 150,
        "unchanged": 150,  # re-sent as kept (s40-walk)
        "added": 10,
        "removed": 0,
        "rows": 160,
    }
    assert got["streamed"] == got["mem"]


# ---------------------------------------------------------------- the queues' rules in words


def test_each_rule_condition_reads_in_words() -> None:
    """``describe_rule`` (abe7414) says a rule as a collector reads it. Its tests covered min_dpd rules
    only: saying a max_dpd-only rule as "30+ days past due" (mutation S12: the opposite of the rule)
    left test_nightly_queue, test_payment_plans and test_exports passing (34). Each form by hand."""
    from pipelines.config.nightly import ActionRule
    from pipelines.scoring.actions import describe_rule

    said = {
        "min": describe_rule(ActionRule(action="final_notice", min_dpd=60)),
        "max": describe_rule(ActionRule(action="reminder", max_dpd=30)),
        "both": describe_rule(ActionRule(action="call", min_dpd=31, max_dpd=1200, min_pd=0.15)),
        "amounts": describe_rule(
            ActionRule(action="write_off_review", min_dpd=180, max_exposure=250, min_overdue=1500)
        ),
        "always": describe_rule(ActionRule(action="reminder")),
    }
    assert said == {
        "min": "60+ days past due: final notice",
        "max": "at most 30 days past due: reminder",
        "both": "31-1,200 days past due and PD 15% or more: call",
        "amounts": "180+ days past due and undisputed overdue 1,500.00 or more and balance 250.00 or less: write-off review",
        "always": "always: reminder",
    }


# ---------------------------------------------------------------- readmission through the history's debtors table


def test_an_event_of_a_debtor_only_the_historys_debtors_table_holds_is_readmitted_streamed(
    tmp_path: Path,
) -> None:
    """The streamed ingest readmits today's rows the history resolves, partition by partition, from the
    history's id columns (d0a2a08). Its tests readmit payments through kept invoices only: leaving
    the history's debtors table out of that read (mutation S23) passed test_history_s26/s27 (11).
    Night 1: the six-debtor book with D7 (Gamma) in the debtors table only (no invoice). Night 2: the
    rolling export (debtors D1..D6) with an events file: D7 and D1 placed with an agency. D7's event
    names a debtor unknown to tonight's export that the history's debtors table knows: readmitted in
    memory and streamed (6 partitions): events 2 in = 2 accepted + 0, readmitted events 1, payments 2,
    the same published bytes."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _outputs

    got = {}
    for name, options in (
        ("mem", {}),
        ("streamed", {"stream": True, "partitions": 6, "chunk_rows": 3, "workers": 1}),
    ):
        night1 = _book1(tmp_path / "n1")
        night1["debtors"].write_text(night1["debtors"].read_text() + "D7,Gamma\n")
        ingest_source(_source(night1), tmp_path / name, as_of=NIGHT1, keep_history=True)
        night2 = _book2(tmp_path / "n2")
        night2["events"] = tmp_path / "n2" / "ev.csv"
        night2["events"].write_text(
            "debtor_id,event_date,kind,amount\nD7,2024-04-10,agency_placement,0\nD1,2024-04-11,agency_placement,0\n"
        )
        m = ingest_source(
            _source(night2), tmp_path / name, as_of=NIGHT2, keep_history=True, **options
        ).manifest
        events = m["tables"]["events"]
        got[name] = (
            (events["rows_in"], events["rows_accepted"], events["rows_quarantined"]),
            m["history"]["readmitted"],
            sorted(read_portfolio(tmp_path / name).events["debtor_id"]),
        )
    assert got["mem"] == ((2, 2, 0), {"events": 1, "payments": 2}, ["D1", "D7"])
    assert got["streamed"] == got["mem"]
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "mem")


# ---------------------------------------------------------------- recent_far on the first day of the span


def test_a_kept_payment_of_a_moved_invoice_issued_on_the_spans_first_day_is_removed_streamed(
    tmp_path: Path,
) -> None:
    """test_review_s26's three-night recent_far test with I13 issued on 2024-01-05, the first day of night
    3's invoice span (span_start of its 14 invoices, by hand: I1 and I13 on 2024-01-05 open the run of
    months). The in-memory merge counts an invoice issued on the span's first day as inside it
    (``>=``); the streamed ``MergeJob.far`` (80a05d8) must too: with ``>`` there (mutation S7) every
    history test passed (21) and here P9 (D6's payment of I13, moved to D4 in another partition) is kept
    streamed while removed in memory. Removed both ways, 1 payment, the same bytes."""
    import pandas as pd

    from pipelines.adapters.files import read_portfolio
    from tests.pipelines.test_history_s26 import _ledger, _outputs

    def early(files: dict[str, Path]) -> dict[str, Path]:
        text = files["invoices"].read_text()
        for debtor in ("D6", "D4"):
            text = text.replace(f"I13,{debtor},2024-03-20,2024-04-19", f"I13,{debtor},2024-01-05,2024-02-04")
        files["invoices"].write_text(text)
        return files

    night3 = dt.date(2024, 5, 31)
    night1 = early(_book1(tmp_path / "n1"))
    night1["payments"].write_text(night1["payments"].read_text() + "P9,D6,I13,2024-03-28,40.00\n")
    invoices = (
        "I1,D1,2024-01-05,2024-02-04,100.00,EUR\nI2,D1,2024-02-10,2024-03-11,200.00,EUR\n"
        "I3,D2,2024-01-20,2024-02-19,50.00,EUR\nI4,D2,2024-03-15,2024-04-14,90.00,EUR\n"
        "I5,D1,2024-04-02,2024-05-02,60.00,EUR\nI10,D3,2024-03-02,2024-04-01,70.00,EUR\n"
        "I11,D4,2024-03-05,2024-04-04,30.00,EUR\nI12,D5,2024-02-20,2024-03-21,60.00,EUR\n"
        "I13,D4,2024-01-05,2024-02-04,90.00,EUR\nI14,D4,2024-04-10,2024-05-10,25.00,EUR\n"
        "I15,D6,2024-04-11,2024-05-11,35.00,EUR\nI16,D1,2024-05-03,2024-06-02,10.00,EUR\n"
        "I17,D2,2024-05-08,2024-06-07,20.00,EUR\nI18,D5,2024-05-12,2024-06-11,30.00,EUR\n"
    )
    payments = (
        "P1,D1,I1,2024-02-01,100.00\nP2,D2,I3,2024-03-01,50.00\nP5,D3,I10,2024-03-10,70.00\n"
        "P3,D1,I2,2024-04-05,200.00\nP4,D2,I4,2024-04-20,90.00\nP6,D4,I11,2024-04-12,30.00\n"
        "P7,D4,I13,2024-04-25,90.00\nP10,D1,I5,2024-05-05,60.00\nP11,D4,I14,2024-05-10,25.00\n"
        "P12,D6,I15,2024-05-20,35.00\n"
    )
    from pipelines.ingest import ingest_source
    from pipelines.ingest.history import day_counts, span_start

    days = pd.DataFrame({"issue_date": pd.to_datetime([r.split(",")[2] for r in invoices.splitlines()])})
    assert span_start(day_counts(days, "issue_date", night3), night3) == pd.Timestamp("2024-01-05")
    mem, streamed = tmp_path / "mem", tmp_path / "streamed"
    for out in (mem, streamed):
        ingest_source(_source(night1), out, as_of=NIGHT1, keep_history=True)
        ingest_source(_source(early(_book2(tmp_path / "n2"))), out, as_of=NIGHT2, keep_history=True)
    kept = read_portfolio(mem)
    assert kept.payments.set_index("payment_id").loc["P9", "debtor_id"] == "D6"
    assert kept.invoices.set_index("invoice_id").loc["I13", "debtor_id"] == "D4"
    files = _ledger(tmp_path / "n3", invoices, payments)
    want = ingest_source(_source(files), mem, as_of=night3, keep_history=True).manifest
    got = ingest_source(
        _source(files), streamed, as_of=night3, keep_history=True, stream=True, partitions=10, chunk_rows=5
    ).manifest
    assert want["history"]["tables"]["payments"]["removed"] == 1
    assert got["history"] == want["history"]
    assert _outputs(streamed) == _outputs(mem)
    assert "P9" not in set(read_portfolio(streamed).payments["payment_id"])


# ---------------------------------------------------------------- a sparse column only the history holds


def test_a_sparse_column_only_the_history_holds_keeps_the_streamed_buckets_readable(tmp_path: Path) -> None:
    """Night 1's payments carry the sparse column ``kind`` (cash); night 2's rolling export does not. The
    in-memory merge concatenates kept and today's rows: every bucket has ``kind``. The streamed merge
    (since 76b0ad2; 80a05d8 kept it) wrote a partition without a kept payment with today's columns
    only: payments bucket 0 (no row) lacked ``kind``, the streamed folder differed from the in-memory
    one, and ``read_portfolio`` (so ``ews score``) failed on it with pyarrow's "Schema at index 1 was
    different". Now each partition has the columns of both sides: 7 payments readable, the same bytes."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.ingest import ingest_source
    from tests.pipelines.test_history_s26 import _outputs

    for name, options in (
        ("mem", {}),
        ("streamed", {"stream": True, "partitions": 6, "chunk_rows": 3, "workers": 1}),
    ):
        night1 = _book1(tmp_path / "n1")
        head, *rows = night1["payments"].read_text().splitlines()
        night1["payments"].write_text("\n".join([f"{head},kind", *(f"{r},cash" for r in rows)]) + "\n")
        ingest_source(_source(night1), tmp_path / name, as_of=NIGHT1, keep_history=True)
        ingest_source(
            _source(_book2(tmp_path / "n2")), tmp_path / name, as_of=NIGHT2, keep_history=True, **options
        )
    payments = read_portfolio(tmp_path / "streamed").payments
    assert (len(payments), sorted(payments["kind"].dropna())) == (7, ["cash", "cash", "cash"])
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "mem")
