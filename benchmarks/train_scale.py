"""Training time and peak memory of the model stage at scale (12 snapshots x 100,000 debtors).

Builds a seeded synthetic modelling frame (one row per debtor and month-end, ~40 float features
plus a categorical segment, a default rate of about 4%) and runs ``models.train.train_pd_model`` on
it with the shipped ``conf/train.yaml`` settings: out-of-time split, LightGBM with early stopping,
calibration choice, scorecard baseline and test evaluation. Also times nightly-style TreeSHAP
(``pred_contrib``) on 100,000 rows with the trained booster.

    flock /tmp/ews-heavy.lock .venv/bin/python benchmarks/train_scale.py --debtors 100000 --snapshots 12

Prints one line per phase, then one JSON object (final line).
"""

from __future__ import annotations

import argparse
import json
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from models.split import SplitParams
from models.train import train_pd_model
from pipelines.config import load_config
from pipelines.config.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


class PeakRSS:
    """Peak resident memory of this process, sampled every 50 ms (MiB)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mib(self) -> float:
        return round(self.peak / 2**20, 1)


def synthetic_frame(debtors: int, snapshots: int, n_features: int, seed: int) -> pd.DataFrame:
    """Seeded modelling frame: persistent debtor risk + monthly noise drive the label (~4% rate)."""
    rng = np.random.default_rng(seed)
    snaps = pd.date_range("2023-01-31", periods=snapshots, freq="ME")
    n = debtors * snapshots
    risk = np.tile(rng.normal(size=debtors).astype("float32"), snapshots)
    month = np.repeat(np.arange(snapshots), debtors)
    cols: dict[str, np.ndarray] = {}
    weights = rng.normal(0, 1, n_features) * (rng.random(n_features) < 0.4)
    logit = np.full(n, -3.6, dtype="float64") + 0.9 * risk + 0.03 * (month - snapshots / 2)
    for j in range(n_features):
        x = (
            (0.5 * risk + rng.normal(size=n).astype("float32"))
            if j % 3
            else rng.normal(size=n).astype("float32")
        )
        if j % 7 == 0:
            x = np.exp(x)  # skewed amount-like column
        if j % 5 == 0:
            x = np.where(rng.random(n) < 0.1, np.nan, x)  # some missing
        cols[f"f{j:02d}"] = x.astype("float64")
        logit += 0.15 * weights[j] * np.nan_to_num(np.tanh(x))
    segment = np.tile(rng.choice(["retail", "wholesale", "manufacturing", "services"], debtors), snapshots)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame = pd.DataFrame(cols)
    frame.insert(0, "as_of", np.repeat(snaps.to_numpy(), debtors))
    frame.insert(0, "debtor_id", pd.array(np.tile(np.arange(debtors).astype(str), snapshots), dtype="string"))
    frame["segment"] = pd.Categorical(segment)
    frame["label"] = pd.array(label, dtype="Int64")
    frame["horizon_observed"] = True
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debtors", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=12)
    ap.add_argument("--features", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    args = ap.parse_args()

    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params()
    params = type(params)(
        **{**params.__dict__, "split": SplitParams(**{**params.split.__dict__, "test_as_of": None})}
    )
    t = time.perf_counter()
    frame = synthetic_frame(args.debtors, args.snapshots, args.features, args.seed)
    build_s = time.perf_counter() - t
    print(f"synthetic frame: {len(frame):,} rows x {frame.shape[1]} columns in {build_s:.1f} s", flush=True)
    base_mib = round(psutil.Process().memory_info().rss / 2**20, 1)
    with PeakRSS() as peak:
        t = time.perf_counter()
        outcome = train_pd_model(frame, params)
        train_s = time.perf_counter() - t
    print(f"train_pd_model: {train_s:.1f} s, peak RSS {peak.mib} MiB (frame resident before: {base_mib} MiB)")
    for phase, secs in outcome.timings.items():
        print(f"  {phase}: {secs:.1f}")
    X = outcome.X_test.head(100_000)
    t = time.perf_counter()
    outcome.model.booster_.predict(X, pred_contrib=True)
    shap_s = time.perf_counter() - t
    print(f"TreeSHAP (pred_contrib) on {len(X):,} rows: {shap_s:.2f} s")
    booster = outcome.model.booster_
    dump = booster.dump_model()
    leaves = [t["num_leaves"] for t in dump["tree_info"]]
    result = {
        "benchmark": "train_scale",
        "machine": f"{psutil.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB, {platform.machine()}",
        "debtors": args.debtors,
        "snapshots": args.snapshots,
        "rows": len(frame),
        "features": args.features + 1,
        "train_seconds": round(train_s, 1),
        "phase_seconds": {k: round(v, 1) for k, v in outcome.timings.items()},
        "peak_rss_mib": peak.mib,
        "rss_before_mib": base_mib,
        "trees": booster.num_trees(),
        "mean_leaves": round(float(np.mean(leaves)), 1),
        "calibration": outcome.calibration.method,
        "test_auc": round(outcome.metrics["auc"], 4),
        "test_ece": round(outcome.metrics["ece"], 4),
        "baseline_test_auc": round(outcome.baseline_metrics["auc"], 4),
        "shap_rows": len(X),
        "shap_seconds": round(shap_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
