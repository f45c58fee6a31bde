"""Why the calibrated PD can be worse than the uncalibrated one, forward (issue 9 part 2, s17-calib).

Forward protocol of ``benchmarks/regimes.py``: cut ``--forward`` observed snapshots before the last,
train the product (``models.train.train_pd_model``, ``conf/train.yaml``) on what a user had at the
cut, score the forward snapshots. The training's internals are kept (the out-of-time models' raw
scores on the calibration and test windows, the calibrator, the refitted scorer that ships) so that
calibration variants can be compared on the same forward rows with the same ranking:

- ``uncal``: the shipped scorer's own probability, ``expit(raw)`` (no calibration);
- ``shipped``: what ews ships (the chosen method fitted on the out-of-time scores of the calibration
  and test windows, applied to the refitted scorer's raw score);
- ``m_<method>``: the same with a fixed method;
- ``eval_uncal`` / ``eval_cal``: the scorer fitted before the windows (no refit), uncalibrated /
  with the shipped calibrator (the calibrator on the scale it was fitted on);
- ``oof_<method>[_all]``: the method fitted on debtor-grouped out-of-fold raw scores of the refitted
  scorer (same tree count, ``--oof`` folds over every labelled row), on the calibration + test rows
  (or on every labelled row, ``_all``), applied to the refitted scorer;
- ``auto_none``: the method choice with the identity (``uncal``) as a candidate, scored as the
  product scores the others (held-out log-loss of the out-of-time model on the calibration window).

Diagnostics: default rate per window and forward, the out-of-time model's mean PD on the
calibration / test windows, the shipped calibrator's parameters, the refit's score shift.
Every variant gets 95 % debtor-bootstrap intervals of its paired difference to ``uncal``.

    nice -n 19 .venv/bin/python benchmarks/calib_study.py --work /work/bench/s17-calib \
        --books regimes:base:1,unseen:large:2 [--oof 5] [--json out.json] [--config conf/train.yaml]
"""

from __future__ import annotations

import argparse
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
from train_forward import as_of_cut  # noqa: E402

import models.train as mt  # noqa: E402
from models.calibrate import METHODS, _selection_folds, fit_calibrator, raw_score  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.scorecard import fit_scorecard  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
MET = ("auc", "brier", "logloss", "ece")


def book_path(spec: str, work: Path) -> Path:
    family, name, seed = spec.split(":")
    if family == "unseen":
        return work / "unseen" / f"unseen-{name}-5000x36-s{seed}"
    return next((work / "regimes").glob(f"{name}-*-s{seed}"))


def oof_raw(kind, X_all, y_all, groups, best, categorical, params, k, seed):
    """Debtor-grouped out-of-fold raw scores of the refitted scorer (same settings, same trees)."""
    codes = pd.factorize(pd.Series(groups))[0]
    fold = np.random.default_rng(seed).permutation(codes.max() + 1)[codes] % k
    out = np.empty(len(y_all))
    for f in range(k):
        tr, te = fold != f, fold == f
        if kind == "lightgbm":
            m = mt._lgbm(params.lgbm, best, params.seed).fit(X_all[tr], y_all[tr])
        else:
            m = fit_scorecard(X_all[tr], y_all[tr], categorical, params.scorecard)
        out[te] = raw_score(m, kind, X_all[te], categorical)
    return out


