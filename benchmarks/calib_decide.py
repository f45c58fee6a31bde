"""Two trainings of each book forward: shipped settings vs one changed calibration setting (s28-calib).

Forward protocol of ``calib_thin.py`` (cut ``--forward`` observed snapshots before the last, train on
what a user had at the cut, score the forward snapshots). Each book is trained twice by
``models.train.train_pd_model``: with ``conf/train.yaml`` (``base``) and with ``--set KEY=VALUE``
applied to its ``calibration`` section (``cand``; e.g. ``window_identity=true``). Per book and
pooled over the books (rows of every trained book, debtors resampled), paired debtor-bootstrap 95 %
intervals of ``cand - base`` for two PDs on the forward rows:

- ``window``: the out-of-time model behind its calibration-window calibrator (what the test-window
  figures, the gate's ECE and the kind choice read);
- ``shipped``: the registered model's PD (differs only when the kind or the tree count changes).

Figures: log-loss, Brier, ECE, AUC, level (mean PD / realised rate), the window method and kind of
both trainings, the gate's test ECE against its tolerance. Books as in ``calib_thin.py``.

    nice -n 19 .venv/bin/python benchmarks/calib_decide.py --books gen:base:2500x36:301,unseen:large:121:2000x30 \\
        --set window_identity=true --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from calib_thin import book_at_cut, train_keeping_evaluation  # noqa: E402

from models.calibrate import raw_score  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

MET = ("logloss", "brier", "ece", "auc")


def forward_pds(outcome, ev, fwd: pd.DataFrame, params) -> dict[str, np.ndarray]:
    pipe = outcome.final_estimator
    kind = outcome.kind
    X_f = pipe.named_steps["prepare"].transform(fwd)
    scorer = ev.lightgbm if kind == "lightgbm" else ev.scorecard
    raw = raw_score(scorer, kind, X_f, tuple(outcome.categorical))
    cal = ev.candidates[kind].calibrator
    return {
        "window": np.clip(cal.predict(raw), params.pd_floor, params.pd_ceiling),
        "shipped": pipe.predict_proba(fwd)[:, 1],
    }


def summary(outcome, ev, cfg) -> dict:
    c = ev.candidates[outcome.kind].choice
    tol = outcome.ece_tolerance + cfg.gate.ece_margin
    return {
        "kind": outcome.kind,
        "trees": outcome.best_iteration,
        "window_method": c.method,
        "window_logloss": c.oot_logloss,
        "shipped_method": outcome.shipped_calibration.method if outcome.shipped_calibration else None,
        "test_ece": outcome.metrics["ece"],
        "gate_tolerance": tol,
        "gate_ece_ok": bool(outcome.metrics["ece"] <= tol),
    }


def compare(y, groups, pds: dict[str, np.ndarray], n_boot: int) -> dict:
    ci = bootstrap_intervals(
        y,
        pds,
        groups,
        pairs=[("cand_window", "base_window"), ("cand_shipped", "base_shipped")],
        n_boot=n_boot,
    )
    out: dict = {"rows": len(y), "defaults": int(np.sum(y)), "rate": float(np.mean(y))}
    for n, p in pds.items():
        m = classification_metrics(y, p)
        out[n] = {k: m[k] for k in MET} | {"level": m["mean_pd"] / max(m["default_rate"], 1e-12)}
    for what in ("window", "shipped"):
        a, b = out[f"cand_{what}"], out[f"base_{what}"]
        out[f"diff_{what}"] = {
            k: {"point": a[k] - b[k], "ci": ci[f"cand_{what}-base_{what}"][k]} for k in MET
        }
    return out


def show(name: str, r: dict) -> None:
    print(f"   {name}: {r['rows']} rows {r['defaults']} def rate {r['rate']:.4f}")
    for what in ("window", "shipped"):
        a, b = r[f"cand_{what}"], r[f"base_{what}"]
        d = r[f"diff_{what}"]
        s = " ".join(f"{k} {d[k]['point']:+.5f} [{d[k]['ci'][0]:+.5f},{d[k]['ci'][1]:+.5f}]" for k in MET)
        print(
            f"     {what:8s} base LL {b['logloss']:.5f} Brier {b['brier']:.5f} level {b['level']:.3f} | cand LL "
            f"{a['logloss']:.5f} Brier {a['brier']:.5f} level {a['level']:.3f} | cand-base {s}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="as calib_thin.py, comma-separated")
    ap.add_argument("--set", action="append", default=[], help="calibration KEY=VALUE of the candidate")
    ap.add_argument("--work", type=Path, default=Path("/work/bench/s28-calib"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    sets = dict(kv.split("=", 1) for kv in args.set)
    cand_cfg = cfg.model_copy(
        update={"calibration": cfg.calibration.model_validate(cfg.calibration.model_dump() | sets)}
    )
    params = {"base": cfg.to_params(), "cand": cand_cfg.to_params()}
    print(f"candidate calibration: {cand_cfg.calibration.model_dump()}", flush=True)
    results, pooled = [], {"y": [], "g": [], "pds": {}}
    for spec in args.books.split(","):
        t0 = time.perf_counter()
        _, cut, past, fwd = book_at_cut(spec, args.work, cfg, args.forward)
        y = fwd["label"].astype(int).to_numpy()
        groups = (spec + "|" + fwd["debtor_id"]).to_numpy()
        r: dict = {"book": spec, "cut": str(cut.date())}
        pds = {}
        try:
            for name, p in params.items():
                outcome, ev, _ = train_keeping_evaluation(past, p)
                r[name] = summary(outcome, ev, cfg)
                for what, v in forward_pds(outcome, ev, fwd, p).items():
                    pds[f"{name}_{what}"] = v
        except BookTooSmallError as e:
            r["refused"] = str(e).splitlines()[0][:200]
            print(f"== {spec}: refused ({r['refused']})", flush=True)
            results.append(r)
            continue
        r["forward"] = compare(y, groups, pds, args.n_boot)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        b, c = r["base"], r["cand"]
        print(
            f"== {spec} cut {r['cut']} base {b['kind']} window {b['window_method']} gate ECE "
            f"{b['test_ece']:.5f}/{b['gate_tolerance']:.5f} | cand {c['kind']} window {c['window_method']} gate ECE "
            f"{c['test_ece']:.5f}/{c['gate_tolerance']:.5f}; {r['seconds']} s",
            flush=True,
        )
        show(spec, r["forward"])
        results.append(r)
        pooled["y"].append(y)
        pooled["g"].append(groups)
        for k, v in pds.items():
            pooled["pds"].setdefault(k, []).append(v)
        if args.json:
            args.json.write_text(json.dumps({"books": results}, indent=1, default=str) + "\n")
    pool = None
    if pooled["y"]:
        pool = compare(
            np.concatenate(pooled["y"]),
            np.concatenate(pooled["g"]),
            {k: np.concatenate(v) for k, v in pooled["pds"].items()},
            args.n_boot,
        )
        print("== pooled")
        show("pooled", pool)
    if args.json:
        args.json.write_text(json.dumps({"books": results, "pooled": pool}, indent=1, default=str) + "\n")
    print(json.dumps({"books": len(results), "refused": sum("refused" in r for r in results)}))


if __name__ == "__main__":
    main()
