"""Ranking signals for the live collections queue not tried before session 9 (issue 11 part 5).

Sessions 3-5 (``benchmarks/queue_ranking.py``) tried exposure variants, an LGD term, a shrunk PD, the
DPD multiplier (shipped: ``queue.dpd_weight_days: 90``) and monthly refits; the misses are
early-stage debtors (0-60 days past due, default 55-72 days after T) that the PD model ranks below
their true PD. This script measures signals the nightly already has or could have at T, each
against the shipped key on the same queue rows, with paired intervals (resampling debtors):

- the **payment-date model's own view** of the debtor (a leak-free ``ews-paydate`` model fitted
  here with the registry's plan as if the data ended at ``--paydate-cut``; the nightly's champion was
  refitted on every row up to the data's end):
  ``pay_pd`` = the largest, over the debtor's open invoices, probability that the invoice is still
  unpaid when it reaches the default definition's DPD threshold, for the invoices that reach it
  within the label horizon (a default by the payment-date model's hazards; invoices of a debtor
  taken as moving together, the comonotone bound);
  ``unpaid_90`` / ``unpaid_60`` / ``unpaid_30`` = the expected open balance still unpaid 90 / 60 /
  30 days after T (sum of open amount x (1 - p_paid_Nd));
- the book's own **roll rates** by DPD bucket (``models.rollrate``: month-end moves counted only up
  to T, Dirichlet prior 10, 3-month horizon), ``rr_pd`` per state;
- the **trend of the debtor's PD** over the previous month-ends (PD at T / PD one month-end before);
- the **share of the overdue balance that is new** (1-30 days past due / overdue amount).

Keys (fixed before measuring, nothing searched; ``w`` = 1 + DPD / 90 as shipped, ``ob`` = open
balance, ``L`` = LGD): ``shipped`` = PD x ob x L x w; ``pay_ead`` = PD x unpaid_90 x L x w;
``pay_ead60``; ``pay_pd`` = pay_pd x ob x L; ``pay_geo`` = sqrt(PD x pay_pd) x ob x L x w;
``pay_mean`` = (PD + pay_pd) / 2 x ob x L x w; ``pay_max`` = max(PD, pay_pd) x ob x L x w;
``rr_geo`` = sqrt(PD x rr_pd) x ob x L x w; ``trend`` = PD x sqrt(PD / PD one month-end before)
x ob x L x w (no earlier PD: ratio 1); ``new_share`` = shipped x (1 + new share). Added after the
first table on seeds 1-2 (post hoc, so confirmed on fresh seeds only): ``pay_geo_nodpd`` = ``pay_geo``
without the DPD weight (``pay_pd`` holds the days past due already).

    nice python benchmarks/queue_signals.py panel --data ING --model V --config nightly.yaml \\
        --train-config train_cut.yaml --out P.parquet
    nice python benchmarks/queue_signals.py table P1.parquet P2.parquet ... [--reps 400] [--json out.json]
    nice python benchmarks/queue_signals.py watch P1.parquet P2.parquet ... [--json out.json]
    nice python benchmarks/queue_signals.py pick P1.parquet P2.parquet ... [--json out.json]

``panel``: ``pipelines.backtest.replay`` from ``--history-from`` (earlier month-ends give the
roll-rate moves and the PD trend; the figures use ``--from``..``--to`` only) plus the payment-date
columns at each month-end from ``--from``; ``table``: ``queue_capture_top20`` of each key pooled over
the month-ends, its ratio to the oracle (true PD x exposure), the difference to the shipped key with
a 95 % interval from a Poisson bootstrap of debtors (one weight per debtor for every month-end and
key: paired; and for the mean over the books), and the AUC inside the queue; ``watch``: the watchlist's
precision, recall, strict lead time and list size with the PD replaced by its blend with ``pay_pd``
(``mean``, ``geo``), for today's rules and the session-5 rank rules; ``pick``: the shipped key or
``pay_mean`` chosen month by month on the earlier month-ends whose horizon has ended. Each ends with
one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

EXTRA = ["overdue_amount_1_30", "overdue_amount_31_60", "overdue_amount_61_90", "tenure_days"]
PAY_COLUMNS = ["pay_pd", "unpaid_30", "unpaid_60", "unpaid_90", "open_fc"]


def fit_paydate(book: Any, train_cfg: Any, cut: pd.Timestamp) -> Any:
    """A payment-date model fitted as ``ews train`` fits the registered one (same settings, the
    latest ``paydate.train_snapshots`` month-ends up to ``snapshots.end``), but from rows dated up to
    ``cut`` only, in a :class:`LoadedPaydate` (not registered)."""
    from features.paydate import PERIOD_DAYS
    from models.paydate import fit_day_shape, fit_hazard
    from pipelines.adapters.paydate_registry import LoadedPaydate
    from pipelines.engine import map_buckets
    from pipelines.flows.train_paydate import bucket_rows, plan

    params = train_cfg.paydate.to_params(train_cfg.seed)
    p = plan(book, train_cfg, params.horizon_weeks, last=cut)
    per_bucket = max(1, train_cfg.paydate.max_invoices_per_snapshot // max(1, book.buckets))
    parts = [
        r
        for r in map_buckets(
            bucket_rows, book, p, params.horizon_weeks, per_bucket, params.seed, params.grid(), step="paydate"
        )
        if r is not None
    ]
    rows = pd.concat([r["final"] for r in parts], ignore_index=True)
    features = list(params.features())
    booster = fit_hazard(rows, params, features)
    grid = params.grid()
    return (
        LoadedPaydate(
            name="ews-paydate (leak-free, not registered)",
            version="0",
            alias=None,
            run_id="",
            booster=booster,
            features=features,
            horizon_weeks=params.horizon_weeks,
            period_days=PERIOD_DAYS,
            interval=params.interval,
            day_shape=fit_day_shape(rows).tolist() if grid is None else None,
            grid=None,
        ),
        p.describe(),
        len(rows),
    )


def paydate_view(
    book: Any, k: int, T: pd.Timestamp, loaded: Any, dpd_threshold: int, horizon_days: int
) -> pd.DataFrame | None:
    """Per debtor of bucket ``k`` at T: ``pay_pd``, ``unpaid_30/60/90`` and ``open_fc`` from the
    payment-date model's weekly CDF of each open invoice (the nightly's ``forecast_state`` inputs)."""
    from features.ledger import day_number, ledger_state, prepare_ledger
    from features.paydate import open_invoices
    from models.paydate import cdf_at, cdf_at_days, weekly_cdf
    from pipelines.engine import has_ledger

    part = book.read(k)
    if not has_ledger(part) or part.invoices is None or part.invoices.empty:
        return None
    ledger = prepare_ledger(part)
    day = int(day_number(T))
    state = ledger_state(ledger, day)
    inv = open_invoices(ledger, state)
    if inv.empty:
        return None
    _, _, Fw = weekly_cdf(loaded.booster, inv, day, loaded.horizon_weeks, loaded.features, loaded.fine_grid())
    amount = inv["open_amount"].to_numpy(dtype=np.float64)
    # days after T at which the invoice reaches the DPD threshold (a default if still unpaid then)
    reach = inv["due"].to_numpy(dtype=np.int64) + dpd_threshold - day
    within = (reach >= 1) & (reach <= horizon_days)
    p_open_then = np.where(within, 1.0 - cdf_at(Fw, np.maximum(reach, 1)), 0.0)
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array(ledger.debtor_ids[inv["code"].to_numpy(dtype=np.int64)], dtype="string"),
            "pay_pd": p_open_then,
            "unpaid_30": amount * (1.0 - cdf_at_days(Fw, 30)),
            "unpaid_60": amount * (1.0 - cdf_at_days(Fw, 60)),
            "unpaid_90": amount * (1.0 - cdf_at_days(Fw, 90)),
            "open_fc": amount,
        }
    )
    out = frame.groupby("debtor_id", sort=True).agg(
        pay_pd=("pay_pd", "max"),
        unpaid_30=("unpaid_30", "sum"),
        unpaid_60=("unpaid_60", "sum"),
        unpaid_90=("unpaid_90", "sum"),
        open_fc=("open_fc", "sum"),
    )
    return out.reset_index().assign(as_of=T)


def build_panel(args: argparse.Namespace) -> None:
    from pipelines.adapters.files import read_portfolio
    from pipelines.adapters.registry import load_model_version
    from pipelines.backtest import model_scorer, month_end_dates, replay
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.engine import Book

    t0 = time.process_time()
    cfg = load_config(args.config, expect=NightlyConfig)
    project = load_config(cfg.project, expect=ProjectConfig)
    train_cfg = load_config(args.train_config, expect=TrainConfig)
    definition = project.default_definition.to_params()
    start = dt.date.fromisoformat(args.start)
    dates = month_end_dates(dt.date.fromisoformat(args.history_from), dt.date.fromisoformat(args.end))
    window = [d for d in dates if d.date() >= start]
    portfolio = read_portfolio(args.data)
    loaded = load_model_version(args.model, cfg.model_name, project.paths.mlflow_tracking_uri)
    score = model_scorer(loaded, cfg)
    panel = replay(portfolio, dates, score, cfg, definition, cfg.partition_rows, extra=EXTRA)
    t_replay = time.process_time() - t0

    book = Book.in_memory(portfolio, cfg.partition_rows)
    cut = pd.Timestamp(args.paydate_cut)
    paymodel, described, n_rows = fit_paydate(book, train_cfg, cut)
    t_fit = time.process_time() - t0 - t_replay
    dpd_thr = int(project.default_definition.dpd_threshold)
    horizon = int(project.default_definition.horizon_days)
    views = [
        v
        for T in window
        for k in range(book.buckets)
        if (v := paydate_view(book, k, T, paymodel, dpd_thr, horizon)) is not None
    ]
    pay = pd.concat(views, ignore_index=True)
    panel = panel.merge(pay, on=["debtor_id", "as_of"], how="left")
    from queue_ranking import with_oracle

    panel = with_oracle(panel, Path(args.data))
    panel.attrs = {}
    out = Path(args.out)
    panel.to_parquet(out, index=False)
    cpu = time.process_time() - t0
    meta = {
        "model": f"v{loaded.version} {loaded.kind}",
        "data": str(args.data),
        "paydate_plan": described,
        "paydate_rows": n_rows,
        "window": [str(window[0].date()), str(window[-1].date())],
        "cpu_s": {"replay": round(t_replay, 1), "paydate_fit": round(t_fit, 1), "total": round(cpu, 1)},
    }
    out.with_suffix(".json").write_text(json.dumps(meta) + "\n")
    print(f"{out}: {len(panel):,} rows, {meta['model']}, paydate trained on {described['final_train'][0]}.."
          f"{described['final_train'][-1]} cut {described['final_cut']}, CPU {meta['cpu_s']}")  # fmt: skip


def rollrate_pd(panel: pd.DataFrame, dpd_threshold: int, horizon_days: int) -> pd.Series:
    """``rr_pd`` per panel row: the roll-rate PD of the row's DPD state from the moves between the
    panel's consecutive month-ends up to the row's as-of date (``models.rollrate``, prior 10)."""
    from models.rollrate import (
        RollRateParams,
        assign_states,
        horizon_months,
        horizon_pd,
        smoothed_matrix,
        transition_counts,
    )

    params = RollRateParams(dpd_threshold=dpd_threshold, horizon_days=horizon_days)
    frame = panel[["debtor_id", "as_of", "dpd", "in_default"]].rename(
        columns={"dpd": "dpd_current_max", "in_default": "in_default_at_asof"}
    )
    state = assign_states(frame, params)
    out = pd.Series(np.nan, index=panel.index)
    months = horizon_months(horizon_days)
    for T in sorted(panel["as_of"].unique()):
        counts = transition_counts(frame, params, as_of=T)
        if counts[:-1].sum() == 0:
            continue
        pds = np.r_[horizon_pd(smoothed_matrix(counts, params.prior_strength), months), 1.0]
        at = (panel["as_of"] == T).to_numpy()
        out[at] = pds[state[at]]
    return out


def keys_for(q: pd.DataFrame, lgd: pd.Series, dpd_threshold: float) -> dict[str, pd.Series]:
    ob = q["open_balance"].clip(lower=0)
    dpd = q["dpd"].fillna(0.0).clip(lower=0)
    w = 1 + dpd / dpd_threshold
    pd_ = q["pd"]
    pay = q["pay_pd"].astype("float64").fillna(0.0)
    unpaid90 = q["unpaid_90"].astype("float64").fillna(0.0).clip(lower=0)
    unpaid60 = q["unpaid_60"].astype("float64").fillna(0.0).clip(lower=0)
    prev = q["pd_prev"].astype("float64")
    ratio = (pd_ / prev).where(prev > 0, 1.0).fillna(1.0)
    overdue = q["overdue_amount"].astype("float64").fillna(0.0)
    new = (q["overdue_amount_1_30"].astype("float64").fillna(0.0) / overdue.where(overdue > 0)).fillna(0.0)
    shipped = pd_ * ob * lgd * w
    keys = {
        "shipped": shipped,
        "pay_ead": pd_ * unpaid90 * lgd * w,
        "pay_ead60": pd_ * unpaid60 * lgd * w,
        "pay_pd": pay * ob * lgd,
        "pay_geo": np.sqrt(pd_ * pay) * ob * lgd * w,
        "pay_mean": (pd_ + pay) / 2 * ob * lgd * w,
        "pay_max": np.maximum(pd_, pay) * ob * lgd * w,
        "pay_geo_nodpd": np.sqrt(pd_ * pay) * ob * lgd,  # added after the first 8-book table (post hoc)
        "rr_geo": np.sqrt(pd_ * q["rr_pd"].astype("float64").fillna(pd_)) * ob * lgd * w,
        "trend": pd_ * np.sqrt(ratio.clip(lower=0)) * ob * lgd * w,
        "new_share": shipped * (1 + new.clip(0, 1)),
        "dpd_order": dpd,
        "oracle": q["oracle_pd"].astype("float64").fillna(0.0) * ob,
    }
    return keys


def orders(q: pd.DataFrame, key: pd.Series) -> list[np.ndarray]:
    """Per month-end, the queue rows' positions (into ``q``) in the order of ``key`` (rounded to
    cents as ``ews backtest``), ties by overdue amount then debtor_id."""
    frame = pd.DataFrame(
        {
            "k": key.round(2).to_numpy(),
            "o": q["overdue_amount"].to_numpy(),
            "d": q["debtor_id"].to_numpy(),
            "t": q["as_of"].to_numpy(),
            "i": np.arange(len(q)),
        }
    )
    frame = frame.sort_values(["t", "k", "o", "d"], ascending=[True, False, False, True], kind="stable")
    return [g.to_numpy() for _, g in frame.groupby("t", sort=True)["i"]]


def weighted_capture(order: list[np.ndarray], bad: np.ndarray, w: np.ndarray) -> float:
    """Pooled share of the bad balance in the top 20 % of each month-end's queue, rows weighted by
    ``w``: ``models.queue_key.weighted_capture`` (the product's choice of the queue key uses it)."""
    from models.queue_key import weighted_capture as capture

    return capture(order, bad, w)


def table(args: argparse.Namespace) -> None:
    from sklearn.metrics import roc_auc_score

    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.queue import lgd_for

    cfg = load_config(args.config, expect=NightlyConfig)
    rng = np.random.default_rng(args.seed)
    rows, diffs = [], []
    boot_all: dict[str, list[np.ndarray]] = {}
    for path in args.panels:
        name = Path(path).stem
        p = pd.read_parquet(path).sort_values(["debtor_id", "as_of"], ignore_index=True)
        p["debtor_id"] = p["debtor_id"].astype("string")
        same = p.groupby("debtor_id")["as_of"].shift(1)
        gap = (p["as_of"] - same).dt.days
        p["pd_prev"] = p.groupby("debtor_id")["pd"].shift(1).where((gap <= 31) & (gap >= 28))
        p.loc[p.groupby("debtor_id")["in_default"].shift(1).fillna(True).astype(bool), "pd_prev"] = np.nan
        p["rr_pd"] = rollrate_pd(p, int(args.dpd_threshold), int(args.horizon_days))
        p = p.loc[(p["as_of"] >= pd.Timestamp(args.start)) & (p["as_of"] <= pd.Timestamp(args.end))]
        live = ~p["in_default"]
        q = p.loc[p["horizon_observed"] & live & (p["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue)]
        q = q.sort_values(["as_of", "debtor_id"], ignore_index=True)
        bad = np.where(q["label"].fillna(0).astype(int) == 1, q["open_balance"].clip(lower=0), 0.0)
        keys = keys_for(q, lgd_for(q["segment"], cfg.queue), float(args.dpd_threshold))
        ords = {k: orders(q, v) for k, v in keys.items()}
        ones = np.ones(len(q))
        cap = {k: weighted_capture(o, bad, ones) for k, o in ords.items()}
        y = (q["label"].fillna(0).astype(int) == 1).to_numpy()
        auc = {k: float(roc_auc_score(y, v)) for k, v in keys.items()}
        auc["pd"] = float(roc_auc_score(y, q["pd"]))
        auc["pay_pd_alone"] = float(roc_auc_score(y, q["pay_pd"].fillna(0.0)))
        auc["rr_pd_alone"] = float(roc_auc_score(y, q["rr_pd"].fillna(0.0)))
        auc["oracle_pd"] = float(roc_auc_score(y, q["oracle_pd"].fillna(0.0)))
        # Poisson bootstrap over debtors: one weight per debtor for every month-end and key (paired)
        codes, uniq = pd.factorize(q["debtor_id"])
        boots = {k: [] for k in keys}
        for _ in range(args.reps):
            w = rng.poisson(1.0, len(uniq)).astype("float64")[codes]
            base = weighted_capture(ords["shipped"], bad, w)
            for k, o in ords.items():
                boots[k].append(weighted_capture(o, bad, w) - base)
        row = {
            "book": name,
            "queue_rows": int(len(q)),
            "defaults": int(y.sum()),
            "oracle": round(cap["oracle"], 4),
        }
        for k in keys:
            row[k] = round(cap[k], 4)
            row[f"{k}/oracle"] = round(cap[k] / cap["oracle"], 3)
            d = np.asarray(boots[k])
            boot_all.setdefault(k, []).append(d)
            lo, hi = np.quantile(d, [0.025, 0.975]) if len(d) else (np.nan, np.nan)
            diffs.append({"book": name, "key": k, "diff": round(cap[k] - cap["shipped"], 4),
                          "lo": round(float(lo), 4), "hi": round(float(hi), 4)})  # fmt: skip
        row["auc"] = {k: round(v, 4) for k, v in auc.items()}
        rows.append(row)
        print(name, json.dumps(row), flush=True)
    res = pd.DataFrame(rows).set_index("book")
    names = [k for k in rows[0] if k not in ("book", "queue_rows", "defaults", "auc") and "/" not in k]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print("queue_capture_top20 by key:")
    print(res[names].to_string())
    print("/ oracle:")
    print(res[[f"{k}/oracle" for k in names if k != "oracle"]].to_string())
    dd = pd.DataFrame(diffs)
    dd["cell"] = dd.apply(lambda r: f"{r['diff']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]", axis=1)
    print("difference to the shipped key, 95 % paired interval (debtor bootstrap):")
    print(dd.pivot(index="book", columns="key", values="cell").to_string())
    summary = {}
    for k in names:
        if k in ("shipped", "oracle"):
            continue
        sub = dd.loc[dd["key"] == k]
        summary[k] = {
            "better": int((sub["diff"] > 0).sum()),
            "worse": int((sub["diff"] < 0).sum()),
            "sig_better": int((sub["lo"] > 0).sum()),
            "sig_worse": int((sub["hi"] < 0).sum()),
            "ge_095_oracle": int((res[f"{k}/oracle"] >= 0.95).sum()),
            "mean_diff": round(float(sub["diff"].mean()), 4),
        }
        # the mean over the books of the difference: the books' bootstraps are independent, so the
        # replicate-wise mean of their differences is a bootstrap of the mean
        mean_reps = np.mean(np.vstack(boot_all[k]), axis=0) if args.reps else np.array([np.nan])
        lo, hi = np.quantile(mean_reps, [0.025, 0.975])
        summary[k]["mean_diff_ci"] = [round(float(lo), 4), round(float(hi), 4)]
    print(pd.DataFrame(summary).T.to_string())
    if args.json:
        Path(args.json).write_text(
            json.dumps({"books": rows, "diffs": diffs, "summary": summary}, indent=1) + "\n"
        )
    print(
        json.dumps(
            {
                "books": len(rows),
                "shipped_ge_095": int((res["shipped/oracle"] >= 0.95).sum()),
                "summary": summary,
            }
        )
    )


def watch(args: argparse.Namespace) -> None:
    """The watchlist's figures with the PD replaced by a blend with the payment-date view (live rows:
    ``mean`` = (PD + pay_pd) / 2, ``geo`` = sqrt(PD x pay_pd); bands recomputed), for today's rules and
    the opt-in rank rules (session 5), on the month-ends ``--from``..``--to`` (flags start there, as
    ``ews backtest``)."""
    from pipelines.backtest import backtest_figures, flag_panel
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import assign_bands

    cfg = load_config(args.config, expect=NightlyConfig)

    from queue_ranking import with_changes

    with_ = partial(with_changes, cfg)

    rules = {
        "today": cfg,
        "rank top 0.05 + stay_top_share 0.1": with_(**{"triggers.rank.enabled": True, "triggers.rank.top_share": 0.05,
                                                      "watchlist.stay_top_share": 0.10}),
        "rank top 0.1 + stay_top_share 0.2": with_(**{"triggers.rank.enabled": True, "triggers.rank.top_share": 0.10,
                                                     "watchlist.stay_top_share": 0.20}),
    }  # fmt: skip
    out = []
    for path in args.panels:
        name = Path(path).stem
        p = pd.read_parquet(path)
        p = p.loc[(p["as_of"] >= pd.Timestamp(args.start)) & (p["as_of"] <= pd.Timestamp(args.end))]
        p = p.sort_values(["as_of", "debtor_id"], ignore_index=True)
        p["debtor_id"] = p["debtor_id"].astype("string")
        dates = [pd.Timestamp(d) for d in sorted(p["as_of"].unique())]
        live = ~p["in_default"]
        pay = p["pay_pd"].astype("float64").fillna(0.0)
        for kind, value in [
            ("model", p["pd"]),
            ("mean", (p["pd"] + pay) / 2),
            ("geo", np.sqrt(p["pd"] * pay)),
        ]:
            q = p.assign(pd=value.where(live, 1.0))
            q["band"] = assign_bands(q["pd"], cfg).where(live, "default").astype("string")
            for rule, rcfg in rules.items():
                flags = flag_panel(q, dates, rcfg)
                f = backtest_figures(q.assign(flagged=flags.to_numpy()), rcfg)["figures"]
                size = (flags & live).groupby(q["as_of"]).sum().mean()
                r = {"book": name, "pd": kind, "rule": rule, "precision": f["watchlist_precision"],
                     "recall": f["watchlist_recall"], "lead_strict": f["lead_time_median_days"],
                     "strict_share": f["lead_time_flagged_share"], "lead_first": f["lead_time_first_flag_median_days"],
                     "list": round(float(size), 1)}  # fmt: skip
                out.append(r)
                print(json.dumps(r), flush=True)
    df = pd.DataFrame(out)
    df["cell"] = df.apply(
        lambda r: f"{r['precision']:.3f} / {r['recall']:.3f} / {r['lead_strict']:g} d / {r['list']:g}", axis=1
    )
    pd.set_option("display.width", 300)
    pd.set_option("display.max_colwidth", 60)
    print(df.pivot_table(index=["rule", "pd"], columns="book", values="cell", aggfunc="first").to_string())
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    ge60 = df.assign(ok=df["lead_strict"] >= 60).groupby(["rule", "pd"])["ok"].sum()
    print(
        json.dumps(
            {
                "books": len(args.panels),
                "strict_lead_ge_60": {f"{a} | {b}": int(v) for (a, b), v in ge60.items()},
            }
        )
    )


def pick(args: argparse.Namespace) -> None:
    """Walk-forward choice between the shipped key and ``pay_mean``: at each month-end T, the key
    that did better on the backtest's earlier month-ends whose horizon has ended by T (T' + 90 days
    <= T, at least 30 defaulted queue rows; before that the shipped key), by their pooled capture
    (``capture``) or by the AUC of pay_pd against the PD's on those rows (``auc``). Only what is
    known at T; the figure pools the chosen keys' month-ends as ``table`` does."""
    from sklearn.metrics import roc_auc_score

    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.queue import lgd_for

    cfg = load_config(args.config, expect=NightlyConfig)
    out = []
    for path in args.panels:
        name = Path(path).stem
        p = pd.read_parquet(path)
        p["debtor_id"] = p["debtor_id"].astype("string")
        p = p.loc[(p["as_of"] >= pd.Timestamp(args.start)) & (p["as_of"] <= pd.Timestamp(args.end))]
        p = p.assign(pd_prev=np.nan, rr_pd=np.nan)
        live = ~p["in_default"]
        q = p.loc[p["horizon_observed"] & live & (p["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue)]
        q = q.sort_values(["as_of", "debtor_id"], ignore_index=True)
        bad = np.where(q["label"].fillna(0).astype(int) == 1, q["open_balance"].clip(lower=0), 0.0)
        keys = keys_for(q, lgd_for(q["segment"], cfg.queue), float(args.dpd_threshold))
        y = (q["label"].fillna(0).astype(int) == 1).to_numpy()
        ones = np.ones(len(q))
        row: dict[str, Any] = {"book": name}
        for k in ("shipped", "pay_mean", "oracle"):
            row[k] = round(weighted_capture(orders(q, keys[k]), bad, ones), 4)
        for crit in ("capture", "auc"):
            chosen = keys["shipped"].to_numpy().copy()
            picks = ""
            for T in sorted(q["as_of"].unique()):
                past = (q["as_of"] + pd.Timedelta(days=int(args.horizon_days)) <= T).to_numpy()
                use = "shipped"
                if y[past].sum() >= 30:
                    if crit == "capture":
                        sub, sb, w = q.loc[past], bad[past], np.ones(int(past.sum()))
                        c = {
                            k: weighted_capture(orders(sub, keys[k].loc[past]), sb, w)
                            for k in ("shipped", "pay_mean")
                        }
                        use = "pay_mean" if c["pay_mean"] > c["shipped"] else "shipped"
                    else:
                        a_pd = roc_auc_score(y[past], q.loc[past, "pd"])
                        a_pay = roc_auc_score(y[past], q.loc[past, "pay_pd"].fillna(0.0))
                        use = "pay_mean" if a_pay > a_pd else "shipped"
                at = (q["as_of"] == T).to_numpy()
                chosen[at] = keys[use].to_numpy()[at]
                picks += "m" if use == "pay_mean" else "s"
            cap = weighted_capture(orders(q, pd.Series(chosen, index=q.index)), bad, ones)
            row[f"pick_{crit}"] = round(cap, 4)
            row[f"pick_{crit}_diff"] = round(cap - row["shipped"], 4)
            row[f"pick_{crit}/oracle"] = round(cap / row["oracle"], 3)
            row[f"pick_{crit}_months"] = picks
        row["shipped/oracle"] = round(row["shipped"] / row["oracle"], 3)
        out.append(row)
        print(json.dumps(row), flush=True)
    df = pd.DataFrame(out).set_index("book")
    pd.set_option("display.width", 250)
    print(df.to_string())
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({c: {"better": int((df[f"pick_{c}_diff"] > 0).sum()), "worse": int((df[f"pick_{c}_diff"] < 0).sum()),
                          "ge_095": int((df[f"pick_{c}/oracle"] >= 0.95).sum())} for c in ("capture", "auc")}))  # fmt: skip


def _panels_args(parser: argparse.ArgumentParser) -> None:
    """Panels, nightly config and the month-end window: the options of table, watch and pick."""
    parser.add_argument("panels", nargs="+")
    parser.add_argument("--config", default="conf/nightly.yaml")
    parser.add_argument("--from", dest="start", default="2024-10-01")
    parser.add_argument("--to", dest="end", default="2025-09-30")


def _horizon_args(parser: argparse.ArgumentParser) -> None:
    """The default definition's DPD threshold and horizon that pay_pd reads."""
    parser.add_argument("--dpd-threshold", type=float, default=90.0)
    parser.add_argument("--horizon-days", type=float, default=90.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("panel", help="replay one book with the payment-date view and write its panel")
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True, help="registered PD version")
    p.add_argument("--config", default="conf/nightly.yaml")
    p.add_argument("--train-config", default="conf/train.yaml", help="its paydate section and snapshots.end")
    p.add_argument("--history-from", default="2024-01-01")
    p.add_argument("--from", dest="start", default="2024-10-01")
    p.add_argument("--to", dest="end", default="2025-09-30")
    p.add_argument("--paydate-cut", default="2024-10-29", help="payment-date rows dated up to this day only")
    p.add_argument("--out", required=True)
    t = sub.add_parser("table", help="capture of each key, paired intervals against the shipped key")
    _panels_args(t)
    _horizon_args(t)
    t.add_argument("--reps", type=int, default=400)
    t.add_argument("--seed", type=int, default=9)
    t.add_argument("--json")
    w = sub.add_parser("watch", help="watchlist figures with the PD blended with the payment-date view")
    _panels_args(w)
    w.add_argument("--json")
    k = sub.add_parser("pick", help="walk-forward choice between the shipped key and pay_mean")
    _panels_args(k)
    _horizon_args(k)
    k.add_argument("--json")
    args = ap.parse_args()
    {"panel": build_panel, "table": table, "watch": watch, "pick": pick}[args.cmd](args)


if __name__ == "__main__":
    main()
