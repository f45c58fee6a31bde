"""Payment-date point forecast (issue 13 part 1): candidates for ``expected_paid_on`` against the
shipped median given paid, on held-out time, per ``ews generate`` regime and seed (session 13).

The hazard model, its plan, rows and test month-ends are the training flow's
(``pipelines.flows.train_paydate``, as ``benchmarks/paydate.py``). Variants of the point forecast,
each scored on the same test invoices (MAE over the invoices paid within the horizon, the share
within +-7 days, the p10-p90 coverage of the shipped interval, which no variant changes, except
that the point is clamped into it):

- ``shipped``: ``models.paydate.median_days`` (the median given paid within the horizon, each week's
  probability spread evenly over its days);
- ``shaped``: the same median read with the version's within-week day shape
  (``models.paydate.fit_day_shape``, the table the p10-p90 interval uses since session 8);
- ``q50``: a LightGBM fitted for absolute error directly (objective ``quantile``, alpha 0.5) on the
  days from T to payment of the invoices paid within the horizon, at month-ends T whose whole
  horizon is observed by the evaluation cut C (T + 26 weeks <= C: no censoring; the latest
  ``--point-snapshots`` of them), from rows dated <= C only. Inputs: the hazard's invoice and debtor
  features at T, plus the hazard's own outputs (its median given paid, the mid-day positions of its
  p10 and p90, P(paid) by weeks 1, 2, 4 and the horizon), taken **out of fold**: the debtors are
  split in ``--folds`` groups, and each group's inputs come from a hazard fitted on the C-dated
  training rows of the other groups' debtors (a debtor's own outcomes never shape its inputs). On
  the test month-ends the inputs come from the held-out hazard itself (all debtors), as they would
  in the nightly. The prediction is rounded to a whole day, clamped into [p10, p90], and empty where
  the hazard's is (P(paid within the horizon) < 0.1);
- ``q50res``: the same model on the residual ``days - hazard median`` (objective ``quantile`` 0.5);
- ``q50+state`` / ``q50res+state``: plus the debtor's state at T beyond today's features
  (``features.paydate`` candidates: the lateness of its last settlement, the days since it, the
  recency-weighted lateness (half-lives 30, 90 d), its oldest open invoice's days past due minus
  its recent median lateness, an older open invoice's days past due, the days since the invoice's
  last part payment).

- ``auto``: ``q50+state`` only when, fitted on the earlier point month-ends, it beats the hazard's
  median on the latest 3 (out of time, rows dated <= C): a choice a flow could make;
- ``bias`` (``--bias-days N``): the shipped median shifted by the book's recent bias, the median of
  (settlement day - forecast median) of the invoices open N days before T that the same hazard
  expected within N / 2 days (each observed by T, or known to be later: no row after T);
  ``bias_c``: the same shift computed once at the cut C (T = C) and kept for every test month-end,
  as a training flow would store it with the version.

Per variant against ``shipped``: the paired difference of the absolute errors with a 95 % interval
from a bootstrap over debtors (``--boot`` draws). CPU seconds of the point model's fit and
prediction beside the hazard's.

    nice .venv/bin/python benchmarks/paydate_point.py --seeds 7 2 --json /tmp/s13-point-7-2.json

Prints one row per regime x seed x variant; ``--json`` holds every figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import book_arguments, load  # noqa: E402

from features.ledger import day_number, ledger_state, prepare_ledger  # noqa: E402
from features.paydate import (  # noqa: E402
    DEBTOR_FEATURES,
    INVOICE_FEATURES,
    PERIOD_DAYS,
    _sample,
    evaluation_invoices,
    open_invoices,
    person_periods,
    settlement_days,
)
from features.snapshots import month_ends  # noqa: E402
from models.paydate import (  # noqa: E402
    MEDIAN_FLOOR,
    SHAPE_ANCHOR,
    _shaped_position,
    baseline_days,
    cdf_weeks,
    fit_day_shape,
    fit_hazard,
    interval_days,
    median_days,
    point_metrics,
    predict_hazards,
    quantile_position,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train import data_window  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402

STATE = (
    "late_last",
    "days_since_settlement",
    "late_hl30",
    "late_hl90",
    "open_excess_late",
    "older_open_max_dpd",
    "days_since_part_paid",
)
HAZARD_INPUTS = ("hz_median", "hz_p10", "hz_p90", "hz_f1", "hz_f2", "hz_f4", "hz_fh")
BASE_INPUTS = tuple(f for f in INVOICE_FEATURES + DEBTOR_FEATURES)


def hazard_inputs(booster, inv: pd.DataFrame, T: int, H: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The hazard's outputs per invoice as point-model inputs, and its CDF."""
    F = cdf_weeks(predict_hazards(booster, inv, T, H))
    out = pd.DataFrame(
        {
            "hz_median": median_days(F),
            "hz_p10": quantile_position(F, 0.1),
            "hz_p90": quantile_position(F, 0.9),
            "hz_f1": F[:, 0],
            "hz_f2": F[:, 1],
            "hz_f4": F[:, 3],
            "hz_fh": F[:, -1],
        }
    )
    return out, F


