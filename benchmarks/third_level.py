"""Level and memorisation checks on a ``benchmarks/third_book.py`` book after ``benchmarks/third.py`` ran it.

Prints, with the cut of ``benchmarks/third.py`` (``--forward`` observed month-ends before the last):

1. the default rate by the simulator's latent group (slow route H / S1 / S2 / S3 / X, retail R) on the
   labels a user had at the cut and on the 6 forward month-ends, with the mean oracle PD;
2. the stopped (X) forward rows by overdue (``dpd_current_max`` > 0) and label: ews's mean PD (its
   backtest rows), the oracle's, days since the last payment and days past due (medians);
3. in-sample vs forward for plain LightGBM on ews's features (``baseline.plain_lgbm``: 300 trees, 31
   leaves) and a shallow one (100 trees, 4 leaves, 400 rows a leaf): AUC overall and on the retail
   (sudden insolvency) route, and the retail route's mean PD against its realised rate.

    nice -n 19 .venv/bin/python benchmarks/third_level.py --book /work/bench/s30-third/books/third-2000x36-s1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightgbm as lgb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
from baseline import plain_lgbm  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from features.catalog import CATALOG  # noqa: E402
from models.evaluate import classification_metrics  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=Path, required=True)
    ap.add_argument("--forward", type=int, default=6)
    args = ap.parse_args()
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    _, f = regimes.modelling_frame(args.book, cfg)
    f = f.assign(debtor_id=f["debtor_id"].astype(str), as_of=pd.to_datetime(f["as_of"]))
    t = pd.read_parquet(args.book / "truth.parquet")
    t = t.assign(debtor_id=t["debtor_id"].astype(str), as_of=pd.to_datetime(t["month_end"]))
    f = f.merge(t[[*KEYS, "route", "state", "oracle_pd"]], on=KEYS)
    f["group"] = f["state"].where(f["route"] == "slow", "retail_" + f["state"])
    observed = sorted(f.loc[f["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(f, cut, 90)
    train = past[past["label"].notna()]
    fwd = f[f["as_of"].isin(observed[-args.forward :]) & f["label"].notna()]
    print(f"book {args.book.name}, cut {cut.date()}")
    for name, d in (("labels known at the cut", train), ("forward", fwd)):
        g = d.assign(y=d["label"].astype(int)).groupby("group")
        out = g.agg(
            rows=("y", "size"), defaults=("y", "sum"), rate=("y", "mean"), oracle=("oracle_pd", "mean")
        )
        print(
            f"\n1. {name} ({d['as_of'].min().date()}..{d['as_of'].max().date()}), rate {d['label'].astype(int).mean():.4f}"
        )
        print(out.round(4).to_string())
    rows = pd.read_parquet(args.book / "proj" / "bt" / "backtest_rows.parquet")
    rows = rows.assign(debtor_id=rows["debtor_id"].astype(str), as_of=pd.to_datetime(rows["as_of"]))
    x = fwd[fwd["state"] == "X"].merge(rows[[*KEYS, "pd"]], on=KEYS)
    x = x.assign(overdue=x["dpd_current_max"] > 0, y=x["label"].astype(int))
    print("\n2. stopped (X) forward rows")
    print(
        x.groupby(["overdue", "y"])
        .agg(
            rows=("pd", "size"),
            ews_pd=("pd", "mean"),
            oracle=("oracle_pd", "mean"),
            days_since_payment=("days_since_last_payment", "median"),
            dpd=("dpd_current_max", "median"),
        )
        .round(3)
        .to_string()
    )
    feats = [c for c in f.columns if c in CATALOG] + ["segment", "country"]
    cats = {c: sorted(f[c].dropna().astype(str).unique()) for c in ("segment", "country")}
    y = train["label"].astype(int).to_numpy()
    models = {
        "plain 300 x 31": plain_lgbm(),
        "shallow 100 x 4, 400 a leaf": lgb.LGBMClassifier(
            n_estimators=100, learning_rate=0.05, num_leaves=4, min_child_samples=400, n_jobs=1, verbose=-1
        ),
    }
    print("\n3. in-sample vs forward (ews's features)")
    for name, m in models.items():
        m.fit(prepare_matrix(train, feats, cats), y)
        for part, d in (("in-sample", train), ("forward", fwd)):
            p = m.predict_proba(prepare_matrix(d, feats, cats))[:, 1]
            r = (d["route"] == "sudden").to_numpy()
            yy = d["label"].astype(int).to_numpy()
            print(
                f"  {name:28s} {part:9s} AUC {classification_metrics(yy, p)['auc']:.4f}, retail AUC "
                f"{classification_metrics(yy[r], p[r])['auc']:.4f}, retail mean PD {p[r].mean():.4f} "
                f"(realised {yy[r].mean():.4f})"
            )


if __name__ == "__main__":
    main()
