"""Honest retrains that may be worse going forward, against the gate (issue 9 part 4, s43-gate).

``benchmarks/retrain_gate.py`` judges a small book's T1 / T3 retrains and two deliberately worse
challengers (``short``: the last 10 month-ends; ``mix``: damaged inputs). This adds the retrains a data
scientist makes by accident, on the true inputs, each with one config change at the c3 cut, against the
champion that T1's gate left (the one T3 / short / mix face):

- ``rr``: ``rollrate.all_labelled: false`` (the roll-rate model replaces a small book's all-labelled
  LightGBM);
- ``md10``: ``split.min_defaults: 10`` (the LightGBM / scorecard protocol forced on a small book);
- ``leaves``: ``lightgbm.num_leaves: 3, max_depth: 2, min_child_samples: 300`` (fewer leaves);
- ``plain``: ``rollrate.within_state: [], silent: false`` (a simpler roll-rate model);
- ``T6``: the shipped config at c6 = c3 + 3 month-ends (a retrain 5-6 months after that champion; its
  forward figures read the observed month-ends after c6: 3, not 6).

Phase 1 (``--fit``) pickles the fits next to retrain_gate.py's (``--work``/outcomes/BOOK/NAME.pkl); phase 2
(default) judges the pickles only: the train flow's own ``champion_on_test`` and ``gate`` (retrain_gate's
``product_gate``), then the challenger - champion forward figures and verdict, one JSON list like
retrain_gate.py's (each step also records ``held_max_abs_diff``: the largest difference between the two
models' out-of-time PDs on the rows both held out).

    nice -n 10 .venv/bin/python benchmarks/retrain_honest.py --fit --work /work/bench/s43-gate/books \\
        --books unseen:small:325 gen:stress:300:36:3583
    nice -n 10 .venv/bin/python benchmarks/retrain_honest.py --work /work/bench/s43-gate/books \\
        --books unseen:small:325 gen:stress:300:36:3583 --json out.json
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import retrain_gate as rg

from pipelines.config import load_config
from pipelines.config.train import TrainConfig

EXTRAS = ("rr", "md10", "leaves", "plain")
LATER = ("T6",)


def variant(cfg: TrainConfig, name: str) -> TrainConfig:
    """``cfg`` with challenger ``name``'s one config change (T6: none)."""
    d = cfg.model_dump()
    if name == "rr":
        d["rollrate"] = {**d["rollrate"], "all_labelled": False}
    elif name == "md10":
        d["split"] = {**d["split"], "min_defaults": 10}
    elif name == "leaves":
        d["lightgbm"] = {**d["lightgbm"], "num_leaves": 3, "max_depth": 2, "min_child_samples": 300}
    elif name == "plain":
        d["rollrate"] = {**d["rollrate"], "within_state": [], "silent": False}
    return TrainConfig.model_validate(d)


