"""Payment-date model: feature ablation, tree count, and the generator's noise floor, per regime.

For each ``ews generate`` regime the harness follows the train flow's plan
(``pipelines.flows.train_paydate.plan``, settings of ``conf/train.yaml``'s ``paydate`` section) and
builds the held-out model's rows once, with the candidate features of ``features.paydate``
(``CANDIDATE_FEATURES``). "before" is the feature set of session 3 (without the debtor's recent and
median lateness, ``RECENT``). Each variant (a feature set and a tree count / learning rate) is fitted on
those rows and scored on the test month-ends: MAE in days, share within +-7 days, p10-p90 coverage,
the change against the better baseline, the fit CPU and the prediction CPU (process time).

The **oracle** knows the generator's lateness distribution of each open invoice (its segment's
base delay and terms, the debtor's latent health in the due month from ``truth.parquet`` -- which
no model can know at T --, the dispute flag) and predicts the median of that distribution
conditioned on the invoice still being open at T (Monte Carlo, 400 draws). It ignores partial
payments, oldest-first payers and defaults, so it is an approximate floor of the MAE: what is left
is the generator's own noise.

    nice .venv/bin/python benchmarks/paydate_ablation.py --work /tmp/ews-paydate --regimes base stress quiet contagion

Prints one row per regime and variant and writes ``--json``.
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

from paydate import book_arguments, load  # noqa: E402

from features.ledger import prepare_ledger  # noqa: E402
from features.paydate import CANDIDATE_FEATURES, FEATURES, evaluation_invoices, training_rows  # noqa: E402
from models.paydate import PaydateParams, baseline_days, evaluate, fit_hazard, point_metrics  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402
from pipelines.synthetic import regime_params  # noqa: E402
from pipelines.synthetic.dynamics import MAX_DELAY_DAYS, badness  # noqa: E402

RECENT = (
    "debtor_late_median",
    "debtor_late_median_last5",
    "debtor_late_trend",
    "days_to_recent_usual",
    "gap_to_recent_lateness",
)
BEFORE = tuple(f for f in FEATURES if f not in RECENT)  # the features of session 3
VARIANTS: dict[str, tuple[tuple[str, ...], int, float]] = {
    "before: 150@0.08": (BEFORE, 150, 0.08),
    "before: 100@0.12": (BEFORE, 100, 0.12),
    "before: 80@0.15": (BEFORE, 80, 0.15),
    "before: 50@0.25": (BEFORE, 50, 0.25),
    "+recent lateness 150@0.08": (FEATURES, 150, 0.08),
    "+recent lateness 100@0.12": (FEATURES, 100, 0.12),
    "+recent lateness 80@0.15": (FEATURES, 80, 0.15),
    "+recent +amount vs usual": (FEATURES + ("amount_vs_usual",), 80, 0.15),
    "+recent +open rank": (FEATURES + ("open_rank",), 80, 0.15),
    "+recent +pay day of month": (FEATURES + ("pay_dom_share", "days_to_pay_dom"), 80, 0.15),
    "+recent +all candidates": (FEATURES + CANDIDATE_FEATURES, 80, 0.15),
}
# session 6: the candidates of the error decomposition (benchmarks/paydate_diagnose.py)
NEW = {
    "part paid": ("days_since_part_paid",),
    "recency hl": ("late_hl30", "late_hl90", "late_hl180", "gap_to_hl30"),
    "last settlement": ("late_last", "days_since_settlement", "gap_to_last"),
    "similar amount": ("late_similar_amount",),
    "weekday rhythm": ("pay_wd_share", "days_to_pay_wd"),
    "older open": ("older_open_max_dpd",),
    "book shift": ("book_shift", "shifted_usual_late"),
    "open excess": ("open_excess_late",),
}
VARIANTS["shipped"] = (FEATURES, 80, 0.15)
for _name, _cols in NEW.items():
    VARIANTS[f"+{_name}"] = (FEATURES + _cols, 80, 0.15)
VARIANTS["+all session 6"] = (FEATURES + tuple(c for cols in NEW.values() for c in cols), 80, 0.15)
STATE = (
    "book shift",
    "recency hl",
    "last settlement",
    "open excess",
)  # the debtor's and the book's state at T
VARIANTS["+state at T"] = (FEATURES + tuple(c for k in STATE for c in NEW[k]), 80, 0.15)


def oracle_days(
    regime: str,
    seed: int,
    work: Path,
    debtors: int,
    months: int,
    inv: pd.DataFrame,
    T: int,
    ledger,
    draws: int = 400,
    health_at_t: bool = False,
    legacy_month: bool = False,
) -> np.ndarray:
    """Median days after T of the generator's payment-day distribution of each open invoice, given
    still open at T (NaN when no draw is after T). ``health_at_t``: the debtor's health in the due
    month when that is T's month or earlier, else its health in T's month (the latent state known
    at T, none of the future: what a perfect estimate of the debtor's state at T would give).
    ``legacy_month``: the health of the due month's own month-end (sessions 4-5; one month late)."""
    gp = regime_params(regime, seed=seed, debtors=debtors, months=months)
    folder = work / f"{regime}-{gp.debtors}x{gp.months}-s{seed}"
    truth = pd.read_parquet(folder / "truth.parquet", columns=["debtor_id", "month_end", "health", "segment"])
    segs = {s.name: s for s in gp.segments}
    ids = np.asarray(ledger.debtor_ids)[inv["code"].to_numpy()]
    due = inv["due"].to_numpy(dtype=np.int64)
    # the generator draws an invoice's delay with the health at the start of its due month, which
    # truth.parquet holds as the health of the month-end before it (session 6; sessions 4-5 used the
    # due month's own month-end, one month later: ``legacy_month``)
    lag = 0 if legacy_month else 1
    due_month_end = (due.astype("datetime64[D]").astype("datetime64[M]") + 1 - lag).astype(
        "datetime64[D]"
    ) - 1
    if health_at_t:
        t_month_end = (np.datetime64(int(T), "D").astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
        due_month_end = np.minimum(due_month_end, t_month_end)
    key = pd.DataFrame({"debtor_id": ids, "month_end": pd.to_datetime(due_month_end)})
    truth["month_end"] = pd.to_datetime(truth["month_end"])
    last = truth.sort_values("month_end").groupby("debtor_id").tail(1).set_index("debtor_id")
    got = key.merge(truth, on=["debtor_id", "month_end"], how="left")
    health = got["health"].to_numpy(dtype=np.float64, copy=True)
    miss = np.isnan(health)  # due after the simulated months: the debtor's last health
    health[miss] = last.reindex(ids[miss])["health"].to_numpy()
    seg = last.reindex(ids)["segment"].to_numpy()
    base = np.array([segs[s].delay_base for s in seg])
    term = np.array([segs[s].terms_days for s in seg], dtype=np.float64)
    bad = badness(health)
    disputed = inv["disputed"].to_numpy() > 0
    issue = due - term
    rng = np.random.default_rng(seed)
    n = len(inv)
    out = np.full(n, np.nan)
    for s in range(0, n, 5000):
        sl = slice(s, min(n, s + 5000))
        m = sl.stop - sl.start
        b, tm = bad[sl, None], term[sl, None]
        delay = base[sl, None] + gp.delay_health * b + rng.standard_normal((m, draws)) * (4.0 + 6.0 * b)
        early = rng.random((m, draws)) < 0.25 * np.exp(-2.0 * b)
        delay = np.where(early, -rng.random((m, draws)) * 0.5 * tm, delay)
        delay = delay + disputed[sl, None] * rng.uniform(10.0, 40.0, (m, draws))
        delay = np.clip(np.rint(delay), -tm, MAX_DELAY_DAYS)
        paid = np.maximum(due[sl, None] + delay, issue[sl, None])
        wd = (paid + 3) % 7
        paid = paid + np.where(wd == 5, 2, np.where(wd == 6, 1, 0)) - T
        paid = np.where(paid > 0, paid, np.nan)
        with np.errstate(all="ignore"):
            out[sl] = np.nanmedian(paid, axis=1)
    return out


def run_regime(regime: str, args: argparse.Namespace) -> list[dict]:
    portfolio = load(regime, args.seed, args.work, args.debtors, args.months)
    cfg = TrainConfig()
    H = cfg.paydate.horizon_weeks
    book = Book.in_memory(portfolio, BUCKET_ROWS)
    p = plan(book, cfg, H)
    ledger = prepare_ledger(portfolio)
    t = time.process_time()
    rows = training_rows(ledger, p.eval_train, p.eval_cut, H, cfg.paydate.max_invoices_per_snapshot, 7, True)
    tests = [(T, evaluation_invoices(ledger, T, p.final_cut, H, True)) for T in p.test]
    rows_cpu = time.process_time() - t
    out = []
    actual = np.concatenate([inv["actual_days"].to_numpy() for _, inv in tests])
    base = {
        k: np.concatenate([baseline_days(inv, T)[k] for T, inv in tests])
        for k in ("due_date", "due_plus_lateness")
    }
    orc = np.concatenate(
        [
            oracle_days(regime, args.seed, args.work, args.debtors, args.months, inv, T, ledger)
            for T, inv in tests
        ]
    )
    fallback = np.isnan(orc) & ~np.isnan(actual)
    orc = np.where(np.isnan(orc), base["due_plus_lateness"], orc)
    om = point_metrics(orc, actual, 7 * H)
    better = min(point_metrics(b, actual, 7 * H)["mae_days"] for b in base.values())
    out.append(
        {
            "regime": regime,
            "variant": "oracle (knows the generator)",
            "mae_days": om["mae_days"],
            "within_7d": om["within_7d"],
            "vs_better_baseline": om["mae_days"] / better - 1.0,
            "oracle_fallback_share": float(fallback.sum() / (~np.isnan(actual)).sum()),
        }
    )
    print(
        f"{regime:<10} {'oracle':<22} MAE {om['mae_days']:6.2f}  ±7 {om['within_7d']:6.1%}  "
        f"vs best {om['mae_days'] / better - 1:+7.1%}  (fallback {fallback.mean():.1%}; rows cpu {rows_cpu:.1f} s)",
        flush=True,
    )
    for name, (features, trees, lr) in VARIANTS.items():
        params = PaydateParams(horizon_weeks=H, n_estimators=trees, learning_rate=lr)
        t = time.process_time()
        booster = fit_hazard(rows, params, features)
        fit_cpu = time.process_time() - t
        t = time.process_time()
        m, _, _ = evaluate(booster, tests, H, features=features)
        eval_cpu = time.process_time() - t
        better = min(m["due_date_mae_days"], m["due_plus_lateness_mae_days"])
        r = {
            "regime": regime,
            "variant": name,
            "features": len(features),
            "trees": trees,
            "learning_rate": lr,
            "mae_days": m["mae_days"],
            "within_7d": m["within_7d"],
            "coverage_80": m["coverage_80"],
            "vs_better_baseline": m["mae_days"] / better - 1.0,
            "fit_cpu_s": round(fit_cpu, 1),
            "predict_cpu_s": round(eval_cpu, 1),
            "invoices": m["invoices"],
            "train_rows": len(rows),
        }
        out.append(r)
        print(
            f"{regime:<10} {name:<22} MAE {r['mae_days']:6.2f}  ±7 {r['within_7d']:6.1%}  vs best "
            f"{r['vs_better_baseline']:+7.1%}  p10-p90 {r['coverage_80']:6.1%}  fit {fit_cpu:5.1f} s  "
            f"eval {eval_cpu:5.1f} s",
            flush=True,
        )
    return out


def main() -> None:
    ap = book_arguments(__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", help="names of VARIANTS to run (default: all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.variants:
        for k in list(VARIANTS):
            if k not in args.variants:
                del VARIANTS[k]
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for regime in args.regimes:
        results.extend(run_regime(regime, args))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
