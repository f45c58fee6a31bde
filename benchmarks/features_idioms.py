"""Micro-benchmarks behind the idioms chosen in ``features.ledger`` (same inputs, both ways).

1. debtor-id -> code lookup: pandas ``Index.get_indexer`` vs Arrow ``pyarrow.compute.index_in``;
2. ledger sort by (debtor, issue, due): ``np.lexsort`` vs one stable argsort of a packed int64 key;
3. cash-waterfall breakpoints: ``np.unique`` vs stable sort of already-sorted runs + dedupe;
4. per-debtor sums: ``DataFrame.groupby().sum()`` vs ``np.bincount``.

    .venv/bin/python benchmarks/features_idioms.py --rows 5000000 --debtors 100000

Prints a table, then one JSON object (final line). Best of 3 runs each.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--debtors", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, d = args.rows, args.debtors
    ids = pa.compute.binary_join_element_wise(
        "D", pc.utf8_lpad(pa.array(np.arange(d)).cast(pa.string()), width=7, padding="0"), ""
    )
    code = np.sort(rng.integers(0, d, n))
    values = pc.take(ids, pa.array(code))
    values_pd = pd.Series(pd.array(values, dtype="string"))
    index_pd = pd.Index(pd.array(ids, dtype="string"))
    issue = rng.integers(19000, 19730, n)
    due = issue + rng.choice([30, 45, 60], n)
    amount = rng.integers(1, 10**6, n)

    def packed_sort() -> np.ndarray:
        key = code * (731 * 800) + (issue - 19000) * 800 + (due - issue)
        return np.argsort(key, kind="stable")

    ends_a = np.cumsum(amount)
    ends_b = np.cumsum(rng.integers(1, 10**6, n))
    base = np.arange(0, d, dtype=np.int64) * 10

    def merge_unique() -> np.ndarray:
        p = np.sort(np.concatenate([base, ends_a, ends_b]), kind="stable")
        return p[np.r_[True, p[1:] != p[:-1]]]

    frame = pd.DataFrame({"code": code, "amount": amount.astype(float)})
    rows = {
        "id lookup": (
            best(lambda: index_pd.get_indexer(values_pd)),
            best(lambda: pc.index_in(values, value_set=ids)),
            "pandas Index.get_indexer",
            "pyarrow index_in",
        ),
        "sort 3 keys": (
            best(lambda: np.lexsort((due, issue, code))),
            best(packed_sort),
            "np.lexsort",
            "packed int64 argsort(stable)",
        ),
        "breakpoints": (
            best(lambda: np.unique(np.concatenate([base, ends_a, ends_b]))),
            best(merge_unique),
            "np.unique",
            "stable sort of sorted runs + dedupe",
        ),
        "sum by debtor": (
            best(lambda: frame.groupby("code")["amount"].sum()),
            best(lambda: np.bincount(code, weights=amount.astype(float), minlength=d)),
            "pandas groupby.sum",
            "np.bincount",
        ),
    }
    print(f"{'step':15s} {'baseline':>34s} {'s':>7s}   {'chosen':>36s} {'s':>7s}  speed-up")
    out = {"benchmark": "features_idioms", "rows": n, "debtors": d, "steps": {}}
    for step, (t_base, t_new, base_name, new_name) in rows.items():
        print(
            f"{step:15s} {base_name:>34s} {t_base:7.3f}   {new_name:>36s} {t_new:7.3f}  {t_base / t_new:6.1f}x"
        )
        out["steps"][step] = {
            "baseline": base_name,
            "baseline_seconds": round(t_base, 3),
            "chosen": new_name,
            "chosen_seconds": round(t_new, 3),
            "speedup": round(t_base / t_new, 2),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
