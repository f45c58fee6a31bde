"""The level of the shipped PDs on small books and statements books (issue 9; BENCHMARKS.md
"Session 25 (s25-level)").

A credit team reads the PD as a probability (provisions, expected loss in the queue), so its level
matters as much as its rank. Per book, forward protocol of ``small_calib.py``: the cut is the 7th-last
observed month-end; the model ``ews train`` would ship on the frame known at the cut
(``models.smallbook.known_at``: later labels masked) is built by the train flow's own steps
(``models.train.train_pd_model``; on ``BookTooSmallError`` ``fit_small_book`` then
``all_labelled_small_book``, as ``pipelines.flows.train.fit`` does, with ``conf/train.yaml``), and
scores the labelled rows of the 6 month-ends after the cut (the frame through
``features.statements.with_statement_dpd``, as the nightly does).

Per book (``books.jsonl``): the kind that ships (roll-rate, all-labelled LightGBM, LightGBM,
scorecard), its calibrator, forward mean PD / default rate (``level``, with a 95 % debtor-bootstrap
interval), AUC, Brier, log-loss, ECE, the oracle's level on the same rows, the level of the model's own
out-of-time rows (``outcome.test``: the test window, or the inner folds) and of its training rows
(in-sample), the live month-end at the cut (mean PD of debtors not in default). Per row
(``scores-<book>.parquet``): ``debtor_id``, ``as_of``, ``y``, ``pd``, ``oracle``, ``state`` (roll-rate
state, else empty); and the model's own out-of-time rows (``test-<book>.parquet``: ``debtor_id``,
``as_of``, ``y``, ``pd``), from which a level correction can be fitted without a forward row.

Books: ``unseen:DEBTORSxMONTHS:SEED`` (``unseen_book.py``'s small variant with that many debtors and
months) or ``REGIME:DEBTORS:MONTHS:SEED[:statements]`` (``ews generate``; ``statements``: the
``--ledger statements`` conversion of the same book).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/pd_level.py --work W --out OUT \\
        --books stress:300:24:102:statements,unseen:100x24:81
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import unseen_book  # noqa: E402

from features.statements import with_statement_dpd  # noqa: E402
from models.evaluate import classification_metrics  # noqa: E402
from models.smallbook import known_at  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import (  # noqa: E402
    all_labelled_small_book,
    build_dataset,
    fit_small_book,
    snapshot_dates,
)
from pipelines.ingest import ingest_dir  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
DEFINITION = PROJECT.default_definition
H = DEFINITION.horizon_days
METRICS = ("auc", "brier", "logloss", "ece", "mean_pd", "default_rate")


def book_dir(spec: str, work: Path) -> Path:
    """Generate the book of ``spec`` under ``work`` (once) and return its folder."""
    parts = spec.split(":")
    if parts[0] == "unseen":
        debtors, months = (int(v) for v in parts[1].split("x"))
        name = f"small{debtors}x{months}"
        unseen_book.VARIANTS[name] = dataclasses.replace(
            unseen_book.VARIANTS["small"], name=name, debtors=debtors, months=months
        )
        out = work / f"unseen-{name}-s{parts[2]}"
        if not (out / "generate-summary.json").exists():
            unseen_book.write_book(name, int(parts[2]), out)
        return out
    from pipelines.synthetic import generate, regime_params
    from pipelines.synthetic.statements import convert_to_statements

    regime, debtors, months, seed = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    ledger = parts[4] if len(parts) > 4 else "invoices"
    out = work / f"{regime}-{debtors}x{months}-s{seed}-{ledger}"
    if not (out / "generate-summary.json").exists():
        summary = generate(regime_params(regime, seed=seed, debtors=debtors, months=months), out)
        if ledger == "statements":
            convert_to_statements(out, "parquet", summary)
    return out


def book_frame(spec: str, work: Path, cfg: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = book_dir(spec, work)
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


def shipped(past: pd.DataFrame, cfg: TrainConfig) -> Any:
    """What ``pipelines.flows.train.fit`` returns on ``past`` (without its Prefect logger)."""
    try:
        return train_pd_model(past, cfg.to_params(H))
    except BookTooSmallError as exc:
        outcome = fit_small_book(past, cfg, DEFINITION, exc)
    if cfg.rollrate.all_labelled:
        outcome = all_labelled_small_book(outcome, past, cfg, DEFINITION, H)
    return outcome


def kind_of(outcome: Any) -> tuple[str, str]:
    """(kind, calibrator) in the words of the report."""
    if outcome.kind == "rollrate":
        return "rollrate", "none (state PDs)"
    small = getattr(outcome, "small_book", None)
    cal = outcome.shipped_calibration or outcome.calibration
    if small is not None and getattr(small, "all_labelled", False):
        return "all_labelled_lightgbm", cal.method
    return outcome.kind, cal.method


def predict(outcome: Any, X: pd.DataFrame) -> np.ndarray:
    X = with_statement_dpd(X)
    if outcome.kind == "rollrate":
        return outcome.model.predict_proba(X)[:, 1]
    return outcome.final_estimator.predict_proba(X)[:, 1]


def level_ci(y: np.ndarray, p: np.ndarray, debtor: np.ndarray, n_boot: int, seed: int) -> list[float]:
    """sum(p) / sum(y), 95 % debtor-bootstrap interval (percentiles)."""
    codes, _ = pd.factorize(pd.Series(debtor))
    sy = np.bincount(codes, weights=y)
    sp = np.bincount(codes, weights=p)
    rng = np.random.default_rng(seed)
    n = len(sy)
    ratios = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        d = sy[idx].sum()
        if d > 0:
            ratios.append(sp[idx].sum() / d)
    point = float(sp.sum() / sy.sum()) if sy.sum() else float("nan")
    if not ratios:
        return [point, float("nan"), float("nan")]
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return [round(point, 4), round(float(lo), 4), round(float(hi), 4)]


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = classification_metrics(y, p)
    return {k: round(float(m[k]), 6) for k in METRICS if k in m}


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth = book_frame(spec, args.work, cfg)
    observed = sorted(frame.loc[frame["horizon_observed"].astype(bool), "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = known_at(frame, cut, H)
    past = past[past["as_of"] <= cut]
    rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    rows = rows.reset_index(drop=True)
    outcome = shipped(past, cfg)
    kind, cal = kind_of(outcome)
    p = predict(outcome, rows)
    y = rows["label"].astype(int).to_numpy()
    oracle = rows[KEYS].merge(truth, on=KEYS, how="left")["oracle_pd"].to_numpy()
    state = np.full(len(rows), "", dtype=object)
    if outcome.kind == "rollrate":
        model = outcome.model
        state = np.asarray(model.states_, dtype=object)[model.state_of(with_statement_dpd(rows))]
    name = spec.replace(":", "-")
    pd.DataFrame(
        {"debtor_id": rows["debtor_id"].to_numpy(), "as_of": rows["as_of"].to_numpy(), "y": y, "pd": p}
    ).assign(oracle=oracle, state=state.astype(str)).to_parquet(args.out / f"scores-{name}.parquet")
    test = outcome.test
    pd.DataFrame(
        {
            "debtor_id": test["debtor_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(test["as_of"]).to_numpy(),
            "y": test["y"].astype(int).to_numpy(),
            "pd": test["pd"].astype(float).to_numpy(),
        }
    ).to_parquet(args.out / f"test-{name}.parquet")
    # in-sample: the shipped model on its own labelled rows at the cut
    lab = past[past["label"].notna()]
    p_in = predict(outcome, lab)
    y_in = lab["label"].astype(int).to_numpy()
    live = frame[(frame["as_of"] == cut) & ~frame["in_default_at_asof"].fillna(False).astype(bool)]
    p_live = predict(outcome, live)
    ok = ~np.isnan(oracle)
    debtors = rows["debtor_id"].to_numpy()
    r: dict[str, Any] = {
        "book": spec,
        "cut": str(cut.date()),
        "kind": kind,
        "calibrator": cal,
        "trees": int(getattr(getattr(outcome, "small_book", None), "trees", 0) or 0),
        "rows": len(rows),
        "defaults": int(y.sum()),
        "default_debtors": int(rows.loc[y == 1, "debtor_id"].nunique()),
        "forward": metrics(y, p),
        "level": level_ci(y, p, debtors, args.boot, 0),
        "oracle_level": level_ci(y[ok], oracle[ok], debtors[ok], args.boot, 0) if ok.any() else None,
        "oracle_rows": int(ok.sum()),
        "test_rows": len(test),
        "test_defaults": int(test["y"].sum()),
        "test_level": round(float(test["pd"].sum() / max(test["y"].sum(), 1)), 4),
        "test_window": [
            str(pd.Timestamp(test["as_of"].min()).date()),
            str(pd.Timestamp(test["as_of"].max()).date()),
        ],
        "insample_rows": len(lab),
        "insample_defaults": int(y_in.sum()),
        "insample_level": round(float(p_in.sum() / max(y_in.sum(), 1)), 4),
        "live": {"rows": len(live), "mean_pd": round(float(p_live.mean()), 6) if len(live) else None},
        "note": getattr(outcome, "note", "")[:600],
    }
    by_month = pd.DataFrame({"as_of": rows["as_of"], "y": y, "p": p}).groupby("as_of")[["y", "p"]].mean()
    r["forward_by_month"] = {str(k.date()): [round(v.y, 5), round(v.p, 5)] for k, v in by_month.iterrows()}
    if outcome.kind == "rollrate":
        st = (
            pd.DataFrame({"s": state, "y": y, "p": p})
            .groupby("s")
            .agg(n=("y", "size"), d=("y", "sum"), p=("p", "mean"))
        )
        r["forward_by_state"] = {s: [int(v.n), int(v.d), round(float(v.p), 5)] for s, v in st.iterrows()}
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated book specs (see above)")
    ap.add_argument("--forward", type=int, default=6, help="month-ends scored after the cut (6)")
    ap.add_argument("--boot", type=int, default=1000, help="debtor-bootstrap draws for the level interval")
    ap.add_argument("--work", type=Path, required=True, help="where the generated books are cached")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    for spec in args.books.split(","):
        try:
            r = run_book(spec, args, cfg)
        except Exception as exc:  # a book the train flow refuses is a result too
            r = {
                "book": spec,
                "error": f"{type(exc).__name__}: {exc}"[:800],
                "trace": traceback.format_exc()[-800:],
            }
            print(f"{spec}: ERROR {r['error'][:200]}", flush=True)
        else:
            f = r["forward"]
            print(
                f"{spec}: {r['kind']} ({r['calibrator']}) cut {r['cut']}; forward {r['rows']} rows "
                f"{r['defaults']} defaults; mean PD {f['mean_pd']:.4f} vs rate {f['default_rate']:.4f} level "
                f"{r['level']}; oracle {r['oracle_level']}; test level {r['test_level']}; AUC {f['auc']:.3f} "
                f"ECE {f['ece']:.4f} Brier {f['brier']:.5f}; {r['cpu_s']} CPU-s",
                flush=True,
            )
        with (args.out / "books.jsonl").open("a") as fh:
            fh.write(json.dumps(r, default=str) + "\n")


if __name__ == "__main__":
    main()
