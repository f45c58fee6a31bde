"""What the two queues change, measured on a published nightly run folder.

    python benchmarks/queues.py data/demo/runs/<as_of> [--json benchmarks/results/queues.json]

Figures:
- live / in-default debtors and their share of the expected loss when both sit in ONE queue
  ranked by PD x exposure x LGD (the single queue before issue 11; in default: PD = 1);
- the first live debtor's rank in that single queue, and the median days past due of the ranks
  before it;
- the actions of the two queues now, how many debtors with a disputed balance got agency
  referral (must be 0), and how many rows have an owner other than ``unassigned``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def measure(run: Path) -> dict[str, object]:
    q = pd.read_parquet(run / "collections_queue.parquet")
    r = pd.read_parquet(run / "recovery_queue.parquet")
    live = q[["debtor_id", "expected_loss", "dpd"]].assign(in_default=False)
    dead = r.assign(expected_loss=(r["exposure"] * r["lgd"]).round(2))[["debtor_id", "expected_loss", "dpd"]]
    single = pd.concat([live, dead.assign(in_default=True)], ignore_index=True)
    single = single.sort_values(["expected_loss", "debtor_id"], ascending=[False, True], kind="stable")
    single = single.reset_index(drop=True)
    first_live = int(single.index[~single["in_default"]][0]) + 1 if len(live) else None
    before = single.head((first_live or 1) - 1)
    total = float(single["expected_loss"].sum())
    both = pd.concat([q, r], ignore_index=True)
    disputed = both["disputed_amount"] > 0.005
    return {
        "run": run.name,
        "live_debtors": len(q),
        "in_default_debtors": len(r),
        "single_queue_el_share_in_default": round(float(dead["expected_loss"].sum()) / total, 4)
        if total
        else None,
        "single_queue_first_live_rank": first_live,
        "single_queue_median_dpd_before_first_live": float(before["dpd"].median()) if len(before) else None,
        "collections_actions": q["next_action"].value_counts().sort_index().to_dict(),
        "recovery_actions": r["next_action"].value_counts().sort_index().to_dict(),
        "disputed_rows": int(disputed.sum()),
        "disputed_rows_with_agency_referral": int(
            (disputed & (both["next_action"] == "agency_referral")).sum()
        ),
        "rows_by_owner": both["owner"].value_counts().sort_index().to_dict(),
        "collections_expected_loss": round(float(q["expected_loss"].sum()), 2),
        "recovery_recoverable_amount": round(float(r["recoverable_amount"].sum()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a published run folder OUTDIR/<as_of>")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.run)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
