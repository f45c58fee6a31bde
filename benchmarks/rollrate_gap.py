"""Where a small book's first roll-rate PD level goes: the gate's test window, the book's own labels, the prior,
the chain and the forward months (issue 9; BENCHMARKS.md "Session 41 (s41-calib)").

Per book (a folder of canonical files, csv or parquet) the train flow's modelling frame of the whole book is built
(``build_dataset``, cached as ``--cache/frame-NAME.parquet``), then for each ``--cuts`` date, on the frame known
then (``models.smallbook.known_at``), the shipped small-book path (``fit_small_book`` +
``all_labelled_small_book``, ``conf/train.yaml``) is trained and the PD level (mean PD / default rate on the same
rows) is printed for:

- the gate's test window (``outcome.test``: the figures the report's "promoted with a warning" quotes) and the
  book's default rate known at each of its month-ends (the gate's baseline);
- the book's labels known at the cut;
- every labelled month-end after ``rollrate.min_months``, each scored by the matrix fitted on the moves known by
  it (rolling origin);
- in sample (the roll-rate model fitted at the cut on its own known labelled rows): the shipped PDs, the matrix
  without the prior (``mle``), with it (``prior``), by state with the moves behind each row;
- forward: the cut's own live debtors and the 3 / 6 / 12 labelled month-ends after the cut (outcomes the cut did
  not know).

Before the cuts it checks the label against the month-end chain (every label-1 row in default at one of the next 3
month-ends: a default the chain cannot see otherwise) and prints the label rate by quarter.

    nice -n 10 .venv/bin/python benchmarks/rollrate_gap.py --name unseen293 --data /work/bench/s40-small/unseen293 \\
        --cuts 2024-06-30 2024-09-30 --cache /work/bench/s41-calib/diag
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import models.rollrate as rr  # noqa: E402
from features.statements import with_statement_dpd  # noqa: E402
from models.smallbook import known_at  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
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

PROJECT = ProjectConfig()
DEF = PROJECT.default_definition
H = DEF.horizon_days
CFG = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)


def frame_of(name: str, data: Path, cache: Path) -> pd.DataFrame:
    path = cache / f"frame-{name}.parquet"
    if path.exists():
        frame = pd.read_parquet(path)
    else:
        portfolio = ingest_dir(data, None).portfolio
        frame = build_dataset(portfolio, snapshot_dates(portfolio, CFG), PROJECT)
        frame.to_parquet(path)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    return with_statement_dpd(frame)


def chain_pd(counts: np.ndarray, months: int, prior: float) -> np.ndarray:
    """Horizon PD per live state of the counts' matrix (prior 0: a row without moves is the pooled row)."""
    n = counts.shape[0]
    moves = counts[: n - 1].astype(float)
    pooled = moves.sum(0) / max(moves.sum(), 1.0)
    tot = moves.sum(1, keepdims=True)
    if prior > 0:
        rows = (moves + prior * pooled) / (tot + prior)
    else:
        rows = np.where(tot > 0, moves / np.maximum(tot, 1), pooled)
    matrix = np.zeros((n, n))
    matrix[: n - 1] = rows
    matrix[n - 1, n - 1] = 1
    return rr.horizon_pd(matrix, months)


def level(p: np.ndarray, y: np.ndarray) -> str:
    ratio = f"{p.sum() / y.sum():.2f}" if y.sum() else "n/a (no default)"
    return f"PD {p.mean():.3%} vs {y.mean():.3%} ({int(y.sum())} of {len(y):,}) level {ratio}"


def chain_check(frame: pd.DataFrame) -> None:
    labelled = frame[frame["label"].notna() & frame["horizon_observed"].astype(bool)]
    y = labelled["label"].astype(int).to_numpy()
    print(f"labelled rows: default rate {y.mean():.3%} ({int(y.sum())} of {len(y):,})")
    snaps = np.sort(frame["as_of"].unique())
    pos = {pd.Timestamp(t): i for i, t in enumerate(snaps)}
    in_default = frame.set_index(["debtor_id", "as_of"])["in_default_at_asof"].astype(bool)
    ones = labelled[labelled["label"].astype(int) == 1]
    seen = 0
    for debtor, t in zip(ones["debtor_id"], ones["as_of"], strict=True):
        i = pos[pd.Timestamp(t)]
        later = [pd.Timestamp(snaps[j]) for j in range(i + 1, min(i + 4, len(snaps)))]
        seen += any(bool(in_default.get((debtor, u), False)) for u in later)
    print(f"label-1 rows in default at one of the next 3 month-ends: {seen} of {len(ones)}")
    per = labelled.groupby(labelled["as_of"].dt.to_period("Q"))["label"].agg(["mean", "sum", "count"])
    print(
        "label rate by quarter: "
        + "; ".join(f"{k}: {r['mean']:.2%} ({int(r['sum'])}/{int(r['count'])})" for k, r in per.iterrows())
    )


