"""Forward test of the model that ships: train as if today were a past cut date, score the months after.

The modelling frame of a data dir (``ews generate`` output or any canonical data dir) is built once
(features + labels for every month-end). The *cut* is the snapshot ``--forward`` observed snapshots
before the last fully observed one. Training sees only rows with ``as_of <= cut`` and only the labels
that were observable at the cut (``as_of + horizon <= cut``; later labels are masked, exactly as a user
training on that day would have them). ``models.train.train_pd_model`` runs with ``conf/train.yaml``
and the model it returns for shipping (``final_estimator``) then scores the ``--forward`` snapshots
after the cut, whose labels it never saw. Reports AUC, log-loss, ECE and capture@5 % there, with the
generator's oracle PD on the same rows when ``truth.parquet`` is present.

    nice .venv/bin/python benchmarks/train_forward.py --data /tmp/b5000 --forward 6

Caches the modelling frame as ``<data>/modelling.parquet`` (delete it after changing features).
Prints a summary and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from models.evaluate import classification_metrics
from models.train import train_pd_model
from pipelines.config import load_config
from pipelines.config.project import ProjectConfig
from pipelines.config.train import TrainConfig
from pipelines.flows.train import build_dataset, snapshot_dates
from pipelines.ingest import ingest_dir

ROOT = Path(__file__).resolve().parents[1]


def modelling_frame(data: Path, cfg: TrainConfig, project: ProjectConfig) -> pd.DataFrame:
    cache = data / "modelling.parquet"
    if cache.exists():
        return pd.read_parquet(cache)
    portfolio = ingest_dir(data, None).portfolio
    frame = build_dataset(portfolio, snapshot_dates(portfolio, cfg), project)
    frame.to_parquet(cache)
    return frame


def as_of_cut(frame: pd.DataFrame, cut: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """The modelling frame a user would have had on ``cut``: earlier rows, later labels masked."""
    past = frame[frame["as_of"] <= cut].copy()
    unseen = past["as_of"] + pd.Timedelta(days=horizon_days) > cut
    past.loc[unseen, "label"] = pd.NA
    past.loc[unseen, "horizon_observed"] = False
    return past


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6, help="observed snapshots after the cut to score")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    project = ProjectConfig()
    horizon = project.default_definition.horizon_days
    frame = modelling_frame(args.data, cfg, project)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    forward = observed[-args.forward :]
    cut = pd.Timestamp(observed[-args.forward - 1])
    t = time.perf_counter()
    outcome = train_pd_model(as_of_cut(frame, cut, horizon), cfg.to_params())
    train_s = time.perf_counter() - t
    rows = frame[frame["as_of"].isin(forward) & frame["label"].notna()]
    y = rows["label"].astype("int64").to_numpy()
    p = outcome.final_estimator.predict_proba(rows)[:, 1]
    result = {"model": classification_metrics(y, p)}
    truth_path = args.data / "truth.parquet"
    if truth_path.exists():
        truth = pd.read_parquet(truth_path)
        truth = truth.assign(
            debtor_id=truth["debtor_id"].astype("string"), as_of=pd.to_datetime(truth["month_end"])
        )
        keys = rows[["debtor_id", "as_of"]].assign(debtor_id=rows["debtor_id"].astype("string"))
        oracle = keys.merge(truth[["debtor_id", "as_of", "oracle_pd"]], on=["debtor_id", "as_of"], how="left")
        ok = oracle["oracle_pd"].notna().to_numpy()
        result["oracle"] = classification_metrics(y[ok], oracle["oracle_pd"].to_numpy()[ok].clip(0, 1))
    live = p[y == 0]
    out = {
        "benchmark": "train_forward",
        "data": str(args.data),
        "cut": str(cut.date()),
        "forward": [str(pd.Timestamp(s).date()) for s in (forward[0], forward[-1])],
        "rows": int(len(rows)),
        "defaults": int(y.sum()),
        "train_s": round(train_s, 1),
        "kind": getattr(outcome, "kind", "lightgbm"),
        "calibration": outcome.calibration.method,
        "trees": outcome.best_iteration,
        "distinct_pd_non_default": int(np.unique(live).size),
        **{
            name: {k: round(m[k], 4) for k in ("auc", "logloss", "ece", "brier", "capture_5pct")}
            for name, m in result.items()
        },
        "test_metrics_reported": {k: round(outcome.metrics[k], 4) for k in ("auc", "logloss", "ece")},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
