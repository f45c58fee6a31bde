"""The first roll-rate model's gate on small books, before and after session 19 (s19-firstrun).

Before: the first roll-rate model of a book (no champion) was promoted whatever failed
(``first_model_promotes``: every FAIL became a WARN). After: it passes what any first model passes
(the AUC floor on its 95 % debtor interval, not worse than its baseline, the book's default rate
known at each test month-end; an ECE-only failure is a WARN). Per book this follows the train
flow's small-book path (:func:`pipelines.flows.train.fit`: the roll-rate model only where the
LightGBM/scorecard windows cannot be filled, ``models.rollrate.evaluate_rollrate``) and its gate
(:func:`pipelines.flows.train.gate` for a first model), with the shipped ``conf/train.yaml``.

    nice -n 19 .venv/bin/python benchmarks/rollrate_gate.py --work /tmp/ews-rrgate \\
        --books base:150:1 stress:300:2 unseen:small:1 --months 24 --json /tmp/rrgate.json

Books: ``regime:debtors:seed`` (``ews generate``'s regimes) or ``unseen:small:seed``; frames cached
under ``--work`` (``benchmarks/small_choice.load_book``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from small_choice import load_book  # noqa: E402

from features.statements import with_statement_dpd  # noqa: E402
from models.evaluate import gate_decision  # noqa: E402
from models.rollrate import RollRateTooSmallError, evaluate_rollrate  # noqa: E402
from models.split import BookTooSmallError, check_defaults, plan_split, snapshot_summary  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import paired  # noqa: E402

PROJECT = ProjectConfig()


def run(spec: str, months: int, work: Path, cfg: TrainConfig) -> dict:
    c0 = time.process_time()
    frame, _, _ = load_book(spec, work, months, cfg)
    r: dict = {"book": spec if spec.startswith("unseen") else f"{spec} x {months}"}
    definition = PROJECT.default_definition
    try:  # train_pd_model's own check, before it trains anything
        params = cfg.to_params(definition.horizon_days)
        summary = snapshot_summary(frame)
        check_defaults(summary, plan_split(summary, params.split), params.split.min_defaults)
        r["path"] = "lightgbm/scorecard (windows filled: not a roll-rate book)"
        return r
    except BookTooSmallError:
        pass
    try:
        out = evaluate_rollrate(
            with_statement_dpd(frame), cfg.rollrate.to_params(definition, cfg), cfg.features.segment_column
        )
    except RollRateTooSmallError as exc:
        r["path"] = f"refused: {str(exc)[:120]}"
        return r
    test = out.test
    y, groups = test["y"].to_numpy(), test["debtor_id"].astype("string").to_numpy()
    vs = paired(y, test["pd"].to_numpy(), test["pd_baseline"].to_numpy(), groups, cfg)
    decision = gate_decision(
        out.metrics,
        cfg.gate.to_params(),
        ece_tolerance=out.ece_tolerance,
        kind="rollrate",
        vs_baseline=vs,
        auc_interval=out.intervals["challenger"]["auc"],
        first_model=True,
        baseline_name="the book's default rate",
    )
    # before s19: first_model_promotes, every failed check a WARN, always promoted; its checks had no baseline
    before_fails = [
        x
        for x in decision.reasons
        if (x.startswith(("FAIL", "WARN"))) and "default rate" not in x.split("(")[0]
    ]
    auc = out.intervals["challenger"]["auc"]
    r.update(
        path="rollrate",
        rows=len(test),
        defaults=int(y.sum()),
        auc=[out.metrics["auc"], *auc],
        ece=out.metrics["ece"],
        ece_limit=out.ece_tolerance + cfg.gate.ece_margin,
        mean_pd=out.metrics["mean_pd"],
        default_rate=out.metrics["default_rate"],
        logloss_vs_rate=[vs[1]["logloss"], *vs[0]["logloss"]],
        auc_vs_rate=[vs[1]["auc"], *vs[0]["auc"]],
        before="promoted"
        + (" with WARN: " + "; ".join(f[5:45] for f in before_fails) if before_fails else ""),
        after=("promoted" if decision.passed else "REFUSED")
        + "".join(f"; {x[:60]}" for x in decision.reasons if x.startswith(("FAIL", "WARN"))),
        summary=decision.summary,
        cpu_s=round(time.process_time() - c0, 1),
    )
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/ews-rrgate"))
    ap.add_argument("--books", nargs="+", required=True)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    print(
        "| book | test rows / defaults | AUC [95 %] | ECE / limit (mean PD vs rate) | log-loss vs the "
        "book's default rate [95 %] | before s19 | after |"
    )
    print("|---|---|---|---|---|---|---|")
    results = []
    for spec in args.books:
        r = run(spec, args.months, args.work, cfg)
        results.append(r)
        if r["path"] != "rollrate":
            print(f"| {r['book']} | {r['path']} | | | | | |", flush=True)
            continue
        a, ll = r["auc"], r["logloss_vs_rate"]
        print(
            f"| {r['book']} | {r['rows']:,} / {r['defaults']} | {a[0]:.4f} [{a[1]:.4f}, {a[2]:.4f}] | "
            f"{r['ece']:.4f} / {r['ece_limit']:.4f} ({r['mean_pd']:.2%} vs {r['default_rate']:.2%}) | "
            f"{ll[0]:+.4f} [{ll[1]:+.4f}, {ll[2]:+.4f}] | {r['before']} | {r['after']} |",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
