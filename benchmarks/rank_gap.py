"""Which live debtors the model's PD puts in the queue's top 20 % that the true PD does not, and the
reverse (session 27, issues 9 and 11).

    nice python benchmarks/rank_gap.py BT1 BT2 ... [--json out.json]

Each ``BT`` is an ``ews backtest --rows --out BT`` folder (``backtest.json``, ``backtest_rows.parquet``;
the truth file named in its settings, ``oracle_pd`` per debtor and month-end). The book's name is the
folder above ``BT``; when that folder (or its parent) holds ``train.log``, the PD model's kind and the
all-labelled choice (``rollrate.all_labelled``: the inner folds' defaults, LightGBM - roll-rate
log-loss with its interval) are read from it.

On the live queue rows of the month-ends with an observed horizon (overdue, not in default; default
queue settings), two priorities that differ only in the PD: the model's PD x open balance x LGD x
(1 + DPD / 90) and the true PD x the same. Per month-end the top ceil(20 %) of each. Groups:

- ``model_only``: in the model's top 20 %, not in the true PD's (they hold the places);
- ``truth_only``: in the true PD's top 20 %, not in the model's (the ones the model misses);
- ``both``: in both.

For each group: rows, defaulted rows, share of the queue's bad balance, the state (days past due
1-30 / 31-60 / 61-89), the medians of days past due, the model's and the true PD's percentile in the
month's queue, the balance percentile and the ledger features as of T the feature engine builds
(days late over 90 / 365 days, days since the last payment and the last invoice, tenure, worst DPD
over 180 days, overdue share, paid to invoiced over 90 days). Then, inside each state, the AUC of
the default label (queue rows) of the model's PD, the true PD and each of those features (the share
of the ranking a feature could add inside a state; a feature whose AUC is below 0.5 ranks the other
way round).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

FEATURES = (
    "dpd_max_180d",
    "overdue_share",
    "days_late_mean_90d",
    "days_late_mean_365d",
    "days_late_trend_90_365",
    "days_since_last_payment",
    "days_since_last_invoice",
    "paid_to_invoiced_90d",
    "payment_count_90d",
    "tenure_days",
    "late30_count_180d",
    "overdue_invoice_count",
    "dpd_mean_overdue",
)
"""Ledger features as of T described per group and ranked inside each state."""

STATES = ((1, 30, "1-30"), (31, 60, "31-60"), (61, 89, "61-89"))


def train_notes(book: Path) -> dict[str, object]:
    """The model kind and the all-labelled choice read from ``train.log`` beside ``book``."""
    for log in (book / "train.log", book.parent / "train.log"):
        if log.exists():
            break
    else:
        return {}
    text = log.read_text(errors="replace")
    out: dict[str, object] = {}
    kind = re.search(r"challenger is the (\S+) model", text)
    if kind:
        out["model"] = kind.group(1)
    if "roll-rate" in text and "model: roll-rate" in text:
        out["model"] = "roll-rate"
    m = re.search(r"inner folds hold (\d+) defaults", text)
    if m:
        out["fold_defaults"] = int(m.group(1))
    m = re.search(r"\((\d[\d,]*) rows, (\d+) defaults; evaluated", text)
    if m:
        out["fold_defaults"] = int(m.group(2))
    m = re.search(
        r"log-loss ([-+][\d.]+) \[([-+][\d.]+), ([-+][\d.]+)\], AUC within folds ([-+][\d.]+) \[([-+][\d.]+), ([-+][\d.]+)\]",
        text,
    )
    if m:
        out["fold_logloss"] = [float(m.group(k)) for k in (1, 2, 3)]
        out["fold_auc"] = [float(m.group(k)) for k in (4, 5, 6)]
    m = re.search(r"only the roll-rate model was tried: ([^(]*)", text)
    if m:
        out["all_labelled"] = "only roll-rate: " + " ".join(m.group(1).split())
    for pat in (
        r"LightGBM has the lower pooled fold log-loss",
        r"LightGBM's pooled fold log-loss is not lower",
    ):
        if re.search(pat, text):
            out["all_labelled"] = pat
    if re.search(r"fewer than \d+ \(rollrate.all_labelled_min_fold_defaults\)", text):
        out["all_labelled"] = "too few fold defaults"
    return out


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    ok = np.isfinite(s)
    if ok.sum() < 2 or len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], s[ok]))


def book_rank(folder: Path) -> dict:
    from benchmarks.queue_stress import top_mask
    from models.queue_key import queue_orders
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    meta = json.loads((folder / "backtest.json").read_text())
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    t = pd.read_parquet(meta["settings"]["truth"], columns=["debtor_id", "month_end", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    live = rows.loc[rows["horizon_observed"] & ~rows["in_default"].astype(bool)]
    q = live.loc[live["overdue_amount"].fillna(0.0) > QueueConfig().min_overdue].reset_index(drop=True)
    q = q.merge(t, on=["debtor_id", "as_of"], how="left")
    q = with_features(q, Path(meta["settings"]["data"]))
    qc = QueueConfig()
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    mpd, tpd = q["pd"].to_numpy(dtype="float64"), q["oracle_pd"].fillna(0.0).to_numpy()
    model_top = top_mask(q, queue_orders(q, mpd * ob * lgd * w, mpd * ob * lgd))
    truth_top = top_mask(q, queue_orders(q, tpd * ob * lgd * w, None))
    y = (q["label"].fillna(0).astype(int) == 1).to_numpy()
    bad = np.where(y, ob, 0.0)
    pct = lambda v: pd.Series(v, index=q.index).groupby(q["as_of"]).rank(pct=True).to_numpy()  # noqa: E731
    extra = {"model_pd_pct": pct(mpd), "true_pd_pct": pct(tpd), "balance_pct": pct(ob)}
    dpd = q["dpd"].fillna(0.0).to_numpy()
    state = np.select([dpd <= 30, dpd <= 60], ["1-30", "31-60"], "61-89")

    def group(m: np.ndarray) -> dict:
        if not m.any():
            return {"rows": 0}
        s = q.loc[m]
        g = {
            "rows": int(m.sum()),
            "defaulted": int(y[m].sum()),
            "bad_balance_share": float(bad[m].sum() / bad.sum()) if bad.sum() else None,
            "state_share": {k: float((state[m] == k).mean()) for _, _, k in STATES},
            "dpd_median": float(np.median(dpd[m])),
            **{f"{k}_median": float(np.median(v[m])) for k, v in extra.items()},
            "model_pd_median": float(np.median(mpd[m])),
            "true_pd_median": float(np.median(tpd[m])),
            "stopped_share": float((tpd[m] >= 0.999).mean()),
        }
        for c in FEATURES:
            if c in s.columns:
                v = pd.to_numeric(s[c], errors="coerce")
                g[f"{c}_median"] = float(v.median()) if v.notna().any() else None
        return g

    within = {}
    for _, _, k in STATES:
        m = state == k
        d = {
            "rows": int(m.sum()),
            "defaulted": int(y[m].sum()),
            "model_pd": _auc(y[m], mpd[m]),
            "true_pd": _auc(y[m], tpd[m]),
        }
        for c in FEATURES:
            if c in q.columns:
                d[c] = _auc(y[m], pd.to_numeric(q.loc[m, c], errors="coerce").to_numpy(dtype="float64"))
        within[k] = d
    return {
        "book": folder.parent.name,
        **train_notes(folder.parent),
        "queue_rows": int(len(q)),
        "defaulted": int(y.sum()),
        "groups": {
            "model_only": group(model_top & ~truth_top),
            "truth_only": group(truth_top & ~model_top),
            "both": group(model_top & truth_top),
        },
        "within_state_auc": within,
        "auc_queue": {"model_pd": _auc(y, mpd), "true_pd": _auc(y, tpd)},
    }


def with_features(q: pd.DataFrame, data: Path) -> pd.DataFrame:
    """``q`` with the :data:`FEATURES` the feature engine builds as of each row's month-end."""
    from features.params import FeatureParams
    from pipelines.adapters.files import read_portfolio
    from pipelines.config import load_config
    from pipelines.config.project import ProjectConfig
    from pipelines.engine import Book, bucket_result

    project = load_config(ROOT / "conf" / "ews.yaml", expect=ProjectConfig)
    definition = project.default_definition.to_params()
    book = Book.in_memory(read_portfolio(data), 4_000_000)
    dates = [pd.Timestamp(d) for d in sorted(q["as_of"].unique())]
    parts = []
    for k in range(book.buckets):
        built = bucket_result(book, k, dates, definition, FeatureParams(), False, None)
        if built is not None:
            parts.append(built.features)
    f = pd.concat(parts, ignore_index=True)
    f["debtor_id"] = f["debtor_id"].astype("string")
    cols = [c for c in FEATURES if c in f.columns and c not in q.columns]
    return q.merge(f[["debtor_id", "as_of", *cols]], on=["debtor_id", "as_of"], how="left")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="ews backtest --rows output folders")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    books = []
    for f in args.folders:
        b = book_rank(f)
        books.append(b)
        print(
            f"{b['book']}: {b.get('model', '?')}, all-labelled {b.get('all_labelled', '?')} "
            f"(fold defaults {b.get('fold_defaults', '-')}, log-loss {b.get('fold_logloss', '-')}); "
            f"{b['queue_rows']:,} queue rows, {b['defaulted']} defaulted; queue AUC model "
            f"{b['auc_queue']['model_pd']:.3f} / true {b['auc_queue']['true_pd']:.3f}"
        )
        for name, g in b["groups"].items():
            if not g["rows"]:
                print(f"  {name}: 0 rows")
                continue
            st = "/".join(f"{v:.2f}" for v in g["state_share"].values())
            feats = ", ".join(
                f"{c} {g[f'{c}_median']:.1f}" for c in FEATURES if g.get(f"{c}_median") is not None
            )
            print(
                f"  {name}: {g['rows']} rows, {g['defaulted']} defaulted ({g['bad_balance_share']:.3f} of the bad "
                f"balance); states {st}; DPD {g['dpd_median']:.0f}; model PD pct {g['model_pd_pct_median']:.2f}, "
                f"true pct {g['true_pd_pct_median']:.2f}, balance pct {g['balance_pct_median']:.2f}, stopped "
                f"{g['stopped_share']:.2f}; {feats}"
            )
        for k, d in b["within_state_auc"].items():
            aucs = ", ".join(
                f"{c} {v:.2f}" for c, v in d.items() if c not in ("rows", "defaulted") and np.isfinite(v)
            )
            print(f"  AUC inside {k} ({d['rows']} rows, {d['defaulted']} defaulted): {aucs}")
    text = json.dumps({"books": books}, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text[:200] + " ...")


if __name__ == "__main__":
    main()
