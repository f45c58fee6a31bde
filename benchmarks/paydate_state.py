"""Payment-date model: which features of the debtor's last payments carry its state at T, the edge of
the health-at-T oracle (issue 13 part 1, session 13; a diagnostic, nothing here is shipped).

Per ``ews generate`` regime and seed, on the flow's plan (``benchmarks/paydate.py``): the shipped
hazard's ``expected_paid_on`` (``models.paydate.median_days``) on the test month-ends, and the oracle
that knows the debtor's latent health at T (``paydate_ablation.oracle_days``, ``health_at_t``).
For each test invoice settled within the horizon, the oracle's correction ``oracle_t - shipped``
(days) is what the debtor's state at T adds to the model. Candidate state features, from rows dated
<= T only:

- ``late_last``: days late of the debtor's last settlement (by settlement day);
  ``last_vs_recent``: that minus the median of its last 5 (``debtor_late_median_last5``);
- ``late_last3``: mean days late of its last 3 settlements; ``trend3``: that minus the mean of all;
  ``slope3``: the last minus the 3rd last;
- ``days_since_settlement``; ``days_since_last_payment``; ``usual_gap``: median days between its
  payment days of the last 365 days; ``pay_gap_ratio``: days since the last payment / usual gap;
- ``open_excess_late``: its oldest open invoice's days past due minus its recent median lateness;
- for reference, today's ``debtor_late_trend`` and ``debtor_late_median_last5``.

Per feature: Spearman's rho with the oracle's correction, and the MAE of the shipped forecast
corrected by the feature's deciles (per decile the median of actual - shipped on the *other* test
month-ends: cross-fitted, but on test outcomes, so an optimistic measure of the signal, not a
forecast), against the shipped MAE, the same correction with no feature (the bias of the other
month-ends alone) and the oracle's.

    nice .venv/bin/python benchmarks/paydate_state.py --seeds 7 2 --work /tmp/s13pd/books
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import book_arguments, load  # noqa: E402
from paydate_ablation import oracle_days  # noqa: E402

from features.ledger import ledger_state, prepare_ledger  # noqa: E402
from features.paydate import _rank_in_group, evaluation_invoices, training_rows  # noqa: E402
from models.paydate import cdf_weeks, fit_hazard, median_days, predict_hazards  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402

STATE = (
    "late_last",
    "last_vs_recent",
    "late_last3",
    "trend3",
    "slope3",
    "days_since_settlement",
    "days_since_last_payment",
    "usual_gap",
    "pay_gap_ratio",
    "open_excess_late",
    "debtor_late_trend",
    "debtor_late_median_last5",
)


def state_features(ledger, T: int, inv: pd.DataFrame) -> pd.DataFrame:
    """The features of the module docstring for the open invoices ``inv`` at T (rows dated <= T)."""
    st = ledger_state(ledger, T)
    n = st.n
    done = ~np.isnan(st.inv_settled)
    dcode = st.inv_code[done].astype(np.int64)
    sday = st.inv_settled[done]
    late = sday - st.inv_due[done]
    rank = _rank_in_group(dcode, -sday)
    cnt = np.bincount(dcode, minlength=n)

    def at(r: int) -> np.ndarray:
        out = np.full(n, np.nan)
        sel = rank == r
        out[dcode[sel]] = late[sel]
        return out

    last3 = rank < 3
    c3 = np.bincount(dcode[last3], minlength=n)
    m3 = np.where(
        c3 > 0, np.bincount(dcode[last3], weights=late[last3], minlength=n) / np.maximum(c3, 1), np.nan
    )
    mall = np.where(cnt > 0, np.bincount(dcode, weights=late, minlength=n) / np.maximum(cnt, 1), np.nan)
    # payment days of the last 365 days: median gap between distinct days
    keep = st.pay_date > T - 365
    pc, pdays = st.pay_code[keep].astype(np.int64), st.pay_date[keep].astype(np.int64)
    key = np.unique(pc * 100_000 + (pdays - (T - 365)))
    kc, kd = key // 100_000, key % 100_000
    same = np.r_[False, kc[1:] == kc[:-1]]
    gaps = np.diff(kd, prepend=0)[same]
    gc = kc[same]
    usual = np.full(n, np.nan)
    if len(gc):
        order = np.lexsort((gaps, gc))
        gcs, gs = gc[order], gaps[order]
        starts = np.r_[0, np.flatnonzero(gcs[1:] != gcs[:-1]) + 1]
        ends = np.r_[starts[1:], len(gcs)]
        for s, e in zip(starts, ends, strict=True):
            usual[gcs[s]] = np.median(gs[s:e])
    code = inv["code"].to_numpy()
    out = pd.DataFrame(index=inv.index)
    out["late_last"] = at(0)[code]
    out["last_vs_recent"] = out["late_last"] - inv["debtor_late_median_last5"]
    out["late_last3"] = m3[code]
    out["trend3"] = (m3 - mall)[code]
    out["slope3"] = (at(0) - at(2))[code]
    out["days_since_settlement"] = inv["days_since_settlement"]
    out["days_since_last_payment"] = inv["days_since_last_payment"]
    out["usual_gap"] = usual[code]
    out["pay_gap_ratio"] = inv["days_since_last_payment"] / np.where(usual[code] > 0, usual[code], np.nan)
    out["open_excess_late"] = inv["open_excess_late"]
    out["debtor_late_trend"] = inv["debtor_late_trend"]
    out["debtor_late_median_last5"] = inv["debtor_late_median_last5"]
    return out


def decile_corrected_mae(x: np.ndarray, resid: np.ndarray, month: np.ndarray) -> float:
    """MAE of shipped + the median residual of x's decile on the other month-ends (NaN x: own bin)."""
    ok = ~np.isnan(x)
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, 11)[1:-1])) if ok.any() else np.zeros(0)
    b = np.where(ok, np.searchsorted(edges, np.nan_to_num(x), side="right"), len(edges) + 1)
    corr = np.zeros(len(x))
    for m in np.unique(month):
        other = month != m
        for k in np.unique(b[month == m]):
            sel = other & (b == k)
            corr[(month == m) & (b == k)] = np.median(resid[sel]) if sel.any() else 0.0
    return float(np.abs(resid - np.round(corr)).mean())