def recent_bias(hazard, ledger, T: int, days: int, H: int) -> float:
    """Median of (settlement day - forecast median) over the invoices open ``days`` before T that the
    hazard expected within ``days // 2`` days; judged from rows dated <= T (later: +infinity)."""
    T0 = T - days
    inv0 = open_invoices(ledger, ledger_state(ledger, T0))
    m0 = median_days(cdf_weeks(predict_hazards(hazard, inv0, T0, H)))
    s0 = settlement_days(ledger, T)[inv0["pos"].to_numpy(dtype=np.int64)] - T0
    short = m0 <= days // 2
    if not short.any():
        return 0.0
    r = np.where(np.isnan(s0[short]), np.inf, s0[short] - m0[short])
    b = float(np.median(r))
    return b if np.isfinite(b) else 0.0


def fit_point(X: np.ndarray, y: np.ndarray, args, seed: int) -> lgb.Booster:
    model = lgb.LGBMRegressor(
        objective="quantile",
        alpha=0.5,
        n_estimators=args.trees,
        learning_rate=args.lr,
        num_leaves=args.leaves,
        min_child_samples=args.min_rows,
        subsample=1.0,
        colsample_bytree=1.0,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        random_state=seed,
        verbose=-1,
    )
    model.fit(X.astype(np.float32), y)
    return model.booster_


