"""How well the payment-date model's ``pay_pd`` orders the live queue INSIDE each days-past-due state, against
the true PD, beside the shipped key's order (session 30, issue 11).

    nice python benchmarks/rank_paydate.py BT [BT ...] [--json out.json]

Each ``BT`` is an ``ews backtest --model 1 --rows --out BT`` folder (``backtest_rows.parquet`` with ``pay_pd``;
the truth file of its settings gives ``oracle_pd``); the live queue rows are ``rank_order.py``'s (overdue above
``queue.min_overdue``, not in default, horizon observed; state = the row's DPD bucket 1-30 / 31-60 / 61-89).
Per book and state (pooled over the month-ends):

- ``rho_*``: Spearman correlation with the true PD inside each (month-end, state), mean weighted by rows, of
  the shipped key's K (PD or (PD + pay_pd) / 2 as the version chose), the PD alone and ``pay_pd``;
- ``auc_*``: AUC against the default label inside each (month-end, state), pooled as a mean weighted by the
  number of (default, non-default) pairs;
- captures (``queue_capture_top20`` of the same rows; K x open balance x LGD x (1 + DPD / 90) with K's values
  re-given inside each (month-end, state) in another order, the bands and each state's values kept):
  ``shipped``; ``within_oracle`` (the true PD's order, s29's); ``within_paypd`` (``pay_pd``'s order);
  ``within_pd`` (the PD's order); ``within_mix`` (the mean of the K and ``pay_pd`` ranks);
  ``within_mix3`` (3:1 towards ``pay_pd``'s rank). A row without ``pay_pd`` counts as 0 (no open invoice).

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

ORDERS = ("shipped", "within_oracle", "within_paypd", "within_pd", "within_mix", "within_mix3")
SCORES = ("key", "pd", "pay_pd")


def _auc(score: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """AUC of ``score`` against ``y`` (ties count half) and the number of pairs."""
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan"), 0
    r = pd.Series(score).rank(method="average").to_numpy()
    return float((r[y].sum() - pos * (pos + 1) / 2) / (pos * neg)), pos * neg


def group_ranks(q: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """``values``' percentile rank inside each (month-end, state)."""
    return pd.Series(values).groupby([q["as_of"].to_numpy(), q["state"].to_numpy()]).rank(pct=True).to_numpy()


def book_paydate(folder: Path) -> dict:
    from rank_order import arrays, model_kind, queue_rows, within_permuted

    from models.queue_key import queue_orders, weighted_capture

    q, meta = queue_rows(folder)
    ob, lgd, dpd, k, tpd, el, y, bad, st = arrays(q)
    pd_ = q["pd"].to_numpy(dtype="float64")
    pay = q["pay_pd"].fillna(0.0).to_numpy(dtype="float64")
    factor = 1.0 + dpd / 90.0
    rk, rp = group_ranks(q, k), group_ranks(q, pay)
    by = {
        "within_oracle": tpd,
        "within_paypd": pay,
        "within_pd": pd_,
        "within_mix": rk + rp,
        "within_mix3": rk + 3.0 * rp,
    }
    keys = {"shipped": (k * ob * lgd * factor, el)}
    keys |= {name: (within_permuted(q, k, s) * ob * lgd * factor, None) for name, s in by.items()}
    ones = np.ones(len(q))
    cap = {
        name: weighted_capture(queue_orders(q, key_, tie), bad, ones) for name, (key_, tie) in keys.items()
    }
    score = {"key": k, "pd": pd_, "pay_pd": pay}
    states = {}
    for code, name in ((1, "1-30"), (2, "31-60"), (3, "61-89")):
        s = st == code
        out: dict = {
            "rows": int(s.sum()),
            "defaulted": int((s & y).sum()),
            "pay_pd_missing": int(q["pay_pd"].isna()[s].sum()),
        }
        for sname, v in score.items():
            rho_w, rho_n, auc_w, auc_n = 0.0, 0, 0.0, 0
            for _, idx in q.loc[s].groupby("as_of").indices.items():
                ii = np.flatnonzero(s)[idx]
                if len(ii) >= 3 and np.ptp(tpd[ii]) > 0 and np.ptp(v[ii]) > 0:
                    rho = pd.Series(v[ii]).corr(pd.Series(tpd[ii]), method="spearman")
                    rho_w, rho_n = rho_w + rho * len(ii), rho_n + len(ii)
                a, n = _auc(v[ii], y[ii])
                if n:
                    auc_w, auc_n = auc_w + a * n, auc_n + n
            out[f"rho_{sname}"] = rho_w / rho_n if rho_n else float("nan")
            out[f"auc_{sname}"] = auc_w / auc_n if auc_n else float("nan")
        states[name] = out
    return {
        "book": folder.parent.name if folder.parent.name not in ("main",) else folder.parent.parent.name,
        "folder": str(folder),
        "kind": model_kind(folder),
        "key": meta["settings"].get("queue_key", "pd"),
        "queue_rows": int(len(q)),
        "queue_defaulted": int(y.sum()),
        "pay_pd_share": float(q["pay_pd"].notna().mean()),
        "capture": cap,
        "states": states,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bts", nargs="+", type=Path, help="ews backtest --rows folders (with pay_pd)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    books = [book_paydate(b) for b in args.bts]
    print("book kind key rows bad pay_pd_share | " + " ".join(ORDERS))
    for b in books:
        c = b["capture"]
        print(
            f"{b['book']} {b['kind']} {b['key']} {b['queue_rows']} {b['queue_defaulted']} {b['pay_pd_share']:.3f} | "
            + " ".join(f"{c[o]:.4f}" for o in ORDERS)
        )
        for name, s in b["states"].items():
            print(
                f"   {name:>5}: rows {s['rows']} def {s['defaulted']} no pay_pd {s['pay_pd_missing']}; rho vs true PD "
                + " ".join(f"{x} {s['rho_' + x]:.3f}" for x in SCORES)
                + "; AUC vs label "
                + " ".join(f"{x} {s['auc_' + x]:.3f}" for x in SCORES)
            )
    if books:
        mean = {o: float(np.nanmean([b["capture"][o] for b in books])) for o in ORDERS}
        print(f"mean over {len(books)}:", " ".join(f"{o} {v:.4f}" for o, v in mean.items()))
        print(
            "mean minus shipped:",
            " ".join(f"{o} {v - mean['shipped']:+.4f}" for o, v in mean.items() if o != "shipped"),
        )
        for name in ("1-30", "31-60"):
            med = {
                f"{m}_{x}": float(np.nanmedian([b["states"][name][f"{m}_{x}"] for b in books]))
                for m in ("rho", "auc")
                for x in SCORES
            }
            print(f"median inside {name}:", " ".join(f"{a} {v:.3f}" for a, v in med.items()))
    text = json.dumps({"books": books}, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text[:0])


if __name__ == "__main__":
    main()
