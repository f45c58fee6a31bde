"""The cost of ``ews backtest``'s 95 % debtor-bootstrap intervals at up to 1,000,000 debtors (s39-scale, issue 11).

    nice python benchmarks/interval_scale.py ROWS --tile K [--boot 1000] [--against OLD/pipelines/backtest.py
        --against-boot 100] [--json out.json]

``ROWS``: an ``ews backtest --rows`` folder (its ``backtest.json`` gives the queue's key; its ``truth.parquet``
is read from ``--truth`` when given, adding the oracle's order as ``ews backtest`` does on a generator book).
:func:`pipelines.backtest.backtest_figures` runs once on the panel as it is, handing
:func:`pipelines.backtest.figure_intervals` its inputs (the live debtor-months, the queue with its order keys,
the lead times); those inputs are then copied ``K`` times with renamed debtor ids (K x the debtors, the same
make-up; the whole panel tiled K times does not fit 6 GiB at 1M debtors: s39-scale measured 5.2 GiB at 487,000)
and ``figure_intervals`` alone is timed on them (CPU seconds of this process) with ``--boot`` replicates.
``--against``: another ``pipelines/backtest.py`` (e.g. a git archive of main) timed on the same inputs with
``--against-boot`` replicates, and both outputs compared at that many replicates (equal dicts: the same
written intervals). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def inputs(rows: Path, truth: Path | None) -> tuple:
    """``figure_intervals``'s arguments as ``backtest_figures`` passes them on ``rows``'s panel."""
    import pipelines.backtest as bt
    from pipelines.config.nightly import NightlyConfig

    settings = json.loads((rows / "backtest.json").read_text())["settings"]
    panel = pd.read_parquet(rows / "backtest_rows.parquet")
    panel["as_of"] = pd.to_datetime(panel["as_of"])
    key = settings.get("queue_key", "pd") if "pay_pd" in panel.columns else "pd"
    seen = {}
    real = bt.figure_intervals

    def keep(*args):
        seen["args"] = args
        return real(*args)

    bt.figure_intervals = keep
    try:
        bt.backtest_figures(panel, NightlyConfig(), pd.read_parquet(truth) if truth else None, key=key)
    finally:
        bt.figure_intervals = real
    return seen["args"]


def tiled(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """``frame`` copied ``k`` times, debtor ids suffixed ``~0`` .. ``~k-1``, in (as_of, copy) order when dated."""
    if k <= 1:
        return frame
    ids = frame["debtor_id"].astype(str)
    parts = [frame.assign(debtor_id=ids + f"~{i}", _copy=i) for i in range(k)]
    out = pd.concat(parts, ignore_index=True)
    if "as_of" in out.columns:
        out = out.sort_values(["as_of", "_copy"], kind="stable", ignore_index=True)
    return out.drop(columns="_copy")


def load(path: Path):
    spec = importlib.util.spec_from_file_location("backtest_against", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["backtest_against"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(fn, *args) -> tuple[dict, float, float]:
    c, w = _cpu(), time.perf_counter()
    out = fn(*args)
    return out, round(_cpu() - c, 2), round(time.perf_counter() - w, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", type=Path)
    ap.add_argument("--tile", type=int, default=1)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--truth", type=Path)
    ap.add_argument("--against", type=Path)
    ap.add_argument("--against-boot", type=int, default=100)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from pipelines.backtest import figure_intervals

    live, queue, orders, was, figures, _, seed, min_defaults = inputs(args.rows, args.truth)
    live, queue, was = (tiled(f, args.tile) for f in (live, queue, was))
    result = {
        "benchmark": "interval_scale",
        "rows": str(args.rows),
        "tile": args.tile,
        "orders": list(orders),
        "debtors": int(live["debtor_id"].nunique()),
        "live_debtor_months": len(live),
        "queue_debtor_months": len(queue),
        "lead_times": len(was),
    }
    run = (live, queue, orders, was, figures)
    new, cpu, wall = timed(figure_intervals, *run, args.boot, seed, min_defaults)
    result.update(boot=args.boot, cpu_s=cpu, wall_s=wall, queue_capture=new["figures"]["queue_capture_top20"])
    if args.against:
        old_fn = load(args.against).figure_intervals
        old, cpu_o, wall_o = timed(old_fn, *run, args.against_boot, seed, min_defaults)
        same_boot = (
            new
            if args.against_boot == args.boot
            else figure_intervals(*run, args.against_boot, seed, min_defaults)
        )
        result.update(against=str(args.against), against_boot=args.against_boot, against_cpu_s=cpu_o,
                      against_wall_s=wall_o, same_output=old == same_boot)  # fmt: skip
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for k, v in result.items():
        print(f"{k}: {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
