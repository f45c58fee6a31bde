"""The roll-rate model's information as LightGBM inputs, paired with ews's own LightGBM path (issue 9 part 1).

Same books, cut, forward rows and LightGBM path as ``benchmarks/capture_recency.py`` (which reads the
books and modelling frames ``benchmarks/regimes.py`` cached under ``--work``): early-stopped on ews's
validation window, refitted on every labelled snapshot before the cut. Only the ranking of the forward
rows is compared (AUC, capture@5 %), with a paired 95 % debtor-bootstrap interval of each difference to
``shipped``.

Candidate inputs, all computed per (debtor, as_of) from month-ends on or before that as-of date only:

* ``rr_pd``: the roll-rate / provision-matrix PD (``models.rollrate``: DPD-bucket states of the
  shipped ``rollrate:`` config, Dirichlet-smoothed monthly matrix, horizon power) of the row's state,
  with the matrix counted from the book's moves that *ended* on or before the row's as-of date. The
  training rows of an early as-of date see the dynamics known then; a forward row sees the moves up to
  its own month-end, as the nightly would. Rows with no move yet: NaN.
* ``rr_months_in_state``: consecutive month-ends the debtor has been in its current state (1 = just
  moved in).
* ``rr_last_move``: direction of the last month-end move: +1 worse, 0 same, -1 better (NaN without
  a previous month-end).

Variants: ``rr_pd`` (shipped features + rr_pd), ``trans`` (+ the two transition features),
``rr_all`` (+ all three), ``rr_pd2`` (+ ``rr_pd2``: the horizon PD of a second-order chain whose
state is the (previous, current) state pair, each pair's row smoothed towards its current state's
first-order row; a row without a live previous month-end gets ``rr_pd``), and the control ``noise`` (+ one
column of uniform random numbers: how far adding a useless input moves the early-stopped fit).
``--fit-seeds K`` fits every variant with K LightGBM seeds (row and column subsampling 0.8) and averages
their raw scores, so a difference is less the luck of one fit; the per-seed AUCs are kept (``seed_auc``);
``trees`` and ``gain_share`` are the last seed's.

    nice .venv/bin/python benchmarks/capture_rollrate.py --work /work/bench/s5-pd/regimes --seeds 1,2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from capture_recency import book_args, input_candidates, run_books, summarise  # noqa: E402

from models.rollrate import (  # noqa: E402
    RollRateParams,
    assign_states,
    horizon_months,
    horizon_pd,
    smoothed_matrix,
    state_names,
)
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

RR_FEATURES = ["rr_pd", "rr_months_in_state", "rr_last_move", "rr_pd2"]


def pair_horizon_pd(c3: np.ndarray, first: np.ndarray, strength: float, months: int) -> np.ndarray:
    """Horizon PD per (previous, current) live state pair of a second-order chain.

    ``c3[a, b, c]``: moves a -> b -> c over three consecutive month-ends (a, b live); ``first``: the
    smoothed first-order matrix. Row (a, b) is ``(c3[a, b] + strength * first[b]) / (n + strength)``,
    so a pair seen rarely falls back to its current state's row. Returns an (L, L) array, L live states.
    """
    n = first.shape[0]
    live = n - 1
    size = live * live + 1  # the pairs, then default (absorbing)
    m = np.zeros((size, size))
    for a in range(live):
        for b in range(live):
            row = (c3[a, b] + strength * first[b]) / (c3[a, b].sum() + strength)
            i = a * live + b
            m[i, b * live : (b + 1) * live] = row[:live]
            m[i, -1] = row[-1]
    m[-1, -1] = 1.0
    return np.linalg.matrix_power(m, months)[:-1, -1].reshape(live, live)


def rollrate_features(frame: pd.DataFrame, params: RollRateParams) -> pd.DataFrame:
    """``rr_pd``, ``rr_months_in_state``, ``rr_last_move`` per row of ``frame`` (same index).

    ``frame``: one row per (debtor_id, as_of) month-end with ``dpd_current_max`` and
    ``in_default_at_asof``. The matrix behind a row's ``rr_pd`` counts only the moves whose later
    month-end is on or before the row's as-of date (so a row never sees a later month-end)."""
    order = frame.sort_values(["debtor_id", "as_of"], kind="stable")
    snaps = np.sort(order["as_of"].unique())
    step = np.searchsorted(snaps, order["as_of"].to_numpy())
    code = assign_states(order, params)
    n_states = len(state_names(params))
    ids = order["debtor_id"].astype("string").to_numpy()
    linked = np.zeros(len(order), dtype=bool)  # row i follows row i-1 of the same debtor one month-end later
    linked[1:] = (ids[1:] == ids[:-1]) & (step[1:] == step[:-1] + 1)
    move = linked[1:] & (code[:-1] != n_states - 1)
    counts = np.zeros((len(snaps), n_states, n_states), dtype=np.int64)
    np.add.at(counts, (step[1:][move], code[:-1][move], code[1:][move]), 1)
    cum = np.cumsum(counts, axis=0)
    months = horizon_months(params.horizon_days)
    pd_by_date = np.full((len(snaps), n_states), np.nan)
    for d in range(len(snaps)):
        if cum[d, : n_states - 1].sum() > 0:
            live = np.clip(
                horizon_pd(smoothed_matrix(cum[d], params.prior_strength), months),
                params.pd_floor,
                params.pd_ceiling,
            )
            pd_by_date[d] = np.append(live, params.pd_ceiling)
    rr_pd = pd_by_date[step, code]
    # second order: moves a -> b -> c over three linked month-ends, b live (a default -> no pair)
    live = n_states - 1
    trip = linked[2:] & linked[1:-1] & (code[:-2] < live) & (code[1:-1] < live)
    c3 = np.zeros((len(snaps), live, live, n_states), dtype=np.int64)
    np.add.at(c3, (step[2:][trip], code[:-2][trip], code[1:-1][trip], code[2:][trip]), 1)
    c3 = np.cumsum(c3, axis=0)
    pair_pd = np.full((len(snaps), live, live), np.nan)
    for d in range(len(snaps)):
        if cum[d, : n_states - 1].sum() > 0:
            first = smoothed_matrix(cum[d], params.prior_strength)
            pair_pd[d] = np.clip(
                pair_horizon_pd(c3[d], first, params.prior_strength, months),
                params.pd_floor,
                params.pd_ceiling,
            )
    prev = np.full(len(order), -1)
    prev[1:] = np.where(linked[1:], code[:-1], -1)
    has_pair = (prev >= 0) & (prev < live) & (code < live)
    rr_pd2 = rr_pd.copy()
    rr_pd2[has_pair] = pair_pd[step[has_pair], prev[has_pair], code[has_pair]]
    same = np.zeros(len(order), dtype=bool)
    same[1:] = linked[1:] & (code[1:] == code[:-1])
    run = np.cumsum(~same)
    months_in = pd.Series(np.ones(len(order)), index=order.index).groupby(run).cumsum().to_numpy()
    last = np.full(len(order), np.nan)
    last[1:] = np.where(linked[1:], np.sign(code[1:] - code[:-1]), np.nan)
    out = pd.DataFrame(
        {"rr_pd": rr_pd, "rr_months_in_state": months_in, "rr_last_move": last, "rr_pd2": rr_pd2},
        index=order.index,
    )
    return out.reindex(frame.index)


