"""Payment-date figures of issue 13 on today's code, one book at a time (session 34, s34-paydate; a
measurement, nothing here is shipped).

Per book, the train flow's plan and rows (``pipelines.flows.train_paydate.plan`` / ``bucket_rows``, one
bucket, the shipped ``TrainConfig``), the held-out model on the plan's test month-ends evaluated as the
gate evaluates (``models.paydate.evaluate``: ``expected_paid_on``, the shaped p10-p90 interval with the
fit's own day shape), and:

- MAE in days, the share within +-7 days, p10-p90 coverage, for the model and both baselines ("paid on
  the due date", "due date + the debtor's mean lateness"), each with a 95 % debtor-bootstrap interval
  (:data:`DRAWS` draws, every debtor's invoices drawn together), and the paired interval of MAE - the
  better baseline's;
- the oracle's MAE where the book's simulator gives one: ``ews generate`` books the health-at-T oracle
  (``paydate_ablation.oracle_days(..., health_at_t=True)``), ``benchmarks/unseen_book.py`` books the law
  each invoice was drawn from (``paydate_ceiling.unseen_oracle``); the third simulator has none;
- weekly cash: the held-out evaluation's mean APE over the 3 test month-ends x 13 weeks (``cash_wape``),
  and the cash backtest of ``benchmarks/paydate_candidate.py`` (the final model of the plan whose data end
  at the first of the latest 6 month-ends followed by 13 observed weeks; mean APE over 6 x 13 weeks with
  cash);
- per invoice (``OUT/BOOK.parquet``): T, debtor code, the prediction, p10, p90, the actual day, and the
  factors ``--report`` splits the coverage by: due or overdue at T, the debtor's worst days past due at
  T, its settled history, disputed, partly paid.

Books: ``regime:seed`` (``benchmarks/paydate.load`` at ``--debtors`` x ``--months``), ``unseen:FOLDER``
(``unseen_book.py``), ``third:FOLDER`` (``third_book.py``).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/paydate_today.py --work BOOKS --out OUT \\
        --debtors 2000 --months 36 base:127 unseen:UNSEEN/small-s183 third:THIRD/t2000x36-s27
    .venv/bin/python benchmarks/paydate_today.py --out OUT --report

Ends with one JSON line (per book: the figures).
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
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import WEEKS, cash_backtest, cash_inputs, load  # noqa: E402
from paydate_ablation import oracle_days  # noqa: E402
from paydate_ceiling import unseen_oracle  # noqa: E402

from features.ledger import day_number, prepare_ledger  # noqa: E402
from features.paydate import PERIOD_DAYS, training_window  # noqa: E402
from features.snapshots import month_ends  # noqa: E402
from features.tables import Portfolio  # noqa: E402
from models.paydate import (  # noqa: E402
    SHAPE_ANCHOR,
    _debtor_ratio_interval,
    baseline_days,
    cdf_weeks,
    evaluate,
    fit_day_shape,
    fit_hazard,
    in_interval,
    interval_days,
    median_days,
    predict_hazards,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import Book  # noqa: E402
from pipelines.flows.train_paydate import bucket_rows, plan  # noqa: E402

ONE_BUCKET = 10**9
DRAWS = 1000
KEEP = (
    "code",
    "days_to_due",
    "age_days",
    "disputed",
    "share_paid",
    "dpd_current_max",
    "debtor_settled_count",
    "debtor_mean_lateness",
    "open_amount",
)


def read(spec: str, work: Path, debtors: int, months: int):
    """(label, portfolio, oracle or None) of a book spec."""
    kind, _, rest = spec.partition(":")
    if kind in ("unseen", "third"):
        folder = Path(rest)
        tables = {
            name: pd.read_parquet(folder / f"{name}.parquet")
            for name in ("invoices", "payments", "debtors", "events")
            if (folder / f"{name}.parquet").exists()
        }
        oracle = unseen_oracle(folder) if (folder / "oracle_invoices.parquet").exists() else None
        return f"{kind}-{folder.name}", Portfolio(**tables), oracle
    seed = int(rest)
    portfolio = load(kind, seed, work, debtors, months)

    def oracle(inv, T, ledger):
        return oracle_days(kind, seed, work, debtors, months, inv, T, ledger, health_at_t=True)

    return f"{kind}-{debtors}x{months}-s{seed}", portfolio, oracle


def debtor_interval(num: np.ndarray, den: np.ndarray, code: np.ndarray, draws: int = DRAWS, seed: int = 34):
    """95 % interval of sum(num) / sum(den), debtors drawn with replacement (their rows together; the
    gate's ``models.paydate._debtor_ratio_interval`` on the per-debtor sums)."""
    _, idx = np.unique(code, return_inverse=True)
    n = idx.max() + 1 if len(idx) else 0
    a = np.bincount(idx, weights=num, minlength=n)
    b = np.bincount(idx, weights=den, minlength=n)
    return list(_debtor_ratio_interval(a, b, draws, seed))


def invoice_frame(held, tests, H: int, shape, oracle, ledger, feats) -> pd.DataFrame:
    frames = []
    for T, inv in tests:
        F = cdf_weeks(predict_hazards(held, inv, T, H, features=feats))
        anchor = inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64)
        pred = median_days(F)
        p10, p90 = interval_days(F, None, "shaped", shape, anchor, pred)
        b = baseline_days(inv, T)
        d = inv[[c for c in KEEP if c in inv.columns]].copy()
        d["T"] = T
        d["pred"], d["p10"], d["p90"] = pred, p10, p90
        d["p_horizon"] = F[:, -1]
        d["actual"] = inv["actual_days"].to_numpy(dtype=np.float64)
        d["base"], d["due_only"] = b["due_plus_lateness"], b["due_date"]
        d["oracle"] = oracle(inv, T, ledger) if oracle is not None else np.nan
        frames.append(d)
    return pd.concat(frames, ignore_index=True)


