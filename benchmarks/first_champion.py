"""Does the first ``ews train`` of a book give a champion, which kind, and how does it do forward?

For each regime x seed x size x history (books of ``benchmarks/regimes.py``'s generator, cached under
``--work``), a user's first training is replayed on the *cut* (``--forward`` observed month-ends
before the last one; rows up to the cut, labels only where observable then, ``as_of_cut``):
``models.train.train_pd_model`` with the train config (``auto``: the challenger rule), then the
kind it did not pick forced, so that the forward PDs of both kinds' shipped models are at hand.
Both score the labelled rows of the ``--forward`` month-ends after the cut (never seen).

``--dump`` (run it with the code to call "before", e.g. ``PYTHONPATH=<old tree>``) saves, per book,
the evidence the rule saw (pooled fold rows, or the test window), the test-window rows and figures
the gate needs, the forward rows, and the *before* verdict: the gate of ``pipelines.flows.train.gate``
as it was up to session 11 (kind vs the scorecard on the test window alone; no champion).
Without ``--dump`` it judges the saved evidence with the code it runs with (the "after" rule and
gate; :func:`judge`), and prints one Markdown row per book. Books too small for the LightGBM protocol
go to the roll-rate model (whose first model already promotes with a WARN) and are listed as such.

    nice python benchmarks/first_champion.py --dump --work /tmp/fc/books --rows /tmp/fc/rows \
        --regimes base,stress,quiet,contagion --seeds 1 --debtors 1000,3000,10000 --months 18,36
    nice python benchmarks/first_champion.py --work /tmp/fc/books --rows /tmp/fc/rows ... --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from regimes import HORIZON_DAYS, KEYS, book, modelling_frame  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import (  # noqa: E402
    bootstrap_intervals,
    classification_metrics,
    ece_noise,
    gate_decision,
)
from models.split import BookTooSmallError  # noqa: E402
from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KINDS = ("lightgbm", "scorecard")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _forward(months: int, forward: int | None) -> int:
    return forward if forward is not None else (6 if months >= 30 else 4)


def _paired(y, a, b, groups, n_boot: int, seed: int) -> tuple[dict, dict]:
    """What ``pipelines.flows.train.paired`` computed up to session 11: the test window alone."""
    ci = bootstrap_intervals(y, {"a": a, "b": b}, groups, pairs=[("a", "b")], n_boot=n_boot, seed=seed)["a-b"]
    ma, mb = classification_metrics(y, a), classification_metrics(y, b)
    return ci, {k: ma[k] - mb[k] for k in ("logloss", "auc")}


def dump(
    regime: str, seed: int, debtors: int, months: int, args: argparse.Namespace, cfg: TrainConfig
) -> Path:
    out = args.rows / f"{regime}-{debtors}x{months}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    params = cfg.to_params(HORIZON_DAYS)
    c0 = _cpu()
    data, gen = book(regime, seed, args.work, debtors, months)
    _, frame = modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    cpu_frame = _cpu() - c0
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    fwd_n = _forward(months, args.forward)
    cut = pd.Timestamp(observed[-fwd_n - 1])
    past = as_of_cut(frame, cut, HORIZON_DAYS)
    meta: dict[str, Any] = {
        "regime": regime,
        "seed": seed,
        "book": f"{debtors} x {months}",
        "cut": str(cut.date()),
        "forward_month_ends": fwd_n,
        "cpu_frame_s": round(cpu_frame, 1),
    }
    c0 = _cpu()
    try:
        outcome = train_pd_model(past, params)
    except BookTooSmallError as exc:
        meta |= {"path": "roll-rate", "why": str(exc)[:300]}
        (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
        return out
    meta["cpu_auto_s"] = round(_cpu() - c0, 1)
    other = "scorecard" if outcome.kind == "lightgbm" else "lightgbm"
    c0 = _cpu()
    forced = train_pd_model(past, dataclasses.replace(params, challenger=other))
    meta["cpu_other_s"] = round(_cpu() - c0, 1)
    rows = frame[frame["as_of"].isin(observed[-fwd_n:]) & frame["label"].notna()]
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    fwd = rows[KEYS].merge(truth[[*KEYS, "oracle_pd"]], on=KEYS, how="left")
    fwd["y"] = rows["label"].astype(int).to_numpy()
    fwd[f"pd_{outcome.kind}"] = outcome.final_estimator.predict_proba(rows)[:, 1]
    fwd[f"pd_{other}"] = forced.final_estimator.predict_proba(rows)[:, 1]
    fwd.to_parquet(out / "forward.parquet")
    test = outcome.test.rename(columns={"pd_baseline": "pd_scorecard"})
    test[["debtor_id", "as_of", "y", "pd_lightgbm", "pd_scorecard"]].to_parquet(out / "test_window.parquet")
    if not outcome.fold_rows.empty:
        outcome.fold_rows.to_parquet(out / "folds.parquet")
    # the gate as it was up to session 11, first training (no champion)
    y, groups = test["y"].to_numpy(), test["debtor_id"].astype("string").to_numpy()
    vs_baseline = None
    if outcome.kind == "lightgbm":
        vs_baseline = _paired(
            y,
            test["pd"].to_numpy(),
            test["pd_scorecard"].to_numpy(),
            groups,
            params.bootstrap_samples,
            cfg.seed,
        )
    decision = gate_decision(
        outcome.metrics,
        cfg.gate.to_params(),
        ece_tolerance=outcome.ece_tolerance,
        kind=outcome.kind,
        vs_baseline=vs_baseline,
    )
    windows = outcome.windows.reset_index()
    meta |= {
        "path": "lightgbm/scorecard",
        "kind": outcome.kind,
        "selection": outcome.selection,
        "windows": windows.astype(str).to_dict("records"),
        "test_rows": int(len(test)),
        "test_defaults": int(y.sum()),
        "metrics": {"lightgbm": outcome.lightgbm_metrics, "scorecard": outcome.baseline_metrics},
        "ece_tolerance": {
            outcome.kind: outcome.ece_tolerance,
            other: ece_noise(test[f"pd_{other}"].to_numpy(), seed=params.seed),
        },
        "calibration": {k: c.method for k, c in outcome.calibrations.items()},
        "folds": outcome.folds.astype(str).to_dict("records") if not outcome.folds.empty else [],
        "before": {"kind": outcome.kind, "passed": decision.passed, "reasons": list(decision.reasons)},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    return out


def _fwd(fwd: pd.DataFrame, col: str) -> dict[str, float]:
    m = classification_metrics(fwd["y"].to_numpy(), fwd[col].to_numpy())
    return {k: round(float(m[k]), 4) for k in ("auc", "capture_5pct", "logloss", "ece")}


def judge(path: Path, cfg: TrainConfig) -> dict[str, Any]:
    """The saved book judged by the code this runs with: the challenger rule on the saved evidence
    (:func:`models.challenger.rule_evidence`), then the gate as ``pipelines.flows.train.gate`` calls
    it on a first training (a LightGBM challenger vs the scorecard on that same evidence; no champion)."""
    from models.challenger import rule_evidence  # the session-12 code only

    params = cfg.to_params(HORIZON_DAYS)
    meta = json.loads((path / "meta.json").read_text())
    res = {k: meta[k] for k in ("regime", "seed", "book", "cut", "path")}
    if meta["path"] != "lightgbm/scorecard":
        return res | {"why": meta["why"]}
    window = pd.read_parquet(path / "test_window.parquet")
    folds = pd.read_parquet(path / "folds.parquet") if (path / "folds.parquet").exists() else None
    evidence = rule_evidence(window, folds, n_boot=params.bootstrap_samples, seed=params.seed)
    kind = evidence.kind
    m = meta["metrics"][kind]
    auc_ci = bootstrap_intervals(
        window["y"].to_numpy(),
        {kind: window[f"pd_{kind}"].to_numpy()},
        window["debtor_id"].astype("string").to_numpy(),
        n_boot=params.bootstrap_samples,
        seed=params.seed,
    )[kind]["auc"]
    decision = gate_decision(
        m,
        cfg.gate.to_params(),
        ece_tolerance=meta["ece_tolerance"][kind],
        kind=kind,
        vs_baseline=evidence.versus() if kind == "lightgbm" else None,
        baseline_evidence=evidence.where,
        first_model=True,
        auc_interval=auc_ci,
    )
    fwd = pd.read_parquet(path / "forward.parquet")
    fwd = fwd[fwd["oracle_pd"].notna()]
    figures = {k: _fwd(fwd, f"pd_{k}") for k in KINDS} | {"oracle": _fwd(fwd, "oracle_pd")}
    # s19: the forward ECE against the gate's own limit on those rows (chance ECE of a calibrated
    # model + the margin), and the forward mean PD against the forward default rate
    for k in KINDS:
        figures[k]["ece_limit"] = round(
            ece_noise(fwd[f"pd_{k}"].to_numpy(), seed=params.seed) + cfg.gate.ece_margin, 4
        )
        figures[k]["mean_pd"] = round(float(fwd[f"pd_{k}"].mean()), 5)
    figures["default_rate"] = round(float(fwd["y"].mean()), 5)
    before = meta["before"]
    return res | {
        "test_defaults": meta["test_defaults"],
        "evidence": evidence.where,
        "before": before,
        "after": {
            "kind": kind,
            "passed": decision.passed,
            "reasons": list(decision.reasons),
            "why": evidence.reason,
        },
        "forward_rows": int(len(fwd)),
        "forward_defaults": int(fwd["y"].sum()),
        "forward": figures,
        "cpu": {k: meta.get(k) for k in ("cpu_frame_s", "cpu_auto_s", "cpu_other_s")},
    }


def _fails(reasons: list[str]) -> str:
    out = []
    for r in reasons:
        if r.startswith(("FAIL", "WARN")):
            word = r.split()[0]
            what = (
                "ECE"
                if "test_ece" in r
                else "vs scorecard"
                if "scorecard" in r
                else "AUC"
                if "test_auc" in r
                else r[5:30]
            )
            out.append(f"{word} {what}")
    return ", ".join(out) or "-"


HEADER = (
    "| book | debtors x months | cut | test defaults | before: kind, verdict | after: kind, verdict | forward AUC / "
    "capture@5% of the kind shipped | of the other kind | forward ECE shipped / other | forward defaults |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def row(r: dict[str, Any]) -> str:
    head = f"| {r['regime']} s{r['seed']} | {r['book']} | {r['cut']} |"
    if r["path"] != "lightgbm/scorecard":
        return head + " roll-rate (too few defaults at the cut) | | | | | | |"
    b, a, f = r["before"], r["after"], r["forward"]
    other = "scorecard" if a["kind"] == "lightgbm" else "lightgbm"

    def verdict(d: dict[str, Any]) -> str:
        return f"{d['kind']}: {'champion' if d['passed'] else 'NO champion'} ({_fails(d['reasons'])})"

    return (
        head
        + f" {r['test_defaults']} | {verdict(b)} | {verdict(a)} | {f[a['kind']]['auc']:.4f} / {f[a['kind']]['capture_5pct']:.3f}"
        f" | {f[other]['auc']:.4f} / {f[other]['capture_5pct']:.3f} | {f[a['kind']]['ece']:.4f} / {f[other]['ece']:.4f}"
        f" | {r['forward_defaults']} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regimes", default="base,stress,quiet,contagion")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--debtors", default="1000,3000,10000")
    ap.add_argument("--months", default="18,36")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-first-champion/books"))
    ap.add_argument("--rows", type=Path, default=Path("/tmp/ews-first-champion/rows"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=None, help="default: 6 on >= 30 months, else 4")
    ap.add_argument(
        "--dump", action="store_true", help="train and save the evidence (and the before verdict)"
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for months in (int(m) for m in args.months.split(",")):
            for debtors in (int(d) for d in args.debtors.split(",")):
                for regime in args.regimes.split(","):
                    path = args.rows / f"{regime}-{debtors}x{months}-s{seed}"
                    if args.dump:
                        if (path / "meta.json").exists():
                            continue
                        c0 = _cpu()
                        dump(regime, seed, debtors, months, args, cfg)
                        print(f"{path.name}: {_cpu() - c0:.1f} CPU s", flush=True)
                        continue
                    if not (path / "meta.json").exists():
                        continue
                    if not results:
                        print(HEADER)
                    r = judge(path, cfg)
                    results.append(r)
                    print(row(r), flush=True)
    if args.json and results:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
