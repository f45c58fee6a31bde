"""A streamed ingest's CPU seconds per phase from a py-spy profile (BENCHMARKS.md, "Session 29 (s29-scale)").

    py-spy record --subprocesses --rate 50 --format raw -o RUN.raw -- \\
        python benchmarks/ingest_workers.py --book FEED --out OUT --as-of D --keep-history > RUN.log
    python benchmarks/spy_phases.py RUN.raw RUN.log [--rate 50] [--leaves PHASE]

py-spy counts a thread that could run as busy even when the kernel has not given it a core, so on a shared box its
samples are wall time, not CPU time. This script labels each sample with the ingest's phase (route, the check
before validation, the fused validate / finish pass, step 4's far-invoice lookup, the second finish pass, each
step of the streamed merge, the re-cut, ...), for the ingest's own process and for its worker processes apart,
and scales each side's busy samples to that side's CPU seconds from ``ingest_workers.py``'s JSON line (process
CPU minus the workers'). The split is an estimate (the box's load is taken as even over the run); the steps'
own CPU seconds (``IngestResult.cpu``, printed by ``ingest_workers.py``) are exact per step. Samples whose
innermost frame waits (a lock, a pipe) are left out. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path

IDLE = re.compile(
    r"^(Condition\.wait|_recv_bytes|_recv|select|poll|wait|Event\.wait|_wait_for_tstate_lock|"
    r"Connection\.recv|_recv_into|Queue\.get|_poll)\b"
)
MERGE_STEPS = ("today_invoices", "kept_ids", "days", "moved_ids", "far", "merge")
PARENT = (
    ("PssPeak.run", "measure (PSS sampler)"),
    ("recut", "publish: re-cut"),
    ("write_ordered", "publish: quarantine / FX CSVs"),
    ("publish_ingest", "publish: move"),
    ("publish_streamed", "publish: other"),
    ("refuse_foreign", "other-ledger check before validation"),
    ("far_invoices", "step 4: far invoices"),
    ("merge_streamed", "merge"),
    ("route", "route"),
    ("shared_ids", "shared ids"),
    ("fused", "validate + finish (fused pass)"),
    ("finish", "finish (second pass)"),
    ("validate", "validate"),
)


def _has(frames: list[str], name: str) -> bool:
    pat = re.compile(r"(^|\.)" + re.escape(name) + r" \(")
    return any(pat.search(f) for f in frames)


def label(frames: list[str]) -> tuple[str, str]:
    """(``parent`` or ``worker``, phase) of one sample's stack (outermost frame first)."""
    at = [i for i, f in enumerate(frames) if "_process_worker (" in f]
    if at:  # a forked worker: its stack starts with the parent's frames at the fork
        fr = frames[at[0] :]
        if _has(fr, "merge_step"):
            for step in MERGE_STEPS:
                if _has(fr, "MergeJob." + step):
                    return "worker", "merge: " + step
        for name, phase in (
            ("_route_piece", "route"),
            ("_shared_part", "shared ids"),
            ("_parsed_invoices", "other-ledger check before validation"),
        ):
            if _has(fr, name):
                return "worker", phase
        if _has(fr, "_fused_part"):
            return "worker", "fused pass: finish" if _has(fr, "_finish_part") else "fused pass: validate"
        if _has(fr, "_finish_part"):
            return "worker", "finish (second pass)"
        if _has(fr, "_validate_part"):
            return "worker", "validate (two passes)"
        return "worker", "other"
    for name, phase in PARENT:
        if _has(frames, name):
            return "parent", phase
    return "parent", "other"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path, help="py-spy record --format raw output (collapsed stacks)")
    ap.add_argument("log", type=Path, help="the output of benchmarks/ingest_workers.py for the same run")
    ap.add_argument("--rate", type=float, default=50.0, help="py-spy's sampling rate (Hz)")
    ap.add_argument(
        "--leaves", default=None, help="also list the 25 commonest innermost stacks of this phase"
    )
    args = ap.parse_args(argv)

    line = next(x for x in args.log.read_text().splitlines() if x.startswith('{"benchmark"'))
    run = json.loads(line)
    workers_cpu = run["cpu"]["workers_user_sys"]
    parent_cpu = run["cpu_s"] - workers_cpu
    busy: collections.Counter[tuple[str, str]] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for text in args.raw.read_text().splitlines():
        stack, _, n = text.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames or IDLE.search(frames[-1]):
            continue
        key = label(frames)
        busy[key] += int(n)
        if args.leaves is not None and key[1] == args.leaves:
            leaves[";".join(f.split(" (")[0] for f in frames[-5:])] += int(n)
    sides = {"parent": parent_cpu, "worker": workers_cpu}
    total = {side: sum(n for k, n in busy.items() if k[0] == side) for side in sides}
    cpu = {
        f"{side}: {phase}": round(n * sides[side] / total[side], 1) if total[side] else 0.0
        for (side, phase), n in busy.items()
    }
    print(f"{args.raw}: CPU {run['cpu_s']} s (this process {parent_cpu:.1f}, workers {workers_cpu:.1f})")
    for side in sides:
        print(f"  {side}: {total[side] / args.rate:.1f} busy sample-s -> {sides[side]:.1f} CPU-s")
        for key, value in sorted(cpu.items(), key=lambda kv: -kv[1]):
            if key.startswith(side):
                print(f"     {key.split(': ', 1)[1]:40s} {value:7.1f}")
    if leaves:
        print(f"commonest stacks in {args.leaves} (sample-s)")
        for stack, n in leaves.most_common(25):
            print(f"  {n / args.rate:7.1f} {stack}")
    print(json.dumps({"benchmark": "spy_phases", "raw": str(args.raw), "cpu_s": run["cpu_s"], "phases": cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
