"""Payment-date model: where its held-out error is, against "due date + mean lateness" and the oracle.

Per ``ews generate`` regime (the books and plan of ``benchmarks/paydate_ablation.py``): the shipped
model (``conf/train.yaml``'s ``paydate`` settings, :data:`features.paydate.FEATURES`) is fitted on
the held-out plan and predicts the test month-ends; every open invoice settled within the horizon
gets absolute errors of: the model's point forecast (``--median``: the median given paid within the
horizon, ``models.paydate.median_days``, shipped since session 6, or the plain median), the
baseline, the oracle that knows the generator's lateness distribution
(``paydate_ablation.oracle_days``: the debtor's health at the start of the due month, partly after
T), the oracle with the health no later than T (``oracle_t``: the latent state at T, none of the
future) and sessions 4-5's oracle (one month late, ``oracle_old``). Also, as variants of the point
forecast: the median given paid without the p10 floor (``cond``), only where P(paid in the horizon)
>= 0.5 (``cond_half``), ``median_days`` (``shipped``), and the median with each week's probability
spread over its days by the training window's weekday profile (``wd``), with the p10-p90 coverage
of that profile.

The invoices are grouped by one factor at a time (days to the due date at T, the debtor's lateness
level, its trend, settled invoices, amount against the debtor's usual, disputed, part-paid, days
since the last part payment, the debtor's payment-weekday rhythm, the model's P(paid within the
horizon), ...); per group: share of invoices, the MAEs, the model's bias (mean predicted - actual)
and the group's share of the total gap between model and oracle (sum of model minus oracle errors
in the group / sum over all invoices). Also the weekday of the actual settlements and of the
predicted medians.

    nice .venv/bin/python benchmarks/paydate_diagnose.py --regimes base stress quiet contagion --seed 7 [--median plain]

Prints one table per regime and factor and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import book_arguments, load  # noqa: E402
from paydate_ablation import oracle_days  # noqa: E402

from features.ledger import prepare_ledger  # noqa: E402
from features.paydate import evaluation_invoices, training_rows  # noqa: E402
from models.paydate import (  # noqa: E402
    baseline_days,
    cdf_weeks,
    fit_hazard,
    median_days,
    predict_hazards,
    quantile_days,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402


def _bins(x: pd.Series, edges: list[float], labels: list[str]) -> pd.Series:
    return pd.cut(x, edges, labels=labels, right=False).astype(object).where(x.notna(), "none")


FACTORS = {
    "days_to_due at T": lambda d: _bins(
        d["days_to_due"],
        [-1e9, -30, -7, 0, 15, 31, 1e9],
        ["<-30", "-30..-8", "-7..-1", "0..14", "15..30", ">30"],
    ),
    "debtor median lateness (last 5)": lambda d: _bins(
        d["debtor_late_median_last5"],
        [-1e9, 0, 5, 10, 20, 40, 1e9],
        ["<0", "0..4", "5..9", "10..19", "20..39", ">=40"],
    ),
    "trend (mean last 5 - mean all)": lambda d: _bins(
        d["debtor_late_trend"], [-1e9, -10, -3, 3, 10, 1e9], ["<-10", "-10..-4", "-3..2", "3..9", ">=10"]
    ),
    "debtor std lateness": lambda d: _bins(
        d["debtor_std_lateness"], [0, 5, 10, 20, 1e9], ["<5", "5..9", "10..19", ">=20"]
    ),
    "settled invoices of the debtor": lambda d: _bins(
        d["debtor_settled_count"], [0, 1, 5, 20, 1e9], ["0", "1..4", "5..19", ">=20"]
    ),
    "amount vs the debtor's usual (log)": lambda d: _bins(
        d["amount_vs_usual"], [-1e9, -0.5, 0.5, 1e9], ["smaller", "usual", "larger"]
    ),
    "disputed": lambda d: d["disputed"].map({0.0: "no", 1.0: "yes"}),
    "part-paid (share_paid > 0)": lambda d: np.where(d["share_paid"] > 0, "yes", "no"),
    "days since last part payment": lambda d: _bins(
        d["days_since_part_paid"], [0, 7, 21, 36, 1e9], ["0..6", "7..20", "21..35", ">=36"]
    ),
    "payment weekday rhythm (share on usual weekday)": lambda d: _bins(
        d["pay_wd_share"], [0, 0.3, 0.5, 0.8, 1.01], ["<0.3", "0.3..0.5", "0.5..0.8", ">=0.8"]
    ),
    "other open invoice due earlier": lambda d: np.where(d["older_open_max_dpd"].notna(), "yes", "no"),
    "model's P(paid within the horizon)": lambda d: _bins(
        d["p_horizon"],
        [0, 0.5, 0.8, 0.95, 0.99, 1.01],
        ["<0.5", "0.5..0.8", "0.8..0.95", "0.95..0.99", ">=0.99"],
    ),
}


def table(d: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    d = d.assign(g=np.asarray(key))
    gap_total = (d["e_model"] - d["e_oracle"]).sum()
    t = d.groupby("g").agg(
        n=("e_model", "size"),
        model=("e_model", "mean"),
        baseline=("e_base", "mean"),
        oracle=("e_oracle", "mean"),
        oracle_t=("e_oracle_t", "mean"),
        bias=("bias", "mean"),
    )
    t["share"] = t["n"] / len(d)
    t["gap_share"] = (
        d.groupby("g").apply(lambda x: (x["e_model"] - x["e_oracle"]).sum()).reindex(t.index) / gap_total
    )
    return t[["share", "model", "baseline", "oracle_t", "oracle", "bias", "gap_share"]]


def weekday_profile(settled: np.ndarray, cut: int, days: int = 365) -> np.ndarray:
    """Share of settlements per weekday (0 = Monday) of the invoices settled in the ``days`` days to ``cut``."""
    s = settled[~np.isnan(settled)].astype(np.int64)
    s = s[(s > cut - days) & (s <= cut)]
    c = np.bincount((s + 3) % 7, minlength=7).astype(np.float64)
    return c / c.sum()


def quantile_days_profile(F: np.ndarray, q: float, T: int, profile: np.ndarray) -> np.ndarray:
    """:func:`models.paydate.quantile_days` on weeks with each week's probability spread over its
    days by the weekday ``profile`` instead of evenly."""
    n = F.shape[0]
    reached = q <= F
    ok = reached[:, -1]
    j = np.argmax(reached, axis=1)
    idx = np.arange(n)
    Fj = F[idx, j]
    prev = np.where(j > 0, F[idx, np.maximum(j - 1, 0)], 0.0)
    step = np.where(Fj > prev, Fj - prev, 1.0)
    frac = np.clip((q - prev) / step, 0.0, 1.0)
    c = np.cumsum(profile[(T + np.arange(1, 8) + 3) % 7])
    i = np.minimum(np.searchsorted(c, frac - 1e-12, side="left") + 1, 7)
    return np.where(ok, 7 * j + i, np.nan).astype(np.float64)


def run_regime(regime: str, args: argparse.Namespace) -> dict:
    portfolio = load(regime, args.seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    ledger = prepare_ledger(portfolio)
    rows = training_rows(ledger, p.eval_train, p.eval_cut, H, cfg.paydate.max_invoices_per_snapshot, 7)
    booster = fit_hazard(rows, params)
    from features.paydate import settlement_days

    profile = weekday_profile(settlement_days(ledger, p.eval_cut), p.eval_cut)
    print("weekday profile (Mon..Sun) of the training window's settlements:", profile.round(3).tolist())
    frames = []
    qs = {"p10": [], "p90": [], "p10w": [], "p90w": [], "act": []}
    for T in p.test:
        inv = evaluation_invoices(ledger, T, p.final_cut, H, True)
        F = cdf_weeks(predict_hazards(booster, inv, T, H))
        inv["pred"] = quantile_days(F, 0.5) if args.median == "plain" else median_days(F)
        inv["pred_wd"] = quantile_days_profile(F, 0.5, T, profile)
        # the median given paid within the horizon with no floor (the MAE counts settled invoices only)
        inv["pred_cond"] = quantile_days(F / np.maximum(F[:, -1:], 1e-12), 0.5)
        inv["pred_shipped"] = median_days(F)  # the same, not below the p10 level (session 6, shipped)
        inv["p_horizon"] = F[:, -1]
        qs["p10"].append(quantile_days(F, 0.1))
        qs["p90"].append(quantile_days(F, 0.9))
        qs["p10w"].append(quantile_days_profile(F, 0.1, T, profile))
        qs["p90w"].append(quantile_days_profile(F, 0.9, T, profile))
        qs["act"].append(inv["actual_days"].to_numpy())
        inv["base"] = baseline_days(inv, T)["due_plus_lateness"]
        inv["oracle"] = oracle_days(regime, args.seed, args.work, args.debtors, args.months, inv, T, ledger)
        inv["oracle_old"] = oracle_days(
            regime, args.seed, args.work, args.debtors, args.months, inv, T, ledger, legacy_month=True
        )
        inv["oracle_t"] = oracle_days(
            regime, args.seed, args.work, args.debtors, args.months, inv, T, ledger, health_at_t=True
        )
        inv["T"] = T
        frames.append(inv)
    d = pd.concat(frames, ignore_index=True)
    q = {k: np.concatenate(v) for k, v in qs.items()}
    act = np.where(np.isnan(q["act"]), np.inf, q["act"])

    def cover(lo, hi):
        lo, hi = np.where(np.isnan(lo), np.inf, lo), np.where(np.isnan(hi), np.inf, hi)
        return float(((lo <= act) & (act <= hi)).mean())

    coverage = {"linear": cover(q["p10"], q["p90"]), "weekday": cover(q["p10w"], q["p90w"])}
    d = d[d["actual_days"].notna()].copy()
    hd = 7 * H
    d["pred"] = d["pred"].fillna(hd)
    d["oracle"] = d["oracle"].fillna(d["base"])
    d["oracle_t"] = d["oracle_t"].fillna(d["base"])
    d["oracle_old"] = d["oracle_old"].fillna(d["base"])
    d["e_oracle_old"] = (d["oracle_old"] - d["actual_days"]).abs()
    d["e_oracle_t"] = (d["oracle_t"] - d["actual_days"]).abs()
    d["pred_wd"] = d["pred_wd"].fillna(hd)
    d["e_model"] = (d["pred"] - d["actual_days"]).abs()
    d["e_wd"] = (d["pred_wd"] - d["actual_days"]).abs()
    d["e_cond"] = (d["pred_cond"].fillna(hd) - d["actual_days"]).abs()
    d["e_cond_half"] = np.where(d["p_horizon"] >= 0.5, d["e_cond"], d["e_model"])
    d["e_shipped"] = (d["pred_shipped"].fillna(hd) - d["actual_days"]).abs()
    d["e_base"] = (d["base"] - d["actual_days"]).abs()
    d["e_oracle"] = (d["oracle"] - d["actual_days"]).abs()
    d["bias"] = d["pred"] - d["actual_days"]
    out = {
        "regime": regime,
        "seed": args.seed,
        "invoices": len(d),
        "mae": {
            k: float(d[f"e_{k}"].mean())
            for k in (
                "model",
                "wd",
                "cond",
                "cond_half",
                "shipped",
                "base",
                "oracle",
                "oracle_t",
                "oracle_old",
            )
        },
        "coverage": coverage,
        "factors": {},
    }
    print(
        f"\n== {regime} seed {args.seed}: {len(d)} settled test invoices; MAE model {out['mae']['model']:.2f} "
        f"baseline {out['mae']['base']:.2f} oracle {out['mae']['oracle']:.2f} (health at T: {out['mae']['oracle_t']:.2f}; sessions 4-5's, one month late: {out['mae']['oracle_old']:.2f}); weekday-profile median "
        f"{out['mae']['wd']:.2f}; median given paid in the horizon {out['mae']['cond']:.2f} (only where P >= 0.5: {out['mae']['cond_half']:.2f}; not below p10, shipped: {out['mae']['shipped']:.2f}); p10-p90 coverage linear {coverage['linear']:.1%} weekday {coverage['weekday']:.1%}",
        flush=True,
    )
    for name, f in FACTORS.items():
        t = table(d, f(d))
        out["factors"][name] = json.loads(t.round(4).to_json(orient="index"))
        print(f"-- {name}\n{t.round(3).to_string()}", flush=True)
    wd_act = ((d["T"] + d["actual_days"]).astype(np.int64) + 3) % 7
    wd_pred = ((d["T"] + d["pred"]).astype(np.int64) + 3) % 7
    out["actual_weekday_share"] = np.bincount(wd_act, minlength=7).tolist()
    out["pred_weekday_share"] = np.bincount(wd_pred, minlength=7).tolist()
    print("weekday (Mon..Sun) of actual settlements:", out["actual_weekday_share"])
    print("weekday (Mon..Sun) of predicted medians: ", out["pred_weekday_share"])
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--median",
        choices=["given-paid", "plain"],
        default="given-paid",
        help="the model's point forecast: median given paid in the horizon (shipped since session 6) or plain",
    )
    args = ap.parse_args()
    results = [run_regime(r, args) for r in args.regimes]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    print(json.dumps([{"regime": r["regime"], "seed": r["seed"], **r["mae"]} for r in results]))


if __name__ == "__main__":
    main()
