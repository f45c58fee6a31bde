"""Two candidates for the top of the ranking, each paired with ews's own LightGBM path (issue 9 part 1).

Same books, cut and forward rows as ``benchmarks/regimes.py`` / ``capture_gap.py`` (the generated
book and its modelling frame are read from ``--work``, as cached there). Per book, ews's split of
the rows before the cut (``models.split.plan_split`` with ``conf/train.yaml``) and three LightGBM
paths, each exactly as ``models.train.train_pd_model`` ships LightGBM: early-stopped on the
validation window (fitted on the train window), then refitted on every labelled snapshot before the
cut with the chosen tree count. Only the ranking is compared (AUC, capture@5 % of the forward
rows), which no calibrator changes.

* ``shipped``: ``conf/train.yaml`` as is.
* ``recency<H>``: every training row weighted 0.5 ** (age / H), age = snapshots between its as-of
  date and the latest labelled one (the validation rows, the latest, keep weight 1 in early stopping).
* ``slow``: learning rate 0.02, up to 1,000 trees, 75 early-stopping rounds (the shipped: 0.05, 300, 30).
* ``focal<G>`` (``--focal G``): the focal loss (Lin et al. 2017) with gamma G instead of the log-loss,
  started from the train window's log-odds, early-stopped on the validation window's focal loss.

Differences to ``shipped`` come with a paired 95 % debtor-bootstrap interval on the forward rows.

    nice .venv/bin/python benchmarks/capture_recency.py --work /tmp/ews-regimes --seeds 1,2,3 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from capture_gap import cached_frame  # noqa: E402
from regimes import HORIZON_DAYS, KEYS, book  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.split import plan_split, snapshot_summary  # noqa: E402
from models.train import NON_FEATURES, _lgbm, _parts, prepare_matrix, select_features  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.synthetic import REGIMES  # noqa: E402


def capture(y: np.ndarray, s: np.ndarray, share: float = 0.05) -> float:
    """Share of the defaulters among the top ``share`` of rows by score (stable order on ties)."""
    k = max(int(np.ceil(share * len(s))), 1)
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].sum() / y.sum())


def paired_intervals(
    y: np.ndarray, scores: dict[str, np.ndarray], debtors: np.ndarray, n_boot: int, seed: int
) -> dict[str, dict[str, list[float]]]:
    """95 % debtor-bootstrap intervals of (candidate - shipped) AUC and capture@5 %."""
    keys, inv = np.unique(debtors, return_inverse=True)
    rows_of = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[rows_of], np.arange(len(keys)))
    ends = np.append(starts[1:], len(inv))
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[tuple[float, float]]] = {k: [] for k in scores if k != "shipped"}
    for _ in range(n_boot):
        pick = rng.integers(0, len(keys), len(keys))
        idx = np.concatenate([rows_of[starts[d] : ends[d]] for d in pick])
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        base = scores["shipped"][idx]
        a0, c0 = roc_auc_score(yb, base), capture(yb, base)
        for k in diffs:
            s = scores[k][idx]
            diffs[k].append((roc_auc_score(yb, s) - a0, capture(yb, s) - c0))
    out = {}
    for k, v in diffs.items():
        arr = np.asarray(v)
        out[k] = {
            "d_auc_ci": [round(float(q), 4) for q in np.quantile(arr[:, 0], [0.025, 0.975])],
            "d_capture_ci": [round(float(q), 4) for q in np.quantile(arr[:, 1], [0.025, 0.975])],
        }
    return out


def focal_grad(z: np.ndarray, y: np.ndarray, gamma: float) -> np.ndarray:
    """d/dz of the focal loss -y (1-p)^g log p - (1-y) p^g log(1-p), p = sigmoid(z)."""
    p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-12, 1 - 1e-12)
    g1 = gamma * p * (1 - p) ** gamma * np.log(p) - (1 - p) ** (gamma + 1)
    g0 = p ** (gamma + 1) - gamma * (1 - p) * p**gamma * np.log(1 - p)
    return np.where(y == 1, g1, g0)


def focal_loss(z: np.ndarray, y: np.ndarray, gamma: float) -> float:
    p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-12, 1 - 1e-12)
    return float(np.mean(-y * (1 - p) ** gamma * np.log(p) - (1 - y) * p**gamma * np.log(1 - p)))


def focal_objective(gamma: float):
    """LightGBM objective: the focal loss's exact gradient with the log-loss curvature p (1 - p) as the
    Hessian (a Fisher-scoring step; equal to the focal Hessian at gamma = 0). The focal loss's own
    Hessian is ~1e-5 or negative at a 1 % base rate, so Newton leaves explode (measured: contagion seed
    1 fell to AUC 0.67 with it floored at 1e-6)."""

    def objective(y_true: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-z))
        return focal_grad(z, y_true, gamma), np.maximum(p * (1 - p), 1e-12)

    return objective


def ews_path(
    labelled_X, labelled_y, X, y, lgbm, seed: int, weights: dict | None = None, gamma: float | None = None
):
    """ews's LightGBM path: early-stopped on validation, refitted on every labelled snapshot.

    With ``gamma`` the objective is the focal loss (started from the train window's log-odds, early
    stopping on the validation window's focal loss) instead of the binary log-loss.
    """
    w = weights or {}
    probe = _lgbm(lgbm, lgbm.n_estimators, seed)
    fit: dict[str, Any] = {"eval_metric": "binary_logloss"}
    refit: dict[str, Any] = {}
    if gamma is not None:
        start = float(np.log(y["train"].mean() / (1 - y["train"].mean())))
        probe.set_params(objective=focal_objective(gamma), metric="None")

        def metric(y_true, z):
            return f"focal{gamma:g}", focal_loss(z, y_true, gamma), False

        fit = {
            "eval_metric": metric,
            "init_score": np.full(len(y["train"]), start),
            "eval_init_score": [np.full(len(y["validation"]), start)],
        }
        refit = {"init_score": np.full(len(labelled_y), start)}
    probe.fit(
        X["train"],
        y["train"],
        sample_weight=w.get("train"),
        eval_X=(X["validation"],),
        eval_y=(y["validation"],),
        callbacks=[lgb.early_stopping(lgbm.early_stopping_rounds, verbose=False)],
        **fit,
    )
    best = int(probe.best_iteration_ or lgbm.n_estimators)
    model = _lgbm(lgbm, best, seed)
    if gamma is not None:
        model.set_params(objective=focal_objective(gamma), metric="None")
    model.fit(labelled_X, labelled_y, sample_weight=w.get("all"), **refit)
    return model, best


def forward_setup(data: Path, frame: pd.DataFrame, args: argparse.Namespace, params, leave_out=frozenset()):
    """The forward protocol's pieces for one book: the cut (``args.forward`` observed month-ends
    before the last), the labelled rows a user had at the cut and their train/validation/... parts,
    the shipped feature selection on them (``leave_out``: candidate columns kept out of it) with
    its categories, and the forward rows that have an oracle PD."""
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    plan = plan_split(snapshot_summary(past[["as_of", "label", "horizon_observed"]]), params.split)
    labelled = past[past["label"].notna()].reset_index(drop=True)
    parts = _parts(labelled, plan)
    cands = [
        c for c in past.columns if c not in NON_FEATURES and c not in params.exclude and c not in leave_out
    ]
    cat = [c for c in cands if c in params.categorical or isinstance(past[c].dtype, pd.CategoricalDtype)]
    kept, _ = select_features(labelled, cands)
    cat = [c for c in cat if c in kept]
    categories = {c: sorted(labelled[c].dropna().astype("string").astype(str).unique().tolist()) for c in cat}
    fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
    fwd = fwd.merge(truth[[*KEYS, "oracle_pd"]], on=KEYS, how="left")
    fwd = fwd[fwd["oracle_pd"].notna()].reset_index(drop=True)
    return cut, labelled, plan, parts, kept, categories, fwd


def run(regime: str, seed: int, args: argparse.Namespace, params) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, gen = book(regime, seed, args.work, None, None)
    frame = cached_frame(data)
    cut, labelled, plan, parts, kept, categories, fwd = forward_setup(data, frame, args, params)
    trainval = {k: parts[k] for k in ("train", "validation")}
    X = {k: prepare_matrix(v, kept, categories) for k, v in trainval.items()}
    y = {k: v["label"].astype(int).to_numpy() for k, v in trainval.items()}
    X_all, y_all = prepare_matrix(labelled, kept, categories), labelled["label"].astype(int).to_numpy()
    yf = fwd["label"].astype(int).to_numpy()
    Xf = prepare_matrix(fwd, kept, categories)

    dates = pd.DatetimeIndex(sorted(labelled["as_of"].unique()))

    def age(rows: pd.DataFrame) -> np.ndarray:
        return len(dates) - 1 - dates.get_indexer(pd.DatetimeIndex(rows["as_of"]))

    scores: dict[str, np.ndarray] = {"oracle": fwd["oracle_pd"].clip(0, 1).to_numpy(float)}
    trees: dict[str, int] = {}
    cpu: dict[str, float] = {}
    variants: dict[str, tuple[Any, dict | None, float | None]] = {"shipped": (params.lgbm, None, None)}
    for h in args.half_lives:
        w = {"train": 0.5 ** (age(parts["train"]) / h), "all": 0.5 ** (age(labelled) / h)}
        variants[f"recency{h:g}"] = (params.lgbm, w, None)
    if args.slow:
        slow = dataclasses.replace(
            params.lgbm, learning_rate=0.02, n_estimators=1000, early_stopping_rounds=75
        )
        variants["slow"] = (slow, None, None)
    for g in args.focal:
        variants[f"focal{g:g}"] = (params.lgbm, None, g)
    for name, (lg, w, g) in variants.items():
        c = time.process_time()
        model, best = ews_path(X_all, y_all, X, y, lg, params.seed, w, g)
        scores[name] = model.predict(Xf, raw_score=True)
        trees[name], cpu[name] = best, round(time.process_time() - c, 1)
    metrics, ci = forward_metrics(yf, scores, fwd["debtor_id"].to_numpy(), args.boot, params.seed)
    return {
        **book_head(regime, seed, gen, cut, fwd, yf),
        "train_snapshots": len(plan.train),
        "labelled_snapshots": len(dates),
        "trees": trees,
        "cpu_s": cpu,
        "metrics": metrics,
        "vs_shipped": ci,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def book_head(
    regime: str, seed: int, gen: Any, cut: pd.Timestamp, fwd: pd.DataFrame, yf: np.ndarray
) -> dict[str, Any]:
    """The first keys of a capture benchmark's result for one book: regime, seed, book size, cut and
    the forward rows with their defaults."""
    return {
        "regime": regime,
        "seed": seed,
        "book": f"{gen.debtors}x{gen.months}",
        "cut": str(cut.date()),
        "forward_rows": len(fwd),
        "forward_defaults": int(yf.sum()),
    }


def forward_metrics(
    y: np.ndarray, scores: dict[str, np.ndarray], debtors: np.ndarray, n_boot: int, seed: int
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, list[float]]]]:
    """Per score (``oracle`` among them): forward AUC and capture@5 %, both also as a ratio to the
    oracle's; and the debtor-bootstrap intervals of each candidate minus ``shipped``."""
    metrics = {
        k: {"auc": round(float(roc_auc_score(y, s)), 4), "capture_5pct": round(capture(y, s), 4)}
        for k, s in scores.items()
    }
    o = metrics["oracle"]
    for m in metrics.values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 4)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 4)
    ci = paired_intervals(y, {k: v for k, v in scores.items() if k != "oracle"}, debtors, n_boot, seed)
    return metrics, ci


