"""The payment-date model's view of the debtor as a PD blend and as LightGBM inputs, on the issue-9
forward protocol (issue 9 part 1; written in session 9, first run in session 10, s10-paypd).

s9-queue (``benchmarks/queue_signals.py``) found that ``pay_pd`` -- per debtor, the largest probability
over its open invoices that an invoice is still unpaid when it reaches the default definition's 90 days
past due within the horizon, from an ``ews-paydate`` fitted only on rows known at the cut -- ranks the
queue's defaulters at least as well as the PD model on 11 of 12 books. This script asks whether it
lifts ews's *forward* AUC and capture@5 % over the whole book. Same books, cut, forward rows (6
observed month-ends after the cut) and LightGBM path as ``benchmarks/capture_recency.py``; the
payment-date model is fitted and read with ``queue_signals.fit_paydate`` / ``paydate_view``.

Payment-date columns per (debtor, month-end), all point in time:

* every frame month-end T up to the cut is read with a payment-date model fitted only on outcomes
  known at the latest refit date <= T (walk-forward refits every ``--refit-every`` month-ends, counted
  back from the cut, so the cut itself is a refit; a refit whose history is too short gives NaN);
* every forward month-end (after the cut) with the model fitted at the cut (the PD model's label cut).

``pay_pd`` is undefined for a debtor with no open invoice at T (``paydate_view`` has no row): NaN.
As a LightGBM input it stays NaN (the trees route missing values). In a blend the PD stands in for it
(the blend equals the PD there); ``mean_zero`` instead counts it as 0, for comparison. ``pay_pd`` is
clipped to the PD floor/ceiling before blending (an open invoice not due within the horizon gives 0).

(a) Blends of the product's calibrated PD and ``pay_pd``: ``mean`` (PD + pay) / 2, ``geo``
sqrt(PD x pay), ``wmean`` (1 - w) PD + w pay and ``wgeo`` PD^(1-w) pay^w with w in {0, 0.1, .., 1}
chosen by AUC on the training's pooled *test window* (scores of the model fitted before it;
ties to the smaller w); the forward rows take no part. The PD of the calibration / test / forward rows
is the shipped calibrator (fitted on the out-of-time scores of the calibration and test windows, as
``models.train.train_pd_model``) applied to the eval model's / the refit's raw score. Each blend is
then put through the product's calibration step on its logit: the method chosen on the calibration
window (``models.calibrate.choose_calibration``), fitted on calibration + test, applied forward; its
forward ECE and Brier are reported next to the shipped PD's.

(b) LightGBM inputs (ews's path, early-stopped on validation, refitted on every labelled snapshot):
``in_paypd`` (+ pay_pd), ``in_pay`` (+ pay_pd and the expected unpaid share of the open balance 30,
60, 90 days after T), and the control ``noise`` (+ one column of uniform random numbers, s7-pd).

``shipped`` is ews's LightGBM path as in ``capture_recency.py`` (raw score: the same ranking as the
calibrated PD apart from ties at the floor). Differences to it come with paired 95 % debtor-bootstrap
intervals on the forward rows.

The books and their modelling frames are those ``benchmarks/regimes.py --work W --seed S`` caches
(its ``book`` + ``modelling_frame``); one book per process:

    nice .venv/bin/python benchmarks/capture_paydate.py --work W --cache C --seeds 1 --regimes base \\
        --boot 400 --json base-s1.json

A book whose history is too short for a payment-date model before the cut (quiet: 24 months, the
first model is the one fitted at the cut) has ``pay_pd`` undefined on every row before the cut: there
the chosen w is 0 and the ``in_*`` inputs are all missing (their model is the shipped one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from capture_gap import cached_frame  # noqa: E402
from capture_recency import book_args, book_head, ews_path, forward_metrics, run_books, summarise  # noqa: E402
from queue_signals import fit_paydate, paydate_view  # noqa: E402
from regimes import HORIZON_DAYS, KEYS, book  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.calibrate import choose_calibration, fit_calibrator  # noqa: E402
from models.evaluate import classification_metrics  # noqa: E402
from models.split import plan_split, snapshot_summary  # noqa: E402
from models.train import NON_FEATURES, _candidate, _lgbm, _parts, fit_lgbm, prepare_matrix, select_features  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

PAY_INPUTS = ["pay_pd", "pay_share30", "pay_share60", "pay_share90"]
WEIGHTS = np.round(np.arange(11) / 10, 1)


def refit_dates(dates: list[pd.Timestamp], cut: pd.Timestamp, every: int) -> list[pd.Timestamp]:
    """Every ``every``-th month-end up to ``cut``, counted back from it (so ``cut`` is one)."""
    past = [d for d in dates if d <= cut]
    return past[::-1][::every][::-1]


def pay_panel(
    data: Path, dates: list[pd.Timestamp], cut: pd.Timestamp, every: int, train_cfg: TrainConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``paydate_view`` of every month-end in ``dates``: a month-end up to ``cut`` read with the model
    of the latest walk-forward refit on or before it, a later one with the model fitted at ``cut``."""
    from pipelines.engine import Book
    from pipelines.ingest import ingest_dir

    t0 = time.process_time()
    definition = ProjectConfig().default_definition
    portfolio = ingest_dir(data, None).portfolio
    bk = Book.in_memory(portfolio, NightlyConfig().partition_rows)
    models: dict[pd.Timestamp, Any] = {}
    fits: dict[str, Any] = {}
    for r in refit_dates(dates, cut, every):
        try:
            loaded, described, n_rows = fit_paydate(bk, train_cfg, r)
        except Exception as exc:  # too short a history at an early refit: NaN columns until the next
            fits[str(r.date())] = f"no model: {str(exc)[:80]}"
            continue
        models[r] = loaded
        fits[str(r.date())] = {
            "rows": n_rows,
            "train": [described["final_train"][0], described["final_train"][-1]],
        }
    t_fit = time.process_time() - t0
    views = []
    keys = sorted(models)
    for T in dates:
        usable = [r for r in keys if r <= min(T, cut)]
        if not usable:
            continue
        m = models[usable[-1]]
        for k in range(bk.buckets):
            v = paydate_view(bk, k, T, m, int(definition.dpd_threshold), int(definition.horizon_days))
            if v is not None:
                views.append(v.assign(model_cut=usable[-1]))
    panel = pd.concat(views, ignore_index=True)
    panel["debtor_id"] = panel["debtor_id"].astype(str)
    meta = {"fits": fits, "cpu_s": {"fit": round(t_fit, 1), "total": round(time.process_time() - t0, 1)}}
    return panel, meta


