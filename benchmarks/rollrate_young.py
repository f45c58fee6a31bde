"""Where the roll-rate model's level goes on young books: a decomposition by state at the cut (issue 9;
BENCHMARKS.md "Session 27 (s27-level)").

Per book of ``pd_level.py``'s cache (``--work``, book specs as in ``pd_level.py``), at the cut (the
7th-last observed month-end) the roll-rate model is fitted with ``conf/train.yaml``'s roll-rate settings
on the frame known at the cut and scores the labelled rows of the 6 month-ends after it. For each
state (``current`` .. ``61-89``) over the forward rows it prints the forward default rate and the mean
PD of each step the fit takes, so the gap can be put on one of them:

- ``mle``: the matrix of the history's moves without prior (a row without moves: the pooled row), to
  the shipped power (``horizon_steps``);
- ``prior``: with the prior (``prior_strength`` pseudo-moves towards the pooled row), before
  ``monotone``;
- ``mono``: the state PDs the model keeps (``monotone``, clipped);
- ``shipped``: the published PDs (the within-state adjustment and the silent overlay where they apply);
- ``fwd``: the same ``mle`` matrix counted on the forward months' own moves (from the cut to the last
  month-end): what the state model would say if it knew the forward months' rolls (the time effect);
- ``label``: the in-sample label rate of the state (rows whose horizon ended by the cut: what a
  direct count of the history's labels would say, no Markov chain);
- ``recent``: that label rate over the last 6 such month-ends only.

It also prints the one-month rolls forward along the chain (current -> 1-30 -> 31-60 -> 61-89 ->
default) in the history and in the forward months, the moves out of ``default`` (cures, which the
matrix does not count: it treats ``default`` as absorbing) and the forward labels of debtors that
were in default before (re-defaults), and the forward rows whose label is 1 while the next
month-end's state is not ``default`` (a default inside the month the month-end chain does not see).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/rollrate_young.py --work W \\
        --books quiet:300:24:20:statements,base:300:24:22
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import pd_level  # noqa: E402

import models.rollrate as rr  # noqa: E402
from features.statements import with_statement_dpd  # noqa: E402
from models.smallbook import known_at  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

STEPS = ("mle", "prior", "mono", "shipped", "fwd", "label", "recent")


def chain_pd(counts: np.ndarray, months: int, prior: float) -> np.ndarray:
    """Horizon PD per live state of the counts' matrix; with ``prior`` 0 a row without moves is the
    pooled row."""
    n = counts.shape[0]
    moves = counts[: n - 1].astype("float64")
    pooled = moves.sum(axis=0) / max(moves.sum(), 1.0)
    tot = moves.sum(axis=1, keepdims=True)
    if prior > 0:
        rows = (moves + prior * pooled) / (tot + prior)
    else:
        rows = np.where(tot > 0, moves / np.maximum(tot, 1.0), pooled)
    matrix = np.zeros((n, n))
    matrix[: n - 1] = rows
    matrix[n - 1, n - 1] = 1.0
    return rr.horizon_pd(matrix, months)


def book(spec: str, work: Path, cfg: TrainConfig, params: rr.RollRateParams) -> dict:
    frame, _ = pd_level.book_frame(spec, work, cfg)
    frame = with_statement_dpd(frame)
    observed = sorted(frame.loc[frame["horizon_observed"].astype(bool), "as_of"].unique())
    cut = pd.Timestamp(observed[-7])
    past = known_at(frame, cut, pd_level.H)
    past = past[past["as_of"] <= cut]
    fwd_idx = frame["as_of"].isin(observed[-6:]) & frame["label"].notna()
    rows = frame[fwd_idx]
    y = rows["label"].astype(int).to_numpy()
    m = rr.RollRateModel(params).fit(past)
    k, p = m.months_, m.params
    n_live = len(m.states_) - 1
    code = m.state_of(rows)
    shipped = m.predict_proba(rows)[:, 1]
    later = frame[frame["as_of"] >= cut]
    fwd_counts = rr.transition_counts(later, p)
    step_pd = {
        "mle": chain_pd(m.counts_, k, 0.0),
        "prior": chain_pd(m.counts_, k, p.prior_strength),
        "mono": m.pd_,
        "fwd": chain_pd(fwd_counts, k, 0.0),
    }
    known = past[past["label"].notna()]
    kcode = rr.assign_states(known, p)
    ky = known["label"].astype(int).to_numpy()
    recent_ends = np.sort(known["as_of"].unique())[-6:]
    krec = known["as_of"].isin(recent_ends).to_numpy()
    out: dict = {"spec": spec, "cut": str(cut.date()), "months": k, "rows": len(y), "defaults": int(y.sum())}
    per: dict = {}
    for s in range(n_live):
        sel = code == s
        ks, kr = kcode == s, (kcode == s) & krec
        per[m.states_[s]] = {
            "n": int(sel.sum()),
            "d": int(y[sel].sum()),
            "mle": float(step_pd["mle"][s]) * sel.sum(),
            "prior": float(step_pd["prior"][s]) * sel.sum(),
            "mono": float(step_pd["mono"][s]) * sel.sum(),
            "shipped": float(shipped[sel].sum()),
            "fwd": float(step_pd["fwd"][s]) * sel.sum(),
            "label": float(ky[ks].mean()) * sel.sum() if ks.any() else np.nan,
            "recent": float(ky[kr].mean()) * sel.sum() if kr.any() else np.nan,
            "hist_moves": int(m.counts_[s].sum()),
            "hist_next": int(m.counts_[s, s + 1]) if s + 1 <= n_live else 0,
            "fwd_moves": int(fwd_counts[s].sum()),
            "fwd_next": int(fwd_counts[s, s + 1]) if s + 1 <= n_live else 0,
        }
    out["per"] = per
    # cures and defaults inside the month
    allc = rr.assign_states(frame, p)
    nxt = rr.next_states(frame, allc)
    dflt = allc == n_live
    out["cures_hist"] = int((dflt & (nxt >= 0) & (nxt < n_live) & (frame["as_of"] <= cut).to_numpy()).sum())
    out["default_rows_hist"] = int((dflt & (nxt >= 0) & (frame["as_of"] <= cut).to_numpy()).sum())
    ever = frame.loc[dflt & (frame["as_of"] <= cut).to_numpy(), "debtor_id"].unique()
    out["fwd_redefault"] = int(
        rows.loc[(y == 1) & rows["debtor_id"].isin(ever).to_numpy(), "debtor_id"].nunique()
    )
    # a forward label 1 whose debtor is in ``default`` at none of the label's month-ends after T (the
    # default cured before a month-end, or fell after the last one): the month-end chain cannot see it
    snaps = np.sort(frame["as_of"].unique())
    key = pd.DataFrame(
        {
            "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
            "step": np.searchsorted(snaps, frame["as_of"]),
        }
    )
    state_at = dict(zip(zip(key["debtor_id"], key["step"], strict=True), allc, strict=True))
    f_ids, f_step = (
        key["debtor_id"].to_numpy()[fwd_idx.to_numpy()],
        key["step"].to_numpy()[fwd_idx.to_numpy()],
    )
    label_months = rr.horizon_months(p.horizon_days)
    seen = np.array(
        [
            any(state_at.get((d, t + j), -1) == n_live for j in range(1, label_months + 1))
            for d, t in zip(f_ids, f_step, strict=True)
        ]
    )
    out["fwd_label1_unseen"] = int(((y == 1) & ~seen).sum())
    out["fwd_label1_seen"] = int(((y == 1) & seen).sum())
    out["within_kept"] = bool(getattr(m, "within_", None) is not None and m.within_.kept)
    out["silent"] = getattr(m, "silent_model_", None) is not None
    out["raised_by_silence"] = int(m.raised_by_silence(rows).sum())
    # the book's label rate by month: history vs forward
    lab = frame[frame["label"].notna()]
    by = lab.groupby("as_of")["label"].agg(["mean", "size"])
    out["rate_hist_last6"] = float(lab.loc[lab["as_of"].isin(recent_ends), "label"].mean())
    out["rate_hist_all"] = float(ky.mean())
    out["rate_fwd"] = float(y.mean())
    out["rate_by_month"] = {str(t.date()): round(float(r["mean"]), 4) for t, r in by.iterrows()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated book specs of pd_level.py")
    ap.add_argument("--work", type=Path, required=True, help="pd_level.py's cache of generated books")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.rollrate.to_params(pd_level.DEFINITION, cfg)
    pooled: dict[str, dict[str, float]] = {}
    print(
        "| book | cut | power | fwd rows / defaults | level: "
        + " / ".join(STEPS[:5])
        + " | cures (of default rows) "
        "| fwd label 1: in default at none / some of the label's month-ends | re-defaults | within kept | raised by silence "
        "| label rate: history / last 6 / forward |"
    )
    print("|" + "---|" * 11)
    for spec in args.books.split(","):
        r = book(spec, args.work, cfg, params)
        lv = [sum(v[s] for v in r["per"].values()) / max(r["defaults"], 1) for s in STEPS[:5]]
        print(
            f"| {spec} | {r['cut']} | {r['months']} | {r['rows']:,} / {r['defaults']} | "
            + " / ".join(f"{v:.2f}" for v in lv)
            + f" | {r['cures_hist']} ({r['default_rows_hist']}) | {r['fwd_label1_unseen']} / "
            f"{r['fwd_label1_seen']} | {r['fwd_redefault']} | {r['within_kept']} | {r['raised_by_silence']} | "
            f"{r['rate_hist_all']:.4f} / {r['rate_hist_last6']:.4f} / {r['rate_fwd']:.4f} |",
            flush=True,
        )
        for s, v in r["per"].items():
            acc = pooled.setdefault(s, {})
            for key, val in v.items():
                acc[key] = acc.get(key, 0.0) + (0.0 if isinstance(val, float) and np.isnan(val) else val)
    print(
        "\npooled over the books, per state: forward rows, defaults, rate; mean PD of each step; one-month roll "
        "to the next state: history / forward"
    )
    print("| state | rows | defaults | rate | " + " | ".join(STEPS) + " | roll on: history | forward |")
    print("|" + "---|" * 14)
    tot = {k: 0.0 for k in ("n", "d", *STEPS)}
    for s, v in pooled.items():
        n = max(v["n"], 1)
        print(
            f"| {s} | {v['n']:,.0f} | {v['d']:.0f} | {v['d'] / n:.4f} | "
            + " | ".join(f"{v[k] / n:.4f}" for k in STEPS)
            + f" | {v['hist_next'] / max(v['hist_moves'], 1):.4f} ({v['hist_next']:.0f}/{v['hist_moves']:,.0f}) | "
            f"{v['fwd_next'] / max(v['fwd_moves'], 1):.4f} ({v['fwd_next']:.0f}/{v['fwd_moves']:,.0f}) |"
        )
        for k in tot:
            tot[k] += v[k]
    print(
        f"| all | {tot['n']:,.0f} | {tot['d']:.0f} | level = sum PD / defaults: | "
        + " | ".join(f"{tot[k] / max(tot['d'], 1):.3f}" for k in STEPS)
        + " | | |"
    )


if __name__ == "__main__":
    main()
