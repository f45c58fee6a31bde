"""Dated master data against one snapshot, on the third simulator (s32-master; issue 9).

A ``benchmarks/third_book.py --limit-history`` book holds a credit team's dated limits
(``debtor_history.parquet``: opening limit, yearly reviews, a cut to 0 on the default day). With the
cut of ``benchmarks/third.py`` (``--forward`` observed month-ends before the last), ews's training
(``pipelines.flows.train.fit_pd``, ``conf/train.yaml``) on what a user had at the cut, two ways:

- ``snapshot``: the debtors table as exported on the cut day (each debtor's limit valid then, the cuts
  of the debtors that defaulted before it included), applied to every past month-end: what ews did
  before ``debtor_history``;
- ``history``: the dated history up to the cut day; each month-end reads the limit valid then.

Both models score the same forward month-ends, whose features read the limit valid at each (what the
nightly of that day saw). Printed per arm: in-sample AUC (its own labelled training rows) and forward
AUC / log-loss / capture@5 %, forward AUC by route (retail = sudden insolvency, slow), the rank of
``credit_limit`` and ``utilisation`` by mean |SHAP| (LightGBM ``pred_contrib``) on the in-sample rows and
their SHAP mean of the defaulting rows minus the others; then ``history - snapshot`` forward with a
paired debtor-bootstrap 95 % interval (``--n-boot``). Ends with one JSON line (``--json``: also a file).

    nice -n 10 .venv/bin/python benchmarks/master_history.py --books 2000x36:13,2000x36:14 \\
        --work /work/bench/s32-master --json /work/bench/s32-master/master-explore.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import third_book  # noqa: E402
from model_decide import shipped_pd  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, fit_pd, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402

KEYS = ["debtor_id", "as_of"]
MET = ("auc", "logloss", "brier", "capture_5pct")


def book_dir(spec: str, work: Path) -> Path:
    """``DEBTORSxMONTHS:SEED`` -> a ``--limit-history`` third book under ``work/books`` (written once)."""
    size, seed = spec.split(":")
    debtors, months = (int(v) for v in size.split("x"))
    out = work / "books" / f"third-{debtors}x{months}-s{seed}-dated"
    if not (out / "generate-summary.json").exists():
        third_book.write_book(debtors, months, int(seed), out, dated_limits=True)
    return out


def snapshot_on(debtors: pd.DataFrame, history: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The debtors table as a master-data export of ``day`` holds it: each limit valid that day."""
    valid = history[history["valid_from"] <= day].drop_duplicates("debtor_id", keep="last")
    limit = valid.set_index("debtor_id")["credit_limit"].reindex(debtors["debtor_id"].astype(str))
    return debtors.assign(credit_limit=limit.to_numpy())


def frames(book: Path, cfg: TrainConfig, cut_of) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """(point-in-time frame over every month-end, snapshot-at-the-cut frame up to the cut, the cut)."""
    portfolio = ingest_dir(book, None).portfolio
    history = pd.read_parquet(book / "debtor_history.parquet")
    history = history.assign(debtor_id=history["debtor_id"].astype("string"))
    dates = snapshot_dates(portfolio, cfg)
    project = ProjectConfig()
    pit = build_dataset(dataclasses.replace(portfolio, debtor_history=history), dates, project)
    cut = cut_of(pit)
    snap = snapshot_on(portfolio.debtors, history.assign(debtor_id=history["debtor_id"].astype(str)), cut)
    early = [d for d in dates if d <= cut]
    frame = build_dataset(dataclasses.replace(portfolio, debtors=snap, debtor_history=None), early, project)
    for name, f in (("history", pit), ("snapshot", frame)):  # kept for later checks (not read back)
        f.to_parquet(book / f"frame-{name}.parquet")
    return pit, frame, cut


def shap_ranks(outcome, rows: pd.DataFrame) -> dict:
    """Rank (1 = largest) by mean |SHAP| and the defaulting - other mean SHAP of the limit features."""
    if outcome.kind != "lightgbm":
        return {"kind": outcome.kind}
    X = prepare_matrix(rows, outcome.feature_names, outcome.categories)
    c = pd.DataFrame(
        outcome.model.booster_.predict(X, pred_contrib=True)[:, :-1], columns=outcome.feature_names
    )
    order = c.abs().mean().sort_values(ascending=False)
    y = rows["label"].astype(int).to_numpy()
    diff = c[y == 1].mean() - c[y == 0].mean()
    out = {"top5": [f"{k} {v:.3f}" for k, v in order.head(5).items()]}
    for name in ("credit_limit", "utilisation"):
        if name in order.index:
            out[name] = {
                "rank": int(order.index.get_loc(name)) + 1,
                "mean_abs": round(float(order[name]), 4),
                "pos_minus_neg": round(float(diff[name]), 3),
            }
    return out