def study(spec: str, args, cfg, params) -> dict:
    t0 = time.perf_counter()
    data = book_path(spec, args.work)
    _, frame = regimes.modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, regimes.HORIZON_DAYS)

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
    ev, parts = captured["ev"], captured["parts"]
    kind = outcome.kind
    cand = ev.candidates[kind]
    cat = tuple(outcome.categorical)
    pipe = outcome.final_estimator
    shipped = pipe.named_steps["calibrated"]
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    y = fwd["label"].astype(int).to_numpy()
    X_f = pipe.named_steps["prepare"].transform(fwd)
    raw_ship = shipped.raw_score(X_f)
    eval_scorer = ev.lightgbm if kind == "lightgbm" else ev.scorecard
    raw_eval = raw_score(eval_scorer, kind, X_f, cat)
    y_ct = np.concatenate([ev.y["calibration"], ev.y["test"]])
    s_ct = np.concatenate([cand.s_cal, cand.s_test])
    clip = (params.pd_floor, params.pd_ceiling)

    def cal(s_fit, y_fit, m, s_apply):
        return np.clip(fit_calibrator(s_fit, y_fit, m).predict(s_apply), *clip)

    pds = {
        "uncal": expit(raw_ship),
        "shipped": shipped.pd_from_raw(raw_ship),
        "eval_uncal": expit(raw_eval),
        "eval_cal": shipped.pd_from_raw(raw_eval),
    }
    assert np.allclose(pds["shipped"], pipe.predict_proba(fwd)[:, 1])
    methods = [m for m in METHODS if m != "isotonic" or y_ct.sum() >= params.min_isotonic_defaults]
    for m in methods:
        pds[f"m_{m}"] = cal(s_ct, y_ct, m, raw_ship)
    # the method choice with the identity as a candidate (held-out log-loss on the calibration window)
    cal_rows = parts["calibration"]
    folds, _ = _selection_folds(
        ev.y["calibration"],
        cal_rows["as_of"].to_numpy(),
        cal_rows["debtor_id"].astype("string").to_numpy(),
        5,
        params.seed,
    )
    n_eval = sum(len(e) for _, e in folds)
    none_loss = (
        sum(
            classification_metrics(ev.y["calibration"][e], np.clip(expit(cand.s_cal[e]), *clip))["logloss"]
            * len(e)
            for _, e in folds
        )
        / n_eval
    )
    losses = dict(cand.choice.oot_logloss)
    pds["auto_none"] = pds["uncal"] if none_loss < min(losses.values()) - 1e-6 else pds["shipped"]
    # out-of-fold scores of the refitted scorer
    labelled = past[past["label"].notna()]
    oof_info = {}
    if args.oof:
        X_all = mt.prepare_matrix(labelled, outcome.feature_names, outcome.categories)
        y_all = labelled["label"].astype(int).to_numpy()
        t = time.perf_counter()
        s_oof = oof_raw(
            kind,
            X_all,
            y_all,
            labelled["debtor_id"].to_numpy(),
            outcome.best_iteration,
            list(cat),
            params,
            args.oof,
            params.seed,
        )
        oof_info["seconds"] = round(time.perf_counter() - t, 1)
        recent = labelled["as_of"].isin(list(outcome.plan.calibration) + list(outcome.plan.test)).to_numpy()
        for m in ("sigmoid", "beta"):
            pds[f"oof_{m}"] = cal(s_oof[recent], y_all[recent], m, raw_ship)
            pds[f"oof_{m}_all"] = cal(s_oof, y_all, m, raw_ship)
        oof_info["mean_pd_oof_recent"] = float(expit(s_oof[recent]).mean())
        oof_info["rate_recent"] = float(y_all[recent].mean())
    groups = fwd["debtor_id"].to_numpy()
    if args.dump:
        # everything the offline variants need (forward rows, windows, out-of-fold scores)
        extra = {}
        if args.oof:
            extra = {
                "s_oof": s_oof,
                "y_all": y_all,
                "t_all": labelled["as_of"].to_numpy().astype("datetime64[D]").astype("int64"),
                "g_all": labelled["debtor_id"].to_numpy().astype(str),
                "recent": recent,
            }
        np.savez_compressed(
            args.dump / (spec.replace(":", "-") + ".npz"),
            y=y,
            groups=groups.astype(str),
            t_fwd=fwd["as_of"].to_numpy().astype("datetime64[D]").astype("int64"),
            raw_ship=raw_ship,
            raw_eval=raw_eval,
            s_cal=cand.s_cal,
            s_test=cand.s_test,
            y_cal=ev.y["calibration"],
            y_test=ev.y["test"],
            t_cal=cal_rows["as_of"].to_numpy().astype("datetime64[D]").astype("int64"),
            g_cal=cal_rows["debtor_id"].to_numpy().astype(str),
            **extra,
        )
    names = list(pds)
    ci = bootstrap_intervals(
        y, pds, groups, pairs=[(n, "uncal") for n in names if n != "uncal"], n_boot=args.n_boot, seed=0
    )
    metrics = {}
    for n, p in pds.items():
        m = classification_metrics(y, p)
        metrics[n] = {k: m[k] for k in (*MET, "mean_pd", "capture_5pct")}
        if n != "uncal":
            metrics[n]["diff_ci"] = {k: ci[f"{n}-uncal"][k] for k in MET}
    win = {}
    for w in ("train", "validation", "calibration", "test"):
        win[w] = {
            "snapshots": len(getattr(outcome.plan, w)),
            "rows": len(ev.y[w]),
            "rate": float(ev.y[w].mean()),
        }
    win["calibration"]["eval_mean_pd"] = float(expit(cand.s_cal).mean())
    win["test"]["eval_mean_pd"] = float(expit(cand.s_test).mean())
    cal_obj = shipped.calibrator
    slope = float(np.polyfit(raw_eval, raw_ship, 1)[0])
    return {
        "book": spec,
        "cut": str(cut.date()),
        "kind": kind,
        "trees": outcome.best_iteration,
        "method": outcome.calibration.method,
        "oot_logloss": losses,
        "none_logloss": none_loss,
        "calibrator": {
            "coef": [float(c) for c in getattr(cal_obj, "coef_", [])],
            "intercept": float(getattr(cal_obj, "intercept_", float("nan"))),
        },
        "windows": win,
        "forward": {
            "rows": len(y),
            "defaults": int(y.sum()),
            "rate": float(y.mean()),
            "mean_raw_ship": float(raw_ship.mean()),
            "mean_raw_eval": float(raw_eval.mean()),
            "slope_ship_on_eval": slope,
        },
        "oof": oof_info,
        "metrics": metrics,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def show(r: dict) -> None:
    w, f = r["windows"], r["forward"]
    print(
        f"== {r['book']} cut {r['cut']} {r['kind']} {r['trees']} trees, {r['method']} {r['calibrator']}; "
        f"held-out ll {r['oot_logloss']} none {r['none_logloss']:.5f}; {r['seconds']} s"
    )
    print(
        "   rates: "
        + ", ".join(f"{k} {v['snapshots']}s {v['rate']:.4f}" for k, v in w.items())
        + f"; eval mean PD cal {w['calibration']['eval_mean_pd']:.4f} test {w['test']['eval_mean_pd']:.4f}"
        + f"; forward {f['rows']} rows {f['defaults']} def rate {f['rate']:.4f}; raw ship {f['mean_raw_ship']:.3f}"
        + f" eval {f['mean_raw_eval']:.3f} slope {f['slope_ship_on_eval']:.3f}; oof {r['oof']}"
    )
    for n, m in r["metrics"].items():
        d = m.get("diff_ci")
        s = (
            ""
            if d is None
            else "  "
            + " ".join(f"{k}[{d[k][0]:+.5f},{d[k][1]:+.5f}]" for k in ("brier", "ece", "logloss", "auc"))
        )
        print(
            f"   {n:16s} AUC {m['auc']:.4f} Brier {m['brier']:.5f} LL {m['logloss']:.5f} ECE {m['ece']:.5f}"
            f" mean {m['mean_pd']:.4f}{s}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="family:name:seed,... (regimes:base:1, unseen:large:2)")
    ap.add_argument("--work", type=Path, default=Path("/work/bench/s17-calib"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--oof", type=int, default=0, help="folds of the out-of-fold refit scores (0 = off)")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dump", type=Path, default=None, help="directory: per-book score arrays (npz)")
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


if __name__ == "__main__":
    main()
