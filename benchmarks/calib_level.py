"""The window calibrator's own level on thin calibration windows (issue 9 parts 2-4, s30-calib).

Per book (``calib_thin.py``'s specs and forward protocol: the book as a user had it at the cut
``--forward`` observed month-ends before the last), the main split of ``models.train.train_pd_model``
is fitted once with the shipped settings (``models.train._evaluate``: LightGBM and the scorecard, each
behind its window calibrator chosen on the calibration window) and each kind's test window is scored
by variants of the window calibrator:

- ``window``: the shipped window calibrator;
- ``rate<W>``: its level shrunk toward the training rate (train + validation rows) with a prior worth
  ``W`` defaulting debtors (``models.calibrate.shrink_level``: log-odds shifted by
  ``W / (W + d) * c0``, ``d`` the window's defaulting debtors, ``c0`` the shift to the prior's rate);
- ``val<W>``: the same toward the validation window's rate (the month-ends just before the calibration
  window; the pre-registered candidate's prior, ``models.train.window_prior``);
- ``raw<W>``: the same toward the out-of-time model's own mean probability over the calibration rows;
- ``pool<D>`` (``--pool``): the main split refitted with the calibration window pooled over the latest
  month-ends before the test window until it holds ``D`` defaulting debtors (the training window loses
  them), its own window calibrator.

Figures per kind and variant on the test window: level (mean PD / realised rate, 95 % debtor-bootstrap
interval), log-loss, Brier, ECE, the gate's ECE check (``models.evaluate.ece_noise`` 95th percentile +
``gate.ece_margin``, as shipped), paired debtor-bootstrap intervals of log-loss and Brier against
``window``, and the main-split kind rule (``models.evaluate.choose_challenger`` on the test window;
the real training decides on rolling-origin folds when the test window holds fewer than
``evaluation.fold_defaults`` defaults, flagged ``folds``).

With ``--candidate W`` (TrainParams ``calibration_window_prior`` W, ``models.train.window_prior``) it also
records the training's decisions before / after (the kind: the test-window rule, or the rolling-origin
folds as ``models.train._choose`` unless ``--no-folds``; the gate without a champion; each kind's ECE
check, with the debtor-path chance for a refusal only after) and, with ``--dump``, prints the
pre-registered summary over the books (s30-calib prereg: per (book, kind) paired intervals of log-loss and
Brier, pooled log-loss, mean ``|log(mean PD / realised)|``).

    nice -n 19 .venv/bin/python benchmarks/calib_level.py --work /work/bench/s30-calib \\
        --books gen:stress:2000x24:1,gen:quiet:2000x36:303 --weights 25,50,100 --pool 100 --json out.json
    nice -n 19 .venv/bin/python benchmarks/calib_level.py --work /work/bench/s30-calib --books ... \\
        --weights 10 --candidate 10 --no-folds --n-boot 1000 --dump DIR --json decide.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from calib_thin import book_at_cut, window_counts  # noqa: E402

import models.train as mt  # noqa: E402
from models.calibrate import shrink_level  # noqa: E402
from models.challenger import _fold_rule, plan_folds  # noqa: E402
from models.evaluate import (  # noqa: E402
    DEBTOR_PATHS_QUANTILE,
    bootstrap_intervals,
    choose_challenger,
    classification_metrics,
    ece_noise,
    gate_decision,
)
from models.split import BookTooSmallError, check_defaults, plan_split, snapshot_summary  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

_EPS = 1e-15


def _split(past: pd.DataFrame, params) -> tuple:
    summary = snapshot_summary(past[["as_of", "label", "horizon_observed"]])
    plan = plan_split(summary, params.split)
    check_defaults(summary, plan, params.split.min_defaults)
    labelled = past[past["label"].notna()]
    return summary, plan, labelled, mt._parts(labelled, plan)


def pooled_snapshots(labelled: pd.DataFrame, plan, min_debtors: int) -> int:
    """Month-ends of a calibration window ending where ``plan``'s does and holding ``min_debtors``
    defaulting debtors (at least ``plan``'s own count)."""
    before = sorted(d for d in labelled["as_of"].unique() if d < plan.test[0])
    seen: set = set()
    k = 0
    for d in reversed(before):
        k += 1
        rows = labelled[(labelled["as_of"] == d) & (labelled["label"].astype(int) == 1)]
        seen |= set(rows["debtor_id"])
        if len(seen) >= min_debtors:
            break
    return max(k, len(plan.calibration))


def pooled_plan(summary: pd.DataFrame, plan, k: int, min_defaults: int):
    """``plan`` with its calibration window widened to the ``k`` month-ends before the same test
    window, validation pooled before it to ``min_defaults`` defaults, training everything earlier
    (None when training or validation cannot hold ``min_defaults``)."""
    usable = [d for d in summary.index[summary["horizon_observed"]] if d < plan.test[0]]
    cal = usable[-k:]
    rest = usable[:-k]
    total, start = 0, None
    for i in range(len(rest) - 1, -1, -1):
        total += int(summary.loc[rest[i], "defaults"])
        if total >= min_defaults:
            start = i
            break
    if start is None or start < 1 or int(summary.loc[rest[:start], "defaults"].sum()) < min_defaults:
        return None
    return dataclasses.replace(
        plan, train=tuple(rest[:start]), validation=tuple(rest[start:]), calibration=tuple(cal)
    )


def _kind_rule(y, pl, ps, debtors, params) -> tuple[str, dict, dict]:
    """The main-split rule (:func:`models.evaluate.choose_challenger` on the test window)."""
    ci = bootstrap_intervals(
        y,
        {"lightgbm": pl, "scorecard": ps},
        debtors,
        pairs=[("lightgbm", "scorecard")],
        n_boot=params.bootstrap_samples,
        seed=params.seed,
    )
    ml, ms = classification_metrics(y, pl), classification_metrics(y, ps)
    point = {m: ml[m] - ms[m] for m in ("logloss", "auc")}
    return choose_challenger(ci["lightgbm-scorecard"], point)[0], ci["lightgbm-scorecard"], point


def decisions(
    summary, plan, labelled, parts, ev, feats, params, cand, thresholds, skip_folds: bool = False
) -> dict:
    """The training's decisions with the shipped window calibrator (``before``) and with the candidate
    ``cand`` (TrainParams with ``calibration_window_prior``; ``after``): the kind (the main-split rule
    on the test window, or :func:`models.challenger._fold_rule` on the rolling-origin folds when the
    test window holds fewer than ``fold_defaults`` defaults, as ``models.train._choose``) and the gate
    (:func:`models.evaluate.gate_decision` without a champion; LightGBM against the scorecard on the
    kind rule's evidence); for a candidate-only ECE refusal, the debtor-path chance ECE's 99th percentile
    (s29-calib's simulation: a real level error exceeds it). ``skip_folds``: the main-split rule
    even where the training would use folds (``kind_on`` says so)."""
    kept, categories, categorical = feats
    clip = (params.pd_floor, params.pd_ceiling)

    def after_pd(c, y, cal_rows):
        c2, _ = mt.window_prior(c.calibrator, c.choice, c.s_cal, y, cal_rows, cand)
        return np.clip(c2.predict(c.s_test), *clip)

    y_test = ev.y["test"]
    debt = parts["test"]["debtor_id"].astype("string").to_numpy()
    pds = {
        "before": {k: c.pd_test for k, c in ev.candidates.items()},
        "after": {k: after_pd(c, ev.y, parts["calibration"]) for k, c in ev.candidates.items()},
    }
    out: dict = {}
    folds = []
    if int(y_test.sum()) < params.fold_defaults and not skip_folds:
        folds = plan_folds(
            summary,
            plan.test,
            params.split,
            horizon_days=params.horizon_days,
            target_defaults=params.fold_defaults,
            max_folds=params.max_folds,
        )
    fold_rows = {"before": [], "after": []}
    if len(folds) >= 2:
        for i, fold in enumerate(folds):
            fp = mt._parts(labelled, fold.plan)
            fev = (
                ev
                if fold.plan == plan
                else mt._evaluate(fp, kept, categories, categorical, params, record=False)
            )
            base = {
                "fold": i,
                "debtor_id": fp["test"]["debtor_id"].to_numpy(),
                "as_of": fp["test"]["as_of"].to_numpy(),
                "y": fev.y["test"],
            }
            fold_rows["before"].append(
                pd.DataFrame(base | {f"pd_{k}": c.pd_test for k, c in fev.candidates.items()})
            )
            fold_rows["after"].append(
                pd.DataFrame(
                    base
                    | {f"pd_{k}": after_pd(c, fev.y, fp["calibration"]) for k, c in fev.candidates.items()}
                )
            )
    for when in ("before", "after"):
        if fold_rows[when]:
            rows = pd.concat(fold_rows[when], ignore_index=True)
            kind, _, ci, point = _fold_rule(rows, n_boot=params.bootstrap_samples, seed=params.seed)
            where = f"{len(folds)} folds"
        else:
            kind, ci, point = _kind_rule(y_test, pds[when]["lightgbm"], pds[when]["scorecard"], debt, params)
            where = "test window" + (
                " (folds skipped)" if skip_folds and int(y_test.sum()) < params.fold_defaults else ""
            )
        p = pds[when][kind]
        metrics = classification_metrics(y_test, p)
        tol = mt._chance_ece(p, parts["test"], params)
        gate = gate_decision(
            metrics,
            thresholds,
            ece_tolerance=tol,
            kind=kind,
            vs_baseline=(dict(ci), dict(point)) if kind == "lightgbm" else None,
            champion_note="no champion compared (study)",
        )
        fails = [r for r in gate.reasons if r.startswith("FAIL ")]
        out[when] = {
            "kind": kind,
            "kind_on": where,
            "gate_passed": bool(gate.passed),
            "fails": fails,
            "ece": metrics["ece"],
            "ece_limit": tol + thresholds.ece_margin,
            "level": float(p.mean() / y_test.mean()),
            "logloss": metrics["logloss"],
            "brier": metrics["brier"],
            "lgbm_minus_scorecard_logloss": [float(point["logloss"]), *map(float, ci["logloss"])],
        }
    out["pds"] = {
        f"{w}_{k}": v
        for w in ("before", "after")
        for k, v in [*pds[w].items(), ("published", pds[w][out[w]["kind"]])]
    }
    # the gate's ECE check of either kind, before / after; a refusal only after: the debtor-path chance
    checks = {}
    for kind in pds["before"]:
        c = {}
        for w in ("before", "after"):
            p = pds[w][kind]
            ece = classification_metrics(y_test, p)["ece"]
            limit = mt._chance_ece(p, parts["test"], params) + thresholds.ece_margin
            c[w] = {"ece": ece, "limit": limit, "ok": bool(ece <= limit)}
        if c["before"]["ok"] and not c["after"]["ok"]:
            chance = ece_noise(
                pds["after"][kind],
                seed=params.seed,
                debtors=debt,
                as_of=parts["test"]["as_of"].to_numpy(),
                horizon_months=max(1, round(params.horizon_days / 30)),
                quantile=DEBTOR_PATHS_QUANTILE,
            )
            c["debtor_path_chance_99"] = chance
            c["real_level_error"] = bool(c["after"]["ece"] > chance)
        checks[kind] = c
    out["ece_checks"] = checks
    return out


def debtor_boot(y, pds: dict[str, np.ndarray], debtors, n_boot: int, seed: int) -> dict:
    """Level intervals per variant and paired log-loss / Brier intervals against ``window``."""
    codes, inv = np.unique(debtors, return_inverse=True)
    n = codes.size
    cnt = np.bincount(inv, minlength=n).astype(float)
    sy = np.bincount(inv, weights=y, minlength=n)
    agg = {}
    for k, p in pds.items():
        q = np.clip(p, _EPS, 1 - _EPS)
        ll = -(y * np.log(q) + (1 - y) * np.log(1 - q))
        agg[k] = (
            np.bincount(inv, weights=p, minlength=n),
            np.bincount(inv, weights=ll, minlength=n),
            np.bincount(inv, weights=(p - y) ** 2, minlength=n),
        )
    rng = np.random.default_rng(seed)
    W = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)]).astype(float)
    rows, defs = W @ cnt, W @ sy
    out = {}
    base_ll, base_br = W @ agg["window"][1] / rows, W @ agg["window"][2] / rows
    for k, (sp, sl, sb) in agg.items():
        lev = (W @ sp) / np.maximum(defs, 1e-9)
        r = {"level_ci": [float(np.quantile(lev, 0.025)), float(np.quantile(lev, 0.975))]}
        if k != "window":
            dl, db = W @ sl / rows - base_ll, W @ sb / rows - base_br
            r["d_logloss"] = float((sl.sum() - agg["window"][1].sum()) / cnt.sum())
            r["d_logloss_ci"] = [float(np.quantile(dl, 0.025)), float(np.quantile(dl, 0.975))]
            r["d_brier"] = float((sb.sum() - agg["window"][2].sum()) / cnt.sum())
            r["d_brier_ci"] = [float(np.quantile(db, 0.025)), float(np.quantile(db, 0.975))]
        out[k] = r
    return out


