"""ews vs a simple baseline vs the oracle, in every regime of ``ews generate`` (same rows and dates).

For each regime (``pipelines.synthetic.regimes``; book size and history are the regime's own unless
``--debtors``/``--months`` are given) the harness generates the book (cached under ``--work``),
ingests it and builds the train flow's modelling frame (``pipelines.flows.train.build_dataset``).
Then a forward test, as in ``benchmarks/train_forward.py``: the *cut* is the snapshot ``--forward``
observed snapshots before the last one; every model trains on what a user would have had on the cut
(rows with as_of <= cut, labels whose horizon ends after the cut masked) and scores the
``--forward`` snapshots after it, whose labels it never saw:

- ``ews``: the product's training, ``models.train.train_pd_model`` with ``conf/train.yaml``, and the
  model it ships (``final_estimator``);
- ``baseline``: ``benchmarks/baseline.py`` (16 hand-written features + plain LightGBM) fitted on the
  same labelled rows;
- ``oracle``: the generator's exact PD (``truth.parquet``), joined on (debtor_id, as_of).

``--ablations`` adds, on the same rows: ``ews_uncalibrated`` (the shipped LightGBM before
calibration), ews's features with ews's LightGBM settings and tree count fitted on all labelled
rows (``feats_shipped_all``) or without the latest 6 labelled snapshots (``..._drop_last6``, as the
final model was fitted before the refit protocol), and the same two with plain LightGBM
(``feats_plain_*``). ``--families`` adds ``feats_shipped_all`` without one feature family at a
time (and without each ``--drop a+b`` set of columns).

    nice .venv/bin/python benchmarks/regimes.py --work /tmp/ews-regimes [--ablations] [--json out.json]
        [--boot 200] [--scores-dir DIR]

Prints one table row per regime and variant; ``--json`` writes every figure. ``--boot N`` adds Brier and
ECE per variant and N-draw debtor-bootstrap 95 % intervals (``models.evaluate.bootstrap_intervals``) of
AUC / capture@5 % / Brier of ews, the baseline, the oracle and the paired ews - baseline;
``--scores-dir`` writes each book's forward rows with every variant's score (paired comparisons
between commits on the same rows).

``--kind lightgbm|scorecard`` forces the kind ews ships (``evaluation.challenger``; default ``auto``,
the rule). ``--both`` also trains the kind the rule did not ship, as ``ews train`` would with
``challenger`` fixed to it, and scores it as ``ews_lightgbm`` / ``ews_scorecard`` (one of the two equals
``ews``). ``--tie-folds on|off`` sets ``evaluation.tie_folds`` (default: the config's); with it on,
``old_rule_kind`` is the kind the rule without it ships (the scorecard where the extension ran).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from baseline import BASELINE_FEATURES, baseline_features, fit_baseline, plain_lgbm  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from features.catalog import CATALOG  # noqa: E402
from features.params import FAMILIES  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import TrainParams, _lgbm, prepare_matrix, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402
from pipelines.synthetic import REGIMES, generate, regime_params  # noqa: E402

KEYS = ["debtor_id", "as_of"]
HORIZON_DAYS = ProjectConfig().default_definition.horizon_days


def _source_hash() -> str:
    """Hash of the feature and label code: the cached modelling frame is rebuilt when it changes."""
    files = sorted((ROOT / "features").glob("*.py")) + [ROOT / "pipelines" / "flows" / "train.py"]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:12]


SOURCE_HASH = _source_hash()  # taken at start: the code this process imported


def book(regime: str, seed: int, work: Path, debtors: int | None, months: int | None) -> tuple[Path, Any]:
    params = regime_params(regime, seed=seed, debtors=debtors, months=months)
    out = work / f"{regime}-{params.debtors}x{params.months}-s{seed}"
    if not (out / "generate-summary.json").exists():
        generate(params, out)
    return out, params


def modelling_frame(data: Path, cfg: TrainConfig) -> tuple[Any, pd.DataFrame]:
    portfolio = ingest_dir(data, None).portfolio
    cache = data / f"frame-{SOURCE_HASH}.parquet"
    if cache.exists():
        return portfolio, pd.read_parquet(cache)
    frame = build_dataset(portfolio, snapshot_dates(portfolio, cfg), ProjectConfig())
    frame.to_parquet(cache)
    return portfolio, frame


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = classification_metrics(y, p)
    return {"auc": round(m["auc"], 4), "capture_5pct": round(m["capture_5pct"], 4)}


def _fit_predict(model, rows: pd.DataFrame, test: pd.DataFrame, names: list[str], cats) -> np.ndarray:
    X = prepare_matrix(rows, names, cats)
    model.fit(X, rows["label"].astype(int).to_numpy())
    return model.predict_proba(prepare_matrix(test, names, cats))[:, 1]


def forward_test(
    frame: pd.DataFrame,
    base: pd.DataFrame,
    truth: pd.DataFrame,
    params: TrainParams,
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], Any, pd.Timestamp]:
    """Train every variant as of the cut (labels masked as a user would have them), score the
    ``args.forward`` observed snapshots after it."""
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    outcome = train_pd_model(past, params)
    test_rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = test_rows[KEYS].merge(truth, on=KEYS, how="left")
    test["y"] = test_rows["label"].astype(int).to_numpy()
    scores: dict[str, np.ndarray] = {
        "ews": outcome.final_estimator.predict_proba(test_rows)[:, 1],
        "oracle": test["oracle_pd"].clip(0, 1).to_numpy(),
    }
    before = past[past["label"].notna()]
    # baseline: its own features, the same labels, rows and dates
    names = list(BASELINE_FEATURES)
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = test[KEYS].merge(base, on=KEYS, how="left")
    model = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
    scores["baseline"] = model.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
    feats, fcats = outcome.feature_names, outcome.categories

    def shipped_lgbm():
        return _lgbm(params.lgbm, outcome.best_iteration, params.seed)

    if args.ablations:
        labelled_dates = sorted(before["as_of"].unique())
        older = before[before["as_of"] < labelled_dates[-6]] if len(labelled_dates) > 8 else before
        if outcome.kind == "lightgbm":
            scores["ews_uncalibrated"] = outcome.model.predict_proba(prepare_matrix(test_rows, feats, fcats))[
                :, 1
            ]
        scores["feats_shipped_all"] = _fit_predict(shipped_lgbm(), before, test_rows, feats, fcats)
        scores["feats_shipped_drop_last6"] = _fit_predict(shipped_lgbm(), older, test_rows, feats, fcats)
        scores["feats_plain_all"] = _fit_predict(plain_lgbm(), before, test_rows, feats, fcats)
        scores["feats_plain_drop_last6"] = _fit_predict(plain_lgbm(), older, test_rows, feats, fcats)
    if getattr(args, "both", False) and outcome.kind in KINDS:
        scores[f"ews_{outcome.kind}"] = scores["ews"]
        other = next(k for k in KINDS if k != outcome.kind)
        forced = train_pd_model(past, dataclasses.replace(params, challenger=other))
        scores[f"ews_{other}"] = forced.final_estimator.predict_proba(test_rows)[:, 1]
        outcome.other = {
            "kind": other,
            "trees": forced.best_iteration,
            "calibration": forced.calibration.method,
        }
    drops = {extra: extra.split("+") for extra in args.drop}
    if args.families:
        drops.update(
            {fam: [f for f in feats if f in CATALOG and CATALOG[f].family == fam] for fam in FAMILIES}
        )
    if drops:
        for name, gone in drops.items():
            keep = [f for f in feats if f not in gone]
            if len(keep) < len(feats):
                kc = {k: v for k, v in fcats.items() if k in keep}
                scores[f"feats_shipped_all-{name}"] = _fit_predict(
                    shipped_lgbm(), before, test_rows, keep, kc
                )
    return test, scores, outcome, cut


KINDS = ("lightgbm", "scorecard")
EXTENDED = "every fold the book allows"  # models.train._on_folds's words when tie_folds judged again


def add_kind_args(ap: argparse.ArgumentParser) -> None:
    """``--kind``, ``--both`` and ``--tie-folds`` (module doc)."""
    ap.add_argument("--kind", choices=("auto", *KINDS), default="auto", help="the kind ews ships")
    ap.add_argument("--both", action="store_true", help="also train and score the other kind")
    ap.add_argument("--tie-folds", choices=("on", "off"), default=None, help="evaluation.tie_folds")


def kind_params(params: TrainParams, args: argparse.Namespace) -> TrainParams:
    """``params`` with ``--kind`` and ``--tie-folds`` applied."""
    params = dataclasses.replace(params, challenger=getattr(args, "kind", "auto"))
    tie = getattr(args, "tie_folds", None)
    return params if tie is None else dataclasses.replace(params, tie_folds=tie == "on")


def old_rule_kind(outcome: Any) -> str:
    """The kind the rule without ``tie_folds`` ships: where the extension ran, the first evidence
    was tied, so the scorecard."""
    return "scorecard" if EXTENDED in str(getattr(outcome, "selection", "")) else outcome.kind


def run_regime(
    regime: str, args: argparse.Namespace, cfg: TrainConfig, params: TrainParams
) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, gen = book(regime, args.seed, args.work, args.debtors, args.months)
    portfolio, frame = modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    result: dict[str, Any] = {"regime": regime, "debtors": gen.debtors, "months": gen.months}
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    truth = truth[[*KEYS, "oracle_pd"]]
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    try:
        test, scores, outcome, cut = forward_test(frame, base, truth, params, args)
    except ValueError as exc:
        result["error"] = str(exc)
        return result
    y = test["y"].to_numpy()
    covered = ~np.isnan(scores["oracle"])
    result.update(
        {
            "cut": str(cut.date()),
            "test_as_of": sorted({str(d.date()) for d in test["as_of"]}),
            "test_rows": int(covered.sum()),
            "test_defaults": int(y[covered].sum()),
            "kind": outcome.kind,
            "old_rule_kind": old_rule_kind(outcome),
            "other": getattr(outcome, "other", None),
            "selection": outcome.selection,
            "folds": len(outcome.folds),
            "trees": outcome.best_iteration,
            "calibration": outcome.calibration.method,
            "shipped_calibration": getattr(getattr(outcome, "shipped_calibration", None), "method", None),
            "metrics": {k: _metrics(y[covered], v[covered]) for k, v in scores.items()},
            "seconds": round(time.perf_counter() - t0, 1),
        }
    )
    n_boot = getattr(args, "boot", 0)
    if n_boot:  # Brier / ECE per variant, debtor-bootstrap intervals of ews, baseline, ews - baseline
        for name, p in scores.items():
            m = classification_metrics(y[covered], p[covered])
            result["metrics"][name].update({"brier": round(m["brier"], 6), "ece": round(m["ece"], 5)})
        ci = bootstrap_intervals(
            y[covered],
            {k: scores[k][covered] for k in ("ews", "baseline", "oracle")},
            test["debtor_id"].to_numpy()[covered],
            pairs=[("ews", "baseline")],
            n_boot=n_boot,
            seed=0,
        )
        result["ci"] = {
            k: {m: [round(x, 4) for x in v[m]] for m in ("auc", "capture_5pct", "brier") if m in v}
            for k, v in ci.items()
        }
    scores_dir = getattr(args, "scores_dir", None)
    if scores_dir:  # the forward rows' scores, for paired comparisons between commits
        scores_dir.mkdir(parents=True, exist_ok=True)
        test[[*KEYS, "y"]].assign(**scores).to_parquet(scores_dir / f"{regime}-s{args.seed}.parquet")
    o = result["metrics"]["oracle"]
    for m in result["metrics"].values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 4)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 4) if o["capture_5pct"] else None
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    """The per-regime table (ews vs baseline vs oracle) and the ablation table, as Markdown."""
    ok = [r for r in results if "error" not in r]
    lines = [
        "| regime | book | forward rows / defaults | ews (kind) AUC | / oracle | ews cap@5% | / oracle "
        "| baseline AUC | baseline cap@5% | oracle AUC | oracle cap@5% |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ok:
        e, b, o = (r["metrics"][k] for k in ("ews", "baseline", "oracle"))
        lines.append(
            f"| {r['regime']} | {r['debtors']:,} x {r['months']} | {r['test_rows']:,} / {r['test_defaults']} "
            f"| {e['auc']:.4f} ({r['kind']}) | {e['auc_ratio']:.3f} | {e['capture_5pct']:.3f} | {e['capture_ratio']:.3f} "
            f"| {b['auc']:.4f} | {b['capture_5pct']:.3f} | {o['auc']:.4f} | {o['capture_5pct']:.3f} |"
        )
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['regime']} | {r['debtors']:,} x {r['months']} | training failed: {r['error']} |"
            )
    variants = [v for v in ok[0]["metrics"] if v != "oracle"] if ok else []
    lines += ["", "| variant | " + " | ".join(r["regime"] for r in ok) + " |", "|---" * (len(ok) + 1) + "|"]
    for v in variants:
        cells = [
            f"{r['metrics'][v]['auc']:.4f} / {r['metrics'][v]['capture_5pct']:.3f}"
            if v in r["metrics"]
            else "-"
            for r in ok
        ]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES), help="comma-separated regime names")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--debtors", type=int, default=None, help="override every regime's book size")
    ap.add_argument("--months", type=int, default=None, help="override every regime's history length")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"), help="generated books (cached)")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6, help="observed snapshots after the cut to score")
    ap.add_argument("--ablations", action="store_true", help="also run the ablation variants")
    ap.add_argument("--families", action="store_true", help="also drop one feature family at a time")
    ap.add_argument(
        "--drop",
        action="append",
        default=[],
        help="also fit without these columns (a+b), ews LightGBM settings",
    )
    ap.add_argument(
        "--boot",
        type=int,
        default=0,
        help="Brier, ECE and this many debtor-bootstrap draws (95 %% intervals)",
    )
    ap.add_argument("--scores-dir", type=Path, default=None, help="write each book's forward scores here")
    add_kind_args(ap)
    ap.add_argument("--json", type=Path, default=None, help="write all figures here")
    ap.add_argument(
        "--from-json", type=Path, default=None, help="only print the Markdown tables of a --json file"
    )
    args = ap.parse_args()
    if args.from_json:
        print(markdown(json.loads(args.from_json.read_text())["results"]))
        return
    cfg = load_config(args.config, expect=TrainConfig)
    params = kind_params(cfg.to_params(), args)
    results = []
    print(f"{'regime':10s} {'variant':30s} {'AUC':>6s} {'/orc':>6s} {'cap5':>6s} {'/orc':>6s}", flush=True)
    for regime in args.regimes.split(","):
        r = run_regime(regime, args, cfg, params)
        results.append(r)
        if "error" in r:
            print(f"{regime:10s} training failed: {r['error']}", flush=True)
            continue
        head = f"{regime} {r['debtors']}x{r['months']}: cut {r['cut']}, forward {r['test_as_of'][0]}..{r['test_as_of'][-1]}"
        print(
            f"{head}: {r['test_rows']} rows, {r['test_defaults']} defaults; ews {r['kind']}, {r['seconds']} s",
            flush=True,
        )
        for name, m in r["metrics"].items():
            cr = "n/a" if m["capture_ratio"] is None else f"{m['capture_ratio']:.3f}"
            extra = f" Brier {m['brier']:.6f} ECE {m['ece']:.5f}" if "brier" in m else ""
            print(
                f"{regime:10s} {name:30s} {m['auc']:.4f} {m['auc_ratio']:.4f} {m['capture_5pct']:.4f} {cr:>6s}{extra}",
                flush=True,
            )
        if "ci" in r:
            print(f"{regime:10s} CI: {json.dumps(r['ci'])}", flush=True)
    if args.json:
        meta = {"config": str(args.config), "seed": args.seed, "lgbm": dataclasses.asdict(params.lgbm)}
        meta.update(kind=params.challenger, tie_folds=params.tie_folds, both=args.both)
        meta["boot"] = args.boot
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
