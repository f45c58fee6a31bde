"""Forward calibration and rank of the PD inside each delinquency state (issue 9; s37-pd).

Reads one book's forward scores (``benchmarks/regimes.py --scores-dir`` / ``unseen.py --scores``: debtor_id,
as_of, y and one column per model, e.g. ews, baseline, oracle) and the book's cached modelling frame
(``frame-*.parquet``: ``dpd_current_max`` and ``tenure_days`` at T). Per state at T (current, 1-30, 31-60,
61-89 days past due; debtors younger than 12 months and older; finer bins 1-15 ... 76-89 DPD) and model:

- mean PD against the observed default rate, the ratio with a debtor-bootstrap 95 % interval;
- AUC inside the state (and of the days past due alone, ``auc_dpd``);
- the share of the state's defaulters in the model's top 5 % of all forward rows (as capture@5 %).

    .venv/bin/python benchmarks/pd_states.py --scores S.parquet --book DIR [--models ews,baseline,oracle]
        [--boot 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata

STATES = [("current", -1, 0), ("1-30", 0, 30), ("31-60", 30, 60), ("61-89", 60, 89)]
FINE = [(-1, 0), (0, 15), (15, 30), (30, 45), (45, 60), (60, 75), (75, 89)]


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Rank AUC (ties half); NaN when one class is missing."""
    if len(y) == 0 or y.min() == y.max():
        return float("nan")
    r = rankdata(p)
    n1 = y.sum()
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def top_share(p: np.ndarray, share: float = 0.05) -> np.ndarray:
    """True on the top ``ceil(share * n)`` rows by score (ties by input order, as capture@5 %)."""
    top = np.zeros(len(p), dtype=bool)
    top[np.argsort(-p, kind="mergesort")[: math.ceil(share * len(p))]] = True
    return top


def states_table(s: pd.DataFrame, models: list[str], boot: int, seed: int = 0) -> dict:
    """Every state's figures (module doc); ``s``: forward rows with y, the models' PDs,
    ``dpd_current_max`` and ``tenure_days``."""
    y = s["y"].to_numpy().astype(int)
    dpd = s["dpd_current_max"].fillna(0).to_numpy()
    young = s["tenure_days"].fillna(0).to_numpy() < 365
    top = {m: top_share(s[m].to_numpy()) for m in models}
    codes, uniq = pd.factorize(s["debtor_id"])
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [np.bincount(rng.integers(0, len(uniq), len(uniq)), minlength=len(uniq))[codes] for _ in range(boot)]
    ).astype(float)

    def block(mask: np.ndarray) -> dict:
        yy = y[mask]
        out: dict = {"rows": int(mask.sum()), "defaults": int(yy.sum())}
        if not mask.any():
            return out
        out["rate"] = float(yy.mean())
        out["auc_dpd"] = auc(yy, dpd[mask])
        w = draws[:, mask]
        obs = (w * yy).sum(1) / w.sum(1)
        for m in models:
            p = s[m].to_numpy()[mask]
            out[f"mean_{m}"] = float(p.mean())
            out[f"auc_{m}"] = auc(yy, p)
            if yy.sum():
                out[f"ratio_{m}"] = float(p.mean() / yy.mean())
                ratio = ((w * p).sum(1) / w.sum(1))[obs > 0] / obs[obs > 0]
                out[f"ratio_{m}_ci"] = [float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975))]
                out[f"top5_{m}"] = float(top[m][mask][yy == 1].mean())
        return out

    table: dict = {"rows": len(s), "defaults": int(y.sum())}
    table["by_state"] = {name: block((dpd > lo) & (dpd <= hi)) for name, lo, hi in STATES}
    table["by_age"] = {"young<12m": block(young), "old>=12m": block(~young)}
    table["fine"] = {f"{lo + 1}-{hi}": block((dpd > lo) & (dpd <= hi)) for lo, hi in FINE}
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--book", required=True, help="the book's folder (its cached frame-*.parquet)")
    ap.add_argument("--models", default="ews,baseline,oracle")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    s = pd.read_parquet(a.scores)
    s = s.assign(debtor_id=s["debtor_id"].astype(str), as_of=pd.to_datetime(s["as_of"]))
    s = s[s["oracle"].notna()].reset_index(drop=True)
    frames = sorted(glob.glob(f"{a.book}/frame-*.parquet"))
    if not frames:
        raise SystemExit(f"no frame-*.parquet in {a.book}: run benchmarks/regimes.py on the book first")
    f = pd.read_parquet(frames[0], columns=["debtor_id", "as_of", "dpd_current_max", "tenure_days"])
    f = f.assign(debtor_id=f["debtor_id"].astype(str), as_of=pd.to_datetime(f["as_of"]))
    s = s.merge(f, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    models = [m for m in a.models.split(",") if m in s]
    table = states_table(s, models, a.boot)
    for group in ("by_state", "by_age", "fine"):
        for name, r in table[group].items():
            if not r["defaults"]:
                continue
            line = f"{name:10s} rows {r['rows']:6d} defaults {r['defaults']:4d} rate {r['rate']:.4f}"
            for m in models:
                lo, hi = r[f"ratio_{m}_ci"]
                line += f" | {m} x{r[f'ratio_{m}']:.2f} [{lo:.2f}, {hi:.2f}] auc {r[f'auc_{m}']:.3f} top5 {r[f'top5_{m}']:.2f}"
            print(line + f" | dpd alone auc {r['auc_dpd']:.3f}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(table, fh, indent=1)


if __name__ == "__main__":
    main()
