"""Lateness now against the debtor's own usual lateness, as LightGBM inputs (issue 9 part 1).

The misses of the capture@5 % section are debtors already 30+ days past due that ews ranks just
below its top 5 %: their days past due do not set them apart from habitual late payers at the same
DPD. A tree can compare ``dpd_current_max`` with ``days_late_p90_365d`` only through many splits;
these candidates give it the difference directly. All are differences of columns of the same row
(so computed as of that row's month-end, nothing later):

* ``dpd_excess_p90``: days past due of the oldest open overdue invoice minus the debtor's
  90th-percentile days late over the last 365 days (NaN without payments in that year).
* ``dpd_excess_mean``: the same minus the mean days late.
* ``overdue_excess_mean``: amount-weighted mean DPD of the overdue balance minus the mean days late.
* ``gap_excess``: days since the last payment minus the debtor's usual gap between payments
  (365 / payments in the last 365 days; NaN without any).

Variants: ``p90`` (+ ``dpd_excess_p90``), ``excess`` (+ the three lateness differences), ``all``
(+ the four), and the control ``noise`` (+ one column of uniform random numbers). Same books, cut,
forward rows, LightGBM path and paired debtor-bootstrap intervals as ``capture_rollrate.py``.

    nice .venv/bin/python benchmarks/capture_excess.py --work /work/bench/s16-lead/regimes --seeds 1,2 --json out.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from capture_recency import book_args, input_candidates, run_books, summarise  # noqa: E402

from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

VARIANTS = {
    "p90": ["dpd_excess_p90"],
    "excess": ["dpd_excess_p90", "dpd_excess_mean", "overdue_excess_mean"],
    "all": ["dpd_excess_p90", "dpd_excess_mean", "overdue_excess_mean", "gap_excess"],
    "noise": ["noise"],
}


def excess_features(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The candidate columns of ``frame`` (same index); NaN where the debtor has no usual to compare."""
    f = frame.astype({c: "float64" for c in ("dpd_current_max", "dpd_mean_overdue")}, copy=False)
    count = frame["payment_count_365d"].astype(float)
    usual_gap = (365.0 / count).where(count > 0)
    return pd.DataFrame(
        {
            "dpd_excess_p90": f["dpd_current_max"] - frame["days_late_p90_365d"].astype(float),
            "dpd_excess_mean": f["dpd_current_max"] - frame["days_late_mean_365d"].astype(float),
            "overdue_excess_mean": f["dpd_mean_overdue"] - frame["days_late_mean_365d"].astype(float),
            "gap_excess": frame["days_since_last_payment"].astype(float) - usual_gap,
            "noise": np.random.default_rng(seed).random(len(frame)),
        },
        index=frame.index,
    )


def main() -> None:
    ap = book_args(__doc__, "1,2")
    ap.add_argument(
        "--fit-seeds", type=int, default=1, help="LightGBM seeds per variant, raw scores averaged"
    )
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="candidates besides shipped")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results = run_books(
        args,
        lambda regime, seed: input_candidates(
            regime,
            seed,
            args,
            cfg,
            lambda frame: excess_features(frame, seed),
            {k: VARIANTS[k] for k in args.variants},
        ),
        lambda r: [f"early-stage AUC {r['early_auc']}  gain share {r['gain_share']}"],
    )
    print(json.dumps(summarise(results, args.variants)))


if __name__ == "__main__":
    main()