def boot_diff(diff: np.ndarray, group: np.ndarray, draws: int, seed: int) -> tuple[float, float, float]:
    """Mean paired difference and its 95 % interval, resampling debtors (clusters)."""
    codes, g = np.unique(group, return_inverse=True)
    s = np.bincount(g, weights=diff, minlength=len(codes))
    c = np.bincount(g, minlength=len(codes)).astype(np.float64)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(len(codes), np.full(len(codes), 1.0 / len(codes)), size=draws).astype(np.float64)
    means = (w @ s) / (w @ c)
    return float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def run(regime: str, seed: int, args) -> dict:
    portfolio = load(regime, seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    n_max = cfg.paydate.max_invoices_per_snapshot
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    ledger = prepare_ledger(portfolio)
    C = p.eval_cut
    cand = True
    # the flow's held-out training rows (training_rows, with the debtor code kept)
    settled_c = settlement_days(ledger, C)
    frames = []
    for T in p.eval_train:
        inv = open_invoices(ledger, ledger_state(ledger, T), cand)
        inv = inv.iloc[_sample(len(inv), n_max, params.seed, T)].reset_index(drop=True)
        r = person_periods(inv, T, settled_c, C, H)
        r["code"] = inv["code"].to_numpy()[r["row"].to_numpy()]
        frames.append(r)
    rows = pd.concat(frames, ignore_index=True)
    c0 = time.process_time()
    hazard = fit_hazard(rows, params)
    c_hfit = time.process_time() - c0
    shape = fit_day_shape(rows)
    # point-model training month-ends: whole horizon observed by C
    first, _ = data_window(book)
    start = first + pd.DateOffset(months=cfg.snapshots.min_history_months)
    snaps = [int(day_number(s)) for s in month_ends(start, pd.Timestamp(C, unit="D"))]
    need = PERIOD_DAYS * H if not args.cap_days else args.cap_days
    point_T = [s for s in snaps if s + need <= C][-args.point_snapshots :]
    folds = args.folds
    if args.no_point:
        point_T = []
    rng = np.random.default_rng([seed, 13])
    fold_of = rng.integers(0, folds, size=len(ledger.debtor_ids))
    if args.hazard_inputs == "oof" and point_T:
        oof = [fit_hazard(rows.loc[fold_of[rows["code"].to_numpy()] != k], params) for k in range(folds)]
    else:  # out of time: per group of 3 point month-ends, a hazard trained as the flow would at its first
        oot = {}
        for g in range(0, len(point_T), 3):
            first_g = point_T[g]
            tr = [s for s in snaps if s <= first_g - PERIOD_DAYS][-cfg.paydate.train_snapshots :]
            if not tr:
                continue
            settled_g = settlement_days(ledger, first_g)
            parts = []
            for T in tr:
                inv = open_invoices(ledger, ledger_state(ledger, T))
                inv = inv.iloc[_sample(len(inv), n_max, params.seed, T)].reset_index(drop=True)
                parts.append(person_periods(inv, T, settled_g, first_g, H))
            hz_g = fit_hazard(pd.concat(parts, ignore_index=True), params)
            for T in point_T[g : g + 3]:
                oot[T] = hz_g
        point_T = [T for T in point_T if T in oot]
    train_parts = []
    for T in point_T:
        if args.cap_days:  # target min(days, cap): its median is the median's when below the cap
            inv = open_invoices(ledger, ledger_state(ledger, T), cand)
            inv = inv.iloc[_sample(len(inv), n_max, params.seed, T)].reset_index(drop=True)
            days = settled_c[inv["pos"].to_numpy(dtype=np.int64)] - T
            inv["actual_days"] = np.where(np.isnan(days), args.cap_days, np.minimum(days, args.cap_days))
        else:
            inv = evaluation_invoices(ledger, T, C, H, cand)
            inv = inv.iloc[_sample(len(inv), n_max, params.seed, T)].reset_index(drop=True)
            inv = inv.loc[inv["actual_days"].notna()].reset_index(drop=True)
        if args.hazard_inputs == "oot":
            hz, _ = hazard_inputs(oot[T], inv, T, H)
            train_parts.append(pd.concat([inv, hz], axis=1).assign(T=T))
            continue
        f = fold_of[inv["code"].to_numpy()]
        hz = pd.DataFrame(index=inv.index, columns=list(HAZARD_INPUTS), dtype=np.float64)
        for k in range(folds):
            sel = np.flatnonzero(f == k)
            if len(sel):
                h, _ = hazard_inputs(oof[k], inv.iloc[sel].reset_index(drop=True), T, H)
                hz.iloc[sel] = h.to_numpy()
        train_parts.append(pd.concat([inv, hz], axis=1).assign(T=T))
    train = (
        pd.concat(train_parts, ignore_index=True)
        if train_parts
        else pd.DataFrame(columns=["hz_median", "T", "actual_days"], dtype=np.float64)
    )
    train = train.loc[train["hz_median"].notna()].reset_index(drop=True)
    variants_in = {
        "q50": BASE_INPUTS + HAZARD_INPUTS,
        "q50res": BASE_INPUTS + HAZARD_INPUTS,
        "q50+state": BASE_INPUTS + HAZARD_INPUTS + STATE,
        "q50res+state": BASE_INPUTS + HAZARD_INPUTS + STATE,
    }
    if args.no_point:
        variants_in = {}
    points, cpu_fit = {}, {}
    for name, cols in variants_in.items():
        y = train["actual_days"].to_numpy(dtype=np.float64)
        if "res" in name:
            y = y - train["hz_median"].to_numpy()
        c0 = time.process_time()
        points[name] = fit_point(train[list(cols)].to_numpy(dtype=np.float32), y, args, params.seed)
        cpu_fit[name] = time.process_time() - c0
    # the choice a flow could make before its test month-ends: q50+state fitted on the earlier point
    # month-ends, scored against the hazard's median on the latest 3 (out of time, rows dated <= C)
    Tcol = train["T"].to_numpy()
    late = Tcol >= sorted(set(Tcol))[-3] if len(set(Tcol)) > 3 else np.zeros(len(train), dtype=bool)
    choice = {"mae_hazard": float("nan"), "mae_q50_state": float("nan"), "q50": False}
    if late.any() and (~late).any():
        cols = list(variants_in["q50+state"])
        m = fit_point(
            train.loc[~late, cols].to_numpy(dtype=np.float32),
            train.loc[~late, "actual_days"].to_numpy(),
            args,
            params.seed,
        )
        tl = train.loc[late]
        pt = np.maximum(np.round(m.predict(tl[cols].to_numpy(dtype=np.float32))), 1.0)
        lo_, hi_ = tl["hz_p10"].to_numpy(), tl["hz_p90"].to_numpy()
        pt = np.minimum(
            np.maximum(pt, np.ceil(lo_ + 0.5)), np.where(np.isnan(hi_), np.inf, np.floor(hi_ + 0.5))
        )
        act = tl["actual_days"].to_numpy()
        choice = {
            "mae_hazard": float(np.abs(tl["hz_median"].to_numpy() - act).mean()),
            "mae_q50_state": float(np.abs(pt - act).mean()),
        }
        choice["q50"] = choice["mae_q50_state"] < choice["mae_hazard"]
    # test month-ends
    pooled: dict[str, list] = {}
    bias_seen: list[float] = []
    # as a training flow would store it: once, at its cut C, with the model it ships
    bias_c = recent_bias(hazard, ledger, C, args.bias_days, H) if args.bias_days else 0.0
    cpu_hz, cpu_pt = 0.0, 0.0
    n_test = 0
    for T in p.test:
        inv = evaluation_invoices(ledger, T, p.final_cut, H, cand)
        n_test += len(inv)
        c0 = time.process_time()
        hz, F = hazard_inputs(hazard, inv, T, H)
        cpu_hz += time.process_time() - c0
        anchor = inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64)
        med = median_days(F)
        p10, p90 = interval_days(F, None, "shaped", shape, anchor, med)
        level = np.maximum(MEDIAN_FLOOR, 0.5 * F[:, -1:])
        shaped = np.maximum(np.ceil(_shaped_position(F / level, 1.0, shape, anchor) - 1e-9), 1.0)
        hi = np.where(np.isnan(p90), np.inf, p90)  # p90 beyond the horizon: no upper clamp
        preds = {"shipped": med, "shaped": np.minimum(np.maximum(shaped, p10), hi)}
        X = pd.concat([inv, hz], axis=1)
        for name, cols in variants_in.items():
            c0 = time.process_time()
            raw = points[name].predict(X[list(cols)].to_numpy(dtype=np.float32))
            cpu_pt += time.process_time() - c0
            if "res" in name:
                raw = raw + med
            pt = np.maximum(np.round(raw), 1.0)
            if args.cap_days:  # at the cap the model knows only "later": the hazard's median
                pt = np.where(pt >= args.cap_days - 1, med, pt)
            preds[name] = np.where(np.isnan(med), np.nan, np.minimum(np.maximum(pt, p10), hi))
        preds["auto"] = preds["q50+state"] if choice["q50"] else med
        if args.bias_days:  # the recent bias: forecasts made bias_days before T, settled by T
            b = recent_bias(hazard, ledger, T, args.bias_days, H)
            bias_seen.append(b)
            for name, shift in (("bias", b), ("bias_c", bias_c)):
                shifted = np.maximum(med + np.round(shift), 1.0)
                preds[name] = np.where(np.isnan(med), np.nan, np.minimum(np.maximum(shifted, p10), hi))
        base = baseline_days(inv, T)
        for key, val in (
            *preds.items(),
            ("p10", p10),
            ("p90", p90),
            ("actual", inv["actual_days"].to_numpy(dtype=np.float64)),
            ("code", inv["code"].to_numpy()),
            *base.items(),
        ):
            pooled.setdefault(key, []).append(val)
    cat = {k: np.concatenate(v) for k, v in pooled.items()}
    Hd = H * PERIOD_DAYS
    bm = {b: point_metrics(cat[b], cat["actual"], Hd)["mae_days"] for b in ("due_date", "due_plus_lateness")}
    better = min(bm.values())
    paid = ~np.isnan(cat["actual"])
    err = {}
    out = {"regime": regime, "seed": seed, "baselines": bm, "test_invoices": int(n_test)}
    out["train_point_rows"] = int(len(train))
    out["point_T"] = [str(pd.Timestamp(t, unit="D").date()) for t in point_T]
    out["plan"] = p.describe()
    res = {}
    for name in preds:
        m = point_metrics(cat[name], cat["actual"], Hd, cat["p10"], cat["p90"])
        pred = np.where(np.isnan(cat[name]), float(Hd), cat[name])
        err[name] = np.abs(pred - cat["actual"])[paid]
        res[name] = {**m, "vs_better_baseline": m["mae_days"] / better - 1.0}
    for name in preds:
        d = err[name] - err["shipped"]
        res[name]["diff_vs_shipped"] = boot_diff(d, cat["code"][paid], args.boot, seed)
    out["variants"] = res
    out["choice"] = choice
    out["bias_days_seen"] = bias_seen
    out["bias_at_cut"] = bias_c
    out["cpu_s"] = {
        "hazard_fit": round(c_hfit, 2),
        "hazard_predict_test": round(cpu_hz, 2),
        "point_predict_test_all_variants": round(cpu_pt, 3),
        "point_fit": {k: round(v, 2) for k, v in cpu_fit.items()},
    }
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 2])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--no-point", action="store_true", help="no point models (shipped, shaped, bias only)")
    ap.add_argument(
        "--bias-days",
        type=int,
        default=0,
        help="variant `bias`: shift the median by the median residual of the forecasts made this many "
        "days before T of invoices the model expected within half of it (settled by T; 0: off)",
    )
    ap.add_argument(
        "--cap-days",
        type=int,
        default=0,
        help="train the point model on min(days, cap) at month-ends T + cap <= C (0: the whole horizon)",
    )
    ap.add_argument(
        "--hazard-inputs",
        choices=["oof", "oot"],
        default="oof",
        help="the point model's hazard inputs in training: out of fold (debtors) or out of time",
    )
    ap.add_argument("--point-snapshots", type=int, default=8)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--min-rows", type=int, default=100)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    print(
        f"{'regime':<10} {'seed':>4} {'variant':<13} {'MAE':>6} {'vs best':>8} {'±7d':>6} {'p10-p90':>8} "
        f"{'d vs shipped [95 %]':>24}"
    )
    for seed in args.seeds:
        for regime in args.regimes:
            t0 = time.perf_counter()
            r = run(regime, seed, args)
            results.append(r)
            for name, m in r["variants"].items():
                d, lo, hi = m["diff_vs_shipped"]
                print(
                    f"{regime:<10} {seed:>4} {name:<13} {m['mae_days']:>6.2f} {m['vs_better_baseline']:>+8.1%} "
                    f"{m['within_7d']:>6.1%} {m['coverage_80']:>8.1%} {d:>+7.3f} [{lo:+.3f}, {hi:+.3f}]",
                    flush=True,
                )
            print(
                f"# {regime} s{seed}: {time.perf_counter() - t0:.1f} s wall, choice {r['choice']}, cpu {r['cpu_s']}",
                flush=True,
            )
            if args.json:
                args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
