"""Benchmark: the nightly flow end to end on a large portfolio (default: 1,000,000 debtors).

Run it under the shared heavy-job lock (2-core box, 24 GiB shared by the team)::

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/nightly.py \
        --data data/bench/gen_1m --out data/bench/nightly_runs

It needs a champion in the MLflow store given by ``--mlflow-uri`` (default: a SQLite file under
data/bench/). When there is none, it first trains one on ``--train-data`` (default data/sample,
the committed sample) with the train flow and promotes it; that training is not part of the
figures. It then runs the real ``nightly`` Prefect flow once for ``--as-of`` (default: the last
invoice issue date in the data) and reads the wall time and peak RSS of every step from the
run's manifest.json (sampled every 20 ms by ``pipelines.flows.nightly.StepMeter``).

Prints a table, writes benchmarks/results/nightly.md and prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = [
    "load_champion",
    "ingest",
    "validate",
    "features",
    "score",
    "deltas",
    "watchlist",
    "queue",
    "drift",
    "exports",
    "report",
    "publish",
]


def _last_issue_date(data: Path) -> dt.date:
    import pyarrow.parquet as pq

    path = data / "invoices.parquet"
    if path.exists():
        col = pq.read_table(path, columns=["issue_date"]).column("issue_date")
        import pyarrow.compute as pc

        return pc.max(col).as_py().date() if hasattr(pc.max(col).as_py(), "date") else pc.max(col).as_py()
    import pandas as pd

    return (
        pd.read_csv(data / "invoices.csv", usecols=["issue_date"], parse_dates=["issue_date"])["issue_date"]
        .max()
        .date()
    )


def _rel(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _ensure_champion(train_data: Path) -> str:
    from pipelines.adapters.registry import NoChampionError, load_model_version

    try:
        loaded = load_model_version("champion")
        return f"existing champion v{loaded.version}"
    except NoChampionError:
        pass
    t = time.perf_counter()
    env = dict(os.environ)
    subprocess.run(
        [str(ROOT / ".venv/bin/ews"), "train", "--data", str(train_data)], check=True, cwd=ROOT, env=env
    )
    try:
        loaded = load_model_version("champion")
    except NoChampionError:
        challenger = load_model_version("challenger")
        subprocess.run(
            [
                str(ROOT / ".venv/bin/ews"),
                "models",
                "promote",
                challenger.version,
                "--reason",
                "benchmark setup",
            ],
            check=True,
            cwd=ROOT,
            env=env,
        )
        loaded = load_model_version("champion")
    return f"trained champion v{loaded.version} on {train_data} in {time.perf_counter() - t:.0f} s (not in figures)"


def _watchdog(limit_gib: float) -> None:
    """Kill this process when its RSS passes ``limit_gib`` (other jobs share the machine's RAM)."""
    import threading

    import psutil

    proc = psutil.Process()

    def watch() -> None:
        while True:
            rss = proc.memory_info().rss / 2**30
            if rss > limit_gib:
                print(f"ABORT: RSS {rss:.1f} GiB above --max-rss-gib {limit_gib}", flush=True)
                os._exit(3)
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/bench/gen_1m")
    parser.add_argument("--out", type=Path, default=ROOT / "data/bench/nightly_runs")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--train-data", type=Path, default=ROOT / "data/sample")
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{ROOT / 'data/bench/mlflow/mlflow.db'}")
    parser.add_argument("--config", type=Path, default=ROOT / "conf/nightly.yaml")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/nightly.md")
    parser.add_argument(
        "--trusted-input",
        action="store_true",
        help="--data is canonical Parquet already validated by ingest: time the flow without re-validation",
    )
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=18.0,
        help="abort (exit 3) above this RSS: protects the shared box",
    )
    args = parser.parse_args()
    _watchdog(args.max_rss_gib)

    os.chdir(ROOT)
    os.environ["MLFLOW_TRACKING_URI"] = args.mlflow_uri
    os.environ.setdefault("EWS_MLFLOW_ARTIFACTS", str(ROOT / "data/bench/mlflow/artifacts"))
    Path(args.mlflow_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    setup = _ensure_champion(args.train_data)
    as_of = args.as_of or _last_issue_date(args.data)

    from pipelines.flows.nightly import nightly

    t = time.perf_counter()
    result = nightly(
        as_of=as_of,
        config_path=args.config,
        data_dir=args.data,
        out_dir=args.out,
        trusted_input=args.trusted_input,
    )
    wall = time.perf_counter() - t
    peak_total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = result.manifest
    secs, rss = m["timings_s"], m["peak_rss_mib"]
    rows = [(s, secs.get(s, float("nan")), rss.get(s, float("nan"))) for s in STEPS if s in secs]
    c = m["counts"]
    figures = {
        "benchmark": "nightly",
        "as_of": as_of.isoformat(),
        "debtors_scored": c["scored"],
        "in_default": c["in_default"],
        "flagged": c["flagged"],
        "queue": c["queue"],
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak_total, 0),
        "steps": {s: {"seconds": a, "peak_rss_mib": b} for s, a, b in rows},
        "input_rows": {k: v["rows_in"] for k, v in m["inputs"].items()},
        "target": {"wall_s": 300, "peak_rss_mib": 12 * 1024},
    }
    lines = [
        "# Nightly scoring benchmark",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on this machine: {os.cpu_count()} cores, "
        f"24 GiB RAM shared with other jobs, {platform.python_version()} / {platform.machine()}.",
        "",
        "Command (under the team's heavy-job lock):",
        "",
        "```",
        f"flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/nightly.py --data {_rel(args.data)}"
        f"{' --trusted-input' if args.trusted_input else ''}"
        f"{'' if _rel(args.train_data) == 'data/sample' else ' --train-data ' + _rel(args.train_data)}",
        "```",
        "",
        f"Input: {args.data} ({', '.join(f'{k} {v:,}' for k, v in figures['input_rows'].items())} rows), "
        f"as of {as_of}. Model: {m['model']['name']} v{m['model']['version']} ({setup}).",
        "",
        (
            "Input mode: **trusted** (canonical Parquet read with `read_portfolio`, hashed, not re-validated; "
            "ingest + Great Expectations validation is measured in ingest.md)."
            if args.trusted_input
            else "Input mode: **validated** (the flow's ingest task runs the full ingest + Great Expectations checks)."
        ),
        "",
        f"Result: {c['scored']:,} debtors scored ({c['in_default']:,} already in default), {c['flagged']:,} on the "
        f"watchlist (reason codes computed for these only), {c['queue']:,} in the collections queue.",
        "",
        "| step | wall time (s) | peak RSS (MiB) |",
        "|---|---:|---:|",
        *[f"| {s} | {a:.1f} | {b:,.0f} |" for s, a, b in rows],
        f"| **whole flow** (incl. Prefect start-up) | **{wall:.1f}** | **{peak_total:,.0f}** |",
        "",
        f"Target: under 300 s and 12 GiB. Measured: {wall:.0f} s and {peak_total / 1024:.1f} GiB -> "
        f"{'met' if wall < 300 and peak_total < 12 * 1024 else 'NOT met'}.",
        "",
    ]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join(lines), encoding="utf-8")
    for s, a, b in rows:
        print(f"{s:>14}  {a:8.1f} s  {b:9,.0f} MiB")
    print(f"{'whole flow':>14}  {wall:8.1f} s  {peak_total:9,.0f} MiB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
