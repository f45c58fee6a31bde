"""The roll-rate model on small books vs the oracle (and, where it trains, what ``ews train`` ships).

For every regime x seed x book size (``--debtors 100,300,1000``, ``--months 36``) the harness
generates the book (cached under ``--work``), ingests it and builds the train flow's modelling
frame (``pipelines.flows.train.build_dataset``), as ``benchmarks/regimes.py`` does. Forward test:
the *cut* is the snapshot ``--forward`` observed snapshots before the last one; every model is fitted
on what a user had on the cut (rows with as_of <= cut, later labels masked) and scores the labelled
rows of the ``--forward`` month-ends after it:

- ``rollrate``: ``models.rollrate.RollRateModel`` with the train config's ``rollrate:`` settings,
  fitted on the month-end moves observed by the cut;
- ``rollrate_split_<feature>``: the same with ``current`` split by ``<feature> > 0`` (``--splits``);
- ``rollrate_prior<a>``: other prior strengths (``--priors``);
- ``ews``: ``models.train.train_pd_model`` with the train config (its shipped estimator), at the
  sizes of ``--ews-at`` (default 1000); "refused" with the message when it cannot fill its windows;
- ``oracle``: the generator's exact PD (``truth.parquet``).

``ece_chance``: the median ECE a perfectly calibrated model would show on the same rows by chance
(``models.evaluate.ece_noise``; tied PDs share a bin, so one PD per state has fewer bins and a lower
chance ECE than PDs resolved inside the states). AUC, Brier and ECE get 95 % debtor-bootstrap
intervals (``models.evaluate.bootstrap_intervals``); each variant's AUC difference against
``rollrate`` gets a paired interval on the same replicates.

    nice python benchmarks/small_books.py --work /tmp/ews-small [--seeds 1,2] [--json out.json]

Prints one line per book and variant, a Markdown table, and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics, ece_noise  # noqa: E402
from models.rollrate import RollRateModel, RollRateTooSmallError, check_book  # noqa: E402
from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402
from pipelines.synthetic import REGIMES, generate, regime_params  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
HORIZON_DAYS = PROJECT.default_definition.horizon_days


def book_frame(regime: str, seed: int, debtors: int, months: int, work: Path, cfg: TrainConfig):
    params = regime_params(regime, seed=seed, debtors=debtors, months=months)
    out = work / f"{regime}-{debtors}x{months}-s{seed}"
    if not (out / "generate-summary.json").exists():
        generate(params, out)
    cache = out / "frame.parquet"
    if cache.exists():
        frame = pd.read_parquet(cache)
    else:
        portfolio = ingest_dir(out, None).portfolio
        frame = build_dataset(portfolio, snapshot_dates(portfolio, cfg), PROJECT)
        frame.to_parquet(cache)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(out / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    return frame, truth[[*KEYS, "oracle_pd"]]


def run_book(
    regime: str, seed: int, debtors: int, args: argparse.Namespace, cfg: TrainConfig
) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth = book_frame(regime, seed, debtors, args.months, args.work, cfg)
    result: dict[str, Any] = {"regime": regime, "seed": seed, "debtors": debtors, "months": args.months}
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = rows[KEYS].merge(truth, on=KEYS, how="left")
    y = rows["label"].astype(int).to_numpy()
    base = cfg.rollrate.to_params(PROJECT.default_definition, cfg)
    result.update({"cut": str(cut.date()), "rows": len(rows), "defaults": int(y.sum())})
    try:
        result["book"] = check_book(past, base)
    except RollRateTooSmallError as exc:
        result["rollrate_refused"] = str(exc)
    scores: dict[str, np.ndarray] = {"oracle": test["oracle_pd"].clip(0, 1).to_numpy()}
    variants = {"rollrate": base}
    for split in args.splits:
        variants[f"rollrate_split_{split}"] = base.__class__(**{**base.__dict__, "split_current": split})
    if args.monotone:
        variants["rollrate_monotone"] = base.__class__(**{**base.__dict__, "monotone": not base.monotone})
    for prior in args.priors:
        variants[f"rollrate_prior{prior:g}"] = base.__class__(**{**base.__dict__, "prior_strength": prior})
    for within in args.within:  # "+"-joined features; "none" = one PD per state
        feats = () if within == "none" else tuple(within.split("+"))
        variants[f"rollrate_within_{within}"] = base.__class__(**{**base.__dict__, "within_state": feats})
    for sd in args.gain_sd:  # the scale on the within-state adjustment (prior sd around 1; 0: scale 1)
        variants[f"rollrate_gain_sd{sd:g}"] = base.__class__(**{**base.__dict__, "within_gain_sd": sd})
    states, notes = {}, {}
    live_last = (rows["as_of"] == rows["as_of"].max()).to_numpy() & ~rows["in_default_at_asof"].astype(
        bool
    ).to_numpy()
    result["live_last"] = int(live_last.sum())
    result["distinct_needed"] = min(1000, int(live_last.sum()) // 5)
    for name, params in variants.items():
        model = RollRateModel(params).fit(past)
        scores[name] = model.predict_proba(rows)[:, 1]
        states[name] = model.state_table().round(6).to_dict(orient="list")
        w = getattr(model, "within_", None)
        notes[name] = {
            "within_note": w.note if w is not None else "",
            "within_coef": [round(float(v), 4) for v in w.coef] if w is not None else [],
            "within_gain": round(float(getattr(w, "gain", 1.0)), 4) if w is not None and w.kept else None,
            "distinct_live_last": int(np.unique(scores[name][live_last]).size),
        }
    result["states"] = states["rollrate"]
    result["variants"] = notes
    if debtors in args.ews_at:
        t = time.process_time()
        try:
            outcome = train_pd_model(past, cfg.to_params(HORIZON_DAYS))
            scores["ews"] = outcome.final_estimator.predict_proba(rows)[:, 1]
            result["ews_kind"] = outcome.kind
        except ValueError as exc:
            result["ews_refused"] = str(exc)
        result["ews_cpu_s"] = round(time.process_time() - t, 1)
    covered = ~np.isnan(scores["oracle"])
    yc = y[covered]
    sc = {k: v[covered] for k, v in scores.items()}
    result["rows_with_oracle"] = int(covered.sum())
    pairs = [(k, "rollrate") for k in sc if k != "rollrate"]
    ci = bootstrap_intervals(
        yc, sc, rows["debtor_id"].to_numpy()[covered], pairs=pairs, n_boot=args.boot, seed=seed
    )
    metrics = {}
    for name, p in sc.items():
        m = classification_metrics(yc, p)
        metrics[name] = {
            "auc": round(m["auc"], 4),
            "auc_ci": [round(v, 4) for v in ci[name]["auc"]],
            "brier": round(m["brier"], 5),
            "brier_ci": [round(v, 5) for v in ci[name]["brier"]],
            "ece": round(m["ece"], 6),
            "ece_ci": [round(v, 4) for v in ci[name]["ece"]],
            "ece_chance": round(ece_noise(p, quantile=0.5, seed=seed), 6),
            "capture_5pct": round(m["capture_5pct"], 3),
            "distinct_pd": int(np.unique(p).size),
        }
        if name != "rollrate":
            metrics[name]["auc_minus_rollrate_ci"] = [round(v, 4) for v in ci[f"{name}-rollrate"]["auc"]]
            for key, digits in (("brier", 6), ("ece", 5), ("logloss", 5)):
                metrics[name][f"{key}_minus_rollrate_ci"] = [
                    round(v, digits) for v in ci[f"{name}-rollrate"][key]
                ]
    o = metrics["oracle"]["auc"]
    for m in metrics.values():
        m["auc_ratio"] = round(m["auc"] / o, 4) if o == o else None
    result["metrics"] = metrics
    result["cpu_s"] = round(time.process_time() - t0, 1)
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| regime | seed | debtors | forward rows / defaults | roll-rate AUC [95 % CI] | / oracle | Brier | ECE [CI] "
        "| oracle AUC | oracle Brier | oracle ECE | ews today |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, o = r["metrics"]["rollrate"], r["metrics"]["oracle"]
        e = r["metrics"].get("ews")
        ews = (
            f"AUC {e['auc']:.4f} [{e['auc_ci'][0]:.3f}, {e['auc_ci'][1]:.3f}], Brier {e['brier']:.5f}, ECE {e['ece']:.4f}; "
            f"ews - roll-rate AUC [{e['auc_minus_rollrate_ci'][0]:+.3f}, {e['auc_minus_rollrate_ci'][1]:+.3f}]"
            if e
            else ("refused" if "ews_refused" in r else "-")
        )
        lines.append(
            f"| {r['regime']} | {r['seed']} | {r['debtors']:,} | {r['rows_with_oracle']:,} / {r['defaults']} "
            f"| {m['auc']:.4f} [{m['auc_ci'][0]:.3f}, {m['auc_ci'][1]:.3f}] | {m['auc_ratio']} | {m['brier']:.5f} "
            f"| {m['ece']:.4f} [{m['ece_ci'][0]:.4f}, {m['ece_ci'][1]:.4f}] | {o['auc']:.4f} | {o['brier']:.5f} "
            f"| {o['ece']:.4f} | {ews} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES))
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--debtors", default="100,300,1000")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--forward", type=int, default=6, help="observed month-ends after the cut to score")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-small"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--splits", default="dpd_max_90d,days_late_mean_90d", help="current-split features")
    ap.add_argument("--priors", default="2,50", help="other prior strengths")
    ap.add_argument("--monotone", action="store_true", help="also the model with rollrate.monotone flipped")
    ap.add_argument(
        "--within",
        default="",
        help="comma-separated within-state variants ('+'-joined features, or none): rollrate.within_state flipped to each",
    )
    ap.add_argument(
        "--gain-sd",
        default="",
        help="comma-separated rollrate.within_gain_sd variants (the scale on the within-state adjustment)",
    )
    ap.add_argument("--ews-at", default="1000", help="book sizes where ews's LightGBM path is also trained")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.splits = [s for s in args.splits.split(",") if s]
    args.priors = [float(p) for p in args.priors.split(",") if p]
    args.within = [w for w in args.within.split(",") if w]
    args.gain_sd = [float(v) for v in args.gain_sd.split(",") if v]
    args.ews_at = {int(n) for n in args.ews_at.split(",") if n}
    cfg = load_config(args.config, expect=TrainConfig)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for regime in args.regimes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            for debtors in (int(n) for n in args.debtors.split(",")):
                r = run_book(regime, seed, debtors, args, cfg)
                results.append(r)
                print(
                    f"{regime} s{seed} {debtors}x{args.months}: cut {r['cut']}, {r['rows_with_oracle']} rows, "
                    f"{r['defaults']} defaults, {r['cpu_s']} CPU-s"
                    + (f"; ews refused: {r['ews_refused'][:120]}" if "ews_refused" in r else "")
                    + (
                        f"; roll-rate below its minimum: {r['rollrate_refused']}"
                        if "rollrate_refused" in r
                        else ""
                    ),
                    flush=True,
                )
                for name, m in r["metrics"].items():
                    diff = m.get("auc_minus_rollrate_ci")
                    print(
                        f"  {name:34s} AUC {m['auc']:.4f} [{m['auc_ci'][0]:.3f}, {m['auc_ci'][1]:.3f}] "
                        f"Brier {m['brier']:.5f} ECE {m['ece']:.4f} cap5 {m['capture_5pct']:.3f}"
                        + (f"  - rollrate [{diff[0]:+.4f}, {diff[1]:+.4f}]" if diff else "")
                        + (
                            f"  distinct live PDs {r['variants'][name]['distinct_live_last']} "
                            f"(need {r['distinct_needed']}) {r['variants'][name]['within_note'][:150]}"
                            if name in r["variants"]
                            else ""
                        ),
                        flush=True,
                    )
    print(markdown(results))
    # split / prior variants: mean AUC difference against the shipped roll-rate, and how often significant
    summary: dict[str, Any] = {}
    for name in results[0]["metrics"]:
        if name in ("rollrate", "oracle"):
            continue
        d = [
            r["metrics"][name]["auc"] - r["metrics"]["rollrate"]["auc"]
            for r in results
            if name in r["metrics"]
        ]
        ci = [r["metrics"][name]["auc_minus_rollrate_ci"] for r in results if name in r["metrics"]]
        d = [v for v in d if v == v]
        summary[name] = {
            "books": len(ci),
            "mean_auc_diff": round(float(np.mean(d)), 4) if d else None,
            "better": sum(c[0] > 0 for c in ci),
            "worse": sum(c[1] < 0 for c in ci),
        }
        for key in ("brier", "ece", "logloss"):  # lower is better: interval wholly below / above 0
            cis = [r["metrics"][name][f"{key}_minus_rollrate_ci"] for r in results if name in r["metrics"]]
            summary[name][f"{key}_significantly_lower_higher"] = [
                sum(c[1] < 0 for c in cis),
                sum(c[0] > 0 for c in cis),
            ]
        for metric in ("brier", "ece"):  # lower is better: mean difference and books up / down
            dm = [
                r["metrics"][name][metric] - r["metrics"]["rollrate"][metric]
                for r in results
                if name in r["metrics"]
            ]
            summary[name][f"mean_{metric}_diff"] = round(float(np.mean(dm)), 5) if dm else None
            summary[name][f"{metric}_lower_higher"] = [sum(v < 0 for v in dm), sum(v > 0 for v in dm)]
        if all(name in r["variants"] for r in results):
            summary[name]["distinct_met"] = sum(
                r["variants"][name]["distinct_live_last"] >= r["distinct_needed"] for r in results
            )
            summary[name]["within_used"] = sum(
                r["variants"][name]["within_note"].startswith("used") for r in results
            )
        print(
            f"{name}: mean AUC - rollrate {summary[name]['mean_auc_diff']}, significantly better in "
            f"{summary[name]['better']} of {len(ci)} books, worse in {summary[name]['worse']}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "summary": summary}, indent=1, default=str) + "\n"
        )
    print(
        json.dumps(
            {
                "books": len(results),
                "summary": summary,
                "peak_gib": round(peak, 2),
                "cpu_s": round(time.process_time(), 1),
                "rollrate_auc_ratio": {
                    f"{r['regime']}-s{r['seed']}-{r['debtors']}": r["metrics"]["rollrate"]["auc_ratio"]
                    for r in results
                },
            }
        )
    )


if __name__ == "__main__":
    main()
