"""Payment-date p10-p90 interval: the ``first`` rule (the first day the CDF reaches 0.1 / 0.9, shipped
before session 8) against ``mid`` (each day counted at its middle) and ``shaped`` (``mid`` with each
week's probability spread over its days by the training rows' within-week shape,
``models.paydate.fit_day_shape``; shipped in session 8), ``models.paydate.interval_days``, on
held-out time, per ``ews generate`` regime and seed.

Per regime and seed: the book of ``benchmarks/paydate.py`` (cached under ``--work``), the train
flow's plan (``pipelines.flows.train_paydate.plan``): the held-out model is trained on the
month-ends before the first test month-end C from rows dated <= C only and predicts the open
invoices of the test month-ends (26 observed weeks); the within-week shape comes from the same
training rows (never the test outcomes); ``models.paydate.evaluate`` gives the MAE of
``expected_paid_on`` (the same under every rule: the median is not touched), the share within
+-7 days, the better baseline and the p10-p90 coverage under each rule, with the share of invoices
paid before p10 and after p90 (beyond the horizon counts as +infinity). ``implied``: the coverage
the model's own CDF gives its interval (mean of P(p10 <= paid day <= p90) under the CDF, the
interval [p10, +inf) holding 1 - P(paid before p10) where p90 lies beyond the horizon): what the
rule gives when the model is right.

The median (session 8, ``paydate.weekday_median``): ``expected_paid_on`` with each week's
probability spread evenly over its days (before) or by the training rows' share of settlements per
weekday (``models.paydate.fit_weekday_profile``, the same rows; shipped): MAE, within +-7 days,
and the mean difference of the absolute errors with a 95 % interval from a bootstrap over debtors
(``--boot`` resamples, paired: the same invoices, every invoice of a drawn debtor), and the
``shaped`` coverage with each median.

Also the CPU of reading the rules off the CDF of ``--cpu-rows`` invoices (a 1M-debtor bucket
holds ~150-400k open invoices): ``forecast_frame`` with each rule (a random shape and anchor for ``shaped``).

    nice .venv/bin/python benchmarks/paydate_interval.py --seeds 7 2 11 13 17 23

Prints one row per regime and seed and ends with one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import book_arguments, load  # noqa: E402

from models.paydate import (  # noqa: E402
    INTERVAL_RULES,
    SHAPE_ANCHOR,
    cdf_at,
    cdf_weeks,
    evaluate,
    fit_day_shape,
    fit_hazard,
    fit_weekday_profile,
    forecast_frame,
    interval_days,
    median_days,
    predict_hazards,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402


def sides(F: np.ndarray, actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, float]:
    """Share paid before p10, after p90 (not paid in the horizon: after), and the coverage the
    model's CDF (even within a week) implies."""
    a = np.where(np.isnan(actual), np.inf, actual)
    L = np.where(np.isnan(lo), np.inf, lo)
    Hh = np.where(np.isnan(hi), np.inf, hi)
    before = np.where(np.isnan(lo), F[:, -1], cdf_at(F, np.nan_to_num(lo, nan=1.0) - 1.0))
    by_hi = np.where(np.isnan(hi), 1.0, cdf_at(F, np.nan_to_num(hi, nan=1.0)))
    return {
        "before_p10": float((a < L).mean()),
        "after_p90": float((a > Hh).mean()),
        "implied": float((by_hi - before).mean()),
    }


def run(regime: str, seed: int, args) -> dict:
    c0 = time.process_time()
    portfolio = load(regime, seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    rows = bucket_rows(book, 0, p, H, cfg.paydate.max_invoices_per_snapshot, params.seed)
    booster = fit_hazard(rows["eval"], params)
    cdfs = [cdf_weeks(predict_hazards(booster, inv, T, H)) for T, inv in rows["test"]]
    shape = fit_day_shape(rows["eval"])
    F = np.concatenate(cdfs)
    actual = np.concatenate([inv["actual_days"].to_numpy(dtype=np.float64) for _, inv in rows["test"]])
    anchor = np.concatenate([inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64) for _, inv in rows["test"]])
    out = {"regime": regime, "seed": seed, "invoices": int(len(actual)), "shape": shape.round(4).tolist()}
    for rule in INTERVAL_RULES:
        m, _, _ = evaluate(booster, rows["test"], H, cdfs=cdfs, interval=rule, shape=shape)
        lo, hi = interval_days(F, None, rule, shape, anchor)
        better = min(m["due_date_mae_days"], m["due_plus_lateness_mae_days"])
        out[rule] = {
            "mae_days": m["mae_days"],
            "vs_better_baseline": m["mae_days"] / better - 1.0,
            "within_7d": m["within_7d"],
            "coverage_80": m["coverage_80"],
            **sides(F, actual, lo, hi),
        }
    out["median"] = medians(rows["test"], cdfs, fit_weekday_profile(rows["eval"]), shape, H, args.boot)
    out["cpu_s"] = round(time.process_time() - c0, 1)
    return out


