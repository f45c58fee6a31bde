"""Mutation check of session 26's product code (BENCHMARKS.md "Session 26 (s26-review)"): each entry is
one wrong edit of a product file (an exact text replaced once) and the tests of the commit it tests. The
edit is made in ``--tree`` (a copy of the code: ``git archive COMMIT | tar -x -C DIR``, never a checkout
you work in), the tests run with ``-x``, the file is put back; CAUGHT when a test fails, SURVIVED when
all pass. An edit whose text is not found once (the code moved on) is reported PATTERN.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_mutations.py --tree /tmp/code \
        [--only M4,M6] [--tests tests/pipelines/test_review_s26.py] [--logs DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

M = [
    (
        "M1 writeoff: previous run adds today's defaults (pre-fix)",
        "pipelines/flows/nightly.py",
        'debtors = before.loc[before["in_default"].astype(bool), "debtor_id"]',
        'debtors = pd.concat([debtors, before.loc[before["in_default"].astype(bool), "debtor_id"]])',
        ["tests/pipelines/test_writeoff_s26.py", "tests/pipelines/test_writeoff_s25.py"],
    ),
    (
        "M2 writeoff: snapshot default judged at today's as-of",
        "pipelines/flows/nightly.py",
        "flags = build_labels(rows, [day],",
        "flags = build_labels(rows, [as_of],",
        ["tests/pipelines/test_writeoff_s26.py"],
    ),
    (
        "M3 writeoff: training reference not filtered (pre-fix)",
        "pipelines/flows/nightly.py",
        'if name == "training" and since:',
        'if False and name == "training" and since:',
        ["tests/pipelines/test_writeoff_s26.py"],
    ),
    (
        "M4 clash: no MIN_OVERLAP floor",
        "pipelines/ingest/history.py",
        "    if n < MIN_OVERLAP:\n        return None\n    old, new",
        "    if n < 1:\n        return None\n    old, new",
        ["tests/pipelines/test_history_s26.py", "tests/pipelines/test_history_s25.py"],
    ),
    (
        "M5 clash: 'at most half' taken as refusal (<= to <)",
        "pipelines/ingest/history.py",
        "if k <= MAX_CLASH_SHARE * n:",
        "if k < MAX_CLASH_SHARE * n:",
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M6 stream: other-ledger check skipped",
        "pipelines/ingest/history_stream.py",
        "    _foreign_check(job, held, out, run)\n",
        "",
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M7 stream: span from the last partition's rows only",
        "pipelines/ingest/history_stream.py",
        "per_day[table] = c if table not in per_day else per_day[table].add(c, fill_value=0)",
        "per_day[table] = c",
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M8 stream: recent_far ignored",
        "pipelines/ingest/history_stream.py",
        "    job.recent_far = _recent_far(job, run)",
        '    job.recent_far = pd.Index([], dtype="string")',
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M9 stream: removal refusal skipped (verdict never raises)",
        "pipelines/ingest/history_stream.py",
        "    warnings = total.verdict(job.starts, as_of, out)",
        "    warnings = []",
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M10 stream: no readmission in step 5",
        "pipelines/ingest/stream.py",
        "readmitted = readmit(History(self.history[0], self.history[1], kept), typed, masks)",
        "readmitted = {}",
        ["tests/pipelines/test_history_s26.py"],
    ),
    (
        "M11 statements: on-account cash applied before it is paid (leak)",
        "pipelines/synthetic/statements.py",
        "cash = on_account[paid_on[on_account] <= e]",
        "cash = on_account",
        ["tests/pipelines/test_synthetic_statements.py"],
    ),
    (
        "M12 statements: newest invoice first",
        "pipelines/synthetic/statements.py",
        "by_age = np.lexsort((_rank(inv_code), due, issue, inv_debtor))",
        "by_age = np.lexsort((_rank(inv_code), due, -issue.astype('datetime64[D]').astype(np.int64), inv_debtor))",
        ["tests/pipelines/test_synthetic_statements.py"],
    ),
    (
        "M13 window: N month-ends needed -> N+1",
        "pipelines/flows/queue_key.py",
        "if not need or len(final_train) < need:",
        "if not need or len(final_train) <= need:",
        [
            "tests/pipelines/test_queue_key_flow.py::test_window_min_snapshots_fits_the_cut_model_a_short_history_has_no_held_out_windows_for"
        ],
    ),
    (
        "M14 window: 0 trains anyway",
        "pipelines/flows/queue_key.py",
        "if not need or len(final_train) < need:",
        "if len(final_train) < need:",
        [
            "tests/pipelines/test_queue_key_flow.py::test_window_min_snapshots_fits_the_cut_model_a_short_history_has_no_held_out_windows_for"
        ],
    ),
    (
        "M15 ux: docstrings not reflowed",
        "pipelines/cli.py",
        "        self.help = _reflow(self.help)\n",
        "",
        ["tests/pipelines/test_ux_s26.py"],
    ),
    (
        "M16 ux: examples cut at 100 columns",
        "pipelines/cli.py",
        "def _example(line: str, width: int = 76)",
        "def _example(line: str, width: int = 100)",
        ["tests/pipelines/test_ux_s26.py"],
    ),
    (
        "R1 fix reverted: sample figures unlabelled",
        "pipelines/ingest/history_stream.py",
        "        if every > 1:  # the counts",
        "        if False:  # the counts",
        ["tests/pipelines/test_review_s26.py"],
    ),
    (
        "R2 fix reverted: short_reason cut at -1",
        "pipelines/adapters/registry_view.py",
        "(text[:space] if space > 0 else text[: limit - 4])",
        "text[:space]",
        ["tests/pipelines/test_review_s26.py"],
    ),
    (
        "M17 models history: gate verdict not cut before Checks",
        "pipelines/adapters/registry_view.py",
        'text = reason.split(" Checks: ")[0] if " Checks: " in reason else reason',
        "text = reason",
        ["tests/pipelines/test_ux_s26.py"],
    ),
    (
        "M18 train: the small book's note in full again",
        "pipelines/flows/train.py",
        'return f"{outcome.headline} ({WHY_IN_FULL})" if outcome.headline else outcome.note',
        "return outcome.note",
        ["tests/pipelines/test_ux_s26.py"],
    ),
    (
        "M19 report: stacked() labels nothing",
        "pipelines/report/__init__.py",
        "    return _STACK.sub(table, html)",
        "    return html",
        ["tests/pipelines/test_report.py"],
    ),
    (
        "M20 ids_leave_out ignored",
        "pipelines/sources/rowids.py",
        "cells = [c for c in frame.columns if c != id_column and c not in leave_out]",
        "cells = [c for c in frame.columns if c != id_column]",
        ["tests/pipelines/test_hostile_s26.py"],
    ),
    (
        "M21 more_files: per-file quarantined counted 0",
        "pipelines/ingest/__init__.py",
        "q = int(quarantined.get(str(part.path), 0))",
        "q = 0",
        ["tests/pipelines/test_hostile_s26.py"],
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, required=True, help="a copy of the code (its files are edited)")
    parser.add_argument("--only", default="", help="comma-separated ids (M1, M2, ...; default: all)")
    parser.add_argument(
        "--tests", default="", help="run these tests instead of each entry's own (space-separated)"
    )
    parser.add_argument("--logs", type=Path, default=None, help="folder for each run's pytest output")
    args = parser.parse_args(argv)
    only = {m for m in args.only.split(",") if m}
    python = str(Path(sys.executable))
    for name, path, old, new, tests in M:
        key = name.split()[0]
        if only and key not in only:
            continue
        f = args.tree / path
        text = f.read_text()
        if text.count(old) != 1:
            print(f"{name}: PATTERN (found {text.count(old)} times)", flush=True)
            continue
        f.write_text(text.replace(old, new))
        t0 = time.time()
        try:
            env = {**os.environ, "PYTHONPATH": str(args.tree), "OMP_NUM_THREADS": "1"}
            run = args.tests.split() or tests
            p = subprocess.run(
                [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *run],
                cwd=args.tree,
                capture_output=True,
                text=True,
                env=env,
            )
        finally:
            f.write_text(text)
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-300:]
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            (args.logs / f"{key}.log").write_text(p.stdout + p.stderr)
        verdict = "CAUGHT" if p.returncode != 0 else "SURVIVED"
        print(f"{name}: {verdict} ({last}; {time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
