"""Payment-date model: do the model's own recent errors on a debtor tell where its next invoices fall, and
do they persist from one month-end to the next? (issue 13, session 30; a diagnostic, nothing here is
shipped).

Per ``ews generate`` book (``benchmarks/paydate.load``, no memos; ``regime:seed``) as
``benchmarks/paydate_gap.py`` builds it: the train flow's plan and rows (shipped ``TrainConfig``), the
held-out hazard on the plan's 3 test month-ends T. Per test invoice settled within the horizon:

- ``pit``: where its settlement fell in the model's distribution given paid
  (``paydate_own_lib.residual_pits``, the whole horizon seen): 0.5 on average for a calibrated model;
- ``q``: its debtor's level at T from the model's errors on the debtor's invoices open at the month-ends
  of the 3 months before T, seen up to T (``paydate_own_lib.own_residual_levels``, defaults: prior 5,
  weight 1): rows dated <= T only;
- ``u_oracle``: where the health-at-T oracle's median (``paydate_ablation.oracle_days(...,
  health_at_t=True)``) falls in the same distribution: the level the oracle would read the model at.

Printed per book and pooled per regime: the correlations q ~ pit (does the residual predict the next
error?), q ~ u_oracle (does it point where the oracle points?), u_oracle ~ pit (the oracle's own, for
scale); persistence: across debtors, corr of q at one test month-end with q at the next, and of the
debtor's mean pit at one with its mean pit at the next (does the error itself persist?); MAE of the
model, of the oracle, and of the model read at 0.5 + a (q - 0.5) for a in ``--weights`` (the best a
chosen on the same invoices: an upper bound), with the share of the model-oracle gap that best a closes.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/paydate_own.py --work BOOKS \\
        --books base:7 stress:7 contagion:7 quiet:7 --json own.json

``--decision OUT --candidate NAME`` (no fit): the same correlations and persistence (no oracle) from
``paydate_candidate.py``'s per-book npz of an own* candidate: its level ``NAME_q`` and ``pit`` per paid
test invoice; per book: the mean level and test PIT, corr level ~ PIT per invoice and per debtor-month,
persistence of the debtor's mean level and mean test PIT from one test month-end to the next.
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

from paydate import load  # noqa: E402
from paydate_ablation import oracle_days  # noqa: E402
from paydate_own_lib import median_at_level, own_residual_levels, residual_pits  # noqa: E402

from features.ledger import prepare_ledger  # noqa: E402
from features.paydate import PERIOD_DAYS  # noqa: E402
from models.paydate import (  # noqa: E402
    cdf_weeks,
    fit_hazard,
    median_days,
    predict_hazards,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402

ONE_BUCKET = 10**9


def oof_levels(book, ledger, cfg, params, T: int, feats) -> np.ndarray:
    """``own_residual_levels`` at T with each month-end S read by a model trained on data up to S only
    (the train flow's final model planned as if the data ended at S): out-of-sample residuals."""
    from features.paydate import training_window
    from features.snapshots import month_ends

    H = params.horizon_weeks
    day = pd.Timestamp(T, unit="D")
    ends = [int(e.value // 86_400_000_000_000) for e in month_ends(day - pd.DateOffset(months=4), day)]
    boosters = {}
    for S in [S for S in ends if S < T][-3:]:
        p = plan(book, cfg, H, last=pd.Timestamp(S, unit="D"))
        rows = training_window(
            ledger, p.final_train, p.final_cut, H, cfg.paydate.max_invoices_per_snapshot, params.seed
        )[0]
        boosters[S] = fit_hazard(rows, params, feats)
    return own_residual_levels(ledger, None, T, H, feats, boosters=boosters)


def book_frame(regime: str, seed: int, work: Path, weights: list[float], oof: bool = False) -> pd.DataFrame:
    portfolio = load(regime, seed, work, 2000, 36)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, ONE_BUCKET)
    p = plan(book, cfg, H)
    rows = bucket_rows(book, 0, p, H, cfg.paydate.max_invoices_per_snapshot, params.seed)
    feats = params.features()
    booster = fit_hazard(rows["eval"], params, feats)
    ledger = prepare_ledger(portfolio)
    frames = []
    for T, inv in rows["test"]:
        inv = inv.copy()
        F = cdf_weeks(predict_hazards(booster, inv, T, H, features=feats))
        actual = inv["actual_days"].to_numpy(dtype=np.float64)
        q = own_residual_levels(ledger, booster, T, H, feats)[inv["code"].to_numpy(dtype=np.int64)]
        inv["q"] = q
        first = rows["test"][0][0] == T
        inv["q_oof"] = (
            oof_levels(book, ledger, cfg, params, T, feats)[inv["code"].to_numpy(dtype=np.int64)]
            if oof and first
            else np.nan
        )
        inv["pit"] = residual_pits(F, actual, float(H * PERIOD_DAYS))
        orc = oracle_days(regime, seed, work, 2000, 36, inv, T, ledger, health_at_t=True)
        inv["oracle"] = orc
        inv["u_oracle"] = residual_pits(F, np.asarray(orc, dtype=np.float64), float(H * PERIOD_DAYS))
        inv["model"] = median_days(F)
        for a in weights:
            inv[f"w{a}"] = median_at_level(F, np.clip(0.5 + a * (q - 0.5), 0.2, 0.8))
        inv["T"] = T
        frames.append(inv)
    d = pd.concat(frames, ignore_index=True)
    d = d[d["actual_days"].notna()].copy()
    for c in ["model", "oracle"] + [f"w{a}" for a in weights]:
        d[f"e_{c}"] = (d[c].fillna(7 * H) - d["actual_days"]).abs()
    d["e_oracle"] = np.where(d["oracle"].isna(), d["e_model"], d["e_oracle"])
    d["book"] = f"{regime}-s{seed}"
    d["regime"] = regime
    return d


def corr(a: pd.Series, b: pd.Series) -> float:
    ok = a.notna() & b.notna()
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def persistence(d: pd.DataFrame, col: str) -> float:
    """Across debtors: corr of the debtor's mean ``col`` at one test month-end with the next one's."""
    out = []
    for _, g in d.groupby("book"):
        m = g.groupby(["T", "code"])[col].mean().unstack(0)
        Ts = sorted(m.columns)
        for a, b in zip(Ts, Ts[1:], strict=False):
            out.append(m[[a, b]].dropna().set_axis(["now", "next"], axis=1))
    x = pd.concat(out)
    return float(np.corrcoef(x.iloc[:, 0], x.iloc[:, 1])[0, 1])


def summary(d: pd.DataFrame, weights: list[float]) -> dict:
    mae = {c: float(d[f"e_{c}"].mean()) for c in ["model", "oracle"] + [f"w{a}" for a in weights]}
    best = min(weights, key=lambda a: mae[f"w{a}"])
    gap = mae["model"] - mae["oracle"]
    return {
        "invoices": int(len(d)),
        "mean_pit": float(d["pit"].mean()),
        "mean_q": float(d["q"].mean()),
        "corr_q_pit": corr(d["q"], d["pit"]),
        "corr_q_pit_first_T": corr(d["q"].where(d["q_oof"].notna()), d["pit"]),
        "corr_q_oof_pit_first_T": corr(d["q_oof"], d["pit"]),
        "corr_q_oracle": corr(d["q"], d["u_oracle"]),
        "corr_oracle_pit": corr(d["u_oracle"], d["pit"]),
        "persist_q": persistence(d, "q"),
        "persist_pit": persistence(d, "pit"),
        "mae": mae,
        "best_weight": best,
        "gap_share_best": (mae["model"] - mae[f"w{best}"]) / gap if gap > 0 else float("nan"),
    }


def from_decision(out: Path, cand: str) -> None:
    for f in sorted(out.glob("*.npz")):
        z = np.load(f)
        d = pd.DataFrame(
            {"book": f.stem, "T": z["T"], "code": z["code"], "q": z[f"{cand}_q"], "pit": z["pit"]}
        )
        g = d.groupby(["T", "code"])[["q", "pit"]].mean()
        print(
            f"{f.stem:<20} mean level {d['q'].mean():.3f} mean test PIT {d['pit'].mean():.3f}; "
            f"corr level ~ PIT {corr(d['q'], d['pit']):+.3f} (per debtor-month {corr(g['q'], g['pit']):+.3f}); "
            f"persistence: level {persistence(d, 'q'):+.3f}, test PIT {persistence(d, 'pit'):+.3f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, help="folder of the generated books")
    ap.add_argument("--books", nargs="+", help="regime:seed (ews generate 2,000 x 36)")
    ap.add_argument("--decision", type=Path, help="paydate_candidate.py's --out folder (no fit)")
    ap.add_argument("--candidate", help="with --decision: the own* candidate")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5, 1.0])
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--oof",
        action="store_true",
        help="also the levels at the first test month-end from models trained up to each month-end S",
    )
    args = ap.parse_args()
    if args.decision:
        return from_decision(args.decision, args.candidate)
    if not (args.work and args.books):
        ap.error("--work and --books (or --decision and --candidate)")
    frames, out = [], {}
    for spec in args.books:
        regime, seed = spec.split(":")
        d = book_frame(regime, int(seed), args.work, args.weights, args.oof)
        frames.append(d)
        out[d["book"].iat[0]] = s = summary(d, args.weights)
        print(d["book"].iat[0], json.dumps(s), flush=True)
    d = pd.concat(frames, ignore_index=True)
    for regime, g in d.groupby("regime"):
        out[f"pooled-{regime}"] = s = summary(g, args.weights)
        print(f"pooled-{regime}", json.dumps(s), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
