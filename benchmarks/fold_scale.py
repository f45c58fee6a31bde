"""Small books' inner folds on one scale (issue 9; BENCHMARKS.md "Session 24 (s24-foldscale)").

Since session 23 (s23-folds) each inner fold's LightGBM of the all-labelled path sits behind its own
calibrator (``models.smallbook.fold_calibrators``) before the tree count and the kind rule read the
folds. A fold whose training rows cannot give one (a debtor fold without a default: ``{}``) or a tree
count whose choice fails kept its RAW PDs while the other folds were calibrated, so the pooled fold
log-loss mixed two scales. This harness counts how often that happens and what the choice would be
with every figure on one scale.

Per book (forward protocol of ``small_calib.py``: cut = the 7th-last observed month-end, the 6
month-ends after it scored), the inner folds of the cut's frame as ``models.smallbook.all_labelled_folds``
builds them (the product's ``AllLabelledFit``, ``fold_calibrators``, ``known_at``), then three choices
with the session-21 rule (``all_labelled_rule``, lowest pooled fold log-loss for the tree count):

- ``mixed``: a fold without a calibrator for a tree count scores that count raw (the product up to
  session 23);
- ``excl``: a fold without a calibrator for every tree count is left out of the pooled comparison
  (both models' rows); fewer than 2 folds left, or no default / no non-default: the roll-rate model
  (the floor) -- the session-24 product;
- ``raw``: every fold raw (before session 23; information).

Forward scores (``--scores`` files for ``pooled_scores.py``): ``mixed`` and ``excl`` as shipped
(LightGBM refitted on every labelled row of the cut's frame with the chosen trees, behind
``all_labelled_refit_calibrator``; or the roll-rate model fitted at the cut), ``rollrate``, ``oracle``.
Also the folds of the WHOLE book's frame (what ``ews train`` on the full book reads): whose training
rows leave a debtor fold without a default (counted without fitting), and with ``--full`` fitted, with
the ``mixed`` and ``excl`` choices on them (no forward rows judge these).

Books: ``unseen:DEBTORSxMONTHS:SEED`` (``unseen_book.py``'s small variant with that many debtors and
months) or ``REGIME:DEBTORS:SEED[:MONTHS]`` (``ews generate``'s regimes; default ``--months``).

    nice -n 19 .venv/bin/python benchmarks/fold_scale.py --work W --out OUT --months 24 \\
        --books unseen:100x24:73,base:300:14:24
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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import small_books  # noqa: E402
import unseen_book  # noqa: E402

from models.evaluate import classification_metrics, paired_difference  # noqa: E402
from models.rollrate import RollRateModel  # noqa: E402
from models.smallbook import (  # noqa: E402
    AllLabelledFit,
    all_labelled_refit_calibrator,
    all_labelled_rule,
    fold_calibrators,
    inner_folds,
    known_at,
    rollrate_on_folds,
)
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
H = PROJECT.default_definition.horizon_days


def load(spec: str, work: Path, months: int, cfg: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    kind, size, seed, *rest = spec.split(":")
    if kind != "unseen":
        months = int(rest[0]) if rest else months
        return small_books.book_frame(kind, int(seed), int(size), months, work / "gen", cfg)
    debtors, n_months = (int(v) for v in size.split("x"))
    name = f"small{debtors}x{n_months}"
    unseen_book.VARIANTS[name] = dataclasses.replace(
        unseen_book.VARIANTS["small"], name=name, debtors=debtors, months=n_months
    )
    out = work / "unseen" / f"unseen-{name}-s{seed}"
    if not (out / "generate-summary.json").exists():
        unseen_book.write_book(name, int(seed), out)
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


def lacks_class(known: pd.DataFrame, params: Any) -> bool:
    """``models.train.out_of_fold_raw``'s condition for None on a fold's training rows, without fitting."""
    lab = known[known["label"].notna()]
    y = lab["label"].astype(int).to_numpy()
    codes = pd.factorize(pd.Series(lab["debtor_id"].astype("string").to_numpy()))[0]
    k = params.calibration_oof_folds
    fold = np.random.default_rng(params.seed).permutation(codes.max() + 1)[codes] % k
    return any((fold == f).any() and not 0 < y[fold != f].sum() < (fold != f).sum() for f in range(k))


def choice_fails(known: pd.DataFrame, params: Any) -> bool:
    """``models.train.oof_calibration``'s ValueError (no rolling-origin or debtor fold with both
    classes: ``models.calibrate._selection_folds``), without fitting; the same for every tree count."""
    from models.calibrate import _selection_folds

    lab = known[known["label"].notna()]
    try:
        _selection_folds(
            lab["label"].astype(int).to_numpy(),
            lab["as_of"].to_numpy(),
            lab["debtor_id"].astype("string").to_numpy(),
            5,
            params.seed,
        )
    except ValueError:
        return True
    return False


def fold_info(known: pd.DataFrame, params: Any) -> dict[str, Any]:
    lab = known[known["label"].notna()]
    return {
        "train_rows": len(lab),
        "train_defaults": int(lab["label"].sum()),
        "train_default_debtors": int(lab.loc[lab["label"] == 1, "debtor_id"].nunique()),
        "oof_none": lacks_class(known, params),
        "choice_fails": choice_fails(known, params),
    }


def precheck(frame: pd.DataFrame, params: Any, months: int, per_fold: int) -> list[dict[str, Any]]:
    """Per inner fold of ``frame`` (those ``all_labelled_folds`` keeps), whether it would be left raw,
    without fitting anything."""
    out = []
    for ends in inner_folds(frame, months, per_fold):
        known = known_at(frame, ends[0], H)
        if known["label"].dropna().nunique() < 2:
            continue
        out.append({"first": str(pd.Timestamp(ends[0]).date()), **fold_info(known, params)})
    return out


def any_raw(checked: list[dict[str, Any]]) -> bool:
    return any(f["oof_none"] or f["choice_fails"] for f in checked)


def folds(past: pd.DataFrame, params: Any, trees: tuple[int, ...], months: int, per_fold: int):
    """The inner folds as ``all_labelled_folds(calibrate=True)`` builds them, with per fold the raw
    and (where a calibrator exists) calibrated PD at every tree count, and what failed."""
    parts, info = [], []
    for ends in inner_folds(past, months, per_fold):
        known = known_at(past, ends[0], H)
        if known["label"].dropna().nunique() < 2:
            continue
        part = past[past["as_of"].isin(ends) & past["label"].notna()]
        k = len(info)
        entry = part[KEYS].assign(fold=k, y=part["label"].astype(int).to_numpy())
        fitted = AllLabelledFit.fit(known, params, max(trees))
        maps = fold_calibrators(known, fitted, params, trees)
        for n in trees:
            entry[f"raw_{n}"] = fitted.predict(part, n)
            entry[f"cal_{n}"] = (
                np.clip(maps[n].predict(fitted.raw(part, n)), params.pd_floor, params.pd_ceiling)
                if n in maps
                else np.nan
            )
            entry[f"mixed_{n}"] = entry[f"cal_{n}"] if n in maps else entry[f"raw_{n}"]
        info.append(
            {
                "fold": k,
                "first": str(pd.Timestamp(ends[0]).date()),
                "rows": len(part),
                "defaults": int(entry["y"].sum()),
                **fold_info(known, params),
                "calibrated_trees": sorted(maps),
                "methods": {str(n): maps[n].method for n in maps},
            }
        )
        parts.append(entry)
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["fold", *KEYS, "y"])
    return rows, info


def choose(rows: pd.DataFrame, col: str, trees, params, min_fold_defaults: int) -> dict[str, Any]:
    """``all_labelled_choice``'s steps 2-3 on the pooled ``rows`` (PD columns ``<col>_<n>``)."""
    y = rows["y"].to_numpy()
    n_def, n_folds = int(y.sum()), int(rows["fold"].nunique()) if len(rows) else 0
    if n_folds < 2 or n_def == 0 or n_def == len(y):
        return {
            "choice": "rollrate",
            "floor": True,
            "trees": 0,
            "folds": n_folds,
            "rows": len(y),
            "defaults": n_def,
        }
    losses = {n: classification_metrics(y, rows[f"{col}_{n}"].to_numpy())["logloss"] for n in trees}
    best = min(losses, key=losses.get)
    point, ci = paired_difference(
        y,
        rows[f"{col}_{best}"].to_numpy(),
        rows["pd_rollrate"].to_numpy(),
        rows["debtor_id"].astype("string").to_numpy(),
        rows["fold"].to_numpy(),
        n_boot=params.bootstrap_samples,
        seed=params.seed,
    )
    choice, _ = all_labelled_rule(float(point["logloss"]), n_def, min_fold_defaults)
    return {
        "choice": choice,
        "floor": False,
        "trees": int(best),
        "folds": n_folds,
        "rows": len(y),
        "defaults": n_def,
        "ll_diff": float(point["logloss"]),
        "ll_ci": [float(v) for v in ci["logloss"]],
        "losses": {str(n): float(v) for n, v in losses.items()},
    }


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame, truth = load(spec, args.work, args.months, cfg)
    params = cfg.to_params(H)
    rr = cfg.rollrate
    rr_params = rr.to_params(PROJECT.default_definition, cfg)
    trees = tuple(rr.all_labelled_trees)
    months, per_fold, md = (
        rr.all_labelled_months,
        rr.all_labelled_fold_months,
        rr.all_labelled_min_fold_defaults,
    )
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    y = fwd["label"].astype(int).to_numpy()
    past = known_at(frame, cut, H)
    r: dict[str, Any] = {"book": spec, "cut": str(cut.date()), "debtors": int(frame["debtor_id"].nunique())}
    r["cut_check"] = precheck(past, params, months, per_fold)
    r["full_book_folds"] = precheck(frame, params, months, per_fold)
    if args.full and any_raw(
        r["full_book_folds"]
    ):  # ews train's choices on the whole book (nothing judges them)
        whole, whole_info = folds(frame, params, trees, months, per_fold)
        r["full_book_folds"] = whole_info
        whole["pd_rollrate"] = rollrate_on_folds(frame, whole, rr_params)
        ok = [f["fold"] for f in whole_info if f["calibrated_trees"] == sorted(trees)]
        r["full_mixed"] = choose(whole, "mixed", trees, params, md)
        r["full_excl"] = choose(whole[whole["fold"].isin(ok)], "cal", trees, params, md)
    if not any_raw(r["cut_check"]):
        # every fold gets its calibrator for every tree count: mixed and excl read the same rows
        r["fitted"] = False
        r["cpu_s"] = round(time.process_time() - t0, 1)
        return r
    r["fitted"] = True
    rows, info = folds(past, params, trees, months, per_fold)
    r["folds"] = info
    rows["pd_rollrate"] = rollrate_on_folds(past, rows, rr_params)
    scaled = [f["fold"] for f in info if f["calibrated_trees"] == sorted(trees)]
    r["mixed"] = choose(rows, "mixed", trees, params, md)
    r["excl"] = choose(rows[rows["fold"].isin(scaled)], "cal", trees, params, md)
    r["raw"] = choose(rows, "raw", trees, params, md)
    rows.to_parquet(args.out / f"folds-{spec.replace(':', '-')}.parquet")
    scores: dict[str, np.ndarray] = {"rollrate": RollRateModel(rr_params).fit(past).predict_proba(fwd)[:, 1]}
    cache: dict[int, np.ndarray] = {}

    def shipped(n: int) -> np.ndarray:
        if n not in cache:
            fitted = AllLabelledFit.fit(past, params, n)
            cal = all_labelled_refit_calibrator(past, params, n, fitted)
            cache[n] = (
                fitted.predict(fwd)
                if cal is None
                else np.clip(cal[0].predict(fitted.raw(fwd)), params.pd_floor, params.pd_ceiling)
            )
        return cache[n]

    for k in ("mixed", "excl"):
        c = r[k]
        scores[k] = shipped(c["trees"]) if c["choice"] == "feature" else scores["rollrate"]
    test = fwd[KEYS].merge(truth, on=KEYS, how="left")
    out = fwd[KEYS].assign(y=y, oracle=test["oracle_pd"].to_numpy(), **scores)
    out.to_parquet(args.out / f"scores-{spec.replace(':', '-')}.parquet")
    ok = out["oracle"].notna().to_numpy()
    r["forward_rows"], r["forward_defaults"] = int(ok.sum()), int(y[ok].sum())
    r["forward"] = {
        k: {
            m: round(float(v), 6)
            for m, v in classification_metrics(y[ok], p[ok]).items()
            if m in ("auc", "capture_5pct", "brier", "logloss", "ece")
        }
        for k, p in scores.items()
    }
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def expand(books: str) -> list[str]:
    return [b for b in books.split(",") if b]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--books", required=True, help="comma-separated unseen:DxM:SEED or REGIME:DEBTORS:SEED[:MONTHS]"
    )
    ap.add_argument("--months", type=int, default=36, help="months of the generator's books")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument(
        "--full", action="store_true", help="also fit the whole book's inner folds and choose on them"
    )
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in expand(args.books):
        r = run_book(spec, args, cfg)
        line = f"{spec}: cut folds {len(r['cut_check'])}, raw {[i for i, f in enumerate(r['cut_check']) if f['oof_none'] or f['choice_fails']]}"
        line += f"; whole-book folds {len(r['full_book_folds'])}, raw {[i for i, f in enumerate(r['full_book_folds']) if f['oof_none'] or f['choice_fails']]}"
        for k in ("mixed", "excl", "raw", "full_mixed", "full_excl"):
            if k in r:
                line += f"; {k} {r[k]['trees']} {r[k]['choice']}"
        print(f"{line}; {r['cpu_s']} CPU-s", flush=True)
        with (args.out / "books.jsonl").open("a") as fh:
            fh.write(json.dumps(r, default=str) + "\n")


if __name__ == "__main__":
    main()