def run(regime: str, seed: int, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    rr_params = cfg.rollrate.to_params(ProjectConfig().default_definition, cfg)

    def extra(frame: pd.DataFrame) -> pd.DataFrame:
        out = rollrate_features(frame, rr_params)
        # the control: one column of uniform noise, what adding any useless input does to the fit
        return out.assign(noise=np.random.default_rng(seed).random(len(frame)))

    variants = {
        "rr_pd": ["rr_pd"],
        "trans": ["rr_months_in_state", "rr_last_move"],
        "rr_all": ["rr_pd", "rr_months_in_state", "rr_last_move"],
        "rr_pd2": ["rr_pd2"],
        "noise": ["noise"],
    }
    out = input_candidates(regime, seed, args, cfg, extra, {k: variants[k] for k in args.variants})
    out["rr_features_cpu_s"] = out.pop("extra_cpu_s")
    return out


def main() -> None:
    ap = book_args(__doc__, "1,2")
    ap.add_argument(
        "--fit-seeds",
        type=int,
        default=1,
        help="LightGBM seeds per variant (seed, seed+1, ...); their raw scores are averaged",
    )
    ap.add_argument(
        "--variants",
        nargs="*",
        default=["rr_pd", "trans", "rr_all", "rr_pd2", "noise"],
        help="candidates to fit besides shipped",
    )
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results = run_books(
        args,
        lambda regime, seed: run(regime, seed, args, cfg),
        lambda r: [f"early-stage AUC {r['early_auc']}  gain share {r['gain_share']}"],
    )
    summary = summarise(results, args.variants)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
