"""Benchmark: debtor-id membership at the book's scale, pandas ``isin`` vs ``pipelines.scoring.ids.in_ids``.

The nightly asks "which of these debtors are in that set" several times per run (flagged, live,
on the list, fired...). Prints the CPU seconds of both for ``--ids`` string ids looked up in a set
of half of them, and whether the answers are equal::

    nice .venv/bin/python benchmarks/id_membership.py --ids 1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from pipelines.scoring.ids import in_ids

    ids = pd.Index(pd.array([f"D{i:07d}" for i in range(args.ids)], dtype="string"))
    wanted = ids[::2]
    t = time.process_time()
    old = np.asarray(ids.isin(wanted), dtype=bool)
    t_old = time.process_time() - t
    t = time.process_time()
    new = in_ids(ids, wanted)
    t_new = time.process_time() - t
    figures = {
        "ids": args.ids,
        "looked_for": len(wanted),
        "pandas_isin_cpu_s": round(t_old, 3),
        "in_ids_cpu_s": round(t_new, 3),
        "equal": bool((old == new).all()),
    }
    print(f"pandas isin {t_old:.2f} s CPU, in_ids {t_new:.2f} s CPU, equal: {figures['equal']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
