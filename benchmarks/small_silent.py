"""The roll-rate model's ``silent`` state, forward test (issue 9, parts 1 and 3; session 18).

For each book (``--books``: ``REGIME:DEBTORS:SEED`` of ``ews generate`` at ``--months``, as
``benchmarks/small_books.py`` builds them, or ``unseen:small:SEED`` of ``benchmarks/unseen_book.py``;
loaded by ``benchmarks/small_choice.py``) the cut is the snapshot ``--forward`` observed snapshots
before the last one (the protocol of ``small_books.py`` / ``unseen.py``); every model is fitted on
what a user had on the cut and scores the labelled rows of the ``--forward`` month-ends after it:

- ``today``: what ``ews train`` ships today: ``train_pd_model`` with the train config, else (the
  windows cannot be filled) the roll-rate model of the config;
- ``silent``: the same, with ``rollrate.silent`` on (and ``--silent-payment-days`` etc.) where the
  roll-rate model ships; ``today`` where the windows fill (the state does not apply);
- ``overlay``: ``today``'s PD, raised to ``silent``'s for a debtor in the silent state (never lowered;
  every other debtor keeps ``today``'s PD exactly);
- ``baseline``: ``benchmarks/baseline.py`` (16 features + plain LightGBM) on the same labelled rows;
- ``oracle``: the simulator's exact PD.

AUC, capture@5 %, Brier, log-loss and ECE with 95 % debtor-bootstrap intervals of the paired
differences ``silent - today``, ``silent - baseline``, ``today - baseline``
(``models.evaluate.bootstrap_intervals``). Per book also: the silent state's moves and PD at the cut,
the forward rows / defaults in it, distinct live PDs at the last forward month-end against
min(1,000, n/5), the chain's PDs non-decreasing, no PD at 0 or 1.

    nice .venv/bin/python benchmarks/small_silent.py --work /tmp/s18-silent \
        --books base:300:1,unseen:small:1 [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402
from small_choice import load_book  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.rollrate import (  # noqa: E402
    SILENT_STATE,
    RollRateModel,
    RollRateTooSmallError,
    chain_states,
    check_book,
    silent_mask,
)
from models.split import BookTooSmallError, check_defaults, plan_split, snapshot_summary  # noqa: E402
from models.train import prepare_matrix, train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
HORIZON = PROJECT.default_definition.horizon_days
PAIRS = [
    ("silent", "today"),
    ("silent", "baseline"),
    ("today", "baseline"),
    ("overlay", "today"),
    ("overlay", "baseline"),
]
METRICS = ("auc", "capture_5pct", "brier", "logloss", "ece")


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth, portfolio = load_book(spec, args.work, args.months, cfg)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = observed[-args.forward - 1]
    past = as_of_cut(frame, cut, HORIZON)
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    test = rows[KEYS].merge(truth, on=KEYS, how="left")
    y = rows["label"].astype(int).to_numpy()
    rr = cfg.rollrate.to_params(PROJECT.default_definition, cfg)
    quiet = dataclasses.replace(
        rr,
        silent=True,
        silent_payment_days=args.silent_payment_days,
        silent_invoice_days=args.silent_invoice_days,
        silent_invoice_gaps=args.silent_invoice_gaps,
        silent_max_dpd=args.silent_max_dpd,
        silent_as="state",
    )
    r: dict[str, Any] = {"book": spec, "cut": str(cut.date()), "rows": len(rows), "defaults": int(y.sum())}
    scores: dict[str, np.ndarray] = {"oracle": test["oracle_pd"].clip(0, 1).to_numpy()}
    params = cfg.to_params(HORIZON)
    if not args.train_filled:
        try:  # the windows' plan only: where they fill, the silent state does not apply (identical)
            summary = snapshot_summary(past[["as_of", "label", "horizon_observed"]])
            check_defaults(summary, plan_split(summary, params.split), params.split.min_defaults)
            r["today"] = r["silent"] = "fills the windows at split.min_defaults (not applied; not trained)"
            r["cpu_s"] = round(time.process_time() - t0, 1)
            return r
        except BookTooSmallError:
            pass
    try:
        shipped = train_pd_model(past, params)
        scores["today"] = scores["silent"] = scores["overlay"] = shipped.final_estimator.predict_proba(rows)[
            :, 1
        ]
        r["today"] = r["silent"] = shipped.kind
    except BookTooSmallError as exc:
        r["today_refused"] = str(exc)[:200]
        try:
            check_book(past, rr)
        except RollRateTooSmallError as small:
            r["today"] = r["silent"] = "refused"
            r["rollrate_refused"] = str(small)
            return r
        r["today"] = r["silent"] = "rollrate"
        today = RollRateModel(rr).fit(past)
        model = RollRateModel(quiet).fit(past)
        scores["today"] = today.predict_proba(rows)[:, 1]
        scores["silent"] = model.predict_proba(rows)[:, 1]
        # overlay: today's PD, raised to the silent model's for a silent debtor (never lowered)
        quiet_rows = silent_mask(rows, model.params)
        scores["overlay"] = np.where(
            quiet_rows, np.maximum(scores["today"], scores["silent"]), scores["today"]
        )
        r["overlay_raised"] = int((scores["overlay"] > scores["today"]).sum())
        # the product's overlay (rollrate.silent, silent_as "overlay") gives the same numbers
        product = RollRateModel(dataclasses.replace(quiet, silent_as="overlay")).fit(past)
        r["overlay_product_max_abs_diff"] = float(
            np.abs(product.predict_proba(rows)[:, 1] - scores["overlay"]).max()
        )
        table = model.state_table()
        s = model.states_.index(SILENT_STATE)
        state = np.asarray(model.states_, dtype=object)[model.state_of(rows)]
        live_last = (rows["as_of"] == rows["as_of"].max()).to_numpy() & ~rows["in_default_at_asof"].astype(
            bool
        ).to_numpy()
        chain = chain_states(model.params)
        r["state"] = {
            "states": model.states_,
            "pd_today": [round(float(v), 5) for v in today.pd_],
            "pd_silent": [round(float(v), 5) for v in model.pd_],
            "silent_moves_at_cut": int(table["moves"][s]),
            "silent_to_default_at_cut": int(table["moves_to_default"][s]),
            "silent_observed_defaulted_at_cut": [int(table["observed"][s]), int(table["defaulted"][s])],
            "forward_rows_silent": int((state == SILENT_STATE).sum()),
            "forward_defaults_silent": int(y[state == SILENT_STATE].sum()),
            "within_today": today.within_.note[:160] if today.within_ is not None else "",
            "within_silent": model.within_.note[:160] if model.within_ is not None else "",
            "distinct_live_last": [
                int(np.unique(scores["today"][live_last]).size),
                int(np.unique(scores["silent"][live_last]).size),
            ],
            "distinct_needed": min(1000, int(live_last.sum()) // 5),
            "chain_monotone": bool(np.all(np.diff(model.pd_[chain]) >= -1e-15)),
            "pd_range": [float(scores["silent"].min()), float(scores["silent"].max())],
        }
    before = past[past["label"].notna()]
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    names = list(BASELINE_FEATURES)
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = test[KEYS].merge(base, on=KEYS, how="left")
    fitted = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
    scores["baseline"] = fitted.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
    ok = ~np.isnan(scores["oracle"])
    r["rows_with_oracle"] = int(ok.sum())
    yc = y[ok]
    sc = {k: v[ok] for k, v in scores.items()}
    ci = bootstrap_intervals(
        yc, sc, rows["debtor_id"].astype(str).to_numpy()[ok], pairs=PAIRS, n_boot=args.boot, seed=0
    )
    r["metrics"] = {}
    for name, p in sc.items():
        m = classification_metrics(yc, p)
        r["metrics"][name] = {k: round(float(m[k]), 5) for k in METRICS}
        r["metrics"][name]["ci"] = {
            k: [round(float(v), 5) for v in ci[name][k]] for k in METRICS if k in ci[name]
        }
    r["diff"] = {
        f"{a}-{b}": {k: [float(v) for v in ci[f"{a}-{b}"][k]] for k in METRICS if k in ci[f"{a}-{b}"]}
        for a, b in PAIRS
    }
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def line(r: dict[str, Any], variant: str = "silent") -> str:
    m = r.get("metrics", {})

    def fig(name: str) -> str:
        if name not in m:
            return "-"
        v = m[name]
        return f"{v['auc']:.4f} / {v['capture_5pct']:.3f} / {v['brier']:.5f} / {v['ece']:.4f}"

    def d(pair: str, k: str, digits: int = 3) -> str:
        if pair not in r.get("diff", {}) or k not in r["diff"][pair]:
            return "-"
        lo, hi = r["diff"][pair][k]
        star = "**" if lo > 0 or hi < 0 else ""
        return f"{star}[{lo:+.{digits}f}, {hi:+.{digits}f}]{star}"

    st = r.get("state")
    silent = (
        f"{st['silent_moves_at_cut']} / {st['silent_to_default_at_cut']} / {st['pd_silent'][-1]:.4f} "
        f"| {st['forward_rows_silent']} / {st['forward_defaults_silent']} "
        f"| {st['distinct_live_last'][1]} ({st['distinct_needed']})"
        if st
        else "- | - | -"
    )
    sdiff = f"{variant}-today"
    return (
        f"| {r['book']} | {r.get('rows_with_oracle', 0):,} / {r['defaults']} | {r['today']} | {silent} "
        f"| {fig(variant)} | {fig('today')} | {fig('baseline')} | {fig('oracle')} "
        f"| {d(sdiff, 'auc')} / {d(sdiff, 'capture_5pct')} / {d(sdiff, 'brier', 5)} / {d(sdiff, 'ece', 4)} "
        f"| {d(f'{variant}-baseline', 'auc')} / {d(f'{variant}-baseline', 'capture_5pct')} "
        f"| {d('today-baseline', 'auc')} / {d('today-baseline', 'capture_5pct')} |"
    )


HEADER = (
    "| book | forward rows / defaults | today | silent at the cut: moves / into default / PD "
    "| forward rows / defaults silent | distinct live PDs (need) | silent AUC / cap@5% / Brier / ECE | today "
    "| baseline | oracle | silent - today AUC / cap / Brier / ECE [95 %] | silent - baseline AUC / cap "
    "| today - baseline AUC / cap |\n|" + "---|" * 13
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated REGIME:DEBTORS:SEED or unseen:small:SEED")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--silent-payment-days", type=int, default=45)
    ap.add_argument("--silent-invoice-days", type=int, default=30)
    ap.add_argument("--silent-invoice-gaps", type=float, default=2.0)
    ap.add_argument(
        "--silent-max-dpd", type=int, default=None, help="89: v1 (any past-due bucket); default: v2 (<= 60)"
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/s18-silent"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument(
        "--train-filled",
        action="store_true",
        help="train the feature model where the windows fill (default: skip)",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results = []
    for spec in args.books.split(","):
        r = run_book(spec, args, cfg)
        results.append(r)
        print(
            f"{spec}: cut {r['cut']}, {r.get('rows_with_oracle', 0)} rows, {r['defaults']} defaults, "
            f"today {r['today']}, {r.get('cpu_s', '')} CPU-s; state {json.dumps(r.get('state'))}",
            flush=True,
        )
        for name, m in r.get("metrics", {}).items():
            print(f"  {name:9s} " + " ".join(f"{k} {m[k]}" for k in METRICS), flush=True)
        for pair, v in r.get("diff", {}).items():
            print(
                f"  {pair:17s} " + " ".join(f"{k} [{a:+.5f}, {b:+.5f}]" for k, (a, b) in v.items()),
                flush=True,
            )
        if args.json:
            args.json.write_text(
                json.dumps({"args": vars(args), "results": results}, indent=1, default=str) + "\n"
            )
    print(HEADER)
    for r in results:
        print(line(r))
    print(json.dumps({"books": len(results), "cpu_s": round(time.process_time(), 1)}))


if __name__ == "__main__":
    main()