def figures(d: pd.DataFrame, H: int) -> dict:
    """Per-book figures of an :func:`invoice_frame`, with debtor-bootstrap intervals."""
    paid = d["actual"].notna().to_numpy()
    code = d["code"].to_numpy()
    act = d["actual"].to_numpy(dtype=np.float64)
    out: dict = {"invoices": int(len(d)), "paid": int(paid.sum()), "debtors": int(d["code"].nunique())}
    errs = {}
    for name, col in (
        ("model", "pred"),
        ("due_plus_lateness", "base"),
        ("due_date", "due_only"),
        ("oracle", "oracle"),
    ):
        x = d[col].to_numpy(dtype=np.float64)
        if name == "oracle":
            if np.isnan(x).all():
                continue
            x = np.where(np.isnan(x), d["base"].to_numpy(dtype=np.float64), x)
        x = np.where(np.isnan(x), float(H * PERIOD_DAYS), x)
        e = np.abs(x - act)[paid]
        errs[name] = e
        one = np.ones(len(e))
        out[f"{name}_mae"] = float(e.mean())
        out[f"{name}_mae_ci"] = debtor_interval(e, one, code[paid])
        out[f"{name}_within_7d"] = float((e <= 7).mean())
        out[f"{name}_within_7d_ci"] = debtor_interval((e <= 7).astype(float), one, code[paid])
    better = min(("due_plus_lateness", "due_date"), key=lambda k: out[f"{k}_mae"])
    out["better"] = better
    out["vs_better"] = out["model_mae"] / out[f"{better}_mae"] - 1.0
    diff = errs["model"] - errs[better]
    out["diff_better_ci"] = debtor_interval(diff, np.ones(len(diff)), code[paid])
    if "oracle" in errs:
        out["oracle_vs_better"] = out["oracle_mae"] / out[f"{better}_mae"] - 1.0
    inside = in_interval(d["p10"].to_numpy(), d["p90"].to_numpy(), act)
    out["coverage"] = float(inside.mean())
    out["coverage_ci"] = debtor_interval(inside.astype(float), np.ones(len(d)), code)
    a = np.where(np.isnan(act), np.inf, act)
    lo = np.where(np.isnan(d["p10"].to_numpy()), np.inf, d["p10"].to_numpy())
    hi = np.where(np.isnan(d["p90"].to_numpy()), np.inf, d["p90"].to_numpy())
    out["below_p10"] = float((a < lo).mean())
    out["above_p90"] = float((a > hi).mean())
    return out


