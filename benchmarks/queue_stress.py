"""Who the live collections queue misses on the stress books, and why (session 24, issue 11).

    nice python benchmarks/queue_stress.py diag BT1 BT2 ... [--features] [--json out.json]
    nice python benchmarks/queue_stress.py ceiling BT1 BT2 ... [--json out.json]
    nice python benchmarks/queue_stress.py compare BT1 BT2 ... --candidate no_dpd [--reps 400] [--json out.json]

Each ``BT`` is an ``ews backtest --compare-keys --rows --out BT`` folder (``backtest.json``,
``backtest_rows.parquet`` with ``pay_pd``; the generator's ``truth.parquet`` named in its settings,
with ``generate-summary.json`` in the folder above the truth file's or beside it; the book's name is
the folder above ``BT``). On the live queue rows of the month-ends with an observed horizon
(overdue, not in default), default queue settings (LGD 0.45, days-past-due weight 90), the key the
version chose at training (``settings.queue_key``):

- captures (``queue_capture_top20``, pooled) of the shipped priority and of the candidates the
  brief names: without the days-past-due factor (``no_dpd``: PD x open balance x LGD), the overdue
  amount as the exposure (``overdue_ead``), the oracle (true PD x open balance) and the oracle with
  the days-past-due factor (``oracle_dpd``), and the true PD in the priority of the shipped queue
  (``truepd_dpd``: true PD x open balance x LGD x the factor);
- the misses (defaulters in the oracle's top 20 % of a month-end's queue, not in the shipped top
  20 %), the debtors that hold their places (non-defaulters in the shipped top 20 %, not in the
  oracle's) and the caught defaulters, side by side: days past due, model / true PD, the debtor's
  health and its change over 1 and 3 months (the generator's latent state), stopped payers (true PD
  1), days to default, the factor (1 + DPD / 90), and how many of them the ``no_dpd`` order would
  move across the 20 % cut;
- per month-end: the captures, the queue's mean key PD / mean true PD / realised default rate, the
  generator's scheduled drift over the horizon (the shock state) and the misses' share;
- the live-debtor filter: the bad balance of live debtors outside the queue (not overdue).

``ceiling``: the ledger-observable ceiling (:func:`ceiling`). ``compare``: a candidate priority
against the shipped one with the pre-registered rule of session 24 (not significantly worse on any
book; the mean's interval above 0 or more books at >= 0.95 x the oracle). ``diag`` ends with one JSON
line only in ``--json``; ``ceiling`` and ``compare`` print it too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _drift_by_month(summary: Path) -> tuple[pd.Timestamp, np.ndarray] | None:
    """(first month-end, scheduled drift per month) of the generated book, from its summary."""
    from pipelines.synthetic.dynamics import downturn_drift
    from pipelines.synthetic.regimes import regime_params

    if not summary.exists():
        return None
    p = json.loads(summary.read_text())["params"]
    params = regime_params(p.get("regime", "base"), debtors=p["debtors"], months=p["months"], seed=p["seed"])
    start = pd.Timestamp(p["start"]) + pd.offsets.MonthEnd(0)
    return start, downturn_drift(params, params.months)


def load_queue(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(queue rows with truth columns, all live observed rows, backtest.json) of one backtest."""
    meta = json.loads((folder / "backtest.json").read_text())
    rows = pd.read_parquet(folder / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    truth_path = Path(meta["settings"]["truth"])
    t = pd.read_parquet(truth_path, columns=["debtor_id", "month_end", "health", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    t = t.sort_values(["debtor_id", "as_of"])
    g = t.groupby("debtor_id")["health"]
    t["dh1"] = t["health"] - g.shift(1)
    t["dh3"] = t["health"] - g.shift(3)
    live = rows.loc[rows["horizon_observed"] & ~rows["in_default"].astype(bool)].copy()
    live = live.merge(t, on=["debtor_id", "as_of"], how="left")
    for summary in (
        truth_path.parent / "generate-summary.json",
        truth_path.parent.parent / "gen" / "generate-summary.json",
    ):
        drift = _drift_by_month(summary)
        if drift is not None:
            start, d = drift
            m = ((live["as_of"].dt.year - start.year) * 12 + live["as_of"].dt.month - start.month).to_numpy()
            ahead = np.zeros(len(live))
            for k in (1, 2, 3):
                idx = m + k
                ok = (idx >= 0) & (idx < len(d))
                ahead[ok] += d[idx[ok]]
            past = np.zeros(len(live))
            for k in (0, -1, -2):
                idx = m + k
                ok = (idx >= 0) & (idx < len(d))
                past[ok] += d[idx[ok]]
            live["drift_ahead"], live["drift_past"] = ahead, past
            break
    else:
        live["drift_ahead"], live["drift_past"] = np.nan, np.nan
    # a default that is an insolvency event on its default date: the generator's sudden stops
    ev = None
    try:
        from pipelines.adapters.files import read_portfolio

        ev = read_portfolio(truth_path.parent).events
    except Exception:  # a folder without events
        ev = None
    live["sudden"] = False
    if ev is not None and len(ev):
        ins = ev.loc[ev["kind"] == "insolvency", ["debtor_id", "event_date"]].copy()
        ins["debtor_id"] = ins["debtor_id"].astype("string")
        ins["first_default_date"] = pd.to_datetime(ins["event_date"])
        ins["sudden"] = True
        live = live.drop(columns="sudden").merge(
            ins[["debtor_id", "first_default_date", "sudden"]].drop_duplicates(),
            on=["debtor_id", "first_default_date"],
            how="left",
        )
        live["sudden"] = live["sudden"].fillna(False).astype(bool)
    q = live.loc[live["overdue_amount"].fillna(0.0) > 0.0].reset_index(drop=True)
    return q, live, meta


FEATURES = (
    "days_late_mean_90d",
    "days_late_mean_365d",
    "days_late_trend_90_365",
    "days_since_last_payment",
    "paid_to_invoiced_90d",
    "overdue_share",
    "open_invoice_count",
)
"""Ledger features (as of T, the model's own) compared between the groups with ``--features``."""


def with_features(q: pd.DataFrame, data: Path) -> pd.DataFrame:
    """``q`` with the :data:`FEATURES` the feature engine builds as of each row's month-end
    (``overdue_share`` = overdue amount / open balance); absent features are left out."""
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
    cols = [c for c in FEATURES if c in f.columns]
    out = q.merge(f[["debtor_id", "as_of", *cols]], on=["debtor_id", "as_of"], how="left")
    out["overdue_share"] = out["overdue_amount"] / out["open_balance"].where(out["open_balance"] > 0)
    return out


def keys(q: pd.DataFrame, key: str) -> dict[str, np.ndarray]:
    """Every ranking key of the diagnosis on the queue rows ``q`` (see the module docstring)."""
    from models.queue_key import blended_pd
    from pipelines.config.nightly import QueueConfig
    from pipelines.scoring.queue import lgd_for

    qc = QueueConfig()
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    od = q["overdue_amount"].clip(lower=0).fillna(0.0).to_numpy()
    lgd = lgd_for(q["segment"], qc).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    kpd = blended_pd(q["pd"], q["pay_pd"]) if key == "blend" else q["pd"].to_numpy()
    opd = q["oracle_pd"].fillna(0.0).to_numpy()
    pay = q["pay_pd"].fillna(0.0).to_numpy()
    mpd = q["pd"].to_numpy()
    return {
        "key_pd": kpd,
        "shipped": kpd * ob * lgd * w,
        "no_dpd": kpd * ob * lgd,
        "overdue_ead": kpd * od * lgd * w,
        "pd_only_key": mpd * ob * lgd * w,
        "pay_pd_key": pay * ob * lgd * w,
        "max_key": np.maximum(mpd, pay) * ob * lgd * w,
        "truepd_dpd": opd * ob * lgd * w,
        "oracle_dpd": opd * ob * 100 * w,
        "oracle": opd * ob * 100,
        "el_tie": kpd * ob * lgd,
    }


def top_mask(q: pd.DataFrame, orders: list[np.ndarray]) -> np.ndarray:
    """True for the rows in the top ceil(20 %) of their month-end's queue."""
    from models.queue_key import TOP_SHARE

    on = np.zeros(len(q), dtype=bool)
    for idx in orders:
        on[idx[: int(np.ceil(TOP_SHARE * len(idx)))]] = True
    return on


def _pct_in_month(q: pd.DataFrame, v: np.ndarray) -> np.ndarray:
    return pd.Series(v, index=q.index).groupby(q["as_of"]).rank(pct=True).to_numpy()


def _group(q: pd.DataFrame, m: np.ndarray, bad_bal: np.ndarray, k: dict, moved: np.ndarray) -> dict:
    if not m.any():
        return {"rows": 0}
    s = q.loc[m]
    dpd = s["dpd"].fillna(0.0)
    days = (s["first_default_date"] - s["as_of"]).dt.days
    return {
        "rows": int(m.sum()),
        "bad_balance_share": float(bad_bal[m].sum() / bad_bal.sum()) if bad_bal.sum() else None,
        "dpd_median": float(dpd.median()),
        "dpd_0_30": float((dpd <= 30).mean()),
        "dpd_31_60": float(((dpd > 30) & (dpd <= 60)).mean()),
        "dpd_61_plus": float((dpd > 60).mean()),
        "factor_median": float(1 + dpd.median() / 90),
        "key_pd_median": float(np.median(k["key_pd"][m])),
        "key_pd_pct_median": float(np.median(k["key_pd_pct"][m])),
        "pay_pd_pct_median": float(np.median(k["pay_pd_pct"][m])),
        "true_pd_median": float(s["oracle_pd"].median()),
        "true_pd_pct_median": float(np.median(k["true_pd_pct"][m])),
        "stopped_share": float((s["oracle_pd"] >= 0.999).mean()),
        "sudden_share": float(s["sudden"].mean()),
        "sudden_balance_share": float(bad_bal[m][s["sudden"].to_numpy()].sum() / bad_bal[m].sum())
        if bad_bal[m].sum()
        else None,
        "health_median": float(s["health"].median()),
        "dh1_median": float(s["dh1"].median()),
        "dh3_median": float(s["dh3"].median()),
        "dh1_le_minus_0_5": float((s["dh1"] <= -0.5).mean()),
        "days_to_default_median": float(days.median()) if days.notna().any() else None,
        "balance_pct_median": float(np.median(k["balance_pct"][m])),
        "drift_ahead_neg_share": float((s["drift_ahead"] < 0).mean()),
        "moved_by_no_dpd": float(moved[m].mean()),
        **{f"{c}_median": float(s[c].median()) for c in FEATURES if c in s.columns},
    }


def diag_book(folder: Path, features: bool = False) -> dict:
    from models.queue_key import queue_orders, weighted_capture

    q, live, meta = load_queue(folder)
    if features:
        q = with_features(q, Path(meta["settings"]["data"]))
    key = meta["settings"].get("queue_key", "pd")
    k = keys(q, key)
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    bad = (q["label"].fillna(0).astype(int) == 1).to_numpy()
    bad_bal = np.where(bad, ob, 0.0)
    ones = np.ones(len(q))
    orders = {
        name: queue_orders(q, k[name], None if name.startswith("oracle") else k["el_tie"])
        for name in (
            "shipped",
            "no_dpd",
            "overdue_ead",
            "pd_only_key",
            "pay_pd_key",
            "max_key",
            "truepd_dpd",
            "oracle_dpd",
            "oracle",
        )
    }
    cap = {name: weighted_capture(o, bad_bal, ones) for name, o in orders.items()}
    fig = meta["figures"]
    in_q, in_o, in_nd = (top_mask(q, orders[n]) for n in ("shipped", "oracle", "no_dpd"))
    k["key_pd_pct"] = _pct_in_month(q, k["key_pd"])
    k["true_pd_pct"] = _pct_in_month(q, q["oracle_pd"].fillna(0.0).to_numpy())
    k["balance_pct"] = _pct_in_month(q, ob)
    k["pay_pd_pct"] = _pct_in_month(q, q["pay_pd"].fillna(0.0).to_numpy())
    moved = in_q != in_nd
    groups = {
        "missed": bad & in_o & ~in_q,
        "caught": bad & in_q,
        "holding_places": ~bad & in_q & ~in_o,
        "bad_outside_both": bad & ~in_o & ~in_q,
    }
    out: dict = {
        "book": folder.parent.name,
        "key": key,
        "queue_rows": int(len(q)),
        "defaulted_rows": int(bad.sum()),
        "captures": cap,
        "check_shipped_vs_backtest": fig.get("queue_capture_top20"),
        "check_oracle_vs_backtest": fig.get("oracle_capture_top20"),
        "groups": {g: _group(q, m, bad_bal, k, moved) for g, m in groups.items()},
    }
    # the days-past-due factor: of the rows it moves across the cut, the bad balance it gains and loses
    gain = bad_bal[in_q & ~in_nd].sum() / bad_bal.sum()
    lose = bad_bal[~in_q & in_nd].sum() / bad_bal.sum()
    out["dpd_factor"] = {"bad_share_brought_in": float(gain), "bad_share_pushed_out": float(lose)}
    # the shock state: where the missed and all bad balance sit (scheduled drift over the horizon
    # ahead of T, and over the three months ending at T)
    miss_bal = np.where(groups["missed"], bad_bal, 0.0)
    shock = {}
    for name, col, sign in (
        ("dip_ahead", "drift_ahead", 1),
        ("dip_past", "drift_past", 1),
        ("no_dip_past", "drift_past", -1),
    ):
        on = (q[col] < 0).to_numpy() if sign > 0 else ~(q[col] < 0).to_numpy()
        shock[name] = {
            "queue_rows_share": float(on.mean()),
            "bad_balance_share": float(bad_bal[on].sum() / bad_bal.sum()),
            "missed_balance_share": float(miss_bal[on].sum() / miss_bal.sum()) if miss_bal.sum() else None,
            "capture_shipped": weighted_capture([i[on[i]] for i in orders["shipped"]], bad_bal, ones),
            "capture_oracle": weighted_capture([i[on[i]] for i in orders["oracle"]], bad_bal, ones),
            "mean_key_pd_over_true": float(k["key_pd"][on].mean() / q["oracle_pd"][on].mean())
            if on.any()
            else None,
            "mean_key_pd_over_rate": float(k["key_pd"][on].mean() / bad[on].mean())
            if bad[on].any()
            else None,
        }
    out["shock"] = shock
    # the lag: among the queue rows the oracle rates high (true PD >= 0.1, not stopped), the model's
    # PD percentile for those whose health fell by 0.5 or more over 3 months and for the others
    hi = ((q["oracle_pd"] >= 0.1) & (q["oracle_pd"] < 0.999)).to_numpy()
    fell = (q["dh3"] <= -0.5).to_numpy()
    out["lag"] = {
        name: {
            "rows": int(m.sum()),
            "true_pd_median": float(q["oracle_pd"][m].median()) if m.any() else None,
            "key_pd_pct_median": float(np.median(k["key_pd_pct"][m])) if m.any() else None,
            "in_shipped_top": float(in_q[m].mean()) if m.any() else None,
            "in_oracle_top": float(in_o[m].mean()) if m.any() else None,
            "missed_balance_share": float(miss_bal[m].sum() / miss_bal.sum()) if miss_bal.sum() else None,
        }
        for name, m in (
            ("fell_3m", hi & fell),
            ("steady_3m", hi & ~fell),
            ("stopped", (q["oracle_pd"] >= 0.999).to_numpy()),
        )
    }
    # the missed balance split into exclusive kinds, in this order: a sudden insolvency (health-independent,
    # no ledger warning), a stopped payer (true PD 1), health down by 0.5 or more over 3 months, the rest
    sudden = q["sudden"].to_numpy()
    stopped = (q["oracle_pd"] >= 0.999).to_numpy() & ~sudden
    fell_only = fell & ~sudden & ~stopped
    rest = ~sudden & ~stopped & ~fell
    out["missed_by_kind"] = {
        name: float(miss_bal[m].sum() / miss_bal.sum()) if miss_bal.sum() else None
        for name, m in (("sudden", sudden), ("stopped", stopped), ("fell_3m", fell_only), ("rest", rest))
    }
    # per month-end: captures, calibration in the queue, shock state
    months = []
    for T, idx in enumerate(orders["shipped"]):
        rows = q.iloc[idx]
        b = bad_bal[idx]
        one = [idx]
        month = {
            "as_of": str(rows["as_of"].iloc[0].date()),
            "queue": int(len(idx)),
            "defaulted": int(bad[idx].sum()),
            "drift_ahead": float(rows["drift_ahead"].iloc[0]),
            "mean_key_pd": float(k["key_pd"][idx].mean()),
            "mean_true_pd": float(rows["oracle_pd"].mean()),
            "default_rate": float(bad[idx].mean()),
            "shipped": weighted_capture(one, bad_bal, ones),
            "no_dpd": weighted_capture([orders["no_dpd"][T]], bad_bal, ones),
            "oracle": weighted_capture([orders["oracle"][T]], bad_bal, ones),
            "missed_share": float(bad_bal[idx][groups["missed"][idx]].sum() / b.sum()) if b.sum() else None,
        }
        months.append(month)
    out["months"] = months
    # the live-debtor filter: defaulted balance of live debtors not in the queue (nothing overdue)
    lbad = np.where(
        live["label"].fillna(0).astype(int) == 1, live["open_balance"].clip(lower=0).fillna(0.0), 0.0
    )
    out_q = live["overdue_amount"].fillna(0.0).to_numpy() <= 0.0
    out["live_filter"] = {
        "live_rows": int(len(live)),
        "live_defaulted_rows": int((live["label"] == 1).sum()),
        "defaulted_rows_outside_queue": int(((live["label"] == 1).to_numpy() & out_q).sum()),
        "of_them_insolvency_on_default_date": int(
            ((live["label"] == 1).to_numpy() & out_q & live["sudden"].to_numpy()).sum()
        ),
        "bad_balance_outside_queue_share": float(lbad[out_q].sum() / lbad.sum()) if lbad.sum() else None,
    }
    return out


def compare(folders: list[Path], candidate: str, reps: int, seed: int) -> dict:
    """The pre-registered comparison: ``candidate`` (a key of :func:`keys`) against the shipped
    priority on each backtest, pooled capture with a paired Poisson bootstrap of debtors (one weight
    per debtor for every month-end and both keys), and the mean over the books (replicate-wise)."""
    from models.queue_key import queue_orders, weighted_capture

    rng = np.random.default_rng(seed)
    books, diffs = [], []
    for folder in folders:
        q, _, meta = load_queue(folder)
        k = keys(q, meta["settings"].get("queue_key", "pd"))
        ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
        bad = np.where(q["label"].fillna(0).astype(int) == 1, ob, 0.0)
        o = {
            n: queue_orders(q, k[n], None if n.startswith("oracle") else k["el_tie"])
            for n in ("shipped", candidate, "oracle")
        }
        ones = np.ones(len(q))
        cap = {n: weighted_capture(v, bad, ones) for n, v in o.items()}
        codes, uniq = pd.factorize(q["debtor_id"])
        d = []
        for _ in range(reps):
            wb = rng.poisson(1.0, len(uniq)).astype("float64")[codes]
            d.append(weighted_capture(o[candidate], bad, wb) - weighted_capture(o["shipped"], bad, wb))
        d = np.asarray(d)
        lo, hi = np.nanquantile(d, [0.025, 0.975])
        books.append(
            {
                "book": folder.parent.name,
                "key": meta["settings"].get("queue_key"),
                "queue_rows": int(len(q)),
                "defaulted_rows": int((bad > 0).sum()),
                "shipped": cap["shipped"],
                "candidate": cap[candidate],
                "oracle": cap["oracle"],
                "check_shipped_vs_backtest": meta["figures"].get("queue_capture_top20"),
                "diff": [cap[candidate] - cap["shipped"], float(lo), float(hi)],
                "significantly_worse": bool(hi < 0),
                "significantly_better": bool(lo > 0),
            }
        )
        diffs.append(d)
    mean = np.nanmean(np.vstack(diffs), axis=0)
    point = float(np.mean([b["diff"][0] for b in books]))
    lo, hi = np.nanquantile(mean, [0.025, 0.975])
    n_ship = sum(b["shipped"] >= 0.95 * b["oracle"] for b in books)
    n_cand = sum(b["candidate"] >= 0.95 * b["oracle"] for b in books)
    worse = [b["book"] for b in books if b["significantly_worse"]]
    met = not worse and (lo > 0 or n_cand > n_ship)
    return {
        "candidate": candidate,
        "reps": reps,
        "seed": seed,
        "books": books,
        "mean": [point, float(lo), float(hi)],
        "at_095_shipped": n_ship,
        "at_095_candidate": n_cand,
        "significantly_worse": worse,
        "rule_met": bool(met),
    }


def ceiling(folder: Path, folds: int = 5, seed: int = 0) -> dict:
    """The ledger-observable ceiling: a LightGBM (fixed settings, one thread) on every ledger feature
    as of T, fitted on the live rows of every month-end from the book's fourth to the backtest's
    last (labels as the training's) and predicted out of fold (folds of debtors), so it learns the
    backtest's own period too (no drift, no lag of the training window) but never a debtor's own
    outcome. Its PD in the shipped priority's place
    (PD x open balance x LGD x (1 + DPD / 90)) against the shipped queue and the oracle: what a
    model could reach from what the ledger shows at T."""
    import lightgbm as lgb

    from features.params import FeatureParams
    from models.queue_key import queue_orders, weighted_capture
    from pipelines.adapters.files import read_portfolio
    from pipelines.config import load_config
    from pipelines.config.nightly import QueueConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.engine import Book, bucket_result
    from pipelines.scoring.queue import lgd_for

    q, live, meta = load_queue(folder)
    project = load_config(ROOT / "conf" / "ews.yaml", expect=ProjectConfig)
    definition = project.default_definition.to_params()
    book = Book.in_memory(read_portfolio(Path(meta["settings"]["data"])), 4_000_000)
    last = pd.Timestamp(live["as_of"].max())
    first = pd.Timestamp(
        pd.read_parquet(Path(meta["settings"]["truth"]), columns=["month_end"])["month_end"].min()
    )
    dates = list(pd.date_range(first + pd.offsets.MonthEnd(3), last, freq="ME"))
    parts, labs = [], []
    for k in range(book.buckets):
        built = bucket_result(book, k, dates, definition, FeatureParams(), True, book.last_observed())
        if built is not None:
            parts.append(built.features)
            labs.append(built.defaults)
    f = pd.concat(parts, ignore_index=True)
    f["debtor_id"] = f["debtor_id"].astype("string")
    lab = pd.concat(labs, ignore_index=True)
    lab["debtor_id"] = lab["debtor_id"].astype("string")
    feats = [c for c in f.columns if c not in ("debtor_id", "as_of")]
    lab = lab.loc[lab["horizon_observed"].astype(bool) & ~lab["in_default_at_asof"].astype(bool)]
    frame = lab[["debtor_id", "as_of", "label"]].merge(f, on=["debtor_id", "as_of"], how="inner")
    X = frame[feats].copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    y = frame["label"].fillna(0).astype(int).to_numpy()
    codes, uniq = pd.factorize(frame["debtor_id"])
    fold_of = np.random.default_rng(seed).integers(0, folds, len(uniq))[codes]
    oof = np.zeros(len(frame))
    for j in range(folds):
        tr, te = fold_of != j, fold_of == j
        m = lgb.LGBMClassifier(
            n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=40,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, num_threads=1, verbose=-1, random_state=seed,
        )  # fmt: skip
        m.fit(X.loc[tr], y[tr])
        oof[te] = m.predict_proba(X.loc[te])[:, 1]
    frame["ceiling_pd"] = oof
    q = q.merge(frame[["debtor_id", "as_of", "ceiling_pd"]], on=["debtor_id", "as_of"], how="left")
    k = keys(q, meta["settings"].get("queue_key", "pd"))
    qc = QueueConfig()
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    w = 1.0 + q["dpd"].fillna(0.0).clip(lower=0).to_numpy() / qc.dpd_weight_days
    cel = q["ceiling_pd"].to_numpy() * ob * lgd_for(q["segment"], qc).to_numpy()
    bad = np.where(q["label"].fillna(0).astype(int) == 1, ob, 0.0)
    ones = np.ones(len(q))
    cap = {
        "shipped": weighted_capture(queue_orders(q, k["shipped"], k["el_tie"]), bad, ones),
        "pd_only_key": weighted_capture(queue_orders(q, k["pd_only_key"], k["el_tie"]), bad, ones),
        "ceiling_dpd": weighted_capture(queue_orders(q, cel * w, cel), bad, ones),
        "ceiling": weighted_capture(queue_orders(q, cel, cel), bad, ones),
        "oracle": weighted_capture(queue_orders(q, k["oracle"]), bad, ones),
    }
    from sklearn.metrics import roc_auc_score

    qb = (bad > 0).astype(int)
    auc = {
        "key_pd": float(roc_auc_score(qb, k["key_pd"])),
        "model_pd": float(roc_auc_score(qb, q["pd"])),
        "ceiling_pd": float(roc_auc_score(qb, q["ceiling_pd"])),
        "true_pd": float(roc_auc_score(qb, q["oracle_pd"].fillna(0.0))),
    }
    return {
        "book": folder.parent.name,
        "live_rows": int(len(frame)),
        "features": len(feats),
        "captures": cap,
        "queue_auc": auc,
    }


def _print(res: dict) -> None:
    c = res["captures"]
    print(
        f"\n== {res['book']} (key {res['key']}): {res['queue_rows']} queue rows, {res['defaulted_rows']} defaulted"
    )
    print(
        "captures: "
        + ", ".join(f"{n} {v:.4f}" for n, v in c.items())
        + f"  (shipped / oracle {c['shipped'] / c['oracle']:.3f})"
    )
    print(
        f"  check vs backtest.json: shipped {res['check_shipped_vs_backtest']}, oracle {res['check_oracle_vs_backtest']}"
    )
    cols = list(next(g for g in res["groups"].values() if g.get("rows"))) if res["groups"] else []
    print("group".ljust(18) + "".join(g[:14].rjust(16) for g in res["groups"]))
    for col in cols:
        vals = [res["groups"][g].get(col) for g in res["groups"]]
        print(col.ljust(26)[:26] + "".join(("" if v is None else f"{v:.3f}").rjust(16) for v in vals))
    print(
        f"dpd factor: brings in {res['dpd_factor']['bad_share_brought_in']:.4f}, pushes out {res['dpd_factor']['bad_share_pushed_out']:.4f} of the bad balance"
    )
    print("month       queue  bad  drift   keyPD  truePD  rate  shipped no_dpd oracle missed")
    for m in res["months"]:
        print(
            f"{m['as_of']} {m['queue']:6d} {m['defaulted']:4d} {m['drift_ahead']:+.2f} {m['mean_key_pd']:.4f} {m['mean_true_pd']:.4f} {m['default_rate']:.3f}"
            f"  {m['shipped']:.3f}  {m['no_dpd']:.3f}  {m['oracle']:.3f}  {m['missed_share'] or 0:.3f}"
        )
    print("live filter:", res["live_filter"])
    for name, v in res["shock"].items():
        print(f"shock {name}: " + ", ".join(f"{a} {b:.3f}" for a, b in v.items() if b is not None))
    print(
        "missed balance by kind: "
        + ", ".join(f"{a} {b:.3f}" for a, b in res["missed_by_kind"].items() if b is not None)
    )
    for name, v in res["lag"].items():
        print(
            f"lag {name}: "
            + ", ".join(
                f"{a} {b:.3f}" if isinstance(b, float) else f"{a} {b}" for a, b in v.items() if b is not None
            )
        )


def _emit(result: object, path: Path | None, echo: bool) -> None:
    """The result as one JSON line: written to ``path`` when given, printed when ``echo``."""
    line = json.dumps(result, default=float)
    if path:
        path.write_text(line)
    if echo:
        print(line)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("diag", help="who the queue misses and why, per backtest folder")
    d.add_argument("folders", nargs="+", type=Path, help="ews backtest --compare-keys --rows output folders")
    d.add_argument(
        "--features", action="store_true", help="also compare the groups' ledger features (rebuilds them)"
    )
    d.add_argument("--json", type=Path, default=None, help="also write the results here")
    c = sub.add_parser(
        "compare", help="the pre-registered rule: a candidate key against the shipped priority"
    )
    c.add_argument("folders", nargs="+", type=Path, help="ews backtest --compare-keys --rows output folders")
    c.add_argument(
        "--candidate", required=True, help="a key of keys(): no_dpd, overdue_ead, pay_pd_key, max_key, ..."
    )
    c.add_argument("--reps", type=int, default=400, help="bootstrap replicates (400)")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    c.add_argument("--json", type=Path, default=None, help="also write the result here")
    e = sub.add_parser(
        "ceiling", help="the ledger-observable ceiling: a model fitted on the backtest's own month-ends"
    )
    e.add_argument("folders", nargs="+", type=Path, help="ews backtest --compare-keys --rows output folders")
    e.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    if args.cmd == "ceiling":
        res = [ceiling(f) for f in args.folders]
        for r in res:
            c, a = r["captures"], r["queue_auc"]
            print(
                f"{r['book']:14s} live rows {r['live_rows']}, {r['features']} features: "
                + ", ".join(f"{n} {v:.4f}" for n, v in c.items())
                + f" (ceiling_dpd / oracle {c['ceiling_dpd'] / c['oracle']:.3f}); queue AUC "
                + ", ".join(f"{n} {v:.3f}" for n, v in a.items())
            )
        _emit(res, args.json, echo=True)
        return
    if args.cmd == "compare":
        r = compare(args.folders, args.candidate, args.reps, args.seed)
        for b in r["books"]:
            d = b["diff"]
            print(
                f"{b['book']:14s} key {b['key']:5s} rows {b['queue_rows']:6d}/{b['defaulted_rows']:4d}  shipped {b['shipped']:.4f} "
                f"({b['shipped'] / b['oracle']:.3f})  {args.candidate} {b['candidate']:.4f} ({b['candidate'] / b['oracle']:.3f})  "
                f"diff {d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]  oracle {b['oracle']:.4f}"
            )
        m = r["mean"]
        print(
            f"mean diff {m[0]:+.4f} [{m[1]:+.4f}, {m[2]:+.4f}]; >= 0.95 x oracle: shipped {r['at_095_shipped']}, "
            f"candidate {r['at_095_candidate']}; significantly worse on {r['significantly_worse'] or 'none'}; rule met: {r['rule_met']}"
        )
        _emit(r, args.json, echo=True)
        return
    if args.cmd == "diag":
        res = [diag_book(f, args.features) for f in args.folders]
        for r in res:
            _print(r)
        _emit(res, args.json, echo=False)


if __name__ == "__main__":
    main()
