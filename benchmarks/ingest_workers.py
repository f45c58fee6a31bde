"""Benchmark: the streamed ``ews ingest`` of a generated book (full validation: GX suites, cross-table
checks, quarantine) with 1 or 2 worker processes; CPU seconds, wall, memory of the process tree.

    python benchmarks/ingest_workers.py --book /work/bench/gen_100k --out OUT --workers 2 [--docs]
    python benchmarks/ingest_workers.py --book BOOK --out OUT --as-of 2023-12-30 --keep-history

``--keep-history``: merge into the history OUT holds (``ews ingest --keep-history``; session 26:
the streamed merge of ``pipelines/ingest/history_stream.py``); the JSON line gets its counts.
``--stream off``: the in-memory ingest (and merge) whatever the size (session 27: the streamed
merge against the in-memory one at 200k); ``on``: streamed whatever the size; ``auto``: above
5,000,000 input rows, as ``ews ingest``.

Runs :func:`pipelines.ingest.ingest_files` in this process, as ``ews ingest --invoices ... --out OUT``
does (Parquet or CSV files named ``invoices`` / ``payments`` / ``debtors`` / ``events`` in BOOK;
``--no-docs`` unless ``--docs``). Memory: peak RSS of this process and of the largest worker
(``getrusage``), and the peak of the summed PSS of this process and its children (sampled every
0.5 s from ``/proc``: forked workers share pages, so summed RSS would count them twice). Compare the
output folders of two runs with ``benchmarks/same_outputs.py``. Each step's wall seconds and CPU seconds
(this process and the workers it waited for in that step: ``IngestResult.cpu``). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


class PssPeak(threading.Thread):
    """Samples the summed PSS of this process tree until stopped; ``peak`` in KiB."""

    def __init__(self, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.every, self.peak, self._halt = every, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            self.peak = max(self.peak, sum(_pss_kib(p) for p in _tree(os.getpid())))

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", type=Path, required=True, help="folder of a generated book (ews generate)")
    ap.add_argument(
        "--out", type=Path, required=True, help="ingest output folder (must not hold another book)"
    )
    ap.add_argument("--workers", type=int, default=None, help="processes (default: min(2, CPUs))")
    ap.add_argument("--as-of", default="2024-01-01")
    ap.add_argument("--docs", action="store_true", help="build Data Docs (one process)")
    ap.add_argument("--keep-history", action="store_true", help="merge into the history OUT holds")
    ap.add_argument(
        "--stream",
        choices=("auto", "on", "off"),
        default="auto",
        help="streamed ingest: auto (above 5,000,000 rows), on, or off (in memory)",
    )
    ap.add_argument(
        "--pss-every",
        type=float,
        default=0.0,
        help="sample the summed PSS every this many seconds (0: off; reading /proc/PID/smaps_rollup "
        "costs system CPU in this process)",
    )
    args = ap.parse_args(argv)

    from pipelines.adapters.files import find_table_files
    from pipelines.config.source import FileSource, RulesConfig, SourceConfig
    from pipelines.ingest import ingest_source

    files = {
        t: p
        for t, p in find_table_files(args.book).items()
        if t in ("invoices", "payments", "debtors", "events")
    }
    load_before = os.getloadavg()
    sampler = PssPeak(args.pss_every) if args.pss_every > 0 else None
    if sampler is not None:
        sampler.start()
    t0, c0 = time.perf_counter(), os.times()
    source = SourceConfig(  # what ingest_files builds
        name="files",
        rules=RulesConfig(data_docs=args.docs),
        tables={t: FileSource(path=Path(p)) for t, p in files.items()},
    )
    result = ingest_source(
        source,
        args.out,
        as_of=dt.date.fromisoformat(args.as_of),
        progress=lambda msg: print(f"  {time.perf_counter() - t0:7.1f} s  {msg}", flush=True),
        workers=args.workers,
        keep_history=args.keep_history,
        stream={"auto": None, "on": True, "off": False}[args.stream],
    )
    wall, c1 = time.perf_counter() - t0, os.times()
    pss = sampler.stop() if sampler is not None else 0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu = {
        "user": round(c1.user - c0.user + c1.children_user - c0.children_user, 1),
        "sys": round(c1.system - c0.system + c1.children_system - c0.children_system, 1),
        "workers_user_sys": round(
            c1.children_user - c0.children_user + c1.children_system - c0.children_system, 1
        ),
    }
    tables = result.manifest["tables"]
    rows = {t: [e["rows_in"], e["rows_accepted"], e["rows_quarantined"]] for t, e in tables.items()}
    for step, sec in result.timings.items():
        used = result.cpu.get(step, 0.0)
        print(f"  {step:<24} {sec:8.1f} s (wall, this process) {used:8.1f} CPU-s (this process + workers)")
    print(f"rows in / accepted / quarantined: {rows}")
    print(
        f"CPU {cpu['user'] + cpu['sys']:.1f} s (user {cpu['user']}, sys {cpu['sys']}; workers {cpu['workers_user_sys']}), wall {wall:.1f} s"
    )
    print(
        f"peak RSS: this process {own / 2**20:.2f} GiB, largest worker {kids / 2**20:.2f} GiB; peak summed PSS {pss / 2**20:.2f} GiB"
    )
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    print(
        json.dumps(
            {
                "benchmark": "ingest_workers",
                "book": str(args.book),
                "workers": args.workers,
                "docs": args.docs,
                "cpu_s": round(cpu["user"] + cpu["sys"], 1),
                "cpu": cpu,
                "steps_s": {k: round(v, 1) for k, v in result.timings.items()},
                "steps_cpu_s": {k: round(v, 1) for k, v in result.cpu.items()},
                "wall_s": round(wall, 1),
                "peak_rss_gib": round(own / 2**20, 3),
                "peak_worker_rss_gib": round(kids / 2**20, 3),
                "peak_pss_sum_gib": round(pss / 2**20, 3),
                "load": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
                "rows": rows,
                "buckets": result.manifest.get("layout", {}).get("buckets"),
                "keep_history": args.keep_history,
                "stream": args.stream,
                "history": result.manifest.get("history"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
