"""The cost of ``ews backtest``'s 95 % debtor-bootstrap intervals (s38-btci, issue 11 part 5), and their
width against what each figure rests on.

    nice python benchmarks/backtest_intervals.py ROWS [ROWS ...] [--tile K] [--boot 1000] [--json out.json]

Each ``ROWS`` is a ``backtest_rows.parquet`` (``ews backtest --rows``) or a folder holding one (its
``backtest.json`` gives the settings: the queue's key, ``pd`` or ``blend`` with the rows' ``pay_pd``).
Per panel, with the default nightly config: ``backtest_figures`` without replicates and with
``--boot`` (CPU seconds of each, the difference = the intervals' cost), the panel's debtors, live
debtor-months and queue debtor-months, and per headline figure its value, interval, n and width.
``--tile K``: the panel copied K times with renamed debtor ids (a K-fold larger book of the same
make-up: the cost at 100,000 debtors from a 5,000-debtor replay; its figures equal the panel's up to
ties broken by debtor id, its intervals narrower by about sqrt(K)). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
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


def tiled(panel: pd.DataFrame, k: int) -> pd.DataFrame:
    """``panel`` copied ``k`` times, debtor ids suffixed ``~0`` .. ``~k-1``, rows in (as_of, debtor) order."""
    if k <= 1:
        return panel
    parts = [panel.assign(debtor_id=panel["debtor_id"].astype(str) + f"~{i}") for i in range(k)]
    out = pd.concat(parts, ignore_index=True).sort_values(["as_of", "debtor_id"], ignore_index=True)
    out["debtor_id"] = out["debtor_id"].astype("string")
    return out


def measure(path: Path, tile: int, boot: int) -> dict:
    from pipelines.backtest import backtest_figures
    from pipelines.config.nightly import NightlyConfig

    rows = path / "backtest_rows.parquet" if path.is_dir() else path
    settings = {}
    if (rows.parent / "backtest.json").exists():
        settings = json.loads((rows.parent / "backtest.json").read_text())["settings"]
    panel = tiled(pd.read_parquet(rows), tile)
    panel["as_of"] = pd.to_datetime(panel["as_of"])
    cfg = NightlyConfig()
    key = settings.get("queue_key", "pd") if "pay_pd" in panel.columns else "pd"
    t0 = _cpu()
    w0 = time.perf_counter()
    plain = backtest_figures(panel, cfg, key=key)
    t1, w1 = _cpu(), time.perf_counter()
    out = backtest_figures(panel, cfg, key=key, n_boot=boot, seed=0)
    t2, w2 = _cpu(), time.perf_counter()
    assert plain["figures"] == out["figures"]
    figures = {
        k: {**e, "width": None if e["low"] is None else round(e["high"] - e["low"], 6)}
        for k, e in out["intervals"]["figures"].items()
    }
    return {
        "rows": str(rows),
        "queue_key": settings.get("queue_key"),
        "tile": tile,
        "boot": boot,
        "debtors": int(panel["debtor_id"].nunique()),
        "panel_rows": len(panel),
        "debtor_months_live": out["figures"]["debtor_months_live"],
        "queue_debtor_months": out["figures"]["queue_debtor_months"],
        "cpu_s_without": round(t1 - t0, 2),
        "cpu_s_with": round(t2 - t1, 2),
        "wall_s_without": round(w1 - w0, 2),
        "wall_s_with": round(w2 - w1, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "figures": figures,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+", type=Path)
    ap.add_argument("--tile", type=int, default=1)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    results = []
    for path in a.rows:
        r = measure(path, a.tile, a.boot)
        results.append(r)
        q = r["figures"]["queue_capture_top20"]
        print(
            f"{r['rows']} x{a.tile}: {r['debtors']:,} debtors, {r['queue_debtor_months']:,} queue debtor-months; "
            f"figures {r['cpu_s_without']} CPU-s, with {a.boot} replicates {r['cpu_s_with']} CPU-s; "
            f"queue capture {q['value']} [{q['low']}, {q['high']}] on {q['rests_on']}",
            flush=True,
        )
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
