"""Two trainings of each book forward, as ``ews train`` makes them: shipped ``conf/train.yaml`` vs one
changed setting (s31-third; issue 9 part 1).

Forward protocol of ``benchmarks/regimes.py``: the cut is ``--forward`` observed month-ends before the
last; each book is trained on what a user had at the cut (labels whose horizon ends after it masked)
by ``pipelines.flows.train.fit_pd`` (what ``ews train`` fits: the LightGBM / scorecard protocol, or on a
book that cannot fill its windows the small book's model), once with ``conf/train.yaml`` (``base``) and
once with ``--set SECTION.KEY=VALUE`` applied (``cand``; the value is read as YAML, e.g.
``lightgbm.min_child_samples=400`` or ``features.exclude=[tenure_days]``). The shipped model's PD
scores the forward month-ends (labels it never saw). Per book and pooled over the books (debtors
resampled, a debtor of each book its own group): ``cand - base`` AUC, log-loss, Brier, capture@5 %,
with paired ``--n-boot``-draw debtor-bootstrap 95 % intervals, and both trainings' kind and tree count.

Books: ``gen:REGIME:DEBTORSxMONTHS:SEED`` (``ews generate``'s regimes), ``unseen:VARIANT:SEED[:NxM]``
(``benchmarks/unseen_book.py``) or ``third:DEBTORSxMONTHS:SEED`` (``benchmarks/third_book.py``), cached
under ``--work/books``.

    nice -n 10 .venv/bin/python benchmarks/model_decide.py --books third:2000x36:5,gen:base:2000x36:307 \\
        --set lightgbm.min_child_samples=400 --work /work/bench/s31-third --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import third_book  # noqa: E402
from calib_thin import book_path  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from features.statements import with_statement_dpd  # noqa: E402
from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import fit_pd  # noqa: E402

MET = ("auc", "logloss", "brier", "capture_5pct")


def data_dir(spec: str, work: Path) -> Path:
    parts = spec.split(":")
    if parts[0] != "third":
        return book_path(spec, work)
    debtors, months = (int(v) for v in parts[1].split("x"))
    out = work / "books" / f"third-{debtors}x{months}-s{parts[2]}"
    if not (out / "generate-summary.json").exists():
        third_book.write_book(debtors, months, int(parts[2]), out)
    return out


def changed(cfg: TrainConfig, sets: list[str]) -> TrainConfig:
    """``cfg`` with each ``SECTION.KEY=VALUE`` applied (validated by the config's own model)."""
    for kv in sets:
        key, value = kv.split("=", 1)
        section, name = key.split(".", 1)
        part = getattr(cfg, section)
        cfg = cfg.model_copy(
            update={section: part.model_validate(part.model_dump() | {name: yaml.safe_load(value)})}
        )
    return cfg


def shipped_pd(outcome, fwd: pd.DataFrame) -> np.ndarray:
    """The shipped model's PD per forward row: the LightGBM / scorecard pipeline, or the roll-rate
    model on the frame with the statements' DPD, as the nightly scores it (``pipelines.scoring.score``)."""
    if hasattr(outcome, "final_estimator"):
        return np.asarray(outcome.final_estimator.predict_proba(fwd)[:, 1], dtype="float64")
    return np.asarray(outcome.model.predict_proba(with_statement_dpd(fwd))[:, 1], dtype="float64")


def compare(y: np.ndarray, groups: np.ndarray, pds: dict[str, np.ndarray], n_boot: int) -> dict:
    ci = bootstrap_intervals(y, pds, groups, pairs=[("cand", "base")], n_boot=n_boot)
    out: dict = {"rows": len(y), "defaults": int(y.sum()), "debtors": int(pd.unique(groups).size)}
    for name, p in pds.items():
        m = classification_metrics(y, p)
        out[name] = {k: float(m[k]) for k in MET} | {
            "level": float(m["mean_pd"] / max(m["default_rate"], 1e-12))
        }
    out["diff"] = {k: {"point": out["cand"][k] - out["base"][k], "ci": list(ci["cand-base"][k])} for k in MET}
    return out


def show(name: str, r: dict) -> None:
    b, c, d = r["base"], r["cand"], r["diff"]
    print(
        f"   {name}: {r['rows']} rows, {r['defaults']} defaults | base AUC {b['auc']:.4f} LL {b['logloss']:.5f} "
        f"cap {b['capture_5pct']:.3f} level {b['level']:.3f} | cand AUC {c['auc']:.4f} LL {c['logloss']:.5f} "
        f"cap {c['capture_5pct']:.3f} level {c['level']:.3f}",
        flush=True,
    )
    print("     cand - base " + "; ".join(
        f"{k} {d[k]['point']:+.5f} [{d[k]['ci'][0]:+.5f}, {d[k]['ci'][1]:+.5f}]" for k in MET), flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated book specs")
    ap.add_argument("--set", action="append", default=[], help="SECTION.KEY=VALUE of the candidate")
    ap.add_argument("--work", type=Path, default=Path("/tmp/model-decide"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--scores", type=Path, default=None, help="write each book's forward rows and both PDs here"
    )
    ap.add_argument(
        "--pool", type=Path, default=None, help="only pool the books written to this --scores folder"
    )
    args = ap.parse_args()
    if args.pool:
        parts = [pd.read_parquet(f) for f in sorted(args.pool.glob("*.parquet"))]
        rows = pd.concat(parts, ignore_index=True)
        print(f"== pooled: {len(parts)} books")
        pool = compare(
            rows["y"].to_numpy(),
            rows["g"].to_numpy(),
            {k: rows[k].to_numpy() for k in ("base", "cand")},
            args.n_boot,
        )
        show("pooled", pool)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"books": [f.stem for f in sorted(args.pool.glob("*.parquet"))], "pooled": pool}, indent=1
                )
                + "\n"
            )
        return
    cfg = load_config(args.config, expect=TrainConfig)
    cfgs = {"base": cfg, "cand": changed(cfg, args.set)}
    definition = ProjectConfig().default_definition
    print(f"candidate: {args.set}", flush=True)
    results, pooled = [], {"y": [], "g": [], "base": [], "cand": []}
    for spec in args.books.split(","):
        t0 = time.perf_counter()
        _, frame = regimes.modelling_frame(data_dir(spec, args.work), cfg)
        frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
        observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
        cut = pd.Timestamp(observed[-args.forward - 1])
        past = as_of_cut(frame, cut, definition.horizon_days)
        fwd = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
        y = fwd["label"].astype(int).to_numpy()
        groups = (spec + "|" + fwd["debtor_id"]).to_numpy()
        r: dict = {"book": spec, "cut": str(cut.date())}
        pds = {}
        for name, c in cfgs.items():
            outcome = fit_pd(past, c, definition.horizon_days, definition)
            r[name] = {"kind": outcome.kind, "trees": getattr(outcome, "best_iteration", None)}
            pds[name] = shipped_pd(outcome, fwd)
        r["forward"] = compare(y, groups, pds, args.n_boot)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"== {spec} cut {r['cut']}: base {r['base']} cand {r['cand']}; {r['seconds']} s", flush=True)
        show(spec, r["forward"])
        results.append(r)
        if args.scores:
            args.scores.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"y": y, "g": groups, **pds}).to_parquet(
                args.scores / f"{spec.replace(':', '_')}.parquet"
            )
        for k, v in (("y", y), ("g", groups), ("base", pds["base"]), ("cand", pds["cand"])):
            pooled[k].append(v)
        if args.json:
            args.json.write_text(
                json.dumps({"set": args.set, "books": results}, indent=1, default=str) + "\n"
            )
    pool = compare(
        np.concatenate(pooled["y"]),
        np.concatenate(pooled["g"]),
        {k: np.concatenate(pooled[k]) for k in ("base", "cand")},
        args.n_boot,
    )
    print("== pooled")
    show("pooled", pool)
    if args.json:
        args.json.write_text(
            json.dumps({"set": args.set, "books": results, "pooled": pool}, indent=1, default=str) + "\n"
        )


if __name__ == "__main__":
    main()
