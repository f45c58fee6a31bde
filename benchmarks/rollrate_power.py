"""The roll-rate matrix power on statements books: shipped ``horizon_steps`` vs the label's months
(issue 9; BENCHMARKS.md "Session 27 (s27-level)").

Per book, ``pd_level.py``'s forward protocol (cut = 7th-last observed month-end, the model the train
flow ships on the frame known at the cut, the 6 month-ends after it scored) is run twice in one
process: arm ``shipped`` (``models.rollrate.horizon_steps`` as it is: 90 days -> 2 on a statements
book, 3 on an invoice book) and arm ``power3`` (``horizon_steps`` replaced by ``horizon_months``: the
label's months on every book, 90 days -> 3). Every roll-rate fit of the train flow reads the patched
function (the shipped roll-rate model, its out-of-time test window and the roll-rate fold PDs of the
all-labelled kind rule), so the kind that ships can change. Where arm ``shipped`` ships LightGBM or
the scorecard (``train_pd_model`` succeeded: no roll-rate code ran), arm ``power3`` is not run and its
PDs are arm shipped's (identical by construction).

Outputs under ``--out``: ``shipped/`` and ``power3/`` (``pd_level.py``'s ``books.jsonl`` and score
files), ``pairs/<book>.parquet`` (``debtor_id``, ``as_of``, ``y``, ``oracle``, ``state``, ``shipped``,
``power3``: the input of ``pooled_scores.py --a power3 --b shipped``) and ``pairs.jsonl`` (per book: the
kinds, rows, defaults, rows whose PD differs, the level of each arm, forward rows / defaults / mean PD
by state).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/rollrate_power.py --work W --out OUT \\
        --books base:300:24:24:statements,unseen:300x24:105
    .venv/bin/python benchmarks/rollrate_power.py --out OUT --pools  # OUT/pool-{S,D,Cinv,Cinv_d,Cun,Cun_d}.txt
    for k in S D Cinv Cinv_d Cun Cun_d; do [ -s OUT/pool-$k.txt ] && .venv/bin/python benchmarks/pooled_scores.py \\
        --a power3 --b shipped --boot 2000 --seed 0 --json OUT/pooled-$k.json $(cat OUT/pool-$k.txt); done
    .venv/bin/python benchmarks/rollrate_power.py --out OUT --rule   # applies the s27 rule (below)
    .venv/bin/python benchmarks/rollrate_power.py --out OUT --table  # levels by book and by state

``--rule`` reads ``OUT/pooled-{S,Cinv,Cun,D,Cinv_d,Cun_d}.json`` (``pooled_scores.py --json``) and
prints the pre-registered rule of s27-level: R1 no book's power3 - shipped log-loss interval wholly
above 0; R2 no book's AUC interval wholly below 0; R3 pool D (statements books whose PDs differ)
log-loss difference < 0 in point with its interval not wholly above 0 and Brier difference < 0 in
point; R4 each control pool whose PDs differ: log-loss interval not wholly above 0 and Brier <= 0.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import pd_level  # noqa: E402

import models.rollrate as rr  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

ARMS = ("shipped", "power3")
COLS = ["debtor_id", "as_of", "y", "oracle", "state"]


def label_months(horizon_days: int, statements: bool = False) -> int:
    """Arm power3: the label's months on every book (90 days -> 3)."""
    return rr.horizon_months(horizon_days)


def run_arm(spec: str, args: argparse.Namespace, cfg: TrainConfig, arm: str) -> dict:
    a = copy.copy(args)
    a.out = args.out / arm
    a.out.mkdir(parents=True, exist_ok=True)
    shipped = rr.horizon_steps
    if arm == "power3":
        rr.horizon_steps = label_months
    try:
        r = pd_level.run_book(spec, a, cfg)
    except Exception as exc:  # a book the train flow refuses is a result too
        r = {"book": spec, "error": f"{type(exc).__name__}: {exc}"[:800]}
    finally:
        rr.horizon_steps = shipped
    with (a.out / "books.jsonl").open("a") as fh:
        fh.write(json.dumps(r, default=str) + "\n")
    return r