def input_candidates(
    regime: str, seed: int, args: argparse.Namespace, cfg: TrainConfig, extra, variants
) -> dict[str, Any]:
    """Candidate LightGBM inputs on ews's own path, paired with ``shipped`` on the forward rows.

    ``extra(frame)`` returns the candidate columns (same index; computed per (debtor, as_of) from
    month-ends on or before that row's as-of date only); ``variants`` maps a name to the candidate
    columns it adds to the shipped feature set. ``args.fit_seeds`` LightGBM seeds per variant, raw
    scores averaged; ``trees`` and ``gain_share`` (of the candidates and ``dpd_current_max``) are the
    last seed's. Also the AUC on the early-stage forward rows (0-60 DPD), the queue's misses."""
    t0 = time.perf_counter()
    params = cfg.to_params()
    data, gen = book(regime, seed, args.work, None, None)
    frame = cached_frame(data)
    c = time.process_time()
    added = extra(frame)
    frame = frame.join(added)
    extra_cpu = round(time.process_time() - c, 2)
    cut, labelled, _, parts, kept, categories, fwd = forward_setup(
        data, frame, args, params, set(added.columns)
    )
    yf = fwd["label"].astype(int).to_numpy()

    sets = {"shipped": kept, **{k: [*kept, *v] for k, v in variants.items()}}
    scores: dict[str, np.ndarray] = {"oracle": fwd["oracle_pd"].clip(0, 1).to_numpy(float)}
    trees: dict[str, int] = {}
    cpu: dict[str, float] = {}
    gain: dict[str, dict[str, float]] = {}
    y = {k: parts[k]["label"].astype(int).to_numpy() for k in ("train", "validation")}
    y_all = labelled["label"].astype(int).to_numpy()
    seed_auc: dict[str, list[float]] = {}
    for name, names in sets.items():
        c = time.process_time()
        X = {k: prepare_matrix(parts[k], names, categories) for k in ("train", "validation")}
        X_all, Xf = prepare_matrix(labelled, names, categories), prepare_matrix(fwd, names, categories)
        runs = []
        for i in range(args.fit_seeds):  # fit seeds params.seed + i; scores averaged (raw)
            model, best = ews_path(X_all, y_all, X, y, params.lgbm, params.seed + i)
            runs.append(model.predict(Xf, raw_score=True))
        scores[name] = np.mean(runs, axis=0)
        seed_auc[name] = [round(float(roc_auc_score(yf, r)), 4) for r in runs]
        trees[name], cpu[name] = best, round(time.process_time() - c, 1)
        imp = pd.Series(model.booster_.feature_importance("gain"), index=model.booster_.feature_name())
        imp = imp / imp.sum()
        gain[name] = {f: round(float(imp.get(f, 0.0)), 4) for f in added.columns if f in names}
        gain[name]["dpd_current_max"] = round(float(imp.get("dpd_current_max", 0.0)), 4)
    metrics, ci = forward_metrics(yf, scores, fwd["debtor_id"].to_numpy(), args.boot, params.seed)
    early = (fwd["dpd_current_max"].fillna(0) <= 60).to_numpy()
    early_auc = (
        {k: round(float(roc_auc_score(yf[early], s[early])), 4) for k, s in scores.items()}
        if 0 < yf[early].sum() < early.sum()
        else {}
    )
    return {
        **book_head(regime, seed, gen, cut, fwd, yf),
        "frame": sorted(p.name for p in data.glob("frame-*.parquet"))[-1],
        "early_rows": int(early.sum()),
        "early_defaults": int(yf[early].sum()),
        "trees": trees,
        "fit_seeds": args.fit_seeds,
        "seed_auc": seed_auc,
        "cpu_s": cpu,
        "extra_cpu_s": extra_cpu,
        "gain_share": gain,
        "metrics": metrics,
        "early_auc": early_auc,
        "vs_shipped": ci,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def run_books(args: argparse.Namespace, run_one, detail=None) -> list[dict[str, Any]]:
    """``run_one(regime, seed)`` over ``args.seeds`` x ``args.regimes``, printing each book's AUC /
    capture per variant and its paired intervals against the shipped model (``detail(r)``: more
    lines), the results rewritten to ``args.json`` after every book."""
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for regime in args.regimes.split(","):
            r = run_one(regime, seed)
            results.append(r)
            line = "  ".join(f"{k} {m['auc']:.4f}/{m['capture_5pct']:.3f}" for k, m in r["metrics"].items())
            print(f"{regime} s{seed} ({r['forward_defaults']} def, trees {r['trees']}): {line}", flush=True)
            for extra in detail(r) if detail else ():
                print(f"    {extra}", flush=True)
            for k, c in r["vs_shipped"].items():
                print(f"    {k} - shipped: dAUC {c['d_auc_ci']}  dcap {c['d_capture_ci']}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
    return results


def summarise(results: list[dict[str, Any]], variants: list[str]) -> dict[str, Any]:
    """The closing JSON line: books, CPU and memory, and per variant the mean AUC / capture
    difference to the shipped model, the books where the paired interval says better or worse, and
    the books at >= 0.90 x the oracle's capture and >= 0.95 x its AUC (also for the shipped model)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    summary: dict[str, Any] = {
        "books": len(results),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
        "max_rss_kb": ru.ru_maxrss,
    }
    for k in variants:
        m = [(r["metrics"][k], r["metrics"]["shipped"]) for r in results]
        ci = [r["vs_shipped"][k] for r in results]
        summary[k] = {
            "mean_d_auc": round(float(np.mean([v["auc"] - s["auc"] for v, s in m])), 4),
            "mean_d_capture": round(float(np.mean([v["capture_5pct"] - s["capture_5pct"] for v, s in m])), 4),
            "auc_sig_better": sum(c["d_auc_ci"][0] > 0 for c in ci),
            "auc_sig_worse": sum(c["d_auc_ci"][1] < 0 for c in ci),
            "cap_sig_better": sum(c["d_capture_ci"][0] > 0 for c in ci),
            "cap_sig_worse": sum(c["d_capture_ci"][1] < 0 for c in ci),
            "capture_ge_090_oracle": sum(v["capture_ratio"] >= 0.90 for v, _ in m),
            "auc_ge_095_oracle": sum(v["auc_ratio"] >= 0.95 for v, _ in m),
        }
    shipped = [r["metrics"]["shipped"] for r in results]
    summary["shipped_capture_ge_090_oracle"] = sum(s["capture_ratio"] >= 0.90 for s in shipped)
    summary["shipped_auc_ge_095_oracle"] = sum(s["auc_ratio"] >= 0.95 for s in shipped)
    return summary


def book_args(doc: str | None, seeds: str) -> argparse.ArgumentParser:
    """The options every forward-protocol benchmark takes (books, cut, bootstrap, JSON out)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default=",".join(REGIMES))
    ap.add_argument("--seeds", default=seeds)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-regimes"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--boot", type=int, default=200, help="debtor-bootstrap replicates")
    ap.add_argument("--json", type=Path, default=None)
    return ap


def main() -> None:
    ap = book_args(__doc__, "1,2,3")
    ap.add_argument(
        "--half-lives", type=float, nargs="*", default=[12.0], help="recency half-lives (snapshots)"
    )
    ap.add_argument(
        "--no-slow", dest="slow", action="store_false", help="skip the learning-rate 0.02 variant"
    )
    ap.add_argument("--focal", type=float, nargs="*", default=[], help="focal-loss gammas (e.g. 2)")
    args = ap.parse_args()
    params = load_config(args.config, expect=TrainConfig).to_params()
    results = run_books(args, lambda regime, seed: run(regime, seed, args, params))
    summary = summarise(results, [k for k in results[0]["metrics"] if k not in ("oracle", "shipped")])
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