def with_pay(frame: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``pay_pd`` and the expected unpaid shares 30 / 60 / 90 days after T (NaN: no
    open invoice at T, or no payment-date model yet)."""
    p = panel[["debtor_id", "as_of", "pay_pd", "unpaid_30", "unpaid_60", "unpaid_90", "open_fc"]]
    out = frame.merge(p, on=["debtor_id", "as_of"], how="left")
    open_fc = out["open_fc"].where(out["open_fc"] > 0)
    for n in (30, 60, 90):
        out[f"pay_share{n}"] = (out[f"unpaid_{n}"] / open_fc).clip(0, 1)
    return out.drop(columns=["unpaid_30", "unpaid_60", "unpaid_90", "open_fc"])


def blend(pd_: np.ndarray, pay: np.ndarray, kind: str, w: float, floor: float, ceil: float) -> np.ndarray:
    """(1 - w) PD + w pay (``mean``) or PD^(1-w) pay^w (``geo``); pay clipped to [floor, ceil] and
    the PD standing in where it is undefined (NaN)."""
    p = np.where(np.isnan(pay), pd_, np.clip(pay, floor, ceil))
    if kind == "mean":
        return (1 - w) * pd_ + w * p
    return np.exp((1 - w) * np.log(pd_) + w * np.log(p))


def best_weight(y: np.ndarray, pd_: np.ndarray, pay: np.ndarray, kind: str, floor: float, ceil: float):
    """The w of ``WEIGHTS`` with the highest AUC of the blend on (y, pd_, pay); ties to the smaller w."""
    aucs = [float(roc_auc_score(y, blend(pd_, pay, kind, w, floor, ceil))) for w in WEIGHTS]
    i = int(np.argmax(np.round(aucs, 6)))
    return float(WEIGHTS[i]), [round(a, 4) for a in aucs]


def run(regime: str, seed: int, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    params = cfg.to_params()
    floor, ceil = params.pd_floor, params.pd_ceiling
    data, gen = book(regime, seed, args.work, None, None)
    frame = cached_frame(data)
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    dates = sorted(pd.Timestamp(d) for d in frame["as_of"].unique())

    cache = args.cache / f"{data.name}-pay-r{args.refit_every}.parquet"
    if cache.exists():
        panel = pd.read_parquet(cache)
        pay_meta = json.loads(cache.with_suffix(".json").read_text())
    else:
        panel, pay_meta = pay_panel(data, dates, cut, args.refit_every, cfg)
        args.cache.mkdir(parents=True, exist_ok=True)
        panel.to_parquet(cache, index=False)
        cache.with_suffix(".json").write_text(json.dumps(pay_meta))
    frame = with_pay(frame, panel)
    frame["noise"] = np.random.default_rng(seed).random(len(frame))

    past = as_of_cut(frame, cut, HORIZON_DAYS)
    plan = plan_split(snapshot_summary(past[["as_of", "label", "horizon_observed"]]), params.split)
    labelled = past[past["label"].notna()].reset_index(drop=True)
    parts = _parts(labelled, plan)
    cands = [c for c in past.columns if c not in NON_FEATURES and c not in params.exclude]
    cands = [c for c in cands if c not in [*PAY_INPUTS, "noise", "model_cut"]]
    cat = [c for c in cands if c in params.categorical or isinstance(past[c].dtype, pd.CategoricalDtype)]
    kept, _ = select_features(labelled, cands)
    cat = [c for c in cat if c in kept]
    categories = {c: sorted(labelled[c].dropna().astype("string").astype(str).unique().tolist()) for c in cat}

    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    fwd = fwd.merge(truth[[*KEYS, "oracle_pd"]], on=KEYS, how="left")
    fwd = fwd[fwd["oracle_pd"].notna()].reset_index(drop=True)
    yf = fwd["label"].astype(int).to_numpy()
    y = {k: parts[k]["label"].astype(int).to_numpy() for k in parts}
    y_all = labelled["label"].astype(int).to_numpy()

    # the product's LightGBM, its out-of-time scores of calibration + test and the shipped calibrator
    c = time.process_time()
    X = {k: prepare_matrix(v, kept, categories) for k, v in parts.items()}
    lgbm_eval, best = fit_lgbm(
        X["train"], y["train"], X["validation"], y["validation"], params.lgbm, params.seed
    )
    refit = _lgbm(params.lgbm, best, params.seed).fit(prepare_matrix(labelled, kept, categories), y_all)
    raw_f = refit.predict(prepare_matrix(fwd, kept, categories), raw_score=True)
    cand = _candidate("lightgbm", lgbm_eval, X, y, cat, params, parts["calibration"], record=False)
    ship_cal = fit_calibrator(
        np.concatenate([cand.s_cal, cand.s_test]),
        np.concatenate([y["calibration"], y["test"]]),
        cand.choice.method,
    )
    pd_w = {
        "calibration": np.clip(ship_cal.predict(cand.s_cal), floor, ceil),
        "test": np.clip(ship_cal.predict(cand.s_test), floor, ceil),
        "forward": np.clip(ship_cal.predict(raw_f), floor, ceil),
    }
    pay_w = {
        "calibration": parts["calibration"]["pay_pd"].to_numpy(float),
        "test": parts["test"]["pay_pd"].to_numpy(float),
        "forward": fwd["pay_pd"].to_numpy(float),
    }
    cpu = {"shipped": round(time.process_time() - c, 1)}

    # (a) blends; w chosen on the test window only
    chosen = {}
    test_auc = {}
    # ``*0``: pay_pd undefined (no open invoice) counted as 0 instead of the PD standing in
    zero = {k: np.where(np.isnan(v), 0.0, v) for k, v in pay_w.items()}
    for kind in ("mean", "geo"):
        chosen[kind], test_auc[kind] = best_weight(y["test"], pd_w["test"], pay_w["test"], kind, floor, ceil)
    chosen["mean0"], test_auc["mean0"] = best_weight(
        y["test"], pd_w["test"], zero["test"], "mean", floor, ceil
    )
    specs = {
        "mean": ("mean", 0.5, pay_w),
        "geo": ("geo", 0.5, pay_w),
        "wmean": ("mean", chosen["mean"], pay_w),
        "wgeo": ("geo", chosen["geo"], pay_w),
        "mean_zero": ("mean", 0.5, zero),
        "wmean_zero": ("mean", chosen["mean0"], zero),
    }
    scores: dict[str, np.ndarray] = {"oracle": fwd["oracle_pd"].clip(0, 1).to_numpy(float), "shipped": raw_f}
    calib: dict[str, dict[str, Any]] = {}
    ship_m = classification_metrics(yf, pd_w["forward"])
    calib["shipped"] = {
        "method": cand.choice.method,
        "ece": ship_m["ece"],
        "brier": ship_m["brier"],
        "auc_calibrated": round(ship_m["auc"], 4),
        "distinct_pd": int(len(np.unique(pd_w["forward"]))),
    }
    times = parts["calibration"]["as_of"].to_numpy()
    groups = parts["calibration"]["debtor_id"].astype("string").to_numpy()
    for name, (kind, w, pay) in specs.items():
        b = {k: blend(pd_w[k], pay[k], kind, w, floor, ceil) for k in pd_w}
        scores[name] = b["forward"]
        s = {k: logit(np.clip(v, 1e-12, 1 - 1e-12)) for k, v in b.items()}
        _, choice = choose_calibration(
            s["calibration"], y["calibration"], params.calibration, times=times, groups=groups,
            seed=params.seed, min_isotonic_defaults=params.min_isotonic_defaults, pd_floor=floor, pd_ceiling=ceil,
        )  # fmt: skip
        calr = fit_calibrator(
            np.concatenate([s["calibration"], s["test"]]),
            np.concatenate([y["calibration"], y["test"]]),
            choice.method,
        )
        p = np.clip(calr.predict(s["forward"]), floor, ceil)
        m = classification_metrics(yf, p)
        calib[name] = {
            "method": choice.method,
            "ece": m["ece"],
            "brier": m["brier"],
            "auc_calibrated": round(m["auc"], 4),
            "distinct_pd": int(len(np.unique(p))),
        }
    scores["pay_only"] = blend(np.zeros_like(raw_f) + 1e-12, pay_w["forward"], "mean", 1.0, floor, ceil)
    scores["pay_only"] = np.where(np.isnan(pay_w["forward"]), pd_w["forward"], scores["pay_only"])

    # (b) payment-date columns as LightGBM inputs
    inputs = {"in_paypd": [*kept, "pay_pd"], "in_pay": [*kept, *PAY_INPUTS], "noise": [*kept, "noise"]}
    trees = {"shipped": best}
    yd = {k: y[k] for k in ("train", "validation")}
    for name, names in inputs.items():
        if name not in args.inputs:
            continue
        c = time.process_time()
        Xd = {k: prepare_matrix(parts[k], names, categories) for k in ("train", "validation")}
        Xa, Xf = prepare_matrix(labelled, names, categories), prepare_matrix(fwd, names, categories)
        runs = []
        for i in range(args.fit_seeds):
            model, trees[name] = ews_path(Xa, y_all, Xd, yd, params.lgbm, params.seed + i)
            runs.append(model.predict(Xf, raw_score=True))
        scores[name] = np.mean(runs, axis=0)
        cpu[name] = round(time.process_time() - c, 1)
    metrics, ci = forward_metrics(yf, scores, fwd["debtor_id"].to_numpy(), args.boot, params.seed)
    undefined = {
        k: round(float(np.isnan(v).mean()), 4)
        for k, v in {"train": labelled["pay_pd"].to_numpy(float), **pay_w}.items()
    }
    return {
        **book_head(regime, seed, gen, cut, fwd, yf),
        "test_rows": len(y["test"]),
        "test_defaults": int(y["test"].sum()),
        "chosen_w": chosen,
        "test_auc_by_w": test_auc,
        "pay_pd_undefined_share": undefined,
        "train_rows_before_first_paydate_model": round(
            float((labelled["as_of"] < panel["model_cut"].min()).mean()), 4
        ),
        "calibration": calib,
        "trees": trees,
        "cpu_s": cpu,
        "paydate": pay_meta,
        "metrics": metrics,
        "vs_shipped": ci,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = book_args(__doc__, "1,2,3")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ews-paypd"), help="payment-date panels")
    ap.add_argument(
        "--refit-every", type=int, default=3, help="walk-forward payment-date refits (month-ends)"
    )
    ap.add_argument("--inputs", nargs="*", default=["in_paypd", "in_pay", "noise"])
    ap.add_argument(
        "--fit-seeds", type=int, default=1, help="LightGBM seeds per input variant, raw scores averaged"
    )
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)

    def detail(r: dict[str, Any]) -> list[str]:
        cal = "  ".join(
            f"{k} {v['method']} ece {v['ece']:.4f} brier {v['brier']:.5f}"
            for k, v in r["calibration"].items()
        )
        return [f"w {r['chosen_w']}  undefined {r['pay_pd_undefined_share']}  cpu {r['cpu_s']}", cal]

    results = run_books(args, lambda regime, seed: run(regime, seed, args, cfg), detail)
    variants = [k for k in results[0]["metrics"] if k not in ("oracle", "shipped")]
    summary = summarise(results, variants)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
