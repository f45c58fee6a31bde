"""Distress before the stop: invoice volume / size trends against the debtor's own past (issue 9 part 1).

On ``benchmarks/unseen_book.py``'s large books ews misses distressed debtors before they stop paying,
above all those whose invoices grow or who order a spree and then stop (s16-unseen). ews's invoicing
family compares the last 90 days with the last 365 (which contain them) and the latest invoice with
the year's mean; nothing compares the recent months with the debtor's *own earlier* months, the
largest recent invoice with the usual one, or a fall from a recent peak. Candidates, per (debtor,
as-of T), from invoices issued / payments made on or before T only (the ledger tables of the book,
amounts as written; ``tenure_days`` and ``open_balance`` of the same frame row):

* ``inv_amount_1m_vs_prior``, ``inv_amount_3m_vs_prior``, ``inv_count_3m_vs_prior``: amount invoiced
  in (T-30, T] (resp. amount / count in (T-90, T]) per day, over the same per day in the *prior*
  window (T-365, T-90], shortened to the part after the start of the relationship (T - tenure) and
  after the book's first invoice (the ledger's start); NaN when that prior part is under 60 days or
  holds no invoice.
* ``inv_size_3m_vs_prior``: mean invoice amount in (T-90, T] over the mean in the prior window.
* ``inv_max_3m_vs_prior``: the largest invoice in (T-90, T] over the prior window's mean invoice.
* ``inv_1m_vs_peak_6m``: amount invoiced in (T-30, T] over the largest of the six 30-day windows
  of (T-180, T] (a fall from a recent peak; NaN without invoices in 180 days).
* ``paid_vs_invoiced_growth``: ``inv_amount_3m_vs_prior`` minus the same ratio of the payments
  (exposure growing faster than the cash paid in).
* ``open_change_3m``: open balance now minus at the month-end three snapshots earlier (the frame's
  own earlier row; NaN for the first three), in months of the debtor's usual invoicing
  (``invoice_amount_365d`` / 12).
* ``new_credit_share_30d``: amount invoiced in (T-30, T] over the open balance now.
* control ``noise``: one column of uniform random numbers (``noise_b``, ``noise_c``: other draws).

Two parts.

``--ceilings`` (unseen books): how much of the gap is observable in the ledger at T. LightGBM with
ews's feature set (``capture_gap.ceilings``: every frame column informative before the cut; 300
trees, ews's settings) fitted on the **exact oracle PD** (cross-entropy on a probability target)
instead of 0/1 labels, on the rows before the cut (``oracle_target_oot``) or on the forward rows
themselves (``oracle_target_insample``, the projection of the oracle onto the features;
``oracle_target_fwd_cv``: the same 5-fold by debtor, out of fold), with and
without the candidates; ``labels_oot``: the same on the labels. Per score: forward AUC, capture@5 %
and, for the forward defaulters that were distressed (not yet stopped) at T, how many sit in the
score's top 5 %, by distress mechanism (``truth.parquet``).

Default (both book kinds): ``capture_recency.input_candidates`` (ews's own LightGBM path on what a
user had at the cut, ``--fit-seeds`` seeds averaged, paired debtor bootstrap against ``shipped``).
``--base-plus noise``: the noise column is added to ``shipped`` and to every variant, so each variant's
interval is paired against the shipped features plus noise.

    nice -n 19 .venv/bin/python benchmarks/capture_signals.py --unseen --regimes large --seeds 1,2 \
        --work /work/bench/s17-signals/unseen [--ceilings] --json out.json
    nice -n 19 .venv/bin/python benchmarks/capture_signals.py --work /work/bench/s17-signals/regimes \
        --seeds 1,2 --fit-seeds 3 --json out.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import capture_recency  # noqa: E402
import unseen  # noqa: E402
from capture_gap import _cv, _m, _top, cached_frame  # noqa: E402
from capture_recency import book_args, input_candidates, run_books, summarise  # noqa: E402
from regimes import HORIZON_DAYS, KEYS  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.train import NON_FEATURES, _lgbm, prepare_matrix, select_features  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

SIGNALS = [
    "inv_amount_1m_vs_prior",
    "inv_amount_3m_vs_prior",
    "inv_count_3m_vs_prior",
    "inv_size_3m_vs_prior",
    "inv_max_3m_vs_prior",
    "inv_1m_vs_peak_6m",
    "paid_vs_invoiced_growth",
    "open_change_3m",
    "new_credit_share_30d",
]
VARIANTS = {
    "signals": SIGNALS,
    "volume": [
        "inv_amount_1m_vs_prior",
        "inv_amount_3m_vs_prior",
        "inv_count_3m_vs_prior",
        "inv_1m_vs_peak_6m",
    ],
    "size": ["inv_size_3m_vs_prior", "inv_max_3m_vs_prior"],
    "exposure": ["paid_vs_invoiced_growth", "open_change_3m", "new_credit_share_30d"],
    "noise": ["noise"],
    "noise_b": ["noise_b"],
    "noise_c": ["noise_c"],
}
MIN_PRIOR_DAYS = 60


def _window_sums(debtor: np.ndarray, day: np.ndarray, amount: np.ndarray, lo: float, hi: float, n: int):
    """Per debtor code (0..n-1): count, sum and max of ``amount`` with ``lo < day <= hi``."""
    sel = (day > lo) & (day <= hi)
    code, a = debtor[sel], amount[sel]
    count = np.bincount(code, minlength=n).astype(float)
    total = np.bincount(code, weights=a, minlength=n)
    top = np.full(n, np.nan)
    np.fmax.at(top, code, a)
    return count, total, top


def signal_features(frame: pd.DataFrame, data: Path, seed: int = 0) -> pd.DataFrame:
    """The candidate columns for every row of ``frame`` (same index); see the module docstring."""
    inv = pd.read_parquet(data / "invoices.parquet", columns=["debtor_id", "issue_date", "amount"])
    pay = pd.read_parquet(data / "payments.parquet", columns=["debtor_id", "paid_on", "amount"])
    ids = pd.Index(sorted(set(frame["debtor_id"].astype(str))))
    n = len(ids)
    epoch = np.datetime64("1970-01-01", "D")

    def days(s: pd.Series) -> np.ndarray:
        return (s.to_numpy("datetime64[D]") - epoch).astype(float)

    ic = ids.get_indexer(inv["debtor_id"].astype(str))
    iok = ic >= 0
    ic, iday, iamt = ic[iok], days(inv["issue_date"])[iok], inv["amount"].to_numpy(float)[iok]
    pc = ids.get_indexer(pay["debtor_id"].astype(str))
    pok = pc >= 0
    pc, pday, pamt = pc[pok], days(pay["paid_on"])[pok], pay["amount"].to_numpy(float)[pok]
    book_start = iday.min() - 1 if len(iday) else np.inf  # the ledger's first day, as a window bound

    out = pd.DataFrame(index=frame.index, columns=[*SIGNALS, "noise", "noise_b", "noise_c"], dtype=float)
    as_of = pd.to_datetime(frame["as_of"])
    for t in sorted(as_of.unique()):
        rows = np.flatnonzero((as_of == t).to_numpy())
        T = float((np.datetime64(pd.Timestamp(t).date(), "D") - epoch).astype(int))
        code = ids.get_indexer(frame["debtor_id"].iloc[rows].astype(str))
        c1, a1, _ = _window_sums(ic, iday, iamt, T - 30, T, n)
        c3, a3, m3 = _window_sums(ic, iday, iamt, T - 90, T, n)
        tenure = frame["tenure_days"].iloc[rows].to_numpy(float)
        start = np.maximum(T - tenure, book_start)  # relationship / ledger start as known at T
        lo = np.maximum(T - 365, start)
        prior_days = (T - 90) - lo
        # prior window per debtor: (lo, T-90], lo from that debtor's row at T
        lo_of = np.full(n, np.inf)
        lo_of[code] = lo
        keep = (iday > lo_of[ic]) & (iday <= T - 90)
        pc_all = np.bincount(ic[keep], minlength=n).astype(float)[code]
        pa_all = np.bincount(ic[keep], weights=iamt[keep], minlength=n)[code]
        pkeep = (pday > lo_of[pc]) & (pday <= T - 90)
        pp_all = np.bincount(pc[pkeep], weights=pamt[pkeep], minlength=n)[code]
        _, pay3, _ = _window_sums(pc, pday, pamt, T - 90, T, n)
        ok = (prior_days >= MIN_PRIOR_DAYS) & (pc_all > 0)
        pdays = np.where(ok, prior_days, np.nan)
        rate_a = pa_all / pdays
        inv3 = np.where(ok, (a3[code] / 90) / rate_a, np.nan)
        pay_ok = ok & (pp_all > 0)
        payg = np.where(pay_ok, (pay3[code] / 90) / (pp_all / np.where(pay_ok, pdays, np.nan)), np.nan)
        mean_prior = np.where(ok, pa_all / np.where(ok, pc_all, 1), np.nan)
        peak = np.zeros(n)
        for k in range(6):
            _, ak, _ = _window_sums(ic, iday, iamt, T - 30 * (k + 1), T - 30 * k, n)
            peak = np.maximum(peak, ak)
        open_bal = frame["open_balance"].iloc[rows].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols = {
                "inv_amount_1m_vs_prior": np.where(ok, (a1[code] / 30) / rate_a, np.nan),
                "inv_amount_3m_vs_prior": inv3,
                "inv_count_3m_vs_prior": np.where(ok, (c3[code] / 90) / (pc_all / pdays), np.nan),
                "inv_size_3m_vs_prior": np.where(
                    ok & (c3[code] > 0), (a3[code] / c3[code]) / mean_prior, np.nan
                ),
                "inv_max_3m_vs_prior": np.where(ok & (c3[code] > 0), m3[code] / mean_prior, np.nan),
                "inv_1m_vs_peak_6m": np.where(peak[code] > 0, a1[code] / peak[code], np.nan),
                "paid_vs_invoiced_growth": inv3 - payg,
                "new_credit_share_30d": np.where(open_bal > 0, a1[code] / open_bal, np.nan),
            }
        for k, v in cols.items():
            out.iloc[rows, out.columns.get_loc(k)] = v
    # open balance three snapshots earlier: the frame's own earlier row of the debtor
    order = frame.assign(_t=as_of).sort_values(["debtor_id", "_t"])
    prev = order.groupby("debtor_id", sort=False)["open_balance"].shift(3)
    prev_t = order.groupby("debtor_id", sort=False)["_t"].shift(3)
    gap = (order["_t"] - prev_t).dt.days
    usual = order["invoice_amount_365d"].astype(float) / 12
    change = ((order["open_balance"].astype(float) - prev.astype(float)) / usual).where(
        (usual > 0) & (gap <= 100)
    )
    out["open_change_3m"] = change.reindex(frame.index)
    out["noise"] = np.random.default_rng(seed).random(len(frame))
    out["noise_b"] = np.random.default_rng(seed + 100).random(len(frame))  # more draws of the control
    out["noise_c"] = np.random.default_rng(seed + 200).random(len(frame))
    return out.astype(float)


def _distressed_top(fwd: pd.DataFrame, y: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """Forward defaulters distressed (state D) at T in each score's top 5 %, all and by mechanism."""
    d = (y == 1) & (fwd["state"].to_numpy() == "D")
    mech = fwd["mechanism"].fillna("none").to_numpy() if "mechanism" in fwd else np.full(len(fwd), "?")
    out: dict[str, Any] = {"distressed_defaulters": int(d.sum())}
    names = sorted(set(mech[d]))
    out["by_mechanism"] = {m: int((d & (mech == m)).sum()) for m in names}
    months = fwd["months_distressed"].to_numpy() if "months_distressed" in fwd else np.zeros(len(fwd))
    spell = np.where(months >= 3, "D3+", np.where(months == 2, "D2", "D1"))
    out["by_months_distressed"] = {b: int((d & (spell == b)).sum()) for b in ("D1", "D2", "D3+")}
    for k, s in scores.items():
        top = _top(s)
        out[k] = {
            "all": int((d & top).sum()),
            **{m: int((d & top & (mech == m)).sum()) for m in names},
            **{b: int((d & top & (spell == b)).sum()) for b in ("D1", "D2", "D3+")},
        }
    return out