def at_cut(frame: pd.DataFrame, cut: pd.Timestamp, params: rr.RollRateParams) -> None:
    past = known_at(frame, cut, H)
    past = past[past["as_of"] <= cut]
    print(
        f"\n-- cut {cut:%Y-%m-%d}: {past['debtor_id'].nunique()} debtors, {past['as_of'].nunique()} month-ends"
    )
    try:
        outcome = fit_small_book(past, CFG, DEF, ValueError("small book"))
        outcome = all_labelled_small_book(outcome, past, CFG, DEF, H)
    except BookTooSmallError as exc:
        print("  refused:", str(exc)[:200])
        return
    test = outcome.test
    print(f"  kind: {outcome.kind}")
    print(
        f"  gate's test window {test['as_of'].min():%Y-%m}..{test['as_of'].max():%Y-%m}: "
        f"{level(test['pd'].to_numpy(), test['y'].to_numpy())}; book's rate known then {test['pd_baseline'].mean():.3%}"
    )
    lab = past[past["label"].notna()]
    y = lab["label"].astype(int).to_numpy()
    print(f"  labels known at the cut: {y.mean():.3%} ({int(y.sum())} of {len(y):,})")
    ps, ys = [], []
    for ts in sorted(lab["as_of"].unique())[params.min_months :]:
        try:
            model = rr.RollRateModel(params).fit(past, as_of=ts)
        except ValueError:
            continue
        rows = lab[lab["as_of"] == ts]
        ps.append(model.predict_proba(rows)[:, 1])
        ys.append(rows["label"].astype(int).to_numpy())
    if ps:
        print(
            f"  rolling origin, every labelled month-end after {params.min_months}: {level(np.concatenate(ps), np.concatenate(ys))}"
        )
    if outcome.kind == "rollrate":
        model = outcome.model
        code = model.state_of(lab)
        shipped = model.predict_proba(lab)[:, 1]
        counts = rr.transition_counts(past, params)
        mle, prior = (
            chain_pd(counts, model.months_, 0),
            chain_pd(counts, model.months_, params.prior_strength),
        )
        print(f"  in sample, shipped: {level(shipped, y)}")
        print(f"  in sample, matrix without prior: {level(mle[code], y)}")
        print(f"  in sample, matrix with prior: {level(prior[code], y)}")
        for s, name in enumerate(model.states_[:-1]):
            k = code == s
            if k.any():
                print(
                    f"    {name:28s} rows {k.sum():5d} label {y[k].mean():7.2%} ({y[k].sum()}) moves {counts[s].sum():5d}"
                    f" into default {counts[s, -1]:3d} mle {mle[s]:7.2%} prior {prior[s]:7.2%} shipped {shipped[k].mean():7.2%}"
                )
    estimator = outcome.model if outcome.kind == "rollrate" else outcome.final_estimator
    known = frame[frame["label"].notna() & frame["horizon_observed"].astype(bool)]
    now = known[known["as_of"] == cut]
    if len(now):
        print(
            f"  the cut's live debtors, next horizon: {level(estimator.predict_proba(now)[:, 1], now['label'].astype(int).to_numpy())}"
        )
    later = known[known["as_of"] > cut]
    for k in (3, 6, 12):
        rows = later[later["as_of"].isin(sorted(later["as_of"].unique())[:k])]
        if len(rows):
            print(
                f"  forward {k} month-ends: {level(estimator.predict_proba(rows)[:, 1], rows['label'].astype(int).to_numpy())}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cuts", nargs="+", required=True)
    ap.add_argument("--cache", type=Path, required=True)
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    frame = frame_of(args.name, args.data, args.cache)
    print(f"== {args.name}: {frame['debtor_id'].nunique()} debtors, {frame['as_of'].nunique()} month-ends")
    chain_check(frame)
    params = CFG.rollrate.to_params(DEF, CFG)
    for cut in args.cuts:
        at_cut(frame, pd.Timestamp(cut), params)


if __name__ == "__main__":
    main()
