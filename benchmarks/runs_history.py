"""Years of nightly runs in one OUTDIR: what the nightly's overrides-log check costs there (s39-scale, issue 11).

    python benchmarks/runs_history.py --run RUN --out OUT [--nights 1100] [--per-night 5] [--repeat 3]

``RUN`` is a published run folder (e.g. ``data/demo/runs/2025-12-30`` after ``ews demo``). ``OUT`` (new) gets
``--nights`` published runs, one a day ending the day before RUN's as-of, laid out as ``ews`` publishes them
(``.versions/<date>.<id>/`` and a ``<date>`` link), each with RUN's real ``manifest.json`` (its ``as_of`` and
``overrides`` head set to the night's; ``--manifest``: another run's instead) and RUN's other files hard-linked, then
RUN itself (a copy, its head set to the whole log). The overrides log gets ``--per-night`` lines a night, each as
``append_override`` writes it (fields, hash chain, JSON form; debtors and PDs from RUN's watchlist), so every
manifest records a real head of a real chain.

Then it times, in this process, ``check_log(OUT, latest_before(OUT, day after RUN))`` (what a nightly does
first, 79d1129) and its parts: ``published_runs``, ``recorded_heads``, ``read_log``; the best and the first of
``--repeat`` runs (CPU seconds of this process; the first reads the files after the build wrote them, so the page
cache is warm: a cold read is not measured). Ends with one JSON line. ``ews score --out OUT`` for the day after
RUN then measures the whole nightly beside that history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def build(run: Path, out: Path, nights: int, per_night: int, template: Path | None = None) -> dict:
    import pandas as pd

    from pipelines.scoring.overrides import _GENESIS, AUDIT_LOG, _line_hash

    run = run.resolve()
    last = dt.date.fromisoformat(Path(run).name.split(".")[0])
    manifest = json.loads((template or run / "manifest.json").read_text(encoding="utf-8"))
    watch = pd.read_parquet(run / "watchlist.parquet", columns=["debtor_id", "pd"])
    out.mkdir(parents=True)
    (out / ".versions").mkdir()
    days = [last - dt.timedelta(days=nights - i) for i in range(nights)]
    records: list[dict] = []

    def head() -> dict:  # the log as a run read it (manifest "overrides": lines and last hash)
        return dict(manifest.get("overrides") or {}, lines=len(records),
                    hash=records[-1]["hash"] if records else _GENESIS)  # fmt: skip

    def publish(day: dt.date, copy_from: Path | None = None) -> None:
        key = day.isoformat()
        version = out / ".versions" / f"{key}.{uuid.uuid4().hex}"
        if copy_from is not None:
            shutil.copytree(copy_from, version)
        else:
            version.mkdir()
            for f in run.iterdir():  # every output file but the manifest, hard-linked
                if f.is_file() and f.name != "manifest.json":
                    os.link(f, version / f.name)
        m = json.loads((copy_from / "manifest.json").read_text(encoding="utf-8")) if copy_from else manifest
        m = dict(m, as_of=key, overrides=head())
        (version / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")
        os.symlink(Path(".versions") / version.name, out / key)

    # the lines as append_override writes them (same fields, hash chain and JSON form), written at once
    with (out / AUDIT_LOG).open("w", encoding="utf-8", newline="") as log:
        for i, day in enumerate(days):
            publish(day)  # the log as this night read it, before the day's overrides
            for j in range(per_night):
                r = watch.iloc[(i * per_night + j) % len(watch)]
                at = dt.datetime.combine(day, dt.time(9, j), tzinfo=dt.UTC)
                record = {"seq": len(records) + 1, "debtor_id": str(r["debtor_id"]), "status": "under_review",
                          "band": None, "reason": f"call booked with the customer, night {i}", "by": "A. Jansen",
                          "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "until": None, "run": day.isoformat(),
                          "pd": round(float(r["pd"]), 6), "prev": records[-1]["hash"] if records else _GENESIS}  # fmt: skip
                record["hash"] = _line_hash(record)
                log.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                records.append(record)
    publish(last, copy_from=run)
    size = sum((out / d.isoformat() / "manifest.json").stat().st_size for d in [*days, last])
    return {"nights": nights + 1, "log_lines": len(records), "log_bytes": (out / AUDIT_LOG).stat().st_size,
            "manifest_bytes": size, "manifest_bytes_each": size // (nights + 1)}  # fmt: skip


def timed(fn, repeat: int) -> dict:
    out = []
    for _ in range(repeat):
        c, w = _cpu(), time.perf_counter()
        fn()
        out.append((round(_cpu() - c, 3), round(time.perf_counter() - w, 3)))
    return {"first_cpu_s": out[0][0], "first_wall_s": out[0][1], "best_cpu_s": min(o[0] for o in out),
            "best_wall_s": min(o[1] for o in out)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--nights", type=int, default=1100)
    ap.add_argument("--per-night", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--manifest",
        type=Path,
        help="the history's manifest (default RUN's; e.g. a later run's, "
        "which has a previous run's deltas as most nights do)",
    )
    ap.add_argument("--no-build", action="store_true", help="OUT exists: time only")
    args = ap.parse_args()

    from pipelines.adapters.publish import latest_before, published_runs
    from pipelines.scoring.overrides import check_log, read_log, recorded_heads

    built = {} if args.no_build else build(args.run, args.out, args.nights - 1, args.per_night, args.manifest)
    runs = published_runs(args.out)
    day_after = dt.date.fromisoformat(runs[-1].name) + dt.timedelta(days=1)
    result = {
        "benchmark": "runs_history",
        **built,
        "runs": len(runs),
        "published_runs": timed(lambda: published_runs(args.out), args.repeat),
        "read_log": timed(lambda: read_log(args.out), args.repeat),
        "recorded_heads": timed(lambda: recorded_heads(args.out), args.repeat),
        "check_log": timed(lambda: check_log(args.out, latest_before(args.out, day_after)), args.repeat),
    }
    for k, v in result.items():
        print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
