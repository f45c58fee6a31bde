"""Benchmark: SHAP contributions of a book's live debtors with the champion, LightGBM's TreeSHAP on
every row (``Booster.predict(pred_contrib=True)``) against once per distinct path pattern per tree
(``models.treeshap.pred_contrib``, what ``models.reasons.contributions`` uses from 5,000 rows).

Builds the model input of the first ``--buckets`` debtor buckets of an ingested folder with the
nightly's own scoring (``pipelines.scoring.score.score_bucket``), then times both (CPU seconds of
this process, LightGBM with its 1 thread) and prints the largest difference. Run it with nice::

    nice .venv/bin/python benchmarks/reasons_scale.py --data data/bench/gen_100k_ingested --as-of 2023-12-29

It needs a champion in the MLflow store of ``MLFLOW_TRACKING_URI`` (see benchmarks/nightly.py).
Prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="an `ews ingest` (bucketed) folder")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--buckets", type=int, default=None, help="first N buckets (default: all)")
    parser.add_argument("--config", type=Path, default=ROOT / "conf/nightly.yaml")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from models.treeshap import pred_contrib, to_matrix
    from pipelines.adapters.registry import load_model_version
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.engine import open_feed
    from pipelines.scoring.score import score_bucket

    cfg = load_config(args.config, expect=NightlyConfig)
    project = load_config(cfg.project, expect=ProjectConfig)
    loaded = load_model_version(cfg.model_alias, cfg.model_name)
    booster = loaded.booster
    feed = open_feed(
        args.data, raw=False, as_of=None, bucket_rows=cfg.partition_rows, currency=project.currency
    )
    n_buckets = min(args.buckets or feed.book.buckets, feed.book.buckets)
    frames = []
    for k in range(n_buckets):
        scored = score_bucket(
            feed.book, k, pd.Timestamp(args.as_of), project.default_definition.to_params(), loaded, cfg
        )
        if scored is not None:
            frames.append(scored.X)
    X = pd.concat(frames)
    print(f"{len(X):,} live debtors from {n_buckets} buckets; {booster.num_trees()} trees", flush=True)

    t = time.process_time()
    every_row = np.asarray(booster.predict(X[booster.feature_name()], pred_contrib=True))
    cpu_every_row = time.process_time() - t
    t = time.process_time()
    patterns = pred_contrib(booster, to_matrix(booster, X))
    cpu_patterns = time.process_time() - t
    diff = float(np.abs(every_row - patterns).max())
    figures = {
        "benchmark": "reasons_scale",
        "rows": len(X),
        "trees": booster.num_trees(),
        "cpu_s_pred_contrib_every_row": round(cpu_every_row, 2),
        "cpu_s_once_per_pattern": round(cpu_patterns, 2),
        "speed_up": round(cpu_every_row / cpu_patterns, 1),
        "max_abs_difference": diff,
    }
    print(
        f"pred_contrib on every row: {cpu_every_row:.1f} s CPU; once per path pattern: {cpu_patterns:.1f} s CPU "
        f"({figures['speed_up']}x); largest difference {diff:.1e} (log-odds)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
