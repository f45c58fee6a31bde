"""The queue key's evidence and the payment-date model on short books (session 24, issues 11 and 13).

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/shortbook_key.py ING [ING ...] --out OUT.jsonl
        [--config conf/train.yaml] [--variants m16 m8 fix] [--no-paydate]

Each ``ING`` is an ``ews ingest --out`` folder. Per book, ``ews train``'s own steps run once up to the
PD model (``pipelines.flows.train``: ingest, snapshots, fit with the shipped ``conf/train.yaml``), then
``pipelines.flows.queue_key.queue_key_evidence`` once per variant of the train config's ``paydate``:

- ``m16``: ``train_snapshots`` 16 and ``fold_min_snapshots`` 16, the shipped rule (a fold's
  payment-date model needs all 16 month-ends before its cut; main's since session 23);
- ``m8``: ``train_snapshots`` 8 (the folds need 8; the window's and the registered model train on 8:
  the settings before session 23);
- ``fix``: ``train_snapshots`` 16 and ``fold_min_snapshots`` 8 (session 24's candidate F8, pre-registered
  and not shipped: a fold needs 8, its model trains on the latest 16 month-ends before the cut, or on
  all of them when fewer).

The PD model does not read ``paydate``, so all variants rank the same folds and test window. For each:
the key, the reason ``ews train`` records, the folds used and left out. Unless ``--no-paydate``, the
registered payment-date model's held-out figures as ``ews train`` computes them
(``pipelines.flows.train_paydate``: plan, rows, fit and evaluate) for ``m16`` and ``m8`` (``fix`` trains
the same registered model as ``m16``): MAE, within 7 days, p10-p90 coverage, the weekly cash error
(``cash_wape``, the mean absolute percentage error over the weeks) and the month-ends it trained on.
One JSON line per book and variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

VARIANTS = {
    "m16": {"train_snapshots": 16, "fold_min_snapshots": 16},
    "m8": {"train_snapshots": 8, "fold_min_snapshots": 8},
    "fix": {"train_snapshots": 16, "fold_min_snapshots": 8},
}


def variant(cfg, name: str):
    return cfg.model_copy(update={"paydate": cfg.paydate.model_copy(update=VARIANTS[name])})


def paydate_figures(book, cfg) -> dict:
    from pipelines.flows.train import DataError
    from pipelines.flows.train_paydate import build_rows, fit_and_evaluate, plan

    params = cfg.paydate.to_params(cfg.seed)
    try:
        p = plan(book, cfg, params.horizon_weeks)
    except DataError as exc:
        return {"paydate_error": str(exc)}
    rows = build_rows.fn(
        book, p, params.horizon_weeks, params.seed, cfg.paydate.max_invoices_per_snapshot, None, params.grid()
    )
    _, m, *_ = fit_and_evaluate.fn(rows, params)
    return {
        "mae_days": m["mae_days"],
        "due_plus_lateness_mae_days": m["due_plus_lateness_mae_days"],
        "within_7d": m["within_7d"],
        "coverage_80": m["coverage_80"],
        "cash_wape": m.get("cash_wape"),
        "eval_month_ends": len(p.eval_train),
        "final_month_ends": len(p.final_train),
        "test": [str(__import__("pandas").Timestamp(d, unit="D").date()) for d in p.test],
    }


def one_book(ing: Path, config: Path, names: list[str], with_paydate: bool) -> list[dict]:
    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import queue_key_evidence
    from pipelines.flows.train import fit, ingest, load_project, require_observed_labels, snapshots
    from pipelines.ingest.decimals import feed_currency

    cfg = load_config(config, expect=TrainConfig)
    project = load_project(cfg, config)
    t = time.process_time()
    result = ingest.fn(ing, project.currency)
    book = result.book
    dataset = snapshots.fn(book, cfg, project)
    require_observed_labels(dataset, book.last_observed(), project.default_definition.horizon_days)
    outcome = fit.fn(
        dataset, cfg, project.default_definition.horizon_days, project.default_definition.to_params()
    )
    currency = feed_currency(
        result.manifest, (book.read(k).invoices for k in range(book.buckets)), project.currency.reporting
    )
    folds = getattr(outcome, "fold_rows", None)
    base = {
        "book": ing.parent.name,
        "config": config.name,
        "kind": outcome.kind,
        "pd_cpu_s": round(time.process_time() - t, 1),
        "pd_folds": 0 if folds is None or folds.empty else int(folds["fold"].nunique()),
        "fold_cuts": []
        if folds is None or folds.empty
        else [
            str(folds.loc[folds["fold"] == f, "as_of"].min().date()) for f in sorted(folds["fold"].unique())
        ],
    }
    out = []
    for name in names:
        vcfg = variant(cfg, name)
        t = time.process_time()
        key = queue_key_evidence(outcome, dataset, book, vcfg, project, currency=currency)
        row = {
            **base,
            "variant": name,
            "key": key.key,
            "reason": key.reason,
            "key_cpu_s": round(time.process_time() - t, 1),
        }
        row["pooled_folds"] = (
            int(key.reason.split("the challenger's ")[1].split(" pooled")[0])
            if "pooled rolling-origin folds" in key.reason
            else 0
        )
        row["left_out"] = key.reason.count("fewer than")
        if with_paydate and name != "fix":
            row.update(paydate_figures(book, vcfg))
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ing", nargs="+", type=Path, help="ews ingest --out folders")
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    ap.add_argument(
        "--config", type=Path, default=ROOT / "conf" / "train.yaml", help="train config (kind: train)"
    )
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument(
        "--no-paydate", action="store_true", help="skip the registered payment-date model's figures"
    )
    args = ap.parse_args(argv)

    import logging

    import pipelines.flows.train as train_flow

    # no Prefect run (its temporary server timed out to start on the shared box): fit's small-book
    # branch logs its note through this logger instead of the flow run's; nothing else reads it
    logging.basicConfig(level=logging.WARNING)
    train_flow.get_run_logger = lambda: logging.getLogger("shortbook_key")
    for ing in args.ing:
        rows = one_book(ing.resolve(), args.config.resolve(), args.variants, not args.no_paydate)
        with args.out.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
