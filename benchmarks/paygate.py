"""The payment-date gate on thin evidence (session 25, issue 13): what the gate sees and what the
registered model does after the cut.

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/paygate.py ING [ING ...] --cuts 13 15 18 24 \\
        --forward 6 --out OUT.jsonl [--config conf/train.yaml]

Each ``ING`` is an ``ews ingest --out`` folder. Per book and cut M (months): ``ews train``'s own
payment-date steps (``pipelines.flows.train_paydate``: ``plan(last=CUT)``, ``build_rows``,
``fit_and_evaluate``, with the train config's ``paydate``) as if the data ended on CUT, the last day of
the M-th month from the book's first month (a book of M months from the same start ends there). Rows,
features and outcomes are read from rows dated <= CUT (the plan's cut censors the training rows and
the held-out outcomes). Per training it records:

- the evidence the gate judges: test month-ends, the held-out model's training month-ends, test
  invoices, paid within the horizon, debtors and debtors with a paid test invoice;
- the gate figures with their 95 % debtor-bootstrap intervals (MAE - better baseline, p10-p90
  coverage, weekly cash error ``cash_wape``; for the cash error also the share of draws below its point:
  its percentile interval often misses the point, BENCHMARKS.md session 25);
- the decision of the gate (``gate_decision`` without a champion: a first training), and of the
  session 25 candidate minimum evidence (``--min-heldout``, ``--min-test``, ``--min-debtors``);
- forward (unless ``--forward 0``): the registered model predicts the ``--forward`` month-ends after
  CUT whose horizon is observed in the whole book, evaluated as the gate evaluates
  (``models.paydate.evaluate``: shaped interval, the day shape of the registered model's rows, its
  memo share): MAE, both baselines' MAE, the paired debtor-bootstrap interval of MAE - better
  baseline, p10-p90 coverage with its interval, weekly cash error with its interval.

One JSON line per book and cut.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import accumulate
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
PERIOD_DAYS = 7


def cut_day(first, months: int):
    """The last day of the ``months``-th month from ``first``'s month (its first month is 1)."""
    import pandas as pd

    start = pd.Timestamp(first).to_period("M").to_timestamp()
    return start + pd.DateOffset(months=months) - pd.Timedelta(days=1)


def forward_tests(book, days: list[int], until: int, horizon: int):
    """The held-out invoices of month-ends ``days`` (``evaluation_invoices``, outcomes up to ``until``)
    with one debtor code across the book, as ``build_rows`` shifts them."""
    import pandas as pd

    from features.ledger import prepare_ledger
    from features.paydate import evaluation_invoices
    from pipelines.engine import has_ledger

    parts, counts = [], []
    for k in range(book.buckets):
        part = book.read(k)
        if not has_ledger(part) or part.invoices is None or part.invoices.empty:
            continue
        ledger = prepare_ledger(part)
        parts.append([evaluation_invoices(ledger, T, until, horizon) for T in days])
        counts.append(len(ledger.debtor_ids))
    shift = list(accumulate([0] + counts[:-1]))
    return [
        (
            T,
            pd.concat(
                [p[i].assign(code=p[i]["code"] + s) for p, s in zip(parts, shift, strict=True)],
                ignore_index=True,
            ),
        )
        for i, T in enumerate(days)
    ]