def by_state(d: pd.DataFrame, col: str) -> dict[str, list]:
    g = d.groupby("state").agg(n=("y", "size"), d=("y", "sum"), p=(col, "mean"))
    return {s: [int(v.n), int(v.d), round(float(v.p), 5)] for s, v in g.iterrows()}


def run(args: argparse.Namespace) -> None:
    cfg = load_config(args.config, expect=TrainConfig)
    (args.out / "pairs").mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    for spec in args.books.split(","):
        name = spec.replace(":", "-")
        ra = run_arm(spec, args, cfg, "shipped")
        if "error" in ra:
            rec = {"book": spec, "error": ra["error"][:300]}
        else:
            sa = pd.read_parquet(args.out / "shipped" / f"scores-{name}.parquet")
            if ra["kind"] in ("lightgbm", "scorecard"):
                rb, sb = {"kind": ra["kind"] + " (not run: no roll-rate code)"}, sa
            else:
                rb = run_arm(spec, args, cfg, "power3")
                sb = (
                    pd.read_parquet(args.out / "power3" / f"scores-{name}.parquet")
                    if "error" not in rb
                    else None
                )
            if sb is None:
                rec = {"book": spec, "error": "power3: " + rb["error"][:300]}
            else:
                assert (
                    sa[["debtor_id", "as_of", "y"]].to_numpy() == sb[["debtor_id", "as_of", "y"]].to_numpy()
                ).all()
                m = sa[COLS].assign(shipped=sa["pd"].to_numpy(), power3=sb["pd"].to_numpy())
                m.to_parquet(args.out / "pairs" / f"{name}.parquet")
                y = int(m["y"].sum())
                rec = {
                    "book": spec,
                    "kind": [ra["kind"], rb["kind"]],
                    "rows": len(m),
                    "defaults": y,
                    "differ": int((m["shipped"] != m["power3"]).sum()),
                    "level": [round(m[c].sum() / max(y, 1), 4) for c in ARMS],
                    "oracle_level": ra["oracle_level"],
                    "by_state": {c: by_state(m, c) for c in ARMS},
                }
        print(json.dumps(rec), flush=True)
        with (args.out / "pairs.jsonl").open("a") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")


def rule(out: Path) -> bool:
    def load(k: str) -> dict | None:
        p = out / f"pooled-{k}.json"
        return json.loads(p.read_text()) if p.exists() else None

    books = [b for k in ("S", "Cinv", "Cun") for b in (load(k) or {"books": []})["books"]]
    r1 = [b["name"] for b in books if b["logloss"]["ci"][0] > 0]
    r2 = [b["name"] for b in books if b["auc"]["ci"][1] < 0]
    print(f"R1 ({len(books)} books) log-loss interval wholly above 0: {r1 or 'none'}")
    print(f"R2 AUC interval wholly below 0: {r2 or 'none'}")
    ok = not r1 and not r2
    d = load("D")
    if d is None:
        print("R3: pool D empty -> NOT met")
        ok = False
    else:
        ll, br = d["pooled_diff"]["logloss"], d["pooled_diff"]["brier"]
        r3 = ll["diff"] < 0 and not ll["ci"][0] > 0 and br["diff"] < 0
        print(
            f"R3 pool D ({len(d['books'])} books): log-loss {ll['diff']:+.5f} {ll['ci']}, "
            f"Brier {br['diff']:+.5f} {br['ci']} -> {'met' if r3 else 'NOT met'}"
        )
        ok &= r3
    for k in ("Cinv_d", "Cun_d"):
        c = load(k)
        if c is None:
            print(f"R4 {k}: no book whose PDs differ -> passes")
            continue
        ll, br = c["pooled_diff"]["logloss"], c["pooled_diff"]["brier"]
        r4 = not ll["ci"][0] > 0 and br["diff"] <= 0
        print(
            f"R4 {k} ({len(c['books'])} books): log-loss {ll['diff']:+.5f} {ll['ci']}, Brier {br['diff']:+.5f}"
        )
        ok &= r4
    print("OUTCOME:", "MET" if ok else "NOT MET")
    return ok


