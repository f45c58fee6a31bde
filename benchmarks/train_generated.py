"""The model against the generator's oracle, on generated data (``ews generate`` + ``truth.parquet``).

Runs the train flow's own steps without MLflow: ingest the data dir, build month-end snapshots
(features + labels), ``models.train.train_pd_model`` with ``conf/train.yaml``. On the test
snapshot it compares the calibrated model with the generator's ``oracle_pd`` (the PD the generator
used, joined on debtor_id and month_end = as_of) on the same rows and labels: AUC and capture of
defaulters in the top 5% / 10%. Also reports the wall time and peak RSS of each step.

    .venv/bin/ews generate --debtors 20000 --months 24 --seed 7 --out data/bench/gen20k
    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/train_generated.py --data data/bench/gen20k

Prints one line per step, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import psutil
from train_scale import PeakRSS

from models.evaluate import classification_metrics
from models.train import train_pd_model
from pipelines.config import load_config
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.flows.train import build_dataset, snapshot_dates
from pipelines.ingest import ingest_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="generated data dir (with truth.parquet)")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    project = ProjectConfig()
    steps: dict[str, dict[str, float]] = {}

    def step(name: str, fn, *a):
        with PeakRSS() as peak:
            t = time.perf_counter()
            out = fn(*a)
            secs = time.perf_counter() - t
        steps[name] = {"seconds": round(secs, 1), "peak_rss_mib": peak.mib}
        print(f"{name}: {secs:.1f} s, peak RSS {peak.mib} MiB", flush=True)
        return out

    result = step("ingest", ingest_dir, args.data, None)
    portfolio = result.portfolio
    snaps = snapshot_dates(portfolio, cfg)
    dataset = step("features_labels", build_dataset, portfolio, snaps, project)
    print(f"  {len(dataset):,} rows, {len(snaps)} snapshots {snaps[0].date()}..{snaps[-1].date()}")
    outcome = step("train", train_pd_model, dataset, cfg.to_params())
    truth = pd.read_parquet(args.data / "truth.parquet")
    truth = truth.assign(
        debtor_id=truth["debtor_id"].astype("string"), as_of=pd.to_datetime(truth["month_end"])
    )[["debtor_id", "as_of", "oracle_pd"]]
    test = outcome.test.assign(debtor_id=outcome.test["debtor_id"].astype("string"))
    joined = test.merge(truth, on=["debtor_id", "as_of"], how="left")
    covered = joined["oracle_pd"].notna()
    j = joined[covered]
    model = classification_metrics(j["y"], j["pd"])
    oracle = classification_metrics(j["y"], j["oracle_pd"].clip(0, 1))
    baseline = classification_metrics(j["y"], j["pd_baseline"])
    print(f"test snapshot {outcome.plan.test[0].date()}: {len(j):,} rows ({int(j['y'].sum())} defaults)")
    for name, m in (("model", model), ("oracle", oracle), ("scorecard", baseline)):
        print(
            f"  {name:9s} AUC {m['auc']:.4f}  capture@5% {m['capture_5pct']:.3f}  capture@10% {m['capture_10pct']:.3f}"
        )
    out = {
        "benchmark": "train_generated",
        "machine": f"{psutil.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB",
        "data": str(args.data),
        "rows": len(dataset),
        "snapshots": len(snaps),
        "debtors_test": int(len(j)),
        "test_defaults": int(j["y"].sum()),
        "oracle_coverage": round(float(covered.mean()), 4),
        "test_as_of": str(outcome.plan.test[0].date()),
        "model": {k: round(model[k], 4) for k in ("auc", "ece", "capture_5pct", "capture_10pct")},
        "oracle": {k: round(oracle[k], 4) for k in ("auc", "ece", "capture_5pct", "capture_10pct")},
        "scorecard": {k: round(baseline[k], 4) for k in ("auc", "ece", "capture_5pct", "capture_10pct")},
        "auc_ratio_to_oracle": round(model["auc"] / oracle["auc"], 4),
        "trees": outcome.best_iteration,
        "calibration": outcome.calibration.method,
        "steps": steps,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
