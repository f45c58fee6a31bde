"""Payment-date model on held-out time, per ``ews generate`` regime, against two baselines; and a
13-week cash-forecast backtest over past month-ends.

For each regime the harness generates a book (cached under ``--work``) and follows the train flow's
plan (``pipelines.flows.train_paydate.plan``): the model is trained on the month-ends before the
first test snapshot C from rows dated <= C only, then

- invoice level, on the test snapshots (the latest 3 month-ends followed by 26 observed weeks):
  MAE in days of ``expected_paid_on`` against the actual settlement day (invoices settled within the
  horizon), the share within +-7 days, the p10-p90 coverage (every open invoice; beyond the horizon
  counts as +infinity), and the same point figures for "paid on the due date" and "due date + the
  debtor's mean lateness as of T";
- cash, out of time as the flow ships it: the flow's plan is run as if the data ended at X, the
  first of the latest ``--cash-month-ends`` month-ends followed by 13 observed weeks. Its held-out
  model (trained before its test month-ends) forecasts those test month-ends, which gives the shared
  cash shock (``models.paydate.estimate_cash_shock``, as the flow stores it with the version); its
  final model (trained on rows dated <= X) then forecasts the 13 weeks after each month-end from X
  on: the forecast per week (sum of open amount x P(settled that week)) against the actual (open
  amount at T of the invoices settled that week); the weekly absolute percentage error
  |forecast - actual| / actual (its mean over all weeks, over weeks 1-4, in week 13), the
  amount-weighted WAPE sum |forecast - actual| / sum actual, and the share of weeks whose actual lies
  in the 80 % interval, with the shock and without it (independent invoices).

    nice .venv/bin/python benchmarks/paydate.py --work /tmp/ews-paydate --regimes base stress quiet contagion \\
        --debtors 2000 --months 36

Prints one row per regime and writes ``--json`` with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from features.ledger import day_number, prepare_ledger  # noqa: E402
from features.paydate import PERIOD_DAYS, evaluation_invoices  # noqa: E402
from features.snapshots import month_ends  # noqa: E402
from features.tables import Portfolio  # noqa: E402
from models.paydate import (  # noqa: E402
    actual_cash,
    cash_intervals,
    cash_moments,
    cdf_weeks,
    evaluate,
    fit_hazard,
    predict_hazards,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402
from pipelines.synthetic import generate, regime_params  # noqa: E402

WEEKS = 13


def load(regime: str, seed: int, work: Path, debtors: int | None, months: int | None) -> Portfolio:
    params = regime_params(regime, seed=seed, debtors=debtors, months=months)
    out = work / f"{regime}-{params.debtors}x{params.months}-s{seed}"
    if not (out / "generate-summary.json").exists():
        generate(params, out)
    tables = {}
    for name in ("invoices", "payments", "debtors", "events"):
        path = out / f"{name}.parquet"
        if path.exists():
            tables[name] = pd.read_parquet(path)
    return Portfolio(**tables)


def cash_backtest(booster, ledger, dates: list[int], horizon: int, shock_sd: float) -> pd.DataFrame:
    frames = []
    for T in dates:
        inv = evaluation_invoices(ledger, T, T + PERIOD_DAYS * WEEKS, WEEKS)
        F = cdf_weeks(predict_hazards(booster, inv, T, horizon))
        amount = inv["open_amount"].to_numpy()
        moments = cash_moments(amount, F, np.full(len(inv), -1), [], WEEKS)
        table = cash_intervals(moments, T, WEEKS, shock_sd)
        indep = cash_intervals(moments, T, WEEKS)
        table["indep_low_80"], table["indep_high_80"] = indep["cash_low_80"], indep["cash_high_80"]
        table.insert(0, "as_of", pd.Timestamp(T, unit="D"))
        table["actual_cash"] = actual_cash(amount, inv["actual_days"].to_numpy(), WEEKS)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    out["ape"] = (out["expected_cash"] - out["actual_cash"]).abs() / out["actual_cash"].where(
        out["actual_cash"] > 0
    )
    return out


def run_regime(regime: str, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    portfolio = load(regime, args.seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, params.horizon_weeks)
    rows = bucket_rows(book, 0, p, params.horizon_weeks, cfg.paydate.max_invoices_per_snapshot, params.seed)
    t1 = time.perf_counter()
    booster = fit_hazard(rows["eval"], params)
    t2 = time.perf_counter()
    metrics, per, _ = evaluate(booster, rows["test"], params.horizon_weeks, WEEKS)
    t3 = time.perf_counter()
    ledger = prepare_ledger(portfolio)
    last = p.final_cut
    dates = [
        int(day_number(d))
        for d in month_ends(pd.Timestamp(p.eval_train[0], unit="D"), pd.Timestamp(last, unit="D"))
    ]
    dates = [d for d in dates if d + PERIOD_DAYS * WEEKS <= last][-args.cash_month_ends :]
    px = plan(book, cfg, params.horizon_weeks, last=pd.Timestamp(dates[0], unit="D"))
    rx = bucket_rows(book, 0, px, params.horizon_weeks, cfg.paydate.max_invoices_per_snapshot, params.seed)
    mx, _, _ = evaluate(fit_hazard(rx["eval"], params), rx["test"], params.horizon_weeks, WEEKS)
    shock = mx["cash_shock_sd"]
    t4 = time.perf_counter()
    cash = cash_backtest(fit_hazard(rx["final"], params), ledger, dates, params.horizon_weeks, shock)
    seen = cash["actual_cash"] > 0
    inside = (cash["cash_low_80"] <= cash["actual_cash"]) & (cash["actual_cash"] <= cash["cash_high_80"])
    indep = (cash["indep_low_80"] <= cash["actual_cash"]) & (cash["actual_cash"] <= cash["indep_high_80"])
    by_week = cash.loc[seen].groupby("week")["ape"].mean()
    better = min(metrics["due_date_mae_days"], metrics["due_plus_lateness_mae_days"])
    return {
        "regime": regime,
        "debtors": int(portfolio.debtors["debtor_id"].nunique()) if portfolio.debtors is not None else None,
        "plan": p.describe(),
        "train_rows": int(len(rows["eval"])),
        "metrics": metrics,
        "mae_vs_better_baseline": metrics["mae_days"] / better - 1.0,
        "per_snapshot": json.loads(per.to_json(orient="records", date_format="iso")),
        "cash": {
            "shock_plan": px.describe(),
            "shock_sd": shock,
            "month_ends": len(dates),
            "weeks": int(seen.sum()),
            "mean_ape": float(cash.loc[seen, "ape"].mean()),
            "wape": float(
                (cash["expected_cash"] - cash["actual_cash"]).abs().sum() / cash["actual_cash"].sum()
            ),
            "mean_ape_weeks_1_4": float(cash.loc[seen & (cash["week"] <= 4), "ape"].mean()),
            "median_ape": float(cash.loc[seen, "ape"].median()),
            "ape_week1": float(by_week.get(1, np.nan)),
            "ape_week13": float(by_week.get(WEEKS, np.nan)),
            "total_error": float(cash["expected_cash"].sum() / cash["actual_cash"].sum() - 1.0),
            "coverage_80": float(inside[seen].mean()),
            "coverage_80_independent": float(indep[seen].mean()),
            "coverage_80_weeks_1_4": float(inside[seen & (cash["week"] <= 4)].mean()),
            "coverage_80_weeks_9_13": float(inside[seen & (cash["week"] >= 9)].mean()),
        },
        "seconds": {
            "rows": round(t1 - t0, 1),
            "fit": round(t2 - t1, 1),
            "evaluate": round(t3 - t2, 1),
            "cash": round(time.perf_counter() - t4, 1),
        },
    }


def book_arguments(description: str) -> argparse.ArgumentParser:
    """The regime books' options shared by the payment-date benchmarks."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-paydate"))
    ap.add_argument("--regimes", nargs="+", default=["base", "stress", "quiet", "contagion"])
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    return ap


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--cash-month-ends", type=int, default=6, help="month-ends of the cash backtest")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    head = (
        f"{'regime':<10} {'invoices':>8} {'MAE':>6} {'due':>6} {'due+late':>8} {'vs best':>8} "
        f"{'±7d':>6} {'±7d due+late':>12} {'p10-p90':>8} {'cash APE':>8} {'APE w1-4':>8} {'APE w13':>7} {'WAPE':>6} "
        f"{'cash cov80':>10} {'indep':>6} {'w1-4':>6} {'w9-13':>6} {'shock':>6} {'fit s':>6}"
    )
    print(head)
    for regime in args.regimes:
        r = run_regime(regime, args)
        results.append(r)
        m, c = r["metrics"], r["cash"]
        print(
            f"{regime:<10} {int(m['invoices']):>8} {m['mae_days']:>6.2f} {m['due_date_mae_days']:>6.2f} "
            f"{m['due_plus_lateness_mae_days']:>8.2f} {r['mae_vs_better_baseline']:>+8.1%} {m['within_7d']:>6.1%} "
            f"{m['due_plus_lateness_within_7d']:>12.1%} {m['coverage_80']:>8.1%} {c['mean_ape']:>8.1%} "
            f"{c['mean_ape_weeks_1_4']:>8.1%} {c['ape_week13']:>7.1%} {c['wape']:>6.1%} {c['coverage_80']:>10.1%} "
            f"{c['coverage_80_independent']:>6.1%} {c['coverage_80_weeks_1_4']:>6.1%} {c['coverage_80_weeks_9_13']:>6.1%} "
            f"{c['shock_sd']:>6.1%} {r['seconds']['fit']:>6.1f}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
