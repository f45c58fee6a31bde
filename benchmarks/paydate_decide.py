"""Payment-date model: session 27's pre-registered rule on ``benchmarks/paydate_candidate.py``'s outputs
(issue 13 part 1).

Paired debtor bootstrap of the MAE difference (candidate - shipped): per book, the paid test invoices'
absolute errors summed per debtor; each replicate draws the book's debtors with replacement
(independently per book); pooled = the sum of the drawn differences / the drawn invoices over all books.
2,000 replicates, numpy ``default_rng(2712)``, percentile 95 % intervals.

The candidate meets the rule when all hold:

- (a) pooled MAE difference: 95 % upper bound < 0;
- (b) no book significantly worse: every book's interval has its lower bound <= 0;
- (c) p10-p90 coverage stays where it was: on each book whose shipped coverage is within [75 %, 85 %],
  the candidate's is too;
- (d) pooled weekly cash mean APE (all books' weeks with cash) not above shipped's.

Session 31's rule (``--rule pooled-coverage``, s31-paydate2; for runs with ``--no-cash``): (a), (b) and
(e) the candidate's p10-p90 coverage pooled over the books (each book's ``coverage_80`` weighted by its
invoices) within [75 %, 85 %].

    .venv/bin/python benchmarks/paydate_decide.py OUTDIR --candidate peer [--books BOOK ...]

Prints one line per book and the verdict; writes OUTDIR/decision.json and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

N_BOOT = 2000
SEED = 2712
BAND = (0.75, 0.85)


def per_debtor(z, name: str) -> tuple[np.ndarray, np.ndarray]:
    _, inv = np.unique(z["code"], return_inverse=True)
    d = int(inv.max()) + 1 if len(inv) else 0
    n = np.bincount(inv, minlength=d).astype(float)
    s = np.bincount(inv, weights=z[f"{name}_err"], minlength=d)
    return n, s


def decide(out: Path, cand: str, books: list[str], rule: str = "s27") -> dict:
    data = {b: np.load(out / f"{b}.npz") for b in books}
    figs = {b: json.loads((out / f"{b}.json").read_text())["fits"] for b in books}
    rng = np.random.default_rng(SEED)
    pooled_num, pooled_den = np.zeros(N_BOOT), np.zeros(N_BOOT)
    point_num = point_den = 0.0
    per_book = {}
    for b in books:
        n, s0 = per_debtor(data[b], "shipped")
        _, s1 = per_debtor(data[b], cand)
        d = s1 - s0
        draws = np.stack(
            [np.bincount(rng.integers(0, len(n), len(n)), minlength=len(n)) for _ in range(N_BOOT)]
        )
        num, den = draws @ d, draws @ n
        reps = num / den
        f0, f1 = figs[b]["shipped"], figs[b][cand]
        better = min(f0["due_date_mae_days"], f0["due_plus_lateness_mae_days"])
        per_book[b] = {
            "mae_shipped": f0["mae_days"],
            "mae_cand": f1["mae_days"],
            "better_baseline": better,
            "vs_better_shipped": f0["mae_days"] / better - 1,
            "vs_better_cand": f1["mae_days"] / better - 1,
            "diff": float(d.sum() / n.sum()),
            "ci": [float(np.percentile(reps, 2.5)), float(np.percentile(reps, 97.5))],
            "coverage_shipped": f0["coverage_80"],
            "coverage_cand": f1["coverage_80"],
            "ape_shipped": f0.get("cash_mean_ape", float("nan")),
            "ape_cand": f1.get("cash_mean_ape", float("nan")),
            "paid_invoices": int(n.sum()),
            "invoices": f1["invoices"],
        }
        pooled_num += num
        pooled_den += den
        point_num += d.sum()
        point_den += n.sum()
    reps = pooled_num / pooled_den
    ci = [float(np.percentile(reps, 2.5)), float(np.percentile(reps, 97.5))]

    def ape(name: str) -> float:
        f = np.concatenate([data[b][f"{name}_cash_f"] for b in books])
        a = np.concatenate([data[b][f"{name}_cash_a"] for b in books])
        return float(np.mean(np.abs(f - a) / a))

    inside = lambda c: BAND[0] <= c <= BAND[1]  # noqa: E731
    weights = np.array([r["invoices"] for r in per_book.values()], dtype=float)
    pooled_cov = {
        k: float(np.average([r[f"coverage_{k}"] for r in per_book.values()], weights=weights))
        for k in ("shipped", "cand")
    }
    checks = {
        "a_pooled_mae_upper_below_0": ci[1] < 0,
        "b_no_book_significantly_worse": all(r["ci"][0] <= 0 for r in per_book.values()),
    }
    if rule == "pooled-coverage":
        checks["e_pooled_coverage_75_85"] = inside(pooled_cov["cand"])
        ape0 = ape1 = float("nan")
    else:
        ape0, ape1 = ape("shipped"), ape(cand)
        checks["c_coverage_stays_75_85"] = all(
            inside(r["coverage_cand"]) for r in per_book.values() if inside(r["coverage_shipped"])
        )
        checks["d_pooled_weekly_ape_not_worse"] = ape1 <= ape0
    return {
        "candidate": cand,
        "pooled_diff": point_num / point_den,
        "pooled_ci": ci,
        "pooled_ape_shipped": ape0,
        "pooled_ape_cand": ape1,
        "pooled_coverage": pooled_cov,
        "rule": rule,
        "checks": checks,
        "met": all(checks.values()),
        "per_book": per_book,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="paydate_candidate.py's --out folder")
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--books", nargs="*", help="default: every BOOK.json in the folder")
    ap.add_argument("--rule", choices=("s27", "pooled-coverage"), default="s27")
    args = ap.parse_args()
    books = args.books or sorted(p.stem for p in args.out.glob("*.json") if p.stem != "decision")
    r = decide(args.out, args.candidate, books, args.rule)
    for b, x in r["per_book"].items():
        print(
            f"{b:<20} MAE {x['mae_shipped']:.4f} -> {x['mae_cand']:.4f} ({x['diff']:+.4f} [{x['ci'][0]:+.4f}, "
            f"{x['ci'][1]:+.4f}]) vs better baseline {x['vs_better_shipped']:+.1%} -> {x['vs_better_cand']:+.1%}; "
            f"p10-p90 {x['coverage_shipped']:.1%} -> {x['coverage_cand']:.1%}; weekly APE "
            f"{x['ape_shipped']:.2%} -> {x['ape_cand']:.2%}"
        )
    print(
        f"pooled MAE diff {r['pooled_diff']:+.4f} d [{r['pooled_ci'][0]:+.4f}, {r['pooled_ci'][1]:+.4f}]; "
        f"pooled weekly APE {r['pooled_ape_shipped']:.4%} -> {r['pooled_ape_cand']:.4%}; pooled p10-p90 "
        f"{r['pooled_coverage']['shipped']:.2%} -> {r['pooled_coverage']['cand']:.2%}; {r['checks']}; "
        f"MET: {r['met']}"
    )
    (args.out / "decision.json").write_text(json.dumps(r, indent=2))
    print(json.dumps({k: v for k, v in r.items() if k != "per_book"}))


if __name__ == "__main__":
    main()
