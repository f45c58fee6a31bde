"""Payment-date model: what the ledger shows at T for debtors whose state improved (issue 13 part 1,
session 29; a diagnostic, nothing here is shipped).

Per ``ews generate`` book (``paydate_gap.book_frame``: the shipped model's held-out fit on the train flow's
plan, its 3 test month-ends, per test invoice paid within the horizon the model's and the health-at-T
oracle's errors, and the generator's truth move ``delay_move_3m``: the change of the debtor's median delay
over the 3 months to T), each debtor's reading at T from rows dated <= T only:

- the shipped state columns (``features.paydate.STATE_FEATURES``) and ``debtor_late_median_last5``;
- ``n_due60``: its invoices due in (T - 60, T] settled in cash by T or open at T; ``n_due60_settled``;
- ``paid_excess_<W>`` (W = 30, 60): the median lateness of its cash settlements dated in (T - W, T]
  minus the median of those dated on or before T - W (settlements by PAYMENT date); ``n_paid<W>``;
- ``due_oe_60``: over the invoices due in (T - 60, T], the mean of settled-by-T (0/1) minus the share of
  its earlier invoices (due <= T - 60, cash-settled by T) whose lateness was <= T - due (observed minus
  expected settled: > 0 pays sooner than it used to, < 0 later);
- the same over the invoices due in (T - 60, T + 30] (``due_oe_60f``): invoices not yet due but already
  paid count too;
- ``rx30`` / ``rx60``: over the invoices due in the last 30 / 60 days, the mean of the lateness so far
  minus min(``debtor_late_median_last5``, T - due) (the shipped ``due_excess`` against the recent
  lateness); ``px30``: the same against the median lateness of its invoices due in (T - 120, T - 30];
- ``early30f``: the share of its invoices due in (T - 30, T + 30] paid before their due date minus the
  share among its invoices due <= T - 60;
- ``oe_recent_<W>``: ``features.paydate``'s candidate ``due_pace_<W>`` (observed minus expected settled,
  the expectation from its own invoices due in the 90 days before the window, open ones not settled).

Printed: per truth group (the move in 3 months, days) the invoices' share, the model-oracle gap and its
share, the model's bias and the mean of each reading; per regime. And, within the group improved by
more than 10 d, the correlation of each reading with the model's residual (actual - predicted).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/paydate_improve.py --work BOOKS \\
        --books contagion:7 stress:7 [--json out.json]

``--decision OUT --candidate NAME`` instead: no fit; ``paydate_candidate.py``'s per-invoice errors (``OUT/BOOK.npz``,
generator books only: ``regime-sSEED``) split by the same truth groups, shipped against the candidate (MAE per
group and regime, and each group's share of the MAE difference).

    .venv/bin/python benchmarks/paydate_improve.py --work BOOKS --decision OUT --candidate pace

Ends with one JSON line (per regime and group: the means).
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

from paydate import load  # noqa: E402
from paydate_gap import book_frame, delay_move  # noqa: E402

from features.ledger import ledger_state, prepare_ledger  # noqa: E402
from features.paydate import _cash_settled, _group_median, _rank_in_group, _share_at_most  # noqa: E402

GROUPS = ([-1e9, -10, -3, 3, 10, 1e9], ["better >10", "better 4-10", "-3..2", "worse 3-9", "worse >=10"])
READINGS = (
    "debtor_late_median_last5",
    "due_excess_60",
    "due_open_share_60",
    "n_due60",
    "n_due60_settled",
    "paid_excess_30",
    "n_paid30",
    "paid_excess_60",
    "n_paid60",
    "due_oe_60",
    "due_oe_60f",
    "rx30",
    "rx60",
    "px30",
    "early30f",
    "oe_recent_60",
    "oe_recent_30",
)


def readings(state) -> pd.DataFrame:
    """Per debtor code 0..n-1 the readings above (rows dated <= ``state.T`` only)."""
    T, n = state.T, state.n
    icode = state.inv_code.astype(np.int64)
    due = state.inv_due.astype(np.float64)
    sett = state.inv_settled
    cash = _cash_settled(state)
    open_ = state.open_mask
    late = sett - due
    out = {}
    cohort = (cash | open_) & (due > T - 60) & (due <= T)
    out["n_due60"] = np.bincount(icode[cohort], minlength=n).astype(float)
    out["n_due60_settled"] = np.bincount(icode[cohort & cash], minlength=n).astype(float)
    for w in (30, 60):
        recent = cash & (sett > T - w)
        before = cash & (sett <= T - w)
        out[f"paid_excess_{w}"] = _group_median(icode[recent], late[recent], n) - _group_median(
            icode[before], late[before], n
        )
        out[f"n_paid{w}"] = np.bincount(icode[recent], minlength=n).astype(float)
    past = cash & (due <= T - 60)
    for name, ahead in (("due_oe_60", 0), ("due_oe_60f", 30)):
        sel = (cash | open_) & (due > T - 60) & (due <= T + ahead)
        c = icode[sel]
        expected = _share_at_most(icode[past], late[past], c, T - due[sel], n)
        has = ~np.isnan(expected)
        diff = cash[sel].astype(float) - expected
        k = np.bincount(c[has], minlength=n)
        out[name] = np.where(
            k > 0, np.bincount(c[has], weights=diff[has], minlength=n) / np.maximum(k, 1), np.nan
        )
    # against the recent state: the median lateness of its last 5 cash settlements (by settlement day)
    so_far = np.where(open_, T - due, late)
    done = cash & ~np.isnan(sett)
    dc = icode[done]
    rank = _rank_in_group(dc, -sett[done])
    last5 = _group_median(dc[rank < 5], late[done][rank < 5], n)
    prev = cash & (due > T - 120) & (due <= T - 30)
    prev_med = _group_median(icode[prev], late[prev], n)
    for name, w, ref in (("rx30", 30, last5), ("rx60", 60, last5), ("px30", 30, prev_med)):
        sel = (cash | open_) & (due > T - w) & (due <= T)
        c = icode[sel]
        x = so_far[sel] - np.minimum(ref[c], T - due[sel])
        has = ~np.isnan(x)
        k = np.bincount(c[has], minlength=n)
        out[name] = np.where(
            k > 0, np.bincount(c[has], weights=x[has], minlength=n) / np.maximum(k, 1), np.nan
        )
    # observed - expected settled by T, the expectation from its invoices due in (T - W - 90, T - W]
    # (open ones count as not settled by any age <= W: they are already > W days late)
    for w in (30, 60):
        ref = (cash | open_) & (due > T - w - 90) & (due <= T - w)
        ref_late = np.where(open_[ref], np.inf, late[ref])
        sel = (cash | open_) & (due > T - w) & (due <= T)
        c = icode[sel]
        below = _share_at_most(icode[ref], ref_late, c, T - due[sel], n)
        diff = cash[sel].astype(float) - below
        has = ~np.isnan(diff)
        k = np.bincount(c[has], minlength=n)
        out[f"oe_recent_{w}"] = np.where(
            k > 0, np.bincount(c[has], weights=diff[has], minlength=n) / np.maximum(k, 1), np.nan
        )
    sel = (cash | open_) & (due > T - 30) & (due <= T + 30)
    early = cash & (sett < due)
    all_early = np.bincount(icode[past], weights=(late[past] < 0).astype(float), minlength=n) / np.maximum(
        np.bincount(icode[past], minlength=n), 1
    )
    k = np.bincount(icode[sel], minlength=n)
    out["early30f"] = (
        np.where(
            k > 0,
            np.bincount(icode[sel], weights=early[sel].astype(float), minlength=n) / np.maximum(k, 1),
            np.nan,
        )
        - all_early
    )
    return pd.DataFrame(out)


def frame(regime: str, seed: int, work: Path) -> pd.DataFrame:
    d, s = book_frame(regime, seed, work, 2000, 36)
    ledger = prepare_ledger(load(regime, seed, work, 2000, 36))
    parts = []
    for T in sorted(d["T"].unique()):
        r = readings(ledger_state(ledger, int(T)))
        r["code"] = np.arange(len(r))
        r["T"] = T
        parts.append(r)
    d = d.merge(pd.concat(parts), on=["T", "code"], how="left")
    d["resid"] = d["actual_days"] - d["pred"]
    print(
        f"== {regime} s{seed}: {len(d)} paid test invoices, MAE model {s['mae_model']:.3f} oracle {s['mae_oracle_t']:.3f}",
        flush=True,
    )
    return d


def summary(d: pd.DataFrame) -> pd.DataFrame:
    g = pd.cut(d["delay_move_3m"], GROUPS[0], labels=GROUPS[1], right=False).astype(object).fillna("unknown")
    gap = d["e_model"] - d["e_oracle_t"]
    t = d.groupby(g).agg(
        n=("e_model", "size"),
        model=("e_model", "mean"),
        oracle=("e_oracle_t", "mean"),
        bias=("bias", "mean"),
        **{r: (r, "mean") for r in READINGS},
    )
    t.insert(1, "share", t["n"] / len(d))
    t.insert(4, "gap_share", gap.groupby(g).sum().reindex(t.index) / gap.sum())
    for r in ("due_excess_60", "paid_excess_30", "paid_excess_60", "due_oe_60"):
        t[f"{r}_nan"] = d[r].isna().groupby(g).mean().reindex(t.index)
    return t


def overall_corr(d: pd.DataFrame) -> dict:
    """Correlation of each reading with the model's residual and with the truth move, all invoices."""
    return {
        r: (
            round(float(d[[r, "resid"]].corr().iloc[0, 1]), 3),
            round(float(d[[r, "delay_move_3m"]].corr().iloc[0, 1]), 3),
        )
        for r in READINGS
    }


