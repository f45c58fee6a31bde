"""Why the roll-rate model trails the 16-feature baseline on the unseen simulator's small books (issue 9).

For each book already run by ``benchmarks/unseen.py --variant small --seed S --work W --scores F``
(same cut, same forward rows; the scores file holds ``ews`` and ``baseline``), this:

1. refits the baseline (``benchmarks/baseline.py``: plain LightGBM, same rows as ``regimes.py``)
   without one group of its 16 features at a time, and scores the same forward rows: which inputs
   carry the baseline's capture@5 % and Brier (``--boot`` paired debtor bootstrap against the full
   baseline);
2. lists the forward defaulters: the simulator's latent state at the month-end (``H`` healthy, ``D``
   distressed, ``S`` stopped), ews's state (days-past-due bucket of ``dpd_current_max``), whether each
   model puts the row in its top 5 %, and the baseline's inputs for them.

    nice -n 19 .venv/bin/python benchmarks/unseen_small_why.py --work W --scores-glob 'W/scores-small-s{seed}.parquet' \
        --seeds 1,2,3,4,5,6 --json why.json [--rows rows.parquet] [--preds-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import unseen  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
GROUPS = {
    "segment": ["segment"],
    "recency": ["days_since_pay", "days_since_inv"],
    "invoicing": ["inv_cnt_90", "inv_cnt_365", "inv_amt_90", "inv_amt_365"],
    "payments": ["pay_amt_90", "pay_amt_365"],
    "balance": ["balance", "balance_to_inv_365", "overdue_proxy", "overdue_to_inv_90"],
    "lateness": ["late_mean_180", "late_max_365", "partial_share_365"],
}


def bucket(dpd: float) -> str:
    if pd.isna(dpd) or dpd <= 0:
        return "current"
    return "1-30" if dpd <= 30 else "31-60" if dpd <= 60 else "61-89"


def one_book(seed: int, args: argparse.Namespace, cfg: TrainConfig) -> dict:
    data, _ = unseen.book("small", seed, args.work, None, None)
    portfolio, frame = regimes.modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, regimes.HORIZON_DAYS)
    before = past[past["label"].notna()]
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    scores = pd.read_parquet(args.scores_glob.format(seed=seed))
    scores = scores[scores["oracle"].notna()].reset_index(drop=True)
    y = scores["y"].to_numpy()
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = scores[KEYS].merge(base, on=KEYS, how="left")
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    names = list(BASELINE_FEATURES)

    def fit(keep: list[str]) -> np.ndarray:
        kc = {k: v for k, v in cats.items() if k in keep}
        model = fit_baseline(prepare_matrix(b_train, keep, kc), b_train["label"].astype(int).to_numpy())
        return model.predict_proba(prepare_matrix(b_test, keep, kc))[:, 1]

    preds = {"baseline_refit": fit(names)}
    same = float(np.max(np.abs(preds["baseline_refit"] - scores["baseline"].to_numpy())))
    for g, cols in GROUPS.items():
        preds[f"baseline-{g}"] = fit([c for c in names if c not in cols])
    preds["ews"] = scores["ews"].to_numpy()
    preds["baseline"] = scores["baseline"].to_numpy()
    if args.preds_dir:  # every variant's forward scores, for benchmarks/pooled_scores.py
        args.preds_dir.mkdir(parents=True, exist_ok=True)
        scores[["debtor_id", "as_of", "y", "oracle"]].assign(**preds).to_parquet(
            args.preds_dir / f"s{seed}.parquet"
        )
    ci = bootstrap_intervals(
        y,
        preds,
        scores["debtor_id"].to_numpy(),
        pairs=[(k, "baseline") for k in preds if k.startswith("baseline-")] + [("ews", "baseline")],
        n_boot=args.boot,
        seed=0,
    )
    metrics = {}
    for k, p in preds.items():
        m = classification_metrics(y, p)
        metrics[k] = {x: m[x] for x in ("auc", "capture_5pct", "brier", "logloss")}
        if f"{k}-baseline" in ci:
            metrics[k]["minus_baseline_ci"] = {
                x: list(ci[f"{k}-baseline"][x]) for x in ("capture_5pct", "brier")
            }
    # the forward defaulters
    top = math.ceil(0.05 * len(y))
    rank = {
        k: pd.Series(-scores[k].to_numpy()).rank(method="first").to_numpy()
        for k in ("ews", "baseline", "oracle")
    }
    dpd = scores[KEYS].merge(frame[[*KEYS, "dpd_current_max"]], on=KEYS, how="left")["dpd_current_max"]
    rows = scores.assign(
        ews_state=[bucket(v) for v in dpd],
        ews_top=rank["ews"] <= top,
        base_top=rank["baseline"] <= top,
        oracle_top=rank["oracle"] <= top,
    )
    rows = rows.merge(base, on=KEYS, how="left")
    rows["seed"] = seed
    return {
        "seed": seed,
        "cut": str(cut.date()),
        "refit_max_abs_diff": same,
        "metrics": metrics,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--scores-glob", required=True, help="path with {seed}")
    ap.add_argument("--seeds", default="1,2,3,4,5,6")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rows", type=Path, default=None, help="write the forward rows with flags (parquet)")
    ap.add_argument("--chronic-state", default="31-60", help="the ews state split by usual lateness")
    ap.add_argument("--chronic-days", type=float, default=25.0)
    ap.add_argument("--preds-dir", type=Path, default=None, help="write each book's variant scores here")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    out, frames = [], []
    for s in [int(x) for x in args.seeds.split(",")]:
        r = one_book(s, args, cfg)
        frames.append(r.pop("rows"))
        out.append(r)
        print(f"seed {s}: cut {r['cut']}, baseline refit max |diff| {r['refit_max_abs_diff']:.2e}")
        for k, m in r["metrics"].items():
            c = m.get("minus_baseline_ci", {})
            print(
                f"  {k:22s} AUC {m['auc']:.4f} cap5 {m['capture_5pct']:.3f} Brier {m['brier']:.5f}"
                f" ll {m['logloss']:.4f}"
                + (f"  - baseline cap {c['capture_5pct']} Brier {c['brier']}" if c else "")
            )
    rows = pd.concat(frames, ignore_index=True)
    d = rows[rows["y"] == 1]
    print(
        "\nforward defaulters by latent state x ews state: n, in ews top 5 %, in baseline top 5 %, in oracle top 5 %"
    )
    t = d.groupby(["state", "ews_state"]).agg(
        n=("y", "size"), ews=("ews_top", "sum"), base=("base_top", "sum"), oracle=("oracle_top", "sum")
    )
    print(t.to_string())
    print("\nall forward rows in each top 5 % by ews state (defaulters / rows)")
    for k in ("ews_top", "base_top", "oracle_top"):
        g = rows[rows[k]].groupby("ews_state")["y"].agg(["sum", "size"])
        print(k, g.to_dict("index"))
    print(
        "\nper ews state: rows / defaults, AUC inside the state of each score and input (NaN, inf: the state's median)"
    )
    inputs = [
        "ews",
        "baseline",
        "oracle",
        "late_mean_180",
        "late_max_365",
        "days_since_pay",
        "days_since_inv",
    ]
    for st, s in rows.groupby("ews_state"):
        if s["y"].nunique() < 2:
            continue
        aucs = {}
        for c in inputs:
            v = s[c].replace([np.inf, -np.inf], np.nan)
            aucs[c] = round(float(roc_auc_score(s["y"], v.fillna(v.median()))), 3)
        print(f"  {st:8s} {len(s):6,d} / {int(s['y'].sum()):3d}  {aucs}")
    print(
        f"\nrows {args.chronic_state} DPD: paid > {args.chronic_days} days late on average in the last 180 days or not"
    )
    s = rows[rows["ews_state"] == args.chronic_state]
    s = s.assign(usual_late=s["late_mean_180"] > args.chronic_days)
    t = s.groupby("usual_late").agg(
        rows=("y", "size"),
        defaults=("y", "sum"),
        ews_mean=("ews", "mean"),
        baseline_mean=("baseline", "mean"),
        oracle_mean=("oracle", "mean"),
        in_ews_top=("ews_top", "sum"),
        in_baseline_top=("base_top", "sum"),
    )
    print(t.to_string())
    cols = ["days_since_pay", "days_since_inv", "inv_cnt_90", "inv_amt_90", "balance", "overdue_proxy"]
    print("\ndefaulters: baseline-only vs ews-only catches, medians of the baseline's inputs")
    for name, m in (
        ("baseline only", d["base_top"] & ~d["ews_top"]),
        ("ews only", d["ews_top"] & ~d["base_top"]),
        ("both", d["ews_top"] & d["base_top"]),
        ("neither", ~d["ews_top"] & ~d["base_top"]),
    ):
        sub = d[m]
        print(
            f"  {name:14s} n={len(sub):3d} states {sub['state'].value_counts().to_dict()} ews {sub['ews_state'].value_counts().to_dict()}"
        )
        print(
            "     ", sub[cols].median().round(1).to_dict(), "segment", sub["segment"].value_counts().to_dict()
        )
    if args.rows:
        rows.to_parquet(args.rows)
    if args.json:
        args.json.write_text(json.dumps({"books": out}, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
