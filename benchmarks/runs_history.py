"""Years of nightly runs in one OUTDIR: what the nightly's overrides-log check costs there (s39-scale, issue 11).

    python benchmarks/runs_history.py --run RUN --out OUT [--nights 1100] [--per-night 5] [--repeat 3]

``RUN`` is a published run folder (e.g. ``data/demo/runs/2025-12-30`` after ``ews demo``). ``OUT`` (new) gets
``--nights`` published runs, one a day ending the day before RUN's as-of, laid out as ``ews`` publishes them
(``.versions/<date>.<id>/`` and a ``<date>`` link), each with RUN's real ``manifest.json`` (its ``as_of`` and
``overrides`` head set to the night's) and RUN's ``scores.parquet`` / ``watchlist.parquet`` hard-linked, then
RUN itself (a copy, its head set to the whole log). The overrides log gets ``--per-night`` lines a night, written
with ``append_override`` (debtors from RUN's watchlist), so every manifest records a real head of a real chain.

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


def build(run: Path, out: Path, nights: int, per_night: int) -> dict:
    import pandas as pd

    from pipelines.scoring.overrides import Override, append_override, log_head

    run = run.resolve()
    last = dt.date.fromisoformat(Path(run).name.split(".")[0])
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    watch = pd.read_parquet(run / "watchlist.parquet", columns=["debtor_id"])["debtor_id"].astype(str).tolist()
    out.mkdir(parents=True)
    (out / ".versions").mkdir()
    days = [last - dt.timedelta(days=nights - i) for i in range(nights)]

    def publish(day: dt.date, head: dict, copy_from: Path | None = None) -> Path:
        key = day.isoformat()
        version = out / ".versions" / f"{key}.{uuid.uuid4().hex}"
        if copy_from is not None:
            shutil.copytree(copy_from, version)
        else:
            version.mkdir()
            for name in ("scores.parquet", "watchlist.parquet"):
                os.link(run / name, version / name)
        m = dict(manifest, as_of=key, overrides=head)
        (version / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")
        os.symlink(Path(".versions") / version.name, out / key)
        return version

    for i, day in enumerate(days):
        publish(day, log_head(out))  # the log as this night read it, before the day's overrides
        at = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        for j in range(per_night):
            debtor = watch[(i * per_night + j) % len(watch)]
            ov = Override(debtor_id=debtor, status="under_review", reason=f"call booked, night {i}", by="A. Jansen",
                          run=day, pd=0.05)  # fmt: skip
            append_override(out, ov, now=at + dt.timedelta(minutes=j))
    publish(last, log_head(out), copy_from=run)
    size = sum((out / d.isoformat() / "manifest.json").stat().st_size for d in [*days, last])
    return {"nights": nights + 1, "log_lines": log_head(out)["lines"], "manifest_bytes": size,
            "manifest_bytes_each": size // (nights + 1)}  # fmt: skip


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
    ap.add_argument("--no-build", action="store_true", help="OUT exists: time only")
    args = ap.parse_args()

    from pipelines.adapters.publish import latest_before, published_runs
    from pipelines.scoring.overrides import check_log, read_log, recorded_heads

    built = {} if args.no_build else build(args.run, args.out, args.nights - 1, args.per_night)
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