def run(regime: str, seed: int, args) -> dict:
    portfolio = load(regime, seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    ledger = prepare_ledger(portfolio)
    rows = training_rows(ledger, p.eval_train, p.eval_cut, H, cfg.paydate.max_invoices_per_snapshot, 7)
    hazard = fit_hazard(rows, params)
    frames = []
    for T in p.test:
        inv = evaluation_invoices(ledger, T, p.final_cut, H, True)
        F = cdf_weeks(predict_hazards(hazard, inv, T, H))
        d = state_features(ledger, T, inv)
        d["shipped"] = median_days(F)
        d["actual"] = inv["actual_days"]
        d["oracle_t"] = oracle_days(
            regime, seed, args.work, args.debtors, args.months, inv, T, ledger, health_at_t=True
        )
        d["month"] = T
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    d = d.loc[d["actual"].notna()].copy()
    d["shipped"] = d["shipped"].fillna(7 * H)
    d["oracle_t"] = d["oracle_t"].fillna(d["shipped"])
    gap = (d["oracle_t"] - d["shipped"]).to_numpy()
    resid = (d["actual"] - d["shipped"]).to_numpy()
    month = d["month"].to_numpy()
    out = {
        "regime": regime,
        "seed": seed,
        "invoices": int(len(d)),
        "mae_shipped": float(np.abs(resid).mean()),
        "mae_oracle_t": float((d["oracle_t"] - d["actual"]).abs().mean()),
        "features": {},
        # the bias alone: one median residual from the other month-ends, no feature
        "mae_constant_corrected": decile_corrected_mae(np.zeros(len(d)), resid, month),
    }
    for f in STATE:
        x = d[f].to_numpy(dtype=np.float64)
        ok = ~np.isnan(x)
        rho = (
            float(pd.Series(x[ok]).rank().corr(pd.Series(gap[ok]).rank())) if ok.sum() > 10 else float("nan")
        )
        out["features"][f] = {
            "rho_oracle_correction": rho,
            "coverage": float(ok.mean()),
            "mae_decile_corrected": decile_corrected_mae(x, resid, month),
        }
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 2])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    for seed in args.seeds:
        for regime in args.regimes:
            r = run(regime, seed, args)
            results.append(r)
            print(
                f"{regime} s{seed}: shipped MAE {r['mae_shipped']:.2f}, oracle at T {r['mae_oracle_t']:.2f}, "
                f"{r['invoices']} invoices; bias-corrected (no feature) {r['mae_constant_corrected']:.2f}",
                flush=True,
            )
            for f, m in r["features"].items():
                print(
                    f"  {f:<26} rho {m['rho_oracle_correction']:+.3f}  decile-corrected MAE "
                    f"{m['mae_decile_corrected']:.2f} ({m['mae_decile_corrected'] - r['mae_shipped']:+.2f})  "
                    f"present {m['coverage']:.0%}",
                    flush=True,
                )
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
