"""Roll-rate vs a feature model per small book (``models.smallbook``), forward test (issue 9, parts 1, 3).

For each book (``--books``: ``REGIME:DEBTORS:SEED`` of ``ews generate`` at ``--months``, as
``benchmarks/small_books.py`` builds them, or ``unseen:small:SEED`` of ``benchmarks/unseen_book.py``)
the cut is the snapshot ``--forward`` observed snapshots before the last one (the protocol of
``small_books.py`` and ``unseen.py``); every model is fitted on what a user had on the cut and scores
the labelled rows of the ``--forward`` month-ends after it:

- ``today``: what ``ews train`` ships today: ``train_pd_model`` with the train config, else (the
  windows cannot be filled) the roll-rate model;
- ``chosen``: what the rule of ``models.smallbook`` ships: ``today`` when the windows can be filled
  at ``split.min_defaults``, else the roll-rate model or LightGBM/the scorecard trained at
  ``--min-defaults`` per window, whichever the pooled rolling-origin folds choose;
- ``rollrate`` and ``feature`` (the feature model at ``--min-defaults``, when it trains), for reference;
- ``baseline``: ``benchmarks/baseline.py`` (16 features + plain LightGBM) on the same labelled rows;
- ``oracle``: the simulator's exact PD.

AUC, capture@5 %, Brier and log-loss with 95 % debtor-bootstrap intervals of the paired differences
``chosen - today``, ``chosen - baseline``, ``feature - rollrate`` (``models.evaluate.bootstrap_intervals``).

    nice .venv/bin/python benchmarks/small_choice.py --work /tmp/s17-small \
        --books base:1000:1,unseen:small:1 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import small_books  # noqa: E402
import unseen_book  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.rollrate import RollRateModel, RollRateTooSmallError, check_book  # noqa: E402
from models.smallbook import small_book_choice  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from models.train import prepare_matrix, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
HORIZON = PROJECT.default_definition.horizon_days
PAIRS = [("chosen", "today"), ("chosen", "baseline"), ("feature", "rollrate")]


def load_book(spec: str, work: Path, months: int, cfg: TrainConfig):
    """``(frame, truth, portfolio)`` of a book spec (cached under ``work``)."""
    kind, size, seed = spec.split(":")
    if kind == "unseen":
        out = (
            work
            / "unseen"
            / f"unseen-{size}-{unseen_book.VARIANTS[size].debtors}x{unseen_book.VARIANTS[size].months}-s{seed}"
        )
        if not (out / "generate-summary.json").exists():
            unseen_book.write_book(size, int(seed), out)
        portfolio = ingest_dir(out, None).portfolio
        cache = out / "frame-s17.parquet"
        if cache.exists():
            frame = pd.read_parquet(cache)
        else:
            frame = build_dataset(portfolio, snapshot_dates(portfolio, cfg), PROJECT)
            frame.to_parquet(cache)
        frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
        truth = pd.read_parquet(out / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
        truth = truth.assign(
            debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"])
        )
        return frame, truth[[*KEYS, "oracle_pd"]], portfolio
    frame, truth = small_books.book_frame(kind, int(seed), int(size), months, work / "gen", cfg)
    out = work / "gen" / f"{kind}-{size}x{months}-s{seed}"
    return frame, truth, ingest_dir(out, None).portfolio


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth, portfolio = load_book(spec, args.work, args.months, cfg)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON)
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = rows[KEYS].merge(truth, on=KEYS, how="left")
    y = rows["label"].astype(int).to_numpy()
    params = cfg.to_params(HORIZON)
    rr_params = cfg.rollrate.to_params(PROJECT.default_definition, cfg)
    r: dict[str, Any] = {"book": spec, "cut": str(cut.date()), "rows": len(rows), "defaults": int(y.sum())}
    scores: dict[str, np.ndarray] = {"oracle": test["oracle_pd"].clip(0, 1).to_numpy()}
    try:
        r["rollrate_book"] = check_book(past, rr_params)
        scores["rollrate"] = RollRateModel(rr_params).fit(past).predict_proba(rows)[:, 1]
    except RollRateTooSmallError as exc:
        r["rollrate_refused"] = str(exc)
    try:
        shipped = train_pd_model(past, params)
        scores["today"] = scores["chosen"] = shipped.final_estimator.predict_proba(rows)[:, 1]
        r["today"] = r["chosen"] = shipped.kind
        r["rule"] = "not applied: the windows fill at split.min_defaults"
    except BookTooSmallError as exc:
        r["today_refused"] = str(exc)[:300]
        if "rollrate" not in scores:
            r["today"] = r["chosen"] = "refused"
        else:
            r["today"] = "rollrate"
            scores["today"] = scores["rollrate"]
            t = time.process_time()
            choice = small_book_choice(
                past, params, rr_params, args.min_defaults, fold_defaults=args.fold_defaults
            )
            r["rule_cpu_s"] = round(time.process_time() - t, 1)
            r["rule"] = choice.reason
            r["rule_floor"] = choice.floor
            r["rule_record"] = choice.record()
            if len(choice.table):
                r["rule_folds"] = choice.table.round(5).to_dict(orient="records")
            if choice.feature is not None:
                scores["feature"] = choice.feature.final_estimator.predict_proba(rows)[:, 1]
                r["feature_kind"] = choice.feature.kind
            if choice.choice == "feature":
                scores["chosen"] = scores["feature"]
                r["chosen"] = choice.feature.kind
            else:
                scores["chosen"] = scores["rollrate"]
                r["chosen"] = "rollrate"
    before = past[past["label"].notna()]
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    names = list(BASELINE_FEATURES)
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = test[KEYS].merge(base, on=KEYS, how="left")
    model = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
    scores["baseline"] = model.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
    ok = ~np.isnan(scores["oracle"])
    r["rows_with_oracle"] = int(ok.sum())
    yc = y[ok]
    sc = {k: v[ok] for k, v in scores.items()}
    pairs = [(a, b) for a, b in PAIRS if a in sc and b in sc]
    ci = bootstrap_intervals(
        yc, sc, rows["debtor_id"].astype(str).to_numpy()[ok], pairs=pairs, n_boot=args.boot, seed=0
    )
    r["metrics"] = {}
    for name, p in sc.items():
        m = classification_metrics(yc, p)
        r["metrics"][name] = {
            k: round(float(m[k]), 5) for k in ("auc", "capture_5pct", "brier", "logloss", "ece")
        }
    r["diff"] = {
        f"{a}-{b}": {
            k: [round(float(v), 5) for v in ci[f"{a}-{b}"][k]]
            for k in ("auc", "capture_5pct", "brier", "logloss")
        }
        for a, b in pairs
    }
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def line(r: dict[str, Any]) -> str:
    m = r["metrics"]

    def fig(name: str) -> str:
        if name not in m:
            return "-"
        return f"{m[name]['auc']:.4f} / {m[name]['capture_5pct']:.3f} / {m[name]['logloss']:.5f}"

    def d(pair: str, k: str) -> str:
        if pair not in r["diff"]:
            return "-"
        lo, hi = r["diff"][pair][k]
        star = "**" if lo > 0 or hi < 0 else ""
        return f"{star}[{lo:+.3f}, {hi:+.3f}]{star}"

    return (
        f"| {r['book']} | {r['rows_with_oracle']:,} / {r['defaults']} | {r['today']} | {r['chosen']} "
        f"| {fig('chosen')} | {fig('today')} | {fig('baseline')} | {fig('oracle')} "
        f"| {d('chosen-today', 'auc')} / {d('chosen-today', 'capture_5pct')} / {d('chosen-today', 'logloss')} "
        f"| {d('chosen-baseline', 'auc')} / {d('chosen-baseline', 'capture_5pct')} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated REGIME:DEBTORS:SEED or unseen:small:SEED")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--min-defaults", type=int, default=15)
    ap.add_argument(
        "--fold-defaults",
        type=int,
        default=None,
        help="per-window minimum of the comparison folds (default: --min-defaults)",
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/s17-small"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results = []
    for spec in args.books.split(","):
        r = run_book(spec, args, cfg)
        results.append(r)
        print(
            f"{spec}: cut {r['cut']}, {r['rows_with_oracle']} rows, {r['defaults']} defaults, today {r['today']}, "
            f"chosen {r['chosen']}, {r['cpu_s']} CPU-s; rule: {r.get('rule', '')}",
            flush=True,
        )
        for name, m in r["metrics"].items():
            print(f"  {name:10s} " + " ".join(f"{k} {v}" for k, v in m.items()), flush=True)
        for pair, v in r["diff"].items():
            print(
                f"  {pair:18s} " + " ".join(f"{k} [{a:+.4f}, {b:+.4f}]" for k, (a, b) in v.items()),
                flush=True,
            )
        if args.json:
            args.json.write_text(json.dumps({"results": results}, indent=1, default=str) + "\n")
    print(
        "| book | forward rows / defaults | today | chosen | chosen AUC / cap@5% / log-loss | today | baseline "
        "| oracle | chosen - today AUC / cap / log-loss [95 %] | chosen - baseline AUC / cap [95 %] |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(line(r))
    print(json.dumps({"books": len(results), "cpu_s": round(time.process_time(), 1)}))


if __name__ == "__main__":
    main()
