"""Usage: python benchmarks/paydate_memo_history.py BOOKS_DIR (benchmarks/paydate.py --credit-memos 0.08 caches the books there).

Paired debtor-bootstrap interval of MAE(cash-only lateness history) - MAE(memo closures counted,
as 4709854) on the same held-out invoices (cash-only actuals, memo rule censor), per memo book;
as /work/bench/s20-paydate/paired.py (benchmarks/paydate.py's plan and settings)."""

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
import numpy as np
from paydate import load

import features.paydate as fp
from models.paydate import (
    PERIOD_DAYS,
    cdf_weeks,
    fit_hazard,
    mae_difference_interval,
    median_days,
    point_metrics,
    predict_hazards,
)
from pipelines.config.train import TrainConfig
from pipelines.engine import BUCKET_ROWS, Book
from pipelines.flows.train_paydate import bucket_rows, plan

new = fp._cash_settled
old = lambda state: ~np.isnan(state.inv_settled)  # noqa: E731  (4709854: every closure)
for regime, seed in (("base", 7), ("stress", 7), ("base", 2), ("stress", 2)):
    pf = load(
        regime, seed, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ews-paydate-memos"), 2000, 36, 0.08
    )
    cfg = TrainConfig()
    params = cfg.paydate.to_params(7)
    H = params.horizon_weeks
    book = Book.in_memory(pf, BUCKET_ROWS)
    p = plan(book, cfg, H)
    preds = {}
    for name, fn in (("cash", new), ("all", old)):
        fp._cash_settled = fn
        rows = bucket_rows(book, 0, p, H, cfg.paydate.max_invoices_per_snapshot, params.seed, memos="censor")
        b = fit_hazard(rows["eval"], params)
        preds[name] = np.concatenate(
            [median_days(cdf_weeks(predict_hazards(b, inv, T, H)), None, None, T) for T, inv in rows["test"]]
        )
        tests = rows["test"]
    fp._cash_settled = new
    actual = np.concatenate([inv["actual_days"].to_numpy(float) for _, inv in tests])
    code = np.concatenate([inv["code"].to_numpy() for _, inv in tests])
    HD = H * PERIOD_DAYS
    m = {k: point_metrics(v, actual, HD)["mae_days"] for k, v in preds.items()}
    lo, hi = mae_difference_interval(preds["cash"], preds["all"], actual, code, HD)
    print(
        f"{regime} s{seed}: cash-only {m['cash']:.3f} - all closures {m['all']:.3f} = {m['cash'] - m['all']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({len(actual)} invoices)",
        flush=True,
    )
