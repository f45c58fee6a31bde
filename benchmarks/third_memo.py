"""Why ews learns the third simulator's sudden insolvencies in sample and not forward (s31-third, issue 9).

On a ``benchmarks/third_book.py`` book, with the cut of ``benchmarks/third.py`` (``--forward`` observed
month-ends before the last) and what a user had at the cut:

1. ews's own training (``models.train.train_pd_model``, ``conf/train.yaml``): AUC in sample (the
   labelled rows it trained on) and forward, overall, on the retail (sudden insolvency) route and on
   the slow route, and the retail route's mean PD against its realised rate; the oracle's the same;
2. SHAP (LightGBM ``pred_contrib``, log-odds) of the shipped model on the in-sample retail rows: mean
   of the defaulting rows minus mean of the others, per feature, in sample and forward;
3. the debtors table's credit limit against what the debtor's own invoicing of the last 365 days
   implies (365-day invoicing / 6: a debtor whose limit is its whole-history yearly invoicing / 6 and
   who invoiced steadily sits near 1) and ``utilisation``, medians, retail rows by label, in sample and
   forward;
4. ablations with ews's LightGBM settings and its tree count (raw probability): features dropped, and
   ``min_child_samples`` / ``num_leaves`` / ``colsample_bytree`` changed.

    nice -n 10 .venv/bin/python benchmarks/third_memo.py --book /work/bench/s31-third/books/third-2000x36-s3
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.train import _lgbm, prepare_matrix, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
TRUTH = ["route", "state", "oracle_pd"]


def figures(name: str, rows: dict[str, pd.DataFrame], p: dict[str, np.ndarray]) -> None:
    out = []
    for part in ("in", "fwd"):
        d, q = rows[part], p[part]
        y, r = d["label"].astype(int).to_numpy(), (d["route"] == "sudden").to_numpy()
        out.append(
            f"{part} AUC {roc_auc_score(y, q):.4f} LL {log_loss(y, np.clip(q, 1e-6, 1 - 1e-6)):.5f} retail "
            f"{roc_auc_score(y[r], q[r]):.4f} slow {roc_auc_score(y[~r], q[~r]):.4f} retail PD "
            f"{q[r].mean():.4f} / {y[r].mean():.4f}"
        )
    print(f"  {name:44s} " + " | ".join(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=Path, required=True)
    ap.add_argument("--forward", type=int, default=6)
    args = ap.parse_args()
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    params = cfg.to_params()
    _, f = regimes.modelling_frame(args.book, cfg)
    f = f.assign(debtor_id=f["debtor_id"].astype(str), as_of=pd.to_datetime(f["as_of"]))
    t = pd.read_parquet(args.book / "truth.parquet")
    t = t.assign(debtor_id=t["debtor_id"].astype(str), as_of=pd.to_datetime(t["month_end"]))
    observed = sorted(f.loc[f["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(f, cut, regimes.HORIZON_DAYS)
    rows = {
        "in": past[past["label"].notna()].merge(t[[*KEYS, *TRUTH]], on=KEYS, how="left"),
        "fwd": f[f["as_of"].isin(observed[-args.forward :]) & f["label"].notna()].merge(
            t[[*KEYS, *TRUTH]], on=KEYS, how="left"
        ),
    }
    tr = rows["in"]
    r_pos = tr.loc[(tr["route"] == "sudden") & (tr["label"] == 1), "debtor_id"]
    print(
        f"{args.book.name}: cut {cut.date()}, {len(tr):,} labelled rows at the cut, {int(tr['label'].sum())} "
        f"defaults, retail {r_pos.size} ({r_pos.nunique()} debtors)",
        flush=True,
    )
    out = train_pd_model(past, params)
    feats, cats = out.feature_names, out.categories
    print(f"\n1. ews ({out.kind}, {out.best_iteration} trees), calibrated PD; the oracle", flush=True)
    figures("ews", rows, {k: out.final_estimator.predict_proba(d)[:, 1] for k, d in rows.items()})
    figures("oracle", rows, {k: d["oracle_pd"].to_numpy() for k, d in rows.items()})
    if out.kind == "lightgbm":
        print("\n2. SHAP of the shipped LightGBM, retail rows: defaulting - other, log-odds (top 12)")
        diff = {}
        for part, d in rows.items():
            c = out.model.booster_.predict(prepare_matrix(d, feats, cats), pred_contrib=True)[:, :-1]
            c = pd.DataFrame(c, columns=feats)
            y, r = d["label"].astype(int).to_numpy(), (d["route"] == "sudden").to_numpy()
            diff[part] = c[r & (y == 1)].mean() - c[r & (y == 0)].mean()
        table = pd.DataFrame(diff).sort_values("in", ascending=False)
        print(table.head(12).round(3).to_string(), f"\n  sum in sample {table['in'].sum():.2f}", flush=True)
    print("\n3. retail rows, medians: limit / (365-day invoicing / 6), utilisation")
    for part, d in rows.items():
        r = d[d["route"] == "sudden"]
        ratio = r["credit_limit"] / (r["invoice_amount_365d"].where(r["invoice_amount_365d"] > 0) / 6)
        g = r.assign(ratio=ratio, y=r["label"].astype(int)).groupby("y")
        print(f"  {part}:", g.agg(rows=("y", "size"), limit_ratio=("ratio", "median"),
                                  utilisation=("utilisation", "median")).round(3).to_dict("index"))  # fmt: skip
    print("\n4. ews's LightGBM settings and tree count, raw probability", flush=True)
    lg = params.lgbm
    n_def = int(tr["label"].sum())

    def drop(*gone: str) -> list[str]:
        return [x for x in feats if x not in gone]

    variants = [
        ("all features", lg, feats),
        ("- tenure_days", lg, drop("tenure_days")),
        ("- credit_limit", lg, drop("credit_limit")),
        ("- credit_limit - utilisation", lg, drop("credit_limit", "utilisation")),
        ("min_child_samples 400", dataclasses.replace(lg, min_child_samples=400), feats),
        (
            f"min_child_samples {max(100, n_def // 2)} (defaults / 2)",
            dataclasses.replace(lg, min_child_samples=max(100, n_def // 2)),
            feats,
        ),  # fmt: skip
        ("num_leaves 4", dataclasses.replace(lg, num_leaves=4), feats),
        ("colsample_bytree 0.4", dataclasses.replace(lg, colsample_bytree=0.4), feats),
    ]
    y_in = tr["label"].astype(int).to_numpy()
    for name, lp, fs in variants:
        c = {k: v for k, v in cats.items() if k in fs}
        m = _lgbm(lp, out.best_iteration, params.seed).fit(prepare_matrix(tr, fs, c), y_in)
        figures(name, rows, {k: m.predict_proba(prepare_matrix(d, fs, c))[:, 1] for k, d in rows.items()})


if __name__ == "__main__":
    main()