def months_distressed(truth: pd.DataFrame) -> pd.Series:
    """Consecutive month-ends in state D up to and including each truth row (0 when not D)."""
    t = truth.sort_values(["debtor_id", "as_of"])
    is_d = t["state"].eq("D")
    run = (~is_d).groupby(t["debtor_id"]).cumsum()
    return is_d.groupby([t["debtor_id"], run]).cumsum().where(is_d, 0).reindex(truth.index)


def ceilings(variant: str, seed: int, args) -> dict[str, Any]:
    t0 = time.perf_counter()
    params = load_config(args.config, expect=TrainConfig).to_params()
    data, gen = unseen.book(variant, seed, args.work, None, None)
    frame = cached_frame(data)
    frame = frame.join(signal_features(frame, data, seed))
    truth = pd.read_parquet(data / "truth.parquet")
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    truth["months_distressed"] = months_distressed(truth)
    tcols = [c for c in ("oracle_pd", "state", "mechanism", "months_distressed") if c in truth]
    frame = frame.merge(truth[[*KEYS, *tcols]], on=KEYS, how="left")
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    before = past[past["label"].notna() & past["oracle_pd"].notna()].reset_index(drop=True)
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    fwd = fwd[fwd["oracle_pd"].notna()].reset_index(drop=True)
    extra = {*SIGNALS, "noise", "noise_b", "noise_c", "oracle_pd", "state", "mechanism", "months_distressed"}
    cand = [c for c in frame.columns if c not in NON_FEATURES and c not in extra]
    feats, _ = select_features(before, cand)
    cats = {c: sorted(before[c].dropna().astype(str).unique()) for c in feats if c in params.categorical}
    y = fwd["label"].astype(int).to_numpy()
    oracle = fwd["oracle_pd"].clip(0, 1).to_numpy(float)
    base = _lgbm(params.lgbm, args.trees, params.seed)
    kw = {k: v for k, v in base.get_params().items() if k != "objective"}
    scores: dict[str, np.ndarray] = {"oracle": oracle}
    for tag, names in (("", feats), ("+signals", [*feats, *SIGNALS])):
        Xb, Xf = prepare_matrix(before, names, cats), prepare_matrix(fwd, names, cats)
        scores[f"labels_oot{tag}"] = (
            _lgbm(params.lgbm, args.trees, params.seed)
            .fit(Xb, before["label"].astype(int))
            .predict(Xf, raw_score=True)
        )
        scores[f"oracle_target_oot{tag}"] = (
            lgb.LGBMRegressor(objective="cross_entropy", **kw)
            .fit(Xb, before["oracle_pd"].clip(0, 1))
            .predict(Xf, raw_score=True)
        )
        scores[f"oracle_target_insample{tag}"] = (
            lgb.LGBMRegressor(objective="cross_entropy", **kw).fit(Xf, oracle).predict(Xf, raw_score=True)
        )
        scores[f"oracle_target_fwd_cv{tag}"] = _cv(
            lambda: lgb.LGBMRegressor(objective="cross_entropy", **kw),
            Xf,
            oracle,
            fwd["debtor_id"].to_numpy(),
            params.seed,
        )
    metrics = {k: _m(y, v) for k, v in scores.items()}
    o = metrics["oracle"]
    for m in metrics.values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 4)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 4)
    return {
        "variant": variant,
        "seed": seed,
        "book": f"{gen.debtors}x{gen.months}",
        "cut": str(cut.date()),
        "rows": len(fwd),
        "defaults": int(y.sum()),
        "features": len(feats),
        "trees": args.trees,
        "metrics": metrics,
        "distressed": _distressed_top(fwd, y, scores),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = book_args(__doc__, "1,2")
    ap.add_argument(
        "--unseen", action="store_true", help="books of benchmarks/unseen_book.py (--regimes: variants)"
    )
    ap.add_argument("--ceilings", action="store_true", help="the oracle-target ceilings (unseen books)")
    ap.add_argument("--trees", type=int, default=300, help="trees of the --ceilings models")
    ap.add_argument(
        "--fit-seeds", type=int, default=3, help="LightGBM seeds per variant, raw scores averaged"
    )
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="candidates besides shipped")
    ap.add_argument(
        "--base-plus",
        nargs="*",
        default=[],
        help="candidate columns added to the `shipped` side too (e.g. noise: candidates paired against noise)",
    )
    args = ap.parse_args()
    if args.unseen:
        capture_recency.book = unseen.book
    if args.base_plus:
        setup = capture_recency.forward_setup

        def with_base(*a, **k):
            cut, labelled, plan, parts, kept, categories, fwd = setup(*a, **k)
            return cut, labelled, plan, parts, [*kept, *args.base_plus], categories, fwd

        capture_recency.forward_setup = with_base
    if args.ceilings:
        results = []
        for seed in (int(s) for s in args.seeds.split(",")):
            for variant in args.regimes.split(","):
                r = ceilings(variant, seed, args)
                results.append(r)
                print(f"{variant} s{seed}: {r['rows']} rows, {r['defaults']} defaults, {r['seconds']} s")
                for k, m in r["metrics"].items():
                    print(
                        f"  {k:34s} AUC {m['auc']:.4f} ({m['auc_ratio']:.3f})  cap5 {m['capture_5pct']:.3f} "
                        f"({m['capture_ratio']:.3f})  distressed in top 5%: {r['distressed'][k]}",
                        flush=True,
                    )
                print("  distressed defaulters:", r["distressed"]["by_mechanism"], flush=True)
                print("  by months in distress at T:", r["distressed"]["by_months_distressed"], flush=True)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        return
    cfg = load_config(args.config, expect=TrainConfig)

    def one(regime: str, seed: int) -> dict[str, Any]:
        data, _ = capture_recency.book(regime, seed, args.work, None, None)
        return input_candidates(
            regime,
            seed,
            args,
            cfg,
            lambda frame: signal_features(frame, data, seed),
            {k: VARIANTS[k] for k in args.variants},
        )

    results = run_books(
        args, one, lambda r: [f"early-stage AUC {r['early_auc']}  gain share {r['gain_share']}"]
    )
    print(json.dumps(summarise(results, args.variants)))


if __name__ == "__main__":
    main()
