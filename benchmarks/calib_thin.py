"""Calibration when the calibration window holds few defaulting debtors (issue 9 parts 2-3, s28-calib).

Forward protocol of ``benchmarks/regimes.py`` / ``calib_study.py``: cut ``--forward`` observed
snapshots before the last, train the product (``models.train.train_pd_model``, ``conf/train.yaml``)
on what a user had at the cut, score the forward snapshots (labels it never saw) and the live
month-end (the latest snapshot, debtors not in default). Books where the windows cannot be filled
(the roll-rate / small-book path) are reported as refused and skipped: this study is about the
LightGBM / scorecard path of the four out-of-time windows.

Per book it prints and writes (``--json``):

- the calibration window (and test window): snapshots, rows, defaults, *defaulting debtors*;
- the window calibrator (out-of-time model, chosen among sigmoid / beta / isotonic by held-out
  log-loss on the calibration window: what the test figures and the gate's ECE describe), its
  held-out log-losses, and the shipped calibrator (refit, out-of-fold, none / sigmoid / beta);
- forward, per variant: mean PD / realised rate, log-loss, Brier, ECE with its 95 % debtor-bootstrap
  interval, AUC, and paired intervals of each variant against its uncalibrated scorer.
  Variants: ``shipped`` (what ews ships), ``uncal`` (the shipped scorer's own probability),
  ``window`` (the out-of-time model behind the window calibrator), ``eval_uncal`` (the out-of-time
  model's own probability), ``win_<method>`` (each method fitted on the whole calibration window,
  behind the out-of-time model, ``win_auto_none`` (the window's choice with the identity among the
  candidates, as the shipped calibrator's); isotonic also below ``min_isotonic_defaults``, for the study).
  The uncalibrated variants are not clipped to the floor / ceiling (their AUC is the scorer's own);
- the live month-end: rows, distinct PDs (issue 9: >= min(1,000, n/5)), PDs at the floor / ceiling,
  for ``shipped`` and ``window``;
- the test window's ECE against the gate's tolerance (chance ECE + ``gate.ece_margin``).

Books: ``gen:REGIME:DEBTORSxMONTHS:SEED`` (``ews generate``'s regimes) or
``unseen:VARIANT:SEED[:DEBTORSxMONTHS]`` (``benchmarks/unseen_book.py``, the variant resized).

    nice -n 19 .venv/bin/python benchmarks/calib_thin.py --work /work/bench/s28-calib \
        --books gen:stress:3000x36:1,unseen:large:97:2000x36 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import unseen_book  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

import models.train as mt  # noqa: E402
from models.calibrate import METHODS, choose_calibration, fit_calibrator, raw_score  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

MET = ("auc", "brier", "logloss", "ece")


def book_path(spec: str, work: Path) -> Path:
    """Generate (once, cached under ``work/books``) and return the book of ``spec``."""
    parts = spec.split(":")
    books = work / "books"
    if parts[0] == "gen":
        _, regime, size, seed = parts
        debtors, months = (int(v) for v in size.split("x"))
        out, _ = regimes.book(regime, int(seed), books, debtors, months)
        return out
    if parts[0] == "unseen":
        variant, seed = parts[1], int(parts[2])
        base = unseen_book.VARIANTS[variant]
        v = base
        if len(parts) > 3:
            debtors, months = (int(x) for x in parts[3].split("x"))
            v = dataclasses.replace(base, debtors=debtors, months=months)
        out = books / f"unseen-{variant}-{v.debtors}x{v.months}-s{seed}"
        if not (out / "generate-summary.json").exists():
            key = f"{variant}-{v.debtors}x{v.months}"
            unseen_book.VARIANTS[key] = dataclasses.replace(v, name=variant)
            unseen_book.write_book(key, seed, out)
        return out
    raise ValueError(f"unknown book spec {spec!r}: gen:REGIME:NxM:SEED or unseen:VARIANT:SEED[:NxM]")


def window_counts(rows: pd.DataFrame) -> dict:
    y = rows["label"].astype(int)
    return {
        "snapshots": int(rows["as_of"].nunique()),
        "rows": len(rows),
        "defaults": int(y.sum()),
        "defaulting_debtors": int(rows.loc[y.to_numpy() == 1, "debtor_id"].nunique()),
        "rate": float(y.mean()),
    }


def live_stats(p: np.ndarray, floor: float, ceiling: float) -> dict:
    n = len(p)
    return {
        "rows": n,
        "distinct": int(np.unique(p).size),
        "need": int(min(1000, n // 5)),
        "at_floor": int((p <= floor).sum()),
        "at_ceiling": int((p >= ceiling).sum()),
        "mean": float(p.mean()),
        "min": float(p.min()),
        "max": float(p.max()),
    }


def book_at_cut(spec: str, work: Path, cfg, forward: int) -> tuple:
    """``(frame, cut, past, fwd)``: the book's modelling frame, the cut ``forward`` observed month-ends
    before the last, what a user had at the cut, and the labelled forward rows."""
    _, frame = regimes.modelling_frame(book_path(spec, work), cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-forward - 1])
    past = as_of_cut(frame, cut, regimes.HORIZON_DAYS)
    fwd = frame[frame["as_of"].isin(observed[-forward:]) & frame["label"].notna()]
    return frame, cut, past, fwd


def train_keeping_evaluation(past: pd.DataFrame, params) -> tuple:
    """``(outcome, evaluation, parts)``: ``train_pd_model`` and its first (main split) evaluation."""
    captured: dict = {}
    orig = mt._evaluate

    def keep(parts, *a, **k):
        ev = orig(parts, *a, **k)
        if "ev" not in captured:
            captured["ev"], captured["parts"] = ev, parts
        return ev

    mt._evaluate = keep
    try:
        outcome = mt.train_pd_model(past, params)
    finally:
        mt._evaluate = orig
    return outcome, captured["ev"], captured["parts"]


def study(spec: str, args, cfg, params) -> dict:
    t0 = time.perf_counter()
    frame, cut, past, fwd = book_at_cut(spec, args.work, cfg, args.forward)
    try:
        outcome, ev, parts = train_keeping_evaluation(past, params)
    except BookTooSmallError as e:
        return {"book": spec, "cut": str(cut.date()), "refused": str(e).splitlines()[0][:300]}
    kind = outcome.kind
    cand = ev.candidates[kind]
    cat = tuple(outcome.categorical)
    pipe = outcome.final_estimator
    shipped = pipe.named_steps["calibrated"]
    clip = (params.pd_floor, params.pd_ceiling)

    y = fwd["label"].astype(int).to_numpy()
    X_f = pipe.named_steps["prepare"].transform(fwd)
    raw_ship = shipped.raw_score(X_f)
    eval_scorer = ev.lightgbm if kind == "lightgbm" else ev.scorecard
    raw_eval = raw_score(eval_scorer, kind, X_f, cat)
    pds = {
        "shipped": shipped.pd_from_raw(raw_ship),
        "uncal": expit(raw_ship),
        "window": np.clip(cand.calibrator.predict(raw_eval), *clip),
        "eval_uncal": expit(raw_eval),
    }
    assert np.allclose(pds["shipped"], pipe.predict_proba(fwd)[:, 1])
    y_cal = ev.y["calibration"]
    for m in METHODS:
        try:
            pds[f"win_{m}"] = np.clip(fit_calibrator(cand.s_cal, y_cal, m).predict(raw_eval), *clip)
        except ValueError as e:  # isotonic with a single level
            print(f"   win_{m}: {e}")
    # the identity offered among the window's candidates (as the shipped calibrator's are)
    cal_rows = parts["calibration"]
    auto_none, choice_none = choose_calibration(
        cand.s_cal,
        y_cal,
        "auto",
        times=cal_rows["as_of"].to_numpy(),
        groups=cal_rows["debtor_id"].astype("string").to_numpy(),
        seed=params.seed,
        min_isotonic_defaults=params.min_isotonic_defaults,
        pd_floor=params.pd_floor,
        pd_ceiling=params.pd_ceiling,
        candidates=("none", *METHODS),
    )
    pds["win_auto_none"] = np.clip(auto_none.predict(raw_eval), *clip)
    groups = fwd["debtor_id"].to_numpy()
    pairs = [("shipped", "uncal"), ("window", "eval_uncal")] + [
        (n, "eval_uncal") for n in pds if n.startswith("win_")
    ]
    ci = bootstrap_intervals(y, pds, groups, pairs=pairs, n_boot=args.n_boot, seed=0)
    metrics = {}
    for n, p in pds.items():
        m = classification_metrics(y, p)
        metrics[n] = {k: m[k] for k in (*MET, "mean_pd")}
        metrics[n]["level"] = m["mean_pd"] / max(m["default_rate"], 1e-12)
        metrics[n]["ece_ci"] = ci[n]["ece"]
        for a, b in pairs:
            if a == n:
                metrics[n]["vs"] = b
                metrics[n]["diff_ci"] = {k: ci[f"{a}-{b}"][k] for k in MET}
                metrics[n]["auc_diff"] = m["auc"] - classification_metrics(y, pds[b])["auc"]

    live_rows = frame[(frame["as_of"] == frame["as_of"].max())]
    live_rows = live_rows[~live_rows["in_default_at_asof"].fillna(False).astype(bool)]
    X_live = pipe.named_steps["prepare"].transform(live_rows)
    live = {
        "as_of": str(pd.Timestamp(live_rows["as_of"].iloc[0]).date()),
        "shipped": live_stats(pipe.predict_proba(live_rows)[:, 1], *clip),
        "window": live_stats(
            np.clip(cand.calibrator.predict(raw_score(eval_scorer, kind, X_live, cat)), *clip), *clip
        ),
    }
    labelled = past[past["label"].notna()]
    test_ece = outcome.metrics["ece"]
    tol = outcome.ece_tolerance + cfg.gate.ece_margin
    ship = outcome.shipped_calibration
    return {
        "book": spec,
        "cut": str(cut.date()),
        "kind": kind,
        "trees": outcome.best_iteration,
        "labelled": window_counts(labelled),
        "calibration": window_counts(parts["calibration"]),
        "test": window_counts(parts["test"]),
        "window_method": cand.choice.method,
        "window_logloss": cand.choice.oot_logloss,
        "window_rule": cand.choice.rule,
        "window_none_method": choice_none.method,
        "window_none_logloss": choice_none.oot_logloss,
        "shipped_method": None if ship is None else ship.method,
        "shipped_logloss": None if ship is None else ship.oot_logloss,
        "gate_test_ece": test_ece,
        "gate_tolerance": tol,
        "gate_ece_ok": bool(test_ece <= tol),
        "forward": {
            "rows": len(y),
            "defaults": int(y.sum()),
            "debtors_defaulting": int(fwd.loc[y == 1, "debtor_id"].nunique()),
            "rate": float(y.mean()),
        },
        "metrics": metrics,
        "live": live,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def show(r: dict) -> None:
    if "refused" in r:
        print(f"== {r['book']} cut {r['cut']}: refused ({r['refused']})", flush=True)
        return
    c, t, f = r["calibration"], r["test"], r["forward"]
    print(
        f"== {r['book']} cut {r['cut']} {r['kind']} {r['trees']} trees; cal window {c['snapshots']} snaps "
        f"{c['rows']} rows {c['defaults']} def {c['defaulting_debtors']} debtors; test {t['snapshots']} snaps "
        f"{t['defaults']} def {t['defaulting_debtors']} debtors; labelled {r['labelled']['defaults']} def; "
        f"{r['seconds']} s"
    )
    ll = ", ".join(f"{k} {v:.5f}" for k, v in r["window_logloss"].items())
    sl = ", ".join(f"{k} {v:.5f}" for k, v in (r["shipped_logloss"] or {}).items())
    nl = ", ".join(f"{k} {v:.5f}" for k, v in r["window_none_logloss"].items())
    print(f"   window: {r['window_method']} ({ll}); shipped: {r['shipped_method']} ({sl})")
    print(f"   window with none: {r['window_none_method']} ({nl})")
    print(
        f"   gate: test ECE {r['gate_test_ece']:.5f} vs tolerance {r['gate_tolerance']:.5f} "
        f"{'ok' if r['gate_ece_ok'] else 'FAIL'}; forward {f['rows']} rows {f['defaults']} def "
        f"({f['debtors_defaulting']} debtors) rate {f['rate']:.4f}"
    )
    for n, m in r["metrics"].items():
        d = m.get("diff_ci")
        s = (
            ""
            if d is None
            else f" vs {m['vs']}: "
            + " ".join(f"{k}[{d[k][0]:+.5f},{d[k][1]:+.5f}]" for k in ("logloss", "brier", "ece"))
            + f" dAUC {m['auc_diff']:+.5f}"
        )
        lo, hi = m["ece_ci"]
        print(
            f"   {n:12s} AUC {m['auc']:.4f} LL {m['logloss']:.5f} Brier {m['brier']:.5f} "
            f"ECE {m['ece']:.5f} [{lo:.5f},{hi:.5f}] level {m['level']:.3f}{s}",
            flush=True,
        )
    for n in ("shipped", "window"):
        lv = r["live"][n]
        print(
            f"   live {r['live']['as_of']} {n}: {lv['rows']} rows, {lv['distinct']} distinct (need {lv['need']}), "
            f"floor {lv['at_floor']} ceiling {lv['at_ceiling']}, mean {lv['mean']:.4f} "
            f"[{lv['min']:.5f}, {lv['max']:.4f}]",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--books", required=True, help="gen:REGIME:NxM:SEED or unseen:VARIANT:SEED[:NxM], comma-separated"
    )
    ap.add_argument("--work", type=Path, default=Path("/work/bench/s28-calib"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6, help="observed snapshots after the cut")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None, help="write every book's figures (JSON list)")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params()
    results = []
    for spec in args.books.split(","):
        r = study(spec, args, cfg, params)
        show(r)
        results.append(r)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(json.dumps({"books": len(results), "refused": sum("refused" in r for r in results)}))


if __name__ == "__main__":
    main()