def debtor_cash(
    amount: np.ndarray,
    Fw: np.ndarray,
    actual: tuple[np.ndarray, np.ndarray],
    idx: np.ndarray,
    n: int,
    weeks: int = 13,
) -> tuple[np.ndarray, np.ndarray]:
    """Per debtor (``idx``: each invoice's debtor, 0..``n``-1) and week 1..``weeks`` after T: the
    expected cash (``amount`` times the week's probability of ``Fw``, as ``cash_moments``) and the
    actual cash (``actual``: :func:`cash_actuals`, counted as :func:`actual_cash`). Two ``(n, weeks)``
    arrays whose column sums are the weekly forecast and actual of the cash backtest."""
    amount = np.asarray(amount, dtype=np.float64)
    expected = np.zeros((n, weeks))
    prev = np.zeros(len(amount))
    for w in range(weeks):
        expected[:, w] = np.bincount(idx, weights=amount * (Fw[:, w] - prev), minlength=n)
        prev = Fw[:, w]
    got, days = (np.asarray(a, dtype=np.float64) for a in actual)
    ok = ~np.isnan(days)
    week = np.where(ok, (np.nan_to_num(days) - 1) // PERIOD_DAYS, weeks).astype(np.int64)
    keep = ok & (week < weeks)
    real = np.zeros((n, weeks))
    np.add.at(real, (idx[keep], week[keep]), got[keep])
    return expected, real


def cash_wape_interval(
    parts: list[tuple[np.ndarray, np.ndarray]], draws: int = 400, seed: int = 0
) -> tuple[float, float, float]:
    """95 % interval of the weekly cash error (``cash_wape`` of ``models.paydate.evaluate``: the mean over
    month-ends and weeks with actual cash of |forecast - actual| / actual) from a bootstrap over
    debtors: ``parts`` holds per test month-end :func:`debtor_cash` of the same debtors (row i: one
    debtor in every month-end); each draw weighs every debtor by the times it was drawn, in every
    month-end. NaN without debtors or without a week of actual cash. Third: the share of draws below the point."""
    if not parts or parts[0][0].shape[0] == 0:
        return float("nan"), float("nan"), float("nan")
    expected = np.stack([e for e, _ in parts])  # month-ends x debtors x weeks
    actual = np.stack([a for _, a in parts])
    n = expected.shape[1]
    rng = np.random.default_rng(seed)
    errors = np.full(draws, np.nan)
    for i in range(draws):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        f = np.einsum("d,tdw->tw", w, expected)
        a = np.einsum("d,tdw->tw", w, actual)
        seen = a > 0
        if seen.any():
            errors[i] = float((np.abs(f[seen] - a[seen]) / a[seen]).mean())
    if np.isnan(errors).all():
        return float("nan"), float("nan"), float("nan")
    low, high = np.nanquantile(errors, [0.025, 0.975])
    e = np.stack([x for x, _ in parts]).sum(1)
    r = actual.sum(1)
    point = float((np.abs(e[r > 0] - r[r > 0]) / r[r > 0]).mean())
    return float(low), float(high), float(np.nanmean(errors < point))


def figures(metrics: dict) -> dict:
    keys = (
        "mae_days",
        "due_date_mae_days",
        "due_plus_lateness_mae_days",
        "mae_diff_ci_low",
        "mae_diff_ci_high",
        "within_7d",
        "coverage_80",
        "coverage_80_ci_low",
        "coverage_80_ci_high",
        "cash_wape",
        "cash_wape_ci_low",
        "cash_wape_ci_high",
        "cash_wape_draws_below",
        "invoices",
        "paid_in_horizon",
        "debtors",
        "paid_debtors",
    )
    return {k: (None if metrics.get(k) is None else round(float(metrics[k]), 6)) for k in keys}


def cash_interval(tests, cdfs, memo_share: float) -> dict:
    """The weekly cash error's debtor-bootstrap interval of month-ends ``tests`` predicted as ``cdfs``."""
    from models.paydate import cash_actuals, cash_amounts

    codes = np.unique(np.concatenate([inv["code"].to_numpy(dtype=np.int64) for _, inv in tests]))
    parts = [
        debtor_cash(
            cash_amounts(inv["open_amount"].to_numpy(dtype=np.float64), memo_share),
            F,
            cash_actuals(inv),
            np.searchsorted(codes, inv["code"].to_numpy(dtype=np.int64)),
            len(codes),
        )
        for (_, inv), F in zip(tests, cdfs, strict=True)
    ]
    low, high, below = cash_wape_interval(parts)
    return {"cash_wape_ci_low": low, "cash_wape_ci_high": high, "cash_wape_draws_below": below}


def one_cut(book, cfg, months: int, forward: int, minimum: dict) -> dict:
    import pandas as pd

    from features.ledger import day_number
    from models.paydate import evaluate, fit_day_shape, weekly_cdf
    from pipelines.adapters.paydate_registry import gate_decision
    from pipelines.flows.train import DataError, data_window
    from pipelines.flows.train_paydate import _month_end_days, build_rows, fit_and_evaluate, plan

    first, last = data_window(book)
    cut = cut_day(first, months)
    row: dict = {"months": months, "cut": str(cut.date())}
    params = cfg.paydate.to_params(cfg.seed)
    H = params.horizon_weeks
    t = time.process_time()
    try:
        p = plan(book, cfg, H, last=cut)
    except DataError as exc:
        return {**row, "error": str(exc)}
    rows = build_rows.fn(book, p, H, params.seed, cfg.paydate.max_invoices_per_snapshot, None, params.grid())
    final, metrics, _, _, _, held_out = fit_and_evaluate.fn(rows, params)
    features, grid = params.features(), params.grid()
    cdfs = [weekly_cdf(held_out, inv, T, H, features, grid)[0] for T, inv in rows["test"]]
    metrics.update(cash_interval(rows["test"], cdfs, rows["memo_share"]["eval"]))
    g0 = gate_decision(metrics)
    evidence = {
        "heldout_month_ends": len(p.eval_train),
        "test_month_ends": len(p.test),
        "final_month_ends": len(p.final_train),
    }
    short = [
        name
        for name, have, need in (
            ("heldout", evidence["heldout_month_ends"], minimum["heldout"]),
            ("test", evidence["test_month_ends"], minimum["test"]),
            ("debtors", metrics.get("paid_debtors", 0.0), minimum["debtors"]),
        )
        if have < need
    ]
    row.update(
        evidence,
        plan=p.describe(),
        gate=figures(metrics),
        g0_promotes=bool(g0.passed),
        g0_reasons=list(g0.reasons),
        e_promotes=bool(g0.passed and not short),
        e_short=short,
        cpu_s=round(time.process_time() - t, 1),
    )
    if forward <= 0:
        return row
    snaps, last_day, _, _ = _month_end_days(book, cfg, None)  # every month-end to the book's end
    cut_n = int(day_number(cut))
    ahead = [T for T in snaps if cut_n < T and last_day >= T + 7 * H][:forward]
    row["forward_month_ends"] = [str(pd.Timestamp(T, unit="D").date()) for T in ahead]
    if len(ahead) < forward:
        row["forward_short"] = True
    if not ahead:
        return row
    tests = forward_tests(book, ahead, last_day, H)
    outs = [weekly_cdf(final, inv, T, H, features, grid) for T, inv in tests]
    fwd, _, _ = evaluate(
        final,
        tests,
        H,
        features=features,
        cdfs=[o[0] for o in outs],
        grids=None if grid is None else [(o[1], o[2]) for o in outs],
        interval=params.interval,
        shape=fit_day_shape(rows["final"]) if grid is None else None,
        weekdays=None,
        memo_share=rows["memo_share"]["final"],
    )
    fwd.update(cash_interval(tests, [o[0] for o in outs], rows["memo_share"]["final"]))
    row["forward"] = figures(fwd)
    row["cpu_s_total"] = round(time.process_time() - t, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ing", nargs="+", type=Path, help="ews ingest --out folders")
    parser.add_argument(
        "--cuts", nargs="+", type=int, default=[13, 15, 18, 24], help="months of history per training"
    )
    parser.add_argument(
        "--forward",
        type=int,
        default=6,
        help="month-ends after the cut the registered model predicts (0: none)",
    )
    parser.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    parser.add_argument("--min-heldout", type=int, default=6, help="candidate: held-out model's month-ends")
    parser.add_argument("--min-test", type=int, default=3, help="candidate: test month-ends")
    parser.add_argument(
        "--min-debtors", type=int, default=100, help="candidate: debtors with a paid test invoice"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    args = parser.parse_args(argv)

    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig
    from pipelines.engine import open_feed

    cfg = load_config(args.config, expect=TrainConfig)
    minimum = {"heldout": args.min_heldout, "test": args.min_test, "debtors": args.min_debtors}
    for ing in args.ing:
        book = open_feed(ing).book
        for months in args.cuts:
            row = {"book": ing.parent.name, **one_cut(book, cfg, months, args.forward, minimum)}
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                json.dumps(
                    {k: row.get(k) for k in ("book", "months", "g0_promotes", "e_promotes", "cpu_s_total")}
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
