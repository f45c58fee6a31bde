"""Speed and memory of the nightly payment-date step on a large book.

The book is an ``ews ingest --out`` folder (``--data``, read bucket by bucket as the nightly does;
``--buckets K``: only its first K buckets) or a generated one (``--debtors``/``--months``, frames in
memory cut into buckets as ``--raw`` does). A hazard model of the shipped shape is trained on a
sample of one month-end of the first bucket (only to have a model), then
``pipelines.scoring.paydate.forecast_book`` is timed (features, 26 weekly hazards per open invoice,
quantiles, cash moments, combined over buckets) as of the month-end before the last date, with peak
RSS sampled every 20 ms and the step's CPU seconds (process time: user + system of this process,
which load on the shared box does not inflate), also per 100,000 open invoices. The model's trees
and learning rate are ``conf/train.yaml``'s ``paydate`` section unless ``--trees``/``--learning-rate``
say otherwise. ``--interval``: the version's rule for ``paid_on_p10`` / ``paid_on_p90``
(``models.paydate.interval_days``; ``shaped`` with the within-week shape of the same training rows;
without it the version is one of before session 8: ``first``); ``--weekday-median``: the version's
median spread by the same rows' settlement weekdays (``models.paydate.fit_weekday_profile``);
``--out DIR``: also write the
forecast's invoice rows (Parquet) and cash rows (CSV) there, to compare runs byte for byte.
``--without-state``: the model is trained without ``features.paydate.STATE_FEATURES`` (a version of before
session 28; the nightly still builds the columns). Always reported beside the step: the CPU seconds of
building the state columns alone (``features.paydate._due_state`` on the first bucket's ledger state as of
the same day, best of 3), per 100,000 of that bucket's open invoices.

    nice .venv/bin/python benchmarks/paydate_scale.py --data /work/bench/gen_100k_ingested
    nice .venv/bin/python benchmarks/paydate_scale.py --data /work/bench/gen_1m_buckets --buckets 1 --trees 150 --learning-rate 0.08

Prints the figures and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from features.ledger import day_number, ledger_state, prepare_ledger  # noqa: E402
from features.paydate import FEATURES, PERIOD_DAYS, STATE_FEATURES, _due_state, training_rows  # noqa: E402
from features.tables import Portfolio  # noqa: E402
from models.paydate import PaydateParams, fit_hazard  # noqa: E402
from pipelines.adapters.paydate_registry import LoadedPaydate  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import BUCKET_ROWS, Book  # noqa: E402
from pipelines.scoring.paydate import forecast_book  # noqa: E402
from pipelines.synthetic import generate, regime_params  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-paydate-scale"))
    ap.add_argument("--bucket-rows", type=int, default=BUCKET_ROWS)
    ap.add_argument("--data", type=Path, help="an `ews ingest --out` folder instead of a generated book")
    ap.add_argument("--buckets", type=int, help="with --data: only the first K buckets")
    ap.add_argument("--trees", type=int, help="default: conf/train.yaml paydate.n_estimators")
    ap.add_argument("--learning-rate", type=float, help="default: conf/train.yaml paydate.learning_rate")
    ap.add_argument("--interval", choices=["shaped", "mid", "first"], help="default: a version without one")
    ap.add_argument("--weekday-median", action="store_true", help="the median spread by weekday (session 8)")
    ap.add_argument("--out", type=Path, help="write invoices.parquet and cash.csv of the forecast here")
    ap.add_argument(
        "--without-state", action="store_true", help="a model without STATE_FEATURES (before s28)"
    )
    args = ap.parse_args()
    if args.data:
        book = Book.ingested(args.data)
        if args.buckets:
            book = Book(min(args.buckets, book.buckets), folder=book.folder)
        first = book.read(0)
    else:
        params = regime_params("base", seed=7, debtors=args.debtors, months=args.months)
        out = args.work / f"base-{params.debtors}x{params.months}"
        if not (out / "generate-summary.json").exists():
            generate(params, out)
        tables = {n: pd.read_parquet(out / f"{n}.parquet") for n in ("invoices", "payments", "debtors")}
        book = Book.in_memory(Portfolio(**tables), args.bucket_rows)
        first = book.read(0)
    last = max(first.invoices["issue_date"].max(), first.payments["paid_on"].max())
    as_of = (last - pd.offsets.MonthEnd(1)).normalize()
    # a model of the shipped shape, trained on a sample of one earlier month-end
    sample_ids = first.debtors["debtor_id"].iloc[:5000]
    small = Portfolio(
        **{
            n: f[f["debtor_id"].isin(sample_ids)]
            for n in ("invoices", "payments", "debtors")
            if (f := getattr(first, n)) is not None
        }
    )
    T0 = int(day_number(as_of - pd.offsets.MonthEnd(3)))
    conf = TrainConfig().paydate
    hp = PaydateParams(
        horizon_weeks=conf.horizon_weeks,
        n_estimators=args.trees or conf.n_estimators,
        learning_rate=args.learning_rate or conf.learning_rate,
        num_leaves=conf.num_leaves,
        min_child_samples=conf.min_child_samples,
    )
    rows = training_rows(prepare_ledger(small), [T0], int(day_number(as_of)), hp.horizon_weeks, 3000)
    features = [f for f in FEATURES if not (args.without_state and f in STATE_FEATURES)]
    state_cpu, state_open = state_columns_cpu(first, int(day_number(as_of)))
    version = {}
    if args.interval:
        from models.paydate import fit_day_shape

        version = {"interval": args.interval, "day_shape": fit_day_shape(rows).tolist()}
    if args.weekday_median:
        from models.paydate import fit_weekday_profile

        version["weekdays"] = fit_weekday_profile(rows).tolist()
    loaded = LoadedPaydate(
        "ews-paydate", "bench", None, "", fit_hazard(rows, hp, tuple(features)), features, hp.horizon_weeks, PERIOD_DAYS,
        **version,
    )  # fmt: skip

    del first, small
    proc = psutil.Process()
    peak, stop = [proc.memory_info().rss], threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t, cpu = time.perf_counter(), time.process_time()
    fc = forecast_book(book, as_of.date(), loaded)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    stop.set()
    thread.join()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        fc.invoices.to_parquet(args.out / "invoices.parquet")
        fc.cash.to_csv(args.out / "cash.csv", index=False)
    result = {
        "book": str(args.data) if args.data else f"generated {args.debtors} x {args.months}",
        "as_of": str(as_of.date()),
        "buckets": book.buckets,
        "open_invoices": int(len(fc.invoices)),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_s_per_100k_open_invoices": round(cpu / max(len(fc.invoices), 1) * 1e5, 2),
        "open_invoices_per_s": round(len(fc.invoices) / seconds),
        "peak_rss_gib": round(peak[0] / 2**30, 2),
        "trees": hp.n_estimators,
        "learning_rate": hp.learning_rate,
        "horizon_weeks": hp.horizon_weeks,
        "interval": args.interval,
        "weekday_median": args.weekday_median,
        "model_features": len(features),
        "without_state": args.without_state,
        "state_columns_cpu_s_bucket0": round(state_cpu, 3),
        "state_columns_cpu_s_per_100k_open_invoices": round(state_cpu / max(state_open, 1) * 1e5, 3),
        "bucket0_open_invoices": state_open,
    }
    print(
        f"{result['open_invoices']:,} open invoices, {result['book']} ({result['buckets']} buckets): "
        f"{result['seconds']} s ({result['open_invoices_per_s']:,} invoices/s), CPU {result['cpu_seconds']} s "
        f"({result['cpu_s_per_100k_open_invoices']} s per 100k open invoices), peak RSS {result['peak_rss_gib']} GiB; "
        f"model inputs {len(features)}; the state columns alone {result['state_columns_cpu_s_bucket0']} CPU-s on bucket 0 "
        f"({state_open:,} open invoices: {result['state_columns_cpu_s_per_100k_open_invoices']} s per 100k)"
    )
    print(json.dumps(result))


def state_columns_cpu(part: Portfolio, T: int) -> tuple[float, int]:
    """CPU seconds (best of 3) of ``_due_state`` on ``part``'s ledger state at T, and its open invoices."""
    import numpy as np

    state = ledger_state(prepare_ledger(part), T)
    code = state.inv_code[state.open_mask].astype(np.int64)
    best = float("inf")
    for _ in range(3):
        cols = {"code": code, "debtor_late_median_last5": np.zeros(len(code))}
        t = time.process_time()
        _due_state(state, cols, (60,))
        best = min(best, time.process_time() - t)
    return best, len(code)


if __name__ == "__main__":
    main()
