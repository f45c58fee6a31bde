"""Session 25's pre-registered rule on ``benchmarks/paygate.py``'s JSON lines, and its tables.

    python benchmarks/paygate_rule.py OUT.jsonl [--until HH:MM:SS] [--markdown]

Per training (book x cut): the evidence, the gate figures with their intervals, today's decision (G0)
and the candidate's (E: minimum evidence), the registered model's forward figures. Then the rule
(written before the figures, /work/bench/s25-paygate/prereg.txt):

- forward MAE ratio = forward MAE / the better baseline's forward MAE;
- forward-bad = forward MAE >= the better baseline's, or forward p10-p90 coverage outside 70-90 %;
- P0 = trainings G0 promotes, P1 = those E promotes, R = P0 - P1. E ships iff (a) R is not empty,
  (b) mean forward MAE ratio over P1 <= over P0 and mean forward |coverage - 80 %| over P1 <= over P0,
  (c) at least half of R is forward-bad.

Only whole books (every cut present) count.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def load(path: Path, cuts: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_book: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_book[r["book"]].append(r)
    return [r for book in by_book.values() if len(book) >= cuts for r in book]


def forward(r: dict) -> dict | None:
    f = r.get("forward")
    if not f:
        return None
    base = min(f["due_date_mae_days"], f["due_plus_lateness_mae_days"])
    return {
        "ratio": f["mae_days"] / base,
        "cov_err": abs(f["coverage_80"] - 0.80),
        "bad": f["mae_days"] >= base or not (0.70 <= f["coverage_80"] <= 0.90),
        "base": base,
    }


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def rule(rows: list[dict]) -> dict:
    p0 = [r for r in rows if r["g0_promotes"] and forward(r)]
    p1 = [r for r in p0 if r["e_promotes"]]
    refused = [r for r in p0 if not r["e_promotes"]]
    out = {
        "trainings": len(rows),
        "P0": len(p0),
        "P1": len(p1),
        "R": len(refused),
        "R_bad": sum(forward(r)["bad"] for r in refused),
        "P1_bad": sum(forward(r)["bad"] for r in p1),
        "ratio_P0": mean([forward(r)["ratio"] for r in p0]),
        "ratio_P1": mean([forward(r)["ratio"] for r in p1]),
        "cov_err_P0": mean([forward(r)["cov_err"] for r in p0]),
        "cov_err_P1": mean([forward(r)["cov_err"] for r in p1]),
    }
    out["a"] = out["R"] > 0
    out["b"] = out["ratio_P1"] <= out["ratio_P0"] and out["cov_err_P1"] <= out["cov_err_P0"]
    out["c"] = out["R"] > 0 and 2 * out["R_bad"] >= out["R"]
    out["ships"] = out["a"] and out["b"] and out["c"]
    return out


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(rows: list[dict]) -> str:
    head = (
        "| book | months | month-ends held-out / test | invoices (paid) | debtors paid | MAE d vs better baseline "
        "[diff 95 %] | p10-p90 % [95 %] | weekly cash % [95 %] | G0 | E | forward MAE vs baseline "
        "[diff 95 %] | forward p10-p90 % [95 %] | forward cash % |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['book']} | {r['months']} | {r['error']} |")
            continue
        g, f = r["gate"], r.get("forward") or {}
        gb = min(g["due_date_mae_days"], g["due_plus_lateness_mae_days"])
        fb = forward(r)
        lines.append(
            f"| {r['book']} | {r['months']} | {r['heldout_month_ends']} / {r['test_month_ends']} | "
            f"{int(g['invoices']):,} ({int(g['paid_in_horizon']):,}) | {int(g['paid_debtors'])} | "
            f"{g['mae_days']:.2f} vs {gb:.2f} [{g['mae_diff_ci_low']:+.2f}, {g['mae_diff_ci_high']:+.2f}] | "
            f"{pct(g['coverage_80'])} [{pct(g['coverage_80_ci_low'])}, {pct(g['coverage_80_ci_high'])}] | "
            f"{pct(g['cash_wape'])} [{pct(g['cash_wape_ci_low'])}, {pct(g['cash_wape_ci_high'])}] | "
            f"{'promote' if r['g0_promotes'] else 'refuse'} | {'promote' if r['e_promotes'] else 'refuse'} | "
            + (
                f"{f['mae_days']:.2f} vs {fb['base']:.2f} [{f['mae_diff_ci_low']:+.2f}, {f['mae_diff_ci_high']:+.2f}] | "
                f"{pct(f['coverage_80'])} [{pct(f['coverage_80_ci_low'])}, {pct(f['coverage_80_ci_high'])}]"
                f"{' **bad**' if fb['bad'] else ''} | {pct(f['cash_wape'])} |"
                if fb
                else "- | - | - |"
            )
        )
    return "\n".join(lines)


def by_months(rows: list[dict]) -> str:
    lines = [
        "| months | trainings | held-out month-ends | G0 promotes | forward MAE / better baseline (mean, min..max) "
        "| forward p10-p90 % (mean, min..max) | forward-bad |",
        "|---|---|---|---|---|---|---|",
    ]
    for months in sorted({r["months"] for r in rows}):
        rs = [r for r in rows if r["months"] == months and forward(r)]
        if not rs:
            continue
        ratios = [forward(r)["ratio"] for r in rs]
        covs = [r["forward"]["coverage_80"] for r in rs]
        held = sorted({r["heldout_month_ends"] for r in rs})
        lines.append(
            f"| {months} | {len(rs)} | {', '.join(map(str, held))} | {sum(r['g0_promotes'] for r in rs)} | "
            f"{mean(ratios):.3f} ({min(ratios):.3f}..{max(ratios):.3f}) | "
            f"{pct(mean(covs))} ({pct(min(covs))}..{pct(max(covs))}) | {sum(forward(r)['bad'] for r in rs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jsonl", type=Path, help="benchmarks/paygate.py --out")
    parser.add_argument("--cuts", type=int, default=4, help="cuts per whole book")
    args = parser.parse_args(argv)
    rows = load(args.jsonl, args.cuts)
    print(table(rows))
    print()
    print(by_months(rows))
    print()
    print(json.dumps(rule(rows), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
