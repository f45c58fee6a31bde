"""credit_limits.csv of two runs of the same book (before / after a change of the credit-limit policy or its
rounding): per limit column, how many debtors' limits differ, the step every nonzero limit is a multiple of
(their greatest common divisor), the sums and the largest change; and whether every other column is the same.

Session 30 (s30-ux), BENCHMARKS.md, hostile-inputs section: s29-ux's JPY and KWD copies of the 100 x 24 walk
book re-scored with main 1153b62 and with the currency-following step:

    python benchmarks/limits_compare.py RUN_BEFORE RUN_AFTER
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

LIMITS = ["credit_limit_recommended", "credit_limit_conservative", "credit_limit_aggressive"]


def step(values: np.ndarray) -> int | None:
    """The greatest common divisor of the nonzero whole limits (None: no nonzero limit)."""
    nonzero = values[values > 0]
    return int(np.gcd.reduce(np.round(nonzero).astype(np.int64))) if len(nonzero) else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("before", type=Path, help="a run folder (holding credit_limits.csv)")
    parser.add_argument("after", type=Path, help="the same book's run folder after the change")
    args = parser.parse_args()
    a = pd.read_csv(args.before / "credit_limits.csv", encoding="utf-8-sig")
    b = pd.read_csv(args.after / "credit_limits.csv", encoding="utf-8-sig")
    if not a["debtor_id"].equals(b["debtor_id"]):
        raise SystemExit("the two runs list other debtors (or in another order): not the same book")
    for col in LIMITS:
        x, y = a[col].to_numpy(dtype="float64"), b[col].to_numpy(dtype="float64")
        print(
            f"{col}: {int((x != y).sum()):,} of {len(x):,} differ; step before {step(x)}, after {step(y)}; "
            f"sum before {x.sum():,.0f}, after {y.sum():,.0f}; largest change {np.abs(y - x).max():,.0f}"
        )
    other = [c for c in a.columns if c not in LIMITS]
    differ = [c for c in other if not a[c].astype(str).equals(b[c].astype(str))]
    print(
        f"other columns: {len(other) - len(differ)} of {len(other)} identical"
        + (f"; differ: {differ}" if differ else "")
    )


if __name__ == "__main__":
    main()