def cash_backtest_ape(book, ledger, cfg, params, H: int, n_max: int, p) -> dict:
    """``paydate_candidate.py``'s cash backtest for the shipped model: mean APE over 6 x 13 weeks."""
    dates = [
        int(day_number(x))
        for x in month_ends(pd.Timestamp(p.eval_train[0], unit="D"), pd.Timestamp(p.final_cut, unit="D"))
    ]
    dates = [x for x in dates if x + PERIOD_DAYS * WEEKS <= p.final_cut][-6:]
    px = plan(book, cfg, H, last=pd.Timestamp(dates[0], unit="D"))
    rows = training_window(ledger, px.final_train, px.final_cut, H, n_max, params.seed)[0]
    final = fit_hazard(rows, params, params.features())
    cash = cash_backtest(cash_inputs(final, ledger, dates, H), 0.0)
    seen = cash["actual_cash"] > 0
    per_week = cash.loc[seen, "ape"].to_numpy()
    return {
        "cash_mean_ape": float(per_week.mean()),
        "cash_median_ape": float(np.median(per_week)),
        "cash_weeks": int(seen.sum()),
        "cash_total_error": float(cash["expected_cash"].sum() / cash["actual_cash"].sum() - 1.0),
        "cash_dates": [str(pd.Timestamp(x, unit="D").date()) for x in dates],
    }


def run_book(spec: str, work: Path, out: Path, debtors: int, months: int, cash: bool = True) -> dict:
    t0 = time.perf_counter()
    label, portfolio, oracle = read(spec, work, debtors, months)
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H, n_max = params.horizon_weeks, cfg.paydate.max_invoices_per_snapshot
    book = Book.in_memory(portfolio, ONE_BUCKET)
    p = plan(book, cfg, H)
    rows = bucket_rows(book, 0, p, H, n_max, params.seed)
    held = fit_hazard(rows["eval"], params, params.features())
    shape = fit_day_shape(rows["eval"])
    metrics, _, _ = evaluate(
        held, rows["test"], H, WEEKS, features=params.features(), interval=params.interval, shape=shape
    )
    ledger = prepare_ledger(portfolio)
    d = invoice_frame(held, rows["test"], H, shape, oracle, ledger, params.features())
    s = {
        "book": label,
        "spec": spec,
        "train_month_ends": len(p.eval_train),
        "test": [str(pd.Timestamp(T, unit="D").date()) for T in p.test],
    }
    s.update(figures(d, H))
    # the frame re-derives the gate's figures: they must agree
    assert abs(s["model_mae"] - metrics["mae_days"]) < 1e-9, (s["model_mae"], metrics["mae_days"])
    assert abs(s["coverage"] - metrics["coverage_80"]) < 1e-9, (s["coverage"], metrics["coverage_80"])
    s["heldout_cash_mean_ape"] = float(metrics["cash_wape"])
    if cash:
        s.update(cash_backtest_ape(book, ledger, cfg, params, H, n_max, p))
    s["seconds"] = round(time.perf_counter() - t0, 1)
    d.to_parquet(out / f"{label}.parquet", index=False)
    (out / f"{label}.json").write_text(json.dumps(s, indent=1))
    return s


GROUPS = {
    # an invoice not paid within the horizon counts inside when its p90 lies beyond it (models.paydate.in_interval)
    "paid within the horizon": lambda d: np.where(d["actual"].notna(), "paid", "not paid"),
    "due at T": lambda d: np.where(d["days_to_due"] >= 0, "not yet due", "overdue"),
    "days to due at T": lambda d: pd.cut(
        d["days_to_due"],
        [-1e9, -60, -30, 0, 30, 1e9],
        right=False,
        labels=["overdue > 60", "overdue 31-60", "overdue 1-30", "due in 0-29", "due in >= 30"],
    ).astype(str),
    "debtor's worst DPD at T": lambda d: pd.cut(
        d["dpd_current_max"].fillna(0),
        [-1e9, 1, 31, 61, 1e9],
        right=False,
        labels=["0", "1-30", "31-60", "> 60"],
    ).astype(str),
    "debtor's settled invoices": lambda d: pd.cut(
        d["debtor_settled_count"].fillna(0), [-1, 0.5, 5, 20, 1e9], labels=["0", "1-5", "6-20", "> 20"]
    ).astype(str),
    "disputed": lambda d: np.where(d["disputed"] > 0, "disputed", "not disputed"),
    "partly paid": lambda d: np.where(d["share_paid"] > 0, "partly paid", "not partly paid"),
}


