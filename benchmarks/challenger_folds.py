"""Which model kind ews ships on each regime book, and why: test window alone vs rolling-origin folds.

For each regime book of ``benchmarks/regimes.py`` (cached under ``--work``), trains
``models.train.train_pd_model`` with ``conf/train.yaml`` on what a user had at the cut (as in
``regimes.py``: the ``--forward`` observed snapshots after it are held out) and prints the kind it
ships, the reason (test window or pooled folds, counts, paired intervals), the folds and the CPU
seconds of the training (user + sys of this process, which load does not inflate).
``--fold-defaults 0`` gives the single-window path (the behaviour before the folds).
``--forward-ci`` also trains both kinds forced (``evaluation.challenger``) and compares them on the
held-out forward rows with the paired debtor bootstrap: is one of them clearly better there?

    nice .venv/bin/python benchmarks/challenger_folds.py --work /tmp/ews-regimes --seed 3 \
        --regimes stress,contagion [--fold-defaults 0] [--forward-ci] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from regimes import HORIZON_DAYS, book, modelling_frame  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import TrainParams, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.synthetic import REGIMES  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def forward_ci(past: pd.DataFrame, rows: pd.DataFrame, params: TrainParams) -> dict[str, Any]:
    """Both kinds shipped (forced), scored on the forward rows; paired debtor bootstrap."""
    y = rows["label"].astype(int).to_numpy()
    preds = {}
    for kind in ("lightgbm", "scorecard"):
        out = train_pd_model(past, dataclasses.replace(params, challenger=kind))
        preds[kind] = out.final_estimator.predict_proba(rows)[:, 1]
    ci = bootstrap_intervals(
        y, preds, rows["debtor_id"].to_numpy(), pairs=[("lightgbm", "scorecard")], seed=params.seed
    )["lightgbm-scorecard"]
    m = {k: classification_metrics(y, p) for k, p in preds.items()}
    return {
        **{f"{k}_{x}": round(m[k][x], 4) for k in preds for x in ("auc", "logloss", "capture_5pct")},
        **{
            f"diff_{x}": [round(m["lightgbm"][x] - m["scorecard"][x], 5), *(round(v, 5) for v in ci[x])]
            for x in ("logloss", "auc")
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES), help="comma-separated regime names")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"), help="generated books (cached)")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6, help="observed snapshots after the cut, held out")
    ap.add_argument("--fold-defaults", type=int, default=None, help="override evaluation.fold_defaults")
    ap.add_argument("--forward-ci", action="store_true", help="also compare both kinds on the forward rows")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params(HORIZON_DAYS)
    if args.fold_defaults is not None:
        params = dataclasses.replace(params, fold_defaults=args.fold_defaults)
    results = []
    for regime in args.regimes.split(","):
        data, gen = book(regime, args.seed, args.work, None, None)
        _, frame = modelling_frame(data, cfg)
        frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
        observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
        past = as_of_cut(frame, pd.Timestamp(observed[-args.forward - 1]), HORIZON_DAYS)
        c0 = _cpu()
        out = train_pd_model(past, params)
        r: dict[str, Any] = {
            "regime": regime,
            "seed": args.seed,
            "book": f"{gen.debtors} x {gen.months}",
            "kind": out.kind,
            "test_defaults": int(out.windows.loc["test", "defaults"]),
            "folds": out.folds.to_dict("records"),
            "cpu_s": round(_cpu() - c0, 1),
            "timings": {k: round(v, 1) for k, v in out.timings.items()},
            "selection": out.selection,
        }
        if args.forward_ci:
            rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
            r["forward"] = forward_ci(past, rows, params)
        results.append(r)
        print(
            f"{regime} seed {args.seed} ({r['book']}): ships {r['kind']}, test window {r['test_defaults']} defaults, "
            f"{len(r['folds'])} folds, {r['cpu_s']} CPU s\n  {r['selection']}",
            flush=True,
        )
        for f in r["folds"]:
            print(
                f"  fold {f['fold']}: evaluates {f['evaluation']} ({f['rows']} rows, {f['defaults']} defaults), "
                f"fitted through {f['fitted_through']}; AUC LightGBM {f['lightgbm_auc']:.4f} / scorecard "
                f"{f['scorecard_auc']:.4f}, log-loss {f['lightgbm_logloss']:.5f} / {f['scorecard_logloss']:.5f}",
                flush=True,
            )
        if "forward" in r:
            print(f"  forward rows, LightGBM - scorecard (point, 95% CI): {r['forward']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(
        json.dumps([{k: r[k] for k in ("regime", "seed", "kind", "test_defaults", "cpu_s")} for r in results])
    )


if __name__ == "__main__":
    main()