def medians(tests, cdfs, profile: np.ndarray, shape: np.ndarray, H: int, boot: int) -> dict:
    """The median spread evenly against by weekday: figures, paired debtor bootstrap, coverage."""
    err = {"even": [], "weekday": []}
    cov, debtor = {"even": [], "weekday": []}, []
    for (T, inv), F in zip(tests, cdfs, strict=True):
        actual = inv["actual_days"].to_numpy(dtype=np.float64)
        paid = ~np.isnan(actual)
        anchor = inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64)
        a = np.where(paid, actual, np.inf)
        for name, pred in (("even", median_days(F)), ("weekday", median_days(F, None, profile, T))):
            err[name].append(np.abs(np.where(np.isnan(pred), 7.0 * H, pred) - actual)[paid])
            lo, hi = interval_days(F, None, "shaped", shape, anchor, pred)
            inside = (np.where(np.isnan(lo), np.inf, lo) <= a) & (a <= np.where(np.isnan(hi), np.inf, hi))
            cov[name].append(inside)
        debtor.append(inv["code"].to_numpy()[paid])
    e = {k: np.concatenate(v) for k, v in err.items()}
    codes, idx = np.unique(np.concatenate(debtor), return_inverse=True)
    diff = e["weekday"] - e["even"]
    sums, counts = np.bincount(idx, weights=diff), np.bincount(idx)
    rng = np.random.default_rng(0)
    draws = np.empty(boot)
    for i in range(boot):
        pick = rng.integers(0, len(codes), len(codes))
        draws[i] = sums[pick].sum() / counts[pick].sum()
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return {
        "profile_mon_sun": profile.round(4).tolist(),
        **{
            name: {
                "mae_days": float(v.mean()),
                "within_7d": float((v <= 7).mean()),
                "coverage_shaped": float(np.concatenate(cov[name]).mean()),
            }
            for name, v in e.items()
        },
        "diff_days": float(diff.mean()),
        "diff_ci95": [float(lo), float(hi)],
        "significant": bool(hi < 0 or lo > 0),
    }


def cpu_check(n: int) -> dict[str, float]:
    """CPU seconds of ``forecast_frame`` per rule on n invoices with a random 26-week CDF (best of 3)."""
    rng = np.random.default_rng(0)
    h = rng.beta(0.6, 2.0, size=(n, 26))
    F = cdf_weeks(h)
    shape = rng.dirichlet(np.ones(7), size=15)
    anchor = np.where(rng.random(n) < 0.05, np.nan, rng.normal(20.0, 15.0, n))
    out = {}
    for rule in INTERVAL_RULES:
        best = np.inf
        for _ in range(3):
            c = time.process_time()
            forecast_frame(F, 20000, interval=rule, shape=shape, anchor=anchor)
            best = min(best, time.process_time() - c)
        out[rule] = round(best, 3)
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 2, 11, 13])
    ap.add_argument("--cpu-rows", type=int, default=400_000)
    ap.add_argument(
        "--boot", type=int, default=1000, help="debtor bootstrap resamples of the median comparison"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"{'regime':<10} {'seed':>4} {'invoices':>8} {'MAE':>6} {'vs best':>8} {'±7d':>6} | "
        + " | ".join(f"{rule:>6} {'<p10':>5} {'>p90':>5} {'impl':>5}" for rule in INTERVAL_RULES)
    )
    results = []
    for seed in args.seeds:
        for regime in args.regimes:
            r = run(regime, seed, args)
            results.append(r)
            m = r["first"]
            assert all(r[rule]["mae_days"] == m["mae_days"] for rule in INTERVAL_RULES)  # same median
            print(
                f"{regime:<10} {seed:>4} {r['invoices']:>8} {m['mae_days']:>6.2f} {m['vs_better_baseline']:>+8.1%} "
                f"{m['within_7d']:>6.1%} | "
                + " | ".join(
                    f"{r[x]['coverage_80']:>6.1%} {r[x]['before_p10']:>5.1%} {r[x]['after_p90']:>5.1%} "
                    f"{r[x]['implied']:>5.1%}"
                    for x in INTERVAL_RULES
                ),
                flush=True,
            )
    print(
        f"{'regime':<10} {'seed':>4} | median: {'even':>6} {'weekday':>7} {'diff':>7} {'95 % (debtors)':>18} "
        f"{'±7d even':>8} {'±7d wd':>7} | shaped coverage {'even':>6} {'weekday':>7}"
    )
    for r in results:
        m = r["median"]
        print(
            f"{r['regime']:<10} {r['seed']:>4} | median: {m['even']['mae_days']:>6.3f} {m['weekday']['mae_days']:>7.3f} "
            f"{m['diff_days']:>+7.4f} [{m['diff_ci95'][0]:>+7.4f}, {m['diff_ci95'][1]:>+7.4f}] "
            f"{m['even']['within_7d']:>8.1%} {m['weekday']['within_7d']:>7.1%} | shaped coverage "
            f"{m['even']['coverage_shaped']:>6.1%} {m['weekday']['coverage_shaped']:>7.1%}"
        )
    inband = {
        rule: sum(abs(r[rule]["coverage_80"] - 0.8) <= 0.05 for r in results) for rule in INTERVAL_RULES
    }
    cpu = cpu_check(args.cpu_rows)
    print(f"in 80 ± 5 %: {inband} of {len(results)}; forecast_frame CPU s on {args.cpu_rows} invoices: {cpu}")
    summary = {"runs": results, "in_band": inband, "forecast_frame_cpu_s": cpu, "cpu_rows": args.cpu_rows}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