def study(spec: str, args, cfg, params) -> dict:
    t0 = time.perf_counter()
    _, cut, past, _ = book_at_cut(spec, args.work, cfg, args.forward)
    res: dict = {"book": spec, "cut": str(cut.date())}
    try:
        summary, plan, labelled, parts = _split(past, params)
    except BookTooSmallError as e:
        return res | {"refused": str(e).splitlines()[0][:300]}
    kept, _, categorical, categories = mt.feature_set(past, labelled, params)
    ev = mt._evaluate(parts, kept, categories, categorical, params, record=False)
    fit_y = np.concatenate([ev.y["train"], ev.y["validation"]])
    train_rate = float(fit_y.mean())
    y_cal, y_test = ev.y["calibration"], ev.y["test"]
    g_cal = parts["calibration"]["debtor_id"].astype(str).to_numpy()
    debt_test = parts["test"]["debtor_id"].astype(str).to_numpy()
    res |= {
        "calibration_window": window_counts(parts["calibration"]),
        "test_window": window_counts(parts["test"]),
        "train_rate": train_rate,
        "kind_on_folds": int(y_test.sum()) < params.fold_defaults,
    }
    pooled_ev = {}
    if args.pool:
        k = pooled_snapshots(labelled, plan, args.pool)
        res["pool_snapshots"] = k
        if k > len(plan.calibration):
            plan2 = pooled_plan(summary, plan, k, params.split.min_defaults)
            if plan2 is None:
                res["pool_refused"] = "the training or validation window would hold too few defaults"
            else:
                parts2 = mt._parts(labelled, plan2)
                pooled_ev["ev"] = mt._evaluate(parts2, kept, categories, categorical, params, record=False)
                pooled_ev["cal"] = window_counts(parts2["calibration"])
    clip = (params.pd_floor, params.pd_ceiling)
    kinds = {}
    all_pds: dict[str, dict[str, np.ndarray]] = {}
    val_rate = float(ev.y["validation"].mean())
    res["validation_rate"] = val_rate
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            args.dump / f"{spec.replace(':', '_')}.npz",
            y_train=ev.y["train"],
            y_validation=ev.y["validation"],
            y_cal=y_cal,
            y_test=y_test,
            g_cal=g_cal,
            g_test=debt_test,
            t_cal=parts["calibration"]["as_of"].to_numpy(),
            t_test=parts["test"]["as_of"].to_numpy(),
            **{f"s_cal_{k}": c.s_cal for k, c in ev.candidates.items()},
            **{f"s_test_{k}": c.s_test for k, c in ev.candidates.items()},
            **{f"method_{k}": np.array(c.choice.method) for k, c in ev.candidates.items()},
        )
    for kind, cand in ev.candidates.items():
        pds = {"window": np.clip(cand.calibrator.predict(cand.s_test), *clip)}
        shifts = {}
        raw_rate = float(expit(cand.s_cal).mean())
        for w in args.weights:
            for name, prior in (("rate", train_rate), ("raw", raw_rate), ("val", val_rate)):
                c, info = shrink_level(cand.calibrator, cand.s_cal, y_cal, g_cal, prior, w)
                pds[f"{name}{w:g}"] = np.clip(c.predict(cand.s_test), *clip)
                shifts[f"{name}{w:g}"] = info
        if pooled_ev:
            c2 = pooled_ev["ev"].candidates[kind]
            pds[f"pool{args.pool}"] = c2.pd_test
            shifts[f"pool{args.pool}"] = {"method": c2.choice.method, "calibration": pooled_ev["cal"]}
        boot = debtor_boot(y_test.astype(float), pds, debt_test, args.n_boot, params.seed)
        rate = float(y_test.mean())
        var = {}
        for name, p in pds.items():
            m = classification_metrics(y_test, p)
            tol = ece_noise(p, seed=params.seed) + cfg.gate.ece_margin
            var[name] = {
                "level": float(p.mean() / rate),
                "logloss": m["logloss"],
                "brier": m["brier"],
                "ece": m["ece"],
                "ece_limit": tol,
                "ece_ok": bool(m["ece"] <= tol),
                **boot[name],
                **({"shift": shifts[name]} if name in shifts else {}),
            }
        kinds[kind] = {"method": cand.choice.method, "raw_level": float(expit(cand.s_test).mean() / rate)}
        kinds[kind]["variants"] = var
        all_pds[kind] = pds
    res["kinds"] = kinds
    # the main-split kind rule per variant (the real training uses folds when kind_on_folds)
    choice = {}
    for name in all_pds["lightgbm"]:
        pl, ps = all_pds["lightgbm"][name], all_pds["scorecard"][name]
        choice[name] = _kind_rule(y_test, pl, ps, debt_test, params)[0]
    res["test_window_kind"] = choice
    if args.candidate:
        cand = dataclasses.replace(params, calibration_window_prior=args.candidate)
        feats = (kept, categories, categorical)
        res["decisions"] = decisions(
            summary, plan, labelled, parts, ev, feats, params, cand, cfg.gate.to_params(), args.no_folds
        )
        pds = res["decisions"].pop("pds")
        if args.dump:
            np.savez_compressed(
                args.dump / f"{spec.replace(':', '_')}_decide.npz", y=y_test, debtors=debt_test, **pds
            )
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def pooled_summary(results: list[dict], dump: Path, n_boot: int, seed: int) -> dict:
    """The pre-registered figures over the trained books (``--candidate`` runs), for each kind's
    window PD (``lightgbm``, ``scorecard``) and the published one (the kind rule's challenger, before
    and after): per book the paired debtor-bootstrap intervals of the test-window log-loss and Brier,
    after - before; pooled over every book's rows (debtors resampled within each book, the same draws
    for before and after); the mean over books of ``|log(mean PD / realised)|``; and the kind and gate
    verdicts before / after."""
    out: dict = {}
    done = [r for r in results if "decisions" in r]
    if not done:
        return out
    for which in ("lightgbm", "scorecard", "published"):
        rng = np.random.default_rng(seed)
        books, tot = [], None
        for r in done:
            d = np.load(dump / f"{r['book'].replace(':', '_')}_decide.npz", allow_pickle=True)
            y = d["y"].astype(float)
            _, inv = np.unique(d["debtors"], return_inverse=True)
            n = inv.max() + 1
            cnt = np.bincount(inv, minlength=n).astype(float)
            sums, level = {}, {}
            for w in ("before", "after"):
                p = d[f"{w}_{which}"]
                q = np.clip(p, _EPS, 1 - _EPS)
                ll = -(y * np.log(q) + (1 - y) * np.log(1 - q))
                sums[f"ll_{w}"] = np.bincount(inv, weights=ll, minlength=n)
                sums[f"br_{w}"] = np.bincount(inv, weights=(p - y) ** 2, minlength=n)
                level[w] = float(p.mean() / y.mean())
            W = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)]).astype(
                float
            )
            rows = W @ cnt
            dll = W @ (sums["ll_after"] - sums["ll_before"])
            dbr = W @ (sums["br_after"] - sums["br_before"])
            b = {
                "book": r["book"],
                "d_logloss": float((sums["ll_after"] - sums["ll_before"]).sum() / cnt.sum()),
                "d_logloss_ci": [float(np.quantile(dll / rows, q)) for q in (0.025, 0.975)],
                "d_brier": float((sums["br_after"] - sums["br_before"]).sum() / cnt.sum()),
                "d_brier_ci": [float(np.quantile(dbr / rows, q)) for q in (0.025, 0.975)],
                "level": level,
            }
            b["worse"] = b["d_logloss_ci"][0] > 0 or b["d_brier_ci"][0] > 0
            books.append(b)
            part = np.stack([rows, dll, dbr])
            tot = part if tot is None else tot + part
        out[which] = {
            "books": books,
            "pooled_d_logloss": float(np.mean(tot[1] / tot[0])),
            "pooled_d_logloss_ci": [float(np.quantile(tot[1] / tot[0], q)) for q in (0.025, 0.975)],
            "pooled_d_brier_ci": [float(np.quantile(tot[2] / tot[0], q)) for q in (0.025, 0.975)],
            "mean_abs_log_level": {
                w: float(np.mean([abs(np.log(b["level"][w])) for b in books])) for w in ("before", "after")
            },
            "books_significantly_worse": [b["book"] for b in books if b["worse"]],
        }
    dec = {r["book"]: r["decisions"] for r in done}
    out["kind_changed"] = [k for k, d in dec.items() if d["before"]["kind"] != d["after"]["kind"]]
    out["gate"] = {k: [d["before"]["gate_passed"], d["after"]["gate_passed"]] for k, d in dec.items()}
    return out


