"""Payment-date model: where the shipped model's error gap to the health-at-T oracle is (issue 13 part 1,
session 27; a diagnostic, nothing here is shipped).

Per ``ews generate`` book (``benchmarks/paydate.load``, no memos): the train flow's plan and rows
(``pipelines.flows.train_paydate.plan`` / ``bucket_rows``, the shipped ``TrainConfig`` paydate settings:
16 month-ends, recency weights), the held-out hazard (``models.paydate.fit_hazard``) on the plan's test
month-ends, and per test invoice settled within the horizon the absolute errors of

- ``model``: the shipped ``expected_paid_on`` (``models.paydate.median_days``);
- ``base``: due date + the debtor's mean lateness; ``due``: the due date (the better of the two per book
  is the target's baseline);
- ``oracle_t``: the generator's median payment day given the debtor's latent health at T
  (``paydate_ablation.oracle_days(..., health_at_t=True)``: what a perfect estimate of the debtor's state
  at T gives, none of the future; NaN filled with ``base``).

The invoices are grouped by one factor at a time: invoice age at T, days to due at T, the debtor's
lateness history length (settled invoices), invoice size (the book's quintiles of the open amount),
the debtor's open invoices at T, and (from the generator's truth, not observable) how much the debtor's
median delay moved in the 3 months to T: ``delay_health`` x (badness(health at T) - badness(health 3
month-ends before)), in days (``pipelines.synthetic.dynamics``). Per group: share of invoices, the MAEs, the model's and the oracle's
bias (mean predicted - actual) and ``gap_share``: the group's share of the total model - oracle gap
(sum over the group of model error - oracle error / the sum over all invoices). Printed per book, then
pooled per regime and over all books (each book's gap counted in days).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/paydate_gap.py --work BOOKS \\
        --books base:53 stress:53 contagion:53 --json gap.json

Ends with one JSON line (per book: MAEs and the per-factor tables).
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

from models.paydate import baseline_days, cdf_weeks, fit_hazard, median_days, predict_hazards  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402
from pipelines.synthetic import regime_params  # noqa: E402
from pipelines.synthetic.dynamics import badness  # noqa: E402

ONE_BUCKET = 10**9


def _bins(x: pd.Series, edges: list[float], labels: list[str]) -> pd.Series:
    return pd.cut(x, edges, labels=labels, right=False).astype(object).where(x.notna(), "none")


FACTORS = {
    "invoice age at T (days since issue)": lambda d: _bins(
        d["age_days"], [-1e9, 15, 31, 61, 91, 1e9], ["0..14", "15..30", "31..60", "61..90", ">90"]
    ),
    "days to due at T": lambda d: _bins(
        d["days_to_due"],
        [-1e9, -30, -7, 0, 15, 31, 1e9],
        ["<-30", "-30..-8", "-7..-1", "0..14", "15..30", ">30"],
    ),
    "debtor lateness history (settled invoices)": lambda d: _bins(
        d["debtor_settled_count"].fillna(0), [0, 1, 5, 20, 50, 1e9], ["0", "1..4", "5..19", "20..49", ">=50"]
    ),
    "invoice size (book quintile of open amount)": lambda d: pd.Series(
        pd.qcut(d["open_amount"].rank(method="first"), 5, labels=["q1", "q2", "q3", "q4", "q5"]).astype(str),
        index=d.index,
    ),
    "open invoices of the debtor at T": lambda d: _bins(
        d["open_invoice_count"], [0, 2, 4, 8, 16, 1e9], ["1", "2..3", "4..7", "8..15", ">=16"]
    ),
    "truth: its median delay's move in the 3 months to T (days)": lambda d: _bins(
        d["delay_move_3m"], [-1e9, -10, -3, 3, 10, 1e9], ["<-10", "-10..-4", "-3..2", "3..9", ">=10"]
    ),
}


def delay_move(regime: str, seed: int, work: Path, debtors: int, months: int, ids: np.ndarray, T: np.ndarray):
    """Per invoice: ``delay_health`` x (badness(health at T's month-end) - badness(3 month-ends
    before)) of its debtor (truth.parquet; NaN where either month-end is missing)."""
    gp = regime_params(regime, seed=seed, debtors=debtors, months=months)
    truth = pd.read_parquet(
        work / f"{regime}-{gp.debtors}x{gp.months}-s{seed}" / "truth.parquet",
        columns=["debtor_id", "month_end", "health"],
    )
    truth["month_end"] = pd.to_datetime(truth["month_end"]).dt.normalize()
    h = truth.set_index(["debtor_id", "month_end"])["health"]
    t_end = pd.to_datetime(pd.Series(T.astype("datetime64[D]")))
    before = (T.astype("datetime64[D]").astype("datetime64[M]") - 2).astype("datetime64[D]") - 1
    now = h.reindex(pd.MultiIndex.from_arrays([ids, t_end])).to_numpy(dtype=np.float64)
    then = h.reindex(pd.MultiIndex.from_arrays([ids, pd.to_datetime(before)])).to_numpy(dtype=np.float64)
    return gp.delay_health * (badness(now) - badness(then))


def table(d: pd.DataFrame, key) -> pd.DataFrame:
    d = d.assign(g=np.asarray(key))
    gap_total = (d["e_model"] - d["e_oracle_t"]).sum()
    g = d.groupby("g")
    t = g.agg(
        n=("e_model", "size"),
        model=("e_model", "mean"),
        baseline=("e_base", "mean"),
        oracle_t=("e_oracle_t", "mean"),
        bias=("bias", "mean"),
        oracle_bias=("oracle_bias", "mean"),
    )
    t["share"] = t["n"] / len(d)
    t["gap"] = t["model"] - t["oracle_t"]
    t["gap_share"] = (d["e_model"] - d["e_oracle_t"]).groupby(d["g"]).sum().reindex(t.index) / gap_total
    return t[["share", "model", "baseline", "oracle_t", "gap", "bias", "oracle_bias", "gap_share"]]


def held_out_frame(portfolio, oracle) -> tuple[pd.DataFrame, object, object]:
    """The shipped model's held-out fit on the train flow's plan (one bucket), and per test invoice
    settled within the horizon: ``pred``, both baselines, ``oracle_t`` (``oracle(inv, T, ledger)``, days
    after T; NaN filled with ``base``) and the absolute errors ``e_*``. Returns (frame, ledger, plan)."""
    from features.ledger import prepare_ledger

    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(portfolio, ONE_BUCKET)
    p = plan(book, cfg, H)
    rows = bucket_rows(book, 0, p, H, cfg.paydate.max_invoices_per_snapshot, params.seed)
    booster = fit_hazard(rows["eval"], params, params.features())
    ledger = prepare_ledger(portfolio)
    frames = []
    for T, inv in rows["test"]:
        inv = inv.copy()
        F = cdf_weeks(predict_hazards(booster, inv, T, H, features=params.features()))
        inv["pred"] = median_days(F)
        b = baseline_days(inv, T)
        inv["base"], inv["due_only"] = b["due_plus_lateness"], b["due_date"]
        inv["oracle_t"] = oracle(inv, T, ledger)
        inv["T"] = T
        frames.append(inv)
    d = pd.concat(frames, ignore_index=True)
    d = d[d["actual_days"].notna()].copy()
    d["pred"] = d["pred"].fillna(7 * H)
    d["oracle_t"] = d["oracle_t"].fillna(d["base"])
    for k, col in (("model", "pred"), ("base", "base"), ("due", "due_only"), ("oracle_t", "oracle_t")):
        d[f"e_{k}"] = (d[col] - d["actual_days"]).abs()
    return d, ledger, p


def book_frame(regime: str, seed: int, work: Path, debtors: int, months: int) -> tuple[pd.DataFrame, dict]:
    portfolio = load(regime, seed, work, debtors, months)
    d, ledger, p = held_out_frame(
        portfolio,
        lambda inv, T, ledger: oracle_days(
            regime, seed, work, debtors, months, inv, T, ledger, health_at_t=True
        ),
    )
    resid = d["actual_days"] - d["pred"]
    seg = np.asarray(ledger.segment.astype(object))[d["code"].to_numpy()]
    d["segment"] = pd.Series(seg, index=d.index).fillna("none")
    d["e_level_T"] = (resid - resid.groupby(d["T"]).transform("median")).abs()
    d["e_level_seg"] = (resid - resid.groupby([d["T"], d["segment"]]).transform("median")).abs()
    d["bias"] = d["pred"] - d["actual_days"]
    ids = np.asarray(ledger.debtor_ids)[d["code"].to_numpy()]
    d["delay_move_3m"] = delay_move(regime, seed, work, debtors, months, ids, d["T"].to_numpy(dtype=np.int64))
    d["oracle_bias"] = d["oracle_t"] - d["actual_days"]
    better = min(d["e_base"].mean(), d["e_due"].mean())
    summary = {
        "regime": regime,
        "seed": seed,
        "invoices": int(len(d)),
        "train_month_ends": len(p.eval_train),
        "mae_model": float(d["e_model"].mean()),
        "mae_base": float(d["e_base"].mean()),
        "mae_due": float(d["e_due"].mean()),
        "mae_oracle_t": float(d["e_oracle_t"].mean()),
        "mae_level_T": float(d["e_level_T"].mean()),
        "mae_level_seg": float(d["e_level_seg"].mean()),
        "model_vs_better": float(d["e_model"].mean() / better - 1),
        "oracle_t_vs_better": float(d["e_oracle_t"].mean() / better - 1),
    }
    d["book"] = f"{regime}-s{seed}"
    d["regime"] = regime
    return d, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="folder of the books (generated when missing)")
    ap.add_argument("--books", nargs="+", required=True, help="regime:seed, e.g. base:53 stress:7")
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quiet", action="store_true", help="print only the pooled tables")
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    frames, out = [], {"books": [], "pooled": {}}
    for spec in args.books:
        regime, seed = spec.split(":")
        d, s = book_frame(regime, int(seed), args.work, args.debtors, args.months)
        frames.append(d)
        print(
            f"\n== {regime} s{seed}: {s['invoices']} settled test invoices; MAE model {s['mae_model']:.3f} "
            f"({s['model_vs_better']:+.1%} vs the better baseline) due+late {s['mae_base']:.3f} due {s['mae_due']:.3f} "
            f"oracle at T {s['mae_oracle_t']:.3f} ({s['oracle_t_vs_better']:+.1%}); bounds: level per T "
            f"{s['mae_level_T']:.3f}, per T and segment {s['mae_level_seg']:.3f}",
            flush=True,
        )
        s["factors"] = {}
        for name, f in FACTORS.items():
            t = table(d, f(d))
            s["factors"][name] = json.loads(t.round(4).to_json(orient="index"))
            if not args.quiet:
                print(f"-- {name}\n{t.round(3).to_string()}", flush=True)
        out["books"].append(s)
    allf = pd.concat(frames, ignore_index=True)
    groups = {f"regime {r}": allf[allf["regime"] == r] for r in allf["regime"].unique()}
    groups["all books"] = allf
    for label, d in groups.items():
        print(
            f"\n=== pooled {label}: {len(d)} invoices, MAE model {d['e_model'].mean():.3f} oracle at T "
            f"{d['e_oracle_t'].mean():.3f} due+late {d['e_base'].mean():.3f}; bounds: level per T "
            f"{d['e_level_T'].mean():.3f}, per T and segment {d['e_level_seg'].mean():.3f}",
            flush=True,
        )
        out["pooled"][label] = {}
        for name, f in FACTORS.items():
            t = table(d, f(d))
            out["pooled"][label][name] = json.loads(t.round(4).to_json(orient="index"))
            print(f"-- {name}\n{t.round(3).to_string()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps([{k: v for k, v in b.items() if k != "factors"} for b in out["books"]]))


if __name__ == "__main__":
    main()
