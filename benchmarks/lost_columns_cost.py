"""Benchmark: the ``--keep-history`` check for columns a rolling export lost
(:func:`pipelines.ingest.history.refuse_lost_columns`) on a kept history, with the Parquet footers
deciding (today's code) and with every optional column the export does not give read (the code
before session 43: the footer proof switched off), alternated ``--repeat`` times.

    nice .venv/bin/python benchmarks/lost_columns_cost.py --history OUT [--repeat 3]

``OUT``: an ``ews ingest`` output folder (the history a second night merges into). The export's
columns are a generated book's (``ews generate``: payments without ``allocated_on``, ``currency``,
``kind``; debtors without ``annual_turnover``, ``net_worth``). Prints one JSON line: CPU and wall
seconds per arm and run, the peak RSS, and the verdict of each arm (both must pass).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GENERATED = {
    "invoices": {"invoice_id", "debtor_id", "issue_date", "due_date", "amount", "currency", "disputed"},
    "payments": {"payment_id", "debtor_id", "invoice_id", "paid_on", "amount"},
    "debtors": {"debtor_id", "name", "segment", "country", "credit_limit", "onboarded_on"},
    "events": {"debtor_id", "event_date", "kind", "amount"},
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from pipelines.ingest import history

    footers = history._footers_state_nothing
    arms = {"footers": footers, "read": lambda *_a: False}
    runs: dict[str, list[dict[str, float | str]]] = {arm: [] for arm in arms}
    for _ in range(args.repeat):
        for arm, proof in arms.items():
            history._footers_state_nothing = proof
            cpu, wall = _cpu(), time.perf_counter()
            try:
                history.refuse_lost_columns(args.history, GENERATED, args.history, {}, None)
                verdict = "passed"
            except history.TableError as error:
                verdict = f"refused: {error}"[:200]
            runs[arm].append(
                {
                    "cpu_s": round(_cpu() - cpu, 2),
                    "wall_s": round(time.perf_counter() - wall, 2),
                    "verdict": verdict,
                }
            )
    history._footers_state_nothing = footers
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "benchmark": "lost_columns_cost",
                "history": str(args.history),
                "runs": runs,
                "peak_rss_mib": round(peak),
            }
        )
    )


if __name__ == "__main__":
    main()
