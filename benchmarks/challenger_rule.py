"""The LightGBM-or-scorecard rule, before and after, on the regime books: kind shipped and forward figures.

For each regime book of ``benchmarks/regimes.py`` (cached under ``--work``), the forward test of
``regimes.py`` (train on what a user had at the cut, score the ``--forward`` observed month-ends after
it) is run once with ``evaluation.challenger: auto`` and once with the kind it did *not* pick forced,
so the forward PDs of both kinds' shipped models are at hand (the shipped model of a kind does not
depend on the rule that picked it). The evidence the rule saw (the pooled rolling-origin fold rows,
or the test window on the single-window path) is saved under ``--rows`` with the forward rows, and
both rules are applied to it:

- ``before``: :func:`models.evaluate.choose_challenger` on the 95 % debtor-bootstrap intervals of the
  paired differences (log-loss, then AUC; neither excludes 0: the scorecard);
- ``after``: :func:`models.challenger.choose_on_folds` (the product's rule since s5-pd: the same
  order, with the AUC of pooled folds counted within folds, :func:`models.evaluate.paired_difference`).

Per book it prints the per-fold log-loss and AUC differences, both decisions with their reasons, and
the forward AUC / capture@5 % of what each rule ships against the baseline and the oracle.
``--from-rows`` re-applies the rules to saved evidence without training.

    nice .venv/bin/python benchmarks/challenger_rule.py --work /tmp/ews-regimes --rows /tmp/rule \
        --seeds 1,2,3 [--regimes stress,base] [--from-rows] [--json out.json]
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

from baseline import baseline_features  # noqa: E402
from regimes import HORIZON_DAYS, KEYS, book, forward_test, modelling_frame  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.challenger import choose_on_folds  # noqa: E402
from models.evaluate import bootstrap_intervals, choose_challenger, classification_metrics  # noqa: E402
from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.synthetic import REGIMES  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dump(regime: str, seed: int, args: argparse.Namespace, cfg: TrainConfig) -> Path:
    """Train as of the cut (auto, then the other kind forced); save evidence and forward rows."""
    out = args.rows / f"{regime}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    params = cfg.to_params(HORIZON_DAYS)
    data, gen = book(regime, seed, args.work, None, None)
    portfolio, frame = modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    ns = argparse.Namespace(forward=args.forward, ablations=False, families=False, drop=[])
    c0 = _cpu()
    test, scores, outcome, cut = forward_test(frame, base, truth[[*KEYS, "oracle_pd"]], params, ns)
    cpu_auto = _cpu() - c0
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    test_rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    other = "scorecard" if outcome.kind == "lightgbm" else "lightgbm"
    fwd = test[KEYS].assign(
        y=test["y"].to_numpy(), oracle=scores["oracle"], baseline=scores["baseline"], pd_ews=scores["ews"]
    )
    fwd[f"pd_{outcome.kind}"] = scores["ews"]
    # the other kind's shipped model: always with --both-kinds, else only when the two rules disagree
    changed = False
    if not outcome.fold_rows.empty:
        rules = _rules(outcome.fold_rows.assign(debtor_id=outcome.fold_rows["debtor_id"].astype(str)), params)
        changed = rules[0][0] != rules[1][0]
    if args.both_kinds or changed:
        forced = train_pd_model(past, dataclasses.replace(params, challenger=other))
        fwd[f"pd_{other}"] = forced.final_estimator.predict_proba(test_rows)[:, 1]
    fwd.to_parquet(out / "forward.parquet")
    window = outcome.test.assign(fold=-1)[["fold", "debtor_id", "as_of", "y", "pd_lightgbm", "pd_baseline"]]
    window = window.rename(columns={"pd_baseline": "pd_scorecard"})
    window.to_parquet(out / "test_window.parquet")
    if not outcome.fold_rows.empty:
        outcome.fold_rows.to_parquet(out / "folds.parquet")
    meta = {
        "regime": regime,
        "seed": seed,
        "book": f"{gen.debtors} x {gen.months}",
        "cut": str(cut.date()),
        "kind_shipped": outcome.kind,
        "selection": outcome.selection,
        "test_defaults": int(outcome.windows.loc["test", "defaults"]),
        "folds": outcome.folds.to_dict("records"),
        "cpu_auto_s": round(cpu_auto, 1),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    return out


def _intervals(rows: pd.DataFrame, n_boot: int, seed: int):
    y = rows["y"].to_numpy()
    preds = {k: rows[f"pd_{k}"].to_numpy(dtype="float64") for k in ("lightgbm", "scorecard")}
    ci = bootstrap_intervals(
        y,
        preds,
        rows["debtor_id"].astype(str).to_numpy(),
        pairs=[("lightgbm", "scorecard")],
        n_boot=n_boot,
        seed=seed,
    )["lightgbm-scorecard"]
    m = {k: classification_metrics(y, p) for k, p in preds.items()}
    return ci, {x: m["lightgbm"][x] - m["scorecard"][x] for x in ("logloss", "auc")}


def _fwd(rows: pd.DataFrame, col: str) -> dict[str, float]:
    m = classification_metrics(rows["y"].to_numpy(), rows[col].to_numpy())
    return {"auc": round(m["auc"], 4), "capture_5pct": round(m["capture_5pct"], 4)}


def _rules(rows: pd.DataFrame, params) -> tuple[tuple[str, str, dict], tuple[str, str, dict]]:
    """(before, after) decisions on the pooled fold rows: (kind, reason, intervals)."""
    ci, point = _intervals(rows, params.bootstrap_samples, params.seed)
    before = (*choose_challenger(ci, point), ci)
    after = choose_on_folds(rows, n_boot=params.bootstrap_samples, seed=params.seed)
    return before, after


def judge(path: Path, params) -> dict[str, Any]:
    if not (path / "meta.json").exists():
        raise SystemExit(f"no saved evidence in {path}: run without --from-rows first")
    meta = json.loads((path / "meta.json").read_text())
    evidence = path / "folds.parquet"
    rows = pd.read_parquet(evidence if evidence.exists() else path / "test_window.parquet")
    if evidence.exists():
        (before, before_why, _), (after, after_why, after_ci) = _rules(rows, params)
    else:  # the single-window path: one stratum, the same rule and figures as before
        rows = rows.assign(fold=0)
        ci, point = _intervals(rows, params.bootstrap_samples, params.seed)
        before, before_why = choose_challenger(ci, point)
        after, after_why, after_ci = before, before_why, ci
    per_fold = []
    for f, part in rows.groupby("fold"):
        y = part["y"].to_numpy()
        m = {k: classification_metrics(y, part[f"pd_{k}"].to_numpy()) for k in ("lightgbm", "scorecard")}
        per_fold.append(
            {
                "fold": int(f),
                "rows": len(part),
                "defaults": int(y.sum()),
                "d_logloss": round(m["lightgbm"]["logloss"] - m["scorecard"]["logloss"], 5),
                "d_auc": round(m["lightgbm"]["auc"] - m["scorecard"]["auc"], 4),
            }
        )
    fwd = pd.read_parquet(path / "forward.parquet")
    fwd = fwd[fwd["oracle"].notna()]
    cols = {k: f"pd_{k}" for k in ("lightgbm", "scorecard") if f"pd_{k}" in fwd}
    figures = {k: _fwd(fwd, c) for k, c in {**cols, "baseline": "baseline", "oracle": "oracle"}.items()}
    fci, fpoint = _intervals(fwd, params.bootstrap_samples, params.seed) if len(cols) == 2 else ({}, {})
    return {
        **{k: meta[k] for k in ("regime", "seed", "book", "cut", "kind_shipped", "test_defaults")},
        "evidence": "folds" if evidence.exists() else "test window",
        "rows": len(rows),
        "defaults": int(rows["y"].sum()),
        "per_fold": per_fold,
        "before": before,
        "before_why": before_why,
        "after": after,
        "after_why": after_why,
        "after_ci": after_ci,
        "forward_rows": len(fwd),
        "forward_defaults": int(fwd["y"].sum()),
        "forward": figures,
        "forward_diff": {k: [round(fpoint[k], 5), *(round(v, 5) for v in fci[k])] for k in fpoint},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"), help="generated books (cached)")
    ap.add_argument("--rows", type=Path, default=Path("/tmp/ews-challenger-rule"), help="saved evidence")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--from-rows", action="store_true", help="only re-apply the rules to saved evidence")
    ap.add_argument(
        "--both-kinds", action="store_true", help="train the kind not shipped even if no rule picks it"
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params(HORIZON_DAYS)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for regime in args.regimes.split(","):
            path = args.rows / f"{regime}-s{seed}"
            if not args.from_rows:
                c0 = _cpu()
                dump(regime, seed, args, cfg)
                print(f"{regime} seed {seed}: trained in {_cpu() - c0:.1f} CPU s", flush=True)
            r = judge(path, params)
            results.append(r)
            f = r["forward"]
            print(
                f"{regime} s{seed} ({r['book']}): evidence {r['evidence']} {r['rows']} rows / {r['defaults']} defaults; "
                f"before {r['before']}, after {r['after']}",
                flush=True,
            )
            for pf in r["per_fold"]:
                print(f"   fold {pf}", flush=True)
            print(f"   before: {r['before_why']}\n   after: {r['after_why']}", flush=True)
            print(
                "   forward: "
                + ", ".join(f"{k} {v['auc']:.4f} / {v['capture_5pct']:.3f}" for k, v in f.items())
                + f"; LightGBM - scorecard {r['forward_diff']}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    summary = [
        {k: r[k] for k in ("regime", "seed", "before", "after", "defaults")}
        | {"ews_after": r["forward"][f"{r['after']}"] if r["after"] in r["forward"] else None}
        for r in results
    ]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
