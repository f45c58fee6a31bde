"""The roll-rate model's level by state at the cut, and variants refitted there (issue 9; BENCHMARKS.md
"Session 26 (s26-level)").

Per book of ``pd_level.py``'s cache (``--work``; book specs as in ``pd_level.py``), at its cut (the
7th-last observed month-end) the roll-rate model is fitted with ``conf/train.yaml``'s roll-rate settings
on the frame known at the cut (``models.smallbook.known_at``) and scores the labelled rows of the 6
month-ends after it. Prints, pooled over the books, per state: the history's moves and moves into
default, the in-sample label rate (``outcomes_``), the forward rows, their default rate and the mean PD;
and for each variant (``--priors`` x ``--powers``; power 0 = the shipped horizon, ``horizon_steps``) the
pooled forward level (sum of PDs / defaults), log-loss and Brier. Whatever ships on the book (LightGBM
may), the roll-rate model is what is measured here.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/rollrate_level.py --work W \\
        --books base:300:24:20:statements,quiet:300:24:20:statements --priors 10,1 --powers 0,3
"""

from __future__ import annotations

import argparse
import dataclasses
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


def fitted(past: pd.DataFrame, params: rr.RollRateParams, power: int) -> rr.RollRateModel:
    """The roll-rate model on ``past``; ``power`` > 0 replaces the horizon's matrix power."""
    if not power:
        return rr.RollRateModel(params).fit(past)
    shipped = rr.horizon_steps
    rr.horizon_steps = lambda days, statements=False: power
    try:
        return rr.RollRateModel(params).fit(past)
    finally:
        rr.horizon_steps = shipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated book specs of pd_level.py")
    ap.add_argument("--work", type=Path, required=True, help="pd_level.py's cache of generated books")
    ap.add_argument("--priors", default="10,1", help="prior_strength values (the first: the state table's)")
    ap.add_argument("--powers", default="0,3", help="matrix powers; 0 = the shipped horizon_steps")
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    params = cfg.rollrate.to_params(pd_level.DEFINITION, cfg)
    priors = [float(v) for v in args.priors.split(",")]
    powers = [int(v) for v in args.powers.split(",")]
    states: dict[str, np.ndarray] = {}
    acc: dict[tuple[float, int], np.ndarray] = {}
    for spec in args.books.split(","):
        frame, _ = pd_level.book_frame(spec, args.work, cfg)
        frame = with_statement_dpd(frame)
        observed = sorted(frame.loc[frame["horizon_observed"].astype(bool), "as_of"].unique())
        cut = pd.Timestamp(observed[-7])
        past = known_at(frame, cut, pd_level.H)
        past = past[past["as_of"] <= cut]
        rows = frame[frame["as_of"].isin(observed[-6:]) & frame["label"].notna()]
        y = rows["label"].astype(int).to_numpy()
        line = f"{spec:<34} cut {cut.date()} forward {len(y)} rows {y.sum()} defaults"
        for prior in priors:
            for power in powers:
                m = fitted(past, dataclasses.replace(params, prior_strength=prior), power)
                p = m.predict_proba(rows)[:, 1]
                q = np.clip(p, 1e-15, 1 - 1e-15)
                ll = -(y * np.log(q) + (1 - y) * np.log(1 - q))
                a = acc.setdefault((prior, power), np.zeros(5))
                a += [p.sum(), ll.sum(), ((p - y) ** 2).sum(), y.sum(), len(y)]
                line += (
                    f" | prior {prior:g} power {power or m.months_}: level {p.sum() / max(y.sum(), 1):.2f}"
                )
                if prior == priors[0] and power == powers[0]:
                    code = m.state_of(rows)
                    for s, name in enumerate(m.states_[:-1]):
                        sel = code == s
                        t = states.setdefault(name, np.zeros(7))
                        t += [
                            m.counts_[s].sum(),
                            m.counts_[s, -1],
                            *m.outcomes_[s],
                            sel.sum(),
                            y[sel].sum(),
                            p[sel].sum(),
                        ]
        print(line, flush=True)
    print(f"by state, prior {priors[0]:g}, power {powers[0] or 'shipped'} (pooled over the books):")
    for name, t in states.items():
        print(
            f"  {name:<22} history moves {t[0]:,.0f} into default {t[1]:.0f}; in-sample label rate "
            f"{t[3] / max(t[2], 1):.4f} ({t[2]:,.0f} rows); forward rows {t[4]:,.0f} rate "
            f"{t[5] / max(t[4], 1):.4f} mean PD {t[6] / max(t[4], 1):.4f}"
        )
    for (prior, power), a in acc.items():
        print(
            f"prior {prior:g} power {power or 'shipped'}: level {a[0] / a[3]:.3f} log-loss {a[1] / a[4]:.5f} "
            f"Brier {a[2] / a[4]:.5f} ({a[4]:,.0f} rows, {a[3]:.0f} defaults)"
        )


if __name__ == "__main__":
    main()