def coverage_table(d: pd.DataFrame, key) -> pd.DataFrame:
    act = np.where(d["actual"].isna(), np.inf, d["actual"])
    lo = np.where(d["p10"].isna(), np.inf, d["p10"])
    hi = np.where(d["p90"].isna(), np.inf, d["p90"])
    g = pd.DataFrame(
        {
            "g": np.asarray(key),
            "inside": (lo <= act) & (act <= hi),
            "below": act < lo,
            "above": act > hi,
        }
    )
    t = g.groupby("g").agg(
        n=("inside", "size"),
        coverage=("inside", "mean"),
        below_p10=("below", "mean"),
        above_p90=("above", "mean"),
    )
    t["share"] = t["n"] / len(g)
    return t[["share", "n", "coverage", "below_p10", "above_p90"]]


def report(out: Path) -> None:
    pd.set_option("display.width", 220)
    books = [json.loads(f.read_text()) for f in sorted(out.glob("*.json"))]
    rows = []
    for s in books:
        rows.append(
            {
                "book": s["book"],
                "paid": s["paid"],
                "MAE": f"{s['model_mae']:.2f} [{s['model_mae_ci'][0]:.2f}, {s['model_mae_ci'][1]:.2f}]",
                "due+late": f"{s['due_plus_lateness_mae']:.2f}",
                "due": f"{s['due_date_mae']:.2f}",
                "vs better": f"{s['vs_better']:+.1%}",
                "diff [95%]": f"[{s['diff_better_ci'][0]:+.2f}, {s['diff_better_ci'][1]:+.2f}]",
                "oracle": f"{s['oracle_mae']:.2f} ({s['oracle_vs_better']:+.1%})"
                if "oracle_mae" in s
                else "-",
                "within7": f"{s['model_within_7d']:.1%} / {s['due_plus_lateness_within_7d']:.1%} / {s['due_date_within_7d']:.1%}",
                "p10-p90": f"{s['coverage']:.1%} [{s['coverage_ci'][0]:.1%}, {s['coverage_ci'][1]:.1%}]",
                "<p10 / >p90": f"{s['below_p10']:.1%} / {s['above_p90']:.1%}",
                "cash held-out": f"{s['heldout_cash_mean_ape']:.1%}",
                "cash backtest": f"{s['cash_mean_ape']:.1%}" if "cash_mean_ape" in s else "-",
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    inband = sum(0.75 <= s["coverage"] <= 0.85 for s in books)
    print(f"\np10-p90 inside 75-85 %: {inband} of {len(books)} books")
    frames = []
    for s in books:
        d = pd.read_parquet(out / f"{s['book']}.parquet")
        d["book"] = s["book"]
        frames.append(d)
        paid = coverage_table(d, GROUPS["paid within the horizon"](d))
        print(
            f"{s['book']}: p10-p90 of the invoices paid within the horizon {paid.loc['paid', 'coverage']:.1%}"
        )
        if not 0.75 <= s["coverage"] <= 0.85:
            print(f"\n== {s['book']}: coverage {s['coverage']:.1%} (outside 75-85 %)")
            for name, f in GROUPS.items():
                print(f"-- {name}\n{coverage_table(d, f(d)).round(3).to_string()}")
    allf = pd.concat(frames, ignore_index=True)
    print("\n== pooled over every book")
    for name, f in GROUPS.items():
        print(f"-- {name}\n{coverage_table(allf, f(allf)).round(3).to_string()}")
    print(json.dumps(books))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="*", help="regime:seed, unseen:FOLDER or third:FOLDER")
    ap.add_argument("--work", type=Path, help="folder of the generated books")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--no-cash", action="store_true", help="skip the cash backtest (and its fit)")
    ap.add_argument("--report", action="store_true", help="read OUT's books (no fit)")
    args = ap.parse_args()
    if args.report:
        report(args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    done = []
    for spec in args.books:
        s = run_book(spec, args.work, args.out, args.debtors, args.months, cash=not args.no_cash)
        print(json.dumps({k: v for k, v in s.items() if not isinstance(v, list)}), flush=True)
        done.append(s)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
