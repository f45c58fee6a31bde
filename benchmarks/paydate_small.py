"""The payment-date model's held-out figures and its gate on small books (100-1,000 debtors).

A 150-customer Xero walk (session 17, s17-robust) got no ``ews-paydate`` champion from its first
``ews train``: the held-out p10-p90 coverage was 66.6 %, outside the gate's fixed band 70-90 %, so
the nightly wrote no invoice forecast and no cash forecast. On a small book the held-out invoices
are few and clustered by debtor; this harness measures how far the coverage and the MAE move by
chance there. Per regime x size x seed it follows the train flow's plan
(``pipelines.flows.train_paydate.plan``, shipped ``conf/train.yaml`` settings, the ``shaped``
interval), and reports:

- the pooled held-out figures the gate reads (MAE, the better baseline's MAE, coverage);
- 95 % intervals from a bootstrap over debtors (``--boot`` draws): the coverage, and the MAE minus
  the better baseline's (paired);
- the decision of today's gate (:func:`pipelines.adapters.paydate_registry.gate_decision`), and the
  one with the MAE read as points (before session 19: the interval keys left out);
- ``--compare``: the same against the full tree (``paydate.rows_per_leaf`` 0, before session 17),
  with a paired debtor-bootstrap interval of the MAE difference.

    nice -n 19 .venv/bin/python benchmarks/paydate_small.py --work /tmp/ews-paysmall \\
        --sizes 150 300 1000 --months 24 --seeds 1 2 --json /tmp/paysmall.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import load  # noqa: E402

from features.paydate import PERIOD_DAYS  # noqa: E402
from models.paydate import (  # noqa: E402
    SHAPE_ANCHOR,
    baseline_days,
    cdf_weeks,
    evaluate,
    fit_day_shape,
    fit_hazard,
    interval_days,
    median_days,
    predict_hazards,
)
from pipelines.adapters.paydate_registry import gate_decision  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402


def per_invoice(rows: dict, booster, shape: np.ndarray, H: int) -> dict[str, np.ndarray]:
    """Debtor code, inside-interval flag, model error and better-baseline error per test invoice
    (errors NaN for invoices not paid within the horizon)."""
    out: dict[str, list[np.ndarray]] = {"code": [], "inside": [], "err": [], "due": [], "late": []}
    for T, inv in rows["test"]:
        F = cdf_weeks(predict_hazards(booster, inv, T, H))
        anchor = inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64)
        pred = median_days(F)
        lo, hi = interval_days(F, None, "shaped", shape, anchor, pred)
        actual = inv["actual_days"].to_numpy(dtype=np.float64)
        a = np.where(np.isnan(actual), np.inf, actual)
        inside = (np.where(np.isnan(lo), np.inf, lo) <= a) & (a <= np.where(np.isnan(hi), np.inf, hi))
        horizon = float(PERIOD_DAYS * H)
        err = np.abs(np.where(np.isnan(pred), horizon, pred) - actual)
        base = baseline_days(inv, T)
        out["code"].append(inv["code"].to_numpy())
        out["inside"].append(inside)
        out["err"].append(err)
        out["due"].append(np.abs(base["due_date"] - actual))
        out["late"].append(np.abs(base["due_plus_lateness"] - actual))
    return {k: np.concatenate(v) for k, v in out.items()}


def bootstrap(inv: dict[str, np.ndarray], boot: int) -> dict[str, list[float]]:
    """95 % intervals over debtors: coverage; model MAE minus the better baseline's MAE (the
    baseline chosen on the full sample, as the gate does)."""
    codes, idx = np.unique(inv["code"], return_inverse=True)
    paid = ~np.isnan(inv["err"])
    better = "due" if np.nanmean(inv["due"]) <= np.nanmean(inv["late"]) else "late"
    n_all = np.bincount(idx, minlength=len(codes)).astype(float)
    n_in = np.bincount(idx, weights=inv["inside"].astype(float), minlength=len(codes))
    n_paid = np.bincount(idx[paid], minlength=len(codes)).astype(float)
    d_sum = np.bincount(idx[paid], weights=(inv["err"] - inv[better])[paid], minlength=len(codes))
    rng = np.random.default_rng(0)
    cov, diff = np.empty(boot), np.empty(boot)
    for i in range(boot):
        w = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        cov[i] = (w * n_in).sum() / (w * n_all).sum()
        diff[i] = (w * d_sum).sum() / max((w * n_paid).sum(), 1.0)
    return {
        "coverage_ci": [float(v) for v in np.quantile(cov, [0.025, 0.975])],
        "mae_minus_better_ci": [float(v) for v in np.quantile(diff, [0.025, 0.975])],
        "debtors_in_test": int(len(codes)),
    }


def paired_mae(a: dict[str, np.ndarray], b: dict[str, np.ndarray], boot: int) -> list[float]:
    """95 % interval over debtors of MAE(b) - MAE(a) on the same test invoices."""
    paid = ~np.isnan(a["err"])
    codes, idx = np.unique(a["code"][paid], return_inverse=True)
    d = np.bincount(idx, weights=(b["err"] - a["err"])[paid], minlength=len(codes))
    n = np.bincount(idx, minlength=len(codes)).astype(float)
    rng = np.random.default_rng(1)
    draws = np.empty(boot)
    for i in range(boot):
        w = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        draws[i] = (w * d).sum() / (w * n).sum()
    return [float(v) for v in np.quantile(draws, [0.025, 0.975])]


def run(
    regime: str, debtors: int, months: int, seed: int, work: Path, boot: int, compare: bool = False
) -> dict:
    c0 = time.process_time()
    portfolio = load(regime, seed, work, debtors, months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(cfg.seed)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    rows = bucket_rows(book, 0, p, H, cfg.paydate.max_invoices_per_snapshot, params.seed)
    booster = fit_hazard(rows["eval"], params)
    shape = fit_day_shape(rows["eval"])
    metrics, _, _ = evaluate(booster, rows["test"], H, interval="shaped", shape=shape)
    inv = per_invoice(rows, booster, shape, H)
    assert abs(inv["inside"].mean() - metrics["coverage_80"]) < 1e-12, "coverage differs from evaluate()"
    decision = gate_decision(metrics)
    # the gate before session 19 (s19-firstrun): the MAE line a point comparison, no interval
    point = gate_decision({k: v for k, v in metrics.items() if not k.startswith("mae_diff_ci")})
    better = min(metrics["due_date_mae_days"], metrics["due_plus_lateness_mae_days"])
    extra = {}
    if compare:  # the same plan with the full tree (rows_per_leaf 0, before session 17)
        full = fit_hazard(rows["eval"], replace(params, rows_per_leaf=0))
        m0, _, _ = evaluate(full, rows["test"], H, interval="shaped", shape=shape)
        extra = {
            "leaves": params.leaves_for(len(rows["eval"])),
            "full_mae_days": m0["mae_days"],
            "full_coverage_80": m0["coverage_80"],
            "full_gate": "pass" if gate_decision(m0).passed else "FAIL",
            "mae_minus_full_ci": paired_mae(per_invoice(rows, full, shape, H), inv, boot),
        }
    return {
        "regime": regime,
        "debtors": debtors,
        "months": months,
        "seed": seed,
        "train_rows": int(len(rows["eval"])),
        "test_invoices": int(metrics["invoices"]),
        "paid_in_horizon": int(metrics["paid_in_horizon"]),
        "mae_days": metrics["mae_days"],
        "better_baseline_mae_days": better,
        "coverage_80": metrics["coverage_80"],
        **bootstrap(inv, boot),
        "gate_today": "pass" if decision.passed else "FAIL",
        "gate_point_mae": "pass" if point.passed else "FAIL",
        "mae_diff_ci": [
            metrics.get("mae_diff_ci_low", float("nan")),
            metrics.get("mae_diff_ci_high", float("nan")),
        ],
        "gate_reasons": list(decision.reasons),
        **extra,
        "cpu_s": round(time.process_time() - c0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-paysmall"))
    ap.add_argument("--regimes", nargs="+", default=["base", "stress", "quiet", "contagion"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[150, 300, 1000])
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--compare", action="store_true", help="also the full tree (rows_per_leaf 0)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    print(
        "| regime | debtors | seed | test invoices (debtors) | MAE / better baseline (d) | "
        "MAE - baseline [95 %] | coverage [95 %] | gate today | gate with the point MAE (before s19) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for debtors in args.sizes:
            for regime in args.regimes:
                r = run(regime, debtors, args.months, seed, args.work, args.boot, args.compare)
                results.append(r)
                d, c = r["mae_minus_better_ci"], r["coverage_ci"]
                if args.compare:
                    f = r["mae_minus_full_ci"]
                    print(
                        f"| {regime} | {debtors:,} | {seed} | full tree: {r['full_mae_days']:.2f} d, "
                        f"{r['full_coverage_80']:.1%}, gate {r['full_gate']} | {r['leaves']} leaves: "
                        f"{r['mae_days']:.2f} d, MAE - full [{f[0]:+.3f}, {f[1]:+.3f}] | "
                        f"{r['coverage_80']:.1%} | gate {r['gate_today']} |",
                        flush=True,
                    )
                    continue
                print(
                    f"| {regime} | {debtors:,} | {seed} | {r['test_invoices']:,} ({r['debtors_in_test']}) | "
                    f"{r['mae_days']:.2f} / {r['better_baseline_mae_days']:.2f} | [{d[0]:+.2f}, {d[1]:+.2f}] | "
                    f"{r['coverage_80']:.1%} [{c[0]:.1%}, {c[1]:.1%}] | {r['gate_today']} | {r['gate_point_mae']} |",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