def show(r: dict) -> None:
    if "refused" in r:
        print(f"== {r['book']}: refused ({r['refused'][:120]})", flush=True)
        return
    c, t = r["calibration_window"], r["test_window"]
    print(
        f"== {r['book']} cut {r['cut']} ({r['seconds']} s): cal {c['snapshots']} snaps {c['defaults']} def "
        f"{c['defaulting_debtors']} debtors rate {c['rate']:.4f}; test {t['snapshots']} snaps {t['defaults']} def "
        f"{t['defaulting_debtors']} debtors rate {t['rate']:.4f}; train rate {r['train_rate']:.4f}; "
        f"kind {'on folds' if r['kind_on_folds'] else 'on the test window'}; pool snaps {r.get('pool_snapshots')}"
        f" {r.get('pool_refused', '')}",
        flush=True,
    )
    print("   main-split kind per variant: " + json.dumps(r["test_window_kind"]))
    for when, d in r.get("decisions", {}).items():
        print(f"   {when}: " + json.dumps(d))
    for kind, k in r["kinds"].items():
        print(f"   {kind}: window method {k['method']}, raw level {k['raw_level']:.3f}")
        for name, v in k["variants"].items():
            lo, hi = v["level_ci"]
            d = (
                f" dLL {v['d_logloss']:+.5f} [{v['d_logloss_ci'][0]:+.5f},{v['d_logloss_ci'][1]:+.5f}]"
                f" dBr {v['d_brier']:+.6f} [{v['d_brier_ci'][0]:+.6f},{v['d_brier_ci'][1]:+.6f}]"
                if "d_logloss" in v
                else ""
            )
            sh = v.get("shift", {}).get("shift")
            print(
                f"     {name:9s} level {v['level']:.3f} [{lo:.3f},{hi:.3f}] LL {v['logloss']:.5f} "
                f"Br {v['brier']:.6f} ECE {v['ece']:.5f} {'ok' if v['ece_ok'] else 'FAIL'} "
                f"(<= {v['ece_limit']:.5f}){d}" + ("" if sh is None else f" shift {sh:+.3f}"),
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="calib_thin.py specs, comma-separated")
    ap.add_argument("--work", type=Path, default=Path("/work/bench/s30-calib"), help="books are cached here")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--weights", default="25,50,100", help="prior weights in defaulting debtors")
    ap.add_argument(
        "--pool", type=int, default=0, help="also pool the window to this many defaulting debtors"
    )
    ap.add_argument(
        "--candidate",
        type=float,
        default=0.0,
        help="calibration.window_prior of the candidate: the kind and gate decisions before / after",
    )
    ap.add_argument(
        "--no-folds", action="store_true", help="with --candidate: the kind by the main-split rule only"
    )
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dump", type=Path, default=None, help="write each book's window scores here (npz)")
    args = ap.parse_args()
    args.weights = [float(w) for w in args.weights.split(",") if w]
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.to_params()
    results = []
    for spec in args.books.split(","):
        r = study(spec, args, cfg, params)
        show(r)
        results.append(r)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.candidate and args.dump:
        summary = pooled_summary(results, args.dump, args.n_boot, params.seed)
        print("== summary " + json.dumps(summary), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"books": results, "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