def auc_by_route(rows: pd.DataFrame, p: np.ndarray, truth: pd.DataFrame) -> dict:
    route = rows[KEYS].merge(truth, on=KEYS, how="left")["route"].to_numpy()
    y = rows["label"].astype(int).to_numpy()
    out = {}
    for name in ("sudden", "slow"):
        r = route == name
        if 0 < y[r].sum() < r.sum():
            out[name] = round(float(roc_auc_score(y[r], p[r])), 4)
    return out


def one_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    book = book_dir(spec, args.work)
    definition = ProjectConfig().default_definition

    def cut_of(frame: pd.DataFrame) -> pd.Timestamp:
        observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
        return pd.Timestamp(observed[-args.forward - 1])

    pit, snap, cut = frames(book, cfg, cut_of)
    observed = sorted(pit.loc[pit["horizon_observed"], "as_of"].unique())
    fwd = pit[pit["as_of"].isin(observed[-args.forward :]) & pit["label"].notna()].reset_index(drop=True)
    truth = pd.read_parquet(book / "truth.parquet")
    truth = truth.assign(
        debtor_id=truth["debtor_id"].astype("string"), as_of=pd.to_datetime(truth["month_end"])
    )
    truth = truth[[*KEYS, "route", "oracle_pd"]]
    y = fwd["label"].astype(int).to_numpy()
    r: dict = {
        "book": spec,
        "cut": str(cut.date()),
        "forward_rows": len(fwd),
        "forward_defaults": int(y.sum()),
    }
    pds = {}
    for arm, frame in (("snapshot", snap), ("history", pit)):
        past = as_of_cut(frame, cut, definition.horizon_days)
        outcome = fit_pd(past, cfg, definition.horizon_days, definition)
        seen = past[past["label"].notna()].reset_index(drop=True)
        p_in = shipped_pd(outcome, seen)
        p = shipped_pd(outcome, fwd)
        pds[arm] = p
        m = classification_metrics(y, p)
        r[arm] = {
            "kind": outcome.kind,
            "trees": getattr(outcome, "best_iteration", None),
            "in_sample_auc": round(float(roc_auc_score(seen["label"].astype(int), p_in)), 4),
            "in_sample_by_route": auc_by_route(seen, p_in, truth),
            "forward": {k: round(float(m[k]), 5) for k in MET},
            "forward_by_route": auc_by_route(fwd, p, truth),
            "shap": shap_ranks(outcome, seen),
        }
        print(f"  {spec} {arm}: {json.dumps(r[arm])}", flush=True)
    oracle = fwd[KEYS].merge(truth, on=KEYS, how="left")["oracle_pd"].clip(0, 1).to_numpy()
    ok = ~np.isnan(oracle)
    r["oracle_forward_auc"] = round(float(roc_auc_score(y[ok], oracle[ok])), 4)
    groups = (spec + "|" + fwd["debtor_id"].astype(str)).to_numpy()
    ci = bootstrap_intervals(y, pds, groups, pairs=[("history", "snapshot")], n_boot=args.n_boot)
    r["history_minus_snapshot"] = {
        k: {
            "point": round(r["history"]["forward"][k] - r["snapshot"]["forward"][k], 5),
            "ci": [round(v, 5) for v in ci["history-snapshot"][k]],
        }
        for k in MET
    }
    r["seconds"] = round(time.perf_counter() - t0, 1)
    print(
        f"== {spec} cut {r['cut']}: history - snapshot {json.dumps(r['history_minus_snapshot'])}", flush=True
    )
    return r, {"y": y, "g": groups, **pds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated DEBTORSxMONTHS:SEED (third simulator)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/master-history"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results, pooled = [], []
    for spec in args.books.split(","):
        r, rows = one_book(spec, args, cfg)
        results.append(r)
        pooled.append(rows)
    out: dict = {"books": results}
    if len(pooled) > 1:
        cat = {k: np.concatenate([p[k] for p in pooled]) for k in pooled[0]}
        pds = {k: cat[k] for k in ("history", "snapshot")}
        ci = bootstrap_intervals(cat["y"], pds, cat["g"], pairs=[("history", "snapshot")], n_boot=args.n_boot)
        m = {k: classification_metrics(cat["y"], p) for k, p in pds.items()}
        out["pooled"] = {
            k: {
                "point": round(float(m["history"][k] - m["snapshot"][k]), 5),
                "ci": [round(v, 5) for v in ci["history-snapshot"][k]],
            }
            for k in MET
        }
        print(f"== pooled history - snapshot {json.dumps(out['pooled'])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
