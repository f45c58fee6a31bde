"""Payment-date hazard model: hyper-parameters chosen by out-of-time CV, then checked on the test.

Per ``ews generate`` regime (the books of ``benchmarks/paydate.py``) and per setting (trees with the
learning rate, leaves, rows per leaf, training month-ends), the train flow's plan is run as if the
data ended at C - 3m for m in ``--folds`` (C: the first test month-end of the full plan;
``pipelines.flows.train_paydate.plan(..., last=...)``). Each fold has its own held-out model,
trained on the month-ends before its own test month-ends, whose 26 observed weeks end by its last
day, so no fold sees an outcome of the test month-ends. The settings are compared on the folds'
MAE relative to the better baseline (mean over folds); the test figures of the full plan (as in
``benchmarks/paydate.py``) are printed next to them, to see whether the choice carries over.

    nice .venv/bin/python benchmarks/paydate_tune.py --regimes base stress quiet contagion --seed 7

Prints one row per regime, setting and plan and ends with one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import book_arguments, load  # noqa: E402

from features.ledger import prepare_ledger  # noqa: E402
from features.paydate import evaluation_invoices, training_rows  # noqa: E402
from models.paydate import evaluate, fit_hazard  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402

# name: (trees, learning rate, leaves, rows per leaf, training month-ends)
SETTINGS: dict[str, tuple[int, float, int, int, int]] = {
    "shipped 80@0.15 L31 m200 S8": (80, 0.15, 31, 200, 8),
    "40@0.3": (40, 0.3, 31, 200, 8),
    "160@0.075": (160, 0.075, 31, 200, 8),
    "leaves 7": (80, 0.15, 7, 200, 8),
    "leaves 15": (80, 0.15, 15, 200, 8),
    "leaves 63": (80, 0.15, 63, 200, 8),
    "min leaf 800": (80, 0.15, 31, 800, 8),
    "min leaf 3200": (80, 0.15, 31, 3200, 8),
    "snapshots 4": (80, 0.15, 31, 200, 4),
    "snapshots 12": (80, 0.15, 31, 200, 12),
    "snapshots 16": (80, 0.15, 31, 200, 16),
}


def run_regime(regime: str, args) -> list[dict]:
    portfolio = load(regime, args.seed, args.work, args.debtors, args.months)
    base_cfg = TrainConfig()
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    ledger = prepare_ledger(portfolio)
    H = base_cfg.paydate.horizon_weeks
    n_max = base_cfg.paydate.max_invoices_per_snapshot
    C = pd.Timestamp(plan(book, base_cfg, H).test[0], unit="D")
    cache: dict[tuple, tuple] = {}
    out = []
    for name, (trees, lr, leaves, min_leaf, snaps) in SETTINGS.items():
        cfg = base_cfg.model_copy(
            update={"paydate": base_cfg.paydate.model_copy(update={"train_snapshots": snaps})}
        )
        params = replace(
            cfg.paydate.to_params(7),
            n_estimators=trees,
            learning_rate=lr,
            num_leaves=leaves,
            min_child_samples=min_leaf,
        )
        row = {"regime": regime, "seed": args.seed, "setting": name}
        for fold in [*args.folds, "test"]:
            last = None if fold == "test" else C - pd.DateOffset(months=3 * int(fold))
            p = plan(book, cfg, H, last=last)
            key = (snaps, fold)
            if key not in cache:
                rows = training_rows(ledger, p.eval_train, p.eval_cut, H, n_max, params.seed)
                tests = [(T, evaluation_invoices(ledger, T, p.final_cut, H)) for T in p.test]
                cache[key] = (rows, tests)
            rows, tests = cache[key]
            t = time.process_time()
            booster = fit_hazard(rows, params)
            m, _, _ = evaluate(booster, tests, H)
            cpu = time.process_time() - t
            better = min(m["due_date_mae_days"], m["due_plus_lateness_mae_days"])
            tag = "test" if fold == "test" else f"f{fold}"
            row[f"{tag}_mae"] = m["mae_days"]
            row[f"{tag}_rel"] = m["mae_days"] / better - 1.0
            row[f"{tag}_cov"] = m["coverage_80"]
            row[f"{tag}_cpu"] = round(cpu, 1)
        folds = [f"f{f}" for f in args.folds]
        row["cv_rel"] = sum(row[f"{f}_rel"] for f in folds) / len(folds)
        row["cv_cov"] = sum(row[f"{f}_cov"] for f in folds) / len(folds)
        out.append(row)
        print(
            f"{regime:<10} s{args.seed} {name:<28} CV rel {row['cv_rel']:+7.2%} cov {row['cv_cov']:6.1%} | "
            + " ".join(f"{f}: {row[f + '_mae']:5.2f} ({row[f + '_rel']:+6.1%})" for f in folds)
            + f" | test {row['test_mae']:5.2f} ({row['test_rel']:+6.1%}) cov {row['test_cov']:6.1%}"
            + f" | cpu {sum(row[f + '_cpu'] for f in [*folds, 'test']):.1f} s",
            flush=True,
        )
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--folds", nargs="+", default=["0"], help="CV folds: data ending at C - 3 x fold months")
    ap.add_argument("--settings", nargs="*", help="names of SETTINGS (default: all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.settings:
        for k in list(SETTINGS):
            if k not in args.settings:
                del SETTINGS[k]
    results = []
    for regime in args.regimes:
        results.extend(run_regime(regime, args))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
