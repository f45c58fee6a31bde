"""Pooled paired comparison of two scores over several books' forward rows (issue 9, part 1).

Reads the forward-score files that ``benchmarks/unseen.py --scores`` (or ``regimes.py --scores-dir``)
writes, one per book (columns ``debtor_id``, ``y`` and one column per model), and compares model
``--a`` with model ``--b`` on every book and pooled over the books. One bootstrap replicate draws
debtors with replacement *within each book* (all rows of a drawn debtor), so books keep their size
and the replicates of all books are paired across the two models (``models.evaluate._Weighted``, the
weights ``bootstrap_intervals`` uses).

Pooled figures: capture@5 % = the defaulters each book's own top 5 % of rows holds, summed over the
books, over all the books' defaulters (each book ranks its own rows, as a user would); Brier and
log-loss = the row-weighted mean over the books; AUC = the mean of the books' AUCs; each also as the
equal-weight mean of the books' differences. Rows without an oracle PD are left out, as in
``unseen.py``.

    nice .venv/bin/python benchmarks/pooled_scores.py --a ews --b baseline --boot 2000 \
        scores-small-s1.parquet scores-small-s2.parquet ... [--json pooled.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from models.evaluate import _Weighted  # noqa: E402

METRICS = ("auc", "capture_5pct", "brier", "logloss", "ece")


def load(path: Path, a: str, b: str) -> pd.DataFrame:
    d = pd.read_parquet(path)
    if "oracle" in d:
        d = d[d["oracle"].notna()]
    return d[["debtor_id", "y", a, b]].reset_index(drop=True)


def pooled(
    per_book: list[dict[str, dict[str, float]]], pos: list[float], rows: list[float]
) -> dict[str, float]:
    """Pool one replicate's per-book metrics of one model (see the module docstring)."""
    pos_a, rows_a = np.asarray(pos), np.asarray(rows)
    cap = np.array([m["capture_5pct"] for m in per_book])
    return {
        "capture_5pct": float((cap * pos_a).sum() / pos_a.sum()),
        "brier": float((np.array([m["brier"] for m in per_book]) * rows_a).sum() / rows_a.sum()),
        "logloss": float((np.array([m["logloss"] for m in per_book]) * rows_a).sum() / rows_a.sum()),
        "auc": float(np.mean([m["auc"] for m in per_book])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", nargs="+", type=Path)
    ap.add_argument("--a", default="ews")
    ap.add_argument("--b", default="baseline")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    books = []
    for path in args.scores:
        d = load(path, args.a, args.b)
        y = d["y"].to_numpy("float64")
        codes, _ = pd.factorize(d["debtor_id"].astype(str), sort=False)
        books.append(
            {
                "name": path.stem,
                "y": y,
                "codes": codes,
                "n_debtors": int(codes.max()) + 1,
                "a": _Weighted(y, d[args.a].to_numpy("float64")),
                "b": _Weighted(y, d[args.b].to_numpy("float64")),
            }
        )

    def replicate(weights: list[np.ndarray]) -> dict[str, object]:
        ma = [bk["a"].metrics(w) for bk, w in zip(books, weights, strict=True)]
        mb = [bk["b"].metrics(w) for bk, w in zip(books, weights, strict=True)]
        pos = [float((w * bk["y"]).sum()) for bk, w in zip(books, weights, strict=True)]
        rows = [float(w.sum()) for w in weights]
        pa, pb = pooled(ma, pos, rows), pooled(mb, pos, rows)
        out: dict[str, object] = {
            "per_book": [{m: x[m] - z[m] for m in METRICS} for x, z in zip(ma, mb, strict=True)],
            "pooled_a": pa,
            "pooled_b": pb,
            "pooled_diff": {m: pa[m] - pb[m] for m in pa},
            "mean_book_diff": {
                m: float(np.mean([x[m] - z[m] for x, z in zip(ma, mb, strict=True)])) for m in METRICS
            },
        }
        out["per_book_a"], out["per_book_b"] = ma, mb
        return out

    point = replicate([np.ones_like(bk["y"]) for bk in books])
    rng = np.random.default_rng(args.seed)
    draws = []
    for _ in range(args.boot):
        weights = []
        for bk in books:
            n = bk["n_debtors"]
            counts = np.bincount(rng.integers(0, n, n), minlength=n).astype("float64")
            weights.append(counts[bk["codes"]])
        draws.append(replicate(weights))

    def ci(get) -> list[float]:
        v = np.array([get(r) for r in draws], dtype="float64")
        v = v[~np.isnan(v)]
        return [round(float(np.quantile(v, 0.025)), 6), round(float(np.quantile(v, 0.975)), 6)]

    result: dict[str, object] = {"a": args.a, "b": args.b, "boot": args.boot, "books": []}
    print(f"{args.a} - {args.b}, {args.boot} draws of debtors within each book (95 %)")
    print(
        "| book | rows / defaults | "
        + " | ".join(f"{args.a} / {args.b} {m}, diff [95 %]" for m in METRICS)
        + " |"
    )
    for i, bk in enumerate(books):
        a, b = point["per_book_a"][i], point["per_book_b"][i]
        cells, rec = [], {"name": bk["name"], "rows": len(bk["y"]), "defaults": int(bk["y"].sum())}
        for m in METRICS:
            lo_hi = ci(lambda r, i=i, m=m: r["per_book"][i][m])
            rec[m] = {"a": a[m], "b": b[m], "diff": a[m] - b[m], "ci": lo_hi}
            cells.append(f"{a[m]:.5f} / {b[m]:.5f}, {a[m] - b[m]:+.5f} [{lo_hi[0]:+.5f}, {lo_hi[1]:+.5f}]")
        result["books"].append(rec)
        print(f"| {bk['name']} | {len(bk['y']):,} / {int(bk['y'].sum())} | " + " | ".join(cells) + " |")
    for key, label in (("pooled_diff", "pooled"), ("mean_book_diff", "mean of the books' differences")):
        rec = {}
        for m in point[key]:
            lo_hi = ci(lambda r, key=key, m=m: r[key][m])
            rec[m] = {"diff": point[key][m], "ci": lo_hi}
            extra = ""
            if key == "pooled_diff":
                rec[m].update(a=point["pooled_a"][m], b=point["pooled_b"][m])
                extra = f" ({args.a} {point['pooled_a'][m]:.5f}, {args.b} {point['pooled_b'][m]:.5f})"
            print(f"{label:32s} {m:13s} {point[key][m]:+.5f} [{lo_hi[0]:+.5f}, {lo_hi[1]:+.5f}]{extra}")
        result[key] = rec
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
