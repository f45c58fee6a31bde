"""The roll-rate model's within-state inputs with one coefficient per state, refitted at a book's cut
and scored on its backtest's queue (session 27, issues 9 and 11; exploration, no product code).

    nice python benchmarks/rank_within.py BOOK:CUT_YAML [BOOK:CUT_YAML ...] [--reps 400] [--seed 0]
        [--features dpd_max_180d,overdue_share,days_since_last_payment] [--json out.json]

``BOOK`` is a folder with ``ing`` (``ews ingest`` output) and ``bt`` (``ews backtest --compare-keys --rows``
of the version trained with ``CUT_YAML``, a roll-rate version). The modelling frame is rebuilt from
``ing`` (``pipelines.flows.train.build_dataset``, every month-end), and two roll-rate models are fitted
on the month-ends up to the cut (``snapshots.end``; labels whose horizon ended by then):

- ``shipped``: ``CUT_YAML``'s rollrate settings (its PDs are checked against the backtest's ``pd`` column:
  the largest absolute difference is printed);
- ``per_state``: the same settings, ``within_state`` = ``--features``, and the within-state fit
  (``models.rollrate.fit_within_state``) with its own coefficients (>= 0, ridge) per state instead of one
  set shared by every state; everything else (bands, calibration shift, out-of-time check, silent
  overlay) unchanged. Why: the shared coefficient of ``days_since_last_payment`` comes out 0 because in
  ``current`` a long time since the last payment means an inactive customer that does not roll forward,
  while in the past-due states it means the reverse.

Both PDs are scored on the backtest's live rows (the backtest's month-ends with an observed horizon),
and compared as ``benchmarks/rank_decide.py`` does: the queue's ``queue_capture_top20`` with the key the
version chose (``settings.queue_key``, the blend with the backtest's ``pay_pd``), the PD's AUC, Brier and
log-loss; paired Poisson debtor bootstrap. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def fit_within_per_state(x, code, nxt, level, features, params):
    """``models.rollrate.fit_within_state`` with one coefficient vector per state (rows: states)."""
    import models.rollrate as rr

    shared = ORIGINAL_FIT(x, code, nxt, level, features, params)
    n_states, k = len(level), x.shape[1]
    filled = np.where(np.isnan(x), shared.fill[code], x)
    z = (filled - shared.centre[code]) / shared.scale
    coef = np.zeros((n_states, k))
    moved = nxt >= 0
    for s in range(n_states):
        m = moved & (code == s)
        if m.sum() < 2:
            continue
        rolled = (nxt[m] > s).astype("float64")
        if 0 < rolled.sum() < len(rolled):
            coef[s] = rr._fit_coef(np.zeros(int(m.sum()), dtype=int), z[m], rolled, 1, params.within_penalty)
    adj = (z * coef[code]).sum(axis=1)
    shift = np.array(
        [
            rr._calibrate_shift(level[s], shared.lo[s], shared.hi[s], adj[code == s], params)
            if (code == s).any()
            else 0.0
            for s in range(n_states)
        ]
    )
    return replace(shared, coef=coef, shift=shift)


def terms_any(self, x, code):
    filled = np.where(np.isnan(x), self.fill[code], x)
    c = self.coef[code] if np.ndim(self.coef) == 2 else self.coef
    return (filled - self.centre[code]) / self.scale * (c * self.gain)


ORIGINAL_FIT = None


def fit_models(frame: pd.DataFrame, params, features: tuple[str, ...]):
    import models.rollrate as rr

    global ORIGINAL_FIT
    shipped = rr.RollRateModel(params).fit(frame)
    ORIGINAL_FIT = rr.fit_within_state
    rr.fit_within_state = fit_within_per_state
    rr.WithinState.terms = terms_any
    try:
        per_state = rr.RollRateModel(replace(params, within_state=features)).fit(frame)
    finally:
        rr.fit_within_state = ORIGINAL_FIT
    return shipped, per_state


def book(folder: Path, cut_yaml: Path, features: tuple[str, ...], reps: int, seed: int) -> dict:
    from rank_decide import METRICS, _pd_metrics, _queue

    from features.statements import with_statement_dpd
    from models.queue_key import queue_orders, weighted_capture
    from pipelines.adapters.files import read_portfolio
    from pipelines.config import load_config
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.train import build_dataset, snapshot_dates

    cfg = load_config(cut_yaml, expect=TrainConfig)
    project = ProjectConfig()
    cut = pd.Timestamp(cfg.snapshots.end)
    portfolio = read_portfolio(folder / "ing")
    every = cfg.model_copy(update={"snapshots": cfg.snapshots.model_copy(update={"end": None})})
    frame = with_statement_dpd(build_dataset(portfolio, snapshot_dates(portfolio, every), project))
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    horizon = pd.Timedelta(days=project.default_definition.horizon_days)
    past = frame[frame["as_of"] <= cut].copy()
    past.loc[past["as_of"] + horizon > cut, "label"] = pd.NA  # labels not known at the cut
    params = cfg.rollrate.to_params(project.default_definition.to_params(), cfg)
    shipped, per_state = fit_models(past, params, features)
    meta = json.loads((folder / "bt" / "backtest.json").read_text())
    key = meta["settings"].get("queue_key", "pd")
    rows = pd.read_parquet(folder / "bt" / "backtest_rows.parquet")
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    live = rows.loc[rows["horizon_observed"].astype(bool) & ~rows["in_default"].astype(bool)]
    live = live.sort_values(["as_of", "debtor_id"]).reset_index(drop=True)
    X = live[["debtor_id", "as_of"]].merge(frame, on=["debtor_id", "as_of"], how="left")
    p_ship = shipped.predict_proba(X)[:, 1]
    p_new = per_state.predict_proba(X)[:, 1]
    fidelity = float(np.max(np.abs(p_ship - live["pd"].to_numpy(dtype="float64"))))
    base, cand = live.assign(pd=p_ship), live.assign(pd=p_new)
    y = live["label"].fillna(0).astype(int).to_numpy()
    inq, prio_b, tie_b = _queue(base, key)
    _, prio_c, tie_c = _queue(cand, key)
    q = base.loc[inq].reset_index(drop=True)
    ob_, oc_ = queue_orders(q, prio_b, tie_b), queue_orders(q, prio_c, tie_c)
    ob = q["open_balance"].clip(lower=0).fillna(0.0).to_numpy()
    bad = np.where(q["label"].fillna(0).astype(int).to_numpy() == 1, ob, 0.0)
    codes, uniq = pd.factorize(live["debtor_id"])

    def figures(w):
        mb, mc = _pd_metrics(y, p_ship, w), _pd_metrics(y, p_new, w)
        out = {m: (mb[m], mc[m]) for m in mb}
        out["capture"] = (weighted_capture(ob_, bad, w[inq]), weighted_capture(oc_, bad, w[inq]))
        return out

    point = figures(np.ones(len(live)))
    rng = np.random.default_rng(seed)
    draws = {m: [] for m in METRICS}
    for _ in range(reps):
        f = figures(rng.poisson(1.0, len(uniq)).astype("float64")[codes])
        for m in METRICS:
            draws[m].append(f[m][1] - f[m][0])
    res = {}
    for m in METRICS:
        arr = np.asarray(draws[m])
        arr = arr[np.isfinite(arr)]
        lo, hi = (float(v) for v in np.quantile(arr, [0.025, 0.975]))
        res[m] = {
            "base": point[m][0],
            "cand": point[m][1],
            "diff": point[m][1] - point[m][0],
            "lo": lo,
            "hi": hi,
        }
    w = per_state.within_
    return {
        "book": folder.name,
        "key": key,
        "fidelity_max_abs_pd_diff": fidelity,
        "per_state_kept": bool(w.kept) if w is not None else False,
        "per_state_note": w.note if w is not None else "",
        "per_state_coef": np.asarray(w.coef).round(4).tolist() if w is not None else [],
        "states": list(per_state.states_),
        "shipped_coef": np.asarray(shipped.within_.coef).round(4).tolist()
        if shipped.within_ is not None
        else [],
        **res,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="+", help="BOOK:CUT_YAML")
    ap.add_argument("--features", default="dpd_max_180d,overdue_share,days_since_last_payment")
    ap.add_argument("--reps", type=int, default=400, help="bootstrap replicates (400)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    feats = tuple(args.features.split(","))
    out = []
    for spec in args.books:
        folder, cut = spec.split(":")
        b = book(Path(folder), Path(cut), feats, args.reps, args.seed)
        out.append(b)

        def cell(d, f="+.4f"):
            return f"{d['diff']:{f}} [{d['lo']:{f}}, {d['hi']:{f}}]"

        print(
            f"{b['book']}: key {b['key']}, fidelity {b['fidelity_max_abs_pd_diff']:.2e}; per-state kept "
            f"{b['per_state_kept']} ({b['per_state_note'][:110]}); capture {b['capture']['base']:.4f} -> "
            f"{b['capture']['cand']:.4f} {cell(b['capture'])}; AUC {cell(b['auc'])}; Brier "
            f"{cell(b['brier'], '+.6f')}; log-loss {cell(b['logloss'], '+.5f')}",
            flush=True,
        )
        print(
            f"  coefficients per state {dict(zip(b['states'], b['per_state_coef'], strict=False))}",
            flush=True,
        )
    if out:
        mean = {
            m: float(np.mean([b[m]["diff"] for b in out])) for m in ("capture", "auc", "brier", "logloss")
        }
        print(f"mean over {len(out)} books: " + ", ".join(f"{m} {v:+.5f}" for m, v in mean.items()))
    text = json.dumps({"books": out}, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text[:300] + " ...")


if __name__ == "__main__":
    main()