def pools(out: Path) -> None:
    """Write OUT/pool-<k>.txt (the pair files of each pool, space-separated) for ``pooled_scores.py``:
    S (statements books), D (those whose PDs differ), Cun / Cun_d (unseen books), Cinv / Cinv_d (invoices)."""
    recs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    acc: dict[str, list[str]] = {k: [] for k in ("S", "D", "Cinv", "Cinv_d", "Cun", "Cun_d")}
    for r in recs:
        if "error" in r:
            continue
        f = str(out / "pairs" / f"{r['book'].replace(':', '-')}.parquet")
        k = "S" if r["book"].endswith("statements") else "Cun" if r["book"].startswith("unseen") else "Cinv"
        acc[k].append(f)
        if r["differ"]:
            acc["D" if k == "S" else f"{k}_d"].append(f)
    for k, v in acc.items():
        (out / f"pool-{k}.txt").write_text(" ".join(v))
        print(f"pool {k}: {len(v)} books")


def table(out: Path) -> None:
    """Per book and per state (pooled over the books whose PDs differ): forward defaults and the levels."""
    recs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    print(
        "| book | kind shipped -> power3 | rows / defaults | PDs differ | level shipped -> power3 | oracle's level |"
    )
    print("|---|---|---|---|---|---|")
    pooled: dict[str, list[float]] = {}
    for r in recs:
        if "error" in r:
            print(f"| {r['book']} | refused: {r['error'][:90]} | | | | |")
            continue
        orc = r["oracle_level"][0] if r["oracle_level"] else float("nan")
        print(
            f"| {r['book']} | {r['kind'][0]} -> {r['kind'][1]} | {r['rows']:,} / {r['defaults']} | {r['differ']:,} | "
            f"{r['level'][0]:.2f} -> {r['level'][1]:.2f} | {orc:.2f} |"
        )
        if r["differ"] and r["book"].endswith("statements"):
            for s, (n, d, p) in r["by_state"]["shipped"].items():
                q = r["by_state"]["power3"][s][2]
                acc = pooled.setdefault(s, [0.0, 0.0, 0.0, 0.0])
                acc[0] += n
                acc[1] += d
                acc[2] += p * n
                acc[3] += q * n
    print("\nstatements books whose PDs differ, pooled by the state of the shipped arm's model:")
    print("| state | forward rows | defaults | rate | mean PD shipped | mean PD power3 |")
    print("|---|---|---|---|---|---|")
    for s, (n, d, p, q) in pooled.items():
        print(f"| {s or '(not roll-rate)'} | {n:,.0f} | {d:.0f} | {d / n:.4f} | {p / n:.4f} | {q / n:.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", help="comma-separated book specs (pd_level.py's)")
    ap.add_argument("--forward", type=int, default=6, help="month-ends scored after the cut (6)")
    ap.add_argument(
        "--boot", type=int, default=1000, help="debtor-bootstrap draws for pd_level's level interval"
    )
    ap.add_argument("--work", type=Path, help="where the generated books are cached")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rule", action="store_true", help="apply the rule to OUT/pooled-*.json and stop")
    ap.add_argument(
        "--table", action="store_true", help="print the per-book / per-state tables of OUT/pairs.jsonl"
    )
    ap.add_argument("--pools", action="store_true", help="write OUT/pool-*.txt from OUT/pairs.jsonl and stop")
    args = ap.parse_args()
    if args.pools:
        pools(args.out)
        return
    if args.table:
        table(args.out)
        return
    if args.rule:
        sys.exit(0 if rule(args.out) else 1)
    if not args.books or not args.work:
        ap.error("--books and --work are required to run")
    run(args)


if __name__ == "__main__":
    main()
