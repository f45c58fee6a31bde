"""ews vs the baseline vs the oracle on books of ``benchmarks/unseen_book.py`` (issue 9, part 1).

The forward protocol and variants of ``benchmarks/regimes.py`` (its ``run_regime``: the product's
training on the cut, ``benchmarks/baseline.py``, the simulator's exact PD), on a simulator ews was not
designed around. Adds Brier and ECE per variant and debtor-bootstrap 95 % intervals
(``models.evaluate.bootstrap_intervals``) of AUC / capture@5 % of ews, of the baseline and of the paired
difference ews - baseline. Before the forward test it checks that the label ews computes from the
data equals the simulator's own first default day on every row with an observed horizon.

    nice .venv/bin/python benchmarks/unseen.py --variant small --seed 1 --work /tmp/unseen \
        [--ablations] [--families] [--json out.json] [--kind auto|lightgbm|scorecard] [--both]
        [--tie-folds on|off]

``--kind``, ``--both``, ``--tie-folds``: as ``benchmarks/regimes.py``'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import unseen_book  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.rollrate import RollRateModel, check_book  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402


def book(variant: str, seed: int, work: Path, debtors, months):
    v = unseen_book.VARIANTS[variant]
    out = work / f"unseen-{variant}-{v.debtors}x{v.months}-s{seed}"
    if not (out / "generate-summary.json").exists():
        unseen_book.write_book(variant, seed, out)
    return out, SimpleNamespace(debtors=v.debtors, months=v.months)


def check_labels(data: Path, cfg: TrainConfig) -> dict[str, int]:
    """ews's label (from the data) against the simulator's first default day, observed rows only."""
    _, frame = regimes.modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(data / "truth.parquet")
    truth = truth.assign(as_of=pd.to_datetime(truth["month_end"]), debtor_id=truth["debtor_id"].astype(str))
    rows = frame[frame["horizon_observed"] & frame["label"].notna()].merge(
        truth[["debtor_id", "as_of", "default_day"]], on=["debtor_id", "as_of"], how="left", indicator=True
    )
    d = rows["default_day"]
    sim = (d.notna() & (d > rows["as_of"]) & (d <= rows["as_of"] + pd.Timedelta(days=90))).astype(int)
    ews = rows["label"].astype(int)
    return {
        "rows": len(rows),
        "no_truth_row": int((rows["_merge"] != "both").sum()),
        "ews_1": int(ews.sum()),
        "sim_1": int(sim.sum()),
        "disagree": int((ews != sim).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(unseen_book.VARIANTS), default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/unseen"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--families", action="store_true")
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--scores", type=Path, default=None, help="write the forward rows' scores (parquet)")
    regimes.add_kind_args(ap)
    args = ap.parse_args()
    args.debtors = args.months = None
    cfg = load_config(args.config, expect=TrainConfig)
    params = regimes.kind_params(cfg.to_params(), args)
    regimes.book = book  # the unseen simulator instead of pipelines.synthetic
    data, _ = book(args.variant, args.seed, args.work, None, None)
    labels = check_labels(data, cfg)
    print("labels:", labels, flush=True)
    captured: dict = {}
    orig = regimes.forward_test

    def keep(*a, **k):
        out = orig(*a, **k)
        captured["test"], captured["scores"] = out[0], out[1]
        return out

    regimes.forward_test = keep
    shipped_train = regimes.train_pd_model

    def train_or_rollrate(past, params):
        """What ``ews train`` does: LightGBM/scorecard, else the roll-rate model when the out-of-time
        windows cannot be filled (README, "small books")."""
        try:
            return shipped_train(past, params)
        except ValueError as exc:
            r_params = cfg.rollrate.to_params(ProjectConfig().default_definition, cfg)
            check_book(past, r_params)
            print(f"LightGBM/scorecard refused ({str(exc)[:90]}...): the roll-rate model", flush=True)
            model = RollRateModel(r_params).fit(past)
            none = SimpleNamespace(method="rollrate")
            return SimpleNamespace(
                kind="rollrate",
                final_estimator=model,
                selection="refused: " + str(exc)[:200],
                folds=[],
                best_iteration=None,
                calibration=none,
                feature_names=[],
                categories={},
            )

    regimes.train_pd_model = train_or_rollrate
    r = regimes.run_regime(args.variant, args, cfg, params)
    r["labels"] = labels
    r["seed"] = args.seed
    if "error" in r:
        print("training failed:", r["error"])
    else:
        test, scores = captured["test"], captured["scores"]
        y = test["y"].to_numpy()
        ok = ~np.isnan(scores["oracle"])
        for name, p in scores.items():
            m = classification_metrics(y[ok], p[ok])
            r["metrics"][name].update(
                {"brier": round(m["brier"], 5), "ece": round(m["ece"], 5), "mean_pd": round(m["mean_pd"], 5)}
            )
        r["default_rate"] = round(float(y[ok].mean()), 5)
        ci = bootstrap_intervals(
            y[ok],
            {k: scores[k][ok] for k in ("ews", "baseline", "oracle")},
            test["debtor_id"].to_numpy()[ok],
            pairs=[("ews", "baseline")],
            n_boot=args.n_boot,
            seed=0,
        )
        r["ci"] = {
            k: {m: [round(x, 4) for x in v[m]] for m in ("auc", "capture_5pct") if m in v}
            for k, v in ci.items()
        }
        print(
            f"{args.variant} s{args.seed}: cut {r['cut']}, {r['test_rows']} rows, {r['test_defaults']} defaults,"
            f" ews {r['kind']} ({r['selection']}), {r['seconds']} s"
        )
        for name, m in r["metrics"].items():
            print(
                f"  {name:32s} AUC {m['auc']:.4f} cap5 {m['capture_5pct']:.3f} Brier {m['brier']:.5f}"
                f" ECE {m['ece']:.5f} mean {m['mean_pd']:.4f}"
            )
        print("  CI:", json.dumps(r["ci"]))
        if args.scores:
            truth = pd.read_parquet(data / "truth.parquet")
            truth = truth.assign(
                as_of=pd.to_datetime(truth["month_end"]), debtor_id=truth["debtor_id"].astype(str)
            )
            rows = test[["debtor_id", "as_of", "y"]].assign(**{k: v for k, v in scores.items()})
            rows.merge(
                truth[["debtor_id", "as_of", "state"]], on=["debtor_id", "as_of"], how="left"
            ).to_parquet(args.scores)
    if args.json:
        meta = {"config": str(args.config), "lgbm": dataclasses.asdict(params.lgbm)}
        meta.update(kind=params.challenger, tie_folds=params.tie_folds, both=args.both)
        args.json.write_text(json.dumps({"meta": meta, "results": [r]}, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
