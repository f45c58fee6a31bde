"""Calibration variants on ``benchmarks/calib_study.py --oof 5 --dump DIR`` arrays (same forward rows, ranking).

``uncal`` = the refitted scorer's own probability; ``shipped`` = the calibrator before session 17 (chosen on the
calibration window, fitted on the calibration + test windows' out-of-time scores); ``win_none`` = the same with
the identity as a candidate; ``oof_time``/``oof_cv`` = chosen on out-of-fold raw scores of the refit by
rolling origin over the snapshots / debtor 5-fold, ``n`` = with the identity (``oof_timen`` is what ships
since s17-calib, ``calibration.oof_folds: 5``); ``oof_<m>_all`` = one method fitted on every out-of-fold row.
Paired 95 % debtor-bootstrap intervals against ``uncal`` and ``shipped``: W = significantly worse in
b(rier) e(ce) l(og-loss) a(uc more than 0.002 lower), B = significantly better.

    python benchmarks/calib_offline.py DUMP_DIR [out.json]
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import expit

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from models.calibrate import _selection_folds, fit_calibrator  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402

FLOOR, CEIL = 1e-4, 1 - 1e-4
MET = ("brier", "ece", "logloss", "auc")


def ll(y, p):
    p = np.clip(p, FLOOR, CEIL)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).mean())


def choose(s, y, t, g, cands, how):
    """held-out log-loss per candidate ('none' = identity) on s: 'time' rolling origin, 'cv' grouped 5-fold."""
    folds, _ = _selection_folds(y, t if how == "time" else None, g, 5, 42)
    n = sum(len(e) for _, e in folds)
    out = {}
    for m in cands:
        tot = 0.0
        for f, e in folds:
            p = expit(s[e]) if m == "none" else fit_calibrator(s[f], y[f], m).predict(s[e])
            tot += ll(y[e], p) * len(e)
        out[m] = tot / n
    best = cands[0]
    for m in cands[1:]:
        if out[m] < out[best] - 1e-6:
            best = m
    return best, out


def apply(m, s_fit, y_fit, raw):
    if m == "none":
        return np.clip(expit(raw), FLOOR, CEIL)
    return np.clip(fit_calibrator(s_fit, y_fit, m).predict(raw), FLOOR, CEIL)


def variants(d):
    raw = d["raw_ship"]
    s_ct = np.concatenate([d["s_cal"], d["s_test"]])
    y_ct = np.concatenate([d["y_cal"], d["y_test"]])
    pds = {"uncal": np.clip(expit(raw), FLOOR, CEIL)}
    info = {}
    # what ships today: chosen on the calibration window (sigmoid/beta[/isotonic]), fitted on cal+test
    cands = ["sigmoid", "beta"] + (["isotonic"] if d["y_cal"].sum() >= 200 else [])
    m0, l0 = choose(d["s_cal"], d["y_cal"], d["t_cal"], d["g_cal"], cands, "time")
    pds["shipped"] = apply(m0, s_ct, y_ct, raw)
    info["shipped"] = m0
    m1, l1 = choose(d["s_cal"], d["y_cal"], d["t_cal"], d["g_cal"], ["none", *cands], "time")
    pds["win_none"] = apply(m1, s_ct, y_ct, raw)
    info["win_none"] = m1
    s, y, t, g = d["s_oof"], d["y_all"], d["t_all"], d["g_all"]
    for how in ("time", "cv"):
        for cs, tag in ((["none", "sigmoid", "beta"], "n"), (["sigmoid", "beta"], "")):
            m, losses = choose(s, y, t, g, cs, how)
            pds[f"oof_{how}{tag}"] = apply(m, s, y, raw)
            info[f"oof_{how}{tag}"] = (m, {k: round(v, 6) for k, v in losses.items()})
    for m in ("sigmoid", "beta"):
        pds[f"oof_{m}_all"] = apply(m, s, y, raw)
    return pds, info


def main():
    out = {}
    for path in sorted(Path(sys.argv[1]).glob("*.npz")):
        d = dict(np.load(path, allow_pickle=False))
        pds, info = variants(d)
        y = d["y"]
        ci = bootstrap_intervals(
            y,
            pds,
            d["groups"],
            pairs=[(n, "uncal") for n in pds if n != "uncal"]
            + [(n, "shipped") for n in pds if n not in ("uncal", "shipped")],
            n_boot=200,
            seed=0,
        )
        res = {"info": info, "rate": float(y.mean()), "metrics": {}}
        print(f"== {path.stem}: forward rate {y.mean():.4f}, {info}")
        for n, p in pds.items():
            m = classification_metrics(y, p)
            row = {k: m[k] for k in (*MET, "mean_pd")}
            for ref in ("uncal", "shipped"):
                key = f"{n}-{ref}"
                if key in ci:
                    row[f"vs_{ref}"] = {k: ci[key][k] for k in MET}
            res["metrics"][n] = row

            def flag(ref, row=row):
                c = row.get(f"vs_{ref}")
                if c is None:
                    return "      "
                worse = [k for k in MET if (c[k][0] > 0 if k != "auc" else c[k][1] < -0.002)]
                better = [k for k in ("brier", "ece", "logloss") if c[k][1] < 0]
                return f"W{''.join(k[0] for k in worse):4s} B{''.join(k[0] for k in better):3s}"

            print(
                f"   {n:14s} Brier {m['brier']:.5f} LL {m['logloss']:.5f} ECE {m['ece']:.5f} mean {m['mean_pd']:.4f}"
                f"  vs uncal {flag('uncal')}  vs shipped {flag('shipped')}",
                flush=True,
            )
        out[path.stem] = res
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
