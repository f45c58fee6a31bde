"""The streamed ingest's re-cut (``StreamRun.recut``: the partitions of a merged history cut into another
bucket count at publication) on real bucket files, timed alone (BENCHMARKS.md, "Session 28 (s28-scale)").

    python benchmarks/recut_scale.py FOLDER STAGE --buckets 11 [--tables invoices,payments] [--profile]

Copies the tables' bucket files of an ingested FOLDER (``ews ingest --out``, say 10 buckets) into STAGE
(a scratch folder, emptied first) as the stage's partitions and cuts them into ``--buckets`` buckets with
the code on PYTHONPATH. Prints the CPU seconds and peak RSS of the cut, and one JSON line. Compare two
commits' STAGE folders with ``benchmarks/same_outputs.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import shutil
import time
from pathlib import Path
from types import SimpleNamespace


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="an ingested folder (its bucket files are the partitions)")
    ap.add_argument("stage", type=Path, help="scratch folder (emptied), the cut buckets end here")
    ap.add_argument("--buckets", type=int, required=True, help="bucket count to cut into")
    ap.add_argument("--tables", default="invoices,payments")
    ap.add_argument("--profile", action="store_true", help="print the 25 costliest calls (cProfile)")
    args = ap.parse_args(argv)

    from pipelines.adapters.files import bucket_count
    from pipelines.ingest.stream import Spill, StreamRun

    tables = args.tables.split(",")
    shutil.rmtree(args.stage, ignore_errors=True)
    args.stage.mkdir(parents=True)
    for table in tables:
        shutil.copytree(args.folder / table, args.stage / table)
    run = SimpleNamespace(
        stage=args.stage, spill=Spill(args.stage / ".spill"), partitions=bucket_count(args.folder)
    )
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    StreamRun.recut(run, args.buckets, tables)  # type: ignore[arg-type]
    if profile is not None:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    shutil.rmtree(args.stage / ".spill", ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"re-cut {run.partitions} -> {args.buckets} buckets of {tables}: {cpu:.1f} CPU-s, {wall:.1f} s wall, {rss:.0f} MiB"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    out = {
        "benchmark": "recut_scale",
        "partitions": run.partitions,
        "buckets": args.buckets,
        "tables": tables,
    }
    print(json.dumps(out | {"cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "max_rss_mib": round(rss)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
