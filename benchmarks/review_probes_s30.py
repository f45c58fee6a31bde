"""Probes of session 30's hostile review (BENCHMARKS.md "Session 30 (s30-review)").

csvbook SRC DST
    Write a generated Parquet book (``ews generate`` folder: invoices, payments, debtors, events) as
    CSV files the way ``ews generate --format csv`` writes them (pyarrow's CSV writer, dates as
    YYYY-MM-DD), one row group at a time.
written CODE_A CODE_B BOOK WORK [--as-of 2024-01-01] [--workers 2]
    The streamed ingest (``benchmarks/ingest_workers.py --stream on --pss-every 1``) of the CSV book
    BOOK run from two code trees one after the other (CODE_A, CODE_B: ``git archive`` copies, e.g.
    main and main with ``WRITTEN_COLUMNS = ()`` in pipelines/ingest/sources.py: 312aa57's amount
    text kept for every row). Prints each run's JSON line, the peak size of its spill folders
    (OUT/.spill-*, polled every 2 s) and whether the two output folders are the same bytes.

OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes_s30.py csvbook \
    /work/bench/gen_200k /work/bench/s30-review/csv200k
OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes_s30.py written \
    /tmp/codeA /tmp/codeB /work/bench/s30-review/csv200k /work/bench/s30-review/written
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

TABLES = ("invoices", "payments", "debtors", "events")


def csvbook(src: Path, dst: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    dst.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        path = src / f"{name}.parquet"
        if not path.is_file():
            continue
        pf = pq.ParquetFile(path)
        tmp = dst / f".{name}.csv.tmp"
        writer = None
        for i in range(pf.num_row_groups):
            t = pf.read_row_group(i)
            cols = [c.cast(pa.date32()) if pa.types.is_timestamp(c.type) else c for c in t.columns]
            t = pa.table(dict(zip(t.column_names, cols, strict=True)))
            if writer is None:
                writer = pacsv.CSVWriter(tmp, t.schema)
            writer.write_table(t)
        if writer is not None:
            writer.close()
            os.replace(tmp, dst / f"{name}.csv")
        print(f"{name}: {pf.metadata.num_rows:,} rows", flush=True)


def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total


def _run(code: Path, book: Path, out: Path, as_of: str, workers: str) -> tuple[dict, int, float]:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        str(code / "benchmarks" / "ingest_workers.py"),
        "--book",
        str(book),
        "--out",
        str(out),
        "--as-of",
        as_of,
        "--stream",
        "on",
        "--pss-every",
        "1",
        "--workers",
        workers,
    ]
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.wait(2.0):
            spills = out.glob(".spill*") if out.is_dir() else []
            peak[0] = max(peak[0], sum(_size(s) for s in spills))

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=code)
    done.set()
    th.join()
    wall = time.monotonic() - t0
    if p.returncode:
        print(p.stdout[-3000:], p.stderr[-3000:])
        raise SystemExit(f"{code}: rc {p.returncode}")
    line = [s for s in p.stdout.splitlines() if s.startswith("{")][-1]
    return json.loads(line), peak[0], wall


def written(code_a: Path, code_b: Path, book: Path, work: Path, as_of: str, workers: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    outs = []
    for label, code in (("A", code_a), ("B", code_b)):
        out = work / f"out_{label}"
        res, spill, wall = _run(code, book, out, as_of, workers)
        print(
            f"{label} {code}: wall {wall:.1f} s, CPU {res['cpu_s']} s, peak summed PSS "
            f"{res['peak_pss_sum_gib']} GiB, peak RSS main {res['peak_rss_gib']} GiB / largest worker "
            f"{res['peak_worker_rss_gib']} GiB, peak spill {spill / 2**20:.1f} MiB, load {res['load']}",
            flush=True,
        )
        print(json.dumps({**res, "peak_spill_mib": round(spill / 2**20, 1)}), flush=True)
        outs.append(out)
    p = subprocess.run(
        [sys.executable, str(code_a / "benchmarks" / "same_outputs.py"), str(outs[0]), str(outs[1])],
        capture_output=True,
        text=True,
    )
    print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-500:], flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("csvbook", "written"):
        print(__doc__)
        return 0
    opts = {"--as-of": "2024-01-01", "--workers": "2"}
    for k in opts:
        if k in argv:
            i = argv.index(k)
            opts[k] = argv[i + 1]
            del argv[i : i + 2]
    if argv[0] == "csvbook":
        csvbook(Path(argv[1]), Path(argv[2]))
    else:
        written(
            Path(argv[1]), Path(argv[2]), Path(argv[3]), Path(argv[4]), opts["--as-of"], opts["--workers"]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