def fit_extras(spec: str, frame: pd.DataFrame, work: Path, cfg: TrainConfig, replay: bool) -> dict[str, Any]:
    """The extra challengers' outcomes, pickled under ``work``/outcomes (reused when present; on
    ``replay`` a missing one is left out) and ``c6``."""
    from models.split import BookTooSmallError
    from pipelines.flows.train import fit_pd

    observed = sorted(
        pd.Timestamp(t) for t in frame.loc[frame["horizon_observed"].astype(bool), "as_of"].unique()
    )
    c3 = observed[-6 - 1]
    ends = sorted(pd.Timestamp(t) for t in frame["as_of"].unique())
    c6 = ends[ends.index(c3) + 3]
    where = work / "outcomes" / spec.replace(":", "-")
    where.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"c6": c6}
    for name in (*EXTRAS, *LATER):
        path = where / f"{name}.pkl"
        if path.exists():
            out[name] = pickle.loads(path.read_bytes())
            continue
        if replay:
            continue
        try:
            cut = c6 if name == "T6" else c3
            o: Any = fit_pd(
                rg.as_of_cut(frame, cut, rg.HORIZON),
                variant(cfg, name),
                rg.HORIZON,
                rg.PROJECT.default_definition,
            )
        except BookTooSmallError as exc:
            o = {"refused": str(exc)[:300]}
        path.write_bytes(pickle.dumps(o))
        out[name] = o
    return out


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    """retrain_gate.run_book with the extra challengers (same steps and figures, more names)."""
    t0 = time.process_time()
    frame = rg.load_frame(spec, args.work, cfg)
    fitted = rg.fit_all(spec, frame, args, cfg)
    extra = fit_extras(spec, frame, args.work, cfg, True)
    c6 = extra.pop("c6")
    fitted.update(extra)
    cuts, observed = dict(fitted["cuts"]), fitted["observed"]
    for n in EXTRAS:
        cuts[n] = cuts["T3"]
    cuts["T6"] = c6
    labelled = frame[frame["label"].notna() & frame["horizon_observed"].astype(bool)]
    r: dict[str, Any] = {"book": spec, "cuts": {k: str(v.date()) for k, v in cuts.items()}, "steps": []}
    champion: tuple[str, Any] | None = None
    swap = rg.mixed(frame, 0.5, 11).set_index(rg.KEYS)

    def swapped(rows: pd.DataFrame) -> pd.DataFrame:
        return swap.loc[pd.MultiIndex.from_frame(rows[rg.KEYS])].reset_index()

    def step(name: str) -> Any:
        cut, outcome = cuts[name], fitted[name]
        s: dict[str, Any] = {
            "step": name,
            "cut": str(cut.date()),
            "champion_before": champion[0] if champion else None,
        }
        if isinstance(outcome, dict):
            s.update(outcome)
            r["steps"].append(s)
            return None
        s["kind"] = rg.describe(outcome)
        s["train_last_as_of"] = str(pd.Timestamp(outcome.train_last_as_of).date())
        s["test"] = {
            "rows": int(len(outcome.test)),
            "defaults": int(outcome.test["y"].sum()),
            "month_ends": sorted({f"{pd.Timestamp(d).date()}" for d in outcome.test["as_of"].unique()}),
        }
        s["metrics"] = {
            k: float(outcome.metrics[k]) for k in ("auc", "brier", "logloss", "ece") if k in outcome.metrics
        }
        champ = None if champion is None else rg.InMemory(champion[1], champion[0])
        decision, on_test, compared = rg.product_gate(
            outcome, rg.as_of_cut(frame, cut, rg.HORIZON), champ, cfg, name
        )
        s["promoted"] = bool(decision.passed)
        s["summary"] = decision.summary
        s["reasons"] = list(decision.reasons)
        s["champion_compared"] = compared
        s["champion_note"] = on_test.note
        held = getattr(on_test, "held_pd", None)
        if held is not None:
            both = np.isfinite(held)
            diff = np.abs(outcome.test["pd"].to_numpy()[both] - held[both])
            s["held_max_abs_diff"] = float(diff.max()) if both.any() else None
        if champion is not None:
            ahead = [t for t in observed if t > cut][: args.forward]
            rows = labelled[labelled["as_of"].isin(ahead)]
            y = rows["label"].astype("int64").to_numpy()
            mine = swapped(rows) if name == "mix" else rows
            fw = rg.forward(
                y,
                rg.predict(outcome, mine),
                rg.predict(champion[1], rows),
                rows["debtor_id"].to_numpy(),
                args.boot,
                7,
            )
            fw["month_ends"] = f"{ahead[0].date()}..{ahead[-1].date()}"
            s["forward"] = fw
            s["forward_verdict"] = rg.verdict(fw)
        r["steps"].append(s)
        return outcome

    first = step("T0")
    if first is not None:
        champion = ("T0", first)  # the first model: taken as champion whatever the gate said
        t1 = step("T1")
        if t1 is not None and r["steps"][-1]["promoted"]:
            champion = ("T1", t1)
        for name in ("T3", "short", "mix", *EXTRAS, *LATER):
            if name in fitted:
                step(name)
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--books", nargs="+", default=[])
    ap.add_argument("--forward", type=int, default=6, help="observed month-ends after each cut to score")
    ap.add_argument("--short", type=int, default=10, help="month-ends of the 'short' challenger")
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--fit", action="store_true", help="phase 1: fit and pickle (no gate, no forward figure)")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    if args.fit:
        args.replay = False
        for spec in args.books:
            t = time.time()
            frame = rg.load_frame(spec, args.work, cfg)
            rg.fit_all(spec, frame, args, cfg)
            fit_extras(spec, frame, args.work, cfg, False)
            print(spec, "fitted", round(time.time() - t), "s", flush=True)
        return
    args.replay = True
    out = []
    for spec in args.books:
        try:
            r = run_book(spec, args, cfg)
        except Exception as exc:  # noqa: BLE001 - one book's failure must not lose the others'
            import traceback

            traceback.print_exc()
            r = {"book": spec, "error": f"{type(exc).__name__}: {exc}"[:500], "steps": []}
        out.append(r)
        for s in r["steps"]:
            fw = s.get("forward")
            line = f"{spec} {s['step']} {s.get('kind', 'refused')} promoted={s.get('promoted')}"
            if fw:
                lo, hi = fw["logloss"]["diff_ci"]
                line += (
                    f" fwd dLL {fw['logloss']['diff']:+.4f} [{lo:+.4f}, {hi:+.4f}] -> {s['forward_verdict']}"
                )
            print(line, flush=True)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps({"books": len(out)}))


if __name__ == "__main__":
    main()
