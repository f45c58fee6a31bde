"""The gate's ECE check on the test window: chance, clustering and level (issue 9 parts 2-4, s29-calib).

Per book (``calib_thin.py``'s specs and forward protocol: trained by ``models.train.train_pd_model`` on
what a user had at the cut ``--forward`` observed month-ends before the last), the training's test
window is dumped once (``WORK/dump/<spec>.parquet``: debtor, month-end, label, the challenger's
window-calibrated PD and its raw probability) with the forward rows scored by the same window PD,
and the gate's ECE check is then studied offline on those rows:

- the window: month-ends, rows, default rows, defaulting debtors (a defaulting debtor carries a
  label 1 at up to 3 consecutive month-ends of the 90-day horizon);
- level (mean PD / realised rate) on the test window and forward; the test ECE, the ECE with the
  level removed (PD shifted on the log-odds scale to the window's rate) and ``|mean PD - rate|``;
- the shipped tolerance (``models.evaluate.ece_noise``: the 95th percentile of the ECE of labels drawn
  independently per row from the PD, + ``gate.ece_margin``) and the candidate's (``gate.ece_chance:
  debtors``: labels drawn from the PD as debtor paths, ``models.evaluate._DebtorPaths``: one default
  event per debtor at most, a 1 at each of its month-ends within the horizon before it, its later rows
  dropped; the ``--cand-quantile`` percentile + ``--cand-margin``), with the simulated labels' rate /
  PD and default rows per defaulting debtor (against the real window's: does the null hold the
  window's clustering?);
- the ECE check on labels simulated from the PD as debtor paths (another seed than the tolerances'):
  false refusals of the calibrated PD, and refusals of the PD mis-levelled x1.5 / x0.67 on the odds
  scale, for each tolerance; and whether each tolerance refuses the real training.

    nice -n 19 .venv/bin/python benchmarks/calib_gate.py --work /work/bench/s28-calib \\
        --books gen:stress:2000x24:1,gen:stress:2000x36:301 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from calib_thin import book_at_cut, train_keeping_evaluation, window_counts  # noqa: E402

from models.calibrate import raw_score  # noqa: E402
from models.evaluate import _DebtorPaths, ece_noise, expected_calibration_error  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402


def dump(spec: str, work: Path, out: Path, cfg, params, forward: int) -> dict:
    """Train ``spec`` at the cut once; write its test window and forward rows; return the meta."""
    meta_path = out / f"{spec.replace(':', '_')}.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    t0 = time.perf_counter()
    _, cut, past, fwd = book_at_cut(spec, work, cfg, forward)
    try:
        outcome, ev, parts = train_keeping_evaluation(past, params)
    except BookTooSmallError as e:
        meta = {"book": spec, "cut": str(cut.date()), "refused": str(e).splitlines()[0][:300]}
        meta_path.write_text(json.dumps(meta) + "\n")
        return meta
    kind = outcome.kind
    cand = ev.candidates[kind]
    test = outcome.test
    X_f = outcome.final_estimator.named_steps["prepare"].transform(fwd)
    raw_f = raw_score(
        ev.lightgbm if kind == "lightgbm" else ev.scorecard, kind, X_f, tuple(outcome.categorical)
    )
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "part": "test",
                    "debtor_id": test["debtor_id"].astype(str).to_numpy(),
                    "as_of": pd.to_datetime(test["as_of"]).to_numpy(),
                    "y": test["y"].astype(int).to_numpy(),
                    "pd": test["pd"].to_numpy(),
                    "pd_raw": test["pd_raw"].to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "part": "forward",
                    "debtor_id": fwd["debtor_id"].astype(str).to_numpy(),
                    "as_of": pd.to_datetime(fwd["as_of"]).to_numpy(),
                    "y": fwd["label"].astype(int).to_numpy(),
                    "pd": np.clip(cand.calibrator.predict(raw_f), params.pd_floor, params.pd_ceiling),
                    "pd_raw": expit(raw_f),
                }
            ),
        ],
        ignore_index=True,
    )
    rows.to_parquet(out / f"{spec.replace(':', '_')}.parquet", index=False)
    meta = {
        "book": spec,
        "cut": str(cut.date()),
        "kind": kind,
        "window_method": cand.choice.method,
        "calibration_window": window_counts(parts["calibration"]),
        "test_window": window_counts(parts["test"]),
        "test_ece": float(outcome.metrics["ece"]),
        "ece_tolerance": float(outcome.ece_tolerance),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def shift_to(p: np.ndarray, rate: float) -> np.ndarray:
    """``p`` shifted on the log-odds scale so that its mean is ``rate``."""
    z = logit(np.clip(p, 1e-9, 1 - 1e-9))
    c = brentq(lambda c: expit(z + c).mean() - rate, -20, 20)
    return expit(z + c)


def odds_scale(p: np.ndarray, k: float) -> np.ndarray:
    """``p`` with its odds multiplied by ``k`` (the mis-levelled model)."""
    o = p / (1 - p) * k
    return o / (1 + o)


def gate_study(rows: pd.DataFrame, margin: float, n_sim: int, seed: int, cand: tuple[float, float]) -> dict:
    t = rows[rows["part"] == "test"]
    y, p = t["y"].to_numpy(), t["pd"].to_numpy()
    debt, when = t["debtor_id"].to_numpy(), t["as_of"].to_numpy()
    rate = float(y.mean())
    res: dict = {
        "rows": int(y.size),
        "defaults": int(y.sum()),
        "defaulting_debtors": int(pd.unique(debt[y == 1]).size),
        "month_ends": int(t["as_of"].nunique()),
        "rate": rate,
        "level": float(p.mean() / rate),
        "level_raw": float(t["pd_raw"].mean() / rate),
        "ece": expected_calibration_error(y, p),
        "ece_level_removed": expected_calibration_error(y, shift_to(p, rate)),
        "mean_gap": abs(float(p.mean()) - rate),
        "ece_raw": expected_calibration_error(y, t["pd_raw"].to_numpy()),
    }
    res["rows_per_defaulting_debtor"] = res["defaults"] / max(1, res["defaulting_debtors"])
    f = rows[rows["part"] == "forward"]
    res["forward_level"] = float(f["pd"].mean() / f["y"].mean())
    # the gate's tolerance as shipped (gate.ece_chance rows, 95th percentile, + gate.ece_margin) and the
    # candidate's (debtor paths, cand_quantile percentile, + cand_margin); debtors 95th + margin for the record
    res["chance_rows"] = ece_noise(p, seed=seed)
    res["chance_debtors"] = ece_noise(p, seed=seed, debtors=debt, as_of=when)
    res["chance_debtors_cand"] = ece_noise(p, seed=seed, debtors=debt, as_of=when, quantile=cand[0])
    tols = {
        "shipped": res["chance_rows"] + margin,
        "candidate": res["chance_debtors_cand"] + cand[1],
        "debtors95+margin": res["chance_debtors"] + margin,
    }
    res["tolerance"] = tols
    res["real_refused"] = {k: bool(res["ece"] > v) for k, v in tols.items()}
    # the check on labels simulated from the PD (debtor paths, other seed than the tolerance's):
    # the calibrated PD (false refusals) and the PD mis-levelled x1.5 / x0.67 on the odds scale
    paths = _DebtorPaths(p, debt, when, 3)
    rng = np.random.default_rng(seed + 1)
    draws = [paths.draw(rng) for _ in range(n_sim)]
    res["sim_rate_over_pd"] = float(np.mean([ys[k].sum() / p[k].sum() for ys, k in draws]))
    res["sim_rows_per_defaulting_debtor"] = float(
        np.mean([ys[k].sum() / max(1, pd.unique(debt[k & (ys == 1)]).size) for ys, k in draws])
    )
    res["refused"] = {}
    for lab, k in (("x1", 1.0), ("x1.5", 1.5), ("x0.67", 0.67)):
        q = odds_scale(p, k)
        eces = np.array([expected_calibration_error(ys[kept], q[kept]) for ys, kept in draws])
        res["refused"][lab] = {name: float((eces > tol).mean()) for name, tol in tols.items()}
    return res


def summarise(results: list[dict]) -> dict:
    """The pre-registered rule's figures over the trained books (s29-calib prereg.txt): R0 the null's
    fit, R1 false refusals, R2 mis-level refusals (mean over books, worst book), R3 real refusals."""
    g = [r["gate"] for r in results if "gate" in r]
    if not g:
        return {}
    fit = [x["sim_rows_per_defaulting_debtor"] / x["rows_per_defaulting_debtor"] for x in g]
    out = {
        "books": len(g),
        "R0_rows_per_debtor_ratio": [min(fit), max(fit)],
        "R0_rate_over_pd": [min(x["sim_rate_over_pd"] for x in g), max(x["sim_rate_over_pd"] for x in g)],
        "R1_false_refusal_max": {k: max(x["refused"]["x1"][k] for x in g) for k in ("shipped", "candidate")},
    }
    for lab in ("x1.5", "x0.67"):
        out[f"R2_{lab}_mean"] = {
            k: float(np.mean([x["refused"][lab][k] for x in g])) for k in ("shipped", "candidate")
        }
        out[f"R2_{lab}_worst_drop"] = max(
            x["refused"][lab]["shipped"] - x["refused"][lab]["candidate"] for x in g
        )
        out[f"{lab}_books_at_least_half"] = {
            k: int(sum(x["refused"][lab][k] >= 0.5 for x in g)) for k in ("shipped", "candidate")
        }
    out["R3_real_refused"] = {k: int(sum(x["real_refused"][k] for x in g)) for k in ("shipped", "candidate")}
    out["R3_candidate_only"] = [
        r["book"]
        for r in results
        if "gate" in r and r["gate"]["real_refused"]["candidate"] and not r["gate"]["real_refused"]["shipped"]
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="calib_thin.py specs, comma-separated")
    ap.add_argument("--work", type=Path, default=Path("/work/bench/s29-calib"), help="books are cached here")
    ap.add_argument("--out", type=Path, default=None, help="dump directory (default WORK/dump)")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-sim", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--cand-quantile", type=float, default=0.99, help="candidate: percentile of the debtor-path chance"
    )
    ap.add_argument("--cand-margin", type=float, default=0.0, help="candidate: margin added to it")
    ap.add_argument(
        "--dump-only", action="store_true", help="train and dump the books, print no figure (before a prereg)"
    )
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params()
    out = args.out or args.work / "dump"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in args.books.split(","):
        meta = dump(spec, args.work, out, cfg, params, args.forward)
        if args.dump_only:
            print(f"== {spec}: dumped ({meta.get('seconds')} s)", flush=True)
            continue
        if "refused" in meta:
            print(f"== {spec}: refused", flush=True)
            results.append(meta)
            continue
        rows = pd.read_parquet(out / f"{spec.replace(':', '_')}.parquet")
        g = gate_study(
            rows, cfg.gate.ece_margin, args.n_sim, params.seed, (args.cand_quantile, args.cand_margin)
        )
        r = meta | {"gate": g}
        results.append(r)
        print(f"== {spec} ({meta.get('seconds')} s) {json.dumps(g)}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    if not args.dump_only:
        summary = summarise(results)
        print("== summary " + json.dumps(summary), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"books": results, "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