def split(work: Path, out: Path, cand: str) -> dict:
    """Per regime: the shipped and the candidate MAE per truth group of the decision's paid test invoices."""
    frames = []
    for npz in sorted(out.glob("*.npz")):
        label = npz.stem
        if label.startswith("unseen"):
            continue
        regime, seed = label.split("-s")
        z = np.load(npz)
        ledger = prepare_ledger(load(regime, int(seed), work, 2000, 36))
        ids = np.asarray(ledger.debtor_ids)[z["code"]]
        move = delay_move(regime, int(seed), work, 2000, 36, ids, z["T"])
        frames.append(
            pd.DataFrame(
                {
                    "regime": regime,
                    "book": label,
                    "move": move,
                    "e0": z["shipped_err"],
                    "e1": z[f"{cand}_err"],
                }
            )
        )
    d = pd.concat(frames, ignore_index=True)
    result = {}
    for regime in list(d["regime"].unique()) + ["all"]:
        x = d if regime == "all" else d[d["regime"] == regime]
        g = pd.cut(x["move"], GROUPS[0], labels=GROUPS[1], right=False).astype(object).fillna("unknown")
        t = x.groupby(g).agg(n=("e0", "size"), shipped=("e0", "mean"), candidate=("e1", "mean"))
        t.insert(1, "share", t["n"] / len(x))
        t["diff"] = t["candidate"] - t["shipped"]
        t["share_of_diff"] = (x["e1"] - x["e0"]).groupby(g).sum().reindex(t.index) / (x["e1"] - x["e0"]).sum()
        print(
            f"\n=== {regime}: {len(x)} paid test invoices, MAE {x['e0'].mean():.4f} -> {x['e1'].mean():.4f}"
        )
        print(t.round(4).to_string(), flush=True)
        result[regime] = json.loads(t.round(4).to_json(orient="index"))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="folder of the books (generated when missing)")
    ap.add_argument("--books", nargs="+", help="regime:seed, e.g. contagion:7")
    ap.add_argument("--decision", type=Path, help="paydate_candidate.py's --out folder (no fit)")
    ap.add_argument("--candidate", help="with --decision: the candidate's name")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--frame", type=Path, help="also write the per-invoice frame (pickle)")
    args = ap.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    if args.decision:
        r = split(args.work, args.decision, args.candidate)
        if args.json:
            args.json.write_text(json.dumps(r, indent=1, default=float))
        print(json.dumps(r, default=float))
        return
    frames = []
    for spec in args.books:
        regime, seed = spec.split(":")
        frames.append(frame(regime, int(seed), args.work))
    allf = pd.concat(frames, ignore_index=True)
    if args.frame:
        allf.to_pickle(args.frame)
    out = {}
    for regime in list(allf["regime"].unique()) + ["all"]:
        d = allf if regime == "all" else allf[allf["regime"] == regime]
        t = summary(d)
        out[regime] = json.loads(t.round(4).to_json(orient="index"))
        print(f"\n=== {regime}: {len(d)} invoices\n{t.round(3).T.to_string()}", flush=True)
        imp = d[d["delay_move_3m"] < -10]
        corr = {r: round(float(imp[[r, "resid"]].corr().iloc[0, 1]), 3) for r in READINGS}
        truth = {r: round(float(imp[[r, "delay_move_3m"]].corr().iloc[0, 1]), 3) for r in READINGS}
        print(
            f"-- improved > 10 d ({len(imp)}): corr with residual {corr}\n   corr with the truth move {truth}"
        )
        out[regime]["corr_resid_improved"] = corr
        out[regime]["corr_truth_improved"] = truth
        oc = overall_corr(d)
        print(f"-- all invoices: (corr with residual, with truth move) {oc}")
        out[regime]["corr_all"] = oc
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
